#include "codegen.h"

#include <string.h>

#include "../runtime/nnrt.h"

typedef struct {
  LLVMContextRef ctx;
  LLVMModuleRef mod;
  LLVMBuilderRef b;
  LLVMTypeRef f32, i32, i64, ptr, f64, kernel_fn;
  LLVMValueRef fn, ws, n; /* the function being built and its arguments */
  LLVMBasicBlockRef entry;
  const Program *p;
  const Schedule *s;
} CgCtx;

/* --- scalar lowering of elementwise ops (the lower column of ops.def) --- */

typedef LLVMValueRef CgScalar(CgCtx *c, LLVMValueRef a, LLVMValueRef b, double k);

static LLVMValueRef f32c(CgCtx *c, double v) { return LLVMConstReal(c->f32, v); }

static LLVMValueRef call_f32(CgCtx *c, const char *name, LLVMValueRef *args, unsigned nargs) {
  LLVMTypeRef params[2] = {c->f32, c->f32};
  LLVMTypeRef ty = LLVMFunctionType(c->f32, params, nargs, 0);
  LLVMValueRef fn = LLVMGetNamedFunction(c->mod, name);
  if (!fn)
    fn = LLVMAddFunction(c->mod, name, ty);
  return LLVMBuildCall2(c->b, ty, fn, args, nargs, "");
}

static LLVMValueRef cg_neg(CgCtx *c, LLVMValueRef a, LLVMValueRef b, double k) {
  return (void)b, (void)k, LLVMBuildFNeg(c->b, a, "neg");
}
static LLVMValueRef cg_recip(CgCtx *c, LLVMValueRef a, LLVMValueRef b, double k) {
  return (void)b, (void)k, LLVMBuildFDiv(c->b, f32c(c, 1), a, "recip");
}
static LLVMValueRef cg_exp(CgCtx *c, LLVMValueRef a, LLVMValueRef b, double k) {
  return (void)b, (void)k, call_f32(c, "llvm.exp.f32", &a, 1);
}
static LLVMValueRef cg_sigmoid(CgCtx *c, LLVMValueRef a, LLVMValueRef b, double k);
static LLVMValueRef cg_log(CgCtx *c, LLVMValueRef a, LLVMValueRef b, double k) {
  return (void)b, (void)k, call_f32(c, "llvm.log.f32", &a, 1);
}
/* σ(a) = 1 / (1 + exp(−a)) */
static LLVMValueRef cg_log1p(CgCtx *c, LLVMValueRef a, LLVMValueRef b, double k) {
  return (void)b, (void)k, call_f32(c, "log1pf", &a, 1);
}
static LLVMValueRef cg_sqrt(CgCtx *c, LLVMValueRef a, LLVMValueRef b, double k) {
  return (void)b, (void)k, call_f32(c, "llvm.sqrt.f32", &a, 1);
}
static LLVMValueRef cg_abs(CgCtx *c, LLVMValueRef a, LLVMValueRef b, double k) {
  return (void)b, (void)k, call_f32(c, "llvm.fabs.f32", &a, 1);
}
static LLVMValueRef cg_sigmoid(CgCtx *c, LLVMValueRef a, LLVMValueRef b, double k) {
  LLVMValueRef e = cg_exp(c, LLVMBuildFNeg(c->b, a, ""), b, k);
  return LLVMBuildFDiv(c->b, f32c(c, 1), LLVMBuildFAdd(c->b, f32c(c, 1), e, ""), "sigmoid");
}
static LLVMValueRef cg_tanh(CgCtx *c, LLVMValueRef a, LLVMValueRef b, double k) {
  return (void)b, (void)k, call_f32(c, "tanhf", &a, 1);
}
/* Small integer powers are products, as a C compiler would do with -ffast-math. */
static LLVMValueRef cg_powc(CgCtx *c, LLVMValueRef a, LLVMValueRef b, double k) {
  (void)b;
  if (k == 2)
    return LLVMBuildFMul(c->b, a, a, "sq");
  if (k == 0)
    return f32c(c, 1);
  LLVMValueRef args[2] = {a, f32c(c, k)};
  return call_f32(c, "llvm.pow.f32", args, 2);
}
static LLVMValueRef cg_add(CgCtx *c, LLVMValueRef a, LLVMValueRef b, double k) {
  return (void)k, LLVMBuildFAdd(c->b, a, b, "add");
}
static LLVMValueRef cg_sub(CgCtx *c, LLVMValueRef a, LLVMValueRef b, double k) {
  return (void)k, LLVMBuildFSub(c->b, a, b, "sub");
}
static LLVMValueRef cg_mul(CgCtx *c, LLVMValueRef a, LLVMValueRef b, double k) {
  return (void)k, LLVMBuildFMul(c->b, a, b, "mul");
}
static LLVMValueRef cg_div(CgCtx *c, LLVMValueRef a, LLVMValueRef b, double k) {
  return (void)k, LLVMBuildFDiv(c->b, a, b, "div");
}
static LLVMValueRef cg_max(CgCtx *c, LLVMValueRef a, LLVMValueRef b, double k) {
  (void)k;
  return LLVMBuildSelect(c->b, LLVMBuildFCmp(c->b, LLVMRealOGT, a, b, ""), a, b, "max");
}
static LLVMValueRef cg_cmpgt(CgCtx *c, LLVMValueRef a, LLVMValueRef b, double k) {
  (void)k;
  return LLVMBuildUIToFP(c->b, LLVMBuildFCmp(c->b, LLVMRealOGT, a, b, ""), c->f32, "gt");
}
static LLVMValueRef cg_copy(CgCtx *c, LLVMValueRef a, LLVMValueRef b, double k) {
  return (void)c, (void)b, (void)k, a;
}

static CgScalar *const cg_scalar[OP_COUNT] = {
#define NONE 0
#define OP(id, name, arity, kind, shape, grad, eval, lower, ident, notation) [OP_##id] = lower,
#include "ops.def"
#undef OP
#undef NONE
};

/* --- loops and addressing --- */

typedef struct {
  LLVMValueRef counter;
  LLVMBasicBlockRef cond, exit;
} Loop;

static LLVMValueRef i64c(CgCtx *c, int64_t v) { return LLVMConstInt(c->i64, (unsigned long long)v, 1); }

static LLVMValueRef extent(CgCtx *c, int64_t dim) { return dim == DIM_BATCH ? c->n : i64c(c, dim); }

/* Opens `for (i = 0; i < ext; i++)`; returns the index value valid inside the body. */
static LLVMValueRef loop_open(CgCtx *c, Loop *l, LLVMValueRef ext, const char *name) {
  LLVMBasicBlockRef here = LLVMGetInsertBlock(c->b);
  LLVMPositionBuilderAtEnd(c->b, c->entry);
  LLVMValueRef first = LLVMGetFirstInstruction(c->entry);
  if (first)
    LLVMPositionBuilderBefore(c->b, first);
  l->counter = LLVMBuildAlloca(c->b, c->i64, name);
  LLVMPositionBuilderAtEnd(c->b, here);
  LLVMBuildStore(c->b, i64c(c, 0), l->counter);
  l->cond = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "cond");
  LLVMBasicBlockRef body = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "body");
  l->exit = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "exit");
  LLVMBuildBr(c->b, l->cond);
  LLVMPositionBuilderAtEnd(c->b, l->cond);
  LLVMValueRef i = LLVMBuildLoad2(c->b, c->i64, l->counter, name);
  LLVMBuildCondBr(c->b, LLVMBuildICmp(c->b, LLVMIntSLT, i, ext, ""), body, l->exit);
  LLVMPositionBuilderAtEnd(c->b, body);
  return i;
}

static void loop_close(CgCtx *c, Loop *l, LLVMValueRef i) {
  LLVMBuildStore(c->b, LLVMBuildAdd(c->b, i, i64c(c, 1), ""), l->counter);
  LLVMBuildBr(c->b, l->cond);
  LLVMPositionBuilderAtEnd(c->b, l->exit);
}

static LLVMValueRef address(CgCtx *c, int64_t base, const LLVMValueRef *idx,
                            const int64_t *stride, int rank) {
  LLVMValueRef off = i64c(c, base);
  for (int i = 0; i < rank; i++)
    if (stride[i])
      off = LLVMBuildAdd(c->b, off, LLVMBuildMul(c->b, idx[i], i64c(c, stride[i]), ""), "");
  return LLVMBuildGEP2(c->b, c->f32, c->ws, &off, 1, "");
}

static LLVMValueRef load_node(CgCtx *c, const Node *n, const LLVMValueRef *idx,
                              const int64_t *stride, int rank) {
  LLVMValueRef addr = address(c, c->p->plan.offset[n->id], idx, stride, rank);
  return LLVMBuildLoad2(c->b, c->f32, addr, n->name ? n->name : "");
}

/* --- fused expressions --- */

static LLVMValueRef emit_elem(CgCtx *c, const Node *n, const LLVMValueRef *idx);

/* Source s of `consumer`, at index idx of the consumer's index space. */
static LLVMValueRef emit_operand(CgCtx *c, const Node *consumer, int s, const LLVMValueRef *idx) {
  const Node *src = consumer->src[s];
  if (src->op == OP_CONST)
    return f32c(c, src->arg.k);
  if (src->op == OP_BATCH)
    return LLVMBuildSIToFP(c->b, c->n, c->f32, "N");
  if (!c->s->materialized[src->id])
    return emit_elem(c, src, idx);
  int64_t stride[NNC_MAX_RANK];
  node_src_view(consumer, s, stride);
  return load_node(c, src, idx, stride, node_space(consumer)->rank);
}

static LLVMValueRef emit_elem(CgCtx *c, const Node *n, const LLVMValueRef *idx) {
  LLVMValueRef a = emit_operand(c, n, 0, idx);
  LLVMValueRef b = n->nsrc > 1 ? emit_operand(c, n, 1, idx) : NULL;
  return cg_scalar[n->op](c, a, b, n->arg.k);
}

/* --- kernels --- */

static void open_nest(CgCtx *c, Loop *loops, LLVMValueRef *idx, const Shape *s) {
  static const char *names[NNC_MAX_RANK] = {"i0", "i1", "i2", "i3"};
  for (int i = 0; i < s->rank; i++)
    idx[i] = loop_open(c, &loops[i], extent(c, s->dim[i]), names[i]);
}

static void close_nest(CgCtx *c, Loop *loops, LLVMValueRef *idx, int rank) {
  for (int i = rank; i-- > 0;)
    loop_close(c, &loops[i], idx[i]);
}

/* out[i] = expr(i) over the node's shape */
static void emit_elem_kernel(CgCtx *c, const Kernel *k) {
  Loop loops[NNC_MAX_RANK];
  LLVMValueRef idx[NNC_MAX_RANK];
  int64_t stride[NNC_MAX_RANK];
  const Node *n = k->root;
  shape_strides(&n->shape, stride);
  open_nest(c, loops, idx, &n->shape);
  LLVMValueRef v = emit_elem(c, n, idx);
  LLVMBuildStore(c->b, v, address(c, k->out, idx, stride, n->shape.rank));
  close_nest(c, loops, idx, n->shape.rank);
}

/* out = identity; for i over the source: out[project(i)] = combine(out[...], expr(i)) */
static void emit_reduce_kernel(CgCtx *c, const Kernel *k) {
  Loop loops[NNC_MAX_RANK], zl;
  LLVMValueRef idx[NNC_MAX_RANK];
  int64_t stride[NNC_MAX_RANK], one = 1;
  const Node *n = k->root, *src = n->src[0];
  Shape flat = {1, {shape_numel(&n->shape, 1)}};
  LLVMValueRef count = shape_has_batch(&n->shape) ? LLVMBuildMul(c->b, c->n, i64c(c, flat.dim[0]), "")
                                                  : i64c(c, flat.dim[0]);
  LLVMValueRef z = loop_open(c, &zl, count, "z");
  LLVMBuildStore(c->b, f32c(c, op_info[n->op].identity), address(c, k->out, &z, &one, 1));
  loop_close(c, &zl, z);
  shape_view(&n->shape, &src->shape, n->arg.bits, stride);
  open_nest(c, loops, idx, &src->shape);
  LLVMValueRef v = emit_operand(c, n, 0, idx);
  LLVMValueRef addr = address(c, k->out, idx, stride, src->shape.rank);
  LLVMValueRef acc = cg_scalar[n->op](c, LLVMBuildLoad2(c->b, c->f32, addr, ""), v, 0);
  LLVMBuildStore(c->b, acc, addr);
  close_nest(c, loops, idx, src->shape.rank);
}

/* Strides of op(A)[i, k], op(B)[k, j] and C[i, j] for a matrix product, transposes folded in. */
typedef struct {
  int64_t a_ik[2], b_kj[2], c_ij[2];
  int64_t kdim;
} MatmulView;

static MatmulView matmul_view(const Node *n) {
  const Node *A = n->src[0], *B = n->src[1];
  bool ta = n->arg.bits & 1, tb = n->arg.bits & 2;
  int64_t sa[NNC_MAX_RANK], sb[NNC_MAX_RANK], sc[NNC_MAX_RANK];
  shape_strides(&A->shape, sa);
  shape_strides(&B->shape, sb);
  shape_strides(&n->shape, sc);
  return (MatmulView){{ta ? sa[1] : sa[0], ta ? sa[0] : sa[1]},
                      {tb ? sb[1] : sb[0], tb ? sb[0] : sb[1]},
                      {sc[0], sc[1]},
                      ta ? A->shape.dim[0] : A->shape.dim[1]};
}

/* A reduction may be reassociated, so LLVM can vectorise it: the sum's order differs from a
 * sequential one only by rounding, and is the same on every run of the program. */
static LLVMValueRef fma_reassoc(CgCtx *c, LLVMValueRef acc, LLVMValueRef a, LLVMValueRef b) {
  LLVMValueRef prod = LLVMBuildFMul(c->b, a, b, "");
  LLVMValueRef sum = LLVMBuildFAdd(c->b, acc, prod, "acc");
  LLVMSetFastMathFlags(prod, LLVMFastMathAllowReassoc | LLVMFastMathAllowContract);
  LLVMSetFastMathFlags(sum, LLVMFastMathAllowReassoc | LLVMFastMathAllowContract);
  return sum;
}

/* C[i, :] = Σ_k op(A)[i, k] B[k, :]: order i, k, j, so the inner loop runs along rows of B
 * and C and vectorises without reassociating anything. */
static void emit_matmul_rows(CgCtx *c, const Kernel *k, const MatmulView *v) {
  const Node *n = k->root;
  Loop li, lj, lk, lz;
  LLVMValueRef i = loop_open(c, &li, extent(c, n->shape.dim[0]), "i");
  LLVMValueRef z = loop_open(c, &lz, extent(c, n->shape.dim[1]), "jz");
  LLVMValueRef iz[2] = {i, z};
  LLVMBuildStore(c->b, f32c(c, 0), address(c, k->out, iz, v->c_ij, 2));
  loop_close(c, &lz, z);
  LLVMValueRef kk = loop_open(c, &lk, extent(c, v->kdim), "k");
  LLVMValueRef ik[2] = {i, kk};
  LLVMValueRef a = load_node(c, n->src[0], ik, v->a_ik, 2);
  LLVMValueRef j = loop_open(c, &lj, extent(c, n->shape.dim[1]), "j");
  LLVMValueRef kj[2] = {kk, j}, ij[2] = {i, j};
  LLVMValueRef out = address(c, k->out, ij, v->c_ij, 2);
  LLVMValueRef prod = LLVMBuildFMul(c->b, a, load_node(c, n->src[1], kj, v->b_kj, 2), "");
  LLVMBuildStore(c->b, LLVMBuildFAdd(c->b, LLVMBuildLoad2(c->b, c->f32, out, ""), prod, "acc"),
                 out);
  loop_close(c, &lj, j);
  loop_close(c, &lk, kk);
  loop_close(c, &li, i);
}

/* C[i, j] = op(A)[i, :] · Bᵀ[:, j]: with B transposed both operands run along k, so each
 * element is a dot product held in a register. */
static void emit_matmul_dots(CgCtx *c, const Kernel *k, const MatmulView *v) {
  const Node *n = k->root;
  Loop li, lj, lk;
  LLVMValueRef i = loop_open(c, &li, extent(c, n->shape.dim[0]), "i");
  LLVMValueRef j = loop_open(c, &lj, extent(c, n->shape.dim[1]), "j");
  LLVMBasicBlockRef here = LLVMGetInsertBlock(c->b);
  LLVMPositionBuilderBefore(c->b, LLVMGetFirstInstruction(c->entry));
  LLVMValueRef acc = LLVMBuildAlloca(c->b, c->f32, "dot");
  LLVMPositionBuilderAtEnd(c->b, here);
  LLVMBuildStore(c->b, f32c(c, 0), acc);
  LLVMValueRef kk = loop_open(c, &lk, extent(c, v->kdim), "k");
  LLVMValueRef ik[2] = {i, kk}, kj[2] = {kk, j};
  LLVMValueRef sum = fma_reassoc(c, LLVMBuildLoad2(c->b, c->f32, acc, ""),
                                 load_node(c, n->src[0], ik, v->a_ik, 2),
                                 load_node(c, n->src[1], kj, v->b_kj, 2));
  LLVMBuildStore(c->b, sum, acc);
  loop_close(c, &lk, kk);
  LLVMValueRef ij[2] = {i, j};
  LLVMBuildStore(c->b, LLVMBuildLoad2(c->b, c->f32, acc, ""), address(c, k->out, ij, v->c_ij, 2));
  loop_close(c, &lj, j);
  loop_close(c, &li, i);
}

static void emit_matmul_kernel(CgCtx *c, const Kernel *k) {
  MatmulView v = matmul_view(k->root);
  if (k->root->arg.bits & 2)
    emit_matmul_dots(c, k, &v);
  else
    emit_matmul_rows(c, k, &v);
}

static void begin_function(CgCtx *c, LLVMValueRef fn) {
  c->fn = fn;
  c->ws = LLVMGetParam(fn, 0);
  c->n = LLVMGetParam(fn, 1);
  LLVMSetValueName2(c->ws, "ws", 2);
  LLVMSetValueName2(c->n, "n", 1);
  c->entry = LLVMAppendBasicBlockInContext(c->ctx, fn, "entry");
  LLVMBasicBlockRef start = LLVMAppendBasicBlockInContext(c->ctx, fn, "start");
  LLVMPositionBuilderAtEnd(c->b, start);
}

/* The entry block holds only allocas; it falls through to the code once that is built. */
static void end_function(CgCtx *c) {
  LLVMBuildRetVoid(c->b);
  LLVMPositionBuilderAtEnd(c->b, c->entry);
  LLVMBuildBr(c->b, LLVMGetNextBasicBlock(c->entry));
}

/* Kernels are per entry point: fusion differs between step and predict. */
static LLVMValueRef emit_kernel(CgCtx *c, const Kernel *k, const char *entry) {
  char name[96];
  snprintf(name, sizeof name, "nnk_%s_%u_%s", entry, k->root->id, node_op_name(k->root));
  LLVMValueRef fn = LLVMAddFunction(c->mod, name, c->kernel_fn);
  LLVMSetLinkage(fn, LLVMInternalLinkage);
  begin_function(c, fn);
  switch (op_info[k->root->op].kind) {
  case KIND_ELEM: emit_elem_kernel(c, k); break;
  case KIND_REDUCE: emit_reduce_kernel(c, k); break;
  case KIND_MATMUL: emit_matmul_kernel(c, k); break;
  case KIND_LEAF: break;
  }
  end_function(c);
  return fn;
}

/* void name(float *ws, int64_t n): the kernels of s, in order */
static LLVMValueRef emit_entry(CgCtx *c, const char *name, const Schedule *s) {
  LLVMValueRef *kfn = ARENA_ARRAY(c->p->g->arena, LLVMValueRef, s->n + 1);
  c->s = s;
  for (int k = 0; k < s->n; k++)
    kfn[k] = emit_kernel(c, &s->kernel[k], name + 3);
  LLVMValueRef fn = LLVMAddFunction(c->mod, name, c->kernel_fn);
  begin_function(c, fn);
  for (int k = 0; k < s->n; k++) {
    LLVMValueRef args[2] = {c->ws, c->n};
    LLVMBuildCall2(c->b, c->kernel_fn, kfn[k], args, 2, "");
  }
  end_function(c);
  return fn;
}

/* --- the descriptor nn_model (runtime/nnrt.h), field by field in declaration order --- */

static LLVMValueRef global_string(CgCtx *c, const char *s) {
  return LLVMBuildGlobalStringPtr(c->b, s ? s : "", "str");
}

static LLVMValueRef global_floats(CgCtx *c, const float *v, int64_t n, const char *name) {
  if (!v || n == 0)
    return LLVMConstNull(c->ptr);
  LLVMValueRef *elems = ARENA_ARRAY(c->p->g->arena, LLVMValueRef, n);
  for (int64_t i = 0; i < n; i++)
    elems[i] = f32c(c, v[i]);
  LLVMValueRef init = LLVMConstArray2(c->f32, elems, (uint64_t)n);
  LLVMValueRef g = LLVMAddGlobal(c->mod, LLVMTypeOf(init), name);
  LLVMSetInitializer(g, init);
  LLVMSetGlobalConstant(g, 1);
  LLVMSetLinkage(g, LLVMPrivateLinkage);
  return g;
}

static LLVMTypeRef slot_type(CgCtx *c) {
  LLVMTypeRef f[] = {c->ptr, c->i64, c->i64};
  return LLVMStructTypeInContext(c->ctx, f, 3, 0);
}

static LLVMValueRef slot_value(CgCtx *c, const Node *n) {
  int64_t off = n ? c->p->plan.offset[n->id] : -1;
  int64_t width = n ? shape_numel(&n->shape, 1) : 0;
  LLVMValueRef f[] = {global_string(c, n ? n->name : ""), i64c(c, off), i64c(c, width)};
  return LLVMConstNamedStruct(slot_type(c), f, 3);
}

static LLVMTypeRef param_type(CgCtx *c) {
  LLVMTypeRef f[] = {c->ptr, c->i64, c->i64, c->i32, LLVMArrayType2(c->i64, 4),
                     c->i32, c->f64, c->f64, c->ptr, c->i32};
  return LLVMStructTypeInContext(c->ctx, f, 10, 0);
}

static LLVMValueRef i32c(CgCtx *c, int64_t v) { return LLVMConstInt(c->i32, (unsigned long long)v, 1); }
static LLVMValueRef f64c(CgCtx *c, double v) { return LLVMConstReal(c->f64, v); }

static LLVMValueRef param_value(CgCtx *c, const ParamSlot *slot) {
  const Node *n = slot->param;
  const ParamInit *in = &slot->init;
  LLVMValueRef dims[4];
  for (int d = 0; d < 4; d++)
    dims[d] = i64c(c, d < n->shape.rank ? n->shape.dim[d] : 0);
  int64_t size = shape_numel(&n->shape, 1);
  LLVMValueRef f[] = {global_string(c, n->name), i64c(c, c->p->plan.offset[n->id]), i64c(c, size),
                      i32c(c, n->shape.rank), LLVMConstArray2(c->i64, dims, 4),
                      i32c(c, in->kind), f64c(c, in->a), f64c(c, in->b),
                      global_floats(c, in->kind == INIT_VALUES ? in->values : NULL, size, "init"),
                      i32c(c, slot->role)};
  return LLVMConstNamedStruct(param_type(c), f, 10);
}

static LLVMValueRef private_array(CgCtx *c, LLVMTypeRef elem, LLVMValueRef *v, int n,
                                  const char *name) {
  if (n == 0)
    return LLVMConstNull(c->ptr);
  LLVMValueRef init = LLVMConstArray2(elem, v, (uint64_t)n);
  LLVMValueRef g = LLVMAddGlobal(c->mod, LLVMTypeOf(init), name);
  LLVMSetInitializer(g, init);
  LLVMSetGlobalConstant(g, 1);
  LLVMSetLinkage(g, LLVMPrivateLinkage);
  return g;
}

/* Parameters, then optimizer state, then constants: the order nnrt.h promises. */
static LLVMValueRef params_array(CgCtx *c) {
  const Graph *g = c->p->g;
  LLVMValueRef *v = ARENA_ARRAY(g->arena, LLVMValueRef, g->nparams + 1);
  int n = 0;
  for (int role = ROLE_PARAM; role <= ROLE_CONST; role++)
    for (int i = 0; i < g->nparams; i++)
      if ((int)g->params[i].role == role && c->p->plan.offset[g->params[i].param->id] >= 0)
        v[n++] = param_value(c, &g->params[i]);
  return private_array(c, param_type(c), v, n, "nn_params");
}

static int count_params(const Program *p) {
  int n = 0;
  for (int i = 0; i < p->g->nparams; i++)
    n += p->plan.offset[p->g->params[i].param->id] >= 0;
  return n;
}

static LLVMTypeRef noise_type(CgCtx *c) {
  LLVMTypeRef f[] = {c->i64, c->i64, c->f64};
  return LLVMStructTypeInContext(c->ctx, f, 3, 0);
}

static LLVMValueRef noise_array(CgCtx *c) {
  const Graph *g = c->p->g;
  LLVMValueRef *v = ARENA_ARRAY(g->arena, LLVMValueRef, g->nnoise + 1);
  for (int i = 0; i < g->nnoise; i++) {
    const Node *n = g->noise[i];
    LLVMValueRef f[] = {i64c(c, c->p->plan.offset[n->id]), i64c(c, shape_numel(&n->shape, 1)),
                        f64c(c, n->arg.k)};
    v[i] = LLVMConstNamedStruct(noise_type(c), f, 3);
  }
  return private_array(c, noise_type(c), v, g->nnoise, "nn_noise");
}

static LLVMValueRef int_array(CgCtx *c, const int *v, int n, const char *name) {
  LLVMValueRef *e = ARENA_ARRAY(c->p->g->arena, LLVMValueRef, n + 1);
  for (int i = 0; i < n; i++)
    e[i] = i32c(c, v[i]);
  return private_array(c, c->i32, e, n, name);
}

static LLVMValueRef string_array(CgCtx *c, const char **v, int n) {
  LLVMValueRef *e = ARENA_ARRAY(c->p->g->arena, LLVMValueRef, n + 1);
  for (int i = 0; i < n; i++)
    e[i] = global_string(c, v[i]);
  return private_array(c, c->ptr, e, n, "class_names");
}

/* The rows of a data table as two float arrays: inputs, and targets (or class labels). */
static void table_arrays(CgCtx *c, const AstNode *t, LLVMValueRef *x, LLVMValueRef *y) {
  int64_t rows = t->u.table.n;
  int64_t nin = t->u.table.rows->u.row.n_in, nout = t->u.table.rows->u.row.n_out;
  float *xs = ARENA_ARRAY(c->p->g->arena, float, rows * nin + 1);
  float *ys = ARENA_ARRAY(c->p->g->arena, float, rows * nout + 1);
  int64_t i = 0, j = 0;
  for (const AstNode *r = t->u.table.rows; r; r = r->next) {
    for (const AstNode *v = r->u.row.in; v; v = v->next)
      xs[i++] = (float)v->u.num.value;
    for (const AstNode *v = r->u.row.out; v; v = v->next)
      ys[j++] = (float)v->u.num.value;
  }
  *x = global_floats(c, xs, i, "data_x");
  *y = global_floats(c, ys, j, "data_y");
}

/* An NnrtData, field by field. */
static LLVMValueRef data_value(CgCtx *c, const DataSettings *d) {
  LLVMValueRef x = LLVMConstNull(c->ptr), y = LLVMConstNull(c->ptr);
  int64_t rows = 0;
  if (d->kind == DATA_TABLE && c->p->can_train) {
    table_arrays(c, d->table, &x, &y);
    rows = d->table->u.table.n;
  }
  LLVMValueRef f[] = {
    i32c(c, d->kind), i64c(c, rows), x, y,
    d->path ? global_string(c, d->path) : LLVMConstNull(c->ptr),
    d->labels_path ? global_string(c, d->labels_path) : LLVMConstNull(c->ptr),
    i32c(c, d->header), i32c(c, d->delimiter ? d->delimiter : ','),
    i32c(c, d->n_x_cols), int_array(c, d->x_cols, d->n_x_cols, "x_cols"),
    i32c(c, d->n_y_cols), int_array(c, d->y_cols, d->n_y_cols, "y_cols"),
    i32c(c, d->n_class_names), string_array(c, d->class_names, d->n_class_names),
    i32c(c, d->scaling), f64c(c, d->scale), i32c(c, d->one_vs_rest), i32c(c, d->positive),
  };
  return LLVMConstStructInContext(c->ctx, f, sizeof f / sizeof *f, 0);
}

static int64_t offset_of(const Program *p, const Node *n) {
  return n ? p->plan.offset[n->id] : -1;
}

static LLVMValueRef or_null(CgCtx *c, LLVMValueRef fn) { return fn ? fn : LLVMConstNull(c->ptr); }

static void emit_descriptor(CgCtx *c, LLVMValueRef step, LLVMValueRef evaluate,
                            LLVMValueRef predict) {
  const Program *p = c->p;
  const Graph *g = p->g;
  const TrainSettings *t = &p->m->train;
  bool train = p->can_train;
  LLVMValueRef f[] = {
    i32c(c, NNRT_ABI_VERSION), global_string(c, p->m->name), global_string(c, p->source_name),
    i64c(c, p->plan.total), i64c(c, p->plan.max_batch),
    slot_value(c, g->input), slot_value(c, train ? g->target : NULL), slot_value(c, g->output),
    i64c(c, train ? offset_of(p, g->loss) : -1), i64c(c, train ? offset_of(p, g->lr) : -1),
    i64c(c, train ? offset_of(p, g->step) : -1),
    i32c(c, count_params(p)), params_array(c), i32c(c, g->nnoise), noise_array(c),
    i32c(c, p->m->n_classes), i32c(c, g->metric),
    i32c(c, train), i64c(c, t->epochs), i64c(c, t->batch), i64c(c, t->log_every),
    i64c(c, (int64_t)t->seed), i32c(c, t->shuffle), f64c(c, t->opt.lr),
    i32c(c, t->sched.kind), f64c(c, t->sched.a), f64c(c, t->sched.b), f64c(c, t->sched.warmup_epochs),
    data_value(c, &t->data), data_value(c, &t->validate), f64c(c, t->validation_split),
    i32c(c, t->early_stopping), i64c(c, t->checkpoint_every),
    or_null(c, step), or_null(c, evaluate), predict,
  };
  unsigned nf = sizeof f / sizeof *f;
  LLVMTypeRef *types = ARENA_ARRAY(p->g->arena, LLVMTypeRef, nf);
  for (unsigned i = 0; i < nf; i++)
    types[i] = LLVMTypeOf(f[i]);
  LLVMTypeRef ty = LLVMStructCreateNamed(c->ctx, "NnrtModel");
  LLVMStructSetBody(ty, types, nf, 0);
  LLVMValueRef model = LLVMAddGlobal(c->mod, ty, "nn_model");
  LLVMSetInitializer(model, LLVMConstNamedStruct(ty, f, nf));
  LLVMSetGlobalConstant(model, 1);
}

/* int main(int argc, char **argv) { return nnrt_main(&nn_model, argc, argv); } */
static void emit_main(CgCtx *c) {
  LLVMTypeRef params[3] = {c->ptr, c->i32, c->ptr};
  LLVMTypeRef rt_ty = LLVMFunctionType(c->i32, params, 3, 0);
  LLVMValueRef rt = LLVMAddFunction(c->mod, "nnrt_main", rt_ty);
  LLVMTypeRef main_ty = LLVMFunctionType(c->i32, params + 1, 2, 0);
  LLVMValueRef fn = LLVMAddFunction(c->mod, "main", main_ty);
  LLVMPositionBuilderAtEnd(c->b, LLVMAppendBasicBlockInContext(c->ctx, fn, "entry"));
  LLVMValueRef args[3] = {LLVMGetNamedGlobal(c->mod, "nn_model"), LLVMGetParam(fn, 0),
                          LLVMGetParam(fn, 1)};
  LLVMBuildRet(c->b, LLVMBuildCall2(c->b, rt_ty, rt, args, 3, "status"));
}

static void ctx_init(CgCtx *c, const Program *p, LLVMContextRef ctx) {
  memset(c, 0, sizeof *c);
  c->p = p;
  c->ctx = ctx;
  c->mod = LLVMModuleCreateWithNameInContext(p->m->name, ctx);
  c->b = LLVMCreateBuilderInContext(ctx);
  c->f32 = LLVMFloatTypeInContext(ctx);
  c->f64 = LLVMDoubleTypeInContext(ctx);
  c->i32 = LLVMInt32TypeInContext(ctx);
  c->i64 = LLVMInt64TypeInContext(ctx);
  c->ptr = LLVMPointerTypeInContext(ctx, 0);
  LLVMTypeRef args[2] = {c->ptr, c->i64};
  c->kernel_fn = LLVMFunctionType(LLVMVoidTypeInContext(ctx), args, 2, 0);
}

LLVMModuleRef codegen_module(const Program *p, LLVMContextRef ctx, bool with_main) {
  CgCtx c;
  ctx_init(&c, p, ctx);
  LLVMValueRef step = p->can_train ? emit_entry(&c, "nn_step", &p->step) : NULL;
  LLVMValueRef evaluate = p->can_train ? emit_entry(&c, "nn_evaluate", &p->evaluate) : NULL;
  LLVMValueRef predict = emit_entry(&c, "nn_predict", &p->predict);
  /* Global strings need an insertion point; the descriptor is built in a throwaway function. */
  LLVMTypeRef void_fn = LLVMFunctionType(LLVMVoidTypeInContext(ctx), NULL, 0, 0);
  LLVMValueRef scratch = LLVMAddFunction(c.mod, "nnc.scratch", void_fn);
  LLVMPositionBuilderAtEnd(c.b, LLVMAppendBasicBlockInContext(ctx, scratch, "entry"));
  emit_descriptor(&c, step, evaluate, predict);
  LLVMDeleteFunction(scratch);
  if (with_main)
    emit_main(&c);
  LLVMDisposeBuilder(c.b);
  return c.mod;
}

void program_plan(Program *p, Graph *g, const Model *m, const char *src) {
  memset(p, 0, sizeof *p);
  p->g = g;
  p->m = m;
  p->source_name = src;
  p->can_train = m->train.present && g->loss;
  int nroots = 0;
  Node **roots = ARENA_ARRAY(g->arena, Node *, 2 * g->nparams + 2);
  if (p->can_train) {
    roots[nroots++] = g->loss;
    roots[nroots++] = g->output;
    for (int i = 0; i < g->nparams; i++) {
      if (g->params[i].update) {
        roots[nroots++] = g->params[i].grad;
        roots[nroots++] = g->params[i].update;
      }
    }
    sched_build(&p->step, g, roots, nroots);
    NNC_ASSERT(sched_updates_in_place_safely(&p->step, g));
    sched_build(&p->evaluate, g, roots, 2);
  }
  sched_build(&p->predict, g, &g->output, 1);
  int64_t max_batch = p->can_train ? m->train.batch : 1;
  memplan_init(&p->plan, g, max_batch < 1 ? 1 : max_batch);
  if (p->can_train) {
    memplan_add(&p->plan, g, &p->step);
    memplan_add(&p->plan, g, &p->evaluate);
  }
  memplan_add(&p->plan, g, &p->predict);
  if (p->can_train) {
    sched_assign(&p->step, &p->plan);
    sched_assign(&p->evaluate, &p->plan);
  }
  sched_assign(&p->predict, &p->plan);
}

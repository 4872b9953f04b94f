/* codegen: kernels and entry points; the descriptor is descriptor.c. */
#include "codegen_internal.h"

#include <llvm-c/DebugInfo.h>
#include <string.h>

#include "target.h"

/* --- scalar lowering of elementwise ops (the lower column of ops.def) --- */

typedef LLVMValueRef CgScalar(CgCtx *c, LLVMValueRef a, LLVMValueRef b, double k);

LLVMValueRef cg_f32(CgCtx *c, double v) { return LLVMConstReal(c->f32, v); }

LLVMValueRef cg_call_f32(CgCtx *c, const char *name, LLVMValueRef *args, unsigned nargs) {
  LLVMTypeRef params[3] = {c->f32, c->f32, c->f32};
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
  return (void)b, (void)k, LLVMBuildFDiv(c->b, cg_f32(c, 1), a, "recip");
}
/* The transcendental functions are codegen_math.c's arithmetic: a call would keep LLVM from
 * vectorizing the loop. expm1 and log1p keep a's digits where exp(a) − 1 and log(1 + a) lose
 * them. */
static LLVMValueRef cg_exp(CgCtx *c, LLVMValueRef a, LLVMValueRef b, double k) {
  return (void)b, (void)k, cgm_exp(c, a);
}
static LLVMValueRef cg_expm1(CgCtx *c, LLVMValueRef a, LLVMValueRef b, double k) {
  return (void)b, (void)k, cgm_expm1(c, a);
}
static LLVMValueRef cg_sigmoid(CgCtx *c, LLVMValueRef a, LLVMValueRef b, double k);
static LLVMValueRef cg_log(CgCtx *c, LLVMValueRef a, LLVMValueRef b, double k) {
  return (void)b, (void)k, cgm_log(c, a);
}
static LLVMValueRef cg_log1p(CgCtx *c, LLVMValueRef a, LLVMValueRef b, double k) {
  return (void)b, (void)k, cgm_log1p(c, a);
}
static LLVMValueRef cg_sqrt(CgCtx *c, LLVMValueRef a, LLVMValueRef b, double k) {
  return (void)b, (void)k, cg_call_f32(c, "llvm.sqrt.f32", &a, 1);
}
static LLVMValueRef cg_abs(CgCtx *c, LLVMValueRef a, LLVMValueRef b, double k) {
  return (void)b, (void)k, cg_call_f32(c, "llvm.fabs.f32", &a, 1);
}
/* σ(a) = 1 / (1 + e) for a >= 0 and e / (1 + e) below, e = exp(−|a|): exp never overflows, so
 * σ keeps its tiny values for a below −88 instead of 1/∞ = 0. The quotient q = n / d is
 * corrected for the rounding of d = 1 + e (err, exact since e <= 1) and its own (the FMA's
 * remainder), so σ is as accurate as e: q + (n − q d − q err) / d. */
static LLVMValueRef cg_sigmoid(CgCtx *c, LLVMValueRef a, LLVMValueRef b, double k) {
  LLVMBuilderRef B = c->b;
  LLVMValueRef abs = cg_call_f32(c, "llvm.fabs.f32", &a, 1);
  LLVMValueRef e = cg_exp(c, LLVMBuildFNeg(B, abs, ""), b, k);
  LLVMValueRef d = LLVMBuildFAdd(B, cg_f32(c, 1), e, "");
  LLVMValueRef err = LLVMBuildFAdd(B, LLVMBuildFSub(B, cg_f32(c, 1), d, ""), e, "");
  LLVMValueRef up = LLVMBuildFCmp(B, LLVMRealOGE, a, cg_f32(c, 0), "");
  LLVMValueRef n = LLVMBuildSelect(B, up, cg_f32(c, 1), e, "");
  LLVMValueRef q = LLVMBuildFDiv(B, n, d, "");
  LLVMValueRef nq = LLVMBuildFNeg(B, q, "");
  LLVMValueRef r = cg_call_f32(c, "llvm.fma.f32", (LLVMValueRef[]){nq, d, n}, 3);
  r = cg_call_f32(c, "llvm.fma.f32", (LLVMValueRef[]){nq, err, r}, 3);
  return LLVMBuildFAdd(B, q, LLVMBuildFDiv(B, r, d, ""), "sigmoid");
}
static LLVMValueRef cg_tanh(CgCtx *c, LLVMValueRef a, LLVMValueRef b, double k) {
  return (void)b, (void)k, cgm_tanh(c, a);
}
/* Small integer powers are products, as a C compiler would do with -ffast-math: llvm.pow stays
 * a libm call per lane (it made gelu's x³ the cost of a gelu MLP's epoch, issue 14). */
static LLVMValueRef cg_powc(CgCtx *c, LLVMValueRef a, LLVMValueRef b, double k) {
  (void)b;
  if (k == 2)
    return LLVMBuildFMul(c->b, a, a, "sq");
  if (k == 3)
    return LLVMBuildFMul(c->b, LLVMBuildFMul(c->b, a, a, "sq"), a, "cube");
  if (k == 0)
    return cg_f32(c, 1);
  LLVMValueRef args[2] = {a, cg_f32(c, k)};
  return cg_call_f32(c, "llvm.pow.f32", args, 2);
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

/* The lower column: scalar lowerings for elementwise ops and reductions, whole kernels for the
 * others. */
#define SCALAR_LEAF(f) 0
#define SCALAR_ELEM(f) f
#define SCALAR_REDUCE(f) f
#define SCALAR_MATMUL(f) 0
#define SCALAR_WINDOW(f) 0
#define KERNEL_LEAF(f) 0
#define KERNEL_ELEM(f) 0
#define KERNEL_REDUCE(f) 0
#define KERNEL_MATMUL(f) f
#define KERNEL_WINDOW(f) f
static CgScalar *const cg_scalar[OP_COUNT] = {
#define NONE 0
#define OP(id, name, arity, params, kind, shape, grad, eval, lower, ident, notation) \
  [OP_##id] = SCALAR_##kind(lower),
#include "ops.def"
#undef OP
};
static CgKernel *const cg_kernel[OP_COUNT] = {
#define OP(id, name, arity, params, kind, shape, grad, eval, lower, ident, notation) \
  [OP_##id] = KERNEL_##kind(lower),
#include "ops.def"
#undef OP
#undef NONE
};

/* --- loops and addressing --- */

LLVMValueRef cg_i64(CgCtx *c, int64_t v) { return LLVMConstInt(c->i64, (unsigned long long)v, 1); }

LLVMValueRef cg_extent(CgCtx *c, int64_t dim) { return dim == DIM_BATCH ? c->n : cg_i64(c, dim); }

/* A variable of the function being built: an alloca in its entry block, which LLVM turns
 * into a register. */
LLVMValueRef cg_alloca(CgCtx *c, LLVMTypeRef type, const char *name) {
  LLVMBasicBlockRef here = LLVMGetInsertBlock(c->b);
  LLVMPositionBuilderAtEnd(c->b, c->entry);
  LLVMValueRef first = LLVMGetFirstInstruction(c->entry);
  if (first)
    LLVMPositionBuilderBefore(c->b, first);
  LLVMValueRef var = LLVMBuildAlloca(c->b, type, name);
  LLVMPositionBuilderAtEnd(c->b, here);
  return var;
}

/* Opens `for (i = lo; i < hi; i++)`; returns the index value valid inside the body. */
LLVMValueRef cg_loop_open_range(CgCtx *c, Loop *l, LLVMValueRef lo, LLVMValueRef hi,
                                const char *name) {
  l->counter = cg_alloca(c, c->i64, name);
  LLVMBuildStore(c->b, lo, l->counter);
  l->cond = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "cond");
  LLVMBasicBlockRef body = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "body");
  l->exit = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "exit");
  LLVMBuildBr(c->b, l->cond);
  LLVMPositionBuilderAtEnd(c->b, l->cond);
  LLVMValueRef i = LLVMBuildLoad2(c->b, c->i64, l->counter, name);
  LLVMBuildCondBr(c->b, LLVMBuildICmp(c->b, LLVMIntSLT, i, hi, ""), body, l->exit);
  LLVMPositionBuilderAtEnd(c->b, body);
  return i;
}

LLVMValueRef cg_loop_open(CgCtx *c, Loop *l, LLVMValueRef ext, const char *name) {
  return cg_loop_open_range(c, l, cg_i64(c, 0), ext, name);
}

/* This kernel's share of [0, ext): [ext·part/parts, ext·(part+1)/parts). Each index belongs
 * to exactly one part, so threads never write the same element, and each element is computed
 * by the same instructions whatever the number of parts: results are bit-identical for any
 * thread count. */
void cg_share(CgCtx *c, LLVMValueRef ext, LLVMValueRef *lo, LLVMValueRef *hi) {
  *lo = LLVMBuildSDiv(c->b, LLVMBuildMul(c->b, ext, c->part, ""), c->parts, "lo");
  LLVMValueRef next = LLVMBuildAdd(c->b, c->part, cg_i64(c, 1), "");
  *hi = LLVMBuildSDiv(c->b, LLVMBuildMul(c->b, ext, next, ""), c->parts, "hi");
}

static LLVMValueRef loop_open_share(CgCtx *c, Loop *l, LLVMValueRef ext, const char *name) {
  LLVMValueRef lo, hi;
  cg_share(c, ext, &lo, &hi);
  return cg_loop_open_range(c, l, lo, hi, name);
}

/* A kernel with no axis to share runs in part 0 only (an entry point's own code is part 0 of
 * 1: nothing to test). */
static void only_in_first_part(CgCtx *c) {
  if (LLVMIsConstant(c->part))
    return;
  LLVMBasicBlockRef run = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "part0");
  LLVMBasicBlockRef skip = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "other_parts");
  LLVMValueRef first = LLVMBuildICmp(c->b, LLVMIntEQ, c->part, cg_i64(c, 0), "");
  LLVMBuildCondBr(c->b, first, run, skip);
  LLVMPositionBuilderAtEnd(c->b, skip);
  LLVMBuildRetVoid(c->b);
  LLVMPositionBuilderAtEnd(c->b, run);
}

LLVMValueRef cg_loop_close(CgCtx *c, Loop *l, LLVMValueRef i) {
  LLVMBuildStore(c->b, LLVMBuildAdd(c->b, i, cg_i64(c, 1), ""), l->counter);
  LLVMValueRef back = LLVMBuildBr(c->b, l->cond);
  LLVMPositionBuilderAtEnd(c->b, l->exit);
  return back;
}

/* Marks the loop whose back edge is `back` as not to be vectorised: its loop ID, a distinct
 * node that names itself first (the temporary becomes the node), then the property. */
void cg_keep_scalar(CgCtx *c, LLVMValueRef back) {
  LLVMMetadataRef prop[2] = {
    LLVMMDStringInContext2(c->ctx, "llvm.loop.vectorize.enable", 26),
    LLVMValueAsMetadata(LLVMConstInt(LLVMInt1TypeInContext(c->ctx), 0, 0))};
  LLVMMetadataRef self = LLVMTemporaryMDNode(c->ctx, NULL, 0);
  LLVMMetadataRef id[2] = {self, LLVMMDNodeInContext2(c->ctx, prop, 2)};
  LLVMMetadataRef loop = LLVMMDNodeInContext2(c->ctx, id, 2);
  LLVMMetadataReplaceAllUsesWith(self, loop);
  LLVMSetMetadata(back, LLVMGetMDKindIDInContext(c->ctx, "llvm.loop", 9),
                  LLVMMetadataAsValue(c->ctx, loop));
}

LLVMValueRef cg_address(CgCtx *c, int64_t base, const LLVMValueRef *idx,
                            const int64_t *stride, int rank) {
  LLVMValueRef off = cg_i64(c, base);
  for (int i = 0; i < rank; i++)
    if (stride[i])
      off = LLVMBuildAdd(c->b, off, LLVMBuildMul(c->b, idx[i], cg_i64(c, stride[i]), ""), "");
  return LLVMBuildGEP2(c->b, c->f32, c->ws, &off, 1, "");
}

LLVMValueRef cg_load_node(CgCtx *c, const Node *n, const LLVMValueRef *idx,
                              const int64_t *stride, int rank) {
  LLVMValueRef addr = cg_address(c, c->p->plan.offset[n->id], idx, stride, rank);
  return LLVMBuildLoad2(c->b, c->f32, addr, n->name ? n->name : "");
}

/* --- fused expressions --- */

static LLVMValueRef emit_elem(CgCtx *c, const Node *n, const LLVMValueRef *idx);

/* The value loaded for scalar n before the kernel's loops, or NULL. */
static LLVMValueRef hoisted_scalar(CgCtx *c, const Node *n) {
  for (int i = 0; i < c->nscalars; i++)
    if (c->scalar_node[i] == n)
      return c->scalar_value[i];
  return NULL;
}

/* Loads every materialized scalar that the fused expression rooted at n reads, before the
 * kernel's loops, so that what depends only on them (Adam's 1 − β^t) is computed once. */
static void hoist_scalars(CgCtx *c, const Node *n) {
  for (int s = 0; s < n->nsrc; s++) {
    const Node *src = n->src[s];
    if (src->op == OP_CONST || src->op == OP_BATCH)
      continue;
    if (!c->s->materialized[src->id])
      hoist_scalars(c, src);
    else if (src->shape.rank == 0 && !hoisted_scalar(c, src) && c->nscalars < 16) {
      c->scalar_node[c->nscalars] = src;
      c->scalar_value[c->nscalars++] = cg_load_node(c, src, NULL, NULL, 0);
    }
  }
}

/* Source s of `consumer`, at index idx of the consumer's index space. */
static LLVMValueRef emit_operand(CgCtx *c, const Node *consumer, int s, const LLVMValueRef *idx) {
  const Node *src = consumer->src[s];
  if (src->op == OP_CONST)
    return cg_f32(c, src->arg.k);
  if (src->op == OP_BATCH)
    return LLVMBuildSIToFP(c->b, c->n, c->f32, "N");
  if (!c->s->materialized[src->id] && consumer->op == OP_PERMUTE) {
    /* the expression fused below a permutation, at the source's index: axis perm[i] of the
     * source is axis i of the result */
    LLVMValueRef at[NNC_MAX_RANK];
    for (int i = 0; i < consumer->shape.rank; i++)
      at[consumer->arg.p[i]] = idx[i];
    return emit_elem(c, src, at);
  }
  if (!c->s->materialized[src->id])
    return emit_elem(c, src, idx);
  LLVMValueRef scalar = src->shape.rank == 0 ? hoisted_scalar(c, src) : NULL;
  if (scalar)
    return scalar;
  int64_t stride[NNC_MAX_RANK];
  node_src_view(consumer, s, stride);
  return cg_load_node(c, src, idx, stride, node_space(consumer)->rank);
}

/* Whether a divisor is the same for every element of a kernel: a constant, N, a scalar. */
static bool loop_invariant(const Node *n) { return n->shape.rank == 0; }

LLVMValueRef cg_elem_op(CgCtx *c, const Node *n, LLVMValueRef a, LLVMValueRef b) {
  return cg_scalar[n->op](c, a, b, n->arg.k);
}

static LLVMValueRef emit_elem(CgCtx *c, const Node *n, const LLVMValueRef *idx) {
  LLVMValueRef a = emit_operand(c, n, 0, idx);
  LLVMValueRef b = n->nsrc > 1 ? emit_operand(c, n, 1, idx) : NULL;
  /* x / s as x · (1/s), 1/s computed once outside the loop: a division costs ten times a
   * multiplication (Adam's bias corrections are two per weight), and the results differ by
   * a rounding only. */
  if (n->op == OP_DIV && loop_invariant(n->src[1]))
    return LLVMBuildFMul(c->b, a, LLVMBuildFDiv(c->b, cg_f32(c, 1), b, "recip"), "div");
  return cg_elem_op(c, n, a, b);
}

/* --- kernels --- */

/* The loop nest over s; axis `shared` (or none, -1) runs over this kernel's share only. */
static void open_nest(CgCtx *c, Loop *loops, LLVMValueRef *idx, const Shape *s, int shared) {
  static const char *names[NNC_MAX_RANK] = {"i0", "i1", "i2", "i3"};
  for (int i = 0; i < s->rank; i++)
    idx[i] = i == shared ? loop_open_share(c, &loops[i], cg_extent(c, s->dim[i]), names[i])
                         : cg_loop_open(c, &loops[i], cg_extent(c, s->dim[i]), names[i]);
}

/* Closes the nest; `scalar`: none of its loops is vectorised. */
static void close_nest(CgCtx *c, Loop *loops, LLVMValueRef *idx, int rank, bool scalar) {
  for (int i = rank; i-- > 0;) {
    LLVMValueRef back = cg_loop_close(c, &loops[i], idx[i]);
    if (scalar)
      cg_keep_scalar(c, back);
  }
}

int cg_moves(CgCtx *c, const Node *n, const Node **first) {
  if (n->op == OP_PERMUTE) {
    *first = n;
    return 1;
  }
  int count = 0;
  for (int s = 0; s < n->nsrc; s++) {
    const Node *src = n->src[s], *m = NULL;
    if (!c->s->materialized[src->id] && src->op != OP_CONST && src->op != OP_BATCH)
      count += cg_moves(c, src, &m);
    *first = *first ? *first : m;
  }
  return count;
}

/* Whether two views step alike along every axis of s longer than 1 (along an axis of 1, a
 * view's step is never taken: a [32, 1, 3, 3] view may say 0 or 9). */
static bool same_steps(const int64_t *a, const int64_t *b, const Shape *s) {
  for (int i = 0; i < s->rank; i++)
    if (s->dim[i] != 1 && a[i] != b[i])
      return false;
  return true;
}

/* Whether the fused expression rooted at n reads every array at the element it writes: no
 * permutation, no broadcast, every fused node of the kernel's shape. */
static bool reads_in_place(CgCtx *c, const Node *n, const Shape *shape) {
  int64_t own[NNC_MAX_RANK], view[NNC_MAX_RANK];
  if (n->op == OP_PERMUTE || !shape_eq(&n->shape, shape))
    return false;
  shape_strides(shape, own);
  for (int s = 0; s < n->nsrc; s++) {
    const Node *src = n->src[s];
    if (src->op == OP_CONST || src->op == OP_BATCH || src->shape.rank == 0)
      continue; /* read at the same address for every element */
    if (!c->s->materialized[src->id] ? !reads_in_place(c, src, shape) :
        (node_src_view(n, s, view), !same_steps(view, own, shape)))
      return false;
  }
  return true;
}

/* The loop nest of an elementwise kernel, its loops' indices in at[] (how many: returned) and
 * the element's in idx[]. When every array is read where it is written, the kernel is one loop
 * over all its elements, shared by the parts: else LLVM unrolls a short last axis (14 pixels,
 * a [32, 1, 3, 3] weight's 9 taps) and vectorises the one above it with gathers, and XOR's
 * [4, 2] activations ran in the scalar remainder of a loop over 2. The loop's index goes on
 * the innermost axis longer than 1, whose step is 1 in every array. */
static int open_elem_nest(CgCtx *c, const Kernel *k, const Kernel *end, Loop *loops,
                          LLVMValueRef *at, LLVMValueRef *idx) {
  const Shape *shape = &k->root->shape;
  bool flat = shape->rank >= 2;
  for (const Kernel *j = k; j < end && flat; j++)
    flat = reads_in_place(c, j->root, shape);
  if (!flat) {
    open_nest(c, loops, at, shape, shape->rank ? 0 : -1);
    memcpy(idx, at, sizeof(LLVMValueRef) * (size_t)shape->rank);
    return shape->rank;
  }
  LLVMValueRef count = cg_extent(c, shape->dim[0]);
  for (int i = 1; i < shape->rank; i++)
    count = LLVMBuildMul(c->b, count, cg_extent(c, shape->dim[i]), "");
  int inner = shape->rank - 1;
  while (inner > 0 && shape->dim[inner] == 1)
    inner--;
  at[0] = loop_open_share(c, &loops[0], count, "i");
  for (int i = 0; i < shape->rank; i++)
    idx[i] = i == inner ? at[0] : cg_i64(c, 0);
  return 1;
}

/* The step's updates test the gradients they read (plan_update_gradient) for an infinity or a
 * NaN, all exponent bits set, as they go: the runtime then reads one flag after a step instead
 * of every gradient again. `bad` ORs the tests over the loop (a reduction LLVM vectorises);
 * after the loop a part that saw one stores 1 to the flag (atomically: parts run at once). */
static const Node *tested_gradient(CgCtx *c, const Node *root) {
  return c->s == &c->p->step && (root->flags & NODE_UPDATE) ? plan_update_gradient(c->p, root)
                                                             : NULL;
}

static void test_gradient(CgCtx *c, const Node *grad, LLVMValueRef bad, const LLVMValueRef *idx,
                          const int64_t *stride) {
  LLVMValueRef mask = LLVMConstInt(c->i32, 0x7f800000u, 0);
  LLVMValueRef bits = LLVMBuildBitCast(c->b, cg_load_node(c, grad, idx, stride, grad->shape.rank),
                                       c->i32, "");
  LLVMValueRef is_bad = LLVMBuildICmp(c->b, LLVMIntEQ, LLVMBuildAnd(c->b, bits, mask, ""), mask, "");
  LLVMValueRef any = LLVMBuildOr(c->b, LLVMBuildLoad2(c->b, c->i32, bad, ""),
                                 LLVMBuildZExt(c->b, is_bad, c->i32, ""), "");
  LLVMBuildStore(c->b, any, bad);
}

static void raise_flag(CgCtx *c, LLVMValueRef bad) {
  LLVMBasicBlockRef set = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "nonfinite");
  LLVMBasicBlockRef done = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "tested");
  LLVMValueRef any = LLVMBuildLoad2(c->b, c->i32, bad, "");
  LLVMBuildCondBr(c->b, LLVMBuildICmp(c->b, LLVMIntNE, any, LLVMConstInt(c->i32, 0, 0), ""), set,
                  done);
  LLVMPositionBuilderAtEnd(c->b, set);
  LLVMValueRef at = cg_i64(c, c->p->nonfinite_offset);
  LLVMValueRef store = LLVMBuildStore(c->b, LLVMConstInt(c->i32, 1, 0),
                                      LLVMBuildGEP2(c->b, c->f32, c->ws, &at, 1, "flag"));
  LLVMSetOrdering(store, LLVMAtomicOrderingMonotonic);
  LLVMSetAlignment(store, 4);
  LLVMBuildBr(c->b, done);
  LLVMPositionBuilderAtEnd(c->b, done);
}

/* out[i] = expr(i) over the node's shape, for k and every kernel joined to it (sched_join),
 * one after the other in the body of one loop. */
static void emit_elem_kernel(CgCtx *c, const Kernel *k) {
  Loop loops[NNC_MAX_RANK];
  LLVMValueRef at[NNC_MAX_RANK], idx[NNC_MAX_RANK];
  int64_t stride[NNC_MAX_RANK];
  const Shape *shape = &k->root->shape;
  const Kernel *end = k + 1;
  while (end < c->s->kernel + c->s->n && end->joins_previous)
    end++;
  if (end == k + 1 && cg_transpose(c, k))
    return;
  shape_strides(shape, stride);
  if (shape->rank == 0)
    only_in_first_part(c);
  for (const Kernel *j = k; j < end; j++)
    hoist_scalars(c, j->root);
  bool tests = false;
  for (const Kernel *j = k; j < end; j++)
    tests |= tested_gradient(c, j->root) != NULL;
  LLVMValueRef bad = tests ? cg_alloca(c, c->i32, "bad") : NULL;
  if (tests)
    LLVMBuildStore(c->b, LLVMConstInt(c->i32, 0, 0), bad);
  int depth = open_elem_nest(c, k, end, loops, at, idx);
  for (const Kernel *j = k; j < end; j++) {
    const Node *grad = tested_gradient(c, j->root);
    if (grad) { /* before the stores, so the expression's load of it is the same load */
      test_gradient(c, grad, bad, idx, stride);
      c->tested[grad->id] = true;
    }
    LLVMValueRef v = emit_elem(c, j->root, idx);
    LLVMBuildStore(c->b, v, cg_address(c, j->out, idx, stride, shape->rank));
  }
  /* A kernel that reads through a permutation stays scalar: vectorised by LLVM, it gathers
   * one element a lane from as many cache lines, which costs more than the scalar loads (a
   * [N, 32, 28, 28] move to channels-last: 1.9 ms vectorised, 1.0-1.3 scalar, on Zen 4). */
  int moves = 0;
  for (const Kernel *j = k; j < end; j++) {
    const Node *first = NULL;
    moves += cg_moves(c, j->root, &first);
  }
  close_nest(c, loops, at, depth, moves > 0);
  if (tests)
    raise_flag(c, bad);
}

/* The axis of a reduction's source that parts share: the first one not reduced, so each output
 * element is combined by one part only; -1 when every axis is reduced. */
static int reduce_shared_axis(const Node *n) {
  for (int i = 0; i < n->src[0]->shape.rank; i++)
    if (!(n->arg.p[PARAM_AXES] & (1 << i)))
      return i;
  return -1;
}

/* The output axis that a source axis (not reduced) lands on. */
static int reduce_out_axis(const Node *n, int src_axis) {
  int out = src_axis;
  for (int i = 0; i < src_axis; i++)
    if ((n->arg.p[PARAM_AXES] & (1 << i)) && !(n->arg.p[PARAM_AXES] & AXES_KEEP))
      out--;
  return out;
}

/* out = identity, over this part's share of the output */
static void emit_reduce_init(CgCtx *c, const Kernel *k, int shared) {
  const Node *n = k->root;
  Loop loops[NNC_MAX_RANK];
  LLVMValueRef idx[NNC_MAX_RANK];
  int64_t stride[NNC_MAX_RANK];
  shape_strides(&n->shape, stride);
  open_nest(c, loops, idx, &n->shape, shared < 0 ? -1 : reduce_out_axis(n, shared));
  LLVMBuildStore(c->b, cg_f32(c, op_info[n->op].identity),
                 cg_address(c, k->out, idx, stride, n->shape.rank));
  close_nest(c, loops, idx, n->shape.rank, false);
}

/* out = identity; for i over the source: out[project(i)] = combine(out[...], expr(i)) */
static void emit_reduce_kernel(CgCtx *c, const Kernel *k) {
  Loop loops[NNC_MAX_RANK];
  LLVMValueRef idx[NNC_MAX_RANK];
  int64_t stride[NNC_MAX_RANK];
  const Node *n = k->root, *src = n->src[0];
  int shared = reduce_shared_axis(n);
  if (shared < 0)
    only_in_first_part(c);
  hoist_scalars(c, n);
  emit_reduce_init(c, k, shared);
  shape_view(&n->shape, &src->shape, (uint32_t)n->arg.p[PARAM_AXES], stride);
  open_nest(c, loops, idx, &src->shape, shared);
  LLVMValueRef v = emit_operand(c, n, 0, idx);
  LLVMValueRef addr = cg_address(c, k->out, idx, stride, src->shape.rank);
  LLVMValueRef acc = cg_scalar[n->op](c, LLVMBuildLoad2(c->b, c->f32, addr, ""), v, 0);
  LLVMBuildStore(c->b, acc, addr);
  close_nest(c, loops, idx, src->shape.rank, false);
}

static void begin_function(CgCtx *c, LLVMValueRef fn) {
  c->fn = fn;
  c->ws = LLVMGetParam(fn, 0);
  c->n = LLVMGetParam(fn, 1);
  LLVMSetValueName2(c->ws, "ws", 2);
  LLVMSetValueName2(c->n, "n", 1);
  bool kernel = LLVMCountParams(fn) == 4;
  c->nscalars = 0;
  c->part = kernel ? LLVMGetParam(fn, 2) : NULL;
  c->parts = kernel ? LLVMGetParam(fn, 3) : NULL;
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

static void emit_kernel_code(CgCtx *c, const Kernel *k) {
  switch (op_info[k->root->op].kind) {
  case KIND_ELEM: emit_elem_kernel(c, k); break;
  case KIND_REDUCE: emit_reduce_kernel(c, k); break;
  case KIND_MATMUL:
  case KIND_WINDOW: cg_kernel[k->root->op](c, k); break;
  case KIND_LEAF: break;
  }
}

/* Kernels are per entry point: fusion differs between step and predict. */
static LLVMValueRef emit_kernel(CgCtx *c, const Kernel *k, const char *entry) {
  char name[96];
  snprintf(name, sizeof name, "nnk_%s_%u_%s", entry, k->root->id, node_op_name(k->root));
  LLVMValueRef fn = LLVMAddFunction(c->mod, name, c->kernel_fn);
  LLVMSetLinkage(fn, LLVMInternalLinkage);
  /* The runtime's threads call kernels one by one, so each exists on its own anyway: inlined
   * into the entry point too, every kernel would be optimised and compiled twice (a small
   * entry point's are, on purpose: small_entry). */
  LLVMAddAttributeAtIndex(fn, LLVMAttributeFunctionIndex, c->noinline);
  begin_function(c, fn);
  emit_kernel_code(c, k);
  end_function(c);
  return fn;
}

/* An entry point whose kernels together read and write at most SMALL_ENTRY floats (at the
 * largest batch) has their code in its own body, as part 0 of 1, instead of calls: for such
 * kernels the call, the share's two divisions and the loads that cannot stay in registers
 * across a call cost as much as the work (XOR's step: 18 kernels on 1 to 8 floats, 235 ns an
 * epoch called, 190 ns in one body). The kernels' functions are still built for the runtime's
 * threads, so these are compiled twice; a larger model's kernels are only called (inlined,
 * the fashion MLP's [N, 1] kernels made its compile 7% slower for no measurable step time). */
enum { SMALL_ENTRY = 1024 };

static bool small_entry(const CgCtx *c, const Schedule *s, int from, int to) {
  int64_t floats = 0, batch = c->p->plan.max_batch;
  for (int k = from; k < to; k++) {
    const Node *n = s->kernel[k].root;
    floats += shape_numel(&n->shape, batch);
    for (int i = 0; i < n->nsrc; i++)
      floats += shape_numel(&n->src[i]->shape, batch);
  }
  return floats <= SMALL_ENTRY;
}

static void emit_inline(CgCtx *c, const Kernel *k) {
  c->nscalars = 0;
  c->part = cg_i64(c, 0);
  c->parts = cg_i64(c, 1);
  emit_kernel_code(c, k);
  c->part = c->parts = NULL;
}

/* The function of kernel k of c->s: one already built for an earlier entry point when that
 * computes the same (evaluate and predict share most of their kernels with step), else a new one. */
static LLVMValueRef kernel_function(CgCtx *c, const Kernel *k, const char *entry) {
  for (int i = 0; i < c->nbuilt; i++)
    if (sched_same_group(c->built[i].s, c->built[i].k, c->s, k))
      return c->built[i].fn;
  LLVMValueRef fn = emit_kernel(c, k, entry);
  c->built[c->nbuilt++] = (BuiltKernel){c->s, k, fn};
  return fn;
}

/* void name(float *ws, int64_t n): kernels [from, to) of s, in order, each doing all its work;
 * *kernels receives them for the runtime's threads */
static LLVMValueRef emit_entry_range(CgCtx *c, const char *name, const Schedule *s, int from,
                                     int to, LLVMValueRef **kernels) {
  LLVMValueRef *kfn = ARENA_ARRAY(c->p->g->arena, LLVMValueRef, s->n + 1);
  int nfn = 0;
  bool inline_all = small_entry(c, s, from, to);
  c->s = s;
  for (int k = from; k < to; k++) /* the threads' functions, or those the entry calls */
    if (!s->kernel[k].joins_previous && (kernels || !inline_all))
      kfn[nfn++] = kernel_function(c, &s->kernel[k], name + 3);
  LLVMValueRef fn = LLVMAddFunction(c->mod, name, c->entry_fn);
  begin_function(c, fn);
  for (int k = from; k < to && inline_all; k++)
    if (!s->kernel[k].joins_previous)
      emit_inline(c, &s->kernel[k]);
  for (int k = 0; k < nfn && !inline_all; k++) {
    LLVMValueRef args[4] = {c->ws, c->n, cg_i64(c, 0), cg_i64(c, 1)};
    LLVMBuildCall2(c->b, c->kernel_fn, kfn[k], args, 4, "");
  }
  end_function(c);
  if (kernels)
    *kernels = kfn;
  return fn;
}

static LLVMValueRef emit_entry(CgCtx *c, const char *name, const Schedule *s,
                               LLVMValueRef **kernels) {
  return emit_entry_range(c, name, s, 0, s->n, kernels);
}

static void ctx_init(CgCtx *c, const Program *p, LLVMContextRef ctx) {
  memset(c, 0, sizeof *c);
  c->p = p;
  c->ctx = ctx;
  c->mod = LLVMModuleCreateWithNameInContext(p->name, ctx);
  c->b = LLVMCreateBuilderInContext(ctx);
  c->f32 = LLVMFloatTypeInContext(ctx);
  c->f64 = LLVMDoubleTypeInContext(ctx);
  c->i32 = LLVMInt32TypeInContext(ctx);
  c->i64 = LLVMInt64TypeInContext(ctx);
  c->ptr = LLVMPointerTypeInContext(ctx, 0);
  LLVMTypeRef args[4] = {c->ptr, c->i64, c->i64, c->i64};
  c->entry_fn = LLVMFunctionType(LLVMVoidTypeInContext(ctx), args, 2, 0);
  c->kernel_fn = LLVMFunctionType(LLVMVoidTypeInContext(ctx), args, 4, 0);
  c->vector_floats = p->vector_floats ? p->vector_floats : target_vector_floats();
  c->noinline = LLVMCreateEnumAttribute(ctx, LLVMGetEnumAttributeKindForName("noinline", 8), 0);
}

LLVMModuleRef codegen_module(const Program *p, LLVMContextRef ctx, bool with_main) {
  CgCtx c;
  ctx_init(&c, p, ctx);
  LLVMValueRef *step_kernels = NULL;
  c.built = ARENA_ARRAY(p->g->arena, BuiltKernel, p->step.n + p->evaluate.n + p->predict.n);
  c.tested = ARENA_ARRAY(p->g->arena, bool, p->g->n);
  LLVMValueRef step = p->can_train ? emit_entry(&c, "nn_step", &p->step, &step_kernels) : NULL;
  LLVMValueRef evaluate = p->can_train ? emit_entry(&c, "nn_evaluate", &p->evaluate, NULL) : NULL;
  LLVMValueRef predict = emit_entry(&c, "nn_predict", &p->predict, NULL);
  int cut = p->predict_cut;
  c.predict_head = cut ? emit_entry_range(&c, "nn_predict_head", &p->predict, 0, cut, NULL) : NULL;
  c.predict_tail =
    cut ? emit_entry_range(&c, "nn_predict_tail", &p->predict, cut, p->predict.n, NULL) : NULL;
  /* Global strings need an insertion point; the descriptor is built in a throwaway function. */
  LLVMTypeRef void_fn = LLVMFunctionType(LLVMVoidTypeInContext(ctx), NULL, 0, 0);
  LLVMValueRef scratch = LLVMAddFunction(c.mod, "nnc.scratch", void_fn);
  LLVMPositionBuilderAtEnd(c.b, LLVMAppendBasicBlockInContext(ctx, scratch, "entry"));
  descriptor_emit(&c, step, evaluate, predict, step_kernels);
  LLVMDeleteFunction(scratch);
  if (with_main)
    descriptor_emit_main(&c);
  LLVMDisposeBuilder(c.b);
  return c.mod;
}

/* descriptor: the constant `nn_model` that tells the runtime everything about a compiled model
 * — workspace plan, slots, parameters with their initialisers, settings, data sources and the
 * entry points — built field by field in the declaration order of runtime/nnrt.h, whose
 * layout LLVM's default struct layout reproduces. Also the generated program's main(). */
#include <string.h>

#include "nnrt.h"
#include "codegen_internal.h"
#include "summary.h"

static LLVMValueRef global_string(CgCtx *c, const char *s) {
  return LLVMBuildGlobalStringPtr(c->b, s ? s : "", "str");
}

static LLVMValueRef private_array(CgCtx *c, LLVMTypeRef elem, LLVMValueRef *v, int64_t n,
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

static LLVMValueRef global_floats(CgCtx *c, const float *v, int64_t n, const char *name) {
  if (!v || n == 0)
    return LLVMConstNull(c->ptr);
  LLVMValueRef *elems = ARENA_ARRAY(c->p->g->arena, LLVMValueRef, n);
  for (int64_t i = 0; i < n; i++)
    elems[i] = cg_f32(c, v[i]);
  return private_array(c, c->f32, elems, n, name);
}

static LLVMTypeRef slot_type(CgCtx *c) {
  LLVMTypeRef f[] = {c->ptr, c->i64, c->i64};
  return LLVMStructTypeInContext(c->ctx, f, 3, 0);
}

/* A slot named after its node; an unnamed one (output softmax(z)) after its role. */
static LLVMValueRef slot_value(CgCtx *c, const Node *n, const char *role) {
  int64_t off = n ? c->p->plan.offset[n->id] : -1;
  int64_t width = n ? shape_numel(&n->shape, 1) : 0;
  const char *name = n && n->name ? n->name : n ? role : "";
  LLVMValueRef f[] = {global_string(c, name), cg_i64(c, off), cg_i64(c, width)};
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
    dims[d] = cg_i64(c, d < n->shape.rank ? n->shape.dim[d] : 0);
  int64_t size = shape_numel(&n->shape, 1);
  LLVMValueRef f[] = {global_string(c, n->name), cg_i64(c, c->p->plan.offset[n->id]), cg_i64(c, size),
                      i32c(c, n->shape.rank), LLVMConstArray2(c->i64, dims, 4),
                      i32c(c, in->kind), f64c(c, in->a), f64c(c, in->b),
                      global_floats(c, in->kind == INIT_VALUES ? in->values : NULL, size, "init"),
                      i32c(c, slot->role)};
  return LLVMConstNamedStruct(param_type(c), f, 10);
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
    LLVMValueRef f[] = {cg_i64(c, c->p->plan.offset[n->id]), cg_i64(c, shape_numel(&n->shape, 1)),
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

/* An NnrtData, field by field. */
static LLVMValueRef data_value(CgCtx *c, const DataSettings *d) {
  LLVMValueRef x = LLVMConstNull(c->ptr), y = LLVMConstNull(c->ptr);
  int64_t rows = 0;
  if (d->kind == DATA_TABLE && c->p->can_train) {
    x = global_floats(c, d->x, d->rows * d->x_width, "data_x");
    y = global_floats(c, d->y, d->rows * d->y_width, "data_y");
    rows = d->rows;
  }
  LLVMValueRef f[] = {
    i32c(c, d->kind), cg_i64(c, rows), x, y,
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

static LLVMTypeRef dims_type(CgCtx *c) { return LLVMArrayType2(c->i64, 4); }

/* The per-sample shape of a node: the batch axis left out. */
static LLVMValueRef sample_dims(CgCtx *c, const Node *n, int *rank) {
  LLVMValueRef d[4];
  int skip = shape_has_batch(&n->shape), r = 0;
  for (int i = skip; i < n->shape.rank; i++)
    d[r++] = cg_i64(c, n->shape.dim[i]);
  *rank = r;
  for (int i = r; i < 4; i++)
    d[i] = cg_i64(c, 0);
  return LLVMConstArray2(c->i64, d, 4);
}

static LLVMValueRef layers_array(CgCtx *c, int *count) {
  LayerSummary *ls;
  int n = summary_layers(c->p->g, &ls);
  LLVMTypeRef f[] = {c->ptr, c->ptr, c->i32, dims_type(c), c->i64, c->i64};
  LLVMTypeRef ty = LLVMStructTypeInContext(c->ctx, f, 6, 0);
  LLVMValueRef *v = ARENA_ARRAY(c->p->g->arena, LLVMValueRef, n + 1);
  for (int i = 0; i < n; i++) {
    int rank;
    LLVMValueRef dims = sample_dims(c, ls[i].node, &rank);
    const char *name = ls[i].node->name ? ls[i].node->name : "output";
    LLVMValueRef e[] = {global_string(c, name), global_string(c, node_op_name(ls[i].node)),
                        i32c(c, rank), dims, cg_i64(c, ls[i].params), cg_i64(c, ls[i].flops)};
    v[i] = LLVMConstNamedStruct(ty, e, 6);
  }
  *count = n;
  return private_array(c, ty, v, n, "nn_layers");
}

/* Every buffer the step's kernels write, in their order (the runtime's NaN hunt). */
static LLVMValueRef checks_array(CgCtx *c, int *count) {
  const Schedule *s = &c->p->step;
  int n = c->p->can_train ? s->n : 0;
  LLVMTypeRef f[] = {c->i64, c->i64, c->i32, c->i32, c->i32, c->ptr};
  LLVMTypeRef ty = LLVMStructTypeInContext(c->ctx, f, 6, 0);
  LLVMValueRef *v = ARENA_ARRAY(c->p->g->arena, LLVMValueRef, n + 1);
  for (int k = 0; k < n; k++) {
    const Node *x = s->kernel[k].root;
    bool per_row = shape_has_batch(&x->shape);
    LLVMValueRef e[] = {cg_i64(c, s->kernel[k].out), cg_i64(c, shape_numel(&x->shape, 1)),
                        i32c(c, per_row), i32c(c, (int64_t)x->loc.line), i32c(c, (int64_t)x->loc.col),
                        global_string(c, x->name ? x->name : node_op_name(x))};
    v[k] = LLVMConstNamedStruct(ty, e, 6);
  }
  *count = n;
  return private_array(c, ty, v, n, "nn_checks");
}

/* Floats of parameters (role PARAM), of optimizer state, and of the rest of the workspace. */
static void memory_plan(const Program *p, int64_t *params, int64_t *state, int64_t *other) {
  *params = *state = 0;
  for (int i = 0; i < p->g->nparams; i++) {
    int64_t size = shape_numel(&p->g->params[i].param->shape, 1);
    if (p->g->params[i].role == ROLE_PARAM)
      *params += size;
    else if (p->g->params[i].role == ROLE_STATE)
      *state += size;
  }
  *other = p->plan.total - *params - *state;
}

static int64_t offset_of(const Program *p, const Node *n) {
  return n ? p->plan.offset[n->id] : -1;
}

static LLVMValueRef or_null(CgCtx *c, LLVMValueRef fn) { return fn ? fn : LLVMConstNull(c->ptr); }

void descriptor_emit(CgCtx *c, LLVMValueRef step, LLVMValueRef evaluate, LLVMValueRef predict,
                     LLVMValueRef *step_kernels) {
  const Program *p = c->p;
  const Graph *g = p->g;
  const TrainSettings *t = p->train;
  bool train = p->can_train;
  int nlayers, nchecks;
  LLVMValueRef layers = layers_array(c, &nlayers), checks = checks_array(c, &nchecks);
  int64_t mem_params, mem_state, mem_other;
  memory_plan(p, &mem_params, &mem_state, &mem_other);
  LLVMValueRef f[] = {
    i32c(c, NNRT_ABI_VERSION), global_string(c, p->name), global_string(c, p->source_name),
    cg_i64(c, p->plan.total), cg_i64(c, p->plan.max_batch),
    slot_value(c, g->input, "input"), slot_value(c, train ? g->target : NULL, "target"),
    slot_value(c, g->output, "output"),
    cg_i64(c, train ? offset_of(p, g->loss) : -1), cg_i64(c, train ? offset_of(p, g->lr) : -1),
    cg_i64(c, train ? offset_of(p, g->step) : -1),
    i32c(c, count_params(p)), params_array(c), i32c(c, g->nnoise), noise_array(c),
    i32c(c, p->n_classes), i32c(c, g->metric),
    i32c(c, train), cg_i64(c, t->epochs), cg_i64(c, t->batch), cg_i64(c, t->log_every),
    cg_i64(c, (int64_t)t->seed), i32c(c, t->shuffle), f64c(c, t->opt.lr),
    i32c(c, t->lr_schedule.kind), f64c(c, t->lr_schedule.a), f64c(c, t->lr_schedule.b), f64c(c, t->lr_schedule.warmup_epochs),
    data_value(c, &t->data), data_value(c, &t->validate), f64c(c, t->validation_split),
    i32c(c, t->early_stopping), cg_i64(c, t->checkpoint_every),
    or_null(c, step), or_null(c, evaluate), predict,
    LLVMConstInt(c->i64, summary_hash(g), 0), i32c(c, nlayers), layers, i32c(c, nchecks), checks,
    cg_i64(c, mem_params), cg_i64(c, mem_state), cg_i64(c, mem_other),
    i32c(c, train ? sched_groups(&p->step) : 0),
    train ? private_array(c, c->ptr, step_kernels, sched_groups(&p->step), "nn_step_kernels")
          : LLVMConstNull(c->ptr),
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

void descriptor_emit_main(CgCtx *c) {
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


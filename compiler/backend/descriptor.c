/* descriptor: the constant `nn_model` that tells the runtime everything about a compiled model
 * — workspace plan, slots, parameters with their initialisers, settings, data sources and the
 * entry points. Also the generated program's main().
 *
 * The layout comes from the runtime's field lists (nnrt_fields.h), the same lists nnrt.h
 * declares its structs from: each struct's LLVM type is the list's kinds in order (LLVM's
 * default struct layout then reproduces C's), and its constant is one function per field, named
 * <struct>_<field>, returning the field's value as a C value of its kind. A field added to a
 * list without its function here does not compile; a field removed leaves an unused function,
 * which does not compile either (-Werror); a reordered list needs no change. */
#include "nnrt.h"
#include "codegen_internal.h"
#include "summary.h"

#include <stdbool.h>
#include <string.h>

#define COUNT(a) (unsigned)(sizeof(a) / sizeof *(a))

/* The compiler's own enums whose values the descriptor copies into NNRT fields: settings.h and
 * graph.h cannot see nnrt.h (the IR and the settings do not depend on the runtime), so their
 * values are checked here, where both are visible; a reordered enum on either side fails the
 * build. */
#define MIRRORED_ENUMS(X)                                                                       \
  X(INIT_ZEROS, NNRT_INIT_ZEROS)                                                                \
  X(INIT_ONES, NNRT_INIT_ONES)                                                                  \
  X(INIT_CONST, NNRT_INIT_CONST)                                                                \
  X(INIT_NORMAL, NNRT_INIT_NORMAL)                                                              \
  X(INIT_UNIFORM, NNRT_INIT_UNIFORM)                                                            \
  X(INIT_VALUES, NNRT_INIT_VALUES)                                                              \
  X(ROLE_PARAM, NNRT_ROLE_PARAM)                                                                \
  X(ROLE_STATE, NNRT_ROLE_STATE)                                                                \
  X(ROLE_CONST, NNRT_ROLE_CONST)                                                                \
  X(ROLE_BUFFER, NNRT_ROLE_BUFFER)                                                              \
  X(LR_CONSTANT, NNRT_LR_CONSTANT)                                                              \
  X(LR_STEP, NNRT_LR_STEP)                                                                      \
  X(LR_EXPONENTIAL, NNRT_LR_EXPONENTIAL)                                                        \
  X(LR_COSINE, NNRT_LR_COSINE)                                                                  \
  X(DATA_NONE, NNRT_DATA_NONE)                                                                  \
  X(DATA_TABLE, NNRT_DATA_TABLE)                                                                \
  X(DATA_CSV, NNRT_DATA_CSV)                                                                    \
  X(DATA_IDX, NNRT_DATA_IDX)                                                                    \
  X(SCALE_NONE, NNRT_SCALE_NONE)                                                                \
  X(SCALE_FACTOR, NNRT_SCALE_FACTOR)                                                            \
  X(SCALE_STANDARDIZE, NNRT_SCALE_STANDARDIZE)

#define SAME_VALUE(ours, nnrt) _Static_assert((int)(ours) == (int)(nnrt), #ours " != " #nnrt);
MIRRORED_ENUMS(SAME_VALUE)

static LLVMValueRef global_string(CgCtx *c, const char *s) {
  return LLVMBuildGlobalStringPtr(c->b, s, "str");
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

static LLVMValueRef i32c(CgCtx *c, int64_t v) {
  return LLVMConstInt(c->i32, (unsigned long long)v, 1);
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

/* ---- Kinds: each kind's LLVM type, and its constant from a field function's C value ---- */

typedef struct {
  int64_t d[4];
} Dims;

/* The source of an NnrtSlot: a node (NULL: no slot) and the name to give it. */
typedef struct {
  const Node *node;
  const char *name;
} SlotSource;

static LLVMTypeRef slot_type(CgCtx *c);
static LLVMTypeRef data_type(CgCtx *c);
static LLVMValueRef slot_value(CgCtx *c, SlotSource s);
static LLVMValueRef data_value(CgCtx *c, const DataSettings *d);

static LLVMTypeRef type_I32(CgCtx *c) { return c->i32; }
static LLVMTypeRef type_I64(CgCtx *c) { return c->i64; }
static LLVMTypeRef type_U64(CgCtx *c) { return c->i64; }
static LLVMTypeRef type_F64(CgCtx *c) { return c->f64; }
static LLVMTypeRef type_STR(CgCtx *c) { return c->ptr; }
static LLVMTypeRef type_PTR(CgCtx *c) { return c->ptr; }
static LLVMTypeRef type_DIMS(CgCtx *c) { return LLVMArrayType2(c->i64, 4); }
static LLVMTypeRef type_SLOT(CgCtx *c) { return slot_type(c); }
static LLVMTypeRef type_DATA(CgCtx *c) { return data_type(c); }

static LLVMValueRef const_I32(CgCtx *c, int64_t v) { return i32c(c, v); }
static LLVMValueRef const_I64(CgCtx *c, int64_t v) { return cg_i64(c, v); }
static LLVMValueRef const_U64(CgCtx *c, uint64_t v) { return LLVMConstInt(c->i64, v, 0); }
static LLVMValueRef const_F64(CgCtx *c, double v) { return LLVMConstReal(c->f64, v); }
/* NULL stays a null pointer. */
static LLVMValueRef const_STR(CgCtx *c, const char *s) {
  return s ? global_string(c, s) : LLVMConstNull(c->ptr);
}
/* Arrays and functions are built by the field; NULL stays a null pointer. */
static LLVMValueRef const_PTR(CgCtx *c, LLVMValueRef v) { return v ? v : LLVMConstNull(c->ptr); }
static LLVMValueRef const_DIMS(CgCtx *c, Dims v) {
  LLVMValueRef d[4];
  for (int i = 0; i < 4; i++)
    d[i] = cg_i64(c, v.d[i]);
  return LLVMConstArray2(c->i64, d, 4);
}
static LLVMValueRef const_SLOT(CgCtx *c, SlotSource s) { return slot_value(c, s); }
static LLVMValueRef const_DATA(CgCtx *c, const DataSettings *d) { return data_value(c, d); }

#define FIELD_TYPE(kind, ctype, name) type_##kind(c),

static LLVMTypeRef struct_type(CgCtx *c, LLVMTypeRef *fields, unsigned n) {
  return LLVMStructTypeInContext(c->ctx, fields, n, 0);
}

static LLVMTypeRef slot_type(CgCtx *c) {
  LLVMTypeRef f[] = {NNRT_SLOT_FIELDS(FIELD_TYPE)};
  return struct_type(c, f, COUNT(f));
}
static LLVMTypeRef data_type(CgCtx *c) {
  LLVMTypeRef f[] = {NNRT_DATA_FIELDS(FIELD_TYPE)};
  return struct_type(c, f, COUNT(f));
}
static LLVMTypeRef param_type(CgCtx *c) {
  LLVMTypeRef f[] = {NNRT_PARAM_FIELDS(FIELD_TYPE)};
  return struct_type(c, f, COUNT(f));
}
static LLVMTypeRef noise_type(CgCtx *c) {
  LLVMTypeRef f[] = {NNRT_NOISE_FIELDS(FIELD_TYPE)};
  return struct_type(c, f, COUNT(f));
}
static LLVMTypeRef layer_type(CgCtx *c) {
  LLVMTypeRef f[] = {NNRT_LAYER_FIELDS(FIELD_TYPE)};
  return struct_type(c, f, COUNT(f));
}
static LLVMTypeRef check_type(CgCtx *c) {
  LLVMTypeRef f[] = {NNRT_CHECK_FIELDS(FIELD_TYPE)};
  return struct_type(c, f, COUNT(f));
}

/* ---- NnrtSlot: named after its node; an unnamed one (output softmax(z)) after its role ---- */

typedef struct {
  CgCtx *c;
  SlotSource src;
} SlotFields;

static const char *slot_name(const SlotFields *s) { return s->src.name; }
static int64_t slot_offset(const SlotFields *s) {
  return s->src.node ? s->c->p->plan.offset[s->src.node->id] : -1;
}
static int64_t slot_width(const SlotFields *s) {
  return s->src.node ? shape_numel(&s->src.node->shape, 1) : 0;
}

#define SLOT_FIELD(kind, ctype, name) const_##kind(s.c, slot_##name(&s)),
static LLVMValueRef slot_value(CgCtx *c, SlotSource src) {
  SlotFields s = {c, src};
  LLVMValueRef f[] = {NNRT_SLOT_FIELDS(SLOT_FIELD)};
  return LLVMConstNamedStruct(slot_type(c), f, COUNT(f));
}

static SlotSource slot_of(const Node *n, const char *role) {
  return (SlotSource){n, n && n->name ? n->name : n ? role : ""};
}

/* ---- NnrtParam: parameters, optimizer state, constants, then running statistics (as nnrt.h
 * promises) ---- */

typedef struct {
  CgCtx *c;
  const ParamSlot *slot;
} ParamFields;

static Dims dims_of(const Shape *s, int from) {
  Dims d = {{0}};
  for (int i = from; i < s->rank; i++)
    d.d[i - from] = s->dim[i];
  return d;
}

static const char *param_name(const ParamFields *s) { return s->slot->param->name; }
static int64_t param_offset(const ParamFields *s) {
  return s->c->p->plan.offset[s->slot->param->id];
}
static int64_t param_size(const ParamFields *s) { return shape_numel(&s->slot->param->shape, 1); }
static int64_t param_rank(const ParamFields *s) { return s->slot->param->shape.rank; }
static Dims param_dim(const ParamFields *s) { return dims_of(&s->slot->param->shape, 0); }
static int64_t param_init(const ParamFields *s) { return s->slot->init.kind; }
static double param_a(const ParamFields *s) { return s->slot->init.a; }
static double param_b(const ParamFields *s) { return s->slot->init.b; }
static LLVMValueRef param_values(const ParamFields *s) {
  const ParamInit *in = &s->slot->init;
  return global_floats(s->c, in->kind == INIT_VALUES ? in->values : NULL, param_size(s), "init");
}
static int64_t param_role(const ParamFields *s) { return s->slot->role; }

#define PARAM_FIELD(kind, ctype, name) const_##kind(s.c, param_##name(&s)),
static LLVMValueRef param_value(CgCtx *c, const ParamSlot *slot) {
  ParamFields s = {c, slot};
  LLVMValueRef f[] = {NNRT_PARAM_FIELDS(PARAM_FIELD)};
  return LLVMConstNamedStruct(param_type(c), f, COUNT(f));
}

static bool param_in_workspace(const Program *p, const ParamSlot *slot) {
  return p->plan.offset[slot->param->id] >= 0;
}

static LLVMValueRef params_array(CgCtx *c) {
  const Graph *g = c->p->g;
  LLVMValueRef *v = ARENA_ARRAY(g->arena, LLVMValueRef, g->nparams + 1);
  int n = 0;
  for (int role = ROLE_PARAM; role <= ROLE_BUFFER; role++)
    for (int i = 0; i < g->nparams; i++)
      if ((int)g->params[i].role == role && param_in_workspace(c->p, &g->params[i]))
        v[n++] = param_value(c, &g->params[i]);
  return private_array(c, param_type(c), v, n, "nn_params");
}

static int count_params(const Program *p) {
  int n = 0;
  for (int i = 0; i < p->g->nparams; i++)
    n += param_in_workspace(p, &p->g->params[i]);
  return n;
}

/* ---- NnrtNoise: the dropout masks, then the training flag (when a schedule reads it) ---- */

typedef struct {
  CgCtx *c;
  const Node *mask;
} NoiseFields;

static int64_t noise_kind(const NoiseFields *s) {
  return s->mask == s->c->p->g->training ? NNRT_NOISE_TRAINING : NNRT_NOISE_DROPOUT;
}
static int64_t noise_offset(const NoiseFields *s) { return s->c->p->plan.offset[s->mask->id]; }
static int64_t noise_width(const NoiseFields *s) { return shape_numel(&s->mask->shape, 1); }
static double noise_p(const NoiseFields *s) { return s->mask->arg.k; }

#define NOISE_FIELD(kind, ctype, name) const_##kind(s.c, noise_##name(&s)),
/* A mask or flag the plan gave no slot is read by nothing that reaches the output or the loss
 * (dropout on a dead branch): it is left out, as the runtime would have nowhere to fill it. */
static bool noise_planned(const Program *p, const Node *n) {
  return n && p->plan.offset[n->id] >= 0;
}

/* The planned masks in graph order, then the training flag; out may be NULL to count them. */
static int planned_noise(const Program *p, const Node **out) {
  int n = 0;
  for (int i = 0; i <= p->g->nnoise; i++) {
    const Node *z = i < p->g->nnoise ? p->g->noise[i] : p->g->training;
    if (noise_planned(p, z) && out)
      out[n] = z;
    n += noise_planned(p, z);
  }
  return n;
}

static int count_noise(const Program *p) { return planned_noise(p, NULL); }

static LLVMValueRef noise_array(CgCtx *c) {
  const Graph *g = c->p->g;
  const Node **z = ARENA_ARRAY(g->arena, const Node *, g->nnoise + 1);
  int n = planned_noise(c->p, z);
  LLVMValueRef *v = ARENA_ARRAY(g->arena, LLVMValueRef, n + 1);
  for (int i = 0; i < n; i++) {
    NoiseFields s = {c, z[i]};
    LLVMValueRef f[] = {NNRT_NOISE_FIELDS(NOISE_FIELD)};
    v[i] = LLVMConstNamedStruct(noise_type(c), f, COUNT(f));
  }
  return private_array(c, noise_type(c), v, n, "nn_noise");
}

/* ---- NnrtLayer: the rows of `info` ---- */

typedef struct {
  CgCtx *c;
  const LayerSummary *layer;
} LayerFields;

static const char *layer_name(const LayerFields *s) {
  return s->layer->node->name ? s->layer->node->name : "output";
}
static const char *layer_op(const LayerFields *s) { return s->layer->kind; }
/* The per-sample shape: the batch axis left out. */
static int64_t layer_rank(const LayerFields *s) {
  const Shape *sh = &s->layer->node->shape;
  return sh->rank - shape_has_batch(sh);
}
static Dims layer_dim(const LayerFields *s) {
  const Shape *sh = &s->layer->node->shape;
  return dims_of(sh, shape_has_batch(sh));
}
static int64_t layer_params(const LayerFields *s) { return s->layer->params; }
static int64_t layer_flops(const LayerFields *s) { return s->layer->flops; }

#define LAYER_FIELD(kind, ctype, name) const_##kind(s.c, layer_##name(&s)),
static LLVMValueRef layers_array(CgCtx *c, const LayerSummary *ls, int n) {
  LLVMValueRef *v = ARENA_ARRAY(c->p->g->arena, LLVMValueRef, n + 1);
  for (int i = 0; i < n; i++) {
    LayerFields s = {c, &ls[i]};
    LLVMValueRef f[] = {NNRT_LAYER_FIELDS(LAYER_FIELD)};
    v[i] = LLVMConstNamedStruct(layer_type(c), f, COUNT(f));
  }
  return private_array(c, layer_type(c), v, n, "nn_layers");
}

/* ---- NnrtCheck: every buffer the step's kernels write, in their order (the NaN hunt) ---- */

typedef struct {
  CgCtx *c;
  const Kernel *kernel;
} CheckFields;

static int64_t check_offset(const CheckFields *s) { return s->kernel->out; }
static int64_t check_width(const CheckFields *s) {
  return shape_numel(&s->kernel->root->shape, 1);
}
static int64_t check_per_row(const CheckFields *s) {
  return shape_has_batch(&s->kernel->root->shape);
}
static int64_t check_line(const CheckFields *s) { return s->kernel->root->loc.line; }
static int64_t check_col(const CheckFields *s) { return s->kernel->root->loc.col; }
enum { CHECK_TEXT = 60 };
const char *codegen_value_words(Graph *g, const Node *x) {
  const Source *src = g->diag ? g->diag->src : NULL;
  if (x->name)
    return x->name;
  if (!x->loc.line || !src || (size_t)x->loc.off + x->loc.len > src->len)
    return node_op_name(x);
  const char *text = src->text + x->loc.off;
  size_t n = strcspn(text, "\n");
  n = n < x->loc.len ? n : x->loc.len;
  bool cut = n > CHECK_TEXT || n < x->loc.len;
  return arena_printf(g->arena, "%.*s%s", (int)(n > CHECK_TEXT ? CHECK_TEXT : n), text,
                      cut ? "..." : "");
}
static const char *check_what(const CheckFields *s) {
  return codegen_value_words(s->c->p->g, s->kernel->root);
}
/* Kernels that share a loop are one step_kernels entry: the group of kernel k is the number of
 * kernels before it that start a loop. */
static int64_t kernel_group(const Schedule *sch, const Kernel *k) {
  int64_t group = -1;
  for (const Kernel *j = sch->kernel; j <= k; j++)
    group += !j->joins_previous;
  return group;
}
static int64_t check_group(const CheckFields *s) { return kernel_group(&s->c->p->step, s->kernel); }
static int64_t check_tested(const CheckFields *s) { return s->c->tested[s->kernel->root->id]; }

#define CHECK_FIELD(kind, ctype, name) const_##kind(s.c, check_##name(&s)),
static LLVMValueRef checks_array(CgCtx *c, int n) {
  const Schedule *sch = &c->p->step;
  LLVMValueRef *v = ARENA_ARRAY(c->p->g->arena, LLVMValueRef, n + 1);
  for (int k = 0; k < n; k++) {
    CheckFields s = {c, &sch->kernel[k]};
    LLVMValueRef f[] = {NNRT_CHECK_FIELDS(CHECK_FIELD)};
    v[k] = LLVMConstNamedStruct(check_type(c), f, COUNT(f));
  }
  return private_array(c, check_type(c), v, n, "nn_checks");
}

/* ---- NnrtData: a data source of the train block ---- */

typedef struct {
  CgCtx *c;
  const DataSettings *d;
} DataFields;

/* A table's rows are in the program only when it can train on them. */
static bool data_has_table(const DataFields *s) {
  return s->d->kind == DATA_TABLE && s->c->p->can_train;
}

static int64_t data_kind(const DataFields *s) { return s->d->kind; }
static int64_t data_rows(const DataFields *s) { return data_has_table(s) ? s->d->rows : 0; }
static LLVMValueRef data_x(const DataFields *s) {
  const DataSettings *d = s->d;
  return data_has_table(s) ? global_floats(s->c, d->x, d->rows * d->x_width, "data_x") : NULL;
}
static LLVMValueRef data_y(const DataFields *s) {
  const DataSettings *d = s->d;
  return data_has_table(s) ? global_floats(s->c, d->y, d->rows * d->y_width, "data_y") : NULL;
}
static const char *data_path(const DataFields *s) { return s->d->path; }
static const char *data_labels_path(const DataFields *s) { return s->d->labels_path; }
static int64_t data_header(const DataFields *s) { return s->d->header; }
static int64_t data_delimiter(const DataFields *s) {
  return s->d->delimiter ? s->d->delimiter : ',';
}
static int64_t data_n_x_cols(const DataFields *s) { return s->d->n_x_cols; }
static LLVMValueRef data_x_cols(const DataFields *s) {
  return int_array(s->c, s->d->x_cols, s->d->n_x_cols, "x_cols");
}
static int64_t data_n_y_cols(const DataFields *s) { return s->d->n_y_cols; }
static LLVMValueRef data_y_cols(const DataFields *s) {
  return int_array(s->c, s->d->y_cols, s->d->n_y_cols, "y_cols");
}
static int64_t data_n_class_names(const DataFields *s) { return s->d->n_class_names; }
static LLVMValueRef data_class_names(const DataFields *s) {
  return string_array(s->c, s->d->class_names, s->d->n_class_names);
}
static int64_t data_scaling(const DataFields *s) { return s->d->scaling; }
static double data_scale(const DataFields *s) { return s->d->scale; }
static int64_t data_one_vs_rest(const DataFields *s) { return s->d->one_vs_rest; }
static int64_t data_positive(const DataFields *s) { return s->d->positive; }

#define DATA_FIELD(kind, ctype, name) const_##kind(s.c, data_##name(&s)),
static LLVMValueRef data_value(CgCtx *c, const DataSettings *d) {
  DataFields s = {c, d};
  LLVMValueRef f[] = {NNRT_DATA_FIELDS(DATA_FIELD)};
  return LLVMConstNamedStruct(data_type(c), f, COUNT(f));
}

/* ---- NnrtModel ---- */

typedef struct {
  CgCtx *c;
  const Program *p;
  const TrainSettings *t;
  bool train; /* the model can train: the training fields are live */
  LLVMValueRef step, evaluate, predict, *step_kernels;
  LayerSummary *layers; /* the rows of `info` */
  int nlayers;
  int64_t mem_params, mem_state, mem_buffers; /* floats of each role that lives across steps */
} ModelFields;

static int64_t offset_of(const ModelFields *s, const Node *n) {
  return s->train && n ? s->p->plan.offset[n->id] : -1;
}

static int64_t model_abi_version(const ModelFields *s) {
  (void)s;
  return NNRT_ABI_VERSION;
}
static const char *model_name(const ModelFields *s) { return s->p->name ? s->p->name : ""; }
static const char *model_source(const ModelFields *s) {
  return s->p->source_name ? s->p->source_name : "";
}
static int64_t model_workspace_floats(const ModelFields *s) { return s->p->plan.total; }
static int64_t model_max_batch(const ModelFields *s) { return s->p->plan.max_batch; }
static SlotSource model_input(const ModelFields *s) { return slot_of(s->p->g->input, "input"); }
static SlotSource model_target(const ModelFields *s) {
  return slot_of(s->train ? s->p->g->target : NULL, "target");
}
static SlotSource model_output(const ModelFields *s) {
  return slot_of(s->p->g->output, "output");
}
static int64_t model_loss_offset(const ModelFields *s) { return offset_of(s, s->p->g->loss); }
static int64_t model_lr_offset(const ModelFields *s) { return offset_of(s, s->p->g->lr); }
static int64_t model_step_offset(const ModelFields *s) { return offset_of(s, s->p->g->step); }
static int64_t model_n_params(const ModelFields *s) { return count_params(s->p); }
static LLVMValueRef model_params(const ModelFields *s) { return params_array(s->c); }
static int64_t model_n_noise(const ModelFields *s) { return count_noise(s->p); }
static LLVMValueRef model_noise(const ModelFields *s) { return noise_array(s->c); }
static int64_t model_n_classes(const ModelFields *s) { return s->p->n_classes; }
static int64_t model_metric(const ModelFields *s) { return s->p->g->metric; }
static int64_t model_has_train(const ModelFields *s) { return s->train; }
static int64_t model_epochs(const ModelFields *s) { return s->t->epochs; }
static int64_t model_batch(const ModelFields *s) { return s->t->batch; }
static int64_t model_log_every(const ModelFields *s) { return s->t->log_every; }
static uint64_t model_seed(const ModelFields *s) { return s->t->seed; }
static int64_t model_shuffle(const ModelFields *s) { return s->t->shuffle; }
static double model_lr(const ModelFields *s) { return s->t->opt.lr; }
static int64_t model_lr_schedule(const ModelFields *s) { return s->t->lr_schedule.kind; }
static double model_lr_schedule_a(const ModelFields *s) { return s->t->lr_schedule.a; }
static double model_lr_schedule_b(const ModelFields *s) { return s->t->lr_schedule.b; }
static double model_warmup_epochs(const ModelFields *s) {
  return s->t->lr_schedule.warmup_epochs;
}
static const DataSettings *model_train(const ModelFields *s) { return &s->t->data; }
static const DataSettings *model_validate(const ModelFields *s) { return &s->t->validate; }
static double model_validation_split(const ModelFields *s) { return s->t->validation_split; }
static int64_t model_split_shuffle(const ModelFields *s) { return s->t->split_shuffle; }
static int64_t model_early_stopping(const ModelFields *s) { return s->t->early_stopping; }
static int64_t model_checkpoint_every(const ModelFields *s) { return s->t->checkpoint_every; }
static LLVMValueRef model_step(const ModelFields *s) { return s->step; }
static LLVMValueRef model_evaluate(const ModelFields *s) { return s->evaluate; }
static LLVMValueRef model_predict(const ModelFields *s) { return s->predict; }
static uint64_t model_model_hash(const ModelFields *s) { return graph_hash(s->p->g); }
static int64_t model_n_layers(const ModelFields *s) { return s->nlayers; }
static LLVMValueRef model_layers(const ModelFields *s) {
  return layers_array(s->c, s->layers, s->nlayers);
}
static int64_t model_n_checks(const ModelFields *s) { return s->train ? s->p->step.n : 0; }
static LLVMValueRef model_checks(const ModelFields *s) {
  return checks_array(s->c, (int)model_n_checks(s));
}
static int64_t model_mem_params(const ModelFields *s) { return s->mem_params; }
static int64_t model_mem_state(const ModelFields *s) { return s->mem_state; }
static int64_t model_mem_buffers(const ModelFields *s) { return s->mem_buffers; }
static int64_t model_mem_other(const ModelFields *s) {
  return s->p->plan.total - s->mem_params - s->mem_state - s->mem_buffers;
}
static int64_t model_n_step_kernels(const ModelFields *s) {
  return s->train ? sched_groups(&s->p->step) : 0;
}
static LLVMValueRef model_step_kernels(const ModelFields *s) {
  int64_t n = model_n_step_kernels(s);
  return n ? private_array(s->c, s->c->ptr, s->step_kernels, n, "nn_step_kernels") : NULL;
}
static int64_t model_nonfinite_offset(const ModelFields *s) {
  return s->train ? s->p->nonfinite_offset : -1;
}
/* The group of the first update, when every gradient's kernel comes before it (sched_join never
 * puts an update in a gradient's loop). */
static int64_t model_first_update_group(const ModelFields *s) {
  const Schedule *sch = &s->p->step;
  if (!s->train)
    return -1;
  const Kernel *first = NULL;
  for (int k = 0; k < sch->n && !first; k++)
    if (sch->kernel[k].root->flags & NODE_UPDATE)
      first = &sch->kernel[k];
  if (!first)
    return -1;
  const Graph *g = s->p->g;
  for (const Kernel *k = first; k < sch->kernel + sch->n; k++)
    for (int p = 0; p < g->nparams; p++)
      if (k->root == g->params[p].grad)
        return -1;
  return kernel_group(sch, first);
}

static int64_t model_predict_rows(const ModelFields *s) { return s->p->predict_rows; }
static LLVMValueRef model_predict_head(const ModelFields *s) { return s->c->predict_head; }
static LLVMValueRef model_predict_tail(const ModelFields *s) { return s->c->predict_tail; }
static int64_t model_predict_cut_offset(const ModelFields *s) {
  return s->p->predict_cut_node ? s->p->plan.offset[s->p->predict_cut_node->id] : -1;
}
static int64_t model_predict_cut_width(const ModelFields *s) {
  return s->p->predict_cut_node ? shape_numel(&s->p->predict_cut_node->shape, 1) : 0;
}

/* Floats of parameters (role PARAM), optimizer state (STATE) and running statistics (BUFFER);
 * constants count with everything else. */
static void memory_plan(ModelFields *s) {
  const Graph *g = s->p->g;
  s->mem_params = s->mem_state = s->mem_buffers = 0;
  for (int i = 0; i < g->nparams; i++) {
    int64_t size = shape_numel(&g->params[i].param->shape, 1);
    if (g->params[i].role == ROLE_PARAM)
      s->mem_params += size;
    else if (g->params[i].role == ROLE_STATE)
      s->mem_state += size;
    else if (g->params[i].role == ROLE_BUFFER)
      s->mem_buffers += size;
  }
}

#define MODEL_FIELD(kind, ctype, name) const_##kind(s.c, model_##name(&s)),
void descriptor_emit(CgCtx *c, LLVMValueRef step, LLVMValueRef evaluate, LLVMValueRef predict,
                     LLVMValueRef *step_kernels) {
  ModelFields s = {.c = c, .p = c->p, .t = c->p->train, .train = c->p->can_train,
                   .step = step, .evaluate = evaluate, .predict = predict,
                   .step_kernels = step_kernels};
  s.nlayers = summary_layers(c->p->g, &s.layers);
  memory_plan(&s);
  LLVMValueRef f[] = {NNRT_MODEL_FIELDS(MODEL_FIELD)};
  LLVMTypeRef types[] = {NNRT_MODEL_FIELDS(FIELD_TYPE)};
  LLVMTypeRef ty = LLVMStructCreateNamed(c->ctx, "NnrtModel");
  LLVMStructSetBody(ty, types, COUNT(types), 0);
  LLVMValueRef model = LLVMAddGlobal(c->mod, ty, "nn_model");
  LLVMSetInitializer(model, LLVMConstNamedStruct(ty, f, COUNT(f)));
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

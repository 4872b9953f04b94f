/* lower_call: function calls. Contract: lower_call lowers f(...) through the table of functions
 * here (dense and dropout layers, exp, log, sqrt, abs, reductions, dot, transpose) or else
 * lower_sugar.c's activations, losses and regularisers; an unknown name gets "did you mean". */
#include "foreign.h"
#include "lower_internal.h"

#include <math.h>
#include <string.h>

/* --- layers --- */

/* dense(x, n, act, bias, init) = act(x W + b) with W: [in, n] (init, Glorot-uniform by
 * default), b: [n] zeros. The layer's parameters are named after the value it defines. */
static Node *lower_dense(Lower *L, const AstNode *call, const char *layer) {
  Graph *g = L->g;
  static const char *const spec[] = {"x", "units", "activation|act", "bias", "init"};
  const AstNode *a[MAX_ARGS];
  if (!lower_bind_args(L, call, spec, 5, 2, a))
    return NULL;
  if (!layer) {
    diag_error(L->diag, call->loc, "a dense layer needs a name for its parameters");
    diag_hint(L->diag, "write it as its own line: h = dense(...)");
    return NULL;
  }
  const AstNode *na = lower_arg_value(a[1]);
  double units = 0;
  if (!lower_constant_value(na, &units) || units < 1 || units != floor(units) || units > 1e9) {
    diag_error(L->diag, na->loc, "the number of units of dense must be a positive integer");
    return NULL;
  }
  const struct Activation *act = &lower_activations[0];
  double k = 0;
  bool bias = true;
  if ((a[2] && !lower_activation_spec(L, call, lower_arg_value(a[2]), &act, &k)) ||
      !lower_bool_arg(L, a[3], "bias", &bias))
    return NULL;
  const AstNode *xa = lower_arg_value(a[0]);
  Node *x = lower_expr(L, xa);
  if (!x)
    return NULL;
  if (x->shape.rank != 2) {
    char sh[64];
    diag_error(L->diag, xa->loc, "dense expects rows of a vector, [N, k]; this has shape %s",
               shape_str(&x->shape, sh, sizeof sh));
    if (x->shape.rank > 2)
      diag_hint(L->diag, "flatten each example into a vector first: dense(flatten(x), ...)");
    return NULL;
  }
  int64_t in = x->shape.dim[1], out = (int64_t)units;
  Shape ws = {2, {in, out}};
  if (!shape_fits(&ws)) {
    diag_error(L->diag, na->loc, "a %lld × %lld weight matrix has more than 2^31 elements, the "
               "largest tensor nnc plans", (long long)in, (long long)out);
    return NULL;
  }
  const char *wname = arena_printf(g->arena, "%s.W", layer);
  double limit = sqrt(6.0 / (double)(in + out));
  ParamInit winit = {INIT_UNIFORM, -limit, limit, NULL};
  if (a[4] && !lower_init(L, lower_arg_value(a[4]), wname, ws, &winit))
    return NULL;
  Node *W = lower_declare_param(L, wname, ws, winit);
  Node *b = bias ? lower_declare_param(L, arena_printf(g->arena, "%s.b", layer), (Shape){1, {out}},
                                       (ParamInit){INIT_ZEROS, 0, 0, NULL})
                 : NULL;
  g->loc = call->loc;
  Node *z = g_matmul(g, x, W, false, false);
  return act->build(L, b ? g_add(g, z, b) : z, k);
}

/* dropout(x, p) = x ⊙ mask, the mask drawn by the runtime before each training step
 * (Bernoulli(1 − p) / (1 − p)) and all ones when predicting */
static Node *lower_dropout(Lower *L, const AstNode *call, const char *let) {
  (void)let;
  static const char *const spec[] = {"x", "p|rate"};
  const AstNode *a[MAX_ARGS];
  double p = 0;
  if (!lower_bind_args(L, call, spec, 2, 2, a) ||
      !lower_number_arg(L, call, a[1], "probability", &p))
    return NULL;
  if (!(p >= 0 && p < 1)) {
    diag_error(L->diag, lower_arg_value(a[1])->loc,
               "the probability of dropout must be in [0, 1), got %g", p);
    return NULL;
  }
  Node *x = lower_expr(L, lower_arg_value(a[0]));
  if (!x)
    return NULL;
  L->g->loc = call->loc;
  if (!shape_has_batch(&x->shape)) {
    char sh[64];
    diag_error(L->diag, call->loc, "dropout needs a tensor with the batch axis N, but this has "
               "shape %s", shape_str(&x->shape, sh, sizeof sh));
    return NULL;
  }
  if (p == 0)
    return x;
  return g_mul(L->g, x, g_noise(L->g, x->shape, p));
}

/* --- other functions --- */

/* exp(x), log(x), sqrt(x), abs(x) */
static Node *lower_unary(Lower *L, const AstNode *call, Node *(*f)(Graph *, Node *)) {
  Node *x = lower_single_arg(L, call);
  return x ? f(L->g, x) : NULL;
}

static Node *fn_exp(Lower *L, const AstNode *c, const char *n) { return (void)n, lower_unary(L, c, g_exp); }
static Node *fn_log(Lower *L, const AstNode *c, const char *n) { return (void)n, lower_unary(L, c, g_log); }
static Node *fn_sqrt(Lower *L, const AstNode *c, const char *n) { return (void)n, lower_unary(L, c, g_sqrt); }
static Node *fn_abs(Lower *L, const AstNode *c, const char *n) { return (void)n, lower_unary(L, c, g_abs); }

typedef enum { RED_SUM, RED_MEAN, RED_MAX, RED_MIN } Reduction;

/* sum/mean/max/min(x) over every element, or (x, axis = k) over one axis with numpy's
 * numbering (the batch axis N is axis 0; negative axes count from the end), dropping it unless
 * keepdims = true. max(a, b) and min(a, b) are elementwise. */
static Node *lower_reduction(Lower *L, const AstNode *call, Reduction r) {
  Graph *g = L->g;
  static const char *const spec_sum[] = {"x", "axis", "keepdims"};
  static const char *const spec_max[] = {"x", "y", "axis", "keepdims"};
  bool two = r == RED_MAX || r == RED_MIN;
  const AstNode *a[MAX_ARGS], *axis_a, *keep_a;
  if (!lower_bind_args(L, call, two ? spec_max : spec_sum, two ? 4 : 3, 1, a))
    return NULL;
  axis_a = a[two ? 2 : 1];
  keep_a = a[two ? 3 : 2];
  if (two && a[1] && (axis_a || keep_a)) {
    diag_error(L->diag, call->loc, "%s of two values is elementwise and takes no axis",
               call->u.call.name);
    return NULL;
  }
  double axis = 0;
  bool keep = false;
  if (!lower_number_arg(L, call, axis_a, "axis", &axis) ||
      !lower_bool_arg(L, keep_a, "keepdims", &keep))
    return NULL;
  if (axis_a && axis != floor(axis)) {
    diag_error(L->diag, lower_arg_value(axis_a)->loc, "the axis of %s must be an integer",
               call->u.call.name);
    return NULL;
  }
  Node *x = lower_expr(L, lower_arg_value(a[0]));
  Node *y = two && a[1] ? lower_expr(L, lower_arg_value(a[1])) : NULL;
  if (!x || (two && a[1] && !y))
    return NULL;
  g->loc = call->loc;
  if (y)
    return r == RED_MAX ? g_max(g, x, y) : lower_min2(g, x, y);
  uint32_t axes = lower_all_axes(x);
  if (axis_a) {
    int rank = x->shape.rank, k = (int)(axis < 0 ? axis + rank : axis);
    if (axis < -rank || axis >= rank) {
      char sh[64];
      diag_error(L->diag, lower_arg_value(axis_a)->loc, "axis %g is out of range for shape %s",
                 axis, shape_str(&x->shape, sh, sizeof sh));
      if (rank)
        diag_hint(L->diag, "axes of a tensor of rank %d are 0 to %d, or -%d to -1", rank,
                  rank - 1, rank);
      return NULL;
    }
    axes = 1u << k;
  }
  if (keep)
    axes |= AXES_KEEP;
  switch (r) {
  case RED_SUM: return g_sum(g, x, axes);
  case RED_MEAN: return lower_mean_axes(g, x, axes);
  case RED_MAX: return g_maxr(g, x, axes);
  case RED_MIN: return g_neg(g, g_maxr(g, g_neg(g, x), axes));
  }
  return NULL;
}

static Node *fn_sum(Lower *L, const AstNode *c, const char *n) { return (void)n, lower_reduction(L, c, RED_SUM); }
static Node *fn_mean(Lower *L, const AstNode *c, const char *n) { return (void)n, lower_reduction(L, c, RED_MEAN); }
static Node *fn_max(Lower *L, const AstNode *c, const char *n) { return (void)n, lower_reduction(L, c, RED_MAX); }
static Node *fn_min(Lower *L, const AstNode *c, const char *n) { return (void)n, lower_reduction(L, c, RED_MIN); }

static Node *fn_dot(Lower *L, const AstNode *call, const char *n) {
  (void)n;
  static const char *const spec[] = {"a", "b"};
  const AstNode *a[MAX_ARGS];
  if (!lower_bind_args(L, call, spec, 2, 2, a))
    return NULL;
  Node *x = lower_expr(L, lower_arg_value(a[0])), *y = lower_expr(L, lower_arg_value(a[1]));
  L->g->loc = call->loc;
  return lower_dot(L->g, x, y);
}

/* the transpose of the last two axes */
Node *lower_transpose(Lower *L, Node *x) {
  if (!x)
    return NULL;
  if (x->shape.rank < 2) {
    char sh[64];
    diag_error(L->diag, L->g->loc, "transpose needs at least two axes, but this has shape %s",
               shape_str(&x->shape, sh, sizeof sh));
    return NULL;
  }
  return g_transpose(L->g, x);
}

static Node *fn_transpose(Lower *L, const AstNode *call, const char *n) {
  (void)n;
  return lower_transpose(L, lower_single_arg(L, call));
}

static Node *fn_dense(Lower *L, const AstNode *c, const char *let) { return lower_dense(L, c, let); }

/* Functions other than the activations, losses and regularisers of lower_sugar.c's tables. */
static const LowerFunction functions[] = {
  {"dense", fn_dense}, {"dropout", lower_dropout}, {"exp", fn_exp}, {"log", fn_log},
  {"sqrt", fn_sqrt}, {"abs", fn_abs}, {"sum", fn_sum}, {"mean", fn_mean}, {"max", fn_max},
  {"min", fn_min}, {"dot", fn_dot}, {"transpose", fn_transpose}, {NULL, NULL},
};
static const LowerFunction *const function_tables[] = {functions, lower_image_functions,
                                                      lower_norm_functions};
enum { NTABLES = sizeof function_tables / sizeof *function_tables };

static const LowerFunction *find_function(const char *name) {
  for (int t = 0; t < NTABLES; t++)
    for (const LowerFunction *f = function_tables[t]; f->name; f++)
      if (!strcmp(f->name, name))
        return f;
  return NULL;
}

static void unknown_function(Lower *L, const AstNode *call) {
  int nact = lower_activation_count(), nloss = lower_loss_count();
  int nreg = lower_regulariser_count(), nfun = 0;
  for (int t = 0; t < NTABLES; t++)
    for (const LowerFunction *f = function_tables[t]; f->name; f++)
      nfun++;
  const char **names = ARENA_ARRAY(L->g->arena, const char *, nfun + nact + nloss + nreg);
  int n = 0;
  for (int t = 0; t < NTABLES; t++)
    for (const LowerFunction *f = function_tables[t]; f->name; f++)
      names[n++] = f->name;
  for (int i = 0; i < nact; i++)
    names[n++] = lower_activation_name(i);
  for (int i = 0; i < nloss; i++)
    names[n++] = lower_loss_name(i);
  for (int i = 0; i < nreg; i++)
    names[n++] = lower_regulariser_name(i);
  diag_error(L->diag, call->u.call.name_loc, "unknown function '%s'", call->u.call.name);
  const char *foreign = foreign_hint(FOREIGN_FUNCTION, call->u.call.name);
  const char *best = diag_suggest(call->u.call.name, names, n);
  if (foreign)
    diag_hint(L->diag, "%s", foreign);
  else if (best)
    diag_hint(L->diag, "did you mean '%s'?", best);
}

Node *lower_call(Lower *L, const AstNode *call, const char *let_name) {
  const char *name = call->u.call.name;
  const LowerFunction *f = find_function(name);
  if (f)
    return f->lower(L, call, let_name);
  const struct Activation *act = lower_find_activation(name);
  if (act)
    return lower_activation_call(L, call, act);
  const struct Loss *loss = lower_find_loss(name);
  if (loss)
    return lower_loss_call(L, call, loss);
  for (int i = 0; i < lower_regulariser_count(); i++)
    if (!strcmp(lower_regulariser_name(i), name))
      return lower_regulariser(L, call, i);
  unknown_function(L, call);
  return NULL;
}


/* lower_norm: batch_norm and layer_norm as sugar over SUM, RESHAPE and the elementwise ops, so
 * that their backward pass (batch norm's three-term gradient) is what the rules of those derive.
 * Contract: like lower_call.c's functions, through lower_norm_functions. Batch norm keeps its
 * running statistics in buffers (g_buffer) that the training step moves towards the batch's,
 * and reads them instead of the batch's where g_training is 0 (evaluate, predict). */
#include "lower_internal.h"

#include <math.h>

/* The named layer's eps (> 0) and, for batch norm, momentum (in [0, 1]). */
static bool norm_args(Lower *L, const AstNode *call, const char *layer, const AstNode *mom,
                      const AstNode *eps_a, double *momentum, double *eps) {
  if (!layer) {
    diag_error(L->diag, call->loc, "a %s layer needs a name for its parameters",
               call->u.call.name);
    diag_hint(L->diag, "write it as its own line: n1 = %s(...)", call->u.call.name);
    return false;
  }
  if (!lower_number_arg(L, call, mom, "momentum", momentum) ||
      !lower_number_arg(L, call, eps_a, "eps", eps))
    return false;
  if (mom && !(*momentum > 0 && *momentum <= 1)) {
    diag_error(L->diag, lower_arg_value(mom)->loc, "the momentum of %s is in (0, 1], got %g",
               call->u.call.name, *momentum);
    diag_hint(L->diag, "it is the weight of the new batch, as in PyTorch: running = (1 − "
              "momentum)·running + momentum·batch");
    return false;
  }
  if (!(*eps > 0)) {
    diag_error(L->diag, lower_arg_value(eps_a)->loc, "the eps of %s must be positive",
               call->u.call.name);
    return false;
  }
  return true;
}

/* (x − μ) / √(σ² + ε) */
static Node *normalise(Graph *g, Node *x, Node *mean, Node *var, double eps) {
  return g_div(g, g_sub(g, x, mean), g_sqrt(g, g_add(g, var, g_const(g, eps))));
}

/* The learnable scale γ (ones) and shift β (zeros) of shape s, applied to x̂ read in shape
 * `as` (s itself, or s with size-1 axes where they broadcast against x̂). */
static Node *scale_shift(Lower *L, const char *layer, Node *xhat, Shape s, Shape as) {
  Graph *g = L->g;
  Node *gamma = lower_declare_param(L, arena_printf(g->arena, "%s.gamma", layer), s,
                                    (ParamInit){INIT_ONES, 0, 0, NULL});
  Node *beta = lower_declare_param(L, arena_printf(g->arena, "%s.beta", layer), s,
                                   (ParamInit){INIT_ZEROS, 0, 0, NULL});
  return g_add(g, g_mul(g, g_reshape(g, gamma, as), xhat), g_reshape(g, beta, as));
}

/* The running statistic `name` of shape s, following `batch` (read in shape `as`); returns
 * what the layer uses: the batch's value in training, the running one otherwise. */
static Node *running(Lower *L, const char *name, Shape s, Shape as, Node *batch, Node *follow,
                     double momentum, ParamInit init) {
  Graph *g = L->g;
  Node *buf = g_buffer(g, name, s, init, g_reshape(g, follow, s), momentum);
  Node *r = g_reshape(g, buf, as);
  return g_add(g, r, g_mul(g, g_training(g), g_sub(g, batch, r)));
}

/* batch_norm(x, momentum = 0.1, eps = 1e-5): per channel of images [N, C, H, W] (statistics over
 * N, H, W) or per feature of rows [N, C] (over N): γ (x − μ) / √(σ² + ε) + β. In training μ and
 * σ² are the batch's (σ² biased) and the running mean and variance (unbiased, as PyTorch) move
 * towards them by the momentum; in evaluate and predict the running ones are used. */
static Node *fn_batch_norm(Lower *L, const AstNode *call, const char *layer) {
  Graph *g = L->g;
  static const char *const spec[] = {"x", "momentum", "eps|epsilon"};
  const AstNode *a[MAX_ARGS];
  double momentum = 0.1, eps = 1e-5;
  if (!lower_bind_args(L, call, spec, 3, 1, a) ||
      !norm_args(L, call, layer, a[1], a[2], &momentum, &eps))
    return NULL;
  const AstNode *xa = lower_arg_value(a[0]);
  Node *x = lower_expr(L, xa);
  if (!x)
    return NULL;
  char sh[64];
  if (x->shape.rank < 2 || !shape_has_batch(&x->shape)) {
    diag_error(L->diag, xa->loc, "batch_norm needs rows [N, C] or images [N, C, H, W]; this has "
               "shape %s", shape_str(&x->shape, sh, sizeof sh));
    return NULL;
  }
  if (L->m->train.present && L->m->train.batch == 1) {
    diag_error(L->diag, call->loc, "batch_norm needs batches of more than one row, but the "
               "training batch is 1");
    diag_hint(L->diag, "the statistics of a single row have no spread; use layer_norm, or a "
              "larger batch");
    return NULL;
  }
  uint32_t axes = lower_all_axes(x) & ~(1u << 1);
  Shape s = {1, {x->shape.dim[1]}}, as = x->shape;
  int64_t count = 1; /* elements per channel per row */
  for (int i = 0; i < as.rank; i++)
    if (i != 1) {
      count *= i ? as.dim[i] : 1;
      as.dim[i] = 1;
    }
  g->loc = call->loc;
  Node *mean = lower_mean_axes(g, x, axes | AXES_KEEP);
  Node *var = lower_mean_axes(g, g_powc(g, g_sub(g, x, mean), 2), axes | AXES_KEEP);
  /* the unbiased variance: m / (m − 1) times, m the elements per channel (1 when m is 1) */
  Node *m = g_mul(g, g_batch(g), g_const(g, (double)count));
  Node *unbiased = g_div(g, g_mul(g, var, m), g_max(g, g_sub(g, m, g_const(g, 1)), g_const(g, 1)));
  Node *mu = running(L, arena_printf(g->arena, "%s.running_mean", layer), s, as, mean, mean,
                     momentum, (ParamInit){INIT_ZEROS, 0, 0, NULL});
  Node *sigma2 = running(L, arena_printf(g->arena, "%s.running_var", layer), s, as, var, unbiased,
                         momentum, (ParamInit){INIT_ONES, 0, 0, NULL});
  return scale_shift(L, layer, normalise(g, x, mu, sigma2, eps), s, as);
}

/* layer_norm(x, eps = 1e-5): each example normalised over all its values, then scaled and
 * shifted per value: γ (x − μ) / √(σ² + ε) + β, γ and β of one example's shape */
static Node *fn_layer_norm(Lower *L, const AstNode *call, const char *layer) {
  Graph *g = L->g;
  static const char *const spec[] = {"x", "eps|epsilon"};
  const AstNode *a[MAX_ARGS];
  double momentum = 0, eps = 1e-5;
  if (!lower_bind_args(L, call, spec, 2, 1, a) ||
      !norm_args(L, call, layer, NULL, a[1], &momentum, &eps))
    return NULL;
  const AstNode *xa = lower_arg_value(a[0]);
  Node *x = lower_expr(L, xa);
  if (!x)
    return NULL;
  if (x->shape.rank < 2 || !shape_has_batch(&x->shape)) {
    char sh[64];
    diag_error(L->diag, xa->loc, "layer_norm needs examples with the batch axis N in front, "
               "[N, ...]; this has shape %s", shape_str(&x->shape, sh, sizeof sh));
    return NULL;
  }
  uint32_t axes = (lower_all_axes(x) & ~1u) | AXES_KEEP;
  Shape s = x->shape;
  for (int i = 0; i + 1 < s.rank; i++)
    s.dim[i] = s.dim[i + 1];
  s.rank--;
  g->loc = call->loc;
  Node *mean = lower_mean_axes(g, x, axes);
  Node *var = lower_mean_axes(g, g_powc(g, g_sub(g, x, mean), 2), axes);
  return scale_shift(L, layer, normalise(g, x, mean, var, eps), s, s);
}

const LowerFunction lower_norm_functions[] = {
  {"batch_norm", fn_batch_norm}, {"layer_norm", fn_layer_norm}, {NULL, NULL},
};

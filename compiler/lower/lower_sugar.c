/* lower_sugar: the tables of activations, losses and regularisers, each entry built from
 * primitives with the g_* builders, and the metric the losses imply. Contract: adding an entry
 * to a table is all a new one takes; lower.h's accessors list the tables for tests; stable forms
 * (log-softmax, the with-logits binary cross-entropy) replace the naive ones where they apply. */
#include "lower_internal.h"

#include <string.h>

#include "nnrt.h"

/* --- sugar built from primitives: helpers --- */

static Node *k_(Graph *g, double k) { return g_const(g, k); }

/* min(a, b) = −max(−a, −b) */
Node *lower_min2(Graph *g, Node *a, Node *b) {
  return g_neg(g, g_max(g, g_neg(g, a), g_neg(g, b)));
}

uint32_t lower_all_axes(const Node *x) { return (1u << x->shape.rank) - 1; }
static uint32_t last_axis(const Node *x) { return 1u << (x->shape.rank - 1); }

/* Σx / (number of the summed elements), the batch axis counted at run time as N. */
Node *lower_mean_axes(Graph *g, Node *x, uint32_t axes) {
  if (!x)
    return NULL;
  Shape s = x->shape;
  int64_t count = 1;
  bool batch = false;
  for (int i = 0; i < s.rank; i++)
    if (axes & (1u << i)) {
      if (s.dim[i] == DIM_BATCH)
        batch = true;
      else
        count *= s.dim[i];
    }
  Node *m = g_sum(g, x, axes);
  if (count != 1)
    m = g_mul(g, k_(g, 1.0 / (double)count), m);
  return batch ? g_div(g, m, g_batch(g)) : m;
}

static Node *mean_all(Graph *g, Node *x) {
  return x ? lower_mean_axes(g, x, lower_all_axes(x)) : NULL;
}

/* a · b = Σ over the last axis of a ⊙ b */
Node *lower_dot(Graph *g, Node *a, Node *b) {
  Node *p = g_mul(g, a, b);
  if (!p)
    return NULL;
  if (p->shape.rank == 0)
    return p;
  return g_sum(g, p, last_axis(p));
}

static bool needs_axis(Lower *L, Node *x, const char *what) {
  if (!x || x->shape.rank > 0)
    return x != NULL;
  diag_error(L->diag, L->g->loc, "%s needs a tensor with at least one axis, but this is a scalar",
             what);
  return false;
}

/* --- activations --- */

static Node *act_identity(Lower *L, Node *x, double k) { return (void)L, (void)k, x; }
static Node *act_relu(Lower *L, Node *x, double k) {
  (void)k;
  return g_max(L->g, x, k_(L->g, 0));
}
static Node *act_sigmoid(Lower *L, Node *x, double k) { return (void)k, g_sigmoid(L->g, x); }
static Node *act_tanh(Lower *L, Node *x, double k) { return (void)k, g_tanh(L->g, x); }

/* max(x, αx) for α ≤ 1; min(x, αx) for α > 1 */
static Node *act_leaky_relu(Lower *L, Node *x, double alpha) {
  Graph *g = L->g;
  Node *ax = g_mul(g, k_(g, alpha), x);
  return alpha <= 1 ? g_max(g, x, ax) : lower_min2(g, x, ax);
}

/* [x > 0] x + [x ≤ 0] α(exp(x) − 1), written without masks as max(x, 0) + α(exp(min(x, 0)) − 1):
 * exp only ever sees x ≤ 0, so it cannot overflow. */
static Node *act_elu(Lower *L, Node *x, double alpha) {
  Graph *g = L->g;
  Node *zero = k_(g, 0);
  Node *neg = g_sub(g, g_exp(g, lower_min2(g, x, zero)), k_(g, 1));
  return g_add(g, g_max(g, x, zero), g_mul(g, k_(g, alpha), neg));
}

/* the tanh approximation: 0.5 x (1 + tanh(√(2/π) (x + 0.044715 x³))) */
static Node *act_gelu(Lower *L, Node *x, double k) {
  (void)k;
  Graph *g = L->g;
  Node *inner = g_add(g, x, g_mul(g, k_(g, 0.044715), g_powc(g, x, 3)));
  Node *t = g_tanh(g, g_mul(g, k_(g, 0.7978845608028654) /* √(2/π) */, inner));
  return g_mul(g, g_mul(g, k_(g, 0.5), x), g_add(g, k_(g, 1), t));
}

/* x σ(x) */
static Node *act_silu(Lower *L, Node *x, double k) {
  (void)k;
  return g_mul(L->g, x, g_sigmoid(L->g, x));
}

/* log(1 + exp(x)) = max(x, 0) + log1p(exp(−|x|)): exp never overflows, the tail stays exact */
static Node *act_softplus(Lower *L, Node *x, double k) {
  (void)k;
  Graph *g = L->g;
  Node *tail = g_log1p(g, g_exp(g, g_neg(g, g_abs(g, x))));
  return g_add(g, g_max(g, x, k_(g, 0)), tail);
}

/* x − max(x) over the last axis (kept as size 1, so it broadcasts back) */
static Node *shifted(Graph *g, Node *x) {
  return g_sub(g, x, g_maxr(g, x, last_axis(x) | AXES_KEEP));
}

/* exp(x − max x) / Σ exp(x − max x) over the last axis */
static Node *act_softmax(Lower *L, Node *x, double k) {
  (void)k;
  Graph *g = L->g;
  if (!needs_axis(L, x, "softmax"))
    return NULL;
  Node *e = g_exp(g, shifted(g, x));
  Node *p = g_div(g, e, g_sum(g, e, last_axis(x) | AXES_KEEP));
  if (p) {
    if (L->nsoftmax == L->softmax_cap) {
      L->softmax_cap = L->softmax_cap ? 2 * L->softmax_cap : 8;
      SoftmaxOf *s = ARENA_ARRAY(g->arena, SoftmaxOf, L->softmax_cap);
      if (L->softmax)
        memcpy(s, L->softmax, sizeof *s * (size_t)L->nsoftmax);
      L->softmax = s;
    }
    L->softmax[L->nsoftmax++] = (SoftmaxOf){p, x};
  }
  return p;
}

/* (x − max x) − log Σ exp(x − max x) over the last axis */
static Node *act_log_softmax(Lower *L, Node *x, double k) {
  (void)k;
  Graph *g = L->g;
  if (!needs_axis(L, x, "log_softmax"))
    return NULL;
  Node *s = shifted(g, x);
  Node *ls = g_sub(g, s, g_log(g, g_sum(g, g_exp(g, s), last_axis(x) | AXES_KEEP)));
  g_tag(ls, PROV_LOG_SOFTMAX, x, 0);
  return ls;
}

/* Activations: usable as f(x), f(x, param = k), and as dense's activation (f or
 * f(param = k)). Adding one is one entry here (and tests/unit/test_sugar.c checks it). */
const struct Activation lower_activations[] = {
  {"identity", NULL, 0, act_identity, false},
  {"relu", NULL, 0, act_relu, false},
  {"leaky_relu", "alpha", 0.01, act_leaky_relu, false},
  {"elu", "alpha", 1, act_elu, false},
  {"gelu", NULL, 0, act_gelu, false},
  {"silu", NULL, 0, act_silu, false},
  {"softplus", NULL, 0, act_softplus, false},
  {"sigmoid", NULL, 0, act_sigmoid, true},
  {"tanh", NULL, 0, act_tanh, false},
  {"softmax", NULL, 0, act_softmax, true},
  {"log_softmax", NULL, 0, act_log_softmax, false},
};
enum { NACT = sizeof lower_activations / sizeof *lower_activations };

const struct Activation *lower_find_activation(const char *name) {
  for (int i = 0; i < NACT; i++)
    if (!strcmp(lower_activations[i].name, name))
      return &lower_activations[i];
  return NULL;
}

int lower_activation_count(void) { return NACT; }
const char *lower_activation_name(int i) { return lower_activations[i].name; }
const char *lower_activation_param(int i) { return lower_activations[i].param; }

/* f(x) or f(x, alpha = k) */
Node *lower_activation_call(Lower *L, const AstNode *call, const struct Activation *act) {
  const char *spec[2] = {"x", act->param};
  const AstNode *a[MAX_ARGS];
  int np = act->param ? 2 : 1;
  double k = act->def;
  if (!lower_bind_args(L, call, spec, np, 1, a) || !lower_number_arg(L, call, a[1], act->param, &k))
    return NULL;
  Node *x = lower_expr(L, lower_arg_value(a[0]));
  L->g->loc = call->loc;
  return lower_apply_activation(L, act, x, k);
}

Node *lower_apply_activation(Lower *L, const struct Activation *act, Node *x, double k) {
  if (!x)
    return NULL;
  /* a constant (sigmoid(0)) is a number, not a probability computed by the model */
  Interval r = act->to_probability ? lower_range(L->g, x) : (Interval){0, 0};
  if (r.lo >= 0 && r.hi <= 1 && r.lo < r.hi) {
    diag_warning(L->diag, L->g->loc,
                 "%s of a value that is already a probability: is %s applied twice?", act->name,
                 act->name);
    diag_hint(L->diag, "%s squashes probabilities towards %s; apply it once, to the logits",
              act->name, act->build == act_softmax ? "the uniform distribution" : "0.5 to 0.73");
  }
  return act->build(L, x, k);
}

static void unknown_activation(Lower *L, const AstNode *where, const char *name) {
  diag_error(L->diag, where->loc, "unknown activation '%s'", name);
  const char *names[NACT];
  for (int i = 0; i < NACT; i++)
    names[i] = lower_activations[i].name;
  const char *best = diag_suggest(name, names, NACT);
  if (best)
    diag_hint(L->diag, "did you mean '%s'?", best);
}

/* A layer's activation argument: a name (relu) or a call naming the parameter
 * (leaky_relu(alpha = 0.2)). */
bool lower_activation_spec(Lower *L, const AstNode *layer, const AstNode *v,
                           const struct Activation **act, double *k) {
  if (v->kind == AST_NAME) {
    if (!(*act = lower_find_activation(v->u.name.name))) {
      unknown_activation(L, v, v->u.name.name);
      return false;
    }
    *k = (*act)->def;
    return true;
  }
  if (v->kind == AST_STRING) { /* Keras's activation = "relu" */
    diag_error(L->diag, v->loc, "the activation of %s is a name, not a string",
               layer->u.call.name);
    diag_hint(L->diag, "write it without quotes: %s(..., act = %s)", layer->u.call.name,
              lower_find_activation(v->u.str.value) ? v->u.str.value : "relu");
    return false;
  }
  if (v->kind != AST_CALL) {
    diag_error(L->diag, v->loc, "the activation of %s must be a name such as relu",
               layer->u.call.name);
    return false;
  }
  if (!(*act = lower_find_activation(v->u.call.name))) {
    unknown_activation(L, v, v->u.call.name);
    return false;
  }
  *k = (*act)->def;
  for (const AstNode *a = v->u.call.args; a; a = a->next)
    if (a->kind != AST_KWARG) {
      if ((*act)->param)
        diag_error(L->diag, a->loc, "write the parameter of %s by name, e.g. %s(%s = %g)",
                   (*act)->name, (*act)->name, (*act)->param, (*act)->def);
      else
        diag_error(L->diag, a->loc, "%s takes no parameters here; write just %s", (*act)->name,
                   (*act)->name);
      return false;
    }
  const AstNode *a[MAX_ARGS];
  const char *spec[1] = {(*act)->param ? (*act)->param : ""};
  return lower_bind_args(L, v, spec, (*act)->param ? 1 : 0, 0, a) &&
         lower_number_arg(L, v, a[0], (*act)->param, k);
}

/* --- losses --- */

typedef Node *LossBuild(Lower *L, Node *p, Node *y, double k);

/* mean((p − y)²) */
static Node *loss_mse(Lower *L, Node *p, Node *y, double k) {
  (void)k;
  return mean_all(L->g, g_powc(L->g, g_sub(L->g, p, y), 2));
}

/* mean(|p − y|) */
static Node *loss_mae(Lower *L, Node *p, Node *y, double k) {
  (void)k;
  return mean_all(L->g, g_abs(L->g, g_sub(L->g, p, y)));
}

/* with a = |p − y| and q = min(a, δ): 0.5 q² + δ (a − q), which is 0.5 a² where a ≤ δ and
 * δ(a − 0.5δ) elsewhere, without masks */
static Node *loss_huber(Lower *L, Node *p, Node *y, double delta) {
  Graph *g = L->g;
  Node *a = g_abs(g, g_sub(g, p, y)), *d = k_(g, delta);
  Node *q = lower_min2(g, a, d);
  Node *h = g_add(g, g_mul(g, k_(g, 0.5), g_powc(g, q, 2)), g_mul(g, d, g_sub(g, a, q)));
  return mean_all(g, h);
}

static const double BCE_EPS = 1e-7;

/* mean(−(y log p + (1 − y) log(1 − p))) with p clipped to [ε, 1 − ε] */
static Node *loss_bce(Lower *L, Node *p, Node *y, double k) {
  (void)k;
  Graph *g = L->g;
  Node *one = k_(g, 1);
  Node *pc = lower_min2(g, g_max(g, p, k_(g, BCE_EPS)), k_(g, 1 - BCE_EPS));
  Node *t = g_add(g, g_mul(g, y, g_log(g, pc)),
                  g_mul(g, g_sub(g, one, y), g_log(g, g_sub(g, one, pc))));
  return mean_all(g, g_neg(g, t));
}

/* mean(max(z, 0) − z y + log1p(exp(−|z|))) */
static Node *loss_bce_logits(Lower *L, Node *z, Node *y, double k) {
  (void)k;
  Graph *g = L->g;
  Node *tail = g_log1p(g, g_exp(g, g_neg(g, g_abs(g, z))));
  Node *head = g_sub(g, g_max(g, z, k_(g, 0)), g_mul(g, z, y));
  g_tag(head, PROV_BCE_LOGITS, z, 0);
  return mean_all(g, g_add(g, head, tail));
}

/* −Σ y ⊙ log p over the last axis, averaged over the rows */
static Node *loss_nll(Lower *L, Node *logp, Node *y, double k) {
  (void)k;
  Graph *g = L->g;
  Node *prod = g_mul(g, y, logp);
  if (logp && logp->prov.kind == PROV_LOG_SOFTMAX)
    g_tag(prod, PROV_SOFTMAX_CE, logp, 0);
  return prod ? g_neg(g, mean_all(g, g_sum(g, prod, last_axis(prod)))) : NULL;
}

/* the same with log p, p clipped below at ε so that log never sees 0 */
static Node *loss_cross_entropy(Lower *L, Node *p, Node *y, double k) {
  return loss_nll(L, g_log(L->g, g_max(L->g, p, k_(L->g, BCE_EPS))), y, k);
}

/* −Σ y ⊙ log_softmax(z): cross_entropy(softmax(z), y) written on the logits, as PyTorch's
 * CrossEntropyLoss takes them */
static Node *loss_cross_entropy_logits(Lower *L, Node *z, Node *y, double k) {
  return loss_nll(L, act_log_softmax(L, z, 0), y, k);
}

typedef enum { LOSS_PLAIN, LOSS_BINARY, LOSS_BINARY_LOGITS, LOSS_CLASS } LossFamily;

/* Losses: each averages over the batch (and over the elements of a row, as Keras does, except
 * the class losses, which sum over the last axis and average over the rows). A loss that takes
 * probabilities names the activation that makes them from logits and its form on the logits:
 * a prediction not known to be a probability (lower_range.c) is an error that offers both, and
 * loss(squash(z), y) is computed as the logits form, stably. */
static const struct Loss {
  const char *name;
  const char *param;
  double def;
  bool classes; /* accepts class targets (one-hot rows) as well as real-valued ones */
  LossFamily family;
  LossBuild *build;
  const char *squash, *logits_form; /* for a loss of probabilities; else NULL */
} losses[] = {
  {"mse", NULL, 0, false, LOSS_PLAIN, loss_mse, NULL, NULL},
  {"mae", NULL, 0, false, LOSS_PLAIN, loss_mae, NULL, NULL},
  {"l1_loss", NULL, 0, false, LOSS_PLAIN, loss_mae, NULL, NULL},
  {"huber", "delta", 1, false, LOSS_PLAIN, loss_huber, NULL, NULL},
  {"binary_cross_entropy", NULL, 0, false, LOSS_BINARY, loss_bce, "sigmoid",
   "binary_cross_entropy_with_logits"},
  {"binary_cross_entropy_with_logits", NULL, 0, false, LOSS_BINARY_LOGITS, loss_bce_logits, NULL,
   NULL},
  {"cross_entropy", NULL, 0, true, LOSS_CLASS, loss_cross_entropy, "softmax",
   "cross_entropy_with_logits"},
  {"cross_entropy_with_logits", NULL, 0, true, LOSS_CLASS, loss_cross_entropy_logits, NULL, NULL},
  {"nll", NULL, 0, true, LOSS_CLASS, loss_nll, NULL, NULL},
};
enum { NLOSS = sizeof losses / sizeof *losses };

int lower_loss_count(void) { return NLOSS; }
const char *lower_loss_name(int i) { return losses[i].name; }
bool lower_loss_accepts_classes(int i) { return losses[i].classes; }

const struct Loss *lower_find_loss(const char *name) {
  for (int i = 0; i < NLOSS; i++)
    if (!strcmp(losses[i].name, name))
      return &losses[i];
  return NULL;
}

/* The text the user wrote for e. */
static const char *source_text(Lower *L, const AstNode *e) {
  return arena_strndup(L->g->arena, L->diag->src->text + e->loc.off, e->loc.len);
}

/* The prediction of a loss that is not symmetric in its arguments must not be the target (the
 * arguments swapped), and one of probabilities must be a probability. pa and ya are the
 * arguments as written, p the prediction lowered. */
static bool check_prediction(Lower *L, const struct Loss *loss, const AstNode *pa,
                             const AstNode *ya, Node *p) {
  Graph *g = L->g;
  const char *pt = source_text(L, pa), *yt = source_text(L, ya);
  if (loss->family != LOSS_PLAIN && g->target && lower_depends_on(g, p, g->target)) {
    diag_error(L->diag, pa->loc,
               "the first argument of %s is the prediction, but this depends on target '%s'",
               loss->name, g->target->name);
    diag_hint(L->diag, "the prediction comes first: did you mean %s(%s, %s)?", loss->name, yt, pt);
    return false;
  }
  if (!loss->squash || lower_is_probability(g, p))
    return true;
  diag_error(L->diag, pa->loc, "%s expects probabilities, but '%s' is not known to lie in [0, 1]",
             loss->name, pt);
  diag_hint(L->diag, "did you mean %s(%s(%s), %s)? On logits, write %s(%s, %s)", loss->name,
            loss->squash, pt, yt, loss->logits_form, pt, yt);
  return false;
}

Node *lower_loss_call(Lower *L, const AstNode *call, const struct Loss *loss) {
  Graph *g = L->g;
  const char *spec[3] = {"pred|prediction", "target", loss->param};
  const AstNode *a[MAX_ARGS];
  double k = loss->def;
  if (!lower_bind_args(L, call, spec, loss->param ? 3 : 2, 2, a) ||
      !lower_number_arg(L, call, a[2], loss->param, &k))
    return NULL;
  if (loss->param && !(k > 0)) {
    diag_error(L->diag, lower_arg_value(a[2])->loc, "the %s of %s must be positive", loss->param,
               loss->name);
    return NULL;
  }
  const AstNode *pa = lower_arg_value(a[0]), *ya = lower_arg_value(a[1]);
  /* cross_entropy(softmax(z), y) is lowered as nll(log_softmax(z), y); likewise
   * binary_cross_entropy(sigmoid(z), y) as the with-logits form: the same value, stably. */
  const AstNode *logits_ast = loss->squash ? lower_single_arg_of(pa, loss->squash) : NULL;
  Node *p = lower_expr(L, logits_ast ? logits_ast : pa);
  Node *y = lower_expr(L, ya);
  if (!p || !y)
    return NULL;
  g->loc = call->loc;
  char sp[64], sy[64];
  if (y == L->class_target && !loss->classes) {
    diag_error(L->diag, call->loc, "%s needs real-valued targets, but '%s' holds class labels",
               loss->name, y->name);
    diag_hint(L->diag, "use cross_entropy(softmax(logits), %s)", y->name);
    return NULL;
  }
  if (!shape_eq(&p->shape, &y->shape)) {
    diag_error(L->diag, call->loc,
               "%s needs a prediction and a target of the same shape, but they are %s and %s",
               loss->name, shape_str(&p->shape, sp, sizeof sp), shape_str(&y->shape, sy, sizeof sy));
    return NULL;
  }
  if (loss->family == LOSS_CLASS &&
      (p->shape.rank == 0 || (p->shape.rank == 1 && shape_has_batch(&p->shape)))) {
    diag_error(L->diag, call->loc, "%s needs rows of class scores, [N, K], but this has shape %s",
               loss->name, shape_str(&p->shape, sp, sizeof sp));
    return NULL;
  }
  if (!logits_ast && !check_prediction(L, loss, pa, ya, p))
    return NULL;
  if (loss->family == LOSS_CLASS)
    L->class_loss = true;
  if (loss->family == LOSS_BINARY || loss->family == LOSS_BINARY_LOGITS)
    L->binary_loss = true;
  if (loss->family == LOSS_BINARY && !logits_ast)
    L->binary_probs = p;
  if (logits_ast && loss->family == LOSS_BINARY)
    return loss_bce_logits(L, p, y, k);
  if (logits_ast)
    return loss_cross_entropy_logits(L, p, y, k);
  if (loss->build == loss_cross_entropy)
    for (int i = 0; i < L->nsoftmax; i++)
      if (L->softmax[i].probs == p)
        return loss_cross_entropy_logits(L, L->softmax[i].logits, y, k);
  if (loss->family == LOSS_BINARY && p->op == OP_SIGMOID)
    return loss_bce_logits(L, p->src[0], y, k);
  return loss->build(L, p, y, k);
}

/* --- regularisers --- */

/* Σ|W| */
static Node *reg_l1(Graph *g, Node *x) { return g_sum(g, g_abs(g, x), lower_all_axes(x)); }
/* Σ W² */
static Node *reg_l2(Graph *g, Node *x) { return g_sum(g, g_powc(g, x, 2), lower_all_axes(x)); }

static const struct Regulariser {
  const char *name;
  Node *(*build)(Graph *g, Node *x);
} regularisers[] = {
  {"l1", reg_l1},
  {"l2", reg_l2},
};
enum { NREG = sizeof regularisers / sizeof *regularisers };

int lower_regulariser_count(void) { return NREG; }
const char *lower_regulariser_name(int i) { return regularisers[i].name; }

/* regularisers[i](x) */
Node *lower_regulariser(Lower *L, const AstNode *call, int i) {
  Node *x = lower_single_arg(L, call);
  return x ? regularisers[i].build(L->g, x) : NULL;
}

/* How the runtime scores predictions: argmax accuracy for class targets and the class losses;
 * thresholded (> 0.5) accuracy for the binary losses, but only when the output is a
 * probability (a sigmoid, or what binary_cross_entropy was given); otherwise none. */
int lower_choose_metric(const Lower *L) {
  const Graph *g = L->g;
  if (L->m->n_classes > 0 || L->class_loss)
    return NNRT_METRIC_ARGMAX;
  if (L->binary_loss && g->output &&
      (g->output->op == OP_SIGMOID || (L->binary_probs && g->output == L->binary_probs)))
    return NNRT_METRIC_BINARY;
  return NNRT_METRIC_NONE;
}


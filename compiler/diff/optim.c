#include "optim.h"

#include <math.h>

typedef struct {
  Graph *g;
  const OptimizerSettings *o;
  Node *p, *grad; /* the parameter and its gradient */
} Rule;

static Node *k(Graph *g, double v) { return g_const(g, v); }

/* a·x + b·y, the blend every moving average is */
static Node *blend(Graph *g, double a, Node *x, double b, Node *y) {
  return g_add(g, g_mul(g, k(g, a), x), g_mul(g, k(g, b), y));
}

/* The optimizer's state i of its row in optimizers.def, named after its parameter ("W1.m"). */
static Node *new_state(Rule *r, int i) {
  Graph *g = r->g;
  const char *suffix = optimizer_info(r->o->kind)->states[i].suffix;
  Node *s = g_state(g, arena_printf(g->arena, "%s.%s", r->p->name, suffix), r->p->shape);
  g_tag(s, PROV_STATE, r->p, i);
  return s;
}

static void set_update(Graph *g, Node *leaf, Node *value) {
  ParamSlot *s = graph_slot(g, leaf);
  s->update = value;
  if (value)
    value->flags |= NODE_UPDATE;
}

/* p − η·step */
static Node *descend(Rule *r, Node *step) {
  return g_sub(r->g, r->p, g_mul(r->g, r->g->lr, step));
}

/* SGD: g ← ∂L/∂p + λp; with momentum μ: v ← μv + g, step = v (Nesterov: g + μv) */
static Node *sgd(Rule *r) {
  Graph *g = r->g;
  Node *grad = r->grad;
  if (r->o->weight_decay > 0)
    grad = g_add(g, grad, g_mul(g, k(g, r->o->weight_decay), r->p));
  if (r->o->momentum <= 0)
    return descend(r, grad);
  Node *v = new_state(r, 0);
  Node *v2 = g_add(g, g_mul(g, k(g, r->o->momentum), v), grad);
  set_update(g, v, v2);
  return descend(r, r->o->nesterov ? g_add(g, grad, g_mul(g, k(g, r->o->momentum), v2)) : v2);
}

/* 1 − β^t = −expm1(t ln β), since t is a run-time scalar. Not 1 − exp(t ln β): in float32
 * exp rounds β^t near 1 to a multiple of 2⁻²⁴, which 1 − β^t (1e-5 at t = 1 for β = 0.99999)
 * does not survive (a relative error of 1e-3; expm1 keeps it below 1e-6 for every t). */
Node *optim_bias_correction(Graph *g, double beta) {
  Node *x = g_mul(g, g->step, k(g, log(beta)));
  return g_neg(g, g_op(g, OP_EXPM1, &x, (OpArg){0}, NULL));
}

/* Adam: m ← β1 m + (1−β1) g, v ← β2 v + (1−β2) g², step = m̂ / (√v̂ + ε) with the bias
 * corrections m̂ = m / (1 − β1^t), v̂ = v / (1 − β2^t); AdamW adds λp to the step. */
static Node *adam(Rule *r) {
  Graph *g = r->g;
  const OptimizerSettings *o = r->o;
  Node *m = new_state(r, 0), *v = new_state(r, 1);
  Node *m2 = blend(g, o->beta1, m, 1 - o->beta1, r->grad);
  Node *v2 = blend(g, o->beta2, v, 1 - o->beta2, g_mul(g, r->grad, r->grad));
  set_update(g, m, m2);
  set_update(g, v, v2);
  Node *m_hat = g_div(g, m2, optim_bias_correction(g, o->beta1));
  Node *v_hat = g_div(g, v2, optim_bias_correction(g, o->beta2));
  g_tag(m_hat, PROV_ESTIMATE, m, 0);
  g_tag(v_hat, PROV_ESTIMATE, v, 0);
  Node *step = g_div(g, m_hat, g_add(g, g_sqrt(g, v_hat), k(g, o->eps)));
  if (o->kind == OPT_ADAMW && o->weight_decay > 0)
    step = g_add(g, step, g_mul(g, k(g, o->weight_decay), r->p));
  return descend(r, step);
}

/* RMSprop: s ← ρs + (1−ρ) g², step = g / (√s + ε); with momentum μ: b ← μb + step, step = b */
static Node *rmsprop(Rule *r) {
  Graph *g = r->g;
  const OptimizerSettings *o = r->o;
  Node *s = new_state(r, 0);
  Node *s2 = blend(g, o->rho, s, 1 - o->rho, g_mul(g, r->grad, r->grad));
  set_update(g, s, s2);
  Node *step = g_div(g, r->grad, g_add(g, g_sqrt(g, s2), k(g, o->eps)));
  if (o->momentum <= 0)
    return descend(r, step);
  Node *b = new_state(r, 1);
  Node *b2 = g_add(g, g_mul(g, k(g, o->momentum), b), step);
  set_update(g, b, b2);
  return descend(r, b2);
}

/* A running statistic b following the batch statistic s, PyTorch's convention:
 * b ← b + momentum·(s − b) = (1 − momentum)·b + momentum·s. Built after the gradient, so its
 * node comes after every node that reads the old b, and the in-place write after every kernel
 * that does (node ids are the schedule's order). */
static void buffer_rule(Graph *g, const ParamSlot *slot) {
  Node *b = slot->param;
  g->loc = b->loc;
  uint32_t first = g->n;
  Node *update = g_add(g, b, g_mul(g, k(g, slot->momentum), g_sub(g, slot->target, b)));
  /* a node of its own: an older one is a value the step reads, not b's region to overwrite */
  NNC_ASSERT(update && update->id >= first);
  set_update(g, b, update);
}

/* The update builders: a column of optimizers.def's table, indexed by the same kind. `step`:
 * the rule reads the step number t (bias corrections). */
typedef Node *OptimizerRule(Rule *r);
static const struct {
  OptimizerRule *build;
  bool step;
} rules[OPT_COUNT] = {
  [OPT_SGD] = {sgd, false},
  [OPT_ADAM] = {adam, true},
  [OPT_ADAMW] = {adam, true},
  [OPT_RMSPROP] = {rmsprop, false},
};

void optim_build(Graph *g, const OptimizerSettings *o) {
  g->lr = g_leaf(g, OP_INPUT, "η", shape_scalar(), NODE_HYPER);
  if (rules[o->kind].step)
    g_tag(g->step = g_leaf(g, OP_INPUT, "t", shape_scalar(), NODE_HYPER), PROV_STEP, NULL, 0);
  int nparams = g->nparams; /* state slots are appended behind the parameters */
  for (int i = 0; i < nparams; i++) {
    if (g->params[i].role != ROLE_PARAM || !g->params[i].grad)
      continue;
    Rule r = {g, o, g->params[i].param, g->params[i].grad};
    g->loc = r.p->loc;
    Node *update = rules[o->kind].build(&r);
    set_update(g, r.p, update);
  }
  for (int i = 0; i < nparams; i++)
    if (g->params[i].role == ROLE_BUFFER)
      buffer_rule(g, &g->params[i]);
}

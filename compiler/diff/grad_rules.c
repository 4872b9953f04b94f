/* The derivative rules, one per differentiable primitive. Each builds graph nodes from the
 * node n, its sources and its adjoint dy. Rules of binary ops skip the adjoints of sources that
 * do not depend on a parameter (need[i] false), so no dead nodes are built; adjoints that cost
 * nothing may be set anyway (the driver ignores them). The driver handles broadcasting. Rules
 * reuse forward values where the math allows (σ′ and tanh′ from the forward output). */
#include "grad.h"

/* d(−a) = −dy */
static void grad_neg(Graph *g, Node *n, Node *dy, Node *dx[], const bool need[]) {
  (void)n, (void)need;
  dx[0] = g_neg(g, dy);
}

/* d(1/a) = −dy · (1/a)² */
static void grad_recip(Graph *g, Node *n, Node *dy, Node *dx[], const bool need[]) {
  (void)need;
  dx[0] = g_neg(g, g_mul(g, dy, g_mul(g, n, n)));
}

/* d exp(a) = dy · exp(a): the forward value itself */
static void grad_exp(Graph *g, Node *n, Node *dy, Node *dx[], const bool need[]) {
  (void)need;
  dx[0] = g_mul(g, dy, n);
}

/* d (exp(a) − 1) = dy · exp(a) = dy · (expm1(a) + 1), from the forward value */
static void grad_expm1(Graph *g, Node *n, Node *dy, Node *dx[], const bool need[]) {
  (void)need;
  dx[0] = g_mul(g, dy, g_add(g, n, g_const(g, 1)));
}

/* d log(a) = dy / a */
static void grad_log(Graph *g, Node *n, Node *dy, Node *dx[], const bool need[]) {
  (void)need;
  dx[0] = g_div(g, dy, n->src[0]);
}

/* d log(1 + a) = dy / (1 + a) */
static void grad_log1p(Graph *g, Node *n, Node *dy, Node *dx[], const bool need[]) {
  (void)need;
  dx[0] = g_div(g, dy, g_add(g, g_const(g, 1), n->src[0]));
}

/* d √a = dy / (2 √a), reusing the forward √a */
static void grad_sqrt(Graph *g, Node *n, Node *dy, Node *dx[], const bool need[]) {
  (void)need;
  dx[0] = g_div(g, dy, g_mul(g, g_const(g, 2), n));
}

/* d |a| = dy · sign(a) = dy · ([a > 0] − [0 > a]) */
static void grad_abs(Graph *g, Node *n, Node *dy, Node *dx[], const bool need[]) {
  (void)need;
  Node *a = n->src[0], *zero = g_const(g, 0);
  dx[0] = g_mul(g, dy, g_sub(g, g_cmpgt(g, a, zero), g_cmpgt(g, zero, a)));
}

/* d σ(a) = dy · σ(a)(1 − σ(a)), with σ(a) reused from the forward pass */
static void grad_sigmoid(Graph *g, Node *n, Node *dy, Node *dx[], const bool need[]) {
  (void)need;
  Node *d = g_mul(g, n, g_sub(g, g_const(g, 1), n));
  g_tag(d, PROV_DERIVATIVE, n, OP_SIGMOID);
  dx[0] = g_mul(g, dy, d);
}

/* d tanh(a) = dy · (1 − tanh²(a)), with tanh(a) reused */
static void grad_tanh(Graph *g, Node *n, Node *dy, Node *dx[], const bool need[]) {
  (void)need;
  Node *d = g_sub(g, g_const(g, 1), g_mul(g, n, n));
  g_tag(d, PROV_DERIVATIVE, n, OP_TANH);
  dx[0] = g_mul(g, dy, d);
}

/* d a^k = dy · k a^(k−1) */
static void grad_powc(Graph *g, Node *n, Node *dy, Node *dx[], const bool need[]) {
  (void)need;
  double k = n->arg.k;
  dx[0] = g_mul(g, g_const(g, k), g_mul(g, dy, g_powc(g, n->src[0], k - 1)));
}

static void grad_add(Graph *g, Node *n, Node *dy, Node *dx[], const bool need[]) {
  (void)g, (void)n, (void)need;
  dx[0] = dy;
  dx[1] = dy;
}

static void grad_sub(Graph *g, Node *n, Node *dy, Node *dx[], const bool need[]) {
  (void)n;
  dx[0] = dy;
  if (need[1])
    dx[1] = g_neg(g, dy);
}

static void grad_mul(Graph *g, Node *n, Node *dy, Node *dx[], const bool need[]) {
  if (need[0])
    dx[0] = g_mul(g, dy, n->src[1]);
  if (need[1])
    dx[1] = g_mul(g, dy, n->src[0]);
}

/* d(a/b) = dy/b, −dy · (a/b) / b */
static void grad_div(Graph *g, Node *n, Node *dy, Node *dx[], const bool need[]) {
  if (need[0])
    dx[0] = g_div(g, dy, n->src[1]);
  if (need[1])
    dx[1] = g_neg(g, g_div(g, g_mul(g, dy, n), n->src[1]));
}

/* d max(a, b) = dy · [a > b], dy · [b ≥ a]: ties go to b, so relu′(0) = 0 */
static void grad_max(Graph *g, Node *n, Node *dy, Node *dx[], const bool need[]) {
  Node *a_wins = g_cmpgt(g, n->src[0], n->src[1]);
  g_tag(a_wins, PROV_DERIVATIVE, n->src[0], OP_MAX);
  if (need[0])
    dx[0] = g_mul(g, dy, a_wins);
  if (need[1])
    dx[1] = g_mul(g, dy, g_sub(g, g_const(g, 1), a_wins));
}

/* expand copies a along axes, so its adjoint sums dy back over them */
static void grad_expand(Graph *g, Node *n, Node *dy, Node *dx[], const bool need[]) {
  (void)need;
  dx[0] = g_sum(g, dy, (uint32_t)n->arg.p[PARAM_AXES]);
}

/* a permutation's adjoint is dy permuted back: axis perm[i] of dx is axis i of dy */
static void grad_permute(Graph *g, Node *n, Node *dy, Node *dx[], const bool need[]) {
  (void)need;
  int32_t inverse[NNC_MAX_RANK];
  for (int i = 0; i < n->shape.rank; i++)
    inverse[n->arg.p[i]] = i;
  dx[0] = g_permute(g, dy, inverse);
}

/* d max(a) = dy where a equals its maximum (a ≤ max everywhere, so that is ¬[max > a]) */
static void grad_maxr(Graph *g, Node *n, Node *dy, Node *dx[], const bool need[]) {
  (void)need;
  const Shape *s = &n->src[0]->shape;
  uint32_t axes = (uint32_t)n->arg.p[PARAM_AXES];
  Node *at_max = g_sub(g, g_const(g, 1), g_cmpgt(g, g_expand(g, n, axes, *s), n->src[0]));
  dx[0] = g_mul(g, g_expand(g, dy, axes, *s), at_max);
}

/* Σ a copies dy to every summed element */
static void grad_sum(Graph *g, Node *n, Node *dy, Node *dx[], const bool need[]) {
  (void)need;
  dx[0] = g_expand(g, dy, (uint32_t)n->arg.p[PARAM_AXES], n->src[0]->shape);
}

/* C = op(A) op(B) with op = identity or transpose (the node's transpose parameters):
 * d op(A) = dC op(B)ᵀ and d op(B) = op(A)ᵀ dC, transposed back where op transposed. */
static void grad_matmul(Graph *g, Node *n, Node *dy, Node *dx[], const bool need[]) {
  Node *a = n->src[0], *b = n->src[1];
  bool ta = n->arg.p[PARAM_TRANSPOSE_A], tb = n->arg.p[PARAM_TRANSPOSE_B];
  if (need[0])
    dx[0] = ta ? g_matmul(g, b, dy, tb, true) : g_matmul(g, dy, b, false, !tb);
  if (need[1])
    dx[1] = tb ? g_matmul(g, dy, a, true, ta) : g_matmul(g, a, dy, !ta, false);
}

/* a reshape's adjoint is dy in a's shape */
static void grad_reshape(Graph *g, Node *n, Node *dy, Node *dx[], const bool need[]) {
  (void)need;
  dx[0] = g_reshape(g, dy, n->src[0]->shape);
}

/* The adjoint of a window op with the same window, in the shape of the forward's source. */
static Node *window_back(Graph *g, Op op, Node *n, Node *const src[]) {
  return g_op(g, op, src, n->arg, &n->src[0]->shape);
}

/* Unfolding copies each pixel into every patch that covers it, so its adjoint sums each
 * patch's adjoint back onto the pixels (col2im). With the product by the weights, that is the
 * transposed convolution: the full correlation of δ with the flipped kernel. */
static void grad_unfold(Graph *g, Node *n, Node *dy, Node *dx[], const bool need[]) {
  (void)need;
  dx[0] = window_back(g, OP_FOLD, n, &dy);
}

/* fold is linear and unfold is its adjoint */
static void grad_fold(Graph *g, Node *n, Node *dy, Node *dx[], const bool need[]) {
  (void)need;
  dx[0] = g_op(g, OP_UNFOLD, &dy, n->arg, NULL);
}

/* d max(window) routes dy to the window's argmax (its first maximum) */
static void grad_maxpool(Graph *g, Node *n, Node *dy, Node *dx[], const bool need[]) {
  (void)need;
  dx[0] = window_back(g, OP_MAXPOOL_BACK, n, (Node *[]){n->src[0], dy});
}

/* the average spreads dy / (kh·kw) over its window */
static void grad_avgpool(Graph *g, Node *n, Node *dy, Node *dx[], const bool need[]) {
  (void)need;
  dx[0] = window_back(g, OP_AVGPOOL_BACK, n, &dy);
}

/* spreading is linear and the average over windows is its adjoint */
static void grad_avgpool_back(Graph *g, Node *n, Node *dy, Node *dx[], const bool need[]) {
  (void)need;
  dx[0] = g_op(g, OP_AVGPOOL, &dy, n->arg, NULL);
}

GradRule *const grad_rule[OP_COUNT] = {
#define NONE 0
#define OP(id, name, arity, params, kind, shape, grad, eval, lower, ident, notation) [OP_##id] = grad,
#include "ops.def"
#undef OP
#undef NONE
};

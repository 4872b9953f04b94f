#include "simplify.h"

/* Each rule: when it applies, the value it returns equals op(a, b) and has `shape`. */

static bool same_shape(const Node *n, const Shape *shape) { return n && shape_eq(&n->shape, shape); }

/* op(c1, c2) of scalar constants = the constant it evaluates to. */
static Node *fold_constants(Graph *g, Op op, Node *a, Node *b, double k) {
  if (op_info[op].kind != KIND_ELEM || op == OP_EXPAND || op == OP_RESHAPE || a->op != OP_CONST)
    return NULL;
  if (b && b->op != OP_CONST)
    return NULL;
  return g_const(g, op_eval(op, a->arg.k, b ? b->arg.k : 0, k));
}

/* x + 0 = x, 0 + x = x, x − 0 = x, 0 − x = −x */
static Node *drop_zero(Graph *g, Op op, Node *a, Node *b, const Shape *shape) {
  if ((op == OP_ADD || op == OP_SUB) && node_is_const(b, 0) && same_shape(a, shape))
    return a;
  if (op == OP_ADD && node_is_const(a, 0) && same_shape(b, shape))
    return b;
  if (op == OP_SUB && node_is_const(a, 0) && same_shape(b, shape))
    return g_neg(g, b);
  return NULL;
}

/* x · 1 = x, 1 · x = x, x / 1 = x, x · −1 = −x */
static Node *drop_one(Graph *g, Op op, Node *a, Node *b, const Shape *shape) {
  if ((op == OP_MUL || op == OP_DIV) && node_is_const(b, 1) && same_shape(a, shape))
    return a;
  if (op == OP_MUL && node_is_const(a, 1) && same_shape(b, shape))
    return b;
  if (op == OP_MUL && node_is_const(a, -1) && same_shape(b, shape))
    return g_neg(g, b);
  if (op == OP_MUL && node_is_const(b, -1) && same_shape(a, shape))
    return g_neg(g, a);
  return NULL;
}

/* c1 · (c2 · x) = (c1 c2) · x, so chains of constant factors from the chain rule fold. */
static Node *merge_factors(Graph *g, Op op, Node *a, Node *b) {
  if (op != OP_MUL || a->op != OP_CONST || b->op != OP_MUL)
    return NULL;
  Node *inner_c = b->src[0]->op == OP_CONST ? b->src[0] : b->src[1];
  Node *x = inner_c == b->src[0] ? b->src[1] : b->src[0];
  if (inner_c->op != OP_CONST)
    return NULL;
  return g_mul(g, g_const(g, a->arg.k * inner_c->arg.k), x);
}

/* A reshape of a reshape is one reshape; a permutation of a permutation is one (the identity
 * permutation is dropped by drop_identity), so the layout changes around a convolution's
 * matrix product cancel between layers. */
static Node *compose_moves(Graph *g, Op op, Node *a, const OpArg *arg, const Shape *shape) {
  if (op == OP_RESHAPE && a->op == OP_RESHAPE)
    return g_reshape(g, a->src[0], *shape);
  if (op == OP_PERMUTE && a->op == OP_PERMUTE) {
    int32_t perm[NNC_MAX_RANK];
    for (int i = 0; i < shape->rank; i++)
      perm[i] = a->arg.p[arg->p[i]];
    return g_permute(g, a->src[0], perm);
  }
  return NULL;
}

static bool identity_permutation(const OpArg *arg, int rank) {
  for (int i = 0; i < rank; i++)
    if (arg->p[i] != i)
      return false;
  return true;
}

/* −(−x) = x; x^1 = x; Σ over no axes and expand over no axes are x; so are a reshape to x's own
 * shape and the identity permutation. */
static Node *drop_identity(Op op, Node *a, const OpArg *arg, const Shape *shape) {
  if ((op == OP_RESHAPE || (op == OP_PERMUTE && identity_permutation(arg, shape->rank))) &&
      same_shape(a, shape))
    return a;
  if (op == OP_NEG && a->op == OP_NEG)
    return a->src[0];
  if (op == OP_POWC && arg->k == 1)
    return a;
  if ((op == OP_SUM || op == OP_EXPAND) && (arg->p[PARAM_AXES] & AXES_MASK) == 0 &&
      same_shape(a, shape))
    return a;
  return NULL;
}

/* maxpool_back(max(z, c), dy) · [z > c] = maxpool_back(max(z, c), dy · [maxpool(max(z, c)) > c]):
 * the mask is 1 at a window's argmax exactly when the window's maximum is above c (if it is not,
 * the argmax's z is at most c), and elsewhere the routed adjoint is 0 anyway. So a ReLU's
 * derivative under a max pool is taken on the pooled values, a quarter of them for 2×2 windows,
 * in the kernel that makes dy, instead of a pass over the whole activation. */
static Node *mask_before_routing(Graph *g, Op op, Node *a, Node *b) {
  if (op != OP_MUL || !b)
    return NULL;
  Node *route = a->op == OP_MAXPOOL_BACK ? a : b, *mask = route == a ? b : a;
  if (route->op != OP_MAXPOOL_BACK || mask->op != OP_CMPGT || mask->src[1]->op != OP_CONST)
    return NULL;
  Node *x = route->src[0];
  if (x->op != OP_MAX || x->src[0] != mask->src[0] || x->src[1] != mask->src[1])
    return NULL;
  Node *pooled = g_op(g, OP_MAXPOOL, &x, route->arg, NULL);
  Node *dy = g_mul(g, route->src[1], g_cmpgt(g, pooled, mask->src[1]));
  return g_op(g, OP_MAXPOOL_BACK, (Node *[]){x, dy}, route->arg, &x->shape);
}

Node *simplify_rewrite(Graph *g, Op op, Node *const src[], const OpArg *arg, const Shape *shape) {
  Node *a = src[0], *b = src[1];
  Node *r = fold_constants(g, op, a, b, arg->k);
  if (!r)
    r = drop_zero(g, op, a, b, shape);
  if (!r)
    r = drop_one(g, op, a, b, shape);
  if (!r)
    r = merge_factors(g, op, a, b);
  if (!r)
    r = drop_identity(op, a, arg, shape);
  if (!r)
    r = compose_moves(g, op, a, arg, shape);
  if (!r)
    r = mask_before_routing(g, op, a, b);
  return r;
}

#include "grad.h"

#include <string.h>

/* A node lies on the path when it depends on a parameter; only those get adjoints. */
static bool *mark_path(Graph *g) {
  bool *on = ARENA_ARRAY(g->arena, bool, g->n);
  for (uint32_t i = 0; i < g->n; i++) {
    Node *n = g->node[i];
    on[i] = n->flags & NODE_PARAM;
    for (int s = 0; s < n->nsrc; s++)
      on[i] = on[i] || on[n->src[s]->id];
  }
  return on;
}

/* Sums an adjoint of the broadcast result shape back to the shape of the operand `to`. */
static Node *unbroadcast(Graph *g, Node *d, const Shape *to) {
  if (!d || shape_eq(&d->shape, to))
    return d;
  int lead = d->shape.rank - to->rank;
  uint32_t axes = 0;
  for (int i = 0; i < lead; i++)
    axes |= 1u << i;
  d = g_sum(g, d, axes);
  uint32_t ones = 0;
  for (int i = 0; d && i < to->rank; i++)
    if (to->dim[i] == 1 && d->shape.dim[i] != 1)
      ones |= 1u << i;
  return ones ? g_sum(g, d, ones | AXES_KEEP) : d;
}

static void accumulate(Graph *g, Node **adj, Node *src, Node *d) {
  d = unbroadcast(g, d, &src->shape);
  adj[src->id] = adj[src->id] ? g_add(g, adj[src->id], d) : d;
}

static char *adjoint_name(Graph *g, const Node *n) {
  return n->name ? arena_printf(g->arena, "∂L/∂%s", n->name) : NULL;
}

/* Visits forward nodes from the loss backwards, so each adjoint is complete when used. */
static bool backprop(Graph *g, Node **adj, const bool *on, uint32_t nforward) {
  bool ok = true;
  for (uint32_t i = nforward; i-- > 0;) {
    Node *n = g->node[i];
    Node *dy = adj[i];
    if (!dy || !on[i] || op_info[n->op].kind == KIND_LEAF)
      continue;
    if (!grad_rule[n->op]) {
      diag_error(g->diag, n->loc, "'%s' is not differentiable, but the loss depends on it through "
                 "a parameter", node_op_name(n));
      ok = false;
      continue;
    }
    if (!dy->name && dy->op != OP_CONST)
      dy->name = adjoint_name(g, n);
    /* The adjoint of a value of the model, ∂L/∂n for explain. Values that a sum passes its
     * adjoint through share one node: the first named one, backwards, keeps it (as its name). */
    if (n->name && dy->op != OP_CONST)
      g_tag(dy, PROV_ADJOINT, n, 0);
    g->loc = n->loc;
    Node *dx[NNC_MAX_SRC] = {0};
    bool need[NNC_MAX_SRC] = {0};
    for (int s = 0; s < n->nsrc; s++)
      need[s] = on[n->src[s]->id];
    grad_rule[n->op](g, n, dy, dx, need);
    for (int s = 0; s < n->nsrc; s++)
      if (dx[s] && on[n->src[s]->id])
        accumulate(g, adj, n->src[s], dx[s]);
  }
  return ok;
}

static void mark_backward(Graph *g, uint32_t from) {
  for (uint32_t i = from; i < g->n; i++)
    g->node[i]->flags |= NODE_BACKWARD;
}

bool grad_build(Graph *g) {
  uint32_t nforward = g->n;
  bool *on = mark_path(g);
  Node **adj = ARENA_ARRAY(g->arena, Node *, nforward);
  int errors = diag_count(g->diag);
  g->loc = g->loss->loc;
  adj[g->loss->id] = g_const(g, 1);
  bool ok = backprop(g, adj, on, nforward) && diag_count(g->diag) == errors;
  for (int p = 0; p < g->nparams; p++) {
    Node *param = g->params[p].param;
    Node *d = adj[param->id];
    if (d && !d->name)
      d->name = adjoint_name(g, param);
    g_tag(d, PROV_ADJOINT, param, 0);
    g->params[p].grad = d;
  }
  g->adjoint = adj;
  g->nadjoint = nforward;
  mark_backward(g, nforward);
  return ok;
}

#include "summary.h"

/* Per-sample FLOPs of one node. */
static int64_t node_flops(const Node *n) {
  switch (op_info[n->op].kind) {
  case KIND_LEAF: return 0;
  case KIND_MATMUL: { /* 2 · (the contraction's length) · (C's elements), per example */
    const Node *a = n->src[0];
    int64_t last = a->shape.dim[a->shape.rank - 1], c = shape_numel(&n->shape, 1);
    return 2 * c * (n->arg.p[PARAM_TRANSPOSE_A] ? shape_numel(&a->shape, 1) / last : last);
  }
  case KIND_WINDOW: { /* a pool compares or adds each tap; unfold only copies */
    Window w = window_of(n->arg.p);
    return n->op == OP_UNFOLD ? 0 : shape_numel(&n->shape, 1) * w.kh * w.kw;
  }
  case KIND_REDUCE: return shape_numel(&n->src[0]->shape, 1);
  case KIND_ELEM: return n->op == OP_EXPAND ? 0 : shape_numel(&n->shape, 1);
  }
  return 0;
}

static bool is_forward(const Node *n) { return !(n->flags & (NODE_BACKWARD | NODE_UPDATE)); }

/* Forward nodes that the output or the loss reads. */
static bool *mark_used(Graph *g) {
  bool *used = ARENA_ARRAY(g->arena, bool, g->n);
  if (g->output)
    used[g->output->id] = true;
  if (g->loss)
    used[g->loss->id] = true;
  for (uint32_t i = g->n; i-- > 0;)
    if (used[i])
      for (int s = 0; s < g->node[i]->nsrc; s++)
        used[g->node[i]->src[s]->id] = true;
  return used;
}

static void charge_params(LayerSummary *l, const Node *n, bool *charged) {
  for (int s = 0; s < n->nsrc; s++) {
    const Node *p = n->src[s];
    if ((p->flags & NODE_PARAM) && !charged[p->id]) {
      charged[p->id] = true;
      l->params += shape_numel(&p->shape, 1);
    }
  }
}

int summary_layers(Graph *g, LayerSummary **out) {
  bool *used = mark_used(g), *charged = ARENA_ARRAY(g->arena, bool, g->n);
  LayerSummary *layers = ARENA_ARRAY(g->arena, LayerSummary, g->n + 1);
  int n = 0;
  LayerSummary pending = {0};
  for (uint32_t i = 0; i < g->n; i++) {
    const Node *x = g->node[i];
    if (!used[i] || !is_forward(x) || op_info[x->op].kind == KIND_LEAF)
      continue;
    pending.flops += node_flops(x);
    charge_params(&pending, x, charged);
    if (x == g->output || (x->name && x != g->loss)) {
      pending.node = x;
      layers[n++] = pending;
      pending = (LayerSummary){0};
    }
  }
  *out = layers;
  return n;
}

/* summary: the facts `info` prints about a compiled model, read off its graph (summary.h). */
#include "summary.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

/* Ops that only move or copy values: their loops do no arithmetic. */
static bool moves(const Node *n) {
  return n->op == OP_EXPAND || n->op == OP_PERMUTE || n->op == OP_RESHAPE || n->op == OP_UNFOLD;
}

/* Per-sample FLOPs of one node. */
static int64_t node_flops(const Node *n) {
  if (moves(n))
    return 0;
  switch (op_info[n->op].kind) {
  case KIND_LEAF: return 0;
  case KIND_MATMUL: { /* 2 · (the contraction's length) · (C's elements), per example */
    const Node *a = n->src[0];
    int64_t last = a->shape.dim[a->shape.rank - 1], c = shape_numel(&n->shape, 1);
    return 2 * c * (n->arg.p[PARAM_TRANSPOSE_A] ? shape_numel(&a->shape, 1) / last : last);
  }
  case KIND_WINDOW: { /* a pool compares or adds each tap */
    Window w = window_of(n->arg.p);
    return shape_numel(&n->shape, 1) * w.kh * w.kw;
  }
  case KIND_REDUCE: return shape_numel(&n->src[0]->shape, 1);
  case KIND_ELEM: return shape_numel(&n->shape, 1);
  }
  return 0;
}

/* --- what a layer is: the kind of the op that does its work, and its activation --- */

static bool is_image(const Node *n) { return n->shape.rank == 4 && shape_has_batch(&n->shape); }
static bool is_conv(const Node *n) { return n->op == OP_MATMUL && n->src[0]->op == OP_UNFOLD; }
static bool is_dense(const Node *n) { return n->op == OP_MATMUL; }
static bool is_max_pool(const Node *n) { return n->op == OP_MAXPOOL; }
static bool is_avg_pool(const Node *n) { return n->op == OP_AVGPOOL; }
/* a running statistic read: batch norm's */
static bool is_batch_norm(const Node *n) {
  for (int s = 0; s < n->nsrc; s++)
    if (n->src[s]->flags & NODE_BUFFER)
      return true;
  return false;
}
/* x / √(σ² + ε) without running statistics */
static bool is_layer_norm(const Node *n) { return n->op == OP_DIV && n->src[1]->op == OP_SQRT; }
/* the sum over an image's positions that a mean over them divides */
static bool is_global_avg_pool(const Node *n) {
  return n->op == OP_SUM && is_image(n->src[0]) && (n->arg.p[PARAM_AXES] & (int32_t)AXES_MASK) == 0xc;
}
static bool is_flatten(const Node *n) {
  return n->op == OP_RESHAPE && n->shape.rank == 2 && shape_has_batch(&n->shape) &&
         n->src[0]->shape.rank > 2;
}
static bool is_reshape(const Node *n) { return n->op == OP_RESHAPE && shape_has_batch(&n->shape); }
/* exp(z) / Σ exp(z) */
static bool is_softmax(const Node *n) {
  return n->op == OP_DIV && n->src[0]->op == OP_EXP && n->src[1]->op == OP_SUM &&
         n->src[1]->src[0] == n->src[0];
}
/* a product with a dropout mask */
static bool is_dropout(const Node *n) {
  return n->op == OP_MUL && ((n->src[0]->flags | n->src[1]->flags) & NODE_NOISE);
}
/* two values of the batch added: a residual connection */
static bool is_add(const Node *n) {
  return n->op == OP_ADD && shape_has_batch(&n->src[0]->shape) &&
         shape_has_batch(&n->src[1]->shape);
}

/* The first row that any of a layer's nodes matches names it. */
static const struct {
  bool (*is)(const Node *n);
  const char *kind;
} kinds[] = {
  {is_conv, "conv2d"},         {is_dense, "dense"},           {is_max_pool, "max_pool"},
  {is_avg_pool, "avg_pool"},   {is_batch_norm, "batch_norm"}, {is_layer_norm, "layer_norm"},
  {is_global_avg_pool, "global_avg_pool"}, {is_softmax, "softmax"}, {is_flatten, "flatten"},
  {is_reshape, "reshape"},     {is_dropout, "dropout"},       {is_add, "add"},
};
enum { NKINDS = sizeof kinds / sizeof *kinds };

/* max(z, αz), either way round */
static bool is_leaky_relu(const Node *n) {
  for (int i = 0; n->op == OP_MAX && i < 2; i++) {
    const Node *z = n->src[i], *m = n->src[1 - i];
    if (m->op == OP_MUL && (m->src[0] == z || m->src[1] == z) &&
        (m->src[0]->op == OP_CONST || m->src[1]->op == OP_CONST))
      return true;
  }
  return false;
}

/* The activation a layer ends with, by its last op. */
static const char *activation(const Node *n) {
  if (n->op == OP_MAX && (node_is_const(n->src[1], 0) || node_is_const(n->src[0], 0)))
    return "relu";
  if (is_leaky_relu(n))
    return "leaky_relu";
  if (n->op == OP_SIGMOID || n->op == OP_TANH)
    return node_op_name(n);
  return NULL;
}

/* The function the user called where n comes from ("leaky_relu" for leaky_relu(h)): the name
 * before the '(' its source span starts with; NULL when the span is not a call. Activations
 * such as gelu lower to several primitives, none of which says what the layer is. */
static const char *called_function(Graph *g, const Node *n) {
  const Source *src = g->diag ? g->diag->src : NULL;
  if (!src || !n->loc.line || n->loc.off + n->loc.len > src->len)
    return NULL;
  const char *s = src->text + n->loc.off;
  uint32_t k = 0;
  while (k < n->loc.len && (isalnum((unsigned char)s[k]) || s[k] == '_'))
    k++;
  if (k == 0 || k >= n->loc.len || s[k] != '(' || isdigit((unsigned char)s[0]))
    return NULL;
  return arena_strndup(g->arena, s, k);
}

/* "conv2d+relu", "max_pool", "dense", "relu"; else the function the user called (gelu, elu),
 * else the op's own name. */
static const char *layer_kind(Graph *g, int kind, const Node *last) {
  const char *act = activation(last), *called = called_function(g, last);
  /* a sum of two batch values that ends a call (elu, softplus) is that call, not a residual */
  if (kind < NKINDS && kinds[kind].is == is_add && !act && called)
    return called;
  if (kind < NKINDS && act)
    return arena_printf(g->arena, "%s+%s", kinds[kind].kind, act);
  if (kind < NKINDS)
    return kinds[kind].kind;
  if (act)
    return act;
  return called ? called : node_op_name(last);
}

static int kind_of(const Node *n) {
  int k = 0;
  while (k < NKINDS && !kinds[k].is(n))
    k++;
  return k;
}

/* --- the layers --- */

static bool is_forward(const Node *n) { return !(n->flags & (NODE_BACKWARD | NODE_UPDATE)); }

/* The output as the model wrote it (before layout.c moved images to channels last). */
static const Node *written_output(const Graph *g) {
  return g->lowered_output ? g->lowered_output : g->output;
}

/* Forward nodes that the output or the loss reads, as the model wrote them. */
static bool *mark_used(Graph *g) {
  bool *used = ARENA_ARRAY(g->arena, bool, g->n);
  const Node *loss = g->lowered_loss ? g->lowered_loss : g->loss;
  if (written_output(g))
    used[written_output(g)->id] = true;
  if (loss)
    used[loss->id] = true;
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
  int n = 0, kind = NKINDS;
  LayerSummary pending = {0};
  for (uint32_t i = 0; i < g->n; i++) {
    const Node *x = g->node[i];
    if (!used[i] || !is_forward(x) || op_info[x->op].kind == KIND_LEAF)
      continue;
    pending.flops += node_flops(x);
    charge_params(&pending, x, charged);
    int k = kind_of(x);
    kind = k < kind ? k : kind;
    if (x == written_output(g) || (x->name && x != g->loss && x != g->lowered_loss)) {
      pending.node = x;
      pending.kind = layer_kind(g, kind, x);
      layers[n++] = pending;
      pending = (LayerSummary){0};
      kind = NKINDS;
    }
  }
  *out = layers;
  return n;
}

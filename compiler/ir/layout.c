/* layout: see layout.h.
 *
 * Why: lowering writes a convolution as patches(x) Wᵀ, which comes out [N, OH, OW, F], and moves
 * it to the language's [N, F, OH, OW] with a transpose of the whole activation; the next max pool
 * then reads channel planes, and the next unfold gathers each patch across C planes. Channels
 * last, the activation needs no move, a pool compares runs of C floats and an unfold copies
 * them; a move is left only where a channels-first value is read (a flatten reads the pooled
 * values, a quarter of them). Rewriting the forward graph before differentiation lets the rules
 * of the primitives derive a backward pass that is channels last too (fold and the max pool's
 * routing with Window.last, the weight gradient moved back to [F, C, kh, kw] by the rule of the
 * permutation), so nothing here knows a derivative.
 *
 * Two passes over the forward nodes in creation order: the first decides, on the graph as
 * lowered, which pools and unfolds move (their source is such an expression, and no node of it
 * between the moves has another reader, so nothing is computed twice); the second rebuilds each
 * node from its rebuilt sources, the moved ones channels last. */
#include "layout.h"

#include <string.h>

static const int32_t to_first[4] = {0, 3, 1, 2}, to_last[4] = {0, 2, 3, 1};

/* how deep an elementwise expression between the moves and a pool may be */
enum { MAX_DEPTH = 16 };

typedef struct {
  Graph *g;
  uint32_t n;    /* the nodes as lowered: ids below n */
  int32_t *uses; /* readers of each node among those the roots need */
  bool *moves;   /* the MAXPOOL and UNFOLD nodes that go channels last */
  Node **new_of; /* each node as rebuilt */
} Layout;

static bool is_move_to_first(const Node *n) {
  return n->op == OP_PERMUTE && n->shape.rank == 4 && !memcmp(n->arg.p, to_first, sizeof to_first);
}

/* A value the same at every pixel, such as a bias [C, 1, 1] (or [N, C, 1, 1], or a scalar). */
static bool channel_constant(const Node *s) {
  const Shape *sh = &s->shape;
  for (int i = sh->rank - 2; i < sh->rank; i++)
    if (i >= 0 && sh->dim[i] != 1)
      return false;
  return true;
}

/* An elementwise image whose other sources are channel constants. */
static bool elementwise_image(const Node *s) {
  if (op_info[s->op].kind != KIND_ELEM || s->op == OP_PERMUTE || s->op == OP_RESHAPE ||
      s->op == OP_EXPAND || s->shape.rank != 4)
    return false;
  for (int i = 0; i < s->nsrc; i++)
    if (!shape_eq(&s->src[i]->shape, &s->shape) && !channel_constant(s->src[i]))
      return false;
  return true;
}

/* Whether the node s as lowered can be had channels last without a move: a move to channels
 * first, a pool that goes channels last, or an elementwise image of them that only one node
 * reads. */
static bool has_last_form(const Layout *L, const Node *s, int depth) {
  if (is_move_to_first(s) || (s->op == OP_MAXPOOL && L->moves[s->id]))
    return true;
  if (depth >= MAX_DEPTH || L->uses[s->id] != 1 || !elementwise_image(s))
    return false;
  bool image = false;
  for (int i = 0; i < s->nsrc; i++)
    if (shape_eq(&s->src[i]->shape, &s->shape)) {
      if (!has_last_form(L, s->src[i], depth + 1))
        return false;
      image = true;
    }
  return image;
}

/* A convolution's product, patches(x) · reshape(W, [F, C·kh·kw])ᵀ, over images of more than
 * one channel (with one, both layouts are the same), whose patches nothing else reads. */
static bool is_conv_product(const Layout *L, const Node *n) {
  if (n->op != OP_MATMUL || n->arg.p[PARAM_TRANSPOSE_A] || !n->arg.p[PARAM_TRANSPOSE_B])
    return false;
  const Node *u = n->src[0], *wr = n->src[1];
  if (u->op != OP_UNFOLD || window_of(u->arg.p).last || L->uses[u->id] != 1 ||
      wr->op != OP_RESHAPE || wr->src[0]->shape.rank != 4)
    return false;
  const Shape *x = &u->src[0]->shape, *w = &wr->src[0]->shape;
  Window win = window_of(u->arg.p);
  return x->dim[1] > 1 && w->dim[1] == x->dim[1] && w->dim[2] == win.kh && w->dim[3] == win.kw;
}

static void count_uses(Layout *L) {
  Graph *g = L->g;
  bool *need = ARENA_ARRAY(g->arena, bool, L->n);
  Node *roots[2] = {g->loss, g->output};
  for (int r = 0; r < 2; r++)
    if (roots[r])
      need[roots[r]->id] = true;
  for (int i = 0; i < g->nparams; i++)
    if (g->params[i].target)
      need[g->params[i].target->id] = true;
  for (uint32_t i = L->n; i-- > 0;)
    if (need[i])
      for (int s = 0; s < g->node[i]->nsrc; s++) {
        need[g->node[i]->src[s]->id] = true;
        L->uses[g->node[i]->src[s]->id]++;
      }
}

static void decide(Layout *L) {
  for (uint32_t i = 0; i < L->n; i++) {
    const Node *n = L->g->node[i];
    if (n->op == OP_MAXPOOL && !window_of(n->arg.p).last)
      L->moves[i] = has_last_form(L, n->src[0], 0);
    else if (is_conv_product(L, n) && has_last_form(L, n->src[0]->src[0], 0))
      L->moves[n->src[0]->id] = true;
  }
}

/* A channel constant for channels-last images: [C, 1, 1] as [1, 1, C], [N, C, 1, 1] as
 * [N, 1, 1, C] (the same floats in the same order). */
static Node *constant_last(Graph *g, Node *a) {
  Shape s = a->shape;
  if (s.rank < 3 || s.dim[s.rank - 3] == 1)
    return a;
  s.dim[s.rank - 1] = s.dim[s.rank - 3];
  s.dim[s.rank - 3] = 1;
  return g_reshape(g, a, s);
}

/* The rebuilt image x channels last: under a move to channels first, its source; an
 * elementwise image rebuilt on its sources channels last; anything else moved. */
static Node *last_form(Graph *g, Node *x, int depth) {
  if (is_move_to_first(x))
    return x->src[0];
  if (depth >= MAX_DEPTH || !elementwise_image(x))
    return g_permute(g, x, to_last);
  Node *src[NNC_MAX_SRC] = {0};
  for (int i = 0; i < x->nsrc; i++)
    src[i] = shape_eq(&x->src[i]->shape, &x->shape) ? last_form(g, x->src[i], depth + 1)
                                                    : constant_last(g, x->src[i]);
  return g_op(g, x->op, src, x->arg, NULL);
}

static Node *window_last(Graph *g, Op op, Node *x, const Node *like) {
  Window w = window_of(like->arg.p);
  w.last = 1;
  OpArg arg = {0};
  window_params(&w, arg.p);
  return g_op(g, op, &x, arg, NULL);
}

static Node *rebuilt(const Layout *L, const Node *n) { return L->new_of[n->id]; }

/* Which source of x is the image when x is a step a max pool commutes with — max(·, c) with a
 * constant c, or + a channel constant (the same at every tap of a window) — else -1. */
static int monotone_step(const Node *x) {
  if ((x->op != OP_MAX && x->op != OP_ADD) || !elementwise_image(x))
    return -1;
  for (int i = 0; i < 2; i++) {
    const Node *other = x->src[1 - i];
    if (!shape_eq(&x->src[i]->shape, &x->shape) || shape_eq(&other->shape, &x->shape))
      continue;
    if (x->op == OP_MAX ? other->op == OP_CONST : channel_constant(other))
      return i;
  }
  return -1;
}

/* A moved max pool, with the steps between it and the moves (a bias, a ReLU) taken on the
 * pooled values instead: the maximum over a window commutes with max(·, c) and with adding one
 * b to every tap (rounding is monotone, so the pooled floats are the same), and then the
 * activation is never written whole, and the bias's gradient sums the pooled δ. Where a sum
 * rounds two taps to one float the pool's argmax becomes the larger tap before rounding. */
static Node *pool_last(Layout *L, const Node *n) {
  Graph *g = L->g;
  Node *x = rebuilt(L, n->src[0]), *steps[MAX_DEPTH];
  int side[MAX_DEPTH], nsteps = 0;
  for (int i; nsteps < MAX_DEPTH && (i = monotone_step(x)) >= 0; x = x->src[i]) {
    side[nsteps] = i;
    steps[nsteps++] = x;
  }
  Node *y = window_last(g, OP_MAXPOOL, last_form(g, x, 0), n);
  while (nsteps-- > 0) {
    Node *step = steps[nsteps], *src[NNC_MAX_SRC] = {0};
    int i = side[nsteps];
    src[i] = y;
    src[1 - i] = constant_last(g, step->src[1 - i]);
    y = g_op(g, step->op, src, step->arg, NULL);
  }
  return g_permute(g, y, to_first);
}

/* patches(x) reshape(W)ᵀ with patches channels last: their columns are (i, j, c), so the
 * weights are moved to [F, kh, kw, C] before the reshape. */
static Node *conv_product_last(Layout *L, const Node *n) {
  Graph *g = L->g;
  const Node *u = n->src[0], *wr = n->src[1];
  Node *x = last_form(g, rebuilt(L, u->src[0]), 0);
  Node *w = g_reshape(g, g_permute(g, rebuilt(L, wr->src[0]), to_last), wr->shape);
  return g_matmul(g, window_last(g, OP_UNFOLD, x, u), w, false, true);
}

static Node *rebuild(Layout *L, Node *n) {
  Graph *g = L->g;
  if (op_info[n->op].kind == KIND_LEAF)
    return n;
  g->loc = n->loc;
  if (n->op == OP_MAXPOOL && L->moves[n->id])
    return pool_last(L, n);
  if (n->op == OP_MATMUL && L->moves[n->src[0]->id])
    return conv_product_last(L, n);
  Node *src[NNC_MAX_SRC] = {0};
  for (int i = 0; i < n->nsrc; i++)
    src[i] = rebuilt(L, n->src[i]);
  return g_op(g, n->op, src, n->arg, &n->shape);
}

static Node *root(const Layout *L, Node *n) { return n ? rebuilt(L, n) : NULL; }

int layout_channels_last(Graph *g) {
  Layout L = {.g = g, .n = g->n, .uses = ARENA_ARRAY(g->arena, int32_t, g->n),
              .moves = ARENA_ARRAY(g->arena, bool, g->n),
              .new_of = ARENA_ARRAY(g->arena, Node *, g->n)};
  count_uses(&L);
  decide(&L);
  int moved = 0;
  for (uint32_t i = 0; i < L.n; i++)
    moved += L.moves[i];
  if (!moved)
    return 0;
  for (uint32_t i = 0; i < L.n; i++) {
    Node *old = g->node[i], *n = rebuild(&L, old);
    L.new_of[i] = n;
    if (n && n != old && !n->name)
      n->name = old->name;
    if (n && n != old && !n->prov.kind && old->prov.kind)
      g_tag(n, old->prov.kind, old->prov.of ? root(&L, old->prov.of) : NULL, old->prov.index);
  }
  g->lowered_loss = g->loss, g->lowered_output = g->output;
  g->loss = root(&L, g->loss);
  g->output = root(&L, g->output);
  for (int i = 0; i < g->nparams; i++)
    g->params[i].target = root(&L, g->params[i].target);
  return moved;
}

#include "schedule.h"

#include <string.h>

static bool *mark_needed(Graph *g, Node *const *roots, int nroots) {
  bool *need = ARENA_ARRAY(g->arena, bool, g->n);
  for (int r = 0; r < nroots; r++)
    if (roots[r])
      need[roots[r]->id] = true;
  for (uint32_t i = g->n; i-- > 0;)
    if (need[i])
      for (int s = 0; s < g->node[i]->nsrc; s++)
        need[g->node[i]->src[s]->id] = true;
  return need;
}

static bool is_immediate(const Node *n) { return n->op == OP_CONST || n->op == OP_BATCH; }

static bool must_materialize(const Node *n, int uses, const Node *consumer, bool is_root) {
  if (is_immediate(n))
    return false;
  if (is_root || op_info[n->op].kind != KIND_ELEM || uses != 1)
    return true;
  if (op_info[consumer->op].kind == KIND_MATMUL)
    return true;
  return !shape_eq(&n->shape, node_space(consumer));
}

void sched_build(Schedule *s, Graph *g, Node *const *roots, int nroots) {
  bool *need = mark_needed(g, roots, nroots);
  int *uses = ARENA_ARRAY(g->arena, int, g->n);
  Node **consumer = ARENA_ARRAY(g->arena, Node *, g->n);
  bool *is_root = ARENA_ARRAY(g->arena, bool, g->n);
  for (int r = 0; r < nroots; r++)
    if (roots[r])
      is_root[roots[r]->id] = true;
  for (uint32_t i = 0; i < g->n; i++)
    for (int k = 0; need[i] && k < g->node[i]->nsrc; k++) {
      uses[g->node[i]->src[k]->id]++;
      consumer[g->node[i]->src[k]->id] = g->node[i];
    }
  s->materialized = ARENA_ARRAY(g->arena, bool, g->n);
  s->kernel = ARENA_ARRAY(g->arena, Kernel, g->n);
  s->n = 0;
  for (uint32_t i = 0; i < g->n; i++) {
    Node *n = g->node[i];
    if (!need[i] || !(s->materialized[i] = must_materialize(n, uses[i], consumer[i], is_root[i])))
      continue;
    if (op_info[n->op].kind != KIND_LEAF)
      s->kernel[s->n++] = (Kernel){n, -1};
  }
}

void memplan_init(MemPlan *p, Graph *g, int64_t max_batch) {
  p->offset = ARENA_ARRAY(g->arena, int64_t, g->n);
  for (uint32_t i = 0; i < g->n; i++)
    p->offset[i] = -1;
  p->total = 0;
  p->max_batch = max_batch;
}

/* Regions start on 16-float (64-byte) boundaries, so vector loads of a row stay aligned. */
static void place(MemPlan *p, const Node *n) {
  if (p->offset[n->id] >= 0)
    return;
  p->offset[n->id] = p->total;
  int64_t size = shape_numel(&n->shape, p->max_batch);
  p->total += (size + 15) & ~(int64_t)15;
}

void memplan_add(MemPlan *p, Graph *g, const Schedule *s) {
  for (int i = 0; i < g->nparams; i++) {
    place(p, g->params[i].param);
    if (g->params[i].update && s->materialized[g->params[i].update->id])
      p->offset[g->params[i].update->id] = p->offset[g->params[i].param->id];
  }
  for (uint32_t i = 0; i < g->n; i++)
    if (s->materialized[i])
      place(p, g->node[i]);
}

void sched_assign(Schedule *s, const MemPlan *p) {
  for (int k = 0; k < s->n; k++)
    s->kernel[k].out = p->offset[s->kernel[k].root->id];
}

/* Whether kernel k's fused expression (rooted at n) loads `leaf`. */
static bool reads_leaf(const Schedule *s, const Node *n, const Node *leaf, bool top) {
  if (n == leaf)
    return true;
  if (!top && s->materialized[n->id])
    return false;
  for (int i = 0; i < n->nsrc; i++)
    if (reads_leaf(s, n->src[i], leaf, false))
      return true;
  return false;
}

bool sched_updates_in_place_safely(const Schedule *s, const Graph *g) {
  for (int k = 0; k < s->n; k++) {
    const Node *root = s->kernel[k].root;
    if (!(root->flags & NODE_UPDATE))
      continue;
    for (int p = 0; p < g->nparams; p++) {
      if (g->params[p].update != root)
        continue;
      for (int later = k + 1; later < s->n; later++)
        if (reads_leaf(s, s->kernel[later].root, g->params[p].param, true))
          return false;
    }
  }
  return true;
}

/* Whether the expressions fused below n read the same materialized nodes in a and b. */
static bool same_fusion(const Schedule *a, const Schedule *b, const Node *n) {
  for (int i = 0; i < n->nsrc; i++) {
    const Node *src = n->src[i];
    if (is_immediate(src))
      continue;
    if (a->materialized[src->id] != b->materialized[src->id])
      return false;
    if (!a->materialized[src->id] && !same_fusion(a, b, src))
      return false;
  }
  return true;
}

bool sched_same_kernel(const Schedule *a, const Kernel *ka, const Schedule *b, const Kernel *kb) {
  return ka->root == kb->root && ka->out == kb->out && same_fusion(a, b, ka->root);
}

static void print_fused(FILE *out, const Schedule *s, const Node *n, bool top) {
  if (!top && (s->materialized[n->id] || is_immediate(n)))
    return;
  for (int i = 0; i < n->nsrc; i++)
    print_fused(out, s, n->src[i], false);
  if (!top)
    fprintf(out, " %s", node_op_name(n));
}

void sched_print(FILE *out, const Schedule *s, const Graph *g) {
  (void)g;
  for (int k = 0; k < s->n; k++) {
    const Node *n = s->kernel[k].root;
    char sh[64];
    fprintf(out, "k%d %s %%%u -> ws[%lld] : %s", k, node_op_name(n), n->id,
            (long long)s->kernel[k].out, shape_str(&n->shape, sh, sizeof sh));
    if (n->name)
      fprintf(out, "  # %s", n->name);
    fputs("\n   fused:", out);
    print_fused(out, s, n, true);
    fputc('\n', out);
  }
}

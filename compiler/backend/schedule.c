#include "plan.h"

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

bool sched_reads_through_window(const Node *mm, int src) {
  const Node *u = mm->src[src];
  if (mm->op != OP_MATMUL || u->op != OP_UNFOLD || !window_of(u->arg.p).last)
    return false;
  bool ta = mm->arg.p[PARAM_TRANSPOSE_A], tb = mm->arg.p[PARAM_TRANSPOSE_B];
  int64_t ch = u->src[0]->shape.dim[3];
  return src == 0 ? !ta && tb && ch >= 8 : ta && !tb && ch % 32 == 0;
}

bool sched_folds_product(const Node *fold) {
  if (fold->op != OP_FOLD || !window_of(fold->arg.p).last)
    return false;
  const Node *mm = fold->src[0];
  return mm->op == OP_MATMUL && !mm->arg.p[PARAM_TRANSPOSE_A] && !mm->arg.p[PARAM_TRANSPOSE_B] &&
         mm->src[0]->shape.rank == 4 && mm->src[1]->shape.rank == 2;
}

/* Whether every product that reads the patches u reads them through the window. */
static bool read_through_window(Graph *g, const bool *need, const Node *u) {
  for (uint32_t i = u->id + 1; i < g->n; i++)
    for (int k = 0; need[i] && k < g->node[i]->nsrc; k++)
      if (g->node[i]->src[k] == u && !sched_reads_through_window(g->node[i], k))
        return false;
  return true;
}

static bool must_materialize(const Node *n, int uses, const Node *consumer, bool is_root) {
  if (is_immediate(n))
    return false;
  if (is_root || op_info[n->op].kind != KIND_ELEM || uses != 1)
    return true;
  /* kernels of their own read their sources from memory; a reshape reads its source's buffer
   * in another shape */
  if (op_info[consumer->op].kind == KIND_MATMUL || op_info[consumer->op].kind == KIND_WINDOW ||
      consumer->op == OP_RESHAPE)
    return true;
  /* a permutation computes the expression below it at its source's index, whatever the shapes
   * (codegen.c: emit_operand), as a convolution's [N, OH, OW, F] → [N, F, OH, OW] with
   * OH = OW = F needs */
  return consumer->op != OP_PERMUTE && !shape_eq(&n->shape, node_space(consumer));
}

/* Whether the expression fused below n reads only leaves (and immediates). */
static bool reads_only_leaves(const Schedule *s, const Node *n) {
  for (int i = 0; i < n->nsrc; i++) {
    const Node *src = n->src[i];
    if (is_immediate(src) || op_info[src->op].kind == KIND_LEAF)
      continue;
    if (s->materialized[src->id] || !reads_only_leaves(s, src))
      return false;
  }
  return true;
}

/* Moves the scalar kernels that read only leaves (Adam's 1 − βᵗ, from t alone) to the front,
 * in order, where they separate no two kernels that could share a loop. They read no kernel's
 * output, and no parameter they read is updated before them (sched_updates_in_place_safely),
 * so they compute the same there. */
static bool moves_first(const Schedule *s, const Node *root) {
  /* an update (a scalar parameter's, say) must stay after every kernel that reads the old value */
  return root->shape.rank == 0 && !(root->flags & NODE_UPDATE) && reads_only_leaves(s, root);
}

static void leaf_kernels_first(Schedule *s, Arena *arena) {
  Kernel *sorted = ARENA_ARRAY(arena, Kernel, s->n + 1);
  int n = 0;
  for (int pass = 0; pass < 2; pass++)
    for (int k = 0; k < s->n; k++)
      if (moves_first(s, s->kernel[k].root) == (pass == 0))
        sorted[n++] = s->kernel[k];
  memcpy(s->kernel, sorted, sizeof(Kernel) * (size_t)s->n);
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
    if ((n->op == OP_UNFOLD && !is_root[i] && read_through_window(g, need, n)) ||
        (n->op == OP_MATMUL && !is_root[i] && uses[i] == 1 && sched_folds_product(consumer[i]))) {
      s->materialized[i] = false;
      continue;
    }
    if (op_info[n->op].kind != KIND_LEAF)
      s->kernel[s->n++] = (Kernel){n, -1, false};
  }
  leaf_kernels_first(s, g->arena);
}

void sched_assign(Schedule *s, const MemPlan *p) {
  for (int k = 0; k < s->n; k++)
    s->kernel[k].out = p->offset[s->kernel[k].root->id];
}

/* --- loop fusion --- */

typedef struct {
  const Schedule *s;
  const MemPlan *p;
  const Shape *shape;   /* of the group's loop */
  int first, last;      /* kernels of the group, last included */
} Group;

static bool regions_overlap(const Group *gr, const Node *a, const Node *b) {
  int64_t oa = gr->p->offset[a->id], ob = gr->p->offset[b->id];
  int64_t na = shape_numel(&a->shape, gr->p->max_batch), nb = shape_numel(&b->shape, gr->p->max_batch);
  return oa < ob + nb && ob < oa + na;
}

/* Whether the load of consumer's source s reads element i at loop index i. */
static bool loads_same_element(const Group *gr, const Node *consumer, int s) {
  int64_t view[NNC_MAX_RANK], own[NNC_MAX_RANK];
  if (!shape_eq(node_space(consumer), gr->shape) || !shape_eq(&consumer->src[s]->shape, gr->shape))
    return false;
  node_src_view(consumer, s, view);
  shape_strides(gr->shape, own);
  for (int a = 0; a < gr->shape->rank; a++) /* an axis of extent 1 may have any stride */
    if (view[a] != own[a] && gr->shape->dim[a] != 1)
      return false;
  return true;
}

/* Whether every load of the expression fused below n that touches what a kernel of the group
 * writes reads it at the loop's own element. Below a permutation (`moved`) the loads are at
 * another element, so none may touch what the group writes. */
static bool loads_are_safe(const Group *gr, const Node *n, bool moved) {
  for (int i = 0; i < n->nsrc; i++) {
    const Node *src = n->src[i];
    if (is_immediate(src))
      continue;
    if (!gr->s->materialized[src->id]) {
      if (!loads_are_safe(gr, src, moved || n->op == OP_PERMUTE))
        return false;
      continue;
    }
    for (int k = gr->first; k <= gr->last; k++)
      if (regions_overlap(gr, src, gr->s->kernel[k].root) && (moved || !loads_same_element(gr, n, i)))
        return false;
  }
  return true;
}

/* An update never shares a loop with a kernel that is not one: the updates then start a
 * step_kernels entry of their own, after which data-parallel training can sum the ranks'
 * gradients before any update runs (NnrtModel.first_update_group). */
static bool can_join(const Schedule *s, const MemPlan *p, int first, int k) {
  const Node *root = s->kernel[k].root;
  if (op_info[root->op].kind != KIND_ELEM || root->shape.rank == 0)
    return false;
  if ((root->flags & NODE_UPDATE) != (s->kernel[k - 1].root->flags & NODE_UPDATE))
    return false;
  Group gr = {s, p, &root->shape, first, k};
  for (int j = first; j <= k; j++) {
    const Node *r = s->kernel[j].root;
    if (op_info[r->op].kind != KIND_ELEM || !shape_eq(&r->shape, &root->shape) ||
        !loads_are_safe(&gr, r, false))
      return false;
  }
  return true;
}

void sched_join(Schedule *s, const MemPlan *p) {
  int first = 0;
  for (int k = 1; k < s->n; k++) {
    s->kernel[k].joins_previous = can_join(s, p, first, k);
    if (!s->kernel[k].joins_previous)
      first = k;
  }
}

int sched_groups(const Schedule *s) {
  int n = 0;
  for (int k = 0; k < s->n; k++)
    n += !s->kernel[k].joins_previous;
  return n;
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

bool sched_same_group(const Schedule *a, const Kernel *ka, const Schedule *b, const Kernel *kb) {
  const Kernel *enda = a->kernel + a->n, *endb = b->kernel + b->n;
  do {
    if (!sched_same_kernel(a, ka++, b, kb++))
      return false;
  } while (ka < enda && kb < endb && ka->joins_previous && kb->joins_previous);
  return !(ka < enda && ka->joins_previous) && !(kb < endb && kb->joins_previous);
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
    if (s->kernel[k].joins_previous)
      fprintf(out, "  (in k%d's loop)", k - 1);
    if (n->name)
      fprintf(out, "  # %s", n->name);
    fputs("\n   fused:", out);
    print_fused(out, s, n, true);
    fputc('\n', out);
  }
}

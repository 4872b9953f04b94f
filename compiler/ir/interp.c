#include "interp.h"

#include <string.h>

void interp_init(Interp *it, Arena *a, const Graph *g, int64_t batch) {
  it->g = g;
  it->batch = batch;
  it->val = ARENA_ARRAY(a, double *, g->n);
  for (uint32_t i = 0; i < g->n; i++)
    it->val[i] = ARENA_ARRAY(a, double, shape_numel(&g->node[i]->shape, batch) + 1);
}

void interp_set(Interp *it, const Node *leaf, const double *values) {
  memcpy(it->val[leaf->id], values, sizeof(double) * (size_t)shape_numel(&leaf->shape, it->batch));
}

double *interp_value(Interp *it, const Node *n) { return it->val[n->id]; }

/* Extents of a shape with the batch axis resolved. */
static void extents(const Interp *it, const Shape *s, int64_t ext[NNC_MAX_RANK]) {
  for (int i = 0; i < NNC_MAX_RANK; i++)
    ext[i] = i < s->rank ? (s->dim[i] == DIM_BATCH ? it->batch : s->dim[i]) : 1;
}

/* Advances a multi-index over ext; false after the last one. */
static bool next_index(int64_t idx[NNC_MAX_RANK], const int64_t ext[NNC_MAX_RANK], int rank) {
  for (int i = rank - 1; i >= 0; i--) {
    if (++idx[i] < ext[i])
      return true;
    idx[i] = 0;
  }
  return false;
}

static int64_t offset(const int64_t idx[NNC_MAX_RANK], const int64_t stride[NNC_MAX_RANK], int r) {
  int64_t o = 0;
  for (int i = 0; i < r; i++)
    o += idx[i] * stride[i];
  return o;
}

/* Elementwise ops: out[i] = op(a[view(i)], b[view(i)]) over the output's index space. */
static void eval_elem(Interp *it, const Node *n) {
  int64_t ext[NNC_MAX_RANK], sa[NNC_MAX_RANK] = {0}, sb[NNC_MAX_RANK] = {0};
  int64_t idx[NNC_MAX_RANK] = {0};
  extents(it, &n->shape, ext);
  node_src_view(n, 0, sa);
  if (n->nsrc > 1)
    node_src_view(n, 1, sb);
  const double *a = it->val[n->src[0]->id];
  const double *b = n->nsrc > 1 ? it->val[n->src[1]->id] : NULL;
  double *out = it->val[n->id];
  if (shape_numel(&n->shape, it->batch) == 0)
    return;
  int64_t i = 0;
  do {
    double x = a[offset(idx, sa, n->shape.rank)];
    double y = b ? b[offset(idx, sb, n->shape.rank)] : 0;
    out[i++] = op_eval(n->op, x, y, n->arg.k);
  } while (next_index(idx, ext, n->shape.rank));
}

/* Σ, max: iterate over the source, combining into the output element it projects to. */
static void eval_reduce(Interp *it, const Node *n) {
  const Node *src = n->src[0];
  int64_t ext[NNC_MAX_RANK], so[NNC_MAX_RANK], ss[NNC_MAX_RANK], idx[NNC_MAX_RANK] = {0};
  extents(it, &src->shape, ext);
  shape_view(&n->shape, &src->shape, (uint32_t)n->arg.p[PARAM_AXES], so);
  shape_strides(&src->shape, ss);
  double *out = it->val[n->id];
  for (int64_t i = 0; i < shape_numel(&n->shape, it->batch); i++)
    out[i] = op_info[n->op].identity;
  if (shape_numel(&src->shape, it->batch) == 0)
    return;
  do {
    double *o = &out[offset(idx, so, src->shape.rank)];
    *o = op_eval(n->op, *o, it->val[src->id][offset(idx, ss, src->shape.rank)], 0);
  } while (next_index(idx, ext, src->shape.rank));
}

/* C[i, j] = Σ_k op(A)[i, k] op(B)[k, j], op transposing where the parameters say. */
static void eval_matmul(Interp *it, const Node *n) {
  const Node *A = n->src[0], *B = n->src[1];
  int64_t ea[NNC_MAX_RANK], eb[NNC_MAX_RANK];
  extents(it, &A->shape, ea);
  extents(it, &B->shape, eb);
  bool ta = n->arg.p[PARAM_TRANSPOSE_A], tb = n->arg.p[PARAM_TRANSPOSE_B];
  int64_t m = ta ? ea[1] : ea[0], kk = ta ? ea[0] : ea[1], nn = tb ? eb[0] : eb[1];
  const double *a = it->val[A->id], *b = it->val[B->id];
  double *c = it->val[n->id];
  for (int64_t i = 0; i < m; i++)
    for (int64_t j = 0; j < nn; j++) {
      double acc = 0;
      for (int64_t k = 0; k < kk; k++)
        acc += (ta ? a[k * ea[1] + i] : a[i * ea[1] + k]) * (tb ? b[j * eb[1] + k] : b[k * eb[1] + j]);
      c[i * nn + j] = acc;
    }
}

void interp_run(Interp *it) {
  for (uint32_t i = 0; i < it->g->n; i++) {
    const Node *n = it->g->node[i];
    switch (op_info[n->op].kind) {
    case KIND_LEAF:
      if (n->op == OP_CONST)
        it->val[i][0] = n->arg.k;
      else if (n->op == OP_BATCH)
        it->val[i][0] = (double)it->batch;
      break;
    case KIND_ELEM: eval_elem(it, n); break;
    case KIND_REDUCE: eval_reduce(it, n); break;
    case KIND_MATMUL: eval_matmul(it, n); break;
    }
  }
}

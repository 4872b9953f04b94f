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

/* rows × cols of a matrix product's operand: every axis but the last is a row. */
static void as_matrix(const Interp *it, const Shape *s, int64_t *rows, int64_t *cols) {
  *rows = shape_numel(s, it->batch) / (s->dim[s->rank - 1]);
  *cols = s->dim[s->rank - 1];
}

/* C[i, j] = Σ_k op(A)[i, k] op(B)[k, j], op transposing where the parameters say. */
static void ev_matmul(Interp *it, const Node *n) {
  const Node *A = n->src[0], *B = n->src[1];
  int64_t ar, ac, br, bc;
  as_matrix(it, &A->shape, &ar, &ac);
  as_matrix(it, &B->shape, &br, &bc);
  bool ta = n->arg.p[PARAM_TRANSPOSE_A], tb = n->arg.p[PARAM_TRANSPOSE_B];
  int64_t m = ta ? ac : ar, kk = ta ? ar : ac, nn = tb ? br : bc;
  const double *a = it->val[A->id], *b = it->val[B->id];
  double *c = it->val[n->id];
  for (int64_t i = 0; i < m; i++)
    for (int64_t j = 0; j < nn; j++) {
      double acc = 0;
      for (int64_t k = 0; k < kk; k++)
        acc += (ta ? a[k * ac + i] : a[i * ac + k]) * (tb ? b[j * bc + k] : b[k * bc + j]);
      c[i * nn + j] = acc;
    }
}

/* --- windows over images [N, C, H, W] (or [N, H, W, C]: Window.last) --- */

typedef struct {
  Window w;
  int64_t n, c, h, wd, oh, ow; /* the image's extents and the window's output extents */
} Geometry;

static Geometry geometry(const Interp *it, const Node *n, const Shape *image) {
  Geometry q = {.w = window_of(n->arg.p)};
  q.n = image->dim[0] == DIM_BATCH ? it->batch : image->dim[0];
  ImageAxes ax = window_axes(&q.w);
  q.c = image->dim[ax.c], q.h = image->dim[ax.h], q.wd = image->dim[ax.w];
  q.oh = window_extent(q.h, q.w.kh, q.w.sh, q.w.pt, q.w.pb, q.w.dh);
  q.ow = window_extent(q.wd, q.w.kw, q.w.sw, q.w.pl, q.w.pr, q.w.dw);
  return q;
}

/* The element (b, c, y, x) of an image, or of a pool's result (y, x: oh, ow) when `pooled` */
static int64_t at_pixel(const Geometry *q, int64_t b, int64_t c, int64_t y, int64_t x, bool pooled) {
  int64_t h = pooled ? q->oh : q->h, w = pooled ? q->ow : q->wd;
  return q->w.last ? ((b * h + y) * w + x) * q->c + c : ((b * q->c + c) * h + y) * w + x;
}

static int64_t image_index(const Geometry *q, int64_t b, int64_t c, int64_t y, int64_t x) {
  return at_pixel(q, b, c, y, x, false);
}

/* Calls visit for every (image element, window element) pair of the window ops: output
 * position (b, c, oh, ow), kernel tap (i, j), and the pixel (y, x) it reads, or -1 in padding. */
typedef void Visit(void *ctx, const Geometry *q, int64_t b, int64_t c, int64_t oh, int64_t ow,
                   int64_t i, int64_t j, int64_t pixel);

static void each_tap(const Geometry *q, Visit *visit, void *ctx) {
  for (int64_t b = 0; b < q->n; b++)
    for (int64_t c = 0; c < q->c; c++)
      for (int64_t oh = 0; oh < q->oh; oh++)
        for (int64_t ow = 0; ow < q->ow; ow++)
          for (int64_t i = 0; i < q->w.kh; i++)
            for (int64_t j = 0; j < q->w.kw; j++) {
              int64_t y = oh * q->w.sh - q->w.pt + i * q->w.dh;
              int64_t x = ow * q->w.sw - q->w.pl + j * q->w.dw;
              bool inside = y >= 0 && y < q->h && x >= 0 && x < q->wd;
              visit(ctx, q, b, c, oh, ow, i, j, inside ? image_index(q, b, c, y, x) : -1);
            }
}

typedef struct {
  const double *in;
  double *out;
  bool to_image; /* fold: patches onto the image; unfold: the image into patches */
} Copy;

static int64_t patch_index(const Geometry *q, int64_t b, int64_t c, int64_t oh, int64_t ow,
                           int64_t i, int64_t j) {
  int64_t cols = q->c * q->w.kh * q->w.kw;
  int64_t col = q->w.last ? (i * q->w.kw + j) * q->c + c : (c * q->w.kh + i) * q->w.kw + j;
  return ((b * q->oh + oh) * q->ow + ow) * cols + col;
}

static void copy_tap(void *ctx, const Geometry *q, int64_t b, int64_t c, int64_t oh, int64_t ow,
                     int64_t i, int64_t j, int64_t pixel) {
  Copy *k = ctx;
  int64_t col = patch_index(q, b, c, oh, ow, i, j);
  if (!k->to_image)
    k->out[col] = pixel < 0 ? 0 : k->in[pixel];
  else if (pixel >= 0)
    k->out[pixel] += k->in[col];
}

static void zero(Interp *it, const Node *n) {
  memset(it->val[n->id], 0, sizeof(double) * (size_t)shape_numel(&n->shape, it->batch));
}

static void ev_unfold(Interp *it, const Node *n) {
  Geometry q = geometry(it, n, &n->src[0]->shape);
  each_tap(&q, copy_tap, &(Copy){it->val[n->src[0]->id], it->val[n->id], false});
}

static void ev_fold(Interp *it, const Node *n) {
  Geometry q = geometry(it, n, &n->shape);
  zero(it, n);
  each_tap(&q, copy_tap, &(Copy){it->val[n->src[0]->id], it->val[n->id], true});
}

typedef struct {
  const double *x, *dy;
  double *out;
  int64_t best; /* maxpool: the pixel of the window's first maximum so far */
} Pool;

static int64_t pool_index(const Geometry *q, int64_t b, int64_t c, int64_t oh, int64_t ow) {
  return at_pixel(q, b, c, oh, ow, true);
}

static bool last_tap(const Geometry *q, int64_t i, int64_t j) {
  return i == q->w.kh - 1 && j == q->w.kw - 1;
}

/* The window's first maximum (padding is not a candidate); at the last tap, `done` with it. */
static void max_tap(Pool *p, const Geometry *q, int64_t pixel, int64_t i, int64_t j) {
  if (i == 0 && j == 0)
    p->best = -1;
  if (pixel >= 0 && (p->best < 0 || p->x[pixel] > p->x[p->best]))
    p->best = pixel;
  (void)q;
}

static void maxpool_tap(void *ctx, const Geometry *q, int64_t b, int64_t c, int64_t oh, int64_t ow,
                        int64_t i, int64_t j, int64_t pixel) {
  Pool *p = ctx;
  max_tap(p, q, pixel, i, j);
  if (last_tap(q, i, j))
    p->out[pool_index(q, b, c, oh, ow)] = p->x[p->best];
}

static void route_tap(void *ctx, const Geometry *q, int64_t b, int64_t c, int64_t oh, int64_t ow,
                      int64_t i, int64_t j, int64_t pixel) {
  Pool *p = ctx;
  max_tap(p, q, pixel, i, j);
  if (last_tap(q, i, j))
    p->out[p->best] += p->dy[pool_index(q, b, c, oh, ow)];
}

static void avgpool_tap(void *ctx, const Geometry *q, int64_t b, int64_t c, int64_t oh, int64_t ow,
                        int64_t i, int64_t j, int64_t pixel) {
  Pool *p = ctx;
  if (pixel >= 0)
    p->out[pool_index(q, b, c, oh, ow)] += p->x[pixel] / (double)(q->w.kh * q->w.kw);
  (void)i, (void)j;
}

static void spread_tap(void *ctx, const Geometry *q, int64_t b, int64_t c, int64_t oh, int64_t ow,
                       int64_t i, int64_t j, int64_t pixel) {
  Pool *p = ctx;
  if (pixel >= 0)
    p->out[pixel] += p->dy[pool_index(q, b, c, oh, ow)] / (double)(q->w.kh * q->w.kw);
  (void)i, (void)j;
}

static void ev_maxpool(Interp *it, const Node *n) {
  Geometry q = geometry(it, n, &n->src[0]->shape);
  each_tap(&q, maxpool_tap, &(Pool){.x = it->val[n->src[0]->id], .out = it->val[n->id]});
}

static void ev_maxpool_back(Interp *it, const Node *n) {
  Geometry q = geometry(it, n, &n->shape);
  zero(it, n);
  each_tap(&q, route_tap,
           &(Pool){.x = it->val[n->src[0]->id], .dy = it->val[n->src[1]->id], .out = it->val[n->id]});
}

static void ev_avgpool(Interp *it, const Node *n) {
  Geometry q = geometry(it, n, &n->src[0]->shape);
  zero(it, n);
  each_tap(&q, avgpool_tap, &(Pool){.x = it->val[n->src[0]->id], .out = it->val[n->id]});
}

static void ev_avgpool_back(Interp *it, const Node *n) {
  Geometry q = geometry(it, n, &n->shape);
  zero(it, n);
  each_tap(&q, spread_tap, &(Pool){.dy = it->val[n->src[0]->id], .out = it->val[n->id]});
}

/* The eval column of ops.def: for MATMUL and WINDOW ops, a function of the whole node. */
#define NODE_LEAF(f) 0
#define NODE_ELEM(f) eval_elem
#define NODE_REDUCE(f) eval_reduce
#define NODE_MATMUL(f) f
#define NODE_WINDOW(f) f
typedef void NodeEval(Interp *it, const Node *n);
static NodeEval *const node_eval[OP_COUNT] = {
#define NONE 0
#define OP(id, name, arity, params, kind, shape, grad, eval, lower, ident, notation) \
  [OP_##id] = NODE_##kind(eval),
#include "ops.def"
#undef OP
#undef NONE
};

void interp_run(Interp *it) {
  for (uint32_t i = 0; i < it->g->n; i++) {
    const Node *n = it->g->node[i];
    if (n->op == OP_CONST)
      it->val[i][0] = n->arg.k;
    else if (n->op == OP_BATCH)
      it->val[i][0] = (double)it->batch;
    else if (node_eval[n->op])
      node_eval[n->op](it, n);
  }
}

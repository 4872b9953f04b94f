/* codegen_window: the kernels of the window ops over images [N, C, H, W] (unfold, fold and the
 * pools with their adjoints), as loop nests whose window geometry is constant.
 *
 * Threads share the images (axis 0): every output element is computed by one part, by the same
 * instructions in the same order whatever the part, so results are bit-identical for any
 * --threads. The adjoints (fold, the pools' adjoints) scatter into their own image only, in a
 * fixed order. Taps that fall in the padding read
 * a clamped, always valid address and are then replaced (by 0, or skipped for max), so no load
 * goes out of bounds and the loops have no branches LLVM cannot flatten. */
#include "codegen_internal.h"

#include <math.h>

typedef struct {
  CgCtx *c;
  Window w;
  int64_t ch, h, wd, oh, ow; /* the image's extents and the window's output extents */
  LLVMValueRef in, out;      /* &ws[...] of source 0 and of the result */
} Win;

static void win_init(Win *q, CgCtx *c, const Kernel *k, const Shape *image) {
  const Node *n = k->root;
  q->c = c;
  q->w = window_of(n->arg.p);
  q->ch = image->dim[1], q->h = image->dim[2], q->wd = image->dim[3];
  q->oh = window_extent(q->h, q->w.kh, q->w.sh, q->w.pt, q->w.pb, q->w.dh);
  q->ow = window_extent(q->wd, q->w.kw, q->w.sw, q->w.pl, q->w.pr, q->w.dw);
  LLVMValueRef in_off = cg_i64(c, c->p->plan.offset[n->src[0]->id]);
  q->in = LLVMBuildGEP2(c->b, c->f32, c->ws, &in_off, 1, "in");
  LLVMValueRef out_off = cg_i64(c, k->out);
  q->out = LLVMBuildGEP2(c->b, c->f32, c->ws, &out_off, 1, "out");
}

static LLVMValueRef add(CgCtx *c, LLVMValueRef a, LLVMValueRef b) { return LLVMBuildAdd(c->b, a, b, ""); }
static LLVMValueRef mul(CgCtx *c, LLVMValueRef a, int64_t k) {
  return LLVMBuildMul(c->b, a, cg_i64(c, k), "");
}
/* ((a·e1 + b)·e2 + c2)·e3 + d: a row-major index */
static LLVMValueRef index4(CgCtx *c, LLVMValueRef a, int64_t e1, LLVMValueRef b, int64_t e2,
                           LLVMValueRef c2, int64_t e3, LLVMValueRef d) {
  return add(c, mul(c, add(c, mul(c, add(c, mul(c, a, e1), b), e2), c2), e3), d);
}

static LLVMValueRef load_at(CgCtx *c, LLVMValueRef base, LLVMValueRef i) {
  return LLVMBuildLoad2(c->b, c->f32, LLVMBuildGEP2(c->b, c->f32, base, &i, 1, ""), "");
}

static void store_at(CgCtx *c, LLVMValueRef base, LLVMValueRef i, LLVMValueRef v) {
  LLVMBuildStore(c->b, v, LLVMBuildGEP2(c->b, c->f32, base, &i, 1, ""));
}

/* 0 <= v < hi */
static LLVMValueRef in_range(CgCtx *c, LLVMValueRef v, int64_t hi) {
  return LLVMBuildICmp(c->b, LLVMIntULT, v, cg_i64(c, hi), "");
}

static LLVMValueRef clamp(CgCtx *c, LLVMValueRef ok, LLVMValueRef v) {
  return LLVMBuildSelect(c->b, ok, v, cg_i64(c, 0), "");
}

/* This part's images: opens the loop over them. */
static LLVMValueRef open_images(CgCtx *c, Loop *l, const Shape *image) {
  LLVMValueRef lo, hi;
  cg_share(c, cg_extent(c, image->dim[0]), &lo, &hi);
  return cg_loop_open_range(c, l, lo, hi, "img");
}

/* The pixel a tap reads: (oh·s − p + i·d) per axis; *ok whether it lies inside the image. */
typedef struct {
  LLVMValueRef y, x, ok;
} Tap;

static Tap tap_at(Win *q, LLVMValueRef oh, LLVMValueRef ow, LLVMValueRef i, LLVMValueRef j) {
  CgCtx *c = q->c;
  LLVMValueRef y = add(c, LLVMBuildSub(c->b, mul(c, oh, q->w.sh), cg_i64(c, q->w.pt), ""), mul(c, i, q->w.dh));
  LLVMValueRef x = add(c, LLVMBuildSub(c->b, mul(c, ow, q->w.sw), cg_i64(c, q->w.pl), ""), mul(c, j, q->w.dw));
  LLVMValueRef ok = LLVMBuildAnd(c->b, in_range(c, y, q->h), in_range(c, x, q->wd), "inside");
  return (Tap){clamp(c, ok, y), clamp(c, ok, x), ok};
}

/* patches[b, oh, ow, (ch·kh + i)·kw + j] = image[b, ch, y, x], or 0 in the padding */
void cg_unfold(CgCtx *c, const Kernel *k) {
  Win q;
  const Shape *image = &k->root->src[0]->shape;
  win_init(&q, c, k, image);
  Loop lb, loh, low, lc, li, lj;
  LLVMValueRef b = open_images(c, &lb, image);
  LLVMValueRef oh = cg_loop_open(c, &loh, cg_i64(c, q.oh), "oh");
  LLVMValueRef ow = cg_loop_open(c, &low, cg_i64(c, q.ow), "ow");
  LLVMValueRef row = mul(c, add(c, mul(c, add(c, mul(c, b, q.oh), oh), q.ow), ow), q.ch * q.w.kh * q.w.kw);
  LLVMValueRef ch = cg_loop_open(c, &lc, cg_i64(c, q.ch), "ch");
  LLVMValueRef i = cg_loop_open(c, &li, cg_i64(c, q.w.kh), "i");
  LLVMValueRef j = cg_loop_open(c, &lj, cg_i64(c, q.w.kw), "j");
  Tap t = tap_at(&q, oh, ow, i, j);
  LLVMValueRef v = load_at(c, q.in, index4(c, b, q.ch, ch, q.h, t.y, q.wd, t.x));
  v = LLVMBuildSelect(c->b, t.ok, v, cg_f32(c, 0), "");
  LLVMValueRef col = add(c, mul(c, add(c, mul(c, ch, q.w.kh), i), q.w.kw), j);
  store_at(c, q.out, add(c, row, col), v);
  cg_loop_close(c, &lj, j);
  cg_loop_close(c, &li, i);
  cg_loop_close(c, &lc, ch);
  cg_loop_close(c, &low, ow);
  cg_loop_close(c, &loh, oh);
  cg_loop_close(c, &lb, b);
}

/* One pass over the windows of this part's images, channel by channel: `first` before a
 * window's taps, `tap` for each of its taps, `last` after them. The adjoints scatter into their
 * image (its planes zeroed first, so each sums in a fixed order, one channel's plane in cache);
 * those that need no whole window at once (fold, the average's adjoint) go tap by tap over all
 * windows, so that no add waits for the one before it to store the same pixel. */
typedef struct Pool Pool;
struct Pool {
  Win q;
  LLVMValueRef b, ch, oh, ow, i, j, acc, best;
  void (*first)(Pool *p);
  void (*tap)(Pool *p, LLVMValueRef pixel, LLVMValueRef inside);
  void (*last)(Pool *p);
  LLVMValueRef dy; /* max-pool's adjoint: &ws[...] of dy */
  bool scatter;    /* the result is an image the taps add into */
  bool tap_major;  /* the loops over the taps outside those over the windows */
};

static void zero_plane(CgCtx *c, Pool *p) {
  Loop lz;
  Win *q = &p->q;
  LLVMValueRef plane = mul(c, add(c, mul(c, p->b, q->ch), p->ch), q->h * q->wd);
  LLVMValueRef z = cg_loop_open(c, &lz, cg_i64(c, q->h * q->wd), "z");
  store_at(c, q->out, add(c, plane, z), cg_f32(c, 0));
  cg_loop_close(c, &lz, z);
}

static void emit_windows(CgCtx *c, Pool *p, const Shape *image) {
  Loop lb, lc, outer[2], inner[2];
  Win *q = &p->q;
  p->b = open_images(c, &lb, image);
  p->ch = cg_loop_open(c, &lc, cg_i64(c, q->ch), "ch");
  if (p->scatter)
    zero_plane(c, p);
  LLVMValueRef *slot[4] = {&p->oh, &p->ow, &p->i, &p->j};
  int64_t extent[4] = {q->oh, q->ow, q->w.kh, q->w.kw};
  static const char *names[4] = {"oh", "ow", "i", "j"};
  int o = p->tap_major ? 2 : 0, n = 2 - o;
  for (int k = 0; k < 2; k++)
    *slot[o + k] = cg_loop_open(c, &outer[k], cg_i64(c, extent[o + k]), names[o + k]);
  p->first(p);
  for (int k = 0; k < 2; k++)
    *slot[n + k] = cg_loop_open(c, &inner[k], cg_i64(c, extent[n + k]), names[n + k]);
  Tap t = tap_at(q, p->oh, p->ow, p->i, p->j);
  p->tap(p, index4(c, p->b, q->ch, p->ch, q->h, t.y, q->wd, t.x), t.ok);
  for (int k = 2; k-- > 0;)
    cg_loop_close(c, &inner[k], *slot[n + k]);
  p->last(p);
  for (int k = 2; k-- > 0;)
    cg_loop_close(c, &outer[k], *slot[o + k]);
  cg_loop_close(c, &lc, p->ch);
  cg_loop_close(c, &lb, p->b);
}

static LLVMValueRef pool_index(Pool *p) {
  return index4(p->q.c, p->b, p->q.ch, p->ch, p->q.oh, p->oh, p->q.ow, p->ow);
}

static void nothing(Pool *p) { (void)p; }

static void start_sum(Pool *p) { LLVMBuildStore(p->q.c->b, cg_f32(p->q.c, 0), p->acc); }

static void start_max(Pool *p) {
  CgCtx *c = p->q.c;
  LLVMBuildStore(c->b, cg_f32(c, -INFINITY), p->acc);
  LLVMBuildStore(c->b, cg_i64(c, -1), p->best);
}


static void sum_tap(Pool *p, LLVMValueRef pixel, LLVMValueRef inside) {
  CgCtx *c = p->q.c;
  LLVMValueRef v = LLVMBuildSelect(c->b, inside, load_at(c, p->q.in, pixel), cg_f32(c, 0), "");
  LLVMBuildStore(c->b, LLVMBuildFAdd(c->b, LLVMBuildLoad2(c->b, c->f32, p->acc, ""), v, ""), p->acc);
}

/* out[pixel] += v where the tap is inside (outside, the clamped pixel gets 0 added) */
static void scatter_add(Pool *p, LLVMValueRef pixel, LLVMValueRef inside, LLVMValueRef v) {
  CgCtx *c = p->q.c;
  v = LLVMBuildSelect(c->b, inside, v, cg_f32(c, 0), "");
  LLVMValueRef at = LLVMBuildGEP2(c->b, c->f32, p->q.out, &pixel, 1, "");
  LLVMBuildStore(c->b, LLVMBuildFAdd(c->b, LLVMBuildLoad2(c->b, c->f32, at, ""), v, ""), at);
}

/* the average's adjoint: each tap receives dy / (kh·kw) */
static void spread_tap(Pool *p, LLVMValueRef pixel, LLVMValueRef inside) {
  CgCtx *c = p->q.c;
  LLVMValueRef g = load_at(c, p->q.in, pool_index(p));
  scatter_add(p, pixel, inside, LLVMBuildFMul(c->b, g, cg_f32(c, 1.0 / (double)(p->q.w.kh * p->q.w.kw)), ""));
}

/* fold: the patch element of this tap back onto its pixel */
static void fold_tap(Pool *p, LLVMValueRef pixel, LLVMValueRef inside) {
  CgCtx *c = p->q.c;
  Win *q = &p->q;
  LLVMValueRef col = add(c, mul(c, add(c, mul(c, p->ch, q->w.kh), p->i), q->w.kw), p->j);
  LLVMValueRef row = add(c, mul(c, add(c, mul(c, p->b, q->oh), p->oh), q->ow), p->ow);
  scatter_add(p, pixel, inside, load_at(c, q->in, add(c, mul(c, row, q->ch * q->w.kh * q->w.kw), col)));
}

/* the window's first maximum: a tap wins when it is inside and greater than the best so far,
 * or the first inside one */
static void max_tap(Pool *p, LLVMValueRef pixel, LLVMValueRef inside) {
  CgCtx *c = p->q.c;
  LLVMValueRef v = load_at(c, p->q.in, pixel);
  LLVMValueRef best = LLVMBuildLoad2(c->b, c->i64, p->best, "");
  LLVMValueRef m = LLVMBuildLoad2(c->b, c->f32, p->acc, "");
  LLVMValueRef better = LLVMBuildOr(c->b, LLVMBuildFCmp(c->b, LLVMRealOGT, v, m, ""),
                                    LLVMBuildICmp(c->b, LLVMIntSLT, best, cg_i64(c, 0), ""), "");
  LLVMValueRef wins = LLVMBuildAnd(c->b, inside, better, "wins");
  LLVMBuildStore(c->b, LLVMBuildSelect(c->b, wins, v, m, ""), p->acc);
  LLVMBuildStore(c->b, LLVMBuildSelect(c->b, wins, pixel, best, ""), p->best);
}

static void store_average(Pool *p) {
  CgCtx *c = p->q.c;
  LLVMValueRef v = LLVMBuildLoad2(c->b, c->f32, p->acc, "");
  v = LLVMBuildFMul(c->b, v, cg_f32(c, 1.0 / (double)(p->q.w.kh * p->q.w.kw)), "avg");
  store_at(c, p->q.out, pool_index(p), v);
}

static void store_max(Pool *p) {
  store_at(p->q.c, p->q.out, pool_index(p), LLVMBuildLoad2(p->q.c->b, p->q.c->f32, p->acc, ""));
}

/* dx[argmax] += dy[window] */
static void route_to_argmax(Pool *p) {
  CgCtx *c = p->q.c;
  LLVMValueRef best = LLVMBuildLoad2(c->b, c->i64, p->best, "");
  LLVMValueRef g = load_at(c, p->dy, pool_index(p));
  LLVMValueRef at = LLVMBuildGEP2(c->b, c->f32, p->q.out, &best, 1, "");
  LLVMBuildStore(c->b, LLVMBuildFAdd(c->b, LLVMBuildLoad2(c->b, c->f32, at, ""), g, ""), at);
}

/* The kernel of a window op over `image` (the source's shape, or the result's for adjoints). */
static void window_kernel(CgCtx *c, const Kernel *k, Pool *p, const Shape *image) {
  win_init(&p->q, c, k, image);
  p->acc = cg_alloca(c, c->f32, "acc");
  p->best = cg_alloca(c, c->i64, "best");
  emit_windows(c, p, image);
}

void cg_fold(CgCtx *c, const Kernel *k) {
  window_kernel(c, k, &(Pool){.first = nothing, .tap = fold_tap, .last = nothing, .scatter = true,
                              .tap_major = true},
                &k->root->shape);
}

void cg_maxpool(CgCtx *c, const Kernel *k) {
  window_kernel(c, k, &(Pool){.first = start_max, .tap = max_tap, .last = store_max},
                &k->root->src[0]->shape);
}

void cg_avgpool(CgCtx *c, const Kernel *k) {
  window_kernel(c, k, &(Pool){.first = start_sum, .tap = sum_tap, .last = store_average},
                &k->root->src[0]->shape);
}

void cg_avgpool_back(CgCtx *c, const Kernel *k) {
  window_kernel(c, k, &(Pool){.first = nothing, .tap = spread_tap, .last = nothing, .scatter = true,
                              .tap_major = true},
                &k->root->shape);
}

/* Windows that tile the image (stride = window, no padding) each own their pixels: the
 * adjoint writes every one of them, dy at the argmax and 0 elsewhere, instead of adding into a
 * zeroed image — stores LLVM can vectorise across windows. */
static bool windows_tile(const Window *w) {
  return w->sh == w->kh && w->sw == w->kw && !(w->pt | w->pl | w->pb | w->pr);
}

static void write_window(Pool *p) {
  CgCtx *c = p->q.c;
  Win *q = &p->q;
  LLVMValueRef best = LLVMBuildLoad2(c->b, c->i64, p->best, "");
  LLVMValueRef g = load_at(c, p->dy, pool_index(p));
  for (int32_t i = 0; i < q->w.kh; i++)
    for (int32_t j = 0; j < q->w.kw; j++) {
      Tap t = tap_at(q, p->oh, p->ow, cg_i64(c, i), cg_i64(c, j));
      LLVMValueRef pixel = index4(c, p->b, q->ch, p->ch, q->h, t.y, q->wd, t.x);
      LLVMValueRef at_best = LLVMBuildICmp(c->b, LLVMIntEQ, pixel, best, "");
      store_at(c, q->out, pixel, LLVMBuildSelect(c->b, at_best, g, cg_f32(c, 0), ""));
    }
}

/* max-pool's adjoint reads the image x (source 0) to find each argmax, and dy (source 1) */
void cg_maxpool_back(CgCtx *c, const Kernel *k) {
  LLVMValueRef off = cg_i64(c, c->p->plan.offset[k->root->src[1]->id]);
  Window w = window_of(k->root->arg.p);
  const Shape *x = &k->root->shape;
  bool tiles = windows_tile(&w);
  /* rows or columns past the last window get no gradient: zeroed first */
  bool covered = tiles && x->dim[2] % w.kh == 0 && x->dim[3] % w.kw == 0;
  Pool p = {.first = start_max, .tap = max_tap, .last = tiles ? write_window : route_to_argmax,
            .scatter = !covered, .dy = LLVMBuildGEP2(c->b, c->f32, c->ws, &off, 1, "dy")};
  window_kernel(c, k, &p, x);
}

/* codegen_window: the kernels of the window ops over images [N, C, H, W] (unfold, fold and the
 * pools with their adjoints), as loop nests whose window geometry is constant.
 *
 * Threads share the images (axis 0): every output element is computed by one part, by the same
 * instructions in the same order whatever the part, so results are bit-identical for any
 * --threads. The gathers (fold, the average's adjoint) sum an output pixel's taps in a fixed
 * order; max-pool's adjoint scatters into its own image only. Taps that fall in the padding read
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

/* The window position (oh, ow) whose tap (i, j) reads pixel (y, x), if any: (y + p − i·d) must
 * be a non-negative multiple of s below the output extent, per axis. */
static Tap window_of_tap(Win *q, LLVMValueRef y, LLVMValueRef x, LLVMValueRef i, LLVMValueRef j) {
  CgCtx *c = q->c;
  LLVMValueRef ty = LLVMBuildSub(c->b, add(c, y, cg_i64(c, q->w.pt)), mul(c, i, q->w.dh), "");
  LLVMValueRef tx = LLVMBuildSub(c->b, add(c, x, cg_i64(c, q->w.pl)), mul(c, j, q->w.dw), "");
  LLVMValueRef oky = LLVMBuildICmp(c->b, LLVMIntSGE, ty, cg_i64(c, 0), "");
  LLVMValueRef okx = LLVMBuildICmp(c->b, LLVMIntSGE, tx, cg_i64(c, 0), "");
  ty = clamp(c, oky, ty), tx = clamp(c, okx, tx);
  LLVMValueRef sh = cg_i64(c, q->w.sh), sw = cg_i64(c, q->w.sw);
  LLVMValueRef oh = LLVMBuildUDiv(c->b, ty, sh, "oh"), ow = LLVMBuildUDiv(c->b, tx, sw, "ow");
  LLVMValueRef exact = LLVMBuildAnd(c->b, LLVMBuildICmp(c->b, LLVMIntEQ, LLVMBuildURem(c->b, ty, sh, ""), cg_i64(c, 0), ""),
                                    LLVMBuildICmp(c->b, LLVMIntEQ, LLVMBuildURem(c->b, tx, sw, ""), cg_i64(c, 0), ""), "");
  LLVMValueRef ok = LLVMBuildAnd(c->b, LLVMBuildAnd(c->b, oky, okx, ""), exact, "");
  ok = LLVMBuildAnd(c->b, ok, LLVMBuildAnd(c->b, in_range(c, oh, q->oh), in_range(c, ow, q->ow), ""), "covers");
  return (Tap){clamp(c, ok, oh), clamp(c, ok, ow), ok};
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

/* A gather onto the image: out[b, ch, y, x] = scale · Σ over the windows (oh, ow) and taps (i, j)
 * that read pixel (y, x), in the order of (i, j), of in[at(b, ch, oh, ow, i, j)]. */
typedef LLVMValueRef GatherIndex(Win *q, LLVMValueRef b, LLVMValueRef ch, LLVMValueRef oh,
                                 LLVMValueRef ow, LLVMValueRef i, LLVMValueRef j);

static void emit_gather(CgCtx *c, const Kernel *k, GatherIndex *at, double scale) {
  Win q;
  const Shape *image = &k->root->shape;
  win_init(&q, c, k, image);
  Loop lb, lc, ly, lx, li, lj;
  LLVMValueRef sum = cg_alloca(c, c->f32, "sum");
  LLVMValueRef b = open_images(c, &lb, image);
  LLVMValueRef ch = cg_loop_open(c, &lc, cg_i64(c, q.ch), "ch");
  LLVMValueRef y = cg_loop_open(c, &ly, cg_i64(c, q.h), "y");
  LLVMValueRef x = cg_loop_open(c, &lx, cg_i64(c, q.wd), "x");
  LLVMBuildStore(c->b, cg_f32(c, 0), sum);
  LLVMValueRef i = cg_loop_open(c, &li, cg_i64(c, q.w.kh), "i");
  LLVMValueRef j = cg_loop_open(c, &lj, cg_i64(c, q.w.kw), "j");
  Tap t = window_of_tap(&q, y, x, i, j);
  LLVMValueRef v = load_at(c, q.in, at(&q, b, ch, t.y, t.x, i, j));
  v = LLVMBuildSelect(c->b, t.ok, v, cg_f32(c, 0), "");
  LLVMBuildStore(c->b, LLVMBuildFAdd(c->b, LLVMBuildLoad2(c->b, c->f32, sum, ""), v, ""), sum);
  cg_loop_close(c, &lj, j);
  cg_loop_close(c, &li, i);
  LLVMValueRef total = LLVMBuildLoad2(c->b, c->f32, sum, "");
  if (scale != 1)
    total = LLVMBuildFMul(c->b, total, cg_f32(c, scale), "");
  store_at(c, q.out, index4(c, b, q.ch, ch, q.h, y, q.wd, x), total);
  cg_loop_close(c, &lx, x);
  cg_loop_close(c, &ly, y);
  cg_loop_close(c, &lc, ch);
  cg_loop_close(c, &lb, b);
}

static LLVMValueRef patch_at(Win *q, LLVMValueRef b, LLVMValueRef ch, LLVMValueRef oh,
                             LLVMValueRef ow, LLVMValueRef i, LLVMValueRef j) {
  CgCtx *c = q->c;
  LLVMValueRef col = add(c, mul(c, add(c, mul(c, ch, q->w.kh), i), q->w.kw), j);
  return add(c, mul(c, add(c, mul(c, add(c, mul(c, b, q->oh), oh), q->ow), ow),
                    q->ch * q->w.kh * q->w.kw), col);
}

static LLVMValueRef pooled_at(Win *q, LLVMValueRef b, LLVMValueRef ch, LLVMValueRef oh,
                              LLVMValueRef ow, LLVMValueRef i, LLVMValueRef j) {
  (void)i, (void)j;
  return index4(q->c, b, q->ch, ch, q->oh, oh, q->ow, ow);
}

/* the image's pixels summed from every patch that copied them */
void cg_fold(CgCtx *c, const Kernel *k) { emit_gather(c, k, patch_at, 1); }

/* each pixel receives dy / (kh·kw) from every window that averaged it */
void cg_avgpool_back(CgCtx *c, const Kernel *k) {
  Window w = window_of(k->root->arg.p);
  emit_gather(c, k, pooled_at, 1.0 / (double)(w.kh * w.kw));
}

/* One pass over the windows of this part's images: for each, `first` before its taps, `tap` for
 * each tap (i, j) that lies inside the image, `last` after them. */
typedef struct Pool Pool;
struct Pool {
  Win q;
  LLVMValueRef b, ch, oh, ow, acc, best;
  void (*first)(Pool *p);
  void (*tap)(Pool *p, LLVMValueRef pixel, LLVMValueRef v, LLVMValueRef inside);
  void (*last)(Pool *p);
  LLVMValueRef dy; /* max-pool's adjoint: &ws[...] of dy */
};

static void emit_windows(CgCtx *c, Pool *p, const Shape *image) {
  Loop lb, lc, loh, low, li, lj;
  Win *q = &p->q;
  p->b = open_images(c, &lb, image);
  p->ch = cg_loop_open(c, &lc, cg_i64(c, q->ch), "ch");
  if (p->dy) /* the adjoint scatters into this image's planes: zero them first */ {
    Loop lz;
    LLVMValueRef plane = mul(c, add(c, mul(c, p->b, q->ch), p->ch), q->h * q->wd);
    LLVMValueRef z = cg_loop_open(c, &lz, cg_i64(c, q->h * q->wd), "z");
    store_at(c, q->out, add(c, plane, z), cg_f32(c, 0));
    cg_loop_close(c, &lz, z);
  }
  p->oh = cg_loop_open(c, &loh, cg_i64(c, q->oh), "oh");
  p->ow = cg_loop_open(c, &low, cg_i64(c, q->ow), "ow");
  p->first(p);
  LLVMValueRef i = cg_loop_open(c, &li, cg_i64(c, q->w.kh), "i");
  LLVMValueRef j = cg_loop_open(c, &lj, cg_i64(c, q->w.kw), "j");
  Tap t = tap_at(q, p->oh, p->ow, i, j);
  LLVMValueRef pixel = index4(c, p->b, q->ch, p->ch, q->h, t.y, q->wd, t.x);
  p->tap(p, pixel, load_at(c, q->in, pixel), t.ok);
  cg_loop_close(c, &lj, j);
  cg_loop_close(c, &li, i);
  p->last(p);
  cg_loop_close(c, &low, p->ow);
  cg_loop_close(c, &loh, p->oh);
  cg_loop_close(c, &lc, p->ch);
  cg_loop_close(c, &lb, p->b);
}

static LLVMValueRef pool_index(Pool *p) {
  return index4(p->q.c, p->b, p->q.ch, p->ch, p->q.oh, p->oh, p->q.ow, p->ow);
}

static void start_sum(Pool *p) { LLVMBuildStore(p->q.c->b, cg_f32(p->q.c, 0), p->acc); }

static void start_max(Pool *p) {
  CgCtx *c = p->q.c;
  LLVMBuildStore(c->b, cg_f32(c, -INFINITY), p->acc);
  LLVMBuildStore(c->b, cg_i64(c, -1), p->best);
}

static void sum_tap(Pool *p, LLVMValueRef pixel, LLVMValueRef v, LLVMValueRef inside) {
  CgCtx *c = p->q.c;
  (void)pixel;
  v = LLVMBuildSelect(c->b, inside, v, cg_f32(c, 0), "");
  LLVMBuildStore(c->b, LLVMBuildFAdd(c->b, LLVMBuildLoad2(c->b, c->f32, p->acc, ""), v, ""), p->acc);
}

/* the window's first maximum: a tap wins when it is inside and greater than the best so far,
 * or the first inside one */
static void max_tap(Pool *p, LLVMValueRef pixel, LLVMValueRef v, LLVMValueRef inside) {
  CgCtx *c = p->q.c;
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

static void pool_kernel(CgCtx *c, const Kernel *k, Pool *p, const Shape *image) {
  win_init(&p->q, c, k, image);
  p->acc = cg_alloca(c, c->f32, "acc");
  p->best = cg_alloca(c, c->i64, "best");
  emit_windows(c, p, image);
}

void cg_maxpool(CgCtx *c, const Kernel *k) {
  pool_kernel(c, k, &(Pool){.first = start_max, .tap = max_tap, .last = store_max},
              &k->root->src[0]->shape);
}

void cg_avgpool(CgCtx *c, const Kernel *k) {
  pool_kernel(c, k, &(Pool){.first = start_sum, .tap = sum_tap, .last = store_average},
              &k->root->src[0]->shape);
}

void cg_maxpool_back(CgCtx *c, const Kernel *k) {
  LLVMValueRef off = cg_i64(c, c->p->plan.offset[k->root->src[1]->id]);
  Pool p = {.first = start_max, .tap = max_tap, .last = route_to_argmax,
            .dy = LLVMBuildGEP2(c->b, c->f32, c->ws, &off, 1, "dy")};
  pool_kernel(c, k, &p, &k->root->shape);
}

/* codegen_window: the kernels of the window ops over images [N, C, H, W] (unfold, fold and the
 * pools with their adjoints), as loop nests whose window geometry is constant. Images stored
 * channels last (Window.last) have kernels of their own in codegen_window_last.c; the general
 * pool loops below serve both layouts (the average pool, and pools too large for those).
 *
 * Threads share the images (axis 0): every output element is computed by one part, by the same
 * instructions in the same order whatever the part, so results are bit-identical for any
 * --threads. The adjoints (fold, the pools' adjoints) scatter into their own image only, in a
 * fixed order (fold at stride 1 sums each pixel's taps in that same order, pixel by pixel).
 * Taps that fall in the padding read a clamped, always valid address and are then replaced
 * (by 0, or skipped for max), so no load goes out of bounds and the loops have no branches
 * LLVM cannot flatten; unfold and fold branch per window or pixel only, to the taps of those
 * that lie inside the image, which need no clamps. */
#include "codegen_internal.h"

#include <math.h>
#include <string.h>

typedef struct {
  CgCtx *c;
  Window w;
  int64_t ch, h, wd, oh, ow; /* the image's extents and the window's output extents */
  LLVMValueRef in, out;      /* &ws[...] of source 0 and of the result */
  bool unpadded;             /* every tap of every window lies inside the image */
} Win;

static void win_init(Win *q, CgCtx *c, const Kernel *k, const Shape *image) {
  const Node *n = k->root;
  q->c = c;
  q->w = window_of(n->arg.p);
  ImageAxes ax = window_axes(&q->w);
  q->ch = image->dim[ax.c], q->h = image->dim[ax.h], q->wd = image->dim[ax.w];
  q->oh = window_extent(q->h, q->w.kh, q->w.sh, q->w.pt, q->w.pb, q->w.dh);
  q->ow = window_extent(q->wd, q->w.kw, q->w.sw, q->w.pl, q->w.pr, q->w.dw);
  q->unpadded = !(q->w.pt | q->w.pl | q->w.pb | q->w.pr);
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

static LLVMValueRef gep(CgCtx *c, LLVMValueRef base, LLVMValueRef i) {
  return LLVMBuildGEP2(c->b, c->f32, base, &i, 1, "");
}

static LLVMValueRef load_at(CgCtx *c, LLVMValueRef base, LLVMValueRef i) {
  return LLVMBuildLoad2(c->b, c->f32, gep(c, base, i), "");
}

static void store_at(CgCtx *c, LLVMValueRef base, LLVMValueRef i, LLVMValueRef v) {
  LLVMBuildStore(c->b, v, gep(c, base, i));
}

/* Element (b, ch, y, x) of an image h × w in the window's layout (a pool's result: oh × ow). */
static LLVMValueRef image_at(Win *q, LLVMValueRef b, LLVMValueRef ch, LLVMValueRef y, int64_t h,
                             LLVMValueRef x, int64_t w) {
  CgCtx *c = q->c;
  return q->w.last ? index4(c, b, h, y, w, x, q->ch, ch) : index4(c, b, q->ch, ch, h, y, w, x);
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
  if (q->unpadded)
    return (Tap){y, x, LLVMConstInt(LLVMInt1TypeInContext(c->ctx), 1, 0)};
  LLVMValueRef ok = LLVMBuildAnd(c->b, in_range(c, y, q->h), in_range(c, x, q->wd), "inside");
  return (Tap){clamp(c, ok, y), clamp(c, ok, x), ok};
}

/* ⌊a / b⌋ for b > 0 */
static int64_t floor_div(int64_t a, int64_t b) { return a / b - (a % b < 0); }

/* The windows [*lo, *hi) along an axis whose every tap lies inside [0, in): o·s − pad >= 0 and
 * o·s − pad + (k − 1)·d <= in − 1 (empty when *lo >= *hi). */
static void interior(int64_t in, int64_t out, int32_t k, int32_t s, int32_t pad, int32_t d,
                     int64_t *lo, int64_t *hi) {
  *lo = floor_div(pad + s - 1, s);
  *hi = floor_div(in - 1 + pad - (int64_t)(k - 1) * d, s) + 1;
  *hi = *hi < out ? *hi : out;
}

/* unfold's channel loop for one window: a pointer to the channel's plane that steps by H·W and
 * one to the patch row's taps of that channel that steps by kh·kw, each tap loaded at an offset
 * from the plane pointer that is the same for every channel — a constant from the window's
 * corner when the window lies `inside` the image (`plane` then points at the corner), else the
 * tap's clamped pixel, replaced by 0 in the padding. So no tap costs a multiply (target.c
 * turns off LLVM's loop strength reduction, which used to find this). Kept scalar: vectorised
 * across the channels, the loads would be gathers H·W floats apart. */
static void unfold_channels(Win *q, LLVMValueRef plane, LLVMValueRef patch, LLVMValueRef oh,
                            LLVMValueRef ow, bool inside) {
  CgCtx *c = q->c;
  LLVMValueRef src = cg_alloca(c, c->ptr, "plane"), dst = cg_alloca(c, c->ptr, "taps");
  LLVMBuildStore(c->b, plane, src);
  LLVMBuildStore(c->b, patch, dst);
  Loop lc, li, lj;
  LLVMValueRef ch = cg_loop_open(c, &lc, cg_i64(c, q->ch), "ch");
  LLVMValueRef s = LLVMBuildLoad2(c->b, c->ptr, src, ""), d = LLVMBuildLoad2(c->b, c->ptr, dst, "");
  LLVMValueRef i = cg_loop_open(c, &li, cg_i64(c, q->w.kh), "i");
  LLVMValueRef j = cg_loop_open(c, &lj, cg_i64(c, q->w.kw), "j");
  LLVMValueRef v;
  if (inside) {
    v = load_at(c, s, add(c, mul(c, i, q->w.dh * q->wd), mul(c, j, q->w.dw)));
  } else {
    Tap t = tap_at(q, oh, ow, i, j);
    v = load_at(c, s, add(c, mul(c, t.y, q->wd), t.x));
    v = LLVMBuildSelect(c->b, t.ok, v, cg_f32(c, 0), "");
  }
  store_at(c, d, add(c, mul(c, i, q->w.kw), j), v);
  cg_loop_close(c, &lj, j);
  cg_loop_close(c, &li, i);
  LLVMValueRef plane_step = cg_i64(c, q->h * q->wd), taps_step = cg_i64(c, q->w.kh * q->w.kw);
  LLVMBuildStore(c->b, gep(c, s, plane_step), src);
  LLVMBuildStore(c->b, gep(c, d, taps_step), dst);
  cg_keep_scalar(c, cg_loop_close(c, &lc, ch));
}

/* lo[0] <= y < hi[0] and lo[1] <= x < hi[1] */
static LLVMValueRef in_box(CgCtx *c, LLVMValueRef y, LLVMValueRef x, const int64_t *lo,
                           const int64_t *hi) {
  LLVMValueRef in_y = in_range(c, LLVMBuildSub(c->b, y, cg_i64(c, lo[0]), ""), hi[0] - lo[0]);
  LLVMValueRef in_x = in_range(c, LLVMBuildSub(c->b, x, cg_i64(c, lo[1]), ""), hi[1] - lo[1]);
  return LLVMBuildAnd(c->b, in_y, in_x, "inside");
}

/* if (inside) { …the code emitted next… } else { …the code emitted after branch_else… }:
 * branch_on emits the test and leaves the builder in the inside branch; branch_else ends it
 * and enters the other; branch_end joins them. */
typedef struct {
  LLVMBasicBlockRef other, done;
} Branch;

static Branch branch_on(CgCtx *c, LLVMValueRef inside) {
  LLVMBasicBlockRef fast = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "inside");
  Branch br = {LLVMAppendBasicBlockInContext(c->ctx, c->fn, "border"),
               LLVMAppendBasicBlockInContext(c->ctx, c->fn, "joined")};
  LLVMBuildCondBr(c->b, inside, fast, br.other);
  LLVMPositionBuilderAtEnd(c->b, fast);
  return br;
}

static void branch_else(CgCtx *c, Branch br) {
  LLVMBuildBr(c->b, br.done);
  LLVMPositionBuilderAtEnd(c->b, br.other);
}

static void branch_end(CgCtx *c, Branch br) {
  LLVMBuildBr(c->b, br.done);
  LLVMPositionBuilderAtEnd(c->b, br.done);
}

/* patches[b, oh, ow, (ch·kh + i)·kw + j] = image[b, ch, y, x], or 0 in the padding. The
 * windows that lie inside the image take the branch without clamps or selects. */
void cg_unfold(CgCtx *c, const Kernel *k) {
  if (window_of(k->root->arg.p).last) {
    cg_unfold_last(c, k);
    return;
  }
  Win q;
  const Shape *image = &k->root->src[0]->shape;
  win_init(&q, c, k, image);
  int64_t lo[2], hi[2];
  interior(q.h, q.oh, q.w.kh, q.w.sh, q.w.pt, q.w.dh, &lo[0], &hi[0]);
  interior(q.wd, q.ow, q.w.kw, q.w.sw, q.w.pl, q.w.dw, &lo[1], &hi[1]);
  bool some_inside = lo[0] < hi[0] && lo[1] < hi[1];
  Loop lb, loh, low;
  LLVMValueRef b = open_images(c, &lb, image);
  LLVMValueRef oh = cg_loop_open(c, &loh, cg_i64(c, q.oh), "oh");
  LLVMValueRef ow = cg_loop_open(c, &low, cg_i64(c, q.ow), "ow");
  LLVMValueRef window = add(c, mul(c, add(c, mul(c, b, q.oh), oh), q.ow), ow);
  LLVMValueRef patch = gep(c, q.out, mul(c, window, q.ch * q.w.kh * q.w.kw));
  LLVMValueRef plane = gep(c, q.in, mul(c, b, q.ch * q.h * q.wd));
  bool split = !q.unpadded && some_inside; /* windows inside the image, and others */
  Branch br = split ? branch_on(c, in_box(c, oh, ow, lo, hi)) : (Branch){0};
  if (q.unpadded || some_inside) {
    LLVMValueRef y = LLVMBuildSub(c->b, mul(c, oh, q.w.sh), cg_i64(c, q.w.pt), "");
    LLVMValueRef x = LLVMBuildSub(c->b, mul(c, ow, q.w.sw), cg_i64(c, q.w.pl), "");
    unfold_channels(&q, gep(c, plane, add(c, mul(c, y, q.wd), x)), patch, oh, ow, true);
  }
  if (split)
    branch_else(c, br);
  if (!q.unpadded)
    unfold_channels(&q, plane, patch, oh, ow, false);
  if (split)
    branch_end(c, br);
  cg_loop_close(c, &low, ow);
  cg_loop_close(c, &loh, oh);
  cg_loop_close(c, &lb, b);
}

/* fold's prefetch: this many windows ahead of the cell a pixel reads first, on the newest row
 * of windows (the rows above it were read for the pixels above) */
enum { FOLD_AHEAD = 2 };

/* A hint to read the cache line at p (which may lie outside the workspace: it does not fault) */
static void prefetch(CgCtx *c, LLVMValueRef p) {
  LLVMTypeRef ptr = c->ptr;
  unsigned id = LLVMLookupIntrinsicID("llvm.prefetch", 13);
  LLVMTypeRef ty = LLVMIntrinsicGetType(c->ctx, id, &ptr, 1);
  LLVMValueRef args[4] = {p, LLVMConstInt(c->i32, 0, 0), LLVMConstInt(c->i32, 3, 0),
                          LLVMConstInt(c->i32, 1, 0)};
  LLVMBuildCall2(c->b, ty, LLVMGetIntrinsicDeclaration(c->mod, id, &ptr, 1), args, 4, "");
}

/* fold at stride 1, pixel by pixel: the cells of a pixel's taps summed in a register in
 * ascending tap order ((i, j), the order in which the tap-major kernel below adds them onto
 * the zeroed image, so the same bits: a tap in the padding adds 0, which changes no bits of a
 * sum that starts at +0), the pixel written once. Tap (i, j) of pixel (y, x) is in window
 * (y + pt − i·dh, x + pl − j·dw); a pixel whose every tap has its window (`inside`) finds its
 * cells at constant offsets from that of tap (0, 0), others at clamped windows whose cells are
 * replaced by 0. The cell pointer steps by kh·kw a channel, the pixel's by H·W; the patches are
 * read in ascending order (window-major in the other direction, each pixel's sum would have to
 * go through its windows backwards, which the prefetchers do not follow: 2.5× slower). */
static void fold_channels(Win *q, LLVMValueRef pixel, LLVMValueRef cells, LLVMValueRef y,
                          LLVMValueRef x, bool inside) {
  CgCtx *c = q->c;
  int64_t kk = q->w.kh * q->w.kw, ckk = q->ch * kk;
  LLVMValueRef src = cg_alloca(c, c->ptr, "cells"), dst = cg_alloca(c, c->ptr, "pixel");
  LLVMValueRef acc = cg_alloca(c, c->f32, "sum");
  LLVMBuildStore(c->b, cells, src);
  LLVMBuildStore(c->b, pixel, dst);
  Loop lc, li, lj;
  LLVMValueRef ch = cg_loop_open(c, &lc, cg_i64(c, q->ch), "ch");
  LLVMValueRef s = LLVMBuildLoad2(c->b, c->ptr, src, ""), d = LLVMBuildLoad2(c->b, c->ptr, dst, "");
  LLVMBuildStore(c->b, cg_f32(c, 0), acc);
  if (inside)
    prefetch(c, gep(c, s, cg_i64(c, FOLD_AHEAD * ckk)));
  LLVMValueRef i = cg_loop_open(c, &li, cg_i64(c, q->w.kh), "i");
  LLVMValueRef j = cg_loop_open(c, &lj, cg_i64(c, q->w.kw), "j");
  LLVMValueRef tap = add(c, mul(c, i, q->w.kw), j), v;
  if (inside) {
    LLVMValueRef back = add(c, mul(c, i, q->w.dh * q->ow * ckk), mul(c, j, q->w.dw * ckk));
    v = load_at(c, s, LLVMBuildSub(c->b, tap, back, ""));
  } else {
    LLVMValueRef oh = LLVMBuildSub(c->b, cg_i64(c, q->w.pt), mul(c, i, q->w.dh), "");
    LLVMValueRef ow = LLVMBuildSub(c->b, cg_i64(c, q->w.pl), mul(c, j, q->w.dw), "");
    oh = add(c, y, oh), ow = add(c, x, ow);
    LLVMValueRef ok = LLVMBuildAnd(c->b, in_range(c, oh, q->oh), in_range(c, ow, q->ow), "");
    LLVMValueRef window = add(c, mul(c, clamp(c, ok, oh), q->ow), clamp(c, ok, ow));
    v = load_at(c, s, add(c, mul(c, window, ckk), tap));
    v = LLVMBuildSelect(c->b, ok, v, cg_f32(c, 0), "");
  }
  LLVMBuildStore(c->b, LLVMBuildFAdd(c->b, LLVMBuildLoad2(c->b, c->f32, acc, ""), v, ""), acc);
  cg_loop_close(c, &lj, j);
  cg_loop_close(c, &li, i);
  LLVMBuildStore(c->b, LLVMBuildLoad2(c->b, c->f32, acc, ""), d);
  LLVMBuildStore(c->b, gep(c, s, cg_i64(c, kk)), src);
  LLVMBuildStore(c->b, gep(c, d, cg_i64(c, q->h * q->wd)), dst);
  cg_keep_scalar(c, cg_loop_close(c, &lc, ch));
}

/* fold at stride 1 (above): this part's images, pixel by pixel */
static void fold_pixels(CgCtx *c, const Kernel *k) {
  Win q;
  const Shape *image = &k->root->shape;
  win_init(&q, c, k, image);
  /* the pixels [lo, hi) along an axis whose every tap has its window: y + pt − (k − 1)·d >= 0
   * and y + pt < OH */
  int64_t lo[2] = {(int64_t)(q.w.kh - 1) * q.w.dh - q.w.pt,
                   (int64_t)(q.w.kw - 1) * q.w.dw - q.w.pl};
  int64_t hi[2] = {q.oh - q.w.pt, q.ow - q.w.pl};
  lo[0] = lo[0] > 0 ? lo[0] : 0, lo[1] = lo[1] > 0 ? lo[1] : 0;
  hi[0] = hi[0] < q.h ? hi[0] : q.h, hi[1] = hi[1] < q.wd ? hi[1] : q.wd;
  bool all_inside = lo[0] == 0 && lo[1] == 0 && hi[0] == q.h && hi[1] == q.wd;
  bool some_inside = lo[0] < hi[0] && lo[1] < hi[1];
  Loop lb, ly, lx;
  LLVMValueRef b = open_images(c, &lb, image);
  LLVMValueRef y = cg_loop_open(c, &ly, cg_i64(c, q.h), "y");
  LLVMValueRef x = cg_loop_open(c, &lx, cg_i64(c, q.wd), "x");
  LLVMValueRef pixel = gep(c, q.out, index4(c, b, q.ch, cg_i64(c, 0), q.h, y, q.wd, x));
  LLVMValueRef cells = gep(c, q.in, mul(c, b, q.oh * q.ow * q.ch * q.w.kh * q.w.kw));
  bool split = !all_inside && some_inside;
  Branch br = split ? branch_on(c, in_box(c, y, x, lo, hi)) : (Branch){0};
  if (some_inside) {
    LLVMValueRef oh = add(c, y, cg_i64(c, q.w.pt)), ow = add(c, x, cg_i64(c, q.w.pl));
    LLVMValueRef window = add(c, mul(c, oh, q.ow), ow);
    fold_channels(&q, pixel, gep(c, cells, mul(c, window, q.ch * q.w.kh * q.w.kw)), y, x, true);
  }
  if (split)
    branch_else(c, br);
  if (!all_inside)
    fold_channels(&q, pixel, cells, y, x, false);
  if (split)
    branch_end(c, br);
  cg_loop_close(c, &lx, x);
  cg_loop_close(c, &ly, y);
  cg_loop_close(c, &lb, b);
}

/* One pass over the windows of this part's images, channel by channel: `first` before a
 * window's taps, `tap` for each of its taps, `last` after them. The adjoints scatter into their
 * image (its planes zeroed first, so each sums in a fixed order, one channel's plane in cache);
 * those that need no whole window at once (a strided fold, the average's adjoint) go tap by
 * tap over the windows that have the tap inside the image, so that no add waits for the one
 * before it to store the same pixel and no tap needs a mask. */
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
  LLVMValueRef z = cg_loop_open(c, &lz, cg_i64(c, q->h * q->wd), "z");
  store_at(c, q->out, image_at(q, p->b, p->ch, cg_i64(c, 0), 1, z, q->h * q->wd), cg_f32(c, 0));
  cg_loop_close(c, &lz, z);
}

/* The windows [lo, hi) along one axis whose tap k (at offset k·d from the window's start
 * o·s − pad) lies inside [0, in): o·s − pad + k·d >= 0 and <= in − 1. */
static void inside_range(CgCtx *c, LLVMValueRef k, int64_t in, int64_t out, int32_t s,
                         int32_t pad, int32_t d, LLVMValueRef *lo, LLVMValueRef *hi) {
  LLVMValueRef a = LLVMBuildSub(c->b, cg_i64(c, pad), mul(c, k, d), "");
  LLVMValueRef up = LLVMBuildSDiv(c->b, add(c, a, cg_i64(c, s - 1)), cg_i64(c, s), "");
  *lo = LLVMBuildSelect(c->b, LLVMBuildICmp(c->b, LLVMIntSGT, a, cg_i64(c, 0), ""), up, cg_i64(c, 0), "lo");
  LLVMValueRef b = add(c, a, cg_i64(c, in - 1));
  LLVMValueRef last = add(c, LLVMBuildSDiv(c->b, b, cg_i64(c, s), ""), cg_i64(c, 1));
  last = LLVMBuildSelect(c->b, LLVMBuildICmp(c->b, LLVMIntSLT, b, cg_i64(c, 0), ""), cg_i64(c, 0), last, "");
  *hi = LLVMBuildSelect(c->b, LLVMBuildICmp(c->b, LLVMIntSLT, last, cg_i64(c, out), ""), last, cg_i64(c, out), "hi");
}

static void emit_windows(CgCtx *c, Pool *p, const Shape *image) {
  Loop lb, lc, outer[2], inner[2];
  Win *q = &p->q;
  p->b = open_images(c, &lb, image);
  p->ch = cg_loop_open(c, &lc, cg_i64(c, q->ch), "ch");
  if (p->scatter)
    zero_plane(c, p);
  if (p->tap_major) { /* each tap over the windows that have it inside: no tap to mask */
    p->i = cg_loop_open(c, &outer[0], cg_i64(c, q->w.kh), "i");
    p->j = cg_loop_open(c, &outer[1], cg_i64(c, q->w.kw), "j");
    LLVMValueRef lo[2], hi[2];
    inside_range(c, p->i, q->h, q->oh, q->w.sh, q->w.pt, q->w.dh, &lo[0], &hi[0]);
    inside_range(c, p->j, q->wd, q->ow, q->w.sw, q->w.pl, q->w.dw, &lo[1], &hi[1]);
    p->first(p);
    p->oh = cg_loop_open_range(c, &inner[0], lo[0], hi[0], "oh");
    p->ow = cg_loop_open_range(c, &inner[1], lo[1], hi[1], "ow");
    bool unpadded = q->unpadded;
    q->unpadded = true;
    Tap t = tap_at(q, p->oh, p->ow, p->i, p->j);
    q->unpadded = unpadded;
    p->tap(p, image_at(q, p->b, p->ch, t.y, q->h, t.x, q->wd), t.ok);
    cg_loop_close(c, &inner[1], p->ow);
    cg_loop_close(c, &inner[0], p->oh);
    p->last(p);
    cg_loop_close(c, &outer[1], p->j);
    cg_loop_close(c, &outer[0], p->i);
  } else {
    p->oh = cg_loop_open(c, &outer[0], cg_i64(c, q->oh), "oh");
    p->ow = cg_loop_open(c, &outer[1], cg_i64(c, q->ow), "ow");
    p->first(p);
    p->i = cg_loop_open(c, &inner[0], cg_i64(c, q->w.kh), "i");
    p->j = cg_loop_open(c, &inner[1], cg_i64(c, q->w.kw), "j");
    Tap t = tap_at(q, p->oh, p->ow, p->i, p->j);
    p->tap(p, image_at(q, p->b, p->ch, t.y, q->h, t.x, q->wd), t.ok);
    cg_loop_close(c, &inner[1], p->j);
    cg_loop_close(c, &inner[0], p->i);
    p->last(p);
    cg_loop_close(c, &outer[1], p->ow);
    cg_loop_close(c, &outer[0], p->oh);
  }
  cg_loop_close(c, &lc, p->ch);
  cg_loop_close(c, &lb, p->b);
}

static LLVMValueRef pool_index(Pool *p) {
  return image_at(&p->q, p->b, p->ch, p->oh, p->q.oh, p->ow, p->q.ow);
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
  LLVMValueRef col = q->w.last
    ? add(c, mul(c, add(c, mul(c, p->i, q->w.kw), p->j), q->ch), p->ch)
    : add(c, mul(c, add(c, mul(c, p->ch, q->w.kh), p->i), q->w.kw), p->j);
  LLVMValueRef row = add(c, mul(c, add(c, mul(c, p->b, q->oh), p->oh), q->ow), p->ow);
  scatter_add(p, pixel, inside, load_at(c, q->in, add(c, mul(c, row, q->ch * q->w.kh * q->w.kw), col)));
}

/* the window's first maximum: a tap wins when it is inside and greater than the best so far,
 * or the first inside one (without padding, tap (0, 0)) */
static void max_tap(Pool *p, LLVMValueRef pixel, LLVMValueRef inside) {
  CgCtx *c = p->q.c;
  LLVMValueRef v = load_at(c, p->q.in, pixel);
  LLVMValueRef best = LLVMBuildLoad2(c->b, c->i64, p->best, "");
  LLVMValueRef m = LLVMBuildLoad2(c->b, c->f32, p->acc, "");
  LLVMValueRef first = p->q.unpadded
    ? LLVMBuildICmp(c->b, LLVMIntEQ, LLVMBuildOr(c->b, p->i, p->j, ""), cg_i64(c, 0), "")
    : LLVMBuildICmp(c->b, LLVMIntSLT, best, cg_i64(c, 0), "");
  LLVMValueRef better = LLVMBuildOr(c->b, LLVMBuildFCmp(c->b, LLVMRealOGT, v, m, ""), first, "");
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

/* Windows that tile the image (stride = window, no padding or dilation) and are one or two
 * pixels wide are computed ROW_LANES windows at a time along a row of windows: each of the
 * window's rows is one load of kw·ROW_LANES pixels, split into its taps by shuffles, and the
 * taps are compared as vectors in the scalar kernel's order (the first maximum wins), so the
 * results are the same bits. The last chunk of a row masks the lanes past its end. */
enum { ROW_LANES = 8 };

static bool rows_vectorize(const Window *w) {
  return w->sh == w->kh && w->sw == w->kw && !(w->pt | w->pl | w->pb | w->pr) && w->dh == 1 &&
         w->dw == 1 && (w->kw == 1 || w->kw == 2) && w->kh * w->kw <= 16;
}

static LLVMTypeRef fvec(CgCtx *c, int n) { return LLVMVectorType(c->f32, (unsigned)n); }

static LLVMValueRef first_lanes(CgCtx *c, int n, int lanes) {
  LLVMValueRef bit[2 * ROW_LANES];
  for (int l = 0; l < n; l++)
    bit[l] = LLVMConstInt(LLVMInt1TypeInContext(c->ctx), l < lanes, 0);
  return LLVMConstVector(bit, (unsigned)n);
}

static LLVMValueRef masked(CgCtx *c, const char *name, int n, LLVMTypeRef *fn_ty) {
  LLVMTypeRef types[2] = {fvec(c, n), LLVMPointerTypeInContext(c->ctx, 0)};
  unsigned id = LLVMLookupIntrinsicID(name, strlen(name));
  *fn_ty = LLVMIntrinsicGetType(c->ctx, id, types, 2);
  return LLVMGetIntrinsicDeclaration(c->mod, id, types, 2);
}

/* n floats at base[i], of which the first `lanes` are read (the rest are 0) */
LLVMValueRef cg_load_lanes(CgCtx *c, LLVMValueRef base, LLVMValueRef i, int n, int lanes) {
  LLVMValueRef at = LLVMBuildGEP2(c->b, c->f32, base, &i, 1, "");
  if (lanes == n) {
    LLVMValueRef v = LLVMBuildLoad2(c->b, fvec(c, n), at, "");
    LLVMSetAlignment(v, 4);
    return v;
  }
  LLVMTypeRef ty;
  LLVMValueRef fn = masked(c, "llvm.masked.load", n, &ty);
  LLVMValueRef args[4] = {at, LLVMConstInt(c->i32, 4, 0), first_lanes(c, n, lanes),
                          LLVMConstNull(fvec(c, n))};
  return LLVMBuildCall2(c->b, ty, fn, args, 4, "");
}

void cg_store_lanes(CgCtx *c, LLVMValueRef base, LLVMValueRef i, LLVMValueRef v, int n, int lanes) {
  LLVMValueRef at = LLVMBuildGEP2(c->b, c->f32, base, &i, 1, "");
  if (lanes == n) {
    LLVMSetAlignment(LLVMBuildStore(c->b, v, at), 4);
    return;
  }
  LLVMTypeRef ty;
  LLVMValueRef fn = masked(c, "llvm.masked.store", n, &ty);
  LLVMValueRef args[4] = {v, at, LLVMConstInt(c->i32, 4, 0), first_lanes(c, n, lanes)};
  LLVMBuildCall2(c->b, ty, fn, args, 4, "");
}

/* lanes first, first + step, … of a and b (concatenated), n of them */
static LLVMValueRef pick(CgCtx *c, LLVMValueRef a, LLVMValueRef b, int n, int first, int step) {
  LLVMValueRef idx[2 * ROW_LANES];
  for (int l = 0; l < n; l++)
    idx[l] = LLVMConstInt(c->i32, (unsigned long long)(first + l * step), 0);
  return LLVMBuildShuffleVector(c->b, a, b, LLVMConstVector(idx, (unsigned)n), "");
}

/* a0 b0 a1 b1 …: two taps' lanes back into one row of pixels */
static LLVMValueRef interleave(CgCtx *c, LLVMValueRef a, LLVMValueRef b) {
  LLVMValueRef idx[2 * ROW_LANES];
  for (int l = 0; l < 2 * ROW_LANES; l++)
    idx[l] = LLVMConstInt(c->i32, (unsigned long long)(l / 2 + (l % 2) * ROW_LANES), 0);
  return LLVMBuildShuffleVector(c->b, a, b, LLVMConstVector(idx, 2 * ROW_LANES), "");
}

typedef struct {
  Win q;
  LLVMValueRef b, ch, oh, dy; /* dy: max-pool's adjoint */
  LLVMValueRef tap[16];       /* this chunk's taps, row-major over the window */
  LLVMValueRef max, arg;      /* the first maximum and its tap, per lane */
} RowChunk;

static void load_taps(RowChunk *r, int64_t ow0, int lanes) {
  Win *q = &r->q;
  CgCtx *c = q->c;
  int kw = q->w.kw, n = kw * ROW_LANES;
  for (int i = 0; i < q->w.kh; i++) {
    LLVMValueRef y = add(c, mul(c, r->oh, q->w.kh), cg_i64(c, i));
    LLVMValueRef px = index4(c, r->b, q->ch, r->ch, q->h, y, q->wd, cg_i64(c, ow0 * kw));
    LLVMValueRef row = cg_load_lanes(c, q->in, px, n, kw * lanes);
    for (int j = 0; j < kw; j++)
      r->tap[i * kw + j] = kw == 1 ? row : pick(c, row, row, ROW_LANES, j, kw);
  }
  LLVMTypeRef iv = LLVMVectorType(c->i32, ROW_LANES);
  r->max = r->tap[0];
  r->arg = LLVMConstNull(iv);
  for (int t = 1; t < q->w.kh * kw; t++) {
    LLVMValueRef wins = LLVMBuildFCmp(c->b, LLVMRealOGT, r->tap[t], r->max, "");
    r->max = LLVMBuildSelect(c->b, wins, r->tap[t], r->max, "");
    LLVMValueRef tv[ROW_LANES];
    for (int l = 0; l < ROW_LANES; l++)
      tv[l] = LLVMConstInt(c->i32, (unsigned long long)t, 0);
    r->arg = LLVMBuildSelect(c->b, wins, LLVMConstVector(tv, ROW_LANES), r->arg, "");
  }
}

static LLVMValueRef window_index(RowChunk *r, int64_t ow0) {
  Win *q = &r->q;
  return index4(q->c, r->b, q->ch, r->ch, q->oh, r->oh, q->ow, cg_i64(q->c, ow0));
}

static void store_maxima(RowChunk *r, int64_t ow0, int lanes) {
  cg_store_lanes(r->q.c, r->q.out, window_index(r, ow0), r->max, ROW_LANES, lanes);
}

/* each window's row i: dy at its argmax tap, 0 at the others */
static void store_routed(RowChunk *r, int64_t ow0, int lanes) {
  Win *q = &r->q;
  CgCtx *c = q->c;
  int kw = q->w.kw;
  LLVMValueRef g = cg_load_lanes(c, r->dy, window_index(r, ow0), ROW_LANES, lanes);
  LLVMValueRef zero = LLVMConstNull(fvec(c, ROW_LANES));
  for (int i = 0; i < q->w.kh; i++) {
    LLVMValueRef part[2];
    for (int j = 0; j < kw; j++) {
      LLVMValueRef tv[ROW_LANES];
      for (int l = 0; l < ROW_LANES; l++)
        tv[l] = LLVMConstInt(c->i32, (unsigned long long)(i * kw + j), 0);
      LLVMValueRef here = LLVMBuildICmp(c->b, LLVMIntEQ, r->arg, LLVMConstVector(tv, ROW_LANES), "");
      part[j] = LLVMBuildSelect(c->b, here, g, zero, "");
    }
    LLVMValueRef row = kw == 1 ? part[0] : interleave(c, part[0], part[1]);
    LLVMValueRef y = add(c, mul(c, r->oh, q->w.kh), cg_i64(c, i));
    LLVMValueRef px = index4(c, r->b, q->ch, r->ch, q->h, y, q->wd, cg_i64(c, ow0 * kw));
    cg_store_lanes(c, q->out, px, row, kw * ROW_LANES, kw * lanes);
  }
}

/* The images of this part, row of windows by row, ROW_LANES windows at a time. */
static void emit_window_rows(CgCtx *c, RowChunk *r, const Kernel *k, const Shape *image,
                             void (*store)(RowChunk *r, int64_t ow0, int lanes)) {
  Win *q = &r->q;
  win_init(q, c, k, image);
  Loop lb, lc, lo;
  r->b = open_images(c, &lb, image);
  r->ch = cg_loop_open(c, &lc, cg_i64(c, q->ch), "ch");
  r->oh = cg_loop_open(c, &lo, cg_i64(c, q->oh), "oh");
  for (int64_t ow0 = 0; ow0 < q->ow; ow0 += ROW_LANES) {
    int lanes = q->ow - ow0 < ROW_LANES ? (int)(q->ow - ow0) : ROW_LANES;
    load_taps(r, ow0, lanes);
    store(r, ow0, lanes);
  }
  cg_loop_close(c, &lo, r->oh);
  cg_loop_close(c, &lc, r->ch);
  cg_loop_close(c, &lb, r->b);
}

void cg_fold(CgCtx *c, const Kernel *k) {
  Window w = window_of(k->root->arg.p);
  if (w.last) {
    cg_fold_last(c, k);
    return;
  }
  if (w.sh == 1 && w.sw == 1) {
    fold_pixels(c, k);
    return;
  }
  window_kernel(c, k, &(Pool){.first = nothing, .tap = fold_tap, .last = nothing, .scatter = true,
                              .tap_major = true},
                &k->root->shape);
}

void cg_maxpool(CgCtx *c, const Kernel *k) {
  const Shape *image = &k->root->src[0]->shape;
  Window w = window_of(k->root->arg.p);
  if (w.last && cg_maxpool_last(c, k))
    return;
  if (!w.last && rows_vectorize(&w) && window_extent(image->dim[3], w.kw, w.sw, 0, 0, 1) >= ROW_LANES / 2) {
    emit_window_rows(c, &(RowChunk){0}, k, image, store_maxima);
    return;
  }
  window_kernel(c, k, &(Pool){.first = start_max, .tap = max_tap, .last = store_max}, image);
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
      LLVMValueRef pixel = image_at(q, p->b, p->ch, t.y, q->h, t.x, q->wd);
      LLVMValueRef at_best = LLVMBuildICmp(c->b, LLVMIntEQ, pixel, best, "");
      store_at(c, q->out, pixel, LLVMBuildSelect(c->b, at_best, g, cg_f32(c, 0), ""));
    }
}

/* max-pool's adjoint reads the image x (source 0) to find each argmax, and dy (source 1) */
void cg_maxpool_back(CgCtx *c, const Kernel *k) {
  LLVMValueRef off = cg_i64(c, c->p->plan.offset[k->root->src[1]->id]);
  Window w = window_of(k->root->arg.p);
  if (w.last && cg_maxpool_back_last(c, k))
    return;
  const Shape *x = &k->root->shape;
  ImageAxes ax = window_axes(&w);
  bool tiles = windows_tile(&w);
  /* rows or columns past the last window get no gradient: zeroed first */
  bool covered = tiles && x->dim[ax.h] % w.kh == 0 && x->dim[ax.w] % w.kw == 0;
  if (!w.last && covered && rows_vectorize(&w) && x->dim[3] / w.kw >= ROW_LANES / 2) {
    RowChunk r = {.dy = LLVMBuildGEP2(c->b, c->f32, c->ws, &off, 1, "dy")};
    emit_window_rows(c, &r, k, x, store_routed);
    return;
  }
  Pool p = {.first = start_max, .tap = max_tap, .last = tiles ? write_window : route_to_argmax,
            .scatter = !covered, .dy = LLVMBuildGEP2(c->b, c->f32, c->ws, &off, 1, "dy")};
  window_kernel(c, k, &p, x);
}

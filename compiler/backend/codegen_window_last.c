/* codegen_window_last: the kernels of the window ops over images stored channels last,
 * [N, H, W, C] (Window.last, which layout.c chooses). A pixel's C channels are contiguous, so
 * each kernel is loops over the windows and their taps around vectors of channels: unfold
 * copies runs of C floats, fold adds them, the max pool compares them, and its adjoint routes
 * them; a pixel's last vector is masked when C is not a multiple of the vector width.
 *
 * Threads share the images (axis 0), and every output element is computed by the same
 * instructions in the same order whatever the part: results are bit-identical for any
 * --threads. Each lane computes what codegen_window.c computes for its channel: the pools'
 * first maximum wins and padding is no candidate; taps in the padding read a clamped, valid
 * pixel whose value is then replaced. */
#include "codegen_internal.h"

#include <math.h>

typedef struct {
  CgCtx *c;
  Window w;
  int64_t ch, h, wd, oh, ow; /* the image's extents and the window's output extents */
  LLVMValueRef in, out, dy;  /* &ws[...] of source 0, of the result and (routing) of dy */
  LLVMValueRef b, y0, x0;    /* the image, and the window's corner (o·s − pad) */
  int v;                     /* floats per vector */
} Last;

static LLVMValueRef add(CgCtx *c, LLVMValueRef a, LLVMValueRef b) { return LLVMBuildAdd(c->b, a, b, ""); }
static LLVMValueRef mul(CgCtx *c, LLVMValueRef a, int64_t k) {
  return LLVMBuildMul(c->b, a, cg_i64(c, k), "");
}

static void last_init(Last *q, CgCtx *c, const Kernel *k, const Shape *image) {
  const Node *n = k->root;
  q->c = c;
  q->w = window_of(n->arg.p);
  q->h = image->dim[1], q->wd = image->dim[2], q->ch = image->dim[3];
  q->oh = window_extent(q->h, q->w.kh, q->w.sh, q->w.pt, q->w.pb, q->w.dh);
  q->ow = window_extent(q->wd, q->w.kw, q->w.sw, q->w.pl, q->w.pr, q->w.dw);
  q->v = c->vector_floats;
  LLVMValueRef in_off = cg_i64(c, c->p->plan.offset[n->src[0]->id]);
  q->in = LLVMBuildGEP2(c->b, c->f32, c->ws, &in_off, 1, "in");
  LLVMValueRef out_off = cg_i64(c, k->out);
  q->out = LLVMBuildGEP2(c->b, c->f32, c->ws, &out_off, 1, "out");
  if (n->nsrc > 1) {
    LLVMValueRef dy_off = cg_i64(c, c->p->plan.offset[n->src[1]->id]);
    q->dy = LLVMBuildGEP2(c->b, c->f32, c->ws, &dy_off, 1, "dy");
  }
}

/* The pixel (y, x) of image b: the index of its channel 0 (y, x in [0, h) × [0, w)). */
static LLVMValueRef pixel(Last *q, LLVMValueRef y, LLVMValueRef x, int64_t h, int64_t w) {
  CgCtx *c = q->c;
  return mul(c, add(c, mul(c, add(c, mul(c, q->b, h), y), w), x), q->ch);
}

/* Tap (i, j) of the window at the corner (y0, x0): its pixel in the image (clamped into it)
 * and whether it lies inside. */
static LLVMValueRef tap_pixel(Last *q, int32_t i, int32_t j, LLVMValueRef *ok) {
  CgCtx *c = q->c;
  LLVMValueRef y = add(c, q->y0, cg_i64(c, (int64_t)i * q->w.dh));
  LLVMValueRef x = add(c, q->x0, cg_i64(c, (int64_t)j * q->w.dw));
  LLVMValueRef in_y = LLVMBuildICmp(c->b, LLVMIntULT, y, cg_i64(c, q->h), "");
  LLVMValueRef in_x = LLVMBuildICmp(c->b, LLVMIntULT, x, cg_i64(c, q->wd), "");
  *ok = LLVMBuildAnd(c->b, in_y, in_x, "inside");
  y = LLVMBuildSelect(c->b, *ok, y, cg_i64(c, 0), "");
  x = LLVMBuildSelect(c->b, *ok, x, cg_i64(c, 0), "");
  return pixel(q, y, x, q->h, q->wd);
}

static LLVMTypeRef vec(Last *q) { return LLVMVectorType(q->c->f32, (unsigned)q->v); }

static LLVMValueRef splat(CgCtx *c, LLVMValueRef s, int n) {
  LLVMTypeRef ty = LLVMVectorType(LLVMTypeOf(s), (unsigned)n);
  LLVMValueRef v = LLVMBuildInsertElement(c->b, LLVMGetUndef(ty), s, cg_i64(c, 0), "");
  return LLVMBuildShuffleVector(c->b, v, LLVMGetUndef(ty), LLVMConstNull(LLVMVectorType(c->i32, (unsigned)n)), "");
}

/* The chunk of channels [c0, c0 + lanes) at base[at + c0] (lanes < v: the rest read as 0). */
static LLVMValueRef load_chunk(Last *q, LLVMValueRef base, LLVMValueRef at, LLVMValueRef c0, int lanes) {
  return cg_load_lanes(q->c, base, add(q->c, at, c0), q->v, lanes);
}

static void store_chunk(Last *q, LLVMValueRef base, LLVMValueRef at, LLVMValueRef c0, int lanes,
                        LLVMValueRef v) {
  cg_store_lanes(q->c, base, add(q->c, at, c0), v, q->v, lanes);
}

/* body(q, ctx, c0, lanes) for the chunks of a pixel's channels: the full vectors (a loop when
 * there are more than a few), then the masked rest. */
typedef void ChunkBody(Last *q, void *ctx, LLVMValueRef c0, int lanes);
enum { UNROLLED_CHUNKS = 4 };

static void each_chunk(Last *q, ChunkBody *body, void *ctx) {
  CgCtx *c = q->c;
  int64_t full = q->ch / q->v, rest = q->ch % q->v;
  if (full > UNROLLED_CHUNKS) {
    Loop l;
    LLVMValueRef i = cg_loop_open(c, &l, cg_i64(c, full), "chunk");
    body(q, ctx, mul(c, i, q->v), q->v);
    cg_keep_scalar(c, cg_loop_close(c, &l, i));
  } else
    for (int64_t i = 0; i < full; i++)
      body(q, ctx, cg_i64(c, i * q->v), q->v);
  if (rest)
    body(q, ctx, cg_i64(c, full * q->v), (int)rest);
}

/* This part's images, and in each the windows (oh, ow) with their corners set; returns after
 * emitting `window` in the loop body. */
typedef void WindowBody(Last *q, void *ctx, LLVMValueRef oh, LLVMValueRef ow);

static void each_window(Last *q, const Shape *image, bool zero_image, WindowBody *window, void *ctx) {
  CgCtx *c = q->c;
  LLVMValueRef lo, hi;
  cg_share(c, cg_extent(c, image->dim[0]), &lo, &hi);
  Loop lb, loh, low;
  q->b = cg_loop_open_range(c, &lb, lo, hi, "img");
  if (zero_image) {
    int64_t floats = q->h * q->wd * q->ch;
    LLVMValueRef at = LLVMBuildGEP2(c->b, c->f32, q->out, (LLVMValueRef[]){mul(c, q->b, floats)}, 1, "");
    LLVMBuildMemSet(c->b, at, LLVMConstInt(LLVMInt8TypeInContext(c->ctx), 0, 0),
                    cg_i64(c, floats * (int64_t)sizeof(float)), 4);
  }
  LLVMValueRef oh = cg_loop_open(c, &loh, cg_i64(c, q->oh), "oh");
  LLVMValueRef ow = cg_loop_open(c, &low, cg_i64(c, q->ow), "ow");
  q->y0 = LLVMBuildSub(c->b, mul(c, oh, q->w.sh), cg_i64(c, q->w.pt), "");
  q->x0 = LLVMBuildSub(c->b, mul(c, ow, q->w.sw), cg_i64(c, q->w.pl), "");
  window(q, ctx, oh, ow);
  cg_loop_close(c, &low, ow);
  cg_loop_close(c, &loh, oh);
  cg_loop_close(c, &lb, q->b);
}

/* --- unfold and fold: a window's taps and their cells in its patch row --- */

typedef struct {
  LLVMValueRef pixel, cell, ok; /* a tap's pixel, its cells in the patch row, inside */
} Copy;

/* unfold: patches[b, oh, ow, (i·kw + j)·C + c] = image[b, y, x, c], 0 in the padding */
static void copy_chunk(Last *q, void *ctx, LLVMValueRef c0, int lanes) {
  Copy *t = ctx;
  LLVMValueRef v = load_chunk(q, q->in, t->pixel, c0, lanes);
  v = LLVMBuildSelect(q->c->b, t->ok, v, LLVMConstNull(vec(q)), "");
  store_chunk(q, q->out, t->cell, c0, lanes, v);
}

/* fold: each window's cells added onto its taps' pixels, in window order (a tap outside adds 0
 * to its clamped pixel) */
static void add_chunk(Last *q, void *ctx, LLVMValueRef c0, int lanes) {
  Copy *t = ctx;
  CgCtx *c = q->c;
  LLVMValueRef sum = load_chunk(q, q->out, t->pixel, c0, lanes);
  LLVMValueRef v = load_chunk(q, q->in, t->cell, c0, lanes);
  v = LLVMBuildSelect(c->b, t->ok, v, LLVMConstNull(vec(q)), "");
  store_chunk(q, q->out, t->pixel, c0, lanes, LLVMBuildFAdd(c->b, sum, v, ""));
}

typedef struct {
  ChunkBody *body; /* copy_chunk or add_chunk */
} PatchOp;

/* ctx: the PatchOp done for each tap of the window */
static void patch_window(Last *q, void *ctx, LLVMValueRef oh, LLVMValueRef ow) {
  CgCtx *c = q->c;
  int64_t cols = q->ch * q->w.kh * q->w.kw;
  LLVMValueRef row = mul(c, add(c, mul(c, add(c, mul(c, q->b, q->oh), oh), q->ow), ow), cols);
  for (int32_t i = 0; i < q->w.kh; i++)
    for (int32_t j = 0; j < q->w.kw; j++) {
      Copy t;
      t.pixel = tap_pixel(q, i, j, &t.ok);
      t.cell = add(c, row, cg_i64(c, ((int64_t)i * q->w.kw + j) * q->ch));
      each_chunk(q, ((PatchOp *)ctx)->body, &t);
    }
}

void cg_unfold_last(CgCtx *c, const Kernel *k) {
  Last q = {0};
  last_init(&q, c, k, &k->root->src[0]->shape);
  each_window(&q, &k->root->src[0]->shape, false, patch_window, &(PatchOp){copy_chunk});
}

void cg_fold_last(CgCtx *c, const Kernel *k) {
  if (emit_fold_product(c, k))
    return;
  Last q = {0};
  last_init(&q, c, k, &k->root->shape);
  each_window(&q, &k->root->shape, true, patch_window, &(PatchOp){add_chunk});
}

/* --- the max pool and its adjoint --- */

enum { MAX_TAPS = 64 };

/* The window's taps at the chunk c0: their pixels, values, and which is each lane's first
 * maximum among the taps inside (arg, an index into the taps). */
typedef struct {
  int ntaps;
  LLVMValueRef pixel[MAX_TAPS], ok[MAX_TAPS];
  LLVMValueRef max, arg;
} Taps;

static void window_taps(Last *q, Taps *t) {
  t->ntaps = q->w.kh * q->w.kw;
  for (int32_t i = 0; i < q->w.kh; i++)
    for (int32_t j = 0; j < q->w.kw; j++)
      t->pixel[i * q->w.kw + j] = tap_pixel(q, i, j, &t->ok[i * q->w.kw + j]);
}

static LLVMValueRef i32_splat(Last *q, int k) {
  return splat(q->c, LLVMConstInt(q->c->i32, (unsigned long long)k, 0), q->v);
}

/* A lane's tap wins when it is inside and greater than the best so far, or the first inside
 * one: the scalar kernel's rule (codegen_window.c's max_tap), lane by lane. */
static void find_max(Last *q, Taps *t, LLVMValueRef c0, int lanes) {
  CgCtx *c = q->c;
  LLVMValueRef seen = LLVMConstInt(LLVMInt1TypeInContext(c->ctx), 0, 0);
  t->max = LLVMConstNull(vec(q));
  t->arg = i32_splat(q, 0);
  for (int k = 0; k < t->ntaps; k++) {
    LLVMValueRef v = load_chunk(q, q->in, t->pixel[k], c0, lanes);
    LLVMValueRef better = LLVMBuildFCmp(c->b, LLVMRealOGT, v, t->max, "");
    better = LLVMBuildOr(c->b, better, splat(c, LLVMBuildNot(c->b, seen, ""), q->v), "");
    LLVMValueRef wins = LLVMBuildAnd(c->b, better, splat(c, t->ok[k], q->v), "wins");
    t->max = LLVMBuildSelect(c->b, wins, v, t->max, "");
    t->arg = LLVMBuildSelect(c->b, wins, i32_splat(q, k), t->arg, "");
    seen = LLVMBuildOr(c->b, seen, t->ok[k], "");
  }
}

static LLVMValueRef pooled_pixel(Last *q, LLVMValueRef oh, LLVMValueRef ow) {
  return pixel(q, oh, ow, q->oh, q->ow);
}

typedef struct {
  Taps taps;
  LLVMValueRef at; /* the window's pooled pixel */
  bool covered;    /* every pixel lies in exactly one window: written, not added to */
} PoolChunk;

static void max_chunk(Last *q, void *ctx, LLVMValueRef c0, int lanes) {
  PoolChunk *p = ctx;
  find_max(q, &p->taps, c0, lanes);
  store_chunk(q, q->out, p->at, c0, lanes, p->taps.max);
}

static void route_chunk(Last *q, void *ctx, LLVMValueRef c0, int lanes) {
  PoolChunk *p = ctx;
  CgCtx *c = q->c;
  find_max(q, &p->taps, c0, lanes);
  LLVMValueRef g = load_chunk(q, q->dy, p->at, c0, lanes), zero = LLVMConstNull(vec(q));
  for (int k = 0; k < p->taps.ntaps; k++) {
    LLVMValueRef here = LLVMBuildICmp(c->b, LLVMIntEQ, p->taps.arg, i32_splat(q, k), "");
    here = LLVMBuildAnd(c->b, here, splat(c, p->taps.ok[k], q->v), "");
    LLVMValueRef v = LLVMBuildSelect(c->b, here, g, zero, "");
    if (!p->covered)
      v = LLVMBuildFAdd(c->b, load_chunk(q, q->out, p->taps.pixel[k], c0, lanes), v, "");
    store_chunk(q, q->out, p->taps.pixel[k], c0, lanes, v);
  }
}

static void pool_window(Last *q, void *ctx, LLVMValueRef oh, LLVMValueRef ow) {
  PoolChunk *p = ctx;
  window_taps(q, &p->taps);
  p->at = pooled_pixel(q, oh, ow);
  each_chunk(q, q->dy ? route_chunk : max_chunk, p);
}

static bool fits_taps(const Window *w) { return w->kh * w->kw <= MAX_TAPS; }

/* Whether the windows tile the image exactly: each pixel in one window, none left over. */
static bool windows_cover(const Window *w, const Shape *image) {
  return w->sh == w->kh && w->sw == w->kw && !(w->pt | w->pl | w->pb | w->pr) &&
         image->dim[1] % w->kh == 0 && image->dim[2] % w->kw == 0;
}

bool cg_maxpool_last(CgCtx *c, const Kernel *k) {
  const Shape *image = &k->root->src[0]->shape;
  Window w = window_of(k->root->arg.p);
  if (!fits_taps(&w))
    return false;
  Last q = {0};
  last_init(&q, c, k, image);
  each_window(&q, image, false, pool_window, &(PoolChunk){0});
  return true;
}

/* dx[argmax] = dy per window and channel: written where the windows cover the image, else
 * added in window order onto a zeroed image (a tap outside adds 0 to its clamped pixel) */
bool cg_maxpool_back_last(CgCtx *c, const Kernel *k) {
  const Shape *image = &k->root->shape;
  Window w = window_of(k->root->arg.p);
  if (!fits_taps(&w))
    return false;
  Last q = {0};
  last_init(&q, c, k, image);
  PoolChunk p = {.covered = windows_cover(&w, image)};
  each_window(&q, image, !p.covered, pool_window, &p);
  return true;
}

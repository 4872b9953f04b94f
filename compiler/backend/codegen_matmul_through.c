/* codegen_matmul_through: the products that read an operand through a convolution's window
 * instead of from memory. A convolution's patches (an unfold of a channels-last image) are read
 * from the image: as A of the convolution, tap by tap, each row's pixel under the tap (a
 * constant zero pixel in the padding), then its channels, the patches' elements in their order
 * (mm_emit_taps); as B of its weight gradient, the pixel of each k of a column block found once
 * for all its row tiles (mm_fill_pixels). fold(δ W) is one product whose rows are the input
 * pixels and whose A is δ read through the window adjointly (emit_fold_product). The register
 * tiles around these loops are codegen_matmul.c's. */
#include "codegen_matmul.h"

#include <stdio.h>

/* Row i's pixel [n, y, x] and its base (o·s − pad, or adjointly p + pad) along each axis. */
typedef struct {
  LLVMValueRef n, y0, x0;
} Corner;

static Corner row_corner(Mm *m, const Through *t, LLVMValueRef i) {
  const Window *w = &t->w;
  LLVMValueRef at_n = irem(m, i, t->rh * t->rw);
  LLVMValueRef py = idiv(m, at_n, t->rw), px = irem(m, at_n, t->rw);
  if (t->adjoint)
    return (Corner){idiv(m, i, t->rh * t->rw), plus(m, py, w->pt), plus(m, px, w->pl)};
  return (Corner){idiv(m, i, t->rh * t->rw), plus(m, imul(m, py, w->sh), -w->pt),
                  plus(m, imul(m, px, w->sw), -w->pl)};
}

/* The coordinate the tap at offset d (tap index · dilation) reads along one axis from a row's
 * base, and whether it lies inside [0, extent). */
static LLVMValueRef tap_coord(Mm *m, const Through *t, LLVMValueRef base, LLVMValueRef d,
                              int32_t stride, int64_t extent, LLVMValueRef *inside) {
  CgCtx *c = m->c;
  if (!t->adjoint) {
    LLVMValueRef y = LLVMBuildAdd(c->b, base, d, "");
    *inside = LLVMBuildICmp(c->b, LLVMIntULT, y, cg_i64(c, extent), "");
    return y;
  }
  /* the output o with o·s = p + pad − d: none when that is negative, beyond, or not a multiple */
  LLVMValueRef num = LLVMBuildSub(c->b, base, d, "");
  *inside = LLVMBuildICmp(c->b, LLVMIntULT, num, cg_i64(c, extent * stride), "");
  if (stride == 1)
    return num;
  LLVMValueRef rem = LLVMBuildURem(c->b, num, cg_i64(c, stride), "");
  LLVMValueRef whole = LLVMBuildICmp(c->b, LLVMIntEQ, rem, cg_i64(c, 0), "");
  *inside = LLVMBuildAnd(c->b, *inside, whole, "");
  return LLVMBuildUDiv(c->b, num, cg_i64(c, stride), "");
}

/* The offsets of tap `tap` along each axis (tap index · dilation). */
static void tap_offsets(Mm *m, const Through *t, LLVMValueRef tap, LLVMValueRef *dy,
                        LLVMValueRef *dx) {
  *dy = imul(m, idiv(m, tap, t->w.kw), t->w.dh);
  *dx = imul(m, irem(m, tap, t->w.kw), t->w.dw);
}

/* The pixel of t's image that the tap (dy, dx) puts on the row at corner r: its first channel,
 * or the zeros when there is none. */
static LLVMValueRef tap_pixel(Mm *m, const Through *t, const Corner *r, LLVMValueRef dy,
                              LLVMValueRef dx) {
  CgCtx *c = m->c;
  LLVMValueRef in_y, in_x;
  LLVMValueRef y = tap_coord(m, t, r->y0, dy, t->w.sh, t->ih, &in_y);
  LLVMValueRef x = tap_coord(m, t, r->x0, dx, t->w.sw, t->iw, &in_x);
  LLVMValueRef row = LLVMBuildAdd(c->b, imul(m, r->n, t->ih), y, "");
  LLVMValueRef pixel = offset2(m, row, t->iw * t->ich, x, t->ich);
  return LLVMBuildSelect(c->b, LLVMBuildAnd(c->b, in_y, in_x, ""), at(m, t->image, pixel),
                         t->zeros, "pixel");
}

/* The k loop of a tile whose A is read through a window (m->thru): for each tap, each row's
 * pixel of the image under it (the zeros outside), then its channels. For a convolution's
 * patches these are the elements in the order the patches hold them, read where they are: the
 * patches are 9 times the image and stream from memory, the image rows a tile's windows share
 * stay in cache (the Fashion CNN's conv 2: 74% -> 92% of the peak in a C model of this loop). */
void mm_emit_taps(Mm *m, LLVMValueRef i0, int rows, LLVMValueRef j0, int nv, int last_lanes,
                      LLVMValueRef acc[][MAX_TILE_VECS]) {
  CgCtx *c = m->c;
  const Through *t = &m->thru;
  Corner corner[MAX_TILE_ROWS];
  LLVMValueRef a_row[MAX_TILE_ROWS], dy, dx;
  for (int r = 0; r < rows; r++)
    corner[r] = row_corner(m, t, plus(m, i0, r));
  Loop lt;
  LLVMValueRef tap = cg_loop_open(c, &lt, cg_i64(c, (int64_t)t->w.kh * t->w.kw), "tap");
  tap_offsets(m, t, tap, &dy, &dx);
  for (int r = 0; r < rows; r++)
    a_row[r] = tap_pixel(m, t, &corner[r], dy, dx);
  LLVMValueRef b = at(m, m->b, imul(m, tap, t->b_tap));
  mm_k_loop(m, cg_i64(c, 0), cg_i64(c, t->ich), b, a_row, 1, rows, j0, nv, last_lanes, acc);
  cg_loop_close(c, &lt, tap);
}

/* For B the patches (m->through_b): where each k of the block [k_lo, k_hi) reads the column
 * block at j0 — its pixel under the block's tap, at the block's first channel (or the zeros).
 * C is a multiple of the block, so the block is one tap's channels. */
void mm_fill_pixels(Mm *m, LLVMValueRef j0) {
  CgCtx *c = m->c;
  const Through *t = &m->thru;
  LLVMValueRef dy, dx;
  tap_offsets(m, t, idiv(m, j0, t->ich), &dy, &dx);
  Loop l;
  LLVMValueRef k = cg_loop_open_range(c, &l, m->k_lo, m->k_hi, "k");
  Corner corner = row_corner(m, t, k);
  LLVMValueRef pixel = at(m, tap_pixel(m, t, &corner, dy, dx), irem(m, j0, t->ich));
  LLVMBuildStore(c->b, pixel, mm_pixel_slot(m, k));
  cg_loop_close(c, &l, k);
}

/* A constant pixel of C zeros: what a tap in the padding reads. */
static LLVMValueRef zero_pixel(CgCtx *c, int64_t ch) {
  char name[40];
  snprintf(name, sizeof name, "nnc_zero_pixel_%lld", (long long)ch);
  LLVMValueRef zeros = LLVMGetNamedGlobal(c->mod, name);
  if (zeros)
    return zeros;
  LLVMTypeRef ty = LLVMArrayType(c->f32, (unsigned)ch);
  zeros = LLVMAddGlobal(c->mod, ty, name);
  LLVMSetInitializer(zeros, LLVMConstNull(ty));
  LLVMSetGlobalConstant(zeros, 1);
  LLVMSetLinkage(zeros, LLVMPrivateLinkage);
  LLVMSetAlignment(zeros, 64);
  return zeros;
}

/* Reading a convolution's patches u through the window from its image. */
static Through patches_through(Mm *m, const Node *u) {
  CgCtx *c = m->c;
  const Shape *img = &u->src[0]->shape;
  LLVMValueRef image = at(m, c->ws, cg_i64(c, c->p->plan.offset[u->src[0]->id]));
  return (Through){image,        zero_pixel(c, img->dim[3]), u->shape.dim[1],    u->shape.dim[2],
                   img->dim[1],  img->dim[2], img->dim[3],   window_of(u->arg.p), false,
                   img->dim[3] * m->b_k};
}

/* The operand of k that is a convolution's patches read through the window, if one is. B so
 * read goes column block by column block (not row-major), so that the pixels of a block's k
 * are found once for all its row tiles. */
void mm_read_patches(Mm *m, const Kernel *k) {
  CgCtx *c = m->c;
  for (int src = 0; src < 2; src++) {
    if (!sched_reads_through_window(k->root, src))
      continue;
    m->thru = patches_through(m, k->root->src[src]);
    if (src == 0)
      m->through_a = true;
    else {
      m->through_b = true;
      m->row_major = false;
      m->pixels = cg_alloca(c, LLVMArrayType(c->ptr, (unsigned)m->t.k_block), "pixels");
    }
  }
}

/* fold(δ W) on an image stored channels last, the input gradient of a convolution whose
 * product sched_folds_product leaves to it: each input pixel's C channels are one row of a
 * product whose A is δ read through the window adjointly (for each tap, the output the tap
 * puts on the pixel, if one does) and whose B rows for tap t are W's columns t·C .. t·C + C.
 * Neither the patches' gradient (9 times the image) nor fold's pass over it exists; each
 * element is one multiply-add chain over the taps and δ's channels. */
bool emit_fold_product(CgCtx *c, const Kernel *k) {
  const Node *fold = k->root, *mm = fold->src[0], *dy = mm->src[0];
  if (!sched_folds_product(fold) || c->s->materialized[mm->id])
    return false;
  Mm m;
  mm_init(&m, c, mm, k->out);
  int64_t ch = fold->shape.dim[3];
  m.c_i = ch;
  m.cols = ch;
  m.row_major = true;
  m.through_a = true;
  LLVMValueRef image = at(&m, c->ws, cg_i64(c, c->p->plan.offset[dy->id]));
  m.thru = (Through){image,           zero_pixel(c, dy->shape.dim[3]), fold->shape.dim[1],
                     fold->shape.dim[2], dy->shape.dim[1], dy->shape.dim[2], dy->shape.dim[3],
                     window_of(fold->arg.p), true, ch};
  int64_t block = (int64_t)m.t.vecs * m.w;
  LLVMValueRef lo, hi;
  cg_share(c, mm_rows_value(c, &fold->shape), &lo, &hi);
  mm_emit_blocks(&m, lo, hi, cg_i64(c, 0), cg_i64(c, (ch + block - 1) / block));
  return true;
}

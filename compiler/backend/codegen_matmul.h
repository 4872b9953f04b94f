/* codegen_matmul.h: what the matrix product's two files share — codegen_matmul.c (the register
 * tiles, their column blocks and row tiles, the k blocking) and codegen_matmul_through.c (the
 * operands read through a convolution's window: the patches from the image, and fold's product
 * from δ). The product's state (Mm), the small index arithmetic, and each file's entry points
 * for the other. Not for other stages. */
#ifndef NNC_CODEGEN_MATMUL_H
#define NNC_CODEGEN_MATMUL_H
#include "codegen_internal.h"

/* The register tile and the k blocking of a vector width (codegen_matmul.c: tilings[]). */
typedef struct {
  int w;          /* floats per vector */
  int rows, vecs; /* a tile: rows × vecs vectors of C */
  int k_block;
} Tiling;

/* NARROW_ROWS: the most rows of emit_narrow's one-vector tile of Cᵀ, whose accumulators, B's
 * vector and A's broadcast fit in the 16 registers of every vector width. */
enum { NARROW_ROWS = 12, MAX_TILE_ROWS = NARROW_ROWS, MAX_TILE_VECS = 2 };

/* A whose rows are the pixels [N, rh, rw] on one side of a window and whose k runs over the
 * window's taps and, in each, the ich channels of the pixel of `image` [N, ih, iw, ich] the
 * tap puts on the row's pixel (0 in the padding): a convolution's patches (the rows are the
 * window's outputs, the image its input), or, `adjoint`, the rows of fold's product, whose
 * rows are the window's input pixels and whose image is the outputs' δ. B's rows for tap t
 * start b_tap·t floats further. */
typedef struct {
  LLVMValueRef image, zeros;
  int64_t rh, rw, ih, iw, ich;
  Window w;
  bool adjoint;
  int64_t b_tap;
} Through;

/* One product being emitted. */
typedef struct {
  CgCtx *c;
  LLVMTypeRef vec;
  int w;                           /* floats per vector */
  LLVMValueRef a, b, out;          /* &ws[offset] of op(A), op(B) and C */
  int64_t a_i, a_k, b_k, b_j, c_i; /* element strides */
  int64_t c_j;                     /* 1, but C's row stride when Cᵀ is computed (emit_narrow) */
  int64_t cols;                    /* C's width */
  LLVMValueRef kdim;
  LLVMValueRef k_lo, k_hi;   /* the k block being done: [0, kdim) unless k is blocked */
  LLVMValueRef accumulate;   /* i1, k blocked: whether C already holds the earlier blocks' sums */
  /* A read through a window (mm_emit_taps): a convolution's patches, or fold's product; B a
   * convolution's patches (sched_reads_through_window), with `pixels`: the pixel under the
   * column block's tap of each k of the block (mm_fill_pixels) */
  bool through_a, through_b;
  Through thru;
  LLVMValueRef pixels;
  LLVMTypeRef fma_ty, mload_ty, mstore_ty, scatter_ty;
  LLVMValueRef fma, mload, mstore, scatter;
  bool row_major; /* row tiles outside the column blocks (mm_emit_blocks) */
  Tiling t;       /* of the vector width */
} Mm;

static inline LLVMValueRef at(Mm *m, LLVMValueRef base, LLVMValueRef index) {
  return LLVMBuildGEP2(m->c->b, m->c->f32, base, &index, 1, "");
}

/* row·row_stride + col */
static inline LLVMValueRef offset2(Mm *m, LLVMValueRef row, int64_t row_stride,
                                   LLVMValueRef col, int64_t col_stride) {
  CgCtx *c = m->c;
  LLVMValueRef r = LLVMBuildMul(c->b, row, cg_i64(c, row_stride), "");
  return LLVMBuildAdd(c->b, r, LLVMBuildMul(c->b, col, cg_i64(c, col_stride), ""), "");
}

static inline LLVMValueRef plus(Mm *m, LLVMValueRef v, int64_t k) {
  return k ? LLVMBuildAdd(m->c->b, v, cg_i64(m->c, k), "") : v;
}

static inline LLVMValueRef idiv(Mm *m, LLVMValueRef a, int64_t k) {
  return LLVMBuildSDiv(m->c->b, a, cg_i64(m->c, k), "");
}

static inline LLVMValueRef irem(Mm *m, LLVMValueRef a, int64_t k) {
  return LLVMBuildSRem(m->c->b, a, cg_i64(m->c, k), "");
}

static inline LLVMValueRef imul(Mm *m, LLVMValueRef a, int64_t k) {
  return LLVMBuildMul(m->c->b, a, cg_i64(m->c, k), "");
}

/* codegen_matmul.c */
void mm_init(Mm *m, CgCtx *c, const Node *n, int64_t out);
/* The rows of s as a matrix, as a value: N times the other axes when one is the batch axis. */
LLVMValueRef mm_rows_value(CgCtx *c, const Shape *s);
/* &pixels[k − k_lo]: where k of the block reads B through the window. */
LLVMValueRef mm_pixel_slot(Mm *m, LLVMValueRef k);
/* k over [lo, hi): rows·nv multiply-adds of A's element k of each row (a_row[r][k·a_k]) with
 * row k of the B at b, into acc. */
void mm_k_loop(Mm *m, LLVMValueRef lo, LLVMValueRef hi, LLVMValueRef b, const LLVMValueRef *a_row,
               int64_t a_k, int rows, LLVMValueRef j0, int nv, int last_lanes,
               LLVMValueRef acc[][MAX_TILE_VECS]);
/* Column blocks [first, end) of C over rows [lo, hi). */
void mm_emit_blocks(Mm *m, LLVMValueRef lo, LLVMValueRef hi, LLVMValueRef first, LLVMValueRef end);

/* codegen_matmul_through.c */
/* The k loop of a tile whose A is read through the window (m->through_a). */
void mm_emit_taps(Mm *m, LLVMValueRef i0, int rows, LLVMValueRef j0, int nv, int last_lanes,
                  LLVMValueRef acc[][MAX_TILE_VECS]);
/* For B read through the window (m->through_b): the pixel each k of the k block reads for the
 * column block at j0. */
void mm_fill_pixels(Mm *m, LLVMValueRef j0);
/* Sets m to read the operand of k that is a convolution's patches through the window, if one is. */
void mm_read_patches(Mm *m, const Kernel *k);

#endif

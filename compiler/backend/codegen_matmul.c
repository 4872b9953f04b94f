/* codegen_matmul: C = op(A) op(B) as register-tiled loops on the host's vector type.
 *
 * A tile is `rows` rows × `vecs` vectors of C (the Tiling of the vector width), held in
 * registers for the whole k loop: each step loads the tile's columns of B's row k, broadcasts
 * `rows` elements of A's column k and does rows·vecs vector multiply-adds, so every load feeds
 * several multiply-adds and C is written once. Column blocks are the outer loop, so one block of B
 * stays in cache while the rows go by. Columns left over after the full blocks (C's width is
 * always a constant) get a tile of masked vectors; rows left over at the end of a part are
 * covered by one more tile that overlaps the previous one and stores only its new rows, so
 * there is one tile height only (plus single rows for parts shorter than a tile). A long k is
 * done in blocks of equal length (at most k_block), each continuing from the sums C holds.
 *
 * Every element of C is one multiply-add chain over k in increasing order, whatever its tile,
 * the part it falls in or the thread count: results are bit-identical for any --threads.
 * A B read transposed is first copied into rows (emit_matmul). A C of a few columns that do
 * not fill whole vectors, whose A is read transposed (a weight gradient), is computed as
 * Cᵀ = Bᵀ Aᵀ, whose rows are whole vectors, and stored transposed (emit_narrow). A
 * convolution's patches, and the product its input gradient folds, are read through the window
 * (codegen_matmul_through.c). An operand with more than two axes is the matrix
 * whose rows are all its axes but the last (shape_matmul). */
#include "codegen_matmul.h"

#include <string.h>

/* The tile and the k blocking of each vector width. Tile rows × vecs accumulators, vecs vectors
 * of B and a broadcast of A must fit in the registers: 6 × 2 of the 16 that AVX2 (and SSE) have,
 * 8 × 2 of AVX-512's 32. Eight rows divide the batch sizes people choose, and their halves, so no
 * tile overlaps the one before at b64 or b256 on 1 or 2 threads; with 16-float vectors they
 * measured 5% faster than 6 × 2 (bench/gemm.c; 4 × 4 was as fast, 10 × 2 and 12 × 2 slower).
 * k_block: a long k is done in blocks of at most this many steps, so that a column block of B
 * (k_block × vecs vectors: 16 KiB with AVX2) stays in cache across the row tiles. */
static const Tiling tilings[] = {
  {4, 6, 2, 256},
  {8, 6, 2, 256},
  {16, 8, 2, 256},
};

/* A B of at most this many floats (in a k block) stays in L2 while the rows go by: 256 KiB. */
enum { ROW_MAJOR_B = 64 * 1024 };

static LLVMValueRef intrinsic(Mm *m, const char *name, LLVMTypeRef *types, size_t ntypes,
                              LLVMTypeRef *fn_ty) {
  unsigned id = LLVMLookupIntrinsicID(name, strlen(name));
  *fn_ty = LLVMIntrinsicGetType(m->c->ctx, id, types, ntypes);
  return LLVMGetIntrinsicDeclaration(m->c->mod, id, types, ntypes);
}




/* The mask whose first `lanes` lanes are on. */
static LLVMValueRef lane_mask(Mm *m, int lanes) {
  LLVMValueRef bit[16];
  LLVMTypeRef i1 = LLVMInt1TypeInContext(m->c->ctx);
  for (int l = 0; l < m->w; l++)
    bit[l] = LLVMConstInt(i1, l < lanes, 0);
  return LLVMConstVector(bit, (unsigned)m->w);
}

static LLVMValueRef splat(Mm *m, LLVMValueRef x) {
  CgCtx *c = m->c;
  LLVMValueRef v = LLVMBuildInsertElement(c->b, LLVMGetPoison(m->vec), x, LLVMConstInt(c->i32, 0, 0), "");
  LLVMTypeRef idx = LLVMVectorType(c->i32, (unsigned)m->w);
  return LLVMBuildShuffleVector(c->b, v, LLVMGetPoison(m->vec), LLVMConstNull(idx), "bcast");
}

/* `lanes` consecutive floats at p, zero beyond (a masked load when lanes < w). */
static LLVMValueRef load_lanes(Mm *m, LLVMValueRef p, int lanes, const char *name) {
  CgCtx *c = m->c;
  if (lanes == m->w) {
    LLVMValueRef v = LLVMBuildLoad2(c->b, m->vec, p, name);
    LLVMSetAlignment(v, 4);
    return v;
  }
  LLVMValueRef args[4] = {p, LLVMConstInt(c->i32, 4, 0), lane_mask(m, lanes), LLVMConstNull(m->vec)};
  return LLVMBuildCall2(c->b, m->mload_ty, m->mload, args, 4, name);
}

/* Columns j .. j+lanes of row k of the B at b, and of C's row i. */
static LLVMValueRef load_b(Mm *m, LLVMValueRef b, LLVMValueRef k, LLVMValueRef j, int lanes) {
  return load_lanes(m, at(m, b, offset2(m, k, m->b_k, j, 1)), lanes, "b");
}

static LLVMValueRef load_c(Mm *m, LLVMValueRef i, LLVMValueRef j, int lanes) {
  return load_lanes(m, at(m, m->out, offset2(m, i, m->c_i, j, 1)), lanes, "c");
}

/* Lane l of v to C[j + l, i] when Cᵀ is computed: a scatter at C's row stride. */
static void scatter_c(Mm *m, LLVMValueRef i, LLVMValueRef j, LLVMValueRef v, int lanes) {
  CgCtx *c = m->c;
  LLVMValueRef lane[16];
  for (int l = 0; l < m->w; l++)
    lane[l] = cg_i64(c, l * m->c_j);
  LLVMTypeRef idx_ty = LLVMVectorType(c->i64, (unsigned)m->w);
  LLVMValueRef first = offset2(m, i, m->c_i, j, m->c_j);
  LLVMValueRef zero = LLVMConstInt(c->i32, 0, 0), poison = LLVMGetPoison(idx_ty);
  LLVMValueRef idx = LLVMBuildInsertElement(c->b, poison, first, zero, "");
  LLVMTypeRef mask_ty = LLVMVectorType(c->i32, (unsigned)m->w);
  idx = LLVMBuildShuffleVector(c->b, idx, poison, LLVMConstNull(mask_ty), "");
  idx = LLVMBuildAdd(c->b, idx, LLVMConstVector(lane, (unsigned)m->w), "");
  LLVMValueRef ptrs = LLVMBuildGEP2(c->b, c->f32, m->out, &idx, 1, "");
  LLVMValueRef args[4] = {v, ptrs, LLVMConstInt(c->i32, 4, 0), lane_mask(m, lanes)};
  LLVMBuildCall2(c->b, m->scatter_ty, m->scatter, args, 4, "");
}

static void store_c(Mm *m, LLVMValueRef i, LLVMValueRef j, LLVMValueRef v, int lanes) {
  CgCtx *c = m->c;
  if (m->c_j != 1) {
    scatter_c(m, i, j, v, lanes);
    return;
  }
  LLVMValueRef p = at(m, m->out, offset2(m, i, m->c_i, j, 1));
  if (lanes == m->w) {
    LLVMSetAlignment(LLVMBuildStore(c->b, v, p), 4);
    return;
  }
  LLVMValueRef args[4] = {v, p, LLVMConstInt(c->i32, 4, 0), lane_mask(m, lanes)};
  LLVMBuildCall2(c->b, m->mstore_ty, m->mstore, args, 4, "");
}

/* Stores row i0 + r of a tile, unless the tile before (which this one overlaps) stored it
 * already: with k blocked, doing it twice would add this block's sums twice. */
static void store_row(Mm *m, LLVMValueRef i0, int r, LLVMValueRef fresh, LLVMValueRef j0,
                      LLVMValueRef *acc, int nv, int last_lanes) {
  CgCtx *c = m->c;
  LLVMBasicBlockRef next = NULL;
  if (m->accumulate) {
    LLVMBasicBlockRef store = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "store");
    next = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "stored");
    LLVMBuildCondBr(c->b, LLVMBuildICmp(c->b, LLVMIntSGE, plus(m, i0, r), fresh, ""), store, next);
    LLVMPositionBuilderAtEnd(c->b, store);
  }
  for (int v = 0; v < nv; v++)
    store_c(m, plus(m, i0, r), plus(m, j0, (int64_t)v * m->w),
            LLVMBuildLoad2(c->b, m->vec, acc[v], ""), v == nv - 1 ? last_lanes : m->w);
  if (next) {
    LLVMBuildBr(c->b, next);
    LLVMPositionBuilderAtEnd(c->b, next);
  }
}


/* &pixels[k − k_lo]: where k of the block reads B through the window. */
LLVMValueRef mm_pixel_slot(Mm *m, LLVMValueRef k) {
  LLVMValueRef at_k = LLVMBuildSub(m->c->b, k, m->k_lo, "");
  return LLVMBuildGEP2(m->c->b, m->c->ptr, m->pixels, &at_k, 1, "");
}

/* k over [lo, hi): rows·nv multiply-adds of A's element k of each row (a_row[r][k·a_k]) with
 * row k of the B at b, into acc. */
void mm_k_loop(Mm *m, LLVMValueRef lo, LLVMValueRef hi, LLVMValueRef b,
                        const LLVMValueRef *a_row, int64_t a_k, int rows, LLVMValueRef j0, int nv,
                        int last_lanes, LLVMValueRef acc[][MAX_TILE_VECS]) {
  CgCtx *c = m->c;
  LLVMValueRef bv[MAX_TILE_VECS];
  Loop lk;
  LLVMValueRef k = cg_loop_open_range(c, &lk, lo, hi, "k");
  LLVMValueRef pixel = NULL;
  if (m->through_b)
    pixel = LLVMBuildLoad2(c->b, c->ptr, mm_pixel_slot(m, k), "pixel");
  for (int v = 0; v < nv; v++) {
    int lanes = v == nv - 1 ? last_lanes : m->w;
    bv[v] = pixel ? load_lanes(m, at(m, pixel, cg_i64(c, (int64_t)v * m->w)), lanes, "b")
                  : load_b(m, b, k, plus(m, j0, (int64_t)v * m->w), lanes);
  }
  for (int r = 0; r < rows; r++) {
    LLVMValueRef pa = at(m, a_row[r], LLVMBuildMul(c->b, k, cg_i64(c, a_k), ""));
    LLVMValueRef a = splat(m, LLVMBuildLoad2(c->b, c->f32, pa, "a"));
    for (int v = 0; v < nv; v++) {
      LLVMValueRef args[3] = {a, bv[v], LLVMBuildLoad2(c->b, m->vec, acc[r][v], "")};
      LLVMBuildStore(c->b, LLVMBuildCall2(c->b, m->fma_ty, m->fma, args, 3, ""), acc[r][v]);
    }
  }
  cg_loop_close(c, &lk, k);
}

/* C[i0 .. i0+rows, j0 .. j0+cols) with cols = (nv − 1)·w + last_lanes, over the k block;
 * rows below `fresh` belong to the tile before. */
static void emit_tile(Mm *m, LLVMValueRef i0, LLVMValueRef fresh, LLVMValueRef j0, int rows,
                      int nv, int last_lanes) {
  CgCtx *c = m->c;
  LLVMValueRef acc[MAX_TILE_ROWS][MAX_TILE_VECS];
  for (int r = 0; r < rows; r++)
    for (int v = 0; v < nv; v++) {
      acc[r][v] = cg_alloca(c, m->vec, "acc");
      LLVMValueRef start = LLVMConstNull(m->vec);
      if (m->accumulate) {
        LLVMValueRef sum = load_c(m, plus(m, i0, r), plus(m, j0, (int64_t)v * m->w),
                                  v == nv - 1 ? last_lanes : m->w);
        start = LLVMBuildSelect(c->b, m->accumulate, sum, start, "");
      }
      LLVMBuildStore(c->b, start, acc[r][v]);
    }
  if (m->through_a)
    mm_emit_taps(m, i0, rows, j0, nv, last_lanes, acc);
  else {
    LLVMValueRef a_row[MAX_TILE_ROWS];
    for (int r = 0; r < rows; r++)
      a_row[r] = at(m, m->a, LLVMBuildMul(c->b, plus(m, i0, r), cg_i64(c, m->a_i), ""));
    mm_k_loop(m, m->k_lo, m->k_hi, m->b, a_row, m->a_k, rows, j0, nv, last_lanes, acc);
  }
  for (int r = 0; r < rows; r++)
    store_row(m, i0, r, fresh, j0, acc[r], nv, last_lanes);
}

/* The columns of C a row tile covers: one block (j0, nv vectors, the last with last_lanes
 * lanes) or, row-major, every block in [first, end). */
typedef struct {
  LLVMValueRef j0;
  int nv, last_lanes;
  bool row_major;
  LLVMValueRef first, end;
} Cols;

/* Where one column block's tiles go: the rows [lo, hi) (column-major), or the one row tile at
 * i of `rows` rows whose rows below `fresh` are the tile before's (row-major). */
typedef struct {
  LLVMValueRef lo, hi, i, fresh;
  int rows;
} Span;
typedef void BlockBody(Mm *m, const Span *s, LLVMValueRef j0, int nv, int last_lanes);

/* body for each column block in [first, end): the full blocks, then the masked one when the
 * range reaches the end of C. */
static void each_block(Mm *m, LLVMValueRef first, LLVMValueRef end, BlockBody *body,
                       const Span *s) {
  CgCtx *c = m->c;
  int64_t block = (int64_t)m->t.vecs * m->w, full = m->cols / block, rest = m->cols % block;
  LLVMValueRef below = LLVMBuildICmp(c->b, LLVMIntSLT, end, cg_i64(c, full), "");
  LLVMValueRef full_end = LLVMBuildSelect(c->b, below, end, cg_i64(c, full), "");
  Loop lj;
  LLVMValueRef jb = cg_loop_open_range(c, &lj, first, full_end, "jb");
  body(m, s, LLVMBuildMul(c->b, jb, cg_i64(c, block), "j0"), m->t.vecs, m->w);
  cg_loop_close(c, &lj, jb);
  if (rest == 0)
    return;
  LLVMBasicBlockRef last = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "last_block");
  LLVMBasicBlockRef done = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "blocks_done");
  LLVMBuildCondBr(c->b, LLVMBuildICmp(c->b, LLVMIntSGT, end, cg_i64(c, full), ""), last, done);
  LLVMPositionBuilderAtEnd(c->b, last);
  int nv = (int)((rest + m->w - 1) / m->w);
  body(m, s, cg_i64(c, full * block), nv, (int)(rest - (int64_t)(nv - 1) * m->w));
  LLVMBuildBr(c->b, done);
  LLVMPositionBuilderAtEnd(c->b, done);
}

static void tile_body(Mm *m, const Span *s, LLVMValueRef j0, int nv, int last_lanes) {
  emit_tile(m, s->i, s->fresh, j0, s->rows, nv, last_lanes);
}

static void emit_row_tile(Mm *m, LLVMValueRef i, LLVMValueRef fresh, int rows, const Cols *cols) {
  if (cols->row_major)
    each_block(m, cols->first, cols->end, tile_body, &(Span){.i = i, .fresh = fresh, .rows = rows});
  else
    emit_tile(m, i, fresh, cols->j0, rows, cols->nv, cols->last_lanes);
}

/* The rows [lo, hi) of cols: whole tiles, the last one moved back to end at hi; a part shorter
 * than a tile goes row by row. */
static void emit_rows(Mm *m, LLVMValueRef lo, LLVMValueRef hi, const Cols *cols) {
  CgCtx *c = m->c;
  LLVMValueRef rows = LLVMBuildSub(c->b, hi, lo, "rows");
  LLVMBasicBlockRef tiles = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "tiles");
  LLVMBasicBlockRef single = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "single_rows");
  LLVMBasicBlockRef done = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "rows_done");
  LLVMBuildCondBr(c->b, LLVMBuildICmp(c->b, LLVMIntSGE, rows, cg_i64(c, m->t.rows), ""), tiles,
                  single);

  LLVMPositionBuilderAtEnd(c->b, tiles);
  LLVMValueRef ntiles = LLVMBuildSDiv(c->b, plus(m, rows, m->t.rows - 1), cg_i64(c, m->t.rows), "");
  LLVMValueRef last = LLVMBuildSub(c->b, hi, cg_i64(c, m->t.rows), "");
  Loop lt;
  LLVMValueRef t = cg_loop_open(c, &lt, ntiles, "t");
  LLVMValueRef fresh = LLVMBuildAdd(c->b, lo, LLVMBuildMul(c->b, t, cg_i64(c, m->t.rows), ""), "");
  LLVMValueRef i = LLVMBuildSelect(c->b, LLVMBuildICmp(c->b, LLVMIntSGT, fresh, last, ""), last,
                                   fresh, "i");
  emit_row_tile(m, i, fresh, m->t.rows, cols);
  cg_loop_close(c, &lt, t);
  LLVMBuildBr(c->b, done);

  LLVMPositionBuilderAtEnd(c->b, single);
  Loop li;
  LLVMValueRef row = cg_loop_open_range(c, &li, lo, hi, "i");
  emit_row_tile(m, row, row, 1, cols);
  cg_loop_close(c, &li, row);
  LLVMBuildBr(c->b, done);
  LLVMPositionBuilderAtEnd(c->b, done);
}

/* The rows of s as a matrix: the product of all its axes but the last, DIM_BATCH when one of
 * them is the batch axis. */
static int64_t matrix_rows(const Shape *s) {
  int64_t rows = 1;
  for (int i = 0; i < s->rank - 1; i++) {
    if (s->dim[i] == DIM_BATCH)
      return DIM_BATCH;
    rows *= s->dim[i];
  }
  return rows;
}

/* The same as a value: N times the other axes when the batch axis is one of them. */
LLVMValueRef mm_rows_value(CgCtx *c, const Shape *s) {
  int64_t rows = 1;
  for (int i = 1; i < s->rank - 1; i++)
    rows *= s->dim[i];
  if (s->dim[0] != DIM_BATCH)
    return cg_i64(c, matrix_rows(s));
  return rows == 1 ? c->n : LLVMBuildMul(c->b, c->n, cg_i64(c, rows), "rows");
}

static Tiling tiling_for(int w) {
  for (size_t i = 0; i < sizeof tilings / sizeof *tilings; i++)
    if (tilings[i].w == w)
      return tilings[i];
  NNC_ASSERT(!"a tiling for every vector width target_vector_floats gives");
  return tilings[0];
}

void mm_init(Mm *m, CgCtx *c, const Node *n, int64_t out) {
  const Node *A = n->src[0], *B = n->src[1];
  bool ta = n->arg.p[PARAM_TRANSPOSE_A], tb = n->arg.p[PARAM_TRANSPOSE_B];
  int64_t sa[NNC_MAX_RANK], sb[NNC_MAX_RANK], sc[NNC_MAX_RANK];
  int la = A->shape.rank - 1, lb = B->shape.rank - 1, lc = n->shape.rank - 1;
  shape_strides(&A->shape, sa);
  shape_strides(&B->shape, sb);
  shape_strides(&n->shape, sc);
  memset(m, 0, sizeof *m);
  m->c = c;
  m->w = c->vector_floats;
  m->vec = LLVMVectorType(c->f32, (unsigned)m->w);
  m->a = at(m, c->ws, cg_i64(c, c->p->plan.offset[A->id]));
  m->b = at(m, c->ws, cg_i64(c, c->p->plan.offset[B->id]));
  m->out = at(m, c->ws, cg_i64(c, out));
  m->a_i = ta ? sa[la] : sa[la - 1];
  m->a_k = ta ? sa[la - 1] : sa[la];
  m->b_k = tb ? sb[lb] : sb[lb - 1];
  m->b_j = tb ? sb[lb - 1] : sb[lb];
  m->c_i = sc[lc - 1];
  m->c_j = 1;
  m->cols = n->shape.dim[lc];
  m->kdim = ta ? mm_rows_value(c, &A->shape) : cg_i64(c, A->shape.dim[la]);
  m->k_lo = cg_i64(c, 0);
  m->k_hi = m->kdim;
  LLVMTypeRef vec_ptr[2] = {m->vec, c->ptr};
  m->fma = intrinsic(m, "llvm.fmuladd", vec_ptr, 1, &m->fma_ty);
  m->mload = intrinsic(m, "llvm.masked.load", vec_ptr, 2, &m->mload_ty);
  m->mstore = intrinsic(m, "llvm.masked.store", vec_ptr, 2, &m->mstore_ty);
  LLVMTypeRef vec_ptrs[2] = {m->vec, LLVMVectorType(c->ptr, (unsigned)m->w)};
  m->scatter = intrinsic(m, "llvm.masked.scatter", vec_ptrs, 2, &m->scatter_ty);
  m->t = tiling_for(m->w);
}

static void rows_body(Mm *m, const Span *s, LLVMValueRef j0, int nv, int last_lanes) {
  if (m->through_b)
    mm_fill_pixels(m, j0);
  emit_rows(m, s->lo, s->hi, &(Cols){.j0 = j0, .nv = nv, .last_lanes = last_lanes});
}

/* Column blocks [first, end) of C over rows [lo, hi). Column-major, one block of B stays in
 * cache while all the rows go by (a large B: a dense layer's weights); row-major, a tile of
 * A's rows stays in cache while it meets every block of a B small enough to stay in L2 (a
 * convolution's weights), so a long A (its patches) is read once instead of once a block. */
void mm_emit_blocks(Mm *m, LLVMValueRef lo, LLVMValueRef hi, LLVMValueRef first,
                        LLVMValueRef end) {
  if (m->row_major)
    emit_rows(m, lo, hi, &(Cols){.row_major = true, .first = first, .end = end});
  else
    each_block(m, first, end, rows_body, &(Span){.lo = lo, .hi = hi});
}

/* mm_emit_blocks over k in blocks of equal length, at most k_block: k = 784 is 4 × 196, not
 * 3 × 256 + 16, whose last block would be all tile set-up and stores. */
static void emit_k_blocks(Mm *m, LLVMValueRef lo, LLVMValueRef hi, int64_t blocks) {
  CgCtx *c = m->c;
  Loop lb;
  LLVMValueRef nblocks =
    LLVMBuildSDiv(c->b, plus(m, m->kdim, m->t.k_block - 1), cg_i64(c, m->t.k_block), "");
  LLVMValueRef len = LLVMBuildSDiv(c->b, LLVMBuildAdd(c->b, m->kdim, plus(m, nblocks, -1), ""),
                                   nblocks, "k_len");
  LLVMValueRef kb = cg_loop_open(c, &lb, nblocks, "kb");
  m->k_lo = LLVMBuildMul(c->b, kb, len, "k_lo");
  LLVMValueRef next = LLVMBuildAdd(c->b, m->k_lo, len, "");
  m->k_hi = LLVMBuildSelect(c->b, LLVMBuildICmp(c->b, LLVMIntSLT, next, m->kdim, ""), next, m->kdim,
                            "k_hi");
  m->accumulate = LLVMBuildICmp(c->b, LLVMIntSGT, kb, cg_i64(c, 0), "accumulate");
  mm_emit_blocks(m, lo, hi, cg_i64(c, 0), cg_i64(c, blocks));
  cg_loop_close(c, &lb, kb);
}

/* scratch[k, j] = B[k, j] for columns [j0, j1): B read transposed (stored as rows j of its k
 * elements, b_k = 1) becomes rows of columns, tiles of vectors transposed in registers (a
 * float at a time, the strided reads waited: the dense layer's 3,136 × 128 weights of the
 * Fashion CNN took twice its product's time). */
static void transpose_b(Mm *m, LLVMValueRef scratch, LLVMValueRef j0, LLVMValueRef j1) {
  NNC_ASSERT(m->b_k == 1);
  cg_transpose_rows(m->c, m->b, m->b_j, j0, j1, m->kdim, scratch, m->cols);
}

static void narrow_body(Mm *m, const Span *s, LLVMValueRef j0, int nv, int last_lanes) {
  emit_tile(m, s->i, s->i, j0, s->rows, nv, last_lanes);
}

/* C = op(A) B with a few columns (at most NARROW_ROWS) that do not fill whole
 * vectors, and A read transposed: conv 1's weight gradient, [32, 9], filled 9 of the 16 lanes
 * of its one vector per row (9 of 16 in two vectors with AVX2). Cᵀ = Bᵀ op(A)ᵀ has C's few
 * columns as its rows, all in one tile, and C's rows as its columns, whole vectors of A's rows
 * (A read transposed is contiguous along them); the threads share those vectors and each
 * stores its own transposed. The tile covers all of k, so
 * every element is still the one multiply-add chain over k in increasing order (a·b = b·a):
 * the same bits as the row tiles. */
static bool emit_narrow(Mm *m, const Kernel *k) {
  CgCtx *c = m->c;
  int64_t rows = matrix_rows(&k->root->shape);
  if (m->cols % m->w == 0 || m->cols > NARROW_ROWS || m->a_i != 1 || rows == DIM_BATCH)
    return false;
  Mm t = *m;
  t.a = m->b, t.a_i = m->b_j, t.a_k = m->b_k;
  t.b = m->a, t.b_k = m->a_k, t.b_j = 1;
  t.c_i = 1, t.c_j = m->c_i;
  t.cols = rows;
  t.t.vecs = 1;
  LLVMValueRef first, end;
  cg_share(c, cg_i64(c, (rows + m->w - 1) / m->w), &first, &end);
  each_block(&t, first, end, narrow_body, &(Span){.i = cg_i64(c, 0), .rows = (int)m->cols});
  return true;
}

/* Threads share C by rows. When B is read transposed they share it by column blocks instead:
 * each part copies its columns of B into the product's scratch as rows (the tiles need B's rows
 * contiguous) and computes those columns of C, so no part reads what another writes. */
void emit_matmul(CgCtx *c, const Kernel *k) {
  Mm m;
  mm_init(&m, c, k->root, k->out);
  if (emit_narrow(&m, k))
    return;
  int64_t block = (int64_t)m.t.vecs * m.w, blocks = (m.cols + block - 1) / block;
  LLVMValueRef rows = mm_rows_value(c, &k->root->shape), lo, hi;
  /* k is the batch's rows (times each example's) in a weight gradient: at most max_kdim */
  const Shape *a = &k->root->src[0]->shape;
  int64_t kdim = k->root->arg.p[PARAM_TRANSPOSE_A] ? matrix_rows(a) : a->dim[a->rank - 1];
  int64_t max_kdim = kdim != DIM_BATCH ? kdim : c->p->plan.max_batch * shape_numel(a, 1) / a->dim[a->rank - 1];
  if (m.b_j == 1) {
    cg_share(c, rows, &lo, &hi);
    m.row_major = (max_kdim < m.t.k_block ? max_kdim : m.t.k_block) * m.cols <= ROW_MAJOR_B;
    mm_read_patches(&m, k);
    if (max_kdim <= m.t.k_block)
      mm_emit_blocks(&m, lo, hi, cg_i64(c, 0), cg_i64(c, blocks));
    else
      emit_k_blocks(&m, lo, hi, blocks);
    return;
  }
  LLVMValueRef first, end;
  NNC_ASSERT(c->p->plan.scratch[k->root->id] >= 0); /* memplan_add gives B read transposed one */
  cg_share(c, cg_i64(c, blocks), &first, &end);
  LLVMValueRef scratch = at(&m, c->ws, cg_i64(c, c->p->plan.scratch[k->root->id]));
  LLVMValueRef j1 = LLVMBuildMul(c->b, end, cg_i64(c, block), "");
  j1 = LLVMBuildSelect(c->b, LLVMBuildICmp(c->b, LLVMIntSLT, j1, cg_i64(c, m.cols), ""), j1,
                       cg_i64(c, m.cols), "j1");
  transpose_b(&m, scratch, LLVMBuildMul(c->b, first, cg_i64(c, block), ""), j1);
  m.b = scratch;
  m.b_k = m.cols;
  m.b_j = 1;
  m.row_major = max_kdim * m.cols <= ROW_MAJOR_B;
  mm_read_patches(&m, k);
  mm_emit_blocks(&m, cg_i64(c, 0), rows, first, end);
}

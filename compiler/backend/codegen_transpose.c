/* codegen_transpose: a permutation that is a transpose per image — [N, A.., B..] to
 * [N, B.., A..], such as a convolution's product moved to channels first or its δ moved to
 * channels last — as square tiles of vectors transposed in registers, with the elementwise
 * expression fused above the permutation (the bias and the activation) done on the vectors.
 *
 * Each tile is W rows of W floats (W: the host's vector width) read as W vector loads from the
 * source, transposed by log2(W) rounds of two-vector shuffles and written as W vector stores;
 * tiles at the edges mask the lanes and rows past them. A loop that LLVM vectorises instead
 * gathers one float a lane from as many cache lines, and a scalar loop does one load per float.
 * The fused expression may add, subtract, multiply and take maxima of the moved value,
 * constants, and arrays that are the same along a tile's vector (a bias per channel): each
 * lane computes what the scalar loop would, with the same instructions. Threads share the
 * images (axis 0): the result is the same bits as the elementwise loop's for any --threads. */
#include "codegen_internal.h"

#include <string.h>

typedef struct {
  CgCtx *c;
  const Node *root, *move; /* the kernel's expression and the permutation in it */
  int nb;                  /* the result's axes 1..nb are B.. (the tile's columns) */
  LLVMValueRef image;      /* the image (axis 0) being done */
  int w;                /* floats per vector */
  LLVMTypeRef vec, mvec; /* <w x float>, <w x i1> */
  int64_t rows, cols;   /* each image: in[rows][cols], out[cols][rows] */
  LLVMValueRef in, out; /* this image's */
  LLVMValueRef lanes;   /* <0, 1, ..., w − 1> */
  LLVMTypeRef load_ty, store_ty;
  LLVMValueRef load, store;
} Tr;

/* Whether n permutes its source [N, A.., B..] into [N, B.., A..]; *rows = |A..|, *cols = |B..|,
 * *nb the number of B axes. */
static bool per_image_transpose(const Node *n, int64_t *rows, int64_t *cols, int *nb) {
  const Shape *s = &n->src[0]->shape;
  const int32_t *p = n->arg.p;
  int r = s->rank;
  if (n->op != OP_PERMUTE || r < 3 || p[0] != 0)
    return false;
  for (int i = 1; i < r; i++)
    if (s->dim[i] == DIM_BATCH)
      return false;
  for (int a = 1; a <= r - 2; a++) { /* A.. is source axes 1..a */
    bool match = true;
    for (int i = 1; i < r && match; i++)
      match = p[i] == (i <= r - 1 - a ? a + i : i - (r - 1 - a));
    if (!match)
      continue;
    *rows = *cols = 1;
    for (int i = 1; i < r; i++)
      *(i <= a ? rows : cols) *= s->dim[i];
    *nb = r - 1 - a;
    return true;
  }
  return false;
}

static LLVMValueRef intrinsic(Tr *t, const char *name, LLVMTypeRef *fn_ty) {
  LLVMTypeRef types[2] = {t->vec, t->c->ptr};
  unsigned id = LLVMLookupIntrinsicID(name, strlen(name));
  *fn_ty = LLVMIntrinsicGetType(t->c->ctx, id, types, 2);
  return LLVMGetIntrinsicDeclaration(t->c->mod, id, types, 2);
}

static LLVMValueRef splat_i64(Tr *t, LLVMValueRef x) {
  CgCtx *c = t->c;
  LLVMTypeRef vi = LLVMVectorType(c->i64, (unsigned)t->w);
  LLVMValueRef one = LLVMBuildInsertElement(c->b, LLVMGetPoison(vi), x, LLVMConstInt(c->i32, 0, 0), "");
  return LLVMBuildShuffleVector(c->b, one, LLVMGetPoison(vi),
                                LLVMConstNull(LLVMVectorType(c->i32, (unsigned)t->w)), "");
}

/* The lanes below `valid` (a value), when `row` (a value) is below `rows_valid`. */
static LLVMValueRef lane_mask(Tr *t, LLVMValueRef valid, LLVMValueRef row, LLVMValueRef rows_valid) {
  CgCtx *c = t->c;
  LLVMValueRef m = LLVMBuildICmp(c->b, LLVMIntSLT, t->lanes, splat_i64(t, valid), "");
  LLVMValueRef live = LLVMBuildICmp(c->b, LLVMIntSLT, row, rows_valid, "");
  return LLVMBuildSelect(c->b, live, m, LLVMConstNull(t->mvec), "");
}

static LLVMValueRef at(CgCtx *c, LLVMValueRef base, LLVMValueRef i) {
  return LLVMBuildGEP2(c->b, c->f32, base, &i, 1, "");
}

static LLVMValueRef shuffle(Tr *t, LLVMValueRef a, LLVMValueRef b, const int *idx) {
  LLVMValueRef m[32];
  for (int l = 0; l < t->w; l++)
    m[l] = LLVMConstInt(t->c->i32, (unsigned long long)idx[l], 0);
  return LLVMBuildShuffleVector(t->c->b, a, b, LLVMConstVector(m, (unsigned)t->w), "");
}

/* v[i][l] becomes v[l][i]: round h swaps bit h of the row with bit h of the lane, pairing row
 * i (bit clear) with row i + h. */
static void transpose_tile(Tr *t, LLVMValueRef *v) {
  int lo[16], hi[16];
  for (int h = 1; h < t->w; h *= 2) {
    for (int l = 0; l < t->w; l++) {
      lo[l] = l & h ? t->w + l - h : l;
      hi[l] = l & h ? t->w + l : l + h;
    }
    for (int i = 0; i < t->w; i++)
      if (!(i & h)) {
        LLVMValueRef a = v[i], b = v[i + h];
        v[i] = shuffle(t, a, b, lo);
        v[i + h] = shuffle(t, a, b, hi);
      }
  }
}

/* The ops whose lowering (cg_elem_op) is the same instruction on a vector as on a float. */
static const bool on_lanes[OP_COUNT] = {[OP_ADD] = true, [OP_SUB] = true, [OP_MUL] = true,
                                        [OP_MAX] = true};

/* Whether source n is computed in the kernel that reads it (else it is read from memory). */
static bool fused(const Tr *t, const Node *n) { return !t->c->s->materialized[n->id]; }

/* Whether the arrays that n reads (but the moved one) are the same along the tile's vectors:
 * their strides over the result's A axes are 0. */
static bool lane_free(const Tr *t, const Node *n, int s) {
  int64_t view[NNC_MAX_RANK];
  node_src_view(n, s, view);
  for (int i = 1 + t->nb; i < n->shape.rank; i++)
    if (view[i])
      return false;
  return true;
}

/* The array the move reads: its source, or the one that fused reshapes of it view (the same
 * floats in the same order), as the gradient of weights moved by layout.c. */
static const Node *moved_array(const CgCtx *c, const Node *move) {
  const Node *s = move->src[0];
  while (s->op == OP_RESHAPE && !c->s->materialized[s->id])
    s = s->src[0];
  return s;
}

/* Whether the expression rooted at n can be done on the transposed vectors. */
static bool on_vectors(const Tr *t, const Node *n) {
  if (n == t->move)
    return t->c->s->materialized[moved_array(t->c, n)->id] && shape_eq(&n->shape, &t->root->shape);
  if (!on_lanes[n->op] || !shape_eq(&n->shape, &t->root->shape))
    return false;
  for (int s = 0; s < n->nsrc; s++) {
    const Node *src = n->src[s];
    if (src->op != OP_CONST && src->op != OP_BATCH &&
        (fused(t, src) ? !on_vectors(t, src) : !lane_free(t, n, s)))
      return false;
  }
  return true;
}

static LLVMValueRef splat(Tr *t, LLVMValueRef x) {
  CgCtx *c = t->c;
  LLVMValueRef one = LLVMBuildInsertElement(c->b, LLVMGetPoison(t->vec), x, LLVMConstInt(c->i32, 0, 0), "");
  return LLVMBuildShuffleVector(c->b, one, LLVMGetPoison(t->vec),
                                LLVMConstNull(LLVMVectorType(c->i32, (unsigned)t->w)), "");
}

static LLVMValueRef lanes_of(Tr *t, const Node *n, LLVMValueRef moved, const LLVMValueRef *idx);

/* Source s of n as a vector: a constant or an array read at the column's element, spread over
 * the lanes, or the fused expression below. */
static LLVMValueRef operand(Tr *t, const Node *n, int s, LLVMValueRef moved,
                            const LLVMValueRef *idx) {
  CgCtx *c = t->c;
  const Node *src = n->src[s];
  if (src->op == OP_CONST)
    return splat(t, cg_f32(c, src->arg.k));
  if (src->op == OP_BATCH)
    return splat(t, LLVMBuildSIToFP(c->b, c->n, c->f32, "N"));
  if (fused(t, src))
    return lanes_of(t, src, moved, idx);
  int64_t view[NNC_MAX_RANK];
  node_src_view(n, s, view);
  return splat(t, cg_load_node(c, src, idx, view, 1 + t->nb));
}

static LLVMValueRef lanes_of(Tr *t, const Node *n, LLVMValueRef moved, const LLVMValueRef *idx) {
  if (n == t->move)
    return moved;
  LLVMValueRef a = operand(t, n, 0, moved, idx);
  return cg_elem_op(t->c, n, a, n->nsrc > 1 ? operand(t, n, 1, moved, idx) : NULL);
}

/* The result's indices [image, B axes..] of tile column col (clamped into the image). */
static void column_index(Tr *t, LLVMValueRef col, LLVMValueRef *idx) {
  CgCtx *c = t->c;
  col = LLVMBuildSelect(c->b, LLVMBuildICmp(c->b, LLVMIntSLT, col, cg_i64(c, t->cols), ""), col,
                        cg_i64(c, 0), "");
  idx[0] = t->image;
  for (int i = t->nb; i >= 1; i--) {
    int64_t d = t->root->shape.dim[i];
    idx[i] = i == 1 ? col : LLVMBuildSRem(c->b, col, cg_i64(c, d), "");
    col = LLVMBuildSDiv(c->b, col, cg_i64(c, d), "");
  }
}

static LLVMValueRef min_i64(CgCtx *c, LLVMValueRef a, int64_t b) {
  LLVMValueRef k = cg_i64(c, b);
  return LLVMBuildSelect(c->b, LLVMBuildICmp(c->b, LLVMIntSLT, a, k, ""), a, k, "");
}

/* The w × w floats of `in` at rows r0.., columns c0.. (rows in_row floats apart), the lanes
 * from nc on and the rows from nr on read as 0, transposed: v[i] is column c0 + i. */
static void load_transposed(Tr *t, LLVMValueRef r0, LLVMValueRef c0, int64_t in_row,
                            LLVMValueRef nr, LLVMValueRef nc, LLVMValueRef *v) {
  CgCtx *c = t->c;
  for (int i = 0; i < t->w; i++) {
    LLVMValueRef row = LLVMBuildAdd(c->b, r0, cg_i64(c, i), "");
    LLVMValueRef off = LLVMBuildAdd(c->b, LLVMBuildMul(c->b, row, cg_i64(c, in_row), ""), c0, "");
    LLVMValueRef args[4] = {at(c, t->in, off), LLVMConstInt(c->i32, 4, 0),
                            lane_mask(t, nc, cg_i64(c, i), nr), LLVMConstNull(t->vec)};
    v[i] = LLVMBuildCall2(c->b, t->load_ty, t->load, args, 4, "");
  }
  transpose_tile(t, v);
}

/* The tile whose first row is r0 and first column c0. */
static void emit_tile(Tr *t, LLVMValueRef r0, LLVMValueRef c0) {
  CgCtx *c = t->c;
  LLVMValueRef nr = min_i64(c, LLVMBuildSub(c->b, cg_i64(c, t->rows), r0, ""), t->w);
  LLVMValueRef nc = min_i64(c, LLVMBuildSub(c->b, cg_i64(c, t->cols), c0, ""), t->w);
  LLVMValueRef v[16], align = LLVMConstInt(c->i32, 4, 0);
  load_transposed(t, r0, c0, t->cols, nr, nc, v);
  for (int i = 0; i < t->w; i++) {
    LLVMValueRef col = LLVMBuildAdd(c->b, c0, cg_i64(c, i), ""), idx[NNC_MAX_RANK];
    LLVMValueRef off = LLVMBuildAdd(c->b, LLVMBuildMul(c->b, col, cg_i64(c, t->rows), ""), r0, "");
    if (t->root != t->move)
      column_index(t, col, idx);
    LLVMValueRef y = t->root == t->move ? v[i] : lanes_of(t, t->root, v[i], idx);
    LLVMValueRef args[4] = {y, at(c, t->out, off), align, lane_mask(t, nr, cg_i64(c, i), nc)};
    LLVMBuildCall2(c->b, t->store_ty, t->store, args, 4, "");
  }
}

static void tr_vectors(Tr *t) {
  CgCtx *c = t->c;
  t->w = c->vector_floats;
  t->vec = LLVMVectorType(c->f32, (unsigned)t->w);
  t->mvec = LLVMVectorType(LLVMInt1TypeInContext(c->ctx), (unsigned)t->w);
  LLVMValueRef lane[16];
  for (int l = 0; l < t->w; l++)
    lane[l] = cg_i64(c, l);
  t->lanes = LLVMConstVector(lane, (unsigned)t->w);
  t->load = intrinsic(t, "llvm.masked.load", &t->load_ty);
  t->store = intrinsic(t, "llvm.masked.store", &t->store_ty);
}

void cg_transpose_rows(CgCtx *c, LLVMValueRef in, int64_t in_row, LLVMValueRef lo,
                       LLVMValueRef hi, LLVMValueRef cols, LLVMValueRef out, int64_t out_row) {
  Tr t = {.c = c, .in = in};
  tr_vectors(&t);
  Loop lr, lc;
  LLVMValueRef w = cg_i64(c, t.w), w1 = cg_i64(c, t.w - 1);
  LLVMValueRef nrb = LLVMBuildSDiv(c->b, LLVMBuildAdd(c->b, LLVMBuildSub(c->b, hi, lo, ""), w1, ""), w, "");
  LLVMValueRef ncb = LLVMBuildSDiv(c->b, LLVMBuildAdd(c->b, cols, w1, ""), w, "");
  LLVMValueRef rb = cg_loop_open(c, &lr, nrb, "trb");
  LLVMValueRef cb = cg_loop_open(c, &lc, ncb, "tcb");
  LLVMValueRef r0 = LLVMBuildAdd(c->b, lo, LLVMBuildMul(c->b, rb, w, ""), "");
  LLVMValueRef c0 = LLVMBuildMul(c->b, cb, w, "");
  LLVMValueRef nr = LLVMBuildSub(c->b, hi, r0, ""), nc = LLVMBuildSub(c->b, cols, c0, "");
  nr = LLVMBuildSelect(c->b, LLVMBuildICmp(c->b, LLVMIntSLT, nr, w, ""), nr, w, "");
  nc = LLVMBuildSelect(c->b, LLVMBuildICmp(c->b, LLVMIntSLT, nc, w, ""), nc, w, "");
  LLVMValueRef v[16];
  load_transposed(&t, r0, c0, in_row, nr, nc, v);
  for (int i = 0; i < t.w; i++) {
    LLVMValueRef col = LLVMBuildAdd(c->b, c0, cg_i64(c, i), "");
    LLVMValueRef off = LLVMBuildAdd(c->b, LLVMBuildMul(c->b, col, cg_i64(c, out_row), ""), r0, "");
    LLVMValueRef args[4] = {v[i], at(c, out, off), LLVMConstInt(c->i32, 4, 0),
                            lane_mask(&t, nr, cg_i64(c, i), nc)};
    LLVMBuildCall2(c->b, t.store_ty, t.store, args, 4, "");
  }
  cg_loop_close(c, &lc, cb);
  cg_loop_close(c, &lr, rb);
}

bool cg_transpose(CgCtx *c, const Kernel *k) {
  Tr t = {.c = c, .root = k->root};
  if (cg_moves(c, t.root, &t.move) != 1 || !per_image_transpose(t.move, &t.rows, &t.cols, &t.nb))
    return false;
  tr_vectors(&t);
  if (!on_vectors(&t, t.root))
    return false;
  const Node *n = t.move;
  LLVMValueRef lo, hi, image = cg_i64(c, t.rows * t.cols);
  cg_share(c, cg_extent(c, n->shape.dim[0]), &lo, &hi);
  Loop li, lr, lc;
  LLVMValueRef b = t.image = cg_loop_open_range(c, &li, lo, hi, "img");
  LLVMValueRef first = LLVMBuildMul(c->b, b, image, "");
  t.in = at(c, at(c, c->ws, cg_i64(c, c->p->plan.offset[moved_array(c, n)->id])), first);
  t.out = at(c, at(c, c->ws, cg_i64(c, k->out)), first);
  LLVMValueRef rb = cg_loop_open(c, &lr, cg_i64(c, (t.rows + t.w - 1) / t.w), "rb");
  LLVMValueRef cb = cg_loop_open(c, &lc, cg_i64(c, (t.cols + t.w - 1) / t.w), "cb");
  emit_tile(&t, LLVMBuildMul(c->b, rb, cg_i64(c, t.w), "r0"), LLVMBuildMul(c->b, cb, cg_i64(c, t.w), "c0"));
  cg_loop_close(c, &lc, cb);
  cg_loop_close(c, &lr, rb);
  cg_loop_close(c, &li, b);
  return true;
}

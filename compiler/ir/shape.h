/* shape: tensor shapes, broadcasting, and the shape rule of every op (named in ops.def).
 * Contract: a shape has rank <= NNC_MAX_RANK; dim[0] may be DIM_BATCH (the symbolic number of
 * rows N), and no other dim may be. Broadcasting is numpy's: align trailing axes; a dim of 1
 * stretches; DIM_BATCH matches only DIM_BATCH or 1. A rule returns false and writes a one-line
 * reason (for the user's diagnostic) when the shapes do not fit. */
#ifndef NNC_SHAPE_H
#define NNC_SHAPE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Sources of one node and integer parameters of one op (see Node.arg in graph.h). */
enum { NNC_MAX_RANK = 4, NNC_MAX_SRC = 4, NNC_MAX_PARAMS = 12 };
/* The largest tensor (2^31 elements: 8 GiB of floats) and the largest workspace a program may
 * plan (2^32 floats: 16 GiB); past them nnc reports an error instead of generating code. */
#define NNC_MAX_ELEMENTS ((int64_t)1 << 31)
#define NNC_MAX_WORKSPACE ((int64_t)1 << 32)
#define DIM_BATCH ((int64_t)-1)

typedef struct {
  uint8_t rank;
  int64_t dim[NNC_MAX_RANK];
} Shape;

/* A reduction or expansion names its axes in the low bits and keeps them as size 1 when
 * AXES_KEEP is set (otherwise they are removed / inserted). */
#define AXES_KEEP 0x100u
#define AXES_MASK 0xffu

/* What an op's integer parameters mean (ops.def's params column says how many it takes; the
 * others are 0):
 *   SUM, MAXR, EXPAND: param[PARAM_AXES], the axes as above;
 *   MATMUL: param[PARAM_TRANSPOSE_A], param[PARAM_TRANSPOSE_B], 1 to transpose that operand;
 *   PERMUTE: param[i], the source axis of result axis i (i < rank);
 *   UNFOLD, FOLD and the pools: the Window below, in its field order (window_params).
 * RESHAPE takes none: its result shape is the one asked for. */
enum { PARAM_AXES = 0, PARAM_TRANSPOSE_A = 0, PARAM_TRANSPOSE_B = 1 };

/* A 2-D window over the axes [H, W] of an image [N, C, H, W]: kernel kh × kw, stride,
 * padding before (top, left) and after (bottom, right), dilation. Output extent per axis:
 * ⌊(in + p0 + p1 − d·(k − 1) − 1) / s⌋ + 1. Window ops read padding as 0 (unfold, average) or
 * as absent (max). `last`: the image is stored channels last, [N, H, W, C] (the layout pass,
 * layout.c), and so are the pools' results; unfold's patch columns are then (i·kw + j)·C + c
 * instead of (c·kh + i)·kw + j. */
typedef struct {
  int32_t kh, kw, sh, sw, pt, pl, pb, pr, dh, dw, last;
} Window;
enum { WINDOW_PARAMS = 11 };
/* The image's axes: channels, height, width (1, 2, 3, or 3, 1, 2 channels last). */
typedef struct {
  int c, h, w;
} ImageAxes;
ImageAxes window_axes(const Window *w);
Window window_of(const int32_t param[]);
void window_params(const Window *w, int32_t param[]);
/* The output extent of a window of size k over `in` (≤ 0 when it does not fit). */
int64_t window_extent(int64_t in, int32_t k, int32_t s, int32_t p0, int32_t p1, int32_t d);

/* A rule reads the op's integer parameters (their meaning per op is in ops.h). */
typedef bool ShapeRule(const Shape *const src[], const int32_t param[], Shape *out, char *why,
                       size_t n);
ShapeRule shape_leaf, shape_same, shape_bcast, shape_sum, shape_expand, shape_matmul, shape_permute,
    shape_reshape, shape_unfold, shape_fold, shape_pool, shape_pool_back, shape_unpool;

Shape shape_scalar(void);
/* Whether one row of s (the batch axis counted once) has at most NNC_MAX_ELEMENTS elements. */
bool shape_fits(const Shape *s);
bool shape_eq(const Shape *a, const Shape *b);
bool shape_has_batch(const Shape *s);
/* Number of elements, counting DIM_BATCH as `batch`. */
int64_t shape_numel(const Shape *s, int64_t batch);
/* "[N, 2]", "[]": into buf, returns buf. */
char *shape_str(const Shape *s, char *buf, size_t n);
/* Row-major strides of a buffer of shape s (DIM_BATCH only ever at axis 0, so all constant). */
void shape_strides(const Shape *s, int64_t stride[NNC_MAX_RANK]);
/* How to read a buffer of shape `src` while iterating over index space `space`:
 * strides over the axes of `space` (0 for axes the source does not vary along).
 * `bits` == 0: numpy broadcasting; otherwise the source lacks (or has size 1 on, with AXES_KEEP)
 * the axes of `space` named in bits, as for EXPAND sources and SUM results. */
void shape_view(const Shape *src, const Shape *space, uint32_t bits, int64_t stride[NNC_MAX_RANK]);

#endif

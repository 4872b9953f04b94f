#include "shape.h"

#include <stdio.h>
#include <string.h>

Shape shape_scalar(void) { return (Shape){0}; }

bool shape_fits(const Shape *s) {
  int64_t n = 1;
  for (int i = 0; i < s->rank; i++) {
    int64_t k = s->dim[i] == DIM_BATCH ? 1 : s->dim[i];
    if (k > 0 && n > NNC_MAX_ELEMENTS / k)
      return false;
    n *= k;
  }
  return true;
}

bool shape_eq(const Shape *a, const Shape *b) {
  if (a->rank != b->rank)
    return false;
  for (int i = 0; i < a->rank; i++)
    if (a->dim[i] != b->dim[i])
      return false;
  return true;
}

bool shape_has_batch(const Shape *s) { return s->rank > 0 && s->dim[0] == DIM_BATCH; }

int64_t shape_numel(const Shape *s, int64_t batch) {
  int64_t n = 1;
  for (int i = 0; i < s->rank; i++)
    n *= s->dim[i] == DIM_BATCH ? batch : s->dim[i];
  return n;
}

char *shape_str(const Shape *s, char *buf, size_t n) {
  size_t used = (size_t)snprintf(buf, n, "[");
  for (int i = 0; i < s->rank && used < n; i++) {
    const char *sep = i ? ", " : "";
    if (s->dim[i] == DIM_BATCH)
      used += (size_t)snprintf(buf + used, n - used, "%sN", sep);
    else
      used += (size_t)snprintf(buf + used, n - used, "%s%lld", sep, (long long)s->dim[i]);
  }
  if (used < n)
    snprintf(buf + used, n - used, "]");
  return buf;
}

void shape_strides(const Shape *s, int64_t stride[NNC_MAX_RANK]) {
  int64_t st = 1;
  for (int i = s->rank - 1; i >= 0; i--) {
    stride[i] = st;
    st *= s->dim[i] == DIM_BATCH ? 1 : s->dim[i];
  }
}

void shape_view(const Shape *src, const Shape *space, uint32_t bits, int64_t stride[NNC_MAX_RANK]) {
  int64_t own[NNC_MAX_RANK];
  shape_strides(src, own);
  memset(stride, 0, sizeof(int64_t) * NNC_MAX_RANK);
  if (bits == 0) {
    int lead = space->rank - src->rank;
    for (int j = 0; j < src->rank; j++)
      stride[lead + j] = src->dim[j] == 1 ? 0 : own[j];
    return;
  }
  int j = 0;
  for (int i = 0; i < space->rank; i++) {
    bool named = bits & (1u << i);
    if (named && !(bits & AXES_KEEP))
      continue;
    stride[i] = named ? 0 : own[j];
    j++;
  }
}

bool shape_leaf(const Shape *const src[], const int32_t param[], Shape *out, char *why, size_t n) {
  (void)src, (void)param, (void)out, (void)why, (void)n;
  return true;
}

bool shape_same(const Shape *const src[], const int32_t param[], Shape *out, char *why, size_t n) {
  (void)param, (void)why, (void)n;
  *out = *src[0];
  return true;
}

static bool dims_broadcast(int64_t a, int64_t b, int64_t *out) {
  if (a == b || b == 1)
    *out = a;
  else if (a == 1)
    *out = b;
  else
    return false;
  return true;
}

bool shape_bcast(const Shape *const src[], const int32_t param[], Shape *out, char *why,
                 size_t n) {
  (void)param;
  const Shape *a = src[0], *b = src[1];
  const Shape *longer = a->rank >= b->rank ? a : b;
  *out = *longer;
  for (int i = 1; i <= a->rank && i <= b->rank; i++) {
    int64_t da = a->dim[a->rank - i], db = b->dim[b->rank - i];
    if (!dims_broadcast(da, db, &out->dim[out->rank - i])) {
      char sa[64], sb[64];
      snprintf(why, n, "shapes %s and %s do not broadcast", shape_str(a, sa, sizeof sa),
               shape_str(b, sb, sizeof sb));
      return false;
    }
  }
  if (out->rank > 1)
    for (int i = 1; i < out->rank; i++)
      if (out->dim[i] == DIM_BATCH) {
        snprintf(why, n, "the batch dimension N would move off the first axis");
        return false;
      }
  return true;
}

/* param[PARAM_AXES]: the reduced axes (bit i: axis i), | AXES_KEEP to keep them as size 1. */
bool shape_sum(const Shape *const src[], const int32_t param[], Shape *out, char *why, size_t n) {
  const Shape *s = src[0];
  uint32_t bits = (uint32_t)param[PARAM_AXES];
  if (bits & ~(AXES_MASK | AXES_KEEP)) {
    snprintf(why, n, "unknown bits in a set of axes");
    return false;
  }
  if ((bits & AXES_MASK) >> s->rank) {
    snprintf(why, n, "axis out of range for a tensor of rank %d", s->rank);
    return false;
  }
  *out = shape_scalar();
  for (int i = 0; i < s->rank; i++) {
    if (!(bits & (1u << i)))
      out->dim[out->rank++] = s->dim[i];
    else if (bits & AXES_KEEP)
      out->dim[out->rank++] = 1;
  }
  return true;
}

/* out holds the wanted shape on entry; the source must be it with the named axes reduced. */
bool shape_expand(const Shape *const src[], const int32_t param[], Shape *out, char *why,
                  size_t n) {
  Shape want = *out, reduced;
  const Shape *w = &want;
  if (!shape_sum(&w, param, &reduced, why, n))
    return false;
  if (!shape_eq(&reduced, src[0])) {
    char sa[64], sb[64];
    snprintf(why, n, "cannot expand %s to %s", shape_str(src[0], sa, sizeof sa),
             shape_str(&want, sb, sizeof sb));
    return false;
  }
  return true;
}

/* param[PARAM_TRANSPOSE_A], [PARAM_TRANSPOSE_B]: 1 transposes that operand (0 or 1 only).
 * Two matrices, or A with more axes [L..., K] whose leading axes L are rows (a dense layer over
 * the last axis, numpy's matmul with a matrix B): untransposed, A [L..., K] B [K, F] is
 * [L..., F]; transposed, Aᵀ [L..., K] B [L..., F] is [K, F], summed over all of L — the weight
 * gradient of the same product. */
bool shape_matmul(const Shape *const src[], const int32_t param[], Shape *out, char *why,
                  size_t n) {
  const Shape *a = src[0], *b = src[1];
  char sa[64], sb[64];
  int32_t ta = param[PARAM_TRANSPOSE_A], tb = param[PARAM_TRANSPOSE_B];
  if ((ta | tb) & ~1) {
    snprintf(why, n, "a matrix product's transpose flags are 0 or 1");
    return false;
  }
  bool rows = a->rank > 2; /* A's leading axes are rows */
  if (a->rank < 2 || (rows ? b->rank != (ta ? a->rank : 2) : b->rank != 2)) {
    snprintf(why, n, "matrix product needs two matrices, got %s @ %s", shape_str(a, sa, sizeof sa),
             shape_str(b, sb, sizeof sb));
    return false;
  }
  if (rows && ta) {
    bool same_rows = !tb;
    for (int i = 0; same_rows && i < a->rank - 1; i++)
      same_rows = a->dim[i] == b->dim[i];
    if (!same_rows) {
      snprintf(why, n, "matrix product %sᵀ @ %s: the rows differ", shape_str(a, sa, sizeof sa),
               shape_str(b, sb, sizeof sb));
      return false;
    }
    *out = (Shape){.rank = 2, .dim = {a->dim[a->rank - 1], b->dim[b->rank - 1]}};
    return true;
  }
  int last = a->rank - 1;
  int64_t ka = a->dim[ta ? 0 : last];
  int64_t kb = b->dim[tb ? 1 : 0], nn = b->dim[tb ? 0 : 1];
  if (ka != kb) {
    snprintf(why, n, "matrix product %s @ %s: inner dimensions differ", shape_str(a, sa, sizeof sa),
             shape_str(b, sb, sizeof sb));
    return false;
  }
  if (nn == DIM_BATCH) {
    snprintf(why, n, "the batch dimension N would move off the first axis");
    return false;
  }
  *out = *a;
  if (ta)
    out->dim[0] = a->dim[1];
  out->dim[last] = nn;
  return true;
}

/* param[i]: the source axis of result axis i; the entries past the rank are 0, so that one
 * permutation has one spelling (and hash-conses to one node). */
bool shape_permute(const Shape *const src[], const int32_t param[], Shape *out, char *why,
                   size_t n) {
  const Shape *s = src[0];
  unsigned seen = 0;
  *out = (Shape){.rank = s->rank};
  for (int i = s->rank; i < NNC_MAX_PARAMS; i++)
    if (param[i]) {
      snprintf(why, n, "a permutation of %d axes has %d entries", s->rank, s->rank);
      return false;
    }
  for (int i = 0; i < s->rank; i++) {
    int32_t a = param[i];
    if (a < 0 || a >= s->rank || (seen & (1u << a))) {
      snprintf(why, n, "not a permutation of %d axes", s->rank);
      return false;
    }
    seen |= 1u << a;
    out->dim[i] = s->dim[a];
  }
  if (out->rank > 1 && out->dim[0] != DIM_BATCH && s->dim[0] == DIM_BATCH) {
    snprintf(why, n, "the batch dimension N cannot be transposed away from the first axis");
    return false;
  }
  return true;
}

/* RESHAPE: out holds the wanted shape on entry; the batch axis stays the first axis. */
bool shape_reshape(const Shape *const src[], const int32_t param[], Shape *out, char *why,
                   size_t n) {
  (void)param;
  const Shape *s = src[0];
  char sa[64], sb[64];
  for (int i = 1; i < out->rank; i++)
    if (out->dim[i] < 1) {
      snprintf(why, n, "cannot reshape to %s: every size after the batch axis is at least 1",
               shape_str(out, sb, sizeof sb));
      return false;
    }
  if (shape_has_batch(s) != shape_has_batch(out)) {
    snprintf(why, n, "cannot reshape %s to %s: the batch axis N stays the first axis",
             shape_str(s, sa, sizeof sa), shape_str(out, sb, sizeof sb));
    return false;
  }
  if (shape_numel(s, 1) != shape_numel(out, 1)) {
    snprintf(why, n, "cannot reshape %s (%lld elements%s) to %s (%lld)", shape_str(s, sa, sizeof sa),
             (long long)shape_numel(s, 1), shape_has_batch(s) ? " per row" : "",
             shape_str(out, sb, sizeof sb), (long long)shape_numel(out, 1));
    return false;
  }
  return true;
}

Window window_of(const int32_t param[]) {
  return (Window){param[0], param[1], param[2], param[3], param[4],
                  param[5], param[6], param[7], param[8], param[9], param[10]};
}

ImageAxes window_axes(const Window *w) { return w->last ? (ImageAxes){3, 1, 2} : (ImageAxes){1, 2, 3}; }

void window_params(const Window *w, int32_t param[]) {
  const int32_t v[WINDOW_PARAMS] = {w->kh, w->kw, w->sh, w->sw, w->pt, w->pl,
                                    w->pb, w->pr, w->dh, w->dw, w->last};
  for (int i = 0; i < WINDOW_PARAMS; i++)
    param[i] = v[i];
}

int64_t window_extent(int64_t in, int32_t k, int32_t s, int32_t p0, int32_t p1, int32_t d) {
  int64_t span = (int64_t)d * (k - 1) + 1, room = in + p0 + p1;
  return room < span ? 0 : (room - span) / s + 1;
}

/* The window's output [OH, OW] over an image; false with the reason when it cannot apply. */
static bool window_apply(const Shape *x, const Window *w, bool pool, int64_t *oh, int64_t *ow,
                         char *why, size_t n) {
  char sx[64];
  if (x->rank != 4) {
    snprintf(why, n, "needs images [C, H, W] with the batch axis in front, got %s",
             shape_str(x, sx, sizeof sx));
    return false;
  }
  if (w->kh < 1 || w->kw < 1) {
    snprintf(why, n, "a window is at least 1×1, got %d×%d", w->kh, w->kw);
    return false;
  }
  if (w->sh < 1 || w->sw < 1) {
    snprintf(why, n, "a stride is at least 1, got %d×%d", w->sh, w->sw);
    return false;
  }
  if (w->dh < 1 || w->dw < 1 || (pool && (w->dh != 1 || w->dw != 1))) {
    snprintf(why, n, pool ? "a pooling window is not dilated" : "a dilation is at least 1, got %d×%d",
             w->dh, w->dw);
    return false;
  }
  if (w->pt < 0 || w->pl < 0 || w->pb < 0 || w->pr < 0) {
    snprintf(why, n, "padding is not negative");
    return false;
  }
  if (w->last & ~1) {
    snprintf(why, n, "a window's layout flag is 0 or 1");
    return false;
  }
  if (pool && (w->pt >= w->kh || w->pb >= w->kh || w->pl >= w->kw || w->pr >= w->kw)) {
    snprintf(why, n, "a pooling window's padding is smaller than the window (%d×%d)", w->kh, w->kw);
    return false;
  }
  ImageAxes ax = window_axes(w);
  *oh = window_extent(x->dim[ax.h], w->kh, w->sh, w->pt, w->pb, w->dh);
  *ow = window_extent(x->dim[ax.w], w->kw, w->sw, w->pl, w->pr, w->dw);
  if (*oh < 1 || *ow < 1) {
    snprintf(why, n, "the window %d×%d%s is larger than the padded input %lld×%lld", w->kh, w->kw,
             w->dh > 1 || w->dw > 1 ? " (dilated)" : "",
             (long long)(x->dim[ax.h] + w->pt + w->pb), (long long)(x->dim[ax.w] + w->pl + w->pr));
    return false;
  }
  return true;
}

/* UNFOLD: [N, C, H, W] (or [N, H, W, C]) -> [N, OH, OW, C·kh·kw] */
bool shape_unfold(const Shape *const src[], const int32_t param[], Shape *out, char *why,
                  size_t n) {
  const Shape *x = src[0];
  Window w = window_of(param);
  int64_t oh, ow;
  if (!window_apply(x, &w, false, &oh, &ow, why, n))
    return false;
  int64_t ch = x->dim[window_axes(&w).c];
  if (ch > NNC_MAX_ELEMENTS / ((int64_t)w.kh * w.kw)) {
    snprintf(why, n, "the patches of %lld channels under a %d×%d window would be too long",
             (long long)ch, w.kh, w.kw);
    return false;
  }
  *out = (Shape){4, {x->dim[0], oh, ow, ch * w.kh * w.kw}};
  return true;
}

/* The pools: [N, C, H, W] -> [N, C, OH, OW] (or [N, H, W, C] -> [N, OH, OW, C]) */
bool shape_pool(const Shape *const src[], const int32_t param[], Shape *out, char *why,
                size_t n) {
  const Shape *x = src[0];
  Window w = window_of(param);
  int64_t oh, ow;
  if (!window_apply(x, &w, true, &oh, &ow, why, n))
    return false;
  *out = w.last ? (Shape){4, {x->dim[0], oh, ow, x->dim[3]}}
                 : (Shape){4, {x->dim[0], x->dim[1], oh, ow}};
  return true;
}

/* The adjoint of a window op back onto its input: `forward` of `to` must give `from`. */
static bool shape_back(ShapeRule *forward, const Shape *to, const Shape *from, const int32_t param[],
                       char *why, size_t n) {
  Shape fwd;
  const Shape *t = to;
  if (!forward(&t, param, &fwd, why, n))
    return false;
  if (!shape_eq(&fwd, from)) {
    char sa[64], sb[64];
    snprintf(why, n, "%s is not what the window gives on %s", shape_str(from, sa, sizeof sa),
             shape_str(to, sb, sizeof sb));
    return false;
  }
  return true;
}

/* FOLD: the patches [N, OH, OW, C·kh·kw] summed back onto the image asked for (out on entry). */
bool shape_fold(const Shape *const src[], const int32_t param[], Shape *out, char *why,
                size_t n) {
  return shape_back(shape_unfold, out, src[0], param, why, n);
}

/* AVGPOOL_BACK: a pool's output spread back onto the image asked for (out on entry). */
bool shape_unpool(const Shape *const src[], const int32_t param[], Shape *out, char *why,
                  size_t n) {
  return shape_back(shape_pool, out, src[0], param, why, n);
}

/* MAXPOOL_BACK(x, dy): dy, the shape of maxpool(x), routed onto x's shape. */
bool shape_pool_back(const Shape *const src[], const int32_t param[], Shape *out, char *why,
                     size_t n) {
  *out = *src[0];
  return shape_back(shape_pool, src[0], src[1], param, why, n);
}

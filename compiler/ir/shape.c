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
 * Both must be matrices. */
bool shape_matmul(const Shape *const src[], const int32_t param[], Shape *out, char *why,
                  size_t n) {
  const Shape *a = src[0], *b = src[1];
  char sa[64], sb[64];
  if (a->rank != 2 || b->rank != 2) {
    snprintf(why, n, "matrix product needs two matrices, got %s @ %s", shape_str(a, sa, sizeof sa),
             shape_str(b, sb, sizeof sb));
    return false;
  }
  int32_t ta = param[PARAM_TRANSPOSE_A], tb = param[PARAM_TRANSPOSE_B];
  if ((ta | tb) & ~1) {
    snprintf(why, n, "a matrix product's transpose flags are 0 or 1");
    return false;
  }
  int64_t m = a->dim[ta ? 1 : 0], ka = a->dim[ta ? 0 : 1];
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
  *out = (Shape){.rank = 2, .dim = {m, nn}};
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

/* dropout: the noise tensors the runtime writes into the workspace before every training step
 * and before evaluate and predict (nnrt_fill_noise), one fill per NnrtNoiseKind: dropout masks
 * (fresh draws for a step, 1 otherwise) and the training flag (1 for a step, 0 otherwise). The
 * draws come from the dropout stream alone (see rng.h), so a seed fixes every mask of a run. */
#include <string.h>

#include "internal.h"

typedef void NoiseFill(const NnrtNoise *z, float *dst, int64_t count, NnrtRng *r);

static void fill_dropout(const NnrtNoise *z, float *mask, int64_t count, NnrtRng *r) {
  if (!r || z->p <= 0.0) {
    for (int64_t j = 0; j < count; j++)
      mask[j] = 1.0f;
    return;
  }
  /* u < p drops: P(drop) = p to within the 2^-24 grid of the uniform floats. */
  float keep = (float)(1.0 / (1.0 - z->p)), p = (float)z->p;
  for (int64_t j = 0; j < count; j++)
    mask[j] = nnrt_rng_float(r) < p ? 0.0f : keep;
}

static void fill_training(const NnrtNoise *z, float *flag, int64_t count, NnrtRng *r) {
  (void)z;
  for (int64_t j = 0; j < count; j++)
    flag[j] = r ? 1.0f : 0.0f;
}

/* per_row: the tensor holds max_batch rows of width floats, else width floats in all. */
static const struct {
  NoiseFill *fill;
  int per_row;
} kinds[] = {
  [NNRT_NOISE_DROPOUT] = {fill_dropout, 1},
  [NNRT_NOISE_TRAINING] = {fill_training, 0},
};

int64_t nnrt_noise_floats(const NnrtModel *m, const NnrtNoise *z) {
  if (z->kind < 0 || z->kind >= (int32_t)(sizeof kinds / sizeof *kinds))
    return -1;
  return kinds[z->kind].per_row ? m->max_batch * z->width : z->width;
}

void nnrt_fill_noise(const NnrtModel *m, float *ws, NnrtRng *r) {
  for (int32_t k = 0; k < m->n_noise; k++) {
    const NnrtNoise *z = &m->noise[k];
    kinds[z->kind].fill(z, ws + z->offset, nnrt_noise_floats(m, z), r);
  }
}

/* A rank of a data-parallel step trains rows [lo, lo + n) of the batch as its rows 0..n-1: the
 * masks those rows have in the whole batch move to the front, so every row meets the mask it
 * would meet in one process. */
void nnrt_shift_noise(const NnrtModel *m, float *ws, int64_t lo, int64_t n) {
  for (int32_t k = 0; k < m->n_noise; k++) {
    const NnrtNoise *z = &m->noise[k];
    if (kinds[z->kind].per_row && lo > 0 && n > 0)
      memmove(ws + z->offset, ws + z->offset + lo * z->width,
              (size_t)(n * z->width) * sizeof(float));
  }
}

/* dropout: the masks the runtime writes into the workspace before every training step
 * (nnrt_fill_noise), or sets to 1 before predicting. The draws come from the dropout stream
 * alone (see rng.h), so a seed fixes every mask of a run. */
#include "internal.h"

void nnrt_fill_noise(const NnrtModel *m, float *ws, NnrtRng *r) {
  for (int32_t k = 0; k < m->n_noise; k++) {
    const NnrtNoise *z = &m->noise[k];
    float *mask = ws + z->offset;
    int64_t count = m->max_batch * z->width;
    if (!r || z->p <= 0.0) {
      for (int64_t j = 0; j < count; j++)
        mask[j] = 1.0f;
      continue;
    }
    /* u < p drops: P(drop) = p to within the 2^-24 grid of the uniform floats. */
    float keep = (float)(1.0 / (1.0 - z->p)), p = (float)z->p;
    for (int64_t j = 0; j < count; j++)
      mask[j] = nnrt_rng_float(r) < p ? 0.0f : keep;
  }
}

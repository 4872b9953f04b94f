/* schedule: what the runtime writes into the workspace before every training step besides the
 * batch: the learning rate of the schedule (nnrt_lr_at) and the dropout masks (nnrt_fill_noise).
 * Both are pure functions of their arguments and the stream, so a seed fixes a whole run. */
#include <math.h>

#include "internal.h"

#define NNRT_PI 3.14159265358979323846

double nnrt_lr_at(const NnrtTrainOptions *o, int64_t steps_per_epoch, int64_t s) {
  int64_t spe = steps_per_epoch > 0 ? steps_per_epoch : 1;
  int64_t epoch = s / spe, i = s % spe;
  double lr = o->lr;
  switch ((NnrtLrSchedule)o->lr_schedule) {
  case NNRT_LR_CONSTANT: break;
  case NNRT_LR_STEP:
    lr *= pow(o->lr_schedule_a, floor((double)epoch / o->lr_schedule_b));
    break;
  case NNRT_LR_EXPONENTIAL:
    lr *= pow(o->lr_schedule_a, (double)epoch + (double)i / (double)spe);
    break;
  case NNRT_LR_COSINE: {
    double total = (double)o->epochs * (double)spe;
    double a = o->lr_schedule_a;
    lr *= a + (1.0 - a) * (1.0 + cos(NNRT_PI * (double)s / total)) / 2.0;
    break;
  }
  }
  if (o->warmup_epochs > 0) {
    double ramp = (double)(s + 1) / (o->warmup_epochs * (double)spe);
    lr *= ramp < 1.0 ? ramp : 1.0;
  }
  return lr;
}

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

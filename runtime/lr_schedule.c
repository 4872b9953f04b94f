/* lr_schedule: the learning rate the runtime writes into the workspace before every training
 * step (nnrt_lr_at): the train block's schedule (NnrtLrSchedule), then the warm-up. A pure
 * function of the options and the step number, so a resumed run continues it exactly. */
#include <math.h>

#include "internal.h"

#define NNRT_PI 3.14159265358979323846

double nnrt_lr_at(const NnrtTrainOptions *o, int64_t steps_per_epoch, int64_t s) {
  int64_t spe = steps_per_epoch > 0 ? steps_per_epoch : 1;
  double lr = o->lr;
  switch ((NnrtLrSchedule)o->lr_schedule) {
  case NNRT_LR_CONSTANT: break;
  case NNRT_LR_STEP:
    lr *= pow(o->lr_schedule_a, floor((double)(s / spe) / o->lr_schedule_b));
    break;
  case NNRT_LR_EXPONENTIAL:
    lr *= pow(o->lr_schedule_a, (double)(s / spe) + (double)(s % spe) / (double)spe);
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

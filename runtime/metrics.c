/* metrics: accuracy of a batch from the output and target slots (nnrt_count_correct), and the
 * input scaling that makes predict see what training saw (nnrt_scale_inputs). */
#include "internal.h"

int64_t nnrt_argmax(const float *v, int64_t n) {
  int64_t best = 0;
  for (int64_t j = 1; j < n; j++)
    if (v[j] > v[best])
      best = j;
  return best;
}

int64_t nnrt_count_correct(const NnrtModel *m, const float *ws, int64_t n) {
  const float *out = ws + m->output.offset, *tgt = ws + m->target.offset;
  int64_t ow = m->output.width, tw = m->target.width, correct = 0;
  switch ((NnrtMetric)m->metric) {
  case NNRT_METRIC_NONE: break;
  case NNRT_METRIC_ARGMAX:
    for (int64_t r = 0; r < n; r++)
      correct += nnrt_argmax(out + r * ow, ow) == nnrt_argmax(tgt + r * tw, tw);
    break;
  case NNRT_METRIC_BINARY:
    for (int64_t j = 0; j < n * ow; j++)
      correct += (out[j] > 0.5f) == (tgt[j] > 0.5f);
    break;
  }
  return correct;
}

int64_t nnrt_metric_count(const NnrtModel *m, int64_t n) {
  return m->metric == NNRT_METRIC_BINARY ? n * m->output.width : n;
}

void nnrt_scale_inputs(const NnrtModel *m, const NnrtInputStats *st, float *x, int64_t rows) {
  int64_t w = m->input.width;
  if (m->train.scaling == NNRT_SCALE_FACTOR) {
    for (int64_t i = 0; i < rows * w; i++)
      x[i] = (float)((double)x[i] * m->train.scale);
  } else if (m->train.scaling == NNRT_SCALE_STANDARDIZE && st && st->width == w) {
    /* The loader's own formula, so predict cannot drift from training. */
    NnrtDataset ds = {.rows = rows, .in_width = w, .target_width = 0, .x = x, .y = NULL};
    nnrt_data_standardize(&ds, st->mean, st->std);
  }
}

/* metrics: accuracy of a batch from the output and target slots (nnrt_count_correct), the
 * figures of eval (metrics.h: per-class scores, regression errors), and the input scaling that
 * makes predict see what training saw (nnrt_scale_inputs). */
#include "metrics.h"

#include <math.h>
#include <stdlib.h>

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

/* ---- Per-class scores ---- */

static double ratio(double num, double den) { return den > 0 ? num / den : 0.0; }

void nnrt_class_scores(const int64_t *confusion, int k, NnrtClassScore *out) {
  NnrtClassScore avg = {0};
  for (int i = 0; i < k; i++) {
    int64_t tp = confusion[i * k + i], predicted = 0, support = 0;
    for (int j = 0; j < k; j++) {
      predicted += confusion[j * k + i];
      support += confusion[i * k + j];
    }
    NnrtClassScore *s = &out[i];
    s->precision = ratio((double)tp, (double)predicted);
    s->recall = ratio((double)tp, (double)support);
    s->f1 = ratio(2 * s->precision * s->recall, s->precision + s->recall);
    s->support = support;
    avg.precision += s->precision / k;
    avg.recall += s->recall / k;
    avg.f1 += s->f1 / k;
    avg.support += support;
  }
  out[k] = avg;
}

/* ---- Regression errors ---- */

int nnrt_regression_init(NnrtRegression *r, int64_t width) {
  *r = (NnrtRegression){.width = width, .sae = calloc((size_t)(4 * width), sizeof(double))};
  if (!r->sae)
    return -1;
  r->sse = r->sae + width;
  r->mean = r->sse + width;
  r->m2 = r->mean + width;
  return 0;
}

void nnrt_regression_add(NnrtRegression *r, const float *out, const float *tgt, int64_t rows) {
  for (int64_t i = 0; i < rows; i++) {
    r->rows++;
    for (int64_t j = 0; j < r->width; j++) {
      double y = tgt[i * r->width + j], e = (double)out[i * r->width + j] - y;
      r->sae[j] += fabs(e);
      r->sse[j] += e * e;
      double d = y - r->mean[j];
      r->mean[j] += d / (double)r->rows;
      r->m2[j] += d * (y - r->mean[j]);
    }
  }
}

void nnrt_regression_result(const NnrtRegression *r, double *mae, double *rmse, double *r2) {
  double sae = 0, sse = 0, r2_sum = 0;
  for (int64_t j = 0; j < r->width; j++) {
    sae += r->sae[j];
    sse += r->sse[j];
    r2_sum += r->m2[j] > 0 ? 1.0 - r->sse[j] / r->m2[j] : NAN;
  }
  double n = (double)r->rows * (double)r->width;
  *mae = n > 0 ? sae / n : NAN;
  *rmse = n > 0 ? sqrt(sse / n) : NAN;
  *r2 = r->width > 0 ? r2_sum / (double)r->width : NAN;
}

void nnrt_regression_free(NnrtRegression *r) {
  free(r->sae);
  *r = (NnrtRegression){0};
}

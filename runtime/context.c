/* context: a compiled model as a library object (nnc -c --header): one workspace with its
 * parameters, trained one batch at a time by the caller and asked for predictions.
 * Contract: the wrappers nnc writes into the object (<prefix>_create, ...) call these functions
 * with the model's descriptor; everything model-specific is in the descriptor, so this file is
 * the same for every model. A context touches nothing but its own memory: two contexts (of one
 * model or of two) may be used from two threads at once; one context from one thread at a time.
 * Rows come as the data files hold them: train_batch and predict apply the train block's input
 * scaling (nnrt_scale_inputs) as the compiled program does, so both give `./m predict`'s answers.
 * A model with standardize = true needs its input statistics first, from a file the program
 * wrote (load) or from training rows (fit_inputs); until then it neither trains nor predicts.
 * Nothing here prints. */
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

struct NnrtContext {
  const NnrtModel *m;
  float *ws;
  int64_t steps;  /* optimizer steps taken: the next step is number steps + 1 */
  NnrtRng dropout; /* the dropout stream, seeded as a training run seeds it */
  NnrtInputStats stats; /* width input.width when the model standardises, else 0 */
  bool have_stats;      /* stats hold loaded or fitted values */
  float *rows;          /* max_batch scaled input rows for predict */
};

static bool standardizes(const NnrtModel *m) {
  return m->has_train && m->train.scaling == NNRT_SCALE_STANDARDIZE;
}

/* Whether the context can scale inputs as training did. */
static bool ready(const NnrtContext *c) { return !standardizes(c->m) || c->have_stats; }

NnrtContext *nnrt_context_new(const NnrtModel *m, uint64_t seed) {
  if (!m || nnrt_check_model(m, NULL, 0) != 0 || nnrt_workspace_fits(m, NULL, 0) != 0)
    return NULL;
  NnrtContext *c = calloc(1, sizeof *c);
  if (!c)
    return NULL;
  c->m = m;
  c->ws = nnrt_workspace_new(m);
  c->rows = malloc((size_t)(m->max_batch * m->input.width) * sizeof(float));
  if (standardizes(m)) {
    c->stats.width = m->input.width;
    c->stats.mean = calloc((size_t)(2 * m->input.width), sizeof(float));
    c->stats.std = c->stats.mean ? c->stats.mean + m->input.width : NULL;
  }
  if (!c->ws || !c->rows || (standardizes(m) && !c->stats.mean)) {
    nnrt_context_free(c);
    return NULL;
  }
  nnrt_init_params(m, c->ws, seed);
  nnrt_rng_seed(&c->dropout, seed ^ NNRT_DROPOUT_SEED_XOR);
  nnrt_fill_noise(m, c->ws, NULL);
  return c;
}

void nnrt_context_free(NnrtContext *c) {
  if (!c)
    return;
  nnrt_workspace_free(c->ws);
  free(c->rows);
  free(c->stats.mean);
  free(c);
}

const NnrtModel *nnrt_context_model(const NnrtContext *c) { return c->m; }

float *nnrt_context_workspace(NnrtContext *c) { return c->ws; }

int64_t nnrt_context_steps(const NnrtContext *c) { return c->steps; }

int nnrt_context_load(NnrtContext *c, const char *path, char *err, size_t errlen) {
  if (!c || !path) {
    nnrt_errf(err, errlen, "no context or no path");
    return -1;
  }
  if (nnrt_load_stats(c->m, c->ws, standardizes(c->m) ? &c->stats : NULL, path, err, errlen))
    return -1;
  c->have_stats = standardizes(c->m);
  return 0;
}

int nnrt_context_save(const NnrtContext *c, const char *path, char *err, size_t errlen) {
  if (!c || !path) {
    nnrt_errf(err, errlen, "no context or no path");
    return -1;
  }
  if (!ready(c)) {
    nnrt_errf(err, errlen, "no input statistics to save (standardize = true): fit or load them "
                           "first");
    return -1;
  }
  return nnrt_save_stats(c->m, c->ws, standardizes(c->m) ? &c->stats : NULL, path, err, errlen);
}

int nnrt_context_fit_inputs(NnrtContext *c, const float *x, int64_t n) {
  if (!c || !x || n < 1)
    return -1;
  if (!standardizes(c->m))
    return 0;
  /* nnrt_data_stats only reads the rows. */
  NnrtDataset ds = {.rows = n, .in_width = c->m->input.width, .x = (float *)x};
  nnrt_data_stats(&ds, c->stats.mean, c->stats.std);
  c->have_stats = true;
  return 0;
}

float nnrt_context_train_batch(NnrtContext *c, const float *x, const float *y, int64_t n,
                               float lr) {
  if (!c || !x || !y || n < 1)
    return NAN;
  const NnrtModel *m = c->m;
  if (!m->has_train || !m->step || n > m->max_batch || !isfinite(lr) || !ready(c))
    return NAN;
  float *ws = c->ws;
  memcpy(ws + m->input.offset, x, (size_t)(n * m->input.width) * sizeof(float));
  nnrt_scale_inputs(m, &c->stats, ws + m->input.offset, n);
  memcpy(ws + m->target.offset, y, (size_t)(n * m->target.width) * sizeof(float));
  ws[m->lr_offset] = lr;
  if (m->step_offset >= 0)
    ws[m->step_offset] = (float)(c->steps + 1);
  nnrt_fill_noise(m, ws, &c->dropout);
  m->step(ws, n);
  c->steps++;
  /* Whatever runs next (predict) must not see a training mask or flag. */
  nnrt_fill_noise(m, ws, NULL);
  return ws[m->loss_offset];
}

void nnrt_context_predict(NnrtContext *c, const float *x, int64_t n, float *out) {
  if (!c || !x || !out || n < 1)
    return;
  const NnrtModel *m = c->m;
  if (!ready(c)) {
    for (int64_t i = 0; i < n * m->output.width; i++)
      out[i] = NAN;
    return;
  }
  for (int64_t at = 0; at < n; at += m->max_batch) {
    int64_t k = n - at < m->max_batch ? n - at : m->max_batch;
    memcpy(c->rows, x + at * m->input.width, (size_t)(k * m->input.width) * sizeof(float));
    nnrt_scale_inputs(m, &c->stats, c->rows, k);
    nnrt_predict_rows(m, c->ws, c->rows, k, out + at * m->output.width);
  }
}

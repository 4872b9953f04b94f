/* context: a compiled model as a library object (nnc -c --header): one workspace with its
 * parameters, trained one batch at a time by the caller and asked for predictions.
 * Contract: the wrappers nnc writes into the object (<prefix>_create, ...) call these functions
 * with the model's descriptor; everything model-specific is in the descriptor, so this file is
 * the same for every model. A context touches nothing but its own memory: two contexts (of one
 * model or of two) may be used from two threads at once; one context from one thread at a time.
 * Nothing here prints. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

struct NnrtContext {
  const NnrtModel *m;
  float *ws;
  int64_t steps;  /* optimizer steps taken: the next step is number steps + 1 */
  NnrtRng dropout; /* the dropout stream, seeded as a training run seeds it */
};

NnrtContext *nnrt_context_new(const NnrtModel *m, uint64_t seed) {
  if (!m || nnrt_check_model(m, NULL, 0) != 0)
    return NULL;
  NnrtContext *c = calloc(1, sizeof *c);
  if (!c)
    return NULL;
  c->m = m;
  c->ws = nnrt_workspace_new(m);
  if (!c->ws) {
    free(c);
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
  return nnrt_load(c->m, c->ws, path, err, errlen);
}

int nnrt_context_save(const NnrtContext *c, const char *path, char *err, size_t errlen) {
  if (!c || !path) {
    nnrt_errf(err, errlen, "no context or no path");
    return -1;
  }
  return nnrt_save(c->m, c->ws, path, err, errlen);
}

float nnrt_context_train_batch(NnrtContext *c, const float *x, const float *y, int64_t n,
                               float lr) {
  if (!c || !x || !y || n < 1)
    return NAN;
  const NnrtModel *m = c->m;
  if (!m->has_train || !m->step || n > m->max_batch || !isfinite(lr))
    return NAN;
  float *ws = c->ws;
  memcpy(ws + m->input.offset, x, (size_t)(n * m->input.width) * sizeof(float));
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
  nnrt_predict_rows(c->m, c->ws, x, n, out);
}

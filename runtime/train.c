/* train: the model check, the workspace, parameter initialisation, the training loop and batched
 * prediction. Contract: after nnrt_workspace_new the only heap allocation of a training run is
 * the row-order array, made before the first epoch; nothing here prints except to `log`. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "rng.h"

enum { NNRT_WS_ALIGN = 64 };

static int range_ok(const NnrtModel *m, int64_t offset, int64_t count) {
  return offset >= 0 && count >= 0 && count <= m->workspace_floats - offset;
}

static int slot_ok(const NnrtModel *m, const NnrtSlot *s) {
  return s->width >= 0 && s->width <= m->workspace_floats / m->max_batch &&
         range_ok(m, s->offset, s->width * m->max_batch);
}

/* The element count the dims describe, or -1 when a dim is not positive or the count overflows. */
static int64_t dims_product(const NnrtParam *p) {
  int64_t size = 1;
  for (int i = 0; i < p->rank; i++) {
    if (p->dim[i] < 1 || size > INT64_MAX / p->dim[i])
      return -1;
    size *= p->dim[i];
  }
  return size;
}

static int check_param(const NnrtModel *m, const NnrtParam *p, char *err, size_t errlen) {
  if (!p->name || p->rank < 0 || p->rank > 4) {
    nnrt_errf(err, errlen, "parameter %s has rank %d", p->name ? p->name : "(null)", p->rank);
    return -1;
  }
  if (dims_product(p) != p->size || !range_ok(m, p->offset, p->size)) {
    nnrt_errf(err, errlen, "parameter '%s' has a bad size or offset", p->name);
    return -1;
  }
  if (p->init < NNRT_INIT_ZEROS || p->init > NNRT_INIT_VALUES ||
      (p->init == NNRT_INIT_VALUES && !p->values)) {
    nnrt_errf(err, errlen, "parameter '%s' has a bad initialiser", p->name);
    return -1;
  }
  return 0;
}

static int check_train_fields(const NnrtModel *m, char *err, size_t errlen) {
  if (!m->step || !slot_ok(m, &m->target) || m->target.width < 1 ||
      !range_ok(m, m->loss_offset, 1) || !range_ok(m, m->lr_offset, 1)) {
    nnrt_errf(err, errlen, "the train block's step, target, loss or lr is inconsistent");
    return -1;
  }
  if (m->train.rows < 1 || !m->train.x || !m->train.y) {
    nnrt_errf(err, errlen, "model '%s' has no training data", m->name);
    return -1;
  }
  return 0;
}

int nnrt_check_model(const NnrtModel *m, char *err, size_t errlen) {
  if (m->abi_version != NNRT_ABI_VERSION) {
    nnrt_errf(err, errlen, "model ABI version %d, runtime ABI version %d", m->abi_version,
              NNRT_ABI_VERSION);
    return -1;
  }
  if (!m->name || m->workspace_floats < 1 || m->max_batch < 1 || !m->predict ||
      !slot_ok(m, &m->input) || !slot_ok(m, &m->output) || m->n_params < 0 ||
      (m->n_params > 0 && !m->params)) {
    nnrt_errf(err, errlen, "the model's workspace, slots or predict function are inconsistent");
    return -1;
  }
  for (int32_t i = 0; i < m->n_params; i++)
    if (check_param(m, &m->params[i], err, errlen) != 0)
      return -1;
  return m->has_train ? check_train_fields(m, err, errlen) : 0;
}

NnrtTrainOptions nnrt_train_options(const NnrtModel *m) {
  return (NnrtTrainOptions){.epochs = m->epochs, .batch = m->batch, .log_every = m->log_every,
                            .seed = m->seed, .shuffle = m->shuffle, .lr = m->lr};
}

float *nnrt_workspace_new(const NnrtModel *m) {
  if (m->workspace_floats < 1 || (uint64_t)m->workspace_floats > (SIZE_MAX - 64) / sizeof(float))
    return NULL;
  /* aligned_alloc wants a size that is a multiple of the alignment. */
  size_t bytes = (size_t)m->workspace_floats * sizeof(float);
  bytes = (bytes + NNRT_WS_ALIGN - 1) / NNRT_WS_ALIGN * NNRT_WS_ALIGN;
  float *ws = aligned_alloc(NNRT_WS_ALIGN, bytes);
  if (ws)
    memset(ws, 0, bytes);
  return ws;
}

void nnrt_workspace_free(float *ws) { free(ws); }

static float uniform_in(NnrtRng *r, double a, double b) {
  float v = (float)(a + (b - a) * nnrt_rng_double(r));
  /* Rounding to float can land exactly on b; keep the interval half-open. */
  return v >= (float)b && b > a ? nextafterf((float)b, (float)a) : v;
}

static void init_param(const NnrtParam *p, float *dst, NnrtRng *r) {
  for (int64_t i = 0; i < p->size; i++) {
    switch ((NnrtInitKind)p->init) {
    case NNRT_INIT_ZEROS: dst[i] = 0.0f; break;
    case NNRT_INIT_ONES: dst[i] = 1.0f; break;
    case NNRT_INIT_CONST: dst[i] = (float)p->a; break;
    case NNRT_INIT_NORMAL: dst[i] = (float)(p->a + p->b * nnrt_rng_normal(r)); break;
    case NNRT_INIT_UNIFORM: dst[i] = uniform_in(r, p->a, p->b); break;
    case NNRT_INIT_VALUES: dst[i] = p->values[i]; break;
    }
  }
}

void nnrt_init_params(const NnrtModel *m, float *ws, uint64_t seed) {
  NnrtRng r;
  nnrt_rng_seed(&r, seed);
  for (int32_t i = 0; i < m->n_params; i++)
    init_param(&m->params[i], ws + m->params[i].offset, &r);
}

static int check_options(const NnrtModel *m, const NnrtTrainOptions *o, char *err,
                         size_t errlen) {
  if (!m->has_train) {
    nnrt_errf(err, errlen, "model '%s' has no train block", m->name);
    return -1;
  }
  if (m->train.rows < 1) {
    nnrt_errf(err, errlen, "model '%s' has no training data", m->name);
    return -1;
  }
  if (o->epochs < 1 || o->batch < 1 || !isfinite(o->lr)) {
    nnrt_errf(err, errlen, "epochs and batch must be at least 1 and lr finite");
    return -1;
  }
  return 0;
}

static void load_row(const NnrtSlot *s, float *ws, int64_t slot_row, const float *table,
                     int64_t table_row) {
  memcpy(ws + s->offset + slot_row * s->width, table + table_row * s->width,
         (size_t)s->width * sizeof(float));
}

/* Runs one epoch over order[]; returns the mean loss, or a non-finite value as soon as a batch
 * produces one. */
static double run_epoch(const NnrtModel *m, float *ws, const int64_t *order, int64_t batch) {
  double sum = 0.0;
  for (int64_t start = 0; start < m->train.rows; start += batch) {
    int64_t n = m->train.rows - start < batch ? m->train.rows - start : batch;
    for (int64_t r = 0; r < n; r++) {
      load_row(&m->input, ws, r, m->train.x, order[start + r]);
      load_row(&m->target, ws, r, m->train.y, order[start + r]);
    }
    m->step(ws, n);
    double loss = ws[m->loss_offset];
    if (!isfinite(loss))
      return loss;
    sum += loss * (double)n;
  }
  return sum / (double)m->train.rows;
}

static int digits(int64_t v) {
  int d = 1;
  for (; v >= 10; v /= 10)
    d++;
  return d;
}

static void log_epoch(FILE *log, int64_t epoch, const NnrtTrainOptions *o, double loss) {
  int last = epoch == o->epochs;
  if (!log || !(epoch == 1 || last || (o->log_every > 0 && epoch % o->log_every == 0)))
    return;
  fprintf(log, "epoch %*lld/%lld  loss %.6f\n", digits(o->epochs), (long long)epoch,
          (long long)o->epochs, loss);
  fflush(log);
}

double nnrt_train(const NnrtModel *m, float *ws, const NnrtTrainOptions *o, FILE *log,
                  char *err, size_t errlen) {
  if (check_options(m, o, err, errlen) != 0)
    return NAN;
  int64_t *order = malloc((size_t)m->train.rows * sizeof *order);
  if (!order) {
    nnrt_errf(err, errlen, "out of memory for %lld training rows", (long long)m->train.rows);
    return NAN;
  }
  for (int64_t i = 0; i < m->train.rows; i++)
    order[i] = i;
  NnrtRng shuffle;
  nnrt_rng_seed(&shuffle, o->seed ^ NNRT_SHUFFLE_SEED_XOR);
  int64_t batch = o->batch < m->max_batch ? o->batch : m->max_batch;
  ws[m->lr_offset] = (float)o->lr;
  double loss = NAN;
  for (int64_t epoch = 1; epoch <= o->epochs; epoch++) {
    if (o->shuffle)
      nnrt_rng_shuffle(&shuffle, order, m->train.rows);
    loss = run_epoch(m, ws, order, batch);
    if (!isfinite(loss)) {
      nnrt_errf(err, errlen, "loss became non-finite at epoch %lld", (long long)epoch);
      loss = NAN;
      break;
    }
    log_epoch(log, epoch, o, loss);
  }
  free(order);
  return loss;
}

void nnrt_predict_rows(const NnrtModel *m, float *ws, const float *x, int64_t rows, float *y) {
  const NnrtSlot *in = &m->input, *out = &m->output;
  for (int64_t start = 0; start < rows; start += m->max_batch) {
    int64_t n = rows - start < m->max_batch ? rows - start : m->max_batch;
    memcpy(ws + in->offset, x + start * in->width, (size_t)(n * in->width) * sizeof(float));
    m->predict(ws, n);
    memcpy(y + start * out->width, ws + out->offset, (size_t)(n * out->width) * sizeof(float));
  }
}

/* train: the model check, the workspace, parameter initialisation, loading a run's data, the
 * training loop and batched prediction.
 * Contract: after nnrt_workspace_new and nnrt_train_data_load the only heap allocations of a
 * training run are the row-order array, the best-weights buffer (early stopping) and the list
 * of gradient checks, all made before the first epoch, plus the checkpoint saves' between
 * epochs (and at an interrupt or the end); nothing inside the step loop allocates. Nothing here
 * prints: progress goes to the NnrtReporter callbacks.
 * Exactness: a run is a pure function of its options, its data and its starting workspace, and
 * of nothing else; its whole state between two steps (workspace parameters and optimizer state,
 * step count, position in the epoch, the epoch's row order, both generators, the running sums
 * of the epoch, early stopping's record) is what a checkpoint holds, so resuming continues
 * bit-identically. The learning rate is a function of the global step (the schedule never
 * restarts); a cosine schedule's length is the resumed run's epochs. */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal.h"

enum { NNRT_WS_ALIGN = 64 };

/* ---- The descriptor check ---- */

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
  if (p->role < NNRT_ROLE_PARAM || p->role > NNRT_ROLE_CONST) {
    nnrt_errf(err, errlen, "parameter '%s' has a bad role %d", p->name, p->role);
    return -1;
  }
  return 0;
}

static int data_ok(const NnrtData *d, int allow_none) {
  switch ((NnrtDataKind)d->kind) {
  case NNRT_DATA_NONE: return allow_none;
  case NNRT_DATA_TABLE: return d->rows >= 1 && d->x && d->y;
  case NNRT_DATA_CSV: return d->path != NULL;
  case NNRT_DATA_IDX: return d->path && d->labels_path;
  }
  return 0;
}

static int has_validation(const NnrtModel *m) {
  return m->validate.kind != NNRT_DATA_NONE || m->validation_split > 0;
}

static int check_train_fields(const NnrtModel *m, char *err, size_t errlen) {
  if (!m->step || !slot_ok(m, &m->target) || m->target.width < 1 ||
      !range_ok(m, m->loss_offset, 1) || !range_ok(m, m->lr_offset, 1) ||
      (m->step_offset != -1 && !range_ok(m, m->step_offset, 1))) {
    nnrt_errf(err, errlen, "the train block's step, target, loss, lr or step is inconsistent");
    return -1;
  }
  if (!data_ok(&m->train, 0)) {
    nnrt_errf(err, errlen, "model '%s' has no training data", m->name);
    return -1;
  }
  if (!data_ok(&m->validate, 1) || !(m->validation_split >= 0 && m->validation_split < 1) ||
      (has_validation(m) && !m->evaluate)) {
    nnrt_errf(err, errlen, "the train block's validation data is inconsistent");
    return -1;
  }
  if (m->metric < NNRT_METRIC_NONE || m->metric > NNRT_METRIC_BINARY ||
      (m->metric != NNRT_METRIC_NONE && m->output.width != m->target.width) ||
      m->n_classes < 0 || (m->n_classes > 0 && m->target.width != m->n_classes)) {
    nnrt_errf(err, errlen, "the model's metric, classes, output and target disagree");
    return -1;
  }
  return 0;
}

static int check_noise(const NnrtModel *m, char *err, size_t errlen) {
  if (m->n_noise < 0 || (m->n_noise > 0 && !m->noise)) {
    nnrt_errf(err, errlen, "the model's dropout masks are inconsistent");
    return -1;
  }
  for (int32_t i = 0; i < m->n_noise; i++) {
    const NnrtNoise *z = &m->noise[i];
    if (z->width < 1 || z->width > m->workspace_floats / m->max_batch ||
        !range_ok(m, z->offset, z->width * m->max_batch) || !(z->p >= 0 && z->p < 1)) {
      nnrt_errf(err, errlen, "dropout mask %d has a bad offset, width or probability", (int)i);
      return -1;
    }
  }
  return 0;
}

static int check_checks(const NnrtModel *m, char *err, size_t errlen) {
  if (m->n_checks < 0 || (m->n_checks > 0 && !m->checks)) {
    nnrt_errf(err, errlen, "the model's list of step buffers is inconsistent");
    return -1;
  }
  for (int32_t i = 0; i < m->n_checks; i++) {
    const NnrtCheck *c = &m->checks[i];
    int64_t rows = c->per_row ? m->max_batch : 1;
    if (c->width < 0 || (rows > 1 && c->width > m->workspace_floats / rows) ||
        !range_ok(m, c->offset, c->width * rows)) {
      nnrt_errf(err, errlen, "step buffer %d ('%s') has a bad offset or width", (int)i,
                c->what ? c->what : "?");
      return -1;
    }
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
  if (check_noise(m, err, errlen) != 0 || check_checks(m, err, errlen) != 0)
    return -1;
  return m->has_train ? check_train_fields(m, err, errlen) : 0;
}

NnrtTrainOptions nnrt_train_options(const NnrtModel *m) {
  return (NnrtTrainOptions){
    .epochs = m->epochs, .batch = m->batch, .log_every = m->log_every, .seed = m->seed,
    .shuffle = m->shuffle, .lr = m->lr, .schedule = m->schedule, .sched_a = m->sched_a,
    .sched_b = m->sched_b, .warmup_epochs = m->warmup_epochs,
    .early_stopping = m->early_stopping, .checkpoint_every = m->checkpoint_every,
    .threads = 1,
  };
}

int nnrt_check_train_options(const NnrtModel *m, const NnrtTrainOptions *o, char *err,
                             size_t errlen) {
  if (!m->has_train) {
    nnrt_errf(err, errlen, "model '%s' has no train block", m->name);
    return -1;
  }
  if (o->epochs < 1 || o->batch < 1 || !isfinite(o->lr)) {
    nnrt_errf(err, errlen, "epochs and batch must be at least 1 and lr finite");
    return -1;
  }
  if (o->schedule < NNRT_SCHED_CONSTANT || o->schedule > NNRT_SCHED_COSINE ||
      !isfinite(o->sched_a) || !isfinite(o->sched_b) ||
      (o->schedule == NNRT_SCHED_STEP && !(o->sched_b > 0)) ||
      !(o->warmup_epochs >= 0 && isfinite(o->warmup_epochs))) {
    nnrt_errf(err, errlen, "the learning-rate schedule or its warm-up is invalid");
    return -1;
  }
  if (o->early_stopping < 0 || o->checkpoint_every < 0) {
    nnrt_errf(err, errlen, "early_stopping and checkpoint_every must not be negative");
    return -1;
  }
  if (o->early_stopping > 0 && !has_validation(m)) {
    nnrt_errf(err, errlen,
              "early_stopping needs validation data: give the train block 'validate' or "
              "'validation_split'");
    return -1;
  }
  return 0;
}

/* ---- Workspace and initialisation ---- */

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
  for (int32_t i = 0; i < m->n_params; i++) {
    const NnrtParam *p = &m->params[i];
    if (p->role == NNRT_ROLE_STATE)
      memset(ws + p->offset, 0, (size_t)p->size * sizeof(float));
    else
      init_param(p, ws + p->offset, &r);
  }
}

/* ---- A run's data ---- */

static int open_check(const char *path, char *err, size_t errlen) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    nnrt_errf(err, errlen, "cannot load '%s': %s", path, strerror(errno));
    return NNRT_EXIT_IO;
  }
  fclose(f);
  return NNRT_EXIT_OK;
}

/* Loads one source. A file that cannot be opened is an I/O error (exit 3), found before the
 * loader runs; everything the loader rejects is bad data (exit 1) unless it says
 * NNRT_EXIT_IO itself. Messages read "cannot load 'PATH': why". */
static int load_source(const NnrtModel *m, const NnrtData *d, const char *what, NnrtDataset *ds,
                       char *err, size_t errlen) {
  int rc = NNRT_EXIT_OK;
  if (d->kind == NNRT_DATA_CSV || d->kind == NNRT_DATA_IDX)
    rc = open_check(d->path, err, errlen);
  if (rc == NNRT_EXIT_OK && d->kind == NNRT_DATA_IDX)
    rc = open_check(d->labels_path, err, errlen);
  if (rc != NNRT_EXIT_OK)
    return rc;
  char msg[768] = "";
  memset(ds, 0, sizeof *ds);
  rc = nnrt_data_load(m, d, ds, msg, sizeof msg);
  if (rc != 0) {
    if (strncmp(msg, "cannot load", 11) == 0)
      nnrt_errf(err, errlen, "%s", msg);
    else if (d->path)
      nnrt_errf(err, errlen, "cannot load '%s': %s", d->path, msg);
    else
      nnrt_errf(err, errlen, "cannot load the %s table: %s", what, msg);
    return rc == NNRT_EXIT_IO ? NNRT_EXIT_IO : NNRT_EXIT_DATA;
  }
  if (ds->in_width != m->input.width || ds->target_width != m->target.width || ds->rows < 1) {
    nnrt_errf(err, errlen,
              "cannot load the %s data: %lld rows of %lld inputs and %lld targets, the model "
              "needs rows of %lld and %lld", what, (long long)ds->rows, (long long)ds->in_width,
              (long long)ds->target_width, (long long)m->input.width,
              (long long)m->target.width);
    return NNRT_EXIT_DATA;
  }
  return NNRT_EXIT_OK;
}

static int load_all(const NnrtModel *m, NnrtTrainData *td, char *err, size_t errlen) {
  int rc = load_source(m, &m->train, "training", &td->train, err, errlen);
  if (rc)
    return rc;
  if (m->validate.kind != NNRT_DATA_NONE) {
    rc = load_source(m, &m->validate, "validation", &td->val, err, errlen);
    if (rc)
      return rc;
  } else if (m->validation_split > 0) {
    char msg[512] = "";
    if (nnrt_data_split(&td->train, m->validation_split, &td->val, msg, sizeof msg) != 0) {
      nnrt_errf(err, errlen, "cannot hold out validation_split %g of the training data: %s",
                m->validation_split, msg);
      return NNRT_EXIT_DATA;
    }
  }
  if (m->train.scaling == NNRT_SCALE_STANDARDIZE) {
    int64_t w = m->input.width;
    td->stats.mean = malloc((size_t)(2 * w) * sizeof(float));
    if (!td->stats.mean) {
      nnrt_errf(err, errlen, "out of memory for the input statistics");
      return NNRT_EXIT_DATA;
    }
    td->stats.std = td->stats.mean + w;
    td->stats.width = w;
    nnrt_data_stats(&td->train, td->stats.mean, td->stats.std);
    nnrt_data_standardize(&td->train, td->stats.mean, td->stats.std);
    if (td->val.rows > 0)
      nnrt_data_standardize(&td->val, td->stats.mean, td->stats.std);
  }
  return NNRT_EXIT_OK;
}

int nnrt_train_data_load(const NnrtModel *m, NnrtTrainData **out, char *err, size_t errlen) {
  *out = NULL;
  if (!m->has_train) {
    nnrt_errf(err, errlen, "model '%s' has no train block", m->name);
    return NNRT_EXIT_USAGE;
  }
  NnrtTrainData *td = calloc(1, sizeof *td);
  if (!td) {
    nnrt_errf(err, errlen, "out of memory");
    return NNRT_EXIT_DATA;
  }
  int rc = load_all(m, td, err, errlen);
  if (rc) {
    nnrt_train_data_free(td);
    return rc;
  }
  *out = td;
  return NNRT_EXIT_OK;
}

void nnrt_train_data_free(NnrtTrainData *td) {
  if (!td)
    return;
  if (td->train.x || td->train.y)
    nnrt_dataset_free(&td->train);
  if (td->val.x || td->val.y)
    nnrt_dataset_free(&td->val);
  free(td->stats.mean);
  free(td);
}

const NnrtInputStats *nnrt_train_data_stats(const NnrtTrainData *td) { return &td->stats; }

/* ---- Signals ----
 * While nnrt_train_on runs, SIGINT and SIGTERM only set a flag (the one thing the handler does:
 * it is async-signal-safe), which the loop reads after every step and every epoch. The
 * handlers are installed with SA_RESETHAND, so a second signal during the checkpoint ends the
 * program the default way (the checkpoint being atomic, the old file stays whole). A signal
 * that was ignored when training began (a background job) stays ignored. */

static volatile sig_atomic_t stop_signal;

static void on_stop_signal(int sig) { stop_signal = sig; }

typedef struct {
  struct sigaction old[2];
  int installed[2];
} Handlers;

static const int stop_signals[2] = {SIGINT, SIGTERM};

static void handlers_install(Handlers *h) {
  stop_signal = 0;
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESETHAND;
  for (int i = 0; i < 2; i++) {
    h->installed[i] = 0;
    if (sigaction(stop_signals[i], NULL, &h->old[i]) != 0 || h->old[i].sa_handler == SIG_IGN)
      continue;
    h->installed[i] = sigaction(stop_signals[i], &sa, NULL) == 0;
  }
}

static void handlers_restore(const Handlers *h) {
  for (int i = 0; i < 2; i++)
    if (h->installed[i])
      sigaction(stop_signals[i], &h->old[i], NULL);
}

/* ---- The training loop ---- */

typedef struct {
  const NnrtModel *m;
  float *ws;
  const NnrtTrainOptions *o;
  const NnrtTrainData *td;
  int64_t batch, steps_per_epoch;
  int64_t step;     /* steps taken over the whole run */
  int64_t epoch;    /* the epoch being trained, from 1; all before it are complete */
  int64_t position; /* rows of it trained */
  double epoch_loss;     /* of its rows so far: sum of loss * rows */
  int64_t epoch_correct; /* and of correct predictions */
  double lr;             /* of the last step */
  double epoch_start;    /* seconds, monotonic */
  int64_t *order;
  float *best; /* early stopping: the ROLE_PARAM tensors of the best epoch, back to back */
  double best_loss, best_acc;
  int stopped; /* early stopping's patience ran out */
  int32_t *grads; /* indices into m->checks of the parameter gradients, checked every step */
  int32_t n_grads;
  NnrtRng shuffle, dropout;
  NnrtPool *pool; /* o->threads > 1: the threads that run each step */
} Run;

static double now_seconds(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static void load_rows(const NnrtSlot *s, float *ws, const float *data, const int64_t *order,
                      int64_t start, int64_t n) {
  size_t bytes = (size_t)s->width * sizeof(float);
  for (int64_t r = 0; r < n; r++) {
    int64_t row = order ? order[start + r] : start + r;
    memcpy(ws + s->offset + r * s->width, data + row * s->width, bytes);
  }
}

static double metric_of(const NnrtModel *m, int64_t correct, int64_t rows) {
  return m->metric == NNRT_METRIC_NONE ? NAN
                                       : (double)correct / (double)nnrt_metric_count(m, rows);
}

/* Floats of check c for a step on n rows. */
static int64_t check_count(const NnrtCheck *c, int64_t n) {
  return c->per_row ? c->width * n : c->width;
}

/* Whether any of the parameter gradients holds inf or NaN: x * 0 is 0 for every finite x and
 * NaN otherwise, so one sum per buffer decides (and vectorises). */
/* Whether any of v[0..n) is infinite or NaN: all exponent bits set. Integer ORs can be
 * reordered, so the compiler vectorises this; a float sum (x · 0 summed) could not be, and the
 * per-step check of the gradients then cost a quarter of the step. */
static int any_nonfinite(const float *v, int64_t n) {
  uint32_t bad = 0;
  for (int64_t k = 0; k < n; k++) {
    uint32_t bits;
    memcpy(&bits, &v[k], sizeof bits);
    bad |= (uint32_t)((bits & 0x7f800000u) == 0x7f800000u);
  }
  return bad != 0;
}

static int grads_nonfinite(const Run *r) {
  for (int32_t i = 0; i < r->n_grads; i++) {
    const NnrtCheck *c = &r->m->checks[r->grads[i]];
    if (any_nonfinite(r->ws + c->offset, c->width))
      return 1;
  }
  return 0;
}

static void report_step(const Run *r) {
  if (!r->o->report.on_step)
    return;
  NnrtStepReport s = {
    .epoch = r->epoch, .epochs = r->o->epochs,
    .step = (r->position + r->batch - 1) / r->batch, .steps = r->steps_per_epoch,
    .rows = r->position, .loss = r->epoch_loss / (double)r->position,
    .seconds = now_seconds() - r->epoch_start,
  };
  r->o->report.on_step(&s, r->o->report.ctx);
}

enum { EPOCH_DONE, EPOCH_NONFINITE, EPOCH_SIGNAL };

/* The rest of the current epoch over r->order, from r->position; *n_out: the last step's rows. */
static int run_epoch(Run *r, int64_t *n_out) {
  const NnrtModel *m = r->m;
  const NnrtDataset *ds = &r->td->train;
  float *ws = r->ws;
  while (r->position < ds->rows) {
    int64_t start = r->position;
    int64_t n = ds->rows - start < r->batch ? ds->rows - start : r->batch;
    load_rows(&m->input, ws, ds->x, r->order, start, n);
    load_rows(&m->target, ws, ds->y, r->order, start, n);
    r->lr = nnrt_lr_at(r->o, r->steps_per_epoch, r->step);
    ws[m->lr_offset] = (float)r->lr;
    if (m->step_offset >= 0)
      ws[m->step_offset] = (float)(r->step + 1);
    nnrt_fill_noise(m, ws, &r->dropout);
    nnrt_pool_step(r->pool, m, ws, n);
    r->step++;
    r->position += n;
    *n_out = n;
    double l = ws[m->loss_offset];
    if (!isfinite(l) || grads_nonfinite(r))
      return EPOCH_NONFINITE;
    r->epoch_loss += l * (double)n;
    r->epoch_correct += nnrt_count_correct(m, ws, n);
    report_step(r);
    if (stop_signal && r->position < ds->rows)
      return EPOCH_SIGNAL;
  }
  return EPOCH_DONE;
}

/* Loss and metric of the weights in ws on ds, through m->evaluate with every mask at 1. */
void nnrt_evaluate_set(const NnrtModel *m, float *ws, const NnrtDataset *ds, double *loss,
                       double *acc) {
  nnrt_fill_noise(m, ws, NULL);
  double sum = 0.0;
  int64_t correct = 0;
  for (int64_t start = 0; start < ds->rows; start += m->max_batch) {
    int64_t n = ds->rows - start < m->max_batch ? ds->rows - start : m->max_batch;
    load_rows(&m->input, ws, ds->x, NULL, start, n);
    load_rows(&m->target, ws, ds->y, NULL, start, n);
    m->evaluate(ws, n);
    sum += (double)ws[m->loss_offset] * (double)n;
    correct += nnrt_count_correct(m, ws, n);
  }
  *loss = sum / (double)ds->rows;
  *acc = metric_of(m, correct, ds->rows);
}

/* Copies the ROLE_PARAM tensors between ws and buf (to_buf: ws -> buf). */
static void copy_params(const NnrtModel *m, float *ws, float *buf, int to_buf) {
  for (int32_t i = 0; i < m->n_params; i++) {
    const NnrtParam *p = &m->params[i];
    if (p->role != NNRT_ROLE_PARAM)
      continue;
    size_t bytes = (size_t)p->size * sizeof(float);
    if (to_buf)
      memcpy(buf, ws + p->offset, bytes);
    else
      memcpy(ws + p->offset, buf, bytes);
    buf += p->size;
  }
}

static int64_t param_floats(const NnrtModel *m) {
  int64_t total = 0;
  for (int32_t i = 0; i < m->n_params; i++)
    total += m->params[i].role == NNRT_ROLE_PARAM ? m->params[i].size : 0;
  return total;
}

static int logged_epoch(const NnrtTrainOptions *o, int64_t epoch, int last) {
  return epoch == 1 || last || (o->log_every > 0 && epoch % o->log_every == 0);
}

static double fail(NnrtTrainResult *res, int status) {
  res->status = status;
  res->loss = NAN;
  return NAN;
}

static int is_param_gradient(const NnrtCheck *c) {
  static const char prefix[] = "∂L/∂";
  return !c->per_row && c->what && strncmp(c->what, prefix, sizeof prefix - 1) == 0;
}

/* The run's state for a checkpoint: epochs before r->epoch complete, r->position rows of it. */
static NnrtRunState run_state(const Run *r, const NnrtTrainResult *res, int restored) {
  int es = r->o->early_stopping > 0;
  return (NnrtRunState){
    .epoch = r->epoch - 1, .step = r->step, .position = r->position, .batch = r->batch,
    .epochs = r->o->epochs, .seed = r->o->seed, .shuffle = r->shuffle, .dropout = r->dropout,
    .epoch_loss = r->epoch_loss, .epoch_correct = r->epoch_correct, .loss = res->loss,
    .accuracy = res->accuracy, .best_epoch = es ? res->best_epoch : 0,
    .bad_epochs = es ? r->epoch - 1 - res->best_epoch : 0, .best_val_loss = r->best_loss,
    .best_val_accuracy = r->best_acc, .stopped = r->stopped, .restored = restored,
    .rows = r->td->train.rows, .order = r->order, .best = r->best,
  };
}

static int save_state(const Run *r, const NnrtTrainResult *res, int restored, char *err,
                      size_t errlen) {
  NnrtRunState rs = run_state(r, res, restored);
  return nnrt_save_run(r->m, r->ws, &r->td->stats, &rs, r->o->checkpoint_path, err, errlen);
}

/* Continues the run checkpointed at o->resume_path. */
static int resume(Run *r, NnrtTrainResult *res, char *err, size_t errlen) {
  NnrtRunState rs = {.rows = r->td->train.rows, .batch = r->batch, .epochs = r->o->epochs,
                     .order = r->order, .best = r->best};
  if (nnrt_load_run(r->m, r->ws, &r->td->stats, &rs, r->o->resume_path, err, errlen) != 0)
    return -1;
  r->step = rs.step;
  r->epoch = rs.epoch + 1;
  r->position = rs.position;
  r->shuffle = rs.shuffle;
  r->dropout = rs.dropout;
  r->epoch_loss = rs.epoch_loss;
  r->epoch_correct = rs.epoch_correct;
  r->best_loss = rs.best_val_loss;
  r->best_acc = rs.best_val_accuracy;
  r->stopped = rs.stopped;
  res->last_epoch = rs.epoch;
  res->loss = rs.loss;
  res->accuracy = rs.accuracy;
  res->best_epoch = rs.best_epoch;
  res->stopped_early = rs.stopped;
  res->steps = rs.step;
  return 0;
}

static int run_prepare(Run *r, NnrtTrainResult *res, char *err, size_t errlen) {
  const NnrtModel *m = r->m;
  int64_t rows = r->td->train.rows;
  r->batch = r->o->batch < m->max_batch ? r->o->batch : m->max_batch;
  r->steps_per_epoch = (rows + r->batch - 1) / r->batch;
  r->epoch = 1;
  r->best_loss = INFINITY;
  r->best_acc = NAN;
  nnrt_rng_seed(&r->shuffle, r->o->seed ^ NNRT_SHUFFLE_SEED_XOR);
  nnrt_rng_seed(&r->dropout, r->o->seed ^ NNRT_DROPOUT_SEED_XOR);
  r->order = malloc((size_t)rows * sizeof *r->order);
  if (r->order && r->o->early_stopping > 0) {
    int64_t n = param_floats(m);
    r->best = malloc((size_t)(n > 0 ? n : 1) * sizeof(float));
  }
  r->grads = malloc((size_t)(m->n_checks > 0 ? m->n_checks : 1) * sizeof *r->grads);
  if (!r->order || (r->o->early_stopping > 0 && !r->best) || !r->grads) {
    nnrt_errf(err, errlen, "out of memory for %lld training rows", (long long)rows);
    fail(res, NNRT_EXIT_DATA);
    return -1;
  }
  for (int32_t i = 0; i < m->n_checks; i++)
    if (is_param_gradient(&m->checks[i]))
      r->grads[r->n_grads++] = i;
  for (int64_t i = 0; i < rows; i++)
    r->order[i] = i;
  res->has_val = r->td->val.rows > 0;
  res->accuracy = res->val_loss = res->val_accuracy = NAN;
  if (r->o->resume_path && resume(r, res, err, errlen) != 0) {
    fail(res, NNRT_EXIT_IO);
    return -1;
  }
  if (nnrt_check_finite_params(m, r->ws, err, errlen) != 0) {
    fail(res, NNRT_EXIT_NONFINITE);
    return -1;
  }
  return 0;
}

static const char *nonfinite_word(float v) { return isnan(v) ? "nan" : v > 0 ? "inf" : "-inf"; }

/* The first buffer in m->checks order that holds a non-finite value after the last step (per-row
 * buffers over its n rows) names the value in err; without one, the loss does. */
static double nonfinite(const Run *r, int64_t n, NnrtTrainResult *res, char *err,
                        size_t errlen) {
  const NnrtModel *m = r->m;
  long long epoch = (long long)r->epoch, step = (long long)((r->position - n) / r->batch + 1);
  const char *source = m->source ? m->source : m->name;
  for (int32_t i = 0; i < m->n_checks; i++) {
    const NnrtCheck *c = &m->checks[i];
    const float *v = r->ws + c->offset;
    int64_t count = check_count(c, n);
    for (int64_t k = 0; k < count; k++) {
      if (isfinite(v[k]))
        continue;
      const char *what = c->what ? c->what : "?";
      if (c->line > 0)
        nnrt_errf(err, errlen, "non-finite value at epoch %lld, step %lld: '%s' (%s:%d:%d) is %s",
                  epoch, step, what, source, (int)c->line, (int)c->col, nonfinite_word(v[k]));
      else
        nnrt_errf(err, errlen,
                  "non-finite value at epoch %lld, step %lld: '%s' (made by the compiler) is %s",
                  epoch, step, what, nonfinite_word(v[k]));
      res->steps = r->step;
      return fail(res, NNRT_EXIT_NONFINITE);
    }
  }
  nnrt_errf(err, errlen, "non-finite value at epoch %lld, step %lld: the loss is %s", epoch, step,
            nonfinite_word(r->ws[m->loss_offset]));
  res->steps = r->step;
  return fail(res, NNRT_EXIT_NONFINITE);
}

/* After SIGINT or SIGTERM: a checkpoint of the exact state when there is a path. */
static double interrupted(const Run *r, NnrtTrainResult *res, char *err, size_t errlen) {
  /* Between epochs r->epoch is already the next one. */
  int64_t epoch = r->position > 0 ? r->epoch : r->epoch - 1;
  int64_t step = r->position > 0 ? (r->position + r->batch - 1) / r->batch : r->steps_per_epoch;
  char what[640] = "nothing saved (no --save path)";
  if (r->o->checkpoint_path) {
    char msg[600];
    if (save_state(r, res, 0, msg, sizeof msg) == 0)
      snprintf(what, sizeof what, "saved '%s'", r->o->checkpoint_path);
    else
      snprintf(what, sizeof what, "%s", msg);
  }
  nnrt_errf(err, errlen, "interrupted at epoch %lld, step %lld; %s", (long long)epoch,
            (long long)step, what);
  res->interrupted = 1;
  res->steps = r->step;
  return fail(res, NNRT_EXIT_INTERRUPTED);
}

/* After the epoch's numbers are in res: whether patience ran out. */
static int early_stop_update(Run *r, NnrtTrainResult *res) {
  if (r->o->early_stopping <= 0)
    return 0;
  if (res->val_loss < r->best_loss) {
    r->best_loss = res->val_loss;
    r->best_acc = res->val_accuracy;
    res->best_epoch = r->epoch;
    copy_params(r->m, r->ws, r->best, 1);
    return 0;
  }
  return r->epoch - res->best_epoch >= r->o->early_stopping;
}

static void report_epoch(const Run *r, const NnrtTrainResult *res, int validated, int last) {
  if (!r->o->report.on_epoch)
    return;
  NnrtEpochReport e = {
    .epoch = r->epoch, .epochs = r->o->epochs, .loss = res->loss, .accuracy = res->accuracy,
    .has_val = validated, .val_loss = validated ? res->val_loss : NAN,
    .val_accuracy = validated ? res->val_accuracy : NAN, .lr = r->lr,
    .seconds = now_seconds() - r->epoch_start, .logged = logged_epoch(r->o, r->epoch, last),
  };
  r->o->report.on_epoch(&e, r->o->report.ctx);
}

/* The end of an epoch: its numbers, validation, early stopping, the report; 0 or a status. */
static int finish_epoch(Run *r, NnrtTrainResult *res, char *err, size_t errlen) {
  const NnrtTrainOptions *o = r->o;
  int64_t rows = r->td->train.rows;
  res->loss = r->epoch_loss / (double)rows;
  res->accuracy = metric_of(r->m, r->epoch_correct, rows);
  /* Validation costs a forward pass over its rows: only for epochs that use it. */
  int validated = res->has_val && (o->early_stopping > 0 ||
                                   logged_epoch(o, r->epoch, r->epoch == o->epochs));
  if (validated) {
    nnrt_evaluate_set(r->m, r->ws, &r->td->val, &res->val_loss, &res->val_accuracy);
    if (!isfinite(res->val_loss)) {
      nnrt_errf(err, errlen, "non-finite value at epoch %lld: the validation loss is %s",
                (long long)r->epoch, nonfinite_word((float)res->val_loss));
      return NNRT_EXIT_NONFINITE;
    }
  }
  res->last_epoch = r->epoch;
  r->stopped = res->stopped_early = early_stop_update(r, res);
  report_epoch(r, res, validated, r->stopped || r->epoch == o->epochs);
  return NNRT_EXIT_OK;
}

static double train_epochs(Run *r, NnrtTrainResult *res, char *err, size_t errlen) {
  const NnrtTrainOptions *o = r->o;
  while (!r->stopped && r->epoch <= o->epochs) {
    if (r->position == 0) {
      if (o->shuffle)
        nnrt_rng_shuffle(&r->shuffle, r->order, r->td->train.rows);
      r->epoch_loss = 0.0;
      r->epoch_correct = 0;
    }
    r->epoch_start = now_seconds();
    int64_t n = 0;
    int rc = run_epoch(r, &n);
    if (rc == EPOCH_NONFINITE)
      return nonfinite(r, n, res, err, errlen);
    if (rc == EPOCH_SIGNAL)
      return interrupted(r, res, err, errlen);
    int status = finish_epoch(r, res, err, errlen);
    if (status != NNRT_EXIT_OK)
      return fail(res, status);
    int64_t done = r->epoch;
    r->epoch++;
    r->position = 0;
    if (o->checkpoint_every > 0 && o->checkpoint_path && done % o->checkpoint_every == 0 &&
        save_state(r, res, 0, err, errlen) != 0)
      return fail(res, NNRT_EXIT_IO);
    if (stop_signal)
      return interrupted(r, res, err, errlen);
  }
  res->steps = r->step;
  if (o->early_stopping <= 0)
    res->best_epoch = res->last_epoch;
  int restore = o->early_stopping > 0 && res->best_epoch > 0 &&
                res->best_epoch != res->last_epoch;
  if (o->checkpoint_path) {
    /* Saved before the restore: the file's weights are the best ones (what predict should use),
     * and __last.NAME keeps the ones training continues from. */
    if (save_state(r, res, restore, err, errlen) != 0)
      return fail(res, NNRT_EXIT_IO);
    res->saved = 1;
  }
  if (restore) {
    copy_params(r->m, r->ws, r->best, 0);
    res->val_loss = r->best_loss;
    res->val_accuracy = r->best_acc;
  }
  return res->loss;
}

double nnrt_train_on(const NnrtModel *m, float *ws, const NnrtTrainOptions *o,
                     const NnrtTrainData *td, FILE *log, NnrtTrainResult *res, char *err,
                     size_t errlen) {
  (void)log; /* progress goes to o->report */
  NnrtTrainResult local;
  if (!res)
    res = &local;
  *res = (NnrtTrainResult){.status = NNRT_EXIT_OK, .loss = NAN};
  if (nnrt_check_train_options(m, o, err, errlen) != 0)
    return fail(res, NNRT_EXIT_USAGE);
  if (o->early_stopping > 0 && td->val.rows < 1) {
    nnrt_errf(err, errlen, "early_stopping needs validation rows, and there are none");
    return fail(res, NNRT_EXIT_USAGE);
  }
  Run r = {.m = m, .ws = ws, .o = o, .td = td};
  double loss = NAN;
  if (o->threads > 1 && !(r.pool = nnrt_pool_new(o->threads))) {
    nnrt_errf(err, errlen, "cannot start %d threads", (int)o->threads);
    return fail(res, NNRT_EXIT_DATA);
  }
  if (run_prepare(&r, res, err, errlen) == 0) {
    Handlers h;
    handlers_install(&h);
    loss = train_epochs(&r, res, err, errlen);
    handlers_restore(&h);
    stop_signal = 0;
  }
  nnrt_pool_free(r.pool);
  free(r.order);
  free(r.best);
  free(r.grads);
  /* Whatever runs next (predict, evaluate) must not see training masks. */
  nnrt_fill_noise(m, ws, NULL);
  return loss;
}

double nnrt_train(const NnrtModel *m, float *ws, const NnrtTrainOptions *o, FILE *log,
                  char *err, size_t errlen) {
  if (nnrt_check_train_options(m, o, err, errlen) != 0)
    return NAN;
  NnrtTrainData *td;
  if (nnrt_train_data_load(m, &td, err, errlen) != NNRT_EXIT_OK)
    return NAN;
  double loss = nnrt_train_on(m, ws, o, td, log, NULL, err, errlen);
  nnrt_train_data_free(td);
  return loss;
}

void nnrt_predict_rows(const NnrtModel *m, float *ws, const float *x, int64_t rows, float *y) {
  const NnrtSlot *in = &m->input, *out = &m->output;
  nnrt_fill_noise(m, ws, NULL);
  for (int64_t start = 0; start < rows; start += m->max_batch) {
    int64_t n = rows - start < m->max_batch ? rows - start : m->max_batch;
    memcpy(ws + in->offset, x + start * in->width, (size_t)(n * in->width) * sizeof(float));
    m->predict(ws, n);
    memcpy(y + start * out->width, ws + out->offset, (size_t)(n * out->width) * sizeof(float));
  }
}

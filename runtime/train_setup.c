/* train_setup: what a training run needs before its loop: the descriptor check
 * (nnrt_check_model, nnrt_check_train_options), the default options, the workspace (and
 * whether it fits in the memory the process can have), the initialisation of its parameters,
 * and loading a run's data (nnrt_train_data_load).
 * Contract: every check returns 0, or -1 with err set; nothing here prints. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "internal.h"

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
  if (p->role < NNRT_ROLE_PARAM || p->role > NNRT_ROLE_BUFFER) {
    nnrt_errf(err, errlen, "parameter '%s' has a bad role %d", p->name, p->role);
    return -1;
  }
  return 0;
}

/* A source reads its files (nnrt_sources.h), or without files the model's own table. */
static int data_ok(const NnrtData *d, int allow_none) {
  if (d->kind == NNRT_DATA_NONE)
    return allow_none;
  if (!nnrt_data_source(d->kind))
    return 0;
  for (int i = 0; i < nnrt_data_files(d->kind); i++)
    if (!nnrt_data_file_path(d, i))
      return 0;
  return nnrt_data_files(d->kind) > 0 || (d->rows >= 1 && d->x && d->y);
}

static int has_validation(const NnrtModel *m) {
  return m->validate.kind != NNRT_DATA_NONE || m->validation_split > 0;
}

static int check_train_fields(const NnrtModel *m, char *err, size_t errlen) {
  if (!m->step || !slot_ok(m, &m->target) || m->target.width < 1 ||
      !range_ok(m, m->loss_offset, 1) || !range_ok(m, m->lr_offset, 1) ||
      (m->step_offset != -1 && !range_ok(m, m->step_offset, 1)) ||
      (m->nonfinite_offset != -1 && !range_ok(m, m->nonfinite_offset, 1))) {
    nnrt_errf(err, errlen,
              "the train block's step, target, loss, lr, step or non-finite flag is inconsistent");
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
    if (nnrt_noise_floats(m, z) < 0) {
      nnrt_errf(err, errlen, "noise tensor %d has a bad kind %d", (int)i, z->kind);
      return -1;
    }
    if (z->width < 1 || z->width > m->workspace_floats / m->max_batch ||
        !range_ok(m, z->offset, nnrt_noise_floats(m, z)) || !(z->p >= 0 && z->p < 1) ||
        (z->kind == NNRT_NOISE_TRAINING && z->width != 1)) {
      nnrt_errf(err, errlen, "%s %d has a bad offset, width or probability",
                z->kind == NNRT_NOISE_TRAINING ? "the training flag" : "dropout mask", (int)i);
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
  if (!m->name || m->workspace_floats < 1 || m->max_batch < 1 || m->predict_rows < 1 ||
      m->predict_rows > m->max_batch || !m->predict || !m->predict_head != !m->predict_tail ||
      (m->predict_head && (m->predict_cut_offset < 0 || m->predict_cut_width < 1 ||
                           m->predict_cut_offset + m->predict_cut_width * m->max_batch >
                             m->workspace_floats)) ||
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
    .shuffle = m->shuffle, .lr = m->lr, .lr_schedule = m->lr_schedule,
    .lr_schedule_a = m->lr_schedule_a, .lr_schedule_b = m->lr_schedule_b,
    .warmup_epochs = m->warmup_epochs,
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
  if (o->lr_schedule < NNRT_LR_CONSTANT || o->lr_schedule > NNRT_LR_COSINE ||
      !isfinite(o->lr_schedule_a) || !isfinite(o->lr_schedule_b) ||
      (o->lr_schedule == NNRT_LR_STEP && !(o->lr_schedule_b > 0)) ||
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
  size_t bytes = (size_t)m->workspace_floats * sizeof(float);
  float *ws = nnrt_alloc_large(bytes);
  if (ws)
    memset(ws, 0, bytes);
  return ws;
}

void nnrt_workspace_free(float *ws) { free(ws); }

/* The bytes this process maps now (/proc/self/statm's first field); 0 when unknown. */
static double mapped_bytes(void) {
  FILE *f = fopen("/proc/self/statm", "r");
  unsigned long long pages = 0;
  if (f) {
    if (fscanf(f, "%llu", &pages) != 1)
      pages = 0;
    fclose(f);
  }
  return (double)pages * (double)sysconf(_SC_PAGESIZE);
}

int nnrt_workspace_fits(const NnrtModel *m, char *err, size_t errlen) {
  double need = (double)m->workspace_floats * sizeof(float);
  long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
  double limit = pages > 0 && page > 0 ? (double)pages * (double)page : INFINITY;
  const char *what = "this machine has";
  struct rlimit as;
  if (getrlimit(RLIMIT_AS, &as) == 0 && as.rlim_cur != RLIM_INFINITY) {
    double left = (double)as.rlim_cur - mapped_bytes();
    if (left < limit) {
      limit = left > 0 ? left : 0;
      what = "the address-space limit (ulimit -v) leaves this process";
    }
  }
  if (need <= limit)
    return 0;
  char n[32], l[32];
  nnrt_bytes_text(n, sizeof n, need);
  nnrt_bytes_text(l, sizeof l, limit);
  nnrt_errf(err, errlen,
            "out of memory: the model needs %s for its workspace, more than the %s %s", n, l,
            what);
  return -1;
}

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

/* Loads one source. A file that cannot be opened is an I/O error (exit 3), found before the
 * loader runs; everything the loader rejects is bad data (exit 1) unless it says
 * NNRT_EXIT_IO itself. Messages read "cannot load 'PATH': why". */
static int load_source(const NnrtModel *m, const NnrtData *d, const char *what, NnrtDataset *ds,
                       char *err, size_t errlen) {
  int rc = NNRT_EXIT_OK;
  for (int i = 0; rc == NNRT_EXIT_OK && i < nnrt_data_files(d->kind); i++)
    rc = nnrt_check_readable(nnrt_data_file_path(d, i), err, errlen);
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

/* Permutes the rows of ds (inputs and targets together) by a seeded shuffle. */
static int permute_rows(NnrtDataset *ds, uint64_t seed) {
  int64_t n = ds->rows, wx = ds->in_width, wy = ds->target_width;
  int64_t *idx = malloc((size_t)n * sizeof *idx);
  float *x = malloc((size_t)(n * wx) * sizeof(float)), *y = malloc((size_t)(n * wy) * sizeof(float));
  if (!idx || !x || !y) {
    free(idx), free(x), free(y);
    return -1;
  }
  for (int64_t i = 0; i < n; i++)
    idx[i] = i;
  NnrtRng r;
  nnrt_rng_seed(&r, seed ^ NNRT_SPLIT_SEED_XOR);
  nnrt_rng_shuffle(&r, idx, n);
  for (int64_t i = 0; i < n; i++) {
    memcpy(x + i * wx, ds->x + idx[i] * wx, (size_t)wx * sizeof(float));
    memcpy(y + i * wy, ds->y + idx[i] * wy, (size_t)wy * sizeof(float));
  }
  free(idx), free(ds->x), free(ds->y);
  ds->x = x, ds->y = y;
  return 0;
}

int nnrt_hold_out(const NnrtModel *m, NnrtDataset *ds, NnrtDataset *val, char *err, size_t errlen) {
  if (m->split_shuffle && permute_rows(ds, m->seed) != 0) {
    nnrt_errf(err, errlen, "out of memory for shuffling %lld rows", (long long)ds->rows);
    return -1;
  }
  return nnrt_data_split(ds, m->validation_split, val, err, errlen);
}

const char *nnrt_class_label(const NnrtModel *m, int64_t i, char *buf, size_t size) {
  const NnrtData *d = &m->train;
  if (d->class_names && i < d->n_class_names && d->class_names[i])
    return d->class_names[i];
  snprintf(buf, size, "%lld", (long long)i);
  return buf;
}

/* The rows of each class in ds (one-hot targets), into count[n_classes]. */
static void count_classes(const NnrtModel *m, const NnrtDataset *ds, int64_t *count) {
  memset(count, 0, (size_t)m->n_classes * sizeof *count);
  for (int64_t i = 0; i < ds->rows; i++) {
    const float *y = ds->y + i * ds->target_width;
    int64_t best = 0;
    for (int64_t k = 1; k < m->n_classes; k++)
      if (y[k] > y[best])
        best = k;
    count[best]++;
  }
}

/* The warning for held-out rows whose classes are not those of the training rows: one class
 * only, or a total variation distance between the two label distributions above 0.25. Fewer
 * than MIN_ROWS held-out rows say little about a distribution, so they get none. */
static void check_held_out(const NnrtModel *m, NnrtTrainData *td) {
  enum { MAX_CLASSES = 4096, MIN_ROWS = 10 };
  if (m->n_classes < 2 || m->n_classes > MAX_CLASSES || m->split_shuffle || td->val.rows < MIN_ROWS)
    return;
  int64_t a[MAX_CLASSES], b[MAX_CLASSES];
  count_classes(m, &td->train, a);
  count_classes(m, &td->val, b);
  int64_t seen = 0, only = 0, gap_k = 0;
  double tv = 0, gap = -1;
  for (int64_t k = 0; k < m->n_classes; k++) {
    if (b[k])
      seen++, only = k;
    double d = (double)b[k] / (double)td->val.rows - (double)a[k] / (double)td->train.rows;
    tv += fabs(d) / 2;
    if (fabs(d) > gap)
      gap = fabs(d), gap_k = k;
  }
  char name[32], *w = td->warning;
  size_t size = sizeof td->warning;
  const char *hint = "the file may be sorted by class; set split_shuffle = true to hold out a "
                     "seeded random part instead";
  if (seen == 1)
    snprintf(w, size, "the %lld rows validation_split holds out (the last of the file) are all "
             "of class %s: %s", (long long)td->val.rows,
             nnrt_class_label(m, only, name, sizeof name), hint);
  else if (tv > 0.25)
    snprintf(w, size, "the %lld rows validation_split holds out (the last of the file) have other "
             "classes than the training rows (class %s: %.0f%% of them, %.0f%% of the training "
             "rows): %s", (long long)td->val.rows, nnrt_class_label(m, gap_k, name, sizeof name),
             100.0 * (double)b[gap_k] / (double)td->val.rows,
             100.0 * (double)a[gap_k] / (double)td->train.rows, hint);
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
    if (nnrt_hold_out(m, &td->train, &td->val, msg, sizeof msg) != 0) {
      nnrt_errf(err, errlen, "cannot hold out validation_split %g of the training data: %s",
                m->validation_split, msg);
      return NNRT_EXIT_DATA;
    }
    check_held_out(m, td);
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

const char *nnrt_train_data_warning(const NnrtTrainData *td) {
  return td->warning[0] ? td->warning : NULL;
}

static const NnrtDataset *train_data_set(const NnrtTrainData *td, NnrtSet set) {
  return set == NNRT_SET_VALIDATION ? &td->val : &td->train;
}

int64_t nnrt_train_data_rows(const NnrtTrainData *td, NnrtSet set) {
  return train_data_set(td, set)->rows;
}

void nnrt_evaluate_train_data(const NnrtModel *m, float *ws, const NnrtTrainData *td,
                              NnrtSet set, double *loss, double *acc) {
  nnrt_evaluate_set(m, ws, train_data_set(td, set), loss, acc);
}

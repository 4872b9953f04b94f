/* train: the training loop (nnrt_train_on, nnrt_train), evaluating a set and batched
 * prediction; the model check, the workspace, parameter initialisation and loading a run's data
 * are train_setup.c's.
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
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "comm.h"
#include "internal.h"

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
  int logged;            /* the epoch's line is printed, whatever early stopping decides */
  int64_t *order;
  float *best; /* early stopping: the weights of the best epoch, back to back */
  double best_loss, best_acc;
  int stopped; /* early stopping's patience ran out */
  int kept_previous; /* the file the first save replaced is kept as PATH.prev */
  int32_t *grads; /* indices into m->checks of the parameter gradients no update tests */
  int32_t n_grads;
  NnrtRng shuffle, dropout;
  NnrtPool *pool; /* o->threads > 1: the threads that run each step */
  NnrtRanks *ranks;  /* a data-parallel run: this rank's share of each step (train_ranks.c) */
  int ranks_stop;    /* some rank was asked to stop: every rank stops after the same step */
  double comm_start; /* the ranks' waiting seconds when the epoch started */
} Run;

static double now_seconds(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* A shuffled batch's rows lie anywhere in the data set, and the copy of each one waits for
 * memory: the lines of the row PREFETCH_ROWS ahead are asked for (into L2, locality 1: into
 * L1 measured no gain) while a row is copied, so a few rows are on their way at once. On the
 * Zen 4 machine the SGD b64 epoch went from 0.299 to 0.289 s quiet, 0.312 to 0.303 s (medians
 * of 12) busy; 1, 2, 4 and 8 rows ahead measured, 4 best. */
enum { PREFETCH_ROWS = 4 };

static void prefetch_row(const float *row, size_t bytes) {
  for (size_t at = 0; at < bytes; at += 64)
    __builtin_prefetch((const char *)row + at, 0, 1);
}

/* A row of at most SHORT_ROW floats is copied float by float: a call of memcpy costs more
 * than such a copy (XOR's rows of 2 and 1 floats: 8 calls an epoch, a sixth of the time an
 * epoch spends outside its step). */
enum { SHORT_ROW = 4 };

static void copy_row(float *to, const float *from, int64_t width) {
  if (width > SHORT_ROW) {
    memcpy(to, from, (size_t)width * sizeof(float));
    return;
  }
  for (int64_t j = 0; j < width; j++)
    to[j] = from[j];
}

static void load_rows(const NnrtSlot *s, float *ws, const float *data, const NnrtBatch *b,
                      int64_t from, int64_t to) {
  size_t bytes = (size_t)s->width * sizeof(float);
  for (int64_t r = from; r < to; r++) {
    if (b->order && r + PREFETCH_ROWS < to)
      prefetch_row(data + b->order[b->start + r + PREFETCH_ROWS] * s->width, bytes);
    int64_t row = b->order ? b->order[b->start + r] : b->start + r;
    copy_row(ws + s->offset + r * s->width, data + row * s->width, s->width);
  }
}

void nnrt_batch_load(const NnrtBatch *b, float *ws, int64_t from, int64_t to) {
  load_rows(&b->m->input, ws, b->x, b, from, to);
  load_rows(&b->m->target, ws, b->y, b, from, to);
}

static double metric_of(const NnrtModel *m, int64_t correct, int64_t rows) {
  return m->metric == NNRT_METRIC_NONE ? NAN
                                       : (double)correct / (double)nnrt_metric_count(m, rows);
}

/* Floats of check c for a step on n rows. */
static int64_t check_count(const NnrtCheck *c, int64_t n) {
  return c->per_row ? c->width * n : c->width;
}

/* Whether any of v[0..n) is infinite or NaN: all exponent bits set. Integer ORs can be
 * reordered, so the compiler vectorises this; a float sum (x · 0 summed) could not be, and the
 * per-step check of the gradients then cost a quarter of the step. It reads every gradient no
 * update tests each step, so it is also compiled for AVX2 (twice as wide as the x86-64
 * baseline the runtime is built for), chosen by the CPU features glibc has already read. Not
 * by GCC's target_clones: its resolver pulls in libgcc's CPU detection, a constructor whose
 * dozen cpuid instructions each trap to the hypervisor under KVM (about 40 µs of every
 * process's start on the Zen 4 machine, more than 1% of XOR's whole 10,000-epoch run). */
static inline __attribute__((always_inline)) int nonfinite_scan(const float *v, int64_t n) {
  uint32_t bad = 0;
  for (int64_t k = 0; k < n; k++) {
    uint32_t bits;
    memcpy(&bits, &v[k], sizeof bits);
    bad |= (uint32_t)((bits & 0x7f800000u) == 0x7f800000u);
  }
  return bad != 0;
}

#if defined(__x86_64__) && defined(__GNUC__) && __has_include(<sys/platform/x86.h>)
#include <sys/platform/x86.h>
__attribute__((target("avx2"))) static int nonfinite_scan_avx2(const float *v, int64_t n) {
  return nonfinite_scan(v, n);
}

static int any_nonfinite(const float *v, int64_t n) {
  return CPU_FEATURE_ACTIVE(AVX2) ? nonfinite_scan_avx2(v, n) : nonfinite_scan(v, n);
}
#else
static int any_nonfinite(const float *v, int64_t n) { return nonfinite_scan(v, n); }
#endif

/* The step's flag (NnrtModel.nonfinite_offset): the updates set it when a gradient they test
 * holds a non-finite value, so only the untested gradients are read again here. */
static void flag_clear(const Run *r) {
  if (r->m->nonfinite_offset >= 0)
    memset(r->ws + r->m->nonfinite_offset, 0, sizeof(int32_t));
}

static int grads_nonfinite(const Run *r) {
  int32_t flag = 0;
  if (r->m->nonfinite_offset >= 0)
    memcpy(&flag, r->ws + r->m->nonfinite_offset, sizeof flag);
  if (flag)
    return 1;
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

/* A data-parallel run stops when some rank was asked to, at the step all ranks agreed on. */
static int stop_requested(const Run *r) { return r->ranks ? r->ranks_stop : stop_signal != 0; }

/* The rest of the current epoch over r->order, from r->position; *n_out: the last step's rows. */
static int run_epoch(Run *r, int64_t *n_out) {
  const NnrtModel *m = r->m;
  const NnrtDataset *ds = &r->td->train;
  float *ws = r->ws;
  while (r->position < ds->rows) {
    int64_t start = r->position;
    int64_t n = ds->rows - start < r->batch ? ds->rows - start : r->batch;
    NnrtBatch batch = {m, ds->x, ds->y, r->order, start};
    r->lr = nnrt_lr_at(r->o, r->steps_per_epoch, r->step);
    ws[m->lr_offset] = (float)r->lr;
    if (m->step_offset >= 0)
      ws[m->step_offset] = (float)(r->step + 1);
    nnrt_fill_noise(m, ws, &r->dropout);
    flag_clear(r);
    double l;
    int64_t correct;
    if (r->ranks) {
      NnrtRanksStep got;
      nnrt_ranks_step(r->ranks, m, ws, batch, n, stop_signal != 0, &got);
      l = got.loss_sum / (double)n;
      correct = got.correct;
      r->ranks_stop = got.stop;
    } else {
      nnrt_pool_step(r->pool, m, ws, n, &batch);
      l = ws[m->loss_offset];
      correct = -1;
    }
    r->step++;
    r->position += n;
    *n_out = n;
    if (!isfinite(l) || grads_nonfinite(r))
      return EPOCH_NONFINITE;
    r->epoch_loss += l * (double)n;
    r->epoch_correct += correct >= 0 ? correct : nnrt_count_correct(m, ws, n);
    report_step(r);
    if (stop_requested(r) && r->position < ds->rows)
      return EPOCH_SIGNAL;
  }
  return EPOCH_DONE;
}

/* Loss and metric of the weights in ws on ds, through m->evaluate with every mask at 1 and the
 * training flag at 0. */
void nnrt_evaluate_set(const NnrtModel *m, float *ws, const NnrtDataset *ds, double *loss,
                       double *acc) {
  nnrt_fill_noise(m, ws, NULL);
  double sum = 0.0;
  int64_t correct = 0;
  for (int64_t start = 0; start < ds->rows; start += m->max_batch) {
    int64_t n = ds->rows - start < m->max_batch ? ds->rows - start : m->max_batch;
    nnrt_batch_load(&(NnrtBatch){m, ds->x, ds->y, NULL, start}, ws, 0, n);
    m->evaluate(ws, n);
    sum += (double)ws[m->loss_offset] * (double)n;
    correct += nnrt_count_correct(m, ws, n);
  }
  *loss = sum / (double)ds->rows;
  *acc = metric_of(m, correct, ds->rows);
}

static int logged_epoch(const NnrtTrainOptions *o, int64_t epoch, int last) {
  return epoch == 1 || last || (o->log_every > 0 && epoch % o->log_every == 0);
}

static double fail(NnrtTrainResult *res, int status) {
  res->status = status;
  res->loss = NAN;
  return NAN;
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

static int save_state(Run *r, const NnrtTrainResult *res, int restored, char *err,
                      size_t errlen) {
  NnrtRunState rs = run_state(r, res, restored);
  if (!r->kept_previous && nnrt_keep_previous(r->o->checkpoint_path, err, errlen) != 0)
    return -1;
  r->kept_previous = 1;
  return nnrt_save_run(r->m, r->ws, &r->td->stats, &rs, r->o->checkpoint_path, err, errlen);
}

/* Continues the run checkpointed at o->resume_path: 0, or nnrt_load_run's failure. */
static int resume(Run *r, NnrtTrainResult *res, char *err, size_t errlen) {
  NnrtRunState rs = {.rows = r->td->train.rows, .batch = r->batch, .epochs = r->o->epochs,
                     .order = r->order, .best = r->best};
  int rc = nnrt_load_run(r->m, r->ws, &r->td->stats, &rs, r->o->resume_path, err, errlen);
  if (rc != 0)
    return rc;
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
    int64_t n = nnrt_weight_floats(m);
    r->best = malloc((size_t)(n > 0 ? n : 1) * sizeof(float));
  }
  r->grads = malloc((size_t)(m->n_checks > 0 ? m->n_checks : 1) * sizeof *r->grads);
  if (!r->order || (r->o->early_stopping > 0 && !r->best) || !r->grads) {
    nnrt_errf(err, errlen, "out of memory for %lld training rows", (long long)rows);
    fail(res, NNRT_EXIT_DATA);
    return -1;
  }
  for (int32_t i = 0; i < m->n_checks; i++)
    if (nnrt_is_param_gradient(&m->checks[i]) &&
        !(m->checks[i].tested && m->nonfinite_offset >= 0))
      r->grads[r->n_grads++] = i;
  for (int64_t i = 0; i < rows; i++)
    r->order[i] = i;
  res->has_val = r->td->val.rows > 0;
  res->accuracy = res->val_loss = res->val_accuracy = NAN;
  int loaded = r->o->resume_path ? resume(r, res, err, errlen) : 0;
  if (loaded != 0) {
    fail(res, loaded == NNRT_LOAD_NOMEM ? NNRT_EXIT_DATA : NNRT_EXIT_IO);
    return -1;
  }
  if (nnrt_check_finite_params(m, r->ws, err, errlen) != 0) {
    fail(res, NNRT_EXIT_NONFINITE);
    return -1;
  }
  return 0;
}

static const char *nonfinite_word(float v) { return isnan(v) ? "nan" : v > 0 ? "inf" : "-inf"; }

/* What to do about it, after each message below: most often the steps were too large. */
#define NONFINITE_HINT \
  "\nhint: a learning rate too high makes the values overflow; try a lower one (--lr)"

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
        nnrt_errf(err, errlen, "non-finite value at epoch %lld, step %lld: '%s' (%s:%d:%d) is %s"
                  NONFINITE_HINT,
                  epoch, step, what, source, (int)c->line, (int)c->col, nonfinite_word(v[k]));
      else
        nnrt_errf(err, errlen,
                  "non-finite value at epoch %lld, step %lld: '%s' (made by the compiler) is %s"
                  NONFINITE_HINT,
                  epoch, step, what, nonfinite_word(v[k]));
      res->steps = r->step;
      return fail(res, NNRT_EXIT_NONFINITE);
    }
  }
  nnrt_errf(err, errlen, "non-finite value at epoch %lld, step %lld: the loss is %s" NONFINITE_HINT,
            epoch, step, nonfinite_word(r->ws[m->loss_offset]));
  res->steps = r->step;
  return fail(res, NNRT_EXIT_NONFINITE);
}

/* After SIGINT or SIGTERM: a checkpoint of the exact state when there is a path. */
static double interrupted(Run *r, NnrtTrainResult *res, char *err, size_t errlen) {
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
    nnrt_copy_weights(r->m, r->ws, r->best, 1);
    return 0;
  }
  return r->epoch - res->best_epoch >= r->o->early_stopping;
}

/* Whether anything reads this epoch's seconds (NAN when not): a step callback, a reporter
 * that reads every epoch's, or the epoch's line, which early stopping may make any epoch's. */
static int epoch_timed(const Run *r) {
  const NnrtTrainOptions *o = r->o;
  return o->report.on_step ||
         (o->report.on_epoch && (!o->report.logged_seconds_only || o->early_stopping > 0 ||
                                 r->logged));
}

/* The epoch's loss and accuracy come as values, not read back from res where finish_epoch
 * has just stored them: the compiler reads the two as one 16-byte load, which cannot be
 * forwarded from two 8-byte stores and waited for them to reach the cache (a fifth of the
 * time XOR's epoch spent outside its step). */
static void report_epoch(const Run *r, const NnrtTrainResult *res, int validated, double loss,
                         double accuracy) {
  if (!r->o->report.on_epoch)
    return;
  NnrtEpochReport e = {
    .epoch = r->epoch, .epochs = r->o->epochs, .loss = loss, .accuracy = accuracy,
    .has_val = validated, .val_loss = validated ? res->val_loss : NAN,
    .val_accuracy = validated ? res->val_accuracy : NAN, .lr = r->lr,
    .seconds = isnan(r->epoch_start) ? NAN : now_seconds() - r->epoch_start,
    .logged = r->logged || r->stopped,
    .comm_seconds = r->ranks ? nnrt_ranks_wait_seconds(r->ranks) - r->comm_start : 0.0,
  };
  r->o->report.on_epoch(&e, r->o->report.ctx);
}

/* The end of an epoch: its numbers, validation, early stopping, the report; 0 or a status. */
static int finish_epoch(Run *r, NnrtTrainResult *res, char *err, size_t errlen) {
  const NnrtTrainOptions *o = r->o;
  int64_t rows = r->td->train.rows;
  double loss = r->epoch_loss / (double)rows, accuracy = metric_of(r->m, r->epoch_correct, rows);
  res->loss = loss;
  res->accuracy = accuracy;
  /* Validation costs a forward pass over its rows: only for epochs that use it. */
  int validated = res->has_val && (o->early_stopping > 0 || r->logged);
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
  report_epoch(r, res, validated, loss, accuracy);
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
    r->logged = logged_epoch(o, r->epoch, r->epoch == o->epochs);
    r->epoch_start = epoch_timed(r) ? now_seconds() : NAN;
    r->comm_start = r->ranks ? nnrt_ranks_wait_seconds(r->ranks) : 0.0;
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
    res->epochs_trained++;
    r->epoch++;
    r->position = 0;
    if (o->checkpoint_every > 0 && o->checkpoint_path && done % o->checkpoint_every == 0 &&
        save_state(r, res, 0, err, errlen) != 0)
      return fail(res, NNRT_EXIT_IO);
    if (stop_requested(r))
      return interrupted(r, res, err, errlen);
  }
  res->steps = r->step;
  if (r->ranks && nnrt_ranks_agree(r->ranks, r->m, r->ws, err, errlen) != 0)
    return fail(res, NNRT_EXIT_DATA);
  if (o->early_stopping <= 0)
    res->best_epoch = res->last_epoch;
  int restore = o->early_stopping > 0 && res->best_epoch > 0 &&
                res->best_epoch != res->last_epoch;
  /* A resumed run that had already ended trains nothing: its file stays as it is. */
  if (o->checkpoint_path && res->epochs_trained > 0) {
    /* Saved before the restore: the file's weights are the best ones (what predict should use),
     * and __last.NAME keeps the ones training continues from. */
    if (save_state(r, res, restore, err, errlen) != 0)
      return fail(res, NNRT_EXIT_IO);
    res->saved = 1;
  }
  if (restore) {
    nnrt_copy_weights(r->m, r->ws, r->best, 0);
    res->val_loss = r->best_loss;
    res->val_accuracy = r->best_acc;
  } else if (res->epochs_trained == 0 && res->has_val) {
    /* the checkpoint keeps no validation figures: the weights give the last epoch's again */
    nnrt_evaluate_set(r->m, r->ws, &r->td->val, &res->val_loss, &res->val_accuracy);
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
  if (o->job && o->job->size > 1 && !(r.ranks = nnrt_ranks_new(m, o->job, err, errlen)))
    return fail(res, NNRT_EXIT_DATA);
  if (!r.ranks && o->threads > 1 && !(r.pool = nnrt_pool_new(o->threads))) {
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
  nnrt_ranks_free(r.ranks);
  free(r.order);
  free(r.best);
  free(r.grads);
  /* Whatever runs next (predict, evaluate) must not see training masks or flag. */
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

/* predict on n <= max_batch rows of x, outputs to y: in chunks of predict_rows, or, when predict
 * is cut, its head in chunks (the last chunk first, each moving its rows of the cut value into
 * place, so the first chunk's stay where the head wrote them) and its tail on all n rows. */
static void predict_batch(const NnrtModel *m, float *ws, const float *x, int64_t n, float *y) {
  const NnrtSlot *in = &m->input, *out = &m->output;
  int64_t chunk = m->predict_rows;
  if (!m->predict_head) {
    for (int64_t start = 0; start < n; start += chunk) {
      int64_t k = n - start < chunk ? n - start : chunk;
      memcpy(ws + in->offset, x + start * in->width, (size_t)(k * in->width) * sizeof(float));
      m->predict(ws, k);
      memcpy(y + start * out->width, ws + out->offset, (size_t)(k * out->width) * sizeof(float));
    }
    return;
  }
  float *cut = ws + m->predict_cut_offset;
  for (int64_t start = (n - 1) / chunk * chunk; start >= 0; start -= chunk) {
    int64_t k = n - start < chunk ? n - start : chunk;
    memcpy(ws + in->offset, x + start * in->width, (size_t)(k * in->width) * sizeof(float));
    m->predict_head(ws, k);
    if (start > 0)
      memcpy(cut + start * m->predict_cut_width, cut,
             (size_t)(k * m->predict_cut_width) * sizeof(float));
  }
  m->predict_tail(ws, n);
  memcpy(y, ws + out->offset, (size_t)(n * out->width) * sizeof(float));
}

void nnrt_predict_rows(const NnrtModel *m, float *ws, const float *x, int64_t rows, float *y) {
  nnrt_fill_noise(m, ws, NULL);
  for (int64_t start = 0; start < rows; start += m->max_batch) {
    int64_t n = rows - start < m->max_batch ? rows - start : m->max_batch;
    predict_batch(m, ws, x + start * m->input.width, n, y + start * m->output.width);
  }
}

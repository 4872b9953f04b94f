/* test_train: the ABI v2 training loop of nnrt against a hand-written "probe" model.
 * The probe's step copies its inputs to its outputs (so the accuracy is known), writes a
 * constant loss, sets its one parameter w to the step number it was given, and records the
 * learning rate, the step number and the dropout masks it saw. Its evaluate reports a
 * validation loss that depends only on w: (E - 3)^2 + 1 where E = w / steps-per-epoch is the
 * number of epochs trained, so the best validation loss is at epoch 3. Files go to a fresh
 * directory under /tmp made by the group setup and removed by its teardown. */
#include "test.h"

#include <dirent.h>
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"
#include "nnrt.h"

#define TEST_TMP_DIR "/tmp/nnrt-train-XXXXXX"
#include "runtime_fixture.h"

/* ---- The probe ---- */

enum {
  PW = 0,     /* param w [1] */
  PM = 1,     /* state w.m [1] */
  PK = 2,     /* const k [2] */
  PLR = 4,    /* learning rate */
  PLOSS = 5,  /* loss */
  PSTEP = 6,  /* step number */
  PX = 8,     /* input: PB rows of 3 */
  PY = 20,    /* target: PB rows of 3 */
  POUT = 32,  /* output: PB rows of 3 */
  PNOISE = 44, /* dropout mask: PB rows of PNW */
  PNW = 25,
  PWS = PNOISE + 4 * PNW,
  PB = 4,
  PROWS = 8,
  RECORD = 64,
};

static struct {
  int steps;
  float lr[RECORD], t[RECORD];
  double mask_sum;
  int64_t mask_zeros, mask_count, mask_odd; /* odd: neither 0 nor 1/(1-p) */
  int evals;
  int64_t eval_rows;
  int eval_saw_training_mask, predict_saw_training_mask;
} rec;
static double probe_spe = 2; /* steps per epoch of the run under test */

static int mask_is_ones(const float *ws) {
  for (int j = 0; j < PB * PNW; j++)
    if (ws[PNOISE + j] != 1.0f)
      return 0;
  return 1;
}

static void copy_through(float *ws, int64_t n) {
  memcpy(ws + POUT, ws + PX, (size_t)(3 * n) * sizeof(float));
}

static void probe_step(float *ws, int64_t n) {
  if (rec.steps < RECORD) {
    rec.lr[rec.steps] = ws[PLR];
    rec.t[rec.steps] = ws[PSTEP];
  }
  rec.steps++;
  const float keep = (float)(1.0 / (1.0 - 0.3));
  for (int j = 0; j < PB * PNW; j++) {
    float v = ws[PNOISE + j];
    rec.mask_sum += v;
    rec.mask_zeros += v == 0.0f;
    rec.mask_odd += v != 0.0f && v != keep;
  }
  rec.mask_count += PB * PNW;
  copy_through(ws, n);
  ws[PLOSS] = 0.5f;
  ws[PW] = ws[PSTEP];
  ws[PM] += 1.0f;
}

static void probe_evaluate(float *ws, int64_t n) {
  rec.eval_saw_training_mask |= !mask_is_ones(ws);
  rec.evals++;
  rec.eval_rows += n;
  copy_through(ws, n);
  double e = ws[PW] / probe_spe;
  ws[PLOSS] = (float)((e - 3) * (e - 3) + 1);
}

static void probe_predict(float *ws, int64_t n) {
  rec.predict_saw_training_mask |= !mask_is_ones(ws);
  copy_through(ws, n);
}

/* Outputs are the inputs: rows 0,1,2,4,6 have their argmax at the label (5 of 8); with a split
 * of 0.25 the training rows 0-5 have 4 of 6 right and the validation rows 6-7 1 of 2. */
static const float probe_x[PROWS * 3] = {
  1, 0, 0, 0, 1, 0, 0, 0, 1, 1, 0, 0, 0, 1, 0, 0, 0, 1, 1, 0, 0, 0, 1, 0,
};
static const float probe_labels[PROWS] = {0, 1, 2, 1, 1, 0, 0, 2};
static const float probe_k[2] = {5, 6};

static const NnrtParam probe_params[] = {
  {.name = "w", .offset = PW, .size = 1, .rank = 1, .dim = {1}, .init = NNRT_INIT_NORMAL,
   .a = 0, .b = 1, .role = NNRT_ROLE_PARAM},
  {.name = "w.m", .offset = PM, .size = 1, .rank = 1, .dim = {1}, .init = NNRT_INIT_ONES,
   .role = NNRT_ROLE_STATE},
  {.name = "k", .offset = PK, .size = 2, .rank = 1, .dim = {2}, .init = NNRT_INIT_VALUES,
   .values = probe_k, .role = NNRT_ROLE_CONST},
};
static const NnrtNoise probe_noise[] = {{.offset = PNOISE, .width = PNW, .p = 0.3}};

static const NnrtModel probe = FIXTURE_MODEL(
  "probe", "probe.nn", PWS, PB, FIXTURE_SLOT("x", PX, 3), FIXTURE_SLOT("p", POUT, 3),
  FIXTURE_TRAINS(FIXTURE_SLOT("y", PY, 3), PLOSS, PLR, PSTEP),
  .n_params = 3, .params = probe_params, .n_noise = 1, .noise = probe_noise,
  .n_classes = 3, .metric = NNRT_METRIC_ARGMAX,
  .has_train = 1, .epochs = 3, .batch = 4, .log_every = 1, .seed = 11, .shuffle = 1, .lr = 0.1,
  .train = {.kind = NNRT_DATA_TABLE, .rows = PROWS, .x = probe_x, .y = probe_labels},
  .step = probe_step, .evaluate = probe_evaluate, .predict = probe_predict);

/* ---- Helpers ---- */

static int reset_record(void **state) {
  (void)state;
  memset(&rec, 0, sizeof rec);
  probe_spe = 2;
  return 0;
}

static void write_text(const char *path, const char *text) {
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fputs(text, f);
  assert_int_equal(fclose(f), 0);
}

/* The epoch reports of the last train_probe, as log lines: "epoch E/N  loss L[  accuracy A]
 * [  val_loss V[  val_accuracy W]]" for the epochs whose report says logged. */
static char report_text[4096];

static void report_epoch_line(const NnrtEpochReport *r, void *ctx) {
  const NnrtModel *m = ctx;
  size_t used = strlen(report_text);
  char *p = report_text + used;
  size_t left = sizeof report_text - used;
  if (!r->logged || left < 256) /* long runs keep their first lines */
    return;
  int k = snprintf(p, left, "epoch %lld/%lld  loss %.6f", (long long)r->epoch,
                   (long long)r->epochs, r->loss);
  if (m->metric != NNRT_METRIC_NONE)
    k += snprintf(p + k, left - (size_t)k, "  accuracy %.4f", r->accuracy);
  if (r->has_val) {
    k += snprintf(p + k, left - (size_t)k, "  val_loss %.6f", r->val_loss);
    if (m->metric != NNRT_METRIC_NONE)
      k += snprintf(p + k, left - (size_t)k, "  val_accuracy %.4f", r->val_accuracy);
  }
  snprintf(p + k, left - (size_t)k, "\n");
}

/* Loads m's data, initialises a workspace with o.seed and trains; the loop prints nothing, and
 * *log_text gets the logged epochs' reports (report_epoch_line). */
static float *train_probe(const NnrtModel *m, NnrtTrainOptions o, NnrtTrainResult *res,
                          char **log_text) {
  NnrtTrainData *td;
  assert_int_equal(nnrt_train_data_load(m, &td, err, sizeof err), NNRT_EXIT_OK);
  float *ws = nnrt_workspace_new(m);
  assert_non_null(ws);
  nnrt_init_params(m, ws, o.seed);
  FILE *log = tmpfile();
  assert_non_null(log);
  report_text[0] = '\0';
  if (!o.report.on_epoch)
    o.report = (NnrtReporter){NULL, report_epoch_line, (void *)m, 0};
  nnrt_train_on(m, ws, &o, td, log, res, err, sizeof err);
  assert_string_equal(read_stream(log), "");
  if (log_text)
    *log_text = report_text;
  fclose(log);
  nnrt_train_data_free(td);
  return ws;
}

#define assert_close(a, b, tol) assert_true(fabs((double)(a) - (double)(b)) <= (tol))

/* ---- Learning-rate schedules ---- */

static NnrtTrainOptions sched(int kind, double lr, double a, double b, double warmup,
                              int64_t epochs) {
  return (NnrtTrainOptions){.epochs = epochs, .batch = 1, .lr = lr, .lr_schedule = kind,
                            .lr_schedule_a = a, .lr_schedule_b = b, .warmup_epochs = warmup};
}

static void test_schedule_constant_and_step(void **state) {
  (void)state;
  NnrtTrainOptions c = sched(NNRT_LR_CONSTANT, 0.1, 0, 0, 0, 10);
  assert_true(nnrt_lr_at(&c, 3, 0) == 0.1 && nnrt_lr_at(&c, 3, 29) == 0.1);
  /* 0.1 * 0.5^floor(epoch / 2), 3 steps per epoch: epochs 0-1 (steps 0-5), 2-3, 4-5. */
  NnrtTrainOptions s = sched(NNRT_LR_STEP, 0.1, 0.5, 2, 0, 10);
  assert_close(nnrt_lr_at(&s, 3, 0), 0.1, 1e-15);
  assert_close(nnrt_lr_at(&s, 3, 5), 0.1, 1e-15);
  assert_close(nnrt_lr_at(&s, 3, 6), 0.05, 1e-15);
  assert_close(nnrt_lr_at(&s, 3, 11), 0.05, 1e-15);
  assert_close(nnrt_lr_at(&s, 3, 12), 0.025, 1e-15);
}

static void test_schedule_exponential_counts_epochs_fractionally(void **state) {
  (void)state;
  /* 0.1 * 0.9^(epoch + i/4): step 6 is epoch 1, i = 2, so 0.1 * 0.9^1.5. */
  NnrtTrainOptions e = sched(NNRT_LR_EXPONENTIAL, 0.1, 0.9, 0, 0, 10);
  assert_close(nnrt_lr_at(&e, 4, 0), 0.1, 1e-15);
  assert_close(nnrt_lr_at(&e, 4, 4), 0.09, 1e-15);
  assert_close(nnrt_lr_at(&e, 4, 6), 0.08538149682454625, 1e-15);
  assert_close(nnrt_lr_at(&e, 4, 9), 0.1 * 0.81 * pow(0.9, 0.25), 1e-15);
}

static void test_schedule_cosine(void **state) {
  (void)state;
  /* 0.1 * (0.1 + 0.9 (1 + cos(pi s / 50)) / 2) over 10 epochs of 5 steps. */
  NnrtTrainOptions c = sched(NNRT_LR_COSINE, 0.1, 0.1, 0, 0, 10);
  assert_close(nnrt_lr_at(&c, 5, 0), 0.1, 1e-15);
  assert_close(nnrt_lr_at(&c, 5, 10), 0.09140576474687264, 1e-15);
  assert_close(nnrt_lr_at(&c, 5, 25), 0.055, 1e-15);
  assert_close(nnrt_lr_at(&c, 5, 49), 0.01008879722072778, 1e-15);
}

static void test_schedule_warmup(void **state) {
  (void)state;
  /* Times min(1, (s + 1) / (2 epochs * 5 steps)). */
  NnrtTrainOptions w = sched(NNRT_LR_CONSTANT, 0.1, 0, 0, 2, 10);
  assert_close(nnrt_lr_at(&w, 5, 0), 0.01, 1e-15);
  assert_close(nnrt_lr_at(&w, 5, 4), 0.05, 1e-15);
  assert_close(nnrt_lr_at(&w, 5, 9), 0.1, 1e-15);
  assert_close(nnrt_lr_at(&w, 5, 30), 0.1, 1e-15);
  /* Fractional warm-up on top of a cosine: step 2 of 0.5 epochs * 4 steps = 3/2 -> 1. */
  NnrtTrainOptions wc = sched(NNRT_LR_COSINE, 0.1, 0.1, 0, 0.5, 10);
  assert_close(nnrt_lr_at(&wc, 4, 0), 0.05, 1e-15);
  assert_close(nnrt_lr_at(&wc, 4, 2), nnrt_lr_at(&(NnrtTrainOptions){.epochs = 10, .lr = 0.1,
                                                   .lr_schedule = NNRT_LR_COSINE,
                                                   .lr_schedule_a = 0.1}, 4, 2), 0);
}

/* The loop writes the schedule's rate and t = 1, 2, ... before every step. */
static void test_loop_writes_lr_and_step_number(void **state) {
  (void)state;
  NnrtModel m = probe;
  m.lr_schedule = NNRT_LR_STEP;
  m.lr_schedule_a = 0.5;
  m.lr_schedule_b = 1;
  m.lr = 0.4;
  NnrtTrainResult res;
  float *ws = train_probe(&m, nnrt_train_options(&m), &res, NULL);
  assert_int_equal(res.status, NNRT_EXIT_OK);
  assert_int_equal(rec.steps, 6); /* 3 epochs of 8 rows in batches of 4 */
  const float lr[6] = {0.4f, 0.4f, 0.2f, 0.2f, 0.1f, 0.1f}, t[6] = {1, 2, 3, 4, 5, 6};
  assert_memory_equal(rec.lr, lr, sizeof lr);
  assert_memory_equal(rec.t, t, sizeof t);
  assert_true(ws[PW] == 6.0f);
  nnrt_workspace_free(ws);
}

static void test_loop_applies_warmup(void **state) {
  (void)state;
  NnrtModel m = probe;
  m.warmup_epochs = 2; /* 4 steps */
  NnrtTrainResult res;
  float *ws = train_probe(&m, nnrt_train_options(&m), &res, NULL);
  const float lr[6] = {0.025f, 0.05f, 0.075f, 0.1f, 0.1f, 0.1f};
  assert_memory_equal(rec.lr, lr, sizeof lr);
  nnrt_workspace_free(ws);
}

static void test_bad_schedules_are_rejected(void **state) {
  (void)state;
  NnrtTrainOptions o = nnrt_train_options(&probe);
  o.lr_schedule = NNRT_LR_STEP; /* lr_schedule_b = 0 */
  assert_int_equal(nnrt_check_train_options(&probe, &o, err, sizeof err), -1);
  assert_string_equal(err, "the learning-rate schedule or its warm-up is invalid");
  o = nnrt_train_options(&probe);
  o.warmup_epochs = -1;
  assert_int_equal(nnrt_check_train_options(&probe, &o, err, sizeof err), -1);
}

/* ---- Dropout masks ---- */

static void test_dropout_masks_have_the_right_statistics(void **state) {
  (void)state;
  NnrtModel m = probe;
  m.epochs = 200; /* 400 steps of 100 mask floats */
  NnrtTrainResult res;
  float *ws = train_probe(&m, nnrt_train_options(&m), &res, NULL);
  assert_int_equal(rec.mask_count, 40000);
  assert_int_equal(rec.mask_odd, 0); /* every element is 0 or 1 / (1 - p) */
  assert_close((double)rec.mask_zeros / (double)rec.mask_count, 0.3, 0.01);
  assert_close(rec.mask_sum / (double)rec.mask_count, 1.0, 0.015);
  assert_true(mask_is_ones(ws)); /* left at 1 for whatever runs next */
  nnrt_workspace_free(ws);
}

static void test_masks_are_one_for_evaluate_and_predict(void **state) {
  (void)state;
  NnrtModel m = probe;
  m.validation_split = 0.25;
  NnrtTrainResult res;
  float *ws = train_probe(&m, nnrt_train_options(&m), &res, NULL);
  assert_int_equal(rec.evals, 3); /* once per epoch: 2 validation rows fit one batch */
  assert_int_equal(rec.eval_rows, 6);
  assert_false(rec.eval_saw_training_mask);
  nnrt_fill_noise(&m, ws, &(NnrtRng){{1, 2, 3, 4}}); /* as if a step had just run */
  assert_false(mask_is_ones(ws));
  float y[3];
  nnrt_predict_rows(&m, ws, probe_x, 1, y);
  assert_false(rec.predict_saw_training_mask);
  nnrt_workspace_free(ws);
}

static void test_masks_are_deterministic_per_seed(void **state) {
  (void)state;
  NnrtModel m = probe;
  m.epochs = 5;
  NnrtTrainResult res;
  float *a = train_probe(&m, nnrt_train_options(&m), &res, NULL);
  double sum_a = rec.mask_sum;
  memset(&rec, 0, sizeof rec);
  float *b = train_probe(&m, nnrt_train_options(&m), &res, NULL);
  double sum_b = rec.mask_sum;
  memset(&rec, 0, sizeof rec);
  NnrtTrainOptions o = nnrt_train_options(&m);
  o.seed++;
  float *c = train_probe(&m, o, &res, NULL);
  assert_true(sum_a == sum_b);
  assert_true(sum_a != rec.mask_sum);
  assert_memory_equal(a, b, PWS * sizeof(float));
  nnrt_workspace_free(a);
  nnrt_workspace_free(b);
  nnrt_workspace_free(c);
}

/* ---- Metrics ---- */

static void test_count_correct_argmax_and_binary(void **state) {
  (void)state;
  float *ws = nnrt_workspace_new(&probe);
  const float out[9] = {0.1f, 0.7f, 0.2f, 0.5f, 0.5f, 0.0f, 0.2f, 0.3f, 0.5f};
  const float tgt[9] = {0, 1, 0, 0, 1, 0, 1, 0, 0};
  memcpy(ws + POUT, out, sizeof out);
  memcpy(ws + PY, tgt, sizeof tgt);
  /* Row 0 right; row 1 ties go to the first index (0), wrong; row 2 wrong. */
  assert_int_equal(nnrt_count_correct(&probe, ws, 3), 1);
  assert_int_equal(nnrt_count_correct(&probe, ws, 1), 1);
  assert_int_equal(nnrt_metric_count(&probe, 3), 3);
  NnrtModel b = probe;
  b.metric = NNRT_METRIC_BINARY;
  b.n_classes = 0;
  /* Elements: > 0.5 vs > 0.5 — out 0,1,0 | 0,0,0 | 0,0,0 against 0,1,0 | 0,1,0 | 1,0,0. */
  assert_int_equal(nnrt_count_correct(&b, ws, 3), 7);
  assert_int_equal(nnrt_metric_count(&b, 3), 9);
  NnrtModel none = probe;
  none.metric = NNRT_METRIC_NONE;
  assert_int_equal(nnrt_count_correct(&none, ws, 3), 0);
  nnrt_workspace_free(ws);
}

static void test_training_and_validation_accuracy(void **state) {
  (void)state;
  NnrtModel m = probe;
  NnrtTrainResult res;
  float *ws = train_probe(&m, nnrt_train_options(&m), &res, NULL);
  assert_true(res.accuracy == 5.0 / 8.0);
  assert_false(res.has_val);
  assert_true(isnan(res.val_loss));
  nnrt_workspace_free(ws);
  m.validation_split = 0.25;
  ws = train_probe(&m, nnrt_train_options(&m), &res, NULL);
  assert_true(res.accuracy == 4.0 / 6.0);
  assert_true(res.has_val);
  assert_true(res.val_accuracy == 0.5);
  assert_true(res.val_loss == 1.0f); /* epoch 3: (3 - 3)^2 + 1 */
  nnrt_workspace_free(ws);
}

static void test_log_lines_with_metric_and_validation(void **state) {
  (void)state;
  NnrtModel m = probe;
  m.validation_split = 0.25;
  m.epochs = 4;
  m.log_every = 2;
  NnrtTrainResult res;
  char *log;
  float *ws = train_probe(&m, nnrt_train_options(&m), &res, &log);
  assert_string_equal(log,
                      "epoch 1/4  loss 0.500000  accuracy 0.6667  val_loss 5.000000  "
                      "val_accuracy 0.5000\n"
                      "epoch 2/4  loss 0.500000  accuracy 0.6667  val_loss 2.000000  "
                      "val_accuracy 0.5000\n"
                      "epoch 4/4  loss 0.500000  accuracy 0.6667  val_loss 2.000000  "
                      "val_accuracy 0.5000\n");
  assert_int_equal(rec.evals, 3); /* validation runs only for the epochs it is printed for */
  nnrt_workspace_free(ws);
  NnrtModel plain = probe;
  plain.metric = NNRT_METRIC_NONE;
  plain.epochs = 1;
  ws = train_probe(&plain, nnrt_train_options(&plain), &res, &log);
  assert_string_equal(log, "epoch 1/1  loss 0.500000\n");
  nnrt_workspace_free(ws);
}

/* ---- Validation split and early stopping ---- */

static void test_early_stopping_restores_the_best_epoch(void **state) {
  (void)state;
  NnrtModel m = probe;
  m.validation_split = 0.25; /* 6 training rows: 2 steps per epoch */
  m.epochs = 10;
  m.log_every = 0;
  m.early_stopping = 2;
  NnrtTrainResult res;
  char *log;
  float *ws = train_probe(&m, nnrt_train_options(&m), &res, &log);
  assert_int_equal(res.status, NNRT_EXIT_OK);
  /* Validation losses 5, 2, 1, 2, 5: two epochs without improvement after epoch 3. */
  assert_int_equal(res.last_epoch, 5);
  assert_int_equal(res.best_epoch, 3);
  assert_true(res.stopped_early);
  assert_int_equal(rec.steps, 10);
  assert_true(ws[PW] == 6.0f); /* w of epoch 3 = its last step number */
  assert_true(res.val_loss == 1.0);
  assert_string_equal(log,
                      "epoch 1/10  loss 0.500000  accuracy 0.6667  val_loss 5.000000  "
                      "val_accuracy 0.5000\n"
                      "epoch 5/10  loss 0.500000  accuracy 0.6667  val_loss 5.000000  "
                      "val_accuracy 0.5000\n");
  nnrt_workspace_free(ws);
}

static void test_patience_not_exhausted_still_restores_best(void **state) {
  (void)state;
  NnrtModel m = probe;
  m.validation_split = 0.25;
  m.epochs = 5;
  m.log_every = 0;
  m.early_stopping = 3;
  NnrtTrainResult res;
  char *log;
  float *ws = train_probe(&m, nnrt_train_options(&m), &res, &log);
  assert_int_equal(res.last_epoch, 5);
  assert_false(res.stopped_early);
  assert_int_equal(res.best_epoch, 3);
  assert_true(ws[PW] == 6.0f);
  assert_true(res.val_loss == 1.0);
  assert_non_null(strstr(log, "epoch 5/5  loss 0.500000  accuracy 0.6667  val_loss 5.000000"));
  nnrt_workspace_free(ws);
}

static void test_split_holds_out_the_last_rows(void **state) {
  (void)state;
  NnrtModel m = probe;
  m.validation_split = 0.25;
  NnrtTrainData *td;
  assert_int_equal(nnrt_train_data_load(&m, &td, err, sizeof err), NNRT_EXIT_OK);
  assert_int_equal(td->train.rows, 6);
  assert_int_equal(td->val.rows, 2);
  assert_memory_equal(td->val.x, probe_x + 18, 6 * sizeof(float));
  const float onehot[6] = {1, 0, 0, 0, 0, 1};
  assert_memory_equal(td->val.y, onehot, sizeof onehot);
  assert_int_equal(nnrt_train_data_stats(td)->width, 0);
  nnrt_train_data_free(td);
}

static void test_separate_validation_source(void **state) {
  (void)state;
  static const float vx[18] = {1, 0, 0, 0, 0, 1, 1, 0, 0, 0, 1, 0, 0, 0, 1, 1, 0, 0};
  static const float vy[6] = {0, 0, 0, 1, 2, 2};
  NnrtModel m = probe;
  m.validate = (NnrtData){.kind = NNRT_DATA_TABLE, .rows = 6, .x = vx, .y = vy};
  NnrtTrainResult res;
  float *ws = train_probe(&m, nnrt_train_options(&m), &res, NULL);
  assert_true(res.accuracy == 5.0 / 8.0); /* all 8 table rows train */
  assert_true(res.val_accuracy == 4.0 / 6.0);
  assert_int_equal(rec.steps, 6);
  assert_int_equal(rec.evals, 6); /* 3 epochs of batches of 4 and 2 rows (max_batch 4) */
  assert_int_equal(rec.eval_rows, 18);
  nnrt_workspace_free(ws);
}

static void test_early_stopping_without_validation_is_an_error(void **state) {
  (void)state;
  NnrtModel m = probe;
  m.early_stopping = 2;
  const char *want = "early_stopping needs validation data: give the train block 'validate' "
                     "or 'validation_split'";
  NnrtTrainOptions o = nnrt_train_options(&m);
  assert_int_equal(nnrt_check_train_options(&m, &o, err, sizeof err), -1);
  assert_string_equal(err, want);
  assert_int_equal(RUN(&m, tmp_path("es")), NNRT_EXIT_USAGE);
  char line[300];
  snprintf(line, sizeof line, "es: %s\n", want);
  assert_string_equal(err_text, line);
  assert_string_equal(out_text, "");
  assert_int_equal(rec.steps, 0);
}

/* ---- Checkpoints ---- */

static void test_init_zeroes_state_and_writes_constants(void **state) {
  (void)state;
  float *ws = nnrt_workspace_new(&probe);
  ws[PM] = 9;
  nnrt_init_params(&probe, ws, 3);
  assert_true(ws[PM] == 0.0f); /* its initialiser says ones, but state starts at zero */
  assert_true(ws[PK] == 5.0f && ws[PK + 1] == 6.0f);
  nnrt_workspace_free(ws);
}

static void test_checkpoints_hold_only_parameters(void **state) {
  (void)state;
  const char *path = tmp_path("probe.safetensors");
  float *ws = nnrt_workspace_new(&probe);
  nnrt_init_params(&probe, ws, 3);
  ws[PW] = 2.5f;
  ws[PM] = 7;
  assert_int_equal(nnrt_save(&probe, ws, path, err, sizeof err), 0);
  FILE *f = fopen(path, "rb");
  char file[512] = {0};
  size_t n = fread(file, 1, sizeof file - 1, f);
  fclose(f);
  const char header[] = "{\"__metadata__\":{\"format\":\"nnc\",\"model\":\"probe\","
                        "\"model_hash\":\"0000000000000000\"},"
                        "\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}";
  size_t hlen = (sizeof header - 1 + 7) / 8 * 8;
  assert_int_equal(n, 8 + hlen + 4);
  assert_memory_equal(file + 8, header, sizeof header - 1);
  /* Loading needs no state or constants and leaves them alone. */
  float *other = nnrt_workspace_new(&probe);
  other[PM] = 3;
  other[PK] = 4;
  assert_int_equal(nnrt_load(&probe, other, path, err, sizeof err), 0);
  assert_true(other[PW] == 2.5f && other[PM] == 3.0f && other[PK] == 4.0f);
  nnrt_workspace_free(ws);
  nnrt_workspace_free(other);
}

static void test_checkpoint_with_state_tensor_loads_its_weights(void **state) {
  (void)state;
  /* Training checkpoints hold the optimizer state ("w.m"): loading weights ignores it, and any
   * other tensor the model does not have is still an error. */
  NnrtParam all[3] = {probe_params[0], probe_params[1], probe_params[2]};
  all[1].role = NNRT_ROLE_PARAM;
  NnrtModel wide = probe;
  wide.params = all;
  wide.n_params = 2;
  const char *path = tmp_path("wide.safetensors");
  float *ws = nnrt_workspace_new(&probe);
  ws[PW] = 3.5f;
  ws[PM] = 4.5f;
  assert_int_equal(nnrt_save(&wide, ws, path, err, sizeof err), 0);
  float *back = nnrt_workspace_new(&probe);
  assert_int_equal(nnrt_load(&probe, back, path, err, sizeof err), 0);
  assert_true(back[PW] == 3.5f && back[PM] == 0.0f);
  all[1].name = "other";
  assert_int_equal(nnrt_save(&wide, ws, path, err, sizeof err), 0);
  assert_int_equal(nnrt_load(&probe, back, path, err, sizeof err), -1);
  char want[700];
  snprintf(want, sizeof want, "cannot load '%s': unknown tensor 'other'", path);
  assert_string_equal(err, want);
  nnrt_workspace_free(ws);
  nnrt_workspace_free(back);
}

static void test_standardize_stats_round_trip(void **state) {
  (void)state;
  const char *path = tmp_path("stats.safetensors");
  float mean[3] = {1, 2, 3}, sd[3] = {4, 5, 6}, m2[3], s2[3];
  NnrtInputStats st = {3, mean, sd}, back = {3, m2, s2};
  float *ws = nnrt_workspace_new(&probe);
  assert_int_equal(nnrt_save_stats(&probe, ws, &st, path, err, sizeof err), 0);
  assert_int_equal(nnrt_load_stats(&probe, ws, &back, path, err, sizeof err), 0);
  assert_memory_equal(m2, mean, sizeof mean);
  assert_memory_equal(s2, sd, sizeof sd);
  /* A model without statistics rejects them; one with statistics needs them. */
  assert_int_equal(nnrt_load(&probe, ws, path, err, sizeof err), -1);
  assert_non_null(strstr(err, "unknown tensor '__standardize.mean'"));
  const char *plain = tmp_path("plain.safetensors");
  assert_int_equal(nnrt_save(&probe, ws, plain, err, sizeof err), 0);
  assert_int_equal(nnrt_load_stats(&probe, ws, &back, plain, err, sizeof err), -1);
  assert_non_null(strstr(err, "tensor '__standardize.mean' is missing"));
  nnrt_workspace_free(ws);
}

static void test_checkpoint_every_saves_during_training(void **state) {
  (void)state;
  NnrtModel m = probe;
  m.epochs = 5;
  m.checkpoint_every = 2;
  NnrtTrainOptions o = nnrt_train_options(&m);
  o.checkpoint_path = tmp_path("every.safetensors");
  NnrtTrainResult res;
  float *ws = train_probe(&m, o, &res, NULL);
  assert_true(ws[PW] == 10.0f);
  float *back = nnrt_workspace_new(&m);
  assert_int_equal(nnrt_load(&m, back, o.checkpoint_path, err, sizeof err), 0);
  assert_true(back[PW] == 10.0f); /* saved after epochs 2 and 4, and at the end */
  NnrtModel four = m;
  four.epochs = 4; /* the last periodic checkpoint is the end's */
  o = nnrt_train_options(&four);
  o.checkpoint_path = tmp_path("every4.safetensors");
  nnrt_workspace_free(ws);
  ws = train_probe(&four, o, &res, NULL);
  assert_true(res.saved);
  assert_int_equal(nnrt_load(&m, back, o.checkpoint_path, err, sizeof err), 0);
  assert_true(back[PW] == 8.0f);
  nnrt_workspace_free(ws);
  nnrt_workspace_free(back);
  /* A checkpoint that cannot be written stops the run as an I/O error. */
  char bad[600];
  snprintf(bad, sizeof bad, "%s/missing/every.safetensors", tmp_dir);
  o = nnrt_train_options(&m);
  o.checkpoint_path = bad;
  ws = train_probe(&m, o, &res, NULL);
  assert_int_equal(res.status, NNRT_EXIT_IO);
  assert_true(isnan(res.loss));
  assert_int_equal(rec.steps, 10 + 8 + 4);
  nnrt_workspace_free(ws);
}

/* ---- Command line ---- */

/* Epoch lines end in the epoch's seconds, "  %.2fs", which vary: checks every epoch line has
 * them and removes them in place, so the rest can be compared exactly. */
static const char *without_seconds(char *text) {
  for (char *line = text; *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : line + strlen(line)) {
    if (strncmp(line, "epoch ", 6) != 0)
      continue;
    char *end = strchr(line, '\n');
    assert_non_null(end);
    char *s = end - 1;
    assert_int_equal(*s, 's');
    char *p = s - 1;
    while (p > line && (isdigit((unsigned char)*p) || *p == '.'))
      p--;
    assert_true(p - line >= 2 && p[0] == ' ' && p[-1] == ' ' && s - p >= 5 && s[-3] == '.');
    memmove(p - 1, end, strlen(end) + 1);
  }
  return text;
}

static void test_cli_class_model_train_and_predict(void **state) {
  (void)state;
  NnrtModel m = probe;
  m.validation_split = 0.25;
  const char *argv0 = tmp_path("cls");
  assert_int_equal(RUN(&m, argv0, "--epochs", "2"), NNRT_EXIT_OK);
  assert_string_equal(err_text, "");
  char want[2048];
  snprintf(want, sizeof want,
           "epoch 1/2  loss 0.500000  accuracy 0.6667  val_loss 5.000000  val_accuracy 0.5000\n"
           "epoch 2/2  loss 0.500000  accuracy 0.6667  val_loss 2.000000  val_accuracy 0.5000\n"
           "final loss 0.500000\n"
           "final val_loss 2.000000  val_accuracy 0.5000\n"
           "1 0 0 -> 1.0000 0.0000 0.0000  class 0\n"
           "0 1 0 -> 0.0000 1.0000 0.0000  class 1\n"
           "0 0 1 -> 0.0000 0.0000 1.0000  class 2\n"
           "1 0 0 -> 1.0000 0.0000 0.0000  class 0\n"
           "0 1 0 -> 0.0000 1.0000 0.0000  class 1\n"
           "0 0 1 -> 0.0000 0.0000 1.0000  class 2\n"
           "1 0 0 -> 1.0000 0.0000 0.0000  class 0\n"
           "0 1 0 -> 0.0000 1.0000 0.0000  class 1\n"
           "saved weights to %s.safetensors\n", argv0);
  assert_string_equal(without_seconds(out_text), want);
  assert_int_equal(RUN(&m, argv0, "predict", "0.25", "3", "-1"), NNRT_EXIT_OK);
  assert_string_equal(out_text, "0.25 3 -1  class 1\n");
  assert_false(rec.predict_saw_training_mask);
}

/* Predict standardises its raw inputs with the statistics the training rows had, read back
 * from the checkpoint. */
static void test_cli_predict_standardises_like_training(void **state) {
  (void)state;
  static const float sx[PROWS * 3] = {
    0, 10, 5, 2, 30, 5, 0, 10, 5, 2, 30, 5, 0, 10, 5, 2, 30, 5, 0, 10, 5, 2, 30, 5,
  };
  NnrtModel m = probe;
  m.train.x = sx;
  m.train.scaling = NNRT_SCALE_STANDARDIZE;
  const char *argv0 = tmp_path("std");
  assert_int_equal(RUN(&m, argv0, "--epochs", "1"), NNRT_EXIT_OK);
  /* Column means 1, 20, 5; deviations 1, 10 and 0 (which the loader turns into 1). */
  assert_non_null(strstr(out_text, "\n0 10 5 -> -1.0000 -1.0000 0.0000  class 2\n"));
  assert_int_equal(RUN(&m, argv0, "predict", "3", "25", "7"), NNRT_EXIT_OK);
  assert_string_equal(out_text, "2 0.5 2  class 0\n");
  /* A checkpoint without the statistics cannot serve this model. */
  const char *plain = tmp_path("nostats.safetensors");
  float *ws = nnrt_workspace_new(&m);
  assert_int_equal(nnrt_save(&m, ws, plain, err, sizeof err), 0);
  assert_int_equal(RUN(&m, argv0, "predict", "--weights", plain, "3", "25", "7"), NNRT_EXIT_IO);
  assert_non_null(strstr(err_text, "tensor '__standardize.mean' is missing"));
  nnrt_workspace_free(ws);
}

static void test_cli_data_errors_choose_exit_codes(void **state) {
  (void)state;
  static const int32_t ycol[1] = {3};
  NnrtModel m = probe;
  m.train = (NnrtData){.kind = NNRT_DATA_CSV, .path = tmp_path("absent.csv"), .delimiter = ',',
                       .n_y_cols = 1, .y_cols = ycol};
  assert_int_equal(RUN(&m, tmp_path("csv"), "--epochs", "1"), NNRT_EXIT_IO);
  char want[1200];
  snprintf(want, sizeof want, "csv: cannot load '%s': No such file or directory\n",
           m.train.path);
  assert_string_equal(err_text, want);
  const char *bad = tmp_path("bad.csv");
  write_text(bad, "1,0,0,0\n0,abc,0,1\n");
  m.train.path = bad;
  assert_int_equal(RUN(&m, tmp_path("csv"), "--epochs", "1"), NNRT_EXIT_DATA);
  snprintf(want, sizeof want, "csv: cannot load '%s': ", bad);
  assert_memory_equal(err_text, want, strlen(want));
  assert_string_equal(out_text, "");
  /* Good CSV data: no per-row predictions, only the table data prints them. */
  const char *good = tmp_path("good.csv");
  write_text(good, "1,0,0,0\n0,1,0,1\n0,0,1,2\n1,0,0,1\n");
  m.train.path = good;
  assert_int_equal(RUN(&m, tmp_path("csv"), "--epochs", "1"), NNRT_EXIT_OK);
  snprintf(want, sizeof want,
           "epoch 1/1  loss 0.500000  accuracy 0.7500\nfinal loss 0.500000\n"
           "saved weights to %s.safetensors\n", tmp_path("csv"));
  assert_string_equal(without_seconds(out_text), want);
}

static void test_cli_help_documents_exit_codes(void **state) {
  (void)state;
  assert_int_equal(RUN(&probe, "./probe", "--help"), NNRT_EXIT_OK);
  assert_non_null(strstr(out_text, "Exit codes:\n  0    ok\n  1    bad data or input"));
  assert_non_null(strstr(out_text, "\n  3    I/O error (a file that cannot be opened, read or "
                                   "written), or a non-finite\n       value during training"));
  assert_non_null(strstr(out_text, "\n  130  interrupted"));
  assert_non_null(strstr(out_text, "the class"));
}

#define T(f) cmocka_unit_test_setup(f, reset_record)

int main(void) {
  const struct CMUnitTest tests[] = {
    T(test_schedule_constant_and_step),
    T(test_schedule_exponential_counts_epochs_fractionally),
    T(test_schedule_cosine),
    T(test_schedule_warmup),
    T(test_loop_writes_lr_and_step_number),
    T(test_loop_applies_warmup),
    T(test_bad_schedules_are_rejected),
    T(test_dropout_masks_have_the_right_statistics),
    T(test_masks_are_one_for_evaluate_and_predict),
    T(test_masks_are_deterministic_per_seed),
    T(test_count_correct_argmax_and_binary),
    T(test_training_and_validation_accuracy),
    T(test_log_lines_with_metric_and_validation),
    T(test_early_stopping_restores_the_best_epoch),
    T(test_patience_not_exhausted_still_restores_best),
    T(test_split_holds_out_the_last_rows),
    T(test_separate_validation_source),
    T(test_early_stopping_without_validation_is_an_error),
    T(test_init_zeroes_state_and_writes_constants),
    T(test_checkpoints_hold_only_parameters),
    T(test_checkpoint_with_state_tensor_loads_its_weights),
    T(test_standardize_stats_round_trip),
    T(test_checkpoint_every_saves_during_training),
    T(test_cli_class_model_train_and_predict),
    T(test_cli_predict_standardises_like_training),
    T(test_cli_data_errors_choose_exit_codes),
    T(test_cli_help_documents_exit_codes),
  };
  return cmocka_run_group_tests(tests, setup_dir, teardown_dir);
}

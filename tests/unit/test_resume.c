/* test_resume: resuming a training run continues it bit for bit, interruptions by SIGINT and
 * SIGTERM save the exact state and end the run with status 130, and the first non-finite value
 * of a step is found and named (status 3).
 * The fixture is linear regression y = (x ⊙ mask) · W + b with a dropout mask on the inputs and
 * Adam (two moments per parameter and the step number t), so a resumed run matches a straight
 * one only when weights, optimizer state, t, the learning rate's schedule, the dropout stream,
 * the shuffling stream, the row order and the position in the epoch all continue exactly. Its
 * step can poison a buffer at a chosen t and raise a signal at a chosen t. Files go to a fresh
 * directory under /tmp made by the group setup and removed by its teardown. */
#include "test.h"

#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"
#include "nnrt.h"

#define TEST_TMP_DIR "/tmp/nnrt-resume-XXXXXX"
#include "runtime_fixture.h"

enum {
  AW = 0, AB = 2,            /* params W [2], b [1] */
  AWM = 3, AWV = 5, ABM = 7, ABV = 8, /* Adam's moments */
  ALR = 9, ALOSS = 10, ASTEP = 11,
  AGW = 12, AGB = 14,        /* ∂L/∂W [2], ∂L/∂b [1] */
  AX = 16, AY = 24, AOUT = 28, AA1 = 32, AMASK = 40, /* max_batch rows of 2, 1, 1, 2, 2 */
  AWS = 48, AMB = 4, AROWS = 10, STATE_FLOATS = 9, /* params and state: ws[0..9) */
  MAX_T = 128,
};

static struct {
  float lr[MAX_T]; /* the learning rate each step t saw */
  int steps;
  int poison_t, poison_kind; /* 1: A1 row 1 is NaN; 2: ∂L/∂b is NaN; 3: y row 0 inf, A1's
                                unused last row NaN */
  int raise_t, raise_sig;    /* raise raise_sig from the step at t */
  int shaped_val;            /* evaluate reports (E - 3)^2 + 1 for E = t / 3 epochs */
} fx;

static void adam_update(float *p, float *m, float *v, const float *g, int n, float lr, float t) {
  for (int i = 0; i < n; i++) {
    m[i] = 0.9f * m[i] + 0.1f * g[i];
    v[i] = 0.999f * v[i] + 0.001f * g[i] * g[i];
    float mh = m[i] / (1.0f - powf(0.9f, t)), vh = v[i] / (1.0f - powf(0.999f, t));
    p[i] -= lr * mh / (sqrtf(vh) + 1e-8f);
  }
}

static void forward(float *ws, int64_t n, int masked) {
  for (int64_t r = 0; r < n; r++)
    for (int k = 0; k < 2; k++)
      ws[AA1 + 2 * r + k] = ws[AX + 2 * r + k] * (masked ? ws[AMASK + 2 * r + k] : 1.0f);
}

static float outputs_and_loss(float *ws, int64_t n, float *g) {
  float loss = 0.0f;
  g[0] = g[1] = g[2] = 0.0f;
  for (int64_t r = 0; r < n; r++) {
    const float *a = ws + AA1 + 2 * r;
    float out = a[0] * ws[AW] + a[1] * ws[AW + 1] + ws[AB];
    ws[AOUT + r] = out;
    float d = out - ws[AY + r];
    loss += d * d / (float)n;
    g[0] += 2 * d * a[0] / (float)n;
    g[1] += 2 * d * a[1] / (float)n;
    g[2] += 2 * d / (float)n;
  }
  return loss;
}

static void adam_step(float *ws, int64_t n) {
  int t = (int)ws[ASTEP];
  if (t >= 1 && t <= MAX_T)
    fx.lr[t - 1] = ws[ALR];
  fx.steps++;
  int poison = t == fx.poison_t ? fx.poison_kind : 0;
  forward(ws, n, 1);
  if (poison == 1)
    ws[AA1 + 2] = NAN;
  if (poison == 3)
    ws[AA1 + 2 * (AMB - 1)] = NAN; /* a row this step does not use */
  float g[3];
  float loss = outputs_and_loss(ws, n, g);
  if (poison == 3) {
    ws[AOUT] = INFINITY;
    loss = INFINITY;
  }
  if (poison == 2)
    g[2] = NAN;
  memcpy(ws + AGW, g, 2 * sizeof(float));
  ws[AGB] = g[2];
  ws[ALOSS] = loss;
  adam_update(ws + AW, ws + AWM, ws + AWV, g, 2, ws[ALR], ws[ASTEP]);
  adam_update(ws + AB, ws + ABM, ws + ABV, g + 2, 1, ws[ALR], ws[ASTEP]);
  if (t == fx.raise_t)
    raise(fx.raise_sig);
}

static void adam_evaluate(float *ws, int64_t n) {
  forward(ws, n, 0);
  float g[3];
  ws[ALOSS] = outputs_and_loss(ws, n, g);
  if (fx.shaped_val) {
    double e = ws[ASTEP] / 3.0;
    ws[ALOSS] = (float)((e - 3) * (e - 3) + 1);
  }
}

static void adam_predict(float *ws, int64_t n) {
  forward(ws, n, 0);
  for (int64_t r = 0; r < n; r++)
    ws[AOUT + r] = ws[AA1 + 2 * r] * ws[AW] + ws[AA1 + 2 * r + 1] * ws[AW + 1] + ws[AB];
}

/* y = 2 x0 - x1 + 0.5 */
static const float adam_x[AROWS * 2] = {
  0, 0, 1, 0, 0, 1, 1, 1, -1, 0.5f, 0.5f, -1, 0.25f, 0.75f, -0.5f, -0.5f, 2, 1, -1, -2,
};
static const float adam_y[AROWS] = {0.5f, 2.5f, -0.5f, 1.5f, -2.0f, 2.5f, 0.25f, 0.0f, 3.5f, 0.5f};

static const NnrtParam adam_params[] = {
  {.name = "W", .offset = AW, .size = 2, .rank = 2, .dim = {2, 1}, .init = NNRT_INIT_NORMAL,
   .a = 0, .b = 0.5, .role = NNRT_ROLE_PARAM},
  {.name = "b", .offset = AB, .size = 1, .rank = 1, .dim = {1}, .init = NNRT_INIT_ZEROS,
   .role = NNRT_ROLE_PARAM},
  {.name = "W.m", .offset = AWM, .size = 2, .rank = 2, .dim = {2, 1}, .role = NNRT_ROLE_STATE},
  {.name = "W.v", .offset = AWV, .size = 2, .rank = 2, .dim = {2, 1}, .role = NNRT_ROLE_STATE},
  {.name = "b.m", .offset = ABM, .size = 1, .rank = 1, .dim = {1}, .role = NNRT_ROLE_STATE},
  {.name = "b.v", .offset = ABV, .size = 1, .rank = 1, .dim = {1}, .role = NNRT_ROLE_STATE},
};
static const NnrtNoise adam_noise[] = {{.offset = AMASK, .width = 2, .p = 0.25}};
static const NnrtCheck adam_checks[] = {
  {.offset = AA1, .width = 2, .per_row = 1, .line = 11, .col = 3, .what = "A1"},
  {.offset = AOUT, .width = 1, .per_row = 1, .line = 12, .col = 10, .what = "y"},
  {.offset = ALOSS, .width = 1, .per_row = 0, .line = 13, .col = 1, .what = "loss"},
  {.offset = AGW, .width = 2, .what = "∂L/∂W"},
  {.offset = AGB, .width = 1, .what = "∂L/∂b"},
};

static const NnrtModel adam = FIXTURE_MODEL(
  "adam", "adam.nn", AWS, AMB, FIXTURE_SLOT("x", AX, 2), FIXTURE_SLOT("y", AOUT, 1),
  FIXTURE_TRAINS(FIXTURE_SLOT("y", AY, 1), ALOSS, ALR, ASTEP),
  .n_params = 6, .params = adam_params, .n_noise = 1, .noise = adam_noise,
  .has_train = 1, .epochs = 10, .batch = 3, .log_every = 1, .seed = 9, .shuffle = 1,
  .lr = 0.05, .lr_schedule = NNRT_LR_EXPONENTIAL, .lr_schedule_a = 0.9, .warmup_epochs = 1,
  .train = {.kind = NNRT_DATA_TABLE, .rows = AROWS, .x = adam_x, .y = adam_y},
  .step = adam_step, .evaluate = adam_evaluate, .predict = adam_predict,
  .model_hash = UINT64_C(0xada3ada3ada3ada3),
  .n_checks = 5, .checks = adam_checks);

/* ---- Helpers ---- */

static int reset(void **state) {
  (void)state;
  memset(&fx, 0, sizeof fx);
  return 0;
}

/* Raises sig from the on_step report number `at` (counting from 1 in this run). */
typedef struct {
  int count, at, sig;
} Raiser;

static void raise_on_step(const NnrtStepReport *r, void *ctx) {
  (void)r;
  Raiser *x = ctx;
  if (++x->count == x->at)
    raise(x->sig);
}

/* Trains m with o from ws (freshly initialised with o.seed unless `keep`). */
static void train(const NnrtModel *m, NnrtTrainOptions o, float *ws, int keep,
                  NnrtTrainResult *res) {
  NnrtTrainData *td;
  assert_int_equal(nnrt_train_data_load(m, &td, err, sizeof err), NNRT_EXIT_OK);
  if (!keep)
    nnrt_init_params(m, ws, o.seed);
  err[0] = '\0';
  nnrt_train_on(m, ws, &o, td, NULL, res, err, sizeof err);
  nnrt_train_data_free(td);
}

static NnrtTrainOptions options(const NnrtModel *m, int64_t epochs, const char *save,
                                const char *resume) {
  NnrtTrainOptions o = nnrt_train_options(m);
  o.epochs = epochs;
  o.checkpoint_path = save;
  o.resume_path = resume;
  return o;
}

/* The straight run of m over `epochs`; its learning rates in lr (MAX_T). */
static void straight(const NnrtModel *m, int64_t epochs, float *ws, NnrtTrainResult *res,
                     float *lr) {
  memset(fx.lr, 0, sizeof fx.lr);
  train(m, options(m, epochs, NULL, NULL), ws, 0, res);
  assert_int_equal(res->status, NNRT_EXIT_OK);
  memcpy(lr, fx.lr, sizeof fx.lr);
  memset(fx.lr, 0, sizeof fx.lr);
}

static void assert_same_run(const float *a, const NnrtTrainResult *ra, const float *b,
                            const NnrtTrainResult *rb) {
  assert_memory_equal(a, b, STATE_FLOATS * sizeof(float)); /* weights and Adam's moments */
  assert_memory_equal(&ra->loss, &rb->loss, sizeof ra->loss);
  assert_int_equal(ra->steps, rb->steps);
  assert_int_equal(ra->last_epoch, rb->last_epoch);
  assert_int_equal(ra->best_epoch, rb->best_epoch);
  assert_int_equal(ra->stopped_early, rb->stopped_early);
  if (ra->has_val)
    assert_memory_equal(&ra->val_loss, &rb->val_loss, sizeof ra->val_loss);
}

static void *default_handler(int sig) {
  struct sigaction sa;
  assert_int_equal(sigaction(sig, NULL, &sa), 0);
  return (void *)sa.sa_handler;
}

/* ---- Resuming ---- */

/* 10 epochs in one go, and 4 then a resume to 10: the same bits, and the same learning rate at
 * every step (the schedule continues from the saved step). */
static void test_resume_after_whole_epochs_is_exact(void **state) {
  (void)state;
  float a[AWS], b[AWS], lr_a[MAX_T];
  NnrtTrainResult ra, rb;
  straight(&adam, 10, a, &ra, lr_a);
  assert_int_equal(ra.steps, 40); /* 10 rows in batches of 3: 4 steps an epoch */
  const char *path = tmp_path("whole.safetensors");
  train(&adam, options(&adam, 4, path, NULL), b, 0, &rb);
  assert_int_equal(rb.status, NNRT_EXIT_OK);
  assert_true(rb.saved);
  memset(b, 0, sizeof b); /* everything comes from the checkpoint */
  nnrt_init_params(&adam, b, 1234);
  train(&adam, options(&adam, 10, NULL, path), b, 1, &rb);
  assert_int_equal(rb.status, NNRT_EXIT_OK);
  assert_same_run(a, &ra, b, &rb);
  assert_true(fx.lr[16] == lr_a[16]); /* the first resumed step's η: step 17 */
  assert_memory_equal(fx.lr + 16, lr_a + 16, 24 * sizeof(float));
  assert_true(lr_a[16] != lr_a[0]);
}

/* SIGINT in the middle of epoch 4 saves the exact state (mid-epoch) and ends with 130; the
 * resumed run ends where the straight one does, also under a cosine schedule. */
static void test_sigint_mid_epoch_then_resume_is_exact(void **state) {
  (void)state;
  NnrtModel m = adam;
  m.lr_schedule = NNRT_LR_COSINE;
  m.lr_schedule_a = 0.1;
  float a[AWS], b[AWS], lr_a[MAX_T];
  NnrtTrainResult ra, rb;
  straight(&m, 10, a, &ra, lr_a);
  const char *path = tmp_path("mid.safetensors");
  void *before = default_handler(SIGINT);
  Raiser x = {.at = 14, .sig = SIGINT}; /* epoch 4, step 2 */
  NnrtTrainOptions o = options(&m, 10, path, NULL);
  o.report.on_step = raise_on_step;
  o.report.ctx = &x;
  train(&m, o, b, 0, &rb);
  assert_int_equal(rb.status, NNRT_EXIT_INTERRUPTED);
  assert_int_equal(NNRT_EXIT_INTERRUPTED, 130);
  assert_true(rb.interrupted);
  assert_int_equal(rb.steps, 14);
  char want[1200];
  snprintf(want, sizeof want, "interrupted at epoch 4, step 2; saved '%s'", path);
  assert_string_equal(err, want);
  assert_true(default_handler(SIGINT) == before); /* restored after training */
  assert_int_equal(x.count, 14);
  train(&m, options(&m, 10, NULL, path), b, 1, &rb);
  assert_int_equal(rb.status, NNRT_EXIT_OK);
  assert_same_run(a, &ra, b, &rb);
  assert_memory_equal(fx.lr + 14, lr_a + 14, 26 * sizeof(float));
}

/* SIGTERM after an epoch's last step lets the epoch finish and saves at its boundary; a run
 * interrupted twice and resumed twice still ends bit-identical. */
static void test_sigterm_twice_then_resume_is_exact(void **state) {
  (void)state;
  float a[AWS], b[AWS], lr_a[MAX_T];
  NnrtTrainResult ra, rb;
  straight(&adam, 10, a, &ra, lr_a);
  const char *path = tmp_path("term.safetensors");
  fx.raise_t = 8; /* the step raises: the last step of epoch 2 */
  fx.raise_sig = SIGTERM;
  train(&adam, options(&adam, 10, path, NULL), b, 0, &rb);
  assert_int_equal(rb.status, NNRT_EXIT_INTERRUPTED);
  char want[1200];
  snprintf(want, sizeof want, "interrupted at epoch 2, step 4; saved '%s'", path);
  assert_string_equal(err, want);
  fx.raise_t = 23; /* epoch 6, step 3 */
  train(&adam, options(&adam, 10, path, path), b, 1, &rb);
  assert_int_equal(rb.status, NNRT_EXIT_INTERRUPTED);
  snprintf(want, sizeof want, "interrupted at epoch 6, step 3; saved '%s'", path);
  assert_string_equal(err, want);
  fx.raise_t = 0;
  train(&adam, options(&adam, 10, path, path), b, 1, &rb);
  assert_int_equal(rb.status, NNRT_EXIT_OK);
  assert_same_run(a, &ra, b, &rb);
  assert_true(default_handler(SIGTERM) == (void *)SIG_DFL);
}

static void test_interrupt_without_save_path(void **state) {
  (void)state;
  float b[AWS];
  NnrtTrainResult rb;
  fx.raise_t = 3;
  fx.raise_sig = SIGINT;
  train(&adam, options(&adam, 10, NULL, NULL), b, 0, &rb);
  assert_int_equal(rb.status, NNRT_EXIT_INTERRUPTED);
  assert_string_equal(err, "interrupted at epoch 1, step 3; nothing saved (no --save path)");
  assert_int_equal(fx.steps, 3);
  assert_true(isnan(rb.loss));
}

/* The command line's exit code and message (whatever else it prints). */
static void test_cli_exits_130_when_interrupted(void **state) {
  (void)state;
  const char *path = tmp_path("cli.safetensors");
  fx.raise_t = 6;
  fx.raise_sig = SIGINT;
  assert_int_equal(RUN(&adam, tmp_path("adam"), "train", "--save", path), 130);
  char want[1200];
  snprintf(want, sizeof want, "interrupted at epoch 2, step 2; saved '%s'", path);
  assert_non_null(strstr(err_text, want));
  float *ws = nnrt_workspace_new(&adam);
  assert_int_equal(nnrt_load(&adam, ws, path, err, sizeof err), 0);
  nnrt_workspace_free(ws);
}

/* Early stopping's record (best epoch, best loss and weights, patience used) continues too:
 * after 4 epochs the best weights (epoch 3) were restored into the file's weights, and the
 * resumed run continues from epoch 4's, stops at epoch 5 and restores epoch 3's, as the
 * straight run does. */
static void test_resume_with_early_stopping_is_exact(void **state) {
  (void)state;
  NnrtModel m = adam;
  m.validation_split = 0.2; /* 8 training rows: 3 steps an epoch */
  m.early_stopping = 2;
  fx.shaped_val = 1;
  float a[AWS], b[AWS], lr_a[MAX_T];
  NnrtTrainResult ra, rb;
  straight(&m, 10, a, &ra, lr_a);
  assert_true(ra.stopped_early);
  assert_int_equal(ra.last_epoch, 5);
  assert_int_equal(ra.best_epoch, 3);
  const char *path = tmp_path("es.safetensors");
  train(&m, options(&m, 4, path, NULL), b, 0, &rb);
  assert_int_equal(rb.best_epoch, 3);
  float *w = nnrt_workspace_new(&m);
  assert_int_equal(nnrt_load(&m, w, path, err, sizeof err), 0);
  assert_memory_equal(w, b, 3 * sizeof(float)); /* predict reads the restored best weights */
  nnrt_workspace_free(w);
  train(&m, options(&m, 10, path, path), b, 1, &rb);
  assert_int_equal(rb.status, NNRT_EXIT_OK);
  assert_same_run(a, &ra, b, &rb);
  /* A run that stopped early has nothing left to do. */
  fx.steps = 0;
  train(&m, options(&m, 10, NULL, path), b, 1, &rb);
  assert_int_equal(rb.status, NNRT_EXIT_OK);
  assert_int_equal(fx.steps, 0);
  assert_true(rb.stopped_early);
  assert_memory_equal(a, b, 3 * sizeof(float));

  /* Patience that never runs out, interrupted mid-epoch while the best is behind it. */
  m.early_stopping = 10;
  straight(&m, 7, a, &ra, lr_a);
  assert_int_equal(ra.best_epoch, 3);
  Raiser x = {.at = 14, .sig = SIGINT}; /* epoch 5, step 2 */
  NnrtTrainOptions o = options(&m, 7, path, NULL);
  o.report.on_step = raise_on_step;
  o.report.ctx = &x;
  train(&m, o, b, 0, &rb);
  assert_int_equal(rb.status, NNRT_EXIT_INTERRUPTED);
  train(&m, options(&m, 7, NULL, path), b, 1, &rb);
  assert_int_equal(rb.status, NNRT_EXIT_OK);
  assert_same_run(a, &ra, b, &rb);
}

static void expect_resume_error(const NnrtModel *m, NnrtTrainOptions o, const char *path,
                                const char *reason) {
  float b[AWS];
  NnrtTrainResult rb;
  nnrt_init_params(m, b, 77);
  float before[AWS];
  memcpy(before, b, sizeof b);
  o.resume_path = path;
  train(m, o, b, 1, &rb);
  assert_int_equal(rb.status, NNRT_EXIT_IO);
  char want[1400];
  snprintf(want, sizeof want, "cannot resume from '%s': %s", path, reason);
  assert_string_equal(err, want);
  assert_memory_equal(b, before, STATE_FLOATS * sizeof(float)); /* nothing changed */
}

static void test_resume_refuses_what_does_not_fit(void **state) {
  (void)state;
  float b[AWS];
  NnrtTrainResult rb;
  const char *path = tmp_path("fit.safetensors");
  train(&adam, options(&adam, 4, path, NULL), b, 0, &rb);
  NnrtModel other = adam;
  other.model_hash ^= 1;
  NnrtTrainOptions o = options(&other, 10, NULL, path);
  train(&other, o, b, 0, &rb);
  assert_int_equal(rb.status, NNRT_EXIT_IO);
  char want[1200];
  snprintf(want, sizeof want,
           "'%s' was saved by a different model (hash ada3ada3ada3ada3, this program is "
           "ada3ada3ada3ada2)", path);
  assert_string_equal(err, want);
  o = options(&adam, 10, NULL, NULL);
  o.batch = 2;
  expect_resume_error(&adam, o, path,
                      "it was saved by a run with batch 3, this run has batch 2");
  expect_resume_error(&adam, options(&adam, 3, NULL, NULL), path,
                      "it has trained 4 epochs already, more than the 3 this run asks for");
  const char *weights = tmp_path("weights.safetensors");
  assert_int_equal(nnrt_save(&adam, b, weights, err, sizeof err), 0);
  expect_resume_error(&adam, options(&adam, 10, NULL, NULL), weights,
                      "it holds weights, not a training state (its metadata has no 'step')");
  expect_resume_error(&adam, options(&adam, 10, NULL, NULL), tmp_path("none.safetensors"),
                      "No such file or directory");
}

/* ---- Non-finite values ---- */

static void test_nonfinite_loss_names_the_first_buffer(void **state) {
  (void)state;
  float b[AWS];
  NnrtTrainResult rb;
  fx.poison_t = 6; /* epoch 2, step 2 */
  fx.poison_kind = 1;
  const char *path = tmp_path("poison.safetensors");
  NnrtTrainOptions o = options(&adam, 10, path, NULL);
  o.checkpoint_every = 1;
  train(&adam, o, b, 0, &rb);
  assert_int_equal(rb.status, NNRT_EXIT_NONFINITE);
  assert_int_equal(NNRT_EXIT_NONFINITE, 3);
  assert_string_equal(err, "non-finite value at epoch 2, step 2: 'A1' (adam.nn:11:3) is nan"
                           LR_HINT);
  assert_int_equal(fx.steps, 6); /* it stopped at once */
  assert_true(isnan(rb.loss));
  /* The last checkpoint is epoch 1's, and nothing non-finite was saved over it. */
  fx.poison_t = 0;
  train(&adam, options(&adam, 10, NULL, path), b, 1, &rb);
  assert_int_equal(rb.status, NNRT_EXIT_OK);
}

static void test_nonfinite_gradient_is_caught_with_a_finite_loss(void **state) {
  (void)state;
  float b[AWS];
  NnrtTrainResult rb;
  fx.poison_t = 3;
  fx.poison_kind = 2;
  train(&adam, options(&adam, 10, NULL, NULL), b, 0, &rb);
  assert_int_equal(rb.status, NNRT_EXIT_NONFINITE);
  assert_string_equal(err,
                      "non-finite value at epoch 1, step 3: '∂L/∂b' (made by the compiler) is nan"
                      LR_HINT);
  assert_int_equal(fx.steps, 3);
}

/* Per-row buffers are scanned over the step's rows only: A1's last row is stale there. */
static void test_nonfinite_scan_covers_the_steps_rows(void **state) {
  (void)state;
  float b[AWS];
  NnrtTrainResult rb;
  fx.poison_t = 4; /* epoch 1, step 4: the 10th row alone */
  fx.poison_kind = 3;
  train(&adam, options(&adam, 10, NULL, NULL), b, 0, &rb);
  assert_int_equal(rb.status, NNRT_EXIT_NONFINITE);
  assert_string_equal(err, "non-finite value at epoch 1, step 4: 'y' (adam.nn:12:10) is inf"
                           LR_HINT);
}

#define T(f) cmocka_unit_test_setup(f, reset)

int main(void) {
  const struct CMUnitTest tests[] = {
    T(test_resume_after_whole_epochs_is_exact),
    T(test_sigint_mid_epoch_then_resume_is_exact),
    T(test_sigterm_twice_then_resume_is_exact),
    T(test_interrupt_without_save_path),
    T(test_cli_exits_130_when_interrupted),
    T(test_resume_with_early_stopping_is_exact),
    T(test_resume_refuses_what_does_not_fit),
    T(test_nonfinite_loss_names_the_first_buffer),
    T(test_nonfinite_gradient_is_caught_with_a_finite_loss),
    T(test_nonfinite_scan_covers_the_steps_rows),
  };
  return cmocka_run_group_tests(tests, setup_dir, teardown_dir);
}

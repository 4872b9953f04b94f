/* test_embed: the runtime's context API (runtime/context.c, what nnc -c's wrappers call) against a
 * hand-written linear model: out = x · w + b, trained by its step on the mean squared error
 * with plain SGD. The step records the learning rate, the step number and the dropout masks
 * it saw; predict records its batch sizes and whether a mask was not 1. Files go to a fresh
 * directory under /tmp made by the group setup and removed by its teardown. */
#include "test.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "nnrt.h"

#define TEST_TMP_DIR "/tmp/nnrt-embed-XXXXXX"
#include "runtime_fixture.h"

enum {
  LW = 0,      /* param w [2, 1] */
  LB = 2,      /* param b [1] */
  LLR = 3,     /* learning rate */
  LLOSS = 4,   /* loss */
  LSTEP = 5,   /* step number */
  LX = 8,      /* input: LMB rows of 2 */
  LY = 12,     /* target: LMB rows of 1 */
  LOUT = 14,   /* output: LMB rows of 1 */
  LNOISE = 16, /* dropout mask: LMB rows of 1 */
  LWS = 18,
  LMB = 2,
};

static struct {
  int steps, predicts;
  float lr, t;
  int64_t max_n, mask_zeros, mask_twos, mask_odd;
  int predict_saw_training_mask;
} rec;

static float forward(const float *ws, int64_t r) {
  return ws[LX + 2 * r] * ws[LW] + ws[LX + 2 * r + 1] * ws[LW + 1] + ws[LB];
}

static void lin_step(float *ws, int64_t n) {
  rec.steps++;
  rec.lr = ws[LLR];
  rec.t = ws[LSTEP];
  for (int j = 0; j < LMB; j++) {
    float v = ws[LNOISE + j];
    rec.mask_zeros += v == 0.0f;
    rec.mask_twos += v == 2.0f;
    rec.mask_odd += v != 0.0f && v != 2.0f;
  }
  float gw0 = 0, gw1 = 0, gb = 0, loss = 0;
  for (int64_t r = 0; r < n; r++) {
    float p = forward(ws, r), e = p - ws[LY + r];
    ws[LOUT + r] = p;
    loss += e * e / (float)n;
    gw0 += 2 * e * ws[LX + 2 * r] / (float)n;
    gw1 += 2 * e * ws[LX + 2 * r + 1] / (float)n;
    gb += 2 * e / (float)n;
  }
  ws[LLOSS] = loss;
  ws[LW] -= ws[LLR] * gw0;
  ws[LW + 1] -= ws[LLR] * gw1;
  ws[LB] -= ws[LLR] * gb;
}

static void lin_predict(float *ws, int64_t n) {
  rec.predicts++;
  rec.max_n = n > rec.max_n ? n : rec.max_n;
  for (int j = 0; j < LMB; j++)
    rec.predict_saw_training_mask |= ws[LNOISE + j] != 1.0f;
  for (int64_t r = 0; r < n; r++)
    ws[LOUT + r] = forward(ws, r);
}

static const float table_x[4] = {0, 1, 1, 0}, table_y[2] = {-1, 2};
static const NnrtParam lin_params[] = {
  {.name = "w", .offset = LW, .size = 2, .rank = 2, .dim = {2, 1}, .init = NNRT_INIT_NORMAL,
   .a = 0, .b = 1, .role = NNRT_ROLE_PARAM},
  {.name = "b", .offset = LB, .size = 1, .rank = 1, .dim = {1}, .init = NNRT_INIT_ZEROS,
   .role = NNRT_ROLE_PARAM},
};
static const NnrtNoise lin_noise[] = {{.offset = LNOISE, .width = 1, .p = 0.5}};

static const NnrtModel lin = FIXTURE_MODEL(
  "lin", "lin.nn", LWS, LMB, FIXTURE_SLOT("x", LX, 2), FIXTURE_SLOT("out", LOUT, 1),
  FIXTURE_TRAINS(FIXTURE_SLOT("y", LY, 1), LLOSS, LLR, LSTEP),
  .n_params = 2, .params = lin_params, .n_noise = 1, .noise = lin_noise,
  .has_train = 1, .epochs = 1, .batch = 2, .log_every = 1, .seed = 1, .lr = 0.1,
  .train = {.kind = NNRT_DATA_TABLE, .rows = 2, .x = table_x, .y = table_y},
  .step = lin_step, .predict = lin_predict);

/* Rows of y = 2 x0 - x1 + 0.5. */
static const float data_x[10] = {0, 0, 1, 0, 0, 1, 1, 1, 0.5f, -1};
static float data_y(int r) { return 2 * data_x[2 * r] - data_x[2 * r + 1] + 0.5f; }

static int reset_record(void **state) {
  (void)state;
  memset(&rec, 0, sizeof rec);
  return 0;
}

/* Trains c on rows (r, r + 1) of the data, cycling, for steps steps; the last loss. */
static float train(NnrtContext *c, int steps, float lr) {
  float loss = NAN;
  for (int s = 0; s < steps; s++) {
    int r = (2 * s) % 4;
    float y[2] = {data_y(r), data_y(r + 1)};
    loss = nnrt_context_train_batch(c, data_x + 2 * r, y, 2, lr);
  }
  return loss;
}

static void test_create_initialises_parameters(void **state) {
  (void)state;
  NnrtContext *c = nnrt_context_new(&lin, 7);
  assert_non_null(c);
  assert_ptr_equal(nnrt_context_model(c), &lin);
  assert_int_equal(nnrt_context_steps(c), 0);
  float *want = nnrt_workspace_new(&lin);
  nnrt_init_params(&lin, want, 7);
  const float *ws = nnrt_context_workspace(c);
  assert_memory_equal(ws, want, 3 * sizeof(float));
  assert_true(ws[LNOISE] == 1.0f && ws[LNOISE + 1] == 1.0f);
  NnrtContext *d = nnrt_context_new(&lin, 8);
  assert_non_null(d);
  assert_memory_not_equal(nnrt_context_workspace(d), ws, 2 * sizeof(float));
  nnrt_workspace_free(want);
  nnrt_context_free(d);
  nnrt_context_free(c);
  nnrt_context_free(NULL);
}

static void test_create_refuses_a_bad_model(void **state) {
  (void)state;
  NnrtModel bad = lin;
  bad.abi_version = NNRT_ABI_VERSION + 1;
  assert_null(nnrt_context_new(&bad, 1));
  bad = lin;
  bad.predict = NULL;
  assert_null(nnrt_context_new(&bad, 1));
  assert_null(nnrt_context_new(NULL, 1));
}

static void test_train_batch_learns_and_writes_lr_step_and_masks(void **state) {
  (void)state;
  NnrtContext *c = nnrt_context_new(&lin, 1);
  assert_non_null(c);
  float first = train(c, 1, 0.1f);
  assert_true(isfinite(first));
  float last = train(c, 399, 0.1f);
  assert_true(last < first);
  assert_true(last < 1e-4f);
  assert_int_equal(rec.steps, 400);
  assert_int_equal(nnrt_context_steps(c), 400);
  assert_true(rec.lr == 0.1f);
  assert_true(rec.t == 400.0f); /* step numbers count from 1 */
  /* p = 0.5: masks are 0 or 1 / (1 - p) = 2, both seen, nothing else. */
  assert_int_equal(rec.mask_odd, 0);
  assert_true(rec.mask_zeros > 100 && rec.mask_twos > 100);
  const float *ws = nnrt_context_workspace(c);
  assert_true(fabsf(ws[LW] - 2) < 0.02f && fabsf(ws[LW + 1] + 1) < 0.02f &&
              fabsf(ws[LB] - 0.5f) < 0.02f);
  /* After a step the masks are back at 1: predict never sees a training mask. */
  float out[1];
  nnrt_context_predict(c, data_x, 1, out);
  assert_false(rec.predict_saw_training_mask);
  nnrt_context_free(c);
}

static void test_train_batch_refuses_without_changing_anything(void **state) {
  (void)state;
  NnrtContext *c = nnrt_context_new(&lin, 1);
  assert_non_null(c);
  train(c, 3, 0.1f);
  float before[LWS];
  memcpy(before, nnrt_context_workspace(c), sizeof before);
  float y[3] = {1, 2, 3};
  assert_true(isnan(nnrt_context_train_batch(c, data_x, y, LMB + 1, 0.1f)));
  assert_true(isnan(nnrt_context_train_batch(c, data_x, y, 0, 0.1f)));
  assert_true(isnan(nnrt_context_train_batch(c, data_x, y, -1, 0.1f)));
  assert_true(isnan(nnrt_context_train_batch(c, NULL, y, 1, 0.1f)));
  assert_true(isnan(nnrt_context_train_batch(c, data_x, NULL, 1, 0.1f)));
  assert_true(isnan(nnrt_context_train_batch(c, data_x, y, 1, NAN)));
  assert_true(isnan(nnrt_context_train_batch(c, data_x, y, 1, INFINITY)));
  assert_true(isnan(nnrt_context_train_batch(NULL, data_x, y, 1, 0.1f)));
  assert_memory_equal(nnrt_context_workspace(c), before, sizeof before);
  assert_int_equal(rec.steps, 3);
  assert_int_equal(nnrt_context_steps(c), 3);
  nnrt_context_free(c);
}

static void test_train_batch_of_a_predict_only_model_is_nan(void **state) {
  (void)state;
  NnrtModel m = lin;
  m.has_train = 0;
  m.step = NULL;
  NnrtContext *c = nnrt_context_new(&m, 1);
  assert_non_null(c);
  float y[1] = {0};
  assert_true(isnan(nnrt_context_train_batch(c, data_x, y, 1, 0.1f)));
  assert_int_equal(rec.steps, 0);
  nnrt_context_free(c);
}

static void test_predict_chunks_any_number_of_rows(void **state) {
  (void)state;
  NnrtContext *c = nnrt_context_new(&lin, 5);
  assert_non_null(c);
  const float *ws = nnrt_context_workspace(c);
  float out[6];
  out[5] = 1234.0f; /* past the 5 rows: must stay */
  nnrt_context_predict(c, data_x, 5, out);
  assert_int_equal(rec.predicts, 3); /* 2 + 2 + 1 rows */
  assert_int_equal(rec.max_n, LMB);
  for (int r = 0; r < 5; r++)
    assert_true(out[r] == data_x[2 * r] * ws[LW] + data_x[2 * r + 1] * ws[LW + 1] + ws[LB]);
  assert_true(out[5] == 1234.0f);
  nnrt_context_predict(c, data_x, 0, out); /* nothing */
  assert_int_equal(rec.predicts, 3);
  nnrt_context_free(c);
}

static void test_save_and_load_round_trip(void **state) {
  (void)state;
  NnrtContext *a = nnrt_context_new(&lin, 1), *b = nnrt_context_new(&lin, 99);
  assert_non_null(a);
  assert_non_null(b);
  train(a, 50, 0.1f);
  const char *path = tmp_path("lin.safetensors");
  assert_int_equal(nnrt_context_save(a, path, err, sizeof err), 0);
  float pa[5], pb[5];
  nnrt_context_predict(a, data_x, 5, pa);
  nnrt_context_predict(b, data_x, 5, pb);
  assert_memory_not_equal(pa, pb, sizeof pa);
  assert_int_equal(nnrt_context_load(b, path, err, sizeof err), 0);
  nnrt_context_predict(b, data_x, 5, pb);
  assert_memory_equal(pa, pb, sizeof pa);
  assert_memory_equal(nnrt_context_workspace(a), nnrt_context_workspace(b), 3 * sizeof(float));

  /* A file that is not there: -1, a message naming it, and the weights unchanged. */
  float before[3];
  memcpy(before, nnrt_context_workspace(b), sizeof before);
  err[0] = '\0';
  assert_int_equal(nnrt_context_load(b, tmp_path("missing.safetensors"), err, sizeof err), -1);
  assert_non_null(strstr(err, "missing.safetensors"));
  assert_memory_equal(nnrt_context_workspace(b), before, sizeof before);
  assert_int_equal(nnrt_context_load(b, NULL, NULL, 0), -1);
  assert_int_equal(nnrt_context_save(a, tmp_path("no/such/dir/w.safetensors"), err, sizeof err),
                   -1);
  nnrt_context_free(a);
  nnrt_context_free(b);
}

#define T(f) cmocka_unit_test_setup(f, reset_record)

int main(void) {
  const struct CMUnitTest tests[] = {
    T(test_create_initialises_parameters),
    T(test_create_refuses_a_bad_model),
    T(test_train_batch_learns_and_writes_lr_step_and_masks),
    T(test_train_batch_refuses_without_changing_anything),
    T(test_train_batch_of_a_predict_only_model_is_nan),
    T(test_predict_chunks_any_number_of_rows),
    T(test_save_and_load_round_trip),
  };
  return cmocka_run_group_tests(tests, setup_dir, teardown_dir);
}

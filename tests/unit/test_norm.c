/* test_norm: batch_norm and layer_norm (compiler/lower/lower_norm.c), which are sugar over SUM,
 * RESHAPE and elementwise ops with running statistics in buffers and the training flag.
 *  - Their derived gradients (batch norm on images and on rows, layer norm on both) against
 *    central finite differences, in double through the reference interpreter, in training mode.
 *  - The same input gives the batch statistics' output with the training flag 1 and the running
 *    statistics' output with the flag 0, each against a computation written out here.
 *  - The running mean and variance after k compiled training steps (the JIT, through the
 *    runtime's training loop, a last partial batch included) against PyTorch's rule computed in
 *    double: running = (1 − m)·running + m·batch, the variance's batch value unbiased; then
 *    predict reads them. */
#include "test.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nnrt_host.h"
#include "codegen.h"
#include "driver.h"
#include "gradcheck.h"
#include "interp.h"
#include "jit.h"

static uint64_t rng_state = 0x5bd1e9955bd1e995u;
static double uniform(double lo, double hi) { return test_uniform(&rng_state, lo, hi); }

static const double EPS = 1e-5; /* batch_norm's and layer_norm's default eps */

static void compile_front(Compilation *c, const char *name, const char *src) {
  compilation_init(c, name, src, strlen(src), stderr);
  assert_true(compilation_front(c));
}

/* The leaf or value the source names `name` (the last node of that name). */
static const Node *named(const Graph *g, const char *name) {
  const Node *found = NULL;
  for (uint32_t i = 0; i < g->n; i++)
    if (g->node[i]->name && strcmp(g->node[i]->name, name) == 0)
      found = g->node[i];
  if (!found)
    fail_msg("no node named '%s'", name);
  return found;
}

/* Random inputs, targets, parameters and running statistics (variances positive); the
 * training flag, where the graph has one, at `training`. */
static void fill_random(Interp *it, const Graph *g, double training) {
  for (uint32_t i = 0; i < g->n; i++) {
    const Node *n = g->node[i];
    if (n->op != OP_INPUT && n->op != OP_PARAM)
      continue;
    const ParamSlot *slot = graph_slot(g, n);
    double lo = slot && slot->role == ROLE_BUFFER ? 0.5 : -1;
    int64_t size = shape_numel(&n->shape, it->batch);
    for (int64_t k = 0; k < size; k++)
      interp_value(it, n)[k] = uniform(lo, 1.5);
  }
  if (g->training)
    interp_set(it, g->training, &training);
}

/* ---- gradients ---- */

static void check_gradients(const char *name, const char *src, int64_t rows) {
  Compilation c;
  compile_front(&c, name, src);
  Interp it;
  interp_init(&it, &c.arena, &c.graph, rows);
  fill_random(&it, &c.graph, 1);
  double err = worst_grad_error(&c.graph, &it);
  fprintf(stderr, "%s: worst relative error %g\n", name, err);
  assert_true(err < 1e-6);
  compilation_free(&c);
}

/* Batch norm after a convolution: every weight of the convolution reaches the loss through the
 * batch's mean and variance too (the three-term gradient). */
static void batch_norm_on_images_gradients_match_finite_differences(void **state) {
  (void)state;
  check_gradients("bn_images.nn",
                  "model m {\n input x[2, 4, 3]\n target y[3]\n"
                  " c = conv2d(x, 3, 3, bias = false)\n n = batch_norm(c)\n"
                  " z = dense(flatten(n), 3)\n loss = mean((z - y)^2)\n output z\n}\n"
                  "train m {\n data = table { 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20"
                  " 21 22 23 24 -> 1 0 0 }\n batch = 5\n}\n", 5);
}

static void batch_norm_on_rows_gradients_match_finite_differences(void **state) {
  (void)state;
  check_gradients("bn_rows.nn",
                  "model m {\n input x[3]\n target y[2]\n h = dense(x, 4, tanh)\n"
                  " n = batch_norm(h, momentum = 0.2, eps = 1e-3)\n z = dense(n, 2)\n"
                  " loss = mean((z - y)^2)\n output z\n}\n"
                  "train m {\n data = table { 1 2 3 -> 1 0 }\n batch = 3\n}\n", 3);
}

static void layer_norm_gradients_match_finite_differences(void **state) {
  (void)state;
  check_gradients("ln.nn",
                  "model m {\n input x[1, 3, 4]\n target y[2]\n c = conv2d(x, 2, 3)\n"
                  " l1 = layer_norm(c)\n h = dense(flatten(l1), 5)\n l2 = layer_norm(h)\n"
                  " z = dense(l2, 2)\n loss = mean((z - y)^2)\n output z\n}\n"
                  "train m {\n data = table { 1 2 3 4 5 6 7 8 9 10 11 12 -> 1 0 }\n batch = 4\n}\n",
                  4);
}

/* ---- training and evaluation ---- */

/* Batch norm of x [rows, C, hw] (hw = H·W, 1 for rows [N, C]) with the given per-channel mean
 * and variance, or the batch's (biased variance) when they are NULL. */
static void batch_norm_by_hand(const double *x, int64_t rows, int c, int hw, const double *mean,
                               const double *var, const double *gamma, const double *beta,
                               double eps, double *out) {
  for (int ch = 0; ch < c; ch++) {
    double mu = 0, s2 = 0, count = (double)(rows * hw);
    for (int64_t r = 0; r < rows; r++)
      for (int k = 0; k < hw; k++)
        mu += x[(r * c + ch) * hw + k] / count;
    for (int64_t r = 0; r < rows; r++)
      for (int k = 0; k < hw; k++)
        s2 += pow(x[(r * c + ch) * hw + k] - mu, 2) / count;
    if (mean)
      mu = mean[ch], s2 = var[ch];
    for (int64_t r = 0; r < rows; r++)
      for (int k = 0; k < hw; k++) {
        int64_t at = (r * c + ch) * hw + k;
        out[at] = gamma[ch] * (x[at] - mu) / sqrt(s2 + eps) + beta[ch];
      }
  }
}

/* Images x [N, 2, 2, 3] normalised per channel (n1) and, flattened to rows [N, 12], per
 * feature (n2, another momentum and eps); the output adds the two. */
static const char two_norms[] =
  "model m {\n input x[2, 2, 3]\n target y[12]\n n1 = batch_norm(x)\n f = flatten(x)\n"
  " n2 = batch_norm(f, momentum = 0.3, eps = 1e-3)\n z = flatten(n1) + n2\n"
  " loss = mean((z - y)^2)\n output z\n}\n";

static const double *value_of(Interp *it, const Graph *g, const char *name) {
  return interp_value(it, named(g, name));
}

/* n1 and n2 as the interpreter computes them with the flag at `training`, against the hand
 * computation with the batch's statistics (1) or the running ones (0). */
static void check_norms_by_hand(Interp *it, const Graph *g, double training) {
  enum { ROWS = 5 };
  interp_set(it, g->training, &training);
  interp_run(it);
  const double *x = value_of(it, g, "x");
  double want[ROWS * 12];
  bool batch = training == 1;
  batch_norm_by_hand(x, ROWS, 2, 6, batch ? NULL : value_of(it, g, "n1.running_mean"),
                     value_of(it, g, "n1.running_var"), value_of(it, g, "n1.gamma"),
                     value_of(it, g, "n1.beta"), EPS, want);
  const double *got = value_of(it, g, "n1");
  for (int i = 0; i < ROWS * 12; i++)
    if (fabs(got[i] - want[i]) > 1e-12 * (1 + fabs(want[i])))
      fail_msg("n1[%d] with training %g: %.17g, by hand %.17g", i, training, got[i], want[i]);
  batch_norm_by_hand(x, ROWS, 12, 1, batch ? NULL : value_of(it, g, "n2.running_mean"),
                     value_of(it, g, "n2.running_var"), value_of(it, g, "n2.gamma"),
                     value_of(it, g, "n2.beta"), 1e-3, want);
  got = value_of(it, g, "n2");
  for (int i = 0; i < ROWS * 12; i++)
    if (fabs(got[i] - want[i]) > 1e-12 * (1 + fabs(want[i])))
      fail_msg("n2[%d] with training %g: %.17g, by hand %.17g", i, training, got[i], want[i]);
}

static void training_uses_the_batch_statistics_evaluation_the_running_ones(void **state) {
  (void)state;
  char src[1024];
  snprintf(src, sizeof src, "%strain m {\n data = table { 1 2 3 4 5 6 7 8 9 10 11 12 -> 1 2 3 4"
           " 5 6 7 8 9 10 11 12 }\n batch = 5\n}\n", two_norms);
  Compilation c;
  compile_front(&c, "two_norms.nn", src);
  Interp it;
  interp_init(&it, &c.arena, &c.graph, 5);
  fill_random(&it, &c.graph, 1);
  check_norms_by_hand(&it, &c.graph, 1);
  check_norms_by_hand(&it, &c.graph, 0);
  /* and the two differ: the random running statistics are not the batch's */
  double evaluated = value_of(&it, &c.graph, "z")[0];
  check_norms_by_hand(&it, &c.graph, 1);
  assert_true(fabs(evaluated - value_of(&it, &c.graph, "z")[0]) > 1e-3);
  compilation_free(&c);
}

/* ---- running statistics after compiled steps ---- */

enum { RUN_ROWS = 8, RUN_BATCH = 3, RUN_EPOCHS = 3, RUN_WIDTH = 12 };

/* PyTorch's update of the running mean and variance over `rows` examples x [rows, c, hw]. */
static void running_update(const double *x, int64_t rows, int c, int hw, double momentum,
                           double *mean, double *var) {
  double m = (double)(rows * hw);
  for (int ch = 0; ch < c; ch++) {
    double mu = 0, s2 = 0;
    for (int64_t r = 0; r < rows; r++)
      for (int k = 0; k < hw; k++)
        mu += x[(r * c + ch) * hw + k] / m;
    for (int64_t r = 0; r < rows; r++)
      for (int k = 0; k < hw; k++)
        s2 += pow(x[(r * c + ch) * hw + k] - mu, 2);
    mean[ch] = (1 - momentum) * mean[ch] + momentum * mu;
    var[ch] = (1 - momentum) * var[ch] + momentum * s2 / (m - 1);
  }
}

/* The workspace's floats of the parameter or buffer `name`. */
static const float *ws_param(const NnrtModel *m, const float *ws, const char *name) {
  for (int32_t i = 0; i < m->n_params; i++)
    if (strcmp(m->params[i].name, name) == 0)
      return ws + m->params[i].offset;
  fail_msg("the model has no parameter '%s'", name);
  return NULL;
}

static void expect_close(const char *what, int i, double want, float got) {
  if (!(fabs(want - (double)got) <= 2e-5 * (1 + fabs(want))))
    fail_msg("%s[%d]: compiled %.9g, reference %.9g", what, i, (double)got, want);
}

/* The buffer `name` of the trained model against the reference values. */
static void expect_buffer(const NnrtModel *m, const float *ws, const char *name,
                          const double *want, int n) {
  const float *got = ws_param(m, ws, name);
  for (int i = 0; i < n; i++)
    expect_close(name, i, want[i], got[i]);
}

/* The model two_norms trained on 8 rows in batches of 3, 3 and 2, unshuffled, for 3 epochs. */
static char *running_source(const float x[RUN_ROWS][RUN_WIDTH]) {
  char *src = malloc(8192);
  int at = snprintf(src, 8192, "%strain m {\n data = table {\n", two_norms);
  for (int r = 0; r < RUN_ROWS; r++) {
    for (int k = 0; k < RUN_WIDTH; k++)
      at += snprintf(src + at, 8192 - (size_t)at, " %.9g", (double)x[r][k]);
    at += snprintf(src + at, 8192 - (size_t)at, " ->");
    for (int k = 0; k < RUN_WIDTH; k++)
      at += snprintf(src + at, 8192 - (size_t)at, " %d", (r + k) % 3);
    at += snprintf(src + at, 8192 - (size_t)at, "\n");
  }
  snprintf(src + at, 8192 - (size_t)at, " }\n batch = %d\n epochs = %d\n shuffle = false\n"
           " optimizer = sgd(lr = 0.05)\n}\n", RUN_BATCH, RUN_EPOCHS);
  return src;
}

static void running_statistics_follow_the_batches_as_pytorch(void **state) {
  (void)state;
  float x[RUN_ROWS][RUN_WIDTH];
  for (int r = 0; r < RUN_ROWS; r++)
    for (int k = 0; k < RUN_WIDTH; k++)
      x[r][k] = (float)uniform(-2, 3) + (float)(k % 6) * 0.5f; /* channels of unlike means */
  char *src = running_source(x);
  Compilation c;
  compile_front(&c, "running.nn", src);
  Program p;
  compilation_plan(&c, &p, "running.nn");
  char err[1024];
  Jit *j = jit_new(err, sizeof err);
  assert_non_null(j);
  assert_true(jit_add(j, codegen_module(&p, jit_context(j), false), 2, err, sizeof err));
  const NnrtModel *m = jit_lookup(j, "nn_model");
  assert_non_null(m);

  NnrtTrainData *td = NULL;
  assert_int_equal(nnrt_train_data_load(m, &td, err, sizeof err), NNRT_EXIT_OK);
  float *ws = nnrt_workspace_new(m);
  nnrt_init_params(m, ws, 3);
  NnrtTrainOptions o = nnrt_train_options(m);
  NnrtTrainResult res;
  nnrt_train_on(m, ws, &o, td, NULL, &res, err, sizeof err);
  assert_int_equal(res.status, NNRT_EXIT_OK);
  assert_int_equal(res.steps, RUN_EPOCHS * 3);

  double mean1[2] = {0, 0}, var1[2] = {1, 1}, mean2[12] = {0}, var2[12];
  for (int k = 0; k < 12; k++)
    var2[k] = 1;
  for (int e = 0; e < RUN_EPOCHS; e++)
    for (int first = 0; first < RUN_ROWS; first += RUN_BATCH) {
      int rows = first + RUN_BATCH <= RUN_ROWS ? RUN_BATCH : RUN_ROWS - first;
      double b[RUN_BATCH * RUN_WIDTH];
      for (int i = 0; i < rows * RUN_WIDTH; i++)
        b[i] = x[first + i / RUN_WIDTH][i % RUN_WIDTH];
      running_update(b, rows, 2, 6, 0.1, mean1, var1);
      running_update(b, rows, 12, 1, 0.3, mean2, var2);
    }
  expect_buffer(m, ws, "n1.running_mean", mean1, 2);
  expect_buffer(m, ws, "n1.running_var", var1, 2);
  expect_buffer(m, ws, "n2.running_mean", mean2, 12);
  expect_buffer(m, ws, "n2.running_var", var2, 12);

  /* predict normalises with them: two rows against the hand computation */
  double in[2 * 12], gamma1[2], beta1[2], gamma2[12], beta2[12], y1[24], y2[24];
  float xf[2 * 12], out[2 * 12];
  for (int i = 0; i < 24; i++)
    in[i] = xf[i] = (float)uniform(-1, 2);
  for (int i = 0; i < 2; i++)
    gamma1[i] = ws_param(m, ws, "n1.gamma")[i], beta1[i] = ws_param(m, ws, "n1.beta")[i];
  for (int i = 0; i < 12; i++)
    gamma2[i] = ws_param(m, ws, "n2.gamma")[i], beta2[i] = ws_param(m, ws, "n2.beta")[i];
  assert_true(gamma1[0] != 1 && beta2[0] != 0); /* the steps trained them */
  batch_norm_by_hand(in, 2, 2, 6, mean1, var1, gamma1, beta1, EPS, y1);
  batch_norm_by_hand(in, 2, 12, 1, mean2, var2, gamma2, beta2, 1e-3, y2);
  nnrt_predict_rows(m, ws, xf, 2, out);
  for (int i = 0; i < 24; i++)
    expect_close("predict", i, y1[i] + y2[i], out[i]);

  nnrt_workspace_free(ws);
  nnrt_train_data_free(td);
  jit_free(j);
  compilation_free(&c);
  free(src);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(batch_norm_on_images_gradients_match_finite_differences),
    cmocka_unit_test(batch_norm_on_rows_gradients_match_finite_differences),
    cmocka_unit_test(layer_norm_gradients_match_finite_differences),
    cmocka_unit_test(training_uses_the_batch_statistics_evaluation_the_running_ones),
    cmocka_unit_test(running_statistics_follow_the_batches_as_pytorch),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

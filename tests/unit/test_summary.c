/* summary_layers on models compiled from source: the rows of `info` — each layer's kind (the op
 * that does its work, with its activation), its parameters and its FLOPs per example, which
 * count a convolution's matrix product and nothing for the ops that only move values. The
 * models have no train block: the summary reads the forward graph only. */
#include "test.h"

#include <string.h>

#include "driver.h"
#include "summary.h"

static const char cnn[] =
  "model cnn {\n"
  "  input  x[1, 28, 28]\n"
  "  target y : class(10)\n"
  "  c1     = conv2d(x, 32, 3, act = relu)\n"
  "  p1     = max_pool(c1, 2)\n"
  "  c2     = conv2d(p1, 64, 3, act = relu)\n"
  "  p2     = max_pool(c2, 2)\n"
  "  f      = flatten(p2)\n"
  "  h      = dense(f, 128, relu)\n"
  "  d      = dropout(h, 0.5)\n"
  "  logits = dense(d, 10)\n"
  "  loss   = cross_entropy(softmax(logits), y)\n"
  "  output softmax(logits)\n"
  "}\n";

static const char residual[] =
  "model res {\n"
  "  input  x[2, 6, 6]\n"
  "  target y : class(3)\n"
  "  c = conv2d(x, 2, 3, bias = false)\n"
  "  n = batch_norm(c)\n"
  "  r = relu(n + x)\n"
  "  a = avg_pool(r, 2)\n"
  "  g = global_avg_pool(a)\n"
  "  logits = dense(g, 3)\n"
  "  loss = cross_entropy(softmax(logits), y)\n"
  "  output softmax(logits)\n"
  "}\n";

typedef struct {
  const char *name, *kind;
  int64_t params, flops; /* -1: not checked */
} Row;

static void expect_rows(const char *source, const Row *want, int n) {
  Compilation c;
  compilation_init(&c, "summary.nn", source, strlen(source), stderr);
  assert_true(compilation_front(&c));
  LayerSummary *ls;
  int got = summary_layers(&c.graph, &ls);
  assert_int_equal(got, n);
  for (int i = 0; i < n; i++) {
    const char *name = ls[i].node->name ? ls[i].node->name : "output";
    if (strcmp(name, want[i].name) || strcmp(ls[i].kind, want[i].kind))
      fail_msg("row %d: %s %s, expected %s %s", i, name, ls[i].kind, want[i].name, want[i].kind);
    assert_int_equal(ls[i].params, want[i].params);
    if (want[i].flops >= 0)
      assert_int_equal(ls[i].flops, want[i].flops);
  }
  compilation_free(&c);
}

/* conv2 of the example: 2·(14·14·64)·(32·3·3) for the product, then the bias and the relu per
 * output; the pools compare 4 taps per output; flatten does no arithmetic. */
static void test_cnn(void **state) {
  (void)state;
  const int64_t conv2 = 2 * 14 * 14 * 64 * 288 + 2 * 14 * 14 * 64;
  const Row want[] = {
    {"c1", "conv2d+relu", 32 * 9 + 32, 2 * 28 * 28 * 32 * 9 + 2 * 28 * 28 * 32},
    {"p1", "max_pool", 0, 32 * 14 * 14 * 4},
    {"c2", "conv2d+relu", 64 * 288 + 64, conv2},
    {"p2", "max_pool", 0, 64 * 7 * 7 * 4},
    {"f", "flatten", 0, 0},
    {"h", "dense+relu", 3136 * 128 + 128, 2 * 3136 * 128 + 2 * 128},
    {"d", "dropout", 0, 128},
    {"logits", "dense", 128 * 10 + 10, 2 * 128 * 10 + 10},
    {"output", "softmax", 0, -1},
  };
  expect_rows(cnn, want, sizeof want / sizeof *want);
}

static void test_residual(void **state) {
  (void)state;
  const Row want[] = {
    {"c", "conv2d", 2 * 2 * 9, 2 * 6 * 6 * 2 * 18},
    {"n", "batch_norm", 4, -1},
    {"r", "add+relu", 0, 2 * 2 * 6 * 6},
    {"a", "avg_pool", 0, 2 * 3 * 3 * 4},
    {"g", "global_avg_pool", 0, 2 * 3 * 3 + 2},
    {"logits", "dense", 9, 2 * 2 * 3 + 3},
    {"output", "softmax", 0, -1},
  };
  expect_rows(residual, want, sizeof want / sizeof *want);
}

/* Activations that lower to several primitives (max, add, mul, sub) are named as the user
 * called them, not by their last primitive; a sum of two layers stays a residual "add". */
static void test_activations(void **state) {
  (void)state;
  static const char acts[] =
    "model acts {\n"
    "  input  x[4]\n"
    "  h = dense(x, 8)\n"
    "  a = leaky_relu(h)\n"
    "  b = elu(a)\n"
    "  c = gelu(b)\n"
    "  e = silu(c)\n"
    "  f = softplus(e)\n"
    "  r = f + h\n"
    "  s = log_softmax(r)\n"
    "  output 2 * s\n"
    "}\n";
  const Row want[] = {
    {"h", "dense", 40, -1},       {"a", "leaky_relu", 0, -1}, {"b", "elu", 0, -1},
    {"c", "gelu", 0, -1},         {"e", "silu", 0, -1},       {"f", "softplus", 0, -1},
    {"r", "add", 0, 8},           {"s", "log_softmax", 0, -1}, {"output", "mul", 0, 8},
  };
  expect_rows(acts, want, sizeof want / sizeof *want);
}

/* An activation given to dense is named after it: dense+leaky_relu, not dense. */
static void test_dense_activations(void **state) {
  (void)state;
  static const char acts[] = "model acts {\n"
                             "  input  x[4]\n"
                             "  h = dense(x, 8, leaky_relu)\n"
                             "  g = dense(h, 2, tanh)\n"
                             "  output g\n"
                             "}\n";
  const Row want[] = {{"h", "dense+leaky_relu", 40, -1}, {"g", "dense+tanh", 18, -1}};
  expect_rows(acts, want, sizeof want / sizeof *want);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_cnn),
    cmocka_unit_test(test_residual),
    cmocka_unit_test(test_activations),
    cmocka_unit_test(test_dense_activations),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

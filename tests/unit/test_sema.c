/* sema and lowering diagnostics: each case compiles a source string through compilation_front
 * with the test diagnostic format and compares the complete diagnostic output, line for line
 * (kind|file|line|col|message, hint|message), with what the case expects. */
#include "test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "driver.h"

/* Compiles src as "t.nn"; returns the diagnostics (malloc'd) and whether the front end succeeded. */
static char *front(const char *src, bool *ok) {
  char *buf = NULL;
  size_t n = 0;
  FILE *f = open_memstream(&buf, &n);
  assert_non_null(f);
  Compilation c;
  compilation_init(&c, "t.nn", src, strlen(src), f);
  c.diag.format = DIAG_TEST;
  *ok = compilation_front(&c);
  compilation_free(&c);
  fclose(f);
  return buf;
}

/* The whole diagnostic output of src must be exactly want ("" = compiles cleanly). */
static void expect_diags(const char *src, const char *want) {
  bool ok;
  char *got = front(src, &ok);
  if (strcmp(got, want) != 0) {
    print_error("source:\n%s\n--- expected diagnostics:\n%s--- got:\n%s---\n", src, want, got);
    free(got);
    fail();
  }
  free(got);
  if (ok != (want[0] == '\0')) {
    print_error("compilation_front returned %s, expected %s\n", ok ? "true" : "false",
                want[0] ? "false" : "true");
    fail();
  }
}


/* --- shapes --- */

static void shape_mismatch_matmul(void **state) {
  (void)state;
  expect_diags("model m {\n"
               "  input X[2]\n"
               "  param W1[3, 2]\n"
               "  output y = X @ W1\n"
               "}\n",
               "error|t.nn|4|14|matrix product [N, 2] @ [3, 2]: inner dimensions differ\n");
}

static void shape_mismatch_broadcast(void **state) {
  (void)state;
  expect_diags("model m {\n"
               "  input X[2]\n"
               "  param b[3]\n"
               "  output y = X + b\n"
               "}\n",
               "error|t.nn|4|14|shapes [N, 2] and [3] do not broadcast\n");
}

/* --- names and functions --- */

/* The brief's case: W1 is the name meant; 'X' (also one edit away from 'W') is no help. */
static void unknown_name_hint(void **state) {
  (void)state;
  expect_diags("model m {\n"
               "  input X[2]\n"
               "  param W1[2, 2]\n"
               "  param b1[2]\n"
               "  output A1 = sigmoid(X @ W + b1)\n"
               "}\n",
               "error|t.nn|5|27|unknown name 'W'\n"
               "hint|did you mean 'W1'?\n");
}

/* A suggestion where the closest name is unambiguous. */
static void unknown_name_hint_unambiguous(void **state) {
  (void)state;
  expect_diags("model m {\n"
               "  input inputs[2]\n"
               "  param weights[2, 2]\n"
               "  output y = inputs @ weigths\n"
               "}\n",
               "error|t.nn|4|23|unknown name 'weigths'\n"
               "hint|did you mean 'weights'?\n");
}

static void unknown_name_without_hint(void **state) {
  (void)state;
  expect_diags("model m {\n"
               "  input X[2]\n"
               "  output y = X + something\n"
               "}\n",
               "error|t.nn|3|18|unknown name 'something'\n");
}

/* A name whose definition had an error must not be reported again as unknown where it is used:
 * "unknown name 'A1'" would be false (it is defined, on line 3). */
static void no_cascade_after_failed_definition(void **state) {
  (void)state;
  expect_diags("model m {\n"
               "  input X[2]\n"
               "  A1 = sigmoid(X @ something)\n"
               "  output A1\n"
               "}\n",
               "error|t.nn|3|20|unknown name 'something'\n");
}

/* Likewise for a param whose initialiser is wrong: it is declared, so using it is no error. */
static void no_cascade_after_failed_param_init(void **state) {
  (void)state;
  expect_diags("model m {\n"
               "  input X[2]\n"
               "  param W[2] = [1, 2, 3]\n"
               "  output y = X * W\n"
               "}\n",
               "error|t.nn|3|16|'W' has 2 elements but this array gives 3\n");
}

static void unknown_function_hint(void **state) {
  (void)state;
  expect_diags("model m {\n"
               "  input X[2]\n"
               "  output y = sigmod(X)\n"
               "}\n",
               "error|t.nn|3|14|unknown function 'sigmod'\n"
               "hint|did you mean 'sigmoid'?\n");
}

static void non_constant_exponent(void **state) {
  (void)state;
  expect_diags("model m {\n"
               "  input X[2]\n"
               "  param k = 2\n"
               "  output y = X ^ k\n"
               "}\n",
               "error|t.nn|4|18|the exponent of ^ must be a constant number\n");
}

static void dense_without_name(void **state) {
  (void)state;
  expect_diags("model m {\n"
               "  input X[2]\n"
               "  output y = sigmoid(dense(X, 2, relu))\n"
               "}\n",
               "error|t.nn|3|22|a dense layer needs a name for its parameters\n"
               "hint|write it as its own line: h = dense(...)\n");
}

static void dense_unknown_activation(void **state) {
  (void)state;
  expect_diags("model m {\n"
               "  input X[2]\n"
               "  output h = dense(X, 2, relux)\n"
               "}\n",
               "error|t.nn|3|26|unknown activation; use identity, relu, sigmoid or tanh\n");
}

/* --- model structure (sema) --- */

static void missing_loss(void **state) {
  (void)state;
  expect_diags("model m {\n"
               "  input X[2]\n"
               "  target Y[2]\n"
               "  output y = sigmoid(X)\n"
               "}\n"
               "train m {\n"
               "  data = table { 0 0 -> 0 0 }\n"
               "}\n",
               "error|t.nn|6|1|model 'm' has no loss, so it cannot be trained\n"
               "note|t.nn|1|1|add a line such as 'loss = mean((y - target)^2)' to the model\n");
}

static void missing_output(void **state) {
  (void)state;
  expect_diags("model m {\n"
               "  input X[2]\n"
               "  param W[2]\n"
               "}\n",
               "error|t.nn|1|1|model 'm' has no output; declare one, e.g. 'output y'\n");
}

static void duplicate_definition(void **state) {
  (void)state;
  expect_diags("model m {\n"
               "  input X[2]\n"
               "  param W[2]\n"
               "  param W[3]\n"
               "  output y = X\n"
               "}\n",
               "error|t.nn|4|9|'W' is already defined in model 'm'\n"
               "note|t.nn|3|9|'W' was defined here\n");
}

static const char trained_model[] = "model m {\n"
                                    "  input X[2]\n"
                                    "  target Y[1]\n"
                                    "  param W[2, 1]\n"
                                    "  y = X @ W\n"
                                    "  loss = mean((y - Y)^2)\n"
                                    "  output y\n"
                                    "}\n";

/* trained_model followed by a train block with the given settings (line 9 is "train m {"). */
static void expect_train(const char *settings, const char *want) {
  char src[2048];
  snprintf(src, sizeof src, "%strain m {\n%s}\n", trained_model, settings);
  expect_diags(src, want);
}

static void unknown_setting_hint(void **state) {
  (void)state;
  expect_train("  data = table { 0 0 -> 0 }\n"
               "  epoch = 10\n",
               "error|t.nn|11|3|unknown training setting 'epoch'\n"
               "hint|did you mean 'epochs'?\n");
}

static void bad_learning_rate(void **state) {
  (void)state;
  expect_train("  data = table { 0 0 -> 0 }\n"
               "  optimizer = sgd(lr = -1)\n",
               "error|t.nn|11|24|the learning rate must be a positive number\n");
  expect_train("  data = table { 0 0 -> 0 }\n"
               "  optimizer = sgd(lr = 0)\n",
               "error|t.nn|11|24|the learning rate must be a positive number\n");
}

static void data_row_wrong_width(void **state) {
  (void)state;
  expect_train("  data = table { 0 0 -> 0; 0 1 1 -> 1; 1 0 -> 1 1 }\n",
               "error|t.nn|10|28|this row has 3 input values; input 'X' has 2\n"
               "error|t.nn|10|40|this row has 2 target values; target 'Y' has 1\n");
}

static void loss_not_scalar(void **state) {
  (void)state;
  expect_diags("model m {\n"
               "  input X[2]\n"
               "  target Y[2]\n"
               "  loss = (X - Y)^2\n"
               "  output y = X\n"
               "}\n"
               "train m {\n"
               "  data = table { 0 0 -> 0 1 }\n"
               "}\n",
               "error|t.nn|4|3|the loss must be a scalar, but it has shape [N, 2]\n"
               "hint|average it over the batch with mean(...)\n");
}

static void output_depends_on_target(void **state) {
  (void)state;
  expect_diags("model m {\n"
               "  input X[2]\n"
               "  target Y[2]\n"
               "  loss = mean((X - Y)^2)\n"
               "  output y = X + Y\n"
               "}\n"
               "train m {\n"
               "  data = table { 0 0 -> 0 1 }\n"
               "}\n",
               "error|t.nn|5|3|the output depends on target 'Y', which is not known when "
               "predicting\n");
}

/* Every independent error of a stage is reported in the same run. */
static void several_errors_sema(void **state) {
  (void)state;
  expect_diags("model m {\n"
               "  input X[2]\n"
               "  input Z[2]\n"
               "  target Y[1]\n"
               "  loss = mean(X)\n"
               "  output y = X\n"
               "}\n"
               "train m {\n"
               "  data = table { 0 0 -> 0 }\n"
               "  epochs = 0\n"
               "  shuffle = maybe\n"
               "  bacth = 4\n"
               "}\n",
               "error|t.nn|3|3|a model has one input; this is a second\n"
               "note|t.nn|2|3|the first is here\n"
               "error|t.nn|10|12|'epochs' must be an integer >= 1\n"
               "error|t.nn|11|13|'shuffle' must be true or false\n"
               "error|t.nn|12|3|unknown training setting 'bacth'\n"
               "hint|did you mean 'batch'?\n");
}

static void several_errors_lowering(void **state) {
  (void)state;
  expect_diags("model m {\n"
               "  input X[2]\n"
               "  param W[3, 2]\n"
               "  a = X @ W\n"
               "  b = sigmod(X)\n"
               "  output y = X + nothing\n"
               "}\n",
               "error|t.nn|4|7|matrix product [N, 2] @ [3, 2]: inner dimensions differ\n"
               "error|t.nn|5|7|unknown function 'sigmod'\n"
               "hint|did you mean 'sigmoid'?\n"
               "error|t.nn|6|18|unknown name 'nothing'\n");
}

/* --- programs that compile --- */

static void xor_compiles(void **state) {
  (void)state;
  char *src = test_read_source("examples/xor.nn", NULL);
  expect_diags(src, "");
  free(src);
}

static void neuron_compiles(void **state) {
  (void)state;
  char *src = test_read_source("examples/neuron.nn", NULL);
  expect_diags(src, "");
  free(src);
}

static void dense_defines_params(void **state) {
  (void)state;
  static const char src[] = "model m {\n"
                            "  input X[2]\n"
                            "  h = dense(X, 2, sigmoid)\n"
                            "  output h\n"
                            "}\n";
  char *buf = NULL;
  size_t n = 0;
  FILE *f = open_memstream(&buf, &n);
  Compilation c;
  compilation_init(&c, "t.nn", src, strlen(src), f);
  c.diag.format = DIAG_TEST;
  bool ok = compilation_front(&c);
  fclose(f);
  if (!ok || buf[0])
    print_error("diagnostics:\n%s", buf);
  free(buf);
  assert_true(ok);
  assert_int_equal(c.graph.nparams, 2);
  const Node *W = c.graph.params[0].param, *b = c.graph.params[1].param;
  assert_string_equal(W->name, "h.W");
  assert_int_equal(W->shape.rank, 2);
  assert_int_equal(W->shape.dim[0], 2);
  assert_int_equal(W->shape.dim[1], 2);
  assert_string_equal(b->name, "h.b");
  assert_int_equal(b->shape.rank, 1);
  assert_int_equal(b->shape.dim[0], 2);
  assert_non_null(c.graph.output);
  assert_int_equal(c.graph.output->shape.rank, 2);
  assert_true(c.graph.output->shape.dim[0] == DIM_BATCH);
  assert_int_equal(c.graph.output->shape.dim[1], 2);
  compilation_free(&c);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(shape_mismatch_matmul),
    cmocka_unit_test(shape_mismatch_broadcast),
    cmocka_unit_test(unknown_name_hint),
    cmocka_unit_test(unknown_name_hint_unambiguous),
    cmocka_unit_test(unknown_name_without_hint),
    cmocka_unit_test(no_cascade_after_failed_definition),
    cmocka_unit_test(no_cascade_after_failed_param_init),
    cmocka_unit_test(unknown_function_hint),
    cmocka_unit_test(non_constant_exponent),
    cmocka_unit_test(dense_without_name),
    cmocka_unit_test(dense_unknown_activation),
    cmocka_unit_test(missing_loss),
    cmocka_unit_test(missing_output),
    cmocka_unit_test(duplicate_definition),
    cmocka_unit_test(unknown_setting_hint),
    cmocka_unit_test(bad_learning_rate),
    cmocka_unit_test(data_row_wrong_width),
    cmocka_unit_test(loss_not_scalar),
    cmocka_unit_test(output_depends_on_target),
    cmocka_unit_test(several_errors_sema),
    cmocka_unit_test(several_errors_lowering),
    cmocka_unit_test(xor_compiles),
    cmocka_unit_test(neuron_compiles),
    cmocka_unit_test(dense_defines_params),
  };
  return cmocka_run_group_tests_name("sema", tests, NULL, NULL);
}

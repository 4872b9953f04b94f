/* sema and lowering diagnostics: each case compiles a source string through compilation_front
 * with the test diagnostic format and compares the complete diagnostic output, line for line
 * (kind|file|line|col|message, hint|message), with what the case expects. */
#include "test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "driver.h"
#include "parse.h"

/* Compiles src as "t.nn" into *c (the caller frees it) with the test diagnostic format; returns
 * the diagnostics (malloc'd) and whether the front end succeeded. */
static char *front_into(Compilation *c, const char *src, bool *ok) {
  char *buf = NULL;
  size_t n = 0;
  FILE *f = open_memstream(&buf, &n);
  assert_non_null(f);
  compilation_init(c, "t.nn", src, strlen(src), f);
  c->diag.format = DIAG_TEST;
  *ok = compilation_front(c);
  fclose(f);
  return buf;
}

/* Compiles src as "t.nn"; returns the diagnostics (malloc'd) and whether the front end succeeded. */
static char *front(const char *src, bool *ok) {
  Compilation c;
  char *buf = front_into(&c, src, ok);
  compilation_free(&c);
  return buf;
}

/* Compiles src as "t.nn" into *c (the caller frees it); the front end must succeed, and any
 * diagnostics are printed. */
static void front_ok(Compilation *c, const char *src) {
  bool ok;
  char *buf = front_into(c, src, &ok);
  if (!ok || buf[0])
    print_error("diagnostics:\n%s", buf);
  free(buf);
  assert_true(ok);
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
               "error|t.nn|3|26|unknown activation 'relux'\nhint|did you mean 'relu'?\n");
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

/* --- train settings (sema) --- */

static void optimizer_argument_hint(void **state) {
  (void)state;
  expect_train("  data = table { 0 0 -> 0 }\n"
               "  optimizer = adam(lr = 1e-3, beta = 0.9)\n",
               "error|t.nn|11|31|unknown argument 'beta' for adam\n"
               "hint|did you mean 'beta1'?\n");
  /* The binder of model calls (args.c) words a repeat the same way here. */
  expect_train("  data = table { 0 0 -> 0 }\n"
               "  optimizer = sgd(lr = 0.1, lr = 0.2)\n",
               "error|t.nn|11|29|argument 'lr' of sgd is given twice\n"
               "note|t.nn|11|19|it is first given here\n");
  expect_train("  data = table { 0 0 -> 0 }\n"
               "  optimizer = sgd(0.1)\n",
               "error|t.nn|11|19|sgd takes named arguments only, e.g. sgd(lr = 0.01)\n");
  expect_train("  data = table { 0 0 -> 0 }\n"
               "  optimizer = adagrad\n",
               "error|t.nn|11|15|unknown optimizer 'adagrad'\n"
               "hint|the optimizers are sgd, adam, adamw and rmsprop\n");
}

static void number_types(void **state) {
  (void)state;
  expect_train("  data = table { 0 0 -> 0 }\n"
               "  optimizer = adamw(lr = \"fast\", weight_decay = -1)\n"
               "  epochs = \"10\"\n",
               "error|t.nn|11|26|'lr' must be a number, not a string\n"
               "error|t.nn|11|49|'weight_decay' must be a number >= 0\n"
               "error|t.nn|12|12|'epochs' must be a number, not a string\n");
  expect_train("  data = table { 0 0 -> 0 }\n"
               "  warmup = epochs\n",
               "error|t.nn|11|12|'warmup' must be a constant number\n");
}

static void validation_rules(void **state) {
  (void)state;
  expect_train("  data = table { 0 0 -> 0 }\n"
               "  early_stopping = 3\n",
               "error|t.nn|11|3|early_stopping needs validation data\n"
               "hint|add 'validate = ...' or 'validation_split = 0.1'\n");
  expect_train("  data = table { 0 0 -> 0 }\n"
               "  validate = table { 1 1 -> 0 }\n"
               "  validation_split = 0.25\n",
               "error|t.nn|12|3|give either validate or validation_split, not both\n"
               "note|t.nn|11|3|validate is set here\n");
  expect_train("  data = table { 0 0 -> 0 }\n"
               "  validate = table { 1 1 1 -> 0 }\n",
               "error|t.nn|11|22|this row has 3 input values; input 'X' has 2\n");
}

static void misplaced_and_repeated(void **state) {
  (void)state;
  expect_train("  data = table { 0 0 -> 0 }\n"
               "  loss = 1\n"
               "  batch = 2\n"
               "  batch = 4\n",
               "error|t.nn|11|3|'loss' belongs in a model block, not in a train block\n"
               "hint|a train block holds settings such as 'epochs = 10'\n"
               "error|t.nn|13|3|'batch' is set twice\n"
               "note|t.nn|12|3|it is first set here\n");
}

static void class_target_rows(void **state) {
  (void)state;
  expect_diags("model m {\n"
               "  input X[2]\n"
               "  target Y : class(2)\n"
               "  param W[2, 2]\n"
               "  y = X @ W\n"
               "  loss = mean((y - Y)^2)\n"
               "  output y\n"
               "}\n"
               "train m {\n"
               "  data = table { 0 0 -> 1; 0 1 -> 2; 1 1 -> -1 }\n"
               "}\n",
               "error|t.nn|10|28|class label 2 is out of range: target 'Y' has classes 0 to 1\n"
               "error|t.nn|10|38|class label -1 is out of range: target 'Y' has classes 0 to 1\n");
  expect_diags("model m {\n  input X[2]\n  target Y : class(1e7)\n  output X\n}\n",
               "error|t.nn|3|20|the number of classes must be a positive integer (at most "
               "1000000)\n");
}

/* --- sema alone: settings that lowering does not need to see --- */

typedef struct {
  Compilation c;
  char *diags;
  size_t size;
  FILE *out;
  Model *model;
} SemaRun;

/* Parses and checks src as file `name`, selecting model `want`: the pipeline up to the checks. */
static void sema_run(SemaRun *r, const char *name, const char *src, const char *want) {
  memset(r, 0, sizeof *r);
  r->out = open_memstream(&r->diags, &r->size);
  compilation_init(&r->c, name, src, strlen(src), r->out);
  r->c.diag.format = DIAG_TEST;
  r->c.want_model = want;
  assert_true(compilation_run(&r->c, STAGE_PARSE));
  compilation_run(&r->c, STAGE_CHECK);
  r->model = r->c.model;
  fflush(r->out);
}

static void sema_done(SemaRun *r) {
  fclose(r->out);
  free(r->diags);
  compilation_free(&r->c);
}

static void expect_clean(SemaRun *r) {
  if (!r->model || r->diags[0])
    fail_msg("diagnostics:\n%s", r->diags);
}

/* Every setting lands in TrainSettings, through the whole front end (XOR lowers today). */
static void settings_filled(void **state) {
  (void)state;
  static const char src[] = "model xor {\n"
                            "  input X[2]\n  target Y[1]\n"
                            "  param W1[2, 2] = normal(0, 1)\n  param b1[2] = zeros\n"
                            "  param W2[2, 1] = normal(0, 1)\n  param b2[1] = zeros\n"
                            "  A1 = sigmoid(X @ W1 + b1)\n  A2 = sigmoid(A1 @ W2 + b2)\n"
                            "  loss = mean((A2 - Y)^2)\n  output A2\n}\n"
                            "train xor {\n"
                            "  data = table { 0 0 -> 0;  0 1 -> 1;  1 0 -> 1;  1 1 -> 0 }\n"
                            "  validate = table { 1 1 -> 0 }\n"
                            "  optimizer = sgd(lr = 1/2, momentum = 0.9, nesterov = true,\n"
                            "                  weight_decay = 1e-4)\n"
                            "  schedule = step(factor = 0.25, every = 3)\n"
                            "  warmup = 1.5\n"
                            "  epochs = 7\n  batch = 4\n  shuffle = false\n  seed = 3\n"
                            "  log_every = 2\n  early_stopping = 2\n  checkpoint_every = 5\n"
                            "}\n";
  Compilation c;
  front_ok(&c, src);
  const TrainSettings *t = &c.model->train;
  assert_true(t->present);
  assert_int_equal(t->opt.kind, OPT_SGD);
  assert_true(t->opt.lr == 0.5 && t->opt.momentum == 0.9 && t->opt.nesterov);
  assert_true(t->opt.weight_decay == 1e-4);
  assert_int_equal(t->lr_schedule.kind, LR_STEP);
  assert_true(t->lr_schedule.a == 0.25 && t->lr_schedule.b == 3 && t->lr_schedule.warmup_epochs == 1.5);
  assert_int_equal(t->epochs, 7);
  assert_int_equal(t->batch, 4);
  assert_false(t->shuffle);
  assert_int_equal(t->seed, 3);
  assert_int_equal(t->log_every, 2);
  assert_int_equal(t->early_stopping, 2);
  assert_int_equal(t->checkpoint_every, 5);
  assert_int_equal(t->data.kind, DATA_TABLE);
  assert_int_equal(t->data.rows, 4);
  assert_int_equal(t->data.x_width, 2);
  assert_int_equal(t->data.y_width, 1);
  static const float x[] = {0, 0, 0, 1, 1, 0, 1, 1}, y[] = {0, 1, 1, 0};
  assert_memory_equal(t->data.x, x, sizeof x);
  assert_memory_equal(t->data.y, y, sizeof y);
  assert_int_equal(t->validate.kind, DATA_TABLE);
  assert_true(t->validation_split == 0);
  assert_int_equal(c.model->n_classes, 0);
  compilation_free(&c);
}

/* Optimizer and schedule defaults are Keras's; a bare name means all defaults. */
static void optimizer_defaults(void **state) {
  (void)state;
  static const char *const opts[] = {"sgd", "adam", "adamw(lr = 0.002)", "rmsprop"};
  for (int i = 0; i < 4; i++) {
    char src[1024];
    snprintf(src, sizeof src, "%strain m {\n  data = table { 0 0 -> 0 }\n  optimizer = %s\n"
             "  schedule = %s\n}\n", trained_model, opts[i],
             i == 0 ? "constant" : i == 1 ? "exponential" : i == 2 ? "cosine(final = 0.1)"
                                                                   : "step");
    SemaRun r;
    sema_run(&r, "t.nn", src, NULL);
    expect_clean(&r);
    const TrainSettings *t = &r.model->train;
    assert_int_equal(t->opt.kind, i);
    switch (i) {
    case 0:
      assert_true(t->opt.lr == 0.01 && t->opt.momentum == 0 && !t->opt.nesterov);
      assert_int_equal(t->lr_schedule.kind, LR_CONSTANT);
      break;
    case 1:
      assert_true(t->opt.lr == 0.001 && t->opt.beta1 == 0.9 && t->opt.beta2 == 0.999);
      assert_true(t->opt.eps == 1e-7);
      assert_int_equal(t->lr_schedule.kind, LR_EXPONENTIAL);
      assert_true(t->lr_schedule.a == 0.96);
      break;
    case 2:
      assert_true(t->opt.lr == 0.002 && t->opt.weight_decay == 0.01 && t->opt.eps == 1e-7);
      assert_int_equal(t->lr_schedule.kind, LR_COSINE);
      assert_true(t->lr_schedule.a == 0.1);
      break;
    case 3:
      assert_true(t->opt.lr == 0.001 && t->opt.rho == 0.9 && t->opt.momentum == 0);
      assert_int_equal(t->lr_schedule.kind, LR_STEP);
      assert_true(t->lr_schedule.a == 0.5 && t->lr_schedule.b == 10);
      break;
    }
    sema_done(&r);
  }
}

/* A relative path is resolved against the .nn file's directory and stored absolute; the csv's
 * header is detected, its columns counted and defaulted (targets = the last column). */
static void csv_relative_path(void **state) {
  (void)state;
  static const char src[] = "model iris {\n  input x[2]\n  target y : class(3)\n  loss = mean(x)\n"
                            "  output x\n}\n"
                            "train iris {\n"
                            "  data = csv(\"data/iris.csv\", classes = [\"setosa\", "
                            "\"versicolor\", \"virginica\"], standardize = true)\n"
                            "  validate = csv(\"data/xor.csv\", delimiter = \";\", "
                            "features = [0, 2], targets = 1, scale = -0.5)\n"
                            "}\n";
  SemaRun r;
  sema_run(&r, NNC_SOURCE_DIR "/tests/golden/diag/t.nn", src, NULL);
  expect_clean(&r);
  char *dir = realpath(NNC_SOURCE_DIR "/tests/golden/diag", NULL);
  char want[4096];
  snprintf(want, sizeof want, "%s/data/iris.csv", dir);
  const DataSettings *d = &r.model->train.data, *v = &r.model->train.validate;
  assert_int_equal(r.model->n_classes, 3);
  assert_int_equal(d->kind, DATA_CSV);
  assert_string_equal(d->path, want);
  assert_true(d->header);
  assert_int_equal(d->delimiter, ',');
  assert_int_equal(d->n_x_cols, 0);
  assert_int_equal(d->n_y_cols, 1);
  assert_int_equal(d->y_cols[0], 2);
  assert_int_equal(d->n_class_names, 3);
  assert_string_equal(d->class_names[2], "virginica");
  assert_int_equal(d->scaling, SCALE_STANDARDIZE);
  snprintf(want, sizeof want, "%s/data/xor.csv", dir);
  assert_string_equal(v->path, want);
  assert_false(v->header);
  assert_int_equal(v->delimiter, ';');
  assert_int_equal(v->n_x_cols, 2);
  assert_int_equal(v->x_cols[1], 2);
  assert_int_equal(v->y_cols[0], 1);
  assert_int_equal(v->scaling, SCALE_FACTOR);
  assert_true(v->scale == -0.5);
  free(dir);
  sema_done(&r);
}

/* The real Fashion-MNIST files pass the compile-time check of a 784-input, 10-class model. */
static void fashion_mnist_headers(void **state) {
  (void)state;
  static const char src[] =
    "model fashion {\n  input x[784]\n  target y : class(10)\n  loss = mean(x)\n  output x\n}\n"
    "train fashion {\n"
    "  data = idx(\"/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz\",\n"
    "             \"/usr/share/datasets/fashion-mnist/train-labels-idx1-ubyte.gz\", "
    "scale = 1/255)\n"
    "  validate = idx(\"/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz\",\n"
    "                 \"/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz\")\n"
    "  optimizer = adam(lr = 0.001)\n  epochs = 10\n  batch = 64\n"
    "}\n";
  SemaRun r;
  sema_run(&r, "t.nn", src, NULL);
  expect_clean(&r);
  const TrainSettings *t = &r.model->train;
  assert_int_equal(r.model->n_classes, 10);
  Shape y = r.model->target.shape;
  assert_int_equal(y.rank, 1);
  assert_int_equal(y.dim[0], 10);
  assert_int_equal(t->data.kind, DATA_IDX);
  assert_string_equal(t->data.labels_path,
                      "/usr/share/datasets/fashion-mnist/train-labels-idx1-ubyte.gz");
  assert_int_equal(t->data.scaling, SCALE_FACTOR);
  assert_true(t->data.scale == 1.0 / 255);
  assert_int_equal(t->validate.kind, DATA_IDX);
  assert_int_equal(t->validate.scaling, SCALE_NONE);
  assert_int_equal(t->opt.kind, OPT_ADAM);
  sema_done(&r);
}

static const char two_models[] = "model first {\n  input x[1]\n  output x\n}\n"
                                 "model second {\n  input x[2]\n  output x\n}\n";

/* --model NAME picks a model; an unknown name lists the file's models. */
static void model_selection(void **state) {
  (void)state;
  SemaRun r;
  sema_run(&r, "t.nn", two_models, NULL);
  expect_clean(&r);
  assert_string_equal(r.model->name, "first");
  sema_done(&r);
  sema_run(&r, "t.nn", two_models, "second");
  expect_clean(&r);
  assert_string_equal(r.model->name, "second");
  sema_done(&r);
  sema_run(&r, "t.nn", two_models, "secnd");
  assert_null(r.model);
  assert_string_equal(r.diags, "error|t.nn|0|0|no model named 'secnd' in this file; it has "
                               "'first' and 'second'\n"
                               "hint|did you mean 'second'?\n");
  sema_done(&r);
}

/* Every model and train block is checked, not only the one compiled. */
static void every_model_checked(void **state) {
  (void)state;
  char src[1024];
  snprintf(src, sizeof src, "%s%s", two_models,
           "model third {\n  input x[2]\n}\ntrain second {\n  data = table { 1 2 -> }\n}\n");
  expect_diags(src, "error|t.nn|9|1|model 'third' has no output; declare one, e.g. 'output y'\n"
                    "error|t.nn|12|1|model 'second' has no loss, so it cannot be trained\n"
                    "note|t.nn|5|1|add a line such as 'loss = mean((y - target)^2)' to the "
                    "model\n"
                    "error|t.nn|12|1|model 'second' has no target, so it cannot be trained\n");
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
  Compilation c;
  front_ok(&c, src);
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
    cmocka_unit_test(optimizer_argument_hint),
    cmocka_unit_test(number_types),
    cmocka_unit_test(validation_rules),
    cmocka_unit_test(misplaced_and_repeated),
    cmocka_unit_test(class_target_rows),
    cmocka_unit_test(settings_filled),
    cmocka_unit_test(optimizer_defaults),
    cmocka_unit_test(csv_relative_path),
    cmocka_unit_test(fashion_mnist_headers),
    cmocka_unit_test(model_selection),
    cmocka_unit_test(every_model_checked),
    cmocka_unit_test(xor_compiles),
    cmocka_unit_test(neuron_compiles),
    cmocka_unit_test(dense_defines_params),
  };
  return cmocka_run_group_tests_name("sema", tests, NULL, NULL);
}

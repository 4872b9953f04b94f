/* The sugar of lower.c: every activation, loss, regulariser and initialiser of its exported
 * tables, built from source text and checked — derived gradients against central finite
 * differences through the reference interpreter (in double), values against hand-computed
 * numbers, and the shapes and diagnostics of layers, reductions and transposes. An entry added
 * to a table without a case here fails the loops below. */
#include "test.h"

#include <math.h>

#include "grad.h"
#include "optim.h"
#include "parse.h"
#include "nnrt.h"
#include "sugar_fixture.h"

static const char TRAIN[] = "train m { data = table { 1 2 3 4 -> 0 1 0 } }\n";

/* --- every activation --- */

/* Extra forms for the activations that take a parameter (both branches of leaky_relu). */
static const struct {
  const char *name, *args;
} act_params[] = {
  {"leaky_relu", ", alpha = 0.2"}, {"leaky_relu", ", alpha = 3"}, {"elu", ", alpha = 0.5"},
};

static void every_activation_matches_finite_differences(void **state) {
  (void)state;
  int checked = 0;
  for (int i = 0; i < lower_activation_count(); i++) {
    const char *act = lower_activation_name(i), *param = lower_activation_param(i);
    const char *src = format("model m {\n input X[4]\n target Y[3]\n param W[4, 3] = normal(0, 1)\n"
                             " h = %s(X @ W)\n loss = mean(h * Y)\n output h\n}\n%s", act, TRAIN);
    check_gradients(act, src, 0, -1.5, 1.5);
    /* as dense's activation: through h.W and h.b */
    src = format("model m {\n input X[4]\n target Y[3]\n h = dense(X, 3, %s)\n"
                 " loss = mean(h * Y)\n output h\n}\n%s", act, TRAIN);
    check_gradients(act, src, 0, -1.5, 1.5);
    int forms = 0;
    for (size_t k = 0; k < sizeof act_params / sizeof *act_params; k++) {
      if (strcmp(act_params[k].name, act))
        continue;
      forms++;
      src = format("model m {\n input X[4]\n target Y[3]\n param W[4, 3] = normal(0, 1)\n"
                   " h = %s(X @ W%s)\n loss = mean(h * Y)\n output h\n}\n%s", act,
                   act_params[k].args, TRAIN);
      check_gradients(act, src, 0, -1.5, 1.5);
      src = format("model m {\n input X[4]\n target Y[3]\n h = dense(X, 3, %s(%s))\n"
                   " loss = mean(h * Y)\n output h\n}\n%s", act, act_params[k].args + 2, TRAIN);
      check_gradients(act, src, 0, -1.5, 1.5);
    }
    if (param && !forms)
      fail_msg("activation %s takes '%s' but act_params has no form for it", act, param);
    checked++;
  }
  assert_true(checked >= 11);
}

/* --- every loss --- */

/* How each loss is tested: the prediction it is given (h = X @ W: logits; s = softmax(h);
 * q = sigmoid(h)) and whether the target holds class labels. */
static const struct {
  const char *name, *pred, *extra;
  int classes;
} loss_cases[] = {
  {"mse", "h", "", 0},
  {"mse", "tanh(h)", "", 0},
  {"mae", "h", "", 0},
  {"l1_loss", "h", "", 0},
  {"huber", "h", "", 0},
  {"huber", "h", ", delta = 0.3", 0},
  {"binary_cross_entropy", "q", "", 0},            /* a named sigmoid: the with-logits form */
  {"binary_cross_entropy", "sigmoid(h)", "", 0},   /* likewise, written inline */
  {"binary_cross_entropy", "0.1 + 0.8 * q", "", 0}, /* probabilities: the clipped form */
  {"binary_cross_entropy_with_logits", "h", "", 0},
  {"cross_entropy", "softmax(h)", "", 3},          /* nll(log_softmax(h)) */
  {"cross_entropy", "s", "", 3},                   /* a named softmax: the same */
  {"cross_entropy", "s", "", 0},                   /* real-valued (soft) targets */
  {"cross_entropy", "0.1 + 0.8 * q", "", 3},       /* probabilities: −Σ y log p */
  {"cross_entropy_with_logits", "h", "", 3},       /* nll(log_softmax(h)) */
  {"cross_entropy_with_logits", "h", "", 0},
  {"nll", "log_softmax(h)", "", 3},
  {"nll", "log_softmax(h)", "", 0},
};

static void every_loss_matches_finite_differences(void **state) {
  (void)state;
  for (int i = 0; i < lower_loss_count(); i++) {
    const char *loss = lower_loss_name(i);
    int cases = 0;
    for (size_t k = 0; k < sizeof loss_cases / sizeof *loss_cases; k++) {
      if (strcmp(loss_cases[k].name, loss))
        continue;
      cases++;
      const char *src = format(
        "model m {\n input X[4]\n target Y[3]\n param W[4, 3] = normal(0, 1)\n h = X @ W\n"
        " s = softmax(h)\n q = sigmoid(h)\n loss = %s(%s, Y%s)\n output h\n}\n%s",
        loss, loss_cases[k].pred, loss_cases[k].extra, TRAIN);
      /* targets in (0.1, 0.9): inside the domain of every loss */
      check_gradients(format("%s(%s)", loss, loss_cases[k].pred), src, loss_cases[k].classes,
                      0.1, 0.9);
    }
    if (!cases)
      fail_msg("loss %s has no case in loss_cases", loss);
    if (lower_loss_accepts_classes(i)) {
      bool with_classes = false;
      for (size_t k = 0; k < sizeof loss_cases / sizeof *loss_cases; k++)
        with_classes |= !strcmp(loss_cases[k].name, loss) && loss_cases[k].classes;
      assert_true(with_classes);
    }
  }
}

/* The real syntax: `target y : class(3)` is a [N, 3] leaf of one-hot rows. */
static void class_target_from_source(void **state) {
  (void)state;
  static const char src[] =
    "model m {\n input X[4]\n target y : class(3)\n h = dense(X, 5, relu)\n"
    " z = dense(h, 3)\n loss = cross_entropy(softmax(z), y)\n output softmax(z)\n}\n"
    "train m { data = table { 1 2 3 4 -> 2 } }\n";
  Fixture f;
  front_ok(&f, src, 0);
  const Node *y = f.c.graph.target;
  assert_int_equal(f.classes, 3);
  assert_int_equal(y->shape.rank, 2);
  assert_true(y->shape.dim[0] == DIM_BATCH && y->shape.dim[1] == 3);
  assert_int_equal(f.c.graph.metric, NNRT_METRIC_ARGMAX);
  fixture_free(&f);
  check_gradients("class target", src, 0, -1, 1);
}

/* --- every regulariser --- */

static void every_regulariser_matches_finite_differences(void **state) {
  (void)state;
  assert_true(lower_regulariser_count() >= 2);
  for (int i = 0; i < lower_regulariser_count(); i++) {
    const char *reg = lower_regulariser_name(i);
    const char *src = format(
      "model m {\n input X[4]\n target Y[3]\n param W[4, 3] = normal(0, 1)\n"
      " h = dense(X, 3, sigmoid)\n loss = mse(h, Y) + 0.1 * %s(W) + 1e-2 * %s(h.W)\n output h\n}\n%s",
      reg, reg, TRAIN);
    check_gradients(reg, src, 0, -1, 1);
  }
}

/* Dropout, reductions over an axis, transposes (folded into @ and not), dot and array literals
 * differentiate through what they expand to. */
static void other_sugar_matches_finite_differences(void **state) {
  (void)state;
  check_gradients("dropout", "model m {\n input X[4]\n target Y[3]\n h = dense(X, 5, tanh)\n"
                  " d = dropout(h, 0.3)\n o = dense(d, 3)\n loss = mse(o, Y)\n output o\n}\n"
                  "train m { data = table { 1 2 3 4 -> 0 1 0 } }\n", 0, -1, 1);
  check_gradients("reductions", "model m {\n input X[4]\n target Y[3]\n"
                  " param W[4, 3] = normal(0, 1)\n param V[3, 4] = normal(0, 1)\n"
                  " h = tanh(X @ W + X @ transpose(V))\n"
                  " a = sum(h, axis = 1) + mean(h, axis = -1) + max(h, axis = 1)\n"
                  " b = sum(h, axis = 0) * mean(h, axis = 0) + min(h, axis = 0)\n"
                  " c = transpose(W) @ transpose(W · [1, 2, 3] * [[1], [2], [3], [4]])\n"
                  " loss = mean(a) + sum(b) + sum(c) + max(W) + mean(max(h, Y)) + mean(sum(h, axis = -1, keepdims = true) · [1])\n"
                  " output h\n}\n"
                  "train m { data = table { 1 2 3 4 -> 0 1 0 } }\n", 0, -1, 1);
}

/* --- values --- */

static double eval1(const char *expr, double x) {
  double out;
  run_model(format("model m {\n input X[1]\n output o = %s\n}\n", expr), &x, 1, false, &out, 1);
  return out;
}

static void activation_values(void **state) {
  (void)state;
  double x[6] = {1, 2, 3, -1, 0, 5}, p[6];
  run_model("model m {\n input X[3]\n output o = softmax(X)\n}\n", x, 2, false, p, 6);
  for (int r = 0; r < 2; r++) {
    double z = 0;
    for (int k = 0; k < 3; k++)
      z += exp(x[3 * r + k]);
    assert_float_equal(p[3 * r] + p[3 * r + 1] + p[3 * r + 2], 1, 1e-12);
    for (int k = 0; k < 3; k++)
      assert_float_equal(p[3 * r + k], exp(x[3 * r + k]) / z, 1e-12);
  }
  double big[3] = {1000, 1001, 1002}, ls[3];
  run_model("model m {\n input X[3]\n output o = log_softmax(X)\n}\n", big, 1, false, ls, 3);
  double lz = log(exp(-2.0) + exp(-1.0) + 1);
  for (int k = 0; k < 3; k++)
    assert_float_equal(ls[k], (double)k - 2 - lz, 1e-9);
  run_model("model m {\n input X[3]\n output o = softmax(X)\n}\n", big, 1, false, ls, 3);
  assert_float_equal(ls[2], 1 / (exp(-2.0) + exp(-1.0) + 1), 1e-12);

  assert_float_equal(eval1("gelu(X)", 1), 0.841192, 1e-6);
  assert_float_equal(eval1("gelu(X)", -1), 0.841192 - 1, 1e-6);
  /* softplus(−30) = log1p(e^−30): exact to double precision, not rounded through 1 + u */
  double sp = eval1("softplus(X)", -30);
  assert_true(isfinite(sp) && fabs(sp / 9.357622968839e-14 - 1) < 1e-9);
  assert_float_equal(eval1("softplus(X)", 1000), 1000, 1e-9);
  assert_float_equal(eval1("softplus(X)", 0), log(2.0), 1e-12);
  assert_float_equal(eval1("silu(X)", 2), 2 / (1 + exp(-2.0)), 1e-12);
  assert_float_equal(eval1("elu(X)", -1000), -1, 1e-12);
  assert_float_equal(eval1("elu(X)", 1000), 1000, 1e-12);
  assert_float_equal(eval1("elu(X, alpha = 2)", -1), 2 * (exp(-1.0) - 1), 1e-12);
  assert_float_equal(eval1("leaky_relu(X)", -2), -0.02, 1e-12);
  assert_float_equal(eval1("leaky_relu(X, alpha = 0.2)", -2), -0.4, 1e-12);
  assert_float_equal(eval1("leaky_relu(X, alpha = 3)", -2), -6, 1e-12);
  assert_float_equal(eval1("leaky_relu(X, alpha = 3)", 2), 2, 1e-12);
  assert_float_equal(eval1("relu(X)", -2), 0, 0);
  assert_float_equal(eval1("identity(X)", -2), -2, 0);
}

static double loss1(const char *loss, double x, double y) {
  double in[1] = {x}, out;
  Fixture f;
  front_ok(&f, format("model m {\n input X[1]\n target Y[1]\n loss = %s\n output X\n}\n", loss), 0);
  Interp it;
  interp_init(&it, &f.c.arena, &f.c.graph, 1);
  fill(&f, &it, 0, 0);
  interp_set(&it, f.c.graph.input, in);
  interp_set(&it, f.c.graph.target, &y);
  interp_run(&it);
  out = interp_value(&it, f.c.graph.loss)[0];
  fixture_free(&f);
  return out;
}

static void loss_values(void **state) {
  (void)state;
  double v = loss1("binary_cross_entropy_with_logits(X, Y)", 1000, 0);
  assert_true(isfinite(v));
  assert_float_equal(v, 1000, 1e-9);
  assert_float_equal(loss1("binary_cross_entropy_with_logits(X, Y)", -1000, 0), 0, 1e-12);
  assert_float_equal(loss1("binary_cross_entropy_with_logits(X, Y)", 0.5, 1),
                     log(1 + exp(-0.5)), 1e-12);
  /* min(max(X, 0), 1) is X on [0, 1] and known to be a probability, as the loss requires */
  const char *bce = "binary_cross_entropy(min(max(X, 0), 1), Y)";
  assert_float_equal(loss1(bce, 0.25, 1), -log(0.25), 1e-12);
  assert_float_equal(loss1(bce, 0, 1), -log(1e-7), 1e-9);
  assert_float_equal(loss1(bce, 1, 1), -log(1 - 1e-7), 1e-12);
  assert_float_equal(loss1("binary_cross_entropy(sigmoid(X), Y)", 1000, 0), 1000, 1e-9);
  assert_float_equal(loss1("mse(X, Y)", 3, 1), 4, 1e-12);
  assert_float_equal(loss1("mae(X, Y)", -3, 1), 4, 1e-12);
  assert_float_equal(loss1("huber(X, Y)", 1.5, 1), 0.125, 1e-12);
  assert_float_equal(loss1("huber(X, Y)", 4, 1), 2.5, 1e-12);
  assert_float_equal(loss1("huber(X, Y, delta = 2)", 4, 1), 2 * (3 - 1), 1e-12);
  assert_float_equal(loss1("l1(X) + l2(X)", -3, 0), 3 + 9, 1e-12);
  /* cross_entropy(softmax(z)) of logits 1000 apart is finite */
  double z[2] = {1000, 0}, y[2] = {0, 1}, out;
  Fixture f;
  front_ok(&f, "model m {\n input X[2]\n target Y[2]\n loss = cross_entropy(softmax(X), Y)\n"
           " output X\n}\n", 0);
  Interp it;
  interp_init(&it, &f.c.arena, &f.c.graph, 1);
  fill(&f, &it, 0, 0);
  interp_set(&it, f.c.graph.input, z);
  interp_set(&it, f.c.graph.target, y);
  interp_run(&it);
  out = interp_value(&it, f.c.graph.loss)[0];
  assert_float_equal(out, 1000, 1e-9);
  fixture_free(&f);
}

/* mean over rows, averaging over the batch: two rows of mse */
static void losses_average_over_the_batch(void **state) {
  (void)state;
  double x[2] = {1, 3}, y[2] = {0, 0};
  Fixture f;
  front_ok(&f, "model m {\n input X[1]\n target Y[1]\n loss = mse(X, Y)\n output X\n}\n", 0);
  Interp it;
  interp_init(&it, &f.c.arena, &f.c.graph, 2);
  interp_set(&it, f.c.graph.input, x);
  interp_set(&it, f.c.graph.target, y);
  interp_run(&it);
  assert_float_equal(interp_value(&it, f.c.graph.loss)[0], 5, 1e-12);
  fixture_free(&f);
}

/* --- initialisers --- */

static void initialiser_formulas(void **state) {
  (void)state;
  Fixture f;
  front_ok(&f, "model m {\n input X[784]\n param A[784, 128] = he_normal\n"
           " param B[784, 128] = glorot_uniform\n param C[10] = lecun_normal\n"
           " param D[784, 128] = xavier_normal\n param E[4, 3] = kaiming_uniform\n"
           " param F[4, 3] = lecun_uniform()\n param G[3] = constant(0.5)\n"
           " param H[2] = uniform(-1, 2)\n param I[2] = normal(1, 0.5)\n param J = 2\n"
           " param K[2, 2] = [[1, 2], [3, 4]]\n param L[2, 3, 4] = he_uniform\n"
           " h = dense(X, 128, relu, init = he_normal)\n g = dense(X, 10)\n output h\n}\n", 0);
  const Graph *g = &f.c.graph;
  const ParamSlot *s = slot_named(g, "A");
  assert_int_equal(s->init.kind, INIT_NORMAL);
  assert_float_equal(s->init.a, 0, 0);
  assert_float_equal(s->init.b, sqrt(2.0 / 784), 1e-15);
  s = slot_named(g, "B");
  assert_int_equal(s->init.kind, INIT_UNIFORM);
  assert_float_equal(s->init.a, -sqrt(6.0 / (784 + 128)), 1e-15);
  assert_float_equal(s->init.b, sqrt(6.0 / (784 + 128)), 1e-15);
  s = slot_named(g, "C");
  assert_int_equal(s->init.kind, INIT_NORMAL);
  assert_float_equal(s->init.b, sqrt(1.0 / 10), 1e-15);
  s = slot_named(g, "D");
  assert_float_equal(s->init.b, sqrt(2.0 / (784 + 128)), 1e-15);
  s = slot_named(g, "E");
  assert_int_equal(s->init.kind, INIT_UNIFORM);
  assert_float_equal(s->init.b, sqrt(6.0 / 4), 1e-15);
  s = slot_named(g, "F");
  assert_float_equal(s->init.b, sqrt(3.0 / 4), 1e-15);
  s = slot_named(g, "G");
  assert_int_equal(s->init.kind, INIT_CONST);
  assert_float_equal(s->init.a, 0.5, 0);
  s = slot_named(g, "H");
  assert_int_equal(s->init.kind, INIT_UNIFORM);
  assert_float_equal(s->init.a, -1, 0);
  assert_float_equal(s->init.b, 2, 0);
  s = slot_named(g, "I");
  assert_int_equal(s->init.kind, INIT_NORMAL);
  assert_float_equal(s->init.a, 1, 0);
  assert_float_equal(s->init.b, 0.5, 0);
  s = slot_named(g, "J");
  assert_int_equal(s->init.kind, INIT_CONST);
  s = slot_named(g, "K");
  assert_int_equal(s->init.kind, INIT_VALUES);
  assert_float_equal(s->init.values[3], 4, 0);
  s = slot_named(g, "L"); /* receptive field 2: fan_in = 3 · 2 */
  assert_float_equal(s->init.b, sqrt(6.0 / 6), 1e-15);
  s = slot_named(g, "h.W");
  assert_int_equal(s->init.kind, INIT_NORMAL);
  assert_float_equal(s->init.b, sqrt(2.0 / 784), 1e-15);
  s = slot_named(g, "g.W"); /* dense's default: Glorot-uniform */
  assert_int_equal(s->init.kind, INIT_UNIFORM);
  assert_float_equal(s->init.b, sqrt(6.0 / (784 + 10)), 1e-15);
  fixture_free(&f);
}

/* Every initialiser of the table is accepted in one of its forms, for params and for dense. */
static void every_initialiser_is_accepted(void **state) {
  (void)state;
  static const char *const forms[] = {"%s", "%s(0.1)", "%s(0, 1)"};
  for (int i = 0; i < lower_initialiser_count(); i++) {
    const char *name = lower_initialiser_name(i);
    bool ok = false;
    for (int k = 0; k < 3 && !ok; k++) {
      const char *init = format(forms[k], name);
      Fixture f;
      ok = front(&f, format("model m {\n input X[4]\n param W[4, 3] = %s\n"
                            " h = dense(X, 3, init = %s)\n output h\n}\n", init, init), 0);
      fixture_free(&f);
    }
    if (!ok)
      fail_msg("initialiser %s is accepted in no form", name);
  }
}

/* --- layers, reductions, transposes, literals --- */

static void dropout_makes_a_noise_leaf(void **state) {
  (void)state;
  Fixture f;
  front_ok(&f, "model m {\n input X[4]\n h = dropout(X, 0.25)\n k = dropout(h, p = 0)\n"
           " output k\n}\n", 0);
  const Graph *g = &f.c.graph;
  assert_int_equal(g->nnoise, 1);
  assert_true(g->noise[0]->flags & NODE_NOISE);
  assert_float_equal(g->noise[0]->arg.k, 0.25, 0);
  assert_int_equal(g->noise[0]->shape.rank, 2);
  assert_true(g->noise[0]->shape.dim[0] == DIM_BATCH && g->noise[0]->shape.dim[1] == 4);
  assert_ptr_equal(g->output, named(g, "h")); /* p = 0 is the identity */
  fixture_free(&f);
}

static void dense_options(void **state) {
  (void)state;
  Fixture f;
  front_ok(&f, "model m {\n input X[4]\n h = dense(X, 3, bias = false)\n"
           " k = dense(h, 2, activation = leaky_relu(alpha = 0.2), init = zeros)\n output k\n}\n", 0);
  const Graph *g = &f.c.graph;
  assert_non_null(slot_named(g, "h.W"));
  assert_null(slot_named(g, "h.b"));
  assert_non_null(slot_named(g, "k.b"));
  assert_int_equal(slot_named(g, "k.W")->init.kind, INIT_ZEROS);
  assert_int_equal(g->nparams, 3);
  fixture_free(&f);
}

static void assert_shape(const Graph *g, const char *name, int rank, int64_t d0, int64_t d1,
                         int64_t d2) {
  const Node *n = named(g, name);
  char sh[64];
  Shape want = {(uint8_t)rank, {d0, d1, d2}};
  if (!shape_eq(&n->shape, &want))
    fail_msg("%s has shape %s", name, shape_str(&n->shape, sh, sizeof sh));
}

static void reduction_and_transpose_shapes(void **state) {
  (void)state;
  Fixture f;
  front_ok(&f, "model m {\n input X[2, 3]\n param A[2, 3]\n param B[5, 3]\n"
           " t = transpose(A)\n tx = transpose(X)\n"
           " s0 = sum(X, axis = 0)\n s1 = sum(X, axis = -1)\n m1 = mean(X, axis = 1)\n"
           " x2 = max(X, axis = 2)\n n1 = min(X, axis = -2, keepdims = true)\n all = sum(X)\n"
           " output tx\n}\n", 0);
  const Graph *g = &f.c.graph;
  assert_shape(g, "t", 2, 3, 2, 0);
  assert_int_equal(named(g, "t")->op, OP_PERMUTE);
  assert_shape(g, "tx", 3, DIM_BATCH, 3, 2);
  assert_shape(g, "s0", 2, 2, 3, 0);
  assert_shape(g, "s1", 2, DIM_BATCH, 2, 0);
  assert_shape(g, "m1", 2, DIM_BATCH, 3, 0);
  assert_shape(g, "x2", 2, DIM_BATCH, 2, 0);
  assert_shape(g, "n1", 3, DIM_BATCH, 1, 3);
  assert_shape(g, "all", 0, 0, 0, 0);
  fixture_free(&f);
  /* transpose inside @ folds into matmul's transpose bit */
  front_ok(&f, "model m {\n input Z[3]\n param B[5, 3]\n o = Z @ transpose(B)\n output o\n}\n", 0);
  const Node *o = named(&f.c.graph, "o");
  assert_int_equal(o->op, OP_MATMUL);
  assert_int_equal(o->arg.p[PARAM_TRANSPOSE_A], 0);
  assert_int_equal(o->arg.p[PARAM_TRANSPOSE_B], 1);
  assert_shape(&f.c.graph, "o", 2, DIM_BATCH, 5, 0);
  fixture_free(&f);
}

static void reduction_values(void **state) {
  (void)state;
  double x[6] = {1, 2, 3, 4, 5, 9}, out[6];
  run_model("model m {\n input X[3]\n output o = mean(X, axis = 1)\n}\n", x, 2, false, out, 2);
  assert_float_equal(out[0], 2, 1e-12);
  assert_float_equal(out[1], 6, 1e-12);
  run_model("model m {\n input X[3]\n output o = X - mean(X, axis = 0)\n}\n", x, 2, false, out, 6);
  assert_float_equal(out[0], -1.5, 1e-12);
  assert_float_equal(out[5], 3, 1e-12);
  run_model("model m {\n input X[3]\n output o = X / sum(X, axis = -1, keepdims = true)\n}\n", x,
            2, false, out, 6);
  assert_float_equal(out[2], 0.5, 1e-12);
  run_model("model m {\n input X[3]\n output o = min(X, axis = 1) + max(X, axis = -1)\n}\n", x,
            2, false, out, 2);
  assert_float_equal(out[0], 4, 1e-12);
  assert_float_equal(out[1], 13, 1e-12);
  run_model("model m {\n input X[3]\n output o = max(X, 2.5) + min(X, [2, 2, 2])\n}\n", x, 2,
            false, out, 6);
  assert_float_equal(out[0], 3.5, 1e-12);
  assert_float_equal(out[5], 11, 1e-12);
}

static void array_literals_are_constant_tensors(void **state) {
  (void)state;
  Fixture f;
  front_ok(&f, "model m {\n input X[2]\n c = [[1, 2], [3, -4]]\n v = [5]\n"
           " output o = X @ c + v\n}\n", 0);
  const Graph *g = &f.c.graph;
  assert_shape(g, "c", 2, 2, 2, 0);
  assert_shape(g, "v", 1, 1, 0, 0);
  const ParamSlot *s = graph_slot(g, named(g, "c"));
  assert_non_null(s);
  assert_int_equal(s->role, ROLE_CONST);
  assert_float_equal(s->init.values[3], -4, 0);
  assert_null(s->grad);
  fixture_free(&f);
}

/* --- metric --- */

static int metric_of(const char *body, int classes) {
  Fixture f;
  front_ok(&f, format("model m {\n input X[4]\n target Y[3]\n h = dense(X, 3)\n%s}\n", body),
           classes);
  int m = f.c.graph.metric;
  fixture_free(&f);
  return m;
}

static void metric_rule(void **state) {
  (void)state;
  assert_int_equal(metric_of(" loss = mse(h, Y)\n output h\n", 0), NNRT_METRIC_NONE);
  assert_int_equal(metric_of(" loss = cross_entropy(softmax(h), Y)\n output softmax(h)\n", 3),
                   NNRT_METRIC_ARGMAX);
  assert_int_equal(metric_of(" loss = nll(log_softmax(h), Y)\n output h\n", 0),
                   NNRT_METRIC_ARGMAX);
  assert_int_equal(metric_of(" output h\n", 3), NNRT_METRIC_ARGMAX);
  assert_int_equal(metric_of(" p = sigmoid(h)\n loss = binary_cross_entropy(p, Y)\n output p\n", 0),
                   NNRT_METRIC_BINARY);
  assert_int_equal(metric_of(" p = 0.5 * sigmoid(h) + 0.25\n loss = binary_cross_entropy(p, Y)\n"
                             " output p\n", 0), NNRT_METRIC_BINARY);
  assert_int_equal(metric_of(" loss = binary_cross_entropy_with_logits(h, Y)\n"
                             " output sigmoid(h)\n", 0), NNRT_METRIC_BINARY);
  /* logits out: thresholding at 0.5 would be wrong, so no accuracy */
  assert_int_equal(metric_of(" loss = binary_cross_entropy_with_logits(h, Y)\n output h\n", 0),
                   NNRT_METRIC_NONE);
}

/* --- diagnostics --- */

static void expect_error(const char *body, int classes, const char *want) {
  Fixture f;
  const char *src = format("model m {\n input X[4]\n target Y[3]\n%s output X\n}\n", body);
  assert_false(front(&f, src, classes));
  if (!strstr(diags(&f), want))
    fail_msg("expected\n%s\nin the diagnostics of\n%s--- got:\n%s", want, src, diags(&f));
  fixture_free(&f);
}

static void diagnostics(void **state) {
  (void)state;
  expect_error(" h = dense(X, 3)\n loss = mse(h, Y)\n", 3,
               "error|t.nn|5|9|mse needs real-valued targets, but 'Y' holds class labels\n"
               "hint|use cross_entropy(softmax(logits), Y)\n");
  expect_error(" h = dense(X, 3)\n loss = binary_cross_entropy(sigmoid(h), Y)\n", 3,
               "binary_cross_entropy needs real-valued targets, but 'Y' holds class labels");
  expect_error(" h = dense(X, 2)\n loss = mse(h, Y)\n", 0,
               "mse needs a prediction and a target of the same shape, but they are [N, 2] and [N, 3]");
  expect_error(" h = dense(X, 3, relux)\n", 0,
               "error|t.nn|4|18|unknown activation 'relux'\nhint|did you mean 'relu'?\n");
  expect_error(" h = dense(X, 3, bais = false)\n", 0,
               "error|t.nn|4|18|unknown argument 'bais' for dense\nhint|did you mean 'bias'?\n");
  expect_error(" h = dense(X, 3, bias = maybe)\n", 0, "'bias' must be true or false");
  expect_error(" h = exp(X, X)\n", 0, "exp takes 1 argument, got 2");
  expect_error(" h = huber(X, X, 1, 2)\n", 0, "huber takes 2 to 3 arguments, got 4");
  expect_error(" h = dropout(X, 1)\n", 0, "the probability of dropout must be in [0, 1), got 1");
  expect_error(" h = sum(X, axis = 2)\n", 0,
               "axis 2 is out of range for shape [N, 4]\n"
               "hint|axes of a tensor of rank 2 are 0 to 1, or -2 to -1\n");
  expect_error(" h = sum(X, axis = 0.5)\n", 0, "the axis of sum must be an integer");
  expect_error(" param v[3]\n h = transpose(v)\n", 0,
               "transpose needs at least two axes, but this has shape [3]");
  expect_error(" h = transpose(X)\n", 0,
               "the batch dimension N cannot be transposed away from the first axis");
  expect_error(" param W[2, 2] = he_normall\n", 0,
               "unknown initialiser 'he_normall'\nhint|did you mean 'he_normal'?\n");
  expect_error(" param W[2, 2] = normal(0)\n", 0, "normal takes two numbers, e.g. normal(0, 1)");
  expect_error(" c = [[1, 2], [3]]\n", 0,
               "ragged array: this row has 1 element, the first has 2");
  expect_error(" c = [[1, 2], 3]\n", 0, "ragged array: expected a row of 2 elements here");
  expect_error(" c = [1, X]\n", 0, "the elements of an array literal must be numbers");
  expect_error(" h = leaky_relu(X, alpha = X)\n", 0,
               "the alpha of leaky_relu must be a constant number");
  expect_error(" h = dense(X, 3, leaky_relu(0.2))\n", 0,
               "write the parameter of leaky_relu by name, e.g. leaky_relu(alpha = 0.01)");
  expect_error(" h = max(X, X, axis = 1)\n", 0, "max of two values is elementwise and takes no axis");
  expect_error(" h = mean(X, axis = 1, axis = 0)\n", 0, "argument 'axis' of mean is given twice");
  expect_error(" h = softmx(X)\n", 0, "unknown function 'softmx'\nhint|did you mean 'softmax'?\n");
  expect_error(" loss = cross_entropy(sum(X, axis = 1), sum(Y, axis = 1))\n", 0,
               "cross_entropy needs rows of class scores, [N, K], but this has shape [N]");
  expect_error(" h = huber(X, X, delta = 0)\n", 0, "the delta of huber must be positive");
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(every_activation_matches_finite_differences),
    cmocka_unit_test(every_loss_matches_finite_differences),
    cmocka_unit_test(class_target_from_source),
    cmocka_unit_test(every_regulariser_matches_finite_differences),
    cmocka_unit_test(other_sugar_matches_finite_differences),
    cmocka_unit_test(activation_values),
    cmocka_unit_test(loss_values),
    cmocka_unit_test(losses_average_over_the_batch),
    cmocka_unit_test(initialiser_formulas),
    cmocka_unit_test(every_initialiser_is_accepted),
    cmocka_unit_test(dropout_makes_a_noise_leaf),
    cmocka_unit_test(dense_options),
    cmocka_unit_test(reduction_and_transpose_shapes),
    cmocka_unit_test(reduction_values),
    cmocka_unit_test(array_literals_are_constant_tensors),
    cmocka_unit_test(metric_rule),
    cmocka_unit_test(diagnostics),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

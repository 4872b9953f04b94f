/* explain_print on models compiled from source: golden files under tests/golden/explain
 * (NNC_UPDATE_GOLDEN=1 rewrites them) — the small .nn files there and every trainable example
 * of examples/, read where it lives so that the goldens track the real examples — plus facts
 * that must hold whatever the layout. */
#include "test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "driver.h"
#include "explain.h"

#define GOLDEN_DIR NNC_SOURCE_DIR "/tests/golden/explain/"
#define EXAMPLES_DIR NNC_SOURCE_DIR "/examples/"


/* Compiles source text through grad and SGD and returns what --explain prints (malloc'ed). */
static char *explain_text(const char *name, const char *source) {
  Compilation c;
  compilation_init(&c, name, source, strlen(source), stderr);
  assert_true(compilation_front(&c));
  char *out = NULL;
  size_t len = 0;
  FILE *m = open_memstream(&out, &len);
  explain_print(m, &c.graph, &c.model->train.opt);
  fclose(m);
  compilation_free(&c);
  return out;
}

/* Explains dir/stem.nn and compares it with the golden `golden`.explain. */
static char *explain_file(const char *dir, const char *stem, const char *golden) {
  char path[512];
  snprintf(path, sizeof path, "%s%s.nn", dir, stem);
  char *source = test_read_file(path, NULL);
  assert_non_null(source);
  char *got = explain_text(path, source);
  free(source);
  snprintf(path, sizeof path, GOLDEN_DIR "%s.explain", golden);
  assert_true(test_golden_matches(path, got));
  return got;
}

static char *explain_golden(const char *stem) { return explain_file(GOLDEN_DIR, stem, stem); }

/* examples/NAME.nn against tests/golden/explain/example_NAME.explain. */
static char *explain_example(const char *stem) {
  char golden[128];
  snprintf(golden, sizeof golden, "example_%s", stem);
  return explain_file(EXAMPLES_DIR, stem, golden);
}

static void assert_contains(const char *text, const char *needle) {
  if (!text)
    fail_msg("no explanation (looking for \"%s\")", needle);
  else if (!strstr(text, needle))
    fail_msg("expected the explanation to contain \"%s\"; got:\n%s", needle, text);
}

static void assert_lacks(const char *text, const char *needle) {
  if (!text)
    fail_msg("no explanation (checking for \"%s\")", needle);
  else if (strstr(text, needle))
    fail_msg("expected the explanation not to contain \"%s\"; got:\n%s", needle, text);
}

static void test_xor(void **state) {
  (void)state;
  char *t = explain_golden("xor");
  assert_contains(t, "A1 = σ(X W1 + b1)");
  assert_contains(t, "L = (1/N) Σ (A2 − Y)²");
  assert_contains(t, "δ[2] = ∂L/∂A2 ⊙ A2 ⊙ (1 − A2)");
  assert_contains(t, "∂L/∂W2 = A1ᵀ δ[2]");
  assert_contains(t, "∂L/∂b2 = Σₙ δ[2]");
  assert_contains(t, "∂L/∂A1 = δ[2] W2ᵀ");
  assert_contains(t, "δ[1] = ∂L/∂A1 ⊙ A1 ⊙ (1 − A1)");
  assert_contains(t, "∂L/∂W1 = Xᵀ δ[1]");
  assert_contains(t, "∂L/∂b1 = Σₙ δ[1]");
  assert_contains(t, "W1 ← W1 − η ∂L/∂W1");
  assert_contains(t, "reusing the forward value A2");
  free(t);
}

/* The same network through the dense sugar: names come from the graph, not from the example. */
static void test_dense(void **state) {
  (void)state;
  char *t = explain_golden("dense");
  assert_contains(t, "h = σ(X h.W + h.b)");
  assert_contains(t, "δ[2] = ∂L/∂y ⊙ y ⊙ (1 − y)");
  assert_contains(t, "∂L/∂h.W = Xᵀ δ[1]");
  assert_contains(t, "h.W ← h.W − η ∂L/∂h.W");
  free(t);
}

static void test_relu_tanh(void **state) {
  (void)state;
  char *t = explain_golden("relu_tanh");
  assert_contains(t, "z[1] = X h1.W + h1.b");
  assert_contains(t, "δ[1] = ∂L/∂h1 ⊙ [z[1] > 0]");
  assert_contains(t, "δ[2] = ∂L/∂h2 ⊙ (1 − h2²)");
  assert_contains(t, "δ[3] = ∂L/∂y = ");
  assert_contains(t, "∂L/∂y.W = h2ᵀ ∂L/∂y");
  assert_contains(t, "tanh′(z) = 1 − tanh²(z), reusing the forward value h2");
  free(t);
}

/* Parentheses follow precedence: a sum on the left of an operator is closed, a scalar factor
 * goes in front, and a transposed compound gets parentheses. */
static void test_notation(void **state) {
  (void)state;
  char *t = explain_text("notation.nn",
                         "model m {\n  input x[2]\n  target t\n  param w[2] = [1, 2]\n"
                         "  param b = 0\n  a = exp(w · x + b)\n  loss = mean((a - t)^2)\n"
                         "  output a\n}\n"
                         "train m {\n  data = table { 0 1 -> 1 }\n  optimizer = sgd(lr = 0.1)\n"
                         "  epochs = 1\n  batch = 1\n}\n");
  assert_contains(t, "a = exp((Σ₁ (w ⊙ x)) + b)");
  assert_contains(t, "δ[1] = ∂L/∂a ⊙ a");
  assert_contains(t, "exp′(z) = exp(z), reusing the forward value a");
  assert_contains(t, "∂L/∂w = Σₙ (δ[1] ⊙ x)");
  assert_contains(t, "b ← b − η ∂L/∂b");
  free(t);
}

/* Temporaries are t₁, t₂, … unless t already means something: a value the user named t, or
 * the optimizer's step t (Adam); then they are τ₁, τ₂, …. */
static char *classifier_named(const char *logits, const char *optimizer) {
  char src[512];
  snprintf(src, sizeof src,
           "model m {\n  input x[2]\n  target y : class(3)\n  %s = dense(x, 3)\n"
           "  loss = cross_entropy(softmax(%s), y)\n  output softmax(%s)\n}\n"
           "train m {\n  data = table { 0 1 -> 1; 1 0 -> 2 }\n  optimizer = %s\n"
           "  epochs = 1\n  batch = 2\n}\n",
           logits, logits, logits, optimizer);
  return explain_text("temps.nn", src);
}

static void test_temporaries_do_not_clash(void **state) {
  (void)state;
  char *t = classifier_named("z", "sgd(lr = 0.1)");
  assert_contains(t, "  t₁ = ");
  assert_lacks(t, "τ₁");
  free(t);
  t = classifier_named("t", "sgd(lr = 0.1)");
  assert_contains(t, "  τ₁ = ");
  assert_lacks(t, "t₁");
  free(t);
  t = classifier_named("z", "adam(lr = 0.1)");
  assert_contains(t, "  τ₁ = ");
  assert_contains(t, "step t = 1, 2, …");
  assert_lacks(t, "t₁");
  free(t);
}

/* --- the examples, as learners run them --- */

static void test_example_xor(void **state) {
  (void)state;
  char *t = explain_example("xor");
  assert_contains(t, "δ[2] = ∂L/∂A2 ⊙ A2 ⊙ (1 − A2)");
  assert_contains(t, "update (SGD, learning rate η)");
  assert_contains(t, "W2 ← W2 − η ∂L/∂W2");
  free(t);
}

static void test_example_xor_dense(void **state) {
  (void)state;
  char *t = explain_example("xor_dense");
  assert_contains(t, "δ[1] = ∂L/∂h ⊙ h ⊙ (1 − h)");
  assert_contains(t, "∂L/∂y.W = hᵀ δ[2]");
  free(t);
}

/* softmax and cross-entropy lowered to nll(log_softmax(z), y), trained with Adam. */
static void test_example_fashion_mnist(void **state) {
  (void)state;
  char *t = explain_example("fashion_mnist");
  assert_contains(t, "log ŷ = logits − (max₁ logits) − log(Σ₁ exp(logits − (max₁ logits)))");
  assert_contains(t, "L = −(1/N) Σ Σ₁ (y ⊙ log ŷ)");
  assert_contains(t, "δ[3] = ∂L/∂logits = ");
  assert_contains(t, "softmax with cross-entropy: δ = (ŷ − y)/N for one-hot y");
  assert_contains(t, "the δ[3] derived above is (ŷ ⊙ Σ₁ y − y)/N with ŷ = softmax(logits)");
  assert_contains(t, "δ[1] = ∂L/∂h1 ⊙ [z[1] > 0]");
  assert_contains(t, "update (Adam, β1 = 0.9, β2 = 0.999, ε = 1e-07, learning rate η, step t");
  assert_contains(t, "m[h1.W] ← 0.9 m[h1.W] + 0.1 ∂L/∂h1.W");
  assert_contains(t, "v[h1.W] ← 0.999 v[h1.W] + 0.001 (∂L/∂h1.W)²");
  assert_contains(t, "m̂[h1.W] = m[h1.W] / (1 − 0.9ᵗ)");
  assert_contains(t, "v̂[h1.W] = v[h1.W] / (1 − 0.999ᵗ)");
  assert_contains(t, "h1.W ← h1.W − η (m̂[h1.W] / (√v̂[h1.W] + 1e-07))");
  assert_lacks(t, "exp(−0.1"); /* the bias correction is written βᵗ, not as computed */
  free(t);
}

/* binary_cross_entropy(sigmoid(z), y) lowered to the with-logits form. */
static void test_example_fashion_bag(void **state) {
  (void)state;
  char *t = explain_example("fashion_bag");
  assert_contains(t, "p = σ(z[2])");
  assert_contains(t, "L = (1/N) Σ (max(z[2], 0) − z[2] ⊙ is_bag + log(1 + exp(−|z[2]|)))");
  assert_contains(t, "sigmoid with binary cross-entropy: δ = (p − is_bag)/N");
  assert_contains(t, "is (σ(z[2]) − is_bag)/(N k), k = 1 output per row: δ[2] = (p − is_bag)/N");
  assert_contains(t, "δ[2] = (1/N) τ₁ − (1/N) is_bag − "); /* a + −b is written a − b */
  free(t);
}

static void test_example_flats(void **state) {
  (void)state;
  char *t = explain_example("flats");
  assert_contains(t, "L = (1/N) Σ (y − price / 100)²");
  assert_contains(t, "δ[3] = ∂L/∂y = (2/N) (y − price / 100)");
  assert_contains(t, "δ[2] = ∂L/∂h2 ⊙ (1 − h2²)");
  assert_contains(t, "m̂[y.b] = m[y.b] / (1 − 0.9ᵗ)");
  assert_lacks(t, "softmax with cross-entropy");
  assert_lacks(t, "sigmoid with binary cross-entropy");
  free(t);
}

/* --- images --- */

/* conv → pool → flatten → dense: the convolution and its two gradients as textbooks write them,
 * read off the unfold, products and fold the compiler derived. */
static void test_cnn(void **state) {
  (void)state;
  char *t = explain_golden("cnn");
  assert_contains(t, "z[1] = c.W ∗ x + c.b");
  assert_contains(t, "3×3 kernel, stride 1, padding 1: patches(x) c.Wᵀ");
  assert_contains(t, "p = maxpool(c)                              2×2 windows, stride 2");
  assert_contains(t, "logits = flatten(p) logits.W + logits.b");
  assert_contains(t, "∂L/∂p = reshape(∂L/∂logits logits.Wᵀ, [4, 4, 4])  flatten: δ reshaped back");
  assert_contains(t, "∂L/∂c = route(∂L/∂p → argmax c)             max-pool: each window's δ goes");
  /* ReLU′ under the pool is taken on the pooled values (simplify.c's mask_before_routing) */
  assert_contains(t, "δ[1] = route(∂L/∂p ⊙ [p > 0] → argmax c)");
  assert_contains(t, "max-pool after max(z, 0): max′ = [z > 0] taken on each window's maximum");
  assert_contains(t, "∂L/∂c.b = Σₙᵢⱼ δ[1]");
  assert_contains(t, "∂L/∂c.W = x ⋆ δ[1]                          the correlation, as δ[1]ᵀ patches(x)");
  assert_lacks(t, "permute");
  free(t);
}

/* A residual block with batch norm: the skip's δ is summed with the full correlation through the
 * block, batch norm's δ is its three terms, and global average pooling spreads δ back. */
static void test_residual(void **state) {
  (void)state;
  char *t = explain_golden("residual");
  assert_contains(t, "∂L/∂s = ∂L/∂n2 + ∂L/∂c1 ∗_full rot180(c1.W)");
  assert_contains(t, "μ[n1] = (1/(16 N)) Σₙᵢⱼ c1");
  assert_contains(t, "x̂[n1] = (c1 − μ[n1]) / √(σ²[n1] + 1e-05)");
  assert_contains(t, "n1 = n1.gamma ⊙ x̂[n1] + n1.beta");
  assert_contains(t, "∂L/∂n1.gamma = Σₙᵢⱼ (∂L/∂n1 ⊙ x̂[n1])");
  assert_contains(t, "δ[2] = ∂L/∂c1 = t");
  assert_contains(t, "+ (1/(16 N)) ∂L/∂μ[n1]");
  assert_contains(t, "g = (1/4) Σᵢⱼ d");
  assert_contains(t, "∂L/∂d = (1/4) ∂L/∂g");
  assert_contains(t, "the transposed convolution (δ dilated by the stride)");
  assert_lacks(t, "training");
  free(t);
}

static void test_example_fashion_cnn(void **state) {
  (void)state;
  char *t = explain_example("fashion_cnn");
  assert_contains(t, "∂L/∂p1 = δ[2] ∗_full rot180(c2.W)");
  assert_contains(t, "∂L/∂c2.W = p1 ⋆ δ[2]");
  free(t);
}

static void test_example_fashion_resnet(void **state) {
  (void)state;
  char *t = explain_example("fashion_resnet");
  assert_contains(t, "∂L/∂x̂[n0] = ∂L/∂n0 ⊙ n0.gamma");
  assert_contains(t, "∂L/∂c0.W = x ⋆ ∂L/∂c0");
  free(t);
}

/* --- labels and optimizers --- */

static char *explain_model(const char *layer, const char *optimizer) {
  char src[1024];
  snprintf(src, sizeof src,
           "model m {\n  input x[2]\n  target y[1]\n  h = %s\n  d = dropout(h, 0.5)\n"
           "  o = dense(d, 1)\n  loss = mse(o, y)\n  output o\n}\n"
           "train m {\n  data = table { 0 1 -> 1 }\n  optimizer = %s\n  epochs = 1\n"
           "  batch = 1\n}\n", layer, optimizer);
  return explain_text("model.nn", src);
}

/* leaky_relu is max(z, αz): only z is z[1]; αz is written inline (it once was z[1] too). */
static void test_leaky_relu_labels(void **state) {
  (void)state;
  char *t = explain_model("dense(x, 3, leaky_relu(alpha = 0.1))", "sgd(lr = 0.1)");
  assert_contains(t, "z[1] = x h.W + h.b");
  assert_contains(t, "h = max(z[1], 0.1 z[1])");
  assert_contains(t, "[z[1] > 0.1 z[1]]");
  assert_lacks(t, "z[1] = 0.1");
  assert_lacks(t, "max(z[1], z[1])");
  assert_contains(t, "d = h ⊙ mask");
  assert_contains(t, "∂L/∂h = ∂L/∂d ⊙ mask");
  assert_contains(t, "dropout: δ ⊙ mask");
  free(t);
}

static void test_sgd_momentum(void **state) {
  (void)state;
  char *t = explain_model("dense(x, 3, tanh)",
                          "sgd(lr = 0.1, momentum = 0.9, nesterov = true, weight_decay = 0.001)");
  assert_contains(t, "update (SGD, Nesterov momentum μ = 0.9, weight decay λ = 0.001, learning");
  assert_contains(t, "v[h.W] ← 0.9 v[h.W] + ∂L/∂h.W + 0.001 h.W");
  assert_contains(t, "h.W ← h.W − η (∂L/∂h.W + 0.001 h.W + 0.9 v[h.W])");
  free(t);
}

static void test_rmsprop(void **state) {
  (void)state;
  char *t = explain_model("dense(x, 3, relu)", "rmsprop(lr = 0.01)");
  assert_contains(t, "s[h.W] ← ");
  assert_contains(t, "h.W ← h.W − η (∂L/∂h.W / (√s[h.W] + ");
  free(t);
}

static void test_adamw(void **state) {
  (void)state;
  char *t = explain_model("dense(x, 3, sigmoid)", "adamw(lr = 0.01, weight_decay = 0.01)");
  assert_contains(t, "decoupled weight decay λ = 0.01");
  assert_contains(t, "h.W ← h.W − η (m̂[h.W] / (√v̂[h.W] + 1e-07) + 0.01 h.W)");
  free(t);
}

/* What explain prints of the compiled c. */
static char *explain_compiled(Compilation *c) {
  char *out = NULL;
  size_t len = 0;
  FILE *m = open_memstream(&out, &len);
  explain_print(m, &c->graph, &c->model->train.opt);
  fclose(m);
  return out;
}

/* Explain reads the builders' provenance tags, not names: renaming the step t, the optimizer's
 * state tensors and the adjoints ∂L/∂… changes none of the structure it finds. */
static void test_tags_not_names(void **state) {
  (void)state;
  static const char src[] = "model m {\n  input x[2]\n  target y[1]\n  param w[2, 1]\n"
                            "  a = exp(x @ w)\n  loss = mean((a - y)^2)\n  output a\n}\n"
                            "train m {\n  data = table { 0 1 -> 1 }\n  optimizer = adam\n}\n";
  Compilation c;
  compilation_init(&c, "tags.nn", src, strlen(src), stderr);
  assert_true(compilation_front(&c));
  char *before = explain_compiled(&c);
  Graph *g = &c.graph;
  g->step->name = "step";
  for (uint32_t i = 0; i < g->n; i++) {
    Node *n = g->node[i];
    if (n->flags & NODE_STATE)
      n->name = arena_printf(g->arena, "state%u", i);
    else if (n->name && !strncmp(n->name, "∂L/∂", strlen("∂L/∂")))
      n->name = arena_printf(g->arena, "dL/d%s", n->name + strlen("∂L/∂"));
  }
  char *after = explain_compiled(&c);
  assert_contains(before, "0.9ᵗ");
  assert_contains(before, "m̂[w] = m[w] / (1 − 0.9ᵗ)");
  assert_contains(after, "m̂[w] = m[w] / (1 − 0.9ᵗ)");
  assert_contains(after, "v[w] ← 0.999 v[w]");
  assert_contains(after, "exp′(z) = exp(z), reusing the forward value a");
  assert_contains(after, "dL/da ⊙ a");
  free(before), free(after);
  compilation_free(&c);
}

/* The derivative rules tag the factors they build from forward values (σ′, tanh′, relu′); a
 * node of the same shape that no such rule built — the [w > 0] of l1's |w|′ — is no relu′. */
static void test_derivative_notes_from_tags(void **state) {
  (void)state;
  char *t = explain_text("l1.nn", "model m {\n  input x[2]\n  target y[1]\n  param w[2, 1]\n"
                                  "  o = x @ w\n  loss = mean((o - y)^2) + 0.01 * l1(w)\n"
                                  "  output o\n}\n"
                                  "train m {\n  data = table { 0 1 -> 1 }\n}\n");
  assert_contains(t, "∂L/∂w = 0.01 ([w > 0] − [0 > w]) + xᵀ ∂L/∂o\n");
  assert_lacks(t, "max′");
  free(t);
  t = explain_model("dense(x, 3, relu)", "sgd(lr = 0.1)");
  assert_contains(t, "max′(z, 0) = [z > 0], reusing the forward value z[1]");
  free(t);
}

/* Products of several constants are written with one folded constant (the graph keeps them):
 * 2 (0.001 W) is 0.002 W, 0.5 (1/N) Σ … is (1/(2 N)) Σ …, 2 (0.5/N ⊙ …) is (1/N) …. */
static void test_constants_folded(void **state) {
  (void)state;
  char *t = explain_text("fold.nn", "model m {\n  input x[2]\n  target y[1]\n  param w[2, 1]\n"
                                    "  o = x @ w\n  loss = 0.5 * mean(0.5 * (o - y)^2) + "
                                    "0.001 * l2(w)\n  output o\n}\n"
                                    "train m {\n  data = table { 0 1 -> 1 }\n}\n");
  assert_contains(t, "L = (1/(2 N)) (Σ (0.5 (o − y)²)) + 0.001 Σ w²\n");
  assert_contains(t, "∂L/∂o = (1/(2 N)) (o − y)\n");
  assert_contains(t, "∂L/∂w = 0.002 w + xᵀ ∂L/∂o\n");
  assert_lacks(t, "0.5 0.5");
  assert_lacks(t, "2 0.001");
  free(t);
  t = explain_golden("cnn");
  assert_contains(t, "L = −(1/N) Σ Σ₁ (y ⊙ log ŷ)\n");
  assert_contains(t, " = −(1/N) y\n");
  free(t);
}

/* min(a, b) is built as −max(−a, −b) and its mask as [−a > −b]: both are written as min and
 * <, and a − (−b) as a + b. */
static void test_min_written_as_min(void **state) {
  (void)state;
  char *t = explain_text("min.nn", "model m {\n  input x[2]\n  target y[1]\n  param w[2, 1]\n"
                                   "  o = min(x @ w, 1)\n  e = elu(o)\n"
                                   "  loss = huber(e, y)\n  output e\n}\n"
                                   "train m {\n  data = table { 0 1 -> 1 }\n}\n");
  assert_contains(t, "o = min(x w, 1)\n");
  assert_contains(t, "e = max(o, 0) + exp(min(o, 0)) − 1\n");
  assert_contains(t, "|e − y| − min(|e − y|, 1)");
  assert_contains(t, "[|e − y| < 1]");
  assert_contains(t, "(−∂L/∂e ⊙ exp(min(o, 0)) ⊙ [o < 0] − ∂L/∂o) ⊙ [x w < 1]");
  assert_lacks(t, "−max");
  assert_lacks(t, "− −");
  assert_lacks(t, "−(−∂L/∂");
  free(t);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_xor),
    cmocka_unit_test(test_dense),
    cmocka_unit_test(test_relu_tanh),
    cmocka_unit_test(test_notation),
    cmocka_unit_test(test_example_xor),
    cmocka_unit_test(test_example_xor_dense),
    cmocka_unit_test(test_example_fashion_mnist),
    cmocka_unit_test(test_example_fashion_bag),
    cmocka_unit_test(test_example_flats),
    cmocka_unit_test(test_cnn),
    cmocka_unit_test(test_residual),
    cmocka_unit_test(test_example_fashion_cnn),
    cmocka_unit_test(test_example_fashion_resnet),
    cmocka_unit_test(test_leaky_relu_labels),
    cmocka_unit_test(test_sgd_momentum),
    cmocka_unit_test(test_rmsprop),
    cmocka_unit_test(test_adamw),
    cmocka_unit_test(test_tags_not_names),
    cmocka_unit_test(test_temporaries_do_not_clash),
    cmocka_unit_test(test_derivative_notes_from_tags),
    cmocka_unit_test(test_constants_folded),
    cmocka_unit_test(test_min_written_as_min),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

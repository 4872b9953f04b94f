/* explain_print on models compiled from source: golden files under tests/golden/explain
 * (NNC_UPDATE_GOLDEN=1 rewrites them), plus facts that must hold whatever the layout. */
#include "test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "driver.h"
#include "explain.h"

#define GOLDEN_DIR NNC_SOURCE_DIR "/tests/golden/explain/"


/* Compiles source text through grad and SGD and returns what --explain prints (malloc'ed). */
static char *explain_text(const char *name, const char *source) {
  Compilation c;
  compilation_init(&c, name, source, strlen(source), stderr);
  assert_true(compilation_front(&c));
  char *out = NULL;
  size_t len = 0;
  FILE *m = open_memstream(&out, &len);
  explain_print(m, &c.graph);
  fclose(m);
  compilation_free(&c);
  return out;
}

static char *explain_golden(const char *stem) {
  char path[512];
  snprintf(path, sizeof path, GOLDEN_DIR "%s.nn", stem);
  char *source = test_read_file(path, NULL);
  assert_non_null(source);
  char *got = explain_text(path, source);
  free(source);
  snprintf(path, sizeof path, GOLDEN_DIR "%s.explain", stem);
  assert_true(test_golden_matches(path, got));
  return got;
}

static void assert_contains(const char *text, const char *needle) {
  if (!strstr(text, needle))
    fail_msg("expected the explanation to contain \"%s\"; got:\n%s", needle, text);
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

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_xor),
    cmocka_unit_test(test_dense),
    cmocka_unit_test(test_relu_tanh),
    cmocka_unit_test(test_notation),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

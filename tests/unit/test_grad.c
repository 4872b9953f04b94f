/* Derived gradients against central finite differences, evaluated by the reference
 * interpreter in double. Every differentiable op of the op table is checked, so an op added
 * without a correct rule fails here. */
#include "test.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "driver.h"
#include "grad.h"
#include "interp.h"
#include "gradcheck.h"
#include "graph_fixture.h"

static uint64_t rng_state = 0x9e3779b97f4a7c15u;
static double uniform(double lo, double hi) { return test_uniform(&rng_state, lo, hi); }

/* Fills every INPUT and PARAM leaf with values in [lo, hi]. */
static void fill_leaves(Interp *it, const Graph *g, double lo, double hi) {
  for (uint32_t i = 0; i < g->n; i++) {
    const Node *n = g->node[i];
    if (n->op != OP_INPUT && n->op != OP_PARAM)
      continue;
    int64_t size = shape_numel(&n->shape, it->batch);
    for (int64_t k = 0; k < size; k++)
      interp_value(it, n)[k] = uniform(lo, hi);
  }
}

/* loss = Σ (y ⊙ R) with a random R, so every element of y matters differently. */
static void make_loss(Graph *g, Node *y) {
  Node *r = g_leaf(g, OP_INPUT, "R", y->shape, NODE_INPUT);
  g->loss = g_sum(g, g_mul(g, y, r), (1u << y->shape.rank) - 1);
}

static const Shape S34 = {2, {3, 4}}, S4 = {1, {4}}, S31 = {2, {3, 1}};

/* Windows of every kind: 3×3 same, 2×2 stride 2, and 3×2 with stride, uneven padding and (for
 * the ops that take it) dilation. */
static Window window_variant(Op op, int variant) {
  static const Window w[3] = {
    {3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 0}, {2, 2, 2, 2, 0, 0, 0, 0, 1, 1, 0}, {3, 2, 2, 3, 1, 0, 2, 1, 2, 1, 0}};
  Window v = w[variant];
  if (op != OP_UNFOLD && op != OP_FOLD)
    v.dh = 1, v.pb = 1;
  return v;
}

/* A window op on images [2, 3, 7, 6]; the adjoint ops get a source of their forward's output. */
static Node *build_window_op(Graph *g, Op op, int variant) {
  Shape image = {4, {2, 3, 7, 6}};
  OpArg arg = {0};
  Window w = window_variant(op, variant);
  window_params(&w, arg.p);
  Op forward = op == OP_FOLD ? OP_UNFOLD : op == OP_AVGPOOL_BACK ? OP_AVGPOOL : op;
  if (forward == op)
    return g_op(g, op, (Node *[]){g_param(g, "x", image)}, arg, NULL);
  Node *x = g_leaf(g, OP_INPUT, "x", image, NODE_INPUT);
  Node *y = g_op(g, forward, &x, arg, NULL); /* only for its shape */
  return g_op(g, op, (Node *[]){g_param(g, "dy", y->shape)}, arg, &image);
}

/* The graph y = op(a, b) for one op of the table, with operands of the shapes it needs. */
static Node *build_op(Graph *g, Op op, int variant) {
  if (op == OP_EXPAND)
    return variant == 0 ? g_expand(g, g_param(g, "v", S4), 1, S34)
                        : g_expand(g, g_param(g, "c", S31), 2 | AXES_KEEP, S34);
  if (op == OP_PERMUTE) {
    int32_t rank3[3] = {2, 0, 1};
    return variant == 2 ? g_permute(g, g_param(g, "t", (Shape){3, {2, 3, 4}}), rank3)
                        : g_transpose(g, g_param(g, "t", S34));
  }
  if (op == OP_RESHAPE) {
    static const Shape to[3] = {{2, {2, 6}}, {1, {12}}, {3, {2, 3, 2}}};
    return g_reshape(g, g_param(g, "a", S34), to[variant]);
  }
  if (op_info[op].kind == KIND_WINDOW)
    return build_window_op(g, op, variant);
  if (op == OP_MATMUL && variant >= 4) { /* A with more axes: its leading axes are rows */
    Node *a = g_param(g, "A", (Shape){3, {2, 3, 4}});
    return variant == 4 ? g_matmul(g, a, g_param(g, "B", (Shape){2, {5, 4}}), false, true)
                        : g_matmul(g, a, g_param(g, "B", (Shape){3, {2, 3, 5}}), true, false);
  }
  Node *a = op_info[op].kind == KIND_MATMUL ? NULL : g_param(g, "a", variant == 2 ? S31 : S34);
  switch (op_info[op].kind) {
  case KIND_ELEM:
    if (op_info[op].arity == 1)
      return g_op(g, op, &a, (OpArg){.k = variant ? 3 : 2}, NULL);
    /* variant 0: same shapes; 1: b broadcast along rows; 2: a broadcast along columns */
    return g_op(g, op, (Node *[]){a, g_param(g, "b", variant == 1 ? S4 : S34)}, (OpArg){0}, NULL);
  case KIND_REDUCE:
    return g_op(g, op, &a, (OpArg){.p = {variant == 0 ? 1 : variant == 1 ? 2 | AXES_KEEP : 3}}, NULL);
  case KIND_MATMUL: {
    Shape sb = {2, {variant & 2 ? 5 : 4, variant & 2 ? 4 : 5}};
    Shape sa = {2, {variant & 1 ? 4 : 3, variant & 1 ? 3 : 4}};
    return g_matmul(g, g_param(g, "A", sa), g_param(g, "B", sb), variant & 1, variant & 2);
  }
  case KIND_LEAF:
  case KIND_WINDOW: break;
  }
  return NULL;
}

static int variants(Op op) { return op_info[op].kind == KIND_MATMUL ? 6 : 3; }

static void every_differentiable_op_matches_finite_differences(void **state) {
  (void)state;
  int checked = 0;
  for (int op = 0; op < OP_COUNT; op++) {
    if (!op_info[op].differentiable)
      continue;
    for (int v = 0; v < variants((Op)op); v++) {
      Fixture f;
      fixture_init(&f);
      Node *y = build_op(&f.g, (Op)op, v);
      assert_non_null(y);
      make_loss(&f.g, y);
      assert_true(grad_build(&f.g));
      assert_true(graph_verify(&f.g, stderr));
      Interp it;
      interp_init(&it, &f.arena, &f.g, 1);
      /* Positive operands keep log, division and fractional powers in their domains. */
      fill_leaves(&it, &f.g, 0.5, 1.5);
      double err = worst_grad_error(&f.g, &it);
      if (err > 1e-6)
        fprintf(stderr, "op %s variant %d: relative error %g\n", op_info[op].name, v, err);
      assert_true(err <= 1e-6);
      checked++;
      fixture_free(&f);
    }
  }
  assert_true(checked >= 3 * 14);
}

static void check_source_file(const char *rel, double lo, double hi) {
  size_t len;
  char *text = test_read_source(rel, &len);
  Compilation c;
  compilation_init(&c, rel, text, len, stderr);
  assert_true(compilation_front(&c));
  Interp it;
  interp_init(&it, &c.arena, &c.graph, 4);
  fill_leaves(&it, &c.graph, lo, hi);
  double err = worst_grad_error(&c.graph, &it);
  fprintf(stderr, "%s: worst relative error %g\n", rel, err);
  assert_true(err < 1e-6);
  compilation_free(&c);
  free(text);
}

static void xor_gradients_match_finite_differences(void **state) {
  (void)state;
  for (int round = 0; round < 5; round++)
    check_source_file("examples/xor.nn", -2, 2);
}

/* Sugar (dense, relu, tanh, mean, dot) differentiates through the primitives it expands to. */
static void sugar_gradients_match_finite_differences(void **state) {
  (void)state;
  static const char src[] =
    "model m {\n input X[3]\n target Y[2]\n param w[3] = normal(0, 1)\n"
    " h = dense(X, 4, tanh)\n r = dense(h, 3, relu)\n s = dense(r, 2, sigmoid)\n"
    " e = exp(dot(X, w))\n"
    " loss = mean((s - Y)^2) + mean(e) / 10 + sum(log(s)) / 100\n output s\n}\n"
    "train m { data = table { 1 2 3 -> 0 1 } }\n";
  Compilation c;
  compilation_init(&c, "sugar.nn", src, sizeof src - 1, stderr);
  assert_true(compilation_front(&c));
  Interp it;
  interp_init(&it, &c.arena, &c.graph, 5);
  fill_leaves(&it, &c.graph, -1, 1);
  double err = worst_grad_error(&c.graph, &it);
  fprintf(stderr, "sugar: worst relative error %g\n", err);
  assert_true(err < 1e-5);
  compilation_free(&c);
}

/* A comparison has no derivative: on a path to the loss it is a diagnostic, not a crash. */
static void non_differentiable_op_on_path_is_an_error(void **state) {
  (void)state;
  Fixture f;
  fixture_init(&f);
  f.g.loc = (Loc){0, 1, 3, 7};
  Node *p = g_param(&f.g, "p", S4);
  make_loss(&f.g, g_cmpgt(&f.g, p, g_const(&f.g, 0)));
  assert_false(grad_build(&f.g));
  fflush(f.diag_out);
  assert_non_null(strstr(f.diag_text, "error|nnc|3|7|'cmpgt' is not differentiable"));
  fixture_free(&f);
}

/* σ′ reuses the forward σ node instead of recomputing the exponential. */
static void sigmoid_derivative_reuses_forward_value(void **state) {
  (void)state;
  Fixture f;
  fixture_init(&f);
  Node *s = g_sigmoid(&f.g, g_param(&f.g, "a", S4));
  make_loss(&f.g, s);
  uint32_t before = f.g.n;
  assert_true(grad_build(&f.g));
  for (uint32_t i = before; i < f.g.n; i++)
    assert_int_not_equal(f.g.node[i]->op, OP_EXP);
  bool reads_sigma = false;
  for (uint32_t i = before; i < f.g.n; i++)
    for (int k = 0; k < f.g.node[i]->nsrc; k++)
      reads_sigma |= f.g.node[i]->src[k] == s;
  assert_true(reads_sigma);
  fixture_free(&f);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(every_differentiable_op_matches_finite_differences),
    cmocka_unit_test(xor_gradients_match_finite_differences),
    cmocka_unit_test(sugar_gradients_match_finite_differences),
    cmocka_unit_test(non_differentiable_op_on_path_is_an_error),
    cmocka_unit_test(sigmoid_derivative_reuses_forward_value),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

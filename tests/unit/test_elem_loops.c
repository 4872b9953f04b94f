/* The loop nests of elementwise kernels over images (codegen.c): a kernel that reads every
 * array at the element it writes runs its axes after the first as one loop, so LLVM vectorises
 * it along the pixels instead of unrolling a short last axis and gathering along the one above
 * it; kernels that broadcast keep one loop per axis, those that read through a permutation stay
 * scalar (no gathers either), and a lone permutation that transposes each image is tiles
 * transposed by shuffles (codegen_transpose.c), for every vector width. Each compiles to what
 * the interpreter computes, on odd sizes with the batch axis in front. */
#include "test.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "graph_fixture.h"
#include "interp.h"
#include "jit_fixture.h"
#include "plan.h"

enum { ROWS = 1 };
static int vector_floats; /* of the kernels check() compiles; 0: the host's */

static void fill(Interp *it, float *ws, const MemPlan *plan, const Node *n, int64_t rows,
                 int seed) {
  int64_t count = shape_numel(&n->shape, rows);
  double *v = interp_value(it, n);
  for (int64_t i = 0; i < count; i++) {
    float x = (float)sin(0.37 * (double)(i + 1) * (seed + 1)); /* signs of both kinds */
    v[i] = x;
    ws[plan->offset[n->id] + i] = x;
  }
}

/* g->output built by build over images [N, 5, 7, 13]: compiled equals interpreted; with
 * `ir`, the optimised IR is returned (the caller frees it with LLVMDisposeMessage). */
static void check(Node *(*build)(Graph *), char **ir) {
  Fixture f;
  fixture_init(&f);
  Graph *g = &f.g;
  g->output = build(g);
  TrainSettings none = {0}; /* predict only: a batch of one row */
  Program p;
  program_plan(&p, g, "loops", 0, &none, "loops.nn");
  p.vector_floats = vector_floats;
  Interp it;
  interp_init(&it, &f.arena, g, ROWS);
  float *ws = calloc((size_t)p.plan.total + 16, sizeof(float));
  for (uint32_t i = 0; i < g->n; i++) {
    Node *n = g->node[i];
    if (n->op == OP_INPUT || n->op == OP_PARAM)
      fill(&it, ws, &p.plan, n, ROWS, (int)i);
  }
  interp_run(&it);
  EntryFn *predict;
  Jit *j = jit_predict(&p, &predict);
  predict(ws, ROWS);
  const double *want = interp_value(&it, g->output);
  for (int64_t i = 0; i < shape_numel(&g->output->shape, ROWS); i++)
    if ((float)want[i] != ws[p.plan.offset[g->output->id] + i])
      fail_msg("element %lld: compiled %g, interpreted %g", (long long)i,
               ws[p.plan.offset[g->output->id] + i], want[i]);
  jit_free(j);
  if (ir)
    *ir = jit_optimised_ir(&p);
  free(ws);
  fixture_free(&f);
}

static const Shape image = {4, {DIM_BATCH, 5, 7, 13}};

static Node *g_input(Graph *g, const char *name, Shape shape) {
  return g_leaf(g, OP_INPUT, name, shape, 0);
}

/* dy ⊙ [z > 0]: the ReLU′ of an image's gradient */
static Node *masked(Graph *g) {
  Node *z = g_input(g, "z", image), *dy = g_input(g, "dy", image);
  return g_mul(g, dy, g_cmpgt(g, z, g_const(g, 0)));
}

/* max(z + b, 0) with b [5, 1, 1]: a bias per channel, broadcast */
static Node *biased(Graph *g) {
  Node *z = g_input(g, "z", image), *b = g_param(g, "b", (Shape){3, {5, 1, 1}});
  return g_max(g, g_add(g, z, b), g_const(g, 0));
}

/* z [N, 32, 28, 28] moved to channels last and scaled: a permutation fused into an expression,
 * not a lone transpose */
static Node *moved(Graph *g) {
  static const int32_t channels_last[4] = {0, 2, 3, 1};
  Node *z = g_input(g, "z", (Shape){4, {DIM_BATCH, 32, 28, 28}});
  return g_mul(g, g_permute(g, z, channels_last), g_param(g, "s", (Shape){0}));
}

/* Moves that transpose each image, [N, A.., B..] to [N, B.., A..], on sizes that leave partial
 * tiles at both edges for any vector width */
static const struct {
  Shape from;
  int32_t perm[4];
} transposes[] = {
  {{4, {DIM_BATCH, 5, 7, 13}}, {0, 3, 1, 2}}, /* channels last to first, A = 5 × 7 */
  {{4, {DIM_BATCH, 5, 7, 13}}, {0, 2, 3, 1}}, /* channels first to last, B = 7 × 13 */
  {{3, {DIM_BATCH, 17, 33}}, {0, 2, 1, 0}},
  {{3, {DIM_BATCH, 1, 3}}, {0, 2, 1, 0}},
};
static int transpose_case;

static Node *transposed(Graph *g) {
  Node *z = g_input(g, "z", transposes[transpose_case].from);
  return g_permute(g, z, transposes[transpose_case].perm);
}

/* max(z + b, 0) with z [N, 7, 13, 5] moved to channels first and b [5, 1, 1]: a convolution's
 * bias and ReLU over its product; and the same with a mask [z > 0] that stays scalar */
static Node *moved_bias_relu(Graph *g) {
  static const int32_t channels_first[4] = {0, 3, 1, 2};
  Node *z = g_input(g, "z", (Shape){4, {DIM_BATCH, 7, 13, 5}});
  Node *b = g_param(g, "b", (Shape){3, {5, 1, 1}});
  return g_max(g, g_add(g, g_permute(g, z, channels_first), b), g_const(g, 0));
}

static Node *moved_mask(Graph *g) {
  static const int32_t channels_first[4] = {0, 3, 1, 2};
  Node *z = g_input(g, "z", (Shape){4, {DIM_BATCH, 7, 13, 5}});
  Node *y = g_permute(g, z, channels_first);
  return g_mul(g, y, g_cmpgt(g, y, g_const(g, 0)));
}

/* m / 2 + g / 4 (exact in float, as the interpreter computes it) over weights: an optimizer's
 * update, no batch axis, axes of 1 (whose step a view may give as 0), the last one too */
static const Shape weights[] = {{4, {32, 1, 3, 3}}, {2, {7, 1}}, {3, {5, 3, 1}}, {1, {1}}};
static int weight_case;

static Node *weight_update(Graph *g) {
  Shape w = weights[weight_case];
  Node *m = g_param(g, "m", w), *dw = g_param(g, "g", w);
  return g_add(g, g_mul(g, m, g_const(g, 0.5)), g_mul(g, dw, g_const(g, 0.25)));
}

static void assert_no_gathers(const char *ir) {
  if (strstr(ir, "masked.gather") || strstr(ir, "masked.scatter"))
    fail_msg("the optimised kernel gathers or scatters:\n%s", ir);
}

/* build's kernel equals the interpreter and is a vector loop without gathers */
static void check_vector_loop(Node *(*build)(Graph *)) {
  char *ir;
  check(build, &ir);
  assert_no_gathers(ir);
  if (!strstr(ir, "x float>"))
    fail_msg("no vector of floats in the optimised kernel:\n%s", ir);
  LLVMDisposeMessage(ir);
}

static void in_place_kernel_is_one_vector_loop(void **state) {
  (void)state;
  check_vector_loop(masked);
}

static void weight_update_is_one_vector_loop(void **state) {
  (void)state;
  check_vector_loop(weight_update);
  for (weight_case = 1; weight_case < (int)(sizeof weights / sizeof *weights); weight_case++)
    check(weight_update, NULL);
  weight_case = 0;
}

static void broadcast_kernel_keeps_its_axes(void **state) {
  (void)state;
  check(biased, NULL);
}

static void permuted_kernel_stays_scalar(void **state) {
  (void)state;
  char *ir;
  check(moved, &ir);
  assert_no_gathers(ir);
  LLVMDisposeMessage(ir);
}

static void lone_transpose_is_tiles_of_shuffles(void **state) {
  (void)state;
  static const int widths[] = {0, 4, 8, 16};
  for (size_t w = 0; w < sizeof widths / sizeof *widths; w++)
    for (transpose_case = 0; transpose_case < (int)(sizeof transposes / sizeof *transposes);
         transpose_case++) {
      char *ir;
      vector_floats = widths[w];
      check(transposed, &ir);
      assert_no_gathers(ir);
      if (!strstr(ir, "shufflevector"))
        fail_msg("transpose %d, %d floats a vector: no shuffles in the optimised kernel:\n%s",
                 transpose_case, widths[w], ir);
      LLVMDisposeMessage(ir);
    }
  vector_floats = 0;
}

static void bias_and_relu_over_a_transpose_are_done_on_the_tiles(void **state) {
  (void)state;
  static const int widths[] = {0, 4, 8, 16};
  for (size_t w = 0; w < sizeof widths / sizeof *widths; w++) {
    char *ir;
    vector_floats = widths[w];
    check(moved_bias_relu, &ir);
    assert_no_gathers(ir);
    if (!strstr(ir, "shufflevector"))
      fail_msg("%d floats a vector: no shuffles in the optimised kernel:\n%s", widths[w], ir);
    LLVMDisposeMessage(ir);
    check(moved_mask, NULL);
  }
  vector_floats = 0;
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(in_place_kernel_is_one_vector_loop),
    cmocka_unit_test(weight_update_is_one_vector_loop),
    cmocka_unit_test(broadcast_kernel_keeps_its_axes),
    cmocka_unit_test(permuted_kernel_stays_scalar),
    cmocka_unit_test(lone_transpose_is_tiles_of_shuffles),
    cmocka_unit_test(bias_and_relu_over_a_transpose_are_done_on_the_tiles),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

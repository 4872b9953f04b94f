/* Graph builders: shape rules, broadcasting, rewrites, hash-consing and the verifier. */
#include "test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph.h"
#include "schedule.h"

typedef struct {
  Arena arena;
  Diag diag;
  Graph g;
  char *text;
  size_t len;
  FILE *out;
} Fixture;

static int setup(void **state) {
  Fixture *f = calloc(1, sizeof *f);
  arena_init(&f->arena);
  f->out = open_memstream(&f->text, &f->len);
  diag_init(&f->diag, NULL, f->out);
  f->diag.format = DIAG_TEST;
  graph_init(&f->g, &f->arena, &f->diag);
  *state = f;
  return 0;
}

static int teardown(void **state) {
  Fixture *f = *state;
  fclose(f->out);
  free(f->text);
  arena_free(&f->arena);
  free(f);
  return 0;
}

static const char *diagnostics(Fixture *f) {
  fflush(f->out);
  return f->text ? f->text : "";
}

static Node *input(Graph *g, const char *name, int rank, int64_t d1) {
  Shape s = {(uint8_t)rank, {DIM_BATCH, d1}};
  return g_leaf(g, OP_INPUT, name, s, NODE_INPUT);
}

static void broadcast_adds_a_vector_to_every_row(void **state) {
  Fixture *f = *state;
  Node *x = input(&f->g, "x", 2, 3);
  Node *b = g_param(&f->g, "b", (Shape){1, {3}});
  Node *y = g_add(&f->g, x, b);
  assert_non_null(y);
  assert_int_equal(y->shape.rank, 2);
  assert_true(y->shape.dim[0] == DIM_BATCH && y->shape.dim[1] == 3);
}

static void mismatched_broadcast_reports_both_shapes_at_the_loc(void **state) {
  Fixture *f = *state;
  f->g.loc = (Loc){10, 5, 4, 9};
  Node *y = g_add(&f->g, input(&f->g, "x", 2, 3), g_param(&f->g, "b", (Shape){1, {4}}));
  assert_null(y);
  assert_string_equal(diagnostics(f), "error|nnc|4|9|shapes [N, 3] and [4] do not broadcast\n");
}

static void errors_propagate_without_cascades(void **state) {
  Fixture *f = *state;
  Node *bad = g_add(&f->g, input(&f->g, "x", 2, 3), g_param(&f->g, "b", (Shape){1, {4}}));
  assert_null(g_sigmoid(&f->g, g_mul(&f->g, bad, g_const(&f->g, 2))));
  assert_int_equal(diag_count(&f->diag), 1);
}

static void matmul_checks_inner_dimensions(void **state) {
  Fixture *f = *state;
  Node *x = input(&f->g, "x", 2, 3);
  assert_non_null(g_matmul(&f->g, x, g_param(&f->g, "W", (Shape){2, {3, 5}}), false, false));
  assert_null(g_matmul(&f->g, x, g_param(&f->g, "V", (Shape){2, {4, 5}}), false, false));
  assert_non_null(strstr(diagnostics(f), "matrix product [N, 3] @ [4, 5]: inner dimensions differ"));
}

static void transposed_matmul_contracts_over_the_batch(void **state) {
  Fixture *f = *state;
  Node *x = input(&f->g, "x", 2, 3), *d = input(&f->g, "d", 2, 5);
  Node *w = g_matmul(&f->g, x, d, true, false);
  assert_non_null(w);
  assert_true(w->shape.dim[0] == 3 && w->shape.dim[1] == 5);
}

static void identities_are_simplified_away(void **state) {
  Fixture *f = *state;
  Node *x = input(&f->g, "x", 2, 3);
  assert_ptr_equal(g_add(&f->g, x, g_const(&f->g, 0)), x);
  assert_ptr_equal(g_mul(&f->g, g_const(&f->g, 1), x), x);
  assert_ptr_equal(g_div(&f->g, x, g_const(&f->g, 1)), x);
  assert_ptr_equal(g_neg(&f->g, g_neg(&f->g, x)), x);
  assert_ptr_equal(g_powc(&f->g, x, 1), x);
  assert_true(f->g.rewrites >= 5);
}

static void constants_fold(void **state) {
  Fixture *f = *state;
  Node *c = g_mul(&f->g, g_const(&f->g, 2), g_add(&f->g, g_const(&f->g, 1), g_const(&f->g, 0.5)));
  assert_int_equal(c->op, OP_CONST);
  assert_true(c->arg.k == 3);
  Node *x = input(&f->g, "x", 2, 3);
  Node *y = g_mul(&f->g, g_const(&f->g, 2), g_mul(&f->g, g_const(&f->g, 4), x));
  assert_int_equal(y->op, OP_MUL);
  assert_true(y->src[0]->op == OP_CONST && y->src[0]->arg.k == 8);
  assert_ptr_equal(y->src[1], x);
}

static void a_rewrite_never_drops_a_broadcast(void **state) {
  Fixture *f = *state;
  Node *b = g_param(&f->g, "b", (Shape){1, {3}});
  Node *zeros = g_expand(&f->g, g_const(&f->g, 0), 3, (Shape){2, {2, 3}});
  Node *y = g_add(&f->g, zeros, b);
  assert_int_equal(y->shape.rank, 2);
}

static void equal_expressions_are_one_node(void **state) {
  Fixture *f = *state;
  Node *x = input(&f->g, "x", 2, 3);
  Node *a = g_sigmoid(&f->g, g_mul(&f->g, x, g_const(&f->g, 3)));
  uint32_t n = f->g.n;
  Node *b = g_sigmoid(&f->g, g_mul(&f->g, x, g_const(&f->g, 3)));
  assert_ptr_equal(a, b);
  assert_int_equal(f->g.n, n);
}

static void sum_and_expand_shapes(void **state) {
  Fixture *f = *state;
  Node *x = input(&f->g, "x", 2, 3);
  Node *rows = g_sum(&f->g, x, 2);
  assert_true(rows->shape.rank == 1 && rows->shape.dim[0] == DIM_BATCH);
  Node *kept = g_sum(&f->g, x, 2 | AXES_KEEP);
  assert_true(kept->shape.rank == 2 && kept->shape.dim[1] == 1);
  Node *all = g_sum(&f->g, x, 3);
  assert_int_equal(all->shape.rank, 0);
  assert_true(shape_eq(&g_expand(&f->g, rows, 2, x->shape)->shape, &x->shape));
  assert_null(g_expand(&f->g, rows, 1, x->shape));
}

static void printed_graph_and_verifier(void **state) {
  Fixture *f = *state;
  Node *x = input(&f->g, "x", 2, 3);
  Node *y = g_sigmoid(&f->g, g_add(&f->g, x, g_param(&f->g, "b", (Shape){1, {3}})));
  y->name = "y";
  char *text = NULL;
  size_t len = 0;
  FILE *out = open_memstream(&text, &len);
  graph_print(out, &f->g);
  fclose(out);
  assert_string_equal(text, "%0 = input : [N, 3]  # x\n%1 = param : [3]  # b\n"
                            "%2 = add %0 %1 : [N, 3]\n%3 = sigmoid %2 : [N, 3]  # y\n");
  free(text);
  assert_true(graph_verify(&f->g, stderr));
  y->shape.dim[1] = 4;
  FILE *devnull = fopen("/dev/null", "w");
  assert_false(graph_verify(&f->g, devnull));
  fclose(devnull);
}

static void dot_output_has_every_node_and_edge(void **state) {
  Fixture *f = *state;
  Node *x = input(&f->g, "x", 2, 3);
  Node *b = g_param(&f->g, "b\"q", (Shape){1, {3}});
  g_sigmoid(&f->g, g_add(&f->g, x, b));
  char *text = NULL;
  size_t len = 0;
  FILE *out = open_memstream(&text, &len);
  graph_print_dot(out, &f->g);
  fclose(out);
  assert_non_null(strstr(text, "digraph nnc {"));
  assert_non_null(strstr(text, "n1 [fillcolor=khaki, label=\"b\\\"q\\nparam [3]\"];"));
  assert_non_null(strstr(text, "n0 -> n2;\n  n1 -> n2;"));
  assert_non_null(strstr(text, "n2 -> n3;"));
  free(text);
}

static char *printed(const Graph *g) {
  char *text = NULL;
  size_t len = 0;
  FILE *out = open_memstream(&text, &len);
  graph_print(out, g);
  fclose(out);
  return text;
}

/* Nodes equal but for one op parameter are two nodes; equal parameters are one node. */
static void op_parameters_are_part_of_a_nodes_identity(void **state) {
  Fixture *f = *state;
  Node *t = g_param(&f->g, "t", (Shape){3, {2, 3, 4}});
  Node *a = g_permute(&f->g, t, (int32_t[]){2, 0, 1});
  Node *b = g_permute(&f->g, t, (int32_t[]){1, 2, 0});
  assert_ptr_not_equal(a, b);
  uint32_t n = f->g.n;
  assert_ptr_equal(g_permute(&f->g, t, (int32_t[]){2, 0, 1}), a);
  assert_ptr_equal(g_permute(&f->g, t, (int32_t[]){1, 2, 0}), b);
  assert_ptr_not_equal(g_sum(&f->g, t, 1), g_sum(&f->g, t, 1 | AXES_KEEP));
  assert_ptr_equal(g_sum(&f->g, t, 1 | AXES_KEEP), g_sum(&f->g, t, 1 | AXES_KEEP));
  assert_int_equal(f->g.n, n + 2);
}

/* A node's parameters obey its op's rule: only as many as the table gives it, and what they
 * mean must fit (a permutation names each axis once). The builders refuse the same. */
static void verifier_rejects_parameters_that_break_the_rule(void **state) {
  Fixture *f = *state;
  Node *t = g_param(&f->g, "t", (Shape){3, {2, 3, 4}});
  Node *p = g_permute(&f->g, t, (int32_t[]){2, 0, 1});
  Node *e = g_exp(&f->g, t);
  assert_true(graph_verify(&f->g, stderr));
  FILE *devnull = fopen("/dev/null", "w");
  p->arg.p[1] = 2;
  assert_false(graph_verify(&f->g, devnull));
  p->arg.p[1] = 0;
  p->arg.p[3] = 1;
  assert_false(graph_verify(&f->g, devnull));
  p->arg.p[3] = 0;
  e->arg.p[0] = 1;
  assert_false(graph_verify(&f->g, devnull));
  e->arg.p[0] = 0;
  e->src[2] = t;
  assert_false(graph_verify(&f->g, devnull));
  e->src[2] = NULL;
  assert_true(graph_verify(&f->g, devnull));
  fclose(devnull);
  assert_null(g_permute(&f->g, t, (int32_t[]){0, 0, 1}));
  assert_null(g_op(&f->g, OP_EXP, &t, (OpArg){.p = {[5] = 1}}, NULL));
  assert_non_null(strstr(diagnostics(f), "exp takes 0 parameters"));
}

static void printer_shows_op_parameters(void **state) {
  Fixture *f = *state;
  Node *t = g_param(&f->g, "t", (Shape){3, {2, 3, 4}});
  g_permute(&f->g, t, (int32_t[]){2, 0, 1});
  g_maxr(&f->g, t, 4 | AXES_KEEP);
  Node *m = g_param(&f->g, "m", (Shape){2, {3, 2}});
  g_matmul(&f->g, m, m, true, false);
  char *text = printed(&f->g);
  assert_string_equal(text, "%0 = param : [2, 3, 4]  # t\n%1 = permute perm=201 %0 : [4, 2, 3]\n"
                            "%2 = maxr axes=2 keep %0 : [2, 3, 1]\n%3 = param : [3, 2]  # m\n"
                            "%4 = matmul AᵀB %3 %3 : [2, 2]\n");
  free(text);
}

/* An update overwrites its parameter in place, so a later kernel may not read the old value. */
static void in_place_update_read_later_is_detected(void **state) {
  Fixture *f = *state;
  Graph *g = &f->g;
  Node *p = g_param(g, "p", (Shape){1, {3}});
  Node *update = g_sub(g, p, g_const(g, 1));
  update->flags |= NODE_UPDATE;
  g->params[0].update = update;
  Node *safe[] = {update};
  Schedule s;
  sched_build(&s, g, safe, 1);
  assert_true(sched_updates_in_place_safely(&s, g));
  Node *later = g_mul(g, p, g_const(g, 2));
  Node *unsafe[] = {update, later};
  sched_build(&s, g, unsafe, 2);
  assert_false(sched_updates_in_place_safely(&s, g));
}

/* A ReLU's derivative under a max pool moves onto the pooled values (simplify.c's
 * mask_before_routing), and only when the mask tests the pool's own max(z, c) against c. */
static void relu_mask_under_a_pool_moves_to_the_pooled_values(void **state) {
  Fixture *f = *state;
  Graph *g = &f->g;
  Node *z = g_leaf(g, OP_INPUT, "z", (Shape){4, {DIM_BATCH, 2, 4, 4}}, NODE_INPUT);
  Node *zero = g_const(g, 0);
  Node *x = g_max(g, z, zero);
  Window w = {.kh = 2, .kw = 2, .sh = 2, .sw = 2, .dh = 1, .dw = 1};
  Node *p = g_maxpool(g, x, &w);
  Node *dy = g_leaf(g, OP_INPUT, "dy", p->shape, NODE_INPUT);
  Node *route = g_op(g, OP_MAXPOOL_BACK, (Node *[]){x, dy}, p->arg, &x->shape);
  Node *d = g_mul(g, route, g_cmpgt(g, z, zero));
  assert_int_equal(d->op, OP_MAXPOOL_BACK);
  assert_ptr_equal(d->src[0], x);
  Node *masked = d->src[1];
  assert_int_equal(masked->op, OP_MUL);
  assert_ptr_equal(masked->src[0], dy);
  assert_int_equal(masked->src[1]->op, OP_CMPGT);
  assert_ptr_equal(masked->src[1]->src[0], p);
  assert_true(shape_eq(&d->shape, &x->shape));
  Node *other = g_mul(g, route, g_cmpgt(g, z, g_const(g, 1)));
  assert_int_equal(other->op, OP_MUL);
  Node *unpooled = g_mul(g, g_op(g, OP_MAXPOOL_BACK, (Node *[]){z, dy}, p->arg, &z->shape),
                         g_cmpgt(g, z, zero));
  assert_int_equal(unpooled->op, OP_MUL);
}

int main(void) {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
  const struct CMUnitTest tests[] = {
    T(broadcast_adds_a_vector_to_every_row), T(mismatched_broadcast_reports_both_shapes_at_the_loc),
    T(errors_propagate_without_cascades),    T(matmul_checks_inner_dimensions),
    T(transposed_matmul_contracts_over_the_batch), T(identities_are_simplified_away),
    T(constants_fold),                       T(a_rewrite_never_drops_a_broadcast),
    T(equal_expressions_are_one_node),       T(sum_and_expand_shapes),
    T(printed_graph_and_verifier),           T(dot_output_has_every_node_and_edge),
    T(in_place_update_read_later_is_detected), T(op_parameters_are_part_of_a_nodes_identity),
    T(verifier_rejects_parameters_that_break_the_rule), T(printer_shows_op_parameters),
    T(relu_mask_under_a_pool_moves_to_the_pooled_values),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

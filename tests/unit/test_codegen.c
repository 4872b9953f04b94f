/* Compiled kernels against the reference interpreter: the code LLVM runs must compute what
 * the graph says. Each op of the table is compiled alone, then the whole XOR training step. */
#include "test.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nnrt.h"
#include "codegen.h"
#include "driver.h"
#include "interp.h"
#include "grad.h"
#include "jit.h"
#include "jit_fixture.h"
#include "optim.h"
#include "parse.h"


static uint64_t rng_state = 0x2545f4914f6cdd1du;
static double uniform(double lo, double hi) { return test_uniform(&rng_state, lo, hi); }

static bool close_enough(double want, float got) {
  return fabs(want - (double)got) <= 1e-5 * fabs(want) + 1e-6;
}

/* Random values for a leaf, written to both the workspace and the interpreter. */
static void set_leaf(Interp *it, float *ws, const MemPlan *plan, const Node *n, int64_t batch,
                     double lo, double hi) {
  int64_t size = shape_numel(&n->shape, batch);
  for (int64_t k = 0; k < size; k++) {
    float v = (float)uniform(lo, hi);
    interp_value(it, n)[k] = v;
    ws[plan->offset[n->id] + k] = v;
  }
}

static void assert_node_matches(Interp *it, const float *ws, int64_t offset, const Node *n,
                                int64_t batch) {
  int64_t size = shape_numel(&n->shape, batch);
  for (int64_t k = 0; k < size; k++) {
    double want = interp_value(it, n)[k];
    if (!close_enough(want, ws[offset + k]))
      fail_msg("%s (%%%u) element %lld: interpreter %.9g, compiled %.9g", node_op_name(n), n->id,
               (long long)k, want, (double)ws[offset + k]);
  }
}

/* y = op(a, b) with the shapes each kind needs; output of a predict-only program. */
static Node *build_op(Graph *g, int op_id) {
  Op op = (Op)op_id;
  Shape s34 = {2, {3, 4}}, s4 = {1, {4}};
  switch (op_info[op].kind) {
  case KIND_ELEM:
    if (op == OP_RESHAPE)
      return g_reshape(g, g_param(g, "a", s34), (Shape){3, {2, 3, 2}});
    if (op == OP_EXPAND)
      return g_expand(g, g_param(g, "v", s4), 1, s34);
    if (op == OP_PERMUTE) {
      int32_t perm[3] = {2, 0, 1};
      return g_permute(g, g_param(g, "t", (Shape){3, {2, 3, 4}}), perm);
    }
    if (op_info[op].arity == 1)
      return g_op(g, op, (Node *[]){g_param(g, "a", s34)}, (OpArg){.k = 3}, NULL);
    return g_op(g, op, (Node *[]){g_param(g, "a", s34), g_param(g, "b", s4)}, (OpArg){0}, NULL);
  case KIND_REDUCE:
    return g_op(g, op, (Node *[]){g_param(g, "a", s34)}, (OpArg){.p = {2 | AXES_KEEP}}, NULL);
  case KIND_MATMUL:
    return g_matmul(g, g_param(g, "A", (Shape){2, {4, 3}}), g_param(g, "B", (Shape){2, {5, 4}}),
                    true, true);
  case KIND_WINDOW: {
    Shape image = {4, {2, 3, 6, 5}};
    Window w = {3, 2, 2, 1, 1, 0, 1, 1, 1, 1, 0};
    OpArg arg = {0};
    window_params(&w, arg.p);
    Op forward = op == OP_FOLD ? OP_UNFOLD : op == OP_AVGPOOL_BACK ? OP_AVGPOOL
               : op == OP_MAXPOOL_BACK ? OP_MAXPOOL : op;
    Node *x = g_param(g, "x", image);
    if (forward == op)
      return g_op(g, op, &x, arg, NULL);
    Node *dy = g_param(g, "dy", g_op(g, forward, &x, arg, NULL)->shape);
    if (op == OP_MAXPOOL_BACK)
      return g_op(g, op, (Node *[]){x, dy}, arg, NULL);
    return g_op(g, op, &dy, arg, &image);
  }
  case KIND_LEAF: break;
  }
  return NULL;
}

/* An empty graph in a fresh arena, its diagnostics to stderr. */
static void graph_fixture(Arena *arena, Diag *diag, Graph *g) {
  arena_init(arena);
  diag_init(diag, NULL, stderr);
  graph_init(g, arena, diag);
}

/* The output of the predict-only graph build(g, arg) builds: compiled equals interpreted;
 * returns the number of loops of its schedule. */
static int check_built(Node *(*build)(Graph *, int), int arg) {
  Arena arena;
  Diag diag;
  Graph g;
  graph_fixture(&arena, &diag, &g);
  TrainSettings none = {0};
  g.output = build(&g, arg);
  assert_non_null(g.output);
  Program p;
  program_plan(&p, &g, "op", 0, &none, "op.nn");
  Interp it;
  interp_init(&it, &arena, &g, 1);
  float *ws = calloc((size_t)p.plan.total + 16, sizeof(float));
  for (int i = 0; i < g.nparams; i++)
    set_leaf(&it, ws, &p.plan, g.params[i].param, 1, 0.25, 2.0);
  interp_run(&it);
  EntryFn *predict;
  Jit *j = jit_predict(&p, &predict);
  predict(ws, 1);
  assert_node_matches(&it, ws, p.plan.offset[g.output->id], g.output, 1);
  int loops = sched_groups(&p.predict);
  jit_free(j);
  free(ws);
  arena_free(&arena);
  return loops;
}

static void every_op_compiles_to_what_the_interpreter_computes(void **state) {
  (void)state;
  int checked = 0;
  for (int op = 0; op < OP_COUNT; op++)
    if (op_info[op].kind != KIND_LEAF) {
      check_built(build_op, op);
      checked++;
    }
  assert_int_equal(checked, OP_COUNT - 4);
}


/* Adam's bias correction 1 − βᵗ as compiled (float32) against the double reference, for β
 * near 1 and t up to 10⁵: 1 − exp(t ln β) in float32 was off by 1.3e-5 relative at β = 0.999
 * and 1.4e-3 at β = 0.99999 (t = 1); expm1 keeps it within a few float roundings. */
static const double bias_betas[] = {0.9, 0.999, 0.99999};
static Node *build_bias_correction(Graph *g, int which) {
  g->step = g_param(g, "t", (Shape){1, {1}});
  return optim_bias_correction(g, bias_betas[which]);
}

static void bias_correction_is_accurate_in_float32(void **state) {
  (void)state;
  static const double ts[] = {1, 2, 3, 7, 10, 100, 1000, 4321, 10000, 54321, 100000};
  for (int b = 0; b < 3; b++) {
    Arena arena;
    Diag diag;
    Graph g;
    graph_fixture(&arena, &diag, &g);
    TrainSettings none = {0};
    g.output = build_bias_correction(&g, b);
    Program p;
    program_plan(&p, &g, "op", 0, &none, "op.nn");
    float *ws = calloc((size_t)p.plan.total + 16, sizeof(float));
    EntryFn *predict;
    Jit *j = jit_predict(&p, &predict);
    for (size_t i = 0; i < sizeof ts / sizeof ts[0]; i++) {
      ws[p.plan.offset[g.step->id]] = (float)ts[i];
      predict(ws, 1);
      double want = -expm1(ts[i] * log(bias_betas[b]));
      double got = ws[p.plan.offset[g.output->id]];
      if (fabs(got - want) > 1e-6 * want)
        fail_msg("β = %g, t = %g: 1 − βᵗ = %.9g, compiled %.9g (relative error %.2g)",
                 bias_betas[b], ts[i], want, got, fabs(got - want) / want);
    }
    jit_free(j);
    free(ws);
    arena_free(&arena);
  }
}


/* One compiled training step (forward, backward, update) equals the interpreted graph, for a
 * full batch and a partial one (N is a run-time value). */
/* compilation_front, with the optimizer replaced by *o when o is given. */
static void front_with(Compilation *c, const OptimizerSettings *o) {
  if (!o) {
    assert_true(compilation_front(c));
    return;
  }
  assert_true(compilation_run(c, STAGE_CHECK));
  c->model->train.opt = *o;
  assert_true(compilation_run(c, STAGE_OPTIM));
}

/* Every leaf the step reads gets a random value in both the workspace and the interpreter;
 * optimizer state is kept positive (Adam's v and RMSprop's average are sums of squares). */
static void set_random_leaves(Interp *it, float *ws, const Program *p, int64_t rows) {
  const Graph *g = p->g;
  for (int i = 0; i < g->nparams; i++) {
    bool state = g->params[i].role == ROLE_STATE;
    set_leaf(it, ws, &p->plan, g->params[i].param, rows, state ? 0.1 : -1.5, 1.5);
  }
  set_leaf(it, ws, &p->plan, g->input, rows, 0, 1);
  set_leaf(it, ws, &p->plan, g->target, rows, 0, 1);
  set_leaf(it, ws, &p->plan, g->lr, rows, 0.1, 1);
  if (g->step) {
    interp_value(it, g->step)[0] = 3;
    ws[p->plan.offset[g->step->id]] = 3;
  }
}

/* A training program compiled and JIT-ed, its leaves random, its graph interpreted once. */
typedef struct {
  Compilation c;
  Program p;
  Interp it;
  float *ws;
  Jit *j;
  const NnrtModel *model;
} StepRun;

static void step_run_open(StepRun *r, const char *name, const char *text, size_t len,
                          int64_t rows, const OptimizerSettings *o) {
  compilation_init(&r->c, name, text, len, stderr);
  front_with(&r->c, o);
  compilation_plan(&r->c, &r->p, name);
  assert_true(r->p.can_train);
  interp_init(&r->it, &r->c.arena, &r->c.graph, rows);
  r->ws = calloc((size_t)r->p.plan.total + 16, sizeof(float));
  set_random_leaves(&r->it, r->ws, &r->p, rows);
  interp_run(&r->it);
  bool ok;
  r->j = jit_program(&r->p, &ok);
  assert_true(ok);
  r->model = jit_lookup(r->j, "nn_model");
  assert_non_null(r->model);
}

/* evaluate, then step: loss, output and every updated parameter and state as interpreted */
static void step_run_check(StepRun *r, int64_t rows) {
  const Graph *g = &r->c.graph;
  const NnrtModel *model = r->model;
  model->evaluate(r->ws, rows);
  assert_node_matches(&r->it, r->ws, model->loss_offset, g->loss, rows);
  assert_node_matches(&r->it, r->ws, model->output.offset, g->output, rows);
  for (int i = 0; i < g->nparams; i++) /* evaluate changes no parameter */
    assert_node_matches(&r->it, r->ws, r->p.plan.offset[g->params[i].param->id],
                        g->params[i].param, rows);
  model->step(r->ws, rows);
  assert_node_matches(&r->it, r->ws, model->loss_offset, g->loss, rows);
  for (int i = 0; i < g->nparams; i++) /* parameters and optimizer state, updated in place */
    assert_node_matches(&r->it, r->ws, r->p.plan.offset[g->params[i].param->id],
                        g->params[i].update, rows);
  model->predict(r->ws, rows);
}

static void step_run_close(StepRun *r) {
  jit_free(r->j);
  free(r->ws);
  compilation_free(&r->c);
}

static void check_xor_step(int64_t rows, const OptimizerSettings *o) {
  size_t len;
  char *text = test_read_source("examples/xor.nn", &len);
  StepRun r;
  step_run_open(&r, "xor.nn", text, len, rows, o);
  const Graph *g = &r.c.graph;
  const NnrtModel *model = r.model;
  assert_int_equal(model->abi_version, NNRT_ABI_VERSION);
  assert_int_equal(model->workspace_floats, r.p.plan.total);
  assert_int_equal(model->n_params, g->nparams);
  assert_string_equal(model->params[2].name, "W2");
  assert_int_equal(model->train.rows, 4);
  assert_int_equal(model->train.kind, NNRT_DATA_TABLE);
  assert_int_equal(model->params[3].role, NNRT_ROLE_PARAM);
  /* info: A1 = σ(X W1 + b1) and A2 = σ(A1 W2 + b2), 2·2·2 + 2 + 2 and 2·2·1 + 1 + 1 FLOPs */
  assert_int_equal(model->n_layers, 2);
  assert_string_equal(model->layers[0].name, "A1");
  assert_int_equal(model->layers[0].params, 6);
  assert_int_equal(model->layers[0].flops, 12);
  assert_int_equal(model->layers[1].params, 3);
  assert_int_equal(model->layers[1].flops, 6);
  assert_int_equal(model->layers[1].rank, 1);
  assert_int_equal(model->layers[1].dim[0], 1);
  assert_int_equal(model->n_checks, r.p.step.n);
  int first_product = 0; /* X @ W1, on the line of A1 (scalar kernels may come first) */
  while (r.p.step.kernel[first_product].root->op != OP_MATMUL)
    first_product++;
  assert_int_equal(model->checks[first_product].line, 11);
  assert_int_equal(model->mem_params, 9);
  assert_true(model->model_hash != 0);
  step_run_check(&r, rows);
  step_run_close(&r);
  free(text);
}

static void xor_step_matches_interpreter_full_batch(void **state) {
  (void)state;
  check_xor_step(4, NULL);
}

static void xor_step_matches_interpreter_partial_batch(void **state) {
  (void)state;
  check_xor_step(3, NULL);
}

/* Each optimizer's compiled update, state included, equals the interpreted graph. */
static void every_optimizer_compiles_to_what_the_interpreter_computes(void **state) {
  (void)state;
  const OptimizerSettings opts[] = {
    {.kind = OPT_SGD, .lr = 0.1, .momentum = 0.9, .nesterov = true, .weight_decay = 0.01},
    {.kind = OPT_ADAM, .lr = 0.01, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-7},
    {.kind = OPT_ADAMW, .lr = 0.01, .beta1 = 0.9, .beta2 = 0.99, .eps = 1e-7, .weight_decay = 0.1},
    {.kind = OPT_RMSPROP, .lr = 0.01, .rho = 0.9, .eps = 1e-7, .momentum = 0.5},
  };
  for (size_t i = 0; i < sizeof opts / sizeof *opts; i++)
    check_xor_step(4, &opts[i]);
}

/* A model whose every layer width misses the vector and tile sizes: its step (with products
 * transposed either way) equals the interpreter's, for a full and a partial batch. */
static const char odd_model[] =
  "model m {\n input x[17]\n target y : class(3)\n h1 = dense(x, 63, relu)\n"
  " h2 = dense(h1, 65, tanh)\n z = dense(h2, 3)\n loss = cross_entropy(softmax(z), y)\n"
  " output softmax(z)\n}\n"
  "train m {\n data = table { 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 -> 2 }\n"
  " optimizer = sgd(lr = 0.1, momentum = 0.9)\n batch = 127\n}\n";

static int32_t nonfinite_flag(const NnrtModel *m, const float *ws) {
  int32_t flag;
  memcpy(&flag, ws + m->nonfinite_offset, sizeof flag);
  return flag;
}

/* The kernels of a step, each run in parts 0..P-1 of P one after the other (as P threads would
 * between two barriers), leave the workspace bit-identical to the serial step. The updates
 * test every parameter's gradient they read (the step's non-finite flag): it stays 0 on
 * finite values and is set, whole or in parts, when an input is NaN. */
static void check_parts(const char *source, int64_t rows) {
  Compilation c;
  compilation_init(&c, "parts.nn", source, strlen(source), stderr);
  assert_true(compilation_front(&c));
  Program p;
  compilation_plan(&c, &p, "parts.nn");
  Interp it;
  interp_init(&it, &c.arena, &c.graph, rows);
  float *ws = calloc((size_t)p.plan.total + 16, sizeof(float));
  set_random_leaves(&it, ws, &p, rows);
  float *copy = malloc(sizeof(float) * ((size_t)p.plan.total + 16));
  memcpy(copy, ws, sizeof(float) * ((size_t)p.plan.total + 16));
  bool ok;
  Jit *j = jit_program(&p, &ok);
  assert_true(ok);
  const NnrtModel *m = jit_lookup(j, "nn_model");
  assert_int_equal(m->n_step_kernels, sched_groups(&p.step));
  float *start = malloc(sizeof(float) * ((size_t)p.plan.total + 16));
  memcpy(start, ws, sizeof(float) * ((size_t)p.plan.total + 16));
  m->step(ws, rows);
  /* parts run first to last and last to first: a part that read what another part of the same
   * kernel writes would see different values in one of the two orders */
  for (int parts = 2; parts <= 7; parts++)
    for (int reverse = 0; reverse < 2; reverse++) {
      memcpy(copy, start, sizeof(float) * ((size_t)p.plan.total + 16));
      for (int k = 0; k < m->n_step_kernels; k++)
        for (int i = 0; i < parts; i++)
          m->step_kernels[k](copy, rows, reverse ? parts - 1 - i : i, parts);
      assert_memory_equal(ws, copy, sizeof(float) * (size_t)p.plan.total);
    }
  int tested = 0, updated = 0;
  for (int32_t i = 0; i < m->n_checks; i++)
    tested += m->checks[i].tested;
  for (int i = 0; i < c.graph.nparams; i++)
    updated += c.graph.params[i].update && c.graph.params[i].role == ROLE_PARAM;
  assert_int_equal(tested, updated);
  assert_int_equal(nonfinite_flag(m, ws), 0);
  for (int parts = 1; parts <= 3; parts++) {
    memcpy(copy, start, sizeof(float) * ((size_t)p.plan.total + 16));
    copy[m->input.offset] = NAN;
    for (int k = 0; k < m->n_step_kernels; k++)
      for (int i = 0; i < parts; i++)
        m->step_kernels[k](copy, rows, i, parts);
    assert_int_equal(nonfinite_flag(m, copy), 1);
  }
  jit_free(j);
  free(ws);
  free(start);
  free(copy);
  compilation_free(&c);
}

static void step_kernels_in_parts_equal_the_serial_step(void **state) {
  (void)state;
  size_t len;
  char *xor = test_read_source("examples/xor.nn", &len);
  check_parts(xor, 4);
  check_parts(xor, 3);
  free(xor);
  check_parts("model m {\n input x[5]\n target y : class(3)\n h = dense(x, 7, relu)\n"
              " d = dropout(h, 0.2)\n z = dense(d, 3)\n"
              " loss = cross_entropy(softmax(z), y) + 0.01 * l2(h.W) + mean(sum(h, axis = 0))\n"
              " output softmax(z)\n}\n"
              "train m {\n data = table { 1 2 3 4 5 -> 0 }\n optimizer = adam(lr = 0.01)\n"
              " batch = 9\n}\n", 9);
  check_parts(odd_model, 127);
  check_parts(odd_model, 17);
  /* an input of 300 values: x @ W1 runs its k in blocks (K_BLOCK, codegen_matmul.c) */
  char *wide = malloc(4096);
  int at = snprintf(wide, 4096, "model m {\n input x[300]\n target y[2]\n h = dense(x, 19, relu)\n"
                     " z = dense(h, 2)\n loss = mse(z, y)\n output z\n}\n"
                     "train m {\n batch = 23\n data = table {");
  for (int i = 0; i < 300; i++)
    at += snprintf(wide + at, 4096 - (size_t)at, " %d", i % 7);
  snprintf(wide + at, 4096 - (size_t)at, " -> 1 2 }\n}\n");
  check_parts(wide, 23);
  check_parts(wide, 5);
  free(wide);
}

/* a = exp(P), used twice so it is a kernel of its own; then a + 2a (variant 0) or a + aᵀ. */
static Node *build_reuse(Graph *g, int transposed) {
  Node *a = g_exp(g, g_param(g, "P", (Shape){2, {3, 3}}));
  Node *other = transposed ? g_transpose(g, a) : g_mul(g, a, g_const(g, 2));
  return g_add(g, a, other);
}

/* Variant 2: a + (a · P)ᵀ, the product fused below the transpose and read at the transposed
 * element; variant 3: (P · 3)ᵀ of a [2, 3, 4] P permuted to [4, 2, 3], fused in one loop. */
static Node *build_moved(Graph *g, int variant) {
  if (variant == 3) {
    static const int32_t perm[3] = {2, 0, 1};
    return g_permute(g, g_mul(g, g_param(g, "P", (Shape){3, {2, 3, 4}}), g_const(g, 3)), perm);
  }
  Node *p = g_param(g, "P", (Shape){2, {3, 3}});
  Node *a = g_exp(g, p);
  return g_add(g, a, g_transpose(g, g_mul(g, a, p)));
}

/* Loop fusion (sched_join) puts a + 2a in the loop that computes a, element by element; a + aᵀ
 * reads a[j, i] while a[i, j] is computed, so it needs a loop of its own, and so does an
 * expression fused below a transpose that reads a (the shapes match, the elements do not). */
static void joined_loops_read_only_their_own_element(void **state) {
  (void)state;
  assert_int_equal(check_built(build_reuse, 0), 1);
  assert_int_equal(check_built(build_reuse, 1), 2);
  assert_int_equal(check_built(build_moved, 2), 2);
  assert_int_equal(check_built(build_moved, 3), 1);
}

/* --- the tiled matrix kernels (codegen_matmul.c) --- */

/* Sizes that fill no vector (4, 8 or 16 floats) or tile (6 rows, 2 vectors) evenly. */
static const int64_t odd_sizes[] = {1, 3, 17, 63, 65, 127, 785};
enum { NODD = sizeof odd_sizes / sizeof *odd_sizes };

/* C = op(A) op(B) for an m×k by k×n product, transposes per bits, compiled against the
 * interpreter (in double). A float sum of k products may differ from the exact one by up to
 * k·ε·Σ|a||b| (ε = 2⁻²⁴ per rounding, one per multiply-add); the test allows that bound. */
static void check_matmul(int64_t m, int64_t k, int64_t n, uint32_t bits, int vector_floats) {
  Arena arena;
  Diag diag;
  Graph g;
  graph_fixture(&arena, &diag, &g);
  TrainSettings none = {0};
  Node *A = g_param(&g, "A", bits & 1 ? (Shape){2, {k, m}} : (Shape){2, {m, k}});
  Node *B = g_param(&g, "B", bits & 2 ? (Shape){2, {n, k}} : (Shape){2, {k, n}});
  g.output = g_matmul(&g, A, B, bits & 1, bits & 2);
  assert_non_null(g.output);
  Program p;
  program_plan(&p, &g, "mm", 0, &none, "mm.nn");
  p.vector_floats = vector_floats;
  Interp it;
  interp_init(&it, &arena, &g, 1);
  float *ws = calloc((size_t)p.plan.total + 16, sizeof(float));
  set_leaf(&it, ws, &p.plan, A, 1, -1, 1);
  set_leaf(&it, ws, &p.plan, B, 1, -1, 1);
  interp_run(&it);
  size_t floats = (size_t)p.plan.total + 16;
  float *before = malloc(sizeof(float) * floats);
  for (size_t i = (size_t)p.plan.total; i < floats; i++)
    ws[i] = 12345.0f; /* the slack after the plan, which nothing may write */
  memcpy(before, ws, sizeof(float) * floats);
  EntryFn *predict;
  Jit *j = jit_predict(&p, &predict);
  predict(ws, 1);
  int64_t c_at = p.plan.offset[g.output->id], c_end = c_at + m * n;
  int64_t s_at = p.plan.scratch[g.output->id], s_end = s_at < 0 ? s_at : s_at + k * n;
  for (int64_t i = 0; i < (int64_t)floats; i++)
    if (!(i >= c_at && i < c_end) && !(i >= s_at && i < s_end) && ws[i] != before[i])
      fail_msg("%lldx%lldx%lld bits %u: ws[%lld] outside C changed", (long long)m, (long long)k,
               (long long)n, bits, (long long)i);
  free(before);
  const double *a = interp_value(&it, A), *b = interp_value(&it, B), *want = interp_value(&it, g.output);
  const float *got = ws + p.plan.offset[g.output->id];
  for (int64_t i = 0; i < m; i++)
    for (int64_t jj = 0; jj < n; jj++) {
      double bound = 0;
      for (int64_t kk = 0; kk < k; kk++)
        bound += fabs(a[bits & 1 ? kk * m + i : i * k + kk] * b[bits & 2 ? jj * k + kk : kk * n + jj]);
      bound *= (double)k * 0x1p-24;
      double w = want[i * n + jj], e = fabs(w - (double)got[i * n + jj]);
      if (!(e <= bound + 1e-30))
        fail_msg("%lldx%lldx%lld bits %u: C[%lld, %lld] = %.9g, interpreter %.9g (bound %.3g)",
                 (long long)m, (long long)k, (long long)n, bits, (long long)i, (long long)jj,
                 (double)got[i * n + jj], w, bound);
    }
  jit_free(j);
  free(ws);
  arena_free(&arena);
}

static void tiled_matmul_matches_interpreter_on_odd_shapes(void **state) {
  (void)state;
  for (uint32_t bits = 0; bits < 4; bits++)
    for (int s = 0; s < NODD; s++) {
      /* each size in each position, the other two drawn from the list (small ones with 785) */
      int64_t x = odd_sizes[s], y = odd_sizes[(s * 3 + bits) % NODD];
      int64_t z = odd_sizes[(s * 5 + 2 * bits + 1) % (x == 785 || y == 785 ? 4 : NODD)];
      check_matmul(x, y, z, bits, 0);
      check_matmul(z, x, y, bits, 0);
      check_matmul(y, z, x, bits, 0);
    }
}

/* Shapes drawn at random (seeded): m, k, n in [1, 300], any transposes. */
static void tiled_matmul_matches_interpreter_on_random_shapes(void **state) {
  (void)state;
  for (int i = 0; i < 24; i++) {
    int64_t m = 1 + (int64_t)uniform(0, 300), k = 1 + (int64_t)uniform(0, 300);
    int64_t n = 1 + (int64_t)uniform(0, 300);
    check_matmul(m, k, n, (uint32_t)uniform(0, 4), 0);
  }
}

/* The tiles for the other vector widths nnc generates (4 floats without AVX, 16 with AVX-512):
 * LLVM splits or widens the vectors for this CPU, so their blocking and masking run here too. */
static void tiled_matmul_is_right_for_every_vector_width(void **state) {
  (void)state;
  static const int widths[] = {4, 16};
  for (size_t w = 0; w < sizeof widths / sizeof *widths; w++)
    for (uint32_t bits = 0; bits < 4; bits++)
      for (int s = 0; s < NODD - 1; s++)
        check_matmul(odd_sizes[s], odd_sizes[(s + 2) % (NODD - 1)], odd_sizes[(s + 4) % (NODD - 1)],
                     bits, widths[w]);
}

/* Every remainder of every tiling (codegen_matmul.c's tilings: 6 × 2 vectors for 4 and 8
 * floats, 8 × 2 for 16): rows 1 .. 2·8 + 1 (a part shorter than a tile, exact tiles, an
 * overlapping last tile of each height), columns around each vector and column-block multiple
 * (full, masked, a masked last block of one or two vectors), and k below, at and above the k
 * block, in several equal blocks and one shorter last block (785 = 4 × 197 − 3). */
static void tiled_matmul_covers_every_remainder_of_each_tiling(void **state) {
  (void)state;
  static const int widths[] = {4, 8, 16};
  static const int64_t ks[] = {1, 2, 255, 256, 257, 600, 785};
  enum { NK = sizeof ks / sizeof *ks };
  for (size_t w = 0; w < sizeof widths / sizeof *widths; w++) {
    int64_t f = widths[w];
    const int64_t cols[] = {1, f - 1, f, f + 1, 2 * f, 2 * f + 3, 3 * f - 1, 4 * f + 1};
    enum { NCOLS = sizeof cols / sizeof *cols };
    for (int64_t m = 1; m <= 17; m++)
      check_matmul(m, ks[(m + (int64_t)w) % NK], cols[(m * 3 + (int64_t)w) % NCOLS],
                   (uint32_t)(m % 4), widths[w]);
  }
}

/* A C of a few columns that do not fill whole vectors, with A read transposed (a weight
 * gradient), is computed as Cᵀ and stored transposed (emit_narrow): every width up to and past
 * the narrow tile's rows for each vector width, rows of C around the vector (a masked last
 * vector), k short and long, B read either way. */
static void narrow_weight_gradients_match_the_interpreter(void **state) {
  (void)state;
  static const int widths[] = {4, 8, 16};
  static const int64_t rows[] = {1, 9, 16, 17, 40};
  static const int64_t ks[] = {1, 257, 785};
  for (int w = 0; w < 3; w++)
    for (int64_t n = 1; n <= 13; n++)
      for (int r = 0; r < 5; r++)
        check_matmul(rows[r], ks[(n + r + w) % 3], n, 1 | (uint32_t)(n % 2) << 1, widths[w]);
}

/* s's update, s − η·0.01, reads only leaves: it must still run after the kernels that read s
 * (the scalar kernels that move to the front are never updates). */
static const char leaf_update_model[] =
  "model m {\n input X[2]\n target Y[1]\n param W[2, 1] = normal(0, 1)\n param s = 1\n"
  " y = X @ W\n loss = mean((y - Y)^2) + 0.01 * s\n output y\n}\n"
  "train m {\n data = table { 0 0 -> 0; 0 1 -> 1; 1 0 -> 1; 1 1 -> 0 }\n"
  " optimizer = sgd(lr = 0.1)\n batch = 4\n}\n";

static void an_update_from_leaves_alone_keeps_its_place(void **state) {
  (void)state;
  StepRun r;
  step_run_open(&r, "leaf.nn", leaf_update_model, strlen(leaf_update_model), 4, NULL);
  step_run_check(&r, 4);
  step_run_close(&r);
}

static void odd_widths_step_matches_interpreter(void **state) {
  (void)state;
  for (int64_t rows = 127; rows > 0; rows -= 110) {
    StepRun r;
    step_run_open(&r, "odd.nn", odd_model, strlen(odd_model), rows, NULL);
    step_run_check(&r, rows);
    step_run_close(&r);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(every_op_compiles_to_what_the_interpreter_computes),
    cmocka_unit_test(bias_correction_is_accurate_in_float32),
    cmocka_unit_test(xor_step_matches_interpreter_full_batch),
    cmocka_unit_test(xor_step_matches_interpreter_partial_batch),
    cmocka_unit_test(every_optimizer_compiles_to_what_the_interpreter_computes),
    cmocka_unit_test(step_kernels_in_parts_equal_the_serial_step),
    cmocka_unit_test(joined_loops_read_only_their_own_element),
    cmocka_unit_test(tiled_matmul_matches_interpreter_on_odd_shapes),
    cmocka_unit_test(tiled_matmul_matches_interpreter_on_random_shapes),
    cmocka_unit_test(tiled_matmul_is_right_for_every_vector_width),
    cmocka_unit_test(tiled_matmul_covers_every_remainder_of_each_tiling),
    cmocka_unit_test(narrow_weight_gradients_match_the_interpreter),
    cmocka_unit_test(odd_widths_step_matches_interpreter),
    cmocka_unit_test(an_update_from_leaves_alone_keeps_its_place),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

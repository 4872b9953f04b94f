/* buffer_model: the model of the running-statistics tests (test_buffers, test_descriptor). A
 * linear regression out = x·w is written in the language; onto its lowered graph the builders
 * graft what batch norm needs from the runtime, before differentiation (as lower will):
 *
 *   rm = g_buffer(zeros, follows mean_rows(x)),  rv = g_buffer(ones, follows mean_rows(x ⊙ x))
 *   out' = x·w + t·TRAIN_TERM + (1 − t)·(Σ rm + Σ rv),  t = g_training,  loss = mean((out' − y)²)
 *
 * so the outputs of a step show t = 1 (x·w + TRAIN_TERM), those of evaluate and predict t = 0
 * and the running statistics. The data is five rows, batch 2, not shuffled: the steps of an
 * epoch see rows {0, 1}, {2, 3}, {4}. */
#ifndef NNC_BUFFER_MODEL_H
#define NNC_BUFFER_MODEL_H
#include "codegen.h"
#include "driver.h"
#include "jit.h"
#include "nnrt.h"

enum { BM_ROWS = 5, BM_BATCH = 2, BM_WIDTH = 2 };
#define BM_MOMENTUM 0.25
#define BM_TRAIN_TERM 10.0

static const float bm_x[BM_ROWS][BM_WIDTH] = {{1, 2}, {3, -1}, {0, 4}, {2, 2}, {-1, 3}};
static const float bm_y[BM_ROWS] = {1, 2, -1, 0, 1};

static const char bm_source[] =
  "model bn {\n input x[2]\n target y[1]\n param w[2, 1] = 0.5\n out = x @ w\n"
  " loss = mse(out, y)\n output out\n}\n"
  "train bn {\n data = table {\n  1 2 -> 1\n  3 -1 -> 2\n  0 4 -> -1\n  2 2 -> 0\n  -1 3 -> 1\n }\n"
  " optimizer = sgd(lr = 0.01, momentum = 0.5)\n batch = 2\n epochs = 3\n shuffle = false\n"
  " seed = 5\n}\n";

typedef struct {
  Compilation c;
  Program p;
  Jit *j;
  const NnrtModel *m;
} BufferModel;

/* The mean over the batch rows of v ([N, 2] -> [2]). */
static inline Node *bm_mean_rows(Graph *g, Node *v) {
  return g_div(g, g_sum(g, v, 1u << 0), g_batch(g));
}

static inline void bm_graft(Graph *g) {
  g->loc = g->output->loc;
  Node *x = g->input, *t = g_training(g);
  Shape s = {.rank = 1, .dim = {BM_WIDTH}};
  Node *mean = bm_mean_rows(g, x), *square = bm_mean_rows(g, g_mul(g, x, x));
  Node *rm = g_buffer(g, "rm", s, (ParamInit){INIT_ZEROS, 0, 0, NULL}, mean, BM_MOMENTUM);
  Node *rv = g_buffer(g, "rv", s, (ParamInit){INIT_ONES, 0, 0, NULL}, square, BM_MOMENTUM);
  Node *stats = g_add(g, g_sum(g, rm, 1u), g_sum(g, rv, 1u));
  Node *term = g_add(g, g_mul(g, t, g_const(g, BM_TRAIN_TERM)),
                     g_mul(g, g_sub(g, g_const(g, 1), t), stats));
  g->output = g_add(g, g->output, term);
  Node *d = g_sub(g, g->output, g->target);
  g->loss = g_div(g, g_sum(g, g_mul(g, d, d), 3u), g_batch(g));
}

/* The source up to lowering, the graft, the backward pass and the optimizer, planned and
 * linked on the JIT. */
static inline void bm_compile(BufferModel *bm) {
  compilation_init(&bm->c, "bn.nn", bm_source, strlen(bm_source), stderr);
  assert_true(compilation_run(&bm->c, STAGE_LOWER));
  bm_graft(&bm->c.graph);
  assert_true(compilation_run(&bm->c, STAGE_OPTIM));
  compilation_plan(&bm->c, &bm->p, "bn.nn");
  char msg[1024];
  bm->j = jit_new(msg, sizeof msg);
  assert_non_null(bm->j);
  assert_true(jit_add(bm->j, codegen_module(&bm->p, jit_context(bm->j), false), 0, msg,
                      sizeof msg));
  bm->m = jit_lookup(bm->j, "nn_model");
  assert_non_null(bm->m);
}

static inline void bm_free(BufferModel *bm) {
  jit_free(bm->j);
  compilation_free(&bm->c);
}

#endif

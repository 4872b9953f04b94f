/* The model hash (compiler/ir/hash.c) is a hash of the model's meaning. This suite replaces the
 * graph printers: it defines graph_print and graph_print_dot itself, so the linker never takes
 * compiler/ir/print.c, which holds nothing else, from the library. Its printer's spacing is a
 * knob; a model hash that went through a printer would change with it, and a checkpoint saved
 * before the spacing changed would no longer load. */
#include "test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codegen.h"
#include "driver.h"
#include "hash.h"
#include "jit.h"
#include "nnrt_host.h"

#define TEST_TMP_DIR "/tmp/nnc-model-hash-XXXXXX"
#include "tmp_dir.h"

static int spacing = 1;

void graph_print(FILE *out, const Graph *g) {
  for (uint32_t i = 0; i < g->n; i++) {
    const Node *n = g->node[i];
    char sh[64];
    fprintf(out, "%%%u =%*s%s%*s: %s  # %s\n", n->id, spacing, "", node_op_name(n), spacing, "",
            shape_str(&n->shape, sh, sizeof sh), n->name ? n->name : "");
  }
}

void graph_print_dot(FILE *out, const Graph *g) { graph_print(out, g); }

static char *printed(const Graph *g) {
  char *text = NULL;
  size_t len = 0;
  FILE *out = open_memstream(&text, &len);
  graph_print(out, g);
  fclose(out);
  return text;
}

/* ---- graphs built by hand: what changes the hash ---- */

enum { SAME, OTHER_SHAPE, OTHER_PARAM, OTHER_INIT, OTHER_VALUES, OTHER_LABEL };

/* loss = Σ (x W) ⊙ c with W drawn from N(0, 0.1) and c a constant tensor; `change` alters one
 * thing of it (OTHER_LABEL only the name of a computed node). */
static uint64_t hash_of(int change, char **text) {
  Arena arena;
  Diag diag;
  Graph g;
  arena_init(&arena);
  diag_init(&diag, NULL, stderr);
  graph_init(&g, &arena, &diag);
  static const float c3[] = {1, 2, 3}, c3b[] = {1, 2, 4};
  int64_t width = change == OTHER_SHAPE ? 5 : 2;
  Node *x = g_leaf(&g, OP_INPUT, "x", (Shape){2, {DIM_BATCH, width}}, NODE_INPUT);
  ParamInit normal = {INIT_NORMAL, 0, change == OTHER_INIT ? 0.2 : 0.1, NULL};
  Node *W = g_param_init(&g, "W", (Shape){2, {width, 3}}, normal);
  Node *c = g_tensor(&g, "c", (Shape){1, {3}}, change == OTHER_VALUES ? c3b : c3);
  Node *h = g_matmul(&g, x, W, false, false);
  h->name = change == OTHER_LABEL ? "hidden" : "h";
  Node *y = g_mul(&g, h, c);
  g.input = x;
  g.loss = g_sum(&g, y, change == OTHER_PARAM ? 1 | AXES_KEEP : 1);
  assert_non_null(g.loss);
  uint64_t h64 = graph_hash(&g);
  if (text)
    *text = printed(&g);
  arena_free(&arena);
  return h64;
}

static void the_same_model_has_the_same_hash(void **state) {
  (void)state;
  assert_true(hash_of(SAME, NULL) == hash_of(SAME, NULL));
}

static void shape_parameter_and_initialiser_change_the_hash(void **state) {
  (void)state;
  uint64_t base = hash_of(SAME, NULL);
  assert_true(hash_of(OTHER_SHAPE, NULL) != base);
  assert_true(hash_of(OTHER_PARAM, NULL) != base);
  assert_true(hash_of(OTHER_INIT, NULL) != base);
  assert_true(hash_of(OTHER_VALUES, NULL) != base);
}

/* The printer's spacing and the label of a computed node change the text, not the meaning. */
static void the_printers_are_not_in_the_hash(void **state) {
  (void)state;
  char *one, *two, *renamed;
  uint64_t h1 = hash_of(SAME, &one);
  spacing = 3;
  uint64_t h2 = hash_of(SAME, &two);
  spacing = 1;
  uint64_t h3 = hash_of(OTHER_LABEL, &renamed);
  assert_string_not_equal(one, two);
  assert_string_not_equal(one, renamed);
  assert_true(h1 == h2 && h1 == h3);
  free(one);
  free(two);
  free(renamed);
}

/* ---- compiled models ---- */

static const char source_fmt[] =
  "model m {\n input x[4]\n target y : class(2)\n h = dense(x, %d, relu)\n z = dense(h, 2)\n"
  " loss = cross_entropy(softmax(z), y)\n output softmax(z)\n}\n"
  "train m {\n"
  " data = table {\n  1 0 0 1 -> 0\n 0 1 1 0 -> 1\n 1 1 0 0 -> 0\n 0 0 1 1 -> 1\n }\n"
  " optimizer = %s\n batch = 2\n epochs = 1\n}\n";

typedef struct {
  Compilation c;
  Program p;
  Jit *j;
  const NnrtModel *m;
} Compiled;

/* Compiles the model (hidden width, optimizer) and links it on the JIT. */
static void compile(Compiled *out, int width, const char *optimizer) {
  static char source[2048];
  snprintf(source, sizeof source, source_fmt, width, optimizer);
  compilation_init(&out->c, "hash.nn", source, strlen(source), stderr);
  assert_true(compilation_front(&out->c));
  compilation_plan(&out->c, &out->p, "hash.nn");
  char err[1024];
  out->j = jit_new(err, sizeof err);
  assert_non_null(out->j);
  assert_true(jit_add(out->j, codegen_module(&out->p, jit_context(out->j), false), 0, err,
                      sizeof err));
  out->m = jit_lookup(out->j, "nn_model");
  assert_non_null(out->m);
}

static void release(Compiled *c) {
  jit_free(c->j);
  compilation_free(&c->c);
}

static void the_optimizer_changes_the_hash(void **state) {
  (void)state;
  Compiled sgd, adam;
  compile(&sgd, 5, "sgd(lr = 0.1)");
  compile(&adam, 5, "adam(lr = 0.1)");
  assert_true(sgd.m->model_hash == graph_hash(sgd.p.g));
  assert_true(sgd.m->model_hash != adam.m->model_hash);
  release(&sgd);
  release(&adam);
}

/* A checkpoint saved by a compiled model, then the printer's spacing changes and the model is
 * compiled again: the checkpoint loads. One of another model is still refused. */
static void a_checkpoint_loads_after_the_printer_changed(void **state) {
  (void)state;
  char err[1024];
  Compiled before;
  compile(&before, 5, "adam(lr = 0.1)");
  float *ws = nnrt_workspace_new(before.m);
  nnrt_init_params(before.m, ws, 7);
  const char *path = tmp_path("m.safetensors");
  assert_int_equal(nnrt_save(before.m, ws, path, err, sizeof err), 0);
  nnrt_workspace_free(ws);
  release(&before);

  spacing = 4;
  Compiled after, wider;
  compile(&after, 5, "adam(lr = 0.1)");
  compile(&wider, 6, "adam(lr = 0.1)");
  spacing = 1;
  ws = nnrt_workspace_new(after.m);
  nnrt_init_params(after.m, ws, 7);
  if (nnrt_load(after.m, ws, path, err, sizeof err) != 0)
    fail_msg("%s", err);
  nnrt_workspace_free(ws);
  ws = nnrt_workspace_new(wider.m);
  assert_int_not_equal(nnrt_load(wider.m, ws, path, err, sizeof err), 0);
  assert_non_null(strstr(err, "was saved by a different model"));
  nnrt_workspace_free(ws);
  release(&after);
  release(&wider);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(the_same_model_has_the_same_hash),
    cmocka_unit_test(shape_parameter_and_initialiser_change_the_hash),
    cmocka_unit_test(the_printers_are_not_in_the_hash),
    cmocka_unit_test(the_optimizer_changes_the_hash),
    cmocka_unit_test(a_checkpoint_loads_after_the_printer_changed),
  };
  return cmocka_run_group_tests(tests, setup_dir, teardown_dir);
}

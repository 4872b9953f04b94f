/* test_buffers: running statistics (g_buffer, NNRT_ROLE_BUFFER) and the training flag
 * (g_training, NNRT_NOISE_TRAINING), end to end: the builders' contract, the updates
 * optim_build adds, and the compiled model of buffer_model.h run through the runtime — the
 * momentum rule against a hand computation, the flag in step, evaluate and predict, weights
 * files, --init, an exact resume, `info`, and the descriptor checks. */
#include "test.h"

#include <math.h>
#include <signal.h>

#include "buffer_model.h"
#include "internal.h"
#include "nnrt_host.h"
#include "schedule.h"

#define TEST_TMP_DIR "/tmp/nnc-buffers-XXXXXX"
#include "runtime_fixture.h"

/* ---- helpers ---- */

static const NnrtParam *param_of(const NnrtModel *m, const char *name) {
  for (int32_t i = 0; i < m->n_params; i++)
    if (strcmp(m->params[i].name, name) == 0)
      return &m->params[i];
  fail_msg("no tensor '%s'", name);
  return NULL;
}

static void assert_close(double got, double want) {
  if (!(fabs(got - want) <= 1e-5 * fabs(want) + 1e-5))
    fail_msg("got %.9g, want %.9g", got, want);
}

static double dot_w(const float *ws, const NnrtParam *w, const float *x) {
  return (double)x[0] * ws[w->offset] + (double)x[1] * ws[w->offset + 1];
}

/* Σ rm + Σ rv: what evaluate and predict add to x·w. */
static double statistics_sum(const NnrtModel *m, const float *ws) {
  const NnrtParam *rm = param_of(m, "rm"), *rv = param_of(m, "rv");
  double s = 0;
  for (int j = 0; j < BM_WIDTH; j++)
    s += (double)ws[rm->offset + j] + (double)ws[rv->offset + j];
  return s;
}

/* Every weight, state and statistic of a and b is the same, bit for bit. */
static void assert_same_tensors(const NnrtModel *m, const float *a, const float *b) {
  for (int32_t i = 0; i < m->n_params; i++) {
    const NnrtParam *p = &m->params[i];
    if (memcmp(a + p->offset, b + p->offset, (size_t)p->size * sizeof(float)) != 0)
      fail_msg("tensor '%s' differs", p->name);
  }
}

static const NnrtNoise *training_flag(const NnrtModel *m) {
  for (int32_t i = 0; i < m->n_noise; i++)
    if (m->noise[i].kind == NNRT_NOISE_TRAINING)
      return &m->noise[i];
  fail_msg("no training flag");
  return NULL;
}

/* One epoch of steps through the embedding API, rows in order. */
static void train_epoch(NnrtContext *c) {
  for (int64_t start = 0; start < BM_ROWS; start += BM_BATCH) {
    int64_t n = BM_ROWS - start < BM_BATCH ? BM_ROWS - start : BM_BATCH;
    assert_true(isfinite(nnrt_context_train_batch(c, bm_x[start], &bm_y[start], n, 0.01f)));
  }
}

/* A safetensors file of F32 tensors (names, shapes [2] or [2, 1], two values each). */
static void write_weights(const char *path, int count, const char *const *names,
                          const int *rank, const float (*values)[2]) {
  char header[1024];
  size_t n = (size_t)snprintf(header, sizeof header, "{");
  for (int i = 0; i < count; i++)
    n += (size_t)snprintf(header + n, sizeof header - n,
                          "%s\"%s\":{\"dtype\":\"F32\",\"shape\":[2%s],\"data_offsets\":[%d,%d]}",
                          i ? "," : "", names[i], rank[i] == 2 ? ",1" : "", 8 * i, 8 * i + 8);
  n += (size_t)snprintf(header + n, sizeof header - n, "}");
  while (n % 8)
    header[n++] = ' ';
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  uint64_t len = n; /* little-endian hosts only, as the runtime's own tests assume */
  assert_int_equal(fwrite(&len, 8, 1, f), 1);
  assert_int_equal(fwrite(header, 1, n, f), n);
  for (int i = 0; i < count; i++)
    assert_int_equal(fwrite(values[i], sizeof(float), 2, f), 2);
  assert_int_equal(fclose(f), 0);
}

/* ---- the builders and the optimizer ---- */

typedef struct {
  Arena arena;
  Diag diag;
  Graph g;
  char *text;
  size_t len;
  FILE *out;
} Builder;

static void builder_open(Builder *b) {
  memset(b, 0, sizeof *b);
  arena_init(&b->arena);
  b->out = open_memstream(&b->text, &b->len);
  diag_init(&b->diag, NULL, b->out);
  b->diag.format = DIAG_TEST;
  graph_init(&b->g, &b->arena, &b->diag);
}

static const char *builder_close(Builder *b) {
  static char msg[1024];
  fclose(b->out);
  snprintf(msg, sizeof msg, "%s", b->text ? b->text : "");
  free(b->text);
  arena_free(&b->arena);
  return msg;
}

static void g_buffer_checks_its_shape_and_momentum(void **state) {
  (void)state;
  Builder b;
  builder_open(&b);
  Graph *g = &b.g;
  Node *x = g_leaf(g, OP_INPUT, "x", (Shape){2, {DIM_BATCH, 3}}, NODE_INPUT);
  Node *mean = bm_mean_rows(g, x);
  ParamInit zeros = {INIT_ZEROS, 0, 0, NULL};
  assert_null(g_buffer(g, "a", mean->shape, zeros, mean, 0));
  assert_null(g_buffer(g, "b", mean->shape, zeros, mean, 1.5));
  assert_null(g_buffer(g, "c", (Shape){1, {4}}, zeros, mean, 0.1));
  assert_null(g_buffer(g, "d", x->shape, zeros, x, 0.1)); /* a batch axis cannot live on */
  assert_null(g_buffer(g, "e", mean->shape, zeros, NULL, 0.1));
  Node *ok = g_buffer(g, "f", mean->shape, zeros, mean, 1);
  assert_non_null(ok);
  assert_true(ok->flags & NODE_BUFFER);
  assert_false(ok->flags & NODE_PARAM);
  ParamSlot *s = graph_slot(g, ok);
  assert_int_equal(s->role, ROLE_BUFFER);
  assert_ptr_equal(s->target, mean);
  assert_true(s->momentum == 1);
  assert_ptr_equal(g_training(g), g_training(g)); /* one per graph */
  assert_int_equal(g_training(g)->shape.rank, 0);
  assert_string_equal(builder_close(&b),
                      "error|nnc|0|0|running statistic 'a' has momentum 0, not in (0, 1]\n"
                      "error|nnc|0|0|running statistic 'b' has momentum 1.5, not in (0, 1]\n"
                      "error|nnc|0|0|running statistic 'c' [4] cannot follow a value [3]\n"
                      "error|nnc|0|0|running statistic 'd' [N, 3] has the batch axis; it "
                      "outlives batches\n");
}

/* No gradient; an update b + momentum·(target − b) built after every other node, scheduled
 * in the step only, after every kernel that reads b. */
static void the_optimizer_moves_buffers_after_everything_reads_them(void **state) {
  (void)state;
  BufferModel bm;
  bm_compile(&bm);
  const Graph *g = &bm.c.graph;
  uint32_t last_other = 0;
  const ParamSlot *buffers[2];
  int nb = 0;
  for (int i = 0; i < g->nparams; i++) {
    const ParamSlot *s = &g->params[i];
    if (s->role == ROLE_BUFFER) {
      buffers[nb++] = s;
      continue;
    }
    if (s->update && s->update->id > last_other)
      last_other = s->update->id;
  }
  assert_int_equal(nb, 2);
  for (int i = 0; i < nb; i++) {
    const Node *u = buffers[i]->update;
    assert_null(buffers[i]->grad);
    assert_non_null(u);
    assert_true(u->id > last_other);
    assert_true(u->flags & NODE_UPDATE);
    assert_int_equal(u->op, OP_ADD);
    assert_ptr_equal(u->src[0], buffers[i]->param);
    assert_true(node_is_const(u->src[1]->src[0], BM_MOMENTUM));
    assert_int_equal(u->src[1]->src[1]->op, OP_SUB);
    assert_ptr_equal(u->src[1]->src[1]->src[0], buffers[i]->target);
  }
  const Schedule *none[] = {&bm.p.evaluate, &bm.p.predict};
  for (int s = 0; s < 2; s++)
    for (int k = 0; k < none[s]->n; k++)
      assert_false(none[s]->kernel[k].root->flags & NODE_UPDATE);
  int moved = 0;
  for (int k = 0; k < bm.p.step.n; k++)
    moved += bm.p.step.kernel[k].root == buffers[0]->update;
  assert_int_equal(moved, 1);
  assert_true(sched_updates_in_place_safely(&bm.p.step, g));
  bm_free(&bm);
}

/* ---- the runtime ---- */

/* Every step moves rm and rv by 0.25 of the way to the batch's mean of x and of x²; the step's
 * outputs are x·w + 10 (the flag reads 1). */
static void a_step_moves_each_statistic_by_its_momentum(void **state) {
  (void)state;
  BufferModel bm;
  bm_compile(&bm);
  const NnrtModel *m = bm.m;
  NnrtContext *c = nnrt_context_new(m, 1);
  assert_non_null(c);
  float *ws = nnrt_context_workspace(c);
  const NnrtParam *w = param_of(m, "w"), *rm = param_of(m, "rm"), *rv = param_of(m, "rv");
  double mean[BM_WIDTH] = {0, 0}, square[BM_WIDTH] = {1, 1};
  for (int j = 0; j < BM_WIDTH; j++) { /* the initialisers: zeros and ones */
    assert_true(ws[rm->offset + j] == 0.0f);
    assert_true(ws[rv->offset + j] == 1.0f);
  }
  for (int epoch = 0; epoch < 2; epoch++)
    for (int64_t start = 0; start < BM_ROWS; start += BM_BATCH) {
      int64_t n = BM_ROWS - start < BM_BATCH ? BM_ROWS - start : BM_BATCH;
      float before[BM_WIDTH * 2];
      memcpy(before, ws + w->offset, sizeof(float) * BM_WIDTH);
      nnrt_context_train_batch(c, bm_x[start], &bm_y[start], n, 0.01f);
      for (int j = 0; j < BM_WIDTH; j++) {
        double sum = 0, sum2 = 0;
        for (int64_t r = start; r < start + n; r++) {
          sum += bm_x[r][j];
          sum2 += (double)bm_x[r][j] * bm_x[r][j];
        }
        mean[j] += BM_MOMENTUM * (sum / (double)n - mean[j]);
        square[j] += BM_MOMENTUM * (sum2 / (double)n - square[j]);
        assert_close(ws[rm->offset + j], mean[j]);
        assert_close(ws[rv->offset + j], square[j]);
      }
      for (int64_t r = 0; r < n; r++)
        assert_close(ws[m->output.offset + r],
                     (double)bm_x[start + r][0] * before[0] +
                       (double)bm_x[start + r][1] * before[1] + BM_TRAIN_TERM);
    }
  nnrt_context_free(c);
  bm_free(&bm);
}

/* predict and evaluate compute with the statistics (the flag reads 0) and leave them as they
 * are. */
static void evaluate_and_predict_read_the_statistics_and_keep_them(void **state) {
  (void)state;
  BufferModel bm;
  bm_compile(&bm);
  const NnrtModel *m = bm.m;
  NnrtContext *c = nnrt_context_new(m, 1);
  float *ws = nnrt_context_workspace(c);
  train_epoch(c);
  const NnrtParam *w = param_of(m, "w");
  float *snapshot = malloc(sizeof(float) * (size_t)m->workspace_floats);
  memcpy(snapshot, ws, sizeof(float) * (size_t)m->workspace_floats);
  double stats = statistics_sum(m, ws);
  assert_true(fabs(stats - 1.0 * 2) > 1); /* they moved away from their initial values */

  float x[2] = {0.5f, -2}, y;
  nnrt_context_predict(c, x, 1, &y);
  assert_close(y, dot_w(ws, w, x) + stats);
  assert_true(ws[training_flag(m)->offset] == 0.0f);
  assert_same_tensors(m, ws, snapshot);

  NnrtTrainData *td;
  assert_int_equal(nnrt_train_data_load(m, &td, err, sizeof err), NNRT_EXIT_OK);
  double loss, acc, want = 0;
  nnrt_evaluate_train_data(m, ws, td, NNRT_SET_TRAIN, &loss, &acc);
  for (int r = 0; r < BM_ROWS; r++) {
    double d = dot_w(ws, w, bm_x[r]) + stats - bm_y[r];
    want += d * d / BM_ROWS;
  }
  assert_close(loss, want);
  assert_true(ws[training_flag(m)->offset] == 0.0f);
  assert_same_tensors(m, ws, snapshot);
  nnrt_train_data_free(td);
  free(snapshot);
  nnrt_context_free(c);
  bm_free(&bm);
}

/* A weights file holds the statistics under their names; loading it (the embedding API, the
 * program's predict) gives them back exactly. */
static void the_weights_file_holds_the_statistics_and_predict_loads_them(void **state) {
  (void)state;
  BufferModel bm;
  bm_compile(&bm);
  const NnrtModel *m = bm.m;
  NnrtContext *c = nnrt_context_new(m, 1), *d = nnrt_context_new(m, 99);
  train_epoch(c);
  const char *path = tmp_path("bn.safetensors");
  assert_int_equal(nnrt_context_save(c, path, err, sizeof err), 0);
  char *file = test_read_file(path, NULL);
  assert_non_null(strstr(file + 8, "\"rm\":{\"dtype\":\"F32\",\"shape\":[2]"));
  assert_non_null(strstr(file + 8, "\"rv\":{\"dtype\":\"F32\",\"shape\":[2]"));
  assert_null(strstr(file + 8, "\"w.momentum\""));
  free(file);
  assert_int_equal(nnrt_context_load(d, path, err, sizeof err), 0);
  float *a = nnrt_context_workspace(c), *b = nnrt_context_workspace(d);
  const NnrtParam *rm = param_of(m, "rm"), *rv = param_of(m, "rv");
  assert_memory_equal(a + rm->offset, b + rm->offset, sizeof(float) * BM_WIDTH);
  assert_memory_equal(a + rv->offset, b + rv->offset, sizeof(float) * BM_WIDTH);

  float x[2] = {0.5f, -2}, y;
  nnrt_context_predict(c, x, 1, &y);
  assert_int_equal(RUN(m, "bn", "predict", "--weights", path, "0.5", "-2"), NNRT_EXIT_OK);
  assert_close(strtod(out_text, NULL), y);
  nnrt_context_free(c);
  nnrt_context_free(d);
  bm_free(&bm);
}

/* predict needs every statistic, as it needs every parameter; --init takes the parameters and
 * whichever statistics the file has, all finite. */
static void a_missing_statistic_is_an_error_to_load_and_kept_by_init(void **state) {
  (void)state;
  BufferModel bm;
  bm_compile(&bm);
  const NnrtModel *m = bm.m;
  float *ws = nnrt_workspace_new(m);
  nnrt_init_params(m, ws, 3);
  const NnrtParam *w = param_of(m, "w"), *rm = param_of(m, "rm"), *rv = param_of(m, "rv");
  const char *names[] = {"w", "rm", "rv"};
  const int rank[] = {2, 1, 1};
  const float values[][2] = {{3, 4}, {7, 8}, {NAN, 1}};
  const char *path = tmp_path("w-only.safetensors");
  write_weights(path, 1, names, rank, values);
  assert_int_not_equal(nnrt_load(m, ws, path, err, sizeof err), 0);
  char want[1200];
  snprintf(want, sizeof want, "cannot load '%s': tensor 'rm' is missing", path);
  assert_string_equal(err, want);

  assert_int_equal(nnrt_load_init(m, ws, path, err, sizeof err), NNRT_EXIT_OK);
  assert_true(ws[w->offset] == 3 && ws[w->offset + 1] == 4);
  assert_true(ws[rm->offset] == 0 && ws[rv->offset + 1] == 1);

  path = tmp_path("w-rm.safetensors");
  write_weights(path, 2, names, rank, values);
  assert_int_equal(nnrt_load_init(m, ws, path, err, sizeof err), NNRT_EXIT_OK);
  assert_true(ws[rm->offset] == 7 && ws[rm->offset + 1] == 8);
  assert_true(ws[rv->offset] == 1 && ws[rv->offset + 1] == 1);

  path = tmp_path("nan.safetensors");
  write_weights(path, 3, names, rank, values);
  assert_int_equal(nnrt_load_init(m, ws, path, err, sizeof err), NNRT_EXIT_NONFINITE);
  snprintf(want, sizeof want,
           "initial weight 'rv' has a non-finite value (nan) at index 0 (from '%s')", path);
  assert_string_equal(err, want);
  assert_true(ws[rv->offset] == 1); /* untouched */
  nnrt_workspace_free(ws);
  bm_free(&bm);
}

/* Early stopping keeps the best epoch's statistics with its weights. */
static void the_best_weights_include_the_statistics(void **state) {
  (void)state;
  BufferModel bm;
  bm_compile(&bm);
  const NnrtModel *m = bm.m;
  assert_int_equal(nnrt_weight_floats(m), 2 + 2 + 2); /* w, rm, rv: not w's momentum */
  NnrtContext *c = nnrt_context_new(m, 1);
  float *ws = nnrt_context_workspace(c), best[6];
  train_epoch(c);
  float *snapshot = malloc(sizeof(float) * (size_t)m->workspace_floats);
  memcpy(snapshot, ws, sizeof(float) * (size_t)m->workspace_floats);
  nnrt_copy_weights(m, ws, best, 1);
  train_epoch(c);
  nnrt_copy_weights(m, ws, best, 0);
  const char *weights[] = {"w", "rm", "rv"};
  for (int i = 0; i < 3; i++) {
    const NnrtParam *p = param_of(m, weights[i]);
    assert_memory_equal(ws + p->offset, snapshot + p->offset, sizeof(float) * (size_t)p->size);
  }
  free(snapshot);
  nnrt_context_free(c);
  bm_free(&bm);
}

typedef struct {
  int count, at;
} Interrupt;

static void interrupt_at(const NnrtStepReport *r, void *ctx) {
  (void)r;
  Interrupt *x = ctx;
  if (++x->count == x->at)
    raise(SIGINT);
}

/* nnrt_train_on over `epochs` on `threads` threads from ws (initialised first unless
 * resuming); SIGINT after step `stop_at` when it is > 0. */
static int run_on(const NnrtModel *m, float *ws, int64_t epochs, const char *save,
                  const char *resume, int stop_at, int threads) {
  NnrtTrainOptions o = nnrt_train_options(m);
  o.epochs = epochs;
  o.threads = threads;
  o.checkpoint_path = save;
  o.resume_path = resume;
  Interrupt x = {0, stop_at};
  if (stop_at > 0) {
    o.report.on_step = interrupt_at;
    o.report.ctx = &x;
  }
  if (!resume)
    nnrt_init_params(m, ws, o.seed);
  NnrtTrainData *td;
  assert_int_equal(nnrt_train_data_load(m, &td, err, sizeof err), NNRT_EXIT_OK);
  NnrtTrainResult res;
  nnrt_train_on(m, ws, &o, td, NULL, &res, err, sizeof err);
  nnrt_train_data_free(td);
  return res.status;
}

static int run(const NnrtModel *m, float *ws, int64_t epochs, const char *save,
               const char *resume, int stop_at) {
  return run_on(m, ws, epochs, save, resume, stop_at, 1);
}

/* A run stopped after whole epochs, or in the middle of one (SIGINT after step 5, at 3 steps
 * an epoch), and resumed from its checkpoint ends with the weights, statistics and optimizer
 * state of the run that never stopped, bit for bit; so does a run on three threads. */
static void a_resumed_run_ends_as_the_uninterrupted_one(void **state) {
  (void)state;
  BufferModel bm;
  bm_compile(&bm);
  const NnrtModel *m = bm.m;
  float *straight = nnrt_workspace_new(m), *resumed = nnrt_workspace_new(m);
  assert_int_equal(run(m, straight, 4, NULL, NULL, 0), NNRT_EXIT_OK);
  const char *path = tmp_path("run.safetensors");

  assert_int_equal(run(m, resumed, 2, path, NULL, 0), NNRT_EXIT_OK);
  memset(resumed, 0, sizeof(float) * (size_t)m->workspace_floats);
  nnrt_init_params(m, resumed, 1234);
  assert_int_equal(run(m, resumed, 4, NULL, path, 0), NNRT_EXIT_OK);
  assert_same_tensors(m, straight, resumed);

  assert_int_equal(run(m, resumed, 4, path, NULL, 5), NNRT_EXIT_INTERRUPTED);
  nnrt_init_params(m, resumed, 1234);
  assert_int_equal(run(m, resumed, 4, NULL, path, 0), NNRT_EXIT_OK);
  assert_same_tensors(m, straight, resumed);

  assert_int_equal(run_on(m, resumed, 4, NULL, NULL, 0, 3), NNRT_EXIT_OK); /* any threads */
  assert_same_tensors(m, straight, resumed);
  nnrt_workspace_free(straight);
  nnrt_workspace_free(resumed);
  bm_free(&bm);
}

/* info lists the statistics apart from the trained parameters, in its memory plan too. */
static void info_lists_the_statistics_apart(void **state) {
  (void)state;
  BufferModel bm;
  bm_compile(&bm);
  const NnrtModel *m = bm.m;
  int64_t params = 0;
  for (int32_t i = 0; i < m->n_layers; i++)
    params += m->layers[i].params;
  assert_int_equal(params, 2);
  assert_int_equal(m->mem_params, 2);
  assert_int_equal(m->mem_buffers, 4);
  FILE *f = tmpfile();
  nnrt_print_summary(m, f);
  const char *text = read_stream(f);
  assert_non_null(strstr(text, "\nRunning statistics (not trained, saved with the weights): "
                               "rm [2], rv [2]\n"));
  assert_non_null(strstr(text, "\n  running statistics       4 floats     16 B\n"));
  fclose(f);
  bm_free(&bm);
}

/* The runtime refuses a descriptor whose role or noise kind it does not know. */
static void the_runtime_rejects_a_bad_role_or_noise_kind(void **state) {
  (void)state;
  BufferModel bm;
  bm_compile(&bm);
  NnrtModel bad = *bm.m;
  NnrtParam params[8];
  NnrtNoise noise[1] = {*training_flag(bm.m)};
  assert_true(bad.n_params <= 8 && bad.n_noise == 1);
  memcpy(params, bad.params, sizeof(NnrtParam) * (size_t)bad.n_params);
  bad.params = params;
  bad.noise = noise;
  assert_int_equal(nnrt_check_model(&bad, err, sizeof err), 0);
  params[2].role = 9;
  assert_int_not_equal(nnrt_check_model(&bad, err, sizeof err), 0);
  assert_string_equal(err, "parameter 'rm' has a bad role 9");
  params[2].role = NNRT_ROLE_BUFFER;
  noise[0].kind = 7;
  assert_int_not_equal(nnrt_check_model(&bad, err, sizeof err), 0);
  assert_string_equal(err, "noise tensor 0 has a bad kind 7");
  noise[0].kind = NNRT_NOISE_TRAINING;
  noise[0].width = 2;
  assert_int_not_equal(nnrt_check_model(&bad, err, sizeof err), 0);
  assert_string_equal(err, "the training flag 0 has a bad offset, width or probability");
  bm_free(&bm);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(g_buffer_checks_its_shape_and_momentum),
    cmocka_unit_test(the_optimizer_moves_buffers_after_everything_reads_them),
    cmocka_unit_test(a_step_moves_each_statistic_by_its_momentum),
    cmocka_unit_test(evaluate_and_predict_read_the_statistics_and_keep_them),
    cmocka_unit_test(the_weights_file_holds_the_statistics_and_predict_loads_them),
    cmocka_unit_test(a_missing_statistic_is_an_error_to_load_and_kept_by_init),
    cmocka_unit_test(the_best_weights_include_the_statistics),
    cmocka_unit_test(a_resumed_run_ends_as_the_uninterrupted_one),
    cmocka_unit_test(info_lists_the_statistics_apart),
    cmocka_unit_test(the_runtime_rejects_a_bad_role_or_noise_kind),
  };
  return cmocka_run_group_tests(tests, setup_dir, teardown_dir);
}

/* test_descriptor: the descriptor round trip. Models whose train blocks set every setting to a
 * value other than its default (a CSV source with every argument, an IDX one, a table, every
 * learning-rate schedule, validation both ways, early stopping, checkpoints, classes) are
 * compiled and linked by the JIT; the NnrtModel the runtime then reads must hold, field by
 * field, what the compiler meant. That is `want`, an NnrtModel built here from the compiler's
 * own results (resolved settings, graph, plan, layer summary, the JIT's entry points), not from
 * descriptor.c. The comparison iterates the field lists of nnrt_fields.h, so a field added to
 * the ABI is compared without an edit here (a pointer field needs its same_<struct>_<field>,
 * or this does not compile), and a field want forgets to fill fails. */
#include "test.h"

#include <math.h>
#include <stdlib.h>

#include "codegen.h"
#include "driver.h"
#include "jit.h"
#include "nnrt.h"
#include "nnrt_host.h"
#include "summary.h"
#include "buffer_model.h"

#define TEST_TMP_DIR "/tmp/nnc-descriptor-XXXXXX"
#include "tmp_dir.h"

/* ---- Comparing a field by its kind ---- */

/* The struct being compared, for messages: "input", "train", a parameter's name... */
static const char *in = "model";

static void expect_int(const char *s, const char *f, int64_t got, int64_t want) {
  if (got != want)
    fail_msg("%s: %s.%s: the runtime reads %lld, the compiler meant %lld", in, s, f,
             (long long)got, (long long)want);
}
static void expect_uint(const char *s, const char *f, uint64_t got, uint64_t want) {
  if (got != want)
    fail_msg("%s: %s.%s: the runtime reads %llu, the compiler meant %llu", in, s, f,
             (unsigned long long)got, (unsigned long long)want);
}
/* Exact: a double goes through LLVM's constant unchanged. */
static void expect_f64(const char *s, const char *f, double got, double want) {
  if (memcmp(&got, &want, sizeof got) != 0)
    fail_msg("%s: %s.%s: the runtime reads %.17g, the compiler meant %.17g", in, s, f, got,
             want);
}
static void expect_str(const char *s, const char *f, const char *got, const char *want) {
  if (!got != !want || (got && strcmp(got, want) != 0))
    fail_msg("%s: %s.%s: the runtime reads '%s', the compiler meant '%s'", in, s, f,
             got ? got : "(null)", want ? want : "(null)");
}
static void expect_dims(const char *s, const char *f, const int64_t *got, const int64_t *want) {
  for (int i = 0; i < 4; i++)
    expect_int(s, f, got[i], want[i]);
}

static void same_slot(const char *f, const NnrtSlot *got, const NnrtSlot *want,
                      const NnrtModel *wm);
static void same_data(const char *f, const NnrtData *got, const NnrtData *want,
                      const NnrtModel *wm);

/* SAME_<KIND>(struct, field): got->field against want->field; wm is the whole wanted model. */
#define SAME_I32(S, F) expect_int(#S, #F, got->F, want->F)
#define SAME_I64(S, F) expect_int(#S, #F, got->F, want->F)
#define SAME_U64(S, F) expect_uint(#S, #F, got->F, want->F)
#define SAME_F64(S, F) expect_f64(#S, #F, got->F, want->F)
#define SAME_STR(S, F) expect_str(#S, #F, got->F, want->F)
#define SAME_DIMS(S, F) expect_dims(#S, #F, got->F, want->F)
#define SAME_SLOT(S, F) same_slot(#F, &got->F, &want->F, wm)
#define SAME_DATA(S, F) same_data(#F, &got->F, &want->F, wm)
#define SAME_PTR(S, F) same_##S##_##F(got, want, wm)

/* ---- Pointer fields: what they point to ---- */

static void same_floats(const char *what, const float *got, const float *want, int64_t n) {
  if (!got != !want)
    fail_msg("%s: %s", what, got ? "an array where none was meant" : "no array");
  for (int64_t i = 0; want && i < n; i++)
    if (memcmp(&got[i], &want[i], sizeof *got) != 0)
      fail_msg("%s[%lld]: %.9g, the compiler meant %.9g", what, (long long)i, (double)got[i],
               (double)want[i]);
}
static void same_ints(const char *what, const int32_t *got, const int32_t *want, int32_t n) {
  for (int32_t i = 0; i < n; i++)
    expect_int(what, "[i]", got[i], want[i]);
}

static void same_param_values(const NnrtParam *got, const NnrtParam *want, const NnrtModel *wm) {
  (void)wm;
  same_floats(want->name, got->values, want->values, want->size);
}
#define PARAM_SAME(kind, ctype, F) SAME_##kind(param, F);
static void same_model_params(const NnrtModel *gotm, const NnrtModel *wantm,
                              const NnrtModel *wm) {
  for (int32_t i = 0; i < wantm->n_params; i++) {
    const NnrtParam *got = &gotm->params[i], *want = &wantm->params[i];
    in = want->name;
    NNRT_PARAM_FIELDS(PARAM_SAME)
  }
  in = "model";
}
#define NOISE_SAME(kind, ctype, F) SAME_##kind(noise, F);
static void same_model_noise(const NnrtModel *gotm, const NnrtModel *wantm,
                              const NnrtModel *wm) {
  (void)wm;
  for (int32_t i = 0; i < wantm->n_noise; i++) {
    const NnrtNoise *got = &gotm->noise[i], *want = &wantm->noise[i];
    NNRT_NOISE_FIELDS(NOISE_SAME)
  }
}
#define LAYER_SAME(kind, ctype, F) SAME_##kind(layer, F);
static void same_model_layers(const NnrtModel *gotm, const NnrtModel *wantm,
                              const NnrtModel *wm) {
  (void)wm;
  for (int32_t i = 0; i < wantm->n_layers; i++) {
    const NnrtLayer *got = &gotm->layers[i], *want = &wantm->layers[i];
    NNRT_LAYER_FIELDS(LAYER_SAME)
  }
}
#define CHECK_SAME(kind, ctype, F) SAME_##kind(check, F);
static void same_model_checks(const NnrtModel *gotm, const NnrtModel *wantm,
                              const NnrtModel *wm) {
  (void)wm;
  for (int32_t i = 0; i < wantm->n_checks; i++) {
    const NnrtCheck *got = &gotm->checks[i], *want = &wantm->checks[i];
    NNRT_CHECK_FIELDS(CHECK_SAME)
  }
}
/* The entry points are the JIT's own symbols. */
#define SAME_ENTRY(F)                                                                            \
  static void same_model_##F(const NnrtModel *got, const NnrtModel *want,                       \
                             const NnrtModel *wm) {                                             \
    (void)wm;                                                                                   \
    assert_true(got->F == want->F);                                                             \
  }
SAME_ENTRY(step)
SAME_ENTRY(evaluate)
SAME_ENTRY(predict)
SAME_ENTRY(predict_head)
SAME_ENTRY(predict_tail)
/* The kernels are internal to the module: there are n_step_kernels of them, and step is
 * exactly them in order (test_codegen and test_runtime run both ways). */
static void same_model_step_kernels(const NnrtModel *got, const NnrtModel *want,
                                    const NnrtModel *wm) {
  (void)wm;
  assert_int_equal(!got->step_kernels, !want->n_step_kernels);
  for (int32_t k = 0; k < got->n_step_kernels; k++)
    assert_non_null(got->step_kernels[k]);
}

/* A table's x holds input.width floats a row, y target.width (or one label for classes). */
static void same_data_x(const NnrtData *got, const NnrtData *want, const NnrtModel *wm) {
  same_floats("data.x", got->x, want->x, want->rows * wm->input.width);
}
static void same_data_y(const NnrtData *got, const NnrtData *want, const NnrtModel *wm) {
  same_floats("data.y", got->y, want->y, want->rows * (wm->n_classes ? 1 : wm->target.width));
}
static void same_data_x_cols(const NnrtData *got, const NnrtData *want, const NnrtModel *wm) {
  (void)wm;
  same_ints("data.x_cols", got->x_cols, want->x_cols, want->n_x_cols);
}
static void same_data_y_cols(const NnrtData *got, const NnrtData *want, const NnrtModel *wm) {
  (void)wm;
  same_ints("data.y_cols", got->y_cols, want->y_cols, want->n_y_cols);
}
static void same_data_class_names(const NnrtData *got, const NnrtData *want,
                                  const NnrtModel *wm) {
  (void)wm;
  for (int32_t i = 0; i < want->n_class_names; i++)
    expect_str("data", "class_names[i]", got->class_names[i], want->class_names[i]);
}

#define SLOT_SAME(kind, ctype, F) SAME_##kind(slot, F);
static void same_slot(const char *f, const NnrtSlot *got, const NnrtSlot *want,
                      const NnrtModel *wm) {
  (void)wm;
  const char *outer = in;
  in = f;
  NNRT_SLOT_FIELDS(SLOT_SAME)
  in = outer;
}
#define DATA_SAME(kind, ctype, F) SAME_##kind(data, F);
static void same_data(const char *f, const NnrtData *got, const NnrtData *want,
                      const NnrtModel *wm) {
  const char *outer = in;
  in = f;
  NNRT_DATA_FIELDS(DATA_SAME)
  in = outer;
}
#define MODEL_SAME(kind, ctype, F) SAME_##kind(model, F);
static void same_model(const NnrtModel *got, const NnrtModel *want) {
  const NnrtModel *wm = want;
  NNRT_MODEL_FIELDS(MODEL_SAME)
}

/* ---- What the compiler meant, from its own results ---- */

typedef struct {
  const Program *p;
  Jit *j;
  NnrtModel m;
  NnrtParam params[64];
  NnrtNoise noise[8];
  NnrtLayer layers[32];
  NnrtCheck checks[256];
  int32_t cols[2][2][16]; /* data, validate; x, y */
} Want;

static NnrtSlot want_slot(const Program *p, const Node *n, const char *role) {
  if (!n)
    return (NnrtSlot){.name = "", .offset = -1, .width = 0};
  return (NnrtSlot){.name = n->name ? n->name : role, .offset = p->plan.offset[n->id],
                    .width = shape_numel(&n->shape, 1)};
}

static void want_dims(int64_t *dim, const Shape *s, int from) {
  for (int i = from; i < s->rank; i++)
    dim[i - from] = s->dim[i];
}

static NnrtData want_data(Want *w, const DataSettings *d, int which) {
  bool table = d->kind == DATA_TABLE && w->p->can_train;
  NnrtData out = {
    .kind = (int32_t)d->kind, .rows = table ? d->rows : 0, .x = table ? d->x : NULL,
    .y = table ? d->y : NULL, .path = d->path, .labels_path = d->labels_path,
    .header = d->header, .delimiter = d->delimiter ? d->delimiter : ',',
    .n_x_cols = d->n_x_cols, .x_cols = w->cols[which][0], .n_y_cols = d->n_y_cols,
    .y_cols = w->cols[which][1], .n_class_names = d->n_class_names,
    .class_names = (const char *const *)d->class_names, .scaling = (int32_t)d->scaling,
    .scale = d->scale, .one_vs_rest = d->one_vs_rest, .positive = d->positive,
  };
  assert_true(d->n_x_cols <= 16 && d->n_y_cols <= 16);
  for (int i = 0; i < d->n_x_cols; i++)
    w->cols[which][0][i] = d->x_cols[i];
  for (int i = 0; i < d->n_y_cols; i++)
    w->cols[which][1][i] = d->y_cols[i];
  return out;
}

static void want_params(Want *w) {
  const Graph *g = w->p->g;
  int n = 0;
  for (int role = ROLE_PARAM; role <= ROLE_BUFFER; role++)
    for (int i = 0; i < g->nparams; i++) {
      const ParamSlot *ps = &g->params[i];
      if ((int)ps->role != role || w->p->plan.offset[ps->param->id] < 0)
        continue;
      assert_true(n < 64);
      NnrtParam *q = &w->params[n++];
      *q = (NnrtParam){.name = ps->param->name, .offset = w->p->plan.offset[ps->param->id],
                       .size = shape_numel(&ps->param->shape, 1), .rank = ps->param->shape.rank,
                       .init = (int32_t)ps->init.kind, .a = ps->init.a, .b = ps->init.b,
                       .values = ps->init.kind == INIT_VALUES ? ps->init.values : NULL,
                       .role = (int32_t)ps->role};
      want_dims(q->dim, &ps->param->shape, 0);
    }
  w->m.n_params = n;
  w->m.params = w->params;
}

/* The dropout masks, then the training flag when a schedule reads it. */
static void want_noise_and_layers(Want *w) {
  const Program *p = w->p;
  int n_noise = 0;
  assert_true(p->g->nnoise < 8);
  for (int i = 0; i <= p->g->nnoise; i++) {
    const Node *n = i < p->g->nnoise ? p->g->noise[i] : p->g->training;
    if (n && p->plan.offset[n->id] >= 0)
      w->noise[n_noise++] = (NnrtNoise){
        .kind = n == p->g->training ? NNRT_NOISE_TRAINING : NNRT_NOISE_DROPOUT,
        .offset = p->plan.offset[n->id], .width = shape_numel(&n->shape, 1), .p = n->arg.k};
  }
  w->m.n_noise = n_noise;
  w->m.noise = w->noise;
  LayerSummary *ls;
  int n = summary_layers(p->g, &ls);
  assert_true(n <= 32);
  for (int i = 0; i < n; i++) {
    const Shape *s = &ls[i].node->shape;
    w->layers[i] = (NnrtLayer){.name = ls[i].node->name ? ls[i].node->name : "output",
                               .op = ls[i].kind,
                               .rank = s->rank - shape_has_batch(s), .params = ls[i].params,
                               .flops = ls[i].flops};
    want_dims(w->layers[i].dim, s, shape_has_batch(s));
  }
  w->m.n_layers = n;
  w->m.layers = w->layers;
}

/* Whether x is a parameter's gradient that the parameter's update tests. */
static int32_t tested_gradient(const Program *p, const Node *x) {
  for (int i = 0; i < p->g->nparams; i++)
    if (p->g->params[i].grad == x && p->g->params[i].update)
      return plan_update_gradient(p, p->g->params[i].update) == x;
  return 0;
}

static void want_checks(Want *w) {
  const Schedule *s = &w->p->step;
  int n = w->p->can_train ? s->n : 0;
  assert_true(n <= 256);
  int32_t group = -1;
  w->m.first_update_group = -1;
  for (int k = 0; k < n; k++) {
    const Node *x = s->kernel[k].root;
    group += !s->kernel[k].joins_previous;
    if ((x->flags & NODE_UPDATE) && w->m.first_update_group < 0)
      w->m.first_update_group = group;
    w->checks[k] = (NnrtCheck){.offset = s->kernel[k].out, .width = shape_numel(&x->shape, 1),
                               .per_row = shape_has_batch(&x->shape),
                               .line = (int32_t)x->loc.line, .col = (int32_t)x->loc.col,
                               .what = codegen_value_words(w->p->g, x), .group = group,
                               .tested = tested_gradient(w->p, x)};
  }
  w->m.n_checks = n;
  w->m.checks = w->checks;
}

static void want_memory(Want *w) {
  const Graph *g = w->p->g;
  for (int i = 0; i < g->nparams; i++) {
    int64_t size = shape_numel(&g->params[i].param->shape, 1);
    if (g->params[i].role == ROLE_PARAM)
      w->m.mem_params += size;
    else if (g->params[i].role == ROLE_STATE)
      w->m.mem_state += size;
    else if (g->params[i].role == ROLE_BUFFER)
      w->m.mem_buffers += size;
  }
  w->m.mem_other = w->p->plan.total - w->m.mem_params - w->m.mem_state - w->m.mem_buffers;
}

static int64_t want_offset(const Program *p, const Node *n) {
  return p->can_train && n ? p->plan.offset[n->id] : -1;
}

static void want_model(Want *w) {
  const Program *p = w->p;
  const Graph *g = p->g;
  const TrainSettings *t = p->train;
  w->m = (NnrtModel){
    .abi_version = NNRT_ABI_VERSION, .name = p->name, .source = p->source_name,
    .workspace_floats = p->plan.total, .max_batch = p->plan.max_batch,
    .predict_rows = p->predict_rows,
    .predict_head = (NnrtStepFn)jit_lookup(w->j, "nn_predict_head"),
    .predict_tail = (NnrtStepFn)jit_lookup(w->j, "nn_predict_tail"),
    .predict_cut_offset = p->predict_cut_node ? p->plan.offset[p->predict_cut_node->id] : -1,
    .predict_cut_width = p->predict_cut_node ? shape_numel(&p->predict_cut_node->shape, 1) : 0,
    .input = want_slot(p, g->input, "input"),
    .target = want_slot(p, p->can_train ? g->target : NULL, "target"),
    .output = want_slot(p, g->output, "output"), .loss_offset = want_offset(p, g->loss),
    .lr_offset = want_offset(p, g->lr), .step_offset = want_offset(p, g->step),
    .n_classes = p->n_classes, .metric = g->metric, .has_train = p->can_train,
    .epochs = t->epochs, .batch = t->batch, .log_every = t->log_every, .seed = t->seed,
    .shuffle = t->shuffle, .lr = t->opt.lr, .lr_schedule = (int32_t)t->lr_schedule.kind,
    .lr_schedule_a = t->lr_schedule.a, .lr_schedule_b = t->lr_schedule.b,
    .warmup_epochs = t->lr_schedule.warmup_epochs, .train = want_data(w, &t->data, 0),
    .validate = want_data(w, &t->validate, 1), .validation_split = t->validation_split,
    .early_stopping = t->early_stopping, .checkpoint_every = t->checkpoint_every,
    .step = (NnrtStepFn)jit_lookup(w->j, "nn_step"),
    .evaluate = (NnrtStepFn)jit_lookup(w->j, "nn_evaluate"),
    .predict = (NnrtStepFn)jit_lookup(w->j, "nn_predict"), .model_hash = graph_hash(g),
    .n_step_kernels = p->can_train ? sched_groups(&p->step) : 0,
    .nonfinite_offset = p->can_train ? p->nonfinite_offset : -1,
  };
  want_params(w);
  want_noise_and_layers(w);
  want_checks(w);
  want_memory(w);
}

/* ---- The models ---- */

static void write_file(const char *path, const void *bytes, size_t n) {
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  assert_int_equal(fwrite(bytes, 1, n, f), n);
  assert_int_equal(fclose(f), 0);
}

/* IDX files: count records of `width` unsigned bytes (inputs), or labels (width 0). */
static void write_idx(const char *path, int count, int width, int classes) {
  unsigned char b[256] = {0, 0, 8, width ? 2 : 1, 0, 0, 0, (unsigned char)count};
  size_t n = 8;
  if (width)
    b[n++] = 0, b[n++] = 0, b[n++] = 0, b[n++] = (unsigned char)width;
  for (int r = 0; r < count; r++)
    for (int k = 0; k < (width ? width : 1); k++)
      b[n++] = (unsigned char)(width ? (r * 37 + k * 11) % 256 : r % classes);
  write_file(path, b, n);
}

static char *printf_source(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *printf_source(const char *fmt, ...) {
  static char buf[8192];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  return buf;
}

/* The runtime's descriptor m of the program p linked on j against the compiler's meaning. */
static void same_as_meant(const NnrtModel *m, const Program *p, Jit *j) {
  static Want w;
  memset(&w, 0, sizeof w);
  w.p = p;
  w.j = j;
  want_model(&w);
  same_model(m, &w.m);
}

/* Compiles source, links it on the JIT and compares the runtime's descriptor with the
 * compiler's meaning; check() then asserts the source's settings arrived (not the defaults). */
static void round_trip(const char *source, void (*check)(const NnrtModel *m)) {
  Compilation c;
  compilation_init(&c, "desc.nn", source, strlen(source), stderr);
  assert_true(compilation_front(&c));
  Program p;
  compilation_plan(&c, &p, "desc.nn");
  char err[1024];
  Jit *j = jit_new(err, sizeof err);
  assert_non_null(j);
  assert_true(jit_add(j, codegen_module(&p, jit_context(j), false), 0, err, sizeof err));
  const NnrtModel *m = jit_lookup(j, "nn_model");
  assert_non_null(m);
  same_as_meant(m, &p, j);
  check(m);
  jit_free(j);
  compilation_free(&c);
}

static const char classifier[] =
  "model clf {\n input x[3]\n target y : class(3)\n h = dense(x, 4, relu)\n"
  " d = dropout(h, 0.25)\n z = dense(d, 3)\n loss = cross_entropy(softmax(z), y)\n"
  " output softmax(z)\n}\n";

static void csv_settings_arrive(const NnrtModel *m) {
  assert_int_equal(m->train.kind, NNRT_DATA_CSV);
  assert_int_equal(m->train.header, 1);
  assert_int_equal(m->train.delimiter, ';');
  assert_int_equal(m->train.n_x_cols, 3);
  assert_int_equal(m->train.x_cols[0], 2);
  assert_int_equal(m->train.y_cols[0], 3);
  assert_string_equal(m->train.class_names[2], "hi");
  assert_int_equal(m->train.scaling, NNRT_SCALE_FACTOR);
  assert_true(m->train.scale == 0.5);
  assert_int_equal(m->validate.kind, NNRT_DATA_IDX);
  assert_int_equal(m->validate.scaling, NNRT_SCALE_STANDARDIZE);
  assert_int_equal(m->n_classes, 3);
  assert_int_equal(m->metric, NNRT_METRIC_ARGMAX);
  assert_int_equal(m->epochs, 7);
  assert_int_equal(m->batch, 5);
  assert_int_equal(m->log_every, 3);
  assert_int_equal(m->seed, 42);
  assert_int_equal(m->shuffle, 0);
  assert_true(m->lr == 0.003);
  assert_int_equal(m->lr_schedule, NNRT_LR_STEP);
  assert_true(m->lr_schedule_a == 0.25 && m->lr_schedule_b == 3);
  assert_true(m->warmup_epochs == 1.5);
  assert_int_equal(m->early_stopping, 4);
  assert_int_equal(m->checkpoint_every, 2);
  assert_int_equal(m->n_noise, 1);
}

/* A CSV source with every argument, IDX validation, a step schedule with warm-up, early
 * stopping and checkpoints, on a classifier with dropout. */
static void csv_and_idx_round_trip(void **state) {
  (void)state;
  const char *csv = "a;b;c;label\n1;2;3;lo\n4;5;6;mid\n7;8;9;hi\n1;1;1;lo\n";
  write_file(tmp_path("d.csv"), csv, strlen(csv));
  write_idx(tmp_path("v-images"), 4, 3, 0);
  write_idx(tmp_path("v-labels"), 4, 0, 3);
  round_trip(printf_source("%strain clf {\n"
                           " data = csv(\"%s\", header = true, delimiter = \";\","
                           " features = [2, 0, 1], targets = [3],"
                           " classes = [\"lo\", \"mid\", \"hi\"], scale = 0.5)\n"
                           " validate = idx(\"%s\", \"%s\", standardize = true)\n"
                           " optimizer = adam(lr = 0.003)\n"
                           " schedule = step(factor = 0.25, every = 3)\n warmup = 1.5\n"
                           " epochs = 7\n batch = 5\n shuffle = false\n seed = 42\n"
                           " log_every = 3\n early_stopping = 4\n checkpoint_every = 2\n}\n",
                           classifier, tmp_path("d.csv"), tmp_path("v-images"),
                           tmp_path("v-labels")),
             csv_settings_arrive);
}

static void idx_settings_arrive(const NnrtModel *m) {
  assert_int_equal(m->train.kind, NNRT_DATA_IDX);
  assert_int_equal(m->train.one_vs_rest, 1);
  assert_int_equal(m->train.positive, 2);
  assert_true(m->train.scale == 0.125);
  assert_true(m->validation_split == 0.3);
  assert_int_equal(m->lr_schedule, NNRT_LR_COSINE);
  assert_true(m->lr_schedule_a == 0.1);
  assert_int_equal(m->metric, NNRT_METRIC_BINARY);
}

/* IDX with one class against the rest, validation_split, a cosine schedule. */
static void idx_one_vs_rest_round_trip(void **state) {
  (void)state;
  write_idx(tmp_path("t-images"), 10, 3, 0);
  write_idx(tmp_path("t-labels"), 10, 0, 4);
  round_trip(printf_source("model bin {\n input x[3]\n target y[1]\n z = dense(x, 1)\n"
                           " loss = binary_cross_entropy(sigmoid(z), y)\n output sigmoid(z)\n}\n"
                           "train bin {\n data = idx(\"%s\", \"%s\", positive = 2, scale = 0.125)\n"
                           " validation_split = 0.3\n schedule = cosine(final = 0.1)\n"
                           " optimizer = sgd(lr = 0.2, momentum = 0.5)\n epochs = 2\n}\n",
                           tmp_path("t-images"), tmp_path("t-labels")),
             idx_settings_arrive);
}

static void table_settings_arrive(const NnrtModel *m) {
  assert_int_equal(m->train.kind, NNRT_DATA_TABLE);
  assert_int_equal(m->train.rows, 4);
  assert_int_equal(m->validate.kind, NNRT_DATA_TABLE);
  assert_int_equal(m->validate.rows, 2);
  assert_int_equal(m->lr_schedule, NNRT_LR_EXPONENTIAL);
  assert_true(m->lr_schedule_a == 0.9);
  assert_int_equal(m->n_params, 2 + 4 + 1); /* W, b, Adam's two moments of each, [0.5, 2] */
  assert_int_equal(m->params[6].role, NNRT_ROLE_CONST);
}

/* Tables (their rows are in the program), exponential decay, constants and Adam's state. */
static void table_round_trip(void **state) {
  (void)state;
  round_trip("model reg {\n input x[2]\n target y[1]\n param W[2, 1] = normal(0, 0.5)\n"
             " param b[1] = 0.25\n out = (x * [0.5, 2]) @ W + b\n"
             " loss = mse(out, y)\n output out\n}\n"
             "train reg {\n data = table {\n  1 2 -> 3\n  2 3 -> 5\n  3 4 -> 7\n  4 5 -> 9\n }\n"
             " validate = table {\n  5 6 -> 11\n  6 7 -> 13\n }\n"
             " optimizer = adam(lr = 0.05)\n schedule = exponential(rate = 0.9)\n}\n",
             table_settings_arrive);
}

/* A model without a train block: the training fields stay off. */
static void predict_only_settings(const NnrtModel *m) {
  assert_int_equal(m->has_train, 0);
  assert_int_equal(m->loss_offset, -1);
  assert_null(m->step);
}

static void predict_only_round_trip(void **state) {
  (void)state;
  round_trip("model p {\n input x[2]\n param W[2, 3] = uniform(-1, 2)\n output x @ W\n}\n",
             predict_only_settings);
}

/* A model whose hidden layer is 100,000 wide: a row's forward values pass 2^19 floats for the
 * batch of 16, so predict is cut after it and its head takes fewer rows at a time; with the
 * mean over the rows (the batch axis) in its output, neither (a chunk would change each row's
 * answer). */
static const char wide[] =
  "model w {\n input x[2]\n target y[1]\n h = dense(x, 100000, relu)\n"
  " z = dense(dropout(h, 0.5), 1)\n"
  " loss = mse(z, y)\n output %s\n}\ntrain w {\n data = table { 0 1 -> 1; 1 0 -> 0 }\n"
  " optimizer = sgd(lr = 0.1)\n batch = 16\n}\n";

/* 13 rows (chunks of predict_rows and a short one) predict the same bytes as predict on all
 * 13 at once. */
static void predicts_as_on_all_rows(const NnrtModel *m) {
  enum { ROWS = 13 };
  assert_true(m->predict_rows >= 1 && m->predict_rows < ROWS && ROWS % m->predict_rows);
  int64_t width = m->output.width;
  float x[ROWS * 2], *chunked = malloc(sizeof(float) * ROWS * (size_t)width);
  float *whole = malloc(sizeof(float) * ROWS * (size_t)width);
  assert_true(chunked && whole);
  for (int i = 0; i < ROWS * 2; i++)
    x[i] = (float)sin(1.7 * i);
  float *ws = nnrt_workspace_new(m);
  assert_non_null(ws);
  nnrt_init_params(m, ws, 7);
  nnrt_predict_rows(m, ws, x, ROWS, chunked);
  memcpy(ws + m->input.offset, x, sizeof x);
  m->predict(ws, ROWS);
  memcpy(whole, ws + m->output.offset, sizeof(float) * ROWS * (size_t)width);
  assert_memory_equal(chunked, whole, sizeof(float) * ROWS * (size_t)width);
  nnrt_workspace_free(ws);
  free(chunked);
  free(whole);
}

/* The head (dense 100,000 and its ReLU) takes a few of the 16 rows at a time, the tail (the
 * dropout, all ones when predicting, and the last dense layer) all of them, reading h. */
static void predicts_in_chunks(const NnrtModel *m) {
  assert_int_equal(m->max_batch, 16);
  assert_non_null(m->predict_head);
  assert_non_null(m->predict_tail);
  assert_int_equal(m->predict_cut_width, 100000);
  predicts_as_on_all_rows(m);
}

/* With h itself the output, nothing after it fits for all rows: no cut, predict in chunks. */
static void predicts_in_chunks_uncut(const NnrtModel *m) {
  assert_null(m->predict_head);
  predicts_as_on_all_rows(m);
}

static void predicts_all_rows(const NnrtModel *m) {
  assert_int_equal(m->predict_rows, 16);
  assert_null(m->predict_head);
}

static void wide_predict_round_trip(void **state) {
  (void)state;
  round_trip(printf_source(wide, "z"), predicts_in_chunks);
  round_trip(printf_source(wide, "h"), predicts_in_chunks_uncut);
  round_trip(printf_source(wide, "z - mean(z, axis = 0, keepdims = true)"), predicts_all_rows);
}

/* Running statistics and the training flag (buffer_model.h), with a dropout mask grafted too so
 * both kinds of noise are in one descriptor: buffers after the parameters and the momentum's
 * state, the flag after the masks. */
static void buffers_and_training_flag_round_trip(void **state) {
  (void)state;
  BufferModel bm;
  compilation_init(&bm.c, "bn.nn", bm_source, strlen(bm_source), stderr);
  assert_true(compilation_run(&bm.c, STAGE_LOWER));
  Graph *g = &bm.c.graph;
  g->output = g_mul(g, g->output, g_noise(g, g->output->shape, 0.125));
  bm_graft(g);
  assert_true(compilation_run(&bm.c, STAGE_OPTIM));
  compilation_plan(&bm.c, &bm.p, "bn.nn");
  char err[1024];
  bm.j = jit_new(err, sizeof err);
  assert_non_null(bm.j);
  assert_true(jit_add(bm.j, codegen_module(&bm.p, jit_context(bm.j), false), 0, err, sizeof err));
  const NnrtModel *m = jit_lookup(bm.j, "nn_model");
  assert_non_null(m);
  same_as_meant(m, &bm.p, bm.j);
  assert_int_equal(m->n_params, 4); /* w, w's momentum, rm, rv */
  assert_string_equal(m->params[2].name, "rm");
  assert_int_equal(m->params[2].role, NNRT_ROLE_BUFFER);
  assert_int_equal(m->params[3].init, NNRT_INIT_ONES);
  assert_int_equal(m->mem_buffers, 4);
  assert_int_equal(m->n_noise, 2);
  assert_int_equal(m->noise[0].kind, NNRT_NOISE_DROPOUT);
  assert_int_equal(m->noise[1].kind, NNRT_NOISE_TRAINING);
  assert_int_equal(m->noise[1].width, 1);
  assert_int_equal(nnrt_check_model(m, err, sizeof err), 0);
  bm_free(&bm);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(csv_and_idx_round_trip),
    cmocka_unit_test(idx_one_vs_rest_round_trip),
    cmocka_unit_test(table_round_trip),
    cmocka_unit_test(predict_only_round_trip),
    cmocka_unit_test(wide_predict_round_trip),
    cmocka_unit_test(buffers_and_training_flag_round_trip),
  };
  return cmocka_run_group_tests(tests, setup_dir, teardown_dir);
}

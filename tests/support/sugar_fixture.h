/* sugar_fixture: what the suites of the lowering's sugar (test_sugar, test_image_sugar) share —
 * a model compiled from source text to its optimised graph with diagnostics captured, its
 * leaves filled with reproducible values, run by the reference interpreter (in double), and the
 * derived gradients checked against central finite differences. */
#ifndef NNC_SUGAR_FIXTURE_H
#define NNC_SUGAR_FIXTURE_H
#include "test.h"

#include <math.h>

#include "driver.h"
#include "gradcheck.h"
#include "interp.h"

static uint64_t rng_state = 0x2545f4914f6cdd1du;
static inline double uniform(double lo, double hi) { return test_uniform(&rng_state, lo, hi); }

typedef struct {
  Compilation c;
  char *diag_text;
  size_t diag_len;
  FILE *diag_out;
  int classes;
} Fixture;

/* The front end (compilation_run), with the model's class count forced to `classes` (> 0) after
 * the checks so that class targets are tested with `target Y[K]` whatever the parser of the day
 * supports. */
static inline bool front(Fixture *f, const char *src, int classes) {
  memset(f, 0, sizeof *f);
  f->classes = classes;
  f->diag_out = open_memstream(&f->diag_text, &f->diag_len);
  Compilation *c = &f->c;
  compilation_init(c, "t.nn", src, strlen(src), f->diag_out);
  c->diag.format = DIAG_TEST;
  if (!compilation_run(c, STAGE_CHECK))
    return false;
  if (classes)
    c->model->n_classes = classes;
  f->classes = c->model->n_classes;
  return compilation_run(c, STAGE_OPTIM);
}

static inline const char *diags(Fixture *f) {
  fflush(f->diag_out);
  return f->diag_text ? f->diag_text : "";
}

static inline void fixture_free(Fixture *f) {
  fclose(f->diag_out);
  free(f->diag_text);
  compilation_free(&f->c);
}

static inline void front_ok(Fixture *f, const char *src, int classes) {
  if (!front(f, src, classes))
    fail_msg("does not compile:\n%s\n--- diagnostics:\n%s", src, diags(f));
}

static inline const Node *named(const Graph *g, const char *name) {
  for (uint32_t i = 0; i < g->n; i++)
    if (g->node[i]->name && !strcmp(g->node[i]->name, name))
      return g->node[i];
  fail_msg("no node named %s", name);
  return NULL;
}

static inline const ParamSlot *slot_named(const Graph *g, const char *name) {
  for (int i = 0; i < g->nparams; i++)
    if (!strcmp(g->params[i].param->name, name))
      return &g->params[i];
  return NULL;
}

/* Inputs and targets in [lo, hi] (class targets one-hot), parameters in [lo, hi], constant
 * tensors their values, dropout masks random in [0.5, 2]. */
static inline void fill(Fixture *f, Interp *it, double lo, double hi) {
  const Graph *g = &f->c.graph;
  for (uint32_t i = 0; i < g->n; i++) {
    const Node *n = g->node[i];
    if (n->op != OP_INPUT && n->op != OP_PARAM)
      continue;
    double *v = interp_value(it, n);
    int64_t size = shape_numel(&n->shape, it->batch);
    const ParamSlot *s = n->op == OP_PARAM ? graph_slot(g, n) : NULL;
    if (s && s->role == ROLE_CONST) {
      for (int64_t k = 0; k < size; k++)
        v[k] = s->init.values[k];
    } else if (n == g->target && f->classes) {
      for (int64_t k = 0; k < size; k++)
        v[k] = 0;
      for (int64_t r = 0; r < it->batch; r++)
        v[r * f->classes + (int64_t)uniform(0, f->classes)] = 1;
    } else {
      bool noise = n->flags & NODE_NOISE;
      for (int64_t k = 0; k < size; k++)
        v[k] = noise ? uniform(0.5, 2) : uniform(lo, hi);
    }
  }
}

/* Compiles `src` (a trained model), fills it, and requires derived = numeric gradients. */
static inline void check_gradients(const char *what, const char *src, int classes, double lo,
                                   double hi) {
  Fixture f;
  front_ok(&f, src, classes);
  for (int round = 0; round < 3; round++) {
    Interp it;
    interp_init(&it, &f.c.arena, &f.c.graph, 5);
    fill(&f, &it, lo, hi);
    double err = worst_grad_error(&f.c.graph, &it);
    if (!(err < 1e-6))
      fail_msg("%s: relative gradient error %g\n%s", what, err, src);
  }
  fixture_free(&f);
}

static inline char *format(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static inline char *format(const char *fmt, ...) {
  static char buf[8][2048];
  static int next;
  char *b = buf[next++ % 8];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(b, sizeof buf[0], fmt, ap);
  va_end(ap);
  return b;
}

/* The output (or, with want_loss, the loss) of `src` for `batch` rows of input X. */
static inline void run_model(const char *src, const double *x, int64_t batch, bool want_loss,
                             double *out, int64_t nout) {
  Fixture f;
  front_ok(&f, src, 0);
  Interp it;
  interp_init(&it, &f.c.arena, &f.c.graph, batch);
  fill(&f, &it, 0, 0);
  interp_set(&it, f.c.graph.input, x);
  interp_run(&it);
  const Node *n = want_loss ? f.c.graph.loss : f.c.graph.output;
  assert_int_equal(shape_numel(&n->shape, batch), nout);
  memcpy(out, interp_value(&it, n), sizeof(double) * (size_t)nout);
  fixture_free(&f);
}

#endif

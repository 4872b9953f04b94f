/* Optimizers, driven by the table of compiler/settings/optimizers.def so that a new row is
 * tested without a new case: every row's update, built as graph nodes and run through the
 * interpreter for three steps, against its reference rule computed by hand here (a row without
 * a reference fails); every argument's default and range through the front end. The loss
 * Σ c ⊙ w² / 2 has the gradient c ⊙ w. */
#include "test.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "driver.h"
#include "grad.h"
#include "interp.h"
#include "optim.h"

enum { N = 3, STEPS = 3 };
static const double W0[N] = {1.0, -2.0, 0.5}, C[N] = {0.5, 1.0, 2.0};

typedef struct {
  Arena arena;
  Diag diag;
  Graph g;
  Node *w, *c;
  Interp it;
} Fixture;

static void build(Fixture *f, const OptimizerSettings *o) {
  arena_init(&f->arena);
  diag_init(&f->diag, NULL, stderr);
  graph_init(&f->g, &f->arena, &f->diag);
  Graph *g = &f->g;
  f->w = g_param(g, "w", (Shape){1, {N}});
  f->c = g_leaf(g, OP_INPUT, "c", (Shape){1, {N}}, NODE_INPUT);
  g->loss = g_mul(g, g_const(g, 0.5), g_sum(g, g_mul(g, f->c, g_mul(g, f->w, f->w)), 1));
  assert_true(grad_build(g));
  optim_build(g, o);
  assert_true(graph_verify(g, stderr));
  interp_init(&f->it, &f->arena, g, 1);
  interp_set(&f->it, f->w, W0);
  interp_set(&f->it, f->c, C);
}

/* One step at time t: run, then write every update back into its leaf. */
static void step(Fixture *f, double lr, int t) {
  interp_value(&f->it, f->g.lr)[0] = lr;
  if (f->g.step)
    interp_value(&f->it, f->g.step)[0] = t;
  interp_run(&f->it);
  for (int i = 0; i < f->g.nparams; i++) {
    ParamSlot *s = &f->g.params[i];
    if (s->update)
      interp_set(&f->it, s->param, interp_value(&f->it, s->update));
  }
}

static void assert_w(Fixture *f, const double *want) {
  for (int i = 0; i < N; i++)
    if (fabs(interp_value(&f->it, f->w)[i] - want[i]) > 1e-12)
      fail_msg("w[%d] = %.15g, expected %.15g", i, interp_value(&f->it, f->w)[i], want[i]);
}

/* The state slots the optimizer made must be its row's, named after the parameter. */
static int count_state(Fixture *f, OptimizerKind kind) {
  const OptimizerInfo *row = optimizer_info(kind);
  int n = 0;
  for (int i = 0; i < f->g.nparams; i++) {
    if (f->g.params[i].role != ROLE_STATE)
      continue;
    bool known = false;
    for (int s = 0; s < row->nstates; s++)
      known |= !strcmp(f->g.params[i].param->name,
                       arena_printf(&f->arena, "w.%s", row->states[s].suffix));
    if (!known)
      fail_msg("%s made the state %s, not in its row", row->name, f->g.params[i].param->name);
    n++;
  }
  return n;
}

/* --- the reference rules, PyTorch's conventions: one step at time t on w, with per-weight
 * state s[0..2] (zero at the start); returns how many state tensors the rule keeps --- */

typedef int Reference(const OptimizerSettings *o, double w[N], double s[][N], int t);

/* g = ∇ + λw; v = μv + g; w −= η(g + μv) with Nesterov, else η v (η g without momentum) */
static int ref_sgd(const OptimizerSettings *o, double w[N], double s[][N], int t) {
  (void)t;
  for (int i = 0; i < N; i++) {
    double g = C[i] * w[i] + o->weight_decay * w[i];
    s[0][i] = o->momentum * s[0][i] + g;
    w[i] -= o->lr * (o->momentum <= 0 ? g : o->nesterov ? g + o->momentum * s[0][i] : s[0][i]);
  }
  return o->momentum > 0;
}

/* m, v with bias correction; AdamW adds λw to the step (decoupled decay) */
static int ref_adam(const OptimizerSettings *o, double w[N], double s[][N], int t) {
  for (int i = 0; i < N; i++) {
    double g = C[i] * w[i];
    s[0][i] = o->beta1 * s[0][i] + (1 - o->beta1) * g;
    s[1][i] = o->beta2 * s[1][i] + (1 - o->beta2) * g * g;
    double mh = s[0][i] / (1 - pow(o->beta1, t)), vh = s[1][i] / (1 - pow(o->beta2, t));
    w[i] -= o->lr * (mh / (sqrt(vh) + o->eps) +
                     (o->kind == OPT_ADAMW ? o->weight_decay * w[i] : 0));
  }
  return 2;
}

/* s = ρs + (1−ρ)g²; w −= η g/(√s + ε); with momentum b = μb + that */
static int ref_rmsprop(const OptimizerSettings *o, double w[N], double s[][N], int t) {
  (void)t;
  for (int i = 0; i < N; i++) {
    double g = C[i] * w[i];
    s[0][i] = o->rho * s[0][i] + (1 - o->rho) * g * g;
    double d = g / (sqrt(s[0][i]) + o->eps);
    s[1][i] = o->momentum * s[1][i] + d;
    w[i] -= o->lr * (o->momentum > 0 ? s[1][i] : d);
  }
  return o->momentum > 0 ? 2 : 1;
}

static Reference *const reference[OPT_COUNT] = {
  [OPT_SGD] = ref_sgd, [OPT_ADAM] = ref_adam, [OPT_ADAMW] = ref_adam, [OPT_RMSPROP] = ref_rmsprop,
};

/* STEPS steps of o through the graph against its reference. */
static void check_update(const OptimizerSettings *o) {
  const char *name = optimizer_info(o->kind)->name;
  if (!reference[o->kind])
    fail_msg("optimizer %s has no reference rule in test_optim.c", name);
  Fixture f;
  build(&f, o);
  double w[N], s[3][N] = {{0}};
  memcpy(w, W0, sizeof w);
  int nstate = 0;
  for (int t = 1; t <= STEPS; t++) {
    nstate = reference[o->kind](o, w, s, t);
    step(&f, o->lr, t);
    for (int i = 0; i < N; i++)
      assert_true(isfinite(w[i]));
    assert_w(&f, w);
  }
  if (count_state(&f, o->kind) != nstate)
    fail_msg("%s keeps %d state tensors, its reference %d", name, count_state(&f, o->kind), nstate);
  arena_free(&f.arena);
}

/* Every row with its defaults, and with each of its off-at-zero settings (momentum, weight
 * decay) switched on, and Nesterov where it is taken. */
static void every_row_updates_as_its_reference(void **state) {
  (void)state;
  for (int k = 0; k < OPT_COUNT; k++) {
    OptimizerSettings o = optimizer_with_defaults((OptimizerKind)k);
    o.lr = 0.01;
    check_update(&o);
    const OptimizerInfo *row = optimizer_info((OptimizerKind)k);
    for (int a = 0; a < row->nargs; a++) {
      if (!optimizer_field(row->args[a].field)->off_at_zero)
        continue;
      OptimizerSettings on = o;
      optimizer_set(&on, row->args[a].field, 0.5);
      check_update(&on);
      if (row->args[a].field == OPTF_momentum && optimizer_arg(on.kind, OPTF_nesterov)) {
        on.nesterov = true;
        check_update(&on);
      }
    }
  }
}

static void sgd_without_momentum_keeps_no_state_and_no_step(void **state) {
  (void)state;
  Fixture f;
  build(&f, &(OptimizerSettings){.kind = OPT_SGD, .lr = 0.1});
  step(&f, 0.1, 1);
  assert_w(&f, (double[]){1.0 - 0.1 * 0.5, -2.0 + 0.1 * 2.0, 0.5 - 0.1 * 1.0});
  assert_int_equal(count_state(&f, OPT_SGD), 0);
  assert_null(f.g.step);
  arena_free(&f.arena);
}

/* Adam's first step moves every weight by about η, whatever the gradient's size. */
static void adam_first_step_is_about_lr(void **state) {
  (void)state;
  Fixture f;
  build(&f, &(OptimizerSettings){.kind = OPT_ADAM, .lr = 0.001, .beta1 = 0.9, .beta2 = 0.999,
                                 .eps = 1e-7});
  step(&f, 0.001, 1);
  double *w = interp_value(&f.it, f.w);
  assert_true(fabs(w[0] - 0.999) < 1e-6 && fabs(w[1] + 1.999) < 1e-6 && fabs(w[2] - 0.499) < 1e-6);
  arena_free(&f.arena);
}

/* --- arguments through the front end --- */

static const char model[] = "model m {\n  input X[2]\n  target Y[1]\n  param W[2, 1]\n"
                            "  y = X @ W\n  loss = mean((y - Y)^2)\n  output y\n}\n"
                            "train m {\n  data = table { 0 0 -> 0 }\n  optimizer = %s\n}\n";

/* Compiles the model with `optimizer = call`; returns the diagnostics (malloc'd), *o the
 * settings when it compiles. */
static char *compile(const char *call, OptimizerSettings *o, bool *ok) {
  char src[1024], *buf = NULL;
  size_t n = 0;
  snprintf(src, sizeof src, model, call);
  FILE *f = open_memstream(&buf, &n);
  assert_non_null(f);
  Compilation c;
  compilation_init(&c, "t.nn", src, strlen(src), f);
  c.diag.format = DIAG_TEST;
  *ok = compilation_front(&c);
  if (*ok)
    *o = c.model->train.opt;
  compilation_free(&c);
  fclose(f);
  return buf;
}

static void expect_compiles(const char *call, OptimizerSettings *o) {
  bool ok;
  char *d = compile(call, o, &ok);
  if (!ok || d[0])
    fail_msg("%s: %s", call, d);
  free(d);
}

/* An out-of-range value, an in-range one, and the message for the range. */
static const struct {
  const char *bad, *good, *message;
} ranges[] = {
  [R_POSITIVE] = {"0", "0.5", "'%s' must be a positive number"},
  [R_NONNEG] = {"-1", "0.5", "'%s' must be a number >= 0"},
  [R_UNIT] = {"1", "0.5", "'%s' must be at least 0 and less than 1"},
  [R_ANY] = {"2", "false", "'%s' must be true or false"}, /* the boolean */
};

static void expect_rejected(const char *call, const char *what, const char *message) {
  OptimizerSettings o;
  bool ok;
  char *d = compile(call, &o, &ok);
  char want[256];
  snprintf(want, sizeof want, !strcmp(what, "lr") ? "the learning rate must be a positive number"
                                                  : message, what);
  if (ok || !strstr(d, want))
    fail_msg("%s: expected '%s', got:\n%s", call, want, d);
  free(d);
}

/* A bare name gives the row's defaults; each argument takes an in-range value and refuses an
 * out-of-range one with its range's message. */
static void every_argument_has_its_default_and_range(void **state) {
  (void)state;
  for (int k = 0; k < OPT_COUNT; k++) {
    const OptimizerInfo *row = optimizer_info((OptimizerKind)k);
    OptimizerSettings o;
    expect_compiles(row->name, &o);
    assert_int_equal(o.kind, k);
    for (int f = 0; f < OPTF_COUNT; f++) {
      const OptimizerArg *arg = optimizer_arg((OptimizerKind)k, (OptimizerField)f);
      if (optimizer_get(&o, (OptimizerField)f) != (arg ? arg->value : 0))
        fail_msg("%s: %s is %g", row->name, optimizer_field((OptimizerField)f)->name,
                 optimizer_get(&o, (OptimizerField)f));
    }
    for (int a = 0; a < row->nargs; a++) {
      const OptimizerFieldInfo *fi = optimizer_field(row->args[a].field);
      assert_true(fi->range < sizeof ranges / sizeof *ranges && ranges[fi->range].bad);
      char call[128];
      snprintf(call, sizeof call, "%s(%s = %s)", row->name, fi->name, ranges[fi->range].good);
      expect_compiles(call, &o);
      assert_true(optimizer_get(&o, row->args[a].field) == (fi->boolean ? 0 : 0.5));
      snprintf(call, sizeof call, "%s(%s = %s)", row->name, fi->name, ranges[fi->range].bad);
      expect_rejected(call, fi->name, ranges[fi->range].message);
    }
  }
}

/* Messages that list the optimizers list every row. */
static void messages_list_every_row(void **state) {
  (void)state;
  OptimizerSettings o;
  bool ok;
  char *unknown = compile("adagrad", &o, &ok), *bad = compile("\"adam\"", &o, &ok);
  for (int k = 0; k < OPT_COUNT; k++) {
    const char *name = optimizer_info((OptimizerKind)k)->name;
    if (!strstr(unknown, name) || !strstr(bad, name))
      fail_msg("%s is missing from:\n%s%s", name, unknown, bad);
  }
  free(unknown), free(bad);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(every_row_updates_as_its_reference),
    cmocka_unit_test(sgd_without_momentum_keeps_no_state_and_no_step),
    cmocka_unit_test(adam_first_step_is_about_lr),
    cmocka_unit_test(every_argument_has_its_default_and_range),
    cmocka_unit_test(messages_list_every_row),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Optimizers as graph nodes: two steps of each, through the interpreter, against the update
 * rules computed by hand here. The loss Σ c ⊙ w² / 2 has the gradient c ⊙ w. */
#include "test.h"

#include <math.h>

#include "grad.h"
#include "interp.h"
#include "optim.h"

enum { N = 3 };
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

static int count_state(const Fixture *f) {
  int n = 0;
  for (int i = 0; i < f->g.nparams; i++)
    n += f->g.params[i].role == ROLE_STATE;
  return n;
}

static void sgd_plain_steps_against_the_gradient(void **state) {
  (void)state;
  Fixture f;
  build(&f, &(OptimizerSettings){.kind = OPT_SGD, .lr = 0.1});
  step(&f, 0.1, 1);
  assert_w(&f, (double[]){1.0 - 0.1 * 0.5, -2.0 + 0.1 * 2.0, 0.5 - 0.1 * 1.0});
  assert_int_equal(count_state(&f), 0);
  assert_null(f.g.step);
  arena_free(&f.arena);
}

/* PyTorch's SGD: g = ∇ + λw; v = μv + g; w −= η(g + μv) with Nesterov, else η v */
static void sgd_momentum(bool nesterov, double wd) {
  const double lr = 0.1, mu = 0.9;
  Fixture f;
  build(&f, &(OptimizerSettings){.kind = OPT_SGD, .lr = lr, .momentum = mu,
                                 .nesterov = nesterov, .weight_decay = wd});
  double w[N], v[N] = {0};
  for (int i = 0; i < N; i++)
    w[i] = W0[i];
  for (int t = 1; t <= 2; t++) {
    for (int i = 0; i < N; i++) {
      double g = C[i] * w[i] + wd * w[i];
      v[i] = mu * v[i] + g;
      w[i] -= lr * (nesterov ? g + mu * v[i] : v[i]);
    }
    step(&f, lr, t);
    assert_w(&f, w);
  }
  assert_int_equal(count_state(&f), 1);
  arena_free(&f.arena);
}

static void sgd_with_momentum(void **state) { (void)state, sgd_momentum(false, 0); }
static void sgd_with_nesterov_and_weight_decay(void **state) { (void)state, sgd_momentum(true, 0.01); }

/* Adam and AdamW with bias correction; AdamW adds λw to the step (decoupled decay). */
static void adam_like(OptimizerKind kind, double wd) {
  const double lr = 0.01, b1 = 0.9, b2 = 0.999, eps = 1e-7;
  Fixture f;
  build(&f, &(OptimizerSettings){.kind = kind, .lr = lr, .beta1 = b1, .beta2 = b2, .eps = eps,
                                 .weight_decay = wd});
  double w[N], m[N] = {0}, v[N] = {0};
  for (int i = 0; i < N; i++)
    w[i] = W0[i];
  for (int t = 1; t <= 3; t++) {
    for (int i = 0; i < N; i++) {
      double g = C[i] * w[i];
      m[i] = b1 * m[i] + (1 - b1) * g;
      v[i] = b2 * v[i] + (1 - b2) * g * g;
      double mh = m[i] / (1 - pow(b1, t)), vh = v[i] / (1 - pow(b2, t));
      w[i] -= lr * (mh / (sqrt(vh) + eps) + (kind == OPT_ADAMW ? wd * w[i] : 0));
    }
    step(&f, lr, t);
    assert_w(&f, w);
  }
  assert_int_equal(count_state(&f), 2);
  arena_free(&f.arena);
}

static void adam_steps(void **state) { (void)state, adam_like(OPT_ADAM, 0); }
static void adamw_steps(void **state) { (void)state, adam_like(OPT_ADAMW, 0.01); }

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

/* PyTorch's RMSprop: s = ρs + (1−ρ)g²; w −= η g/(√s + ε); with momentum b = μb + that */
static void rmsprop_like(double mu) {
  const double lr = 0.01, rho = 0.9, eps = 1e-7;
  Fixture f;
  build(&f, &(OptimizerSettings){.kind = OPT_RMSPROP, .lr = lr, .rho = rho, .eps = eps,
                                 .momentum = mu});
  double w[N], s[N] = {0}, b[N] = {0};
  for (int i = 0; i < N; i++)
    w[i] = W0[i];
  for (int t = 1; t <= 3; t++) {
    for (int i = 0; i < N; i++) {
      double g = C[i] * w[i];
      s[i] = rho * s[i] + (1 - rho) * g * g;
      double d = g / (sqrt(s[i]) + eps);
      b[i] = mu * b[i] + d;
      w[i] -= lr * (mu > 0 ? b[i] : d);
    }
    step(&f, lr, t);
    assert_w(&f, w);
  }
  assert_int_equal(count_state(&f), mu > 0 ? 2 : 1);
  arena_free(&f.arena);
}

static void rmsprop_steps(void **state) { (void)state, rmsprop_like(0); }
static void rmsprop_with_momentum(void **state) { (void)state, rmsprop_like(0.5); }

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(sgd_plain_steps_against_the_gradient),
    cmocka_unit_test(sgd_with_momentum),
    cmocka_unit_test(sgd_with_nesterov_and_weight_decay),
    cmocka_unit_test(adam_steps),
    cmocka_unit_test(adamw_steps),
    cmocka_unit_test(adam_first_step_is_about_lr),
    cmocka_unit_test(rmsprop_steps),
    cmocka_unit_test(rmsprop_with_momentum),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

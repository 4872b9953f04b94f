/* codegen_math.c's exp, expm1, log, log1p, tanh (and σ, built on exp) as compiled kernels,
 * against libm in double over a dense sweep of the floats: at most 2 ulp from the correctly
 * rounded result, special values as libm's; and the kernels that use them are vectorized (a
 * call to libm would keep the loop scalar). */
#include "test.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "codegen.h"
#include "jit.h"
#include "jit_fixture.h"
#include "plan.h"

enum { WIDTH = 1 << 16, STRIDE = 257 };

typedef struct {
  Op op;
  double (*ref)(double);
  float lo, hi; /* the sweep's domain */
} MathCase;

static double ref_sigmoid(double x) { return 1 / (1 + exp(-x)); }

static const MathCase cases[] = {
  {OP_EXP, exp, -110, 90},          {OP_EXPM1, expm1, -30, 90},
  {OP_LOG, log, 0, INFINITY},       {OP_LOG1P, log1p, -1, INFINITY},
  {OP_TANH, tanh, -20, 20},         {OP_SIGMOID, ref_sigmoid, -110, 110},
};

static float from_bits(uint32_t u) {
  float f;
  memcpy(&f, &u, sizeof f);
  return f;
}

/* |got − ref| in units of the last place of ref rounded to float (subnormals: the smallest). */
static double ulps(float got, double ref) {
  if (isnan(ref))
    return isnan(got) ? 0 : INFINITY;
  float r = (float)ref;
  if (isinf(r))
    return got == r ? 0 : INFINITY;
  double ulp = fabsf(r) < 0x1p-126f ? 0x1p-149 : (double)nextafterf(fabsf(r), INFINITY) - fabsf(r);
  return fabs((double)got - ref) / ulp;
}

typedef struct {
  Arena arena;
  Diag diag;
  Graph g;
  Program p;
  Jit *jit;
  EntryFn *predict;
  float *ws;
  int64_t in, out;
} Kernel1;

static void kernel_open(Kernel1 *k, Op op) {
  arena_init(&k->arena);
  diag_init(&k->diag, NULL, stderr);
  graph_init(&k->g, &k->arena, &k->diag);
  Node *x = g_param(&k->g, "x", (Shape){1, {WIDTH}});
  k->g.output = g_op(&k->g, op, &x, (OpArg){0}, NULL);
  TrainSettings none = {0};
  program_plan(&k->p, &k->g, "math", 0, &none, "math.nn");
  bool ok;
  k->jit = jit_program(&k->p, &ok);
  assert_true(ok);
  k->predict = (EntryFn *)jit_lookup(k->jit, "nn_predict");
  assert_non_null(k->predict);
  k->ws = calloc((size_t)k->p.plan.total + 16, sizeof(float));
  k->in = k->p.plan.offset[x->id];
  k->out = k->p.plan.offset[k->g.output->id];
}

static void kernel_close(Kernel1 *k) {
  jit_free(k->jit);
  free(k->ws);
  arena_free(&k->arena);
}

static void sweep(const MathCase *mc) {
  Kernel1 k;
  kernel_open(&k, mc->op);
  double worst = 0;
  float worst_at = 0;
  int64_t n = 0, points = 0;
  float *x = k.ws + k.in;
  for (uint64_t u = 0; u <= UINT32_MAX; u += STRIDE) {
    float v = from_bits((uint32_t)u);
    if (v >= mc->lo && v <= mc->hi)
      x[n++] = v;
    if (n < WIDTH && u + STRIDE <= UINT32_MAX)
      continue;
    k.predict(k.ws, 1);
    for (int64_t i = 0; i < n; i++) {
      double e = ulps(k.ws[k.out + i], mc->ref((double)x[i]));
      if (e > worst)
        worst = e, worst_at = x[i];
    }
    points += n;
    n = 0;
  }
  kernel_close(&k);
  print_message("%-8s max %.3f ulp (at %g) over %lld points\n", op_info[mc->op].name, worst,
                (double)worst_at, (long long)points);
  if (worst > 2)
    fail_msg("%s: %.3f ulp at %a (%g) over %lld points", op_info[mc->op].name, worst,
             (double)worst_at, (double)worst_at, (long long)points);
}

static void math_is_within_2_ulp_of_libm(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
    sweep(&cases[i]);
}

/* NaN in, NaN out; the infinities and zeros as libm gives them. */
static void special_values_follow_libm(void **state) {
  (void)state;
  static const float specials[] = {NAN, INFINITY, -INFINITY, 0.0f, -0.0f, 0x1p-149f, -0x1p-149f,
                                   88.7228394f, 88.7228470f, -103.972084f, -103.972092f, -1.0f,
                                   1.0f, 9.1f, -9.1f};
  enum { N = sizeof specials / sizeof *specials };
  for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
    Kernel1 k;
    kernel_open(&k, cases[c].op);
    memcpy(k.ws + k.in, specials, sizeof specials);
    k.predict(k.ws, 1);
    for (int i = 0; i < N; i++) {
      double ref = cases[c].ref((double)specials[i]);
      float got = k.ws[k.out + i];
      if (isnan(ref) ? !isnan(got) : ulps(got, ref) > 2)
        fail_msg("%s(%g) = %g, libm: %g", op_info[cases[c].op].name, (double)specials[i],
                 (double)got, ref);
    }
    kernel_close(&k);
  }
}

/* The optimised IR of a tanh kernel holds vector arithmetic and no call to libm. */
static void transcendental_kernels_are_vectorized(void **state) {
  (void)state;
  static const Op ops[] = {OP_EXP, OP_LOG, OP_TANH, OP_LOG1P, OP_EXPM1};
  for (size_t i = 0; i < sizeof ops / sizeof *ops; i++) {
    Arena arena;
    Diag diag;
    Graph g;
    arena_init(&arena);
    diag_init(&diag, NULL, stderr);
    graph_init(&g, &arena, &diag);
    Node *x = g_param(&g, "x", (Shape){1, {WIDTH}});
    g.output = g_op(&g, ops[i], &x, (OpArg){0}, NULL);
    TrainSettings none = {0};
    Program p;
    program_plan(&p, &g, "math", 0, &none, "math.nn");
    char *ir = jit_optimised_ir(&p);
    if (!strstr(ir, "x float>"))
      fail_msg("%s: no vector of floats in the optimised kernel", op_info[ops[i]].name);
    if (strstr(ir, "@expf") || strstr(ir, "@logf") || strstr(ir, "@tanhf") ||
        strstr(ir, "@llvm.exp.f32") || strstr(ir, "@llvm.log.f32"))
      fail_msg("%s: the optimised kernel still calls libm", op_info[ops[i]].name);
    LLVMDisposeMessage(ir);
    arena_free(&arena);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(math_is_within_2_ulp_of_libm),
    cmocka_unit_test(special_values_follow_libm),
    cmocka_unit_test(transcendental_kernels_are_vectorized),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

#include "ops.h"

#include <math.h>

#include "shape.h"

#define LEAF KIND_LEAF
#define ELEM KIND_ELEM
#define REDUCE KIND_REDUCE
#define MATMUL KIND_MATMUL
#define WINDOW KIND_WINDOW

/* An op is differentiable when its grad column names a rule (not NONE). */
const OpInfo op_info[OP_COUNT] = {
#define OP(id, name, arity, params, kind, shape, grad, eval, lower, ident, notation) \
  [OP_##id] = {name, arity, params, kind, #grad[0] != 'N', ident, notation},
#include "ops.def"
#undef OP
};

static double ev_neg(double a, double b, double k) { return (void)b, (void)k, -a; }
static double ev_recip(double a, double b, double k) { return (void)b, (void)k, 1.0 / a; }
static double ev_exp(double a, double b, double k) { return (void)b, (void)k, exp(a); }
static double ev_expm1(double a, double b, double k) { return (void)b, (void)k, expm1(a); }
static double ev_log(double a, double b, double k) { return (void)b, (void)k, log(a); }
static double ev_log1p(double a, double b, double k) { return (void)b, (void)k, log1p(a); }
static double ev_sqrt(double a, double b, double k) { return (void)b, (void)k, sqrt(a); }
static double ev_abs(double a, double b, double k) { return (void)b, (void)k, fabs(a); }
static double ev_sigmoid(double a, double b, double k) {
  return (void)b, (void)k, 1.0 / (1.0 + exp(-a));
}
static double ev_tanh(double a, double b, double k) { return (void)b, (void)k, tanh(a); }
static double ev_powc(double a, double b, double k) { return (void)b, pow(a, k); }
static double ev_add(double a, double b, double k) { return (void)k, a + b; }
static double ev_sub(double a, double b, double k) { return (void)k, a - b; }
static double ev_mul(double a, double b, double k) { return (void)k, a * b; }
static double ev_div(double a, double b, double k) { return (void)k, a / b; }
static double ev_max(double a, double b, double k) { return (void)k, a > b ? a : b; }
static double ev_cmpgt(double a, double b, double k) { return (void)k, a > b ? 1.0 : 0.0; }
static double ev_copy(double a, double b, double k) { return (void)b, (void)k, a; }

/* The eval column names a scalar function for elementwise and reduction ops only. */
#define SCALAR_LEAF(f) 0
#define SCALAR_ELEM(f) f
#define SCALAR_REDUCE(f) f
#define SCALAR_MATMUL(f) 0
#define SCALAR_WINDOW(f) 0
typedef double EvalFn(double a, double b, double k);
static EvalFn *const eval_fn[OP_COUNT] = {
#define NONE 0
#define OP(id, name, arity, params, kind, shape, grad, eval, lower, ident, notation) \
  [OP_##id] = SCALAR_##kind(eval),
#include "ops.def"
#undef OP
#undef NONE
};

double op_eval(Op op, double a, double b, double k) { return eval_fn[op](a, b, k); }

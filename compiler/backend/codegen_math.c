/* codegen_math: exp, expm1, log, log1p and tanh of a float as IR arithmetic, without calls, so
 * that LLVM's loop vectorizer turns the elementwise kernels that use them (softmax, sigmoid,
 * tanh, gelu, elu, softplus, the losses' logs) into vector code: a call to libm stops it, and the
 * vector libraries LLVM maps to promise only 4 ulp. Each is within 1.5 ulp of the correctly
 * rounded result over all floats (tests/unit/test_vecmath.c sweeps them against libm in double):
 *   exp    x = n ln2 + r, |r| <= ln2/2 (Cody-Waite, two parts of ln2), e^r = 1 + r + r² P(r)
 *          with P of degree 5 fitted on that interval, times 2^n in two halves (so that
 *          results near overflow and in the subnormals scale exactly);
 *   expm1  the same r and P: 2^n (r + r² P(r)) + (2^n − 1), exact for n <= 24; exp − 1 above;
 *   log    x = m 2^e, m in [√½, √2): with f = m − 1, s = f / (2 + f), log m = f − (f²/2 −
 *          s (f²/2 + s² Q(s²))) (fdlibm's form), Q of degree 3; subnormals are scaled by 2²³;
 *   log1p  the same, on 1 + x, plus the rounding error of 1 + x as (x − (u − 1)) / u; for
 *          u in [√½, √2) straight on f = x, which is exact;
 *   tanh   |x| < 0.55: x + x³ T(x²), T of degree 6; above: 1 − 2 / (e^{2|x|} + 1); sign of x.
 * The polynomial coefficients are least-squares fits (relative error, on Chebyshev nodes, in
 * double) rounded to float. Special values follow libm: NaN in, NaN out; exp's overflow to
 * ∞ and underflow to 0; log's −∞ at 0 and NaN below. */
#include "codegen_internal.h"

#include <math.h>

static LLVMValueRef k32(CgCtx *c, double v) { return cg_f32(c, v); }

static LLVMValueRef fma3(CgCtx *c, LLVMValueRef a, LLVMValueRef b, LLVMValueRef d) {
  return cg_call_f32(c, "llvm.fma.f32", (LLVMValueRef[]){a, b, d}, 3);
}
static LLVMValueRef f_add(CgCtx *c, LLVMValueRef a, LLVMValueRef b) { return LLVMBuildFAdd(c->b, a, b, ""); }
static LLVMValueRef f_sub(CgCtx *c, LLVMValueRef a, LLVMValueRef b) { return LLVMBuildFSub(c->b, a, b, ""); }
static LLVMValueRef f_mul(CgCtx *c, LLVMValueRef a, LLVMValueRef b) { return LLVMBuildFMul(c->b, a, b, ""); }
static LLVMValueRef f_div(CgCtx *c, LLVMValueRef a, LLVMValueRef b) { return LLVMBuildFDiv(c->b, a, b, ""); }
static LLVMValueRef select_if(CgCtx *c, LLVMRealPredicate p, LLVMValueRef a, LLVMValueRef b,
                              LLVMValueRef then, LLVMValueRef otherwise) {
  return LLVMBuildSelect(c->b, LLVMBuildFCmp(c->b, p, a, b, ""), then, otherwise, "");
}

/* Horner: ((c[n−1] x + c[n−2]) x + …) x + c[0] */
static LLVMValueRef poly(CgCtx *c, LLVMValueRef x, const double *coef, int n) {
  LLVMValueRef p = k32(c, coef[n - 1]);
  for (int i = n - 2; i >= 0; i--)
    p = fma3(c, p, x, k32(c, coef[i]));
  return p;
}

/* 2^n for an integral float n in [−126, 127], from its exponent bits */
static LLVMValueRef pow2(CgCtx *c, LLVMValueRef n) {
  LLVMValueRef i = LLVMBuildFPToSI(c->b, n, c->i32, "");
  i = LLVMBuildShl(c->b, LLVMBuildAdd(c->b, i, LLVMConstInt(c->i32, 127, 0), ""),
                   LLVMConstInt(c->i32, 23, 0), "");
  return LLVMBuildBitCast(c->b, i, c->f32, "");
}

static LLVMValueRef clamp(CgCtx *c, LLVMValueRef x, double lo, double hi) {
  x = select_if(c, LLVMRealOLT, x, k32(c, lo), k32(c, lo), x);
  return select_if(c, LLVMRealOGT, x, k32(c, hi), k32(c, hi), x);
}

#define LN2_HI 0.693145751953125
#define LN2_LO 1.428606765330187e-06

/* The reduction shared by exp and expm1: n = rint(x / ln2), r = x − n ln2, and e^r − 1. */
typedef struct {
  LLVMValueRef n, em1;
} Reduced;

static Reduced reduce(CgCtx *c, LLVMValueRef x) {
  static const double P[] = {0.5, 0.1666666716337204, 0.04166646674275398, 0.008333372883498669,
                             0.0013933581067249179, 0.00019849518139380962};
  LLVMValueRef n = cg_call_f32(c, "llvm.rint.f32", (LLVMValueRef[]){f_mul(c, x, k32(c, M_LOG2E))}, 1);
  n = clamp(c, n, -254, 254); /* beyond, the result is 0 or ∞ anyway; keeps pow2's halves valid */
  LLVMValueRef r = fma3(c, LLVMBuildFNeg(c->b, n, ""), k32(c, LN2_HI), x);
  r = fma3(c, LLVMBuildFNeg(c->b, n, ""), k32(c, LN2_LO), r);
  return (Reduced){n, fma3(c, f_mul(c, r, r), poly(c, r, P, 6), r)};
}

LLVMValueRef cgm_exp(CgCtx *c, LLVMValueRef x) {
  Reduced d = reduce(c, x);
  LLVMValueRef half = cg_call_f32(c, "llvm.trunc.f32", (LLVMValueRef[]){f_mul(c, d.n, k32(c, 0.5))}, 1);
  LLVMValueRef y = f_mul(c, f_mul(c, f_add(c, d.em1, k32(c, 1)), pow2(c, half)),
                        pow2(c, f_sub(c, d.n, half)));
  y = select_if(c, LLVMRealOGT, x, k32(c, 88.72283935546875), k32(c, INFINITY), y);
  y = select_if(c, LLVMRealOLT, x, k32(c, -103.972084045410156), k32(c, 0), y);
  return select_if(c, LLVMRealUNO, x, x, x, y);
}

LLVMValueRef cgm_expm1(CgCtx *c, LLVMValueRef x) {
  Reduced d = reduce(c, x);
  LLVMValueRef t = pow2(c, clamp(c, d.n, -126, 24));
  LLVMValueRef y = fma3(c, t, d.em1, f_sub(c, t, k32(c, 1)));
  y = select_if(c, LLVMRealOGT, d.n, k32(c, 24), f_sub(c, cgm_exp(c, x), k32(c, 1)), y);
  y = select_if(c, LLVMRealOLT, x, k32(c, -17.3286800384521484), k32(c, -1), y);
  return select_if(c, LLVMRealUNO, x, x, x, y);
}

/* log(1 + f) for f = m − 1, m in [√½, √2), plus e ln2 */
static LLVMValueRef log_reduced(CgCtx *c, LLVMValueRef f, LLVMValueRef e) {
  static const double Q[] = {0.6666666865348816, 0.4000012278556824, 0.28550803661346436,
                             0.23330727219581604};
  LLVMValueRef s = f_div(c, f, f_add(c, k32(c, 2), f));
  LLVMValueRef z = f_mul(c, s, s);
  LLVMValueRef R = f_mul(c, z, poly(c, z, Q, 4));
  LLVMValueRef hfsq = f_mul(c, f_mul(c, k32(c, 0.5), f), f);
  LLVMValueRef lm = f_sub(c, f, f_sub(c, hfsq, f_mul(c, s, f_add(c, hfsq, R))));
  return fma3(c, e, k32(c, LN2_HI), fma3(c, e, k32(c, LN2_LO), lm));
}

/* u = m 2^e with m in [√½, √2): m and e (as a float), from u's bits (u normal and positive) */
static void split(CgCtx *c, LLVMValueRef u, LLVMValueRef *m, LLVMValueRef *e) {
  LLVMValueRef bits = LLVMBuildBitCast(c->b, u, c->i32, "");
  LLVMValueRef ex = LLVMBuildSub(c->b, LLVMBuildLShr(c->b, bits, LLVMConstInt(c->i32, 23, 0), ""),
                                 LLVMConstInt(c->i32, 127, 0), "");
  LLVMValueRef mb = LLVMBuildOr(c->b, LLVMBuildAnd(c->b, bits, LLVMConstInt(c->i32, 0x7fffff, 0), ""),
                                LLVMConstInt(c->i32, 0x3f800000, 0), "");
  LLVMValueRef mf = LLVMBuildBitCast(c->b, mb, c->f32, "");
  LLVMValueRef high = LLVMBuildFCmp(c->b, LLVMRealOGT, mf, k32(c, M_SQRT2), "");
  *m = LLVMBuildSelect(c->b, high, f_mul(c, mf, k32(c, 0.5)), mf, "");
  LLVMValueRef ef = LLVMBuildSIToFP(c->b, ex, c->f32, "");
  *e = LLVMBuildSelect(c->b, high, f_add(c, ef, k32(c, 1)), ef, "");
}

LLVMValueRef cgm_log(CgCtx *c, LLVMValueRef x) {
  LLVMValueRef sub = LLVMBuildFCmp(c->b, LLVMRealOLT, x, k32(c, 0x1p-126), "");
  LLVMValueRef u = LLVMBuildSelect(c->b, sub, f_mul(c, x, k32(c, 0x1p23)), x, "");
  LLVMValueRef m, e;
  split(c, u, &m, &e);
  e = LLVMBuildSelect(c->b, sub, f_sub(c, e, k32(c, 23)), e, "");
  LLVMValueRef y = log_reduced(c, f_sub(c, m, k32(c, 1)), e);
  y = select_if(c, LLVMRealOEQ, x, k32(c, INFINITY), x, y);
  y = select_if(c, LLVMRealOEQ, x, k32(c, 0), k32(c, -INFINITY), y);
  return select_if(c, LLVMRealULT, x, k32(c, 0), k32(c, NAN), y);
}

LLVMValueRef cgm_log1p(CgCtx *c, LLVMValueRef x) {
  LLVMValueRef u = f_add(c, k32(c, 1), x);
  LLVMValueRef m, e;
  split(c, u, &m, &e);
  LLVMValueRef near = LLVMBuildFCmp(c->b, LLVMRealOEQ, e, k32(c, 0), "");
  /* e = 0: f = u − 1 = x exactly; else the rounding of u is a correction on top */
  LLVMValueRef f = LLVMBuildSelect(c->b, near, x, f_sub(c, m, k32(c, 1)), "");
  LLVMValueRef fix = f_div(c, f_sub(c, x, f_sub(c, u, k32(c, 1))), u);
  LLVMValueRef y = log_reduced(c, f, e);
  y = LLVMBuildSelect(c->b, near, y, f_add(c, y, fix), "");
  y = select_if(c, LLVMRealOEQ, u, k32(c, INFINITY), u, y);
  y = select_if(c, LLVMRealOEQ, x, k32(c, -1), k32(c, -INFINITY), y);
  return select_if(c, LLVMRealULT, x, k32(c, -1), k32(c, NAN), y);
}

LLVMValueRef cgm_tanh(CgCtx *c, LLVMValueRef x) {
  static const double T[] = {-0.3333333432674408, 0.13333332538604736, -0.053968049585819244,
                             0.02186547964811325, -0.008825179189443588, 0.003402173053473234,
                             -0.0009628942934796214};
  LLVMValueRef a = cg_call_f32(c, "llvm.fabs.f32", &x, 1);
  LLVMValueRef z = f_mul(c, a, a);
  LLVMValueRef small = fma3(c, f_mul(c, a, z), poly(c, z, T, 7), a);
  LLVMValueRef e = cgm_exp(c, f_mul(c, a, k32(c, 2)));
  LLVMValueRef big = f_sub(c, k32(c, 1), f_div(c, k32(c, 2), f_add(c, e, k32(c, 1))));
  LLVMValueRef y = select_if(c, LLVMRealOLT, a, k32(c, 0.55), small, big);
  y = cg_call_f32(c, "llvm.copysign.f32", (LLVMValueRef[]){y, x}, 2);
  return select_if(c, LLVMRealUNO, x, x, x, y);
}

/* lower_range: what values a forward node can take, as an interval, for the checks that need to
 * know whether a value is a probability (the losses that take probabilities; a softmax or sigmoid
 * applied to what already is one). Contract: lower_range is sound — every value the node can
 * take at run time lies in the interval — and never errs: inputs, targets, parameters and
 * products of matrices are unbounded, and an op without a row below is too. One row per op: the
 * rule that gives its interval from its sources'. */
#include "lower_internal.h"

#include <math.h>

typedef struct {
  Graph *g;
  Interval *memo; /* by node id */
  bool *done;
} RangeWalk;

static const Interval UNBOUNDED = {-INFINITY, INFINITY};

static Interval range_of(RangeWalk *w, const Node *n);
static Interval src(RangeWalk *w, const Node *n, int i) { return range_of(w, n->src[i]); }

static double min2(double a, double b) { return a < b ? a : b; }
static double max2(double a, double b) { return a > b ? a : b; }
/* a product of bounds, where 0 · ∞ is 0: the factor that is 0 is exactly 0 there */
static double times(double a, double b) { return a == 0 || b == 0 ? 0 : a * b; }

static Interval r_const(RangeWalk *w, const Node *n) { return (void)w, (Interval){n->arg.k, n->arg.k}; }
static Interval r_batch(RangeWalk *w, const Node *n) { return (void)w, (void)n, (Interval){1, INFINITY}; }
static Interval r_same(RangeWalk *w, const Node *n) { return src(w, n, 0); }
static Interval r_unit(RangeWalk *w, const Node *n) { return (void)w, (void)n, (Interval){0, 1}; }

/* padding and the positions a window does not cover read as 0 */
static Interval r_with_zero(RangeWalk *w, const Node *n) {
  Interval a = src(w, n, 0);
  return (Interval){min2(a.lo, 0), max2(a.hi, 0)};
}

static Interval r_neg(RangeWalk *w, const Node *n) {
  Interval a = src(w, n, 0);
  return (Interval){-a.hi, -a.lo};
}

static Interval recip(Interval a) {
  if (a.lo > 0 || a.hi < 0)
    return (Interval){1 / a.hi, 1 / a.lo};
  return UNBOUNDED;
}
static Interval r_recip(RangeWalk *w, const Node *n) { return recip(src(w, n, 0)); }

/* exp, log, log1p, sqrt, σ, tanh: increasing, so the ends map to the ends; an end outside the
 * domain (log of a negative number) leaves that side open */
static Interval r_increasing(RangeWalk *w, const Node *n) {
  Interval a = src(w, n, 0);
  double lo = op_eval(n->op, a.lo, 0, n->arg.k), hi = op_eval(n->op, a.hi, 0, n->arg.k);
  return (Interval){isnan(lo) ? -INFINITY : lo, isnan(hi) ? INFINITY : hi};
}

static Interval abs_of(Interval a) {
  double far = max2(fabs(a.lo), fabs(a.hi));
  return a.lo >= 0 ? a : a.hi <= 0 ? (Interval){-a.hi, -a.lo} : (Interval){0, far};
}
static Interval r_abs(RangeWalk *w, const Node *n) { return abs_of(src(w, n, 0)); }

/* x^k: monotone on x ≥ 0 for k > 0; an even power is |x|^k */
static Interval r_powc(RangeWalk *w, const Node *n) {
  Interval a = src(w, n, 0);
  double k = n->arg.k;
  bool even = k == floor(k) && fmod(k, 2) == 0;
  if (even)
    a = abs_of(a);
  if (a.lo >= 0 && k > 0)
    return (Interval){pow(a.lo, k), pow(a.hi, k)};
  return UNBOUNDED;
}

static Interval r_add(RangeWalk *w, const Node *n) {
  Interval a = src(w, n, 0), b = src(w, n, 1);
  return (Interval){a.lo + b.lo, a.hi + b.hi};
}

static Interval r_sub(RangeWalk *w, const Node *n) {
  Interval a = src(w, n, 0), b = src(w, n, 1);
  return (Interval){a.lo - b.hi, a.hi - b.lo};
}

static Interval product(Interval a, Interval b) {
  double p[4] = {times(a.lo, b.lo), times(a.lo, b.hi), times(a.hi, b.lo), times(a.hi, b.hi)};
  Interval r = {p[0], p[0]};
  for (int i = 1; i < 4; i++)
    r = (Interval){min2(r.lo, p[i]), max2(r.hi, p[i])};
  return r;
}
static Interval r_mul(RangeWalk *w, const Node *n) { return product(src(w, n, 0), src(w, n, 1)); }

/* a / Σa over some axes, with a ≥ 0, is a share of a total: in [0, 1] (softmax's exp(x) / Σ
 * exp(x), and any such normalisation written by hand) */
static Interval r_div(RangeWalk *w, const Node *n) {
  Interval a = src(w, n, 0);
  const Node *d = n->src[1];
  if (d->op == OP_SUM && d->src[0] == n->src[0] && a.lo >= 0)
    return (Interval){0, 1};
  return product(a, recip(range_of(w, d)));
}

static Interval r_max(RangeWalk *w, const Node *n) {
  Interval a = src(w, n, 0), b = src(w, n, 1);
  return (Interval){max2(a.lo, b.lo), max2(a.hi, b.hi)};
}

/* a sum of at least one element: of `count` when no batch axis is summed, else of any number */
static Interval r_sum(RangeWalk *w, const Node *n) {
  Interval a = src(w, n, 0);
  const Node *x = n->src[0];
  double count = 1;
  bool batch = false;
  for (int i = 0; i < x->shape.rank; i++)
    if (n->arg.p[0] & (1 << i)) {
      batch |= x->shape.dim[i] == DIM_BATCH;
      count *= (double)x->shape.dim[i];
    }
  if (!batch)
    return product(a, (Interval){count, count});
  return (Interval){a.lo < 0 ? -INFINITY : a.lo, a.hi > 0 ? INFINITY : a.hi};
}

typedef Interval RangeRule(RangeWalk *w, const Node *n);

/* The ops not listed (inputs, targets, parameters, matrix products, folds and the backward
 * ops) are unbounded. */
static RangeRule *const rules[OP_COUNT] = {
  [OP_CONST] = r_const,        [OP_BATCH] = r_batch,         [OP_NEG] = r_neg,
  [OP_RECIP] = r_recip,        [OP_EXP] = r_increasing,      [OP_LOG] = r_increasing,
  [OP_LOG1P] = r_increasing,   [OP_SQRT] = r_increasing,     [OP_ABS] = r_abs,
  [OP_SIGMOID] = r_increasing, [OP_TANH] = r_increasing,     [OP_POWC] = r_powc,
  [OP_ADD] = r_add,            [OP_SUB] = r_sub,             [OP_MUL] = r_mul,
  [OP_DIV] = r_div,            [OP_MAX] = r_max,             [OP_CMPGT] = r_unit,
  [OP_EXPAND] = r_same,        [OP_PERMUTE] = r_same,        [OP_SUM] = r_sum,
  [OP_MAXR] = r_same,          [OP_RESHAPE] = r_same,        [OP_UNFOLD] = r_with_zero,
  [OP_MAXPOOL] = r_same,       [OP_AVGPOOL] = r_with_zero,
};

static Interval range_of(RangeWalk *w, const Node *n) {
  if (w->done[n->id])
    return w->memo[n->id];
  Interval r = rules[n->op] && !(n->flags & (NODE_INPUT | NODE_PARAM | NODE_NOISE))
                   ? rules[n->op](w, n)
                   : UNBOUNDED;
  w->done[n->id] = true;
  return w->memo[n->id] = r;
}

Interval lower_range(Graph *g, const Node *n) {
  ArenaMark mark = arena_mark(g->arena);
  RangeWalk w = {g, ARENA_ARRAY(g->arena, Interval, n->id + 1),
                 ARENA_ARRAY(g->arena, bool, n->id + 1)};
  Interval r = range_of(&w, n);
  arena_reset(g->arena, mark);
  return r;
}

bool lower_is_probability(Graph *g, const Node *n) {
  Interval r = lower_range(g, n);
  return r.lo >= 0 && r.hi <= 1;
}

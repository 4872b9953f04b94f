/* lower_init: parameter initialisers and array literals. Contract: an initialiser (a number, an
 * array, zeros, uniform(lo, hi), he_normal, ...) becomes a ParamInit for a parameter's shape,
 * the variance-scaling ones with Keras's fans; array literals give their shape and values. */
#include "lower_internal.h"

#include <math.h>
#include <string.h>

/* --- initialisers --- */

typedef enum { FAN_NONE, FAN_IN, FAN_SUM } FanMode;

/* zeros, ones, constant(c), uniform(lo, hi), normal(mean, std), and the variance-scaling
 * initialisers of Keras: limit √(k / fan) for the uniform ones, std √(k / fan) for the normal
 * ones (plain, not truncated, normals). */
static const struct Initialiser {
  const char *name;
  InitKind kind;
  int nargs; /* numbers it takes: constant 1, uniform/normal 2, the rest 0 */
  FanMode fan;
  double k;
} initialisers[] = {
  {"zeros", INIT_ZEROS, 0, FAN_NONE, 0},
  {"ones", INIT_ONES, 0, FAN_NONE, 0},
  {"constant", INIT_CONST, 1, FAN_NONE, 0},
  {"uniform", INIT_UNIFORM, 2, FAN_NONE, 0},
  {"normal", INIT_NORMAL, 2, FAN_NONE, 0},
  {"glorot_uniform", INIT_UNIFORM, 0, FAN_SUM, 6},
  {"xavier_uniform", INIT_UNIFORM, 0, FAN_SUM, 6},
  {"glorot_normal", INIT_NORMAL, 0, FAN_SUM, 2},
  {"xavier_normal", INIT_NORMAL, 0, FAN_SUM, 2},
  {"he_uniform", INIT_UNIFORM, 0, FAN_IN, 6},
  {"kaiming_uniform", INIT_UNIFORM, 0, FAN_IN, 6},
  {"he_normal", INIT_NORMAL, 0, FAN_IN, 2},
  {"kaiming_normal", INIT_NORMAL, 0, FAN_IN, 2},
  {"lecun_uniform", INIT_UNIFORM, 0, FAN_IN, 3},
  {"lecun_normal", INIT_NORMAL, 0, FAN_IN, 1},
};
enum { NINIT = sizeof initialisers / sizeof *initialisers };

int lower_initialiser_count(void) { return NINIT; }
const char *lower_initialiser_name(int i) { return initialisers[i].name; }

/* fan_in, fan_out as Keras computes them: [in, out] for a matrix; a vector's length for both;
 * for rank 4, convolution weights [F, C, kh, kw] (fan in C·kh·kw, out F·kh·kw); for more axes
 * otherwise, the last two times the product of the others (the receptive field). */
static void fans(Shape s, double *fan_in, double *fan_out) {
  *fan_in = *fan_out = 1;
  if (s.rank == 1)
    *fan_in = *fan_out = (double)s.dim[0];
  else if (s.rank == 4) { /* convolution weights [F, C, kh, kw], as PyTorch counts them */
    double field = (double)(s.dim[2] * s.dim[3]);
    *fan_in = (double)s.dim[1] * field;
    *fan_out = (double)s.dim[0] * field;
  } else if (s.rank >= 2) {
    double field = 1;
    for (int i = 0; i < s.rank - 2; i++)
      field *= (double)s.dim[i];
    *fan_in = (double)s.dim[s.rank - 2] * field;
    *fan_out = (double)s.dim[s.rank - 1] * field;
  }
}

/* The shape of a (possibly nested) array literal of numbers; values in row-major order.
 * Reports ragged rows, non-numbers and too many axes. */
bool lower_array_literal(Lower *L, const AstNode *e, Shape *s, float **values) {
  *s = (Shape){0};
  for (const AstNode *d = e; d->kind == AST_ARRAY; d = d->u.array.elems) {
    if (s->rank == NNC_MAX_RANK) {
      diag_error(L->diag, e->loc, "an array literal has at most %d axes", NNC_MAX_RANK);
      return false;
    }
    s->dim[s->rank++] = ast_length(d->u.array.elems);
  }
  int64_t n = shape_numel(s, 1), at = 0;
  float *v = ARENA_ARRAY(L->g->arena, float, n);
  /* Walk the tree depth-first with an explicit stack of (list position, axis). */
  const AstNode *stack[NNC_MAX_RANK];
  int depth = 0;
  stack[0] = e->u.array.elems;
  while (depth >= 0) {
    const AstNode *x = stack[depth];
    if (!x) {
      depth--;
      if (depth >= 0)
        stack[depth] = stack[depth]->next;
      continue;
    }
    double k;
    if (depth + 1 < s->rank) {
      if (x->kind != AST_ARRAY) {
        diag_error(L->diag, x->loc, "ragged array: expected a row of %lld elements here",
                   (long long)s->dim[depth + 1]);
        return false;
      }
      int len = ast_length(x->u.array.elems);
      if (len != s->dim[depth + 1]) {
        diag_error(L->diag, x->loc, "ragged array: this row has %d element%s, the first has %lld",
                   len, len == 1 ? "" : "s", (long long)s->dim[depth + 1]);
        return false;
      }
      stack[++depth] = x->u.array.elems;
      continue;
    }
    if (x->kind == AST_ARRAY) {
      diag_error(L->diag, x->loc, "ragged array: expected a number here, not a row");
      return false;
    }
    if (!lower_constant_value(x, &k)) {
      diag_error(L->diag, x->loc, "the elements of an array literal must be numbers");
      return false;
    }
    v[at++] = (float)k;
    stack[depth] = x->next;
  }
  *values = v;
  return true;
}

static void unknown_initialiser(Lower *L, const AstNode *v, const char *name) {
  diag_error(L->diag, v->loc, "unknown initialiser '%s'", name);
  const char *names[NINIT];
  for (int i = 0; i < NINIT; i++)
    names[i] = initialisers[i].name;
  const char *best = diag_suggest(name, names, NINIT);
  if (best)
    diag_hint(L->diag, "did you mean '%s'?", best);
}

/* An initialiser expression for a parameter `pname` of shape s. */
bool lower_init(Lower *L, const AstNode *v, const char *pname, Shape s, ParamInit *init) {
  double k;
  if (lower_constant_value(v, &k))
    return *init = (ParamInit){INIT_CONST, k, 0, NULL}, true;
  if (v->kind == AST_ARRAY) {
    Shape as;
    float *vals;
    if (!lower_array_literal(L, v, &as, &vals))
      return false;
    int64_t want = shape_numel(&s, 1), got = shape_numel(&as, 1);
    if (got != want) {
      diag_error(L->diag, v->loc, "'%s' has %lld elements but this array gives %lld", pname,
                 (long long)want, (long long)got);
      return false;
    }
    return *init = (ParamInit){INIT_VALUES, 0, 0, vals}, true;
  }
  if (v->kind != AST_NAME && v->kind != AST_CALL) {
    diag_error(L->diag, v->loc, "unknown initialiser; use zeros, ones, a number, an array, "
               "normal(mean, std), uniform(lo, hi) or a name such as he_normal");
    return false;
  }
  const char *name = v->kind == AST_NAME ? v->u.name.name : v->u.call.name;
  const struct Initialiser *in = NULL;
  for (int i = 0; i < NINIT && !in; i++)
    if (!strcmp(initialisers[i].name, name))
      in = &initialisers[i];
  if (!in) {
    unknown_initialiser(L, v, name);
    return false;
  }
  *init = (ParamInit){in->kind, 0, 0, NULL};
  if (in->nargs == 0) {
    if (v->kind == AST_CALL && v->u.call.args) {
      diag_error(L->diag, v->loc, "%s takes no arguments; write just %s", name, name);
      return false;
    }
    if (in->fan != FAN_NONE) {
      double fan_in, fan_out;
      fans(s, &fan_in, &fan_out);
      double scale = sqrt(in->k / (in->fan == FAN_IN ? fan_in : fan_in + fan_out));
      if (in->kind == INIT_UNIFORM)
        *init = (ParamInit){INIT_UNIFORM, -scale, scale, NULL};
      else
        *init = (ParamInit){INIT_NORMAL, 0, scale, NULL};
    }
    return true;
  }
  double x[2] = {0, 0};
  const AstNode *args = v->kind == AST_CALL ? v->u.call.args : NULL;
  bool ok = ast_length(args) == in->nargs;
  int i = 0;
  for (const AstNode *a = args; ok && a; a = a->next)
    ok = a->kind != AST_KWARG && lower_constant_value(a, &x[i++]) && isfinite(x[i - 1]);
  if (!ok) {
    if (in->nargs == 1)
      diag_error(L->diag, v->loc, "%s takes one number, e.g. %s(0.1)", name, name);
    else
      diag_error(L->diag, v->loc, "%s takes two numbers, e.g. %s(0, 1)", name, name);
    return false;
  }
  if (in->kind == INIT_NORMAL && x[1] < 0) {
    diag_error(L->diag, v->loc, "the standard deviation of normal must not be negative");
    return false;
  }
  if (in->kind == INIT_UNIFORM && x[1] < x[0]) {
    diag_error(L->diag, v->loc, "uniform(lo, hi) needs lo <= hi");
    return false;
  }
  init->a = x[0];
  init->b = x[1];
  return true;
}

Node *lower_declare_param(Lower *L, const char *name, Shape s, ParamInit init) {
  Node *p = g_param_init(L->g, name, s, init);
  lower_bind(L, name, p);
  return p;
}


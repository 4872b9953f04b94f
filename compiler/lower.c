#include "lower.h"

#include <math.h>
#include <string.h>

#include "../runtime/nnrt.h"

typedef struct {
  const char *name;
  Node *node;
} Binding;

/* A softmax built here and the logits it was built from, so cross_entropy(p, y) of a named
 * softmax can use the stable log-softmax of the logits. */
typedef struct {
  Node *probs, *logits;
} SoftmaxOf;

typedef struct {
  Graph *g;
  Diag *diag;
  const Model *m;
  Binding *scope;
  int nscope, cap;
  SoftmaxOf *softmax;
  int nsoftmax, softmax_cap;
  Node *class_target;  /* the target leaf when it holds class labels (one-hot rows) */
  int nliterals;       /* constant tensors from array literals, for their names */
  bool class_loss;     /* cross_entropy or nll was used */
  bool binary_loss;    /* binary_cross_entropy(_with_logits) was used */
  Node *binary_probs;  /* the probabilities binary_cross_entropy was given, when built */
} Lower;

static Node *lower_expr(Lower *L, const AstNode *e);

/* --- scope --- */

static void bind(Lower *L, const char *name, Node *n) {
  if (L->nscope == L->cap) {
    L->cap = L->cap ? 2 * L->cap : 32;
    Binding *b = ARENA_ARRAY(L->g->arena, Binding, L->cap);
    if (L->scope)
      memcpy(b, L->scope, sizeof(Binding) * (size_t)L->nscope);
    L->scope = b;
  }
  L->scope[L->nscope++] = (Binding){name, n};
}

static Binding *lookup(Lower *L, const char *name) {
  for (int i = L->nscope; i-- > 0;)
    if (strcmp(L->scope[i].name, name) == 0)
      return &L->scope[i];
  return NULL;
}

static void unknown_name(Lower *L, const AstNode *e) {
  diag_error(L->diag, e->loc, "unknown name '%s'", e->u.name.name);
  const char *names[64];
  int n = 0;
  for (int i = 0; i < L->nscope && n < 64; i++)
    names[n++] = L->scope[i].name;
  const char *best = diag_suggest(e->u.name.name, names, n);
  if (best)
    diag_hint(L->diag, "did you mean '%s'?", best);
}

/* --- arguments of calls --- */

enum { MAX_ARGS = 6 };

/* The value of an argument, positional or `name = value`. */
static const AstNode *arg_value(const AstNode *a) {
  return a && a->kind == AST_KWARG ? a->u.kwarg.value : a;
}

/* A parameter spec is its name, optionally followed by aliases: "activation|act". */
static bool spec_has(const char *spec, const char *name) {
  size_t n = strlen(name);
  for (const char *s = spec; *s;) {
    size_t len = strcspn(s, "|");
    if (len == n && !strncmp(s, name, n))
      return true;
    s += len + (s[len] == '|');
  }
  return false;
}

static int spec_len(const char *spec) { return (int)strcspn(spec, "|"); }

/* Binds the arguments of `call` to the parameters `spec` (the first `nreq` are required):
 * positional ones in order, then keyword ones by name. out[i] is the AST of parameter i (the
 * AST_KWARG for a keyword argument; see arg_value) or NULL when it was not given. */
static bool bind_args(Lower *L, const AstNode *call, const char *const *spec, int nparams,
                      int nreq, const AstNode *out[MAX_ARGS]) {
  const char *fname = call->u.call.name;
  int total = ast_length(call->u.call.args), npos = 0;
  bool ok = true;
  for (int i = 0; i < MAX_ARGS; i++)
    out[i] = NULL;
  for (const AstNode *a = call->u.call.args; a; a = a->next) {
    int slot = -1;
    if (a->kind != AST_KWARG) {
      slot = npos++;
      if (slot >= nparams)
        continue; /* reported below as a wrong count */
    } else {
      for (int i = 0; i < nparams && slot < 0; i++)
        if (spec_has(spec[i], a->u.kwarg.name))
          slot = i;
      if (slot < 0) {
        diag_error(L->diag, a->loc, "unknown argument '%s' for %s", a->u.kwarg.name, fname);
        const char *names[3 * MAX_ARGS];
        char list[256] = "";
        int n = 0;
        for (int i = 0; i < nparams; i++) {
          size_t used = strlen(list);
          snprintf(list + used, sizeof list - used, "%s%.*s", i ? ", " : "", spec_len(spec[i]),
                   spec[i]);
          for (const char *s = spec[i]; *s && n < 3 * MAX_ARGS;) {
            size_t len = strcspn(s, "|");
            names[n++] = arena_printf(L->g->arena, "%.*s", (int)len, s);
            s += len + (s[len] == '|');
          }
        }
        const char *best = diag_suggest(a->u.kwarg.name, names, n);
        if (best)
          diag_hint(L->diag, "did you mean '%s'?", best);
        else if (nparams)
          diag_hint(L->diag, "%s takes %s", fname, list);
        else
          diag_hint(L->diag, "%s has no parameters; write just %s", fname, fname);
        ok = false;
        continue;
      }
    }
    if (out[slot]) {
      diag_error(L->diag, a->loc, "argument '%.*s' of %s is given twice", spec_len(spec[slot]),
                 spec[slot], fname);
      ok = false;
      continue;
    }
    out[slot] = a;
  }
  if (!ok)
    return false;
  bool missing = false;
  for (int i = 0; i < nreq; i++)
    missing |= !out[i];
  if (npos <= nparams && !missing)
    return true;
  if (nreq == nparams)
    diag_error(L->diag, call->loc, "%s takes %d argument%s, got %d", fname, nreq,
               nreq == 1 ? "" : "s", total);
  else
    diag_error(L->diag, call->loc, "%s takes %d to %d arguments, got %d", fname, nreq, nparams,
               total);
  return false;
}

static bool constant_value(const AstNode *e, double *out) {
  if (e->kind == AST_NUM)
    return *out = e->u.num.value, true;
  if (e->kind == AST_NEG && constant_value(e->u.unary.operand, out))
    return *out = -*out, true;
  return false;
}

/* A number argument (its default when not given). */
static bool number_arg(Lower *L, const AstNode *call, const AstNode *a, const char *what,
                       double *out) {
  if (!a)
    return true;
  if (constant_value(arg_value(a), out) && isfinite(*out))
    return true;
  diag_error(L->diag, arg_value(a)->loc, "the %s of %s must be a constant number", what,
             call->u.call.name);
  return false;
}

static bool bool_arg(Lower *L, const AstNode *a, const char *what, bool *out) {
  if (!a)
    return true;
  const AstNode *v = arg_value(a);
  if (v->kind == AST_NAME && (!strcmp(v->u.name.name, "true") || !strcmp(v->u.name.name, "false")))
    return *out = !strcmp(v->u.name.name, "true"), true;
  diag_error(L->diag, v->loc, "'%s' must be true or false", what);
  return false;
}

/* --- sugar built from primitives: helpers --- */

static Node *k_(Graph *g, double k) { return g_const(g, k); }

/* min(a, b) = −max(−a, −b) */
static Node *min2(Graph *g, Node *a, Node *b) { return g_neg(g, g_max(g, g_neg(g, a), g_neg(g, b))); }

static uint32_t all_axes(const Node *x) { return (1u << x->shape.rank) - 1; }
static uint32_t last_axis(const Node *x) { return 1u << (x->shape.rank - 1); }

/* Σx / (number of the summed elements), the batch axis counted at run time as N. */
static Node *mean_axes(Graph *g, Node *x, uint32_t axes) {
  if (!x)
    return NULL;
  Shape s = x->shape;
  int64_t count = 1;
  bool batch = false;
  for (int i = 0; i < s.rank; i++)
    if (axes & (1u << i)) {
      if (s.dim[i] == DIM_BATCH)
        batch = true;
      else
        count *= s.dim[i];
    }
  Node *m = g_sum(g, x, axes);
  if (count != 1)
    m = g_mul(g, k_(g, 1.0 / (double)count), m);
  return batch ? g_div(g, m, g_batch(g)) : m;
}

static Node *mean_all(Graph *g, Node *x) { return x ? mean_axes(g, x, all_axes(x)) : NULL; }

/* a · b = Σ over the last axis of a ⊙ b */
static Node *dot(Graph *g, Node *a, Node *b) {
  Node *p = g_mul(g, a, b);
  if (!p)
    return NULL;
  if (p->shape.rank == 0)
    return p;
  return g_sum(g, p, last_axis(p));
}

static bool needs_axis(Lower *L, Node *x, const char *what) {
  if (!x || x->shape.rank > 0)
    return x != NULL;
  diag_error(L->diag, L->g->loc, "%s needs a tensor with at least one axis, but this is a scalar",
             what);
  return false;
}

/* --- activations --- */

typedef Node *ActBuild(Lower *L, Node *x, double k);

static Node *act_identity(Lower *L, Node *x, double k) { return (void)L, (void)k, x; }
static Node *act_relu(Lower *L, Node *x, double k) {
  (void)k;
  return g_max(L->g, x, k_(L->g, 0));
}
static Node *act_sigmoid(Lower *L, Node *x, double k) { return (void)k, g_sigmoid(L->g, x); }
static Node *act_tanh(Lower *L, Node *x, double k) { return (void)k, g_tanh(L->g, x); }

/* max(x, αx) for α ≤ 1; min(x, αx) for α > 1 */
static Node *act_leaky_relu(Lower *L, Node *x, double alpha) {
  Graph *g = L->g;
  Node *ax = g_mul(g, k_(g, alpha), x);
  return alpha <= 1 ? g_max(g, x, ax) : min2(g, x, ax);
}

/* [x > 0] x + [x ≤ 0] α(exp(x) − 1), written without masks as max(x, 0) + α(exp(min(x, 0)) − 1):
 * exp only ever sees x ≤ 0, so it cannot overflow. */
static Node *act_elu(Lower *L, Node *x, double alpha) {
  Graph *g = L->g;
  Node *zero = k_(g, 0);
  Node *neg = g_sub(g, g_exp(g, min2(g, x, zero)), k_(g, 1));
  return g_add(g, g_max(g, x, zero), g_mul(g, k_(g, alpha), neg));
}

/* the tanh approximation: 0.5 x (1 + tanh(√(2/π) (x + 0.044715 x³))) */
static Node *act_gelu(Lower *L, Node *x, double k) {
  (void)k;
  Graph *g = L->g;
  Node *inner = g_add(g, x, g_mul(g, k_(g, 0.044715), g_powc(g, x, 3)));
  Node *t = g_tanh(g, g_mul(g, k_(g, 0.7978845608028654) /* √(2/π) */, inner));
  return g_mul(g, g_mul(g, k_(g, 0.5), x), g_add(g, k_(g, 1), t));
}

/* x σ(x) */
static Node *act_silu(Lower *L, Node *x, double k) {
  (void)k;
  return g_mul(L->g, x, g_sigmoid(L->g, x));
}

/* log(1 + exp(x)) = max(x, 0) + log1p(exp(−|x|)): exp never overflows, the tail stays exact */
static Node *act_softplus(Lower *L, Node *x, double k) {
  (void)k;
  Graph *g = L->g;
  Node *tail = g_log1p(g, g_exp(g, g_neg(g, g_abs(g, x))));
  return g_add(g, g_max(g, x, k_(g, 0)), tail);
}

/* x − max(x) over the last axis (kept as size 1, so it broadcasts back) */
static Node *shifted(Graph *g, Node *x) {
  return g_sub(g, x, g_maxr(g, x, last_axis(x) | AXES_KEEP));
}

/* exp(x − max x) / Σ exp(x − max x) over the last axis */
static Node *act_softmax(Lower *L, Node *x, double k) {
  (void)k;
  Graph *g = L->g;
  if (!needs_axis(L, x, "softmax"))
    return NULL;
  Node *e = g_exp(g, shifted(g, x));
  Node *p = g_div(g, e, g_sum(g, e, last_axis(x) | AXES_KEEP));
  if (p) {
    if (L->nsoftmax == L->softmax_cap) {
      L->softmax_cap = L->softmax_cap ? 2 * L->softmax_cap : 8;
      SoftmaxOf *s = ARENA_ARRAY(g->arena, SoftmaxOf, L->softmax_cap);
      if (L->softmax)
        memcpy(s, L->softmax, sizeof *s * (size_t)L->nsoftmax);
      L->softmax = s;
    }
    L->softmax[L->nsoftmax++] = (SoftmaxOf){p, x};
  }
  return p;
}

/* (x − max x) − log Σ exp(x − max x) over the last axis */
static Node *act_log_softmax(Lower *L, Node *x, double k) {
  (void)k;
  Graph *g = L->g;
  if (!needs_axis(L, x, "log_softmax"))
    return NULL;
  Node *s = shifted(g, x);
  return g_sub(g, s, g_log(g, g_sum(g, g_exp(g, s), last_axis(x) | AXES_KEEP)));
}

/* Activations: usable as f(x), f(x, param = k), and as dense's activation (f or
 * f(param = k)). Adding one is one entry here (and tests/unit/test_sugar.c checks it). */
static const struct Activation {
  const char *name;
  const char *param; /* NULL: none */
  double def;
  ActBuild *build;
} activations[] = {
  {"identity", NULL, 0, act_identity},
  {"relu", NULL, 0, act_relu},
  {"leaky_relu", "alpha", 0.01, act_leaky_relu},
  {"elu", "alpha", 1, act_elu},
  {"gelu", NULL, 0, act_gelu},
  {"silu", NULL, 0, act_silu},
  {"softplus", NULL, 0, act_softplus},
  {"sigmoid", NULL, 0, act_sigmoid},
  {"tanh", NULL, 0, act_tanh},
  {"softmax", NULL, 0, act_softmax},
  {"log_softmax", NULL, 0, act_log_softmax},
};
enum { NACT = sizeof activations / sizeof *activations };

static const struct Activation *find_activation(const char *name) {
  for (int i = 0; i < NACT; i++)
    if (!strcmp(activations[i].name, name))
      return &activations[i];
  return NULL;
}

int lower_activation_count(void) { return NACT; }
const char *lower_activation_name(int i) { return activations[i].name; }
const char *lower_activation_param(int i) { return activations[i].param; }

/* f(x) or f(x, alpha = k) */
static Node *lower_activation_call(Lower *L, const AstNode *call, const struct Activation *act) {
  const char *spec[2] = {"x", act->param};
  const AstNode *a[MAX_ARGS];
  int np = act->param ? 2 : 1;
  double k = act->def;
  if (!bind_args(L, call, spec, np, 1, a) || !number_arg(L, call, a[1], act->param, &k))
    return NULL;
  Node *x = lower_expr(L, arg_value(a[0]));
  L->g->loc = call->loc;
  return x ? act->build(L, x, k) : NULL;
}

static void unknown_activation(Lower *L, const AstNode *where, const char *name) {
  diag_error(L->diag, where->loc, "unknown activation '%s'", name);
  const char *names[NACT];
  for (int i = 0; i < NACT; i++)
    names[i] = activations[i].name;
  const char *best = diag_suggest(name, names, NACT);
  if (best)
    diag_hint(L->diag, "did you mean '%s'?", best);
}

/* dense's activation argument: a name (relu) or a call naming the parameter (leaky_relu(alpha = 0.2)). */
static bool activation_spec(Lower *L, const AstNode *v, const struct Activation **act, double *k) {
  if (v->kind == AST_NAME) {
    if (!(*act = find_activation(v->u.name.name))) {
      unknown_activation(L, v, v->u.name.name);
      return false;
    }
    *k = (*act)->def;
    return true;
  }
  if (v->kind != AST_CALL) {
    diag_error(L->diag, v->loc, "the activation of dense must be a name such as relu");
    return false;
  }
  if (!(*act = find_activation(v->u.call.name))) {
    unknown_activation(L, v, v->u.call.name);
    return false;
  }
  *k = (*act)->def;
  for (const AstNode *a = v->u.call.args; a; a = a->next)
    if (a->kind != AST_KWARG) {
      if ((*act)->param)
        diag_error(L->diag, a->loc, "write the parameter of %s by name, e.g. %s(%s = %g)",
                   (*act)->name, (*act)->name, (*act)->param, (*act)->def);
      else
        diag_error(L->diag, a->loc, "%s takes no parameters here; write just %s", (*act)->name,
                   (*act)->name);
      return false;
    }
  const AstNode *a[MAX_ARGS];
  const char *spec[1] = {(*act)->param ? (*act)->param : ""};
  return bind_args(L, v, spec, (*act)->param ? 1 : 0, 0, a) &&
         number_arg(L, v, a[0], (*act)->param, k);
}

/* --- losses --- */

typedef Node *LossBuild(Lower *L, Node *p, Node *y, double k);

/* mean((p − y)²) */
static Node *loss_mse(Lower *L, Node *p, Node *y, double k) {
  (void)k;
  return mean_all(L->g, g_powc(L->g, g_sub(L->g, p, y), 2));
}

/* mean(|p − y|) */
static Node *loss_mae(Lower *L, Node *p, Node *y, double k) {
  (void)k;
  return mean_all(L->g, g_abs(L->g, g_sub(L->g, p, y)));
}

/* with a = |p − y| and q = min(a, δ): 0.5 q² + δ (a − q), which is 0.5 a² where a ≤ δ and
 * δ(a − 0.5δ) elsewhere, without masks */
static Node *loss_huber(Lower *L, Node *p, Node *y, double delta) {
  Graph *g = L->g;
  Node *a = g_abs(g, g_sub(g, p, y)), *d = k_(g, delta);
  Node *q = min2(g, a, d);
  Node *h = g_add(g, g_mul(g, k_(g, 0.5), g_powc(g, q, 2)), g_mul(g, d, g_sub(g, a, q)));
  return mean_all(g, h);
}

static const double BCE_EPS = 1e-7;

/* mean(−(y log p + (1 − y) log(1 − p))) with p clipped to [ε, 1 − ε] */
static Node *loss_bce(Lower *L, Node *p, Node *y, double k) {
  (void)k;
  Graph *g = L->g;
  Node *one = k_(g, 1);
  Node *pc = min2(g, g_max(g, p, k_(g, BCE_EPS)), k_(g, 1 - BCE_EPS));
  Node *t = g_add(g, g_mul(g, y, g_log(g, pc)),
                  g_mul(g, g_sub(g, one, y), g_log(g, g_sub(g, one, pc))));
  return mean_all(g, g_neg(g, t));
}

/* mean(max(z, 0) − z y + log1p(exp(−|z|))) */
static Node *loss_bce_logits(Lower *L, Node *z, Node *y, double k) {
  (void)k;
  Graph *g = L->g;
  Node *tail = g_log1p(g, g_exp(g, g_neg(g, g_abs(g, z))));
  return mean_all(g, g_add(g, g_sub(g, g_max(g, z, k_(g, 0)), g_mul(g, z, y)), tail));
}

/* −Σ y ⊙ log p over the last axis, averaged over the rows */
static Node *loss_nll(Lower *L, Node *logp, Node *y, double k) {
  (void)k;
  Graph *g = L->g;
  Node *prod = g_mul(g, y, logp);
  return prod ? g_neg(g, mean_all(g, g_sum(g, prod, last_axis(prod)))) : NULL;
}

/* the same with log p, p clipped below at ε so that log never sees 0 */
static Node *loss_cross_entropy(Lower *L, Node *p, Node *y, double k) {
  return loss_nll(L, g_log(L->g, g_max(L->g, p, k_(L->g, BCE_EPS))), y, k);
}

typedef enum { LOSS_PLAIN, LOSS_BINARY, LOSS_BINARY_LOGITS, LOSS_CLASS } LossFamily;

/* Losses: each averages over the batch (and over the elements of a row, as Keras does, except
 * the class losses, which sum over the last axis and average over the rows). */
static const struct Loss {
  const char *name;
  const char *param;
  double def;
  bool classes; /* accepts class targets (one-hot rows) as well as real-valued ones */
  LossFamily family;
  LossBuild *build;
} losses[] = {
  {"mse", NULL, 0, false, LOSS_PLAIN, loss_mse},
  {"mae", NULL, 0, false, LOSS_PLAIN, loss_mae},
  {"l1_loss", NULL, 0, false, LOSS_PLAIN, loss_mae},
  {"huber", "delta", 1, false, LOSS_PLAIN, loss_huber},
  {"binary_cross_entropy", NULL, 0, false, LOSS_BINARY, loss_bce},
  {"binary_cross_entropy_with_logits", NULL, 0, false, LOSS_BINARY_LOGITS, loss_bce_logits},
  {"cross_entropy", NULL, 0, true, LOSS_CLASS, loss_cross_entropy},
  {"nll", NULL, 0, true, LOSS_CLASS, loss_nll},
};
enum { NLOSS = sizeof losses / sizeof *losses };

int lower_loss_count(void) { return NLOSS; }
const char *lower_loss_name(int i) { return losses[i].name; }
bool lower_loss_accepts_classes(int i) { return losses[i].classes; }

static const struct Loss *find_loss(const char *name) {
  for (int i = 0; i < NLOSS; i++)
    if (!strcmp(losses[i].name, name))
      return &losses[i];
  return NULL;
}

/* `call` is f(z) with one positional argument, for one of the names f */
static const AstNode *single_arg_of(const AstNode *e, const char *f) {
  if (e->kind != AST_CALL || strcmp(e->u.call.name, f) || ast_length(e->u.call.args) != 1 ||
      e->u.call.args->kind == AST_KWARG)
    return NULL;
  return e->u.call.args;
}

static Node *lower_loss_call(Lower *L, const AstNode *call, const struct Loss *loss) {
  Graph *g = L->g;
  const char *spec[3] = {"pred|prediction", "target", loss->param};
  const AstNode *a[MAX_ARGS];
  double k = loss->def;
  if (!bind_args(L, call, spec, loss->param ? 3 : 2, 2, a) ||
      !number_arg(L, call, a[2], loss->param, &k))
    return NULL;
  if (loss->param && !(k > 0)) {
    diag_error(L->diag, arg_value(a[2])->loc, "the %s of %s must be positive", loss->param,
               loss->name);
    return NULL;
  }
  const AstNode *pa = arg_value(a[0]), *logits_ast = NULL;
  /* cross_entropy(softmax(z), y) is lowered as nll(log_softmax(z), y); likewise
   * binary_cross_entropy(sigmoid(z), y) as the with-logits form: the same value, stably. */
  if (loss->family == LOSS_CLASS && loss->build == loss_cross_entropy)
    logits_ast = single_arg_of(pa, "softmax");
  else if (loss->family == LOSS_BINARY)
    logits_ast = single_arg_of(pa, "sigmoid");
  Node *p = lower_expr(L, logits_ast ? logits_ast : pa);
  Node *y = lower_expr(L, arg_value(a[1]));
  if (!p || !y)
    return NULL;
  g->loc = call->loc;
  char sp[64], sy[64];
  if (y == L->class_target && !loss->classes) {
    diag_error(L->diag, call->loc, "%s needs real-valued targets, but '%s' holds class labels",
               loss->name, y->name);
    diag_hint(L->diag, "use cross_entropy(softmax(logits), %s)", y->name);
    return NULL;
  }
  if (!shape_eq(&p->shape, &y->shape)) {
    diag_error(L->diag, call->loc,
               "%s needs a prediction and a target of the same shape, but they are %s and %s",
               loss->name, shape_str(&p->shape, sp, sizeof sp), shape_str(&y->shape, sy, sizeof sy));
    return NULL;
  }
  if (loss->family == LOSS_CLASS &&
      (p->shape.rank == 0 || (p->shape.rank == 1 && shape_has_batch(&p->shape)))) {
    diag_error(L->diag, call->loc, "%s needs rows of class scores, [N, K], but this has shape %s",
               loss->name, shape_str(&p->shape, sp, sizeof sp));
    return NULL;
  }
  if (loss->family == LOSS_CLASS)
    L->class_loss = true;
  if (loss->family == LOSS_BINARY || loss->family == LOSS_BINARY_LOGITS)
    L->binary_loss = true;
  if (loss->family == LOSS_BINARY && !logits_ast)
    L->binary_probs = p;
  if (logits_ast && loss->family == LOSS_BINARY)
    return loss_bce_logits(L, p, y, k);
  if (logits_ast)
    return loss_nll(L, act_log_softmax(L, p, 0), y, k);
  if (loss->build == loss_cross_entropy)
    for (int i = 0; i < L->nsoftmax; i++)
      if (L->softmax[i].probs == p)
        return loss_nll(L, act_log_softmax(L, L->softmax[i].logits, 0), y, k);
  if (loss->family == LOSS_BINARY && p->op == OP_SIGMOID)
    return loss_bce_logits(L, p->src[0], y, k);
  return loss->build(L, p, y, k);
}

/* --- regularisers --- */

/* Σ|W| */
static Node *reg_l1(Graph *g, Node *x) { return g_sum(g, g_abs(g, x), all_axes(x)); }
/* Σ W² */
static Node *reg_l2(Graph *g, Node *x) { return g_sum(g, g_powc(g, x, 2), all_axes(x)); }

static const struct Regulariser {
  const char *name;
  Node *(*build)(Graph *g, Node *x);
} regularisers[] = {
  {"l1", reg_l1},
  {"l2", reg_l2},
};
enum { NREG = sizeof regularisers / sizeof *regularisers };

int lower_regulariser_count(void) { return NREG; }
const char *lower_regulariser_name(int i) { return regularisers[i].name; }

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
 * for more axes, the last two times the product of the others (the receptive field). */
static void fans(Shape s, double *fan_in, double *fan_out) {
  *fan_in = *fan_out = 1;
  if (s.rank == 1)
    *fan_in = *fan_out = (double)s.dim[0];
  else if (s.rank >= 2) {
    double field = 1;
    for (int i = 0; i < s.rank - 2; i++)
      field *= (double)s.dim[i];
    *fan_in = (double)s.dim[s.rank - 2] * field;
    *fan_out = (double)s.dim[s.rank - 1] * field;
  }
}

/* The shape of a (possibly nested) array literal of numbers; values in row-major order.
 * Reports ragged rows, non-numbers and too many axes. */
static bool array_literal(Lower *L, const AstNode *e, Shape *s, float **values) {
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
    if (!constant_value(x, &k)) {
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
static bool lower_init(Lower *L, const AstNode *v, const char *pname, Shape s, ParamInit *init) {
  double k;
  if (constant_value(v, &k))
    return *init = (ParamInit){INIT_CONST, k, 0, NULL}, true;
  if (v->kind == AST_ARRAY) {
    Shape as;
    float *vals;
    if (!array_literal(L, v, &as, &vals))
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
    ok = a->kind != AST_KWARG && constant_value(a, &x[i++]) && isfinite(x[i - 1]);
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

static Node *declare_param(Lower *L, const char *name, Shape s, ParamInit init) {
  Node *p = g_param_init(L->g, name, s, init);
  bind(L, name, p);
  return p;
}

/* --- layers --- */

/* dense(x, n, act, bias, init) = act(x W + b) with W: [in, n] (init, Glorot-uniform by
 * default), b: [n] zeros. The layer's parameters are named after the value it defines. */
static Node *lower_dense(Lower *L, const AstNode *call, const char *layer) {
  Graph *g = L->g;
  static const char *const spec[] = {"x", "units", "activation|act", "bias", "init"};
  const AstNode *a[MAX_ARGS];
  if (!bind_args(L, call, spec, 5, 2, a))
    return NULL;
  if (!layer) {
    diag_error(L->diag, call->loc, "a dense layer needs a name for its parameters");
    diag_hint(L->diag, "write it as its own line: h = dense(...)");
    return NULL;
  }
  const AstNode *na = arg_value(a[1]);
  double units = 0;
  if (!constant_value(na, &units) || units < 1 || units != floor(units) || units > 1e9) {
    diag_error(L->diag, na->loc, "the number of units of dense must be a positive integer");
    return NULL;
  }
  const struct Activation *act = &activations[0];
  double k = 0;
  bool bias = true;
  if ((a[2] && !activation_spec(L, arg_value(a[2]), &act, &k)) || !bool_arg(L, a[3], "bias", &bias))
    return NULL;
  const AstNode *xa = arg_value(a[0]);
  Node *x = lower_expr(L, xa);
  if (!x)
    return NULL;
  if (x->shape.rank != 2) {
    diag_error(L->diag, xa->loc, "dense expects rows of a vector, [N, k]; this has rank %d",
               x->shape.rank);
    return NULL;
  }
  int64_t in = x->shape.dim[1], out = (int64_t)units;
  Shape ws = {2, {in, out}};
  const char *wname = arena_printf(g->arena, "%s.W", layer);
  double limit = sqrt(6.0 / (double)(in + out));
  ParamInit winit = {INIT_UNIFORM, -limit, limit, NULL};
  if (a[4] && !lower_init(L, arg_value(a[4]), wname, ws, &winit))
    return NULL;
  Node *W = declare_param(L, wname, ws, winit);
  Node *b = bias ? declare_param(L, arena_printf(g->arena, "%s.b", layer), (Shape){1, {out}},
                                 (ParamInit){INIT_ZEROS, 0, 0, NULL})
                 : NULL;
  g->loc = call->loc;
  Node *z = g_matmul(g, x, W, 0);
  return act->build(L, b ? g_add(g, z, b) : z, k);
}

/* dropout(x, p) = x ⊙ mask, the mask drawn by the runtime before each training step
 * (Bernoulli(1 − p) / (1 − p)) and all ones when predicting */
static Node *lower_dropout(Lower *L, const AstNode *call, const char *let) {
  (void)let;
  static const char *const spec[] = {"x", "p|rate"};
  const AstNode *a[MAX_ARGS];
  double p = 0;
  if (!bind_args(L, call, spec, 2, 2, a) || !number_arg(L, call, a[1], "probability", &p))
    return NULL;
  if (!(p >= 0 && p < 1)) {
    diag_error(L->diag, arg_value(a[1])->loc, "the probability of dropout must be in [0, 1), got %g",
               p);
    return NULL;
  }
  Node *x = lower_expr(L, arg_value(a[0]));
  if (!x)
    return NULL;
  L->g->loc = call->loc;
  if (!shape_has_batch(&x->shape)) {
    char sh[64];
    diag_error(L->diag, call->loc, "dropout needs a tensor with the batch axis N, but this has "
               "shape %s", shape_str(&x->shape, sh, sizeof sh));
    return NULL;
  }
  if (p == 0)
    return x;
  return g_mul(L->g, x, g_noise(L->g, x->shape, p));
}

/* --- other functions --- */

/* exp(x), log(x), sqrt(x), abs(x) */
static Node *lower_unary(Lower *L, const AstNode *call, Node *(*f)(Graph *, Node *)) {
  static const char *const spec[] = {"x"};
  const AstNode *a[MAX_ARGS];
  if (!bind_args(L, call, spec, 1, 1, a))
    return NULL;
  Node *x = lower_expr(L, arg_value(a[0]));
  L->g->loc = call->loc;
  return x ? f(L->g, x) : NULL;
}

static Node *fn_exp(Lower *L, const AstNode *c, const char *n) { return (void)n, lower_unary(L, c, g_exp); }
static Node *fn_log(Lower *L, const AstNode *c, const char *n) { return (void)n, lower_unary(L, c, g_log); }
static Node *fn_sqrt(Lower *L, const AstNode *c, const char *n) { return (void)n, lower_unary(L, c, g_sqrt); }
static Node *fn_abs(Lower *L, const AstNode *c, const char *n) { return (void)n, lower_unary(L, c, g_abs); }

typedef enum { RED_SUM, RED_MEAN, RED_MAX, RED_MIN } Reduction;

/* sum/mean/max/min(x) over every element, or (x, axis = k) over one axis with numpy's
 * numbering (the batch axis N is axis 0; negative axes count from the end), dropping it unless
 * keepdims = true. max(a, b) and min(a, b) are elementwise. */
static Node *lower_reduction(Lower *L, const AstNode *call, Reduction r) {
  Graph *g = L->g;
  static const char *const spec_sum[] = {"x", "axis", "keepdims"};
  static const char *const spec_max[] = {"x", "y", "axis", "keepdims"};
  bool two = r == RED_MAX || r == RED_MIN;
  const AstNode *a[MAX_ARGS], *axis_a, *keep_a;
  if (!bind_args(L, call, two ? spec_max : spec_sum, two ? 4 : 3, 1, a))
    return NULL;
  axis_a = a[two ? 2 : 1];
  keep_a = a[two ? 3 : 2];
  if (two && a[1] && (axis_a || keep_a)) {
    diag_error(L->diag, call->loc, "%s of two values is elementwise and takes no axis",
               call->u.call.name);
    return NULL;
  }
  double axis = 0;
  bool keep = false;
  if (!number_arg(L, call, axis_a, "axis", &axis) || !bool_arg(L, keep_a, "keepdims", &keep))
    return NULL;
  if (axis_a && axis != floor(axis)) {
    diag_error(L->diag, arg_value(axis_a)->loc, "the axis of %s must be an integer",
               call->u.call.name);
    return NULL;
  }
  Node *x = lower_expr(L, arg_value(a[0]));
  Node *y = two && a[1] ? lower_expr(L, arg_value(a[1])) : NULL;
  if (!x || (two && a[1] && !y))
    return NULL;
  g->loc = call->loc;
  if (y)
    return r == RED_MAX ? g_max(g, x, y) : min2(g, x, y);
  uint32_t axes = all_axes(x);
  if (axis_a) {
    int rank = x->shape.rank, k = (int)(axis < 0 ? axis + rank : axis);
    if (axis < -rank || axis >= rank) {
      char sh[64];
      diag_error(L->diag, arg_value(axis_a)->loc, "axis %g is out of range for shape %s", axis,
                 shape_str(&x->shape, sh, sizeof sh));
      if (rank)
        diag_hint(L->diag, "axes of a tensor of rank %d are 0 to %d, or -%d to -1", rank,
                  rank - 1, rank);
      return NULL;
    }
    axes = 1u << k;
  }
  if (keep)
    axes |= AXES_KEEP;
  switch (r) {
  case RED_SUM: return g_sum(g, x, axes);
  case RED_MEAN: return mean_axes(g, x, axes);
  case RED_MAX: return g_maxr(g, x, axes);
  case RED_MIN: return g_neg(g, g_maxr(g, g_neg(g, x), axes));
  }
  return NULL;
}

static Node *fn_sum(Lower *L, const AstNode *c, const char *n) { return (void)n, lower_reduction(L, c, RED_SUM); }
static Node *fn_mean(Lower *L, const AstNode *c, const char *n) { return (void)n, lower_reduction(L, c, RED_MEAN); }
static Node *fn_max(Lower *L, const AstNode *c, const char *n) { return (void)n, lower_reduction(L, c, RED_MAX); }
static Node *fn_min(Lower *L, const AstNode *c, const char *n) { return (void)n, lower_reduction(L, c, RED_MIN); }

static Node *fn_dot(Lower *L, const AstNode *call, const char *n) {
  (void)n;
  static const char *const spec[] = {"a", "b"};
  const AstNode *a[MAX_ARGS];
  if (!bind_args(L, call, spec, 2, 2, a))
    return NULL;
  Node *x = lower_expr(L, arg_value(a[0])), *y = lower_expr(L, arg_value(a[1]));
  L->g->loc = call->loc;
  return dot(L->g, x, y);
}

/* the transpose of the last two axes */
static Node *transpose(Lower *L, Node *x) {
  if (!x)
    return NULL;
  if (x->shape.rank < 2) {
    char sh[64];
    diag_error(L->diag, L->g->loc, "transpose needs at least two axes, but this has shape %s",
               shape_str(&x->shape, sh, sizeof sh));
    return NULL;
  }
  return g_permute(L->g, x, shape_transpose_bits(x->shape.rank));
}

static Node *fn_transpose(Lower *L, const AstNode *call, const char *n) {
  (void)n;
  static const char *const spec[] = {"x"};
  const AstNode *a[MAX_ARGS];
  if (!bind_args(L, call, spec, 1, 1, a))
    return NULL;
  Node *x = lower_expr(L, arg_value(a[0]));
  L->g->loc = call->loc;
  return transpose(L, x);
}

static Node *fn_dense(Lower *L, const AstNode *c, const char *let) { return lower_dense(L, c, let); }

static Node *lower_regulariser(Lower *L, const AstNode *call, const struct Regulariser *r) {
  static const char *const spec[] = {"x"};
  const AstNode *a[MAX_ARGS];
  if (!bind_args(L, call, spec, 1, 1, a))
    return NULL;
  Node *x = lower_expr(L, arg_value(a[0]));
  L->g->loc = call->loc;
  return x ? r->build(L->g, x) : NULL;
}

/* Functions other than the activations, losses and regularisers of the tables above. */
static const struct Function {
  const char *name;
  Node *(*lower)(Lower *L, const AstNode *call, const char *let_name);
} functions[] = {
  {"dense", fn_dense}, {"dropout", lower_dropout}, {"exp", fn_exp}, {"log", fn_log},
  {"sqrt", fn_sqrt}, {"abs", fn_abs}, {"sum", fn_sum}, {"mean", fn_mean}, {"max", fn_max},
  {"min", fn_min}, {"dot", fn_dot}, {"transpose", fn_transpose},
};
enum { NFUN = sizeof functions / sizeof *functions };

static void unknown_function(Lower *L, const AstNode *call) {
  const char *names[NACT + NFUN + NLOSS + NREG];
  int n = 0;
  for (int i = 0; i < NFUN; i++)
    names[n++] = functions[i].name;
  for (int i = 0; i < NACT; i++)
    names[n++] = activations[i].name;
  for (int i = 0; i < NLOSS; i++)
    names[n++] = losses[i].name;
  for (int i = 0; i < NREG; i++)
    names[n++] = regularisers[i].name;
  diag_error(L->diag, call->u.call.name_loc, "unknown function '%s'", call->u.call.name);
  const char *best = diag_suggest(call->u.call.name, names, n);
  if (best)
    diag_hint(L->diag, "did you mean '%s'?", best);
}

static Node *lower_call(Lower *L, const AstNode *call, const char *let_name) {
  const char *name = call->u.call.name;
  for (int i = 0; i < NFUN; i++)
    if (!strcmp(functions[i].name, name))
      return functions[i].lower(L, call, let_name);
  const struct Activation *act = find_activation(name);
  if (act)
    return lower_activation_call(L, call, act);
  const struct Loss *loss = find_loss(name);
  if (loss)
    return lower_loss_call(L, call, loss);
  for (int i = 0; i < NREG; i++)
    if (!strcmp(regularisers[i].name, name))
      return lower_regulariser(L, call, &regularisers[i]);
  unknown_function(L, call);
  return NULL;
}

/* --- expressions --- */

/* An operand of @: transpose(W) (or Wᵀ) of a matrix folds into matmul's transpose bit. */
static Node *matmul_operand(Lower *L, const AstNode *e, uint32_t *transposed) {
  const AstNode *inner = single_arg_of(e, "transpose");
  *transposed = 0;
  if (!inner)
    return lower_expr(L, e);
  Node *x = lower_expr(L, inner);
  if (x && x->shape.rank == 2 && x->shape.dim[0] != DIM_BATCH) {
    *transposed = 1;
    return x;
  }
  L->g->loc = e->loc;
  return transpose(L, x);
}

static Node *lower_binary(Lower *L, const AstNode *e) {
  Graph *g = L->g;
  if (e->u.binary.op == BIN_MATMUL) {
    uint32_t ta, tb;
    Node *a = matmul_operand(L, e->u.binary.lhs, &ta);
    Node *b = matmul_operand(L, e->u.binary.rhs, &tb);
    g->loc = e->loc;
    return g_matmul(g, a, b, ta | tb << 1);
  }
  Node *a = lower_expr(L, e->u.binary.lhs);
  if (e->u.binary.op == BIN_POW) {
    double k;
    if (!constant_value(e->u.binary.rhs, &k)) {
      diag_error(L->diag, e->u.binary.rhs->loc, "the exponent of ^ must be a constant number");
      return NULL;
    }
    g->loc = e->loc;
    return g_powc(g, a, k);
  }
  Node *b = lower_expr(L, e->u.binary.rhs);
  g->loc = e->loc;
  switch (e->u.binary.op) {
  case BIN_ADD: return g_add(g, a, b);
  case BIN_SUB: return g_sub(g, a, b);
  case BIN_MUL: return g_mul(g, a, b);
  case BIN_DIV: return g_div(g, a, b);
  case BIN_DOT: return dot(g, a, b);
  case BIN_MATMUL:
  case BIN_POW: break;
  }
  return NULL;
}

/* A name whose definition had an error is bound to NULL, so its uses stay quiet. */
static Node *lower_name(Lower *L, const AstNode *e) {
  Binding *b = lookup(L, e->u.name.name);
  if (!b) {
    unknown_name(L, e);
    return NULL;
  }
  return b->node;
}

/* [[1, 2], [3, 4]] in an expression: a constant tensor of shape [2, 2], named after the line
 * that defines it (c = [...]) or literal1, literal2, ... */
static Node *lower_array(Lower *L, const AstNode *e, const char *let_name) {
  Shape s;
  float *vals;
  if (!array_literal(L, e, &s, &vals))
    return NULL;
  L->g->loc = e->loc;
  ++L->nliterals;
  return g_tensor(L->g, let_name ? let_name : arena_printf(L->g->arena, "literal%d", L->nliterals),
                  s, vals);
}

static Node *lower_expr_named(Lower *L, const AstNode *e, const char *let_name) {
  switch (e->kind) {
  case AST_NUM:
    return g_const(L->g, e->u.num.value);
  case AST_NAME:
    return lower_name(L, e);
  case AST_NEG: {
    Node *x = lower_expr(L, e->u.unary.operand);
    L->g->loc = e->loc;
    return g_neg(L->g, x);
  }
  case AST_BINARY:
    return lower_binary(L, e);
  case AST_CALL:
    return lower_call(L, e, let_name);
  case AST_ARRAY:
    return lower_array(L, e, let_name);
  default:
    diag_error(L->diag, e->loc, "this is not an expression");
    return NULL;
  }
}

static Node *lower_expr(Lower *L, const AstNode *e) { return lower_expr_named(L, e, NULL); }

/* --- declarations --- */

static Shape with_batch(Shape s) {
  Shape b = {.rank = (uint8_t)(s.rank + 1), .dim = {DIM_BATCH}};
  for (int i = 0; i < s.rank; i++)
    b.dim[i + 1] = s.dim[i];
  return b;
}

static void lower_decl(Lower *L, const AstNode *it) {
  Graph *g = L->g;
  const char *name = it->u.decl.name;
  g->loc = it->loc;
  ParamInit init = {INIT_ZEROS, 0, 0, NULL};
  Node *n = NULL;
  switch (it->kind) {
  case AST_INPUT:
  case AST_TARGET: {
    bool classes = it->kind == AST_TARGET && it == L->m->target && L->m->n_classes > 0;
    /* class labels arrive as one-hot rows of n_classes, filled in by the runtime */
    Shape s = classes ? (Shape){1, {L->m->n_classes}} : sema_decl_shape(it);
    n = g_leaf(g, OP_INPUT, name, with_batch(s), NODE_INPUT);
    *(it->kind == AST_INPUT ? &g->input : &g->target) = n;
    if (classes)
      L->class_target = n;
    bind(L, name, n);
    return;
  }
  case AST_PARAM:
    if (!it->u.decl.value || lower_init(L, it->u.decl.value, name, sema_decl_shape(it), &init))
      declare_param(L, name, sema_decl_shape(it), init);
    else
      bind(L, name, NULL);
    return;
  case AST_LET:
  case AST_OUTPUT:
  case AST_LOSS:
    n = lower_expr_named(L, it->u.decl.value, name);
    break;
  default:
    return;
  }
  if (name)
    bind(L, name, n);
  if (!n)
    return;
  if (name && !n->name)
    n->name = name;
  if (it->kind == AST_OUTPUT)
    g->output = n;
  if (it->kind == AST_LOSS)
    g->loss = n;
}

/* How the runtime scores predictions: argmax accuracy for class targets and the class losses;
 * thresholded (> 0.5) accuracy for the binary losses, but only when the output is a
 * probability (a sigmoid, or what binary_cross_entropy was given); otherwise none. */
static int choose_metric(const Lower *L) {
  const Graph *g = L->g;
  if (L->m->n_classes > 0 || L->class_loss)
    return NNRT_METRIC_ARGMAX;
  if (L->binary_loss && g->output &&
      (g->output->op == OP_SIGMOID || (L->binary_probs && g->output == L->binary_probs)))
    return NNRT_METRIC_BINARY;
  return NNRT_METRIC_NONE;
}

/* Whether `n` reads `leaf`, in one pass over the topological order. */
static bool depends_on(Graph *g, const Node *n, const Node *leaf) {
  ArenaMark mark = arena_mark(g->arena);
  bool *reads = ARENA_ARRAY(g->arena, bool, n->id + 1);
  for (uint32_t i = leaf->id; i <= n->id; i++) {
    const Node *x = g->node[i];
    reads[i] = x == leaf;
    for (int s = 0; s < x->nsrc && !reads[i]; s++)
      reads[i] = x->src[s]->id >= leaf->id && reads[x->src[s]->id];
  }
  bool r = reads[n->id];
  arena_reset(g->arena, mark);
  return r;
}

static void check_results(Lower *L) {
  Graph *g = L->g;
  char sh[64];
  if (g->loss && g->loss->shape.rank != 0) {
    diag_error(L->diag, L->m->loss->loc, "the loss must be a scalar, but it has shape %s",
               shape_str(&g->loss->shape, sh, sizeof sh));
    diag_hint(L->diag, "average it over the batch with mean(...)");
  }
  if (g->output && !shape_has_batch(&g->output->shape)) {
    diag_error(L->diag, L->m->output->loc,
               "the output must have one row per input row, but it has shape %s",
               shape_str(&g->output->shape, sh, sizeof sh));
  } else if (g->output && g->target && depends_on(g, g->output, g->target)) {
    diag_error(L->diag, L->m->output->loc,
               "the output depends on target '%s', which is not known when predicting",
               g->target->name);
  }
}

bool lower_model(Graph *g, const Model *m) {
  Lower L = {.g = g, .diag = g->diag, .m = m};
  int before = diag_count(g->diag);
  for (const AstNode *it = m->ast->u.block.items; it; it = it->next)
    lower_decl(&L, it);
  if (diag_count(g->diag) == before)
    check_results(&L);
  g->metric = choose_metric(&L);
  return diag_count(g->diag) == before;
}

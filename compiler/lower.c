#include "lower.h"

#include <math.h>
#include <string.h>

typedef struct {
  const char *name;
  Node *node;
} Binding;

typedef struct {
  Graph *g;
  Diag *diag;
  const Model *m;
  Binding *scope;
  int nscope, cap;
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

/* --- sugar: functions callable from expressions --- */

/* mean(x) = Σx / (number of elements), the batch axis counted at run time as N */
static Node *mean_all(Graph *g, Node *x) {
  Shape s = x->shape;
  int64_t count = shape_numel(&s, 1);
  Node *m = g_sum(g, x, (1u << s.rank) - 1);
  if (count != 1)
    m = g_mul(g, g_const(g, 1.0 / (double)count), m);
  return shape_has_batch(&s) ? g_div(g, m, g_batch(g)) : m;
}

static Node *sum_all(Graph *g, Node *x) {
  return x ? g_sum(g, x, (1u << x->shape.rank) - 1) : NULL;
}

/* a · b = Σ over the last axis of a ⊙ b */
static Node *dot(Graph *g, Node *a, Node *b) {
  Node *p = g_mul(g, a, b);
  if (!p)
    return NULL;
  if (p->shape.rank == 0)
    return p;
  return g_sum(g, p, 1u << (p->shape.rank - 1));
}

static Node *relu(Graph *g, Node *x) { return g_max(g, x, g_const(g, 0)); }
static Node *identity(Graph *g, Node *x) { return (void)g, x; }

typedef Node *Unary(Graph *g, Node *x);

/* Activations: usable as f(x) and as the activation argument of dense. */
static const struct {
  const char *name;
  Unary *build;
} activations[] = {
  {"identity", identity}, {"relu", relu}, {"sigmoid", g_sigmoid}, {"tanh", g_tanh},
};

/* Other one-argument functions. */
static const struct {
  const char *name;
  Unary *build;
} functions[] = {
  {"exp", g_exp}, {"log", g_log}, {"sum", sum_all}, {"mean", mean_all},
};

enum { NACT = sizeof activations / sizeof *activations, NFUN = sizeof functions / sizeof *functions };

static Unary *find_unary(const char *name) {
  for (int i = 0; i < NACT; i++)
    if (!strcmp(activations[i].name, name))
      return activations[i].build;
  for (int i = 0; i < NFUN; i++)
    if (!strcmp(functions[i].name, name))
      return functions[i].build;
  return NULL;
}

static Unary *find_activation(const char *name) {
  for (int i = 0; i < NACT; i++)
    if (!strcmp(activations[i].name, name))
      return activations[i].build;
  return NULL;
}

static void unknown_function(Lower *L, const AstNode *call) {
  const char *names[NACT + NFUN + 2] = {"dense", "dot"};
  int n = 2;
  for (int i = 0; i < NACT; i++)
    names[n++] = activations[i].name;
  for (int i = 0; i < NFUN; i++)
    names[n++] = functions[i].name;
  diag_error(L->diag, call->u.call.name_loc, "unknown function '%s'", call->u.call.name);
  const char *best = diag_suggest(call->u.call.name, names, n);
  if (best)
    diag_hint(L->diag, "did you mean '%s'?", best);
}

static bool check_arity(Lower *L, const AstNode *call, int lo, int hi) {
  int n = ast_length(call->u.call.args);
  for (const AstNode *a = call->u.call.args; a; a = a->next)
    if (a->kind == AST_KWARG) {
      diag_error(L->diag, a->loc, "%s takes no named arguments", call->u.call.name);
      return false;
    }
  if (n >= lo && n <= hi)
    return true;
  if (lo == hi)
    diag_error(L->diag, call->loc, "%s takes %d argument%s, got %d", call->u.call.name, lo,
               lo == 1 ? "" : "s", n);
  else
    diag_error(L->diag, call->loc, "%s takes %d to %d arguments, got %d", call->u.call.name, lo,
               hi, n);
  return false;
}

/* --- parameters and their initialisers --- */


static Node *declare_param(Lower *L, const char *name, Shape s, ParamInit init) {
  Node *p = g_param_init(L->g, name, s, init);
  bind(L, name, p);
  return p;
}

/* dense(x, n, act) = act(x W + b) with W: [in, n] drawn Glorot-uniform, b: [n] zeros.
 * The layer's parameters are named after the value it defines: h.W and h.b. */
static Node *lower_dense(Lower *L, const AstNode *call, const char *layer) {
  Graph *g = L->g;
  if (!check_arity(L, call, 2, 3))
    return NULL;
  const AstNode *xa = call->u.call.args, *na = xa->next, *act = na->next;
  if (!layer) {
    diag_error(L->diag, call->loc, "a dense layer needs a name for its parameters");
    diag_hint(L->diag, "write it as its own line: h = dense(...)");
    return NULL;
  }
  double units = na->kind == AST_NUM ? na->u.num.value : 0;
  if (units < 1 || units != floor(units) || units > 1e9) {
    diag_error(L->diag, na->loc, "the number of units of dense must be a positive integer");
    return NULL;
  }
  Unary *f = identity;
  if (act && (act->kind != AST_NAME || !(f = find_activation(act->u.name.name)))) {
    diag_error(L->diag, act->loc, "unknown activation; use identity, relu, sigmoid or tanh");
    return NULL;
  }
  Node *x = lower_expr(L, xa);
  if (!x)
    return NULL;
  if (x->shape.rank != 2) {
    diag_error(L->diag, xa->loc, "dense expects rows of a vector, [N, k]; this has rank %d",
               x->shape.rank);
    return NULL;
  }
  int64_t in = x->shape.dim[1], out = (int64_t)units;
  double limit = sqrt(6.0 / (double)(in + out));
  Node *W = declare_param(L, arena_printf(g->arena, "%s.W", layer),
                          (Shape){2, {in, out}}, (ParamInit){INIT_UNIFORM, -limit, limit, NULL});
  Node *b = declare_param(L, arena_printf(g->arena, "%s.b", layer), (Shape){1, {out}},
                          (ParamInit){INIT_ZEROS, 0, 0, NULL});
  g->loc = call->loc;
  return f(g, g_add(g, g_matmul(g, x, W, 0), b));
}

static Node *lower_call(Lower *L, const AstNode *call, const char *let_name) {
  const char *name = call->u.call.name;
  if (!strcmp(name, "dense"))
    return lower_dense(L, call, let_name);
  if (!strcmp(name, "dot")) {
    if (!check_arity(L, call, 2, 2))
      return NULL;
    Node *a = lower_expr(L, call->u.call.args), *b = lower_expr(L, call->u.call.args->next);
    L->g->loc = call->loc;
    return dot(L->g, a, b);
  }
  Unary *f = find_unary(name);
  if (!f) {
    unknown_function(L, call);
    return NULL;
  }
  if (!check_arity(L, call, 1, 1))
    return NULL;
  Node *x = lower_expr(L, call->u.call.args);
  L->g->loc = call->loc;
  return x ? f(L->g, x) : NULL;
}

/* --- expressions --- */

static bool constant_value(const AstNode *e, double *out) {
  if (e->kind == AST_NUM)
    return *out = e->u.num.value, true;
  if (e->kind == AST_NEG && constant_value(e->u.unary.operand, out))
    return *out = -*out, true;
  return false;
}

static Node *lower_binary(Lower *L, const AstNode *e) {
  Graph *g = L->g;
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
  case BIN_MATMUL: return g_matmul(g, a, b, 0);
  case BIN_DOT: return dot(g, a, b);
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
    diag_error(L->diag, e->loc, "array literals are only allowed as initial values of params");
    return NULL;
  default:
    diag_error(L->diag, e->loc, "this is not an expression");
    return NULL;
  }
}

static Node *lower_expr(Lower *L, const AstNode *e) { return lower_expr_named(L, e, NULL); }

/* --- declarations --- */

static int flatten_array(const AstNode *e, float *out, int cap, int n) {
  double v;
  if (constant_value(e, &v)) {
    if (n < cap)
      out[n] = (float)v;
    return n + 1;
  }
  if (e->kind != AST_ARRAY)
    return -1;
  for (const AstNode *x = e->u.array.elems; x; x = x->next)
    if ((n = flatten_array(x, out, cap, n)) < 0)
      return -1;
  return n;
}

static bool number_args(Lower *L, const AstNode *call, double *a, double *b) {
  if (ast_length(call->u.call.args) == 2 && constant_value(call->u.call.args, a) &&
      constant_value(call->u.call.args->next, b))
    return true;
  diag_error(L->diag, call->loc, "%s takes two numbers, e.g. %s(0, 1)", call->u.call.name,
             call->u.call.name);
  return false;
}

/* param initialisers: zeros, ones, a number, normal(mean, std), uniform(lo, hi), an array */
static bool param_init(Lower *L, const AstNode *decl, Shape s, ParamInit *init) {
  const AstNode *v = decl->u.decl.value;
  double k;
  if (!v)
    return *init = (ParamInit){INIT_ZEROS, 0, 0, NULL}, true;
  if (constant_value(v, &k))
    return *init = (ParamInit){INIT_CONST, k, 0, NULL}, true;
  if (v->kind == AST_NAME && !strcmp(v->u.name.name, "zeros"))
    return *init = (ParamInit){INIT_ZEROS, 0, 0, NULL}, true;
  if (v->kind == AST_NAME && !strcmp(v->u.name.name, "ones"))
    return *init = (ParamInit){INIT_ONES, 0, 0, NULL}, true;
  if (v->kind == AST_CALL && !strcmp(v->u.call.name, "normal")) {
    *init = (ParamInit){INIT_NORMAL, 0, 1, NULL};
    return number_args(L, v, &init->a, &init->b);
  }
  if (v->kind == AST_CALL && !strcmp(v->u.call.name, "uniform")) {
    *init = (ParamInit){INIT_UNIFORM, 0, 1, NULL};
    return number_args(L, v, &init->a, &init->b);
  }
  if (v->kind == AST_ARRAY) {
    int64_t want = shape_numel(&s, 1);
    float *vals = ARENA_ARRAY(L->g->arena, float, want);
    int got = flatten_array(v, vals, (int)want, 0);
    if (got != want) {
      diag_error(L->diag, v->loc, "'%s' has %lld elements but this array gives %d",
                 decl->u.decl.name, (long long)want, got < 0 ? 0 : got);
      return false;
    }
    return *init = (ParamInit){INIT_VALUES, 0, 0, vals}, true;
  }
  diag_error(L->diag, v->loc, "unknown initialiser; use zeros, ones, a number, an array, "
             "normal(mean, std) or uniform(lo, hi)");
  return false;
}

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
  ParamInit init;
  Node *n = NULL;
  switch (it->kind) {
  case AST_INPUT:
  case AST_TARGET:
    n = g_leaf(g, OP_INPUT, name, with_batch(sema_decl_shape(it)), NODE_INPUT);
    *(it->kind == AST_INPUT ? &g->input : &g->target) = n;
    bind(L, name, n);
    return;
  case AST_PARAM:
    if (param_init(L, it, sema_decl_shape(it), &init))
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
  return diag_count(g->diag) == before;
}

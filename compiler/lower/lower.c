/* lower: the driver of lowering, the scope of names, expressions and declarations. Contract:
 * lower.h; calls are lowered in lower_call.c, their arguments bound in lower_args.c, the sugar
 * tables are lower_sugar.c's and the initialisers lower_init.c's. */
#include "lower_internal.h"

#include <string.h>

/* --- scope --- */

void lower_bind(Lower *L, const char *name, Node *n) {
  if (L->nscope == L->cap) {
    L->cap = L->cap ? 2 * L->cap : 32;
    Binding *b = ARENA_ARRAY(L->g->arena, Binding, L->cap);
    if (L->scope)
      memcpy(b, L->scope, sizeof(Binding) * (size_t)L->nscope);
    L->scope = b;
  }
  L->scope[L->nscope++] = (Binding){name, n};
  strmap_put(&L->latest, name, (void *)(intptr_t)L->nscope);
}

static Binding *lookup(Lower *L, const char *name) {
  intptr_t i = (intptr_t)strmap_get(&L->latest, name);
  return i ? &L->scope[i - 1] : NULL;
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

/* --- expressions --- */

/* An operand of @: transpose(W) (or Wᵀ) of a matrix folds into matmul's transpose bit. */
static Node *matmul_operand(Lower *L, const AstNode *e, uint32_t *transposed) {
  const AstNode *inner = lower_single_arg_of(e, "transpose");
  *transposed = 0;
  if (!inner)
    return lower_expr(L, e);
  Node *x = lower_expr(L, inner);
  if (x && x->shape.rank == 2 && x->shape.dim[0] != DIM_BATCH) {
    *transposed = 1;
    return x;
  }
  L->g->loc = e->loc;
  return lower_transpose(L, x);
}

static Node *lower_binary(Lower *L, const AstNode *e) {
  Graph *g = L->g;
  if (e->u.binary.op == BIN_MATMUL) {
    uint32_t ta, tb;
    Node *a = matmul_operand(L, e->u.binary.lhs, &ta);
    Node *b = matmul_operand(L, e->u.binary.rhs, &tb);
    g->loc = e->loc;
    return g_matmul(g, a, b, ta, tb);
  }
  Node *a = lower_expr(L, e->u.binary.lhs);
  if (e->u.binary.op == BIN_POW) {
    double k;
    if (!lower_constant_value(e->u.binary.rhs, &k)) {
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
  case BIN_DOT: return lower_dot(g, a, b);
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
  if (!lower_array_literal(L, e, &s, &vals))
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
  case AST_STRING: /* an argument no option of its call reads */
    diag_error(L->diag, e->loc, "a string cannot be used in a model's expressions");
    return NULL;
  default:
    diag_error(L->diag, e->loc, "this is not an expression");
    return NULL;
  }
}

Node *lower_expr(Lower *L, const AstNode *e) { return lower_expr_named(L, e, NULL); }

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
    bool classes = it->kind == AST_TARGET && L->m->n_classes > 0;
    /* class labels arrive as one-hot rows of n_classes, filled in by the runtime */
    Shape s = classes ? (Shape){1, {L->m->n_classes}} : sema_decl_shape(it);
    n = g_leaf(g, OP_INPUT, name, with_batch(s), NODE_INPUT);
    *(it->kind == AST_INPUT ? &g->input : &g->target) = n;
    if (classes)
      L->class_target = n;
    lower_bind(L, name, n);
    return;
  }
  case AST_PARAM:
    if (!it->u.decl.value || lower_init(L, it->u.decl.value, name, sema_decl_shape(it), &init))
      lower_declare_param(L, name, sema_decl_shape(it), init);
    else
      lower_bind(L, name, NULL);
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
    lower_bind(L, name, n);
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
bool lower_depends_on(Graph *g, const Node *n, const Node *leaf) {
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
    diag_error(L->diag, L->m->loss.loc, "the loss must be a scalar, but it has shape %s",
               shape_str(&g->loss->shape, sh, sizeof sh));
    diag_hint(L->diag, "average it over the batch with mean(...)");
  }
  if (g->output && !shape_has_batch(&g->output->shape)) {
    diag_error(L->diag, L->m->output.loc,
               "the output must have one row per input row, but it has shape %s",
               shape_str(&g->output->shape, sh, sizeof sh));
  } else if (g->output && g->target && lower_depends_on(g, g->output, g->target)) {
    diag_error(L->diag, L->m->output.loc,
               "the output depends on target '%s', which is not known when predicting",
               g->target->name);
  }
}

/* A parameter neither the loss nor the output reads is initialised, stored (with its
 * optimizer state) and saved for nothing; a huge one can make the program too large to run.
 * One backward pass over the topological order marks what the results read. */
static void warn_unreached_params(Lower *L) {
  Graph *g = L->g;
  if (!g->loss && !g->output)
    return;
  ArenaMark mark = arena_mark(g->arena);
  bool *read = ARENA_ARRAY(g->arena, bool, g->n);
  memset(read, 0, sizeof(bool) * g->n);
  for (Node *r[2] = {g->loss, g->output}, **x = r; x < r + 2; x++)
    if (*x)
      read[(*x)->id] = true;
  for (uint32_t i = g->n; i-- > 0;)
    for (int s = 0; s < g->node[i]->nsrc && read[i]; s++)
      read[g->node[i]->src[s]->id] = true;
  for (int i = 0; i < g->nparams; i++) {
    const Node *p = g->params[i].param;
    if (g->params[i].role == ROLE_PARAM && !read[p->id]) {
      diag_warning(L->diag, p->loc, "parameter '%s' is not used by the %s", p->name,
                   g->loss && g->output ? "loss or the output" : g->loss ? "loss" : "output");
      diag_hint(L->diag, "it would be initialised, trained and saved for nothing; use it or "
                         "remove it");
    }
  }
  arena_reset(g->arena, mark);
}

bool lower_model(Graph *g, const Model *m) {
  Lower L = {.g = g, .diag = g->diag, .m = m};
  strmap_init(&L.latest, g->arena);
  int before = diag_count(g->diag);
  for (const AstNode *it = m->body; it; it = it->next)
    lower_decl(&L, it);
  if (diag_count(g->diag) == before) {
    check_results(&L);
    warn_unreached_params(&L);
  }
  g->metric = lower_choose_metric(&L);
  return diag_count(g->diag) == before;
}

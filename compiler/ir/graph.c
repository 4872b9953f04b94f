#include "graph.h"

#include <string.h>

#include "simplify.h"

static ShapeRule *const shape_rule[OP_COUNT] = {
#define OP(id, name, arity, params, kind, shape, grad, eval, lower, ident, notation) [OP_##id] = shape,
#include "ops.def"
#undef OP
};

void graph_init(Graph *g, Arena *arena, Diag *diag) {
  memset(g, 0, sizeof *g);
  g->arena = arena;
  g->diag = diag;
}

static void *grow(Arena *a, void *old, size_t elem, uint32_t n, uint32_t *cap) {
  if (n < *cap)
    return old;
  *cap = *cap ? *cap * 2 : 64;
  void *p = arena_alloc(a, elem * *cap);
  if (old)
    memcpy(p, old, elem * n);
  return p;
}

static Node *node_append(Graph *g, Op op, Shape shape) {
  g->node = grow(g->arena, g->node, sizeof(Node *), g->n, &g->cap);
  Node *n = ARENA_NEW(g->arena, Node);
  n->op = op;
  n->id = g->n;
  n->shape = shape;
  n->loc = g->loc;
  g->node[g->n++] = n;
  return n;
}

/* --- hash-consing: open addressing over (op, src, arg) --- */

static uint64_t fnv(uint64_t h, uint64_t part) { return (h ^ part) * 1099511628211u; }

static uint64_t node_hash(Op op, Node *const src[], const OpArg *arg) {
  uint64_t h = fnv(1469598103934665603u, (uint64_t)op), kbits;
  for (int s = 0; s < NNC_MAX_SRC; s++)
    h = fnv(h, src[s] ? src[s]->id + 1u : 0);
  memcpy(&kbits, &arg->k, sizeof kbits);
  h = fnv(h, kbits);
  for (int i = 0; i < NNC_MAX_PARAMS; i++)
    h = fnv(h, (uint32_t)arg->p[i]);
  return h;
}

static bool node_matches(const Node *n, Op op, Node *const src[], const OpArg *arg,
                         const Shape *shape) {
  return n->op == op && !memcmp(n->src, src, sizeof n->src) && n->arg.k == arg->k &&
         !memcmp(n->arg.p, arg->p, sizeof arg->p) && shape_eq(&n->shape, shape);
}

static void cse_insert(Graph *g, Node *n);

static void cse_rehash(Graph *g) {
  Node **old = g->cse;
  uint32_t old_cap = g->cse_cap;
  g->cse_cap = old_cap ? old_cap * 2 : 256;
  g->cse = ARENA_ARRAY(g->arena, Node *, g->cse_cap);
  for (uint32_t i = 0; i < old_cap; i++)
    if (old[i])
      cse_insert(g, old[i]);
}

static void cse_insert(Graph *g, Node *n) {
  uint64_t h = node_hash(n->op, n->src, &n->arg);
  uint32_t i = (uint32_t)h & (g->cse_cap - 1);
  while (g->cse[i])
    i = (i + 1) & (g->cse_cap - 1);
  g->cse[i] = n;
}

static Node *cse_find(Graph *g, Op op, Node *const src[], const OpArg *arg, const Shape *shape) {
  if (!g->cse_cap)
    return NULL;
  uint64_t h = node_hash(op, src, arg);
  for (uint32_t i = (uint32_t)h & (g->cse_cap - 1); g->cse[i]; i = (i + 1) & (g->cse_cap - 1))
    if (node_matches(g->cse[i], op, src, arg, shape))
      return g->cse[i];
  return NULL;
}

/* src holds NNC_MAX_SRC entries, NULL past the op's arity. */
static Node *node_intern(Graph *g, Op op, Node *const src[], const OpArg *arg,
                         const Shape *shape) {
  Node *n = cse_find(g, op, src, arg, shape);
  if (n)
    return n;
  if (2 * (g->n + 1) > g->cse_cap)
    cse_rehash(g);
  n = node_append(g, op, *shape);
  n->nsrc = (uint8_t)op_info[op].arity;
  memcpy(n->src, src, sizeof n->src);
  n->arg = *arg;
  cse_insert(g, n);
  return n;
}

static Node *intern_leaf(Graph *g, Op op, double k) {
  Node *none[NNC_MAX_SRC] = {0};
  Shape s = shape_scalar();
  return node_intern(g, op, none, &(OpArg){.k = k}, &s);
}

/* --- builders --- */

Node *g_const(Graph *g, double k) { return intern_leaf(g, OP_CONST, k); }

Node *g_batch(Graph *g) { return intern_leaf(g, OP_BATCH, 0); }

Node *g_leaf(Graph *g, Op op, const char *name, Shape shape, uint16_t flags) {
  Node *n = node_append(g, op, shape);
  n->name = name;
  n->flags = flags;
  return n;
}

static Node *add_slot(Graph *g, const char *name, Shape shape, uint16_t flags, ParamInit init,
                      LeafRole role) {
  Node *n = g_leaf(g, OP_PARAM, name, shape, flags);
  uint32_t cap = (uint32_t)g->params_cap;
  g->params = grow(g->arena, g->params, sizeof(ParamSlot), (uint32_t)g->nparams, &cap);
  g->params_cap = (int)cap;
  g->params[g->nparams++] = (ParamSlot){.param = n, .init = init, .role = role};
  return n;
}

Node *g_param_init(Graph *g, const char *name, Shape shape, ParamInit init) {
  return add_slot(g, name, shape, NODE_PARAM, init, ROLE_PARAM);
}

Node *g_param(Graph *g, const char *name, Shape shape) {
  return g_param_init(g, name, shape, (ParamInit){INIT_ZEROS, 0, 0, NULL});
}

Node *g_state(Graph *g, const char *name, Shape shape) {
  return add_slot(g, name, shape, NODE_STATE, (ParamInit){INIT_ZEROS, 0, 0, NULL}, ROLE_STATE);
}

Node *g_tensor(Graph *g, const char *name, Shape shape, const float *values) {
  return add_slot(g, name, shape, 0, (ParamInit){INIT_VALUES, 0, 0, values}, ROLE_CONST);
}

Node *g_noise(Graph *g, Shape shape, double p) {
  Node *n = g_leaf(g, OP_INPUT, "mask", shape, NODE_NOISE);
  n->arg.k = p;
  uint32_t cap = (uint32_t)g->noise_cap;
  g->noise = grow(g->arena, g->noise, sizeof(Node *), (uint32_t)g->nnoise, &cap);
  g->noise_cap = (int)cap;
  g->noise[g->nnoise++] = n;
  return n;
}

Node *g_buffer(Graph *g, const char *name, Shape shape, ParamInit init, Node *target,
               double momentum) {
  if (!target)
    return NULL;
  NNC_ASSERT(!(target->flags & (NODE_BACKWARD | NODE_UPDATE)));
  char a[64], b[64];
  if (shape_has_batch(&shape)) {
    diag_error(g->diag, g->loc, "running statistic '%s' %s has the batch axis; it outlives batches",
               name, shape_str(&shape, a, sizeof a));
    return NULL;
  }
  if (!shape_eq(&shape, &target->shape)) {
    diag_error(g->diag, g->loc, "running statistic '%s' %s cannot follow a value %s", name,
               shape_str(&shape, a, sizeof a), shape_str(&target->shape, b, sizeof b));
    return NULL;
  }
  if (!(momentum > 0 && momentum <= 1)) {
    diag_error(g->diag, g->loc, "running statistic '%s' has momentum %g, not in (0, 1]", name,
               momentum);
    return NULL;
  }
  Node *n = add_slot(g, name, shape, NODE_BUFFER, init, ROLE_BUFFER);
  g->params[g->nparams - 1].target = target;
  g->params[g->nparams - 1].momentum = momentum;
  return n;
}

Node *g_training(Graph *g) {
  if (!g->training)
    g->training = g_leaf(g, OP_INPUT, "training", shape_scalar(), NODE_HYPER);
  return g->training;
}

ParamSlot *graph_slot(const Graph *g, const Node *leaf) {
  for (int i = 0; i < g->nparams; i++)
    if (g->params[i].param == leaf)
      return &g->params[i];
  return NULL;
}

/* Whether the parameters that op does not take are 0, as one spelling per node requires. */
static bool params_unused(Op op, const OpArg *arg) {
  for (int i = op_info[op].nparams; i < NNC_MAX_PARAMS; i++)
    if (arg->p[i])
      return false;
  return true;
}

Node *g_op(Graph *g, Op op, Node *const src[], OpArg arg, const Shape *want) {
  int arity = op_info[op].arity;
  Node *s[NNC_MAX_SRC] = {0};
  const Shape *shapes[NNC_MAX_SRC] = {0};
  uint16_t flags = 0;
  for (int i = 0; i < arity; i++) {
    if (!src[i])
      return NULL;
    s[i] = src[i];
    shapes[i] = &src[i]->shape;
    flags |= src[i]->flags & (NODE_BACKWARD | NODE_UPDATE);
  }
  Shape shape = want ? *want : shape_scalar();
  char why[256];
  if (!params_unused(op, &arg)) {
    diag_error(g->diag, g->loc, "%s takes %d parameters", op_info[op].name, op_info[op].nparams);
    return NULL;
  }
  if (!shape_rule[op](shapes, arg.p, &shape, why, sizeof why)) {
    diag_error(g->diag, g->loc, "%s", why);
    return NULL;
  }
  if (!shape_fits(&shape)) {
    diag_error(g->diag, g->loc, "this %s would have %s elements, more than the 2^31 nnc plans for",
               op_info[op].name, shape_str(&shape, why, sizeof why));
    return NULL;
  }
  Node *r = simplify_rewrite(g, op, s, &arg, &shape);
  if (r) {
    g->rewrites++;
    return r;
  }
  Node *n = node_intern(g, op, s, &arg, &shape);
  n->flags |= flags;
  return n;
}

static Node *op1(Graph *g, Op op, Node *a, OpArg arg) { return g_op(g, op, &a, arg, NULL); }
static Node *op2(Graph *g, Op op, Node *a, Node *b) {
  return g_op(g, op, (Node *[]){a, b}, (OpArg){0}, NULL);
}

Node *g_neg(Graph *g, Node *a) { return op1(g, OP_NEG, a, (OpArg){0}); }
Node *g_recip(Graph *g, Node *a) { return op1(g, OP_RECIP, a, (OpArg){0}); }
Node *g_exp(Graph *g, Node *a) { return op1(g, OP_EXP, a, (OpArg){0}); }
Node *g_log(Graph *g, Node *a) { return op1(g, OP_LOG, a, (OpArg){0}); }
Node *g_log1p(Graph *g, Node *a) { return op1(g, OP_LOG1P, a, (OpArg){0}); }
Node *g_sigmoid(Graph *g, Node *a) { return op1(g, OP_SIGMOID, a, (OpArg){0}); }
Node *g_tanh(Graph *g, Node *a) { return op1(g, OP_TANH, a, (OpArg){0}); }
Node *g_sqrt(Graph *g, Node *a) { return op1(g, OP_SQRT, a, (OpArg){0}); }
Node *g_abs(Graph *g, Node *a) { return op1(g, OP_ABS, a, (OpArg){0}); }
Node *g_powc(Graph *g, Node *a, double k) { return op1(g, OP_POWC, a, (OpArg){.k = k}); }
Node *g_add(Graph *g, Node *a, Node *b) { return op2(g, OP_ADD, a, b); }
Node *g_sub(Graph *g, Node *a, Node *b) { return op2(g, OP_SUB, a, b); }
Node *g_mul(Graph *g, Node *a, Node *b) { return op2(g, OP_MUL, a, b); }
Node *g_div(Graph *g, Node *a, Node *b) { return op2(g, OP_DIV, a, b); }
Node *g_max(Graph *g, Node *a, Node *b) { return op2(g, OP_MAX, a, b); }
Node *g_cmpgt(Graph *g, Node *a, Node *b) { return op2(g, OP_CMPGT, a, b); }
Node *g_sum(Graph *g, Node *a, uint32_t axes) {
  return op1(g, OP_SUM, a, (OpArg){.p = {[PARAM_AXES] = (int32_t)axes}});
}
Node *g_maxr(Graph *g, Node *a, uint32_t axes) {
  return op1(g, OP_MAXR, a, (OpArg){.p = {[PARAM_AXES] = (int32_t)axes}});
}
Node *g_expand(Graph *g, Node *a, uint32_t axes, Shape to) {
  return g_op(g, OP_EXPAND, &a, (OpArg){.p = {[PARAM_AXES] = (int32_t)axes}}, &to);
}
Node *g_permute(Graph *g, Node *a, const int32_t perm[]) {
  OpArg arg = {0};
  if (a)
    memcpy(arg.p, perm, sizeof *perm * a->shape.rank);
  return op1(g, OP_PERMUTE, a, arg);
}
Node *g_transpose(Graph *g, Node *a) {
  int32_t perm[NNC_MAX_RANK] = {0, 1, 2, 3};
  int rank = a ? a->shape.rank : 0;
  if (rank >= 2) {
    perm[rank - 2] = rank - 1;
    perm[rank - 1] = rank - 2;
  }
  return g_permute(g, a, perm);
}
Node *g_matmul(Graph *g, Node *a, Node *b, bool transpose_a, bool transpose_b) {
  OpArg arg = {.p = {[PARAM_TRANSPOSE_A] = transpose_a, [PARAM_TRANSPOSE_B] = transpose_b}};
  return g_op(g, OP_MATMUL, (Node *[]){a, b}, arg, NULL);
}

Node *g_reshape(Graph *g, Node *a, Shape to) {
  return g_op(g, OP_RESHAPE, &a, (OpArg){0}, &to);
}

static Node *window_op(Graph *g, Op op, Node *x, const Window *w) {
  OpArg arg = {0};
  window_params(w, arg.p);
  return g_op(g, op, &x, arg, NULL);
}

Node *g_unfold(Graph *g, Node *x, const Window *w) { return window_op(g, OP_UNFOLD, x, w); }
Node *g_maxpool(Graph *g, Node *x, const Window *w) { return window_op(g, OP_MAXPOOL, x, w); }
Node *g_avgpool(Graph *g, Node *x, const Window *w) { return window_op(g, OP_AVGPOOL, x, w); }

void g_tag(Node *n, ProvKind kind, Node *of, int index) {
  if (n && n->prov.kind == PROV_NONE)
    n->prov.kind = (uint8_t)kind, n->prov.of = of, n->prov.index = (uint8_t)index;
}

bool node_is_const(const Node *n, double k) { return n && n->op == OP_CONST && n->arg.k == k; }

const char *node_op_name(const Node *n) { return op_info[n->op].name; }

const Shape *node_space(const Node *n) {
  return op_info[n->op].kind == KIND_REDUCE ? &n->src[0]->shape : &n->shape;
}

void node_src_view(const Node *n, int s, int64_t stride[NNC_MAX_RANK]) {
  const Shape *src = &n->src[s]->shape, *space = node_space(n);
  if (n->op == OP_RESHAPE) { /* the source's buffer read in the result's row-major order */
    shape_strides(space, stride);
    return;
  }
  if (n->op != OP_PERMUTE) {
    shape_view(src, space, n->op == OP_EXPAND ? (uint32_t)n->arg.p[PARAM_AXES] : 0, stride);
    return;
  }
  int64_t own[NNC_MAX_RANK];
  shape_strides(src, own);
  for (int i = 0; i < NNC_MAX_RANK; i++)
    stride[i] = i < space->rank ? own[n->arg.p[i]] : 0;
}

/* --- verification --- */

static bool verify_node(const Graph *g, const Node *n, uint32_t i, FILE *err) {
  if (n->id != i) {
    fprintf(err, "graph_verify: node at %u has id %u\n", i, n->id);
    return false;
  }
  if (n->nsrc != op_info[n->op].arity) {
    fprintf(err, "graph_verify: %%%u has %d sources, %s takes %d\n", i, n->nsrc,
            node_op_name(n), op_info[n->op].arity);
    return false;
  }
  for (int s = 0; s < n->nsrc; s++) {
    if (!n->src[s] || n->src[s]->id >= i || g->node[n->src[s]->id] != n->src[s]) {
      fprintf(err, "graph_verify: %%%u source %d is not an earlier node\n", i, s);
      return false;
    }
  }
  for (int s = n->nsrc; s < NNC_MAX_SRC; s++)
    if (n->src[s]) {
      fprintf(err, "graph_verify: %%%u has a source past its %d\n", i, n->nsrc);
      return false;
    }
  if (!params_unused(n->op, &n->arg)) {
    fprintf(err, "graph_verify: %%%u has parameters that %s does not take\n", i, node_op_name(n));
    return false;
  }
  if (op_info[n->op].kind == KIND_LEAF)
    return true;
  const Shape *src[NNC_MAX_SRC] = {0};
  for (int s = 0; s < n->nsrc; s++)
    src[s] = &n->src[s]->shape;
  Shape s = n->shape; /* the wanted shape, for the ops that are told theirs (EXPAND, RESHAPE...) */
  char why[256];
  if (!shape_rule[n->op](src, n->arg.p, &s, why, sizeof why) || !shape_eq(&s, &n->shape)) {
    fprintf(err, "graph_verify: %%%u violates its shape rule\n", i);
    return false;
  }
  return true;
}

bool graph_verify(const Graph *g, FILE *err) {
  for (uint32_t i = 0; i < g->n; i++)
    if (!verify_node(g, g->node[i], i, err))
      return false;
  return true;
}

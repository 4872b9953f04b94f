#include "graph.h"

#include <string.h>

#include "simplify.h"

static ShapeRule *const shape_rule[OP_COUNT] = {
#define OP(id, name, arity, kind, shape, grad, eval, lower, ident, notation) [OP_##id] = shape,
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

static uint64_t node_hash(Op op, Node *a, Node *b, double k, uint32_t bits) {
  uint64_t h = 1469598103934665603u;
  uint64_t kbits;
  memcpy(&kbits, &k, sizeof kbits);
  uint64_t parts[5] = {(uint64_t)op, a ? a->id + 1u : 0, b ? b->id + 1u : 0, kbits, bits};
  for (int i = 0; i < 5; i++)
    h = (h ^ parts[i]) * 1099511628211u;
  return h;
}

static bool node_matches(const Node *n, Op op, Node *a, Node *b, double k, uint32_t bits,
                         const Shape *shape) {
  return n->op == op && n->src[0] == a && n->src[1] == b && n->arg.k == k &&
         n->arg.bits == bits && shape_eq(&n->shape, shape);
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
  uint64_t h = node_hash(n->op, n->src[0], n->src[1], n->arg.k, n->arg.bits);
  uint32_t i = (uint32_t)h & (g->cse_cap - 1);
  while (g->cse[i])
    i = (i + 1) & (g->cse_cap - 1);
  g->cse[i] = n;
}

static Node *cse_find(Graph *g, Op op, Node *a, Node *b, double k, uint32_t bits,
                      const Shape *shape) {
  if (!g->cse_cap)
    return NULL;
  uint64_t h = node_hash(op, a, b, k, bits);
  for (uint32_t i = (uint32_t)h & (g->cse_cap - 1); g->cse[i]; i = (i + 1) & (g->cse_cap - 1))
    if (node_matches(g->cse[i], op, a, b, k, bits, shape))
      return g->cse[i];
  return NULL;
}

static Node *node_intern(Graph *g, Op op, Node *a, Node *b, double k, uint32_t bits,
                         const Shape *shape) {
  Node *n = cse_find(g, op, a, b, k, bits, shape);
  if (n)
    return n;
  if (2 * (g->n + 1) > g->cse_cap)
    cse_rehash(g);
  n = node_append(g, op, *shape);
  n->nsrc = (uint8_t)op_info[op].arity;
  n->src[0] = a;
  n->src[1] = b;
  n->arg.k = k;
  n->arg.bits = bits;
  cse_insert(g, n);
  return n;
}

/* --- builders --- */

Node *g_const(Graph *g, double k) {
  Shape s = shape_scalar();
  return node_intern(g, OP_CONST, NULL, NULL, k, 0, &s);
}

Node *g_batch(Graph *g) {
  Shape s = shape_scalar();
  return node_intern(g, OP_BATCH, NULL, NULL, 0, 0, &s);
}

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
  g->params[g->nparams++] = (ParamSlot){n, NULL, NULL, init, role};
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

ParamSlot *graph_slot(const Graph *g, const Node *leaf) {
  for (int i = 0; i < g->nparams; i++)
    if (g->params[i].param == leaf)
      return &g->params[i];
  return NULL;
}

Node *g_op(Graph *g, Op op, Node *a, Node *b, double k, uint32_t bits, const Shape *want) {
  int arity = op_info[op].arity;
  if (!a || (arity == 2 && !b))
    return NULL;
  const Shape *src[NNC_MAX_SRC] = {&a->shape, b ? &b->shape : NULL};
  Shape shape = want ? *want : shape_scalar();
  char why[256];
  if (!shape_rule[op](src, bits, &shape, why, sizeof why)) {
    diag_error(g->diag, g->loc, "%s", why);
    return NULL;
  }
  if (!shape_fits(&shape)) {
    diag_error(g->diag, g->loc, "this %s would have %s elements, more than the 2^31 nnc plans for",
               op_info[op].name, shape_str(&shape, why, sizeof why));
    return NULL;
  }
  Node *r = simplify_rewrite(g, op, a, b, k, bits, &shape);
  if (r) {
    g->rewrites++;
    return r;
  }
  uint16_t flags = (a->flags | (b ? b->flags : 0)) & (NODE_BACKWARD | NODE_UPDATE);
  Node *n = node_intern(g, op, a, b, k, bits, &shape);
  n->flags |= flags;
  return n;
}

Node *g_neg(Graph *g, Node *a) { return g_op(g, OP_NEG, a, NULL, 0, 0, NULL); }
Node *g_recip(Graph *g, Node *a) { return g_op(g, OP_RECIP, a, NULL, 0, 0, NULL); }
Node *g_exp(Graph *g, Node *a) { return g_op(g, OP_EXP, a, NULL, 0, 0, NULL); }
Node *g_log(Graph *g, Node *a) { return g_op(g, OP_LOG, a, NULL, 0, 0, NULL); }
Node *g_log1p(Graph *g, Node *a) { return g_op(g, OP_LOG1P, a, NULL, 0, 0, NULL); }
Node *g_sigmoid(Graph *g, Node *a) { return g_op(g, OP_SIGMOID, a, NULL, 0, 0, NULL); }
Node *g_tanh(Graph *g, Node *a) { return g_op(g, OP_TANH, a, NULL, 0, 0, NULL); }
Node *g_powc(Graph *g, Node *a, double k) { return g_op(g, OP_POWC, a, NULL, k, 0, NULL); }
Node *g_add(Graph *g, Node *a, Node *b) { return g_op(g, OP_ADD, a, b, 0, 0, NULL); }
Node *g_sub(Graph *g, Node *a, Node *b) { return g_op(g, OP_SUB, a, b, 0, 0, NULL); }
Node *g_mul(Graph *g, Node *a, Node *b) { return g_op(g, OP_MUL, a, b, 0, 0, NULL); }
Node *g_div(Graph *g, Node *a, Node *b) { return g_op(g, OP_DIV, a, b, 0, 0, NULL); }
Node *g_max(Graph *g, Node *a, Node *b) { return g_op(g, OP_MAX, a, b, 0, 0, NULL); }
Node *g_cmpgt(Graph *g, Node *a, Node *b) { return g_op(g, OP_CMPGT, a, b, 0, 0, NULL); }
Node *g_sum(Graph *g, Node *a, uint32_t axes) { return g_op(g, OP_SUM, a, NULL, 0, axes, NULL); }
Node *g_maxr(Graph *g, Node *a, uint32_t axes) { return g_op(g, OP_MAXR, a, NULL, 0, axes, NULL); }
Node *g_permute(Graph *g, Node *a, uint32_t perm_bits) {
  return g_op(g, OP_PERMUTE, a, NULL, 0, perm_bits, NULL);
}
Node *g_sqrt(Graph *g, Node *a) { return g_op(g, OP_SQRT, a, NULL, 0, 0, NULL); }
Node *g_abs(Graph *g, Node *a) { return g_op(g, OP_ABS, a, NULL, 0, 0, NULL); }
Node *g_expand(Graph *g, Node *a, uint32_t axes, Shape to) {
  return g_op(g, OP_EXPAND, a, NULL, 0, axes, &to);
}
Node *g_matmul(Graph *g, Node *a, Node *b, uint32_t transposes) {
  return g_op(g, OP_MATMUL, a, b, 0, transposes, NULL);
}

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
  if (n->op != OP_PERMUTE) {
    shape_view(src, space, n->op == OP_EXPAND ? n->arg.bits : 0, stride);
    return;
  }
  int64_t own[NNC_MAX_RANK];
  shape_strides(src, own);
  for (int i = 0; i < NNC_MAX_RANK; i++)
    stride[i] = i < space->rank ? own[PERM_AXIS(n->arg.bits, i)] : 0;
}

/* --- printing and verification --- */

static void print_arg(FILE *out, const Node *n) {
  if (n->op == OP_CONST || n->op == OP_POWC)
    fprintf(out, " %g", n->arg.k);
  else if (n->op == OP_PERMUTE) {
    fputs(" perm=", out);
    for (int i = 0; i < n->shape.rank; i++)
      fprintf(out, "%u", PERM_AXIS(n->arg.bits, i));
  } else if (op_info[n->op].kind == KIND_REDUCE || n->op == OP_EXPAND) {
    fputs(" axes=", out);
    for (int i = 0; i < NNC_MAX_RANK; i++)
      if (n->arg.bits & (1u << i))
        fprintf(out, "%d", i);
    if (n->arg.bits & AXES_KEEP)
      fputs(" keep", out);
  } else if (n->op == OP_MATMUL && n->arg.bits)
    fprintf(out, " %s%s", n->arg.bits & 1 ? "Aᵀ" : "A", n->arg.bits & 2 ? "Bᵀ" : "B");
}

void graph_print(FILE *out, const Graph *g) {
  for (uint32_t i = 0; i < g->n; i++) {
    const Node *n = g->node[i];
    char sh[64];
    fprintf(out, "%%%u = %s", n->id, node_op_name(n));
    print_arg(out, n);
    for (int s = 0; s < n->nsrc; s++)
      fprintf(out, " %%%u", n->src[s]->id);
    fprintf(out, " : %s", shape_str(&n->shape, sh, sizeof sh));
    if (n->name)
      fprintf(out, "  # %s", n->name);
    fputc('\n', out);
  }
  if (g->loss)
    fprintf(out, "loss %%%u\n", g->loss->id);
  if (g->output)
    fprintf(out, "output %%%u\n", g->output->id);
  for (int p = 0; p < g->nparams; p++) {
    const ParamSlot *ps = &g->params[p];
    if (ps->grad)
      fprintf(out, "grad %s = %%%u\n", ps->param->name, ps->grad->id);
    if (ps->update)
      fprintf(out, "update %s <- %%%u\n", ps->param->name, ps->update->id);
  }
}

static const char *dot_colour(const Node *n) {
  if (n->flags & NODE_UPDATE)
    return "palegreen";
  if (n->flags & NODE_BACKWARD)
    return "lightblue";
  if (n->flags & (NODE_PARAM | NODE_STATE))
    return "khaki";
  if (op_info[n->op].kind == KIND_LEAF)
    return "lightgrey";
  return "white";
}

/* Names may hold quotes or backslashes only in theory; escape them anyway. */
static void dot_text(FILE *out, const char *s) {
  for (; *s; s++) {
    if (*s == '"' || *s == '\\')
      fputc('\\', out);
    fputc(*s, out);
  }
}

void graph_print_dot(FILE *out, const Graph *g) {
  fputs("digraph nnc {\n  rankdir=TB;\n  node [shape=box, style=filled, fontname=\"Helvetica\"];\n",
        out);
  for (uint32_t i = 0; i < g->n; i++) {
    const Node *n = g->node[i];
    char sh[64];
    fprintf(out, "  n%u [fillcolor=%s, label=\"", n->id, dot_colour(n));
    if (n->name) {
      dot_text(out, n->name);
      fputs("\\n", out);
    }
    fprintf(out, "%s", node_op_name(n));
    print_arg(out, n);
    fprintf(out, " %s\"];\n", shape_str(&n->shape, sh, sizeof sh));
    for (int s = 0; s < n->nsrc; s++)
      fprintf(out, "  n%u -> n%u;\n", n->src[s]->id, n->id);
  }
  if (g->loss)
    fprintf(out, "  n%u [penwidth=3];\n", g->loss->id);
  fputs("}\n", out);
}

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
  if (op_info[n->op].kind == KIND_LEAF)
    return true;
  const Shape *src[NNC_MAX_SRC] = {&n->src[0]->shape, n->nsrc > 1 ? &n->src[1]->shape : NULL};
  Shape s = n->op == OP_EXPAND ? n->shape : shape_scalar();
  char why[256];
  if (!shape_rule[n->op](src, n->arg.bits, &s, why, sizeof why) || !shape_eq(&s, &n->shape)) {
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

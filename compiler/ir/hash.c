#include "hash.h"

#include <string.h>

typedef struct {
  uint64_t h;
} Hasher;

static void put_u64(Hasher *s, uint64_t v) {
  for (int i = 0; i < 8; i++, v >>= 8)
    s->h = (s->h ^ (v & 0xff)) * 1099511628211u;
}

static void put_f64(Hasher *s, double d) {
  uint64_t bits;
  memcpy(&bits, &d, sizeof bits);
  put_u64(s, bits);
}

/* The length first, so that consecutive strings cannot run into each other. */
static void put_str(Hasher *s, const char *str) {
  size_t n = str ? strlen(str) : 0;
  put_u64(s, n);
  for (size_t i = 0; i < n; i++)
    put_u64(s, (unsigned char)str[i]);
}

static void put_id(Hasher *s, const Node *n) { put_u64(s, n ? n->id : UINT64_MAX); }

static void put_node(Hasher *s, const Node *n) {
  put_u64(s, (uint64_t)n->op);
  put_u64(s, n->flags);
  put_u64(s, n->shape.rank);
  for (int i = 0; i < n->shape.rank; i++)
    put_u64(s, (uint64_t)n->shape.dim[i]);
  put_f64(s, n->arg.k);
  for (int i = 0; i < NNC_MAX_PARAMS; i++)
    put_u64(s, (uint64_t)(int64_t)n->arg.p[i]);
  put_u64(s, n->nsrc);
  for (int i = 0; i < n->nsrc; i++)
    put_id(s, n->src[i]);
  if (op_info[n->op].kind == KIND_LEAF)
    put_str(s, n->name);
}

static void put_slot(Hasher *s, const ParamSlot *slot) {
  put_id(s, slot->param);
  put_u64(s, (uint64_t)slot->role);
  put_u64(s, (uint64_t)slot->init.kind);
  put_f64(s, slot->init.a);
  put_f64(s, slot->init.b);
  if (slot->init.kind == INIT_VALUES)
    for (int64_t i = 0; i < shape_numel(&slot->param->shape, 1); i++)
      put_f64(s, slot->init.values[i]);
  put_id(s, slot->grad);
  put_id(s, slot->update);
}

uint64_t graph_hash(const Graph *g) {
  Hasher s = {1469598103934665603u};
  put_u64(&s, g->n);
  for (uint32_t i = 0; i < g->n; i++)
    put_node(&s, g->node[i]);
  const Node *roles[] = {g->input, g->target, g->loss, g->output, g->lr, g->step};
  for (size_t i = 0; i < sizeof roles / sizeof *roles; i++)
    put_id(&s, roles[i]);
  put_u64(&s, (uint64_t)g->nparams);
  for (int i = 0; i < g->nparams; i++)
    put_slot(&s, &g->params[i]);
  return s.h;
}

#include "plan.h"

#include <string.h>

void memplan_init(MemPlan *p, Graph *g, int64_t max_batch) {
  p->offset = ARENA_ARRAY(g->arena, int64_t, g->n);
  p->scratch = ARENA_ARRAY(g->arena, int64_t, g->n);
  for (uint32_t i = 0; i < g->n; i++)
    p->offset[i] = p->scratch[i] = -1;
  p->total = 0;
  p->max_batch = max_batch;
}

/* Regions start on 16-float (64-byte) boundaries, so vector loads of a row stay aligned. */
static void place(MemPlan *p, const Node *n) {
  if (p->offset[n->id] >= 0)
    return;
  p->offset[n->id] = p->total;
  int64_t size = shape_numel(&n->shape, p->max_batch);
  p->total += (size + 15) & ~(int64_t)15;
}

void memplan_add(MemPlan *p, Graph *g, const Schedule *s) {
  for (int i = 0; i < g->nparams; i++) {
    place(p, g->params[i].param);
    if (g->params[i].update && s->materialized[g->params[i].update->id])
      p->offset[g->params[i].update->id] = p->offset[g->params[i].param->id];
  }
  for (uint32_t i = 0; i < g->n; i++)
    if (s->materialized[i]) {
      place(p, g->node[i]);
      const Node *n = g->node[i];
      if (n->op == OP_MATMUL && n->arg.p[PARAM_TRANSPOSE_B] && p->scratch[i] < 0) {
        p->scratch[i] = p->total;
        p->total += (shape_numel(&n->src[1]->shape, p->max_batch) + 15) & ~(int64_t)15;
      }
    }
}

/* Whether some value predict computes mixes rows: a batched source and an unbatched result (a
 * reduction or a product over the batch axis). DIM_BATCH is only ever axis 0, so a result
 * that keeps it keeps each row apart. */
static bool predict_mixes_rows(const Graph *g) {
  bool *used = ARENA_ARRAY(g->arena, bool, g->n);
  used[g->output->id] = true;
  for (uint32_t i = g->n; i-- > 0;) {
    const Node *n = g->node[i];
    if (!used[i])
      continue;
    for (int s = 0; s < n->nsrc; s++) {
      used[n->src[s]->id] = true;
      if (shape_has_batch(&n->src[s]->shape) && !shape_has_batch(&n->shape))
        return true;
    }
  }
  return false;
}

/* Floats a row of the values of predict's kernels [from, to) takes. */
static int64_t row_floats(const Schedule *s, int from, int to) {
  int64_t floats = 0;
  for (int k = from; k < to; k++)
    if (shape_has_batch(&s->kernel[k].root->shape))
      floats += shape_numel(&s->kernel[k].root->shape, 1);
  return floats;
}

/* Whether the fused expression at n reads, of the batched values in memory, only `cut`, those
 * of kernels from `from` on (producer: kernel index by node id, -1 for leaves) and leaves the
 * runtime fills for all rows (dropout's masks); not the input, which comes a chunk at a time. */
static bool reads_from(const Schedule *s, const Node *n, const int *producer, int from,
                       const Node *cut, const Node *input) {
  for (int i = 0; i < n->nsrc; i++) {
    const Node *src = n->src[i];
    if (!s->materialized[src->id] ? !reads_from(s, src, producer, from, cut, input) :
        src == input || (src != cut && producer[src->id] >= 0 && producer[src->id] < from))
      return false;
  }
  return true;
}

/* The first loop of predict from which every kernel reads, of the values before it, only the
 * last one's, and whose values fit in the cache for all max_batch rows; 0 when none. */
static int find_predict_cut(const Program *p) {
  const Schedule *s = &p->predict;
  const Graph *g = p->g;
  int *producer = ARENA_ARRAY(g->arena, int, g->n);
  for (uint32_t i = 0; i < g->n; i++)
    producer[i] = -1;
  for (int k = 0; k < s->n; k++)
    producer[s->kernel[k].root->id] = k;
  for (int from = 1; from < s->n; from++) {
    const Node *cut = s->kernel[from - 1].root;
    if (s->kernel[from].joins_previous || !shape_has_batch(&cut->shape) ||
        row_floats(s, from, s->n) * p->plan.max_batch > PREDICT_CACHE_FLOATS)
      continue;
    bool ok = true;
    for (int k = from; k < s->n && ok; k++)
      ok = reads_from(s, s->kernel[k].root, producer, from, cut, g->input);
    if (ok)
      return from;
  }
  return 0;
}

const Node *plan_update_gradient(const Program *p, const Node *update) {
  const Graph *g = p->g;
  for (int i = 0; p->can_train && i < g->nparams; i++) {
    const Node *grad = g->params[i].grad;
    if (g->params[i].update == update && grad && p->step.materialized[grad->id] &&
        shape_eq(&grad->shape, &update->shape))
      return grad;
  }
  return NULL;
}

/* predict_rows and predict_cut (plan.h). */
static void plan_predict_chunks(Program *p) {
  const Schedule *s = &p->predict;
  int64_t max_batch = p->plan.max_batch;
  p->predict_rows = max_batch;
  if (row_floats(s, 0, s->n) * max_batch <= PREDICT_CACHE_FLOATS || predict_mixes_rows(p->g))
    return;
  p->predict_cut = find_predict_cut(p);
  p->predict_cut_node = p->predict_cut ? s->kernel[p->predict_cut - 1].root : NULL;
  int64_t head = row_floats(s, 0, p->predict_cut ? p->predict_cut : s->n);
  int64_t rows = PREDICT_CACHE_FLOATS / head;
  p->predict_rows = rows < 1 ? 1 : rows > max_batch ? max_batch : rows;
}

void program_plan(Program *p, Graph *g, const char *name, int n_classes,
                  const TrainSettings *train, const char *src) {
  memset(p, 0, sizeof *p);
  p->g = g;
  p->name = name;
  p->n_classes = n_classes;
  p->train = train;
  p->source_name = src;
  p->can_train = train->present && g->loss;
  int nroots = 0;
  Node **roots = ARENA_ARRAY(g->arena, Node *, 2 * g->nparams + 2);
  if (p->can_train) {
    roots[nroots++] = g->loss;
    roots[nroots++] = g->output;
    for (int i = 0; i < g->nparams; i++) {
      if (g->params[i].update) {
        roots[nroots++] = g->params[i].grad;
        roots[nroots++] = g->params[i].update;
      }
    }
    sched_build(&p->step, g, roots, nroots);
    NNC_ASSERT(sched_updates_in_place_safely(&p->step, g));
    sched_build(&p->evaluate, g, roots, 2);
  }
  sched_build(&p->predict, g, &g->output, 1);
  int64_t max_batch = p->can_train ? train->batch : 1;
  memplan_init(&p->plan, g, max_batch < 1 ? 1 : max_batch);
  if (p->can_train) {
    memplan_add(&p->plan, g, &p->step);
    memplan_add(&p->plan, g, &p->evaluate);
  }
  memplan_add(&p->plan, g, &p->predict);
  p->nonfinite_offset = -1;
  if (p->can_train) {
    p->nonfinite_offset = p->plan.total;
    p->plan.total += 16; /* a region of its own, aligned as every other */
    sched_assign(&p->step, &p->plan);
    sched_assign(&p->evaluate, &p->plan);
  }
  sched_assign(&p->predict, &p->plan);
  if (p->can_train) {
    sched_join(&p->step, &p->plan);
    sched_join(&p->evaluate, &p->plan);
  }
  sched_join(&p->predict, &p->plan);
  plan_predict_chunks(p);
}

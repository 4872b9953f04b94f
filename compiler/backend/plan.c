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
  if (p->can_train) {
    sched_assign(&p->step, &p->plan);
    sched_assign(&p->evaluate, &p->plan);
  }
  sched_assign(&p->predict, &p->plan);
  if (p->can_train) {
    sched_join(&p->step, &p->plan);
    sched_join(&p->evaluate, &p->plan);
  }
  sched_join(&p->predict, &p->plan);
}

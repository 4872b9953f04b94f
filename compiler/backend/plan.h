/* plan: what the back end compiles for one model — the kernel schedules of its three entry
 * points (step, evaluate, predict) and the workspace's memory plan.
 * Contract: program_plan schedules a graph that has its loss, gradients and updates, then gives
 * every node materialized by any schedule its own region of the one float workspace, sized for
 * max_batch rows (the train block's batch; 1 for a predict-only model). An update shares its
 * parameter's region. Nothing here reads the syntax tree: a Program is the graph and the
 * resolved settings. */
#ifndef NNC_PLAN_H
#define NNC_PLAN_H
#include "schedule.h"
#include "settings.h"

struct MemPlan {
  int64_t *offset; /* by node id; -1 when the node never lives in memory */
  int64_t *scratch; /* by node id: a matrix product's copy of its right operand transposed
                       (when that operand is read transposed), else -1 */
  int64_t total;   /* floats */
  int64_t max_batch;
};

void memplan_init(MemPlan *p, Graph *g, int64_t max_batch);
/* Gives a region to every node s materializes that has none yet (and scratch to the matrix
 * products that need it); updates alias their param. */
void memplan_add(MemPlan *p, Graph *g, const Schedule *s);

/* Everything the back end needs about one compiled model. */
typedef struct {
  Graph *g;
  const char *name;           /* the model's */
  const char *source_name;    /* the .nn file, for messages */
  const TrainSettings *train; /* its train block (train->present false: none) */
  int n_classes;              /* target y : class(K) gives K; 0 otherwise */
  bool can_train;
  Schedule step, evaluate, predict;
  MemPlan plan;
  int vector_floats; /* lanes of the vectors matrix kernels use; 0 (program_plan): the host's */
} Program;

void program_plan(Program *p, Graph *g, const char *name, int n_classes,
                  const TrainSettings *train, const char *src);

#endif

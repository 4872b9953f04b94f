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
  /* The rows the runtime gives predict (or, when it is cut, predict's head) at a time: all of
   * max_batch unless a row's forward values are so large (a CNN's) that fewer keep them within
   * PREDICT_CACHE_FLOATS; never fewer when some value of predict mixes rows. */
  int64_t predict_rows;
  /* The first kernel of predict's tail, 0 when it is not cut: the head (the kernels before it)
   * runs predict_rows at a time, the tail on all rows, reading of the head's values only the
   * last one's (predict_cut_node). So a CNN's dense layers see all rows at once. */
  int predict_cut;
  const Node *predict_cut_node;
  int vector_floats; /* lanes of the vectors matrix kernels use; 0 (program_plan): the host's */
  /* The workspace float, read as an int32, that a step's updates set to 1 when a gradient they
   * read (plan_update_gradient) holds an infinity or a NaN; -1 when the model cannot train. */
  int64_t nonfinite_offset;
} Program;

/* The gradient the step's update kernel `update` tests for non-finite values as it reads it:
 * its parameter's, when that is a buffer of the same shape; else NULL. */
const Node *plan_update_gradient(const Program *p, const Node *update);

/* How many floats predict's values may take at once: 2 MiB, what stays in the caches of the
 * machines nnc runs on (Fashion-MNIST CNN inference, 10,000 images, in chunks of 256 rows:
 * 5,300 images/s; of 16: 6,800; of 4, the 2 MiB: 7,450; of 2: 6,900). */
enum { PREDICT_CACHE_FLOATS = 1 << 19 };

void program_plan(Program *p, Graph *g, const char *name, int n_classes,
                  const TrainSettings *train, const char *src);

#endif

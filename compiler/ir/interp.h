/* interp: the reference evaluator of a Graph, in double precision, in plain C.
 * Contract: slow and obviously correct; it is the oracle for the gradient and codegen tests.
 * Every node gets its own buffer (row-major, the batch axis = `batch` rows); interp_run
 * evaluates all nodes in id order from the leaf values set with interp_set. */
#ifndef NNC_INTERP_H
#define NNC_INTERP_H
#include "graph.h"

typedef struct {
  const Graph *g;
  int64_t batch;
  double **val; /* val[node id] */
} Interp;

void interp_init(Interp *it, Arena *a, const Graph *g, int64_t batch);
/* Copies numel values into a leaf (INPUT or PARAM). */
void interp_set(Interp *it, const Node *leaf, const double *values);
void interp_run(Interp *it);
double *interp_value(Interp *it, const Node *n);

#endif

/* optim: the optimizer's update, appended to the graph as nodes (flag NODE_UPDATE).
 * Contract: after grad_build, gives every trained parameter an update — its value after one
 * step — and adds the optimizer's state (momentum, Adam's moments) as ROLE_STATE slots with
 * their own updates; then gives every running statistic (ROLE_BUFFER) its moving-average update
 * towards its batch statistic, after every other node so that it overwrites the old value only
 * once the step has read it. The learning rate η and the step number t are scalar leaves (g->lr,
 * g->step) that the runtime writes before each step, so schedules need no recompilation.
 * Conventions are PyTorch's (documented per rule below and in lang/reference.md). */
#ifndef NNC_OPTIM_H
#define NNC_OPTIM_H
#include "graph.h"
#include "settings.h"

void optim_build(Graph *g, const OptimizerSettings *o);
/* Adam's bias correction 1 − βᵗ of the step leaf g->step (set), accurate in float32 as β → 1. */
Node *optim_bias_correction(Graph *g, double beta);

#endif

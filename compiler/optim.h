/* optim: the optimizer's update, appended to the graph as nodes (flag NODE_UPDATE).
 * Contract: after grad_build, sets g->params[i].update to the parameter's new value for every
 * parameter with a gradient; the learning rate is the scalar leaf g->lr, which the runtime
 * writes, so a program can change it without recompiling. Only plain SGD exists so far:
 * p ← p − η ∂L/∂p. */
#ifndef NNC_OPTIM_H
#define NNC_OPTIM_H
#include "graph.h"

void optim_sgd(Graph *g);

#endif

/* lower: a checked Model -> the forward Graph of primitive ops.
 * Contract: declares the input and target leaves (with the batch axis N in front), the
 * parameters (with their initialisers, in declaration order), and builds each expression from
 * primitives; layers, activations made of several primitives, mean and the dot product are
 * sugar here and never have a derivative of their own. Unknown names and functions and shape
 * errors are reported at the user's source. Sets g->input, g->target, g->loss, g->output. */
#ifndef NNC_LOWER_H
#define NNC_LOWER_H
#include "graph.h"
#include "sema.h"

bool lower_model(Graph *g, const Model *m);

#endif

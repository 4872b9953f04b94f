/* explain: the derived backward pass in the notation of a textbook.
 * Contract: given a graph after grad_build and optim_sgd, prints the forward equations, for each
 * named value its error signal δ, the gradient of every parameter, and the update rule, each
 * written from the graph the compiler derived (nothing is hand-written per layer), followed by
 * the simplifications made. */
#ifndef NNC_EXPLAIN_H
#define NNC_EXPLAIN_H
#include <stdio.h>

#include "graph.h"

void explain_print(FILE *out, const Graph *g);

#endif

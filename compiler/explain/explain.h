/* explain: the derived backward pass in the notation of a textbook.
 * Contract: given a graph after grad_build and optim_build, prints the forward equations, for
 * each layer its error signal δ, the gradient of every parameter, and the optimizer's update
 * (state m[W], v[W], bias-corrected m̂[W], …), each written from the graph the compiler derived
 * (nothing is hand-written per layer or per example), followed by the simplifications made —
 * including the ones the graph's structure shows (softmax with cross-entropy, sigmoid with
 * binary cross-entropy on the logits, batch and layer norm's three-term δ). Convolutions,
 * pools, flatten and the mean over positions are written as textbooks write them: W ∗ x + b,
 * δ ∗_full rot180(W), x ⋆ δ (explain_image.c). */
#ifndef NNC_EXPLAIN_H
#define NNC_EXPLAIN_H
#include <stdio.h>

#include "graph.h"
#include "settings.h"

/* opt: the settings the update was built with, named in its heading (NULL: not named). */
void explain_print(FILE *out, const Graph *g, const OptimizerSettings *opt);

#endif

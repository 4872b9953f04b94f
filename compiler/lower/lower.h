/* lower: a checked Model -> the forward Graph of primitive ops.
 * Contract: declares the input and target leaves (with the batch axis N in front; a class
 * target `y : class(K)` is [N, K], one-hot rows the runtime fills), the parameters (with their
 * initialisers, in declaration order), and builds each expression from primitives. Layers,
 * activations, losses, regularisers, reductions, the dot product and transpose are sugar here,
 * built with the g_* builders from tables in lower_sugar.c, and never have a derivative of their own.
 * Unknown names, functions, arguments and initialisers and shape errors are reported at the
 * user's source. Sets g->input, g->target, g->loss, g->output and g->metric. */
#ifndef NNC_LOWER_H
#define NNC_LOWER_H
#include "graph.h"
#include "sema.h"

bool lower_model(Graph *g, const Model *m);

/* The sugar tables, for tests that check every entry (0 <= i < count). */
int lower_activation_count(void);
const char *lower_activation_name(int i);
const char *lower_activation_param(int i); /* "alpha", or NULL when it takes none */
int lower_loss_count(void);
const char *lower_loss_name(int i);
bool lower_loss_accepts_classes(int i);
int lower_regulariser_count(void);
const char *lower_regulariser_name(int i);
int lower_initialiser_count(void);
const char *lower_initialiser_name(int i);

#endif

/* foreign: the names that Keras and PyTorch users bring with them (batch_size, learning_rate,
 * categorical_crossentropy, nn.Linear's Linear, ...), each with the hint that names nnc's
 * spelling. Contract: one table (foreign.c), read by every "unknown setting / function /
 * argument" message through foreign_hint; nnc accepts none of these names: it has one spelling
 * for each thing, and the hint says which. */
#ifndef NNC_FOREIGN_H
#define NNC_FOREIGN_H

typedef enum { FOREIGN_SETTING, FOREIGN_FUNCTION, FOREIGN_ARGUMENT } ForeignPlace;

/* The hint for `name` used where `place` says, without "hint: ", or NULL. */
const char *foreign_hint(ForeignPlace place, const char *name);

#endif

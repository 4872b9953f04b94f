/* simplify: the algebraic rewrites applied while nodes are built (x + 0, x * 1, constant
 * folding, neg(neg x), ...). Contract: given an op about to be built with result shape `shape`,
 * returns an existing or new node computing the same value with exactly that shape, or NULL
 * when no rule applies. Rules never change a shape, so broadcasting is kept. */
#ifndef NNC_SIMPLIFY_H
#define NNC_SIMPLIFY_H
#include "graph.h"

/* src holds NNC_MAX_SRC entries, NULL past the op's arity. */
Node *simplify_rewrite(Graph *g, Op op, Node *const src[], const OpArg *arg, const Shape *shape);

#endif

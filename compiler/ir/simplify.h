/* simplify: the algebraic rewrites applied while nodes are built (x + 0, x * 1, constant
 * folding, neg(neg x), ...). Contract: given an op about to be built with result shape `shape`,
 * returns an existing or new node computing the same value with exactly that shape, or NULL
 * when no rule applies. Rules never change a shape, so broadcasting is kept. */
#ifndef NNC_SIMPLIFY_H
#define NNC_SIMPLIFY_H
#include "graph.h"

Node *simplify_rewrite(Graph *g, Op op, Node *a, Node *b, double k, uint32_t bits,
                       const Shape *shape);

#endif

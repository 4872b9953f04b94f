/* grad: symbolic reverse-mode differentiation of a graph.
 * Contract: given g->loss (a scalar), appends the backward nodes (flag NODE_BACKWARD) that
 * compute ∂loss/∂p for every parameter p, and records them in g->params[i].grad. Each op's
 * derivative comes from its rule in grad_rules.c (the grad column of ops.def); the adjoints of
 * broadcast operands are summed back to the operand's shape. A parameter the loss does not
 * depend on gets a zero gradient and a warning-free NULL grad. An op without a rule on a path
 * from a parameter to the loss is reported at its location; returns false then. */
#ifndef NNC_GRAD_H
#define NNC_GRAD_H
#include "graph.h"

bool grad_build(Graph *g);

/* The rule signature: given node n and its adjoint dy, set dx[i] for each source with need[i]. */
typedef void GradRule(Graph *g, Node *n, Node *dy, Node *dx[NNC_MAX_SRC], const bool need[]);
extern GradRule *const grad_rule[OP_COUNT];

#endif

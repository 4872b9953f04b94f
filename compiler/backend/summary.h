/* summary: the facts `info` prints about a compiled model, read off its graph.
 * Contract: a layer is a named, computed forward value that the output or the loss depends on,
 * or the output itself (the loss is not a layer), in id order; every unnamed forward op is charged to the first layer at or after it, and every
 * parameter to the layer of its first consumer. A layer's kind is that of its nodes' first row
 * in summary.c's table (conv2d: an unfolded product, dense: another product, max_pool, …),
 * followed by its activation (+relu, +sigmoid, +tanh). FLOPs count per sample: 2·k·n for a
 * product with k inner and n output columns, kh·kw per output of a pool, one per element for
 * other ops, none for ops that only move values (reshape, permute, expand, unfold). (The model
 * hash is graph_hash in ir/hash.h.) */
#ifndef NNC_SUMMARY_H
#define NNC_SUMMARY_H
#include "graph.h"
#include "hash.h" /* the model hash, which the descriptor carries beside the summary */

typedef struct {
  const Node *node;
  const char *kind; /* what the Op column says: conv2d+relu, max_pool, flatten, dense, … */
  int64_t params, flops;
} LayerSummary;

/* Fills an arena array of layers; returns how many. */
int summary_layers(Graph *g, LayerSummary **out);

#endif

/* summary: the facts `info` prints about a compiled model, read off its graph.
 * Contract: a layer is a named, computed forward value that the output or the loss depends on,
 * or the output itself (the loss is not a layer), in id order; every unnamed forward op is charged to the first layer at or after it, and every
 * parameter to the layer of its first consumer. FLOPs count per sample: 2·k·n for a product
 * with k inner and n output columns, one per element for other ops. (The model hash is
 * graph_hash in ir/hash.h.) */
#ifndef NNC_SUMMARY_H
#define NNC_SUMMARY_H
#include "graph.h"
#include "hash.h" /* the model hash, which the descriptor carries beside the summary */

typedef struct {
  const Node *node;
  int64_t params, flops;
} LayerSummary;

/* Fills an arena array of layers; returns how many. */
int summary_layers(Graph *g, LayerSummary **out);

#endif

/* hash: the model hash, a hash of what a graph means. A checkpoint records it (model_hash) and
 * the runtime refuses a checkpoint whose hash is not the model's, so it must change exactly when
 * the saved tensors would no longer fit or mean the same.
 * Contract: FNV-1a (64-bit) over a canonical serialisation, every number as 8 little-endian
 * bytes: for each node in id order its op, flags, shape, k (its IEEE bits), integer parameters
 * and source ids, and for a leaf its name; then the graph's roles (input, target, loss, output,
 * learning rate, step: ids, or -1 for none); then for each workspace slot its leaf, role,
 * initialiser (kind, a, b, and the values of INIT_VALUES), gradient and update ids. Labels of
 * computed nodes ("A1", "∂L/∂W1"), source locations and the printers are not read. */
#ifndef NNC_HASH_H
#define NNC_HASH_H
#include <stdint.h>

#include "graph.h"

uint64_t graph_hash(const Graph *g);

#endif

/* layout: the forward graph with its convolution chains stored channels last.
 * Contract: layout_channels_last rewrites the forward graph built by lowering (before the
 * backward pass is derived from it) so that a max pool or a convolution's unfold that reads an
 * elementwise expression of a convolution's product moved to channels first (bias, activation)
 * computes that expression, the pool and the unfold on images [N, H, W, C] instead (Window.last);
 * the values the graph's roots read are unchanged. Run for code generation only: the language's
 * images are [N, C, H, W], and --emit=graph/grad and --explain show the graph as lowered. */
#ifndef NNC_LAYOUT_H
#define NNC_LAYOUT_H
#include "graph.h"

/* How many window ops it moved to channels last. */
int layout_channels_last(Graph *g);

#endif

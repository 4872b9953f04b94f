/* explain_internal: what explain.c (the renderer) and explain_image.c (the forms of image ops)
 * share: how one node is written. Not a public header: only compiler/explain includes it. */
#ifndef NNC_EXPLAIN_INTERNAL_H
#define NNC_EXPLAIN_INTERNAL_H
#include "graph.h"

/* Binding strength of a rendered form: an operand that binds less than its operator gets
 * parentheses. Delimited forms (σ(…), max(…, …), […], names) are atoms. */
enum { P_ADD = 1, P_MUL, P_NEG, P_POW, P_ATOM };
/* Forms of one group nest without parentheses; scalar products η x are a group of their own,
 * and so are the window products of images (∗, ⋆). */
enum { G_NONE = -1, G_SCALE = OP_COUNT, G_WINDOW };

typedef struct {
  char tmpl[64]; /* %0 … %3 the operands, %k the constant arg, %n the name */
  int prec, group;
  bool assoc;  /* a right operand of the same group needs no parentheses */
  bool simple; /* takes a suffix (ᵀ, ²) without parentheses */
  const Node *opnd[NNC_MAX_SRC]; /* what %0 … %3 are: the sources, unless the form says */
  char note[96]; /* how the graph computes what the form writes, with the same operands */
} Form;

void form_set(Form *f, const char *tmpl, int prec, int group, bool assoc);

/* When n is an image op, or the ops that a convolution is lowered to, its textbook form:
 * W ∗ x + b for the unfolded product (patches(x) Wᵀ + b, moved to channels first), the full
 * correlation δ ∗_full rot180(W) for the fold of δ W, the correlation x ⋆ δ for δᵀ patches(x),
 * flatten(x), the mean over the positions of images, and notes on windows and pools. */
bool image_form(const Node *n, Form *f);

/* Whether n is a convolution as image_form writes it: its weights and bias (NULL: none). */
bool image_conv(const Node *n, const Node **weights, const Node **bias);

/* A permutation between channels-first and channels-last images [N, C, H, W] ↔ [N, H, W, C]
 * that is not itself a convolution: the notation does not see layouts, so it is left out. */
bool image_layout(const Node *n);

/* The subscript of the sum n: ₙ the rows, ᵢ ⱼ the positions of images, ₁ ₂ … other axes, ""
 * all of them. Returns what it sums: its source, or for images the image behind the layouts
 * and the sums that n continues (Σ over positions of Σₙ δ is Σₙᵢⱼ δ). */
const Node *image_sum_subscript(const Node *n, char *buf, size_t size);

/* The lines the notation legend gets for a graph with convolutions ("" without). */
const char *image_notation(const Graph *g);

#endif

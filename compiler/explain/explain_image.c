/* explain_image: how explain writes images [N, C, H, W]. A convolution reaches the graph as the
 * primitives lower_image.c builds it from (patches(x) Wᵀ + b, moved to channels first), and its
 * derivatives as what the rules of those primitives derived (the fold of δ W; δᵀ patches(x)).
 * Read together, those nodes are the textbook's operations, and this file writes them so:
 *   W ∗ x + b            the forward convolution (the kernel slides unflipped, as in deep learning)
 *   δ ∗_full rot180(W)   the input gradient: the full correlation of δ with the flipped kernel
 *   x ⋆ δ                the weight gradient: the correlation of the input with δ
 * with a note saying how the graph computes each. The recognition is by the ops' meaning (an
 * unfold multiplied by reshaped weights is a convolution, whoever wrote it), never by names.
 * Pools, flatten and the mean over positions keep their ops' notation and get notes. */
#include "explain_internal.h"

#include <stdio.h>
#include <string.h>

static const int32_t channels_first[4] = {0, 3, 1, 2}, channels_last[4] = {0, 2, 3, 1};

static bool is_perm(const Node *n, const int32_t perm[4]) {
  return n->op == OP_PERMUTE && n->shape.rank == 4 && !memcmp(n->arg.p, perm, 4 * sizeof *perm);
}

static bool is_image(const Shape *s) { return s->rank == 4 && shape_has_batch(s); }

/* W reshaped to a matrix [F, C·kh·kw]: the weights of a convolution. */
static const Node *kernel_of(const Node *m) {
  return m->op == OP_RESHAPE && m->src[0]->shape.rank == 4 && !shape_has_batch(&m->src[0]->shape)
           ? m->src[0]
           : NULL;
}

static bool transposes(const Node *mm, bool a, bool b) {
  return mm->op == OP_MATMUL && !mm->arg.p[PARAM_TRANSPOSE_A] == !a &&
         !mm->arg.p[PARAM_TRANSPOSE_B] == !b;
}

/* patches(x) Wᵀ: the convolution's product, channels last. */
static bool conv_product(const Node *mm, const Node **x, const Node **w) {
  if (!transposes(mm, false, true) || mm->src[0]->op != OP_UNFOLD || !kernel_of(mm->src[1]))
    return false;
  *x = mm->src[0]->src[0], *w = kernel_of(mm->src[1]);
  return true;
}

/* patches(x) Wᵀ moved to channels first. */
static bool conv_unbiased(const Node *n, const Node **x, const Node **w, const Node **unfold) {
  if (!is_perm(n, channels_first) || !conv_product(n->src[0], x, w))
    return false;
  *unfold = n->src[0]->src[0];
  return true;
}

/* A bias [F] read per channel as [F, 1, 1] is the bias itself to the notation. */
static const Node *per_channel(const Node *b) {
  bool vector = b->op == OP_RESHAPE && b->shape.rank == 3 && b->src[0]->shape.rank == 1;
  return vector ? b->src[0] : b;
}

/* The convolution: patches(x) Wᵀ moved to channels first, plus a bias b. */
static bool match_conv(const Node *n, const Node **x, const Node **w, const Node **b,
                       const Node **unfold) {
  *b = NULL;
  for (int i = 0; n->op == OP_ADD && i < 2; i++)
    if (conv_unbiased(n->src[i], x, w, unfold)) {
      *b = per_channel(n->src[1 - i]);
      return true;
    }
  return conv_unbiased(n, x, w, unfold);
}

bool image_conv(const Node *n, const Node **weights, const Node **bias) {
  const Node *x, *w, *b, *u;
  if (!match_conv(n, &x, &w, &b, &u))
    return false;
  if (weights)
    *weights = w;
  if (bias)
    *bias = b;
  return true;
}

bool image_layout(const Node *n) {
  return (is_perm(n, channels_last) || is_perm(n, channels_first)) && !image_conv(n, NULL, NULL);
}

/* "3×3 windows, stride 2, padding 1": what differs from a plain window is said. */
static void window_text(const Node *windowed, const char *what, char *buf, size_t size) {
  Window w = window_of(windowed->arg.p);
  int n = snprintf(buf, size, "%d×%d %s", w.kh, w.kw, what);
  if (w.sh == w.sw)
    n += snprintf(buf + n, size - (size_t)n, ", stride %d", w.sh);
  else
    n += snprintf(buf + n, size - (size_t)n, ", stride %d×%d", w.sh, w.sw);
  if (w.pt == w.pl && w.pt == w.pb && w.pt == w.pr && w.pt)
    n += snprintf(buf + n, size - (size_t)n, ", padding %d", w.pt);
  else if (w.pt || w.pl || w.pb || w.pr)
    n += snprintf(buf + n, size - (size_t)n, ", padding %d,%d,%d,%d", w.pt, w.pl, w.pb, w.pr);
  if (w.dh != 1 || w.dw != 1)
    snprintf(buf + n, size - (size_t)n, ", dilation %d×%d", w.dh, w.dw);
}

/* The constant 1/k, as lower computes it (1.0 / k rounded). */
static bool is_reciprocal(const Node *c, int64_t k) {
  return c->op == OP_CONST && c->arg.k == 1.0 / (double)k;
}

static void operands(Form *f, const Node *a, const Node *b, const Node *c) {
  f->opnd[0] = a, f->opnd[1] = b, f->opnd[2] = c;
}

/* W ∗ x + b */
static bool form_conv(const Node *n, Form *f) {
  const Node *x, *w, *b, *unfold;
  if (!match_conv(n, &x, &w, &b, &unfold))
    return false;
  char win[64];
  window_text(unfold, "kernel", win, sizeof win);
  if (b)
    form_set(f, "%1 ∗ %0 + %2", P_ADD, OP_ADD, true);
  else
    form_set(f, "%1 ∗ %0", P_MUL, G_WINDOW, false);
  operands(f, x, w, b);
  snprintf(f->note, sizeof f->note, "%s: patches(%%0) %%1ᵀ", win);
  return true;
}

/* fold(D W), D = δ channels last: the transposed convolution. */
static bool form_full_correlation(const Node *n, Form *f) {
  const Node *mm = n->src[0];
  if (n->op != OP_FOLD || !transposes(mm, false, false) || !kernel_of(mm->src[1]))
    return false;
  Window w = window_of(n->arg.p);
  form_set(f, "%0 ∗_full rot180(%1)", P_MUL, G_WINDOW, false);
  operands(f, mm->src[0], kernel_of(mm->src[1]), NULL);
  if (w.sh > 1 || w.sw > 1) /* δ's rows and columns spread apart by the stride first */
    snprintf(f->note, sizeof f->note, "the transposed convolution (δ dilated by the stride), "
             "as fold(%%0 %%1)");
  else
    snprintf(f->note, sizeof f->note, "the transposed convolution, as fold(%%0 %%1)");
  return true;
}

/* Dᵀ patches(x), D = δ channels last: the weights' gradient, as a matrix [F, C·kh·kw]. */
static bool form_correlation(const Node *n, Form *f) {
  if (!transposes(n, true, false) || n->src[1]->op != OP_UNFOLD)
    return false;
  form_set(f, "%0 ⋆ %1", P_MUL, G_WINDOW, false);
  operands(f, n->src[1]->src[0], n->src[0], NULL);
  snprintf(f->note, sizeof f->note, "the correlation, as %%1ᵀ patches(%%0)");
  return true;
}

/* c Σᵢⱼ x with c = 1/(H·W): the mean over the positions (global average pooling). */
static bool form_position_mean(const Node *n, Form *f) {
  for (int i = 0; n->op == OP_MUL && i < 2; i++) {
    const Node *c = n->src[i], *s = n->src[1 - i];
    if (s->op != OP_SUM || !is_image(&s->src[0]->shape) ||
        (s->arg.p[PARAM_AXES] & AXES_MASK) != 0xc)
      continue;
    int64_t h = s->src[0]->shape.dim[2], w = s->src[0]->shape.dim[3];
    if (!is_reciprocal(c, h * w))
      continue;
    snprintf(f->tmpl, sizeof f->tmpl, "(1/%lld) Σᵢⱼ %%0", (long long)(h * w));
    f->prec = P_MUL, f->group = G_SCALE, f->assoc = true;
    operands(f, s->src[0], NULL, NULL);
    snprintf(f->note, sizeof f->note, "global average pool over the %lld×%lld positions",
             (long long)h, (long long)w);
    return true;
  }
  return false;
}

/* (1/N) c Σₙᵢⱼ x with c = 1/(H·W): the mean over the batch and the positions (batch norm's
 * statistics), (1/(H·W N)) Σₙᵢⱼ x. */
static bool form_batch_mean(const Node *n, Form *f) {
  const Node *m = n->src[0];
  if (n->op != OP_DIV || n->src[1]->op != OP_BATCH || m->op != OP_MUL)
    return false;
  for (int i = 0; i < 2; i++) {
    const Node *c = m->src[i], *s = m->src[1 - i];
    if (s->op != OP_SUM || !is_image(&s->src[0]->shape) ||
        (s->arg.p[PARAM_AXES] & AXES_MASK) != 0xd)
      continue;
    int64_t hw = s->src[0]->shape.dim[2] * s->src[0]->shape.dim[3];
    if (!is_reciprocal(c, hw))
      continue;
    snprintf(f->tmpl, sizeof f->tmpl, "(1/(%lld N)) Σₙᵢⱼ %%0", (long long)hw);
    f->prec = P_MUL, f->group = G_SCALE, f->assoc = true;
    operands(f, s->src[0], NULL, NULL);
    return true;
  }
  return false;
}

/* Its adjoint: c dy copied to every position. */
static bool form_position_spread(const Node *n, Form *f) {
  if (n->op != OP_EXPAND || !is_image(&n->shape) || (n->arg.p[PARAM_AXES] & AXES_MASK) != 0xc)
    return false;
  const Node *m = n->src[0];
  for (int i = 0; m->op == OP_MUL && i < 2; i++) {
    const Node *c = m->src[i];
    int64_t hw = n->shape.dim[2] * n->shape.dim[3];
    if (!is_reciprocal(c, hw))
      continue;
    snprintf(f->tmpl, sizeof f->tmpl, "(1/%lld) %%0", (long long)hw);
    f->prec = P_MUL, f->group = G_SCALE, f->assoc = true;
    operands(f, m->src[1 - i], NULL, NULL);
    snprintf(f->note, sizeof f->note, "global average pool: the same share at every position");
    return true;
  }
  return false;
}

/* flatten(x) for images to rows; reshape(x, [dims]) for other per-example reshapes; weights
 * reshaped keep the ops' notation (invisible). */
static bool form_reshape(const Node *n, Form *f) {
  if (n->op != OP_RESHAPE || !shape_has_batch(&n->shape))
    return false;
  bool backward = n->flags & NODE_BACKWARD;
  if (n->shape.rank == 2 && n->src[0]->shape.rank > 2) {
    form_set(f, "flatten(%0)", P_ATOM, G_NONE, false);
  } else {
    int k = snprintf(f->tmpl, sizeof f->tmpl, "reshape(%%0, [");
    for (int i = 1; i < n->shape.rank; i++)
      k += snprintf(f->tmpl + k, sizeof f->tmpl - (size_t)k, "%s%lld", i > 1 ? ", " : "",
                    (long long)n->shape.dim[i]);
    snprintf(f->tmpl + k, sizeof f->tmpl - (size_t)k, "])");
  }
  if (backward)
    snprintf(f->note, sizeof f->note, "%s: δ reshaped back",
             n->src[0]->shape.rank == 2 && n->shape.rank > 2 ? "flatten" : "reshape");
  return true;
}

/* route(dy ⊙ [maxpool(x) > c] → argmax x): simplify's form of a ReLU's derivative under a pool. */
static bool masks_maxima(const Node *n) {
  const Node *dy = n->src[1];
  if (dy->op != OP_MUL)
    return false;
  for (int s = 0; s < 2; s++)
    if (dy->src[s]->op == OP_CMPGT && dy->src[s]->src[0]->op == OP_MAXPOOL)
      return true;
  return false;
}

/* The pools keep their notation; the forward says its windows, the adjoint how δ goes back. */
static bool form_pool(const Node *n, Form *f) {
  Window w = window_of(n->arg.p);
  switch (n->op) {
  case OP_MAXPOOL:
  case OP_AVGPOOL: window_text(n, "windows", f->note, sizeof f->note); return true;
  case OP_MAXPOOL_BACK:
    snprintf(f->note, sizeof f->note, masks_maxima(n)
             ? "max-pool after max(z, 0): max′ = [z > 0] taken on each window's maximum"
             : "max-pool: each window's δ goes to its argmax, 0 elsewhere");
    return true;
  case OP_AVGPOOL_BACK:
    snprintf(f->note, sizeof f->note, "avg-pool: each window's δ/%d goes to each of its inputs",
             w.kh * w.kw);
    return true;
  default: return false;
  }
}

typedef bool ImageForm(const Node *n, Form *f);
static ImageForm *const forms[] = {
  form_conv,          form_full_correlation, form_correlation, form_position_mean, form_batch_mean,
  form_position_spread, form_reshape,        form_pool,
};

bool image_form(const Node *n, Form *f) {
  for (size_t i = 0; i < sizeof forms / sizeof *forms; i++)
    if (forms[i](n, f))
      return true;
  return false;
}

/* The axes of a's source that `axes` of a are, through a layout permutation or a sum. */
static uint32_t source_axes(const Node *a, uint32_t axes) {
  uint32_t mapped = 0;
  if (a->op == OP_PERMUTE) { /* axis i of a permutation is axis perm[i] of its source */
    for (int i = 0; i < a->shape.rank; i++)
      mapped |= (axes >> i & 1u) << a->arg.p[i];
    return mapped;
  }
  uint32_t summed = (uint32_t)a->arg.p[PARAM_AXES] & AXES_MASK;
  if (a->arg.p[PARAM_AXES] & AXES_KEEP)
    return axes | summed;
  for (int i = 0, j = 0; i < a->src[0]->shape.rank; i++)
    if (!(summed & (1u << i)))
      mapped |= (axes >> j++ & 1u) << i;
  return mapped | summed;
}

/* Sums of images read through layouts and through the sums before them (the bias gradient
 * Σₙ, then Σ over the positions) are one sum over the axes of the image. */
static bool merges(const Node *a) {
  const Node *s = a;
  while (!s->name && (image_layout(s) || s->op == OP_SUM))
    s = s->src[0];
  return s != a && is_image(&s->shape) && (image_layout(a) || (a->op == OP_SUM && !a->name));
}

const Node *image_sum_subscript(const Node *n, char *buf, size_t size) {
  static const char *const digit[] = {"₀", "₁", "₂", "₃"}, *const image[] = {"ₙ", "₁", "ᵢ", "ⱼ"};
  const Node *a = n->src[0];
  uint32_t axes = (uint32_t)n->arg.p[PARAM_AXES] & AXES_MASK;
  for (; merges(a); a = a->src[0])
    axes = source_axes(a, axes);
  uint32_t all = (1u << a->shape.rank) - 1;
  buf[0] = '\0';
  if (axes == all)
    return a;
  if (axes == 1) {
    snprintf(buf, size, "ₙ");
    return a;
  }
  for (int i = 0; i < a->shape.rank; i++)
    if (axes & (1u << i))
      strncat(buf, is_image(&a->shape) ? image[i] : digit[i], size - strlen(buf) - 1);
  return a;
}

const char *image_notation(const Graph *g) {
  for (uint32_t i = 0; i < g->n; i++)
    if (g->node[i]->op == OP_UNFOLD)
      return "          images [N, C, H, W]: W ∗ x convolution (the kernel slides over x unflipped, "
             "as in\n"
             "          deep learning), ∗_full over every overlap (x padded by k − 1), rot180 the "
             "kernel\n"
             "          turned by 180°, x ⋆ δ correlation, Σₙᵢⱼ sum over the rows and positions\n";
  return "";
}

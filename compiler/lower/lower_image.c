/* lower_image: layers and functions over images [N, C, H, W] — conv2d and conv, max_pool,
 * avg_pool, global_avg_pool, flatten and reshape — as sugar over the primitives UNFOLD, MATMUL,
 * RESHAPE, PERMUTE, MAXPOOL, AVGPOOL and SUM, so that their derivatives are what the rules of
 * those primitives derive. Contract: like lower_call.c's functions (lower_call dispatches here
 * through lower_image_functions); a window argument (kernel, stride, dilation) is a positive
 * integer or a pair [h, w]; padding is also "same" (output ⌈in / stride⌉, as TensorFlow and
 * Keras pad) or "valid" (none). */
#include "lower_internal.h"

#include <math.h>
#include <string.h>

typedef struct {
  int32_t h, w;
} Pair;

typedef enum { PAD_GIVEN, PAD_SAME, PAD_VALID } PadMode;

/* A positive integer (>= min) or a pair of them; *out keeps its default when a is absent. */
static bool pair_arg(Lower *L, const AstNode *call, const AstNode *a, const char *what, int min,
                     Pair *out) {
  if (!a)
    return true;
  const AstNode *v = lower_arg_value(a);
  double k[2];
  int n = 0;
  bool ok = true;
  if (v->kind == AST_ARRAY) {
    for (const AstNode *e = v->u.array.elems; e && ok; e = e->next)
      ok = n < 2 && lower_constant_value(e, &k[n++]);
    ok = ok && n == 2;
  } else {
    ok = lower_constant_value(v, &k[0]);
    k[1] = k[0];
  }
  for (int i = 0; ok && i < 2; i++)
    ok = k[i] == floor(k[i]) && k[i] >= min && k[i] <= 1e6;
  if (!ok) {
    diag_error(L->diag, v->loc, "the %s of %s must be %s integer or a pair [h, w] of them", what,
               call->u.call.name, min > 0 ? "a positive" : "a non-negative");
    if (min > 0 && v->kind != AST_ARRAY && lower_constant_value(v, &k[0]) && k[0] == 0)
      diag_hint(L->diag, "a %s of 0 would not move the window", what);
    return false;
  }
  *out = (Pair){(int32_t)k[0], (int32_t)k[1]};
  return true;
}

static bool padding_arg(Lower *L, const AstNode *call, const AstNode *a, PadMode *mode,
                        Pair *pad) {
  if (!a)
    return true;
  const AstNode *v = lower_arg_value(a);
  if (v->kind != AST_STRING) {
    *mode = PAD_GIVEN;
    return pair_arg(L, call, a, "padding", 0, pad);
  }
  if (!strcmp(v->u.str.value, "same") || !strcmp(v->u.str.value, "valid")) {
    *mode = v->u.str.value[0] == 's' ? PAD_SAME : PAD_VALID;
    return true;
  }
  diag_error(L->diag, v->loc, "unknown padding \"%s\" for %s", v->u.str.value, call->u.call.name);
  diag_hint(L->diag, "padding is a number, a pair [h, w], \"same\" or \"valid\"");
  return false;
}

/* TensorFlow's "same": the output is ⌈in / s⌉, the padding it takes split evenly, the odd one
 * after. */
static void same_padding(int64_t in, int32_t k, int32_t s, int32_t d, int32_t *before,
                         int32_t *after) {
  int64_t out = (in + s - 1) / s, total = (out - 1) * s + (int64_t)(k - 1) * d + 1 - in;
  if (total < 0)
    total = 0;
  *before = (int32_t)(total / 2);
  *after = (int32_t)(total - total / 2);
}

/* The window of kernel k, stride s, padding and dilation d over the images x. */
static Window make_window(const Node *x, Pair k, Pair s, PadMode mode, Pair pad, Pair d) {
  Window w = {k.h, k.w, s.h, s.w, pad.h, pad.w, pad.h, pad.w, d.h, d.w};
  if (mode == PAD_VALID)
    w.pt = w.pl = w.pb = w.pr = 0;
  if (mode == PAD_SAME) {
    same_padding(x->shape.dim[2], k.h, s.h, d.h, &w.pt, &w.pb);
    same_padding(x->shape.dim[3], k.w, s.w, d.w, &w.pl, &w.pr);
  }
  return w;
}

/* x must be images [N, C, H, W]; else an error that says how to get there. */
static bool is_image(Lower *L, const Node *x, const AstNode *at, const char *f) {
  if (x->shape.rank == 4)
    return true;
  char sh[64];
  diag_error(L->diag, at->loc, "%s needs images [C, H, W] with the batch axis N in front; this "
             "has shape %s", f, shape_str(&x->shape, sh, sizeof sh));
  if (x->shape.rank == 3)
    diag_hint(L->diag, "give the images a channel axis: input x[1, H, W], or reshape(x, [1, H, W])");
  else if (x->shape.rank == 2)
    diag_hint(L->diag, "declare the input as images, e.g. input x[1, 28, 28], or reshape the rows");
  return false;
}

/* images x [N, C, H, W] ∗ weights W [F, C, kh, kw] (+ b [F]) = [N, F, OH, OW]: the patches of x
 * times W as an [F, C·kh·kw] matrix, transposed, moved to channels first. The bias is added
 * after the move, so the move is read in the loop that adds it instead of costing a pass. */
static Node *convolve(Lower *L, Node *x, Node *W, const Window *w, Node *b) {
  Graph *g = L->g;
  int64_t f = W->shape.dim[0], cols = W->shape.dim[1] * W->shape.dim[2] * W->shape.dim[3];
  Node *y = g_matmul(g, g_unfold(g, x, w), g_reshape(g, W, (Shape){2, {f, cols}}), false, true);
  static const int32_t channels_first[4] = {0, 3, 1, 2};
  y = g_permute(g, y, channels_first);
  return b ? g_add(g, y, g_reshape(g, b, (Shape){3, {f, 1, 1}})) : y;
}

/* The window arguments of conv2d, conv and the pools, from a[first..first+3]: kernel (unless
 * the caller knows it), stride, padding, dilation. */
typedef struct {
  Pair kernel, stride, pad, dilation;
  PadMode mode;
} WindowArgs;

static bool window_args(Lower *L, const AstNode *call, const AstNode *kernel,
                        const AstNode *stride, const AstNode *pad, const AstNode *dilation,
                        WindowArgs *wa) {
  return pair_arg(L, call, kernel, "kernel size", 1, &wa->kernel) &&
         pair_arg(L, call, stride, "stride", 1, &wa->stride) &&
         padding_arg(L, call, pad, &wa->mode, &wa->pad) &&
         pair_arg(L, call, dilation, "dilation", 1, &wa->dilation);
}

/* conv2d(x, filters, kernel, stride = 1, padding = "same", dilation = 1, act, bias = true,
 * init = he_normal): act(x ∗ W + b) with W: [filters, C, kh, kw] and b: [filters] zeros,
 * named after the value the layer defines. */
static Node *lower_conv2d(Lower *L, const AstNode *call, const char *layer) {
  Graph *g = L->g;
  static const char *const spec[] = {"x", "filters", "kernel|kernel_size", "stride|strides",
                                     "padding", "dilation", "activation|act", "bias", "init"};
  const AstNode *a[MAX_ARGS];
  if (!lower_bind_args(L, call, spec, 9, 3, a))
    return NULL;
  if (!layer) {
    diag_error(L->diag, call->loc, "a conv2d layer needs a name for its parameters");
    diag_hint(L->diag, "write it as its own line: c1 = conv2d(...)");
    return NULL;
  }
  WindowArgs wa = {.stride = {1, 1}, .dilation = {1, 1}, .mode = PAD_SAME};
  Pair filters;
  const struct Activation *act = &lower_activations[0];
  double k = 0;
  bool bias = true;
  if (!pair_arg(L, call, a[1], "number of filters", 1, &filters) ||
      !window_args(L, call, a[2], a[3], a[4], a[5], &wa) ||
      (a[6] && !lower_activation_spec(L, lower_arg_value(a[6]), &act, &k)) ||
      !lower_bool_arg(L, a[7], "bias", &bias))
    return NULL;
  if (filters.h != filters.w || lower_arg_value(a[1])->kind == AST_ARRAY) {
    diag_error(L->diag, lower_arg_value(a[1])->loc, "the number of filters of conv2d is one number");
    return NULL;
  }
  const AstNode *xa = lower_arg_value(a[0]);
  Node *x = lower_expr(L, xa);
  if (!x || !is_image(L, x, xa, "conv2d"))
    return NULL;
  Shape ws = {4, {filters.h, x->shape.dim[1], wa.kernel.h, wa.kernel.w}};
  const char *wname = arena_printf(g->arena, "%s.W", layer);
  ParamInit winit = {INIT_NORMAL, 0, sqrt(2.0 / (double)(ws.dim[1] * ws.dim[2] * ws.dim[3])), NULL};
  if (!shape_fits(&ws)) {
    diag_error(L->diag, call->loc, "the weights of this conv2d would have more than 2^31 elements");
    return NULL;
  }
  if (a[8] && !lower_init(L, lower_arg_value(a[8]), wname, ws, &winit))
    return NULL;
  g->loc = call->loc;
  Window w = make_window(x, wa.kernel, wa.stride, wa.mode, wa.pad, wa.dilation);
  Node *W = lower_declare_param(L, wname, ws, winit);
  Node *b = bias ? lower_declare_param(L, arena_printf(g->arena, "%s.b", layer),
                                       (Shape){1, {filters.h}}, (ParamInit){INIT_ZEROS, 0, 0, NULL})
                 : NULL;
  g->loc = call->loc;
  return act->build(L, convolve(L, x, W, &w, b), k);
}

/* conv(x, W, stride = 1, padding = 0, dilation = 1): the convolution (as deep learning means
 * it: a correlation) of images x [N, C, H, W] with weights W [F, C, kh, kw] */
static Node *lower_conv(Lower *L, const AstNode *call, const char *let) {
  (void)let;
  static const char *const spec[] = {"x", "W|weights", "stride|strides", "padding", "dilation"};
  const AstNode *a[MAX_ARGS];
  WindowArgs wa = {.stride = {1, 1}, .dilation = {1, 1}, .mode = PAD_GIVEN};
  if (!lower_bind_args(L, call, spec, 5, 2, a) ||
      !window_args(L, call, NULL, a[2], a[3], a[4], &wa))
    return NULL;
  const AstNode *xa = lower_arg_value(a[0]), *wa_ = lower_arg_value(a[1]);
  Node *x = lower_expr(L, xa), *W = lower_expr(L, wa_);
  if (!x || !W || !is_image(L, x, xa, "conv"))
    return NULL;
  char sw[64], sx[64];
  if (W->shape.rank != 4 || shape_has_batch(&W->shape)) {
    diag_error(L->diag, wa_->loc, "the weights of conv are [F, C, kh, kw]; these have shape %s",
               shape_str(&W->shape, sw, sizeof sw));
    return NULL;
  }
  if (W->shape.dim[1] != x->shape.dim[1]) {
    diag_error(L->diag, wa_->loc, "the weights %s expect %lld input channels, but the images %s "
               "have %lld", shape_str(&W->shape, sw, sizeof sw), (long long)W->shape.dim[1],
               shape_str(&x->shape, sx, sizeof sx), (long long)x->shape.dim[1]);
    return NULL;
  }
  wa.kernel = (Pair){(int32_t)W->shape.dim[2], (int32_t)W->shape.dim[3]};
  L->g->loc = call->loc;
  Window w = make_window(x, wa.kernel, wa.stride, wa.mode, wa.pad, wa.dilation);
  return convolve(L, x, W, &w, NULL);
}

/* max_pool / avg_pool(x, size = 2, stride = size, padding = 0): over each channel's windows */
static Node *lower_pool(Lower *L, const AstNode *call, Node *(*pool)(Graph *, Node *, const Window *)) {
  static const char *const spec[] = {"x", "size|pool_size|kernel", "stride|strides", "padding"};
  const AstNode *a[MAX_ARGS];
  WindowArgs wa = {.kernel = {2, 2}, .dilation = {1, 1}, .mode = PAD_GIVEN};
  if (!lower_bind_args(L, call, spec, 4, 1, a) ||
      !window_args(L, call, a[1], NULL, a[3], NULL, &wa))
    return NULL;
  wa.stride = wa.kernel;
  if (!pair_arg(L, call, a[2], "stride", 1, &wa.stride))
    return NULL;
  const AstNode *xa = lower_arg_value(a[0]);
  Node *x = lower_expr(L, xa);
  if (!x || !is_image(L, x, xa, call->u.call.name))
    return NULL;
  L->g->loc = call->loc;
  Window w = make_window(x, wa.kernel, wa.stride, wa.mode, wa.pad, wa.dilation);
  return pool(L->g, x, &w);
}

static Node *fn_max_pool(Lower *L, const AstNode *c, const char *n) { return (void)n, lower_pool(L, c, g_maxpool); }
static Node *fn_avg_pool(Lower *L, const AstNode *c, const char *n) { return (void)n, lower_pool(L, c, g_avgpool); }

/* global_avg_pool(x): each channel's mean over its H × W, [N, C] */
static Node *fn_global_avg_pool(Lower *L, const AstNode *call, const char *n) {
  (void)n;
  Node *x = lower_single_arg(L, call);
  if (!x || !is_image(L, x, call, "global_avg_pool"))
    return NULL;
  return lower_mean_axes(L->g, x, (1u << 2) | (1u << 3));
}

/* flatten(x): each example's values as one vector, [N, C·H·W], in row-major order */
static Node *fn_flatten(Lower *L, const AstNode *call, const char *n) {
  (void)n;
  Node *x = lower_single_arg(L, call);
  if (!x)
    return NULL;
  if (x->shape.rank <= 2 || !shape_has_batch(&x->shape)) {
    char sh[64];
    diag_error(L->diag, call->loc, "flatten needs examples with more than one axis, [N, ...]; "
               "this has shape %s", shape_str(&x->shape, sh, sizeof sh));
    if (x->shape.rank == 2 && shape_has_batch(&x->shape))
      diag_hint(L->diag, "its rows are vectors already: use it as it is");
    return NULL;
  }
  return g_reshape(L->g, x, (Shape){2, {DIM_BATCH, shape_numel(&x->shape, 1)}});
}

/* reshape(x, [d1, ...]): each example's values in shape [d1, ...] (one of them may be -1, the
 * rest of the elements), the batch axis kept in front */
static Node *fn_reshape(Lower *L, const AstNode *call, const char *n) {
  (void)n;
  static const char *const spec[] = {"x", "shape"};
  const AstNode *a[MAX_ARGS];
  if (!lower_bind_args(L, call, spec, 2, 2, a))
    return NULL;
  Node *x = lower_expr(L, lower_arg_value(a[0]));
  if (!x)
    return NULL;
  bool batch = shape_has_batch(&x->shape);
  const AstNode *v = lower_arg_value(a[1]);
  Shape to = {0};
  if (batch)
    to.dim[to.rank++] = DIM_BATCH;
  int infer = -1;
  int64_t known = 1;
  bool ok = v->kind == AST_ARRAY && v->u.array.elems;
  for (const AstNode *e = ok ? v->u.array.elems : NULL; e && ok; e = e->next) {
    double d;
    ok = to.rank < NNC_MAX_RANK && lower_constant_value(e, &d) && d == floor(d) &&
         (d >= 1 || (d == -1 && infer < 0)) && d <= 1e9;
    if (ok && d == -1)
      infer = to.rank;
    else if (ok)
      known *= (int64_t)d;
    to.dim[to.rank++] = (int64_t)d;
  }
  if (!ok) {
    diag_error(L->diag, v->loc, "the shape of reshape is a list of positive sizes, one of them "
               "may be -1, at most %d axes%s", NNC_MAX_RANK - batch, batch ? " after N" : "");
    return NULL;
  }
  int64_t count = shape_numel(&x->shape, 1);
  if (infer >= 0 && count % known) {
    char sh[64];
    diag_error(L->diag, v->loc, "reshape cannot infer the -1: %s has %lld elements%s, not a "
               "multiple of %lld", shape_str(&x->shape, sh, sizeof sh), (long long)count,
               batch ? " per example" : "", (long long)known);
    return NULL;
  }
  if (infer >= 0)
    to.dim[infer] = count / known;
  L->g->loc = call->loc;
  return g_reshape(L->g, x, to);
}

static Node *fn_conv2d(Lower *L, const AstNode *c, const char *let) { return lower_conv2d(L, c, let); }

const LowerFunction lower_image_functions[] = {
  {"conv2d", fn_conv2d}, {"conv", lower_conv}, {"max_pool", fn_max_pool},
  {"avg_pool", fn_avg_pool}, {"global_avg_pool", fn_global_avg_pool}, {"flatten", fn_flatten},
  {"reshape", fn_reshape}, {NULL, NULL},
};

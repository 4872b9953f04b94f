/* lower_image: layers and functions over images [N, C, H, W] — conv2d and conv, max_pool,
 * avg_pool, global_avg_pool, flatten and reshape — as sugar over the primitives UNFOLD, MATMUL,
 * RESHAPE, PERMUTE, MAXPOOL, AVGPOOL and SUM, so that their derivatives are what the rules of
 * those primitives derive. Contract: like lower_call.c's functions (lower_call dispatches here
 * through lower_image_functions); a window argument (kernel, stride, dilation) is a positive
 * integer or a pair [h, w]; padding is also "same" (output ⌈in / stride⌉, as TensorFlow and
 * Keras pad) or "valid" (none). */
#include "lower_internal.h"

#include <math.h>
#include <stdio.h>
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
    if (!strcmp(what, "stride") && v->kind != AST_ARRAY && lower_constant_value(v, &k[0]) &&
        k[0] == 0)
      diag_hint(L->diag, "a stride of 0 would not move the window");
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

/* The window arguments of conv2d, conv and the pools: kernel, stride, padding, dilation. */
typedef struct {
  Pair kernel, stride, pad, dilation;
  PadMode mode;
} WindowArgs;

/* "2" or "[2, 3]", as the user would write the pair. */
static const char *pair_str(Pair p, char *buf, size_t n) {
  if (p.h == p.w)
    snprintf(buf, n, "%d", p.h);
  else
    snprintf(buf, n, "[%d, %d]", p.h, p.w);
  return buf;
}

/* The window of wa over the images x. */
static Window make_window(const Node *x, const WindowArgs *wa) {
  Pair k = wa->kernel, s = wa->stride, p = wa->pad, d = wa->dilation;
  Window w = {k.h, k.w, s.h, s.w, p.h, p.w, p.h, p.w, d.h, d.w, 0};
  if (wa->mode == PAD_VALID)
    w.pt = w.pl = w.pb = w.pr = 0;
  if (wa->mode == PAD_SAME) {
    same_padding(x->shape.dim[2], k.h, s.h, d.h, &w.pt, &w.pb);
    same_padding(x->shape.dim[3], k.w, s.w, d.w, &w.pl, &w.pr);
  }
  return w;
}

/* The window of wa over the images x when it fits in them once padded; else an error at `at`
 * (where the kernel was given) in the user's terms, before the shape rule's own. */
static bool fit_window(Lower *L, const AstNode *call, const AstNode *at, const char *noun,
                       const Node *x, const WindowArgs *wa, Window *w) {
  *w = make_window(x, wa);
  int64_t h = x->shape.dim[2] + w->pt + w->pb, wd = x->shape.dim[3] + w->pl + w->pr;
  if (window_extent(x->shape.dim[2], w->kh, w->sh, w->pt, w->pb, w->dh) >= 1 &&
      window_extent(x->shape.dim[3], w->kw, w->sw, w->pl, w->pr, w->dw) >= 1)
    return true;
  char sd[32], sx[64];
  if (w->dh > 1 || w->dw > 1)
    diag_error(L->diag, at->loc, "the %d×%d %s of %s dilated by %s spans %lld×%lld, more than "
               "its padded input, %lld×%lld", w->kh, w->kw, noun, call->u.call.name,
               pair_str(wa->dilation, sd, sizeof sd), (long long)w->dh * (w->kh - 1) + 1,
               (long long)w->dw * (w->kw - 1) + 1, (long long)h, (long long)wd);
  else
    diag_error(L->diag, at->loc, "the %d×%d %s of %s is larger than its padded input, %lld×%lld",
               w->kh, w->kw, noun, call->u.call.name, (long long)h, (long long)wd);
  diag_hint(L->diag, "the input has shape %s; padding = \"same\" pads it to fit",
            shape_str(&x->shape, sx, sizeof sx));
  return false;
}

/* x must be images [N, C, H, W]; else an error that says how to get there. */
static bool is_image(Lower *L, const Node *x, const AstNode *at, const char *f) {
  if (x->shape.rank == 4)
    return true;
  char sh[64];
  diag_error(L->diag, at->loc, "%s needs images [C, H, W] with the batch axis N in front; this "
             "has shape %s", f, shape_str(&x->shape, sh, sizeof sh));
  if (!shape_has_batch(&x->shape))
    return false;
  int64_t k = x->shape.dim[x->shape.rank - 1], side = (int64_t)llround(sqrt((double)k));
  if (x->shape.rank == 3)
    diag_hint(L->diag, "give the images a channel axis: input x[1, H, W], or "
              "reshape(x, [1, H, W])");
  else if (x->shape.rank == 2 && side * side == k)
    diag_hint(L->diag, "declare the input as images, input x[1, %lld, %lld], or reshape the rows: "
              "reshape(x, [1, %lld, %lld])", (long long)side, (long long)side, (long long)side,
              (long long)side);
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

/* The window arguments given (NULL: the default in wa; the kernel of conv comes from W). */
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
  const AstNode *fa = lower_arg_value(a[1]);
  double filters = 0;
  if (!lower_constant_value(fa, &filters) || filters < 1 || filters != floor(filters) ||
      filters > 1e9) {
    diag_error(L->diag, fa->loc, "the number of filters of conv2d must be a positive integer");
    return NULL;
  }
  const struct Activation *act = &lower_activations[0];
  double k = 0;
  bool bias = true;
  if (!window_args(L, call, a[2], a[3], a[4], a[5], &wa) ||
      (a[6] && !lower_activation_spec(L, call, lower_arg_value(a[6]), &act, &k)) ||
      !lower_bool_arg(L, a[7], "bias", &bias))
    return NULL;
  const AstNode *xa = lower_arg_value(a[0]);
  Node *x = lower_expr(L, xa);
  if (!x || !is_image(L, x, xa, "conv2d"))
    return NULL;
  Shape ws = {4, {(int64_t)filters, x->shape.dim[1], wa.kernel.h, wa.kernel.w}};
  const char *wname = arena_printf(g->arena, "%s.W", layer);
  ParamInit winit = {INIT_NORMAL, 0, sqrt(2.0 / (double)(ws.dim[1] * ws.dim[2] * ws.dim[3])), NULL};
  if (!shape_fits(&ws)) {
    diag_error(L->diag, call->loc, "the weights of this conv2d would have more than 2^31 elements");
    return NULL;
  }
  if (a[8] && !lower_init(L, lower_arg_value(a[8]), wname, ws, &winit))
    return NULL;
  Window w;
  if (!fit_window(L, call, lower_arg_value(a[2]), "kernel", x, &wa, &w))
    return NULL;
  g->loc = call->loc;
  Node *W = lower_declare_param(L, wname, ws, winit);
  Node *b = bias ? lower_declare_param(L, arena_printf(g->arena, "%s.b", layer),
                                       (Shape){1, {ws.dim[0]}}, (ParamInit){INIT_ZEROS, 0, 0, NULL})
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
  Window w;
  if (!fit_window(L, call, wa_, "kernel", x, &wa, &w))
    return NULL;
  L->g->loc = call->loc;
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
  if (wa.mode == PAD_GIVEN && (wa.pad.h >= wa.kernel.h || wa.pad.w >= wa.kernel.w)) {
    char sp[32];
    diag_error(L->diag, lower_arg_value(a[3])->loc, "the padding %s of %s must be smaller than "
               "its %d×%d window", pair_str(wa.pad, sp, sizeof sp), call->u.call.name,
               wa.kernel.h, wa.kernel.w);
    diag_hint(L->diag, "a window could then lie in the padding alone, with nothing to pool");
    return NULL;
  }
  const AstNode *xa = lower_arg_value(a[0]);
  Node *x = lower_expr(L, xa);
  if (!x || !is_image(L, x, xa, call->u.call.name))
    return NULL;
  Window w;
  if (!fit_window(L, call, a[1] ? lower_arg_value(a[1]) : call, "window", x, &wa, &w))
    return NULL;
  L->g->loc = call->loc;
  return pool(L->g, x, &w);
}

static Node *fn_max_pool(Lower *L, const AstNode *c, const char *n) { return (void)n, lower_pool(L, c, g_maxpool); }
static Node *fn_avg_pool(Lower *L, const AstNode *c, const char *n) { return (void)n, lower_pool(L, c, g_avgpool); }

/* global_avg_pool(x): each channel's mean over its H × W, [N, C] */
static Node *fn_global_avg_pool(Lower *L, const AstNode *call, const char *n) {
  (void)n;
  Node *x = lower_single_arg(L, call);
  if (!x || !is_image(L, x, lower_arg_value(call->u.call.args), "global_avg_pool"))
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
    diag_error(L->diag, lower_arg_value(call->u.call.args)->loc, "flatten needs examples with "
               "more than one axis, [N, ...]; this has shape %s",
               shape_str(&x->shape, sh, sizeof sh));
    if (x->shape.rank == 2 && shape_has_batch(&x->shape))
      diag_hint(L->diag, "its rows are vectors already: use it as it is");
    return NULL;
  }
  return g_reshape(L->g, x, (Shape){2, {DIM_BATCH, shape_numel(&x->shape, 1)}});
}

/* The sizes of reshape's shape list v into to (after N when x has it), one of them -1 for the
 * rest; false after an error at the size, or the list, that is wrong. */
static bool reshape_target(Lower *L, const AstNode *v, const Node *x, Shape *to) {
  bool batch = shape_has_batch(&x->shape);
  *to = (Shape){0};
  if (batch)
    to->dim[to->rank++] = DIM_BATCH;
  if (v->kind != AST_ARRAY || !v->u.array.elems) {
    diag_error(L->diag, v->loc, "the shape of reshape is a list of sizes, such as [64, 7, 7]");
    return false;
  }
  if (ast_length(v->u.array.elems) > NNC_MAX_RANK - batch) {
    diag_error(L->diag, v->loc, "reshape gives at most %d axes%s", NNC_MAX_RANK - batch,
               batch ? " after the batch axis N" : "");
    return false;
  }
  const AstNode *rest = NULL;
  double known = 1; /* the product of the sizes given (exact while it could fit a tensor) */
  for (const AstNode *e = v->u.array.elems; e; e = e->next) {
    double d;
    if (!lower_constant_value(e, &d) || d != floor(d) || !(d >= 1 || d == -1) || d > 1e9) {
      diag_error(L->diag, e->loc, "a size of reshape is a positive integer, or -1 for the rest");
      return false;
    }
    if (d == -1 && rest) {
      diag_error(L->diag, e->loc, "only one size of reshape can be -1");
      diag_note(L->diag, rest->loc, "the first -1 is here");
      return false;
    }
    if (d == -1)
      rest = e;
    else
      known *= d;
    to->dim[to->rank++] = (int64_t)d;
  }
  int64_t count = shape_numel(&x->shape, 1);
  const char *per = batch ? " per example" : "";
  char sx[64], st[64];
  if (rest && fmod((double)count, known) != 0) {
    diag_error(L->diag, rest->loc, "reshape cannot infer the -1: %s has %lld elements%s, not a "
               "multiple of %.0f", shape_str(&x->shape, sx, sizeof sx), (long long)count, per,
               known);
    return false;
  }
  for (int i = 0; rest && i < to->rank; i++)
    if (to->dim[i] == -1 && i >= batch)
      to->dim[i] = count / (int64_t)known;
  if (!rest && known != (double)count) {
    Shape asked = *to;
    if (batch) /* the sizes as written, without N */
      for (int i = 0; i < asked.rank; i++)
        asked.dim[i] = i + 1 < asked.rank ? asked.dim[i + 1] : 0;
    asked.rank -= batch;
    diag_error(L->diag, v->loc, "reshape to %s needs %.0f elements, but %s has %lld%s",
               shape_str(&asked, st, sizeof st), known,
               shape_str(&x->shape, sx, sizeof sx), (long long)count, per);
    return false;
  }
  return true;
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
  Shape to;
  if (!x || !reshape_target(L, lower_arg_value(a[1]), x, &to))
    return NULL;
  L->g->loc = call->loc;
  return g_reshape(L->g, x, to);
}

static Node *fn_conv2d(Lower *L, const AstNode *c, const char *let) { return lower_conv2d(L, c, let); }

const LowerFunction lower_image_functions[] = {
  {"conv2d", fn_conv2d}, {"conv", lower_conv}, {"max_pool", fn_max_pool},
  {"avg_pool", fn_avg_pool}, {"global_avg_pool", fn_global_avg_pool}, {"flatten", fn_flatten},
  {"reshape", fn_reshape}, {NULL, NULL},
};

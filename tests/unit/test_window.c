/* The window ops of image networks (unfold, fold, max and average pooling and their adjoints,
 * reshape, the matrix product over more axes) checked as issue 12 asks, through the layers as
 * the compiler writes them: a convolution with weights W [F, C, kh, kw] and bias b [F] is
 *   permute(unfold(x) · reshape(W, [F, C·kh·kw])ᵀ + b, [0, 3, 1, 2]).
 *  1. derived gradients against central finite differences (interpreter, double) over a sweep
 *     of odd image sizes, kernels, strides, padding (none, "same", lopsided) and dilation;
 *     windows that do not fit are refused with a diagnostic;
 *  2. the compiled training step against the interpreter, kernel by kernel (forward values,
 *     gradients, updates), for a full batch of 3 and partial batches of 2 and 1;
 *  3. the step's kernels run in 1, 2, 3 and 5 parts leave the workspace bit-identical;
 *  4. the shape rules refuse bad windows and reshapes with a one-line reason. */
#include "test.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nnrt.h"
#include "codegen.h"
#include "grad.h"
#include "gradcheck.h"
#include "graph_fixture.h"
#include "interp.h"
#include "jit.h"
#include "layout.h"
#include "optim.h"
#include "plan.h"

static uint64_t rng_state = 0x6a09e667f3bcc909u;
static double uniform(double lo, double hi) { return test_uniform(&rng_state, lo, hi); }
static int pick(int n) { return (int)uniform(0, n); }

/* --- the networks --- */

typedef enum {
  NET_CONV,       /* one convolution */
  NET_MAXPOOL,    /* one max pool */
  NET_AVGPOOL,    /* one average pool */
  NET_CONV_DENSE, /* conv → relu → max pool → flatten → dense */
  NET_CONV_CONV,  /* conv → relu → average pool → 3×3 "same" conv → flatten → dense */
  NET_FOLD,       /* fold(unfold(x) ⊙ M): fold's own derivative rule and unfold's with it */
  NET_SPREAD,     /* the average pool's adjoint on avgpool(x) ⊙ M, the same way */
  NET_CONV_POOL_CONV, /* conv (bias after the move, as lowered) → relu → max pool → conv →
                       * flatten → dense */
  NET_CONV_RELU_CONV, /* 3×3 "same" conv → relu → conv of the net's window → flatten → dense:
                       * the second conv's input gradient through any window */
} NetKind;

static const char *const net_names[] = {"conv",   "maxpool", "avgpool", "conv-relu-maxpool-dense",
                                        "conv-relu-avgpool-conv-dense", "fold", "spread",
                                        "conv-relu-maxpool-conv-dense", "conv-relu-conv-dense"};

typedef struct {
  NetKind kind;
  int64_t batch, ch, h, w; /* images [batch, ch, h, w] */
  int64_t filters;
  Window conv, pool;
  bool last; /* the images are stored [batch, h, w, ch] and moved to channels first, and
              * layout.c moves the net's window ops (and so their adjoints) to channels last */
} Net;

static const char *describe(const Net *n) {
  static char buf[256];
  const Window *c = &n->conv, *p = &n->pool;
  snprintf(buf, sizeof buf,
           "%s%s on [%lld, %lld, %lld, %lld], %lld filters, conv k %dx%d s %dx%d pad %d,%d,%d,%d "
           "d %dx%d, pool k %dx%d s %dx%d pad %d,%d,%d,%d",
           n->last ? "channels-last " : "", net_names[n->kind], (long long)n->batch, (long long)n->ch, (long long)n->h,
           (long long)n->w, (long long)n->filters, c->kh, c->kw, c->sh, c->sw, c->pt, c->pl, c->pb,
           c->pr, c->dh, c->dw, p->kh, p->kw, p->sh, p->sw, p->pt, p->pl, p->pb, p->pr);
  return buf;
}

/* permute(unfold(x) · reshape(W)ᵀ + b, [0, 3, 1, 2]): [N, F, OH, OW] (no b when bname is
 * NULL); NULL when w does not fit. */
static Node *conv(Graph *g, Node *x, int64_t filters, const Window *w, const char *wname,
                  const char *bname) {
  Node *patches = g_unfold(g, x, w);
  if (!patches)
    return NULL;
  int64_t ch = x->shape.dim[1];
  Node *W = g_param(g, wname, (Shape){4, {filters, ch, w->kh, w->kw}});
  Node *rows = g_matmul(g, patches, g_reshape(g, W, (Shape){2, {filters, ch * w->kh * w->kw}}),
                        false, true);
  if (bname)
    rows = g_add(g, rows, g_param(g, bname, (Shape){1, {filters}}));
  return g_permute(g, rows, (int32_t[]){0, 3, 1, 2});
}

/* The same as lowering writes it: permute(unfold(x) · reshape(W)ᵀ, [0, 3, 1, 2]) + b as
 * [F, 1, 1] (layout.c then takes the bias and a ReLU after a max pool on the pooled values). */
static Node *conv_as_lowered(Graph *g, Node *x, int64_t filters, const Window *w, const char *wname,
                             const char *bname) {
  Node *y = conv(g, x, filters, w, wname, NULL);
  if (!y)
    return NULL;
  Node *b = g_param(g, bname, (Shape){1, {filters}});
  return g_add(g, y, g_reshape(g, b, (Shape){3, {filters, 1, 1}}));
}

/* flatten to [N, k], then a dense layer of 3 units without bias */
static Node *dense(Graph *g, Node *x) {
  if (!x)
    return NULL;
  int64_t n = x->shape.dim[0], k = shape_numel(&x->shape, 1) / (n == DIM_BATCH ? 1 : n);
  Node *flat = g_reshape(g, x, (Shape){2, {n, k}});
  return g_matmul(g, flat, g_param(g, "D", (Shape){2, {k, 3}}), false, false);
}

static Node *relu(Graph *g, Node *x) { return g_max(g, x, g_const(g, 0)); }

static const Window same3 = {3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 0};

/* back(forward(x) ⊙ M) with M a random input of the forward's shape: the adjoint op as a layer
 * of its own, so that x's gradient passes through its derivative rule as well. */
static Node *round_trip(Graph *g, Node *x, Op forward, Op back, const Window *w) {
  OpArg arg = {0};
  window_params(w, arg.p);
  Node *y = g_op(g, forward, &x, arg, NULL);
  if (!y)
    return NULL;
  Node *scaled = g_mul(g, y, g_leaf(g, OP_INPUT, "M", y->shape, NODE_INPUT));
  return g_op(g, back, &scaled, arg, &x->shape);
}

/* The network on images x; NULL (with a diagnostic) when a window does not fit. */
static Node *build_net(Graph *g, const Net *net, Node *x) {
  switch (net->kind) {
  case NET_CONV: return conv(g, x, net->filters, &net->conv, "W", "b");
  case NET_MAXPOOL: return g_maxpool(g, x, &net->pool);
  case NET_AVGPOOL: return g_avgpool(g, x, &net->pool);
  case NET_CONV_DENSE: {
    Node *h = conv(g, x, net->filters, &net->conv, "W", "b");
    return h ? dense(g, g_maxpool(g, relu(g, h), &net->pool)) : NULL;
  }
  case NET_CONV_CONV: {
    Node *h = conv(g, x, net->filters, &net->conv, "W", "b");
    Node *p = h ? g_avgpool(g, relu(g, h), &net->pool) : NULL;
    return p ? dense(g, conv(g, p, 2, &same3, "W2", "b2")) : NULL;
  }
  case NET_CONV_POOL_CONV: {
    Node *h = conv_as_lowered(g, x, net->filters, &net->conv, "W", "b");
    Node *p = h ? g_maxpool(g, relu(g, h), &net->pool) : NULL;
    return p ? dense(g, conv(g, p, 2, &same3, "W2", "b2")) : NULL;
  }
  case NET_CONV_RELU_CONV: {
    Node *h = conv_as_lowered(g, x, net->filters, &same3, "W", "b");
    return h ? dense(g, conv(g, relu(g, h), 2, &net->conv, "W2", "b2")) : NULL;
  }
  case NET_FOLD: return round_trip(g, x, OP_UNFOLD, OP_FOLD, &net->conv);
  case NET_SPREAD: return round_trip(g, x, OP_AVGPOOL, OP_AVGPOOL_BACK, &net->pool);
  }
  return NULL;
}

/* The images' shape as stored: [batch, ch, h, w], or channels last [batch, h, w, ch]. */
static Shape stored_images(const Net *net, int64_t batch) {
  return net->last ? (Shape){4, {batch, net->h, net->w, net->ch}}
                   : (Shape){4, {batch, net->ch, net->h, net->w}};
}

/* The images x as the net reads them, [N, C, H, W]: x, or x stored channels last moved. */
static Node *images_of(Graph *g, const Net *net, Node *x) {
  static const int32_t channels_first[4] = {0, 3, 1, 2};
  return net->last ? g_permute(g, x, channels_first) : x;
}

/* With net->last, layout.c's rewrite of the forward graph (which must move some window op). */
static void lay_out(Graph *g, const Net *net) {
  if (net->last && !layout_channels_last(g))
    fail_msg("%s: layout.c moved nothing", describe(net));
}

/* --- windows --- */

enum { PAD_NONE, PAD_SAME, PAD_LOPSIDED, NPADS };

/* Padding before and after an axis for a window of k taps d apart: none; "same" (⌊(span−1)/2⌋
 * before, the rest after: uneven for an even span); or lopsided — for unfold more than the span
 * before (some windows read padding only) and half the kernel after, for a pool the most it
 * allows (k − 1) before and ⌊k/2⌋ after. */
static void pad_axis(int mode, int32_t k, int32_t d, bool pool, int32_t *before, int32_t *after) {
  int32_t span = d * (k - 1) + 1;
  *before = mode == PAD_NONE   ? 0
            : mode == PAD_SAME ? (span - 1) / 2
            : pool             ? k - 1
                               : span;
  *after = mode == PAD_NONE   ? 0
           : mode == PAD_SAME ? span - 1 - *before
           : pool             ? k / 2
                              : (k + 1) / 2;
}

/* The width axis gets the height's padding rule mirrored (after ↔ before). */
static Window make_window(int32_t kh, int32_t kw, int32_t sh, int32_t sw, int pad, int32_t dh,
                          int32_t dw, bool pool) {
  Window w = {.kh = kh, .kw = kw, .sh = sh, .sw = sw, .dh = dh, .dw = dw};
  pad_axis(pad, kh, dh, pool, &w.pt, &w.pb);
  pad_axis(pad, kw, dw, pool, &w.pr, &w.pl);
  return w;
}

static const int64_t sizes[] = {1, 3, 5, 7, 17};
static const int32_t kernels[] = {1, 2, 3, 5};
static const int64_t filter_counts[] = {1, 2, 4};
enum { NSIZES = 5, NKERNELS = 4, NSTRIDES = 3, NDILATIONS = 2 };

/* --- 1. gradients against finite differences --- */

/* The fixture reported exactly one error, one line that contains `reason`. */
static void assert_one_error(Fixture *f, const char *reason) {
  fflush(f->diag_out);
  const char *text = f->diag_text ? f->diag_text : "";
  const char *nl = strchr(text, '\n');
  if (strncmp(text, "error|", 6) || !nl || nl[1] || !strstr(text, reason))
    fail_msg("want one error line saying \"%s\", got \"%s\"", reason, text);
}

/* Distinct values of magnitude 1/2 to 1, a few thousand finite-difference steps apart, of
 * either sign, in random order: no max-pool window has a tie the steps could reorder, and no
 * pixel is 0, which would tie a tap of weight × pixel with the bias-only outputs of windows
 * that lie in the padding. */
static void fill_distinct(double *v, int64_t n) {
  for (int64_t k = 0; k < n; k++)
    v[k] = (k % 2 ? 1 : -1) * (0.5 + ((double)k + 0.5) / (2 * (double)n));
  for (int64_t k = n - 1; k > 0; k--) {
    int64_t j = (int64_t)uniform(0, (double)(k + 1));
    double t = v[k];
    v[k] = v[j], v[j] = t;
  }
}

/* Images distinct, every other leaf uniform in [-1, 1]. */
static void fill_for_gradients(Interp *it, const Graph *g, const Node *images) {
  for (uint32_t i = 0; i < g->n; i++) {
    const Node *n = g->node[i];
    if (n == images || (n->op != OP_INPUT && n->op != OP_PARAM))
      continue;
    int64_t size = shape_numel(&n->shape, it->batch);
    for (int64_t k = 0; k < size; k++)
      interp_value(it, n)[k] = uniform(-1, 1);
  }
  fill_distinct(interp_value(it, images), shape_numel(&images->shape, it->batch));
}

/* loss = Σ (y ⊙ R) with a random R, so every element of y matters differently. */
static void make_loss(Graph *g, Node *y) {
  Node *r = g_leaf(g, OP_INPUT, "R", y->shape, NODE_INPUT);
  g->loss = g_sum(g, g_mul(g, y, r), (1u << y->shape.rank) - 1);
}

/* The net's gradients with respect to its images (a parameter here) and its weights match
 * central differences; returns false when a window does not fit, after checking that building
 * the net failed with exactly that diagnostic. The nets are piecewise linear in each leaf, so
 * central differences carry no truncation error; what is left is the loss's rounding over the
 * step, ε·Σ|terms| / h, which on losses of a few thousand terms reaches 2e-6 of the smaller
 * derivatives (hence 1e-5, not test_grad's 1e-6). A wrong rule is off by O(1). */
static bool gradients_match(const Net *net) {
  Fixture f;
  fixture_init(&f);
  Node *x = g_param(&f.g, "X", stored_images(net, net->batch));
  Node *y = build_net(&f.g, net, images_of(&f.g, net, x));
  if (!y) {
    assert_one_error(&f, "is larger than the padded input");
    fixture_free(&f);
    return false;
  }
  make_loss(&f.g, y);
  lay_out(&f.g, net);
  assert_true(grad_build(&f.g));
  assert_true(graph_verify(&f.g, stderr));
  /* the differences of the loss as written, against the gradients derived from the graph
   * layout.c rewrote (both are in the graph): a rewrite that changed the function fails */
  if (net->last)
    f.g.loss = f.g.lowered_loss;
  Interp it;
  interp_init(&it, &f.arena, &f.g, 1);
  fill_for_gradients(&it, &f.g, x);
  double err = worst_grad_error(&f.g, &it);
  if (err > 1e-5)
    fail_msg("%s: relative error %g", describe(net), err);
  fixture_free(&f);
  return true;
}

/* Batch, channels, filters and the width of an image drawn at random; images of more than 120
 * values drop to one image, then one channel, so each finite difference stays cheap. */
static Net random_net(NetKind kind, int64_t h) {
  Net n = {.kind = kind, .h = h, .w = sizes[pick(NSIZES)], .batch = 1 + pick(2), .ch = 1 + pick(3)};
  n.filters = filter_counts[pick(3)];
  if (n.batch * n.ch * n.h * n.w > 120)
    n.batch = 1;
  if (n.ch * n.h * n.w > 120)
    n.ch = 1;
  return n;
}

/* Every image height, kernel height, stride, padding and dilation; the other axis's size,
 * kernel, stride and dilation and the channel, filter and batch counts drawn at random. Each
 * window is checked as a convolution and as a fold. */
static void convolution_gradients_match_finite_differences(void **state) {
  (void)state;
  int fits = 0, refused = 0;
  for (int hi = 0; hi < NSIZES; hi++)
    for (int ki = 0; ki < NKERNELS; ki++)
      for (int32_t s = 1; s <= NSTRIDES; s++)
        for (int pad = 0; pad < NPADS; pad++)
          for (int32_t d = 1; d <= NDILATIONS; d++) {
            Net n = random_net(NET_CONV, sizes[hi]);
            n.conv = make_window(kernels[ki], kernels[pick(NKERNELS)], s, 1 + pick(NSTRIDES), pad,
                                 d, 1 + pick(NDILATIONS), false);
            gradients_match(&n) ? fits++ : refused++;
            if (n.ch > 1) { /* with one channel both layouts are one */
              n.last = true;
              gradients_match(&n) ? fits++ : refused++;
              n.last = false;
            }
            n.kind = NET_FOLD;
            gradients_match(&n) ? fits++ : refused++;
          }
  fprintf(stderr, "convolutions and folds: %d checked, %d refused\n", fits, refused);
  assert_true(fits > 400 && refused > 40);
}

/* Every image height, pool height, stride and padding, for max and average (and the average's
 * adjoint); the width axis's size, window and stride and the channel and batch counts drawn at
 * random. */
static void pool_gradients_match_finite_differences(void **state) {
  (void)state;
  int fits = 0, refused = 0;
  for (NetKind kind = NET_MAXPOOL; kind <= NET_AVGPOOL; kind++)
    for (int hi = 0; hi < NSIZES; hi++)
      for (int ki = 0; ki < NKERNELS; ki++)
        for (int32_t s = 1; s <= NSTRIDES; s++)
          for (int pad = 0; pad < NPADS; pad++) {
            Net n = random_net(kind, sizes[hi]);
            n.pool = make_window(kernels[ki], kernels[pick(NKERNELS)], s, 1 + pick(NSTRIDES), pad,
                                 1, 1, true);
            gradients_match(&n) ? fits++ : refused++;
            if (kind == NET_MAXPOOL) {
              n.last = true;
              gradients_match(&n) ? fits++ : refused++;
            }
            if (kind == NET_AVGPOOL) {
              n.kind = NET_SPREAD;
              gradients_match(&n) ? fits++ : refused++;
            }
          }
  fprintf(stderr, "pools and spreads: %d checked, %d refused\n", fits, refused);
  assert_true(fits > 250 && refused > 30);
}

/* Chains of layers on images 5 to 17 pixels high: random convolutions (dilated too) and pools;
 * the ones whose pool does not fit the convolution's output are refused like the others. */
static void layer_chain_gradients_match_finite_differences(void **state) {
  (void)state;
  int checked = 0;
  for (int round = 0; round < 40; round++) {
    static const NetKind chains[] = {NET_CONV_DENSE, NET_CONV_CONV, NET_CONV_POOL_CONV};
    Net n = random_net(chains[round % 3], sizes[2 + pick(3)]);
    n.last = n.kind != NET_CONV_CONV && pick(2);
    n.conv = make_window(kernels[pick(NKERNELS)], kernels[pick(NKERNELS)], 1 + pick(NSTRIDES),
                         1 + pick(NSTRIDES), pick(NPADS), 1 + pick(2), 1 + pick(2), false);
    n.pool = make_window(kernels[pick(3)], kernels[pick(3)], 1 + pick(2), 1 + pick(2), pick(NPADS),
                         1, 1, true);
    checked += gradients_match(&n);
  }
  fprintf(stderr, "chains: %d checked\n", checked);
  assert_true(checked >= 20);
}

/* --- 2. and 3. the compiled training step --- */

/* One net as a training program, compiled and JIT-ed: images X [N, C, H, W] (the input) plus a
 * trained P [C, H, W], so that the step also computes the adjoint of the images (fold, the
 * pools' adjoints); loss Σ (y ⊙ T) with T the target; plain SGD. */
typedef struct {
  Arena arena;
  Diag diag;
  Graph g;
  TrainSettings train;
  Program p;
  Jit *j;
  const NnrtModel *model;
  size_t floats; /* the workspace, with slack after the plan */
} Compiled;

/* floats: the vector width the kernels are tiled for (0: the host's). */
static void compiled_open(Compiled *c, const Net *net, int64_t batch, int floats) {
  arena_init(&c->arena);
  diag_init(&c->diag, NULL, stderr);
  graph_init(&c->g, &c->arena, &c->diag);
  Graph *g = &c->g;
  Shape stored = stored_images(net, DIM_BATCH), one = stored;
  one.rank = 3;
  memmove(one.dim, one.dim + 1, 3 * sizeof *one.dim);
  g->input = g_leaf(g, OP_INPUT, "X", stored, NODE_INPUT);
  Node *images = images_of(g, net, g_add(g, g->input, g_param(g, "P", one)));
  g->output = build_net(g, net, images);
  if (!g->output)
    fail_msg("%s does not fit", describe(net));
  g->target = g_leaf(g, OP_INPUT, "T", g->output->shape, NODE_INPUT);
  g->loss = g_sum(g, g_mul(g, g->output, g->target), (1u << g->output->shape.rank) - 1);
  lay_out(g, net);
  assert_true(grad_build(g));
  OptimizerSettings sgd = optimizer_with_defaults(OPT_SGD);
  optim_build(g, &sgd);
  assert_true(graph_verify(g, stderr));
  c->train = (TrainSettings){.present = true, .batch = batch, .opt = sgd};
  program_plan(&c->p, g, "net", 0, &c->train, "net.nn");
  c->p.vector_floats = floats;
  assert_true(c->p.can_train);
  c->floats = (size_t)c->p.plan.total + 16;
  char err[1024];
  c->j = jit_new(err, sizeof err);
  assert_non_null(c->j);
  if (!jit_add(c->j, codegen_module(&c->p, jit_context(c->j), false), 2, err, sizeof err))
    fail_msg("jit: %s", err);
  c->model = jit_lookup(c->j, "nn_model");
  assert_non_null(c->model);
}

static void compiled_close(Compiled *c) {
  jit_free(c->j);
  arena_free(&c->arena);
}

/* A fresh workspace with random leaves for `rows` images, the same values (as floats) in the
 * interpreter, which has then run the graph. The rest of the workspace holds a sentinel, so a
 * kernel that read a value nothing wrote would show. */
static float *random_workspace(Compiled *c, Interp *it, int64_t rows) {
  const Graph *g = &c->g;
  interp_init(it, &c->arena, g, rows);
  float *ws = malloc(sizeof(float) * c->floats);
  for (size_t i = 0; i < c->floats; i++)
    ws[i] = 12345.0f;
  for (uint32_t i = 0; i < g->n; i++) {
    const Node *n = g->node[i];
    if (n->op != OP_INPUT && n->op != OP_PARAM)
      continue;
    bool lr = n == g->lr;
    for (int64_t k = 0; k < shape_numel(&n->shape, rows); k++) {
      float v = (float)(lr ? uniform(0.1, 1) : uniform(-1, 1));
      interp_value(it, n)[k] = v;
      ws[c->p.plan.offset[n->id] + k] = v;
    }
  }
  interp_run(it);
  return ws;
}

/* The largest magnitude among n's elements and its sources'. */
static double magnitude(Interp *it, const Node *n, int64_t rows) {
  double m = 0;
  for (int s = -1; s < n->nsrc; s++) {
    const Node *x = s < 0 ? n : n->src[s];
    for (int64_t k = 0; k < shape_numel(&x->shape, rows); k++)
      m = fmax(m, fabs(interp_value(it, x)[k]));
  }
  return m;
}

/* Float against double: an element is a sum of at most a few thousand products of values of
 * the size of its node's and sources' largest, so float rounding stays within 1e-5 of that
 * size (sums that cancel, like the loss, can lose all their relative precision); an indexing
 * mistake is off by the size of the values. */
static void assert_node_matches(Interp *it, const float *ws, int64_t offset, const Node *n,
                                int64_t rows, const Net *net) {
  const double *want = interp_value(it, n);
  double tolerance = 1e-5 * magnitude(it, n, rows) + 1e-7;
  for (int64_t k = 0; k < shape_numel(&n->shape, rows); k++)
    if (!(fabs(want[k] - (double)ws[offset + k]) <= tolerance))
      fail_msg("%s, %lld rows: %s %%%u element %lld: interpreter %.9g, compiled %.9g",
               describe(net), (long long)rows, node_op_name(n), n->id, (long long)k, want[k],
               (double)ws[offset + k]);
}

/* Nothing but the kernels' results for `rows` rows and the matrix products' scratch changed
 * between before and after: no kernel writes past its region or its rows. */
static void assert_writes_stay_inside(const Compiled *c, const float *before, const float *after,
                                      int64_t rows) {
  bool *writes = calloc(c->floats, sizeof(bool));
  const MemPlan *plan = &c->p.plan;
  for (int k = 0; k < c->p.step.n; k++) {
    const Node *n = c->p.step.kernel[k].root;
    int64_t at = c->p.step.kernel[k].out, end = at + shape_numel(&n->shape, rows);
    for (int64_t e = at; e < end; e++)
      writes[e] = true;
    if (plan->scratch[n->id] >= 0)
      for (int64_t e = 0; e < shape_numel(&n->src[1]->shape, plan->max_batch); e++)
        writes[plan->scratch[n->id] + e] = true;
  }
  for (size_t e = 0; e < c->floats; e++)
    if (!writes[e] && memcmp(&before[e], &after[e], sizeof(float)))
      fail_msg("ws[%zu] changed, outside every kernel's result", e);
  free(writes);
}

/* step, then every kernel's result (forward values, gradients, updates) as interpreted and
 * nothing else written; evaluate's loss and output; predict's output. */
static void step_matches_interpreter(Compiled *c, const Net *net, int64_t rows) {
  Interp it;
  float *ws = random_workspace(c, &it, rows), *before = malloc(sizeof(float) * c->floats);
  memcpy(before, ws, sizeof(float) * c->floats);
  c->model->step(ws, rows);
  for (int k = 0; k < c->p.step.n; k++)
    assert_node_matches(&it, ws, c->p.step.kernel[k].out, c->p.step.kernel[k].root, rows, net);
  assert_writes_stay_inside(c, before, ws, rows);
  free(before);
  free(ws);
  ws = random_workspace(c, &it, rows);
  c->model->evaluate(ws, rows);
  assert_node_matches(&it, ws, c->model->loss_offset, c->g.loss, rows, net);
  assert_node_matches(&it, ws, c->model->output.offset, c->g.output, rows, net);
  free(ws);
  ws = random_workspace(c, &it, rows);
  c->model->predict(ws, rows);
  assert_node_matches(&it, ws, c->model->output.offset, c->g.output, rows, net);
  free(ws);
}

/* The nets the compiled checks run: every kind, with odd sizes, strides, uneven padding and
 * dilation (Window fields: kh, kw, sh, sw, pt, pl, pb, pr, dh, dw, last). */
static const Net compiled_nets[] = {
  {.kind = NET_CONV, .ch = 2, .h = 7, .w = 5, .filters = 4, .conv = {3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 0}},
  {.kind = NET_CONV, .ch = 3, .h = 17, .w = 9, .filters = 2,
    .conv = {5, 2, 3, 2, 2, 0, 1, 1, 1, 1, 0}},
  {.kind = NET_CONV, .ch = 1, .h = 11, .w = 13, .filters = 3,
    .conv = {3, 2, 2, 3, 1, 0, 2, 1, 2, 1, 0}},
  {.kind = NET_CONV, .ch = 2, .h = 5, .w = 7, .filters = 1, .conv = {2, 3, 1, 2, 4, 1, 0, 3, 2, 2, 0}},
  {.kind = NET_CONV, .ch = 3, .h = 1, .w = 3, .filters = 2, .conv = {1, 2, 1, 1, 0, 1, 0, 0, 1, 1, 0}},
  /* OH = OW = F: the permutation after the bias keeps the shape of what it permutes */
  {.kind = NET_CONV, .ch = 2, .h = 3, .w = 3, .filters = 3, .conv = {3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 0}},
  /* filters and patch columns that fill vectors and tiles of the matrix kernel unevenly */
  {.kind = NET_CONV, .ch = 5, .h = 9, .w = 11, .filters = 17,
    .conv = {3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 0}},
  {.kind = NET_CONV, .ch = 7, .h = 6, .w = 7, .filters = 33,
    .conv = {5, 3, 2, 1, 2, 1, 2, 1, 1, 1, 0}},
  /* 1 × 1 windows, stride 1 and 2, more channels than a vector (unfold: one tap a channel, a
   * scalar channel loop with no window in the padding); a lopsided padding whose interior is
   * empty on one axis (every window reaches into the padding) */
  {.kind = NET_CONV, .ch = 17, .h = 5, .w = 7, .filters = 3, .conv = {1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 0}},
  {.kind = NET_CONV, .ch = 9, .h = 7, .w = 6, .filters = 2, .conv = {1, 1, 2, 2, 0, 0, 0, 0, 1, 1, 0}},
  {.kind = NET_CONV, .ch = 2, .h = 2, .w = 9, .filters = 2, .conv = {3, 3, 1, 1, 1, 0, 1, 2, 1, 1, 0}},
  {.kind = NET_MAXPOOL, .ch = 3, .h = 7, .w = 9, .pool = {2, 2, 2, 2, 0, 0, 0, 0, 1, 1, 0}},
  {.kind = NET_MAXPOOL, .ch = 2, .h = 17, .w = 5, .pool = {3, 2, 2, 1, 2, 1, 1, 0, 1, 1, 0}},
  {.kind = NET_MAXPOOL, .ch = 1, .h = 5, .w = 5, .pool = {5, 3, 3, 2, 4, 0, 2, 2, 1, 1, 0}},
  /* tiled pools one or two pixels wide, rows of 4 or more windows: codegen_window.c's vector
   * rows, with a masked last chunk (14 = 8 + 6, 9 = 8 + 1), a width the windows do not cover
   * (17: the adjoint falls back to the scalar kernel) and taller windows */
  {.kind = NET_MAXPOOL, .ch = 2, .h = 6, .w = 28, .pool = {2, 2, 2, 2, 0, 0, 0, 0, 1, 1, 0}},
  {.kind = NET_MAXPOOL, .ch = 1, .h = 9, .w = 17, .pool = {3, 2, 3, 2, 0, 0, 0, 0, 1, 1, 0}},
  {.kind = NET_MAXPOOL, .ch = 2, .h = 4, .w = 9, .pool = {2, 1, 2, 1, 0, 0, 0, 0, 1, 1, 0}},
  {.kind = NET_CONV_DENSE, .ch = 2, .h = 8, .w = 16, .filters = 3,
    .conv = {3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 0}, .pool = {2, 2, 2, 2, 0, 0, 0, 0, 1, 1, 0}},
  {.kind = NET_AVGPOOL, .ch = 3, .h = 7, .w = 9, .pool = {3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 0}},
  {.kind = NET_AVGPOOL, .ch = 2, .h = 17, .w = 3, .pool = {2, 3, 3, 2, 1, 2, 0, 1, 1, 1, 0}},
  {.kind = NET_CONV_DENSE, .ch = 3, .h = 9, .w = 7, .filters = 4,
    .conv = {3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 0}, .pool = {2, 2, 2, 2, 0, 0, 0, 0, 1, 1, 0}},
  {.kind = NET_CONV_DENSE, .ch = 1, .h = 17, .w = 17, .filters = 2,
    .conv = {5, 5, 2, 2, 2, 2, 2, 2, 1, 1, 0}, .pool = {3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 0}},
  {.kind = NET_CONV_CONV, .ch = 2, .h = 8, .w = 6, .filters = 3,
    .conv = {3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 0}, .pool = {2, 2, 2, 2, 0, 0, 0, 0, 1, 1, 0}},
  {.kind = NET_CONV_CONV, .ch = 3, .h = 13, .w = 11, .filters = 4,
    .conv = {2, 3, 2, 1, 0, 1, 1, 1, 2, 1, 0}, .pool = {3, 2, 2, 2, 1, 1, 0, 1, 1, 1, 0}},
  {.kind = NET_FOLD, .ch = 2, .h = 7, .w = 6, .conv = {3, 2, 2, 1, 1, 0, 2, 1, 1, 2, 0}},
  /* fold at stride 1 (pixel by pixel): dilated and lopsided; padding wider than the window
   * (windows and pixels that have no tap inside) */
  {.kind = NET_FOLD, .ch = 3, .h = 8, .w = 5, .conv = {3, 2, 1, 1, 1, 0, 2, 1, 2, 1, 0}},
  {.kind = NET_FOLD, .ch = 2, .h = 5, .w = 6, .conv = {2, 3, 1, 1, 4, 1, 0, 3, 2, 1, 0}},
  {.kind = NET_SPREAD, .ch = 3, .h = 9, .w = 5, .pool = {3, 2, 2, 1, 2, 1, 1, 0, 1, 1, 0}},
  /* channels last (codegen_window_last.c): unfold with stride, uneven padding, dilation, a
   * padding wider than the window, and channels that take a loop of vectors and a masked rest
   * (70 = 4 · 16 + 6 = 8 · 8 + 6); max pools whose windows cover the image, do not (its
   * adjoint adds into a zeroed image), overlap, reach into the padding, or have more taps than
   * are unrolled (the general loops, in this layout); and the chains layout.c moves whole */
  {.kind = NET_CONV, .ch = 2, .h = 7, .w = 5, .filters = 4, .conv = {3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 0},
   .last = true},
  {.kind = NET_CONV, .ch = 3, .h = 17, .w = 9, .filters = 2, .conv = {5, 2, 3, 2, 2, 0, 1, 1, 1, 1, 0},
   .last = true},
  {.kind = NET_CONV, .ch = 5, .h = 11, .w = 13, .filters = 3,
   .conv = {3, 2, 2, 3, 1, 0, 2, 1, 2, 1, 0}, .last = true},
  {.kind = NET_CONV, .ch = 70, .h = 5, .w = 4, .filters = 3, .conv = {3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 0},
   .last = true},
  {.kind = NET_CONV, .ch = 2, .h = 5, .w = 6, .filters = 2, .conv = {2, 3, 1, 1, 4, 1, 0, 3, 2, 1, 0},
   .last = true},
  {.kind = NET_MAXPOOL, .ch = 3, .h = 7, .w = 9, .pool = {2, 2, 2, 2, 0, 0, 0, 0, 1, 1, 0}, .last = true},
  {.kind = NET_MAXPOOL, .ch = 17, .h = 8, .w = 6, .pool = {2, 2, 2, 2, 0, 0, 0, 0, 1, 1, 0}, .last = true},
  {.kind = NET_MAXPOOL, .ch = 2, .h = 17, .w = 5, .pool = {3, 2, 2, 1, 2, 1, 1, 0, 1, 1, 0}, .last = true},
  {.kind = NET_MAXPOOL, .ch = 1, .h = 5, .w = 5, .pool = {5, 3, 3, 2, 4, 0, 2, 2, 1, 1, 0}, .last = true},
  {.kind = NET_MAXPOOL, .ch = 3, .h = 12, .w = 10, .pool = {9, 8, 1, 2, 0, 0, 0, 0, 1, 1, 0}, .last = true},
  {.kind = NET_CONV_DENSE, .ch = 3, .h = 9, .w = 7, .filters = 4,
   .conv = {3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 0}, .pool = {2, 2, 2, 2, 0, 0, 0, 0, 1, 1, 0}, .last = true},
  {.kind = NET_CONV_POOL_CONV, .ch = 2, .h = 8, .w = 6, .filters = 3,
   .conv = {3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 0}, .pool = {2, 2, 2, 2, 0, 0, 0, 0, 1, 1, 0}, .last = true},
  {.kind = NET_CONV_POOL_CONV, .ch = 1, .h = 9, .w = 9, .filters = 17,
   .conv = {3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 0}, .pool = {3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 0}, .last = true},
  /* channels last with C a multiple of 32: the patches are never materialized, the product
   * and its weight gradient read them from the image (codegen_matmul_through.c, mm_read_patches): "same",
   * stride with uneven padding and dilation, padding wider than the window, a pool between */
  {.kind = NET_CONV, .ch = 32, .h = 5, .w = 4, .filters = 3, .conv = {3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 0},
   .last = true},
  {.kind = NET_CONV, .ch = 64, .h = 7, .w = 6, .filters = 2, .conv = {2, 3, 2, 1, 1, 0, 2, 1, 2, 1, 0},
   .last = true},
  {.kind = NET_CONV, .ch = 32, .h = 3, .w = 5, .filters = 5, .conv = {2, 2, 1, 1, 3, 1, 0, 2, 1, 1, 0},
   .last = true},
  {.kind = NET_CONV_POOL_CONV, .ch = 1, .h = 8, .w = 6, .filters = 32,
   .conv = {3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 0}, .pool = {2, 2, 2, 2, 0, 0, 0, 0, 1, 1, 0}, .last = true},
  /* a convolution's input gradient computed by fold from δ read through the window
   * (emit_fold_product): strides, dilations, uneven and wide padding, channels that fill no
   * vector (5) or a multiple of 32 */
  {.kind = NET_CONV_RELU_CONV, .ch = 1, .h = 7, .w = 8, .filters = 32,
   .conv = {3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 0}, .last = true},
  {.kind = NET_CONV_RELU_CONV, .ch = 2, .h = 9, .w = 7, .filters = 32,
   .conv = {2, 3, 2, 1, 1, 0, 2, 1, 2, 1, 0}, .last = true},
  {.kind = NET_CONV_RELU_CONV, .ch = 1, .h = 8, .w = 9, .filters = 5,
   .conv = {3, 2, 3, 2, 2, 1, 0, 3, 2, 1, 0}, .last = true},
  {.kind = NET_CONV_RELU_CONV, .ch = 1, .h = 4, .w = 5, .filters = 64,
   .conv = {2, 2, 1, 1, 3, 1, 0, 2, 1, 1, 0}, .last = true},
};
enum { NCOMPILED = sizeof compiled_nets / sizeof *compiled_nets };

/* Each net compiled once, for batches of 3, on first use; both compiled checks share them. */
enum { BATCH = 3 };
static Compiled compiled[NCOMPILED];

static Compiled *compiled_net(int i) {
  if (!compiled[i].model)
    compiled_open(&compiled[i], &compiled_nets[i], BATCH, 0);
  return &compiled[i];
}

static int close_compiled_nets(void **state) {
  (void)state;
  for (int i = 0; i < NCOMPILED; i++)
    if (compiled[i].model)
      compiled_close(&compiled[i]);
  return 0;
}

/* A full batch of 3, and the partial ones of 2 and 1 (N is a run-time value). */
static void compiled_step_matches_interpreter(void **state) {
  (void)state;
  int runs = 0;
  for (int i = 0; i < NCOMPILED; i++)
    for (int64_t rows = BATCH; rows >= 1; rows--, runs++)
      step_matches_interpreter(compiled_net(i), &compiled_nets[i], rows);
  fprintf(stderr, "compiled: %d nets, %d runs\n", NCOMPILED, runs);
}

/* Channels-last patches of a multiple of 32 channels get no kernel of their own in any entry
 * point: the convolution and its weight gradient read them from the image. The input gradient
 * of every channels-last convolution is computed by fold, from δ, without its product. */
static void wide_patches_are_read_from_the_image(void **state) {
  (void)state;
  int read = 0, folded = 0;
  for (int i = 0; i < NCOMPILED; i++) {
    Compiled *c = compiled_net(i);
    const Schedule *entries[] = {&c->p.step, &c->p.evaluate, &c->p.predict};
    for (int e = 0; e < 3; e++)
      for (int k = 0; k < entries[e]->n; k++) {
        const Node *n = entries[e]->kernel[k].root;
        if (n->op == OP_UNFOLD && window_of(n->arg.p).last)
          assert_true(n->src[0]->shape.dim[3] % 32 != 0);
        if (n->op == OP_FOLD && window_of(n->arg.p).last) {
          assert_false(entries[e]->materialized[n->src[0]->id]);
          folded++;
        }
      }
    for (uint32_t n = 0; n < c->g.n; n++) {
      const Node *u = c->g.node[n];
      read += u->op == OP_UNFOLD && window_of(u->arg.p).last && u->src[0]->shape.dim[3] % 32 == 0;
    }
  }
  assert_int_equal(read, 7);
  assert_int_equal(folded, 18);
}

/* The products that read through a window (the channels-last nets with 32 or 64 channels, and
 * the convolutions after a ReLU) compiled for the other vector widths nnc tiles for (4 and 8
 * floats: their column blocks of 8 and 16 channels), against the interpreter. */
static void window_products_are_right_for_every_vector_width(void **state) {
  (void)state;
  int runs = 0;
  for (int i = 0; i < NCOMPILED; i++) {
    const Net *n = &compiled_nets[i];
    bool wide = n->ch % 32 == 0 || (n->filters > 0 && n->filters % 32 == 0);
    if (!n->last || (n->kind != NET_CONV_RELU_CONV && !wide))
      continue;
    for (int floats = 4; floats <= 8; floats *= 2) {
      Compiled c;
      compiled_open(&c, n, BATCH, floats);
      for (int64_t rows = BATCH; rows >= 1; rows--, runs++)
        step_matches_interpreter(&c, n, rows);
      compiled_close(&c);
    }
  }
  assert_int_equal(runs, 8 * 2 * BATCH);
}

/* The step's kernels, each run in parts 0..P-1 one after the other (as P threads would between
 * two barriers), first to last and last to first, leave the workspace bit-identical to the
 * serial step: no part reads what another part of the same kernel writes, and no element's sum
 * depends on the part that computes it. */
static void parts_equal_serial_step(Compiled *c, int64_t rows) {
  Interp it;
  float *start = random_workspace(c, &it, rows);
  float *serial = malloc(sizeof(float) * c->floats), *split = malloc(sizeof(float) * c->floats);
  memcpy(serial, start, sizeof(float) * c->floats);
  c->model->step(serial, rows);
  const NnrtModel *m = c->model;
  assert_int_equal(m->n_step_kernels, sched_groups(&c->p.step));
  static const int part_counts[] = {1, 2, 3, 5};
  for (int pc = 0; pc < 4; pc++)
    for (int reverse = 0; reverse < 2; reverse++) {
      int parts = part_counts[pc];
      memcpy(split, start, sizeof(float) * c->floats);
      for (int k = 0; k < m->n_step_kernels; k++)
        for (int i = 0; i < parts; i++)
          m->step_kernels[k](split, rows, reverse ? parts - 1 - i : i, parts);
      assert_memory_equal(serial, split, sizeof(float) * c->floats);
    }
  free(start);
  free(serial);
  free(split);
}

static void step_kernels_in_parts_equal_the_serial_step(void **state) {
  (void)state;
  int runs = 0;
  for (int i = 0; i < NCOMPILED; i++)
    for (int64_t rows = BATCH; rows >= 1; rows--, runs++)
      parts_equal_serial_step(compiled_net(i), rows);
  fprintf(stderr, "parts: %d nets, %d runs of 8 part schedules\n", NCOMPILED, runs);
}

/* --- 4. what the shape rules refuse --- */

typedef Node *WindowBuilder(Graph *g, Node *x, const Window *w);

/* Window fields: kh, kw, sh, sw, pt, pl, pb, pr, dh, dw, last. */
static const struct {
  WindowBuilder *build;
  Shape x;
  Window w;
  const char *reason;
} bad_windows[] = {
  {g_unfold, {4, {DIM_BATCH, 3, 5, 5}}, {3, 3, 0, 1, 0, 0, 0, 0, 1, 1, 0},
   "a stride is at least 1, got 0×1"},
  {g_maxpool, {4, {DIM_BATCH, 3, 5, 5}}, {2, 2, 2, 0, 0, 0, 0, 0, 1, 1, 0},
   "a stride is at least 1, got 2×0"},
  {g_unfold, {4, {DIM_BATCH, 3, 5, 5}}, {0, 3, 1, 1, 0, 0, 0, 0, 1, 1, 0},
   "a window is at least 1×1, got 0×3"},
  {g_unfold, {4, {DIM_BATCH, 3, 5, 5}}, {3, 3, 1, 1, 0, 0, 0, 0, 1, 0, 0},
   "a dilation is at least 1, got 1×0"},
  {g_unfold, {4, {DIM_BATCH, 3, 5, 5}}, {3, 3, 1, 1, 0, -1, 0, 0, 1, 1, 0}, "padding is not negative"},
  {g_unfold, {4, {DIM_BATCH, 2, 3, 3}}, {5, 5, 1, 1, 0, 0, 0, 0, 1, 1, 0},
   "the window 5×5 is larger than the padded input 3×3"},
  {g_unfold, {4, {2, 2, 3, 4}}, {2, 3, 1, 1, 0, 0, 1, 0, 1, 2, 0},
   "the window 2×3 (dilated) is larger than the padded input 4×4"},
  {g_avgpool, {4, {DIM_BATCH, 1, 1, 7}}, {3, 1, 1, 1, 1, 0, 0, 0, 1, 1, 0},
   "the window 3×1 is larger than the padded input 2×7"},
  {g_maxpool, {4, {DIM_BATCH, 3, 5, 5}}, {2, 2, 2, 2, 2, 0, 0, 0, 1, 1, 0},
   "a pooling window's padding is smaller than the window (2×2)"},
  {g_avgpool, {4, {DIM_BATCH, 3, 5, 5}}, {3, 1, 1, 1, 0, 0, 0, 1, 1, 1, 0},
   "a pooling window's padding is smaller than the window (3×1)"},
  {g_maxpool, {4, {DIM_BATCH, 3, 5, 5}}, {2, 2, 1, 1, 0, 0, 0, 0, 2, 1, 0},
   "a pooling window is not dilated"},
  {g_unfold, {3, {DIM_BATCH, 5, 5}}, {3, 3, 1, 1, 0, 0, 0, 0, 1, 1, 0},
   "needs images [C, H, W] with the batch axis in front, got [N, 5, 5]"},
  {g_maxpool, {2, {5, 5}}, {2, 2, 1, 1, 0, 0, 0, 0, 1, 1, 0},
   "needs images [C, H, W] with the batch axis in front, got [5, 5]"},
};

/* Each bad window gives NULL and one error line saying why. */
static void bad_windows_are_refused_with_a_reason(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof bad_windows / sizeof *bad_windows; i++) {
    Fixture f;
    fixture_init(&f);
    Node *x = g_leaf(&f.g, OP_INPUT, "x", bad_windows[i].x, NODE_INPUT);
    assert_null(bad_windows[i].build(&f.g, x, &bad_windows[i].w));
    assert_one_error(&f, bad_windows[i].reason);
    fixture_free(&f);
  }
}

/* A reshape keeps the element count and the batch axis; an adjoint's shape must be what its
 * window gives. */
static void bad_reshapes_and_adjoints_are_refused_with_a_reason(void **state) {
  (void)state;
  Fixture f;
  fixture_init(&f);
  Node *x = g_leaf(&f.g, OP_INPUT, "x", (Shape){3, {DIM_BATCH, 3, 4}}, NODE_INPUT);
  assert_null(g_reshape(&f.g, x, (Shape){2, {DIM_BATCH, 5}}));
  assert_one_error(&f, "cannot reshape [N, 3, 4] (12 elements per row) to [N, 5] (5)");
  fixture_free(&f);

  fixture_init(&f);
  x = g_leaf(&f.g, OP_INPUT, "x", (Shape){3, {DIM_BATCH, 3, 4}}, NODE_INPUT);
  assert_null(g_reshape(&f.g, x, (Shape){2, {3, 4}}));
  assert_one_error(&f, "cannot reshape [N, 3, 4] to [3, 4]: the batch axis N stays the first axis");
  fixture_free(&f);

  fixture_init(&f);
  Shape image = {4, {DIM_BATCH, 3, 5, 5}};
  OpArg arg = {0};
  window_params(&same3, arg.p);
  Node *patches = g_leaf(&f.g, OP_INPUT, "p", (Shape){4, {DIM_BATCH, 5, 5, 9}}, NODE_INPUT);
  assert_null(g_op(&f.g, OP_FOLD, &patches, arg, &image));
  assert_one_error(&f, "[N, 5, 5, 9] is not what the window gives on [N, 3, 5, 5]");
  fixture_free(&f);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(convolution_gradients_match_finite_differences),
    cmocka_unit_test(pool_gradients_match_finite_differences),
    cmocka_unit_test(layer_chain_gradients_match_finite_differences),
    cmocka_unit_test(compiled_step_matches_interpreter),
    cmocka_unit_test(step_kernels_in_parts_equal_the_serial_step),
    cmocka_unit_test(wide_patches_are_read_from_the_image),
    cmocka_unit_test(window_products_are_right_for_every_vector_width),
    cmocka_unit_test(bad_windows_are_refused_with_a_reason),
    cmocka_unit_test(bad_reshapes_and_adjoints_are_refused_with_a_reason),
  };
  return cmocka_run_group_tests(tests, NULL, close_compiled_nets);
}

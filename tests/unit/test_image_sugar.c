/* The image layers of lower_image.c (conv2d, conv, max_pool, avg_pool, global_avg_pool, flatten,
 * reshape), built from source text: their output shapes, parameters (names, shapes, initial
 * scale), the windows "same" and "valid" give (TensorFlow's rule, checked against its formula
 * here), values through the reference interpreter against hand-computed numbers and a direct
 * seven-loop convolution, and gradients against finite differences. Their diagnostics are the
 * goldens tests/golden/diag/lower_{conv,reshape,dense_images,string_options}*.nn. */
#include "test.h"

#include <math.h>

#include "sugar_fixture.h"

static void assert_shape4(const Graph *g, const char *name, int rank, int64_t d0, int64_t d1,
                          int64_t d2, int64_t d3) {
  const Node *n = named(g, name);
  char sh[64], sw[64];
  Shape want = {(uint8_t)rank, {d0, d1, d2, d3}};
  if (!shape_eq(&n->shape, &want))
    fail_msg("%s has shape %s, not %s", name, shape_str(&n->shape, sh, sizeof sh),
             shape_str(&want, sw, sizeof sw));
}

/* The one node of op `op` in the graph. */
static const Node *only_op(const Graph *g, Op op) {
  const Node *found = NULL;
  for (uint32_t i = 0; i < g->n; i++)
    if (g->node[i]->op == op) {
      if (found)
        fail_msg("more than one %s", op_info[op].name);
      found = g->node[i];
    }
  if (!found)
    fail_msg("no %s", op_info[op].name);
  return found;
}

/* --- shapes and parameters --- */

static const char CNN[] =
  "model cnn {\n input x[1, 28, 28]\n target y : class(10)\n"
  " c1 = conv2d(x, 32, 3, act = relu)\n p1 = max_pool(c1, 2)\n"
  " c2 = conv2d(p1, 64, 3, act = relu)\n p2 = max_pool(c2, 2)\n f = flatten(p2)\n"
  " h = dense(f, 128, relu)\n logits = dense(h, 10)\n"
  " loss = cross_entropy(softmax(logits), y)\n output softmax(logits)\n}\n";

static void layer_shapes_and_parameters(void **state) {
  (void)state;
  Fixture f;
  front_ok(&f, CNN, 0);
  const Graph *g = &f.c.graph;
  assert_shape4(g, "c1", 4, DIM_BATCH, 32, 28, 28);
  assert_shape4(g, "p1", 4, DIM_BATCH, 32, 14, 14);
  assert_shape4(g, "c2", 4, DIM_BATCH, 64, 14, 14);
  assert_shape4(g, "p2", 4, DIM_BATCH, 64, 7, 7);
  assert_shape4(g, "f", 2, DIM_BATCH, 64 * 7 * 7, 0, 0);
  assert_shape4(g, "c1.W", 4, 32, 1, 3, 3);
  assert_shape4(g, "c1.b", 1, 32, 0, 0, 0);
  assert_shape4(g, "c2.W", 4, 64, 32, 3, 3);
  assert_shape4(g, "c2.b", 1, 64, 0, 0, 0);
  /* he_normal with PyTorch's fan of [F, C, kh, kw]: fan_in = C·kh·kw; the bias starts at 0 */
  const ParamSlot *s = slot_named(g, "c1.W");
  assert_int_equal(s->init.kind, INIT_NORMAL);
  assert_float_equal(s->init.a, 0, 0);
  assert_float_equal(s->init.b, sqrt(2.0 / 9), 1e-15);
  assert_float_equal(slot_named(g, "c2.W")->init.b, sqrt(2.0 / (32 * 9)), 1e-15);
  assert_int_equal(slot_named(g, "c1.b")->init.kind, INIT_ZEROS);
  assert_int_equal(g->nparams, 8);
  fixture_free(&f);

  front_ok(&f, "model m {\n input x[3, 9, 8]\n"
           " a = conv2d(x, 4, [3, 2], bias = false, init = glorot_uniform)\n"
           " b = conv2d(a, 2, 1, init = zeros)\n g = global_avg_pool(b)\n"
           " r = reshape(x, [-1, 12])\n q = reshape(x, [9, -1, 2])\n"
           " v = avg_pool(x, 3)\n w = max_pool(x, [2, 4], stride = 1)\n"
           " output g + mean(r) + mean(q) + mean(v) + mean(w)\n}\n", 0);
  g = &f.c.graph;
  assert_shape4(g, "a", 4, DIM_BATCH, 4, 9, 8);
  assert_shape4(g, "a.W", 4, 4, 3, 3, 2);
  assert_null(slot_named(g, "a.b"));
  s = slot_named(g, "a.W"); /* fan_in 3·3·2, fan_out 4·3·2 */
  assert_int_equal(s->init.kind, INIT_UNIFORM);
  assert_float_equal(s->init.b, sqrt(6.0 / (18 + 24)), 1e-15);
  assert_int_equal(slot_named(g, "b.W")->init.kind, INIT_ZEROS);
  assert_shape4(g, "g", 2, DIM_BATCH, 2, 0, 0);
  assert_shape4(g, "r", 3, DIM_BATCH, 18, 12, 0);
  assert_shape4(g, "q", 4, DIM_BATCH, 9, 12, 2);
  assert_shape4(g, "v", 4, DIM_BATCH, 3, 3, 2); /* stride = size: ⌊(8 − 3) / 3⌋ + 1 */
  assert_shape4(g, "w", 4, DIM_BATCH, 3, 8, 5);
  fixture_free(&f);
}

/* --- the windows of "same", "valid" and explicit padding --- */

typedef struct {
  const char *args;   /* conv2d's arguments after x and the filters */
  int64_t h, w;       /* the input's height and width */
  Window want;        /* kernel, stride, padding top, left, bottom, right, dilation */
  int64_t oh, ow;     /* the output's height and width */
} WindowCase;

static const WindowCase window_cases[] = {
  /* "same": ⌈in / s⌉ out, the padding split evenly with the odd one after (TensorFlow) */
  {"3", 7, 7, {3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 0}, 7, 7},
  {"3, stride = 2", 7, 7, {3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 0}, 4, 4},
  {"2", 6, 5, {2, 2, 1, 1, 0, 0, 1, 1, 1, 1, 0}, 6, 5},                /* even kernel */
  {"4, stride = 2", 5, 6, {4, 4, 2, 2, 1, 1, 2, 1, 1, 1, 0}, 3, 3},    /* odd total after */
  {"3, stride = 3", 7, 9, {3, 3, 3, 3, 1, 0, 1, 0, 1, 1, 0}, 3, 3},
  {"1, stride = 2", 5, 5, {1, 1, 2, 2, 0, 0, 0, 0, 1, 1, 0}, 3, 3},
  {"3, dilation = 2", 5, 5, {3, 3, 1, 1, 2, 2, 2, 2, 2, 2, 0}, 5, 5},
  {"[3, 2], stride = [2, 1]", 6, 4, {3, 2, 2, 1, 0, 0, 1, 1, 1, 1, 0}, 3, 4},
  /* "valid" and explicit padding: ⌊(in + p0 + p1 − d·(k − 1) − 1) / s⌋ + 1 (PyTorch) */
  {"3, padding = \"valid\"", 7, 6, {3, 3, 1, 1, 0, 0, 0, 0, 1, 1, 0}, 5, 4},
  {"3, stride = 2, padding = \"valid\"", 7, 6, {3, 3, 2, 2, 0, 0, 0, 0, 1, 1, 0}, 3, 2},
  {"2, stride = 2, padding = \"valid\"", 5, 5, {2, 2, 2, 2, 0, 0, 0, 0, 1, 1, 0}, 2, 2},
  {"3, padding = [1, 2]", 5, 5, {3, 3, 1, 1, 1, 2, 1, 2, 1, 1, 0}, 5, 7},
  {"3, stride = 2, padding = 1, dilation = 2", 7, 7, {3, 3, 2, 2, 1, 1, 1, 1, 2, 2, 0}, 3, 3},
};

static void padding_arithmetic(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof window_cases / sizeof *window_cases; i++) {
    const WindowCase *wc = &window_cases[i];
    Fixture f;
    front_ok(&f, format("model m {\n input x[2, %lld, %lld]\n c = conv2d(x, 3, %s)\n output c\n}\n",
                        (long long)wc->h, (long long)wc->w, wc->args), 0);
    Window got = window_of(only_op(&f.c.graph, OP_UNFOLD)->arg.p);
    if (memcmp(&got, &wc->want, sizeof got))
      fail_msg("conv2d(x, 3, %s) on %lld×%lld: window k %d×%d s %d×%d pad t%d l%d b%d r%d d %d×%d",
               wc->args, (long long)wc->h, (long long)wc->w, got.kh, got.kw, got.sh, got.sw,
               got.pt, got.pl, got.pb, got.pr, got.dh, got.dw);
    assert_shape4(&f.c.graph, "c", 4, DIM_BATCH, 3, wc->oh, wc->ow);
    fixture_free(&f);
  }
  /* the pools: stride = size by default, "same" as for conv2d */
  Fixture f;
  front_ok(&f, "model m {\n input x[2, 5, 7]\n p = max_pool(x, 2, padding = \"same\")\n"
           " output p\n}\n", 0);
  Window got = window_of(only_op(&f.c.graph, OP_MAXPOOL)->arg.p);
  Window want = {2, 2, 2, 2, 0, 0, 1, 1, 1, 1, 0};
  assert_memory_equal(&got, &want, sizeof got);
  assert_shape4(&f.c.graph, "p", 4, DIM_BATCH, 2, 3, 4);
  fixture_free(&f);
}

/* --- values --- */

/* Compiles src, fills its leaves in [-1, 1], runs it on `batch` rows and returns the fixture
 * and interpreter for the caller to read (and free with fixture_free). */
static void run_filled(Fixture *f, Interp *it, const char *src, int64_t batch) {
  front_ok(f, src, 0);
  interp_init(it, &f->c.arena, &f->c.graph, batch);
  fill(f, it, -1, 1);
  interp_run(it);
}

static void assert_values(const char *what, const double *got, const double *want, int64_t n,
                          double tol) {
  for (int64_t i = 0; i < n; i++)
    if (!(fabs(got[i] - want[i]) <= tol))
      fail_msg("%s[%lld] = %.17g, want %.17g", what, (long long)i, got[i], want[i]);
}

/* A 2×2 kernel over 1..9 in 3×3, worked by hand. */
static void conv_by_hand(void **state) {
  (void)state;
  double x[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9}, out[4];
  run_model("model m {\n input x[1, 3, 3]\n output conv(x, [[[[1, 2], [3, 4]]]])\n}\n", x, 1,
            false, out, 4);
  const double want[4] = {37, 47, 67, 77};
  assert_values("conv", out, want, 4, 0);
  /* stride 2 and padding 1 over the same image: the corners of the padded 5×5 */
  run_model("model m {\n input x[1, 3, 3]\n"
            " output conv(x, [[[[1, 2], [3, 4]]]], stride = 2, padding = 1)\n}\n", x, 1, false,
            out, 4);
  const double want_padded[4] = {4, 3 * 2 + 4 * 3, 2 * 4 + 4 * 7, 5 + 2 * 6 + 3 * 8 + 4 * 9};
  assert_values("conv stride 2 padding 1", out, want_padded, 4, 0);
}

/* conv2d against the convolution written out, with the padding computed here by TensorFlow's
 * rule for "same": several channels and filters, odd sizes, strides, dilation, uneven kernels. */
static void conv2d_matches_direct_convolution(void **state) {
  (void)state;
  static const struct {
    int c, h, w, f, kh, kw, s, d;
    bool same;
  } cases[] = {
    {2, 5, 7, 3, 3, 3, 1, 1, true}, {3, 7, 6, 2, 3, 2, 2, 1, true}, {1, 6, 5, 4, 2, 2, 2, 1, true},
    {2, 7, 7, 2, 3, 3, 1, 2, true}, {2, 7, 5, 3, 3, 3, 2, 1, false}, {1, 5, 5, 2, 1, 1, 3, 1, true},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    int C = cases[i].c, H = cases[i].h, W = cases[i].w, F = cases[i].f, kh = cases[i].kh,
        kw = cases[i].kw, s = cases[i].s, d = cases[i].d;
    int pt = 0, pl = 0, oh, ow;
    if (cases[i].same) {
      oh = (H + s - 1) / s;
      ow = (W + s - 1) / s;
      pt = (int)fmax(0, (oh - 1) * s + d * (kh - 1) + 1 - H) / 2;
      pl = (int)fmax(0, (ow - 1) * s + d * (kw - 1) + 1 - W) / 2;
    } else {
      oh = (H - d * (kh - 1) - 1) / s + 1;
      ow = (W - d * (kw - 1) - 1) / s + 1;
    }
    Fixture f;
    Interp it;
    const int64_t batch = 2;
    run_filled(&f, &it, format("model m {\n input x[%d, %d, %d]\n"
                               " c = conv2d(x, %d, [%d, %d], stride = %d, dilation = %d, "
                               "padding = \"%s\")\n output c\n}\n", C, H, W, F, kh, kw, s, d,
                               cases[i].same ? "same" : "valid"), batch);
    const double *x = interp_value(&it, f.c.graph.input);
    const double *wt = interp_value(&it, named(&f.c.graph, "c.W"));
    const double *b = interp_value(&it, named(&f.c.graph, "c.b"));
    const double *y = interp_value(&it, f.c.graph.output);
    assert_int_equal(shape_numel(&f.c.graph.output->shape, batch), batch * F * oh * ow);
    for (int64_t n = 0; n < batch; n++)
      for (int o = 0; o < F; o++)
        for (int r = 0; r < oh; r++)
          for (int q = 0; q < ow; q++) {
            double want = b[o];
            for (int c = 0; c < C; c++)
              for (int u = 0; u < kh; u++)
                for (int v = 0; v < kw; v++) {
                  int yy = r * s + u * d - pt, xx = q * s + v * d - pl;
                  if (yy >= 0 && yy < H && xx >= 0 && xx < W)
                    want += x[((n * C + c) * H + yy) * W + xx] *
                            wt[((o * C + c) * kh + u) * kw + v];
                }
            double got = y[((n * F + o) * oh + r) * ow + q];
            if (!(fabs(got - want) <= 1e-12))
              fail_msg("case %zu: y[%lld, %d, %d, %d] = %.17g, want %.17g", i, (long long)n, o,
                       r, q, got, want);
          }
    fixture_free(&f);
  }
}

/* Explicit math: conv(x, W) + b with b [F, 1, 1] broadcasts over [N, F, OH, OW] and is conv2d
 * with the same weights. */
static void conv_plus_bias_is_conv2d(void **state) {
  (void)state;
  Fixture f;
  Interp it;
  run_filled(&f, &it, "model m {\n input x[2, 7, 6]\n param W[3, 2, 3, 3]\n param b[3, 1, 1]\n"
             " c = conv2d(x, 3, 3, stride = 2, padding = 1)\n"
             " e = conv(x, W, stride = 2, padding = 1) + b\n output c - e\n}\n", 3);
  const Graph *g = &f.c.graph;
  assert_shape4(g, "e", 4, DIM_BATCH, 3, 4, 3);
  interp_set(&it, named(g, "W"), interp_value(&it, named(g, "c.W")));
  interp_set(&it, named(g, "b"), interp_value(&it, named(g, "c.b")));
  for (int k = 0; k < 3; k++) /* a bias that is not 0, so its broadcast matters */
    interp_value(&it, named(g, "b"))[k] = interp_value(&it, named(g, "c.b"))[k] = k + 1;
  interp_run(&it);
  int64_t n = shape_numel(&named(g, "c")->shape, 3);
  assert_values("conv2d", interp_value(&it, named(g, "c")), interp_value(&it, named(g, "e")), n,
                1e-12);
  fixture_free(&f);
}

static void pool_values(void **state) {
  (void)state;
  double x[16], out[4];
  for (int i = 0; i < 16; i++)
    x[i] = i + 1;
  run_model("model m {\n input x[1, 4, 4]\n output max_pool(x, 2)\n}\n", x, 1, false, out, 4);
  const double want_max[4] = {6, 8, 14, 16};
  assert_values("max_pool", out, want_max, 4, 0);
  run_model("model m {\n input x[1, 4, 4]\n output avg_pool(x, 2)\n}\n", x, 1, false, out, 4);
  const double want_avg[4] = {3.5, 5.5, 11.5, 13.5};
  assert_values("avg_pool", out, want_avg, 4, 0);
  /* padding 1 over 1..9 in 3×3: the average counts the padding (PyTorch's default) ... */
  run_model("model m {\n input x[1, 3, 3]\n output avg_pool(x, 2, padding = 1)\n}\n", x, 1,
            false, out, 4);
  const double want_avg_padded[4] = {1 / 4.0, (2 + 3) / 4.0, (4 + 7) / 4.0, (5 + 6 + 8 + 9) / 4.0};
  assert_values("avg_pool padding 1", out, want_avg_padded, 4, 0);
  /* ... and the maximum ignores it, so negative values stay */
  for (int i = 0; i < 9; i++)
    x[i] = -(i + 1);
  run_model("model m {\n input x[1, 3, 3]\n output max_pool(x, 2, padding = 1)\n}\n", x, 1,
            false, out, 4);
  const double want_max_padded[4] = {-1, -2, -4, -5};
  assert_values("max_pool padding 1", out, want_max_padded, 4, 0);
  /* each channel's mean */
  for (int i = 0; i < 8; i++)
    x[i] = i;
  run_model("model m {\n input x[2, 2, 2]\n output global_avg_pool(x)\n}\n", x, 1, false, out, 2);
  const double want_gap[2] = {1.5, 5.5};
  assert_values("global_avg_pool", out, want_gap, 2, 0);
}

/* flatten and reshape keep each example's values in order: channel, row, column (PyTorch's
 * order), also after conv's move to channels first (a permutation the reshape must read). */
static void flatten_and_reshape_order(void **state) {
  (void)state;
  double x[16], out[16];
  for (int i = 0; i < 16; i++)
    x[i] = i;
  run_model("model m {\n input x[2, 2, 2]\n output flatten(x)\n}\n", x, 2, false, out, 16);
  assert_values("flatten", out, x, 16, 0);
  run_model("model m {\n input x[2, 2, 2]\n output reshape(x, [-1, 4])\n}\n", x, 2, false, out,
            16);
  assert_values("reshape", out, x, 16, 0);
  /* two 1×1 filters, ×1 and ×10: channel 0 is the image, channel 1 ten times it */
  run_model("model m {\n input x[1, 2, 2]\n output flatten(conv(x, [[[[1]]], [[[10]]]]))\n}\n",
            x, 2, false, out, 16);
  const double want[16] = {0, 1, 2, 3, 0, 10, 20, 30, 4, 5, 6, 7, 40, 50, 60, 70};
  assert_values("flatten(conv)", out, want, 16, 0);
}

/* --- gradients --- */

/* A train block (what makes the compiler derive gradients) with one row of zeros. */
static const char *train_block(int inputs, int targets) {
  static char buf[1024];
  int n = snprintf(buf, sizeof buf, "train m { data = table {");
  for (int i = 0; i < inputs + targets; i++)
    n += snprintf(buf + n, sizeof buf - (size_t)n, i == inputs ? " -> 0" : " 0");
  snprintf(buf + n, sizeof buf - (size_t)n, " } }\n");
  return buf;
}

/* The layers differentiate through what they expand to (the primitives' own rules are
 * test_grad's): every window form, both pools, flatten, reshape and a residual +. */
static void image_layers_match_finite_differences(void **state) {
  (void)state;
  check_gradients("cnn", format("model m {\n input x[2, 7, 6]\n target y[3]\n"
                  " c1 = conv2d(x, 3, 3, stride = 2, act = tanh)\n"
                  " c2 = conv2d(c1, 3, [2, 3], padding = \"same\", dilation = [1, 2], act = tanh)\n"
                  " r = c1 + c2\n p = avg_pool(r, 2, stride = 1, padding = 1)\n"
                  " m = max_pool(p, [2, 3], stride = [1, 2])\n"
                  " h1 = dense(flatten(m), 4, tanh)\n h2 = dense(global_avg_pool(r), 4)\n"
                  " h = h1 + h2\n"
                  " q = reshape(h, [2, -1])\n"
                  " o = dense(flatten(q), 3)\n loss = mse(o, y)\n output o\n}\n%s",
                  train_block(2 * 7 * 6, 3)), 0, -1, 1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(layer_shapes_and_parameters),
    cmocka_unit_test(padding_arithmetic),
    cmocka_unit_test(conv_by_hand),
    cmocka_unit_test(conv2d_matches_direct_convolution),
    cmocka_unit_test(conv_plus_bias_is_conv2d),
    cmocka_unit_test(pool_values),
    cmocka_unit_test(flatten_and_reshape_order),
    cmocka_unit_test(image_layers_match_finite_differences),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

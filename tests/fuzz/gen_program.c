/* gen_program: writes a random but valid nnc program, and the small data files it trains on,
 * from a seed (tests/fuzz/README.md). The same seed gives the same files on any machine.
 *
 *   gen_program SEED DIR    writes DIR/m.nn, its data files, DIR/predict.txt (input rows for
 *                           `predict -`), DIR/data_args (the files for `--data`, empty for a
 *                           table) and DIR/train_args (extra options for train); prints a
 *                           one-line summary of what the program uses
 *   gen_program --tables    checks that the generator knows every entry of the compiler's tables
 *                           (activations, losses, regularisers, initialisers, optimizers, data
 *                           sources and their arguments) and lists them; exit 1 when one is new
 *
 * Contract: every program it writes is meant to compile (exit 0), train, evaluate, predict,
 * resume and print its info without an error; a failure of any of these is a bug in nnc or in
 * this generator (gen_run.sh tells them apart only by a human looking). The activations, losses,
 * regularisers, initialisers, optimizers and data sources are taken from the compiler's own
 * tables (lower.h's accessors, optimizers.def, nnrt_sources.h), so a new entry is generated as
 * soon as it exists — or, when the generator must know something about it (how to feed a loss,
 * the range of an argument), --tables fails until it does. Models stay tiny (widths up to 8,
 * images up to 3×8×8, tens of rows) so each trains in well under a second. */
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include "lower.h"
#include "nnrt_sources.h"
#include "settings.h"

/* --- randomness: splitmix64, so a seed means the same program everywhere --- */

static uint64_t rng_state;

static uint64_t next_u64(void) {
  uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}
static int pick(int n) { return (int)(next_u64() % (uint64_t)n); }     /* 0 .. n-1 */
static int range(int lo, int hi) { return lo + pick(hi - lo + 1); }    /* lo .. hi */
static bool chance(int percent) { return pick(100) < percent; }
static double uniform(double lo, double hi) {
  return lo + (hi - lo) * (double)(next_u64() >> 11) / 9007199254740992.0;
}
#define PICK(array) ((array)[pick((int)(sizeof(array) / sizeof *(array)))])

/* --- text buffers --- */

typedef struct {
  char *s;
  size_t len, cap;
} Buf;

static void bprintf(Buf *b, const char *fmt, ...) {
  va_list ap;
  for (;;) {
    va_start(ap, fmt);
    int n = vsnprintf(b->s ? b->s + b->len : NULL, b->s ? b->cap - b->len : 0, fmt, ap);
    va_end(ap);
    if (b->s && (size_t)n < b->cap - b->len) {
      b->len += (size_t)n;
      return;
    }
    b->cap = (b->cap + (size_t)n + 1) * 2;
    if (!(b->s = realloc(b->s, b->cap))) {
      perror("gen_program");
      exit(2);
    }
    b->s[b->len] = '\0';
  }
}

/* A number as the source writes it: short, never in a form the lexer rejects. */
static const char *num(double v) {
  static char ring[8][32];
  static int next;
  char *s = ring[next++ % 8];
  snprintf(s, sizeof ring[0], "%.4g", v);
  return s;
}

/* --- the compiler's tables, and what the generator must know about their entries --- */

/* How a loss is fed: the target it takes and the prediction it compares. */
typedef enum {
  FEED_REAL, FEED_PROBS, FEED_LOGITS, FEED_CLASS_PROBS, FEED_CLASS_LOGITS, FEED_LOG_PROBS
} Feed;
static const struct {
  const char *name;
  Feed feed;
  const char *param; /* a positive number argument, by name */
} loss_feeds[] = {
  {"mse", FEED_REAL, NULL},
  {"mae", FEED_REAL, NULL},
  {"l1_loss", FEED_REAL, NULL},
  {"huber", FEED_REAL, "delta"},
  {"binary_cross_entropy", FEED_PROBS, NULL},
  {"binary_cross_entropy_with_logits", FEED_LOGITS, NULL},
  {"cross_entropy", FEED_CLASS_PROBS, NULL},
  {"cross_entropy_with_logits", FEED_CLASS_LOGITS, NULL},
  {"nll", FEED_LOG_PROBS, NULL},
};

/* Initialisers that take numbers, and how many; the rest of the table takes none. */
static const struct {
  const char *name;
  const char *args; /* printf format of its arguments */
} init_args[] = {
  {"constant", "(%s)"}, {"uniform", "(-%s, 0.3)"}, {"normal", "(0, %s)"},
};

/* The schedules of the train block (compiler/check/sema_train.c's sched_names, which is not
 * exported) and their arguments. */
static const char *const schedules[] = {"constant", "step", "exponential", "cosine"};

/* optimizers.def's rows: the name and the arguments each takes. */
#define ARG(field, value, label) #field
#define OPTIMIZER(KIND, name, display, states, args) {name, {NNC_UNPAREN args, NULL}},
static const struct {
  const char *name;
  const char *args[OPTIMIZER_MAX_ARGS + 1];
} optimizers[] = {
#include "optimizers.def"
};
#undef OPTIMIZER
#undef ARG
#define OPT_FIELD(name, type, range, off_at_zero) {#name, R_##range},
static const struct {
  const char *name;
  Range range;
} opt_fields[] = {
#include "optimizers.def"
};
#undef OPT_FIELD

/* nnrt_sources.h's rows: each source's name, files and arguments. */
#define SOURCE(KIND, name, files, check, loader, probe, args) {name, files, NNRT_SOURCE_ARGS(args)},
static const struct {
  const char *name;
  int files;
  const char *args[12];
} sources[] = {NNRT_DATA_SOURCES(SOURCE)};
#undef SOURCE
/* What the generator writes for each source's arguments. */
static const char *const known_sources[] = {"table", "csv", "idx"};
static const char *const known_source_args[] = {"header",      "delimiter", "features",
                                                "targets",     "classes",   "scale",
                                                "standardize", "positive"};

static int loss_feed(const char *name) {
  for (size_t i = 0; i < sizeof loss_feeds / sizeof *loss_feeds; i++)
    if (!strcmp(loss_feeds[i].name, name))
      return (int)i;
  return -1;
}

static bool known(const char *name, const char *const *names, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (!strcmp(names[i], name))
      return true;
  return false;
}

static Range opt_field_range(const char *name) {
  for (size_t i = 0; i < sizeof opt_fields / sizeof *opt_fields; i++)
    if (!strcmp(opt_fields[i].name, name))
      return opt_fields[i].range;
  return R_ANY;
}

/* --tables: every entry must be one the generator can write. */
static int check_tables(FILE *out) {
  int bad = 0;
  fprintf(out, "activations:");
  for (int i = 0; i < lower_activation_count(); i++)
    fprintf(out, " %s", lower_activation_name(i));
  fprintf(out, "\nlosses:");
  for (int i = 0; i < lower_loss_count(); i++) {
    fprintf(out, " %s", lower_loss_name(i));
    if (loss_feed(lower_loss_name(i)) < 0) {
      fprintf(stderr, "gen_program: loss '%s' is new: add how to feed it to loss_feeds\n",
              lower_loss_name(i));
      bad = 1;
    }
  }
  fprintf(out, "\nregularisers:");
  for (int i = 0; i < lower_regulariser_count(); i++)
    fprintf(out, " %s", lower_regulariser_name(i));
  fprintf(out, "\ninitialisers:");
  for (int i = 0; i < lower_initialiser_count(); i++)
    fprintf(out, " %s", lower_initialiser_name(i));
  fprintf(out, "\noptimizers:");
  for (size_t i = 0; i < sizeof optimizers / sizeof *optimizers; i++) {
    fprintf(out, " %s(", optimizers[i].name);
    for (const char *const *a = optimizers[i].args; *a; a++)
      fprintf(out, "%s%s", a == optimizers[i].args ? "" : ", ", *a);
    fprintf(out, ")");
  }
  fprintf(out, "\nschedules:");
  for (size_t i = 0; i < sizeof schedules / sizeof *schedules; i++)
    fprintf(out, " %s", schedules[i]);
  fprintf(out, "\nsources:");
  for (size_t i = 0; i < sizeof sources / sizeof *sources; i++) {
    fprintf(out, " %s", sources[i].name);
    if (!known(sources[i].name, known_sources, sizeof known_sources / sizeof *known_sources)) {
      fprintf(stderr, "gen_program: data source '%s' is new: teach write_source about it\n",
              sources[i].name);
      bad = 1;
    }
    for (const char *const *a = sources[i].args; *a; a++)
      if (!known(*a, known_source_args, sizeof known_source_args / sizeof *known_source_args)) {
        fprintf(stderr, "gen_program: argument '%s' of %s is new: teach write_source about it\n",
                *a, sources[i].name);
        bad = 1;
      }
  }
  fprintf(out, "\n");
  return bad;
}

/* --- values of the model being built --- */

typedef struct {
  char expr[256]; /* a name, or an expression not (yet) given one */
  bool image;     /* [N, c, h, w]; otherwise rows [N, k] with k in c */
  int c, h, w;
} Val;

/* v's expression from a format; the arguments may include v->expr itself */
static void set_expr(Val *v, const char *fmt, ...) {
  char e[sizeof v->expr];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(e, sizeof e, fmt, ap);
  va_end(ap);
  memcpy(v->expr, e, sizeof e);
}

static int width(const Val *v) { return v->image ? v->c * v->h * v->w : v->c; }
static bool same_shape(const Val *a, const Val *b) {
  return a->image == b->image && a->c == b->c && (!a->image || (a->h == b->h && a->w == b->w));
}
static bool is_name(const Val *v) { return !strpbrk(v->expr, "( +"); }

enum { MAX_NAMED = 64 };

typedef struct {
  Buf body;              /* the model's statements */
  Val named[MAX_NAMED];  /* named values, for residual connections */
  int nnamed;
  char params[MAX_NAMED][272]; /* weight matrices, for regularisers */
  int nparams;
  int nlet;              /* names given so far */
  bool batch_norm;       /* the training batch must then be more than one row */
  Buf used;              /* the summary */
} Prog;

/* Adds a word to the summary, once. The summary ends in a blank so that " word " matches. */
static void note(Prog *m, const char *what) {
  char word[80];
  snprintf(word, sizeof word, " %s ", what);
  if (!m->used.s)
    bprintf(&m->used, " ");
  if (!strstr(m->used.s, word))
    bprintf(&m->used, "%s ", what);
}

static const char *fresh_name(Prog *m, const char *stem) {
  static char s[64];
  m->nlet++;
  if (chance(10))
    snprintf(s, sizeof s, "blk%d.%s%d", m->nlet / 3, stem, m->nlet);
  else
    snprintf(s, sizeof s, "%s%d", stem, m->nlet);
  return s;
}

/* Names v (a line `name = expr`) unless it is a name already. */
static void name_it(Prog *m, Val *v, const char *stem) {
  if (is_name(v))
    return;
  const char *n = fresh_name(m, stem);
  bprintf(&m->body, "  %s = %s\n", n, v->expr);
  snprintf(v->expr, sizeof v->expr, "%s", n);
  if (m->nnamed < MAX_NAMED)
    m->named[m->nnamed++] = *v;
}

/* The result of an op that may stay unnamed, inside the next one's arguments. */
static void maybe_inline(Prog *m, Val *v, const char *stem) {
  if (strlen(v->expr) > 120 || chance(55))
    name_it(m, v, stem);
}

/* A named layer: always its own line. */
static void layer_line(Prog *m, Val *v, const char *stem, const char *fmt, ...) {
  char call[256];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(call, sizeof call, fmt, ap);
  va_end(ap);
  snprintf(v->expr, sizeof v->expr, "%s", call);
  const char *n = fresh_name(m, stem);
  bprintf(&m->body, "  %s = %s\n", n, v->expr);
  snprintf(v->expr, sizeof v->expr, "%s", n);
  if (m->nnamed < MAX_NAMED)
    m->named[m->nnamed++] = *v;
}

/* An activation from the compiler's table, as a layer's argument ("relu", "leaky_relu(alpha =
 * 0.2)") when as_arg, else its bare name or call prefix. */
static const char *activation(Prog *m, bool as_arg, bool probs_ok) {
  static char s[64];
  const char *name;
  do
    name = lower_activation_name(pick(lower_activation_count()));
  while (!probs_ok && (!strcmp(name, "softmax") || !strcmp(name, "log_softmax")));
  note(m, name);
  int i = 0;
  while (strcmp(lower_activation_name(i), name))
    i++;
  const char *param = lower_activation_param(i);
  if (as_arg && param && chance(50))
    snprintf(s, sizeof s, "%s(%s = %s)", name, param, num(uniform(0.05, 1.5)));
  else
    snprintf(s, sizeof s, "%s", name);
  return s;
}

/* ", init = he_normal" or "", an initialiser from the compiler's table. */
static const char *init_arg(Prog *m, const char *fmt) {
  static char s[96];
  const char *name = lower_initialiser_name(pick(lower_initialiser_count()));
  note(m, name);
  const char *args = "";
  for (size_t i = 0; i < sizeof init_args / sizeof *init_args; i++)
    if (!strcmp(init_args[i].name, name))
      args = init_args[i].args;
  char call[64], a[32];
  snprintf(a, sizeof a, args, num(uniform(0.01, 0.3)));
  snprintf(call, sizeof call, "%s%s", name, *args ? a : chance(20) ? "()" : "");
  snprintf(s, sizeof s, fmt, call);
  return s;
}

/* The optional arguments dense and conv2d share: no bias (now and then), an initialiser. */
static void bias_and_init(Prog *m, char *extra, size_t size, int no_bias_percent) {
  int e = chance(no_bias_percent) ? snprintf(extra, size, ", bias = false") : 0;
  if (chance(30))
    snprintf(extra + e, size - (size_t)e, "%s", init_arg(m, ", init = %s"));
}

/* --- windows of the image layers: PyTorch's and TensorFlow's output sizes --- */

static int out_len(int in, int k, int s, int p0, int p1, int d) {
  int span = d * (k - 1) + 1;
  return in + p0 + p1 < span ? 0 : (in + p0 + p1 - span) / s + 1;
}
static int same_len(int in, int s) { return (in + s - 1) / s; }

/* kernel, stride and dilation as an int or a pair [h, w] */
static void pair_text(char *out, size_t n, int a, int b) {
  if (a == b && chance(70))
    snprintf(out, n, "%d", a);
  else
    snprintf(out, n, "[%d, %d]", a, b);
}

static void conv_layer(Prog *m, Val *v) {
  int f = range(1, 4), kh = range(1, 3), kw = chance(70) ? kh : range(1, 3);
  int s = chance(70) ? 1 : 2, d = chance(85) ? 1 : 2;
  int oh, ow;
  char pad[32], extra[256] = "", kt[24], st[24], dt[24];
  int mode = pick(3); /* "same", "valid" or a number */
  int p = mode == 2 ? range(0, 1) : 0;
  oh = mode == 0 ? same_len(v->h, s) : out_len(v->h, kh, s, p, p, d);
  ow = mode == 0 ? same_len(v->w, s) : out_len(v->w, kw, s, p, p, d);
  if (oh < 1 || ow < 1) {
    mode = 0;
    oh = same_len(v->h, s);
    ow = same_len(v->w, s);
  }
  snprintf(pad, sizeof pad, mode == 0 ? "\"same\"" : mode == 1 ? "\"valid\"" : "%d", p);
  pair_text(kt, sizeof kt, kh, kw);
  pair_text(st, sizeof st, s, s);
  pair_text(dt, sizeof dt, d, d);
  size_t e = 0;
  if (s != 1 || chance(20))
    e += (size_t)snprintf(extra + e, sizeof extra - e, ", stride = %s", st);
  if (mode != 0 || chance(20))
    e += (size_t)snprintf(extra + e, sizeof extra - e, ", padding = %s", pad);
  if (d != 1)
    e += (size_t)snprintf(extra + e, sizeof extra - e, ", dilation = %s", dt);
  if (chance(60))
    e += (size_t)snprintf(extra + e, sizeof extra - e, ", act = %s", activation(m, true, false));
  bias_and_init(m, extra + e, sizeof extra - e, 20);
  note(m, "conv2d");
  char in[256];
  snprintf(in, sizeof in, "%s", v->expr);
  v->c = f;
  v->h = oh;
  v->w = ow;
  layer_line(m, v, "c", "conv2d(%s, %d, %s%s)", in, f, kt, extra);
}

/* conv(x, W) with a parameter of our own and a bias of shape [F, 1, 1] */
static void explicit_conv(Prog *m, Val *v) {
  int f = range(1, 3), k = range(1, 3), s = range(1, 2);
  int oh = out_len(v->h, k, s, 1, 1, 1), ow = out_len(v->w, k, s, 1, 1, 1);
  char w[64], b[64];
  snprintf(w, sizeof w, "%s", fresh_name(m, "K"));
  snprintf(b, sizeof b, "%s", fresh_name(m, "kb"));
  bprintf(&m->body, "  param %s[%d, %d, %d, %d]%s\n", w, f, v->c, k, k, init_arg(m, " = %s"));
  bprintf(&m->body, "  param %s[%d, 1, 1]\n", b, f);
  snprintf(m->params[m->nparams++ % MAX_NAMED], sizeof m->params[0], "%s", w);
  set_expr(v, "conv(%s, %s, stride = %d, padding = 1) + %s", v->expr, w, s, b);
  v->c = f;
  v->h = oh;
  v->w = ow;
  note(m, "conv");
  name_it(m, v, "cv");
}

static void pool(Prog *m, Val *v) {
  const char *op = chance(50) ? "max_pool" : "avg_pool";
  int k = range(1, 2), s = chance(60) ? k : range(1, 2), p = k > 1 && chance(30) ? 1 : 0;
  int oh = out_len(v->h, k, s, p, p, 1), ow = out_len(v->w, k, s, p, p, 1);
  if (oh < 1 || ow < 1)
    return;
  char stride[32] = "", padding[32] = "";
  if (s != k)
    snprintf(stride, sizeof stride, ", stride = %d", s);
  if (p)
    snprintf(padding, sizeof padding, ", padding = %d", p);
  set_expr(v, "%s(%s, %d%s%s)", op, v->expr, k, stride, padding);
  v->h = oh;
  v->w = ow;
  note(m, op);
  maybe_inline(m, v, "p");
}

static void dense_layer(Prog *m, Val *v, int units, const char *act) {
  char extra[160] = "";
  size_t e = 0;
  if (act)
    e += (size_t)snprintf(extra + e, sizeof extra - e, chance(50) ? ", %s" : ", activation = %s",
                          act);
  bias_and_init(m, extra + e, sizeof extra - e, 15);
  note(m, "dense");
  char in[256];
  snprintf(in, sizeof in, "%s", v->expr);
  v->c = units;
  layer_line(m, v, "h", "dense(%s, %d%s)", in, units, extra);
  snprintf(m->params[m->nparams++ % MAX_NAMED], sizeof m->params[0], "%s.W", v->expr);
}

/* x @ W + b, or x @ Wᵀ + b, with parameters of our own */
static void explicit_dense(Prog *m, Val *v) {
  int u = range(1, 8);
  bool t = chance(40);
  char w[64], b[64];
  snprintf(w, sizeof w, "%s", fresh_name(m, "W"));
  snprintf(b, sizeof b, "%s", fresh_name(m, "b"));
  if (t)
    bprintf(&m->body, "  param %s[%d, %d]%s\n", w, u, v->c, init_arg(m, " = %s"));
  else
    bprintf(&m->body, "  param %s[%d, %d]%s\n", w, v->c, u, init_arg(m, " = %s"));
  bprintf(&m->body, "  param %s[%d]%s\n", b, u, chance(50) ? "" : " = zeros");
  snprintf(m->params[m->nparams++ % MAX_NAMED], sizeof m->params[0], "%s", w);
  set_expr(v, "%s(%s @ %s%s + %s)", activation(m, false, false), v->expr, w,
           t ? "\xe1\xb5\x80" : "", b);
  v->c = u;
  note(m, t ? "matmul-transposed" : "matmul");
  name_it(m, v, "a");
}

static void norm_layer(Prog *m, Val *v) {
  if (chance(50)) {
    char extra[64] = "";
    if (chance(30))
      snprintf(extra, sizeof extra, ", momentum = %s", num(uniform(0.05, 1)));
    else if (chance(20))
      snprintf(extra, sizeof extra, ", eps = 0.001");
    layer_line(m, v, "n", "batch_norm(%s%s)", v->expr, extra);
    m->batch_norm = true;
    note(m, "batch_norm");
  } else {
    layer_line(m, v, "ln", "layer_norm(%s%s)", v->expr, chance(20) ? ", eps = 1e-4" : "");
    note(m, "layer_norm");
  }
}

static void dropout(Prog *m, Val *v) {
  set_expr(v, "dropout(%s, %s%s)", v->expr, PICK(((const char *[]){"", "", "p = ", "rate = "})),
           num(pick(4) * 0.15));
  note(m, "dropout");
  maybe_inline(m, v, "d");
}

static void activate(Prog *m, Val *v) {
  const char *act = activation(m, false, true);
  int i = 0;
  while (strcmp(lower_activation_name(i), act))
    i++;
  const char *param = lower_activation_param(i);
  if (param && chance(50))
    set_expr(v, "%s(%s, %s = %s)", act, v->expr, param, num(uniform(0.05, 1.5)));
  else
    set_expr(v, "%s(%s)", act, v->expr);
  maybe_inline(m, v, "a");
}

/* v + an earlier value of the same shape (a residual connection) */
static void residual(Prog *m, Val *v) {
  name_it(m, v, "r");
  for (int tries = 0; tries < 4 && m->nnamed > 1; tries++) {
    const Val *u = &m->named[pick(m->nnamed)];
    if (!same_shape(u, v) || !strcmp(u->expr, v->expr))
      continue;
    set_expr(v, chance(50) ? "%s + %s" : "relu(%s + %s)", v->expr, u->expr);
    note(m, "residual");
    name_it(m, v, "r");
    return;
  }
}

/* rows [N, k] into images [N, 1, a, b] with a·b = k, or images into rows */
static void reshape(Prog *m, Val *v) {
  if (v->image) {
    int k = width(v);
    if (chance(50))
      set_expr(v, "reshape(%s, [-1])", v->expr);
    else
      set_expr(v, "reshape(%s, [%d])", v->expr, k);
    v->image = false;
    v->c = k;
  } else {
    int k = v->c, a = 1;
    for (int d = 2; d * d <= k; d++)
      if (k % d == 0)
        a = d;
    set_expr(v, "reshape(%s, [%s, %d, %d])", v->expr, chance(50) ? "-1" : "1", a, k / a);
    v->image = true;
    v->c = 1;
    v->h = a;
    v->w = k / a;
  }
  note(m, "reshape");
  maybe_inline(m, v, "s");
}

static void to_rows(Prog *m, Val *v) {
  int r = pick(3);
  if (r == 0) {
    set_expr(v, "flatten(%s)", v->expr);
    v->c = width(v);
    note(m, "flatten");
  } else if (r == 1) {
    set_expr(v, "global_avg_pool(%s)", v->expr);
    note(m, "global_avg_pool");
  } else {
    reshape(m, v);
    return;
  }
  v->image = false;
  maybe_inline(m, v, "f");
}

/* One random step of the body. */
static void body_step(Prog *m, Val *v) {
  if (v->image) {
    switch (pick(9)) {
    case 0: case 1: case 2: conv_layer(m, v); break;
    case 3: pool(m, v); break;
    case 4: norm_layer(m, v); break;
    case 5: dropout(m, v); break;
    case 6: residual(m, v); break;
    case 7: explicit_conv(m, v); break;
    default: activate(m, v); break;
    }
    if (width(v) > 400) /* keep the model small */
      pool(m, v);
  } else {
    switch (pick(9)) {
    case 0: case 1: case 2: dense_layer(m, v, range(1, 8), chance(70) ? activation(m, true, false) : NULL); break;
    case 3: explicit_dense(m, v); break;
    case 4: norm_layer(m, v); break;
    case 5: dropout(m, v); break;
    case 6: residual(m, v); break;
    case 7: if (v->c >= 2) reshape(m, v); break;
    default: activate(m, v); break;
    }
  }
}

/* --- the target, the loss and the output --- */

typedef enum { T_CLASS, T_REAL, T_BINARY, T_SOFT } TargetKind;

typedef struct {
  TargetKind kind;
  int k;                /* classes, or the target's width */
  bool positive;        /* a 0/1 target from integer labels (positive = ...) */
} Target;

static void head(Prog *m, Val *v, const Target *t) {
  if (v->image)
    to_rows(m, v);
  if (!is_name(v) && chance(30))
    name_it(m, v, "h");
  /* the losses of the compiler's table that fit this target */
  int fit[16], nfit = 0;
  for (int i = 0; i < lower_loss_count() && nfit < 16; i++) {
    Feed f = loss_feeds[loss_feed(lower_loss_name(i))].feed;
    bool ok = t->kind == T_CLASS || t->kind == T_SOFT
                  ? f == FEED_CLASS_PROBS || f == FEED_CLASS_LOGITS || f == FEED_LOG_PROBS
              : t->kind == T_BINARY ? f == FEED_REAL || f == FEED_PROBS || f == FEED_LOGITS
                                    : f == FEED_REAL;
    if (ok)
      fit[nfit++] = i;
  }
  const char *loss = lower_loss_name(fit[pick(nfit)]);
  int li = loss_feed(loss);
  note(m, loss);
  char z[256], out[300], pred[300];
  Val zv = *v;
  dense_layer(m, &zv, t->k, NULL);
  snprintf(z, sizeof z, "%s", zv.expr);
  snprintf(out, sizeof out, "%s", z);
  switch (loss_feeds[li].feed) {
  case FEED_REAL:
    snprintf(pred, sizeof pred, chance(20) ? "2 * %s" : "%s", z);
    snprintf(out, sizeof out, "%s", pred);
    break;
  case FEED_PROBS:
  case FEED_CLASS_PROBS: {
    const char *f = loss_feeds[li].feed == FEED_PROBS ? "sigmoid" : "softmax";
    snprintf(pred, sizeof pred, "%s(%s)", f, z);
    if (chance(40)) { /* a name defined as it */
      const char *n = fresh_name(m, "p");
      bprintf(&m->body, "  %s = %s\n", n, pred);
      snprintf(pred, sizeof pred, "%s", n);
    }
    snprintf(out, sizeof out, "%s", pred);
    break;
  }
  case FEED_LOGITS:
  case FEED_CLASS_LOGITS:
    snprintf(pred, sizeof pred, "%s", z);
    snprintf(out, sizeof out, !chance(50) ? "%s"
                              : loss_feeds[li].feed == FEED_LOGITS ? "sigmoid(%s)" : "softmax(%s)", z);
    break;
  case FEED_LOG_PROBS:
    snprintf(pred, sizeof pred, "log_softmax(%s)", z);
    snprintf(out, sizeof out, chance(50) ? "softmax(%s)" : "log_softmax(%s)", z);
    break;
  }
  char extra[64] = "";
  if (loss_feeds[li].param)
    snprintf(extra, sizeof extra, ", %s = %s", loss_feeds[li].param, num(uniform(0.2, 2)));
  bprintf(&m->body, "  loss = %s(%s, y%s)", loss, pred, extra);
  if (m->nparams && chance(40)) {
    const char *reg = lower_regulariser_name(pick(lower_regulariser_count()));
    note(m, reg);
    bprintf(&m->body, " + %s * %s(%s)", num(uniform(1e-4, 1e-2)), reg,
            m->params[pick(m->nparams < MAX_NAMED ? m->nparams : MAX_NAMED)]);
  }
  bprintf(&m->body, "\n");
  if (chance(40))
    bprintf(&m->body, "  output out = %s\n", out);
  else
    bprintf(&m->body, "  output %s\n", out);
}

/* --- data files --- */

typedef struct {
  int rows, in_width, c, h, w; /* the input; h = 0 for rows */
  Target t;
  bool idx_images;             /* the input is [1, h, w] or [h·w] from idx images */
} Data;

static char dir[4096];

static FILE *open_in_dir(const char *name, const char *mode) {
  char path[4200];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  FILE *f = fopen(path, mode);
  if (!f) {
    perror(path);
    exit(2);
  }
  return f;
}

/* A data row: the input values and the target's values or label. */
static void row_values(const Data *s, double *x, double *y, int *label) {
  for (int i = 0; i < s->in_width; i++)
    x[i] = s->idx_images ? pick(256) : round(uniform(-1, 1) * 1000) / 1000;
  *label = pick(s->t.positive ? 4 : s->t.k);
  double total = 0;
  for (int j = 0; j < s->t.k; j++) {
    y[j] = s->t.kind == T_BINARY ? pick(2) : s->t.kind == T_SOFT ? uniform(0.1, 1)
                                                                  : round(uniform(-1, 1) * 100) / 100;
    total += y[j];
  }
  if (s->t.kind == T_SOFT)
    for (int j = 0; j < s->t.k; j++)
      y[j] = round(y[j] / total * 1000) / 1000;
}

static bool labels(const Data *s) { return s->t.kind == T_CLASS || s->t.positive; }

static void write_table(Buf *src, const Data *s) {
  double x[256], y[8];
  int label;
  bprintf(src, "table {\n");
  for (int r = 0; r < s->rows; r++) {
    row_values(s, x, y, &label);
    bprintf(src, "   ");
    for (int i = 0; i < s->in_width; i++)
      bprintf(src, " %s", num(x[i]));
    bprintf(src, " ->");
    if (labels(s))
      bprintf(src, " %d", label);
    else
      for (int j = 0; j < s->t.k; j++)
        bprintf(src, " %s", num(y[j]));
    bprintf(src, r % 5 == 4 ? "\n" : ";\n");
  }
  bprintf(src, "  }");
}

/* A CSV file of random rows, its columns in a random order; the call that reads it. */
static void write_csv(Buf *src, const Data *s, const char *file, bool gz) {
  int ncols = s->in_width + (labels(s) ? 1 : s->t.k) + (chance(20) ? 1 : 0);
  int role[300]; /* column -> feature i, target -(j+1), or unused INT32_MIN */
  for (int c = 0; c < ncols; c++)
    role[c] = INT32_MIN;
  bool ordered = chance(50);
  int ntarg = labels(s) ? 1 : s->t.k;
  for (int i = 0; i < s->in_width + ntarg; i++) {
    int c = i;
    if (!ordered)
      do
        c = pick(ncols);
      while (role[c] != INT32_MIN);
    role[c] = i < s->in_width ? i : -(i - s->in_width + 1);
  }
  bool explicit_cols = !ordered || ncols != s->in_width + ntarg || ntarg > 1 || chance(30);
  const char *delim = PICK(((const char *[]){",", ",", ";", "\t"}));
  int header = pick(3); /* 0: none, 1: header = true, 2: a header, detected */
  if (header == 2 && s->t.kind == T_CLASS && !s->t.positive)
    header = 1; /* names in every row: a header would not be detected */
  bool names = s->t.kind == T_CLASS && chance(40);
  static const char *const words[] = {"cat", "dog", "owl", "yak", "emu"};

  char text[128 * 1024];
  size_t n = 0;
  if (header) {
    for (int c = 0; c < ncols; c++)
      n += (size_t)snprintf(text + n, sizeof text - n, "%scol%d", c ? delim : "", c);
    n += (size_t)snprintf(text + n, sizeof text - n, "\n");
  }
  double x[256], y[8];
  int label;
  for (int r = 0; r < s->rows; r++) {
    row_values(s, x, y, &label);
    for (int c = 0; c < ncols && n < sizeof text - 64; c++) {
      const char *sep = c ? delim : "";
      if (role[c] == INT32_MIN)
        n += (size_t)snprintf(text + n, sizeof text - n, "%s%d", sep, r);
      else if (role[c] >= 0)
        n += (size_t)snprintf(text + n, sizeof text - n, "%s%s", sep, num(x[role[c]]));
      else if (labels(s) && names)
        n += (size_t)snprintf(text + n, sizeof text - n, "%s%s", sep, words[label]);
      else if (labels(s))
        n += (size_t)snprintf(text + n, sizeof text - n, "%s%d", sep, label);
      else
        n += (size_t)snprintf(text + n, sizeof text - n, "%s%s", sep, num(y[-role[c] - 1]));
    }
    n += (size_t)snprintf(text + n, sizeof text - n, "\n");
  }
  char path[4200];
  snprintf(path, sizeof path, "%s/%s", dir, file);
  gzFile g = gzopen(path, gz ? "wb" : "wbT");
  if (!g || gzwrite(g, text, (unsigned)n) != (int)n || gzclose(g) != Z_OK) {
    fprintf(stderr, "gen_program: cannot write %s\n", path);
    exit(2);
  }

  bprintf(src, "csv(\"%s\"", file);
  if (header != 2 && chance(header ? 100 : 50))
    bprintf(src, ", header = %s", header ? "true" : "false");
  if (strcmp(delim, ","))
    bprintf(src, ", delimiter = \"%s\"", strcmp(delim, "\t") ? delim : "\\t");
  if (explicit_cols) {
    bprintf(src, ", features = [");
    for (int i = 0; i < s->in_width; i++)
      for (int c = 0; c < ncols; c++)
        if (role[c] == i)
          bprintf(src, "%s%d", i ? ", " : "", c);
    bool bracket = ntarg > 1 || chance(50);
    bprintf(src, "], targets = %s", bracket ? "[" : "");
    for (int j = 0; j < ntarg; j++)
      for (int c = 0; c < ncols; c++)
        if (role[c] == -(j + 1))
          bprintf(src, "%s%d", j ? ", " : "", c);
    bprintf(src, bracket ? "]" : "");
  }
  if (names) {
    bprintf(src, ", classes = [");
    for (int k = 0; k < s->t.k; k++)
      bprintf(src, "%s\"%s\"", k ? ", " : "", words[k]);
    bprintf(src, "]");
  }
}

static void write_be32(gzFile g, uint32_t v) {
  unsigned char b[4] = {(unsigned char)(v >> 24), (unsigned char)(v >> 16), (unsigned char)(v >> 8),
                        (unsigned char)v};
  gzwrite(g, b, 4);
}

/* A pair of IDX files of random images and labels; the call that reads them. */
static void write_idx(Buf *src, const Data *s, const char *stem, bool gz) {
  char img[64], lab[64], path[4200];
  snprintf(img, sizeof img, "%s-images.idx%s", stem, gz ? ".gz" : "");
  snprintf(lab, sizeof lab, "%s-labels.idx%s", stem, gz ? ".gz" : "");
  snprintf(path, sizeof path, "%s/%s", dir, img);
  gzFile gi = gzopen(path, gz ? "wb" : "wbT");
  snprintf(path, sizeof path, "%s/%s", dir, lab);
  gzFile gl = gzopen(path, gz ? "wb" : "wbT");
  if (!gi || !gl) {
    fprintf(stderr, "gen_program: cannot write the idx files in %s\n", dir);
    exit(2);
  }
  write_be32(gi, 0x00000803);
  write_be32(gi, (uint32_t)s->rows);
  write_be32(gi, (uint32_t)s->h);
  write_be32(gi, (uint32_t)s->w);
  write_be32(gl, 0x00000801);
  write_be32(gl, (uint32_t)s->rows);
  double x[256], y[8];
  int label;
  for (int r = 0; r < s->rows; r++) {
    row_values(s, x, y, &label);
    for (int i = 0; i < s->in_width; i++) {
      unsigned char b = (unsigned char)x[i];
      gzwrite(gi, &b, 1);
    }
    unsigned char l = (unsigned char)(labels(s) ? label : pick(3));
    gzwrite(gl, &l, 1);
  }
  gzclose(gi);
  gzclose(gl);
  bprintf(src, "idx(\"%s\", \"%s\"", img, lab);
}

/* A data source of kind `kind` (a row of nnrt_sources.h) with its scaling; paths relative to
 * the program's directory. */
static void write_source(Buf *src, Buf *data_args, const Data *s, int kind, const char *stem,
                         bool scaled) {
  const char *name = sources[kind].name;
  if (!strcmp(name, "table")) {
    write_table(src, s);
    return;
  }
  bool gz = chance(25);
  if (!strcmp(name, "csv")) {
    char file[64];
    snprintf(file, sizeof file, "%s.csv%s", stem, gz ? ".gz" : "");
    write_csv(src, s, file, gz);
    if (data_args)
      bprintf(data_args, "%s\n", file);
  } else {
    write_idx(src, s, stem, gz);
    if (data_args)
      bprintf(data_args, "%s-images.idx%s %s-labels.idx%s\n", stem, gz ? ".gz" : "", stem,
              gz ? ".gz" : "");
  }
  if (s->t.positive)
    bprintf(src, ", positive = %d", pick(4));
  if (scaled)
    bprintf(src, chance(50) ? ", standardize = true" : ", scale = %s",
            s->idx_images ? "1/255" : num(uniform(0.5, 2)));
  bprintf(src, ")");
}

/* --- the train block --- */

static const char *opt_value(const char *field, Range r) {
  if (!strcmp(field, "lr"))
    return num(uniform(0.002, 0.05));
  if (!strcmp(field, "eps"))
    return num(uniform(1e-8, 1e-5));
  switch (r) {
  case R_UNIT: return num(uniform(0, 0.95));
  case R_NONNEG: return num(uniform(0, 0.02));
  case R_POSITIVE: return num(uniform(0.001, 0.1));
  default: return chance(50) ? "true" : "false";
  }
}

static void write_optimizer(Prog *m, Buf *src) {
  int o = pick((int)(sizeof optimizers / sizeof *optimizers));
  note(m, optimizers[o].name);
  if (chance(15)) {
    bprintf(src, "  optimizer = %s\n", optimizers[o].name);
    return;
  }
  bprintf(src, "  optimizer = %s(", optimizers[o].name);
  bool momentum = false, first = true;
  for (const char *const *a = optimizers[o].args; *a; a++) {
    if (strcmp(*a, "lr") && chance(50))
      continue;
    const char *v = opt_value(*a, opt_field_range(*a));
    if (!strcmp(*a, "momentum"))
      momentum = atof(v) > 0;
    if (!strcmp(*a, "nesterov") && !momentum)
      v = "false";
    bprintf(src, "%s%s = %s", first ? "" : ", ", *a, v);
    first = false;
  }
  bprintf(src, ")\n");
}

static void write_schedule(Prog *m, Buf *src) {
  const char *s = PICK(schedules);
  note(m, s);
  if (!strcmp(s, "constant") && chance(50))
    return;
  bprintf(src, "  schedule = %s", s);
  if (!strcmp(s, "step") && chance(70))
    bprintf(src, "(factor = %s, every = %d)", num(uniform(0.3, 1)), range(1, 2));
  else if (!strcmp(s, "exponential") && chance(70))
    bprintf(src, "(rate = %s)", num(uniform(0.5, 1)));
  else if (!strcmp(s, "cosine") && chance(70))
    bprintf(src, "(final = %s)", num(uniform(0, 1)));
  bprintf(src, "\n");
  if (chance(30))
    bprintf(src, "  warmup = %s\n", num(uniform(0, 1.5)));
}

/* Options of `train` that override the train block, each now and then. */
static const char *train_options(int batch, bool batch_norm) {
  static char s[256];
  size_t n = 0;
  if (chance(20))
    n += (size_t)snprintf(s + n, sizeof s - n, "--threads %d ", range(2, 3));
  if (chance(15))
    n += (size_t)snprintf(s + n, sizeof s - n, "--batch %d ", range(batch_norm ? 2 : 1, batch));
  if (chance(15))
    n += (size_t)snprintf(s + n, sizeof s - n, "--lr %s ", num(uniform(0.001, 0.05)));
  if (chance(15))
    n += (size_t)snprintf(s + n, sizeof s - n, "--seed %d ", pick(100000));
  if (chance(15))
    n += (size_t)snprintf(s + n, sizeof s - n, "--log-every %d ", pick(3));
  if (chance(15))
    n += (size_t)snprintf(s + n, sizeof s - n, "--log-json log.json ");
  if (chance(15))
    n += (size_t)snprintf(s + n, sizeof s - n, "--plot plot.svg ");
  snprintf(s + n, sizeof s - n, "\n");
  return s;
}

/* --- the program --- */

static void generate(uint64_t seed) {
  rng_state = seed;
  Prog m = {0};
  Data s = {0};
  int kind = pick((int)(sizeof sources / sizeof *sources));
  bool idx = !strcmp(sources[kind].name, "idx");

  /* the target */
  s.t.kind = idx ? (chance(60) ? T_CLASS : T_REAL) : (TargetKind)pick(4);
  s.t.k = s.t.kind == T_CLASS || s.t.kind == T_SOFT ? range(2, 5) : range(1, idx ? 1 : 3);
  if (!strcmp(sources[kind].name, "table") ? false : s.t.kind != T_CLASS && chance(25)) {
    s.t.positive = true; /* one class against the rest: a 0/1 target, one wide */
    s.t.kind = T_BINARY;
    s.t.k = 1;
  }
  /* the input */
  Val v = {.image = idx ? chance(60) : chance(40)};
  s.idx_images = idx;
  s.c = idx ? 1 : range(1, 3);
  s.h = range(2, idx ? 6 : 5);
  s.w = range(2, idx ? 6 : 5);
  s.in_width = v.image || idx ? s.c * s.h * s.w : range(1, 8);
  s.rows = range(8, 24);
  bprintf(&m.body, "model m {\n");
  if (v.image)
    bprintf(&m.body, "  input x[%d, %d, %d]\n", s.c, s.h, s.w);
  else
    bprintf(&m.body, "  input x[%d]\n", s.in_width);
  if (s.t.kind == T_CLASS)
    bprintf(&m.body, "  target y : class(%d)\n", s.t.k);
  else
    bprintf(&m.body, "  target y[%d]\n", s.t.k);
  snprintf(v.expr, sizeof v.expr, "x");
  v.c = v.image ? s.c : s.in_width;
  v.h = s.h;
  v.w = s.w;
  m.named[m.nnamed++] = v;
  note(&m, sources[kind].name);
  note(&m, v.image ? "images" : "rows");

  for (int depth = range(0, 5); depth > 0; depth--)
    body_step(&m, &v);
  head(&m, &v, &s.t);
  bprintf(&m.body, "}\n\n");

  /* the train block */
  Buf *src = &m.body, data_args = {0};
  bprintf(&data_args, "%s", "");
  bool scaled = chance(50);
  bprintf(src, "train m {\n  data = ");
  write_source(src, &data_args, &s, kind, "train", scaled);
  bprintf(src, "\n");
  bool validation = false;
  int val = pick(3);
  if (val == 0) {
    Data vs = s;
    vs.rows = range(4, 10);
    bprintf(src, "  validate = ");
    write_source(src, NULL, &vs, kind, "valid", scaled);
    bprintf(src, "\n");
    validation = true;
    note(&m, "validate");
  } else if (val == 1 && s.rows >= 8) {
    bprintf(src, "  validation_split = %s\n", num(uniform(0.15, 0.4)));
    validation = true;
    note(&m, "validation_split");
  }
  if (validation && chance(30))
    bprintf(src, "  early_stopping = %d\n", range(1, 2));
  write_optimizer(&m, src);
  write_schedule(&m, src);
  bprintf(src, "  epochs = %d\n", range(1, 4));
  int batch = range(m.batch_norm ? 2 : 1, 8);
  bprintf(src, "  batch = %d\n", batch);
  if (chance(30))
    bprintf(src, "  shuffle = %s\n", chance(50) ? "true" : "false");
  if (chance(50))
    bprintf(src, "  seed = %d\n", pick(1000));
  if (chance(30))
    bprintf(src, "  log_every = %d\n", range(1, 3));
  if (chance(20))
    bprintf(src, "  checkpoint_every = %d\n", range(1, 2));
  bprintf(src, "}\n");

  FILE *f = open_in_dir("m.nn", "w");
  fprintf(f, "# generated by tests/fuzz/gen_program %llu\n%s", (unsigned long long)seed, src->s);
  fclose(f);

  /* rows for predict -, as the data give them */
  f = open_in_dir("predict.txt", "w");
  double x[256], y[8];
  int label;
  for (int r = 0; r < 3; r++) {
    row_values(&s, x, y, &label);
    for (int i = 0; i < s.in_width; i++)
      fprintf(f, "%s%s", i ? (r == 1 ? ", " : " ") : "", num(x[i]));
    fprintf(f, "\n");
  }
  fclose(f);
  f = open_in_dir("data_args", "w");
  fputs(data_args.s, f);
  fclose(f);
  f = open_in_dir("train_args", "w");
  fputs(train_options(batch, m.batch_norm), f);
  fclose(f);
  m.used.s[m.used.len - 1] = '\0';
  printf("%s\n", m.used.s + 1);
  free(m.body.s);
  free(m.used.s);
  free(data_args.s);
}

int main(int argc, char **argv) {
  if (argc == 2 && !strcmp(argv[1], "--tables"))
    return check_tables(stdout);
  char *end;
  if (argc != 3 || !*argv[1] || (strtoull(argv[1], &end, 10), *end)) {
    fprintf(stderr, "usage: gen_program SEED DIR | gen_program --tables\n");
    return 2;
  }
  FILE *quiet = fopen("/dev/null", "w");
  if (!quiet || check_tables(quiet))
    return 1;
  fclose(quiet);
  snprintf(dir, sizeof dir, "%s", argv[2]);
  mkdir(dir, 0777);
  generate(strtoull(argv[1], NULL, 10));
  return 0;
}

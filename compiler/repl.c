/* repl: the interactive loop and `nnc run` (see repl.h and docs/repl.md).
 *
 * Sources. Everything typed is one growing source named "<repl>" whose lines count from 1, so
 * a diagnostic reads `<repl>:12:7: error: ...`; a loaded file keeps its own name and lines. A
 * definition is kept as the text of its blocks (a `model` block and its `train` block), each
 * with the source and line it came from; compiling a model lays its blocks out again at those
 * lines (padding with line breaks), so diagnostics point into the text the user wrote.
 *
 * Compiling. One Jit per model definition (and one per expression, freed at once): redefining
 * a model frees the old Jit, workspace and compilation, after copying every trained parameter
 * whose name and shape the new model still has. An expression E is the model
 *     model __expr { input __x[1, 1, 1]; __v = ( E ); output __v * __x }
 * run on one row of ones: __x keeps the output a batch row (the language requires one), and the
 * product by 1 is exact, so the printed value is E's as the compiled kernels compute it.
 *
 * Training is nnrt_train_on, logging to stdout as a generated program does. Ctrl-C: during
 * :train a SIGINT handler sets a flag; the model descriptor handed to the runtime is a copy whose
 * `step` calls the compiled step and then, when the flag is set, makes the step's loss NaN, which
 * ends nnrt_train_on's loop after the current step (the runtime has no interrupt hook yet). */
#include "repl.h"

#include <ctype.h>
#include <errno.h>
#include <float.h>
#include <locale.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <editline/readline.h>
#include <llvm-c/Core.h>

#include "../runtime/internal.h"
#include "codegen.h"
#include "driver.h"
#include "explain.h"
#include "jit.h"
#include "parse.h"

#ifndef NNC_VERSION
#define NNC_VERSION "0.0.0"
#endif

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static char *xstrdup(const char *s) {
  size_t n = strlen(s) + 1;
  char *d = malloc(n);
  if (!d) {
    fputs("nnc: out of memory\n", stderr);
    exit(EXIT_INTERNAL);
  }
  return memcpy(d, s, n);
}

/* A growable string. */
typedef struct {
  char *s;
  size_t n, cap;
} Buf;

static void buf_add(Buf *b, const char *s, size_t n) {
  if (b->n + n + 1 > b->cap) {
    b->cap = (b->n + n + 1) * 2;
    b->s = realloc(b->s, b->cap);
    if (!b->s) {
      fputs("nnc: out of memory\n", stderr);
      exit(EXIT_INTERNAL);
    }
  }
  memcpy(b->s + b->n, s, n);
  b->n += n;
  b->s[b->n] = '\0';
}
static void buf_str(Buf *b, const char *s) { buf_add(b, s, strlen(s)); }
static void buf_rep(Buf *b, char c, size_t n) {
  for (size_t i = 0; i < n; i++)
    buf_add(b, &c, 1);
}

static char *read_file(const char *path, size_t *len, char *err, size_t errlen) {
  FILE *f = fopen(path, "rb");
  struct stat st;
  if (!f || fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
    snprintf(err, errlen, "cannot read '%s': %s", path, f ? "not a regular file" : strerror(errno));
    if (f)
      fclose(f);
    return NULL;
  }
  char *text = malloc((size_t)st.st_size + 1);
  if (!text) {
    fclose(f);
    snprintf(err, errlen, "cannot read '%s': out of memory", path);
    return NULL;
  }
  *len = fread(text, 1, (size_t)st.st_size, f);
  text[*len] = '\0';
  fclose(f);
  return text;
}

/* ---- Compiling a model into a JIT ---- */

/* The optimisation level of JIT code: 2 as nnc's default, so the JIT's code is the program's;
 * :opt N changes it for the definitions that follow. */
static int jit_opt = 2;

typedef struct {
  char *text; /* the source compiled: alive as long as comp */
  Compilation comp;
  Jit *jit;
  const NnrtModel *m;
  double t_front, t_codegen, t_jit; /* milliseconds */
} Compiled;

static void compiled_free(Compiled *c) {
  jit_free(c->jit);
  compilation_free(&c->comp);
  free(c->text);
  memset(c, 0, sizeof *c);
}

/* Front end, codegen and JIT of `want` (NULL: the first model) in text, which c takes over.
 * Diagnostics go to stderr; false on any error (c is then empty). */
static bool compile_jit(Compiled *c, const char *name, char *text, const char *want,
                        FILE *diag_out) {
  memset(c, 0, sizeof *c);
  c->text = text;
  double t0 = now_ms();
  compilation_init(&c->comp, name, text, strlen(text), diag_out);
  c->comp.want_model = want;
  if (!compilation_front(&c->comp)) {
    if (!diag_count(&c->comp.diag))
      fprintf(diag_out, "%s: internal error in the front end\n", name);
    compiled_free(c);
    return false;
  }
  double t1 = now_ms();
  char err[4096];
  c->jit = jit_new(err, sizeof err);
  if (!c->jit) {
    fprintf(stderr, "nnc: internal error: cannot start the JIT: %s\n", err);
    compiled_free(c);
    return false;
  }
  Program p;
  program_plan(&p, &c->comp.graph, c->comp.model, name);
  LLVMModuleRef mod = codegen_module(&p, jit_context(c->jit), false);
  double t2 = now_ms();
  if (!mod || !jit_add(c->jit, mod, jit_opt, err, sizeof err) ||
      !(c->m = jit_lookup(c->jit, "nn_model"))) {
    fprintf(stderr, "nnc: internal error: the JIT rejected model '%s': %s\n",
            c->comp.model->name, mod ? err : "no module");
    compiled_free(c);
    return false;
  }
  if (nnrt_check_model(c->m, err, sizeof err) != 0) {
    fprintf(stderr, "nnc: internal error: bad descriptor for '%s': %s\n", c->comp.model->name, err);
    compiled_free(c);
    return false;
  }
  double t3 = now_ms();
  c->t_front = t1 - t0;
  c->t_codegen = t2 - t1;
  c->t_jit = t3 - t2;
  return true;
}

/* ---- Training and what a generated program prints around it ---- */

static volatile sig_atomic_t interrupted; /* Ctrl-C at the prompt or while data loads */

static void on_sigint(int sig) {
  (void)sig;
  interrupted = 1;
}

/* Trains m on td from the weights in ws, with a generated program's output on stdout: the
 * runtime's progress reporter (bar on a terminal, epoch lines), then the final loss, early
 * stopping's restored epoch and a data table's predictions. nnrt_train_on handles SIGINT itself
 * (the run stops after the current step). Returns an NNRT_EXIT_* status, msg set on failure. */
static int train_and_report(const NnrtModel *m, float *ws, NnrtTrainOptions *o,
                            const NnrtTrainData *td, char *msg, size_t msglen) {
  NnrtProgress progress;
  nnrt_progress_init(&progress, m, stdout, isatty(STDOUT_FILENO));
  o->report = nnrt_progress_reporter(&progress);
  NnrtTrainResult res;
  msg[0] = '\0';
  nnrt_train_on(m, ws, o, td, NULL, &res, msg, msglen);
  nnrt_progress_end(&progress);
  nnrt_progress_close(&progress, NULL, NULL, 0);
  if (res.status != NNRT_EXIT_OK) {
    if (res.status == NNRT_EXIT_INTERRUPTED || res.interrupted) {
      /* "interrupted at epoch E, step S; nothing saved (no --save path)": the first part */
      char *semi = strchr(msg, ';');
      if (semi)
        *semi = '\0';
      if (!msg[0])
        snprintf(msg, msglen, "interrupted");
    }
    return res.status ? res.status : NNRT_EXIT_DATA;
  }
  if (o->early_stopping > 0 && res.best_epoch != res.last_epoch && res.best_epoch >= 1) {
    if (res.stopped_early)
      printf("early stopping at epoch %lld; ", (long long)res.last_epoch);
    printf("restored the weights of epoch %lld (val_loss %.6f)\n", (long long)res.best_epoch,
           res.val_loss);
  }
  printf("final loss %.6f\n", res.loss);
  if (res.has_val) {
    printf("final val_loss %.6f", res.val_loss);
    if (m->metric != NNRT_METRIC_NONE)
      printf("  val_accuracy %.4f", res.val_accuracy);
    putchar('\n');
  }
  if (m->train.kind == NNRT_DATA_TABLE)
    nnrt_print_table_predictions(stdout, m, ws, td);
  fflush(stdout);
  return NNRT_EXIT_OK;
}

/* ---- Option values: "epochs=10" in the REPL, "--epochs 10" for nnc run ---- */

static bool parse_i64(const char *s, int64_t min, int64_t *out) {
  char *end;
  errno = 0;
  long long v = strtoll(s, &end, 10);
  if (!isdigit((unsigned char)*s) || *end || errno || v < min)
    return false;
  *out = v;
  return true;
}

static bool parse_u64(const char *s, uint64_t *out) {
  char *end;
  errno = 0;
  unsigned long long v = strtoull(s, &end, 10);
  if (!isdigit((unsigned char)*s) || *end || errno)
    return false;
  *out = v;
  return true;
}

static bool parse_f64(const char *s, double *out) {
  char *end;
  double v = strtod(s, &end);
  if (!*s || isspace((unsigned char)*s) || *end || !isfinite(v))
    return false;
  *out = v;
  return true;
}

/* One training option by name; *seeded tells that a seed was given. NULL or the error. */
static const char *set_train_option(NnrtTrainOptions *o, const char *key, const char *v,
                                    bool *seeded) {
  if (!strcmp(key, "epochs"))
    return parse_i64(v, 1, &o->epochs) ? NULL : "epochs must be an integer >= 1";
  if (!strcmp(key, "batch"))
    return parse_i64(v, 1, &o->batch) ? NULL : "batch must be an integer >= 1";
  if (!strcmp(key, "lr"))
    return parse_f64(v, &o->lr) && o->lr > 0 ? NULL : "lr must be a positive number";
  if (!strcmp(key, "seed")) {
    *seeded = true;
    return parse_u64(v, &o->seed) ? NULL : "seed must be an integer from 0 to 2^64-1";
  }
  if (!strcmp(key, "log_every"))
    return parse_i64(v, 0, &o->log_every) ? NULL : "log_every must be an integer >= 0";
  return "unknown training option (epochs, lr, batch, seed, log_every)";
}

/* The program's own check: the workspace holds at most max_batch rows. */
static bool batch_fits(const NnrtModel *m, const NnrtTrainOptions *o, char *msg, size_t n) {
  if (o->batch <= m->max_batch)
    return true;
  snprintf(msg, n, "model '%s' was compiled for batches of at most %lld rows (train block batch "
           "= %lld); change its train block to train with %lld", m->name,
           (long long)m->max_batch, (long long)m->max_batch, (long long)o->batch);
  return false;
}

/* ---- nnc run ---- */

static int run_usage(const char *fmt, const char *arg) {
  fputs("nnc run: error: ", stderr);
  fprintf(stderr, fmt, arg);
  fputs("\nusage: nnc run FILE.nn [--model NAME] [--epochs N] [--lr X] [--batch B] [--seed S]"
        " [--save PATH]\n", stderr);
  return EXIT_USAGE;
}

int run_main(int argc, char **argv) {
  const char *file = NULL, *model = NULL, *save = NULL;
  const char *keys[8], *vals[8];
  int nkeys = 0;
  for (int i = 0; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
      puts("usage: nnc run FILE.nn [--model NAME] [--epochs N] [--lr X] [--batch B] [--seed S]"
           " [--save PATH]\n\nCompiles the model with the JIT and trains it as its compiled"
           " program would,\nprinting the same lines; --save PATH also writes the weights.");
      return 0;
    }
    if (a[0] == '-' && a[1] == '-' && a[2]) {
      if (i + 1 == argc)
        return run_usage("option '%s' needs a value", a);
      const char *v = argv[++i];
      if (!strcmp(a, "--model"))
        model = v;
      else if (!strcmp(a, "--save"))
        save = v;
      else if (nkeys < 8) {
        keys[nkeys] = a + 2;
        vals[nkeys++] = v;
      }
    } else if (file)
      return run_usage("more than one input file ('%s')", a);
    else
      file = a;
  }
  if (!file)
    return run_usage("%s", "no input file");
  char err[4096];
  size_t len;
  char *text = read_file(file, &len, err, sizeof err);
  if (!text) {
    fprintf(stderr, "nnc: error: %s\n", err);
    return EXIT_IO;
  }
  Compiled c;
  if (!compile_jit(&c, file, text, model, stderr))
    return EXIT_INPUT;
  const NnrtModel *m = c.m;
  int rc = 0;
  NnrtTrainOptions o = nnrt_train_options(m);
  bool seeded = false;
  for (int k = 0; k < nkeys && !rc; k++) {
    if (strcmp(keys[k], "epochs") && strcmp(keys[k], "lr") && strcmp(keys[k], "batch") &&
        strcmp(keys[k], "seed"))
      rc = run_usage("unknown option '--%s'", keys[k]);
    else {
      const char *why = set_train_option(&o, keys[k], vals[k], &seeded);
      if (why)
        rc = run_usage("%s", why);
    }
  }
  NnrtTrainData *td = NULL;
  float *ws = NULL;
  if (!rc && !m->has_train) {
    fprintf(stderr, "nnc: error: model '%s' has no train block\n", m->name);
    rc = EXIT_USAGE;
  } else if (!rc && (nnrt_check_train_options(m, &o, err, sizeof err) != 0 ||
                     !batch_fits(m, &o, err, sizeof err))) {
    fprintf(stderr, "nnc: error: %s\n", err);
    rc = EXIT_USAGE;
  } else if (!rc && (rc = nnrt_train_data_load(m, &td, err, sizeof err)) != 0) {
    fprintf(stderr, "nnc: error: %s\n", err);
  } else if (!rc && !(ws = nnrt_workspace_new(m))) {
    fprintf(stderr, "nnc: error: out of memory for the workspace\n");
    rc = NNRT_EXIT_DATA;
  }
  if (!rc) {
    nnrt_init_params(m, ws, o.seed);
    rc = train_and_report(m, ws, &o, td, err, sizeof err);
    if (rc)
      fprintf(stderr, "nnc: error: %s\n", err);
  }
  if (!rc && save) {
    if (nnrt_save_stats(m, ws, nnrt_train_data_stats(td), save, err, sizeof err) != 0) {
      fprintf(stderr, "nnc: error: %s\n", err);
      rc = EXIT_IO;
    } else
      printf("saved weights to %s\n", save);
  }
  nnrt_workspace_free(ws);
  nnrt_train_data_free(td);
  compiled_free(&c);
  return rc;
}

/* ---- The REPL's state ---- */

/* A model or train block as the user wrote it. */
typedef struct {
  bool train;
  char *name; /* the model it defines or trains */
  char *src;  /* "<repl>" or the file name */
  char *text; /* from the keyword to the closing brace */
  uint32_t line, col;
} Block;

typedef struct {
  Block *model, *train; /* train may be NULL */
  Compiled c;
  float *ws;
  NnrtTrainData *td;     /* the train block's data, loaded by the first :train or :eval */
  NnrtInputStats stats;  /* width > 0 once known (training data or :loadw) */
  float *stats_buf;
} Entry;

typedef struct {
  Entry **e;
  int n, cap;
  unsigned line;    /* lines of "<repl>" read so far */
  unsigned cmdline; /* the line the current input started on, for messages */
  char *last_file;
  const char *last_model; /* the model commands use when none is named */
  bool timing, tty;
} Repl;

/* "<repl>:N: error: ..." for errors that are not about a span of a source. */
__attribute__((format(printf, 2, 3))) static void repl_error(const Repl *r, const char *fmt, ...) {
  fflush(stdout);
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "<repl>:%u: error: ", r->cmdline);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
}

static Block *block_dup(const Block *b) {
  if (!b)
    return NULL;
  Block *d = malloc(sizeof *d);
  *d = *b;
  d->name = xstrdup(b->name);
  d->src = xstrdup(b->src);
  d->text = xstrdup(b->text);
  return d;
}

static void block_free(Block *b) {
  if (!b)
    return;
  free(b->name);
  free(b->src);
  free(b->text);
  free(b);
}

static void entry_free(Entry *e) {
  if (!e)
    return;
  nnrt_train_data_free(e->td);
  nnrt_workspace_free(e->ws);
  compiled_free(&e->c);
  block_free(e->model);
  block_free(e->train);
  free(e->stats_buf);
  free(e);
}

static Entry *find_entry(const Repl *r, const char *name) {
  for (int i = 0; i < r->n; i++)
    if (!strcmp(r->e[i]->model->name, name))
      return r->e[i];
  return NULL;
}

static int count_lines(const char *s) {
  int n = 0;
  for (; *s; s++)
    n += *s == '\n';
  return n;
}

/* The blocks laid out at their lines: those of the same source exactly; a block from another
 * source than `primary` after the other (its lines then differ from the file's). */
static char *compose(const Block *primary, const Block *other) {
  const Block *order[2] = {primary, other};
  if (other && !strcmp(other->src, primary->src) &&
      (other->line < primary->line || (other->line == primary->line && other->col < primary->col))) {
    order[0] = other;
    order[1] = primary;
  }
  Buf b = {0};
  uint32_t line = 1;
  for (int i = 0; i < 2 && order[i]; i++) {
    const Block *k = order[i];
    if (k->line > line) {
      buf_rep(&b, '\n', k->line - line);
      buf_rep(&b, ' ', k->col - 1);
      line = k->line;
    }
    buf_str(&b, k->text);
    buf_str(&b, "\n");
    line += (uint32_t)count_lines(k->text) + 1;
  }
  return b.s;
}

static const char *plural(int64_t n) { return n == 1 ? "" : "s"; }

/* Copies every trained parameter of old that new still has with the same shape; lists them. */
static void keep_weights(const Entry *old, Entry *e, Buf *kept, Buf *fresh) {
  const NnrtModel *m = e->c.m, *o = old->c.m;
  for (int32_t i = 0; i < m->n_params; i++) {
    const NnrtParam *p = &m->params[i];
    if (p->role != NNRT_ROLE_PARAM)
      continue;
    const NnrtParam *q = NULL;
    for (int32_t j = 0; j < o->n_params && !q; j++)
      if (o->params[j].role == NNRT_ROLE_PARAM && !strcmp(o->params[j].name, p->name))
        q = &o->params[j];
    bool same = q && q->rank == p->rank && q->size == p->size;
    for (int d = 0; same && d < p->rank; d++)
      same = q->dim[d] == p->dim[d];
    Buf *list = same ? kept : fresh;
    buf_str(list, " ");
    buf_str(list, p->name);
    if (same)
      memcpy(e->ws + p->offset, old->ws + q->offset, (size_t)p->size * sizeof(float));
  }
}

static void describe(const Entry *e, Buf *b) {
  const NnrtModel *m = e->c.m;
  int64_t tensors = 0, weights = 0;
  for (int32_t i = 0; i < m->n_params; i++)
    if (m->params[i].role == NNRT_ROLE_PARAM) {
      tensors++;
      weights += m->params[i].size;
    }
  char s[160];
  snprintf(s, sizeof s, "%lld tensor%s, %lld weight%s, %s", (long long)tensors, plural(tensors),
           (long long)weights, plural(weights), m->has_train ? "trainable" : "predict only");
  buf_str(b, s);
}

/* Compiles a model from its blocks and puts it in place of any model of that name. */
static bool define(Repl *r, const Block *model, const Block *train, const Block *primary) {
  Entry *e = calloc(1, sizeof *e);
  e->model = block_dup(model);
  e->train = block_dup(train);
  const Block *other = primary == model ? train : model;
  if (!compile_jit(&e->c, primary->src, compose(primary, other), model->name, stderr) ||
      !(e->ws = nnrt_workspace_new(e->c.m))) {
    entry_free(e);
    return false;
  }
  nnrt_init_params(e->c.m, e->ws, e->c.m->seed);
  Entry *old = find_entry(r, model->name);
  Buf msg = {0}, kept = {0}, fresh = {0};
  buf_str(&msg, old ? "redefined " : "defined ");
  buf_str(&msg, model->name);
  buf_str(&msg, ": ");
  describe(e, &msg);
  if (old) {
    keep_weights(old, e, &kept, &fresh);
    buf_str(&msg, "; kept");
    buf_str(&msg, kept.s ? kept.s : " none");
    if (fresh.s) {
      buf_str(&msg, "; fresh");
      buf_str(&msg, fresh.s);
    }
    if (old->stats.width > 0 && old->stats.width == e->c.m->input.width &&
        e->c.m->has_train && e->c.m->train.scaling == NNRT_SCALE_STANDARDIZE) {
      e->stats = old->stats;
      e->stats_buf = old->stats_buf;
      old->stats_buf = NULL;
    }
    for (int i = 0; i < r->n; i++)
      if (r->e[i] == old)
        r->e[i] = e;
    entry_free(old);
  } else {
    if (r->n == r->cap) {
      r->cap = r->cap ? 2 * r->cap : 8;
      r->e = realloc(r->e, (size_t)r->cap * sizeof *r->e);
    }
    r->e[r->n++] = e;
  }
  r->last_model = e->model->name;
  printf("%s\n", msg.s);
  if (r->timing)
    printf("  front end %.1f ms, codegen %.1f ms, JIT %.1f ms\n", e->c.t_front, e->c.t_codegen,
           e->c.t_jit);
  free(msg.s);
  free(kept.s);
  free(fresh.s);
  return true;
}

/* Parses text (whose first line is line first_line of src) and defines each model it holds or
 * trains. A file is a complete unit: a model it defines without a train block loses any
 * train block it had; a model typed without one keeps it. */
static bool define_source(Repl *r, const char *src_name, const char *text, unsigned first_line,
                          bool from_file) {
  Buf padded = {0};
  buf_rep(&padded, '\n', first_line - 1);
  buf_str(&padded, text);
  Source src = {src_name, padded.s ? padded.s : "", padded.n};
  Arena a;
  arena_init(&a);
  Diag d;
  fflush(stdout);
  diag_init(&d, &src, stderr);
  AstNode *items = parse_source(&a, &d, &src);
  int nb = 0;
  for (AstNode *it = items; it; it = it->next)
    nb++;
  Block *blocks = calloc((size_t)(nb ? nb : 1), sizeof *blocks);
  nb = 0;
  for (AstNode *it = diag_count(&d) ? NULL : items; it; it = it->next) {
    Block *b = &blocks[nb++];
    b->train = it->kind == AST_TRAIN;
    b->name = (char *)it->u.block.name;
    b->src = (char *)src_name;
    b->text = arena_strndup(&a, src.text + it->loc.off, it->loc.len);
    b->line = it->loc.line;
    b->col = it->loc.col;
    for (int j = 0; j < nb - 1; j++)
      if (blocks[j].train == b->train && !strcmp(blocks[j].name, b->name)) {
        if (b->train)
          diag_error(&d, it->loc, "model '%s' has a second train block", b->name);
        else
          diag_error(&d, it->loc, "a second model named '%s'", b->name);
        break;
      }
  }
  /* Every train block needs its model, here or defined before. */
  for (int i = 0; i < nb && !diag_count(&d); i++) {
    bool known = !blocks[i].train || find_entry(r, blocks[i].name);
    for (int j = 0; j < nb && !known; j++)
      known = !blocks[j].train && !strcmp(blocks[j].name, blocks[i].name);
    if (!known) {
      Loc at = {0};
      int k = 0;
      for (AstNode *it = items; it; it = it->next, k++)
        if (k == i)
          at = it->loc;
      diag_error(&d, at, "train block for unknown model '%s'", blocks[i].name);
    }
  }
  bool ok = !diag_count(&d);
  if (ok && nb == 0 && from_file)
    printf("%s: no model or train block\n", src_name);
  /* Each model named by a block, once, in order. */
  for (int i = 0; ok && i < nb; i++) {
    bool seen = false;
    for (int j = 0; j < i && !seen; j++)
      seen = !strcmp(blocks[j].name, blocks[i].name);
    if (seen)
      continue;
    const Block *model = NULL, *train = NULL;
    for (int j = i; j < nb; j++)
      if (!strcmp(blocks[j].name, blocks[i].name)) {
        if (blocks[j].train)
          train = &blocks[j];
        else
          model = &blocks[j];
      }
    const Block *primary = model ? model : train;
    Entry *old = find_entry(r, blocks[i].name);
    if (!model)
      model = old->model;
    if (!train && old && !(from_file && primary == model))
      train = old->train;
    if (!define(r, model, train, primary))
      ok = false;
  }
  free(blocks);
  arena_free(&a);
  free(padded.s);
  return ok;
}

static bool load_file(Repl *r, const char *path) {
  char err[1024];
  size_t len;
  char *text = read_file(path, &len, err, sizeof err);
  if (!text) {
    repl_error(r, "%s", err);
    return false;
  }
  if (r->last_file != path) {
    free(r->last_file);
    r->last_file = xstrdup(path);
  }
  bool ok = define_source(r, path, text, 1, true);
  free(text);
  return ok;
}

/* ---- Expressions ---- */

/* numpy's layout: [a, b] for a vector, one row per line for a matrix. */
static void print_tensor(const float *v, const int64_t *dim, int rank, int depth) {
  if (rank > NNC_MAX_RANK)
    return; /* shapes never have more axes; the bound also tells the compiler so */
  if (rank <= 0) {
    printf("%g", (double)v[0]);
    return;
  }
  int64_t inner = 1;
  for (int d = 1; d < rank; d++)
    inner *= dim[d];
  putchar('[');
  for (int64_t i = 0; i < dim[0]; i++) {
    if (i) {
      putchar(',');
      if (rank > 1) {
        for (int k = 1; k < rank - 1; k++)
          putchar('\n');
        printf("\n%*s", depth + 1, "");
      } else
        putchar(' ');
    }
    print_tensor(v + i * inner, dim + 1, rank - 1, depth + 1);
  }
  putchar(']');
}

/* The diagnostics of an expression's wrapper model, as if the expression stood alone: line 1
 * for the session's first line (the wrapper's header takes line 1 of the text), and a
 * complaint about the wrapper's closing text as an incomplete expression. */
static void print_expr_diags(const char *diags, unsigned line, unsigned at, unsigned last) {
  char head[64], moved[64];
  snprintf(head, sizeof head, "<repl>:%u:", at);
  snprintf(moved, sizeof moved, "<repl>:%u:", line);
  for (const char *l = diags; *l;) {
    const char *nl = strchr(l, '\n');
    size_t n = nl ? (size_t)(nl - l) : strlen(l);
    unsigned k, col;
    if (sscanf(l, "<repl>:%u:%u:", &k, &col) == 2 && k > last) {
      fprintf(stderr, "<repl>:%u: error: the expression is incomplete\n", line);
      return;
    }
    if (at != line && !strncmp(l, head, strlen(head)))
      fprintf(stderr, "%s%.*s\n", moved, (int)(n - strlen(head)), l + strlen(head));
    else if (at != line && sscanf(l, " %u |", &k) == 1 && k == at)
      fprintf(stderr, "%5u%.*s\n", line, (int)(n - 5), l + 5);
    else
      fprintf(stderr, "%.*s\n", (int)n, l);
    l += nl ? n + 1 : n;
  }
}

static void eval_expr(Repl *r, const char *expr, unsigned line) {
  Buf b = {0};
  unsigned at = line > 2 ? line : 2; /* the text's line the expression starts on */
  buf_str(&b, "model __expr { input __x[1, 1, 1]; __v = (");
  buf_rep(&b, '\n', at - 1);
  buf_str(&b, expr);
  buf_str(&b, "\n); output __v * __x }\n");
  unsigned last = at + (unsigned)count_lines(expr) - 1;
  fflush(stdout);
  char *diags = NULL;
  size_t diags_len = 0;
  FILE *mem = open_memstream(&diags, &diags_len);
  Compiled c;
  bool ok = compile_jit(&c, "<repl>", b.s, NULL, mem ? mem : stderr);
  if (mem) {
    fclose(mem);
    print_expr_diags(diags, line, at, last);
    free(diags);
  }
  if (!ok)
    return;
  const Graph *g = &c.comp.graph;
  const Node *v = NULL;
  for (uint32_t i = g->n; i-- > 0 && !v;)
    if (g->node[i]->name && !strcmp(g->node[i]->name, "__v"))
      v = g->node[i];
  Shape s = v ? v->shape : (Shape){c.m->output.width > 1, {c.m->output.width}};
  const NnrtModel *m = c.m;
  float *ws = nnrt_workspace_new(m), one = 1.0f;
  float *y = malloc((size_t)m->output.width * sizeof *y);
  if (s.rank > 0 && s.dim[0] == DIM_BATCH)
    repl_error(r, "an expression is made of constants; it cannot use the input '__x'");
  else if (ws && y) {
    nnrt_init_params(m, ws, 0);
    nnrt_predict_rows(m, ws, &one, 1, y);
    print_tensor(y, s.dim, s.rank, 0);
    putchar('\n');
  }
  free(y);
  nnrt_workspace_free(ws);
  compiled_free(&c);
}

/* ---- Commands ---- */

enum { MAX_ARGS = 64 };

static Entry *need_model(Repl *r, const char *name) {
  if (!name) {
    if (!r->last_model) {
      repl_error(r, "no model is defined yet; type a model block or :load a file");
      return NULL;
    }
    name = r->last_model;
  }
  Entry *e = find_entry(r, name);
  if (!e) {
    Buf names = {0};
    for (int i = 0; i < r->n; i++) {
      buf_str(&names, i ? ", " : "");
      buf_str(&names, r->e[i]->model->name);
    }
    if (r->n)
      repl_error(r, "no model named '%s'; defined: %s", name, names.s);
    else
      repl_error(r, "no model named '%s'; none is defined yet", name);
    free(names.s);
  }
  return e;
}

/* The model named by argv[1] when there is such a model, else the last one defined; *used
 * says whether argv[1] was the name. */
static Entry *model_arg(Repl *r, int argc, char **argv, int *used) {
  *used = 0;
  if (argc > 1 && find_entry(r, argv[1])) {
    *used = 1;
    return find_entry(r, argv[1]);
  }
  if (argc > 1 && (isalpha((unsigned char)argv[1][0]) || argv[1][0] == '_') &&
      !strchr(argv[1], '='))
    return need_model(r, argv[1]);
  return need_model(r, NULL);
}

static bool need_train(Repl *r, const Entry *e) {
  if (e->c.m->has_train)
    return true;
  repl_error(r, "model '%s' has no train block", e->model->name);
  return false;
}

static bool ensure_data(Repl *r, Entry *e) {
  if (e->td)
    return true;
  char err[1024];
  if (nnrt_train_data_load(e->c.m, &e->td, err, sizeof err) != 0) {
    e->td = NULL;
    repl_error(r, "%s", err);
    return false;
  }
  const NnrtInputStats *st = nnrt_train_data_stats(e->td);
  if (st->width > 0) {
    free(e->stats_buf);
    e->stats_buf = malloc((size_t)(2 * st->width) * sizeof(float));
    memcpy(e->stats_buf, st->mean, (size_t)st->width * sizeof(float));
    memcpy(e->stats_buf + st->width, st->std, (size_t)st->width * sizeof(float));
    e->stats = (NnrtInputStats){st->width, e->stats_buf, e->stats_buf + st->width};
  }
  return true;
}

static void cmd_train(Repl *r, int argc, char **argv) {
  int used;
  Entry *e = model_arg(r, argc, argv, &used);
  if (!e || !need_train(r, e))
    return;
  NnrtTrainOptions o = nnrt_train_options(e->c.m);
  bool seeded = false;
  for (int i = 1 + used; i < argc; i++) {
    char *eq = strchr(argv[i], '=');
    if (!eq) {
      repl_error(r, "expected KEY=VALUE, got '%s' (epochs=N lr=X batch=B seed=S)", argv[i]);
      return;
    }
    *eq = '\0';
    const char *why = set_train_option(&o, argv[i], eq + 1, &seeded);
    if (why) {
      repl_error(r, "%s: %s", argv[i], why);
      return;
    }
  }
  char err[1024];
  if (nnrt_check_train_options(e->c.m, &o, err, sizeof err) != 0 ||
      !batch_fits(e->c.m, &o, err, sizeof err)) {
    repl_error(r, "%s", err);
    return;
  }
  struct sigaction sa = {.sa_handler = on_sigint}, old;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, &old);
  interrupted = 0;
  if (ensure_data(r, e)) {
    /* seed=S starts again from the initialisers, as a program's --seed does. */
    if (seeded)
      nnrt_init_params(e->c.m, e->ws, o.seed);
    if (interrupted)
      repl_error(r, "interrupted");
    else if (train_and_report(e->c.m, e->ws, &o, e->td, err, sizeof err) != 0)
      repl_error(r, "%s%s", err, strncmp(err, "interrupted", 11) ? ""
                                   : "; the model keeps the weights of its last step");
  }
  sigaction(SIGINT, &old, NULL);
  interrupted = 0;
}

static void cmd_predict(Repl *r, int argc, char **argv) {
  int used;
  Entry *e = model_arg(r, argc, argv, &used);
  if (!e)
    return;
  const NnrtModel *m = e->c.m;
  int n = argc - 1 - used;
  if (n != m->input.width) {
    repl_error(r, "%s takes %lld input value%s, got %d", m->name, (long long)m->input.width,
               plural(m->input.width), n);
    return;
  }
  float *x = malloc((size_t)(m->input.width + m->output.width) * sizeof *x), *y = x + n;
  for (int i = 0; i < n; i++) {
    double v;
    if (!parse_f64(argv[1 + used + i], &v) || fabs(v) > FLT_MAX) {
      repl_error(r, "input value %d ('%s') is not a finite number", i + 1, argv[1 + used + i]);
      free(x);
      return;
    }
    x[i] = (float)v;
  }
  bool standardize = m->has_train && m->train.scaling == NNRT_SCALE_STANDARDIZE;
  if (standardize && e->stats.width == 0)
    repl_error(r, "model '%s' standardises its inputs with statistics of its training data: "
               ":train it or :loadw its weights first", m->name);
  else {
    nnrt_scale_inputs(m, standardize ? &e->stats : NULL, x, 1);
    nnrt_predict_rows(m, e->ws, x, 1, y);
    nnrt_print_outputs(stdout, m, y, "%.6g");
  }
  free(x);
}

static void cmd_eval(Repl *r, int argc, char **argv) {
  int used;
  Entry *e = model_arg(r, argc, argv, &used);
  if (!e || !need_train(r, e) || !ensure_data(r, e))
    return;
  const NnrtModel *m = e->c.m;
  double loss, acc;
  nnrt_evaluate_set(m, e->ws, &e->td->train, &loss, &acc);
  printf("loss %.6f", loss);
  if (m->metric != NNRT_METRIC_NONE)
    printf("  accuracy %.4f", acc);
  if (e->td->val.rows > 0) {
    nnrt_evaluate_set(m, e->ws, &e->td->val, &loss, &acc);
    printf("  val_loss %.6f", loss);
    if (m->metric != NNRT_METRIC_NONE)
      printf("  val_accuracy %.4f", acc);
  }
  putchar('\n');
}

static void cmd_params(Repl *r, int argc, char **argv) {
  int used;
  Entry *e = model_arg(r, argc, argv, &used);
  if (!e)
    return;
  const NnrtModel *m = e->c.m;
  int w = 4;
  for (int32_t i = 0; i < m->n_params; i++)
    if (m->params[i].role == NNRT_ROLE_PARAM && (int)strlen(m->params[i].name) > w)
      w = (int)strlen(m->params[i].name);
  for (int32_t i = 0; i < m->n_params; i++) {
    const NnrtParam *p = &m->params[i];
    if (p->role != NNRT_ROLE_PARAM)
      continue;
    char shape[64] = "[", *s = shape + 1;
    for (int d = 0; d < p->rank; d++)
      s += snprintf(s, 16, "%s%lld", d ? ", " : "", (long long)p->dim[d]);
    strcpy(s, "]");
    const float *v = e->ws + p->offset;
    double norm = 0;
    for (int64_t k = 0; k < p->size; k++)
      norm += (double)v[k] * (double)v[k];
    printf("%-*s  %-10s  norm %-9.6g ", w, p->name, shape, sqrt(norm));
    for (int64_t k = 0; k < p->size && k < 6; k++)
      printf(" %.6g", (double)v[k]);
    puts(p->size > 6 ? " ..." : "");
  }
}

static void cmd_weights(Repl *r, int argc, char **argv, bool save) {
  if (argc < 2 || argc > 3) {
    repl_error(r, "usage: %s [MODEL] PATH", save ? ":save" : ":loadw");
    return;
  }
  Entry *e = argc == 3 ? need_model(r, argv[1]) : need_model(r, NULL);
  if (!e)
    return;
  const NnrtModel *m = e->c.m;
  const char *path = argv[argc - 1];
  char err[1024];
  bool standardize = m->has_train && m->train.scaling == NNRT_SCALE_STANDARDIZE;
  if (save) {
    if (nnrt_save_stats(m, e->ws, e->stats.width ? &e->stats : NULL, path, err, sizeof err))
      repl_error(r, "%s", err);
    else
      printf("saved weights of %s to %s\n", m->name, path);
    return;
  }
  NnrtInputStats st = {0};
  if (standardize) {
    st.width = m->input.width;
    st.mean = malloc((size_t)(2 * st.width) * sizeof(float));
    st.std = st.mean + st.width;
  }
  if (nnrt_load_stats(m, e->ws, standardize ? &st : NULL, path, err, sizeof err)) {
    repl_error(r, "%s", err);
    free(st.mean);
    return;
  }
  if (standardize) {
    free(e->stats_buf);
    e->stats_buf = st.mean;
    e->stats = st;
  }
  printf("loaded weights of %s from %s\n", m->name, path);
}

static void cmd_ir(Repl *r, Entry *e) {
  Compiled c = {0};
  c.text = xstrdup(e->c.text);
  compilation_init(&c.comp, e->c.comp.src.name, c.text, strlen(c.text), stderr);
  c.comp.want_model = e->model->name;
  if (compilation_front(&c.comp)) {
    Program p;
    program_plan(&p, &c.comp.graph, c.comp.model, c.comp.src.name);
    LLVMContextRef ctx = LLVMContextCreate();
    LLVMModuleRef mod = codegen_module(&p, ctx, false);
    if (mod) {
      char *ir = LLVMPrintModuleToString(mod);
      fputs(ir, stdout);
      LLVMDisposeMessage(ir);
      LLVMDisposeModule(mod);
    }
    LLVMContextDispose(ctx);
  } else
    repl_error(r, "model '%s' no longer compiles", e->model->name);
  compiled_free(&c);
}

static const char help[] =
  "Type an expression to evaluate it, e.g. relu([0.4, 0.6] · [2, 3] + 1), or a model or\n"
  "train block to define it (a line that opens { ( or [ continues until they are closed).\n"
  "MODEL may be left out: the commands then use the model defined last.\n"
  "  :load FILE              define the models and train blocks of FILE\n"
  "  :reload                 load the last file again, keeping the weights that still fit\n"
  "  :list                   the models defined\n"
  "  :train [MODEL] [epochs=N] [lr=X] [batch=B] [seed=S] [log_every=K]\n"
  "                          train from the current weights (seed=S starts again from the\n"
  "                          initialisers with seed S); Ctrl-C stops the training\n"
  "  :predict [MODEL] X1 ... the outputs for one input row\n"
  "  :eval [MODEL]           loss (and accuracy) of the current weights on the model's data\n"
  "  :params [MODEL]         parameters: shape, norm, first values\n"
  "  :explain [MODEL]        the derived backward pass\n"
  "  :graph [MODEL]          the graph (as nnc --emit=grad)\n"
  "  :ir [MODEL]             the LLVM IR the JIT gets (before optimisation)\n"
  "  :save [MODEL] PATH      write the weights (safetensors, as a compiled program does)\n"
  "  :loadw [MODEL] PATH     read weights written by :save or by a compiled program\n"
  "  :time                   time each input (on/off)\n"
  "  :opt 0|1|2|3            optimisation level of the JIT's code for the next definitions\n"
  "                          (default 2, as nnc's: the code is then the compiled program's)\n"
  "  :help                   this text\n"
  "  :quit                   leave (also Ctrl-D)\n";

/* Returns false for :quit. */
static bool command(Repl *r, char *line) {
  char *argv[MAX_ARGS];
  int argc = 0;
  for (char *t = strtok(line, " \t\r\n"); t && argc < MAX_ARGS; t = strtok(NULL, " \t\r\n"))
    argv[argc++] = t;
  if (argc == 0)
    return true;
  const char *c = argv[0] + 1;
  int used;
  Entry *e;
  if (!strcmp(c, "quit") || !strcmp(c, "q") || !strcmp(c, "exit"))
    return false;
  if (!strcmp(c, "help") || !strcmp(c, "h") || !strcmp(c, "?"))
    fputs(help, stdout);
  else if (!strcmp(c, "load")) {
    if (argc != 2)
      repl_error(r, "usage: :load FILE");
    else
      load_file(r, argv[1]);
  } else if (!strcmp(c, "reload")) {
    if (!r->last_file)
      repl_error(r, "no file loaded yet; use :load FILE");
    else
      load_file(r, r->last_file);
  } else if (!strcmp(c, "list")) {
    for (int i = 0; i < r->n; i++) {
      Buf b = {0};
      describe(r->e[i], &b);
      printf("%s (%s) from %s\n", r->e[i]->model->name, b.s, r->e[i]->model->src);
      free(b.s);
    }
  } else if (!strcmp(c, "train"))
    cmd_train(r, argc, argv);
  else if (!strcmp(c, "predict"))
    cmd_predict(r, argc, argv);
  else if (!strcmp(c, "eval"))
    cmd_eval(r, argc, argv);
  else if (!strcmp(c, "params"))
    cmd_params(r, argc, argv);
  else if (!strcmp(c, "save") || !strcmp(c, "loadw"))
    cmd_weights(r, argc, argv, c[0] == 's');
  else if (!strcmp(c, "opt")) {
    if (argc != 2 || strlen(argv[1]) != 1 || argv[1][0] < '0' || argv[1][0] > '3')
      repl_error(r, "usage: :opt 0|1|2|3 (now %d)", jit_opt);
    else {
      jit_opt = argv[1][0] - '0';
      printf("JIT code of the next definitions at -O%d\n", jit_opt);
    }
  } else if (!strcmp(c, "time")) {
    r->timing = !r->timing;
    printf("timing %s\n", r->timing ? "on" : "off");
  } else if (!strcmp(c, "explain") || !strcmp(c, "graph") || !strcmp(c, "ir")) {
    if (argc > 2)
      repl_error(r, "usage: :%s [MODEL]", c);
    else if ((e = model_arg(r, argc, argv, &used))) {
      if (c[0] == 'i')
        cmd_ir(r, e);
      else if (c[0] == 'g')
        graph_print(stdout, &e->c.comp.graph);
      else if (need_train(r, e))
        explain_print(stdout, &e->c.comp.graph, &e->c.comp.model->train.opt);
    }
  } else
    repl_error(r, "unknown command ':%s'; :help lists the commands", c);
  return true;
}

/* ---- Reading input ---- */

/* The nesting depth of ( [ { after text, outside comments and strings. */
static int depth_of(const char *s) {
  int depth = 0;
  for (; *s; s++) {
    if (*s == '#')
      while (s[1] && s[1] != '\n')
        s++;
    else if (*s == '"') {
      while (s[1] && s[1] != '"' && s[1] != '\n')
        s += s[1] == '\\' && s[2] ? 2 : 1;
      if (s[1] == '"')
        s++;
    } else if (*s == '(' || *s == '[' || *s == '{')
      depth++;
    else if (*s == ')' || *s == ']' || *s == '}')
      depth--;
  }
  return depth;
}

static bool starts_with_word(const char *s, const char *w) {
  size_t n = strlen(w);
  return !strncmp(s, w, n) && !isalnum((unsigned char)s[n]) && s[n] != '_' && s[n] != '.';
}

static char *history_path;
static bool cancelled; /* Ctrl-C at a prompt: drop the input typed so far */

/* One line without its line break, or NULL at the end of input. */
static char *read_line(Repl *r, bool more) {
  if (r->tty) {
    for (;;) {
      interrupted = 0;
      char *l = readline(more ? "...  " : "nnc> ");
      if (l || !interrupted)
        return l;
      putchar('\n'); /* Ctrl-C at the prompt: a fresh prompt */
      if (more) {
        cancelled = true;
        return xstrdup("");
      }
    }
  }
  char *l = NULL;
  size_t cap = 0;
  ssize_t n = getline(&l, &cap, stdin);
  if (n < 0) {
    free(l);
    return NULL;
  }
  if (n > 0 && l[n - 1] == '\n')
    l[n - 1] = '\0';
  return l;
}

/* One input: a command line, or lines until ( [ { balance. NULL at the end of input. */
static char *read_input(Repl *r) {
  Buf b = {0};
  for (;;) {
    char *l = read_line(r, b.s != NULL);
    if (!l)
      return b.s;
    if (cancelled) {
      cancelled = false;
      free(l);
      free(b.s);
      b = (Buf){0};
      continue;
    }
    r->line++;
    if (!b.s) {
      r->cmdline = r->line;
      const char *t = l + strspn(l, " \t");
      if (!*t || *t == '#') {
        free(l);
        r->cmdline = 0;
        continue;
      }
    }
    buf_str(&b, l);
    buf_str(&b, "\n");
    free(l);
    const char *t = b.s + strspn(b.s, " \t");
    if (*t == ':' || depth_of(b.s) <= 0) {
      if (r->tty && history_path) {
        b.s[b.n - 1] = '\0';
        add_history(b.s);
        b.s[b.n - 1] = '\n';
      }
      return b.s;
    }
  }
}

int repl_main(int argc, char **argv) {
  if (argc > 1 || (argc == 1 && (!strcmp(argv[0], "--help") || !strcmp(argv[0], "-h")))) {
    fputs("usage: nnc repl [FILE.nn]   (also: nnc -i [FILE.nn])\n", argc > 1 ? stderr : stdout);
    return argc > 1 ? EXIT_USAGE : 0;
  }
  Repl r = {.tty = isatty(STDIN_FILENO)};
  /* libedit reads multibyte characters (·, ᵀ) only in a UTF-8 locale. */
  const char *loc = setlocale(LC_CTYPE, "");
  if (!loc || (!strstr(loc, "UTF-8") && !strstr(loc, "utf8")))
    setlocale(LC_CTYPE, "C.UTF-8");
  setvbuf(stdout, NULL, _IOLBF, 0);
  const char *home = getenv("HOME");
  if (r.tty) {
    printf("nnc %s: type an expression, a model, or :help\n", NNC_VERSION);
    struct sigaction sa = {.sa_handler = on_sigint}; /* no SA_RESTART: readline returns */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    rl_catch_signals = 0;
    using_history();
    stifle_history(1000);
    if (home && *home) {
      Buf p = {0};
      buf_str(&p, home);
      buf_str(&p, "/.nnc_history");
      history_path = p.s;
      read_history(history_path);
    }
  }
  if (argc == 1) {
    r.cmdline = 0;
    load_file(&r, argv[0]);
  }
  char *in;
  while ((in = read_input(&r))) {
    double t0 = now_ms();
    const char *t = in + strspn(in, " \t\n");
    bool go_on = true;
    if (*t == ':')
      go_on = command(&r, (char *)t);
    else if (starts_with_word(t, "model") || starts_with_word(t, "train"))
      define_source(&r, "<repl>", in, r.cmdline, false);
    else
      eval_expr(&r, in, r.cmdline);
    if (r.timing && go_on)
      printf("time: %.1f ms\n", now_ms() - t0);
    fflush(stdout);
    free(in);
    if (!go_on)
      break;
  }
  if (history_path) {
    write_history(history_path);
    free(history_path);
    history_path = NULL;
  }
  for (int i = 0; i < r.n; i++)
    entry_free(r.e[i]);
  free(r.e);
  free(r.last_file);
  return 0;
}

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
 * ends nnrt_train_on's loop after the current step (the runtime has no interrupt hook yet).
 *
 * Files (repl_internal.h): this one holds the loop, line editing, option values, training
 * output and `nnc run`; repl_eval.c compiles definitions and expressions on the JIT;
 * repl_cmd.c runs the `:` commands. */
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

#include "internal.h"
#include "codegen.h"
#include "driver.h"
#include "explain.h"
#include "jit.h"
#include "parse.h"

#include "repl_internal.h"

double repl_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

char *repl_xstrdup(const char *s) {
  size_t n = strlen(s) + 1;
  char *d = malloc(n);
  if (!d) {
    fputs("nnc: out of memory\n", stderr);
    exit(EXIT_INTERNAL);
  }
  return memcpy(d, s, n);
}


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
void repl_buf_str(Buf *b, const char *s) { buf_add(b, s, strlen(s)); }
void repl_buf_rep(Buf *b, char c, size_t n) {
  for (size_t i = 0; i < n; i++)
    buf_add(b, &c, 1);
}

/* ---- Training and what a generated program prints around it ---- */

volatile sig_atomic_t repl_interrupted; /* Ctrl-C at the prompt or while data loads */

void repl_on_sigint(int sig) {
  (void)sig;
  repl_interrupted = 1;
}

/* Trains m on td from the weights in ws, with a generated program's output on stdout: the
 * runtime's progress reporter (bar on a terminal, epoch lines), then the final loss, early
 * stopping's restored epoch and a data table's predictions. nnrt_train_on handles SIGINT itself
 * (the run stops after the current step). Returns an NNRT_EXIT_* status, msg set on failure. */
int repl_train_and_report(const NnrtModel *m, float *ws, NnrtTrainOptions *o,
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

bool repl_parse_f64(const char *s, double *out) {
  char *end;
  double v = strtod(s, &end);
  if (!*s || isspace((unsigned char)*s) || *end || !isfinite(v))
    return false;
  *out = v;
  return true;
}

/* One training option by name; *seeded tells that a seed was given. NULL or the error. */
const char *repl_set_train_option(NnrtTrainOptions *o, const char *key, const char *v,
                                  bool *seeded) {
  if (!strcmp(key, "epochs"))
    return parse_i64(v, 1, &o->epochs) ? NULL : "epochs must be an integer >= 1";
  if (!strcmp(key, "batch"))
    return parse_i64(v, 1, &o->batch) ? NULL : "batch must be an integer >= 1";
  if (!strcmp(key, "lr"))
    return repl_parse_f64(v, &o->lr) && o->lr > 0 ? NULL : "lr must be a positive number";
  if (!strcmp(key, "seed")) {
    *seeded = true;
    return parse_u64(v, &o->seed) ? NULL : "seed must be an integer from 0 to 2^64-1";
  }
  if (!strcmp(key, "log_every"))
    return parse_i64(v, 0, &o->log_every) ? NULL : "log_every must be an integer >= 0";
  return "unknown training option (epochs, lr, batch, seed, log_every)";
}

/* The program's own check: the workspace holds at most max_batch rows. */
bool repl_batch_fits(const NnrtModel *m, const NnrtTrainOptions *o, char *msg, size_t n) {
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
  char *text = driver_read_source(file, &len, err, sizeof err);
  if (!text) {
    fprintf(stderr, "nnc: error: %s\n", err);
    return EXIT_IO;
  }
  Compiled c;
  if (!repl_compile_jit(&c, file, text, model, stderr))
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
      const char *why = repl_set_train_option(&o, keys[k], vals[k], &seeded);
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
                     !repl_batch_fits(m, &o, err, sizeof err))) {
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
    rc = repl_train_and_report(m, ws, &o, td, err, sizeof err);
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
  repl_compiled_free(&c);
  return rc;
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
      repl_interrupted = 0;
      char *l = readline(more ? "...  " : "nnc> ");
      if (l || !repl_interrupted)
        return l;
      putchar('\n'); /* Ctrl-C at the prompt: a fresh prompt */
      if (more) {
        cancelled = true;
        return repl_xstrdup("");
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
    repl_buf_str(&b, l);
    repl_buf_str(&b, "\n");
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
    printf("nnc %s: type an expression, a model, or :help\n", nnc_version);
    struct sigaction sa = {.sa_handler = repl_on_sigint}; /* no SA_RESTART: readline returns */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    rl_catch_signals = 0;
    using_history();
    stifle_history(1000);
    if (home && *home) {
      Buf p = {0};
      repl_buf_str(&p, home);
      repl_buf_str(&p, "/.nnc_history");
      history_path = p.s;
      read_history(history_path);
    }
  }
  if (argc == 1) {
    r.cmdline = 0;
    repl_load_file(&r, argv[0]);
  }
  char *in;
  while ((in = read_input(&r))) {
    double t0 = repl_now_ms();
    const char *t = in + strspn(in, " \t\n");
    bool go_on = true;
    if (*t == ':')
      go_on = repl_command(&r, (char *)t);
    else if (starts_with_word(t, "model") || starts_with_word(t, "train"))
      repl_define_source(&r, "<repl>", in, r.cmdline, false);
    else
      repl_eval_expr(&r, in, r.cmdline);
    if (r.timing && go_on)
      printf("time: %.1f ms\n", repl_now_ms() - t0);
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
    repl_entry_free(r.e[i]);
  free(r.e);
  free(r.last_file);
  return 0;
}
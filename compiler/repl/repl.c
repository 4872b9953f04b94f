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
 * Training is a generated program's train command run on the definition's weights and data
 * (nnrt_cli_train), so its options, messages and output are the program's.
 *
 * Ctrl-C. SIGINT's handler here (repl_on_sigint) only sets repl_interrupted. On a terminal it is
 * installed for the whole session without SA_RESTART, so Ctrl-C at a prompt makes readline
 * return: a fresh prompt, dropping any unfinished input. :train installs it around the run,
 * on a terminal or not: a Ctrl-C while the data loads cancels the run before it starts
 * (NnrtTrainState.interrupted). While the run trains, nnrt_train_on has its own handler: the run
 * stops after the current step, the model keeps the weights of that step, and the REPL's
 * handler is back when it returns.
 *
 * Files (repl_internal.h): this one holds the loop, line editing and `nnc run`; repl_eval.c compiles definitions and expressions on the JIT;
 * repl_cmd.c runs the `:` commands. */
#include "repl.h"

#include <ctype.h>
#include <locale.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <editline/readline.h>
#include <llvm-c/Core.h>

#include "nnrt_host.h"
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


void repl_buf_add(Buf *b, const char *s, size_t n) {
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
void repl_buf_str(Buf *b, const char *s) { repl_buf_add(b, s, strlen(s)); }
void repl_buf_rep(Buf *b, char c, size_t n) {
  for (size_t i = 0; i < n; i++)
    repl_buf_add(b, &c, 1);
}

/* ---- Ctrl-C ---- */

volatile sig_atomic_t repl_interrupted;

void repl_on_sigint(int sig) {
  (void)sig;
  repl_interrupted = 1;
}

/* ---- nnc run ---- */

static const char run_usage_line[] = "usage: nnc run FILE.nn [--model NAME] [COMMAND] [OPTIONS]\n";

static int run_usage(const char *fmt, const char *arg) {
  fputs("nnc run: error: ", stderr);
  fprintf(stderr, fmt, arg);
  fprintf(stderr, "\n%s", run_usage_line);
  return EXIT_USAGE;
}

/* What nnc run was asked: the file, the model, and the program's arguments (argv[0] is left for
 * the command the program's messages show). */
typedef struct {
  const char *file, *model;
  int argc;
  char **argv;
} RunArgs;

/* nnc run's own arguments are --help before the file and --model NAME anywhere; every other
 * argument after the file is the program's, in order. 0, -1 after --help, or an exit code. */
static int run_args(int argc, char **argv, RunArgs *r) {
  *r = (RunArgs){.argc = 1, .argv = calloc((size_t)argc + 2, sizeof(char *))};
  if (!r->argv)
    return run_usage("%s", "out of memory");
  for (int i = 0; i < argc; i++) {
    const char *a = argv[i];
    if (!r->file && (!strcmp(a, "--help") || !strcmp(a, "-h"))) {
      printf("%s\nJIT-compiles the model (--model NAME: that model of the file, else the first)"
             " and runs\nthe command line of its compiled program: the same commands, options,"
             " output, files\nand exit codes. `nnc run xor.nn train --epochs 100` is `./xor train"
             " --epochs 100`\nafter `nnc xor.nn`, the weights going to xor.safetensors;"
             " `nnc run FILE.nn --help`\nprints the program's help.\n", run_usage_line);
      return -1;
    }
    if (!strcmp(a, "--model")) {
      if (i + 1 == argc)
        return run_usage("option '%s' needs a value", a);
      r->model = argv[++i];
    } else if (!strncmp(a, "--model=", 8))
      r->model = a + 8;
    else if (r->file)
      r->argv[r->argc++] = argv[i];
    else if (a[0] == '-')
      return run_usage("'%s' before FILE.nn: the program's options go after it", a);
    else
      r->file = a;
  }
  return r->file ? 0 : run_usage("%s", "no input file");
}

/* The program nnc FILE.nn would write, named as it: messages say "xor: ...", hints
 * "nnc run xor.nn ...", and the weights go to xor.safetensors in the current directory. */
static void run_names(const RunArgs *r, Buf *prog, Buf *command, Buf *weights) {
  const char *base = strrchr(r->file, '/');
  base = base ? base + 1 : r->file;
  size_t n = strlen(base);
  if (n > 3 && !strcmp(base + n - 3, ".nn"))
    n -= 3;
  repl_buf_add(prog, n ? base : "a", n ? n : 1);
  repl_buf_str(command, "nnc run ");
  repl_buf_str(command, r->file);
  if (r->model) {
    repl_buf_str(command, " --model ");
    repl_buf_str(command, r->model);
  }
  repl_buf_str(weights, prog->s);
  repl_buf_str(weights, ".safetensors");
}

int run_main(int argc, char **argv) {
  RunArgs r;
  int rc = run_args(argc, argv, &r);
  if (rc) {
    free(r.argv);
    return rc < 0 ? 0 : rc;
  }
  char err[4200];
  size_t len;
  char *text = driver_read_source(r.file, &len, err, sizeof err);
  Compiled c;
  if (!text) {
    fprintf(stderr, "nnc: error: %s\n", err);
    rc = EXIT_IO;
  } else if (!repl_compile_jit(&c, r.file, text, r.model, DEFAULT_OPT_LEVEL, NULL, stderr)) {
    rc = EXIT_INPUT;
  } else {
    Buf prog = {0}, command = {0}, weights = {0};
    run_names(&r, &prog, &command, &weights);
    NnrtCliNames names = {.prog = prog.s, .command = command.s, .weights = weights.s};
    r.argv[0] = command.s;
    rc = nnrt_cli_main(c.m, &names, r.argc, r.argv, stdin, stdout, stderr);
    free(prog.s);
    free(command.s);
    free(weights.s);
    repl_compiled_free(&c);
  }
  free(r.argv);
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
  Repl r = {.tty = isatty(STDIN_FILENO), .jit_opt = DEFAULT_OPT_LEVEL};
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
    if (*t == ':')
      repl_command(&r, (char *)t);
    else if (starts_with_word(t, "model") || starts_with_word(t, "train"))
      repl_define_source(&r, "<repl>", in, r.cmdline, false);
    else
      repl_eval_expr(&r, in, r.cmdline);
    if (r.timing && !r.quit)
      printf("time: %.1f ms\n", repl_now_ms() - t0);
    fflush(stdout);
    free(in);
    if (r.quit)
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
/* repl_cmd: the `:` commands, one table of them (repl_commands: name, arguments, help, handler)
 * from which :help is printed and repl_command dispatches. Adding a command is a row and its
 * handler. A bad command prints a diagnostic and returns to the loop. docs/repl.md describes
 * each command. */
#include <ctype.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "repl_internal.h"

/* ---- Models named by commands ---- */

static Entry *need_model(Repl *r, const char *name) {
  if (!name) {
    if (!r->last_model) {
      repl_error(r, "no model is defined yet; type a model block or :load a file");
      return NULL;
    }
    name = r->last_model;
  }
  Entry *e = repl_find_entry(r, name);
  if (!e) {
    Buf names = {0};
    for (int i = 0; i < r->n; i++) {
      repl_buf_str(&names, i ? ", " : "");
      repl_buf_str(&names, r->e[i]->model->name);
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
  if (argc > 1 && repl_find_entry(r, argv[1])) {
    *used = 1;
    return repl_find_entry(r, argv[1]);
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

/* Room for the input statistics of the data the model trains on, for a model that standardises
 * its inputs (width 0 until known). */
static NnrtInputStats *stats_room(Entry *e) {
  const NnrtModel *m = e->c.m;
  if (!m->has_train || m->train.scaling != NNRT_SCALE_STANDARDIZE)
    return NULL;
  if (!e->stats_buf) {
    e->stats_buf = malloc((size_t)(2 * m->input.width) * sizeof(float));
    if (!e->stats_buf)
      return NULL;
    e->stats = (NnrtInputStats){0, e->stats_buf, e->stats_buf + m->input.width};
  }
  return &e->stats;
}

/* The train block's data, loaded by the first :train or :eval and kept (with its statistics). */
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
  NnrtInputStats *to = stats_room(e);
  if (to && st->width > 0) {
    memcpy(to->mean, st->mean, (size_t)st->width * sizeof(float));
    memcpy(to->std, st->std, (size_t)st->width * sizeof(float));
    to->width = st->width;
  }
  return true;
}

static int data_interrupted(void) { return repl_interrupted; }

/* epochs=10 is the REPL's spelling of --epochs=10 (and log_every=K of --log-every=K). */
static char *as_flag(const char *arg) {
  const char *eq = strchr(arg, '=');
  if (arg[0] == '-' || !eq)
    return repl_xstrdup(arg);
  Buf b = {0};
  repl_buf_str(&b, "--");
  for (const char *p = arg; p < eq; p++)
    repl_buf_rep(&b, *p == '_' ? '-' : *p, 1);
  repl_buf_str(&b, eq);
  return b.s;
}

/* The program's train command (the runtime's, nnrt_cli_train) on the model's weights and data:
 * the same flags, checks, messages and output, continuing from the current weights and saving
 * only with --save. Ctrl-C while the data loads cancels the run; during the run the runtime
 * stops after the current step. */
static void cmd_train(Repl *r, int argc, char **argv) {
  int used;
  Entry *e = model_arg(r, argc, argv, &used);
  if (!e)
    return;
  int n = argc - 1 - used;
  char **flags = calloc((size_t)n + 1, sizeof *flags);
  for (int i = 0; i < n; i++)
    flags[i] = as_flag(argv[1 + used + i]);
  char prog[32];
  snprintf(prog, sizeof prog, "<repl>:%u: error", r->cmdline);
  NnrtCliNames names = {.prog = prog};
  NnrtTrainState st = {.ws = e->ws, .td = &e->td, .stats = stats_room(e),
                       .interrupted = data_interrupted};
  struct sigaction sa = {.sa_handler = repl_on_sigint}, old;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, &old);
  repl_interrupted = 0;
  fflush(stdout);
  int rc = nnrt_cli_train(e->c.m, &names, &st, n, flags, stdout, stderr);
  if (rc == NNRT_EXIT_INTERRUPTED)
    fprintf(stderr, "<repl>:%u: note: the model keeps the weights it has now\n", r->cmdline);
  e->trained |= rc == NNRT_EXIT_OK || rc == NNRT_EXIT_INTERRUPTED;
  sigaction(SIGINT, &old, NULL);
  repl_interrupted = 0;
  for (int i = 0; i < n; i++)
    free(flags[i]);
  free(flags);
}

static void cmd_predict(Repl *r, int argc, char **argv) {
  int used;
  Entry *e = model_arg(r, argc, argv, &used);
  if (!e)
    return;
  const NnrtModel *m = e->c.m;
  float *x = malloc((size_t)(m->input.width + m->output.width) * sizeof *x);
  float *y = x + m->input.width;
  char err[256];
  if (nnrt_parse_input_row(m, argc - 1 - used, argv + 1 + used, x, err, sizeof err) != 0) {
    repl_error(r, "%s", err);
    free(x);
    return;
  }
  bool standardize = m->has_train && m->train.scaling == NNRT_SCALE_STANDARDIZE;
  if (standardize && e->stats.width == 0)
    repl_error(r, "model '%s' standardises its inputs with statistics of its training data: "
               ":train it or :loadw its weights first", m->name);
  else {
    /* The compiled program refuses to predict before training; here the initial weights are
     * worth a look, so they answer, with a warning. */
    if (m->has_train && !e->trained) {
      fflush(stdout);
      fprintf(stderr, "<repl>:%u: warning: model '%s' is untrained: these are the outputs of "
                      "its initial weights; :train it or :loadw a weights file first\n",
              r->cmdline, m->name);
    }
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
  nnrt_evaluate_train_data(m, e->ws, e->td, NNRT_SET_TRAIN, &loss, &acc);
  printf("loss %.6f", loss);
  if (m->metric != NNRT_METRIC_NONE)
    printf("  accuracy %.4f", acc);
  if (nnrt_train_data_rows(e->td, NNRT_SET_VALIDATION) > 0) {
    nnrt_evaluate_train_data(m, e->ws, e->td, NNRT_SET_VALIDATION, &loss, &acc);
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

/* :save and :loadw. */
static void weights(Repl *r, int argc, char **argv, bool save) {
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
  e->trained = true;
  printf("loaded weights of %s from %s\n", m->name, path);
}

static void cmd_save(Repl *r, int argc, char **argv) { weights(r, argc, argv, true); }
static void cmd_loadw(Repl *r, int argc, char **argv) { weights(r, argc, argv, false); }

/* The model of a command that takes at most one argument, the model's name. */
static Entry *only_model_arg(Repl *r, int argc, char **argv) {
  int used;
  if (argc <= 2)
    return model_arg(r, argc, argv, &used);
  repl_error(r, "usage: %s [MODEL]", argv[0]);
  return NULL;
}

/* A fresh front end of e's model: with the layout pass, the graph the JIT runs; without it, the
 * graph in the language's layout, which :graph and :explain show. False after an error. */
static bool recompile(Repl *r, Entry *e, Compiled *c, bool layout) {
  *c = (Compiled){.text = repl_xstrdup(e->c.text)};
  compilation_init(&c->comp, e->c.comp.src.name, c->text, strlen(c->text), stderr);
  c->comp.want_model = e->model->name;
  c->comp.src.paths_from = e->c.comp.src.paths_from;
  c->comp.layout = layout;
  if (compilation_front(&c->comp))
    return true;
  repl_error(r, "model '%s' no longer compiles", e->model->name);
  repl_compiled_free(c);
  return false;
}

static void cmd_ir(Repl *r, int argc, char **argv) {
  Entry *e = only_model_arg(r, argc, argv);
  Compiled c;
  if (!e || !recompile(r, e, &c, true))
    return;
  Program p;
  compilation_plan(&c.comp, &p, c.comp.src.name);
  LLVMContextRef ctx = LLVMContextCreate();
  LLVMModuleRef mod = codegen_module(&p, ctx, false);
  if (mod) {
    char *ir = LLVMPrintModuleToString(mod);
    fputs(ir, stdout);
    LLVMDisposeMessage(ir);
    LLVMDisposeModule(mod);
  }
  LLVMContextDispose(ctx);
  repl_compiled_free(&c);
}

static void cmd_graph(Repl *r, int argc, char **argv) {
  Entry *e = only_model_arg(r, argc, argv);
  Compiled c;
  if (!e || !recompile(r, e, &c, false))
    return;
  graph_print(stdout, &c.comp.graph);
  repl_compiled_free(&c);
}

static void cmd_explain(Repl *r, int argc, char **argv) {
  Entry *e = only_model_arg(r, argc, argv);
  Compiled c;
  if (!e || !need_train(r, e) || !recompile(r, e, &c, false))
    return;
  explain_print(stdout, &c.comp.graph, &c.comp.model->train.opt);
  repl_compiled_free(&c);
}

static void cmd_load(Repl *r, int argc, char **argv) {
  if (argc != 2)
    repl_error(r, "usage: :load FILE");
  else
    repl_load_file(r, argv[1]);
}

static void cmd_reload(Repl *r, int argc, char **argv) {
  (void)argc, (void)argv;
  if (!r->last_file)
    repl_error(r, "no file loaded yet; use :load FILE");
  else
    repl_load_file(r, r->last_file);
}

static void cmd_list(Repl *r, int argc, char **argv) {
  (void)argc, (void)argv;
  for (int i = 0; i < r->n; i++) {
    Buf b = {0};
    repl_describe(r->e[i], &b);
    printf("%s (%s) from %s\n", r->e[i]->model->name, b.s, r->e[i]->model->src);
    free(b.s);
  }
}

static void cmd_opt(Repl *r, int argc, char **argv) {
  if (argc != 2 || strlen(argv[1]) != 1 || argv[1][0] < '0' || argv[1][0] > '3') {
    repl_error(r, "usage: :opt 0|1|2|3 (now %d)", r->jit_opt);
    return;
  }
  r->jit_opt = argv[1][0] - '0';
  printf("JIT code of the next definitions at -O%d\n", r->jit_opt);
}

static void cmd_time(Repl *r, int argc, char **argv) {
  (void)argc, (void)argv;
  r->timing = !r->timing;
  printf("timing %s\n", r->timing ? "on" : "off");
}

static void cmd_help(Repl *r, int argc, char **argv) {
  (void)r, (void)argc, (void)argv;
  repl_print_help(stdout);
}

static void cmd_quit(Repl *r, int argc, char **argv) {
  (void)argc, (void)argv;
  r->quit = true;
}

/* ---- The table ---- */

const ReplCommand repl_commands[] = {
  {"load", {NULL}, "FILE", "define the models and train blocks of FILE", cmd_load},
  {"reload", {NULL}, "", "load the last file again, keeping the weights that still fit",
   cmd_reload},
  {"list", {NULL}, "", "the models defined", cmd_list},
  {"train", {NULL}, "[MODEL] [OPTIONS]",
   "train from the current weights: a compiled program's train\n"
   "command and its options (:train --help lists them; epochs=N\n"
   "is --epochs=N); --seed S starts again from the initialisers,\n"
   "--save PATH writes the weights; Ctrl-C stops the training",
   cmd_train},
  {"predict", {NULL}, "[MODEL] X1 ...", "the outputs for one input row", cmd_predict},
  {"eval", {NULL}, "[MODEL]", "loss (and accuracy) of the current weights on the model's data",
   cmd_eval},
  {"params", {NULL}, "[MODEL]", "parameters: shape, norm, first values", cmd_params},
  {"explain", {NULL}, "[MODEL]", "the derived backward pass", cmd_explain},
  {"graph", {NULL}, "[MODEL]", "the graph (as nnc --emit=grad)", cmd_graph},
  {"ir", {NULL}, "[MODEL]", "the LLVM IR the JIT gets (before optimisation)", cmd_ir},
  {"save", {NULL}, "[MODEL] PATH", "write the weights (safetensors, as a compiled program does)",
   cmd_save},
  {"loadw", {NULL}, "[MODEL] PATH", "read weights written by :save or by a compiled program",
   cmd_loadw},
  {"time", {NULL}, "", "time each input (on/off)", cmd_time},
  {"opt", {NULL}, "0|1|2|3",
   "optimisation level of the JIT's code for the next definitions\n"
   "(default 2, as nnc's: the code is then the compiled program's)",
   cmd_opt},
  {"help", {"h", "?"}, "", "this text", cmd_help},
  {"quit", {"q", "exit"}, "", "leave (also Ctrl-D)", cmd_quit},
};
const size_t repl_n_commands = sizeof repl_commands / sizeof *repl_commands;

const ReplCommand *repl_find_command(const char *name) {
  for (size_t i = 0; i < repl_n_commands; i++) {
    const ReplCommand *c = &repl_commands[i];
    if (!strcmp(c->name, name))
      return c;
    for (size_t k = 0; k < sizeof c->alias / sizeof *c->alias && c->alias[k]; k++)
      if (!strcmp(c->alias[k], name))
        return c;
  }
  return NULL;
}

enum { HELP_COLUMN = 26 }; /* where :help's descriptions start */

void repl_print_help(FILE *out) {
  fputs("Type an expression to evaluate it, e.g. relu([0.4, 0.6] · [2, 3] + 1), or a model or\n"
        "train block to define it (a line that opens { ( or [ continues until they are closed).\n"
        "MODEL may be left out: the commands then use the model defined last.\n",
        out);
  for (size_t i = 0; i < repl_n_commands; i++) {
    const ReplCommand *c = &repl_commands[i];
    int n = fprintf(out, "  :%s%s%s", c->name, c->args[0] ? " " : "", c->args);
    if (n >= HELP_COLUMN)
      fprintf(out, "\n%*s", HELP_COLUMN, "");
    else
      fprintf(out, "%*s", HELP_COLUMN - n, "");
    for (const char *l = c->help; *l;) {
      size_t len = strcspn(l, "\n");
      fprintf(out, "%.*s\n", (int)len, l);
      l += len;
      if (*l == '\n' && *++l)
        fprintf(out, "%*s", HELP_COLUMN, "");
    }
  }
}

/* Any number of words: :predict takes one per input value (784 for a 28 × 28 image). */
void repl_command(Repl *r, char *line) {
  /* a word and its separator take two characters at least: a line of n has n/2 + 1 words */
  char **argv = malloc((strlen(line) / 2 + 1) * sizeof *argv);
  if (!argv) {
    repl_error(r, "out of memory");
    return;
  }
  int argc = 0;
  for (char *t = strtok(line, " \t\r\n"); t; t = strtok(NULL, " \t\r\n"))
    argv[argc++] = t;
  const ReplCommand *c = argc ? repl_find_command(argv[0] + 1) : NULL;
  if (c)
    c->run(r, argc, argv);
  else if (argc)
    repl_error(r, "unknown command '%s'; :help lists the commands", argv[0]);
  free(argv);
}

/* cli: nnrt_main, the command line of every generated program.
 * Contract: results go to stdout; messages go to stderr as "prog: message" (prog = the last
 * component of argv[0]); the exit code is one of NNRT_EXIT_*. It is the only place in the
 * runtime that chooses exit codes; everything it does is built from the public functions of
 * nnrt.h so the JIT host can do the same without it.
 * Exit codes: 0 ok; 1 bad data (a data file the loader rejects, a bad descriptor, out of
 * memory) or a non-finite loss; 2 usage (bad command line, a train block whose options cannot
 * work together such as early stopping without validation data); 3 I/O (a data or weights file
 * that cannot be opened, a checkpoint that cannot be written or read).
 * Inputs to predict are raw values as in the training data; the train block's scaling is
 * applied to them (standardisation with the statistics stored in the checkpoint). */
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

typedef struct {
  const NnrtModel *m;
  const char *prog;  /* prefix of messages */
  const char *argv0; /* as typed: base of the default weights path and of suggested commands */
  FILE *out, *err;
} Cli;

/* What the arguments after the subcommand asked for. */
typedef struct {
  NnrtTrainOptions opt;
  const char *path; /* --save or --weights */
  int help;
  int n_values;
  char **values; /* predict's input values, argc entries */
} Args;

__attribute__((format(printf, 2, 3))) static void say(const Cli *c, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(c->err, "%s: ", c->prog);
  vfprintf(c->err, fmt, ap);
  fputc('\n', c->err);
  va_end(ap);
}

/* A command line we do not understand: the message plus where to read how it works. */
__attribute__((format(printf, 2, 3))) static int usage_error(const Cli *c, const char *fmt,
                                                             ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(c->err, "%s: ", c->prog);
  vfprintf(c->err, fmt, ap);
  fprintf(c->err, "\nTry '%s --help' for usage.\n", c->argv0);
  va_end(ap);
  return NNRT_EXIT_USAGE;
}

static char *default_weights_path(const Cli *c) {
  static const char suffix[] = ".safetensors";
  size_t n = strlen(c->argv0);
  char *path = malloc(n + sizeof suffix);
  if (path) {
    memcpy(path, c->argv0, n);
    memcpy(path + n, suffix, sizeof suffix);
  }
  return path;
}

static const char *plural(int64_t n) { return n == 1 ? "" : "s"; }

static void print_model(const Cli *c) {
  const NnrtModel *m = c->m;
  fprintf(c->out, "Model '%s' (from %s):\n", m->name, m->source ? m->source : "?");
  fprintf(c->out, "  input  '%s': %lld value%s per row\n", m->input.name,
          (long long)m->input.width, plural(m->input.width));
  fprintf(c->out, "  output '%s': %lld value%s per row\n\n", m->output.name,
          (long long)m->output.width, plural(m->output.width));
}

static void print_train_help(const Cli *c) {
  const NnrtModel *m = c->m;
  fprintf(c->out,
          "  train             train on the model's data, print the loss (and accuracy and\n"
          "                    validation results when the model has them), the predictions\n"
          "                    for the rows of a data table, and save the weights (the default)\n"
          "    --epochs N      number of epochs (default %lld)\n"
          "    --seed S        seed of initialisation, shuffling and dropout (default %llu)\n"
          "    --save PATH     where to write the weights (default %s.safetensors)\n",
          (long long)m->epochs, (unsigned long long)m->seed, c->argv0);
}

static void print_help(const Cli *c) {
  const NnrtModel *m = c->m;
  long long w = (long long)m->input.width;
  if (m->has_train)
    fprintf(c->out, "Usage: %s [train] [--epochs N] [--seed S] [--save PATH]\n       ", c->argv0);
  else
    fprintf(c->out, "Usage: ");
  fprintf(c->out, "%s predict [--weights PATH] X1 ... X%lld\n       %s --help\n\n", c->argv0, w,
          c->argv0);
  print_model(c);
  fprintf(c->out, "Commands:\n");
  if (m->has_train)
    print_train_help(c);
  fprintf(c->out,
          "  predict           print the outputs for one input row of %lld number%s, given as\n"
          "                    in the model's data (its scaling is applied), and the class\n"
          "                    (the largest output) for a classifier\n"
          "    --weights PATH  weights to use (default %s.safetensors%s)\n"
          "  help              print this help (also -h, --help)\n\n"
          "Exit codes: 0 ok, 1 bad data or non-finite loss, 2 usage error (also settings\n"
          "            that cannot work together), 3 file I/O error (a data or weights file\n"
          "            that cannot be opened, read or written)\n",
          w, plural(m->input.width), c->argv0,
          m->has_train ? "" : " if it exists, else the model's initial values");
}

static int option_value(const Cli *c, int argc, char **argv, int *i, const char **out) {
  if (*i + 1 >= argc)
    return usage_error(c, "option '%s' needs a value", argv[*i]);
  *out = argv[++*i];
  return 0;
}

static int parse_epochs(const Cli *c, const char *s, int64_t *out) {
  char *end;
  errno = 0;
  long long v = strtoll(s, &end, 10);
  if (*s < '0' || *s > '9' || *end || errno || v < 1)
    return usage_error(c, "--epochs expects a positive integer, got '%s'", s);
  *out = v;
  return 0;
}

static int parse_seed(const Cli *c, const char *s, uint64_t *out) {
  char *end;
  errno = 0;
  unsigned long long v = strtoull(s, &end, 10);
  if (*s < '0' || *s > '9' || *end || errno)
    return usage_error(c, "--seed expects an integer from 0 to 2^64-1, got '%s'", s);
  *out = v;
  return 0;
}

static int parse_train_option(const Cli *c, int argc, char **argv, int *i, Args *a) {
  const char *arg = argv[*i], *v = NULL;
  if (strcmp(arg, "--save") == 0)
    return option_value(c, argc, argv, i, &a->path);
  if (strcmp(arg, "--epochs") == 0)
    return option_value(c, argc, argv, i, &v) || parse_epochs(c, v, &a->opt.epochs);
  if (strcmp(arg, "--seed") == 0)
    return option_value(c, argc, argv, i, &v) || parse_seed(c, v, &a->opt.seed);
  if (arg[0] == '-')
    return usage_error(c, "unknown option '%s' for train", arg);
  return usage_error(c, "unexpected argument '%s' for train", arg);
}

/* Predict's values may be negative, so only "--" options are options there. */
static int parse_predict_option(const Cli *c, int argc, char **argv, int *i, Args *a) {
  const char *arg = argv[*i];
  if (strcmp(arg, "--weights") == 0)
    return option_value(c, argc, argv, i, &a->path);
  if (strncmp(arg, "--", 2) == 0)
    return usage_error(c, "unknown option '%s' for predict", arg);
  a->values[a->n_values++] = argv[*i];
  return 0;
}

static int parse_args(const Cli *c, int argc, char **argv, Args *a, int predict) {
  for (int i = 0; i < argc; i++) {
    if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
      a->help = 1;
      return 0;
    }
    int rc = predict ? parse_predict_option(c, argc, argv, &i, a)
                     : parse_train_option(c, argc, argv, &i, a);
    if (rc)
      return NNRT_EXIT_USAGE;
  }
  return 0;
}

static void print_row(FILE *out, const float *v, int64_t n, const char *fmt) {
  for (int64_t i = 0; i < n; i++) {
    if (i)
      fputc(' ', out);
    fprintf(out, fmt, (double)v[i]);
  }
}

/* The outputs of one row, then "  class K" for a classifier. */
static void print_outputs(const Cli *c, const float *y, const char *fmt) {
  print_row(c->out, y, c->m->output.width, fmt);
  if (c->m->n_classes > 0)
    fprintf(c->out, "  class %lld", (long long)nnrt_argmax(y, c->m->output.width));
  fputc('\n', c->out);
}

/* "x -> y" for every row of a training table (the raw x as written in the source), after the
 * training rows come the held-out validation rows, which are the table's last rows. */
static int print_training_predictions(const Cli *c, float *ws, const NnrtTrainData *td) {
  const NnrtModel *m = c->m;
  int split = m->validate.kind == NNRT_DATA_NONE && td->val.rows > 0;
  int64_t rows = td->train.rows + (split ? td->val.rows : 0);
  if (rows > m->train.rows)
    rows = m->train.rows;
  float *y = malloc((size_t)((rows > 0 ? rows : 1) * m->output.width) * sizeof *y);
  if (!y) {
    say(c, "out of memory for the predictions");
    return NNRT_EXIT_DATA;
  }
  int64_t first = td->train.rows < rows ? td->train.rows : rows;
  nnrt_predict_rows(m, ws, td->train.x, first, y);
  if (rows > first)
    nnrt_predict_rows(m, ws, td->val.x, rows - first, y + first * m->output.width);
  for (int64_t r = 0; r < rows; r++) {
    print_row(c->out, m->train.x + r * m->input.width, m->input.width, "%g");
    fputs(" -> ", c->out);
    print_outputs(c, y + r * m->output.width, "%.4f");
  }
  free(y);
  return NNRT_EXIT_OK;
}

static void print_final(const Cli *c, const NnrtTrainResult *res) {
  fprintf(c->out, "final loss %.6f\n", res->loss);
  if (!res->has_val)
    return;
  fprintf(c->out, "final val_loss %.6f", res->val_loss);
  if (c->m->metric != NNRT_METRIC_NONE)
    fprintf(c->out, "  val_accuracy %.4f", res->val_accuracy);
  fputc('\n', c->out);
}

static int train_and_save(const Cli *c, float *ws, Args *a, const NnrtTrainData *td,
                          const char *path) {
  char msg[1024];
  NnrtTrainResult res;
  nnrt_init_params(c->m, ws, a->opt.seed);
  if (a->opt.checkpoint_every > 0)
    a->opt.checkpoint_path = path;
  nnrt_train_on(c->m, ws, &a->opt, td, c->out, &res, msg, sizeof msg);
  if (res.status != NNRT_EXIT_OK) {
    say(c, "%s", msg);
    return res.status;
  }
  print_final(c, &res);
  if (c->m->train.kind == NNRT_DATA_TABLE) {
    int rc = print_training_predictions(c, ws, td);
    if (rc)
      return rc;
  }
  if (nnrt_save_stats(c->m, ws, nnrt_train_data_stats(td), path, msg, sizeof msg) != 0) {
    say(c, "%s", msg);
    return NNRT_EXIT_IO;
  }
  fprintf(c->out, "saved weights to %s\n", path);
  return NNRT_EXIT_OK;
}

static int load_data_and_train(const Cli *c, Args *a, const char *path) {
  char msg[1024];
  NnrtTrainData *td = NULL;
  int rc = nnrt_train_data_load(c->m, &td, msg, sizeof msg);
  if (rc) {
    say(c, "%s", msg);
    return rc;
  }
  float *ws = nnrt_workspace_new(c->m);
  if (!ws) {
    say(c, "out of memory for the workspace");
    rc = NNRT_EXIT_DATA;
  } else {
    rc = train_and_save(c, ws, a, td, path);
  }
  nnrt_workspace_free(ws);
  nnrt_train_data_free(td);
  return rc;
}

static int cmd_train(const Cli *c, int argc, char **argv) {
  if (!c->m->has_train) {
    say(c, "model '%s' has no train block", c->m->name);
    return NNRT_EXIT_USAGE;
  }
  Args a = {.opt = nnrt_train_options(c->m)};
  int rc = parse_args(c, argc, argv, &a, 0);
  if (rc || a.help) {
    if (a.help)
      print_help(c);
    return rc;
  }
  char msg[512];
  if (nnrt_check_train_options(c->m, &a.opt, msg, sizeof msg) != 0) {
    say(c, "%s", msg);
    return NNRT_EXIT_USAGE;
  }
  char *default_path = a.path ? NULL : default_weights_path(c);
  if (!a.path && !default_path) {
    say(c, "out of memory");
    rc = NNRT_EXIT_DATA;
  } else {
    rc = load_data_and_train(c, &a, a.path ? a.path : default_path);
  }
  free(default_path);
  return rc;
}

static int parse_inputs(const Cli *c, const Args *a, float *x) {
  const NnrtModel *m = c->m;
  if (a->n_values != m->input.width) {
    say(c, "predict expects %lld input value%s, got %d", (long long)m->input.width,
        plural(m->input.width), a->n_values);
    return NNRT_EXIT_USAGE;
  }
  for (int i = 0; i < a->n_values; i++) {
    const char *s = a->values[i];
    char *end;
    double v = strtod(s, &end);
    /* strtod skips leading blanks and accepts "inf" and "nan"; a value must be all number. */
    if (!*s || *s == ' ' || *s == '\t' || *end || !isfinite(v) || fabs(v) > FLT_MAX) {
      say(c, "input value %d ('%s') is not a finite number", i + 1, s);
      return NNRT_EXIT_USAGE;
    }
    x[i] = (float)v;
  }
  return NNRT_EXIT_OK;
}

static int load_or_fail(const Cli *c, float *ws, NnrtInputStats *st, const char *path) {
  char msg[1024];
  if (nnrt_load_stats(c->m, ws, st, path, msg, sizeof msg) == 0)
    return NNRT_EXIT_OK;
  say(c, "%s", msg);
  return NNRT_EXIT_IO;
}

/* --weights, else the default checkpoint, else the initialisers of a model that never trains.
 * Constants and optimizer state are not in checkpoints: they come from the initialisers first. */
static int load_weights(const Cli *c, float *ws, NnrtInputStats *st, const char *weights) {
  nnrt_init_params(c->m, ws, c->m->seed);
  if (weights)
    return load_or_fail(c, ws, st, weights);
  char *path = default_weights_path(c);
  int rc = NNRT_EXIT_OK;
  if (!path) {
    say(c, "out of memory");
    rc = NNRT_EXIT_DATA;
  } else if (access(path, F_OK) == 0) {
    rc = load_or_fail(c, ws, st, path);
  } else if (!c->m->has_train) {
    /* the initialisers are already in ws */
  } else {
    say(c, "no trained weights at '%s'; run '%s train' first", path, c->argv0);
    rc = NNRT_EXIT_IO;
  }
  free(path);
  return rc;
}

static int predict_and_print(const Cli *c, const Args *a, float *x, float *y, float *ws,
                             NnrtInputStats *st) {
  int rc = parse_inputs(c, a, x);
  if (!rc)
    rc = load_weights(c, ws, st, a->path);
  if (rc)
    return rc;
  nnrt_scale_inputs(c->m, st, x, 1);
  nnrt_predict_rows(c->m, ws, x, 1, y);
  print_outputs(c, y, "%.6g");
  return NNRT_EXIT_OK;
}

static int cmd_predict(const Cli *c, int argc, char **argv) {
  const NnrtModel *m = c->m;
  Args a = {.values = malloc((size_t)(argc > 0 ? argc : 1) * sizeof(char *))};
  /* x, y, and the input statistics when the model standardises its inputs. */
  int64_t w = m->input.width;
  NnrtInputStats st = {0};
  if (m->has_train && m->train.scaling == NNRT_SCALE_STANDARDIZE)
    st.width = w;
  float *x = malloc((size_t)(w + m->output.width + 2 * st.width) * sizeof *x);
  st.mean = x ? x + w + m->output.width : NULL;
  st.std = st.mean ? st.mean + st.width : NULL;
  float *ws = nnrt_workspace_new(m);
  int rc;
  if (!a.values || !x || !ws) {
    say(c, "out of memory for the workspace");
    rc = NNRT_EXIT_DATA;
  } else if ((rc = parse_args(c, argc, argv, &a, 1)) == 0) {
    if (a.help)
      print_help(c);
    else
      rc = predict_and_print(c, &a, x, x + m->input.width, ws, &st);
  }
  nnrt_workspace_free(ws);
  free(x);
  free(a.values);
  return rc;
}

static const char *base_name(const char *path) {
  const char *slash = strrchr(path, '/');
  return slash ? slash + 1 : path;
}

static int is_help(const char *arg) {
  return strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0 || strcmp(arg, "help") == 0;
}

static int dispatch(const Cli *c, int argc, char **argv) {
  if (argc < 2 && !c->m->has_train) {
    print_help(c);
    return NNRT_EXIT_OK;
  }
  if (argc < 2)
    return cmd_train(c, 0, argv + argc);
  const char *cmd = argv[1];
  if (is_help(cmd)) {
    print_help(c);
    return NNRT_EXIT_OK;
  }
  if (strcmp(cmd, "train") == 0)
    return cmd_train(c, argc - 2, argv + 2);
  if (strcmp(cmd, "predict") == 0)
    return cmd_predict(c, argc - 2, argv + 2);
  /* "prog --epochs 10" reads as the default command with options. */
  if (cmd[0] == '-' && c->m->has_train)
    return cmd_train(c, argc - 1, argv + 1);
  return usage_error(c, "unknown command '%s'", cmd);
}

int nnrt_main_streams(const NnrtModel *m, int argc, char **argv, FILE *out, FILE *err) {
  const char *argv0 = argc > 0 && argv[0] && argv[0][0] ? argv[0] : m->name;
  Cli c = {.m = m, .prog = base_name(argv0), .argv0 = argv0, .out = out, .err = err};
  char msg[256];
  if (nnrt_check_model(m, msg, sizeof msg) != 0) {
    say(&c, "invalid model descriptor: %s", msg);
    return NNRT_EXIT_DATA;
  }
  int rc = dispatch(&c, argc, argv);
  fflush(out);
  return rc;
}

int nnrt_main(const NnrtModel *m, int argc, char **argv) {
  return nnrt_main_streams(m, argc, argv, stdout, stderr);
}

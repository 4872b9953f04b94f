/* cli: nnrt_main, the command line of every generated program:
 *   prog [train] [options]   prog predict ...   prog eval ...   prog info   prog [CMD] --help
 * Contract: results go to stdout; messages go to stderr as "prog: message" (prog = the last
 * component of argv[0]); the exit code is one of
 *   0 ok; 1 bad data or input (a data file the loader rejects, a bad row on predict's standard
 *   input, a bad descriptor, out of memory); 2 usage (bad command line, options or settings
 *   that cannot work together); 3 I/O (a file that cannot be opened, read or written) or a
 *   non-finite value during training; 130 interrupted (SIGINT).
 * It is the only place in the runtime that chooses exit codes; everything it does is built from
 * the functions of nnrt.h (and the loader of data.h, the reporter of report.c and the summary
 * of summary.c), so the JIT host can do the same without it. Training reports its progress
 * through NnrtTrainOptions.report (report.c prints it). Inputs to predict and eval are raw
 * values as in the training data; the train block's scaling is applied to them (with the
 * standardisation statistics stored in the checkpoint). */
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
  FILE *in, *out, *err;
} Cli;

typedef enum {
  CMD_TRAIN,
  CMD_PREDICT,
  CMD_EVAL,
  CMD_INFO,
} Command;

static const char *const COMMAND_NAMES[] = {"train", "predict", "eval", "info"};

typedef enum {
  OPT_EPOCHS,
  OPT_BATCH,
  OPT_LR,
  OPT_SEED,
  OPT_THREADS,
  OPT_DATA,
  OPT_VALIDATE,
  OPT_SAVE,
  OPT_RESUME,
  OPT_INIT,
  OPT_LOG_JSON,
  OPT_PLOT,
  OPT_WEIGHTS,
} OptId;

typedef struct {
  const char *name;
  OptId id;
} OptSpec;

static const OptSpec TRAIN_OPTS[] = {
  {"--epochs", OPT_EPOCHS},     {"--batch", OPT_BATCH},       {"--lr", OPT_LR},
  {"--seed", OPT_SEED},         {"--threads", OPT_THREADS},   {"--data", OPT_DATA},
  {"--validate", OPT_VALIDATE}, {"--save", OPT_SAVE},         {"--resume", OPT_RESUME},
  {"--init", OPT_INIT},         {"--log-json", OPT_LOG_JSON}, {"--plot", OPT_PLOT},
};
static const OptSpec PREDICT_OPTS[] = {{"--weights", OPT_WEIGHTS}, {"--data", OPT_DATA}};
static const OptSpec EVAL_OPTS[] = {{"--weights", OPT_WEIGHTS}, {"--data", OPT_DATA}};

/* Up to two paths of a data option: CSV takes one, IDX two (images, then labels). */
typedef struct {
  const char *path[2];
  int n;
} Paths;

/* What the arguments after the subcommand asked for. */
typedef struct {
  NnrtTrainOptions opt;
  int64_t threads;
  const char *save, *weights, *resume, *init, *log_json, *plot;
  Paths data, validate;
  int help;
  int from_stdin; /* predict - */
  int n_values;
  char **values; /* predict's input values, argc entries */
} Args;

/* ---- Messages ---- */

__attribute__((format(printf, 2, 3))) static void say(const Cli *c, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(c->err, "%s: ", c->prog);
  vfprintf(c->err, fmt, ap);
  fputc('\n', c->err);
  va_end(ap);
}

/* A command line we do not understand: the message plus where to read how it works. */
__attribute__((format(printf, 3, 4))) static int usage_error(const Cli *c, const char *cmd,
                                                             const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(c->err, "%s: ", c->prog);
  vfprintf(c->err, fmt, ap);
  (void)cmd; /* the program's help covers every command */
  fprintf(c->err, "\nTry '%s --help' for usage.\n", c->argv0);
  va_end(ap);
  return NNRT_EXIT_USAGE;
}

/* Edit distance of a and b (short strings: command and option names). */
static size_t distance(const char *a, const char *b) {
  size_t la = strlen(a), lb = strlen(b);
  if (la > 32 || lb > 32)
    return 99;
  size_t d[33][33];
  for (size_t i = 0; i <= la; i++)
    d[i][0] = i;
  for (size_t j = 0; j <= lb; j++)
    d[0][j] = j;
  for (size_t i = 1; i <= la; i++)
    for (size_t j = 1; j <= lb; j++) {
      size_t best = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
      best = d[i - 1][j] + 1 < best ? d[i - 1][j] + 1 : best;
      d[i][j] = d[i][j - 1] + 1 < best ? d[i][j - 1] + 1 : best;
    }
  return d[la][lb];
}

/* The closest of names to s within 2 edits, or NULL. */
static const char *closest(const char *s, const char *const *names, size_t n) {
  const char *best = NULL;
  size_t bd = 3;
  for (size_t i = 0; i < n; i++) {
    size_t d = distance(s, names[i]);
    if (d < bd) {
      bd = d;
      best = names[i];
    }
  }
  return best;
}

static const char *plural(int64_t n) { return n == 1 ? "" : "s"; }

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

/* ---- Help ---- */

static int file_data(const NnrtModel *m) {
  return m->has_train && (m->train.kind == NNRT_DATA_CSV || m->train.kind == NNRT_DATA_IDX);
}

static const char *data_paths_text(const NnrtModel *m) {
  if (!file_data(m))
    return "PATH ...";
  return m->train.kind == NNRT_DATA_IDX ? "IMAGES LABELS" : "CSV";
}

static void print_exit_codes(const Cli *c) {
  fprintf(c->out,
          "Exit codes:\n"
          "  0    ok\n"
          "  1    bad data or input: a data file the loader rejects, a bad line on predict's\n"
          "       standard input, out of memory\n"
          "  2    usage: an unknown command or option, a bad value, options or settings that\n"
          "       cannot work together\n");
  if (c->m->has_train)
    fprintf(c->out,
            "  3    I/O error (a file that cannot be opened, read or written), or a non-finite\n"
            "       value during training (the message names the epoch, the step and the line\n"
            "       of the source that produced it)\n");
  else
    fprintf(c->out, "  3    I/O error: a file that cannot be opened, read or written\n");
  fprintf(c->out, "  130  interrupted (Ctrl-C)\n");
}

static void print_model(const Cli *c) {
  const NnrtModel *m = c->m;
  fprintf(c->out, "Model '%s' (from %s):\n", m->name, m->source ? m->source : "?");
  fprintf(c->out, "  input  '%s': %lld value%s per row\n", m->input.name,
          (long long)m->input.width, plural(m->input.width));
  fprintf(c->out, "  output '%s': %lld value%s per row\n\n", m->output.name,
          (long long)m->output.width, plural(m->output.width));
}

static void print_usage(const Cli *c) {
  const char *p = c->argv0;
  long long w = (long long)c->m->input.width;
  fprintf(c->out, "Usage: ");
  if (c->m->has_train)
    fprintf(c->out, "%s [train] [--epochs N] [--seed S] [--batch B] [--lr X] [OPTIONS]\n       ",
            p);
  fprintf(c->out, "%s predict [--weights PATH] X1 ... X%lld\n", p, w);
  fprintf(c->out, "       %s predict [--weights PATH] -\n", p);
  if (file_data(c->m))
    fprintf(c->out, "       %s predict [--weights PATH] --data %s\n", p, data_paths_text(c->m));
  if (c->m->has_train)
    fprintf(c->out, "       %s eval [--weights PATH] [--data %s]\n", p, data_paths_text(c->m));
  fprintf(c->out, "       %s info\n       %s [COMMAND] --help\n\n", p, p);
}

static void print_train_help(const Cli *c) {
  const NnrtModel *m = c->m;
  fprintf(c->out,
          "  train             train on the model's data, print the loss (and accuracy and\n"
          "                    validation results when the model has them) for the epochs\n"
          "                    log_every selects, with a progress bar on a terminal, then the\n"
          "                    final results, the predictions for the rows of a data table,\n"
          "                    and save the weights (the default command)\n"
          "    --epochs N      number of epochs (default %lld)\n"
          "    --batch B       rows per step, 1 to %lld (default %lld; the program was compiled\n"
          "                    for batches of at most %lld rows)\n"
          "    --lr X          learning rate, a positive number (default %g)\n"
          "    --seed S        seed of initialisation, shuffling and dropout (default %llu)\n"
          "    --threads T     threads to train on (default 1); the result is bit-identical\n"
          "                    for any T\n",
          (long long)m->epochs, (long long)m->max_batch, (long long)m->batch,
          (long long)m->max_batch, m->lr, (unsigned long long)m->seed);
  if (m->train.kind == NNRT_DATA_IDX)
    fprintf(c->out,
            "    --data IMAGES LABELS\n"
            "                    the training data instead of the train block's (IDX files)\n"
            "    --validate IMAGES LABELS\n"
            "                    the validation data instead of the train block's\n");
  else if (m->train.kind == NNRT_DATA_CSV)
    fprintf(c->out,
            "    --data PATH     a CSV file of training data instead of the train block's\n"
            "                    (the same columns)\n"
            "    --validate PATH a CSV file of validation data likewise\n");
  else
    fprintf(c->out,
            "    --data, --validate\n"
            "                    not for this model: its data is a table in its source\n");
  fprintf(c->out,
          "    --save PATH     where to write the weights (default %s.safetensors); also\n"
          "                    the checkpoint of an interrupted run\n"
          "    --resume PATH   continue the run saved in the checkpoint PATH exactly\n"
          "    --init PATH     start from the weights in PATH instead of the initialisers\n"
          "                    (not with --resume)\n"
          "    --log-json PATH write one JSON object per epoch to PATH, one a line: epoch,\n"
          "                    loss, accuracy, val_loss, val_accuracy, lr, seconds (null when\n"
          "                    absent)\n"
          "    --plot PATH     write an SVG of the loss and accuracy curves to PATH at the end\n"
          "                    (also when interrupted)\n",
          c->argv0);
}

static void print_predict_help(const Cli *c) {
  const NnrtModel *m = c->m;
  fprintf(c->out,
          "  predict X1 ... X%lld\n"
          "                    print the outputs for one input row of %lld number%s, given as\n"
          "                    in the model's data (its scaling is applied), and the class\n"
          "                    (the largest output) for a classifier\n"
          "  predict -         the same for every line of standard input: one row a line,\n"
          "                    values separated by spaces or commas\n",
          (long long)m->input.width, (long long)m->input.width, plural(m->input.width));
  if (file_data(m))
    fprintf(c->out,
            "  predict --data %s\n"
            "                    the same for every row of a data file laid out like the\n"
            "                    training data (its targets are read and ignored)\n",
            data_paths_text(m));
  fprintf(c->out, "    --weights PATH  weights to use (default %s.safetensors%s)\n", c->argv0,
          m->has_train ? "" : " if it exists, else the model's initial values");
}

static void print_eval_help(const Cli *c) {
  fprintf(c->out,
          "  eval              print the loss on the validation data (else the training data),\n"
          "                    and for a classifier the accuracy and the confusion matrix\n"
          "                    (rows: true class, columns: predicted class)\n"
          "    --weights PATH  weights to use (default %s.safetensors)\n",
          c->argv0);
  if (file_data(c->m))
    fprintf(c->out, "    --data %s\n                    evaluate on this data file instead\n",
            data_paths_text(c->m));
}

static void print_info_help(const Cli *c) {
  fprintf(c->out,
          "  info              print the layers (name, op, output shape, parameters, FLOPs per\n"
          "                    sample), their totals and the memory plan of the workspace\n");
}

static void print_help(const Cli *c) {
  print_usage(c);
  print_model(c);
  fprintf(c->out, "Commands:\n");
  if (c->m->has_train)
    print_train_help(c);
  print_predict_help(c);
  if (c->m->has_train)
    print_eval_help(c);
  print_info_help(c);
  fprintf(c->out, "  help              print this help (also -h, --help)\n\n");
  print_exit_codes(c);
}

static void print_command_help(const Cli *c, Command cmd) {
  print_usage(c);
  switch (cmd) {
  case CMD_TRAIN: print_train_help(c); break;
  case CMD_PREDICT: print_predict_help(c); break;
  case CMD_EVAL: print_eval_help(c); break;
  case CMD_INFO: print_info_help(c); break;
  }
  fputc('\n', c->out);
  print_exit_codes(c);
}

/* ---- Parsing ---- */

static int parse_count(const Cli *c, const char *opt, const char *s, int64_t *out) {
  char *end;
  errno = 0;
  long long v = strtoll(s, &end, 10);
  if (*s < '0' || *s > '9' || *end || errno || v < 1)
    return usage_error(c, "train", "%s expects a positive integer, got '%s'", opt, s);
  *out = v;
  return 0;
}

static int parse_seed(const Cli *c, const char *s, uint64_t *out) {
  char *end;
  errno = 0;
  unsigned long long v = strtoull(s, &end, 10);
  if (*s < '0' || *s > '9' || *end || errno)
    return usage_error(c, "train", "--seed expects an integer from 0 to 2^64-1, got '%s'", s);
  *out = v;
  return 0;
}

static int parse_lr(const Cli *c, const char *s, double *out) {
  char *end;
  double v = strtod(s, &end);
  if (!*s || *s == ' ' || *s == '\t' || *end || !isfinite(v) || !(v > 0))
    return usage_error(c, "train", "--lr expects a positive number, got '%s'", s);
  *out = v;
  return 0;
}

/* A data option's paths: the value, and for IDX data the next argument too. */
static int take_paths(const Cli *c, const char *cmd, const char *opt, const char *first,
                      int argc, char **argv, int *i, Paths *p) {
  const NnrtModel *m = c->m;
  if (!file_data(m))
    return usage_error(c, cmd,
                       "%s: model '%s' %s; it has no data file to replace", opt, m->name,
                       m->has_train ? "trains on a data table in its source"
                                    : "has no train block");
  p->n = 0;
  p->path[p->n++] = first;
  if (m->train.kind == NNRT_DATA_IDX) {
    if (*i + 1 >= argc || argv[*i + 1][0] == '-')
      return usage_error(c, cmd, "%s needs two paths for IDX data: the images, then the labels",
                         opt);
    p->path[p->n++] = argv[++*i];
  }
  return 0;
}

static int set_option(const Cli *c, const char *cmd, OptId id, const char *name, const char *v,
                      int argc, char **argv, int *i, Args *a) {
  switch (id) {
  case OPT_EPOCHS: return parse_count(c, name, v, &a->opt.epochs);
  case OPT_BATCH: return parse_count(c, name, v, &a->opt.batch);
  case OPT_THREADS: return parse_count(c, name, v, &a->threads);
  case OPT_LR: return parse_lr(c, v, &a->opt.lr);
  case OPT_SEED: return parse_seed(c, v, &a->opt.seed);
  case OPT_DATA: return take_paths(c, cmd, name, v, argc, argv, i, &a->data);
  case OPT_VALIDATE: return take_paths(c, cmd, name, v, argc, argv, i, &a->validate);
  case OPT_SAVE: a->save = v; return 0;
  case OPT_RESUME: a->resume = v; return 0;
  case OPT_INIT: a->init = v; return 0;
  case OPT_LOG_JSON: a->log_json = v; return 0;
  case OPT_PLOT: a->plot = v; return 0;
  case OPT_WEIGHTS: a->weights = v; return 0;
  }
  return 0;
}

static int unknown_option(const Cli *c, const char *cmd, const char *arg, const OptSpec *opts,
                          size_t n) {
  const char *names[16];
  for (size_t k = 0; k < n && k < 16; k++)
    names[k] = opts[k].name;
  char name[64];
  size_t len = strcspn(arg, "=");
  snprintf(name, sizeof name, "%.*s", (int)(len < 63 ? len : 63), arg);
  const char *hint = closest(name, names, n < 16 ? n : 16);
  if (hint)
    return usage_error(c, cmd, "unknown option '%s' for %s; did you mean '%s'?", name, cmd, hint);
  return usage_error(c, cmd, "unknown option '%s' for %s", name, cmd);
}

/* One "--name[=value]" option at argv[*i]. */
static int parse_option(const Cli *c, const char *cmd, const OptSpec *opts, size_t n, int argc,
                        char **argv, int *i, Args *a) {
  const char *arg = argv[*i];
  size_t len = strcspn(arg, "=");
  for (size_t k = 0; k < n; k++) {
    if (strlen(opts[k].name) != len || strncmp(arg, opts[k].name, len) != 0)
      continue;
    const char *v;
    if (arg[len] == '=') {
      v = arg + len + 1;
    } else {
      if (*i + 1 >= argc)
        return usage_error(c, cmd, "option '%s' needs a value", opts[k].name);
      v = argv[++*i];
    }
    return set_option(c, cmd, opts[k].id, opts[k].name, v, argc, argv, i, a);
  }
  return unknown_option(c, cmd, arg, opts, n);
}

static int is_help_flag(const char *arg) {
  return strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0;
}

/* Predict's values may be negative, so there only "--" arguments are options, and "-" alone is
 * standard input. */
static int parse_args(const Cli *c, Command cmd, int argc, char **argv, Args *a) {
  static const struct {
    const OptSpec *opts;
    size_t n;
  } table[] = {
    [CMD_TRAIN] = {TRAIN_OPTS, sizeof TRAIN_OPTS / sizeof *TRAIN_OPTS},
    [CMD_PREDICT] = {PREDICT_OPTS, sizeof PREDICT_OPTS / sizeof *PREDICT_OPTS},
    [CMD_EVAL] = {EVAL_OPTS, sizeof EVAL_OPTS / sizeof *EVAL_OPTS},
    [CMD_INFO] = {NULL, 0},
  };
  const char *name = COMMAND_NAMES[cmd];
  for (int i = 0; i < argc; i++)
    if (is_help_flag(argv[i])) {
      a->help = 1;
      return 0;
    }
  for (int i = 0; i < argc; i++) {
    const char *arg = argv[i];
    int rc;
    if (strncmp(arg, "--", 2) == 0 && arg[2])
      rc = parse_option(c, name, table[cmd].opts, table[cmd].n, argc, argv, &i, a);
    else if (cmd == CMD_PREDICT && strcmp(arg, "-") == 0)
      rc = a->from_stdin++ ? usage_error(c, name, "'-' given twice") : 0;
    else if (cmd == CMD_PREDICT)
      rc = (a->values[a->n_values++] = argv[i], 0);
    else if (arg[0] == '-')
      rc = unknown_option(c, name, arg, table[cmd].opts, table[cmd].n);
    else
      rc = usage_error(c, name, "unexpected argument '%s' for %s", arg, name);
    if (rc)
      return NNRT_EXIT_USAGE;
  }
  return 0;
}

/* ---- Data ---- */

/* The train block's data source with its paths replaced by p (same kind, columns, scaling). */
static NnrtData data_with_paths(const NnrtModel *m, const Paths *p) {
  NnrtData d = m->train;
  d.path = p->path[0];
  d.labels_path = p->n > 1 ? p->path[1] : NULL;
  return d;
}

static int open_check(const Cli *c, const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    say(c, "cannot load '%s': %s", path, strerror(errno));
    return NNRT_EXIT_IO;
  }
  fclose(f);
  return NNRT_EXIT_OK;
}

/* Loads d as the loader of data.h does (scale factor applied), then standardises the inputs
 * with st when the model standardises. A file that cannot be opened is exit 3, a file the
 * loader rejects exit 1. */
static int load_dataset(const Cli *c, const NnrtData *d, const NnrtInputStats *st,
                        NnrtDataset *ds) {
  memset(ds, 0, sizeof *ds);
  int rc = NNRT_EXIT_OK;
  if (d->kind == NNRT_DATA_CSV || d->kind == NNRT_DATA_IDX)
    rc = open_check(c, d->path);
  if (!rc && d->kind == NNRT_DATA_IDX)
    rc = open_check(c, d->labels_path);
  if (rc)
    return rc;
  char msg[768] = "";
  rc = nnrt_data_load(c->m, d, ds, msg, sizeof msg);
  if (rc != 0) {
    say(c, "%s", msg);
    return rc == NNRT_EXIT_IO ? NNRT_EXIT_IO : NNRT_EXIT_DATA;
  }
  if (st && st->width > 0)
    nnrt_data_standardize(ds, st->mean, st->std);
  return NNRT_EXIT_OK;
}

/* ---- Weights ---- */

/* Room for the model's input statistics when it standardises (width 0 otherwise). */
static int stats_new(const NnrtModel *m, NnrtInputStats *st) {
  *st = (NnrtInputStats){0};
  if (!m->has_train || m->train.scaling != NNRT_SCALE_STANDARDIZE)
    return 0;
  st->mean = malloc((size_t)(2 * m->input.width) * sizeof(float));
  if (!st->mean)
    return -1;
  st->std = st->mean + m->input.width;
  st->width = m->input.width;
  return 0;
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

/* ---- Printing outputs ---- */

void nnrt_print_row(FILE *out, const float *v, int64_t n, const char *fmt) {
  for (int64_t i = 0; i < n; i++) {
    if (i)
      fputc(' ', out);
    fprintf(out, fmt, (double)v[i]);
  }
}

/* The outputs of one row, then "  class K" for a classifier. */
void nnrt_print_outputs(FILE *out, const NnrtModel *m, const float *y, const char *fmt) {
  nnrt_print_row(out, y, m->output.width, fmt);
  if (m->n_classes > 0)
    fprintf(out, "  class %lld", (long long)nnrt_argmax(y, m->output.width));
  fputc('\n', out);
}

/* ---- train ---- */

/* "x -> y" for every row of a training table (the raw x as written in the source), after the
 * training rows come the held-out validation rows, which are the table's last rows. */
int nnrt_print_table_predictions(FILE *out, const NnrtModel *m, float *ws,
                                 const NnrtTrainData *td) {
  int split = m->validate.kind == NNRT_DATA_NONE && td->val.rows > 0;
  int64_t rows = td->train.rows + (split ? td->val.rows : 0);
  if (rows > m->train.rows)
    rows = m->train.rows;
  float *y = malloc((size_t)((rows > 0 ? rows : 1) * m->output.width) * sizeof *y);
  if (!y)
    return NNRT_EXIT_DATA;
  int64_t first = td->train.rows < rows ? td->train.rows : rows;
  nnrt_predict_rows(m, ws, td->train.x, first, y);
  if (rows > first)
    nnrt_predict_rows(m, ws, td->val.x, rows - first, y + first * m->output.width);
  for (int64_t r = 0; r < rows; r++) {
    nnrt_print_row(out, m->train.x + r * m->input.width, m->input.width, "%g");
    fputs(" -> ", out);
    nnrt_print_outputs(out, m, y + r * m->output.width, "%.4f");
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

/* Early stopping's restored weights, as the training log used to say it. */
static void print_restored(const Cli *c, const NnrtTrainOptions *o, const NnrtTrainResult *res) {
  if (o->early_stopping <= 0 || res->best_epoch == res->last_epoch || res->best_epoch < 1)
    return;
  if (res->stopped_early)
    fprintf(c->out, "early stopping at epoch %lld; ", (long long)res->last_epoch);
  fprintf(c->out, "restored the weights of epoch %lld (val_loss %.6f)\n",
          (long long)res->best_epoch, res->val_loss);
}

/* What a training run needs besides the model and its data. */
typedef struct {
  const NnrtModel *m; /* the model with --data / --validate applied */
  Args *a;
  const char *save; /* --save or the default path */
  NnrtProgress progress;
} TrainRun;

/* The weights training starts from: the initialisers (seeded), then --init's weights (the
 * optimizer state stays zero and the input statistics come from this run's data); --resume is
 * nnrt_train_on's (resume_path), which restores the whole run over them. */
static int start_weights(const Cli *c, TrainRun *t, float *ws) {
  char msg[1024] = "";
  nnrt_init_params(t->m, ws, t->a->opt.seed);
  t->a->opt.resume_path = t->a->resume;
  if (!t->a->init)
    return NNRT_EXIT_OK;
  int rc = nnrt_load_init(t->m, ws, t->a->init, msg, sizeof msg);
  if (rc)
    say(c, "%s", msg);
  return rc;
}

/* After training (finished, failed or interrupted): the bar erased, the plot and the JSON log
 * closed. Returns the first I/O failure, or 0. */
static int finish_reports(const Cli *c, TrainRun *t) {
  char msg[1024];
  int rc = NNRT_EXIT_OK;
  nnrt_progress_end(&t->progress);
  if (t->a->plot) {
    int64_t n;
    const NnrtEpochReport *h = nnrt_progress_history(&t->progress, &n);
    if (nnrt_plot_svg(t->a->plot, t->m->name, h, n, msg, sizeof msg) != 0) {
      say(c, "%s", msg);
      rc = NNRT_EXIT_IO;
    }
  }
  if (nnrt_progress_close(&t->progress, t->a->log_json, msg, sizeof msg) != 0) {
    say(c, "%s", msg);
    rc = rc ? rc : NNRT_EXIT_IO;
  }
  return rc;
}

static int train_and_save(const Cli *c, TrainRun *t, float *ws, const NnrtTrainData *td) {
  char msg[1024] = "";
  NnrtTrainResult res;
  Args *a = t->a;
  int rc = start_weights(c, t, ws);
  if (rc)
    return rc;
  /* Periodic checkpoints, the one an interruption writes and the one at the end all go to the
   * weights file: predict reads a training checkpoint's weights, --resume all of it. */
  a->opt.checkpoint_path = t->save;
  a->opt.report = nnrt_progress_reporter(&t->progress);
  nnrt_train_on(t->m, ws, &a->opt, td, NULL, &res, msg, sizeof msg);
  int report_rc = finish_reports(c, t);
  if (res.status != NNRT_EXIT_OK) {
    if (msg[0])
      say(c, "%s", msg);
    else if (res.status == NNRT_EXIT_INTERRUPTED)
      say(c, "interrupted");
    return res.status;
  }
  print_restored(c, &a->opt, &res);
  print_final(c, &res);
  if (t->m->train.kind == NNRT_DATA_TABLE) {
    rc = nnrt_print_table_predictions(c->out, t->m, ws, td);
    if (rc != NNRT_EXIT_OK)
      say(c, "out of memory for the predictions");
    if (rc)
      return rc;
  }
  if (!res.saved &&
      nnrt_save_stats(t->m, ws, nnrt_train_data_stats(td), t->save, msg, sizeof msg) != 0) {
    say(c, "%s", msg);
    return NNRT_EXIT_IO;
  }
  fprintf(c->out, "saved weights to %s\n", t->save);
  return report_rc;
}

/* A file we will write at the end must have a directory we can write to: fail before training. */
static int check_writable(const Cli *c, const char *path) {
  const char *slash = strrchr(path, '/');
  char dir[4096];
  if (!slash)
    snprintf(dir, sizeof dir, ".");
  else
    snprintf(dir, sizeof dir, "%.*s", (int)(slash - path == 0 ? 1 : slash - path), path);
  if (access(dir, W_OK) != 0) {
    say(c, "cannot write '%s': %s", path, strerror(errno));
    return NNRT_EXIT_IO;
  }
  return NNRT_EXIT_OK;
}

static int load_data_and_train(const Cli *c, TrainRun *t) {
  char msg[1024];
  NnrtTrainData *td = NULL;
  nnrt_progress_init(&t->progress, t->m, c->out, isatty(fileno(c->out)));
  if (t->a->plot && check_writable(c, t->a->plot) != 0)
    return NNRT_EXIT_IO;
  if (t->a->log_json && nnrt_progress_open_json(&t->progress, t->a->log_json, msg, sizeof msg)) {
    say(c, "%s", msg);
    return NNRT_EXIT_IO;
  }
  int rc = nnrt_train_data_load(t->m, &td, msg, sizeof msg);
  float *ws = NULL;
  if (rc) {
    say(c, "%s", msg);
  } else if (!(ws = nnrt_workspace_new(t->m))) {
    say(c, "out of memory for the workspace");
    rc = NNRT_EXIT_DATA;
  } else {
    rc = train_and_save(c, t, ws, td);
  }
  if (t->progress.json || t->progress.hist) /* not closed by a run that never started */
    nnrt_progress_close(&t->progress, NULL, NULL, 0);
  nnrt_workspace_free(ws);
  nnrt_train_data_free(td);
  return rc;
}

/* The checks of train's options that need the model. */
static int check_train_args(const Cli *c, const Args *a) {
  const NnrtModel *m = c->m;
  if (a->threads > 256)
    return usage_error(c, "train", "--threads: at most 256, got %lld", (long long)a->threads);
  if (a->opt.batch > m->max_batch)
    return usage_error(c, "train",
                       "this program was compiled for batches of at most %lld rows (train block "
                       "batch = %lld); recompile to train with %lld",
                       (long long)m->max_batch, (long long)m->max_batch,
                       (long long)a->opt.batch);
  if (a->resume && a->init)
    return usage_error(c, "train",
                       "--resume and --init cannot be used together: --resume continues a run, "
                       "--init starts a new one from given weights");
  return NNRT_EXIT_OK;
}

static int cmd_train(const Cli *c, int argc, char **argv) {
  if (!c->m->has_train) {
    say(c, "model '%s' has no train block", c->m->name);
    return NNRT_EXIT_USAGE;
  }
  Args a = {.opt = nnrt_train_options(c->m), .threads = 1};
  int rc = parse_args(c, CMD_TRAIN, argc, argv, &a);
  if (rc || a.help) {
    if (a.help)
      print_command_help(c, CMD_TRAIN);
    return rc;
  }
  a.opt.threads = (int32_t)a.threads;
  if ((rc = check_train_args(c, &a)) != 0)
    return rc;
  NnrtModel m = *c->m;
  if (a.data.n)
    m.train = data_with_paths(c->m, &a.data);
  if (a.validate.n)
    m.validate = data_with_paths(c->m, &a.validate);
  char msg[512];
  if (nnrt_check_train_options(&m, &a.opt, msg, sizeof msg) != 0) {
    say(c, "%s", msg);
    return NNRT_EXIT_USAGE;
  }
  char *default_path = a.save ? NULL : default_weights_path(c);
  if (!a.save && !default_path) {
    say(c, "out of memory");
    return NNRT_EXIT_DATA;
  }
  TrainRun t = {.m = &m, .a = &a, .save = a.save ? a.save : default_path};
  rc = load_data_and_train(c, &t);
  free(default_path);
  return rc;
}

/* ---- predict ---- */

static int parse_value(const char *s, float *out) {
  char *end;
  double v = strtod(s, &end);
  /* strtod skips leading blanks and accepts "inf" and "nan"; a value must be all number. */
  if (!*s || *s == ' ' || *s == '\t' || *end || !isfinite(v) || fabs(v) > FLT_MAX)
    return -1;
  *out = (float)v;
  return 0;
}

static int parse_inputs(const Cli *c, const Args *a, float *x) {
  const NnrtModel *m = c->m;
  if (a->n_values != m->input.width) {
    say(c, "predict expects %lld input value%s, got %d", (long long)m->input.width,
        plural(m->input.width), a->n_values);
    return NNRT_EXIT_USAGE;
  }
  for (int i = 0; i < a->n_values; i++) {
    if (parse_value(a->values[i], &x[i]) != 0) {
      say(c, "input value %d ('%s') is not a finite number", i + 1, a->values[i]);
      return NNRT_EXIT_USAGE;
    }
  }
  return NNRT_EXIT_OK;
}

/* Rows read from standard input. */
typedef struct {
  float *x;
  int64_t rows, cap;
} Rows;

static int is_space(char ch) { return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n'; }

/* One line of values separated by blanks or by commas (with blanks around them); 1 for a blank
 * line, 0 for a row in x, -1 with why[] set for a bad line. */
static int parse_line(char *s, int64_t width, float *x, char *why, size_t whylen) {
  int64_t n = 0;
  char *p = s;
  while (is_space(*p))
    p++;
  if (!*p)
    return 1;
  for (;;) {
    char *start = p;
    while (*p && !is_space(*p) && *p != ',')
      p++;
    char saved = *p;
    *p = '\0';
    float v;
    if (!*start) {
      snprintf(why, whylen, "value %lld is empty", (long long)n + 1);
      return -1;
    }
    if (parse_value(start, &v) != 0) {
      snprintf(why, whylen, "value %lld ('%.40s') is not a finite number", (long long)n + 1,
               start);
      return -1;
    }
    if (n < width)
      x[n] = v;
    n++;
    *p = saved;
    while (is_space(*p))
      p++;
    if (*p == ',') {
      p++;
      while (is_space(*p))
        p++;
    } else if (!*p) {
      break;
    }
  }
  if (n != width) {
    snprintf(why, whylen, "expected %lld value%s, got %lld", (long long)width, plural(width),
             (long long)n);
    return -1;
  }
  return 0;
}

static int read_stdin_rows(const Cli *c, Rows *rows) {
  const int64_t w = c->m->input.width;
  char *line = NULL, why[128];
  size_t size = 0;
  int rc = NNRT_EXIT_OK;
  for (int64_t lineno = 1; getline(&line, &size, c->in) >= 0; lineno++) {
    if (rows->rows == rows->cap) {
      int64_t cap = rows->cap ? 2 * rows->cap : 64;
      float *x = realloc(rows->x, (size_t)(cap * w) * sizeof *x);
      if (!x) {
        say(c, "out of memory for %lld input rows", (long long)cap);
        rc = NNRT_EXIT_DATA;
        break;
      }
      rows->x = x;
      rows->cap = cap;
    }
    int r = parse_line(line, w, rows->x + rows->rows * w, why, sizeof why);
    if (r < 0) {
      say(c, "standard input, line %lld: %s", (long long)lineno, why);
      rc = NNRT_EXIT_DATA;
      break;
    }
    rows->rows += r == 0;
  }
  if (!rc && ferror(c->in)) {
    say(c, "cannot read standard input: %s", strerror(errno));
    rc = NNRT_EXIT_IO;
  }
  free(line);
  return rc;
}

/* Predictions for rows raw inputs in x (scaled here), one line each. */
static int predict_rows(const Cli *c, float *ws, const NnrtInputStats *st, float *x,
                        int64_t rows, int scale) {
  const NnrtModel *m = c->m;
  float *y = malloc((size_t)((rows > 0 ? rows : 1) * m->output.width) * sizeof *y);
  if (!y) {
    say(c, "out of memory for %lld output rows", (long long)rows);
    return NNRT_EXIT_DATA;
  }
  if (scale)
    nnrt_scale_inputs(m, st, x, rows);
  nnrt_predict_rows(m, ws, x, rows, y);
  for (int64_t r = 0; r < rows; r++)
    nnrt_print_outputs(c->out, m, y + r * m->output.width, "%.6g");
  free(y);
  return NNRT_EXIT_OK;
}

static int predict_stdin(const Cli *c, const Args *a, float *ws, NnrtInputStats *st) {
  Rows rows = {0};
  int rc = read_stdin_rows(c, &rows);
  if (!rc)
    rc = load_weights(c, ws, st, a->weights);
  if (!rc)
    rc = predict_rows(c, ws, st, rows.x, rows.rows, 1);
  free(rows.x);
  return rc;
}

static int predict_data(const Cli *c, const Args *a, float *ws, NnrtInputStats *st) {
  int rc = load_weights(c, ws, st, a->weights);
  if (rc)
    return rc;
  NnrtData d = data_with_paths(c->m, &a->data);
  NnrtDataset ds;
  rc = load_dataset(c, &d, st, &ds);
  if (!rc)
    rc = predict_rows(c, ws, st, ds.x, ds.rows, 0);
  nnrt_dataset_free(&ds);
  return rc;
}

static int predict_values(const Cli *c, const Args *a, float *ws, NnrtInputStats *st) {
  const NnrtModel *m = c->m;
  float *x = malloc((size_t)m->input.width * sizeof *x);
  if (!x) {
    say(c, "out of memory");
    return NNRT_EXIT_DATA;
  }
  int rc = parse_inputs(c, a, x);
  if (!rc)
    rc = load_weights(c, ws, st, a->weights);
  if (!rc)
    rc = predict_rows(c, ws, st, x, 1, 1);
  free(x);
  return rc;
}

static int run_predict(const Cli *c, const Args *a) {
  int modes = (a->n_values > 0) + a->from_stdin + (a->data.n > 0);
  if (modes > 1)
    return usage_error(c, "predict",
                       "predict takes input values, '-' (standard input) or --data, only one");
  NnrtInputStats st;
  float *ws = nnrt_workspace_new(c->m);
  if (!ws || stats_new(c->m, &st) != 0) {
    nnrt_workspace_free(ws);
    say(c, "out of memory for the workspace");
    return NNRT_EXIT_DATA;
  }
  int rc = a->from_stdin ? predict_stdin(c, a, ws, &st)
           : a->data.n   ? predict_data(c, a, ws, &st)
                         : predict_values(c, a, ws, &st);
  free(st.mean);
  nnrt_workspace_free(ws);
  return rc;
}

static int cmd_predict(const Cli *c, int argc, char **argv) {
  Args a = {.values = malloc((size_t)(argc > 0 ? argc : 1) * sizeof(char *))};
  if (!a.values) {
    say(c, "out of memory");
    return NNRT_EXIT_DATA;
  }
  int rc = parse_args(c, CMD_PREDICT, argc, argv, &a);
  if (!rc && a.help)
    print_command_help(c, CMD_PREDICT);
  else if (!rc)
    rc = run_predict(c, &a);
  free(a.values);
  return rc;
}

/* ---- eval ---- */

/* What eval measured: loss, metric counts, and a confusion matrix of k x k counts. */
typedef struct {
  double loss;
  int64_t rows, correct;
  int k;
  int64_t *confusion; /* [true * k + predicted] */
} Eval;

static int classes_of(const NnrtModel *m) {
  if (m->metric == NNRT_METRIC_ARGMAX)
    return (int)m->output.width;
  return m->metric == NNRT_METRIC_BINARY ? 2 : 0;
}

static void count_confusion(const NnrtModel *m, const float *ws, int64_t n, Eval *e) {
  const float *out = ws + m->output.offset, *tgt = ws + m->target.offset;
  for (int64_t r = 0; r < n; r++) {
    const float *o = out + r * m->output.width, *t = tgt + r * m->target.width;
    if (m->metric == NNRT_METRIC_ARGMAX) {
      int64_t want = nnrt_argmax(t, m->target.width), got = nnrt_argmax(o, m->output.width);
      e->confusion[want * e->k + got]++;
    } else {
      for (int64_t j = 0; j < m->output.width; j++)
        e->confusion[(t[j] > 0.5f) * 2 + (o[j] > 0.5f)]++;
    }
  }
}

static void load_slot(const NnrtSlot *s, float *ws, const float *data, int64_t start, int64_t n) {
  memcpy(ws + s->offset, data + start * s->width, (size_t)(n * s->width) * sizeof(float));
}

/* The loss and metric of ws's weights on ds through m->evaluate, max_batch rows at a time, with
 * every dropout mask at 1. */
static void evaluate(const NnrtModel *m, float *ws, const NnrtDataset *ds, Eval *e) {
  double sum = 0.0;
  nnrt_fill_noise(m, ws, NULL);
  for (int64_t start = 0; start < ds->rows; start += m->max_batch) {
    int64_t n = ds->rows - start < m->max_batch ? ds->rows - start : m->max_batch;
    load_slot(&m->input, ws, ds->x, start, n);
    load_slot(&m->target, ws, ds->y, start, n);
    m->evaluate(ws, n);
    sum += (double)ws[m->loss_offset] * (double)n;
    if (m->metric != NNRT_METRIC_NONE)
      e->correct += nnrt_count_correct(m, ws, n);
    if (e->k > 0)
      count_confusion(m, ws, n, e);
  }
  e->rows = ds->rows;
  e->loss = ds->rows > 0 ? sum / (double)ds->rows : NAN;
}

static const char *class_label(const NnrtModel *m, int k, int i, char *buf, size_t size) {
  const NnrtData *d = &m->train;
  if (m->metric == NNRT_METRIC_ARGMAX && d->n_class_names == k && d->class_names &&
      d->class_names[i])
    return d->class_names[i];
  snprintf(buf, size, "%d", i);
  return buf;
}

static void print_confusion(const Cli *c, const Eval *e) {
  const NnrtModel *m = c->m;
  int w = (int)strlen("true\\pred");
  char buf[32];
  for (int i = 0; i < e->k; i++) {
    int lw = (int)strlen(class_label(m, e->k, i, buf, sizeof buf));
    w = lw > w ? lw : w;
  }
  int cw = 1;
  for (int i = 0; i < e->k; i++) {
    int lw = (int)strlen(class_label(m, e->k, i, buf, sizeof buf));
    cw = lw > cw ? lw : cw;
  }
  for (int i = 0; i < e->k * e->k; i++) {
    int dw = snprintf(buf, sizeof buf, "%lld", (long long)e->confusion[i]);
    cw = dw > cw ? dw : cw;
  }
  fprintf(c->out, "confusion matrix (rows: true class, columns: predicted class)\n");
  fprintf(c->out, "%*s", w, "true\\pred");
  for (int j = 0; j < e->k; j++)
    fprintf(c->out, "  %*s", cw, class_label(m, e->k, j, buf, sizeof buf));
  fputc('\n', c->out);
  for (int i = 0; i < e->k; i++) {
    fprintf(c->out, "%*s", w, class_label(m, e->k, i, buf, sizeof buf));
    for (int j = 0; j < e->k; j++)
      fprintf(c->out, "  %*lld", cw, (long long)e->confusion[i * e->k + j]);
    fputc('\n', c->out);
  }
}

/* The data eval uses: --data, else the validation data, else the validation_split rows of the
 * training data, else the training data. */
static int eval_data(const Cli *c, const Args *a, const NnrtInputStats *st, NnrtDataset *ds) {
  const NnrtModel *m = c->m;
  if (a->data.n) {
    NnrtData d = data_with_paths(m, &a->data);
    return load_dataset(c, &d, st, ds);
  }
  if (m->validate.kind != NNRT_DATA_NONE)
    return load_dataset(c, &m->validate, st, ds);
  int rc = load_dataset(c, &m->train, st, ds);
  if (rc || !(m->validation_split > 0))
    return rc;
  NnrtDataset val;
  char msg[512];
  if (nnrt_data_split(ds, m->validation_split, &val, msg, sizeof msg) != 0) {
    say(c, "cannot hold out validation_split %g of the training data: %s", m->validation_split,
        msg);
    return NNRT_EXIT_DATA;
  }
  if (val.rows > 0) {
    nnrt_dataset_free(ds);
    *ds = val;
  }
  return NNRT_EXIT_OK;
}

static int run_eval(const Cli *c, const Args *a) {
  const NnrtModel *m = c->m;
  NnrtInputStats st;
  NnrtDataset ds = {0};
  Eval e = {.k = classes_of(m)};
  float *ws = nnrt_workspace_new(m);
  e.confusion = calloc((size_t)(e.k > 0 ? e.k * e.k : 1), sizeof *e.confusion);
  int rc = NNRT_EXIT_OK;
  if (!ws || !e.confusion || stats_new(m, &st) != 0) {
    say(c, "out of memory for the workspace");
    nnrt_workspace_free(ws);
    free(e.confusion);
    return NNRT_EXIT_DATA;
  }
  rc = load_weights(c, ws, &st, a->weights);
  if (!rc)
    rc = eval_data(c, a, &st, &ds);
  if (!rc) {
    evaluate(m, ws, &ds, &e);
    fprintf(c->out, "loss %.6f\n", e.loss);
    if (m->metric != NNRT_METRIC_NONE) {
      fprintf(c->out, "accuracy %.4f\n",
              (double)e.correct / (double)nnrt_metric_count(m, e.rows));
      print_confusion(c, &e);
    }
  }
  nnrt_dataset_free(&ds);
  free(st.mean);
  free(e.confusion);
  nnrt_workspace_free(ws);
  return rc;
}

static int cmd_eval(const Cli *c, int argc, char **argv) {
  Args a = {0};
  int rc = parse_args(c, CMD_EVAL, argc, argv, &a);
  if (rc || a.help) {
    if (a.help)
      print_command_help(c, CMD_EVAL);
    return rc;
  }
  if (!c->m->has_train || !c->m->evaluate) {
    say(c, "model '%s' has no train block: there is no loss to evaluate", c->m->name);
    return NNRT_EXIT_USAGE;
  }
  return run_eval(c, &a);
}

/* ---- info ---- */

static int cmd_info(const Cli *c, int argc, char **argv) {
  Args a = {0};
  int rc = parse_args(c, CMD_INFO, argc, argv, &a);
  if (rc || a.help) {
    if (a.help)
      print_command_help(c, CMD_INFO);
    return rc;
  }
  nnrt_print_summary(c->m, c->out);
  return NNRT_EXIT_OK;
}

/* ---- Dispatch ---- */

static const char *base_name(const char *path) {
  const char *slash = strrchr(path, '/');
  return slash ? slash + 1 : path;
}

static int is_help(const char *arg) { return is_help_flag(arg) || strcmp(arg, "help") == 0; }

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
  if (strcmp(cmd, "eval") == 0)
    return cmd_eval(c, argc - 2, argv + 2);
  if (strcmp(cmd, "info") == 0)
    return cmd_info(c, argc - 2, argv + 2);
  /* "prog --epochs 10" reads as the default command with options. */
  if (cmd[0] == '-' && c->m->has_train)
    return cmd_train(c, argc - 1, argv + 1);
  static const char *const names[] = {"train", "predict", "eval", "info", "help"};
  const char *hint = closest(cmd, names, sizeof names / sizeof *names);
  if (hint)
    return usage_error(c, NULL, "unknown command '%s'; did you mean '%s'?", cmd, hint);
  return usage_error(c, NULL, "unknown command '%s'", cmd);
}

int nnrt_main_io(const NnrtModel *m, int argc, char **argv, FILE *in, FILE *out, FILE *err) {
  const char *argv0 = argc > 0 && argv[0] && argv[0][0] ? argv[0] : m->name;
  Cli c = {.m = m, .prog = base_name(argv0), .argv0 = argv0, .in = in, .out = out, .err = err};
  char msg[256];
  if (nnrt_check_model(m, msg, sizeof msg) != 0) {
    say(&c, "invalid model descriptor: %s", msg);
    return NNRT_EXIT_DATA;
  }
  int rc = dispatch(&c, argc, argv);
  fflush(out);
  return rc;
}

int nnrt_main_streams(const NnrtModel *m, int argc, char **argv, FILE *out, FILE *err) {
  return nnrt_main_io(m, argc, argv, stdin, out, err);
}

int nnrt_main(const NnrtModel *m, int argc, char **argv) {
  return nnrt_main_streams(m, argc, argv, stdout, stderr);
}

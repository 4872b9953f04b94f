/* cli_args: the options after a subcommand, one table of them (OPTIONS: a row per option, the
 * commands that take it and its reader; nnrt_cli_parse_args into Args), and opening what they name:
 * data files (nnrt_cli_load_dataset) and weights (nnrt_cli_load_weights) for every command.
 * Contract: each returns an exit code of cli.c's contract and has said why when not 0. */
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli_internal.h"

static const char *const COMMAND_NAMES[] = {"train", "predict", "eval", "info"};

/* Where the parser is in argv: an option that takes two paths consumes the next argument too. */
typedef struct {
  int argc;
  char **argv;
  int i;
} Cursor;

typedef struct Option Option;
/* Reads the value v of option o into a; 0, or an exit code after saying why. */
typedef int SetFn(const Cli *c, const char *cmd, const Option *o, const char *v, Cursor *k,
                  Args *a);

#define ON(cmd) (1u << (cmd))

/* An option: its name, the value it takes, the commands that take it, what it does (a host's
 * `train --help`; the program's help is cli.c's, with the model's defaults), its reader, and
 * the field of Args it fills (with, for a count, the least value allowed). */
struct Option {
  const char *name, *value;
  unsigned commands;
  const char *help;
  SetFn *set;
  size_t field;
  int64_t min;
};

/* ---- Reading values ---- */

static int parse_count(const Cli *c, const char *opt, const char *s, int64_t min, int64_t *out) {
  char *end;
  errno = 0;
  long long v = strtoll(s, &end, 10);
  if (*s < '0' || *s > '9' || *end || errno || v < min)
    return min > 0 ? nnrt_cli_usage_error(c, "train", "%s expects a positive integer, got '%s'", opt, s)
                   : nnrt_cli_usage_error(c, "train", "%s expects an integer >= %lld, got '%s'", opt,
                                     (long long)min, s);
  *out = v;
  return 0;
}

static int parse_seed(const Cli *c, const char *s, uint64_t *out) {
  char *end;
  errno = 0;
  unsigned long long v = strtoull(s, &end, 10);
  if (*s < '0' || *s > '9' || *end || errno)
    return nnrt_cli_usage_error(c, "train", "--seed expects an integer from 0 to 2^64-1, got '%s'", s);
  *out = v;
  return 0;
}

static int parse_lr(const Cli *c, const char *s, double *out) {
  char *end;
  double v = strtod(s, &end);
  if (!*s || *s == ' ' || *s == '\t' || *end || !isfinite(v) || !(v > 0))
    return nnrt_cli_usage_error(c, "train", "--lr expects a positive number, got '%s'", s);
  *out = v;
  return 0;
}

/* A data option's paths: the value, and for IDX data the next argument too. */
static int take_paths(const Cli *c, const char *cmd, const char *opt, const char *first,
                      Cursor *k, Paths *p) {
  const NnrtModel *m = c->m;
  if (!nnrt_cli_file_data(m))
    return nnrt_cli_usage_error(c, cmd,
                           "%s: model '%s' %s; it has no data file to replace", opt, m->name,
                           m->has_train ? "trains on a data table in its source"
                                    : "has no train block");
  p->n = 0;
  p->path[p->n++] = first;
  if (m->train.kind == NNRT_DATA_IDX) {
    int labels = k->i + 1 < k->argc && k->argv[k->i + 1][0] != '-';
    /* predict reads images alone too: it needs no labels */
    if (!labels && strcmp(cmd, COMMAND_NAMES[CMD_PREDICT]) != 0)
      return nnrt_cli_usage_error(c, cmd, "%s needs two paths for IDX data: the images, then the labels",
                             opt);
    if (labels)
      p->path[p->n++] = k->argv[++k->i];
  }
  return 0;
}

/* ---- The options ---- */

#define FIELD(a, o, type) ((type *)((char *)(a) + (o)->field))

static int set_count(const Cli *c, const char *cmd, const Option *o, const char *v, Cursor *k,
                     Args *a) {
  (void)cmd, (void)k;
  return parse_count(c, o->name, v, o->min, FIELD(a, o, int64_t));
}

static int set_lr(const Cli *c, const char *cmd, const Option *o, const char *v, Cursor *k,
                  Args *a) {
  (void)cmd, (void)o, (void)k;
  return parse_lr(c, v, &a->opt.lr);
}

static int set_seed(const Cli *c, const char *cmd, const Option *o, const char *v, Cursor *k,
                    Args *a) {
  (void)cmd, (void)o, (void)k;
  a->seeded = 1;
  return parse_seed(c, v, &a->opt.seed);
}

static int set_paths(const Cli *c, const char *cmd, const Option *o, const char *v, Cursor *k,
                     Args *a) {
  return take_paths(c, cmd, o->name, v, k, FIELD(a, o, Paths));
}

/* A flag without a value (the table's value is NULL): the int field becomes 1. */
static int set_flag(const Cli *c, const char *cmd, const Option *o, const char *v, Cursor *k,
                    Args *a) {
  (void)k;
  if (v)
    return nnrt_cli_usage_error(c, cmd, "option '%s' takes no value", o->name);
  *FIELD(a, o, int) = 1;
  return 0;
}

/* A path kept as given. */
static int set_path(const Cli *c, const char *cmd, const Option *o, const char *v, Cursor *k,
                    Args *a) {
  (void)c, (void)cmd, (void)k;
  *FIELD(a, o, const char *) = v;
  return 0;
}

#define AT(field) offsetof(Args, field)

enum { TRAIN = ON(CMD_TRAIN), PREDICT = ON(CMD_PREDICT), EVAL = ON(CMD_EVAL) };

static const Option OPTIONS[] = {
  {"--epochs", "N", TRAIN, "number of epochs", set_count, AT(opt.epochs), 1},
  {"--batch", "B", TRAIN, "rows per step, 1 to the compiled maximum", set_count, AT(opt.batch),
   1},
  {"--lr", "X", TRAIN, "learning rate, a positive number", set_lr, 0, 0},
  {"--seed", "S", TRAIN, "seed of initialisation, shuffling and dropout", set_seed, 0, 0},
  {"--threads", "T", TRAIN, "threads to train on (the result is the same for any T)", set_count,
   AT(threads), 1},
  {"--log-every", "K", TRAIN, "print every K-th epoch's line (0: the first and the last)",
   set_count, AT(opt.log_every), 0},
  {"--data", "PATH", TRAIN | PREDICT | EVAL,
   "data instead of the train block's (IDX data: IMAGES LABELS)", set_paths, AT(data), 0},
  {"--validate", "PATH", TRAIN, "validation data instead of the train block's", set_paths,
   AT(validate), 0},
  {"--save", "PATH", TRAIN, "where to write the weights (a training checkpoint; the file it "
   "replaces is kept as PATH.prev)", set_path, AT(save), 0},
  {"--resume", "PATH", TRAIN, "continue the run saved in the checkpoint PATH exactly", set_path,
   AT(resume), 0},
  {"--init", "PATH", TRAIN, "start from the weights in PATH (not with --resume)", set_path,
   AT(init), 0},
  {"--log-json", "PATH", TRAIN, "write one JSON object per epoch to PATH (--resume: continue it)",
   set_path, AT(log_json), 0},
  {"--plot", "PATH", TRAIN, "write an SVG of the loss and accuracy curves to PATH", set_path,
   AT(plot), 0},
  {"--weights-only", NULL, TRAIN, "save the weights without the optimizer state at the end",
   set_flag, AT(weights_only), 0},
  {"--weights", "PATH", PREDICT | EVAL, "weights to use", set_path, AT(weights), 0},
  /* What predict and eval print (an option without a value is a flag). */
  {"--out", "FILE", PREDICT, "write the answers to FILE as CSV (atomically) instead of stdout",
   set_path, AT(out), 0},
  {"--probs", NULL, PREDICT, "label each output with its class", set_flag, AT(probs), 0},
  {"--json", NULL, EVAL, "print the metrics as one JSON object", set_flag, AT(json), 0},
};
enum { N_OPTIONS = sizeof OPTIONS / sizeof *OPTIONS };

/* ---- Parsing ---- */

static int unknown_option(const Cli *c, Command cmd, const char *arg) {
  const char *names[N_OPTIONS];
  size_t n = 0;
  for (size_t k = 0; k < N_OPTIONS; k++)
    if (OPTIONS[k].commands & ON(cmd))
      names[n++] = OPTIONS[k].name;
  char name[64];
  size_t len = strcspn(arg, "=");
  snprintf(name, sizeof name, "%.*s", (int)(len < 63 ? len : 63), arg);
  const char *cmd_name = COMMAND_NAMES[cmd];
  const char *hint = nnrt_cli_closest(name, names, n);
  if (hint)
    return nnrt_cli_usage_error(c, cmd_name, "unknown option '%s' for %s; did you mean '%s'?", name,
                           cmd_name, hint);
  return nnrt_cli_usage_error(c, cmd_name, "unknown option '%s' for %s", name, cmd_name);
}

/* One "--name[=value]" option at argv[k->i]. */
static int parse_option(const Cli *c, Command cmd, Cursor *k, Args *a) {
  const char *arg = k->argv[k->i];
  size_t len = strcspn(arg, "=");
  for (size_t n = 0; n < N_OPTIONS; n++) {
    const Option *o = &OPTIONS[n];
    if (!(o->commands & ON(cmd)) || strlen(o->name) != len || strncmp(arg, o->name, len) != 0)
      continue;
    const char *v = NULL;
    if (arg[len] == '=') {
      v = arg + len + 1;
    } else if (o->value) {
      if (k->i + 1 >= k->argc)
        return nnrt_cli_usage_error(c, COMMAND_NAMES[cmd], "option '%s' needs a value", o->name);
      v = k->argv[++k->i];
    }
    return o->set(c, COMMAND_NAMES[cmd], o, v, k, a);
  }
  return unknown_option(c, cmd, arg);
}

int nnrt_cli_is_help_flag(const char *arg) {
  return strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0;
}

/* Predict's values may be negative, so there only "--" arguments are options, and "-" alone is
 * standard input. */
int nnrt_cli_parse_args(const Cli *c, Command cmd, int argc, char **argv, Args *a) {
  const char *name = COMMAND_NAMES[cmd];
  for (int i = 0; i < argc; i++)
    if (nnrt_cli_is_help_flag(argv[i])) {
      a->help = 1;
      return 0;
    }
  for (Cursor k = {argc, argv, 0}; k.i < argc; k.i++) {
    const char *arg = argv[k.i];
    int rc;
    if (strncmp(arg, "--", 2) == 0 && arg[2])
      rc = parse_option(c, cmd, &k, a);
    else if (cmd == CMD_PREDICT && strcmp(arg, "-") == 0)
      rc = a->from_stdin++ ? nnrt_cli_usage_error(c, name, "'-' given twice") : 0;
    else if (cmd == CMD_PREDICT)
      rc = (a->values[a->n_values++] = argv[k.i], 0);
    else if (arg[0] == '-')
      rc = unknown_option(c, cmd, arg);
    else
      rc = nnrt_cli_usage_error(c, name, "unexpected argument '%s' for %s", arg, name);
    if (rc)
      return NNRT_EXIT_USAGE;
  }
  return 0;
}

void nnrt_cli_print_options(const Cli *c, Command cmd) {
  fprintf(c->out, "Options of %s:\n", COMMAND_NAMES[cmd]);
  for (size_t n = 0; n < N_OPTIONS; n++) {
    const Option *o = &OPTIONS[n];
    if (!(o->commands & ON(cmd)))
      continue;
    char head[32];
    snprintf(head, sizeof head, "%s %s", o->name, o->value ? o->value : "");
    fprintf(c->out, "  %-17s %s\n", head, o->help);
  }
}

/* ---- Data ---- */

/* The train block's data source with its paths replaced by p (same kind, columns, scaling). */
NnrtData nnrt_cli_data_with_paths(const NnrtModel *m, const Paths *p) {
  NnrtData d = m->train;
  d.path = p->path[0];
  d.labels_path = p->n > 1 ? p->path[1] : NULL;
  return d;
}

static int open_check(const Cli *c, const char *path) {
  char err[512];
  int rc = nnrt_check_readable(path, err, sizeof err);
  if (rc)
    nnrt_cli_say(c, "%s", err);
  return rc;
}

typedef int DataLoader(const NnrtModel *m, const NnrtData *d, NnrtDataset *out, char *err,
                       size_t errlen);

/* Loads d with load (a loader of data.h: scale factor applied), then standardises the inputs
 * with st when the model standardises. A file that cannot be opened is exit 3, a file the
 * loader rejects exit 1. */
static int load_with(const Cli *c, DataLoader *load, const NnrtData *d, const NnrtInputStats *st,
                     NnrtDataset *ds) {
  memset(ds, 0, sizeof *ds);
  int rc = NNRT_EXIT_OK;
  for (int i = 0; !rc && i < nnrt_data_files(d->kind); i++)
    if (nnrt_data_file_path(d, i)) /* predict's IDX images may come without labels */
      rc = open_check(c, nnrt_data_file_path(d, i));
  if (rc)
    return rc;
  char msg[768] = "";
  rc = load(c->m, d, ds, msg, sizeof msg);
  if (rc != 0) {
    nnrt_cli_say(c, "%s", msg);
    return rc == NNRT_EXIT_IO ? NNRT_EXIT_IO : NNRT_EXIT_DATA;
  }
  if (st && st->width > 0)
    nnrt_data_standardize(ds, st->mean, st->std);
  return NNRT_EXIT_OK;
}

int nnrt_cli_load_dataset(const Cli *c, const NnrtData *d, const NnrtInputStats *st,
                     NnrtDataset *ds) {
  return load_with(c, nnrt_data_load, d, st, ds);
}

int nnrt_cli_load_inputs(const Cli *c, const NnrtData *d, const NnrtInputStats *st,
                         NnrtDataset *ds) {
  return load_with(c, nnrt_data_load_inputs, d, st, ds);
}

/* ---- Weights ---- */

/* Room for the model's input statistics when it standardises (width 0 otherwise). */
int nnrt_cli_stats_new(const NnrtModel *m, NnrtInputStats *st) {
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
  int rc = nnrt_load_stats(c->m, ws, st, path, msg, sizeof msg);
  if (rc == 0)
    return NNRT_EXIT_OK;
  nnrt_cli_say(c, "%s", msg);
  return rc == NNRT_LOAD_NOMEM ? NNRT_EXIT_DATA : NNRT_EXIT_IO;
}

/* --weights, else the default checkpoint, else the initialisers of a model that never trains.
 * Constants and optimizer state are not in checkpoints: they come from the initialisers first. */
int nnrt_cli_load_weights(const Cli *c, float *ws, NnrtInputStats *st, const char *weights) {
  nnrt_init_params(c->m, ws, c->m->seed);
  if (weights)
    return load_or_fail(c, ws, st, weights);
  const char *path = c->weights;
  int rc = NNRT_EXIT_OK;
  if (access(path, F_OK) == 0) {
    rc = load_or_fail(c, ws, st, path);
  } else if (!c->m->has_train) {
    /* the initialisers are already in ws */
  } else {
    nnrt_cli_say(c, "no trained weights at '%s'; run '%s train' first", path, c->command);
    rc = NNRT_EXIT_IO;
  }
  return rc;
}

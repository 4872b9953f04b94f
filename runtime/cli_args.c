/* cli_args: the options after a subcommand (nnrt_cli_parse_args into Args), and opening what they name:
 * data files (nnrt_cli_load_dataset) and weights (nnrt_cli_load_weights) for every command.
 * Contract: each returns an exit code of cli.c's contract and has said why when not 0. */
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli_internal.h"

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

/* ---- Parsing ---- */

static int parse_count(const Cli *c, const char *opt, const char *s, int64_t *out) {
  char *end;
  errno = 0;
  long long v = strtoll(s, &end, 10);
  if (*s < '0' || *s > '9' || *end || errno || v < 1)
    return nnrt_cli_usage_error(c, "train", "%s expects a positive integer, got '%s'", opt, s);
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
                      int argc, char **argv, int *i, Paths *p) {
  const NnrtModel *m = c->m;
  if (!nnrt_cli_file_data(m))
    return nnrt_cli_usage_error(c, cmd,
                           "%s: model '%s' %s; it has no data file to replace", opt, m->name,
                           m->has_train ? "trains on a data table in its source"
                                    : "has no train block");
  p->n = 0;
  p->path[p->n++] = first;
  if (m->train.kind == NNRT_DATA_IDX) {
    if (*i + 1 >= argc || argv[*i + 1][0] == '-')
      return nnrt_cli_usage_error(c, cmd, "%s needs two paths for IDX data: the images, then the labels",
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
  const char *hint = nnrt_cli_closest(name, names, n < 16 ? n : 16);
  if (hint)
    return nnrt_cli_usage_error(c, cmd, "unknown option '%s' for %s; did you mean '%s'?", name, cmd,
                           hint);
  return nnrt_cli_usage_error(c, cmd, "unknown option '%s' for %s", name, cmd);
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
        return nnrt_cli_usage_error(c, cmd, "option '%s' needs a value", opts[k].name);
      v = argv[++*i];
    }
    return set_option(c, cmd, opts[k].id, opts[k].name, v, argc, argv, i, a);
  }
  return unknown_option(c, cmd, arg, opts, n);
}

int nnrt_cli_is_help_flag(const char *arg) {
  return strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0;
}

/* Predict's values may be negative, so there only "--" arguments are options, and "-" alone is
 * standard input. */
int nnrt_cli_parse_args(const Cli *c, Command cmd, int argc, char **argv, Args *a) {
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
    if (nnrt_cli_is_help_flag(argv[i])) {
      a->help = 1;
      return 0;
    }
  for (int i = 0; i < argc; i++) {
    const char *arg = argv[i];
    int rc;
    if (strncmp(arg, "--", 2) == 0 && arg[2])
      rc = parse_option(c, name, table[cmd].opts, table[cmd].n, argc, argv, &i, a);
    else if (cmd == CMD_PREDICT && strcmp(arg, "-") == 0)
      rc = a->from_stdin++ ? nnrt_cli_usage_error(c, name, "'-' given twice") : 0;
    else if (cmd == CMD_PREDICT)
      rc = (a->values[a->n_values++] = argv[i], 0);
    else if (arg[0] == '-')
      rc = unknown_option(c, name, arg, table[cmd].opts, table[cmd].n);
    else
      rc = nnrt_cli_usage_error(c, name, "unexpected argument '%s' for %s", arg, name);
    if (rc)
      return NNRT_EXIT_USAGE;
  }
  return 0;
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
  FILE *f = fopen(path, "rb");
  if (!f) {
    nnrt_cli_say(c, "cannot load '%s': %s", path, strerror(errno));
    return NNRT_EXIT_IO;
  }
  fclose(f);
  return NNRT_EXIT_OK;
}

/* Loads d as the loader of data.h does (scale factor applied), then standardises the inputs
 * with st when the model standardises. A file that cannot be opened is exit 3, a file the
 * loader rejects exit 1. */
int nnrt_cli_load_dataset(const Cli *c, const NnrtData *d, const NnrtInputStats *st,
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
    nnrt_cli_say(c, "%s", msg);
    return rc == NNRT_EXIT_IO ? NNRT_EXIT_IO : NNRT_EXIT_DATA;
  }
  if (st && st->width > 0)
    nnrt_data_standardize(ds, st->mean, st->std);
  return NNRT_EXIT_OK;
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
  if (nnrt_load_stats(c->m, ws, st, path, msg, sizeof msg) == 0)
    return NNRT_EXIT_OK;
  nnrt_cli_say(c, "%s", msg);
  return NNRT_EXIT_IO;
}

/* --weights, else the default checkpoint, else the initialisers of a model that never trains.
 * Constants and optimizer state are not in checkpoints: they come from the initialisers first. */
int nnrt_cli_load_weights(const Cli *c, float *ws, NnrtInputStats *st, const char *weights) {
  nnrt_init_params(c->m, ws, c->m->seed);
  if (weights)
    return load_or_fail(c, ws, st, weights);
  char *path = nnrt_cli_default_weights_path(c);
  int rc = NNRT_EXIT_OK;
  if (!path) {
    nnrt_cli_say(c, "out of memory");
    rc = NNRT_EXIT_DATA;
  } else if (access(path, F_OK) == 0) {
    rc = load_or_fail(c, ws, st, path);
  } else if (!c->m->has_train) {
    /* the initialisers are already in ws */
  } else {
    nnrt_cli_say(c, "no trained weights at '%s'; run '%s train' first", path, c->argv0);
    rc = NNRT_EXIT_IO;
  }
  free(path);
  return rc;
}

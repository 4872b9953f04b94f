/* cli_cmd: the predict and eval commands, and the printing of outputs they share with train.
 * Contract: nnrt_cli_cmd_predict and nnrt_cli_cmd_eval return an exit code of cli.c's contract and have said
 * why when not 0. */
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli_internal.h"

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

int nnrt_parse_input_row(const NnrtModel *m, int n, char *const *values, float *x, char *err,
                         size_t errlen) {
  if (n != m->input.width) {
    nnrt_errf(err, errlen, "predict expects %lld input value%s, got %d",
              (long long)m->input.width, nnrt_cli_plural(m->input.width), n);
    return -1;
  }
  for (int i = 0; i < n; i++)
    if (parse_value(values[i], &x[i]) != 0) {
      nnrt_errf(err, errlen, "input value %d ('%s') is not a finite number", i + 1, values[i]);
      return -1;
    }
  return 0;
}

static int parse_inputs(const Cli *c, const Args *a, float *x) {
  char msg[256];
  if (nnrt_parse_input_row(c->m, a->n_values, a->values, x, msg, sizeof msg) == 0)
    return NNRT_EXIT_OK;
  nnrt_cli_say(c, "%s", msg);
  return NNRT_EXIT_USAGE;
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
    snprintf(why, whylen, "expected %lld value%s, got %lld", (long long)width, nnrt_cli_plural(width),
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
        nnrt_cli_say(c, "out of memory for %lld input rows", (long long)cap);
        rc = NNRT_EXIT_DATA;
        break;
      }
      rows->x = x;
      rows->cap = cap;
    }
    int r = parse_line(line, w, rows->x + rows->rows * w, why, sizeof why);
    if (r < 0) {
      nnrt_cli_say(c, "standard input, line %lld: %s", (long long)lineno, why);
      rc = NNRT_EXIT_DATA;
      break;
    }
    rows->rows += r == 0;
  }
  if (!rc && ferror(c->in)) {
    nnrt_cli_say(c, "cannot read standard input: %s", strerror(errno));
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
    nnrt_cli_say(c, "out of memory for %lld output rows", (long long)rows);
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
    rc = nnrt_cli_load_weights(c, ws, st, a->weights);
  if (!rc)
    rc = predict_rows(c, ws, st, rows.x, rows.rows, 1);
  free(rows.x);
  return rc;
}

static int predict_data(const Cli *c, const Args *a, float *ws, NnrtInputStats *st) {
  int rc = nnrt_cli_load_weights(c, ws, st, a->weights);
  if (rc)
    return rc;
  NnrtData d = nnrt_cli_data_with_paths(c->m, &a->data);
  NnrtDataset ds;
  rc = nnrt_cli_load_dataset(c, &d, st, &ds);
  if (!rc)
    rc = predict_rows(c, ws, st, ds.x, ds.rows, 0);
  nnrt_dataset_free(&ds);
  return rc;
}

static int predict_values(const Cli *c, const Args *a, float *ws, NnrtInputStats *st) {
  const NnrtModel *m = c->m;
  float *x = malloc((size_t)m->input.width * sizeof *x);
  if (!x) {
    nnrt_cli_say(c, "out of memory");
    return NNRT_EXIT_DATA;
  }
  int rc = parse_inputs(c, a, x);
  if (!rc)
    rc = nnrt_cli_load_weights(c, ws, st, a->weights);
  if (!rc)
    rc = predict_rows(c, ws, st, x, 1, 1);
  free(x);
  return rc;
}

static int run_predict(const Cli *c, const Args *a) {
  int modes = (a->n_values > 0) + a->from_stdin + (a->data.n > 0);
  if (modes > 1)
    return nnrt_cli_usage_error(c, "predict",
                           "predict takes input values, '-' (standard input) or --data, only one");
  NnrtInputStats st;
  float *ws = nnrt_workspace_new(c->m);
  if (!ws || nnrt_cli_stats_new(c->m, &st) != 0) {
    nnrt_workspace_free(ws);
    nnrt_cli_say(c, "out of memory for the workspace");
    return NNRT_EXIT_DATA;
  }
  int rc = a->from_stdin ? predict_stdin(c, a, ws, &st)
           : a->data.n   ? predict_data(c, a, ws, &st)
                         : predict_values(c, a, ws, &st);
  free(st.mean);
  nnrt_workspace_free(ws);
  return rc;
}

int nnrt_cli_cmd_predict(const Cli *c, int argc, char **argv) {
  Args a = {.values = malloc((size_t)(argc > 0 ? argc : 1) * sizeof(char *))};
  if (!a.values) {
    nnrt_cli_say(c, "out of memory");
    return NNRT_EXIT_DATA;
  }
  int rc = nnrt_cli_parse_args(c, CMD_PREDICT, argc, argv, &a);
  if (!rc && a.help)
    nnrt_cli_print_command_help(c, CMD_PREDICT);
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
 * every dropout mask at 1 and the training flag at 0. */
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
    NnrtData d = nnrt_cli_data_with_paths(m, &a->data);
    return nnrt_cli_load_dataset(c, &d, st, ds);
  }
  if (m->validate.kind != NNRT_DATA_NONE)
    return nnrt_cli_load_dataset(c, &m->validate, st, ds);
  int rc = nnrt_cli_load_dataset(c, &m->train, st, ds);
  if (rc || !(m->validation_split > 0))
    return rc;
  NnrtDataset val;
  char msg[512];
  if (nnrt_data_split(ds, m->validation_split, &val, msg, sizeof msg) != 0) {
    nnrt_cli_say(c, "cannot hold out validation_split %g of the training data: %s", m->validation_split,
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
  if (!ws || !e.confusion || nnrt_cli_stats_new(m, &st) != 0) {
    nnrt_cli_say(c, "out of memory for the workspace");
    nnrt_workspace_free(ws);
    free(e.confusion);
    return NNRT_EXIT_DATA;
  }
  rc = nnrt_cli_load_weights(c, ws, &st, a->weights);
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

int nnrt_cli_cmd_eval(const Cli *c, int argc, char **argv) {
  Args a = {0};
  int rc = nnrt_cli_parse_args(c, CMD_EVAL, argc, argv, &a);
  if (rc || a.help) {
    if (a.help)
      nnrt_cli_print_command_help(c, CMD_EVAL);
    return rc;
  }
  if (!c->m->has_train || !c->m->evaluate) {
    nnrt_cli_say(c, "model '%s' has no train block: there is no loss to evaluate", c->m->name);
    return NNRT_EXIT_USAGE;
  }
  return run_eval(c, &a);
}

/* cli_cmd: the eval command: the loss, and the metrics of metrics.h (per-class precision,
 * recall and F1 and the confusion matrix of a classifier; MAE, RMSE and R² of a regression),
 * as text or as one JSON object (--json); and the memory check every command that runs the
 * model makes first (nnrt_cli_workspace_fits).
 * Contract: nnrt_cli_cmd_eval returns an exit code of cli.c's contract and has said why when
 * not 0. */
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli_internal.h"
#include "json.h"
#include "metrics.h"

/* ---- Measuring ---- */

/* What eval measured: the loss, metric counts, a confusion matrix of k x k counts and its
 * per-class scores, or a regression's error sums. */
typedef struct {
  double loss;
  int64_t rows, correct;
  int k;
  int64_t *confusion;     /* [true * k + predicted] */
  NnrtClassScore *scores; /* k classes, then their macro average */
  int regression;         /* no classes, and an output as wide as the target */
  NnrtRegression reg;
} Eval;

static int classes_of(const NnrtModel *m) {
  if (m->metric == NNRT_METRIC_ARGMAX)
    return (int)m->output.width;
  return m->metric == NNRT_METRIC_BINARY ? 2 : 0;
}

static int eval_init(const NnrtModel *m, Eval *e) {
  *e = (Eval){.k = classes_of(m)};
  e->regression = e->k == 0 && m->output.width == m->target.width;
  if (e->k > 0) {
    e->confusion = calloc((size_t)(e->k * e->k), sizeof *e->confusion);
    e->scores = calloc((size_t)(e->k + 1), sizeof *e->scores);
    return e->confusion && e->scores ? 0 : -1;
  }
  return e->regression ? nnrt_regression_init(&e->reg, m->target.width) : 0;
}

static void eval_free(Eval *e) {
  free(e->confusion);
  free(e->scores);
  nnrt_regression_free(&e->reg);
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

/* The loss and metrics of ws's weights on ds through m->evaluate, max_batch rows at a time,
 * with every dropout mask at 1 and the training flag at 0. */
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
    if (e->regression)
      nnrt_regression_add(&e->reg, ws + m->output.offset, ws + m->target.offset, n);
  }
  e->rows = ds->rows;
  e->loss = ds->rows > 0 ? sum / (double)ds->rows : NAN;
  if (e->k > 0)
    nnrt_class_scores(e->confusion, e->k, e->scores);
}

/* ---- Text ---- */

enum { TABLE_WIDTH = 100 }; /* a confusion matrix wider than this is headed by class numbers */

static int max_int(int a, int b) { return a > b ? a : b; }

/* Row label i of the confusion matrix: the class, with its number when columns are numbered. */
static const char *row_label(const NnrtModel *m, int i, int numbered, char *buf, size_t size) {
  if (!numbered)
    return nnrt_class_label(m, i, buf, size); /* the number goes to buf, which outlives us */
  char name[64];
  snprintf(buf, size, "%d %s", i, nnrt_class_label(m, i, name, sizeof name));
  return buf;
}

static void print_confusion(const Cli *c, const Eval *e) {
  const NnrtModel *m = c->m;
  char buf[96];
  int names = 1, counts = 1, numbered = 0;
  for (int i = 0; i < e->k; i++)
    names = max_int(names, (int)strlen(nnrt_class_label(m, i, buf, sizeof buf)));
  for (int i = 0; i < e->k * e->k; i++)
    counts = max_int(counts, snprintf(buf, sizeof buf, "%lld", (long long)e->confusion[i]));
  int w = max_int((int)strlen("true\\pred"), names);
  if (w + e->k * (2 + max_int(names, counts)) > TABLE_WIDTH) {
    numbered = 1;
    w = max_int((int)strlen("true\\pred"), snprintf(buf, sizeof buf, "%d ", e->k - 1) + names);
  }
  int cw = numbered ? max_int(counts, snprintf(buf, sizeof buf, "%d", e->k - 1))
                    : max_int(names, counts);
  fprintf(c->out, "confusion matrix (rows: true class, columns: predicted class)\n");
  fprintf(c->out, "%*s", w, "true\\pred");
  for (int j = 0; j < e->k; j++) {
    char label[64];
    if (numbered)
      snprintf(label, sizeof label, "%d", j);
    fprintf(c->out, "  %*s", cw, numbered ? label : nnrt_class_label(m, j, buf, sizeof buf));
  }
  fputc('\n', c->out);
  for (int i = 0; i < e->k; i++) {
    fprintf(c->out, numbered ? "%-*s" : "%*s", w, row_label(m, i, numbered, buf, sizeof buf));
    for (int j = 0; j < e->k; j++)
      fprintf(c->out, "  %*lld", cw, (long long)e->confusion[i * e->k + j]);
    fputc('\n', c->out);
  }
}

/* scikit-learn's classification report: a line per class, then the macro average. */
static void print_class_scores(const Cli *c, const Eval *e) {
  char buf[64];
  int w = (int)strlen("macro avg");
  for (int i = 0; i < e->k; i++)
    w = max_int(w, (int)strlen(nnrt_class_label(c->m, i, buf, sizeof buf)));
  fprintf(c->out, "%-*s  precision  recall      f1  support\n", w, "class");
  for (int i = 0; i <= e->k; i++) {
    const NnrtClassScore *s = &e->scores[i];
    fprintf(c->out, "%-*s  %9.4f  %6.4f  %6.4f  %7lld\n", w,
            i < e->k ? nnrt_class_label(c->m, i, buf, sizeof buf) : "macro avg",
            s->precision, s->recall, s->f1, (long long)s->support);
  }
}

static double accuracy_of(const NnrtModel *m, const Eval *e) {
  return (double)e->correct / (double)nnrt_metric_count(m, e->rows);
}

static void print_text(const Cli *c, const Eval *e) {
  const NnrtModel *m = c->m;
  fprintf(c->out, "loss %.6f\n", e->loss);
  if (m->metric != NNRT_METRIC_NONE)
    fprintf(c->out, "accuracy %.4f\n", accuracy_of(m, e));
  if (e->k > 0) {
    print_confusion(c, e);
    print_class_scores(c, e);
  }
  if (e->regression) {
    double mae, rmse, r2;
    nnrt_regression_result(&e->reg, &mae, &rmse, &r2);
    fprintf(c->out, "mae %.6g\nrmse %.6g\nr2 %.6f\n", mae, rmse, r2);
  }
}

/* ---- JSON ---- */

static void put_member(FILE *f, const char *key, double v) {
  fprintf(f, ", \"%s\": ", key);
  nnrt_json_put_number(f, v, "%.9g");
}

static void put_score(FILE *f, const NnrtClassScore *s) {
  fprintf(f, "\"precision\": ");
  nnrt_json_put_number(f, s->precision, "%.9g");
  put_member(f, "recall", s->recall);
  put_member(f, "f1", s->f1);
  fprintf(f, ", \"support\": %lld}", (long long)s->support);
}

static void put_classes(FILE *f, const NnrtModel *m, const Eval *e) {
  char buf[64];
  fprintf(f, ", \"classes\": [");
  for (int i = 0; i < e->k; i++) {
    fprintf(f, i ? ", {\"name\": " : "{\"name\": ");
    nnrt_json_put_string(f, nnrt_class_label(m, i, buf, sizeof buf));
    fprintf(f, ", ");
    put_score(f, &e->scores[i]);
  }
  fprintf(f, "], \"macro_avg\": {");
  put_score(f, &e->scores[e->k]);
  fprintf(f, ", \"confusion\": [");
  for (int i = 0; i < e->k; i++) {
    fprintf(f, i ? ", [" : "[");
    for (int j = 0; j < e->k; j++)
      fprintf(f, j ? ", %lld" : "%lld", (long long)e->confusion[i * e->k + j]);
    fputc(']', f);
  }
  fputc(']', f);
}

/* One object on one line: rows, loss, then the classifier's or the regression's figures. */
static void print_json(const Cli *c, const Eval *e) {
  const NnrtModel *m = c->m;
  FILE *f = c->out;
  fprintf(f, "{\"rows\": %lld", (long long)e->rows);
  put_member(f, "loss", e->loss);
  if (m->metric != NNRT_METRIC_NONE)
    put_member(f, "accuracy", accuracy_of(m, e));
  if (e->k > 0)
    put_classes(f, m, e);
  if (e->regression) {
    double mae, rmse, r2;
    nnrt_regression_result(&e->reg, &mae, &rmse, &r2);
    put_member(f, "mae", mae);
    put_member(f, "rmse", rmse);
    put_member(f, "r2", r2);
  }
  fprintf(f, "}\n");
}

/* ---- eval ---- */

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
  if (nnrt_hold_out(m, ds, &val, msg, sizeof msg) != 0) {
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

int nnrt_cli_workspace_fits(const Cli *c) {
  char msg[256];
  if (nnrt_workspace_fits(c->m, msg, sizeof msg) == 0)
    return NNRT_EXIT_OK;
  nnrt_cli_say(c, "%s", msg);
  return NNRT_EXIT_DATA;
}

static int run_eval(const Cli *c, const Args *a) {
  const NnrtModel *m = c->m;
  int fits = nnrt_cli_workspace_fits(c);
  if (fits)
    return fits;
  NnrtInputStats st;
  NnrtDataset ds = {0};
  Eval e;
  float *ws = nnrt_workspace_new(m);
  int rc = NNRT_EXIT_OK;
  if (eval_init(m, &e) != 0 || !ws || nnrt_cli_stats_new(m, &st) != 0) {
    nnrt_cli_say(c, "out of memory for the workspace");
    nnrt_workspace_free(ws);
    eval_free(&e);
    return NNRT_EXIT_DATA;
  }
  rc = nnrt_cli_load_weights(c, ws, &st, a->weights);
  if (!rc)
    rc = eval_data(c, a, &st, &ds);
  if (!rc) {
    evaluate(m, ws, &ds, &e);
    (a->json ? print_json : print_text)(c, &e);
  }
  nnrt_dataset_free(&ds);
  free(st.mean);
  eval_free(&e);
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

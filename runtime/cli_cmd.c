/* cli_cmd: the eval command: the loss, and the metrics of metrics.h (per-class precision,
 * recall and F1 and the confusion matrix of a classifier; MAE, RMSE and R² of a regression),
 * as text or as one JSON object (--json).
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

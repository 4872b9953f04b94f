/* cli_predict: the predict command, and the printing of outputs it shares with train and the
 * REPL. Inputs come from the command line, from standard input (streamed: each line is answered
 * and flushed before the next is read, so a model can serve a pipe), or from a data file with or
 * without targets (nnrt_data_load_inputs). Answers go to stdout, one line a row, or with --out to
 * a CSV file that replaces its path atomically (outfile.h).
 * Contract: nnrt_cli_cmd_predict returns an exit code of cli.c's contract and has said why when
 * not 0. A bad line of standard input stops it with exit 1 after the answers to the lines
 * before it have been written. */
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli_internal.h"
#include "outfile.h"

/* ---- Printing outputs ---- */

void nnrt_print_row(FILE *out, const float *v, int64_t n, const char *fmt) {
  for (int64_t i = 0; i < n; i++) {
    if (i)
      fputc(' ', out);
    fprintf(out, fmt, (double)v[i]);
  }
}

/* The class of a classifier's outputs y: its name when the data names the classes. */
static const char *class_of(const NnrtModel *m, const float *y, char *buf, size_t size) {
  return nnrt_class_label(m, nnrt_argmax(y, m->output.width), buf, size);
}

/* The outputs of one row, then "  class K" for a classifier (K its name when known). */
void nnrt_print_outputs(FILE *out, const NnrtModel *m, const float *y, const char *fmt) {
  char buf[24];
  nnrt_print_row(out, y, m->output.width, fmt);
  if (m->n_classes > 0)
    fprintf(out, "  class %s", class_of(m, y, buf, sizeof buf));
  fputc('\n', out);
}

/* ---- Where the answers go ---- */

typedef struct {
  const Cli *c;
  int probs;         /* --probs: each output labelled with its class */
  const char *path;  /* --out, else NULL: lines on c->out */
  NnrtOutfile file;  /* --out's, open between answers_open and answers_close */
} Answers;

/* A CSV cell, quoted when it holds a delimiter, a quote or a line break. */
static void put_csv_cell(FILE *f, const char *s) {
  if (!s[strcspn(s, ",\"\r\n")]) {
    fputs(s, f);
    return;
  }
  fputc('"', f);
  for (; *s; s++) {
    if (*s == '"')
      fputc('"', f);
    fputc(*s, f);
  }
  fputc('"', f);
}

/* The name of output j: its class for a classifier, else the output's name (with _j when it is
 * wider than one value). */
static const char *output_label(const NnrtModel *m, int64_t j, char *buf, size_t size) {
  if (m->n_classes > 0)
    return nnrt_class_label(m, j, buf, size);
  const char *name = m->output.name ? m->output.name : "output";
  if (m->output.width == 1)
    return name;
  snprintf(buf, size, "%s_%lld", name, (long long)j);
  return buf;
}

static void put_csv_header(FILE *f, const NnrtModel *m) {
  char buf[128];
  for (int64_t j = 0; j < m->output.width; j++) {
    if (j)
      fputc(',', f);
    put_csv_cell(f, output_label(m, j, buf, sizeof buf));
  }
  fputs(m->n_classes > 0 ? ",class\n" : "\n", f);
}

static int answers_open(Answers *an) {
  if (!an->path)
    return NNRT_EXIT_OK;
  char msg[512];
  if (nnrt_outfile_open(&an->file, an->path, msg, sizeof msg) != 0) {
    nnrt_cli_say(an->c, "%s", msg);
    return NNRT_EXIT_IO;
  }
  put_csv_header(an->file.f, an->c->m);
  return NNRT_EXIT_OK;
}

/* The answer to one row: a CSV row with --out, else a line; flushed, for a reader waiting on it. */
static void answer(Answers *an, const float *y) {
  const NnrtModel *m = an->c->m;
  FILE *f = an->path ? an->file.f : an->c->out;
  char buf[128];
  if (an->path) {
    for (int64_t j = 0; j < m->output.width; j++)
      fprintf(f, j ? ",%.9g" : "%.9g", (double)y[j]);
    if (m->n_classes > 0) {
      fputc(',', f);
      put_csv_cell(f, class_of(m, y, buf, sizeof buf));
    }
    fputc('\n', f);
  } else if (an->probs) {
    for (int64_t j = 0; j < m->output.width; j++)
      fprintf(f, "%s%s=%.6g", j ? " " : "", output_label(m, j, buf, sizeof buf), (double)y[j]);
    fprintf(f, "  class %s\n", class_of(m, y, buf, sizeof buf));
  } else {
    nnrt_print_outputs(f, m, y, "%.6g");
  }
  fflush(f);
}

/* Commits --out's file; rc is the command's code so far, which a failed write turns into 3. */
static int answers_close(Answers *an, int rc) {
  if (!an->path || !an->file.f)
    return rc;
  char msg[512];
  if (nnrt_outfile_commit(&an->file, msg, sizeof msg) == 0)
    return rc;
  nnrt_cli_say(an->c, "%s", msg);
  return rc ? rc : NNRT_EXIT_IO;
}

/* Answers rows raw inputs in x (scaled here when scale), predicted together. */
static int answer_rows(Answers *an, float *ws, const NnrtInputStats *st, float *x, int64_t rows,
                       int scale) {
  const NnrtModel *m = an->c->m;
  float *y = malloc((size_t)((rows > 0 ? rows : 1) * m->output.width) * sizeof *y);
  if (!y) {
    nnrt_cli_say(an->c, "out of memory for %lld output rows", (long long)rows);
    return NNRT_EXIT_DATA;
  }
  if (scale)
    nnrt_scale_inputs(m, st, x, rows);
  nnrt_predict_rows(m, ws, x, rows, y);
  for (int64_t r = 0; r < rows; r++)
    answer(an, y + r * m->output.width);
  free(y);
  return NNRT_EXIT_OK;
}

/* ---- Inputs ---- */

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
    snprintf(why, whylen, "expected %lld value%s, got %lld", (long long)width,
             nnrt_cli_plural(width), (long long)n);
    return -1;
  }
  return 0;
}

/* ---- The three sources of inputs ---- */

/* Standard input, a line at a time: each row is answered before the next line is read. */
static int predict_stdin(Answers *an, float *ws, const NnrtInputStats *st, float *x) {
  const Cli *c = an->c;
  char *line = NULL, why[128];
  size_t size = 0;
  int rc = NNRT_EXIT_OK;
  for (int64_t lineno = 1; !rc && getline(&line, &size, c->in) >= 0; lineno++) {
    int r = parse_line(line, c->m->input.width, x, why, sizeof why);
    if (r < 0) {
      nnrt_cli_say(c, "standard input, line %lld: %s", (long long)lineno, why);
      rc = NNRT_EXIT_DATA;
    } else if (r == 0) {
      rc = answer_rows(an, ws, st, x, 1, 1);
    }
  }
  if (!rc && ferror(c->in)) {
    nnrt_cli_say(c, "cannot read standard input: %s", strerror(errno));
    rc = NNRT_EXIT_IO;
  }
  free(line);
  return rc;
}

static int predict_values(Answers *an, const Args *a, float *ws, const NnrtInputStats *st,
                          float *x) {
  char msg[256];
  if (nnrt_parse_input_row(an->c->m, a->n_values, a->values, x, msg, sizeof msg) != 0) {
    nnrt_cli_say(an->c, "%s", msg);
    return NNRT_EXIT_USAGE;
  }
  return answer_rows(an, ws, st, x, 1, 1);
}

static int predict_data(Answers *an, const Args *a, float *ws, const NnrtInputStats *st) {
  NnrtData d = nnrt_cli_data_with_paths(an->c->m, &a->data);
  NnrtDataset ds;
  int rc = nnrt_cli_load_inputs(an->c, &d, st, &ds);
  if (!rc)
    rc = answers_open(an);
  if (!rc)
    rc = answers_close(an, answer_rows(an, ws, st, ds.x, ds.rows, 0));
  nnrt_dataset_free(&ds);
  return rc;
}

/* Weights first, so that a missing file is reported before any input is read; the answers'
 * file is opened once the inputs are known to be good, except for a stream, whose answers are
 * kept up to a bad line. */
static int predict_with(Answers *an, const Args *a, float *ws, NnrtInputStats *st) {
  const Cli *c = an->c;
  int rc = nnrt_cli_load_weights(c, ws, st, a->weights);
  if (rc || a->data.n)
    return rc ? rc : predict_data(an, a, ws, st);
  float *x = malloc((size_t)c->m->input.width * sizeof *x);
  if (!x) {
    nnrt_cli_say(c, "out of memory");
    return NNRT_EXIT_DATA;
  }
  rc = answers_open(an);
  if (!rc)
    rc = answers_close(an, a->from_stdin ? predict_stdin(an, ws, st, x)
                                         : predict_values(an, a, ws, st, x));
  free(x);
  return rc;
}

static int run_predict(const Cli *c, const Args *a) {
  int modes = (a->n_values > 0) + a->from_stdin + (a->data.n > 0);
  if (modes > 1)
    return nnrt_cli_usage_error(c, "predict",
                           "predict takes input values, '-' (standard input) or --data, only one");
  if (a->probs && c->m->n_classes == 0)
    return nnrt_cli_usage_error(c, "predict",
                           "--probs labels the outputs of a classifier; model '%s' has no classes",
                           c->m->name);
  int fits = nnrt_cli_workspace_fits(c);
  if (fits)
    return fits;
  NnrtInputStats st;
  float *ws = nnrt_workspace_new(c->m);
  if (!ws || nnrt_cli_stats_new(c->m, &st) != 0) {
    nnrt_workspace_free(ws);
    nnrt_cli_say(c, "out of memory for the workspace");
    return NNRT_EXIT_DATA;
  }
  Answers an = {.c = c, .probs = a->probs, .path = a->out};
  int rc = predict_with(&an, a, ws, &st);
  nnrt_outfile_discard(&an.file);
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

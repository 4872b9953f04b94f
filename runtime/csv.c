/* csv: the one CSV reader: nnrt_data_load's (data.h states the format) and the probe's
 * (nnrt_data.h), which splits the first lines with the same code. Lines are read through a
 * block buffer, cells split in place (quotes, blanks, delimiters), and the first data row fixes
 * the columns; every error names its line and column. */
#include "data_internal.h"

#include <ctype.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

enum {
  BLOCK = 8192, /* bytes handed to the line splitter at a time (zlib buffers the file) */
  SHOW = 40,    /* bytes of a bad cell quoted in a message */
};

static const char *plural(int64_t n) { return n == 1 ? "" : "s"; }

/* "..." when a cell quoted with %.*s (SHOW) was cut short. */
static const char *ellipsis(const char *s) { return strlen(s) > SHOW ? "..." : ""; }

/* ---- CSV ---- */

/* The file's lines one at a time, through a block buffer so that a NUL byte or an endless line
 * is seen for what it is. */
typedef struct {
  gzFile gz;
  const Report *r;
  unsigned char block[BLOCK];
  size_t pos, len;
  char *line; /* the current line, NUL-terminated, without its line ending */
  size_t line_len, cap;
  int64_t line_no;
} LineReader;

static int append_to_line(LineReader *lr, size_t *n, const unsigned char *src, size_t k) {
  /* One byte over the limit is a '\r' that will be stripped. */
  if (*n + k > NNRT_CSV_MAX_LINE + 1)
    return nnrt_data_fail_as(lr->r, NNRT_PROBE_LINE_TOO_LONG, "line %lld: longer than %d bytes", (long long)lr->line_no + 1,
                     NNRT_CSV_MAX_LINE);
  if (*n + k + 1 > lr->cap) {
    size_t cap = lr->cap ? lr->cap : BLOCK;
    while (cap < *n + k + 1)
      cap *= 2;
    char *line = realloc(lr->line, cap);
    if (!line)
      return nnrt_data_fail(lr->r, "out of memory at line %lld", (long long)lr->line_no + 1);
    lr->line = line;
    lr->cap = cap;
  }
  memcpy(lr->line + *n, src, k);
  *n += k;
  return 0;
}

/* Reads the next line into lr->line; 1 when there was one, 0 at the end, -1 on error. */
static int next_line(LineReader *lr) {
  size_t n = 0;
  int ended = 0, any = 0;
  while (!ended) {
    if (lr->pos == lr->len) {
      int64_t k = nnrt_data_read_gz(lr->gz, lr->r, lr->block, sizeof lr->block);
      if (k < 0)
        return -1;
      if (k == 0)
        break;
      lr->pos = 0;
      lr->len = (size_t)k;
    }
    any = 1;
    unsigned char *start = lr->block + lr->pos, *nl = memchr(start, '\n', lr->len - lr->pos);
    size_t k = nl ? (size_t)(nl - start) : lr->len - lr->pos;
    if (append_to_line(lr, &n, start, k) != 0)
      return -1;
    lr->pos += k + (nl != NULL);
    ended = nl != NULL;
  }
  if (!any)
    return 0;
  lr->line_no++;
  if (n > 0 && lr->line[n - 1] == '\r')
    n--;
  if (n > NNRT_CSV_MAX_LINE)
    return nnrt_data_fail_as(lr->r, NNRT_PROBE_LINE_TOO_LONG, "line %lld: longer than %d bytes", (long long)lr->line_no,
                     NNRT_CSV_MAX_LINE);
  if (memchr(lr->line, '\0', n))
    return nnrt_data_fail(lr->r, "line %lld: contains a NUL byte (is this a binary file?)",
                     (long long)lr->line_no);
  lr->line[n] = '\0'; /* append_to_line always left room, even for an empty line */
  lr->line_len = n;
  return 1;
}

typedef struct {
  const NnrtModel *m;
  const NnrtData *d;
  const Report *r;
  NnrtDataset *out;
  int64_t cap; /* rows out has room for */
  char delim;
  LineReader lr;
  char **cells; /* the current line's cells, pointing into lr.line */
  int32_t n_cells, cap_cells;
  int32_t n_cols;        /* cells of the first data row; 0 before it */
  const int32_t *x_cols; /* feature columns: d->x_cols or own_x_cols */
  int32_t *own_x_cols;
  int inputs_only; /* nnrt_data_load_inputs: no targets read, the header detected */
} Csv;

static int is_blank(char ch, char delim) { return (ch == ' ' || ch == '\t') && ch != delim; }

static char *skip_blanks(char *p, char delim) {
  while (is_blank(*p, delim))
    p++;
  return p;
}

static int add_cell(Csv *c, char *cell) {
  if (c->n_cells == NNRT_CSV_MAX_COLUMNS)
    return nnrt_data_fail(c->r, "line %lld: more than %d columns", (long long)c->lr.line_no,
                     NNRT_CSV_MAX_COLUMNS);
  if (c->n_cells == c->cap_cells) {
    int32_t cap = c->cap_cells ? c->cap_cells * 2 : 64;
    char **cells = realloc(c->cells, (size_t)cap * sizeof *cells);
    if (!cells)
      return nnrt_data_fail(c->r, "out of memory at line %lld", (long long)c->lr.line_no);
    c->cells = cells;
    c->cap_cells = cap;
  }
  c->cells[c->n_cells++] = cell;
  return 0;
}

/* Unquotes the quoted cell at p (on its opening quote) into w; returns the end of the cell. */
static char *unquote(Csv *c, char *p, char **w) {
  for (p++;; p++) {
    if (!*p) {
      nnrt_data_fail(c->r, "line %lld: column %d has no closing quote", (long long)c->lr.line_no,
                c->n_cells + 1);
      return NULL;
    }
    if (*p == '"' && p[1] != '"')
      break;
    p += *p == '"'; /* "" stands for one quote */
    *(*w)++ = *p;
  }
  p = skip_blanks(p + 1, c->delim);
  if (*p && *p != c->delim) {
    nnrt_data_fail(c->r, "line %lld: column %d has text after its closing quote",
              (long long)c->lr.line_no, c->n_cells + 1);
    return NULL;
  }
  return p;
}

/* Splits the current line into cells in place: blanks and quotes stripped, NUL-terminated. */
static int split_cells(Csv *c) {
  c->n_cells = 0;
  for (char *p = c->lr.line;;) {
    p = skip_blanks(p, c->delim);
    char *cell = p, *w = p;
    if (*p == '"') {
      if (!(p = unquote(c, p, &w)))
        return -1;
    } else {
      while (*p && *p != c->delim)
        p++;
      for (w = p; w > cell && is_blank(w[-1], c->delim);)
        w--;
    }
    char end = *p;
    *w = '\0'; /* w <= p: the cell never grows, so this overwrites its delimiter at most */
    if (add_cell(c, cell) != 0)
      return -1;
    if (!end)
      return 0;
    p++;
  }
}

static int check_index(const Csv *c, const char *what, int32_t col) {
  if (col >= c->n_cols)
    return nnrt_data_fail(c->r, "line %lld: %s column index %d is beyond the row's %d columns",
                     (long long)c->lr.line_no, what, col, c->n_cols);
  return 0;
}

static int is_target(const NnrtData *d, int32_t col) {
  for (int32_t i = 0; i < d->n_y_cols; i++)
    if (d->y_cols[i] == col)
      return 1;
  return 0;
}

/* Every column that is not a target, in order: the features when none are named; every column
 * of a file of inputs alone (all_inputs). */
static int derive_x_cols(Csv *c, int all_inputs) {
  c->own_x_cols = malloc((size_t)c->n_cols * sizeof *c->own_x_cols);
  if (!c->own_x_cols)
    return nnrt_data_fail(c->r, "out of memory at line %lld", (long long)c->lr.line_no);
  int32_t n = 0;
  for (int32_t col = 0; col < c->n_cols; col++)
    if (all_inputs || !is_target(c->d, col))
      c->own_x_cols[n++] = col;
  c->x_cols = c->own_x_cols;
  if (n != c->m->input.width)
    return nnrt_data_fail(c->r,
                     "line %lld: %d feature columns (the columns that are not targets), but the "
                     "model's input takes %lld value%s",
                     (long long)c->lr.line_no, n, (long long)c->m->input.width,
                     plural(c->m->input.width));
  return 0;
}

/* The first data row fixes the number of columns; the named ones must exist in it. A row of
 * exactly the input's width read for its inputs alone is all inputs. */
static int plan_columns(Csv *c) {
  const NnrtData *d = c->d;
  c->n_cols = c->n_cells;
  if (c->inputs_only && c->n_cols == c->m->input.width)
    return derive_x_cols(c, 1);
  for (int32_t i = 0; i < d->n_y_cols && !c->inputs_only; i++)
    if (check_index(c, "target", d->y_cols[i]) != 0)
      return -1;
  for (int32_t i = 0; i < d->n_x_cols; i++)
    if (check_index(c, "feature", d->x_cols[i]) != 0)
      return -1;
  return d->n_x_cols > 0 ? 0 : derive_x_cols(c, 0);
}

/* Forgets the plan of a line that turned out to be a header. */
static void unplan_columns(Csv *c) {
  free(c->own_x_cols);
  c->own_x_cols = NULL;
  c->x_cols = c->d->x_cols;
  c->n_cols = 0;
}

/* Whether cell s is all number (then in *v). */
static int is_number(const char *s, double *v) {
  char *end = (char *)s;
  /* strtod would skip leading white space of its own; a cell must be all number. */
  if (*s && !isspace((unsigned char)*s))
    *v = strtod(s, &end);
  return end != s && !*end;
}

static int parse_number(const Csv *c, int32_t col, double *v) {
  const char *s = c->cells[col];
  if (!is_number(s, v))
    return nnrt_data_fail(c->r, "line %lld: column %d is not a number ('%.*s%s')",
                     (long long)c->lr.line_no, col + 1, SHOW, s, ellipsis(s));
  if (!isfinite(*v) || fabs(*v) > FLT_MAX)
    return nnrt_data_fail(c->r, "line %lld: column %d is not a finite float ('%.*s%s')",
                     (long long)c->lr.line_no, col + 1, SHOW, s, ellipsis(s));
  return 0;
}

static int parse_inputs(const Csv *c, float *x) {
  for (int64_t j = 0; j < c->out->in_width; j++) {
    int32_t col = c->x_cols[j];
    double v;
    if (parse_number(c, col, &v) != 0)
      return -1;
    x[j] = nnrt_data_scaled(c->d, v);
    if (isnan(x[j]))
      return nnrt_data_fail(c->r, "line %lld: column %d (%g) is not a finite float after scaling by %g",
                       (long long)c->lr.line_no, col + 1, v, c->d->scale);
  }
  return 0;
}

static int class_index(const NnrtData *d, const char *name) {
  for (int32_t i = 0; i < d->n_class_names; i++)
    if (strcmp(d->class_names[i], name) == 0)
      return i;
  return -1;
}

static int parse_targets(const Csv *c, float *y) {
  const NnrtData *d = c->d;
  double v;
  if (c->m->n_classes == 0) {
    for (int32_t j = 0; j < d->n_y_cols; j++) {
      if (parse_number(c, d->y_cols[j], &v) != 0)
        return -1;
      y[j] = nnrt_data_target_value(d, v);
    }
    return 0;
  }
  const char *s = c->cells[d->y_cols[0]];
  if (d->n_class_names > 0) {
    int idx = class_index(d, s);
    if (idx < 0)
      return nnrt_data_fail(c->r, "line %lld: unknown class '%.*s%s'", (long long)c->lr.line_no, SHOW, s,
                       ellipsis(s));
    v = idx;
  } else if (parse_number(c, d->y_cols[0], &v) != 0) {
    return -1;
  }
  return nnrt_data_put_label(c->r, "line", c->lr.line_no, v, c->m->n_classes, y);
}

static int parse_row(Csv *c) {
  if (c->n_cells != c->n_cols)
    return nnrt_data_fail(c->r, "line %lld: ragged row: %d columns, but the first data row has %d",
                     (long long)c->lr.line_no, c->n_cells, c->n_cols);
  NnrtDataset *ds = c->out;
  if (nnrt_data_grow_rows(ds, &c->cap, c->r) != 0 ||
      parse_inputs(c, ds->x + ds->rows * ds->in_width) != 0 ||
      (!c->inputs_only && parse_targets(c, ds->y + ds->rows * ds->target_width) != 0))
    return -1;
  ds->rows++;
  return 0;
}

static int is_blank_line(const char *s) { return s[strspn(s, " \t")] == '\0'; }

/* Whether the planned first line names its inputs rather than giving them: a header. */
static int inputs_are_names(const Csv *c) {
  for (int64_t j = 0; j < c->m->input.width; j++) {
    double v;
    if (!is_number(c->cells[c->x_cols[j]], &v))
      return 1;
  }
  return 0;
}

/* The current line (split) as a data row, or skipped as the header it is when the first line of
 * a file read for its inputs alone. */
static int take_line(Csv *c, int first) {
  if (c->n_cols == 0 && plan_columns(c) != 0)
    return -1;
  if (first && c->inputs_only && c->n_cells == c->n_cols && inputs_are_names(c)) {
    unplan_columns(c);
    return 0;
  }
  return parse_row(c);
}

static int read_csv(Csv *c) {
  int header = c->d->header && !c->inputs_only, any = 0, got;
  while ((got = next_line(&c->lr)) > 0) {
    if (is_blank_line(c->lr.line))
      continue;
    int first = !any;
    any = 1;
    if (header) {
      header = 0;
      continue;
    }
    if (split_cells(c) != 0 || take_line(c, first) != 0)
      return -1;
  }
  if (got < 0 || nnrt_data_check_clean_end(c->lr.gz, c->r) != 0)
    return -1;
  if (!any)
    return nnrt_data_fail_as(c->r, NNRT_PROBE_EMPTY, "empty file");
  if (c->out->rows == 0)
    return nnrt_data_fail(c->r, "no data rows after the header");
  nnrt_data_shrink_to_rows(c->out);
  return 0;
}

static int check_column_list(const Report *r, const char *what, int32_t n, const int32_t *cols) {
  if (n < 0 || (n > 0 && !cols))
    return nnrt_data_fail(r, "the %s column list is malformed", what);
  for (int32_t i = 0; i < n; i++)
    if (cols[i] < 0)
      return nnrt_data_fail(r, "%s column index %d is negative", what, cols[i]);
  return 0;
}

/* What can be checked of the column choice before reading the file. */
static int check_csv_columns(const NnrtModel *m, const NnrtData *d, const Report *r) {
  if (check_column_list(r, "target", d->n_y_cols, d->y_cols) != 0 ||
      check_column_list(r, "feature", d->n_x_cols, d->x_cols) != 0)
    return -1;
  if (d->n_y_cols == 0)
    return nnrt_data_fail(r, "no target columns given");
  if (m->n_classes > 0 && d->n_y_cols != 1)
    return nnrt_data_fail(r, "%d target columns given, but a model with classes takes one label column",
                     d->n_y_cols);
  if (m->n_classes == 0 && d->n_y_cols != m->target.width)
    return nnrt_data_fail(r, "%d target columns given, but the model's target takes %lld value%s",
                     d->n_y_cols, (long long)m->target.width, plural(m->target.width));
  if (d->n_x_cols > 0 && d->n_x_cols != m->input.width)
    return nnrt_data_fail(r, "%d feature columns given, but the model's input takes %lld value%s",
                     d->n_x_cols, (long long)m->input.width, plural(m->input.width));
  if (d->n_class_names < 0 || (d->n_class_names > 0 && !d->class_names))
    return nnrt_data_fail(r, "the class name list is malformed");
  return 0;
}

static void close_csv(Csv *c) {
  gzclose(c->lr.gz);
  free(c->lr.line);
  free(c->cells);
  free(c->own_x_cols);
}

int nnrt_data_load_csv(const NnrtModel *m, const NnrtData *d, NnrtDataset *ds, const Report *r) {
  if (check_csv_columns(m, d, r) != 0)
    return -1;
  Csv c = {.m = m, .d = d, .r = r, .out = ds, .delim = d->delimiter ? (char)d->delimiter : ',',
           .x_cols = d->x_cols, .lr = {.r = r}, .inputs_only = ds->target_width == 0};
  if (!(c.lr.gz = nnrt_data_open_gz(r)))
    return -1;
  int rc = read_csv(&c);
  close_csv(&c);
  return rc;
}

/* ---- The probe: the first non-blank lines, split as read_csv splits them ---- */

/* The current line's cells, copied into line: they point into lr.line, which the next line
 * overwrites. */
static int keep_line(const Csv *c, NnrtProbeLine *line) {
  line->text = malloc(c->lr.line_len + 1);
  line->cells = malloc((size_t)c->n_cells * sizeof *line->cells);
  line->numeric = malloc((size_t)c->n_cells);
  if (!line->text || !line->cells || !line->numeric)
    return nnrt_data_fail(c->r, "out of memory at line %lld", (long long)c->lr.line_no);
  memcpy(line->text, c->lr.line, c->lr.line_len + 1);
  line->n_cells = c->n_cells;
  for (int32_t i = 0; i < c->n_cells; i++) {
    double v;
    line->cells[i] = line->text + (c->cells[i] - c->lr.line);
    line->numeric[i] = (unsigned char)is_number(line->cells[i], &v);
  }
  return 0;
}

static int probe_lines(Csv *c, NnrtProbe *out) {
  int got = 0;
  while (out->n_lines < NNRT_PROBE_LINES && (got = next_line(&c->lr)) > 0) {
    if (is_blank_line(c->lr.line))
      continue;
    /* Counted first, so that nnrt_data_probe_free frees a half-kept line too. */
    NnrtProbeLine *line = &out->lines[out->n_lines++];
    if (split_cells(c) != 0 || keep_line(c, line) != 0)
      return -1;
  }
  if (out->n_lines == 0)
    return got < 0 ? -1 : nnrt_data_fail_as(c->r, NNRT_PROBE_EMPTY, "empty file");
  return got < 0 ? -1 : 0;
}

int nnrt_data_probe_csv(const char *path, const NnrtData *d, NnrtProbe *out) {
  Report r = {path, out->message, sizeof out->message, out};
  Csv c = {.d = d, .r = &r, .delim = d->delimiter ? (char)d->delimiter : ',', .lr = {.r = &r}};
  if (!(c.lr.gz = nnrt_data_open_gz(&r)))
    return -1;
  int rc = probe_lines(&c, out);
  close_csv(&c);
  return rc;
}


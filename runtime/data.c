/* data: the loader and preprocessing of data.h.
 * Files are read through zlib's gz* functions, which pass plain files through unchanged, so one
 * reader serves plain and gzipped CSV and IDX files alike. */
#include "data.h"

#include <ctype.h>
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "internal.h"

enum {
  BLOCK = 8192,        /* bytes handed to the line splitter at a time (zlib buffers the file) */
  IDX_CHUNK = 1 << 16, /* first allocation for an IDX body, before it doubles */
  READ_MAX = 1 << 20,  /* bytes asked of one gzread, whose length is an unsigned int */
  FIRST_ROWS = 64,     /* first allocation of a CSV data set, before it doubles */
  SHOW = 40,           /* bytes of a bad cell quoted in a message */
  STATS_BLOCK = 64,    /* features whose sums nnrt_data_stats keeps at once */
};

/* ---- Messages ---- */

/* Where a load reports to; every message starts "cannot load 'path': ". */
typedef struct {
  const char *path; /* NULL for the model's own table */
  char *err;
  size_t errlen;
} Report;

__attribute__((format(printf, 2, 3))) static int fail(const Report *r, const char *fmt, ...) {
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  if (r->path)
    nnrt_errf(r->err, r->errlen, "cannot load '%s': %s", r->path, msg);
  else
    nnrt_errf(r->err, r->errlen, "cannot load the data table: %s", msg);
  return -1;
}

static const char *plural(int64_t n) { return n == 1 ? "" : "s"; }

/* "..." when a cell quoted with %.*s (SHOW) was cut short. */
static const char *ellipsis(const char *s) { return strlen(s) > SHOW ? "..." : ""; }

/* ---- Building a data set ---- */

static size_t row_bytes(int64_t rows, int64_t width) {
  return (size_t)rows * (size_t)width * sizeof(float);
}

/* Whether rows rows of the wider of ds's widths fit in a size_t of bytes. */
static int rows_fit(const NnrtDataset *ds, int64_t rows) {
  int64_t widest = ds->in_width > ds->target_width ? ds->in_width : ds->target_width;
  return rows >= 0 && (uint64_t)rows <= SIZE_MAX / sizeof(float) / (uint64_t)widest;
}

/* Room for exactly `rows` rows; used when the rows are already in memory. */
static int alloc_rows(NnrtDataset *ds, int64_t rows, const Report *r) {
  if (rows_fit(ds, rows)) {
    ds->x = malloc(row_bytes(rows, ds->in_width));
    ds->y = malloc(row_bytes(rows, ds->target_width));
  }
  if (!ds->x || !ds->y)
    return fail(r, "out of memory for %lld rows", (long long)rows);
  return 0;
}

/* Room for one more row, doubling *cap when ds is full. */
static int grow_rows(NnrtDataset *ds, int64_t *cap, const Report *r) {
  if (ds->rows < *cap)
    return 0;
  int64_t want = *cap ? *cap * 2 : FIRST_ROWS;
  float *x = rows_fit(ds, want) ? realloc(ds->x, row_bytes(want, ds->in_width)) : NULL;
  if (x)
    ds->x = x;
  float *y = x ? realloc(ds->y, row_bytes(want, ds->target_width)) : NULL;
  if (!y)
    return fail(r, "out of memory after %lld rows", (long long)ds->rows);
  ds->y = y;
  *cap = want;
  return 0;
}

/* Gives back the unused tail of a data set that grew by doubling; keeping it is harmless. */
static void shrink_to_rows(NnrtDataset *ds) {
  float *x = realloc(ds->x, row_bytes(ds->rows, ds->in_width));
  if (x)
    ds->x = x;
  float *y = realloc(ds->y, row_bytes(ds->rows, ds->target_width));
  if (y)
    ds->y = y;
}

void nnrt_dataset_free(NnrtDataset *ds) {
  free(ds->x);
  free(ds->y);
  ds->x = ds->y = NULL;
  ds->rows = 0;
}

/* Input value v as the model sees it, or NAN when that is no finite float. */
static float scaled(const NnrtData *d, double v) {
  if (d->scaling == NNRT_SCALE_FACTOR)
    v *= d->scale;
  return isfinite(v) && fabs(v) <= FLT_MAX ? (float)v : NAN;
}

/* Label v of `unit` number `rec` (a line, row or record) as a one-hot row of n classes. */
/* A real-valued target as the data gives it, or 1/0 for one class against the rest. */
static float target_value(const NnrtData *d, double v) {
  return d->one_vs_rest ? (float)(v == d->positive) : (float)v;
}

static int put_label(const Report *r, const char *unit, int64_t rec, double v, int32_t n,
                     float *row) {
  if (v != floor(v))
    return fail(r, "%s %lld: label %g is not an integer", unit, (long long)rec, v);
  if (v < 0 || v >= n)
    return fail(r, "%s %lld: label %g is out of range for %d classes", unit, (long long)rec, v,
                n);
  memset(row, 0, (size_t)n * sizeof *row);
  row[(int64_t)v] = 1.0f;
  return 0;
}

/* ---- TABLE: the model's own rows ---- */

static int copy_table_row(const NnrtModel *m, const NnrtData *d, NnrtDataset *ds, int64_t i,
                          const Report *r) {
  float *x = ds->x + i * ds->in_width, *y = ds->y + i * ds->target_width;
  for (int64_t j = 0; j < ds->in_width; j++) {
    x[j] = scaled(d, d->x[i * ds->in_width + j]);
    if (isnan(x[j]))
      return fail(r, "row %lld: input value %lld (%g) is not a finite float after scaling",
                  (long long)i + 1, (long long)j + 1, (double)d->x[i * ds->in_width + j]);
  }
  if (m->n_classes > 0)
    return put_label(r, "row", i + 1, d->y[i], m->n_classes, y);
  for (int64_t j = 0; j < ds->target_width; j++)
    y[j] = target_value(d, d->y[i * ds->target_width + j]);
  return 0;
}

static int load_table(const NnrtModel *m, const NnrtData *d, NnrtDataset *ds, const Report *r) {
  if (d->rows < 1 || !d->x || !d->y)
    return fail(r, "it has no rows");
  if (alloc_rows(ds, d->rows, r) != 0)
    return -1;
  for (int64_t i = 0; i < d->rows; i++)
    if (copy_table_row(m, d, ds, i, r) != 0)
      return -1;
  ds->rows = d->rows;
  return 0;
}

/* ---- Reading through zlib ---- */

static gzFile open_gz(const Report *r) {
  errno = 0;
  gzFile gz = gzopen(r->path, "rb");
  if (!gz)
    fail(r, "%s", errno ? strerror(errno) : "out of memory");
  else
    gzbuffer(gz, 1 << 17);
  return gz;
}

static int gz_fail(gzFile gz, const Report *r) {
  int code;
  const char *msg = gzerror(gz, &code);
  if (code == Z_ERRNO)
    return fail(r, "read error: %s", strerror(errno));
  return fail(r, "corrupt gzip data (%s)", msg);
}

/* Up to n bytes into buf; fewer only at the end of the file; -1 on a read error. */
static int64_t read_gz(gzFile gz, const Report *r, unsigned char *buf, size_t n) {
  size_t got = 0;
  while (got < n) {
    size_t ask = n - got < READ_MAX ? n - got : READ_MAX;
    int k = gzread(gz, buf + got, (unsigned)ask);
    if (k < 0)
      return gz_fail(gz, r);
    if (k == 0)
      break;
    got += (size_t)k;
  }
  return (int64_t)got;
}

/* gzread reports a gzip stream cut short as an ordinary end of file; this tells them apart. */
static int check_clean_end(gzFile gz, const Report *r) {
  int code;
  gzerror(gz, &code);
  if (code == Z_BUF_ERROR)
    return fail(r, "truncated gzip stream (unexpected end of file)");
  return 0;
}

/* ---- CSV ---- */

/* The file's lines one at a time, through a block buffer so that a NUL byte or an endless line
 * is seen for what it is. */
typedef struct {
  gzFile gz;
  const Report *r;
  unsigned char block[BLOCK];
  size_t pos, len;
  char *line; /* the current line, NUL-terminated, without its line ending */
  size_t cap;
  int64_t line_no;
} LineReader;

static int append_to_line(LineReader *lr, size_t *n, const unsigned char *src, size_t k) {
  /* One byte over the limit is a '\r' that will be stripped. */
  if (*n + k > NNRT_CSV_MAX_LINE + 1)
    return fail(lr->r, "line %lld: longer than %d bytes", (long long)lr->line_no + 1,
                NNRT_CSV_MAX_LINE);
  if (*n + k + 1 > lr->cap) {
    size_t cap = lr->cap ? lr->cap : BLOCK;
    while (cap < *n + k + 1)
      cap *= 2;
    char *line = realloc(lr->line, cap);
    if (!line)
      return fail(lr->r, "out of memory at line %lld", (long long)lr->line_no + 1);
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
      int64_t k = read_gz(lr->gz, lr->r, lr->block, sizeof lr->block);
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
    return fail(lr->r, "line %lld: longer than %d bytes", (long long)lr->line_no,
                NNRT_CSV_MAX_LINE);
  if (memchr(lr->line, '\0', n))
    return fail(lr->r, "line %lld: contains a NUL byte (is this a binary file?)",
                (long long)lr->line_no);
  lr->line[n] = '\0'; /* append_to_line always left room, even for an empty line */
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
} Csv;

static int is_blank(char ch, char delim) { return (ch == ' ' || ch == '\t') && ch != delim; }

static char *skip_blanks(char *p, char delim) {
  while (is_blank(*p, delim))
    p++;
  return p;
}

static int add_cell(Csv *c, char *cell) {
  if (c->n_cells == NNRT_CSV_MAX_COLUMNS)
    return fail(c->r, "line %lld: more than %d columns", (long long)c->lr.line_no,
                NNRT_CSV_MAX_COLUMNS);
  if (c->n_cells == c->cap_cells) {
    int32_t cap = c->cap_cells ? c->cap_cells * 2 : 64;
    char **cells = realloc(c->cells, (size_t)cap * sizeof *cells);
    if (!cells)
      return fail(c->r, "out of memory at line %lld", (long long)c->lr.line_no);
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
      fail(c->r, "line %lld: column %d has no closing quote", (long long)c->lr.line_no,
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
    fail(c->r, "line %lld: column %d has text after its closing quote",
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
    return fail(c->r, "line %lld: %s column index %d is beyond the row's %d columns",
                (long long)c->lr.line_no, what, col, c->n_cols);
  return 0;
}

static int is_target(const NnrtData *d, int32_t col) {
  for (int32_t i = 0; i < d->n_y_cols; i++)
    if (d->y_cols[i] == col)
      return 1;
  return 0;
}

/* Every column that is not a target, in order: the features when none are named. */
static int derive_x_cols(Csv *c) {
  c->own_x_cols = malloc((size_t)c->n_cols * sizeof *c->own_x_cols);
  if (!c->own_x_cols)
    return fail(c->r, "out of memory at line %lld", (long long)c->lr.line_no);
  int32_t n = 0;
  for (int32_t col = 0; col < c->n_cols; col++)
    if (!is_target(c->d, col))
      c->own_x_cols[n++] = col;
  c->x_cols = c->own_x_cols;
  if (n != c->m->input.width)
    return fail(c->r,
                "line %lld: %d feature columns (the columns that are not targets), but the "
                "model's input takes %lld value%s",
                (long long)c->lr.line_no, n, (long long)c->m->input.width,
                plural(c->m->input.width));
  return 0;
}

/* The first data row fixes the number of columns; the named ones must exist in it. */
static int plan_columns(Csv *c) {
  const NnrtData *d = c->d;
  c->n_cols = c->n_cells;
  for (int32_t i = 0; i < d->n_y_cols; i++)
    if (check_index(c, "target", d->y_cols[i]) != 0)
      return -1;
  for (int32_t i = 0; i < d->n_x_cols; i++)
    if (check_index(c, "feature", d->x_cols[i]) != 0)
      return -1;
  return d->n_x_cols > 0 ? 0 : derive_x_cols(c);
}

static int parse_number(const Csv *c, int32_t col, double *v) {
  const char *s = c->cells[col];
  char *end = (char *)s;
  /* strtod would skip leading white space of its own; a cell must be all number. */
  if (*s && !isspace((unsigned char)*s))
    *v = strtod(s, &end);
  if (end == s || *end)
    return fail(c->r, "line %lld: column %d is not a number ('%.*s%s')",
                (long long)c->lr.line_no, col + 1, SHOW, s, ellipsis(s));
  if (!isfinite(*v) || fabs(*v) > FLT_MAX)
    return fail(c->r, "line %lld: column %d is not a finite float ('%.*s%s')",
                (long long)c->lr.line_no, col + 1, SHOW, s, ellipsis(s));
  return 0;
}

static int parse_inputs(const Csv *c, float *x) {
  for (int64_t j = 0; j < c->out->in_width; j++) {
    int32_t col = c->x_cols[j];
    double v;
    if (parse_number(c, col, &v) != 0)
      return -1;
    x[j] = scaled(c->d, v);
    if (isnan(x[j]))
      return fail(c->r, "line %lld: column %d (%g) is not a finite float after scaling by %g",
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
      y[j] = target_value(d, v);
    }
    return 0;
  }
  const char *s = c->cells[d->y_cols[0]];
  if (d->n_class_names > 0) {
    int idx = class_index(d, s);
    if (idx < 0)
      return fail(c->r, "line %lld: unknown class '%.*s%s'", (long long)c->lr.line_no, SHOW, s,
                  ellipsis(s));
    v = idx;
  } else if (parse_number(c, d->y_cols[0], &v) != 0) {
    return -1;
  }
  return put_label(c->r, "line", c->lr.line_no, v, c->m->n_classes, y);
}

static int parse_row(Csv *c) {
  if (c->n_cells != c->n_cols)
    return fail(c->r, "line %lld: ragged row: %d columns, but the first data row has %d",
                (long long)c->lr.line_no, c->n_cells, c->n_cols);
  NnrtDataset *ds = c->out;
  if (grow_rows(ds, &c->cap, c->r) != 0 ||
      parse_inputs(c, ds->x + ds->rows * ds->in_width) != 0 ||
      parse_targets(c, ds->y + ds->rows * ds->target_width) != 0)
    return -1;
  ds->rows++;
  return 0;
}

static int is_blank_line(const char *s) { return s[strspn(s, " \t")] == '\0'; }

static int read_csv(Csv *c) {
  int header = c->d->header, any = 0, got;
  while ((got = next_line(&c->lr)) > 0) {
    if (is_blank_line(c->lr.line))
      continue;
    any = 1;
    if (header) {
      header = 0;
      continue;
    }
    if (split_cells(c) != 0 || (c->n_cols == 0 && plan_columns(c) != 0) || parse_row(c) != 0)
      return -1;
  }
  if (got < 0 || check_clean_end(c->lr.gz, c->r) != 0)
    return -1;
  if (!any)
    return fail(c->r, "empty file");
  if (c->out->rows == 0)
    return fail(c->r, "no data rows after the header");
  shrink_to_rows(c->out);
  return 0;
}

static int check_column_list(const Report *r, const char *what, int32_t n, const int32_t *cols) {
  if (n < 0 || (n > 0 && !cols))
    return fail(r, "the %s column list is malformed", what);
  for (int32_t i = 0; i < n; i++)
    if (cols[i] < 0)
      return fail(r, "%s column index %d is negative", what, cols[i]);
  return 0;
}

/* What can be checked of the column choice before reading the file. */
static int check_csv_columns(const NnrtModel *m, const NnrtData *d, const Report *r) {
  if (check_column_list(r, "target", d->n_y_cols, d->y_cols) != 0 ||
      check_column_list(r, "feature", d->n_x_cols, d->x_cols) != 0)
    return -1;
  if (d->n_y_cols == 0)
    return fail(r, "no target columns given");
  if (m->n_classes > 0 && d->n_y_cols != 1)
    return fail(r, "%d target columns given, but a model with classes takes one label column",
                d->n_y_cols);
  if (m->n_classes == 0 && d->n_y_cols != m->target.width)
    return fail(r, "%d target columns given, but the model's target takes %lld value%s",
                d->n_y_cols, (long long)m->target.width, plural(m->target.width));
  if (d->n_x_cols > 0 && d->n_x_cols != m->input.width)
    return fail(r, "%d feature columns given, but the model's input takes %lld value%s",
                d->n_x_cols, (long long)m->input.width, plural(m->input.width));
  if (d->n_class_names < 0 || (d->n_class_names > 0 && !d->class_names))
    return fail(r, "the class name list is malformed");
  return 0;
}

static int load_csv(const NnrtModel *m, const NnrtData *d, NnrtDataset *ds, const Report *r) {
  if (check_csv_columns(m, d, r) != 0)
    return -1;
  Csv c = {.m = m, .d = d, .r = r, .out = ds, .delim = d->delimiter ? (char)d->delimiter : ',',
           .x_cols = d->x_cols, .lr = {.r = r}};
  if (!(c.lr.gz = open_gz(r)))
    return -1;
  int rc = read_csv(&c);
  gzclose(c.lr.gz);
  free(c.lr.line);
  free(c.cells);
  free(c.own_x_cols);
  return rc;
}

/* ---- IDX ---- */

typedef struct {
  gzFile gz;
  Report r;
  int ndim;
  uint64_t count, width; /* records, and bytes in each */
} Idx;

static const char *idx_type_name(int type) {
  switch (type) {
  case 0x08: return "unsigned byte";
  case 0x09: return "signed byte";
  case 0x0B: return "short";
  case 0x0C: return "int";
  case 0x0D: return "float";
  case 0x0E: return "double";
  default: return "unknown";
  }
}

static uint32_t big_endian32(const unsigned char *b) {
  return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

/* Reads exactly n header bytes after `before` bytes of the header already read. */
static int read_header_bytes(Idx *f, unsigned char *buf, size_t n, size_t before) {
  int64_t got = read_gz(f->gz, &f->r, buf, n);
  if (got < 0)
    return -1;
  if (got == 0 && before == 0)
    return fail(&f->r, "empty file");
  if ((size_t)got < n)
    return fail(&f->r, "truncated: expected %zu bytes of header, file ends after %zu",
                before + n, before + (size_t)got);
  return 0;
}

/* count and width from the dims, each product checked against the size limit as it grows. */
static int read_dims(Idx *f) {
  unsigned char dims[4 * 255];
  if (read_header_bytes(f, dims, 4 * (size_t)f->ndim, 4) != 0)
    return -1;
  f->count = big_endian32(dims);
  f->width = 1;
  uint64_t total = f->count;
  for (int i = 1; i < f->ndim; i++) {
    uint32_t dim = big_endian32(dims + 4 * i);
    f->width *= dim;
    total *= dim;
    if (f->width > NNRT_IDX_MAX_BYTES || total > NNRT_IDX_MAX_BYTES)
      break;
  }
  if (f->width > NNRT_IDX_MAX_BYTES || total > NNRT_IDX_MAX_BYTES)
    return fail(&f->r, "the header claims more than %llu bytes of data, the loader's limit",
                (unsigned long long)NNRT_IDX_MAX_BYTES);
  return 0;
}

static int open_idx(Idx *f) {
  unsigned char magic[4];
  if (!(f->gz = open_gz(&f->r)) || read_header_bytes(f, magic, 4, 0) != 0)
    return -1;
  if (magic[0] || magic[1])
    return fail(&f->r, "not an IDX file (magic 0x%08x)", big_endian32(magic));
  if (magic[2] != 0x08)
    return fail(&f->r, "IDX type 0x%02x (%s) is not supported, only 0x08 (unsigned byte)",
                magic[2], idx_type_name(magic[2]));
  if (magic[3] == 0)
    return fail(&f->r, "the IDX header has no dimensions");
  f->ndim = magic[3];
  return read_dims(f);
}

static int check_idx_shapes(const NnrtModel *m, const Idx *in, const Idx *lab) {
  if (in->count == 0)
    return fail(&in->r, "no records");
  if (in->width != (uint64_t)m->input.width)
    return fail(&in->r, "records of %llu values, but the model's input takes %lld",
                (unsigned long long)in->width, (long long)m->input.width);
  if (lab->ndim != 1)
    return fail(&lab->r, "a labels file has 1 dimension, this one has %d", lab->ndim);
  if (lab->count != in->count)
    return fail(&lab->r, "%llu labels for the %llu records of '%s'",
                (unsigned long long)lab->count, (unsigned long long)in->count, in->r.path);
  if (m->n_classes == 0 && m->target.width != 1)
    return fail(&lab->r, "labels give 1 target value per record, but the model's target takes %lld",
                (long long)m->target.width);
  return 0;
}

/* Reads the body the header describes into *body, growing it only as data arrives, and
 * insists that the file ends there. */
static int read_idx_body(Idx *f, unsigned char **body) {
  size_t need = (size_t)(f->count * f->width), got = 0, cap = 0;
  while (got < need) {
    if (got == cap) {
      cap = cap * 2 > IDX_CHUNK ? cap * 2 : IDX_CHUNK;
      cap = cap < need ? cap : need;
      unsigned char *grown = realloc(*body, cap);
      if (!grown)
        return fail(&f->r, "out of memory after %zu bytes", got);
      *body = grown;
    }
    int64_t k = read_gz(f->gz, &f->r, *body + got, cap - got);
    if (k < 0)
      return -1;
    if (k == 0)
      return fail(&f->r, "truncated: expected %zu bytes of data, file ends after %zu", need, got);
    got += (size_t)k;
  }
  unsigned char extra;
  int64_t k = read_gz(f->gz, &f->r, &extra, 1);
  if (k > 0)
    return fail(&f->r, "more data than the header describes (%zu bytes)", need);
  return k < 0 ? -1 : check_clean_end(f->gz, &f->r);
}

static int fill_from_idx(const NnrtModel *m, const NnrtData *d, const Idx *in, const Idx *lab,
                         const unsigned char *xb, const unsigned char *yb, NnrtDataset *ds) {
  int64_t rows = (int64_t)lab->count;
  if (alloc_rows(ds, rows, &in->r) != 0)
    return -1;
  for (int64_t i = 0; i < rows * ds->in_width; i++)
    if (isnan(ds->x[i] = scaled(d, xb[i])))
      return fail(&in->r, "the scale %g makes inputs overflow", d->scale);
  for (int64_t i = 0; i < rows; i++) {
    if (m->n_classes == 0)
      ds->y[i] = target_value(d, yb[i]);
    else if (put_label(&lab->r, "record", i + 1, yb[i], m->n_classes, ds->y + i * m->n_classes))
      return -1;
  }
  ds->rows = rows;
  return 0;
}

static int load_idx(const NnrtModel *m, const NnrtData *d, NnrtDataset *ds, const Report *r) {
  Idx in = {.r = *r}, lab = {.r = {d->labels_path, r->err, r->errlen}};
  if (!d->labels_path)
    return fail(r, "IDX data needs a labels file as well");
  unsigned char *xb = NULL, *yb = NULL;
  int rc = open_idx(&in) || open_idx(&lab) || check_idx_shapes(m, &in, &lab) ||
           read_idx_body(&in, &xb) || read_idx_body(&lab, &yb) ||
           fill_from_idx(m, d, &in, &lab, xb, yb, ds);
  if (in.gz)
    gzclose(in.gz);
  if (lab.gz)
    gzclose(lab.gz);
  free(xb);
  free(yb);
  return rc ? -1 : 0;
}

/* ---- Loading ---- */

/* What the model and the descriptor must agree on whatever the source. */
static int check_descriptor(const NnrtModel *m, const NnrtData *d, const Report *r) {
  if (m->input.width < 1 || m->target.width < 1)
    return fail(r, "the model has no input or no target to load data for");
  if (m->n_classes > 0 && m->target.width != m->n_classes)
    return fail(r, "the model's target takes %lld values but it has %d classes",
                (long long)m->target.width, m->n_classes);
  if ((d->kind == NNRT_DATA_CSV || d->kind == NNRT_DATA_IDX) && !d->path)
    return fail(r, "no file named");
  if (d->scaling == NNRT_SCALE_FACTOR && !isfinite(d->scale))
    return fail(r, "the scale factor %g is not finite", d->scale);
  return 0;
}

static int load_kind(const NnrtModel *m, const NnrtData *d, NnrtDataset *ds, const Report *r) {
  if (check_descriptor(m, d, r) != 0)
    return -1;
  switch (d->kind) {
  case NNRT_DATA_TABLE: return load_table(m, d, ds, r);
  case NNRT_DATA_CSV: return load_csv(m, d, ds, r);
  case NNRT_DATA_IDX: return load_idx(m, d, ds, r);
  default: return fail(r, "the model names no data source (kind %d)", d->kind);
  }
}

int nnrt_data_load(const NnrtModel *m, const NnrtData *d, NnrtDataset *out, char *err,
                   size_t errlen) {
  *out = (NnrtDataset){.in_width = m->input.width, .target_width = m->target.width};
  int file = d->kind == NNRT_DATA_CSV || d->kind == NNRT_DATA_IDX;
  Report r = {file ? (d->path ? d->path : "(no path)") : NULL, err, errlen};
  if (load_kind(m, d, out, &r) == 0)
    return 0;
  nnrt_dataset_free(out);
  return -1;
}

/* ---- Preprocessing ---- */

/* Per-feature sums over all rows for features [j0, j0 + n), or with mean the sums of squared
 * deviations from it: a block of features at a time, so rows are read in order without a heap
 * buffer. */
static void sum_features(const NnrtDataset *ds, int64_t j0, int64_t n, const float *mean,
                         double *acc) {
  memset(acc, 0, (size_t)n * sizeof *acc);
  for (int64_t i = 0; i < ds->rows; i++) {
    const float *x = ds->x + i * ds->in_width + j0;
    if (!mean) {
      for (int64_t j = 0; j < n; j++)
        acc[j] += x[j];
      continue;
    }
    for (int64_t j = 0; j < n; j++) {
      double v = (double)x[j] - mean[j0 + j];
      acc[j] += v * v;
    }
  }
}

void nnrt_data_stats(const NnrtDataset *ds, float *mean, float *std) {
  double acc[STATS_BLOCK];
  for (int64_t j0 = 0; j0 < ds->in_width; j0 += STATS_BLOCK) {
    int64_t n = ds->in_width - j0 < STATS_BLOCK ? ds->in_width - j0 : STATS_BLOCK;
    sum_features(ds, j0, n, NULL, acc);
    for (int64_t j = 0; j < n; j++)
      mean[j0 + j] = ds->rows ? (float)(acc[j] / (double)ds->rows) : 0.0f;
    sum_features(ds, j0, n, mean, acc);
    for (int64_t j = 0; j < n; j++) {
      double s = ds->rows ? sqrt(acc[j] / (double)ds->rows) : 0.0;
      /* A constant column leaves rounding noise below float resolution, not a real spread;
       * dividing by it would blow the column up. */
      std[j0 + j] = s > FLT_EPSILON * fabs((double)mean[j0 + j]) && s > 0 ? (float)s : 1.0f;
    }
  }
}

void nnrt_data_standardize(NnrtDataset *ds, const float *mean, const float *std) {
  for (int64_t i = 0; i < ds->rows; i++) {
    float *x = ds->x + i * ds->in_width;
    for (int64_t j = 0; j < ds->in_width; j++)
      x[j] = (x[j] - mean[j]) / std[j];
  }
}

int nnrt_data_split(NnrtDataset *ds, double fraction, NnrtDataset *val, char *err,
                    size_t errlen) {
  *val = (NnrtDataset){.in_width = ds->in_width, .target_width = ds->target_width};
  if (!(fraction >= 0 && fraction < 1)) {
    nnrt_errf(err, errlen, "validation split %g is not in [0, 1)", fraction);
    return -1;
  }
  int64_t n = (int64_t)floor((double)ds->rows * fraction);
  if (n < 1 && fraction > 0 && ds->rows > 1)
    n = 1;
  n = n < ds->rows ? n : ds->rows - 1; /* rows * fraction may round up to rows */
  if (n <= 0)
    return 0;
  int64_t keep = ds->rows - n;
  val->x = malloc(row_bytes(n, ds->in_width));
  val->y = malloc(row_bytes(n, ds->target_width));
  if (!val->x || !val->y) {
    nnrt_dataset_free(val);
    nnrt_errf(err, errlen, "out of memory for %lld validation rows", (long long)n);
    return -1;
  }
  memcpy(val->x, ds->x + keep * ds->in_width, row_bytes(n, ds->in_width));
  memcpy(val->y, ds->y + keep * ds->target_width, row_bytes(n, ds->target_width));
  val->rows = n;
  ds->rows = keep;
  shrink_to_rows(ds);
  return 0;
}

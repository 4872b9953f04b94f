/* data: the loader and preprocessing of data.h: dispatch through the rows of nnrt_sources.h
 * (nnrt_data_source, nnrt_data_load, nnrt_data_probe), the model's own tables, statistics,
 * standardisation and the validation split, and the helpers the readers share (data_internal.h). Files are read through zlib's gz* functions, which pass plain files
 * through unchanged, so one reader serves plain and gzipped CSV (csv.c) and IDX (idx.c) alike. */
#define _DEFAULT_SOURCE /* madvise's MADV_HUGEPAGE */
#include "data.h"

#include <errno.h>
#include <fcntl.h>
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "data_internal.h"
#include "internal.h"

enum {
  READ_MAX = 1 << 20,  /* bytes asked of one gzread, whose length is an unsigned int */
  FIRST_ROWS = 64,     /* first allocation of a CSV data set, before it doubles */
  STATS_BLOCK = 64,    /* features whose sums nnrt_data_stats keeps at once */
};

/* ---- Messages ---- */

static int fail_va(const Report *r, NnrtProbeStatus status, const char *fmt, va_list ap) {
  char msg[512];
  vsnprintf(msg, sizeof msg, fmt, ap);
  if (r->path)
    nnrt_errf(r->err, r->errlen, "cannot load '%s': %s", r->path, msg);
  else
    nnrt_errf(r->err, r->errlen, "cannot load the data table: %s", msg);
  if (r->probe) {
    r->probe->status = status;
    snprintf(r->probe->reason, sizeof r->probe->reason, "%s", msg);
  }
  return -1;
}

__attribute__((format(printf, 2, 3))) int nnrt_data_fail(const Report *r, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fail_va(r, NNRT_PROBE_REFUSED, fmt, ap);
  va_end(ap);
  return -1;
}

__attribute__((format(printf, 3, 4))) int nnrt_data_fail_as(const Report *r,
                                                            NnrtProbeStatus status,
                                                            const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fail_va(r, status, fmt, ap);
  va_end(ap);
  return -1;
}

/* ---- Large blocks ---- */

enum { SMALL_ALIGN = 64, HUGE_PAGE = 2 << 20 };

/* Huge pages pay from a few of them on (the Fashion CNN's 69 MiB workspace: 6% less CPU time
 * a step; its patches are read 1,152 bytes a row apart), and cost nothing a small block needs. */
void *nnrt_alloc_large(size_t bytes) {
  size_t align = bytes >= 2 * (size_t)HUGE_PAGE ? HUGE_PAGE : SMALL_ALIGN;
  if (bytes > SIZE_MAX - align)
    return NULL;
  /* aligned_alloc wants a size that is a multiple of the alignment. */
  size_t padded = (bytes + align - 1) / align * align;
  void *p = aligned_alloc(align, padded ? padded : align);
#ifdef MADV_HUGEPAGE
  if (p && align == HUGE_PAGE)
    madvise(p, padded, MADV_HUGEPAGE);
#endif
  return p;
}

/* ---- Building a data set ---- */

static size_t row_bytes(int64_t rows, int64_t width) {
  return (size_t)rows * (size_t)width * sizeof(float);
}

/* row_bytes, but never 0, so that a data set of inputs alone (target_width 0) still gets a
 * pointer that is not NULL and cannot pass for a failed allocation. */
static size_t alloc_bytes(int64_t rows, int64_t width) {
  size_t n = row_bytes(rows, width);
  return n ? n : sizeof(float);
}

/* Whether rows rows of the wider of ds's widths fit in a size_t of bytes. */
static int rows_fit(const NnrtDataset *ds, int64_t rows) {
  int64_t widest = ds->in_width > ds->target_width ? ds->in_width : ds->target_width;
  return rows >= 0 && (uint64_t)rows <= SIZE_MAX / sizeof(float) / (uint64_t)widest;
}

/* Room for exactly `rows` rows; used when the rows are already in memory. */
int nnrt_data_alloc_rows(NnrtDataset *ds, int64_t rows, const Report *r) {
  if (rows_fit(ds, rows)) {
    ds->x = nnrt_alloc_large(alloc_bytes(rows, ds->in_width));
    ds->y = nnrt_alloc_large(alloc_bytes(rows, ds->target_width));
  }
  if (!ds->x || !ds->y)
    return nnrt_data_fail(r, "out of memory for %lld rows", (long long)rows);
  return 0;
}

/* Room for one more row, doubling *cap when ds is full. */
int nnrt_data_grow_rows(NnrtDataset *ds, int64_t *cap, const Report *r) {
  if (ds->rows < *cap)
    return 0;
  int64_t want = *cap ? *cap * 2 : FIRST_ROWS;
  float *x = rows_fit(ds, want) ? realloc(ds->x, alloc_bytes(want, ds->in_width)) : NULL;
  if (x)
    ds->x = x;
  float *y = x ? realloc(ds->y, alloc_bytes(want, ds->target_width)) : NULL;
  if (!y)
    return nnrt_data_fail(r, "out of memory after %lld rows", (long long)ds->rows);
  ds->y = y;
  *cap = want;
  return 0;
}

/* Gives back the unused tail of a data set that grew by doubling; keeping it is harmless. */
void nnrt_data_shrink_to_rows(NnrtDataset *ds) {
  float *x = realloc(ds->x, alloc_bytes(ds->rows, ds->in_width));
  if (x)
    ds->x = x;
  float *y = realloc(ds->y, alloc_bytes(ds->rows, ds->target_width));
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
float nnrt_data_scaled(const NnrtData *d, double v) {
  if (d->scaling == NNRT_SCALE_FACTOR)
    v *= d->scale;
  return isfinite(v) && fabs(v) <= FLT_MAX ? (float)v : NAN;
}

/* Label v of `unit` number `rec` (a line, row or record) as a one-hot row of n classes. */
/* A real-valued target as the data gives it, or 1/0 for one class against the rest. */
float nnrt_data_target_value(const NnrtData *d, double v) {
  return d->one_vs_rest ? (float)(v == d->positive) : (float)v;
}

int nnrt_data_put_label(const Report *r, const char *unit, int64_t rec, double v, int32_t n,
                   float *row) {
  if (v != floor(v))
    return nnrt_data_fail(r, "%s %lld: label %g is not an integer", unit, (long long)rec, v);
  if (v < 0 || v >= n)
    return nnrt_data_fail(r, "%s %lld: label %g is out of range for %d classes", unit, (long long)rec, v,
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
    x[j] = nnrt_data_scaled(d, d->x[i * ds->in_width + j]);
    if (isnan(x[j]))
      return nnrt_data_fail(r, "row %lld: input value %lld (%g) is not a finite float after scaling",
                       (long long)i + 1, (long long)j + 1, (double)d->x[i * ds->in_width + j]);
  }
  if (ds->target_width == 0)
    return 0;
  if (m->n_classes > 0)
    return nnrt_data_put_label(r, "row", i + 1, d->y[i], m->n_classes, y);
  for (int64_t j = 0; j < ds->target_width; j++)
    y[j] = nnrt_data_target_value(d, d->y[i * ds->target_width + j]);
  return 0;
}

int nnrt_data_load_table(const NnrtModel *m, const NnrtData *d, NnrtDataset *ds,
                         const Report *r) {
  if (d->rows < 1 || !d->x || !d->y)
    return nnrt_data_fail(r, "it has no rows");
  if (nnrt_data_alloc_rows(ds, d->rows, r) != 0)
    return -1;
  for (int64_t i = 0; i < d->rows; i++)
    if (copy_table_row(m, d, ds, i, r) != 0)
      return -1;
  ds->rows = d->rows;
  return 0;
}

/* ---- Opening files ---- */

int nnrt_open_regular(const char *path, const char **why) {
  struct stat st;
  int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0 || fstat(fd, &st) != 0) {
    *why = strerror(errno);
    if (fd >= 0)
      close(fd);
    return -1;
  }
  if (!S_ISREG(st.st_mode)) {
    *why = S_ISDIR(st.st_mode) ? "is a directory" : "not a regular file";
    close(fd);
    errno = S_ISDIR(st.st_mode) ? EISDIR : EINVAL;
    return -1;
  }
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
  return fd;
}

FILE *nnrt_fopen_regular(const char *path, const char **why) {
  int fd = nnrt_open_regular(path, why);
  FILE *f = fd >= 0 ? fdopen(fd, "rb") : NULL;
  if (fd >= 0 && !f) {
    *why = strerror(errno);
    close(fd);
  }
  return f;
}

int nnrt_check_readable(const char *path, char *err, size_t errlen) {
  const char *why;
  int fd = nnrt_open_regular(path, &why);
  if (fd < 0) {
    nnrt_errf(err, errlen, "cannot load '%s': %s", path, why);
    return NNRT_EXIT_IO;
  }
  close(fd);
  return NNRT_EXIT_OK;
}

/* ---- Reading through zlib ---- */

gzFile nnrt_data_open_gz(const Report *r) {
  const char *why = NULL;
  errno = 0;
  int fd = nnrt_open_regular(r->path, &why);
  gzFile gz = fd >= 0 ? gzdopen(fd, "rb") : NULL;
  if (!gz) {
    int err = errno ? errno : ENOMEM;
    if (fd >= 0)
      close(fd), why = "out of memory";
    nnrt_data_fail_as(r, NNRT_PROBE_CANNOT_OPEN, "%s", why);
    if (r->probe)
      r->probe->sys_errno = err;
  } else
    gzbuffer(gz, 1 << 17);
  return gz;
}

static int gz_fail(gzFile gz, const Report *r) {
  int code;
  const char *msg = gzerror(gz, &code), *why = code == Z_ERRNO ? strerror(errno) : msg;
  if (r->probe)
    snprintf(r->probe->detail, sizeof r->probe->detail, "%s", why);
  if (code == Z_ERRNO)
    return nnrt_data_fail_as(r, NNRT_PROBE_READ_ERROR, "read error: %s", why);
  return nnrt_data_fail_as(r, NNRT_PROBE_READ_ERROR, "corrupt gzip data (%s)", why);
}

/* Up to n bytes into buf; fewer only at the end of the file; -1 on a read error. */
int64_t nnrt_data_read_gz(gzFile gz, const Report *r, unsigned char *buf, size_t n) {
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
int nnrt_data_check_clean_end(gzFile gz, const Report *r) {
  int code;
  gzerror(gz, &code);
  if (code == Z_BUF_ERROR)
    return nnrt_data_fail(r, "truncated gzip stream (unexpected end of file)");
  return 0;
}

/* ---- Loading ---- */

/* ---- The source table ---- */

typedef int Loader(const NnrtModel *m, const NnrtData *d, NnrtDataset *ds, const Report *r);
typedef int Prober(const char *path, const NnrtData *d, NnrtProbe *out);

#define SOURCE_ROW(KIND, name, files, check, load, probe, args)                                  \
  {{NNRT_DATA_##KIND, name, files}, load, probe},
static const struct {
  NnrtDataSource row;
  Loader *load;
  Prober *probe;
} sources[] = {NNRT_DATA_SOURCES(SOURCE_ROW)};
#undef SOURCE_ROW

static int source_index(int kind) {
  for (size_t i = 0; i < sizeof sources / sizeof *sources; i++)
    if ((int)sources[i].row.kind == kind)
      return (int)i;
  return -1;
}

const NnrtDataSource *nnrt_data_source(int kind) {
  int i = source_index(kind);
  return i < 0 ? NULL : &sources[i].row;
}

int nnrt_data_files(int kind) {
  const NnrtDataSource *src = nnrt_data_source(kind);
  return src ? src->files : 0;
}

const char *nnrt_data_file_path(const NnrtData *d, int file) {
  return file == 0 ? d->path : d->labels_path;
}

/* ---- Loading ---- */

/* What the model and the descriptor must agree on whatever the source. */
static int check_descriptor(const NnrtModel *m, const NnrtData *d, const Report *r) {
  if (m->input.width < 1 || m->target.width < 1)
    return nnrt_data_fail(r, "the model has no input or no target to load data for");
  if (m->n_classes > 0 && m->target.width != m->n_classes)
    return nnrt_data_fail(r, "the model's target takes %lld values but it has %d classes",
                     (long long)m->target.width, m->n_classes);
  if (r->path && !d->path)
    return nnrt_data_fail(r, "no file named");
  if (d->scaling == NNRT_SCALE_FACTOR && !isfinite(d->scale))
    return nnrt_data_fail(r, "the scale factor %g is not finite", d->scale);
  return 0;
}

static int load_kind(const NnrtModel *m, const NnrtData *d, NnrtDataset *ds, const Report *r) {
  if (check_descriptor(m, d, r) != 0)
    return -1;
  int i = source_index(d->kind);
  if (i < 0)
    return nnrt_data_fail(r, "the model names no data source (kind %d)", d->kind);
  return sources[i].load(m, d, ds, r);
}

/* Loads into out, whose target_width says whether targets are read (0: inputs alone). */
static int load_into(const NnrtModel *m, const NnrtData *d, NnrtDataset *out, char *err,
                     size_t errlen) {
  Report r = {nnrt_data_files(d->kind) ? (d->path ? d->path : "(no path)") : NULL, err, errlen,
              NULL};
  if (load_kind(m, d, out, &r) == 0)
    return 0;
  nnrt_dataset_free(out);
  return -1;
}

int nnrt_data_load(const NnrtModel *m, const NnrtData *d, NnrtDataset *out, char *err,
                   size_t errlen) {
  *out = (NnrtDataset){.in_width = m->input.width, .target_width = m->target.width};
  return load_into(m, d, out, err, errlen);
}

int nnrt_data_load_inputs(const NnrtModel *m, const NnrtData *d, NnrtDataset *out, char *err,
                          size_t errlen) {
  *out = (NnrtDataset){.in_width = m->input.width, .target_width = 0};
  return load_into(m, d, out, err, errlen);
}

/* ---- Probing ---- */

int nnrt_data_probe(const NnrtData *d, int file, NnrtProbe *out) {
  *out = (NnrtProbe){.status = NNRT_PROBE_OK};
  int i = source_index(d->kind);
  const char *path = nnrt_data_file_path(d, file);
  Report r = {path ? path : "(no path)", out->message, sizeof out->message, out};
  if (i < 0 || file < 0 || file >= sources[i].row.files || !sources[i].probe)
    return nnrt_data_fail(&r, "the source (kind %d) has no file %d to probe", d->kind, file);
  if (!path)
    return nnrt_data_fail(&r, "no file named");
  /* A device or a pipe could block or never end: the compiler must not wait on one. */
  struct stat st;
  if (stat(path, &st) != 0) {
    out->sys_errno = errno;
    return nnrt_data_fail_as(&r, NNRT_PROBE_CANNOT_OPEN, "%s", strerror(out->sys_errno));
  }
  if (!S_ISREG(st.st_mode))
    return nnrt_data_fail_as(&r, NNRT_PROBE_NOT_REGULAR, "not a regular file");
  return sources[i].probe(path, d, out);
}

void nnrt_data_probe_free(NnrtProbe *p) {
  for (int i = 0; i < p->n_lines; i++) {
    free(p->lines[i].text);
    free(p->lines[i].cells);
    free(p->lines[i].numeric);
  }
  p->n_lines = 0;
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
  nnrt_data_shrink_to_rows(ds);
  return 0;
}

/* idx: the one IDX reader: nnrt_data_load's (data.h states the format) and the probe's
 * (nnrt_data.h), which reads a header with the same code. An inputs file and a labels file,
 * unsigned bytes only, each header checked against the model and the other file, and the body
 * read as data arrives, never trusting the size a header claims. */
#include "data_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

enum { IDX_CHUNK = 1 << 16 }; /* bytes read at a time, and the first allocation for a body */

/* ---- IDX ---- */

typedef struct {
  gzFile gz;
  Report r;
  int type, ndim;
  uint32_t dims[NNRT_IDX_MAX_DIMS];
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
  int64_t got = nnrt_data_read_gz(f->gz, &f->r, buf, n);
  if (got < 0)
    return -1;
  if (got == 0 && before == 0)
    return nnrt_data_fail_as(&f->r, NNRT_PROBE_EMPTY, "empty file");
  if ((size_t)got < n)
    return nnrt_data_fail_as(&f->r, before ? NNRT_PROBE_CUT_SHORT : NNRT_PROBE_NOT_IDX, "truncated: expected %zu bytes of header, file ends after %zu",
                     before + n, before + (size_t)got);
  return 0;
}

/* count and width from the dims, each product checked against the size limit as it grows. */
static int read_dims(Idx *f) {
  unsigned char dims[4 * NNRT_IDX_MAX_DIMS];
  if (read_header_bytes(f, dims, 4 * (size_t)f->ndim, 4) != 0)
    return -1;
  for (int i = 0; i < f->ndim; i++)
    f->dims[i] = big_endian32(dims + 4 * i);
  f->count = f->dims[0];
  f->width = 1;
  uint64_t total = f->count;
  for (int i = 1; i < f->ndim; i++) {
    f->width *= f->dims[i];
    total *= f->dims[i];
    if (f->width > NNRT_IDX_MAX_BYTES || total > NNRT_IDX_MAX_BYTES)
      break;
  }
  if (f->width > NNRT_IDX_MAX_BYTES || total > NNRT_IDX_MAX_BYTES)
    return nnrt_data_fail_as(&f->r, NNRT_PROBE_TOO_BIG, "the header claims more than %llu bytes of data, the loader's limit",
                     (unsigned long long)NNRT_IDX_MAX_BYTES);
  return 0;
}

static int open_idx(Idx *f) {
  unsigned char magic[4];
  if (!(f->gz = nnrt_data_open_gz(&f->r)) || read_header_bytes(f, magic, 4, 0) != 0)
    return -1;
  f->type = magic[2];
  if (magic[0] || magic[1])
    return nnrt_data_fail_as(&f->r, NNRT_PROBE_NOT_IDX, "not an IDX file (magic 0x%08x)",
                             big_endian32(magic));
  if (magic[2] != 0x08)
    return nnrt_data_fail_as(&f->r, NNRT_PROBE_IDX_TYPE, "IDX type 0x%02x (%s) is not supported, only 0x08 (unsigned byte)",
                     magic[2], idx_type_name(magic[2]));
  if (magic[3] == 0)
    return nnrt_data_fail_as(&f->r, NNRT_PROBE_NOT_IDX, "the IDX header has no dimensions");
  f->ndim = magic[3];
  return read_dims(f);
}

static int check_idx_images(const NnrtModel *m, const Idx *in) {
  if (in->count == 0)
    return nnrt_data_fail(&in->r, "no records");
  if (in->width != (uint64_t)m->input.width)
    return nnrt_data_fail(&in->r, "records of %llu values, but the model's input takes %lld",
                     (unsigned long long)in->width, (long long)m->input.width);
  return 0;
}

static int check_idx_labels(const NnrtModel *m, const Idx *in, const Idx *lab) {
  if (lab->ndim != 1)
    return nnrt_data_fail(&lab->r, "a labels file has 1 dimension, this one has %d", lab->ndim);
  if (lab->count != in->count)
    return nnrt_data_fail(&lab->r, "%llu labels for the %llu records of '%s'",
                     (unsigned long long)lab->count, (unsigned long long)in->count, in->r.path);
  if (m->n_classes == 0 && m->target.width != 1)
    return nnrt_data_fail(&lab->r,
                     "labels give 1 target value per record, but the model's target takes %lld",
                     (long long)m->target.width);
  return 0;
}

/* Where an IDX body goes as it arrives: bytes kept as they are (labels), or inputs turned into
 * scaled floats at once, so the bytes of 60,000 images never sit beside their floats. Either
 * buffer grows (doubling) only as data arrives. */
typedef struct {
  const NnrtData *d; /* inputs: scale with d into floats; NULL: keep the bytes */
  unsigned char *bytes;
  float *floats;
  size_t cap, need;
  float scaled[256]; /* each byte's float, once (NAN: it overflows) */
  int has_scaled;
} Body;

static int body_put(Body *b, const Idx *f, const unsigned char *chunk, size_t at, size_t n) {
  if (at + n > b->cap) {
    size_t cap = b->cap * 2 > IDX_CHUNK ? b->cap * 2 : IDX_CHUNK;
    cap = cap < b->need ? cap : b->need;
    void *grown = b->d ? realloc(b->floats, cap * sizeof(float)) : realloc(b->bytes, cap);
    if (!grown)
      return nnrt_data_fail(&f->r, "out of memory after %zu bytes", at);
    if (b->d)
      b->floats = grown;
    else
      b->bytes = grown;
    b->cap = cap;
  }
  if (!b->d) {
    memcpy(b->bytes + at, chunk, n);
    return 0;
  }
  if (!b->has_scaled)
    for (int v = 0; v < 256; v++)
      b->scaled[v] = nnrt_data_scaled(b->d, v);
  b->has_scaled = 1;
  for (size_t i = 0; i < n; i++)
    if (isnan(b->floats[at + i] = b->scaled[chunk[i]]))
      return nnrt_data_fail(&f->r, "the scale %g makes inputs overflow", b->d->scale);
  return 0;
}

/* Reads the body the header describes into b through the buffer chunk (IDX_CHUNK bytes), and
 * insists that the file ends there. */
static int read_idx_chunks(Idx *f, Body *b, unsigned char *chunk) {
  size_t got = 0;
  while (got < b->need) {
    size_t want = b->need - got < IDX_CHUNK ? b->need - got : IDX_CHUNK;
    int64_t k = nnrt_data_read_gz(f->gz, &f->r, chunk, want);
    if (k < 0)
      return -1;
    if (k == 0)
      return nnrt_data_fail(&f->r, "truncated: expected %zu bytes of data, file ends after %zu",
                       b->need, got);
    if (body_put(b, f, chunk, got, (size_t)k) != 0)
      return -1;
    got += (size_t)k;
  }
  unsigned char extra;
  int64_t k = nnrt_data_read_gz(f->gz, &f->r, &extra, 1);
  if (k > 0)
    return nnrt_data_fail(&f->r, "more data than the header describes (%zu bytes)", b->need);
  return k < 0 ? -1 : nnrt_data_check_clean_end(f->gz, &f->r);
}

static int read_idx_body(Idx *f, Body *b) {
  b->need = (size_t)(f->count * f->width);
  unsigned char *chunk = malloc(IDX_CHUNK); /* not on the stack: an embedder's thread may be small */
  if (!chunk)
    return nnrt_data_fail(&f->r, "out of memory");
  int rc = read_idx_chunks(f, b, chunk);
  free(chunk);
  return rc;
}

/* The labels (bytes) as targets; the inputs are already in ds->x. */
static int fill_targets(const NnrtModel *m, const NnrtData *d, const Idx *lab,
                        const unsigned char *yb, NnrtDataset *ds) {
  int64_t rows = (int64_t)lab->count;
  ds->y = malloc((size_t)rows * (size_t)ds->target_width * sizeof(float));
  if (!ds->y)
    return nnrt_data_fail(&lab->r, "out of memory for %lld rows", (long long)rows);
  for (int64_t i = 0; i < rows; i++) {
    if (m->n_classes == 0)
      ds->y[i] = nnrt_data_target_value(d, yb[i]);
    else if (nnrt_data_put_label(&lab->r, "record", i + 1, yb[i], m->n_classes,
                            ds->y + i * m->n_classes))
      return -1;
  }
  ds->rows = rows;
  return 0;
}

/* The labels' header, checked against the images when given; a data set of inputs alone
 * (target_width 0) may go without. */
static int open_labels(const NnrtModel *m, const NnrtDataset *ds, const Idx *in, Idx *lab) {
  if (!lab->r.path)
    return ds->target_width ? nnrt_data_fail(&in->r, "IDX data needs a labels file as well") : 0;
  return open_idx(lab) || check_idx_labels(m, in, lab) ? -1 : 0;
}

int nnrt_data_load_idx(const NnrtModel *m, const NnrtData *d, NnrtDataset *ds, const Report *r) {
  Idx in = {.r = *r}, lab = {.r = {d->labels_path, r->err, r->errlen}};
  Body x = {.d = d}, y = {.d = NULL};
  int rc = open_idx(&in) || check_idx_images(m, &in) || open_labels(m, ds, &in, &lab) ||
           read_idx_body(&in, &x);
  ds->x = x.floats; /* ds owns it from here, freed with ds on failure */
  if (!rc && ds->target_width == 0)
    ds->rows = (int64_t)in.count;
  else
    rc = rc || read_idx_body(&lab, &y) || fill_targets(m, d, &lab, y.bytes, ds);
  if (in.gz)
    gzclose(in.gz);
  if (lab.gz)
    gzclose(lab.gz);
  free(y.bytes);
  return rc ? -1 : 0;
}

/* The header alone; the dimensions are kept even when they claim too much, so that the compiler
 * can still compare them with the model and the other file. */
int nnrt_data_probe_idx(const char *path, const NnrtData *d, NnrtProbe *out) {
  (void)d;
  Idx f = {.r = {path, out->message, sizeof out->message, out}};
  int rc = open_idx(&f);
  if (f.gz)
    gzclose(f.gz);
  out->idx_type = f.type;
  out->ndim = f.ndim;
  memcpy(out->dims, f.dims, sizeof f.dims);
  out->width = f.width;
  return rc;
}

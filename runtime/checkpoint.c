/* checkpoint: parameters to and from safetensors files.
 * Format: 8-byte little-endian header length N, N bytes of JSON header padded with spaces to a
 * multiple of 8, then the raw little-endian F32 data of every ROLE_PARAM tensor in descriptor
 * order, then, for a model that standardises its inputs, "__standardize.mean" and
 * "__standardize.std" (shape [input.width]):
 *   {"__metadata__":{"format":"nnc","model":NAME},"W1":{"dtype":"F32","shape":[2,2],
 *    "data_offsets":[0,16]},...}
 * Optimizer state and constants are never written, and never expected when loading: state
 * starts at zero and constants come from their initialisers on every run.
 * Contract: nnrt_save replaces the file atomically (temp file, fsync, rename), so a crash or an
 * error leaves the previous checkpoint whole and no temp file behind. nnrt_load validates the
 * header and every tensor's dtype, shape and byte range against the model and reads the data
 * into a scratch buffer; the workspace changes only when the whole file was acceptable. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"
#include "json.h"

/* The same bound the reference safetensors implementation enforces. */
#define NNRT_MAX_HEADER UINT64_C(100000000)
enum { NNRT_IO_CHUNK = 1024 }; /* floats converted per fwrite/fread */

/* One tensor of a checkpoint: a ROLE_PARAM tensor of the workspace or an input statistic. */
typedef struct {
  const char *name;
  int32_t rank;
  int64_t dim[4];
  int64_t size;
  float *data; /* saving reads it, loading writes it */
} Tensor;

static const char STATS_MEAN[] = "__standardize.mean", STATS_STD[] = "__standardize.std";

/* The tensors a checkpoint of m holds, in file order; NULL when out of memory. */
static Tensor *checkpoint_tensors(const NnrtModel *m, float *ws, const NnrtInputStats *st,
                                  int32_t *count) {
  Tensor *t = malloc((size_t)(m->n_params + 2) * sizeof *t);
  int32_t n = 0;
  if (!t)
    return NULL;
  for (int32_t i = 0; i < m->n_params; i++) {
    const NnrtParam *p = &m->params[i];
    if (p->role != NNRT_ROLE_PARAM)
      continue;
    t[n] = (Tensor){.name = p->name, .rank = p->rank, .size = p->size, .data = ws + p->offset};
    memcpy(t[n++].dim, p->dim, sizeof p->dim);
  }
  if (st && st->width > 0) {
    t[n++] = (Tensor){STATS_MEAN, 1, {st->width}, st->width, st->mean};
    t[n++] = (Tensor){STATS_STD, 1, {st->width}, st->width, st->std};
  }
  *count = n;
  return t;
}

/* ---- Saving ---- */

static void put_json_string(FILE *f, const char *s) {
  fputc('"', f);
  for (; *s; s++) {
    unsigned char ch = (unsigned char)*s;
    if (ch == '"' || ch == '\\')
      fprintf(f, "\\%c", ch);
    else if (ch < 0x20)
      fprintf(f, "\\u%04x", ch);
    else
      fputc(ch, f);
  }
  fputc('"', f);
}

static void put_tensor_entry(FILE *f, const Tensor *p, uint64_t begin) {
  fputc(',', f);
  put_json_string(f, p->name);
  fputs(":{\"dtype\":\"F32\",\"shape\":[", f);
  for (int d = 0; d < p->rank; d++)
    fprintf(f, "%s%lld", d ? "," : "", (long long)p->dim[d]);
  fprintf(f, "],\"data_offsets\":[%llu,%llu]}", (unsigned long long)begin,
          (unsigned long long)(begin + 4 * (uint64_t)p->size));
}

/* The padded JSON header in a malloc'd buffer; NULL when out of memory. */
static char *build_header(const NnrtModel *m, const Tensor *t, int32_t nt, size_t *len) {
  char *buf = NULL;
  size_t n = 0;
  FILE *f = open_memstream(&buf, &n);
  if (!f)
    return NULL;
  fputs("{\"__metadata__\":{\"format\":\"nnc\",\"model\":", f);
  put_json_string(f, m->name);
  fputc('}', f);
  uint64_t offset = 0;
  for (int32_t i = 0; i < nt; i++) {
    put_tensor_entry(f, &t[i], offset);
    offset += 4 * (uint64_t)t[i].size;
  }
  fputc('}', f);
  fflush(f);
  /* Padding keeps the data section 8-byte aligned for readers that map the file. */
  fprintf(f, "%*s", (int)((8 - n % 8) % 8), "");
  if (fclose(f) != 0 || n % 8 != 0) {
    free(buf);
    return NULL;
  }
  *len = n;
  return buf;
}

static void put_le32(unsigned char *b, float v) {
  uint32_t u;
  memcpy(&u, &v, sizeof u);
  for (int k = 0; k < 4; k++)
    b[k] = (unsigned char)(u >> (8 * k));
}

static int write_floats(FILE *f, const float *v, int64_t count) {
  unsigned char buf[4 * NNRT_IO_CHUNK];
  while (count > 0) {
    int64_t n = count < NNRT_IO_CHUNK ? count : NNRT_IO_CHUNK;
    for (int64_t i = 0; i < n; i++)
      put_le32(buf + 4 * i, v[i]);
    if (fwrite(buf, 4, (size_t)n, f) != (size_t)n)
      return -1;
    v += n;
    count -= n;
  }
  return 0;
}

static int write_checkpoint(FILE *f, const Tensor *t, int32_t nt, const char *header,
                            size_t hlen) {
  unsigned char len[8];
  for (int k = 0; k < 8; k++)
    len[k] = (unsigned char)((uint64_t)hlen >> (8 * k));
  if (fwrite(len, 1, 8, f) != 8 || fwrite(header, 1, hlen, f) != hlen)
    return -1;
  for (int32_t i = 0; i < nt; i++)
    if (write_floats(f, t[i].data, t[i].size) != 0)
      return -1;
  return fflush(f) == 0 && fsync(fileno(f)) == 0 ? 0 : -1;
}

/* Makes the rename durable. Best effort: some file systems refuse fsync on a directory, and the
 * new checkpoint is already in place either way. */
static void sync_parent_dir(const char *path) {
  const char *slash = strrchr(path, '/');
  char *dir = slash ? strndup(path, slash == path ? 1 : (size_t)(slash - path)) : strdup(".");
  if (!dir)
    return;
  int fd = open(dir, O_RDONLY);
  if (fd >= 0) {
    fsync(fd);
    close(fd);
  }
  free(dir);
}

/* Writes tmp and renames it over path; on failure removes tmp and explains why in err. */
static int replace_file(const Tensor *t, int32_t nt, const char *path, const char *tmp,
                        const char *header, size_t hlen, char *err, size_t errlen) {
  int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL, 0644);
  if (fd < 0) {
    nnrt_errf(err, errlen, "cannot save '%s': cannot create '%s': %s", path, tmp,
              strerror(errno));
    return -1;
  }
  FILE *f = fdopen(fd, "wb");
  int ok = 0, e = errno;
  if (!f) {
    close(fd);
  } else {
    errno = 0;
    ok = write_checkpoint(f, t, nt, header, hlen) == 0;
    e = errno ? errno : EIO; /* a short fwrite need not set errno */
    if (fclose(f) != 0 && ok) {
      ok = 0;
      e = errno;
    }
  }
  if (ok && rename(tmp, path) != 0) {
    ok = 0;
    e = errno;
  }
  if (ok)
    return 0;
  unlink(tmp);
  nnrt_errf(err, errlen, "cannot save '%s': %s", path, strerror(e));
  return -1;
}

int nnrt_save_stats(const NnrtModel *m, const float *ws, const NnrtInputStats *st,
                    const char *path, char *err, size_t errlen) {
  size_t hlen = 0;
  int32_t nt = 0;
  /* Saving only reads through the tensors' data pointers. */
  Tensor *t = checkpoint_tensors(m, (float *)ws, st, &nt);
  char *header = t ? build_header(m, t, nt, &hlen) : NULL;
  size_t tmp_size = strlen(path) + 32;
  char *tmp = malloc(tmp_size);
  int rc = -1;
  if (header && tmp) {
    snprintf(tmp, tmp_size, "%s.tmp.%ld", path, (long)getpid());
    rc = replace_file(t, nt, path, tmp, header, hlen, err, errlen);
  } else {
    nnrt_errf(err, errlen, "cannot save '%s': out of memory", path);
  }
  if (rc == 0)
    sync_parent_dir(path);
  free(tmp);
  free(header);
  free(t);
  return rc;
}

int nnrt_save(const NnrtModel *m, const float *ws, const char *path, char *err, size_t errlen) {
  return nnrt_save_stats(m, ws, NULL, path, err, errlen);
}

/* ---- Loading ---- */

typedef struct {
  int seen;
  uint64_t begin, end;
} Entry;

typedef struct {
  const NnrtModel *m;
  const char *path;
  char *err;
  size_t errlen;
  FILE *f;
  uint64_t file_size, hlen, data_size;
  char *header;
  Tensor *tensors; /* what the file must hold */
  int32_t n_tensors;
  Entry *entries; /* one per tensor */
} Loader;

__attribute__((format(printf, 2, 3))) static int load_fail(Loader *l, const char *fmt, ...) {
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  nnrt_errf(l->err, l->errlen, "cannot load '%s': %s", l->path, msg);
  return -1;
}

static int json_fail(Loader *l, const JsonCursor *c) {
  return load_fail(l, "header is not valid JSON: %s at byte %zu", c->error, c->error_at);
}

static int open_file(Loader *l) {
  struct stat st;
  l->f = fopen(l->path, "rb");
  if (!l->f)
    return load_fail(l, "%s", strerror(errno));
  if (fstat(fileno(l->f), &st) != 0)
    return load_fail(l, "%s", strerror(errno));
  if (!S_ISREG(st.st_mode))
    return load_fail(l, "not a regular file");
  l->file_size = (uint64_t)st.st_size;
  return 0;
}

static int read_header(Loader *l) {
  unsigned char len[8];
  if (l->file_size < 8 || fread(len, 1, 8, l->f) != 8)
    return load_fail(l, "file is too short for a safetensors header (%llu bytes)",
                     (unsigned long long)l->file_size);
  l->hlen = 0;
  for (int k = 7; k >= 0; k--)
    l->hlen = l->hlen << 8 | len[k];
  if (l->hlen > l->file_size - 8)
    return load_fail(l, "header length %llu runs past the end of the file (%llu bytes)",
                     (unsigned long long)l->hlen, (unsigned long long)l->file_size);
  if (l->hlen > NNRT_MAX_HEADER)
    return load_fail(l, "header length %llu exceeds the limit of %llu bytes",
                     (unsigned long long)l->hlen, (unsigned long long)NNRT_MAX_HEADER);
  l->data_size = l->file_size - 8 - l->hlen;
  l->header = malloc((size_t)l->hlen + 1);
  if (!l->header)
    return load_fail(l, "out of memory for a %llu-byte header", (unsigned long long)l->hlen);
  if (fread(l->header, 1, (size_t)l->hlen, l->f) != l->hlen)
    return load_fail(l, "file ended inside the header");
  return 0;
}

static int find_tensor(const Loader *l, const char *name) {
  for (int32_t i = 0; i < l->n_tensors; i++)
    if (strcmp(l->tensors[i].name, name) == 0)
      return i;
  return -1;
}

enum { MAX_DIMS = 8 };

typedef struct {
  char *dtype;
  int rank; /* -1 until "shape" was read */
  uint64_t dim[MAX_DIMS];
  int n_offsets;
  uint64_t offsets[2];
} TensorInfo;

static int parse_uints(Loader *l, JsonCursor *c, const char *name, const char *field,
                       uint64_t *out, int max, int *n) {
  int count = 0, r;
  if (json_expect(c, '[') != 0)
    return json_fail(l, c);
  *n = 0;
  while ((r = json_next_element(c, &count)) == 1) {
    if (*n == max)
      return load_fail(l, "tensor '%s' has more than %d %s", name, max, field);
    if (json_uint(c, &out[(*n)++]) != 0)
      return json_fail(l, c);
  }
  return r == 0 ? 0 : json_fail(l, c);
}

static int parse_field(Loader *l, JsonCursor *c, const char *name, const char *key,
                       TensorInfo *t) {
  if (strcmp(key, "dtype") == 0 && !t->dtype)
    return json_string(c, &t->dtype) == 0 ? 0 : json_fail(l, c);
  if (strcmp(key, "shape") == 0 && t->rank < 0)
    return parse_uints(l, c, name, "dimensions", t->dim, MAX_DIMS, &t->rank);
  if (strcmp(key, "data_offsets") == 0 && t->n_offsets < 0)
    return parse_uints(l, c, name, "data offsets", t->offsets, 2, &t->n_offsets);
  return load_fail(l, "tensor '%s' has an unknown or repeated field '%s'", name, key);
}

static void format_shape(char *buf, size_t size, const uint64_t *dim, int rank) {
  size_t used = (size_t)snprintf(buf, size, "[");
  for (int d = 0; d < rank && used < size; d++)
    used += (size_t)snprintf(buf + used, size - used, "%s%llu", d ? "," : "",
                             (unsigned long long)dim[d]);
  if (used < size)
    snprintf(buf + used, size - used, "]");
}

static int check_shape(Loader *l, const char *name, const TensorInfo *t, const Tensor *p) {
  int same = t->rank == p->rank;
  for (int d = 0; same && d < p->rank; d++)
    same = t->dim[d] == (uint64_t)p->dim[d];
  if (same)
    return 0;
  char have[160], want[160];
  uint64_t model_dim[4];
  for (int d = 0; d < p->rank; d++)
    model_dim[d] = (uint64_t)p->dim[d];
  format_shape(have, sizeof have, t->dim, t->rank);
  format_shape(want, sizeof want, model_dim, p->rank);
  return load_fail(l, "tensor '%s' has shape %s, the model has %s", name, have, want);
}

static int check_tensor(Loader *l, const char *name, const TensorInfo *t, const Tensor *p) {
  if (!t->dtype || t->rank < 0 || t->n_offsets < 0)
    return load_fail(l, "tensor '%s' lacks %s", name,
                     !t->dtype ? "a dtype" : t->rank < 0 ? "a shape" : "data_offsets");
  if (strcmp(t->dtype, "F32") != 0)
    return load_fail(l, "tensor '%s' has dtype %s, the model needs F32", name, t->dtype);
  if (check_shape(l, name, t, p) != 0)
    return -1;
  if (t->n_offsets != 2)
    return load_fail(l, "tensor '%s' needs 2 data_offsets, has %d", name, t->n_offsets);
  return 0;
}

static int parse_tensor(Loader *l, JsonCursor *c, const char *name) {
  int idx = find_tensor(l, name);
  if (idx < 0)
    return load_fail(l, "unknown tensor '%s'", name);
  if (l->entries[idx].seen)
    return load_fail(l, "tensor '%s' appears twice", name);
  TensorInfo t = {.rank = -1, .n_offsets = -1};
  int count = 0, r;
  char *key;
  if (json_expect(c, '{') != 0)
    return json_fail(l, c);
  while ((r = json_next_member(c, &count, &key)) == 1)
    if (parse_field(l, c, name, key, &t) != 0)
      return -1;
  if (r != 0)
    return json_fail(l, c);
  if (check_tensor(l, name, &t, &l->tensors[idx]) != 0)
    return -1;
  l->entries[idx] = (Entry){.seen = 1, .begin = t.offsets[0], .end = t.offsets[1]};
  return 0;
}

/* The metadata is free-form text for people; only its syntax is checked. */
static int parse_member(Loader *l, JsonCursor *c, const char *key) {
  if (strcmp(key, "__metadata__") != 0)
    return parse_tensor(l, c, key);
  return json_skip_value(c) == 0 ? 0 : json_fail(l, c);
}

static int parse_header(Loader *l) {
  JsonCursor c;
  json_init(&c, l->header, (size_t)l->hlen);
  if (!json_eat(&c, '{'))
    return load_fail(l, "header is not a JSON object");
  int count = 0, r;
  char *key;
  while ((r = json_next_member(&c, &count, &key)) == 1)
    if (parse_member(l, &c, key) != 0)
      return -1;
  if (r != 0)
    return json_fail(l, &c);
  if (!json_at_end(&c))
    return load_fail(l, "header has text after its JSON object");
  return 0;
}

static int check_range(Loader *l, int32_t i) {
  const Tensor *p = &l->tensors[i];
  const Entry *e = &l->entries[i];
  if (!e->seen)
    return load_fail(l, "tensor '%s' is missing", p->name);
  if (e->begin > e->end || e->end > l->data_size)
    return load_fail(l, "tensor '%s' data_offsets [%llu,%llu] lie outside the %llu-byte data "
                        "section", p->name, (unsigned long long)e->begin,
                     (unsigned long long)e->end, (unsigned long long)l->data_size);
  if (e->end - e->begin != 4 * (uint64_t)p->size)
    return load_fail(l, "tensor '%s' data_offsets [%llu,%llu] hold %llu bytes, its shape needs "
                        "%llu", p->name, (unsigned long long)e->begin,
                     (unsigned long long)e->end, (unsigned long long)(e->end - e->begin),
                     4 * (unsigned long long)p->size);
  return 0;
}

static int check_overlaps(Loader *l) {
  /* Parameter counts are small (tens to hundreds), so the pairwise check is cheap. */
  for (int32_t i = 0; i < l->n_tensors; i++)
    for (int32_t j = i + 1; j < l->n_tensors; j++) {
      const Entry *a = &l->entries[i], *b = &l->entries[j];
      if (a->begin < b->end && b->begin < a->end)
        return load_fail(l, "tensors '%s' and '%s' overlap in the data section",
                         l->tensors[i].name, l->tensors[j].name);
    }
  return 0;
}

static int check_entries(Loader *l) {
  for (int32_t i = 0; i < l->n_tensors; i++)
    if (check_range(l, i) != 0)
      return -1;
  return check_overlaps(l);
}

static float get_le32(const unsigned char *b) {
  uint32_t u = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
  float v;
  memcpy(&v, &u, sizeof v);
  return v;
}

static int read_tensor(Loader *l, int32_t i, float *dst) {
  const Tensor *p = &l->tensors[i];
  unsigned char buf[4 * NNRT_IO_CHUNK];
  if (fseeko(l->f, (off_t)(8 + l->hlen + l->entries[i].begin), SEEK_SET) != 0)
    return load_fail(l, "cannot seek to tensor '%s': %s", p->name, strerror(errno));
  for (int64_t done = 0; done < p->size;) {
    int64_t n = p->size - done < NNRT_IO_CHUNK ? p->size - done : NNRT_IO_CHUNK;
    if (fread(buf, 4, (size_t)n, l->f) != (size_t)n)
      return load_fail(l, "file ended inside tensor '%s'", p->name);
    for (int64_t k = 0; k < n; k++)
      dst[done + k] = get_le32(buf + 4 * k);
    done += n;
  }
  return 0;
}

/* Reads every tensor into one scratch buffer, then copies each to its place. */
static int read_data(Loader *l) {
  int64_t total = 0;
  for (int32_t i = 0; i < l->n_tensors; i++)
    total += l->tensors[i].size;
  float *scratch = malloc((size_t)(total > 0 ? total : 1) * sizeof(float));
  if (!scratch)
    return load_fail(l, "out of memory for %lld parameters", (long long)total);
  int rc = 0;
  int64_t at = 0;
  for (int32_t i = 0; i < l->n_tensors && rc == 0; i++) {
    rc = read_tensor(l, i, scratch + at);
    at += l->tensors[i].size;
  }
  at = 0;
  for (int32_t i = 0; i < l->n_tensors && rc == 0; i++) {
    const Tensor *p = &l->tensors[i];
    memcpy(p->data, scratch + at, (size_t)p->size * sizeof(float));
    at += p->size;
  }
  free(scratch);
  return rc;
}

int nnrt_load_stats(const NnrtModel *m, float *ws, NnrtInputStats *st, const char *path,
                    char *err, size_t errlen) {
  Loader l = {.m = m, .path = path, .err = err, .errlen = errlen};
  l.tensors = checkpoint_tensors(m, ws, st, &l.n_tensors);
  l.entries = calloc((size_t)(m->n_params + 2), sizeof *l.entries);
  int rc = !l.entries || !l.tensors ? load_fail(&l, "out of memory") : open_file(&l);
  if (rc == 0)
    rc = read_header(&l);
  if (rc == 0)
    rc = parse_header(&l);
  if (rc == 0)
    rc = check_entries(&l);
  if (rc == 0)
    rc = read_data(&l);
  if (l.f)
    fclose(l.f);
  free(l.header);
  free(l.entries);
  free(l.tensors);
  return rc;
}

int nnrt_load(const NnrtModel *m, float *ws, const char *path, char *err, size_t errlen) {
  return nnrt_load_stats(m, ws, NULL, path, err, errlen);
}

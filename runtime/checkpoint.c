/* checkpoint: weights and whole training states to and from safetensors files.
 *
 * Format (https://github.com/huggingface/safetensors): 8-byte little-endian header length N,
 * N bytes of JSON header padded with spaces to a multiple of 8, then the raw little-endian data
 * of every tensor in header order. The header's "__metadata__" holds strings only.
 *
 * A weights file (nnrt_save, nnrt_save_stats) holds every ROLE_PARAM tensor under its name
 * ("h1.W"), in descriptor order, then, for a model that standardises its inputs, the F32
 * tensors "__standardize.mean" and "__standardize.std" of shape [input.width]; its metadata
 * is {"format":"nnc","model":NAME,"model_hash":16 hex digits}.
 *
 * A training checkpoint (nnrt_save_run, written by nnrt_train_on) holds, in this order:
 *   NAME             F32  every ROLE_PARAM tensor: the weights to use (see __last)
 *   NAME             F32  every ROLE_STATE tensor (optimizer state: "h1.W.m")
 *   __standardize.*  F32  as in a weights file
 *   __order          I64  [rows] the current epoch's row order
 *   __best.NAME      F32  early stopping's best weights so far (when there are any)
 *   __last.NAME      F32  only in the final checkpoint of a run whose best weights were
 *                         restored at the end: the weights training continues from (then NAME
 *                         holds the restored best weights, which predict uses)
 * and the metadata keys format, model, model_hash, epoch (epochs completed), step (global
 * steps done = t), position (rows of the epoch after `epoch` already trained: a mid-epoch
 * save), batch, epochs and seed (of the run that saved), rng_shuffle and rng_dropout (the
 * generators' 256-bit states as 64 hex digits), epoch_loss and epoch_correct (a partial
 * epoch's running sums), loss and accuracy (of the last completed epoch), best_epoch,
 * best_val_loss, best_val_accuracy, bad_epochs and stopped (early stopping). Doubles are
 * written with %.17g, which reads back exactly.
 *
 * Loading: nnrt_load_stats (predict) reads the ROLE_PARAM tensors and the statistics and ignores
 * optimizer state and names starting with "__"; any other unknown tensor is an error. A file
 * whose model_hash differs from the model's is refused; a file without one (made by another
 * tool) is accepted when names, shapes and dtypes match. nnrt_load_init (--init) reads the
 * ROLE_PARAM tensors from any safetensors file, ignores everything else and checks every weight
 * is finite. nnrt_load_run (--resume) needs the same model_hash and the whole training state.
 * Every loader validates the header and every tensor it reads (dtype, shape, byte range,
 * overlaps) and reads into a scratch buffer first: the workspace changes only when the whole
 * file was acceptable.
 *
 * Atomic replacement: saving writes PATH.tmp.PID in the same directory, fsyncs it, renames it
 * over PATH and fsyncs the directory, so PATH always holds either the old or the new file. A
 * process killed while saving leaves its PATH.tmp.PID behind; loaders never look at it, and the
 * next successful save of PATH removes every PATH.tmp.PID whose process no longer exists. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"
#include "json.h"

/* The same bound the reference safetensors implementation enforces. */
#define NNRT_MAX_HEADER UINT64_C(100000000)
enum { NNRT_IO_CHUNK = 1024 }; /* values converted per fwrite/fread */

enum { TT_F32, TT_I64 };
static const char *const dtype_name[] = {"F32", "I64"};
static const int dtype_bytes[] = {4, 8};

/* One tensor of a checkpoint as the model sees it. */
typedef struct {
  const char *name;
  char *owned; /* name, when it was built ("__best.W") */
  int dtype;
  int32_t rank;
  int64_t dim[4];
  int64_t size;
  void *data;   /* saving reads it, loading writes it (or compares with it) */
  int optional; /* loading: may be absent */
  int compare;  /* loading: must equal data instead of replacing it */
  int present;  /* loading: the file has it */
} Tensor;

typedef struct {
  Tensor *t;
  int32_t n, cap;
} TensorList;

static const char STATS_MEAN[] = "__standardize.mean", STATS_STD[] = "__standardize.std";
static const char ORDER[] = "__order", BEST[] = "__best.", LAST[] = "__last.";

static Tensor *add_tensor(TensorList *l, const char *prefix, const char *name, int dtype,
                          int32_t rank, const int64_t *dim, int64_t size, void *data) {
  if (l->n == l->cap) {
    int32_t cap = l->cap ? 2 * l->cap : 16;
    Tensor *t = realloc(l->t, (size_t)cap * sizeof *t);
    if (!t)
      return NULL;
    l->t = t;
    l->cap = cap;
  }
  Tensor *t = &l->t[l->n];
  *t = (Tensor){.name = name, .dtype = dtype, .rank = rank, .size = size, .data = data};
  memcpy(t->dim, dim, (size_t)rank * sizeof *dim);
  if (prefix) {
    size_t a = strlen(prefix), b = strlen(name);
    t->owned = malloc(a + b + 1);
    if (!t->owned)
      return NULL;
    memcpy(t->owned, prefix, a);
    memcpy(t->owned + a, name, b + 1);
    t->name = t->owned;
  }
  l->n++;
  return t;
}

static void free_tensors(TensorList *l) {
  for (int32_t i = 0; i < l->n; i++)
    free(l->t[i].owned);
  free(l->t);
  *l = (TensorList){0};
}

static Tensor *add_param(TensorList *l, const char *prefix, const NnrtParam *p, float *data) {
  return add_tensor(l, prefix, p->name, TT_F32, p->rank, p->dim, p->size, data);
}

/* The ROLE_PARAM tensors, each at its place in ws (prefix NULL) or, with a prefix, in the
 * back-to-back buffer buf when it is not NULL. */
static int add_params(TensorList *l, const NnrtModel *m, float *ws, const char *prefix,
                      float *buf) {
  for (int32_t i = 0; i < m->n_params; i++) {
    const NnrtParam *p = &m->params[i];
    if (p->role != NNRT_ROLE_PARAM)
      continue;
    if (!add_param(l, prefix, p, buf ? buf : ws + p->offset))
      return -1;
    if (buf)
      buf += p->size;
  }
  return 0;
}

static int add_stats(TensorList *l, const NnrtInputStats *st) {
  if (!st || st->width <= 0)
    return 0;
  int64_t dim[1] = {st->width};
  return add_tensor(l, NULL, STATS_MEAN, TT_F32, 1, dim, st->width, st->mean) &&
             add_tensor(l, NULL, STATS_STD, TT_F32, 1, dim, st->width, st->std)
           ? 0
           : -1;
}

/* What a checkpoint of m holds, in file order (rs NULL: a weights file). */
static int saved_tensors(const NnrtModel *m, float *ws, const NnrtInputStats *st,
                         const NnrtRunState *rs, TensorList *l) {
  int restored = rs && rs->restored && rs->best;
  if (add_params(l, m, ws, restored ? "" : NULL, restored ? rs->best : NULL) != 0)
    return -1;
  for (int32_t i = 0; rs && i < m->n_params; i++)
    if (m->params[i].role == NNRT_ROLE_STATE &&
        !add_param(l, NULL, &m->params[i], ws + m->params[i].offset))
      return -1;
  if (add_stats(l, st) != 0)
    return -1;
  if (!rs)
    return 0;
  int64_t dim[1] = {rs->rows};
  if (!add_tensor(l, NULL, ORDER, TT_I64, 1, dim, rs->rows, rs->order))
    return -1;
  if (rs->best && rs->best_epoch > 0 && add_params(l, m, ws, BEST, rs->best) != 0)
    return -1;
  return restored ? add_params(l, m, ws, LAST, NULL) : 0;
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
  fprintf(f, ":{\"dtype\":\"%s\",\"shape\":[", dtype_name[p->dtype]);
  for (int d = 0; d < p->rank; d++)
    fprintf(f, "%s%lld", d ? "," : "", (long long)p->dim[d]);
  fprintf(f, "],\"data_offsets\":[%llu,%llu]}", (unsigned long long)begin,
          (unsigned long long)(begin + (uint64_t)dtype_bytes[p->dtype] * (uint64_t)p->size));
}

__attribute__((format(printf, 3, 4))) static void put_meta(FILE *f, const char *key,
                                                           const char *fmt, ...) {
  char value[128];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(value, sizeof value, fmt, ap);
  va_end(ap);
  fprintf(f, ",\"%s\":", key);
  put_json_string(f, value);
}

static void put_rng(FILE *f, const char *key, const NnrtRng *r) {
  char hex[65];
  for (int i = 0; i < 4; i++)
    snprintf(hex + 16 * i, 17, "%016" PRIx64, r->s[i]);
  fprintf(f, ",\"%s\":\"%s\"", key, hex);
}

static void put_run_metadata(FILE *f, const NnrtRunState *rs) {
  put_meta(f, "epoch", "%lld", (long long)rs->epoch);
  put_meta(f, "step", "%lld", (long long)rs->step);
  put_meta(f, "position", "%lld", (long long)rs->position);
  put_meta(f, "batch", "%lld", (long long)rs->batch);
  put_meta(f, "epochs", "%lld", (long long)rs->epochs);
  put_meta(f, "seed", "%llu", (unsigned long long)rs->seed);
  put_rng(f, "rng_shuffle", &rs->shuffle);
  put_rng(f, "rng_dropout", &rs->dropout);
  put_meta(f, "epoch_loss", "%.17g", rs->epoch_loss);
  put_meta(f, "epoch_correct", "%lld", (long long)rs->epoch_correct);
  put_meta(f, "loss", "%.17g", rs->loss);
  put_meta(f, "accuracy", "%.17g", rs->accuracy);
  put_meta(f, "best_epoch", "%lld", (long long)rs->best_epoch);
  put_meta(f, "best_val_loss", "%.17g", rs->best_val_loss);
  put_meta(f, "best_val_accuracy", "%.17g", rs->best_val_accuracy);
  put_meta(f, "bad_epochs", "%lld", (long long)rs->bad_epochs);
  put_meta(f, "stopped", "%d", rs->stopped ? 1 : 0);
}

/* The padded JSON header in a malloc'd buffer; NULL when out of memory. */
static char *build_header(const NnrtModel *m, const TensorList *l, const NnrtRunState *rs,
                          size_t *len) {
  char *buf = NULL;
  size_t n = 0;
  FILE *f = open_memstream(&buf, &n);
  if (!f)
    return NULL;
  fputs("{\"__metadata__\":{\"format\":\"nnc\",\"model\":", f);
  put_json_string(f, m->name);
  put_meta(f, "model_hash", "%016" PRIx64, m->model_hash);
  if (rs)
    put_run_metadata(f, rs);
  fputc('}', f);
  uint64_t offset = 0;
  for (int32_t i = 0; i < l->n; i++) {
    put_tensor_entry(f, &l->t[i], offset);
    offset += (uint64_t)dtype_bytes[l->t[i].dtype] * (uint64_t)l->t[i].size;
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

static int write_values(FILE *f, const Tensor *t) {
  unsigned char buf[8 * NNRT_IO_CHUNK];
  int width = dtype_bytes[t->dtype];
  for (int64_t done = 0; done < t->size;) {
    int64_t n = t->size - done < NNRT_IO_CHUNK ? t->size - done : NNRT_IO_CHUNK;
    for (int64_t i = 0; i < n; i++) {
      uint64_t u;
      if (t->dtype == TT_F32) {
        uint32_t v;
        memcpy(&v, (const float *)t->data + done + i, sizeof v);
        u = v;
      } else {
        u = (uint64_t)((const int64_t *)t->data)[done + i];
      }
      for (int k = 0; k < width; k++)
        buf[width * i + k] = (unsigned char)(u >> (8 * k));
    }
    if (fwrite(buf, (size_t)width, (size_t)n, f) != (size_t)n)
      return -1;
    done += n;
  }
  return 0;
}

static int write_checkpoint(FILE *f, const TensorList *l, const char *header, size_t hlen) {
  unsigned char len[8];
  for (int k = 0; k < 8; k++)
    len[k] = (unsigned char)((uint64_t)hlen >> (8 * k));
  if (fwrite(len, 1, 8, f) != 8 || fwrite(header, 1, hlen, f) != hlen)
    return -1;
  for (int32_t i = 0; i < l->n; i++)
    if (write_values(f, &l->t[i]) != 0)
      return -1;
  return fflush(f) == 0 && fsync(fileno(f)) == 0 ? 0 : -1;
}

static char *parent_dir(const char *path) {
  const char *slash = strrchr(path, '/');
  return slash ? strndup(path, slash == path ? 1 : (size_t)(slash - path)) : strdup(".");
}

/* Makes the rename durable. Best effort: some file systems refuse fsync on a directory, and the
 * new checkpoint is already in place either way. */
static void sync_parent_dir(const char *path) {
  char *dir = parent_dir(path);
  if (!dir)
    return;
  int fd = open(dir, O_RDONLY);
  if (fd >= 0) {
    fsync(fd);
    close(fd);
  }
  free(dir);
}

/* Removes the PATH.tmp.PID files of saves whose process is gone (killed while saving). Best
 * effort: a file whose process still runs, or that cannot be removed, stays. */
static void remove_stale_temps(const char *path) {
  char *dir = parent_dir(path);
  DIR *d = dir ? opendir(dir) : NULL;
  const char *slash = strrchr(path, '/'), *base = slash ? slash + 1 : path;
  size_t blen = strlen(base);
  for (struct dirent *e; d && (e = readdir(d));) {
    const char *s = e->d_name;
    if (strncmp(s, base, blen) != 0 || strncmp(s + blen, ".tmp.", 5) != 0)
      continue;
    char *end;
    errno = 0;
    long pid = strtol(s + blen + 5, &end, 10);
    if (errno || *end || end == s + blen + 5 || pid <= 0 || pid == (long)getpid() ||
        kill((pid_t)pid, 0) == 0 || errno != ESRCH)
      continue;
    size_t n = strlen(dir) + strlen(s) + 2;
    char *stale = malloc(n);
    if (stale) {
      snprintf(stale, n, "%s/%s", dir, s);
      unlink(stale);
      free(stale);
    }
  }
  if (d)
    closedir(d);
  free(dir);
}

/* Writes tmp and renames it over path; on failure removes tmp and explains why in err. */
static int replace_file(const TensorList *l, const char *path, const char *tmp,
                        const char *header, size_t hlen, char *err, size_t errlen) {
  unlink(tmp); /* a file of an earlier process that had our PID; never a directory */
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
    ok = write_checkpoint(f, l, header, hlen) == 0;
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

static int save(const NnrtModel *m, const float *ws, const NnrtInputStats *st,
                const NnrtRunState *rs, const char *path, char *err, size_t errlen) {
  size_t hlen = 0;
  TensorList l = {0};
  /* Saving only reads through the tensors' data pointers. */
  int listed = saved_tensors(m, (float *)ws, st, rs, &l) == 0;
  char *header = listed ? build_header(m, &l, rs, &hlen) : NULL;
  size_t tmp_size = strlen(path) + 32;
  char *tmp = malloc(tmp_size);
  int rc = -1;
  if (header && tmp) {
    snprintf(tmp, tmp_size, "%s.tmp.%ld", path, (long)getpid());
    rc = replace_file(&l, path, tmp, header, hlen, err, errlen);
  } else {
    nnrt_errf(err, errlen, "cannot save '%s': out of memory", path);
  }
  if (rc == 0) {
    sync_parent_dir(path);
    remove_stale_temps(path);
  }
  free(tmp);
  free(header);
  free_tensors(&l);
  return rc;
}

int nnrt_save_stats(const NnrtModel *m, const float *ws, const NnrtInputStats *st,
                    const char *path, char *err, size_t errlen) {
  return save(m, ws, st, NULL, path, err, errlen);
}

int nnrt_save(const NnrtModel *m, const float *ws, const char *path, char *err, size_t errlen) {
  return save(m, ws, NULL, NULL, path, err, errlen);
}

int nnrt_save_run(const NnrtModel *m, const float *ws, const NnrtInputStats *st,
                  const NnrtRunState *rs, const char *path, char *err, size_t errlen) {
  return save(m, ws, st, rs, path, err, errlen);
}

/* ---- Reading a safetensors header ---- */

enum { MAX_DIMS = 8, MAX_META = 32 };

/* A tensor entry of the header, as written. */
typedef struct {
  char *name, *dtype;
  int rank; /* -1 until "shape" was read */
  uint64_t dim[MAX_DIMS];
  int n_offsets; /* -1 until "data_offsets" was read */
  uint64_t offsets[2];
  int32_t want; /* index into the wanted tensors, or -1 */
} Entry;

typedef struct {
  const char *key;
  const char *value;
} Meta;

typedef enum { LOAD_WEIGHTS, LOAD_INIT, LOAD_RUN } LoadMode;

typedef struct {
  const NnrtModel *m;
  LoadMode mode;
  const char *path, *verb;
  char *err;
  size_t errlen;
  FILE *f;
  uint64_t file_size, hlen, data_size;
  char *header;
  Entry *entries;
  int32_t n_entries, cap_entries;
  Meta meta[MAX_META];
  int n_meta;
  TensorList want;
} Loader;

__attribute__((format(printf, 2, 3))) static int load_fail(Loader *l, const char *fmt, ...) {
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  nnrt_errf(l->err, l->errlen, "cannot %s '%s': %s", l->verb, l->path, msg);
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

static int parse_field(Loader *l, JsonCursor *c, const char *key, Entry *t) {
  if (strcmp(key, "dtype") == 0 && !t->dtype)
    return json_string(c, &t->dtype) == 0 ? 0 : json_fail(l, c);
  if (strcmp(key, "shape") == 0 && t->rank < 0)
    return parse_uints(l, c, t->name, "dimensions", t->dim, MAX_DIMS, &t->rank);
  if (strcmp(key, "data_offsets") == 0 && t->n_offsets < 0)
    return parse_uints(l, c, t->name, "data offsets", t->offsets, 2, &t->n_offsets);
  return load_fail(l, "tensor '%s' has an unknown or repeated field '%s'", t->name, key);
}

static int parse_entry(Loader *l, JsonCursor *c, char *name) {
  if (l->n_entries == l->cap_entries) {
    int32_t cap = l->cap_entries ? 2 * l->cap_entries : 16;
    Entry *e = realloc(l->entries, (size_t)cap * sizeof *e);
    if (!e)
      return load_fail(l, "out of memory for the header");
    l->entries = e;
    l->cap_entries = cap;
  }
  Entry *t = &l->entries[l->n_entries++];
  *t = (Entry){.name = name, .rank = -1, .n_offsets = -1, .want = -1};
  int count = 0, r;
  char *key;
  if (json_expect(c, '{') != 0)
    return json_fail(l, c);
  while ((r = json_next_member(c, &count, &key)) == 1)
    if (parse_field(l, c, key, t) != 0)
      return -1;
  return r == 0 ? 0 : json_fail(l, c);
}

/* The metadata: string values are kept (the first MAX_META), anything else is skipped. */
static int parse_metadata(Loader *l, JsonCursor *c) {
  if (!json_eat(c, '{'))
    return json_skip_value(c) == 0 ? 0 : json_fail(l, c);
  int count = 0, r;
  char *key;
  while ((r = json_next_member(c, &count, &key)) == 1) {
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r'))
      c->p++;
    if (c->p < c->end && *c->p == '"') {
      char *value;
      if (json_string(c, &value) != 0)
        return json_fail(l, c);
      if (l->n_meta < MAX_META)
        l->meta[l->n_meta++] = (Meta){key, value};
    } else if (json_skip_value(c) != 0) {
      return json_fail(l, c);
    }
  }
  return r == 0 ? 0 : json_fail(l, c);
}

static int parse_header(Loader *l) {
  JsonCursor c;
  json_init(&c, l->header, (size_t)l->hlen);
  if (!json_eat(&c, '{'))
    return load_fail(l, "header is not a JSON object");
  int count = 0, r;
  char *key;
  while ((r = json_next_member(&c, &count, &key)) == 1) {
    int rc = strcmp(key, "__metadata__") == 0 ? parse_metadata(l, &c) : parse_entry(l, &c, key);
    if (rc != 0)
      return -1;
  }
  if (r != 0)
    return json_fail(l, &c);
  if (!json_at_end(&c))
    return load_fail(l, "header has text after its JSON object");
  return 0;
}

static const char *meta_get(const Loader *l, const char *key) {
  for (int i = 0; i < l->n_meta; i++)
    if (strcmp(l->meta[i].key, key) == 0)
      return l->meta[i].value;
  return NULL;
}

/* ---- Matching the header against the wanted tensors ---- */

static int32_t find_wanted(const Loader *l, const char *name) {
  for (int32_t i = 0; i < l->want.n; i++)
    if (strcmp(l->want.t[i].name, name) == 0)
      return i;
  return -1;
}

static int is_state_name(const NnrtModel *m, const char *name) {
  for (int32_t i = 0; i < m->n_params; i++)
    if (m->params[i].role == NNRT_ROLE_STATE && strcmp(m->params[i].name, name) == 0)
      return 1;
  return 0;
}

/* Whether a tensor the loader does not want may stay unread. */
static int may_ignore(const Loader *l, const char *name) {
  if (l->mode != LOAD_WEIGHTS)
    return 1;
  if (strncmp(name, "__standardize.", 14) == 0)
    return 0;
  return strncmp(name, "__", 2) == 0 || is_state_name(l->m, name);
}

static void format_shape(char *buf, size_t size, const uint64_t *dim, int rank) {
  size_t used = (size_t)snprintf(buf, size, "[");
  for (int d = 0; d < rank && used < size; d++)
    used += (size_t)snprintf(buf + used, size - used, "%s%llu", d ? "," : "",
                             (unsigned long long)dim[d]);
  if (used < size)
    snprintf(buf + used, size - used, "]");
}

static int check_shape(Loader *l, const Entry *t, const Tensor *p) {
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
  return load_fail(l, "tensor '%s' has shape %s, the model has %s", t->name, have, want);
}

static int check_entry(Loader *l, const Entry *t, const Tensor *p) {
  if (!t->dtype || t->rank < 0 || t->n_offsets < 0)
    return load_fail(l, "tensor '%s' lacks %s", t->name,
                     !t->dtype ? "a dtype" : t->rank < 0 ? "a shape" : "data_offsets");
  if (strcmp(t->dtype, dtype_name[p->dtype]) != 0)
    return load_fail(l, "tensor '%s' has dtype %s, the model needs %s", t->name, t->dtype,
                     dtype_name[p->dtype]);
  if (check_shape(l, t, p) != 0)
    return -1;
  if (t->n_offsets != 2)
    return load_fail(l, "tensor '%s' needs 2 data_offsets, has %d", t->name, t->n_offsets);
  return 0;
}

static const Entry *entry_of(const Loader *l, int32_t want) {
  for (int32_t i = 0; i < l->n_entries; i++)
    if (l->entries[i].want == want)
      return &l->entries[i];
  return NULL;
}

static int check_range(Loader *l, int32_t i) {
  Tensor *p = &l->want.t[i];
  const Entry *e = entry_of(l, i);
  if (!e) {
    if (p->optional)
      return 0;
    return load_fail(l, "tensor '%s' is missing", p->name);
  }
  p->present = 1;
  uint64_t begin = e->offsets[0], end = e->offsets[1];
  uint64_t need = (uint64_t)dtype_bytes[p->dtype] * (uint64_t)p->size;
  if (begin > end || end > l->data_size)
    return load_fail(l, "tensor '%s' data_offsets [%llu,%llu] lie outside the %llu-byte data "
                        "section", p->name, (unsigned long long)begin, (unsigned long long)end,
                     (unsigned long long)l->data_size);
  if (end - begin != need)
    return load_fail(l, "tensor '%s' data_offsets [%llu,%llu] hold %llu bytes, its shape needs "
                        "%llu", p->name, (unsigned long long)begin, (unsigned long long)end,
                     (unsigned long long)(end - begin), (unsigned long long)need);
  return 0;
}

static int check_overlaps(Loader *l) {
  /* Tensor counts are small (tens to hundreds), so the pairwise check is cheap. */
  for (int32_t i = 0; i < l->n_entries; i++)
    for (int32_t j = i + 1; j < l->n_entries; j++) {
      const Entry *a = &l->entries[i], *b = &l->entries[j];
      if (a->want < 0 || b->want < 0)
        continue;
      if (a->offsets[0] < b->offsets[1] && b->offsets[0] < a->offsets[1])
        return load_fail(l, "tensors '%s' and '%s' overlap in the data section",
                         l->want.t[a->want < b->want ? a->want : b->want].name,
                         l->want.t[a->want < b->want ? b->want : a->want].name);
    }
  return 0;
}

/* Pairs every entry with a wanted tensor, then checks what each pair says. */
static int match_entries(Loader *l) {
  for (int32_t i = 0; i < l->n_entries; i++) {
    Entry *e = &l->entries[i];
    int32_t w = find_wanted(l, e->name);
    if (w < 0) {
      if (may_ignore(l, e->name))
        continue;
      return load_fail(l, "unknown tensor '%s'", e->name);
    }
    if (entry_of(l, w))
      return load_fail(l, "tensor '%s' appears twice", e->name);
    e->want = w;
    if (check_entry(l, e, &l->want.t[w]) != 0)
      return -1;
  }
  for (int32_t i = 0; i < l->want.n; i++)
    if (check_range(l, i) != 0)
      return -1;
  return check_overlaps(l);
}

/* ---- Reading the data ---- */

static int read_tensor(Loader *l, const Tensor *p, const Entry *e, unsigned char *dst) {
  uint64_t bytes = (uint64_t)dtype_bytes[p->dtype] * (uint64_t)p->size;
  if (fseeko(l->f, (off_t)(8 + l->hlen + e->offsets[0]), SEEK_SET) != 0)
    return load_fail(l, "cannot seek to tensor '%s': %s", p->name, strerror(errno));
  if (fread(dst, 1, (size_t)bytes, l->f) != bytes)
    return load_fail(l, "file ended inside tensor '%s'", p->name);
  /* Little-endian in the file; convert in place to the host's order. */
  int width = dtype_bytes[p->dtype];
  for (int64_t i = 0; i < p->size; i++) {
    unsigned char *b = dst + width * i;
    uint64_t u = 0;
    for (int k = width - 1; k >= 0; k--)
      u = u << 8 | b[k];
    if (width == 4) {
      uint32_t v = (uint32_t)u;
      memcpy(b, &v, 4);
    } else {
      memcpy(b, &u, 8);
    }
  }
  return 0;
}

static int64_t tensor_bytes(const Tensor *p) { return dtype_bytes[p->dtype] * p->size; }

/* Every present wanted tensor into one scratch buffer, in want order; NULL on failure. */
static unsigned char *read_all(Loader *l) {
  int64_t total = 0;
  for (int32_t i = 0; i < l->want.n; i++)
    total += l->want.t[i].present ? tensor_bytes(&l->want.t[i]) : 0;
  unsigned char *scratch = malloc((size_t)(total > 0 ? total : 1));
  if (!scratch) {
    load_fail(l, "out of memory for %lld bytes of tensors", (long long)total);
    return NULL;
  }
  int64_t at = 0;
  for (int32_t i = 0; i < l->want.n; i++) {
    const Tensor *p = &l->want.t[i];
    if (!p->present)
      continue;
    if (read_tensor(l, p, entry_of(l, i), scratch + at) != 0) {
      free(scratch);
      return NULL;
    }
    at += tensor_bytes(p);
  }
  return scratch;
}

/* Copies (or compares) every present wanted tensor from scratch to its place. */
static int commit(Loader *l, const unsigned char *scratch) {
  int64_t at = 0;
  for (int32_t i = 0; i < l->want.n; i++) {
    const Tensor *p = &l->want.t[i];
    if (!p->present || p->compare) {
      at += p->present ? tensor_bytes(p) : 0;
      continue;
    }
    memcpy(p->data, scratch + at, (size_t)tensor_bytes(p));
    at += tensor_bytes(p);
  }
  return 0;
}

/* ---- The three loaders ---- */

static int parse_hash(const char *s, uint64_t *out) {
  if (!s || strlen(s) != 16 || strspn(s, "0123456789abcdefABCDEF") != 16)
    return -1;
  *out = strtoull(s, NULL, 16);
  return 0;
}

/* A model_hash in the file must be the model's (weights and resume); resume needs one. */
static int check_hash(Loader *l) {
  const char *s = meta_get(l, "model_hash");
  uint64_t h;
  if (!s) {
    if (l->mode == LOAD_RUN)
      return load_fail(l, "it has no model_hash, so it is not a checkpoint of a training run "
                          "(use --init to start from its weights)");
    return 0;
  }
  if (parse_hash(s, &h) != 0)
    return load_fail(l, "its model_hash '%s' is not 16 hex digits", s);
  if (h != l->m->model_hash) {
    nnrt_errf(l->err, l->errlen,
              "'%s' was saved by a different model (hash %016" PRIx64 ", this program is "
              "%016" PRIx64 ")", l->path, h, l->m->model_hash);
    return -1;
  }
  return 0;
}

static void loader_free(Loader *l) {
  if (l->f)
    fclose(l->f);
  free(l->header);
  free(l->entries);
  free_tensors(&l->want);
}

/* Opens and parses the header and checks the model hash. */
static int loader_parse(Loader *l) {
  int rc = open_file(l);
  if (rc == 0)
    rc = read_header(l);
  if (rc == 0)
    rc = parse_header(l);
  if (rc == 0 && l->mode != LOAD_INIT)
    rc = check_hash(l);
  return rc;
}

/* loader_parse, then matches the entries against the wanted tensors; then the caller reads. */
static int loader_run(Loader *l) {
  int rc = loader_parse(l);
  return rc == 0 ? match_entries(l) : rc;
}

int nnrt_load_stats(const NnrtModel *m, float *ws, NnrtInputStats *st, const char *path,
                    char *err, size_t errlen) {
  Loader l = {.m = m, .mode = LOAD_WEIGHTS, .path = path, .verb = "load", .err = err,
              .errlen = errlen};
  int rc = add_params(&l.want, m, ws, NULL, NULL) == 0 && add_stats(&l.want, st) == 0
             ? loader_run(&l)
             : load_fail(&l, "out of memory");
  unsigned char *scratch = rc == 0 ? read_all(&l) : NULL;
  if (rc == 0 && !scratch)
    rc = -1;
  if (rc == 0)
    rc = commit(&l, scratch);
  free(scratch);
  loader_free(&l);
  return rc;
}

int nnrt_load(const NnrtModel *m, float *ws, const char *path, char *err, size_t errlen) {
  return nnrt_load_stats(m, ws, NULL, path, err, errlen);
}

static const char *nonfinite_word(float v) { return isnan(v) ? "nan" : v > 0 ? "inf" : "-inf"; }

int nnrt_check_finite_params(const NnrtModel *m, const float *ws, char *err, size_t errlen) {
  for (int32_t i = 0; i < m->n_params; i++) {
    const NnrtParam *p = &m->params[i];
    if (p->role != NNRT_ROLE_PARAM)
      continue;
    const float *v = ws + p->offset;
    for (int64_t k = 0; k < p->size; k++)
      if (!isfinite(v[k])) {
        nnrt_errf(err, errlen, "initial weight '%s' has a non-finite value (%s) at index %lld",
                  p->name, nonfinite_word(v[k]), (long long)k);
        return -1;
      }
  }
  return 0;
}

int nnrt_load_init(const NnrtModel *m, float *ws, const char *path, char *err,
                   size_t errlen) {
  Loader l = {.m = m, .mode = LOAD_INIT, .path = path, .verb = "load", .err = err,
              .errlen = errlen};
  /* Read into a copy, so that a non-finite weight leaves ws as it was. */
  int64_t floats = 0;
  for (int32_t i = 0; i < m->n_params; i++)
    floats += m->params[i].role == NNRT_ROLE_PARAM ? m->params[i].size : 0;
  float *copy = malloc((size_t)(floats > 0 ? floats : 1) * sizeof *copy);
  int rc = copy && add_params(&l.want, m, ws, "", copy) == 0 ? loader_run(&l)
                                                               : load_fail(&l, "out of memory");
  unsigned char *scratch = rc == 0 ? read_all(&l) : NULL;
  if (rc == 0 && !scratch)
    rc = -1;
  if (rc == 0)
    commit(&l, scratch);
  free(scratch);
  loader_free(&l);
  int status = rc == 0 ? NNRT_EXIT_OK : NNRT_EXIT_IO;
  if (rc == 0) {
    /* The weights must be finite before they go into the workspace. */
    float *at = copy;
    for (int32_t i = 0; i < m->n_params && status == NNRT_EXIT_OK; i++) {
      const NnrtParam *p = &m->params[i];
      if (p->role != NNRT_ROLE_PARAM)
        continue;
      for (int64_t k = 0; k < p->size; k++)
        if (!isfinite(at[k])) {
          nnrt_errf(err, errlen,
                    "initial weight '%s' has a non-finite value (%s) at index %lld (from '%s')",
                    p->name, nonfinite_word(at[k]), (long long)k, path);
          status = NNRT_EXIT_NONFINITE;
          break;
        }
      at += p->size;
    }
  }
  if (status == NNRT_EXIT_OK) {
    const float *at = copy;
    for (int32_t i = 0; i < m->n_params; i++) {
      const NnrtParam *p = &m->params[i];
      if (p->role != NNRT_ROLE_PARAM)
        continue;
      memcpy(ws + p->offset, at, (size_t)p->size * sizeof *at);
      at += p->size;
    }
  }
  free(copy);
  return status;
}

/* ---- Resuming ---- */

static int meta_int(Loader *l, const char *key, int required, int64_t def, int64_t *out) {
  const char *s = meta_get(l, key);
  if (!s) {
    *out = def;
    return required ? load_fail(l, "its metadata lacks '%s'", key) : 0;
  }
  char *end;
  errno = 0;
  long long v = strtoll(s, &end, 10);
  if (!*s || *end || errno || v < 0)
    return load_fail(l, "its metadata '%s' is '%s', not a count", key, s);
  *out = v;
  return 0;
}

static int meta_double(Loader *l, const char *key, double def, double *out) {
  const char *s = meta_get(l, key);
  if (!s) {
    *out = def;
    return 0;
  }
  char *end;
  double v = strtod(s, &end);
  if (!*s || *end)
    return load_fail(l, "its metadata '%s' is '%s', not a number", key, s);
  *out = v;
  return 0;
}

static int meta_rng(Loader *l, const char *key, NnrtRng *r) {
  const char *s = meta_get(l, key);
  if (!s || strlen(s) != 64 || strspn(s, "0123456789abcdefABCDEF") != 64)
    return load_fail(l, "its metadata '%s' is %s", key,
                     s ? "not 64 hex digits" : "missing");
  for (int i = 0; i < 4; i++) {
    char part[17];
    memcpy(part, s + 16 * i, 16);
    part[16] = '\0';
    r->s[i] = strtoull(part, NULL, 16);
  }
  if (!(r->s[0] | r->s[1] | r->s[2] | r->s[3]))
    return load_fail(l, "its metadata '%s' is the all-zero state", key);
  return 0;
}

static int read_run_metadata(Loader *l, NnrtRunState *rs) {
  if (!meta_get(l, "step"))
    return load_fail(l, "it holds weights, not a training state (its metadata has no 'step')");
  int64_t batch, stopped;
  int rc = meta_int(l, "epoch", 1, 0, &rs->epoch) || meta_int(l, "step", 1, 0, &rs->step) ||
           meta_int(l, "position", 1, 0, &rs->position) ||
           meta_int(l, "batch", 1, 0, &batch) || meta_rng(l, "rng_shuffle", &rs->shuffle) ||
           meta_rng(l, "rng_dropout", &rs->dropout) ||
           meta_double(l, "epoch_loss", 0.0, &rs->epoch_loss) ||
           meta_int(l, "epoch_correct", 0, 0, &rs->epoch_correct) ||
           meta_double(l, "loss", NAN, &rs->loss) ||
           meta_double(l, "accuracy", NAN, &rs->accuracy) ||
           meta_int(l, "best_epoch", 0, 0, &rs->best_epoch) ||
           meta_double(l, "best_val_loss", INFINITY, &rs->best_val_loss) ||
           meta_double(l, "best_val_accuracy", NAN, &rs->best_val_accuracy) ||
           meta_int(l, "bad_epochs", 0, 0, &rs->bad_epochs) ||
           meta_int(l, "stopped", 0, 0, &stopped);
  if (rc)
    return -1;
  rs->stopped = stopped != 0;
  if (batch != rs->batch)
    return load_fail(l, "it was saved by a run with batch %lld, this run has batch %lld",
                     (long long)batch, (long long)rs->batch);
  if (rs->position >= rs->rows || rs->position % (batch > 0 ? batch : 1) != 0)
    return load_fail(l, "its position %lld does not fall on a batch of the %lld training rows",
                     (long long)rs->position, (long long)rs->rows);
  int64_t begun = rs->epoch + (rs->position > 0);
  if (begun > rs->epochs)
    return load_fail(l, "it has trained %lld epoch%s already, more than the %lld this run asks "
                        "for", (long long)begun, begun == 1 ? "" : "s", (long long)rs->epochs);
  return 0;
}

/* The order must be a permutation of the rows; the statistics the ones of this run's data. */
static int check_run_tensors(Loader *l, const unsigned char *scratch, const NnrtRunState *rs) {
  int64_t at = 0;
  for (int32_t i = 0; i < l->want.n; i++) {
    const Tensor *p = &l->want.t[i];
    if (!p->present)
      continue;
    const unsigned char *v = scratch + at;
    at += tensor_bytes(p);
    if (p->compare && memcmp(v, p->data, (size_t)tensor_bytes(p)) != 0)
      return load_fail(l, "its input statistics ('%s') differ from this run's training data",
                       p->name);
    if (p->dtype != TT_I64)
      continue;
    unsigned char *seen = calloc((size_t)(rs->rows > 0 ? rs->rows : 1), 1);
    if (!seen)
      return load_fail(l, "out of memory");
    int ok = 1;
    for (int64_t k = 0; k < p->size && ok; k++) {
      int64_t row;
      memcpy(&row, v + 8 * k, sizeof row);
      ok = row >= 0 && row < rs->rows && !seen[row];
      if (ok)
        seen[row] = 1;
    }
    free(seen);
    if (!ok)
      return load_fail(l, "its '%s' is not an order of the %lld training rows", ORDER,
                       (long long)rs->rows);
  }
  int last = 0, lasts = 0;
  for (int32_t i = 0; i < l->want.n; i++)
    if (strncmp(l->want.t[i].name, LAST, sizeof LAST - 1) == 0) {
      lasts++;
      last += l->want.t[i].present;
    }
  if (last > 0 && last < lasts)
    return load_fail(l, "it holds some '%s' tensors but not all", LAST);
  if (rs->best && rs->best_epoch > 0)
    for (int32_t i = 0; i < l->want.n; i++)
      if (strncmp(l->want.t[i].name, BEST, sizeof BEST - 1) == 0 && !l->want.t[i].present)
        return load_fail(l, "its metadata names best epoch %lld but tensor '%s' is missing",
                         (long long)rs->best_epoch, l->want.t[i].name);
  return 0;
}

int nnrt_load_run(const NnrtModel *m, float *ws, const NnrtInputStats *st, NnrtRunState *rs,
                  const char *path, char *err, size_t errlen) {
  Loader l = {.m = m, .mode = LOAD_RUN, .path = path, .verb = "resume from", .err = err,
              .errlen = errlen};
  NnrtRunState got = *rs;
  int listed = add_params(&l.want, m, ws, NULL, NULL) == 0;
  for (int32_t i = 0; listed && i < m->n_params; i++)
    if (m->params[i].role == NNRT_ROLE_STATE)
      listed = add_param(&l.want, NULL, &m->params[i], ws + m->params[i].offset) != NULL;
  int32_t first_stat = l.want.n;
  listed = listed && add_stats(&l.want, (NnrtInputStats *)st) == 0;
  for (int32_t i = first_stat; listed && i < l.want.n; i++)
    l.want.t[i].compare = 1;
  int64_t dim[1] = {rs->rows};
  listed = listed && add_tensor(&l.want, NULL, ORDER, TT_I64, 1, dim, rs->rows, rs->order);
  int32_t first_extra = l.want.n;
  /* __last after the parameters: when present, it overwrites them. */
  listed = listed && (!rs->best || add_params(&l.want, m, ws, BEST, rs->best) == 0) &&
           add_params(&l.want, m, ws, LAST, NULL) == 0;
  for (int32_t i = first_extra; listed && i < l.want.n; i++)
    l.want.t[i].optional = 1;
  int rc = listed ? loader_parse(&l) : load_fail(&l, "out of memory");
  if (rc == 0)
    rc = read_run_metadata(&l, &got);
  if (rc == 0)
    rc = match_entries(&l);
  unsigned char *scratch = rc == 0 ? read_all(&l) : NULL;
  if (rc == 0 && !scratch)
    rc = -1;
  if (rc == 0)
    rc = check_run_tensors(&l, scratch, &got);
  if (rc == 0) {
    commit(&l, scratch);
    *rs = got;
  }
  free(scratch);
  loader_free(&l);
  return rc;
}

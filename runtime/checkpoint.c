/* checkpoint: weights and whole training states to and from safetensors files.
 *
 * Format (https://github.com/huggingface/safetensors): 8-byte little-endian header length N,
 * N bytes of JSON header padded with spaces to a multiple of 8, then the raw little-endian data
 * of every tensor in header order. The header's "__metadata__" holds strings only.
 *
 * The weights of a model are its ROLE_PARAM tensors and its ROLE_BUFFER tensors (running
 * statistics, "bn1.mean": not trained, but what predict computes with, so they go wherever the
 * parameters go). A weights file (nnrt_save, nnrt_save_stats) holds every weight under its
 * name ("h1.W"), in descriptor order, then, for a model that standardises its inputs, the F32
 * tensors "__standardize.mean" and "__standardize.std" of shape [input.width]; its metadata
 * is {"format":"nnc","model":NAME,"model_hash":16 hex digits}.
 *
 * A training checkpoint (nnrt_save_run, written by nnrt_train_on) holds, in this order:
 *   NAME             F32  every weight (ROLE_PARAM, ROLE_BUFFER): the weights to use (see
 *                         __last)
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
 * Loading: nnrt_load_stats (predict) reads the weights (a missing running statistic is an error
 * as a missing parameter is) and the statistics and ignores optimizer state and names starting
 * with "__"; any other unknown tensor is an error. A file whose model_hash differs from the
 * model's is refused; a file without one (made by another tool) is accepted when names, shapes
 * and dtypes match. nnrt_load_init (--init) reads the ROLE_PARAM tensors from any safetensors
 * file, and its running statistics when it has them (else they keep their initial values),
 * ignores everything else and checks every weight is finite. nnrt_load_run (--resume) needs
 * the same model_hash and the whole training state. Every loader validates the header and every
 * tensor it reads (dtype, shape, byte range, overlaps) and reads into a scratch buffer first:
 * the workspace changes only when the whole file was acceptable.
 *
 * Atomic replacement: saving writes PATH.tmp.PID in the same directory, fsyncs it, renames it
 * over PATH and fsyncs the directory, so PATH always holds either the old or the new file. A
 * process killed while saving leaves its PATH.tmp.PID behind; loaders never look at it, and the
 * next successful save of PATH removes every PATH.tmp.PID whose process no longer exists.
 *
 * Keeping the previous file: a training run's first save first keeps the file it replaces as
 * PATH.prev (nnrt_keep_previous), so a quick test run never destroys the only good weights.
 *
 * Files (checkpoint_internal.h): this one lists the tensors of a file and saves it;
 * checkpoint_load.c reads and checks files and loads weights; checkpoint_run.c resumes a run. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "checkpoint_internal.h"
#include "json.h"


Tensor *nnrt_checkpoint_add_tensor(TensorList *l, const char *prefix, const char *name, int dtype,
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

void nnrt_checkpoint_free_tensors(TensorList *l) {
  for (int32_t i = 0; i < l->n; i++)
    free(l->t[i].owned);
  free(l->t);
  *l = (TensorList){0};
}

Tensor *nnrt_checkpoint_add_param(TensorList *l, const char *prefix, const NnrtParam *p, float *data) {
  return nnrt_checkpoint_add_tensor(l, prefix, p->name, TT_F32, p->rank, p->dim, p->size, data);
}

void nnrt_copy_weights(const NnrtModel *m, float *ws, float *buf, int to_buf) {
  for (int32_t i = 0; i < m->n_params; i++) {
    const NnrtParam *p = &m->params[i];
    if (!nnrt_role_is_weight(p->role))
      continue;
    size_t bytes = (size_t)p->size * sizeof(float);
    if (to_buf)
      memcpy(buf, ws + p->offset, bytes);
    else
      memcpy(ws + p->offset, buf, bytes);
    buf += p->size;
  }
}

int64_t nnrt_weight_floats(const NnrtModel *m) {
  int64_t total = 0;
  for (int32_t i = 0; i < m->n_params; i++)
    total += nnrt_role_is_weight(m->params[i].role) ? m->params[i].size : 0;
  return total;
}

/* The weights (parameters and running statistics), each at its place in ws (prefix NULL) or,
 * with a prefix, in the back-to-back buffer buf (nnrt_copy_weights) when it is not NULL. */
int nnrt_checkpoint_add_params(TensorList *l, const NnrtModel *m, float *ws, const char *prefix,
                          float *buf) {
  for (int32_t i = 0; i < m->n_params; i++) {
    const NnrtParam *p = &m->params[i];
    if (!nnrt_role_is_weight(p->role))
      continue;
    if (!nnrt_checkpoint_add_param(l, prefix, p, buf ? buf : ws + p->offset))
      return -1;
    if (buf)
      buf += p->size;
  }
  return 0;
}

int nnrt_checkpoint_add_stats(TensorList *l, const NnrtInputStats *st) {
  if (!st || st->width <= 0)
    return 0;
  int64_t dim[1] = {st->width};
  return nnrt_checkpoint_add_tensor(l, NULL, STATS_MEAN, TT_F32, 1, dim, st->width, st->mean) &&
             nnrt_checkpoint_add_tensor(l, NULL, STATS_STD, TT_F32, 1, dim, st->width, st->std)
           ? 0
           : -1;
}

/* What a checkpoint of m holds, in file order (rs NULL: a weights file). */
static int saved_tensors(const NnrtModel *m, float *ws, const NnrtInputStats *st,
                         const NnrtRunState *rs, TensorList *l) {
  int restored = rs && rs->restored && rs->best;
  if (nnrt_checkpoint_add_params(l, m, ws, restored ? "" : NULL, restored ? rs->best : NULL) != 0)
    return -1;
  for (int32_t i = 0; rs && i < m->n_params; i++)
    if (m->params[i].role == NNRT_ROLE_STATE &&
        !nnrt_checkpoint_add_param(l, NULL, &m->params[i], ws + m->params[i].offset))
      return -1;
  if (nnrt_checkpoint_add_stats(l, st) != 0)
    return -1;
  if (!rs)
    return 0;
  int64_t dim[1] = {rs->rows};
  if (!nnrt_checkpoint_add_tensor(l, NULL, ORDER, TT_I64, 1, dim, rs->rows, rs->order))
    return -1;
  if (rs->best && rs->best_epoch > 0 && nnrt_checkpoint_add_params(l, m, ws, BEST, rs->best) != 0)
    return -1;
  return restored ? nnrt_checkpoint_add_params(l, m, ws, LAST, NULL) : 0;
}

/* ---- Saving ---- */

static void put_tensor_entry(FILE *f, const Tensor *p, uint64_t begin) {
  fputc(',', f);
  nnrt_json_put_string(f, p->name);
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
  nnrt_json_put_string(f, value);
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
  nnrt_json_put_string(f, m->name);
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
  nnrt_checkpoint_free_tensors(&l);
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

/* to ← a copy of from's bytes, for file systems without hard links. */
static int copy_file(const char *from, const char *to) {
  FILE *in = fopen(from, "rb");
  int fd = in ? open(to, O_WRONLY | O_CREAT | O_EXCL, 0644) : -1;
  FILE *out = fd >= 0 ? fdopen(fd, "wb") : NULL;
  int ok = out != NULL;
  char buf[1 << 16];
  for (size_t n; ok && (n = fread(buf, 1, sizeof buf, in)) > 0;)
    ok = fwrite(buf, 1, n, out) == n;
  ok = ok && !ferror(in) && fflush(out) == 0 && fsync(fileno(out)) == 0;
  if (out)
    ok = fclose(out) == 0 && ok;
  else if (fd >= 0)
    close(fd);
  if (in)
    fclose(in);
  return ok ? 0 : -1;
}

int nnrt_keep_previous(const char *path, char *err, size_t errlen) {
  struct stat st;
  if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
    return 0; /* nothing to keep; a path we cannot write is the save's to report */
  char prev[4096 + 48], tmp[sizeof prev];
  if ((size_t)snprintf(prev, sizeof prev, "%s.prev", path) >= sizeof prev ||
      (size_t)snprintf(tmp, sizeof tmp, "%s.prev.tmp.%ld", path, (long)getpid()) >= sizeof tmp) {
    nnrt_errf(err, errlen, "cannot keep the previous '%s': the path is too long", path);
    return -1;
  }
  unlink(tmp);
  if ((link(path, tmp) == 0 || copy_file(path, tmp) == 0) && rename(tmp, prev) == 0)
    return 0;
  nnrt_errf(err, errlen, "cannot keep the previous '%s' as '%s': %s", path, prev,
            strerror(errno ? errno : EIO));
  unlink(tmp);
  return -1;
}

/* The pid of the run holding the lock file fd, as it wrote it (0 when unreadable). */
static long lock_holder(int fd) {
  char buf[32] = {0};
  ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
  return n > 0 ? strtol(buf, NULL, 10) : 0;
}

/* Whether fd is still the file at path: a run that ends unlinks its lock file, and a run that
 * opened the file just before must not hold a lock on a file nobody else sees. */
static int still_at(int fd, const char *path) {
  struct stat a, b;
  return fstat(fd, &a) == 0 && stat(path, &b) == 0 && a.st_ino == b.st_ino && a.st_dev == b.st_dev;
}

int nnrt_save_lock(NnrtSaveLock *l, const char *path, char *err, size_t errlen) {
  snprintf(l->path, sizeof l->path, "%s.lock", path);
  for (;;) {
    l->fd = open(l->path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (l->fd < 0) {
      nnrt_errf(err, errlen, "cannot save '%s': %s", path, strerror(errno));
      return -1;
    }
    if (flock(l->fd, LOCK_EX | LOCK_NB) != 0) {
      long pid = lock_holder(l->fd);
      close(l->fd);
      l->fd = -1;
      if (pid > 0)
        nnrt_errf(err, errlen, "cannot save '%s': it is in use by another training run (pid %ld)",
                  path, pid);
      else
        nnrt_errf(err, errlen, "cannot save '%s': it is in use by another training run", path);
      return -1;
    }
    if (still_at(l->fd, l->path))
      break;
    close(l->fd);
  }
  char pid[32];
  int n = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
  if (ftruncate(l->fd, 0) != 0 || pwrite(l->fd, pid, (size_t)n, 0) != n) {
    /* the pid only improves the second run's message */
  }
  return 0;
}

void nnrt_save_unlock(NnrtSaveLock *l) {
  if (l->fd < 0)
    return;
  unlink(l->path);
  close(l->fd);
  l->fd = -1;
}

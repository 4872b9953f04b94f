/* checkpoint_internal: what the files of the checkpoint code share; not part of the ABI.
 * Contract: checkpoint.c lists the tensors a file holds (TensorList) and saves them;
 * checkpoint_load.c parses and checks a file against a wanted TensorList (Loader) and loads
 * weights; checkpoint_run.c loads a whole training state. Functions that can fail set the
 * error through the Loader (checkpoint_load_fail) and return -1; 0 on success. */
#ifndef NNRT_CHECKPOINT_INTERNAL_H
#define NNRT_CHECKPOINT_INTERNAL_H
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

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
  int nomem; /* the failure was memory, not the file (checkpoint_load_nomem) */
} Loader;

/* Sets the error "cannot VERB 'PATH': MESSAGE"; returns -1. */
__attribute__((format(printf, 2, 3))) static inline int checkpoint_load_fail(Loader *l,
                                                                          const char *fmt, ...) {
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  nnrt_errf(l->err, l->errlen, "cannot %s '%s': %s", l->verb, l->path, msg);
  return -1;
}

/* The same for memory that cannot be had: the file may be sound, the machine is short. */
#define checkpoint_load_nomem(l, ...) ((l)->nomem = 1, checkpoint_load_fail((l), __VA_ARGS__))

/* -1, or NNRT_LOAD_NOMEM when the failure was memory: what the loaders return. */
static inline int checkpoint_load_status(const Loader *l, int rc) {
  return rc == 0 ? 0 : l->nomem ? NNRT_LOAD_NOMEM : -1;
}

/* The value of the metadata key, or NULL. */
static inline const char *checkpoint_meta_get(const Loader *l, const char *key) {
  for (int i = 0; i < l->n_meta; i++)
    if (strcmp(l->meta[i].key, key) == 0)
      return l->meta[i].value;
  return NULL;
}

/* checkpoint.c */
Tensor *nnrt_checkpoint_add_tensor(TensorList *l, const char *prefix, const char *name, int dtype,
                              int32_t rank, const int64_t *dim, int64_t size, void *data);
void nnrt_checkpoint_free_tensors(TensorList *l);
Tensor *nnrt_checkpoint_add_param(TensorList *l, const char *prefix, const NnrtParam *p, float *data);
int nnrt_checkpoint_add_params(TensorList *l, const NnrtModel *m, float *ws, const char *prefix,
                          float *buf);
int nnrt_checkpoint_add_stats(TensorList *l, const NnrtInputStats *st);

/* checkpoint_load.c */
int nnrt_checkpoint_match_entries(Loader *l);
int64_t nnrt_checkpoint_tensor_bytes(const Tensor *p);
unsigned char *nnrt_checkpoint_read_all(Loader *l);
int nnrt_checkpoint_commit(Loader *l, const unsigned char *scratch);
void nnrt_checkpoint_loader_free(Loader *l);
int nnrt_checkpoint_loader_parse(Loader *l);

#endif

/* checkpoint_load: reading safetensors files into the workspace: the header, matching its
 * entries against the wanted tensors, the data, and the weights loaders (nnrt_load_stats,
 * nnrt_load, nnrt_load_init). The format and the checks are checkpoint.c's header comment. */
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

#include "checkpoint_internal.h"
#include "data.h"
#include "json.h"

/* ---- Reading a safetensors header ---- */


static int json_fail(Loader *l, const JsonCursor *c) {
  return checkpoint_load_fail(l, "header is not valid JSON: %s at byte %zu", c->error, c->error_at);
}

static int open_file(Loader *l) {
  struct stat st;
  const char *why;
  l->f = nnrt_fopen_regular(l->path, &why);
  if (!l->f)
    return checkpoint_load_fail(l, "%s", why);
  if (fstat(fileno(l->f), &st) != 0)
    return checkpoint_load_fail(l, "%s", strerror(errno));
  l->file_size = (uint64_t)st.st_size;
  return 0;
}

static int read_header(Loader *l) {
  unsigned char len[8];
  if (l->file_size < 8 || fread(len, 1, 8, l->f) != 8)
    return checkpoint_load_fail(l, "file is too short for a safetensors header (%llu bytes)",
                                (unsigned long long)l->file_size);
  l->hlen = 0;
  for (int k = 7; k >= 0; k--)
    l->hlen = l->hlen << 8 | len[k];
  if (l->hlen > l->file_size - 8)
    return checkpoint_load_fail(l, "header length %llu runs past the end of the file (%llu bytes)",
                                (unsigned long long)l->hlen, (unsigned long long)l->file_size);
  if (l->hlen > NNRT_MAX_HEADER)
    return checkpoint_load_fail(l, "header length %llu exceeds the limit of %llu bytes",
                                (unsigned long long)l->hlen, (unsigned long long)NNRT_MAX_HEADER);
  l->data_size = l->file_size - 8 - l->hlen;
  l->header = malloc((size_t)l->hlen + 1);
  if (!l->header)
    return checkpoint_load_nomem(l, "out of memory for a %llu-byte header",
                                (unsigned long long)l->hlen);
  if (fread(l->header, 1, (size_t)l->hlen, l->f) != l->hlen)
    return checkpoint_load_fail(l, "file ended inside the header");
  return 0;
}

static int parse_uints(Loader *l, JsonCursor *c, const char *name, const char *field,
                       uint64_t *out, int max, int *n) {
  int count = 0, r;
  if (nnrt_json_expect(c, '[') != 0)
    return json_fail(l, c);
  *n = 0;
  while ((r = nnrt_json_next_element(c, &count)) == 1) {
    if (*n == max)
      return checkpoint_load_fail(l, "tensor '%s' has more than %d %s", name, max, field);
    if (nnrt_json_uint(c, &out[(*n)++]) != 0)
      return json_fail(l, c);
  }
  return r == 0 ? 0 : json_fail(l, c);
}

static int parse_field(Loader *l, JsonCursor *c, const char *key, Entry *t) {
  if (strcmp(key, "dtype") == 0 && !t->dtype)
    return nnrt_json_string(c, &t->dtype) == 0 ? 0 : json_fail(l, c);
  if (strcmp(key, "shape") == 0 && t->rank < 0)
    return parse_uints(l, c, t->name, "dimensions", t->dim, MAX_DIMS, &t->rank);
  if (strcmp(key, "data_offsets") == 0 && t->n_offsets < 0)
    return parse_uints(l, c, t->name, "data offsets", t->offsets, 2, &t->n_offsets);
  return checkpoint_load_fail(l, "tensor '%s' has an unknown or repeated field '%s'", t->name, key);
}

static int parse_entry(Loader *l, JsonCursor *c, char *name) {
  if (l->n_entries == l->cap_entries) {
    int32_t cap = l->cap_entries ? 2 * l->cap_entries : 16;
    Entry *e = realloc(l->entries, (size_t)cap * sizeof *e);
    if (!e)
      return checkpoint_load_nomem(l, "out of memory for the header");
    l->entries = e;
    l->cap_entries = cap;
  }
  Entry *t = &l->entries[l->n_entries++];
  *t = (Entry){.name = name, .rank = -1, .n_offsets = -1, .want = -1};
  int count = 0, r;
  char *key;
  if (nnrt_json_expect(c, '{') != 0)
    return json_fail(l, c);
  while ((r = nnrt_json_next_member(c, &count, &key)) == 1)
    if (parse_field(l, c, key, t) != 0)
      return -1;
  return r == 0 ? 0 : json_fail(l, c);
}

/* The metadata: string values are kept (the first MAX_META), anything else is skipped. */
static int parse_metadata(Loader *l, JsonCursor *c) {
  if (!nnrt_json_eat(c, '{'))
    return nnrt_json_skip_value(c) == 0 ? 0 : json_fail(l, c);
  int count = 0, r;
  char *key;
  while ((r = nnrt_json_next_member(c, &count, &key)) == 1) {
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r'))
      c->p++;
    if (c->p < c->end && *c->p == '"') {
      char *value;
      if (nnrt_json_string(c, &value) != 0)
        return json_fail(l, c);
      if (l->n_meta < MAX_META)
        l->meta[l->n_meta++] = (Meta){key, value};
    } else if (nnrt_json_skip_value(c) != 0) {
      return json_fail(l, c);
    }
  }
  return r == 0 ? 0 : json_fail(l, c);
}

static int parse_header(Loader *l) {
  JsonCursor c;
  nnrt_json_init(&c, l->header, (size_t)l->hlen);
  if (!nnrt_json_eat(&c, '{'))
    return checkpoint_load_fail(l, "header is not a JSON object");
  int count = 0, r;
  char *key;
  while ((r = nnrt_json_next_member(&c, &count, &key)) == 1) {
    int rc = strcmp(key, "__metadata__") == 0 ? parse_metadata(l, &c) : parse_entry(l, &c, key);
    if (rc != 0)
      return -1;
  }
  if (r != 0)
    return json_fail(l, &c);
  if (!nnrt_json_at_end(&c))
    return checkpoint_load_fail(l, "header has text after its JSON object");
  return 0;
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
  return checkpoint_load_fail(l, "tensor '%s' has shape %s, the model has %s", t->name, have, want);
}

static int check_entry(Loader *l, const Entry *t, const Tensor *p) {
  if (!t->dtype || t->rank < 0 || t->n_offsets < 0)
    return checkpoint_load_fail(l, "tensor '%s' lacks %s", t->name,
                                !t->dtype ? "a dtype" : t->rank < 0 ? "a shape" : "data_offsets");
  if (strcmp(t->dtype, dtype_name[p->dtype]) != 0)
    return checkpoint_load_fail(l, "tensor '%s' has dtype %s, the model needs %s", t->name,
                                t->dtype, dtype_name[p->dtype]);
  if (check_shape(l, t, p) != 0)
    return -1;
  if (t->n_offsets != 2)
    return checkpoint_load_fail(l, "tensor '%s' needs 2 data_offsets, has %d", t->name,
                                t->n_offsets);
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
    return checkpoint_load_fail(l, "tensor '%s' is missing", p->name);
  }
  p->present = 1;
  uint64_t begin = e->offsets[0], end = e->offsets[1];
  uint64_t need = (uint64_t)dtype_bytes[p->dtype] * (uint64_t)p->size;
  if (begin > end || end > l->data_size)
    return checkpoint_load_fail(l,
                                "tensor '%s' data_offsets [%llu,%llu] lie outside the %llu-byte "
                                "data section",
                                p->name, (unsigned long long)begin, (unsigned long long)end,
                                (unsigned long long)l->data_size);
  if (end - begin != need)
    return checkpoint_load_fail(l,
                                "tensor '%s' data_offsets [%llu,%llu] hold %llu bytes, its shape "
                                "needs %llu",
                                p->name, (unsigned long long)begin, (unsigned long long)end,
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
        return checkpoint_load_fail(l, "tensors '%s' and '%s' overlap in the data section",
                                    l->want.t[a->want < b->want ? a->want : b->want].name,
                                    l->want.t[a->want < b->want ? b->want : a->want].name);
    }
  return 0;
}

/* Pairs every entry with a wanted tensor, then checks what each pair says. */
int nnrt_checkpoint_match_entries(Loader *l) {
  for (int32_t i = 0; i < l->n_entries; i++) {
    Entry *e = &l->entries[i];
    int32_t w = find_wanted(l, e->name);
    if (w < 0) {
      if (may_ignore(l, e->name))
        continue;
      return checkpoint_load_fail(l, "unknown tensor '%s'", e->name);
    }
    if (entry_of(l, w))
      return checkpoint_load_fail(l, "tensor '%s' appears twice", e->name);
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
    return checkpoint_load_fail(l, "cannot seek to tensor '%s': %s", p->name, strerror(errno));
  if (fread(dst, 1, (size_t)bytes, l->f) != bytes)
    return checkpoint_load_fail(l, "file ended inside tensor '%s'", p->name);
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

int64_t nnrt_checkpoint_tensor_bytes(const Tensor *p) { return dtype_bytes[p->dtype] * p->size; }

/* Every present wanted tensor into one scratch buffer, in want order; NULL on failure. */
unsigned char *nnrt_checkpoint_read_all(Loader *l) {
  int64_t total = 0;
  for (int32_t i = 0; i < l->want.n; i++)
    total += l->want.t[i].present ? nnrt_checkpoint_tensor_bytes(&l->want.t[i]) : 0;
  unsigned char *scratch = malloc((size_t)(total > 0 ? total : 1));
  if (!scratch) {
    checkpoint_load_nomem(l, "out of memory for %lld bytes of tensors", (long long)total);
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
    at += nnrt_checkpoint_tensor_bytes(p);
  }
  return scratch;
}

/* Copies (or compares) every present wanted tensor from scratch to its place. */
int nnrt_checkpoint_commit(Loader *l, const unsigned char *scratch) {
  int64_t at = 0;
  for (int32_t i = 0; i < l->want.n; i++) {
    const Tensor *p = &l->want.t[i];
    if (!p->present || p->compare) {
      at += p->present ? nnrt_checkpoint_tensor_bytes(p) : 0;
      continue;
    }
    memcpy(p->data, scratch + at, (size_t)nnrt_checkpoint_tensor_bytes(p));
    at += nnrt_checkpoint_tensor_bytes(p);
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
  const char *s = checkpoint_meta_get(l, "model_hash");
  uint64_t h;
  if (!s) {
    if (l->mode == LOAD_RUN)
      return checkpoint_load_fail(l,
                                  "it has no model_hash, so it is not a checkpoint of a training "
                                  "run (use --init to start from its weights)");
    return 0;
  }
  if (parse_hash(s, &h) != 0)
    return checkpoint_load_fail(l, "its model_hash '%s' is not 16 hex digits", s);
  if (h != l->m->model_hash) {
    nnrt_errf(l->err, l->errlen,
              "'%s' was saved by a different model (hash %016" PRIx64 ", this program is "
              "%016" PRIx64 ")", l->path, h, l->m->model_hash);
    return -1;
  }
  return 0;
}

void nnrt_checkpoint_loader_free(Loader *l) {
  if (l->f)
    fclose(l->f);
  free(l->header);
  free(l->entries);
  nnrt_checkpoint_free_tensors(&l->want);
}

/* Opens and parses the header and checks the model hash. */
int nnrt_checkpoint_loader_parse(Loader *l) {
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
  int rc = nnrt_checkpoint_loader_parse(l);
  return rc == 0 ? nnrt_checkpoint_match_entries(l) : rc;
}

int nnrt_load_stats(const NnrtModel *m, float *ws, NnrtInputStats *st, const char *path,
                    char *err, size_t errlen) {
  Loader l = {.m = m, .mode = LOAD_WEIGHTS, .path = path, .verb = "load", .err = err,
              .errlen = errlen};
  int rc = nnrt_checkpoint_add_params(&l.want, m, ws, NULL, NULL) == 0 &&
                   nnrt_checkpoint_add_stats(&l.want, st) == 0
             ? loader_run(&l)
             : checkpoint_load_nomem(&l, "out of memory");
  unsigned char *scratch = rc == 0 ? nnrt_checkpoint_read_all(&l) : NULL;
  if (rc == 0 && !scratch)
    rc = -1;
  if (rc == 0)
    rc = nnrt_checkpoint_commit(&l, scratch);
  free(scratch);
  nnrt_checkpoint_loader_free(&l);
  return checkpoint_load_status(&l, rc);
}

int nnrt_load(const NnrtModel *m, float *ws, const char *path, char *err, size_t errlen) {
  return nnrt_load_stats(m, ws, NULL, path, err, errlen);
}

static const char *nonfinite_word(float v) { return isnan(v) ? "nan" : v > 0 ? "inf" : "-inf"; }

/* 0 when the values v of weight p are finite, else -1 with "initial weight 'W1' has a
 * non-finite value (nan) at index 3", then `from`. */
static int weight_finite(const NnrtParam *p, const float *v, const char *from, char *err,
                         size_t errlen) {
  for (int64_t k = 0; k < p->size; k++)
    if (!isfinite(v[k])) {
      nnrt_errf(err, errlen, "initial weight '%s' has a non-finite value (%s) at index %lld%s",
                p->name, nonfinite_word(v[k]), (long long)k, from);
      return -1;
    }
  return 0;
}

int nnrt_check_finite_params(const NnrtModel *m, const float *ws, char *err, size_t errlen) {
  for (int32_t i = 0; i < m->n_params; i++) {
    const NnrtParam *p = &m->params[i];
    if (nnrt_role_is_weight(p->role) && weight_finite(p, ws + p->offset, "", err, errlen) != 0)
      return -1;
  }
  return 0;
}

/* --init: the running statistics are optional (a file without them still gives the
 * parameters; the statistics then keep their initial values). */
static void buffers_optional(const NnrtModel *m, TensorList *want) {
  int32_t w = 0;
  for (int32_t i = 0; i < m->n_params; i++)
    if (nnrt_role_is_weight(m->params[i].role))
      want->t[w++].optional = m->params[i].role == NNRT_ROLE_BUFFER;
}

int nnrt_load_init(const NnrtModel *m, float *ws, const char *path, char *err,
                   size_t errlen) {
  Loader l = {.m = m, .mode = LOAD_INIT, .path = path, .verb = "load", .err = err,
              .errlen = errlen};
  /* Read into a copy of the weights, so that a non-finite one leaves ws as it was, and an
   * absent running statistic keeps its value. */
  float *copy = malloc((size_t)(nnrt_weight_floats(m) + 1) * sizeof *copy);
  if (copy)
    nnrt_copy_weights(m, ws, copy, 1);
  int rc = copy && nnrt_checkpoint_add_params(&l.want, m, ws, "", copy) == 0
               ? (buffers_optional(m, &l.want), loader_run(&l))
               : checkpoint_load_nomem(&l, "out of memory");
  unsigned char *scratch = rc == 0 ? nnrt_checkpoint_read_all(&l) : NULL;
  if (rc == 0 && !scratch)
    rc = -1;
  if (rc == 0)
    nnrt_checkpoint_commit(&l, scratch);
  free(scratch);
  nnrt_checkpoint_loader_free(&l);
  int status = rc == 0 ? NNRT_EXIT_OK : l.nomem ? NNRT_EXIT_DATA : NNRT_EXIT_IO;
  char from[512];
  snprintf(from, sizeof from, " (from '%s')", path);
  /* The weights must be finite before they go into the workspace. */
  const float *at = copy;
  for (int32_t i = 0; i < m->n_params && status == NNRT_EXIT_OK; i++) {
    const NnrtParam *p = &m->params[i];
    if (!nnrt_role_is_weight(p->role))
      continue;
    if (weight_finite(p, at, from, err, errlen) != 0)
      status = NNRT_EXIT_NONFINITE;
    at += p->size;
  }
  if (status == NNRT_EXIT_OK)
    nnrt_copy_weights(m, ws, copy, 0);
  free(copy);
  return status;
}

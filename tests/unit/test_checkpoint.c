/* test_checkpoint: the safetensors files nnrt writes, read back by an independent reader.
 * The reader here (8-byte length, then a tiny strict JSON parser of its own, not the runtime's
 * json.c) checks a training checkpoint byte for byte against the workspace and against values
 * computed here: the row order and both generators' states. Then: refusing another model's
 * file, accepting a file without a model hash, --init (extra tensors, a missing one, non-finite
 * weights), and atomic replacement while children that save are SIGKILLed at random moments.
 * Files go to a fresh directory under /tmp made by the group setup and removed by teardown. */
#include "test.h"

#include <dirent.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "nnrt.h"
#include "rng.h"

#define TEST_TMP_DIR "/tmp/nnrt-ckpt-XXXXXX"
#include "runtime_fixture.h"

/* ---- The fixture: one layer's weight h1.W [2,3] and its optimizer state h1.W.m ----
 * The step sets h1.W[k] = 10 t + k and adds 1 to every h1.W.m, so the weights of any step are
 * known; evaluate's validation loss is (E - 3)^2 + 1 for E = t / 2 epochs, so with 2 steps per
 * epoch early stopping's best epoch is 3. */
enum {
  CW = 0, CM = 6, CLR = 12, CLOSS = 13, CSTEP = 14, CX = 16, CY = 28, COUT = 32, CNOISE = 36,
  CWS = 48, CB = 4, CROWS = 10,
};

static void ck_step(float *ws, int64_t n) {
  (void)n;
  for (int k = 0; k < 6; k++) {
    ws[CW + k] = 10.0f * ws[CSTEP] + (float)k;
    ws[CM + k] += 1.0f;
  }
  ws[CLOSS] = 0.5f;
}

static void ck_evaluate(float *ws, int64_t n) {
  (void)n;
  double e = ws[CSTEP] / 2.0;
  ws[CLOSS] = (float)((e - 3) * (e - 3) + 1);
}

static void ck_predict(float *ws, int64_t n) { (void)ws, (void)n; }

static const float ck_x[CROWS * 3] = {
  1, 2, 3, 4, 5, 6, 7, 8, 9, 1, 3, 5, 2, 4, 6, 0, 1, 0, 5, 5, 5, 9, 8, 7, 3, 1, 4, 1, 5, 9,
};
static const float ck_y[CROWS] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};

static const NnrtParam ck_params[] = {
  {.name = "h1.W", .offset = CW, .size = 6, .rank = 2, .dim = {2, 3}, .init = NNRT_INIT_NORMAL,
   .a = 0, .b = 1, .role = NNRT_ROLE_PARAM},
  {.name = "h1.W.m", .offset = CM, .size = 6, .rank = 2, .dim = {2, 3}, .init = NNRT_INIT_ZEROS,
   .role = NNRT_ROLE_STATE},
};
static const NnrtNoise ck_noise[] = {{.offset = CNOISE, .width = 3, .p = 0.5}};

static const NnrtModel ck = FIXTURE_MODEL(
  "ck", "ck.nn", CWS, CB, FIXTURE_SLOT("x", CX, 3), FIXTURE_SLOT("p", COUT, 1),
  FIXTURE_TRAINS(FIXTURE_SLOT("y", CY, 1), CLOSS, CLR, CSTEP),
  .n_params = 2, .params = ck_params, .n_noise = 1, .noise = ck_noise,
  .has_train = 1, .epochs = 4, .batch = 4, .log_every = 1, .seed = 5, .shuffle = 1, .lr = 0.1,
  .train = {.kind = NNRT_DATA_TABLE, .rows = CROWS, .x = ck_x, .y = ck_y,
            .scaling = NNRT_SCALE_STANDARDIZE},
  .validation_split = 0.2, .early_stopping = 5,
  .step = ck_step, .evaluate = ck_evaluate, .predict = ck_predict,
  .model_hash = UINT64_C(0x0123456789abcdef));

/* ---- An independent safetensors reader ---- */

typedef enum { J_STR, J_NUM, J_ARR, J_OBJ } JType;

typedef struct JVal {
  JType type;
  char *str;     /* J_STR; also the key of an object member */
  double num;    /* J_NUM */
  int n;         /* J_ARR, J_OBJ: items */
  struct JVal *items;
  char **keys;   /* J_OBJ */
} JVal;

typedef struct {
  const char *p, *end;
} JIn;

static void j_ws(JIn *in) {
  while (in->p < in->end && (*in->p == ' ' || *in->p == '\n' || *in->p == '\t' || *in->p == '\r'))
    in->p++;
}

static int j_value(JIn *in, JVal *v);

/* Strings without escapes other than \" and \\ are all nnrt writes for these names. */
static int j_string(JIn *in, char **out) {
  if (in->p >= in->end || *in->p != '"')
    return -1;
  in->p++;
  char *s = malloc((size_t)(in->end - in->p) + 1);
  size_t n = 0;
  while (in->p < in->end && *in->p != '"') {
    if ((unsigned char)*in->p < 0x20)
      return -1;
    if (*in->p == '\\') {
      in->p++;
      if (in->p >= in->end || (*in->p != '"' && *in->p != '\\'))
        return -1;
    }
    s[n++] = *in->p++;
  }
  if (in->p >= in->end)
    return -1;
  in->p++;
  s[n] = '\0';
  *out = s;
  return 0;
}

static int j_items(JIn *in, JVal *v, char close, int keyed) {
  in->p++;
  j_ws(in);
  v->n = 0;
  v->items = NULL;
  v->keys = NULL;
  if (in->p < in->end && *in->p == close) {
    in->p++;
    return 0;
  }
  for (;;) {
    v->items = realloc(v->items, (size_t)(v->n + 1) * sizeof *v->items);
    v->keys = realloc(v->keys, (size_t)(v->n + 1) * sizeof *v->keys);
    v->keys[v->n] = NULL;
    j_ws(in);
    if (keyed) {
      if (j_string(in, &v->keys[v->n]) != 0)
        return -1;
      j_ws(in);
      if (in->p >= in->end || *in->p++ != ':')
        return -1;
    }
    if (j_value(in, &v->items[v->n]) != 0)
      return -1;
    v->n++;
    j_ws(in);
    if (in->p < in->end && *in->p == ',') {
      in->p++;
      continue;
    }
    if (in->p < in->end && *in->p == close) {
      in->p++;
      return 0;
    }
    return -1;
  }
}

static int j_value(JIn *in, JVal *v) {
  j_ws(in);
  if (in->p >= in->end)
    return -1;
  memset(v, 0, sizeof *v);
  if (*in->p == '{') {
    v->type = J_OBJ;
    return j_items(in, v, '}', 1);
  }
  if (*in->p == '[') {
    v->type = J_ARR;
    return j_items(in, v, ']', 0);
  }
  if (*in->p == '"') {
    v->type = J_STR;
    return j_string(in, &v->str);
  }
  /* Non-negative integers without leading zeros: all a safetensors header has. */
  if (*in->p < '0' || *in->p > '9' || (*in->p == '0' && in->p + 1 < in->end &&
                                      in->p[1] >= '0' && in->p[1] <= '9'))
    return -1;
  v->type = J_NUM;
  while (in->p < in->end && *in->p >= '0' && *in->p <= '9')
    v->num = v->num * 10 + (*in->p++ - '0');
  return 0;
}

static void j_free(JVal *v) {
  for (int i = 0; i < v->n; i++) {
    j_free(&v->items[i]);
    if (v->keys)
      free(v->keys[i]);
  }
  free(v->items);
  free(v->keys);
  free(v->str);
}

static const JVal *j_get(const JVal *obj, const char *key) {
  for (int i = 0; obj->type == J_OBJ && i < obj->n; i++)
    if (strcmp(obj->keys[i], key) == 0)
      return &obj->items[i];
  return NULL;
}

typedef struct {
  unsigned char *bytes;
  size_t size;
  uint64_t hlen;
  JVal header;
  const unsigned char *data;
  size_t data_size;
} StFile;

/* Reads path as safetensors; checks what the format requires of every tensor entry. */
static void st_read(const char *path, StFile *f) {
  f->bytes = (unsigned char *)test_read_file(path, &f->size);
  assert_non_null(f->bytes);
  assert_true(f->size >= 8);
  f->hlen = 0;
  for (int k = 7; k >= 0; k--)
    f->hlen = f->hlen << 8 | f->bytes[k];
  assert_true(f->hlen <= f->size - 8);
  assert_int_equal(f->hlen % 8, 0); /* nnrt pads with spaces */
  JIn in = {(const char *)f->bytes + 8, (const char *)f->bytes + 8 + f->hlen};
  assert_int_equal(j_value(&in, &f->header), 0);
  j_ws(&in);
  assert_true(in.p == in.end);
  assert_int_equal(f->header.type, J_OBJ);
  f->data = f->bytes + 8 + f->hlen;
  f->data_size = f->size - 8 - f->hlen;
  /* Entries: dtype, shape, data_offsets in range and of the right size, covering the data. */
  uint64_t covered = 0;
  for (int i = 0; i < f->header.n; i++) {
    const JVal *e = &f->header.items[i];
    if (strcmp(f->header.keys[i], "__metadata__") == 0) {
      assert_int_equal(e->type, J_OBJ);
      for (int k = 0; k < e->n; k++)
        assert_int_equal(e->items[k].type, J_STR); /* safetensors: strings only */
      continue;
    }
    const JVal *dt = j_get(e, "dtype"), *sh = j_get(e, "shape"), *off = j_get(e, "data_offsets");
    assert_true(e->n == 3 && dt && sh && off && dt->type == J_STR && sh->type == J_ARR &&
                off->type == J_ARR && off->n == 2);
    uint64_t width = strcmp(dt->str, "F32") == 0 ? 4 : strcmp(dt->str, "I64") == 0 ? 8 : 0;
    assert_true(width > 0);
    uint64_t count = 1;
    for (int d = 0; d < sh->n; d++)
      count *= (uint64_t)sh->items[d].num;
    uint64_t begin = (uint64_t)off->items[0].num, end = (uint64_t)off->items[1].num;
    assert_true(begin <= end && end <= f->data_size);
    assert_true(end - begin == width * count);
    covered += end - begin;
  }
  assert_int_equal(covered, f->data_size); /* no gaps, no overlaps */
}

static void st_free(StFile *f) {
  j_free(&f->header);
  free(f->bytes);
}

static const char *st_meta(const StFile *f, const char *key) {
  const JVal *m = j_get(&f->header, "__metadata__");
  const JVal *v = m ? j_get(m, key) : NULL;
  return v ? v->str : NULL;
}

/* The tensor's bytes; *n its byte count; fails when it is absent or its dtype differs. */
static const unsigned char *st_tensor(const StFile *f, const char *name, const char *dtype,
                                      size_t *n) {
  const JVal *e = j_get(&f->header, name);
  if (!e)
    fail_msg("tensor '%s' is missing", name);
  assert_string_equal(j_get(e, "dtype")->str, dtype);
  const JVal *off = j_get(e, "data_offsets");
  *n = (size_t)(off->items[1].num - off->items[0].num);
  return f->data + (size_t)off->items[0].num;
}

/* The tensor must hold these floats, little-endian. */
static void expect_f32(const StFile *f, const char *name, const float *want, size_t count) {
  size_t n;
  const unsigned char *b = st_tensor(f, name, "F32", &n);
  assert_int_equal(n, 4 * count);
  for (size_t i = 0; i < count; i++) {
    uint32_t u = (uint32_t)b[4 * i] | (uint32_t)b[4 * i + 1] << 8 | (uint32_t)b[4 * i + 2] << 16 |
                 (uint32_t)b[4 * i + 3] << 24;
    float v;
    memcpy(&v, &u, 4);
    assert_memory_equal(&v, &want[i], 4);
  }
}

static void hex_rng(char *out, const NnrtRng *r) {
  for (int i = 0; i < 4; i++)
    snprintf(out + 16 * i, 17, "%016llx", (unsigned long long)r->s[i]);
}

/* ---- The layout of a training checkpoint ---- */

static void test_training_checkpoint_layout(void **state) {
  (void)state;
  const char *path = tmp_path("ck.safetensors");
  NnrtTrainData *td;
  assert_int_equal(nnrt_train_data_load(&ck, &td, err, sizeof err), NNRT_EXIT_OK);
  float *ws = nnrt_workspace_new(&ck);
  nnrt_init_params(&ck, ws, ck.seed);
  NnrtTrainOptions o = nnrt_train_options(&ck);
  o.checkpoint_path = path;
  NnrtTrainResult res;
  nnrt_train_on(&ck, ws, &o, td, NULL, &res, err, sizeof err);
  assert_int_equal(res.status, NNRT_EXIT_OK);
  assert_true(res.saved);
  assert_int_equal(res.best_epoch, 3);
  assert_int_equal(res.last_epoch, 4);

  StFile f;
  st_read(path, &f);
  assert_string_equal(st_meta(&f, "format"), "nnc");
  assert_string_equal(st_meta(&f, "model"), "ck");
  assert_string_equal(st_meta(&f, "model_hash"), "0123456789abcdef");
  assert_string_equal(st_meta(&f, "epoch"), "4");
  assert_string_equal(st_meta(&f, "step"), "8"); /* 8 training rows in batches of 4 */
  assert_string_equal(st_meta(&f, "position"), "0");
  assert_string_equal(st_meta(&f, "batch"), "4");
  assert_string_equal(st_meta(&f, "best_epoch"), "3");
  assert_string_equal(st_meta(&f, "bad_epochs"), "1");
  assert_string_equal(st_meta(&f, "best_val_loss"), "1");
  assert_string_equal(st_meta(&f, "stopped"), "0");
  assert_string_equal(st_meta(&f, "loss"), "0.5");

  /* The generators, computed here: 4 shuffles of the identity; 8 steps of 4 rows x 3 masks. */
  NnrtRng sh, dr;
  nnrt_rng_seed(&sh, ck.seed ^ NNRT_SHUFFLE_SEED_XOR);
  nnrt_rng_seed(&dr, ck.seed ^ NNRT_DROPOUT_SEED_XOR);
  int64_t order[8];
  for (int i = 0; i < 8; i++)
    order[i] = i;
  for (int e = 0; e < 4; e++)
    nnrt_rng_shuffle(&sh, order, 8);
  for (int i = 0; i < 8 * CB * 3; i++)
    nnrt_rng_next(&dr);
  char hex[65];
  hex_rng(hex, &sh);
  assert_string_equal(st_meta(&f, "rng_shuffle"), hex);
  hex_rng(hex, &dr);
  assert_string_equal(st_meta(&f, "rng_dropout"), hex);
  size_t n;
  const unsigned char *ob = st_tensor(&f, "__order", "I64", &n);
  assert_int_equal(n, 8 * 8);
  for (int i = 0; i < 8; i++) {
    uint64_t v = 0;
    for (int k = 7; k >= 0; k--)
      v = v << 8 | ob[8 * i + k];
    assert_int_equal(v, order[i]);
  }

  /* Weights: the restored best (epoch 3, t = 6) under the name predict reads, and as __best;
   * training continues from epoch 4's (t = 8), which __last holds. */
  float best[6], last[6], moments[6];
  for (int k = 0; k < 6; k++) {
    best[k] = 60.0f + (float)k;
    last[k] = 80.0f + (float)k;
    moments[k] = 8.0f;
  }
  assert_memory_equal(ws + CW, best, sizeof best);
  assert_memory_equal(ws + CM, moments, sizeof moments);
  expect_f32(&f, "h1.W", best, 6);
  expect_f32(&f, "h1.W.m", moments, 6);
  expect_f32(&f, "__best.h1.W", best, 6);
  expect_f32(&f, "__last.h1.W", last, 6);
  const NnrtInputStats *st = nnrt_train_data_stats(td);
  assert_int_equal(st->width, 3);
  expect_f32(&f, "__standardize.mean", st->mean, 3);
  expect_f32(&f, "__standardize.std", st->std, 3);
  assert_int_equal(f.header.n, 1 + 7); /* the metadata and 7 tensors, nothing else */
  st_free(&f);

  /* Weights only (predict) read the best weights and the statistics and ignore the rest. */
  float *back = nnrt_workspace_new(&ck);
  float mean[3], sd[3];
  NnrtInputStats got = {3, mean, sd};
  assert_int_equal(nnrt_load_stats(&ck, back, &got, path, err, sizeof err), 0);
  assert_memory_equal(back + CW, best, sizeof best);
  assert_true(back[CM] == 0.0f);
  assert_memory_equal(mean, st->mean, sizeof mean);
  nnrt_workspace_free(back);
  nnrt_workspace_free(ws);
  nnrt_train_data_free(td);
}

static void test_weights_file_layout(void **state) {
  (void)state;
  const char *path = tmp_path("weights.safetensors");
  float *ws = nnrt_workspace_new(&ck);
  for (int k = 0; k < 12; k++)
    ws[k] = (float)k - 2.5f;
  assert_int_equal(nnrt_save(&ck, ws, path, err, sizeof err), 0);
  StFile f;
  st_read(path, &f);
  assert_string_equal(st_meta(&f, "model_hash"), "0123456789abcdef");
  assert_null(st_meta(&f, "step"));
  expect_f32(&f, "h1.W", ws + CW, 6);
  assert_int_equal(f.header.n, 2); /* the metadata and h1.W */
  st_free(&f);
  nnrt_workspace_free(ws);
}

/* ---- Which files load ---- */

static void test_other_models_checkpoint_is_refused(void **state) {
  (void)state;
  const char *path = tmp_path("other.safetensors");
  NnrtModel other = ck;
  other.model_hash = UINT64_C(0xfedcba9876543210);
  float *ws = nnrt_workspace_new(&ck);
  assert_int_equal(nnrt_save(&other, ws, path, err, sizeof err), 0);
  ws[CW] = 7.0f;
  assert_int_equal(nnrt_load(&ck, ws, path, err, sizeof err), -1);
  char want[1200];
  snprintf(want, sizeof want,
           "'%s' was saved by a different model (hash fedcba9876543210, this program is "
           "0123456789abcdef)", path);
  assert_string_equal(err, want);
  assert_true(ws[CW] == 7.0f);
  /* --init takes weights from anywhere. */
  assert_int_equal(nnrt_load_init(&ck, ws, path, err, sizeof err), NNRT_EXIT_OK);
  assert_true(ws[CW] == 0.0f);
  nnrt_workspace_free(ws);
}

static void write_bytes(const char *path, const void *bytes, size_t n) {
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  assert_int_equal(fwrite(bytes, 1, n, f), n);
  assert_int_equal(fclose(f), 0);
}

/* A safetensors file of F32 tensors, as another tool would write it: no metadata. */
static const char *foreign_file(const char *name, const char *header, const float *data,
                                size_t count) {
  const char *path = tmp_path(name);
  size_t hlen = strlen(header);
  unsigned char *buf = malloc(8 + hlen + 4 * count);
  for (int k = 0; k < 8; k++)
    buf[k] = (unsigned char)((uint64_t)hlen >> (8 * k));
  memcpy(buf + 8, header, hlen);
  memcpy(buf + 8 + hlen, data, 4 * count); /* little-endian hosts only, like the runtime tests */
  write_bytes(path, buf, 8 + hlen + 4 * count);
  free(buf);
  return path;
}

static void test_file_without_hash_is_accepted_for_weights(void **state) {
  (void)state;
  const float w[6] = {1, 2, 3, 4, 5, 6};
  const char *path = foreign_file(
    "foreign.safetensors", "{\"h1.W\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]}}",
    w, 6);
  float *ws = nnrt_workspace_new(&ck);
  assert_int_equal(nnrt_load(&ck, ws, path, err, sizeof err), 0);
  assert_memory_equal(ws + CW, w, sizeof w);
  /* ... but not to resume from. */
  NnrtTrainData *td;
  assert_int_equal(nnrt_train_data_load(&ck, &td, err, sizeof err), NNRT_EXIT_OK);
  NnrtTrainOptions o = nnrt_train_options(&ck);
  o.resume_path = path;
  NnrtTrainResult res;
  nnrt_train_on(&ck, ws, &o, td, NULL, &res, err, sizeof err);
  assert_int_equal(res.status, NNRT_EXIT_IO);
  char want[1200];
  snprintf(want, sizeof want,
           "cannot resume from '%s': it has no model_hash, so it is not a checkpoint of a "
           "training run (use --init to start from its weights)", path);
  assert_string_equal(err, want);
  nnrt_train_data_free(td);
  nnrt_workspace_free(ws);
}

static void test_init_ignores_extra_tensors(void **state) {
  (void)state;
  const float data[9] = {9, 8, 7, 6, 5, 4, 3, 2, 1};
  const char *path = foreign_file(
    "extra.safetensors",
    "{\"__metadata__\":{\"source\":\"elsewhere\"},"
    "\"h2.W\":{\"dtype\":\"F16\",\"shape\":[3],\"data_offsets\":[24,30]},"
    "\"h1.W\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]}}",
    data, 9);
  float *ws = nnrt_workspace_new(&ck);
  ws[CM] = 5.0f;
  assert_int_equal(nnrt_load_init(&ck, ws, path, err, sizeof err), NNRT_EXIT_OK);
  assert_memory_equal(ws + CW, data, 6 * sizeof(float));
  assert_true(ws[CM] == 5.0f); /* state is not a weight */
  /* A weights load of the same file refuses the tensor the model does not have. */
  assert_int_equal(nnrt_load(&ck, ws, path, err, sizeof err), -1);
  assert_non_null(strstr(err, "unknown tensor 'h2.W'"));
  nnrt_workspace_free(ws);
}

static void test_init_needs_every_weight(void **state) {
  (void)state;
  const float data[3] = {1, 2, 3};
  const char *path = foreign_file(
    "partial.safetensors", "{\"h1.b\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,12]}}",
    data, 3);
  float *ws = nnrt_workspace_new(&ck);
  assert_int_equal(nnrt_load_init(&ck, ws, path, err, sizeof err), NNRT_EXIT_IO);
  char want[1200];
  snprintf(want, sizeof want, "cannot load '%s': tensor 'h1.W' is missing", path);
  assert_string_equal(err, want);
  const char *shape = foreign_file(
    "shape.safetensors", "{\"h1.W\":{\"dtype\":\"F32\",\"shape\":[3,2],\"data_offsets\":[0,24]}}",
    (const float[6]){0}, 6);
  assert_int_equal(nnrt_load_init(&ck, ws, shape, err, sizeof err), NNRT_EXIT_IO);
  assert_non_null(strstr(err, "tensor 'h1.W' has shape [3,2], the model has [2,3]"));
  nnrt_workspace_free(ws);
}

static void test_init_refuses_non_finite_weights(void **state) {
  (void)state;
  float data[6] = {1, 2, 3, NAN, 5, 6};
  const char *path = foreign_file(
    "nan.safetensors", "{\"h1.W\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]}}",
    data, 6);
  float *ws = nnrt_workspace_new(&ck);
  ws[CW] = 42.0f;
  assert_int_equal(nnrt_load_init(&ck, ws, path, err, sizeof err), NNRT_EXIT_NONFINITE);
  assert_int_equal(NNRT_EXIT_NONFINITE, 3);
  char want[1200];
  snprintf(want, sizeof want,
           "initial weight 'h1.W' has a non-finite value (nan) at index 3 (from '%s')", path);
  assert_string_equal(err, want);
  assert_true(ws[CW] == 42.0f); /* untouched */
  data[3] = 4;
  data[5] = -INFINITY;
  path = foreign_file(
    "inf.safetensors", "{\"h1.W\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]}}",
    data, 6);
  assert_int_equal(nnrt_load_init(&ck, ws, path, err, sizeof err), NNRT_EXIT_NONFINITE);
  assert_non_null(strstr(err, "non-finite value (-inf) at index 5"));
  /* Training checks its starting weights too, however they got there. */
  ws[CW + 1] = NAN;
  assert_int_equal(nnrt_check_finite_params(&ck, ws, err, sizeof err), -1);
  assert_string_equal(err, "initial weight 'h1.W' has a non-finite value (nan) at index 1");
  NnrtTrainData *td;
  assert_int_equal(nnrt_train_data_load(&ck, &td, err, sizeof err), NNRT_EXIT_OK);
  NnrtTrainOptions o = nnrt_train_options(&ck);
  NnrtTrainResult res;
  nnrt_train_on(&ck, ws, &o, td, NULL, &res, err, sizeof err);
  assert_int_equal(res.status, NNRT_EXIT_NONFINITE);
  assert_string_equal(err, "initial weight 'h1.W' has a non-finite value (nan) at index 1");
  nnrt_train_data_free(td);
  nnrt_workspace_free(ws);
}

/* ---- Atomic replacement ---- */

enum { BIG_FLOATS = 1 << 20 }; /* a 4 MB checkpoint */
static const NnrtParam big_params[] = {
  {.name = "big", .offset = 0, .size = BIG_FLOATS, .rank = 1, .dim = {BIG_FLOATS},
   .init = NNRT_INIT_ZEROS, .role = NNRT_ROLE_PARAM},
};
static const NnrtModel big = FIXTURE_MODEL(
  "big", NULL, BIG_FLOATS + 16, 1, FIXTURE_SLOT("x", BIG_FLOATS, 1),
  FIXTURE_SLOT("y", BIG_FLOATS + 1, 1), FIXTURE_PREDICT_ONLY,
  .n_params = 1, .params = big_params, .predict = ck_predict, .model_hash = 42);

static int count_entries(const char *dir) {
  DIR *d = opendir(dir);
  assert_non_null(d);
  int n = 0;
  for (struct dirent *e; (e = readdir(d));)
    n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
  closedir(d);
  return n;
}

static double seconds_now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static void sleep_seconds(double s) {
  struct timespec t = {(time_t)s, (long)((s - floor(s)) * 1e9)};
  while (nanosleep(&t, &t) != 0)
    ;
}

/* Children save a new checkpoint over a good one and are SIGKILLed after a deterministic
 * random delay (up to twice a save's duration): PATH always loads as the old file or the new
 * one. A killed child's PATH.tmp.PID stays until the next save of PATH removes it. */
static void test_save_is_atomic_under_sigkill(void **state) {
  (void)state;
  const char *dir = tmp_path("atomic");
  assert_int_equal(mkdir(dir, 0755), 0);
  char path[700];
  snprintf(path, sizeof path, "%s/big.safetensors", dir);
  float *old_ws = nnrt_workspace_new(&big), *new_ws = nnrt_workspace_new(&big);
  float *back = nnrt_workspace_new(&big);
  for (int i = 0; i < BIG_FLOATS; i++) {
    old_ws[i] = (float)i;
    new_ws[i] = -(float)i - 1.0f;
  }
  double t0 = seconds_now();
  assert_int_equal(nnrt_save(&big, old_ws, path, err, sizeof err), 0);
  double save_time = seconds_now() - t0;
  uint64_t rng = 12345;
  int olds = 0, news = 0, stale_seen = 0;
  for (int iter = 0; iter < 50; iter++) {
    /* The parent's save puts the old file back and removes the last child's temp file. */
    assert_int_equal(nnrt_save(&big, old_ws, path, err, sizeof err), 0);
    assert_int_equal(count_entries(dir), 1);
    double delay = test_uniform(&rng, 0, 2 * save_time);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
      char msg[256];
      _exit(nnrt_save(&big, new_ws, path, msg, sizeof msg) == 0 ? 0 : 1);
    }
    sleep_seconds(delay);
    kill(pid, SIGKILL);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    stale_seen += count_entries(dir) > 1;
    assert_int_equal(nnrt_load(&big, back, path, err, sizeof err), 0);
    if (memcmp(back, old_ws, BIG_FLOATS * sizeof(float)) == 0)
      olds++;
    else if (memcmp(back, new_ws, BIG_FLOATS * sizeof(float)) == 0)
      news++;
    else
      fail_msg("iteration %d: the checkpoint is neither the old nor the new one", iter);
  }
  print_message("atomic save: %d old, %d new, %d with a stale temp file (save %.1f ms)\n", olds,
                news, stale_seen, 1e3 * save_time);
  assert_int_equal(olds + news, 50);
  assert_int_equal(nnrt_save(&big, new_ws, path, err, sizeof err), 0);
  assert_int_equal(count_entries(dir), 1);
  nnrt_workspace_free(old_ws);
  nnrt_workspace_free(new_ws);
  nnrt_workspace_free(back);
}

/* A stale PATH.tmp.PID of a process that is gone is removed by the next save; one of a process
 * that still runs (it may be saving right now) and other files are left alone. */
static void test_stale_temp_files_are_cleaned(void **state) {
  (void)state;
  const char *dir = tmp_path("stale");
  assert_int_equal(mkdir(dir, 0755), 0);
  char path[700], dead[800], live[800], other[800];
  snprintf(path, sizeof path, "%s/w.safetensors", dir);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0)
    _exit(0);
  assert_int_equal(waitpid(pid, NULL, 0), pid);
  snprintf(dead, sizeof dead, "%s.tmp.%ld", path, (long)pid);
  snprintf(live, sizeof live, "%s.tmp.%ld", path, (long)getppid());
  snprintf(other, sizeof other, "%s.tmp.notapid", path);
  write_bytes(dead, "x", 1);
  write_bytes(live, "x", 1);
  write_bytes(other, "x", 1);
  float *ws = nnrt_workspace_new(&ck);
  assert_int_equal(nnrt_save(&ck, ws, path, err, sizeof err), 0);
  assert_int_equal(access(dead, F_OK), -1);
  assert_int_equal(access(live, F_OK), 0);
  assert_int_equal(access(other, F_OK), 0);
  assert_int_equal(count_entries(dir), 3);
  nnrt_workspace_free(ws);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_training_checkpoint_layout),
    cmocka_unit_test(test_weights_file_layout),
    cmocka_unit_test(test_other_models_checkpoint_is_refused),
    cmocka_unit_test(test_file_without_hash_is_accepted_for_weights),
    cmocka_unit_test(test_init_ignores_extra_tensors),
    cmocka_unit_test(test_init_needs_every_weight),
    cmocka_unit_test(test_init_refuses_non_finite_weights),
    cmocka_unit_test(test_save_is_atomic_under_sigkill),
    cmocka_unit_test(test_stale_temp_files_are_cleaned),
  };
  return cmocka_run_group_tests(tests, setup_dir, teardown_dir);
}

/* fuzz_checkpoint: the three checkpoint loaders past the safetensors parser — --resume
 * (nnrt_load_run, runtime/checkpoint_run.c), --init (nnrt_load_init) and predict's weights
 * (nnrt_load_stats) — on well-formed files whose contents are wrong: tensor sets, shapes,
 * dtypes, values, optimizer states, RNG states, data positions, model hashes and run metadata.
 *
 * The fixture is the model tests/fuzz/checkpoint.nn compiles to (checkpoint_seeds.py makes the
 * seeds from real checkpoints of it): W[3,2] and b[2] trained by Adam (W.m, W.v, b.m, b.v),
 * 3 standardised inputs, a run of 6 training rows, batch 2, 6 epochs, early stopping.
 *
 * The input is not the file but a recipe of it, one directive a line, which the harness turns
 * into a well-formed header (JSON escaped, offsets consecutive) and its data, so that mutations
 * land in the loaders' checks rather than in the JSON parser:
 *   mode weights|init|run      the loader (default run)
 *   rows N, batch N, epochs N  the resuming run's (defaults 6, 2, 6); best 0|1 (default 1)
 *   meta KEY VALUE             a metadata entry (VALUE is the rest of the line)
 *   tensor NAME DTYPE D0,D1,.. FILL   a tensor; no dims: a scalar. FILL is hex:BYTES
 *                              (repeated to the size), or seq, nan, inf, zero, mean, std (the
 *                              fixture's statistics), perm, rev (0..n-1 and back, as I64),
 *                              big (INT64_MAX)
 *   cut N                      drop N bytes from the end of the file
 * A dims product past 2^16 elements is written in the header but only 2^16 elements of data.
 *
 * Checked: a failed load leaves the workspace, statistics, order, best weights and run state
 * as they were and says why; a successful --init leaves finite weights; a successful --resume
 * an order that is a permutation of the rows and a position inside them. */
#include <inttypes.h>
#include <math.h>

#include "fuzz_common.h"
#include "internal.h"
#include "model_fixture.h"
#include "nnrt_host.h"

enum { WS = 40, MARK = 7, MAX_ROWS = 64, CAP_ELEMS = 1 << 16, MAX_LINE = 4096 };
static const uint64_t HASH = UINT64_C(0xa6e207695b1f9e51); /* checkpoint.nn's, as compiled */

static const NnrtParam params[] = {
  {.name = "W", .offset = 0, .size = 6, .rank = 2, .dim = {3, 2}, .role = NNRT_ROLE_PARAM},
  {.name = "b", .offset = 6, .size = 2, .rank = 1, .dim = {2}, .role = NNRT_ROLE_PARAM},
  {.name = "W.m", .offset = 8, .size = 6, .rank = 2, .dim = {3, 2}, .role = NNRT_ROLE_STATE},
  {.name = "W.v", .offset = 14, .size = 6, .rank = 2, .dim = {3, 2}, .role = NNRT_ROLE_STATE},
  {.name = "b.m", .offset = 20, .size = 2, .rank = 1, .dim = {2}, .role = NNRT_ROLE_STATE},
  {.name = "b.v", .offset = 22, .size = 2, .rank = 1, .dim = {2}, .role = NNRT_ROLE_STATE},
};

static const NnrtModel model = FIXTURE_MODEL(
  "ck", "checkpoint.nn", WS, 2, FIXTURE_SLOT("X", 24, 3), FIXTURE_SLOT("P", 30, 2),
  FIXTURE_TRAINS(FIXTURE_SLOT("Y", 27, 2), 32, 33, 34), .n_params = 6, .params = params,
  .has_train = 1, .model_hash = HASH);

static const float fixture_mean[3] = {0.25f, -0.5f, 0.125f}, fixture_std[3] = {1, 2, 0.5f};

/* ---- The recipe ---- */

typedef struct {
  unsigned char *p;
  size_t n, cap;
} Buf;

static void put(Buf *b, const void *s, size_t n) {
  if (!n)
    return; /* s may be an empty buffer's NULL */
  if (b->n + n > b->cap) {
    b->cap = (b->n + n) * 2 + 64;
    b->p = realloc(b->p, b->cap);
    if (!b->p)
      abort();
  }
  memcpy(b->p + b->n, s, n);
  b->n += n;
}

static void puts_(Buf *b, const char *s) { put(b, s, strlen(s)); }

static void put_json_string(Buf *b, const char *s) {
  puts_(b, "\"");
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    char esc[8];
    if (c < 0x20 || c == '"' || c == '\\') {
      snprintf(esc, sizeof esc, "\\u%04x", c);
      puts_(b, esc);
    } else
      put(b, s, 1);
  }
  puts_(b, "\"");
}

typedef struct {
  enum { RUN, INIT, WEIGHTS } mode;
  int64_t rows, batch, epochs;
  int best;
  size_t cut;
  Buf meta, header, data; /* header: the tensors' entries */
  int n_tensors, n_meta;
} Recipe;

static int elem_bytes(const char *dtype) {
  static const struct { const char *name; int bytes; } table[] = {
    {"F32", 4}, {"I32", 4}, {"U32", 4}, {"I64", 8}, {"F64", 8}, {"U64", 8},
    {"F16", 2}, {"BF16", 2}, {"I16", 2}, {"U16", 2},
  };
  for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
    if (strcmp(dtype, table[i].name) == 0)
      return table[i].bytes;
  return 1;
}

static void fill_element(Buf *d, const char *fill, int bytes, uint64_t k, uint64_t n,
                         const Buf *hex) {
  unsigned char e[8] = {0};
  float f = 0;
  int64_t i = 0;
  if (strcmp(fill, "seq") == 0)
    f = 0.5f * (float)k - 1, i = (int64_t)k;
  else if (strcmp(fill, "nan") == 0)
    f = NAN, i = -1;
  else if (strcmp(fill, "inf") == 0)
    f = INFINITY, i = INT64_MIN;
  else if (strcmp(fill, "mean") == 0 || strcmp(fill, "std") == 0)
    f = (fill[0] == 'm' ? fixture_mean : fixture_std)[k % 3], i = (int64_t)k;
  else if (strcmp(fill, "perm") == 0)
    i = (int64_t)k, f = (float)k;
  else if (strcmp(fill, "rev") == 0)
    i = (int64_t)(n - 1 - k), f = -(float)k;
  else if (strcmp(fill, "big") == 0)
    i = INT64_MAX, f = 3e38f;
  if (hex->n) {
    for (int j = 0; j < bytes; j++)
      e[j] = hex->p[(k * (uint64_t)bytes + (uint64_t)j) % hex->n];
  } else if (bytes == 8)
    memcpy(e, &i, 8);
  else if (bytes == 4)
    memcpy(e, &f, 4);
  else
    e[0] = (unsigned char)i;
  put(d, e, (size_t)bytes);
}

static int hexval(int c) {
  return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
       : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* "tensor NAME DTYPE DIMS FILL" (after "tensor "). */
static void add_tensor(Recipe *r, char *rest) {
  char *name = strtok(rest, " "), *dtype = strtok(NULL, " "), *dims = strtok(NULL, " ");
  char *fill = strtok(NULL, " ");
  if (!name || !dtype)
    return;
  if (dims && !fill && (dims[0] < '0' || dims[0] > '9'))
    fill = dims, dims = NULL; /* a scalar */
  uint64_t dim[9], n = 1;
  int rank = 0;
  for (char *s = dims; s && *s && rank < 9;) {
    char *end;
    dim[rank] = strtoull(s, &end, 10);
    n = dim[rank] && n > UINT64_MAX / dim[rank] ? UINT64_MAX : n * dim[rank];
    rank++;
    s = *end == ',' ? end + 1 : end + strlen(end);
  }
  Buf hex = {0};
  if (fill && strncmp(fill, "hex:", 4) == 0)
    for (const char *h = fill + 4; hexval(h[0]) >= 0 && hexval(h[1]) >= 0; h += 2) {
      unsigned char c = (unsigned char)(hexval(h[0]) * 16 + hexval(h[1]));
      put(&hex, &c, 1);
    }
  int bytes = elem_bytes(dtype);
  uint64_t from = r->data.n, claimed = n > UINT64_MAX / 8 ? UINT64_MAX : n * (uint64_t)bytes;
  for (uint64_t k = 0; k < n && k < CAP_ELEMS; k++)
    fill_element(&r->data, fill ? fill : "seq", bytes, k, n, &hex);
  free(hex.p);
  char buf[96];
  puts_(&r->header, r->n_tensors++ ? "," : "");
  put_json_string(&r->header, name);
  puts_(&r->header, ":{\"dtype\":");
  put_json_string(&r->header, dtype);
  puts_(&r->header, ",\"shape\":[");
  for (int k = 0; k < rank; k++) {
    snprintf(buf, sizeof buf, "%s%" PRIu64, k ? "," : "", dim[k]);
    puts_(&r->header, buf);
  }
  uint64_t to = claimed > UINT64_MAX - from ? UINT64_MAX : from + claimed;
  snprintf(buf, sizeof buf, "],\"data_offsets\":[%" PRIu64 ",%" PRIu64 "]}", from, to);
  puts_(&r->header, buf);
}

static void add_meta(Recipe *r, char *rest) {
  char *sp = strchr(rest, ' ');
  if (!sp)
    return;
  *sp = '\0';
  puts_(&r->meta, r->n_meta++ ? "," : "");
  put_json_string(&r->meta, rest);
  puts_(&r->meta, ":");
  put_json_string(&r->meta, sp + 1);
}

static void read_recipe(Recipe *r, const uint8_t *data, size_t size) {
  char line[MAX_LINE];
  for (size_t at = 0; at < size;) {
    size_t n = 0;
    while (at < size && data[at] != '\n') {
      if (n + 1 < sizeof line && data[at])
        line[n++] = (char)data[at];
      at++;
    }
    at++;
    line[n] = '\0';
    char *arg = strchr(line, ' ');
    long long v = arg ? strtoll(arg + 1, NULL, 10) : 0;
    if (arg)
      *arg++ = '\0';
    if (strcmp(line, "mode") == 0 && arg)
      r->mode = strcmp(arg, "weights") == 0 ? WEIGHTS
              : strcmp(arg, "init") == 0    ? INIT
                                            : RUN;
    else if (strcmp(line, "rows") == 0)
      r->rows = v < 0 ? 0 : v > MAX_ROWS ? MAX_ROWS : v;
    else if (strcmp(line, "batch") == 0)
      r->batch = v;
    else if (strcmp(line, "epochs") == 0)
      r->epochs = v;
    else if (strcmp(line, "best") == 0)
      r->best = v != 0;
    else if (strcmp(line, "cut") == 0)
      r->cut = v < 0 ? 0 : (size_t)v;
    else if (strcmp(line, "meta") == 0 && arg)
      add_meta(r, arg);
    else if (strcmp(line, "tensor") == 0 && arg)
      add_tensor(r, arg);
  }
}

/* The safetensors bytes of the recipe: length, header (the metadata first) padded to 8, data,
 * less the cut. */
static Buf build_file(Recipe *r) {
  Buf h = {0}, f = {0};
  puts_(&h, "{");
  if (r->n_meta) {
    puts_(&h, "\"__metadata__\":{");
    put(&h, r->meta.p, r->meta.n);
    puts_(&h, r->n_tensors ? "}," : "}");
  }
  put(&h, r->header.p, r->header.n);
  puts_(&h, "}");
  while (h.n % 8)
    puts_(&h, " ");
  unsigned char len[8];
  for (int k = 0; k < 8; k++)
    len[k] = (unsigned char)((uint64_t)h.n >> (8 * k));
  put(&f, len, 8);
  put(&f, h.p, h.n);
  put(&f, r->data.p, r->data.n);
  f.n -= r->cut < f.n ? r->cut : f.n;
  free(h.p);
  return f;
}

/* ---- Loading and the checks ---- */

typedef struct {
  float ws[WS], mean[3], std[3], best[8];
  int64_t order[MAX_ROWS];
  NnrtRunState rs;
} State;

static void init_state(State *s, const Recipe *r) {
  memset(s, 0, sizeof *s);
  for (int i = 0; i < WS; i++)
    s->ws[i] = MARK;
  for (int i = 0; i < 8; i++)
    s->best[i] = MARK;
  memcpy(s->mean, fixture_mean, sizeof s->mean);
  memcpy(s->std, fixture_std, sizeof s->std);
  for (int i = 0; i < MAX_ROWS; i++)
    s->order[i] = MARK;
  s->rs = (NnrtRunState){.rows = r->rows, .batch = r->batch, .epochs = r->epochs,
                         .order = s->order, .best = r->best ? s->best : NULL};
}

static void fail(const char *what, const char *err) {
  fprintf(stderr, "fuzz_checkpoint: %s (%s)\n", what, err);
  abort();
}

static void check_run(const State *s, const Recipe *r) {
  unsigned char seen[MAX_ROWS] = {0};
  for (int64_t k = 0; k < r->rows; k++) {
    int64_t row = s->order[k];
    if (row < 0 || row >= r->rows || seen[row]++)
      fail("a resumed order is not a permutation of the rows", "");
  }
  if (s->rs.position < 0 || s->rs.position >= r->rows || s->rs.epoch > r->epochs)
    fail("a resumed run state is out of range", "");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  Recipe r = {.mode = RUN, .rows = 6, .batch = 2, .epochs = 6, .best = 1};
  read_recipe(&r, data, size);
  Buf file = build_file(&r);
  const char *path = fuzz_write_file(0, file.p, file.n);
  State s, before;
  init_state(&s, &r);
  before = s;
  NnrtInputStats st = {.width = 3, .mean = s.mean, .std = s.std};
  char err[512] = "";
  int rc = r.mode == RUN    ? nnrt_load_run(&model, s.ws, &st, &s.rs, path, err, sizeof err)
           : r.mode == INIT ? nnrt_load_init(&model, s.ws, path, err, sizeof err)
                                 : nnrt_load_stats(&model, s.ws, &st, path, err, sizeof err);
  fuzz_report("fuzz_checkpoint", rc, err);
  if (rc != 0) {
    before.rs.order = s.rs.order, before.rs.best = s.rs.best;
    if (!err[0] || memcmp(&s, &before, sizeof s) != 0)
      fail("a failed load changed the state or left no message", err);
  } else if (r.mode == INIT) {
    for (int i = 0; i < 8; i++)
      if (!isfinite(s.ws[i]))
        fail("--init loaded a non-finite weight", "");
  } else if (r.mode == RUN)
    check_run(&s, &r);
  free(r.meta.p);
  free(r.header.p);
  free(r.data.p);
  free(file.p);
  return 0;
}

/* test_data_sources: the data source table (runtime/include/nnrt_sources.h) and the probe
 * (nnrt_data.h), linked with the nnrt_data library alone, as the compiler's checks are (the
 * loader's NnrtDataset is the runtime's own data.h).
 * - Every row of the table: its name and file count as nnrt_data_source gives them, its probe on
 *   each of its files, and its loader, on a small source made here. A row without a fixture
 *   below fails, so a new source is picked up.
 * - The probe and the loader agree: on files with a bad header (or first lines) the probe fails
 *   with the loader's own message, word for word, and a file the probe accepts loads. */
#include "test.h"

#include <zlib.h>

#include "data.h"
#include "nnrt.h"
#include "nnrt_data.h"

#define TEST_TMP_DIR "/tmp/nnc-test-sources-XXXXXX"
#include "model_fixture.h"
#include "tmp_dir.h"

/* Writes tmp_dir/name; the path stays valid for the whole suite (tmp_path's for 15 calls). */
static const char *write_bytes(const char *name, const void *bytes, size_t n) {
  static char kept[64][4096];
  static int next;
  assert_true(next < 64);
  char *path = kept[next++];
  snprintf(path, sizeof kept[0], "%s", tmp_path(name));
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  assert_int_equal(fwrite(bytes, 1, n, f), n);
  assert_int_equal(fclose(f), 0);
  return path;
}

static const char *write_text(const char *name, const char *text) {
  return write_bytes(name, text, strlen(text));
}

/* An IDX file of unsigned bytes: rows records of `width` bytes (width 0: one dimension). */
static const char *write_idx(const char *name, uint32_t rows, uint32_t width) {
  unsigned char buf[64] = {0, 0, 0x08, width ? 2 : 1};
  size_t n = 4;
  uint32_t dims[2] = {rows, width};
  for (int d = 0; d < buf[3]; d++, n += 4)
    for (int b = 0; b < 4; b++)
      buf[n + (size_t)b] = (unsigned char)(dims[d] >> (24 - 8 * b));
  for (uint32_t i = 0; i < rows * (width ? width : 1); i++)
    buf[n++] = (unsigned char)(i % 3);
  return write_bytes(name, buf, n);
}

/* Every source here feeds a model of 2 inputs and 3 classes, 3 rows. */
static NnrtModel model(void) {
  return (NnrtModel)FIXTURE_MODEL("m", NULL, 0, 0, FIXTURE_SLOT("x", 0, 2), FIXTURE_NO_SLOT,
                                  .target = FIXTURE_SLOT("y", 0, 3), .n_classes = 3);
}

static const float table_x[] = {1, 2, 3, 4, 5, 6}, table_y[] = {0, 1, 2};
static const int32_t last_of_3[] = {2};

/* A small good source of kind, on files written now; 0 when the test knows no such kind. */
static int fixture(int kind, NnrtData *d) {
  switch (kind) {
  case NNRT_DATA_TABLE:
    *d = (NnrtData){.kind = kind, .rows = 3, .x = table_x, .y = table_y};
    return 1;
  case NNRT_DATA_CSV:
    *d = (NnrtData){.kind = kind, .path = write_text("good.csv", "a,b,y\n1,2,0\n3,4,1\n5,6,2\n"),
                    .header = 1, .delimiter = ',', .n_y_cols = 1, .y_cols = last_of_3};
    return 1;
  case NNRT_DATA_IDX:
    *d = (NnrtData){.kind = kind, .path = write_idx("good-images", 3, 2),
                    .labels_path = write_idx("good-labels", 3, 0)};
    return 1;
  default: return 0;
  }
}

/* ---- Every row ---- */

typedef struct {
  int kind;
  const char *name;
  int files;
} Row;

#define ROW(KIND, name, files, check, load, probe, args) {NNRT_DATA_##KIND, name, files},
static const Row rows[] = {NNRT_DATA_SOURCES(ROW)};
#undef ROW

static void check_row(const Row *row) {
  print_message("source %s\n", row->name);
  const NnrtDataSource *src = nnrt_data_source(row->kind);
  assert_non_null(src);
  assert_string_equal(src->name, row->name);
  assert_int_equal(src->files, row->files);
  NnrtData d;
  if (!fixture(row->kind, &d))
    fail_msg("no fixture for data source '%s': add one to fixture()", row->name);
  for (int f = 0; f < row->files; f++) {
    NnrtProbe p;
    int rc = nnrt_data_probe(&d, f, &p);
    if (rc != 0)
      fail_msg("%s: probing file %d: %s", row->name, f, p.message);
    assert_int_equal(p.status, NNRT_PROBE_OK);
    nnrt_data_probe_free(&p);
  }
  NnrtModel m = model();
  NnrtDataset ds;
  char err[512] = "";
  if (nnrt_data_load(&m, &d, &ds, err, sizeof err) != 0)
    fail_msg("%s: %s", row->name, err);
  assert_int_equal(ds.rows, 3);
  assert_int_equal(ds.in_width, 2);
  assert_true(ds.y[0 * 3 + 0] == 1 && ds.y[1 * 3 + 1] == 1 && ds.y[2 * 3 + 2] == 1);
  nnrt_dataset_free(&ds);
}

static void every_row_probes_and_loads(void **state) {
  (void)state;
  assert_true(sizeof rows / sizeof *rows >= 3);
  for (size_t i = 0; i < sizeof rows / sizeof *rows; i++)
    check_row(&rows[i]);
  assert_null(nnrt_data_source(NNRT_DATA_NONE));
  assert_int_equal(nnrt_data_files(NNRT_DATA_NONE), 0);
}

static void csv_probe_splits_as_the_loader(void **state) {
  (void)state;
  NnrtData d = {.kind = NNRT_DATA_CSV, .delimiter = ';',
                .path = write_text("split.csv", "\n  \n name ; \"b;c\" ;y\n1;2e3; x\n9;9;9\n")};
  NnrtProbe p;
  assert_int_equal(nnrt_data_probe(&d, 0, &p), 0);
  assert_int_equal(p.n_lines, NNRT_PROBE_LINES);
  assert_int_equal(p.lines[0].n_cells, 3);
  assert_string_equal(p.lines[0].cells[0], "name");
  assert_string_equal(p.lines[0].cells[1], "b;c");
  assert_string_equal(p.lines[1].cells[2], "x");
  assert_int_equal(p.lines[0].numeric[0], 0);
  assert_int_equal(p.lines[1].numeric[1], 1);
  assert_int_equal(p.lines[1].numeric[2], 0);
  nnrt_data_probe_free(&p);
}

/* ---- The probe and the loader agree ---- */

/* A source whose file `bad` (0: inputs or the CSV, 1: IDX labels) is wrong in its header or
 * first lines, with the status the probe must give. */
typedef struct {
  const char *what;
  NnrtData d;
  int bad;
  NnrtProbeStatus status;
} BadCase;

static void expect_same_refusal(const BadCase *c) {
  NnrtProbe p;
  assert_int_equal(nnrt_data_probe(&c->d, c->bad, &p), -1);
  if (p.status != c->status)
    fail_msg("%s: status %d, expected %d (%s)", c->what, p.status, c->status, p.message);
  NnrtModel m = model();
  NnrtDataset ds;
  char err[1024] = "";
  assert_int_equal(nnrt_data_load(&m, &c->d, &ds, err, sizeof err), -1);
  if (strcmp(err, p.message) != 0)
    fail_msg("%s: the probe says \"%s\", the loader \"%s\"", c->what, p.message, err);
  char reason[1200];
  snprintf(reason, sizeof reason, "cannot load '%s': %s", nnrt_data_file_path(&c->d, c->bad),
           p.reason);
  assert_string_equal(reason, p.message);
  nnrt_data_probe_free(&p);
}

static NnrtData bad_csv(const char *name, const void *bytes, size_t n) {
  return (NnrtData){.kind = NNRT_DATA_CSV, .path = write_bytes(name, bytes, n), .delimiter = ',',
                    .n_y_cols = 1, .y_cols = last_of_3};
}

static NnrtData bad_images(const char *name, const void *bytes, size_t n) {
  return (NnrtData){.kind = NNRT_DATA_IDX, .path = write_bytes(name, bytes, n),
                    .labels_path = write_idx("ok-labels", 3, 0)};
}

static void probe_refuses_what_the_loader_refuses(void **state) {
  (void)state;
  char *long_line = malloc(NNRT_CSV_MAX_LINE + 8);
  assert_non_null(long_line);
  memset(long_line, '1', NNRT_CSV_MAX_LINE + 1);
  memcpy(long_line + NNRT_CSV_MAX_LINE + 1, "\n", 2);
  const BadCase cases[] = {
      {"empty csv", bad_csv("empty.csv", "", 0), 0, NNRT_PROBE_EMPTY},
      {"blank csv", bad_csv("blank.csv", " \n\t\n", 4), 0, NNRT_PROBE_EMPTY},
      {"NUL byte", bad_csv("nul.csv", "1,\0,3\n", 6), 0, NNRT_PROBE_REFUSED},
      {"open quote", bad_csv("quote.csv", "a,\"b,c\n1,2,0\n", 13), 0, NNRT_PROBE_REFUSED},
      {"long line", bad_csv("long.csv", long_line, NNRT_CSV_MAX_LINE + 2), 0,
       NNRT_PROBE_LINE_TOO_LONG},
      {"missing csv", {.kind = NNRT_DATA_CSV, .path = "/nonexistent/x.csv", .n_y_cols = 1,
                       .y_cols = last_of_3}, 0, NNRT_PROBE_CANNOT_OPEN},
      {"empty idx", bad_images("empty.idx", "", 0), 0, NNRT_PROBE_EMPTY},
      {"short magic", bad_images("short.idx", "\0\0", 2), 0, NNRT_PROBE_NOT_IDX},
      {"wrong magic", bad_images("magic.idx", "P5\n2", 4), 0, NNRT_PROBE_NOT_IDX},
      {"signed bytes", bad_images("type.idx", "\0\0\x09\x01\0\0\0\0", 8), 0,
       NNRT_PROBE_IDX_TYPE},
      {"no dimensions", bad_images("nodims.idx", "\0\0\x08\0", 4), 0, NNRT_PROBE_NOT_IDX},
      {"cut short", bad_images("cut.idx", "\0\0\x08\x03\0\0\0\x03\0\0", 10), 0,
       NNRT_PROBE_CUT_SHORT},
      {"too big", bad_images("big.idx", "\0\0\x08\x02\xff\xff\xff\xff\0\0\0\x02", 12), 0,
       NNRT_PROBE_TOO_BIG},
      {"bad labels", {.kind = NNRT_DATA_IDX, .path = write_idx("ok-images", 3, 2),
                      .labels_path = write_bytes("badlab.idx", "\0\0\x0d\x01", 4)},
       1, NNRT_PROBE_IDX_TYPE},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
    expect_same_refusal(&cases[i]);
  free(long_line);
}

/* A file the probe accepts but the loader refuses is refused for its data, not its header. */
static void probe_accepts_what_the_header_allows(void **state) {
  (void)state;
  NnrtData d = bad_csv("cell.csv", "1,2,0\n3,x,1\n5,6,2\n", 18);
  NnrtProbe p;
  assert_int_equal(nnrt_data_probe(&d, 0, &p), 0);
  nnrt_data_probe_free(&p);
  NnrtModel m = model();
  NnrtDataset ds;
  char err[512];
  assert_int_equal(nnrt_data_load(&m, &d, &ds, err, sizeof err), -1);
  assert_non_null(strstr(err, "line 2: column 2 is not a number ('x')"));
}

static void probe_refuses_what_is_not_a_file(void **state) {
  (void)state;
  NnrtData d = {.kind = NNRT_DATA_CSV, .path = tmp_dir};
  NnrtProbe p;
  assert_int_equal(nnrt_data_probe(&d, 0, &p), -1);
  assert_int_equal(p.status, NNRT_PROBE_NOT_REGULAR);
  NnrtData table = {.kind = NNRT_DATA_TABLE};
  assert_int_equal(nnrt_data_probe(&table, 0, &p), -1);
  assert_int_equal(p.status, NNRT_PROBE_REFUSED);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(every_row_probes_and_loads),
      cmocka_unit_test(csv_probe_splits_as_the_loader),
      cmocka_unit_test(probe_refuses_what_the_loader_refuses),
      cmocka_unit_test(probe_accepts_what_the_header_allows),
      cmocka_unit_test(probe_refuses_what_is_not_a_file),
  };
  return cmocka_run_group_tests(tests, setup_dir, teardown_dir);
}

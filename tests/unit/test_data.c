/* test_data: the data loader (runtime/data.c) on tables, CSV and IDX files, good and bad, and
 * its preprocessing. Fixture files are written at run time into a fresh directory under /tmp
 * made by the group setup and removed by its teardown; gzipped ones are made with zlib here. */
#include "test.h"

#include <dirent.h>
#include <math.h>
#include <stdarg.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include "data.h"
#include "nnrt.h"

#define FASHION_DIR "/usr/share/datasets/fashion-mnist"

#define TEST_TMP_DIR "/tmp/nnc-test-data-XXXXXX"
#include "model_fixture.h"
#include "tmp_dir.h"

/* ---- Helpers ---- */

static const char *write_bytes(const char *name, const void *bytes, size_t n) {
  const char *path = tmp_path(name);
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  assert_int_equal(fwrite(bytes, 1, n, f), n);
  assert_int_equal(fclose(f), 0);
  return path;
}

static const char *write_gz(const char *name, const void *bytes, size_t n) {
  const char *path = tmp_path(name);
  gzFile gz = gzopen(path, "wb");
  assert_non_null(gz);
  assert_int_equal(gzwrite(gz, bytes, (unsigned)n), (int)n);
  assert_int_equal(gzclose(gz), Z_OK);
  return path;
}

static void cut_file(const char *path, long drop) {
  struct stat st;
  assert_int_equal(stat(path, &st), 0);
  assert_int_equal(truncate(path, st.st_size - drop), 0);
}

/* A model with only what the loader reads: widths and classes. */
static NnrtModel model(int64_t in_width, int64_t target_width, int32_t classes) {
  return (NnrtModel)FIXTURE_MODEL("m", NULL, 0, 0, FIXTURE_SLOT("x", 0, in_width), FIXTURE_NO_SLOT,
                                  .target = FIXTURE_SLOT("y", 0, target_width),
                                  .n_classes = classes);
}

static const int32_t last_of_3[] = {2};

/* A CSV source on a new file holding text, with the label in column 2 of 3. */
static NnrtData csv(const char *name, const char *text) {
  return (NnrtData){.kind = NNRT_DATA_CSV, .path = write_bytes(name, text, strlen(text)),
                    .n_y_cols = 1, .y_cols = last_of_3};
}

/* The expected message, formatted; valid until the next call. */
__attribute__((format(printf, 1, 2))) static const char *msg(const char *fmt, ...) {
  static char buf[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  return buf;
}

static void load_ok(const NnrtModel *m, const NnrtData *d, NnrtDataset *ds) {
  char err[1024] = "";
  int rc = nnrt_data_load(m, d, ds, err, sizeof err);
  if (rc != 0)
    fail_msg("unexpected error: %s", err);
  assert_int_equal(ds->in_width, m->input.width);
  assert_int_equal(ds->target_width, m->target.width);
}

static void load_fails(const NnrtModel *m, const NnrtData *d, const char *want) {
  NnrtDataset ds;
  char err[1024] = "";
  assert_int_equal(nnrt_data_load(m, d, &ds, err, sizeof err), -1);
  assert_string_equal(err, want);
  assert_int_equal(ds.rows, 0);
  assert_null(ds.x);
  assert_null(ds.y);
}

/* Like load_fails, for messages whose tail depends on zlib. */
static void load_fails_with_prefix(const NnrtModel *m, const NnrtData *d, const char *want) {
  NnrtDataset ds;
  char err[1024] = "";
  assert_int_equal(nnrt_data_load(m, d, &ds, err, sizeof err), -1);
  if (strncmp(err, want, strlen(want)) != 0)
    fail_msg("message '%s' does not start with '%s'", err, want);
  assert_null(ds.x);
}

static void assert_floats(const float *got, const float *want, int n) {
  for (int i = 0; i < n; i++)
    if (fabsf(got[i] - want[i]) > 1e-6f)
      fail_msg("value %d is %g, expected %g", i, (double)got[i], (double)want[i]);
}

/* ---- Tables ---- */

static void table_labels_become_one_hot(void **state) {
  (void)state;
  static const float x[] = {1, 2, 3, 4}, y[] = {2, 0};
  NnrtModel m = model(2, 3, 3);
  NnrtData d = {.kind = NNRT_DATA_TABLE, .rows = 2, .x = x, .y = y,
                .scaling = NNRT_SCALE_FACTOR, .scale = 0.5};
  NnrtDataset ds;
  load_ok(&m, &d, &ds);
  assert_int_equal(ds.rows, 2);
  assert_floats(ds.x, (const float[]){0.5f, 1, 1.5f, 2}, 4);
  assert_floats(ds.y, (const float[]){0, 0, 1, 1, 0, 0}, 6);
  nnrt_dataset_free(&ds);
}

static void table_regression_targets_are_copied(void **state) {
  (void)state;
  static const float x[] = {1, 2}, y[] = {5, 6, 7, 8};
  NnrtModel m = model(1, 2, 0);
  NnrtData d = {.kind = NNRT_DATA_TABLE, .rows = 2, .x = x, .y = y};
  NnrtDataset ds;
  load_ok(&m, &d, &ds);
  assert_floats(ds.x, x, 2);
  assert_floats(ds.y, y, 4);
  nnrt_dataset_free(&ds);
}

static void table_bad_label(void **state) {
  (void)state;
  static const float x[] = {1, 2, 3}, y[] = {0, 1.5f, 3};
  NnrtModel m = model(1, 3, 3);
  NnrtData d = {.kind = NNRT_DATA_TABLE, .rows = 3, .x = x, .y = y};
  load_fails(&m, &d, "cannot load the data table: row 2: label 1.5 is not an integer");
  d.rows = 1;
  d.y = y + 2;
  load_fails(&m, &d, "cannot load the data table: row 1: label 3 is out of range for 3 classes");
}

/* ---- CSV: good files ---- */

static void csv_header_and_integer_labels(void **state) {
  (void)state;
  NnrtModel m = model(2, 3, 3);
  NnrtData d = csv("header.csv", "a,b,label\n1,2,0\n3.5,-4e1,2\n");
  d.header = 1;
  NnrtDataset ds;
  load_ok(&m, &d, &ds);
  assert_int_equal(ds.rows, 2);
  assert_floats(ds.x, (const float[]){1, 2, 3.5f, -40}, 4);
  assert_floats(ds.y, (const float[]){1, 0, 0, 0, 0, 1}, 6);
  nnrt_dataset_free(&ds);
}

static void csv_without_header_regression(void **state) {
  (void)state;
  NnrtModel m = model(2, 1, 0);
  NnrtData d = csv("plain.csv", "1,2,0.25\n4,5,6\n7,8,9\n");
  d.scaling = NNRT_SCALE_FACTOR;
  d.scale = 1.0 / 255; /* inputs only: targets are never scaled */
  NnrtDataset ds;
  load_ok(&m, &d, &ds);
  assert_int_equal(ds.rows, 3);
  assert_floats(ds.x, (const float[]){1 / 255.f, 2 / 255.f, 4 / 255.f, 5 / 255.f, 7 / 255.f,
                                      8 / 255.f}, 6);
  assert_floats(ds.y, (const float[]){0.25f, 6, 9}, 3);
  nnrt_dataset_free(&ds);
}

static void csv_delimiter_and_chosen_columns(void **state) {
  (void)state;
  static const int32_t xc[] = {3, 0}, yc[] = {1, 4};
  NnrtModel m = model(2, 2, 0);
  NnrtData d = csv("semi.csv", "10;20;30;40;50\n11;21;31;41;51\n");
  d.delimiter = ';';
  d.n_x_cols = 2;
  d.x_cols = xc;
  d.n_y_cols = 2;
  d.y_cols = yc;
  NnrtDataset ds;
  load_ok(&m, &d, &ds);
  assert_int_equal(ds.rows, 2);
  assert_floats(ds.x, (const float[]){40, 10, 41, 11}, 4);
  assert_floats(ds.y, (const float[]){20, 50, 21, 51}, 4);
  nnrt_dataset_free(&ds);
}

static void csv_class_names_quotes_crlf_blank_lines(void **state) {
  (void)state;
  static const char *const names[] = {"setosa", "versi color", "a\"b"};
  static const int32_t yc[] = {0};
  NnrtModel m = model(2, 3, 3);
  NnrtData d = csv("names.csv", "\"species\" , \"x\",y\r\n"
                                " \"versi color\" , 1.5 ,\"2\"\r\n"
                                "\r\n"
                                "   \r\n"
                                "\"a\"\"b\",3,4\r\n"
                                "setosa,\"5\",6");
  d.header = 1;
  d.n_y_cols = 1;
  d.y_cols = yc;
  d.n_class_names = 3;
  d.class_names = names;
  NnrtDataset ds;
  load_ok(&m, &d, &ds);
  assert_int_equal(ds.rows, 3);
  assert_floats(ds.x, (const float[]){1.5f, 2, 3, 4, 5, 6}, 6);
  assert_floats(ds.y, (const float[]){0, 1, 0, 0, 0, 1, 1, 0, 0}, 9);
  nnrt_dataset_free(&ds);
}

static void csv_tab_delimiter_and_gzip(void **state) {
  (void)state;
  static const char text[] = "1\t2\t1\n3\t4\t0\n";
  NnrtModel m = model(2, 2, 2);
  NnrtData d = {.kind = NNRT_DATA_CSV, .path = write_gz("tabs.csv.gz", text, strlen(text)),
                .delimiter = '\t', .n_y_cols = 1, .y_cols = last_of_3};
  NnrtDataset ds;
  load_ok(&m, &d, &ds);
  assert_int_equal(ds.rows, 2);
  assert_floats(ds.x, (const float[]){1, 2, 3, 4}, 4);
  assert_floats(ds.y, (const float[]){0, 1, 1, 0}, 4);
  nnrt_dataset_free(&ds);
}

/* Enough rows that the arrays double several times. */
static void csv_many_rows(void **state) {
  (void)state;
  char *text = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&text, &len);
  for (int i = 0; i < 1000; i++)
    fprintf(f, "%d,%d,%d\n", i, -i, i % 2);
  fclose(f);
  NnrtModel m = model(2, 2, 2);
  NnrtData d = csv("many.csv", text);
  free(text);
  NnrtDataset ds;
  load_ok(&m, &d, &ds);
  assert_int_equal(ds.rows, 1000);
  assert_floats(ds.x + 2 * 999, (const float[]){999, -999}, 2);
  assert_floats(ds.y + 2 * 999, (const float[]){0, 1}, 2);
  nnrt_dataset_free(&ds);
}

/* ---- CSV: bad files ---- */

static void csv_ragged_row(void **state) {
  (void)state;
  NnrtModel m = model(2, 1, 0);
  NnrtData d = csv("ragged.csv", "x,y,t\n1,2,3\n\n4,5\n");
  d.header = 1;
  load_fails(&m, &d,
             msg("cannot load '%s': line 4: ragged row: 2 columns, but the first data row "
                 "has 3", d.path));
}

static void csv_cell_not_a_number(void **state) {
  (void)state;
  NnrtModel m = model(2, 1, 0);
  NnrtData d = csv("nan.csv", "1,2,3\n1,abc,3\n");
  load_fails(&m, &d, msg("cannot load '%s': line 2: column 2 is not a number ('abc')", d.path));
  d = csv("empty-cell.csv", "1,,3\n");
  load_fails(&m, &d, msg("cannot load '%s': line 1: column 2 is not a number ('')", d.path));
  d = csv("inf.csv", "1,inf,3\n");
  load_fails(&m, &d,
             msg("cannot load '%s': line 1: column 2 is not a finite float ('inf')", d.path));
  d = csv("big.csv", "1,2,1e39\n");
  load_fails(&m, &d,
             msg("cannot load '%s': line 1: column 3 is not a finite float ('1e39')", d.path));
}

static void csv_label_out_of_range(void **state) {
  (void)state;
  NnrtModel m = model(2, 3, 3);
  NnrtData d = csv("range.csv", "1,2,0\n1,2,3\n");
  load_fails(&m, &d,
             msg("cannot load '%s': line 2: label 3 is out of range for 3 classes", d.path));
  d = csv("negative.csv", "1,2,-1\n");
  load_fails(&m, &d,
             msg("cannot load '%s': line 1: label -1 is out of range for 3 classes", d.path));
  d = csv("fraction.csv", "1,2,0.5\n");
  load_fails(&m, &d, msg("cannot load '%s': line 1: label 0.5 is not an integer", d.path));
}

static void csv_unknown_class_name(void **state) {
  (void)state;
  static const char *const names[] = {"cat", "dog"};
  NnrtModel m = model(2, 2, 2);
  NnrtData d = csv("unknown.csv", "1,2,cat\n1,2,Dog\n");
  d.n_class_names = 2;
  d.class_names = names;
  load_fails(&m, &d, msg("cannot load '%s': line 2: unknown class 'Dog'", d.path));
}

static void csv_empty_and_header_only(void **state) {
  (void)state;
  NnrtModel m = model(2, 1, 0);
  NnrtData d = csv("empty.csv", "");
  load_fails(&m, &d, msg("cannot load '%s': empty file", d.path));
  d = csv("blank.csv", "\n  \r\n\n");
  load_fails(&m, &d, msg("cannot load '%s': empty file", d.path));
  d = csv("header-only.csv", "a,b,c\n");
  d.header = 1;
  load_fails(&m, &d, msg("cannot load '%s': no data rows after the header", d.path));
}

static void csv_column_errors(void **state) {
  (void)state;
  static const int32_t far[] = {5}, xc[] = {0, 1, 2};
  NnrtModel m = model(2, 1, 0);
  NnrtData d = csv("cols.csv", "1,2,3\n");
  d.y_cols = far;
  load_fails(&m, &d,
             msg("cannot load '%s': line 1: target column index 5 is beyond the row's 3 "
                 "columns", d.path));
  d.y_cols = last_of_3;
  d.n_x_cols = 3;
  d.x_cols = xc;
  load_fails(&m, &d,
             msg("cannot load '%s': 3 feature columns given, but the model's input takes 2 "
                 "values", d.path));
  /* Every column but the target: one too few, then one too many. */
  m = model(3, 1, 0);
  d = csv("few.csv", "1,2,3\n");
  load_fails(&m, &d,
             msg("cannot load '%s': line 1: 2 feature columns (the columns that are not "
                 "targets), but the model's input takes 3 values", d.path));
  m = model(1, 1, 0);
  load_fails(&m, &d,
             msg("cannot load '%s': line 1: 2 feature columns (the columns that are not "
                 "targets), but the model's input takes 1 value", d.path));
}

static void csv_quote_and_byte_errors(void **state) {
  (void)state;
  NnrtModel m = model(2, 1, 0);
  NnrtData d = csv("open-quote.csv", "1,\"2,3\n");
  load_fails(&m, &d, msg("cannot load '%s': line 1: column 2 has no closing quote", d.path));
  d = csv("after-quote.csv", "1,\"2\"x,3\n");
  load_fails(&m, &d,
             msg("cannot load '%s': line 1: column 2 has text after its closing quote", d.path));
  d = (NnrtData){.kind = NNRT_DATA_CSV, .path = write_bytes("nul.csv", "1,2,3\n1,\0,3\n", 12),
                 .n_y_cols = 1, .y_cols = last_of_3};
  load_fails(&m, &d,
             msg("cannot load '%s': line 2: contains a NUL byte (is this a binary file?)",
                 d.path));
  d.path = tmp_path("missing.csv");
  load_fails(&m, &d, msg("cannot load '%s': No such file or directory", d.path));
}

static void csv_limits(void **state) {
  (void)state;
  NnrtModel m = model(2, 1, 0);
  char *text = malloc(NNRT_CSV_MAX_LINE + 3);
  memset(text, 'x', NNRT_CSV_MAX_LINE);
  memcpy(text, "1,2,", 4);
  strcpy(text + NNRT_CSV_MAX_LINE, "\n");
  NnrtData d = csv("long.csv", text); /* exactly the limit: a bad cell, not a bad line */
  load_fails_with_prefix(&m, &d, msg("cannot load '%s': line 1: column 3 is not a number",
                                     d.path));
  strcpy(text + NNRT_CSV_MAX_LINE, "x\n");
  d = csv("longer.csv", text);
  load_fails(&m, &d, msg("cannot load '%s': line 1: longer than 1048576 bytes", d.path));
  for (size_t i = 0; i < 2 * (NNRT_CSV_MAX_COLUMNS + 1); i += 2)
    memcpy(text + i, "0,", 2);
  strcpy(text + 2 * (NNRT_CSV_MAX_COLUMNS + 1) - 1, "\n");
  d = csv("wide.csv", text);
  load_fails(&m, &d, msg("cannot load '%s': line 1: more than 100000 columns", d.path));
  free(text);
}

/* ---- IDX ---- */

/* An IDX file image: magic 00 00 type ndim, big-endian dims, then body. */
static size_t idx_image(unsigned char *buf, int type, int ndim, const uint32_t *dims,
                        const unsigned char *body, size_t body_len) {
  size_t n = 0;
  buf[n++] = 0;
  buf[n++] = 0;
  buf[n++] = (unsigned char)type;
  buf[n++] = (unsigned char)ndim;
  for (int i = 0; i < ndim; i++)
    for (int shift = 24; shift >= 0; shift -= 8)
      buf[n++] = (unsigned char)(dims[i] >> shift);
  memcpy(buf + n, body, body_len);
  return n + body_len;
}

/* Writes images (rows of 2x2) and labels IDX files, plain or gzipped. */
static NnrtData idx_pair(const char *stem, int gz, uint32_t rows, const unsigned char *pixels,
                         const unsigned char *labels) {
  unsigned char buf[256];
  char name[64];
  const char *(*write)(const char *, const void *, size_t) = gz ? write_gz : write_bytes;
  snprintf(name, sizeof name, "%s-images.idx%s", stem, gz ? ".gz" : "");
  size_t n = idx_image(buf, 0x08, 3, (const uint32_t[]){rows, 2, 2}, pixels, rows * 4);
  const char *images = write(name, buf, n);
  snprintf(name, sizeof name, "%s-labels.idx%s", stem, gz ? ".gz" : "");
  n = idx_image(buf, 0x08, 1, (const uint32_t[]){rows}, labels, rows);
  return (NnrtData){.kind = NNRT_DATA_IDX, .path = images, .labels_path = write(name, buf, n),
                    .scaling = NNRT_SCALE_FACTOR, .scale = 1.0 / 255};
}

static const unsigned char pixels3[12] = {0, 255, 51, 102, 1, 2, 3, 4, 5, 6, 7, 8};
static const unsigned char labels3[3] = {2, 0, 1};

static void check_idx3(const NnrtDataset *ds) {
  assert_int_equal(ds->rows, 3);
  assert_floats(ds->x, (const float[]){0, 1, 0.2f, 0.4f}, 4);
  assert_floats(ds->x + 8, (const float[]){5 / 255.f, 6 / 255.f, 7 / 255.f, 8 / 255.f}, 4);
  assert_floats(ds->y, (const float[]){0, 0, 1, 1, 0, 0, 0, 1, 0}, 9);
}

static void idx_raw_and_gzipped(void **state) {
  (void)state;
  NnrtModel m = model(4, 3, 3);
  for (int gz = 0; gz < 2; gz++) {
    NnrtData d = idx_pair(gz ? "gz" : "raw", gz, 3, pixels3, labels3);
    NnrtDataset ds;
    load_ok(&m, &d, &ds);
    check_idx3(&ds);
    nnrt_dataset_free(&ds);
  }
}

static void idx_labels_as_regression_targets(void **state) {
  (void)state;
  NnrtModel m = model(4, 1, 0);
  NnrtData d = idx_pair("reg", 0, 3, pixels3, labels3);
  NnrtDataset ds;
  load_ok(&m, &d, &ds);
  assert_floats(ds.y, (const float[]){2, 0, 1}, 3);
  nnrt_dataset_free(&ds);
  m = model(4, 2, 0);
  load_fails(&m, &d,
             msg("cannot load '%s': labels give 1 target value per record, but the model's "
                 "target takes 2", d.labels_path));
}

/* positive = K: one class against the rest, for IDX labels and CSV targets alike. */
static void one_class_against_the_rest(void **state) {
  (void)state;
  NnrtModel m = model(4, 1, 0);
  NnrtData d = idx_pair("ovr", 0, 3, pixels3, labels3);
  d.one_vs_rest = 1;
  d.positive = 0;
  NnrtDataset ds;
  load_ok(&m, &d, &ds);
  assert_floats(ds.y, (const float[]){0, 1, 0}, 3);
  nnrt_dataset_free(&ds);
  m = model(2, 1, 0);
  d = csv("ovr.csv", "1,2,7\n4,5,3\n7,8,7\n");
  d.one_vs_rest = 1;
  d.positive = 7;
  load_ok(&m, &d, &ds);
  assert_floats(ds.y, (const float[]){1, 0, 1}, 3);
  nnrt_dataset_free(&ds);
}

static void idx_bad_header(void **state) {
  (void)state;
  NnrtModel m = model(4, 3, 3);
  NnrtData d = idx_pair("hdr", 0, 3, pixels3, labels3);
  d.path = write_bytes("magic.idx", "\x12\x34\x56\x78rest", 8);
  load_fails(&m, &d, msg("cannot load '%s': not an IDX file (magic 0x12345678)", d.path));
  d.path = write_bytes("type.idx", "\0\0\x0d\x01\0\0\0\x01\0\0\0\0", 12);
  load_fails(&m, &d,
             msg("cannot load '%s': IDX type 0x0d (float) is not supported, only 0x08 "
                 "(unsigned byte)", d.path));
  d.path = write_bytes("empty.idx", "", 0);
  load_fails(&m, &d, msg("cannot load '%s': empty file", d.path));
  d.path = write_bytes("short-header.idx", "\0\0\x08\x03\0\0\0\x03\0\0", 10);
  load_fails(&m, &d,
             msg("cannot load '%s': truncated: expected 16 bytes of header, file ends after 10",
                 d.path));
}

static void idx_truncated(void **state) {
  (void)state;
  unsigned char buf[64];
  NnrtModel m = model(4, 3, 3);
  NnrtData d = idx_pair("trunc", 0, 3, pixels3, labels3);
  size_t n = idx_image(buf, 0x08, 3, (const uint32_t[]){3, 2, 2}, pixels3, 5);
  d.path = write_bytes("trunc.idx", buf, n);
  const char *want = "cannot load '%s': truncated: expected 12 bytes of data, file ends after 5";
  load_fails(&m, &d, msg(want, d.path));
  d.path = write_gz("trunc.idx.gz", buf, n);
  load_fails(&m, &d, msg(want, d.path));
  /* Data beyond what the header describes means the header is wrong. */
  n = idx_image(buf, 0x08, 3, (const uint32_t[]){3, 2, 2}, pixels3, 12);
  buf[n++] = 9;
  d.path = write_bytes("long.idx", buf, n);
  load_fails(&m, &d,
             msg("cannot load '%s': more data than the header describes (12 bytes)", d.path));
}

static void idx_truncated_gzip_stream(void **state) {
  (void)state;
  NnrtModel m = model(4, 3, 3);
  NnrtData d = idx_pair("cut", 1, 3, pixels3, labels3);
  cut_file(d.path, 4); /* the gzip trailer's length field: all data, but no proper end */
  load_fails(&m, &d,
             msg("cannot load '%s': truncated gzip stream (unexpected end of file)", d.path));
  /* Cut inside the compressed data of a body that does not compress. */
  enum { ROWS = 4000 };
  static unsigned char pixels[ROWS * 4], labels[ROWS], file[16 + ROWS * 4];
  uint64_t seed = 42;
  for (size_t i = 0; i < sizeof pixels; i++)
    pixels[i] = (unsigned char)test_uniform(&seed, 0, 256);
  size_t n = idx_image(file, 0x08, 3, (const uint32_t[]){ROWS, 2, 2}, pixels, sizeof pixels);
  d.path = write_gz("cut-middle.idx.gz", file, n);
  n = idx_image(file, 0x08, 1, (const uint32_t[]){ROWS}, labels, ROWS);
  d.labels_path = write_bytes("cut-middle-labels.idx", file, n);
  cut_file(d.path, ROWS * 2);
  load_fails_with_prefix(&m, &d,
                         msg("cannot load '%s': truncated: expected 16000 bytes of data, "
                             "file ends after ", d.path));
}

static void idx_corrupt_gzip(void **state) {
  (void)state;
  NnrtModel m = model(4, 3, 3);
  NnrtData d = idx_pair("corrupt", 1, 3, pixels3, labels3);
  FILE *f = fopen(d.path, "r+b");
  assert_non_null(f);
  fseek(f, 12, SEEK_SET); /* inside the deflate stream, after the 10-byte gzip header */
  fwrite("\xff\xff\xff\xff", 1, 4, f);
  fclose(f);
  load_fails_with_prefix(&m, &d, msg("cannot load '%s': corrupt gzip data (", d.path));
}

static void idx_shape_mismatches(void **state) {
  (void)state;
  unsigned char buf[64];
  NnrtModel m = model(100, 3, 3);
  NnrtData d = idx_pair("shape", 0, 3, pixels3, labels3);
  load_fails(&m, &d,
             msg("cannot load '%s': records of 4 values, but the model's input takes 100",
                 d.path));
  m = model(4, 3, 3);
  const char *images = d.path;
  d = idx_pair("count", 0, 2, pixels3, labels3);
  d.path = images;
  load_fails(&m, &d, msg("cannot load '%s': 2 labels for the 3 records of '%s'", d.labels_path,
                         images));
  size_t n = idx_image(buf, 0x08, 2, (const uint32_t[]){3, 1}, labels3, 3);
  d.labels_path = write_bytes("labels2d.idx", buf, n);
  load_fails(&m, &d,
             msg("cannot load '%s': a labels file has 1 dimension, this one has 2",
                 d.labels_path));
}

static void idx_label_out_of_range(void **state) {
  (void)state;
  NnrtModel m = model(4, 10, 10);
  NnrtData d = idx_pair("label10", 0, 3, pixels3, (const unsigned char[]){9, 10, 0});
  load_fails(&m, &d,
             msg("cannot load '%s': record 2: label 10 is out of range for 10 classes",
                 d.labels_path));
}

/* A header may claim anything; memory must follow the bytes that are really there. */
static void idx_huge_claims_fail_fast(void **state) {
  (void)state;
  unsigned char buf[64];
  NnrtModel m = model(784, 10, 10);
  NnrtData d = idx_pair("huge", 0, 3, pixels3, labels3);
  size_t n = idx_image(buf, 0x08, 3, (const uint32_t[]){1u << 30, 28, 28}, pixels3, 12);
  d.path = write_bytes("huge.idx", buf, n);
  load_fails(&m, &d,
             msg("cannot load '%s': the header claims more than 2147483648 bytes of data, the "
                 "loader's limit", d.path));
  n = idx_image(buf, 0x08, 3, (const uint32_t[]){0xffffffffu, 0xffffffffu, 0xffffffffu},
                pixels3, 12);
  d.path = write_bytes("overflow.idx", buf, n);
  load_fails(&m, &d,
             msg("cannot load '%s': the header claims more than 2147483648 bytes of data, the "
                 "loader's limit", d.path));
  /* 1.57 GB claimed, 12 bytes there. Under a 256 MiB address-space limit (not with ASan, which
   * reserves far more address space of its own) trusting the header could not even start. */
  n = idx_image(buf, 0x08, 3, (const uint32_t[]){2000000, 28, 28}, pixels3, 12);
  d.path = write_bytes("liar.idx", buf, n);
  n = idx_image(buf, 0x08, 1, (const uint32_t[]){2000000}, labels3, 3);
  d.labels_path = write_bytes("liar-labels.idx", buf, n);
  const char *want = msg("cannot load '%s': truncated: expected 1568000000 bytes of data, file "
                         "ends after 12", d.path);
#ifndef __SANITIZE_ADDRESS__
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    struct rlimit lim = {256u << 20, 256u << 20};
    NnrtDataset ds;
    char err[1024];
    int ok = setrlimit(RLIMIT_AS, &lim) == 0 && nnrt_data_load(&m, &d, &ds, err, sizeof err) &&
             strcmp(err, want) == 0;
    _exit(ok ? 0 : 1);
  }
  int status;
  assert_int_equal(waitpid(pid, &status, 0), pid);
  assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
#endif
  load_fails(&m, &d, want);
}

static void idx_fashion_mnist_t10k(void **state) {
  (void)state;
  const char *images = FASHION_DIR "/t10k-images-idx3-ubyte.gz";
  const char *labels = FASHION_DIR "/t10k-labels-idx1-ubyte.gz";
  if (access(images, R_OK) != 0 || access(labels, R_OK) != 0) {
    print_message("skipped: Fashion-MNIST is not installed in " FASHION_DIR "\n");
    skip();
  }
  NnrtModel m = model(784, 10, 10);
  NnrtData d = {.kind = NNRT_DATA_IDX, .path = images, .labels_path = labels,
                .scaling = NNRT_SCALE_FACTOR, .scale = 1.0 / 255};
  NnrtDataset ds;
  load_ok(&m, &d, &ds);
  assert_int_equal(ds.rows, 10000);
  int per_class[10] = {0};
  for (int64_t i = 0; i < ds.rows; i++) {
    float sum = 0;
    for (int c = 0; c < 10; c++) {
      sum += ds.y[i * 10 + c];
      per_class[c] += ds.y[i * 10 + c] == 1.0f;
    }
    assert_true(sum == 1.0f);
  }
  for (int c = 0; c < 10; c++)
    assert_int_equal(per_class[c], 1000); /* the test set is balanced */
  float lo = 1, hi = 0;
  for (int64_t i = 0; i < ds.rows * 784; i++) {
    lo = fminf(lo, ds.x[i]);
    hi = fmaxf(hi, ds.x[i]);
  }
  assert_true(lo == 0.0f && hi == 1.0f);
  nnrt_dataset_free(&ds);
}

/* ---- Preprocessing ---- */

static NnrtDataset small_set(int64_t rows) {
  NnrtDataset ds = {.rows = rows, .in_width = 2, .target_width = 1,
                    .x = malloc((size_t)rows * 2 * sizeof(float)),
                    .y = malloc((size_t)rows * sizeof(float))};
  for (int64_t i = 0; i < rows; i++) {
    ds.x[2 * i] = (float)(2 * i + 1); /* 1, 3, 5, ... */
    ds.x[2 * i + 1] = 0.1f;           /* constant: std 1, not rounding noise */
    ds.y[i] = (float)i;
  }
  return ds;
}

static void stats_and_standardize(void **state) {
  (void)state;
  NnrtDataset ds = small_set(3);
  float mean[2], std[2];
  nnrt_data_stats(&ds, mean, std);
  assert_floats(mean, (const float[]){3, 0.1f}, 2);
  assert_floats(std, (const float[]){sqrtf(8.0f / 3), 1}, 2);
  nnrt_data_standardize(&ds, mean, std);
  float s = sqrtf(8.0f / 3);
  assert_floats(ds.x, (const float[]){-2 / s, 0, 0, 0, 2 / s, 0}, 6);
  nnrt_dataset_free(&ds);
  NnrtDataset empty = {.in_width = 2, .target_width = 1};
  nnrt_data_stats(&empty, mean, std);
  assert_floats(mean, (const float[]){0, 0}, 2);
  assert_floats(std, (const float[]){1, 1}, 2);
}

/* More features than nnrt_data_stats sums at once. */
static void stats_wide(void **state) {
  (void)state;
  enum { W = 150 };
  NnrtDataset ds = {.rows = 2, .in_width = W, .target_width = 1,
                    .x = malloc(2 * W * sizeof(float)), .y = calloc(2, sizeof(float))};
  for (int j = 0; j < W; j++) {
    ds.x[j] = (float)j;
    ds.x[W + j] = (float)(j + 2 * j);
  }
  float mean[W], std[W];
  nnrt_data_stats(&ds, mean, std);
  for (int j = 1; j < W; j++) {
    assert_float_equal(mean[j], 2.0f * j, 1e-4);
    assert_float_equal(std[j], (float)j, 1e-4);
  }
  assert_float_equal(std[0], 1.0f, 0);
  nnrt_dataset_free(&ds);
}

static void split_moves_the_last_rows(void **state) {
  (void)state;
  char err[256];
  NnrtDataset ds = small_set(10), val;
  assert_int_equal(nnrt_data_split(&ds, 0.25, &val, err, sizeof err), 0);
  assert_int_equal(ds.rows, 8);
  assert_int_equal(val.rows, 2);
  assert_int_equal(val.in_width, 2);
  assert_floats(val.x, (const float[]){17, 0.1f, 19, 0.1f}, 4);
  assert_floats(val.y, (const float[]){8, 9}, 2);
  assert_floats(ds.y, (const float[]){0, 1, 2, 3, 4, 5, 6, 7}, 8);
  nnrt_dataset_free(&val);
  assert_int_equal(nnrt_data_split(&ds, 0.01, &val, err, sizeof err), 0);
  assert_int_equal(ds.rows, 7);
  assert_int_equal(val.rows, 1);
  assert_floats(val.y, (const float[]){7}, 1);
  nnrt_dataset_free(&val);
  assert_int_equal(nnrt_data_split(&ds, 0, &val, err, sizeof err), 0);
  assert_int_equal(ds.rows, 7);
  assert_int_equal(val.rows, 0);
  assert_null(val.x);
  nnrt_dataset_free(&ds);
  NnrtDataset one = small_set(1);
  assert_int_equal(nnrt_data_split(&one, 0.5, &val, err, sizeof err), 0);
  assert_int_equal(one.rows, 1);
  assert_int_equal(val.rows, 0);
  nnrt_dataset_free(&one);
}

static void split_rejects_bad_fractions(void **state) {
  (void)state;
  char err[256];
  NnrtDataset ds = small_set(4), val;
  assert_int_equal(nnrt_data_split(&ds, 1, &val, err, sizeof err), -1);
  assert_string_equal(err, "validation split 1 is not in [0, 1)");
  assert_int_equal(nnrt_data_split(&ds, -0.5, &val, err, sizeof err), -1);
  assert_string_equal(err, "validation split -0.5 is not in [0, 1)");
  assert_int_equal(nnrt_data_split(&ds, NAN, &val, err, sizeof err), -1);
  assert_int_equal(ds.rows, 4);
  nnrt_dataset_free(&ds);
}

/* Blocks of 4 MiB and more start on a 2 MiB boundary (where huge pages can back them), smaller
 * ones on 64 bytes (a cache line, the alignment the kernels' vectors assume); every size,
 * including 0, gives memory free() takes, and the whole block can be written. */
static void large_blocks_start_on_huge_page_boundaries(void **state) {
  (void)state;
  static const size_t sizes[] = {0, 1, 4096, (4u << 20) - 4, 4u << 20, (9u << 20) + 12};
  for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
    char *p = nnrt_alloc_large(sizes[i]);
    assert_non_null(p);
    size_t align = sizes[i] >= (4u << 20) ? 2u << 20 : 64;
    assert_int_equal((uintptr_t)p % align, 0);
    memset(p, 0x5a, sizes[i]);
    free(p);
  }
  assert_null(nnrt_alloc_large(SIZE_MAX - 16));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(large_blocks_start_on_huge_page_boundaries),
      cmocka_unit_test(table_labels_become_one_hot),
      cmocka_unit_test(table_regression_targets_are_copied),
      cmocka_unit_test(table_bad_label),
      cmocka_unit_test(csv_header_and_integer_labels),
      cmocka_unit_test(csv_without_header_regression),
      cmocka_unit_test(csv_delimiter_and_chosen_columns),
      cmocka_unit_test(csv_class_names_quotes_crlf_blank_lines),
      cmocka_unit_test(csv_tab_delimiter_and_gzip),
      cmocka_unit_test(csv_many_rows),
      cmocka_unit_test(csv_ragged_row),
      cmocka_unit_test(csv_cell_not_a_number),
      cmocka_unit_test(csv_label_out_of_range),
      cmocka_unit_test(csv_unknown_class_name),
      cmocka_unit_test(csv_empty_and_header_only),
      cmocka_unit_test(csv_column_errors),
      cmocka_unit_test(csv_quote_and_byte_errors),
      cmocka_unit_test(csv_limits),
      cmocka_unit_test(idx_raw_and_gzipped),
      cmocka_unit_test(idx_labels_as_regression_targets),
      cmocka_unit_test(one_class_against_the_rest),
      cmocka_unit_test(idx_bad_header),
      cmocka_unit_test(idx_truncated),
      cmocka_unit_test(idx_truncated_gzip_stream),
      cmocka_unit_test(idx_corrupt_gzip),
      cmocka_unit_test(idx_shape_mismatches),
      cmocka_unit_test(idx_label_out_of_range),
      cmocka_unit_test(idx_huge_claims_fail_fast),
      cmocka_unit_test(idx_fashion_mnist_t10k),
      cmocka_unit_test(stats_and_standardize),
      cmocka_unit_test(stats_wide),
      cmocka_unit_test(split_moves_the_last_rows),
      cmocka_unit_test(split_rejects_bad_fractions),
  };
  return cmocka_run_group_tests(tests, setup_dir, teardown_dir);
}

/* fuzz_csv: the runtime's CSV loader (runtime/csv.c through nnrt_data_load) on arbitrary files,
 * then the preprocessing a successful load feeds (statistics, standardisation, split).
 *
 * Input layout: byte 0 and byte 1 choose the settings, the rest is the file.
 *   byte 0: bit 0 header line; bits 1-2 delimiter (',' ';' TAB ' '); bit 3 classes (3 classes,
 *           one label column); bit 4 labels written as class names; bit 5 explicit feature
 *           columns (reversed order); bit 6 scale inputs by 1e30 (overflow check); bit 7 gzip
 *   byte 1: bits 0-1 input width - 1; bit 2 two targets (without classes); bits 3-4 how much of
 *           the gzip stream is cut off (none, 1 byte, the trailer and 1 byte, half) */
#include "data.h"
#include "fuzz_common.h"
#include "model_fixture.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 2)
    return 0;
  uint8_t f0 = data[0], f1 = data[1];
  const uint8_t *body = data + 2;
  size_t n = size - 2;
  static const char delims[] = {',', ';', '\t', ' '};
  static const char *const names[] = {"setosa", "versicolor", "virginica"};
  int in_width = 1 + (f1 & 3), classes = (f0 >> 3) & 1;
  int target_width = classes ? 3 : 1 + ((f1 >> 2) & 1);
  int32_t x_cols[4], y_cols[2];
  for (int i = 0; i < in_width; i++)
    x_cols[i] = in_width - 1 - i;
  y_cols[0] = in_width;
  y_cols[1] = in_width + 1;

  const char *path;
  if (f0 & 0x80) {
    path = fuzz_write_gz(0, body, n, (f1 >> 3) & 3);
  } else {
    path = fuzz_write_file(0, body, n);
  }
  NnrtModel m = FIXTURE_MODEL("fuzz", NULL, 0, 0, FIXTURE_SLOT("x", 0, in_width), FIXTURE_NO_SLOT,
                              .target = FIXTURE_SLOT("y", 0, target_width),
                              .n_classes = classes ? 3 : 0);
  NnrtData d = {.kind = NNRT_DATA_CSV, .path = path, .header = f0 & 1,
                .delimiter = delims[(f0 >> 1) & 3],
                .n_x_cols = (f0 & 0x20) ? in_width : 0, .x_cols = x_cols,
                .n_y_cols = classes ? 1 : target_width, .y_cols = y_cols,
                .n_class_names = (classes && (f0 & 0x10)) ? 3 : 0, .class_names = names,
                .scaling = (f0 & 0x40) ? NNRT_SCALE_FACTOR : NNRT_SCALE_NONE, .scale = 1e30};
  NnrtDataset ds, val;
  char err[512] = "";
  int rc = nnrt_data_load(&m, &d, &ds, err, sizeof err);
  fuzz_report("fuzz_csv", rc, err);
  if (rc == 0) {
    float mean[4], std[4];
    nnrt_data_stats(&ds, mean, std);
    nnrt_data_standardize(&ds, mean, std);
    if (nnrt_data_split(&ds, 0.25, &val, err, sizeof err) == 0)
      nnrt_dataset_free(&val);
  } else if (!err[0] || ds.rows != 0 || ds.x || ds.y) {
    fputs("fuzz_csv: a failed load left no message or a non-empty data set\n", stderr);
    abort();
  }
  nnrt_dataset_free(&ds);
  return 0;
}

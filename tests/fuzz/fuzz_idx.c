/* fuzz_idx: the runtime's IDX loader (runtime/idx.c through nnrt_data_load) on arbitrary pairs
 * of files, raw or gzipped, whole or cut short.
 *
 * Input layout: byte 0 settings, bytes 1-2 the length L of the inputs file (little-endian, at
 * most what is left), then L bytes of inputs file, then the labels file.
 *   byte 0: bit 0 gzip the inputs; bit 1 gzip the labels; bit 2 cut the gzip streams short (by
 *           half); bit 3 classes (10) else one target; bits 4-5 input width (1, 4, 6, 784);
 *           bit 6 scale inputs by 1/255; bit 7 one-vs-rest targets (positive = 3) */
#include "data.h"
#include "fuzz_common.h"
#include "model_fixture.h"

static const char *put(int slot, const uint8_t *p, size_t n, int gz, int cut) {
  return gz ? fuzz_write_gz(slot, p, n, cut ? 3 : 0) : fuzz_write_file(slot, p, n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 3)
    return 0;
  uint8_t f = data[0];
  size_t len = (size_t)data[1] | (size_t)data[2] << 8, rest = size - 3;
  if (len > rest)
    len = rest;
  const uint8_t *images = data + 3, *labels = images + len;
  static const int64_t widths[] = {1, 4, 6, 784};
  int classes = (f >> 3) & 1;
  NnrtModel m = FIXTURE_MODEL("fuzz", NULL, 0, 0, FIXTURE_SLOT("x", 0, widths[(f >> 4) & 3]),
                              FIXTURE_NO_SLOT, .target = FIXTURE_SLOT("y", 0, classes ? 10 : 1),
                              .n_classes = classes ? 10 : 0);
  NnrtData d = {.kind = NNRT_DATA_IDX,
                .path = put(0, images, len, f & 1, f & 4),
                .labels_path = put(1, labels, rest - len, f & 2, f & 4),
                .scaling = (f & 0x40) ? NNRT_SCALE_FACTOR : NNRT_SCALE_NONE, .scale = 1.0 / 255,
                .one_vs_rest = !classes && (f & 0x80), .positive = 3};
  NnrtDataset ds;
  char err[512] = "";
  int rc = nnrt_data_load(&m, &d, &ds, err, sizeof err);
  fuzz_report("fuzz_idx", rc, err);
  if (rc != 0 && (!err[0] || ds.rows || ds.x || ds.y)) {
    fputs("fuzz_idx: a failed load left no message or a non-empty data set\n", stderr);
    abort();
  }
  nnrt_dataset_free(&ds);
  return 0;
}

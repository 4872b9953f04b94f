/* fuzz_safetensors: the checkpoint reader (runtime/checkpoint.c, runtime/json.c through
 * nnrt_load_stats) on arbitrary files, against a fixture model: W[3,2] and b[2] are parameters,
 * W.m is optimizer state (never in a checkpoint), and with byte 0's bit 0 set the model also
 * standardises 3 inputs, so "__standardize.mean" and "__standardize.std" are expected too.
 *
 * Input layout: byte 0 settings, the rest is the file. A failed load must leave the workspace
 * as it was (the contract of nnrt_load); that is checked here. */
#include "fuzz_common.h"
#include "model_fixture.h"
#include "nnrt_host.h"

enum { WS = 16, MARK = 7 };

static const NnrtParam params[] = {
  {.name = "W", .offset = 0, .size = 6, .rank = 2, .dim = {3, 2}, .role = NNRT_ROLE_PARAM},
  {.name = "b", .offset = 6, .size = 2, .rank = 1, .dim = {2}, .role = NNRT_ROLE_PARAM},
  {.name = "W.m", .offset = 8, .size = 6, .rank = 2, .dim = {3, 2}, .role = NNRT_ROLE_STATE},
};

static const NnrtModel model = FIXTURE_MODEL(
  "fuzz", "fuzz.nn", WS, 1, FIXTURE_SLOT("x", 14, 3), FIXTURE_SLOT("y", 14, 2),
  FIXTURE_PREDICT_ONLY, .n_params = 3, .params = params);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1)
    return 0;
  int stats = data[0] & 1;
  const char *path = fuzz_write_file(0, data + 1, size - 1);
  float ws[WS], mean[3], std[3];
  for (int i = 0; i < WS; i++)
    ws[i] = MARK;
  for (int i = 0; i < 3; i++)
    mean[i] = std[i] = MARK;
  NnrtInputStats st = {.width = 3, .mean = mean, .std = std};
  char err[512] = "";
  int rc = nnrt_load_stats(&model, ws, stats ? &st : NULL, path, err, sizeof err);
  fuzz_report("fuzz_safetensors", rc, err);
  if (rc != 0) {
    int touched = !err[0];
    for (int i = 0; i < WS; i++)
      touched |= ws[i] != MARK;
    for (int i = 0; i < 3; i++)
      touched |= mean[i] != MARK || std[i] != MARK;
    if (touched) {
      fprintf(stderr, "fuzz_safetensors: a failed load changed the workspace or left no message "
              "(%s)\n", err);
      abort();
    }
  }
  return 0;
}

/* bench/infer.c: inference throughput of a model nnc compiled as a library object.
 *
 *   nnc bench/models/fm_sgd_b256.nn -c -o fashion.o --header fashion.h
 *   cc -O2 -I. bench/infer.c fashion.o build/libnnrt.a -lz -lm -pthread -o infer
 *   ./infer TEST_IMAGES.f32 ROWS REPS
 *
 * Reads ROWS rows of 784 float32 pixels (already scaled to [0, 1]; bench/peers/fmnist.py writes
 * them), runs fashion_predict over all of them once to warm up, then REPS times under
 * CLOCK_MONOTONIC, and prints one JSON object with the rows per second. fashion_predict takes the
 * rows in chunks of FASHION_MAX_BATCH (256 for fm_*_b256.nn), as the Python peers do. The weights
 * are the initial ones (seed 1): the arithmetic does not depend on their values. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "fashion.h"

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

int main(int argc, char **argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: %s IMAGES.f32 ROWS REPS\n", argv[0]);
    return 2;
  }
  long rows = atol(argv[2]), reps = atol(argv[3]);
  size_t nx = (size_t)rows * FASHION_INPUT_WIDTH;
  float *x = malloc(nx * sizeof *x);
  float *out = malloc((size_t)rows * FASHION_OUTPUT_WIDTH * sizeof *out);
  FILE *f = fopen(argv[1], "rb");
  if (!x || !out || !f || fread(x, sizeof *x, nx, f) != nx) {
    fprintf(stderr, "%s: cannot read %ld rows from %s\n", argv[0], rows, argv[1]);
    return 1;
  }
  fclose(f);
  fashion_ctx *ctx = fashion_create(1);
  if (!ctx)
    return 1;
  fashion_predict(ctx, x, rows, out);
  double t0 = now();
  for (long r = 0; r < reps; r++)
    fashion_predict(ctx, x, rows, out);
  double sec = now() - t0;
  double check = 0;
  for (long i = 0; i < rows * FASHION_OUTPUT_WIDTH; i++)
    check += out[i];
  printf("{\"system\": \"nnc\", \"mode\": \"infer\", \"batch\": %d, \"threads\": 1, "
         "\"seconds\": %.6f, \"rows_per_s\": %.1f, \"sum_of_outputs\": %.3f}\n",
         FASHION_MAX_BATCH, sec, (double)rows * (double)reps / sec, check);
  fashion_free(ctx);
  free(x);
  free(out);
  return 0;
}

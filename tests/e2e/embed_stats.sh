#!/bin/sh
# embed_stats.sh NNC SOURCE_DIR LIBNNRT: the library object of a model with standardize = true
# (examples/flats.nn) loads the files the compiled program writes (the training checkpoint with
# its optimizer state and input statistics) and applies the same input scaling in predict, so
# a C program prints the bytes `./flats predict --data` prints; flats_fit_inputs gives the
# statistics to a context trained from C, and without them it neither trains nor predicts.
NNC=$1
SRC=$2
RT=$3
. "$(dirname "$0")/lib.sh"
CC=${CC:-cc}
LIBS="-lz -lm -pthread"
sanitized && LIBS="$LIBS -fsanitize=address,undefined"
[ -f "$RT" ] || { fail "no runtime library '$RT'"; finish; }

mkdir data && cp "$SRC/examples/data/flats.csv" data/ && cp "$SRC/examples/flats.nn" .
run compile "$NNC" flats.nn -o flats
expect_rc compile 0 "nnc flats.nn -o flats"
run train ./flats train --epochs 20 --save run.safetensors
expect_rc train 0 "./flats train --epochs 20"
run predict ./flats predict --weights run.safetensors --data data/flats.csv
expect_rc predict 0 "./flats predict --data data/flats.csv"

run lib "$NNC" flats.nn -c -o flats.o --header flats.h
expect_rc lib 0 "nnc flats.nn -c -o flats.o --header flats.h"
contains flats.h "int flats_fit_inputs(flats_ctx *ctx, const float *x, int64_t n);" \
  "flats.h declares flats_fit_inputs"
contains flats.h "standardize = true" "flats.h documents the standardised inputs"

cat >main.c <<'C'
/* ./main WEIGHTS: the rows of data/flats.csv (raw, as the file holds them) predicted with the
 * weights file, one %.6g a line as ./flats predict prints them; then to stderr: whether a fresh
 * context refuses to train and predict without statistics, and trains after fit_inputs. */
#include <math.h>
#include <stdio.h>
#include "flats.h"

enum { ROWS = 400, W = FLATS_INPUT_WIDTH };
static float x[ROWS * W], y[ROWS], out[ROWS];

int main(int argc, char **argv) {
  char err[256], line[256];
  FILE *f = fopen("data/flats.csv", "r");
  if (argc < 2 || !f || !fgets(line, sizeof line, f)) return 2;
  for (int r = 0; r < ROWS; r++)
    if (fscanf(f, "%f,%f,%f,%f,%f", &x[r * W], &x[r * W + 1], &x[r * W + 2], &x[r * W + 3],
               &y[r]) != 5) return 2;
  fclose(f);
  flats_ctx *c = flats_create(1), *fresh = flats_create(1);
  if (!c || !fresh) return 1;
  if (flats_load(c, argv[1], err, sizeof err)) {
    fprintf(stderr, "load: %s\n", err);
    return 1;
  }
  flats_predict(c, x, ROWS, out);
  for (int r = 0; r < ROWS; r++) printf("%.6g\n", out[r]);
  for (int r = 0; r < ROWS; r++) y[r] /= 100;
  flats_predict(fresh, x, 1, out);
  fprintf(stderr, "unfitted predict %s\n", isnan(out[0]) ? "nan" : "number");
  fprintf(stderr, "unfitted train %s\n", isnan(flats_train_batch(fresh, x, y, 32, 0.01f)) ? "nan" : "number");
  fprintf(stderr, "unfitted save %s\n", flats_save(fresh, "fresh.safetensors", err, sizeof err) ? err : "saved");
  if (flats_fit_inputs(fresh, x, ROWS)) return 1;
  float loss = 0;
  for (int e = 0; e < 50; e++)
    for (int r = 0; r + 32 <= ROWS; r += 32) loss = flats_train_batch(fresh, x + r * W, y + r, 32, 0.01f);
  fprintf(stderr, "fitted loss %f\n", loss);
  if (flats_save(fresh, "fresh.safetensors", err, sizeof err)) {
    fprintf(stderr, "save: %s\n", err);
    return 1;
  }
  flats_free(c);
  flats_free(fresh);
  return 0;
}
C
run build "$CC" -std=c99 -Wall -Wextra -pedantic -Werror -I. main.c flats.o "$RT" $LIBS -o main
expect_rc build 0 "cc main.c flats.o libnnrt.a"
[ -x main ] || { fail "no ./main"; finish; }
run main ./main run.safetensors
expect_rc main 0 "./main run.safetensors (a training checkpoint: optimizer state, statistics)"
if cmp -s main.out predict.out && [ -s main.out ]; then
  pass "flats_predict gives ./flats predict's 400 answers, byte for byte"
else fail "flats_predict differs from ./flats predict"; diff main.out predict.out | head -10; fi
contains main.err "unfitted predict nan" "predict without statistics writes NAN"
contains main.err "unfitted train nan" "train_batch without statistics returns NAN"
contains main.err "unfitted save no input statistics" "save without statistics fails with a reason"
check_number main "fitted loss" "$(last_value main.err 'fitted loss ')" 'v + 0 < 0.1' "< 0.1"
# The C program's file holds the statistics: the compiled program predicts with it.
run reload ./flats predict --weights fresh.safetensors 68.7 3 6 13.63
expect_rc reload 0 "./flats predict with the weights flats_save wrote"
finish

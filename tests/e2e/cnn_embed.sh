#!/bin/sh
# cnn_embed.sh NNC SOURCE_DIR LIBNNRT: nnc -c --header for a CNN with batch norm and dropout
# (cnn_lib.sh's bars model): a C program trains it batch by batch through bars_train_batch (the
# training flag and the dropout masks on), predicts the validation images (the running
# statistics: a row alone gives the same bytes as in a batch of 60), saves and reloads the
# weights with the running statistics, and reads the compiled program's weights file.
NNC=$1
# shellcheck disable=SC2034  # the model is written here, not taken from SOURCE_DIR
SRC=$2
RT=$3
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/cnn_lib.sh"
CC=${CC:-cc}
LIBS="-lz -lm -pthread"
sanitized && LIBS="$LIBS -fsanitize=address,undefined"
[ -f "$RT" ] || { fail "no runtime library '$RT'"; finish; }

bars_files 8
run compile "$NNC" bars.nn -c -o bars.o --header bars.h
expect_rc compile 0 "nnc bars.nn -c -o bars.o --header bars.h"
[ -f bars.o ] && [ -f bars.h ] || { fail "no bars.o or bars.h"; finish; }
contains bars.h "BARS_INPUT_WIDTH = 36" "bars.h: 36 input floats per row (1 × 6 × 6)"

cat >main.c <<'C'
/* Trains the bars CNN on bars.csv (8 epochs of batches of 16, in file order), then prints
 * the validation accuracy, whether each image alone predicts the bytes it predicts in the
 * batch of all 60, whether reloaded weights predict the same, and the classes the weights
 * file argv[1] predicts. */
#include <stdio.h>
#include <string.h>
#include "bars.h"

enum { TRAIN = 150, VAL = 60, W = BARS_INPUT_WIDTH, K = BARS_CLASSES };

/* rows of 36 raw pixels (the library scales them by 1/9, as the train block says) and a
 * label, one-hot in y */
static int read_csv(const char *path, int rows, float *x, float *y, int *label) {
  FILE *f = fopen(path, "r");
  if (!f) return -1;
  for (int r = 0; r < rows; r++) {
    for (int k = 0; k < W; k++) {
      int v;
      if (fscanf(f, "%d,", &v) != 1) { fclose(f); return -1; }
      x[r * W + k] = (float)v;
    }
    if (fscanf(f, "%d", &label[r]) != 1) { fclose(f); return -1; }
    for (int c = 0; c < K; c++) y[r * K + c] = c == label[r] ? 1.0f : 0.0f;
  }
  fclose(f);
  return 0;
}

static int argmax(const float *p) {
  int best = 0;
  for (int c = 1; c < K; c++) if (p[c] > p[best]) best = c;
  return best;
}

static float x[TRAIN * W], y[TRAIN * K], vx[VAL * W], vy[VAL * K];
static float out[VAL * K], one[K], again[VAL * K];
static int label[TRAIN], vlabel[VAL];

int main(int argc, char **argv) {
  char err[256];
  if (argc < 2 || read_csv("bars.csv", TRAIN, x, y, label) || read_csv("bars_val.csv", VAL, vx, vy, vlabel))
    return 2;
  bars_ctx *net = bars_create(4), *copy = bars_create(9), *prog = bars_create(1);
  if (!net || !copy || !prog) return 1;
  float loss = 0;
  for (int epoch = 0; epoch < 8; epoch++)
    for (int at = 0; at < TRAIN; at += BARS_MAX_BATCH) {
      int n = TRAIN - at < BARS_MAX_BATCH ? TRAIN - at : BARS_MAX_BATCH;
      loss = bars_train_batch(net, x + at * W, y + at * K, n, 0.01f);
    }
  printf("last loss %f\n", loss);
  bars_predict(net, vx, VAL, out);
  int right = 0, alone = 1;
  for (int r = 0; r < VAL; r++) {
    right += argmax(out + r * K) == vlabel[r];
    bars_predict(net, vx + r * W, 1, one);
    alone &= memcmp(one, out + r * K, sizeof one) == 0;
  }
  printf("val accuracy %.4f\n", right / (double)VAL);
  printf("alone %s\n", alone ? "same" : "DIFFERENT");
  if (bars_save(net, "embed.safetensors", err, sizeof err) || bars_load(copy, "embed.safetensors", err, sizeof err)) {
    fprintf(stderr, "%s\n", err);
    return 1;
  }
  bars_predict(copy, vx, VAL, again);
  printf("reloaded %s\n", memcmp(out, again, sizeof out) == 0 ? "same" : "DIFFERENT");
  if (bars_load(prog, argv[1], err, sizeof err)) {
    fprintf(stderr, "%s\n", err);
    return 1;
  }
  bars_predict(prog, vx, VAL, out);
  for (int r = 0; r < VAL; r++) printf("%d%s", argmax(out + r * K), r + 1 < VAL ? " " : "\n");
  bars_free(net);
  bars_free(copy);
  bars_free(prog);
  return 0;
}
C
run build "$CC" -std=c99 -Wall -Wextra -pedantic -Werror -I. main.c bars.o "$RT" $LIBS -o main
expect_rc build 0 "cc main.c bars.o libnnrt.a"
[ -x main ] || { fail "no ./main"; finish; }

run compile_prog "$NNC" bars.nn -o bars
expect_rc compile_prog 0 "nnc bars.nn -o bars"
run prog ./bars train --save prog.safetensors
expect_rc prog 0 "./bars train"
run prog_predict ./bars predict --weights prog.safetensors --data bars_val.csv
expect_rc prog_predict 0 "./bars predict --data bars_val.csv"

run main ./main prog.safetensors
expect_rc main 0 "./main"
check_number main "last loss" "$(last_value main.out 'last loss ')" 'v + 0 < 0.3' "< 0.3"
check_number main "val accuracy" "$(last_value main.out 'val accuracy ')" 'v + 0 >= 0.95' ">= 0.95"
contains main.out "alone same" "an image alone predicts the bytes it predicts in a batch of 60"
contains main.out "reloaded same" "saved and reloaded weights (running statistics included) predict the same"
want=$(sed 's/.*  class //' prog_predict.out | tr '\n' ' ' | sed 's/ $//')
if [ "$(tail -n 1 main.out)" = "$want" ] && [ -n "$want" ]; then
  pass "bars_load of the program's weights predicts the program's 60 classes"
else fail "classes from the program's weights: '$(tail -n 1 main.out)', the program: '$want'"; fi
finish

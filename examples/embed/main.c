/* examples/embed/main.c: the XOR network of examples/xor.nn, trained and queried from C
 * through the library object and header that `nnc xor.nn -c -o xor.o --header xor.h` writes.
 * See README.md in this directory for the build. Usage: ./embed [WEIGHTS] (default
 * xor-embed.safetensors): trains, prints the loss every 1000 steps and the truth table, saves
 * the weights to WEIGHTS, loads them into a second context and prints the table again. */
#include <stdio.h>
#include <stdlib.h>

#include "xor.h"

enum { ROWS = 4, STEPS = 5000 };

static const float x[ROWS * XOR_INPUT_WIDTH] = {0, 0, 0, 1, 1, 0, 1, 1};
static const float y[ROWS * XOR_TARGET_WIDTH] = {0, 1, 1, 0};

/* Prints "a b -> y" for the four rows, as the program nnc compiles does. */
static void print_table(const char *title, const float *out) {
  printf("%s\n", title);
  for (int r = 0; r < ROWS; r++)
    printf("%g %g -> %.6f\n", x[2 * r], x[2 * r + 1], out[r]);
}

int main(int argc, char **argv) {
  const char *weights = argc > 1 ? argv[1] : "xor-embed.safetensors";
  char err[256];
  xor_ctx *net = xor_create(1); /* the seed of the train block in xor.nn */
  if (!net) {
    fprintf(stderr, "embed: out of memory\n");
    return 1;
  }
  float loss = 0;
  for (int step = 1; step <= STEPS; step++) {
    loss = xor_train_batch(net, x, y, ROWS, 2.0f); /* all four rows, lr 2 */
    if (step == 1 || step % 1000 == 0)
      printf("step %4d  loss %.6f\n", step, loss);
  }
  printf("final loss %.6f\n", loss);

  float out[ROWS * XOR_OUTPUT_WIDTH], again[ROWS * XOR_OUTPUT_WIDTH];
  xor_predict(net, x, ROWS, out);
  print_table("trained:", out);

  if (xor_save(net, weights, err, sizeof err) != 0) {
    fprintf(stderr, "embed: %s\n", err);
    xor_free(net);
    return 1;
  }
  xor_ctx *copy = xor_create(42); /* other initial weights, replaced by the loaded ones */
  if (!copy || xor_load(copy, weights, err, sizeof err) != 0) {
    fprintf(stderr, "embed: %s\n", copy ? err : "out of memory");
    xor_free(copy);
    xor_free(net);
    return 1;
  }
  xor_predict(copy, x, ROWS, again);
  print_table("reloaded:", again);
  int same = 1;
  for (int r = 0; r < ROWS; r++)
    same &= out[r] == again[r];
  printf("reloaded predictions %s\n", same ? "identical" : "DIFFER");
  xor_free(copy);
  xor_free(net);
  return same ? 0 : 1;
}

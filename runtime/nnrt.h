/* nnrt.h: THE ABI between the code nnc generates and the runtime library.
 *
 * A generated object defines one `const NnrtModel nn_model`; the runtime's main() (cli.c) hands
 * it to nnrt_main. The same descriptor is what the JIT host gets from LLJIT, so this struct is
 * the only thing the two sides agree on. All buffers live in one float workspace that the
 * runtime allocates once (workspace_floats floats, 64-byte aligned, zeroed); every offset below
 * is in floats from its start. Rows are contiguous: row r of a batch slot starts at
 * offset + r * width. The generated functions never allocate and never touch anything else. */
#ifndef NNRT_H
#define NNRT_H
#include <stdint.h>

#define NNRT_ABI_VERSION 1

typedef enum {
  NNRT_INIT_ZEROS,   /* all 0 */
  NNRT_INIT_ONES,    /* all 1 */
  NNRT_INIT_CONST,   /* all a */
  NNRT_INIT_NORMAL,  /* N(a, b^2): mean a, standard deviation b */
  NNRT_INIT_UNIFORM, /* U[a, b) */
  NNRT_INIT_VALUES,  /* copy `values` (size floats) */
} NnrtInitKind;

typedef struct {
  const char *name;     /* as in the source: "W1", or "h1.W" for layer parameters */
  int64_t offset, size; /* floats */
  int32_t rank;
  int64_t dim[4];
  int32_t init; /* NnrtInitKind */
  double a, b;
  const float *values; /* NNRT_INIT_VALUES only, else NULL */
} NnrtParam;

/* A batch buffer: max_batch rows of `width` floats each (width = product of non-batch dims). */
typedef struct {
  const char *name;
  int64_t offset, width;
} NnrtSlot;

typedef struct {
  int32_t abi_version; /* NNRT_ABI_VERSION */
  const char *name;    /* model name */
  const char *source;  /* the .nn file it came from, for messages */
  int64_t workspace_floats;
  int64_t max_batch; /* step and predict accept 1 <= n <= max_batch rows */
  NnrtSlot input, target, output; /* target.width == 0 when the model cannot train */
  int64_t loss_offset;            /* scalar written by step; -1 when the model cannot train */
  int64_t lr_offset;              /* scalar read by step: the learning rate; -1 likewise */
  int32_t n_params;
  const NnrtParam *params;

  /* Settings of the train block; has_train == 0 for a predict-only model. */
  int32_t has_train;
  int64_t epochs, batch, log_every;
  uint64_t seed;
  int32_t shuffle;
  double lr;

  /* Training data from an inline table: data_rows rows; row r of inputs is
   * data_x[r * input.width ...], its target data_y[r * target.width ...]. */
  int64_t data_rows;
  const float *data_x, *data_y;

  /* Forward, backward and optimizer update on the first n rows of input/target;
   * writes the mean loss of those rows at loss_offset. */
  void (*step)(float *ws, int64_t n);
  /* Forward only: fills the first n rows of output from the first n rows of input. */
  void (*predict)(float *ws, int64_t n);
} NnrtModel;

/* Exit codes of generated programs (documented in --help and the README). */
enum {
  NNRT_EXIT_OK = 0,
  NNRT_EXIT_DATA = 1,  /* bad input values or data */
  NNRT_EXIT_USAGE = 2, /* bad command line */
  NNRT_EXIT_IO = 3,    /* a file could not be read or written */
};

/* The whole command line of a generated program: train | predict | --help. */
int nnrt_main(const NnrtModel *m, int argc, char **argv);

/* ---- Runtime library API: what nnrt_main is built from, for the JIT host to reuse. ----
 * Functions that can fail return 0 / -1 (or NAN) and write a one-line message, without the
 * program name, into err[errlen]; they never exit and never print except to the FILE given. */
#include <stddef.h>
#include <stdio.h>

/* A training run's settings; nnrt_train_options fills them from the model's train block. */
typedef struct {
  int64_t epochs;    /* >= 1 */
  int64_t batch;     /* >= 1; clipped to max_batch */
  int64_t log_every; /* log every this many epochs; <= 0 logs only the first and last */
  uint64_t seed;     /* the data-shuffling stream is derived from it (see rng.h) */
  int32_t shuffle;   /* nonzero: a fresh Fisher-Yates order of the rows every epoch */
  double lr;
} NnrtTrainOptions;

/* 0 when m is usable (ABI version, offsets inside the workspace, train fields if has_train). */
int nnrt_check_model(const NnrtModel *m, char *err, size_t errlen);
/* The descriptor's train-block settings. */
NnrtTrainOptions nnrt_train_options(const NnrtModel *m);
/* m->workspace_floats zeroed floats, 64-byte aligned; NULL when out of memory. */
float *nnrt_workspace_new(const NnrtModel *m);
void nnrt_workspace_free(float *ws);
/* Writes every parameter's initialiser into ws, drawing from one stream seeded with seed. */
void nnrt_init_params(const NnrtModel *m, float *ws, uint64_t seed);
/* Trains on m's data table, logging to log (may be NULL); returns the last epoch's mean loss,
 * or NAN with err set (non-finite loss, naming the epoch; bad options; out of memory). */
double nnrt_train(const NnrtModel *m, float *ws, const NnrtTrainOptions *opt, FILE *log,
                  char *err, size_t errlen);
/* y[r * output.width ...] = the model's outputs for x[r * input.width ...], r < rows. */
void nnrt_predict_rows(const NnrtModel *m, float *ws, const float *x, int64_t rows, float *y);
/* Atomically replaces path with a safetensors file of m's parameters in ws. */
int nnrt_save(const NnrtModel *m, const float *ws, const char *path, char *err, size_t errlen);
/* Validates the safetensors file at path against m completely, then copies its parameters into
 * ws; on failure ws is untouched. */
int nnrt_load(const NnrtModel *m, float *ws, const char *path, char *err, size_t errlen);

#endif

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

#define NNRT_ABI_VERSION 2

typedef enum {
  NNRT_INIT_ZEROS,   /* all 0 */
  NNRT_INIT_ONES,    /* all 1 */
  NNRT_INIT_CONST,   /* all a */
  NNRT_INIT_NORMAL,  /* N(a, b^2): mean a, standard deviation b */
  NNRT_INIT_UNIFORM, /* U[a, b) */
  NNRT_INIT_VALUES,  /* copy `values` (size floats) */
} NnrtInitKind;

/* What a tensor that lives across steps is for. */
typedef enum {
  NNRT_ROLE_PARAM, /* trained; saved in checkpoints */
  NNRT_ROLE_STATE, /* optimizer state (momentum, Adam's moments): zero at start */
  NNRT_ROLE_CONST, /* a constant tensor of the model (an array literal in an expression) */
} NnrtRole;

typedef struct {
  const char *name;     /* as in the source: "W1", "h1.W" for layer parameters, "W1.m" for state */
  int64_t offset, size; /* floats */
  int32_t rank;
  int64_t dim[4];
  int32_t init; /* NnrtInitKind */
  double a, b;
  const float *values; /* NNRT_INIT_VALUES only, else NULL */
  int32_t role;        /* NnrtRole */
} NnrtParam;

/* A dropout mask: before each training step the runtime fills max_batch rows of `width` floats
 * with independent draws of Bernoulli(1 − p) / (1 − p); before predicting, with 1. */
typedef struct {
  int64_t offset, width;
  double p;
} NnrtNoise;

typedef enum { NNRT_DATA_NONE, NNRT_DATA_TABLE, NNRT_DATA_CSV, NNRT_DATA_IDX } NnrtDataKind;
typedef enum { NNRT_SCALE_NONE, NNRT_SCALE_FACTOR, NNRT_SCALE_STANDARDIZE } NnrtScaling;

/* A data source as the train block names it. Targets are real values (target.width per row),
 * or, when the model has classes, one integer label per row that the loader turns into a
 * one-hot row of n_classes floats. */
typedef struct {
  int32_t kind; /* NnrtDataKind */
  /* NNRT_DATA_TABLE: rows of input.width floats in x; targets in y (target.width floats per
   * row, or one label per row for classes). */
  int64_t rows;
  const float *x, *y;
  /* NNRT_DATA_CSV: path; NNRT_DATA_IDX: path holds the inputs, labels_path the labels. */
  const char *path, *labels_path;
  int32_t header;    /* CSV: the first line names the columns */
  int32_t delimiter; /* CSV: the separator character */
  int32_t n_x_cols;  /* CSV: feature columns, 0-based; 0 means every column not a target */
  const int32_t *x_cols;
  int32_t n_y_cols; /* CSV: target columns (one label column for classes) */
  const int32_t *y_cols;
  int32_t n_class_names; /* CSV with classes: labels written as these names, 0.. in order; */
  const char *const *class_names; /* 0 means labels are integers */
  int32_t scaling; /* NnrtScaling of the inputs */
  double scale;    /* NNRT_SCALE_FACTOR: inputs are multiplied by it (1/255 for pixels) */
} NnrtData;

typedef enum {
  NNRT_SCHED_CONSTANT,    /* η */
  NNRT_SCHED_STEP,        /* η · a^floor(epoch / b) */
  NNRT_SCHED_EXPONENTIAL, /* η · a^epoch, epoch counted fractionally step by step */
  NNRT_SCHED_COSINE,      /* η · (a + (1 − a)(1 + cos(π · step / total steps)) / 2) */
} NnrtSchedule;

typedef enum {
  NNRT_METRIC_NONE,   /* regression: loss only */
  NNRT_METRIC_ARGMAX, /* accuracy: the largest output against the label */
  NNRT_METRIC_BINARY, /* accuracy: output > 0.5 against target > 0.5 */
} NnrtMetric;

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
  int64_t step_offset; /* scalar read by step: the step number t = 1, 2, ...; -1 if unused */
  int32_t n_params;    /* parameters, optimizer state and constants, in that order */
  const NnrtParam *params;
  int32_t n_noise;
  const NnrtNoise *noise;
  int32_t n_classes; /* > 0: targets are class labels, one-hot in the target slot */
  int32_t metric;    /* NnrtMetric */

  /* Settings of the train block; has_train == 0 for a predict-only model. */
  int32_t has_train;
  int64_t epochs, batch, log_every;
  uint64_t seed;
  int32_t shuffle;
  double lr;
  int32_t schedule; /* NnrtSchedule, with its arguments */
  double sched_a, sched_b;
  double warmup_epochs; /* η grows linearly from 0 over this many epochs (0: none) */
  NnrtData train, validate;
  double validation_split; /* fraction of train rows held out when validate.kind is NONE */
  int32_t early_stopping;  /* patience in epochs on the validation loss (0: off); the best
                              weights are restored at the end */
  int64_t checkpoint_every; /* epochs between checkpoints (0: only at the end) */

  /* Forward, backward and optimizer update on the first n rows of input/target;
   * writes the mean loss of those rows at loss_offset and their outputs in the output slot. */
  void (*step)(float *ws, int64_t n);
  /* Forward only, with the loss: fills output and loss_offset for the first n rows of input
   * and target, changing nothing else (for validation; NULL when the model cannot train). */
  void (*evaluate)(float *ws, int64_t n);
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

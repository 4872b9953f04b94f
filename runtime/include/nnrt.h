/* nnrt.h: THE ABI between the code nnc generates and the runtime library, and nothing else
 * (the runtime's API for hosts — the REPL, embedders, nnrt_main's own pieces — is nnrt_host.h).
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

#include "nnrt_fields.h"
#include "nnrt_sources.h"

#define NNRT_ABI_VERSION 9

typedef enum {
  NNRT_INIT_ZEROS,   /* all 0 */
  NNRT_INIT_ONES,    /* all 1 */
  NNRT_INIT_CONST,   /* all a */
  NNRT_INIT_NORMAL,  /* N(a, b^2): mean a, standard deviation b */
  NNRT_INIT_UNIFORM, /* U[a, b) */
  NNRT_INIT_VALUES,  /* copy `values` (size floats) */
} NnrtInitKind;

/* What a tensor that lives across steps is for. The weights of a model — what a weights file
 * holds, predict loads, --init copies and early stopping keeps from the best epoch — are its
 * PARAM and BUFFER tensors (nnrt_host.h: nnrt_role_is_weight). */
typedef enum {
  NNRT_ROLE_PARAM,  /* trained; saved in checkpoints */
  NNRT_ROLE_STATE,  /* optimizer state (momentum, Adam's moments): zero at start */
  NNRT_ROLE_CONST,  /* a constant tensor of the model (an array literal in an expression) */
  NNRT_ROLE_BUFFER, /* a running statistic (batch norm's mean and variance): starts at its
                       initialiser, moved by every training step (never by evaluate or
                       predict), not trained; saved and loaded with the parameters */
} NnrtRole;

/* What the runtime writes into a noise tensor (NnrtNoise) before each training step, and
 * before evaluate and predict. */
typedef enum {
  NNRT_NOISE_DROPOUT,  /* a dropout mask: max_batch rows of width floats, independent draws of
                          Bernoulli(1 − p) / (1 − p) for a step; 1 for evaluate and predict */
  NNRT_NOISE_TRAINING, /* the training flag: width (1) floats, 1 for a step, 0 for evaluate and
                          predict */
} NnrtNoiseKind;

/* The structs' fields are listed once, in nnrt_fields.h, which the compiler's descriptor emitter
 * reads too; their comments are there. */
typedef int64_t NnrtDims[4];
/* Generated code's entry points: step, evaluate and predict on the first n rows. */
typedef void (*NnrtStepFn)(float *ws, int64_t n);
/* Kernel k of step, called as step_kernels[k](ws, n, part, parts), does its share `part` of
 * `parts`, writing elements no other part writes, computed exactly as with parts = 1; step(ws, n)
 * is every kernel with (0, 1). All parts of kernel k must finish before kernel k + 1 starts. */
typedef void (*NnrtKernelFn)(float *ws, int64_t n, int64_t part, int64_t parts);

#define NNRT_C_FIELD(kind, type, name) type name;

typedef struct {
  NNRT_PARAM_FIELDS(NNRT_C_FIELD)
} NnrtParam;

/* A tensor the runtime fills before each step, evaluate and predict, as its kind says. */
typedef struct {
  NNRT_NOISE_FIELDS(NNRT_C_FIELD)
} NnrtNoise;

/* One row of `info`: a named value of the model, with what it costs. */
typedef struct {
  NNRT_LAYER_FIELDS(NNRT_C_FIELD)
} NnrtLayer;

/* A buffer the training step writes, in the order it writes them: after a non-finite loss the
 * runtime finds the first one holding a non-finite value and names its line of the source. */
typedef struct {
  NNRT_CHECK_FIELDS(NNRT_C_FIELD)
} NnrtCheck;

/* Numbered from the rows of nnrt_sources.h: NNRT_DATA_TABLE, NNRT_DATA_CSV, NNRT_DATA_IDX. */
#define NNRT_DATA_KIND(KIND, ...) NNRT_DATA_##KIND,
typedef enum { NNRT_DATA_NONE, NNRT_DATA_SOURCES(NNRT_DATA_KIND) } NnrtDataKind;
#undef NNRT_DATA_KIND
typedef enum { NNRT_SCALE_NONE, NNRT_SCALE_FACTOR, NNRT_SCALE_STANDARDIZE } NnrtScaling;

/* A data source as the train block names it. Targets are real values (target.width per row),
 * or, when the model has classes, one integer label per row that the loader turns into a
 * one-hot row of n_classes floats. */
typedef struct {
  NNRT_DATA_FIELDS(NNRT_C_FIELD)
} NnrtData;

/* How the learning rate changes over a run (not the back end's kernel schedule). */
typedef enum {
  NNRT_LR_CONSTANT,    /* η */
  NNRT_LR_STEP,        /* η · a^floor(epoch / b) */
  NNRT_LR_EXPONENTIAL, /* η · a^epoch, epoch counted fractionally step by step */
  NNRT_LR_COSINE,      /* η · (a + (1 − a)(1 + cos(π · step / total steps)) / 2) */
} NnrtLrSchedule;

typedef enum {
  NNRT_METRIC_NONE,   /* regression: loss only */
  NNRT_METRIC_ARGMAX, /* accuracy: the largest output against the label */
  NNRT_METRIC_BINARY, /* accuracy: output > 0.5 against target > 0.5 */
} NnrtMetric;

/* A batch buffer: max_batch rows of `width` floats each (width = product of non-batch dims). */
typedef struct {
  NNRT_SLOT_FIELDS(NNRT_C_FIELD)
} NnrtSlot;

typedef struct {
  NNRT_MODEL_FIELDS(NNRT_C_FIELD)
} NnrtModel;

#undef NNRT_C_FIELD

/* Exit codes of generated programs (documented in --help and the README); the host API of
 * nnrt_host.h reports failures with them too. A non-finite value (a starting weight, the loss,
 * a gradient) shares 3 with NNRT_EXIT_IO; an interrupted run exits as a shell reports SIGINT. */
enum {
  NNRT_EXIT_OK = 0,
  NNRT_EXIT_DATA = 1,  /* bad input values or data */
  NNRT_EXIT_USAGE = 2, /* bad command line */
  NNRT_EXIT_IO = 3,    /* a file could not be read or written */
  NNRT_EXIT_NONFINITE = 3,
  NNRT_EXIT_INTERRUPTED = 130,
};

/* The whole command line of a generated program: train | predict | --help. */
int nnrt_main(const NnrtModel *m, int argc, char **argv);

#endif

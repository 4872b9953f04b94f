/* settings: the resolved training settings of a model — what check produces from the train
 * block and what the back end (descriptor, embed) and the optimizer read. Plain values only:
 * no syntax-tree pointers, so no stage after check ever needs the AST to read them. A data
 * table is already two float arrays here. */
#ifndef NNC_SETTINGS_H
#define NNC_SETTINGS_H
#include <stdbool.h>
#include <stdint.h>

#include "diag.h"
#include "nnrt_sources.h"

/* The enums below, but the optimizer's (which the runtime never sees), mirror nnrt.h's
 * values one for one, so codegen copies them (compiler/backend/descriptor.c asserts it). */
typedef enum { OPT_SGD, OPT_ADAM, OPT_ADAMW, OPT_RMSPROP } OptimizerKind;

typedef struct {
  OptimizerKind kind;
  double lr;           /* all */
  double momentum;     /* sgd, rmsprop */
  bool nesterov;       /* sgd */
  double weight_decay; /* sgd (added to the gradient), adamw (decoupled) */
  double beta1, beta2; /* adam, adamw */
  double rho;          /* rmsprop */
  double eps;          /* adam, adamw, rmsprop */
} OptimizerSettings;

/* How the learning rate changes over training (not the kernel schedule of the back end). */
typedef enum { LR_CONSTANT, LR_STEP, LR_EXPONENTIAL, LR_COSINE } LrScheduleKind;

typedef struct {
  LrScheduleKind kind;
  double a, b;          /* as NnrtLrSchedule documents */
  double warmup_epochs; /* 0: none */
} LrSchedule;

/* DATA_TABLE, DATA_CSV, DATA_IDX: one per row of the runtime's data source table. */
#define DATA_KIND(KIND, ...) DATA_##KIND,
typedef enum { DATA_NONE, NNRT_DATA_SOURCES(DATA_KIND) } DataKind;
#undef DATA_KIND
typedef enum { SCALE_NONE, SCALE_FACTOR, SCALE_STANDARDIZE } ScaleKind;

typedef struct {
  DataKind kind;
  Loc loc;                 /* the table or the call, for messages */
  int64_t rows;            /* DATA_TABLE: rows of x_width inputs and y_width targets (or */
  int64_t x_width, y_width; /* one class label) each, row after row in x and y */
  const float *x, *y;
  const char *path;       /* CSV; IDX inputs */
  const char *labels_path; /* IDX labels */
  bool header;
  int delimiter;
  int n_x_cols, n_y_cols;
  int *x_cols, *y_cols; /* 0-based */
  int n_class_names;
  const char **class_names;
  ScaleKind scaling;
  double scale;
  bool one_vs_rest; /* positive = K: label K becomes target 1, every other label 0 */
  int positive;
} DataSettings;

typedef struct {
  bool present;
  Loc loc; /* the train block */
  int64_t epochs, batch, log_every;
  uint64_t seed;
  bool shuffle;
  OptimizerSettings opt;
  LrSchedule lr_schedule;
  DataSettings data, validate;
  double validation_split;
  int early_stopping; /* patience in epochs; 0: off */
  int64_t checkpoint_every;
} TrainSettings;

#endif

/* settings: the resolved training settings of a model — what check produces from the train
 * block and what the back end (descriptor, embed) and the optimizer read. Plain values only:
 * no syntax-tree pointers, so no stage after check ever needs the AST to read them. A data
 * table is already two float arrays here. */
#ifndef NNC_SETTINGS_H
#define NNC_SETTINGS_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "diag.h"
#include "nnrt_sources.h"

/* The ranges a numeric setting may be required to lie in (check gives each its own message). */
typedef enum { R_ANY, R_POSITIVE, R_NONNEG, R_UNIT, R_FRACTION, R_CLOSED, R_OPEN } Range;

/* --- optimizers: the rows of optimizers.def as a kind, its settings and a table --- */

typedef enum {
#define OPTIMIZER(KIND, name, display, states, args) OPT_##KIND,
#include "optimizers.def"
#undef OPTIMIZER
  OPT_COUNT
} OptimizerKind;

/* A hyper-parameter: OPTF_lr is OptimizerSettings.lr. */
typedef enum {
#define OPT_FIELD(name, type, range, off_at_zero) OPTF_##name,
#include "optimizers.def"
#undef OPT_FIELD
  OPTF_COUNT
} OptimizerField;

/* An optimizer and its hyper-parameters; the fields its row does not take are 0. */
typedef struct {
  OptimizerKind kind;
#define OPT_FIELD(name, type, range, off_at_zero) type name;
#include "optimizers.def"
#undef OPT_FIELD
} OptimizerSettings;

typedef struct {
  const char *name;
  Range range;
  bool boolean;     /* true or false rather than a number */
  bool off_at_zero; /* 0 switches it off (momentum, weight decay) */
  size_t offset;    /* in OptimizerSettings, of a bool or a double */
} OptimizerFieldInfo;

typedef struct {
  const char *suffix; /* parameter W1's state is the tensor "W1.suffix" */
  const char *letter; /* which explain writes letter[W1] */
} OptimizerState;

typedef struct {
  OptimizerField field;
  double value;      /* the default */
  const char *label; /* in explain's update header; NULL: not shown */
} OptimizerArg;

enum { OPTIMIZER_MAX_STATES = 4, OPTIMIZER_MAX_ARGS = 8 };

typedef struct {
  const char *name, *display;
  OptimizerState states[OPTIMIZER_MAX_STATES];
  OptimizerArg args[OPTIMIZER_MAX_ARGS];
  int nstates, nargs;
} OptimizerInfo;

#define NNC_UNPAREN(...) __VA_ARGS__
#define NNC_OPT_BOOL_double false
#define NNC_OPT_BOOL_bool true

static inline const OptimizerFieldInfo *optimizer_field(OptimizerField f) {
  static const OptimizerFieldInfo fields[] = {
#define OPT_FIELD(name, type, range, off_at_zero) {#name, R_##range, NNC_OPT_BOOL_##type, off_at_zero,      \
                                                   offsetof(OptimizerSettings, name)},
#include "optimizers.def"
#undef OPT_FIELD
  };
  return &fields[f];
}

static inline const OptimizerInfo *optimizer_info(OptimizerKind k) {
#define STATE(suffix, letter) {suffix, letter}
#define ARG(field, value, label) {OPTF_##field, value, label}
  static const OptimizerInfo rows[] = {
#define OPTIMIZER(KIND, name, display, states, args)                                          \
  {name, display, {NNC_UNPAREN states}, {NNC_UNPAREN args},                                  \
   sizeof((OptimizerState[]){NNC_UNPAREN states}) / sizeof(OptimizerState),                  \
   sizeof((OptimizerArg[]){NNC_UNPAREN args}) / sizeof(OptimizerArg)},
#include "optimizers.def"
#undef OPTIMIZER
  };
#undef STATE
#undef ARG
  return &rows[k];
}

static inline double optimizer_get(const OptimizerSettings *o, OptimizerField f) {
  const OptimizerFieldInfo *fi = optimizer_field(f);
  const char *at = (const char *)o + fi->offset;
  return fi->boolean ? *(const bool *)at : *(const double *)at;
}

static inline void optimizer_set(OptimizerSettings *o, OptimizerField f, double v) {
  const OptimizerFieldInfo *fi = optimizer_field(f);
  char *at = (char *)o + fi->offset;
  if (fi->boolean)
    *(bool *)at = v != 0;
  else
    *(double *)at = v;
}

/* The optimizer with its row's defaults. */
static inline OptimizerSettings optimizer_with_defaults(OptimizerKind k) {
  const OptimizerInfo *row = optimizer_info(k);
  OptimizerSettings o = {.kind = k};
  for (int i = 0; i < row->nargs; i++)
    optimizer_set(&o, row->args[i].field, row->args[i].value);
  return o;
}

/* The row's argument for field f, or NULL when the optimizer does not take it. */
static inline const OptimizerArg *optimizer_arg(OptimizerKind k, OptimizerField f) {
  const OptimizerInfo *row = optimizer_info(k);
  for (int i = 0; i < row->nargs; i++)
    if (row->args[i].field == f)
      return &row->args[i];
  return NULL;
}

/* The enums below mirror nnrt.h's values one for one, so codegen copies them
 * (compiler/backend/descriptor.c asserts it). The optimizer's kind is not among them: the
 * runtime never sees it. */

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
  bool split_shuffle; /* hold out a seeded random part instead of the last rows */
  int early_stopping; /* patience in epochs; 0: off */
  int64_t checkpoint_every;
} TrainSettings;

#endif

/* sema: meaning for the AST — names, declarations, initialisers and training settings.
 * Contract: checks every model and train block of a file and returns the model to compile
 * (the first one) with its train block resolved, or NULL after reporting errors. Checks made
 * here: duplicate declarations, misplaced statements, unknown or ill-typed settings (with
 * "did you mean"), initialisers, one input, an output, a loss when the model is trained, and
 * data rows whose widths match the input and target. Expressions (names, functions, shapes)
 * are checked while lowering, where the graph builders know the shapes. */
#ifndef NNC_SEMA_H
#define NNC_SEMA_H
#include "ast.h"
#include "shape.h"

/* The enums below mirror runtime/nnrt.h's values one for one, so codegen copies them. */
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

typedef enum { SCHED_CONSTANT, SCHED_STEP, SCHED_EXPONENTIAL, SCHED_COSINE } ScheduleKind;

typedef struct {
  ScheduleKind kind;
  double a, b;          /* as NnrtSchedule documents */
  double warmup_epochs; /* 0: none */
} ScheduleSettings;

typedef enum { DATA_NONE, DATA_TABLE, DATA_CSV, DATA_IDX } DataKind;
typedef enum { SCALE_NONE, SCALE_FACTOR, SCALE_STANDARDIZE } ScaleKind;

typedef struct {
  DataKind kind;
  const AstNode *ast;     /* the table or the call, for messages */
  const AstNode *table;   /* DATA_TABLE: the AST_TABLE */
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
  const AstNode *block;
  int64_t epochs, batch, log_every;
  uint64_t seed;
  bool shuffle;
  OptimizerSettings opt;
  ScheduleSettings sched;
  DataSettings data, validate;
  double validation_split;
  int early_stopping; /* patience in epochs; 0: off */
  int64_t checkpoint_every;
} TrainSettings;

typedef struct {
  const char *name;
  const AstNode *ast;
  const AstNode *input, *target, *loss, *output;
  int n_classes; /* target y : class(K) gives K; 0 for real-valued targets */
  TrainSettings train;
} Model;

/* `want` names the model to compile (NULL: the first one of the file). */
Model *sema_check(Arena *arena, Diag *diag, const AstNode *items, const char *want);
/* The shape a declaration gives, without the batch axis: [2, 2] for W1[2, 2]; [] for none. */
Shape sema_decl_shape(const AstNode *decl);

#endif

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

#define NNRT_ABI_VERSION 4

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

/* One row of `info`: a named value of the model, with what it costs. */
typedef struct {
  const char *name;
  const char *op;  /* the primitive that computes it: "matmul", "max", "sigmoid", ... */
  int32_t rank;    /* of one sample's value (the batch axis left out) */
  int64_t dim[4];
  int64_t params;  /* parameter floats first used by this value's computation */
  int64_t flops;   /* floating-point operations per sample to compute it */
} NnrtLayer;

/* A buffer the training step writes, in the order it writes them: after a non-finite loss the
 * runtime finds the first one holding a non-finite value and names its line of the source. */
typedef struct {
  int64_t offset, width; /* width floats, per row when per_row (times n rows), else in total */
  int32_t per_row;
  int32_t line, col;     /* in the .nn file; 0 for values the compiler made up */
  const char *what;      /* "A1", "∂L/∂W1", "matmul" */
} NnrtCheck;

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
  int32_t one_vs_rest; /* a model without classes: target 1 where the label equals */
  int32_t positive;    /* `positive`, 0 elsewhere (one class against the rest) */
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

  /* A hash of the compiled graph (forward, backward and optimizer): checkpoints carry it, so a
   * checkpoint from another model, or the same model with another optimizer, is refused. */
  uint64_t model_hash;
  int32_t n_layers; /* for `info`, in the order the model computes them */
  const NnrtLayer *layers;
  int32_t n_checks; /* every buffer nn_step writes, in order */
  const NnrtCheck *checks;
  /* The memory plan in floats: parameters, optimizer state, and everything else the workspace
   * holds (inputs, activations, gradients) for max_batch rows. */
  int64_t mem_params, mem_state, mem_other;
  /* The kernels of step, in order, for running it on several threads: kernel k called as
   * step_kernels[k](ws, n, part, parts) does its share `part` of `parts`, writing elements no
   * other part writes, computed exactly as with parts = 1; step(ws, n) is every kernel with
   * (0, 1). All parts of kernel k must finish before kernel k + 1 starts. */
  int32_t n_step_kernels;
  void (*const *step_kernels)(float *ws, int64_t n, int64_t part, int64_t parts);
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

/* What the training loop reports, for progress bars, logs and plots (see report.c). */
typedef struct {
  int64_t epoch, epochs;          /* 1-based */
  int64_t step, steps;            /* steps done in this epoch, and steps per epoch */
  int64_t rows;                   /* rows done in this epoch */
  double loss;                    /* running mean loss of this epoch's rows so far */
  double seconds;                 /* since the epoch started */
} NnrtStepReport;

typedef struct {
  int64_t epoch, epochs;
  double loss, accuracy;          /* accuracy NAN without a metric */
  int has_val;                    /* val_* are NAN when 0 (no validation this epoch) */
  double val_loss, val_accuracy;
  double lr;                      /* the learning rate of the epoch's last step */
  double seconds;
  int logged;                     /* the train block's log_every selects this epoch */
} NnrtEpochReport;

typedef struct {
  void (*on_step)(const NnrtStepReport *r, void *ctx);   /* after every step; may be NULL */
  void (*on_epoch)(const NnrtEpochReport *r, void *ctx); /* after every epoch; may be NULL */
  void *ctx;
} NnrtReporter;

/* A training run's settings; nnrt_train_options fills them from the model's train block. */
typedef struct {
  int64_t epochs;    /* >= 1 */
  int64_t batch;     /* >= 1; clipped to max_batch */
  int64_t log_every; /* log every this many epochs; <= 0 logs only the first and last */
  uint64_t seed;     /* the shuffling and dropout streams are derived from it (see rng.h) */
  int32_t shuffle;   /* nonzero: a fresh Fisher-Yates order of the rows every epoch */
  double lr;
  int32_t schedule;        /* NnrtSchedule of the learning rate, with its arguments */
  double sched_a, sched_b; /* NNRT_SCHED_STEP needs sched_b > 0 */
  double warmup_epochs;    /* >= 0 */
  int32_t early_stopping;  /* patience in epochs (0: off); needs validation rows */
  int64_t checkpoint_every;    /* > 0: save every this many epochs to checkpoint_path */
  /* NULL: nnrt_train_on never saves. Else it writes a training checkpoint there every
   * checkpoint_every epochs, when SIGINT or SIGTERM interrupts the run, and at the end of a
   * successful run (see nnrt_save_run in checkpoint.c for the layout). */
  const char *checkpoint_path;
  NnrtReporter report;     /* progress; all NULL: silent */
  int32_t threads;         /* threads running each step (results are the same for any) */
  const char *resume_path; /* non-NULL: continue the run checkpointed there (--resume) */
} NnrtTrainOptions;

/* 0 when m is usable (ABI version, offsets inside the workspace, train fields if has_train). */
int nnrt_check_model(const NnrtModel *m, char *err, size_t errlen);
/* The descriptor's train-block settings. */
NnrtTrainOptions nnrt_train_options(const NnrtModel *m);
/* 0 when o can train m: a train block, epochs/batch >= 1, a valid schedule, and validation data
 * (validate or validation_split) whenever early stopping is on. */
int nnrt_check_train_options(const NnrtModel *m, const NnrtTrainOptions *o, char *err,
                             size_t errlen);
/* m->workspace_floats zeroed floats, 64-byte aligned; NULL when out of memory. */
float *nnrt_workspace_new(const NnrtModel *m);
void nnrt_workspace_free(float *ws);
/* Writes every ROLE_PARAM and ROLE_CONST tensor's initialiser into ws, drawing from one stream
 * seeded with seed (parameters come first, so constants never shift their draws), and zeroes
 * every ROLE_STATE tensor. */
void nnrt_init_params(const NnrtModel *m, float *ws, uint64_t seed);
/* Loads the train block's data (nnrt_train_data_load), trains on it (nnrt_train_on) and frees it,
 * logging to log (may be NULL); returns the last epoch's mean training loss, or NAN with err set
 * (data that cannot be loaded; non-finite loss, naming the epoch; bad options; out of memory). */
double nnrt_train(const NnrtModel *m, float *ws, const NnrtTrainOptions *opt, FILE *log,
                  char *err, size_t errlen);
/* y[r * output.width ...] = the model's outputs for x[r * input.width ...], r < rows: x as the
 * model sees it (already scaled, see nnrt_scale_inputs). Sets every dropout mask to 1 first. */
void nnrt_predict_rows(const NnrtModel *m, float *ws, const float *x, int64_t rows, float *y);
/* Atomically replaces path with a safetensors file of m's ROLE_PARAM tensors in ws and the
 * metadata format, model and model_hash (a weights file; training checkpoints, which add the
 * optimizer state and the run's state, come from nnrt_train_on: see checkpoint.c). */
int nnrt_save(const NnrtModel *m, const float *ws, const char *path, char *err, size_t errlen);
/* Validates the safetensors file at path against m's ROLE_PARAM tensors completely, then copies
 * them into ws; on failure ws is untouched. Optimizer state and tensors named "__..." (a
 * training checkpoint's) are ignored, any other unknown tensor is an error. A file whose
 * model_hash metadata differs from m->model_hash is refused ("'PATH' was saved by a different
 * model (hash H, this program is H')"); one without (another tool's) is accepted when names,
 * shapes and dtypes match. Constants and state are not read: call nnrt_init_params first. */
int nnrt_load(const NnrtModel *m, float *ws, const char *path, char *err, size_t errlen);

/* ---- ABI v2 additions: data, input scaling, schedules, metrics, a training run's results ---- */

/* Per-feature statistics of standardised inputs (train data with NNRT_SCALE_STANDARDIZE): a
 * model input v becomes (v - mean) / std as nnrt_data_standardize defines it. They are computed
 * on the training rows once and stored in every checkpoint as the F32 tensors
 * "__standardize.mean" and "__standardize.std" of shape [input.width], so predict applies
 * exactly what training applied without the data. width == 0: the model does not standardise. */
typedef struct {
  int64_t width;
  float *mean, *std;
} NnrtInputStats;

/* As nnrt_save and nnrt_load, plus the input statistics when st && st->width > 0: then the file
 * must hold them (loading fills st->mean/std, which the caller allocated with st->width
 * floats each); otherwise the file must not. */
int nnrt_save_stats(const NnrtModel *m, const float *ws, const NnrtInputStats *st,
                    const char *path, char *err, size_t errlen);
int nnrt_load_stats(const NnrtModel *m, float *ws, NnrtInputStats *st, const char *path,
                    char *err, size_t errlen);

/* Turns rows of raw inputs (as in the data source: pixels 0..255, unscaled features) in place
 * into what the model saw in training: times train.scale for NNRT_SCALE_FACTOR, standardised
 * with st for NNRT_SCALE_STANDARDIZE (st must then have width input.width), else unchanged. */
void nnrt_scale_inputs(const NnrtModel *m, const NnrtInputStats *st, float *x, int64_t rows);

/* The learning rate of 0-based step s of a run (schedule, then warm-up; see NnrtSchedule):
 * epoch e = s / steps_per_epoch, i = s % steps_per_epoch, total = epochs * steps_per_epoch. */
double nnrt_lr_at(const NnrtTrainOptions *o, int64_t steps_per_epoch, int64_t s);

/* How many of the first n rows of the output slot agree with the target slot under m->metric:
 * ARGMAX counts rows whose largest output (first on ties) is at the largest target; BINARY
 * counts elements (n * output.width of them) where output > 0.5 equals target > 0.5. */
int64_t nnrt_count_correct(const NnrtModel *m, const float *ws, int64_t n);
/* The denominator that goes with it: n rows for ARGMAX, n * output.width elements for BINARY. */
int64_t nnrt_metric_count(const NnrtModel *m, int64_t n);

/* The data of a training run: training rows, validation rows (from m->validate, or the last
 * validation_split of the training rows), and the input statistics; opaque here, defined in
 * internal.h. */
typedef struct NnrtTrainData NnrtTrainData;
/* Loads it once; returns NNRT_EXIT_OK, or NNRT_EXIT_IO when a data file cannot be opened, or
 * NNRT_EXIT_DATA when the data is bad (err: "cannot load 'PATH': why"). */
int nnrt_train_data_load(const NnrtModel *m, NnrtTrainData **out, char *err, size_t errlen);
void nnrt_train_data_free(NnrtTrainData *td);
/* Its input statistics (width 0 when the model does not standardise). */
const NnrtInputStats *nnrt_train_data_stats(const NnrtTrainData *td);

/* What a training run measured. Accuracies are NAN without a metric, val_* without validation. */
typedef struct {
  int status;          /* NNRT_EXIT_* */
  int64_t last_epoch;  /* the last epoch trained (early stopping can end before opt->epochs) */
  double loss, accuracy;         /* training, of the last epoch */
  int has_val;                   /* the run had validation rows */
  double val_loss, val_accuracy; /* of the weights ws holds at the end */
  int64_t best_epoch;  /* early stopping: the epoch whose weights ws holds; else last_epoch */
  int stopped_early;   /* patience ran out before opt->epochs */
  int64_t steps;       /* steps done over the whole run, resumed ones included (t) */
  int interrupted;     /* SIGINT or SIGTERM stopped it (status NNRT_EXIT_INTERRUPTED) */
  int saved;           /* a checkpoint was written to opt->checkpoint_path at the end */
} NnrtTrainResult;

/* The training loop: per step the learning rate (ws[lr_offset]), the step number t = 1, 2, ...
 * (ws[step_offset]) and fresh dropout masks; per epoch the mean loss, the metric, validation
 * through m->evaluate, early stopping and periodic checkpoints. Progress goes to o->report
 * only: it prints nothing (`log` is unused and may be NULL). Allocates only before the first
 * epoch (and inside checkpoint saves between epochs); nothing per step. Returns res->loss, or
 * NAN with err set and res->status saying why: NONFINITE (3): a starting weight, the loss, a
 * parameter gradient or the validation loss is not finite ("non-finite value at epoch E, step
 * S: 'A1' (xor.nn:11:3) is nan", S counting the epoch's steps from 1); INTERRUPTED (130):
 * SIGINT or SIGTERM ("interrupted at epoch E, step S; saved 'PATH'", or "...; nothing saved
 * (no --save path)"); USAGE: bad options, or a checkpoint to resume that does not fit; IO: a
 * checkpoint could not be written or read; DATA: out of memory. While it runs it handles
 * SIGINT and SIGTERM itself, and restores the previous handlers before returning. */
double nnrt_train_on(const NnrtModel *m, float *ws, const NnrtTrainOptions *o,
                     const NnrtTrainData *td, FILE *log, NnrtTrainResult *res, char *err,
                     size_t errlen);

/* ---- Runtime library API (continued): the program's command line, for hosts ----
 * nnc run calls the command line of a JIT-compiled model exactly as a compiled program calls
 * nnrt_main; the REPL's :train runs the same train command on the weights it holds. */

/* How the program is named: nnrt_main derives these from argv[0]. */
typedef struct {
  const char *prog;    /* prefix of every message, "prog: message" */
  const char *command; /* how the user runs it ("./xor", "nnc run xor.nn"): usage lines and
                          suggested commands; NULL: none */
  const char *weights; /* the default weights file; NULL: train saves only with --save */
} NnrtCliNames;

/* nnrt_main with the names given rather than derived from argv[0] (argv[0] is skipped) and the
 * streams given. Returns the program's exit code. */
int nnrt_cli_main(const NnrtModel *m, const NnrtCliNames *names, int argc, char **argv,
                  FILE *in, FILE *out, FILE *err);

/* A host's model state the train command runs on instead of a fresh one. */
typedef struct {
  float *ws;          /* training continues from these weights; --seed, --init, --resume start
                         again as the program does */
  NnrtTrainData **td; /* the model's data: loaded by the first run and kept (a run with --data
                         or --validate loads its own) */
  NnrtInputStats *stats; /* may be NULL; for a model that standardises, set to the statistics of
                            the data a run trains on (mean and std hold input.width floats) */
  int (*interrupted)(void); /* may be NULL; nonzero once the data is ready: the run does not
                               start ("interrupted", NNRT_EXIT_INTERRUPTED) */
} NnrtTrainState;

/* The train command, `prog train ARGS` with argv holding ARGS only, on a host's state: the
 * program's flags, checks, messages and output; --help lists the flags. Returns an exit code
 * (NNRT_EXIT_*) and has said why on err when it is not 0. */
int nnrt_cli_train(const NnrtModel *m, const NnrtCliNames *names, NnrtTrainState *state,
                   int argc, char **argv, FILE *out, FILE *err);

/* The one binder of predict's input values (the program's `predict X1 ... Xn`, the REPL's
 * :predict): n strings, each all a finite float, into x[input.width] as given (unscaled); 0, or
 * -1 with err ("predict expects 2 input values, got 1", "input value 2 ('x') is not a finite
 * number"). */
int nnrt_parse_input_row(const NnrtModel *m, int n, char *const *values, float *x, char *err,
                         size_t errlen);

/* ---- Embedding (nnc -c --header, runtime/embed.c): a model as a library object ----
 * A context is one model's workspace with its parameters; the caller feeds batches. The
 * wrappers nnc writes into the object (<prefix>_create, <prefix>_train_batch, ...) are these
 * functions with the model's descriptor bound. Contexts share nothing: different contexts may
 * be used from different threads; one context by one thread at a time. */
typedef struct NnrtContext NnrtContext;
/* A zeroed workspace with every parameter initialised from seed (nnrt_init_params); the dropout
 * stream is seeded from seed as a training run seeds it. NULL when m is unusable
 * (nnrt_check_model) or memory runs out. */
NnrtContext *nnrt_context_new(const NnrtModel *m, uint64_t seed);
void nnrt_context_free(NnrtContext *c); /* c may be NULL */
const NnrtModel *nnrt_context_model(const NnrtContext *c);
float *nnrt_context_workspace(NnrtContext *c);
int64_t nnrt_context_steps(const NnrtContext *c); /* optimizer steps taken so far */
/* nnrt_load / nnrt_save of the context's ROLE_PARAM tensors (safetensors); 0 or -1 with err. */
int nnrt_context_load(NnrtContext *c, const char *path, char *err, size_t errlen);
int nnrt_context_save(const NnrtContext *c, const char *path, char *err, size_t errlen);
/* One optimizer step on n rows: x holds n * input.width floats, y n * target.width floats
 * (one-hot rows of n_classes for a class model). Writes lr, the step number t (counting from 1
 * per context) and fresh dropout masks, runs m->step and returns the batch's mean loss (NAN or
 * inf when training diverged; the parameters are then updated anyway). Returns NAN and changes
 * nothing when n < 1, n > max_batch, x or y is NULL, lr is not finite or m cannot train. */
float nnrt_context_train_batch(NnrtContext *c, const float *x, const float *y, int64_t n,
                               float lr);
/* out[r * output.width ...] = the outputs for x[r * input.width ...], r < n, for any n >= 1 (in
 * chunks of max_batch rows), with every dropout mask at 1; nothing happens when n < 1. */
void nnrt_context_predict(NnrtContext *c, const float *x, int64_t n, float *out);

/* ---- Checkpoints and robustness: resume, --init, signals, non-finite values ---- */

/* Exit codes added to NNRT_EXIT_*: a non-finite value (a starting weight, the loss, a gradient)
 * shares 3 with NNRT_EXIT_IO; an interrupted run exits as a shell reports SIGINT. */
enum {
  NNRT_EXIT_NONFINITE = 3,
  NNRT_EXIT_INTERRUPTED = 130,
};

/* --init: copies every ROLE_PARAM tensor of the safetensors file at path (same names and
 * shapes, F32; other tensors and the metadata are ignored, a missing one is an error) into ws,
 * provided every value is finite. Returns NNRT_EXIT_OK; NNRT_EXIT_IO when the file cannot be
 * read or does not fit ("cannot load 'PATH': tensor 'b' is missing"); NNRT_EXIT_NONFINITE
 * ("initial weight 'W1' has a non-finite value (nan) at index 3 (from 'PATH')"). On failure ws
 * is untouched. */
int nnrt_load_init(const NnrtModel *m, float *ws, const char *path, char *err, size_t errlen);
/* 0 when every ROLE_PARAM value in ws is finite, else -1 with "initial weight 'W1' has a
 * non-finite value (nan) at index 3" (nnrt_train_on checks this before the first step). */
int nnrt_check_finite_params(const NnrtModel *m, const float *ws, char *err, size_t errlen);

#endif

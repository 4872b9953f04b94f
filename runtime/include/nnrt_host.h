/* nnrt_host.h: the runtime library's API for hosts — what nnrt_main is built from, for the
 * REPL and `nnc run` (which JIT a model and drive it with these), and the context API that
 * embedded models (nnc -c) call. The ABI they all drive is nnrt.h's NnrtModel.
 * Functions that can fail return 0 / -1 (or NAN, or an NNRT_EXIT_* code) and write a one-line
 * message, without the program name, into err[errlen]; they never exit and never print except
 * to the FILE given. */
#ifndef NNRT_HOST_H
#define NNRT_HOST_H
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "nnrt.h"

/* Whether a tensor of this NnrtRole is one of the model's weights: a trained parameter or a
 * running statistic, saved, loaded and kept together (optimizer state and constants are not). */
static inline int nnrt_role_is_weight(int32_t role) {
  return role == NNRT_ROLE_PARAM || role == NNRT_ROLE_BUFFER;
}

/* ---- Training: options, progress reports, the loop ---- */

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
  double comm_seconds;            /* of seconds: waiting for the ranks' gradients (0: one
                                     process) */
} NnrtEpochReport;

typedef struct {
  void (*on_step)(const NnrtStepReport *r, void *ctx);   /* after every step; may be NULL */
  void (*on_epoch)(const NnrtEpochReport *r, void *ctx); /* after every epoch; may be NULL */
  void *ctx;
  int logged_seconds_only; /* on_epoch reads `seconds` only of epochs with `logged` set: the
                              loop reads no clock for the others (their seconds are NAN) */
} NnrtReporter;

/* A training run's settings; nnrt_train_options fills them from the model's train block. */
typedef struct {
  int64_t epochs;    /* >= 1 */
  int64_t batch;     /* >= 1; clipped to max_batch */
  int64_t log_every; /* log every this many epochs; <= 0 logs only the first and last */
  uint64_t seed;     /* the shuffling and dropout streams are derived from it (see rng.h) */
  int32_t shuffle;   /* nonzero: a fresh Fisher-Yates order of the rows every epoch */
  double lr;
  int32_t lr_schedule;                 /* NnrtLrSchedule, with its arguments */
  double lr_schedule_a, lr_schedule_b; /* NNRT_LR_STEP needs lr_schedule_b > 0 */
  double warmup_epochs;    /* >= 0 */
  int32_t early_stopping;  /* patience in epochs (0: off); needs validation rows */
  int64_t checkpoint_every;    /* > 0: save every this many epochs to checkpoint_path */
  /* NULL: nnrt_train_on never saves. Else it writes a training checkpoint there every
   * checkpoint_every epochs, when SIGINT or SIGTERM interrupts the run, and at the end of a
   * successful run (see nnrt_save_run in checkpoint.c for the layout). The run's first save
   * keeps the file it replaces as PATH.prev (nnrt_keep_previous). */
  const char *checkpoint_path;
  NnrtReporter report;     /* progress; all NULL: silent */
  int32_t threads;         /* threads running each step (results are the same for any) */
  const char *resume_path; /* non-NULL: continue the run checkpointed there (--resume) */
  /* Data-parallel training (comm.h): this process is one rank of a job of several, each
   * computing its share of every batch; NULL or one rank: the whole batch here. */
  const struct NnrtJob *job;
} NnrtTrainOptions;

/* 0 when m is usable (ABI version, offsets inside the workspace, train fields if has_train). */
int nnrt_check_model(const NnrtModel *m, char *err, size_t errlen);
/* The descriptor's train-block settings. */
NnrtTrainOptions nnrt_train_options(const NnrtModel *m);
/* 0 when o can train m: a train block, epochs/batch >= 1, a valid learning-rate schedule, and
 * validation data (validate or validation_split) whenever early stopping is on. */
int nnrt_check_train_options(const NnrtModel *m, const NnrtTrainOptions *o, char *err,
                             size_t errlen);
/* m->workspace_floats zeroed floats, 64-byte aligned; NULL when out of memory. */
float *nnrt_workspace_new(const NnrtModel *m);
/* 0 when m's workspace fits in the memory this process can have: the machine's physical memory
 * and what its address-space limit (RLIMIT_AS, ulimit -v) leaves beyond what it already maps.
 * Else -1 with err ("out of memory: the model needs 8.0 GiB for its workspace, more than the
 * 5.9 GiB this machine has"): checked before anything is allocated or initialised, so a model that
 * cannot run is refused at once instead of after minutes of initialising. */
int nnrt_workspace_fits(const NnrtModel *m, char *err, size_t errlen);
void nnrt_workspace_free(float *ws);
/* Writes every ROLE_PARAM, ROLE_CONST and ROLE_BUFFER tensor's initialiser into ws, drawing
 * from one stream seeded with seed (parameters come first, so constants and running statistics
 * never shift their draws), and zeroes every ROLE_STATE tensor. */
void nnrt_init_params(const NnrtModel *m, float *ws, uint64_t seed);
/* Loads the train block's data (nnrt_train_data_load), trains on it (nnrt_train_on) and frees it,
 * logging to log (may be NULL); returns the last epoch's mean training loss, or NAN with err set
 * (data that cannot be loaded; non-finite loss, naming the epoch; bad options; out of memory). */
double nnrt_train(const NnrtModel *m, float *ws, const NnrtTrainOptions *opt, FILE *log,
                  char *err, size_t errlen);
/* y[r * output.width ...] = the model's outputs for x[r * input.width ...], r < rows: x as the
 * model sees it (already scaled, see nnrt_scale_inputs). Sets every dropout mask to 1 and the
 * training flag to 0 first, so running statistics are read, never moved. */
void nnrt_predict_rows(const NnrtModel *m, float *ws, const float *x, int64_t rows, float *y);
/* Atomically replaces path with a safetensors file of m's weights in ws (ROLE_PARAM and
 * ROLE_BUFFER tensors) and the metadata format, model and model_hash (a weights file; training
 * checkpoints, which add the optimizer state and the run's state, come from nnrt_train_on: see
 * checkpoint.c). */
int nnrt_save(const NnrtModel *m, const float *ws, const char *path, char *err, size_t errlen);
/* Validates the safetensors file at path against m's weights (ROLE_PARAM and ROLE_BUFFER
 * tensors) completely, then copies them into ws; on failure ws is untouched. Optimizer state
 * and tensors named "__..." (a training checkpoint's) are ignored, any other unknown tensor is
 * an error. A file whose
 * model_hash metadata differs from m->model_hash is refused ("'PATH' was saved by a different
 * model (hash H, this program is H')"); one without (another tool's) is accepted when names,
 * shapes and dtypes match. Constants and state are not read: call nnrt_init_params first.
 * Returns 0, or -1 with err set, or NNRT_LOAD_NOMEM when the memory to read the file could not
 * be had (err says "out of memory ..."): a program then exits 1, as for any memory failure,
 * rather than 3, which says the file is at fault. */
#define NNRT_LOAD_NOMEM (-2)
int nnrt_load(const NnrtModel *m, float *ws, const char *path, char *err, size_t errlen);

/* ---- Data, input scaling, learning rate, metrics, a training run's results ---- */

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

/* The learning rate of 0-based step s of a run (schedule, then warm-up; see NnrtLrSchedule):
 * epoch e = s / steps_per_epoch, i = s % steps_per_epoch, total = epochs * steps_per_epoch. */
double nnrt_lr_at(const NnrtTrainOptions *o, int64_t steps_per_epoch, int64_t s);

/* How many of the first n rows of the output slot agree with the target slot under m->metric:
 * ARGMAX counts rows whose largest output (first on ties) is at the largest target; BINARY
 * counts elements (n * output.width of them) where output > 0.5 equals target > 0.5. */
int64_t nnrt_count_correct(const NnrtModel *m, const float *ws, int64_t n);
/* The denominator that goes with it: n rows for ARGMAX, n * output.width elements for BINARY. */
int64_t nnrt_metric_count(const NnrtModel *m, int64_t n);

/* The data of a training run: training rows, validation rows (from m->validate, or the last
 * validation_split of the training rows), and the input statistics; opaque. */
typedef struct NnrtTrainData NnrtTrainData;
/* Loads it once; returns NNRT_EXIT_OK, or NNRT_EXIT_IO when a data file cannot be opened, or
 * NNRT_EXIT_DATA when the data is bad (err: "cannot load 'PATH': why"). */
int nnrt_train_data_load(const NnrtModel *m, NnrtTrainData **out, char *err, size_t errlen);
void nnrt_train_data_free(NnrtTrainData *td);
/* Its input statistics (width 0 when the model does not standardise). */
const NnrtInputStats *nnrt_train_data_stats(const NnrtTrainData *td);
/* A warning about the data for the host to print before training (NULL: none): the rows
 * validation_split holds out (the last ones of the file) have one class only, or a label
 * distribution far from the training rows' (a file sorted by class). */
const char *nnrt_train_data_warning(const NnrtTrainData *td);
/* Its training rows, or its validation rows (0: the run has none). */
typedef enum { NNRT_SET_TRAIN, NNRT_SET_VALIDATION } NnrtSet;
int64_t nnrt_train_data_rows(const NnrtTrainData *td, NnrtSet set);
/* Loss and metric (NAN without one) of the weights in ws on those rows, through m->evaluate
 * with every dropout mask at 1 and the training flag at 0. */
void nnrt_evaluate_train_data(const NnrtModel *m, float *ws, const NnrtTrainData *td,
                              NnrtSet set, double *loss, double *acc);

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
  int64_t epochs_trained; /* epochs this call finished (a resumed partial one included); 0: the
                             resumed run had already ended (at opt->epochs, or stopped early),
                             nothing was trained or saved, and loss, val_* are its final ones */
} NnrtTrainResult;

/* The training loop: per step the learning rate (ws[lr_offset]), the step number t = 1, 2, ...
 * (ws[step_offset]), fresh dropout masks and the training flag at 1; per epoch the mean loss,
 * the metric, validation through m->evaluate, early stopping and periodic checkpoints. Progress goes to o->report
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

/* ---- The program's command line, for hosts ----
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

/* ---- Embedding (nnc -c --header, runtime/context.c): a model as a library object ----
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
/* nnrt_load_stats / nnrt_save_stats of the context's weights and, for a model that standardises
 * its inputs, its input statistics (safetensors: any weights file or checkpoint the compiled
 * program writes); 0 or -1 with err. Saving a standardising model needs its statistics. */
int nnrt_context_load(NnrtContext *c, const char *path, char *err, size_t errlen);
int nnrt_context_save(const NnrtContext *c, const char *path, char *err, size_t errlen);
/* For a model with standardize = true: the input statistics from n raw training rows, as a
 * training run computes them (nnrt_data_stats); 0, or -1 when x is NULL or n < 1. Other models
 * have nothing to fit: 0. */
int nnrt_context_fit_inputs(NnrtContext *c, const float *x, int64_t n);
/* One optimizer step on n rows: x holds n * input.width raw floats (scaled here as by
 * nnrt_scale_inputs), y n * target.width floats (one-hot rows of n_classes for a class model).
 * Writes lr, the step number t (counting from 1 per context), fresh dropout masks and the
 * training flag at 1, runs m->step (which moves the running statistics) and returns the batch's mean loss (NAN or inf when training diverged;
 * the parameters are then updated anyway). Returns NAN and changes nothing when n < 1,
 * n > max_batch, x or y is NULL, lr is not finite, m cannot train or a standardising model
 * has no statistics yet. */
float nnrt_context_train_batch(NnrtContext *c, const float *x, const float *y, int64_t n,
                               float lr);
/* out[r * output.width ...] = the outputs for the raw rows x[r * input.width ...], r < n, scaled
 * as train_batch scales them, for any n >= 1 (in chunks of max_batch rows), with every dropout
 * mask at 1 and the training flag at 0; nothing happens when n < 1. A standardising model
 * without statistics writes NAN outputs. */
void nnrt_context_predict(NnrtContext *c, const float *x, int64_t n, float *out);

/* ---- Starting weights: --init, non-finite values ---- */

/* --init: copies every ROLE_PARAM tensor of the safetensors file at path (same names and
 * shapes, F32; other tensors and the metadata are ignored, a missing one is an error) into ws,
 * and every ROLE_BUFFER tensor the file has (a missing one keeps its value), provided every
 * value is finite. Returns NNRT_EXIT_OK; NNRT_EXIT_IO when the file cannot be
 * read or does not fit ("cannot load 'PATH': tensor 'b' is missing"); NNRT_EXIT_NONFINITE
 * ("initial weight 'W1' has a non-finite value (nan) at index 3 (from 'PATH')"). On failure ws
 * is untouched. */
int nnrt_load_init(const NnrtModel *m, float *ws, const char *path, char *err, size_t errlen);
/* 0 when every weight (ROLE_PARAM and ROLE_BUFFER value) in ws is finite, else -1 with
 * "initial weight 'W1' has a non-finite value (nan) at index 3" (nnrt_train_on checks this
 * before the first step). */
int nnrt_check_finite_params(const NnrtModel *m, const float *ws, char *err, size_t errlen);

/* ---- What a host shows: progress of a run, outputs (report.c, train.c) ---- */

/* Progress of a training run (report.c): a bar on a terminal, one line per logged epoch, a JSON
 * line per epoch, and the history the SVG plot is drawn from. Its on_step/on_epoch are the
 * NnrtReporter the command line hands to nnrt_train_on. */
typedef struct {
  FILE *out;        /* epoch lines, and the bar when tty */
  int tty;          /* redraw a progress bar with '\r' (only on a terminal) */
  int metric;       /* the model has an accuracy: print it */
  double interval;  /* seconds between two redraws of the bar (0.1) */
  double (*now)(void); /* a monotonic clock in seconds (tests replace it) */
  double last_draw; /* when the bar was last drawn; negative: never */
  int bar_shown;    /* a bar is on the screen and must be erased before the next line */
  FILE *json;       /* --log-json, or NULL */
  int json_failed;  /* a write to it failed */
  int json_continued; /* a resumed run's log: cut at the first epoch reported, then appended */
  /* The epochs the plot draws: every epoch until NNRT_PLOT_POINTS are stored, then every
   * other one of those (and of those with validation), and so on, so a long run's history
   * stays small; the last epoch reported is always drawn. Kept only while `history` is set
   * (nnrt_progress_init sets it; a run that draws no plot clears it: the 360 KB of history
   * cost a short run's page faults, 0.2 ms of XOR's 3 ms process). */
  int history;
  NnrtEpochReport *hist, last;
  int64_t n_hist, cap_hist;
  int64_t seen, seen_val;   /* epochs, and epochs with validation, reported so far */
  int64_t stride, stride_val; /* store every stride-th epoch, every stride_val-th validated one */
} NnrtProgress;

/* out and tty as above, metric from m. */
void nnrt_progress_init(NnrtProgress *p, const NnrtModel *m, FILE *out, int tty);
/* Truncates path and writes one JSON object a line to it from now on; -1 with err set. */
int nnrt_progress_open_json(NnrtProgress *p, const char *path, char *err, size_t errlen);
/* For a resumed run: reads the records of the log at path into the history (the plot's) and
 * appends to it; the first epoch the run reports drops the records from that epoch on (an
 * interrupted run's, past its checkpoint), so the log holds each epoch once, in order. A missing
 * file is created. -1 with err set when the file cannot be opened, or has a line that is not a
 * record ("cannot continue the log 'PATH': line 3 is not an epoch record ..."). */
int nnrt_progress_continue_json(NnrtProgress *p, const char *path, char *err, size_t errlen);
/* The reporter whose ctx is p. */
NnrtReporter nnrt_progress_reporter(NnrtProgress *p);
void nnrt_progress_on_step(const NnrtStepReport *r, void *ctx);
void nnrt_progress_on_epoch(const NnrtEpochReport *r, void *ctx);
/* Erases a bar still on the screen (after an error or an interruption). */
void nnrt_progress_end(NnrtProgress *p);
/* The history to plot (see hist), in hist's storage; *n entries. */
const NnrtEpochReport *nnrt_progress_history(NnrtProgress *p, int64_t *n);
/* Closes the JSON log and frees the history: -1 with err set when the log could not be written. */
int nnrt_progress_close(NnrtProgress *p, const char *json_path, char *err, size_t errlen);

/* "epoch  3/10  loss 0.123456  accuracy 0.9000  val_loss 0.234567  val_accuracy 0.8500  0.12s"
 * (accuracy and val_accuracy only when metric; val_* only when r->has_val), with a newline. */
void nnrt_print_epoch_line(FILE *out, const NnrtEpochReport *r, int metric);
/* {"epoch": 1, "loss": 0.5, "accuracy": null, "val_loss": null, "val_accuracy": null,
 *  "lr": 0.1, "seconds": 0.01}: NAN and infinities are null; with a newline. */
void nnrt_print_epoch_json(FILE *out, const NnrtEpochReport *r);
/* An SVG of the history (loss and val_loss; accuracy and val_accuracy in a second panel when
 * any is finite), written atomically to path (temporary file, then rename); -1 with err set. */
int nnrt_plot_svg(const char *path, const char *title, const NnrtEpochReport *h, int64_t n,
                  char *err, size_t errlen);

/* Rows printed as the program prints them (the REPL prints what the program would). */
void nnrt_print_row(FILE *out, const float *v, int64_t n, const char *fmt);
/* A row of outputs, then "  class K" for a classifier, then a newline. */
void nnrt_print_outputs(FILE *out, const NnrtModel *m, const float *y, const char *fmt);
/* "x -> y" for every row of a training table (NNRT_EXIT_DATA when out of memory). */
int nnrt_print_table_predictions(FILE *out, const NnrtModel *m, float *ws,
                                 const NnrtTrainData *td);

#endif

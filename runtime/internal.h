/* internal: helpers shared by the runtime's own files; not part of the ABI. */
#ifndef NNRT_INTERNAL_H
#define NNRT_INTERNAL_H
#include <stdarg.h>
#include <stdio.h>

#include "data.h"
#include "nnrt.h"
#include "rng.h"

/* Formats a message into err[errlen] when the caller gave a buffer. */
__attribute__((format(printf, 3, 4))) static inline void nnrt_errf(char *err, size_t errlen,
                                                                    const char *fmt, ...) {
  if (!err || errlen == 0)
    return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err, errlen, fmt, ap);
  va_end(ap);
}

/* The data of a training run (nnrt_train_data_load). Standardisation, when the train data asks
 * for it, is already applied to both sets with stats computed on the training rows only. */
struct NnrtTrainData {
  NnrtDataset train;  /* the rows nnrt_train_on trains on */
  NnrtDataset val;    /* val.rows == 0: no validation */
  NnrtInputStats stats;
};

/* Fills every dropout mask of m (max_batch rows of width floats) with Bernoulli(1 - p) / (1 - p)
 * draws from r, or with 1 when r is NULL. */
void nnrt_fill_noise(const NnrtModel *m, float *ws, NnrtRng *r);

/* nnrt_main with its standard streams injected, so tests can capture them. */
int nnrt_main_streams(const NnrtModel *m, int argc, char **argv, FILE *out, FILE *err);

/* The index of the largest of v[0..n) (the first on ties): the class a row of scores picks. */
int64_t nnrt_argmax(const float *v, int64_t n);

/* ---- The generated program's command line (cli.c, report.c, summary.c) ---- */

/* nnrt_main_streams with standard input injected too (predict - reads rows from `in`). */
int nnrt_main_io(const NnrtModel *m, int argc, char **argv, FILE *in, FILE *out, FILE *err);

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
  /* The epochs the plot draws: every epoch until NNRT_PLOT_POINTS are stored, then every
   * other one of those (and of those with validation), and so on, so a long run's history
   * stays small; the last epoch reported is always drawn. */
  NnrtEpochReport *hist, last;
  int64_t n_hist, cap_hist;
  int64_t seen, seen_val;   /* epochs, and epochs with validation, reported so far */
  int64_t stride, stride_val; /* store every stride-th epoch, every stride_val-th validated one */
} NnrtProgress;

/* out and tty as above, metric from m. */
void nnrt_progress_init(NnrtProgress *p, const NnrtModel *m, FILE *out, int tty);
/* Truncates path and writes one JSON object a line to it from now on; -1 with err set. */
int nnrt_progress_open_json(NnrtProgress *p, const char *path, char *err, size_t errlen);
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

/* The `info` table (summary.c): layers, totals and the memory plan. */
void nnrt_print_summary(const NnrtModel *m, FILE *out);

/* The state of a training run besides the workspace: what a checkpoint needs so that resuming
 * continues exactly (see checkpoint.c for the file layout). */
typedef struct {
  int64_t epoch;    /* epochs completed */
  int64_t step;     /* steps done over the whole run (t of the last step) */
  int64_t position; /* rows of epoch + 1 already trained (0 at an epoch boundary) */
  int64_t batch;    /* rows per step (clipped to max_batch); resuming needs the same */
  int64_t epochs;   /* saving: the run's epochs; loading: the resumed run's, which must not be
                       fewer than the checkpoint has begun */
  uint64_t seed;
  NnrtRng shuffle, dropout;
  double epoch_loss;     /* a partial epoch's sum of loss * rows */
  int64_t epoch_correct; /* and of correct predictions */
  double loss, accuracy; /* of the last completed epoch */
  int64_t best_epoch, bad_epochs; /* early stopping (best_epoch 0: none yet) */
  double best_val_loss, best_val_accuracy;
  int stopped;  /* patience ran out */
  int restored; /* saving: ws holds the weights training continues from, best the weights to
                   use (saved as NAME, ws's as __last.NAME) */
  int64_t rows;   /* training rows */
  int64_t *order; /* rows entries: the current epoch's order (loading fills the caller's) */
  float *best;    /* the ROLE_PARAM floats back to back, or NULL without early stopping */
} NnrtRunState;

/* A training checkpoint of ws and rs; atomic like nnrt_save. */
int nnrt_save_run(const NnrtModel *m, const float *ws, const NnrtInputStats *st,
                  const NnrtRunState *rs, const char *path, char *err, size_t errlen);
/* Reads the checkpoint at path into ws (parameters, optimizer state), rs->order, rs->best (when
 * not NULL) and the rest of *rs; the caller sets rs->rows, batch, epochs, order and best first.
 * The file must have m's model_hash, this run's batch and row count, and the statistics in st
 * (compared, not read). On failure nothing changes. */
int nnrt_load_run(const NnrtModel *m, float *ws, const NnrtInputStats *st, NnrtRunState *rs,
                  const char *path, char *err, size_t errlen);

/* The rows of one step: rows order[start ...] (start ... when order is NULL) of the data set's
 * x and y, for m's input and target slots. nnrt_batch_load copies the step's rows [from, to). */
typedef struct {
  const NnrtModel *m;
  const float *x, *y;
  const int64_t *order;
  int64_t start;
} NnrtBatch;
void nnrt_batch_load(const NnrtBatch *b, float *ws, int64_t from, int64_t to);

/* threads.c: a pool of `threads` threads running a step's kernels in parts (NULL for 1, or
 * when threads cannot be started). nnrt_pool_step loads the batch's n rows, each thread a
 * share of them, and runs the step; with a NULL pool it is nnrt_batch_load and m->step. */
typedef struct NnrtPool NnrtPool;
NnrtPool *nnrt_pool_new(int threads);
void nnrt_pool_step(NnrtPool *p, const NnrtModel *m, float *ws, int64_t n, const NnrtBatch *batch);
void nnrt_pool_free(NnrtPool *p);

/* Shared by the program's command line and the REPL (compiler/repl.c), which hosts the same
 * runtime: rows printed as the program prints them, and the loss and metric of a data set. */
void nnrt_print_row(FILE *out, const float *v, int64_t n, const char *fmt);
/* A row of outputs, then "  class K" for a classifier, then a newline. */
void nnrt_print_outputs(FILE *out, const NnrtModel *m, const float *y, const char *fmt);
/* "x -> y" for every row of a training table (NNRT_EXIT_DATA when out of memory). */
int nnrt_print_table_predictions(FILE *out, const NnrtModel *m, float *ws,
                                 const NnrtTrainData *td);
/* Loss and metric (NAN without one) of the weights in ws on ds, through m->evaluate with every
 * dropout mask at 1. */
void nnrt_evaluate_set(const NnrtModel *m, float *ws, const NnrtDataset *ds, double *loss,
                       double *acc);

#endif

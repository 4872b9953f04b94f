/* internal: helpers shared by the runtime's own files; private to runtime/ (hosts use
 * nnrt_host.h, generated code nnrt.h). */
#ifndef NNRT_INTERNAL_H
#define NNRT_INTERNAL_H
#include <stdarg.h>
#include <stdio.h>

#include "data.h"
#include "nnrt.h"
#include "nnrt_host.h"
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
  char warning[320];  /* what the host should say about the data before training; "" none */
};

/* Class i of the model's outputs: its name when the data names the classes, else i in buf. */
const char *nnrt_class_label(const NnrtModel *m, int64_t i, char *buf, size_t size);

/* validation_split's rows of ds into *val, as training holds them out and eval evaluates them:
 * the last fraction of the rows (Keras's rule), or with split_shuffle a seeded random part (the
 * rows are permuted first, nnrt_rng_seed(seed ^ NNRT_SPLIT_SEED_XOR)). 0, or -1 with err set. */
int nnrt_hold_out(const NnrtModel *m, NnrtDataset *ds, NnrtDataset *val, char *err, size_t errlen);

/* Fills every noise tensor of m as its kind says (NnrtNoiseKind): for a training step (r given)
 * dropout masks with Bernoulli(1 - p) / (1 - p) draws from r and the training flag with 1; for
 * evaluate and predict (r NULL) masks with 1 and the flag with 0. */
void nnrt_fill_noise(const NnrtModel *m, float *ws, NnrtRng *r);
/* The floats nnrt_fill_noise writes for z (max_batch rows for a mask), or -1 for a bad kind. */
int64_t nnrt_noise_floats(const NnrtModel *m, const NnrtNoise *z);
void nnrt_shift_noise(const NnrtModel *m, float *ws, int64_t lo, int64_t n);

/* The weights (nnrt_role_is_weight) between ws and buf, back to back in descriptor order
 * (to_buf: ws -> buf); nnrt_weight_floats(m) floats of buf. */
void nnrt_copy_weights(const NnrtModel *m, float *ws, float *buf, int to_buf);
int64_t nnrt_weight_floats(const NnrtModel *m);

/* nnrt_main with its standard streams injected, so tests can capture them. */
int nnrt_main_streams(const NnrtModel *m, int argc, char **argv, FILE *out, FILE *err);

/* The index of the largest of v[0..n) (the first on ties): the class a row of scores picks. */
int64_t nnrt_argmax(const float *v, int64_t n);

/* ---- The generated program's command line (cli.c, report.c, info.c) ---- */

/* nnrt_main_streams with standard input injected too (predict - reads rows from `in`). */
int nnrt_main_io(const NnrtModel *m, int argc, char **argv, FILE *in, FILE *out, FILE *err);

/* The `info` table (info.c): layers, totals and the memory plan. */
void nnrt_print_summary(const NnrtModel *m, FILE *out);
/* A byte count as "196 B", "1.5 KiB", "3.2 MiB", "1.1 GiB" (info.c). */
void nnrt_bytes_text(char *buf, size_t size, double bytes);

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
  float *best;    /* the weights back to back (nnrt_copy_weights), or NULL without early
                     stopping */
} NnrtRunState;

/* A training checkpoint of ws and rs; atomic like nnrt_save. */
int nnrt_save_run(const NnrtModel *m, const float *ws, const NnrtInputStats *st,
                  const NnrtRunState *rs, const char *path, char *err, size_t errlen);
/* Keeps the file at path, when there is one, as PATH.prev (replacing an older PATH.prev): a hard
 * link (a copy where links fail) renamed over PATH.prev, so PATH stays in place and PATH.prev is
 * always whole. nnrt_train_on calls it before a run's first save. 0, or -1 with err set. */
int nnrt_keep_previous(const char *path, char *err, size_t errlen);
/* The lock of a training run that saves to path (checkpoint.c): an advisory lock on PATH.lock,
 * taken before the run starts and given back when it ends, so that a second run saving to the
 * same path is refused at once ("... is in use by another training run (pid N)") instead of
 * overwriting the first one's checkpoints. The kernel drops the lock of a killed run; the next
 * run reuses its file. -1 with the message in err when the lock is held or cannot be made. */
typedef struct {
  int fd;
  char path[4096];
} NnrtSaveLock;
int nnrt_save_lock(NnrtSaveLock *l, const char *path, char *err, size_t errlen);
void nnrt_save_unlock(NnrtSaveLock *l);
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
 * share of them, and runs the step; with a NULL pool it is nnrt_batch_load and m->step. The
 * pool times its steps and runs them on the calling thread alone while that is faster (a
 * loaded machine); the result is the same bytes either way. nnrt_usable_cpus: the CPUs this
 * process may run on, the most threads that can help. */
typedef struct NnrtPool NnrtPool;
/* How the pool chooses (threads.c says how; here for its test): nnrt_chooser_solo, whether the
 * next step runs on the calling thread alone; nnrt_chooser_step, the time a step of n rows took. */
typedef struct {
  int solo;    /* the chosen way: 1 runs whole steps on the calling thread */
  int probing; /* this window runs the other way, to time it */
  int steps;   /* in this window so far */
  double seconds, rows;
  double rate, last; /* the chosen way's: the better of its last two windows; its last window */
  double other;      /* the other way's rate when last timed */
  int stay;          /* windows before the other way is timed again */
  int losses;        /* probes of the other way lost since the chosen way was chosen */
} NnrtChooser;
int nnrt_chooser_solo(const NnrtChooser *c);
void nnrt_chooser_step(NnrtChooser *c, double seconds, int64_t n);
int nnrt_usable_cpus(void);
NnrtPool *nnrt_pool_new(int threads);
void nnrt_pool_step(NnrtPool *p, const NnrtModel *m, float *ws, int64_t n, const NnrtBatch *batch);
void nnrt_pool_free(NnrtPool *p);

/* Loss and metric (NAN without one) of the weights in ws on ds, through m->evaluate with every
 * dropout mask at 1 and the training flag at 0. */
void nnrt_evaluate_set(const NnrtModel *m, float *ws, const NnrtDataset *ds, double *loss,
                       double *acc);

#endif

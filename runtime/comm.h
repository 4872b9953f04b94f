/* comm: training on several processes (data parallelism). The transport is a table of
 * collective operations; a program built with `nnc --mpi` links runtime/mpi.c (libnnrt_mpi.a),
 * whose constructor sets nnrt_comm to MPI's. Without it nnrt_comm is NULL, nothing here runs
 * and a program trains as one process.
 * Contract: every rank runs the same program on the same data and options; the reducer's sums
 * are computed in rank order, once per element, and every rank receives the same bytes, so the
 * ranks' weights stay identical without ever being sent (see reduce.c). */
#ifndef NNRT_COMM_H
#define NNRT_COMM_H

#include <stddef.h>
#include <stdint.h>

#include "internal.h"

/* The operations a transport gives. Requests are small integers the transport hands out. */
typedef struct {
  const char *name;
  /* Starts the transport; 0, or -1 with a message. */
  int (*start)(int *rank, int *size, char *err, size_t errlen);
  void (*finish)(void);
  /* Ends every rank of the job at once (a failure only this rank saw: the others would wait). */
  void (*abort)(int code);
  /* Rank r's count[r] floats from send + displ[r] go to rank r, and rank r's floats for this one
   * arrive at recv + rdispl[r] (MPI_Ialltoallv). */
  int (*alltoallv)(const float *send, const int *count, const int *displ, float *recv,
                   const int *rcount, const int *rdispl);
  /* Every rank's rcount[r] floats from its send arrive at recv + rdispl[r] (MPI_Iallgatherv). */
  int (*allgatherv)(const float *send, int count, float *recv, const int *rcount,
                    const int *rdispl);
  int (*done)(int request); /* has it completed (and advance the others) */
  void (*wait)(int request);
  /* Blocking: every rank's n doubles, in rank order, into all[size * n]. */
  void (*allgather)(const double *mine, int n, double *all);
  /* Blocking: root's n floats into v on every rank. */
  void (*broadcast)(float *v, int64_t n, int root);
} NnrtCommOps;

extern const NnrtCommOps *nnrt_comm;

/* The job a training run belongs to: rank 0 of 1 when there is no transport. */
typedef struct NnrtJob {
  int rank, size;
  int started; /* the transport was started by nnrt_job_start */
} NnrtJob;

int nnrt_job_start(NnrtJob *job, char *err, size_t errlen);
/* The end of the job's run with exit code rc; agreed: every rank ends the same way (else the
 * job is aborted, so that no rank waits for this one forever). */
void nnrt_job_end(NnrtJob *job, int rc, int agreed);

/* ---- The reducer: the gradients of all ranks, summed ---- */

typedef struct NnrtReducer NnrtReducer;

/* Built once per run from the model's gradient checks; NULL with a message when the model's
 * step cannot be split (no first_update_group) or memory runs out. */
NnrtReducer *nnrt_reducer_new(const NnrtModel *m, const NnrtJob *job, char *err, size_t errlen);
void nnrt_reducer_free(NnrtReducer *r);
/* One step: rows[i] is rank i's share of the global batch of `total` rows. */
void nnrt_reducer_begin(NnrtReducer *r, const int64_t *rows, int64_t total);
/* After step_kernels[group] ran on this rank: starts the buckets it completed. */
void nnrt_reducer_after_group(NnrtReducer *r, const float *ws, int32_t group);
/* Waits for every bucket and writes the summed gradients into ws. */
void nnrt_reducer_finish(NnrtReducer *r, float *ws);
/* Seconds this run has waited for the reduction (after the backward pass ended). */
double nnrt_reducer_wait_seconds(const NnrtReducer *r);

/* ---- A data-parallel step (train_ranks.c) ---- */

typedef struct NnrtRanks NnrtRanks;
typedef struct {
  double loss_sum; /* the global batch's: sum over its rows */
  int64_t correct;
  int stop; /* some rank was asked to stop (SIGINT, SIGTERM) */
} NnrtRanksStep;

NnrtRanks *nnrt_ranks_new(const NnrtModel *m, const NnrtJob *job, char *err, size_t errlen);
void nnrt_ranks_free(NnrtRanks *k);
/* The step on this rank's share of the batch's n rows (batch.start: the batch's first row). */
int nnrt_ranks_step(NnrtRanks *k, const NnrtModel *m, float *ws, NnrtBatch batch, int64_t n,
                    int stop, NnrtRanksStep *out);
double nnrt_ranks_wait_seconds(const NnrtRanks *k);
/* 0 when every rank holds the same weights; else -1 with a message (on every rank). */
int nnrt_ranks_agree(NnrtRanks *k, const NnrtModel *m, const float *ws, char *err,
                     size_t errlen);

/* Floats of the gradients a step of m reduces (0 when it cannot train). */
int64_t nnrt_gradient_floats(const NnrtModel *m);
int nnrt_is_param_gradient(const NnrtCheck *c);

#endif

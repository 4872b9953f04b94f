/* train_ranks: one training step of a data-parallel run (comm.h), for the training loop.
 *
 * Every rank holds the same weights, data and row order. A global batch of n rows is cut into
 * P consecutive shares, rank i taking rows [n·i/P, n·(i+1)/P) of it (the last batch of an epoch
 * too; a rank whose share is empty computes nothing and contributes nothing). Each rank runs
 * the step's kernels up to the optimizer's updates on its share, the reducer sums the gradients
 * of all ranks into the global batch's, every rank runs the same updates on the same bytes, and
 * the weights stay identical without being sent. The loss, the correct predictions and a stop
 * request travel with every step, so every rank sees the global batch's figures and all stop
 * at the same step. Running statistics (batch norm's) are rank 0's, sent to the others after
 * each step, as PyTorch's DistributedDataParallel does: each rank normalises by its own share's
 * statistics. */
#include <stdlib.h>
#include <string.h>

#include "comm.h"
#include "internal.h"

enum { STATS = 3 }; /* per rank and step: loss × rows, correct predictions, stop requested */

struct NnrtRanks {
  const NnrtJob *job;
  NnrtReducer *red;
  int64_t *rows;
  double *all;
};

NnrtRanks *nnrt_ranks_new(const NnrtModel *m, const NnrtJob *job, char *err, size_t errlen) {
  NnrtRanks *k = calloc(1, sizeof *k);
  if (!k) {
    nnrt_errf(err, errlen, "out of memory for the ranks' state");
    return NULL;
  }
  k->job = job;
  k->rows = calloc((size_t)job->size, sizeof *k->rows);
  k->all = calloc((size_t)job->size * STATS, sizeof *k->all);
  if (!k->rows || !k->all) {
    nnrt_errf(err, errlen, "out of memory for the ranks' state");
    nnrt_ranks_free(k);
    return NULL;
  }
  if (!(k->red = nnrt_reducer_new(m, job, err, errlen))) {
    nnrt_ranks_free(k);
    return NULL;
  }
  return k;
}

void nnrt_ranks_free(NnrtRanks *k) {
  if (!k)
    return;
  nnrt_reducer_free(k->red);
  free(k->rows);
  free(k->all);
  free(k);
}

double nnrt_ranks_wait_seconds(const NnrtRanks *k) { return nnrt_reducer_wait_seconds(k->red); }

static void broadcast_running_statistics(const NnrtModel *m, float *ws) {
  for (int32_t i = 0; i < m->n_params; i++)
    if (m->params[i].role == NNRT_ROLE_BUFFER)
      nnrt_comm->broadcast(ws + m->params[i].offset, m->params[i].size, 0);
}

int nnrt_ranks_step(NnrtRanks *k, const NnrtModel *m, float *ws, NnrtBatch batch, int64_t n,
                    int stop, NnrtRanksStep *out) {
  int P = k->job->size, me = k->job->rank;
  for (int i = 0; i < P; i++)
    k->rows[i] = n * (i + 1) / P - n * i / P;
  int64_t lo = n * me / P, mine = k->rows[me];
  nnrt_shift_noise(m, ws, lo, mine);
  batch.start += lo;
  nnrt_reducer_begin(k->red, k->rows, n);
  if (mine > 0) {
    nnrt_batch_load(&batch, ws, 0, mine);
    for (int32_t g = 0; g < m->first_update_group; g++) {
      m->step_kernels[g](ws, mine, 0, 1);
      nnrt_reducer_after_group(k->red, ws, g);
    }
  }
  nnrt_reducer_finish(k->red, ws);
  double stats[STATS] = {mine > 0 ? (double)ws[m->loss_offset] * (double)mine : 0.0,
                         mine > 0 ? (double)nnrt_count_correct(m, ws, mine) : 0.0, stop};
  nnrt_comm->allgather(stats, STATS, k->all);
  *out = (NnrtRanksStep){0};
  for (int i = 0; i < P; i++) {
    out->loss_sum += k->all[i * STATS];
    out->correct += (int64_t)k->all[i * STATS + 1];
    out->stop |= k->all[i * STATS + 2] != 0.0;
  }
  for (int32_t g = m->first_update_group; g < m->n_step_kernels; g++)
    m->step_kernels[g](ws, mine > 0 ? mine : 1, 0, 1);
  broadcast_running_statistics(m, ws);
  return 0;
}

/* FNV-1a over the weights' bytes: equal on every rank, or the ranks have drifted apart. */
static double weights_hash(const NnrtModel *m, const float *ws) {
  uint64_t h = 1469598103934665603u;
  for (int32_t i = 0; i < m->n_params; i++) {
    if (m->params[i].role != NNRT_ROLE_PARAM)
      continue;
    const unsigned char *b = (const unsigned char *)(ws + m->params[i].offset);
    for (int64_t j = 0; j < m->params[i].size * (int64_t)sizeof(float); j++)
      h = (h ^ b[j]) * 1099511628211u;
  }
  return (double)(h >> 11); /* 53 bits: exact in a double */
}

int nnrt_ranks_agree(NnrtRanks *k, const NnrtModel *m, const float *ws, char *err,
                     size_t errlen) {
  double mine[STATS] = {weights_hash(m, ws), 0, 0};
  nnrt_comm->allgather(mine, STATS, k->all);
  for (int i = 1; i < k->job->size; i++)
    if (k->all[i * STATS] != k->all[0]) {
      nnrt_errf(err, errlen, "the weights of rank %d differ from rank 0's: the ranks ran "
                "different programs, data or options", i);
      return -1;
    }
  return 0;
}

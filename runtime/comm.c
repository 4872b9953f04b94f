/* comm: the job of a data-parallel run, and the reducer that sums the ranks' gradients.
 *
 * The gradients are packed, in the order the backward pass writes them, into buckets of at
 * least BUCKET_FLOATS floats; a bucket is reduced as soon as the step kernel that writes its last
 * gradient has run, while the backward pass goes on. Each bucket is cut into one chunk per rank;
 * rank j receives chunk j of every rank (an all-to-all), sums them in rank order 0, 1, ..., P-1,
 * each weighted by that rank's share of the global batch, and sends the sum to every rank (an
 * allgather). Every element is summed once, by one rank, in a fixed order, and every rank
 * receives those same bytes: the result does not depend on the transport's reduction order, and
 * is the same on every rank and in every run. The volume per rank is that of a ring allreduce:
 * 2 (P-1)/P of the gradients' bytes sent and as much received.
 *
 * The step's kernels divide by the rows they are given (a mean loss): rank i's gradient is the
 * mean over its n_i rows, and the weight n_i / B makes the sum the mean over the global batch. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "comm.h"
#include "internal.h"

const NnrtCommOps *nnrt_comm;

enum { BUCKET_FLOATS = 8192 };

int nnrt_job_start(NnrtJob *job, char *err, size_t errlen) {
  *job = (NnrtJob){.rank = 0, .size = 1};
  if (!nnrt_comm)
    return 0;
  if (nnrt_comm->start(&job->rank, &job->size, err, errlen) != 0)
    return -1;
  job->started = 1;
  return 0;
}

void nnrt_job_end(NnrtJob *job, int rc, int agreed) {
  if (!job->started)
    return;
  job->started = 0;
  if (!agreed && job->size > 1)
    nnrt_comm->abort(rc ? rc : 1);
  nnrt_comm->finish();
}

int nnrt_is_param_gradient(const NnrtCheck *c) {
  static const char prefix[] = "∂L/∂";
  return !c->per_row && c->what && strncmp(c->what, prefix, sizeof prefix - 1) == 0;
}

int64_t nnrt_gradient_floats(const NnrtModel *m) {
  int64_t n = 0;
  for (int32_t i = 0; i < m->n_checks; i++)
    if (nnrt_is_param_gradient(&m->checks[i]))
      n += m->checks[i].width;
  return n;
}

typedef struct {
  int64_t first, count; /* in the packed gradients */
  int32_t last_group;   /* the step kernel after which all of it is written */
  int32_t first_grad, n_grads;
  int *cnt, *dsp;   /* per rank: its chunk's size and place in the packed gradients */
  int *rcnt, *rdsp; /* per rank: this rank's chunk from it, where it lands in recv */
  int64_t recv_at, sum_at;
  int request; /* the collective in flight */
} Bucket;

typedef struct {
  int64_t offset, width, pack_at;
  int32_t group;
} Grad;

struct NnrtReducer {
  int P, rank;
  Grad *grads;
  int32_t n_grads;
  Bucket *buckets;
  int32_t n_buckets, next;
  int64_t floats;
  float *pack, *recv, *sum, *result, *weight;
  int *ints;
  double waited;
};

static int64_t chunk_lo(int64_t count, int j, int P) { return count * j / P; }

static int collect_grads(NnrtReducer *r, const NnrtModel *m) {
  r->grads = calloc((size_t)(m->n_checks > 0 ? m->n_checks : 1), sizeof *r->grads);
  if (!r->grads)
    return -1;
  for (int32_t i = 0; i < m->n_checks; i++) {
    const NnrtCheck *c = &m->checks[i];
    if (!nnrt_is_param_gradient(c))
      continue;
    r->grads[r->n_grads++] = (Grad){c->offset, c->width, r->floats, c->group};
    r->floats += c->width;
  }
  return 0;
}

/* Consecutive gradients into buckets of at least BUCKET_FLOATS (the last may be smaller). */
static int make_buckets(NnrtReducer *r) {
  r->buckets = calloc((size_t)(r->n_grads > 0 ? r->n_grads : 1), sizeof *r->buckets);
  r->ints = calloc((size_t)(r->n_grads > 0 ? r->n_grads : 1) * 4 * (size_t)r->P, sizeof(int));
  if (!r->buckets || !r->ints)
    return -1;
  int64_t recv_at = 0, sum_at = 0;
  for (int32_t g = 0; g < r->n_grads;) {
    Bucket *b = &r->buckets[r->n_buckets];
    b->first = r->grads[g].pack_at;
    b->first_grad = g;
    while (g < r->n_grads && (b->count < BUCKET_FLOATS || b->n_grads == 0)) {
      b->count += r->grads[g].width;
      b->last_group = r->grads[g].group > b->last_group ? r->grads[g].group : b->last_group;
      b->n_grads++;
      g++;
    }
    int *v = r->ints + (size_t)r->n_buckets * 4 * (size_t)r->P;
    b->cnt = v, b->dsp = v + r->P, b->rcnt = v + 2 * r->P, b->rdsp = v + 3 * r->P;
    int64_t mine = chunk_lo(b->count, r->rank + 1, r->P) - chunk_lo(b->count, r->rank, r->P);
    for (int j = 0; j < r->P; j++) {
      b->cnt[j] = (int)(chunk_lo(b->count, j + 1, r->P) - chunk_lo(b->count, j, r->P));
      b->dsp[j] = (int)(b->first + chunk_lo(b->count, j, r->P));
      b->rcnt[j] = (int)mine;
      b->rdsp[j] = (int)(recv_at + j * mine);
    }
    b->recv_at = recv_at;
    b->sum_at = sum_at;
    recv_at += r->P * mine;
    sum_at += mine;
    r->n_buckets++;
  }
  r->recv = malloc((size_t)(recv_at > 0 ? recv_at : 1) * sizeof(float));
  r->sum = malloc((size_t)(sum_at > 0 ? sum_at : 1) * sizeof(float));
  return r->recv && r->sum ? 0 : -1;
}

NnrtReducer *nnrt_reducer_new(const NnrtModel *m, const NnrtJob *job, char *err, size_t errlen) {
  if (m->first_update_group < 0) {
    nnrt_errf(err, errlen, "model '%s': its training step does not separate the gradients from "
              "the updates, so they cannot be summed across ranks", m->name);
    return NULL;
  }
  NnrtReducer *r = calloc(1, sizeof *r);
  if (!r || (r->P = job->size, r->rank = job->rank, collect_grads(r, m)) != 0 ||
      make_buckets(r) != 0 ||
      !(r->pack = malloc((size_t)(r->floats > 0 ? r->floats : 1) * sizeof(float))) ||
      !(r->result = malloc((size_t)(r->floats > 0 ? r->floats : 1) * sizeof(float))) ||
      !(r->weight = malloc((size_t)r->P * sizeof(float)))) {
    nnrt_reducer_free(r);
    nnrt_errf(err, errlen, "out of memory for the gradients' reduction");
    return NULL;
  }
  return r;
}

void nnrt_reducer_free(NnrtReducer *r) {
  if (!r)
    return;
  free(r->grads);
  free(r->buckets);
  free(r->ints);
  free(r->pack);
  free(r->recv);
  free(r->sum);
  free(r->result);
  free(r->weight);
  free(r);
}

void nnrt_reducer_begin(NnrtReducer *r, const int64_t *rows, int64_t total) {
  for (int i = 0; i < r->P; i++)
    r->weight[i] = (float)((double)rows[i] / (double)total);
  r->next = 0;
}

static void start_bucket(NnrtReducer *r, Bucket *b, const float *ws) {
  for (int32_t g = b->first_grad; g < b->first_grad + b->n_grads; g++)
    memcpy(r->pack + r->grads[g].pack_at, ws + r->grads[g].offset,
           (size_t)r->grads[g].width * sizeof(float));
  b->request = nnrt_comm->alltoallv(r->pack, b->cnt, b->dsp, r->recv, b->rcnt, b->rdsp);
}

/* This rank's chunk of the bucket: every rank's, weighted, summed in rank order. A rank with no
 * rows this step contributes nothing (its buffers hold an older step's values). */
static void sum_chunk(NnrtReducer *r, Bucket *b) {
  int64_t n = b->rcnt[0];
  float *out = r->sum + b->sum_at;
  const float *in = r->recv + b->recv_at;
  memset(out, 0, (size_t)n * sizeof *out);
  for (int i = 0; i < r->P; i++) {
    float w = r->weight[i];
    if (w == 0.0f)
      continue;
    for (int64_t k = 0; k < n; k++)
      out[k] += w * in[i * n + k];
  }
}

/* MPI needs every rank to start its collectives in the same order: the all-to-alls in bucket
 * order as the backward pass completes them (here, between its kernels, only their progress is
 * tested), and the allgathers after the last of them, in bucket order too. */
void nnrt_reducer_after_group(NnrtReducer *r, const float *ws, int32_t group) {
  while (r->next < r->n_buckets && r->buckets[r->next].last_group <= group)
    start_bucket(r, &r->buckets[r->next++], ws);
  if (r->next > 0)
    nnrt_comm->done(r->buckets[r->next - 1].request);
}

static double seconds_now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

void nnrt_reducer_finish(NnrtReducer *r, float *ws) {
  double t0 = seconds_now();
  while (r->next < r->n_buckets)
    start_bucket(r, &r->buckets[r->next++], ws);
  for (int32_t i = 0; i < r->n_buckets; i++) {
    Bucket *b = &r->buckets[i];
    nnrt_comm->wait(b->request);
    sum_chunk(r, b);
    b->request = nnrt_comm->allgatherv(r->sum + b->sum_at, b->rcnt[0], r->result, b->cnt,
                                       b->dsp);
  }
  for (int32_t i = 0; i < r->n_buckets; i++)
    nnrt_comm->wait(r->buckets[i].request);
  for (int32_t g = 0; g < r->n_grads; g++)
    memcpy(ws + r->grads[g].offset, r->result + r->grads[g].pack_at,
           (size_t)r->grads[g].width * sizeof(float));
  r->waited += seconds_now() - t0;
}

double nnrt_reducer_wait_seconds(const NnrtReducer *r) { return r->waited; }

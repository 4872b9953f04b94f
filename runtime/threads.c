/* threads: a training step on several threads. The compiler emits each kernel of the step so
 * that part p of P does a disjoint share of the kernel's outputs (NnrtModel.step_kernels);
 * here P threads run every kernel together, meeting at a barrier before the next one. Each
 * element is computed by the same instructions whatever P is, so results are bit-identical to
 * the one-thread step. The pool is made once per training run: no allocation per step. */
#include <pthread.h>
#include <stdlib.h>

#include "internal.h"

struct NnrtPool {
  int threads;
  pthread_t *workers;
  pthread_barrier_t start, kernel;
  /* Workers wait for `ready` before the first barrier, so a pool whose last thread could not
   * be started can still let the others go (with quit set) instead of blocking them. */
  pthread_mutex_t lock;
  pthread_cond_t go;
  int ready, quit;
  const NnrtModel *m;
  float *ws;
  int64_t n;
};

typedef struct {
  NnrtPool *pool;
  int part;
} Worker;

static void run_share(NnrtPool *p, int part) {
  for (int k = 0; k < p->m->n_step_kernels; k++) {
    p->m->step_kernels[k](p->ws, p->n, part, p->threads);
    pthread_barrier_wait(&p->kernel);
  }
}

static void *worker_main(void *arg) {
  Worker *w = arg;
  NnrtPool *p = w->pool;
  pthread_mutex_lock(&p->lock);
  while (!p->ready && !p->quit)
    pthread_cond_wait(&p->go, &p->lock);
  pthread_mutex_unlock(&p->lock);
  for (;;) {
    pthread_barrier_wait(&p->start);
    if (p->quit)
      break;
    run_share(p, w->part);
  }
  free(w);
  return NULL;
}

static void release(NnrtPool *p, int ready, int quit) {
  pthread_mutex_lock(&p->lock);
  p->ready = ready;
  p->quit = quit;
  pthread_cond_broadcast(&p->go);
  pthread_mutex_unlock(&p->lock);
}

/* Stops the first `started` workers and frees the pool: a running pool is stopped at its start
 * barrier, one that never became ready before it. */
static void pool_stop(NnrtPool *p, int started) {
  if (p->ready) {
    p->quit = 1;
    pthread_barrier_wait(&p->start);
  } else {
    release(p, 0, 1);
  }
  for (int i = 0; i < started; i++)
    pthread_join(p->workers[i], NULL);
  pthread_barrier_destroy(&p->start);
  pthread_barrier_destroy(&p->kernel);
  pthread_mutex_destroy(&p->lock);
  pthread_cond_destroy(&p->go);
  free(p->workers);
  free(p);
}

NnrtPool *nnrt_pool_new(int threads) {
  if (threads <= 1)
    return NULL;
  NnrtPool *p = calloc(1, sizeof *p);
  if (!p)
    return NULL;
  p->threads = threads;
  p->workers = calloc((size_t)threads, sizeof *p->workers);
  if (!p->workers) {
    free(p);
    return NULL;
  }
  pthread_barrier_init(&p->start, NULL, (unsigned)threads);
  pthread_barrier_init(&p->kernel, NULL, (unsigned)threads);
  pthread_mutex_init(&p->lock, NULL);
  pthread_cond_init(&p->go, NULL);
  for (int i = 0; i < threads - 1; i++) {
    Worker *w = malloc(sizeof *w);
    if (w)
      *w = (Worker){p, i + 1};
    if (!w || pthread_create(&p->workers[i], NULL, worker_main, w)) {
      free(w);
      pool_stop(p, i);
      return NULL;
    }
  }
  release(p, 1, 0);
  return p;
}

void nnrt_pool_step(NnrtPool *p, const NnrtModel *m, float *ws, int64_t n) {
  if (!p || m->n_step_kernels < 1) {
    m->step(ws, n);
    return;
  }
  p->m = m;
  p->ws = ws;
  p->n = n;
  pthread_barrier_wait(&p->start);
  run_share(p, 0);
}

void nnrt_pool_free(NnrtPool *p) {
  if (p)
    pool_stop(p, p->threads - 1);
}

/* threads: a training step on several threads. The compiler emits each kernel of the step so
 * that part p of P does a disjoint share of the kernel's outputs (NnrtModel.step_kernels);
 * here P threads run every kernel together, meeting at a barrier before the next one. Each
 * element is computed by the same instructions whatever P is, so results are bit-identical to
 * the one-thread step. The pool is made once per training run: no allocation per step. */
#define _DEFAULT_SOURCE /* syscall() for the futex */
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "internal.h"

/* A barrier that spins before it sleeps. A step is dozens of kernels of a few microseconds
 * each; waking a thread through the kernel after each one (pthread_barrier_wait) costs as much
 * as the kernel. Waiters spin on the phase word for a while (a step's kernels follow each
 * other closely), then sleep on it with a futex, so an idle pool (between epochs, during
 * validation) takes no CPU. */
typedef struct {
  atomic_int arrived, sleepers;
  atomic_uint phase; /* rounds completed, wrapping */
  int total;
} Barrier;

enum { SPINS = 20000 };

/* Tells the core this is a spin loop (saves power, frees the sibling hyperthread). */
static inline void spin_pause(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  __asm__ volatile("yield");
#endif
}

static void barrier_init(Barrier *b, int total) {
  atomic_init(&b->arrived, 0);
  atomic_init(&b->phase, 0);
  atomic_init(&b->sleepers, 0);
  b->total = total;
}

static void barrier_wait(Barrier *b) {
  unsigned phase = atomic_load_explicit(&b->phase, memory_order_acquire);
  if (atomic_fetch_add_explicit(&b->arrived, 1, memory_order_acq_rel) == b->total - 1) {
    atomic_store_explicit(&b->arrived, 0, memory_order_relaxed);
    /* Sequentially consistent, with the sleepers' count below and in the waiter: otherwise
     * this load could pass the store of the phase (x86 lets a load pass an earlier store),
     * read no sleeper while one is about to sleep on the old phase, and never wake it. */
    atomic_store(&b->phase, phase + 1u);
    if (atomic_load(&b->sleepers) > 0)
      syscall(SYS_futex, &b->phase, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
    return;
  }
  for (int i = 0; i < SPINS; i++) {
    if (atomic_load_explicit(&b->phase, memory_order_acquire) != phase)
      return;
    spin_pause();
  }
  atomic_fetch_add(&b->sleepers, 1);
  while (atomic_load(&b->phase) == phase)
    syscall(SYS_futex, &b->phase, FUTEX_WAIT_PRIVATE, phase, NULL, NULL, 0);
  atomic_fetch_sub_explicit(&b->sleepers, 1, memory_order_acq_rel);
}

struct NnrtPool {
  int threads;
  pthread_t *workers;
  Barrier start, kernel;
  /* Workers wait for `ready` before the first barrier, so a pool whose last thread could not
   * be started can still let the others go (with quit set) instead of blocking them. */
  pthread_mutex_t lock;
  pthread_cond_t go;
  int ready, quit;
  const NnrtModel *m;
  float *ws;
  int64_t n;
  const NnrtBatch *batch;
};

typedef struct {
  NnrtPool *pool;
  int part;
} Worker;

/* The step is read once, after the start barrier: after the last kernel barrier the main
 * thread may already be setting up the next step. Each part first copies its share of the
 * batch's rows (the batch lives only until the step ends; it is not read after the first
 * barrier). */
static void run_share(NnrtPool *p, int part) {
  const NnrtModel *m = p->m;
  float *ws = p->ws;
  int64_t n = p->n;
  int32_t kernels = m->n_step_kernels;
  nnrt_batch_load(p->batch, ws, n * part / p->threads, n * (part + 1) / p->threads);
  barrier_wait(&p->kernel);
  for (int k = 0; k < kernels; k++) {
    m->step_kernels[k](ws, n, part, p->threads);
    barrier_wait(&p->kernel);
  }
}

static void *worker_main(void *arg) {
  Worker *w = arg;
  NnrtPool *p = w->pool;
  pthread_mutex_lock(&p->lock);
  while (!p->ready && !p->quit)
    pthread_cond_wait(&p->go, &p->lock);
  int never_ready = !p->ready;
  pthread_mutex_unlock(&p->lock);
  if (never_ready) { /* a later worker could not start: the start barrier would never fill */
    free(w);
    return NULL;
  }
  for (;;) {
    barrier_wait(&p->start);
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
    barrier_wait(&p->start);
  } else {
    release(p, 0, 1);
  }
  for (int i = 0; i < started; i++)
    pthread_join(p->workers[i], NULL);
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
  barrier_init(&p->start, threads);
  barrier_init(&p->kernel, threads);
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

void nnrt_pool_step(NnrtPool *p, const NnrtModel *m, float *ws, int64_t n,
                    const NnrtBatch *batch) {
  if (!p || m->n_step_kernels < 1) {
    nnrt_batch_load(batch, ws, 0, n);
    m->step(ws, n);
    return;
  }
  p->m = m;
  p->ws = ws;
  p->n = n;
  p->batch = batch;
  barrier_wait(&p->start);
  run_share(p, 0);
}

void nnrt_pool_free(NnrtPool *p) {
  if (p)
    pool_stop(p, p->threads - 1);
}

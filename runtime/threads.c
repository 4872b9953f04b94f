/* threads: a training step on several threads. The compiler emits each kernel of the step so
 * that part p of P does a disjoint share of the kernel's outputs (NnrtModel.step_kernels);
 * here P threads run every kernel together, meeting at a barrier before the next one. Each
 * element is computed by the same instructions whatever P is, so results are bit-identical to
 * the one-thread step. The pool is made once per training run: no allocation per step. */
#define _GNU_SOURCE /* syscall() for the futex, sched_getaffinity */
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
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

/* SPINS bounds a wait's spinning; every YIELD_EVERY pauses the waiter offers its core to the
 * scheduler, because on a loaded machine the thread it waits for may be queued behind it. */
enum { SPINS = 20000, YIELD_EVERY = 1024 };

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
  for (int i = 1; i <= SPINS; i++) {
    if (atomic_load_explicit(&b->phase, memory_order_acquire) != phase)
      return;
    if (i % YIELD_EVERY == 0)
      sched_yield();
    else
      spin_pause();
  }
  atomic_fetch_add(&b->sleepers, 1);
  while (atomic_load(&b->phase) == phase)
    syscall(SYS_futex, &b->phase, FUTEX_WAIT_PRIVATE, phase, NULL, NULL, 0);
  atomic_fetch_sub_explicit(&b->sleepers, 1, memory_order_acq_rel);
}

/* Which way a step runs. The shares of a step wait for each other after every kernel, so when
 * another process holds one of the cores, one share waits for a core while the rest wait for
 * it, and P threads can be slower than one (so are they for a model too small to share). A
 * step's result is the same bytes either way, so the pool times windows of at least WINDOW
 * steps and WINDOW_SECONDS (shorter ones are mostly noise), runs the faster way, and times the
 * other way again once one window of it would cost at most PROBE_SHARE of the time spent
 * since, or at once when the chosen way becomes slower than the other was (the load moved). A
 * window of the other way ends early once it is clearly losing (LOSING times the chosen rate).
 * Rates are seconds per row: the last batch of an epoch is smaller. One unlucky window (a
 * thread preempted for a few milliseconds) must not decide for hundreds of steps: the chosen
 * way is judged by the better of its last two windows, and after a lost probe the next comes
 * after at most MIN_STAY·4^losses windows (4^(losses + SHARED_LEAD) for a probe of the solo
 * way), so a way that lost once by chance is timed again soon, and one that keeps losing ever
 * more rarely (each probe under a lasting load costs; a probe of the solo way, on an idle
 * machine, costs its window's lost speed-up: three of them were 8% of a 1-epoch run at b256). */
enum { WINDOW = 8, MIN_STAY = 4, MAX_STAY = 1 << 14, MAX_LOSSES = 6, SHARED_LEAD = 2 };
#define WINDOW_SECONDS 2e-4
#define PROBE_SHARE 0.02
#define LOSING 2.0

struct NnrtPool {
  int threads;
  NnrtChooser way;
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
  p->way.solo = 1; /* a window of the parallel way costs little on an idle machine, much on a busy one */
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

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

int nnrt_chooser_solo(const NnrtChooser *c) {
  return c->solo != c->probing;
}

/* Windows to stay with the chosen way before timing the other: the other way's extra time
 * over one window, as a PROBE_SHARE of the time of the windows run meanwhile. */
static int stay_for(double rate, double other) {
  double windows = (other / rate - 1.0) / PROBE_SHARE;
  return windows < MIN_STAY ? MIN_STAY : windows > MAX_STAY ? MAX_STAY : (int)windows;
}

/* The end of a window that ran at `rate`: keep or switch the chosen way, and plan the next. */
static void choose(NnrtChooser *c, double rate) {
  if (c->probing) {
    c->probing = 0;
    if (rate < c->rate) {
      c->solo = !c->solo;
      c->other = c->rate;
      c->rate = rate;
      c->last = 0; /* one window (this probe) is all it has: the next one alone may send it back */
      c->losses = 0;
    } else {
      c->other = rate;
      c->losses += c->losses < MAX_LOSSES;
    }
    /* The shared way, once chosen, is timed against the solo way later than the solo way would
     * be (SHARED_LEAD more rounds of back-off): a load that takes a core slows it, which sends
     * it to a probe at once (below); the solo way does not speed up when the load leaves, and
     * only its probes can tell. */
    int lead = c->solo ? 0 : SHARED_LEAD;
    int stay = stay_for(c->rate, c->other), back_off = MIN_STAY << 2 * (c->losses + lead);
    c->stay = stay < back_off ? stay : back_off;
    return;
  }
  c->rate = c->last > 0 && c->last < rate ? c->last : rate;
  c->last = rate;
  if ((c->other > 0 && c->rate > c->other) || c->stay-- <= 0)
    c->probing = 1;
}

void nnrt_chooser_step(NnrtChooser *c, double seconds, int64_t n) {
  c->seconds += seconds;
  c->rows += (double)n;
  double rate = c->seconds / c->rows;
  int losing = c->probing && rate > LOSING * c->rate;
  if (!losing && (++c->steps < WINDOW || c->seconds < WINDOW_SECONDS))
    return;
  choose(c, rate);
  c->steps = 0;
  c->seconds = c->rows = 0;
}

static void run_solo(const NnrtModel *m, float *ws, int64_t n, const NnrtBatch *batch) {
  nnrt_batch_load(batch, ws, 0, n);
  m->step(ws, n);
}

void nnrt_pool_step(NnrtPool *p, const NnrtModel *m, float *ws, int64_t n,
                    const NnrtBatch *batch) {
  if (!p || m->n_step_kernels < 1) {
    run_solo(m, ws, n, batch);
    return;
  }
  double start = now();
  if (nnrt_chooser_solo(&p->way)) {
    run_solo(m, ws, n, batch);
  } else {
    p->m = m;
    p->ws = ws;
    p->n = n;
    p->batch = batch;
    barrier_wait(&p->start);
    run_share(p, 0);
  }
  nnrt_chooser_step(&p->way, now() - start, n);
}

int nnrt_usable_cpus(void) {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0)
    return CPU_COUNT(&set);
  long online = sysconf(_SC_NPROCESSORS_ONLN);
  return online > 0 ? (int)online : 1;
}

void nnrt_pool_free(NnrtPool *p) {
  if (p)
    pool_stop(p, p->threads - 1);
}

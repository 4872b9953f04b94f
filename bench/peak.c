/* peak.c: the fp32 multiply-add peak that docs/performance.md measures nnc's kernels against,
 * per instruction set and thread count. Prints one line per variant:
 *   VARIANT tT: G GFLOP/s (S s; checksum C)
 * with VARIANT avx2 (256-bit vfmadd) and, where the CPU has AVX-512F, avx512 (512-bit), and T 1
 * (one core) or 2 (two threads at once: twice the 1-thread rate means two cores' FMA units, the
 * same rate means the two vCPUs share one core's). G is the sum over the threads of each one's
 * FLOPs over its own CPU time (CLOCK_THREAD_CPUTIME_ID), so that time the scheduler gives to
 * other processes on a busy machine does not lower the ceiling; S is the wall time, and the wall
 * rate follows. bench/bench.py parses these lines.
 *   cc -O2 -pthread bench/peak.c -o /tmp/peak && /tmp/peak [SECONDS]
 * SECONDS (default 0.5) is about how long one thread of each variant runs.
 * No -m flags: each kernel carries its own target attribute, and main runs only those the CPU
 * supports (__builtin_cpu_supports), so one binary serves AVX2-only and AVX-512 machines.
 * Twelve independent chains keep two FMA pipes busy through the instruction's latency.
 *   /tmp/peak --round-trip
 * prints instead `round trip: R ns`, the time one cache line takes to go from a thread on the
 * first usable CPU to one on the second and back (each writes it when it sees the other's
 * write). It tells where the host put the two vCPUs: about 60 ns when they share an L3 (one
 * CCD of an AMD EPYC), about 350 ns when they do not, and the latter doubles the time of a
 * step's memory-bound kernels on 2 threads while the FMA peak stays the same (docs/performance.md). */
#define _GNU_SOURCE /* clock_gettime, CLOCK_THREAD_CPUTIME_ID, pthread_setaffinity_np */
#include <immintrin.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <string.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

/* One kernel per instruction set: n rounds of 12 FMAs of LANES floats. The empty asm keeps the
 * chains in registers (constraint REG) and the loop from being folded away. */
#define FMA_KERNEL(NAME, TARGET, VEC, SET1, FMADD, ADD, REG)                                     \
  __attribute__((target(TARGET))) static float NAME(long n) {                                   \
    VEC b = SET1(1.0000001f), c = SET1(0.9999999f);                                             \
    VEC a0 = SET1(0), a1 = SET1(1), a2 = SET1(2), a3 = SET1(3), a4 = SET1(4), a5 = SET1(5),     \
        a6 = SET1(6), a7 = SET1(7), a8 = SET1(8), a9 = SET1(9), a10 = SET1(10), a11 = SET1(11); \
    for (long k = 0; k < n; k++) {                                                              \
      a0 = FMADD(a0, b, c); a1 = FMADD(a1, b, c); a2 = FMADD(a2, b, c);                         \
      a3 = FMADD(a3, b, c); a4 = FMADD(a4, b, c); a5 = FMADD(a5, b, c);                         \
      a6 = FMADD(a6, b, c); a7 = FMADD(a7, b, c); a8 = FMADD(a8, b, c);                         \
      a9 = FMADD(a9, b, c); a10 = FMADD(a10, b, c); a11 = FMADD(a11, b, c);                     \
      __asm__ volatile("" : "+" REG(a0), "+" REG(a1), "+" REG(a2), "+" REG(a3), "+" REG(a4),    \
                       "+" REG(a5), "+" REG(a6), "+" REG(a7), "+" REG(a8), "+" REG(a9),         \
                       "+" REG(a10), "+" REG(a11));                                             \
    }                                                                                           \
    VEC s = ADD(ADD(ADD(a0, a1), ADD(a2, a3)), ADD(ADD(a4, a5), ADD(a6, a7)));                  \
    s = ADD(s, ADD(ADD(a8, a9), ADD(a10, a11)));                                                \
    return s[0];                                                                                \
  }

FMA_KERNEL(fma_avx2, "avx2,fma", __m256, _mm256_set1_ps, _mm256_fmadd_ps, _mm256_add_ps, "x")
FMA_KERNEL(fma_avx512, "avx512f", __m512, _mm512_set1_ps, _mm512_fmadd_ps, _mm512_add_ps, "v")

typedef struct {
  const char *name;
  float (*kernel)(long n);
  int lanes;
  int supported;
} Variant;

typedef struct {
  float (*kernel)(long n);
  long n;
  float checksum;
  double cpu_seconds;
} Job;

typedef struct {
  double wall, rounds_per_cpu_second; /* the latter summed over the threads */
  float checksum;
} Timing;

static double seconds(clockid_t clock) {
  struct timespec t;
  clock_gettime(clock, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static void *run_job(void *arg) {
  Job *j = arg;
  double t0 = seconds(CLOCK_THREAD_CPUTIME_ID);
  j->checksum = j->kernel(j->n);
  j->cpu_seconds = seconds(CLOCK_THREAD_CPUTIME_ID) - t0;
  return NULL;
}

/* Runs `threads` copies of the kernel at once. */
static Timing run_threads(const Variant *v, long n, int threads) {
  pthread_t tid[2];
  Job jobs[2];
  Timing t = {0};
  double t0 = seconds(CLOCK_MONOTONIC);
  for (int i = 0; i < threads; i++) {
    jobs[i] = (Job){v->kernel, n, 0, 0};
    pthread_create(&tid[i], NULL, run_job, &jobs[i]);
  }
  for (int i = 0; i < threads; i++) {
    pthread_join(tid[i], NULL);
    t.checksum += jobs[i].checksum;
    t.rounds_per_cpu_second += (double)n / jobs[i].cpu_seconds;
  }
  t.wall = seconds(CLOCK_MONOTONIC) - t0;
  return t;
}

/* Rounds per thread for about `target` seconds of one thread's work. */
static long calibrate(const Variant *v, double target) {
  long n = 100000;
  double s = run_threads(v, n, 1).wall;
  long rounds = (long)((double)n * target / (s > 1e-4 ? s : 1e-4));
  return rounds > 1 ? rounds : 1;
}

/* The cache line the two threads pass to each other: round r is odd on the way out, even back;
 * -1 sends the other thread home. At most ROUND_TRIPS, and no longer than ROUND_TRIP_SECONDS:
 * were the two threads ever on one CPU (a pin refused), each trip would wait for a time slice. */
static _Alignas(64) atomic_long ball;
enum { ROUND_TRIPS = 200000 };
#define ROUND_TRIP_SECONDS 1.0

static void pin_to(int cpu) {
  cpu_set_t one;
  CPU_ZERO(&one);
  CPU_SET(cpu, &one);
  pthread_setaffinity_np(pthread_self(), sizeof one, &one);
}

static void *return_ball(void *cpu) {
  pin_to(*(int *)cpu);
  for (long r = 0;; r++) {
    long seen;
    while ((seen = atomic_load_explicit(&ball, memory_order_acquire)) != 2 * r + 1)
      if (seen < 0)
        return NULL;
    atomic_store_explicit(&ball, 2 * r + 2, memory_order_release);
  }
}

/* Nanoseconds a cache line takes there and back between the first two usable CPUs, or -1 when
 * there are fewer than two. */
static double round_trip_ns(void) {
  cpu_set_t set;
  int cpu[2], found = 0;
  if (sched_getaffinity(0, sizeof set, &set) != 0)
    return -1;
  for (int c = 0; c < CPU_SETSIZE && found < 2; c++)
    if (CPU_ISSET(c, &set))
      cpu[found++] = c;
  if (found < 2)
    return -1;
  pin_to(cpu[0]);
  pthread_t other;
  atomic_store(&ball, 0);
  if (pthread_create(&other, NULL, return_ball, &cpu[1]) != 0)
    return -1;
  double t0 = seconds(CLOCK_MONOTONIC);
  long r = 0;
  for (; r < ROUND_TRIPS; r++) {
    if (r % 64 == 0 && r > 0 && seconds(CLOCK_MONOTONIC) - t0 > ROUND_TRIP_SECONDS)
      break;
    atomic_store_explicit(&ball, 2 * r + 1, memory_order_release);
    while (atomic_load_explicit(&ball, memory_order_acquire) != 2 * r + 2)
      ;
  }
  double t = seconds(CLOCK_MONOTONIC) - t0;
  atomic_store_explicit(&ball, -1, memory_order_release);
  pthread_join(other, NULL);
  return t / (double)r * 1e9;
}

int main(int argc, char **argv) {
  if (argc > 1 && strcmp(argv[1], "--round-trip") == 0) {
    double ns = round_trip_ns();
    if (ns < 0) {
      printf("round trip: needs two usable CPUs\n");
      return 1;
    }
    printf("round trip: %.0f ns\n", ns);
    return 0;
  }
  double target = argc > 1 ? atof(argv[1]) : 0.5;
  __builtin_cpu_init();
  Variant variants[] = {
      {"avx2", fma_avx2, 8, __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")},
      {"avx512", fma_avx512, 16, __builtin_cpu_supports("avx512f")},
  };
  for (size_t i = 0; i < sizeof variants / sizeof variants[0]; i++) {
    const Variant *v = &variants[i];
    if (!v->supported) {
      printf("%s: not supported by this CPU\n", v->name);
      continue;
    }
    long n = calibrate(v, target);
    double flops_per_round = 12.0 * v->lanes * 2;
    for (int threads = 1; threads <= 2; threads++) {
      Timing t = run_threads(v, n, threads);
      printf("%s t%d: %.1f GFLOP/s (%.3f s wall, wall rate %.1f GFLOP/s; checksum %g)\n",
             v->name, threads, flops_per_round * t.rounds_per_cpu_second / 1e9, t.wall,
             flops_per_round * (double)n * threads / t.wall / 1e9, (double)t.checksum);
    }
  }
  return 0;
}

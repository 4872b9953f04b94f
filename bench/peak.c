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
 * Twelve independent chains keep two FMA pipes busy through the instruction's latency. */
#define _POSIX_C_SOURCE 200809L /* clock_gettime, CLOCK_THREAD_CPUTIME_ID */
#include <immintrin.h>
#include <pthread.h>
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

int main(int argc, char **argv) {
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

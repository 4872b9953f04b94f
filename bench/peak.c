/* peak.c: one core's fp32 multiply-add peak with 256-bit FMA (AVX2), the ceiling that
 * docs/performance.md measures nnc's matrix kernels against. Twelve independent chains keep
 * both FMA pipes busy through the instruction's latency.
 *   cc -O2 -mavx2 -mfma bench/peak.c -o /tmp/peak && /tmp/peak */
#include <immintrin.h>
#include <stdio.h>
#include <time.h>

int main(void) {
  __m256 b = _mm256_set1_ps(1.0000001f), c = _mm256_set1_ps(0.9999999f);
  __m256 a0 = _mm256_set1_ps(0), a1 = _mm256_set1_ps(1), a2 = _mm256_set1_ps(2),
         a3 = _mm256_set1_ps(3), a4 = _mm256_set1_ps(4), a5 = _mm256_set1_ps(5),
         a6 = _mm256_set1_ps(6), a7 = _mm256_set1_ps(7), a8 = _mm256_set1_ps(8),
         a9 = _mm256_set1_ps(9), a10 = _mm256_set1_ps(10), a11 = _mm256_set1_ps(11);
  struct timespec t0, t1;
  long n = 200000000;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  for (long k = 0; k < n; k++) {
#define FMA(x) x = _mm256_fmadd_ps(x, b, c);
    FMA(a0) FMA(a1) FMA(a2) FMA(a3) FMA(a4) FMA(a5)
    FMA(a6) FMA(a7) FMA(a8) FMA(a9) FMA(a10) FMA(a11)
    /* keeps the chains in registers and the loop from being folded away */
    __asm__ volatile("" : "+x"(a0), "+x"(a1), "+x"(a2), "+x"(a3), "+x"(a4), "+x"(a5), "+x"(a6),
                     "+x"(a7), "+x"(a8), "+x"(a9), "+x"(a10), "+x"(a11));
  }
  clock_gettime(CLOCK_MONOTONIC, &t1);
  double s = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
  __m256 sum = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)),
                             _mm256_add_ps(_mm256_add_ps(a4, a5), _mm256_add_ps(a6, a7)));
  sum = _mm256_add_ps(sum, _mm256_add_ps(_mm256_add_ps(a8, a9), _mm256_add_ps(a10, a11)));
  printf("%.1f GFLOP/s (%.3f s; checksum %g)\n", 12.0 * 8 * 2 * (double)n / s / 1e9, s,
         (double)sum[0]);
  return 0;
}

/* rng: xoshiro256** seeded by splitmix64, and the distributions built on it (see rng.h). */
#include "rng.h"

#include <math.h>

#define NNRT_TWO_PI 6.28318530717958647692

uint64_t nnrt_splitmix64(uint64_t *state) {
  uint64_t z = (*state += UINT64_C(0x9e3779b97f4a7c15));
  z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
  z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
  return z ^ (z >> 31);
}

void nnrt_rng_seed(NnrtRng *r, uint64_t seed) {
  for (int i = 0; i < 4; i++)
    r->s[i] = nnrt_splitmix64(&seed);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

/* The runtime is position-independent, so the compiler inlines none of its exported functions
 * into another (each could be interposed): the shuffle of every epoch uses these inline forms
 * instead (XOR's epoch made 6 calls for its 3 draws). */
static inline uint64_t next(NnrtRng *r) {
  uint64_t *s = r->s;
  uint64_t result = rotl(s[1] * 5, 7) * 9;
  uint64_t t = s[1] << 17;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = rotl(s[3], 45);
  return result;
}

uint64_t nnrt_rng_next(NnrtRng *r) { return next(r); }

float nnrt_rng_float(NnrtRng *r) { return (float)(next(r) >> 40) * 0x1.0p-24f; }

double nnrt_rng_double(NnrtRng *r) { return (double)(next(r) >> 11) * 0x1.0p-53; }

double nnrt_rng_normal(NnrtRng *r) {
  /* 1 - u lies in (0,1], so the logarithm is always finite. */
  double u1 = 1.0 - nnrt_rng_double(r);
  double u2 = nnrt_rng_double(r);
  return sqrt(-2.0 * log(u1)) * cos(NNRT_TWO_PI * u2);
}

static inline uint64_t below(NnrtRng *r, uint64_t n) {
  /* Values below 2^64 mod n would make the low residues more likely; redraw them. That bound
   * is below n, so it is computed (a division, as long as the shuffle's other) only for the
   * rare x below n. */
  for (;;) {
    uint64_t x = next(r);
    if (x >= n || x >= -n % n)
      return x % n;
  }
}

uint64_t nnrt_rng_below(NnrtRng *r, uint64_t n) { return below(r, n); }

void nnrt_rng_shuffle(NnrtRng *r, int64_t *idx, int64_t n) {
  for (int64_t i = n - 1; i > 0; i--) {
    int64_t j = (int64_t)below(r, (uint64_t)i + 1);
    int64_t t = idx[i];
    idx[i] = idx[j];
    idx[j] = t;
  }
}

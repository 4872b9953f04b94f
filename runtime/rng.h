/* rng: the one random generator of the runtime, so that a seed means the same thing everywhere.
 *
 * Generator: xoshiro256** (Blackman & Vigna, 2018). Its 256-bit state is filled by four
 * consecutive outputs of splitmix64 started at the 64-bit seed, which never yields the
 * all-zero state. Derived values:
 *   uniform float  in [0,1): the top 24 bits of one output times 2^-24;
 *   uniform double in [0,1): the top 53 bits of one output times 2^-53;
 *   normal N(0,1): Box-Muller in double from two uniform doubles u1, u2, returning
 *     sqrt(-2 ln(1 - u1)) * cos(2 pi u2); the sine half is discarded so that every normal
 *     costs exactly two outputs and the stream depends on nothing but the draw count;
 *   integer in [0,n): rejection sampling on the full 64-bit output (unbiased).
 * Streams: parameter initialisation uses nnrt_rng_seed(seed); data shuffling uses
 * nnrt_rng_seed(seed ^ NNRT_SHUFFLE_SEED_XOR), so changing how many parameters a model has
 * does not change its data order; dropout masks use nnrt_rng_seed(seed ^ NNRT_DROPOUT_SEED_XOR),
 * one uniform float per mask element (dropped when u < p), masks in descriptor order, max_batch
 * rows each, before every step; split_shuffle permutes the rows before validation_split takes
 * its part with nnrt_rng_seed(seed ^ NNRT_SPLIT_SEED_XOR). */
#ifndef NNRT_RNG_H
#define NNRT_RNG_H
#include <stdint.h>

#define NNRT_SHUFFLE_SEED_XOR UINT64_C(0x53485546464c4521) /* "SHUFFLE!" */
#define NNRT_DROPOUT_SEED_XOR UINT64_C(0x44524f504f555421) /* "DROPOUT!" */
#define NNRT_SPLIT_SEED_XOR UINT64_C(0x53504c4954524f57)   /* "SPLITROW" */

typedef struct {
  uint64_t s[4];
} NnrtRng;

/* Advances *state by the splitmix64 increment and returns the mixed value. */
uint64_t nnrt_splitmix64(uint64_t *state);
void nnrt_rng_seed(NnrtRng *r, uint64_t seed);
uint64_t nnrt_rng_next(NnrtRng *r);
float nnrt_rng_float(NnrtRng *r);
double nnrt_rng_double(NnrtRng *r);
double nnrt_rng_normal(NnrtRng *r);
/* n >= 1. */
uint64_t nnrt_rng_below(NnrtRng *r, uint64_t n);
/* Fisher-Yates: permutes idx[0..n) in place, uniformly over all n! orders. */
void nnrt_rng_shuffle(NnrtRng *r, int64_t *idx, int64_t n);

#endif

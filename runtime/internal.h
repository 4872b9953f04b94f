/* internal: helpers shared by the runtime's own files; not part of the ABI. */
#ifndef NNRT_INTERNAL_H
#define NNRT_INTERNAL_H
#include <stdarg.h>
#include <stdio.h>

#include "data.h"
#include "nnrt.h"
#include "rng.h"

/* Formats a message into err[errlen] when the caller gave a buffer. */
__attribute__((format(printf, 3, 4))) static inline void nnrt_errf(char *err, size_t errlen,
                                                                    const char *fmt, ...) {
  if (!err || errlen == 0)
    return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err, errlen, fmt, ap);
  va_end(ap);
}

/* The data of a training run (nnrt_train_data_load). Standardisation, when the train data asks
 * for it, is already applied to both sets with stats computed on the training rows only. */
struct NnrtTrainData {
  NnrtDataset train;  /* the rows nnrt_train_on trains on */
  NnrtDataset val;    /* val.rows == 0: no validation */
  NnrtInputStats stats;
};

/* Fills every dropout mask of m (max_batch rows of width floats) with Bernoulli(1 - p) / (1 - p)
 * draws from r, or with 1 when r is NULL. */
void nnrt_fill_noise(const NnrtModel *m, float *ws, NnrtRng *r);

/* nnrt_main with its standard streams injected, so tests can capture them. */
int nnrt_main_streams(const NnrtModel *m, int argc, char **argv, FILE *out, FILE *err);

/* The index of the largest of v[0..n) (the first on ties): the class a row of scores picks. */
int64_t nnrt_argmax(const float *v, int64_t n);

#endif

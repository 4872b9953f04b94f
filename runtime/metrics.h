/* metrics: the figures eval reports beyond the loss, computed from counts and sums that are
 * gathered batch by batch, so that a data set is never held twice. Not part of the ABI.
 * Classifier: per-class precision, recall and F1 from a k×k confusion matrix, scikit-learn's
 * definitions (a ratio with nothing to divide by is 0, as its zero_division=0), and their
 * unweighted mean over the classes (macro average).
 * Regression: over every target value of every row, MAE = mean |output − target| and
 * RMSE = sqrt(mean (output − target)²); R² = 1 − SSE/SST per output column (SST about the
 * column's mean), averaged over the columns (scikit-learn's r2_score, uniform_average); a
 * column whose targets are all equal has no R², and the result is then NaN. */
#ifndef NNRT_METRICS_H
#define NNRT_METRICS_H
#include <stdint.h>

typedef struct {
  double precision, recall, f1;
  int64_t support; /* rows whose true class this is */
} NnrtClassScore;

/* out[k] from confusion[true * k + predicted]; out[k] (one past the classes) gets the macro
 * average, with the total support. */
void nnrt_class_scores(const int64_t *confusion, int k, NnrtClassScore *out);

/* Running sums of a regression's errors: per output column, the error sums and the targets'
 * mean and squared deviations (Welford's update, exact enough for large means). */
typedef struct {
  int64_t width, rows;
  double *sae, *sse, *mean, *m2; /* width each */
} NnrtRegression;

/* 0, or -1 when out of memory (then nothing to free). */
int nnrt_regression_init(NnrtRegression *r, int64_t width);
/* Adds rows rows of width outputs and targets (row-major). */
void nnrt_regression_add(NnrtRegression *r, const float *out, const float *tgt, int64_t rows);
void nnrt_regression_result(const NnrtRegression *r, double *mae, double *rmse, double *r2);
void nnrt_regression_free(NnrtRegression *r);

#endif

/* metrics.h: eval's figures against values worked out by hand here. A classifier's confusion
 * matrix of 3 classes (one of them never predicted, one never true), and a regression of two
 * output columns (one with constant targets, which has no R²). */
#include "test.h"

#include <math.h>

#include "metrics.h"

/* cmocka compares floats in float; these are doubles, to 1e-12. */
#define assert_close(a, b) assert_true(fabs((double)(a) - (double)(b)) <= 1e-12)

/* true class down, predicted across:
 *        0  1  2
 *   0    3  1  0     class 0: tp 3, predicted 3 + 0 + 0 = 3, support 4
 *   1    0  2  0     class 1: tp 2, predicted 1 + 2 + 2 = 5, support 2
 *   2    0  2  0     class 2: tp 0, predicted 0, support 2 */
static void test_class_scores(void **state) {
  (void)state;
  const int64_t confusion[9] = {3, 1, 0, 0, 2, 0, 0, 2, 0};
  NnrtClassScore s[4];
  nnrt_class_scores(confusion, 3, s);
  assert_close(s[0].precision, 1.0);
  assert_close(s[0].recall, 0.75);
  assert_close(s[0].f1, 2 * 0.75 / 1.75);
  assert_int_equal(s[0].support, 4);
  assert_close(s[1].precision, 0.4);
  assert_close(s[1].recall, 1.0);
  assert_close(s[1].f1, 2 * 0.4 / 1.4);
  /* Never predicted: precision 0 (scikit-learn's zero_division=0), so F1 0. */
  assert_close(s[2].precision, 0.0);
  assert_close(s[2].recall, 0.0);
  assert_close(s[2].f1, 0.0);
  assert_close(s[3].precision, 1.4 / 3);
  assert_close(s[3].recall, 1.75 / 3);
  assert_close(s[3].f1, (1.5 / 1.75 + 0.8 / 1.4) / 3);
  assert_int_equal(s[3].support, 8);
}

/* Column 0: targets 1 2 3 4 (mean 2.5, SST 5), outputs 1 2 3 6: errors 0 0 0 2.
 * Column 1: targets 7 7 7 7, outputs 7 8 7 5: errors 0 1 0 −2.
 * MAE = (2 + 3) / 8, RMSE = sqrt((4 + 5) / 8); R² of column 0 = 1 − 4/5, of column 1 none. */
static void test_regression(void **state) {
  (void)state;
  const float out[8] = {1, 7, 2, 8, 3, 7, 6, 5}, tgt[8] = {1, 7, 2, 7, 3, 7, 4, 7};
  NnrtRegression r;
  assert_int_equal(nnrt_regression_init(&r, 2), 0);
  nnrt_regression_add(&r, out, tgt, 3); /* in two batches, as eval gathers them */
  nnrt_regression_add(&r, out + 6, tgt + 6, 1);
  double mae, rmse, r2;
  nnrt_regression_result(&r, &mae, &rmse, &r2);
  assert_close(mae, 5.0 / 8);
  assert_close(rmse, sqrt(9.0 / 8));
  assert_true(isnan(r2));
  nnrt_regression_free(&r);
  /* Column 0 alone: R² = 0.2. */
  const float out0[4] = {1, 2, 3, 6}, tgt0[4] = {1, 2, 3, 4};
  assert_int_equal(nnrt_regression_init(&r, 1), 0);
  nnrt_regression_add(&r, out0, tgt0, 4);
  nnrt_regression_result(&r, &mae, &rmse, &r2);
  assert_close(mae, 0.5);
  assert_close(rmse, 1.0);
  assert_close(r2, 0.2);
  nnrt_regression_free(&r);
}

/* A large mean does not swamp the spread (Welford's update): targets 1e6 + {−1, 0, 1}. */
static void test_regression_large_mean(void **state) {
  (void)state;
  const float out[3] = {999999, 1000000, 1000000}, tgt[3] = {999999, 1000000, 1000001};
  NnrtRegression r;
  assert_int_equal(nnrt_regression_init(&r, 1), 0);
  nnrt_regression_add(&r, out, tgt, 3);
  double mae, rmse, r2;
  nnrt_regression_result(&r, &mae, &rmse, &r2);
  assert_close(r2, 0.5);
  nnrt_regression_free(&r);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_class_scores),
    cmocka_unit_test(test_regression),
    cmocka_unit_test(test_regression_large_mean),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

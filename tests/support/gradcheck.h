/* The finite-difference gradient check of the compiler suites (test_grad, test_sugar): derived
 * gradients against central differences, both evaluated by the reference interpreter in double.
 * Each caller states the largest relative error it accepts. */
#ifndef NNC_GRADCHECK_H
#define NNC_GRADCHECK_H
#include <math.h>

#include "graph.h"
#include "interp.h"

/* Largest relative error between each derived ∂L/∂p and (L(p+h) − L(p−h)) / 2h, over the
 * trained parameters (role ROLE_PARAM; state and constants have no gradient). Every derivative
 * must be finite, and there must be at least one to check. */
static inline double worst_grad_error(const Graph *g, Interp *it) {
  const double h = 1e-6;
  double worst = 0;
  int checked = 0;
  for (int p = 0; p < g->nparams; p++) {
    if (g->params[p].role != ROLE_PARAM)
      continue;
    const Node *param = g->params[p].param, *grad = g->params[p].grad;
    assert_non_null(grad);
    double *v = interp_value(it, param);
    int64_t size = shape_numel(&param->shape, it->batch);
    for (int64_t k = 0; k < size; k++) {
      interp_run(it);
      double derived = interp_value(it, grad)[k];
      double keep = v[k];
      v[k] = keep + h;
      interp_run(it);
      double up = interp_value(it, g->loss)[0];
      v[k] = keep - h;
      interp_run(it);
      double down = interp_value(it, g->loss)[0];
      v[k] = keep;
      double numeric = (up - down) / (2 * h);
      assert_true(isfinite(derived) && isfinite(numeric));
      double err = fabs(derived - numeric) / fmax(1e-3, fabs(numeric) + fabs(derived));
      if (err > worst)
        worst = err;
      checked++;
    }
  }
  assert_true(checked > 0);
  return worst;
}

#endif

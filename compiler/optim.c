#include "optim.h"

void optim_sgd(Graph *g) {
  g->lr = g_leaf(g, OP_INPUT, "η", shape_scalar(), NODE_HYPER);
  for (int p = 0; p < g->nparams; p++) {
    ParamSlot *ps = &g->params[p];
    if (!ps->grad)
      continue;
    g->loc = ps->param->loc;
    ps->update = g_sub(g, ps->param, g_mul(g, g->lr, ps->grad));
    if (ps->update)
      ps->update->flags |= NODE_UPDATE;
  }
}

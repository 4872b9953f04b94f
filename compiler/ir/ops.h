/* ops: the Op enum and the per-op data of ops.def that every stage may read. */
#ifndef NNC_OPS_H
#define NNC_OPS_H
#include <stdbool.h>

typedef enum {
#define OP(id, name, arity, params, kind, shape, grad, eval, lower, ident, notation) OP_##id,
#include "ops.def"
#undef OP
  OP_COUNT
} Op;

typedef enum { KIND_LEAF, KIND_ELEM, KIND_REDUCE, KIND_MATMUL, KIND_WINDOW } OpKind;

typedef struct {
  const char *name;
  int arity;
  int nparams; /* integer parameters the op takes (Node.arg.p) */
  OpKind kind;
  bool differentiable;
  double identity; /* REDUCE: where a reduction starts */
  const char *notation;
} OpInfo;

extern const OpInfo op_info[OP_COUNT];



/* The value of an elementwise op on scalars (the eval column), in double: used to fold
 * constants and by the reference interpreter. */
double op_eval(Op op, double a, double b, double k);
#endif

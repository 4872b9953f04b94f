/* lower_args: the arguments of built-in calls. Contract: binds them with check's binder
 * (args.h: positional and keyword arguments, aliases such as "activation|act", unknown names with
 * "did you mean", repeats and wrong counts), and reads constant number and boolean arguments. */
#include "lower_internal.h"

#include "args.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* --- arguments of calls: through check's one binder (args.c) --- */

const AstNode *lower_arg_value(const AstNode *a) { return args_value(a); }

/* Every parameter of a built-in function may be given by position. */
bool lower_bind_args(Lower *L, const AstNode *call, const char *const *spec, int nparams,
                     int nreq, const AstNode *out[MAX_ARGS]) {
  ArgSpec as = {.fn = call->u.call.name, .params = spec, .nparams = nparams,
                .positional = nparams, .required = nreq};
  return args_bind(L->diag, L->g->arena, call, &as, out);
}

bool lower_constant_value(const AstNode *e, double *out) {
  if (e->kind == AST_NUM)
    return *out = e->u.num.value, true;
  if (e->kind == AST_NEG && lower_constant_value(e->u.unary.operand, out))
    return *out = -*out, true;
  return false;
}

/* A number argument (its default when not given). */
bool lower_number_arg(Lower *L, const AstNode *call, const AstNode *a, const char *what,
                      double *out) {
  if (!a)
    return true;
  if (lower_constant_value(lower_arg_value(a), out) && isfinite(*out))
    return true;
  diag_error(L->diag, lower_arg_value(a)->loc, "the %s of %s must be a constant number", what,
             call->u.call.name);
  return false;
}

bool lower_bool_arg(Lower *L, const AstNode *a, const char *what, bool *out) {
  if (!a)
    return true;
  const AstNode *v = lower_arg_value(a);
  if (v->kind == AST_NAME && (!strcmp(v->u.name.name, "true") || !strcmp(v->u.name.name, "false")))
    return *out = !strcmp(v->u.name.name, "true"), true;
  diag_error(L->diag, v->loc, "'%s' must be true or false", what);
  return false;
}

/* `call` is f(z) with one positional argument, for one of the names f */
const AstNode *lower_single_arg_of(const AstNode *e, const char *f) {
  if (e->kind != AST_CALL || strcmp(e->u.call.name, f) || ast_length(e->u.call.args) != 1 ||
      e->u.call.args->kind == AST_KWARG)
    return NULL;
  return e->u.call.args;
}

Node *lower_single_arg(Lower *L, const AstNode *call) {
  static const char *const spec[] = {"x"};
  const AstNode *a[MAX_ARGS];
  if (!lower_bind_args(L, call, spec, 1, 1, a))
    return NULL;
  Node *x = lower_expr(L, lower_arg_value(a[0]));
  L->g->loc = call->loc;
  return x;
}

/* lower_args: the argument binder of calls. Contract: binds positional and keyword arguments to
 * a function's parameters (a parameter may have aliases: "activation|act"), reporting unknown
 * names (with "did you mean"), repeats and wrong counts; and reads constant number and boolean
 * arguments. */
#include "lower_internal.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* --- arguments of calls --- */

/* The value of an argument, positional or `name = value`. */
const AstNode *lower_arg_value(const AstNode *a) {
  return a && a->kind == AST_KWARG ? a->u.kwarg.value : a;
}

/* A parameter spec is its name, optionally followed by aliases: "activation|act". */
static bool spec_has(const char *spec, const char *name) {
  size_t n = strlen(name);
  for (const char *s = spec; *s;) {
    size_t len = strcspn(s, "|");
    if (len == n && !strncmp(s, name, n))
      return true;
    s += len + (s[len] == '|');
  }
  return false;
}

static int spec_len(const char *spec) { return (int)strcspn(spec, "|"); }

/* Binds the arguments of `call` to the parameters `spec` (the first `nreq` are required):
 * positional ones in order, then keyword ones by name. out[i] is the AST of parameter i (the
 * AST_KWARG for a keyword argument; see arg_value) or NULL when it was not given. */
bool lower_bind_args(Lower *L, const AstNode *call, const char *const *spec, int nparams,
                     int nreq, const AstNode *out[MAX_ARGS]) {
  const char *fname = call->u.call.name;
  int total = ast_length(call->u.call.args), npos = 0;
  bool ok = true;
  for (int i = 0; i < MAX_ARGS; i++)
    out[i] = NULL;
  for (const AstNode *a = call->u.call.args; a; a = a->next) {
    int slot = -1;
    if (a->kind != AST_KWARG) {
      slot = npos++;
      if (slot >= nparams)
        continue; /* reported below as a wrong count */
    } else {
      for (int i = 0; i < nparams && slot < 0; i++)
        if (spec_has(spec[i], a->u.kwarg.name))
          slot = i;
      if (slot < 0) {
        diag_error(L->diag, a->loc, "unknown argument '%s' for %s", a->u.kwarg.name, fname);
        const char *names[3 * MAX_ARGS];
        char list[256] = "";
        int n = 0;
        for (int i = 0; i < nparams; i++) {
          size_t used = strlen(list);
          snprintf(list + used, sizeof list - used, "%s%.*s", i ? ", " : "", spec_len(spec[i]),
                   spec[i]);
          for (const char *s = spec[i]; *s && n < 3 * MAX_ARGS;) {
            size_t len = strcspn(s, "|");
            names[n++] = arena_printf(L->g->arena, "%.*s", (int)len, s);
            s += len + (s[len] == '|');
          }
        }
        const char *best = diag_suggest(a->u.kwarg.name, names, n);
        if (best)
          diag_hint(L->diag, "did you mean '%s'?", best);
        else if (nparams)
          diag_hint(L->diag, "%s takes %s", fname, list);
        else
          diag_hint(L->diag, "%s has no parameters; write just %s", fname, fname);
        ok = false;
        continue;
      }
    }
    if (out[slot]) {
      diag_error(L->diag, a->loc, "argument '%.*s' of %s is given twice", spec_len(spec[slot]),
                 spec[slot], fname);
      ok = false;
      continue;
    }
    out[slot] = a;
  }
  if (!ok)
    return false;
  bool missing = false;
  for (int i = 0; i < nreq; i++)
    missing |= !out[i];
  if (npos <= nparams && !missing)
    return true;
  if (nreq == nparams)
    diag_error(L->diag, call->loc, "%s takes %d argument%s, got %d", fname, nreq,
               nreq == 1 ? "" : "s", total);
  else
    diag_error(L->diag, call->loc, "%s takes %d to %d arguments, got %d", fname, nreq, nparams,
               total);
  return false;
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

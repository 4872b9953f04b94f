/* args: the one binder of a call's arguments to a function's parameters, for check (the calls
 * of the train block: sgd(...), csv(...)) and for lower (dense(...), relu(...), sum(...)).
 * Contract: the first `positional` parameters may be given by position, in order; every named
 * parameter by keyword, under its name or an alias ("activation|act"). A parameter named ""
 * is positional only. Reported at the argument: an unknown keyword (with "did you mean" or the
 * list of parameters), a parameter given twice (with a note at the first), a positional
 * argument past the last positional parameter (spec->positional_msg, or the count), and
 * missing required parameters (the count). */
#ifndef NNC_ARGS_H
#define NNC_ARGS_H
#include "ast.h"

typedef struct {
  const char *fn;            /* the call's name, for messages */
  const char *const *params; /* nparams names, "name" or "name|alias|..." */
  int nparams;
  int positional;            /* how many of the first parameters may be given by position */
  int required;              /* how many of the first parameters must be given */
  const char *positional_msg; /* for a positional argument past `positional`; NULL: the count */
} ArgSpec;

/* out[i]: the argument given for parameter i — the AST_KWARG node for a keyword argument
 * (args_value unwraps it) — or NULL. Returns false after reporting an error. */
bool args_bind(Diag *d, Arena *arena, const AstNode *call, const ArgSpec *spec,
               const AstNode *out[MAX_ARGS]);
/* The value of an argument, positional or `name = value`. */
const AstNode *args_value(const AstNode *a);

#endif

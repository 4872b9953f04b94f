/* args: the argument binder of calls (contract in args.h). */
#include "args.h"

#include "foreign.h"
#include "sema_internal.h" /* sema_name_list */

#include <string.h>

const AstNode *args_value(const AstNode *a) {
  return a && a->kind == AST_KWARG ? a->u.kwarg.value : a;
}

/* Whether name is one of spec's "name|alias|..." (an empty spec matches nothing). */
static bool param_has(const char *spec, const char *name) {
  size_t n = strlen(name);
  for (const char *s = spec; *s;) {
    size_t len = strcspn(s, "|");
    if (len == n && !strncmp(s, name, n))
      return true;
    s += len + (s[len] == '|');
  }
  return false;
}

static int param_len(const char *spec) { return (int)strcspn(spec, "|"); }

static int param_of(const ArgSpec *spec, const char *name) {
  for (int i = 0; i < spec->nparams; i++)
    if (param_has(spec->params[i], name))
      return i;
  return -1;
}

/* "unknown argument 'slope' for leaky_relu", with the closest name or the parameters' list. */
static void unknown_keyword(Diag *d, Arena *arena, const ArgSpec *spec, const AstNode *a) {
  const char *name = a->u.kwarg.name;
  diag_error(d, a->loc, "unknown argument '%s' for %s", name, spec->fn);
  const char *names[4 * MAX_ARGS], *shown[MAX_ARGS];
  int n = 0, listed = 0;
  for (int i = 0; i < spec->nparams; i++) {
    const char *p = spec->params[i];
    if (*p)
      shown[listed++] = arena_printf(arena, "%.*s", param_len(p), p);
    for (const char *s = p; *s && n < 4 * MAX_ARGS;) {
      size_t len = strcspn(s, "|");
      names[n++] = arena_printf(arena, "%.*s", (int)len, s);
      s += len + (s[len] == '|');
    }
  }
  const char *foreign = foreign_hint(FOREIGN_ARGUMENT, name);
  const char *best = diag_suggest(name, names, n);
  if (foreign)
    diag_hint(d, "%s", foreign);
  else if (best)
    diag_hint(d, "did you mean '%s'?", best);
  else if (listed)
    diag_hint(d, "%s takes %s", spec->fn, sema_name_list(arena, shown, listed, ""));
  else
    diag_hint(d, "%s has no parameters; write just %s", spec->fn, spec->fn);
}

static void wrong_count(Diag *d, const AstNode *call, const ArgSpec *spec, int given) {
  int lo = spec->required, hi = spec->positional;
  if (lo == hi)
    diag_error(d, call->loc, "%s takes %d argument%s, got %d", spec->fn, lo, lo == 1 ? "" : "s",
               given);
  else
    diag_error(d, call->loc, "%s takes %d to %d arguments, got %d", spec->fn, lo, hi, given);
}

bool args_bind(Diag *d, Arena *arena, const AstNode *call, const ArgSpec *spec,
               const AstNode *out[MAX_ARGS]) {
  const AstNode *args = call->kind == AST_CALL ? call->u.call.args : NULL;
  int npos = 0;
  bool ok = true, too_many = false;
  for (int i = 0; i < MAX_ARGS; i++)
    out[i] = NULL;
  for (const AstNode *a = args; a; a = a->next) {
    int slot;
    if (a->kind != AST_KWARG) {
      slot = npos++;
      if (slot >= spec->positional) {
        if (spec->positional_msg)
          diag_error(d, a->loc, "%s", spec->positional_msg);
        too_many = true;
        continue;
      }
    } else if ((slot = param_of(spec, a->u.kwarg.name)) < 0) {
      unknown_keyword(d, arena, spec, a);
      ok = false;
      continue;
    }
    if (out[slot]) {
      diag_error(d, a->loc, "argument '%.*s' of %s is given twice", param_len(spec->params[slot]),
                 spec->params[slot], spec->fn);
      diag_note(d, out[slot]->loc, "it is first given here");
      ok = false;
      continue;
    }
    out[slot] = a;
  }
  if (too_many && spec->positional_msg)
    return false;
  if (!ok)
    return false;
  bool missing = false;
  for (int i = 0; i < spec->required; i++)
    missing |= !out[i];
  if (!too_many && !missing)
    return true;
  wrong_count(d, call, spec, ast_length(args));
  return false;
}

/* sema: the entry point (sema_check), models and their declarations, class targets, and the
 * constant numbers every setting is evaluated with. Contract: sema.h; the train block is
 * checked in sema_train.c, its data sources in sema_data.c and sema_csv.c. */
/* realpath is POSIX.1-2008 XSI, not base POSIX. */
#define _XOPEN_SOURCE 700

#include "sema_internal.h"
#include "strmap.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* --- constants --- */

/* A constant number: numbers combined by + - * / and unary minus (1/255, 1e-3, -0.5). */
bool sema_const_eval(const AstNode *e, double *out) {
  double a, b;
  switch (e->kind) {
  case AST_NUM: *out = e->u.num.value; return true;
  case AST_NEG:
    if (!sema_const_eval(e->u.unary.operand, &a))
      return false;
    *out = -a;
    return true;
  case AST_BINARY:
    if (!sema_const_eval(e->u.binary.lhs, &a) || !sema_const_eval(e->u.binary.rhs, &b))
      return false;
    switch (e->u.binary.op) {
    case BIN_ADD: *out = a + b; return true;
    case BIN_SUB: *out = a - b; return true;
    case BIN_MUL: *out = a * b; return true;
    case BIN_DIV: *out = a / b; return true;
    default: return false;
    }
  default: return false;
  }
}

/* --- shapes of declarations --- */

/* K of `target y : class(K)` when it is well formed, else 0. */
static int class_count(const AstNode *decl) {
  const AstNode *v = decl->kind == AST_TARGET ? decl->u.decl.value : NULL;
  double k;
  if (!v || v->kind != AST_CALL || strcmp(v->u.call.name, "class") != 0 || !v->u.call.args ||
      v->u.call.args->next || v->u.call.args->kind == AST_KWARG ||
      !sema_const_eval(v->u.call.args, &k) || k != floor(k) || k < 1 || k > MAX_CLASSES)
    return 0;
  return (int)k;
}

Shape sema_decl_shape(const AstNode *decl) {
  Shape s = shape_scalar();
  int k = class_count(decl);
  if (k > 0) {
    s.dim[s.rank++] = k;
    return s;
  }
  for (const AstNode *d = decl->u.decl.dims; d && s.rank < NNC_MAX_RANK; d = d->next)
    s.dim[s.rank++] = (int64_t)d->u.num.value;
  return s;
}

int64_t sema_decl_width(const AstNode *decl) {
  Shape s = sema_decl_shape(decl);
  return shape_numel(&s, 1);
}

/* --- declarations of a model block --- */

/* At most NNC_MAX_RANK axes (the batch axis counts for inputs and targets), and at most
 * NNC_MAX_ELEMENTS elements per row, computed without overflowing. */
static bool check_rank(Diag *d, const AstNode *decl) {
  int rank = ast_length(decl->u.decl.dims);
  int limit = NNC_MAX_RANK - (decl->kind == AST_PARAM ? 0 : 1);
  if (rank > limit) {
    diag_error(d, decl->loc, "'%s' has %d dimensions; at most %d are supported here",
               decl->u.decl.name, rank, limit);
    return false;
  }
  int64_t size = 1;
  for (const AstNode *dim = decl->u.decl.dims; dim; dim = dim->next) {
    int64_t k = (int64_t)dim->u.num.value;
    if (k > 0 && size > NNC_MAX_ELEMENTS / k) {
      diag_error(d, decl->loc, "'%s' has more than 2^31 elements, the largest tensor nnc plans",
                 decl->u.decl.name);
      return false;
    }
    size *= k;
  }
  return true;
}

const char *const sema_decl_word[] = {
  [AST_INPUT] = "input", [AST_TARGET] = "target", [AST_PARAM] = "param",
  [AST_LOSS] = "loss",   [AST_OUTPUT] = "output",
};

/* A declaration that may appear once per model: input, target, loss, output. */
static void take_unique(Diag *d, ModelDecl *slot, const AstNode *it) {
  if (slot->present) {
    diag_error(d, it->loc, "a model has one %s; this is a second", sema_decl_word[it->kind]);
    diag_note(d, slot->loc, "the first is here");
    return;
  }
  Shape shape = it->kind == AST_INPUT || it->kind == AST_TARGET ? sema_decl_shape(it) : (Shape){0};
  /* a shape past the limit is reported by the declaration's check; its width is not counted */
  *slot = (ModelDecl){.present = true, .name = it->u.decl.name, .shape = shape,
                      .width = shape_fits(&shape) ? shape_numel(&shape, 1) : 0, .loc = it->loc};
}

/* `defined` maps each name declared so far to its first declaration. */
static void check_duplicate(Diag *d, const Model *m, const AstNode *it, StrMap *defined) {
  const char *name = it->u.decl.name;
  if (!name || it->kind == AST_LOSS)
    return;
  const AstNode *prev = strmap_get(defined, name);
  if (!prev) {
    strmap_put(defined, name, (void *)it);
    return;
  }
  diag_error(d, it->u.decl.name_loc, "'%s' is already defined in model '%s'", name, m->name);
  diag_note(d, prev->u.decl.name_loc, "'%s' was defined here", name);
}

/* target y : class(K): K labels 0..K-1, one per row, one-hot inside the model. */
static void check_target_kind(Sema *s, Model *m, const AstNode *it) {
  const AstNode *v = it->u.decl.value;
  if (!v)
    return;
  const char *name = v->kind == AST_CALL ? v->u.call.name : v->kind == AST_NAME ? v->u.name.name
                                                                                : NULL;
  if (!name) {
    diag_error(s->d, v->loc, "a target's kind must be class(K), e.g. 'target %s : class(10)'",
               it->u.decl.name);
    return;
  }
  if (strcmp(name, "class") != 0) {
    diag_error(s->d, v->loc, "unknown target kind '%s'", name);
    static const char *const kinds[] = {"class"};
    if (diag_suggest(name, kinds, 1))
      diag_hint(s->d, "did you mean 'class'?");
    else
      diag_hint(s->d, "class labels are written 'target %s : class(10)'", it->u.decl.name);
    return;
  }
  const AstNode *arg = v->kind == AST_CALL ? v->u.call.args : NULL;
  if (!arg) {
    diag_error(s->d, v->loc, "class needs the number of classes, e.g. class(10)");
    return;
  }
  if (arg->next || arg->kind == AST_KWARG) {
    diag_error(s->d, v->loc, "class takes one argument, the number of classes");
    return;
  }
  double k;
  if (arg->kind == AST_STRING || !sema_const_eval(arg, &k) || k != floor(k) || k < 1 ||
      k > MAX_CLASSES) {
    diag_error(s->d, arg->loc, "the number of classes must be a positive integer (at most %d)",
               MAX_CLASSES);
    return;
  }
  if (it->u.decl.dims) {
    diag_error(s->d, it->u.decl.dims->loc,
               "a class target takes no dimensions: each row has one integer label");
    diag_hint(s->d, "write 'target %s : class(%d)'", it->u.decl.name, (int)k);
    return;
  }
  m->n_classes = (int)k;
}

/* Strings name files and classes in train blocks; in a model they are only a call's options
 * (padding = "same"), which lowering reads. */
static void no_strings(Sema *s, const AstNode *e) {
  switch (e->kind) {
  case AST_STRING: diag_error(s->d, e->loc, "a string cannot be used in a model's expressions"); break;
  case AST_BINARY:
    no_strings(s, e->u.binary.lhs);
    no_strings(s, e->u.binary.rhs);
    break;
  case AST_NEG: no_strings(s, e->u.unary.operand); break;
  case AST_KWARG: no_strings(s, e->u.kwarg.value); break;
  case AST_CALL:
    for (const AstNode *a = e->u.call.args; a; a = a->next)
      if (args_value(a)->kind != AST_STRING)
        no_strings(s, a);
    break;
  case AST_ARRAY:
    for (const AstNode *a = e->u.array.elems; a; a = a->next)
      no_strings(s, a);
    break;
  default: break;
  }
}

static void check_model_item(Sema *s, Model *m, const AstNode *it, StrMap *defined) {
  Diag *d = s->d;
  switch (it->kind) {
  case AST_INPUT:
    check_rank(d, it);
    take_unique(d, &m->input, it);
    break;
  case AST_TARGET:
    check_rank(d, it);
    check_target_kind(s, m, it);
    take_unique(d, &m->target, it);
    break;
  case AST_PARAM:
    check_rank(d, it);
    break;
  case AST_LOSS:
    take_unique(d, &m->loss, it);
    break;
  case AST_OUTPUT:
    take_unique(d, &m->output, it);
    break;
  case AST_LET:
    break;
  default:
    diag_error(d, it->loc, "a setting belongs in a train block, not in model '%s'", m->name);
    return;
  }
  if (it->kind != AST_TARGET && it->u.decl.value)
    no_strings(s, it->u.decl.value);
  check_duplicate(d, m, it, defined);
}

/* The operations nested in e, counting through each name the depth of its definition
 * (depths maps names to it; names are defined before their use). */
static intptr_t expr_depth(const AstNode *e, StrMap *depths) {
  intptr_t d = 0;
  switch (e->kind) {
  case AST_NAME: return (intptr_t)strmap_get(depths, e->u.name.name);
  case AST_KWARG: return expr_depth(e->u.kwarg.value, depths);
  case AST_NEG: return 1 + expr_depth(e->u.unary.operand, depths);
  case AST_BINARY: {
    intptr_t l = expr_depth(e->u.binary.lhs, depths), r = expr_depth(e->u.binary.rhs, depths);
    return 1 + (l > r ? l : r);
  }
  case AST_CALL:
  case AST_ARRAY:
    for (const AstNode *a = e->kind == AST_CALL ? e->u.call.args : e->u.array.elems; a;
         a = a->next) {
      intptr_t k = expr_depth(a, depths);
      d = k > d ? k : d;
    }
    return 1 + d;
  default: return 0;
  }
}

/* One error for the first value nested deeper than MAX_DEPTH; true when there is none. */
static bool check_depth(Sema *s, const AstNode *it, StrMap *depths) {
  if ((it->kind != AST_LET && it->kind != AST_LOSS && it->kind != AST_OUTPUT) ||
      !it->u.decl.value)
    return true;
  intptr_t d = expr_depth(it->u.decl.value, depths);
  if (d > MAX_DEPTH) {
    diag_error(s->d, it->loc,
               "'%s' is more than %d operations deep, counting through the values it uses "
               "(the limit is %d)",
               it->u.decl.name ? it->u.decl.name : sema_decl_word[it->kind], MAX_DEPTH,
               MAX_DEPTH);
    return false;
  }
  if (it->u.decl.name)
    strmap_put(depths, it->u.decl.name, (void *)d);
  return true;
}

static void check_model(Sema *s, Model *m) {
  StrMap defined, depths;
  strmap_init(&defined, s->arena);
  strmap_init(&depths, s->arena);
  bool shallow = true;
  for (const AstNode *it = m->body; it; it = it->next) {
    check_model_item(s, m, it, &defined);
    shallow = shallow && check_depth(s, it, &depths);
  }
  if (!m->input.present)
    diag_error(s->d, m->loc, "model '%s' has no input; declare one, e.g. 'input x[2]'",
               m->name);
  if (!m->output.present)
    diag_error(s->d, m->loc, "model '%s' has no output; declare one, e.g. 'output y'",
               m->name);
}

/* --- the file --- */

/* The absolute directory of the source file, for relative data paths. */
static const char *source_dir(Arena *arena, const Diag *d) {
  const char *name = !d->src ? NULL : d->src->paths_from ? d->src->paths_from : d->src->name;
  if (!name)
    return NULL;
  const char *slash = strrchr(name, '/');
  const char *dir = !slash ? "." : slash == name ? "/" : arena_strndup(arena, name,
                                                                      (size_t)(slash - name));
  char *real = realpath(dir, NULL);
  if (!real)
    return NULL;
  const char *out = strcmp(real, "/") ? arena_strdup(arena, real) : "";
  free(real);
  return out;
}

static Model *find_model(Model **models, int n, const char *name) {
  for (int i = 0; i < n; i++)
    if (!strcmp(models[i]->name, name))
      return models[i];
  return NULL;
}

static void unknown_model(Sema *s, Model **models, int n, const char *want) {
  const char **names = ARENA_ARRAY(s->arena, const char *, n);
  for (int i = 0; i < n; i++)
    names[i] = models[i]->name;
  diag_error(s->d, (Loc){0}, "no model named '%s' in this file; it has %s", want,
             sema_name_list(s->arena, names, n, "'"));
  const char *best = diag_suggest(want, names, n);
  if (best)
    diag_hint(s->d, "did you mean '%s'?", best);
}

Model *sema_check(Arena *arena, Diag *d, const AstNode *items, const char *want) {
  Sema s = {.arena = arena, .d = d, .dir = source_dir(arena, d)};
  int n = 0;
  for (const AstNode *it = items; it; it = it->next)
    n += it->kind == AST_MODEL;
  Model **models = ARENA_ARRAY(arena, Model *, n + 1);
  bool *sound = ARENA_ARRAY(arena, bool, n + 1); /* the model block itself has no errors */
  n = 0;
  for (const AstNode *it = items; it; it = it->next) {
    if (it->kind != AST_MODEL)
      continue;
    Model *prev = find_model(models, n, it->u.block.name);
    if (prev) {
      diag_error(d, it->loc, "a second model named '%s'", it->u.block.name);
      diag_note(d, prev->loc, "the first is here");
      continue;
    }
    Model *m = ARENA_NEW(arena, Model);
    m->name = it->u.block.name;
    m->loc = it->loc;
    m->body = it->u.block.items;
    int before = diag_count(d);
    check_model(&s, m);
    sound[n] = diag_count(d) == before;
    models[n++] = m;
  }
  if (!n) {
    diag_error(d, (Loc){0}, "no model in this file; write 'model NAME { ... }'");
    return NULL;
  }
  for (const AstNode *it = items; it; it = it->next) {
    if (it->kind != AST_TRAIN)
      continue;
    Model *m = find_model(models, n, it->u.block.name);
    if (m) {
      sema_check_train(&s, m, it);
      continue;
    }
    diag_error(d, it->loc, "train block for unknown model '%s'", it->u.block.name);
    const char **names = ARENA_ARRAY(arena, const char *, n);
    for (int i = 0; i < n; i++)
      names[i] = models[i]->name;
    const char *best = diag_suggest(it->u.block.name, names, n);
    if (best)
      diag_hint(d, "did you mean '%s'?", best);
  }
  for (int i = 0; i < n; i++)
    if (want ? !strcmp(models[i]->name, want) : i == 0)
      return sound[i] ? models[i] : NULL;
  unknown_model(&s, models, n, want);
  return NULL;
}

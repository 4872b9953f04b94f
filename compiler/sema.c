#include "sema.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

enum { MAX_CLASSES = 1000000 };

/* One sema_check: where things are allocated and reported, and the directory that relative data
 * paths are resolved against (absolute; NULL when the source's directory cannot be resolved). */
typedef struct {
  Arena *arena;
  Diag *d;
  const char *dir;
} Sema;

/* --- constants --- */

/* A constant number: numbers combined by + - * / and unary minus (1/255, 1e-3, -0.5). */
static bool const_eval(const AstNode *e, double *out) {
  double a, b;
  switch (e->kind) {
  case AST_NUM: *out = e->u.num.value; return true;
  case AST_NEG:
    if (!const_eval(e->u.unary.operand, &a))
      return false;
    *out = -a;
    return true;
  case AST_BINARY:
    if (!const_eval(e->u.binary.lhs, &a) || !const_eval(e->u.binary.rhs, &b))
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

/* A number for `what`, or an error at e: strings and non-constants are the usual mistakes. */
static bool eval_number(Sema *s, const AstNode *e, const char *what, double *out) {
  if (e->kind == AST_STRING) {
    diag_error(s->d, e->loc, "'%s' must be a number, not a string", what);
    return false;
  }
  if (!const_eval(e, out)) {
    diag_error(s->d, e->loc, "'%s' must be a constant number", what);
    return false;
  }
  if (!isfinite(*out)) {
    diag_error(s->d, e->loc, "'%s' must be a finite number", what);
    return false;
  }
  return true;
}

static bool eval_int(Sema *s, const AstNode *e, const char *what, int64_t lo, int64_t hi,
                     int64_t *out) {
  double v;
  if (e->kind == AST_STRING) {
    diag_error(s->d, e->loc, "'%s' must be a number, not a string", what);
    return false;
  }
  if (!const_eval(e, &v) || v != floor(v) || v < (double)lo || v > (double)hi) {
    diag_error(s->d, e->loc, "'%s' must be an integer >= %lld", what, (long long)lo);
    return false;
  }
  *out = (int64_t)v;
  return true;
}

static bool eval_bool(Sema *s, const AstNode *e, const char *what, bool *out) {
  if (e->kind == AST_NAME && (!strcmp(e->u.name.name, "true") || !strcmp(e->u.name.name, "false"))) {
    *out = e->u.name.name[0] == 't';
    return true;
  }
  diag_error(s->d, e->loc, "'%s' must be true or false", what);
  return false;
}

/* The ranges a numeric argument may be required to lie in, each with its own message. */
typedef enum { R_ANY, R_POSITIVE, R_NONNEG, R_UNIT, R_FRACTION, R_CLOSED, R_OPEN } Range;

static bool eval_ranged(Sema *s, const AstNode *e, const char *what, Range r, double *out) {
  double v;
  if (!eval_number(s, e, what, &v))
    return false;
  static const char *const msg[] = {
    [R_POSITIVE] = "'%s' must be a positive number",
    [R_NONNEG] = "'%s' must be a number >= 0",
    [R_UNIT] = "'%s' must be at least 0 and less than 1",
    [R_FRACTION] = "'%s' must be greater than 0 and at most 1",
    [R_CLOSED] = "'%s' must be between 0 and 1",
    [R_OPEN] = "'%s' must be greater than 0 and less than 1",
  };
  bool ok = r == R_ANY || (r == R_POSITIVE && v > 0) || (r == R_NONNEG && v >= 0) ||
            (r == R_UNIT && v >= 0 && v < 1) || (r == R_FRACTION && v > 0 && v <= 1) ||
            (r == R_CLOSED && v >= 0 && v <= 1) || (r == R_OPEN && v > 0 && v < 1);
  if (!ok) {
    if (r == R_POSITIVE && !strcmp(what, "lr"))
      diag_error(s->d, e->loc, "the learning rate must be a positive number");
    else
      diag_error(s->d, e->loc, msg[r], what);
    return false;
  }
  *out = v;
  return true;
}

/* --- shapes of declarations --- */

/* K of `target y : class(K)` when it is well formed, else 0. */
static int class_count(const AstNode *decl) {
  const AstNode *v = decl->kind == AST_TARGET ? decl->u.decl.value : NULL;
  double k;
  if (!v || v->kind != AST_CALL || strcmp(v->u.call.name, "class") != 0 || !v->u.call.args ||
      v->u.call.args->next || v->u.call.args->kind == AST_KWARG ||
      !const_eval(v->u.call.args, &k) || k != floor(k) || k < 1 || k > MAX_CLASSES)
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

static int64_t decl_width(const AstNode *decl) {
  Shape s = sema_decl_shape(decl);
  return shape_numel(&s, 1);
}

/* --- declarations of a model block --- */

static const AstNode *find_decl(const AstNode *items, const AstNode *stop, const char *name) {
  for (const AstNode *it = items; it && it != stop; it = it->next)
    if (it->u.decl.name && strcmp(it->u.decl.name, name) == 0)
      return it;
  return NULL;
}

static bool check_rank(Diag *d, const AstNode *decl) {
  int rank = ast_length(decl->u.decl.dims);
  int limit = NNC_MAX_RANK - (decl->kind == AST_PARAM ? 0 : 1);
  if (rank <= limit)
    return true;
  diag_error(d, decl->loc, "'%s' has %d dimensions; at most %d are supported here",
             decl->u.decl.name, rank, limit);
  return false;
}

static const char *const decl_word[] = {
  [AST_INPUT] = "input", [AST_TARGET] = "target", [AST_PARAM] = "param",
  [AST_LOSS] = "loss",   [AST_OUTPUT] = "output",
};

/* A declaration that may appear once per model: input, target, loss, output. */
static void take_unique(Diag *d, const AstNode **slot, const AstNode *it) {
  if (*slot) {
    diag_error(d, it->loc, "a model has one %s; this is a second", decl_word[it->kind]);
    diag_note(d, (*slot)->loc, "the first is here");
    return;
  }
  *slot = it;
}

static void check_duplicate(Diag *d, const AstNode *model, const AstNode *it) {
  const char *name = it->u.decl.name;
  if (!name || it->kind == AST_LOSS)
    return;
  const AstNode *prev = find_decl(model->u.block.items, it, name);
  if (prev && prev->kind != AST_LOSS) {
    diag_error(d, it->u.decl.name_loc, "'%s' is already defined in model '%s'", name,
               model->u.block.name);
    diag_note(d, prev->u.decl.name_loc, "'%s' was defined here", name);
  }
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
  if (arg->kind == AST_STRING || !const_eval(arg, &k) || k != floor(k) || k < 1 ||
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

/* Strings name files and classes in train blocks; in a model they mean nothing. */
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
      no_strings(s, a);
    break;
  case AST_ARRAY:
    for (const AstNode *a = e->u.array.elems; a; a = a->next)
      no_strings(s, a);
    break;
  default: break;
  }
}

static void check_model_item(Sema *s, Model *m, const AstNode *it) {
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
  check_duplicate(d, m->ast, it);
}

static void check_model(Sema *s, Model *m) {
  for (const AstNode *it = m->ast->u.block.items; it; it = it->next)
    check_model_item(s, m, it);
  if (!m->input)
    diag_error(s->d, m->ast->loc, "model '%s' has no input; declare one, e.g. 'input x[2]'",
               m->name);
  if (!m->output)
    diag_error(s->d, m->ast->loc, "model '%s' has no output; declare one, e.g. 'output y'",
               m->name);
}

/* --- arguments of the calls in settings: sgd(...), step(...), csv(...) --- */

enum { MAX_ARGS = 12, MAX_POS = 2 };

typedef struct {
  const char *fn;           /* the call's name, for messages */
  const char *const *names; /* the keyword arguments it takes, NULL-terminated */
  const AstNode *val[MAX_ARGS];
  const AstNode *pos[MAX_POS];
  int npos;
} Args;

static int name_index(const char *const *names, const char *name) {
  for (int i = 0; names[i]; i++)
    if (!strcmp(names[i], name))
      return i;
  return -1;
}

static int count_names(const char *const *names) {
  int n = 0;
  while (names[n])
    n++;
  return n;
}

/* "a, b and c" */
static const char *name_list(Arena *a, const char *const *names, int n, const char *quote) {
  const char *list = "";
  for (int i = 0; i < n; i++)
    list = arena_printf(a, "%s%s%s%s%s", list, i == 0 ? "" : i + 1 < n ? ", " : " and ", quote,
                        names[i], quote);
  return list;
}

/* Sorts call's arguments into a: keyword ones by name, at most max_pos positional ones (more
 * get pos_msg). Unknown and repeated names are errors. */
static void collect_args(Sema *s, const AstNode *call, Args *a, int max_pos, const char *pos_msg) {
  for (const AstNode *arg = call->kind == AST_CALL ? call->u.call.args : NULL; arg;
       arg = arg->next) {
    if (arg->kind != AST_KWARG) {
      if (a->npos < max_pos)
        a->pos[a->npos++] = arg;
      else
        diag_error(s->d, arg->loc, "%s", pos_msg);
      continue;
    }
    int i = name_index(a->names, arg->u.kwarg.name);
    if (i < 0) {
      int n = count_names(a->names);
      diag_error(s->d, arg->loc, "%s has no argument '%s'", a->fn, arg->u.kwarg.name);
      const char *best = diag_suggest(arg->u.kwarg.name, a->names, n);
      if (best)
        diag_hint(s->d, "did you mean '%s'?", best);
      else if (n)
        diag_hint(s->d, "%s takes %s", a->fn, name_list(s->arena, a->names, n, ""));
      else
        diag_hint(s->d, "%s takes no arguments", a->fn);
    } else if (a->val[i]) {
      diag_error(s->d, arg->loc, "argument '%s' is given twice", arg->u.kwarg.name);
      diag_note(s->d, a->val[i]->loc, "it is first given here");
    } else {
      a->val[i] = arg->u.kwarg.value;
    }
  }
}

/* The argument named name, if given. */
static const AstNode *arg_of(const Args *a, const char *name) {
  int i = name_index(a->names, name);
  return i >= 0 ? a->val[i] : NULL;
}

static void arg_ranged(Sema *s, const Args *a, const char *name, Range r, double *out) {
  const AstNode *v = arg_of(a, name);
  if (v)
    eval_ranged(s, v, name, r, out);
}

/* The name of `NAME` or `NAME(...)`, or NULL. */
static const char *callee(const AstNode *v) {
  return v->kind == AST_CALL ? v->u.call.name : v->kind == AST_NAME ? v->u.name.name : NULL;
}

static void unknown_choice(Sema *s, const AstNode *v, const char *what, const char *name,
                           const char *const *names, int n) {
  diag_error(s->d, v->loc, "unknown %s '%s'", what, name);
  const char *best = diag_suggest(name, names, n);
  if (best)
    diag_hint(s->d, "did you mean '%s'?", best);
  else
    diag_hint(s->d, "the %ss are %s", what, name_list(s->arena, names, n, ""));
}

/* --- optimizer = sgd(...) | adam(...) | adamw(...) | rmsprop(...) --- */

static const char *const opt_names[] = {"sgd", "adam", "adamw", "rmsprop", NULL};
static const char *const *const opt_args[] = {
  (const char *const[]){"lr", "momentum", "nesterov", "weight_decay", NULL},
  (const char *const[]){"lr", "beta1", "beta2", "eps", NULL},
  (const char *const[]){"lr", "beta1", "beta2", "eps", "weight_decay", NULL},
  (const char *const[]){"lr", "rho", "eps", "momentum", NULL},
};
/* Keras's defaults. */
static const OptimizerSettings opt_defaults[] = {
  {.kind = OPT_SGD, .lr = 0.01},
  {.kind = OPT_ADAM, .lr = 0.001, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-7},
  {.kind = OPT_ADAMW, .lr = 0.001, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-7,
   .weight_decay = 0.01},
  {.kind = OPT_RMSPROP, .lr = 0.001, .rho = 0.9, .eps = 1e-7},
};

static void optimizer_setting(Sema *s, const AstNode *v, TrainSettings *t) {
  const char *name = callee(v);
  if (!name) {
    diag_error(s->d, v->loc, "the optimizer must be sgd, adam, adamw or rmsprop, e.g. "
               "'adam(lr = 0.001)'");
    return;
  }
  int k = name_index(opt_names, name);
  if (k < 0) {
    unknown_choice(s, v, "optimizer", name, opt_names, 4);
    return;
  }
  OptimizerSettings o = opt_defaults[k];
  Args a = {.fn = opt_names[k], .names = opt_args[k]};
  collect_args(s, v, &a, 0,
               arena_printf(s->arena, "%s takes named arguments only, e.g. %s(lr = %g)",
                            opt_names[k], opt_names[k], o.lr));
  arg_ranged(s, &a, "lr", R_POSITIVE, &o.lr);
  arg_ranged(s, &a, "momentum", R_UNIT, &o.momentum);
  arg_ranged(s, &a, "weight_decay", R_NONNEG, &o.weight_decay);
  arg_ranged(s, &a, "beta1", R_UNIT, &o.beta1);
  arg_ranged(s, &a, "beta2", R_UNIT, &o.beta2);
  arg_ranged(s, &a, "rho", R_UNIT, &o.rho);
  arg_ranged(s, &a, "eps", R_POSITIVE, &o.eps);
  const AstNode *nesterov = arg_of(&a, "nesterov");
  if (nesterov && eval_bool(s, nesterov, "nesterov", &o.nesterov) && o.nesterov &&
      !(o.momentum > 0)) {
    diag_error(s->d, nesterov->loc, "nesterov needs momentum > 0");
    diag_hint(s->d, "e.g. sgd(lr = 0.01, momentum = 0.9, nesterov = true)");
  }
  t->opt = o;
}

/* --- schedule = constant | step(...) | exponential(...) | cosine(...) --- */

static const char *const sched_names[] = {"constant", "step", "exponential", "cosine", NULL};
static const char *const *const sched_args[] = {
  (const char *const[]){NULL},
  (const char *const[]){"factor", "every", NULL},
  (const char *const[]){"rate", NULL},
  (const char *const[]){"final", NULL},
};

static void schedule_setting(Sema *s, const AstNode *v, TrainSettings *t) {
  const char *name = callee(v);
  if (!name) {
    diag_error(s->d, v->loc, "the schedule must be constant, step, exponential or cosine, e.g. "
               "'cosine(final = 0)'");
    return;
  }
  int k = name_index(sched_names, name);
  if (k < 0) {
    unknown_choice(s, v, "schedule", name, sched_names, 4);
    return;
  }
  static const char *const example[] = {"constant", "step(factor = 0.5, every = 10)",
                                        "exponential(rate = 0.96)", "cosine(final = 0)"};
  ScheduleSettings sc = {.kind = (ScheduleKind)k, .warmup_epochs = t->sched.warmup_epochs};
  if (k == SCHED_STEP)
    sc.a = 0.5, sc.b = 10;
  else if (k == SCHED_EXPONENTIAL)
    sc.a = 0.96;
  Args a = {.fn = sched_names[k], .names = sched_args[k]};
  collect_args(s, v, &a, 0,
               arena_printf(s->arena, "%s takes named arguments only, e.g. %s", sched_names[k],
                            example[k]));
  arg_ranged(s, &a, "factor", R_FRACTION, &sc.a);
  arg_ranged(s, &a, "rate", R_FRACTION, &sc.a);
  arg_ranged(s, &a, "final", R_CLOSED, &sc.a);
  const AstNode *every = arg_of(&a, "every");
  int64_t n;
  if (every && eval_int(s, every, "every", 1, INT_MAX, &n))
    sc.b = (double)n;
  t->sched = sc;
}

/* --- data sources --- */

static int64_t input_width(const Model *m) { return m->input ? decl_width(m->input) : 0; }

/* A table's rows against the input and target: widths, and class labels in range. */
static void check_rows(Diag *d, const Model *m, const AstNode *table) {
  int64_t nin = input_width(m), nout = m->target ? decl_width(m->target) : 0;
  for (const AstNode *r = table->u.table.rows; r; r = r->next) {
    if (m->input && r->u.row.n_in != nin)
      diag_error(d, r->loc, "this row has %d input value%s; input '%s' has %lld", r->u.row.n_in,
                 r->u.row.n_in == 1 ? "" : "s", m->input->u.decl.name, (long long)nin);
    if (!m->target)
      continue;
    if (m->n_classes) {
      double k = r->u.row.n_out == 1 ? r->u.row.out->u.num.value : 0;
      if (r->u.row.n_out != 1)
        diag_error(d, r->loc, "this row has %d target values; class target '%s' takes one label",
                   r->u.row.n_out, m->target->u.decl.name);
      else if (k != floor(k))
        diag_error(d, r->loc, "class label %g is not an integer", k);
      else if (k < 0 || k >= m->n_classes)
        diag_error(d, r->loc, "class label %g is out of range: target '%s' has classes 0 to %d",
                   k, m->target->u.decl.name, m->n_classes - 1);
    } else if (r->u.row.n_out != nout) {
      diag_error(d, r->loc, "this row has %d target value%s; target '%s' has %lld",
                 r->u.row.n_out, r->u.row.n_out == 1 ? "" : "s", m->target->u.decl.name,
                 (long long)nout);
    }
  }
}

/* A relative path is taken from the .nn file's directory, like C's #include "...". */
static const char *resolve_path(Sema *s, const char *path) {
  if (path[0] == '/' || !s->dir)
    return path;
  return arena_printf(s->arena, "%s/%s", s->dir, path);
}

/* A file-name argument: a non-empty string. */
static const char *path_arg(Sema *s, const AstNode *e) {
  if (e->kind != AST_STRING) {
    diag_error(s->d, e->loc, "a file name must be a string in double quotes, e.g. \"data.csv\"");
    return NULL;
  }
  if (!e->u.str.value[0]) {
    diag_error(s->d, e->loc, "the file name is empty");
    return NULL;
  }
  return resolve_path(s, e->u.str.value);
}

static void open_error(Sema *s, const AstNode *path, int err) {
  diag_error(s->d, path->loc, "cannot open data file '%s': %s", path->u.str.value,
             strerror(err));
  if (path->u.str.value[0] != '/' && err == ENOENT)
    diag_hint(s->d, "a relative path is taken from the directory of the .nn file");
}

/* scale = k, standardize = true/false: how the inputs are scaled when loaded. */
static void scaling_args(Sema *s, const Args *a, DataSettings *out) {
  const AstNode *scale = arg_of(a, "scale"), *standardize = arg_of(a, "standardize");
  bool std = false;
  out->scaling = SCALE_NONE;
  out->scale = 1;
  if (scale && eval_number(s, scale, "scale", &out->scale)) {
    if (out->scale == 0)
      diag_error(s->d, scale->loc, "'scale' must not be 0");
    out->scaling = SCALE_FACTOR;
  }
  if (standardize && eval_bool(s, standardize, "standardize", &std) && std) {
    if (scale)
      diag_error(s->d, standardize->loc, "give either scale or standardize = true, not both");
    out->scaling = SCALE_STANDARDIZE;
  }
}

/* ---- idx files: the header only (magic 00 00 08 n, then n big-endian 32-bit sizes) ---- */

typedef struct {
  int ndims;
  uint32_t dim[8];
} IdxHeader;

static bool idx_header(Sema *s, const AstNode *path_node, const char *path, IdxHeader *h) {
  const char *name = path_node->u.str.value;
  errno = 0;
  gzFile f = gzopen(path, "rb");
  if (!f) {
    open_error(s, path_node, errno ? errno : ENOMEM);
    return false;
  }
  unsigned char head[4 + 4 * 8];
  int n = gzread(f, head, 4);
  bool ok = false;
  if (n < 0) {
    int zerr;
    const char *msg = gzerror(f, &zerr);
    diag_error(s->d, path_node->loc, "cannot read data file '%s': %s", name,
               zerr == Z_ERRNO ? strerror(errno) : msg);
  } else if (n < 4 || head[0] != 0 || head[1] != 0 || head[3] == 0 || head[3] > 8) {
    diag_error(s->d, path_node->loc, "'%s' is not an idx file (its header is wrong)", name);
  } else if (head[2] != 0x08) {
    diag_error(s->d, path_node->loc,
               "'%s' holds idx type 0x%02X; only unsigned bytes (0x08) are supported", name,
               head[2]);
  } else if (gzread(f, head + 4, 4u * head[3]) != 4 * head[3]) {
    diag_error(s->d, path_node->loc, "'%s' is not an idx file (its header is cut short)", name);
  } else {
    h->ndims = head[3];
    for (int i = 0; i < h->ndims; i++) {
      const unsigned char *p = head + 4 + 4 * i;
      h->dim[i] = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
    }
    ok = true;
  }
  gzclose(f);
  return ok;
}

static const char *const idx_arg_names[] = {"scale", "standardize", "positive", NULL};

/* positive = K: one class against the rest, for a real-valued target one value wide. */
static void positive_arg(Sema *s, const Model *m, const Args *a, DataSettings *out) {
  const AstNode *v = arg_of(a, "positive");
  int64_t k;
  if (!v || !eval_int(s, v, "positive", 0, MAX_CLASSES, &k))
    return;
  if (m->n_classes)
    diag_error(s->d, v->loc, "'positive' turns labels into a 0/1 target, but target '%s' is a "
               "class target", m->target->u.decl.name);
  else if (m->target && decl_width(m->target) != 1)
    diag_error(s->d, v->loc, "'positive' gives one 0/1 value per row; target '%s' has %lld",
               m->target->u.decl.name, (long long)decl_width(m->target));
  out->one_vs_rest = true;
  out->positive = (int)k;
}

static void idx_source(Sema *s, const Model *m, const AstNode *v, DataSettings *out) {
  Args a = {.fn = "idx", .names = idx_arg_names};
  collect_args(s, v, &a, 2, "idx takes two file names, images and labels; give the others by "
               "name, e.g. scale = 1/255");
  scaling_args(s, &a, out);
  positive_arg(s, m, &a, out);
  if (a.npos < 2) {
    diag_error(s->d, v->loc, "idx needs two file names: idx(\"images.gz\", \"labels.gz\")");
    return;
  }
  out->path = path_arg(s, a.pos[0]);
  out->labels_path = path_arg(s, a.pos[1]);
  IdxHeader img, lab;
  bool have_img = out->path && idx_header(s, a.pos[0], out->path, &img);
  bool have_lab = out->labels_path && idx_header(s, a.pos[1], out->labels_path, &lab);
  if (have_img && img.ndims < 2) {
    diag_error(s->d, a.pos[0]->loc, "idx images file '%s' has 1 dimension; images need a count "
               "and at least one more", a.pos[0]->u.str.value);
    have_img = false;
  }
  if (have_img && m->input) {
    uint64_t values = 1;
    char dims[128] = "";
    for (int i = 1; i < img.ndims; i++) {
      values *= img.dim[i];
      size_t len = strlen(dims);
      snprintf(dims + len, sizeof dims - len, "%s%u", i > 1 ? "\xc3\x97" : "", img.dim[i]);
    }
    int64_t want = input_width(m);
    if (values != (uint64_t)want) {
      if (img.ndims > 2)
        diag_error(s->d, v->loc, "idx file has images of %s = %llu values, input '%s' has %lld",
                   dims, (unsigned long long)values, m->input->u.decl.name, (long long)want);
      else
        diag_error(s->d, v->loc, "idx file has images of %llu values, input '%s' has %lld",
                   (unsigned long long)values, m->input->u.decl.name, (long long)want);
    }
  }
  if (have_lab && lab.ndims != 1) {
    diag_error(s->d, a.pos[1]->loc, "idx labels file '%s' has %d dimensions; labels must be "
               "1-dimensional", a.pos[1]->u.str.value, lab.ndims);
    have_lab = false;
  }
  if (have_img && have_lab && img.dim[0] != lab.dim[0])
    diag_error(s->d, v->loc, "idx files disagree: %u images but %u labels", img.dim[0],
               lab.dim[0]);
  if (m->target && !m->n_classes && decl_width(m->target) != 1 && !arg_of(&a, "positive"))
    diag_error(s->d, v->loc, "idx labels give one value per row; target '%s' has %lld",
               m->target->u.decl.name, (long long)decl_width(m->target));
}

/* ---- csv files: the first lines, to count the columns and detect a header ---- */

/* Splits a line into fields (quotes may hide delimiters); numeric[i] says whether field i is a
 * number. Returns the number of fields. */
static int csv_fields(Arena *arena, const char *line, int delim, bool **numeric) {
  int n = 1;
  bool quoted = false;
  for (const char *p = line; *p; p++) {
    if (*p == '"')
      quoted = !quoted;
    else if (*p == delim && !quoted)
      n++;
  }
  *numeric = ARENA_ARRAY(arena, bool, n);
  const char *p = line;
  for (int i = 0; i < n; i++) {
    const char *start = p;
    quoted = false;
    while (*p && (quoted || *p != delim)) {
      if (*p == '"')
        quoted = !quoted;
      p++;
    }
    while (start < p && (*start == ' ' || *start == '\t' || *start == '"'))
      start++;
    const char *stop = p;
    while (stop > start && (stop[-1] == ' ' || stop[-1] == '\t' || stop[-1] == '"'))
      stop--;
    char *field = arena_strndup(arena, start, (size_t)(stop - start)), *end;
    strtod(field, &end);
    while (*end == ' ' || *end == '\t')
      end++;
    (*numeric)[i] = end != field && *end == '\0';
    if (*p)
      p++;
  }
  return n;
}

/* The next line without its line break; NULL at end of file. The file may be gzipped. */
static char *csv_line(gzFile f, char **buf, size_t *cap) {
  size_t n = 0;
  for (;;) {
    if (*cap - n < 2) {
      *cap = *cap ? 2 * *cap : 4096;
      *buf = realloc(*buf, *cap);
      if (!*buf)
        return NULL;
    }
    if (!gzgets(f, *buf + n, (int)(*cap - n > INT_MAX ? INT_MAX : *cap - n)))
      break;
    n += strlen(*buf + n);
    if (n && (*buf)[n - 1] == '\n')
      break;
  }
  if (n == 0)
    return NULL;
  while (n > 0 && ((*buf)[n - 1] == '\n' || (*buf)[n - 1] == '\r'))
    (*buf)[--n] = '\0';
  return *buf;
}

/* Column indices: a number or an array of numbers, each a column of the file. */
static int *csv_columns(Sema *s, const AstNode *v, const char *what, int ncols, int *count) {
  const AstNode *elems = v->kind == AST_ARRAY ? v->u.array.elems : v;
  int n = v->kind == AST_ARRAY ? v->u.array.n : 1;
  int *cols = ARENA_ARRAY(s->arena, int, n);
  bool ok = true;
  int i = 0;
  for (const AstNode *e = elems; e && i < n; e = e->next, i++) {
    double c;
    if (e->kind == AST_STRING || !const_eval(e, &c) || c != floor(c) || c < 0) {
      diag_error(s->d, e->loc, "'%s' lists column numbers, integers from 0 (the first column)",
                 what);
      ok = false;
    } else if (c >= ncols) {
      diag_error(s->d, e->loc, "column %g does not exist: the file has %d column%s (0 to %d)", c,
                 ncols, ncols == 1 ? "" : "s", ncols - 1);
      ok = false;
    } else {
      for (int j = 0; j < i; j++)
        if (cols[j] == (int)c) {
          diag_error(s->d, e->loc, "column %d is listed twice", cols[j]);
          ok = false;
        }
      cols[i] = (int)c;
    }
    if (v->kind != AST_ARRAY)
      break;
  }
  *count = n;
  return ok ? cols : NULL;
}

static void csv_class_names(Sema *s, const Model *m, const AstNode *v, DataSettings *out) {
  if (!m->n_classes) {
    diag_error(s->d, v->loc, "'classes' names the labels of a class target, but %s",
               m->target ? arena_printf(s->arena, "target '%s' is real-valued",
                                        m->target->u.decl.name)
                         : "the model has no target");
    return;
  }
  if (v->kind != AST_ARRAY) {
    diag_error(s->d, v->loc, "'classes' must be an array of names, e.g. [\"cat\", \"dog\"]");
    return;
  }
  const char **names = ARENA_ARRAY(s->arena, const char *, v->u.array.n);
  int i = 0;
  bool ok = true;
  for (const AstNode *e = v->u.array.elems; e; e = e->next, i++) {
    if (e->kind != AST_STRING) {
      diag_error(s->d, e->loc, "a class name must be a string in double quotes");
      ok = false;
      continue;
    }
    names[i] = e->u.str.value;
    for (int j = 0; j < i; j++)
      if (names[j] && !strcmp(names[j], names[i])) {
        diag_error(s->d, e->loc, "class '%s' is listed twice", names[i]);
        ok = false;
      }
  }
  if (v->u.array.n != m->n_classes) {
    diag_error(s->d, v->loc, "'classes' lists %d name%s; target '%s' has %d classes",
               v->u.array.n, v->u.array.n == 1 ? "" : "s", m->target->u.decl.name,
               m->n_classes);
    ok = false;
  }
  if (ok) {
    out->n_class_names = v->u.array.n;
    out->class_names = names;
  }
}

static const char *const csv_arg_names[] = {"header", "delimiter", "features", "targets",
                                            "classes", "scale", "standardize", "positive",
                                            NULL};

static void csv_source(Sema *s, const Model *m, const AstNode *v, DataSettings *out) {
  Args a = {.fn = "csv", .names = csv_arg_names};
  collect_args(s, v, &a, 1, "csv takes one file name; give the other arguments by name, e.g. "
               "header = true");
  scaling_args(s, &a, out);
  positive_arg(s, m, &a, out);
  out->delimiter = ',';
  const AstNode *delim = arg_of(&a, "delimiter"), *header = arg_of(&a, "header");
  if (delim) {
    if (delim->kind != AST_STRING || delim->u.str.len != 1 || delim->u.str.value[0] == '"' ||
        delim->u.str.value[0] == '\n') {
      diag_error(s->d, delim->loc, "the delimiter must be one character in quotes, e.g. \";\" "
                 "or \"\\t\"");
      return; /* the columns cannot be counted */
    } else
      out->delimiter = (unsigned char)delim->u.str.value[0];
  }
  if (header)
    eval_bool(s, header, "header", &out->header);
  if (arg_of(&a, "classes"))
    csv_class_names(s, m, arg_of(&a, "classes"), out);
  if (a.npos < 1) {
    diag_error(s->d, v->loc, "csv needs a file name: csv(\"data.csv\")");
    return;
  }
  out->path = path_arg(s, a.pos[0]);
  if (!out->path)
    return;
  const char *name = a.pos[0]->u.str.value;
  errno = 0;
  gzFile f = gzopen(out->path, "rb");
  if (!f) {
    open_error(s, a.pos[0], errno ? errno : ENOMEM);
    return;
  }
  char *buf = NULL;
  size_t cap = 0;
  char *first = csv_line(f, &buf, &cap);
  first = first ? arena_strdup(s->arena, first) : NULL;
  char *second = first ? csv_line(f, &buf, &cap) : NULL;
  second = second ? arena_strdup(s->arena, second) : NULL;
  int zerr;
  const char *msg = gzerror(f, &zerr);
  if (zerr == Z_ERRNO)
    msg = strerror(errno);
  free(buf);
  gzclose(f);
  if (zerr != Z_OK && zerr != Z_BUF_ERROR) {
    diag_error(s->d, a.pos[0]->loc, "cannot read data file '%s': %s", name, msg);
    return;
  }
  if (!first || !first[0]) {
    diag_error(s->d, a.pos[0]->loc, "data file '%s' is empty", name);
    return;
  }
  bool *num1, *num2 = NULL;
  int ncols = csv_fields(s->arena, first, out->delimiter, &num1);
  int ncols2 = second ? csv_fields(s->arena, second, out->delimiter, &num2) : 0;
  /* Without header = ..., the first line is a header when one of its fields is not a number
   * where the second line has one (class names may be words in every line). */
  if (!header) {
    for (int i = 0; i < ncols; i++)
      if (!num1[i] && (!second || (i < ncols2 && num2[i])))
        out->header = true;
  }
  if (out->header && (!second || !second[0])) {
    diag_error(s->d, a.pos[0]->loc, "data file '%s' has a header line but no rows", name);
    return;
  }
  const AstNode *features = arg_of(&a, "features"), *targets = arg_of(&a, "targets");
  int nx = 0, ny = 1;
  int *x = features ? csv_columns(s, features, "features", ncols, &nx) : NULL;
  int *y = targets ? csv_columns(s, targets, "targets", ncols, &ny) : NULL;
  if ((features && !x) || (targets && !y))
    return;
  if (!targets) {
    y = ARENA_ARRAY(s->arena, int, 1);
    y[0] = ncols - 1;
  }
  for (int i = 0; i < nx; i++)
    for (int j = 0; j < ny; j++)
      if (x[i] == y[j]) {
        diag_error(s->d, features->loc, "column %d is both a feature and a target", x[i]);
        return;
      }
  out->x_cols = x;
  out->n_x_cols = nx;
  out->y_cols = y;
  out->n_y_cols = ny;
  int nfeat = features ? nx : ncols - ny;
  const AstNode *at = features ? features : v;
  if (m->input && nfeat != input_width(m))
    diag_error(s->d, at->loc, "csv file has %d feature column%s, input '%s' has %lld", nfeat,
               nfeat == 1 ? "" : "s", m->input->u.decl.name, (long long)input_width(m));
  at = targets ? targets : v;
  if (m->target && m->n_classes && ny != 1)
    diag_error(s->d, at->loc, "a class target needs exactly one target column, but %d are given",
               ny);
  else if (m->target && !m->n_classes && ny != decl_width(m->target) && !out->one_vs_rest)
    diag_error(s->d, at->loc, "csv file has %d target column%s, target '%s' has %lld", ny,
               ny == 1 ? "" : "s", m->target->u.decl.name, (long long)decl_width(m->target));
}

/* data = / validate = : table { ... } | csv(...) | idx(...) */
static void data_source(Sema *s, const Model *m, const AstNode *setting, DataSettings *out) {
  const AstNode *v = setting->u.decl.value;
  *out = (DataSettings){.ast = v, .scale = 1};
  if (v->kind == AST_TABLE) {
    if (v->u.table.n == 0)
      diag_error(s->d, v->loc, "the data table is empty");
    check_rows(s->d, m, v);
    out->kind = DATA_TABLE;
    out->table = v;
    return;
  }
  static const char *const sources[] = {"table", "csv", "idx", NULL};
  const char *name = callee(v);
  if (!name) {
    diag_error(s->d, v->loc, "'%s' must be table { inputs -> targets; ... }, csv(\"file.csv\") "
               "or idx(\"images\", \"labels\")", setting->u.decl.name);
    return;
  }
  if (!strcmp(name, "csv")) {
    out->kind = DATA_CSV;
    csv_source(s, m, v, out);
  } else if (!strcmp(name, "idx")) {
    out->kind = DATA_IDX;
    idx_source(s, m, v, out);
  } else {
    unknown_choice(s, v, "data source", name, sources, 3);
  }
}

/* --- train blocks --- */

static const char *const setting_names[] = {
  "data",   "validate", "validation_split", "optimizer", "schedule",       "warmup",
  "epochs", "batch",    "shuffle",          "seed",      "log_every",      "early_stopping",
  "checkpoint_every", NULL,
};
/* Indices into setting_names. */
enum {
  S_DATA, S_VALIDATE, S_SPLIT, S_OPTIMIZER, S_SCHEDULE, S_WARMUP, S_EPOCHS, S_BATCH, S_SHUFFLE,
  S_SEED, S_LOG_EVERY, S_EARLY_STOPPING, S_CHECKPOINT_EVERY, NSETTINGS
};

typedef struct {
  Sema *s;
  Model *m;
  TrainSettings *t;
  const AstNode *seen[NSETTINGS];
} TrainCheck;

static void unknown_setting(Diag *d, const AstNode *s) {
  diag_error(d, s->u.decl.name_loc, "unknown training setting '%s'", s->u.decl.name);
  const char *best = diag_suggest(s->u.decl.name, setting_names, NSETTINGS);
  if (best)
    diag_hint(d, "did you mean '%s'?", best);
}

static void check_setting(TrainCheck *tc, const AstNode *st) {
  Sema *s = tc->s;
  TrainSettings *t = tc->t;
  if (st->kind != AST_SETTING && st->kind != AST_LET) {
    diag_error(s->d, st->loc, "'%s' belongs in a model block, not in a train block",
               decl_word[st->kind]);
    diag_hint(s->d, "a train block holds settings such as 'epochs = 10'");
    return;
  }
  const char *name = st->u.decl.name;
  const AstNode *v = st->u.decl.value;
  int k = name_index(setting_names, name);
  if (k < 0) {
    unknown_setting(s->d, st);
    return;
  }
  if (tc->seen[k]) {
    diag_error(s->d, st->u.decl.name_loc, "'%s' is set twice", name);
    diag_note(s->d, tc->seen[k]->u.decl.name_loc, "it is first set here");
    return;
  }
  tc->seen[k] = st;
  int64_t n;
  switch (k) {
  case S_DATA: data_source(s, tc->m, st, &t->data); break;
  case S_VALIDATE: data_source(s, tc->m, st, &t->validate); break;
  case S_SPLIT: eval_ranged(s, v, name, R_OPEN, &t->validation_split); break;
  case S_OPTIMIZER: optimizer_setting(s, v, t); break;
  case S_SCHEDULE: schedule_setting(s, v, t); break;
  case S_WARMUP: eval_ranged(s, v, name, R_NONNEG, &t->sched.warmup_epochs); break;
  case S_EPOCHS: eval_int(s, v, name, 1, (int64_t)1e15, &t->epochs); break;
  case S_BATCH: eval_int(s, v, name, 1, (int64_t)1e15, &t->batch); break;
  case S_SHUFFLE: eval_bool(s, v, name, &t->shuffle); break;
  case S_SEED:
    if (eval_int(s, v, name, 0, (int64_t)1e15, &n))
      t->seed = (uint64_t)n;
    break;
  case S_LOG_EVERY: eval_int(s, v, name, 1, (int64_t)1e15, &t->log_every); break;
  case S_EARLY_STOPPING:
    if (eval_int(s, v, name, 1, INT_MAX, &n))
      t->early_stopping = (int)n;
    break;
  case S_CHECKPOINT_EVERY: eval_int(s, v, name, 1, (int64_t)1e15, &t->checkpoint_every); break;
  }
}

/* Defaults are Keras's where it has one: 32 rows a batch, shuffled; SGD's η = 0.01. */
static void check_train(Sema *s, Model *m, const AstNode *block) {
  Diag *d = s->d;
  TrainSettings *t = &m->train;
  if (t->present) {
    diag_error(d, block->loc, "model '%s' has a second train block", m->name);
    diag_note(d, t->block->loc, "the first is here");
    return;
  }
  *t = (TrainSettings){.present = true, .block = block, .epochs = 10, .batch = 32,
                       .log_every = 1, .shuffle = true, .opt = opt_defaults[OPT_SGD],
                       .sched = {.kind = SCHED_CONSTANT}};
  TrainCheck tc = {.s = s, .m = m, .t = t};
  for (const AstNode *st = block->u.block.items; st; st = st->next)
    check_setting(&tc, st);
  const AstNode *validate = tc.seen[S_VALIDATE], *split = tc.seen[S_SPLIT];
  const AstNode *early = tc.seen[S_EARLY_STOPPING];
  if (validate && split) {
    diag_error(d, split->loc, "give either validate or validation_split, not both");
    diag_note(d, validate->loc, "validate is set here");
  }
  if (early && !validate && !split) {
    diag_error(d, early->loc, "early_stopping needs validation data");
    diag_hint(d, "add 'validate = ...' or 'validation_split = 0.1'");
  }
  if (!tc.seen[S_DATA])
    diag_error(d, block->loc, "train block for '%s' has no data; add 'data = table { ... }'",
               m->name);
  if (!m->loss) {
    diag_error(d, block->loc, "model '%s' has no loss, so it cannot be trained", m->name);
    diag_note(d, m->ast->loc, "add a line such as 'loss = mean((y - target)^2)' to the model");
  }
  if (!m->target)
    diag_error(d, block->loc, "model '%s' has no target, so it cannot be trained", m->name);
}

/* --- the file --- */

/* The absolute directory of the source file, for relative data paths. */
static const char *source_dir(Arena *arena, const Diag *d) {
  const char *name = d->src ? d->src->name : NULL;
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
             name_list(s->arena, names, n, "'"));
  const char *best = diag_suggest(want, names, n);
  if (best)
    diag_hint(s->d, "did you mean '%s'?", best);
}

Model *sema_check(Arena *arena, Diag *d, const AstNode *items, const char *want) {
  Sema s = {.arena = arena, .d = d, .dir = source_dir(arena, d)};
  int before = diag_count(d);
  int n = 0;
  for (const AstNode *it = items; it; it = it->next)
    n += it->kind == AST_MODEL;
  Model **models = ARENA_ARRAY(arena, Model *, n + 1);
  n = 0;
  for (const AstNode *it = items; it; it = it->next) {
    if (it->kind != AST_MODEL)
      continue;
    Model *prev = find_model(models, n, it->u.block.name);
    if (prev) {
      diag_error(d, it->loc, "a second model named '%s'", it->u.block.name);
      diag_note(d, prev->ast->loc, "the first is here");
      continue;
    }
    Model *m = ARENA_NEW(arena, Model);
    m->name = it->u.block.name;
    m->ast = it;
    check_model(&s, m);
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
      check_train(&s, m, it);
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
  Model *chosen = want ? find_model(models, n, want) : models[0];
  if (!chosen)
    unknown_model(&s, models, n, want);
  return diag_count(d) == before ? chosen : NULL;
}

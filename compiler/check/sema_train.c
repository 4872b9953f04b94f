/* sema_train: train blocks and the values of their settings. Contract: sema_check_train checks
 * one block into m->train, with Keras's defaults for what it leaves out; the number, boolean
 * and argument helpers here check the values of every setting and data source. */
#include "foreign.h"
#include "sema_internal.h"

#include <limits.h>
#include <math.h>
#include <string.h>

/* --- numbers and booleans --- */

/* A number for `what`, or an error at e: strings and non-constants are the usual mistakes. */
bool sema_number(Sema *s, const AstNode *e, const char *what, double *out) {
  if (e->kind == AST_STRING) {
    diag_error(s->d, e->loc, "'%s' must be a number, not a string", what);
    return false;
  }
  if (!sema_const_eval(e, out)) {
    diag_error(s->d, e->loc, "'%s' must be a constant number", what);
    return false;
  }
  if (!isfinite(*out)) {
    diag_error(s->d, e->loc, "'%s' must be a finite number", what);
    return false;
  }
  return true;
}

bool sema_int(Sema *s, const AstNode *e, const char *what, int64_t lo, int64_t hi,
              int64_t *out) {
  double v;
  if (e->kind == AST_STRING) {
    diag_error(s->d, e->loc, "'%s' must be a number, not a string", what);
    return false;
  }
  if (!sema_const_eval(e, &v) || v != floor(v) || v < (double)lo || v > (double)hi) {
    diag_error(s->d, e->loc, "'%s' must be an integer >= %lld", what, (long long)lo);
    return false;
  }
  *out = (int64_t)v;
  return true;
}

bool sema_bool(Sema *s, const AstNode *e, const char *what, bool *out) {
  if (e->kind == AST_NAME && (!strcmp(e->u.name.name, "true") || !strcmp(e->u.name.name, "false"))) {
    *out = e->u.name.name[0] == 't';
    return true;
  }
  diag_error(s->d, e->loc, "'%s' must be true or false", what);
  return false;
}

bool sema_ranged(Sema *s, const AstNode *e, const char *what, Range r, double *out) {
  double v;
  if (!sema_number(s, e, what, &v))
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

/* --- arguments of the calls in settings: sgd(...), step(...), csv(...) --- */

int sema_name_index(const char *const *names, const char *name) {
  for (int i = 0; names[i]; i++)
    if (!strcmp(names[i], name))
      return i;
  return -1;
}

/* "a, b and c" (last: " and ") */
static const char *join_names(Arena *a, const char *const *names, int n, const char *quote,
                              const char *last) {
  const char *list = "";
  for (int i = 0; i < n; i++)
    list = arena_printf(a, "%s%s%s%s%s", list, i == 0 ? "" : i + 1 < n ? ", " : last, quote,
                        names[i], quote);
  return list;
}

const char *sema_name_list(Arena *a, const char *const *names, int n, const char *quote) {
  return join_names(a, names, n, quote, " and ");
}

/* "a, b or c" */
static const char *name_alternatives(Arena *a, const char *const *names, int n) {
  return join_names(a, names, n, "", " or ");
}

/* Sorts call's arguments into a through the one binder (args.c): keyword ones by name, at most
 * max_pos positional ones (more get pos_msg). */
void sema_collect_args(Sema *s, const AstNode *call, Args *a, int max_pos, const char *pos_msg) {
  const char *params[MAX_ARGS];
  int n = 0;
  while (n < max_pos)
    params[n++] = "";
  for (int i = 0; a->names[i]; i++) {
    NNC_ASSERT(n < MAX_ARGS);
    params[n++] = a->names[i];
  }
  ArgSpec spec = {.fn = a->fn, .params = params, .nparams = n, .positional = max_pos,
                  .positional_msg = pos_msg};
  const AstNode *out[MAX_ARGS];
  args_bind(s->d, s->arena, call, &spec, out);
  for (int i = 0; i < max_pos; i++)
    if (out[i])
      a->pos[a->npos++] = out[i];
  for (int i = max_pos; i < n; i++)
    a->val[i - max_pos] = args_value(out[i]);
}

/* The argument named name, if given. */
const AstNode *sema_arg_of(const Args *a, const char *name) {
  int i = sema_name_index(a->names, name);
  return i >= 0 ? a->val[i] : NULL;
}

static void arg_ranged(Sema *s, const Args *a, const char *name, Range r, double *out) {
  const AstNode *v = sema_arg_of(a, name);
  if (v)
    sema_ranged(s, v, name, r, out);
}

/* The name of `NAME` or `NAME(...)`, or NULL. */
const char *sema_callee(const AstNode *v) {
  return v->kind == AST_CALL ? v->u.call.name : v->kind == AST_NAME ? v->u.name.name : NULL;
}

void sema_unknown_choice(Sema *s, const AstNode *v, const char *what, const char *name,
                         const char *const *names, int n) {
  diag_error(s->d, v->loc, "unknown %s '%s'", what, name);
  const char *best = diag_suggest(name, names, n);
  if (best)
    diag_hint(s->d, "did you mean '%s'?", best);
  else
    diag_hint(s->d, "the %ss are %s", what, sema_name_list(s->arena, names, n, ""));
}

/* --- optimizer = one of optimizers.def's rows, e.g. adam(lr = 0.001) --- */

static const char *const *optimizer_names(void) {
  static const char *names[OPT_COUNT + 1];
  for (int k = 0; k < OPT_COUNT; k++)
    names[k] = optimizer_info((OptimizerKind)k)->name;
  return names;
}

/* The argument names of the optimizer k, NULL-terminated, in its row's order. */
static const char *const *optimizer_arg_names(Sema *s, OptimizerKind k) {
  const OptimizerInfo *row = optimizer_info(k);
  const char **names = ARENA_ARRAY(s->arena, const char *, row->nargs + 1);
  for (int i = 0; i < row->nargs; i++)
    names[i] = optimizer_field(row->args[i].field)->name;
  return names;
}

/* Each argument given, in the order of the fields (so messages come in a fixed order). */
static void optimizer_args(Sema *s, const Args *a, OptimizerSettings *o) {
  for (int f = 0; f < OPTF_COUNT; f++) {
    const OptimizerFieldInfo *fi = optimizer_field((OptimizerField)f);
    const AstNode *v = optimizer_arg(o->kind, (OptimizerField)f) ? sema_arg_of(a, fi->name) : NULL;
    double x;
    bool b;
    if (v && fi->boolean && sema_bool(s, v, fi->name, &b))
      optimizer_set(o, (OptimizerField)f, b);
    else if (v && !fi->boolean && sema_ranged(s, v, fi->name, fi->range, &x))
      optimizer_set(o, (OptimizerField)f, x);
  }
}

static void optimizer_setting(Sema *s, const AstNode *v, TrainSettings *t) {
  const char *name = sema_callee(v);
  const char *const *names = optimizer_names();
  if (!name) {
    diag_error(s->d, v->loc, "the optimizer must be %s, e.g. 'adam(lr = 0.001)'",
               name_alternatives(s->arena, names, OPT_COUNT));
    return;
  }
  int k = sema_name_index(names, name);
  if (k < 0) {
    sema_unknown_choice(s, v, "optimizer", name, names, OPT_COUNT);
    return;
  }
  OptimizerSettings o = optimizer_with_defaults((OptimizerKind)k);
  Args a = {.fn = names[k], .names = optimizer_arg_names(s, (OptimizerKind)k)};
  sema_collect_args(s, v, &a, 0,
                    arena_printf(s->arena, "%s takes named arguments only, e.g. %s(lr = %g)",
                                 names[k], names[k], o.lr));
  optimizer_args(s, &a, &o);
  const AstNode *nesterov = sema_arg_of(&a, "nesterov");
  if (nesterov && o.nesterov && !(o.momentum > 0)) {
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
  const char *name = sema_callee(v);
  if (!name) {
    diag_error(s->d, v->loc, "the schedule must be constant, step, exponential or cosine, e.g. "
               "'cosine(final = 0)'");
    return;
  }
  int k = sema_name_index(sched_names, name);
  if (k < 0) {
    sema_unknown_choice(s, v, "schedule", name, sched_names, 4);
    return;
  }
  static const char *const example[] = {"constant", "step(factor = 0.5, every = 10)",
                                        "exponential(rate = 0.96)", "cosine(final = 0)"};
  LrSchedule sc = {.kind = (LrScheduleKind)k, .warmup_epochs = t->lr_schedule.warmup_epochs};
  if (k == LR_STEP)
    sc.a = 0.5, sc.b = 10;
  else if (k == LR_EXPONENTIAL)
    sc.a = 0.96;
  Args a = {.fn = sched_names[k], .names = sched_args[k]};
  sema_collect_args(s, v, &a, 0,
                    arena_printf(s->arena, "%s takes named arguments only, e.g. %s", sched_names[k],
                                 example[k]));
  arg_ranged(s, &a, "factor", R_FRACTION, &sc.a);
  arg_ranged(s, &a, "rate", R_FRACTION, &sc.a);
  arg_ranged(s, &a, "final", R_CLOSED, &sc.a);
  const AstNode *every = sema_arg_of(&a, "every");
  int64_t n;
  if (every && sema_int(s, every, "every", 1, INT_MAX, &n))
    sc.b = (double)n;
  t->lr_schedule = sc;
}

/* --- train blocks --- */

static const char *const setting_names[] = {
  "data",   "validate", "validation_split", "optimizer", "schedule",       "warmup",
  "epochs", "batch",    "shuffle",          "seed",      "log_every",      "early_stopping",
  "checkpoint_every", "split_shuffle", NULL,
};
/* Indices into setting_names. */
enum {
  S_DATA, S_VALIDATE, S_SPLIT, S_OPTIMIZER, S_SCHEDULE, S_WARMUP, S_EPOCHS, S_BATCH, S_SHUFFLE,
  S_SEED, S_LOG_EVERY, S_EARLY_STOPPING, S_CHECKPOINT_EVERY, S_SPLIT_SHUFFLE, NSETTINGS
};

typedef struct {
  Sema *s;
  Model *m;
  TrainSettings *t;
  const AstNode *seen[NSETTINGS];
} TrainCheck;

static void unknown_setting(Diag *d, const AstNode *s) {
  diag_error(d, s->u.decl.name_loc, "unknown training setting '%s'", s->u.decl.name);
  const char *foreign = foreign_hint(FOREIGN_SETTING, s->u.decl.name);
  const char *best = diag_suggest(s->u.decl.name, setting_names, NSETTINGS);
  if (foreign)
    diag_hint(d, "%s", foreign);
  else if (best)
    diag_hint(d, "did you mean '%s'?", best);
}

static void check_setting(TrainCheck *tc, const AstNode *st) {
  Sema *s = tc->s;
  TrainSettings *t = tc->t;
  if (st->kind != AST_SETTING && st->kind != AST_LET) {
    diag_error(s->d, st->loc, "'%s' belongs in a model block, not in a train block",
               sema_decl_word[st->kind]);
    diag_hint(s->d, "a train block holds settings such as 'epochs = 10'");
    return;
  }
  const char *name = st->u.decl.name;
  const AstNode *v = st->u.decl.value;
  int k = sema_name_index(setting_names, name);
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
  case S_DATA: sema_data_source(s, tc->m, st, &t->data); break;
  case S_VALIDATE: sema_data_source(s, tc->m, st, &t->validate); break;
  case S_SPLIT: sema_ranged(s, v, name, R_OPEN, &t->validation_split); break;
  case S_OPTIMIZER: optimizer_setting(s, v, t); break;
  case S_SCHEDULE: schedule_setting(s, v, t); break;
  case S_WARMUP: sema_ranged(s, v, name, R_NONNEG, &t->lr_schedule.warmup_epochs); break;
  case S_EPOCHS: sema_int(s, v, name, 1, (int64_t)1e15, &t->epochs); break;
  case S_BATCH: sema_int(s, v, name, 1, (int64_t)1e15, &t->batch); break;
  case S_SHUFFLE: sema_bool(s, v, name, &t->shuffle); break;
  case S_SPLIT_SHUFFLE: sema_bool(s, v, name, &t->split_shuffle); break;
  case S_SEED:
    if (sema_int(s, v, name, 0, (int64_t)1e15, &n))
      t->seed = (uint64_t)n;
    break;
  case S_LOG_EVERY: sema_int(s, v, name, 1, (int64_t)1e15, &t->log_every); break;
  case S_EARLY_STOPPING:
    if (sema_int(s, v, name, 1, INT_MAX, &n))
      t->early_stopping = (int)n;
    break;
  case S_CHECKPOINT_EVERY: sema_int(s, v, name, 1, (int64_t)1e15, &t->checkpoint_every); break;
  }
}

/* Defaults are Keras's where it has one: 32 rows a batch, shuffled; SGD's η = 0.01. */
void sema_check_train(Sema *s, Model *m, const AstNode *block) {
  Diag *d = s->d;
  TrainSettings *t = &m->train;
  if (t->present) {
    diag_error(d, block->loc, "model '%s' has a second train block", m->name);
    diag_note(d, t->loc, "the first is here");
    return;
  }
  *t = (TrainSettings){.present = true, .loc = block->loc, .epochs = 10, .batch = 32,
                       .log_every = 1, .shuffle = true, .opt = optimizer_with_defaults(OPT_SGD),
                       .lr_schedule = {.kind = LR_CONSTANT}};
  TrainCheck tc = {.s = s, .m = m, .t = t};
  for (const AstNode *st = block->u.block.items; st; st = st->next)
    check_setting(&tc, st);
  const AstNode *validate = tc.seen[S_VALIDATE], *split = tc.seen[S_SPLIT];
  const AstNode *early = tc.seen[S_EARLY_STOPPING];
  if (validate && split) {
    diag_error(d, split->loc, "give either validate or validation_split, not both");
    diag_note(d, validate->loc, "validate is set here");
  }
  if (tc.seen[S_SPLIT_SHUFFLE] && !split) {
    diag_error(d, tc.seen[S_SPLIT_SHUFFLE]->loc, "split_shuffle needs validation_split");
    diag_hint(d, "add 'validation_split = 0.2': split_shuffle says which rows it holds out");
  }
  if (early && !validate && !split) {
    diag_error(d, early->loc, "early_stopping needs validation data");
    diag_hint(d, "add 'validate = ...' or 'validation_split = 0.1'");
  }
  if (!tc.seen[S_DATA])
    diag_error(d, block->loc, "train block for '%s' has no data; add 'data = table { ... }'",
               m->name);
  if (!m->loss.present) {
    diag_error(d, block->loc, "model '%s' has no loss, so it cannot be trained", m->name);
    diag_note(d, m->loc, "add a line such as 'loss = mean((y - target)^2)' to the model");
  }
  if (!m->target.present)
    diag_error(d, block->loc, "model '%s' has no target, so it cannot be trained", m->name);
}

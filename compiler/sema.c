#include "sema.h"

#include <math.h>
#include <string.h>

Shape sema_decl_shape(const AstNode *decl) {
  Shape s = shape_scalar();
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
  [AST_INPUT] = "input", [AST_TARGET] = "target", [AST_LOSS] = "loss", [AST_OUTPUT] = "output",
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

static void check_model_item(Diag *d, Model *m, const AstNode *it) {
  switch (it->kind) {
  case AST_INPUT:
    check_rank(d, it);
    take_unique(d, &m->input, it);
    break;
  case AST_TARGET:
    check_rank(d, it);
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
  check_duplicate(d, m->ast, it);
}

static void check_model(Diag *d, Model *m) {
  for (const AstNode *it = m->ast->u.block.items; it; it = it->next)
    check_model_item(d, m, it);
  if (!m->input)
    diag_error(d, m->ast->loc, "model '%s' has no input; declare one, e.g. 'input x[2]'", m->name);
  if (!m->output)
    diag_error(d, m->ast->loc, "model '%s' has no output; declare one, e.g. 'output y'",
               m->name);
}

/* --- train blocks --- */

static const char *const setting_names[] = {"data", "optimizer", "epochs", "batch",
                                            "seed", "log_every", "shuffle"};
enum { NSETTINGS = sizeof setting_names / sizeof *setting_names };

static bool number_value(const AstNode *e, double *out) {
  if (e->kind == AST_NUM) {
    *out = e->u.num.value;
    return true;
  }
  if (e->kind == AST_NEG && e->u.unary.operand->kind == AST_NUM) {
    *out = -e->u.unary.operand->u.num.value;
    return true;
  }
  return false;
}

static bool int_setting(Diag *d, const AstNode *s, int64_t lo, int64_t *out) {
  double v;
  if (!number_value(s->u.decl.value, &v) || v != floor(v) || v < (double)lo || v > 1e15) {
    diag_error(d, s->u.decl.value->loc, "'%s' must be an integer >= %lld", s->u.decl.name,
               (long long)lo);
    return false;
  }
  *out = (int64_t)v;
  return true;
}

static void bool_setting(Diag *d, const AstNode *s, bool *out) {
  const AstNode *v = s->u.decl.value;
  if (v->kind == AST_NAME && (!strcmp(v->u.name.name, "true") || !strcmp(v->u.name.name, "false")))
    *out = v->u.name.name[0] == 't';
  else
    diag_error(d, v->loc, "'%s' must be true or false", s->u.decl.name);
}

/* optimizer = sgd(lr = X) */
static void optimizer_setting(Diag *d, const AstNode *s, TrainSettings *t) {
  const AstNode *v = s->u.decl.value;
  if (v->kind == AST_NAME && !strcmp(v->u.name.name, "sgd"))
    return;
  if (v->kind != AST_CALL || strcmp(v->u.call.name, "sgd") != 0) {
    diag_error(d, v->loc, "unknown optimizer; the optimizers are: sgd(lr = X)");
    return;
  }
  for (const AstNode *a = v->u.call.args; a; a = a->next) {
    double lr;
    if (a->kind != AST_KWARG || strcmp(a->u.kwarg.name, "lr") != 0)
      diag_error(d, a->loc, "sgd takes one argument, lr = X");
    else if (!number_value(a->u.kwarg.value, &lr) || !(lr > 0) || !isfinite(lr))
      diag_error(d, a->u.kwarg.value->loc, "the learning rate must be a positive number");
    else
      t->opt.lr = lr;
  }
}

static void check_rows(Diag *d, const Model *m, const AstNode *table) {
  int64_t nin = decl_width(m->input), nout = m->target ? decl_width(m->target) : 0;
  for (const AstNode *r = table->u.table.rows; r; r = r->next) {
    if (r->u.row.n_in != nin)
      diag_error(d, r->loc, "this row has %d input value%s; input '%s' has %lld", r->u.row.n_in,
                 r->u.row.n_in == 1 ? "" : "s", m->input->u.decl.name, (long long)nin);
    if (r->u.row.n_out != nout && m->target)
      diag_error(d, r->loc, "this row has %d target value%s; target '%s' has %lld",
                 r->u.row.n_out, r->u.row.n_out == 1 ? "" : "s", m->target->u.decl.name,
                 (long long)nout);
  }
}

static void data_setting(Diag *d, const Model *m, const AstNode *s, TrainSettings *t) {
  const AstNode *v = s->u.decl.value;
  if (v->kind != AST_TABLE) {
    diag_error(d, v->loc, "data must be a table { inputs -> targets; ... }");
    return;
  }
  if (v->u.table.n == 0)
    diag_error(d, v->loc, "the data table is empty");
  if (m->input)
    check_rows(d, m, v);
  t->data = (DataSettings){.kind = DATA_TABLE, .ast = v, .table = v};
}

static void unknown_setting(Diag *d, const AstNode *s) {
  diag_error(d, s->u.decl.name_loc, "unknown training setting '%s'", s->u.decl.name);
  const char *best = diag_suggest(s->u.decl.name, setting_names, NSETTINGS);
  if (best)
    diag_hint(d, "did you mean '%s'?", best);
}

static void check_setting(Diag *d, const Model *m, const AstNode *s, TrainSettings *t) {
  const char *name = s->u.decl.name;
  if (s->kind != AST_SETTING && s->kind != AST_LET) {
    diag_error(d, s->loc, "only settings (name = value) belong in a train block");
    return;
  }
  if (!strcmp(name, "data"))
    data_setting(d, m, s, t);
  else if (!strcmp(name, "optimizer"))
    optimizer_setting(d, s, t);
  else if (!strcmp(name, "epochs"))
    int_setting(d, s, 1, &t->epochs);
  else if (!strcmp(name, "batch"))
    int_setting(d, s, 1, &t->batch);
  else if (!strcmp(name, "log_every"))
    int_setting(d, s, 1, &t->log_every);
  else if (!strcmp(name, "seed")) {
    int64_t seed;
    if (int_setting(d, s, 0, &seed))
      t->seed = (uint64_t)seed;
  } else if (!strcmp(name, "shuffle"))
    bool_setting(d, s, &t->shuffle);
  else
    unknown_setting(d, s);
}

/* Defaults are Keras's where it has one: 32 rows a batch, shuffled; SGD's η = 0.01. */
static void check_train(Diag *d, Model *m, const AstNode *block) {
  TrainSettings *t = &m->train;
  if (t->present) {
    diag_error(d, block->loc, "model '%s' has a second train block", m->name);
    diag_note(d, t->block->loc, "the first is here");
    return;
  }
  *t = (TrainSettings){.present = true, .block = block, .epochs = 10, .batch = 32,
                       .log_every = 1, .shuffle = true,
                       .opt = {.kind = OPT_SGD, .lr = 0.01}};
  for (const AstNode *s = block->u.block.items; s; s = s->next)
    check_setting(d, m, s, t);
  if (t->data.kind == DATA_NONE)
    diag_error(d, block->loc, "train block for '%s' has no data; add 'data = table { ... }'",
               m->name);
  if (!m->loss) {
    diag_error(d, block->loc, "model '%s' has no loss, so it cannot be trained", m->name);
    diag_note(d, m->ast->loc, "add a line such as 'loss = mean((y - target)^2)' to the model");
  }
  if (!m->target)
    diag_error(d, block->loc, "model '%s' has no target, so it cannot be trained", m->name);
}

static const AstNode *find_model(const AstNode *items, const char *name) {
  for (const AstNode *it = items; it; it = it->next)
    if (it->kind == AST_MODEL && strcmp(it->u.block.name, name) == 0)
      return it;
  return NULL;
}

Model *sema_check(Arena *arena, Diag *d, const AstNode *items, const char *want) {
  (void)want;
  int before = diag_count(d);
  Model *first = NULL;
  for (const AstNode *it = items; it; it = it->next) {
    if (it->kind != AST_MODEL)
      continue;
    Model *m = ARENA_NEW(arena, Model);
    m->name = it->u.block.name;
    m->ast = it;
    check_model(d, m);
    if (!first)
      first = m;
  }
  if (!first) {
    diag_error(d, (Loc){0}, "no model in this file; write 'model NAME { ... }'");
    return NULL;
  }
  for (const AstNode *it = items; it; it = it->next) {
    if (it->kind != AST_TRAIN)
      continue;
    if (!find_model(items, it->u.block.name))
      diag_error(d, it->loc, "train block for unknown model '%s'", it->u.block.name);
    else if (strcmp(it->u.block.name, first->name) == 0)
      check_train(d, first, it);
  }
  return diag_count(d) == before ? first : NULL;
}

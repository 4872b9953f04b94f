/* repl_eval: definitions and expressions on the JIT: compiling a model (repl_compile_jit), the
 * definitions the REPL keeps (Entry), defining and redefining them from typed or loaded text,
 * and evaluating an expression as a one-row model. The scheme is repl.c's header comment. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "repl_internal.h"

/* ---- Compiling a model into a JIT ---- */

void repl_compiled_free(Compiled *c) {
  jit_free(c->jit);
  compilation_free(&c->comp);
  free(c->text);
  memset(c, 0, sizeof *c);
}

/* Front end, codegen and JIT at -O`opt` of `want` (NULL: the first model) in text, which c takes
 * over; relative data paths from the directory of paths_from (NULL: of name). Diagnostics go to
 * diag_out; false on any error (c is then empty). */
bool repl_compile_jit(Compiled *c, const char *name, char *text, const char *want, int opt,
                      const char *paths_from, FILE *diag_out) {
  memset(c, 0, sizeof *c);
  c->text = text;
  double t0 = repl_now_ms();
  compilation_init(&c->comp, name, text, strlen(text), diag_out);
  c->comp.want_model = want;
  c->comp.src.paths_from = paths_from;
  c->comp.layout = true;
  if (!compilation_front(&c->comp)) {
    if (!diag_count(&c->comp.diag))
      fprintf(diag_out, "%s: internal error in the front end\n", name);
    repl_compiled_free(c);
    return false;
  }
  double t1 = repl_now_ms();
  char err[4096];
  c->jit = jit_new(err, sizeof err);
  if (!c->jit) {
    fprintf(stderr, "nnc: internal error: cannot start the JIT: %s\n", err);
    repl_compiled_free(c);
    return false;
  }
  Program p;
  compilation_plan(&c->comp, &p, name);
  LLVMModuleRef mod = codegen_module(&p, jit_context(c->jit), false);
  double t2 = repl_now_ms();
  if (!mod || !jit_add(c->jit, mod, opt, err, sizeof err) ||
      !(c->m = jit_lookup(c->jit, "nn_model"))) {
    fprintf(stderr, "nnc: internal error: the JIT rejected model '%s': %s\n",
            c->comp.model->name, mod ? err : "no module");
    repl_compiled_free(c);
    return false;
  }
  if (nnrt_check_model(c->m, err, sizeof err) != 0) {
    fprintf(stderr, "nnc: internal error: bad descriptor for '%s': %s\n", c->comp.model->name, err);
    repl_compiled_free(c);
    return false;
  }
  double t3 = repl_now_ms();
  c->t_front = t1 - t0;
  c->t_codegen = t2 - t1;
  c->t_jit = t3 - t2;
  return true;
}

/* ---- The REPL's state ---- */


/* "<repl>:N: error: ..." for errors that are not about a span of a source. */
__attribute__((format(printf, 2, 3))) void repl_error(const Repl *r, const char *fmt, ...) {
  fflush(stdout);
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "<repl>:%u: error: ", r->cmdline);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
}

static Block *block_dup(const Block *b) {
  if (!b)
    return NULL;
  Block *d = malloc(sizeof *d);
  *d = *b;
  d->name = repl_xstrdup(b->name);
  d->src = repl_xstrdup(b->src);
  d->text = repl_xstrdup(b->text);
  return d;
}

static void block_free(Block *b) {
  if (!b)
    return;
  free(b->name);
  free(b->src);
  free(b->text);
  free(b);
}

void repl_entry_free(Entry *e) {
  if (!e)
    return;
  nnrt_train_data_free(e->td);
  nnrt_workspace_free(e->ws);
  repl_compiled_free(&e->c);
  block_free(e->model);
  block_free(e->train);
  free(e->stats_buf);
  free(e);
}

Entry *repl_find_entry(const Repl *r, const char *name) {
  for (int i = 0; i < r->n; i++)
    if (!strcmp(r->e[i]->model->name, name))
      return r->e[i];
  return NULL;
}

static int count_lines(const char *s) {
  int n = 0;
  for (; *s; s++)
    n += *s == '\n';
  return n;
}

/* The blocks laid out at their lines: those of the same source exactly; a block from another
 * source than `primary` after the other (its lines then differ from the file's). */
static char *compose(const Block *primary, const Block *other) {
  const Block *order[2] = {primary, other};
  if (other && !strcmp(other->src, primary->src) &&
      (other->line < primary->line || (other->line == primary->line && other->col < primary->col))) {
    order[0] = other;
    order[1] = primary;
  }
  Buf b = {0};
  uint32_t line = 1;
  for (int i = 0; i < 2 && order[i]; i++) {
    const Block *k = order[i];
    if (k->line > line) {
      repl_buf_rep(&b, '\n', k->line - line);
      repl_buf_rep(&b, ' ', k->col - 1);
      line = k->line;
    }
    repl_buf_str(&b, k->text);
    repl_buf_str(&b, "\n");
    line += (uint32_t)count_lines(k->text) + 1;
  }
  return b.s;
}

const char *repl_plural(int64_t n) { return n == 1 ? "" : "s"; }

/* Copies every weight (parameter or running statistic) of old that new still has with the
 * same role and shape; lists them. */
static void keep_weights(const Entry *old, Entry *e, Buf *kept, Buf *fresh) {
  const NnrtModel *m = e->c.m, *o = old->c.m;
  for (int32_t i = 0; i < m->n_params; i++) {
    const NnrtParam *p = &m->params[i];
    if (!nnrt_role_is_weight(p->role))
      continue;
    const NnrtParam *q = NULL;
    for (int32_t j = 0; j < o->n_params && !q; j++)
      if (o->params[j].role == p->role && !strcmp(o->params[j].name, p->name))
        q = &o->params[j];
    bool same = q && q->rank == p->rank && q->size == p->size;
    for (int d = 0; same && d < p->rank; d++)
      same = q->dim[d] == p->dim[d];
    Buf *list = same ? kept : fresh;
    repl_buf_str(list, " ");
    repl_buf_str(list, p->name);
    if (same)
      memcpy(e->ws + p->offset, old->ws + q->offset, (size_t)p->size * sizeof(float));
  }
}

void repl_describe(const Entry *e, Buf *b) {
  const NnrtModel *m = e->c.m;
  int64_t tensors = 0, weights = 0;
  for (int32_t i = 0; i < m->n_params; i++)
    if (m->params[i].role == NNRT_ROLE_PARAM) {
      tensors++;
      weights += m->params[i].size;
    }
  char s[160];
  snprintf(s, sizeof s, "%lld tensor%s, %lld weight%s, %s", (long long)tensors,
           repl_plural(tensors), (long long)weights, repl_plural(weights),
           m->has_train ? "trainable" : "predict only");
  repl_buf_str(b, s);
}

/* After a failed (re)definition: which model stays, and where a block kept from another source
 * came from (its lines in the messages above are not that source's). */
static void say_kept(const Repl *r, const Block *primary, const Block *other) {
  Entry *old = repl_find_entry(r, primary->name);
  if (other && strcmp(other->src, primary->src))
    fprintf(stderr, "note: with the %s block of '%s' kept from %s:%u\n",
            other->train ? "train" : "model", other->name, other->src, other->line);
  if (old)
    fprintf(stderr, "note: model '%s' keeps its previous definition, from %s: :train, :predict "
                    "and :eval still use it\n", old->model->name, old->model->src);
}

/* Compiles a model from its blocks and puts it in place of any model of that name. A train
 * block's relative data paths are taken from the directory of the file it was written in. */
static bool define(Repl *r, const Block *model, const Block *train, const Block *primary) {
  Entry *e = calloc(1, sizeof *e);
  e->model = block_dup(model);
  e->train = block_dup(train);
  const Block *other = primary == model ? train : model;
  /* the names of the entry's own copies, which :ir, :graph and :explain read again later (the
   * blocks given are gone with the input they came in) */
  const char *src = primary == model ? e->model->src : e->train->src;
  if (!repl_compile_jit(&e->c, src, compose(primary, other), model->name,
                        r->jit_opt, e->train ? e->train->src : NULL, stderr) ||
      !(e->ws = nnrt_workspace_new(e->c.m))) {
    repl_entry_free(e);
    say_kept(r, primary, other);
    return false;
  }
  nnrt_init_params(e->c.m, e->ws, e->c.m->seed);
  Entry *old = repl_find_entry(r, model->name);
  Buf msg = {0}, kept = {0}, fresh = {0};
  repl_buf_str(&msg, old ? "redefined " : "defined ");
  repl_buf_str(&msg, model->name);
  repl_buf_str(&msg, ": ");
  repl_describe(e, &msg);
  if (old) {
    keep_weights(old, e, &kept, &fresh);
    repl_buf_str(&msg, "; kept");
    repl_buf_str(&msg, kept.s ? kept.s : " none");
    if (fresh.s) {
      repl_buf_str(&msg, "; fresh");
      repl_buf_str(&msg, fresh.s);
    }
    e->trained = old->trained && !fresh.s;
    if (old->stats.width > 0 && old->stats.width == e->c.m->input.width &&
        e->c.m->has_train && e->c.m->train.scaling == NNRT_SCALE_STANDARDIZE) {
      e->stats = old->stats;
      e->stats_buf = old->stats_buf;
      old->stats_buf = NULL;
    }
    for (int i = 0; i < r->n; i++)
      if (r->e[i] == old)
        r->e[i] = e;
    repl_entry_free(old);
  } else {
    if (r->n == r->cap) {
      r->cap = r->cap ? 2 * r->cap : 8;
      r->e = realloc(r->e, (size_t)r->cap * sizeof *r->e);
    }
    r->e[r->n++] = e;
  }
  r->last_model = e->model->name;
  printf("%s\n", msg.s);
  if (r->timing)
    printf("  front end %.1f ms, codegen %.1f ms, JIT %.1f ms\n", e->c.t_front, e->c.t_codegen,
           e->c.t_jit);
  free(msg.s);
  free(kept.s);
  free(fresh.s);
  return true;
}

/* Parses text (whose first line is line first_line of src) and defines each model it holds or
 * trains. A file is a complete unit: a model it defines without a train block loses any
 * train block it had; a model typed without one keeps it. */
bool repl_define_source(Repl *r, const char *src_name, const char *text, unsigned first_line,
                        bool from_file) {
  Buf padded = {0};
  repl_buf_rep(&padded, '\n', first_line - 1);
  repl_buf_str(&padded, text);
  Source src = {src_name, padded.s ? padded.s : "", padded.n, NULL};
  Arena a;
  arena_init(&a);
  Diag d;
  fflush(stdout);
  diag_init(&d, &src, stderr);
  AstNode *items = parse_source(&a, &d, &src);
  int nb = 0;
  for (AstNode *it = items; it; it = it->next)
    nb++;
  Block *blocks = calloc((size_t)(nb ? nb : 1), sizeof *blocks);
  nb = 0;
  for (AstNode *it = diag_count(&d) ? NULL : items; it; it = it->next) {
    Block *b = &blocks[nb++];
    b->train = it->kind == AST_TRAIN;
    b->name = (char *)it->u.block.name;
    b->src = (char *)src_name;
    b->text = arena_strndup(&a, src.text + it->loc.off, it->loc.len);
    b->line = it->loc.line;
    b->col = it->loc.col;
    for (int j = 0; j < nb - 1; j++)
      if (blocks[j].train == b->train && !strcmp(blocks[j].name, b->name)) {
        if (b->train)
          diag_error(&d, it->loc, "model '%s' has a second train block", b->name);
        else
          diag_error(&d, it->loc, "a second model named '%s'", b->name);
        break;
      }
  }
  /* Every train block needs its model, here or defined before. */
  for (int i = 0; i < nb && !diag_count(&d); i++) {
    bool known = !blocks[i].train || repl_find_entry(r, blocks[i].name);
    for (int j = 0; j < nb && !known; j++)
      known = !blocks[j].train && !strcmp(blocks[j].name, blocks[i].name);
    if (!known) {
      Loc at = {0};
      int k = 0;
      for (AstNode *it = items; it; it = it->next, k++)
        if (k == i)
          at = it->loc;
      diag_error(&d, at, "train block for unknown model '%s'", blocks[i].name);
    }
  }
  bool ok = !diag_count(&d);
  if (ok && nb == 0 && from_file)
    printf("%s: no model or train block\n", src_name);
  /* Each model named by a block, once, in order. */
  for (int i = 0; ok && i < nb; i++) {
    bool seen = false;
    for (int j = 0; j < i && !seen; j++)
      seen = !strcmp(blocks[j].name, blocks[i].name);
    if (seen)
      continue;
    const Block *model = NULL, *train = NULL;
    for (int j = i; j < nb; j++)
      if (!strcmp(blocks[j].name, blocks[i].name)) {
        if (blocks[j].train)
          train = &blocks[j];
        else
          model = &blocks[j];
      }
    const Block *primary = model ? model : train;
    Entry *old = repl_find_entry(r, blocks[i].name);
    if (!model)
      model = old->model;
    if (!train && old && !(from_file && primary == model))
      train = old->train;
    if (!define(r, model, train, primary))
      ok = false;
  }
  free(blocks);
  arena_free(&a);
  free(padded.s);
  return ok;
}

bool repl_load_file(Repl *r, const char *path) {
  char err[1024];
  size_t len;
  char *text = driver_read_source(path, &len, err, sizeof err);
  if (!text) {
    repl_error(r, "%s", err);
    return false;
  }
  if (r->last_file != path) {
    free(r->last_file);
    r->last_file = repl_xstrdup(path);
  }
  bool ok = repl_define_source(r, path, text, 1, true);
  free(text);
  return ok;
}

/* ---- Expressions ---- */

/* numpy's layout: [a, b] for a vector, one row per line for a matrix. */
static void print_tensor(const float *v, const int64_t *dim, int rank, int depth) {
  if (rank > NNC_MAX_RANK)
    return; /* shapes never have more axes; the bound also tells the compiler so */
  if (rank <= 0) {
    printf("%g", (double)v[0]);
    return;
  }
  int64_t inner = 1;
  for (int d = 1; d < rank; d++)
    inner *= dim[d];
  putchar('[');
  for (int64_t i = 0; i < dim[0]; i++) {
    if (i) {
      putchar(',');
      if (rank > 1) {
        for (int k = 1; k < rank - 1; k++)
          putchar('\n');
        printf("\n%*s", depth + 1, "");
      } else
        putchar(' ');
    }
    print_tensor(v + i * inner, dim + 1, rank - 1, depth + 1);
  }
  putchar(']');
}

/* The diagnostics of an expression's wrapper model, as if the expression stood alone: line 1
 * for the session's first line (the wrapper's header takes line 1 of the text), and a
 * complaint about the wrapper's closing text as an incomplete expression. */
static void print_expr_diags(const char *diags, unsigned line, unsigned at, unsigned last) {
  char head[64], moved[64];
  snprintf(head, sizeof head, "<repl>:%u:", at);
  snprintf(moved, sizeof moved, "<repl>:%u:", line);
  for (const char *l = diags; *l;) {
    const char *nl = strchr(l, '\n');
    size_t n = nl ? (size_t)(nl - l) : strlen(l);
    unsigned k, col;
    if (sscanf(l, "<repl>:%u:%u:", &k, &col) == 2 && k > last) {
      fprintf(stderr, "<repl>:%u: error: the expression is incomplete\n", line);
      return;
    }
    if (at != line && !strncmp(l, head, strlen(head)))
      fprintf(stderr, "%s%.*s\n", moved, (int)(n - strlen(head)), l + strlen(head));
    else if (at != line && sscanf(l, " %u |", &k) == 1 && k == at)
      fprintf(stderr, "%5u%.*s\n", line, (int)(n - 5), l + 5);
    else
      fprintf(stderr, "%.*s\n", (int)n, l);
    l += nl ? n + 1 : n;
  }
}

void repl_eval_expr(Repl *r, const char *expr, unsigned line) {
  Buf b = {0};
  unsigned at = line > 2 ? line : 2; /* the text's line the expression starts on */
  repl_buf_str(&b, "model __expr { input __x[1, 1, 1]; __v = (");
  repl_buf_rep(&b, '\n', at - 1);
  repl_buf_str(&b, expr);
  repl_buf_str(&b, "\n); output __v * __x }\n");
  unsigned last = at + (unsigned)count_lines(expr) - 1;
  fflush(stdout);
  char *diags = NULL;
  size_t diags_len = 0;
  FILE *mem = open_memstream(&diags, &diags_len);
  Compiled c;
  bool ok = repl_compile_jit(&c, "<repl>", b.s, NULL, r->jit_opt, NULL, mem ? mem : stderr);
  if (mem) {
    fclose(mem);
    print_expr_diags(diags, line, at, last);
    free(diags);
  }
  if (!ok)
    return;
  const Graph *g = &c.comp.graph;
  const Node *v = NULL;
  for (uint32_t i = g->n; i-- > 0 && !v;)
    if (g->node[i]->name && !strcmp(g->node[i]->name, "__v"))
      v = g->node[i];
  Shape s = v ? v->shape : (Shape){c.m->output.width > 1, {c.m->output.width}};
  const NnrtModel *m = c.m;
  float *ws = nnrt_workspace_new(m), one = 1.0f;
  float *y = malloc((size_t)m->output.width * sizeof *y);
  if (s.rank > 0 && s.dim[0] == DIM_BATCH)
    repl_error(r, "an expression is made of constants; it cannot use the input '__x'");
  else if (ws && y) {
    nnrt_init_params(m, ws, 0);
    nnrt_predict_rows(m, ws, &one, 1, y);
    print_tensor(y, s.dim, s.rank, 0);
    putchar('\n');
  }
  free(y);
  nnrt_workspace_free(ws);
  repl_compiled_free(&c);
}

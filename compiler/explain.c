/* explain: the derived graph written as a textbook would. Every equation is rendered from the
 * nodes themselves through the notation column of ops.def; explain only decides which nodes get
 * a name (so that everything else can be written inline), a few conventional spellings (x², Aᵀ,
 * η x, (1/N) Σ), and where parentheses go. */
#include "explain.h"

#include <stdlib.h>
#include <string.h>

/* Binding strength of a rendered form: an operand that binds less than its operator gets
 * parentheses. Delimited forms (σ(…), max(…, …), […], names) are atoms. */
enum { P_ADD = 1, P_MUL, P_NEG, P_POW, P_ATOM };
/* Forms of one group nest without parentheses; scalar products η x are a group of their own. */
enum { G_NONE = -1, G_SCALE = OP_COUNT };
enum { NOTE_COLUMN = 46, LABEL_MAX = 24 };

typedef struct {
  char tmpl[40]; /* %0 %1 the sources, %k the constant arg, %n the name */
  int prec, group;
  bool assoc;  /* a right operand of the same group needs no parentheses */
  bool simple; /* takes a suffix (ᵀ, ²) without parentheses */
} Form;

typedef struct {
  const Graph *g;
  const char **name;        /* per node: what equations call it; NULL renders it inline */
  char (*label)[LABEL_MAX]; /* the names explain makes up: δ[l], z[l], t₁ */
  int *uses;                /* references from backward nodes */
  int *alias;               /* l when a node named otherwise is also δ[l] */
  uint32_t *seen;           /* visit stamps of the layer walk */
  FILE *notes;              /* remarks on the equation being rendered */
  int nreuse;
} Explain;

static const int op_prec[OP_COUNT] = {
  [OP_NEG] = P_NEG, [OP_RECIP] = P_MUL, [OP_POWC] = P_POW, [OP_ADD] = P_ADD, [OP_SUB] = P_ADD,
  [OP_MUL] = P_MUL, [OP_DIV] = P_MUL,   [OP_SUM] = P_MUL,  [OP_MATMUL] = P_MUL,
};

static const char *const superscript[] = {"⁰", "¹", "²", "³", "⁴", "⁵", "⁶", "⁷", "⁸", "⁹"};
static const char *const subscript[] = {"₀", "₁", "₂", "₃", "₄", "₅", "₆", "₇", "₈", "₉"};

static void set_form(Form *f, const char *tmpl, int prec, int group, bool assoc) {
  snprintf(f->tmpl, sizeof f->tmpl, "%s", tmpl);
  f->prec = prec, f->group = group, f->assoc = assoc;
}

static bool is_scalar(const Node *n) {
  return n->shape.rank == 0 || (n->op == OP_EXPAND && n->src[0]->shape.rank == 0);
}

/* x ⊙ x is x²; a product with a scalar is scalar multiplication, written in front: η ∂L/∂W. */
static void refine_mul(const Node *n, Form *f) {
  const Node *a = n->src[0], *b = n->src[1];
  bool b_first = (b->op == OP_CONST && a->op != OP_CONST) || (is_scalar(b) && !is_scalar(a));
  if (a == b)
    set_form(f, "%0²", P_POW, OP_POWC, false);
  else if (b_first)
    set_form(f, "%1 %0", P_MUL, G_SCALE, true);
  else if (is_scalar(a))
    set_form(f, "%0 %1", P_MUL, G_SCALE, true);
}

/* Division by the batch size is the mean of a textbook, (1/N) Σ …; a constant over N stays 1/N. */
static void refine_div(const Node *n, Form *f) {
  if (n->src[1]->op != OP_BATCH)
    return;
  if (n->src[0]->op == OP_CONST)
    set_form(f, "%0/%1", P_MUL, G_NONE, false);
  else
    set_form(f, "(1/%1) %0", P_MUL, G_SCALE, true);
}

static void refine_pow(const Node *n, Form *f) {
  double k = n->arg.k;
  if (k >= 0 && k <= 9 && k == (int)k)
    snprintf(f->tmpl, sizeof f->tmpl, "%%0%s", superscript[(int)k]);
}

/* Σ over everything, Σₙ over the rows of the batch (axis 0), Σ₁ … over other axes. */
static void refine_sum(const Node *n, Form *f) {
  uint32_t axes = n->arg.bits & AXES_MASK, all = (1u << n->src[0]->shape.rank) - 1;
  char sub[24] = "";
  if (axes == 1 && all != 1)
    snprintf(sub, sizeof sub, "ₙ");
  for (int i = 0; axes != all && axes != 1 && i < NNC_MAX_RANK; i++)
    if (axes & (1u << i))
      strcat(sub, subscript[i]);
  snprintf(f->tmpl, sizeof f->tmpl, "Σ%s %%0", sub);
}

/* arg.bits 1 transposes the left operand, 2 the right one. */
static void refine_matmul(const Node *n, Form *f) {
  static const char *const tmpl[] = {"%0 %1", "%0ᵀ %1", "%0 %1ᵀ", "%0ᵀ %1ᵀ"};
  set_form(f, tmpl[n->arg.bits & 3], P_MUL, OP_MATMUL, true);
}

static void refine_const(const Node *n, Form *f) {
  if (n->arg.k < 0)
    f->prec = P_NEG, f->group = OP_NEG;
}

typedef void Refine(const Node *n, Form *f);
static Refine *const refine[OP_COUNT] = {
  [OP_MUL] = refine_mul, [OP_DIV] = refine_div,       [OP_POWC] = refine_pow,
  [OP_SUM] = refine_sum, [OP_MATMUL] = refine_matmul, [OP_CONST] = refine_const,
};

/* The op's notation from ops.def, refined where textbooks have a convention. */
static Form form_of(const Node *n) {
  Op op = n->op;
  int group = op == OP_SUB ? OP_ADD : op == OP_RECIP ? OP_DIV : (int)op;
  Form f = {.prec = op_prec[op] ? op_prec[op] : P_ATOM, .group = group, .simple = true};
  snprintf(f.tmpl, sizeof f.tmpl, "%s", op_info[op].notation);
  f.assoc = op == OP_ADD || op == OP_MUL || op == OP_SUM;
  if (refine[op])
    refine[op](n, &f);
  return f;
}

/* How a node looks where it is used: a name is an atom; expand is invisible (broadcasting is
 * implicit in the notation). */
static Form ref_form(const Explain *x, const Node *n) {
  const char *name = x->name[n->id];
  if (name)
    return (Form){.prec = P_ATOM, .group = G_NONE, .simple = !strchr(name, '/')};
  if (n->op == OP_EXPAND)
    return ref_form(x, n->src[0]);
  return form_of(n);
}

/* p: the operator's form; left: the operand opens the form; tight: a suffix (ᵀ, ², /) follows it;
 * at_end: nothing follows it up to the end of the expression or of a parenthesis. */
static bool needs_parens(const Form *p, const Form *c, bool left, bool tight, bool at_end) {
  if (p->prec == P_ATOM)
    return false;
  if (tight)
    return !(c->prec == P_ATOM && c->simple);
  if (c->group == OP_SUM) /* Σ takes everything to its right */
    return !at_end;
  if (c->prec != p->prec)
    return c->prec < p->prec;
  return c->group != p->group || (!left && !p->assoc);
}

static void put_ref(Explain *x, FILE *out, const Node *n, bool at_end);

static void put_operand(Explain *x, FILE *out, const Form *p, const Node *c, bool left,
                        const char *rest, bool at_end) {
  Form cf = ref_form(x, c);
  bool last = *rest == '\0';
  bool paren = needs_parens(p, &cf, left, !last && *rest != ' ', last && at_end);
  fputs(paren ? "(" : "", out);
  put_ref(x, out, c, paren || (last && at_end));
  fputs(paren ? ")" : "", out);
}

static void put_number(FILE *out, double k) { fprintf(out, k < 0 ? "−%g" : "%g", k < 0 ? -k : k); }

static void note_reuse(Explain *x, const Node *n);

/* Renders the node's own operation, its operands by name or inline. */
static void put_def(Explain *x, FILE *out, const Node *n, bool at_end) {
  Form f = form_of(n);
  note_reuse(x, n);
  for (const char *p = f.tmpl; *p; p++) {
    if (p[0] == '%' && (p[1] == '0' || p[1] == '1'))
      put_operand(x, out, &f, n->src[p[1] - '0'], p == f.tmpl, p + 2, at_end), p++;
    else if (p[0] == '%' && p[1] == 'k')
      put_number(out, n->arg.k), p++;
    else if (p[0] == '%' && p[1] == 'n')
      fputs(n->name ? n->name : "?", out), p++;
    else
      fputc(*p, out);
  }
}

static void put_ref(Explain *x, FILE *out, const Node *n, bool at_end) {
  if (x->name[n->id])
    fputs(x->name[n->id], out);
  else if (n->op == OP_EXPAND)
    put_ref(x, out, n->src[0], at_end);
  else
    put_def(x, out, n, at_end);
}

/* --- derivatives that reuse forward values (grad_rules.c builds them so) --- */

static bool is_const_one(const Node *n) { return node_is_const(n, 1); }

/* mul(s, 1 − s) with s = σ(z) in either order: the forward s itself. */
static const Node *reuse_sigmoid(const Node *n) {
  for (int i = 0; n->op == OP_MUL && i < 2; i++) {
    const Node *s = n->src[i], *o = n->src[1 - i];
    if (s->op == OP_SIGMOID && o->op == OP_SUB && is_const_one(o->src[0]) && o->src[1] == s)
      return s;
  }
  return NULL;
}

/* 1 − t ⊙ t with t = tanh(z). */
static const Node *reuse_tanh(const Node *n) {
  if (n->op != OP_SUB || !is_const_one(n->src[0]) || n->src[1]->op != OP_MUL)
    return NULL;
  const Node *t = n->src[1]->src[0];
  return t->op == OP_TANH && n->src[1]->src[1] == t ? t : NULL;
}

/* relu = max(z, 0) differentiates to the mask [z > 0] of the forward pre-activation z. */
static const Node *reuse_relu(const Node *n) {
  return n->op == OP_CMPGT && node_is_const(n->src[1], 0) ? n->src[0] : NULL;
}

/* dy ⊙ exp(z), dy being the adjoint of that exp: grad.c names it ∂L/∂ and the value's name
 * (an exp that is only a factor of some other product is no exp′). */
static const Node *reuse_exp(const Node *n) {
  static const char prefix[] = "∂L/∂";
  for (int i = 0; n->op == OP_MUL && i < 2; i++) {
    const Node *e = n->src[i], *dy = n->src[1 - i];
    if (e->op == OP_EXP && e->name && dy->name && !strncmp(dy->name, prefix, sizeof prefix - 1) &&
        !strcmp(dy->name + sizeof prefix - 1, e->name))
      return e;
  }
  return NULL;
}

typedef const Node *Reuse(const Node *n);
static const struct {
  Reuse *match;
  const char *rule;
} reuses[] = {
  {reuse_sigmoid, "σ′(z) = σ(z)(1 − σ(z))"},
  {reuse_tanh, "tanh′(z) = 1 − tanh²(z)"},
  {reuse_relu, "max′(z, 0) = [z > 0]"},
  {reuse_exp, "exp′(z) = exp(z)"},
};

static void note_reuse(Explain *x, const Node *n) {
  if (!x->notes || !(n->flags & NODE_BACKWARD))
    return;
  for (size_t r = 0; r < sizeof reuses / sizeof *reuses; r++) {
    const Node *fwd = reuses[r].match(n);
    if (!fwd)
      continue;
    fprintf(x->notes, "%s%s, reusing the forward value ", ftell(x->notes) ? "; " : "",
            reuses[r].rule);
    x->nreuse++;
    FILE *notes = x->notes;
    x->notes = NULL; /* the forward value's own rendering carries no remarks */
    put_ref(x, notes, fwd, true);
    x->notes = notes;
    return;
  }
}

/* --- naming: which nodes get an equation of their own --- */

static void make_label(Explain *x, const Node *n, const char *fmt, int l) {
  snprintf(x->label[n->id], LABEL_MAX, fmt, l);
  x->name[n->id] = x->label[n->id];
}

static bool is_forward_value(const Node *n) {
  return n->name && !(n->flags & (NODE_BACKWARD | NODE_UPDATE)) &&
         op_info[n->op].kind != KIND_LEAF;
}

static const Node *skip_expand(const Node *n) { return n->op == OP_EXPAND ? n->src[0] : n; }

/* The error signal δ a parameter's gradient is built from, given the node `use` that consumes
 * the parameter: ∂L/∂W = Xᵀ δ (matmul), ∂L/∂w = Σₙ δ ⊙ x (elementwise weight), ∂L/∂b = Σₙ δ
 * (bias): the gradient's Σ undone, then the factor that the forward product multiplied by. */
static const Node *error_signal(const Node *grad, const Node *param, const Node *use) {
  const Node *d = grad;
  while (d && d->op == OP_SUM)
    d = d->src[0];
  if (!d || !(d->flags & NODE_BACKWARD))
    return NULL;
  if (use->op == OP_ADD || (use->op == OP_SUB && use->src[0] == param))
    return d;
  if ((use->op != OP_MATMUL && use->op != OP_MUL) || d->op != use->op)
    return NULL;
  const Node *other = use->src[use->src[0] == param];
  for (int i = 0; i < 2; i++)
    if (d->src[1 - i] == other && (skip_expand(d->src[i])->flags & NODE_BACKWARD))
      return skip_expand(d->src[i]);
  return NULL;
}

/* Offers the parameter's error signal for its layer. The parameters of a layer agree on it;
 * should they not, the earliest node wins, since later ones may be built from it. */
static void offer_error_signal(const Explain *x, const Node *param, const Node *use,
                               const Node **best) {
  for (int p = 0; p < x->g->nparams; p++) {
    const ParamSlot *ps = &x->g->params[p];
    const Node *d = ps->param == param ? error_signal(ps->grad, param, use) : NULL;
    if (d && (!*best || d->id < (*best)->id))
      *best = d;
  }
}

/* Walks a layer's anonymous nodes back to its parameters, collecting the error signal.
 * Returns whether the layer has parameters. */
static bool visit_layer(Explain *x, const Node *n, uint32_t stamp, const Node **best) {
  bool found = false;
  for (int s = 0; s < n->nsrc; s++) {
    const Node *c = n->src[s];
    if (x->seen[c->id] == stamp)
      continue;
    x->seen[c->id] = stamp;
    if (c->flags & NODE_PARAM)
      offer_error_signal(x, c, n, best), found = true;
    else if (!c->name && op_info[c->op].kind != KIND_LEAF)
      found |= visit_layer(x, c, stamp, best);
  }
  return found;
}

/* Names δ[l]; an error signal grad.c already named (∂L/∂y of a layer without activation) keeps
 * its name, and its equation says that it is δ[l]. The input of the activation gets the name
 * z[l] when the backward pass reads it (relu's mask [z > 0]). */
static void name_layer(Explain *x, const Node *a, const Node *delta, int l) {
  if (delta && !x->name[delta->id])
    make_label(x, delta, "δ[%d]", l);
  else if (delta && !x->alias[delta->id])
    x->alias[delta->id] = l;
  for (int s = 0; s < a->nsrc; s++) {
    const Node *z = a->src[s];
    if (!x->name[z->id] && x->uses[z->id] && op_info[z->op].kind != KIND_LEAF)
      make_label(x, z, "z[%d]", l);
  }
}

/* A layer is a named forward value computed from parameters through anonymous nodes only
 * (A1 = σ(X W1 + b1)); l numbers layers in the order the model computes them. */
static void name_layers(Explain *x) {
  const Graph *g = x->g;
  int l = 0;
  for (uint32_t i = 0; i < g->n; i++) {
    const Node *a = g->node[i], *delta = NULL;
    if (is_forward_value(a) && a != g->loss && visit_layer(x, a, i + 1, &delta))
      name_layer(x, a, delta, ++l);
  }
}

/* A backward value used twice is written once under a name t₁, t₂, … rather than twice. */
static void name_shared(Explain *x) {
  int t = 0;
  for (uint32_t i = 0; i < x->g->n; i++) {
    const Node *n = x->g->node[i];
    if ((n->flags & NODE_BACKWARD) && x->uses[i] > 1 && !x->name[i] &&
        op_info[n->op].kind != KIND_LEAF && n->op != OP_EXPAND && t < 9)
      snprintf(x->label[i], LABEL_MAX, "t%s", subscript[++t]), x->name[i] = x->label[i];
  }
}

static void name_nodes(Explain *x) {
  const Graph *g = x->g;
  for (uint32_t i = 0; i < g->n; i++) {
    const Node *n = g->node[i];
    x->name[i] = n == g->loss ? "L" : n->name;
    for (int s = 0; s < n->nsrc && (n->flags & NODE_BACKWARD); s++)
      x->uses[n->src[s]->id]++;
  }
  name_layers(x);
  name_shared(x);
}

/* --- output --- */

static int display_width(const char *s) {
  int w = 0;
  for (; *s; s++)
    w += ((unsigned char)*s & 0xC0) != 0x80;
  return w;
}

/* `  lhs op rhs`, with remarks on reused values aligned after it. */
static void put_equation(Explain *x, FILE *out, const char *lhs, const char *op, const Node *rhs) {
  char *line = NULL, *note = NULL;
  size_t nline = 0, nnote = 0;
  FILE *l = open_memstream(&line, &nline);
  x->notes = open_memstream(&note, &nnote);
  if (l && x->notes) {
    int before = x->nreuse;
    fprintf(l, "  %s %s ", lhs, op);
    put_def(x, l, rhs, true);
    fclose(l), fclose(x->notes);
    int pad = NOTE_COLUMN - display_width(line);
    fprintf(out, "%s%*s%s\n", line, x->nreuse > before ? (pad > 2 ? pad : 2) : 0, "", note);
  } else if (l || x->notes)
    fclose(l ? l : x->notes);
  x->notes = NULL;
  free(line), free(note);
}

static void put_forward(Explain *x, FILE *out) {
  fputs("forward\n", out);
  for (uint32_t i = 0; i < x->g->n; i++) {
    const Node *n = x->g->node[i];
    if (x->name[i] && !(n->flags & (NODE_BACKWARD | NODE_UPDATE)) &&
        op_info[n->op].kind != KIND_LEAF)
      put_equation(x, out, x->name[i], "=", n);
  }
}

static void put_backward(Explain *x, FILE *out) {
  fputs("\nbackward (derived by reverse-mode differentiation)\n", out);
  for (uint32_t i = 0; i < x->g->n; i++) {
    const Node *n = x->g->node[i];
    char lhs[256];
    snprintf(lhs, sizeof lhs, "δ[%d] = %s", x->alias[i], x->name[i] ? x->name[i] : "");
    if (x->name[i] && (n->flags & NODE_BACKWARD) && op_info[n->op].kind != KIND_LEAF)
      put_equation(x, out, x->alias[i] ? lhs : x->name[i], "=", n);
  }
}

static void put_update(Explain *x, FILE *out) {
  fputs("\nupdate (SGD, learning rate η)\n", out);
  for (int p = 0; p < x->g->nparams; p++) {
    const ParamSlot *ps = &x->g->params[p];
    if (ps->update)
      put_equation(x, out, ps->param->name, "←", ps->update);
    else
      fprintf(out, "  %s is unchanged: the loss does not depend on it\n", ps->param->name);
  }
}

static void put_simplifications(const Explain *x, FILE *out) {
  int r = x->g->rewrites;
  fputs("\nsimplifications\n", out);
  fprintf(out, "  %d algebraic rewrite%s by the graph builders (constant folding, x · 1 = x, "
          "x + 0 = x, −(−x) = x, …)\n", r, r == 1 ? "" : "s");
  fprintf(out, "  %d derivative%s reuse%s a forward value instead of recomputing it (noted "
          "beside the equations)\n", x->nreuse, x->nreuse == 1 ? "" : "s",
          x->nreuse == 1 ? "s" : "");
}

void explain_print(FILE *out, const Graph *g) {
  ArenaMark mark = arena_mark(g->arena);
  Explain x = {
    .g = g,
    .name = ARENA_ARRAY(g->arena, const char *, g->n),
    .label = arena_alloc(g->arena, LABEL_MAX * (size_t)g->n),
    .uses = ARENA_ARRAY(g->arena, int, g->n),
    .alias = ARENA_ARRAY(g->arena, int, g->n),
    .seen = ARENA_ARRAY(g->arena, uint32_t, g->n),
  };
  name_nodes(&x);
  fputs("notation: N rows in a batch, ⊙ elementwise product, Σₙ sum over the rows, ᵀ transpose,\n"
        "          δ[l] = ∂L/∂z[l] the error at the input z[l] of layer l's activation\n\n", out);
  put_forward(&x, out);
  put_backward(&x, out);
  put_update(&x, out);
  put_simplifications(&x, out);
  arena_reset(g->arena, mark);
}

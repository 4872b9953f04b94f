/* explain: the derived graph written as a textbook would. Every equation is rendered from the
 * nodes themselves through the notation column of ops.def; explain only decides which nodes get
 * a name (so that everything else can be written inline), a few conventional spellings (x², Aᵀ,
 * η x, (1/N) Σ), and where parentheses go. What a node is (the adjoint of a value, the step t,
 * an optimizer state and its estimate, the stable softmax and sigmoid losses) it reads from the
 * provenance tags the builders set (Node.prov), never from names; the letters and labels of an
 * optimizer come from its row in optimizers.def. Images are written by explain_image.c: the
 * nodes a convolution is lowered to and derived into read as W ∗ x + b, δ ∗_full rot180(W) and
 * x ⋆ δ, and layout changes between channels first and last are not written at all. */
#include "explain.h"
#include "explain_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { NOTE_COLUMN = 46, LABEL_MAX = 64, SIMPL_MAX = 8 };

/* What an update-phase node is to the optimizer's equations. */
enum { R_NONE, R_STATE, R_ESTIMATE };

typedef struct {
  const Graph *g;
  const OptimizerSettings *opt; /* NULL: the update section names no optimizer */
  const char **name;        /* per node: what equations call it; NULL renders it inline */
  char (*label)[LABEL_MAX]; /* the names explain makes up: δ[l], z[l], t₁, m[W], m̂[W] */
  const char **remark;      /* per node: a remark printed beside its equation */
  const Node **delta_of;    /* per layer value and pre-activation: the layer's error signal */
  int *uses;                /* references from backward nodes */
  int *fuses;               /* references from forward nodes */
  int *alias;               /* l when a node named otherwise is also δ[l] */
  uint8_t *role;            /* R_STATE: a state's new value; R_ESTIMATE: bias-corrected state */
  uint32_t *seen;           /* visit stamps of the layer and update walks */
  uint32_t first_update;    /* nodes from here on were built by the optimizer */
  FILE *notes;              /* remarks on the equation being rendered */
  int nreuse;
  const char *simpl[SIMPL_MAX]; /* structural simplifications found, for the last section */
  int nsimpl;
} Explain;

static const int op_prec[OP_COUNT] = {
  [OP_NEG] = P_NEG, [OP_RECIP] = P_MUL, [OP_POWC] = P_POW, [OP_ADD] = P_ADD, [OP_SUB] = P_ADD,
  [OP_MUL] = P_MUL, [OP_DIV] = P_MUL,   [OP_SUM] = P_MUL,  [OP_MATMUL] = P_MUL,
  [OP_SQRT] = P_NEG, [OP_MAXR] = P_MUL,
};

static const char *const superscript[] = {"⁰", "¹", "²", "³", "⁴", "⁵", "⁶", "⁷", "⁸", "⁹"};
static const char *const subscript[] = {"₀", "₁", "₂", "₃", "₄", "₅", "₆", "₇", "₈", "₉"};

void form_set(Form *f, const char *tmpl, int prec, int group, bool assoc) {
  snprintf(f->tmpl, sizeof f->tmpl, "%s", tmpl);
  f->prec = prec, f->group = group, f->assoc = assoc;
}

/* A scalar, possibly broadcast or negated: −(1/N) is a scalar factor. */
static bool is_scalar(const Node *n) {
  if (n->op == OP_EXPAND || n->op == OP_NEG)
    return is_scalar(n->src[0]);
  return n->shape.rank == 0;
}

/* x ⊙ x is x²; a product with a scalar is scalar multiplication, written in front: η ∂L/∂W. */
static void refine_mul(const Node *n, Form *f) {
  const Node *a = n->src[0], *b = n->src[1];
  bool b_first = (b->op == OP_CONST && a->op != OP_CONST) || (is_scalar(b) && !is_scalar(a));
  if (a == b)
    form_set(f, "%0²", P_POW, OP_POWC, false);
  else if (b_first)
    form_set(f, "%1 %0", P_MUL, G_SCALE, true);
  else if (is_scalar(a))
    form_set(f, "%0 %1", P_MUL, G_SCALE, true);
}

/* Division by the batch size is the mean of a textbook, (1/N) Σ …; constants over N are folded
 * (form_folded). */
static void refine_div(const Node *n, Form *f) {
  if (n->src[1]->op == OP_BATCH)
    form_set(f, "(1/%1) %0", P_MUL, G_SCALE, true);
}

static void refine_pow(const Node *n, Form *f) {
  double k = n->arg.k;
  if (k >= 0 && k <= 9 && k == (int)k)
    snprintf(f->tmpl, sizeof f->tmpl, "%%0%s", superscript[(int)k]);
}

/* Σ over everything, Σₙ over the rows of the batch (axis 0), Σᵢⱼ over the positions of images,
 * Σ₁ … over other axes; the same subscripts for max. */
static void refine_sum(const Node *n, Form *f) {
  char sub[32];
  f->opnd[0] = image_sum_subscript(n, sub, sizeof sub);
  snprintf(f->tmpl, sizeof f->tmpl, "%s%s %%0", n->op == OP_SUM ? "Σ" : "max", sub);
}

/* β = e^c when n is c t of the step t (optim.c tags it), else 0. */
static double step_power_base(const Node *n) {
  for (int i = 0; n->op == OP_MUL && i < 2; i++) {
    const Node *t = n->src[i], *c = n->src[1 - i];
    if (t->prov.kind == PROV_STEP && c->op == OP_CONST)
      return exp(c->arg.k);
  }
  return 0;
}

/* exp(c t) is βᵗ, and −expm1(c t) Adam's bias correction 1 − βᵗ (optim.c). */
static void refine_exp(const Node *n, Form *f) {
  double beta = step_power_base(n->src[0]);
  if (beta > 0) {
    snprintf(f->tmpl, sizeof f->tmpl, "%gᵗ", beta);
    f->prec = P_POW, f->group = OP_POWC, f->simple = false;
  }
}

static void refine_neg(const Node *n, Form *f) {
  double beta = n->src[0]->op == OP_EXPM1 ? step_power_base(n->src[0]->src[0]) : 0;
  if (beta > 0) {
    snprintf(f->tmpl, sizeof f->tmpl, "1 − %gᵗ", beta);
    f->prec = P_ADD, f->group = OP_ADD, f->simple = false;
  }
}

/* Indexed by the transposes: 1 the left operand, 2 the right one. */
static void refine_matmul(const Node *n, Form *f) {
  static const char *const tmpl[] = {"%0 %1", "%0ᵀ %1", "%0 %1ᵀ", "%0ᵀ %1ᵀ"};
  int which = n->arg.p[PARAM_TRANSPOSE_A] | n->arg.p[PARAM_TRANSPOSE_B] << 1;
  form_set(f, tmpl[which], P_MUL, OP_MATMUL, true);
}

static void refine_const(const Node *n, Form *f) {
  if (n->arg.k < 0)
    f->prec = P_NEG, f->group = OP_NEG;
}

typedef void Refine(const Node *n, Form *f);
static Refine *const refine[OP_COUNT] = {
  [OP_MUL] = refine_mul, [OP_DIV] = refine_div,       [OP_POWC] = refine_pow,
  [OP_SUM] = refine_sum, [OP_MATMUL] = refine_matmul, [OP_CONST] = refine_const,
  [OP_MAXR] = refine_sum, [OP_EXP] = refine_exp, [OP_NEG] = refine_neg,
};

/* The op's notation from ops.def, refined where textbooks have a convention. */
static Form form_of(const Node *n) {
  Op op = n->op;
  int group = op == OP_SUB ? OP_ADD : op == OP_RECIP ? OP_DIV : op == OP_MAXR ? OP_SUM : (int)op;
  Form f = {.prec = op_prec[op] ? op_prec[op] : P_ATOM, .group = group, .simple = true};
  snprintf(f.tmpl, sizeof f.tmpl, "%s", op_info[op].notation);
  f.assoc = op == OP_ADD || op == OP_MUL || op == OP_SUM;
  memcpy(f.opnd, n->src, sizeof f.opnd);
  if (refine[op])
    refine[op](n, &f);
  image_form(n, &f);
  return f;
}

/* What the notation does not write: expand (broadcasting is implicit) and the layout of images. */
static bool invisible(const Node *n) {
  Form f;
  return (n->op == OP_EXPAND && !image_form(n, &f)) || image_layout(n);
}

static const Node *skip_invisible(const Node *n) {
  return invisible(n) ? skip_invisible(n->src[0]) : n;
}

/* The node written in n's place: invisible nodes are not written, and the equations are those of
 * the training step, where the runtime's training flag is 1: a statistic r + training (b − r)
 * (the running one in evaluate and predict, the batch's b in training) is b, training y is y. */
static const Node *written(const Graph *g, const Node *n) {
  const Node *t = g->training;
  if (invisible(n))
    return written(g, n->src[0]);
  for (int i = 0; t && n->op == OP_MUL && i < 2; i++)
    if (n->src[i] == t)
      return written(g, n->src[1 - i]);
  for (int i = 0; t && n->op == OP_ADD && i < 2; i++) {
    const Node *r = n->src[i], *m = n->src[1 - i];
    for (int j = 0; m->op == OP_MUL && j < 2; j++) {
      const Node *d = m->src[1 - j];
      if (m->src[j] == t && d->op == OP_SUB && d->src[1] == r)
        return written(g, d->src[0]);
    }
  }
  return n;
}

/* --- forms that read the graph around a node: folded constants, min --- */

/* The node −n of the graph, if it has one. */
static const Node *negation_in(const Graph *g, const Node *n) {
  for (uint32_t i = n->id + 1; i < g->n; i++)
    if (g->node[i]->op == OP_NEG && g->node[i]->src[0] == n)
      return g->node[i];
  return NULL;
}

/* n written negated for min(a, b) = −max(−a, −b) and [a < b] = [−a > −b]: an unnamed −a gives
 * its operand a (into slot i of f), a constant −c the number c (into text), any other unnamed n
 * the node −n when the graph has one (−min(a, 0) once the builders rewrote −(−max(…)) as max). */
static bool negation_of(const Explain *x, const Node *n, Form *f, int i, char *text, size_t size) {
  if (n->op == OP_CONST) {
    snprintf(text, size, n->arg.k > 0 ? "−%g" : "%g", fabs(n->arg.k));
    return true;
  }
  const Node *a = x->name[n->id] ? NULL : n->op == OP_NEG ? n->src[0] : negation_in(x->g, n);
  if (!a)
    return false;
  f->opnd[i] = a;
  snprintf(text, size, "%%%d", i);
  return true;
}

/* min(a, b) for −max(−a, −b) as the builders write min, and [a < b] for its derivative's mask
 * [−a > −b]; one operand at least a negation, not both constants. */
static bool form_min(const Explain *x, const Node *n, Form *f) {
  const Node *m = n->op == OP_NEG ? n->src[0] : n;
  bool mask = n->op == OP_CMPGT, min = n->op == OP_NEG && m->op == OP_MAX && !x->name[m->id];
  char a[32], b[32];
  Form g = *f;
  if (!(mask || min) || (m->src[0]->op == OP_CONST && m->src[1]->op == OP_CONST) ||
      !negation_of(x, m->src[0], &g, 0, a, sizeof a) ||
      !negation_of(x, m->src[1], &g, 1, b, sizeof b))
    return false;
  snprintf(g.tmpl, sizeof g.tmpl, mask ? "[%s < %s]" : "min(%s, %s)", a, b);
  g.prec = P_ATOM, g.group = G_NONE, g.simple = true;
  *f = g;
  return true;
}

/* A product as it is written: k N^npow f₀ ⊙ f₁ ⊙ …, the constants, N and minus signs gathered
 * into k and npow (ngathered of them) and the factors f what remains. */
typedef struct {
  double k;
  int npow, ngathered, nfactor;
  bool overflow;
  const Node *factor[NNC_MAX_SRC];
} Product;

static void note_reuse(Explain *x, const Node *n);

/* Whether n is written as a product of its sources: a plain −a, a ⊙ b or a/c (not x², not an
 * image's form, not min). */
static bool is_product(const Explain *x, const Node *n) {
  Form f;
  if (image_form(n, &f) || form_min(x, n, &f))
    return false;
  if (n->op == OP_DIV)
    return n->src[1]->op == OP_BATCH || n->src[1]->op == OP_CONST;
  return n->op == OP_NEG ? form_of(n).group == OP_NEG : n->op == OP_MUL && n->src[0] != n->src[1];
}

static void gather(Explain *x, const Node *n, Product *p, bool noting);

/* Multiplies the sources of the product n into p. */
static void gather_sources(Explain *x, const Node *n, Product *p, bool noting) {
  p->ngathered += n->op != OP_MUL;
  if (n->op == OP_NEG)
    p->k = -p->k, gather(x, n->src[0], p, noting);
  else if (n->op == OP_DIV && n->src[1]->op == OP_BATCH)
    p->npow--, gather(x, n->src[0], p, noting);
  else if (n->op == OP_DIV)
    p->k /= n->src[1]->arg.k, gather(x, n->src[0], p, noting);
  else
    gather(x, n->src[0], p, noting), gather(x, n->src[1], p, noting);
}

/* Multiplies n into p: a constant or N into k and npow, a product by its sources, anything else
 * (or anything named) as a factor. noting: the remarks of the products go beside the equation. */
static void gather(Explain *x, const Node *n, Product *p, bool noting) {
  const Node *w = x->name[n->id] ? n : written(x->g, n);
  if (w != n)
    gather(x, w, p, noting);
  else if (!x->name[n->id] && (n->op == OP_CONST || n->op == OP_BATCH)) {
    p->ngathered++;
    if (n->op == OP_CONST)
      p->k *= n->arg.k;
    else
      p->npow++;
  } else if (!x->name[n->id] && is_product(x, n)) {
    if (noting)
      note_reuse(x, n);
    gather_sources(x, n, p, noting);
  } else if (p->nfactor < NNC_MAX_SRC)
    p->factor[p->nfactor++] = n;
  else
    p->overflow = true;
}

/* |k| N^npow as a coefficient: 0.002, 1/N, 1/(4 N), 0.3/N. */
static bool magnitude(const Product *p, char *buf, size_t size) {
  double a = fabs(p->k), m = 1 / a;
  if (p->npow == 0)
    snprintf(buf, size, "%g", a);
  else if (p->npow == -1 && a == 1)
    snprintf(buf, size, "1/N");
  else if (p->npow == -1 && m >= 2 && m <= 1e5 && fabs(m - round(m)) < 1e-9 * m)
    snprintf(buf, size, "1/(%g N)", round(m));
  else if (p->npow == -1)
    snprintf(buf, size, "%g/N", a);
  else
    return false;
  return true;
}

/* The factors of p into f's template after its first len bytes, scalars first, as %0 … %3:
 * a scalar multiplies what follows it, tensors are multiplied elementwise (⊙). */
static void put_factors(const Product *p, Form *f, int len) {
  int k = 0;
  for (int scalar = 1; scalar >= 0; scalar--)
    for (int i = 0; i < p->nfactor; i++) {
      if (is_scalar(p->factor[i]) != scalar)
        continue;
      const char *sep = !k ? "" : is_scalar(f->opnd[k - 1]) ? " " : " ⊙ ";
      f->opnd[k] = p->factor[i];
      len += snprintf(f->tmpl + len, sizeof f->tmpl - (size_t)len, "%s%%%d", sep, k);
      k++;
    }
}

/* A product of several constants is written with their product, once, in front: 2 (0.001 W) is
 * 0.002 W, 0.5 (0.5/N) ⊙ d is (1/(4 N)) d, −(−a ⊙ b) is a ⊙ b, and a minus goes in front:
 * −(a ⊙ b) ⊙ c is −a ⊙ b ⊙ c. The graph keeps its nodes; only the writing folds. */
static bool form_folded(Explain *x, const Node *n, Form *f, bool noting) {
  Product p = {.k = 1};
  if (!is_product(x, n))
    return false;
  gather_sources(x, n, &p, false);
  char mag[48];
  bool unit = p.npow == 0 && fabs(p.k) == 1;
  bool moved = p.ngathered == 1 && n->op != OP_NEG && p.k == -1; /* the minus of −a ⊙ b */
  if (p.overflow || (p.ngathered < 2 && !moved) || (unit && p.nfactor < 2) ||
      !magnitude(&p, mag, sizeof mag))
    return false;
  if (noting)
    gather_sources(x, n, &(Product){.k = 1}, true);
  const char *sign = p.k < 0 ? "−" : "", *fmt = p.npow ? "%s(%s) " : "%s%s ";
  if (!p.nfactor || unit)
    fmt = unit ? "%s" : "%s%s";
  put_factors(&p, f, snprintf(f->tmpl, sizeof f->tmpl, fmt, sign, mag));
  f->assoc = true, f->simple = false;
  if (p.k < 0)
    f->prec = P_NEG, f->group = OP_NEG;
  else if (!p.nfactor)
    f->prec = p.npow ? P_MUL : P_ATOM, f->group = G_NONE;
  else
    f->prec = P_MUL, f->group = unit && !is_scalar(f->opnd[0]) ? OP_MUL : G_SCALE;
  return true;
}

/* The form of n, reading the graph around it too (names, what a product gathers); noting: the
 * remarks of the nodes it writes inline go beside the equation. */
static Form form_in(Explain *x, const Node *n, bool noting) {
  Form f = form_of(n);
  if (!form_min(x, n, &f))
    form_folded(x, n, &f, noting);
  return f;
}

/* How a node looks where it is used: a name is an atom; others look like what is written. */
static Form ref_form(Explain *x, const Node *n) {
  const char *name = x->name[n->id];
  if (name)
    return (Form){.prec = P_ATOM, .group = G_NONE, .simple = !strchr(name, '/')};
  if (written(x->g, n) != n)
    return ref_form(x, written(x->g, n));
  return form_in(x, n, false);
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
  bool last = *rest == '\0', tight = !last && *rest != ' ';
  bool closed = *rest == ')' || *rest == ','; /* inside a delimited argument list */
  bool paren = !closed && needs_parens(p, &cf, left, tight, last && at_end);
  fputs(paren ? "(" : "", out);
  put_ref(x, out, c, paren || (last && at_end));
  fputs(paren ? ")" : "", out);
}

static void put_number(FILE *out, double k) { fprintf(out, k < 0 ? "−%g" : "%g", k < 0 ? -k : k); }

static const char minus_sign[] = "−";

/* a + b and a − b where b renders with a leading minus are written a − b′ and a + b′
 * (a + −(1/N) y is a − (1/N) y, a − −1 is a + 1). */
static void put_sum(Explain *x, FILE *out, const Node *n, const Form *f, bool at_end) {
  char *a = NULL, *b = NULL;
  size_t na = 0, nb = 0;
  bool sub = n->op == OP_SUB;
  FILE *fa = open_memstream(&a, &na), *fb = open_memstream(&b, &nb);
  if (fa && fb) {
    put_operand(x, fa, f, n->src[0], true, sub ? " − %1" : " + %1", at_end);
    put_operand(x, fb, f, n->src[1], false, "", at_end);
  }
  if (fa)
    fclose(fa);
  if (fb)
    fclose(fb);
  size_t k = sizeof minus_sign - 1;
  bool minus = b && !strncmp(b, minus_sign, k);
  fprintf(out, "%s %s %s", a ? a : "", minus != sub ? minus_sign : "+",
          b ? b + (minus ? k : 0) : "");
  free(a), free(b);
}

/* Writes the template of f for node n: %0 … %3 its operands by name or inline. */
static void put_template(Explain *x, FILE *out, const Node *n, const Form *f, const char *tmpl,
                         bool at_end) {
  for (const char *p = tmpl; *p; p++) {
    if (p[0] == '%' && p[1] >= '0' && p[1] < '0' + NNC_MAX_SRC)
      put_operand(x, out, f, f->opnd[p[1] - '0'], p == tmpl, p + 2, at_end), p++;
    else if (p[0] == '%' && p[1] == 'k')
      put_number(out, n->arg.k), p++;
    else if (p[0] == '%' && p[1] == 'n')
      fputs(n->name ? n->name : "?", out), p++;
    else
      fputc(*p, out);
  }
}

/* A form's note (how the graph computes it) goes beside the equation that writes the form. */
static void note_form(Explain *x, const Node *n, const Form *f) {
  if (!x->notes || !f->note[0])
    return;
  FILE *notes = x->notes;
  Form plain = *f;
  plain.prec = P_MUL, plain.group = G_NONE; /* operands of the note are parenthesised */
  x->notes = NULL;
  fputs(ftell(notes) ? "; " : "", notes);
  put_template(x, notes, n, &plain, f->note, true);
  x->notes = notes;
}

/* Renders the node's own operation, its operands by name or inline. */
static void put_def(Explain *x, FILE *out, const Node *n, bool at_end) {
  if (written(x->g, n) != n) {
    put_ref(x, out, written(x->g, n), at_end);
    return;
  }
  Form f = form_in(x, n, true);
  note_reuse(x, n);
  note_form(x, n, &f);
  bool sum = n->op == OP_ADD || n->op == OP_SUB;
  if (sum && f.opnd[0] == n->src[0] && f.opnd[1] == n->src[1])
    put_sum(x, out, n, &f, at_end);
  else
    put_template(x, out, n, &f, f.tmpl, at_end);
}

static void put_ref(Explain *x, FILE *out, const Node *n, bool at_end) {
  if (x->name[n->id])
    fputs(x->name[n->id], out);
  else
    put_def(x, out, n, at_end);
}

/* --- derivatives that reuse forward values (grad_rules.c builds them so) --- */

/* The forward value that n, as the derivative rule of op tagged it, is built from. */
static const Node *derivative_of(const Node *n, Op op) {
  return n->prov.kind == PROV_DERIVATIVE && n->prov.index == op ? n->prov.of : NULL;
}

/* σ(z)(1 − σ(z)) and 1 − tanh²(z) reuse the forward σ(z) and tanh(z). */
static const Node *reuse_sigmoid(const Node *n) { return derivative_of(n, OP_SIGMOID); }
static const Node *reuse_tanh(const Node *n) { return derivative_of(n, OP_TANH); }

/* relu = max(z, 0) differentiates to the mask [z > 0] of the forward pre-activation z
 * (leaky_relu's [z > αz] is written out, not noted). */
static const Node *reuse_relu(const Node *n) {
  const Node *z = derivative_of(n, OP_MAX);
  return z && node_is_const(n->src[1], 0) ? z : NULL;
}

/* dy ⊙ exp(z), dy being the adjoint of that exp as grad.c tags it (an exp that is only a
 * factor of some other product is no exp′). */
static const Node *reuse_exp(const Node *n) {
  for (int i = 0; n->op == OP_MUL && i < 2; i++) {
    const Node *e = n->src[i], *dy = n->src[1 - i];
    if (e->op == OP_EXP && dy->prov.kind == PROV_ADJOINT && dy->prov.of == e)
      return e;
  }
  return NULL;
}

/* dy ⊙ mask: dropout passes the error through the units it kept, with the forward's mask. */
static const Node *reuse_mask(const Node *n) {
  for (int i = 0; n->op == OP_MUL && i < 2; i++)
    if (skip_invisible(n->src[i])->flags & NODE_NOISE)
      return skip_invisible(n->src[i]);
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
  {reuse_mask, "dropout: δ ⊙ mask"},
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

/* The error signal δ of a layer: ∂L/∂u of the node u that consumes one of its parameters, as
 * grad.c recorded it (g->adjoint). δ is what the parameter's gradient is built from — ∂L/∂W =
 * Xᵀ δ (matmul), ∂L/∂w = Σₙ δ ⊙ x (elementwise weight), ∂L/∂b = Σₙ δ (bias), ∂L/∂W = x ⋆ δ
 * and ∂L/∂b = Σₙᵢⱼ δ (convolution) — so only those consumers give one, and a parameter
 * subtracted from (−b) does not. */
static const Node *error_signal(const Graph *g, const Node *param, const Node *use) {
  bool weighs = use->op == OP_ADD || use->op == OP_MATMUL || use->op == OP_MUL ||
                (use->op == OP_SUB && use->src[0] == param) || image_conv(use, NULL, NULL);
  const Node *d = weighs && use->id < g->nadjoint ? g->adjoint[use->id] : NULL;
  return d && (d->flags & NODE_BACKWARD) ? skip_invisible(d) : NULL;
}

/* Offers the parameter's error signal for its layer. The parameters of a layer agree on it;
 * should they not, the earliest node wins, since later ones may be built from it. */
static void offer_error_signal(const Explain *x, const Node *param, const Node *use,
                               const Node **best) {
  const Node *d = (param->flags & NODE_PARAM) ? error_signal(x->g, param, use) : NULL;
  if (d && (!*best || d->id < (*best)->id))
    *best = d;
}

/* The parameter that n is, read as it is or in another shape (a kernel as a matrix, a per-channel
 * scale as [C, 1, 1]); NULL when n is no parameter. */
static const Node *param_view(const Node *n) {
  n = n ? skip_invisible(n) : NULL;
  if (n && n->op == OP_RESHAPE && !shape_has_batch(&n->shape))
    n = n->src[0];
  return n && (n->flags & NODE_PARAM) ? n : NULL;
}

/* Whether n computes with a parameter: reads one, or convolves with parametric weights or bias. */
static bool reads_param(const Node *n) {
  const Node *w, *b;
  if (image_conv(n, &w, &b))
    return param_view(w) || param_view(b);
  for (int s = 0; s < n->nsrc; s++)
    if (param_view(n->src[s]))
      return n->op != OP_EXPAND && n->op != OP_RESHAPE;
  return false;
}

/* Walks a layer's anonymous nodes back to its parameters, collecting the error signal and the
 * pre-activation: the last node that reads a parameter (X W + b, not the αz of leaky_relu).
 * Returns whether the layer has parameters. */
static bool visit_layer(Explain *x, const Node *n, uint32_t stamp, const Node **best,
                        const Node **pre) {
  bool found = false;
  const Node *w, *b;
  if (reads_param(n) && (!*pre || n->id > (*pre)->id))
    *pre = n;
  if (image_conv(n, &w, &b)) { /* δ of a convolution is at its output, channels first */
    offer_error_signal(x, w, n, best);
    if (b)
      offer_error_signal(x, param_view(b) ? param_view(b) : b, n, best);
  }
  for (int s = 0; s < n->nsrc; s++) {
    const Node *c = n->src[s];
    if (x->seen[c->id] == stamp)
      continue;
    x->seen[c->id] = stamp;
    if (param_view(c))
      offer_error_signal(x, param_view(c), n, best), found = true;
    else if (!c->name && op_info[c->op].kind != KIND_LEAF)
      found |= visit_layer(x, c, stamp, best, pre);
  }
  return found;
}

/* Names δ[l]; an error signal grad.c already named (∂L/∂y of a layer without activation) keeps
 * its name, and its equation says that it is δ[l]. The pre-activation z gets the name z[l] when
 * the backward pass reads it (relu's mask [z > 0]) or the forward uses it more than once
 * (leaky_relu's max(z, αz)); only that node, so that every name means one value. */
static void name_layer(Explain *x, const Node *a, const Node *delta, const Node *z, int l) {
  if (delta && !x->name[delta->id])
    make_label(x, delta, "δ[%d]", l);
  else if (delta && !x->alias[delta->id])
    x->alias[delta->id] = l;
  x->delta_of[a->id] = delta;
  if (!z || z == a)
    return;
  x->delta_of[z->id] = delta;
  if (!x->name[z->id] && (x->uses[z->id] || x->fuses[z->id] > 1))
    make_label(x, z, "z[%d]", l);
}

/* A layer is a named forward value computed from parameters through anonymous nodes only
 * (A1 = σ(X W1 + b1)); l numbers layers in the order the model computes them. */
static void name_layers(Explain *x) {
  const Graph *g = x->g;
  int l = 0;
  for (uint32_t i = 0; i < g->n; i++) {
    const Node *a = g->node[i], *delta = NULL, *z = NULL;
    if (is_forward_value(a) && a != g->loss && visit_layer(x, a, i + 1, &delta, &z))
      name_layer(x, a, delta, z, ++l);
  }
}

/* The letter of the temporaries: t, unless t already means something here (the optimizer's
 * step t, or a value the user named t), then τ. */
static const char *temp_letter(const Explain *x) {
  if (x->g->step)
    return "τ";
  for (uint32_t i = 0; i < x->g->n; i++)
    if (x->g->node[i]->name && !strcmp(x->g->node[i]->name, "t"))
      return "τ";
  return "t";
}

/* A backward value used twice is written once under a name t₁, t₂, … rather than twice. */
static void name_shared(Explain *x) {
  int t = 0;
  const char *letter = temp_letter(x);
  for (uint32_t i = 0; i < x->g->n; i++) {
    const Node *n = x->g->node[i];
    if ((n->flags & NODE_BACKWARD) && i < x->first_update && x->uses[i] > 1 && !x->name[i] &&
        op_info[n->op].kind != KIND_LEAF && !invisible(n) && t < 9)
      snprintf(x->label[i], LABEL_MAX, "%s%s", letter, subscript[++t]), x->name[i] = x->label[i];
  }
}

/* --- the optimizer's state: m[W] for the state W.m, m̂[W] for its bias-corrected value --- */

/* State i of parameter W, as optim.c tags it, is letter[W] by the optimizer's row; the state's
 * new value goes by the same name, as in m ← β m + (1 − β) g. */
static void name_state(Explain *x, const ParamSlot *ps) {
  const Node *s = ps->param;
  if (s->prov.kind != PROV_STATE || !x->opt || !s->prov.of->name)
    return;
  const char *letter = optimizer_info(x->opt->kind)->states[s->prov.index].letter;
  snprintf(x->label[s->id], LABEL_MAX, "%s[%s]", letter, s->prov.of->name);
  x->name[s->id] = x->label[s->id];
  if (ps->update && !x->name[ps->update->id]) {
    x->name[ps->update->id] = x->label[s->id];
    x->role[ps->update->id] = R_STATE;
  }
}

/* The estimate m̂[W] = m[W] / (1 − βᵗ) of a state, as optim.c tags it. */
static void name_estimates(Explain *x) {
  static const char hat[] = "\xCC\x82"; /* U+0302 COMBINING CIRCUMFLEX ACCENT */
  for (uint32_t i = x->first_update; i < x->g->n; i++) {
    const Node *n = x->g->node[i];
    const char *m = n->prov.kind == PROV_ESTIMATE ? x->name[n->prov.of->id] : NULL;
    if (!m || x->name[i])
      continue;
    int k = (int)strcspn(m, "[");
    snprintf(x->label[i], LABEL_MAX, "%.*s%s%s", k, m, hat, m + k);
    x->name[i] = x->label[i];
    x->role[i] = R_ESTIMATE;
    x->remark[i] = "bias correction: the average starts at 0";
  }
}

/* Several dropout masks are mask₁, mask₂, …; one is just mask. */
static void name_masks(Explain *x) {
  for (int i = 0; x->g->nnoise > 1 && i < x->g->nnoise && i < 9; i++) {
    uint32_t id = x->g->noise[i]->id;
    snprintf(x->label[id], LABEL_MAX, "mask%s", subscript[i + 1]);
    x->name[id] = x->label[id];
  }
}

/* --- simplifications the graph's structure shows --- */

/* A node as equations refer to it, for remarks (notes off). */
static const char *text_of(Explain *x, const Node *n) {
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  if (!f)
    return "?";
  FILE *notes = x->notes;
  x->notes = NULL;
  put_ref(x, f, n, true);
  x->notes = notes;
  fclose(f);
  const char *s = arena_printf(x->g->arena, "%s", buf);
  free(buf);
  return s;
}

static void add_simplification(Explain *x, const char *text) {
  if (x->nsimpl < SIMPL_MAX)
    x->simpl[x->nsimpl++] = text;
}

/* The error signal at z, by the name its equation gives it. */
static const char *delta_text(Explain *x, const Node *z) {
  const Node *d = x->delta_of[z->id];
  if (!d)
    return arena_printf(x->g->arena, "∂L/∂%s", text_of(x, z));
  return x->alias[d->id] ? arena_printf(x->g->arena, "δ[%d]", x->alias[d->id]) : x->name[d->id];
}

/* nll(log_softmax(z), y): names log ŷ and says what the derived δ at z amounts to. */
static void note_softmax_ce(Explain *x, const Node *ls, const Node *z) {
  const char *zt = text_of(x, z), *y = x->g->target->name, *d = delta_text(x, z);
  if (!x->name[ls->id])
    x->name[ls->id] = "log ŷ";
  x->remark[ls->id] = arena_printf(x->g->arena, "log-softmax: ŷ = softmax(%s)", zt);
  if (x->delta_of[z->id])
    x->remark[x->delta_of[z->id]->id] =
      arena_printf(x->g->arena, "softmax with cross-entropy: δ = (ŷ − %s)/N for one-hot %s", y, y);
  add_simplification(
    x, arena_printf(x->g->arena,
                    "softmax with cross-entropy: the %s derived above is (ŷ ⊙ Σ₁ %s − %s)/N with "
                    "ŷ = softmax(%s)\n    (the term through the shift by max₁ %s is 0: the rest "
                    "sums to 0 along each row);\n    for one-hot %s (class targets) Σ₁ %s = 1, so %s = (ŷ − %s)/N",
                    d, y, y, zt, zt, y, y, d, y));
}

/* The sigmoid of z the model computes, if it names one. */
static const Node *sigmoid_of(const Graph *g, const Node *z) {
  for (uint32_t i = z->id + 1; i < g->n; i++)
    if (g->node[i]->op == OP_SIGMOID && g->node[i]->src[0] == z && g->node[i]->name)
      return g->node[i];
  return NULL;
}

/* binary cross-entropy on the logits z: the derived δ at z is (σ(z) − y)/(N k). */
static void note_bce_logits(Explain *x, const Node *z) {
  const char *zt = text_of(x, z), *y = x->g->target->name, *d = delta_text(x, z);
  const Node *p = sigmoid_of(x->g, z);
  const char *pt = p ? x->name[p->id] : arena_printf(x->g->arena, "σ(%s)", zt);
  int64_t k = shape_numel(&z->shape, 1);
  const char *per = k == 1 ? "N" : arena_printf(x->g->arena, "(%lld N)", (long long)k);
  if (x->delta_of[z->id])
    x->remark[x->delta_of[z->id]->id] = arena_printf(
      x->g->arena, "sigmoid with binary cross-entropy: δ = (%s − %s)/%s", pt, y, per);
  add_simplification(
    x, arena_printf(x->g->arena,
                    "sigmoid with binary cross-entropy: the loss is written on the logits %s "
                    "(exp never overflows);\n    the %s derived above is (σ(%s) − %s)/(N k), "
                    "k = %lld output%s per row: %s = (%s − %s)/%s",
                    zt, d, zt, y, (long long)k, k == 1 ? "" : "s", d, pt, y, per));
}

/* --- normalisation: batch and layer norm's μ, σ² and x̂, and the adjoints through them --- */

/* (x − μ) / √(σ² + ε), as lower_norm.c writes it; μ and σ² as the training step has them. */
static bool match_norm(const Graph *g, const Node *n, const Node **mu, const Node **var) {
  if (n->op != OP_DIV || n->src[0]->op != OP_SUB || n->src[1]->op != OP_SQRT)
    return false;
  const Node *a = n->src[1]->src[0];
  if (a->op != OP_ADD || a->src[1]->op != OP_CONST)
    return false;
  *mu = written(g, n->src[0]->src[1]), *var = written(g, a->src[0]);
  return true;
}

/* Names the forward value n sym[layer], and its adjoint, as grad.c recorded it, ∂L/∂sym[layer]. */
static void label_value(Explain *x, const Node *n, const char *sym, const char *layer,
                        const char *remark) {
  const Graph *g = x->g;
  if (x->name[n->id])
    return;
  snprintf(x->label[n->id], LABEL_MAX, "%s[%s]", sym, layer);
  x->name[n->id] = x->label[n->id];
  x->remark[n->id] = remark;
  const Node *d = n->id < g->nadjoint ? g->adjoint[n->id] : NULL;
  d = d && (d->flags & NODE_BACKWARD) ? written(g, d) : NULL;
  if (d && !x->name[d->id]) {
    snprintf(x->label[d->id], LABEL_MAX, "∂L/∂%s[%s]", sym, layer);
    x->name[d->id] = x->label[d->id];
  }
}

/* The normalisations among a layer's anonymous nodes. */
static int visit_norms(Explain *x, const Node *n, const char *layer, uint32_t stamp) {
  const Node *mu, *var;
  int found = 0;
  if (match_norm(x->g, n, &mu, &var)) {
    bool running = x->g->training != NULL;
    label_value(x, n, "x̂", layer, NULL);
    label_value(x, mu, "μ", layer, running ? "the batch's mean (evaluate and predict: the "
                "running mean)" : NULL);
    label_value(x, var, "σ²", layer, running ? "the batch's variance (evaluate and predict: "
                "the running one)" : NULL);
    found++;
  }
  for (int s = 0; s < n->nsrc; s++) {
    const Node *c = n->src[s];
    if (x->seen[c->id] != stamp && !c->name && op_info[c->op].kind != KIND_LEAF)
      x->seen[c->id] = stamp, found += visit_norms(x, c, layer, stamp);
  }
  return found;
}

/* Batch and layer norm: their statistics and x̂ get names, so the derived δ at their input reads
 * as the textbook's three terms (through x̂ directly, through σ², through μ). */
static void name_norms(Explain *x) {
  const Graph *g = x->g;
  int found = 0;
  for (uint32_t i = 0; i < g->n; i++) {
    const Node *a = g->node[i];
    if (is_forward_value(a) && a != g->loss)
      found += visit_norms(x, a, a->name, 2 * g->n + 2 + i);
  }
  if (found)
    add_simplification(
      x, "normalisation: the δ derived at x is the sum of three terms, through x̂ = (x − μ) / "
         "√(σ² + ε) directly,\n    through σ² and through μ; summed, δ = (∂L/∂x̂ − mean ∂L/∂x̂ "
         "− x̂ ⊙ mean(∂L/∂x̂ ⊙ x̂)) / √(σ² + ε),\n    the means over what the statistics average");
}

/* The losses the sugar tags: softmax and sigmoid with their cross-entropies. */
static void find_structures(Explain *x) {
  const Graph *g = x->g;
  for (uint32_t i = 0; i < g->n && g->target; i++) {
    const Node *n = g->node[i];
    if (n->prov.kind == PROV_SOFTMAX_CE)
      note_softmax_ce(x, n->prov.of, n->prov.of->prov.of);
    else if (n->prov.kind == PROV_BCE_LOGITS)
      note_bce_logits(x, n->prov.of);
  }
}

static void name_nodes(Explain *x) {
  const Graph *g = x->g;
  for (uint32_t i = 0; i < g->n; i++) {
    const Node *n = g->node[i];
    int *count = (n->flags & NODE_BACKWARD) ? x->uses : x->fuses;
    x->name[i] = n == g->loss ? "L" : n->name;
    for (int s = 0; s < n->nsrc && i < x->first_update; s++)
      count[n->src[s]->id]++;
  }
  name_layers(x);
  name_norms(x);
  name_shared(x);
  name_masks(x);
  for (int p = 0; p < g->nparams; p++)
    if (g->params[p].role == ROLE_STATE)
      name_state(x, &g->params[p]);
  name_estimates(x);
  find_structures(x);
}

/* --- output --- */

/* Columns of UTF-8 text: continuation bytes and combining marks (U+0300…U+033F, the hat of m̂)
 * take none. */
static int display_width(const char *s) {
  int w = 0;
  for (; *s; s++)
    w += ((unsigned char)*s & 0xC0) != 0x80 && (unsigned char)*s != 0xCC;
  return w;
}

/* `  lhs op rhs`, with remarks (reused values, recognised structure) aligned after it. */
static void put_equation(Explain *x, FILE *out, const char *lhs, const char *op, const Node *rhs) {
  char *line = NULL, *note = NULL;
  size_t nline = 0, nnote = 0;
  FILE *l = open_memstream(&line, &nline);
  x->notes = open_memstream(&note, &nnote);
  if (l && x->notes) {
    fprintf(l, "  %s %s ", lhs, op);
    put_def(x, l, rhs, true);
    if (x->remark[rhs->id])
      fprintf(x->notes, "%s%s", ftell(x->notes) ? "; " : "", x->remark[rhs->id]);
    fclose(l), fclose(x->notes);
    int pad = NOTE_COLUMN - display_width(line);
    fprintf(out, "%s%*s%s\n", line, nnote ? (pad > 2 ? pad : 2) : 0, "", note);
  } else if (l || x->notes)
    fclose(l ? l : x->notes);
  x->notes = NULL;
  free(line), free(note);
}

static void put_forward(Explain *x, FILE *out) {
  fputs("forward\n", out);
  for (uint32_t i = 0; i < x->first_update; i++) {
    const Node *n = x->g->node[i];
    if (x->name[i] && !(n->flags & (NODE_BACKWARD | NODE_UPDATE)) &&
        op_info[n->op].kind != KIND_LEAF)
      put_equation(x, out, x->name[i], "=", n);
  }
}

static void put_backward(Explain *x, FILE *out) {
  fputs("\nbackward (derived by reverse-mode differentiation)\n", out);
  for (uint32_t i = 0; i < x->first_update; i++) {
    const Node *n = x->g->node[i];
    char lhs[256];
    snprintf(lhs, sizeof lhs, "δ[%d] = %s", x->alias[i], x->name[i] ? x->name[i] : "");
    if (x->name[i] && (n->flags & NODE_BACKWARD) && op_info[n->op].kind != KIND_LEAF)
      put_equation(x, out, x->alias[i] ? lhs : x->name[i], "=", n);
  }
}

/* `update (Adam, β1 = 0.9, …, learning rate η, step t = 1, 2, …)`: the settings behind the
 * constants of the update equations, as the optimizer's row labels them; a setting that 0
 * switches off is shown only when on, and Nesterov qualifies momentum. */
static void put_update_header(const Explain *x, FILE *out) {
  const OptimizerSettings *o = x->opt;
  fputs("\nupdate (", out);
  if (o) {
    const OptimizerInfo *row = optimizer_info(o->kind);
    fputs(row->display, out);
    for (int i = 0; i < row->nargs; i++) {
      const OptimizerArg *arg = &row->args[i];
      double v = optimizer_get(o, arg->field);
      if (!arg->label || (optimizer_field(arg->field)->off_at_zero && !(v > 0)))
        continue;
      bool nesterov = arg->field == OPTF_momentum && o->nesterov;
      fprintf(out, ", %s%s = %g", nesterov ? "Nesterov " : "", arg->label, v);
    }
    fputs(", ", out);
  }
  fputs(x->g->step ? "learning rate η, step t = 1, 2, …)\n" : "learning rate η)\n", out);
}

/* Marks the optimizer's nodes a value is computed from. */
static void mark_update(Explain *x, const Node *n, uint32_t stamp) {
  if (n->id < x->first_update || x->seen[n->id] == stamp)
    return;
  x->seen[n->id] = stamp;
  for (int s = 0; s < n->nsrc; s++)
    mark_update(x, n->src[s], stamp);
}

/* One parameter's step: its state's new values and their estimates in the order the optimizer
 * computes them, then the parameter itself. */
static void put_param_update(Explain *x, FILE *out, const ParamSlot *ps, uint32_t stamp) {
  mark_update(x, ps->update, stamp);
  for (uint32_t i = x->first_update; i < x->g->n; i++)
    if (x->seen[i] == stamp && x->role[i] && x->g->node[i] != ps->update)
      put_equation(x, out, x->name[i], x->role[i] == R_STATE ? "←" : "=", x->g->node[i]);
  put_equation(x, out, ps->param->name, "←", ps->update);
}

static void put_update(Explain *x, FILE *out) {
  const Graph *g = x->g;
  bool grouped = false, first = true;
  for (uint32_t i = x->first_update; i < g->n; i++)
    grouped |= x->role[i] != R_NONE;
  put_update_header(x, out);
  for (int p = 0; p < g->nparams; p++) {
    const ParamSlot *ps = &g->params[p];
    if (ps->role != ROLE_PARAM)
      continue;
    if (grouped && !first)
      fputc('\n', out);
    first = false;
    if (ps->update)
      put_param_update(x, out, ps, g->n + 1 + (uint32_t)p);
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
  for (int i = 0; i < x->nsimpl; i++)
    fprintf(out, "  %s\n", x->simpl[i]);
}

void explain_print(FILE *out, const Graph *g, const OptimizerSettings *opt) {
  ArenaMark mark = arena_mark(g->arena);
  Explain x = {
    .g = g,
    .opt = opt,
    .name = ARENA_ARRAY(g->arena, const char *, g->n),
    .label = arena_alloc(g->arena, LABEL_MAX * (size_t)g->n),
    .remark = ARENA_ARRAY(g->arena, const char *, g->n),
    .delta_of = ARENA_ARRAY(g->arena, const Node *, g->n),
    .uses = ARENA_ARRAY(g->arena, int, g->n),
    .fuses = ARENA_ARRAY(g->arena, int, g->n),
    .alias = ARENA_ARRAY(g->arena, int, g->n),
    .role = ARENA_ARRAY(g->arena, uint8_t, g->n),
    .seen = ARENA_ARRAY(g->arena, uint32_t, g->n),
    .first_update = g->lr ? g->lr->id : g->n,
  };
  name_nodes(&x);
  fputs("notation: N rows in a batch, ⊙ elementwise product, Σₙ sum over the rows, ᵀ transpose,\n"
        "          δ[l] = ∂L/∂z[l] the error at the input z[l] of layer l's activation\n", out);
  fprintf(out, "%s\n", image_notation(g));
  put_forward(&x, out);
  put_backward(&x, out);
  put_update(&x, out);
  put_simplifications(&x, out);
  arena_reset(g->arena, mark);
}

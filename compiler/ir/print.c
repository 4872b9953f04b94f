/* print: the graph as text (--emit=graph) and as Graphviz (--emit=dot), for people.
 * Contract: nothing but these two printers lives here, and nothing that must stay stable reads
 * their output (the model hash is graph_hash, hash.c). test_model_hash links its own printers
 * in place of this file, which works only while it defines nothing else. */
#include <stdio.h>

#include "graph.h"

static void print_axes(FILE *out, uint32_t axes) {
  fputs(" axes=", out);
  for (int i = 0; i < NNC_MAX_RANK; i++)
    if (axes & (1u << i))
      fprintf(out, "%d", i);
  if (axes & AXES_KEEP)
    fputs(" keep", out);
}

/* The ops of the first table rows keep the forms the goldens hold; an op that takes
 * parameters and has no form of its own prints them all, as `p=[1,1,0,0]`. */
static void print_arg(FILE *out, const Node *n) {
  const int32_t *p = n->arg.p;
  if (n->op == OP_CONST || n->op == OP_POWC)
    fprintf(out, " %g", n->arg.k);
  else if (n->op == OP_PERMUTE) {
    fputs(" perm=", out);
    for (int i = 0; i < n->shape.rank; i++)
      fprintf(out, "%d", p[i]);
  } else if (op_info[n->op].kind == KIND_REDUCE || n->op == OP_EXPAND)
    print_axes(out, (uint32_t)p[PARAM_AXES]);
  else if (n->op == OP_MATMUL) {
    if (p[PARAM_TRANSPOSE_A] || p[PARAM_TRANSPOSE_B])
      fprintf(out, " %s%s", p[PARAM_TRANSPOSE_A] ? "Aᵀ" : "A", p[PARAM_TRANSPOSE_B] ? "Bᵀ" : "B");
  } else if (op_info[n->op].kind == KIND_WINDOW) {
    Window w = window_of(p);
    fprintf(out, " window=%dx%d stride=%dx%d", w.kh, w.kw, w.sh, w.sw);
    if (w.pt || w.pl || w.pb || w.pr)
      fprintf(out, " pad=%d,%d,%d,%d", w.pt, w.pl, w.pb, w.pr);
    if (w.dh != 1 || w.dw != 1)
      fprintf(out, " dilation=%dx%d", w.dh, w.dw);
    if (w.last)
      fputs(" channels-last", out);
  } else if (op_info[n->op].nparams) {
    fputs(" p=[", out);
    for (int i = 0; i < op_info[n->op].nparams; i++)
      fprintf(out, "%s%d", i ? "," : "", p[i]);
    fputc(']', out);
  }
}

void graph_print(FILE *out, const Graph *g) {
  for (uint32_t i = 0; i < g->n; i++) {
    const Node *n = g->node[i];
    char sh[64];
    fprintf(out, "%%%u = %s", n->id, node_op_name(n));
    print_arg(out, n);
    for (int s = 0; s < n->nsrc; s++)
      fprintf(out, " %%%u", n->src[s]->id);
    fprintf(out, " : %s", shape_str(&n->shape, sh, sizeof sh));
    if (n->name)
      fprintf(out, "  # %s", n->name);
    fputc('\n', out);
  }
  if (g->loss)
    fprintf(out, "loss %%%u\n", g->loss->id);
  if (g->output)
    fprintf(out, "output %%%u\n", g->output->id);
  for (int p = 0; p < g->nparams; p++) {
    const ParamSlot *ps = &g->params[p];
    if (ps->grad)
      fprintf(out, "grad %s = %%%u\n", ps->param->name, ps->grad->id);
    if (ps->update)
      fprintf(out, "update %s <- %%%u\n", ps->param->name, ps->update->id);
  }
}

static const char *dot_colour(const Node *n) {
  if (n->flags & NODE_UPDATE)
    return "palegreen";
  if (n->flags & NODE_BACKWARD)
    return "lightblue";
  if (n->flags & (NODE_PARAM | NODE_STATE))
    return "khaki";
  if (op_info[n->op].kind == KIND_LEAF)
    return "lightgrey";
  return "white";
}

/* Names may hold quotes or backslashes only in theory; escape them anyway. */
static void dot_text(FILE *out, const char *s) {
  for (; *s; s++) {
    if (*s == '"' || *s == '\\')
      fputc('\\', out);
    fputc(*s, out);
  }
}

void graph_print_dot(FILE *out, const Graph *g) {
  fputs("digraph nnc {\n  rankdir=TB;\n  node [shape=box, style=filled, fontname=\"Helvetica\"];\n",
        out);
  for (uint32_t i = 0; i < g->n; i++) {
    const Node *n = g->node[i];
    char sh[64];
    fprintf(out, "  n%u [fillcolor=%s, label=\"", n->id, dot_colour(n));
    if (n->name) {
      dot_text(out, n->name);
      fputs("\\n", out);
    }
    fprintf(out, "%s", node_op_name(n));
    print_arg(out, n);
    fprintf(out, " %s\"];\n", shape_str(&n->shape, sh, sizeof sh));
    for (int s = 0; s < n->nsrc; s++)
      fprintf(out, "  n%u -> n%u;\n", n->src[s]->id, n->id);
  }
  if (g->loss)
    fprintf(out, "  n%u [penwidth=3];\n", g->loss->id);
  fputs("}\n", out);
}


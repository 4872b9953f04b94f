/* sema_csv: csv(...) data sources. Contract: checks the arguments, then probes the file's first
 * lines (gzipped or not) with the runtime's CSV reader to count its columns and detect a header,
 * so that column numbers, class names and the widths of the input and target are checked at
 * compile time. */
#include "sema_internal.h"

#include <math.h>
#include <string.h>

/* Column indices: a number or an array of numbers, each a column of the file. */
static int *csv_columns(Sema *s, const AstNode *v, const char *what, int ncols, int *count) {
  const AstNode *elems = v->kind == AST_ARRAY ? v->u.array.elems : v;
  int n = v->kind == AST_ARRAY ? v->u.array.n : 1;
  int *cols = ARENA_ARRAY(s->arena, int, n);
  bool ok = true;
  int i = 0;
  for (const AstNode *e = elems; e && i < n; e = e->next, i++) {
    double c;
    if (e->kind == AST_STRING || !sema_const_eval(e, &c) || c != floor(c) || c < 0) {
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

/* A class target's column that holds names (blue, red) needs classes = [...]: said at compile
 * time with the names of the first lines, rather than by the loader at run time. */
static void class_names_needed(Sema *s, const Model *m, const AstNode *call, const NnrtProbe *p,
                               const DataSettings *out) {
  if (!m->n_classes || out->n_y_cols != 1)
    return;
  int col = out->y_cols[0];
  const char *seen[NNRT_PROBE_LINES], *list = "";
  int n = 0;
  for (int i = out->header ? 1 : 0; i < p->n_lines; i++) {
    const NnrtProbeLine *l = &p->lines[i];
    if (col >= l->n_cells || l->numeric[col])
      continue;
    bool dup = false;
    for (int k = 0; k < n; k++)
      dup |= !strcmp(seen[k], l->cells[col]);
    if (dup)
      continue;
    seen[n] = l->cells[col];
    list = arena_printf(s->arena, "%s%s\"%s\"", list, n ? ", " : "", seen[n]);
    n++;
  }
  if (!n)
    return;
  diag_error(s->d, call->loc,
             "column %d holds class names such as '%s', but no 'classes' are given", col, seen[0]);
  diag_hint(s->d, "list the %d names in label order: classes = [%s%s]", m->n_classes, list,
            n < m->n_classes ? ", ..." : "");
}

/* The first lines of the file into p; false after reporting why there are none. */
static bool first_lines(Sema *s, const AstNode *path_node, const DataSettings *out,
                        NnrtProbe *p) {
  const char *name = path_node->u.str.value;
  switch (sema_probe(s, path_node, out, 0, p)) {
  case NNRT_PROBE_OK: return true;
  case NNRT_PROBE_EMPTY: diag_error(s->d, path_node->loc, "data file '%s' is empty", name); break;
  case NNRT_PROBE_LINE_TOO_LONG:
    diag_error(s->d, path_node->loc, "data file '%s' has a line longer than %d bytes, the limit",
               name, NNRT_CSV_MAX_LINE);
    break;
  default: break; /* reported by sema_probe */
  }
  return false;
}

/* Without header = ..., the first line is a header when one of its fields is not a number where
 * the second line has one (class names may be words in every line). */
static bool looks_like_header(const NnrtProbe *p) {
  const NnrtProbeLine *first = &p->lines[0], *second = p->n_lines > 1 ? &p->lines[1] : NULL;
  for (int i = 0; i < first->n_cells; i++)
    if (!first->numeric[i] && (!second || (i < second->n_cells && second->numeric[i])))
      return true;
  return false;
}

/* features = / targets = against the file's ncols columns, into out; false after an error. */
static bool csv_column_args(Sema *s, const Args *a, int ncols, DataSettings *out) {
  const AstNode *features = sema_arg_of(a, "features"), *targets = sema_arg_of(a, "targets");
  int nx = 0, ny = 1;
  int *x = features ? csv_columns(s, features, "features", ncols, &nx) : NULL;
  int *y = targets ? csv_columns(s, targets, "targets", ncols, &ny) : NULL;
  if ((features && !x) || (targets && !y))
    return false;
  if (!targets) {
    y = ARENA_ARRAY(s->arena, int, 1);
    y[0] = ncols - 1;
  }
  for (int i = 0; i < nx; i++)
    for (int j = 0; j < ny; j++)
      if (x[i] == y[j]) {
        diag_error(s->d, features->loc, "column %d is both a feature and a target", x[i]);
        return false;
      }
  out->x_cols = x;
  out->n_x_cols = nx;
  out->y_cols = y;
  out->n_y_cols = ny;
  return true;
}

void sema_csv_source(Sema *s, const Model *m, const AstNode *v, const SemaSource *src,
                     DataSettings *out) {
  Args a = {.fn = src->name, .names = src->args};
  sema_collect_args(s, v, &a, 1, "csv takes one file name; give the other arguments by name, e.g. "
                    "header = true");
  sema_scaling_args(s, &a, out);
  sema_positive_arg(s, m, &a, out);
  out->delimiter = ',';
  const AstNode *delim = sema_arg_of(&a, "delimiter"), *header = sema_arg_of(&a, "header");
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
    sema_bool(s, header, "header", &out->header);
  sema_classes_arg(s, m, &a, out);
  if (a.npos < 1) {
    diag_error(s->d, v->loc, "csv needs a file name: csv(\"data.csv\")");
    return;
  }
  out->path = sema_path_arg(s, a.pos[0]);
  if (!out->path)
    return;
  NnrtProbe p = {0};
  bool ok = first_lines(s, a.pos[0], out, &p);
  int ncols = ok ? p.lines[0].n_cells : 0;
  if (ok && !header)
    out->header = looks_like_header(&p);
  if (ok && out->header && p.n_lines < 2) {
    diag_error(s->d, a.pos[0]->loc, "data file '%s' has a header line but no rows",
               a.pos[0]->u.str.value);
    ok = false;
  }
  if (ok && csv_column_args(s, &a, ncols, out)) {
    if (!sema_arg_of(&a, "classes")) /* given but wrong: reported above */
      class_names_needed(s, m, v, &p, out);
  }
  else
    ok = false;
  nnrt_data_probe_free(&p);
  if (!ok)
    return;
  const AstNode *features = sema_arg_of(&a, "features"), *targets = sema_arg_of(&a, "targets");
  int nx = out->n_x_cols, ny = out->n_y_cols;
  int nfeat = features ? nx : ncols - ny;
  const AstNode *at = features ? features : v;
  if (m->input.present && nfeat != m->input.width)
    diag_error(s->d, at->loc, "csv file has %d feature column%s, input '%s' has %lld", nfeat,
               nfeat == 1 ? "" : "s", m->input.name, (long long)m->input.width);
  at = targets ? targets : v;
  if (m->target.present && m->n_classes && ny != 1)
    diag_error(s->d, at->loc, "a class target needs exactly one target column, but %d are given",
               ny);
  else if (m->target.present && !m->n_classes && ny != m->target.width && !out->one_vs_rest)
    diag_error(s->d, at->loc, "csv file has %d target column%s, target '%s' has %lld", ny,
               ny == 1 ? "" : "s", m->target.name, (long long)m->target.width);
}

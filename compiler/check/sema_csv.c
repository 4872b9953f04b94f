/* sema_csv: csv(...) data sources. Contract: checks the arguments, then reads the file's first
 * two lines (gzipped or not) to count its columns and detect a header, so that column numbers,
 * class names and the widths of the input and target are checked at compile time. */
#include "sema_internal.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

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
/* Lines past this are refused here as the runtime's loader refuses them (NNRT_CSV_MAX_LINE). */
enum { CSV_MAX_LINE = 1 << 20 };

/* The next line without its end, or NULL at the end of the file; *overlong when it is longer
 * than CSV_MAX_LINE (the rest is not read). */
static char *csv_line(gzFile f, char **buf, size_t *cap, bool *overlong) {
  size_t n = 0;
  for (;;) {
    if (n >= CSV_MAX_LINE) {
      *overlong = true;
      return NULL;
    }
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

void sema_csv_source(Sema *s, const Model *m, const AstNode *v, DataSettings *out) {
  Args a = {.fn = "csv", .names = csv_arg_names};
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
  if (sema_arg_of(&a, "classes"))
    csv_class_names(s, m, sema_arg_of(&a, "classes"), out);
  if (a.npos < 1) {
    diag_error(s->d, v->loc, "csv needs a file name: csv(\"data.csv\")");
    return;
  }
  out->path = sema_path_arg(s, a.pos[0]);
  if (!out->path)
    return;
  const char *name = a.pos[0]->u.str.value;
  gzFile f = sema_open_data(s, a.pos[0], out->path);
  if (!f)
    return;
  char *buf = NULL;
  size_t cap = 0;
  bool overlong = false;
  char *first = csv_line(f, &buf, &cap, &overlong);
  first = first ? arena_strdup(s->arena, first) : NULL;
  char *second = first ? csv_line(f, &buf, &cap, &overlong) : NULL;
  second = second ? arena_strdup(s->arena, second) : NULL;
  if (overlong) {
    free(buf);
    gzclose(f);
    diag_error(s->d, a.pos[0]->loc, "data file '%s' has a line longer than %d bytes, the limit",
               name, CSV_MAX_LINE);
    return;
  }
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
  const AstNode *features = sema_arg_of(&a, "features"), *targets = sema_arg_of(&a, "targets");
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
  if (m->input && nfeat != sema_input_width(m))
    diag_error(s->d, at->loc, "csv file has %d feature column%s, input '%s' has %lld", nfeat,
               nfeat == 1 ? "" : "s", m->input->u.decl.name, (long long)sema_input_width(m));
  at = targets ? targets : v;
  if (m->target && m->n_classes && ny != 1)
    diag_error(s->d, at->loc, "a class target needs exactly one target column, but %d are given",
               ny);
  else if (m->target && !m->n_classes && ny != sema_decl_width(m->target) && !out->one_vs_rest)
    diag_error(s->d, at->loc, "csv file has %d target column%s, target '%s' has %lld", ny,
               ny == 1 ? "" : "s", m->target->u.decl.name, (long long)sema_decl_width(m->target));
}

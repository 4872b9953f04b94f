/* sema_data: data sources, data = / validate = , one row of nnrt_sources.h each: tables checked
 * row by row against the input and target, csv(...) (in sema_csv.c) and idx(...), whose files
 * are probed at compile time with the runtime's own readers (nnrt_data.h), so that a shape
 * mismatch or a header the loader would refuse is reported at the source. Relative paths are
 * taken from the .nn file's directory. */
#include "sema_internal.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

/* --- data sources --- */

/* A table's rows against the input and target: widths, and class labels in range. */
static void check_rows(Diag *d, const Model *m, const AstNode *table) {
  int64_t nin = m->input.width, nout = m->target.width;
  for (const AstNode *r = table->u.table.rows; r; r = r->next) {
    if (m->input.present && r->u.row.n_in != nin)
      diag_error(d, r->loc, "this row has %d input value%s; input '%s' has %lld", r->u.row.n_in,
                 r->u.row.n_in == 1 ? "" : "s", m->input.name, (long long)nin);
    if (!m->target.present)
      continue;
    if (m->n_classes) {
      double k = r->u.row.n_out == 1 ? r->u.row.out->u.num.value : 0;
      if (r->u.row.n_out != 1)
        diag_error(d, r->loc, "this row has %d target values; class target '%s' takes one label",
                   r->u.row.n_out, m->target.name);
      else if (k != floor(k))
        diag_error(d, r->loc, "class label %g is not an integer", k);
      else if (k < 0 || k >= m->n_classes)
        diag_error(d, r->loc, "class label %g is out of range: target '%s' has classes 0 to %d",
                   k, m->target.name, m->n_classes - 1);
    } else if (r->u.row.n_out != nout) {
      diag_error(d, r->loc, "this row has %d target value%s; target '%s' has %lld",
                 r->u.row.n_out, r->u.row.n_out == 1 ? "" : "s", m->target.name,
                 (long long)nout);
    }
  }
}

/* The rows of a checked table as two float arrays: inputs, and targets (or class labels). */
static void table_floats(Arena *arena, const AstNode *t, DataSettings *out) {
  const AstNode *first = t->u.table.rows;
  out->rows = t->u.table.n;
  out->x_width = first ? first->u.row.n_in : 0;
  out->y_width = first ? first->u.row.n_out : 0;
  float *x = ARENA_ARRAY(arena, float, out->rows * out->x_width + 1);
  float *y = ARENA_ARRAY(arena, float, out->rows * out->y_width + 1);
  int64_t i = 0, j = 0;
  for (const AstNode *r = first; r; r = r->next) {
    for (const AstNode *v = r->u.row.in; v; v = v->next)
      x[i++] = (float)v->u.num.value;
    for (const AstNode *v = r->u.row.out; v; v = v->next)
      y[j++] = (float)v->u.num.value;
  }
  out->x = x;
  out->y = y;
}

/* A relative path is taken from the .nn file's directory, like C's #include "...". */
static const char *resolve_path(Sema *s, const char *path) {
  if (path[0] == '/' || !s->dir)
    return path;
  return arena_printf(s->arena, "%s/%s", s->dir, path);
}

/* A file-name argument: a non-empty string. */
const char *sema_path_arg(Sema *s, const AstNode *e) {
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

NnrtProbeStatus sema_probe(Sema *s, const AstNode *path_node, const DataSettings *out, int file,
                           NnrtProbe *p) {
  NnrtData d = {.kind = (int32_t)out->kind, .path = out->path, .labels_path = out->labels_path,
                .delimiter = out->delimiter};
  nnrt_data_probe(&d, file, p);
  const char *name = path_node->u.str.value;
  switch (p->status) {
  case NNRT_PROBE_CANNOT_OPEN: open_error(s, path_node, p->sys_errno); break;
  case NNRT_PROBE_NOT_REGULAR:
    diag_error(s->d, path_node->loc, "data file '%s' is not a regular file", name);
    break;
  case NNRT_PROBE_READ_ERROR:
    diag_error(s->d, path_node->loc, "cannot read data file '%s': %s", name, p->detail);
    break;
  case NNRT_PROBE_TOO_BIG:
  case NNRT_PROBE_REFUSED:
    diag_error(s->d, path_node->loc, "cannot load data file '%s': %s", name, p->reason);
    break;
  default: break;
  }
  return p->status;
}

/* scale = k, standardize = true/false: how the inputs are scaled when loaded. */
void sema_scaling_args(Sema *s, const Args *a, DataSettings *out) {
  const AstNode *scale = sema_arg_of(a, "scale"), *standardize = sema_arg_of(a, "standardize");
  bool std = false;
  out->scaling = SCALE_NONE;
  out->scale = 1;
  if (scale && sema_number(s, scale, "scale", &out->scale)) {
    if (out->scale == 0)
      diag_error(s->d, scale->loc, "'scale' must not be 0");
    out->scaling = SCALE_FACTOR;
  }
  if (standardize && sema_bool(s, standardize, "standardize", &std) && std) {
    if (scale)
      diag_error(s->d, standardize->loc, "give either scale or standardize = true, not both");
    out->scaling = SCALE_STANDARDIZE;
  }
}

/* ---- idx files: the headers, probed ---- */

/* The header of idx file `file` of out into p; false after reporting why there is none. A header
 * that claims more than the loader takes is reported, and its dimensions still checked. */
static bool idx_header(Sema *s, const AstNode *path_node, const DataSettings *out, int file,
                       NnrtProbe *p) {
  const char *name = path_node->u.str.value;
  switch (sema_probe(s, path_node, out, file, p)) {
  case NNRT_PROBE_OK:
  case NNRT_PROBE_TOO_BIG: return true;
  case NNRT_PROBE_EMPTY:
  case NNRT_PROBE_NOT_IDX:
    diag_error(s->d, path_node->loc, "'%s' is not an idx file (its header is wrong)", name);
    return false;
  case NNRT_PROBE_IDX_TYPE:
    diag_error(s->d, path_node->loc,
               "'%s' holds idx type 0x%02X; only unsigned bytes (0x08) are supported", name,
               p->idx_type);
    return false;
  case NNRT_PROBE_CUT_SHORT:
    diag_error(s->d, path_node->loc, "'%s' is not an idx file (its header is cut short)", name);
    return false;
  default: return false; /* reported by sema_probe */
  }
}

/* positive = K: one class against the rest, for a real-valued target one value wide. */
void sema_positive_arg(Sema *s, const Model *m, const Args *a, DataSettings *out) {
  const AstNode *v = sema_arg_of(a, "positive");
  int64_t k;
  if (!v || !sema_int(s, v, "positive", 0, MAX_CLASSES, &k))
    return;
  if (m->n_classes)
    diag_error(s->d, v->loc, "'positive' turns labels into a 0/1 target, but target '%s' is a "
               "class target", m->target.name);
  else if (m->target.present && m->target.width != 1)
    diag_error(s->d, v->loc, "'positive' gives one 0/1 value per row; target '%s' has %lld",
               m->target.name, (long long)m->target.width);
  out->one_vs_rest = true;
  out->positive = (int)k;
}

/* classes = ["name", ...]: the names of a class target's labels, 0.. in order. */
void sema_classes_arg(Sema *s, const Model *m, const Args *a, DataSettings *out) {
  const AstNode *v = sema_arg_of(a, "classes");
  if (!v)
    return;
  if (!m->n_classes) {
    diag_error(s->d, v->loc, "'classes' names the labels of a class target, but %s",
               m->target.present ? arena_printf(s->arena, "target '%s' is real-valued",
                                        m->target.name)
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
               v->u.array.n, v->u.array.n == 1 ? "" : "s", m->target.name,
               m->n_classes);
    ok = false;
  }
  if (ok) {
    out->n_class_names = v->u.array.n;
    out->class_names = names;
  }
}

/* The images' shape against the input. */
static void idx_images(Sema *s, const Model *m, const AstNode *v, const NnrtProbe *img) {
  uint64_t values = 1;
  char dims[128] = "";
  for (int i = 1; i < img->ndim; i++) {
    values *= img->dims[i];
    size_t len = strlen(dims);
    snprintf(dims + len, sizeof dims - len, "%s%u", i > 1 ? "\xc3\x97" : "", img->dims[i]);
  }
  int64_t want = m->input.width;
  if (values == (uint64_t)want)
    return;
  if (img->ndim > 2)
    diag_error(s->d, v->loc, "idx file has images of %s = %llu values, input '%s' has %lld", dims,
               (unsigned long long)values, m->input.name, (long long)want);
  else
    diag_error(s->d, v->loc, "idx file has images of %llu values, input '%s' has %lld",
               (unsigned long long)values, m->input.name, (long long)want);
}

static void sema_idx_source(Sema *s, const Model *m, const AstNode *v, const SemaSource *src,
                            DataSettings *out) {
  Args a = {.fn = src->name, .names = src->args};
  sema_collect_args(s, v, &a, 2, "idx takes two file names, images and labels; give the others by "
                    "name, e.g. scale = 1/255");
  sema_scaling_args(s, &a, out);
  sema_positive_arg(s, m, &a, out);
  sema_classes_arg(s, m, &a, out);
  if (a.npos < 2) {
    diag_error(s->d, v->loc, "idx needs two file names: idx(\"images.gz\", \"labels.gz\")");
    return;
  }
  out->path = sema_path_arg(s, a.pos[0]);
  out->labels_path = sema_path_arg(s, a.pos[1]);
  NnrtProbe img = {0}, lab = {0};
  bool have_img = out->path && idx_header(s, a.pos[0], out, 0, &img);
  bool have_lab = out->labels_path && idx_header(s, a.pos[1], out, 1, &lab);
  if (have_img && img.ndim < 2) {
    diag_error(s->d, a.pos[0]->loc, "idx images file '%s' has 1 dimension; images need a count "
               "and at least one more", a.pos[0]->u.str.value);
    have_img = false;
  }
  if (have_img && m->input.present)
    idx_images(s, m, v, &img);
  if (have_lab && lab.ndim != 1) {
    diag_error(s->d, a.pos[1]->loc, "idx labels file '%s' has %d dimensions; labels must be "
               "1-dimensional", a.pos[1]->u.str.value, lab.ndim);
    have_lab = false;
  }
  if (have_img && have_lab && img.dims[0] != lab.dims[0])
    diag_error(s->d, v->loc, "idx files disagree: %u images but %u labels", img.dims[0],
               lab.dims[0]);
  if (m->target.present && !m->n_classes && m->target.width != 1 && !sema_arg_of(&a, "positive"))
    diag_error(s->d, v->loc, "idx labels give one value per row; target '%s' has %lld",
               m->target.name, (long long)m->target.width);
  nnrt_data_probe_free(&img);
  nnrt_data_probe_free(&lab);
}

/* table { inputs -> targets; ... }: the model's own rows. */
static void sema_table_source(Sema *s, const Model *m, const AstNode *v, const SemaSource *src,
                              DataSettings *out) {
  (void)src;
  if (v->u.table.n == 0)
    diag_error(s->d, v->loc, "the data table is empty");
  check_rows(s->d, m, v);
  table_floats(s->arena, v, out);
}

#define SEMA_SOURCE(KIND, name, files, check, load, probe, args)                                 \
  {name, DATA_##KIND, files, check, (const char *const[])NNRT_SOURCE_ARGS(args)},
static const SemaSource sources[] = {NNRT_DATA_SOURCES(SEMA_SOURCE)};
#undef SEMA_SOURCE
enum { N_SOURCES = sizeof sources / sizeof *sources };

/* The row a data source is written with: table { ... } is the row without files, and a call
 * names a row with files; NULL for an unknown call. */
static const SemaSource *source_of(const AstNode *v, const char *callee) {
  for (int i = 0; i < N_SOURCES; i++)
    if (v->kind == AST_TABLE ? sources[i].files == 0
                             : sources[i].files > 0 && !strcmp(sources[i].name, callee))
      return &sources[i];
  return NULL;
}

/* data = / validate = : table { ... } | csv(...) | idx(...) */
void sema_data_source(Sema *s, const Model *m, const AstNode *setting, DataSettings *out) {
  const AstNode *v = setting->u.decl.value;
  *out = (DataSettings){.loc = v->loc, .scale = 1};
  const char *name = v->kind == AST_TABLE ? NULL : sema_callee(v);
  if (v->kind != AST_TABLE && !name) {
    diag_error(s->d, v->loc, "'%s' must be table { inputs -> targets; ... }, csv(\"file.csv\") "
               "or idx(\"images\", \"labels\")", setting->u.decl.name);
    return;
  }
  const SemaSource *src = source_of(v, name);
  if (!src) {
    const char *names[N_SOURCES + 1] = {NULL};
    for (int i = 0; i < N_SOURCES; i++)
      names[i] = sources[i].name;
    sema_unknown_choice(s, v, "data source", name, names, N_SOURCES);
    return;
  }
  out->kind = src->kind;
  src->check(s, m, v, src, out);
}

/* sema_data: data sources, data = / validate = : tables checked row by row against the input
 * and target, csv(...) (in sema_csv.c) and idx(...), whose file headers are read at compile
 * time so that a shape mismatch is reported at the source. Relative paths are taken from the
 * .nn file's directory. */
#include <sys/stat.h>

#include "sema_internal.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <zlib.h>

/* --- data sources --- */

int64_t sema_input_width(const Model *m) { return m->input ? sema_decl_width(m->input) : 0; }

/* A table's rows against the input and target: widths, and class labels in range. */
static void check_rows(Diag *d, const Model *m, const AstNode *table) {
  int64_t nin = sema_input_width(m), nout = m->target ? sema_decl_width(m->target) : 0;
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

void sema_open_error(Sema *s, const AstNode *path, int err) {
  diag_error(s->d, path->loc, "cannot open data file '%s': %s", path->u.str.value,
             strerror(err));
  if (path->u.str.value[0] != '/' && err == ENOENT)
    diag_hint(s->d, "a relative path is taken from the directory of the .nn file");
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

/* ---- idx files: the header only (magic 00 00 08 n, then n big-endian 32-bit sizes) ---- */

typedef struct {
  int ndims;
  uint32_t dim[8];
} IdxHeader;

gzFile sema_open_data(Sema *s, const AstNode *path_node, const char *path) {
  struct stat st;
  if (stat(path, &st) != 0) {
    sema_open_error(s, path_node, errno);
    return NULL;
  }
  if (!S_ISREG(st.st_mode)) {
    diag_error(s->d, path_node->loc, "data file '%s' is not a regular file",
               path_node->u.str.value);
    return NULL;
  }
  errno = 0;
  gzFile f = gzopen(path, "rb");
  if (!f)
    sema_open_error(s, path_node, errno ? errno : ENOMEM);
  return f;
}

static bool idx_header(Sema *s, const AstNode *path_node, const char *path, IdxHeader *h) {
  const char *name = path_node->u.str.value;
  gzFile f = sema_open_data(s, path_node, path);
  if (!f)
    return false;
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
void sema_positive_arg(Sema *s, const Model *m, const Args *a, DataSettings *out) {
  const AstNode *v = sema_arg_of(a, "positive");
  int64_t k;
  if (!v || !sema_int(s, v, "positive", 0, MAX_CLASSES, &k))
    return;
  if (m->n_classes)
    diag_error(s->d, v->loc, "'positive' turns labels into a 0/1 target, but target '%s' is a "
               "class target", m->target->u.decl.name);
  else if (m->target && sema_decl_width(m->target) != 1)
    diag_error(s->d, v->loc, "'positive' gives one 0/1 value per row; target '%s' has %lld",
               m->target->u.decl.name, (long long)sema_decl_width(m->target));
  out->one_vs_rest = true;
  out->positive = (int)k;
}

static void idx_source(Sema *s, const Model *m, const AstNode *v, DataSettings *out) {
  Args a = {.fn = "idx", .names = idx_arg_names};
  sema_collect_args(s, v, &a, 2, "idx takes two file names, images and labels; give the others by "
                    "name, e.g. scale = 1/255");
  sema_scaling_args(s, &a, out);
  sema_positive_arg(s, m, &a, out);
  if (a.npos < 2) {
    diag_error(s->d, v->loc, "idx needs two file names: idx(\"images.gz\", \"labels.gz\")");
    return;
  }
  out->path = sema_path_arg(s, a.pos[0]);
  out->labels_path = sema_path_arg(s, a.pos[1]);
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
    int64_t want = sema_input_width(m);
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
  if (m->target && !m->n_classes && sema_decl_width(m->target) != 1 && !sema_arg_of(&a, "positive"))
    diag_error(s->d, v->loc, "idx labels give one value per row; target '%s' has %lld",
               m->target->u.decl.name, (long long)sema_decl_width(m->target));
}

/* data = / validate = : table { ... } | csv(...) | idx(...) */
void sema_data_source(Sema *s, const Model *m, const AstNode *setting, DataSettings *out) {
  const AstNode *v = setting->u.decl.value;
  *out = (DataSettings){.loc = v->loc, .scale = 1};
  if (v->kind == AST_TABLE) {
    if (v->u.table.n == 0)
      diag_error(s->d, v->loc, "the data table is empty");
    check_rows(s->d, m, v);
    out->kind = DATA_TABLE;
    table_floats(s->arena, v, out);
    return;
  }
  static const char *const sources[] = {"table", "csv", "idx", NULL};
  const char *name = sema_callee(v);
  if (!name) {
    diag_error(s->d, v->loc, "'%s' must be table { inputs -> targets; ... }, csv(\"file.csv\") "
               "or idx(\"images\", \"labels\")", setting->u.decl.name);
    return;
  }
  if (!strcmp(name, "csv")) {
    out->kind = DATA_CSV;
    sema_csv_source(s, m, v, out);
  } else if (!strcmp(name, "idx")) {
    out->kind = DATA_IDX;
    idx_source(s, m, v, out);
  } else {
    sema_unknown_choice(s, v, "data source", name, sources, 3);
  }
}

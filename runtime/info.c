/* info: the `info` table of a generated program, in the manner of Keras's model.summary():
 * one row per value the model computes (m->layers), the totals, and the training memory plan.
 *
 *   Model 'xor' (from examples/xor.nn)
 *
 *   Layer  Op       Output shape  Params  FLOPs/sample
 *   -----  -------  ------------  ------  ------------
 *   A1     sigmoid  (N, 2)             6            14
 *   ...
 *   -----  -------  ------------  ------  ------------
 *   Total                              9            19
 *
 *   Memory plan for batches of at most 4 rows (floats of 4 bytes):
 *     parameters                9 floats     36 B
 *     optimiser state           0 floats      0 B
 *     (running statistics      …, for a model that has them: batch norm's mean and variance)
 *     activations and other    40 floats    160 B
 *     peak (workspace)         49 floats    196 B
 *
 * N stands for the batch. Columns are as wide as their widest cell (names count in characters,
 * not bytes, so "∂L" lines up). */
#include <inttypes.h>
#include <string.h>

#include "comm.h"
#include "internal.h"

enum { COLS = 5 };

/* Characters of a UTF-8 string: bytes that do not continue a character. */
static int text_width(const char *s) {
  int n = 0;
  for (; *s; s++)
    n += ((unsigned char)*s & 0xC0) != 0x80;
  return n;
}

static void shape_text(char *buf, size_t size, const NnrtLayer *l) {
  size_t n = (size_t)snprintf(buf, size, "(N");
  for (int i = 0; i < l->rank && i < 4 && n < size; i++)
    n += (size_t)snprintf(buf + n, size - n, ", %lld", (long long)l->dim[i]);
  if (n < size)
    snprintf(buf + n, size - n, ")");
}

/* 1234567 -> "1,234,567". */
static void group_digits(char *buf, size_t size, int64_t v) {
  char raw[32];
  snprintf(raw, sizeof raw, "%lld", (long long)(v < 0 ? -v : v));
  size_t len = strlen(raw), o = 0;
  if (v < 0 && o + 1 < size)
    buf[o++] = '-';
  for (size_t i = 0; i < len && o + 1 < size; i++) {
    if (i > 0 && (len - i) % 3 == 0 && o + 2 < size)
      buf[o++] = ',';
    buf[o++] = raw[i];
  }
  buf[o] = '\0';
}

/* Bytes as "196 B", "1.5 KiB", "3.2 MiB", "1.1 GiB". */
void nnrt_bytes_text(char *buf, size_t size, double b) {
  if (b < 1024)
    snprintf(buf, size, "%.0f B", b);
  else if (b < 1024.0 * 1024)
    snprintf(buf, size, "%.1f KiB", b / 1024);
  else if (b < 1024.0 * 1024 * 1024)
    snprintf(buf, size, "%.1f MiB", b / (1024.0 * 1024));
  else
    snprintf(buf, size, "%.1f GiB", b / (1024.0 * 1024 * 1024));
}

static void pad(FILE *out, int n) {
  for (; n > 0; n--)
    fputc(' ', out);
}

static void rule(FILE *out, const int *w) {
  for (int c = 0; c < COLS; c++) {
    if (c)
      fputs("  ", out);
    for (int i = 0; i < w[c]; i++)
      fputc('-', out);
  }
  fputc('\n', out);
}

/* A row: the first three cells left-aligned, the numbers right-aligned. */
static void row(FILE *out, const int *w, const char *const *cell) {
  for (int c = 0; c < COLS; c++) {
    int gap = w[c] - text_width(cell[c]);
    if (c)
      fputs("  ", out);
    if (c >= 3)
      pad(out, gap);
    fputs(cell[c], out);
    if (c < 3 && c < COLS - 1)
      pad(out, gap);
  }
  fputc('\n', out);
}

static void layer_cells(const NnrtLayer *l, char (*buf)[64], const char **cell) {
  shape_text(buf[0], sizeof buf[0], l);
  group_digits(buf[1], sizeof buf[1], l->params);
  group_digits(buf[2], sizeof buf[2], l->flops);
  cell[0] = l->name ? l->name : "?";
  cell[1] = l->op ? l->op : "?";
  cell[2] = buf[0];
  cell[3] = buf[1];
  cell[4] = buf[2];
}

/* The running statistics (NNRT_ROLE_BUFFER): not trained, so not in the Params column, but
 * saved with the weights. One line, only for a model that has them. */
static void running_statistics(FILE *out, const NnrtModel *m) {
  static const char head[] = "\nRunning statistics (not trained, saved with the weights):";
  int listed = 0;
  for (int32_t i = 0; i < m->n_params; i++) {
    const NnrtParam *p = &m->params[i];
    if (p->role != NNRT_ROLE_BUFFER)
      continue;
    fprintf(out, "%s %s [", listed++ ? "," : head, p->name);
    for (int d = 0; d < p->rank && d < 4; d++)
      fprintf(out, "%s%lld", d ? ", " : "", (long long)p->dim[d]);
    fputc(']', out);
  }
  if (listed)
    fputc('\n', out);
}

/* The memory plan: what, floats, bytes; the numbers right-aligned in columns as wide as needed.
 * The running statistics' row only for a model that has them. */
static void memory_plan(FILE *out, const NnrtModel *m) {
  static const char *const what[5] = {"parameters", "optimiser state", "running statistics",
                                      "activations and other", "peak (workspace)"};
  const int64_t floats[5] = {m->mem_params, m->mem_state, m->mem_buffers, m->mem_other,
                             m->workspace_floats};
  char n[5][32], b[5][32];
  int wn = 0, wb = 0;
  for (int i = 0; i < 5; i++) {
    group_digits(n[i], sizeof n[i], floats[i]);
    nnrt_bytes_text(b[i], sizeof b[i], (double)floats[i] * sizeof(float));
    wn = (int)strlen(n[i]) > wn ? (int)strlen(n[i]) : wn;
    wb = (int)strlen(b[i]) > wb ? (int)strlen(b[i]) : wb;
  }
  fprintf(out, "\nMemory plan for batches of at most %lld row%s (floats of 4 bytes):\n",
          (long long)m->max_batch, m->max_batch == 1 ? "" : "s");
  for (int i = 0; i < 5; i++)
    if (i != 2 || m->mem_buffers > 0)
      fprintf(out, "  %-21s  %*s floats  %*s\n", what[i], wn, n[i], wb, b[i]);
}

/* A program built with nnc --mpi: what a step sends between the ranks (comm.c's reduction). */
static void communication(FILE *out, const NnrtModel *m) {
  int64_t g = nnrt_gradient_floats(m);
  if (!nnrt_comm || !m->has_train || g == 0)
    return;
  char b[32];
  nnrt_bytes_text(b, sizeof b, 4.0 * (double)g);
  fprintf(out, "\nData-parallel training (%s): every step sums the ranks' gradients, %lld floats "
          "(%s);\nunder mpirun -np P each rank sends and receives 2(P-1)/P of that a step "
          "(P = 2: %s, P = 4: ",
          nnrt_comm->name, (long long)g, b, b);
  nnrt_bytes_text(b, sizeof b, 4.0 * (double)g * 1.5);
  fprintf(out, "%s each way)\n", b);
}

void nnrt_print_summary(const NnrtModel *m, FILE *out) {
  static const char *const head[COLS] = {"Layer", "Op", "Output shape", "Params",
                                         "FLOPs/sample"};
  int w[COLS];
  for (int c = 0; c < COLS; c++)
    w[c] = text_width(head[c]);
  int64_t params = 0, flops = 0;
  for (int32_t i = 0; i < m->n_layers; i++) {
    char buf[3][64];
    const char *cell[COLS];
    layer_cells(&m->layers[i], buf, cell);
    for (int c = 0; c < COLS; c++)
      w[c] = text_width(cell[c]) > w[c] ? text_width(cell[c]) : w[c];
    params += m->layers[i].params;
    flops += m->layers[i].flops;
  }
  char tp[32], tf[32];
  group_digits(tp, sizeof tp, params);
  group_digits(tf, sizeof tf, flops);
  const char *total[COLS] = {"Total", "", "", tp, tf};
  for (int c = 3; c < COLS; c++)
    w[c] = text_width(total[c]) > w[c] ? text_width(total[c]) : w[c];

  fprintf(out, "Model '%s' (from %s)\n\n", m->name, m->source ? m->source : "?");
  row(out, w, head);
  rule(out, w);
  for (int32_t i = 0; i < m->n_layers; i++) {
    char buf[3][64];
    const char *cell[COLS];
    layer_cells(&m->layers[i], buf, cell);
    row(out, w, cell);
  }
  rule(out, w);
  row(out, w, total);
  fprintf(out, "\nInput '%s': %lld value%s per row; output '%s': %lld value%s per row\n",
          m->input.name, (long long)m->input.width, m->input.width == 1 ? "" : "s",
          m->output.name, (long long)m->output.width, m->output.width == 1 ? "" : "s");
  running_statistics(out, m);
  memory_plan(out, m);
  communication(out, m);
}

/* report: what a generated program shows while it trains, built on the NnrtReporter of nnrt.h.
 * - On a terminal a progress bar for the current epoch, redrawn with '\r' at most every
 *   `interval` seconds (10 times a second): steps, samples/s, the epoch's ETA, the running loss.
 *   It is erased before any other line. Not on a terminal there is never a bar.
 * - For each epoch the train block's log_every selects, one line (nnrt_print_epoch_line).
 * - --log-json: one JSON object per line for every epoch, flushed as it is written, so the file
 *   is valid JSON Lines after every line. A resumed run continues the log
 *   (nnrt_progress_continue_json): the records of the epochs the checkpoint holds stay, later
 *   ones (an interrupted run's, past its last checkpoint) are dropped, the new ones appended.
 * - --plot: the SVG of the history of every epoch (nnrt_plot_svg), written atomically; a
 *   continued log's records are part of the history. The loss axis is logarithmic when the
 *   losses span more than two decades (LOG_SPAN), else linear; the accuracy axis fits the
 *   accuracies with some room, within [0, 1].
 * Nothing here exits; failures come back as -1 with a message without the program's name. */
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "json.h"

static double monotonic_seconds(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

void nnrt_progress_init(NnrtProgress *p, const NnrtModel *m, FILE *out, int tty) {
  *p = (NnrtProgress){.out = out, .tty = tty, .metric = m->metric != NNRT_METRIC_NONE,
                      .interval = 0.1, .now = monotonic_seconds, .last_draw = -1.0,
                      .history = 1};
}

int nnrt_progress_open_json(NnrtProgress *p, const char *path, char *err, size_t errlen) {
  p->json = fopen(path, "w");
  if (!p->json) {
    nnrt_errf(err, errlen, "cannot write '%s': %s", path, strerror(errno));
    return -1;
  }
  return 0;
}

/* Without a bar to draw, no step callback: the training loop then reads no clock per step,
 * which for a model as small as XOR is a tenth of the step's time; without a JSON log, only
 * the printed epochs' seconds are read (the two clock reads of every epoch were a seventh of
 * XOR's epoch). */
NnrtReporter nnrt_progress_reporter(NnrtProgress *p) {
  return (NnrtReporter){.on_step = p->tty && p->out ? nnrt_progress_on_step : NULL,
                        .on_epoch = nnrt_progress_on_epoch, .ctx = p,
                        .logged_seconds_only = p->json == NULL};
}

static int digits(int64_t v) {
  int d = 1;
  for (; v >= 10; v /= 10)
    d++;
  return d;
}

/* ---- The bar ---- */

static void erase_bar(NnrtProgress *p) {
  if (!p->bar_shown)
    return;
  fputs("\r\033[K", p->out);
  p->bar_shown = 0;
}

/* "1:05" or "2:03:04". */
static void format_duration(char *buf, size_t size, double s) {
  if (!isfinite(s) || s < 0)
    s = 0;
  long long t = (long long)(s + 0.5);
  if (t >= 3600)
    snprintf(buf, size, "%lld:%02lld:%02lld", t / 3600, t / 60 % 60, t % 60);
  else
    snprintf(buf, size, "%lld:%02lld", t / 60, t % 60);
}

enum { BAR_WIDTH = 20 };

static void draw_bar(NnrtProgress *p, const NnrtStepReport *r) {
  char bar[BAR_WIDTH + 1], eta[32];
  double frac = r->steps > 0 ? (double)r->step / (double)r->steps : 0.0;
  if (frac > 1)
    frac = 1;
  int full = (int)(frac * BAR_WIDTH);
  for (int i = 0; i < BAR_WIDTH; i++)
    bar[i] = i < full ? '=' : i == full ? '>' : ' ';
  bar[BAR_WIDTH] = '\0';
  double per_step = r->step > 0 ? r->seconds / (double)r->step : 0.0;
  format_duration(eta, sizeof eta, per_step * (double)(r->steps - r->step));
  double rate = r->seconds > 0 ? (double)r->rows / r->seconds : 0.0;
  fprintf(p->out, "\r\033[Kepoch %*lld/%lld [%s] %3d%%  %.0f samples/s  ETA %s  loss %.6f",
          digits(r->epochs), (long long)r->epoch, (long long)r->epochs, bar,
          (int)(frac * 100.0), rate, eta, r->loss);
  fflush(p->out);
  p->bar_shown = 1;
}

void nnrt_progress_on_step(const NnrtStepReport *r, void *ctx) {
  NnrtProgress *p = ctx;
  if (!p->tty || !p->out)
    return;
  double now = p->now();
  if (p->last_draw >= 0 && now - p->last_draw < p->interval)
    return;
  p->last_draw = now;
  draw_bar(p, r);
}

/* ---- Epoch lines and JSON ---- */

void nnrt_print_epoch_line(FILE *out, const NnrtEpochReport *r, int metric) {
  fprintf(out, "epoch %*lld/%lld  loss %.6f", digits(r->epochs), (long long)r->epoch,
          (long long)r->epochs, r->loss);
  if (metric)
    fprintf(out, "  accuracy %.4f", r->accuracy);
  if (r->has_val) {
    fprintf(out, "  val_loss %.6f", r->val_loss);
    if (metric)
      fprintf(out, "  val_accuracy %.4f", r->val_accuracy);
  }
  fprintf(out, "  %.2fs\n", r->seconds);
}

/* The numbers of a record, in the order of the log's keys after "epoch". */
static const struct {
  const char *key, *fmt;
  size_t field;
  int val;      /* NAN (null) in an epoch without validation */
  int optional; /* left out when 0 (comm_seconds: only data-parallel runs have it) */
} RECORD[] = {
  {"loss", "%.9g", offsetof(NnrtEpochReport, loss), 0, 0},
  {"accuracy", "%.9g", offsetof(NnrtEpochReport, accuracy), 0, 0},
  {"val_loss", "%.9g", offsetof(NnrtEpochReport, val_loss), 1, 0},
  {"val_accuracy", "%.9g", offsetof(NnrtEpochReport, val_accuracy), 1, 0},
  {"lr", "%.9g", offsetof(NnrtEpochReport, lr), 0, 0},
  {"seconds", "%.6f", offsetof(NnrtEpochReport, seconds), 0, 0},
  {"comm_seconds", "%.6f", offsetof(NnrtEpochReport, comm_seconds), 0, 1},
};
enum { N_RECORD = sizeof RECORD / sizeof RECORD[0] };

static void json_number(FILE *out, const char *key, double v, const char *fmt) {
  fprintf(out, ", \"%s\": ", key);
  if (isfinite(v))
    fprintf(out, fmt, v);
  else
    fputs("null", out);
}

void nnrt_print_epoch_json(FILE *out, const NnrtEpochReport *r) {
  fprintf(out, "{\"epoch\": %lld", (long long)r->epoch);
  for (int i = 0; i < N_RECORD; i++) {
    double v;
    memcpy(&v, (const char *)r + RECORD[i].field, sizeof v);
    if (RECORD[i].optional && v == 0.0)
      continue;
    json_number(out, RECORD[i].key, RECORD[i].val && !r->has_val ? NAN : v, RECORD[i].fmt);
  }
  fputs("}\n", out);
}

enum { PLOT_POINTS = 4096 }; /* epochs of history kept for the plot, at most */

/* Keeps every other stored epoch; of those with validation (which may be few: only the logged
 * epochs have it), all while they fill at most half the room, else every other one. */
static void thin_history(NnrtProgress *p) {
  int64_t k = 0, vi = 0, nval = 0;
  for (int64_t i = 0; i < p->n_hist; i++)
    nval += p->hist[i].has_val != 0;
  int thin_val = nval > p->cap_hist / 2;
  for (int64_t i = 0; i < p->n_hist; i++) {
    int val = p->hist[i].has_val != 0;
    int keep = i % 2 == 0 || (val && (!thin_val || vi % 2 == 0));
    vi += val;
    if (keep)
      p->hist[k++] = p->hist[i];
  }
  p->n_hist = k;
  p->stride *= 2;
  if (thin_val)
    p->stride_val *= 2;
}

static void remember(NnrtProgress *p, const NnrtEpochReport *r) {
  p->last = *r;
  int64_t i = p->seen++, vi = r->has_val ? p->seen_val++ : -1;
  if (!p->history)
    return;
  if (!p->hist) {
    p->hist = malloc((PLOT_POINTS + 1) * sizeof *p->hist);
    if (!p->hist)
      return; /* the plot then shows the last epoch only; training goes on */
    p->cap_hist = PLOT_POINTS;
    p->stride = p->stride_val = 1;
  }
  if (p->n_hist == p->cap_hist)
    thin_history(p);
  if (i % p->stride == 0 || (vi >= 0 && vi % p->stride_val == 0))
    p->hist[p->n_hist++] = *r;
}

const NnrtEpochReport *nnrt_progress_history(NnrtProgress *p, int64_t *n) {
  if (!p->hist) {
    *n = p->seen > 0;
    return &p->last;
  }
  /* Room for one more was allocated: the last epoch, when it was not stored. */
  if (p->seen > 0 && (p->n_hist == 0 || p->hist[p->n_hist - 1].epoch != p->last.epoch))
    p->hist[p->n_hist++] = p->last;
  *n = p->n_hist;
  return p->hist;
}

/* ---- Continuing a log ---- */

static double *record_field(NnrtEpochReport *r, const char *key) {
  for (int i = 0; i < N_RECORD; i++)
    if (strcmp(RECORD[i].key, key) == 0)
      return (double *)((char *)r + RECORD[i].field);
  return NULL;
}

/* One line of a log as nnrt_print_epoch_json wrote it; -1 when it is not one. */
static int parse_record(char *line, size_t len, NnrtEpochReport *r) {
  JsonCursor c;
  nnrt_json_init(&c, line, len);
  *r = (NnrtEpochReport){.loss = NAN, .accuracy = NAN, .val_loss = NAN, .val_accuracy = NAN,
                         .lr = NAN, .seconds = NAN};
  int count = 0, more, has_epoch = 0;
  char *key;
  if (nnrt_json_expect(&c, '{') != 0)
    return -1;
  while ((more = nnrt_json_next_member(&c, &count, &key)) == 1) {
    uint64_t epoch;
    double *v = record_field(r, key);
    if (strcmp(key, "epoch") == 0) {
      if (nnrt_json_uint(&c, &epoch) != 0)
        return -1;
      r->epoch = (int64_t)epoch;
      has_epoch = 1;
    } else if (v ? nnrt_json_number(&c, v) : nnrt_json_skip_value(&c)) {
      return -1;
    }
  }
  r->has_val = isfinite(r->val_loss);
  return more == 0 && nnrt_json_at_end(&c) && has_epoch && r->epoch >= 1 ? 0 : -1;
}

/* Reads the log's records from the start up to the first of epoch `stop` or later (into the
 * history when keep), and leaves the file there; *bad: the number of a line that is no record
 * (0: none). A last line without its newline (a run killed while writing it) is dropped. */
static int64_t scan_log(NnrtProgress *p, int64_t stop, int keep, int64_t *bad) {
  char *line = NULL;
  size_t cap = 0;
  int64_t at = 0, prev = 0, no = 0;
  ssize_t len;
  *bad = 0;
  rewind(p->json);
  while ((len = getline(&line, &cap, p->json)) > 0) {
    NnrtEpochReport r;
    no++;
    if (line[len - 1] != '\n')
      break;
    if (parse_record(line, (size_t)len, &r) != 0 || r.epoch <= prev) {
      *bad = no;
      break;
    }
    if (r.epoch >= stop)
      break;
    prev = r.epoch;
    at += len;
    if (keep)
      remember(p, &r);
  }
  free(line);
  return at;
}

int nnrt_progress_continue_json(NnrtProgress *p, const char *path, char *err, size_t errlen) {
  p->json = fopen(path, "r+");
  if (!p->json && errno == ENOENT)
    return nnrt_progress_open_json(p, path, err, errlen);
  if (!p->json) {
    nnrt_errf(err, errlen, "cannot write '%s': %s", path, strerror(errno));
    return -1;
  }
  int64_t bad;
  scan_log(p, INT64_MAX, 1, &bad);
  if (bad) {
    nnrt_errf(err, errlen,
              "cannot continue the log '%s': line %lld is not an epoch record of --log-json "
              "(give a new path, or remove the file)",
              path, (long long)bad);
    nnrt_progress_close(p, NULL, NULL, 0);
    return -1;
  }
  p->json_continued = 1;
  return 0;
}

/* The first epoch this run reports: the log keeps the records before it (the checkpoint's). */
static void cut_log(NnrtProgress *p, int64_t epoch) {
  int64_t bad;
  p->json_continued = 0;
  int64_t at = scan_log(p, epoch, 0, &bad);
  if (fflush(p->json) != 0 || ftruncate(fileno(p->json), (off_t)at) != 0 ||
      fseek(p->json, (long)at, SEEK_SET) != 0)
    p->json_failed = 1;
  while (p->n_hist > 0 && p->hist[p->n_hist - 1].epoch >= epoch)
    p->n_hist--;
}

void nnrt_progress_on_epoch(const NnrtEpochReport *r, void *ctx) {
  NnrtProgress *p = ctx;
  if (p->json && p->json_continued)
    cut_log(p, r->epoch);
  remember(p, r);
  if (p->json) {
    nnrt_print_epoch_json(p->json, r);
    if (fflush(p->json) != 0 || ferror(p->json))
      p->json_failed = 1;
  }
  if (!p->out)
    return;
  erase_bar(p);
  if (r->logged) {
    nnrt_print_epoch_line(p->out, r, p->metric);
    fflush(p->out);
  }
}

void nnrt_progress_end(NnrtProgress *p) {
  if (p->out) {
    erase_bar(p);
    fflush(p->out);
  }
}

int nnrt_progress_close(NnrtProgress *p, const char *json_path, char *err, size_t errlen) {
  int rc = 0;
  if (p->json) {
    int saved = errno;
    if (fclose(p->json) != 0 || p->json_failed) {
      nnrt_errf(err, errlen, "cannot write '%s': %s", json_path ? json_path : "the JSON log",
                strerror(errno != saved ? errno : EIO));
      rc = -1;
    }
    p->json = NULL;
  }
  p->json_continued = 0;
  free(p->hist);
  p->hist = NULL;
  p->n_hist = p->cap_hist = p->seen = p->seen_val = 0;
  return rc;
}

/* ---- The SVG plot ---- */

enum { PLOT_W = 720, PANEL_H = 280, LEFT = 72, RIGHT = 24, TOP = 36, BOTTOM = 48 };

typedef struct {
  const char *name, *color;
  size_t field; /* offset of the double in NnrtEpochReport */
  int dashed;
} Curve;

static double value_of(const NnrtEpochReport *r, const Curve *c) {
  double v;
  memcpy(&v, (const char *)r + c->field, sizeof v);
  if ((c->field == offsetof(NnrtEpochReport, val_loss) ||
       c->field == offsetof(NnrtEpochReport, val_accuracy)) && !r->has_val)
    return NAN;
  return v;
}

static const Curve LOSS_CURVES[] = {
  {"loss", "#1f77b4", offsetof(NnrtEpochReport, loss), 0},
  {"val_loss", "#ff7f0e", offsetof(NnrtEpochReport, val_loss), 1},
};
static const Curve ACC_CURVES[] = {
  {"accuracy", "#2ca02c", offsetof(NnrtEpochReport, accuracy), 0},
  {"val_accuracy", "#d62728", offsetof(NnrtEpochReport, val_accuracy), 1},
};

static int64_t finite_points(const NnrtEpochReport *h, int64_t n, const Curve *c) {
  int64_t k = 0;
  for (int64_t i = 0; i < n; i++)
    k += isfinite(value_of(&h[i], c)) != 0;
  return k;
}

/* The largest of 1, 2, 5 times a power of ten at most `raw`... rounded up: a tick step. */
static double nice_step(double raw) {
  if (!(raw > 0) || !isfinite(raw))
    return 1.0;
  double p = pow(10.0, floor(log10(raw)));
  double f = raw / p;
  return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * p;
}

typedef struct {
  double x0, x1, y0, y1; /* data ranges; y in log10 units when log_y */
  double top;            /* of the panel in the picture */
  int log_y;
} Panel;

enum { LOG_SPAN = 100 }; /* the largest loss over the smallest above which the axis is log */

static double px(const Panel *pn, double x) {
  return LEFT + (x - pn->x0) / (pn->x1 - pn->x0) * (PLOT_W - LEFT - RIGHT);
}

static double py(const Panel *pn, double y) {
  double h = PANEL_H - TOP - BOTTOM;
  if (pn->log_y)
    y = log10(y);
  return pn->top + TOP + h - (y - pn->y0) / (pn->y1 - pn->y0) * h;
}

static void svg_text(FILE *f, const char *s) {
  for (; *s; s++) {
    switch (*s) {
    case '&': fputs("&amp;", f); break;
    case '<': fputs("&lt;", f); break;
    case '>': fputs("&gt;", f); break;
    case '"': fputs("&quot;", f); break;
    default: fputc(*s, f);
    }
  }
}

static void draw_axes(FILE *f, const Panel *pn, const char *label) {
  double xl = LEFT, xr = PLOT_W - RIGHT, yt = pn->top + TOP, yb = pn->top + PANEL_H - BOTTOM;
  fprintf(f, "<g class=\"axes\">\n");
  fprintf(f, "<text x=\"%d\" y=\"%.1f\" font-size=\"14\" font-weight=\"bold\">", LEFT,
          pn->top + 22);
  svg_text(f, label);
  fprintf(f, "</text>\n");
  /* log: a tick at every power of ten (every few, over many decades) */
  double ystep = nice_step((pn->y1 - pn->y0) / 5);
  if (pn->log_y && ystep < 1)
    ystep = 1;
  for (double y = ceil(pn->y0 / ystep - 1e-9) * ystep; y <= pn->y1 + ystep * 1e-9; y += ystep) {
    double v = pn->log_y ? pow(10.0, round(y)) : fabs(y) < ystep * 1e-6 ? 0.0 : y;
    double yy = py(pn, v);
    fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#e0e0e0\"/>\n",
            xl, yy, xr, yy);
    fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"11\" text-anchor=\"end\">%.4g</text>\n",
            xl - 6, yy + 4, v);
  }
  double xstep = nice_step((pn->x1 - pn->x0) / 6);
  if (xstep < 1)
    xstep = 1;
  for (double x = ceil(pn->x0 / xstep - 1e-9) * xstep; x <= pn->x1 + 1e-9; x += xstep) {
    double xx = px(pn, x);
    fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#000\"/>\n", xx,
            yb, xx, yb + 5);
    fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"11\" text-anchor=\"middle\">%.0f</text>\n",
            xx, yb + 18, x);
  }
  fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#000\"/>\n", xl, yb,
          xr, yb);
  fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#000\"/>\n", xl, yt,
          xl, yb);
  fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"12\" text-anchor=\"middle\">epoch</text>\n",
          (xl + xr) / 2, yb + 36);
  fprintf(f, "</g>\n");
}

static void draw_curve(FILE *f, const Panel *pn, const NnrtEpochReport *h, int64_t n,
                       const Curve *c) {
  fprintf(f, "<polyline class=\"%s\" fill=\"none\" stroke=\"%s\" stroke-width=\"2\"%s points=\"",
          c->name, c->color, c->dashed ? " stroke-dasharray=\"6 3\"" : "");
  int64_t k = 0;
  double lx = 0, ly = 0;
  for (int64_t i = 0; i < n; i++) {
    double v = value_of(&h[i], c);
    if (!isfinite(v))
      continue;
    lx = px(pn, (double)h[i].epoch);
    ly = py(pn, v);
    fprintf(f, "%s%.2f,%.2f", k++ ? " " : "", lx, ly);
  }
  fprintf(f, "\"/>\n");
  if (k == 1) /* one point draws no line: mark it */
    fprintf(f, "<circle cx=\"%.2f\" cy=\"%.2f\" r=\"3\" fill=\"%s\"/>\n", lx, ly, c->color);
}

static void draw_legend(FILE *f, const Panel *pn, const Curve *cs, const int *shown, int nc) {
  double x = PLOT_W - RIGHT - 130, y = pn->top + 14;
  for (int i = 0; i < nc; i++) {
    if (!shown[i])
      continue;
    fprintf(f,
            "<g class=\"legend\"><line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
            "stroke=\"%s\" stroke-width=\"2\"%s/><text x=\"%.1f\" y=\"%.1f\" font-size=\"12\">"
            "%s</text></g>\n",
            x, y, x + 24, y, cs[i].color, cs[i].dashed ? " stroke-dasharray=\"6 3\"" : "",
            x + 30, y + 4, cs[i].name);
    y += 16;
  }
}

/* The y range of an accuracy panel: the data's with a tenth of its span (at least 0.01) on each
 * side, out to the tick step, within [0, 1]. */
static void fit_unit(double *lo, double *hi) {
  double pad = (*hi - *lo) * 0.1 > 0.01 ? (*hi - *lo) * 0.1 : 0.01;
  double step = nice_step((*hi - *lo + 2 * pad) / 5);
  *lo = floor((*lo - pad) / step) * step;
  *hi = ceil((*hi + pad) / step) * step;
  *lo = *lo > 0 ? *lo : 0;
  *hi = *hi < 1 ? *hi : 1;
}

/* One panel with the curves of cs that have points; unit: the values are fractions (accuracy). */
static void draw_panel(FILE *f, double top, const char *label, const Curve *cs, int nc,
                       const NnrtEpochReport *h, int64_t n, int unit) {
  Panel pn = {.x0 = (double)h[0].epoch, .x1 = (double)h[n - 1].epoch, .top = top};
  double lo = INFINITY, hi = -INFINITY;
  int shown[4] = {0};
  for (int c = 0; c < nc; c++) {
    shown[c] = finite_points(h, n, &cs[c]) > 0;
    for (int64_t i = 0; i < n; i++) {
      double v = value_of(&h[i], &cs[c]);
      if (isfinite(v)) {
        lo = v < lo ? v : lo;
        hi = v > hi ? v : hi;
      }
    }
  }
  pn.log_y = !unit && lo > 0 && hi / lo > LOG_SPAN;
  if (pn.log_y) {
    lo = floor(log10(lo));
    hi = ceil(log10(hi));
  } else if (unit && lo >= 0 && hi <= 1) {
    fit_unit(&lo, &hi);
  } else if (!(hi > lo)) {
    double d = isfinite(lo) && lo != 0 ? fabs(lo) * 0.1 : 1.0;
    lo = isfinite(lo) ? lo - d : 0;
    hi = isfinite(hi) ? hi + d : 1;
  } else {
    double step = nice_step((hi - lo) / 5);
    lo = floor(lo / step) * step;
    hi = ceil(hi / step) * step;
  }
  if (!(pn.x1 > pn.x0)) {
    pn.x0 -= 1;
    pn.x1 += 1;
  }
  pn.y0 = lo;
  pn.y1 = hi;
  char title[64];
  snprintf(title, sizeof title, "%s%s", label, pn.log_y ? " (log scale)" : "");
  fprintf(f, "<g class=\"panel\">\n");
  draw_axes(f, &pn, title);
  for (int c = 0; c < nc; c++)
    if (shown[c])
      draw_curve(f, &pn, h, n, &cs[c]);
  draw_legend(f, &pn, cs, shown, nc);
  fprintf(f, "</g>\n");
}

static int any_points(const NnrtEpochReport *h, int64_t n, const Curve *cs, int nc) {
  for (int c = 0; c < nc; c++)
    if (finite_points(h, n, &cs[c]) > 0)
      return 1;
  return 0;
}

static void write_svg(FILE *f, const char *title, const NnrtEpochReport *h, int64_t n) {
  int acc = n > 0 && any_points(h, n, ACC_CURVES, 2);
  int height = PANEL_H * (acc ? 2 : 1);
  fprintf(f,
          "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
          "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
          "viewBox=\"0 0 %d %d\" font-family=\"sans-serif\">\n<title>",
          PLOT_W, height, PLOT_W, height);
  svg_text(f, title);
  fprintf(f, "</title>\n<rect width=\"%d\" height=\"%d\" fill=\"#fff\"/>\n", PLOT_W, height);
  if (n > 0) {
    draw_panel(f, 0, "loss", LOSS_CURVES, 2, h, n, 0);
    if (acc)
      draw_panel(f, PANEL_H, "accuracy", ACC_CURVES, 2, h, n, 1);
  } else {
    fprintf(f, "<text x=\"%d\" y=\"%d\" font-size=\"14\">no epoch finished</text>\n", LEFT,
            PANEL_H / 2);
  }
  fprintf(f, "</svg>\n");
}

int nnrt_plot_svg(const char *path, const char *title, const NnrtEpochReport *h, int64_t n,
                  char *err, size_t errlen) {
  size_t len = strlen(path);
  char *tmp = malloc(len + sizeof ".tmp.XXXXXX");
  if (!tmp) {
    nnrt_errf(err, errlen, "cannot write '%s': out of memory", path);
    return -1;
  }
  memcpy(tmp, path, len);
  memcpy(tmp + len, ".tmp.XXXXXX", sizeof ".tmp.XXXXXX");
  int fd = mkstemp(tmp);
  FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
  if (!f) {
    nnrt_errf(err, errlen, "cannot write '%s': %s", path, strerror(errno));
    if (fd >= 0) {
      close(fd);
      unlink(tmp);
    }
    free(tmp);
    return -1;
  }
  write_svg(f, title, h, n);
  int bad = ferror(f);
  bad |= fclose(f) != 0;
  /* mkstemp makes the file 0600; a plot is for reading like any other output. */
  if (!bad) {
    mode_t mask = umask(0);
    umask(mask);
    chmod(tmp, 0666 & ~mask);
  }
  if (bad || rename(tmp, path) != 0) {
    nnrt_errf(err, errlen, "cannot write '%s': %s", path, strerror(errno ? errno : EIO));
    unlink(tmp);
    free(tmp);
    return -1;
  }
  free(tmp);
  return 0;
}

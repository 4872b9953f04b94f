#include "diag.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

void diag_init(Diag *d, const Source *src, FILE *out) {
  d->src = src;
  d->out = out ? out : stderr;
  d->format = DIAG_HUMAN;
  d->werror = false;
  d->errors = d->warnings = 0;
}

int diag_count(const Diag *d) { return d->errors; }

Loc loc_span(Loc a, Loc b) {
  if (a.line == 0)
    return b;
  if (b.line == 0 || b.off + b.len < a.off)
    return a;
  a.len = b.off + b.len - a.off;
  return a;
}

static bool is_muted(const Diag *d) { return d->errors > DIAG_MAX_ERRORS; }

/* A long line is shown as a window around the caret, so a 10 MB line prints a few bytes. */
enum { CARET_BEFORE = 80, CARET_AFTER = 120 };

/* Prints the source line of loc and a caret under its span (clipped to the line). */
static void print_caret(Diag *d, Loc loc) {
  const char *text = d->src->text;
  size_t start = loc.off;
  while (start > 0 && text[start - 1] != '\n' && loc.off - start < CARET_BEFORE)
    start--;
  bool cut_left = start > 0 && text[start - 1] != '\n';
  size_t end = loc.off;
  while (end < d->src->len && text[end] != '\n' && end - loc.off < CARET_AFTER)
    end++;
  bool cut_right = end < d->src->len && text[end] != '\n';
  fprintf(d->out, "%5u | %s%.*s%s\n      | %s", loc.line, cut_left ? "..." : "", (int)(end - start),
          text + start, cut_right ? "..." : "", cut_left ? "   " : "");
  for (size_t i = start; i < loc.off; i++)
    fputc(text[i] == '\t' ? '\t' : ' ', d->out);
  fputc('^', d->out);
  for (size_t i = loc.off + 1; i < loc.off + loc.len && i < end; i++)
    fputc('~', d->out);
  fputc('\n', d->out);
}

static void report(Diag *d, const char *kind, Loc loc, const char *fmt, va_list ap) {
  const char *file = d->src ? d->src->name : "nnc";
  if (d->format == DIAG_TEST) {
    fprintf(d->out, "%s|%s|%u|%u|", kind, file, loc.line, loc.col);
    vfprintf(d->out, fmt, ap);
    fputc('\n', d->out);
    return;
  }
  if (loc.line)
    fprintf(d->out, "%s:%u:%u: %s: ", file, loc.line, loc.col, kind);
  else
    fprintf(d->out, "%s: %s: ", file, kind);
  vfprintf(d->out, fmt, ap);
  fputc('\n', d->out);
  if (loc.line && d->src && loc.off <= d->src->len)
    print_caret(d, loc);
}

static void count_error(Diag *d) {
  d->errors++;
  if (d->errors == DIAG_MAX_ERRORS + 1)
    fprintf(d->out, "%s: too many errors; stopping here\n", d->src ? d->src->name : "nnc");
}

void diag_error(Diag *d, Loc loc, const char *fmt, ...) {
  count_error(d);
  if (is_muted(d))
    return;
  va_list ap;
  va_start(ap, fmt);
  report(d, "error", loc, fmt, ap);
  va_end(ap);
}

void diag_warning(Diag *d, Loc loc, const char *fmt, ...) {
  if (d->werror)
    count_error(d);
  else
    d->warnings++;
  if (is_muted(d))
    return;
  va_list ap;
  va_start(ap, fmt);
  report(d, d->werror ? "error" : "warning", loc, fmt, ap);
  va_end(ap);
}

void diag_note(Diag *d, Loc loc, const char *fmt, ...) {
  if (is_muted(d))
    return;
  va_list ap;
  va_start(ap, fmt);
  report(d, "note", loc, fmt, ap);
  va_end(ap);
}

void diag_hint(Diag *d, const char *fmt, ...) {
  if (is_muted(d))
    return;
  va_list ap;
  va_start(ap, fmt);
  if (d->format == DIAG_TEST)
    fputs("hint|", d->out);
  else
    fputs("hint: ", d->out);
  vfprintf(d->out, fmt, ap);
  fputc('\n', d->out);
  va_end(ap);
}

/* Levenshtein distance, capped: names are short. */
static int edit_distance(const char *a, const char *b) {
  size_t la = strlen(a), lb = strlen(b);
  if (la > 63 || lb > 63)
    return 99;
  int row[64];
  for (size_t j = 0; j <= lb; j++)
    row[j] = (int)j;
  for (size_t i = 1; i <= la; i++) {
    int diag = row[0];
    row[0] = (int)i;
    for (size_t j = 1; j <= lb; j++) {
      int up = row[j];
      int best = diag + (a[i - 1] != b[j - 1]);
      if (up + 1 < best)
        best = up + 1;
      if (row[j - 1] + 1 < best)
        best = row[j - 1] + 1;
      row[j] = best;
      diag = up;
    }
  }
  return row[lb];
}

/* Closest candidate within two edits. A candidate that shares nothing with the name (as any
 * other one-letter name does with a one-letter name) is no suggestion; on a tie, one that
 * starts like the name wins: 'W' suggests 'W1' rather than 'X'. */
const char *diag_suggest(const char *name, const char *const *candidates, int n) {
  const char *best = NULL;
  int best_d = 3;
  size_t len = strlen(name);
  for (int i = 0; i < n; i++) {
    size_t clen = strlen(candidates[i]);
    int dist = edit_distance(name, candidates[i]);
    if ((size_t)dist >= (len > clen ? len : clen))
      continue;
    bool better = dist < best_d ||
                  (dist == best_d && best && best[0] != name[0] && candidates[i][0] == name[0]);
    if (better) {
      best_d = dist;
      best = candidates[i];
    }
  }
  return best;
}

void diag_internal_error(const char *file, int line, const char *what) {
  fprintf(stderr, "nnc: internal error at %s:%d: %s\nThis is a bug in nnc; please report it.\n",
          file, line, what);
  exit(70);
}

/* diag: source files and diagnostics.
 * Contract: every stage reports user errors through diag_error at a Loc and returns failure;
 * only main() turns diag_count into an exit code. The human format is a C compiler's
 * (file:line:col: error: msg, the source line, a caret under the span); the test format is
 * one line per diagnostic: kind|file|line|col|message. After DIAG_MAX_ERRORS errors the rest
 * are counted but not printed. A warning (file:line:col: warning: msg) is counted apart from
 * the errors: it is printed but does not fail the compile, unless `werror` makes it an error. */
#ifndef NNC_DIAG_H
#define NNC_DIAG_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* A span of source text. line and col are 1-based; col counts bytes. line 0 means "no location". */
typedef struct {
  uint32_t off, len;
  uint32_t line, col;
} Loc;

typedef struct {
  const char *name; /* as the user wrote it on the command line */
  const char *text; /* NUL-terminated copy of the whole file */
  size_t len;
  /* The file whose directory relative data paths are taken from; NULL: name. The REPL sets it
   * when a train block from one file is compiled with a model typed elsewhere. */
  const char *paths_from;
} Source;

typedef enum { DIAG_HUMAN, DIAG_TEST } DiagFormat;
enum { DIAG_MAX_ERRORS = 20 };

typedef struct {
  const Source *src;
  FILE *out;
  DiagFormat format;
  bool werror; /* report warnings as errors (nnc -Werror) */
  int errors, warnings;
} Diag;

void diag_init(Diag *d, const Source *src, FILE *out);
void diag_error(Diag *d, Loc loc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* A likely mistake that still has a meaning: printed, counted in warnings, not in errors. */
void diag_warning(Diag *d, Loc loc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void diag_note(Diag *d, Loc loc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void diag_hint(Diag *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int diag_count(const Diag *d);
/* A broken invariant of nnc itself, never a user error: prints where and exits 70. */
#define NNC_ASSERT(cond) \
  ((cond) ? (void)0 : diag_internal_error(__FILE__, __LINE__, #cond))
_Noreturn void diag_internal_error(const char *file, int line, const char *what);

/* The loc spanning a and b (b after a). */
Loc loc_span(Loc a, Loc b);
/* The name among candidates closest to name (edit distance <= 2), or NULL: for "did you mean". */
const char *diag_suggest(const char *name, const char *const *candidates, int n);

#endif

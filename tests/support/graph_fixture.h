/* graph_fixture: an empty graph in a fresh arena with its diagnostics captured in the test format
 * (kind|file|line|col|message), for the suites that build graphs with the g_* builders directly
 * (test_grad, test_window). */
#ifndef NNC_GRAPH_FIXTURE_H
#define NNC_GRAPH_FIXTURE_H
#include <stdio.h>
#include <stdlib.h>

#include "graph.h"

typedef struct {
  Arena arena;
  Diag diag;
  Graph g;
  char *diag_text;
  size_t diag_len;
  FILE *diag_out;
} Fixture;

static inline void fixture_init(Fixture *f) {
  arena_init(&f->arena);
  f->diag_out = open_memstream(&f->diag_text, &f->diag_len);
  diag_init(&f->diag, NULL, f->diag_out);
  f->diag.format = DIAG_TEST;
  graph_init(&f->g, &f->arena, &f->diag);
}

static inline void fixture_free(Fixture *f) {
  fclose(f->diag_out);
  free(f->diag_text);
  arena_free(&f->arena);
}

#endif

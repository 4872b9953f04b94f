/* What the nnrt suites (test_runtime, test_train) share besides their fixture models: the
 * temporary directory (tmp_dir.h), an error buffer for the nnrt calls that take one, reading
 * back a tmpfile, and running a model's command line (nnrt_main_streams) with RUN. */
#ifndef NNC_RUNTIME_FIXTURE_H
#define NNC_RUNTIME_FIXTURE_H
#include <stdio.h>

#include "model_fixture.h"
#include "nnrt.h"
#include "tmp_dir.h"

static char err[1024];

/* The whole of f (rewound), NUL-terminated, in one of two buffers used in turn. */
static inline char *read_stream(FILE *f) {
  static char buf[2][32768];
  static int next;
  char *b = buf[next++ % 2];
  fflush(f);
  rewind(f);
  size_t n = fread(b, 1, sizeof buf[0] - 1, f);
  b[n] = '\0';
  return b;
}

/* What the last run_cli printed on stdout and stderr. */
static char *out_text, *err_text;

static inline int run_cli(const NnrtModel *m, int argc, const char **argv) {
  FILE *out = tmpfile(), *errf = tmpfile();
  assert_non_null(out);
  assert_non_null(errf);
  int rc = nnrt_main_streams(m, argc, (char **)argv, out, errf);
  out_text = read_stream(out);
  err_text = read_stream(errf);
  fclose(out);
  fclose(errf);
  return rc;
}

/* RUN(m, "prog", "arg", ...): the exit code of m's command line with those arguments. */
#define RUN(m, ...) \
  run_cli(m, (int)(sizeof((const char *[]){__VA_ARGS__}) / sizeof(char *)), \
          (const char *[]){__VA_ARGS__})

/* The line train.c adds after every non-finite message. */
#define LR_HINT "\nhint: a learning rate too high makes the values overflow; try a lower one (--lr)"

#endif

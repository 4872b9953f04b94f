/* Common includes for cmocka suites, in the order cmocka 1.1.5 needs them, and the helpers
 * every suite shares: reading files, golden comparison, a reproducible random generator. */
#ifndef NNC_TEST_H
#define NNC_TEST_H
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The whole file, NUL-terminated and malloc'ed; NULL when it cannot be read. */
static inline char *test_read_file(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f)
    return NULL;
  char *text = NULL;
  size_t size = 0;
  FILE *mem = open_memstream(&text, &size);
  char buf[4096];
  for (size_t n; (n = fread(buf, 1, sizeof buf, f)) > 0;)
    fwrite(buf, 1, n, mem);
  fclose(mem);
  fclose(f);
  if (len)
    *len = size;
  return text;
}

/* A file of the repository (NNC_SOURCE_DIR/rel), or the test fails. */
static inline char *test_read_source(const char *rel, size_t *len) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%s", NNC_SOURCE_DIR, rel);
  char *text = test_read_file(path, len);
  if (!text)
    fail_msg("cannot read %s", path);
  return text;
}

/* Compares `got` with the golden file at path; NNC_UPDATE_GOLDEN=1 rewrites it instead.
 * Returns false (after printing both) when they differ. */
static inline bool test_golden_matches(const char *path, const char *got) {
  const char *update = getenv("NNC_UPDATE_GOLDEN");
  if (update && *update && strcmp(update, "0")) {
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fputs(got, f);
    fclose(f);
  }
  char *want = test_read_file(path, NULL);
  if (!want) {
    print_error("missing %s; run with NNC_UPDATE_GOLDEN=1 to create it\n", path);
    return false;
  }
  bool same = strcmp(got, want) == 0;
  if (!same)
    print_error("%s differs\n--- got:\n%s--- want:\n%s", path, got, want);
  free(want);
  return same;
}

/* xorshift64: a tiny generator, so random test inputs reproduce. */
static inline double test_uniform(uint64_t *state, double lo, double hi) {
  *state ^= *state << 13;
  *state ^= *state >> 7;
  *state ^= *state << 17;
  return lo + (hi - lo) * (double)(*state >> 11) / 9007199254740992.0;
}

#endif

/* fuzz_common.h: what the harnesses share. Each harness defines LLVMFuzzerTestOneInput; built
 * with -fsanitize=fuzzer it is a libFuzzer target, built with replay_main.c it is a plain
 * program that runs it once on every file it is given (the regression replay of ctest).
 *
 * The loaders under test read files by path, so fuzz_write_file puts the input into one
 * temporary file per process, made on first use and removed at exit. Nothing here catches a
 * crash: a fault, a sanitizer report or a leak ends the process and the run fails. */
#ifndef NNC_FUZZ_COMMON_H
#define NNC_FUZZ_COMMON_H
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum { FUZZ_MAX_PATHS = 4 };
static char fuzz_paths[FUZZ_MAX_PATHS][64];

static void fuzz_remove_files(void) {
  for (int i = 0; i < FUZZ_MAX_PATHS; i++)
    if (fuzz_paths[i][0])
      unlink(fuzz_paths[i]);
}

/* The path of temporary file `slot` (0 .. FUZZ_MAX_PATHS-1), created empty the first time. */
static inline const char *fuzz_path(int slot) {
  static int cleanup_registered;
  if (!cleanup_registered) {
    cleanup_registered = 1;
    atexit(fuzz_remove_files);
  }
  if (!fuzz_paths[slot][0]) {
    const char *dir = getenv("TMPDIR");
    snprintf(fuzz_paths[slot], sizeof fuzz_paths[slot], "%s/nnc-fuzz-XXXXXX",
             dir && *dir && strlen(dir) < 40 ? dir : "/tmp");
    int fd = mkstemp(fuzz_paths[slot]);
    if (fd < 0) {
      perror("nnc fuzz: mkstemp");
      abort();
    }
    close(fd);
  }
  return fuzz_paths[slot];
}

/* Writes bytes to temporary file `slot`, replacing what it held; returns its path. A failure to
 * write is the harness's own problem, not the code under test's, so it aborts loudly. */
static inline const char *fuzz_write_file(int slot, const void *bytes, size_t n) {
  const char *path = fuzz_path(slot);
  FILE *f = fopen(path, "wb");
  if (!f || (n && fwrite(bytes, 1, n, f) != n) || fclose(f) != 0) {
    perror("nnc fuzz: writing the input file");
    abort();
  }
  return path;
}

/* Like fuzz_write_file, gzipped, and then cut short as a broken download is: `cut` 0 keeps
 * the whole stream, 1 drops its last byte, 2 its 8-byte trailer and one byte more, 3 half. */
static inline const char *fuzz_write_gz(int slot, const void *bytes, size_t n, int cut) {
  uLongf cap = compressBound((uLong)n) + 32;
  unsigned char *buf = malloc(cap);
  z_stream z = {0};
  if (!buf || deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
    fputs("nnc fuzz: zlib setup failed\n", stderr);
    abort();
  }
  z.next_in = (Bytef *)bytes;
  z.avail_in = (uInt)n;
  z.next_out = buf;
  z.avail_out = (uInt)cap;
  if (deflate(&z, Z_FINISH) != Z_STREAM_END) {
    fputs("nnc fuzz: deflate failed\n", stderr);
    abort();
  }
  size_t len = z.total_out;
  deflateEnd(&z);
  size_t keep = cut == 0 ? len : cut == 1 ? len - 1 : cut == 2 ? len - 9 : len / 2;
  const char *path = fuzz_write_file(slot, buf, keep);
  free(buf);
  return path;
}

/* NNC_FUZZ_VERBOSE=1 in the environment: the harness prints each load's outcome (to see
 * what a seed or a regression input exercises). */
static inline void fuzz_report(const char *harness, int rc, const char *err) {
  static int verbose = -1;
  if (verbose < 0) {
    const char *v = getenv("NNC_FUZZ_VERBOSE");
    verbose = v && *v && strcmp(v, "0") != 0;
  }
  if (verbose)
    fprintf(stderr, "%s: %s\n", harness, rc == 0 ? "loaded" : err);
}

#endif

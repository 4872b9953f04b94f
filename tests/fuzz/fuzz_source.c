/* fuzz_source: the front end on arbitrary text. The input is a .nn file; it goes through
 * compilation_init and compilation_front (lexer, parser, checker, lowering, differentiation,
 * optimizer), the way `nnc --check` runs it, with diagnostics written to /dev/null. Any outcome
 * is fine except a crash, a sanitizer report, a leak, a hang or a runaway allocation.
 *
 * A source may name data files, and the checker reads their headers. Inputs that name device,
 * process or system files (/dev/zero, /proc/self/mem, /dev/stdin) are rejected (return -1, kept
 * out of the corpus): they test the host, not nnc, and could block forever. */
#include <string.h>

#include "driver.h"
#include "fuzz_common.h"

static int names_special_file(const uint8_t *data, size_t size) {
  static const char *const bad[] = {"/dev", "/proc", "/sys", "/run"};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    size_t k = strlen(bad[i]);
    for (size_t at = 0; at + k <= size; at++)
      if (memcmp(data + at, bad[i], k) == 0)
        return 1;
  }
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static FILE *devnull;
  if (!devnull && !(devnull = fopen("/dev/null", "w"))) {
    perror("fuzz_source: /dev/null");
    abort();
  }
  if (names_special_file(data, size))
    return -1;
  /* As read_source does: the text is NUL-terminated, the length leaves the NUL out. */
  char *text = malloc(size + 1);
  if (!text)
    abort();
  memcpy(text, data, size);
  text[size] = '\0';
  Compilation c;
  compilation_init(&c, "fuzz.nn", text, size, devnull);
  compilation_front(&c);
  compilation_free(&c);
  free(text);
  return 0;
}

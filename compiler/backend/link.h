/* link: object file + runtime library -> executable, by the system's C compiler driver.
 * Contract: finds libnnrt.a beside the running nnc (build tree) or in ../lib/nnc (installed),
 * runs `$CC` (default cc) with zlib and libm to link into a temporary file and renames it to `out` only on
 * success, so a failed link never leaves a partial executable. Errors go to `err`. */
#ifndef NNC_LINK_H
#define NNC_LINK_H
#include <stdbool.h>
#include <stddef.h>

/* The path of libnnrt.a, or NULL (with the places searched in err). */
const char *link_runtime_path(char *buf, size_t n, char *err, size_t errlen);
bool link_executable(const char *object, const char *out, char *err, size_t errlen);

#endif

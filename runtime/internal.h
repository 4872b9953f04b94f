/* internal: helpers shared by the runtime's own files; not part of the ABI. */
#ifndef NNRT_INTERNAL_H
#define NNRT_INTERNAL_H
#include <stdarg.h>
#include <stdio.h>

#include "nnrt.h"

/* Formats a message into err[errlen] when the caller gave a buffer. */
__attribute__((format(printf, 3, 4))) static inline void nnrt_errf(char *err, size_t errlen,
                                                                    const char *fmt, ...) {
  if (!err || errlen == 0)
    return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err, errlen, fmt, ap);
  va_end(ap);
}

/* nnrt_main with its standard streams injected, so tests can capture them. */
int nnrt_main_streams(const NnrtModel *m, int argc, char **argv, FILE *out, FILE *err);

#endif

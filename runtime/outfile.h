/* outfile: a file written whole or not at all: the text goes to a temporary file beside PATH,
 * which replaces PATH (rename) only when everything was written, so a reader of PATH never sees
 * half an output, and a failed run leaves the old PATH as it was. Not part of the ABI.
 * Contract: nnrt_outfile_open returns 0 with o->f open for writing, or -1 with err set
 * ("cannot write 'PATH': why") and nothing created; nnrt_outfile_commit closes o->f and renames
 * (0), or removes the temporary file (-1, with err set); nnrt_outfile_discard removes it. */
#ifndef NNRT_OUTFILE_H
#define NNRT_OUTFILE_H
#include <stddef.h>
#include <stdio.h>

typedef struct {
  FILE *f;
  const char *path;
  char *tmp; /* PATH.tmp.XXXXXX */
} NnrtOutfile;

int nnrt_outfile_open(NnrtOutfile *o, const char *path, char *err, size_t errlen);
int nnrt_outfile_commit(NnrtOutfile *o, char *err, size_t errlen);
void nnrt_outfile_discard(NnrtOutfile *o);

#endif

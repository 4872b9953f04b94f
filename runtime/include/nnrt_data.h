/* nnrt_data: the data sources' limits, their table, and the probe: what the runtime's own
 * readers (the one CSV parser, the one IDX reader) find in a data file's header without loading
 * the data. The compiler checks a train block's files at compile time through the probe, so a
 * file it accepts is read by the loader with the same code, and a header the loader would refuse
 * is refused at compile time for the same reason.
 *
 * Contract: nnrt_data_probe never loads more than a header (IDX) or the first
 * NNRT_PROBE_LINES non-blank lines (CSV); it fills *out and returns 0 when the loader would
 * read on, -1 otherwise (out->status says why, out->reason in the loader's words). Every probe,
 * failed or not, is released with nnrt_data_probe_free. */
#ifndef NNRT_DATA_PUBLIC_H
#define NNRT_DATA_PUBLIC_H
#include <stdint.h>

#include "nnrt.h"

/* The loader's limits: longer lines, wider rows and larger IDX bodies are errors. */
#define NNRT_CSV_MAX_LINE (1 << 20)     /* bytes in one CSV line, without its line ending */
#define NNRT_CSV_MAX_COLUMNS 100000     /* cells in one CSV line */
#define NNRT_IDX_MAX_BYTES (1ull << 31) /* bytes of data an IDX header may claim */
#define NNRT_IDX_MAX_DIMS 255           /* dimensions an IDX header can give (one byte) */

enum { NNRT_PROBE_LINES = 2 }; /* CSV lines a probe reads: a header, then a data row */

/* A row of nnrt_sources.h as the runtime sees it. */
typedef struct {
  NnrtDataKind kind;
  const char *name; /* as the train block writes it */
  int files;        /* files read: 0 for the model's own table, 1 for a CSV, 2 for IDX */
} NnrtDataSource;

/* The row of kind; NULL for NNRT_DATA_NONE or an unknown kind. */
const NnrtDataSource *nnrt_data_source(int kind);
/* The files a source of kind reads (0 for none or an unknown kind), and file i of d (0: path,
 * 1: labels_path). */
int nnrt_data_files(int kind);
const char *nnrt_data_file_path(const NnrtData *d, int file);

/* Why a probe stopped (the loader stops there too, with out->reason). */
typedef enum {
  NNRT_PROBE_OK,
  NNRT_PROBE_CANNOT_OPEN,   /* sys_errno says why */
  NNRT_PROBE_NOT_REGULAR,   /* a directory, device or pipe */
  NNRT_PROBE_READ_ERROR,    /* detail: the system's or zlib's words */
  NNRT_PROBE_EMPTY,         /* no bytes (IDX), no non-blank line (CSV) */
  NNRT_PROBE_LINE_TOO_LONG, /* CSV: a line past NNRT_CSV_MAX_LINE */
  NNRT_PROBE_NOT_IDX,       /* IDX: the magic or the number of dimensions is wrong */
  NNRT_PROBE_IDX_TYPE,      /* IDX: not unsigned bytes (idx_type) */
  NNRT_PROBE_CUT_SHORT,     /* IDX: the file ends inside its header */
  NNRT_PROBE_TOO_BIG,       /* IDX: past NNRT_IDX_MAX_BYTES; dims are filled in */
  NNRT_PROBE_REFUSED,       /* anything else the loader refuses at once (a NUL byte, ...) */
} NnrtProbeStatus;

/* One CSV line as the loader splits it: cells unquoted and stripped of blanks. */
typedef struct {
  int32_t n_cells;
  char **cells;           /* pointing into text */
  char *text;
  unsigned char *numeric; /* whether cell i is a number to the loader */
} NnrtProbeLine;

typedef struct {
  NnrtProbeStatus status;
  int sys_errno;      /* NNRT_PROBE_CANNOT_OPEN */
  char detail[256];   /* NNRT_PROBE_READ_ERROR */
  char reason[512];   /* the loader's words: "line 2: contains a NUL byte (...)" */
  char message[1024]; /* the loader's whole message: "cannot load 'PATH': REASON" */
  /* IDX: the type byte, and the dimensions (dims[0] records of width bytes each). */
  int idx_type, ndim;
  uint32_t dims[NNRT_IDX_MAX_DIMS];
  uint64_t width;
  /* CSV: the first non-blank lines, split with d->delimiter. */
  int n_lines;
  NnrtProbeLine lines[NNRT_PROBE_LINES];
} NnrtProbe;

/* Probes file `file` (0: d->path, 1: d->labels_path) of source d, which must have a row with
 * files > file. */
int nnrt_data_probe(const NnrtData *d, int file, NnrtProbe *out);
void nnrt_data_probe_free(NnrtProbe *p);

#endif

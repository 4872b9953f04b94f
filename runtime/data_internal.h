/* data_internal: what the files of the data loader share; not part of the ABI.
 * Contract: data.c loads (nnrt_data_load dispatches through the rows of nnrt_sources.h), copies
 * tables, preprocesses, and owns the helpers below; csv.c and idx.c read their formats into an
 * NnrtDataset with them, and probe the same formats with the same readers (probe.c). Every
 * function that can fail reports one message through a Report (nnrt_data_fail) and returns -1;
 * 0 on success. */
#ifndef NNRT_DATA_INTERNAL_H
#define NNRT_DATA_INTERNAL_H
#include <stddef.h>
#include <stdint.h>
#include <zlib.h>

#include "data.h"

/* Where a load or a probe reports to; every message starts "cannot load 'path': ". */
typedef struct {
  const char *path; /* NULL for the model's own table */
  char *err;
  size_t errlen;
  NnrtProbe *probe; /* a probe's: also gets the status and the reason; NULL when loading */
} Report;

/* Formats the message into r's buffer after "cannot load 'path': "; returns -1. A probe gets
 * status NNRT_PROBE_REFUSED, or with nnrt_data_fail_as the one given. */
__attribute__((format(printf, 2, 3))) int nnrt_data_fail(const Report *r, const char *fmt, ...);
__attribute__((format(printf, 3, 4))) int nnrt_data_fail_as(const Report *r,
                                                            NnrtProbeStatus status,
                                                            const char *fmt, ...);

/* Building a data set: room for exactly `rows` rows, or for one more row (doubling *cap); and
 * giving back the unused tail. */
int nnrt_data_alloc_rows(NnrtDataset *ds, int64_t rows, const Report *r);
int nnrt_data_grow_rows(NnrtDataset *ds, int64_t *cap, const Report *r);
void nnrt_data_shrink_to_rows(NnrtDataset *ds);

/* Values as the model sees them: a scaled input (NAN when no finite float), a real-valued
 * target, a class label as a one-hot row of n classes. */
float nnrt_data_scaled(const NnrtData *d, double v);
float nnrt_data_target_value(const NnrtData *d, double v);
int nnrt_data_put_label(const Report *r, const char *unit, int64_t rec, double v, int32_t n,
                   float *row);

/* Reading through zlib: r->path opened (NULL after a report), up to n bytes (fewer only at the
 * end; -1 on a read error), and whether the end was clean rather than a cut-short stream. */
gzFile nnrt_data_open_gz(const Report *r);
int64_t nnrt_data_read_gz(gzFile gz, const Report *r, unsigned char *buf, size_t n);
int nnrt_data_check_clean_end(gzFile gz, const Report *r);

/* The loaders and probes the rows of nnrt_sources.h name, as data.h and nnrt_data.h document
 * them. A probe reports through a Report whose probe is out. */
int nnrt_data_load_table(const NnrtModel *m, const NnrtData *d, NnrtDataset *ds,
                         const Report *r);
int nnrt_data_load_csv(const NnrtModel *m, const NnrtData *d, NnrtDataset *ds, const Report *r);
int nnrt_data_load_idx(const NnrtModel *m, const NnrtData *d, NnrtDataset *ds, const Report *r);
int nnrt_data_probe_csv(const char *path, const NnrtData *d, NnrtProbe *out);
int nnrt_data_probe_idx(const char *path, const NnrtData *d, NnrtProbe *out);

#endif

/* data: loading a train block's data source (a table in the model, a CSV file, or IDX files) into
 * memory, and the preprocessing the training loop applies to it.
 *
 * Contract:
 * - Every function that can fail returns 0 / -1 and writes one line into err[errlen]:
 *   "cannot load 'PATH': line 7: column 3 is not a number ('abc')". Lines, records (IDX),
 *   rows (tables) and columns in messages count from 1; column *indices* given in NnrtData
 *   (x_cols, y_cols) count from 0, and messages about them say "index".
 * - Files are read streaming through zlib, so any of them may be gzipped (recognised by the
 *   gzip magic 1f 8b, whatever the name). Memory grows geometrically with what has actually
 *   been read, never with what a header claims, so a lying header fails fast.
 * - On failure *out is left empty (rows 0, NULL arrays); nnrt_dataset_free is safe on it. */
#ifndef NNRT_DATA_H
#define NNRT_DATA_H
#include <stddef.h>
#include <stdio.h>
#include <stdint.h>

#include "nnrt.h"
#include "nnrt_data.h" /* the limits, the source table and the probe */

/* Opens path for reading, refusing what is not a regular file: a FIFO would block until some
 * writer came, a device might never end, a directory fails later with a worse message. The fd,
 * or -1 with *why ("No such file or directory", "is a directory", "not a regular file"). */
int nnrt_open_regular(const char *path, const char **why);
/* The same as a stdio stream. */
FILE *nnrt_fopen_regular(const char *path, const char **why);
/* 0 when path opens as nnrt_open_regular says, else NNRT_EXIT_IO with "cannot load 'PATH': why"
 * in err: the check before a loader runs, so that a file that cannot be read is an I/O error
 * (exit 3) and what the loader rejects is bad data (exit 1). */
int nnrt_check_readable(const char *path, char *err, size_t errlen);

/* A data set in memory: rows inputs of in_width floats and targets of target_width floats
 * (one-hot rows for a model with classes). */
typedef struct {
  int64_t rows, in_width, target_width;
  float *x, *y;
} NnrtDataset;

/* Loads d for model m (widths from m->input.width, m->target.width; classes from m->n_classes,
 * which must then equal target.width), applying d->scaling NNRT_SCALE_FACTOR (multiply inputs
 * by d->scale). NNRT_SCALE_STANDARDIZE is left to the caller, because the statistics must come
 * from the training set alone: see nnrt_data_stats.
 *
 * TABLE: copies d->rows rows of d->x and d->y; for classes y holds one label per row, a float
 * that must be an integer in [0, n_classes), which becomes a one-hot row.
 * CSV (d->path): d->header skips the first non-blank line; d->delimiter separates cells (0
 * means ','); spaces and tabs around cells are stripped, and a cell may be double-quoted (""
 * inside quotes is a quote; a quoted cell cannot span lines); blank lines are skipped and
 * "\r\n" endings accepted. Features are the columns d->x_cols or, when n_x_cols is 0, every
 * column that is not a target, in order; they must number m->input.width. Targets are the
 * columns d->y_cols: target.width numbers, or for classes exactly one column holding an integer
 * label in [0, n_classes) or, when n_class_names > 0, one of class_names (exact match). Every
 * row must have as many cells as the first data row.
 * IDX (d->path inputs, d->labels_path labels): magic 00 00 08 NDIM (unsigned bytes only), NDIM
 * big-endian uint32 dims; the inputs' dims after the first multiply to input.width; labels have
 * one dim, the same count, one byte per record: a class below n_classes, or for a model
 * without classes the single target value (target.width must be 1). Data beyond what the
 * header describes is an error. */
int nnrt_data_load(const NnrtModel *m, const NnrtData *d, NnrtDataset *out, char *err,
                   size_t errlen);
/* The inputs alone of a file for predict (target_width 0; y holds nothing), so that a file
 * without targets can be read as well as one laid out like the training data:
 * CSV: the first non-blank line is a header when one of its input cells is not a number,
 * whatever d->header says. A file whose first data row has exactly input.width cells holds the
 * inputs in order; any other is read with d's feature columns (d->x_cols, else every column that
 * is not one of d->y_cols), and its target cells are not read.
 * IDX: d->labels_path may be NULL; when it is given, only its header is checked against the
 * images (the labels themselves are not read). */
int nnrt_data_load_inputs(const NnrtModel *m, const NnrtData *d, NnrtDataset *out, char *err,
                          size_t errlen);
void nnrt_dataset_free(NnrtDataset *ds);

/* Per-feature mean and (population) standard deviation of ds->x (std 0 becomes 1, and an empty
 * set gives mean 0, std 1), in mean/std arrays of in_width. */
void nnrt_data_stats(const NnrtDataset *ds, float *mean, float *std);
/* x = (x − mean) / std, in place. */
void nnrt_data_standardize(NnrtDataset *ds, const float *mean, const float *std);
/* Moves the last `fraction` of ds's rows (rounded down, at least 1 when fraction > 0 and rows > 1)
 * into val, as Keras's validation_split does; fraction must be in [0, 1). val is empty (rows 0,
 * NULL arrays) when nothing moves. 0, or -1 with err and ds untouched. */
int nnrt_data_split(NnrtDataset *ds, double fraction, NnrtDataset *val, char *err,
                    size_t errlen);

/* bytes of memory that free() releases: a large block (the workspace, a data set's rows) on
 * 2 MiB boundaries and advised to the kernel for huge pages, so that rows read far apart (a
 * shuffled batch, a convolution's patches) do not each cost a TLB miss; NULL when out of
 * memory. */
void *nnrt_alloc_large(size_t bytes);

#endif

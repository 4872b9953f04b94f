/* nnrt_sources: THE list of data sources, one row each. nnrt.h numbers NnrtDataKind from it,
 * the runtime (runtime/data.c) takes each row's loader and file probe from it, and the compiler
 * (compiler/check/sema_data.c, compiler/settings/settings.h) each row's name, arguments and
 * compile-time check, so a source added here is known to both sides at once. Each side expands
 * only the columns it owns: the runtime never sees the compiler's check, nor the other way.
 *
 *   X(KIND, "name", FILES, compile-time check, runtime loader, file probe, (arguments,))
 *
 * KIND         NNRT_DATA_<KIND> in the ABI, DATA_<KIND> in the compiler's settings
 * "name"       as the train block writes it: data = csv("iris.csv")
 * FILES        files it reads (0: the model's own table): NnrtData's path, then labels_path
 * check        void (Sema *, const Model *, const AstNode *, const SemaSource *row,
 *              DataSettings *), in compiler/check (SemaSourceCheck)
 * loader       int (const NnrtModel *, const NnrtData *, NnrtDataset *, const Report *)
 * probe        int (const char *path, const NnrtData *, NnrtProbe *): a file's header, cheaply,
 *              with the loader's own reader (nnrt_data.h); NULL when FILES is 0
 * arguments    the names it takes besides its positional files, each followed by a comma */
#ifndef NNRT_SOURCES_H
#define NNRT_SOURCES_H

#define NNRT_DATA_SOURCES(X)                                                                    \
  X(TABLE, "table", 0, sema_table_source, nnrt_data_load_table, NULL, ())                       \
  X(CSV, "csv", 1, sema_csv_source, nnrt_data_load_csv, nnrt_data_probe_csv,                    \
    ("header", "delimiter", "features", "targets", "classes", "scale", "standardize",           \
     "positive",))                                                                              \
  X(IDX, "idx", 2, sema_idx_source, nnrt_data_load_idx, nnrt_data_probe_idx,                    \
    ("scale", "standardize", "positive", "classes",))

/* A row's parenthesised arguments as a NULL-terminated initializer list. */
#define NNRT_SOURCE_ARGS(args) {NNRT_SOURCE_UNPAREN args NULL}
#define NNRT_SOURCE_UNPAREN(...) __VA_ARGS__

#endif

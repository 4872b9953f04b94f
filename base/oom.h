/* oom: what nnc does when memory runs out, in its own allocations (the arena) or in LLVM's:
 * it removes the temporary files registered with oom_track_file (so no partial output is left),
 * says "nnc: out of memory" and exits with status 1, never an abort. A compiler cannot go on
 * without memory, but it can leave the machine as it found it. */
#ifndef NNC_OOM_H
#define NNC_OOM_H

_Noreturn void oom_exit(void);
/* Up to four paths at once; untrack when the file is renamed into place or removed. */
void oom_track_file(const char *path);
void oom_untrack_file(const char *path);

#endif

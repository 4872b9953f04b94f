#include "oom.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

enum { TRACKED = 4, PATH_MAX_LEN = 4096 };
static char tracked[TRACKED][PATH_MAX_LEN];

void oom_track_file(const char *path) {
  for (int i = 0; i < TRACKED; i++)
    if (!tracked[i][0]) {
      snprintf(tracked[i], PATH_MAX_LEN, "%s", path);
      return;
    }
}

void oom_untrack_file(const char *path) {
  for (int i = 0; i < TRACKED; i++)
    if (!strcmp(tracked[i], path))
      tracked[i][0] = '\0';
}

/* Only calls that need no memory: the allocator is what failed. */
_Noreturn void oom_exit(void) {
  for (int i = 0; i < TRACKED; i++)
    if (tracked[i][0])
      unlink(tracked[i]);
  static const char msg[] = "nnc: out of memory\n";
  if (write(STDERR_FILENO, msg, sizeof msg - 1) < 0) {
  }
  _exit(1);
}

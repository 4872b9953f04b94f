/* outfile: atomic replacement of an output file (outfile.h): mkstemp beside the target, so the
 * rename stays on one file system, then the permissions an ordinary fopen would have given. */
#include "outfile.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

#define TMP_SUFFIX ".tmp.XXXXXX"

int nnrt_outfile_open(NnrtOutfile *o, const char *path, char *err, size_t errlen) {
  size_t len = strlen(path);
  *o = (NnrtOutfile){.path = path, .tmp = malloc(len + sizeof TMP_SUFFIX)};
  if (!o->tmp) {
    nnrt_errf(err, errlen, "cannot write '%s': out of memory", path);
    return -1;
  }
  memcpy(o->tmp, path, len);
  memcpy(o->tmp + len, TMP_SUFFIX, sizeof TMP_SUFFIX);
  int fd = mkstemp(o->tmp);
  o->f = fd >= 0 ? fdopen(fd, "w") : NULL;
  if (o->f)
    return 0;
  nnrt_errf(err, errlen, "cannot write '%s': %s", path, strerror(errno));
  if (fd >= 0) {
    close(fd);
    unlink(o->tmp);
  }
  free(o->tmp);
  o->tmp = NULL;
  return -1;
}

int nnrt_outfile_commit(NnrtOutfile *o, char *err, size_t errlen) {
  errno = 0;
  int bad = ferror(o->f);
  bad |= fclose(o->f) != 0;
  o->f = NULL;
  /* mkstemp makes the file 0600; an output is for reading like any other file. */
  if (!bad) {
    mode_t mask = umask(0);
    umask(mask);
    chmod(o->tmp, 0666 & ~mask);
  }
  if (bad || rename(o->tmp, o->path) != 0) {
    nnrt_errf(err, errlen, "cannot write '%s': %s", o->path, strerror(errno ? errno : EIO));
    nnrt_outfile_discard(o);
    return -1;
  }
  free(o->tmp);
  o->tmp = NULL;
  return 0;
}

void nnrt_outfile_discard(NnrtOutfile *o) {
  if (o->f)
    fclose(o->f);
  o->f = NULL;
  if (o->tmp)
    unlink(o->tmp);
  free(o->tmp);
  o->tmp = NULL;
}

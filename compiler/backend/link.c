#include "link.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

/* An nnc built with AddressSanitizer (cmake -DNNC_SANITIZE=ON) sits beside a runtime library
 * built the same way, so the programs it links need the sanitizers' runtimes too. */
#if defined(__SANITIZE_ADDRESS__)
#define NNC_LINK_SANITIZERS 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define NNC_LINK_SANITIZERS 1
#endif
#endif

static bool is_file(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

const char *link_runtime_path(char *buf, size_t n, char *err, size_t errlen) {
  const char *env = getenv("NNC_RUNTIME");
  if (env && is_file(env))
    return snprintf(buf, n, "%s", env), buf;
  char exe[4096];
  ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (len <= 0) {
    snprintf(err, errlen, "cannot find the nnc executable: %s", strerror(errno));
    return NULL;
  }
  exe[len] = '\0';
  const char *dir = dirname(exe);
  static const char *const places[] = {"%s/libnnrt.a", "%s/../lib/nnc/libnnrt.a"};
  for (int i = 0; i < 2; i++) {
    snprintf(buf, n, places[i], dir);
    if (is_file(buf))
      return buf;
  }
  snprintf(err, errlen, "cannot find the runtime library libnnrt.a in %s or %s/../lib/nnc "
           "(set NNC_RUNTIME to its path)", dir, dir);
  return NULL;
}

/* quiet: the command's error output goes to /dev/null (an attempt that may fail). */
static bool run(char *const argv[], bool quiet, char *err, size_t errlen) {
  pid_t pid;
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  if (quiet)
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
  int rc = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) {
    snprintf(err, errlen, "cannot run the C compiler '%s': %s", argv[0], strerror(rc));
    return false;
  }
  int status;
  while (waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) {
      snprintf(err, errlen, "waiting for '%s': %s", argv[0], strerror(errno));
      return false;
    }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
    return true;
  snprintf(err, errlen, "the linker command '%s' failed", argv[0]);
  return false;
}

/* libnnrt_mpi.a beside the runtime library rt (the build tree and lib/nnc both hold the two). */
static bool mpi_runtime_path(const char *rt, char *buf, size_t n, char *err, size_t errlen) {
  const char *slash = strrchr(rt, '/');
  snprintf(buf, n, "%.*slibnnrt_mpi.a", slash ? (int)(slash - rt + 1) : 0, rt);
  if (is_file(buf))
    return true;
  snprintf(err, errlen, "--mpi: this nnc was built without MPI (no %s); install Open MPI "
           "(apt-get install libopenmpi-dev openmpi-bin) and build nnc again", buf);
  return false;
}

/* MPI's compiler driver: $MPICC, else mpicc. */
static const char *mpi_driver(void) {
  const char *cc = getenv("MPICC");
  return cc && *cc ? cc : "mpicc";
}

/* Whether `cmd` names an executable file, itself or through PATH. */
static bool on_path(const char *cmd) {
  if (strchr(cmd, '/'))
    return access(cmd, X_OK) == 0;
  const char *path = getenv("PATH");
  char buf[4096];
  for (const char *p = path ? path : ""; *p;) {
    size_t len = strcspn(p, ":");
    snprintf(buf, sizeof buf, "%.*s/%s", (int)len, p, cmd);
    if (len && access(buf, X_OK) == 0)
      return true;
    p += len + (p[len] == ':');
  }
  return false;
}

bool link_mpi_available(char *err, size_t errlen) {
  char rt[4096], mpi[4096];
  if (!link_runtime_path(rt, sizeof rt, err, errlen) ||
      !mpi_runtime_path(rt, mpi, sizeof mpi, err, errlen))
    return false;
  if (on_path(mpi_driver()))
    return true;
  snprintf(err, errlen, "--mpi: MPI's compiler driver '%s' is not installed (apt-get install "
           "libopenmpi-dev openmpi-bin, or set MPICC)", mpi_driver());
  return false;
}

bool link_executable(const char *object, const char *out, bool mpi, char *err, size_t errlen) {
  char rt[4096], rt_mpi[4096], tmp[4096];
  if (!link_runtime_path(rt, sizeof rt, err, errlen) ||
      (mpi && !mpi_runtime_path(rt, rt_mpi, sizeof rt_mpi, err, errlen)))
    return false;
  snprintf(tmp, sizeof tmp, "%s.tmp.%ld", out, (long)getpid());
  const char *cc = getenv("CC");
  char *argv[16];
  int n = 0;
  argv[n++] = (char *)(mpi ? mpi_driver() : cc && *cc ? cc : "cc");
  argv[n++] = "-static"; /* dropped below when it cannot be */
  argv[n++] = "-o";
  argv[n++] = tmp;
  argv[n++] = (char *)object;
  if (mpi) {
    /* -u pulls mpi.c out of its archive: nothing in the program names it, and its constructor
     * makes it the runtime's transport. */
    argv[n++] = "-Wl,-u,nnrt_mpi_ops";
    argv[n++] = rt_mpi;
  }
  argv[n++] = rt;
  argv[n++] = "-lz";
  argv[n++] = "-lm";
  argv[n++] = "-pthread";
#ifdef NNC_LINK_SANITIZERS
  argv[n++] = "-fsanitize=address,undefined";
#endif
  argv[n] = NULL;
  /* A program linked statically starts 0.25 ms sooner than one that has the dynamic loader
   * find and relocate libc, libm and zlib (a twelfth of XOR's whole 10,000-epoch run, issue
   * 14). Without the static archives (glibc's libc.a is a package of its own on some systems)
   * the link is made again dynamically; MPI's libraries and the sanitizers' runtimes are
   * always linked dynamically. */
  bool linked = false;
#ifndef NNC_LINK_SANITIZERS
  linked = !mpi && run(argv, true, err, errlen);
#endif
  argv[1] = argv[0];
  if (!linked && !run(argv + 1, false, err, errlen)) {
    unlink(tmp);
    return false;
  }
  if (rename(tmp, out) != 0) {
    snprintf(err, errlen, "cannot write '%s': %s", out, strerror(errno));
    unlink(tmp);
    return false;
  }
  return true;
}

/* A fresh directory under /tmp for the files of a cmocka suite: the suite defines TEST_TMP_DIR
 * (a mkdtemp template such as "/tmp/nnrt-test-XXXXXX") before including this header, passes
 * setup_dir and teardown_dir to cmocka_run_group_tests, and names its files with tmp_path. */
#ifndef NNC_TMP_DIR_H
#define NNC_TMP_DIR_H
#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef TEST_TMP_DIR
#error "define TEST_TMP_DIR, a mkdtemp template, before including tmp_dir.h"
#endif

static char tmp_dir[] = TEST_TMP_DIR;

/* tmp_dir/name; the result stays valid for the next 15 calls. */
static inline const char *tmp_path(const char *name) {
  static char paths[16][4096];
  static int next;
  char *p = paths[next++ % 16];
  snprintf(p, sizeof paths[0], "%s/%s", tmp_dir, name);
  return p;
}

/* Removes dir and everything below it. */
static inline void remove_tree(const char *dir) {
  DIR *d = opendir(dir);
  if (!d)
    return;
  for (struct dirent *e; (e = readdir(d));) {
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
      continue;
    char path[4096];
    if (snprintf(path, sizeof path, "%s/%s", dir, e->d_name) >= (int)sizeof path)
      continue;
    struct stat st;
    if (lstat(path, &st) == 0 && S_ISDIR(st.st_mode))
      remove_tree(path);
    else
      unlink(path);
  }
  closedir(d);
  rmdir(dir);
}

/* Group setup: makes tmp_dir. */
static inline int setup_dir(void **state) {
  (void)state;
  return mkdtemp(tmp_dir) ? 0 : -1;
}

/* Group teardown: removes tmp_dir and its files. */
static inline int teardown_dir(void **state) {
  (void)state;
  remove_tree(tmp_dir);
  return 0;
}

#endif

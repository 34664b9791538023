/* scratch_dir.h - a fresh directory per test for suites that write files
 * (LUT stores, their -wal/-shm files, exports): made by the suite's .init,
 * emptied and removed by its .fini. Header-only: each suite is its own
 * executable. */
#ifndef OPCOST_TESTS_SCRATCH_DIR_H
#define OPCOST_TESTS_SCRATCH_DIR_H

#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* dir (size bytes) becomes a new /tmp/opcost-test-NAME-XXXXXX. */
static inline void scratch_dir_make(char *dir, size_t size, const char *name) {
  snprintf(dir, size, "/tmp/opcost-test-%s-XXXXXX", name);
  cr_assert_not_null(mkdtemp(dir), "cannot make %s", dir);
}

/* Removes the files of dir (it holds no subdirectories), then dir. */
static inline void scratch_dir_remove(const char *dir) {
  DIR *d = opendir(dir);
  if (d == NULL) return;
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
    char p[1024];
    snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
    unlink(p);
  }
  closedir(d);
  rmdir(dir);
}

#endif

/* cli_test.h - what the CLI integration suites share: a scratch directory per
 * test, running the `opcost` binary (path in $OPCOST) there with its stdout
 * and stderr captured, and reading and writing files in it. Header-only:
 * each suite is its own executable. */
#ifndef OPCOST_TESTS_CLI_TEST_H
#define OPCOST_TESTS_CLI_TEST_H

#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#define CLI_TEST_UNUSED __attribute__((unused))

static char dir[256];
static char *out, *err; /* of the last run() */

/* A fresh /tmp/opcost-cli-NAME-XXXXXX for the test (the suite's .init). */
static CLI_TEST_UNUSED void cli_test_setup(const char *name) {
  snprintf(dir, sizeof dir, "/tmp/opcost-cli-%s-XXXXXX", name);
  cr_assert_not_null(mkdtemp(dir));
  out = err = NULL;
}

/* Removes the directory (the suite's .fini). */
static CLI_TEST_UNUSED void cli_test_teardown(void) {
  free(out);
  free(err);
  out = err = NULL;
  char cmd[512];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  cr_expect_eq(system(cmd), 0);
}

/* The whole file, NUL-terminated; fails the test when unreadable. */
static CLI_TEST_UNUSED char *slurp(const char *path) {
  FILE *f = fopen(path, "rb");
  cr_assert_not_null(f, "cannot open %s", path);
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *buf = calloc((size_t)n + 1, 1);
  cr_assert_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
  fclose(f);
  return buf;
}

/* Runs `opcost ARGS` in the test directory; stdout/stderr into out/err.
 * Returns the exit status. */
static CLI_TEST_UNUSED int run(const char *fmt, ...) {
  const char *bin = getenv("OPCOST");
  cr_assert_not_null(bin, "OPCOST is not set");
  char args[4096], cmd[5000], path[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(args, sizeof args, fmt, ap);
  va_end(ap);
  snprintf(cmd, sizeof cmd, "cd '%s' && '%s' %s > out.txt 2> err.txt", dir, bin, args);
  int status = system(cmd);
  cr_assert(WIFEXITED(status));
  free(out);
  free(err);
  snprintf(path, sizeof path, "%s/out.txt", dir);
  out = slurp(path);
  snprintf(path, sizeof path, "%s/err.txt", dir);
  err = slurp(path);
  return WEXITSTATUS(status);
}

/* Writes text to NAME in the test directory. */
static CLI_TEST_UNUSED void write_file(const char *name, const char *text) {
  char path[512];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  FILE *f = fopen(path, "w");
  cr_assert_not_null(f);
  fputs(text, f);
  fclose(f);
}

#endif

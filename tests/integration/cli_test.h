/* cli_test.h - what the CLI integration suites share: a scratch directory per
 * test, running the `opcost` binary (path in $OPCOST) with its stdout and
 * stderr captured, and reading and writing files in the scratch directory.
 * Header-only: each suite is its own executable. */
#ifndef OPCOST_TESTS_CLI_TEST_H
#define OPCOST_TESTS_CLI_TEST_H

#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#define CLI_TEST_UNUSED __attribute__((unused))

static char dir[256];   /* the test's scratch directory */
static char *out, *err; /* of the last run(), freed by the next one */

/* Where run() starts opcost: the scratch directory when NULL. A suite whose
 * arguments name files of the source tree (spaces/networks/x.json) sets it
 * to OPCOST_SOURCE_DIR after cli_test_setup(), which resets it. */
static const char *run_cwd;

/* A fresh /tmp/opcost-cli-NAME-XXXXXX for the test (the suite's .init). */
static CLI_TEST_UNUSED void cli_test_setup(const char *name) {
  snprintf(dir, sizeof dir, "/tmp/opcost-cli-%s-XXXXXX", name);
  cr_assert_not_null(mkdtemp(dir));
  out = err = NULL;
  run_cwd = NULL;
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

/* DIR/NAME, in a buffer that the next call overwrites (run() calls it too). */
static CLI_TEST_UNUSED const char *in_dir(const char *name) {
  static char path[1024];
  int n = snprintf(path, sizeof path, "%s/%s", dir, name);
  cr_assert(n > 0 && (size_t)n < sizeof path, "path too long: %s", name);
  return path;
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

/* The body of run() and run_merged(). */
static CLI_TEST_UNUSED int cli_test_vrun(bool merged, const char *fmt, va_list ap) {
  const char *bin = getenv("OPCOST");
  cr_assert_not_null(bin, "OPCOST is not set");
  char args[4096], to_err[512], cmd[6000];
  int n = vsnprintf(args, sizeof args, fmt, ap);
  cr_assert(n >= 0 && (size_t)n < sizeof args, "arguments too long: %s", fmt);
  if (merged)
    snprintf(to_err, sizeof to_err, "2>&1");
  else
    snprintf(to_err, sizeof to_err, "2> '%s/err.txt'", dir);
  snprintf(cmd, sizeof cmd, "cd '%s' && '%s' %s > '%s/out.txt' %s", run_cwd ? run_cwd : dir, bin,
           args, dir, to_err);
  int status = system(cmd);
  cr_assert(WIFEXITED(status), "%s did not exit", cmd);
  free(out);
  free(err);
  out = slurp(in_dir("out.txt"));
  err = merged ? calloc(1, 1) : slurp(in_dir("err.txt"));
  return WEXITSTATUS(status);
}

/* Runs `opcost ARGS`, ARGS printf-formatted and passed through the shell (so
 * they may quote), in run_cwd; stdout into out, stderr into err. Returns the
 * exit status; fails the test when opcost did not exit. */
static int run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static CLI_TEST_UNUSED int run(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int rc = cli_test_vrun(false, fmt, ap);
  va_end(ap);
  return rc;
}

/* run() with stderr merged into out, as a terminal shows both; err is "". */
static int run_merged(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static CLI_TEST_UNUSED int run_merged(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int rc = cli_test_vrun(true, fmt, ap);
  va_end(ap);
  return rc;
}

/* Writes text to NAME in the scratch directory. */
static CLI_TEST_UNUSED void write_file(const char *name, const char *text) {
  FILE *f = fopen(in_dir(name), "w");
  cr_assert_not_null(f);
  fputs(text, f);
  fclose(f);
}

#endif

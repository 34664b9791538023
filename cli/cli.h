/* cli.h - what the subcommands of `opcost` share: the command table, error
 * reporting with distinct exit codes, JSON printing and the progress bar.
 * The CLI parses arguments and prints; libopcost does the work. */
#ifndef OPCOST_CLI_H
#define OPCOST_CLI_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "opcost/opcost.h"

/* Exit code of a command-line mistake (unknown option, missing argument). */
#define CLI_EXIT_USAGE 2

#define CLI_COMMAND(name, summary) int cli_cmd_##name(int argc, char **argv);
#include "cli/commands.def"
#undef CLI_COMMAND

/* Prints "opcost CMD: MESSAGE" for a failed status (oc_errmsg(), or the
 * status text) and returns its exit code. */
int cli_fail(const char *cmd, enum oc_status status);
/* Prints "opcost CMD: MESSAGE" and "try 'opcost CMD --help'", returns 2. */
int cli_usage_error(const char *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Prints a JSON value to stdout, indented, and releases it. */
int cli_print_json(json_t *value);

/* Parses a whole number in [min, max] for option `name`; prints a usage
 * error and returns false when it is not one. */
bool cli_parse_int(const char *cmd, const char *name, const char *text, long min, long max,
                   long *out);
bool cli_parse_double(const char *cmd, const char *name, const char *text, double min,
                      double max, double *out);

/* A progress bar with ETA on stderr when it is a terminal; silent when
 * piped or when quiet is set. */
struct cli_progress {
  const char *label;
  int64_t total;
  int64_t done;
  double start_s;
  double last_draw_s;
  bool enabled;
};
void cli_progress_start(struct cli_progress *p, const char *label, int64_t total, bool quiet);
void cli_progress_step(struct cli_progress *p, int64_t done, const char *detail);
void cli_progress_end(struct cli_progress *p);

double cli_now_s(void);

#endif

/* main.c - `opcost`: dispatches to one subcommand per file (cmd_*.c) from the
 * table in commands.def. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

struct command {
  const char *name;
  const char *summary;
  int (*main)(int argc, char **argv);
};

static const struct command commands[] = {
#define CLI_COMMAND(name, summary) {#name, summary, cli_cmd_##name},
#include "cli/commands.def"
#undef CLI_COMMAND
};

static void usage(FILE *out) {
  fprintf(out,
          "usage: opcost COMMAND [ARGS]\n"
          "\n"
          "Measures what neural-network operators cost on real hardware.\n"
          "\n"
          "commands:\n");
  for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
    fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
  fprintf(out,
          "\n"
          "'opcost COMMAND --help' describes a command. 'opcost --version' prints the version.\n");
}

int main(int argc, char **argv) {
  if (argc < 2) {
    usage(stderr);
    return CLI_EXIT_USAGE;
  }
  if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
      strcmp(argv[1], "help") == 0) {
    usage(stdout);
    return 0;
  }
  if (strcmp(argv[1], "--version") == 0) {
    printf("opcost %s\n", OC_VERSION_STRING);
    return 0;
  }
  for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
    if (strcmp(argv[1], commands[i].name) == 0) return commands[i].main(argc - 1, argv + 1);
  }
  fprintf(stderr, "opcost: unknown command '%s'\ntry 'opcost --help'\n", argv[1]);
  return CLI_EXIT_USAGE;
}

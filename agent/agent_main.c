/* agent_main.c - `opcost-agent`: the program the remote target starts on a
 * device (over ssh, adb or any wrapper command). It speaks the JSON Lines
 * protocol of docs/remote.md on its standard input and output until the
 * input ends; everything else it or its libraries print goes to standard
 * error, so that no stray line ever lands in the protocol stream.
 *
 *   opcost-agent              serve requests on stdin/stdout
 *   opcost-agent --version    print the hello reply and exit
 *   opcost-agent --sysfs DIR  read CPU clusters from DIR instead of
 *                             /sys/devices/system/cpu
 *   opcost-agent --exit-after N
 *                             die (SIGKILL) on receiving request N: lets
 *                             tests check that the host resumes */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/agent.h"
#include "core/core.h"

static int usage(FILE *f, int code) {
  fprintf(f, "usage: opcost-agent [--version] [--sysfs DIR] [--exit-after N]\n"
             "Serves opcost's remote protocol (JSON Lines) on stdin/stdout.\n");
  return code;
}

int main(int argc, char **argv) {
  struct oc__agent_config config;
  memset(&config, 0, sizeof config);
  /* argv[0] is the agent even when a dynamic loader was started in its
   * place (`ld-linux.so --library-path DIR agent`), /proc/self/exe then
   * is the loader. */
  config.self_path = strchr(argv[0], '/') ? argv[0] : "/proc/self/exe";
  bool version = false;
  for (int i = 1; i < argc; i++) {
    int64_t n;
    if (strcmp(argv[i], "--version") == 0) {
      version = true;
    } else if (strcmp(argv[i], "--sysfs") == 0 && i + 1 < argc) {
      config.sysfs_cpu = argv[++i];
    } else if (strcmp(argv[i], "--exit-after") == 0 && i + 1 < argc &&
               oc__parse_i64(argv[i + 1], 1, INT32_MAX, &n)) {
      config.exit_after = (int)n;
      i++;
    } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
      return usage(stdout, 0);
    } else {
      fprintf(stderr, "opcost-agent: unknown or incomplete argument '%s'\n", argv[i]);
      return usage(stderr, 2);
    }
  }
  /* The protocol gets its own descriptor; descriptor 1 becomes stderr. */
  fflush(stdout);
  int proto = dup(STDOUT_FILENO);
  if (proto < 0 || dup2(STDERR_FILENO, STDOUT_FILENO) < 0) {
    perror("opcost-agent: dup");
    return 1;
  }
  FILE *out = fdopen(proto, "w");
  if (out == NULL) {
    perror("opcost-agent: fdopen");
    return 1;
  }
  enum oc_status st;
  if (version) {
    static char hello[] = "{\"id\":0,\"cmd\":\"hello\"}\n";
    FILE *in = fmemopen(hello, sizeof hello - 1, "r");
    if (in == NULL) {
      perror("opcost-agent: fmemopen");
      return 1;
    }
    st = oc__agent_serve(in, out, &config);
    fclose(in);
  } else {
    st = oc__agent_serve(stdin, out, &config);
  }
  if (st != oc_status_ok) fprintf(stderr, "opcost-agent: %s\n", oc_errmsg());
  fclose(out);
  return st == oc_status_ok ? 0 : 1;
}

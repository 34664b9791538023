/* remote_internal.h - internals of the `remote` target shared by its files:
 * the parsed target spec (which transport, which agent, where to push it),
 * the commands each transport runs (argv arrays, never a local shell), and
 * the process link to a running agent (a socket pair, bounded waits). Not
 * public. */
#ifndef OPCOST_TARGETS_REMOTE_INTERNAL_H
#define OPCOST_TARGETS_REMOTE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "opcost/status.h"

/* Most words of an exec= command, and of any command a transport builds. */
#define OC__REMOTE_MAX_ARGS 64
/* Default wait for one reply, in seconds; timeout= changes it. Generous:
 * an agent under qemu-user starts and runs ops tens of times slower. */
#define OC__REMOTE_TIMEOUT_S 120.0
/* Default times a dropped connection is re-opened for one request. */
#define OC__REMOTE_RETRIES 2

enum oc__remote_transport {
  oc__remote_ssh,  /* ssh=DEST: the agent runs on DEST through ssh */
  oc__remote_adb,  /* adb=SERIAL: through `adb -s SERIAL shell` */
  oc__remote_exec, /* exec=COMMAND: COMMAND is the agent (or starts it) */
};

struct oc__remote_spec {
  enum oc__remote_transport transport;
  char label[320];       /* "ssh=user@host": names the transport in messages */
  char dest[256];        /* ssh destination or adb serial */
  char exec_words[2048]; /* exec=: the words, NUL-separated */
  int exec_argc;
  char *exec_argv[OC__REMOTE_MAX_ARGS + 1]; /* into exec_words, NULL-terminated */
  char target[32];                          /* the agent's target (cpu) */
  char cluster[16];                         /* big, little, N; "" = not pinned by cluster */
  char push[1024];   /* local bundle to push when missing or outdated; "" = never */
  char dir[512];     /* where the bundle goes on the device */
  char agent[512];   /* the agent's path on the device; "" = from dir or PATH */
  char ssh_bin[256]; /* ssh, or a wrapper */
  char adb_bin[256]; /* adb, or a wrapper */
  double timeout_s;
  int retries;
  char emulated[64]; /* "qemu-aarch64" when exec= starts QEMU user mode; else "" */
};

/* Parses what followed "remote:" (or, when that is empty, the environment
 * variable OPCOST_REMOTE): KEY=VALUE pairs separated by commas. A comma
 * splits only where a known key follows it, so exec= commands may hold
 * commas. invalid_argument naming the key or value that is wrong. */
enum oc_status oc__remote_parse_spec(const char *args, struct oc__remote_spec *spec);

/* Splits a command line into words like a POSIX shell does, without any
 * expansion: blanks separate words, '...' and "..." group, backslash
 * escapes (not inside '...'). Writes the words NUL-separated into buf and
 * pointers into argv (NULL-terminated). invalid_argument for an unclosed
 * quote, too many words, or a command too long. */
enum oc_status oc__remote_split_words(const char *text, char *buf, size_t size, char **argv,
                                      int max_args, int *argc);

/* Appends word to out quoted for a POSIX shell ('...' with ' as '\''),
 * preceded by a space unless out is empty. false when out is too small. */
bool oc__remote_shell_append(char *out, size_t size, const char *word);

/* ---- the link to an agent process ---- */

struct oc__remote_link;

/* Starts argv[0] (looked up in PATH when it has no slash) with its standard
 * input and output on one end of a socket pair and its standard error in an
 * unlinked temporary file (quoted in errors). unavailable naming the program
 * when it cannot be started. */
enum oc_status oc__remote_link_start(char *const argv[], struct oc__remote_link **link);
/* Writes all of data within timeout_s. device_error when the agent went
 * away (oc__remote_link_closed then says so), timeout. */
enum oc_status oc__remote_link_send(struct oc__remote_link *link, const char *data, size_t len,
                                    double timeout_s);
/* Next line (without its newline) into *line, valid until the next call;
 * parse_error for a line over max_len; device_error when the agent closed
 * its end (with how it ended); timeout. */
enum oc_status oc__remote_link_recv(struct oc__remote_link *link, double timeout_s, size_t max_len,
                                    char **line, size_t *len);
/* True once the other end has gone away. */
bool oc__remote_link_closed(const struct oc__remote_link *link);
/* How the agent ended, or "" while it runs: "exited with status 127",
 * "killed by signal 9", followed by the last line of its stderr. Waits up to
 * wait_s for it to end. */
void oc__remote_link_ending(struct oc__remote_link *link, double wait_s, char *buf, size_t size);
/* Closes the agent's input, gives it grace_s to exit, then SIGTERM and
 * SIGKILL. NULL-safe. */
void oc__remote_link_close(struct oc__remote_link *link, double grace_s);
pid_t oc__remote_link_pid(const struct oc__remote_link *link);

/* Runs argv to completion with stdin from stdin_path (NULL: /dev/null),
 * stdout discarded: the push steps. Its exit status in *status (-1 when
 * killed). unavailable when it cannot be started, timeout after timeout_s
 * (then it is killed). stderr's last line goes to err. */
enum oc_status oc__remote_run_command(char *const argv[], const char *stdin_path, double timeout_s,
                                      int *status, char *err, size_t err_len);

#endif

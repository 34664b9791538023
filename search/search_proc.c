/* search_proc.c - the external evaluator: a user command started once,
 * without a shell (the command line is split into argv here and started
 * with posix_spawnp), asked one JSON line per candidate on its stdin and
 * answering one JSON line on its stdout (docs/search.md).
 *
 * Nothing the process does can crash or hang the search: writes are
 * non-blocking with SIGPIPE blocked on this thread (a dead reader gives
 * EPIPE, and the pending signal is consumed), every wait is a poll() with
 * the reply deadline, and a reply that is late, not JSON, for another id,
 * or without a finite accuracy is an error naming the candidate. After an
 * error the process is killed and restarted and the request sent again, at
 * most `retries` times; a value is never made up. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "search/search_internal.h"

extern char **environ;

#define EVAL_MAX_LINE (16 * 1024 * 1024) /* longest reply line */

/* ---- command line -> argv ----------------------------------------------------------------- */

enum oc_status oc_search_split_command(const char *command, char ***argv_out, int *argc_out) {
  *argv_out = NULL;
  *argc_out = 0;
  size_t len = strlen(command);
  /* One block: at most len/2 + 2 pointers, then the words (each shorter
   * than the text that spelled it). */
  size_t max_words = len / 2 + 2;
  char **argv = malloc(max_words * sizeof *argv + len + max_words + 1);
  if (argv == NULL) return oc__fail(oc_status_out_of_memory, "out of memory");
  char *out = (char *)(argv + max_words);
  int argc = 0;
  const char *p = command;
  for (;;) {
    while (*p == ' ' || *p == '\t' || *p == '\n') p++;
    if (*p == '\0') break;
    argv[argc++] = out;
    while (*p && *p != ' ' && *p != '\t' && *p != '\n') {
      if (*p == '\'') {
        const char *end = strchr(p + 1, '\'');
        if (end == NULL) {
          free(argv);
          return oc__fail(oc_status_parse_error, "evaluator command '%s': unterminated '", command);
        }
        memcpy(out, p + 1, (size_t)(end - p - 1));
        out += end - p - 1;
        p = end + 1;
      } else if (*p == '"') {
        p++;
        while (*p && *p != '"') {
          if (*p == '\\' && (p[1] == '"' || p[1] == '\\')) p++;
          *out++ = *p++;
        }
        if (*p != '"') {
          free(argv);
          return oc__fail(oc_status_parse_error, "evaluator command '%s': unterminated \"",
                          command);
        }
        p++;
      } else if (*p == '\\' && p[1]) {
        *out++ = p[1];
        p += 2;
      } else {
        *out++ = *p++;
      }
    }
    *out++ = '\0';
  }
  if (argc == 0) {
    free(argv);
    return oc__fail(oc_status_parse_error, "evaluator command is empty");
  }
  argv[argc] = NULL;
  *argv_out = argv;
  *argc_out = argc;
  return oc_status_ok;
}

/* ---- the process ------------------------------------------------------------------------------
 */

struct oc_search_evaluator {
  char *command;
  char **argv;
  int argc;
  char *log_path;
  double timeout_s;
  int retries;
  pid_t pid;
  int to_child, from_child;
  char *buf;
  size_t len, cap;
  int64_t answered, errors, restarts;
};

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void close_fd(int *fd) {
  if (*fd >= 0) close(*fd);
  *fd = -1;
}

/* Waits up to wait_s for the child to exit; kills it after. Describes how
 * it ended into why (may be NULL). */
static void reap(struct oc_search_evaluator *ev, double wait_s, char *why, size_t why_len) {
  if (ev->pid <= 0) return;
  int status = 0;
  pid_t r = 0;
  double deadline = now_s() + wait_s;
  for (;;) {
    r = waitpid(ev->pid, &status, WNOHANG);
    if (r != 0 || now_s() >= deadline) break;
    struct timespec pause = {0, 5000000};
    nanosleep(&pause, NULL);
  }
  if (r == 0) {
    kill(-ev->pid, SIGKILL);
    r = waitpid(ev->pid, &status, 0);
    if (why) oc__strfmt(why, why_len, "still running (killed)");
  } else if (why && r > 0) {
    if (WIFEXITED(status))
      oc__strfmt(why, why_len, "exited with status %d", WEXITSTATUS(status));
    else if (WIFSIGNALED(status))
      oc__strfmt(why, why_len, "was killed by signal %d", WTERMSIG(status));
    else
      oc__strfmt(why, why_len, "ended");
  }
  ev->pid = -1;
}

static void shutdown_child(struct oc_search_evaluator *ev, double wait_s) {
  close_fd(&ev->to_child);
  close_fd(&ev->from_child);
  reap(ev, wait_s, NULL, 0);
  ev->len = 0;
}

static enum oc_status spawn(struct oc_search_evaluator *ev) {
  int in[2] = {-1, -1}, out[2] = {-1, -1};
  posix_spawn_file_actions_t fa;
  bool fa_init = false;
  enum oc_status st = oc_status_ok;
  if (pipe(in) != 0 || pipe(out) != 0) {
    st = oc__fail(oc_status_io_error, "evaluator '%s': pipe: %s", ev->command, strerror(errno));
    goto fail;
  }
  /* The parent's ends must not leak into the child (or a later child). */
  fcntl(in[1], F_SETFD, FD_CLOEXEC);
  fcntl(out[0], F_SETFD, FD_CLOEXEC);
  fcntl(in[0], F_SETFD, FD_CLOEXEC);
  fcntl(out[1], F_SETFD, FD_CLOEXEC);
  if (posix_spawn_file_actions_init(&fa) != 0) {
    st = oc__fail(oc_status_out_of_memory, "evaluator: out of memory");
    goto fail;
  }
  fa_init = true;
  posix_spawn_file_actions_adddup2(&fa, in[0], 0);
  posix_spawn_file_actions_adddup2(&fa, out[1], 1);
  if (ev->log_path)
    posix_spawn_file_actions_addopen(&fa, 2, ev->log_path, O_WRONLY | O_CREAT | O_APPEND, 0644);
  /* Its own process group, so that killing it reaches whatever it started
   * (a shell's children, worker processes). */
  posix_spawnattr_t attr;
  if (posix_spawnattr_init(&attr) != 0) {
    st = oc__fail(oc_status_out_of_memory, "evaluator: out of memory");
    goto fail;
  }
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
  posix_spawnattr_setpgroup(&attr, 0);
  pid_t pid;
  int rc = posix_spawnp(&pid, ev->argv[0], &fa, &attr, ev->argv, environ);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) {
    st = oc__fail(oc_status_unavailable, "evaluator '%s': cannot start '%s': %s", ev->command,
                  ev->argv[0], strerror(rc));
    goto fail;
  }
  posix_spawn_file_actions_destroy(&fa);
  close(in[0]);
  close(out[1]);
  ev->pid = pid;
  ev->to_child = in[1];
  ev->from_child = out[0];
  fcntl(ev->to_child, F_SETFL, fcntl(ev->to_child, F_GETFL) | O_NONBLOCK);
  fcntl(ev->from_child, F_SETFL, fcntl(ev->from_child, F_GETFL) | O_NONBLOCK);
  ev->len = 0;
  return oc_status_ok;
fail:
  if (fa_init) posix_spawn_file_actions_destroy(&fa);
  for (int i = 0; i < 2; i++) {
    if (in[i] >= 0) close(in[i]);
    if (out[i] >= 0) close(out[i]);
  }
  return st;
}

enum oc_status oc_search_evaluator_start(const char *command, double timeout_s, int retries,
                                         const char *log_path,
                                         struct oc_search_evaluator **evaluator) {
  *evaluator = NULL;
  if (!(timeout_s > 0) || retries < 0)
    return oc__fail(oc_status_invalid_argument,
                    "evaluator: timeout %g s must be > 0 and retries %d >= 0", timeout_s, retries);
  struct oc_search_evaluator *ev = calloc(1, sizeof *ev);
  if (ev == NULL) return oc__fail(oc_status_out_of_memory, "out of memory");
  ev->pid = -1;
  ev->to_child = ev->from_child = -1;
  ev->timeout_s = timeout_s;
  ev->retries = retries;
  size_t n = strlen(command) + 1;
  ev->command = malloc(n);
  if (ev->command) memcpy(ev->command, command, n);
  if (log_path) {
    size_t m = strlen(log_path) + 1;
    ev->log_path = malloc(m);
    if (ev->log_path) memcpy(ev->log_path, log_path, m);
  }
  enum oc_status st = oc_status_ok;
  if (ev->command == NULL || (log_path && ev->log_path == NULL)) {
    st = oc__fail(oc_status_out_of_memory, "out of memory");
    goto fail;
  }
  st = oc_search_split_command(command, &ev->argv, &ev->argc);
  if (st == oc_status_ok) st = spawn(ev);
  if (st != oc_status_ok) goto fail;
  *evaluator = ev;
  return oc_status_ok;
fail:
  oc_search_evaluator_stop(ev);
  return st;
}

void oc_search_evaluator_stop(struct oc_search_evaluator *ev) {
  if (ev == NULL) return;
  shutdown_child(ev, 2.0);
  free(ev->command);
  free(ev->argv);
  free(ev->log_path);
  free(ev->buf);
  free(ev);
}

void oc_search_evaluator_stats(const struct oc_search_evaluator *ev, int64_t *answered,
                               int64_t *errors, int64_t *restarts) {
  if (answered) *answered = ev->answered;
  if (errors) *errors = ev->errors;
  if (restarts) *restarts = ev->restarts;
}

static int remaining_ms(double deadline) {
  double left = deadline - now_s();
  if (left <= 0) return 0;
  return left > 3600 ? 3600000 : (int)(left * 1000) + 1;
}

/* Writes all of text before the deadline. why gets the failure. */
static enum oc_status write_all(struct oc_search_evaluator *ev, const char *text, size_t len,
                                double deadline, char *why, size_t why_len) {
  sigset_t pipe_set, old;
  sigemptyset(&pipe_set);
  sigaddset(&pipe_set, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
  enum oc_status st = oc_status_ok;
  size_t done = 0;
  while (done < len) {
    ssize_t w = write(ev->to_child, text + done, len - done);
    if (w > 0) {
      done += (size_t)w;
      continue;
    }
    if (w < 0 && errno == EINTR) continue;
    if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      struct pollfd p = {ev->to_child, POLLOUT, 0};
      int ms = remaining_ms(deadline);
      if (ms == 0 || poll(&p, 1, ms) == 0) {
        oc__strfmt(why, why_len, "did not read its request within %g s", ev->timeout_s);
        st = oc_status_timeout;
        break;
      }
      continue;
    }
    oc__strfmt(why, why_len, "cannot be written to (%s)", w < 0 ? strerror(errno) : "short write");
    st = oc_status_io_error;
    break;
  }
  /* A write to a dead reader left SIGPIPE pending: take it. */
  sigset_t pending;
  sigpending(&pending);
  if (sigismember(&pending, SIGPIPE)) {
    struct timespec zero = {0, 0};
    sigtimedwait(&pipe_set, NULL, &zero);
  }
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  return st;
}

/* Reads one non-blank line (without its newline) into *line, pointing into
 * ev->buf; consumed bytes are dropped on the next call. */
static enum oc_status read_line(struct oc_search_evaluator *ev, double deadline, char **line,
                                size_t *consumed, char *why, size_t why_len) {
  size_t scan = 0;
  for (;;) {
    char *nl = ev->len > scan ? memchr(ev->buf + scan, '\n', ev->len - scan) : NULL;
    if (nl != NULL) {
      size_t start = 0;
      /* Skip blank lines before the reply. */
      char *p = ev->buf;
      while (p < nl && (*p == ' ' || *p == '\r' || *p == '\t')) p++;
      if (p == nl) {
        size_t drop = (size_t)(nl - ev->buf) + 1;
        memmove(ev->buf, ev->buf + drop, ev->len - drop);
        ev->len -= drop;
        scan = 0;
        continue;
      }
      *nl = '\0';
      *line = ev->buf + start;
      *consumed = (size_t)(nl - ev->buf) + 1;
      return oc_status_ok;
    }
    scan = ev->len;
    if (ev->len >= EVAL_MAX_LINE) {
      oc__strfmt(why, why_len, "sent a line longer than %d bytes", EVAL_MAX_LINE);
      return oc_status_parse_error;
    }
    if (ev->cap - ev->len < 4096) {
      size_t cap = ev->cap ? 2 * ev->cap : 65536;
      char *b = realloc(ev->buf, cap + 1);
      if (b == NULL) return oc__fail(oc_status_out_of_memory, "out of memory");
      ev->buf = b;
      ev->cap = cap;
    }
    ssize_t r = read(ev->from_child, ev->buf + ev->len, ev->cap - ev->len);
    if (r > 0) {
      ev->len += (size_t)r;
      continue;
    }
    if (r == 0) {
      char how[96] = "closed its output";
      close_fd(&ev->from_child);
      close_fd(&ev->to_child);
      reap(ev, 0.5, how, sizeof how);
      oc__strfmt(why, why_len, "%s before replying", how);
      return oc_status_io_error;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      struct pollfd p = {ev->from_child, POLLIN, 0};
      int ms = remaining_ms(deadline);
      if (ms == 0 || poll(&p, 1, ms) == 0) {
        oc__strfmt(why, why_len, "did not reply within %g s", ev->timeout_s);
        return oc_status_timeout;
      }
      continue;
    }
    oc__strfmt(why, why_len, "cannot be read (%s)", strerror(errno));
    return oc_status_io_error;
  }
}

/* Checks a reply line; *accuracy on success. */
static enum oc_status check_reply(const char *line, int64_t id, double *accuracy, char *why,
                                  size_t why_len) {
  json_error_t err;
  json_t *r = json_loads(line, JSON_REJECT_DUPLICATES, &err);
  enum oc_status st = oc_status_parse_error;
  const json_t *jid, *acc;
  if (r == NULL) {
    oc__strfmt(why, why_len, "replied with a line that is not JSON (%s): '%.80s'", err.text, line);
  } else if (!json_is_object(r)) {
    oc__strfmt(why, why_len, "replied with JSON that is not an object: '%.80s'", line);
  } else if (!json_is_integer(jid = json_object_get(r, "id"))) {
    oc__strfmt(why, why_len, "replied without an integer \"id\": '%.80s'", line);
  } else if (json_integer_value(jid) != id) {
    oc__strfmt(why, why_len, "replied for id %lld instead: '%.80s'",
               (long long)json_integer_value(jid), line);
  } else if (json_is_string(json_object_get(r, "error"))) {
    oc__strfmt(why, why_len, "reported an error: %.200s",
               json_string_value(json_object_get(r, "error")));
  } else if (!json_is_number(acc = json_object_get(r, "accuracy")) ||
             !isfinite(json_number_value(acc))) {
    oc__strfmt(why, why_len, "replied without a finite number \"accuracy\": '%.80s'", line);
  } else {
    *accuracy = json_number_value(acc);
    st = oc_status_ok;
  }
  json_decref(r);
  return st;
}

enum oc_status oc_search_evaluator_ask(struct oc_search_evaluator *ev, int64_t id,
                                       const json_t *request, double *accuracy) {
  char *text = json_dumps(request, JSON_COMPACT);
  if (text == NULL) return oc__fail(oc_status_out_of_memory, "evaluator: out of memory");
  size_t len = strlen(text);
  char *msg = malloc(len + 2);
  if (msg == NULL) {
    free(text);
    return oc__fail(oc_status_out_of_memory, "evaluator: out of memory");
  }
  memcpy(msg, text, len);
  msg[len] = '\n';
  free(text);
  enum oc_status st = oc_status_ok;
  char why[512] = "";
  for (int attempt = 0; attempt <= ev->retries; attempt++) {
    if (ev->pid <= 0 || ev->to_child < 0) {
      if (attempt > 0) ev->restarts++;
      st = spawn(ev);
      if (st != oc_status_ok) {
        oc__strfmt(why, sizeof why, "%s", oc_errmsg());
        ev->errors++;
        continue;
      }
    }
    double deadline = now_s() + ev->timeout_s;
    st = write_all(ev, msg, len + 1, deadline, why, sizeof why);
    char *line = NULL;
    size_t consumed = 0;
    if (st == oc_status_ok) st = read_line(ev, deadline, &line, &consumed, why, sizeof why);
    if (st == oc_status_ok) {
      st = check_reply(line, id, accuracy, why, sizeof why);
      memmove(ev->buf, ev->buf + consumed, ev->len - consumed);
      ev->len -= consumed;
    }
    if (st == oc_status_ok) {
      ev->answered++;
      free(msg);
      return oc_status_ok;
    }
    if (st == oc_status_out_of_memory) break;
    ev->errors++;
    /* Whatever state it is in, start afresh. */
    shutdown_child(ev, 0.0);
  }
  free(msg);
  return oc__fail(st, "evaluator '%s': candidate %lld: %s%s", ev->command, (long long)id, why,
                  ev->retries > 0 ? " (retries exhausted)" : "");
}

/* remote_link.c - the process side of the remote target: starting the
 * transport command (ssh, adb, or the exec= command) with posix_spawnp and an
 * argv array - no local shell ever parses a name - talking to it over a
 * socket pair, and running the one-shot commands of a push.
 *
 * Every wait is bounded (poll with a deadline), writes use MSG_NOSIGNAL so a
 * dead agent never raises SIGPIPE in the caller, and the agent's standard
 * error goes to an unlinked temporary file whose last line is quoted when
 * the agent fails: "exited with status 127: sh: opcost-agent: not found". */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/core.h"
#include "targets/remote/remote_internal.h"

extern char **environ;

struct oc__remote_link {
  int fd;      /* our end of the socket pair */
  int err_fd;  /* the agent's stderr, an unlinked temporary file */
  pid_t pid;   /* -1 once reaped */
  int status;  /* waitpid status once reaped */
  bool closed; /* the other end went away */
  char *buf;   /* received bytes not yet returned as lines */
  size_t start, len, cap;
  char prog[128];
};

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int ms_left(double deadline) {
  double left = deadline - now_s();
  if (left <= 0) return 0;
  return left > 3600 ? 3600000 : (int)(left * 1000.0) + 1;
}

static int temp_file(void) {
  const char *dir = getenv("TMPDIR");
  char path[512];
  oc__strfmt(path, sizeof path, "%s/opcost-agent-stderr-XXXXXX", dir && dir[0] ? dir : "/tmp");
  int fd = mkostemp(path, O_CLOEXEC);
  if (fd >= 0) unlink(path);
  return fd;
}

/* The last non-empty line of what was written to fd (at most 300 bytes). */
static void last_line(int fd, char *out, size_t size) {
  out[0] = '\0';
  if (fd < 0) return;
  off_t end = lseek(fd, 0, SEEK_END);
  if (end <= 0) return;
  char tail[1024];
  off_t from = end > (off_t)sizeof tail - 1 ? end - (off_t)sizeof tail + 1 : 0;
  ssize_t got = pread(fd, tail, (size_t)(end - from), from);
  if (got <= 0) return;
  tail[got] = '\0';
  while (got > 0 && (tail[got - 1] == '\n' || tail[got - 1] == '\r')) tail[--got] = '\0';
  char *line = strrchr(tail, '\n');
  line = line ? line + 1 : tail;
  oc__strfmt(out, size, "%.300s", line);
}

static const char *base_name(const char *path) {
  const char *slash = strrchr(path, '/');
  return slash ? slash + 1 : path;
}

/* posix_spawnp with fd 0 <- in, 1 <- out, 2 <- err; SIGPIPE default in the
 * child whatever the caller ignores. */
static int spawn(pid_t *pid, char *const argv[], int in, int out, int err) {
  posix_spawn_file_actions_t fa;
  posix_spawnattr_t attr;
  int rc = posix_spawn_file_actions_init(&fa);
  if (rc != 0) return rc;
  rc = posix_spawnattr_init(&attr);
  if (rc != 0) {
    posix_spawn_file_actions_destroy(&fa);
    return rc;
  }
  sigset_t def;
  sigemptyset(&def);
  sigaddset(&def, SIGPIPE);
  posix_spawnattr_setsigdefault(&attr, &def);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF);
  posix_spawn_file_actions_adddup2(&fa, in, 0);
  posix_spawn_file_actions_adddup2(&fa, out, 1);
  posix_spawn_file_actions_adddup2(&fa, err, 2);
  rc = posix_spawnp(pid, argv[0], &fa, &attr, argv, environ);
  posix_spawnattr_destroy(&attr);
  posix_spawn_file_actions_destroy(&fa);
  return rc;
}

enum oc_status oc__remote_link_start(char *const argv[], struct oc__remote_link **out) {
  int sv[2] = {-1, -1};
  struct oc__remote_link *l = calloc(1, sizeof *l);
  if (l == NULL) return oc__fail(oc_status_out_of_memory, "out of memory for a link");
  l->fd = -1;
  l->pid = -1;
  oc__strcpy(l->prog, sizeof l->prog, base_name(argv[0]));
  l->err_fd = temp_file();
  if (l->err_fd < 0 || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
    int e = errno;
    oc__remote_link_close(l, 0);
    return oc__fail(oc_status_io_error, "cannot set up a link to '%s': %s", argv[0], strerror(e));
  }
  int rc = spawn(&l->pid, argv, sv[1], sv[1], l->err_fd);
  close(sv[1]);
  l->fd = sv[0];
  if (rc != 0) {
    l->pid = -1;
    oc__remote_link_close(l, 0);
    return oc__fail(oc_status_unavailable, "cannot start '%s': %s", argv[0], strerror(rc));
  }
  fcntl(l->fd, F_SETFL, fcntl(l->fd, F_GETFL) | O_NONBLOCK);
  *out = l;
  return oc_status_ok;
}

bool oc__remote_link_closed(const struct oc__remote_link *l) { return l == NULL || l->closed; }

pid_t oc__remote_link_pid(const struct oc__remote_link *l) { return l ? l->pid : -1; }

enum oc_status oc__remote_link_send(struct oc__remote_link *l, const char *data, size_t len,
                                    double timeout_s) {
  double deadline = now_s() + timeout_s;
  size_t done = 0;
  while (done < len) {
    if (l->closed) return oc__fail(oc_status_device_error, "the agent closed the connection");
    ssize_t n = send(l->fd, data + done, len - done, MSG_NOSIGNAL);
    if (n > 0) {
      done += (size_t)n;
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      struct pollfd p = {l->fd, POLLOUT, 0};
      int left = ms_left(deadline);
      if (left == 0 || poll(&p, 1, left) == 0)
        return oc__fail(oc_status_timeout,
                        "the agent took no input for %.1f s (%zu of %zu bytes sent)", timeout_s,
                        done, len);
      continue;
    }
    l->closed = true;
    return oc__fail(oc_status_device_error, "the agent closed the connection (%s)",
                    strerror(errno));
  }
  return oc_status_ok;
}

enum oc_status oc__remote_link_recv(struct oc__remote_link *l, double timeout_s, size_t max_len,
                                    char **line, size_t *len) {
  double deadline = now_s() + timeout_s;
  size_t scanned = 0;
  for (;;) {
    char *nl =
        l->len > scanned ? memchr(l->buf + l->start + scanned, '\n', l->len - scanned) : NULL;
    if (nl != NULL) {
      *line = l->buf + l->start;
      *len = (size_t)(nl - *line);
      *nl = '\0';
      l->start += *len + 1;
      l->len -= *len + 1;
      return oc_status_ok;
    }
    scanned = l->len;
    if (l->len > max_len) {
      l->start = l->len = 0;
      return oc__fail(oc_status_parse_error, "a reply line is longer than %zu bytes", max_len);
    }
    if (l->closed) return oc__fail(oc_status_device_error, "the agent closed the connection");
    /* Room for more: move what is left to the front, then grow. */
    if (l->start > 0) {
      memmove(l->buf, l->buf + l->start, l->len);
      l->start = 0;
    }
    if (l->cap - l->len < 65536) {
      size_t cap = l->cap ? l->cap * 2 : 131072;
      char *p = realloc(l->buf, cap);
      if (p == NULL) return oc__fail(oc_status_out_of_memory, "out of memory for a reply");
      l->buf = p;
      l->cap = cap;
    }
    ssize_t n = recv(l->fd, l->buf + l->len, l->cap - l->len - 1, 0);
    if (n > 0) {
      l->len += (size_t)n;
      continue;
    }
    if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
      l->closed = true;
      if (l->len > 0)
        return oc__fail(oc_status_device_error,
                        "the agent closed the connection in the middle of a reply (%zu bytes "
                        "without a newline)",
                        l->len);
      return oc__fail(oc_status_device_error, "the agent closed the connection");
    }
    if (errno == EINTR) continue;
    struct pollfd p = {l->fd, POLLIN, 0};
    int left = ms_left(deadline);
    if (left == 0 || poll(&p, 1, left) == 0)
      return oc__fail(oc_status_timeout, "no reply within %.1f s", timeout_s);
  }
}

/* Reaps the child if it has ended, waiting up to wait_s. */
static void reap(struct oc__remote_link *l, double wait_s) {
  double deadline = now_s() + wait_s;
  while (l->pid > 0) {
    pid_t r = waitpid(l->pid, &l->status, WNOHANG);
    if (r == l->pid || (r < 0 && errno != EINTR)) {
      l->pid = -1;
      if (r < 0) l->status = -1;
      return;
    }
    if (now_s() >= deadline) return;
    struct timespec ts = {0, 5 * 1000 * 1000};
    nanosleep(&ts, NULL);
  }
}

static void describe_status(int status, char *buf, size_t size) {
  if (status == -1)
    oc__strfmt(buf, size, "ended");
  else if (WIFEXITED(status))
    oc__strfmt(buf, size, "exited with status %d", WEXITSTATUS(status));
  else if (WIFSIGNALED(status))
    oc__strfmt(buf, size, "killed by signal %d", WTERMSIG(status));
  else
    oc__strfmt(buf, size, "ended (wait status %d)", status);
}

void oc__remote_link_ending(struct oc__remote_link *l, double wait_s, char *buf, size_t size) {
  char how[64] = "", err[320];
  buf[0] = '\0';
  if (l == NULL) return;
  reap(l, wait_s);
  if (l->pid > 0)
    oc__strcpy(how, sizeof how, "still running");
  else
    describe_status(l->status, how, sizeof how);
  last_line(l->err_fd, err, sizeof err);
  oc__strfmt(buf, size, "%s %s%s%s", l->prog, how, err[0] ? "; its stderr: " : "", err);
}

void oc__remote_link_close(struct oc__remote_link *l, double grace_s) {
  if (l == NULL) return;
  if (l->fd >= 0) shutdown(l->fd, SHUT_WR);
  if (l->pid > 0) {
    reap(l, grace_s);
    if (l->pid > 0) {
      kill(l->pid, SIGTERM);
      reap(l, 1.0);
    }
    if (l->pid > 0) {
      kill(l->pid, SIGKILL);
      reap(l, 5.0);
    }
  }
  if (l->fd >= 0) close(l->fd);
  if (l->err_fd >= 0) close(l->err_fd);
  free(l->buf);
  free(l);
}

enum oc_status oc__remote_run_command(char *const argv[], const char *stdin_path, double timeout_s,
                                      int *status, char *err, size_t err_len) {
  enum oc_status st = oc_status_ok;
  int in = open(stdin_path ? stdin_path : "/dev/null", O_RDONLY | O_CLOEXEC);
  int out = open("/dev/null", O_WRONLY | O_CLOEXEC);
  int errfd = temp_file();
  pid_t pid = -1;
  err[0] = '\0';
  *status = -1;
  if (in < 0 || out < 0 || errfd < 0) {
    st = oc__fail(oc_status_io_error, "cannot open '%s' for '%s'",
                  in < 0 && stdin_path ? stdin_path : "/dev/null or a temporary file", argv[0]);
    goto done;
  }
  int rc = spawn(&pid, argv, in, out, errfd);
  if (rc != 0) {
    st = oc__fail(oc_status_unavailable, "cannot start '%s': %s", argv[0], strerror(rc));
    goto done;
  }
  double deadline = now_s() + timeout_s;
  int wstatus = 0;
  for (;;) {
    pid_t r = waitpid(pid, &wstatus, WNOHANG);
    if (r == pid) break;
    if (r < 0 && errno != EINTR) {
      st = oc__fail(oc_status_io_error, "waiting for '%s': %s", argv[0], strerror(errno));
      goto done;
    }
    if (now_s() >= deadline) {
      kill(pid, SIGKILL);
      waitpid(pid, &wstatus, 0);
      st = oc__fail(oc_status_timeout, "'%s' did not finish within %.1f s", argv[0], timeout_s);
      goto done;
    }
    struct timespec ts = {0, 5 * 1000 * 1000};
    nanosleep(&ts, NULL);
  }
  *status = WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : -1;
  last_line(errfd, err, err_len);
done:
  if (in >= 0) close(in);
  if (out >= 0) close(out);
  if (errfd >= 0) close(errfd);
  return st;
}

/* mcu_link.c - the byte link to a board: a serial device configured with
 * termios (raw 8N1, no flow control, chosen baud rate), or QEMU started as a
 * child process with the board's first UART on one end of a socket pair.
 * Reading assembles lines with the resynchronising assembler of
 * mcu_wire.c; every wait is bounded by a timeout, and a closed link (QEMU
 * killed or crashed, the cable pulled) becomes a clear error that says how
 * it ended. Writes to a socket use MSG_NOSIGNAL: a dead QEMU never raises
 * SIGPIPE in the caller's process. */
#define _DEFAULT_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "core/core.h"
#include "targets/mcu/mcu_internal.h"

struct oc__mcu_link {
  int fd;
  bool is_socket;
  pid_t pid;     /* QEMU, or -1 */
  int err_fd;    /* QEMU's stderr (an unlinked temporary file), or -1 */
  bool closed;   /* the other end went away */
  char name[160];
  struct oc__mcu_lines lines;
  uint8_t rbuf[4096];
  size_t rpos, rlen;
};

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static enum oc_status link_new(int fd, struct oc__mcu_link **out) {
  struct oc__mcu_link *l = calloc(1, sizeof *l);
  if (l == NULL) return oc__fail(oc_status_out_of_memory, "mcu: out of memory for a link");
  l->fd = fd;
  l->pid = -1;
  l->err_fd = -1;
  oc__mcu_lines_reset(&l->lines);
  *out = l;
  return oc_status_ok;
}

static bool baud_constant(int baud, speed_t *speed) {
  static const struct {
    int baud;
    speed_t speed;
  } table[] = {{9600, B9600},     {19200, B19200},   {38400, B38400},   {57600, B57600},
               {115200, B115200}, {230400, B230400}, {460800, B460800}, {921600, B921600}};
  for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
    if (table[i].baud == baud) {
      *speed = table[i].speed;
      return true;
    }
  }
  return false;
}

enum oc_status oc__mcu_link_open_serial(const char *path, int baud, struct oc__mcu_link **link) {
  speed_t speed;
  if (!baud_constant(baud, &speed))
    return oc__fail(oc_status_invalid_argument,
                    "baud: value '%d' is not one of 9600 19200 38400 57600 115200 230400 "
                    "460800 921600",
                    baud);
  int fd = open(path, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0)
    return oc__fail(oc_status_io_error, "serial port '%s': %s", path, strerror(errno));
  struct termios tio;
  if (tcgetattr(fd, &tio) != 0) {
    int e = errno;
    close(fd);
    return oc__fail(oc_status_io_error, "serial port '%s' is not a terminal device: %s", path,
                    strerror(e));
  }
  tio.c_iflag &= ~(tcflag_t)(IGNBRK | BRKINT | PARMRK | ISTRIP | INLCR | IGNCR | ICRNL | IXON |
                             IXOFF | IXANY);
  tio.c_oflag &= ~(tcflag_t)OPOST;
  tio.c_lflag &= ~(tcflag_t)(ECHO | ECHONL | ICANON | ISIG | IEXTEN);
  tio.c_cflag &= ~(tcflag_t)(CSIZE | PARENB | CSTOPB | CRTSCTS);
  tio.c_cflag |= CS8 | CREAD | CLOCAL;
  tio.c_cc[VMIN] = 0;
  tio.c_cc[VTIME] = 0;
  if (cfsetispeed(&tio, speed) != 0 || cfsetospeed(&tio, speed) != 0 ||
      tcsetattr(fd, TCSANOW, &tio) != 0) {
    int e = errno;
    close(fd);
    return oc__fail(oc_status_io_error, "serial port '%s': cannot set %d baud 8N1: %s", path, baud,
                    strerror(e));
  }
  tcflush(fd, TCIOFLUSH);
  struct oc__mcu_link *l = NULL;
  enum oc_status st = link_new(fd, &l);
  if (st != oc_status_ok) {
    close(fd);
    return st;
  }
  oc__strfmt(l->name, sizeof l->name, "%s at %d baud", path, baud);
  *link = l;
  return oc_status_ok;
}

enum oc_status oc__mcu_link_open_fd(int fd, struct oc__mcu_link **link) {
  struct stat sb;
  if (fstat(fd, &sb) != 0) return oc__fail(oc_status_io_error, "mcu: descriptor %d: %s", fd, strerror(errno));
  int flags = fcntl(fd, F_GETFL);
  if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) != 0)
    return oc__fail(oc_status_io_error, "mcu: descriptor %d: %s", fd, strerror(errno));
  struct oc__mcu_link *l = NULL;
  enum oc_status st = link_new(fd, &l);
  if (st != oc_status_ok) return st;
  l->is_socket = S_ISSOCK(sb.st_mode);
  oc__strfmt(l->name, sizeof l->name, "descriptor %d", fd);
  *link = l;
  return oc_status_ok;
}

static int temp_file(void) {
  const char *dir = getenv("TMPDIR");
  char path[512];
  oc__strfmt(path, sizeof path, "%s/opcost-qemu-XXXXXX", dir && dir[0] ? dir : "/tmp");
  int fd = mkstemp(path);
  if (fd >= 0) unlink(path);
  return fd;
}

enum oc_status oc__mcu_link_open_qemu(const char *qemu_bin, const char *machine,
                                      const char *firmware, int icount_shift,
                                      struct oc__mcu_link **link) {
  enum oc_status st = oc_status_ok;
  int sv[2] = {-1, -1};
  int err_fd = -1;
  struct oc__mcu_link *l = NULL;
  char icount[96];
  oc__strfmt(icount, sizeof icount, "shift=%d,align=off,sleep=off", icount_shift);

  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
    st = oc__fail(oc_status_io_error, "mcu: socketpair: %s", strerror(errno));
    goto cleanup;
  }
  err_fd = temp_file();
  if (err_fd < 0) {
    st = oc__fail(oc_status_io_error, "mcu: temporary file for QEMU's messages: %s",
                  strerror(errno));
    goto cleanup;
  }
  char *argv[] = {(char *)qemu_bin, "-M", (char *)machine, "-nodefaults", "-display", "none",
                  "-monitor", "none", "-serial", "stdio", "-kernel", (char *)firmware,
                  "-icount", icount, "-no-reboot", NULL};
  pid_t parent = getpid();
  pid_t pid = fork();
  if (pid < 0) {
    st = oc__fail(oc_status_unavailable, "mcu: cannot start '%s': fork: %s", qemu_bin,
                  strerror(errno));
    goto cleanup;
  }
  if (pid == 0) {
    /* Child: only async-signal-safe calls until exec. QEMU must not outlive
     * the process that drives it (a crashed or killed host would otherwise
     * leave an emulator spinning). */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127);
    if (dup2(sv[1], 0) < 0 || dup2(sv[1], 1) < 0 || dup2(err_fd, 2) < 0) _exit(127);
    execv(qemu_bin, argv);
    _exit(127);
  }
  close(sv[1]);
  sv[1] = -1;
  st = link_new(sv[0], &l);
  if (st != oc_status_ok) {
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    goto cleanup;
  }
  fcntl(sv[0], F_SETFL, fcntl(sv[0], F_GETFL) | O_NONBLOCK);
  sv[0] = -1;
  l->is_socket = true;
  l->pid = pid;
  l->err_fd = err_fd;
  err_fd = -1;
  oc__strfmt(l->name, sizeof l->name, "QEMU %s (pid %d)", machine, (int)pid);
  *link = l;

cleanup:
  if (sv[0] >= 0) close(sv[0]);
  if (sv[1] >= 0) close(sv[1]);
  if (err_fd >= 0) close(err_fd);
  return st;
}

/* Last line QEMU wrote to its stderr, for error messages. */
static void qemu_message(const struct oc__mcu_link *l, char *out, size_t size) {
  out[0] = '\0';
  if (l->err_fd < 0) return;
  char buf[1024];
  off_t end = lseek(l->err_fd, 0, SEEK_END);
  off_t start = end > (off_t)sizeof buf - 1 ? end - (off_t)sizeof buf + 1 : 0;
  ssize_t n = pread(l->err_fd, buf, sizeof buf - 1, start);
  if (n <= 0) return;
  buf[n] = '\0';
  while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r')) buf[--n] = '\0';
  char *last = strrchr(buf, '\n');
  /* Skip QEMU's harmless warnings about the board's network card. */
  oc__strcpy(out, size, last ? last + 1 : buf);
  if (strstr(out, "has no peer") != NULL) out[0] = '\0';
}

/* The link ended: say how. */
static enum oc_status link_lost(struct oc__mcu_link *l, const char *during) {
  l->closed = true;
  if (l->pid <= 0)
    return oc__fail(oc_status_device_error, "mcu: %s closed %s", l->name, during);
  int status = 0;
  pid_t got = 0;
  for (int i = 0; i < 100 && got == 0; i++) {
    got = waitpid(l->pid, &status, WNOHANG);
    if (got == 0) {
      struct timespec ts = {0, 10 * 1000 * 1000};
      nanosleep(&ts, NULL);
    }
  }
  char msg[256];
  qemu_message(l, msg, sizeof msg);
  char how[96] = "closed its serial port";
  if (got == l->pid) {
    l->pid = -1;
    if (WIFSIGNALED(status))
      oc__strfmt(how, sizeof how, "was killed by signal %d", WTERMSIG(status));
    else if (WIFEXITED(status))
      oc__strfmt(how, sizeof how, "exited with status %d", WEXITSTATUS(status));
  }
  return oc__fail(oc_status_device_error, "mcu: %s %s %s%s%s", l->name, how, during,
                  msg[0] ? ": " : "", msg);
}

enum oc_status oc__mcu_link_write(struct oc__mcu_link *l, const void *data, size_t len) {
  const uint8_t *p = data;
  int64_t deadline = now_ms() + OC__MCU_TIMEOUT_MS;
  if (l->closed) return oc__fail(oc_status_device_error, "mcu: %s is closed", l->name);
  while (len > 0) {
    ssize_t n = l->is_socket ? send(l->fd, p, len, MSG_NOSIGNAL) : write(l->fd, p, len);
    if (n > 0) {
      p += n;
      len -= (size_t)n;
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      int64_t left = deadline - now_ms();
      if (left <= 0)
        return oc__fail(oc_status_timeout, "mcu: %s accepted no data for %d ms", l->name,
                        OC__MCU_TIMEOUT_MS);
      struct pollfd pfd = {l->fd, POLLOUT, 0};
      poll(&pfd, 1, (int)left);
      continue;
    }
    if (n < 0 && (errno == EPIPE || errno == ECONNRESET || errno == EIO))
      return link_lost(l, "while the host was writing");
    return oc__fail(oc_status_io_error, "mcu: writing to %s: %s", l->name,
                    n < 0 ? strerror(errno) : "nothing written");
  }
  return oc_status_ok;
}

enum oc_status oc__mcu_link_read_line(struct oc__mcu_link *l, int timeout_ms, char *line,
                                      size_t size, int *garbage) {
  int64_t deadline = now_ms() + timeout_ms;
  if (l->closed) return oc__fail(oc_status_device_error, "mcu: %s is closed", l->name);
  for (;;) {
    while (l->rpos < l->rlen) {
      enum oc__mcu_feed f = oc__mcu_lines_feed(&l->lines, l->rbuf[l->rpos++]);
      if (f == oc__mcu_feed_garbage && garbage) (*garbage)++;
      if (f == oc__mcu_feed_line) {
        oc__strcpy(line, size, l->lines.buf);
        return oc_status_ok;
      }
    }
    int64_t left = deadline - now_ms();
    if (left <= 0)
      return oc__fail(oc_status_timeout, "mcu: no reply from %s within %d ms", l->name,
                      timeout_ms);
    struct pollfd pfd = {l->fd, POLLIN, 0};
    int rc = poll(&pfd, 1, (int)left);
    if (rc < 0 && errno == EINTR) continue;
    if (rc < 0) return oc__fail(oc_status_io_error, "mcu: poll on %s: %s", l->name, strerror(errno));
    if (rc == 0) continue;
    ssize_t n = read(l->fd, l->rbuf, sizeof l->rbuf);
    if (n > 0) {
      l->rpos = 0;
      l->rlen = (size_t)n;
      continue;
    }
    if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)) continue;
    if (n == 0 || errno == EIO || errno == ECONNRESET) return link_lost(l, "while the host waited for a reply");
    return oc__fail(oc_status_io_error, "mcu: reading from %s: %s", l->name, strerror(errno));
  }
}

pid_t oc__mcu_link_pid(const struct oc__mcu_link *l) { return l->pid; }

const char *oc__mcu_link_name(const struct oc__mcu_link *l) { return l->name; }

void oc__mcu_link_close(struct oc__mcu_link *l) {
  if (l == NULL) return;
  if (l->fd >= 0) close(l->fd); /* QEMU sees end of input */
  if (l->pid > 0) {
    kill(l->pid, SIGTERM);
    pid_t got = 0;
    for (int i = 0; i < 200 && got == 0; i++) {
      got = waitpid(l->pid, NULL, WNOHANG);
      if (got == 0) {
        struct timespec ts = {0, 5 * 1000 * 1000};
        nanosleep(&ts, NULL);
      }
    }
    if (got == 0) {
      kill(l->pid, SIGKILL);
      waitpid(l->pid, NULL, 0);
    }
  }
  if (l->err_fd >= 0) close(l->err_fd);
  free(l);
}

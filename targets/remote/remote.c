/* remote.c - the `remote` backend: ops run by an opcost agent on another
 * machine (ssh), a phone or board (adb), or behind any wrapper command
 * (exec=, e.g. qemu-aarch64), spoken to in JSON Lines (docs/remote.md).
 *
 * The vtable maps one to one onto agent requests: prepare sends the op key
 * and the tensors (base64), run and read_output run the kernel there and
 * fetch its output, time_runs returns times taken by the agent with the
 * device's own CLOCK_MONOTONIC_RAW around each run (so the probe harness
 * uses them as a device timer and the pipe's latency never enters a
 * sample), describe returns the device's description, not this host's.
 * prepare_net sends a whole network as its opcost-net/1 JSON (oc_net_to_json)
 * with its hash and input; the agent loads it with the same net code, seeds
 * its weights there (OC_NET_PARAM_SEED, as every runner does) and returns a
 * kernel id that run, read, time and release take like an op's.
 *
 * Connections: the agent is started on open, after the transport is known
 * to work; when it is missing, or its build differs from the bundle given in
 * push=, the bundle is pushed (file by file, each written under a temporary
 * name and renamed) and the agent started again. A connection that drops
 * (agent crashed, ssh or adb lost) is re-opened, the open target and every
 * live kernel prepared again from the caller's buffers, and the request that
 * was in flight is sent again, at most `retries` times in a row; results
 * already returned stay with the caller. A timeout, a reply that is not
 * JSON or answers another request, or an incompatible agent is an error
 * naming the transport and the request id, never retried blindly. */
#define _GNU_SOURCE
#include <dirent.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "agent/agent.h"
#include "core/core.h"
#include "opcost/net.h"
#include "opcost/probe.h"
#include "targets/remote/remote_internal.h"
#include "targets/targets_internal.h"

/* Longest reply line accepted: an output of 256 M floats in base64. */
#define MAX_REPLY ((size_t)1 << 30)
/* Wait for the agent to end after a bye or a lost connection. */
#define GRACE_S 2.0

struct remote_kernel {
  struct remote_kernel *next;
  struct oc_op op;
  char key[OC_KEY_MAX];      /* names it in messages: the op key, or "network NAME" */
  const struct oc_net *net;  /* a network kernel: the caller's (outlives it); else NULL */
  char *net_text;            /* its opcost-net/1 JSON, sent again after a reconnect */
  struct oc_tensors tensors; /* the caller's buffers (valid until release); a
                                network's input is input[0] */
  bool have_tensors;
  int64_t id;        /* the agent's kernel id in the current connection */
  bool ran;          /* run at least once */
  int64_t run_epoch; /* connection it last ran in: its output lives there */
  size_t output_bytes;
};

struct remote_state {
  struct oc__remote_spec spec;
  struct oc_target_opts opts;
  struct oc__remote_link *link;
  int64_t next_id;      /* of the next request; never reused within an open */
  bool dropped;         /* the last failure was a lost connection */
  bool pushed;          /* pushed during this open */
  char local_build[17]; /* build id of push/opcost-agent; "" without push= */
  char loader[256];     /* dynamic loader inside the bundle's lib/, "" if none */
  int reconnects;
  int64_t epoch; /* connections made so far */
  bool have_info;
  struct oc_device_info info;
  char agent_version[32];
  char agent_net_format[32]; /* the network format the agent reads */
  char emulated[256];
  struct remote_kernel *kernels;
};

/* ---- requests ------------------------------------------------------------ */

static enum oc_status status_from_name(const char *name) {
  for (int i = 0; name != NULL && i < oc_status__count; i++) {
    if (strcmp(oc_status_name((enum oc_status)i), name) == 0) return (enum oc_status)i;
  }
  return oc_status_device_error;
}

static void drop_link(struct remote_state *s) {
  oc__remote_link_close(s->link, 0.2);
  s->link = NULL;
}

/* Fails request `id` with the link's message, naming the transport, and
 * what became of the agent when the connection is gone. */
static enum oc_status link_failure(struct remote_state *s, enum oc_status st, int64_t id,
                                   const char *what) {
  char msg[512], ending[512] = "";
  oc__strcpy(msg, sizeof msg, oc_errmsg());
  if (oc__remote_link_closed(s->link)) {
    s->dropped = true;
    oc__remote_link_ending(s->link, 0.5, ending, sizeof ending);
  }
  drop_link(s); /* a timed-out agent is stopped: its late reply must not be taken for the next */
  return oc__fail(st, "%s: request %lld (%s): %s%s%s", s->spec.label, (long long)id, what, msg,
                  ending[0] ? ": " : "", ending);
}

/* Sends req (an object; "id" is set here) and reads its reply. */
static enum oc_status exchange(struct remote_state *s, json_t *req, const char *what,
                               json_t **reply) {
  int64_t id = s->next_id++;
  json_object_set_new(req, "id", json_integer((json_int_t)id));
  char *text = json_dumps(req, JSON_COMPACT);
  if (text == NULL)
    return oc__fail(oc_status_out_of_memory, "%s: request %lld (%s): out of memory", s->spec.label,
                    (long long)id, what);
  size_t n = strlen(text);
  char *line = realloc(text, n + 2);
  if (line == NULL) {
    free(text);
    return oc__fail(oc_status_out_of_memory, "%s: request %lld (%s): out of memory", s->spec.label,
                    (long long)id, what);
  }
  line[n] = '\n';
  line[n + 1] = '\0';
  enum oc_status st = oc__remote_link_send(s->link, line, n + 1, s->spec.timeout_s);
  free(line);
  if (st != oc_status_ok) return link_failure(s, st, id, what);
  char *got = NULL;
  size_t got_len = 0;
  st = oc__remote_link_recv(s->link, s->spec.timeout_s, MAX_REPLY, &got, &got_len);
  if (st != oc_status_ok) return link_failure(s, st, id, what);
  json_error_t jerr;
  json_t *r = json_loadb(got, got_len, 0, &jerr);
  if (r == NULL || !json_is_object(r)) {
    json_decref(r);
    st = oc__fail(oc_status_parse_error,
                  "%s: request %lld (%s): the reply is not a JSON object: '%.80s'%s", s->spec.label,
                  (long long)id, what, got, got_len > 80 ? "..." : "");
    drop_link(s); /* the stream cannot be trusted past garbage */
    return st;
  }
  const json_t *rid = json_object_get(r, "id");
  if (!json_is_integer(rid) || json_integer_value(rid) != id) {
    char *shown = json_dumps(rid ? rid : json_null(), JSON_ENCODE_ANY);
    st = oc__fail(oc_status_parse_error, "%s: request %lld (%s): the reply carries id %s",
                  s->spec.label, (long long)id, what, shown ? shown : "?");
    free(shown);
    json_decref(r);
    drop_link(s);
    return st;
  }
  const json_t *err = json_object_get(r, "error");
  if (err != NULL) {
    const char *status = json_string_value(json_object_get(r, "status"));
    st = oc__fail(status_from_name(status), "%s: request %lld (%s): the agent says: %s",
                  s->spec.label, (long long)id, what,
                  json_is_string(err) ? json_string_value(err) : "(no message)");
    json_decref(r);
    return st;
  }
  *reply = r;
  return oc_status_ok;
}

/* ---- starting the agent, pushing it ------------------------------------- */

/* argv of the command that starts the agent; words live in storage. */
static enum oc_status agent_argv(struct remote_state *s, char *storage, size_t size, char **argv) {
  const struct oc__remote_spec *sp = &s->spec;
  if (sp->transport == oc__remote_exec) {
    memcpy(argv, sp->exec_argv, sizeof sp->exec_argv);
    return oc_status_ok;
  }
  /* The device's shell gets one string: every word quoted. */
  char cmd[4096] = "", path[1024];
  bool ok = true;
  if (sp->agent[0]) {
    ok = oc__remote_shell_append(cmd, sizeof cmd, sp->agent);
  } else if (sp->push[0]) {
    if (s->loader[0]) {
      oc__strfmt(path, sizeof path, "%s/lib/%s", sp->dir, s->loader);
      ok = oc__remote_shell_append(cmd, sizeof cmd, path) &&
           oc__remote_shell_append(cmd, sizeof cmd, "--library-path");
      oc__strfmt(path, sizeof path, "%s/lib", sp->dir);
      ok = ok && oc__remote_shell_append(cmd, sizeof cmd, path);
    }
    oc__strfmt(path, sizeof path, "%s/%s", sp->dir, OC__AGENT_NAME);
    ok = ok && oc__remote_shell_append(cmd, sizeof cmd, path);
  } else {
    ok = oc__remote_shell_append(cmd, sizeof cmd, OC__AGENT_NAME);
  }
  if (!ok)
    return oc__fail(oc_status_invalid_argument, "%s: the agent's command is too long", sp->label);
  size_t used = 0;
  int n = 0;
  const char *words[8];
  if (sp->transport == oc__remote_ssh) {
    const char *w[] = {sp->ssh_bin, "-T", "-o", "BatchMode=yes", "--", sp->dest, cmd};
    for (size_t i = 0; i < sizeof w / sizeof w[0]; i++) words[n++] = w[i];
  } else {
    const char *w[] = {sp->adb_bin, "-s", sp->dest, "shell", cmd};
    for (size_t i = 0; i < sizeof w / sizeof w[0]; i++) words[n++] = w[i];
  }
  for (int i = 0; i < n; i++) {
    size_t len = strlen(words[i]) + 1;
    if (used + len > size)
      return oc__fail(oc_status_invalid_argument, "%s: command too long", sp->label);
    memcpy(storage + used, words[i], len);
    argv[i] = storage + used;
    used += len;
  }
  argv[n] = NULL;
  return oc_status_ok;
}

/* Runs one push step, failing with its command and stderr. */
static enum oc_status push_step(struct remote_state *s, char **argv, const char *stdin_path) {
  int status = -1;
  char err[320];
  enum oc_status st =
      oc__remote_run_command(argv, stdin_path, s->spec.timeout_s, &status, err, sizeof err);
  if (st != oc_status_ok) return oc__fail_prefix(st, "%s: pushing the agent: ", s->spec.label);
  if (status != 0)
    return oc__fail(oc_status_io_error, "%s: pushing the agent: '%s %s' %s %d%s%s", s->spec.label,
                    argv[0], argv[1] ? argv[1] : "",
                    status < 0 ? "was killed" : "exited with status", status, err[0] ? ": " : "",
                    err);
  return oc_status_ok;
}

/* Copies local file `rel` of the bundle to dir/rel on the device: written
 * as rel.part, made executable, renamed, so a broken push leaves no
 * half-written agent behind. */
static enum oc_status push_file(struct remote_state *s, const char *rel) {
  const struct oc__remote_spec *sp = &s->spec;
  char local[1536], dest[1024], part[1100], libdir[600], script[4096] = "";
  oc__strfmt(local, sizeof local, "%s/%s", sp->push, rel);
  oc__strfmt(dest, sizeof dest, "%s/%s", sp->dir, rel);
  oc__strfmt(part, sizeof part, "%s.part", dest);
  oc__strfmt(libdir, sizeof libdir, "%s/lib", sp->dir);
  if (sp->transport == oc__remote_ssh) {
    bool ok = oc__remote_shell_append(script, sizeof script, "mkdir") &&
              oc__remote_shell_append(script, sizeof script, "-p") &&
              oc__remote_shell_append(script, sizeof script, libdir);
    oc__strfmt(script + strlen(script), sizeof script - strlen(script), " && cat >");
    ok = ok && oc__remote_shell_append(script, sizeof script, part);
    oc__strfmt(script + strlen(script), sizeof script - strlen(script), " && chmod 755");
    ok = ok && oc__remote_shell_append(script, sizeof script, part);
    oc__strfmt(script + strlen(script), sizeof script - strlen(script), " && mv -f");
    ok = ok && oc__remote_shell_append(script, sizeof script, part) &&
         oc__remote_shell_append(script, sizeof script, dest);
    if (!ok) return oc__fail(oc_status_invalid_argument, "%s: push paths too long", sp->label);
    char *argv[] = {(char *)sp->ssh_bin, "-T",   "-o", "BatchMode=yes", "--",
                    (char *)sp->dest,    script, NULL};
    return push_step(s, argv, local);
  }
  /* adb: mkdir, push (adb sends the path as is, no shell), chmod + rename. */
  bool ok = oc__remote_shell_append(script, sizeof script, "mkdir") &&
            oc__remote_shell_append(script, sizeof script, "-p") &&
            oc__remote_shell_append(script, sizeof script, libdir);
  if (!ok) return oc__fail(oc_status_invalid_argument, "%s: push paths too long", sp->label);
  char *mk[] = {(char *)sp->adb_bin, "-s", (char *)sp->dest, "shell", script, NULL};
  enum oc_status st = push_step(s, mk, NULL);
  if (st != oc_status_ok) return st;
  char *cp[] = {(char *)sp->adb_bin, "-s", (char *)sp->dest, "push", local, part, NULL};
  st = push_step(s, cp, NULL);
  if (st != oc_status_ok) return st;
  script[0] = '\0';
  ok = oc__remote_shell_append(script, sizeof script, "chmod") &&
       oc__remote_shell_append(script, sizeof script, "755") &&
       oc__remote_shell_append(script, sizeof script, part);
  oc__strfmt(script + strlen(script), sizeof script - strlen(script), " && mv -f");
  ok = ok && oc__remote_shell_append(script, sizeof script, part) &&
       oc__remote_shell_append(script, sizeof script, dest);
  if (!ok) return oc__fail(oc_status_invalid_argument, "%s: push paths too long", sp->label);
  char *mv[] = {(char *)sp->adb_bin, "-s", (char *)sp->dest, "shell", script, NULL};
  return push_step(s, mv, NULL);
}

/* The bundle: every file of lib/, then the agent last. */
static enum oc_status push_bundle(struct remote_state *s) {
  char libdir[1100];
  oc__strfmt(libdir, sizeof libdir, "%s/lib", s->spec.push);
  DIR *d = opendir(libdir);
  if (d != NULL) {
    struct dirent *e;
    enum oc_status st = oc_status_ok;
    while (st == oc_status_ok && (e = readdir(d)) != NULL) {
      char path[1400], rel[300];
      struct stat sb;
      oc__strfmt(path, sizeof path, "%s/%s", libdir, e->d_name);
      if (e->d_name[0] == '.' || stat(path, &sb) != 0 || !S_ISREG(sb.st_mode)) continue;
      oc__strfmt(rel, sizeof rel, "lib/%s", e->d_name);
      st = push_file(s, rel);
    }
    closedir(d);
    if (st != oc_status_ok) return st;
  }
  enum oc_status st = push_file(s, OC__AGENT_NAME);
  if (st == oc_status_ok) s->pushed = true;
  return st;
}

static enum oc_status start_and_hello(struct remote_state *s, json_t **hello) {
  char storage[8192];
  char *argv[OC__REMOTE_MAX_ARGS + 1];
  enum oc_status st = agent_argv(s, storage, sizeof storage, argv);
  if (st != oc_status_ok) return st;
  st = oc__remote_link_start(argv, &s->link);
  if (st != oc_status_ok) return oc__fail_prefix(st, "%s: ", s->spec.label);
  json_t *req = json_pack("{s:s}", "cmd", "hello");
  if (req == NULL) return oc__fail(oc_status_out_of_memory, "out of memory");
  st = exchange(s, req, "hello", hello);
  json_decref(req);
  return st;
}

/* Starts the agent, pushing it first when it is missing or outdated, and
 * checks that it speaks this protocol. */
static enum oc_status start_agent(struct remote_state *s) {
  json_t *hello = NULL;
  enum oc_status st = start_and_hello(s, &hello);
  bool can_push = s->spec.push[0] && !s->pushed;
  if (st != oc_status_ok && s->dropped && can_push) {
    /* Missing, or cannot run there: install it and try once more. */
    drop_link(s);
    st = push_bundle(s);
    if (st == oc_status_ok) st = start_and_hello(s, &hello);
  } else if (st != oc_status_ok && s->dropped) {
    char msg[1024];
    oc__strcpy(msg, sizeof msg, oc_errmsg());
    return oc__fail(st, "%s%s", msg,
                    s->spec.transport == oc__remote_exec
                        ? ""
                        : " (is the agent installed there? push=BUNDLE_DIR installs it)");
  }
  if (st != oc_status_ok) return st;
  const char *build = json_string_value(json_object_get(hello, "build"));
  if (can_push && !s->pushed && (build == NULL || strcmp(build, s->local_build) != 0)) {
    json_decref(hello);
    hello = NULL;
    drop_link(s);
    st = push_bundle(s);
    if (st == oc_status_ok) st = start_and_hello(s, &hello);
    if (st != oc_status_ok) return st;
    build = json_string_value(json_object_get(hello, "build"));
    if (build == NULL || strcmp(build, s->local_build) != 0) {
      st = oc__fail(oc_status_incompatible,
                    "%s: the agent reports build %s after pushing build %s: is agent= or dir= "
                    "pointing elsewhere?",
                    s->spec.label, build ? build : "(none)", s->local_build);
      goto done;
    }
  }
  const char *name = json_string_value(json_object_get(hello, "agent"));
  const json_t *proto = json_object_get(hello, "protocol");
  const char *endian = json_string_value(json_object_get(hello, "endian"));
  if (name == NULL || strcmp(name, OC__AGENT_NAME) != 0 || !json_is_integer(proto)) {
    st = oc__fail(oc_status_incompatible, "%s: the program answering is not %s", s->spec.label,
                  OC__AGENT_NAME);
  } else if (json_integer_value(proto) != OC__AGENT_PROTOCOL) {
    st = oc__fail(
        oc_status_incompatible, "%s: the agent speaks protocol %lld, this opcost speaks %d%s",
        s->spec.label, (long long)json_integer_value(proto), OC__AGENT_PROTOCOL,
        s->spec.transport == oc__remote_exec ? " (rebuild it)" : " (push=BUNDLE_DIR updates it)");
  } else if (endian == NULL || strcmp(endian, "little") != 0) {
    st = oc__fail(oc_status_incompatible,
                  "%s: the device is %s-endian; tensors travel as little-endian bytes",
                  s->spec.label, endian ? endian : "of unknown");
  } else {
    oc__strcpy(s->agent_version, sizeof s->agent_version,
               json_string_value(json_object_get(hello, "version")));
    const char *emu = json_string_value(json_object_get(hello, "emulated"));
    oc__strcpy(s->emulated, sizeof s->emulated, emu ? emu : "");
    const char *fmt = json_string_value(json_object_get(hello, "net_format"));
    oc__strcpy(s->agent_net_format, sizeof s->agent_net_format, fmt ? fmt : "");
  }
done:
  json_decref(hello);
  if (st != oc_status_ok) drop_link(s);
  return st;
}

static enum oc_status send_prepare(struct remote_state *s, struct remote_kernel *k);

/* A working connection: agent started, target opened, the device described
 * (first time), live kernels prepared again (after a drop). */
static enum oc_status connect_agent(struct remote_state *s) {
  enum oc_status st = start_agent(s);
  if (st != oc_status_ok) return st;
  s->epoch++;
  json_t *req = json_pack("{s:s, s:s, s:i}", "cmd", "open", "target", s->spec.target, "threads",
                          s->opts.threads > 0 ? s->opts.threads : 1);
  json_t *reply = NULL;
  if (req == NULL) return oc__fail(oc_status_out_of_memory, "out of memory");
  if (s->spec.cluster[0]) json_object_set_new(req, "cluster", json_string(s->spec.cluster));
  if (s->opts.n_cores > 0) {
    json_t *cores = json_array();
    for (int i = 0; i < s->opts.n_cores; i++)
      json_array_append_new(cores, json_integer(s->opts.cores[i]));
    json_object_set_new(req, "cores", cores);
  }
  st = exchange(s, req, "open", &reply);
  json_decref(req);
  json_decref(reply);
  if (st != oc_status_ok) return st;
  if (!s->have_info) {
    req = json_pack("{s:s}", "cmd", "describe");
    reply = NULL;
    st = req ? exchange(s, req, "describe", &reply)
             : oc__fail(oc_status_out_of_memory, "out of memory");
    json_decref(req);
    if (st == oc_status_ok) {
      char where[400];
      oc__strfmt(where, sizeof where, "%s: describe reply", s->spec.label);
      st = oc_probe_device_info_from_json(json_object_get(reply, "device"), where, &s->info);
    }
    json_decref(reply);
    if (st != oc_status_ok) return st;
    s->have_info = true;
  }
  for (struct remote_kernel *k = s->kernels; k != NULL && st == oc_status_ok; k = k->next)
    st = send_prepare(s, k);
  return st;
}

/* The last failure, saying how many reconnects were tried before it. */
static enum oc_status gave_up(enum oc_status st, int attempts) {
  if (attempts == 0) return st;
  char msg[1024];
  oc__strcpy(msg, sizeof msg, oc_errmsg());
  return oc__fail(st, "%s (gave up after %d reconnect%s)", msg, attempts, attempts == 1 ? "" : "s");
}

/* Sends req (NULL: only make sure the agent is connected), re-opening a
 * dropped connection up to `retries` times in a row. */
static enum oc_status request(struct remote_state *s, json_t *req, const char *what,
                              json_t **reply) {
  enum oc_status st = oc_status_ok;
  for (int attempt = 0;; attempt++) {
    s->dropped = false;
    st = s->link == NULL ? connect_agent(s) : oc_status_ok;
    if (st == oc_status_ok && req != NULL) st = exchange(s, req, what, reply);
    if (st == oc_status_ok) return st;
    if (!s->dropped) return st;
    if (attempt >= s->spec.retries) return gave_up(st, attempt);
    drop_link(s);
    s->reconnects++;
  }
}

/* ---- the vtable ------------------------------------------------------------- */

static enum oc_status remote_probe(char *why, size_t why_len) {
  /* Starting a process is always possible; whether the device answers is
   * found out by open. */
  if (why_len > 0) why[0] = '\0';
  return oc_status_ok;
}

static void remote_close(void *opaque) {
  struct remote_state *s = opaque;
  if (s == NULL) return;
  if (s->link != NULL && !oc__remote_link_closed(s->link)) {
    json_t *req = json_pack("{s:s}", "cmd", "bye"), *reply = NULL;
    double saved = s->spec.timeout_s;
    s->spec.timeout_s = GRACE_S;
    if (req != NULL && exchange(s, req, "bye", &reply) == oc_status_ok) json_decref(reply);
    s->spec.timeout_s = saved;
    json_decref(req);
  }
  oc__remote_link_close(s->link, GRACE_S);
  while (s->kernels) {
    struct remote_kernel *next = s->kernels->next;
    free(s->kernels->net_text);
    free(s->kernels);
    s->kernels = next;
  }
  free(s);
}

static enum oc_status remote_open(const char *args, const struct oc_target_opts *opts, void **out) {
  struct remote_state *s = calloc(1, sizeof *s);
  if (s == NULL) return oc__fail(oc_status_out_of_memory, "out of memory for the remote target");
  enum oc_status st = oc__remote_parse_spec(args, &s->spec);
  if (st != oc_status_ok) goto fail;
  if (opts) s->opts = *opts;
  s->next_id = 1;
  if (s->spec.push[0]) {
    char agent[1100];
    oc__strfmt(agent, sizeof agent, "%s/%s", s->spec.push, OC__AGENT_NAME);
    st = oc__agent_build_id(agent, s->local_build);
    if (st != oc_status_ok) {
      st = oc__fail(st, "push: '%s' is not an agent bundle (no readable %s)", s->spec.push, agent);
      goto fail;
    }
    char libdir[1100];
    oc__strfmt(libdir, sizeof libdir, "%s/lib", s->spec.push);
    DIR *d = opendir(libdir);
    if (d != NULL) {
      struct dirent *e;
      while ((e = readdir(d)) != NULL) {
        if (strncmp(e->d_name, "ld-", 3) == 0 && strstr(e->d_name, ".so") != NULL)
          oc__strcpy(s->loader, sizeof s->loader, e->d_name);
      }
      closedir(d);
    }
  }
  st = request(s, NULL, "open", NULL);
  if (st != oc_status_ok) goto fail;
  *out = s;
  return oc_status_ok;
fail:
  remote_close(s);
  return st;
}

static enum oc_status remote_describe(void *opaque, struct oc_device_info *info) {
  struct remote_state *s = opaque;
  *info = s->info;
  if (s->spec.emulated[0] && !s->emulated[0]) {
    /* The agent did not notice; the command says QEMU: label it here. */
    char name[sizeof info->name];
    oc__strcpy(name, sizeof name, info->name);
    oc__strfmt(info->name, sizeof info->name, "emulated by %s: %s", s->spec.emulated, name);
  }
  char runtime[sizeof info->runtime];
  oc__strcpy(runtime, sizeof runtime, info->runtime);
  oc__strfmt(info->runtime, sizeof info->runtime, "%s via %s", runtime, OC__AGENT_NAME);
  info->threads = s->opts.threads > 0 ? s->opts.threads : 1;
  return oc_status_ok;
}

static bool remote_supports(void *opaque, const struct oc_op *op, char *why, size_t why_len) {
  struct remote_state *s = opaque;
  char key[OC_KEY_MAX], what[OC_KEY_MAX + 16];
  if (oc_op_format(op, key, sizeof key) != oc_status_ok) {
    oc__strfmt(why, why_len, "%s", oc_errmsg());
    return false;
  }
  oc__strfmt(what, sizeof what, "supports '%s'", key);
  json_t *req = json_pack("{s:s, s:s}", "cmd", "supports", "op", key), *reply = NULL;
  enum oc_status st = req ? request(s, req, what, &reply) : oc_status_out_of_memory;
  json_decref(req);
  if (st != oc_status_ok) {
    oc__strfmt(why, why_len, "%s", st == oc_status_out_of_memory ? "out of memory" : oc_errmsg());
    return false;
  }
  bool yes = json_is_true(json_object_get(reply, "supported"));
  const char *because = json_string_value(json_object_get(reply, "why"));
  if (!yes) oc__strfmt(why, why_len, "on the device: %s", because ? because : "unsupported");
  json_decref(reply);
  return yes;
}

static json_t *b64_json(const void *data, size_t bytes) {
  char *text = malloc(oc__b64_encoded_len(bytes) + 1);
  if (text == NULL) return NULL;
  oc__b64_encode(data, bytes, text);
  json_t *v = json_stringn_nocheck(text, oc__b64_encoded_len(bytes));
  free(text);
  return v;
}

static enum oc_status send_prepare_net(struct remote_state *s, struct remote_kernel *k);

/* The prepare request of k, with its tensors; updates k->id. A bias the
 * caller left NULL counts as zeros (ref's rule), so zeros are sent. A
 * network kernel sends prepare_net instead. */
static enum oc_status send_prepare(struct remote_state *s, struct remote_kernel *k) {
  if (k->net != NULL) return send_prepare_net(s, k);
  struct oc_op_shapes sh;
  enum oc_status st = oc_op_shapes(&k->op, &sh);
  if (st != oc_status_ok) return st;
  size_t esize = oc_dtype_size(k->op.dtype);
  json_t *req = json_pack("{s:s, s:s}", "cmd", "prepare", "op", k->key), *reply = NULL;
  void *zeros = NULL;
  if (req == NULL) return oc__fail(oc_status_out_of_memory, "out of memory");
  bool ok = true;
  if (k->have_tensors) {
    json_t *inputs = json_array();
    ok = inputs != NULL && json_object_set_new(req, "inputs", inputs) == 0;
    for (int i = 0; ok && i < sh.n_inputs; i++) {
      const void *p = k->tensors.input[i];
      ok = p == NULL ? json_array_append_new(inputs, json_null()) == 0
                     : json_array_append_new(
                           inputs, b64_json(p, (size_t)oc_tensor_elems(&sh.input[i]) * esize)) == 0;
    }
    if (ok && sh.weight_elems > 0 && k->tensors.weights != NULL)
      ok = json_object_set_new(req, "weights",
                               b64_json(k->tensors.weights, (size_t)sh.weight_elems * esize)) == 0;
    if (ok && sh.bias_elems > 0) {
      const void *bias = k->tensors.bias;
      if (bias == NULL) bias = zeros = calloc((size_t)sh.bias_elems, esize);
      ok = bias != NULL &&
           json_object_set_new(req, "bias", b64_json(bias, (size_t)sh.bias_elems * esize)) == 0;
    }
  }
  free(zeros);
  if (!ok) {
    json_decref(req);
    return oc__fail(oc_status_out_of_memory, "%s: out of memory encoding the tensors of '%s'",
                    s->spec.label, k->key);
  }
  char what[OC_KEY_MAX + 16];
  oc__strfmt(what, sizeof what, "prepare '%s'", k->key);
  st = exchange(s, req, what, &reply);
  json_decref(req);
  if (st != oc_status_ok) return st;
  const json_t *id = json_object_get(reply, "kernel");
  if (!json_is_integer(id))
    st = oc__fail(oc_status_parse_error, "%s: %s: the reply has no kernel id", s->spec.label, what);
  else
    k->id = json_integer_value(id);
  json_decref(reply);
  return st;
}

/* Prepares k on the agent and lists it (so a reconnect prepares it again).
 * Through the retry loop: a drop mid-prepare reconnects and sends it again. */
static enum oc_status prepare_kernel(struct remote_state *s, struct remote_kernel *k) {
  enum oc_status st = oc_status_ok;
  for (int attempt = 0;; attempt++) {
    s->dropped = false;
    st = s->link == NULL ? connect_agent(s) : oc_status_ok;
    if (st == oc_status_ok) st = send_prepare(s, k);
    if (st == oc_status_ok || !s->dropped) break;
    if (attempt >= s->spec.retries) {
      st = gave_up(st, attempt);
      break;
    }
    drop_link(s);
    s->reconnects++;
  }
  if (st != oc_status_ok) return st;
  k->next = s->kernels;
  s->kernels = k;
  return oc_status_ok;
}

static enum oc_status remote_prepare(void *opaque, const struct oc_op *op,
                                     const struct oc_tensors *tensors, void **out) {
  struct remote_state *s = opaque;
  struct oc_op_shapes sh;
  enum oc_status st = oc_op_shapes(op, &sh);
  if (st != oc_status_ok) return st;
  struct remote_kernel *k = calloc(1, sizeof *k);
  if (k == NULL) return oc__fail(oc_status_out_of_memory, "out of memory for a kernel");
  k->op = *op;
  oc_op_format(op, k->key, sizeof k->key);
  if (tensors != NULL) {
    k->tensors = *tensors;
    k->have_tensors = true;
  }
  k->output_bytes = (size_t)oc_tensor_elems(&sh.output) * oc_dtype_size(op->dtype);
  st = prepare_kernel(s, k);
  if (st != oc_status_ok) {
    free(k);
    return st;
  }
  *out = k;
  return oc_status_ok;
}

/* The prepare_net request of network kernel k: the network's JSON, the
 * hash the agent must find, the caller's input; updates k->id. */
static enum oc_status send_prepare_net(struct remote_state *s, struct remote_kernel *k) {
  const struct oc_net *net = k->net;
  char what[OC_KEY_MAX + 16];
  oc__strfmt(what, sizeof what, "prepare_net '%s'", net->name);
  if (strcmp(s->agent_net_format, OC_NET_FORMAT) != 0)
    return oc__fail(oc_status_incompatible,
                    "%s: %s: the agent reads networks in format '%s', "
                    "this opcost writes %s",
                    s->spec.label, what, s->agent_net_format[0] ? s->agent_net_format : "(none)",
                    OC_NET_FORMAT);
  json_t *req =
      json_pack("{s:s, s:s, s:s}", "cmd", "prepare_net", "net", k->net_text, "hash", net->hash_hex);
  json_t *reply = NULL;
  size_t in_bytes = (size_t)oc_tensor_elems(&net->input) * oc_dtype_size(net->dtype);
  if (req == NULL ||
      json_object_set_new(req, "input", b64_json(k->tensors.input[0], in_bytes)) != 0) {
    json_decref(req);
    return oc__fail(oc_status_out_of_memory, "%s: out of memory encoding network '%s'",
                    s->spec.label, net->name);
  }
  enum oc_status st = exchange(s, req, what, &reply);
  json_decref(req);
  if (st != oc_status_ok) return st;
  const json_t *id = json_object_get(reply, "kernel");
  const char *hash = json_string_value(json_object_get(reply, "hash"));
  if (!json_is_integer(id))
    st = oc__fail(oc_status_parse_error, "%s: %s: the reply has no kernel id", s->spec.label, what);
  else if (hash == NULL || strcmp(hash, net->hash_hex) != 0)
    st = oc__fail(oc_status_incompatible, "%s: %s: the agent prepared network %s, not %s",
                  s->spec.label, what, hash ? hash : "(no hash)", net->hash_hex);
  else
    k->id = json_integer_value(id);
  json_decref(reply);
  return st;
}

static enum oc_status remote_prepare_net(void *opaque, const struct oc_net *net, const void *input,
                                         void *output, void **out) {
  struct remote_state *s = opaque;
  *out = NULL;
  if (input == NULL || output == NULL)
    return oc__fail(oc_status_invalid_argument, "network input or output buffer is NULL");
  json_t *root = NULL;
  enum oc_status st = oc_net_to_json(net, &root);
  if (st != oc_status_ok) return st;
  struct remote_kernel *k = calloc(1, sizeof *k);
  char *text = json_dumps(root, JSON_COMPACT);
  json_decref(root);
  if (k == NULL || text == NULL) {
    free(k);
    free(text);
    return oc__fail(oc_status_out_of_memory, "out of memory for network '%s'", net->name);
  }
  k->net = net;
  k->net_text = text;
  oc__strfmt(k->key, sizeof k->key, "network %s", net->name);
  k->tensors.input[0] = input;
  k->tensors.output = output;
  k->have_tensors = true;
  k->output_bytes = (size_t)oc_tensor_elems(&net->output) * oc_dtype_size(net->dtype);
  st = prepare_kernel(s, k);
  if (st != oc_status_ok) {
    free(k->net_text);
    free(k);
    return st;
  }
  *out = k;
  return oc_status_ok;
}

/* A request about kernel k: its id is filled in per attempt, since a
 * reconnect renumbers the agent's kernels. An output lives on the device:
 * reading it in another connection than the one it was computed in runs the
 * kernel there first (needs_output). */
static enum oc_status kernel_request(struct remote_state *s, struct remote_kernel *k, json_t *req,
                                     const char *cmd, bool needs_output, json_t **reply) {
  char what[OC_KEY_MAX + 16];
  oc__strfmt(what, sizeof what, "%s '%s'", cmd, k->key);
  enum oc_status st = oc_status_ok;
  for (int attempt = 0;; attempt++) {
    s->dropped = false;
    st = s->link == NULL ? connect_agent(s) : oc_status_ok;
    if (st == oc_status_ok && needs_output && k->ran && k->run_epoch != s->epoch) {
      json_t *run = json_pack("{s:s, s:I}", "cmd", "run", "kernel", (json_int_t)k->id);
      json_t *ignored = NULL;
      st = run ? exchange(s, run, "run again after a reconnect", &ignored)
               : oc__fail(oc_status_out_of_memory, "out of memory");
      json_decref(run);
      json_decref(ignored);
      if (st == oc_status_ok) k->run_epoch = s->epoch;
    }
    if (st == oc_status_ok) {
      json_object_set_new(req, "kernel", json_integer((json_int_t)k->id));
      st = exchange(s, req, what, reply);
    }
    if (st == oc_status_ok || !s->dropped) return st;
    if (attempt >= s->spec.retries) return gave_up(st, attempt);
    drop_link(s);
    s->reconnects++;
  }
}

static enum oc_status remote_run(void *opaque, void *kernel) {
  struct remote_state *s = opaque;
  json_t *req = json_pack("{s:s}", "cmd", "run"), *reply = NULL;
  if (req == NULL) return oc__fail(oc_status_out_of_memory, "out of memory");
  struct remote_kernel *k = kernel;
  enum oc_status st = kernel_request(s, k, req, "run", false, &reply);
  json_decref(req);
  json_decref(reply);
  if (st == oc_status_ok) {
    k->ran = true;
    k->run_epoch = s->epoch;
  }
  return st;
}

static enum oc_status remote_read_output(void *opaque, void *kernel) {
  struct remote_state *s = opaque;
  struct remote_kernel *k = kernel;
  if (!k->have_tensors || k->tensors.output == NULL) return oc_status_ok;
  json_t *req = json_pack("{s:s}", "cmd", "read"), *reply = NULL;
  if (req == NULL) return oc__fail(oc_status_out_of_memory, "out of memory");
  enum oc_status st = kernel_request(s, k, req, "read", true, &reply);
  json_decref(req);
  if (st != oc_status_ok) return st;
  const json_t *out = json_object_get(reply, "output");
  size_t got = 0;
  if (!json_is_string(out)) {
    st = oc__fail(oc_status_parse_error, "%s: read '%s': the reply has no output", s->spec.label,
                  k->key);
  } else {
    /* Decoded into a scratch copy: a bad reply leaves the caller's output
     * as it was, not half overwritten. */
    void *tmp = malloc(k->output_bytes ? k->output_bytes : 1);
    if (tmp == NULL)
      st = oc__fail(oc_status_out_of_memory, "out of memory for an output");
    else
      st = oc__b64_decode(json_string_value(out), json_string_length(out), tmp, k->output_bytes,
                          &got);
    if (st == oc_status_ok && got != k->output_bytes)
      st = oc__fail(oc_status_parse_error, "%s: read '%s': %zu output bytes, expected %zu",
                    s->spec.label, k->key, got, k->output_bytes);
    else if (st != oc_status_ok && tmp != NULL)
      st = oc__fail_prefix(st, "%s: read '%s': ", s->spec.label, k->key);
    if (st == oc_status_ok) memcpy(k->tensors.output, tmp, k->output_bytes);
    free(tmp);
  }
  json_decref(reply);
  return st;
}

static enum oc_status remote_time_runs(void *opaque, void *kernel, int runs, double *device_us) {
  struct remote_state *s = opaque;
  struct remote_kernel *k = kernel;
  if (runs > OC__AGENT_MAX_RUNS)
    return oc__fail(oc_status_invalid_argument, "runs: value '%d' must be <= %d", runs,
                    OC__AGENT_MAX_RUNS);
  json_t *req = json_pack("{s:s, s:i}", "cmd", "time", "runs", runs), *reply = NULL;
  if (req == NULL) return oc__fail(oc_status_out_of_memory, "out of memory");
  enum oc_status st = kernel_request(s, k, req, "time", false, &reply);
  if (st == oc_status_ok) {
    k->ran = true;
    k->run_epoch = s->epoch;
  }
  json_decref(req);
  if (st != oc_status_ok) return st;
  const json_t *us = json_object_get(reply, "us");
  if (!json_is_array(us) || json_array_size(us) != (size_t)runs) {
    st = oc__fail(oc_status_parse_error, "%s: time '%s': expected %d times in the reply, got %zu",
                  s->spec.label, k->key, runs, json_array_size(us));
  } else {
    for (int i = 0; i < runs && st == oc_status_ok; i++) {
      const json_t *v = json_array_get(us, (size_t)i);
      double x = json_is_number(v) ? json_number_value(v) : -1.0;
      if (!(x >= 0 && isfinite(x)))
        st = oc__fail(oc_status_parse_error, "%s: time '%s': time %d is not a duration",
                      s->spec.label, k->key, i);
      else
        device_us[i] = x;
    }
  }
  json_decref(reply);
  return st;
}

static void remote_release(void *opaque, void *kernel) {
  struct remote_state *s = opaque;
  struct remote_kernel *k = kernel;
  if (k == NULL) return;
  for (struct remote_kernel **p = &s->kernels; *p != NULL; p = &(*p)->next) {
    if (*p == k) {
      *p = k->next;
      break;
    }
  }
  /* Only on a live connection: a release is not worth a reconnect. */
  if (s->link != NULL && !oc__remote_link_closed(s->link)) {
    json_t *req = json_pack("{s:s, s:I}", "cmd", "release", "kernel", (json_int_t)k->id);
    json_t *reply = NULL;
    if (req != NULL && exchange(s, req, "release", &reply) == oc_status_ok) json_decref(reply);
    json_decref(req);
  }
  free(k->net_text);
  free(k);
}

const struct oc_target_vtab oc_target_remote = {
    .abi_version = OC_TARGET_ABI_VERSION,
    .name = "remote",
    .summary = "ops on another device through opcost-agent (ssh=, adb= or exec= a command)",
    .caps = oc_cap_device_timer | oc_cap_threads | oc_cap_pinning | oc_cap_networks,
    .probe = remote_probe,
    .open = remote_open,
    .close = remote_close,
    .describe = remote_describe,
    .supports = remote_supports,
    .prepare = remote_prepare,
    .run = remote_run,
    .read_output = remote_read_output,
    .time_runs = remote_time_runs,
    .release = remote_release,
    /* Whole networks: the same kernels on the agent, so run, read, time and
     * release are the op entries. */
    .prepare_net = remote_prepare_net,
    .run_net = remote_run,
    .read_net_output = remote_read_output,
    .release_net = remote_release,
    .time_net_runs = remote_time_runs, /* the agent's clock, without the link */
};

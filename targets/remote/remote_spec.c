/* remote_spec.c - reading the remote target's spec
 * (`remote:ssh=user@host,target=cpu,cluster=big`) and the word handling the
 * transports need: splitting an exec= command into argv without a shell,
 * and quoting words for the one shell that cannot be avoided, the device's
 * (ssh and adb both hand the remote command to a shell there). */
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "targets/remote/remote_internal.h"

static const char *const keys[] = {"ssh",     "adb",     "exec",  "target",  "cluster",
                                   "push",    "dir",     "agent", "timeout", "retries",
                                   "ssh_bin", "adb_bin", NULL};

/* True when text starts with KEY= for a known key. */
static bool at_key(const char *text) {
  for (int i = 0; keys[i]; i++) {
    size_t n = strlen(keys[i]);
    if (strncmp(text, keys[i], n) == 0 && text[n] == '=') return true;
  }
  return false;
}

enum oc_status oc__remote_split_words(const char *text, char *buf, size_t size, char **argv,
                                      int max_args, int *argc) {
  size_t o = 0;
  int n = 0;
  const char *p = text;
  for (;;) {
    while (*p == ' ' || *p == '\t') p++;
    if (*p == '\0') break;
    if (n >= max_args)
      return oc__fail(oc_status_invalid_argument, "command '%s': more than %d words", text,
                      max_args);
    argv[n++] = buf + o;
    while (*p && *p != ' ' && *p != '\t') {
      char quote = 0;
      if (*p == '\'' || *p == '"') quote = *p++;
      do {
        if (quote && *p == quote) {
          p++;
          break;
        }
        if (*p == '\0') {
          if (quote)
            return oc__fail(oc_status_invalid_argument, "command '%s': unclosed %c quote", text,
                            quote);
          break;
        }
        if (*p == '\\' && quote != '\'' && p[1] != '\0') p++;
        if (o + 2 > size)
          return oc__fail(oc_status_invalid_argument, "command '%s' is too long", text);
        buf[o++] = *p++;
      } while (quote);
    }
    buf[o++] = '\0';
  }
  argv[n] = NULL;
  *argc = n;
  if (n == 0) return oc__fail(oc_status_invalid_argument, "command is empty");
  return oc_status_ok;
}

bool oc__remote_shell_append(char *out, size_t size, const char *word) {
  size_t o = strlen(out);
  if (o > 0) {
    if (o + 1 >= size) return false;
    out[o++] = ' ';
  }
  if (o + 1 >= size) return false;
  out[o++] = '\'';
  for (const char *p = word; *p; p++) {
    if (*p == '\'') {
      if (o + 5 >= size) return false;
      memcpy(out + o, "'\\''", 4);
      o += 4;
    } else {
      if (o + 2 >= size) return false;
      out[o++] = *p;
    }
  }
  if (o + 2 > size) return false;
  out[o++] = '\'';
  out[o] = '\0';
  return true;
}

static enum oc_status set_value(struct oc__remote_spec *s, const char *key, const char *value) {
  struct {
    const char *key;
    char *field;
    size_t size;
  } strings[] = {{"target", s->target, sizeof s->target},
                 {"cluster", s->cluster, sizeof s->cluster},
                 {"push", s->push, sizeof s->push},
                 {"dir", s->dir, sizeof s->dir},
                 {"agent", s->agent, sizeof s->agent},
                 {"ssh_bin", s->ssh_bin, sizeof s->ssh_bin},
                 {"adb_bin", s->adb_bin, sizeof s->adb_bin},
                 {"ssh", s->dest, sizeof s->dest},
                 {"adb", s->dest, sizeof s->dest}};
  if (value[0] == '\0') return oc__fail(oc_status_invalid_argument, "%s: empty value", key);
  if (strcmp(key, "timeout") == 0) {
    char *end = NULL;
    double v = strtod(value, &end);
    if (end == value || *end != '\0' || !(v > 0 && v <= 86400))
      return oc__fail(oc_status_invalid_argument,
                      "timeout: value '%s' is not a number of seconds in (0, 86400]", value);
    s->timeout_s = v;
    return oc_status_ok;
  }
  if (strcmp(key, "retries") == 0) {
    int64_t v;
    if (!oc__parse_i64(value, 0, 100, &v))
      return oc__fail(oc_status_invalid_argument, "retries: value '%s' is not 0-100", value);
    s->retries = (int)v;
    return oc_status_ok;
  }
  if (strcmp(key, "exec") == 0) {
    enum oc_status st = oc__remote_split_words(value, s->exec_words, sizeof s->exec_words,
                                               s->exec_argv, OC__REMOTE_MAX_ARGS, &s->exec_argc);
    if (st != oc_status_ok) return oc__fail_prefix(st, "exec: ");
    return oc_status_ok;
  }
  for (size_t i = 0; i < sizeof strings / sizeof strings[0]; i++) {
    if (strcmp(key, strings[i].key) != 0) continue;
    if (strlen(value) >= strings[i].size)
      return oc__fail(oc_status_invalid_argument, "%s: value longer than %zu characters", key,
                      strings[i].size - 1);
    oc__strcpy(strings[i].field, strings[i].size, value);
    return oc_status_ok;
  }
  return oc__fail(oc_status_invalid_argument, "unknown key '%s'", key);
}

enum oc_status oc__remote_parse_spec(const char *args, struct oc__remote_spec *s) {
  memset(s, 0, sizeof *s);
  s->timeout_s = OC__REMOTE_TIMEOUT_S;
  s->retries = OC__REMOTE_RETRIES;
  oc__strcpy(s->target, sizeof s->target, "cpu");
  oc__strcpy(s->ssh_bin, sizeof s->ssh_bin, "ssh");
  oc__strcpy(s->adb_bin, sizeof s->adb_bin, "adb");
  if (args == NULL || args[0] == '\0') args = getenv("OPCOST_REMOTE");
  if (args == NULL || args[0] == '\0')
    return oc__fail(oc_status_invalid_argument,
                    "no device given: use remote:ssh=USER@HOST, remote:adb=SERIAL or "
                    "remote:exec=COMMAND (or set OPCOST_REMOTE to one of those)");
  int transports = 0;
  const char *p = args;
  while (*p) {
    const char *eq = strchr(p, '=');
    if (eq == NULL) return oc__fail(oc_status_invalid_argument, "'%s': expected KEY=VALUE", p);
    char key[16];
    size_t klen = (size_t)(eq - p);
    if (klen == 0 || klen >= sizeof key)
      return oc__fail(oc_status_invalid_argument, "'%.*s' is not a key", (int)klen, p);
    memcpy(key, p, klen);
    key[klen] = '\0';
    if (!at_key(p))
      return oc__fail(oc_status_invalid_argument,
                      "unknown key '%s' (known: ssh adb exec target cluster push dir agent "
                      "timeout retries ssh_bin adb_bin)",
                      key);
    /* The value runs to the next comma that starts another known key. */
    const char *v = eq + 1, *end = v;
    while (*end && !(*end == ',' && at_key(end + 1))) end++;
    size_t vlen = (size_t)(end - v);
    char *value = malloc(vlen + 1);
    if (value == NULL) return oc__fail(oc_status_out_of_memory, "out of memory");
    memcpy(value, v, vlen);
    value[vlen] = '\0';
    enum oc_status st = set_value(s, key, value);
    if (st == oc_status_ok &&
        (strcmp(key, "ssh") == 0 || strcmp(key, "adb") == 0 || strcmp(key, "exec") == 0)) {
      transports++;
      s->transport = key[0] == 's'   ? oc__remote_ssh
                     : key[0] == 'a' ? oc__remote_adb
                                     : oc__remote_exec;
      oc__strfmt(s->label, sizeof s->label, "%s=%s", key, value);
    }
    free(value);
    if (st != oc_status_ok) return st;
    p = *end ? end + 1 : end;
  }
  if (transports != 1)
    return oc__fail(oc_status_invalid_argument,
                    "'%s': give exactly one of ssh=, adb=, exec= (%d given)", args, transports);
  if (s->transport != oc__remote_exec && s->dest[0] == '-')
    return oc__fail(oc_status_invalid_argument, "%s: a destination may not start with '-'",
                    s->label);
  if (s->transport == oc__remote_exec && s->push[0])
    return oc__fail(oc_status_invalid_argument,
                    "%s: push= needs ssh= or adb= (an exec= command starts the agent itself)",
                    s->label);
  if (!s->dir[0])
    oc__strcpy(s->dir, sizeof s->dir,
               s->transport == oc__remote_adb ? "/data/local/tmp/opcost-agent" : ".opcost-agent");
  if (s->transport == oc__remote_exec) {
    const char *prog = strrchr(s->exec_argv[0], '/');
    prog = prog ? prog + 1 : s->exec_argv[0];
    if (strncmp(prog, "qemu-", 5) == 0) oc__strcpy(s->emulated, sizeof s->emulated, prog);
  }
  return oc_status_ok;
}

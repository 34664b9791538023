/* agent_cpu.c - what the agent needs to know about the CPUs it runs on:
 * big.LITTLE clusters read from a sysfs tree (cpu_capacity, cpufreq's
 * cpuinfo_max_freq), choosing one to pin to, checking that the pin took
 * effect (the thread's affinity read back, and the CPUs every thread of the
 * process last ran on), and whether the agent runs under an emulator.
 *
 * The sysfs directory is a parameter so that tests can hand in fake trees;
 * a missing entry means "the kernel does not say", never an error. */
#define _GNU_SOURCE
#include <ctype.h>
#include <dirent.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>

#include "agent/agent.h"
#include "core/core.h"

#define SYSFS_CPU "/sys/devices/system/cpu"

static bool read_line(const char *path, char *buf, size_t size) {
  FILE *f = fopen(path, "r");
  if (f == NULL) return false;
  bool ok = fgets(buf, (int)size, f) != NULL;
  fclose(f);
  if (ok) buf[strcspn(buf, "\n")] = '\0';
  return ok;
}

static int64_t read_number(const char *dir, int cpu, const char *leaf) {
  char path[512], buf[64];
  int64_t v = 0;
  oc__strfmt(path, sizeof path, "%s/cpu%d/%s", dir, cpu, leaf);
  if (!read_line(path, buf, sizeof buf)) return 0;
  if (!oc__parse_i64(buf, 0, INT64_MAX / 2, &v)) return 0;
  return v;
}

bool oc__agent_parse_cpulist(const char *text, int *cpus, int max, int *n) {
  *n = 0;
  const char *p = text;
  while (*p == ' ') p++;
  if (*p == '\0') return true; /* an empty list is a list */
  while (*p) {
    char *end = NULL;
    long lo = strtol(p, &end, 10);
    if (end == p || lo < 0) return false;
    long hi = lo;
    p = end;
    if (*p == '-') {
      hi = strtol(p + 1, &end, 10);
      if (end == p + 1 || hi < lo) return false;
      p = end;
    }
    for (long c = lo; c <= hi; c++) {
      if (*n >= max || c >= OC_MAX_CORES) return false;
      cpus[(*n)++] = (int)c;
    }
    if (*p == ',')
      p++;
    else if (*p != '\0' && !isspace((unsigned char)*p))
      return false;
    else
      break;
  }
  return true;
}

/* Online CPUs: the `online` list, or else every cpuN folder. */
static enum oc_status list_cpus(const char *dir, int *cpus, int *n) {
  char path[512], buf[1024];
  oc__strfmt(path, sizeof path, "%s/online", dir);
  if (read_line(path, buf, sizeof buf)) {
    if (!oc__agent_parse_cpulist(buf, cpus, OC_MAX_CORES, n))
      return oc__fail(oc_status_overflow, "%s: '%s' is not a CPU list within 0-%d", path, buf,
                      OC_MAX_CORES - 1);
  } else {
    DIR *d = opendir(dir);
    if (d == NULL) return oc__fail(oc_status_io_error, "cannot list CPUs: no directory '%s'", dir);
    struct dirent *e;
    *n = 0;
    bool seen[OC_MAX_CORES] = {false};
    while ((e = readdir(d)) != NULL) {
      int64_t c;
      if (strncmp(e->d_name, "cpu", 3) != 0 || !oc__parse_i64(e->d_name + 3, 0, INT32_MAX, &c))
        continue;
      if (c >= OC_MAX_CORES) {
        closedir(d);
        return oc__fail(oc_status_overflow, "%s: CPU %lld is past the %d opcost handles", dir,
                        (long long)c, OC_MAX_CORES);
      }
      seen[c] = true;
    }
    closedir(d);
    for (int c = 0; c < OC_MAX_CORES; c++) {
      if (seen[c]) cpus[(*n)++] = c;
    }
  }
  if (*n == 0) return oc__fail(oc_status_io_error, "no online CPU listed under '%s'", dir);
  return oc_status_ok;
}

enum oc_status oc__agent_topology(const char *dir, struct oc__cpu_topology *topo) {
  int cpus[OC_MAX_CORES], n = 0;
  if (dir == NULL) dir = SYSFS_CPU;
  memset(topo, 0, sizeof *topo);
  enum oc_status st = list_cpus(dir, cpus, &n);
  if (st != oc_status_ok) return st;
  bool any_capacity = false, any_freq = false;
  for (int i = 0; i < n; i++) {
    int64_t cap = read_number(dir, cpus[i], "cpu_capacity");
    int64_t khz = read_number(dir, cpus[i], "cpufreq/cpuinfo_max_freq");
    any_capacity |= cap > 0;
    any_freq |= khz > 0;
    int c = 0;
    while (c < topo->n_clusters &&
           (topo->clusters[c].capacity != cap || topo->clusters[c].max_khz != khz))
      c++;
    if (c == topo->n_clusters) {
      if (c == OC__AGENT_MAX_CLUSTERS)
        return oc__fail(oc_status_overflow, "%s: more than %d distinct CPU clusters", dir,
                        OC__AGENT_MAX_CLUSTERS);
      topo->n_clusters++;
      topo->clusters[c].capacity = cap;
      topo->clusters[c].max_khz = khz;
    }
    struct oc__cpu_cluster *cl = &topo->clusters[c];
    cl->cpus[cl->n_cpus++] = cpus[i];
  }
  /* Insertion sort by (capacity, max_khz): at most 8 clusters. */
  for (int i = 1; i < topo->n_clusters; i++) {
    struct oc__cpu_cluster key = topo->clusters[i];
    int j = i - 1;
    while (j >= 0 && (topo->clusters[j].capacity > key.capacity ||
                      (topo->clusters[j].capacity == key.capacity &&
                       topo->clusters[j].max_khz > key.max_khz))) {
      topo->clusters[j + 1] = topo->clusters[j];
      j--;
    }
    topo->clusters[j + 1] = key;
  }
  oc__strfmt(topo->source, sizeof topo->source, "%s",
             any_capacity && any_freq ? "cpu_capacity and cpuinfo_max_freq"
             : any_capacity           ? "cpu_capacity"
             : any_freq               ? "cpuinfo_max_freq"
                                      : "none (all CPUs taken as one cluster)");
  return oc_status_ok;
}

enum oc_status oc__agent_pick_cluster(const struct oc__cpu_topology *topo, const char *which,
                                      struct oc_target_opts *opts) {
  int64_t index = -1;
  if (topo->n_clusters < 1)
    return oc__fail(oc_status_invalid_argument, "cluster '%s': no CPU clusters known", which);
  if (strcmp(which, "big") == 0)
    index = topo->n_clusters - 1;
  else if (strcmp(which, "little") == 0)
    index = 0;
  else if (!oc__parse_i64(which, 0, topo->n_clusters - 1, &index))
    return oc__fail(oc_status_invalid_argument,
                    "cluster: value '%s' is not big, little or a cluster index 0-%d (this "
                    "device has %d cluster%s)",
                    which, topo->n_clusters - 1, topo->n_clusters,
                    topo->n_clusters == 1 ? "" : "s");
  const struct oc__cpu_cluster *cl = &topo->clusters[index];
  opts->n_cores = cl->n_cpus;
  memcpy(opts->cores, cl->cpus, (size_t)cl->n_cpus * sizeof cl->cpus[0]);
  return oc_status_ok;
}

static void format_set(const cpu_set_t *set, char *buf, size_t size) {
  size_t used = 0;
  buf[0] = '\0';
  for (int c = 0; c < CPU_SETSIZE && used + 8 < size; c++) {
    if (!CPU_ISSET((size_t)c, set)) continue;
    oc__strfmt(buf + used, size - used, "%s%d", used ? "," : "", c);
    used = strlen(buf);
  }
}

enum oc_status oc__agent_check_affinity(const struct oc_target_opts *opts) {
  if (opts == NULL || opts->n_cores == 0) return oc_status_ok;
  cpu_set_t want, got;
  CPU_ZERO(&want);
  for (int i = 0; i < opts->n_cores; i++) CPU_SET((size_t)opts->cores[i], &want);
  if (sched_getaffinity(0, sizeof got, &got) != 0)
    return oc__fail(oc_status_device_error, "cannot read the affinity back (sched_getaffinity)");
  if (!CPU_EQUAL(&want, &got)) {
    char a[256], b[256];
    format_set(&want, a, sizeof a);
    format_set(&got, b, sizeof b);
    return oc__fail(oc_status_device_error,
                    "the device ignores affinity: pinned to CPUs %s, the thread may run on %s", a,
                    b);
  }
  return oc_status_ok;
}

int oc__agent_threads_cpus(int *cpus, int max) {
  DIR *d = opendir("/proc/self/task");
  if (d == NULL) return -1;
  int n = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    if (e->d_name[0] == '.') continue;
    char path[300], line[1024];
    oc__strfmt(path, sizeof path, "/proc/self/task/%s/stat", e->d_name);
    if (!read_line(path, line, sizeof line)) continue;
    /* Field 39 is the CPU last run on; the command (field 2) may hold
     * spaces, so count from the last ')'. */
    char *p = strrchr(line, ')');
    if (p == NULL) continue;
    int field = 2;
    long cpu = -1;
    for (char *tok = strtok(p + 1, " "); tok != NULL; tok = strtok(NULL, " ")) {
      if (++field == 39) {
        cpu = strtol(tok, NULL, 10);
        break;
      }
    }
    if (cpu < 0) continue;
    bool seen = false;
    for (int i = 0; i < n; i++) seen |= cpus[i] == (int)cpu;
    if (!seen && n < max) cpus[n++] = (int)cpu;
  }
  closedir(d);
  return n;
}

void oc__agent_emulation(const char *cpuinfo_path, char *out, size_t size) {
  out[0] = '\0';
  FILE *f = fopen(cpuinfo_path ? cpuinfo_path : "/proc/cpuinfo", "r");
  if (f == NULL) return;
  char line[1024], model[128] = "";
  bool x86 = false, arm = false;
  while (fgets(line, sizeof line, f)) {
    if (strncmp(line, "vendor_id", 9) == 0) x86 = true;
    if (strncmp(line, "CPU implementer", 15) == 0) arm = true;
    if (!model[0] && strncmp(line, "model name", 10) == 0) {
      char *v = strchr(line, ':');
      if (v) {
        v++;
        while (*v == ' ') v++;
        v[strcspn(v, "\n")] = '\0';
        oc__strcpy(model, sizeof model, v);
      }
    }
  }
  fclose(f);
#if defined(__aarch64__) || defined(__arm__)
  const char *built = sizeof(void *) == 8 ? "aarch64" : "arm";
  const char *host = "x86";
  bool foreign = x86 && !arm;
#elif defined(__x86_64__) || defined(__i386__)
  const char *built = sizeof(void *) == 8 ? "x86_64" : "i386";
  const char *host = "ARM";
  bool foreign = arm && !x86;
#else
  const char *built = "this architecture", *host = "other";
  bool foreign = false;
  (void)x86;
  (void)arm;
#endif
  if (foreign)
    oc__strfmt(out, size, "emulated (user mode, e.g. QEMU): %s code on an %s host CPU%s%s%s", built,
               host, model[0] ? " (" : "", model, model[0] ? ")" : "");
}

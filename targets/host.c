/* host.c - what the host CPU is (model, ISA, cores, caches, memory) read from
 * /proc/cpuinfo and sysfs, and pinning the calling thread to chosen cores.
 * Shared by the ref and cpu backends and by the probe harness. Anything
 * unreadable stays empty or zero: a missing sysfs entry is "unknown", never
 * an error. */
#define _GNU_SOURCE
#include <ctype.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "core/core.h"
#include "targets/targets_internal.h"

/* Reads the first line of a small text file; false when unreadable. */
static bool read_line(const char *path, char *buf, size_t size) {
  FILE *f = fopen(path, "r");
  if (f == NULL) return false;
  bool ok = fgets(buf, (int)size, f) != NULL;
  fclose(f);
  if (ok) buf[strcspn(buf, "\n")] = '\0';
  return ok;
}

/* "48K", "1024K", "32M" -> bytes; 0 when not a size. */
static int64_t parse_size(const char *text) {
  char *end = NULL;
  long long v = strtoll(text, &end, 10);
  if (end == text || v <= 0) return 0;
  switch (toupper((unsigned char)*end)) {
  case 'K': return (int64_t)v * 1024;
  case 'M': return (int64_t)v * 1024 * 1024;
  case 'G': return (int64_t)v * 1024 * 1024 * 1024;
  default: return (int64_t)v;
  }
}

static void read_caches(struct oc_device_info *info) {
  char path[128], type[32], size[32], level[16];
  for (int i = 0; i < 16; i++) {
    oc__strfmt(path, sizeof path, "/sys/devices/system/cpu/cpu0/cache/index%d/type", i);
    if (!read_line(path, type, sizeof type)) break;
    oc__strfmt(path, sizeof path, "/sys/devices/system/cpu/cpu0/cache/index%d/size", i);
    if (!read_line(path, size, sizeof size)) continue;
    oc__strfmt(path, sizeof path, "/sys/devices/system/cpu/cpu0/cache/index%d/level", i);
    if (!read_line(path, level, sizeof level)) continue;
    int64_t bytes = parse_size(size);
    if (strcmp(type, "Instruction") == 0) continue;
    if (strcmp(level, "1") == 0) info->l1d_bytes = bytes;
    else if (strcmp(level, "2") == 0) info->l2_bytes = bytes;
    else if (strcmp(level, "3") == 0) info->l3_bytes = bytes;
  }
}

static const char *const isa_flags[] = {
    /* x86 */ "sse2", "sse4_1", "sse4_2", "avx", "f16c", "fma", "avx2", "avx512f", "avx512bw",
    "avx512vl", "avx512_vnni", "avx512_bf16", "amx_tile",
    /* arm */ "neon", "asimd", "fphp", "asimdhp", "asimddp", "sve", "sve2", "i8mm", "bf16", NULL};

static void read_cpuinfo(struct oc_device_info *info) {
  FILE *f = fopen("/proc/cpuinfo", "r");
  if (f == NULL) return;
  char line[8192];
  char flags[8192] = "";
  while (fgets(line, sizeof line, f)) {
    char *colon = strchr(line, ':');
    if (colon == NULL) continue;
    char *val = colon + 1;
    while (*val == ' ') val++;
    val[strcspn(val, "\n")] = '\0';
    if (!info->name[0] && (strncmp(line, "model name", 10) == 0 ||
                           strncmp(line, "Processor", 9) == 0 ||
                           strncmp(line, "Hardware", 8) == 0))
      oc__strcpy(info->name, sizeof info->name, val);
    else if (!info->vendor[0] && (strncmp(line, "vendor_id", 9) == 0 ||
                                  strncmp(line, "CPU implementer", 15) == 0))
      oc__strcpy(info->vendor, sizeof info->vendor, val);
    else if (!flags[0] && (strncmp(line, "flags", 5) == 0 || strncmp(line, "Features", 8) == 0))
      oc__strcpy(flags, sizeof flags, val);
  }
  fclose(f);
  /* Keep only the features that matter to kernels, in a fixed order, so the
   * fingerprint does not move with unrelated flags. */
  size_t used = 0;
  for (int i = 0; isa_flags[i]; i++) {
    size_t n = strlen(isa_flags[i]);
    for (const char *p = flags; (p = strstr(p, isa_flags[i])) != NULL; p += n) {
      bool start = p == flags || p[-1] == ' ';
      bool end = p[n] == ' ' || p[n] == '\0';
      if (start && end) {
        oc__strfmt(info->isa + used, sizeof info->isa - used, "%s%s", used ? " " : "",
                   isa_flags[i]);
        used = strlen(info->isa);
        break;
      }
    }
  }
}

static int count_physical_cores(void) {
  /* Distinct (package, core) pairs among online CPUs. */
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  int pairs[1024][2];
  int count = 0;
  char path[128], buf[32];
  for (long cpu = 0; cpu < n && cpu < 1024; cpu++) {
    int pkg = 0, core = (int)cpu;
    oc__strfmt(path, sizeof path, "/sys/devices/system/cpu/cpu%ld/topology/physical_package_id",
               cpu);
    if (read_line(path, buf, sizeof buf)) pkg = atoi(buf);
    oc__strfmt(path, sizeof path, "/sys/devices/system/cpu/cpu%ld/topology/core_id", cpu);
    if (!read_line(path, buf, sizeof buf)) return 0;
    core = atoi(buf);
    bool seen = false;
    for (int i = 0; i < count; i++) {
      if (pairs[i][0] == pkg && pairs[i][1] == core) seen = true;
    }
    if (!seen) {
      pairs[count][0] = pkg;
      pairs[count][1] = core;
      count++;
    }
  }
  return count;
}

void oc__host_describe(struct oc_device_info *info) {
  struct utsname u;
  if (uname(&u) == 0) oc__strcpy(info->arch, sizeof info->arch, u.machine);
  read_cpuinfo(info);
  read_caches(info);
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  info->cores_logical = n > 0 ? (int32_t)n : 0;
  info->cores_physical = count_physical_cores();
  long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
  if (pages > 0 && page > 0) info->memory_bytes = (int64_t)pages * page;
}

enum oc_status oc__host_pin(const struct oc_target_opts *opts) {
  if (opts == NULL || opts->n_cores == 0) return oc_status_ok;
  cpu_set_t set;
  CPU_ZERO(&set);
  for (int i = 0; i < opts->n_cores; i++) CPU_SET((size_t)opts->cores[i], &set);
  if (sched_setaffinity(0, sizeof set, &set) != 0)
    return oc__fail(oc_status_invalid_argument, "cannot pin to the cores given (sched_setaffinity failed)");
  return oc_status_ok;
}

enum oc_status oc_target_parse_cores(const char *text, struct oc_target_opts *opts) {
  long online = sysconf(_SC_NPROCESSORS_CONF);
  cpu_set_t allowed;
  CPU_ZERO(&allowed);
  bool have_allowed = sched_getaffinity(0, sizeof allowed, &allowed) == 0;
  int n = 0;
  const char *p = text;
  if (text == NULL || *text == '\0') return oc__fail(oc_status_invalid_argument, "cores: empty list");
  while (*p) {
    char item[32];
    size_t len = strcspn(p, ",");
    if (len == 0 || len >= sizeof item)
      return oc__fail(oc_status_invalid_argument, "cores: '%s' is not a list like 0,2-3", text);
    memcpy(item, p, len);
    item[len] = '\0';
    int64_t lo, hi;
    char *dash = strchr(item, '-');
    if (dash) {
      *dash = '\0';
      if (!oc__parse_i64(item, 0, OC_MAX_CORES - 1, &lo) ||
          !oc__parse_i64(dash + 1, 0, OC_MAX_CORES - 1, &hi) || hi < lo)
        return oc__fail(oc_status_invalid_argument, "cores: range '%.*s' is not valid",
                        (int)len, p);
    } else {
      if (!oc__parse_i64(item, 0, INT32_MAX, &lo))
        return oc__fail(oc_status_invalid_argument, "cores: '%s' is not a core number", item);
      hi = lo;
    }
    for (int64_t c = lo; c <= hi; c++) {
      if (c >= online || c >= OC_MAX_CORES || (have_allowed && !CPU_ISSET((size_t)c, &allowed)))
        return oc__fail(oc_status_invalid_argument,
                        "cores: core %lld does not exist or is not usable here (this machine has "
                        "cores 0-%ld)",
                        (long long)c, online - 1);
      if (n >= OC_MAX_CORES) return oc__fail(oc_status_invalid_argument, "cores: too many");
      opts->cores[n++] = (int)c;
    }
    p += len;
    if (*p == ',') p++;
  }
  opts->n_cores = n;
  return oc_status_ok;
}

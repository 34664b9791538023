/* probe_env.c - the environment recorded with every measurement: CPU
 * model, kernel, cores and affinity, threads, governor, frequency and
 * temperature before and after, load average, steal time, runtime and
 * opcost versions.
 *
 * Everything comes from procfs/sysfs files that may be absent (containers,
 * VMs, non-Linux kernels): an unreadable entry stays unknown ("" or NaN)
 * and is never an error, so capturing the environment cannot fail. */
#define _GNU_SOURCE
#include <dirent.h>
#include <math.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "core/core.h"
#include "opcost/version.h"
#include "probes/probe_internal.h"
#include "targets/targets_internal.h"

/* First line of a small file, newline removed; false when unreadable. */
static bool read_line(const char *path, char *buf, size_t size) {
  FILE *f = fopen(path, "r");
  if (f == NULL) return false;
  bool ok = fgets(buf, (int)size, f) != NULL;
  fclose(f);
  if (ok) buf[strcspn(buf, "\n")] = '\0';
  return ok;
}

static bool read_double(const char *path, double *value) {
  char line[64];
  if (!read_line(path, line, sizeof line)) return false;
  char *end = NULL;
  double v = strtod(line, &end);
  if (end == line) return false;
  *value = v;
  return true;
}

void oc__format_cpus(const int *cpus, int n, char *buf, size_t size) {
  size_t used = 0;
  buf[0] = '\0';
  for (int i = 0; i < n;) {
    int j = i;
    while (j + 1 < n && cpus[j + 1] == cpus[j] + 1) j++;
    if (j == i)
      oc__strfmt(buf + used, size - used, "%s%d", used ? "," : "", cpus[i]);
    else
      oc__strfmt(buf + used, size - used, "%s%d-%d", used ? "," : "", cpus[i], cpus[j]);
    used = strlen(buf);
    i = j + 1;
  }
}

int oc__thread_cpus(int *cpus, int max) {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) != 0) return 0;
  int n = 0;
  for (int c = 0; c < CPU_SETSIZE && n < max; c++) {
    if (CPU_ISSET((size_t)c, &set)) cpus[n++] = c;
  }
  return n;
}

/* Mean current frequency (MHz) of cpus: cpufreq's scaling_cur_freq where it
 * exists, else the "cpu MHz" lines of /proc/cpuinfo (x86 kernels fill them
 * from APERF/MPERF or, in VMs, with the nominal rate). */
static double read_freq(const int *cpus, int n, char *source, size_t source_size) {
  char path[128];
  double sum = 0.0;
  int found = 0;
  for (int i = 0; i < n; i++) {
    double khz;
    oc__strfmt(path, sizeof path, "/sys/devices/system/cpu/cpu%d/cpufreq/scaling_cur_freq",
               cpus[i]);
    if (read_double(path, &khz) && khz > 0) {
      sum += khz / 1000.0;
      found++;
    }
  }
  if (found == n && n > 0) {
    oc__strcpy(source, source_size, "cpufreq scaling_cur_freq");
    return sum / found;
  }
  FILE *f = fopen("/proc/cpuinfo", "r");
  if (f == NULL) return NAN;
  char line[512];
  int processor = -1;
  sum = 0.0;
  found = 0;
  while (fgets(line, sizeof line, f)) {
    if (strncmp(line, "processor", 9) == 0) {
      const char *colon = strchr(line, ':');
      processor = colon ? atoi(colon + 1) : -1;
    } else if (strncmp(line, "cpu MHz", 7) == 0) {
      const char *colon = strchr(line, ':');
      bool wanted = false;
      for (int i = 0; i < n; i++) wanted = wanted || cpus[i] == processor;
      if (colon && wanted) {
        sum += strtod(colon + 1, NULL);
        found++;
      }
    }
  }
  fclose(f);
  if (found == 0) return NAN;
  oc__strcpy(source, source_size, "/proc/cpuinfo cpu MHz");
  return sum / found;
}

/* Hottest temperature (°C) among thermal zones and hwmon sensors. */
static double read_temp(char *source, size_t source_size) {
  double best = NAN;
  char path[512], label[64];
  DIR *dir = opendir("/sys/class/thermal");
  if (dir != NULL) {
    struct dirent *e;
    while ((e = readdir(dir)) != NULL) {
      if (strncmp(e->d_name, "thermal_zone", 12) != 0) continue;
      double milli;
      oc__strfmt(path, sizeof path, "/sys/class/thermal/%s/temp", e->d_name);
      if (!read_double(path, &milli)) continue;
      if (isnan(best) || milli / 1000.0 > best) {
        best = milli / 1000.0;
        oc__strfmt(path, sizeof path, "/sys/class/thermal/%s/type", e->d_name);
        if (!read_line(path, label, sizeof label)) label[0] = '\0';
        oc__strfmt(source, source_size, "%.20s %.40s", e->d_name, label);
      }
    }
    closedir(dir);
  }
  dir = opendir("/sys/class/hwmon");
  if (dir != NULL) {
    struct dirent *e;
    while ((e = readdir(dir)) != NULL) {
      if (e->d_name[0] == '.') continue;
      for (int i = 1; i <= 16; i++) {
        double milli;
        oc__strfmt(path, sizeof path, "/sys/class/hwmon/%s/temp%d_input", e->d_name, i);
        if (!read_double(path, &milli)) continue;
        if (isnan(best) || milli / 1000.0 > best) {
          best = milli / 1000.0;
          oc__strfmt(path, sizeof path, "/sys/class/hwmon/%s/name", e->d_name);
          if (!read_line(path, label, sizeof label)) label[0] = '\0';
          oc__strfmt(source, source_size, "%.20s %.30s temp%d", e->d_name, label, i);
        }
      }
    }
    closedir(dir);
  }
  return best;
}

/* Steal and total jiffies of all CPUs from /proc/stat; false when absent. */
static bool read_steal(int64_t *steal, int64_t *total) {
  FILE *f = fopen("/proc/stat", "r");
  if (f == NULL) return false;
  long long v[8] = {0};
  int got = fscanf(f, "cpu %lld %lld %lld %lld %lld %lld %lld %lld", &v[0], &v[1], &v[2], &v[3],
                   &v[4], &v[5], &v[6], &v[7]);
  fclose(f);
  if (got < 8) return false;
  *total = 0;
  for (int i = 0; i < 8; i++) *total += v[i];
  *steal = v[7];
  return true;
}

void oc_env_capture(struct oc_target *target, struct oc_env *env) {
  memset(env, 0, sizeof *env);
  env->freq_mhz_before = env->freq_mhz_after = NAN;
  env->temp_c_before = env->temp_c_after = NAN;
  env->load1 = env->load5 = env->load15 = NAN;
  env->steal_pct = NAN;
  env->stat_steal_before = env->stat_total_before = -1;
  env->threads = -1;
  oc__strcpy(env->opcost_version, sizeof env->opcost_version, OC_VERSION_STRING);

  struct oc_device_info info;
  memset(&info, 0, sizeof info);
  if (target != NULL && oc_target_describe(target, &info) == oc_status_ok) {
    oc__strcpy(env->target, sizeof env->target, info.target);
    oc__strcpy(env->runtime, sizeof env->runtime, info.runtime);
    oc__strcpy(env->fingerprint, sizeof env->fingerprint, info.fingerprint);
    const struct oc_target_opts *opts = oc_target_options(target);
    env->threads = opts->threads;
    if (opts->n_cores > 0)
      oc__format_cpus(opts->cores, opts->n_cores, env->pinned, sizeof env->pinned);
  }
  /* The model of the host CPU even for targets that describe another
   * device: it is the machine the harness ran on. */
  if (target == NULL || strcmp(info.target, "cpu") != 0 || info.name[0] == '\0') {
    memset(&info, 0, sizeof info);
    oc__host_describe(&info);
  }
  oc__strcpy(env->cpu_model, sizeof env->cpu_model, info.name);

  struct utsname u;
  if (uname(&u) == 0)
    oc__strfmt(env->kernel, sizeof env->kernel, "%s %s %s %s", u.sysname, u.release, u.version,
               u.machine);
  long online = sysconf(_SC_NPROCESSORS_ONLN);
  env->cores_online = online > 0 ? (int)online : -1;

  int cpus[OC_MAX_CORES] = {0};
  int n = oc__thread_cpus(cpus, OC_MAX_CORES);
  oc__format_cpus(cpus, n, env->affinity, sizeof env->affinity);
  char path[128];
  oc__strfmt(path, sizeof path, "/sys/devices/system/cpu/cpu%d/cpufreq/scaling_governor",
             n > 0 ? cpus[0] : 0);
  if (!read_line(path, env->governor, sizeof env->governor)) env->governor[0] = '\0';
  env->freq_mhz_before = read_freq(cpus, n, env->freq_source, sizeof env->freq_source);
  env->temp_c_before = read_temp(env->temp_source, sizeof env->temp_source);

  char line[128];
  if (read_line("/proc/loadavg", line, sizeof line)) {
    double l1, l5, l15;
    if (sscanf(line, "%lf %lf %lf", &l1, &l5, &l15) == 3) {
      env->load1 = l1;
      env->load5 = l5;
      env->load15 = l15;
    }
  }
  int64_t steal, total;
  if (read_steal(&steal, &total)) {
    env->stat_steal_before = steal;
    env->stat_total_before = total;
  }
  time_t now = time(NULL);
  struct tm tm;
  if (gmtime_r(&now, &tm) != NULL)
    strftime(env->measured_at, sizeof env->measured_at, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

void oc_env_finish(struct oc_env *env) {
  int cpus[OC_MAX_CORES] = {0};
  int n = oc__thread_cpus(cpus, OC_MAX_CORES);
  char source[64];
  env->freq_mhz_after = read_freq(cpus, n, source, sizeof source);
  char temp_source[64];
  env->temp_c_after = read_temp(temp_source, sizeof temp_source);
  int64_t steal, total;
  if (env->stat_total_before >= 0 && read_steal(&steal, &total) && total > env->stat_total_before)
    env->steal_pct =
        100.0 * (double)(steal - env->stat_steal_before) / (double)(total - env->stat_total_before);
}

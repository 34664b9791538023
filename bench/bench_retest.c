/* bench_retest.c - how repeatable the measurement harness is on this machine:
 * test-retest agreement over 20 representative ops (each measured twice,
 * independently prepared; |median1 - median2| / mean of the two), the CV of
 * the samples, the harness floor and the seconds a measurement costs.
 *
 * A benchmark of opcost itself, not a test: nothing here passes or fails.
 * usage: bench_retest [-t TARGET] [--cold] [--max-time S] */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "opcost/opcost.h"

/* MobileNet, ResNet and ViT shapes: every kind the LUT builder meets, from
 * tens of nanoseconds to milliseconds. */
static const char *const keys[] = {
    "conv2d.f32 h=112 w=112 cin=3 cout=32 k=3 s=2 g=1 d=1 act=relu6",
    "conv2d.f32 h=56 w=56 cin=24 cout=144 k=1 s=1 g=1 d=1 act=relu6",
    "conv2d.f32 h=56 w=56 cin=144 cout=144 k=3 s=2 g=144 d=1 act=relu6",
    "conv2d.f32 h=28 w=28 cin=144 cout=32 k=1 s=1 g=1 d=1 act=none",
    "conv2d.f32 h=14 w=14 cin=480 cout=480 k=5 s=1 g=480 d=1 act=relu",
    "conv2d.f32 h=28 w=28 cin=128 cout=128 k=3 s=1 g=1 d=1 act=relu",
    "conv2d.f32 h=7 w=7 cin=320 cout=1280 k=1 s=1 g=1 d=1 act=relu6",
    "conv2d.f32 h=28 w=28 cin=64 cout=64 k=3 s=1 g=4 d=1 act=relu",
    "conv2d.f32 h=14 w=14 cin=64 cout=64 k=3 s=1 g=1 d=2 act=none",
    "fc.f32 m=1 cin=1280 cout=1000 act=none",
    "fc.f32 m=197 cin=192 cout=768 act=gelu",
    "matmul.f32 b=3 m=197 k=64 n=197 tb=1",
    "maxpool2d.f32 h=56 w=56 c=64 k=3 s=2",
    "avgpool2d.f32 h=14 w=14 c=96 k=3 s=1",
    "gap.f32 h=7 w=7 c=1280",
    "act.f32 h=28 w=28 c=96 act=hswish",
    "add.f32 h=28 w=28 c=32 act=none",
    "mul.f32 h=14 w=14 c=480 bc=1",
    "layernorm.f32 h=1 w=197 c=192",
    "softmax.f32 h=3 w=197 c=197",
};
enum { n_keys = sizeof keys / sizeof keys[0] };

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static double median_of(double *v, int n) {
  if (n == 0) return NAN;
  qsort(v, (size_t)n, sizeof *v, cmp_double);
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static double load1(void) {
  struct oc_env e;
  oc_env_capture(NULL, &e);
  return e.load1;
}

int main(int argc, char **argv) {
  const char *target_name = "cpu";
  struct oc_measure_opts o;
  oc_measure_opts_default(&o);
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "-t") == 0 && i + 1 < argc)
      target_name = argv[++i];
    else if (strcmp(argv[i], "--cold") == 0)
      o.cache = oc_cache_cold;
    else if (strcmp(argv[i], "--max-time") == 0 && i + 1 < argc)
      o.max_time_s = atof(argv[++i]);
    else {
      fprintf(stderr, "usage: bench_retest [-t TARGET] [--cold] [--max-time S]\n");
      return 2;
    }
  }
  struct oc_target *t = NULL;
  enum oc_status st = oc_target_open(target_name, NULL, &t);
  if (st != oc_status_ok) {
    fprintf(stderr, "bench_retest: %s\n", oc_errmsg());
    return oc_status_exit_code(st);
  }
  double load_before = load1();
  double agree[n_keys], cvs[2 * n_keys], floors[2 * n_keys], seconds[2 * n_keys];
  int n_agree = 0, n_meas = 0;
  double steal_sum = 0;
  int64_t rejected = 0, samples = 0;
  struct oc_timer_info timer = {0};
  printf("%-66s %10s %10s %7s %6s %6s\n", "op", "median1 us", "median2 us", "|d|/med", "cv1",
         "cv2");
  for (int k = 0; k < n_keys; k++) {
    struct oc_op op;
    if (oc_op_parse(keys[k], &op) != oc_status_ok) {
      printf("%-66s skipped: %s\n", keys[k], oc_errmsg());
      continue;
    }
    struct oc_measurement m[2];
    bool ok = true;
    for (int r = 0; r < 2 && ok; r++) {
      st = oc_probe_op(t, &op, &o, &m[r]);
      if (st != oc_status_ok) {
        printf("%-66s skipped: %s\n", keys[k], oc_errmsg());
        ok = false;
        break;
      }
      cvs[n_meas] = m[r].stats.cv;
      floors[n_meas] = m[r].floor_ns;
      seconds[n_meas] = m[r].duration_s;
      if (!isnan(m[r].env.steal_pct)) steal_sum += m[r].env.steal_pct;
      rejected += m[r].rejected;
      samples += m[r].stats.n;
      timer = m[r].timer;
      n_meas++;
    }
    if (!ok) continue;
    double a = m[0].stats.median_us, b = m[1].stats.median_us;
    agree[n_agree++] = fabs(a - b) / (0.5 * (a + b));
    printf("%-66s %10.3f %10.3f %6.2f%% %5.1f%% %5.1f%%\n", keys[k], a, b, 100 * agree[n_agree - 1],
           100 * m[0].stats.cv, 100 * m[1].stats.cv);
  }
  double load_after = load1();
  double total_s = 0;
  for (int i = 0; i < n_meas; i++) total_s += seconds[i];
  double mean_s = n_meas ? total_s / n_meas : NAN;
  double max_agree = 0;
  for (int i = 0; i < n_agree; i++) max_agree = fmax(max_agree, agree[i]);
  printf("\ntarget %s, %d ops measured twice, cache %s, target CI %.1f %%, max time %.2f s\n",
         target_name, n_agree, o.cache == oc_cache_cold ? "cold" : "warm", 100 * o.target_ci,
         o.max_time_s);
  printf("test-retest |d|/median: median %.2f %%, max %.2f %%\n", 100 * median_of(agree, n_agree),
         100 * max_agree);
  printf("median CV of samples:   %.2f %%\n", 100 * median_of(cvs, n_meas));
  printf("harness floor:          %.1f ns per sample (median), clock %s\n",
         median_of(floors, n_meas), timer.name);
  printf("seconds per measurement: %.3f (mean), %.1f s in all\n", mean_s, total_s);
  printf("samples: %lld accepted, %lld disturbed and re-taken\n", (long long)samples,
         (long long)rejected);
  printf("load average (1 min): %.2f before, %.2f after; mean steal %.2f %%\n", load_before,
         load_after, n_meas ? steal_sum / n_meas : NAN);
  oc_target_close(t);
  return 0;
}

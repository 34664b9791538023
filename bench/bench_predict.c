/* bench_predict.c - how fast a loaded cost model predicts: one network with
 * a cold per-op cache (every kernel a miss: features, then ridge or
 * XGBoost), the same network again with the cache warm (what a search sees
 * once its space's kernels have been met), and a single cached op.
 *
 * A benchmark of opcost itself, not a test: nothing here passes or fails.
 * Each figure is the median over repeated timings (CLOCK_MONOTONIC).
 *
 * usage: bench_predict [-m MODEL.json] [NET.json...]
 *   Without -m a model is fitted first on a synthetic LUT (a roofline law
 *   with a SIMD-alignment step, XGBoost included) - its accuracy means
 *   nothing, its speed is representative. Without NET.json files, two
 *   built-in networks (a MobileNetV2-like and a ResNet-like stack) are used. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "opcost/model.h"

#define REPEATS 31

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static double median(double *v, size_t n) {
  qsort(v, n, sizeof *v, cmp_double);
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static const char *const builtin_nets[] = {
    "{\"format\":\"opcost-net/1\",\"name\":\"mbv2-like\",\"input\":{\"h\":224,\"w\":224,\"c\":3},"
    "\"dtype\":\"f32\",\"layers\":[{\"op\":\"conv2d\",\"cout\":32,\"k\":3,\"s\":2,\"act\":"
    "\"relu6\"},"
    "{\"op\":\"mbconv\",\"cout\":16,\"k\":3,\"s\":1,\"e\":1,\"act\":\"relu6\"},"
    "{\"op\":\"mbconv\",\"cout\":24,\"k\":3,\"s\":2,\"e\":6,\"act\":\"relu6\"},"
    "{\"op\":\"mbconv\",\"cout\":24,\"k\":3,\"s\":1,\"e\":6,\"act\":\"relu6\"},"
    "{\"op\":\"mbconv\",\"cout\":32,\"k\":3,\"s\":2,\"e\":6,\"act\":\"relu6\"},"
    "{\"op\":\"mbconv\",\"cout\":32,\"k\":3,\"s\":1,\"e\":6,\"act\":\"relu6\"},"
    "{\"op\":\"mbconv\",\"cout\":64,\"k\":3,\"s\":2,\"e\":6,\"act\":\"relu6\"},"
    "{\"op\":\"mbconv\",\"cout\":64,\"k\":3,\"s\":1,\"e\":6,\"act\":\"relu6\"},"
    "{\"op\":\"mbconv\",\"cout\":96,\"k\":3,\"s\":1,\"e\":6,\"act\":\"relu6\"},"
    "{\"op\":\"mbconv\",\"cout\":160,\"k\":3,\"s\":2,\"e\":6,\"act\":\"relu6\"},"
    "{\"op\":\"mbconv\",\"cout\":320,\"k\":3,\"s\":1,\"e\":6,\"act\":\"relu6\"},"
    "{\"op\":\"conv2d\",\"cout\":1280,\"k\":1,\"s\":1,\"act\":\"relu6\"},"
    "{\"op\":\"gap\"},{\"op\":\"fc\",\"cout\":1000}]}",
    "{\"format\":\"opcost-net/1\",\"name\":\"resnet-like\",\"input\":{\"h\":224,\"w\":224,\"c\":3},"
    "\"dtype\":\"f32\",\"layers\":[{\"op\":\"conv2d\",\"cout\":64,\"k\":7,\"s\":2,\"act\":\"relu\"}"
    ","
    "{\"op\":\"maxpool2d\",\"k\":3,\"s\":2},"
    "{\"op\":\"basic\",\"cout\":64,\"s\":1},{\"op\":\"basic\",\"cout\":64,\"s\":1},"
    "{\"op\":\"basic\",\"cout\":128,\"s\":2},{\"op\":\"basic\",\"cout\":128,\"s\":1},"
    "{\"op\":\"basic\",\"cout\":256,\"s\":2},{\"op\":\"basic\",\"cout\":256,\"s\":1},"
    "{\"op\":\"basic\",\"cout\":512,\"s\":2},{\"op\":\"basic\",\"cout\":512,\"s\":1},"
    "{\"op\":\"gap\"},{\"op\":\"fc\",\"cout\":1000}]}",
};

static struct oc_model_device synthetic_device(void) {
  struct oc_model_device d;
  memset(&d, 0, sizeof d);
  snprintf(d.fingerprint, sizeof d.fingerprint, "000000000be4c401");
  snprintf(d.target, sizeof d.target, "synthetic");
  snprintf(d.source, sizeof d.source, "profile");
  d.threads = 1;
  d.peak_gflops = 50;
  d.n_levels = 2;
  snprintf(d.levels[0].name, sizeof d.levels[0].name, "L2");
  d.levels[0].size_bytes = 1 << 20;
  d.levels[0].read_gbs = 50;
  snprintf(d.levels[1].name, sizeof d.levels[1].name, "DRAM");
  d.levels[1].read_gbs = 8;
  d.simd_bytes = 32;
  return d;
}

/* Every op kernel of the networks, at a latency from a roofline law with a
 * step for channel counts off the SIMD width. */
static int synthetic_model(struct oc_net **nets, int n_nets, struct oc_model **model) {
  struct oc_model_device d = synthetic_device();
  struct oc_model_data *data = NULL;
  if (oc_model_data_create(&data) != oc_status_ok) return 1;
  for (int i = 0; i < n_nets; i++) {
    for (int k = 0; k < nets[i]->n_kernels; k++) {
      const struct oc_net_kernel *kk = &nets[i]->kernels[k];
      if (kk->step != oc_net_step_op) continue;
      double us = 1.0 + 1.3 * oc_model_roofline_us(&d, &kk->op);
      if (kk->op.kind == oc_op_conv2d && kk->op.cout % 8 != 0) us *= 1.4;
      if (oc_model_data_add(data, &kk->op, us) != oc_status_ok) break;
    }
  }
  struct oc_model_fit_opts opts;
  oc_model_fit_opts_default(&opts);
  opts.xgb_max_rounds = 200;
  enum oc_status st = oc_model_fit(data, &d, NULL, &opts, model);
  oc_model_data_free(data);
  if (st != oc_status_ok) {
    fprintf(stderr, "bench_predict: fitting the synthetic model: %s\n", oc_errmsg());
    return 1;
  }
  return 0;
}

int main(int argc, char **argv) {
  const char *model_path = NULL;
  int first_net = 1;
  if (argc > 2 && strcmp(argv[1], "-m") == 0) {
    model_path = argv[2];
    first_net = 3;
  } else if (argc > 1 && argv[1][0] == '-') {
    fprintf(stderr, "usage: bench_predict [-m MODEL.json] [NET.json...]\n");
    return 2;
  }
  int n_nets = argc > first_net ? argc - first_net : 2;
  struct oc_net **nets = calloc((size_t)n_nets, sizeof *nets);
  struct oc_model *model = NULL;
  int rc = 1;
  for (int i = 0; i < n_nets; i++) {
    enum oc_status st = argc > first_net ? oc_net_load_file(argv[first_net + i], &nets[i])
                                         : oc_net_from_string(builtin_nets[i], "builtin", &nets[i]);
    if (st != oc_status_ok) {
      fprintf(stderr, "bench_predict: %s\n", oc_errmsg());
      goto done;
    }
  }
  double load_ms = NAN;
  if (model_path != NULL) {
    double t0 = now_s();
    if (oc_model_load(model_path, &model) != oc_status_ok) {
      fprintf(stderr, "bench_predict: %s\n", oc_errmsg());
      goto done;
    }
    load_ms = (now_s() - t0) * 1e3;
  } else if (synthetic_model(nets, n_nets, &model) != 0) {
    goto done;
  }
  printf("model: %s", model_path ? model_path : "fitted on a synthetic LUT (speed only)");
  if (!isnan(load_ms)) printf(", loaded in %.1f ms", load_ms);
  printf("\n%-20s %8s %14s %14s %12s\n", "network", "kernels", "cold us/net", "warm us/net",
         "warm ns/kern");
  double t_cold[REPEATS], t_warm[REPEATS];
  for (int i = 0; i < n_nets; i++) {
    struct oc_model_net_prediction p;
    for (int r = 0; r < REPEATS; r++) {
      oc_model_cache_clear(model);
      double t0 = now_s();
      if (oc_model_predict_net(model, nets[i], NULL, &p) != oc_status_ok) {
        fprintf(stderr, "bench_predict: %s\n", oc_errmsg());
        goto done;
      }
      t_cold[r] = (now_s() - t0) * 1e6;
    }
    /* Warm: many predictions per timing so each lasts well above the clock's step. */
    enum { INNER = 200 };
    for (int r = 0; r < REPEATS; r++) {
      double t0 = now_s();
      for (int j = 0; j < INNER; j++) (void)oc_model_predict_net(model, nets[i], NULL, &p);
      t_warm[r] = (now_s() - t0) * 1e6 / INNER;
    }
    double cold = median(t_cold, REPEATS), warm = median(t_warm, REPEATS);
    printf("%-20.20s %8d %14.1f %14.2f %12.1f\n", nets[i]->name, (int)nets[i]->n_kernels, cold,
           warm, warm * 1e3 / nets[i]->n_kernels);
  }
  /* One cached op. */
  const struct oc_net_kernel *k0 = NULL;
  for (int k = 0; k < nets[0]->n_kernels && k0 == NULL; k++)
    if (nets[0]->kernels[k].step == oc_net_step_op) k0 = &nets[0]->kernels[k];
  if (k0 != NULL) {
    struct oc_model_prediction p;
    enum { OPS = 100000 };
    (void)oc_model_predict_op(model, &k0->op, &p);
    double t0 = now_s();
    for (int j = 0; j < OPS; j++) (void)oc_model_predict_op(model, &k0->op, &p);
    printf("one cached op: %.1f ns\n", (now_s() - t0) * 1e9 / OPS);
  }
  rc = 0;
done:
  for (int i = 0; i < n_nets; i++) oc_net_free(nets[i]);
  free(nets);
  oc_model_free(model);
  return rc;
}

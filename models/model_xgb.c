/* model_xgb.c - the gradient-boosting candidate, through XGBoost's C API:
 * training, choosing the number of rounds by k-fold cross-validation,
 * prediction, and moving a booster in and out of XGBoost's own JSON (the
 * form embedded in model files, which Python's xgboost loads as is).
 *
 * XGBoost codes are translated here: a failure becomes oc_status_internal
 * with XGBGetLastError()'s text in the message. XGBoost's own logging is
 * silenced once per process (verbosity 0), so the library prints nothing. */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xgboost/c_api.h>

#include "core/core.h"
#include "models/model_internal.h"

static enum oc_status xgb_fail(const char *what) {
  return oc__fail(oc_status_internal, "XGBoost %s: %s", what, XGBGetLastError());
}

static pthread_once_t quiet_once = PTHREAD_ONCE_INIT;
static void make_quiet(void) { (void)XGBSetGlobalConfig("{\"verbosity\":0}"); }

static enum oc_status set_params(BoosterHandle b, const struct oc__xgb_params *p,
                                 double base_score) {
  char buf[64];
  struct {
    const char *name;
    char value[48];
  } kv[] = {{"objective", "reg:squarederror"},
            {"eval_metric", "rmse"},
            {"tree_method", "exact"},
            {"verbosity", "0"},
            {"max_depth", ""},
            {"eta", ""},
            {"nthread", ""},
            {"seed", ""},
            {"base_score", ""}};
  snprintf(kv[4].value, sizeof kv[4].value, "%d", p->max_depth);
  snprintf(kv[5].value, sizeof kv[5].value, "%.17g", p->eta);
  snprintf(kv[6].value, sizeof kv[6].value, "%d", p->threads > 0 ? p->threads : 1);
  snprintf(kv[7].value, sizeof kv[7].value, "%llu", (unsigned long long)(p->seed & 0x7fffffffu));
  snprintf(kv[8].value, sizeof kv[8].value, "%.9g", base_score);
  for (size_t i = 0; i < sizeof kv / sizeof kv[0]; i++) {
    if (XGBoosterSetParam(b, kv[i].name, kv[i].value) != 0) {
      snprintf(buf, sizeof buf, "parameter '%s'", kv[i].name);
      return xgb_fail(buf);
    }
  }
  return oc_status_ok;
}

static enum oc_status make_matrix(const float *x, const float *y, size_t n, size_t p,
                                  DMatrixHandle *d) {
  *d = NULL;
  if (XGDMatrixCreateFromMat(x, (bst_ulong)n, (bst_ulong)p, NAN, d) != 0) return xgb_fail("matrix");
  if (y != NULL && XGDMatrixSetFloatInfo(*d, "label", y, (bst_ulong)n) != 0) {
    XGDMatrixFree(*d);
    *d = NULL;
    return xgb_fail("labels");
  }
  return oc_status_ok;
}

static double mean_of(const float *y, size_t n) {
  double s = 0;
  for (size_t i = 0; i < n; i++) s += y[i];
  return n > 0 ? s / (double)n : 0;
}

enum oc_status oc__xgb_train(const float *x, const float *y, size_t n, size_t p,
                             const struct oc__xgb_params *params, int rounds, void **booster) {
  pthread_once(&quiet_once, make_quiet);
  *booster = NULL;
  DMatrixHandle d = NULL;
  BoosterHandle b = NULL;
  enum oc_status st = make_matrix(x, y, n, p, &d);
  if (st != oc_status_ok) return st;
  if (XGBoosterCreate(&d, 1, &b) != 0) {
    st = xgb_fail("create");
    goto done;
  }
  st = set_params(b, params, mean_of(y, n));
  if (st != oc_status_ok) goto done;
  for (int it = 0; it < rounds; it++) {
    if (XGBoosterUpdateOneIter(b, it, d) != 0) {
      st = xgb_fail("training round");
      goto done;
    }
  }
  *booster = b;
  b = NULL;
done:
  if (b != NULL) XGBoosterFree(b);
  XGDMatrixFree(d);
  return st;
}

static enum oc_status predict_matrix(BoosterHandle b, DMatrixHandle d, int rounds, size_t n,
                                     double *out) {
  char config[160];
  snprintf(config, sizeof config,
           "{\"type\":0,\"training\":false,\"iteration_begin\":0,\"iteration_end\":%d,"
           "\"strict_shape\":false}",
           rounds);
  const bst_ulong *shape = NULL;
  bst_ulong dim = 0;
  const float *result = NULL;
  if (XGBoosterPredictFromDMatrix(b, d, config, &shape, &dim, &result) != 0)
    return xgb_fail("prediction");
  if (dim < 1 || shape[0] != n)
    return oc__fail(oc_status_internal, "XGBoost prediction: %llu results for %zu rows",
                    dim >= 1 ? (unsigned long long)shape[0] : 0ULL, n);
  for (size_t i = 0; i < n; i++) out[i] = result[i];
  return oc_status_ok;
}

enum oc_status oc__xgb_predict(void *booster, const float *x, size_t n, size_t p, double *out) {
  DMatrixHandle d = NULL;
  enum oc_status st = make_matrix(x, NULL, n, p, &d);
  if (st != oc_status_ok) return st;
  st = predict_matrix(booster, d, 0, n, out);
  XGDMatrixFree(d);
  return st;
}

/* Number of rounds without improvement of the mean validation error after
 * which the cross-validation stops adding rounds. */
#define XGB_PATIENCE 50

enum oc_status oc__xgb_cv(const float *x, const float *y, size_t n, size_t p, const int *fold,
                          int k, const struct oc__xgb_params *params, int *best_rounds,
                          double *oof) {
  pthread_once(&quiet_once, make_quiet);
  enum oc_status st = oc_status_ok;
  BoosterHandle *b = calloc((size_t)k, sizeof *b);
  DMatrixHandle *dtrain = calloc((size_t)k, sizeof *dtrain);
  DMatrixHandle *dtest = calloc((size_t)k, sizeof *dtest);
  size_t *n_test = calloc((size_t)k, sizeof *n_test);
  float *xs = malloc(n * p * sizeof *xs);
  float *ys = malloc(n * sizeof *ys);
  double *tmp = malloc(n * sizeof *tmp);
  if (b == NULL || dtrain == NULL || dtest == NULL || n_test == NULL || xs == NULL || ys == NULL ||
      tmp == NULL) {
    st = oc__fail(oc_status_out_of_memory, "XGBoost CV: out of memory for %zu rows", n);
    goto done;
  }
  for (int f = 0; f < k; f++) {
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
      if (fold[i] == f) continue;
      memcpy(xs + m * p, x + i * p, p * sizeof *xs);
      ys[m++] = y[i];
    }
    st = make_matrix(xs, ys, m, p, &dtrain[f]);
    if (st != oc_status_ok) goto done;
    if (XGBoosterCreate(&dtrain[f], 1, &b[f]) != 0) {
      st = xgb_fail("create");
      goto done;
    }
    st = set_params(b[f], params, mean_of(ys, m));
    if (st != oc_status_ok) goto done;
    size_t t = 0;
    for (size_t i = 0; i < n; i++) {
      if (fold[i] != f) continue;
      memcpy(xs + t * p, x + i * p, p * sizeof *xs);
      ys[t++] = y[i];
    }
    n_test[f] = t;
    st = make_matrix(xs, ys, t, p, &dtest[f]);
    if (st != oc_status_ok) goto done;
  }
  /* All folds advance together, so the mean validation error of each round
   * is known and the search can stop once it stops improving. */
  double best = INFINITY;
  *best_rounds = 1;
  for (int it = 0; it < params->max_rounds; it++) {
    double se = 0;
    for (int f = 0; f < k; f++) {
      if (XGBoosterUpdateOneIter(b[f], it, dtrain[f]) != 0) {
        st = xgb_fail("training round");
        goto done;
      }
      const char *names[1] = {"valid"};
      const char *result = NULL;
      if (XGBoosterEvalOneIter(b[f], it, &dtest[f], names, 1, &result) != 0) {
        st = xgb_fail("evaluation");
        goto done;
      }
      const char *at = strstr(result, "valid-rmse:");
      if (at == NULL) {
        st = oc__fail(oc_status_internal, "XGBoost evaluation: no rmse in '%s'", result);
        goto done;
      }
      double rmse = strtod(at + strlen("valid-rmse:"), NULL);
      se += rmse * rmse * (double)n_test[f];
    }
    if (se < best * (1 - 1e-9)) {
      best = se;
      *best_rounds = it + 1;
    } else if (it + 1 - *best_rounds >= XGB_PATIENCE) {
      break;
    }
  }
  for (int f = 0; f < k; f++) {
    st = predict_matrix(b[f], dtest[f], *best_rounds, n_test[f], tmp);
    if (st != oc_status_ok) goto done;
    size_t t = 0;
    for (size_t i = 0; i < n; i++)
      if (fold[i] == f) oof[i] = tmp[t++];
  }
done:
  for (int f = 0; b != NULL && f < k; f++) {
    if (b[f] != NULL) XGBoosterFree(b[f]);
    if (dtrain[f] != NULL) XGDMatrixFree(dtrain[f]);
    if (dtest[f] != NULL) XGDMatrixFree(dtest[f]);
  }
  free(b);
  free(dtrain);
  free(dtest);
  free(n_test);
  free(xs);
  free(ys);
  free(tmp);
  return st;
}

enum oc_status oc__xgb_to_json(void *booster, json_t **json) {
  bst_ulong len = 0;
  const char *buf = NULL;
  if (XGBoosterSaveModelToBuffer(booster, "{\"format\":\"json\"}", &len, &buf) != 0)
    return xgb_fail("saving the booster");
  json_error_t err;
  *json = json_loadb(buf, (size_t)len, 0, &err);
  if (*json == NULL)
    return oc__fail(oc_status_internal, "XGBoost booster JSON: line %d: %s", err.line, err.text);
  return oc_status_ok;
}

enum oc_status oc__xgb_config_json(void *booster, json_t **json) {
  bst_ulong len = 0;
  const char *buf = NULL;
  if (XGBoosterSaveJsonConfig(booster, &len, &buf) != 0) return xgb_fail("saving the config");
  json_error_t err;
  *json = json_loadb(buf, (size_t)len, 0, &err);
  if (*json == NULL)
    return oc__fail(oc_status_internal, "XGBoost config JSON: line %d: %s", err.line, err.text);
  return oc_status_ok;
}

enum oc_status oc__xgb_from_json(const json_t *json, const char *where, void **booster) {
  pthread_once(&quiet_once, make_quiet);
  *booster = NULL;
  if (!json_is_object(json))
    return oc__fail(oc_status_invalid_argument, "%s: booster is not a JSON object", where);
  char *text = json_dumps(json, JSON_COMPACT);
  if (text == NULL) return oc__fail(oc_status_out_of_memory, "%s: out of memory", where);
  BoosterHandle b = NULL;
  enum oc_status st = oc_status_ok;
  if (XGBoosterCreate(NULL, 0, &b) != 0) {
    st = xgb_fail("create");
    goto done;
  }
  if (XGBoosterLoadModelFromBuffer(b, text, (bst_ulong)strlen(text)) != 0) {
    st = oc__fail(oc_status_invalid_argument, "%s: XGBoost cannot load the booster: %s", where,
                  XGBGetLastError());
    goto done;
  }
  if (XGBoosterSetParam(b, "nthread", "1") != 0) {
    st = xgb_fail("parameter 'nthread'");
    goto done;
  }
  *booster = b;
  b = NULL;
done:
  if (b != NULL) XGBoosterFree(b);
  free(text);
  return st;
}

void oc__xgb_free(void *booster) {
  if (booster != NULL) XGBoosterFree(booster);
}

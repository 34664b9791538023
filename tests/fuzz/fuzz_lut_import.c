/* fuzz_lut_import.c - LUT imports (CSV, JSON Lines, OFA/ProxylessNAS YAML):
 * the first byte picks the format, the rest is the file. Whatever the file
 * holds, the import either succeeds or fails leaving the store as it was
 * (one transaction per file). */
#include <unistd.h>

#include "opcost/lut.h"
#include "tests/fuzz/fuzz.h"

static char dir[64];
static struct oc_lut *lut;
static int uses;

/* A fresh store every 2000 inputs, so that it stays small. */
static void open_store(void) {
  char path[128];
  if (dir[0] == '\0') {
    snprintf(dir, sizeof dir, "/tmp/opcost-fuzz-lut-XXXXXX");
    if (mkdtemp(dir) == NULL) abort();
  }
  if (lut != NULL && uses++ < 2000) return;
  oc_lut_close(lut);
  static const char *const suffixes[] = {"", "-wal", "-shm"};
  for (int i = 0; i < 3; i++) {
    snprintf(path, sizeof path, "%s/store.db%s", dir, suffixes[i]);
    unlink(path);
  }
  snprintf(path, sizeof path, "%s/store.db", dir);
  if (oc_lut_open(path, oc_lut_create, &lut) != oc_status_ok) abort();
  uses = 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  static const char *const names[] = {"in.csv", "in.jsonl", "in.yaml"};
  static const enum oc_lut_format formats[] = {oc_lut_format_csv, oc_lut_format_jsonl,
                                               oc_lut_format_yaml};
  int which = data[0] % 3;
  open_store();
  char path[160];
  snprintf(path, sizeof path, "%s/%s", dir, names[which]);
  FILE *f = fopen(path, "wb");
  if (f == NULL) abort();
  fwrite(data + 1, 1, size - 1, f);
  fclose(f);
  int64_t before = 0, after = 0;
  FUZZ_CHECK(oc_lut_count(lut, NULL, &before) == oc_status_ok, "%s", oc_errmsg());
  struct oc_lut_import_opts opts = {.format = formats[which],
                                    .policy = oc_lut_prefer_samples,
                                    .device_name = "fuzz"};
  enum oc_status st = oc_lut_import(lut, path, &opts, NULL);
  FUZZ_CHECK(oc_lut_count(lut, NULL, &after) == oc_status_ok, "%s", oc_errmsg());
  if (st != oc_status_ok)
    FUZZ_CHECK(after == before, "a rejected import wrote %lld rows (%s)",
               (long long)(after - before), oc_errmsg());
  return 0;
}

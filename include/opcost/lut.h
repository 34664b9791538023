/* lut.h - latency and memory lookup tables: the SQLite store, the in-memory
 * cache the search queries millions of times, export/import (CSV, JSON Lines,
 * OFA/ProxylessNAS YAML), merge and diff of stores, and network prediction.
 *
 * A store is one SQLite database (docs/lut.md has the schema). A row is one
 * op (a kernel, or a whole block) measured on one device (its fingerprint)
 * with a number of threads; (fingerprint, threads, key) is unique. Every
 * write is one transaction, so a process killed at any moment leaves every
 * committed row in place and nothing half-written, and several processes
 * (shards) may write one store at once (WAL mode, busy timeout).
 *
 * A struct oc_lut is not thread-safe: one per thread. A loaded struct
 * oc_lut_cache is read-only and may be shared between threads. */
#ifndef OPCOST_LUT_H
#define OPCOST_LUT_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "opcost/net.h"
#include "opcost/op.h"
#include "opcost/probe.h"
#include "opcost/space.h"
#include "opcost/status.h"
#include "opcost/target.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The format tag in the store's meta table, and the schema version in
 * PRAGMA user_version. A store with a newer version is refused
 * (oc_status_incompatible); version 1 is the first (later versions will
 * migrate older stores when they are opened for writing). */
#define OC_LUT_FORMAT "opcost-lut"
#define OC_LUT_SCHEMA_VERSION 1
/* "2024-05-01T12:34:56Z" plus NUL. */
#define OC_LUT_TIME_MAX 32
/* Longest key a row holds, NUL included: kernel keys (OC_KEY_MAX) and block
 * keys of net.h (OC_NET_KEY_MAX). */
#define OC_LUT_KEY_MAX 384
/* How long a writer waits for another one holding the lock, in ms. */
#define OC_LUT_BUSY_TIMEOUT_MS 60000

enum oc_lut_mode {
  oc_lut_read_only,  /* the file must exist and be an opcost LUT */
  oc_lut_read_write, /* the file must exist and be an opcost LUT */
  oc_lut_create,     /* read-write; creates the file (or an empty one) */
};

enum oc_lut_granularity {
  oc_lut_kernel, /* primitive kernels (blocks expanded, as nn-Meter does) */
  oc_lut_block,  /* whole blocks, as the OFA/FBNet LUTs do */
};

enum oc_lut_source {
  oc_lut_measured, /* measured by `opcost lut build` */
  oc_lut_imported, /* read from another tool's table (YAML) */
};

/* What to do when a row's (fingerprint, threads, key) is already stored. */
enum oc_lut_policy {
  oc_lut_keep_existing, /* the stored row stays */
  oc_lut_prefer_samples, /* the row with more samples; on a tie the newer */
  oc_lut_prefer_newer,   /* the row measured later; on a tie more samples */
  oc_lut_replace,        /* the new row always */
  oc_lut_fail,           /* oc_status_invalid_argument naming the key */
};

/* One row. Strings are NUL-terminated. counters_json and env_json are JSON
 * objects (NULL reads as "{}"); rows handed to a callback point into memory
 * that is valid during the call only. */
struct oc_lut_row {
  char fingerprint[17];
  char target[32];
  int32_t threads;         /* >= 1 */
  char key[OC_LUT_KEY_MAX]; /* canonical key */
  char kind[32];           /* the key's kind ("conv2d", "mbconv") */
  char dtype[8];           /* the key's dtype ("f32") */
  enum oc_lut_granularity granularity;
  int64_t flops, macs;
  int64_t bytes;           /* activation inputs + weights + outputs */
  int64_t params;
  int64_t samples;         /* >= 1 */
  double median_us, p10_us, p90_us, min_us, mad_us; /* >= 0, finite */
  double cv;               /* coefficient of variation, >= 0 */
  int64_t weight_bytes;    /* weights + bias */
  int64_t activation_bytes; /* inputs + output */
  int64_t peak_bytes;      /* peak memory while running it; -1 when unknown */
  const char *counters_json;
  const char *env_json;
  enum oc_lut_source source;
  char measured_at[OC_LUT_TIME_MAX]; /* ISO 8601 UTC, "YYYY-MM-DDTHH:MM:SSZ" */
};

/* One device of the store's device table. */
struct oc_lut_device {
  char fingerprint[17];
  char target[32];
  char name[128];
  char isa[512];
  char runtime[128];
  const char *info_json; /* JSON object; NULL reads as "{}" */
};

/* Which rows a query visits; zeroed = all. */
struct oc_lut_filter {
  const char *fingerprint; /* NULL: every device */
  int32_t threads;         /* 0: every thread count */
  const char *kind;        /* NULL: every kind */
};

struct oc_lut; /* an open store */

const char *oc_lut_granularity_name(enum oc_lut_granularity granularity);
enum oc_status oc_lut_granularity_from_name(const char *name,
                                            enum oc_lut_granularity *granularity);
const char *oc_lut_source_name(enum oc_lut_source source);
enum oc_status oc_lut_source_from_name(const char *name, enum oc_lut_source *source);
const char *oc_lut_policy_name(enum oc_lut_policy policy);
enum oc_status oc_lut_policy_from_name(const char *name, enum oc_lut_policy *policy);

/* Opens a store. Fails, with the path in oc_errmsg(), with:
 *   io_error      the file cannot be opened or read, or it is corrupt or
 *                 truncated (the raw SQLite code and message are quoted)
 *   incompatible  it is not an SQLite file, an SQLite file that is not an
 *                 opcost LUT (no format tag), or its schema version is newer
 *                 than OC_LUT_SCHEMA_VERSION
 *   not_found     read_only/read_write and the file does not exist */
enum oc_status oc_lut_open(const char *path, enum oc_lut_mode mode, struct oc_lut **lut);
void oc_lut_close(struct oc_lut *lut); /* NULL-safe */
const char *oc_lut_path(const struct oc_lut *lut);

/* Explicit transaction around many writes (an import is all or nothing).
 * Without one, every write is its own transaction. begin takes the write lock
 * at once (BEGIN IMMEDIATE), waiting up to OC_LUT_BUSY_TIMEOUT_MS. */
enum oc_status oc_lut_begin(struct oc_lut *lut);
enum oc_status oc_lut_commit(struct oc_lut *lut);
void oc_lut_rollback(struct oc_lut *lut); /* no-op outside a transaction */

/* Fills dev from a described target; info_json is allocated: release it
 * with oc_lut_device_clear. */
enum oc_status oc_lut_device_from_info(const struct oc_device_info *info,
                                       struct oc_lut_device *dev);
void oc_lut_device_clear(struct oc_lut_device *dev);
/* Adds a device; an existing fingerprint keeps its entry, except that an
 * entry without info ("{}", made by a CSV import) takes the new info. */
enum oc_status oc_lut_put_device(struct oc_lut *lut, const struct oc_lut_device *dev);
/* not_found when the fingerprint is not in the device table. Strings of dev
 * stay valid until the next call on lut. */
enum oc_status oc_lut_get_device(struct oc_lut *lut, const char *fingerprint,
                                 struct oc_lut_device *dev);
typedef int (*oc_lut_device_fn)(void *ctx, const struct oc_lut_device *dev);
/* Calls fn for every device, by fingerprint; a non-zero return stops the
 * walk and oc_status_interrupted is returned. */
enum oc_status oc_lut_foreach_device(struct oc_lut *lut, oc_lut_device_fn fn, void *ctx);

/* Checks a row: key grammar (kind.dtype name=value ...; keys of ops.def
 * kinds must parse and be canonical), kind/dtype agree with the key, sizes
 * and counts >= 0, samples and threads >= 1, every latency finite and >= 0,
 * p10 <= median <= p90, JSON fields are objects, measured_at is ISO 8601 UTC.
 * invalid_argument names the field and value. */
enum oc_status oc_lut_row_validate(const struct oc_lut_row *row);
/* Sets kind, dtype, flops, macs, bytes, params, weight_bytes and
 * activation_bytes of row from row->key (a key of an ops.def kind). */
enum oc_status oc_lut_row_fill_costs(struct oc_lut_row *row);
/* Writes the current time, ISO 8601 UTC, into buf. */
void oc_lut_now(char buf[OC_LUT_TIME_MAX]);

enum oc_lut_put_result {
  oc_lut_inserted, /* a new row */
  oc_lut_replaced, /* the stored row was replaced */
  oc_lut_kept,     /* the stored row stayed */
};
/* Validates and writes one row; the device must be in the device table
 * (invalid_argument otherwise). On a duplicate, policy decides; result
 * (may be NULL) says what happened. */
enum oc_status oc_lut_put(struct oc_lut *lut, const struct oc_lut_row *row,
                          enum oc_lut_policy policy, enum oc_lut_put_result *result);
/* not_found when absent. The JSON strings of row stay valid until the next
 * call on lut. */
enum oc_status oc_lut_get(struct oc_lut *lut, const char *fingerprint, int32_t threads,
                          const char *key, struct oc_lut_row *row);
typedef int (*oc_lut_row_fn)(void *ctx, const struct oc_lut_row *row);
/* Calls fn for each row the filter selects (NULL: all), ordered by
 * fingerprint, threads, key; a non-zero return stops the walk and
 * oc_status_interrupted is returned. */
enum oc_status oc_lut_foreach(struct oc_lut *lut, const struct oc_lut_filter *filter,
                              oc_lut_row_fn fn, void *ctx);
enum oc_status oc_lut_count(struct oc_lut *lut, const struct oc_lut_filter *filter,
                            int64_t *count);

/* One (device, threads, granularity) group of rows, for summaries. */
struct oc_lut_group {
  char fingerprint[17];
  char target[32];
  int32_t threads;
  enum oc_lut_granularity granularity;
  int64_t rows;
  int64_t measured, imported;
  double total_median_us;
  char first_at[OC_LUT_TIME_MAX], last_at[OC_LUT_TIME_MAX];
};
typedef int (*oc_lut_group_fn)(void *ctx, const struct oc_lut_group *group);
enum oc_status oc_lut_foreach_group(struct oc_lut *lut, oc_lut_group_fn fn, void *ctx);

/* Picks the (fingerprint, threads) a query is about. fingerprint may be
 * NULL (any), a full fingerprint or a unique prefix; threads 0 = any. Fails
 * with not_found when nothing matches and invalid_argument, listing the
 * choices, when more than one does. */
enum oc_status oc_lut_resolve(struct oc_lut *lut, const char *fingerprint, int32_t threads,
                              char fingerprint_out[17], int32_t *threads_out);

/* The per-network overhead term of a device (a meta row; 0 when none is
 * stored): what a whole network costs beyond the sum of its parts. */
enum oc_status oc_lut_set_overhead(struct oc_lut *lut, const char *fingerprint,
                                   int32_t threads, double overhead_us);
enum oc_status oc_lut_get_overhead(struct oc_lut *lut, const char *fingerprint,
                                   int32_t threads, double *overhead_us);

/* ---- cache: key -> cost, loaded once, queried millions of times ---- */

struct oc_lut_entry {
  double median_us;
  int64_t weight_bytes;
  int64_t activation_bytes;
  int64_t peak_bytes; /* -1 when unknown */
};

struct oc_lut_cache;

/* Loads every row of (fingerprint, threads) into an open-addressing hash
 * map, with the overhead term. */
enum oc_status oc_lut_cache_load(struct oc_lut *lut, const char *fingerprint,
                                 int32_t threads, struct oc_lut_cache **cache);
void oc_lut_cache_free(struct oc_lut_cache *cache); /* NULL-safe */
/* The median of key in µs: true and *median_us set when the key is stored,
 * false when not. O(1) expected, no allocation. */
bool oc_lut_cache_get(const struct oc_lut_cache *cache, const char *key, double *median_us);
/* The whole entry of key, or NULL. Valid until the cache is freed. */
const struct oc_lut_entry *oc_lut_cache_find(const struct oc_lut_cache *cache, const char *key);
/* The same lookups by op descriptor (a network's kernel): no key is
 * formatted, so these are the fast path for kernel-granularity queries. */
bool oc_lut_cache_get_op(const struct oc_lut_cache *cache, const struct oc_op *op,
                         double *median_us);
const struct oc_lut_entry *oc_lut_cache_find_op(const struct oc_lut_cache *cache,
                                               const struct oc_op *op);
size_t oc_lut_cache_size(const struct oc_lut_cache *cache);
double oc_lut_cache_overhead_us(const struct oc_lut_cache *cache);
const char *oc_lut_cache_fingerprint(const struct oc_lut_cache *cache);
int32_t oc_lut_cache_threads(const struct oc_lut_cache *cache);

/* ---- export / import ---- */

enum oc_lut_format {
  oc_lut_format_auto, /* from the file name: .csv, .jsonl/.ndjson, .yaml/.yml */
  oc_lut_format_csv,
  oc_lut_format_jsonl,
  oc_lut_format_yaml, /* OFA/ProxylessNAS latency tables (oc_lut_export_yaml) */
};
enum oc_status oc_lut_format_from_name(const char *name, enum oc_lut_format *format);
/* The format a file name implies; invalid_argument when none. */
enum oc_status oc_lut_format_of_path(const char *path, enum oc_lut_format *format);

/* The CSV header line oc_lut_export writes (without the newline). */
const char *oc_lut_csv_header(void);

/* Writes the selected rows to out (CSV: the header, then one line a row;
 * JSON Lines: one object a row, with its device). name is used in messages. */
enum oc_status oc_lut_export(struct oc_lut *lut, const struct oc_lut_filter *filter,
                             enum oc_lut_format format, FILE *out, const char *name);

/* Writes one device's rows (fingerprint: NULL, full or a unique prefix;
 * threads 0 = the only count stored) as an OFA (family "mbv3") or
 * ProxylessNAS ("proxyless") latency table that their LatencyEstimator
 * reads: KEY: {count, mean, var}, mean in units of unit_us (0: ms). family
 * NULL: mbv3 when a block has squeeze-excite or h-swish. Only rows whose
 * table key maps back onto exactly their opcost key are written (blocks,
 * the 3x3 and 1x1 convs, global pooling, the classifier); the others are
 * counted in the report. */
struct oc_lut_yaml_report {
  int64_t written;
  int64_t skipped;
  char first_skipped[OC_LUT_KEY_MAX];
  char family[16];
  char fingerprint[17];
  int32_t threads;
};
enum oc_status oc_lut_export_yaml(struct oc_lut *lut, const char *fingerprint, int32_t threads,
                                  const char *family, double unit_us, FILE *out, const char *name,
                                  struct oc_lut_yaml_report *report);

struct oc_lut_import_opts {
  enum oc_lut_format format;   /* auto: from the path */
  enum oc_lut_policy policy;   /* duplicates already stored */
  /* YAML only: the device the table was measured on. The fingerprint is
   * derived from the name ("imported:NAME") unless given. */
  const char *device_name;
  const char *fingerprint;
  const char *target;          /* NULL: "imported" */
  int32_t threads;             /* 0: 1 */
  /* YAML only: microseconds per unit of the table's "mean" (the OFA and
   * ProxylessNAS tables are in ms: 1000, the default when 0). */
  double yaml_unit_us;
  /* YAML only: network family the keys come from ("proxyless" or "mbv3");
   * NULL: decided from the keys (se:/hs: fields mean mbv3). */
  const char *yaml_family;
};

struct oc_lut_import_report {
  int64_t read;     /* rows in the file */
  int64_t inserted; /* new rows */
  int64_t replaced; /* stored rows replaced by the policy */
  int64_t kept;     /* rows of the file the policy dropped */
  /* YAML entries that parse but have no opcost equivalent (ProxylessNAS
   * "Logits" over HxW > 1 is pooling and classifier in one figure): skipped,
   * counted, the first one named. */
  int64_t skipped;
  char first_skipped[OC_LUT_KEY_MAX + 32];
};

/* Reads a CSV, JSON Lines or YAML file into the store in one transaction: a
 * bad row (a NaN or negative latency, a key that does not parse, a missing
 * column) fails with parse_error or invalid_argument naming the file and the
 * line, and nothing is written. */
enum oc_status oc_lut_import(struct oc_lut *lut, const char *path,
                             const struct oc_lut_import_opts *opts,
                             struct oc_lut_import_report *report);

/* The opcost key of one OFA/ProxylessNAS YAML key, e.g.
 *   expanded_conv-input:112x112x16-output:56x56x24-expand:6-kernel:3-stride:2-idskip:0
 *   Conv-input:224x224x3-output:112x112x16     Logits-input:7x7x960-output:1000
 * family is "proxyless" or "mbv3" (expand: is the ratio in the first, the
 * middle channel count in the second); dtype is the key's dtype. Writes the
 * key and its granularity. parse_error names the part that is wrong;
 * unsupported means the key parses but no opcost key measures the same
 * work. */
enum oc_status oc_lut_ofa_key(const char *ofa_key, const char *family, enum oc_dtype dtype,
                              char *key, size_t key_size,
                              enum oc_lut_granularity *granularity);

/* ---- merge and diff ---- */

struct oc_lut_merge_report {
  int64_t devices;  /* device entries read */
  int64_t read;     /* rows read */
  int64_t inserted, replaced, kept;
  int64_t flagged;  /* duplicates whose medians differ by more than the threshold */
};
/* Called for each flagged duplicate: the stored and the incoming row, and
 * whether the incoming one won. */
typedef void (*oc_lut_flag_fn)(void *ctx, const struct oc_lut_row *stored,
                               const struct oc_lut_row *incoming, bool incoming_won);

/* Copies every device and row of the store at src_path into dst, in one
 * transaction; duplicates go by policy (oc_lut_fail: the first one stops
 * the merge and nothing is written). A duplicate whose medians differ by a
 * ratio above flag_ratio (e.g. 1.10; 0 = never) is flagged. */
enum oc_status oc_lut_merge(struct oc_lut *dst, const char *src_path, enum oc_lut_policy policy,
                            double flag_ratio, oc_lut_flag_fn flag, void *flag_ctx,
                            struct oc_lut_merge_report *report);

struct oc_lut_diff_item {
  char key[OC_LUT_KEY_MAX];
  double a_us, b_us;
  double ratio; /* b / a */
};
struct oc_lut_diff {
  int64_t common, only_a, only_b;
  double geomean_ratio;   /* of b / a over common keys with a, b > 0; 0 if none */
  double min_ratio, max_ratio;
  struct oc_lut_diff_item *items; /* common keys, largest |log ratio| first */
  size_t n_items;
  char (*only_a_keys)[OC_LUT_KEY_MAX]; /* sorted */
  char (*only_b_keys)[OC_LUT_KEY_MAX];
};
/* Compares the rows of (fp_a, threads_a) in a with those of (fp_b,
 * threads_b) in b (a and b may be one store). */
enum oc_status oc_lut_diff(struct oc_lut *a, const char *fp_a, int32_t threads_a,
                           struct oc_lut *b, const char *fp_b, int32_t threads_b,
                           struct oc_lut_diff *diff);
void oc_lut_diff_clear(struct oc_lut_diff *diff); /* NULL-safe */

/* ---- build ---- */

/* The unique ops a build measures: kernels (canonical op keys after block
 * expansion) or blocks (layer keys of net.h; a primitive layer's key is its
 * op key). Keys are deduplicated as they are added. */
struct oc_lut_plan;

enum oc_status oc_lut_plan_create(enum oc_lut_granularity granularity,
                                  struct oc_lut_plan **plan);
void oc_lut_plan_free(struct oc_lut_plan *plan); /* NULL-safe */
enum oc_lut_granularity oc_lut_plan_granularity(const struct oc_lut_plan *plan);
/* Adds the ops of a loaded network. */
enum oc_status oc_lut_plan_add_net(struct oc_lut_plan *plan, const struct oc_net *net);
/* Adds every op of a space at the given resolutions (NULL/0: all of the
 * space's resolution choices). */
enum oc_status oc_lut_plan_add_space(struct oc_lut_plan *plan, const struct oc_space *space,
                                     const int32_t *resolutions, size_t n_resolutions);
/* Adds one key: a kernel key (oc_op_parse) or, for a block plan, a layer
 * key that builds a one-layer network (oc_lut_block_net). */
enum oc_status oc_lut_plan_add_key(struct oc_lut_plan *plan, const char *key);
size_t oc_lut_plan_size(const struct oc_lut_plan *plan);
/* Keys in sorted order (sorting happens on the first call after adding). */
const char *oc_lut_plan_key(struct oc_lut_plan *plan, size_t index);

/* The one-layer network whose layer key is `key` (a block key such as
 * "mbconv.f32 h=28 w=28 cin=40 cout=40 k=5 s=1 e=6 se=1 act=relu", or a
 * primitive op key): the key's h, w and cin (or c) are the input, the other
 * fields the layer's arguments. parse_error when the key does not build a
 * layer with exactly that key. */
enum oc_status oc_lut_block_net(const char *key, struct oc_net **net);

/* Which shard a key belongs to: a hash of the key modulo shard_count, so
 * every shard of a fleet picks the same split from the same plan. */
int32_t oc_lut_shard_of(const char *key, int32_t shard_count);

struct oc_lut_build_progress {
  int64_t done;     /* ops handled so far in this shard (measured or failed) */
  int64_t total;    /* ops of this shard left to measure when the build began */
  const char *key;  /* the op just handled */
  double median_us; /* its median, or -1 when it failed */
  const char *error; /* why it failed (unsupported by the target), or NULL */
};

struct oc_lut_build_opts {
  int32_t shard_index, shard_count;      /* 0 and 1 (or 0): everything */
  double time_budget_s;                  /* 0: none; stops before an op that
                                            would likely end past it */
  const struct oc_measure_opts *measure; /* NULL: oc_measure_opts_default */
  void (*progress)(void *ctx, const struct oc_lut_build_progress *progress);
  void *progress_ctx;
  /* Polled between ops; a non-zero value stops the build (a signal handler
   * sets it). May be NULL. */
  const volatile sig_atomic_t *stop;
};

struct oc_lut_build_report {
  char fingerprint[17];
  int32_t threads;
  int64_t planned;     /* unique ops of the plan */
  int64_t in_shard;    /* of those, this shard's */
  int64_t stored;      /* already stored for this device and threads: skipped */
  int64_t measured;    /* measured and committed by this build */
  int64_t raced;       /* measured, but another writer committed it first */
  int64_t unsupported; /* the target does not run them */
  int64_t remaining;   /* left for a later run (time budget or stop) */
  bool budget_exhausted, stopped;
  char first_unsupported[OC_LUT_KEY_MAX + 160];
  double elapsed_s;
};

/* Measures every op of the plan in this shard that the store lacks for the
 * target's device (fingerprint) and thread count, committing each row as
 * soon as it is measured: a killed build loses at most the op in flight and
 * a rerun resumes. Ops the target does not support are counted and skipped;
 * any other failure stops the build with its status (rows committed so far
 * stay). Blocks run as one-layer networks (targets with oc_cap_networks). */
enum oc_status oc_lut_build(struct oc_lut *lut, struct oc_target *target,
                            struct oc_lut_plan *plan, const struct oc_lut_build_opts *opts,
                            struct oc_lut_build_report *report);

/* ---- prediction ---- */

/* What a device's roofline predicts for an op the LUT lacks:
 * max(flops / peak, bytes / bandwidth) + launch_us. */
struct oc_lut_roofline {
  double peak_gflops;   /* GFLOP/s */
  double bandwidth_gbs; /* GB/s */
  double launch_us;     /* fixed cost per kernel */
};
/* From a device profile (probe.h): all-core figures for threads > 1, one
 * core's otherwise. invalid_argument when the profile lacks them. */
enum oc_status oc_lut_roofline_from_profile(const struct oc_device_profile *profile,
                                            int32_t threads, struct oc_lut_roofline *roofline);
double oc_lut_roofline_us(const struct oc_lut_roofline *roofline, int64_t flops, int64_t bytes);

enum oc_lut_origin {
  oc_lut_from_lut,      /* the LUT's median */
  oc_lut_from_roofline, /* a miss, filled from the roofline */
  oc_lut_from_nothing,  /* a miss with no roofline (only in a failed strict=false
                           prediction's listing) */
};
const char *oc_lut_origin_name(enum oc_lut_origin origin); /* "lut", "roofline", "none" */

struct oc_lut_pred_item {
  int32_t layer;  /* layer index */
  int32_t kernel; /* kernel index; -1 at block granularity */
  char key[OC_LUT_KEY_MAX]; /* "(heads_split)" etc. for data moves without a key */
  double us;
  enum oc_lut_origin origin;
  int64_t flops, bytes;
};

struct oc_lut_prediction {
  double total_us;    /* sum of items + overhead */
  double overhead_us; /* the stored per-network term (0 when none) */
  double lut_us, roofline_us;
  int32_t n_items;
  struct oc_lut_pred_item *items;
  int32_t misses;     /* items not in the LUT */
  int64_t weight_bytes;
  int64_t peak_activation_bytes; /* liveness schedule of net.h */
  int64_t peak_memory_bytes;     /* weights + peak activations */
};

/* Predicts a network from a loaded cache: the sum over its kernels
 * (kernel granularity; data moves without a key count as misses) or its
 * layers (block granularity), plus the cache's overhead term. A miss is
 * filled from roofline (when given) and flagged; with strict, or without a
 * roofline, misses fail with not_found naming them (pred still lists every
 * item, the misses with origin none). */
enum oc_status oc_lut_predict(const struct oc_lut_cache *cache, const struct oc_net *net,
                              enum oc_lut_granularity granularity,
                              const struct oc_lut_roofline *roofline, bool strict,
                              struct oc_lut_prediction *pred);
void oc_lut_prediction_clear(struct oc_lut_prediction *pred); /* NULL-safe */

/* The total alone, without allocating (the search's inner loop): *total_us
 * and the number of misses (filled from roofline when given). not_found on a
 * miss without a roofline or with strict. */
enum oc_status oc_lut_predict_us(const struct oc_lut_cache *cache, const struct oc_net *net,
                                 enum oc_lut_granularity granularity,
                                 const struct oc_lut_roofline *roofline, bool strict,
                                 double *total_us, int32_t *misses);

#ifdef __cplusplus
}
#endif
#endif

/* lut_internal.h - what the files of lut/ share: the open store (its SQLite
 * connection and prepared statements), SQLite error translation, row
 * binding/reading, key checks and a string set. Not public. */
#ifndef OPCOST_LUT_INTERNAL_H
#define OPCOST_LUT_INTERNAL_H

#include <sqlite3.h>

#include "opcost/lut.h"
#include "opcost/net.h"

/* Prepared statements of a store, made on first use and kept until close. */
enum lut_stmt_id {
  lut_stmt_put_device,
  lut_stmt_get_device,
  lut_stmt_insert_row,
  lut_stmt_replace_row,
  lut_stmt_conflict_row,
  lut_stmt_get_row,
  lut_stmt_get_meta,
  lut_stmt_set_meta,
  lut_stmt__count
};

struct oc_lut {
  sqlite3 *db;
  char *path;
  bool read_only;
  bool in_txn; /* inside oc_lut_begin/commit */
  sqlite3_stmt *stmts[lut_stmt__count];
};

/* Records "PATH: WHAT: sqlite error CODE (NAME): MESSAGE" and returns the
 * status the code maps to (busy -> timeout, corrupt -> io_error, not a
 * database -> incompatible, constraint -> invalid_argument, ...). */
enum oc_status oc__lut_sqlfail(const struct oc_lut *lut, int rc, const char *what);

/* The prepared statement id of lut, reset and with bindings cleared. */
enum oc_status oc__lut_stmt(struct oc_lut *lut, enum lut_stmt_id id, sqlite3_stmt **stmt);
/* Prepares sql (a statement the caller finalizes). */
enum oc_status oc__lut_prepare(struct oc_lut *lut, const char *sql, sqlite3_stmt **stmt);
/* Runs sql that returns no rows. */
enum oc_status oc__lut_exec(struct oc_lut *lut, const char *sql);

/* The columns a row is selected with, in the order oc__lut_read_row reads. */
#define OC__LUT_ROW_COLUMNS                                                           \
  "fingerprint, target, threads, key, kind, dtype, granularity, flops, macs, bytes, " \
  "params, samples, median_us, p10_us, p90_us, min_us, mad_us, cv, weight_bytes, "    \
  "activation_bytes, peak_bytes, counters, env, source, measured_at"
/* Reads a row selected with OC__LUT_ROW_COLUMNS starting at column 0. The
 * JSON pointers point into the statement (valid until it steps again). */
enum oc_status oc__lut_read_row(const struct oc_lut *lut, sqlite3_stmt *stmt,
                                struct oc_lut_row *row);

/* Checks the grammar of a key (kind.dtype name=value ...) and that keys of
 * ops.def kinds are canonical; fills kind and dtype (sizes 32 and 8). */
enum oc_status oc__lut_check_key(const char *key, char kind[32], char dtype[8]);

/* Parses "YYYY-MM-DDTHH:MM:SSZ"; false when malformed. */
bool oc__lut_valid_time(const char *text);

/* Fast 64-bit hash of a string (the cache's and the string set's). */
uint64_t oc__lut_hash(const char *text, size_t len);

/* A set of strings (keys seen by an import). */
struct oc__lut_strset {
  char **slots;
  size_t cap, count;
};
/* Adds text; *added is false when it was present. */
enum oc_status oc__lut_strset_add(struct oc__lut_strset *set, const char *text, bool *added);
void oc__lut_strset_clear(struct oc__lut_strset *set);

/* Formats a double so that strtod gives it back exactly (shortest of %.15g,
 * %.16g, %.17g). */
void oc__lut_format_double(double value, char *buf, size_t size);

/* put with the stored row's median, samples and time reported on conflict
 * (stored_median_us < 0 when there was none). */
enum oc_status oc__lut_put(struct oc_lut *lut, const struct oc_lut_row *row,
                           enum oc_lut_policy policy, enum oc_lut_put_result *result,
                           double *stored_median_us);

/* Derived fingerprint of an imported device: 16 hex digits of a hash of
 * "imported:" and its name. */
void oc__lut_imported_fingerprint(const char *name, char out[17]);

/* Sets flops, macs, params, weight_bytes, activation_bytes (the layer's
 * input and output), bytes and peak_bytes (weights plus the layer's peak of
 * live activations) of row from a layer of a loaded network. */
void oc__lut_row_costs_from_layer(struct oc_lut_row *row, const struct oc_net *net,
                                  const struct oc_net_layer *layer);

/* One import in progress: every file format feeds its rows through
 * oc__lut_import_row, inside one transaction of the store. */
struct oc__lut_import {
  struct oc_lut *lut;
  const char *path;
  enum oc_lut_policy policy;
  struct oc__lut_strset seen_rows;    /* "fingerprint/threads/key" of this file */
  struct oc__lut_strset seen_devices; /* fingerprints written by this import */
  struct oc_lut_import_report *report;
};
/* Writes the device of a row once per import (dev may be NULL: the device
 * then must exist, or gets an entry with only its target). */
enum oc_status oc__lut_import_device(struct oc__lut_import *imp, const struct oc_lut_device *dev,
                                     long line);
/* Validates and writes one row read at line of the file. */
enum oc_status oc__lut_import_row(struct oc__lut_import *imp, const struct oc_lut_row *row,
                                  long line);
/* The YAML reader (lut_yaml.c). */
enum oc_status oc__lut_import_yaml(struct oc__lut_import *imp,
                                   const struct oc_lut_import_opts *opts);

#endif

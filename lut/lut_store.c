/* lut_store.c - the SQLite store behind oc_lut: opening (format, version and
 * integrity checks), the schema, devices, rows, transactions, meta rows and
 * the translation of every SQLite error into an oc_status whose message names
 * the file and quotes SQLite's own code and message.
 *
 * Durability: every write is a transaction of its own unless the caller
 * opened one, and the store runs in WAL mode with synchronous=NORMAL, which
 * keeps every committed transaction through a killed process (not through a
 * power cut, which may lose the last ones but never corrupts the file).
 * Writers take the lock with BEGIN IMMEDIATE so that a busy store makes them
 * wait (busy timeout) instead of failing half-way. */
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "core/core.h"
#include "lut/lut_internal.h"
#include "opcost/probe.h"

/* The schema of version 1 (docs/lut.md documents every column). NULL in
 * p10/p90/min/mad/cv/peak means "unknown" (tables imported from tools that
 * only keep a mean). */
static const char *const schema_v1 =
    "CREATE TABLE meta(\n"
    "  name TEXT PRIMARY KEY,\n"
    "  value TEXT NOT NULL) WITHOUT ROWID;\n"
    "CREATE TABLE device(\n"
    "  fingerprint TEXT PRIMARY KEY CHECK(length(fingerprint) BETWEEN 1 AND 16),\n"
    "  target TEXT NOT NULL,\n"
    "  name TEXT NOT NULL,\n"
    "  isa TEXT NOT NULL,\n"
    "  runtime TEXT NOT NULL,\n"
    "  info TEXT NOT NULL CHECK(json_valid(info)));\n"
    "CREATE TABLE lut_row(\n"
    "  id INTEGER PRIMARY KEY,\n"
    "  fingerprint TEXT NOT NULL REFERENCES device(fingerprint),\n"
    "  target TEXT NOT NULL,\n"
    "  threads INTEGER NOT NULL CHECK(threads >= 1),\n"
    "  key TEXT NOT NULL,\n"
    "  kind TEXT NOT NULL,\n"
    "  dtype TEXT NOT NULL,\n"
    "  granularity TEXT NOT NULL CHECK(granularity IN ('kernel', 'block')),\n"
    "  flops INTEGER NOT NULL CHECK(flops >= 0),\n"
    "  macs INTEGER NOT NULL CHECK(macs >= 0),\n"
    "  bytes INTEGER NOT NULL CHECK(bytes >= 0),\n"
    "  params INTEGER NOT NULL CHECK(params >= 0),\n"
    "  samples INTEGER NOT NULL CHECK(samples >= 1),\n"
    "  median_us REAL NOT NULL CHECK(median_us >= 0),\n"
    "  p10_us REAL CHECK(p10_us >= 0),\n"
    "  p90_us REAL CHECK(p90_us >= 0),\n"
    "  min_us REAL CHECK(min_us >= 0),\n"
    "  mad_us REAL CHECK(mad_us >= 0),\n"
    "  cv REAL CHECK(cv >= 0),\n"
    "  weight_bytes INTEGER NOT NULL CHECK(weight_bytes >= 0),\n"
    "  activation_bytes INTEGER NOT NULL CHECK(activation_bytes >= 0),\n"
    "  peak_bytes INTEGER CHECK(peak_bytes >= 0),\n"
    "  counters TEXT NOT NULL CHECK(json_valid(counters)),\n"
    "  env TEXT NOT NULL CHECK(json_valid(env)),\n"
    "  source TEXT NOT NULL CHECK(source IN ('measured', 'imported')),\n"
    "  measured_at TEXT NOT NULL,\n"
    "  UNIQUE(fingerprint, threads, key));\n"
    "CREATE INDEX lut_row_kind ON lut_row(fingerprint, threads, kind);\n";

static const char *const stmt_sql[lut_stmt__count] = {
    [lut_stmt_put_device] =
        "INSERT INTO device(fingerprint, target, name, isa, runtime, info) "
        "VALUES(?1, ?2, ?3, ?4, ?5, json(?6)) ON CONFLICT(fingerprint) DO UPDATE SET "
        "target = excluded.target, name = excluded.name, isa = excluded.isa, "
        "runtime = excluded.runtime, info = excluded.info "
        "WHERE device.info = '{}' AND excluded.info <> '{}'",
    [lut_stmt_get_device] =
        "SELECT fingerprint, target, name, isa, runtime, info FROM device WHERE fingerprint = ?1",
    [lut_stmt_insert_row] =
        "INSERT INTO lut_row(fingerprint, target, threads, key, kind, dtype, granularity, "
        "flops, macs, bytes, params, samples, median_us, p10_us, p90_us, min_us, mad_us, cv, "
        "weight_bytes, activation_bytes, peak_bytes, counters, env, source, measured_at) "
        "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, "
        "?18, ?19, ?20, ?21, json(?22), json(?23), ?24, ?25) "
        "ON CONFLICT(fingerprint, threads, key) DO NOTHING",
    [lut_stmt_replace_row] =
        "UPDATE lut_row SET target = ?2, kind = ?5, dtype = ?6, granularity = ?7, flops = ?8, "
        "macs = ?9, bytes = ?10, params = ?11, samples = ?12, median_us = ?13, p10_us = ?14, "
        "p90_us = ?15, min_us = ?16, mad_us = ?17, cv = ?18, weight_bytes = ?19, "
        "activation_bytes = ?20, peak_bytes = ?21, counters = json(?22), env = json(?23), "
        "source = ?24, measured_at = ?25 WHERE fingerprint = ?1 AND threads = ?3 AND key = ?4",
    [lut_stmt_conflict_row] = "SELECT samples, measured_at, median_us FROM lut_row "
                              "WHERE fingerprint = ?1 AND threads = ?2 AND key = ?3",
    [lut_stmt_get_row] = "SELECT " OC__LUT_ROW_COLUMNS " FROM lut_row "
                         "WHERE fingerprint = ?1 AND threads = ?2 AND key = ?3",
    [lut_stmt_get_meta] = "SELECT value FROM meta WHERE name = ?1",
    [lut_stmt_set_meta] = "INSERT INTO meta(name, value) VALUES(?1, ?2) "
                          "ON CONFLICT(name) DO UPDATE SET value = excluded.value",
};

/* ---- names ---- */

const char *oc_lut_granularity_name(enum oc_lut_granularity granularity) {
  return granularity == oc_lut_block ? "block" : "kernel";
}

enum oc_status oc_lut_granularity_from_name(const char *name,
                                            enum oc_lut_granularity *granularity) {
  if (name && strcmp(name, "kernel") == 0) *granularity = oc_lut_kernel;
  else if (name && strcmp(name, "block") == 0) *granularity = oc_lut_block;
  else
    return oc__fail(oc_status_invalid_argument,
                    "granularity '%s': expected 'kernel' or 'block'", name ? name : "");
  return oc_status_ok;
}

const char *oc_lut_source_name(enum oc_lut_source source) {
  return source == oc_lut_imported ? "imported" : "measured";
}

enum oc_status oc_lut_source_from_name(const char *name, enum oc_lut_source *source) {
  if (name && strcmp(name, "measured") == 0) *source = oc_lut_measured;
  else if (name && strcmp(name, "imported") == 0) *source = oc_lut_imported;
  else
    return oc__fail(oc_status_invalid_argument,
                    "source '%s': expected 'measured' or 'imported'", name ? name : "");
  return oc_status_ok;
}

static const char *const policy_names[] = {
    [oc_lut_keep_existing] = "keep", [oc_lut_prefer_samples] = "samples",
    [oc_lut_prefer_newer] = "newer", [oc_lut_replace] = "replace", [oc_lut_fail] = "fail"};

const char *oc_lut_policy_name(enum oc_lut_policy policy) {
  if ((unsigned)policy < sizeof policy_names / sizeof policy_names[0]) return policy_names[policy];
  return "unknown";
}

enum oc_status oc_lut_policy_from_name(const char *name, enum oc_lut_policy *policy) {
  for (size_t i = 0; name && i < sizeof policy_names / sizeof policy_names[0]; i++) {
    if (strcmp(name, policy_names[i]) == 0) {
      *policy = (enum oc_lut_policy)i;
      return oc_status_ok;
    }
  }
  return oc__fail(oc_status_invalid_argument,
                  "policy '%s': expected keep, samples, newer, replace or fail",
                  name ? name : "");
}

/* ---- SQLite boundary ---- */

static enum oc_status status_of(int rc) {
  switch (rc & 0xff) {
  case SQLITE_NOMEM: return oc_status_out_of_memory;
  case SQLITE_BUSY:
  case SQLITE_LOCKED: return oc_status_timeout;
  case SQLITE_NOTADB: return oc_status_incompatible;
  case SQLITE_CORRUPT:
  case SQLITE_IOERR:
  case SQLITE_CANTOPEN:
  case SQLITE_FULL:
  case SQLITE_READONLY:
  case SQLITE_PERM:
  case SQLITE_PROTOCOL:
  case SQLITE_AUTH: return oc_status_io_error;
  case SQLITE_CONSTRAINT:
  case SQLITE_MISMATCH:
  case SQLITE_RANGE:
  case SQLITE_TOOBIG: return oc_status_invalid_argument;
  case SQLITE_INTERRUPT: return oc_status_interrupted;
  default: return oc_status_internal;
  }
}

enum oc_status oc__lut_sqlfail(const struct oc_lut *lut, int rc, const char *what) {
  const char *path = lut && lut->path ? lut->path : "(lut)";
  const char *msg = lut && lut->db ? sqlite3_errmsg(lut->db) : sqlite3_errstr(rc);
  const char *hint = "";
  if ((rc & 0xff) == SQLITE_CORRUPT) hint = " (the file is corrupt or truncated)";
  else if ((rc & 0xff) == SQLITE_NOTADB) hint = " (not an SQLite database, so not an opcost LUT)";
  else if ((rc & 0xff) == SQLITE_BUSY) hint = " (another writer held the lock too long)";
  return oc__fail(status_of(rc), "%s: %s: sqlite error %d: %s%s", path, what, rc, msg, hint);
}

enum oc_status oc__lut_prepare(struct oc_lut *lut, const char *sql, sqlite3_stmt **stmt) {
  *stmt = NULL;
  int rc = sqlite3_prepare_v2(lut->db, sql, -1, stmt, NULL);
  if (rc != SQLITE_OK) return oc__lut_sqlfail(lut, rc, "preparing a query");
  return oc_status_ok;
}

enum oc_status oc__lut_stmt(struct oc_lut *lut, enum lut_stmt_id id, sqlite3_stmt **stmt) {
  if (lut->stmts[id] == NULL) {
    int rc = sqlite3_prepare_v3(lut->db, stmt_sql[id], -1, SQLITE_PREPARE_PERSISTENT,
                                &lut->stmts[id], NULL);
    if (rc != SQLITE_OK) return oc__lut_sqlfail(lut, rc, "preparing a query");
  }
  sqlite3_reset(lut->stmts[id]);
  sqlite3_clear_bindings(lut->stmts[id]);
  *stmt = lut->stmts[id];
  return oc_status_ok;
}

enum oc_status oc__lut_exec(struct oc_lut *lut, const char *sql) {
  char *err = NULL;
  int rc = sqlite3_exec(lut->db, sql, NULL, NULL, &err);
  sqlite3_free(err);
  if (rc != SQLITE_OK) return oc__lut_sqlfail(lut, rc, sql);
  return oc_status_ok;
}

/* ---- open / close ---- */

static uint32_t be32(const unsigned char *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

/* Checks the 100-byte SQLite header before SQLite sees the file, so that a
 * text file or a truncated store gets a message that says so. The page
 * count in the header is only trusted when SQLite marks it valid and no
 * write-ahead log is pending (a log may hold pages a checkpoint had not
 * finished copying). */
static enum oc_status check_header(const char *path, off_t size) {
  static const char magic[16] = "SQLite format 3";
  unsigned char head[100];
  FILE *f = fopen(path, "rb");
  if (f == NULL)
    return oc__fail(oc_status_io_error, "%s: cannot open: %s", path, strerror(errno));
  size_t got = fread(head, 1, sizeof head, f);
  /* The size that matters is the one after the header was read: another
   * process creating or checkpointing the file may have grown it since the
   * caller's stat, and a stale size would look like truncation. */
  struct stat now;
  if (fstat(fileno(f), &now) == 0) size = now.st_size;
  fclose(f);
  if (got < sizeof magic || memcmp(head, magic, sizeof magic) != 0)
    return oc__fail(oc_status_incompatible,
                    "%s: not an SQLite database, so not an opcost LUT (%lld bytes, no SQLite "
                    "header)",
                    path, (long long)size);
  if (got < sizeof head)
    return oc__fail(oc_status_io_error,
                    "%s: truncated: %zu bytes, shorter than the 100-byte SQLite header", path,
                    got);
  uint32_t page_size = (uint32_t)head[16] << 8 | head[17];
  if (page_size == 1) page_size = 65536;
  uint32_t change_counter = be32(head + 24);
  uint32_t pages = be32(head + 28);
  uint32_t valid_for = be32(head + 92);
  char wal[4096];
  struct stat ws;
  bool wal_pending = oc__strfmt(wal, sizeof wal, "%s-wal", path) && stat(wal, &ws) == 0 &&
                     ws.st_size > 0;
  if (pages > 0 && valid_for == change_counter && !wal_pending &&
      (int64_t)size < (int64_t)pages * page_size)
    return oc__fail(oc_status_io_error,
                    "%s: truncated: the header says %" PRIu32 " pages of %" PRIu32
                    " bytes (%lld bytes) but the file has %lld bytes",
                    path, pages, page_size, (long long)pages * page_size, (long long)size);
  return oc_status_ok;
}

static enum oc_status query_int(struct oc_lut *lut, const char *sql, int64_t *out,
                                const char *what) {
  sqlite3_stmt *stmt = NULL;
  int rc = sqlite3_prepare_v2(lut->db, sql, -1, &stmt, NULL);
  if (rc == SQLITE_OK) {
    rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW) {
      *out = sqlite3_column_int64(stmt, 0);
      rc = SQLITE_OK;
    } else if (rc == SQLITE_DONE) {
      *out = 0;
      rc = SQLITE_OK;
    }
  }
  enum oc_status st = rc == SQLITE_OK ? oc_status_ok : oc__lut_sqlfail(lut, rc, what);
  sqlite3_finalize(stmt);
  return st;
}

static enum oc_status get_meta(struct oc_lut *lut, const char *name, char *value, size_t size,
                               bool *found) {
  sqlite3_stmt *stmt;
  enum oc_status st = oc__lut_stmt(lut, lut_stmt_get_meta, &stmt);
  if (st != oc_status_ok) return st;
  sqlite3_bind_text(stmt, 1, name, -1, SQLITE_STATIC);
  int rc = sqlite3_step(stmt);
  *found = rc == SQLITE_ROW;
  if (rc == SQLITE_ROW) {
    const unsigned char *text = sqlite3_column_text(stmt, 0);
    oc__strcpy(value, size, text ? (const char *)text : "");
  } else if (rc != SQLITE_DONE) {
    st = oc__lut_sqlfail(lut, rc, "reading table meta");
  }
  sqlite3_reset(stmt);
  return st;
}

static enum oc_status set_meta(struct oc_lut *lut, const char *name, const char *value) {
  sqlite3_stmt *stmt;
  enum oc_status st = oc__lut_stmt(lut, lut_stmt_set_meta, &stmt);
  if (st != oc_status_ok) return st;
  sqlite3_bind_text(stmt, 1, name, -1, SQLITE_STATIC);
  sqlite3_bind_text(stmt, 2, value, -1, SQLITE_STATIC);
  int rc = sqlite3_step(stmt);
  sqlite3_reset(stmt);
  if (rc != SQLITE_DONE) return oc__lut_sqlfail(lut, rc, "writing table meta");
  return oc_status_ok;
}

/* Creates the schema in a new store. Two shards may create one store at
 * once: the check and the creation happen under the write lock. */
static enum oc_status create_schema(struct oc_lut *lut) {
  enum oc_status st = oc__lut_exec(lut, "BEGIN IMMEDIATE");
  if (st != oc_status_ok) return st;
  int64_t tables = 0;
  st = query_int(lut, "SELECT count(*) FROM sqlite_schema", &tables, "reading the schema");
  if (st == oc_status_ok && tables == 0) {
    char created[OC_LUT_TIME_MAX], version[16];
    oc_lut_now(created);
    oc__strfmt(version, sizeof version, "%d", OC_LUT_SCHEMA_VERSION);
    st = oc__lut_exec(lut, schema_v1);
    if (st == oc_status_ok) st = set_meta(lut, "format", OC_LUT_FORMAT);
    if (st == oc_status_ok) st = set_meta(lut, "created_at", created);
    if (st == oc_status_ok) st = set_meta(lut, "schema_version", version);
    if (st == oc_status_ok) st = oc__lut_exec(lut, "PRAGMA user_version = 1");
  }
  if (st == oc_status_ok) st = oc__lut_exec(lut, "COMMIT");
  if (st != oc_status_ok) sqlite3_exec(lut->db, "ROLLBACK", NULL, NULL, NULL);
  /* Statements prepared before the schema existed would be stale. */
  for (int i = 0; i < lut_stmt__count; i++) {
    sqlite3_finalize(lut->stmts[i]);
    lut->stmts[i] = NULL;
  }
  return st;
}

/* Is this an opcost LUT of a version we read? Reads one snapshot: another
 * process may be creating the schema in the same file at this moment, and
 * separate reads could see the file before and after its commit. */
static enum oc_status check_snapshot(struct oc_lut *lut, int64_t *tables) {
  int64_t version = 0, has_meta = 0;
  enum oc_status st = query_int(lut, "PRAGMA user_version", &version, "reading the schema version");
  if (st != oc_status_ok) return st;
  if (version > OC_LUT_SCHEMA_VERSION)
    return oc__fail(oc_status_incompatible,
                    "%s: LUT schema version %lld is newer than this opcost reads (%d); "
                    "use a newer opcost",
                    lut->path, (long long)version, OC_LUT_SCHEMA_VERSION);
  st = query_int(lut, "SELECT count(*) FROM sqlite_schema", tables, "reading the schema");
  if (st == oc_status_ok)
    st = query_int(lut, "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = 'meta'",
                   &has_meta, "reading the schema");
  if (st != oc_status_ok || *tables == 0) return st;
  if (!has_meta)
    return oc__fail(oc_status_incompatible,
                    "%s: an SQLite database but not an opcost LUT (no table 'meta' with "
                    "format '%s')",
                    lut->path, OC_LUT_FORMAT);
  char format[64];
  bool found = false;
  st = get_meta(lut, "format", format, sizeof format, &found);
  if (st != oc_status_ok) return st;
  if (!found || strcmp(format, OC_LUT_FORMAT) != 0)
    return oc__fail(oc_status_incompatible,
                    "%s: an SQLite database but not an opcost LUT (meta format is '%s', "
                    "expected '%s')",
                    lut->path, found ? format : "(none)", OC_LUT_FORMAT);
  if (version < 1)
    return oc__fail(oc_status_incompatible,
                    "%s: opcost LUT without a schema version (user_version 0)", lut->path);
  /* A table whose pages are missing only shows when it is read: read the
   * row table's index once (cheap) so that damage is reported at open. */
  int64_t rows = 0;
  return query_int(lut, "SELECT count(*) FROM lut_row", &rows, "reading the rows");
}

/* Creates the schema in an empty file when create is set. */
static enum oc_status check_format(struct oc_lut *lut, bool create) {
  int64_t tables = 0;
  enum oc_status st = oc__lut_exec(lut, "BEGIN");
  if (st != oc_status_ok) return st;
  st = check_snapshot(lut, &tables);
  /* get_meta's statement is kept prepared; reset it so the read ends. */
  if (lut->stmts[lut_stmt_get_meta]) sqlite3_reset(lut->stmts[lut_stmt_get_meta]);
  sqlite3_exec(lut->db, "COMMIT", NULL, NULL, NULL);
  if (st != oc_status_ok || tables > 0) return st;
  if (!create)
    return oc__fail(oc_status_incompatible, "%s: an empty SQLite database, not an opcost LUT",
                    lut->path);
  st = create_schema(lut);
  if (st != oc_status_ok) return st;
  return check_format(lut, false);
}

/* Switches the file to WAL. Changing the journal mode answers SQLITE_BUSY at
 * once, without the busy handler, while another process is switching or
 * creating the same file (shards starting together), so retry here: bounded
 * by the busy timeout, 10 ms apart. A file already in WAL is left alone. */
static enum oc_status set_wal(struct oc_lut *lut) {
  int rc = SQLITE_OK;
  for (int waited_ms = 0;; waited_ms += 10) {
    sqlite3_stmt *stmt = NULL;
    rc = sqlite3_prepare_v2(lut->db, "PRAGMA journal_mode = WAL", -1, &stmt, NULL);
    if (rc == SQLITE_OK) {
      rc = sqlite3_step(stmt);
      if (rc == SQLITE_ROW) {
        const unsigned char *mode = sqlite3_column_text(stmt, 0);
        rc = mode != NULL && strcmp((const char *)mode, "wal") == 0 ? SQLITE_OK : SQLITE_BUSY;
      }
    }
    sqlite3_finalize(stmt);
    if ((rc & 0xff) != SQLITE_BUSY && (rc & 0xff) != SQLITE_LOCKED) break;
    if (waited_ms >= OC_LUT_BUSY_TIMEOUT_MS) break;
    struct timespec ts = {0, 10 * 1000 * 1000};
    nanosleep(&ts, NULL);
  }
  if (rc != SQLITE_OK && rc != SQLITE_DONE) return oc__lut_sqlfail(lut, rc, "PRAGMA journal_mode = WAL");
  return oc_status_ok;
}

enum oc_status oc_lut_open(const char *path, enum oc_lut_mode mode, struct oc_lut **out) {
  enum oc_status st = oc_status_ok;
  struct oc_lut *lut = NULL;
  if (out) *out = NULL;
  if (path == NULL || path[0] == '\0' || out == NULL)
    return oc__fail(oc_status_invalid_argument, "lut open: a path is required");
  struct stat sb;
  bool exists = stat(path, &sb) == 0;
  if (!exists && mode != oc_lut_create)
    return oc__fail(oc_status_not_found, "%s: no such LUT file", path);
  if (exists && S_ISDIR(sb.st_mode))
    return oc__fail(oc_status_invalid_argument, "%s: is a directory, not a LUT file", path);
  if (exists && sb.st_size > 0) {
    st = check_header(path, sb.st_size);
    if (st != oc_status_ok) return st;
  }
  lut = calloc(1, sizeof *lut);
  if (lut == NULL) return oc__fail(oc_status_out_of_memory, "%s: out of memory", path);
  lut->path = strdup(path);
  if (lut->path == NULL) {
    st = oc__fail(oc_status_out_of_memory, "%s: out of memory", path);
    goto fail;
  }
  lut->read_only = mode == oc_lut_read_only;
  int flags = mode == oc_lut_read_only ? SQLITE_OPEN_READONLY
              : mode == oc_lut_read_write ? SQLITE_OPEN_READWRITE
                                          : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
  int rc = sqlite3_open_v2(path, &lut->db, flags, NULL);
  if (rc != SQLITE_OK) {
    st = oc__lut_sqlfail(lut, rc, "opening");
    goto fail;
  }
  sqlite3_extended_result_codes(lut->db, 1);
  sqlite3_busy_timeout(lut->db, OC_LUT_BUSY_TIMEOUT_MS);
  st = oc__lut_exec(lut, "PRAGMA foreign_keys = ON");
  if (st != oc_status_ok) goto fail;
  if (!lut->read_only) {
    /* WAL lets shards write while others read; the mode is kept in the file. */
    st = set_wal(lut);
    if (st == oc_status_ok) st = oc__lut_exec(lut, "PRAGMA synchronous = NORMAL");
    if (st != oc_status_ok) goto fail;
  }
  st = check_format(lut, mode == oc_lut_create);
  if (st != oc_status_ok) goto fail;
  *out = lut;
  return oc_status_ok;
fail:
  oc_lut_close(lut);
  return st;
}

void oc_lut_close(struct oc_lut *lut) {
  if (lut == NULL) return;
  for (int i = 0; i < lut_stmt__count; i++) sqlite3_finalize(lut->stmts[i]);
  if (lut->in_txn && lut->db) sqlite3_exec(lut->db, "ROLLBACK", NULL, NULL, NULL);
  sqlite3_close(lut->db);
  free(lut->path);
  free(lut);
}

const char *oc_lut_path(const struct oc_lut *lut) { return lut ? lut->path : ""; }

/* ---- transactions ---- */

enum oc_status oc_lut_begin(struct oc_lut *lut) {
  if (lut->in_txn)
    return oc__fail(oc_status_invalid_argument, "%s: a transaction is already open", lut->path);
  enum oc_status st = oc__lut_exec(lut, "BEGIN IMMEDIATE");
  if (st == oc_status_ok) lut->in_txn = true;
  return st;
}

enum oc_status oc_lut_commit(struct oc_lut *lut) {
  if (!lut->in_txn)
    return oc__fail(oc_status_invalid_argument, "%s: no transaction to commit", lut->path);
  enum oc_status st = oc__lut_exec(lut, "COMMIT");
  if (st != oc_status_ok) {
    sqlite3_exec(lut->db, "ROLLBACK", NULL, NULL, NULL);
  }
  lut->in_txn = false;
  return st;
}

void oc_lut_rollback(struct oc_lut *lut) {
  if (lut == NULL || !lut->in_txn) return;
  for (int i = 0; i < lut_stmt__count; i++)
    if (lut->stmts[i]) sqlite3_reset(lut->stmts[i]);
  sqlite3_exec(lut->db, "ROLLBACK", NULL, NULL, NULL);
  lut->in_txn = false;
}

/* ---- time ---- */

void oc_lut_now(char buf[OC_LUT_TIME_MAX]) {
  time_t now = time(NULL);
  struct tm tm;
  gmtime_r(&now, &tm);
  strftime(buf, OC_LUT_TIME_MAX, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static bool digits(const char *p, int n, int min, int max) {
  int v = 0;
  for (int i = 0; i < n; i++) {
    if (p[i] < '0' || p[i] > '9') return false;
    v = v * 10 + (p[i] - '0');
  }
  return v >= min && v <= max;
}

bool oc__lut_valid_time(const char *t) {
  /* YYYY-MM-DDTHH:MM:SSZ */
  return t && strlen(t) == 20 && digits(t, 4, 1970, 9999) && t[4] == '-' &&
         digits(t + 5, 2, 1, 12) && t[7] == '-' && digits(t + 8, 2, 1, 31) && t[10] == 'T' &&
         digits(t + 11, 2, 0, 23) && t[13] == ':' && digits(t + 14, 2, 0, 59) && t[16] == ':' &&
         digits(t + 17, 2, 0, 60) && t[19] == 'Z';
}

/* ---- devices ---- */

enum oc_status oc_lut_device_from_info(const struct oc_device_info *info,
                                       struct oc_lut_device *dev) {
  memset(dev, 0, sizeof *dev);
  json_t *obj = oc_probe_device_info_to_json(info);
  char *text = obj ? json_dumps(obj, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
  json_decref(obj);
  if (text == NULL)
    return oc__fail(oc_status_out_of_memory, "device %s: out of memory", info->fingerprint);
  oc__strcpy(dev->fingerprint, sizeof dev->fingerprint, info->fingerprint);
  oc__strcpy(dev->target, sizeof dev->target, info->target);
  oc__strcpy(dev->name, sizeof dev->name, info->name);
  oc__strcpy(dev->isa, sizeof dev->isa, info->isa);
  oc__strcpy(dev->runtime, sizeof dev->runtime, info->runtime);
  dev->info_json = text;
  return oc_status_ok;
}

void oc_lut_device_clear(struct oc_lut_device *dev) {
  if (dev == NULL) return;
  free((void *)(uintptr_t)dev->info_json);
  dev->info_json = NULL;
}

static bool valid_fingerprint(const char *fp) {
  size_t n = strlen(fp);
  if (n == 0 || n > 16) return false;
  for (size_t i = 0; i < n; i++)
    if (!((fp[i] >= '0' && fp[i] <= '9') || (fp[i] >= 'a' && fp[i] <= 'f'))) return false;
  return true;
}

static enum oc_status check_json_object(const char *what, const char *text) {
  if (text == NULL) return oc_status_ok;
  json_error_t err;
  json_t *v = json_loads(text, JSON_DECODE_ANY, &err);
  bool ok = v && json_is_object(v);
  json_decref(v);
  if (!ok)
    return oc__fail(oc_status_invalid_argument, "%s: not a JSON object (%s)", what,
                    v ? "another JSON value" : err.text);
  return oc_status_ok;
}

enum oc_status oc_lut_put_device(struct oc_lut *lut, const struct oc_lut_device *dev) {
  if (!valid_fingerprint(dev->fingerprint))
    return oc__fail(oc_status_invalid_argument,
                    "%s: device fingerprint '%s' must be 1 to 16 lower-case hex digits",
                    lut->path, dev->fingerprint);
  if (dev->target[0] == '\0')
    return oc__fail(oc_status_invalid_argument, "%s: device %s: empty target", lut->path,
                    dev->fingerprint);
  enum oc_status st = check_json_object("device info", dev->info_json);
  if (st != oc_status_ok)
    return oc__fail_prefix(st, "%s: device %s: ", lut->path, dev->fingerprint);
  sqlite3_stmt *stmt;
  st = oc__lut_stmt(lut, lut_stmt_put_device, &stmt);
  if (st != oc_status_ok) return st;
  sqlite3_bind_text(stmt, 1, dev->fingerprint, -1, SQLITE_STATIC);
  sqlite3_bind_text(stmt, 2, dev->target, -1, SQLITE_STATIC);
  sqlite3_bind_text(stmt, 3, dev->name, -1, SQLITE_STATIC);
  sqlite3_bind_text(stmt, 4, dev->isa, -1, SQLITE_STATIC);
  sqlite3_bind_text(stmt, 5, dev->runtime, -1, SQLITE_STATIC);
  sqlite3_bind_text(stmt, 6, dev->info_json ? dev->info_json : "{}", -1, SQLITE_STATIC);
  int rc = sqlite3_step(stmt);
  sqlite3_reset(stmt);
  if (rc != SQLITE_DONE) return oc__lut_sqlfail(lut, rc, "writing a device");
  return oc_status_ok;
}

static void copy_col(sqlite3_stmt *stmt, int col, char *dst, size_t size) {
  const unsigned char *text = sqlite3_column_text(stmt, col);
  oc__strcpy(dst, size, text ? (const char *)text : "");
}

static void read_device(sqlite3_stmt *stmt, struct oc_lut_device *dev) {
  memset(dev, 0, sizeof *dev);
  copy_col(stmt, 0, dev->fingerprint, sizeof dev->fingerprint);
  copy_col(stmt, 1, dev->target, sizeof dev->target);
  copy_col(stmt, 2, dev->name, sizeof dev->name);
  copy_col(stmt, 3, dev->isa, sizeof dev->isa);
  copy_col(stmt, 4, dev->runtime, sizeof dev->runtime);
  const unsigned char *info = sqlite3_column_text(stmt, 5);
  dev->info_json = info ? (const char *)info : "{}";
}

enum oc_status oc_lut_get_device(struct oc_lut *lut, const char *fingerprint,
                                 struct oc_lut_device *dev) {
  sqlite3_stmt *stmt;
  enum oc_status st = oc__lut_stmt(lut, lut_stmt_get_device, &stmt);
  if (st != oc_status_ok) return st;
  sqlite3_bind_text(stmt, 1, fingerprint, -1, SQLITE_STATIC);
  int rc = sqlite3_step(stmt);
  if (rc == SQLITE_ROW) {
    read_device(stmt, dev); /* info points into stmt until its next use */
    return oc_status_ok;
  }
  sqlite3_reset(stmt);
  if (rc == SQLITE_DONE)
    return oc__fail(oc_status_not_found, "%s: no device with fingerprint '%s'", lut->path,
                    fingerprint);
  return oc__lut_sqlfail(lut, rc, "reading a device");
}

enum oc_status oc_lut_foreach_device(struct oc_lut *lut, oc_lut_device_fn fn, void *ctx) {
  sqlite3_stmt *stmt = NULL;
  enum oc_status st = oc__lut_prepare(
      lut, "SELECT fingerprint, target, name, isa, runtime, info FROM device ORDER BY fingerprint",
      &stmt);
  if (st != oc_status_ok) return st;
  int rc;
  while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
    struct oc_lut_device dev;
    read_device(stmt, &dev);
    if (fn(ctx, &dev) != 0) {
      st = oc_status_interrupted;
      break;
    }
  }
  if (st == oc_status_ok && rc != SQLITE_DONE) st = oc__lut_sqlfail(lut, rc, "reading devices");
  sqlite3_finalize(stmt);
  return st;
}

/* ---- rows ---- */

static bool latency_ok(double v, bool optional) {
  if (optional && v == -1.0) return true;
  return isfinite(v) && v >= 0.0;
}

enum oc_status oc_lut_row_validate(const struct oc_lut_row *row) {
  const char *key = row->key;
  if (!valid_fingerprint(row->fingerprint))
    return oc__fail(oc_status_invalid_argument,
                    "key '%s': fingerprint '%s' must be 1 to 16 lower-case hex digits", key,
                    row->fingerprint);
  if (row->target[0] == '\0')
    return oc__fail(oc_status_invalid_argument, "key '%s': empty target", key);
  if (row->threads < 1)
    return oc__fail(oc_status_invalid_argument, "key '%s': threads: value '%d' must be >= 1",
                    key, row->threads);
  char kind[32], dtype[8];
  enum oc_status st = oc__lut_check_key(key, kind, dtype);
  if (st != oc_status_ok) return st;
  if (strcmp(kind, row->kind) != 0 || strcmp(dtype, row->dtype) != 0)
    return oc__fail(oc_status_invalid_argument,
                    "key '%s': kind '%s' and dtype '%s' disagree with the key", key, row->kind,
                    row->dtype);
  enum oc_op_kind op_kind;
  if (row->granularity == oc_lut_kernel && oc_op_kind_from_name(kind, &op_kind) != oc_status_ok)
    return oc__fail(oc_status_invalid_argument,
                    "key '%s': '%s' is not a kernel kind of ops.def; a block needs granularity "
                    "'block'",
                    key, kind);
  if (row->granularity != oc_lut_kernel && row->granularity != oc_lut_block)
    return oc__fail(oc_status_invalid_argument, "key '%s': granularity %d is not a granularity",
                    key, (int)row->granularity);
  const struct {
    const char *name;
    int64_t value;
  } counts[] = {{"flops", row->flops},
                {"macs", row->macs},
                {"bytes", row->bytes},
                {"params", row->params},
                {"weight_bytes", row->weight_bytes},
                {"activation_bytes", row->activation_bytes}};
  for (size_t i = 0; i < sizeof counts / sizeof counts[0]; i++)
    if (counts[i].value < 0)
      return oc__fail(oc_status_invalid_argument, "key '%s': %s: value '%lld' must be >= 0", key,
                      counts[i].name, (long long)counts[i].value);
  if (row->peak_bytes < -1)
    return oc__fail(oc_status_invalid_argument,
                    "key '%s': peak_bytes: value '%lld' must be >= 0 (or -1: unknown)", key,
                    (long long)row->peak_bytes);
  if (row->samples < 1)
    return oc__fail(oc_status_invalid_argument, "key '%s': samples: value '%lld' must be >= 1",
                    key, (long long)row->samples);
  const struct {
    const char *name;
    double value;
    bool optional;
  } lat[] = {{"median_us", row->median_us, false}, {"p10_us", row->p10_us, true},
             {"p90_us", row->p90_us, true},        {"min_us", row->min_us, true},
             {"mad_us", row->mad_us, true},        {"cv", row->cv, true}};
  for (size_t i = 0; i < sizeof lat / sizeof lat[0]; i++)
    if (!latency_ok(lat[i].value, lat[i].optional))
      return oc__fail(oc_status_invalid_argument,
                      "key '%s': %s: value '%g' must be a finite number >= 0%s", key,
                      lat[i].name, lat[i].value, lat[i].optional ? " (or -1: unknown)" : "");
  /* A small slack: the three quantiles come from one sorted sample set and
   * may differ in the last bits after a text round trip. */
  const double slack = 1e-9;
  if (row->p10_us != -1.0 && row->p10_us > row->median_us * (1 + slack) + slack)
    return oc__fail(oc_status_invalid_argument, "key '%s': p10_us %g is above median_us %g", key,
                    row->p10_us, row->median_us);
  if (row->p90_us != -1.0 && row->p90_us < row->median_us * (1 - slack) - slack)
    return oc__fail(oc_status_invalid_argument, "key '%s': p90_us %g is below median_us %g", key,
                    row->p90_us, row->median_us);
  if (row->min_us != -1.0 && row->min_us > row->median_us * (1 + slack) + slack)
    return oc__fail(oc_status_invalid_argument, "key '%s': min_us %g is above median_us %g", key,
                    row->min_us, row->median_us);
  if (row->source != oc_lut_measured && row->source != oc_lut_imported)
    return oc__fail(oc_status_invalid_argument, "key '%s': source %d is not a source", key,
                    (int)row->source);
  if (!oc__lut_valid_time(row->measured_at))
    return oc__fail(oc_status_invalid_argument,
                    "key '%s': measured_at: value '%s' is not ISO 8601 UTC "
                    "(YYYY-MM-DDTHH:MM:SSZ)",
                    key, row->measured_at);
  st = check_json_object("counters", row->counters_json);
  if (st == oc_status_ok) st = check_json_object("env", row->env_json);
  if (st != oc_status_ok) return oc__fail_prefix(st, "key '%s': ", key);
  return oc_status_ok;
}

enum oc_status oc_lut_row_fill_costs(struct oc_lut_row *row) {
  struct oc_op op;
  struct oc_op_cost cost;
  enum oc_status st = oc_op_parse(row->key, &op);
  if (st == oc_status_ok) st = oc_op_cost(&op, &cost);
  if (st != oc_status_ok) return st;
  oc__strcpy(row->kind, sizeof row->kind, oc_op_kind_name(op.kind));
  oc__strcpy(row->dtype, sizeof row->dtype, oc_dtype_name(op.dtype));
  row->flops = cost.flops;
  row->macs = cost.macs;
  row->params = cost.params;
  row->weight_bytes = cost.weight_bytes;
  row->activation_bytes = cost.input_bytes + cost.output_bytes;
  row->bytes = cost.input_bytes + cost.weight_bytes + cost.output_bytes;
  return oc_status_ok;
}

static void bind_optional(sqlite3_stmt *stmt, int col, double v) {
  if (v == -1.0) sqlite3_bind_null(stmt, col);
  else sqlite3_bind_double(stmt, col, v);
}

static void bind_row(sqlite3_stmt *stmt, const struct oc_lut_row *row) {
  sqlite3_bind_text(stmt, 1, row->fingerprint, -1, SQLITE_STATIC);
  sqlite3_bind_text(stmt, 2, row->target, -1, SQLITE_STATIC);
  sqlite3_bind_int(stmt, 3, row->threads);
  sqlite3_bind_text(stmt, 4, row->key, -1, SQLITE_STATIC);
  sqlite3_bind_text(stmt, 5, row->kind, -1, SQLITE_STATIC);
  sqlite3_bind_text(stmt, 6, row->dtype, -1, SQLITE_STATIC);
  sqlite3_bind_text(stmt, 7, oc_lut_granularity_name(row->granularity), -1, SQLITE_STATIC);
  sqlite3_bind_int64(stmt, 8, row->flops);
  sqlite3_bind_int64(stmt, 9, row->macs);
  sqlite3_bind_int64(stmt, 10, row->bytes);
  sqlite3_bind_int64(stmt, 11, row->params);
  sqlite3_bind_int64(stmt, 12, row->samples);
  sqlite3_bind_double(stmt, 13, row->median_us);
  bind_optional(stmt, 14, row->p10_us);
  bind_optional(stmt, 15, row->p90_us);
  bind_optional(stmt, 16, row->min_us);
  bind_optional(stmt, 17, row->mad_us);
  bind_optional(stmt, 18, row->cv);
  sqlite3_bind_int64(stmt, 19, row->weight_bytes);
  sqlite3_bind_int64(stmt, 20, row->activation_bytes);
  if (row->peak_bytes < 0) sqlite3_bind_null(stmt, 21);
  else sqlite3_bind_int64(stmt, 21, row->peak_bytes);
  sqlite3_bind_text(stmt, 22, row->counters_json ? row->counters_json : "{}", -1, SQLITE_STATIC);
  sqlite3_bind_text(stmt, 23, row->env_json ? row->env_json : "{}", -1, SQLITE_STATIC);
  sqlite3_bind_text(stmt, 24, oc_lut_source_name(row->source), -1, SQLITE_STATIC);
  sqlite3_bind_text(stmt, 25, row->measured_at, -1, SQLITE_STATIC);
}

static double column_optional(sqlite3_stmt *stmt, int col) {
  return sqlite3_column_type(stmt, col) == SQLITE_NULL ? -1.0 : sqlite3_column_double(stmt, col);
}

static enum oc_status copy_text(const struct oc_lut *lut, sqlite3_stmt *stmt, int col,
                                char *dst, size_t size) {
  const unsigned char *text = sqlite3_column_text(stmt, col);
  const char *s = text ? (const char *)text : "";
  if (strlen(s) >= size)
    return oc__fail(oc_status_io_error, "%s: column '%s' holds '%.40s...', longer than %zu bytes",
                    lut->path, sqlite3_column_name(stmt, col), s, size - 1);
  memcpy(dst, s, strlen(s) + 1);
  return oc_status_ok;
}

enum oc_status oc__lut_read_row(const struct oc_lut *lut, sqlite3_stmt *stmt,
                                struct oc_lut_row *row) {
  memset(row, 0, sizeof *row);
  enum oc_status st = copy_text(lut, stmt, 0, row->fingerprint, sizeof row->fingerprint);
  if (st == oc_status_ok) st = copy_text(lut, stmt, 1, row->target, sizeof row->target);
  row->threads = sqlite3_column_int(stmt, 2);
  if (st == oc_status_ok) st = copy_text(lut, stmt, 3, row->key, sizeof row->key);
  if (st == oc_status_ok) st = copy_text(lut, stmt, 4, row->kind, sizeof row->kind);
  if (st == oc_status_ok) st = copy_text(lut, stmt, 5, row->dtype, sizeof row->dtype);
  if (st != oc_status_ok) return st;
  const unsigned char *gran = sqlite3_column_text(stmt, 6);
  row->granularity =
      gran && strcmp((const char *)gran, "block") == 0 ? oc_lut_block : oc_lut_kernel;
  row->flops = sqlite3_column_int64(stmt, 7);
  row->macs = sqlite3_column_int64(stmt, 8);
  row->bytes = sqlite3_column_int64(stmt, 9);
  row->params = sqlite3_column_int64(stmt, 10);
  row->samples = sqlite3_column_int64(stmt, 11);
  row->median_us = sqlite3_column_double(stmt, 12);
  row->p10_us = column_optional(stmt, 13);
  row->p90_us = column_optional(stmt, 14);
  row->min_us = column_optional(stmt, 15);
  row->mad_us = column_optional(stmt, 16);
  row->cv = column_optional(stmt, 17);
  row->weight_bytes = sqlite3_column_int64(stmt, 18);
  row->activation_bytes = sqlite3_column_int64(stmt, 19);
  row->peak_bytes =
      sqlite3_column_type(stmt, 20) == SQLITE_NULL ? -1 : sqlite3_column_int64(stmt, 20);
  const unsigned char *counters = sqlite3_column_text(stmt, 21);
  row->counters_json = counters ? (const char *)counters : "{}";
  const unsigned char *env = sqlite3_column_text(stmt, 22);
  row->env_json = env ? (const char *)env : "{}";
  const unsigned char *source = sqlite3_column_text(stmt, 23);
  row->source =
      source && strcmp((const char *)source, "imported") == 0 ? oc_lut_imported : oc_lut_measured;
  return copy_text(lut, stmt, 24, row->measured_at, sizeof row->measured_at);
}

/* Does the incoming row win over the stored one? */
static bool incoming_wins(enum oc_lut_policy policy, const struct oc_lut_row *row,
                          int64_t stored_samples, const char *stored_at) {
  int newer = strcmp(row->measured_at, stored_at);
  switch (policy) {
  case oc_lut_replace: return true;
  case oc_lut_prefer_samples:
    if (row->samples != stored_samples) return row->samples > stored_samples;
    return newer > 0;
  case oc_lut_prefer_newer:
    if (newer != 0) return newer > 0;
    return row->samples > stored_samples;
  case oc_lut_keep_existing:
  case oc_lut_fail: break;
  }
  return false;
}

static enum oc_status put_locked(struct oc_lut *lut, const struct oc_lut_row *row,
                                 enum oc_lut_policy policy, enum oc_lut_put_result *result,
                                 double *stored_median_us) {
  sqlite3_stmt *stmt;
  enum oc_status st = oc__lut_stmt(lut, lut_stmt_insert_row, &stmt);
  if (st != oc_status_ok) return st;
  bind_row(stmt, row);
  int rc = sqlite3_step(stmt);
  sqlite3_reset(stmt);
  if (rc == SQLITE_CONSTRAINT_FOREIGNKEY)
    return oc__fail(oc_status_invalid_argument,
                    "%s: key '%s': device '%s' is not in the device table", lut->path, row->key,
                    row->fingerprint);
  if (rc != SQLITE_DONE) return oc__lut_sqlfail(lut, rc, "writing a row");
  if (sqlite3_changes(lut->db) == 1) {
    *result = oc_lut_inserted;
    return oc_status_ok;
  }
  /* (fingerprint, threads, key) is stored already. */
  st = oc__lut_stmt(lut, lut_stmt_conflict_row, &stmt);
  if (st != oc_status_ok) return st;
  sqlite3_bind_text(stmt, 1, row->fingerprint, -1, SQLITE_STATIC);
  sqlite3_bind_int(stmt, 2, row->threads);
  sqlite3_bind_text(stmt, 3, row->key, -1, SQLITE_STATIC);
  rc = sqlite3_step(stmt);
  if (rc != SQLITE_ROW) {
    sqlite3_reset(stmt);
    return oc__lut_sqlfail(lut, rc == SQLITE_DONE ? SQLITE_INTERNAL : rc, "reading a stored row");
  }
  int64_t stored_samples = sqlite3_column_int64(stmt, 0);
  char stored_at[OC_LUT_TIME_MAX];
  copy_col(stmt, 1, stored_at, sizeof stored_at);
  if (stored_median_us) *stored_median_us = sqlite3_column_double(stmt, 2);
  sqlite3_reset(stmt);
  if (policy == oc_lut_fail)
    return oc__fail(oc_status_invalid_argument,
                    "%s: key '%s' is already stored for device %s with %d threads", lut->path,
                    row->key, row->fingerprint, row->threads);
  if (!incoming_wins(policy, row, stored_samples, stored_at)) {
    *result = oc_lut_kept;
    return oc_status_ok;
  }
  st = oc__lut_stmt(lut, lut_stmt_replace_row, &stmt);
  if (st != oc_status_ok) return st;
  bind_row(stmt, row);
  rc = sqlite3_step(stmt);
  sqlite3_reset(stmt);
  if (rc != SQLITE_DONE) return oc__lut_sqlfail(lut, rc, "replacing a row");
  *result = oc_lut_replaced;
  return oc_status_ok;
}

enum oc_status oc__lut_put(struct oc_lut *lut, const struct oc_lut_row *row,
                           enum oc_lut_policy policy, enum oc_lut_put_result *result,
                           double *stored_median_us) {
  enum oc_lut_put_result unused;
  if (result == NULL) result = &unused;
  if (stored_median_us) *stored_median_us = -1.0;
  if (lut->read_only)
    return oc__fail(oc_status_invalid_argument, "%s: opened read-only", lut->path);
  enum oc_status st = oc_lut_row_validate(row);
  if (st != oc_status_ok) return oc__fail_prefix(st, "%s: ", lut->path);
  /* One INSERT is atomic by itself; the read-then-replace of a duplicate
   * needs the write lock across both statements. */
  bool own_txn = !lut->in_txn && policy != oc_lut_keep_existing;
  if (own_txn) {
    st = oc__lut_exec(lut, "BEGIN IMMEDIATE");
    if (st != oc_status_ok) return st;
  }
  st = put_locked(lut, row, policy, result, stored_median_us);
  if (own_txn) {
    if (st == oc_status_ok) st = oc__lut_exec(lut, "COMMIT");
    if (st != oc_status_ok) sqlite3_exec(lut->db, "ROLLBACK", NULL, NULL, NULL);
  }
  return st;
}

enum oc_status oc_lut_put(struct oc_lut *lut, const struct oc_lut_row *row,
                          enum oc_lut_policy policy, enum oc_lut_put_result *result) {
  return oc__lut_put(lut, row, policy, result, NULL);
}

enum oc_status oc_lut_get(struct oc_lut *lut, const char *fingerprint, int32_t threads,
                          const char *key, struct oc_lut_row *row) {
  sqlite3_stmt *stmt;
  enum oc_status st = oc__lut_stmt(lut, lut_stmt_get_row, &stmt);
  if (st != oc_status_ok) return st;
  sqlite3_bind_text(stmt, 1, fingerprint, -1, SQLITE_STATIC);
  sqlite3_bind_int(stmt, 2, threads);
  sqlite3_bind_text(stmt, 3, key, -1, SQLITE_STATIC);
  int rc = sqlite3_step(stmt);
  if (rc == SQLITE_ROW) return oc__lut_read_row(lut, stmt, row); /* JSON valid until next use */
  sqlite3_reset(stmt);
  if (rc == SQLITE_DONE)
    return oc__fail(oc_status_not_found, "%s: no row '%s' for device %s with %d threads",
                    lut->path, key, fingerprint, threads);
  return oc__lut_sqlfail(lut, rc, "reading a row");
}

/* WHERE clause of a filter; bound by bind_filter in the same order. */
static void filter_sql(const struct oc_lut_filter *f, char *buf, size_t size) {
  oc__strfmt(buf, size, " WHERE 1%s%s%s",
             f && f->fingerprint ? " AND fingerprint = :fp" : "",
             f && f->threads > 0 ? " AND threads = :threads" : "",
             f && f->kind ? " AND kind = :kind" : "");
}

static void bind_filter(sqlite3_stmt *stmt, const struct oc_lut_filter *f) {
  if (f == NULL) return;
  int i;
  if (f->fingerprint && (i = sqlite3_bind_parameter_index(stmt, ":fp")) > 0)
    sqlite3_bind_text(stmt, i, f->fingerprint, -1, SQLITE_STATIC);
  if (f->threads > 0 && (i = sqlite3_bind_parameter_index(stmt, ":threads")) > 0)
    sqlite3_bind_int(stmt, i, f->threads);
  if (f->kind && (i = sqlite3_bind_parameter_index(stmt, ":kind")) > 0)
    sqlite3_bind_text(stmt, i, f->kind, -1, SQLITE_STATIC);
}

enum oc_status oc_lut_foreach(struct oc_lut *lut, const struct oc_lut_filter *filter,
                              oc_lut_row_fn fn, void *ctx) {
  char where[160], sql[512];
  filter_sql(filter, where, sizeof where);
  oc__strfmt(sql, sizeof sql,
             "SELECT " OC__LUT_ROW_COLUMNS " FROM lut_row%s ORDER BY fingerprint, threads, key",
             where);
  sqlite3_stmt *stmt = NULL;
  enum oc_status st = oc__lut_prepare(lut, sql, &stmt);
  if (st != oc_status_ok) return st;
  bind_filter(stmt, filter);
  int rc;
  while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
    struct oc_lut_row row;
    st = oc__lut_read_row(lut, stmt, &row);
    if (st != oc_status_ok) break;
    if (fn(ctx, &row) != 0) {
      st = oc_status_interrupted;
      break;
    }
  }
  if (st == oc_status_ok && rc != SQLITE_DONE) st = oc__lut_sqlfail(lut, rc, "reading rows");
  sqlite3_finalize(stmt);
  return st;
}

enum oc_status oc_lut_count(struct oc_lut *lut, const struct oc_lut_filter *filter,
                            int64_t *count) {
  char where[160], sql[256];
  filter_sql(filter, where, sizeof where);
  oc__strfmt(sql, sizeof sql, "SELECT count(*) FROM lut_row%s", where);
  sqlite3_stmt *stmt = NULL;
  enum oc_status st = oc__lut_prepare(lut, sql, &stmt);
  if (st != oc_status_ok) return st;
  bind_filter(stmt, filter);
  int rc = sqlite3_step(stmt);
  if (rc == SQLITE_ROW) *count = sqlite3_column_int64(stmt, 0);
  else st = oc__lut_sqlfail(lut, rc, "counting rows");
  sqlite3_finalize(stmt);
  return st;
}

enum oc_status oc_lut_foreach_group(struct oc_lut *lut, oc_lut_group_fn fn, void *ctx) {
  sqlite3_stmt *stmt = NULL;
  enum oc_status st = oc__lut_prepare(
      lut,
      "SELECT fingerprint, min(target), threads, granularity, count(*), "
      "sum(source = 'measured'), sum(source = 'imported'), total(median_us), "
      "min(measured_at), max(measured_at) FROM lut_row "
      "GROUP BY fingerprint, threads, granularity ORDER BY fingerprint, threads, granularity",
      &stmt);
  if (st != oc_status_ok) return st;
  int rc;
  while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
    struct oc_lut_group g;
    memset(&g, 0, sizeof g);
    copy_col(stmt, 0, g.fingerprint, sizeof g.fingerprint);
    copy_col(stmt, 1, g.target, sizeof g.target);
    g.threads = sqlite3_column_int(stmt, 2);
    const unsigned char *gran = sqlite3_column_text(stmt, 3);
    g.granularity = gran && strcmp((const char *)gran, "block") == 0 ? oc_lut_block : oc_lut_kernel;
    g.rows = sqlite3_column_int64(stmt, 4);
    g.measured = sqlite3_column_int64(stmt, 5);
    g.imported = sqlite3_column_int64(stmt, 6);
    g.total_median_us = sqlite3_column_double(stmt, 7);
    copy_col(stmt, 8, g.first_at, sizeof g.first_at);
    copy_col(stmt, 9, g.last_at, sizeof g.last_at);
    if (fn(ctx, &g) != 0) {
      st = oc_status_interrupted;
      break;
    }
  }
  if (st == oc_status_ok && rc != SQLITE_DONE) st = oc__lut_sqlfail(lut, rc, "summarising rows");
  sqlite3_finalize(stmt);
  return st;
}

enum oc_status oc_lut_resolve(struct oc_lut *lut, const char *fingerprint, int32_t threads,
                              char fingerprint_out[17], int32_t *threads_out) {
  if (fingerprint && !valid_fingerprint(fingerprint))
    return oc__fail(oc_status_invalid_argument,
                    "device '%s': a fingerprint is 1 to 16 lower-case hex digits", fingerprint);
  sqlite3_stmt *stmt = NULL;
  enum oc_status st = oc__lut_prepare(
      lut,
      "SELECT DISTINCT fingerprint, threads FROM lut_row "
      "WHERE (?1 IS NULL OR substr(fingerprint, 1, length(?1)) = ?1) AND (?2 = 0 OR threads = ?2) "
      "ORDER BY fingerprint, threads",
      &stmt);
  if (st != oc_status_ok) return st;
  if (fingerprint) sqlite3_bind_text(stmt, 1, fingerprint, -1, SQLITE_STATIC);
  sqlite3_bind_int(stmt, 2, threads);
  int rc, n = 0;
  char choices[512] = "";
  while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
    const unsigned char *fp = sqlite3_column_text(stmt, 0);
    int t = sqlite3_column_int(stmt, 1);
    if (n == 0) {
      oc__strcpy(fingerprint_out, 17, fp ? (const char *)fp : "");
      *threads_out = t;
    }
    size_t used = strlen(choices);
    oc__strfmt(choices + used, sizeof choices - used, "%s%s (threads %d)", n ? ", " : "",
               fp ? (const char *)fp : "", t);
    n++;
  }
  if (rc != SQLITE_DONE) st = oc__lut_sqlfail(lut, rc, "listing devices");
  sqlite3_finalize(stmt);
  if (st != oc_status_ok) return st;
  if (n == 0)
    return oc__fail(oc_status_not_found, "%s: no rows for device %s%s%.0d", lut->path,
                    fingerprint ? fingerprint : "(any)", threads ? " with threads " : "",
                    threads);
  if (n > 1)
    return oc__fail(oc_status_invalid_argument,
                    "%s: rows of several devices or thread counts: %s; choose one (--device, "
                    "--threads)",
                    lut->path, choices);
  return oc_status_ok;
}

/* ---- meta: overhead ---- */

static void overhead_name(const char *fp, int32_t threads, char *buf, size_t size) {
  oc__strfmt(buf, size, "overhead_us/%s/%d", fp, threads);
}

enum oc_status oc_lut_set_overhead(struct oc_lut *lut, const char *fingerprint,
                                   int32_t threads, double overhead_us) {
  if (!isfinite(overhead_us))
    return oc__fail(oc_status_invalid_argument, "%s: overhead: value '%g' must be finite",
                    lut->path, overhead_us);
  if (!valid_fingerprint(fingerprint) || threads < 1)
    return oc__fail(oc_status_invalid_argument, "%s: overhead: device '%s' threads %d", lut->path,
                    fingerprint, threads);
  char name[64], value[40];
  overhead_name(fingerprint, threads, name, sizeof name);
  oc__lut_format_double(overhead_us, value, sizeof value);
  return set_meta(lut, name, value);
}

enum oc_status oc_lut_get_overhead(struct oc_lut *lut, const char *fingerprint,
                                   int32_t threads, double *overhead_us) {
  char name[64], value[64];
  bool found = false;
  overhead_name(fingerprint, threads, name, sizeof name);
  *overhead_us = 0.0;
  enum oc_status st = get_meta(lut, name, value, sizeof value, &found);
  if (st != oc_status_ok || !found) return st;
  char *end = NULL;
  double v = strtod(value, &end);
  if (end == value || *end != '\0' || !isfinite(v))
    return oc__fail(oc_status_parse_error, "%s: meta '%s': value '%s' is not a number",
                    lut->path, name, value);
  *overhead_us = v;
  return oc_status_ok;
}

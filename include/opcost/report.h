/* report.h - reports: one self-contained HTML page (inline SVG charts, no
 * script, nothing fetched), a Markdown summary and the CSV/JSON of every
 * plotted series, from whatever results exist: a device profile, a LUT, a
 * cost model with measured networks or an evaluation, a search directory;
 * and the demo, which makes all of those on this machine and reports them.
 *
 * A section whose input is absent says so (and what makes it) instead of
 * drawing an empty plot. Every name that reaches the page (networks,
 * devices, keys, titles) is HTML-escaped. docs/reports.md describes the
 * page, its sections and the files written next to it. */
#ifndef OPCOST_REPORT_H
#define OPCOST_REPORT_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "opcost/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Format tag of the index of the data folder (PAGE_data/index.json). */
#define OC_REPORT_INDEX_FORMAT "opcost-report-data/1"
/* Format tag of the demo's summary (OUT/demo.json). */
#define OC_DEMO_FORMAT "opcost-demo/1"

/* One step of a pipeline that produced the inputs (the demo's stages),
 * listed at the top of the page. */
struct oc_report_stage {
  const char *name;   /* "device profile" */
  const char *status; /* "done", "skipped", "failed", "not available" */
  double seconds;     /* NaN when not run */
  const char *detail; /* one line; may be NULL */
};

/* What to report; every input is optional (NULL / 0). Paths are read, never
 * written. */
struct oc_report_inputs {
  const char *title;      /* NULL: "opcost report" */
  const char *profile;    /* device profile (opcost probe device -o) */
  const char *lut;        /* LUT store (opcost lut build) */
  const char *lut_device; /* fingerprint or unique prefix; NULL: the largest group */
  int32_t lut_threads;    /* 0: as lut_device decides */
  const char *model;      /* cost model (opcost fit) */
  /* Networks measured end to end (opcost net measure --save): predicted by
   * the model and by the LUT, compared with the measurements. net_files
   * resolve lines that name a network by hash only. */
  const char *nets;
  const char *const *net_files;
  size_t n_net_files;
  const char *eval;   /* output of `opcost eval --json` (with --list for --cv) */
  const char *search; /* a search output directory (opcost search -o) */
  /* The network whose per-layer costs are shown; NULL: a member of the
   * search front, else the first measured network. */
  const char *network;
  /* Lines shown at the top of the page (what is missing and why). */
  const char *const *notes;
  size_t n_notes;
  const struct oc_report_stage *stages;
  size_t n_stages;
};

struct oc_report_result {
  char html[4096];     /* the page */
  char markdown[4096]; /* PAGE.md beside it */
  char data_dir[4096]; /* PAGE_data/ beside it: NAME.csv and NAME.json per chart */
  int sections;        /* sections written */
  int sections_absent; /* of those, sections that say their input is absent */
  int charts;          /* charts drawn (each with its CSV and JSON) */
};

/* Writes the page to html_path (its directory must exist), the Markdown
 * summary next to it (same name, .md), and a folder of the plotted data
 * (same name + "_data"). result may be NULL. Fails with what loading an
 * input fails with (io_error, parse_error, incompatible, ... naming the file
 * and field), invalid_argument when html_path is empty, io_error when an
 * output cannot be written. */
enum oc_status oc_report_write(const struct oc_report_inputs *inputs, const char *html_path,
                               struct oc_report_result *result);

/* ---- demo -------------------------------------------------------------------------- */

/* The whole pipeline on this machine, through the library:
 *   1. device profile of the target (probe)
 *   2. a LUT of every kernel of the space at one resolution, plus the
 *      kernels of the reference networks
 *   3. a validation set measured end to end: networks sampled from the
 *      space and the reference networks
 *   4. a cost model fitted on the LUT and half of the sampled networks,
 *      evaluated on the other half and the reference networks
 *   5. a constrained search (latency and peak memory under the median of
 *      the sampled networks; objectives latency and an accuracy proxy, a
 *      capacity score of the genes written to OUT/accuracy-proxy.sh and run
 *      as the search's external evaluator) over the space at that
 *      resolution, latency from the LUT
 *   6. hardware in the loop: the front measured end to end
 *   7. the report (report.html, report.md, report_data/)
 * A stage that fails is reported as failed with its message, and the
 * stages that need it are skipped; the rest still run. */
struct oc_demo_opts {
  const char *out_dir;                   /* created if missing ("out") */
  const char *target;                    /* target spec ("cpu") */
  int32_t threads;                       /* (1) */
  const char *space;                     /* built-in space or file ("ofa-mbv3-w1.0") */
  int32_t resolution;                    /* input size; must be a choice of the space's
                                            resolution gene (160) */
  const char *networks_dir;              /* reference networks: *.json files measured and
                                            evaluated as unseen families; NULL or missing: none */
  const char *const *reference_networks; /* file names inside networks_dir; NULL: the
                                            three MobileNets */
  size_t n_reference_networks;
  int32_t samples;    /* networks sampled for validation (20) */
  int64_t budget;     /* search budget (2000) */
  int32_t population; /* (50) */
  int32_t hil;        /* front members measured (8) */
  uint64_t seed;      /* (1) */
  bool quick;         /* shorter measurements, fewer samples and a smaller search */
  /* Called from the calling thread as stages progress; may be NULL. */
  void (*progress)(void *ctx, int stage, int n_stages, const char *stage_name, int64_t done,
                   int64_t total, const char *detail);
  void *progress_ctx;
  const volatile sig_atomic_t *stop; /* polled between steps; may be NULL */
};
void oc_demo_opts_default(struct oc_demo_opts *opts);

#define OC_DEMO_STAGES 7

struct oc_demo_stage {
  char name[40];
  char status[16];  /* "done", "failed", "skipped", "not available" */
  double seconds;   /* NaN when not run */
  char detail[512]; /* what it made, or why it failed or was skipped */
};

struct oc_demo_result {
  struct oc_demo_stage stages[OC_DEMO_STAGES];
  int n_failed;
  double total_s;
  /* Headline numbers (NaN / 0 / "" when their stage did not run). */
  char device[160];
  double peak_gflops_one_core, peak_gflops_all_cores, dram_gbs;
  int64_t lut_rows;
  int32_t validation_nets;
  double model_mape_heldout, model_within10_heldout;
  double lut_mape;       /* sum of kernel medians vs measured, all validation nets */
  char constraints[160]; /* "latency<=6.1ms, peak_mem<=1.2MB" */
  int64_t evaluated, feasible;
  int32_t front_size, hil_measured;
  double hil_mape_before, hil_correction;
  char report[4096]; /* report.html */
  char markdown[4096];
};

/* Runs the demo. Returns ok when the report was written, even if some
 * stages failed (see result->stages); fails with invalid_argument for bad
 * options, io_error when out_dir cannot be made, interrupted when *stop was
 * raised, or what writing the report fails with. */
enum oc_status oc_demo_run(const struct oc_demo_opts *opts, struct oc_demo_result *result);

#ifdef __cplusplus
}
#endif
#endif

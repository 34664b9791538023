/* model_cli.h - what `opcost fit`, `opcost eval` and the model path of
 * `opcost predict` share: the training options (LUT, device, profile,
 * measured networks, fit settings), loading them, and printing accuracy
 * metrics. Defined in cmd_fit.c. */
#ifndef OPCOST_CLI_MODEL_CLI_H
#define OPCOST_CLI_MODEL_CLI_H

#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>

#include "cli/cli.h"
#include "opcost/model.h"

struct cli_train_args {
  const char *lut;
  const char *device; /* fingerprint or prefix */
  long threads;
  const char *profile;
  const char *nets; /* measured networks (JSON Lines) */
  struct oc_model_fit_opts opts;
  bool strict;
  bool quiet;
};

enum {
  cli_opt_lut = 300,
  cli_opt_device,
  cli_opt_threads,
  cli_opt_profile,
  cli_opt_nets,
  cli_opt_folds,
  cli_opt_seed,
  cli_opt_coverage,
  cli_opt_models,
  cli_opt_xgb_rounds,
  cli_opt_xgb_depth,
  cli_opt_xgb_eta,
  cli_opt_xgb_threads,
  cli_opt_strict,
  cli_opt_quiet,
};

#define CLI_TRAIN_LONGOPTS                                                                         \
  {"lut", required_argument, NULL, cli_opt_lut},                                                   \
      {"device", required_argument, NULL, cli_opt_device},                                         \
      {"threads", required_argument, NULL, cli_opt_threads},                                       \
      {"profile", required_argument, NULL, cli_opt_profile},                                       \
      {"nets", required_argument, NULL, cli_opt_nets},                                             \
      {"folds", required_argument, NULL, cli_opt_folds},                                           \
      {"seed", required_argument, NULL, cli_opt_seed},                                             \
      {"coverage", required_argument, NULL, cli_opt_coverage},                                     \
      {"models", required_argument, NULL, cli_opt_models},                                         \
      {"xgb-rounds", required_argument, NULL, cli_opt_xgb_rounds},                                 \
      {"xgb-depth", required_argument, NULL, cli_opt_xgb_depth},                                   \
      {"xgb-eta", required_argument, NULL, cli_opt_xgb_eta},                                       \
      {"xgb-threads", required_argument, NULL, cli_opt_xgb_threads},                               \
      {"strict", no_argument, NULL, cli_opt_strict}, {                                             \
    "quiet", no_argument, NULL, cli_opt_quiet                                                      \
  }

/* Help lines of the options above. */
extern const char *const cli_train_help;

void cli_train_args_init(struct cli_train_args *a);
/* Handles option c of CLI_TRAIN_LONGOPTS: 1 handled, 0 not one of them, -1
 * a usage error was printed (return CLI_EXIT_USAGE). */
int cli_train_option(const char *cmd, int c, const char *arg, struct cli_train_args *a);

/* Reads the LUT rows, the device (profile, or an empirical roofline) and
 * the measured networks (when a->nets; net_files resolve lines that name a
 * network by hash). Warns on stderr when the profile is of another device
 * than the LUT rows (refuses under a->strict). */
enum oc_status cli_train_load(const char *cmd, const struct cli_train_args *a,
                              char *const *net_files, int n_net_files, struct oc_model_data **data,
                              struct oc_model_device *device, struct oc_model_netset **nets);

/* One line: "LABEL: n N  MAPE x %  RMSPE ...". */
void cli_print_metrics(FILE *out, const char *label, const struct oc_model_metrics *m);

/* The model path of `opcost predict` (cmd_predict_model.c). */
int cli_predict_model(int argc, char **argv);

#endif

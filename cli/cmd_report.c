/* cmd_report.c - `opcost report`: one self-contained HTML page (inline SVG,
 * no script) from whatever results exist - a device profile, a LUT, a cost
 * model with measured networks or an evaluation, a search directory - with
 * a Markdown summary and the CSV/JSON of every chart beside it. The
 * library (oc_report_write) does the work; this file parses options. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "opcost/report.h"

static const char *const help =
    "usage: opcost report -o REPORT.html [--profile PROFILE.json] [--lut LUT.db]\n"
    "                     [--model MODEL.json] [--nets MEASURED.jsonl] [--eval EVAL.json]\n"
    "                     [--search DIR] [--network NET.json] [NET.json...]\n"
    "\n"
    "Writes one HTML page that opens offline (charts are inline SVG, no script),\n"
    "REPORT.md beside it, and REPORT_data/ with the CSV and JSON of every chart.\n"
    "Sections: the device (card, roofline with the LUT's ops on it, bandwidth),\n"
    "latency against FLOPs per kind of op, the LUT (depthwise heat maps),\n"
    "predicted against measured latency (+-5/10 %% bands and accuracy metrics),\n"
    "the per-layer costs of one network, and the search (Pareto front, candidates,\n"
    "networks measured on the device, hypervolume). A section whose input is not\n"
    "given says so. docs/reports.md describes every section.\n"
    "\n"
    "  -o, --output FILE    the page to write (its directory must exist)\n"
    "  --title TEXT         title of the page (default 'opcost report')\n"
    "  --profile FILE       device profile (opcost probe device -o FILE)\n"
    "  --lut FILE           LUT (opcost lut build)\n"
    "  --device FP          LUT device fingerprint or prefix (default: its largest group)\n"
    "  --threads N          LUT thread count\n"
    "  --model FILE         cost model (opcost fit)\n"
    "  --nets FILE          networks measured end to end (opcost net measure --save FILE),\n"
    "                       predicted by the model and the LUT; NET.json arguments\n"
    "                       resolve lines that name a network by hash only\n"
    "  --eval FILE          output of 'opcost eval --json' (with --list for --cv)\n"
    "  --search DIR         a search output directory (opcost search -o DIR)\n"
    "  --network FILE       the network whose per-layer costs are shown (default: a\n"
    "                       member of the search front, else the first measured network)\n"
    "  --json               print what was written as JSON\n"
    "  -h, --help           this text\n";

int cli_cmd_report(int argc, char **argv) {
  enum {
    opt_title = 256,
    opt_profile,
    opt_lut,
    opt_device,
    opt_threads,
    opt_model,
    opt_nets,
    opt_eval,
    opt_search,
    opt_network,
    opt_json,
  };
  static const struct option longopts[] = {{"output", required_argument, NULL, 'o'},
                                           {"title", required_argument, NULL, opt_title},
                                           {"profile", required_argument, NULL, opt_profile},
                                           {"lut", required_argument, NULL, opt_lut},
                                           {"device", required_argument, NULL, opt_device},
                                           {"threads", required_argument, NULL, opt_threads},
                                           {"model", required_argument, NULL, opt_model},
                                           {"nets", required_argument, NULL, opt_nets},
                                           {"eval", required_argument, NULL, opt_eval},
                                           {"search", required_argument, NULL, opt_search},
                                           {"network", required_argument, NULL, opt_network},
                                           {"json", no_argument, NULL, opt_json},
                                           {"help", no_argument, NULL, 'h'},
                                           {NULL, 0, NULL, 0}};
  struct oc_report_inputs in;
  memset(&in, 0, sizeof in);
  const char *output = NULL;
  bool json = false;
  long threads = 0;
  int c;
  optind = 1;
  while ((c = getopt_long(argc, argv, "ho:", longopts, NULL)) != -1) {
    switch (c) {
    case 'o': output = optarg; break;
    case opt_title: in.title = optarg; break;
    case opt_profile: in.profile = optarg; break;
    case opt_lut: in.lut = optarg; break;
    case opt_device: in.lut_device = optarg; break;
    case opt_threads:
      if (!cli_parse_int("report", "--threads", optarg, 1, 4096, &threads)) return CLI_EXIT_USAGE;
      in.lut_threads = (int32_t)threads;
      break;
    case opt_model: in.model = optarg; break;
    case opt_nets: in.nets = optarg; break;
    case opt_eval: in.eval = optarg; break;
    case opt_search: in.search = optarg; break;
    case opt_network: in.network = optarg; break;
    case opt_json: json = true; break;
    case 'h': fputs(help, stdout); return 0;
    default: return cli_usage_error("report", "unknown option");
    }
  }
  if (output == NULL) return cli_usage_error("report", "-o REPORT.html is required");
  if (optind < argc && in.nets == NULL)
    return cli_usage_error("report", "NET.json arguments only resolve --nets lines; give --nets");
  if ((in.lut_device != NULL || in.lut_threads > 0) && in.lut == NULL)
    return cli_usage_error("report", "--device and --threads select LUT rows: give --lut");
  in.net_files = (const char *const *)(argv + optind);
  in.n_net_files = (size_t)(argc - optind);
  if (in.profile == NULL && in.lut == NULL && in.model == NULL && in.nets == NULL &&
      in.eval == NULL && in.search == NULL && in.network == NULL)
    fprintf(stderr, "opcost report: warning: no input given: every section will say so\n");

  struct oc_report_result res;
  enum oc_status st = oc_report_write(&in, output, &res);
  if (st != oc_status_ok) return cli_fail("report", st);
  if (json)
    return cli_print_json(json_pack("{s:s, s:s, s:s, s:i, s:i, s:i}", "html", res.html, "markdown",
                                    res.markdown, "data", res.data_dir, "sections", res.sections,
                                    "sections_absent", res.sections_absent, "charts", res.charts));
  printf("wrote %s (%d sections, %d without input, %d charts)\n", res.html, res.sections,
         res.sections_absent, res.charts);
  printf("      %s\n      %s/ (CSV and JSON of every chart)\n", res.markdown, res.data_dir);
  return 0;
}

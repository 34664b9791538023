/* cmd_devices.c - `opcost devices`: every target built in, whether it can run
 * here (and why not), and what its device is. */
#include <getopt.h>
#include <string.h>

#include "cli/cli.h"

static const char *const help =
    "usage: opcost devices [--json] [--threads N]\n"
    "\n"
    "Lists every target built into opcost: available here or why not, and for\n"
    "each available one the device it runs on (model, ISA features, cores,\n"
    "caches, runtime) and its fingerprint, the id LUT rows and models carry.\n"
    "\n"
    "  --json       machine-readable output\n"
    "  --threads N  describe the targets as opened with N threads\n"
    "  -h, --help   this text\n";

static json_t *device_json(const struct oc_device_info *d) {
  return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:i, s:i, s:i, s:I, s:I, s:I, s:I, s:s}",
                   "target", d->target, "name", d->name, "vendor", d->vendor, "arch", d->arch,
                   "isa", d->isa, "runtime", d->runtime, "cores_logical", d->cores_logical,
                   "cores_physical", d->cores_physical, "threads", d->threads, "l1d_bytes",
                   (json_int_t)d->l1d_bytes, "l2_bytes", (json_int_t)d->l2_bytes, "l3_bytes",
                   (json_int_t)d->l3_bytes, "memory_bytes", (json_int_t)d->memory_bytes,
                   "fingerprint", d->fingerprint);
}

static void print_bytes(const char *label, int64_t bytes) {
  if (bytes <= 0)
    printf("    %-12s unknown\n", label);
  else if (bytes >= 1 << 30)
    printf("    %-12s %.1f GiB\n", label, (double)bytes / (1 << 30));
  else if (bytes >= 1 << 20)
    printf("    %-12s %.1f MiB\n", label, (double)bytes / (1 << 20));
  else
    printf("    %-12s %lld KiB\n", label, (long long)(bytes / 1024));
}

int cli_cmd_devices(int argc, char **argv) {
  static const struct option longopts[] = {{"json", no_argument, NULL, 'j'},
                                           {"threads", required_argument, NULL, 't'},
                                           {"help", no_argument, NULL, 'h'},
                                           {NULL, 0, NULL, 0}};
  bool json = false;
  struct oc_target_opts opts = {0};
  long threads = 1;
  int c;
  optind = 1;
  while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
    switch (c) {
    case 'j': json = true; break;
    case 't':
      if (!cli_parse_int("devices", "--threads", optarg, 1, 4096, &threads)) return CLI_EXIT_USAGE;
      break;
    case 'h': fputs(help, stdout); return 0;
    default: return cli_usage_error("devices", "unknown option");
    }
  }
  if (optind < argc) return cli_usage_error("devices", "unexpected argument '%s'", argv[optind]);

  json_t *list = json ? json_array() : NULL;
  for (size_t i = 0; i < oc_target_count(); i++) {
    const struct oc_target_vtab *v = oc_target_at(i);
    char why[512];
    enum oc_status st = oc_target_available(v, why, sizeof why);
    struct oc_device_info info;
    bool described = false;
    if (st == oc_status_ok) {
      struct oc_target *t = NULL;
      opts.threads = (v->caps & oc_cap_threads) ? (int)threads : 1;
      st = oc_target_open(v->name, &opts, &t);
      if (st == oc_status_ok) st = oc_target_describe(t, &info);
      if (st == oc_status_ok) described = true;
      if (st != oc_status_ok) snprintf(why, sizeof why, "%s", oc_errmsg());
      oc_target_close(t);
    }
    if (json) {
      json_t *row = json_pack("{s:s, s:s, s:b}", "target", v->name, "summary", v->summary,
                              "available", st == oc_status_ok);
      if (st != oc_status_ok) json_object_set_new(row, "why", json_string(why));
      if (described) json_object_set_new(row, "device", device_json(&info));
      json_array_append_new(list, row);
      continue;
    }
    printf("%-8s %s\n", v->name, st == oc_status_ok ? "available" : "unavailable");
    printf("    %-12s %s\n", "what", v->summary);
    if (st != oc_status_ok) {
      printf("    %-12s %s\n", "why", why);
      continue;
    }
    printf("    %-12s %s\n", "device", info.name[0] ? info.name : "unknown");
    if (info.vendor[0]) printf("    %-12s %s\n", "vendor", info.vendor);
    printf("    %-12s %s\n", "arch", info.arch[0] ? info.arch : "unknown");
    printf("    %-12s %s\n", "isa", info.isa[0] ? info.isa : "unknown");
    printf("    %-12s %d logical, %d physical; %d thread%s used\n", "cores", info.cores_logical,
           info.cores_physical, info.threads, info.threads == 1 ? "" : "s");
    print_bytes("L1d", info.l1d_bytes);
    print_bytes("L2", info.l2_bytes);
    print_bytes("L3", info.l3_bytes);
    print_bytes("memory", info.memory_bytes);
    if (info.runtime[0]) printf("    %-12s %s\n", "runtime", info.runtime);
    printf("    %-12s %s\n", "fingerprint", info.fingerprint);
  }
  if (json) return cli_print_json(list);
  return 0;
}

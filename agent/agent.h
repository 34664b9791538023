/* agent.h - the opcost agent: the JSON Lines protocol that the host's
 * `remote` target and the `opcost-agent` program speak (docs/remote.md), the
 * base64 coding of tensors, the request loop the agent runs on a device, and
 * the device-side helpers it needs: CPU clusters read from sysfs, pinning to
 * a cluster and checking that the pin took effect, detecting emulation.
 *
 * It is compiled into libopcost (so the remote target and the unit tests use
 * the same code) and, for other architectures, into the cross-built agent.
 * Not public. */
#ifndef OPCOST_AGENT_H
#define OPCOST_AGENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "opcost/status.h"
#include "opcost/target.h"

/* Version of the protocol: bumped on any change a peer could notice.
 * 2: prepare_net (whole networks), hello's net_format and networks. */
#define OC__AGENT_PROTOCOL 2
#define OC__AGENT_NAME "opcost-agent"
/* Most runs one `time` request may ask for: bounds the reply's size. */
#define OC__AGENT_MAX_RUNS 100000
/* Most kernels an agent keeps prepared at once. */
#define OC__AGENT_MAX_KERNELS 4096
/* Most CPU clusters told apart. */
#define OC__AGENT_MAX_CLUSTERS 8

/* ---- base64 (RFC 4648, with padding) ---- */

/* Characters of the encoding of n bytes, terminating NUL not counted. */
size_t oc__b64_encoded_len(size_t n);
/* Writes the encoding of data[0..n) and a NUL into out (encoded_len + 1). */
void oc__b64_encode(const void *data, size_t n, char *out);
/* Decodes text[0..len) into out (size bytes). parse_error naming the offset
 * of a bad character or a bad length; overflow when it would not fit. */
enum oc_status oc__b64_decode(const char *text, size_t len, void *out, size_t size,
                              size_t *decoded);

/* ---- CPU clusters ---- */

/* CPUs of one cluster: the online CPUs that share cpu_capacity and
 * cpuinfo_max_freq. */
struct oc__cpu_cluster {
  int n_cpus;
  int cpus[OC_MAX_CORES];
  int64_t capacity; /* cpu_capacity (0..1024); 0 when the kernel does not say */
  int64_t max_khz;  /* cpufreq/cpuinfo_max_freq; 0 when there is no cpufreq */
};

/* Clusters in ascending order of (capacity, max_khz): cluster 0 is the
 * slowest ("little"), the last the fastest ("big"). A machine whose CPUs
 * all look alike (or that says nothing) has one cluster. */
struct oc__cpu_topology {
  int n_clusters;
  struct oc__cpu_cluster clusters[OC__AGENT_MAX_CLUSTERS];
  char source[64]; /* what told the clusters apart: "cpu_capacity", ... */
};

/* Reads the topology from a sysfs CPU directory laid out like
 * /sys/devices/system/cpu (NULL means that one): `online` (or the cpuN
 * folders when it is absent), cpuN/cpu_capacity, cpuN/cpufreq/
 * cpuinfo_max_freq. io_error naming the directory when it lists no CPU;
 * overflow when there are more clusters than OC__AGENT_MAX_CLUSTERS
 * distinct ones or CPUs numbered past OC_MAX_CORES. */
enum oc_status oc__agent_topology(const char *sysfs_cpu_dir, struct oc__cpu_topology *topo);

/* Sets opts->cores to the CPUs of a cluster: "big" (the fastest), "little"
 * (the slowest) or its index in topo. invalid_argument naming the value and
 * the clusters there are. */
enum oc_status oc__agent_pick_cluster(const struct oc__cpu_topology *topo, const char *which,
                                      struct oc_target_opts *opts);

/* Parses a Linux CPU list ("0-3,6,8-9") into cpus (at most max); false when
 * it is not one. */
bool oc__agent_parse_cpulist(const char *text, int *cpus, int max, int *n);

/* Checks that the calling thread's affinity (sched_getaffinity) is exactly
 * the cores of opts. device_error saying what the device left instead when
 * it is not: the device ignores affinity. */
enum oc_status oc__agent_check_affinity(const struct oc_target_opts *opts);

/* CPUs every thread of this process last ran on (/proc/self/task/N/stat),
 * deduplicated, at most max; how many. -1 when /proc cannot be read. */
int oc__agent_threads_cpus(int *cpus, int max);

/* "" when this process runs natively; else what emulates it (e.g.
 * "QEMU user mode: aarch64 code on a x86_64 host CPU"), judged from
 * /proc/cpuinfo describing another architecture than the one this code was
 * built for. cpuinfo_path NULL means /proc/cpuinfo. */
void oc__agent_emulation(const char *cpuinfo_path, char *out, size_t size);

/* ---- the agent ---- */

struct oc__agent_config {
  const char *self_path; /* the agent's executable, hashed for the build id */
  const char *sysfs_cpu; /* NULL: /sys/devices/system/cpu */
  int exit_after;        /* fault injection for tests: killed (SIGKILL) on
                            receiving this request (counted from 1); 0: never */
};

/* Build id of a file: FNV-1a 64 of its bytes as 16 hex digits. io_error
 * naming the file. Both sides compute it: the agent of itself (hello), the
 * host of the agent it would push. */
enum oc_status oc__agent_build_id(const char *path, char out[17]);

/* Serves requests from in until end of input or `bye`, one reply line per
 * request line on out (flushed after each). Returns ok at the end of input,
 * io_error when out cannot be written. Never exits the process except for
 * config->exit_after. */
enum oc_status oc__agent_serve(FILE *in, FILE *out, const struct oc__agent_config *config);

#endif

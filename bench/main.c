/* cow-bench: every benchmark of docs/performance.md in one run, then one table.
 *
 *   cow-bench [--cpu N] [--rounds N] [--scale F] [--only SECTIONS] PEER_PATH [MiB] [EXECS]
 *
 * Sections (--only takes a comma-separated list):
 *   bridge  the guest connection against the fake guest of tests/support/fake-guest.c, in a
 *           child process pinned with this one to core N (--cpu, default the last one):
 *           RPC round trip vs a raw AF_UNIX ping-pong of the same bytes, pipelined RPCs vs a
 *           raw libuv client, exec+wait+close CPU and allocations, heap per live process,
 *           heap over many cycles (--scale multiplies the operation counts)
 *   peer    stdio and exec through cow-gcs-peer (real processes) and the HCS v2 emulator,
 *           against a raw socketpair, pipe or uv_spawn (MiB and EXECS size them)
 * Each figure is the median of --rounds rounds (default 7) and the minimum is shown next to
 * it; libcow and its baseline alternate round by round. Build it in Release. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "support/alloc-count.h"

static void usage(void)
{
  fprintf(stderr, "usage: cow-bench [--cpu N] [--rounds N] [--scale F] [--only bridge,peer] "
                  "PEER_PATH [MiB] [EXECS]\n");
}

int main(int argc, char **argv)
{
  struct bench_opts o = {0};
  o.stdio_mib = 100;
  o.execs = 200;
  o.rounds = 7;
  o.scale = 1.0;
  o.cpu = -1;
  int pos = 0;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
      usage();
      return 0;
    }
    if (a[0] == '-' && a[1] == '-') {
      if (i + 1 >= argc) {
        usage();
        return 2;
      }
      const char *v = argv[++i];
      if (strcmp(a, "--cpu") == 0)
        o.cpu = atoi(v);
      else if (strcmp(a, "--rounds") == 0)
        o.rounds = atoi(v);
      else if (strcmp(a, "--scale") == 0)
        o.scale = atof(v);
      else if (strcmp(a, "--only") == 0)
        o.only = v;
      else {
        usage();
        return 2;
      }
      continue;
    }
    switch (pos++) {
    case 0:
      o.peer_path = a;
      break;
    case 1:
      o.stdio_mib = strtoull(a, NULL, 10);
      break;
    case 2:
      o.execs = atoi(a);
      break;
    default:
      usage();
      return 2;
    }
  }
  if (o.peer_path == NULL || o.rounds < 1 || o.scale <= 0) {
    usage();
    return 2;
  }
  ac_install(); /* before anything allocates */
  int failed = 0;
  if (bench_wanted(&o, "bridge") && bench_bridge(&o) != 0)
    failed = 1;
  if (bench_wanted(&o, "peer") && bench_peer(&o) != 0)
    failed = 1;
  bench_print_table();
  return failed;
}

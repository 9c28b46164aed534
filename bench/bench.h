/* libcow benchmarks: what every section shares (docs/performance.md).
 *
 * A section (bridge.c, peer.c, ...) measures libcow and its baseline in the same run,
 * alternating them round by round so that a change in the machine's load hits both, and
 * hands each figure to bench_row(); main.c prints the table at the end. A new section is
 * one file with one entry point called from main.c. Nothing here asserts: the CTest smoke
 * run (bench_smoke) checks that the programs work, never how fast. */
#ifndef COW_BENCH_H
#define COW_BENCH_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

struct bench_opts {
  const char *peer_path; /* cow-gcs-peer, for the sections that run real processes */
  uint64_t stdio_mib;    /* bytes through each stdio row */
  int execs;             /* execs per exec row of the peer section */
  int rounds;            /* rounds per figure (min and median are reported) */
  double scale;          /* multiplies the operation counts of the bridge section */
  int cpu;               /* the core the bridge section pins itself and its guest to */
  const char *only;      /* NULL, or a comma-separated list of section names to run */
};

/* Figures over rounds: the minimum and the median. */
struct bench_stat {
  double min, median;
};
struct bench_stat bench_stat_of(double *values, int n); /* sorts `values` */

/* Higher is better (a rate) or lower is better (a time, a count). */
enum bench_sense { BENCH_LOWER_BETTER, BENCH_HIGHER_BETTER };

/* One line of the table. `base` may be NULL (no baseline: an absolute target). The ratio
 * is libcow's median over the baseline's median. `target`: "ratio <= 1.25", "value >= 200000",
 * "value <= 15" or NULL; the table says whether it is met. `note` is free text. */
void bench_row(const char *name, const char *unit, enum bench_sense sense,
               const struct bench_stat *cow, const struct bench_stat *base, const char *target,
               const char *note);
/* Print the table collected so far (main.c, at the end). Returns the number of targets
 * missed. */
int bench_print_table(void);

/* Monotonic wall time and this process's CPU time (user + system), in nanoseconds. */
uint64_t bench_wall_ns(void);
uint64_t bench_cpu_ns(void);

/* Pin the calling process (and the children it forks afterwards) to `cpu`; the mask before
 * is kept for bench_unpin(). 0 or -1. */
int bench_pin(int cpu);
void bench_unpin(void);

/* 1 when section `name` is to run. */
int bench_wanted(const struct bench_opts *o, const char *name);

/* The sections. Each returns 0, or -1 when it could not run (it says why on stderr). */
int bench_bridge(const struct bench_opts *o);
int bench_peer(const struct bench_opts *o);

#endif

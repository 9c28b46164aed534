/* What the benchmark sections share (see bench.h). */
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "bench.h"

static int cmp_double(const void *a, const void *b)
{
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

struct bench_stat bench_stat_of(double *values, int n)
{
  struct bench_stat s = {0, 0};
  if (n <= 0)
    return s;
  qsort(values, (size_t)n, sizeof *values, cmp_double);
  s.min = values[0];
  s.median = n % 2 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
  return s;
}

#define MAX_ROWS 32

static struct row {
  char name[24], unit[16], target[32], note[160];
  enum bench_sense sense;
  struct bench_stat cow, base;
  int has_base;
} rows[MAX_ROWS];
static int nrows;

void bench_row(const char *name, const char *unit, enum bench_sense sense,
               const struct bench_stat *cow, const struct bench_stat *base, const char *target,
               const char *note)
{
  if (nrows == MAX_ROWS)
    return;
  struct row *r = &rows[nrows++];
  snprintf(r->name, sizeof r->name, "%s", name);
  snprintf(r->unit, sizeof r->unit, "%s", unit);
  snprintf(r->target, sizeof r->target, "%s", target ? target : "");
  snprintf(r->note, sizeof r->note, "%s", note ? note : "");
  r->sense = sense;
  r->cow = *cow;
  r->has_base = base != NULL;
  if (base)
    r->base = *base;
  /* Each row also goes out as it is measured, so a long run shows progress. */
  printf("  %s: %.3g %s (min %.3g)", name, cow->median, unit, cow->min);
  if (base)
    printf(", baseline %.3g (min %.3g), ratio %.2f", base->median, base->min,
           cow->median / base->median);
  printf("\n");
  fflush(stdout);
}

/* "ratio <= 1.25", "value >= 200000": 1 met, 0 missed, -1 no target. */
static int target_met(const struct row *r, double ratio)
{
  char what[16], op[4];
  double bound;
  if (sscanf(r->target, "%15s %3s %lf", what, op, &bound) != 3)
    return -1;
  double v = strcmp(what, "ratio") == 0 ? ratio : r->cow.median;
  if (strcmp(what, "ratio") == 0 && !r->has_base)
    return -1;
  if (strcmp(op, "<=") == 0)
    return v <= bound;
  if (strcmp(op, ">=") == 0)
    return v >= bound;
  if (strcmp(op, "==") == 0)
    return v == bound;
  return -1;
}

int bench_print_table(void)
{
  int missed = 0;
  printf("\n%-16s %-8s %19s %19s %7s  %-16s %s\n", "row", "unit", "libcow median (min)",
         "baseline med (min)", "ratio", "target", "");
  for (int i = 0; i < nrows; i++) {
    const struct row *r = &rows[i];
    char cow[40], base[40] = "-", ratio_s[16] = "-";
    double ratio = 0;
    snprintf(cow, sizeof cow, "%.4g (%.4g)", r->cow.median, r->cow.min);
    if (r->has_base) {
      snprintf(base, sizeof base, "%.4g (%.4g)", r->base.median, r->base.min);
      ratio = r->base.median != 0 ? r->cow.median / r->base.median : 0;
      snprintf(ratio_s, sizeof ratio_s, "%.2f", ratio);
    }
    int met = target_met(r, ratio);
    missed += met == 0;
    printf("%-16s %-8s %19s %19s %7s  %-16s %s%s%s\n", r->name, r->unit, cow, base, ratio_s,
           r->target,
           met < 0 ? ""
           : met   ? "met"
                   : "MISSED",
           r->note[0] ? "  " : "", r->note);
  }
  return missed;
}

uint64_t bench_wall_ns(void)
{
  return uv_hrtime();
}

uint64_t bench_cpu_ns(void)
{
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (uint64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000000u +
         (uint64_t)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000u;
}

static cpu_set_t saved_mask;
static int pinned;

int bench_pin(int cpu)
{
  if (sched_getaffinity(0, sizeof saved_mask, &saved_mask) != 0)
    return -1;
  cpu_set_t one;
  CPU_ZERO(&one);
  CPU_SET(cpu, &one);
  if (sched_setaffinity(0, sizeof one, &one) != 0)
    return -1;
  pinned = 1;
  return 0;
}

void bench_unpin(void)
{
  if (pinned)
    sched_setaffinity(0, sizeof saved_mask, &saved_mask);
  pinned = 0;
}

int bench_wanted(const struct bench_opts *o, const char *name)
{
  if (o->only == NULL)
    return 1;
  size_t n = strlen(name);
  for (const char *p = o->only; *p;) {
    const char *end = strchr(p, ',');
    size_t len = end ? (size_t)(end - p) : strlen(p);
    if (len == n && strncmp(p, name, n) == 0)
      return 1;
    p += len + (end != NULL);
  }
  return 0;
}

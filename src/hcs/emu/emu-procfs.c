/* ProcessList and Statistics from /proc (docs/hcs-api.md §5.3, §5.6, §6.5 item 23). */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "hcs/emu/emu-internal.h"

struct pstat {
  char comm[64];
  uint64_t utime, stime; /* clock ticks */
  uint64_t rss_pages;
};

static int read_stat(pid_t pid, struct pstat *ps)
{
  char path[64], buf[1024];
  snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
  FILE *f = fopen(path, "re");
  if (f == NULL)
    return -1;
  size_t n = fread(buf, 1, sizeof(buf) - 1, f);
  fclose(f);
  buf[n] = '\0';
  char *l = strchr(buf, '('), *r = strrchr(buf, ')');
  if (l == NULL || r == NULL || r < l)
    return -1;
  size_t cl =
      (size_t)(r - l - 1) < sizeof(ps->comm) - 1 ? (size_t)(r - l - 1) : sizeof(ps->comm) - 1;
  memcpy(ps->comm, l + 1, cl);
  ps->comm[cl] = '\0';
  /* Fields after ")": 3 state ... 14 utime 15 stime ... 24 rss. */
  unsigned long long ut = 0, st = 0;
  long long rss = 0;
  if (sscanf(r + 2,
             "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %*d %*d %*d %*d %*d %*d "
             "%*u %*u %lld",
             &ut, &st, &rss) != 3)
    return -1;
  ps->utime = ut;
  ps->stime = st;
  ps->rss_pages = rss > 0 ? (uint64_t)rss : 0;
  return 0;
}

static uint64_t ticks_to_100ns(uint64_t t)
{
  long hz = sysconf(_SC_CLK_TCK);
  return hz > 0 ? t * (10000000u / (uint64_t)hz) : 0;
}

void cow__emu_procfs_process_list(struct emu_system *s, json_t *props)
{
  json_t *list = json_array();
  uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
  for (struct emu_process *p = s->procs; p != NULL; p = p->next) {
    if (p->exited)
      continue;
    struct pstat ps;
    if (read_stat(p->pid, &ps) != 0) {
      memset(&ps, 0, sizeof(ps));
      snprintf(ps.comm, sizeof(ps.comm), "%s", p->image);
    }
    json_array_append_new(
        list, json_pack("{s:I, s:s, s:I, s:I, s:I, s:I}", "ProcessId", (json_int_t)p->pid,
                        "ImageName", ps.comm, "UserTime100ns", (json_int_t)ticks_to_100ns(ps.utime),
                        "KernelTime100ns", (json_int_t)ticks_to_100ns(ps.stime),
                        "MemoryWorkingSetPrivateBytes", (json_int_t)(ps.rss_pages * page),
                        "MemoryCommitBytes", (json_int_t)(ps.rss_pages * page)));
  }
  json_object_set_new(props, "ProcessList", list);
}

void cow__emu_procfs_statistics(struct emu_system *s, json_t *props)
{
  uint64_t ut = 0, st = 0, rss = 0, page = (uint64_t)sysconf(_SC_PAGESIZE);
  for (struct emu_process *p = s->procs; p != NULL; p = p->next) {
    struct pstat ps;
    if (!p->exited && read_stat(p->pid, &ps) == 0) {
      ut += ps.utime;
      st += ps.stime;
      rss += ps.rss_pages * page;
    }
  }
  char now[32], start[32];
  time_t t = time(NULL), t0 = (time_t)s->start_wall;
  struct tm tm;
  strftime(now, sizeof(now), "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&t, &tm));
  strftime(start, sizeof(start), "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&t0, &tm));
  uint64_t up = s->start_ns ? (cow__emu_now_ns() - s->start_ns) / 100u : 0;
  json_object_set_new(props, "Statistics",
                      json_pack("{s:s, s:s, s:I, s:{s:I, s:I, s:I}, s:{s:I, s:I, s:I}}",
                                "Timestamp", now, "ContainerStartTime", start, "Uptime100ns",
                                (json_int_t)up, "Processor", "TotalRuntime100ns",
                                (json_int_t)ticks_to_100ns(ut + st), "RuntimeUser100ns",
                                (json_int_t)ticks_to_100ns(ut), "RuntimeKernel100ns",
                                (json_int_t)ticks_to_100ns(st), "Memory", "MemoryUsageCommitBytes",
                                (json_int_t)rss, "MemoryUsageCommitPeakBytes", (json_int_t)rss,
                                "MemoryUsagePrivateWorkingSetBytes", (json_int_t)rss));
}

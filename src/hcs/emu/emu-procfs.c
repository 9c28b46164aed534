/* What /proc says about a system's processes: which processes belong to it (its members),
 * and the ProcessList and Statistics documents (docs/hcs-api.md §5.3, §5.6, §6.5 item 23). */
#include <ctype.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/json.h"
#include "hcs/emu/emu-internal.h"

/* One line of /proc/PID/stat, the fields the membership needs. */
struct stat_row {
  pid_t pid, ppid, sid;
  char state;
  int member;
  int depth;
};

/* Fields 3..6 of /proc/PID/stat (after the parenthesised name, which may hold anything). */
static int read_ids(pid_t pid, struct stat_row *r)
{
  char path[64], buf[512];
  snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
  FILE *f = fopen(path, "re");
  if (f == NULL)
    return -1;
  size_t n = fread(buf, 1, sizeof(buf) - 1, f);
  fclose(f);
  buf[n] = '\0';
  char *close_paren = strrchr(buf, ')');
  int ppid = 0, pgrp = 0, sid = 0;
  char state = 0;
  if (close_paren == NULL ||
      sscanf(close_paren + 1, " %c %d %d %d", &state, &ppid, &pgrp, &sid) != 4)
    return -1;
  r->pid = pid;
  r->ppid = (pid_t)ppid;
  r->sid = (pid_t)sid;
  r->state = state;
  return 0;
}

char cow__emu_procfs_state(pid_t pid)
{
  struct stat_row r;
  return read_ids(pid, &r) == 0 ? r.state : 0;
}

static int tracked_root(const struct emu_system *s, const struct stat_row *r)
{
  for (const struct emu_process *p = s->procs; p != NULL; p = p->next) {
    if (!p->exited && (r->pid == p->pid || r->sid == p->pid))
      return 1;
    /* A session outlives its reaped leader while descendants hold it, and its number is
     * not reused meanwhile; a process that is itself a session leader with that number
     * is a newcomer that reused it. */
    if (p->exited && r->sid == p->pid && r->pid != r->sid)
      return 1;
  }
  return 0;
}

static int by_depth(const void *a, const void *b)
{
  const struct emu_member *x = a, *y = b;
  return (x->depth > y->depth) - (x->depth < y->depth);
}

/* /proc as a directory stream, through open() and fdopendir() rather than opendir(): this
 * runs on the emulator's dispatcher thread, and ThreadSanitizer registers a descriptor that
 * open() creates but not one that opendir() creates. libuv closes descriptors with a raw
 * close syscall TSan does not see either, so when this thread got a number the loop thread
 * had read from, closedir() looked to TSan like a close racing with that read (seen in CI
 * under the shim). Same behaviour, and nothing for TSan to misread. */
static DIR *open_proc(void)
{
  int fd = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    return NULL;
  DIR *d = fdopendir(fd);
  if (d == NULL)
    close(fd);
  return d;
}

int cow__emu_procfs_members(const struct emu_system *s, struct emu_member **out, size_t *count)
{
  *out = NULL;
  *count = 0;
  DIR *d = open_proc();
  if (d == NULL)
    return -1;
  struct stat_row *rows = NULL;
  size_t n = 0, cap = 0;
  struct dirent *de;
  while ((de = readdir(d)) != NULL) {
    if (!isdigit((unsigned char)de->d_name[0]))
      continue;
    struct stat_row r = {0};
    if (read_ids((pid_t)atoi(de->d_name), &r) != 0)
      continue; /* gone meanwhile */
    if (n == cap) {
      size_t nc = cap ? cap * 2 : 256;
      struct stat_row *nr = cow__realloc(rows, nc * sizeof(*nr));
      if (nr == NULL) {
        closedir(d);
        cow__free(rows);
        return -1;
      }
      rows = nr;
      cap = nc;
    }
    r.member = tracked_root(s, &r);
    rows[n++] = r;
  }
  closedir(d);
  /* Descendants belong to the system too, also those that left its sessions (setsid):
   * propagate membership down the parent links until nothing changes. */
  for (int changed = 1; changed;) {
    changed = 0;
    for (size_t i = 0; i < n; i++) {
      if (rows[i].member)
        continue;
      for (size_t j = 0; j < n; j++)
        if (rows[j].member && rows[j].pid == rows[i].ppid) {
          rows[i].member = changed = 1;
          break;
        }
    }
  }
  size_t m = 0;
  for (size_t i = 0; i < n; i++)
    m += rows[i].member;
  struct emu_member *list = m ? cow__calloc(m, sizeof(*list)) : NULL;
  if (m && list == NULL) {
    cow__free(rows);
    return -1;
  }
  size_t k = 0;
  for (size_t i = 0; i < n; i++) {
    if (!rows[i].member)
      continue;
    /* Depth within the system: how many member ancestors (the cycle guard is paranoia). */
    int depth = 0;
    pid_t up = rows[i].ppid;
    for (int guard = 0; guard < 4096; guard++) {
      size_t j = 0;
      while (j < n && !(rows[j].member && rows[j].pid == up))
        j++;
      if (j == n)
        break;
      depth++;
      up = rows[j].ppid;
    }
    list[k].pid = rows[i].pid;
    list[k].ppid = rows[i].ppid;
    list[k].depth = depth;
    list[k].state = rows[i].state;
    k++;
  }
  cow__free(rows);
  if (m > 1)
    qsort(list, m, sizeof(*list), by_depth);
  *out = list;
  *count = m;
  return 0;
}

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

/* A process name from /proc as JSON text: the kernel keeps raw bytes, JSON needs UTF-8, so
 * a name that is not UTF-8 has each byte outside ASCII shown as U+FFFD (the entry must not
 * be dropped for it). */
static json_t *name_text(const char *comm)
{
  json_t *j = json_string(comm);
  if (j != NULL || cow__json_utf8_valid(comm))
    return j; /* NULL here: no memory */
  char buf[sizeof(((struct pstat *)0)->comm) * 3 + 1];
  size_t n = 0;
  for (const unsigned char *c = (const unsigned char *)comm; *c && n + 4 < sizeof buf; c++) {
    if (*c < 0x80)
      buf[n++] = (char)*c;
    else
      memcpy(buf + n, "\xef\xbf\xbd", 3), n += 3;
  }
  buf[n] = '\0';
  return json_string(buf);
}

/* Every process of the system's tree (cow__emu_procfs_members: the processes it started and
 * their descendants), as HCS lists them: a vanished one is left out. -1: no memory, or the
 * tree could not be read. */
int cow__emu_procfs_process_list(struct emu_system *s, json_t *props)
{
  struct emu_member *m = NULL;
  size_t n = 0;
  if (cow__emu_procfs_members(s, &m, &n) != 0)
    return -1;
  json_t *list = json_array();
  uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
  for (size_t i = 0; list != NULL && i < n; i++) {
    struct pstat ps;
    if (read_stat(m[i].pid, &ps) != 0)
      continue; /* gone meanwhile */
    json_t *one = json_pack(
        "{s:I, s:o, s:I, s:I, s:I, s:I}", "ProcessId", (json_int_t)m[i].pid, "ImageName",
        name_text(ps.comm), "UserTime100ns", (json_int_t)ticks_to_100ns(ps.utime),
        "KernelTime100ns", (json_int_t)ticks_to_100ns(ps.stime), "MemoryWorkingSetPrivateBytes",
        (json_int_t)(ps.rss_pages * page), "MemoryCommitBytes", (json_int_t)(ps.rss_pages * page));
    if (json_array_append_new(list, one) != 0) {
      json_decref(list);
      list = NULL;
    }
  }
  cow__free(m);
  return json_object_set_new(props, "ProcessList", list) == 0 ? 0 : -1;
}

int cow__emu_procfs_statistics(struct emu_system *s, json_t *props)
{
  uint64_t ut = 0, st = 0, rss = 0, page = (uint64_t)sysconf(_SC_PAGESIZE);
  struct emu_member *m = NULL;
  size_t n = 0;
  if (cow__emu_procfs_members(s, &m, &n) != 0)
    return -1;
  for (size_t i = 0; i < n; i++) {
    struct pstat ps;
    if (read_stat(m[i].pid, &ps) == 0) {
      ut += ps.utime;
      st += ps.stime;
      rss += ps.rss_pages * page;
    }
  }
  cow__free(m);
  char now[40], start[32];
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  time_t t = ts.tv_sec, t0 = (time_t)s->start_wall;
  struct tm tm;
  size_t len = strftime(now, sizeof(now), "%Y-%m-%dT%H:%M:%S", gmtime_r(&t, &tm));
  snprintf(now + len, sizeof(now) - len, ".%07ldZ", ts.tv_nsec / 100); /* .NET's 100 ns */
  strftime(start, sizeof(start), "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&t0, &tm));
  uint64_t up = s->start_ns ? (cow__emu_now_ns() - s->start_ns) / 100u : 0;
  return json_object_set_new(
             props, "Statistics",
             json_pack("{s:s, s:s, s:I, s:{s:I, s:I, s:I}, s:{s:I, s:I, s:I}}", "Timestamp", now,
                       "ContainerStartTime", start, "Uptime100ns", (json_int_t)up, "Processor",
                       "TotalRuntime100ns", (json_int_t)ticks_to_100ns(ut + st), "RuntimeUser100ns",
                       (json_int_t)ticks_to_100ns(ut), "RuntimeKernel100ns",
                       (json_int_t)ticks_to_100ns(st), "Memory", "MemoryUsageCommitBytes",
                       (json_int_t)rss, "MemoryUsageCommitPeakBytes", (json_int_t)rss,
                       "MemoryUsagePrivateWorkingSetBytes", (json_int_t)rss)) == 0
             ? 0
             : -1;
}

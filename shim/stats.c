/* Pids and Stats: the container's processes and figures from libcow's typed process list and
 * statistics (cow_container_process_list(), cow_container_statistics()), whatever the backend.
 *
 * Stats answers containerd's cgroup v1 Metrics (io.containerd.cgroups.v1.Metrics): it carries
 * the kernel/user split of CPU time in nanoseconds, memory usage and limit, and the process
 * count, which is what libcow's statistics hold; it is the shape the LCOW guest itself
 * reports (LCOWMetrics), and `ctr task metrics` prints it. A figure the backend did not
 * report is left out of the message, never sent as a made-up value. */
#include <stdlib.h>
#include <string.h>

#include "shim.h"

/* The call in progress and the task it is about, found again by id when the answer comes:
 * the task may have been deleted meanwhile. */
struct query {
  ttrpc_call_t *call;
  shim_t *shim;
  char *id;
};

static struct query *query_new(ttrpc_call_t *call, shim_t *shim, const char *id)
{
  struct query *q = malloc(sizeof *q);
  if (q != NULL && (q->id = strdup(id)) == NULL) {
    free(q);
    q = NULL;
  }
  if (q != NULL) {
    q->call = call;
    q->shim = shim;
  }
  return q;
}

static void query_free(struct query *q)
{
  free(q->id);
  free(q);
}

/* The task a Pids or Stats names, with a container to ask, or the call failed. */
static shim_task_t *running_task(ttrpc_call_t *call, shim_t *shim, const char *id)
{
  shim_task_t *t = shim_task_find(shim, id);
  if (t == NULL)
    ttrpc_call_fail(call, TTRPC_NOT_FOUND, "task %s: not found", id);
  else if (t->container == NULL)
    ttrpc_call_fail(call, TTRPC_FAILED_PRECONDITION, "task %s has no container", id);
  return t != NULL && t->container != NULL ? t : NULL;
}

/* A query about the task `id` names, or NULL with the call failed (no such task, no
 * container, no memory). */
static struct query *query_begin(ttrpc_call_t *call, shim_t *shim, const char *id, shim_task_t **t)
{
  *t = running_task(call, shim, id);
  if (*t == NULL)
    return NULL;
  struct query *q = query_new(call, shim, id);
  if (q == NULL)
    ttrpc_call_fail(call, TTRPC_RESOURCE_EXHAUSTED, "out of memory");
  return q;
}

/* Start a query, or fail the call with what libcow said. */
static void started(struct query *q, int rc, const char *what, const shim_task_t *t)
{
  if (rc == 0)
    return;
  if (rc == COW_ENOTSUP)
    ttrpc_call_fail(q->call, TTRPC_UNIMPLEMENTED, "%s is not supported by the %s backend", what,
                    t->backend->name);
  else
    ttrpc_call_fail(q->call, shim_code(rc), "%s: %s", what, cow_strerror(rc));
  query_free(q);
}

/* A query's answer: 1 with the call failed and the query freed when libcow said it failed,
 * 0 when there is a result to answer with. */
static int answer_failed(struct query *q, const char *what, int status, const cow_error_t *err)
{
  if (status >= 0)
    return 0;
  char msg[512];
  ttrpc_call_fail(q->call, shim_code(status), "%s: %s", what,
                  shim_errmsg(msg, sizeof msg, status, err));
  query_free(q);
  return 1;
}

/* ---- Pids ---- */

static void listed(cow_container_t *c, int status, const cow_process_list_t *list,
                   const cow_error_t *err, void *data)
{
  struct query *q = data;
  if (answer_failed(q, "pids", status, err))
    return;
  shim_task_t *t = shim_task_find(q->shim, q->id);
  size_t n = list->count;
  Containerd__V1__Types__ProcessInfo *infos = calloc(n ? n : 1, sizeof *infos);
  Containerd__V1__Types__ProcessInfo **ptrs = calloc(n ? n : 1, sizeof *ptrs);
  Containerd__Runc__V1__ProcessDetails *details = calloc(n ? n : 1, sizeof *details);
  Google__Protobuf__Any *anys = calloc(n ? n : 1, sizeof *anys);
  int ok = infos != NULL && ptrs != NULL && details != NULL && anys != NULL;
  for (size_t i = 0; ok && i < n; i++) {
    containerd__v1__types__process_info__init(&infos[i]);
    infos[i].pid = (uint32_t)list->items[i].pid; /* libcow: 0..UINT32_MAX */
    ptrs[i] = &infos[i];
    /* An exec of this task: its id, as runc's shim gives it (ProcessDetails). */
    for (shim_proc_t *p = t != NULL ? t->execs : NULL; p != NULL; p = p->next)
      if (p->pid == infos[i].pid && p->pid != 0 && p->exec_id != NULL) {
        containerd__runc__v1__process_details__init(&details[i]);
        details[i].exec_id = p->exec_id;
        if (pb_any_pack(&anys[i], &details[i].base) != 0)
          ok = 0;
        else
          infos[i].info = &anys[i];
        break;
      }
  }
  if (ok) {
    Containerd__Task__V2__PidsResponse r = CONTAINERD__TASK__V2__PIDS_RESPONSE__INIT;
    r.n_processes = n;
    r.processes = ptrs;
    ttrpc_call_reply(q->call, &r.base);
  } else {
    ttrpc_call_fail(q->call, TTRPC_RESOURCE_EXHAUSTED, "pids: out of memory");
  }
  for (size_t i = 0; anys != NULL && i < n; i++)
    pb_any_clear(&anys[i]);
  free(anys);
  free(details);
  free(ptrs);
  free(infos);
  query_free(q);
}

void shim_task_pids(ttrpc_call_t *call, const ProtobufCMessage *msg, void *data)
{
  const Containerd__Task__V2__PidsRequest *r = (const void *)msg;
  shim_task_t *t;
  struct query *q = query_begin(call, data, r->id, &t);
  if (q != NULL)
    started(q, cow_container_process_list(t->container, listed, q), "listing processes", t);
}

/* ---- Stats ---- */

static void measured(cow_container_t *c, int status, const cow_statistics_t *st,
                     const cow_error_t *err, void *data)
{
  struct query *q = data;
  if (answer_failed(q, "stats", status, err))
    return;
  Io__Containerd__Cgroups__V1__Metrics m = IO__CONTAINERD__CGROUPS__V1__METRICS__INIT;
  Io__Containerd__Cgroups__V1__PidsStat pids = IO__CONTAINERD__CGROUPS__V1__PIDS_STAT__INIT;
  Io__Containerd__Cgroups__V1__CPUStat cpu = IO__CONTAINERD__CGROUPS__V1__CPUSTAT__INIT;
  Io__Containerd__Cgroups__V1__CPUUsage usage = IO__CONTAINERD__CGROUPS__V1__CPUUSAGE__INIT;
  Io__Containerd__Cgroups__V1__MemoryStat mem = IO__CONTAINERD__CGROUPS__V1__MEMORY_STAT__INIT;
  Io__Containerd__Cgroups__V1__MemoryEntry mu = IO__CONTAINERD__CGROUPS__V1__MEMORY_ENTRY__INIT;
  if (st->have & COW_STATS_PROCESS_COUNT) {
    pids.current = st->process_count;
    m.pids = &pids;
  }
  if (st->have & (COW_STATS_CPU_TOTAL | COW_STATS_CPU_KERNEL | COW_STATS_CPU_USER)) {
    usage.total = st->cpu_total_ns;
    usage.kernel = st->cpu_kernel_ns;
    usage.user = st->cpu_user_ns;
    cpu.usage = &usage;
    m.cpu = &cpu;
  }
  if (st->have & (COW_STATS_MEMORY_USAGE | COW_STATS_MEMORY_LIMIT)) {
    mu.usage = st->memory_usage_bytes;
    mu.limit = st->memory_limit_bytes;
    mem.usage = &mu;
    m.memory = &mem;
  }
  Google__Protobuf__Any any;
  if (pb_any_pack(&any, &m.base) != 0) {
    ttrpc_call_fail(q->call, TTRPC_RESOURCE_EXHAUSTED, "stats: out of memory");
  } else {
    Containerd__Task__V2__StatsResponse r = CONTAINERD__TASK__V2__STATS_RESPONSE__INIT;
    r.stats = &any;
    ttrpc_call_reply(q->call, &r.base);
    pb_any_clear(&any);
  }
  query_free(q);
}

void shim_task_stats(ttrpc_call_t *call, const ProtobufCMessage *msg, void *data)
{
  const Containerd__Task__V2__StatsRequest *r = (const void *)msg;
  shim_task_t *t;
  struct query *q = query_begin(call, data, r->id, &t);
  if (q != NULL)
    started(q, cow_container_statistics(t->container, measured, q), "statistics", t);
}

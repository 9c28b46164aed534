/* The process table: a task's init and exec processes, from Create/Exec to Delete.
 *
 * A process is CREATED (its fifos open), STARTING (libcow creates it), RUNNING, EXITING
 * (libcow reported the exit, which comes after its output reached end of file; the
 * shim's own writes into the fifos are finishing) and STOPPED: only then are TaskExit
 * published and the Wait calls answered, so whoever waits has every byte. */
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "shim.h"

static char *dup_or_null(const char *s)
{
  return s != NULL && s[0] != '\0' ? strdup(s) : NULL;
}

shim_proc_t *shim_proc_new(shim_task_t *t, const char *exec_id, int terminal,
                           const char *stdin_path, const char *stdout_path, const char *stderr_path,
                           json_t *spec)
{
  shim_proc_t *p = calloc(1, sizeof *p);
  if (p == NULL)
    return NULL;
  p->task = t;
  p->terminal = terminal;
  p->exec_id = dup_or_null(exec_id);
  p->stdin_path = dup_or_null(stdin_path);
  p->stdout_path = dup_or_null(stdout_path);
  p->stderr_path = dup_or_null(stderr_path);
  p->spec = json_incref(spec);
  if ((exec_id != NULL && exec_id[0] != '\0' && p->exec_id == NULL) ||
      (stdin_path != NULL && stdin_path[0] != '\0' && p->stdin_path == NULL) ||
      (stdout_path != NULL && stdout_path[0] != '\0' && p->stdout_path == NULL) ||
      (stderr_path != NULL && stderr_path[0] != '\0' && p->stderr_path == NULL)) {
    shim_proc_free(p);
    return NULL;
  }
  if (p->exec_id == NULL) {
    t->init = p;
  } else {
    p->next = t->execs;
    t->execs = p;
  }
  return p;
}

shim_proc_t *shim_proc_find(shim_task_t *t, const char *exec_id)
{
  if (exec_id == NULL || exec_id[0] == '\0')
    return t->init;
  for (shim_proc_t *p = t->execs; p != NULL; p = p->next)
    if (strcmp(p->exec_id, exec_id) == 0)
      return p;
  return NULL;
}

const char *shim_proc_id(const shim_proc_t *p)
{
  return p->exec_id != NULL ? p->exec_id : p->task->id;
}

Containerd__V1__Types__Status shim_proc_status(const shim_proc_t *p)
{
  switch (p->state) {
  case PROC_CREATED:
  case PROC_STARTING:
    return CONTAINERD__V1__TYPES__STATUS__CREATED;
  case PROC_RUNNING:
  case PROC_EXITING: /* for containerd it runs until its exit is published */
    return p->task->paused ? CONTAINERD__V1__TYPES__STATUS__PAUSED
                           : CONTAINERD__V1__TYPES__STATUS__RUNNING;
  case PROC_STOPPED:
    return CONTAINERD__V1__TYPES__STATUS__STOPPED;
  }
  return CONTAINERD__V1__TYPES__STATUS__UNKNOWN;
}

static void answer_wait(shim_proc_t *p, ttrpc_call_t *call)
{
  Containerd__Task__V2__WaitResponse r = CONTAINERD__TASK__V2__WAIT_RESPONSE__INIT;
  Google__Protobuf__Timestamp ts;
  pb_timestamp(&ts, &p->exited_at);
  r.exit_status = p->exit_status;
  r.exited_at = &ts;
  ttrpc_call_reply(call, &r.base);
}

void shim_proc_wait(shim_proc_t *p, ttrpc_call_t *call)
{
  if (p->state == PROC_STOPPED) {
    answer_wait(p, call);
    return;
  }
  ttrpc_call_t **w = realloc(p->waiters, (p->nwaiters + 1) * sizeof *w);
  if (w == NULL) {
    ttrpc_call_fail(call, TTRPC_RESOURCE_EXHAUSTED, "out of memory");
    return;
  }
  p->waiters = w;
  w[p->nwaiters++] = call;
}

static void answer_waiters(shim_proc_t *p)
{
  for (size_t i = 0; i < p->nwaiters; i++)
    answer_wait(p, p->waiters[i]);
  free(p->waiters);
  p->waiters = NULL;
  p->nwaiters = 0;
}

/* The exit is complete: state, event, waiters, and for the init the container's end. */
static void stopped(shim_proc_t *p)
{
  shim_task_t *t = p->task;
  p->state = PROC_STOPPED;
  Containerd__Events__TaskExit ev = CONTAINERD__EVENTS__TASK_EXIT__INIT;
  Google__Protobuf__Timestamp ts;
  pb_timestamp(&ts, &p->exited_at);
  ev.container_id = t->id;
  ev.id = (char *)shim_proc_id(p);
  ev.pid = p->pid;
  ev.exit_status = p->exit_status;
  ev.exited_at = &ts;
  shim_events_publish(t->shim->events, "/tasks/exit", &ev.base);
  answer_waiters(p);
  if (p == t->init)
    shim_task_init_exited(t);
}

static void drained(shim_io_t *io, int status, const char *what, void *data)
{
  stopped(data);
}

static void exited(cow_process_t *cp, int status, int64_t exit_code, const cow_error_t *err,
                   void *data)
{
  shim_proc_t *p = data;
  if (status == COW_ECANCELED)
    return; /* the handle is being closed: Delete or shutdown own the process now */
  cow_timestamp_t at;
  if (status == 0 || status == COW_EIO_TIMEOUT) {
    p->exit_status = (uint32_t)exit_code;
    if (cow_process_exit_time(&at, cp) == 0) { /* when the backend reported it */
      p->exited_at.tv_sec = (time_t)at.sec;
      p->exited_at.tv_nsec = at.nsec;
    } else {
      clock_gettime(CLOCK_REALTIME, &p->exited_at);
    }
  } else {
    clock_gettime(CLOCK_REALTIME, &p->exited_at); /* when the shim lost track of it */
    char msg[512];
    shim_log(SHIM_LOG_ERROR, "process %s of %s: no exit observed: %s", shim_proc_id(p), p->task->id,
             shim_errmsg(msg, sizeof msg, status, err));
    p->exit_status = SHIM_UNKNOWN_EXIT;
  }
  p->state = PROC_EXITING;
  if (p->io != NULL)
    shim_io_drain(p->io, status != 0, drained, p);
  else
    stopped(p);
}

struct start_ctx {
  shim_proc_t *p;
  void (*cb)(shim_proc_t *p, int code, const char *msg);
};

static void created(cow_process_t *cp, int status, const cow_error_t *err, void *data)
{
  struct start_ctx *sc = data;
  shim_proc_t *p = sc->p;
  void (*cb)(shim_proc_t *, int, const char *) = sc->cb;
  free(sc);
  if (status == COW_ECANCELED)
    return; /* only shim_proc_free closes the handle: `p` is gone */
  if (status < 0) {
    char msg[768];
    shim_errmsg(msg, sizeof msg, status, err);
    /* The process never ran: it is stopped, with containerd's "unknown" status, and whoever
     * waits on it learns that now. */
    clock_gettime(CLOCK_REALTIME, &p->exited_at);
    p->exit_status = SHIM_UNKNOWN_EXIT;
    p->state = PROC_STOPPED;
    answer_waiters(p);
    cb(p, shim_code(status), msg);
    return;
  }
  int64_t pid = cow_process_pid(cp);
  p->pid = pid > 0 ? (uint32_t)pid : 0;
  p->state = PROC_RUNNING;
  if (p->io != NULL)
    shim_io_attach(p->io, cp);
  int rc = cow_process_wait(cp, exited, p);
  if (rc != 0)
    shim_log(SHIM_LOG_ERROR, "waiting for process %s: %s", shim_proc_id(p), cow_strerror(rc));
  cb(p, TTRPC_OK, NULL);
}

void shim_proc_start(shim_proc_t *p, void (*cb)(shim_proc_t *p, int code, const char *msg))
{
  shim_task_t *t = p->task;
  char err[512] = "";
  json_t *process = p->spec != NULL ? p->spec : json_object_get(t->spec, "process");
  unsigned streams = p->io != NULL ? shim_io_wanted(p->io) : 0;
  if (p->terminal)
    streams = (streams & ~(1u << COW_STDERR)) | 1u << COW_STDOUT; /* a console is one stream */
  char *doc = t->backend->process_doc(t, p, process, streams, err, sizeof err);
  if (doc == NULL) {
    cb(p, TTRPC_INVALID_ARGUMENT, err);
    return;
  }
  struct start_ctx *sc = malloc(sizeof *sc);
  if (sc == NULL) {
    free(doc);
    cb(p, TTRPC_RESOURCE_EXHAUSTED, "out of memory");
    return;
  }
  sc->p = p;
  sc->cb = cb;
  p->state = PROC_STARTING;
  int rc = cow_host_create_process(&p->cp, cow_container_host(t->container), doc, created, sc);
  free(doc);
  if (rc != 0) {
    free(sc);
    p->state = PROC_CREATED;
    cb(p, shim_code(rc), cow_strerror(rc));
    return;
  }
  cow_process_set_data(p->cp, p);
}

struct open_ctx {
  shim_proc_t *p;
  void (*cb)(shim_proc_t *p, int code, const char *msg);
};

static void io_opened(shim_io_t *io, int status, const char *what, void *data)
{
  struct open_ctx *oc = data;
  shim_proc_t *p = oc->p;
  void (*cb)(shim_proc_t *, int, const char *) = oc->cb;
  free(oc);
  if (status != 0) {
    shim_io_close(p->io);
    p->io = NULL;
    cb(p, status == UV_ETIMEDOUT ? TTRPC_DEADLINE_EXCEEDED : TTRPC_INVALID_ARGUMENT, what);
    return;
  }
  cb(p, TTRPC_OK, NULL);
}

void shim_proc_open_io(shim_proc_t *p, void (*cb)(shim_proc_t *p, int code, const char *msg))
{
  struct open_ctx *oc = malloc(sizeof *oc);
  int rc = oc == NULL ? UV_ENOMEM
                      : shim_io_open(&p->io, p->task->shim->loop, p->stdin_path, p->stdout_path,
                                     p->terminal ? NULL : p->stderr_path, io_opened, oc);
  if (rc != 0) {
    free(oc);
    p->io = NULL;
    cb(p, TTRPC_RESOURCE_EXHAUSTED, "out of memory");
    return;
  }
  oc->p = p;
  oc->cb = cb;
}

void shim_proc_release(shim_proc_t *p)
{
  if (p->nwaiters > 0) { /* released before it ran: it never exited, its status is unknown */
    clock_gettime(CLOCK_REALTIME, &p->exited_at);
    p->exit_status = SHIM_UNKNOWN_EXIT;
    answer_waiters(p);
  }
  shim_io_close(p->io);
  p->io = NULL;
  if (p->cp != NULL)
    cow_process_close(p->cp, NULL, NULL); /* pending callbacks complete with ECANCELED */
  p->cp = NULL;
}

void shim_proc_free(shim_proc_t *p)
{
  shim_task_t *t = p->task;
  if (t != NULL && t->init == p) {
    t->init = NULL;
  } else if (t != NULL) {
    for (shim_proc_t **pp = &t->execs; *pp != NULL; pp = &(*pp)->next)
      if (*pp == p) {
        *pp = p->next;
        break;
      }
  }
  shim_proc_release(p);
  json_decref(p->spec);
  free(p->exec_id);
  free(p->stdin_path);
  free(p->stdout_path);
  free(p->stderr_path);
  free(p);
}

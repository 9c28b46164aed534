/* containerd.task.v2.Task: one handler per method, in the service's order.
 *
 * Errors use the gRPC codes containerd turns back into its errdefs: NOT_FOUND for an
 * unknown task or process (and for a kill of a process that already exited, "process
 * already finished", as the stock shim says), ALREADY_EXISTS, FAILED_PRECONDITION for a
 * state that does not allow the call (deleting a running process), UNIMPLEMENTED for what
 * the cow shim does not do (checkpoints). Events are published where the stock runc shim
 * publishes them, so containerd sees them in the same order. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "shim.h"

typedef Containerd__Task__V2__CreateTaskRequest CreateReq;

shim_task_t *shim_task_find(shim_t *shim, const char *id)
{
  for (shim_task_t *t = shim->tasks; t != NULL; t = t->next)
    if (strcmp(t->id, id) == 0)
      return t;
  return NULL;
}

/* The task and process a request names, or the call failed with NOT_FOUND. */
static shim_proc_t *lookup(ttrpc_call_t *call, shim_t *shim, const char *id, const char *exec_id,
                           shim_task_t **tp)
{
  shim_task_t *t = shim_task_find(shim, id);
  if (t == NULL) {
    ttrpc_call_fail(call, TTRPC_NOT_FOUND, "task %s: not found", id);
    return NULL;
  }
  shim_proc_t *p = shim_proc_find(t, exec_id);
  if (p == NULL) {
    ttrpc_call_fail(call, TTRPC_NOT_FOUND, "process %s of task %s: not found",
                    exec_id != NULL && exec_id[0] != '\0' ? exec_id : "(init)", id);
    return NULL;
  }
  if (tp != NULL)
    *tp = t;
  return p;
}

static int is_running(const shim_proc_t *p)
{
  return p->state == PROC_STARTING || p->state == PROC_RUNNING || p->state == PROC_EXITING;
}

static void task_free(shim_task_t *t)
{
  shim_t *shim = t->shim;
  for (shim_task_t **pp = &shim->tasks; *pp != NULL; pp = &(*pp)->next)
    if (*pp == t) {
      *pp = t->next;
      break;
    }
  while (t->execs != NULL)
    shim_proc_free(t->execs);
  if (t->init != NULL)
    shim_proc_free(t->init);
  for (size_t i = 0; i < t->nrootfs; i++)
    containerd__types__mount__free_unpacked(t->rootfs[i], NULL);
  free(t->rootfs);
  json_decref(t->spec);
  free(t->id);
  free(t->bundle);
  free(t);
}

static void empty_reply(ttrpc_call_t *call)
{
  ttrpc_call_reply(call, NULL);
}

/* ---- State ---- */

static void h_state(ttrpc_call_t *call, const ProtobufCMessage *msg, void *data)
{
  const Containerd__Task__V2__StateRequest *r = (const void *)msg;
  shim_task_t *t;
  shim_proc_t *p = lookup(call, data, r->id, r->exec_id, &t);
  if (p == NULL)
    return;
  Containerd__Task__V2__StateResponse s = CONTAINERD__TASK__V2__STATE_RESPONSE__INIT;
  Google__Protobuf__Timestamp ts;
  pb_timestamp(&ts, &p->exited_at);
  s.id = (char *)shim_proc_id(p);
  s.bundle = t->bundle;
  s.pid = p->pid;
  s.status = shim_proc_status(p);
  s.stdin = p->stdin_path != NULL ? p->stdin_path : "";
  s.stdout = p->stdout_path != NULL ? p->stdout_path : "";
  s.stderr = p->stderr_path != NULL ? p->stderr_path : "";
  s.terminal = p->terminal;
  s.exit_status = p->exit_status;
  s.exited_at = &ts;
  s.exec_id = r->exec_id;
  ttrpc_call_reply(call, &s.base);
}

/* ---- Create ---- */

static void created(shim_task_t *t, int code, const char *message)
{
  ttrpc_call_t *call = t->pending;
  t->pending = NULL;
  if (code != TTRPC_OK) {
    ttrpc_call_fail(call, code, "%s", message);
    task_free(t);
    return;
  }
  const CreateReq *r = (const void *)ttrpc_call_request(call);
  Containerd__Events__TaskCreate ev = CONTAINERD__EVENTS__TASK_CREATE__INIT;
  Containerd__Events__TaskIO tio = CONTAINERD__EVENTS__TASK_IO__INIT;
  tio.stdin = r->stdin;
  tio.stdout = r->stdout;
  tio.stderr = r->stderr;
  tio.terminal = r->terminal;
  ev.container_id = t->id;
  ev.bundle = t->bundle;
  ev.n_rootfs = r->n_rootfs;
  ev.rootfs = r->rootfs;
  ev.io = &tio;
  ev.checkpoint = r->checkpoint;
  ev.pid = t->init->pid; /* 0: the init runs from Start on, as hcsshim's does */
  shim_events_publish(t->shim->events, "/tasks/create", &ev.base);
  Containerd__Task__V2__CreateTaskResponse resp = CONTAINERD__TASK__V2__CREATE_TASK_RESPONSE__INIT;
  resp.pid = t->init->pid;
  ttrpc_call_reply(call, &resp.base);
}

static void create_io_opened(shim_proc_t *p, int code, const char *message)
{
  shim_task_t *t = p->task;
  if (code != TTRPC_OK) {
    created(t, code, message);
    return;
  }
  t->backend->create(t, created);
}

static void h_create(ttrpc_call_t *call, const ProtobufCMessage *msg, void *data)
{
  shim_t *shim = data;
  const CreateReq *r = (const void *)msg;
  char err[768];
  if (shim_task_find(shim, r->id) != NULL) {
    ttrpc_call_fail(call, TTRPC_ALREADY_EXISTS, "task %s: already exists", r->id);
    return;
  }
  if (shim->tasks != NULL) {
    ttrpc_call_fail(call, TTRPC_FAILED_PRECONDITION,
                    "this shim serves task %s; containerd starts one shim per task",
                    shim->tasks->id);
    return;
  }
  if ((r->checkpoint != NULL && r->checkpoint[0] != '\0') ||
      (r->parent_checkpoint != NULL && r->parent_checkpoint[0] != '\0')) {
    ttrpc_call_fail(call, TTRPC_UNIMPLEMENTED, "restoring a checkpoint is not supported by %s",
                    SHIM_RUNTIME);
    return;
  }
  char path[4096];
  snprintf(path, sizeof path, "%s/config.json", r->bundle);
  json_error_t je;
  json_t *spec = json_load_file(path, 0, &je);
  if (!json_is_object(spec)) {
    ttrpc_call_fail(call, TTRPC_INVALID_ARGUMENT, "%s: %s (line %d)", path,
                    spec != NULL ? "not a JSON object" : je.text, je.line);
    json_decref(spec);
    return;
  }
  const char *bname = shim_options_backend(&shim->options, spec, err, sizeof err);
  if (bname == NULL) {
    ttrpc_call_fail(call, TTRPC_INVALID_ARGUMENT, "%s", err);
    json_decref(spec);
    return;
  }
  shim_task_t *t = calloc(1, sizeof *t);
  if (t == NULL || (t->id = strdup(r->id)) == NULL || (t->bundle = strdup(r->bundle)) == NULL ||
      (r->n_rootfs > 0 && (t->rootfs = calloc(r->n_rootfs, sizeof *t->rootfs)) == NULL)) {
    if (t != NULL) {
      free(t->id);
      free(t->bundle);
    }
    free(t);
    json_decref(spec);
    ttrpc_call_fail(call, TTRPC_RESOURCE_EXHAUSTED, "out of memory");
    return;
  }
  t->shim = shim;
  t->spec = spec;
  t->backend = strcmp(bname, "hcs") == 0 ? &shim_backend_hcs : &shim_backend_lcow;
  t->next = shim->tasks;
  shim->tasks = t;
  for (size_t i = 0; i < r->n_rootfs; i++) {
    t->rootfs[i] = (Containerd__Types__Mount *)pb_copy(&r->rootfs[i]->base);
    if (t->rootfs[i] == NULL)
      break;
    t->nrootfs++;
  }
  shim_proc_t *init = t->nrootfs == r->n_rootfs ? shim_proc_new(t, NULL, r->terminal, r->stdin,
                                                                r->stdout, r->stderr, NULL)
                                                : NULL;
  if (init == NULL) {
    task_free(t);
    ttrpc_call_fail(call, TTRPC_RESOURCE_EXHAUSTED, "out of memory");
    return;
  }
  shim_log(SHIM_LOG_INFO, "task %s: backend %s", t->id, t->backend->name);
  t->pending = call;
  shim_proc_open_io(init, create_io_opened);
}

/* ---- Start ---- */

static void started(shim_proc_t *p, int code, const char *message)
{
  ttrpc_call_t *call = p->start_call;
  p->start_call = NULL;
  if (code != TTRPC_OK) {
    ttrpc_call_fail(call, code, "starting %s: %s", shim_proc_id(p), message);
    return;
  }
  if (p->exec_id == NULL) {
    Containerd__Events__TaskStart ev = CONTAINERD__EVENTS__TASK_START__INIT;
    ev.container_id = p->task->id;
    ev.pid = p->pid;
    shim_events_publish(p->task->shim->events, "/tasks/start", &ev.base);
  } else {
    Containerd__Events__TaskExecStarted ev = CONTAINERD__EVENTS__TASK_EXEC_STARTED__INIT;
    ev.container_id = p->task->id;
    ev.exec_id = p->exec_id;
    ev.pid = p->pid;
    shim_events_publish(p->task->shim->events, "/tasks/exec-started", &ev.base);
  }
  Containerd__Task__V2__StartResponse resp = CONTAINERD__TASK__V2__START_RESPONSE__INIT;
  resp.pid = p->pid;
  ttrpc_call_reply(call, &resp.base);
}

static void h_start(ttrpc_call_t *call, const ProtobufCMessage *msg, void *data)
{
  const Containerd__Task__V2__StartRequest *r = (const void *)msg;
  shim_task_t *t;
  shim_proc_t *p = lookup(call, data, r->id, r->exec_id, &t);
  if (p == NULL)
    return;
  if (p->state != PROC_CREATED || t->pending != NULL) {
    ttrpc_call_fail(call, TTRPC_FAILED_PRECONDITION, "process %s: %s", shim_proc_id(p),
                    t->pending != NULL ? "the task is being created or deleted"
                                       : "already started");
    return;
  }
  if (p != t->init && t->init->state != PROC_RUNNING) {
    ttrpc_call_fail(call, TTRPC_FAILED_PRECONDITION, "task %s is not running", t->id);
    return;
  }
  p->start_call = call;
  shim_proc_start(p, started);
}

/* ---- Delete ---- */

static void delete_reply(ttrpc_call_t *call, const shim_proc_t *p)
{
  Containerd__Task__V2__DeleteResponse resp = CONTAINERD__TASK__V2__DELETE_RESPONSE__INIT;
  Google__Protobuf__Timestamp ts;
  pb_timestamp(&ts, &p->exited_at);
  resp.pid = p->pid;
  resp.exit_status = p->exit_status;
  resp.exited_at = &ts;
  ttrpc_call_reply(call, &resp.base);
}

static void destroyed(shim_task_t *t, int code, const char *message)
{
  ttrpc_call_t *call = t->pending;
  t->pending = NULL;
  if (code != TTRPC_OK)
    shim_log(SHIM_LOG_WARN, "task %s: releasing the container: %s", t->id, message);
  shim_proc_t *init = t->init;
  Containerd__Events__TaskDelete ev = CONTAINERD__EVENTS__TASK_DELETE__INIT;
  Google__Protobuf__Timestamp ts;
  pb_timestamp(&ts, &init->exited_at);
  ev.container_id = t->id;
  ev.pid = init->pid;
  ev.exit_status = init->exit_status;
  ev.exited_at = &ts;
  shim_events_publish(t->shim->events, "/tasks/delete", &ev.base);
  delete_reply(call, init);
  task_free(t);
}

static void h_delete(ttrpc_call_t *call, const ProtobufCMessage *msg, void *data)
{
  const Containerd__Task__V2__DeleteRequest *r = (const void *)msg;
  shim_task_t *t;
  shim_proc_t *p = lookup(call, data, r->id, r->exec_id, &t);
  if (p == NULL)
    return;
  if (is_running(p) || t->pending != NULL) {
    ttrpc_call_fail(call, TTRPC_FAILED_PRECONDITION, "cannot delete %s: %s", shim_proc_id(p),
                    t->pending != NULL ? "the task is being created or deleted"
                                       : "the process is running");
    return;
  }
  if (p != t->init) {
    delete_reply(call, p);
    shim_proc_free(p);
    return;
  }
  if (p->state == PROC_CREATED) { /* never started: it has no exit, its status is unknown */
    clock_gettime(CLOCK_REALTIME, &p->exited_at);
    p->exit_status = SHIM_UNKNOWN_EXIT;
  }
  while (t->execs != NULL) /* they went with the container when the init exited */
    shim_proc_free(t->execs);
  shim_proc_release(p); /* a container closes after its processes */
  t->pending = call;
  t->backend->destroy(t, destroyed);
}

/* ---- Pause, Resume, Checkpoint, Update (Pids and Stats: stats.c) ---- */

struct pause_ctx {
  ttrpc_call_t *call;
  shim_task_t *t;
  int pause;
};

static void paused_or_resumed(cow_container_t *c, int status, const cow_error_t *err, void *data)
{
  struct pause_ctx *pc = data;
  ttrpc_call_t *call = pc->call;
  shim_task_t *t = pc->t;
  int pause = pc->pause;
  free(pc);
  char msg[512];
  if (status < 0) {
    ttrpc_call_fail(call, shim_code(status), "%s: %s", pause ? "pause" : "resume",
                    shim_errmsg(msg, sizeof msg, status, err));
    return;
  }
  t->paused = pause;
  if (pause) {
    Containerd__Events__TaskPaused ev = CONTAINERD__EVENTS__TASK_PAUSED__INIT;
    ev.container_id = t->id;
    shim_events_publish(t->shim->events, "/tasks/paused", &ev.base);
  } else {
    Containerd__Events__TaskResumed ev = CONTAINERD__EVENTS__TASK_RESUMED__INIT;
    ev.container_id = t->id;
    shim_events_publish(t->shim->events, "/tasks/resumed", &ev.base);
  }
  empty_reply(call);
}

/* Pause and Resume: cow_container_pause()/resume(); the guest connection has no pause. */
static void pause_or_resume(ttrpc_call_t *call, shim_t *shim, const char *id, int pause)
{
  shim_task_t *t = shim_task_find(shim, id);
  if (t == NULL) {
    ttrpc_call_fail(call, TTRPC_NOT_FOUND, "task %s: not found", id);
    return;
  }
  if (t->container == NULL || t->init == NULL || t->init->state != PROC_RUNNING) {
    ttrpc_call_fail(call, TTRPC_FAILED_PRECONDITION, "task %s is not running", id);
    return;
  }
  struct pause_ctx *pc = malloc(sizeof *pc);
  if (pc == NULL) {
    ttrpc_call_fail(call, TTRPC_RESOURCE_EXHAUSTED, "out of memory");
    return;
  }
  pc->call = call;
  pc->t = t;
  pc->pause = pause;
  int rc = pause ? cow_container_pause(t->container, paused_or_resumed, pc)
                 : cow_container_resume(t->container, paused_or_resumed, pc);
  if (rc == 0)
    return;
  free(pc);
  if (rc == COW_ENOTSUP)
    ttrpc_call_fail(call, TTRPC_UNIMPLEMENTED, "%s is not supported by the %s backend",
                    pause ? "pause" : "resume", t->backend->name);
  else
    ttrpc_call_fail(call, shim_code(rc), "%s: %s", pause ? "pause" : "resume", cow_strerror(rc));
}

static void h_pause(ttrpc_call_t *call, const ProtobufCMessage *msg, void *data)
{
  pause_or_resume(call, data, ((const Containerd__Task__V2__PauseRequest *)msg)->id, 1);
}

static void h_resume(ttrpc_call_t *call, const ProtobufCMessage *msg, void *data)
{
  pause_or_resume(call, data, ((const Containerd__Task__V2__ResumeRequest *)msg)->id, 0);
}

static void h_checkpoint(ttrpc_call_t *call, const ProtobufCMessage *msg, void *data)
{
  ttrpc_call_fail(call, TTRPC_UNIMPLEMENTED, "checkpoint is not supported by %s", SHIM_RUNTIME);
}

static void updated(shim_task_t *t, int code, const char *message)
{
  ttrpc_call_t *call = t->update_call;
  t->update_call = NULL;
  if (code != TTRPC_OK)
    ttrpc_call_fail(call, code, "%s", message);
  else
    empty_reply(call);
}

/* Update: the resources are an OCI LinuxResources in JSON (containerd marshals types that are
 * not protobuf messages as JSON in the Any); annotations alone change nothing here. */
static void h_update(ttrpc_call_t *call, const ProtobufCMessage *msg, void *data)
{
  const Containerd__Task__V2__UpdateTaskRequest *r = (const void *)msg;
  shim_task_t *t;
  if (lookup(call, data, r->id, NULL, &t) == NULL)
    return;
  if (r->resources == NULL || r->resources->value.len == 0) {
    empty_reply(call);
    return;
  }
  if (t->backend->update == NULL) {
    ttrpc_call_fail(call, TTRPC_UNIMPLEMENTED,
                    "updating resources is not supported by the %s backend", t->backend->name);
    return;
  }
  if (t->container == NULL || t->pending != NULL || t->update_call != NULL) {
    ttrpc_call_fail(call, TTRPC_FAILED_PRECONDITION, "task %s: %s", t->id,
                    t->container == NULL ? "no container" : "busy");
    return;
  }
  json_error_t je;
  json_t *res = json_loadb((const char *)r->resources->value.data, r->resources->value.len, 0, &je);
  if (!json_is_object(res)) {
    ttrpc_call_fail(call, TTRPC_INVALID_ARGUMENT, "update: the resources (%s) are %s",
                    r->resources->type_url, res != NULL ? "not a JSON object" : je.text);
    json_decref(res);
    return;
  }
  t->update_call = call;
  t->backend->update(t, res, updated);
  json_decref(res);
}

/* ---- Kill ---- */

struct kill_ctx {
  ttrpc_call_t *call;
  unsigned pending;
  int code; /* the first failure */
  char message[512];
};

static void kill_part_done(struct kill_ctx *k, int status, const cow_error_t *err)
{
  if (status < 0 && status != COW_ESRCH && k->code == TTRPC_OK) {
    k->code = shim_code(status);
    shim_errmsg(k->message, sizeof k->message, status, err);
  }
  if (--k->pending > 0)
    return;
  if (k->code != TTRPC_OK)
    ttrpc_call_fail(k->call, k->code, "kill: %s", k->message);
  else
    empty_reply(k->call);
  free(k);
}

static void killed_one(cow_process_t *cp, int status, const cow_error_t *err, void *data)
{
  kill_part_done(data, status, err);
}

static void terminated(cow_container_t *c, int status, const cow_error_t *err, void *data)
{
  kill_part_done(data, cow_error_is_already_stopped(err) ? 0 : status, err);
}

/* SIGKILL is a kill (never queued behind a signal); any other number a signal document. */
static int send_signal(cow_process_t *cp, uint32_t sig, cow_process_cb cb, void *data)
{
  if (sig == SIGKILL)
    return cow_process_kill(cp, cb, data);
  char *opts = NULL;
  int rc = cow_signal_options_json(&opts, (int)sig);
  if (rc == 0)
    rc = cow_process_signal(cp, opts, cb, data);
  cow_free(opts);
  return rc;
}

static void killed(cow_process_t *cp, int status, const cow_error_t *err, void *data)
{
  ttrpc_call_t *call = data;
  char msg[512];
  if (status == 0)
    empty_reply(call);
  else if (status == COW_ESRCH)
    ttrpc_call_fail(call, TTRPC_NOT_FOUND, "process already finished");
  else
    ttrpc_call_fail(call, shim_code(status), "kill: %s", shim_errmsg(msg, sizeof msg, status, err));
}

static void h_kill(ttrpc_call_t *call, const ProtobufCMessage *msg, void *data)
{
  const Containerd__Task__V2__KillRequest *r = (const void *)msg;
  shim_task_t *t;
  shim_proc_t *p = lookup(call, data, r->id, r->exec_id, &t);
  if (p == NULL)
    return;
  if (r->signal == 0 || r->signal > 64) {
    ttrpc_call_fail(call, TTRPC_INVALID_ARGUMENT, "invalid signal %u", r->signal);
    return;
  }
  if (r->all && p == t->init) {
    /* Every process the shim runs in the container gets the signal; SIGKILL also
     * terminates the container, which takes the processes the shim does not know. */
    struct kill_ctx *k = calloc(1, sizeof *k);
    if (k == NULL) {
      ttrpc_call_fail(call, TTRPC_RESOURCE_EXHAUSTED, "out of memory");
      return;
    }
    k->call = call;
    k->pending = 1;
    for (shim_proc_t *q = t->execs;; q = q->next) {
      shim_proc_t *target = q != NULL ? q : t->init;
      if (target->state == PROC_RUNNING && send_signal(target->cp, r->signal, killed_one, k) == 0)
        k->pending++;
      if (q == NULL)
        break;
    }
    if (r->signal == SIGKILL && t->container != NULL &&
        cow_container_terminate(t->container, terminated, k) == 0)
      k->pending++;
    kill_part_done(k, 0, NULL);
    return;
  }
  if (p->state == PROC_EXITING || p->state == PROC_STOPPED) {
    ttrpc_call_fail(call, TTRPC_NOT_FOUND, "process already finished");
    return;
  }
  if (p->state != PROC_RUNNING) {
    ttrpc_call_fail(call, TTRPC_FAILED_PRECONDITION, "process %s has not started", shim_proc_id(p));
    return;
  }
  int rc = send_signal(p->cp, r->signal, killed, call);
  if (rc != 0)
    ttrpc_call_fail(call, shim_code(rc), "kill: %s", cow_strerror(rc));
}

/* ---- Exec ---- */

static void exec_io_opened(shim_proc_t *p, int code, const char *message)
{
  ttrpc_call_t *call = p->start_call;
  p->start_call = NULL;
  if (code != TTRPC_OK) {
    ttrpc_call_fail(call, code, "exec %s: %s", p->exec_id, message);
    shim_proc_free(p);
    return;
  }
  Containerd__Events__TaskExecAdded ev = CONTAINERD__EVENTS__TASK_EXEC_ADDED__INIT;
  ev.container_id = p->task->id;
  ev.exec_id = p->exec_id;
  shim_events_publish(p->task->shim->events, "/tasks/exec-added", &ev.base);
  empty_reply(call);
}

static void h_exec(ttrpc_call_t *call, const ProtobufCMessage *msg, void *data)
{
  const Containerd__Task__V2__ExecProcessRequest *r = (const void *)msg;
  shim_task_t *t = shim_task_find(data, r->id);
  if (t == NULL) {
    ttrpc_call_fail(call, TTRPC_NOT_FOUND, "task %s: not found", r->id);
    return;
  }
  if (r->exec_id == NULL || r->exec_id[0] == '\0') {
    ttrpc_call_fail(call, TTRPC_INVALID_ARGUMENT, "exec: an exec id is required");
    return;
  }
  if (shim_proc_find(t, r->exec_id) != NULL) {
    ttrpc_call_fail(call, TTRPC_ALREADY_EXISTS, "id %s: already exists", r->exec_id);
    return;
  }
  if (t->init == NULL || t->init->state != PROC_RUNNING) {
    ttrpc_call_fail(call, TTRPC_FAILED_PRECONDITION, "task %s is not running", t->id);
    return;
  }
  json_error_t je;
  json_t *spec = r->spec != NULL
                     ? json_loadb((const char *)r->spec->value.data, r->spec->value.len, 0, &je)
                     : NULL;
  if (!json_is_object(spec)) {
    ttrpc_call_fail(call, TTRPC_INVALID_ARGUMENT,
                    "exec %s: the process spec is not an OCI process in JSON", r->exec_id);
    json_decref(spec);
    return;
  }
  shim_proc_t *p = shim_proc_new(t, r->exec_id, r->terminal, r->stdin, r->stdout, r->stderr, spec);
  json_decref(spec);
  if (p == NULL) {
    ttrpc_call_fail(call, TTRPC_RESOURCE_EXHAUSTED, "out of memory");
    return;
  }
  p->start_call = call;
  shim_proc_open_io(p, exec_io_opened);
}

/* ---- ResizePty, CloseIO ---- */

static void resized(cow_process_t *cp, int status, const cow_error_t *err, void *data)
{
  char msg[512];
  if (status == 0)
    empty_reply(data);
  else
    ttrpc_call_fail(data, shim_code(status), "resize: %s",
                    shim_errmsg(msg, sizeof msg, status, err));
}

static void h_resize_pty(ttrpc_call_t *call, const ProtobufCMessage *msg, void *data)
{
  const Containerd__Task__V2__ResizePtyRequest *r = (const void *)msg;
  shim_proc_t *p = lookup(call, data, r->id, r->exec_id, NULL);
  if (p == NULL)
    return;
  if (!p->terminal) {
    ttrpc_call_fail(call, TTRPC_FAILED_PRECONDITION, "process %s has no terminal", shim_proc_id(p));
    return;
  }
  if (r->width > 0xFFFF || r->height > 0xFFFF) {
    ttrpc_call_fail(call, TTRPC_INVALID_ARGUMENT, "resize: %ux%u is too large", r->width,
                    r->height);
    return;
  }
  if (p->cp == NULL) {
    empty_reply(call); /* not started: nothing to resize yet */
    return;
  }
  int rc =
      cow_process_resize_console(p->cp, (uint16_t)r->width, (uint16_t)r->height, resized, call);
  if (rc != 0)
    ttrpc_call_fail(call, shim_code(rc), "resize: %s", cow_strerror(rc));
}

static void h_close_io(ttrpc_call_t *call, const ProtobufCMessage *msg, void *data)
{
  const Containerd__Task__V2__CloseIORequest *r = (const void *)msg;
  shim_proc_t *p = lookup(call, data, r->id, r->exec_id, NULL);
  if (p == NULL)
    return;
  if (r->stdin && p->io != NULL)
    shim_io_close_stdin(p->io);
  empty_reply(call);
}

/* ---- Wait, Connect, Shutdown ---- */

static void h_wait(ttrpc_call_t *call, const ProtobufCMessage *msg, void *data)
{
  const Containerd__Task__V2__WaitRequest *r = (const void *)msg;
  shim_proc_t *p = lookup(call, data, r->id, r->exec_id, NULL);
  if (p != NULL)
    shim_proc_wait(p, call);
}

static void h_connect(ttrpc_call_t *call, const ProtobufCMessage *msg, void *data)
{
  const Containerd__Task__V2__ConnectRequest *r = (const void *)msg;
  shim_task_t *t = shim_task_find(data, r->id);
  Containerd__Task__V2__ConnectResponse resp = CONTAINERD__TASK__V2__CONNECT_RESPONSE__INIT;
  resp.shim_pid = (uint32_t)getpid();
  resp.task_pid = t != NULL && t->init != NULL ? t->init->pid : 0;
  ttrpc_call_reply(call, &resp.base);
}

static void h_shutdown(ttrpc_call_t *call, const ProtobufCMessage *msg, void *data)
{
  shim_t *shim = data;
  empty_reply(call); /* written at once: the socket had room for it */
  if (shim->tasks == NULL && !shim->shutting_down)
    shim->on_shutdown(shim);
}

/* ---- the service ---- */

static void terminated_after_init(cow_container_t *c, int status, const cow_error_t *err,
                                  void *data)
{
  char msg[512];
  if (status < 0 && status != COW_ECANCELED && !cow_error_is_already_stopped(err))
    shim_log(SHIM_LOG_WARN, "terminating the container after its init exited: %s",
             shim_errmsg(msg, sizeof msg, status, err));
}

void shim_task_init_exited(shim_task_t *t)
{
  /* The container ends with its init, as with runc: what the init left running is
   * killed (the exec processes report their exits as they go). */
  if (t->container == NULL)
    return;
  int rc = cow_container_terminate(t->container, terminated_after_init, NULL);
  if (rc != 0 && rc != COW_ECLOSING)
    shim_log(SHIM_LOG_WARN, "task %s: terminating after the init exited: %s", t->id,
             cow_strerror(rc));
}

/* In the order of the service's methods in shim.proto (checked at start). */
static const struct {
  const char *name;
  ttrpc_method_fn fn;
} methods[] = {
    {"State", h_state},
    {"Create", h_create},
    {"Start", h_start},
    {"Delete", h_delete},
    {"Pids", shim_task_pids},
    {"Pause", h_pause},
    {"Resume", h_resume},
    {"Checkpoint", h_checkpoint},
    {"Kill", h_kill},
    {"Exec", h_exec},
    {"ResizePty", h_resize_pty},
    {"CloseIO", h_close_io},
    {"Update", h_update},
    {"Wait", h_wait},
    {"Stats", shim_task_stats},
    {"Connect", h_connect},
    {"Shutdown", h_shutdown},
};
#define NMETHODS (sizeof methods / sizeof methods[0])

int shim_task_service(shim_t *shim, ttrpc_service_t *out)
{
  static ttrpc_method_fn fns[NMETHODS];
  const ProtobufCServiceDescriptor *d = &containerd__task__v2__task__descriptor;
  if (d->n_methods != NMETHODS)
    return -1;
  for (size_t i = 0; i < NMETHODS; i++) {
    if (strcmp(d->methods[i].name, methods[i].name) != 0)
      return -1;
    fns[i] = methods[i].fn;
  }
  out->descriptor = d;
  out->methods = fns;
  out->data = shim;
  return 0;
}

/* ---- errors ---- */

int shim_code(int status)
{
  switch (status) {
  case 0:
    return TTRPC_OK;
  case COW_ENOENT:
  case COW_ESRCH:
    return TTRPC_NOT_FOUND;
  case COW_EEXIST:
    return TTRPC_ALREADY_EXISTS;
  case COW_EINVAL:
  case COW_E2BIG:
    return TTRPC_INVALID_ARGUMENT;
  case COW_ENOTSUP:
  case COW_ENOSYS:
    return TTRPC_UNIMPLEMENTED;
  case COW_ETIMEDOUT:
    return TTRPC_DEADLINE_EXCEEDED;
  case COW_ENOMEM:
    return TTRPC_RESOURCE_EXHAUSTED;
  case COW_EINVALID_STATE:
  case COW_ENOT_STARTED:
  case COW_ENOT_EXITED:
  case COW_ECLOSING:
  case COW_ENOTTY:
    return TTRPC_FAILED_PRECONDITION;
  case COW_EBRIDGE_CLOSED:
  case COW_EBACKEND_UNAVAILABLE:
    return TTRPC_UNAVAILABLE;
  case COW_ECANCELED:
    return TTRPC_CANCELLED;
  case COW_EACCES:
  case COW_EPERM:
    return TTRPC_PERMISSION_DENIED;
  default:
    return TTRPC_UNKNOWN;
  }
}

const char *shim_errmsg(char *buf, size_t len, int status, const cow_error_t *err)
{
  const char *text = err != NULL && err->message != NULL ? err->message : cow_strerror(status);
  if (err != NULL && err->sys_code != 0 &&
      (err->domain == COW_DOMAIN_HCS || err->domain == COW_DOMAIN_GUEST))
    snprintf(buf, len, "%s (%s, HRESULT 0x%08X)", text, cow_err_name(status),
             (unsigned)err->sys_code);
  else
    snprintf(buf, len, "%s (%s)", text, cow_err_name(status));
  return buf;
}

/* Processes on a guest connection (docs/gcs-bridge-protocol.md §4.5-§4.8, §5): ExecuteProcess with
 * stdio listeners that exist before the request is written, the WaitForProcess sent for every
 * process, signals, console resize. The core owns the stdio streams once they are ready,
 * holds the exit until stdout/stderr reach end of file and closes the host's side then,
 * which is what lets the guest complete WaitForProcess for container processes. */
#include <inttypes.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/log.h"
#include "guest/guest.h"

static const char *const stream_names[3] = {"stdin", "stdout", "stderr"};

static int listeners_pending(const struct cow__guest_process *gp)
{
  return gp->listeners[0] || gp->listeners[1] || gp->listeners[2];
}

static void cancel_listeners(struct cow__guest_process *gp)
{
  for (int i = 0; i < 3; i++)
    cow__listener_cancel(gp->listeners[i]);
}

static void report_exit(struct cow__guest_process *gp)
{
  cow_process_report_exit(gp->p, gp->exit_err.code < 0 ? -1 : gp->exit_code,
                          gp->exit_err.code < 0 ? &gp->exit_err : NULL);
}

static void accepted_closed(uv_handle_t *h);

/* Close stdio connection i, accepted from the guest but never handed to the core (the
 * create failed): nobody will use it, and the guest must not wait on it forever (§10
 * E53). The core skips a stream that is already closing. */
static void close_accepted(struct cow__guest_process *gp, int i)
{
  uv_handle_t *h = &cow__process_stdio_slot(gp->p, (cow_stdio_t)i)->handle;
  h->data = gp->p;
  cow_process_ref(gp->p);
  uv_close(h, accepted_closed);
}

static void stdio_timer_closed(uv_handle_t *h)
{
  struct cow__guest_process *gp = h->data;
  cow__free(h);
  cow_process_unref(gp->p);
}

/* The create is over (completed or abandoned): off the connection's list, no more timer. */
static void create_over(struct cow__guest_process *gp)
{
  cow__list_remove(&gp->create_link);
  if (gp->stdio_timer != NULL) {
    uv_close((uv_handle_t *)gp->stdio_timer, stdio_timer_closed);
    gp->stdio_timer = NULL;
  }
}

/* The create op completes once the exec answered and every requested stream has been
 * accepted (the guest dials before answering, but the accepts may still sit in the
 * backlog), or once the failure is known and every listener has reported back. */
static void maybe_finish_create(struct cow__guest_process *gp)
{
  if (gp->create_done || listeners_pending(gp) || gp->create_op == NULL)
    return;
  if (gp->exec_call != NULL && gp->exit_err.code == 0)
    return; /* exec still in flight */
  cow_op_t *op = gp->create_op;
  gp->create_op = NULL;
  gp->create_done = 1;
  create_over(gp);
  if (!gp->started || gp->stdio_failed) {
    /* Streams the guest connected before the failure was known: close them now, not at
     * the close of the handle (E53: the guest may block reading them). */
    for (int i = 0; i < 3; i++)
      if (gp->accepted[i]) {
        gp->accepted[i] = 0;
        close_accepted(gp, i);
      }
    cow_op_complete(op, gp->exit_err.code ? gp->exit_err.code : COW_EPROTOCOL,
                    gp->exit_err.code ? &gp->exit_err : NULL);
    return;
  }
  for (int i = 0; i < 3; i++)
    if (gp->want[i] && gp->accepted[i])
      cow_process_stdio_ready(gp->p, (cow_stdio_t)i);
  cow_op_complete(op, 0, NULL);
  if (gp->exit_pending) {
    gp->exit_pending = 0;
    report_exit(gp);
  }
}

static void fail_create(struct cow__guest_process *gp, const cow_error_t *err)
{
  if (gp->exit_err.code == 0 && cow_error_copy(&gp->exit_err, err) != 0)
    gp->exit_err.code = err->code;
  if (gp->exit_err.code == 0)
    gp->exit_err.code = COW_EPROTOCOL;
  cancel_listeners(gp);
  maybe_finish_create(gp);
}

static void accepted_closed(uv_handle_t *h)
{
  cow_process_unref(h->data);
}

/* A requested stream will never be connected: the create fails with `err` (the process
 * may have run; its waiters get the same error, since its output is lost). */
static void fail_stdio(struct cow__guest_process *gp, const cow_error_t *err)
{
  if (gp->create_done || gp->closing)
    return;
  gp->stdio_failed = 1;
  fail_create(gp, err);
}

static void stdio_overdue(uv_timer_t *t)
{
  struct cow__guest_process *gp = t->data;
  char missing[160] = "";
  size_t n = 0;
  for (int i = 0; i < 3; i++)
    if (gp->listeners[i] != NULL && n < sizeof missing)
      n += (size_t)snprintf(missing + n, sizeof missing - n, "%s%s (port %" PRIu32 ")",
                            n ? " and " : "", stream_names[i], gp->ports[i]);
  cow_error_t err = COW_ERROR_INIT;
  cow__error_set(&err, COW_ETIMEDOUT, COW_DOMAIN_LIB, 0, "create_process", NULL,
                 "the guest answered ExecuteProcess but did not connect %s within %llu ms", missing,
                 (unsigned long long)gp->conn->stdio_timeout_ms);
  cow__log(COW_LOG_WARN, "guest", "process %" PRIu32 " in %s: %s", gp->pid, gp->cid, err.message);
  fail_stdio(gp, &err);
  cow_error_clear(&err);
}

/* The exec was answered: the guest has dialled every stream it is going to (it does so
 * before answering), so the accepts that are still missing get a bounded time. */
static void bound_stdio(struct cow__guest_process *gp)
{
  if (!listeners_pending(gp) || gp->create_done || gp->stdio_timer != NULL)
    return;
  uv_timer_t *t = cow__malloc(sizeof *t);
  if (t == NULL || uv_timer_init(gp->conn->loop, t) != 0) {
    /* Without a timer the bound is the bridge's: its death still fails the create. */
    cow__free(t);
    return;
  }
  gp->stdio_timer = t;
  t->data = gp;
  cow_process_ref(gp->p); /* until the timer is closed */
  uv_timer_start(t, stdio_overdue, gp->conn->stdio_timeout_ms, 0);
}

void cow__guest_processes_bridge_dead(struct cow__guest_conn *conn, const cow_error_t *err)
{
  /* Each failure takes the process off the list once its listeners reported back; take
   * it off here so the loop ends whatever the order. */
  cow__list pending;
  cow__list_init(&pending);
  while (!cow__list_empty(&conn->creating)) {
    cow__list *n = conn->creating.next;
    cow__list_remove(n);
    cow__list_insert_tail(&pending, n);
  }
  while (!cow__list_empty(&pending)) {
    struct cow__guest_process *gp =
        cow__container_of(pending.next, struct cow__guest_process, create_link);
    cow__list_remove(&gp->create_link);
    fail_stdio(gp, err);
  }
}

static void stdio_accepted(cow_guest_listener_t *l, int status, void *arg)
{
  struct cow__guest_process *gp = arg;
  int i = 0;
  while (i < 3 && gp->listeners[i] != l)
    i++;
  if (i == 3)
    return; /* cannot happen: every listener is registered before it can complete */
  gp->listeners[i] = NULL;
  if (status == 0) {
    if (gp->closing || (gp->exit_err.code != 0 && !gp->started)) {
      /* Nobody will use it: close it now rather than leave the guest's dial hanging. */
      close_accepted(gp, i);
    } else {
      gp->accepted[i] = 1;
    }
  } else if (status != COW_ECANCELED && !gp->closing) {
    cow_error_t err = COW_ERROR_INIT;
    cow__error_set(&err, status, COW_DOMAIN_OS, 0, "create_process", NULL,
                   "accepting the %s connection on port %" PRIu32 " failed: %s", stream_names[i],
                   gp->ports[i], cow_strerror(status));
    fail_create(gp, &err);
    cow_error_clear(&err);
  }
  maybe_finish_create(gp);
  cow_process_unref(gp->p); /* taken when the listener started */
}

/* ---- wait ---- */

static void wait_done(struct cow__guest_call *call, int status, const struct cow__proto_resp *resp,
                      const cow_error_t *err)
{
  struct cow__guest_process *gp = call->owner;
  gp->wait_call = NULL;
  cow_error_t e = COW_ERROR_INIT;
  if (status < 0) {
    cow_error_copy(&e, err);
    e.operation = "wait"; /* the caller's operation, not the request's name */
  } else if (resp->result == 0) {
    gp->exit_code = cow__proto_resp_int(resp, "ExitCode", 0);
  } else {
    /* Includes 0x80070490: the guest forgot the process (its exit was consumed by another
     * wait), so the code is lost. HEAD hcsshim reads that as "exit 0"; an error (ENOENT
     * with the HRESULT) is the honest answer. */
    cow__proto_resp_error(resp, "wait", NULL, &e);
  }
  if (e.code < 0 && gp->exit_err.code == 0)
    cow_error_move(&gp->exit_err, &e);
  cow_error_clear(&e);
  cow__log(COW_LOG_DEBUG, "guest", "process %" PRIu32 " in %s exited: code %lld, status %s",
           gp->pid, gp->cid, (long long)gp->exit_code, cow_err_name(gp->exit_err.code));
  if (!gp->create_done) {
    if (gp->exit_err.code < 0) {
      /* The stdio accepts may never come now (connection lost): give up on them. */
      cancel_listeners(gp);
    }
    gp->exit_pending = 1;
    maybe_finish_create(gp);
    return;
  }
  report_exit(gp);
}

static void send_wait(struct cow__guest_process *gp)
{
  struct cow__proto_trace trace;
  cow__guest_trace(gp->conn, &trace);
  struct cow__payload body;
  cow_error_t err = COW_ERROR_INIT;
  int rc = cow__proto_wait(&body, gp->cid, gp->pid, COW__WAIT_INFINITE, &trace);
  if (rc == 0) {
    /* Untimed: a wait legitimately lasts as long as the process (§4.1: no timeout at all). */
    rc = cow__guest_call(gp->conn, &gp->calls, COW__MSG_WAIT_FOR_PROCESS, &body, 0, NULL, gp, NULL,
                         wait_done, &gp->wait_call, &err);
    cow__proto_payload_release(&body);
  } else {
    cow__error_set(&err, rc, COW_DOMAIN_LIB, 0, "wait", NULL, NULL);
  }
  if (rc != 0) {
    cow__log(COW_LOG_ERROR, "guest", "failed to wait on process %" PRIu32 ": %s", gp->pid,
             err.message ? err.message : "");
    if (gp->exit_err.code == 0)
      cow_error_move(&gp->exit_err, &err);
    gp->exit_pending = 1;
  }
  cow_error_clear(&err);
}

/* ---- exec ---- */

static void exec_done(struct cow__guest_call *call, int status, const struct cow__proto_resp *resp,
                      const cow_error_t *err)
{
  struct cow__guest_process *gp = call->owner;
  cow_process_t *p = gp->p;
  gp->exec_call = NULL;
  if (status == 0 && resp->result == 0) {
    gp->pid = (uint32_t)cow__proto_resp_int(resp, "ProcessId", 0);
    gp->started = 1;
    cow_process_set_pid(p, gp->pid);
    /* Every process is waited for, even one whose handle is already closed: the guest
     * keeps an unwaited process forever, and a container's exit notification depends on
     * the wait on its init (§6.4). */
    send_wait(gp);
    if (gp->closing && gp->wait_call != NULL) {
      cow__guest_call_abandon(gp->wait_call, COW_ECANCELED);
      gp->wait_call = NULL;
    }
    if (gp->exit_pending && !gp->create_done && gp->exit_err.code < 0)
      cancel_listeners(gp);
    bound_stdio(gp);
  } else {
    cow_error_t e = COW_ERROR_INIT;
    if (status < 0)
      cow_error_copy(&e, err);
    else
      cow__proto_resp_error(resp, "create_process", NULL, &e);
    fail_create(gp, &e);
    cow_error_clear(&e);
  }
  maybe_finish_create(gp);
  cow_process_unref(p); /* taken when the exec was sent */
}

static int has_command(const json_t *params)
{
  json_t *args = json_object_get(params, "CommandArgs");
  if (json_is_array(args) && json_array_size(args) > 0 && json_is_string(json_array_get(args, 0)) &&
      json_string_length(json_array_get(args, 0)) > 0)
    return 1;
  json_t *line = json_object_get(params, "CommandLine");
  return json_is_string(line) && json_string_length(line) > 0;
}

int cow__guest_create_process(struct cow__guest_conn *conn, struct cow__guest_container *gc,
                              cow_process_t *p, const char *config_json, cow_op_t *op)
{
  struct cow__guest_process *gp = cow_process_priv(p);
  gp->p = p;
  gp->conn = conn;
  gp->container = gc;
  gp->exit_code = -1;
  cow__list_init(&gp->calls);
  cow__list_init(&gp->create_link);
  gp->cid = gc ? cow_container_id(gc->c) : COW__NULL_CONTAINER_ID;

  cow_error_t err = COW_ERROR_INIT;
  int rc = cow__guest_check_ready(conn, "create_process", &err);
  cow_error_clear(&err);
  if (rc != 0)
    return rc;
  json_t *params = cow__proto_parse_object(config_json, "the process parameters", NULL);
  if (params == NULL)
    return COW_EINVAL;
  int external = gc == NULL || json_is_true(json_object_get(params, "CreateInUtilityVM"));
  json_t *oci = json_object_get(params, "OciProcess");
  if (external && !has_command(params)) {
    /* The GCS indexes argv[0] unchecked and dies (recording j9): never send it. */
    cow__log(COW_LOG_WARN, "guest", "refused an exec without CommandArgs or CommandLine");
    json_decref(params);
    return COW_EINVAL;
  }
  if (oci != NULL && !json_is_object(oci)) {
    json_decref(params);
    return COW_EINVAL;
  }
  if (external)
    gp->tty = json_is_true(json_object_get(params, "EmulateConsole"));
  else if (oci != NULL)
    gp->tty = json_is_true(json_object_get(oci, "terminal"));
  else
    gp->tty = gc->terminal;
  static const char *const pipe_keys[3] = {"CreateStdInPipe", "CreateStdOutPipe",
                                           "CreateStdErrPipe"};
  int any = 0;
  for (int i = 0; i < 3; i++) {
    gp->want[i] = json_is_true(json_object_get(params, pipe_keys[i]));
    any |= gp->want[i];
  }
  if (any && conn->transport == NULL) {
    json_decref(params);
    return COW_ENOTSUP; /* no listener factory: stdio cannot be relayed */
  }
  /* Ports are allocated in stdin, stdout, stderr order and never reused (§5.1), even
   * when the request below is refused. */
  for (int i = 0; i < 3; i++)
    gp->ports[i] = gp->want[i] ? cow__guest_alloc_port(conn) : 0;
  struct cow__proto_trace trace;
  cow__guest_trace(conn, &trace);
  struct cow__payload payload; /* written once: its size is checked there (R3) */
  rc = cow__proto_execute(&payload, gp->cid, params, gp->ports, &trace);
  json_decref(params);
  if (rc != 0)
    return rc;

  /* Listeners first: the guest dials while it handles ExecuteProcess (§5.1). From here on
   * failures are reported through the op, because a started listener completes later. */
  gp->create_op = op;
  cow__list_insert_tail(&conn->creating, &gp->create_link);
  int started = 0;
  for (int i = 0; i < 3 && rc == 0; i++) {
    if (!gp->want[i])
      continue;
    union cow__stream *slot = cow__process_stdio_slot(p, (cow_stdio_t)i);
    rc = slot ? cow__listener_start(&gp->listeners[i], conn->transport, conn->loop, gp->ports[i],
                                    slot, stdio_accepted, gp)
              : COW_ENOMEM;
    if (rc == 0) {
      cow_process_ref(p);
      started++;
    }
  }
  if (rc != 0) {
    cow__error_set(&err, rc, COW_DOMAIN_OS, 0, "create_process", NULL,
                   "cannot listen for the stdio of the process: %s", cow_strerror(rc));
    cow__proto_payload_release(&payload);
    if (started == 0) {
      cow_error_clear(&err);
      gp->create_op = NULL;
      create_over(gp);
      return rc;
    }
    fail_create(gp, &err);
    cow_error_clear(&err);
    return 0;
  }
  cow_process_ref(p); /* until exec_done: the process must outlive its exec */
  rc = cow__guest_call(conn, &gp->calls, COW__MSG_EXECUTE_PROCESS, &payload, 1, NULL, gp, NULL,
                       exec_done, &gp->exec_call, &err);
  cow__proto_payload_release(&payload);
  if (rc != 0) {
    cow_process_unref(p);
    if (started == 0) {
      cow_error_clear(&err);
      gp->create_op = NULL;
      create_over(gp);
      return rc;
    }
    fail_create(gp, &err);
  } else {
    /* The exec outlives a close of the handle (it is not cancellable, §4.1): keep it out
     * of the list that close abandons. */
    cow__list_remove(&gp->exec_call->link);
    cow__list_init(&gp->exec_call->link);
  }
  cow_error_clear(&err);
  return 0;
}

/* ---- open by pid ---- */

/* The guest has no "open": a process is followed by sending WaitForProcess for its pid
 * (§4.6, §5.4). A container's processes are looked up first in its ProcessList (`runc ps`,
 * §4.9), so that an unknown or exited pid fails the open with COW_ENOENT instead of
 * becoming an open that ends at once; utility-VM processes cannot be listed (GetProperties
 * refuses the null id), so their open succeeds and an unknown pid ends in the wait's
 * 0x80070490 (COW_ENOENT for the waiters). */
static void open_listed(struct cow__guest_call *call, int status,
                        const struct cow__proto_resp *resp, const cow_error_t *err)
{
  struct cow__guest_process *gp = call->owner;
  cow_process_t *p = gp->p;
  gp->exec_call = NULL;
  cow_error_t e = COW_ERROR_INIT;
  if (status < 0) {
    cow_error_copy(&e, err);
  } else if (resp->result != 0) {
    cow__proto_resp_error(resp, "open_process", NULL, &e);
  } else {
    int listed = cow__proto_properties_has_pid(cow__proto_str(resp->body, "Properties"), gp->pid);
    if (listed < 0)
      cow__error_set(&e, COW_EPROTOCOL, COW_DOMAIN_GUEST, 0, "open_process", gp->cid,
                     "the guest's ProcessList is not a list of processes");
    else if (!listed)
      cow__error_set(&e, COW_ENOENT, COW_DOMAIN_LIB, 0, "open_process", gp->cid,
                     "no process %" PRIu32 " runs in container %s", gp->pid, gp->cid);
  }
  if (e.code < 0) {
    fail_create(gp, &e);
  } else if (!gp->closing) {
    gp->started = 1;
    cow_process_set_pid(p, gp->pid);
    send_wait(gp);
  }
  cow_error_clear(&e);
  maybe_finish_create(gp);
  cow_process_unref(p); /* taken when the lookup was sent */
}

int cow__guest_open_process(struct cow__guest_conn *conn, struct cow__guest_container *gc,
                            cow_process_t *p, int64_t pid, cow_op_t *op)
{
  struct cow__guest_process *gp = cow_process_priv(p);
  gp->p = p;
  gp->conn = conn;
  gp->container = gc;
  gp->exit_code = -1;
  gp->pid = (uint32_t)pid;
  gp->opened = 1;
  cow__list_init(&gp->calls);
  /* Not on the connection's list of creates: the lookup's own answer (or the bridge's
   * death, through it) ends the open. */
  cow__list_init(&gp->create_link);
  gp->cid = gc ? cow_container_id(gc->c) : COW__NULL_CONTAINER_ID;
  cow_error_t err = COW_ERROR_INIT;
  int rc = cow__guest_check_ready(conn, "open_process", &err);
  cow_error_clear(&err);
  if (rc != 0)
    return rc;
  gp->create_op = op;
  if (gc == NULL) {
    gp->started = 1;
    cow_process_set_pid(p, gp->pid);
    send_wait(gp);
    maybe_finish_create(gp);
    return 0;
  }
  json_t *query = json_pack("{s:[s]}", "PropertyTypes", "ProcessList");
  struct cow__proto_trace trace;
  cow__guest_trace(conn, &trace);
  struct cow__payload body;
  rc = query ? cow__proto_get_properties(&body, gp->cid, query, &trace) : COW_ENOMEM;
  json_decref(query);
  if (rc != 0) {
    gp->create_op = NULL;
    return rc;
  }
  cow_process_ref(p); /* until open_listed: the process must outlive its lookup */
  rc = cow__guest_call(conn, &gp->calls, COW__MSG_GET_PROPERTIES, &body, 1, NULL, gp, NULL,
                       open_listed, &gp->exec_call, &err);
  cow__proto_payload_release(&body);
  cow_error_clear(&err);
  if (rc != 0) {
    cow_process_unref(p);
    gp->create_op = NULL;
    return rc;
  }
  /* Like an exec, the lookup outlives a close of the handle: out of the list close
   * abandons, so that open_listed always runs and releases its reference. */
  cow__list_remove(&gp->exec_call->link);
  cow__list_init(&gp->exec_call->link);
  return 0;
}

/* ---- process ops ---- */

static void gp_close(cow_process_t *p)
{
  struct cow__guest_process *gp = cow_process_priv(p);
  if (gp->conn == NULL)
    return; /* never set up */
  gp->closing = 1;
  cancel_listeners(gp);
  /* Pending signals, resizes and the wait become tombstones: the guest's late answers
   * are absorbed, not "unknown id" (§5.4). */
  cow__guest_calls_abandon_all(&gp->calls, COW_ECANCELED);
  gp->wait_call = NULL;
  create_over(gp);
  if (gp->create_op != NULL && !gp->create_done) {
    cow_op_t *op = gp->create_op;
    gp->create_op = NULL;
    gp->create_done = 1;
    cow_op_complete(op, COW_ECANCELED, NULL);
  }
}

static void gp_fini(cow_process_t *p)
{
  struct cow__guest_process *gp = cow_process_priv(p);
  cow_error_clear(&gp->exit_err);
}

static void gp_timeout(cow_process_t *p, cow_op_t *op)
{
  struct cow__guest_process *gp = cow_process_priv(p);
  struct cow__guest_call *call = cow__guest_call_find(&gp->calls, op);
  if (call != NULL)
    cow__guest_call_abandon(call, COW_ETIMEDOUT);
  /* The create op is not cancellable (§4.1): it completes when the exec does. */
}

/* Signal and resize of a utility-VM process: the GCS looks the null id up as a container
 * and answers 0xC037010E (§9.2 item 2). Say what that means instead of "system not found". */
static int uvm_refusal(struct cow__guest_call *call, const struct cow__proto_resp *resp,
                       cow_error_t *e)
{
  struct cow__guest_process *gp = call->owner;
  if (gp->container != NULL || (uint32_t)resp->result != COW__HR_SYSTEM_NOT_FOUND)
    return 0;
  return cow__error_set(e, COW_ENOTSUP, COW_DOMAIN_GUEST, (uint32_t)resp->result,
                        cow_op_name(call->op), NULL,
                        "the guest agent cannot %s processes that run in the utility VM "
                        "(HRESULT 0x%08X)",
                        strcmp(cow_op_name(call->op), "resize_console") == 0 ? "resize" : "signal",
                        (unsigned)resp->result);
}

static void signal_done(struct cow__guest_call *call, int status,
                        const struct cow__proto_resp *resp, const cow_error_t *err)
{
  if (status < 0 || resp->result == 0) {
    cow__guest_call_complete_simple(call, status, resp, err);
    return;
  }
  cow_error_t e = COW_ERROR_INIT;
  int code;
  if ((uint32_t)resp->result == COW__HR_NOT_FOUND) {
    /* "Already gone": not delivered, which callers treat as success-ish (§2.5). */
    code = cow__error_set(&e, COW_ESRCH, COW_DOMAIN_GUEST, (uint32_t)resp->result,
                          cow_op_name(call->op), NULL, "the process has already exited");
  } else if ((code = uvm_refusal(call, resp, &e)) == 0) {
    code = cow__proto_resp_error(resp, cow_op_name(call->op), NULL, &e);
  }
  cow_op_complete(call->op, code, &e);
  cow_error_clear(&e);
}

static void resize_done(struct cow__guest_call *call, int status,
                        const struct cow__proto_resp *resp, const cow_error_t *err)
{
  cow_error_t e = COW_ERROR_INIT;
  int code;
  if (status == 0 && resp->result != 0 && (code = uvm_refusal(call, resp, &e)) != 0) {
    cow_op_complete(call->op, code, &e);
    cow_error_clear(&e);
    return;
  }
  cow__guest_call_complete_simple(call, status, resp, err);
}

/* Options: `options`, else {"Signal":signo} when signo >= 0, else none (a kill). */
static int send_signal(cow_process_t *p, const json_t *options, int signo, cow_op_t *op)
{
  struct cow__guest_process *gp = cow_process_priv(p);
  cow_error_t err = COW_ERROR_INIT;
  int rc = cow__guest_check_ready(gp->conn, cow_op_name(op), &err);
  if (rc == 0) {
    struct cow__proto_trace trace;
    cow__guest_trace(gp->conn, &trace);
    struct cow__payload body;
    rc = options || signo < 0
             ? cow__proto_signal(&body, gp->cid, gp->pid, options, &trace)
             : cow__proto_signal_number(&body, gp->cid, gp->pid, (uint32_t)signo, &trace);
    if (rc == 0) {
      rc = cow__guest_call(gp->conn, &gp->calls, COW__MSG_SIGNAL_PROCESS, &body, 1, op, gp, NULL,
                           signal_done, NULL, &err);
      cow__proto_payload_release(&body);
    }
  }
  cow_error_clear(&err);
  return rc;
}

static int gp_kill(cow_process_t *p, cow_op_t *op)
{
  return send_signal(p, NULL, -1, op); /* no Options: SIGKILL in the guest (§4.7) */
}

static int gp_signal(cow_process_t *p, const char *options_json, cow_op_t *op)
{
  struct cow__guest_process *gp = cow_process_priv(p);
  int signal_process = (gp->conn->caps & COW_GUEST_CAP_SIGNAL_PROCESS) != 0;
  uint32_t n = 15; /* graceful by default */
  if (options_json == NULL || cow__proto_signal_flat(options_json, &n)) {
    /* {"Signal":N}, as nearly every caller writes it: no JSON tree (the checks below) */
    if (n > 64)
      return COW_EINVAL;
    if (!signal_process)
      return n == 0 || n == 9 || n == 15 ? send_signal(p, NULL, -1, op) : COW_ENOTSUP;
    return send_signal(p, NULL, (int)n, op);
  }
  json_t *opts = cow__proto_parse_object(options_json, "signal options", NULL);
  if (opts == NULL)
    return COW_EINVAL;
  json_t *sig = json_object_get(opts, "Signal");
  if (sig != NULL && !json_is_null(sig) &&
      (!json_is_integer(sig) || json_integer_value(sig) < 0 || json_integer_value(sig) > 64)) {
    json_decref(opts);
    return COW_EINVAL;
  }
  json_int_t signo = json_integer_value(sig);
  int rc;
  if (!signal_process) {
    /* hcsshim: without SignalProcessSupported only TERM and KILL exist, both delivered as
     * a kill without options (§3.2). */
    rc = signo == 0 || signo == 9 || signo == 15 ? send_signal(p, NULL, -1, op) : COW_ENOTSUP;
  } else {
    rc = send_signal(p, opts, -1, op);
  }
  json_decref(opts);
  return rc;
}

static int gp_resize(cow_process_t *p, uint16_t width, uint16_t height, cow_op_t *op)
{
  struct cow__guest_process *gp = cow_process_priv(p);
  if (!gp->tty && !gp->opened)
    return COW_ENOTTY; /* an opened process: the guest says whether it has one */
  cow_error_t err = COW_ERROR_INIT;
  int rc = cow__guest_check_ready(gp->conn, "resize_console", &err);
  if (rc == 0) {
    struct cow__proto_trace trace;
    cow__guest_trace(gp->conn, &trace);
    struct cow__payload body;
    rc = cow__proto_resize(&body, gp->cid, gp->pid, width, height, &trace);
    if (rc == 0) {
      rc = cow__guest_call(gp->conn, &gp->calls, COW__MSG_RESIZE_CONSOLE, &body, 1, op, gp, NULL,
                           resize_done, NULL, &err);
      cow__proto_payload_release(&body);
    }
  }
  cow_error_clear(&err);
  return rc;
}

static int gp_close_stdin(cow_process_t *p, cow_op_t *op)
{
  /* The GCS has no CloseStdin message: the half-close of the stdin socket, which the core
   * has just done, is the whole protocol (§5.3). */
  (void)p;
  cow_op_complete(op, 0, NULL);
  return 0;
}

const struct cow_process_ops cow__guest_process_ops = {
    .version = COW_PROCESS_OPS_VERSION,
    .name = "guest",
    .priv_size = sizeof(struct cow__guest_process),
    .init = NULL,
    .close = gp_close,
    .fini = gp_fini,
    .timeout = gp_timeout,
    .close_stdin = gp_close_stdin,
    .resize_console = gp_resize,
    .kill = gp_kill,
    .signal = gp_signal,
};

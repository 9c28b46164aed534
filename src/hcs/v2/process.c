/* HCS v2 processes as cow_process_t (hcsshim internal/hcs/v2 Process). */
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/log.h"
#include "hcs/common/hcs-error.h"
#include "hcs/common/stdio.h"
#include "hcs/common/utf16.h"
#include "hcs/v2/v2.h"

struct hcs2_process {
  struct cow__hcs2_base base; /* first: see v2.h */
  HCS_PROCESS h;
  char *sys_id;   /* for the second handles of a kill */
  const char *os; /* of the system, for the default signal */
  unsigned tty : 1, exit_seen : 1;
  unsigned opened : 1;     /* opened by pid: whether it has a console is unknown */
  unsigned handles_closed; /* bit per cow_stdio_t: its CloseHandle was sent */
  HRESULT create_hr;       /* the first failure of a create retried with GetProcessInfo */
  char *create_doc;
};

static struct hcs2_process *proc_of(cow_process_t *p)
{
  return cow_process_priv(p);
}

static void fail_hr(cow_op_t *op, HRESULT hr, const char *doc)
{
  cow_error_t err = COW_ERROR_INIT;
  int code = cow__hcs_error(&err, hr, cow_op_name(op), NULL, doc);
  cow_op_complete(op, code, &err);
  cow_error_clear(&err);
}

/* ---- create ---- */

/* The process runs and its handles are in call->pi: wire stdio, then subscribe. */
static void create_succeeded(cow_process_t *p, struct cow__hcs2_call *call)
{
  struct hcs2_process *pp = proc_of(p);
  if (cow_process_is_closing(p)) {
    cow__hcs_stdio_close_all(&call->pi);
    cow_op_complete(call->cop, COW_ECANCELED, NULL);
    return;
  }
  int rc = cow__hcs_stdio_open_all(p, &call->pi);
  if (rc != 0) {
    cow_op_complete(call->cop, rc, NULL);
    return;
  }
  cow_process_set_pid(p, call->pi.ProcessId);
  /* Registered after the handles are wired, as hcsshim does: an exit that happened in
   * between is held by HCS and delivered now (sticky notifications). */
  HRESULT hr = pp->base.api->HcsSetProcessCallback(
      pp->h, HcsEventOptionNone, cow__hcs_ctx(cow_process_event_id(p), COW__HCS_CTX_PROCESS),
      cow__hcs2_event_cb);
  if (hr < 0) {
    fail_hr(call->cop, hr, NULL);
    return;
  }
  cow_op_complete(call->cop, 0, NULL);
}

static void info_done(struct cow__hcs2_call *call, HRESULT hr, const char *doc)
{
  cow_process_t *p = call->owner;
  struct hcs2_process *pp = proc_of(p);
  if (hr >= 0) {
    create_succeeded(p, call);
    return;
  }
  /* The retry failed too: report the original failure (hcsshim). */
  fail_hr(call->cop, pp->create_hr, pp->create_doc);
}

static void create_done(struct cow__hcs2_call *call, HRESULT hr, const char *doc)
{
  cow_process_t *p = call->owner;
  struct hcs2_process *pp = proc_of(p);
  if (hr >= 0) {
    create_succeeded(p, call);
    return;
  }
  if (pp->h == NULL || cow_process_is_closing(p)) {
    fail_hr(call->cop, hr, doc);
    return;
  }
  /* WS2022 quirk (docs/hcs-api.md §3.4): the wait fails although the process handle is valid;
   * the handles can still be fetched with HcsGetProcessInfo. */
  pp->create_hr = hr;
  pp->create_doc = cow__strdup(doc);
  struct cow__hcs2_call *retry = cow__hcs2_call_new(p, COW__HCS_CTX_PROCESS, call->cop, info_done);
  if (retry == NULL) {
    fail_hr(call->cop, hr, doc);
    return;
  }
  retry->with_pi = 1;
  cow__hcs2_call_issued(retry, pp->base.api->HcsGetProcessInfo(pp->h, retry->op));
}

int cow__hcs2_create_process(cow_host_t *host, cow_process_t *p, const char *config, cow_op_t *op)
{
  cow_container_t *c = cow_host_container(host);
  struct cow__hcs2_system *s = cow_container_priv(c);
  struct hcs2_process *pp = proc_of(p);
  pp->base.api = s->base.api;
  cow__list_init(&pp->base.calls);
  int rc = cow__hcs_sys_check(&s->st, COW__HCS_CREATE_PROCESS);
  if (rc != 0)
    return rc;
  char *doc = NULL;
  int tty = 0;
  if ((rc = cow__hcs_process_config_prepare(config, &doc, &tty)) != 0)
    return rc;
  uint16_t *wdoc = NULL;
  rc = cow__utf16_from_utf8(doc, &wdoc);
  cow__free(doc);
  if (rc != 0)
    return rc;
  pp->tty = tty != 0;
  pp->os = s->st.os;
  pp->sys_id = cow__strdup(cow_container_id(c));
  struct cow__hcs2_call *call =
      pp->sys_id ? cow__hcs2_call_new(p, COW__HCS_CTX_PROCESS, op, create_done) : NULL;
  if (call == NULL) {
    cow__free(wdoc);
    return COW_ENOMEM;
  }
  call->with_pi = 1;
  HRESULT hr = s->base.api->HcsCreateProcess(s->h, wdoc, call->op, NULL, &pp->h);
  if (hr < 0)
    pp->h = NULL;
  cow__free(wdoc);
  cow__hcs2_call_issued(call, hr);
  return 0;
}

/* Open by pid (hcsshim OpenProcess): a handle on the process, then its events. HcsOpenProcess
 * is synchronous; an exited or unknown pid is ERROR_NOT_FOUND (docs/hcs-api.md §6.4). */
int cow__hcs2_open_process(cow_host_t *host, cow_process_t *p, int64_t pid, cow_op_t *op)
{
  cow_container_t *c = cow_host_container(host);
  struct cow__hcs2_system *s = cow_container_priv(c);
  struct hcs2_process *pp = proc_of(p);
  pp->base.api = s->base.api;
  cow__list_init(&pp->base.calls);
  int rc = cow__hcs_sys_check(&s->st, COW__HCS_QUERY);
  if (rc != 0)
    return rc;
  pp->os = s->st.os;
  pp->opened = 1;
  if ((pp->sys_id = cow__strdup(cow_container_id(c))) == NULL)
    return COW_ENOMEM;
  HRESULT hr = s->base.api->HcsOpenProcess(s->h, (DWORD)pid, GENERIC_ALL, &pp->h);
  if (hr < 0)
    pp->h = NULL;
  else
    hr = s->base.api->HcsSetProcessCallback(
        pp->h, HcsEventOptionNone, cow__hcs_ctx(cow_process_event_id(p), COW__HCS_CTX_PROCESS),
        cow__hcs2_event_cb);
  if (hr < 0) {
    fail_hr(op, hr, NULL);
    return 0;
  }
  cow_process_set_pid(p, pid);
  cow_op_complete(op, 0, NULL);
  return 0;
}

/* ---- events ---- */

void cow__hcs2_process_event(cow_process_t *p, uint32_t type, const char *doc)
{
  struct hcs2_process *pp = proc_of(p);
  if (pp->exit_seen)
    return;
  if (type == (uint32_t)HcsEventProcessExited) {
    pp->exit_seen = 1;
    cow__hcs_proc_report_status(p, doc); /* the code comes from EventData (hcsshim v2) */
  } else if (type == COW__HCS_V2_EVENT_SERVICE_DISCONNECT) {
    pp->exit_seen = 1;
    cow__hcs_proc_report_disconnect(p);
  }
}

/* ---- kill: a second system and process handle (R20) ---- */

static void kill_done(struct cow__hcs2_call *call, HRESULT hr, const char *doc)
{
  /* Access denied or "already stopped" means the process is gone: delivered (hcsshim). */
  if (hr < 0 && !cow__hcs_kill_tolerated(hr)) {
    fail_hr(call->cop, hr, doc);
    return;
  }
  if (hr < 0)
    cow_process_expect_exit(call->owner, COW__HCS_GONE_GRACE_MS, NULL);
  cow_op_complete(call->cop, 0, NULL);
}

static int v2_kill(cow_process_t *p, cow_op_t *op)
{
  struct hcs2_process *pp = proc_of(p);
  const struct cow__computecore_api *api = pp->base.api;
  /* HCS serialises requests per handle, so a kill on the process's own handle would wait
   * behind a graceful signal still in progress (hcsshim#1416): open fresh handles. */
  uint16_t *wid = NULL;
  int rc = cow__utf16_from_utf8(pp->sys_id, &wid);
  if (rc != 0)
    return rc;
  HCS_SYSTEM sys2 = NULL;
  HCS_PROCESS ph2 = NULL;
  HRESULT hr = api->HcsOpenComputeSystem(wid, GENERIC_ALL, &sys2);
  cow__free(wid);
  if (hr >= 0) {
    hr = api->HcsOpenProcess(sys2, (DWORD)cow_process_pid(p), GENERIC_ALL, &ph2);
    if (hr < 0) {
      api->HcsCloseComputeSystem(sys2);
      sys2 = NULL;
      ph2 = NULL;
    }
  }
  if (hr < 0) {
    if (cow__hcs_kill_tolerated(hr)) {
      cow_op_complete(op, 0, NULL); /* the system or process is already gone */
      return 0;
    }
    /* No second handle: fall back to the process's own handle rather than not killing. */
    cow__log(COW_LOG_WARN, "hcs2", "kill: second handle failed (0x%08X), using the first",
             (unsigned)hr);
  }
  struct cow__hcs2_call *call = cow__hcs2_call_new(p, COW__HCS_CTX_PROCESS, op, kill_done);
  if (call == NULL) {
    if (ph2 != NULL)
      api->HcsCloseProcess(ph2);
    if (sys2 != NULL)
      api->HcsCloseComputeSystem(sys2);
    return COW_ENOMEM;
  }
  call->tmp_sys = sys2;
  call->tmp_proc = ph2;
  cow__hcs2_call_issued(call, api->HcsTerminateProcess(ph2 ? ph2 : pp->h, call->op, NULL));
  return 0;
}

/* ---- signal, resize, close stdin ---- */

static void signal_done(struct cow__hcs2_call *call, HRESULT hr, const char *doc)
{
  if (hr >= 0)
    cow_op_complete(call->cop, 0, NULL);
  else if (cow__hcs_signal_gone(hr)) {
    cow_process_expect_exit(call->owner, COW__HCS_GONE_GRACE_MS, NULL);
    cow_op_complete(call->cop, COW_ESRCH, NULL); /* not delivered: the process is gone */
  } else
    fail_hr(call->cop, hr, doc);
}

/* Modify requests on a process that has just exited are not failures (R12, hcsshim skips
 * CloseStdin after exit because HCS fails it then). */
static void modify_done(struct cow__hcs2_call *call, HRESULT hr, const char *doc)
{
  if (hr < 0 && !cow__hcs_signal_gone(hr))
    fail_hr(call->cop, hr, doc);
  else
    cow_op_complete(call->cop, 0, NULL);
}

static int issue(cow_process_t *p, cow_op_t *op, const char *json, cow__hcs2_done_fn done,
                 HRESULT(WINAPI *fn)(HCS_PROCESS, HCS_OPERATION, PCWSTR))
{
  struct hcs2_process *pp = proc_of(p);
  uint16_t *w = NULL;
  int rc = cow__utf16_from_utf8(json, &w);
  if (rc != 0)
    return rc;
  struct cow__hcs2_call *call = cow__hcs2_call_new(p, COW__HCS_CTX_PROCESS, op, done);
  if (call == NULL) {
    cow__free(w);
    return COW_ENOMEM;
  }
  cow__hcs2_call_issued(call, fn(pp->h, call->op, w));
  cow__free(w);
  return 0;
}

static int v2_signal(cow_process_t *p, const char *options_json, cow_op_t *op)
{
  struct hcs2_process *pp = proc_of(p);
  const char *opts = options_json ? options_json : cow__hcs_default_signal(pp->os);
  return issue(p, op, opts, signal_done, pp->base.api->HcsSignalProcess);
}

static int v2_resize(cow_process_t *p, uint16_t width, uint16_t height, cow_op_t *op)
{
  struct hcs2_process *pp = proc_of(p);
  if (!pp->tty && !pp->opened)
    return COW_ENOTTY; /* R12: a process without a console cannot be resized */
  char json[128];
  snprintf(json, sizeof json,
           "{\"Operation\":\"ConsoleSize\",\"ConsoleSize\":{\"Height\":%u,\"Width\":%u}}",
           (unsigned)height, (unsigned)width);
  return issue(p, op, json, modify_done, pp->base.api->HcsModifyProcess);
}

/* CloseHandle for one stream, sent once (idempotent, R8). For stdin the guest sees EOF only
 * through this request, not by the local half-close; for stdout/stderr the service drops
 * its end, so the process's next write fails. A console is one handle for all three: its
 * output is not closed apart from it. */
static int v2_close_handle(cow_process_t *p, cow_stdio_t which, cow_op_t *op)
{
  struct hcs2_process *pp = proc_of(p);
  if ((pp->handles_closed & (1u << which)) || pp->h == NULL || (pp->tty && which != COW_STDIN)) {
    cow_op_complete(op, 0, NULL);
    return 0;
  }
  pp->handles_closed |= 1u << which;
  return issue(p, op, cow__hcs_close_handle_request(which), modify_done,
               pp->base.api->HcsModifyProcess);
}

static int v2_close_stdin(cow_process_t *p, cow_op_t *op)
{
  return v2_close_handle(p, COW_STDIN, op);
}

/* ---- close ---- */

static void v2_close(cow_process_t *p)
{
  struct hcs2_process *pp = proc_of(p);
  cow__hcs2_calls_cancel(&pp->base);
  if (pp->h != NULL) {
    /* Drains the event callback; never kills the process (hcsshim semantics). */
    pp->base.api->HcsCloseProcess(pp->h);
    pp->h = NULL;
  }
}

static void v2_fini(cow_process_t *p)
{
  struct hcs2_process *pp = proc_of(p);
  if (pp->h != NULL && pp->base.api != NULL) /* never closed: create refused early */
    pp->base.api->HcsCloseProcess(pp->h);
  cow__free(pp->sys_id);
  cow__free(pp->create_doc);
}

const struct cow_process_ops cow__hcs2_process_ops = {
    .version = COW_PROCESS_OPS_VERSION,
    .name = "hcs2",
    .priv_size = sizeof(struct hcs2_process),
    .close = v2_close,
    .fini = v2_fini,
    .close_stdin = v2_close_stdin,
    .resize_console = v2_resize,
    .kill = v2_kill,
    .signal = v2_signal,
    .close_output = v2_close_handle,
};

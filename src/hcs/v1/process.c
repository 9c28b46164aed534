/* HCS v1 processes as cow_process_t (hcsshim internal/hcs Process). The exit code comes
 * from HcsGetProcessProperties after ProcessExited (hcsshim v1); the notification's own
 * ProcessStatus is the fallback when that call fails. */
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/log.h"
#include "hcs/common/hcs-error.h"
#include "hcs/common/stdio.h"
#include "hcs/common/utf16.h"
#include "hcs/v1/v1.h"

static struct cow__hcs1_process *proc_of(cow_process_t *p)
{
  return cow_process_priv(p);
}

static void take_result(struct cow__hcs1_work *w, PWSTR result)
{
  w->result = cow__hcs_take_string(w->api->free_string, result);
}

static int queue(cow_process_t *p, cow_op_t *op, void (*run)(struct cow__hcs1_work *),
                 void (*after)(struct cow__hcs1_work *), const char *arg)
{
  struct cow__hcs1_process *pp = proc_of(p);
  struct cow__hcs1_work *w = cow__hcs1_work_new(p, COW__HCS_CTX_PROCESS, op, pp->api, run, after);
  if (w == NULL)
    return COW_ENOMEM;
  w->proc = pp->h;
  w->pid = (uint32_t)cow_process_pid(p);
  int rc;
  if (arg != NULL && (rc = cow__utf16_from_utf8(arg, &w->warg)) != 0) {
    cow__free(w);
    return rc;
  }
  return cow__hcs1_work_queue(w);
}

/* ---- exit ---- */

static void run_exit_status(struct cow__hcs1_work *w)
{
  PWSTR props = NULL, result = NULL;
  w->hr = w->api->HcsGetProcessProperties(w->proc, &props, &result);
  w->payload = cow__hcs_take_string(w->api->free_string, props);
  take_result(w, result);
}

static void after_exit_status(struct cow__hcs1_work *w)
{
  cow_process_t *p = w->owner;
  struct cow__hcs1_process *pp = proc_of(p);
  if (w->hr >= 0 && w->payload != NULL && *w->payload != '\0')
    cow__hcs_proc_report_status(p, w->payload);
  else
    cow__hcs_proc_report_status(p, pp->early_doc); /* the notification's ProcessStatus */
}

static void exited(cow_process_t *p, const char *doc)
{
  struct cow__hcs1_process *pp = proc_of(p);
  cow__free(pp->early_doc);
  pp->early_doc = cow__strdup(doc);
  if (queue(p, NULL, run_exit_status, after_exit_status, NULL) != 0)
    cow__hcs_proc_report_status(p, doc);
}

void cow__hcs1_process_notify(cow_process_t *p, uint32_t type, HRESULT status, const char *doc)
{
  struct cow__hcs1_process *pp = proc_of(p);
  (void)status;
  /* A closed handle may already be on its way to being freed (its last reference gone):
   * it must not start new threadpool work, and nobody waits for it any more. */
  if (pp->exit_seen || cow_process_is_closing(p))
    return;
  if (type == HcsNotificationProcessExited) {
    pp->exit_seen = 1;
    if (!pp->created) { /* the create's answer is still on its way to the loop */
      pp->early_exit = 1;
      pp->early_doc = cow__strdup(doc);
      return;
    }
    exited(p, doc);
  } else if (type == COW__HCS_V1_NOTIFY_SERVICE_DISCONNECT) {
    pp->exit_seen = 1;
    cow__hcs_proc_report_disconnect(p);
  }
}

/* ---- create ---- */

/* Create from w->warg, or open the running w->pid when there is no document (hcsshim
 * OpenProcess: no stdio); then subscribe, as hcsshim does, after the call returned. */
static void run_create(struct cow__hcs1_work *w)
{
  PWSTR result = NULL;
  HCS_PROCESS ph = NULL;
  if (w->warg != NULL) {
    w->hr = w->api->HcsCreateProcess(w->sys, w->warg, &w->pi, &ph, &result);
  } else {
    w->hr = w->api->HcsOpenProcess(w->sys, w->pid, &ph, &result);
    w->pi.ProcessId = w->pid;
  }
  take_result(w, result);
  if (w->hr < 0)
    return;
  w->proc = ph;
  w->hr2 = w->api->HcsRegisterProcessCallback(ph, cow__hcs1_notify_cb, w->ctx, &w->cbh);
}

static void after_create(struct cow__hcs1_work *w)
{
  cow_process_t *p = w->owner;
  struct cow__hcs1_process *pp = proc_of(p);
  if (w->hr < 0) {
    cow__hcs1_complete(w, NULL);
    return;
  }
  pp->h = w->proc;
  if (w->hr2 >= 0)
    pp->cbh = w->cbh;
  if (cow_process_is_closing(p)) {
    cow__hcs_stdio_close_all(&w->pi);
    if (pp->cbh != NULL) {
      pp->api->HcsUnregisterProcessCallback(pp->cbh);
      pp->cbh = NULL;
    }
    cow_op_complete(w->op, COW_ECANCELED, NULL);
    return;
  }
  if (w->hr2 < 0) {
    cow__hcs_stdio_close_all(&w->pi);
    w->hr = w->hr2;
    cow__hcs1_complete(w, NULL);
    return;
  }
  int rc = cow__hcs_stdio_open_all(p, &w->pi);
  if (rc != 0) {
    cow_op_complete(w->op, rc, NULL);
    return;
  }
  cow_process_set_pid(p, w->pi.ProcessId);
  pp->created = 1;
  cow_op_complete(w->op, 0, NULL);
  if (pp->early_exit) {
    char *doc = pp->early_doc;
    pp->early_doc = NULL;
    exited(p, doc);
    cow__free(doc);
  }
}

int cow__hcs1_create_process(cow_host_t *host, cow_process_t *p, const char *config, cow_op_t *op)
{
  cow_container_t *c = cow_host_container(host);
  struct cow__hcs1_system *s = cow_container_priv(c);
  struct cow__hcs1_process *pp = proc_of(p);
  pp->api = s->api;
  int rc = cow__hcs_sys_check(&s->st, COW__HCS_CREATE_PROCESS);
  if (rc != 0)
    return rc;
  char *doc = NULL;
  int tty = 0;
  if ((rc = cow__hcs_process_config_prepare(config, &doc, &tty)) != 0)
    return rc;
  pp->tty = tty != 0;
  pp->os = s->st.os;
  pp->sys_id = cow__strdup(cow_container_id(c));
  struct cow__hcs1_work *w =
      pp->sys_id ? cow__hcs1_work_new(p, COW__HCS_CTX_PROCESS, op, s->api, run_create, after_create)
                 : NULL;
  if (w == NULL) {
    cow__free(doc);
    return COW_ENOMEM;
  }
  rc = cow__utf16_from_utf8(doc, &w->warg);
  cow__free(doc);
  if (rc != 0) {
    cow__free(w);
    return rc;
  }
  w->sys = s->h;
  w->ctx = cow__hcs_ctx(cow_process_event_id(p), COW__HCS_CTX_PROCESS);
  return cow__hcs1_work_queue(w);
}

int cow__hcs1_open_process(cow_host_t *host, cow_process_t *p, int64_t pid, cow_op_t *op)
{
  cow_container_t *c = cow_host_container(host);
  struct cow__hcs1_system *s = cow_container_priv(c);
  struct cow__hcs1_process *pp = proc_of(p);
  pp->api = s->api;
  int rc = cow__hcs_sys_check(&s->st, COW__HCS_QUERY);
  if (rc != 0)
    return rc;
  pp->os = s->st.os;
  pp->opened = 1;
  pp->sys_id = cow__strdup(cow_container_id(c));
  struct cow__hcs1_work *w =
      pp->sys_id ? cow__hcs1_work_new(p, COW__HCS_CTX_PROCESS, op, s->api, run_create, after_create)
                 : NULL;
  if (w == NULL)
    return COW_ENOMEM;
  w->sys = s->h;
  w->pid = (uint32_t)pid;
  w->ctx = cow__hcs_ctx(cow_process_event_id(p), COW__HCS_CTX_PROCESS);
  return cow__hcs1_work_queue(w);
}

/* ---- kill (R20: second handles), signal, modify ---- */

static void run_kill(struct cow__hcs1_work *w)
{
  PWSTR result = NULL;
  HCS_SYSTEM sys2 = NULL;
  HCS_PROCESS ph2 = NULL;
  /* HCS serialises signals per handle (hcsshim#1416): kill through fresh handles. */
  HRESULT hr = w->api->HcsOpenComputeSystem(w->warg, &sys2, &result);
  w->api->free_string(result);
  result = NULL;
  if (hr >= 0) {
    hr = w->api->HcsOpenProcess(sys2, w->pid, &ph2, &result);
    w->api->free_string(result);
    result = NULL;
  }
  if (hr < 0 && cow__hcs_kill_tolerated(hr)) {
    w->hr = 0; /* already gone: delivered */
  } else {
    w->hr = w->api->HcsTerminateProcess(ph2 ? ph2 : w->proc, &result);
    take_result(w, result);
  }
  if (ph2 != NULL)
    w->api->HcsCloseProcess(ph2);
  if (sys2 != NULL)
    w->api->HcsCloseComputeSystem(sys2);
}

static void after_kill(struct cow__hcs1_work *w)
{
  if (w->hr < 0 && cow__hcs_kill_tolerated(w->hr)) {
    w->hr = 0; /* access denied or already stopped: the process is gone (hcsshim) */
    cow_process_expect_exit(w->owner, COW__HCS_GONE_GRACE_MS, NULL);
  }
  cow__hcs1_complete(w, NULL);
}

static int v1_kill(cow_process_t *p, cow_op_t *op)
{
  return queue(p, op, run_kill, after_kill, proc_of(p)->sys_id);
}

static void run_signal(struct cow__hcs1_work *w)
{
  PWSTR result = NULL;
  w->hr = w->api->HcsSignalProcess(w->proc, w->warg, &result);
  take_result(w, result);
}

static void after_signal(struct cow__hcs1_work *w)
{
  if (w->hr < 0 && cow__hcs_signal_gone(w->hr)) {
    cow_process_expect_exit(w->owner, COW__HCS_GONE_GRACE_MS, NULL);
    cow_op_complete(w->op, COW_ESRCH, NULL); /* not delivered: gone */
    return;
  }
  cow__hcs1_complete(w, NULL);
}

static int v1_signal(cow_process_t *p, const char *options_json, cow_op_t *op)
{
  const char *opts = options_json ? options_json : cow__hcs_default_signal(proc_of(p)->os);
  return queue(p, op, run_signal, after_signal, opts);
}

static void run_modify(struct cow__hcs1_work *w)
{
  PWSTR result = NULL;
  w->hr = w->api->HcsModifyProcess(w->proc, w->warg, &result);
  take_result(w, result);
}

static void after_modify(struct cow__hcs1_work *w)
{
  if (w->hr < 0 && cow__hcs_signal_gone(w->hr))
    w->hr = 0; /* exited meanwhile: resize and close-stdin are no-ops then (R12) */
  cow__hcs1_complete(w, NULL);
}

static int v1_resize(cow_process_t *p, uint16_t width, uint16_t height, cow_op_t *op)
{
  if (!proc_of(p)->tty && !proc_of(p)->opened)
    return COW_ENOTTY;
  char json[128];
  snprintf(json, sizeof json,
           "{\"Operation\":\"ConsoleSize\",\"ConsoleSize\":{\"Height\":%u,\"Width\":%u}}",
           (unsigned)height, (unsigned)width);
  return queue(p, op, run_modify, after_modify, json);
}

/* CloseHandle for one stream, sent once: as v2_close_handle (hcs/v2/process.c). */
static int v1_close_handle(cow_process_t *p, cow_stdio_t which, cow_op_t *op)
{
  struct cow__hcs1_process *pp = proc_of(p);
  if ((pp->handles_closed & (1u << which)) || pp->h == NULL || (pp->tty && which != COW_STDIN)) {
    cow_op_complete(op, 0, NULL);
    return 0;
  }
  pp->handles_closed |= 1u << which;
  return queue(p, op, run_modify, after_modify, cow__hcs_close_handle_request(which));
}

static int v1_close_stdin(cow_process_t *p, cow_op_t *op)
{
  return v1_close_handle(p, COW_STDIN, op);
}

void cow__hcs1_process_idle(cow_process_t *p)
{
  struct cow__hcs1_process *pp = proc_of(p);
  /* Closed and no threadpool call uses the handle any more: close it now, as hcsshim's
   * Close does (never kills the process). */
  if (cow_process_is_closing(p) && pp->works == 0 && pp->h != NULL) {
    pp->api->HcsCloseProcess(pp->h);
    pp->h = NULL;
  }
}

static void v1_close(cow_process_t *p)
{
  struct cow__hcs1_process *pp = proc_of(p);
  if (pp->cbh != NULL) {
    pp->api->HcsUnregisterProcessCallback(pp->cbh); /* waits for a notification in flight */
    pp->cbh = NULL;
  }
  cow__hcs1_process_idle(p);
}

static void v1_fini(cow_process_t *p)
{
  struct cow__hcs1_process *pp = proc_of(p);
  if (pp->cbh != NULL)
    pp->api->HcsUnregisterProcessCallback(pp->cbh);
  if (pp->h != NULL)
    pp->api->HcsCloseProcess(pp->h); /* never kills the process */
  cow__free(pp->sys_id);
  cow__free(pp->early_doc);
}

const struct cow_process_ops cow__hcs1_process_ops = {
    .version = COW_PROCESS_OPS_VERSION,
    .name = "hcs1",
    .priv_size = sizeof(struct cow__hcs1_process),
    .close = v1_close,
    .fini = v1_fini,
    .close_stdin = v1_close_stdin,
    .resize_console = v1_resize,
    .kill = v1_kill,
    .signal = v1_signal,
    .close_output = v1_close_handle,
};

/* HCS v1 compute systems as cow_container_t (hcsshim internal/hcs System). */
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/log.h"
#include "hcs/common/hcs-error.h"
#include "hcs/common/props.h"
#include "hcs/common/utf16.h"
#include "hcs/v1/v1.h"

static const uint16_t empty_str[] = {0};
static const uint16_t empty_query[] = {'{', '}', 0};

static struct cow__hcs1_system *sys_of(cow_container_t *c)
{
  return cow_container_priv(c);
}

static void take_result(struct cow__hcs1_work *w, PWSTR result)
{
  w->result = cow__hcs_take_string(w->api->free_string, result);
}

static void fail_op(cow_op_t *op, int code, HRESULT hr, const char *id, const char *doc,
                    const char *why)
{
  cow_error_t err = COW_ERROR_INIT;
  if (hr < 0)
    code = cow__hcs_error(&err, hr, cow_op_name(op), id, doc);
  else
    cow__error_set(&err, code, COW_DOMAIN_LIB, 0, cow_op_name(op), id, "%s",
                   why ? why : cow_strerror(code));
  cow_op_complete(op, code, &err);
  cow_error_clear(&err);
}

/* ---- terminate without waiting ---- */

static void run_terminate(struct cow__hcs1_work *w)
{
  PWSTR result = NULL;
  w->hr = w->api->HcsTerminateComputeSystem(w->sys, empty_str, &result);
  take_result(w, result);
}

static void after_quiet(struct cow__hcs1_work *w)
{
  if (w->hr < 0 && !cow__hcs_stop_tolerated(w->hr))
    cow__log(COW_LOG_WARN, "hcs1", "terminate: HRESULT 0x%08X", (unsigned)w->hr);
}

static void terminate_quietly(cow_container_t *c)
{
  struct cow__hcs1_system *s = sys_of(c);
  if (s->h == NULL)
    return;
  struct cow__hcs1_work *w =
      cow__hcs1_work_new(c, COW__HCS_CTX_SYSTEM, NULL, s->api, run_terminate, after_quiet);
  if (w != NULL) {
    w->sys = s->h;
    cow__hcs1_work_queue(w);
  }
}

/* ---- create / open ---- */

static void create_failed(cow_container_t *c, cow_op_t *op, int code, HRESULT hr, const char *doc,
                          const char *why)
{
  struct cow__hcs1_system *s = sys_of(c);
  cow_error_t err = COW_ERROR_INIT;
  if (hr < 0)
    cow__hcs_error(&err, hr, cow_op_name(op), cow_container_id(c), doc);
  else
    cow__error_set(&err, code, COW_DOMAIN_LIB, 0, cow_op_name(op), cow_container_id(c), "%s",
                   why ? why : cow_strerror(code));
  /* hcsshim terminates what a failed create left behind; the handle itself is closed at
   * the last reference (no threadpool call may still be using it). */
  terminate_quietly(c);
  s->st.state = COW__HCS_SYS_FAILED;
  s->st.exit_seen = 1;
  cow_container_report_exit(c, &err);
  cow_op_complete(op, err.code, &err);
  cow_error_clear(&err);
}

static void run_properties(struct cow__hcs1_work *w)
{
  PWSTR props = NULL, result = NULL;
  w->hr = w->api->HcsGetComputeSystemProperties(w->sys, w->warg ? w->warg : empty_query, &props,
                                                &result);
  w->payload = cow__hcs_take_string(w->api->free_string, props);
  take_result(w, result);
}

static void after_cached_properties(struct cow__hcs1_work *w)
{
  cow_container_t *c = w->owner;
  struct cow__hcs1_system *s = sys_of(c);
  if (cow_container_is_closing(c)) {
    cow_op_complete(w->op, COW_ECANCELED, NULL);
    return;
  }
  if (w->hr < 0) {
    create_failed(c, w->op, 0, w->hr, w->result, NULL);
    return;
  }
  if (cow__hcs_sys_cache_properties(&s->st, w->payload) != 0) {
    create_failed(c, w->op, COW_EPROTOCOL, 0, NULL, "the basic properties are not a JSON object");
    return;
  }
  s->st.state = COW__HCS_SYS_READY;
  if (cow_op_abandoned(w->op))
    terminate_quietly(c); /* timed out: nobody wants this system (hcsshim) */
  cow_op_complete(w->op, 0, NULL);
}

/* Created (or opened) and subscribed: read the basic properties (getCachedProperties). */
static void created(cow_container_t *c, cow_op_t *op)
{
  struct cow__hcs1_system *s = sys_of(c);
  struct cow__hcs1_work *w = cow__hcs1_work_new(c, COW__HCS_CTX_SYSTEM, op, s->api, run_properties,
                                                after_cached_properties);
  int rc = w ? 0 : COW_ENOMEM;
  if (w != NULL) {
    w->sys = s->h;
    rc = cow__hcs1_work_queue(w);
  }
  if (rc != 0)
    create_failed(c, op, rc, 0, NULL, NULL);
}

static void run_create(struct cow__hcs1_work *w)
{
  PWSTR result = NULL;
  HCS_SYSTEM h = NULL;
  if (w->payload == NULL) /* open */
    w->hr = w->api->HcsOpenComputeSystem(w->warg, &h, &result);
  else {
    uint16_t *wcfg = NULL;
    w->hr = cow__utf16_from_utf8(w->payload, &wcfg) == 0
                ? w->api->HcsCreateComputeSystem(w->warg, wcfg, NULL, &h, &result)
                : COW__HR_E_INVALIDARG;
    cow__free(wcfg);
  }
  take_result(w, result);
  if (w->hr < 0 && (uint32_t)w->hr != 0xC0370103u)
    return;
  w->sys = h;
  /* Registered after the call returned, as hcsshim does: the handle did not exist before,
   * and HCS holds a completion that is ready before a callback exists. */
  w->hr2 = w->api->HcsRegisterComputeSystemCallback(h, cow__hcs1_notify_cb, w->ctx, &w->cbh);
}

static void after_create(struct cow__hcs1_work *w)
{
  cow_container_t *c = w->owner;
  struct cow__hcs1_system *s = sys_of(c);
  s->h = w->sys;
  if (w->hr2 >= 0)
    s->cbh = w->cbh;
  if (cow_container_is_closing(c)) {
    if (s->cbh != NULL) {
      s->api->HcsUnregisterComputeSystemCallback(s->cbh);
      s->cbh = NULL;
    }
    cow_op_complete(w->op, COW_ECANCELED, NULL);
    return;
  }
  if (w->hr < 0 && (uint32_t)w->hr != 0xC0370103u) {
    create_failed(c, w->op, 0, w->hr, w->result, NULL);
    return;
  }
  if (w->hr2 < 0) {
    create_failed(c, w->op, 0, w->hr2, NULL, NULL);
    return;
  }
  if ((uint32_t)w->hr != 0xC0370103u) {
    created(c, w->op);
    return;
  }
  if (s->create.fired) { /* the notification won the race to the loop */
    if (s->create.hr < 0)
      create_failed(c, w->op, 0, s->create.hr, NULL, NULL);
    else
      created(c, w->op);
    return;
  }
  s->create.op = w->op;
}

/* ---- consumer calls ---- */

static void after_simple(struct cow__hcs1_work *w)
{
  cow__hcs1_complete(w, cow_container_id(w->owner));
}

static void run_start(struct cow__hcs1_work *w)
{
  PWSTR result = NULL;
  w->hr = w->api->HcsStartComputeSystem(w->sys, empty_str, &result);
  take_result(w, result);
}

/* A call that may answer "pending" (0xC0370103): its result is then the status of the
 * *Completed notification latched in `l`, which may have reached the loop first. */
static void after_pending(struct cow__hcs1_work *w, struct cow__hcs1_latch *l)
{
  cow_container_t *c = w->owner;
  if ((uint32_t)w->hr != 0xC0370103u || cow_container_is_closing(c)) {
    cow__hcs1_complete(w, cow_container_id(c));
    return;
  }
  if (l->fired) {
    w->hr = l->hr;
    cow__hcs1_complete(w, cow_container_id(c));
    return;
  }
  l->op = w->op;
}

static void after_start(struct cow__hcs1_work *w)
{
  after_pending(w, &sys_of(w->owner)->start);
}

static int queue(cow_container_t *c, cow_op_t *op, enum cow__hcs_verb verb,
                 void (*run)(struct cow__hcs1_work *), void (*after)(struct cow__hcs1_work *),
                 const char *arg)
{
  struct cow__hcs1_system *s = sys_of(c);
  int rc = cow__hcs_sys_check(&s->st, verb);
  if (rc != 0)
    return rc;
  if (s->h == NULL) { /* a failed create: stopping it succeeds, R18 */
    cow_op_complete(op, 0, NULL);
    return 0;
  }
  struct cow__hcs1_work *w = cow__hcs1_work_new(c, COW__HCS_CTX_SYSTEM, op, s->api, run, after);
  if (w == NULL)
    return COW_ENOMEM;
  w->sys = s->h;
  if (arg != NULL && (rc = cow__utf16_from_utf8(arg, &w->warg)) != 0) {
    cow__free(w);
    return rc;
  }
  return cow__hcs1_work_queue(w);
}

/* Arm latch `l` for a call that may answer pending. One at a time per latch: the
 * notification cannot tell two calls apart. */
static int latch_arm(struct cow__hcs1_latch *l)
{
  if (l->op != NULL)
    return COW_EBUSY;
  l->fired = 0;
  l->hr = 0;
  return 0;
}

static int v1_start(cow_container_t *c, cow_op_t *op)
{
  int rc = latch_arm(&sys_of(c)->start);
  return rc ? rc : queue(c, op, COW__HCS_START, run_start, after_start, NULL);
}

/* Pause and resume: synchronous or pending like Start (docs/hcs-api.md §2.2), with options L""
 * as hcsshim passes them. */
static void run_pause(struct cow__hcs1_work *w)
{
  PWSTR result = NULL;
  w->hr = w->api->HcsPauseComputeSystem(w->sys, empty_str, &result);
  take_result(w, result);
}

static void after_pause(struct cow__hcs1_work *w)
{
  after_pending(w, &sys_of(w->owner)->pause);
}

static int v1_pause(cow_container_t *c, cow_op_t *op)
{
  int rc = latch_arm(&sys_of(c)->pause);
  return rc ? rc : queue(c, op, COW__HCS_PAUSE, run_pause, after_pause, NULL);
}

static void run_resume(struct cow__hcs1_work *w)
{
  PWSTR result = NULL;
  w->hr = w->api->HcsResumeComputeSystem(w->sys, empty_str, &result);
  take_result(w, result);
}

static void after_resume(struct cow__hcs1_work *w)
{
  after_pending(w, &sys_of(w->owner)->resume);
}

static int v1_resume(cow_container_t *c, cow_op_t *op)
{
  int rc = latch_arm(&sys_of(c)->resume);
  return rc ? rc : queue(c, op, COW__HCS_PAUSE, run_resume, after_resume, NULL);
}

static void run_shutdown(struct cow__hcs1_work *w)
{
  PWSTR result = NULL;
  w->hr = w->api->HcsShutdownComputeSystem(w->sys, empty_str, &result);
  take_result(w, result);
}

/* Fire and forget (hcsshim): the exit is observed through SystemExited; pending, already
 * stopped and not found count as success (R19). */
static void after_stop(struct cow__hcs1_work *w)
{
  if (w->hr < 0 && cow__hcs_stop_tolerated(w->hr))
    w->hr = 0;
  cow__hcs1_complete(w, cow_container_id(w->owner));
}

static int v1_shutdown(cow_container_t *c, cow_op_t *op)
{
  return queue(c, op, COW__HCS_STOP, run_shutdown, after_stop, NULL);
}

static int v1_terminate(cow_container_t *c, cow_op_t *op)
{
  return queue(c, op, COW__HCS_STOP, run_terminate, after_stop, NULL);
}

static void after_json(struct cow__hcs1_work *w)
{
  if (w->hr >= 0 && (w->payload == NULL || *w->payload == '\0')) {
    cow_error_t err = COW_ERROR_INIT;
    cow__hcs_error_bad_reply(&err, w->hr, cow_op_name(w->op), cow_container_id(w->owner),
                             "empty properties document");
    cow_op_complete(w->op, err.code, &err);
    cow_error_clear(&err);
    return;
  }
  if (w->hr >= 0 && cow_op_set_json(w->op, w->payload) != 0) {
    cow_op_complete(w->op, COW_ENOMEM, NULL);
    return;
  }
  cow__hcs1_complete(w, cow_container_id(w->owner));
}

static int v1_properties(cow_container_t *c, const char *query_json, cow_op_t *op)
{
  return queue(c, op, COW__HCS_QUERY, run_properties, after_json, query_json ? query_json : "{}");
}

static void after_process_list(struct cow__hcs1_work *w)
{
  if (w->hr < 0)
    cow__hcs1_complete(w, cow_container_id(w->owner));
  else
    cow__hcs_finish_process_list(w->op, w->payload, cow_container_id(w->owner));
}

static void after_statistics(struct cow__hcs1_work *w)
{
  if (w->hr < 0)
    cow__hcs1_complete(w, cow_container_id(w->owner));
  else
    cow__hcs_finish_statistics(w->op, w->payload, cow_container_id(w->owner));
}

static int v1_process_list(cow_container_t *c, cow_op_t *op)
{
  return queue(c, op, COW__HCS_QUERY, run_properties, after_process_list,
               COW__HCS_QUERY_PROCESS_LIST);
}

static int v1_statistics(cow_container_t *c, cow_op_t *op)
{
  return queue(c, op, COW__HCS_QUERY, run_properties, after_statistics, COW__HCS_QUERY_STATISTICS);
}

static void run_modify(struct cow__hcs1_work *w)
{
  PWSTR result = NULL;
  w->hr = w->api->HcsModifyComputeSystem(w->sys, w->warg, &result);
  take_result(w, result);
}

static int v1_modify(cow_container_t *c, const char *request_json, cow_op_t *op)
{
  return queue(c, op, COW__HCS_QUERY, run_modify, after_simple, request_json);
}

/* ---- notifications ---- */

static void latch_fire(cow_container_t *c, struct cow__hcs1_latch *l, HRESULT hr, int is_create)
{
  l->fired = 1;
  l->hr = hr;
  cow_op_t *op = l->op;
  if (op == NULL)
    return;
  l->op = NULL;
  if (is_create) {
    if (hr < 0)
      create_failed(c, op, 0, hr, NULL, NULL);
    else
      created(c, op);
    return;
  }
  if (hr < 0)
    fail_op(op, 0, hr, cow_container_id(c), NULL, NULL);
  else
    cow_op_complete(op, 0, NULL);
}

/* The system went away while a create, start, pause or resume was pending (hcsshim
 * ErrUnexpectedContainerExit / ErrUnexpectedProcessAbort). */
static void latches_abort(cow_container_t *c, HRESULT hr, const char *why)
{
  struct cow__hcs1_system *s = sys_of(c);
  if (s->create.op != NULL) {
    cow_op_t *op = s->create.op;
    s->create.op = NULL;
    create_failed(c, op, 0, hr, NULL, why);
  }
  struct cow__hcs1_latch *ls[3] = {&s->start, &s->pause, &s->resume};
  for (int i = 0; i < 3; i++)
    if (ls[i]->op != NULL) {
      cow_op_t *op = ls[i]->op;
      ls[i]->op = NULL;
      fail_op(op, COW_EHCS, hr, cow_container_id(c), NULL, why);
    }
}

void cow__hcs1_system_notify(cow_container_t *c, uint32_t type, HRESULT status, const char *doc)
{
  struct cow__hcs1_system *s = sys_of(c);
  /* After close no waiter is left, and a handle whose last reference is gone must not
   * start threadpool work (create's continuation would). */
  if (cow_container_is_closing(c))
    return;
  switch (type) {
  case HcsNotificationSystemCreateCompleted:
    latch_fire(c, &s->create, status, 1);
    break;
  case HcsNotificationSystemStartCompleted:
    latch_fire(c, &s->start, status, 0);
    break;
  case HcsNotificationSystemPauseCompleted:
    latch_fire(c, &s->pause, status, 0);
    break;
  case HcsNotificationSystemResumeCompleted:
    latch_fire(c, &s->resume, status, 0);
    break;
  case HcsNotificationSystemExited:
    latches_abort(c, COW__HR_V1_UNEXPECTED_EXIT, "the compute system exited");
    /* hcsshim v1: 0xC0370106 is the unexpected exit; any other failure is an error too. */
    cow__hcs_sys_report_exit(c, &s->st, status < 0 ? status : 0, doc);
    break;
  case COW__HCS_V1_NOTIFY_SERVICE_DISCONNECT:
    latches_abort(c, COW__HR_SERVICE_DISCONNECT, "lost communication with the compute service");
    cow__hcs_sys_report_disconnect(c, &s->st);
    break;
  default:
    break;
  }
}

static void v1_timeout(cow_container_t *c, cow_op_t *op)
{
  const char *name = cow_op_name(op);
  if (name != NULL &&
      (strcmp(name, "create") == 0 || strcmp(name, "open") == 0 || strcmp(name, "start") == 0))
    terminate_quietly(c); /* hcsshim: a create that timed out is terminated */
}

static void v1_close(cow_container_t *c)
{
  struct cow__hcs1_system *s = sys_of(c);
  if (s->cbh != NULL) {
    /* Waits for a notification in flight; none is delivered afterwards. */
    s->api->HcsUnregisterComputeSystemCallback(s->cbh);
    s->cbh = NULL;
  }
  struct cow__hcs1_latch *ls[4] = {&s->create, &s->start, &s->pause, &s->resume};
  for (int i = 0; i < 4; i++)
    if (ls[i]->op != NULL) {
      cow_op_t *op = ls[i]->op;
      ls[i]->op = NULL;
      cow_op_complete(op, COW_ECANCELED, NULL);
    }
  s->st.state = COW__HCS_SYS_CLOSED;
  cow__hcs1_system_idle(c);
}

void cow__hcs1_system_idle(cow_container_t *c)
{
  struct cow__hcs1_system *s = sys_of(c);
  /* Closed and no threadpool call uses the handle any more: close it now (hcsshim Close),
   * which is also what terminates a TerminateOnLastHandleClosed system. */
  if (cow_container_is_closing(c) && s->works == 0 && s->h != NULL) {
    s->api->HcsCloseComputeSystem(s->h);
    s->h = NULL;
  }
}

static void v1_fini(cow_container_t *c)
{
  struct cow__hcs1_system *s = sys_of(c);
  /* The last reference: no threadpool call holds the handle any more. */
  if (s->cbh != NULL)
    s->api->HcsUnregisterComputeSystemCallback(s->cbh);
  if (s->h != NULL)
    s->api->HcsCloseComputeSystem(s->h);
  s->h = NULL;
  s->cbh = NULL;
}

static const char *v1_os(const cow_host_t *h)
{
  return sys_of(cow_host_container((cow_host_t *)h))->st.os;
}

static const struct cow_host_ops v1_host_ops = {
    .version = COW_HOST_OPS_VERSION,
    .name = "hcs1",
    .process_ops = &cow__hcs1_process_ops,
    .create_process = cow__hcs1_create_process,
    .os = v1_os,
    .open_process = cow__hcs1_open_process,
};

static const struct cow_container_ops v1_container_ops = {
    .version = COW_CONTAINER_OPS_VERSION,
    .name = "hcs1",
    .priv_size = sizeof(struct cow__hcs1_system),
    .close = v1_close,
    .fini = v1_fini,
    .timeout = v1_timeout,
    .host_ops = &v1_host_ops,
    .start = v1_start,
    .shutdown = v1_shutdown,
    .terminate = v1_terminate,
    .properties = v1_properties,
    .properties_v2 = v1_properties,
    .modify = v1_modify,
    .pause = v1_pause,
    .resume = v1_resume,
    .process_list = v1_process_list,
    .statistics = v1_statistics,
};

int cow__hcs1_system_new(struct uv_loop_s *loop, const struct cow__vmcompute_api *api,
                         const char *id, const char *config, uint64_t timeout_ms,
                         cow_container_t **out, cow_container_cb cb, void *data)
{
  uint16_t *wid = NULL;
  int rc = cow__utf16_from_utf8(id, &wid);
  if (rc == 0 && config != NULL) {
    uint16_t *check = NULL; /* invalid UTF-8 is refused at the call, not in the pool */
    rc = cow__utf16_from_utf8(config, &check);
    cow__free(check);
  }
  cow_container_t *c = NULL;
  if (rc == 0)
    rc = cow_container_new(&c, loop, &v1_container_ops, id);
  if (rc != 0) {
    cow__free(wid);
    return rc;
  }
  struct cow__hcs1_system *s = sys_of(c);
  s->api = api;
  s->loop = loop;
  s->st.state = COW__HCS_SYS_CREATING;
  s->st.os = "unknown";
  cow_container_set_timeout(c, COW_TIMEOUT_CREATE, timeout_ms);
  cow_op_t *op;
  rc = cow_container_op_new(&op, c, config ? "create" : "open", COW_TIMEOUT_CREATE, cb, data);
  struct cow__hcs1_work *w =
      rc == 0 ? cow__hcs1_work_new(c, COW__HCS_CTX_SYSTEM, op, api, run_create, after_create)
              : NULL;
  if (w != NULL) {
    w->warg = wid;
    wid = NULL;
    w->ctx = cow__hcs_ctx(cow_container_event_id(c), COW__HCS_CTX_SYSTEM);
    w->payload = config ? cow__strdup(config) : NULL;
    if (config != NULL && w->payload == NULL) {
      cow__free(w->warg);
      cow__free(w);
      w = NULL;
    }
  }
  cow__free(wid);
  if (rc != 0) {
    cow_container_close(c, NULL, NULL);
    return rc;
  }
  if (w == NULL || (rc = cow__hcs1_work_queue(w)) != 0)
    create_failed(c, op, w == NULL ? COW_ENOMEM : rc, 0, NULL, NULL);
  *out = c;
  return 0;
}

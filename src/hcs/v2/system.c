/* HCS v2 compute systems as cow_container_t (hcsshim internal/hcs/v2 System). */
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/log.h"
#include "hcs/common/hcs-error.h"
#include "hcs/common/props.h"
#include "hcs/common/utf16.h"
#include "hcs/v2/v2.h"

static struct cow__hcs2_system *sys_of(cow_container_t *c)
{
  return cow_container_priv(c);
}

static int complete_hr(cow_op_t *op, HRESULT hr, const char *id, const char *doc)
{
  cow_error_t err = COW_ERROR_INIT;
  int code = cow__hcs_error(&err, hr, cow_op_name(op), id, doc);
  cow_op_complete(op, code, &err);
  cow_error_clear(&err);
  return code;
}

/* ---- terminate without waiting (also used by failed creates and timeouts) ---- */

static HRESULT issue_terminate(const struct cow__computecore_api *api, void *arg, HCS_OPERATION op)
{
  return api->HcsTerminateComputeSystem(arg, op, NULL);
}

static HRESULT issue_shutdown(const struct cow__computecore_api *api, void *arg, HCS_OPERATION op)
{
  return api->HcsShutDownComputeSystem(arg, op, NULL);
}

static void terminate_quietly(struct cow__hcs2_system *s)
{
  char *doc = NULL;
  HRESULT hr = cow__hcs2_submit(s->base.api, issue_terminate, s->h, &doc);
  if (hr < 0 && !cow__hcs_stop_tolerated(hr))
    cow__log(COW_LOG_WARN, "hcs2", "terminate after a failed create: HRESULT 0x%08X", (unsigned)hr);
  cow__free(doc);
}

/* ---- create / open ---- */

/* Creation failed (or was given up): hcsshim terminates and closes what exists, and the
 * container's waiters are released with the reason. */
static void create_failed(cow_container_t *c, cow_op_t *op, HRESULT hr, const char *doc, int code)
{
  struct cow__hcs2_system *s = sys_of(c);
  cow_error_t err = COW_ERROR_INIT;
  if (hr < 0)
    cow__hcs_error(&err, hr, cow_op_name(op), cow_container_id(c), doc);
  else
    cow__error_set(&err, code, COW_DOMAIN_LIB, 0, cow_op_name(op), cow_container_id(c), NULL);
  if (s->h != NULL) {
    terminate_quietly(s);
    s->base.api->HcsCloseComputeSystem(s->h);
    s->h = NULL;
  }
  s->st.state = COW__HCS_SYS_FAILED;
  cow_container_report_exit(c, &err);
  s->st.exit_seen = 1;
  cow_op_complete(op, err.code, &err);
  cow_error_clear(&err);
}

static void cached_properties_done(struct cow__hcs2_call *call, HRESULT hr, const char *doc)
{
  cow_container_t *c = call->owner;
  struct cow__hcs2_system *s = sys_of(c);
  if (hr < 0) {
    create_failed(c, call->cop, hr, doc, 0);
    return;
  }
  if (cow__hcs_sys_cache_properties(&s->st, doc) != 0) {
    create_failed(c, call->cop, 0, NULL, COW_EPROTOCOL); /* not a properties document */
    return;
  }
  s->st.state = COW__HCS_SYS_READY;
  if (cow_op_abandoned(call->cop)) {
    /* The consumer was told it timed out: a system nobody asked for must not keep running
     * (hcsshim terminates on a create timeout). */
    terminate_quietly(s);
  }
  cow_op_complete(call->cop, 0, NULL);
}

/* Register for events, then read the basic properties (hcsshim getCachedProperties). */
static void after_created(cow_container_t *c, cow_op_t *op)
{
  struct cow__hcs2_system *s = sys_of(c);
  const struct cow__computecore_api *api = s->base.api;
  HRESULT hr = api->HcsSetComputeSystemCallback(
      s->h, HcsEventOptionNone, cow__hcs_ctx(cow_container_event_id(c), COW__HCS_CTX_SYSTEM),
      cow__hcs2_event_cb);
  if (hr < 0) {
    create_failed(c, op, hr, NULL, 0);
    return;
  }
  struct cow__hcs2_call *call =
      cow__hcs2_call_new(c, COW__HCS_CTX_SYSTEM, op, cached_properties_done);
  if (call == NULL) {
    create_failed(c, op, 0, NULL, COW_ENOMEM);
    return;
  }
  static const uint16_t empty_query[] = {'{', '}', 0};
  cow__hcs2_call_issued(call, api->HcsGetComputeSystemProperties(s->h, call->op, empty_query));
}

static void create_done(struct cow__hcs2_call *call, HRESULT hr, const char *doc)
{
  if (hr < 0)
    create_failed(call->owner, call->cop, hr, doc, 0);
  else
    after_created(call->owner, call->cop);
}

/* ---- consumer calls ---- */

static void simple_done(struct cow__hcs2_call *call, HRESULT hr, const char *doc)
{
  cow_container_t *c = call->owner;
  if (hr < 0)
    complete_hr(call->cop, hr, cow_container_id(c), doc);
  else
    cow_op_complete(call->cop, 0, NULL);
}

static int v2_start(cow_container_t *c, cow_op_t *op)
{
  struct cow__hcs2_system *s = sys_of(c);
  int rc = cow__hcs_sys_check(&s->st, COW__HCS_START);
  if (rc != 0)
    return rc;
  struct cow__hcs2_call *call = cow__hcs2_call_new(c, COW__HCS_CTX_SYSTEM, op, simple_done);
  if (call == NULL)
    return COW_ENOMEM;
  cow__hcs2_call_issued(call, s->base.api->HcsStartComputeSystem(s->h, call->op, NULL));
  return 0;
}

/* Pause and resume wait for their operation (hcsshim runOperation): HCS completes it once
 * the system is paused or running again. A state the service refuses (already paused, not
 * running) comes back as the operation's HRESULT. */
static int pause_resume(cow_container_t *c, cow_op_t *op,
                        HRESULT(WINAPI *issue)(HCS_SYSTEM, HCS_OPERATION, PCWSTR))
{
  struct cow__hcs2_system *s = sys_of(c);
  int rc = cow__hcs_sys_check(&s->st, COW__HCS_PAUSE);
  if (rc != 0)
    return rc;
  struct cow__hcs2_call *call = cow__hcs2_call_new(c, COW__HCS_CTX_SYSTEM, op, simple_done);
  if (call == NULL)
    return COW_ENOMEM;
  cow__hcs2_call_issued(call, issue(s->h, call->op, NULL));
  return 0;
}

static int v2_pause(cow_container_t *c, cow_op_t *op)
{
  return pause_resume(c, op, sys_of(c)->base.api->HcsPauseComputeSystem);
}

static int v2_resume(cow_container_t *c, cow_op_t *op)
{
  return pause_resume(c, op, sys_of(c)->base.api->HcsResumeComputeSystem);
}

/* Shutdown and terminate do not wait (hcsshim submitOperation): the exit is observed
 * through SystemExited. Already stopped / not found / pending count as success (R19). */
static int stop(cow_container_t *c, cow_op_t *op,
                HRESULT (*issue)(const struct cow__computecore_api *, void *, HCS_OPERATION))
{
  struct cow__hcs2_system *s = sys_of(c);
  int rc = cow__hcs_sys_check(&s->st, COW__HCS_STOP);
  if (rc != 0)
    return rc;
  if (s->h == NULL) {
    cow_op_complete(op, 0, NULL); /* creation failed: nothing runs */
    return 0;
  }
  char *doc = NULL;
  HRESULT hr = cow__hcs2_submit(s->base.api, issue, s->h, &doc);
  if (hr < 0 && !cow__hcs_stop_tolerated(hr))
    complete_hr(op, hr, cow_container_id(c), doc);
  else
    cow_op_complete(op, 0, NULL);
  cow__free(doc);
  return 0;
}

static int v2_shutdown(cow_container_t *c, cow_op_t *op)
{
  return stop(c, op, issue_shutdown);
}

static int v2_terminate(cow_container_t *c, cow_op_t *op)
{
  return stop(c, op, issue_terminate);
}

static void json_done(struct cow__hcs2_call *call, HRESULT hr, const char *doc)
{
  cow_container_t *c = call->owner;
  if (hr < 0) {
    complete_hr(call->cop, hr, cow_container_id(c), doc);
    return;
  }
  if (doc == NULL || *doc == '\0') {
    /* hcsshim: success with an empty payload is ErrUnexpectedValue. */
    cow_error_t err = COW_ERROR_INIT;
    cow__hcs_error_bad_reply(&err, hr, cow_op_name(call->cop), cow_container_id(c),
                             "empty properties document");
    cow_op_complete(call->cop, err.code, &err);
    cow_error_clear(&err);
    return;
  }
  int rc = cow_op_set_json(call->cop, doc);
  cow_op_complete(call->cop, rc, NULL);
}

static void process_list_done(struct cow__hcs2_call *call, HRESULT hr, const char *doc)
{
  if (hr < 0)
    complete_hr(call->cop, hr, cow_container_id(call->owner), doc);
  else
    cow__hcs_finish_process_list(call->cop, doc, cow_container_id(call->owner));
}

static void statistics_done(struct cow__hcs2_call *call, HRESULT hr, const char *doc)
{
  if (hr < 0)
    complete_hr(call->cop, hr, cow_container_id(call->owner), doc);
  else
    cow__hcs_finish_statistics(call->cop, doc, cow_container_id(call->owner));
}

/* HcsGetComputeSystemProperties with `query_json`, answered through `done`. */
static int query_with(cow_container_t *c, const char *query_json, cow_op_t *op,
                      void (*done)(struct cow__hcs2_call *, HRESULT, const char *))
{
  struct cow__hcs2_system *s = sys_of(c);
  int rc = cow__hcs_sys_check(&s->st, COW__HCS_QUERY);
  if (rc != 0)
    return rc;
  uint16_t *wq = NULL;
  if ((rc = cow__utf16_from_utf8(query_json ? query_json : "{}", &wq)) != 0)
    return rc;
  struct cow__hcs2_call *call = cow__hcs2_call_new(c, COW__HCS_CTX_SYSTEM, op, done);
  if (call == NULL) {
    cow__free(wq);
    return COW_ENOMEM;
  }
  cow__hcs2_call_issued(call, s->base.api->HcsGetComputeSystemProperties(s->h, call->op, wq));
  cow__free(wq);
  return 0;
}

static int query(cow_container_t *c, const char *query_json, cow_op_t *op)
{
  return query_with(c, query_json, op, json_done);
}

static int v2_process_list(cow_container_t *c, cow_op_t *op)
{
  return query_with(c, COW__HCS_QUERY_PROCESS_LIST, op, process_list_done);
}

static int v2_statistics(cow_container_t *c, cow_op_t *op)
{
  return query_with(c, COW__HCS_QUERY_STATISTICS, op, statistics_done);
}

static int v2_modify(cow_container_t *c, const char *request_json, cow_op_t *op)
{
  struct cow__hcs2_system *s = sys_of(c);
  int rc = cow__hcs_sys_check(&s->st, COW__HCS_QUERY);
  if (rc != 0)
    return rc;
  uint16_t *wr = NULL;
  if ((rc = cow__utf16_from_utf8(request_json, &wr)) != 0)
    return rc;
  struct cow__hcs2_call *call = cow__hcs2_call_new(c, COW__HCS_CTX_SYSTEM, op, simple_done);
  if (call == NULL) {
    cow__free(wr);
    return COW_ENOMEM;
  }
  cow__hcs2_call_issued(call, s->base.api->HcsModifyComputeSystem(s->h, call->op, wr, NULL));
  cow__free(wr);
  return 0;
}

void cow__hcs2_system_event(cow_container_t *c, uint32_t type, const char *doc)
{
  struct cow__hcs2_system *s = sys_of(c);
  if (type == (uint32_t)HcsEventSystemExited)
    cow__hcs_sys_report_exit(c, &s->st, cow__hcs_exit_status_error(doc), doc);
  else if (type == COW__HCS_V2_EVENT_SERVICE_DISCONNECT)
    cow__hcs_sys_report_disconnect(c, &s->st);
}

static void v2_timeout(cow_container_t *c, cow_op_t *op)
{
  struct cow__hcs2_system *s = sys_of(c);
  const char *name = cow_op_name(op);
  /* A create or start that overran its bound leaves a system nobody is waiting for:
   * terminate it (hcsshim does on a create timeout). The call in flight still completes. */
  if (s->h != NULL && name != NULL &&
      (strcmp(name, "create") == 0 || strcmp(name, "open") == 0 || strcmp(name, "start") == 0))
    terminate_quietly(s);
}

static void v2_close(cow_container_t *c)
{
  struct cow__hcs2_system *s = sys_of(c);
  cow__hcs2_calls_cancel(&s->base);
  if (s->h != NULL) {
    /* Unregisters the event callback and waits for one in flight: none runs after this. */
    s->base.api->HcsCloseComputeSystem(s->h);
    s->h = NULL;
  }
  s->st.state = COW__HCS_SYS_CLOSED;
}

static const char *v2_os(const cow_host_t *h)
{
  cow_container_t *c = cow_host_container((cow_host_t *)h);
  return sys_of(c)->st.os;
}

static const struct cow_host_ops v2_host_ops = {
    .version = COW_HOST_OPS_VERSION,
    .name = "hcs2",
    .process_ops = &cow__hcs2_process_ops,
    .create_process = cow__hcs2_create_process,
    .os = v2_os,
    .open_process = cow__hcs2_open_process,
};

static const struct cow_container_ops v2_container_ops = {
    .version = COW_CONTAINER_OPS_VERSION,
    .name = "hcs2",
    .priv_size = sizeof(struct cow__hcs2_system),
    .close = v2_close,
    .timeout = v2_timeout,
    .host_ops = &v2_host_ops,
    .start = v2_start,
    .shutdown = v2_shutdown,
    .terminate = v2_terminate,
    .properties = query,
    .properties_v2 = query,
    .modify = v2_modify,
    .pause = v2_pause,
    .resume = v2_resume,
    .process_list = v2_process_list,
    .statistics = v2_statistics,
};

int cow__hcs2_system_new(struct uv_loop_s *loop, const struct cow__computecore_api *api,
                         const char *id, const char *config, uint64_t timeout_ms,
                         cow_container_t **out, cow_container_cb cb, void *data)
{
  uint16_t *wid = NULL, *wcfg = NULL;
  int rc = cow__utf16_from_utf8(id, &wid);
  if (rc == 0 && config != NULL)
    rc = cow__utf16_from_utf8(config, &wcfg);
  cow_container_t *c = NULL;
  if (rc == 0)
    rc = cow_container_new(&c, loop, &v2_container_ops, id);
  if (rc != 0) {
    cow__free(wid);
    cow__free(wcfg);
    return rc;
  }
  struct cow__hcs2_system *s = sys_of(c);
  s->base.api = api;
  cow__list_init(&s->base.calls);
  s->st.state = COW__HCS_SYS_CREATING;
  s->st.os = "unknown";
  cow_container_set_timeout(c, COW_TIMEOUT_CREATE, timeout_ms);
  cow_op_t *op;
  rc = cow_container_op_new(&op, c, config ? "create" : "open", COW_TIMEOUT_CREATE, cb, data);
  if (rc != 0) {
    cow_container_close(c, NULL, NULL);
    cow__free(wid);
    cow__free(wcfg);
    return rc;
  }
  if (config != NULL) {
    struct cow__hcs2_call *call = cow__hcs2_call_new(c, COW__HCS_CTX_SYSTEM, op, create_done);
    if (call == NULL)
      create_failed(c, op, 0, NULL, COW_ENOMEM);
    else
      cow__hcs2_call_issued(call, api->HcsCreateComputeSystem(wid, wcfg, call->op, NULL, &s->h));
  } else {
    HRESULT hr = api->HcsOpenComputeSystem(wid, GENERIC_ALL, &s->h);
    if (hr < 0) {
      s->h = NULL;
      create_failed(c, op, hr, NULL, 0);
    } else {
      after_created(c, op);
    }
  }
  cow__free(wid);
  cow__free(wcfg);
  *out = c;
  return 0;
}

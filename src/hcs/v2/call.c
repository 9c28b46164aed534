/* HCS_OPERATION calls and event callbacks, marshalled to the loop; see v2.h.
 *
 * Why the loop re-reads the result instead of trusting the callback: the callback only
 * names an operation value. A value can be reused by the DLL after close, so a late post
 * for an old operation may name a new one: the lookup in the handle's list and the
 * "still pending" answer of HcsGetOperationResult make such a post harmless. */
#include <string.h>

#include "core/alloc.h"
#include "core/log.h"
#include "hcs/common/hcs-error.h"
#include "hcs/common/utf16.h"
#include "hcs/v2/v2.h"

static struct cow__hcs2_base *base_of(void *owner, unsigned kind)
{
  return kind == COW__HCS_CTX_SYSTEM ? cow_container_priv(owner) : cow_process_priv(owner);
}

static void owner_ref(void *owner, unsigned kind)
{
  if (kind == COW__HCS_CTX_SYSTEM)
    cow_container_ref(owner);
  else
    cow_process_ref(owner);
}

static void owner_unref(void *owner, unsigned kind)
{
  if (kind == COW__HCS_CTX_SYSTEM)
    cow_container_unref(owner);
  else
    cow_process_unref(owner);
}

static uint64_t owner_id(void *owner, unsigned kind)
{
  return kind == COW__HCS_CTX_SYSTEM ? cow_container_event_id(owner) : cow_process_event_id(owner);
}

/* ---- DLL threads ---- */

static void on_op_posted_system(void *object, void *payload);
static void on_op_posted_process(void *object, void *payload);

static void CALLBACK op_completed(HCS_OPERATION op, void *context)
{
  /* Runs on a DLL thread: post the operation's value (not a pointer of ours) to the handle
   * named by the context. A handle already gone (ENOENT) has nothing left to do. */
  cow_event_post(cow__hcs_ctx_id(context),
                 cow__hcs_ctx_kind(context) == COW__HCS_CTX_SYSTEM ? on_op_posted_system
                                                                   : on_op_posted_process,
                 (void *)op);
}

struct posted_event {
  unsigned kind;
  uint32_t type;
  char *doc;
};

static void on_event_posted(void *object, void *payload)
{
  struct posted_event *ev = payload;
  if (object != NULL) {
    if (ev->kind == COW__HCS_CTX_SYSTEM)
      cow__hcs2_system_event(object, ev->type, ev->doc);
    else
      cow__hcs2_process_event(object, ev->type, ev->doc);
  }
  cow__free(ev->doc);
  cow__free(ev);
}

void CALLBACK cow__hcs2_event_cb(HCS_EVENT *event, void *context)
{
  if (event == NULL)
    return;
  uint32_t type = (uint32_t)event->Type;
  /* Only what the backends act on (hcsshim subscribes to the same set). */
  if (type != (uint32_t)HcsEventSystemExited && type != (uint32_t)HcsEventProcessExited &&
      type != COW__HCS_V2_EVENT_SERVICE_DISCONNECT)
    return;
  struct posted_event *ev = cow__calloc(1, sizeof *ev);
  if (ev == NULL) {
    cow__log(COW_LOG_ERROR, "hcs2", "out of memory: event 0x%x dropped", (unsigned)type);
    return;
  }
  ev->kind = cow__hcs_ctx_kind(context);
  ev->type = type;
  if (event->EventData != NULL && cow__utf8_from_utf16(event->EventData, &ev->doc) != 0)
    ev->doc = NULL; /* EventData is valid only during the callback: copied or dropped */
  if (cow_event_post(cow__hcs_ctx_id(context), on_event_posted, ev) != 0) {
    cow__free(ev->doc);
    cow__free(ev);
  }
}

/* ---- loop thread ---- */

static void call_free(struct cow__hcs2_call *call, const struct cow__computecore_api *api)
{
  if (call->op != NULL)
    api->HcsCloseOperation(call->op);
  if (call->tmp_proc != NULL)
    api->HcsCloseProcess(call->tmp_proc);
  if (call->tmp_sys != NULL)
    api->HcsCloseComputeSystem(call->tmp_sys);
  cow__free(call);
}

struct cow__hcs2_call *cow__hcs2_call_new(void *owner, unsigned kind, cow_op_t *cop,
                                          cow__hcs2_done_fn done)
{
  struct cow__hcs2_base *base = base_of(owner, kind);
  struct cow__hcs2_call *call = cow__calloc(1, sizeof *call);
  if (call == NULL)
    return NULL;
  call->op = base->api->HcsCreateOperation(cow__hcs_ctx(owner_id(owner, kind), kind), op_completed);
  if (call->op == NULL) {
    cow__free(call);
    return NULL;
  }
  cow__list_init(&call->link);
  call->owner = owner;
  call->kind = kind;
  call->cop = cop;
  call->done = done;
  return call;
}

/* Read the operation's outcome (never blocks). */
static HRESULT read_result(const struct cow__computecore_api *api, struct cow__hcs2_call *call,
                           char **doc)
{
  PWSTR w = NULL;
  HRESULT hr;
  if (call->with_pi)
    hr = api->HcsGetOperationResultAndProcessInfo(call->op, &call->pi, &w);
  else
    hr = api->HcsGetOperationResult(call->op, &w);
  *doc = cow__hcs_take_string(api->free_string, w);
  return hr;
}

void cow__hcs2_call_issued(struct cow__hcs2_call *call, HRESULT hr)
{
  struct cow__hcs2_base *base = base_of(call->owner, call->kind);
  if (hr >= 0) {
    owner_ref(call->owner, call->kind); /* the handle stays until the completion is read */
    cow__list_insert_tail(&base->calls, &call->link);
    return;
  }
  /* Refused at the call: the operation may still hold a ResultError (hcsshim
   * runOperation reads it); the DLL call's own HRESULT is the one reported. */
  char *doc = NULL;
  PWSTR w = NULL;
  base->api->HcsGetOperationResult(call->op, &w);
  doc = cow__hcs_take_string(base->api->free_string, w);
  memset(&call->pi, 0, sizeof call->pi);
  call->done(call, hr, doc);
  cow__free(doc);
  call_free(call, base->api);
}

static void on_op_posted(void *object, unsigned kind, HCS_OPERATION op)
{
  if (object == NULL)
    return; /* the handle is gone; its operations were closed with it */
  struct cow__hcs2_base *base = base_of(object, kind);
  struct cow__hcs2_call *call = NULL;
  for (cow__list *n = base->calls.next; n != &base->calls; n = n->next) {
    struct cow__hcs2_call *c = cow__container_of(n, struct cow__hcs2_call, link);
    if (c->op == op) {
      call = c;
      break;
    }
  }
  if (call == NULL)
    return; /* canceled at close, or a stale post for a reused value */
  char *doc = NULL;
  HRESULT hr = read_result(base->api, call, &doc);
  if ((uint32_t)hr == 0x80370117u || (uint32_t)hr == 0x80370115u) {
    cow__free(doc); /* not this operation's completion (see the top of the file) */
    return;
  }
  cow__list_remove(&call->link);
  call->done(call, hr, doc);
  cow__free(doc);
  call_free(call, base->api);
  owner_unref(object, kind);
}

static void on_op_posted_system(void *object, void *payload)
{
  on_op_posted(object, COW__HCS_CTX_SYSTEM, payload);
}

static void on_op_posted_process(void *object, void *payload)
{
  on_op_posted(object, COW__HCS_CTX_PROCESS, payload);
}

void cow__hcs2_calls_cancel(struct cow__hcs2_base *base)
{
  while (!cow__list_empty(&base->calls)) {
    struct cow__hcs2_call *call = cow__container_of(base->calls.next, struct cow__hcs2_call, link);
    cow__list_remove(&call->link);
    void *owner = call->owner;
    unsigned kind = call->kind;
    cow_op_t *cop = call->cop;
    /* Closing an operation in flight is safe by the v2 contract: HCS finishes the work and
     * drops the result (hcsshim submitOperation). Nothing posted for it can match now. */
    call_free(call, base->api);
    if (cop != NULL)
      cow_op_complete(cop, COW_ECANCELED, NULL);
    owner_unref(owner, kind);
  }
}

HRESULT cow__hcs2_submit(const struct cow__computecore_api *api,
                         HRESULT (*issue)(const struct cow__computecore_api *api, void *arg,
                                          HCS_OPERATION op),
                         void *arg, char **doc)
{
  *doc = NULL;
  HCS_OPERATION op = api->HcsCreateOperation(NULL, NULL);
  if (op == NULL)
    return COW__HR_E_OUTOFMEMORY;
  HRESULT hr = issue(api, arg, op);
  if (hr < 0) {
    PWSTR w = NULL;
    api->HcsGetOperationResult(op, &w);
    *doc = cow__hcs_take_string(api->free_string, w);
  }
  api->HcsCloseOperation(op);
  return hr;
}

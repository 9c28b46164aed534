/* The computecore.dll (HCS v2) table of the emulator: HCS_OPERATION based calls that
 * return S_OK once accepted and complete later on the dispatcher (docs/hcs-api.md §3, §6.2). */
#include <errno.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/alloc.h"
#include "cow/error.h"
#include "core/log.h"
#include "hcs/emu/emu-internal.h"

#define LOCK()   pthread_mutex_lock(&cow__emu_lock)
#define UNLOCK() pthread_mutex_unlock(&cow__emu_lock)

/* Common checks at the start of a call on an existing handle: the service must be up. */
#define V2_CHECK_SERVICE(e, name)                                                                  \
  do {                                                                                             \
    if ((e) != NULL && cow__emu_fault_disconnect(EMU_V2, (name)))                                  \
      cow__emu_disconnect(e);                                                                      \
    if ((e) != NULL && (e)->disconnected) {                                                        \
      UNLOCK();                                                                                    \
      return COW__HR_SERVICE_DISCONNECT;                                                           \
    }                                                                                              \
  } while (0)

static void WINAPI v2_free_string(PWSTR s)
{
  cow__emu_free_wstr(EMU_V2, s);
}

/* ---- operations ---- */

static HCS_OPERATION WINAPI emu_HcsCreateOperation(const void *context,
                                                   HCS_OPERATION_COMPLETION callback)
{
  LOCK();
  struct emu *e = cow__emu_get_locked();
  struct emu_handle *h = e ? cow__emu_handle_new(e, EMU_H_OPERATION, EMU_V2) : NULL;
  struct emu_op *op = h ? cow__calloc(1, sizeof(*op)) : NULL;
  if (op == NULL) {
    if (h != NULL)
      cow__emu_handle_close(e, h);
    else
      cow__emu_idle_check(e);
    UNLOCK();
    return NULL; /* documented: NULL when it cannot allocate */
  }
  op->cb = callback;
  op->ctx = (void *)(uintptr_t)context; /* opaque, never dereferenced */
  op->state = EMU_OP_NOT_STARTED;
  op->type = HcsOperationTypeNone;
  op->id = e->next_op_id++;
  op->pi_fd[0] = op->pi_fd[1] = op->pi_fd[2] = -1;
  h->op = op;
  uintptr_t v = h->value;
  UNLOCK();
  return (HCS_OPERATION)v;
}

static struct emu_handle *op_lookup(struct emu *e, HCS_OPERATION op)
{
  return cow__emu_handle_lookup(e, (uintptr_t)op, EMU_H_OPERATION, EMU_V2);
}

static void WINAPI emu_HcsCloseOperation(HCS_OPERATION operation)
{
  LOCK();
  struct emu *e = cow__emu_current();
  struct emu_handle *h = op_lookup(e, operation);
  if (h == NULL)
    cow__log(COW_LOG_ERROR, EMU_LOG, "HcsCloseOperation: invalid handle %p", (void *)operation);
  else
    cow__emu_handle_close(e, h); /* in flight: the work goes on, the result is dropped */
  UNLOCK();
}

static void *WINAPI emu_HcsGetOperationContext(HCS_OPERATION operation)
{
  LOCK();
  struct emu_handle *h = op_lookup(cow__emu_current(), operation);
  void *ctx = h ? h->op->ctx : NULL;
  UNLOCK();
  return ctx;
}

static HRESULT WINAPI emu_HcsSetOperationContext(HCS_OPERATION operation, const void *context)
{
  LOCK();
  struct emu_handle *h = op_lookup(cow__emu_current(), operation);
  if (h != NULL)
    h->op->ctx = (void *)(uintptr_t)context;
  UNLOCK();
  return h ? COW__HR_S_OK : COW__HR_INVALID_HANDLE;
}

static HRESULT WINAPI emu_HcsSetOperationCallback(HCS_OPERATION operation, const void *context,
                                                  HCS_OPERATION_COMPLETION callback)
{
  LOCK();
  struct emu_handle *h = op_lookup(cow__emu_current(), operation);
  HRESULT hr = COW__HR_INVALID_HANDLE;
  if (h != NULL && h->op->state != EMU_OP_NOT_STARTED) {
    hr = COW__HR_OPERATION_ALREADY_STARTED;
  } else if (h != NULL) {
    h->op->ctx = (void *)(uintptr_t)context;
    h->op->cb = callback;
    hr = COW__HR_S_OK;
  }
  UNLOCK();
  return hr;
}

static HCS_OPERATION_TYPE WINAPI emu_HcsGetOperationType(HCS_OPERATION operation)
{
  LOCK();
  struct emu_handle *h = op_lookup(cow__emu_current(), operation);
  HCS_OPERATION_TYPE t = h ? h->op->type : HcsOperationTypeNone;
  UNLOCK();
  return t;
}

static UINT64 WINAPI emu_HcsGetOperationId(HCS_OPERATION operation)
{
  LOCK();
  struct emu_handle *h = op_lookup(cow__emu_current(), operation);
  UINT64 id = h ? h->op->id : HCS_INVALID_OPERATION_ID;
  UNLOCK();
  return id;
}

static HCS_SYSTEM WINAPI emu_HcsGetComputeSystemFromOperation(HCS_OPERATION operation)
{
  LOCK();
  struct emu_handle *h = op_lookup(cow__emu_current(), operation);
  uintptr_t v = h ? h->op->sys_handle : 0; /* borrowed: do not close */
  UNLOCK();
  return (HCS_SYSTEM)v;
}

static HCS_PROCESS WINAPI emu_HcsGetProcessFromOperation(HCS_OPERATION operation)
{
  LOCK();
  struct emu_handle *h = op_lookup(cow__emu_current(), operation);
  uintptr_t v = h ? h->op->proc_handle : 0; /* borrowed: do not close */
  UNLOCK();
  return (HCS_PROCESS)v;
}

/* Read an operation's outcome. Lock held. */
static HRESULT op_result(struct emu_handle *h, HCS_PROCESS_INFORMATION *pi, PWSTR *doc)
{
  struct emu_op *op = h->op;
  if (op->state == EMU_OP_NOT_STARTED)
    return COW__HR_OPERATION_NOT_STARTED;
  if (op->state == EMU_OP_PENDING)
    return COW__HR_OPERATION_PENDING;
  if (doc != NULL && op->doc != NULL)
    *doc = cow__emu_wstr(EMU_V2, op->doc);
  if (pi != NULL && !EMU_FAILED(op->hr) && op->have_pi)
    cow__emu_fill_pi(pi, op->pid, op->pi_fd, op->pi_invalid); /* handed over once */
  return op->hr;
}

static HRESULT get_result(HCS_OPERATION operation, HCS_PROCESS_INFORMATION *pi, PWSTR *doc)
{
  if (doc != NULL)
    *doc = NULL;
  if (pi != NULL)
    memset(pi, 0, sizeof(*pi));
  LOCK();
  struct emu_handle *h = op_lookup(cow__emu_current(), operation);
  HRESULT hr = COW__HR_INVALID_HANDLE;
  if (h != NULL && pi != NULL && h->op->type != HcsOperationTypeCreateProcess &&
      h->op->type != HcsOperationTypeGetProcessInfo)
    hr = COW__HR_E_INVALIDARG; /* documented for ...AndProcessInfo */
  else if (h != NULL)
    hr = op_result(h, pi, doc);
  UNLOCK();
  return hr;
}

static HRESULT WINAPI emu_HcsGetOperationResult(HCS_OPERATION operation, PWSTR *resultDocument)
{
  return get_result(operation, NULL, resultDocument);
}

static HRESULT WINAPI emu_HcsGetOperationResultAndProcessInfo(HCS_OPERATION operation,
                                                              HCS_PROCESS_INFORMATION *pi,
                                                              PWSTR *resultDocument)
{
  if (pi == NULL)
    return COW__HR_E_POINTER;
  return get_result(operation, pi, resultDocument);
}

static HRESULT wait_result(HCS_OPERATION operation, DWORD timeoutMs, HCS_PROCESS_INFORMATION *pi,
                           PWSTR *doc)
{
  if (doc != NULL)
    *doc = NULL;
  if (pi != NULL)
    memset(pi, 0, sizeof(*pi));
  LOCK();
  struct emu *e = cow__emu_current();
  struct emu_handle *h = op_lookup(e, operation);
  if (h == NULL) {
    UNLOCK();
    return COW__HR_INVALID_HANDLE;
  }
  if (pi != NULL && h->op->type != HcsOperationTypeCreateProcess &&
      h->op->type != HcsOperationTypeGetProcessInfo && h->op->state != EMU_OP_NOT_STARTED) {
    UNLOCK();
    return COW__HR_E_INVALIDARG;
  }
  if (h->op->state == EMU_OP_NOT_STARTED) {
    UNLOCK();
    return COW__HR_OPERATION_NOT_STARTED;
  }
  h->refs++; /* survive a close from another thread while we wait */
  uint64_t deadline = cow__emu_now_ns() + (uint64_t)timeoutMs * 1000000u;
  HRESULT hr = COW__HR_S_OK;
  while (h->op->state != EMU_OP_DONE && !h->closed) {
    if (timeoutMs == INFINITE) {
      pthread_cond_wait(&e->cv_done, &cow__emu_lock);
      continue;
    }
    if (cow__emu_now_ns() >= deadline) {
      hr = COW__HR_OPERATION_TIMEOUT; /* the operation stays alive */
      break;
    }
    struct timespec ts = {(time_t)(deadline / 1000000000u), (long)(deadline % 1000000000u)};
    pthread_cond_timedwait(&e->cv_done, &cow__emu_lock, &ts);
  }
  if (h->closed)
    hr = COW__HR_INVALID_HANDLE;
  else if (hr == COW__HR_S_OK)
    hr = op_result(h, pi, doc);
  cow__emu_handle_unref(e, h);
  UNLOCK();
  return hr;
}

static HRESULT WINAPI emu_HcsWaitForOperationResult(HCS_OPERATION operation, DWORD timeoutMs,
                                                    PWSTR *resultDocument)
{
  return wait_result(operation, timeoutMs, NULL, resultDocument);
}

static HRESULT WINAPI emu_HcsWaitForOperationResultAndProcessInfo(HCS_OPERATION operation,
                                                                  DWORD timeoutMs,
                                                                  HCS_PROCESS_INFORMATION *pi,
                                                                  PWSTR *resultDocument)
{
  if (pi == NULL)
    return COW__HR_E_POINTER;
  return wait_result(operation, timeoutMs, pi, resultDocument);
}

static HRESULT WINAPI emu_HcsCancelOperation(HCS_OPERATION operation)
{
  (void)operation;
  return COW__HR_E_NOTIMPL; /* documented as not implemented */
}

/* Claim an unused operation for a call on `target`. Lock held. */
static HRESULT op_begin(struct emu *e, HCS_OPERATION operation, HCS_OPERATION_TYPE type,
                        struct emu_handle *target, struct emu_handle **out)
{
  struct emu_handle *oh = op_lookup(e, operation);
  *out = NULL;
  if (operation == NULL)
    return COW__HR_E_INVALIDARG;
  if (oh == NULL)
    return COW__HR_INVALID_HANDLE;
  if (oh->op->state != EMU_OP_NOT_STARTED)
    return COW__HR_OPERATION_ALREADY_STARTED;
  if (target != NULL && oh->op->cb != NULL &&
      (target->ev_options & HcsEventOptionEnableOperationCallbacks))
    return COW__HR_OPERATION_SYSTEM_CALLBACK_ALREADY_SET;
  oh->op->state = EMU_OP_PENDING;
  oh->op->type = type;
  if (target != NULL && target->kind == EMU_H_SYSTEM)
    oh->op->sys_handle = target->value;
  if (target != NULL && target->kind == EMU_H_PROCESS) {
    oh->op->proc_handle = target->value;
    oh->op->sys_handle = 0;
  }
  *out = oh;
  return COW__HR_S_OK;
}

/* A call that fails synchronously after claiming its operation: the result document is
 * still readable from the operation (hcsshim runOperation), but no callback fires. */
static HRESULT op_fail_now(struct emu *e, struct emu_handle *oh, HRESULT hr, char *doc)
{
  oh->op->state = EMU_OP_DONE;
  oh->op->hr = hr;
  cow__free(oh->op->doc);
  oh->op->doc = doc;
  pthread_cond_broadcast(&e->cv_done);
  return hr;
}

/* Injected failure for `name`: 1 when the call must return *hr itself. */
static int injected(const char *name, HRESULT *hr)
{
  int reject = 0;
  *hr = COW__HR_S_OK;
  if (cow__emu_fault_fail(EMU_V2, name, hr, &reject))
    return reject;
  return 0;
}

/* ---- compute systems ---- */

static HRESULT WINAPI emu_HcsEnumerateComputeSystems(PCWSTR query, HCS_OPERATION operation)
{
  LOCK();
  struct emu *e = cow__emu_get_locked();
  if (e == NULL) {
    UNLOCK();
    return COW__HR_E_OUTOFMEMORY;
  }
  V2_CHECK_SERVICE(e, "HcsEnumerateComputeSystems");
  struct emu_handle *oh;
  HRESULT inj = COW__HR_S_OK, hr = op_begin(e, operation, HcsOperationTypeEnumerate, NULL, &oh);
  char *q = NULL, *doc = NULL;
  if (!EMU_FAILED(hr) && injected("HcsEnumerateComputeSystems", &inj))
    oh->op->state = EMU_OP_NOT_STARTED, hr = inj;
  if (!EMU_FAILED(hr) && EMU_FAILED(hr = cow__emu_arg_utf8(query, &q)))
    op_fail_now(e, oh, hr, NULL);
  if (!EMU_FAILED(hr)) {
    HRESULT r = EMU_FAILED(inj) ? inj : cow__emu_enumerate(e, q, &doc);
    cow__emu_op_complete(e, oh->value, r, doc, NULL,
                         cow__emu_fault_delay(EMU_V2, "HcsEnumerateComputeSystems"));
  }
  cow__free(q);
  cow__free(doc);
  cow__emu_idle_check(e);
  UNLOCK();
  return hr;
}

static HRESULT WINAPI emu_HcsCreateComputeSystem(PCWSTR id, PCWSTR configuration,
                                                 HCS_OPERATION operation,
                                                 const SECURITY_DESCRIPTOR *sd,
                                                 HCS_SYSTEM *computeSystem)
{
  (void)sd;
  if (computeSystem == NULL)
    return COW__HR_E_POINTER;
  *computeSystem = NULL;
  LOCK();
  struct emu *e = cow__emu_get_locked();
  if (e == NULL) {
    UNLOCK();
    return COW__HR_E_OUTOFMEMORY;
  }
  HRESULT hr = COW__HR_S_OK;
  if (cow__emu_fault_disconnect(EMU_V2, "HcsCreateComputeSystem"))
    cow__emu_disconnect(e);
  struct emu_handle *oh = NULL;
  char *id8 = NULL, *cfg8 = NULL, *doc = NULL;
  if (e->disconnected)
    hr = COW__HR_SERVICE_DISCONNECT;
  else
    hr = op_begin(e, operation, HcsOperationTypeCreate, NULL, &oh);
  HRESULT inj = COW__HR_S_OK;
  /* No handle without a system: "fail" and "reject" both make the call itself fail. */
  if (!EMU_FAILED(hr) && (injected("HcsCreateComputeSystem", &inj) || EMU_FAILED(inj)))
    hr = op_fail_now(e, oh, inj, cow__emu_result_error(inj, "injected failure"));
  if (!EMU_FAILED(hr) && (EMU_FAILED(hr = cow__emu_arg_utf8(id, &id8)) ||
                          EMU_FAILED(hr = cow__emu_arg_utf8(configuration, &cfg8))))
    op_fail_now(e, oh, hr, NULL);
  struct emu_system *s = NULL;
  if (!EMU_FAILED(hr) && EMU_FAILED(hr = cow__emu_system_create(e, EMU_V2, id8, cfg8, &s, &doc))) {
    op_fail_now(e, oh, hr, doc);
    doc = NULL;
  }
  struct emu_handle *h = NULL;
  if (!EMU_FAILED(hr)) {
    h = cow__emu_handle_new(e, EMU_H_SYSTEM, EMU_V2);
    struct emu_event *ev = cow__emu_event_new(EMU_EV_JOB, s);
    if (h == NULL || ev == NULL) {
      cow__free(ev);
      if (h != NULL)
        cow__emu_handle_close(e, h);
      cow__emu_system_discard(e, s); /* the half-made system */
      hr = op_fail_now(e, oh, COW__HR_E_OUTOFMEMORY, NULL);
    } else {
      cow__emu_system_attach(e, s, h);
      oh->op->sys_handle = h->value;
      ev->job = cow__emu_system_job;
      ev->sys = s;
      cow__emu_system_ref(s);
      ev->arg = EMU_VERB_CREATE;
      ev->type = EMU_V2;
      ev->op = oh->value;
      ev->handle = h->value;
      cow__emu_post(e, ev, cow__emu_fault_delay(EMU_V2, "HcsCreateComputeSystem"));
      *computeSystem = (HCS_SYSTEM)h->value;
    }
  }
  if (oh != NULL && oh->op->state == EMU_OP_PENDING && EMU_FAILED(hr))
    oh->op->state = EMU_OP_NOT_STARTED;
  cow__free(id8);
  cow__free(cfg8);
  cow__free(doc);
  cow__emu_idle_check(e);
  UNLOCK();
  return hr;
}

static HRESULT WINAPI emu_HcsOpenComputeSystem(PCWSTR id, DWORD requestedAccess,
                                               HCS_SYSTEM *computeSystem)
{
  (void)requestedAccess;
  if (computeSystem == NULL)
    return COW__HR_E_POINTER;
  *computeSystem = NULL;
  LOCK();
  struct emu *e = cow__emu_get_locked();
  if (e == NULL) {
    UNLOCK();
    return COW__HR_E_OUTOFMEMORY;
  }
  HRESULT hr = COW__HR_S_OK, inj = COW__HR_S_OK;
  char *id8 = NULL;
  if (cow__emu_fault_disconnect(EMU_V2, "HcsOpenComputeSystem"))
    cow__emu_disconnect(e);
  if (e->disconnected)
    hr = COW__HR_SERVICE_DISCONNECT;
  else if (injected("HcsOpenComputeSystem", &inj) || EMU_FAILED(inj))
    hr = inj;
  else if (!EMU_FAILED(hr = cow__emu_arg_utf8(id, &id8)) && id8 == NULL)
    hr = COW__HR_E_INVALIDARG;
  uintptr_t v = 0;
  if (!EMU_FAILED(hr) &&
      !EMU_FAILED(hr = cow__emu_system_open(e, id8, EMU_V2, COW__HR_SYSTEM_NOT_FOUND, &v)))
    *computeSystem = (HCS_SYSTEM)v;
  cow__free(id8);
  cow__emu_idle_check(e);
  UNLOCK();
  return hr;
}

static void WINAPI emu_HcsCloseComputeSystem(HCS_SYSTEM computeSystem)
{
  LOCK();
  struct emu *e = cow__emu_current();
  struct emu_handle *h = cow__emu_handle_lookup(e, (uintptr_t)computeSystem, EMU_H_SYSTEM, EMU_V2);
  if (h == NULL)
    cow__log(COW_LOG_ERROR, EMU_LOG, "HcsCloseComputeSystem: invalid handle %p",
             (void *)computeSystem);
  else
    cow__emu_handle_close(e, h); /* drains callbacks; no event is delivered on close */
  UNLOCK();
}

static HRESULT system_verb(HCS_SYSTEM cs, HCS_OPERATION operation, PCWSTR options,
                           enum emu_sys_verb verb, HCS_OPERATION_TYPE type, const char *name)
{
  LOCK();
  struct emu *e = cow__emu_current();
  struct emu_handle *h = cow__emu_handle_lookup(e, (uintptr_t)cs, EMU_H_SYSTEM, EMU_V2);
  if (h == NULL) {
    UNLOCK();
    return COW__HR_INVALID_HANDLE;
  }
  V2_CHECK_SERVICE(e, name);
  struct emu_handle *oh;
  char *opt = NULL;
  HRESULT inj = COW__HR_S_OK, hr = op_begin(e, operation, type, h, &oh);
  if (!EMU_FAILED(hr) && injected(name, &inj)) {
    oh->op->state = EMU_OP_NOT_STARTED;
    hr = inj;
  }
  /* Options are NULL, L"" or a JSON document (docs/hcs-api.md §1 item 6). */
  if (!EMU_FAILED(hr) && EMU_FAILED(hr = cow__emu_arg_utf8(options, &opt)))
    op_fail_now(e, oh, hr, NULL);
  if (!EMU_FAILED(hr)) {
    struct emu_event *ev = cow__emu_event_new(EMU_EV_JOB, h->sys);
    if (ev == NULL) {
      hr = op_fail_now(e, oh, COW__HR_E_OUTOFMEMORY, NULL);
    } else {
      ev->job = cow__emu_system_job;
      ev->sys = h->sys;
      cow__emu_system_ref(h->sys);
      ev->arg = (int)verb;
      ev->type = EMU_V2;
      ev->op = oh->value;
      ev->handle = h->value;
      ev->status = inj;
      cow__emu_post(e, ev, cow__emu_fault_delay(EMU_V2, name));
    }
  }
  cow__free(opt);
  UNLOCK();
  return hr;
}

static HRESULT WINAPI emu_HcsStartComputeSystem(HCS_SYSTEM cs, HCS_OPERATION op, PCWSTR options)
{
  return system_verb(cs, op, options, EMU_VERB_START, HcsOperationTypeStart,
                     "HcsStartComputeSystem");
}

static HRESULT WINAPI emu_HcsShutDownComputeSystem(HCS_SYSTEM cs, HCS_OPERATION op, PCWSTR options)
{
  return system_verb(cs, op, options, EMU_VERB_SHUTDOWN, HcsOperationTypeShutdown,
                     "HcsShutDownComputeSystem");
}

static HRESULT WINAPI emu_HcsTerminateComputeSystem(HCS_SYSTEM cs, HCS_OPERATION op, PCWSTR options)
{
  return system_verb(cs, op, options, EMU_VERB_TERMINATE, HcsOperationTypeTerminate,
                     "HcsTerminateComputeSystem");
}

static HRESULT WINAPI emu_HcsPauseComputeSystem(HCS_SYSTEM cs, HCS_OPERATION op, PCWSTR options)
{
  return system_verb(cs, op, options, EMU_VERB_PAUSE, HcsOperationTypePause,
                     "HcsPauseComputeSystem");
}

static HRESULT WINAPI emu_HcsResumeComputeSystem(HCS_SYSTEM cs, HCS_OPERATION op, PCWSTR options)
{
  return system_verb(cs, op, options, EMU_VERB_RESUME, HcsOperationTypeResume,
                     "HcsResumeComputeSystem");
}

/* Calls answered from the current state: compute now, complete (maybe delayed). */
enum sys_query { Q_PROPERTIES, Q_MODIFY };

static HRESULT system_query(HCS_SYSTEM cs, HCS_OPERATION operation, PCWSTR arg, enum sys_query what)
{
  const char *name =
      what == Q_PROPERTIES ? "HcsGetComputeSystemProperties" : "HcsModifyComputeSystem";
  LOCK();
  struct emu *e = cow__emu_current();
  struct emu_handle *h = cow__emu_handle_lookup(e, (uintptr_t)cs, EMU_H_SYSTEM, EMU_V2);
  if (h == NULL) {
    UNLOCK();
    return COW__HR_INVALID_HANDLE;
  }
  V2_CHECK_SERVICE(e, name);
  struct emu_handle *oh;
  char *a = NULL, *doc = NULL;
  HRESULT inj = COW__HR_S_OK, hr = op_begin(e, operation,
                                            what == Q_PROPERTIES ? HcsOperationTypeGetProperties
                                                                 : HcsOperationTypeModify,
                                            h, &oh);
  if (!EMU_FAILED(hr) && injected(name, &inj)) {
    oh->op->state = EMU_OP_NOT_STARTED;
    hr = inj;
  }
  if (!EMU_FAILED(hr) && EMU_FAILED(hr = cow__emu_arg_utf8(arg, &a)))
    op_fail_now(e, oh, hr, NULL);
  if (!EMU_FAILED(hr)) {
    HRESULT r = inj;
    if (!EMU_FAILED(r))
      r = what == Q_PROPERTIES ? cow__emu_system_properties(h->sys, a, &doc)
                               : cow__emu_validate_modify(a);
    if (EMU_FAILED(r) && doc == NULL)
      doc = cow__emu_result_error(r, "request failed");
    cow__emu_op_complete(e, oh->value, r, doc, h->sys, cow__emu_fault_delay(EMU_V2, name));
  }
  cow__free(a);
  cow__free(doc);
  UNLOCK();
  return hr;
}

static HRESULT WINAPI emu_HcsGetComputeSystemProperties(HCS_SYSTEM cs, HCS_OPERATION op,
                                                        PCWSTR propertyQuery)
{
  return system_query(cs, op, propertyQuery, Q_PROPERTIES);
}

static HRESULT WINAPI emu_HcsModifyComputeSystem(HCS_SYSTEM cs, HCS_OPERATION op,
                                                 PCWSTR configuration, HANDLE identity)
{
  (void)identity;
  return system_query(cs, op, configuration, Q_MODIFY);
}

/* Block until `done` (a system or process exit) or the timeout. Lock held. */
static HRESULT wait_exit(struct emu *e, struct emu_handle *h, DWORD timeoutMs,
                         int (*done)(struct emu_handle *))
{
  uint64_t deadline = cow__emu_now_ns() + (uint64_t)timeoutMs * 1000000u;
  h->refs++;
  HRESULT hr = COW__HR_S_OK;
  while (!done(h) && !h->closed && !e->disconnected) {
    if (timeoutMs == INFINITE) {
      pthread_cond_wait(&e->cv_done, &cow__emu_lock);
      continue;
    }
    if (cow__emu_now_ns() >= deadline) {
      hr = COW__HR_OPERATION_TIMEOUT;
      break;
    }
    struct timespec ts = {(time_t)(deadline / 1000000000u), (long)(deadline % 1000000000u)};
    pthread_cond_timedwait(&e->cv_done, &cow__emu_lock, &ts);
  }
  if (h->closed)
    hr = COW__HR_INVALID_HANDLE;
  else if (!done(h) && e->disconnected)
    hr = COW__HR_SERVICE_DISCONNECT;
  cow__emu_handle_unref(e, h);
  return hr;
}

static int system_done(struct emu_handle *h)
{
  return h->sys == NULL || h->sys->state == EMU_SYS_STOPPED;
}

static HRESULT WINAPI emu_HcsWaitForComputeSystemExit(HCS_SYSTEM cs, DWORD timeoutMs, PWSTR *result)
{
  if (result != NULL)
    *result = NULL;
  LOCK();
  struct emu *e = cow__emu_current();
  struct emu_handle *h = cow__emu_handle_lookup(e, (uintptr_t)cs, EMU_H_SYSTEM, EMU_V2);
  HRESULT hr = h ? wait_exit(e, h, timeoutMs, system_done) : COW__HR_INVALID_HANDLE;
  if (!EMU_FAILED(hr) && result != NULL && h->sys != NULL) {
    char *j = cow__emu_exit_status_json(h->sys);
    *result = cow__emu_wstr(EMU_V2, j);
    cow__free(j);
  }
  UNLOCK();
  return hr;
}

static HRESULT set_callback(uintptr_t value, enum emu_kind kind, HCS_EVENT_OPTIONS options,
                            const void *context, HCS_EVENT_CALLBACK callback)
{
  LOCK();
  struct emu *e = cow__emu_current();
  struct emu_handle *h = cow__emu_handle_lookup(e, value, kind, EMU_V2);
  if (h == NULL) {
    UNLOCK();
    return COW__HR_INVALID_HANDLE;
  }
  /* A second call replaces the callback (undocumented; hcsshim sets it once). */
  h->ev_cb = callback;
  h->ev_ctx = (void *)(uintptr_t)context;
  h->ev_options = (uint32_t)options;
  if (callback != NULL)
    cow__emu_flush_pending(e, h); /* events that fired before registration */
  UNLOCK();
  return COW__HR_S_OK;
}

static HRESULT WINAPI emu_HcsSetComputeSystemCallback(HCS_SYSTEM cs, HCS_EVENT_OPTIONS options,
                                                      const void *context,
                                                      HCS_EVENT_CALLBACK callback)
{
  return set_callback((uintptr_t)cs, EMU_H_SYSTEM, options, context, callback);
}

/* ---- processes ---- */

static HRESULT WINAPI emu_HcsCreateProcess(HCS_SYSTEM cs, PCWSTR processParameters,
                                           HCS_OPERATION operation, const SECURITY_DESCRIPTOR *sd,
                                           HCS_PROCESS *process)
{
  (void)sd;
  if (process == NULL)
    return COW__HR_E_POINTER;
  *process = NULL;
  LOCK();
  struct emu *e = cow__emu_current();
  struct emu_handle *h = cow__emu_handle_lookup(e, (uintptr_t)cs, EMU_H_SYSTEM, EMU_V2);
  if (h == NULL) {
    UNLOCK();
    return COW__HR_INVALID_HANDLE;
  }
  V2_CHECK_SERVICE(e, "HcsCreateProcess");
  struct emu_handle *oh = NULL, *ph = NULL;
  char *params = NULL, *doc = NULL;
  int fds[3] = {-1, -1, -1}, invalid[3] = {0, 0, 0};
  HRESULT inj = COW__HR_S_OK, hr = op_begin(e, operation, HcsOperationTypeCreateProcess, h, &oh);
  struct emu_system *s = h->sys;
  struct emu_process *p = NULL;
  /* No handle without a process: an injected failure makes the call itself fail. */
  if (!EMU_FAILED(hr) && (injected("HcsCreateProcess", &inj) || EMU_FAILED(inj)))
    hr = op_fail_now(e, oh, inj, cow__emu_result_error(inj, "injected failure"));
  else if (!EMU_FAILED(hr) && EMU_FAILED(hr = cow__emu_arg_utf8(processParameters, &params)))
    op_fail_now(e, oh, hr, NULL);
  else if (!EMU_FAILED(hr) && (s->state != EMU_SYS_RUNNING || s->stopping))
    hr = op_fail_now(e, oh, COW__HR_INVALID_STATE,
                     cow__emu_result_error(COW__HR_INVALID_STATE, "the system is not running"));
  else if (!EMU_FAILED(hr) &&
           EMU_FAILED(hr = cow__emu_process_create(e, s, params, &p, fds, invalid, &doc))) {
    op_fail_now(e, oh, hr, doc);
    doc = NULL;
  }
  if (!EMU_FAILED(hr)) {
    ph = cow__emu_handle_new(e, EMU_H_PROCESS, EMU_V2);
    if (ph == NULL) {
      cow__emu_process_discard(p, fds); /* runs, but cannot be handed out */
      hr = op_fail_now(e, oh, COW__HR_E_OUTOFMEMORY, NULL);
    } else {
      cow__emu_process_attach(e, p, ph);
      struct emu_op *op = oh->op;
      op->proc_handle = ph->value;
      op->have_pi = 1;
      op->pid = (uint32_t)p->pid;
      for (int k = 0; k < 3; k++) {
        op->pi_fd[k] = fds[k];
        op->pi_invalid[k] = invalid[k];
      }
      HRESULT r = cow__emu_fault_flag(COW__EMU_FAULT_CREATE_PROCESS_QUIRK) ? COW__HR_E_INVALIDARG
                                                                           : COW__HR_S_OK;
      cow__emu_op_complete(e, oh->value, r, NULL, s,
                           cow__emu_fault_delay(EMU_V2, "HcsCreateProcess"));
      *process = (HCS_PROCESS)ph->value;
    }
  }
  if (oh != NULL && EMU_FAILED(hr) && oh->op->state == EMU_OP_PENDING)
    oh->op->state = EMU_OP_NOT_STARTED;
  cow__free(params);
  cow__free(doc);
  UNLOCK();
  return hr;
}

static HRESULT WINAPI emu_HcsOpenProcess(HCS_SYSTEM cs, DWORD processId, DWORD requestedAccess,
                                         HCS_PROCESS *process)
{
  (void)requestedAccess;
  if (process == NULL)
    return COW__HR_E_POINTER;
  *process = NULL;
  LOCK();
  struct emu *e = cow__emu_current();
  struct emu_handle *h = cow__emu_handle_lookup(e, (uintptr_t)cs, EMU_H_SYSTEM, EMU_V2);
  if (h == NULL) {
    UNLOCK();
    return COW__HR_INVALID_HANDLE;
  }
  V2_CHECK_SERVICE(e, "HcsOpenProcess");
  HRESULT inj = COW__HR_S_OK, hr = COW__HR_S_OK;
  if (injected("HcsOpenProcess", &inj) || EMU_FAILED(inj)) {
    hr = inj;
  } else {
    uintptr_t v = 0;
    if (!EMU_FAILED(hr = cow__emu_process_open(e, h->sys, processId, EMU_V2, &v)))
      *process = (HCS_PROCESS)v;
  }
  UNLOCK();
  return hr;
}

static void WINAPI emu_HcsCloseProcess(HCS_PROCESS process)
{
  LOCK();
  struct emu *e = cow__emu_current();
  struct emu_handle *h = cow__emu_handle_lookup(e, (uintptr_t)process, EMU_H_PROCESS, EMU_V2);
  if (h == NULL)
    cow__log(COW_LOG_ERROR, EMU_LOG, "HcsCloseProcess: invalid handle %p", (void *)process);
  else
    cow__emu_handle_close(e, h); /* never kills the process */
  UNLOCK();
}

static HRESULT process_verb(HCS_PROCESS process, HCS_OPERATION operation, PCWSTR arg,
                            enum emu_proc_verb verb)
{
  static const char *const names[] = {"HcsTerminateProcess", "HcsSignalProcess",
                                      "HcsGetProcessInfo", "HcsGetProcessProperties",
                                      "HcsModifyProcess"};
  static const HCS_OPERATION_TYPE types[] = {
      HcsOperationTypeTerminate, HcsOperationTypeSignalProcess, HcsOperationTypeGetProcessInfo,
      HcsOperationTypeGetProcessProperties, HcsOperationTypeModifyProcess};
  const char *name = names[verb];
  LOCK();
  struct emu *e = cow__emu_current();
  struct emu_handle *h = cow__emu_handle_lookup(e, (uintptr_t)process, EMU_H_PROCESS, EMU_V2);
  if (h == NULL) {
    UNLOCK();
    return COW__HR_INVALID_HANDLE;
  }
  V2_CHECK_SERVICE(e, name);
  struct emu_handle *oh;
  char *a = NULL, *doc = NULL;
  HRESULT inj = COW__HR_S_OK, hr = op_begin(e, operation, types[verb], h, &oh);
  if (!EMU_FAILED(hr) && injected(name, &inj)) {
    oh->op->state = EMU_OP_NOT_STARTED;
    hr = inj;
  }
  if (!EMU_FAILED(hr) && EMU_FAILED(hr = cow__emu_arg_utf8(arg, &a)))
    op_fail_now(e, oh, hr, NULL);
  if (!EMU_FAILED(hr)) {
    struct emu_process *p = h->proc;
    HRESULT r = inj;
    if (!EMU_FAILED(r)) {
      int fds[3], invalid[3];
      r = cow__emu_process_verb(p, verb, a, &doc, fds, invalid);
      if (verb == P_INFO && !EMU_FAILED(r)) {
        oh->op->have_pi = 1;
        oh->op->pid = (uint32_t)p->pid;
        for (int k = 0; k < 3; k++) {
          oh->op->pi_fd[k] = fds[k];
          oh->op->pi_invalid[k] = invalid[k];
        }
      }
    }
    if (EMU_FAILED(r) && doc == NULL)
      doc = cow__emu_result_error(r, "request failed");
    cow__emu_op_complete(e, oh->value, r, doc, h->sys, cow__emu_fault_delay(EMU_V2, name));
  }
  cow__free(a);
  cow__free(doc);
  UNLOCK();
  return hr;
}

static HRESULT WINAPI emu_HcsTerminateProcess(HCS_PROCESS p, HCS_OPERATION op, PCWSTR options)
{
  return process_verb(p, op, options, P_TERMINATE);
}

static HRESULT WINAPI emu_HcsSignalProcess(HCS_PROCESS p, HCS_OPERATION op, PCWSTR options)
{
  return process_verb(p, op, options, P_SIGNAL);
}

static HRESULT WINAPI emu_HcsGetProcessInfo(HCS_PROCESS p, HCS_OPERATION op)
{
  return process_verb(p, op, NULL, P_INFO);
}

static HRESULT WINAPI emu_HcsGetProcessProperties(HCS_PROCESS p, HCS_OPERATION op, PCWSTR query)
{
  return process_verb(p, op, query, P_PROPERTIES);
}

static HRESULT WINAPI emu_HcsModifyProcess(HCS_PROCESS p, HCS_OPERATION op, PCWSTR settings)
{
  return process_verb(p, op, settings, P_MODIFY);
}

static HRESULT WINAPI emu_HcsSetProcessCallback(HCS_PROCESS process, HCS_EVENT_OPTIONS options,
                                                void *context, HCS_EVENT_CALLBACK callback)
{
  return set_callback((uintptr_t)process, EMU_H_PROCESS, options, context, callback);
}

static int process_done(struct emu_handle *h)
{
  return h->proc == NULL || h->proc->exited;
}

static HRESULT WINAPI emu_HcsWaitForProcessExit(HCS_PROCESS process, DWORD timeoutMs, PWSTR *result)
{
  if (result != NULL)
    *result = NULL;
  LOCK();
  struct emu *e = cow__emu_current();
  struct emu_handle *h = cow__emu_handle_lookup(e, (uintptr_t)process, EMU_H_PROCESS, EMU_V2);
  HRESULT hr = h ? wait_exit(e, h, timeoutMs, process_done) : COW__HR_INVALID_HANDLE;
  if (!EMU_FAILED(hr) && result != NULL && h->proc != NULL) {
    char *j = cow__emu_process_status_json(h->proc);
    *result = cow__emu_wstr(EMU_V2, j);
    cow__free(j);
  }
  UNLOCK();
  return hr;
}

static HRESULT WINAPI emu_HcsGetServiceProperties(PCWSTR propertyQuery, PWSTR *result)
{
  if (result == NULL)
    return COW__HR_E_POINTER;
  *result = NULL;
  char *q = NULL;
  HRESULT hr = cow__emu_arg_utf8(propertyQuery, &q);
  cow__free(q);
  if (EMU_FAILED(hr))
    return hr;
  *result = cow__emu_wstr(EMU_V2, "{\"SupportedSchemaVersions\":[{\"Major\":2,\"Minor\":1}]}");
  return *result ? COW__HR_S_OK : COW__HR_E_OUTOFMEMORY;
}

int cow__emu_computecore_api(struct cow__computecore_api *t)
{
  if (t == NULL)
    return COW_EINVAL;
  memset(t, 0, sizeof(*t));
#define SET(n) t->n = emu_##n
  SET(HcsCreateOperation);
  SET(HcsCloseOperation);
  SET(HcsGetOperationContext);
  SET(HcsSetOperationContext);
  SET(HcsSetOperationCallback);
  SET(HcsGetOperationType);
  SET(HcsGetOperationId);
  SET(HcsGetComputeSystemFromOperation);
  SET(HcsGetProcessFromOperation);
  SET(HcsGetOperationResult);
  SET(HcsGetOperationResultAndProcessInfo);
  SET(HcsWaitForOperationResult);
  SET(HcsWaitForOperationResultAndProcessInfo);
  SET(HcsCancelOperation);
  SET(HcsEnumerateComputeSystems);
  SET(HcsCreateComputeSystem);
  SET(HcsOpenComputeSystem);
  SET(HcsCloseComputeSystem);
  SET(HcsStartComputeSystem);
  SET(HcsShutDownComputeSystem);
  SET(HcsTerminateComputeSystem);
  SET(HcsPauseComputeSystem);
  SET(HcsResumeComputeSystem);
  SET(HcsGetComputeSystemProperties);
  SET(HcsModifyComputeSystem);
  SET(HcsWaitForComputeSystemExit);
  SET(HcsSetComputeSystemCallback);
  SET(HcsCreateProcess);
  SET(HcsOpenProcess);
  SET(HcsCloseProcess);
  SET(HcsTerminateProcess);
  SET(HcsSignalProcess);
  SET(HcsGetProcessInfo);
  SET(HcsGetProcessProperties);
  SET(HcsModifyProcess);
  SET(HcsSetProcessCallback);
  SET(HcsWaitForProcessExit);
  SET(HcsGetServiceProperties);
#undef SET
  t->free_string = v2_free_string;
  return 0;
}

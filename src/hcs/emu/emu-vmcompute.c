/* The vmcompute.dll (HCS v1) table of the emulator. Create/Start/Pause/Resume may return
 * 0xC0370103 (pending) and complete through a *Completed notification; Shutdown/Terminate
 * are fire-and-forget and complete through SystemExited; everything else completes inline
 * (docs/hcs-api.md §2.2, §6.2 item 6). Out-strings are freed with the table's free_string. */
#include <string.h>
#include <unistd.h>

#include "core/alloc.h"
#include "cow/error.h"
#include "core/log.h"
#include "hcs/emu/emu-internal.h"

#define LOCK()   pthread_mutex_lock(&cow__emu_lock)
#define UNLOCK() pthread_mutex_unlock(&cow__emu_lock)

static void WINAPI v1_free_string(PWSTR s)
{
  cow__emu_free_wstr(EMU_V1, s);
}

static void out_null(PWSTR *p)
{
  if (p != NULL)
    *p = NULL;
}

/* Finish a v1 call: hand out the ResultError document on failure (if asked for). */
static HRESULT v1_done(HRESULT hr, PWSTR *result, const char *why)
{
  if (EMU_FAILED(hr) && result != NULL && hr != COW__HR_V1_OPERATION_PENDING) {
    char *doc = cow__emu_result_error(hr, why);
    if (doc != NULL)
      *result = cow__emu_wstr(EMU_V1, doc);
    cow__free(doc);
  }
  return hr;
}

/* Start-of-call checks shared by every export: injected disconnect / failure. Lock held.
 * Returns S_OK to go on; *soft receives a "fail" HRESULT to deliver asynchronously. */
static HRESULT v1_enter(struct emu *e, const char *name, HRESULT *soft)
{
  int reject = 0;
  HRESULT inj = COW__HR_S_OK;
  *soft = COW__HR_S_OK;
  if (e != NULL && cow__emu_fault_disconnect(EMU_V1, name))
    cow__emu_disconnect(e);
  if (e != NULL && e->disconnected)
    return COW__HR_SERVICE_DISCONNECT; /* emulator policy: the real v1 code is unknown */
  if (cow__emu_fault_fail(EMU_V1, name, &inj, &reject)) {
    if (reject)
      return inj;
    *soft = inj;
  }
  return COW__HR_S_OK;
}

static struct emu_handle *sys_lookup(struct emu *e, HCS_SYSTEM cs)
{
  return cow__emu_handle_lookup(e, (uintptr_t)cs, EMU_H_SYSTEM, EMU_V1);
}

static struct emu_handle *proc_lookup(struct emu *e, HCS_PROCESS p)
{
  return cow__emu_handle_lookup(e, (uintptr_t)p, EMU_H_PROCESS, EMU_V1);
}

/* Queue a lifecycle job; returns pending, or the verb's result when it ran inline
 * (v1-sync: Create, Start, Pause and Resume may complete synchronously, docs/hcs-api.md §2.2). */
static HRESULT post_verb(struct emu *e, struct emu_handle *h, enum emu_sys_verb verb, HRESULT soft,
                         const char *name)
{
  int sync = cow__emu_fault_flag(COW__EMU_FAULT_V1_SYNC) &&
             (verb == EMU_VERB_CREATE || verb == EMU_VERB_START || verb == EMU_VERB_PAUSE ||
              verb == EMU_VERB_RESUME) &&
             !EMU_FAILED(soft);
  struct emu_event ev_inline;
  struct emu_event *ev = sync ? &ev_inline : cow__emu_event_new(EMU_EV_JOB, h->sys);
  if (ev == NULL)
    return COW__HR_E_OUTOFMEMORY;
  if (sync)
    memset(ev, 0, sizeof(*ev));
  ev->job = cow__emu_system_job;
  ev->sys = h->sys;
  ev->arg = (int)verb;
  ev->type = EMU_V1;
  ev->handle = sync ? 0 : h->value; /* inline: no *Completed notification */
  ev->status = soft;
  if (sync) {
    cow__emu_system_job(ev);
    return emu_hr(EMU_V1, ev->status);
  }
  cow__emu_system_ref(h->sys);
  cow__emu_post(e, ev, cow__emu_fault_delay(EMU_V1, name));
  return COW__HR_V1_OPERATION_PENDING;
}

static HRESULT WINAPI emu_HcsEnumerateComputeSystems(PCWSTR query, PWSTR *computeSystems,
                                                     PWSTR *result)
{
  out_null(computeSystems);
  out_null(result);
  if (computeSystems == NULL)
    return COW__HR_E_POINTER;
  LOCK();
  struct emu *e = cow__emu_get_locked();
  HRESULT soft, hr = e ? v1_enter(e, "HcsEnumerateComputeSystems", &soft) : COW__HR_E_OUTOFMEMORY;
  char *q = NULL, *doc = NULL;
  if (!EMU_FAILED(hr))
    hr = EMU_FAILED(soft) ? soft : cow__emu_arg_utf8(query, &q);
  if (!EMU_FAILED(hr))
    hr = emu_hr(EMU_V1, cow__emu_enumerate(e, q, &doc));
  if (!EMU_FAILED(hr) && (*computeSystems = cow__emu_wstr(EMU_V1, doc)) == NULL)
    hr = COW__HR_E_OUTOFMEMORY;
  cow__free(q);
  cow__free(doc);
  cow__emu_idle_check(e);
  UNLOCK();
  return v1_done(hr, result, "enumerate failed");
}

static HRESULT WINAPI emu_HcsCreateComputeSystem(PCWSTR id, PCWSTR configuration, HANDLE identity,
                                                 HCS_SYSTEM *computeSystem, PWSTR *result)
{
  (void)identity;
  out_null(result);
  if (computeSystem == NULL)
    return COW__HR_E_POINTER;
  *computeSystem = NULL;
  LOCK();
  struct emu *e = cow__emu_get_locked();
  HRESULT soft, hr = e ? v1_enter(e, "HcsCreateComputeSystem", &soft) : COW__HR_E_OUTOFMEMORY;
  char *id8 = NULL, *cfg8 = NULL, *doc = NULL;
  struct emu_system *s = NULL;
  if (!EMU_FAILED(hr) && !EMU_FAILED(hr = cow__emu_arg_utf8(id, &id8)) &&
      !EMU_FAILED(hr = cow__emu_arg_utf8(configuration, &cfg8)))
    hr = cow__emu_system_create(e, EMU_V1, id8, cfg8, &s, &doc);
  if (!EMU_FAILED(hr)) {
    struct emu_handle *h = cow__emu_handle_new(e, EMU_H_SYSTEM, EMU_V1);
    if (h == NULL) {
      cow__emu_system_discard(e, s);
      hr = COW__HR_E_OUTOFMEMORY;
    } else {
      cow__emu_system_attach(e, s, h);
      *computeSystem = (HCS_SYSTEM)h->value;
      hr = post_verb(e, h, EMU_VERB_CREATE, soft, "HcsCreateComputeSystem");
    }
  }
  if (EMU_FAILED(hr) && hr != COW__HR_V1_OPERATION_PENDING && doc != NULL && result != NULL)
    *result = cow__emu_wstr(EMU_V1, doc);
  else if (hr != COW__HR_V1_OPERATION_PENDING)
    v1_done(hr, result, "create failed");
  cow__free(id8);
  cow__free(cfg8);
  cow__free(doc);
  cow__emu_idle_check(e);
  UNLOCK();
  return hr;
}

static HRESULT WINAPI emu_HcsOpenComputeSystem(PCWSTR id, HCS_SYSTEM *computeSystem, PWSTR *result)
{
  out_null(result);
  if (computeSystem == NULL)
    return COW__HR_E_POINTER;
  *computeSystem = NULL;
  LOCK();
  struct emu *e = cow__emu_get_locked();
  HRESULT soft, hr = e ? v1_enter(e, "HcsOpenComputeSystem", &soft) : COW__HR_E_OUTOFMEMORY;
  char *id8 = NULL;
  if (!EMU_FAILED(hr))
    hr = EMU_FAILED(soft) ? soft : cow__emu_arg_utf8(id, &id8);
  uintptr_t v = 0;
  if (!EMU_FAILED(hr) &&
      !EMU_FAILED(hr = cow__emu_system_open(e, id8, EMU_V1, COW__HR_V1_SYSTEM_NOT_FOUND, &v)))
    *computeSystem = (HCS_SYSTEM)v;
  cow__free(id8);
  cow__emu_idle_check(e);
  UNLOCK();
  return v1_done(hr, result, "open failed");
}

static HRESULT close_handle(uintptr_t v, enum emu_kind kind)
{
  LOCK();
  struct emu *e = cow__emu_current();
  struct emu_handle *h = cow__emu_handle_lookup(e, v, kind, EMU_V1);
  if (h == NULL) {
    UNLOCK();
    cow__log(COW_LOG_ERROR, EMU_LOG, "v1 close: invalid handle %p", (void *)v);
    return COW__HR_INVALID_HANDLE;
  }
  cow__emu_handle_close(e, h);
  UNLOCK();
  return COW__HR_S_OK;
}

static HRESULT WINAPI emu_HcsCloseComputeSystem(HCS_SYSTEM cs)
{
  return close_handle((uintptr_t)cs, EMU_H_SYSTEM);
}

static HRESULT system_verb(HCS_SYSTEM cs, PCWSTR options, PWSTR *result, enum emu_sys_verb verb,
                           const char *name)
{
  out_null(result);
  LOCK();
  struct emu *e = cow__emu_current();
  struct emu_handle *h = sys_lookup(e, cs);
  if (h == NULL) {
    UNLOCK();
    return COW__HR_INVALID_HANDLE;
  }
  char *opt = NULL;
  HRESULT soft, hr = v1_enter(e, name, &soft);
  if (!EMU_FAILED(hr))
    hr = cow__emu_arg_utf8(options, &opt);
  /* State errors are synchronous in v1 (e.g. 0xC0370110 for a stopped system). */
  if (!EMU_FAILED(hr) && !EMU_FAILED(soft))
    hr = cow__emu_system_check(h->sys, verb, EMU_V1);
  if (!EMU_FAILED(hr))
    hr = post_verb(e, h, verb, soft, name);
  cow__free(opt);
  UNLOCK();
  return v1_done(hr, result, "request failed");
}

static HRESULT WINAPI emu_HcsStartComputeSystem(HCS_SYSTEM cs, PCWSTR o, PWSTR *r)
{
  return system_verb(cs, o, r, EMU_VERB_START, "HcsStartComputeSystem");
}
static HRESULT WINAPI emu_HcsShutdownComputeSystem(HCS_SYSTEM cs, PCWSTR o, PWSTR *r)
{
  return system_verb(cs, o, r, EMU_VERB_SHUTDOWN, "HcsShutdownComputeSystem");
}
static HRESULT WINAPI emu_HcsTerminateComputeSystem(HCS_SYSTEM cs, PCWSTR o, PWSTR *r)
{
  return system_verb(cs, o, r, EMU_VERB_TERMINATE, "HcsTerminateComputeSystem");
}
static HRESULT WINAPI emu_HcsPauseComputeSystem(HCS_SYSTEM cs, PCWSTR o, PWSTR *r)
{
  return system_verb(cs, o, r, EMU_VERB_PAUSE, "HcsPauseComputeSystem");
}
static HRESULT WINAPI emu_HcsResumeComputeSystem(HCS_SYSTEM cs, PCWSTR o, PWSTR *r)
{
  return system_verb(cs, o, r, EMU_VERB_RESUME, "HcsResumeComputeSystem");
}

static HRESULT WINAPI emu_HcsSaveComputeSystem(HCS_SYSTEM cs, PCWSTR options, PWSTR *result)
{
  (void)options;
  out_null(result);
  LOCK();
  struct emu_handle *h = sys_lookup(cow__emu_current(), cs);
  UNLOCK();
  /* Saving a process tree is not something the emulator can do. */
  return v1_done(h ? COW__HR_NOT_SUPPORTED : COW__HR_INVALID_HANDLE, result,
                 "save is not supported by the emulator");
}

static HRESULT WINAPI emu_HcsGetComputeSystemProperties(HCS_SYSTEM cs, PCWSTR propertyQuery,
                                                        PWSTR *properties, PWSTR *result)
{
  out_null(properties);
  out_null(result);
  if (properties == NULL)
    return COW__HR_E_POINTER;
  LOCK();
  struct emu *e = cow__emu_current();
  struct emu_handle *h = sys_lookup(e, cs);
  if (h == NULL) {
    UNLOCK();
    return COW__HR_INVALID_HANDLE;
  }
  char *q = NULL, *doc = NULL;
  HRESULT soft, hr = v1_enter(e, "HcsGetComputeSystemProperties", &soft);
  if (!EMU_FAILED(hr))
    hr = EMU_FAILED(soft) ? soft : cow__emu_arg_utf8(propertyQuery, &q);
  if (!EMU_FAILED(hr))
    hr = emu_hr(EMU_V1, cow__emu_system_properties(h->sys, q, &doc));
  if (!EMU_FAILED(hr) && (*properties = cow__emu_wstr(EMU_V1, doc)) == NULL)
    hr = COW__HR_E_OUTOFMEMORY; /* never success with an empty payload */
  cow__free(q);
  cow__free(doc);
  UNLOCK();
  return v1_done(hr, result, "query failed");
}

static HRESULT WINAPI emu_HcsModifyComputeSystem(HCS_SYSTEM cs, PCWSTR configuration, PWSTR *result)
{
  out_null(result);
  LOCK();
  struct emu *e = cow__emu_current();
  struct emu_handle *h = sys_lookup(e, cs);
  if (h == NULL) {
    UNLOCK();
    return COW__HR_INVALID_HANDLE;
  }
  char *c = NULL;
  HRESULT soft, hr = v1_enter(e, "HcsModifyComputeSystem", &soft);
  if (!EMU_FAILED(hr))
    hr = EMU_FAILED(soft) ? soft : cow__emu_arg_utf8(configuration, &c);
  if (!EMU_FAILED(hr))
    hr = emu_hr(EMU_V1, cow__emu_validate_modify(c));
  cow__free(c);
  UNLOCK();
  return v1_done(hr, result, "modify failed");
}

/* ---- notification registration ---- */

static HRESULT register_cb(uintptr_t target, enum emu_kind kind, HCS_NOTIFICATION_CALLBACK cb,
                           void *context, HCS_CALLBACK *out)
{
  if (out == NULL || cb == NULL)
    return COW__HR_E_POINTER;
  *out = NULL;
  LOCK();
  struct emu *e = cow__emu_current();
  struct emu_handle *h = cow__emu_handle_lookup(e, target, kind, EMU_V1);
  HRESULT hr = COW__HR_S_OK;
  struct emu_handle *r = NULL;
  if (h == NULL)
    hr = COW__HR_INVALID_HANDLE;
  else if (h->registration != 0)
    hr = COW__HR_ALREADY_EXISTS; /* emulator policy: one registration per handle */
  else if ((r = cow__emu_handle_new(e, EMU_H_CALLBACK, EMU_V1)) == NULL)
    hr = COW__HR_E_OUTOFMEMORY;
  else {
    r->target = h->value;
    h->registration = r->value;
    h->nt_cb = cb;
    h->nt_ctx = context;          /* opaque: never dereferenced */
    cow__emu_flush_pending(e, h); /* sticky notifications (docs/hcs-api.md §2.2) */
    *out = (HCS_CALLBACK)r->value;
  }
  UNLOCK();
  return hr;
}

static HRESULT unregister_cb(HCS_CALLBACK handle)
{
  LOCK();
  struct emu *e = cow__emu_current();
  struct emu_handle *r = cow__emu_handle_lookup(e, (uintptr_t)handle, EMU_H_CALLBACK, EMU_V1);
  if (r == NULL) {
    UNLOCK();
    return COW__HR_INVALID_HANDLE;
  }
  struct emu_handle *h = cow__emu_handle_lookup(e, r->target, EMU_H_FREE, EMU_V1);
  if (h != NULL && h->registration == r->value) {
    h->nt_cb = NULL;
    h->nt_ctx = NULL;
    h->registration = 0;
    /* Wait for in-flight callbacks, unless we are inside one (docs/hcs-api.md §6.2 item 9). */
    h->refs++;
    while (h->in_cb > 0 &&
           !(cow__emu_on_dispatcher() && pthread_equal(h->cb_thread, pthread_self())))
      pthread_cond_wait(&e->cv_done, &cow__emu_lock);
    cow__emu_handle_unref(e, h);
  }
  cow__emu_handle_close(e, r);
  UNLOCK();
  return COW__HR_S_OK;
}

static HRESULT WINAPI emu_HcsRegisterComputeSystemCallback(HCS_SYSTEM cs,
                                                           HCS_NOTIFICATION_CALLBACK callback,
                                                           void *context, HCS_CALLBACK *handle)
{
  return register_cb((uintptr_t)cs, EMU_H_SYSTEM, callback, context, handle);
}

static HRESULT WINAPI emu_HcsUnregisterComputeSystemCallback(HCS_CALLBACK handle)
{
  return unregister_cb(handle);
}

/* ---- processes ---- */

static HRESULT WINAPI emu_HcsCreateProcess(HCS_SYSTEM cs, PCWSTR processParameters,
                                           HCS_PROCESS_INFORMATION *pi, HCS_PROCESS *process,
                                           PWSTR *result)
{
  out_null(result);
  if (pi == NULL || process == NULL)
    return COW__HR_E_POINTER;
  memset(pi, 0, sizeof(*pi));
  *process = NULL;
  LOCK();
  struct emu *e = cow__emu_current();
  struct emu_handle *h = sys_lookup(e, cs);
  if (h == NULL) {
    UNLOCK();
    return COW__HR_INVALID_HANDLE;
  }
  char *params = NULL, *doc = NULL;
  int fds[3] = {-1, -1, -1}, invalid[3] = {0, 0, 0};
  struct emu_process *p = NULL;
  HRESULT soft, hr = v1_enter(e, "HcsCreateProcess", &soft);
  if (!EMU_FAILED(hr))
    hr = EMU_FAILED(soft) ? soft : cow__emu_arg_utf8(processParameters, &params);
  if (!EMU_FAILED(hr) && (h->sys->state != EMU_SYS_RUNNING || h->sys->stopping))
    hr = COW__HR_V1_INVALID_STATE;
  if (!EMU_FAILED(hr))
    hr = emu_hr(EMU_V1, cow__emu_process_create(e, h->sys, params, &p, fds, invalid, &doc));
  if (!EMU_FAILED(hr)) {
    struct emu_handle *ph = cow__emu_handle_new(e, EMU_H_PROCESS, EMU_V1);
    if (ph == NULL) {
      cow__emu_process_discard(p, fds); /* runs, but cannot be handed out */
      hr = COW__HR_E_OUTOFMEMORY;
    } else {
      cow__emu_process_attach(e, p, ph);
      cow__emu_fill_pi(pi, (uint32_t)p->pid, fds, invalid); /* the caller owns the fds */
      *process = (HCS_PROCESS)ph->value;
    }
  }
  if (EMU_FAILED(hr) && doc != NULL && result != NULL)
    *result = cow__emu_wstr(EMU_V1, doc);
  else
    v1_done(hr, result, "create process failed");
  cow__free(params);
  cow__free(doc);
  UNLOCK();
  return hr;
}

static HRESULT WINAPI emu_HcsOpenProcess(HCS_SYSTEM cs, DWORD processId, HCS_PROCESS *process,
                                         PWSTR *result)
{
  out_null(result);
  if (process == NULL)
    return COW__HR_E_POINTER;
  *process = NULL;
  LOCK();
  struct emu *e = cow__emu_current();
  struct emu_handle *h = sys_lookup(e, cs);
  if (h == NULL) {
    UNLOCK();
    return COW__HR_INVALID_HANDLE;
  }
  HRESULT soft, hr = v1_enter(e, "HcsOpenProcess", &soft);
  if (!EMU_FAILED(hr) && EMU_FAILED(soft))
    hr = soft;
  uintptr_t v = 0;
  if (!EMU_FAILED(hr) && !EMU_FAILED(hr = cow__emu_process_open(e, h->sys, processId, EMU_V1, &v)))
    *process = (HCS_PROCESS)v;
  UNLOCK();
  return v1_done(hr, result, "open process failed");
}

static HRESULT WINAPI emu_HcsCloseProcess(HCS_PROCESS process)
{
  return close_handle((uintptr_t)process, EMU_H_PROCESS);
}

static HRESULT process_verb(HCS_PROCESS process, PCWSTR arg, HCS_PROCESS_INFORMATION *pi,
                            PWSTR *payload, PWSTR *result, enum emu_proc_verb verb)
{
  static const char *const names[] = {"HcsTerminateProcess", "HcsSignalProcess",
                                      "HcsGetProcessInfo", "HcsGetProcessProperties",
                                      "HcsModifyProcess"};
  out_null(result);
  out_null(payload);
  if (pi != NULL)
    memset(pi, 0, sizeof(*pi));
  LOCK();
  struct emu *e = cow__emu_current();
  struct emu_handle *h = proc_lookup(e, process);
  if (h == NULL) {
    UNLOCK();
    return COW__HR_INVALID_HANDLE;
  }
  char *a = NULL, *doc = NULL;
  HRESULT soft, hr = v1_enter(e, names[verb], &soft);
  if (!EMU_FAILED(hr))
    hr = EMU_FAILED(soft) ? soft : cow__emu_arg_utf8(arg, &a);
  struct emu_process *p = h->proc;
  if (!EMU_FAILED(hr)) {
    int fds[3], invalid[3];
    hr = cow__emu_process_verb(p, verb, a, &doc, fds, invalid);
    if (verb == P_PROPERTIES && !EMU_FAILED(hr) && (*payload = cow__emu_wstr(EMU_V1, doc)) == NULL)
      hr = COW__HR_E_OUTOFMEMORY;
    if (verb == P_INFO && !EMU_FAILED(hr))
      cow__emu_fill_pi(pi, (uint32_t)p->pid, fds, invalid); /* fresh duplicates */
    hr = emu_hr(EMU_V1, hr);
  }
  cow__free(a);
  cow__free(doc);
  UNLOCK();
  return v1_done(hr, result, "process request failed");
}

static HRESULT WINAPI emu_HcsTerminateProcess(HCS_PROCESS p, PWSTR *result)
{
  return process_verb(p, NULL, NULL, NULL, result, P_TERMINATE);
}

static HRESULT WINAPI emu_HcsSignalProcess(HCS_PROCESS p, PCWSTR options, PWSTR *result)
{
  return process_verb(p, options, NULL, NULL, result, P_SIGNAL);
}

static HRESULT WINAPI emu_HcsGetProcessInfo(HCS_PROCESS p, HCS_PROCESS_INFORMATION *pi,
                                            PWSTR *result)
{
  if (pi == NULL)
    return COW__HR_E_POINTER;
  return process_verb(p, NULL, pi, NULL, result, P_INFO);
}

static HRESULT WINAPI emu_HcsGetProcessProperties(HCS_PROCESS p, PWSTR *processProperties,
                                                  PWSTR *result)
{
  if (processProperties == NULL)
    return COW__HR_E_POINTER;
  return process_verb(p, NULL, NULL, processProperties, result, P_PROPERTIES);
}

static HRESULT WINAPI emu_HcsModifyProcess(HCS_PROCESS p, PCWSTR settings, PWSTR *result)
{
  return process_verb(p, settings, NULL, NULL, result, P_MODIFY);
}

static HRESULT WINAPI emu_HcsRegisterProcessCallback(HCS_PROCESS p,
                                                     HCS_NOTIFICATION_CALLBACK callback,
                                                     void *context, HCS_CALLBACK *handle)
{
  return register_cb((uintptr_t)p, EMU_H_PROCESS, callback, context, handle);
}

static HRESULT WINAPI emu_HcsUnregisterProcessCallback(HCS_CALLBACK handle)
{
  return unregister_cb(handle);
}

/* ---- service ---- */

static HRESULT WINAPI emu_HcsGetServiceProperties(PCWSTR propertyQuery, PWSTR *properties,
                                                  PWSTR *result)
{
  out_null(properties);
  out_null(result);
  if (properties == NULL)
    return COW__HR_E_POINTER;
  char *q = NULL;
  HRESULT hr = cow__emu_arg_utf8(propertyQuery, &q);
  cow__free(q);
  if (!EMU_FAILED(hr) &&
      (*properties = cow__emu_wstr(EMU_V1, "{\"SupportedSchemaVersions\":[{\"Major\":1,\"Minor\":0}"
                                           ",{\"Major\":2,\"Minor\":1}]}")) == NULL)
    hr = COW__HR_E_OUTOFMEMORY;
  return v1_done(hr, result, "service query failed");
}

static HRESULT WINAPI emu_HcsModifyServiceSettings(PCWSTR settings, PWSTR *result)
{
  (void)settings;
  out_null(result);
  /* The emulator has no service settings to change. */
  return v1_done(COW__HR_NOT_SUPPORTED, result, "service settings are not emulated");
}

int cow__emu_vmcompute_api(struct cow__vmcompute_api *t)
{
  if (t == NULL)
    return COW_EINVAL;
  memset(t, 0, sizeof(*t));
#define SET(n) t->n = emu_##n
  SET(HcsEnumerateComputeSystems);
  SET(HcsCreateComputeSystem);
  SET(HcsOpenComputeSystem);
  SET(HcsCloseComputeSystem);
  SET(HcsStartComputeSystem);
  SET(HcsShutdownComputeSystem);
  SET(HcsTerminateComputeSystem);
  SET(HcsPauseComputeSystem);
  SET(HcsResumeComputeSystem);
  SET(HcsSaveComputeSystem);
  SET(HcsGetComputeSystemProperties);
  SET(HcsModifyComputeSystem);
  SET(HcsRegisterComputeSystemCallback);
  SET(HcsUnregisterComputeSystemCallback);
  SET(HcsCreateProcess);
  SET(HcsOpenProcess);
  SET(HcsCloseProcess);
  SET(HcsTerminateProcess);
  SET(HcsSignalProcess);
  SET(HcsGetProcessInfo);
  SET(HcsGetProcessProperties);
  SET(HcsModifyProcess);
  SET(HcsRegisterProcessCallback);
  SET(HcsUnregisterProcessCallback);
  SET(HcsGetServiceProperties);
  SET(HcsModifyServiceSettings);
#undef SET
  t->free_string = v1_free_string;
  return 0;
}

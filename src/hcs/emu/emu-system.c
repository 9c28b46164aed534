/* Compute systems of type Container as process trees: creation from schema1/schema2
 * documents, the lifecycle state machine and its errors (docs/hcs-api.md §6.4, §6.5 items 21-23),
 * and the property documents. */
#include <signal.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "core/alloc.h"
#include "cow/error.h"
#include "core/log.h"
#include "hcs/emu/emu-internal.h"

#define EMU_DEFAULT_GRACE_MS 5000

static HRESULT fail_doc(HRESULT hr, char **doc_out, const char *msg)
{
  if (doc_out != NULL)
    *doc_out = cow__emu_result_error(hr, msg);
  return hr;
}

HRESULT cow__emu_system_create(struct emu *e, int api, const char *id, const char *config,
                               struct emu_system **out, char **doc_out)
{
  *out = NULL;
  if (id == NULL || id[0] == '\0')
    return fail_doc(COW__HR_E_INVALIDARG, doc_out, "the compute system id is empty");
  if (config == NULL)
    return fail_doc(emu_hr(api, COW__HR_INVALID_JSON), doc_out, "no configuration document");
  json_error_t jerr;
  json_t *doc = json_loads(config, JSON_REJECT_DUPLICATES, &jerr);
  if (doc == NULL || !json_is_object(doc)) {
    json_decref(doc);
    return fail_doc(emu_hr(api, COW__HR_INVALID_JSON), doc_out,
                    "the configuration is not a JSON object");
  }
  int schema = 0, term = 0;
  const char *owner = json_string_value(json_object_get(doc, "Owner"));
  const char *name = NULL;
  HRESULT hr = COW__HR_S_OK;
  const char *why = NULL;
  json_t *st = json_object_get(doc, "SystemType");
  if (st != NULL) {
    /* schema1 ContainerConfig (docs/hcs-api.md §5.1) */
    schema = 1;
    const char *t = json_string_value(st);
    if (t == NULL)
      hr = emu_hr(api, COW__HR_INVALID_JSON), why = "SystemType is not a string";
    else if (strcasecmp(t, "Container") != 0)
      hr = COW__HR_NOT_SUPPORTED, why = "only Container systems are emulated";
    name = json_string_value(json_object_get(doc, "Name"));
    term = json_is_true(json_object_get(doc, "TerminateOnLastHandleClosed"));
  } else {
    /* schema2 ComputeSystem (docs/hcs-api.md §5.4): exactly one of the three shapes */
    schema = 2;
    int c = json_object_get(doc, "Container") != NULL;
    int vm = json_object_get(doc, "VirtualMachine") != NULL;
    int hs = json_object_get(doc, "HostedSystem") != NULL;
    if (c + vm + hs != 1)
      hr = emu_hr(api, COW__HR_INVALID_JSON),
      why = "exactly one of Container, VirtualMachine, HostedSystem is required";
    else if (!c)
      hr = COW__HR_NOT_SUPPORTED, why = "only Container systems are emulated";
    else if (!json_is_object(json_object_get(doc, "Container")))
      hr = emu_hr(api, COW__HR_INVALID_JSON), why = "Container is not an object";
    term = json_is_true(json_object_get(doc, "ShouldTerminateOnLastHandleClosed"));
  }
  if (hr == COW__HR_S_OK && cow__emu_system_find(e, id) != NULL)
    hr = emu_hr(api, COW__HR_SYSTEM_ALREADY_EXISTS), why = "a compute system with this id exists";
  if (EMU_FAILED(hr)) {
    json_decref(doc);
    return fail_doc(hr, doc_out, why);
  }
  struct emu_system *s = cow__calloc(1, sizeof(*s));
  if (s != NULL) {
    s->id = cow__strdup(id);
    s->owner = cow__strdup(owner ? owner : "");
    s->name = cow__strdup(name ? name : id);
  }
  json_decref(doc);
  if (s == NULL || s->id == NULL || s->owner == NULL || s->name == NULL) {
    if (s != NULL) {
      cow__free(s->id);
      cow__free(s->owner);
      cow__free(s->name);
      cow__free(s);
    }
    return COW__HR_E_OUTOFMEMORY;
  }
  s->schema = schema;
  s->terminate_on_close = term;
  s->state = EMU_SYS_CREATED;
  s->listed = 1;
  s->refs = 0;
  s->next = e->systems;
  e->systems = s;
  *out = s;
  cow__log(COW_LOG_DEBUG, EMU_LOG, "system %s created (schema%d)", id, schema);
  return COW__HR_S_OK;
}

struct emu_system *cow__emu_system_find(struct emu *e, const char *id)
{
  for (struct emu_system *s = e->systems; s != NULL; s = s->next)
    if (s->listed && strcmp(s->id, id) == 0)
      return s;
  return NULL;
}

void cow__emu_system_ref(struct emu_system *s)
{
  s->refs++;
}

static void unlist(struct emu *e, struct emu_system *s)
{
  if (!s->listed)
    return;
  for (struct emu_system **pp = &e->systems; *pp != NULL; pp = &(*pp)->next)
    if (*pp == s) {
      *pp = s->next;
      break;
    }
  s->listed = 0;
  s->next = NULL;
}

void cow__emu_system_unref(struct emu *e, struct emu_system *s)
{
  (void)e;
  if (--s->refs > 0 || s->listed)
    return;
  while (s->procs != NULL) {
    struct emu_process *p = s->procs;
    s->procs = p->next;
    cow__emu_process_free(p);
  }
  cow__free(s->stop_ops);
  cow__free(s->id);
  cow__free(s->owner);
  cow__free(s->name);
  cow__free(s);
}

static void post_exited(struct emu *e, struct emu_system *s, struct emu_handle *h)
{
  if (h->exit_posted)
    return;
  h->exit_posted = 1;
  if (h->api == EMU_V2) {
    char *j = cow__emu_exit_status_json(s);
    cow__emu_notify(e, h, s, HcsEventSystemExited, COW__HR_S_OK, j, 0);
    cow__free(j);
  } else {
    /* v1 consumers read only the status (docs/hcs-api.md §2.3); the data mirrors v2. */
    char *j = cow__emu_exit_status_json(s);
    cow__emu_notify(e, h, s, HcsNotificationSystemExited, emu_hr(EMU_V1, s->exit_status), j, 0);
    cow__free(j);
  }
}

void cow__emu_system_attach(struct emu *e, struct emu_system *s, struct emu_handle *h)
{
  h->sys = s;
  h->obj_next = s->handles;
  s->handles = h;
  s->nhandles++;
  cow__emu_system_ref(s);
  if (s->state == EMU_SYS_STOPPED)
    post_exited(e, s, h); /* exactly once per handle, also for late openers */
}

HRESULT cow__emu_system_open(struct emu *e, const char *id, int api, HRESULT not_found,
                             uintptr_t *value)
{
  struct emu_system *s = id ? cow__emu_system_find(e, id) : NULL;
  if (s == NULL)
    return not_found;
  struct emu_handle *h = cow__emu_handle_new(e, EMU_H_SYSTEM, api);
  if (h == NULL)
    return COW__HR_E_OUTOFMEMORY;
  cow__emu_system_attach(e, s, h);
  *value = h->value;
  return COW__HR_S_OK;
}

void cow__emu_system_discard(struct emu *e, struct emu_system *s)
{
  for (struct emu_system **pp = &e->systems; *pp; pp = &(*pp)->next)
    if (*pp == s) {
      *pp = s->next;
      break;
    }
  s->listed = 0;
  s->refs = 1;
  cow__emu_system_unref(e, s);
}

void cow__emu_system_detach(struct emu *e, struct emu_handle *h)
{
  struct emu_system *s = h->sys;
  for (struct emu_handle **pp = &s->handles; *pp != NULL; pp = &(*pp)->obj_next)
    if (*pp == h) {
      *pp = h->obj_next;
      break;
    }
  s->nhandles--;
  if (s->nhandles == 0) {
    if (s->state == EMU_SYS_STOPPED)
      unlist(e, s); /* an exited system disappears with its last handle */
    else if (s->terminate_on_close)
      cow__emu_system_stop(e, s, EMU_EXIT_FORCED);
  }
  h->sys = NULL;
  cow__emu_system_unref(e, s);
}

HRESULT cow__emu_system_check(struct emu_system *s, enum emu_sys_verb verb, int api)
{
  int stopped = s->state == EMU_SYS_STOPPED;
  switch (verb) {
  case EMU_VERB_CREATE:
    return COW__HR_S_OK;
  case EMU_VERB_START:
    return (s->state == EMU_SYS_CREATED && !s->stopping) ? COW__HR_S_OK
                                                         : emu_hr(api, COW__HR_INVALID_STATE);
  case EMU_VERB_SHUTDOWN:
  case EMU_VERB_TERMINATE:
    return stopped ? emu_hr(api, COW__HR_SYSTEM_ALREADY_STOPPED) : COW__HR_S_OK;
  case EMU_VERB_PAUSE:
    return (s->state == EMU_SYS_RUNNING && !s->stopping) ? COW__HR_S_OK
                                                         : emu_hr(api, COW__HR_INVALID_STATE);
  case EMU_VERB_RESUME:
    return (s->state == EMU_SYS_PAUSED && !s->stopping) ? COW__HR_S_OK
                                                        : emu_hr(api, COW__HR_INVALID_STATE);
  }
  return COW__HR_E_INVALIDARG;
}

static void job_kill_after_grace(struct emu_event *ev)
{
  struct emu_system *s = ev->sys;
  if (s->state != EMU_SYS_STOPPED) {
    cow__log(COW_LOG_DEBUG, EMU_LOG, "system %s: grace period over, SIGKILL", s->id);
    cow__emu_system_signal_all(s, SIGKILL);
  }
  ev->kind = EMU_EV_NONE;
}

void cow__emu_system_job_unexpected(struct emu_event *ev)
{
  struct emu *e = cow__emu_current();
  struct emu_system *s = ev->sys;
  if (s->state != EMU_SYS_STOPPED && !s->stopping)
    cow__emu_system_stop(e, s, EMU_EXIT_UNEXPECTED);
  ev->kind = EMU_EV_NONE;
}

static void post_system_job(struct emu *e, struct emu_system *s, emu_job_fn fn, const void *key,
                            unsigned ms)
{
  struct emu_event *ev = cow__emu_event_new(EMU_EV_JOB, key);
  if (ev == NULL)
    return;
  ev->job = fn;
  ev->sys = s;
  cow__emu_system_ref(s);
  cow__emu_post(e, ev, ms);
}

void cow__emu_system_stop(struct emu *e, struct emu_system *s, enum emu_exit_type how)
{
  if (s->state == EMU_SYS_STOPPED)
    return;
  if (s->stopping == 0 || (s->stopping == EMU_EXIT_GRACEFUL && how != EMU_EXIT_GRACEFUL))
    s->stopping = (int)how;
  if (s->state == EMU_SYS_PAUSED)
    cow__emu_system_thaw(s); /* stopped processes would not act on SIGTERM */
  if (how == EMU_EXIT_GRACEFUL) {
    cow__emu_system_signal_all(s, SIGTERM);
    unsigned grace =
        (unsigned)cow__emu_fault_value(COW__EMU_FAULT_SHUTDOWN_GRACE, EMU_DEFAULT_GRACE_MS);
    /* Unordered: the timer must not hold back this system's ProcessExited events. */
    post_system_job(e, s, job_kill_after_grace, NULL, grace);
  } else {
    cow__emu_system_signal_all(s, SIGKILL);
  }
  cow__emu_system_maybe_stopped(e, s);
}

void cow__emu_system_maybe_stopped(struct emu *e, struct emu_system *s)
{
  if (s->state == EMU_SYS_STOPPED || s->stopping == 0)
    return;
  for (struct emu_process *p = s->procs; p != NULL; p = p->next)
    if (!p->exited)
      return;
  /* Every process is gone (each already has its ProcessExited queued, docs/hcs-api.md §6.3
   * item 13); clean up descendants that outlived their group leader. */
  cow__emu_system_signal_all(s, SIGKILL);
  s->state = EMU_SYS_STOPPED;
  s->exit_type = (enum emu_exit_type)s->stopping;
  s->exit_status = s->exit_type == EMU_EXIT_UNEXPECTED ? COW__HR_UNEXPECTED_EXIT : COW__HR_S_OK;
  cow__log(COW_LOG_DEBUG, EMU_LOG, "system %s stopped", s->id);
  pthread_cond_broadcast(&e->cv_done); /* HcsWaitForComputeSystemExit */
  for (size_t i = 0; i < s->nstop_ops; i++)
    cow__emu_op_complete(e, s->stop_ops[i], COW__HR_S_OK, NULL, s, 0);
  s->nstop_ops = 0;
  for (struct emu_handle *h = s->handles; h != NULL; h = h->obj_next)
    post_exited(e, s, h);
  if (s->nhandles == 0) {
    /* Nobody can reach it any more: free it now unless a job still holds it. Callers do
     * not touch s after this call. */
    unlist(e, s);
    s->refs++;
    cow__emu_system_unref(e, s);
  }
}

/* Job for Create/Start/ShutDown/Terminate/Pause/Resume. ev->arg = verb, ev->status = an
 * injected failure (or 0), ev->handle = the calling handle, ev->op = v2 operation, ev->type
 * = api. Runs at its due time so that a delayed verb really happens late. On return
 * ev->status holds the verb's result (for a v1 call that ran it inline). */
void cow__emu_system_job(struct emu_event *ev)
{
  struct emu *e = cow__emu_current();
  struct emu_system *s = ev->sys;
  int api = (int)ev->type;
  enum emu_sys_verb verb = (enum emu_sys_verb)ev->arg;
  HRESULT hr = ev->status != 0 ? ev->status : cow__emu_system_check(s, verb, api);
  int deferred = 0;
  unsigned ms = 0;
  ev->kind = EMU_EV_NONE;
  if (e->disconnected)
    return; /* pending operations were completed by the disconnect */
  if (!EMU_FAILED(hr)) {
    switch (verb) {
    case EMU_VERB_CREATE:
      s->create_done = 1;
      break;
    case EMU_VERB_START:
      s->state = EMU_SYS_RUNNING;
      s->start_ns = cow__emu_now_ns();
      s->start_wall = (int64_t)time(NULL);
      if (cow__emu_fault_exit_unexpected(s->id, &ms))
        post_system_job(e, s, cow__emu_system_job_unexpected, NULL,
                        ms); /* unordered, like a timer */
      break;
    case EMU_VERB_SHUTDOWN:
    case EMU_VERB_TERMINATE:
      if (api == EMU_V2 && ev->op != 0) {
        /* The v2 operation completes when the system has stopped. */
        uintptr_t *n = cow__realloc(s->stop_ops, (s->nstop_ops + 1) * sizeof(*n));
        if (n != NULL) {
          s->stop_ops = n;
          s->stop_ops[s->nstop_ops++] = ev->op;
          deferred = 1;
        }
      }
      cow__emu_system_stop(e, s, verb == EMU_VERB_SHUTDOWN ? EMU_EXIT_GRACEFUL : EMU_EXIT_FORCED);
      break;
    case EMU_VERB_PAUSE:
      /* Completes only once every process is stopped (emu-freeze.c). */
      if (EMU_FAILED(hr = cow__emu_system_freeze(s))) {
        cow__emu_system_thaw(s);
        break;
      }
      s->state = EMU_SYS_PAUSED;
      break;
    case EMU_VERB_RESUME:
      cow__emu_system_thaw(s);
      s->state = EMU_SYS_RUNNING;
      break;
    }
  }
  ev->status = hr;
  if (api == EMU_V2) {
    if (!deferred) {
      char *doc = EMU_FAILED(hr) ? cow__emu_result_error(hr, "request failed") : NULL;
      cow__emu_op_complete(e, ev->op, hr, doc, s, 0);
      cow__free(doc);
    }
    return;
  }
  /* v1: a *Completed notification on the calling handle (Shutdown/Terminate have none:
   * their completion is SystemExited). */
  uint32_t type = 0;
  switch (verb) {
  case EMU_VERB_CREATE:
    type = HcsNotificationSystemCreateCompleted;
    break;
  case EMU_VERB_START:
    type = HcsNotificationSystemStartCompleted;
    break;
  case EMU_VERB_PAUSE:
    type = HcsNotificationSystemPauseCompleted;
    break;
  case EMU_VERB_RESUME:
    type = HcsNotificationSystemResumeCompleted;
    break;
  default:
    return;
  }
  struct emu_handle *h = cow__emu_handle_lookup(e, ev->handle, EMU_H_SYSTEM, EMU_V1);
  if (h != NULL) {
    char *doc = EMU_FAILED(hr) ? cow__emu_result_error(hr, "request failed") : NULL;
    cow__emu_notify(e, h, s, type, hr, doc, 0);
    cow__free(doc);
  }
}

/* ---- documents ---- */

static const char *state_name(enum emu_sys_state st)
{
  switch (st) {
  case EMU_SYS_CREATED:
    return "Created";
  case EMU_SYS_RUNNING:
    return "Running";
  case EMU_SYS_PAUSED:
    return "Paused";
  case EMU_SYS_STOPPED:
    return "Stopped";
  }
  return "Unknown";
}

static const char *exit_type_name(enum emu_exit_type t)
{
  switch (t) {
  case EMU_EXIT_GRACEFUL:
    return "GracefulExit";
  case EMU_EXIT_FORCED:
    return "ForcedExit";
  case EMU_EXIT_UNEXPECTED:
    return "UnexpectedExit";
  case EMU_EXIT_NONE:
    break;
  }
  return "None";
}

char *cow__emu_exit_status_json(struct emu_system *s)
{
  return cow__emu_json_text(json_pack("{s:I, s:s}", "Status", (json_int_t)s->exit_status,
                                      "ExitType", exit_type_name(s->exit_type)));
}

HRESULT cow__emu_system_properties(struct emu_system *s, const char *query, char **out)
{
  *out = NULL;
  json_t *types = NULL, *q = NULL;
  if (query != NULL) {
    q = json_loads(query, 0, NULL);
    if (q == NULL || !json_is_object(q)) {
      json_decref(q);
      return COW__HR_INVALID_JSON;
    }
    types = json_object_get(q, "PropertyTypes");
    if (types != NULL && !json_is_array(types) && !json_is_null(types)) {
      json_decref(q);
      return COW__HR_INVALID_JSON;
    }
  }
  json_t *p = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:b}", "Id", s->id, "SystemType",
                        "Container", "RuntimeOsType", "Linux", "Owner", s->owner, "Name", s->name,
                        "State", state_name(s->state), "Stopped", s->state == EMU_SYS_STOPPED);
  if (p == NULL) {
    json_decref(q);
    return COW__HR_E_OUTOFMEMORY;
  }
  /* Every part asked for is there, or the call fails: never a document with one missing. */
  int rc = 0;
  if (s->state == EMU_SYS_STOPPED)
    rc = json_object_set_new(p, "ExitType", json_string(exit_type_name(s->exit_type)));
  size_t i;
  json_t *t;
  json_array_foreach(types, i, t)
  {
    const char *name = json_string_value(t);
    if (name == NULL || rc != 0)
      continue;
    if (strcmp(name, "ProcessList") == 0)
      rc = cow__emu_procfs_process_list(s, p);
    else if (strcmp(name, "Statistics") == 0)
      rc = cow__emu_procfs_statistics(s, p);
    else if (strcmp(name, "TerminateOnLastHandleClosed") == 0)
      rc = json_object_set_new(p, "TerminateOnLastHandleClosed",
                               json_boolean(s->terminate_on_close));
    /* Other types (GuestConnection, Memory, ...) describe VMs: nothing to report. */
  }
  json_decref(q);
  if (rc != 0) {
    json_decref(p);
    return COW__HR_E_OUTOFMEMORY;
  }
  *out = cow__emu_json_text(p);
  return *out != NULL ? COW__HR_S_OK : COW__HR_E_OUTOFMEMORY;
}

HRESULT cow__emu_validate_modify(const char *json)
{
  if (json == NULL)
    return COW__HR_INVALID_JSON;
  json_t *j = json_loads(json, 0, NULL);
  int ok = json_is_object(j) &&
           (json_is_string(json_object_get(j, "ResourcePath")) ||  /* schema2 */
            json_is_string(json_object_get(j, "ResourceType"))) && /* schema1 */
           json_is_string(json_object_get(j, "RequestType"));
  json_decref(j);
  return ok ? COW__HR_S_OK : COW__HR_INVALID_JSON;
}

static int query_match(json_t *q, const char *key, const char *value)
{
  json_t *arr = json_object_get(q, key);
  if (!json_is_array(arr) || json_array_size(arr) == 0)
    return 1;
  size_t i;
  json_t *v;
  json_array_foreach(arr, i,
                     v) if (json_is_string(v) && strcmp(json_string_value(v), value) == 0) return 1;
  return 0;
}

HRESULT cow__emu_enumerate(struct emu *e, const char *query, char **out)
{
  *out = NULL;
  json_t *q = query ? json_loads(query, 0, NULL) : json_object();
  if (!json_is_object(q)) {
    json_decref(q);
    return COW__HR_INVALID_JSON;
  }
  json_t *arr = json_array();
  HRESULT hr = arr != NULL ? COW__HR_S_OK : COW__HR_E_OUTOFMEMORY;
  for (struct emu_system *s = e->systems; hr == COW__HR_S_OK && s != NULL; s = s->next) {
    if (!query_match(q, "Ids", s->id) || !query_match(q, "Owners", s->owner) ||
        !query_match(q, "Names", s->name) || !query_match(q, "Types", "Container"))
      continue;
    char *one = NULL;
    hr = cow__emu_system_properties(s, NULL, &one);
    /* A system that matched is listed, or the enumeration fails: none goes missing. */
    if (hr == COW__HR_S_OK && json_array_append_new(arr, json_loads(one, 0, NULL)) != 0)
      hr = COW__HR_E_OUTOFMEMORY;
    cow__free(one);
  }
  json_decref(q);
  if (hr != COW__HR_S_OK) {
    json_decref(arr);
    return hr;
  }
  *out = cow__emu_json_text(arr);
  return *out ? COW__HR_S_OK : COW__HR_E_OUTOFMEMORY;
}

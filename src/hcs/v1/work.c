/* Threadpool calls and notification marshalling for the v1 backend; see v1.h. */
#include "core/alloc.h"
#include "core/log.h"
#include "hcs/common/hcs-error.h"
#include "hcs/common/utf16.h"
#include "hcs/v1/v1.h"

static void owner_unref(void *owner, unsigned kind)
{
  if (kind == COW__HCS_CTX_SYSTEM)
    cow_container_unref(owner);
  else
    cow_process_unref(owner);
}

struct cow__hcs1_work *cow__hcs1_work_new(void *owner, unsigned kind, cow_op_t *op,
                                          const struct cow__vmcompute_api *api,
                                          void (*run)(struct cow__hcs1_work *),
                                          void (*after)(struct cow__hcs1_work *))
{
  struct cow__hcs1_work *w = cow__calloc(1, sizeof *w);
  if (w == NULL)
    return NULL;
  w->owner = owner;
  w->kind = kind;
  w->op = op;
  w->api = api;
  w->run = run;
  w->after = after;
  return w;
}

static void work_free(struct cow__hcs1_work *w)
{
  cow__free(w->warg);
  cow__free(w->result);
  cow__free(w->payload);
  cow__free(w);
}

static void work_run(uv_work_t *req)
{
  struct cow__hcs1_work *w = req->data;
  w->run(w);
}

static void work_after(uv_work_t *req, int status)
{
  struct cow__hcs1_work *w = req->data;
  (void)status; /* never canceled: uv_cancel is not used, the DLL call cannot be stopped */
  void *owner = w->owner;
  unsigned kind = w->kind;
  w->after(w);
  work_free(w);
  if (kind == COW__HCS_CTX_SYSTEM) {
    ((struct cow__hcs1_system *)cow_container_priv(owner))->works--;
    cow__hcs1_system_idle(owner);
  } else {
    ((struct cow__hcs1_process *)cow_process_priv(owner))->works--;
    cow__hcs1_process_idle(owner);
  }
  owner_unref(owner, kind);
}

int cow__hcs1_work_queue(struct cow__hcs1_work *w)
{
  uv_loop_t *loop = w->kind == COW__HCS_CTX_SYSTEM
                        ? ((struct cow__hcs1_system *)cow_container_priv(w->owner))->loop
                        : cow_process_loop(w->owner);
  w->req.data = w;
  int rc = uv_queue_work(loop, &w->req, work_run, work_after);
  if (rc != 0) {
    work_free(w);
    return rc;
  }
  if (w->kind == COW__HCS_CTX_SYSTEM) {
    ((struct cow__hcs1_system *)cow_container_priv(w->owner))->works++;
    cow_container_ref(w->owner);
  } else {
    ((struct cow__hcs1_process *)cow_process_priv(w->owner))->works++;
    cow_process_ref(w->owner);
  }
  return 0;
}

void cow__hcs1_complete(struct cow__hcs1_work *w, const char *object_id)
{
  if (w->hr >= 0) {
    cow_op_complete(w->op, 0, NULL);
    return;
  }
  cow_error_t err = COW_ERROR_INIT;
  int code = cow__hcs_error(&err, w->hr, cow_op_name(w->op), object_id, w->result);
  cow_op_complete(w->op, code, &err);
  cow_error_clear(&err);
}

/* ---- notifications (DLL threads) ---- */

struct posted_note {
  unsigned kind;
  uint32_t type;
  HRESULT status;
  char *doc;
};

static void on_note_posted(void *object, void *payload)
{
  struct posted_note *n = payload;
  if (object != NULL) {
    if (n->kind == COW__HCS_CTX_SYSTEM)
      cow__hcs1_system_notify(object, n->type, n->status, n->doc);
    else
      cow__hcs1_process_notify(object, n->type, n->status, n->doc);
  }
  cow__free(n->doc);
  cow__free(n);
}

void CALLBACK cow__hcs1_notify_cb(DWORD type, void *context, HRESULT status, PCWSTR data)
{
  switch (type) {
  case HcsNotificationSystemExited:
  case HcsNotificationSystemCreateCompleted:
  case HcsNotificationSystemStartCompleted:
  case HcsNotificationSystemPauseCompleted:
  case HcsNotificationSystemResumeCompleted:
  case HcsNotificationProcessExited:
  case COW__HCS_V1_NOTIFY_SERVICE_DISCONNECT:
    break;
  default:
    return; /* hcsshim drops everything else too */
  }
  struct posted_note *n = cow__calloc(1, sizeof *n);
  if (n == NULL) {
    cow__log(COW_LOG_ERROR, "hcs1", "out of memory: notification 0x%x dropped", (unsigned)type);
    return;
  }
  n->kind = cow__hcs_ctx_kind(context);
  n->type = type;
  n->status = status;
  /* The data is valid only during the callback: copy it (or drop an invalid string). */
  if (data != NULL && cow__utf8_from_utf16(data, &n->doc) != 0)
    n->doc = NULL;
  if (cow_event_post(cow__hcs_ctx_id(context), on_note_posted, n) != 0) {
    cow__free(n->doc);
    cow__free(n);
  }
}

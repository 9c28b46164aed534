/* The dispatcher thread: runs timed jobs and delivers every notification and operation
 * completion (docs/hcs-api.md §6.2, §6.3). One thread delivers everything, so callbacks for one
 * handle never overlap and arrive in the order they were queued. Callbacks run without the
 * emulator lock, so they may call back into the API (including closing the handle). */
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/alloc.h"
#include "cow/error.h"
#include "core/log.h"
#include "hcs/common/utf16.h"
#include "hcs/emu/emu-internal.h"

struct emu_event *cow__emu_event_new(enum emu_ev_kind kind, const void *key)
{
  struct emu_event *ev = cow__calloc(1, sizeof(*ev));
  if (ev != NULL) {
    ev->kind = kind;
    ev->key = key;
  }
  return ev;
}

void cow__emu_event_free(struct emu_event *ev)
{
  if (ev == NULL)
    return;
  cow__free(ev->data);
  cow__free(ev);
}

void cow__emu_post(struct emu *e, struct emu_event *ev, unsigned delay_ms)
{
  ev->due_ns = cow__emu_now_ns() + (uint64_t)delay_ms * 1000000u;
  ev->next = NULL;
  if (e->q_tail != NULL)
    e->q_tail->next = ev;
  else
    e->q_head = ev;
  e->q_tail = ev;
  pthread_cond_broadcast(&e->cv);
}

void cow__emu_notify(struct emu *e, struct emu_handle *h, const void *key, uint32_t type,
                     HRESULT status, const char *data, unsigned delay_ms)
{
  struct emu_event *ev = cow__emu_event_new(EMU_EV_NOTIFY, key);
  if (ev == NULL) {
    cow__log(COW_LOG_ERROR, EMU_LOG, "out of memory: notification 0x%x lost", type);
    return;
  }
  ev->handle = h->value;
  ev->type = type;
  ev->status = status;
  if (data != NULL && (ev->data = cow__strdup(data)) == NULL)
    cow__log(COW_LOG_ERROR, EMU_LOG, "out of memory: notification 0x%x without data", type);
  cow__emu_post(e, ev, delay_ms);
}

static void job_complete_op(struct emu_event *ev);

void cow__emu_op_complete(struct emu *e, uintptr_t opv, HRESULT hr, const char *doc,
                          const void *key, unsigned delay_ms)
{
  struct emu_handle *oh = cow__emu_handle_lookup(e, opv, EMU_H_OPERATION, EMU_V2);
  if (oh == NULL || oh->op->state == EMU_OP_DONE)
    return; /* closed in flight: the result is discarded (docs/hcs-api.md §3.2) */
  if (delay_ms > 0) {
    struct emu_event *ev = cow__emu_event_new(EMU_EV_JOB, key);
    if (ev != NULL) {
      ev->job = job_complete_op;
      ev->op = opv;
      ev->status = hr;
      ev->data = doc ? cow__strdup(doc) : NULL;
      cow__emu_post(e, ev, delay_ms);
      return;
    }
  }
  struct emu_op *op = oh->op;
  op->state = EMU_OP_DONE;
  op->hr = hr;
  cow__free(op->doc);
  op->doc = doc ? cow__strdup(doc) : NULL;
  pthread_cond_broadcast(&e->cv_done);
  struct emu_event *ev = cow__emu_event_new(EMU_EV_OP_DONE, key);
  if (ev == NULL)
    return;
  ev->handle = opv;
  cow__emu_post(e, ev, 0);
}

static void job_complete_op(struct emu_event *ev)
{
  struct emu *e = cow__emu_current();
  cow__emu_op_complete(e, ev->op, ev->status, ev->data, ev->key, 0);
  ev->kind = EMU_EV_NONE;
}

void cow__emu_flush_pending(struct emu *e, struct emu_handle *h)
{
  if (h->pending_head == NULL)
    return;
  /* Everything pending was dequeued before anything still queued: put it first. */
  for (struct emu_event *ev = h->pending_head; ev != NULL; ev = ev->next)
    ev->due_ns = 0;
  h->pending_tail->next = e->q_head;
  if (e->q_head == NULL)
    e->q_tail = h->pending_tail;
  e->q_head = h->pending_head;
  h->pending_head = h->pending_tail = NULL;
  pthread_cond_broadcast(&e->cv);
}

void cow__emu_disconnect(struct emu *e)
{
  if (e->disconnected)
    return;
  cow__log(COW_LOG_WARN, EMU_LOG, "simulating a service disconnect");
  e->disconnected = 1;
  for (uint32_t i = 0; i < e->table_len; i++) {
    struct emu_handle *h = e->table[i];
    if (h == NULL || h->closed)
      continue;
    if (h->kind == EMU_H_SYSTEM || h->kind == EMU_H_PROCESS) {
      uint32_t type = h->api == EMU_V1 ? COW__HCS_V1_NOTIFY_SERVICE_DISCONNECT
                                       : COW__HCS_V2_EVENT_SERVICE_DISCONNECT;
      /* Unordered: must not wait behind delayed work of the same system. */
      cow__emu_notify(e, h, NULL, type, COW__HR_SERVICE_DISCONNECT, NULL, 0);
      h->exit_posted = 1; /* nothing follows a disconnect */
    } else if (h->kind == EMU_H_OPERATION && h->op->state == EMU_OP_PENDING) {
      cow__emu_op_complete(e, h->value, COW__HR_SERVICE_DISCONNECT, NULL, NULL, 0);
    }
  }
  /* The service is gone: so are its containers. Their exits are no longer reported. */
  for (struct emu_system *s = e->systems; s != NULL; s = s->next)
    cow__emu_system_signal_all(s, 9 /* SIGKILL */);
}

/* ---- delivery ---- */

static void invoke_begin(struct emu_handle *h)
{
  h->refs++;
  h->in_cb++;
  h->cb_thread = pthread_self();
  pthread_mutex_unlock(&cow__emu_lock);
}

static void invoke_end(struct emu *e, struct emu_handle *h)
{
  pthread_mutex_lock(&cow__emu_lock);
  h->in_cb--;
  pthread_cond_broadcast(&e->cv_done);
  cow__emu_handle_unref(e, h);
}

static void deliver_notify(struct emu *e, struct emu_event *ev)
{
  struct emu_handle *h = cow__emu_handle_lookup(e, ev->handle, EMU_H_FREE, 0);
  if (h == NULL) {
    cow__emu_event_free(ev); /* handle closed: no callback after close */
    return;
  }
  int has_cb = h->api == EMU_V2 ? h->ev_cb != NULL : h->nt_cb != NULL;
  if (!has_cb) {
    /* Sticky: keep it until a callback is registered (docs/hcs-api.md §6.2 item 8). */
    ev->next = NULL;
    if (h->pending_tail)
      h->pending_tail->next = ev;
    else
      h->pending_head = ev;
    h->pending_tail = ev;
    return;
  }
  uint16_t *w = NULL;
  if (ev->data != NULL && cow__utf16_from_utf8(ev->data, &w) != 0)
    cow__log(COW_LOG_ERROR, EMU_LOG, "notification data lost (conversion)");
  if (h->api == EMU_V2) {
    HCS_EVENT_CALLBACK cb = h->ev_cb;
    void *ctx = h->ev_ctx;
    HCS_EVENT event = {(HCS_EVENT_TYPE)ev->type, (PCWSTR)w, NULL};
    invoke_begin(h);
    cb(&event, ctx);
  } else {
    HCS_NOTIFICATION_CALLBACK cb = h->nt_cb;
    void *ctx = h->nt_ctx;
    invoke_begin(h);
    cb(ev->type, ctx, ev->status, (PCWSTR)w);
  }
  cow__free(w);
  invoke_end(e, h);
  cow__emu_event_free(ev);
}

static void deliver_op(struct emu *e, struct emu_event *ev)
{
  uintptr_t opv = ev->handle;
  cow__emu_event_free(ev);
  struct emu_handle *oh = cow__emu_handle_lookup(e, opv, EMU_H_OPERATION, EMU_V2);
  if (oh == NULL)
    return; /* closed in flight: no callback */
  struct emu_op *op = oh->op;
  if (op->cb != NULL) {
    HCS_OPERATION_COMPLETION cb = op->cb;
    void *ctx = op->ctx;
    invoke_begin(oh);
    cb((HCS_OPERATION)opv, ctx); /* the operation may be closed inside */
    invoke_end(e, oh);
    return;
  }
  /* No completion callback: the handle's event callback, when it asked for them. */
  uintptr_t target = op->proc_handle ? op->proc_handle : op->sys_handle;
  struct emu_handle *h = cow__emu_handle_lookup(e, target, EMU_H_FREE, EMU_V2);
  if (h == NULL || h->ev_cb == NULL || !(h->ev_options & HcsEventOptionEnableOperationCallbacks))
    return;
  HCS_EVENT_CALLBACK cb = h->ev_cb;
  void *ctx = h->ev_ctx;
  HCS_EVENT event = {HcsEventOperationCallback, NULL, (HCS_OPERATION)opv};
  invoke_begin(h);
  cb(&event, ctx);
  invoke_end(e, h);
}

/* The first queued item that is due and not held back by an earlier item with the same
 * key. *wait_ns receives the earliest due time among the eligible items otherwise. */
static struct emu_event *pick(struct emu *e, uint64_t now, uint64_t *wait_ns)
{
  struct emu_event *prev = NULL;
  *wait_ns = UINT64_MAX;
  for (struct emu_event *ev = e->q_head; ev != NULL; prev = ev, ev = ev->next) {
    int blocked = 0;
    if (ev->key != NULL)
      for (struct emu_event *b = e->q_head; b != ev; b = b->next)
        if (b->key == ev->key) {
          blocked = 1;
          break;
        }
    if (blocked)
      continue;
    if (ev->due_ns <= now) {
      if (prev != NULL)
        prev->next = ev->next;
      else
        e->q_head = ev->next;
      if (e->q_tail == ev)
        e->q_tail = prev;
      ev->next = NULL;
      return ev;
    }
    if (ev->due_ns < *wait_ns)
      *wait_ns = ev->due_ns;
  }
  return NULL;
}

static void teardown(struct emu *e)
{
  /* No handle is left: whatever still runs belongs to nobody. */
  for (struct emu_system *s = e->systems; s != NULL; s = s->next)
    cow__emu_system_signal_all(s, 9 /* SIGKILL */);
  cow__emu_reaper_wake(e);
  pthread_mutex_unlock(&cow__emu_lock);
  pthread_join(e->reaper, NULL);
  pthread_mutex_lock(&cow__emu_lock);
  while (e->q_head != NULL) {
    struct emu_event *ev = e->q_head;
    e->q_head = ev->next;
    if (ev->kind == EMU_EV_JOB && ev->sys != NULL)
      cow__emu_system_unref(e, ev->sys); /* may free an unlisted system */
    cow__emu_event_free(ev);
  }
  e->q_tail = NULL;
  while (e->systems != NULL) {
    struct emu_system *s = e->systems;
    e->systems = s->next;
    s->listed = 0;
    s->refs = 1; /* jobs that held references were just dropped */
    cow__emu_system_unref(e, s);
  }
  cow__free(e->table);
  cow__free(e->gens);
  e->table = NULL;
  e->gens = NULL;
  e->table_len = 0;
  close(e->wake_fd);
}

void *cow__emu_dispatcher_main(void *arg)
{
  struct emu *e = arg;
  cow__emu_mark_dispatcher();
  pthread_mutex_lock(&cow__emu_lock);
  while (!e->quit) {
    uint64_t wait_ns;
    struct emu_event *ev = pick(e, cow__emu_now_ns(), &wait_ns);
    if (ev == NULL) {
      if (wait_ns == UINT64_MAX) {
        pthread_cond_wait(&e->cv, &cow__emu_lock);
      } else {
        struct timespec ts = {(time_t)(wait_ns / 1000000000u), (long)(wait_ns % 1000000000u)};
        pthread_cond_timedwait(&e->cv, &cow__emu_lock, &ts);
      }
      continue;
    }
    if (ev->kind == EMU_EV_JOB) {
      struct emu_system *s = ev->sys;
      ev->job(ev); /* under the lock; may turn ev into a delivery */
      if (s != NULL)
        cow__emu_system_unref(e, s);
      ev->sys = NULL;
    }
    if (e->disconnected && ev->kind == EMU_EV_NOTIFY &&
        ev->type != COW__HCS_V1_NOTIFY_SERVICE_DISCONNECT &&
        ev->type != COW__HCS_V2_EVENT_SERVICE_DISCONNECT)
      ev->kind = EMU_EV_NONE; /* nothing is reported after the disconnect */
    switch (ev->kind) {
    case EMU_EV_NOTIFY:
      deliver_notify(e, ev);
      break;
    case EMU_EV_OP_DONE:
      deliver_op(e, ev);
      break;
    default:
      cow__emu_event_free(ev);
      break;
    }
  }
  teardown(e);
  pthread_mutex_unlock(&cow__emu_lock);
  return NULL;
}

/* The handle base: references, the id, timeouts, close and finalisation.
 *
 * Lifetime (libuv's close rule): the user holds one reference until close; every pending
 * op, open stdio handle, child process and backend ref holds another. Close cancels the
 * user side of pending ops and drops the user's reference; when the count reaches zero a
 * finalisation event is queued, which unregisters the id (late foreign events are then
 * dropped), runs the backend's fini, then the user's close callback, then frees. */
#include "core/handle.h"

#include <string.h>

#include "core/alloc.h"
#include "core/log.h"

static const uint64_t default_timeouts[COW_TIMEOUT__MAX] = {
    [COW_TIMEOUT_SHUTDOWN] = 30000,
    [COW_TIMEOUT_TERMINATE] = 30000,
    [COW_TIMEOUT_STDIO_DRAIN] = 1000,
    [COW_TIMEOUT_STOP] = 30000,
};

static void finalize_run(struct cow__event *ev)
{
  struct cow__handle *h = cow__container_of(ev, struct cow__handle, fin_ev);
  struct cow__loop *lp = h->lp;
  cow__loop_activity(lp, -1);
  cow__id_unregister(h->id);
  switch (h->type) {
  case COW__PROCESS:
    cow__process_finalize(h);
    break;
  case COW__HOST:
    cow__host_finalize(h);
    break;
  case COW__CONTAINER:
    cow__container_finalize(h);
    break;
  }
  /* h is freed now. The loop state goes last: finalisers may still post to it. */
  cow__loop_release(lp);
}

/* A table of its own with `ms` (refs 1), or NULL without memory. */
static struct cow__timeouts *timeouts_new(const uint64_t ms[COW_TIMEOUT__MAX])
{
  struct cow__timeouts *t = cow__malloc(sizeof *t);
  if (t == NULL)
    return NULL;
  t->refs = 1;
  memcpy(t->ms, ms, sizeof t->ms);
  return t;
}

void cow__handle_free_timeouts(struct cow__handle *h)
{
  struct cow__timeouts *t = h->timeouts;
  h->timeouts = NULL;
  if (t != NULL && --t->refs == 0)
    cow__free(t);
}

int cow__handle_init(struct cow__handle *h, enum cow__htype type, uv_loop_t *loop, void *object,
                     const struct cow__handle *inherit)
{
  h->type = type;
  h->refs = 1;
  cow__list_init(&h->ops);
  h->fin_ev.run = finalize_run;
  if (inherit != NULL) {
    h->timeouts = inherit->timeouts;
    h->timeouts->refs++;
  } else if ((h->timeouts = timeouts_new(default_timeouts)) == NULL) {
    return COW_ENOMEM;
  }
  int rc = cow__loop_acquire(loop, &h->lp);
  if (rc == 0) {
    rc = cow__id_register(h->lp, object, &h->id);
    if (rc == 0)
      return 0;
    cow__loop_release(h->lp);
    h->lp = NULL;
  }
  cow__handle_free_timeouts(h);
  return rc;
}

void cow__handle_destroy(struct cow__handle *h)
{
  if (h->lp == NULL)
    return;
  cow__id_unregister(h->id);
  cow__loop_release(h->lp);
  h->lp = NULL;
}

void cow__handle_ref(struct cow__handle *h)
{
  h->refs++;
}

void cow__handle_unref(struct cow__handle *h)
{
  if (h->refs == 0) {
    cow__log(COW_LOG_ERROR, "core", "reference count underflow on handle %llu",
             (unsigned long long)h->id);
    return;
  }
  if (--h->refs == 0) {
    cow__loop_activity(h->lp, +1);
    cow__loop_post(h->lp, &h->fin_ev);
  }
}

int cow__handle_close(struct cow__handle *h, void (*close_cb)(void), void *data,
                      void (*backend_close)(struct cow__handle *h))
{
  if (h->flags & COW__CLOSING)
    return COW_ECLOSING;
  h->flags |= COW__CLOSING;
  h->close_cb = close_cb;
  h->close_data = data;
  /* The user side of every pending op completes now, before the close callback (they are
   * queued first); the backend must still complete its side from its close slot. */
  while (!cow__list_empty(&h->ops)) {
    cow_op_t *op = cow__container_of(h->ops.next, cow_op_t, link);
    cow__op_finish(op, COW_ECANCELED, NULL);
  }
  if (backend_close != NULL)
    backend_close(h);
  cow__handle_unref(h);
  return 0;
}

int cow__handle_set_timeout(struct cow__handle *h, cow_timeout_kind_t kind, uint64_t ms)
{
  if ((int)kind < 0 || kind >= COW_TIMEOUT__MAX)
    return COW_EINVAL;
  struct cow__timeouts *t = h->timeouts;
  if (t->ms[kind] == ms)
    return 0;
  if (t->refs > 1) { /* shared: the others keep the values they have */
    struct cow__timeouts *own = timeouts_new(t->ms);
    if (own == NULL)
      return COW_ENOMEM;
    t->refs--;
    h->timeouts = t = own;
  }
  t->ms[kind] = ms;
  return 0;
}

/* Round a struct size up so that backend state placed after it is suitably aligned. */
size_t cow__priv_offset(size_t base_size)
{
  const size_t a = _Alignof(max_align_t);
  return (base_size + a - 1) / a * a;
}

void cow__wall_clock(cow_timestamp_t *out)
{
  uv_timeval64_t tv;
  if (uv_gettimeofday(&tv) != 0) {
    out->sec = 0; /* cannot fail with a valid argument; an epoch time is recognisable */
    out->nsec = 0;
    return;
  }
  out->sec = tv.tv_sec;
  out->nsec = tv.tv_usec * 1000;
}

/* Console resizes, in order, for every backend. A guest agent serves requests in parallel,
 * so two resizes in flight can be applied in either order and leave the console at the
 * older size. The core therefore keeps at most one resize request per process in flight
 * (the "carrier", an internal op handed to the backend); callers that ask meanwhile wait
 * for the next request, which carries only the newest size. Every caller's op is
 * completed exactly once with the result of the request that served it (COW_ECANCELED at
 * close, its own COW_ETIMEDOUT if it has a timeout). */
#include "core/handle.h"
#include "core/log.h"

static void carrier_delivered(cow_process_t *p, int status, const cow_error_t *err, void *data);

/* Complete the backend side of every op in `list` (the user side too, if still open). */
static void complete_all(cow_op_t *list, int status, const cow_error_t *err)
{
  while (list != NULL) {
    cow_op_t *next = list->next_rider;
    list->next_rider = NULL;
    cow_op_complete(list, status, err);
    list = next;
  }
}

/* Hand the newest size to the backend for the callers in p->resize_waiting. Returns 0 or
 * the backend's refusal (the waiting callers are then left to the caller). */
static int send_next(cow_process_t *p)
{
  cow_op_t *carrier;
  int rc = cow__op_new(&p->base, "resize_console", COW__CB_PROCESS,
                       (void (*)(void))carrier_delivered, NULL, COW_TIMEOUT_RESIZE, 1, &carrier);
  if (rc != 0)
    return rc;
  p->resize_carrier = carrier;
  p->resize_riders = p->resize_waiting;
  p->resize_waiting = NULL;
  rc = p->ops->resize_console(p, p->resize_width, p->resize_height, carrier);
  if (rc < 0) {
    if (!carrier->backend_done && !carrier->user_done)
      cow__op_discard(carrier);
    p->resize_carrier = NULL;
    p->resize_waiting = p->resize_riders;
    p->resize_riders = NULL;
    return rc;
  }
  cow__op_arm(carrier);
  return 0;
}

static void carrier_delivered(cow_process_t *p, int status, const cow_error_t *err, void *data)
{
  (void)data;
  cow_op_t *riders = p->resize_riders;
  p->resize_riders = NULL;
  p->resize_carrier = NULL;
  complete_all(riders, status, err);
  if (p->resize_waiting == NULL)
    return;
  int rc = COW_ECANCELED;
  if (!(p->base.flags & COW__CLOSING)) {
    /* Exited meanwhile: as for a resize asked after the exit, nothing to do. */
    rc = p->exit_reported && !cow__process_lost(p) ? 0 : send_next(p);
    if (rc == 0 && p->resize_carrier != NULL)
      return;
  }
  cow_op_t *waiting = p->resize_waiting;
  p->resize_waiting = NULL;
  complete_all(waiting, rc, NULL);
}

int cow__process_resize(cow_process_t *p, uint16_t width, uint16_t height, cow_process_cb cb,
                        void *data)
{
  cow_op_t *op;
  int rc = cow__op_new(&p->base, "resize_console", COW__CB_PROCESS, (void (*)(void))cb, data,
                       COW_TIMEOUT_RESIZE, 1, &op);
  if (rc != 0)
    return rc;
  p->resize_width = width;
  p->resize_height = height;
  /* Behind the request in flight: served by the next one, with the newest size. */
  cow_op_t **tail = &p->resize_waiting;
  while (*tail != NULL)
    tail = &(*tail)->next_rider;
  *tail = op;
  if (p->resize_carrier == NULL && (rc = send_next(p)) != 0) {
    p->resize_waiting = NULL; /* only this op can be waiting when nothing is in flight */
    cow__op_discard(op);
    return rc;
  }
  cow__op_arm(op);
  return 0;
}

/* Operations: one per asynchronous call, owned by the core.
 *
 * An op has two sides. The user side is decided exactly once, by the first of: the
 * backend's cow_op_complete(), the core's timeout, cancellation at close. Its callback is
 * always delivered through the loop queue, so it never runs inside the call that started
 * the op nor inside a backend's completion. The backend side ends when the backend calls
 * cow_op_complete(); the op is freed once both sides are over. */
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/handle.h"
#include "core/log.h"
#include "core/stats.h"

static void op_free_now(cow_op_t *op)
{
  struct cow__handle *owner = op->owner;
  cow_error_clear(&op->err);
  cow__free(op->json); /* or op->result: the same storage */
  cow__free(op);
  cow__handle_unref(owner);
}

static void op_maybe_free(cow_op_t *op)
{
  if (op->delivered && op->backend_done)
    op_free_now(op); /* its deadline was disarmed when the user side was decided */
}

static void op_deliver(struct cow__event *ev)
{
  cow_op_t *op = cow__container_of(ev, cow_op_t, ev);
  const cow_error_t *err = op->status < 0 ? &op->err : NULL;
  void *owner = op->owner; /* every handle struct starts with its base */
  switch (op->kind) {
  case COW__CB_PROCESS:
    ((cow_process_cb)op->cb)(owner, op->status, err, op->data);
    break;
  case COW__CB_WAIT:
    ((cow_process_wait_cb)op->cb)(owner, op->status, op->exit_code, err, op->data);
    break;
  case COW__CB_CONTAINER:
    ((cow_container_cb)op->cb)(owner, op->status, err, op->data);
    break;
  case COW__CB_JSON:
    ((cow_container_json_cb)op->cb)(owner, op->status, op->status == 0 ? op->json : NULL, err,
                                    op->data);
    break;
  case COW__CB_PROCESS_LIST:
    ((cow_container_process_list_cb)op->cb)(owner, op->status, op->status == 0 ? op->result : NULL,
                                            err, op->data);
    break;
  case COW__CB_STATISTICS:
    ((cow_container_statistics_cb)op->cb)(owner, op->status, op->status == 0 ? op->result : NULL,
                                          err, op->data);
    break;
  case COW__CB_PROCESS_STOP:
    ((cow_process_stop_cb)op->cb)(owner, op->status, op->status == 0 ? op->exit_code : -1,
                                  op->forced, err, op->data);
    break;
  case COW__CB_CONTAINER_STOP:
    ((cow_container_stop_cb)op->cb)(owner, op->status, op->forced, err, op->data);
    break;
  case COW__CB_HOST: {
    cow_host_t *h = owner;
    if (op->owner->type == COW__CONTAINER)
      h = &((cow_container_t *)owner)->host;
    ((cow_host_cb)op->cb)(h, op->status, err, op->data);
    break;
  }
  }
  op->delivered = 1;
  cow__loop_activity(op->owner->lp, -1);
  op_maybe_free(op);
}

static void op_timeout(struct cow__deadline *d)
{
  cow_op_t *op = cow__container_of(d, cow_op_t, deadline);
  struct cow__handle *owner = op->owner;
  cow_error_t err = COW_ERROR_INIT;
  cow__error_set(&err, COW_ETIMEDOUT, COW_DOMAIN_LIB, 0, op->name, NULL,
                 "%s timed out after %llu ms", op->name, (unsigned long long)op->timeout_ms);
  cow__op_finish(op, COW_ETIMEDOUT, &err);
  cow_error_clear(&err);
  cow__log(COW_LOG_WARN, "core", "operation %s on handle %llu timed out", op->name,
           (unsigned long long)owner->id);
  if (op->backend_done)
    return;
  /* Tell the backend it may abandon the work; it still completes its side (and if it does
   * so right here with COW_ETIMEDOUT and a message, that message says better what was
   * missing than the generic one: see cow_op_complete). */
  op->in_timeout = 1;
  switch (owner->type) {
  case COW__PROCESS: {
    cow_process_t *p = (cow_process_t *)owner;
    if (p->ops->timeout)
      p->ops->timeout(p, op);
    break;
  }
  case COW__HOST: {
    cow_host_t *h = (cow_host_t *)owner;
    if (h->ops->timeout)
      h->ops->timeout(h, op);
    break;
  }
  case COW__CONTAINER: {
    cow_container_t *c = (cow_container_t *)owner;
    if (c->ops->timeout)
      c->ops->timeout(c, op);
    break;
  }
  }
  op->in_timeout = 0;
}

int cow__op_new(struct cow__handle *owner, const char *name, enum cow__cb_kind kind,
                void (*cb)(void), void *data, cow_timeout_kind_t timeout, int backend_part,
                cow_op_t **out)
{
  *out = NULL;
  cow_op_t *op = cow__calloc(1, sizeof *op);
  if (op == NULL)
    return COW_ENOMEM;
  op->owner = owner;
  op->name = name;
  op->kind = kind;
  op->cb = cb;
  op->data = data;
  op->exit_code = -1;
  op->backend_done = !backend_part;
  op->is_wait = kind == COW__CB_WAIT;
  op->ev.run = op_deliver;
  cow__deadline_init(&op->deadline, op_timeout);
  cow__handle_ref(owner);
  cow__list_insert_tail(&owner->ops, &op->link);
  cow__loop_activity(owner->lp, +1);
  op->timeout_ms =
      (int)timeout >= 0 && timeout < COW_TIMEOUT__MAX ? cow__handle_timeout(owner, timeout) : 0;
  *out = op;
  return 0;
}

void cow__op_arm(cow_op_t *op)
{
  if (op->user_done || cow__deadline_armed(&op->deadline) || op->timeout_ms == 0)
    return;
  cow__deadline_arm(op->owner->lp, &op->deadline, op->timeout_ms);
}

void cow__op_discard(cow_op_t *op)
{
  /* Only for ops never armed nor handed to a backend: no timer, nothing queued, so the op
   * goes synchronously and a failing constructor may then free its handle at once. */
  if (!op->user_done)
    cow__list_remove(&op->link);
  cow__loop_activity(op->owner->lp, -1);
  op_free_now(op);
}

void cow__op_finish(cow_op_t *op, int status, const cow_error_t *err)
{
  if (op->user_done)
    return;
  op->user_done = 1;
  cow__list_remove(&op->link);
  cow__deadline_cancel(op->owner->lp, &op->deadline);
  cow_error_t missing = COW_ERROR_INIT;
  if (status == 0 && op->result == NULL &&
      (op->kind == COW__CB_PROCESS_LIST || op->kind == COW__CB_STATISTICS)) {
    /* A backend that reports success without its result: the callback is promised one. */
    status = COW_EPROTOCOL;
    cow__error_set(&missing, status, COW_DOMAIN_LIB, 0, op->name, NULL,
                   "the backend completed %s without a result", op->name);
    err = &missing;
  }
  op->status = status;
  if (status < 0) {
    if (err == NULL || cow_error_copy(&op->err, err) != 0 || op->err.code == 0) {
      /* No detail (or no memory for it): the code and a generic message still arrive. */
      op->err.code = status;
      if (op->err.domain == COW_DOMAIN_NONE)
        op->err.domain = COW_DOMAIN_LIB;
      if (op->err.message == NULL)
        op->err.message = cow__strdup(cow_strerror(status));
    }
    if (op->err.operation == NULL)
      op->err.operation = op->name;
  }
  cow_error_clear(&missing);
  if (op->on_result)
    op->on_result(op);
  cow__loop_post(op->owner->lp, &op->ev);
}

void cow_op_complete(cow_op_t *op, int status, const cow_error_t *err)
{
  if (op == NULL)
    return;
  if (op->backend_done) {
    cow__log(COW_LOG_ERROR, "core", "backend completed operation %s twice", op->name);
    return;
  }
  op->backend_done = 1;
  if (status > 0)
    status = 0;
  if (op->user_done && op->in_timeout && !op->delivered && status == COW_ETIMEDOUT &&
      op->status == COW_ETIMEDOUT && err != NULL && err->message != NULL) {
    /* The backend explains the timeout it was just told of; the callback is still queued. */
    cow_error_t better = COW_ERROR_INIT;
    if (cow_error_copy(&better, err) == 0) {
      if (better.operation == NULL)
        better.operation = op->err.operation;
      cow_error_move(&op->err, &better);
    }
    cow_error_clear(&better);
  }
  if (!op->user_done)
    cow__op_finish(op, status, err);
  else
    op_maybe_free(op);
}

int cow_op_set_json(cow_op_t *op, const char *json)
{
  /* The document and the typed results share storage: each op takes only its own kind. */
  if (op == NULL || json == NULL || op->kind == COW__CB_PROCESS_LIST ||
      op->kind == COW__CB_STATISTICS)
    return COW_EINVAL;
  char *copy = cow__strdup(json);
  if (copy == NULL)
    return COW_ENOMEM;
  cow__free(op->json);
  op->json = copy;
  return 0;
}

int cow_op_set_process_list(cow_op_t *op, const cow_process_info_t *items, size_t count)
{
  if (op == NULL || (items == NULL && count > 0) || op->kind != COW__CB_PROCESS_LIST)
    return COW_EINVAL;
  cow_process_list_t *list = cow__process_list_new(items, count);
  if (list == NULL)
    return COW_ENOMEM;
  cow__free(op->result);
  op->result = list;
  return 0;
}

int cow_op_set_statistics(cow_op_t *op, const cow_statistics_t *stats)
{
  if (op == NULL || stats == NULL || op->kind != COW__CB_STATISTICS)
    return COW_EINVAL;
  cow_statistics_t *copy = cow__statistics_dup(stats);
  if (copy == NULL)
    return COW_ENOMEM;
  cow__free(op->result);
  op->result = copy;
  return 0;
}

const char *cow_op_name(const cow_op_t *op)
{
  return op ? op->name : NULL;
}

int cow_op_abandoned(const cow_op_t *op)
{
  return op != NULL && op->user_done;
}

void cow_op_set_backend_data(cow_op_t *op, void *data)
{
  if (op)
    op->backend_data = data;
}

void *cow_op_get_backend_data(const cow_op_t *op)
{
  return op ? op->backend_data : NULL;
}

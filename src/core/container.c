/* The container interface: dispatch, the exit state and its waiters. */
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/handle.h"

#define CHECK_OPEN(c)                                                                              \
  do {                                                                                             \
    if ((c) == NULL)                                                                               \
      return COW_EINVAL;                                                                           \
    if ((c)->base.flags & COW__CLOSING)                                                            \
      return COW_ECLOSING;                                                                         \
  } while (0)

static void container_free(cow_container_t *c)
{
  cow__handle_free_timeouts(&c->base);
  cow_error_clear(&c->exit_err);
  cow__free(c->id);
  cow__free(c);
}

int cow_container_new(cow_container_t **out, struct uv_loop_s *loop,
                      const struct cow_container_ops *ops, const char *id)
{
  if (out == NULL)
    return COW_EINVAL;
  *out = NULL;
  if (loop == NULL || ops == NULL || id == NULL)
    return COW_EINVAL;
  if (ops->version < 1 || ops->version > COW_CONTAINER_OPS_VERSION)
    return COW_EVERSION; /* 1..current are valid: each slot is read only if its version has it */
  if (ops->host_ops != NULL &&
      (ops->host_ops->version < 1 || ops->host_ops->version > COW_HOST_OPS_VERSION))
    return COW_EVERSION;
  size_t off = cow__priv_offset(sizeof(cow_container_t));
  cow_container_t *c = cow__calloc(1, off + ops->priv_size);
  if (c == NULL)
    return COW_ENOMEM;
  c->id = cow__strdup(id);
  if (c->id == NULL) {
    cow__free(c);
    return COW_ENOMEM;
  }
  int rc = cow__handle_init(&c->base, COW__CONTAINER, loop, c, NULL);
  if (rc != 0) {
    container_free(c);
    return rc;
  }
  c->base.priv = ops->priv_size ? (char *)c + off : NULL;
  c->ops = ops;
  /* The host view: its ops are the container's host_ops; without them the container
   * cannot run processes, and the view answers COW_ENOTSUP. */
  static const struct cow_host_ops no_host_ops = {.version = COW_HOST_OPS_VERSION, .name = "none"};
  c->host.ops = ops->host_ops ? ops->host_ops : &no_host_ops;
  c->host.container = c;
  if (ops->init != NULL && (rc = ops->init(c)) < 0) {
    if (ops->fini != NULL)
      ops->fini(c);
    cow__handle_destroy(&c->base);
    container_free(c);
    return rc;
  }
  *out = c;
  return 0;
}

void cow__container_finalize(struct cow__handle *h)
{
  cow_container_t *c = (cow_container_t *)h;
  if (c->ops->fini != NULL)
    c->ops->fini(c);
  cow_container_close_cb cb = (cow_container_close_cb)h->close_cb;
  if (cb != NULL)
    cb(c, h->close_data);
  container_free(c);
}

static void container_backend_close(struct cow__handle *h)
{
  cow_container_t *c = (cow_container_t *)h;
  if (c->ops->close != NULL)
    c->ops->close(c);
}

int cow_container_close(cow_container_t *c, cow_container_close_cb cb, void *data)
{
  CHECK_OPEN(c);
  return cow__handle_close(&c->base, (void (*)(void))cb, data, container_backend_close);
}

const char *cow_container_id(const cow_container_t *c)
{
  return c ? c->id : NULL;
}

static int new_op(cow_container_t *c, const char *name, enum cow__cb_kind kind, void (*cb)(void),
                  void *data, cow_timeout_kind_t t, int backend, cow_op_t **op)
{
  return cow__op_new(&c->base, name, kind, cb, data, t, backend, op);
}

/* The calls that hand one document to the backend: properties, properties_v2, modify. */
static int doc_call(cow_container_t *c, const char *name, enum cow__cb_kind kind,
                    int (*slot)(cow_container_t *, const char *, cow_op_t *), const char *doc,
                    cow_timeout_kind_t t, void (*cb)(void), void *data)
{
  CHECK_OPEN(c);
  if (cb == NULL)
    return COW_EINVAL;
  if (slot == NULL)
    return COW_ENOTSUP;
  cow_op_t *op;
  int rc = new_op(c, name, kind, cb, data, t, 1, &op);
  if (rc != 0)
    return rc;
  COW__OP_START(op, slot(c, doc, op));
  return 0;
}

int cow_container_properties(cow_container_t *c, const char *query_json, cow_container_json_cb cb,
                             void *data)
{
  return doc_call(c, "properties", COW__CB_JSON, c ? c->ops->properties : NULL, query_json,
                  COW_TIMEOUT_PROPERTIES, (void (*)(void))cb, data);
}

int cow_container_properties_v2(cow_container_t *c, const char *query_json,
                                cow_container_json_cb cb, void *data)
{
  return doc_call(c, "properties_v2", COW__CB_JSON, c ? c->ops->properties_v2 : NULL, query_json,
                  COW_TIMEOUT_PROPERTIES, (void (*)(void))cb, data);
}

/* The calls whose slot takes only the op: start, shutdown, terminate, pause, resume, and the
 * typed queries (kind COW__CB_PROCESS_LIST, COW__CB_STATISTICS: the backend attaches the
 * result before completing). ok_after_exit: stopping what has stopped succeeds. */
static int simple_call(cow_container_t *c, const char *name, enum cow__cb_kind kind,
                       int (*slot)(cow_container_t *, cow_op_t *), cow_timeout_kind_t t,
                       int ok_after_exit, void (*cb)(void), void *data)
{
  CHECK_OPEN(c);
  if (cb == NULL)
    return COW_EINVAL;
  if (slot == NULL)
    return COW_ENOTSUP;
  cow_op_t *op;
  /* Contact lost (the exit was reported with COW_EBRIDGE_CLOSED, not seen): the container
   * may still run, so this is no "already stopped"; it fails like every later call. */
  if (ok_after_exit && c->exited && c->exit_err.code == COW_EBRIDGE_CLOSED)
    return COW_EBRIDGE_CLOSED;
  /* Stopping what has already stopped succeeds, without bothering the backend. */
  if (ok_after_exit && c->exited) {
    int rc = new_op(c, name, kind, cb, data, t, 0, &op);
    if (rc == 0)
      cow__op_finish(op, 0, NULL);
    return rc;
  }
  int rc = new_op(c, name, kind, cb, data, t, 1, &op);
  if (rc != 0)
    return rc;
  COW__OP_START(op, slot(c, op));
  return 0;
}

int cow_container_start(cow_container_t *c, cow_container_cb cb, void *data)
{
  return simple_call(c, "start", COW__CB_CONTAINER, c ? c->ops->start : NULL, COW_TIMEOUT_START, 0,
                     (void (*)(void))cb, data);
}

int cow_container_shutdown(cow_container_t *c, cow_container_cb cb, void *data)
{
  return simple_call(c, "shutdown", COW__CB_CONTAINER, c ? c->ops->shutdown : NULL,
                     COW_TIMEOUT_SHUTDOWN, 1, (void (*)(void))cb, data);
}

int cow_container_terminate(cow_container_t *c, cow_container_cb cb, void *data)
{
  return simple_call(c, "terminate", COW__CB_CONTAINER, c ? c->ops->terminate : NULL,
                     COW_TIMEOUT_TERMINATE, 1, (void (*)(void))cb, data);
}

int cow_container_pause(cow_container_t *c, cow_container_cb cb, void *data)
{
  return simple_call(c, "pause", COW__CB_CONTAINER, c ? COW__SLOT(c->ops, 2, pause) : NULL,
                     COW_TIMEOUT_PAUSE, 0, (void (*)(void))cb, data);
}

int cow_container_resume(cow_container_t *c, cow_container_cb cb, void *data)
{
  return simple_call(c, "resume", COW__CB_CONTAINER, c ? COW__SLOT(c->ops, 2, resume) : NULL,
                     COW_TIMEOUT_PAUSE, 0, (void (*)(void))cb, data);
}

int cow_container_process_list(cow_container_t *c, cow_container_process_list_cb cb, void *data)
{
  return simple_call(c, "process_list", COW__CB_PROCESS_LIST,
                     c ? COW__SLOT(c->ops, 3, process_list) : NULL, COW_TIMEOUT_PROPERTIES, 0,
                     (void (*)(void))cb, data);
}

int cow_container_statistics(cow_container_t *c, cow_container_statistics_cb cb, void *data)
{
  return simple_call(c, "statistics", COW__CB_STATISTICS,
                     c ? COW__SLOT(c->ops, 3, statistics) : NULL, COW_TIMEOUT_PROPERTIES, 0,
                     (void (*)(void))cb, data);
}

int cow_container_modify(cow_container_t *c, const char *request_json, cow_container_cb cb,
                         void *data)
{
  if (request_json == NULL)
    return COW_EINVAL;
  return doc_call(c, "modify", COW__CB_CONTAINER, c ? c->ops->modify : NULL, request_json,
                  COW_TIMEOUT_MODIFY, (void (*)(void))cb, data);
}

int cow_container_wait(cow_container_t *c, cow_container_cb cb, void *data)
{
  CHECK_OPEN(c);
  if (cb == NULL)
    return COW_EINVAL;
  cow_op_t *op;
  int rc = new_op(c, "wait", COW__CB_CONTAINER, (void (*)(void))cb, data, COW_TIMEOUT_WAIT, 0, &op);
  if (rc != 0)
    return rc;
  op->is_wait = 1;
  if (c->exited)
    cow__op_finish(op, c->exit_err.code, c->exit_err.code < 0 ? &c->exit_err : NULL);
  else
    cow__op_arm(op);
  return 0;
}

int cow_container_exited(const cow_container_t *c)
{
  return c != NULL && c->exited;
}

int cow_container_wait_error(const cow_container_t *c, cow_error_t *out)
{
  if (c == NULL)
    return COW_EINVAL;
  if (!c->exited)
    return COW_ENOT_EXITED;
  if (out != NULL) {
    if (c->exit_err.code < 0)
      cow_error_copy(out, &c->exit_err);
    else
      cow_error_clear(out);
  }
  return c->exit_err.code;
}

int cow_container_exit_time(cow_timestamp_t *out, const cow_container_t *c)
{
  if (c == NULL || out == NULL)
    return COW_EINVAL;
  if (!c->exited)
    return COW_ENOT_EXITED;
  *out = c->exit_time;
  return 0;
}

void cow_container_report_exit(cow_container_t *c, const cow_error_t *err)
{
  if (c == NULL || c->exited)
    return;
  c->exited = 1;
  cow__wall_clock(&c->exit_time);
  if (err != NULL && err->code < 0 && cow_error_copy(&c->exit_err, err) != 0)
    c->exit_err.code = err->code;
  int status = c->exit_err.code;
  for (cow__list *n = c->base.ops.next; n != &c->base.ops;) {
    cow_op_t *op = cow__container_of(n, cow_op_t, link);
    n = n->next;
    if (op->is_wait)
      cow__op_finish(op, status, status < 0 ? &c->exit_err : NULL);
  }
}

cow_host_t *cow_container_host(cow_container_t *c)
{
  return c ? &c->host : NULL;
}

int cow_container_set_timeout(cow_container_t *c, cow_timeout_kind_t kind, uint64_t timeout_ms)
{
  if (c == NULL)
    return COW_EINVAL;
  return cow__handle_set_timeout(&c->base, kind, timeout_ms);
}

void cow_container_set_data(cow_container_t *c, void *data)
{
  if (c)
    c->base.data = data;
}

void *cow_container_get_data(const cow_container_t *c)
{
  return c ? c->base.data : NULL;
}

void *cow_container_priv(const cow_container_t *c)
{
  return c ? c->base.priv : NULL;
}

uint64_t cow_container_event_id(const cow_container_t *c)
{
  return c ? c->base.id : 0;
}

void cow_container_ref(cow_container_t *c)
{
  if (c)
    cow__handle_ref(&c->base);
}

void cow_container_unref(cow_container_t *c)
{
  if (c)
    cow__handle_unref(&c->base);
}

int cow_container_is_closing(const cow_container_t *c)
{
  return c != NULL && (c->base.flags & COW__CLOSING) != 0;
}

int cow_container_op_new(cow_op_t **out, cow_container_t *c, const char *name,
                         cow_timeout_kind_t timeout, cow_container_cb cb, void *data)
{
  if (out == NULL)
    return COW_EINVAL;
  *out = NULL;
  CHECK_OPEN(c);
  if (name == NULL || cb == NULL)
    return COW_EINVAL;
  int rc = new_op(c, name, COW__CB_CONTAINER, (void (*)(void))cb, data, timeout, 1, out);
  if (rc == 0)
    cow__op_arm(*out);
  return rc;
}

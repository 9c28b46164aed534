/* The process interface: argument and state checks, dispatch to the backend, the exit
 * snapshot and its waiters. Stdio lives in stdio.c. */
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/handle.h"
#include "core/log.h"

#define CHECK_OPEN(p)                                                                              \
  do {                                                                                             \
    if ((p) == NULL)                                                                               \
      return COW_EINVAL;                                                                           \
    if ((p)->base.flags & COW__CLOSING)                                                            \
      return COW_ECLOSING;                                                                         \
  } while (0)

static void process_deadline(struct cow__deadline *d);

/* ---- creation (called by cow_host_create_process) ---- */

static void create_result(cow_op_t *op)
{
  cow_process_t *p = (cow_process_t *)op->owner;
  if (op->status == 0) {
    p->created = 1;
    return;
  }
  /* A process that never ran still releases its waiters, with the reason. */
  cow_process_report_exit(p, -1, &op->err);
}

static void process_free(cow_process_t *p)
{
  cow__handle_free_timeouts(&p->base);
  cow__free(p->stdio); /* every stream in it is closed: each held a reference */
  cow_error_clear(&p->exit_err);
  cow__free(p);
}

int cow__process_create(cow_host_t *host, struct cow__handle *host_handle, cow_process_t **out,
                        const char *config_json, int64_t open_pid, cow_process_cb cb, void *data)
{
  const struct cow_process_ops *ops = host->ops->process_ops;
  int (*open_slot)(cow_host_t *, cow_process_t *, int64_t, cow_op_t *) =
      COW__SLOT(host->ops, 2, open_process);
  if (ops == NULL || (config_json ? host->ops->create_process == NULL : open_slot == NULL))
    return COW_ENOTSUP;
  if (ops->version < 1 || ops->version > COW_PROCESS_OPS_VERSION)
    return COW_EVERSION;
  size_t off = cow__priv_offset(sizeof(cow_process_t));
  cow_process_t *p = cow__calloc(1, off + ops->priv_size);
  if (p == NULL)
    return COW_ENOMEM;
  int rc = cow__handle_init(&p->base, COW__PROCESS, host_handle->lp->loop, p, host_handle);
  if (rc != 0) {
    cow__free(p);
    return rc;
  }
  p->base.priv = ops->priv_size ? (char *)p + off : NULL;
  p->ops = ops;
  p->host = host;
  p->pid = -1;
  p->exit_code = -1;
  cow__deadline_init(&p->deadline, process_deadline);

  cow_op_t *op;
  rc = cow__op_new(&p->base, config_json ? "create_process" : "open_process", COW__CB_PROCESS,
                   (void (*)(void))cb, data, COW_TIMEOUT_CREATE, 1, &op);
  if (rc != 0)
    goto fail;
  op->on_result = create_result;
  if (ops->init != NULL && (rc = ops->init(p)) < 0) {
    cow__op_discard(op);
    goto fail_fini;
  }
  cow__handle_ref(host_handle); /* the process keeps its host alive */
  rc = config_json ? host->ops->create_process(host, p, config_json, op)
                   : open_slot(host, p, open_pid, op);
  if (rc < 0) {
    cow__handle_unref(host_handle);
    if (!op->backend_done && !op->user_done)
      cow__op_discard(op);
    goto fail_fini;
  }
  cow__op_arm(op);
  *out = p;
  return 0;

fail_fini:
  if (ops->fini != NULL)
    ops->fini(p);
fail:
  if (p->base.lp != NULL) /* a backend may have expected an exit before failing */
    cow__deadline_cancel(p->base.lp, &p->deadline);
  cow__handle_destroy(&p->base);
  process_free(p);
  return rc;
}

void cow__process_finalize(struct cow__handle *h)
{
  cow_process_t *p = (cow_process_t *)h;
  cow__deadline_cancel(h->lp, &p->deadline); /* disarmed at close already; never left armed */
  cow__handle_unref(cow__host_handle(p->host));
  if (p->ops->fini != NULL)
    p->ops->fini(p);
  cow_process_close_cb cb = (cow_process_close_cb)h->close_cb;
  if (cb != NULL)
    cb(p, h->close_data);
  process_free(p);
}

/* ---- exit ---- */

void cow__process_publish_exit(cow_process_t *p, int status)
{
  if (p->exit_published)
    return;
  p->exit_published = 1;
  p->exit_status = status;
  cow__deadline_cancel(p->base.lp, &p->deadline);
  if (status == COW_EIO_TIMEOUT) {
    cow__error_set(&p->exit_err, COW_EIO_TIMEOUT, COW_DOMAIN_LIB, 0, "wait", NULL,
                   "the process exited with %lld but stdio did not reach end of file within "
                   "%llu ms",
                   (long long)p->exit_code,
                   (unsigned long long)cow__handle_timeout(&p->base, COW_TIMEOUT_STDIO_DRAIN));
    cow__log(COW_LOG_WARN, "core", "process %lld: exit reported before stdio drained",
             (long long)p->pid);
  }
  /* Finishing removes the op from the list: restart from the head each time. */
  for (cow__list *n = p->base.ops.next; n != &p->base.ops;) {
    cow_op_t *op = cow__container_of(n, cow_op_t, link);
    n = n->next;
    if (!op->is_wait)
      continue;
    op->exit_code = (status == 0 || status == COW_EIO_TIMEOUT) ? p->exit_code : -1;
    cow__op_finish(op, status, status < 0 ? &p->exit_err : NULL);
  }
}

void cow__process_drain_progress(cow_process_t *p)
{
  /* The drain timeout bounds a pause in the output, not the whole drain: a process that
   * wrote 100 MB just before exiting is not cut short while its bytes still flow. The
   * deadline is not moved at every read: when it fires it looks at the last output. */
  if (cow__deadline_armed(&p->deadline) && !p->expecting_exit)
    p->drain_progress = uv_now(p->base.lp->loop);
}

static void process_deadline(struct cow__deadline *d)
{
  cow_process_t *p = cow__container_of(d, cow_process_t, deadline);
  if (p->expecting_exit) {
    p->expecting_exit = 0;
    cow__log(COW_LOG_WARN, "core",
             "process %lld: gone, but no exit was reported; releasing waiters", (long long)p->pid);
    cow_process_report_exit(p, -1, &p->exit_err); /* the error expect_exit left there */
    return;
  }
  uint64_t quiet_until = p->drain_progress + cow__handle_timeout(&p->base, COW_TIMEOUT_STDIO_DRAIN);
  uint64_t now = uv_now(p->base.lp->loop);
  if (now < quiet_until) { /* output came meanwhile: a full quiet period from the last */
    cow__deadline_arm(p->base.lp, d, quiet_until - now);
    return;
  }
  cow__process_publish_exit(p, COW_EIO_TIMEOUT);
}

void cow_process_expect_exit(cow_process_t *p, uint64_t timeout_ms, const cow_error_t *err)
{
  if (p == NULL || p->exit_reported || p->expecting_exit || (p->base.flags & COW__CLOSING))
    return;
  if (err != NULL && err->code < 0)
    cow_error_copy(&p->exit_err, err);
  if (p->exit_err.code >= 0)
    cow__error_set(&p->exit_err, COW_ESRCH, COW_DOMAIN_LIB, 0, "wait", NULL,
                   "the process exited without an exit notification");
  p->expecting_exit = 1;
  cow__deadline_arm(p->base.lp, &p->deadline, timeout_ms);
}

/* The expected exit is not awaited any more (it came, or the process is closing): no
 * deadline, and the error kept for it is dropped. */
static void stop_expecting(cow_process_t *p)
{
  if (!p->expecting_exit)
    return;
  p->expecting_exit = 0;
  cow__deadline_cancel(p->base.lp, &p->deadline);
  cow_error_clear(&p->exit_err);
}

void cow__process_check_drained(cow_process_t *p)
{
  if (!p->exit_reported || p->exit_published)
    return;
  if (cow__process_stdio_pending(p)) {
    uint64_t ms = cow__handle_timeout(&p->base, COW_TIMEOUT_STDIO_DRAIN);
    if (ms == 0 || (p->base.flags & COW__CLOSING))
      return;
    if (!cow__deadline_armed(&p->deadline)) {
      p->drain_progress = uv_now(p->base.lp->loop);
      cow__deadline_arm(p->base.lp, &p->deadline, ms);
    }
    return;
  }
  cow__process_publish_exit(p, 0);
}

void cow_process_report_exit(cow_process_t *p, int64_t exit_code, const cow_error_t *err)
{
  if (p == NULL || p->exit_reported)
    return;
  p->exit_reported = 1;
  p->exit_code = exit_code;
  cow__wall_clock(&p->exit_time);
  stop_expecting(p); /* the exit came after all: the fallback is not needed */
  if (err != NULL && err->code < 0) {
    /* No exit was observed (connection lost, create failed, the expected exit never came):
     * nothing more will come out of stdio that could be waited for, so release the
     * waiters now. The last case finds its error in place. */
    if (err != &p->exit_err && cow_error_copy(&p->exit_err, err) != 0)
      p->exit_err.code = err->code;
    p->exit_code = -1;
    cow__process_publish_exit(p, err->code);
    return;
  }
  cow__process_check_drained(p);
}

int cow__process_lost(const cow_process_t *p)
{
  return p->exit_reported && p->exit_err.code == COW_EBRIDGE_CLOSED;
}

/* ---- consumer API ---- */

static void process_backend_close(struct cow__handle *h)
{
  cow_process_t *p = (cow_process_t *)h;
  if (p->ops->close != NULL)
    p->ops->close(p);
  cow__process_stdio_close_all(p);
  /* Nothing arms it once the process is closing (check_drained, expect_exit). */
  stop_expecting(p);
  cow__deadline_cancel(p->base.lp, &p->deadline);
}

int cow_process_close(cow_process_t *p, cow_process_close_cb cb, void *data)
{
  CHECK_OPEN(p);
  return cow__handle_close(&p->base, (void (*)(void))cb, data, process_backend_close);
}

int64_t cow_process_pid(const cow_process_t *p)
{
  if (p == NULL)
    return COW_EINVAL;
  return p->created && p->pid >= 0 ? p->pid : COW_ENOT_STARTED;
}

/* An op whose result is known without the backend: it still goes through the queue. */
static int finish_now(cow_process_t *p, const char *name, cow_process_cb cb, void *data, int status)
{
  cow_op_t *op;
  int rc = cow__op_new(&p->base, name, COW__CB_PROCESS, (void (*)(void))cb, data, COW_TIMEOUT__MAX,
                       0, &op);
  if (rc != 0)
    return rc;
  cow__op_finish(op, status, NULL);
  return 0;
}

static int start_op(cow_process_t *p, const char *name, cow_timeout_kind_t t, cow_process_cb cb,
                    void *data, cow_op_t **op)
{
  return cow__op_new(&p->base, name, COW__CB_PROCESS, (void (*)(void))cb, data, t, 1, op);
}

int cow_process_resize_console(cow_process_t *p, uint16_t width, uint16_t height, cow_process_cb cb,
                               void *data)
{
  CHECK_OPEN(p);
  if (cb == NULL || width == 0 || height == 0)
    return COW_EINVAL;
  if (p->ops->resize_console == NULL)
    return COW_ENOTSUP;
  if (cow__process_lost(p))
    return COW_EBRIDGE_CLOSED;
  /* Lenient, as shims need (hcsshim#675): before start or after exit it is a no-op. */
  if (!p->created || p->exit_reported)
    return finish_now(p, "resize_console", cb, data, 0);
  return cow__process_resize(p, width, height, cb, data);
}

/* Kill and signal share their rules: refused before the process runs (containerd's
 * FailedPrecondition), answered COW_ESRCH without the backend once it has exited.
 * Returns < 0 to refuse, 1 when already answered, 0 with `*op` ready for the slot. */
static int prepare_signal(cow_process_t *p, const char *name, int has_slot, cow_process_cb cb,
                          void *data, cow_op_t **op)
{
  CHECK_OPEN(p);
  if (cb == NULL)
    return COW_EINVAL;
  if (!has_slot)
    return COW_ENOTSUP;
  if (!p->created && !p->exit_reported)
    return COW_ENOT_STARTED;
  if (cow__process_lost(p))
    return COW_EBRIDGE_CLOSED; /* not "already exited": no exit was seen */
  if (p->exit_reported) {
    int rc = finish_now(p, name, cb, data, COW_ESRCH);
    return rc < 0 ? rc : 1;
  }
  return start_op(p, name, COW_TIMEOUT_SIGNAL, cb, data, op);
}

int cow_process_kill(cow_process_t *p, cow_process_cb cb, void *data)
{
  cow_op_t *op;
  int rc = prepare_signal(p, "kill", p && p->ops->kill, cb, data, &op);
  if (rc != 0)
    return rc < 0 ? rc : 0;
  COW__OP_START(op, p->ops->kill(p, op));
  return 0;
}

int cow_process_signal(cow_process_t *p, const char *options_json, cow_process_cb cb, void *data)
{
  cow_op_t *op;
  int rc = prepare_signal(p, "signal", p && p->ops->signal, cb, data, &op);
  if (rc != 0)
    return rc < 0 ? rc : 0;
  COW__OP_START(op, p->ops->signal(p, options_json, op));
  return 0;
}

int cow_signal_options_json(char **out, int signo)
{
  if (out == NULL)
    return COW_EINVAL;
  *out = NULL;
  if (signo < 1 || signo > 64)
    return COW_EINVAL;
  char buf[sizeof "{\"Signal\":64}"];
  snprintf(buf, sizeof buf, "{\"Signal\":%d}", signo);
  *out = cow__strdup(buf);
  return *out ? 0 : COW_ENOMEM;
}

int cow_process_wait(cow_process_t *p, cow_process_wait_cb cb, void *data)
{
  CHECK_OPEN(p);
  if (cb == NULL)
    return COW_EINVAL;
  cow_op_t *op;
  int rc = cow__op_new(&p->base, "wait", COW__CB_WAIT, (void (*)(void))cb, data, COW_TIMEOUT_WAIT,
                       0, &op);
  if (rc != 0)
    return rc;
  if (p->exit_published) {
    int st = p->exit_status;
    op->exit_code = (st == 0 || st == COW_EIO_TIMEOUT) ? p->exit_code : -1;
    cow__op_finish(op, st, st < 0 ? &p->exit_err : NULL);
  } else {
    cow__op_arm(op);
  }
  return 0;
}

int cow_process_exit_code(int64_t *out, const cow_process_t *p)
{
  if (p == NULL || out == NULL)
    return COW_EINVAL;
  if (!p->exit_published || (p->exit_status != 0 && p->exit_status != COW_EIO_TIMEOUT))
    return COW_ENOT_EXITED;
  *out = p->exit_code;
  return 0;
}

int cow_process_exit_time(cow_timestamp_t *out, const cow_process_t *p)
{
  if (p == NULL || out == NULL)
    return COW_EINVAL;
  if (!p->exit_published || (p->exit_status != 0 && p->exit_status != COW_EIO_TIMEOUT))
    return COW_ENOT_EXITED;
  *out = p->exit_time;
  return 0;
}

int cow_process_set_timeout(cow_process_t *p, cow_timeout_kind_t kind, uint64_t timeout_ms)
{
  if (p == NULL)
    return COW_EINVAL;
  return cow__handle_set_timeout(&p->base, kind, timeout_ms);
}

void cow_process_set_data(cow_process_t *p, void *data)
{
  if (p)
    p->base.data = data;
}

void *cow_process_get_data(const cow_process_t *p)
{
  return p ? p->base.data : NULL;
}

struct uv_loop_s *cow_process_loop(const cow_process_t *p)
{
  return p ? p->base.lp->loop : NULL;
}

/* ---- systems API ---- */

void *cow_process_priv(const cow_process_t *p)
{
  return p ? p->base.priv : NULL;
}

uint64_t cow_process_event_id(const cow_process_t *p)
{
  return p ? p->base.id : 0;
}

cow_host_t *cow_process_host(const cow_process_t *p)
{
  return p ? p->host : NULL;
}

void cow_process_set_pid(cow_process_t *p, int64_t pid)
{
  if (p)
    p->pid = pid;
}

void cow_process_ref(cow_process_t *p)
{
  if (p)
    cow__handle_ref(&p->base);
}

void cow_process_unref(cow_process_t *p)
{
  if (p)
    cow__handle_unref(&p->base);
}

int cow_process_is_closing(const cow_process_t *p)
{
  return p != NULL && (p->base.flags & COW__CLOSING) != 0;
}

/* Stopping with escalation (R20): ask gracefully, wait up to a grace period, then force.
 * One state machine serves processes (signal, then kill) and containers (shutdown, then
 * terminate); it only uses the public operations, so every backend gets it and the core's
 * exactly-once guarantees carry over.
 *
 * The machine holds a reference on its target and stays allocated until every callback
 * it started has come back (the wait may outlive a failed kill: it ends with the exit or
 * the close). The user's callback always runs from the machine's own zero-delay timer,
 * so never inside cow_*_stop(), whatever failed synchronously. */
#include "core/alloc.h"
#include "core/error.h"
#include "core/handle.h"
#include "core/log.h"
#include "cow/sys/container.h"
#include "cow/sys/process.h"

struct stop;

/* What differs between processes and containers. */
struct stop_kind {
  const char *forced_name; /* for logs and errors */
  int (*wait)(struct stop *s);
  int (*exited)(struct stop *s); /* already exited: nothing to ask or force */
  int (*graceful)(struct stop *s);
  int (*forced)(struct stop *s);
  void (*report)(struct stop *s);
  void (*unref)(struct stop *s);
};

struct stop {
  const struct stop_kind *k;
  cow_process_t *p;
  cow_container_t *c;
  char *signal_json; /* processes: the graceful signal, NULL for the backend's default */
  void (*cb)(void);  /* typed per kind, cast back in report */
  void *data;
  uv_timer_t timer; /* the grace period, then the delivery of the result */
  unsigned pending; /* callbacks still to come: wait, graceful, forced, timer close */
  unsigned forced : 1, done : 1, delivered : 1;
  int status;
  int64_t exit_code;
  cow_error_t err;
};

static void stop_free(struct stop *s)
{
  s->k->unref(s);
  cow_error_clear(&s->err);
  cow__free(s->signal_json);
  cow__free(s);
}

static void release(struct stop *s)
{
  if (--s->pending == 0)
    stop_free(s);
}

static void timer_closed(uv_handle_t *h)
{
  release(h->data);
}

static void on_timer(uv_timer_t *t);

/* The outcome is known: deliver it on the next loop turn (never inside a call). */
static void finish(struct stop *s, int status, const cow_error_t *err)
{
  if (s->done)
    return;
  s->done = 1;
  s->status = status;
  if (err != NULL && err->code != 0)
    cow_error_copy(&s->err, err);
  else if (status < 0) /* the forced step refused synchronously: the code is all there is */
    cow__error_set(&s->err, status, COW_DOMAIN_LIB, 0, "stop", NULL, "%s failed: %s",
                   s->k->forced_name, cow_strerror(status));
  uv_timer_start(&s->timer, on_timer, 0, 0);
}

static void escalate(struct stop *s)
{
  if (s->forced || s->done)
    return;
  s->forced = 1;
  int rc = s->k->forced(s);
  if (rc == 0)
    s->pending++;
  else if (rc != COW_ESRCH) /* ESRCH: gone already; the wait reports it */
    finish(s, rc, NULL);
}

static void on_timer(uv_timer_t *t)
{
  struct stop *s = t->data;
  if (!s->done) { /* the grace period is over */
    cow__log(COW_LOG_INFO, "core", "stop: no exit within the grace period, %s", s->k->forced_name);
    escalate(s);
    return;
  }
  if (!s->delivered) {
    s->delivered = 1;
    uv_close((uv_handle_t *)&s->timer, timer_closed);
    s->k->report(s);
  }
}

/* ---- results of the operations the machine started ---- */

static void exited(struct stop *s, int status, int64_t exit_code, const cow_error_t *err)
{
  s->exit_code = exit_code;
  /* COW_EIO_TIMEOUT: exited, only its output was cut short; for a stop that is an exit. */
  finish(s, status == COW_EIO_TIMEOUT ? 0 : status, status == COW_EIO_TIMEOUT ? NULL : err);
  release(s);
}

static void graceful_done(struct stop *s, int status)
{
  /* Refused (not supported, not running yet, ...): no point waiting out the grace period. */
  if (status < 0 && status != COW_ESRCH && status != COW_ECANCELED)
    escalate(s);
  release(s);
}

static void forced_done(struct stop *s, int status, const cow_error_t *err)
{
  /* The forced stop failed: say so now (the wait would only end with the close). */
  if (status < 0 && status != COW_ESRCH && status != COW_ECANCELED)
    finish(s, status, err);
  release(s);
}

/* ---- processes ---- */

static void p_waited(cow_process_t *p, int status, int64_t code, const cow_error_t *err, void *data)
{
  (void)p;
  exited(data, status, code, err);
}

static void p_signalled(cow_process_t *p, int status, const cow_error_t *err, void *data)
{
  (void)p;
  (void)err;
  graceful_done(data, status);
}

static void p_killed(cow_process_t *p, int status, const cow_error_t *err, void *data)
{
  (void)p;
  forced_done(data, status, err);
}

static int p_wait(struct stop *s)
{
  return cow_process_wait(s->p, p_waited, s);
}

static int p_exited(struct stop *s)
{
  int64_t code;
  return cow_process_exit_code(s->p, &code) == 0;
}

static int p_graceful(struct stop *s)
{
  return cow_process_signal(s->p, s->signal_json, p_signalled, s);
}

static int p_forced(struct stop *s)
{
  return cow_process_kill(s->p, p_killed, s);
}

static void p_report(struct stop *s)
{
  ((cow_process_stop_cb)s->cb)(s->p, s->status, s->status == 0 ? s->exit_code : -1, s->forced,
                               s->status < 0 ? &s->err : NULL, s->data);
}

static void p_unref(struct stop *s)
{
  cow_process_unref(s->p);
}

static const struct stop_kind process_kind = {
    "killing", p_wait, p_exited, p_graceful, p_forced, p_report, p_unref,
};

/* ---- containers ---- */

static void c_waited(cow_container_t *c, int status, const cow_error_t *err, void *data)
{
  /* An exit with an exit error (unexpected exit) is still an exit. */
  exited(data, cow_container_exited(c) ? 0 : status, 0, err);
}

static void c_shut_down(cow_container_t *c, int status, const cow_error_t *err, void *data)
{
  (void)c;
  (void)err;
  graceful_done(data, status);
}

static void c_terminated(cow_container_t *c, int status, const cow_error_t *err, void *data)
{
  (void)c;
  forced_done(data, status, err);
}

static int c_wait(struct stop *s)
{
  return cow_container_wait(s->c, c_waited, s);
}

static int c_exited(struct stop *s)
{
  return cow_container_exited(s->c);
}

static int c_graceful(struct stop *s)
{
  return cow_container_shutdown(s->c, c_shut_down, s);
}

static int c_forced(struct stop *s)
{
  return cow_container_terminate(s->c, c_terminated, s);
}

static void c_report(struct stop *s)
{
  ((cow_container_stop_cb)s->cb)(s->c, s->status, s->forced, s->status < 0 ? &s->err : NULL,
                                 s->data);
}

static void c_unref(struct stop *s)
{
  cow_container_unref(s->c);
}

static const struct stop_kind container_kind = {
    "terminating", c_wait, c_exited, c_graceful, c_forced, c_report, c_unref,
};

/* ---- the common start ---- */

static int start(struct stop *s, struct cow__handle *h, uint64_t grace_ms)
{
  if (h->flags & COW__CLOSING)
    return COW_ECLOSING;
  if (uv_timer_init(h->lp->loop, &s->timer) != 0)
    return COW_ENOMEM;
  s->timer.data = s;
  s->pending = 1; /* the timer's close */
  int rc = s->k->wait(s);
  if (rc != 0) { /* nothing started but the timer: undo quietly */
    s->delivered = 1;
    s->done = 1;
    uv_close((uv_handle_t *)&s->timer, timer_closed);
    return rc;
  }
  s->pending++;
  if (s->k->exited(s))
    return 0; /* the wait reports the stored exit on the next turn */
  if (grace_ms == 0) {
    escalate(s);
    return 0;
  }
  rc = s->k->graceful(s);
  if (rc == 0)
    s->pending++;
  else if (rc != COW_ESRCH)
    escalate(s); /* refused at once: force now rather than after the grace period */
  if (!s->forced && !s->done)
    uv_timer_start(&s->timer, on_timer, grace_ms, 0);
  return 0;
}

int cow_process_stop(cow_process_t *p, const char *signal_json, uint64_t grace_ms,
                     cow_process_stop_cb cb, void *data)
{
  if (p == NULL || cb == NULL)
    return COW_EINVAL;
  struct stop *s = cow__calloc(1, sizeof *s);
  if (s == NULL)
    return COW_ENOMEM;
  if (signal_json != NULL && (s->signal_json = cow__strdup(signal_json)) == NULL) {
    cow__free(s);
    return COW_ENOMEM;
  }
  s->k = &process_kind;
  s->p = p;
  s->cb = (void (*)(void))cb;
  s->data = data;
  cow_process_ref(p); /* dropped by stop_free, whatever happens from here */
  int rc = start(s, &p->base, grace_ms);
  if (rc != 0 && s->pending == 0)
    stop_free(s); /* the timer was never initialised */
  return rc;
}

int cow_container_stop(cow_container_t *c, uint64_t grace_ms, cow_container_stop_cb cb, void *data)
{
  if (c == NULL || cb == NULL)
    return COW_EINVAL;
  struct stop *s = cow__calloc(1, sizeof *s);
  if (s == NULL)
    return COW_ENOMEM;
  s->k = &container_kind;
  s->c = c;
  s->cb = (void (*)(void))cb;
  s->data = data;
  cow_container_ref(c);
  int rc = start(s, &c->base, grace_ms);
  if (rc != 0 && s->pending == 0)
    stop_free(s);
  return rc;
}

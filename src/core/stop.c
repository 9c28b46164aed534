/* Stopping with escalation (R20): ask gracefully, wait up to a grace period, then force.
 * One state machine serves processes (signal, then kill) and containers (shutdown, then
 * terminate). The stop is an op of the core like any other call (delivery on a later loop
 * turn, exactly once, COW_ECANCELED at close); the machine is its backend side, built on
 * the public operations, so every backend gets it.
 *
 * The machine stays allocated until every callback it started has come back (the wait may
 * outlive a failed kill: it ends with the exit or the close) and its timer is closed. */
#include "core/alloc.h"
#include "core/handle.h"
#include "core/log.h"
#include "cow/sys/container.h"
#include "cow/sys/process.h"

struct stop;

/* What differs between processes and containers. */
struct stop_kind {
  const char *forced_name; /* for logs */
  int (*wait)(struct stop *s);
  int (*exited)(struct stop *s); /* already exited: nothing to ask or force */
  int (*graceful)(struct stop *s);
  int (*forced)(struct stop *s);
};

struct stop {
  const struct stop_kind *k;
  cow_process_t *p;
  cow_container_t *c;
  char *signal_json; /* processes: the graceful signal, NULL for the backend's default */
  cow_op_t *op;      /* the stop as the caller sees it; NULL once completed */
  uv_timer_t timer;  /* the grace period */
  unsigned pending;  /* callbacks still to come: wait, graceful, forced, timer close */
};

static void release(struct stop *s)
{
  if (--s->pending > 0)
    return;
  cow__free(s->signal_json);
  cow__free(s);
}

static void timer_closed(uv_handle_t *h)
{
  release(h->data);
}

/* The outcome is known: complete the op (the core delivers it, once) and end the timer. */
static void finish(struct stop *s, int status, int64_t exit_code, const cow_error_t *err)
{
  if (s->op == NULL)
    return;
  s->op->exit_code = exit_code;
  cow_op_complete(s->op, status, err);
  s->op = NULL;
  uv_close((uv_handle_t *)&s->timer, timer_closed);
}

static void escalate(struct stop *s)
{
  if (s->op == NULL || s->op->forced)
    return;
  s->op->forced = 1;
  int rc = s->k->forced(s);
  if (rc == 0)
    s->pending++;
  else if (rc != COW_ESRCH) /* ESRCH: gone already; the wait reports it */
    finish(s, rc, -1, NULL);
}

static void grace_over(uv_timer_t *t)
{
  struct stop *s = t->data;
  cow__log(COW_LOG_INFO, "core", "stop: no exit within the grace period, %s", s->k->forced_name);
  escalate(s);
}

/* ---- results of the operations the machine started ---- */

static void exited(struct stop *s, int status, int64_t exit_code, const cow_error_t *err)
{
  /* COW_EIO_TIMEOUT: exited, only its output was cut short; for a stop that is an exit. */
  if (status == COW_EIO_TIMEOUT)
    finish(s, 0, exit_code, NULL);
  else
    finish(s, status, exit_code, err);
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
    finish(s, status, -1, err);
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
  return cow_process_exit_code(&code, s->p) == 0;
}

static int p_graceful(struct stop *s)
{
  return cow_process_signal(s->p, s->signal_json, p_signalled, s);
}

static int p_forced(struct stop *s)
{
  return cow_process_kill(s->p, p_killed, s);
}

static const struct stop_kind process_kind = {"killing", p_wait, p_exited, p_graceful, p_forced};

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

static const struct stop_kind container_kind = {"terminating", c_wait, c_exited, c_graceful,
                                                c_forced};

/* ---- the common start ---- */

static int start(struct stop *s, struct cow__handle *h, enum cow__cb_kind kind, void (*cb)(void),
                 void *data, uint64_t grace_ms)
{
  if (h->flags & COW__CLOSING)
    return COW_ECLOSING;
  int rc = cow__op_new(h, "stop", kind, cb, data, COW_TIMEOUT__MAX, 1, &s->op);
  if (rc != 0)
    return rc;
  if ((rc = uv_timer_init(h->lp->loop, &s->timer)) != 0) {
    cow__op_discard(s->op); /* never armed nor delivered: it goes at once */
    return rc;
  }
  s->timer.data = s;
  if ((rc = s->k->wait(s)) != 0) {
    cow__op_discard(s->op);
    s->op = NULL;
    s->pending = 1; /* the timer's close frees the machine */
    uv_close((uv_handle_t *)&s->timer, timer_closed);
    return rc;
  }
  s->pending = 2; /* the wait, the timer's close */
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
  if (s->op != NULL && !s->op->forced)
    uv_timer_start(&s->timer, grace_over, grace_ms, 0);
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
  int rc = start(s, &p->base, COW__CB_PROCESS_STOP, (void (*)(void))cb, data, grace_ms);
  if (rc != 0 && s->pending == 0) {
    cow__free(s->signal_json);
    cow__free(s);
  }
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
  int rc = start(s, &c->base, COW__CB_CONTAINER_STOP, (void (*)(void))cb, data, grace_ms);
  if (rc != 0 && s->pending == 0)
    cow__free(s);
  return rc;
}

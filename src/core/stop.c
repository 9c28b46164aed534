/* Stopping with escalation: ask gracefully, wait up to a grace period, then force. One
 * state machine serves processes (signal, then kill) and containers (shutdown, then
 * terminate). The stop is an op of the core like any other call (delivery on a later loop
 * turn, exactly once, COW_ECANCELED at close); the machine is its backend side, built on
 * the public operations, so every backend gets it.
 *
 * A stop completes only once the exit has been seen AND every request it sent has been
 * answered: a guest agent handles requests in parallel, so the exit notification can
 * arrive while the agent is still tearing down on behalf of the shutdown, and a caller who
 * deletes state at that moment races the agent (hcsshim waits for the answer too). What is
 * still missing once the forced step was taken, or once the exit was seen, is bounded by
 * COW_TIMEOUT_STOP; on expiry the stop fails with COW_ETIMEDOUT naming what never came.
 *
 * The machine stays allocated until every callback it started has come back (the wait may
 * outlive a failed kill: it ends with the exit or the close) and its timer is closed. */
#include <stdio.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/handle.h"
#include "core/log.h"
#include "cow/sys/container.h"
#include "cow/sys/process.h"

struct stop;

/* What differs between processes and containers. */
struct stop_kind {
  const char *graceful_name, *forced_name; /* the requests, for logs and errors */
  int (*wait)(struct stop *s);
  int (*exited)(struct stop *s); /* already exited: nothing to ask or force */
  int (*lost)(struct stop *s);   /* contact lost: no exit will ever be seen */
  int (*graceful)(struct stop *s);
  int (*forced)(struct stop *s);
};

struct stop {
  const struct stop_kind *k;
  struct cow__handle *h;
  cow_process_t *p;
  cow_container_t *c;
  char *signal_json; /* processes: the graceful signal, NULL for the backend's default */
  cow_op_t *op;      /* the stop as the caller sees it; NULL once completed */
  uv_timer_t timer;  /* the grace period, then the bound on what is still missing */
  unsigned pending;  /* callbacks still to come: wait, graceful, forced, timer close */
  unsigned graceful_out : 1, forced_out : 1; /* sent and not answered yet */
  unsigned decided : 1;                      /* the outcome is known (exit or failure) */
  unsigned bounded : 1;                      /* the timer now runs the bound */
  int status;
  int64_t exit_code;
  cow_error_t err;
};

static void release(struct stop *s)
{
  if (--s->pending > 0)
    return;
  cow_error_clear(&s->err);
  cow__free(s->signal_json);
  cow__free(s);
}

static void timer_closed(uv_handle_t *h)
{
  release(h->data);
}

/* Complete the op (the core delivers it, once) and end the timer. */
static void finish(struct stop *s, int status, int64_t exit_code, const cow_error_t *err)
{
  if (s->op == NULL)
    return;
  s->op->exit_code = exit_code;
  cow_op_complete(s->op, status, err);
  s->op = NULL;
  uv_close((uv_handle_t *)&s->timer, timer_closed);
}

static void bound_over(uv_timer_t *t);

/* From now on everything still missing must arrive within COW_TIMEOUT_STOP (0: no bound). */
static void start_bound(struct stop *s)
{
  if (s->op == NULL || s->bounded)
    return;
  s->bounded = 1;
  uv_timer_stop(&s->timer);
  uint64_t ms = cow__handle_timeout(s->h, COW_TIMEOUT_STOP);
  if (ms > 0)
    uv_timer_start(&s->timer, bound_over, ms, 0);
}

/* Finish once the outcome is known and no request is unanswered. */
static void settle(struct stop *s)
{
  if (s->op == NULL || !s->decided)
    return;
  if (s->graceful_out || s->forced_out) {
    start_bound(s);
    return;
  }
  finish(s, s->status, s->exit_code, s->status < 0 && s->err.code < 0 ? &s->err : NULL);
}

/* Record the outcome (the first one counts). */
static void decide(struct stop *s, int status, int64_t exit_code, const cow_error_t *err)
{
  if (s->decided)
    return;
  s->decided = 1;
  s->status = status;
  s->exit_code = exit_code;
  if (status < 0 && err != NULL && cow_error_copy(&s->err, err) != 0)
    cow_error_clear(&s->err); /* no memory for the detail: the core gives a generic one */
}

static void bound_over(uv_timer_t *t)
{
  struct stop *s = t->data;
  uint64_t ms = cow__handle_timeout(s->h, COW_TIMEOUT_STOP);
  char missing[160];
  int n = snprintf(missing, sizeof missing, "%s", s->decided ? "" : "no exit");
  if (s->graceful_out)
    n += snprintf(missing + n, sizeof missing - (size_t)n, "%sno answer to the %s request",
                  n ? ", " : "", s->k->graceful_name);
  if (s->forced_out && (size_t)n < sizeof missing)
    snprintf(missing + n, sizeof missing - (size_t)n, "%sno answer to the %s request",
             n ? ", " : "", s->k->forced_name);
  cow_error_t err = COW_ERROR_INIT;
  cow__error_set(&err, COW_ETIMEDOUT, COW_DOMAIN_LIB, 0, "stop", NULL,
                 "stop: %s within %llu ms (COW_TIMEOUT_STOP)", missing, (unsigned long long)ms);
  cow__log(COW_LOG_WARN, "core", "%s", err.message ? err.message : "stop timed out");
  finish(s, COW_ETIMEDOUT, -1, &err);
  cow_error_clear(&err);
}

static void escalate(struct stop *s)
{
  if (s->op == NULL || s->op->forced)
    return;
  s->op->forced = 1;
  cow__log(COW_LOG_INFO, "core", "stop: %s", s->k->forced_name);
  int rc = s->k->forced(s);
  if (rc == 0) {
    s->pending++;
    s->forced_out = 1;
  } else if (rc != COW_ESRCH) { /* ESRCH: gone already; the wait reports it */
    decide(s, rc, -1, NULL);
  }
  start_bound(s);
  settle(s);
}

static void grace_over(uv_timer_t *t)
{
  struct stop *s = t->data;
  cow__log(COW_LOG_INFO, "core", "stop: no exit within the grace period");
  escalate(s);
}

/* ---- results of the operations the machine started ---- */

static void exited(struct stop *s, int status, int64_t exit_code, const cow_error_t *err)
{
  /* COW_EIO_TIMEOUT: exited, only its output was cut short; for a stop that is an exit. */
  if (status == COW_EIO_TIMEOUT)
    decide(s, 0, exit_code, NULL);
  else
    decide(s, status, exit_code, err);
  settle(s);
  release(s);
}

static void graceful_done(struct stop *s, int status)
{
  s->graceful_out = 0;
  /* Refused (not supported, not running yet, ...): no point waiting out the grace period. */
  if (status < 0 && status != COW_ESRCH && status != COW_ECANCELED)
    escalate(s);
  settle(s);
  release(s);
}

static void forced_done(struct stop *s, int status, const cow_error_t *err)
{
  s->forced_out = 0;
  /* The forced stop failed: that is the outcome (the wait would only end with the close). */
  if (status < 0 && status != COW_ESRCH && status != COW_ECANCELED)
    decide(s, status, -1, err);
  settle(s);
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

static int p_lost(struct stop *s)
{
  return s->p->exit_reported && s->p->exit_err.code == COW_EBRIDGE_CLOSED;
}

static int p_graceful(struct stop *s)
{
  return cow_process_signal(s->p, s->signal_json, p_signalled, s);
}

static int p_forced(struct stop *s)
{
  return cow_process_kill(s->p, p_killed, s);
}

static const struct stop_kind process_kind = {"signal", "kill",     p_wait,  p_exited,
                                              p_lost,   p_graceful, p_forced};

/* ---- containers ---- */

static void c_waited(cow_container_t *c, int status, const cow_error_t *err, void *data)
{
  /* An exit with an exit error (unexpected exit) is still an exit; a lost connection is not. */
  exited(data, cow_container_exited(c) && status != COW_EBRIDGE_CLOSED ? 0 : status, 0, err);
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

static int c_lost(struct stop *s)
{
  return s->c->exited && s->c->exit_err.code == COW_EBRIDGE_CLOSED;
}

static int c_graceful(struct stop *s)
{
  return cow_container_shutdown(s->c, c_shut_down, s);
}

static int c_forced(struct stop *s)
{
  return cow_container_terminate(s->c, c_terminated, s);
}

static const struct stop_kind container_kind = {"shutdown", "terminate", c_wait,  c_exited,
                                                c_lost,     c_graceful,  c_forced};

/* ---- the common start ---- */

static int start(struct stop *s, struct cow__handle *h, enum cow__cb_kind kind, void (*cb)(void),
                 void *data, uint64_t grace_ms)
{
  if (h->flags & COW__CLOSING)
    return COW_ECLOSING;
  /* Contact lost: nothing can be asked and no exit will come; say so now. */
  if (s->k->lost(s))
    return COW_EBRIDGE_CLOSED;
  s->h = h;
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
  if (rc == 0) {
    s->pending++;
    s->graceful_out = 1;
  } else if (rc != COW_ESRCH) {
    escalate(s); /* refused at once: force now rather than after the grace period */
  }
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

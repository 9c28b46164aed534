/* Shutdown, wait with a timeout, terminate: see stop.h. */
#include "stop.h"

#include "session.h"

static void finish(stopper_t *st)
{
  if (st->finished)
    return;
  st->finished = 1;
  if (st->timer_open) {
    st->timer_open = 0;
    uv_close((uv_handle_t *)&st->timer, NULL); /* embedded in st, which outlives the loop */
  }
  st->cb(st, st->data);
}

static void exited(cow_container_t *c, int status, const cow_error_t *err, void *data)
{
  stopper_t *st = data;
  /* An exit error (unexpected exit) is still an exit; ECANCELED: the handle was closed. */
  finish(st);
}

static void terminated(cow_container_t *c, int status, const cow_error_t *err, void *data)
{
  stopper_t *st = data;
  if (status < 0 && !st->finished) {
    session_report(st->prog, "terminating", status, err);
    finish(st); /* nothing more to try; closing the handle releases the waiter */
  }
}

static void terminate(stopper_t *st)
{
  if (st->terminating || st->finished)
    return;
  st->terminating = 1;
  int rc = cow_container_terminate(st->c, terminated, st);
  if (rc != 0) {
    session_report(st->prog, "terminating", rc, NULL);
    finish(st);
  }
}

static void timed_out(uv_timer_t *t)
{
  terminate(t->data);
}

static void shut_down(cow_container_t *c, int status, const cow_error_t *err, void *data)
{
  if (status < 0 && status != COW_ECANCELED)
    terminate(data); /* a refused graceful stop: go straight to the forced one */
}

void stopper_run(stopper_t *st, uv_loop_t *loop, cow_container_t *c, uint64_t timeout_ms,
                 const char *prog, stopper_cb cb, void *data)
{
  *st = (stopper_t){.c = c, .prog = prog, .cb = cb, .data = data};
  if (cow_container_exited(c) || cow_container_wait(c, exited, st) != 0) {
    finish(st);
    return;
  }
  if (uv_timer_init(loop, &st->timer) == 0) {
    st->timer_open = 1;
    st->timer.data = st;
    uv_timer_start(&st->timer, timed_out, timeout_ms, 0);
  }
  if (cow_container_shutdown(c, shut_down, st) != 0)
    terminate(st);
}

/* The blocking API: a private loop on its own thread, and one request per call, handed over
 * through a locked queue + uv_async_t and answered through a condition variable. This file
 * is the machinery (requests, the context, run); the wrappers are in process.c,
 * container.c, guest.c and constructors.c. */
#include "blocking/blocking.h"

#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/loop.h"

void cow__breq_free(struct breq *r)
{
  if (r->extra_free != NULL)
    r->extra_free(r->extra);
  uv_cond_destroy(&r->cond);
  cow_error_clear(&r->err);
  cow__free(r->json);
  cow__free(r->result);
  cow__free(r->text);
  cow__free(r);
}

void cow__breq_finish(struct breq *r, int status, const cow_error_t *err)
{
  cow_blocking_t *b = r->b;
  cow_error_t lost = COW_ERROR_INIT;
  if (status == COW_EBRIDGE_CLOSED && err == NULL) /* refused at once: say why it died */
    cow__bh_lost_cause(cow__bh_kind(b, r->obj), r->obj, &lost);
  uv_mutex_lock(&b->mutex);
  if (r->abandoned) {
    uv_mutex_unlock(&b->mutex);
    cow_error_clear(&lost);
    /* Nobody will take the result: release what it holds. A handle created after its
     * caller gave up is closed here, so it does not leak. */
    if (status == 0 && r->obj != NULL && r->creates != COW__BK_NONE)
      cow__bh_close(b, r->creates, r->obj, NULL, NULL);
    cow__breq_free(r);
    return;
  }
  r->status = status;
  if (err != NULL && status < 0)
    cow_error_copy(&r->err, err);
  else if (status == COW_EBRIDGE_CLOSED)
    cow_error_move(&r->err, &lost);
  else if (status < 0)
    r->err.code = status;
  r->done = 1;
  uv_cond_signal(&r->cond);
  uv_mutex_unlock(&b->mutex);
  cow_error_clear(&lost);
}

static void wake_cb(uv_async_t *a)
{
  cow_blocking_t *b = cow__container_of(a, cow_blocking_t, wake);
  cow__list batch;
  cow__list_init(&batch);
  uv_mutex_lock(&b->mutex);
  cow__list_move(&b->queue, &batch);
  int stop = b->stop;
  uv_mutex_unlock(&b->mutex);
  while (!cow__list_empty(&batch)) {
    struct breq *r = cow__container_of(batch.next, struct breq, link);
    cow__list_remove(&r->link);
    uv_mutex_lock(&b->mutex);
    int drop = r->abandoned && (r->sync || r->borrows); /* its caller's memory may be gone */
    r->started = 1;
    uv_mutex_unlock(&b->mutex);
    if (drop) {
      cow__breq_free(r);
      continue;
    }
    int borrows = r->borrows; /* a request that does not borrow may be freed by its start */
    int rc = r->start(r);
    if (borrows) {
      /* Its caller waits for this before it lets go (or frees it): r is alive. */
      uv_mutex_lock(&b->mutex);
      r->start_done = 1;
      uv_cond_signal(&r->cond);
      uv_mutex_unlock(&b->mutex);
    }
    if (rc < 0)
      cow__breq_finish(r, rc, NULL);
  }
  if (stop)
    uv_close((uv_handle_t *)&b->wake, NULL);
}

static void loop_thread(void *arg)
{
  cow_blocking_t *b = arg;
  uv_run(&b->loop, UV_RUN_DEFAULT);
}

int cow_blocking_new(cow_blocking_t **out)
{
  if (out == NULL)
    return COW_EINVAL;
  *out = NULL;
  cow_blocking_t *b = cow__calloc(1, sizeof *b);
  if (b == NULL)
    return COW_ENOMEM;
  cow__list_init(&b->queue);
  cow__list_init(&b->handles);
  int rc = uv_loop_init(&b->loop);
  if (rc != 0)
    goto fail_free;
  if ((rc = uv_mutex_init(&b->mutex)) != 0)
    goto fail_loop;
  if ((rc = uv_async_init(&b->loop, &b->wake, wake_cb)) != 0)
    goto fail_mutex;
  if ((rc = uv_thread_create(&b->thread, loop_thread, b)) != 0) {
    uv_close((uv_handle_t *)&b->wake, NULL);
    uv_run(&b->loop, UV_RUN_DEFAULT);
    goto fail_mutex;
  }
  *out = b;
  return 0;
fail_mutex:
  uv_mutex_destroy(&b->mutex);
fail_loop:
  uv_loop_close(&b->loop);
fail_free:
  cow__free(b);
  return rc;
}

/* Queue `r` and wait for it, up to `timeout_ms` (0: no limit). Returns 1 when `r` is done
 * (the caller owns it again and reads its results), 0 when the caller gave up: then `r`
 * is marked abandoned, under the same lock that decides it is not done, and belongs to the
 * loop thread, which frees it when the operation ends. Either way the decision and every
 * access to `done` and `abandoned` happen under the mutex, and after a 0 the caller never
 * touches `r` again. A `sync` request that has started is waited for to its end (it
 * finishes inside its start, which does not block); a `borrows` one until its start has
 * returned. */
static int finished(const struct breq *r)
{
  return r->done && (!r->borrows || r->start_done);
}

/* Whether the caller must wait past its deadline: the start uses its memory right now. */
static int must_wait(const struct breq *r)
{
  return (r->sync && r->started) || (r->borrows && r->started && !r->start_done);
}

static int submit(cow_blocking_t *b, struct breq *r, uint64_t timeout_ms)
{
  r->b = b;
  uint64_t deadline = timeout_ms ? uv_hrtime() + timeout_ms * 1000000ull : 0;
  uv_mutex_lock(&b->mutex);
  cow__list_insert_tail(&b->queue, &r->link);
  uv_mutex_unlock(&b->mutex);
  uv_async_send(&b->wake);
  uv_mutex_lock(&b->mutex);
  while (!finished(r)) {
    if (deadline == 0 || must_wait(r)) {
      uv_cond_wait(&r->cond, &b->mutex);
      continue;
    }
    uint64_t now = uv_hrtime();
    if (now >= deadline)
      break;
    uv_cond_timedwait(&r->cond, &b->mutex, deadline - now); /* the loop re-checks */
  }
  int done = finished(r);
  if (!done)
    r->abandoned = 1;
  uv_mutex_unlock(&b->mutex);
  return done;
}

struct breq *cow__breq_new(int (*start)(struct breq *r), void *obj, const char *text)
{
  struct breq *r = cow__calloc(1, sizeof *r);
  if (r == NULL)
    return NULL;
  if (uv_cond_init(&r->cond) != 0) {
    cow__free(r);
    return NULL;
  }
  r->start = start;
  r->obj = obj;
  r->code = -1;
  if (text != NULL && (r->text = cow__strdup(text)) == NULL) {
    cow__breq_free(r);
    return NULL;
  }
  return r;
}

int cow__breq_run(cow_blocking_t *b, struct breq *r, uint64_t timeout_ms, cow_error_t *err,
                  struct breq **keep)
{
  uv_thread_t self = uv_thread_self();
  if (uv_thread_equal(&self, &b->thread)) {
    /* From inside a cow_blocking_run() function: the answer would need this very thread. */
    cow__breq_free(r);
    return cow__error_set(err, COW_EINVALID_STATE, COW_DOMAIN_LIB, 0, "blocking", NULL,
                          "a blocking call on the loop thread itself would wait forever");
  }
  if (!submit(b, r, timeout_ms))
    return cow__error_set(err, COW_ETIMEDOUT, COW_DOMAIN_LIB, 0, "blocking", NULL,
                          "no answer within %llu ms", (unsigned long long)timeout_ms);
  int status = r->status;
  if (err != NULL) {
    cow_error_clear(err);
    if (status < 0) {
      cow_error_move(err, &r->err);
      if (err->message == NULL)
        err->message = cow__strdup(cow_strerror(status));
    }
  }
  if (keep != NULL)
    *keep = r;
  else
    cow__breq_free(r);
  return status;
}

int cow__blocking_call(cow_blocking_t *b, int (*start)(struct breq *), void *obj, const char *text,
                       uint64_t timeout_ms, cow_error_t *err, struct breq **keep)
{
  if (b == NULL)
    return cow__error_set(err, COW_EINVAL, COW_DOMAIN_LIB, 0, "blocking", NULL,
                          "no blocking context");
  struct breq *r = cow__breq_new(start, obj, text);
  if (r == NULL)
    return cow__error_set(err, COW_ENOMEM, COW_DOMAIN_LIB, 0, "blocking", NULL, NULL);
  return cow__breq_run(b, r, timeout_ms, err, keep);
}

int cow__blocking_call_extra(cow_blocking_t *b, int (*start)(struct breq *r),
                             enum cow__bkind creates, void *obj, const char *text, void *extra,
                             void (*extra_free)(void *), uint64_t timeout_ms, cow_error_t *err,
                             void **obj_out)
{
  struct breq *r = b ? cow__breq_new(start, obj, text) : NULL;
  if (r == NULL) {
    if (extra_free != NULL)
      extra_free(extra);
    return b ? cow__error_set(err, COW_ENOMEM, COW_DOMAIN_LIB, 0, "blocking", NULL, NULL)
             : COW_EINVAL;
  }
  r->creates = creates;
  r->extra = extra;
  r->extra_free = extra_free;
  struct breq *kept = NULL;
  int rc = cow__breq_run(b, r, timeout_ms, err, &kept);
  if (kept != NULL) {
    if (rc == 0 && obj_out != NULL)
      *obj_out = kept->obj;
    cow__breq_free(kept);
  }
  return rc;
}

int cow__blocking_stop(int64_t *exit_code, int *forced, cow_blocking_t *b,
                       int (*start)(struct breq *r), void *obj, const char *signal_json,
                       uint64_t grace_ms, uint64_t timeout_ms, cow_error_t *err)
{
  if (exit_code != NULL)
    *exit_code = -1;
  if (forced != NULL)
    *forced = 0;
  if (obj == NULL || b == NULL)
    return cow__error_set(err, COW_EINVAL, COW_DOMAIN_LIB, 0, "stop", NULL,
                          "a required argument is NULL");
  struct breq *r = cow__breq_new(start, obj, signal_json);
  if (r == NULL)
    return cow__error_set(err, COW_ENOMEM, COW_DOMAIN_LIB, 0, "stop", NULL, NULL);
  r->grace_ms = grace_ms;
  struct breq *kept = NULL;
  int rc = cow__breq_run(b, r, timeout_ms, err, &kept);
  if (kept != NULL) {
    if (exit_code != NULL)
      *exit_code = kept->code;
    if (forced != NULL)
      *forced = kept->forced;
    cow__breq_free(kept);
  }
  return rc;
}

/* The set_timeout and exit time of every kind of handle: one start each, by r->about. */
static int start_set_timeout(struct breq *r)
{
  cow_timeout_kind_t kind = (cow_timeout_kind_t)r->flag;
  int rc = r->about == COW__BK_PROCESS     ? cow_process_set_timeout(r->obj, kind, r->grace_ms)
           : r->about == COW__BK_CONTAINER ? cow_container_set_timeout(r->obj, kind, r->grace_ms)
                                           : cow_host_set_timeout(r->obj, kind, r->grace_ms);
  cow__breq_finish(r, rc, NULL);
  return 0;
}

int cow__blocking_set_timeout(cow_blocking_t *b, enum cow__bkind about, void *obj,
                              cow_timeout_kind_t kind, uint64_t timeout_ms)
{
  struct breq *r = obj != NULL && b != NULL ? cow__breq_new(start_set_timeout, obj, NULL) : NULL;
  if (r == NULL)
    return obj == NULL || b == NULL ? COW_EINVAL : COW_ENOMEM;
  r->about = about;
  r->flag = (int)kind;
  r->grace_ms = timeout_ms;
  return cow__breq_run(b, r, 0, NULL, NULL);
}

static int start_exit_time(struct breq *r)
{
  cow_timestamp_t ts = {0, 0};
  int rc = r->about == COW__BK_PROCESS ? cow_process_exit_time(&ts, r->obj)
                                       : cow_container_exit_time(&ts, r->obj);
  r->code = ts.sec;
  r->flag = ts.nsec;
  cow__breq_finish(r, rc, NULL);
  return 0;
}

int cow__blocking_exit_time(cow_timestamp_t *out, cow_blocking_t *b, enum cow__bkind about,
                            void *obj)
{
  if (out == NULL || obj == NULL || b == NULL)
    return COW_EINVAL;
  struct breq *r = cow__breq_new(start_exit_time, obj, NULL);
  if (r == NULL)
    return COW_ENOMEM;
  r->about = about;
  struct breq *kept = NULL;
  int rc = cow__breq_run(b, r, 0, NULL, &kept);
  if (kept != NULL) {
    if (rc == 0) {
      out->sec = kept->code;
      out->nsec = (int32_t)kept->flag;
    }
    cow__breq_free(kept);
  }
  return rc;
}

int cow__blocking_take_json(char **out, int rc, struct breq *kept)
{
  if (kept == NULL)
    return rc;
  if (rc == 0) {
    *out = kept->json;
    kept->json = NULL;
  }
  cow__breq_free(kept);
  return rc;
}

/* ---- closing the context ---- */

/* Handles already closing finish within a few loop turns; only handles still open after
 * about a second make cow_blocking_close() refuse. */
#define IDLE_CHECKS   100
#define IDLE_CHECK_MS 10

static void idle_timer_closed(uv_handle_t *t)
{
  cow__free(t);
}

static void check_idle(struct breq *r);

static void idle_timer_fired(uv_timer_t *t)
{
  struct breq *r = t->data;
  uv_close((uv_handle_t *)t, idle_timer_closed);
  check_idle(r);
}

/* Any handle other than our wake-up that is not closing keeps the loop running: it would
 * make the loop thread's uv_run() never return. */
static void count_live(uv_handle_t *h, void *arg)
{
  struct breq *r = arg;
  if (h != (uv_handle_t *)&r->b->wake && !uv_is_closing(h))
    r->code++;
}

static void check_idle(struct breq *r)
{
  /* Any libcow handle on the loop keeps the core's per-loop state alive; a handle the
   * caller made through cow_blocking_run() and left open keeps the loop alive. */
  r->code = 0;
  if (!cow__loop_in_use(&r->b->loop))
    uv_walk(&r->b->loop, count_live, r);
  else
    r->code = 1;
  if (r->code == 0) {
    cow__breq_finish(r, 0, NULL);
    return;
  }
  uv_timer_t *t = r->flag++ < IDLE_CHECKS ? cow__malloc(sizeof *t) : NULL;
  if (t == NULL || uv_timer_init(&r->b->loop, t) != 0) {
    cow__free(t);
    cow_error_t e = COW_ERROR_INIT;
    cow__error_set(&e, COW_EBUSY, COW_DOMAIN_LIB, 0, "blocking_close", NULL,
                   "handles on the loop are still open (made through cow_blocking_run()?)");
    cow__breq_finish(r, COW_EBUSY, &e);
    cow_error_clear(&e);
    return;
  }
  t->data = r;
  uv_timer_start(t, idle_timer_fired, IDLE_CHECK_MS, 0);
}

static int start_check_idle(struct breq *r)
{
  int open = cow__bh_open_count(r->b);
  if (open > 0) {
    cow_error_t e = COW_ERROR_INIT;
    cow__error_set(&e, COW_EBUSY, COW_DOMAIN_LIB, 0, "blocking_close", NULL,
                   "%d handle%s handed out by this context %s still open: close them first", open,
                   open == 1 ? "" : "s", open == 1 ? "is" : "are");
    cow__breq_finish(r, COW_EBUSY, &e);
    cow_error_clear(&e);
    return 0;
  }
  check_idle(r);
  return 0;
}

int cow_blocking_close(cow_blocking_t *b)
{
  if (b == NULL)
    return COW_EINVAL;
  int rc = cow__blocking_call(b, start_check_idle, NULL, NULL, 0, NULL, NULL);
  if (rc != 0)
    return rc;
  uv_mutex_lock(&b->mutex);
  b->stop = 1;
  uv_mutex_unlock(&b->mutex);
  uv_async_send(&b->wake);
  uv_thread_join(&b->thread);
  /* Operations abandoned by timeouts may still hold handles' memory; the loop ran until
   * nothing was left, so everything is released now. */
  rc = uv_loop_close(&b->loop);
  uv_mutex_destroy(&b->mutex);
  cow__free(b);
  return rc == 0 ? 0 : COW_EBUSY;
}

/* ---- run ---- */

struct run_arg {
  int (*fn)(uv_loop_t *, void *);
  void *arg;
};

static int start_run(struct breq *r)
{
  struct run_arg *ra = r->obj;
  cow__breq_finish(r, ra->fn(&r->b->loop, ra->arg), NULL);
  return 0;
}

int cow_blocking_run(cow_blocking_t *b, int (*fn)(uv_loop_t *, void *), void *arg,
                     uint64_t timeout_ms, cow_error_t *err)
{
  if (b == NULL || fn == NULL)
    return cow__error_set(err, COW_EINVAL, COW_DOMAIN_LIB, 0, "blocking_run", NULL,
                          "no blocking context or function");
  struct run_arg ra = {fn, arg};
  struct breq *r = cow__breq_new(start_run, &ra, NULL);
  if (r == NULL)
    return cow__error_set(err, COW_ENOMEM, COW_DOMAIN_LIB, 0, "blocking_run", NULL, NULL);
  r->sync = 1; /* `ra` lives on this stack frame */
  return cow__breq_run(b, r, timeout_ms, err, NULL);
}

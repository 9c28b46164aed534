/* The blocking API: a private loop on its own thread, and one request per call, handed over
 * through a locked queue + uv_async_t and answered through a condition variable. */
#include "blocking/blocking.h"

#ifdef _WIN32
#  define WIN32_LEAN_AND_MEAN
#  include <io.h>
#  include <windows.h>
#endif

#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/loop.h"

static void breq_free(struct breq *r)
{
  if (r->extra_free != NULL)
    r->extra_free(r->extra);
  uv_cond_destroy(&r->cond);
  cow_error_clear(&r->err);
  cow__free(r->json);
  cow__free(r->text);
  cow__free(r);
}

static void created_closed(void *arg)
{
  (void)arg;
}

void cow__breq_finish(struct breq *r, int status, const cow_error_t *err)
{
  cow_blocking_t *b = r->b;
  uv_mutex_lock(&b->mutex);
  if (r->abandoned) {
    uv_mutex_unlock(&b->mutex);
    /* Nobody will take the result: release what it holds. A process created after its
     * caller gave up is closed here, so it does not leak. */
    if (status == 0 && r->obj != NULL) {
      if (r->creates == COW__BREQ_PROCESS)
        cow__bproc_close(r->obj, created_closed, NULL);
      else if (r->creates == COW__BREQ_CONTAINER)
        cow_container_close(r->obj, NULL, NULL);
      else if (r->creates == COW__BREQ_HOST)
        cow_host_close(r->obj, NULL, NULL);
    }
    breq_free(r);
    return;
  }
  r->status = status;
  if (err != NULL && status < 0)
    cow_error_copy(&r->err, err);
  else if (status < 0)
    r->err.code = status;
  r->done = 1;
  uv_cond_signal(&r->cond);
  uv_mutex_unlock(&b->mutex);
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
    int rc = r->start(r);
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
 * touches `r` again. */
static int submit(cow_blocking_t *b, struct breq *r, uint64_t timeout_ms)
{
  r->b = b;
  uint64_t deadline = timeout_ms ? uv_hrtime() + timeout_ms * 1000000ull : 0;
  uv_mutex_lock(&b->mutex);
  cow__list_insert_tail(&b->queue, &r->link);
  uv_mutex_unlock(&b->mutex);
  uv_async_send(&b->wake);
  uv_mutex_lock(&b->mutex);
  while (!r->done) {
    if (deadline == 0) {
      uv_cond_wait(&r->cond, &b->mutex);
      continue;
    }
    uint64_t now = uv_hrtime();
    if (now >= deadline)
      break;
    uv_cond_timedwait(&r->cond, &b->mutex, deadline - now); /* the loop re-checks */
  }
  int done = r->done;
  if (!done)
    r->abandoned = 1;
  uv_mutex_unlock(&b->mutex);
  return done;
}

static struct breq *breq_new(int (*start)(struct breq *r), void *obj, const char *text)
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
    breq_free(r);
    return NULL;
  }
  return r;
}

/* Submit `r` and collect it: the common tail of every wrapper. With `keep`, a finished
 * request is handed back for its results (the caller frees it); otherwise it is freed. */
static int run_request(cow_blocking_t *b, struct breq *r, uint64_t timeout_ms, cow_error_t *err,
                       struct breq **keep)
{
  if (!submit(b, r, timeout_ms))
    return cow__error_set(err, COW_ETIMEDOUT, COW_DOMAIN_LIB, 0, "blocking", NULL,
                          "no answer within %llu ms", (unsigned long long)timeout_ms);
  int status = r->status;
  if (err != NULL && status < 0) {
    cow_error_move(err, &r->err);
    if (err->message == NULL)
      err->message = cow__strdup(cow_strerror(status));
  }
  if (keep != NULL)
    *keep = r;
  else
    breq_free(r);
  return status;
}

static int call(cow_blocking_t *b, int (*start)(struct breq *), void *obj, const char *text,
                uint64_t timeout_ms, cow_error_t *err, struct breq **keep)
{
  if (b == NULL)
    return COW_EINVAL;
  struct breq *r = breq_new(start, obj, text);
  if (r == NULL)
    return cow__error_set(err, COW_ENOMEM, COW_DOMAIN_LIB, 0, "blocking", NULL, NULL);
  return run_request(b, r, timeout_ms, err, keep);
}

int cow__blocking_call_extra(cow_blocking_t *b, int (*start)(struct breq *r),
                             enum cow__breq_creates creates, void *obj, const char *text,
                             void *extra, void (*extra_free)(void *), uint64_t timeout_ms,
                             cow_error_t *err, void **obj_out)
{
  struct breq *r = b ? breq_new(start, obj, text) : NULL;
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
  int rc = run_request(b, r, timeout_ms, err, &kept);
  if (kept != NULL) {
    if (rc == 0 && obj_out != NULL)
      *obj_out = kept->obj;
    breq_free(kept);
  }
  return rc;
}

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

static void check_idle(struct breq *r)
{
  /* Any libcow handle on the loop keeps the core's per-loop state alive. */
  if (!cow__loop_in_use(&r->b->loop)) {
    cow__breq_finish(r, 0, NULL);
    return;
  }
  uv_timer_t *t = r->flag++ < IDLE_CHECKS ? cow__malloc(sizeof *t) : NULL;
  if (t == NULL || uv_timer_init(&r->b->loop, t) != 0) {
    cow__free(t);
    cow__breq_finish(r, COW_EBUSY, NULL);
    return;
  }
  t->data = r;
  uv_timer_start(t, idle_timer_fired, IDLE_CHECK_MS, 0);
}

static int start_check_idle(struct breq *r)
{
  check_idle(r);
  return 0;
}

int cow_blocking_close(cow_blocking_t *b)
{
  if (b == NULL)
    return COW_EINVAL;
  int rc = call(b, start_check_idle, NULL, NULL, 0, NULL, NULL);
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

int cow_blocking_run(cow_blocking_t *b, int (*fn)(uv_loop_t *, void *), void *arg)
{
  if (fn == NULL)
    return COW_EINVAL;
  struct run_arg ra = {fn, arg};
  return call(b, start_run, &ra, NULL, 0, NULL, NULL);
}

/* ---- processes ---- */

static void created(cow_process_t *p, int status, const cow_error_t *err, void *data)
{
  struct breq *r = data;
  if (status == 0)
    status = cow__bproc_attach(r->b, p);
  if (status < 0) {
    /* the process never ran (or cannot be relayed): close it, the caller gets the error */
    cow__bproc_close(p, created_closed, NULL);
    r->obj = NULL;
    cow__breq_finish(r, status, err);
    return;
  }
  r->obj = p;
  cow__breq_finish(r, 0, NULL);
}

static int start_create(struct breq *r)
{
  cow_process_t *p;
  return cow_host_create_process(&p, r->obj, r->text, created, r);
}

int cow_blocking_create_process(cow_process_t **out, cow_blocking_t *b, cow_host_t *host,
                                const char *config_json, uint64_t timeout_ms, cow_error_t *err)
{
  if (out == NULL || host == NULL || config_json == NULL)
    return COW_EINVAL;
  *out = NULL;
  void *obj = NULL;
  int rc = cow__blocking_call_extra(b, start_create, COW__BREQ_PROCESS, host, config_json, NULL,
                                    NULL, timeout_ms, err, &obj);
  if (rc == 0)
    *out = obj;
  return rc;
}

struct fds_arg {
  cow_process_t *p;
  int fds[3];
};

static int start_fds(struct breq *r)
{
  struct fds_arg *fa = r->obj;
  cow__bproc_take_fds(fa->p, fa->fds);
  cow__breq_finish(r, 0, NULL);
  return 0;
}

int cow_blocking_process_stdio(int *in, int *out, int *errfd, cow_blocking_t *b, cow_process_t *p)
{
  if (p == NULL)
    return COW_EINVAL;
  struct fds_arg fa = {p, {-1, -1, -1}};
  int rc = call(b, start_fds, &fa, NULL, 0, NULL, NULL);
  if (in)
    *in = fa.fds[0];
  else if (fa.fds[0] >= 0)
    uv_fs_close(NULL, NULL, fa.fds[0], NULL);
  if (out)
    *out = fa.fds[1];
  else if (fa.fds[1] >= 0)
    uv_fs_close(NULL, NULL, fa.fds[1], NULL);
  if (errfd)
    *errfd = fa.fds[2];
  else if (fa.fds[2] >= 0)
    uv_fs_close(NULL, NULL, fa.fds[2], NULL);
  return rc;
}

static void proc_done(cow_process_t *p, int status, const cow_error_t *err, void *data)
{
  cow__breq_finish(data, status, err);
}

static void waited(cow_process_t *p, int status, int64_t code, const cow_error_t *err, void *data)
{
  struct breq *r = data;
  r->code = code; /* read by the caller only after done, under the mutex */
  cow__breq_finish(r, status, err);
}

static int start_wait(struct breq *r)
{
  return cow_process_wait(r->obj, waited, r);
}

int cow_blocking_process_wait(int64_t *exit_code, cow_blocking_t *b, cow_process_t *p,
                              uint64_t timeout_ms, cow_error_t *err)
{
  if (p == NULL)
    return COW_EINVAL;
  struct breq *r = NULL;
  int rc = call(b, start_wait, p, NULL, timeout_ms, err, &r);
  if (r != NULL) {
    if (exit_code)
      *exit_code = r->code;
    breq_free(r);
  }
  return rc;
}

static int start_kill(struct breq *r)
{
  return cow_process_kill(r->obj, proc_done, r);
}
static int start_signal(struct breq *r)
{
  return cow_process_signal(r->obj, r->text, proc_done, r);
}
static int start_resize(struct breq *r)
{
  return cow_process_resize_console(r->obj, r->width, r->height, proc_done, r);
}
static void relay_done(void *arg, int status, const cow_error_t *err)
{
  cow__breq_finish(arg, status, err);
}
static int start_close_stdin(struct breq *r)
{
  cow__bproc_close_stdin(r->obj, relay_done, r);
  return 0;
}

int cow_blocking_process_kill(cow_blocking_t *b, cow_process_t *p, uint64_t t, cow_error_t *err)
{
  return p ? call(b, start_kill, p, NULL, t, err, NULL) : COW_EINVAL;
}

int cow_blocking_process_signal(cow_blocking_t *b, cow_process_t *p, const char *options,
                                uint64_t t, cow_error_t *err)
{
  return p ? call(b, start_signal, p, options, t, err, NULL) : COW_EINVAL;
}

int cow_blocking_process_resize_console(cow_blocking_t *b, cow_process_t *p, uint16_t width,
                                        uint16_t height, uint64_t t, cow_error_t *err)
{
  if (p == NULL || b == NULL)
    return COW_EINVAL;
  struct breq *r = breq_new(start_resize, p, NULL);
  if (r == NULL)
    return COW_ENOMEM;
  r->width = width;
  r->height = height;
  return run_request(b, r, t, err, NULL);
}

int cow_blocking_process_close_stdin(cow_blocking_t *b, cow_process_t *p, uint64_t t,
                                     cow_error_t *err)
{
  return p ? call(b, start_close_stdin, p, NULL, t, err, NULL) : COW_EINVAL;
}

/* A descriptor from cow_blocking_process_stdio() as an OS handle the caller owns: the
 * descriptor itself on POSIX; on Windows a duplicate of its HANDLE, the descriptor closed
 * (descriptors are per C runtime, HANDLEs are the process's). -1 when absent or failed. */
static intptr_t fd_to_os(int fd)
{
  if (fd < 0)
    return -1;
#ifdef _WIN32
  HANDLE h = (HANDLE)_get_osfhandle(fd), dup = NULL;
  BOOL ok =
      h != INVALID_HANDLE_VALUE && DuplicateHandle(GetCurrentProcess(), h, GetCurrentProcess(),
                                                   &dup, 0, FALSE, DUPLICATE_SAME_ACCESS);
  _close(fd);
  return ok ? (intptr_t)dup : -1;
#else
  return fd;
#endif
}

int cow_blocking_process_stdio_os(intptr_t *in, intptr_t *out, intptr_t *errh, cow_blocking_t *b,
                                  cow_process_t *p)
{
  int fds[3] = {-1, -1, -1};
  int rc = cow_blocking_process_stdio(in ? &fds[0] : NULL, out ? &fds[1] : NULL,
                                      errh ? &fds[2] : NULL, b, p);
  intptr_t *dst[3] = {in, out, errh};
  for (int i = 0; i < 3; i++) {
    if (dst[i] == NULL)
      continue;
    *dst[i] = fd_to_os(fds[i]);
    if (fds[i] >= 0 && *dst[i] == -1 && rc == 0)
      rc = COW_EIO;
  }
  return rc;
}

static void proc_stopped(cow_process_t *p, int status, int64_t code, int forced,
                         const cow_error_t *err, void *data)
{
  struct breq *r = data;
  r->code = code;
  r->forced = forced;
  cow__breq_finish(r, status, err);
}

static int start_stop(struct breq *r)
{
  return cow_process_stop(r->obj, r->text, r->grace_ms, proc_stopped, r);
}

/* Both stops: one request shape, the results copied out while the caller still waits. */
static int run_stop(cow_blocking_t *b, int (*start)(struct breq *), void *obj,
                    const char *signal_json, uint64_t grace_ms, uint64_t t, int64_t *exit_code,
                    int *forced, cow_error_t *err)
{
  if (obj == NULL || b == NULL)
    return COW_EINVAL;
  struct breq *r = breq_new(start, obj, signal_json);
  if (r == NULL)
    return COW_ENOMEM;
  r->grace_ms = grace_ms;
  struct breq *kept = NULL;
  int rc = run_request(b, r, t, err, &kept);
  if (kept != NULL) {
    if (exit_code)
      *exit_code = kept->code;
    if (forced)
      *forced = kept->forced;
    breq_free(kept);
  }
  return rc;
}

int cow_blocking_process_stop(int64_t *exit_code, int *forced, cow_blocking_t *b, cow_process_t *p,
                              const char *signal_json, uint64_t grace_ms, uint64_t t,
                              cow_error_t *err)
{
  return run_stop(b, start_stop, p, signal_json, grace_ms, t, exit_code, forced, err);
}

static int start_pid(struct breq *r)
{
  r->code = cow_process_pid(r->obj);
  cow__breq_finish(r, 0, NULL);
  return 0;
}

int64_t cow_blocking_process_pid(cow_blocking_t *b, cow_process_t *p)
{
  if (p == NULL)
    return COW_EINVAL;
  struct breq *r = NULL;
  int rc = call(b, start_pid, p, NULL, 0, NULL, &r);
  int64_t pid = rc < 0 ? rc : r->code;
  if (r != NULL)
    breq_free(r);
  return pid;
}

static void handle_closed(void *arg)
{
  cow__breq_finish(arg, 0, NULL);
}

static int start_close(struct breq *r)
{
  cow__bproc_close(r->obj, handle_closed, r);
  return 0;
}

int cow_blocking_process_close(cow_blocking_t *b, cow_process_t *p)
{
  return p ? call(b, start_close, p, NULL, 0, NULL, NULL) : COW_EINVAL;
}

/* ---- containers and hosts ---- */

static void ctr_done(cow_container_t *c, int status, const cow_error_t *err, void *data)
{
  cow__breq_finish(data, status, err);
}

static int start_start(struct breq *r)
{
  return cow_container_start(r->obj, ctr_done, r);
}
static int start_shutdown(struct breq *r)
{
  return cow_container_shutdown(r->obj, ctr_done, r);
}
static int start_terminate(struct breq *r)
{
  return cow_container_terminate(r->obj, ctr_done, r);
}
static int start_cwait(struct breq *r)
{
  return cow_container_wait(r->obj, ctr_done, r);
}
static int start_modify(struct breq *r)
{
  return cow_container_modify(r->obj, r->text, ctr_done, r);
}

int cow_blocking_container_start(cow_blocking_t *b, cow_container_t *c, uint64_t t,
                                 cow_error_t *err)
{
  return c ? call(b, start_start, c, NULL, t, err, NULL) : COW_EINVAL;
}
int cow_blocking_container_shutdown(cow_blocking_t *b, cow_container_t *c, uint64_t t,
                                    cow_error_t *err)
{
  return c ? call(b, start_shutdown, c, NULL, t, err, NULL) : COW_EINVAL;
}
int cow_blocking_container_terminate(cow_blocking_t *b, cow_container_t *c, uint64_t t,
                                     cow_error_t *err)
{
  return c ? call(b, start_terminate, c, NULL, t, err, NULL) : COW_EINVAL;
}
int cow_blocking_container_wait(cow_blocking_t *b, cow_container_t *c, uint64_t t, cow_error_t *err)
{
  return c ? call(b, start_cwait, c, NULL, t, err, NULL) : COW_EINVAL;
}
int cow_blocking_container_modify(cow_blocking_t *b, cow_container_t *c, const char *request,
                                  uint64_t t, cow_error_t *err)
{
  return c && request ? call(b, start_modify, c, request, t, err, NULL) : COW_EINVAL;
}

static void ctr_stopped(cow_container_t *c, int status, int forced, const cow_error_t *err,
                        void *data)
{
  struct breq *r = data;
  r->forced = forced;
  cow__breq_finish(r, status, err);
}

static int start_cstop(struct breq *r)
{
  return cow_container_stop(r->obj, r->grace_ms, ctr_stopped, r);
}

int cow_blocking_container_stop(int *forced, cow_blocking_t *b, cow_container_t *c,
                                uint64_t grace_ms, uint64_t t, cow_error_t *err)
{
  return run_stop(b, start_cstop, c, NULL, grace_ms, t, NULL, forced, err);
}

static void props_done(cow_container_t *c, int status, const char *json, const cow_error_t *err,
                       void *data)
{
  struct breq *r = data;
  if (status == 0 && json != NULL && (r->json = cow__strdup(json)) == NULL)
    status = COW_ENOMEM;
  cow__breq_finish(r, status, err);
}

static int start_props(struct breq *r)
{
  if (r->flag)
    return cow_container_properties_v2(r->obj, r->text, props_done, r);
  return cow_container_properties(r->obj, r->text, props_done, r);
}

int cow_blocking_container_properties(char **json_out, cow_blocking_t *b, cow_container_t *c,
                                      int v2, const char *query, uint64_t t, cow_error_t *err)
{
  if (c == NULL || json_out == NULL || b == NULL)
    return COW_EINVAL;
  *json_out = NULL;
  struct breq *r = breq_new(start_props, c, query);
  if (r == NULL)
    return COW_ENOMEM;
  r->flag = v2 != 0;
  struct breq *kept = NULL;
  int rc = run_request(b, r, t, err, &kept);
  if (kept != NULL) {
    if (rc == 0) {
      *json_out = kept->json;
      kept->json = NULL;
    }
    breq_free(kept);
  }
  return rc;
}

static void container_closed(cow_container_t *c, void *data)
{
  cow__breq_finish(data, 0, NULL);
}
static void host_closed(cow_host_t *h, void *data)
{
  cow__breq_finish(data, 0, NULL);
}
static int start_cclose(struct breq *r)
{
  return cow_container_close(r->obj, container_closed, r);
}
static int start_hclose(struct breq *r)
{
  return cow_host_close(r->obj, host_closed, r);
}

int cow_blocking_container_close(cow_blocking_t *b, cow_container_t *c)
{
  return c ? call(b, start_cclose, c, NULL, 0, NULL, NULL) : COW_EINVAL;
}

int cow_blocking_host_close(cow_blocking_t *b, cow_host_t *h)
{
  return h ? call(b, start_hclose, h, NULL, 0, NULL, NULL) : COW_EINVAL;
}

/* Blocking forms of the process calls (<cow/process.h>): each one a request whose start
 * makes the asynchronous call on the loop thread and whose callback finishes it. */
#include "blocking/blocking.h"

#ifdef _WIN32
#  define WIN32_LEAN_AND_MEAN
#  include <io.h>
#  include <windows.h>
#endif

#include "core/alloc.h"
#include "core/error.h"

static int einval(cow_error_t *err, const char *what)
{
  return cow__error_set(err, COW_EINVAL, COW_DOMAIN_LIB, 0, what, NULL,
                        "a required argument is NULL");
}

/* ---- create ---- */

static void created(cow_process_t *p, int status, const cow_error_t *err, void *data)
{
  struct breq *r = data;
  cow_host_t *host = r->obj;
  cow_container_t *c = cow_host_container(host);
  if (status == 0)
    status = cow__bproc_attach(r->b, p);
  if (status == 0)
    status = cow__bh_add(r->b, COW__BK_PROCESS, p, c != NULL ? (void *)c : (void *)host);
  if (status < 0) {
    /* The process never ran, or cannot be relayed or recorded: close it, the caller gets
     * the error. */
    cow__bh_close(r->b, COW__BK_PROCESS, p, NULL, NULL);
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
  if (out != NULL)
    *out = NULL;
  if (out == NULL || host == NULL || config_json == NULL)
    return einval(err, "create_process");
  void *obj = NULL;
  int rc = cow__blocking_call_extra(b, start_create, COW__BK_PROCESS, host, config_json, NULL, NULL,
                                    timeout_ms, err, &obj);
  if (rc == 0)
    *out = obj;
  return rc;
}

/* ---- open ---- */

static int start_open(struct breq *r)
{
  cow_process_t *p;
  return cow_host_open_process(&p, r->obj, *(const int64_t *)r->extra, created, r);
}

int cow_blocking_host_open_process(cow_process_t **out, cow_blocking_t *b, cow_host_t *host,
                                   int64_t pid, uint64_t timeout_ms, cow_error_t *err)
{
  if (out != NULL)
    *out = NULL;
  if (out == NULL || host == NULL)
    return einval(err, "open_process");
  int64_t *arg = cow__malloc(sizeof *arg);
  if (arg == NULL)
    return cow__error_set(err, COW_ENOMEM, COW_DOMAIN_LIB, 0, "open_process", NULL, NULL);
  *arg = pid;
  void *obj = NULL;
  int rc = cow__blocking_call_extra(b, start_open, COW__BK_PROCESS, host, NULL, arg, cow__free,
                                    timeout_ms, err, &obj);
  if (rc == 0)
    *out = obj;
  return rc;
}

/* ---- stdio descriptors ---- */

static int start_fds(struct breq *r)
{
  int *fds = r->extra;
  cow__bproc_take_fds(r->obj, fds);
  cow__breq_finish(r, 0, NULL);
  return 0;
}

static void close_fd(int fd)
{
  if (fd >= 0)
    uv_fs_close(NULL, NULL, fd, NULL);
}

/* The descriptors leave the request in `fds`; taken but unwanted ones are closed. */
static int take_fds(int fds[3], int want[3], cow_blocking_t *b, cow_process_t *p)
{
  fds[0] = fds[1] = fds[2] = -1;
  if (p == NULL)
    return COW_EINVAL;
  int *got = cow__malloc(3 * sizeof *got);
  struct breq *r = got != NULL ? cow__breq_new(start_fds, p, NULL) : NULL;
  if (r == NULL) {
    cow__free(got);
    return b == NULL ? COW_EINVAL : COW_ENOMEM;
  }
  if (b == NULL) {
    cow__free(got);
    cow__breq_free(r);
    return COW_EINVAL;
  }
  got[0] = got[1] = got[2] = -1;
  r->extra = got;
  r->extra_free = cow__free;
  struct breq *kept = NULL;
  int rc = cow__breq_run(b, r, 0, NULL, &kept);
  if (kept != NULL) {
    for (int i = 0; i < 3; i++) {
      if (want[i])
        fds[i] = got[i];
      else
        close_fd(got[i]);
    }
    cow__breq_free(kept);
  }
  return rc;
}

int cow_blocking_process_stdio(int *in, int *out, int *errfd, cow_blocking_t *b, cow_process_t *p)
{
  int fds[3], want[3] = {in != NULL, out != NULL, errfd != NULL};
  int rc = take_fds(fds, want, b, p);
  int *dst[3] = {in, out, errfd};
  for (int i = 0; i < 3; i++)
    if (dst[i] != NULL)
      *dst[i] = fds[i];
  return rc;
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
  int fds[3], want[3] = {in != NULL, out != NULL, errh != NULL};
  int rc = take_fds(fds, want, b, p);
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

/* ---- operations ---- */

static void proc_done(cow_process_t *p, int status, const cow_error_t *err, void *data)
{
  (void)p;
  cow__breq_finish(data, status, err);
}

static void waited(cow_process_t *p, int status, int64_t code, const cow_error_t *err, void *data)
{
  struct breq *r = data;
  (void)p;
  r->code = code;
  cow__breq_finish(r, status, err);
}

static int start_wait(struct breq *r)
{
  return cow_process_wait(r->obj, waited, r);
}

int cow_blocking_process_wait(int64_t *exit_code, cow_blocking_t *b, cow_process_t *p,
                              uint64_t timeout_ms, cow_error_t *err)
{
  if (exit_code != NULL)
    *exit_code = -1;
  if (p == NULL)
    return einval(err, "wait");
  struct breq *r = NULL;
  int rc = cow__blocking_call(b, start_wait, p, NULL, timeout_ms, err, &r);
  if (r != NULL) {
    if (exit_code != NULL)
      *exit_code = r->code;
    cow__breq_free(r);
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
static int start_close_stdout(struct breq *r)
{
  cow__bproc_close_output(r->obj, COW_STDOUT, relay_done, r);
  return 0;
}
static int start_close_stderr(struct breq *r)
{
  cow__bproc_close_output(r->obj, COW_STDERR, relay_done, r);
  return 0;
}

int cow_blocking_process_kill(cow_blocking_t *b, cow_process_t *p, uint64_t t, cow_error_t *err)
{
  return p ? cow__blocking_call(b, start_kill, p, NULL, t, err, NULL) : einval(err, "kill");
}

int cow_blocking_process_signal(cow_blocking_t *b, cow_process_t *p, const char *options,
                                uint64_t t, cow_error_t *err)
{
  return p ? cow__blocking_call(b, start_signal, p, options, t, err, NULL) : einval(err, "signal");
}

int cow_blocking_process_resize_console(cow_blocking_t *b, cow_process_t *p, uint16_t width,
                                        uint16_t height, uint64_t t, cow_error_t *err)
{
  if (p == NULL || b == NULL)
    return einval(err, "resize_console");
  struct breq *r = cow__breq_new(start_resize, p, NULL);
  if (r == NULL)
    return cow__error_set(err, COW_ENOMEM, COW_DOMAIN_LIB, 0, "resize_console", NULL, NULL);
  r->width = width;
  r->height = height;
  return cow__breq_run(b, r, t, err, NULL);
}

int cow_blocking_process_close_stdin(cow_blocking_t *b, cow_process_t *p, uint64_t t,
                                     cow_error_t *err)
{
  return p ? cow__blocking_call(b, start_close_stdin, p, NULL, t, err, NULL)
           : einval(err, "close_stdin");
}

int cow_blocking_process_close_stdout(cow_blocking_t *b, cow_process_t *p, uint64_t t,
                                      cow_error_t *err)
{
  return p ? cow__blocking_call(b, start_close_stdout, p, NULL, t, err, NULL)
           : einval(err, "close_stdout");
}

int cow_blocking_process_close_stderr(cow_blocking_t *b, cow_process_t *p, uint64_t t,
                                      cow_error_t *err)
{
  return p ? cow__blocking_call(b, start_close_stderr, p, NULL, t, err, NULL)
           : einval(err, "close_stderr");
}

static void proc_stopped(cow_process_t *p, int status, int64_t code, int forced,
                         const cow_error_t *err, void *data)
{
  struct breq *r = data;
  (void)p;
  r->code = code;
  r->forced = forced;
  cow__breq_finish(r, status, err);
}

static int start_stop(struct breq *r)
{
  return cow_process_stop(r->obj, r->text, r->grace_ms, proc_stopped, r);
}

int cow_blocking_process_stop(int64_t *exit_code, int *forced, cow_blocking_t *b, cow_process_t *p,
                              const char *signal_json, uint64_t grace_ms, uint64_t t,
                              cow_error_t *err)
{
  return cow__blocking_stop(exit_code, forced, b, start_stop, p, signal_json, grace_ms, t, err);
}

/* ---- queries ---- */

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
  int rc = cow__blocking_call(b, start_pid, p, NULL, 0, NULL, &r);
  if (r == NULL)
    return rc;
  int64_t pid = r->code;
  cow__breq_free(r);
  return pid;
}

static int start_exit_code(struct breq *r)
{
  cow__breq_finish(r, cow_process_exit_code(&r->code, r->obj), NULL);
  return 0;
}

int cow_blocking_process_exit_code(int64_t *exit_code, cow_blocking_t *b, cow_process_t *p)
{
  if (exit_code == NULL || p == NULL)
    return COW_EINVAL;
  struct breq *r = NULL;
  int rc = cow__blocking_call(b, start_exit_code, p, NULL, 0, NULL, &r);
  if (r != NULL) {
    if (rc == 0)
      *exit_code = r->code;
    cow__breq_free(r);
  }
  return rc;
}

int cow_blocking_process_exit_time(cow_timestamp_t *out, cow_blocking_t *b, cow_process_t *p)
{
  return cow__blocking_exit_time(out, b, COW__BK_PROCESS, p);
}

int cow_blocking_process_set_timeout(cow_blocking_t *b, cow_process_t *p, cow_timeout_kind_t kind,
                                     uint64_t timeout_ms)
{
  return cow__blocking_set_timeout(b, COW__BK_PROCESS, p, kind, timeout_ms);
}

int cow_blocking_process_close(cow_blocking_t *b, cow_process_t *p, uint64_t timeout_ms,
                               cow_error_t *err)
{
  return cow__blocking_close_handle(b, COW__BK_PROCESS, p, timeout_ms, err);
}

/* Stdio of a process: core-owned stream handles (pipe or socket) that the backend opens, reads the
 * library can see (so the exit waits for end of file, as containerd and the GCS require), and the
 * per-direction close calls.
 *
 * The three slots (about 1.1 KB: a libuv stream and a shutdown request each) are allocated
 * together the first time a backend asks for one, so a process without stdio (an exec probe,
 * a signal target) carries none; p->stdio stays NULL for it. */
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/handle.h"
#include "core/log.h"
#include "cow/stdio.h"

static int valid_stream(cow_stdio_t which)
{
  return which == COW_STDIN || which == COW_STDOUT || which == COW_STDERR;
}

static void stdio_closed(uv_handle_t *h)
{
  struct cow__stdio *st = cow__container_of((union cow__stream *)h, struct cow__stdio, s);
  cow__handle_unref(&st->process->base);
}

/* Close one stream if the backend ever initialised it (uv_pipe_init and uv_tcp_init set
 * the public `type` field, so a zeroed, untouched slot is recognisable). A slot the backend
 * has not filled yet (close_stdout before the create completed) is only marked drained:
 * `closed` says that uv_close was issued, and cow_process_stdio_ready() closes the stream
 * when the backend hands it over; marking it closed here would leave that stream open on
 * the loop after the process is freed. */
static void stdio_close(struct cow__stdio *st)
{
  st->drained = 1;
  if (st->closed || !cow__stream_initialised(&st->s) || uv_is_closing(&st->s.handle))
    return;
  st->closed = 1;
  uv_read_stop(&st->s.stream);
  cow__handle_ref(&st->process->base);
  uv_close(&st->s.handle, stdio_closed);
}

/* Slot `which`, or NULL when the process never had stdio. */
static struct cow__stdio *slot_of(const cow_process_t *p, int which)
{
  return p->stdio ? &p->stdio[which] : NULL;
}

/* The slots, allocated on first use; NULL when out of memory. A direction closed before
 * then starts drained, so that its stream is closed when the backend hands it over. */
static struct cow__stdio *slots(cow_process_t *p)
{
  if (p->stdio == NULL) {
    p->stdio = cow__calloc(3, sizeof *p->stdio);
    if (p->stdio == NULL)
      return NULL;
    for (int i = 0; i < 3; i++) {
      p->stdio[i].process = p;
      p->stdio[i].drained = (p->stdio_closed_early >> i) & 1u;
    }
  }
  return p->stdio;
}

/* Close direction `which`, or remember it when its slot does not exist yet. */
static void close_direction(cow_process_t *p, int which)
{
  if (p->stdio != NULL)
    stdio_close(&p->stdio[which]);
  else
    p->stdio_closed_early |= 1u << which;
}

void cow__process_stdio_close_all(cow_process_t *p)
{
  for (int i = 0; i < 3; i++)
    close_direction(p, i);
}

int cow__process_stdio_pending(const cow_process_t *p)
{
  for (int i = COW_STDOUT; i <= COW_STDERR; i++) {
    const struct cow__stdio *st = slot_of(p, i);
    if (st != NULL && st->ready && !st->drained)
      return 1;
  }
  return 0;
}

uv_pipe_t *cow_process_stdio_pipe(cow_process_t *p, cow_stdio_t which)
{
  if (p == NULL || !valid_stream(which) || slots(p) == NULL)
    return NULL;
  return &p->stdio[which].s.pipe;
}

uv_tcp_t *cow_process_stdio_tcp(cow_process_t *p, cow_stdio_t which)
{
  if (p == NULL || !valid_stream(which) || slots(p) == NULL)
    return NULL;
  return &p->stdio[which].s.tcp;
}

union cow__stream *cow__process_stdio_slot(cow_process_t *p, cow_stdio_t which)
{
  return slots(p) ? &p->stdio[which].s : NULL;
}

void cow_process_stdio_ready(cow_process_t *p, cow_stdio_t which)
{
  if (p == NULL || !valid_stream(which) || p->stdio == NULL)
    return; /* no slot was ever handed out: nothing can have been made ready */
  struct cow__stdio *st = &p->stdio[which];
  st->ready = 1;
  /* Nothing reads a stream before it is ready: drained already means that the caller
   * closed this direction (or the process) while the create was in flight. */
  if (st->drained)
    stdio_close(st);
}

int cow_process_stdio(uv_stream_t **in, uv_stream_t **out, uv_stream_t **err, cow_process_t *p)
{
  if (p == NULL)
    return COW_EINVAL;
  if (!p->created)
    return COW_ENOT_STARTED;
  uv_stream_t **dst[3] = {in, out, err};
  for (int i = 0; i < 3; i++) {
    struct cow__stdio *st = slot_of(p, i);
    if (dst[i] != NULL)
      *dst[i] = st && st->ready ? &st->s.stream : NULL;
  }
  return 0;
}

static void stdio_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
  struct cow__stdio *st = cow__container_of((union cow__stream *)s, struct cow__stdio, s);
  cow_process_t *p = st->process;
  if (nread > 0)
    cow__process_drain_progress(p);
  st->read_cb(s, nread, buf);
  if (nread >= 0)
    return;
  /* End of file (or a read error, which ends the stream just as surely). Close the host's
   * end at once: the GCS holds back WaitForProcess until it does (docs/gcs-bridge-protocol.md
   * §5.3). The user callback may have closed the process meanwhile; stdio_close is idempotent. */
  if (nread != UV_EOF)
    cow__log(COW_LOG_DEBUG, "core", "process %lld: stdio read error %s", (long long)p->pid,
             uv_err_name((int)nread));
  stdio_close(st);
  cow__process_check_drained(p);
}

int cow_process_read_start(cow_process_t *p, cow_stdio_t which, uv_alloc_cb alloc_cb,
                           uv_read_cb read_cb)
{
  if (p == NULL || alloc_cb == NULL || read_cb == NULL)
    return COW_EINVAL;
  if (p->base.flags & COW__CLOSING)
    return COW_ECLOSING;
  if (which != COW_STDOUT && which != COW_STDERR)
    return COW_EINVAL;
  struct cow__stdio *st = slot_of(p, which);
  if (!p->created)
    return COW_ENOT_STARTED;
  if (st == NULL || !st->ready)
    return COW_EINVAL;
  if (st->closed)
    return COW_EALREADY;
  st->read_cb = read_cb;
  return uv_read_start(&st->s.stream, alloc_cb, stdio_read);
}

int cow_process_read_stop(cow_process_t *p, cow_stdio_t which)
{
  if (p == NULL || (which != COW_STDOUT && which != COW_STDERR))
    return COW_EINVAL;
  struct cow__stdio *st = slot_of(p, which);
  if (st == NULL || !st->ready || st->closed)
    return 0;
  return uv_read_stop(&st->s.stream);
}

/* close_stdout/close_stderr: close the local stream, then tell a backend that keeps its own
 * end (the HCS) so that the process's next write fails instead of filling a pipe that no one
 * reads any more. */
static int close_output(cow_process_t *p, cow_stdio_t which, const char *name, cow_process_cb cb,
                        void *data)
{
  if (p == NULL || cb == NULL)
    return COW_EINVAL;
  if (p->base.flags & COW__CLOSING)
    return COW_ECLOSING;
  int forward =
      p->ops->version >= 2 && p->ops->close_output != NULL && p->created && !p->exit_reported;
  cow_op_t *op;
  int rc = cow__op_new(&p->base, name, COW__CB_PROCESS, (void (*)(void))cb, data,
                       forward ? COW_TIMEOUT_CLOSE_STDIN : COW_TIMEOUT__MAX, forward, &op);
  if (rc != 0)
    return rc;
  close_direction(p, which);
  cow__process_check_drained(p);
  if (!forward) {
    cow__op_finish(op, 0, NULL);
    return 0;
  }
  cow__op_arm(op);
  rc = p->ops->close_output(p, which, op);
  if (rc < 0)
    cow_op_complete(op, rc, NULL);
  return 0;
}

int cow_process_close_stdout(cow_process_t *p, cow_process_cb cb, void *data)
{
  return close_output(p, COW_STDOUT, "close_stdout", cb, data);
}

int cow_process_close_stderr(cow_process_t *p, cow_process_cb cb, void *data)
{
  return close_output(p, COW_STDERR, "close_stderr", cb, data);
}

/* close_stdin: flush and half-close locally, then forward to the backend (R8: forwarded
 * even when there is no local stream). */
static void stdin_forward(cow_process_t *p, cow_op_t *op)
{
  if (p->ops->close_stdin == NULL || p->exit_reported || (p->base.flags & COW__CLOSING)) {
    cow_op_complete(op, 0, NULL);
    return;
  }
  int rc = p->ops->close_stdin(p, op);
  if (rc < 0)
    cow_op_complete(op, rc, NULL);
}

static void stdin_shutdown_done(uv_shutdown_t *req, int status)
{
  struct cow__stdio *st = cow__container_of(req, struct cow__stdio, shutdown_req);
  cow_process_t *p = st->process;
  cow_op_t *op = req->data;
  st->shutting = 0;
  if (status == UV_ECANCELED) { /* the process is closing */
    cow_op_complete(op, COW_ECANCELED, NULL);
    return;
  }
  if (status < 0) {
    /* Not a socket (an anonymous pipe's write end): closing it is the half-close. */
    stdio_close(st);
  }
  stdin_forward(p, op);
}

int cow_process_close_stdin(cow_process_t *p, cow_process_cb cb, void *data)
{
  if (p == NULL || cb == NULL)
    return COW_EINVAL;
  if (p->base.flags & COW__CLOSING)
    return COW_ECLOSING;
  if (!p->created && !p->exit_reported)
    return COW_ENOT_STARTED;
  if (cow__process_lost(p))
    return COW_EBRIDGE_CLOSED; /* nothing can be told to the process any more */
  cow_op_t *op;
  int rc = cow__op_new(&p->base, "close_stdin", COW__CB_PROCESS, (void (*)(void))cb, data,
                       COW_TIMEOUT_CLOSE_STDIN, 1, &op);
  if (rc != 0)
    return rc;
  cow__op_arm(op);
  struct cow__stdio *st = slot_of(p, COW_STDIN);
  if (st != NULL && st->ready && !st->closed && !st->shutting) {
    st->shutdown_req.data = op;
    if (uv_shutdown(&st->shutdown_req, &st->s.stream, stdin_shutdown_done) == 0) {
      st->shutting = 1;
      return 0;
    }
    stdio_close(st);
  }
  stdin_forward(p, op);
  return 0;
}

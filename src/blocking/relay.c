/* Stdio relays of the blocking API: each stream of a process is copied between the
 * core-owned libuv stream and one end of a descriptor pair whose other end the caller gets
 * as a file descriptor: a socketpair on POSIX, an anonymous pipe on Windows (uv_pipe(): CRT
 * descriptors; our end overlapped, the caller's synchronous).
 *
 * Output (stdout, stderr). Reading through cow_process_read_start() keeps the exit
 * ordering (the exit is reported after end of file); writes to the caller's end apply
 * backpressure by pausing the read when too much is queued. End of file reaches the caller
 * by uv_shutdown(): a half-close of the socket, or on Windows, once the caller has read
 * everything, the close of our write-only end. When the caller closes its end, a write
 * fails: the relay stops and closes the process's stream, so the command sees EPIPE or
 * SIGPIPE on its next write, as it would writing to a closed pipe (never a loop that reads
 * and discards).
 *
 * Input (stdin). What the caller writes is copied to the process's stdin, with the same
 * backpressure. Closing stdin, by the caller closing its end or by
 * cow_blocking_process_close_stdin(), first hands on every byte already written: the relay
 * reads our end until it is empty, then closes it (later writes by the caller fail with
 * EPIPE) and half-closes the process's stdin, which flushes what is queued. A write to the
 * process that fails is counted and reported by the close, never dropped silently. */
#include "blocking/blocking.h"

#include <string.h>
#ifdef _WIN32
#  define WIN32_LEAN_AND_MEAN
#  include <io.h>
#  include <windows.h>
#  define fd_close _close
#else
#  include <sys/ioctl.h>
#  include <sys/socket.h>
#  include <unistd.h>
#  define fd_close close
#endif

#include "core/alloc.h"
#include "core/error.h"
#include "core/list.h"
#include "core/log.h"
#include "cow/stdio.h"

#define RELAY_CHUNK 65536
#define RELAY_HIGH  (1u << 20) /* pause reading above this many queued bytes */
#define RELAY_LOW   (1u << 18) /* resume below this */

/* Where the stdin relay is on its way to closing the process's stdin. */
enum in_state {
  IN_OPEN,     /* copying */
  IN_DRAINING, /* a close was asked for: copying until our end is empty */
  IN_CLOSING,  /* cow_process_close_stdin() issued */
  IN_CLOSED    /* done; the result is kept for later closes */
};

struct relay {
  struct bproc *bp;
  cow_stdio_t which;
  uv_pipe_t pipe; /* our end of the pair */
  int user_fd;    /* the caller's end until handed over */
  unsigned open : 1, paused : 1, eof : 1, broken : 1;
  uv_shutdown_t shutdown_req;
};

/* A caller of cow__bproc_close_stdin() waiting for the half-close. */
struct in_waiter {
  cow__list link;
  cow__bdone_cb cb;
  void *arg;
};

struct bproc {
  cow_process_t *p;
  struct relay relay[3];
  int refs; /* the process until its close callback, + each relay pipe until closed */
  void (*done)(void *arg);
  void *done_arg;
  /* stdin */
  enum in_state in_state;
  cow__list in_waiters;
  uint64_t in_lost; /* bytes the process's stdin refused */
  int in_write_error;
  int in_status; /* IN_CLOSED: the result every close gets */
  cow_error_t in_err;
};

static struct bproc *bp_of(cow_process_t *p)
{
  return cow_process_get_data(p);
}

static void bp_unref(struct bproc *bp)
{
  if (--bp->refs > 0)
    return;
  void (*done)(void *) = bp->done;
  void *arg = bp->done_arg;
  for (int i = 0; i < 3; i++)
    if (bp->relay[i].user_fd >= 0)
      fd_close(bp->relay[i].user_fd);
  cow_error_clear(&bp->in_err);
  cow__free(bp);
  if (done != NULL)
    done(arg);
}

static void relay_closed(uv_handle_t *h)
{
  struct relay *r = h->data;
  bp_unref(r->bp);
}

/* Close our end of the pair (idempotent); queued writes to it are cancelled. */
static void relay_close(struct relay *r)
{
  if (!r->open)
    return;
  r->open = 0;
  uv_close((uv_handle_t *)&r->pipe, relay_closed);
}

static void ignore_result(cow_process_t *p, int status, const cow_error_t *err, void *data)
{
  (void)p;
  (void)status;
  (void)err;
  (void)data;
}

/* ---- output: process -> caller ---- */

struct chunk {
  uv_write_t req;
  struct relay *relay;
  char data[RELAY_CHUNK];
};

static void out_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
  struct chunk *c = cow__malloc(sizeof *c);
  *buf = c ? uv_buf_init(c->data, sizeof c->data) : uv_buf_init(NULL, 0);
}

static void out_resume(uv_stream_t *s, ssize_t n, const uv_buf_t *buf);

static int close_output_stream(cow_process_t *p, cow_stdio_t which, cow_process_cb cb, void *arg)
{
  return which == COW_STDOUT ? cow_process_close_stdout(p, cb, arg)
                             : cow_process_close_stderr(p, cb, arg);
}

/* The caller's end is gone (a write failed): stop relaying, and close the process's
 * stream so that the command sees a closed pipe too. */
static void out_consumer_gone(struct relay *r, int status)
{
  if (r->broken)
    return;
  r->broken = 1;
  cow__log(COW_LOG_DEBUG, "blocking", "process %lld: the reader of %s went away (%s)",
           (long long)cow_process_pid(r->bp->p), r->which == COW_STDOUT ? "stdout" : "stderr",
           uv_err_name(status));
  if (!r->eof)
    close_output_stream(r->bp->p, r->which, ignore_result, NULL);
  relay_close(r);
}

static void out_written(uv_write_t *req, int status)
{
  struct chunk *c = cow__container_of(req, struct chunk, req);
  struct relay *r = c->relay;
  cow__free(c);
  if (status == UV_ECANCELED) /* our end is closing */
    return;
  if (status < 0) {
    out_consumer_gone(r, status);
    return;
  }
  if (r->paused && !r->broken && !r->eof && r->pipe.write_queue_size < RELAY_LOW) {
    r->paused = 0;
    cow_process_read_start(r->bp->p, r->which, out_alloc, out_resume);
  }
}

static void out_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf, struct relay *r)
{
  struct chunk *c = buf->base ? cow__container_of(buf->base, struct chunk, data) : NULL;
  if (n <= 0 || r->broken) {
    cow__free(c);
    if (n < 0 && !r->eof) {
      r->eof = 1; /* end of the process's stream: pass end of file on after queued data */
      if (r->open && uv_shutdown(&r->shutdown_req, (uv_stream_t *)&r->pipe, NULL) != 0)
        relay_close(r);
    }
    return;
  }
  c->relay = r;
  uv_buf_t b = uv_buf_init(c->data, (unsigned)n);
  int rc = r->open ? uv_write(&c->req, (uv_stream_t *)&r->pipe, &b, 1, out_written) : UV_EPIPE;
  if (rc != 0) {
    cow__free(c);
    out_consumer_gone(r, rc);
    return;
  }
  if (r->pipe.write_queue_size > RELAY_HIGH) {
    r->paused = 1;
    cow_process_read_stop(r->bp->p, r->which);
  }
}

/* The read callback is per stream; recover the relay from the stream's data pointer. */
static void out_resume(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
  out_read(s, n, buf, s->data);
}

/* ---- input: caller -> process ---- */

struct in_chunk {
  uv_write_t req;
  struct relay *relay;
  size_t len;
  char data[RELAY_CHUNK];
};

static void in_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
  struct in_chunk *c = cow__malloc(sizeof *c);
  *buf = c ? uv_buf_init(c->data, sizeof c->data) : uv_buf_init(NULL, 0);
}

static void in_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf);

static uv_stream_t *process_stdin(struct bproc *bp)
{
  uv_stream_t *in = NULL;
  cow_process_stdio(&in, NULL, NULL, bp->p);
  return in;
}

/* Bytes the caller wrote that we have not read yet (0 when unknown or none). */
static size_t in_unread(struct relay *r)
{
  uv_os_fd_t fd;
  if (!r->open || uv_fileno((uv_handle_t *)&r->pipe, &fd) != 0)
    return 0;
#ifdef _WIN32
  DWORD avail = 0;
  if (!PeekNamedPipe(fd, NULL, 0, NULL, &avail, NULL))
    return 0; /* the writer is gone: what it wrote arrives with end of file */
  return avail;
#else
  int avail = 0;
  if (ioctl(fd, FIONREAD, &avail) != 0 || avail < 0)
    return 0;
  return (size_t)avail;
#endif
}

static void in_finish(struct bproc *bp, int status, const cow_error_t *err)
{
  bp->in_state = IN_CLOSED;
  if (bp->in_lost > 0) {
    /* Bytes the caller wrote never reached the process: that is the result. */
    cow_error_clear(&bp->in_err);
    bp->in_status = bp->in_write_error;
    cow__error_set(&bp->in_err, bp->in_status, COW_DOMAIN_LIB, 0, "close_stdin", NULL,
                   "%llu bytes written to stdin could not be delivered to the process (%s)",
                   (unsigned long long)bp->in_lost, uv_strerror(bp->in_write_error));
  } else {
    bp->in_status = status;
    if (status < 0 && err != NULL)
      cow_error_copy(&bp->in_err, err);
    else if (status == COW_EBRIDGE_CLOSED)
      cow__bh_lost_cause(COW__BK_PROCESS, bp->p, &bp->in_err);
    else if (status < 0)
      cow__error_set(&bp->in_err, status, COW_DOMAIN_LIB, 0, "close_stdin", NULL, NULL);
  }
  while (!cow__list_empty(&bp->in_waiters)) {
    struct in_waiter *w = cow__container_of(bp->in_waiters.next, struct in_waiter, link);
    cow__list_remove(&w->link);
    w->cb(w->arg, bp->in_status, bp->in_status < 0 ? &bp->in_err : NULL);
    cow__free(w);
  }
}

static void in_closed(cow_process_t *p, int status, const cow_error_t *err, void *data)
{
  (void)p;
  in_finish(data, status, err);
}

/* Everything the caller wrote has been read: stop reading, close our end (the caller's
 * later writes fail with EPIPE), and half-close the process's stdin after what is queued. */
static void in_begin_close(struct bproc *bp)
{
  if (bp->in_state == IN_CLOSING || bp->in_state == IN_CLOSED)
    return;
  bp->in_state = IN_CLOSING;
  struct relay *r = &bp->relay[COW_STDIN];
  r->eof = 1;
  relay_close(r);
  int rc = cow_process_close_stdin(bp->p, in_closed, bp);
  if (rc < 0)
    in_finish(bp, rc, NULL);
}

static void in_drained_check(struct bproc *bp)
{
  if (bp->in_state == IN_DRAINING && in_unread(&bp->relay[COW_STDIN]) == 0)
    in_begin_close(bp);
}

static void in_lost(struct bproc *bp, size_t len, int status)
{
  if (bp->in_lost == 0) {
    bp->in_write_error = status;
    cow__log(COW_LOG_WARN, "blocking", "process %lld: writing stdin failed (%s); closing it",
             (long long)cow_process_pid(bp->p), uv_strerror(status));
  }
  bp->in_lost += len;
  in_begin_close(bp); /* the caller's next write fails: the loss is visible at once */
}

static void in_written(uv_write_t *req, int status)
{
  struct in_chunk *c = cow__container_of(req, struct in_chunk, req);
  struct relay *r = c->relay;
  struct bproc *bp = r->bp;
  size_t len = c->len;
  cow__free(c);
  if (status < 0) {
    in_lost(bp, len, status);
    return;
  }
  uv_stream_t *in = process_stdin(bp);
  if (r->paused && r->open && in != NULL && in->write_queue_size < RELAY_LOW) {
    r->paused = 0;
    uv_read_start((uv_stream_t *)&r->pipe, in_alloc, in_read);
  }
}

static void in_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
  struct relay *r = s->data;
  struct bproc *bp = r->bp;
  struct in_chunk *c = buf->base ? cow__container_of(buf->base, struct in_chunk, data) : NULL;
  if (n > 0) {
    uv_stream_t *in = process_stdin(bp);
    c->relay = r;
    c->len = (size_t)n;
    uv_buf_t b = uv_buf_init(c->data, (unsigned)n);
    int rc = in == NULL || uv_is_closing((uv_handle_t *)in)
                 ? UV_EPIPE
                 : uv_write(&c->req, in, &b, 1, in_written);
    if (rc != 0) {
      cow__free(c);
      in_lost(bp, (size_t)n, rc);
      return;
    }
    if (in->write_queue_size > RELAY_HIGH) {
      r->paused = 1;
      uv_read_stop(s);
    }
    in_drained_check(bp);
    return;
  }
  cow__free(c);
  if (n == 0)
    return;
  /* End of file: the caller closed its end, its way of closing the process's stdin. A read
   * error ends the stream too, and what was still unread is lost: say so. */
  if (n != UV_EOF)
    in_lost(bp, in_unread(r), (int)n);
  in_begin_close(bp);
}

void cow__bproc_close_stdin(cow_process_t *p, cow__bdone_cb cb, void *arg)
{
  struct bproc *bp = bp_of(p);
  if (bp == NULL) {
    cb(arg, COW_EINVAL, NULL);
    return;
  }
  if (bp->in_state == IN_CLOSED) {
    cb(arg, bp->in_status, bp->in_status < 0 ? &bp->in_err : NULL);
    return;
  }
  struct in_waiter *w = cow__calloc(1, sizeof *w);
  if (w == NULL) {
    cb(arg, COW_ENOMEM, NULL);
    return;
  }
  w->cb = cb;
  w->arg = arg;
  cow__list_insert_tail(&bp->in_waiters, &w->link);
  if (bp->in_state == IN_OPEN)
    bp->in_state = IN_DRAINING;
  in_drained_check(bp);
}

/* ---- set-up and tear-down ---- */

/* A descriptor pair for stream `which`: *ours for the relay, *theirs for the caller. */
static int make_pair(cow_stdio_t which, int *ours, int *theirs)
{
#ifdef _WIN32
  int fds[2]; /* [0] reads, [1] writes */
  int in = which == COW_STDIN;
  if (uv_pipe(fds, in ? UV_NONBLOCK_PIPE : 0, in ? 0 : UV_NONBLOCK_PIPE) != 0)
    return COW_EIO;
  *ours = in ? fds[0] : fds[1];
  *theirs = in ? fds[1] : fds[0];
#else
  (void)which;
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
    return COW_EIO;
  *ours = sv[0];
  *theirs = sv[1];
#endif
  return 0;
}

int cow__bproc_attach(cow_blocking_t *b, cow_process_t *p)
{
  struct bproc *bp = cow__calloc(1, sizeof *bp);
  if (bp == NULL)
    return COW_ENOMEM;
  bp->p = p;
  bp->refs = 1; /* the process */
  cow__list_init(&bp->in_waiters);
  for (int i = 0; i < 3; i++) {
    bp->relay[i].bp = bp;
    bp->relay[i].which = (cow_stdio_t)i;
    bp->relay[i].user_fd = -1;
  }
  cow_process_set_data(p, bp);
  uv_stream_t *streams[3] = {NULL, NULL, NULL};
  cow_process_stdio(&streams[0], &streams[1], &streams[2], p);
  for (int i = 0; i < 3; i++) {
    struct relay *r = &bp->relay[i];
    if (streams[i] == NULL)
      continue;
    int ours, theirs;
    if (make_pair(r->which, &ours, &theirs) != 0)
      return COW_EIO;
    if (uv_pipe_init(&b->loop, &r->pipe, 0) != 0) {
      fd_close(ours);
      fd_close(theirs);
      return COW_EIO;
    }
    r->open = 1; /* from here on the pipe handle must be closed, whatever happens */
    bp->refs++;
    r->pipe.data = r;
    if (uv_pipe_open(&r->pipe, ours) != 0) {
      fd_close(ours);
      fd_close(theirs);
      return COW_EIO;
    }
    r->user_fd = theirs;
    if (i == COW_STDIN) {
      uv_read_start((uv_stream_t *)&r->pipe, in_alloc, in_read);
    } else {
      streams[i]->data = r;
      cow_process_read_start(p, r->which, out_alloc, out_resume);
    }
  }
  return 0;
}

void cow__bproc_take_fds(cow_process_t *p, int fds[3])
{
  struct bproc *bp = bp_of(p);
  for (int i = 0; i < 3; i++) {
    fds[i] = bp ? bp->relay[i].user_fd : -1;
    if (bp)
      bp->relay[i].user_fd = -1;
  }
}

struct out_close {
  cow__bdone_cb cb;
  void *arg;
};

static void output_closed(cow_process_t *p, int status, const cow_error_t *err, void *data)
{
  struct out_close *oc = data;
  oc->cb(oc->arg, status, err);
  cow__free(oc);
}

void cow__bproc_close_output(cow_process_t *p, cow_stdio_t which, cow__bdone_cb cb, void *arg)
{
  struct bproc *bp = bp_of(p);
  struct out_close *oc = cow__malloc(sizeof *oc);
  if (bp == NULL || oc == NULL) {
    cow__free(oc);
    cb(arg, bp == NULL ? COW_EINVAL : COW_ENOMEM, NULL);
    return;
  }
  oc->cb = cb;
  oc->arg = arg;
  struct relay *r = &bp->relay[which];
  r->broken = 1; /* nothing more is relayed; the caller's end reads end of file */
  relay_close(r);
  int rc = close_output_stream(p, which, output_closed, oc);
  if (rc < 0) {
    cow__free(oc);
    cb(arg, rc, NULL);
  }
}

static void proc_closed(cow_process_t *p, void *data)
{
  bp_unref(data);
}

void cow__bproc_close(cow_process_t *p, void (*done)(void *arg), void *arg)
{
  struct bproc *bp = bp_of(p);
  if (bp == NULL) {
    /* created but never attached: a bare record carries the completion */
    bp = cow__calloc(1, sizeof *bp);
    if (bp == NULL) {
      cow_process_close(p, NULL, NULL);
      done(arg);
      return;
    }
    bp->refs = 1;
    cow__list_init(&bp->in_waiters);
    for (int i = 0; i < 3; i++)
      bp->relay[i].user_fd = -1;
  }
  bp->done = done;
  bp->done_arg = arg;
  for (int i = 0; i < 3; i++)
    relay_close(&bp->relay[i]);
  /* Closes of stdin still draining end here; one already issued is cancelled by the
   * process's close, and its callback completes the waiters. */
  if (bp->in_state == IN_OPEN || bp->in_state == IN_DRAINING)
    in_finish(bp, COW_ECANCELED, NULL);
  if (cow_process_close(p, proc_closed, bp) != 0)
    bp_unref(bp);
}

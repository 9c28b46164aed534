/* Stdio relays of the blocking API: each stream of a process is copied between the
 * core-owned libuv stream and one end of a descriptor pair whose other end the caller gets
 * as a file descriptor: a socketpair on POSIX, an anonymous pipe on Windows (uv_pipe(): CRT
 * descriptors; our end overlapped, the caller's synchronous). Reading through
 * cow_process_read_start() keeps the exit ordering (the exit is reported after end of
 * file); writes to the caller's end apply backpressure by pausing the read when too much
 * is queued. End of file reaches the caller by uv_shutdown(): a half-close of the socket,
 * or on Windows, once the caller has read everything, the close of our write-only end. */
#include "blocking/blocking.h"

#include <string.h>
#ifdef _WIN32
#  include <io.h>
#  define fd_close _close
#else
#  include <sys/socket.h>
#  include <unistd.h>
#  define fd_close close
#endif

#include "core/alloc.h"
#include "core/list.h"

#define RELAY_CHUNK 65536
#define RELAY_HIGH  (1u << 20) /* pause reading above this many queued bytes */
#define RELAY_LOW   (1u << 18) /* resume below this */

struct relay {
  struct bproc *bp;
  cow_stdio_t which;
  uv_pipe_t pipe; /* our end of the pair */
  int user_fd;    /* the caller's end until handed over */
  unsigned open : 1, paused : 1, eof : 1, broken : 1;
  uv_shutdown_t shutdown_req;
};

struct bproc {
  cow_process_t *p;
  struct relay relay[3];
  int pending_closes; /* relay pipes + the process */
  void (*done)(void *arg);
  void *done_arg;
};

static struct bproc *bp_of(cow_process_t *p)
{
  return cow_process_get_data(p);
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

static void out_written(uv_write_t *req, int status)
{
  struct chunk *c = cow__container_of(req, struct chunk, req);
  struct relay *r = c->relay;
  cow__free(c);
  if (status < 0)
    r->broken = 1; /* the caller closed its end: discard the rest, keep draining */
  if (r->paused && r->pipe.write_queue_size < RELAY_LOW && !r->eof) {
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
        r->broken = 1;
    }
    return;
  }
  c->relay = r;
  uv_buf_t b = uv_buf_init(c->data, (unsigned)n);
  if (uv_write(&c->req, (uv_stream_t *)&r->pipe, &b, 1, out_written) != 0) {
    cow__free(c);
    r->broken = 1;
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
  char data[RELAY_CHUNK];
};

static void in_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
  struct in_chunk *c = cow__malloc(sizeof *c);
  *buf = c ? uv_buf_init(c->data, sizeof c->data) : uv_buf_init(NULL, 0);
}

static void in_written(uv_write_t *req, int status)
{
  cow__free(cow__container_of(req, struct in_chunk, req));
}

static void stdin_closed(cow_process_t *p, int status, const cow_error_t *err, void *data)
{
  (void)p;
  (void)status;
  (void)err;
  (void)data;
}

static void in_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
  struct relay *r = s->data;
  struct in_chunk *c = buf->base ? cow__container_of(buf->base, struct in_chunk, data) : NULL;
  if (n > 0) {
    uv_stream_t *in = NULL;
    cow_process_stdio(&in, NULL, NULL, r->bp->p);
    uv_buf_t b = uv_buf_init(c->data, (unsigned)n);
    if (in == NULL || uv_is_closing((uv_handle_t *)in) ||
        uv_write(&c->req, in, &b, 1, in_written) != 0)
      cow__free(c);
    return;
  }
  cow__free(c);
  if (n < 0 && !r->eof) {
    /* The caller closed its end: that is its way of closing the process's stdin. */
    r->eof = 1;
    uv_read_stop(s);
    cow_process_close_stdin(r->bp->p, stdin_closed, NULL);
  }
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
  cow_process_set_data(p, bp);
  uv_stream_t *streams[3] = {NULL, NULL, NULL};
  cow_process_stdio(&streams[0], &streams[1], &streams[2], p);
  for (int i = 0; i < 3; i++) {
    struct relay *r = &bp->relay[i];
    r->bp = bp;
    r->which = (cow_stdio_t)i;
    r->user_fd = -1;
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

static void bp_release(struct bproc *bp)
{
  if (--bp->pending_closes > 0)
    return;
  void (*done)(void *) = bp->done;
  void *arg = bp->done_arg;
  for (int i = 0; i < 3; i++)
    if (bp->relay[i].user_fd >= 0)
      fd_close(bp->relay[i].user_fd);
  cow__free(bp);
  done(arg);
}

static void relay_closed(uv_handle_t *h)
{
  struct relay *r = h->data;
  bp_release(r->bp);
}

static void proc_closed(cow_process_t *p, void *data)
{
  struct bproc *bp = data;
  if (bp->p == NULL) { /* no relays were attached */
    void (*done)(void *) = bp->done;
    void *arg = bp->done_arg;
    cow__free(bp);
    done(arg);
    return;
  }
  bp_release(bp);
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
  }
  bp->done = done;
  bp->done_arg = arg;
  bp->pending_closes = 1; /* the process itself */
  for (int i = 0; i < 3; i++) {
    struct relay *r = &bp->relay[i];
    if (!r->open)
      continue;
    r->open = 0;
    bp->pending_closes++;
    uv_close((uv_handle_t *)&r->pipe, relay_closed);
  }
  cow_process_close(p, proc_closed, bp);
}

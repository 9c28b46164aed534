/* The stdio relay between containerd's fifos and a libcow process. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cow/stdio.h"
#include "io.h"
#include "log.h"

#define CHUNK 65536

struct out {
  shim_io_t *io;
  cow_stdio_t which;
  char *path;
  int fd;         /* the fifo's descriptor until the pipe handle owns it; -1 */
  uv_pipe_t pipe; /* the fifo, once open */
  int pipe_init;
  uv_stream_t *src; /* the process's stream, once attached */
  size_t queued;    /* bytes written to the fifo and not yet taken by its reader */
  int paused, eof, broken;
};

struct in {
  shim_io_t *io;
  char *path;
  int fd; /* our reader until the pipe handle owns it; -1 */
  uv_pipe_t pipe;
  int pipe_init;
  uv_stream_t *dst; /* the process's stdin, once attached */
  size_t queued;
  int paused, eof, broken, close_requested, closed;
};

struct shim_io {
  uv_loop_t *loop;
  struct out out[2]; /* stdout, stderr */
  struct in in;
  cow_process_t *proc;
  uv_timer_t timer; /* open retries, and callbacks deferred out of the calls */
  uint64_t open_deadline;
  shim_io_cb cb; /* the open's, then the drain's */
  void *cb_data;
  enum { OPENING, OPEN, DRAINING, DRAINED, FAILED } state;
  int cut; /* the exit came without end of file: stop reading output */
  int status;
  char what[512];
  unsigned handles; /* the timer and the pipes, until their close callbacks */
  unsigned refs;    /* writes in flight */
  int closing;
};

struct wreq {
  uv_write_t req;
  shim_io_t *io;
  void *slot; /* struct out or struct in */
  char *base;
  size_t len;
};

static void maybe_free(shim_io_t *io)
{
  if (io->closing && io->handles == 0 && io->refs == 0) {
    free(io->out[0].path);
    free(io->out[1].path);
    free(io->in.path);
    free(io);
  }
}

static void handle_closed(uv_handle_t *h)
{
  shim_io_t *io = h->data;
  io->handles--;
  maybe_free(io);
}

static void close_pipe(shim_io_t *io, uv_pipe_t *p, int *init)
{
  if (*init && !uv_is_closing((uv_handle_t *)p)) {
    p->data = io;
    uv_close((uv_handle_t *)p, handle_closed);
  }
}

/* ---- opening ---- */

static int open_fifo(const char *path, int flags, int *fd, char *what, size_t len)
{
  *fd = open(path, flags | O_NONBLOCK | O_CLOEXEC);
  if (*fd < 0) {
    int e = errno;
    if (e != ENXIO)
      snprintf(what, len, "opening %s: %s", path, strerror(e));
    return -e;
  }
  struct stat st;
  if (fstat(*fd, &st) != 0 || !S_ISFIFO(st.st_mode)) {
    snprintf(what, len, "%s is not a fifo (the cow shim relays stdio through fifos only)", path);
    close(*fd);
    *fd = -1;
    return UV_EINVAL;
  }
  return 0;
}

static int pipe_on(shim_io_t *io, uv_pipe_t *p, int *init, int *fd)
{
  int rc = uv_pipe_init(io->loop, p, 0);
  if (rc != 0)
    return rc;
  p->data = io;
  *init = 1;
  io->handles++;
  if ((rc = uv_pipe_open(p, *fd)) != 0)
    return rc;
  *fd = -1; /* the handle owns it now */
  return 0;
}

static void deliver(shim_io_t *io, int status)
{
  shim_io_cb cb = io->cb;
  io->cb = NULL;
  if (cb != NULL)
    cb(io, status, io->what, io->cb_data);
}

static void try_open(uv_timer_t *t)
{
  shim_io_t *io = t->data;
  int waiting = 0, rc = io->status;
  for (int i = 0; i < 2 && rc == 0; i++) {
    struct out *o = &io->out[i];
    if (o->path == NULL || o->fd >= 0)
      continue;
    rc = open_fifo(o->path, O_WRONLY, &o->fd, io->what, sizeof io->what);
    if (rc == UV_ENXIO) { /* no reader yet */
      waiting = 1;
      rc = 0;
      if (uv_now(io->loop) >= io->open_deadline) {
        snprintf(io->what, sizeof io->what, "no reader opened %s within %d s", o->path,
                 IO_OPEN_TIMEOUT_MS / 1000);
        rc = UV_ETIMEDOUT;
      }
    }
  }
  if (rc == 0 && waiting) {
    uv_timer_start(&io->timer, try_open, IO_OPEN_RETRY_MS, 0);
    return;
  }
  for (int i = 0; i < 2 && rc == 0; i++)
    if (io->out[i].fd >= 0 &&
        (rc = pipe_on(io, &io->out[i].pipe, &io->out[i].pipe_init, &io->out[i].fd)) != 0)
      snprintf(io->what, sizeof io->what, "%s: %s", io->out[i].path, uv_strerror(rc));
  if (rc == 0 && io->in.fd >= 0 &&
      (rc = pipe_on(io, &io->in.pipe, &io->in.pipe_init, &io->in.fd)) != 0)
    snprintf(io->what, sizeof io->what, "%s: %s", io->in.path, uv_strerror(rc));
  io->status = rc;
  io->state = rc == 0 ? OPEN : FAILED;
  deliver(io, rc);
}

int shim_io_open(shim_io_t **out, uv_loop_t *loop, const char *stdin_path, const char *stdout_path,
                 const char *stderr_path, shim_io_cb cb, void *data)
{
  shim_io_t *io = calloc(1, sizeof *io);
  if (io == NULL)
    return UV_ENOMEM;
  io->loop = loop;
  io->cb = cb;
  io->cb_data = data;
  const char *paths[2] = {stdout_path, stderr_path};
  int nomem = 0;
  for (int i = 0; i < 2; i++) {
    io->out[i].io = io;
    io->out[i].which = i == 0 ? COW_STDOUT : COW_STDERR;
    io->out[i].fd = -1;
    if (paths[i] != NULL && paths[i][0] != '\0' && (io->out[i].path = strdup(paths[i])) == NULL)
      nomem = 1;
  }
  io->in.io = io;
  io->in.fd = -1;
  if (stdin_path != NULL && stdin_path[0] != '\0' && (io->in.path = strdup(stdin_path)) == NULL)
    nomem = 1;
  if (nomem) {
    io->closing = 1;
    maybe_free(io);
    return UV_ENOMEM;
  }
  uv_timer_init(loop, &io->timer);
  io->timer.data = io;
  io->handles = 1;
  io->open_deadline = uv_now(loop) + IO_OPEN_TIMEOUT_MS;
  /* stdin: a non-blocking reader never waits for the client's writer. Until a writer has
   * come, the fifo reports nothing (Linux raises POLLHUP on a reader only after a writer
   * came and went), so end of file means the client closed its end. */
  if (io->in.path != NULL)
    io->status = open_fifo(io->in.path, O_RDONLY, &io->in.fd, io->what, sizeof io->what);
  uv_timer_start(&io->timer, try_open, 0, 0);
  *out = io;
  return 0;
}

unsigned shim_io_wanted(const shim_io_t *io)
{
  return (io->in.path != NULL ? 1u << COW_STDIN : 0) |
         (io->out[0].path != NULL ? 1u << COW_STDOUT : 0) |
         (io->out[1].path != NULL ? 1u << COW_STDERR : 0);
}

/* ---- output: process -> fifo ---- */

static void check_drained(shim_io_t *io);

static void out_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
  char *p = malloc(CHUNK);
  *buf = uv_buf_init(p, p != NULL ? CHUNK : 0);
}

static void out_read(uv_stream_t *stream, ssize_t n, const uv_buf_t *buf);

static void out_resume(struct out *o)
{
  shim_io_t *io = o->io;
  if (o->paused && !o->eof && !io->cut && io->proc != NULL &&
      cow_process_read_start(io->proc, o->which, out_alloc, out_read) == 0)
    o->paused = 0;
}

static void out_written(uv_write_t *req, int status)
{
  struct wreq *w = (struct wreq *)req;
  struct out *o = w->slot;
  shim_io_t *io = w->io;
  o->queued -= w->len;
  free(w->base);
  free(w);
  io->refs--;
  if (status < 0 && status != UV_ECANCELED && !o->broken) {
    /* The reader left (EPIPE) or the fifo failed: drop the rest, never wait for it. */
    o->broken = 1;
    shim_log(SHIM_LOG_INFO, "%s: %s; further output of this stream is dropped", o->path,
             uv_strerror(status));
  }
  if (!io->closing) {
    if (o->queued < IO_HIGH_WATER / 2)
      out_resume(o);
    check_drained(io);
  }
  maybe_free(io);
}

static void out_read(uv_stream_t *stream, ssize_t n, const uv_buf_t *buf)
{
  struct out *o = stream->data;
  shim_io_t *io = o->io;
  if (n < 0) {
    o->eof = 1; /* libcow closes the stream after this callback */
    free(buf->base);
    check_drained(io);
    return;
  }
  if (n == 0 || o->broken || !o->pipe_init || uv_is_closing((uv_handle_t *)&o->pipe)) {
    free(buf->base);
    return;
  }
  struct wreq *w = malloc(sizeof *w);
  uv_buf_t b = uv_buf_init(buf->base, (unsigned)n);
  if (w == NULL) {
    free(buf->base);
    o->broken = 1;
    shim_log(SHIM_LOG_ERROR, "%s: out of memory; further output is dropped", o->path);
    return;
  }
  w->io = io;
  w->slot = o;
  w->base = buf->base;
  w->len = (size_t)n;
  int rc = uv_write(&w->req, (uv_stream_t *)&o->pipe, &b, 1, out_written);
  if (rc != 0) {
    free(w);
    free(buf->base);
    o->broken = 1;
    shim_log(SHIM_LOG_INFO, "%s: %s; further output is dropped", o->path, uv_strerror(rc));
    return;
  }
  io->refs++;
  o->queued += (size_t)n;
  if (o->queued >= IO_HIGH_WATER && !o->paused) {
    cow_process_read_stop(io->proc, o->which); /* the process waits, not the shim */
    o->paused = 1;
  }
}

/* ---- input: fifo -> process ---- */

static void in_read(uv_stream_t *stream, ssize_t n, const uv_buf_t *buf);
static void in_drain(shim_io_t *io);

static void stdin_closed(cow_process_t *p, int status, const cow_error_t *err, void *data)
{
  if (status < 0 && status != COW_ECANCELED)
    shim_log(SHIM_LOG_WARN, "closing stdin of the process: %s",
             err != NULL && err->message != NULL ? err->message : cow_strerror(status));
}

static void in_close_process_stdin(shim_io_t *io)
{
  struct in *i = &io->in;
  if (i->closed || !i->eof || i->queued > 0 || io->proc == NULL)
    return;
  i->closed = 1;
  int rc = cow_process_close_stdin(io->proc, stdin_closed, NULL);
  if (rc != 0)
    shim_log(SHIM_LOG_WARN, "closing stdin of the process: %s", cow_strerror(rc));
}

static void in_written(uv_write_t *req, int status)
{
  struct wreq *w = (struct wreq *)req;
  shim_io_t *io = w->io;
  struct in *i = &io->in;
  i->queued -= w->len;
  free(w->base);
  free(w);
  io->refs--;
  if (status < 0 && status != UV_ECANCELED)
    i->broken = 1; /* the process closed its stdin: the rest is read and dropped */
  if (!io->closing && i->paused && i->queued < IO_HIGH_WATER / 2) {
    i->paused = 0;
    if (i->close_requested)
      in_drain(io);
    else if (i->pipe_init && !i->eof)
      uv_read_start((uv_stream_t *)&i->pipe, out_alloc, in_read);
  }
  if (!io->closing)
    in_close_process_stdin(io);
  maybe_free(io);
}

/* Pass `n` bytes read from the fifo to the process (takes `base`). */
static void in_forward(shim_io_t *io, char *base, size_t n)
{
  struct in *i = &io->in;
  if (n == 0 || i->broken || i->dst == NULL) {
    free(base);
    return;
  }
  struct wreq *w = malloc(sizeof *w);
  uv_buf_t b = uv_buf_init(base, (unsigned)n);
  if (w == NULL || uv_write(&w->req, i->dst, &b, 1, in_written) != 0) {
    free(w);
    free(base);
    i->broken = 1;
    return;
  }
  w->io = io;
  w->slot = i;
  w->base = base;
  w->len = n;
  io->refs++;
  i->queued += n;
  if (i->queued >= IO_HIGH_WATER) {
    uv_read_stop((uv_stream_t *)&i->pipe);
    i->paused = 1;
  }
}

static void in_read(uv_stream_t *stream, ssize_t n, const uv_buf_t *buf)
{
  shim_io_t *io = stream->data;
  if (n < 0) { /* the client closed its writer: everything it wrote was read */
    free(buf->base);
    uv_read_stop(stream);
    io->in.eof = 1;
    in_close_process_stdin(io);
    return;
  }
  in_forward(io, buf->base, (size_t)n);
}

/* CloseIO: what the client wrote before is in the fifo now; read it all (without waiting
 * for a writer that may never close), then end the process's stdin. */
static void in_drain(shim_io_t *io)
{
  struct in *i = &io->in;
  uv_os_fd_t fd;
  if (i->pipe_init)
    uv_read_stop((uv_stream_t *)&i->pipe);
  while (!i->eof && !i->paused && i->pipe_init && uv_fileno((uv_handle_t *)&i->pipe, &fd) == 0) {
    char *buf = malloc(CHUNK);
    ssize_t n = buf != NULL ? read(fd, buf, CHUNK) : -1;
    if (n > 0) {
      in_forward(io, buf, (size_t)n);
      continue;
    }
    free(buf);
    if (n < 0 && errno == EINTR)
      continue;
    i->eof = 1; /* end of file, nothing more for now (EAGAIN), or an error */
  }
  if (!i->pipe_init)
    i->eof = 1;
  in_close_process_stdin(io);
}

void shim_io_close_stdin(shim_io_t *io)
{
  struct in *i = &io->in;
  if (i->close_requested)
    return;
  i->close_requested = 1;
  if (io->proc != NULL && i->dst != NULL)
    in_drain(io);
}

/* ---- attach, drain, close ---- */

void shim_io_attach(shim_io_t *io, cow_process_t *p)
{
  uv_stream_t *s[3] = {NULL, NULL, NULL};
  io->proc = p;
  cow_process_stdio(&s[0], &s[1], &s[2], p);
  for (int k = 0; k < 2; k++) {
    struct out *o = &io->out[k];
    o->src = s[1 + k];
    if (o->src == NULL) {
      o->eof = 1; /* not requested (stderr of a terminal): nothing will come */
      continue;
    }
    o->src->data = o;
    if (cow_process_read_start(p, o->which, out_alloc, out_read) != 0)
      o->eof = 1;
  }
  io->in.dst = s[0];
  if (io->in.dst == NULL)
    return;
  if (io->in.close_requested)
    in_drain(io);
  else if (io->in.pipe_init)
    uv_read_start((uv_stream_t *)&io->in.pipe, out_alloc, in_read);
  else
    io->in.eof = 1; /* no fifo: the process's stdin ends at CloseIO */
}

static void drained_now(uv_timer_t *t)
{
  shim_io_t *io = t->data;
  deliver(io, 0);
}

static void check_drained(shim_io_t *io)
{
  if (io->state != DRAINING)
    return;
  for (int k = 0; k < 2; k++) {
    struct out *o = &io->out[k];
    if ((!o->eof && !io->cut) || o->queued > 0)
      return;
  }
  io->state = DRAINED;
  /* The writers close: the reader sees end of file after the last byte. */
  close_pipe(io, &io->out[0].pipe, &io->out[0].pipe_init);
  close_pipe(io, &io->out[1].pipe, &io->out[1].pipe_init);
  uv_timer_start(&io->timer, drained_now, 0, 0);
}

void shim_io_drain(shim_io_t *io, int cut, shim_io_cb cb, void *data)
{
  io->cb = cb;
  io->cb_data = data;
  io->what[0] = '\0';
  io->state = DRAINING;
  io->cut = cut;
  for (int k = 0; k < 2 && cut; k++)
    if (!io->out[k].eof && io->proc != NULL) {
      cow_process_read_stop(io->proc, io->out[k].which);
      io->out[k].paused = 1;
    }
  check_drained(io);
}

void shim_io_close(shim_io_t *io)
{
  if (io == NULL || io->closing)
    return;
  io->closing = 1;
  io->cb = NULL;
  for (int k = 0; k < 2; k++) {
    struct out *o = &io->out[k];
    if (io->proc != NULL && o->src != NULL && !o->eof)
      cow_process_read_stop(io->proc, o->which);
    if (o->fd >= 0)
      close(o->fd);
    close_pipe(io, &o->pipe, &o->pipe_init);
  }
  if (io->in.fd >= 0)
    close(io->in.fd);
  close_pipe(io, &io->in.pipe, &io->in.pipe_init);
  uv_close((uv_handle_t *)&io->timer, handle_closed);
}

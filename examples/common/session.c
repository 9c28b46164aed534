/* The runtime half of the session: local stdio <-> process stdio, terminal, signals.
 * Portable through libuv (tty, pipes, signals are emulated on Windows); the #ifdef _WIN32
 * parts are the few things libuv does not cover: fd flags, plain writes to a file, and
 * which signals exist and how a process is told about them. */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef _WIN32
#  include <io.h>
#else
#  include <fcntl.h>
#  include <poll.h>
#  include <unistd.h>
#endif

#include "session.h"

#define CHUNK 65536
/* Stop reading a source while this much is queued towards its destination, so a slow
 * reader on either side bounds memory instead of growing a queue. */
#define HIGH_WATER (1u << 20)

enum kind { K_NONE, K_TTY, K_PIPE, K_FILE };

/* A local descriptor: fd 0 (source) or fd 1/2 (sink). */
struct local {
  enum kind kind;
  int fd;
  int saved_flags; /* fcntl flags to put back: libuv makes pipes non-blocking */
  int open;        /* the handle is initialised and not yet closed */
  union {
    uv_handle_t h;
    uv_stream_t s;
    uv_tty_t tty;
    uv_pipe_t pipe;
  } u;
};

#ifdef _WIN32
/* libuv raises these three from console control events (Ctrl-C, Ctrl-Break, the console
 * closing); no other signal ever reaches a Windows process. */
static const int forwarded[] = {SIGINT, SIGBREAK, SIGHUP};
#else
static const int forwarded[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2};
#endif
#define NSIG_FWD (sizeof forwarded / sizeof forwarded[0])

struct session {
  uv_loop_t *loop;
  const session_opts_t *opts;
  const char *prog;
  int refs; /* open handles and requests; the memory goes with the last */
  int closing;

  struct local in, out[2]; /* fd 0; fds 1 and 2 */
  uv_fs_t fs_read;         /* stdin from a regular file */
  char *fs_buf;
  int fs_busy;
  uv_signal_t sig[NSIG_FWD];
  uv_signal_t winch;
  int winch_open;
  int raw; /* the local terminal is in raw mode */

  cow_process_t *proc;
  uv_stream_t *pin, *pout[2]; /* the process's streams, once created */
  int created, create_failed, pending_signal;
  int stdin_closed, in_paused;
  int undeliverable; /* the backend can neither signal nor kill the process */
  int paused[2];     /* reading stdout/stderr paused for backpressure */
  int sink_gone[2];  /* nobody reads our fd 1/2 any more: that output is closed */
  int sigpipe_sent;
  int exited, done_called;
  int exit_code;
  unsigned writes; /* writes to fds 1/2 in flight */
  session_done_cb done;
  void *done_data;
  session_abort_cb abort_cb;
  session_abort_cb abandon_cb;
  void *cb_data;
  int stops; /* SIGINT/SIGTERM received */
};

struct wreq {
  uv_write_t req;
  session_t *s;
  char *base;
  int which; /* 1/2: a local sink, 0: the process's stdin */
};

static void unref(session_t *s)
{
  if (--s->refs == 0 && s->closing)
    free(s);
}

/* The local terminal is raw (no output processing): log lines end in "\r\n" then. Read by
 * the log callback, which also runs on the HCS emulator's threads. */
static atomic_int terminal_raw;

static void leave_raw(session_t *s)
{
  if (s->raw) {
    uv_tty_set_mode(&s->in.u.tty, UV_TTY_MODE_NORMAL);
    s->raw = 0;
    atomic_store(&terminal_raw, 0);
  }
}

static void log_line(cow_log_level_t level, const char *subsystem, const char *message, void *data)
{
  static const char *const names[] = {"error", "warn", "info", "debug", "trace"};
  const char *name = (unsigned)level < sizeof names / sizeof names[0] ? names[level] : "log";
  fprintf(stderr, "%s: %s: %s: %s%s", (const char *)data, name, subsystem, message,
          atomic_load(&terminal_raw) ? "\r\n" : "\n");
}

void session_log_enable(cow_log_level_t level, const char *prog)
{
  cow_log_set(level, log_line, (void *)prog);
}

static void process_closed(cow_process_t *p, void *data)
{
  unref(data);
}

static void close_process(session_t *s)
{
  if (s->proc != NULL) {
    cow_process_close(s->proc, process_closed, s);
    s->proc = NULL;
  }
}

static void handle_closed(uv_handle_t *h)
{
  unref(h->data);
}

static void close_handle(session_t *s, uv_handle_t *h)
{
  if (!uv_is_closing(h)) {
    h->data = s;
    uv_close(h, handle_closed);
  }
}

void session_restore_terminal(void)
{
  uv_tty_reset_mode(); /* async-signal-safe, a no-op unless a mode was set */
}

/* ---- local descriptors ---- */

#ifdef _WIN32
/* Windows has no fd flags to save: libuv duplicates the OS handle of fds 0-2 and leaves
 * the fd alone. An fd without a usable handle counts as closed. */
static int fd_get_flags(int fd)
{
  return uv_guess_handle(fd) == UV_UNKNOWN_HANDLE ? -1 : 0;
}

static void fd_set_flags(int fd, int flags)
{
}

/* One write to a file or device (not a tty or pipe: those are libuv streams). */
static long fd_write(int fd, const char *p, size_t n)
{
  return _write(fd, p, n > INT_MAX ? INT_MAX : (unsigned)n);
}

/* The libuv code of fd_write's failure (the CRT's errno, not a Win32 error). */
static int fd_write_error(void)
{
  return errno == EPIPE ? UV_EPIPE : errno == ENOSPC ? UV_ENOSPC : UV_EIO;
}
#else
static int fd_get_flags(int fd)
{
  return fcntl(fd, F_GETFL);
}

static void fd_set_flags(int fd, int flags)
{
  fcntl(fd, F_SETFL, flags);
}

static long fd_write(int fd, const char *p, size_t n)
{
  for (;;) {
    ssize_t w = write(fd, p, n);
    if (w >= 0 || (errno != EAGAIN && errno != EINTR))
      return (long)w;
    if (errno == EAGAIN) { /* someone else made it non-blocking */
      struct pollfd pfd = {fd, POLLOUT, 0};
      poll(&pfd, 1, -1);
    }
  }
}

static int fd_write_error(void)
{
  return uv_translate_sys_error(errno);
}
#endif

static int local_open(session_t *s, struct local *l, int fd)
{
  l->fd = fd;
  l->saved_flags = fd_get_flags(fd);
  if (l->saved_flags < 0)
    return l->kind = K_NONE, 0;
  int rc = 0;
  switch (uv_guess_handle(fd)) {
  case UV_TTY:
    l->kind = K_TTY;
    rc = uv_tty_init(s->loop, &l->u.tty, fd, fd == 0);
    break;
  case UV_NAMED_PIPE:
  case UV_TCP: /* a socketpair or socket: a stream like a pipe */
    l->kind = K_PIPE;
    rc = uv_pipe_init(s->loop, &l->u.pipe, 0);
    if (rc == 0 && (rc = uv_pipe_open(&l->u.pipe, fd)) != 0) {
      l->open = 1;
      s->refs++;
      return rc;
    }
    break;
  default:
    l->kind = K_FILE; /* a regular file or a device: plain (blocking) I/O */
    return 0;
  }
  if (rc == 0) {
    l->open = 1;
    s->refs++;
  }
  return rc;
}

static void local_close(session_t *s, struct local *l)
{
  if (l->open) {
    l->open = 0;
    close_handle(s, &l->u.h);
  }
  if (l->kind != K_NONE && l->saved_flags >= 0)
    fd_set_flags(l->fd, l->saved_flags);
}

/* ---- output: process stdout/stderr -> fds 1/2 ---- */

static void maybe_done(session_t *s)
{
  if (!s->exited || s->writes > 0 || s->done_called)
    return;
  s->done_called = 1;
  close_process(s);
  s->done(s, s->exit_code, s->done_data);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
  buf->base = malloc(CHUNK);
  buf->len = buf->base != NULL ? CHUNK : 0;
}

static int blocking_write(int fd, const char *p, size_t n)
{
  while (n > 0) {
    long w = fd_write(fd, p, n);
    if (w <= 0)
      return -1;
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

static void read_output(uv_stream_t *stream, ssize_t n, const uv_buf_t *buf);

static void output_closed(cow_process_t *p, int status, const cow_error_t *err, void *data)
{
  session_t *s = data;
  if (status < 0 && status != COW_ECANCELED && !s->exited)
    session_report(s->prog, "closing the command's output", status, err);
}

static void forward_signal(session_t *s, int signo);

/* Whoever read our fd 1 (or 2) went away (`cow-run ... | head -1`) and the command's output
 * has nowhere to go: stop relaying that stream and close the command's end of it, so that
 * the command's next write fails with EPIPE where the backend passes the close on (HCS
 * processes, utility VM processes of the GCS). A container's output goes through the
 * guest agent, which keeps draining the pipe after the host closed its end: the command
 * would write on forever, unseen. So it also gets SIGPIPE, what a writer to a broken pipe
 * gets (once; where signals exist). */
static void sink_gone(session_t *s, int i, int uv_err)
{
  if (s->sink_gone[i])
    return;
  s->sink_gone[i] = 1;
  if (uv_err != UV_EPIPE) /* a reader that left is no error; a full disk is */
    fprintf(stderr, "%s: writing the command's %s: %s; the rest is dropped\n", s->prog,
            i == 0 ? "output" : "error output", uv_strerror(uv_err));
  if (s->proc == NULL || s->closing || s->exited || !s->created)
    return;
  int rc = i == 0 ? cow_process_close_stdout(s->proc, output_closed, s)
                  : cow_process_close_stderr(s->proc, output_closed, s);
  if (rc != 0)
    session_report(s->prog, "closing the command's output", rc, NULL);
#ifndef _WIN32
  if (!s->sigpipe_sent) {
    s->sigpipe_sent = 1;
    forward_signal(s, SIGPIPE);
  }
#endif
}

static void sink_written(uv_write_t *req, int status)
{
  struct wreq *w = req->data;
  session_t *s = w->s;
  int i = w->which - 1;
  free(w->base);
  free(w);
  s->writes--;
  if (status < 0 && status != UV_ECANCELED)
    sink_gone(s, i, status);
  if (s->paused[i] && !s->sink_gone[i] && !s->closing && s->proc != NULL &&
      uv_stream_get_write_queue_size(&s->out[i].u.s) < HIGH_WATER / 2) {
    s->paused[i] = 0;
    cow_process_read_start(s->proc, (cow_stdio_t)(i + 1), on_alloc, read_output);
  }
  maybe_done(s);
  unref(s);
}

static void read_output(uv_stream_t *stream, ssize_t n, const uv_buf_t *buf)
{
  session_t *s = cow_process_get_data(stream->data);
  int i = stream == s->pout[0] ? 0 : 1;
  struct local *l = &s->out[i];
  if (n > 0 && !s->sink_gone[i] && l->kind == K_FILE && blocking_write(l->fd, buf->base, (size_t)n))
    sink_gone(s, i, fd_write_error());
  if (n <= 0 || !l->open || s->sink_gone[i]) {
    free(buf->base); /* EOF or error (the library closes the stream), or no sink */
    return;
  }
  struct wreq *w = malloc(sizeof *w);
  uv_buf_t b = uv_buf_init(buf->base, (unsigned)n);
  if (w == NULL || uv_write(&w->req, &l->u.s, &b, 1, sink_written) != 0) {
    free(w);
    free(buf->base);
    return;
  }
  w->req.data = w;
  w->s = s;
  w->base = buf->base;
  w->which = i + 1;
  s->writes++;
  s->refs++;
  if (uv_stream_get_write_queue_size(&l->u.s) > HIGH_WATER) {
    s->paused[i] = 1;
    cow_process_read_stop(s->proc, (cow_stdio_t)(i + 1));
  }
}

/* ---- input: fd 0 -> process stdin ---- */

static void start_input(session_t *s);

static void stdin_closed(cow_process_t *p, int status, const cow_error_t *err, void *data)
{
  session_t *s = data;
  if (status < 0 && status != COW_ECANCELED && !s->exited)
    session_report(s->prog, "closing the command's stdin", status, err);
}

static void input_eof(session_t *s)
{
  if (s->stdin_closed)
    return;
  s->stdin_closed = 1;
  leave_raw(s);
  local_close(s, &s->in);
  if (s->proc != NULL && !s->exited)
    /* Flushes what is queued first; the session outlives the process, which completes
     * this (with COW_ECANCELED at worst) before its close callback. */
    cow_process_close_stdin(s->proc, stdin_closed, s);
}

static void stdin_written(uv_write_t *req, int status)
{
  struct wreq *w = req->data;
  session_t *s = w->s;
  free(w->base);
  free(w);
  if (status < 0) { /* the command closed its stdin or exited: stop forwarding */
    input_eof(s);
  } else if (!s->stdin_closed && !s->closing && s->in.kind == K_FILE) {
    start_input(s); /* a file is read one chunk per write */
  } else if (s->in_paused && !s->stdin_closed && !s->closing &&
             uv_stream_get_write_queue_size(s->pin) < HIGH_WATER / 2) {
    s->in_paused = 0;
    start_input(s);
  }
  unref(s);
}

static void forward_input(session_t *s, char *base, size_t n)
{
  struct wreq *w = malloc(sizeof *w);
  uv_buf_t b = uv_buf_init(base, (unsigned)n);
  if (w == NULL || uv_write(&w->req, s->pin, &b, 1, stdin_written) != 0) {
    free(w);
    free(base);
    input_eof(s);
    return;
  }
  w->req.data = w;
  w->s = s;
  w->base = base;
  w->which = 0;
  s->refs++;
  if (uv_stream_get_write_queue_size(s->pin) > HIGH_WATER && s->in.open) {
    s->in_paused = 1;
    uv_read_stop(&s->in.u.s);
  }
}

static void read_input(uv_stream_t *stream, ssize_t n, const uv_buf_t *buf)
{
  session_t *s = stream->data;
  if (n > 0) {
    forward_input(s, buf->base, (size_t)n);
    return;
  }
  free(buf->base);
  if (n < 0) /* UV_EOF, or an error: either way the command gets end of file */
    input_eof(s);
}

static void file_read(uv_fs_t *req)
{
  session_t *s = req->data;
  ssize_t n = req->result;
  uv_fs_req_cleanup(req);
  s->fs_busy = 0;
  char *base = s->fs_buf;
  s->fs_buf = NULL;
  if (n > 0 && !s->closing && !s->stdin_closed)
    forward_input(s, base, (size_t)n); /* the next read starts when this is written */
  else {
    free(base);
    if (!s->closing)
      input_eof(s);
  }
  unref(s);
}

static void start_input(session_t *s)
{
  if (s->in.kind == K_FILE) {
    if (s->fs_busy)
      return;
    uv_buf_t b = uv_buf_init(malloc(CHUNK), CHUNK);
    s->fs_read.data = s;
    if (b.base == NULL || uv_fs_read(s->loop, &s->fs_read, 0, &b, 1, -1, file_read) != 0) {
      free(b.base);
      input_eof(s);
      return;
    }
    s->fs_buf = b.base;
    s->fs_busy = 1;
    s->refs++;
  } else if (s->in.open) {
    s->in.u.s.data = s;
    if (uv_read_start(&s->in.u.s, on_alloc, read_input) != 0)
      input_eof(s);
  } else {
    input_eof(s); /* stdin is closed: the command reads end of file */
  }
}

/* ---- signals and the console ---- */

static void signal_sent(cow_process_t *p, int status, const cow_error_t *err, void *data)
{
  session_t *s = cow_process_get_data(p);
  int signo = (int)(intptr_t)data;
  if (status == 0 || status == COW_ESRCH || status == COW_ECANCELED || s->exited)
    return;
#ifndef _WIN32
  if (signo == SIGPIPE)
    return; /* a backend without signals (utility VM processes): the closed stream suffices */
#endif
  if (signo == SIGKILL) {
    /* Neither the signal nor a kill can reach it (a utility VM process of the GCS): let
     * the user give up on it rather than leave them with no way out. */
    fprintf(stderr, "%s: cannot stop the command: %s; send the signal again to abandon it\n",
            s->prog, err != NULL && err->message ? err->message : cow_strerror(status));
    s->undeliverable = 1;
  } else if (status == COW_ENOTSUP && (signo == SIGINT || signo == SIGTERM || signo == SIGHUP)) {
    /* The backend has no signals for this process: stopping the command is what the user
     * asked for, so it gets killed instead. */
    cow_process_kill(p, signal_sent, (void *)(intptr_t)SIGKILL);
  } else {
    session_report(s->prog, "forwarding a signal", status, err);
  }
}

static void forward_signal(session_t *s, int signo)
{
  char *opts = NULL;
#ifdef _WIN32
  /* The command is a Windows process: it gets the console control event by name
   * (SignalProcessOptions), not a number. */
  char buf[32];
  snprintf(buf, sizeof buf, "{\"Signal\":\"%s\"}",
           signo == SIGINT     ? "CtrlC"
           : signo == SIGBREAK ? "CtrlBreak"
                               : "CtrlClose");
  opts = buf;
#else
  if (cow_signal_options_json(&opts, signo) != 0) {
    fprintf(stderr, "%s: cannot forward signal %d\n", s->prog, signo);
    return;
  }
#endif
  if (cow_process_signal(s->proc, opts, signal_sent, (void *)(intptr_t)signo) != 0)
    fprintf(stderr, "%s: cannot forward signal %d\n", s->prog, signo);
#ifndef _WIN32
  cow_free(opts);
#endif
}

/* SIGINT and SIGTERM (on Windows Ctrl-C and Ctrl-Break): what a user sends to stop. */
static int stop_signal(int signo)
{
#ifdef SIGBREAK
  if (signo == SIGBREAK)
    return 1;
#endif
  return signo == SIGINT || signo == SIGTERM;
}

static void on_signal(uv_signal_t *h, int signo)
{
  session_t *s = h->data;
  if (s->closing)
    return;
  if (stop_signal(signo) && s->stops++ > 0) {
    /* The second one, in any phase: whatever is in flight (a create, a request to a frozen
     * guest, a stop), the user wants out now. The program closes everything it holds. */
    leave_raw(s);
    s->abandon_cb(s, signo, s->cb_data);
    return;
  }
  if (s->exited) {
    if (stop_signal(signo))
      fprintf(stderr,
              "%s: the command has ended; still cleaning up (send the signal again to "
              "abandon)\n",
              s->prog);
  } else if (s->proc == NULL) {
    if (s->abort_cb != NULL)
      s->abort_cb(s, signo, s->cb_data);
  } else if (!s->created) {
    s->pending_signal = signo; /* delivered once the process runs */
    if (stop_signal(signo))
      fprintf(stderr,
              "%s: the command is still starting; it gets the signal once it runs (send "
              "the signal again to abandon)\n",
              s->prog);
  } else if (s->undeliverable) {
    s->exit_code = 128 + signo; /* abandoned: the program's teardown closes the rest */
    s->exited = 1;
    leave_raw(s);
    maybe_done(s);
  } else {
    forward_signal(s, signo);
  }
}

int session_console_size(session_t *s, uint16_t *width, uint16_t *height)
{
  int w, h;
  uv_tty_t *t = s->out[0].kind == K_TTY && s->out[0].open ? &s->out[0].u.tty
                : s->in.kind == K_TTY && s->in.open       ? &s->in.u.tty
                                                          : NULL;
  if (t == NULL || uv_tty_get_winsize(t, &w, &h) != 0 || w <= 0 || h <= 0)
    return -1;
  *width = (uint16_t)w;
  *height = (uint16_t)h;
  return 0;
}

static void resized(cow_process_t *p, int status, const cow_error_t *err, void *data)
{
  session_t *s = cow_process_get_data(p);
  /* A process without a resizable console (a UVM process of the GCS) keeps its size. */
  if (status < 0 && status != COW_ENOTSUP && status != COW_ECANCELED && status != COW_ENOTTY)
    session_report(s->prog, "resizing the console", status, err);
}

static void resize(session_t *s)
{
  uint16_t w, h;
  if (s->proc != NULL && s->created && !s->exited && session_console_size(s, &w, &h) == 0)
    cow_process_resize_console(s->proc, w, h, resized, NULL);
}

static void on_winch(uv_signal_t *h, int signo)
{
  resize(h->data);
}

/* ---- the process ---- */

/* "starting the command 'ARGV0'" (a container's init from its bundle has no argv here). */
static void report_start(session_t *s, int status, const cow_error_t *err)
{
  char what[300];
  const char *cmd = s->opts->argv != NULL ? s->opts->argv[0] : NULL;
  if (cmd != NULL)
    snprintf(what, sizeof what, "starting the command '%s'", cmd);
  else
    snprintf(what, sizeof what, "starting the command");
  session_report(s->prog, what, status, err);
}

static void waited(cow_process_t *p, int status, int64_t code, const cow_error_t *err, void *data)
{
  session_t *s = data;
  if (s->closing)
    return; /* an abort closed the process */
  if (s->create_failed) {
    /* exit_code was set from the create failure */
  } else if (!s->created && status < 0 && status != COW_EIO_TIMEOUT) {
    /* A backend may release the waiters before the create callback: same failure. */
    report_start(s, status, err);
    s->create_failed = 1;
    s->exit_code = session_create_exit_code(status, err);
  } else if (status == 0 || status == COW_EIO_TIMEOUT) {
    s->exit_code = (int)(code & 0xff); /* what a shell sees of any exit status */
  } else {
    session_report(s->prog, "waiting for the command", status, err);
    s->exit_code = SESSION_EXIT_FAILED;
  }
  s->exited = 1;
  leave_raw(s);
  maybe_done(s);
}

static void created(cow_process_t *p, int status, const cow_error_t *err, void *data)
{
  session_t *s = data;
  if (s->closing)
    return;
  if (status < 0) {
    if (!s->create_failed) /* else the wait reported it first */
      report_start(s, status, err);
    s->create_failed = 1;
    if (!s->exited)
      s->exit_code = session_create_exit_code(status, err);
    return; /* the wait reports the failure too, and finishes */
  }
  s->created = 1;
  cow_process_stdio(&s->pin, &s->pout[0], &s->pout[1], p);
  for (int i = 0; i < 2; i++)
    if (s->pout[i] != NULL) {
      s->pout[i]->data = p; /* read_output finds the session through the process */
      cow_process_read_start(p, (cow_stdio_t)(i + 1), on_alloc, read_output);
    }
  if (s->opts->interactive && s->pin != NULL) {
    /* cfmakeraw() (UV_TTY_MODE_IO), as docker and ssh do: libuv's "raw" mode keeps
     * ONLCR, which would turn the console's "\r\n" into "\r\r\n". Windows has no
     * UV_TTY_MODE_IO, and its raw mode (no line input, no echo, no Ctrl-C processing) is
     * what the console needs there. */
#ifdef _WIN32
    const uv_tty_mode_t raw = UV_TTY_MODE_RAW;
#else
    const uv_tty_mode_t raw = UV_TTY_MODE_IO;
#endif
    if (s->opts->tty && s->in.kind == K_TTY && s->in.open &&
        uv_tty_set_mode(&s->in.u.tty, raw) == 0)
      s->raw = 1, atomic_store(&terminal_raw, 1);
    start_input(s);
  }
  if (s->opts->tty)
    resize(s); /* the size may have changed since the document was built */
  if (s->pending_signal != 0)
    forward_signal(s, s->pending_signal);
}

void session_start(session_t *s, cow_host_t *host, const char *config_json, session_done_cb done,
                   void *data)
{
  s->done = done;
  s->done_data = data;
  int rc = cow_host_create_process(&s->proc, host, config_json, created, s);
  if (rc == 0) {
    s->refs++; /* released by process_closed */
    cow_process_set_data(s->proc, s);
    rc = cow_process_wait(s->proc, waited, s);
    if (rc == 0)
      return;
  }
  report_start(s, rc, NULL);
  s->exit_code = session_create_exit_code(rc, NULL);
  s->exited = 1;
  maybe_done(s); /* closes the process, if one was made */
}

/* ---- open / close ---- */

int session_open(session_t **out, uv_loop_t *loop, const session_opts_t *opts, const char *prog,
                 session_abort_cb abort_cb, session_abort_cb abandon_cb, void *data)
{
  session_t *s = calloc(1, sizeof *s);
  if (s == NULL)
    return UV_ENOMEM;
  static int registered;
  if (!registered++)
    atexit(session_restore_terminal);
  s->loop = loop;
  s->opts = opts;
  s->prog = prog;
  s->abort_cb = abort_cb;
  s->abandon_cb = abandon_cb;
  s->cb_data = data;
  s->exit_code = SESSION_EXIT_FAILED;
  *out = s;
  int rc = 0;
  for (int i = 0; i < 2 && rc == 0; i++)
    rc = local_open(s, &s->out[i], i + 1);
  if (rc == 0 && opts->interactive)
    rc = local_open(s, &s->in, 0);
  for (size_t i = 0; i < NSIG_FWD && rc == 0; i++) {
    if ((rc = uv_signal_init(loop, &s->sig[i])) == 0) {
      s->refs++;
      s->sig[i].data = s;
      rc = uv_signal_start(&s->sig[i], on_signal, forwarded[i]);
    }
  }
  if (rc == 0 && opts->tty && (rc = uv_signal_init(loop, &s->winch)) == 0) {
    s->refs++;
    s->winch_open = 1;
    s->winch.data = s;
    rc = uv_signal_start(&s->winch, on_winch, SIGWINCH);
  }
  if (rc != 0)
    fprintf(stderr, "%s: cannot set up the local stdio: %s\n", prog, uv_strerror(rc));
  return rc;
}

void session_close(session_t *s)
{
  if (s == NULL || s->closing)
    return;
  s->closing = 1;
  leave_raw(s);
  session_restore_terminal();
  close_process(s); /* still open only when the program aborts */
  if (s->fs_busy)
    uv_cancel((uv_req_t *)&s->fs_read); /* file_read still runs and releases it */
  local_close(s, &s->in);
  local_close(s, &s->out[0]);
  local_close(s, &s->out[1]);
  for (size_t i = 0; i < NSIG_FWD; i++)
    if (s->sig[i].type == UV_SIGNAL)
      close_handle(s, (uv_handle_t *)&s->sig[i]);
  if (s->winch_open)
    close_handle(s, (uv_handle_t *)&s->winch);
  if (s->refs == 0)
    free(s);
}

/* cow-gcs-peer: processes. fork/exec with an error pipe (exec failures are reported in the
 * ExecuteProcess response like Go's os/exec), ptys, stdio relays in forked helper processes,
 * reaping through SIGCHLD, and the WaitForProcess retention rules of docs/gcs-bridge-protocol.md
 * §5.4. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "peer.h"

extern char **environ;

static void set_cloexec(int fd)
{
  int fl = fcntl(fd, F_GETFD);
  if (fl >= 0)
    fcntl(fd, F_SETFD, fl | FD_CLOEXEC);
}

/* Close every descriptor >= 3 except `keep` (sorted ascending). Forked helpers do not exec,
 * so FD_CLOEXEC does not protect them: without this a helper would hold other processes'
 * stdio sockets open and the host would never see their EOF. */
static void close_fds_except(const int *keep, int n)
{
  int lo = 3, i;
  for (i = 0; i <= n; i++) {
    int hi = i < n ? keep[i] - 1 : -1; /* -1: to the end */
    if (i < n && keep[i] < 3)
      continue;
#ifdef SYS_close_range
    if (syscall(SYS_close_range, (unsigned)lo, hi < 0 ? ~0u : (unsigned)hi, 0u) == 0) {
      if (i < n)
        lo = keep[i] + 1;
      continue;
    }
#endif
    {
      int fd, max = hi < 0 ? 4096 : hi;
      for (fd = lo; fd <= max; fd++)
        close(fd);
    }
    if (i < n)
      lo = keep[i] + 1;
  }
}

static void sort_fds(int *v, int n)
{
  int i, j;
  for (i = 0; i < n; i++)
    for (j = i + 1; j < n; j++)
      if (v[j] < v[i]) {
        int t = v[i];
        v[i] = v[j];
        v[j] = t;
      }
}

/* ---- stdio dialling ---- */

static int dial_port(const char *dir, uint32_t port, char *err, size_t errlen)
{
  struct sockaddr_un sa;
  int attempt;
  memset(&sa, 0, sizeof sa);
  sa.sun_family = AF_UNIX;
  if ((size_t)snprintf(sa.sun_path, sizeof sa.sun_path, "%s/%u", dir, (unsigned)port) >=
      sizeof sa.sun_path) {
    snprintf(err, errlen, "socket path too long for port %u", (unsigned)port);
    return -1;
  }
  /* Like the recording agent: retry ENOENT/ECONNREFUSED 10 x 100 ms. */
  for (attempt = 0;; attempt++) {
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      snprintf(err, errlen, "socket: %s", strerror(errno));
      return -1;
    }
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0)
      return fd;
    close(fd);
    if ((errno != ENOENT && errno != ECONNREFUSED) || attempt >= 9) {
      snprintf(err, errlen, "vsock Dial port (%u) failed: %s", (unsigned)port, strerror(errno));
      return -1;
    }
    {
      struct timespec ts = {0, 100 * 1000 * 1000};
      nanosleep(&ts, NULL);
    }
  }
}

int peer_dial_stdio(peer_t *peer, const peer_stdio_req_t *sr, int fds[3], char *err, size_t errlen)
{
  static const char *const names[3] = {"stdin", "stdout", "stderr"};
  int i;
  char e[512];
  for (i = 0; i < 3; i++)
    fds[i] = -1;
  for (i = 0; i < 3; i++) {
    if (!sr->want[i])
      continue;
    fds[i] = dial_port(peer->port_dir, sr->port[i], e, sizeof e);
    if (fds[i] < 0) {
      int j;
      snprintf(err, errlen, "failed creating %s Connection: %s", names[i], e);
      for (j = 0; j < i; j++)
        if (fds[j] >= 0)
          close(fds[j]);
      return -1;
    }
  }
  return 0;
}

/* ---- relay helpers (forked, blocking) ---- */

static int write_all(int fd, const char *p, size_t n)
{
  while (n) {
    ssize_t w = write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR)
        continue;
      return -1;
    }
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

/* After the copy: half-close and wait for the host to close its side (§5.3). */
static void relay_out_finish(int sock)
{
  char buf[1];
  shutdown(sock, SHUT_WR);
  for (;;) {
    ssize_t n = read(sock, buf, 1);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      break;
  }
  _exit(0);
}

/* --output-late: collect everything until every writer closed the pipe (the process is
 * gone and its exit already sent, since the exit no longer waits for this relay), wait
 * late_ms more, then deliver it all: the host sees the exit first, the bytes after. */
static void relay_out_late(int src, int sock, unsigned late_ms)
{
  char *buf = NULL;
  size_t len = 0, cap = 0;
  for (;;) {
    ssize_t n;
    if (cap - len < 16384) {
      char *nb = realloc(buf, cap * 2 + 16384);
      if (!nb)
        break;
      buf = nb;
      cap = cap * 2 + 16384;
    }
    n = read(src, buf + len, cap - len);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      break;
    len += (size_t)n;
  }
  {
    struct timespec ts;
    ts.tv_sec = (time_t)(late_ms / 1000);
    ts.tv_nsec = (long)(late_ms % 1000) * 1000000L;
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
      ;
  }
  if (len)
    write_all(sock, buf, len);
  relay_out_finish(sock);
}

/* Container stdout/stderr: copy pipe -> socket until every writer closed the pipe, then
 * half-close and wait for the host to close its side (§5.3). */
static void relay_out_handshake(int src, int sock)
{
  char buf[16384];
  int dead = 0;
  for (;;) {
    ssize_t n = read(src, buf, sizeof buf);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      break;
    /* After a write error keep draining so the process never blocks on a full pipe. */
    if (!dead && write_all(sock, buf, (size_t)n) < 0)
      dead = 1;
  }
  relay_out_finish(sock);
}

/* Container stdin: socket -> pipe; EOF closes the pipe so the process reads EOF. */
static void relay_in(int sock, int dst)
{
  char buf[16384];
  for (;;) {
    ssize_t n = read(sock, buf, sizeof buf);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0 || write_all(dst, buf, (size_t)n) < 0)
      break;
  }
  _exit(0);
}

/* Console: stdin socket -> pty, pty -> stdout socket, until the pty hangs up (all slave
 * descriptors closed). Stdin EOF is not passed on (no EOT), as in the agent. */
static void relay_pty(int in, int master, int out)
{
  char buf[16384];
  int out_dead = out < 0;
  for (;;) {
    struct pollfd pf[2];
    int n = 0, r;
    pf[n].fd = master;
    pf[n].events = POLLIN;
    pf[n++].revents = 0;
    if (in >= 0) {
      pf[n].fd = in;
      pf[n].events = POLLIN;
      pf[n++].revents = 0;
    }
    r = poll(pf, (nfds_t)n, -1);
    if (r < 0) {
      if (errno == EINTR)
        continue;
      break;
    }
    if (n == 2 && pf[1].revents) {
      ssize_t k = read(in, buf, sizeof buf);
      if (k <= 0) {
        close(in);
        in = -1;
      } else {
        write_all(master, buf, (size_t)k);
      }
    }
    if (pf[0].revents) {
      ssize_t k = read(master, buf, sizeof buf);
      if (k < 0 && errno == EINTR)
        continue;
      if (k <= 0) /* EIO: the slave side hung up */
        break;
      if (!out_dead && write_all(out, buf, (size_t)k) < 0)
        out_dead = 1;
    }
  }
  if (out >= 0)
    close(out);
  _exit(0);
}

enum { RELAY_OUT, RELAY_IN, RELAY_PTY };

/* late_ms: RELAY_OUT under --output-late (0 otherwise). */
static pid_t relay_spawn(int kind, int a, int b, int c, unsigned late_ms)
{
  pid_t pid = fork();
  if (pid != 0)
    return pid;
  {
    int keep[3], n = 0;
    sigset_t all;
    if (a >= 0)
      keep[n++] = a;
    if (b >= 0)
      keep[n++] = b;
    if (c >= 0)
      keep[n++] = c;
    sort_fds(keep, n);
    close_fds_except(keep, n);
    signal(SIGCHLD, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    sigemptyset(&all);
    sigprocmask(SIG_SETMASK, &all, NULL);
    switch (kind) {
    case RELAY_OUT:
      if (late_ms)
        relay_out_late(a, b, late_ms);
      relay_out_handshake(a, b);
      break;
    case RELAY_IN:
      relay_in(a, b);
      break;
    default:
      relay_pty(a, b, c);
      break;
    }
    _exit(0);
  }
}

/* ---- spawning ---- */

/* The first PATH entry holding an executable `name`, looked up under `root` (NULL: /): the
 * path as the process will see it. */
static char *look_path(const char *name, const char *path, const char *root)
{
  const char *p = path ? path : "/usr/local/bin:/usr/bin:/bin";
  char under[8192];
  size_t nlen = strlen(name);
  while (*p) {
    const char *end = strchr(p, ':');
    size_t dlen = end ? (size_t)(end - p) : strlen(p);
    char *cand = malloc(dlen + nlen + 3);
    struct stat st;
    if (!cand)
      return NULL;
    if (dlen == 0)
      snprintf(cand, nlen + 3, "./%s", name);
    else
      snprintf(cand, dlen + nlen + 3, "%.*s/%s", (int)dlen, p, name);
    snprintf(under, sizeof under, "%s%s", root ? root : "", cand);
    if (stat(under, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 0111))
      return cand;
    free(cand);
    if (!end)
      break;
    p = end + 1;
  }
  return NULL;
}

/* fork + exec. fd0..2 = the child's stdio (-1: /dev/null). Returns the pid, or -1 with a
 * Go-style message ("fork/exec /x: no such file or directory"). */
static pid_t spawn(const peer_spawn_t *sp, int fd0, int fd1, int fd2, int slave, char *err,
                   size_t errlen)
{
  int ep[2];
  pid_t pid;
  char *path;
  int child_errno = 0;
  ssize_t n;
  if (strchr(sp->argv[0], '/')) {
    path = strdup(sp->argv[0]);
  } else {
    path = look_path(sp->argv[0], sp->path_env, sp->root);
    if (!path) {
      snprintf(err, errlen, "exec: \"%s\": executable file not found in $PATH", sp->argv[0]);
      return -1;
    }
  }
  if (pipe2(ep, O_CLOEXEC) < 0) {
    snprintf(err, errlen, "pipe: %s", strerror(errno));
    free(path);
    return -1;
  }
  pid = fork();
  if (pid < 0) {
    snprintf(err, errlen, "fork: %s", strerror(errno));
    close(ep[0]);
    close(ep[1]);
    free(path);
    return -1;
  }
  if (pid == 0) {
    int nul = open("/dev/null", O_RDWR);
    int fds[3], i, keep[1];
    sigset_t none;
    fds[0] = fd0 >= 0 ? fd0 : nul;
    fds[1] = fd1 >= 0 ? fd1 : nul;
    fds[2] = fd2 >= 0 ? fd2 : nul;
    /* Own session (and process group): a controlling terminal for consoles, and a group the
     * container's "kill --all" can signal. */
    setsid();
    if (slave >= 0) {
      fds[0] = fds[1] = fds[2] = slave;
      ioctl(slave, TIOCSCTTY, 0);
    }
    /* Every source fd is >= 3 (main() keeps 0-2 open), so dup2 cannot clobber a source. */
    for (i = 0; i < 3; i++)
      if (dup2(fds[i], i) < 0)
        goto fail;
    keep[0] = ep[1];
    close_fds_except(keep, 1);
    /* The peer ignores SIGPIPE; an exec'd program must start with default dispositions. */
    signal(SIGPIPE, SIG_DFL);
    signal(SIGCHLD, SIG_DFL);
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    if (sp->root && (chroot(sp->root) < 0 || chdir("/") < 0))
      goto fail;
    if (sp->cwd && *sp->cwd && chdir(sp->cwd) < 0)
      goto fail;
    execve(path, sp->argv, sp->envp ? sp->envp : environ);
  fail:
    child_errno = errno;
    if (write(ep[1], &child_errno, sizeof child_errno) < 0) {
      /* nothing left to report with */
    }
    _exit(127);
  }
  close(ep[1]);
  do {
    n = read(ep[0], &child_errno, sizeof child_errno);
  } while (n < 0 && errno == EINTR);
  close(ep[0]);
  if (n == (ssize_t)sizeof child_errno) {
    char msg[256];
    int st;
    snprintf(msg, sizeof msg, "%s", strerror(child_errno));
    msg[0] = (char)(msg[0] >= 'A' && msg[0] <= 'Z' ? msg[0] + 32 : msg[0]); /* Go's errno text */
    snprintf(err, errlen, "fork/exec %s: %s", path, msg);
    waitpid(pid, &st, 0);
    free(path);
    return -1;
  }
  free(path);
  return pid;
}

peer_proc_t *peer_proc_start(peer_t *peer, peer_container_t *ctr, const peer_spawn_t *sp,
                             int fds[3], int pipes_mode, char *err, size_t errlen)
{
  peer_proc_t *p = calloc(1, sizeof *p);
  int child[3] = {-1, -1, -1}, mine[3] = {-1, -1, -1}, master = -1, slave = -1, i;
  if (!p)
    goto fail;
  p->peer = peer;
  p->ctr = ctr;
  p->master_fd = -1;
  p->held_fd = -1;
  p->tty = sp->tty;
  if (sp->tty) {
    if (openpty(&master, &slave, NULL, NULL, NULL) < 0) {
      snprintf(err, errlen, "openpty: %s", strerror(errno));
      goto fail;
    }
    set_cloexec(master);
    set_cloexec(slave);
  } else if (pipes_mode) {
    /* Container processes talk to pipes; relays copy to the sockets (§5.2). */
    for (i = 0; i < 3; i++) {
      int pp[2];
      if (fds[i] < 0)
        continue;
      if (pipe2(pp, O_CLOEXEC) < 0) {
        snprintf(err, errlen, "pipe: %s", strerror(errno));
        goto fail;
      }
      child[i] = i == 0 ? pp[0] : pp[1];
      mine[i] = i == 0 ? pp[1] : pp[0];
    }
  } else {
    /* External processes get the sockets themselves. */
    for (i = 0; i < 3; i++)
      child[i] = fds[i];
  }
  p->pid = spawn(sp, child[0], child[1], child[2], slave, err, errlen);
  if (p->pid < 0)
    goto fail;
  if (slave >= 0) {
    close(slave);
    slave = -1;
  }
  if (sp->tty) {
    p->master_fd = master;
    p->relay_out = relay_spawn(RELAY_PTY, fds[0], master, fds[1], 0);
    p->held_fd = fds[2]; /* connected but unused; closed when the process is done */
    fds[2] = -1;
  } else if (pipes_mode) {
    for (i = 0; i < 3; i++) {
      if (child[i] >= 0)
        close(child[i]);
      child[i] = -1;
    }
    unsigned late = peer->faults.output_late_ms;
    if (fds[0] >= 0)
      p->relay_in = relay_spawn(RELAY_IN, fds[0], mine[0], -1, 0);
    if (fds[1] >= 0)
      p->relay_out = relay_spawn(RELAY_OUT, mine[1], fds[1], -1, late);
    if (fds[2] >= 0)
      p->relay_err = relay_spawn(RELAY_OUT, mine[2], fds[2], -1, late);
  }
  /* The helpers and the child own their copies now. */
  for (i = 0; i < 3; i++) {
    if (mine[i] >= 0)
      close(mine[i]);
    if (fds[i] >= 0)
      close(fds[i]);
    fds[i] = -1;
  }
  if (p->relay_in < 0)
    p->relay_in = 0;
  if (p->relay_out < 0)
    p->relay_out = 0;
  if (p->relay_err < 0)
    p->relay_err = 0;
  if (ctr)
    peer_container_add_pgid(ctr, p->pid);
  p->next = peer->procs;
  peer->procs = p;
  return p;
fail:
  for (i = 0; i < 3; i++) {
    if (fds[i] >= 0)
      close(fds[i]);
    fds[i] = -1;
    if (pipes_mode && child[i] >= 0)
      close(child[i]);
    if (mine[i] >= 0)
      close(mine[i]);
  }
  if (master >= 0)
    close(master);
  if (slave >= 0)
    close(slave);
  free(p);
  return NULL;
}

peer_proc_t *peer_proc_find(peer_t *peer, peer_container_t *ctr, uint32_t pid)
{
  peer_proc_t *p;
  for (p = peer->procs; p; p = p->next)
    if (!p->removed && p->ctr == ctr && (uint32_t)p->pid == pid)
      return p;
  return NULL;
}

uint32_t peer_exit_code(const peer_proc_t *p)
{
  if (WIFEXITED(p->status))
    return (uint32_t)WEXITSTATUS(p->status);
  if (WIFSIGNALED(p->status))
    /* Container processes: 128+signal (runc); external: Go's ExitCode() = -1. */
    return p->ctr ? 128u + (uint32_t)WTERMSIG(p->status) : 4294967295u;
  return 4294967295u;
}

/* ---- waits ---- */

static void waiter_closed(uv_handle_t *h)
{
  peer_waiter_t *w = h->data;
  w->peer->ntimers--;
  free(w->activity);
  free(w);
}

static void waiter_free(peer_waiter_t *w)
{
  if (w->has_timer) {
    uv_close((uv_handle_t *)&w->timer, waiter_closed);
  } else {
    free(w->activity);
    free(w);
  }
}

static void waiter_unlink(peer_waiter_t *w)
{
  peer_waiter_t **pp;
  for (pp = &w->proc->waiters; *pp; pp = &(*pp)->next)
    if (*pp == w) {
      *pp = w->next;
      return;
    }
}

static void waiter_respond(peer_waiter_t *w, int32_t hr, uint32_t code)
{
  peer_req_t req;
  memset(&req, 0, sizeof req);
  req.type = w->req_type;
  req.id = w->req_id;
  req.activity = w->activity;
  if (hr) {
    peer_respond_hr(w->peer, &req, hr);
  } else {
    json_t *o = peer_resp_base(&req, 0);
    pj_set(o, "ExitCode", json_integer(code));
    peer_respond(w->peer, &req, o);
  }
}

static void on_wait_timeout(uv_timer_t *t)
{
  peer_waiter_t *w = t->data;
  waiter_unlink(w);
  waiter_respond(w, HR_TIMEOUT, 0);
  waiter_free(w);
}

/* The exit code went to at least one waiter: apply retention, then the notification. */
static void after_delivery(peer_proc_t *p)
{
  if (!p->is_init)
    p->removed = 1; /* exec/external: gone after the first successful wait (§5.4) */
  else if (p->ctr)
    peer_container_maybe_notify(p->ctr);
}

void peer_proc_wait(peer_t *peer, peer_proc_t *p, const peer_req_t *req, uint32_t timeout_ms)
{
  peer_waiter_t *w;
  if (p->published) {
    peer_req_t r = *req;
    json_t *o = peer_resp_base(&r, 0);
    pj_set(o, "ExitCode", json_integer(p->exit_code));
    peer_respond(peer, &r, o);
    after_delivery(p);
    return;
  }
  if (timeout_ms == 0) {
    peer_respond_hr(peer, req, HR_TIMEOUT);
    return;
  }
  w = calloc(1, sizeof *w);
  if (!w) {
    peer_respond_hr(peer, req, HR_E_FAIL);
    return;
  }
  w->proc = p;
  w->peer = peer;
  w->req_type = req->type;
  w->req_id = req->id;
  w->activity = req->activity ? strdup(req->activity) : NULL;
  if (timeout_ms != 0xFFFFFFFFu) {
    uv_timer_init(&peer->loop, &w->timer);
    w->timer.data = w;
    w->has_timer = 1;
    peer->ntimers++;
    uv_timer_start(&w->timer, on_wait_timeout, timeout_ms, 0);
  }
  w->next = p->waiters;
  p->waiters = w;
}

/* Exit code becomes visible once the process is reaped and its output relays finished
 * (container processes: after the host closed its side). --output-late breaks that rule on
 * purpose: the exit goes out at once, the output after it. */
static void check_publish(peer_proc_t *p)
{
  peer_waiter_t *w, *list;
  int delivered = 0;
  int relays_pending = p->relay_out || p->relay_err;
  if (p->published || !p->reaped || (relays_pending && !p->peer->faults.output_late_ms))
    return;
  p->published = 1;
  p->exit_code = peer_exit_code(p);
  if (p->relay_in)
    kill(p->relay_in, SIGKILL); /* stdin is shut once the process is done */
  if (p->held_fd >= 0) {
    close(p->held_fd);
    p->held_fd = -1;
  }
  if (p->master_fd >= 0) {
    close(p->master_fd);
    p->master_fd = -1;
  }
  /* Respond in arrival order (the list is newest first). */
  list = NULL;
  while ((w = p->waiters)) {
    p->waiters = w->next;
    w->next = list;
    list = w;
  }
  while ((w = list)) {
    list = w->next;
    if (w->has_timer)
      uv_timer_stop(&w->timer);
    waiter_respond(w, 0, p->exit_code);
    waiter_free(w);
    delivered = 1;
  }
  if (delivered)
    after_delivery(p);
}

static void on_reaped(peer_t *peer, pid_t pid, int status)
{
  peer_proc_t *p;
  for (p = peer->procs; p; p = p->next) {
    if (p->pid == pid && !p->reaped) {
      p->reaped = 1;
      p->status = status;
      /* Init gone: the agent kills the rest of the container so the relays drain. */
      if (p->is_init && p->ctr)
        peer_container_kill_all(p->ctr, SIGKILL);
      check_publish(p);
      return;
    }
    if (p->relay_in == pid)
      p->relay_in = 0;
    if (p->relay_out == pid || p->relay_err == pid) {
      if (p->relay_out == pid)
        p->relay_out = 0;
      else
        p->relay_err = 0;
      check_publish(p);
      return;
    }
  }
  /* An orphan re-parented to us (we are a child subreaper): nothing to do. */
}

void peer_on_sigchld(uv_signal_t *h, int signum)
{
  peer_t *peer = h->data;
  (void)signum;
  for (;;) {
    int status;
    pid_t pid = waitpid(-1, &status, WNOHANG);
    if (pid <= 0)
      break;
    on_reaped(peer, pid, status);
  }
}

void peer_kill_all_children(peer_t *peer)
{
  peer_proc_t *p;
  peer_container_t *c;
  for (c = peer->containers; c; c = c->next)
    peer_container_kill_all(c, SIGKILL);
  for (p = peer->procs; p; p = p->next) {
    peer_waiter_t *w;
    if (!p->reaped) {
      kill(-p->pid, SIGKILL);
      kill(p->pid, SIGKILL);
    }
    if (p->relay_in)
      kill(p->relay_in, SIGKILL);
    if (p->relay_out)
      kill(p->relay_out, SIGKILL);
    if (p->relay_err)
      kill(p->relay_err, SIGKILL);
    while ((w = p->waiters)) {
      p->waiters = w->next;
      waiter_free(w);
    }
  }
}

void peer_proc_free_all(peer_t *peer)
{
  peer_proc_t *p;
  while ((p = peer->procs)) {
    peer->procs = p->next;
    if (p->held_fd >= 0)
      close(p->held_fd);
    if (p->master_fd >= 0)
      close(p->master_fd);
    free(p);
  }
}

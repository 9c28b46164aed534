/* Processes: real fork/exec children with pipes or a pty, real signals and exit codes
 * (docs/hcs-api.md §6.5). Everything the child needs is prepared before fork(); the child only
 * makes async-signal-safe calls, and reports an exec failure through a CLOEXEC pipe so
 * that CreateProcess fails with an HRESULT instead of producing a process that exits 127. */
/* pipe2() and posix_openpt() are GNU/XSI: needed to create every fd with O_CLOEXEC
 * atomically while other threads of the host program may fork. */
#ifndef _GNU_SOURCE
#  define _GNU_SOURCE 1
#endif
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "core/alloc.h"
#include "cow/error.h"
#include "core/log.h"
#include "hcs/emu/cmdline.h"
#include "hcs/emu/emu-internal.h"

#define EMU_DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

/* ---- small helpers ---- */

int cow__emu_dup_fd(int fd)
{
  /* >= 3: a stdio HANDLE must never be 0..2 (docs/hcs-api.md §1 item 4). */
  return fcntl(fd, F_DUPFD_CLOEXEC, 3);
}

/* Move fd to >= 3 (closing the original) so that dup2 in the child never sees src == dst,
 * which would leave O_CLOEXEC set on the child's stdio. */
static int fd_high(int fd)
{
  if (fd < 0 || fd >= 3)
    return fd;
  int n = cow__emu_dup_fd(fd);
  close(fd);
  return n;
}

static void close_fd(int *fd)
{
  if (*fd >= 0) {
    close(*fd);
    *fd = -1;
  }
}

struct vec {
  char **v;
  size_t n, cap;
};

static int vec_push(struct vec *a, char *s) /* takes s */
{
  if (s == NULL)
    return -1;
  if (a->n + 2 > a->cap) {
    size_t cap = a->cap ? a->cap * 2 : 8;
    char **nv = cow__realloc(a->v, cap * sizeof(char *));
    if (nv == NULL) {
      cow__free(s);
      return -1;
    }
    a->v = nv;
    a->cap = cap;
  }
  a->v[a->n++] = s;
  a->v[a->n] = NULL;
  return 0;
}

static void vec_free(struct vec *a)
{
  for (size_t i = 0; i < a->n; i++)
    cow__free(a->v[i]);
  cow__free(a->v);
  a->v = NULL;
  a->n = a->cap = 0;
}

static char *join3(const char *a, const char *b, const char *c)
{
  size_t la = strlen(a), lb = strlen(b), lc = strlen(c);
  char *r = cow__malloc(la + lb + lc + 1);
  if (r != NULL) {
    memcpy(r, a, la);
    memcpy(r + la, b, lb);
    memcpy(r + la + lb, c, lc + 1);
  }
  return r;
}

/* ---- request parsing ---- */

struct spawn_req {
  struct vec argv, envp;
  char *path; /* resolved executable */
  const char *cwd;
  int console;
  int want[3];
  unsigned rows, cols;
};

static HRESULT parse_params(json_t *j, struct spawn_req *r, const char **why)
{
  json_t *oci = json_object_get(j, "OciProcess"); /* LCOW (docs/hcs-api.md §5.5) */
  json_t *args = json_object_get(j, "CommandArgs");
  const char *cmdline = json_string_value(json_object_get(j, "CommandLine"));
  const char *app = json_string_value(json_object_get(j, "ApplicationName"));
  const char *user = json_string_value(json_object_get(j, "User"));
  json_t *env = json_object_get(j, "Environment");
  r->cwd = json_string_value(json_object_get(j, "WorkingDirectory"));
  if (json_is_object(oci)) {
    if (args == NULL)
      args = json_object_get(oci, "Args");
    if (r->cwd == NULL || r->cwd[0] == '\0')
      r->cwd = json_string_value(json_object_get(oci, "Cwd"));
  }
  if (user != NULL && user[0] != '\0') {
    *why = "User is not supported by the emulator";
    return COW__HR_E_INVALIDARG;
  }
  if (args != NULL && json_array_size(args) > 0) {
    size_t i;
    json_t *a;
    json_array_foreach(args, i, a)
    {
      if (!json_is_string(a)) {
        *why = "CommandArgs must be strings";
        return COW__HR_INVALID_JSON;
      }
      if (vec_push(&r->argv, cow__strdup(json_string_value(a))) != 0)
        return COW__HR_E_OUTOFMEMORY;
    }
  } else if (cmdline != NULL) {
    char **argv = NULL;
    int rc = cow__emu_cmdline_split(cmdline, &argv, NULL);
    if (rc != 0) {
      *why = "CommandLine is empty";
      return rc == COW_ENOMEM ? COW__HR_E_OUTOFMEMORY : COW__HR_E_INVALIDARG;
    }
    for (size_t i = 0; argv[i] != NULL; i++)
      if (vec_push(&r->argv, cow__strdup(argv[i])) != 0) {
        cow__free(argv);
        return COW__HR_E_OUTOFMEMORY;
      }
    cow__free(argv);
  } else {
    *why = "neither CommandLine nor CommandArgs is set";
    return COW__HR_E_INVALIDARG;
  }
  if (r->cwd != NULL && r->cwd[0] != '\0' && r->cwd[0] != '/') {
    *why = "WorkingDirectory must be an absolute POSIX path in the emulator";
    return COW__HR_E_INVALIDARG;
  }
  int have_path = 0;
  if (json_is_object(env)) {
    const char *k;
    json_t *v;
    json_object_foreach(env, k, v)
    {
      if (!json_is_string(v) || k[0] == '\0' || strchr(k, '=') != NULL) {
        *why = "Environment must map names to strings";
        return COW__HR_INVALID_JSON;
      }
      have_path |= strcmp(k, "PATH") == 0;
      if (vec_push(&r->envp, join3(k, "=", json_string_value(v))) != 0)
        return COW__HR_E_OUTOFMEMORY;
    }
  } else if (env != NULL && !json_is_null(env)) {
    *why = "Environment must be an object";
    return COW__HR_INVALID_JSON;
  }
  if (json_is_object(oci) && json_is_array(json_object_get(oci, "Env"))) {
    size_t i;
    json_t *a;
    json_array_foreach(json_object_get(oci, "Env"), i, a)
    {
      const char *kv = json_string_value(a);
      if (kv == NULL || strchr(kv, '=') == NULL)
        continue;
      have_path |= strncmp(kv, "PATH=", 5) == 0;
      if (vec_push(&r->envp, cow__strdup(kv)) != 0)
        return COW__HR_E_OUTOFMEMORY;
    }
  }
  /* A container image always brings a PATH; the emulator's "image" is the host. */
  if (!have_path && vec_push(&r->envp, cow__strdup("PATH=" EMU_DEFAULT_PATH)) != 0)
    return COW__HR_E_OUTOFMEMORY;
  if (r->envp.v == NULL)
    return COW__HR_E_OUTOFMEMORY;
  r->console = json_is_true(json_object_get(j, "EmulateConsole"));
  r->want[0] = json_is_true(json_object_get(j, "CreateStdInPipe"));
  r->want[1] = json_is_true(json_object_get(j, "CreateStdOutPipe"));
  r->want[2] = json_is_true(json_object_get(j, "CreateStdErrPipe")) && !r->console;
  json_t *cs = json_object_get(j, "ConsoleSize"); /* [height, width]; [0,0] = unset */
  if (json_is_array(cs) && json_array_size(cs) == 2) {
    r->rows = (unsigned)json_integer_value(json_array_get(cs, 0));
    r->cols = (unsigned)json_integer_value(json_array_get(cs, 1));
  }
  /* Resolve the program in the child's PATH, before fork. */
  const char *prog = (app != NULL && app[0] != '\0') ? app : r->argv.v[0];
  if (strchr(prog, '/') != NULL) {
    r->path = cow__strdup(prog);
    if (r->path == NULL)
      return COW__HR_E_OUTOFMEMORY;
    if (access(r->path, X_OK) != 0) {
      *why = "the program does not exist or is not executable";
      return errno == EACCES ? COW__HR_ACCESS_DENIED : COW__HR_FILE_NOT_FOUND;
    }
    return COW__HR_S_OK;
  }
  const char *pathvar = EMU_DEFAULT_PATH;
  for (size_t i = 0; i < r->envp.n; i++)
    if (strncmp(r->envp.v[i], "PATH=", 5) == 0)
      pathvar = r->envp.v[i] + 5;
  const char *d = pathvar;
  while (*d != '\0') {
    const char *end = strchr(d, ':');
    size_t len = end ? (size_t)(end - d) : strlen(d);
    char *dir = cow__strndup(d, len);
    char *cand = dir ? join3(len ? dir : ".", "/", prog) : NULL;
    cow__free(dir);
    if (cand == NULL)
      return COW__HR_E_OUTOFMEMORY;
    if (access(cand, X_OK) == 0) {
      r->path = cand;
      return COW__HR_S_OK;
    }
    cow__free(cand);
    d += len;
    if (*d == ':')
      d++;
  }
  *why = "the program was not found in PATH";
  return COW__HR_FILE_NOT_FOUND;
}

/* ---- spawning ---- */

static int open_pty(int *master, int *slave, unsigned rows, unsigned cols)
{
  int m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (m < 0)
    return -1;
  if (grantpt(m) != 0 || unlockpt(m) != 0) {
    close(m);
    return -1;
  }
  int s = -1;
#ifdef TIOCGPTPEER
  s = ioctl(m, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
#endif
  if (s < 0) {
    const char *name = ptsname(m); /* under the emulator lock: not reentrant */
    s = name ? open(name, O_RDWR | O_NOCTTY | O_CLOEXEC) : -1;
  }
  if (s < 0) {
    close(m);
    return -1;
  }
  if (rows > 0 && cols > 0) {
    struct winsize ws = {(unsigned short)rows, (unsigned short)cols, 0, 0};
    ioctl(m, TIOCSWINSZ, &ws);
  }
  *master = fd_high(m);
  *slave = fd_high(s);
  return (*master < 0 || *slave < 0) ? -1 : 0;
}

/* Child side of fork(): async-signal-safe calls only. `host` is the pid of the process the
 * emulated service lives in: the child dies with it (docs/hcs-api.md §6.5). */
static void child_exec(const struct spawn_req *r, const int io[3], int slave, int errfd, pid_t host)
{
  if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != host)
    _exit(127); /* the host died before the child could tie itself to it */
  struct sigaction sa;
  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = SIG_DFL;
  for (int sig = 1; sig < 65; sig++)
    sigaction(sig, &sa, NULL); /* host program's ignored signals must not leak in */
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
  setsid(); /* own session and process group: Terminate kills the whole group */
  int stage = 0;
  if (slave >= 0) {
    if (ioctl(slave, TIOCSCTTY, 0) != 0)
      goto fail;
    if (dup2(slave, 0) < 0 || dup2(slave, 1) < 0 || dup2(slave, 2) < 0)
      goto fail;
  } else {
    for (int k = 0; k < 3; k++)
      if (dup2(io[k], k) < 0)
        goto fail;
  }
#ifdef SYS_close_range
  /* Inherited non-CLOEXEC descriptors of the host program do not belong in a container. */
  syscall(SYS_close_range, 3u, ~0u, 4u /* CLOSE_RANGE_CLOEXEC */);
#endif
  stage = 1;
  if (r->cwd != NULL && r->cwd[0] != '\0' && chdir(r->cwd) != 0)
    goto fail;
  stage = 2;
  execve(r->path, r->argv.v, r->envp.v);
fail:;
  int msg[2] = {stage, errno};
  ssize_t n = write(errfd, msg, sizeof(msg));
  (void)n;
  _exit(127);
}

static HRESULT hr_from_errno(int stage, int err)
{
  if (err == ENOENT || err == ENOTDIR)
    return stage == 1 ? COW__HR_PATH_NOT_FOUND : COW__HR_FILE_NOT_FOUND;
  if (err == EACCES || err == EPERM)
    return COW__HR_ACCESS_DENIED;
  if (err == ENOMEM)
    return COW__HR_E_OUTOFMEMORY;
  if (err == ENOEXEC)
    return COW__HR(0x800700C1u); /* ERROR_BAD_EXE_FORMAT */
  return COW__HR(0x80070000u | (uint32_t)(err & 0xFFFF));
}

HRESULT cow__emu_process_create(struct emu *e, struct emu_system *s, const char *params,
                                struct emu_process **out, int fds[3], int invalid[3],
                                char **doc_out)
{
  struct spawn_req r;
  memset(&r, 0, sizeof(r));
  *out = NULL;
  const char *why = "cannot create the process";
  int child[3] = {-1, -1, -1}, mine[3] = {-1, -1, -1};
  int master = -1, slave = -1, errp[2] = {-1, -1}, devnull = -1;
  struct emu_process *p = NULL;
  HRESULT hr;
  for (int k = 0; k < 3; k++) {
    fds[k] = -1;
    invalid[k] = 0;
  }
  json_t *j = params ? json_loads(params, 0, NULL) : NULL;
  if (!json_is_object(j)) {
    hr = COW__HR_INVALID_JSON;
    why = "the process parameters are not a JSON object";
    goto out;
  }
  hr = parse_params(j, &r, &why);
  if (EMU_FAILED(hr))
    goto out;
  hr = COW__HR_E_OUTOFMEMORY;
  p = cow__calloc(1, sizeof(*p));
  if (p == NULL || (p->image = cow__strdup(r.argv.v[0])) == NULL)
    goto out;
  p->pidfd = p->stdin_host = p->console_master = p->out_copy = p->err_copy = -1;
  hr = COW__HR(0x800705AAu); /* ERROR_NO_SYSTEM_RESOURCES */
  why = "cannot create the stdio channels";
  if (pipe2(errp, O_CLOEXEC) != 0)
    goto out;
  errp[1] = fd_high(errp[1]);
  if (r.console) {
    if (open_pty(&master, &slave, r.rows, r.cols) != 0)
      goto out;
  } else {
    if (r.want[0]) {
      int sv[2];
      /* A socket, so that CloseHandle StdIn can shut it down for everyone. */
      if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
        goto out;
      mine[0] = fd_high(sv[0]);
      child[0] = fd_high(sv[1]);
      shutdown(child[0], SHUT_WR); /* the child's stdin is read-only, like a pipe */
    }
    for (int k = 1; k < 3; k++) {
      if (!r.want[k])
        continue;
      int pp[2];
      if (pipe2(pp, O_CLOEXEC) != 0)
        goto out;
      mine[k] = fd_high(pp[0]);
      child[k] = fd_high(pp[1]);
    }
    if (!r.want[0] || !r.want[1] || !r.want[2]) {
      devnull = fd_high(open("/dev/null", O_RDWR | O_CLOEXEC));
      if (devnull < 0)
        goto out;
      for (int k = 0; k < 3; k++)
        if (child[k] < 0)
          child[k] = devnull;
    }
  }
  for (int k = 0; k < 3; k++)
    if ((child[k] < 0 && !r.console) || (r.want[k] && !r.console && mine[k] < 0))
      goto out;
  pid_t host = getpid();
  pid_t pid = fork();
  if (pid < 0) {
    hr = hr_from_errno(0, errno);
    why = "fork failed";
    goto out;
  }
  if (pid == 0)
    child_exec(&r, child, slave, errp[1], host);
  close_fd(&errp[1]);
  int msg[2];
  ssize_t n;
  do
    n = read(errp[0], msg, sizeof(msg));
  while (n < 0 && errno == EINTR);
  if (n == (ssize_t)sizeof(msg)) {
    int st;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
      ;
    hr = hr_from_errno(msg[0], msg[1]);
    why = msg[0] == 1 ? "cannot enter WorkingDirectory" : "exec failed";
    goto out;
  }
  /* Running. Close our copies of the child's ends so that EOF follows its exit. */
  p->pid = pid;
  p->sys = s;
  p->console = r.console;
  p->start_ns = cow__emu_now_ns();
#ifdef SYS_pidfd_open
  p->pidfd = (int)syscall(SYS_pidfd_open, pid, 0); /* CLOEXEC by definition */
#endif
  if (r.console) {
    p->console_master = master;
    fds[0] = cow__emu_dup_fd(master);
    fds[1] = cow__emu_dup_fd(master);
    master = -1;
  } else {
    unsigned late = (unsigned)cow__emu_fault_value(COW__EMU_FAULT_OUTPUT_LATE, -1);
    for (int k = 1; k < 3 && late != (unsigned)-1; k++) {
      /* The process keeps writing into its pipe; the caller reads a second one that a
       * relay fills only after the exit (emu-late.c). */
      int late_pipe[2];
      if (mine[k] < 0 || pipe2(late_pipe, O_CLOEXEC) != 0)
        continue;
      if (cow__emu_late_relay(mine[k], fd_high(late_pipe[1]), late) != 0) {
        close(late_pipe[0]);
        close(late_pipe[1]);
        continue;
      }
      mine[k] = fd_high(late_pipe[0]);
    }
    for (int k = 0; k < 3; k++) {
      fds[k] = mine[k];
      mine[k] = -1;
    }
    if (fds[0] >= 0)
      p->stdin_host = cow__emu_dup_fd(fds[0]);
    if (fds[1] >= 0)
      p->out_copy = cow__emu_dup_fd(fds[1]);
    if (fds[2] >= 0)
      p->err_copy = cow__emu_dup_fd(fds[2]);
  }
  for (int k = 0; k < 3; k++)
    invalid[k] = fds[k] < 0 && cow__emu_fault_flag(COW__EMU_FAULT_STDIO_INVALID);
  p->next = s->procs;
  s->procs = p;
  *out = p;
  p = NULL;
  hr = COW__HR_S_OK;
  cow__emu_reaper_wake(e);
  cow__log(COW_LOG_DEBUG, EMU_LOG, "system %s: pid %d started (%s)", s->id, (int)pid, r.path);
out:
  if (EMU_FAILED(hr)) {
    cow__log(COW_LOG_DEBUG, EMU_LOG, "CreateProcess failed 0x%08x: %s", (unsigned)hr, why);
    if (doc_out != NULL)
      *doc_out = cow__emu_result_error(hr, why);
  }
  for (int k = 0; k < 3; k++) {
    if (child[k] != devnull)
      close_fd(&child[k]);
    close_fd(&mine[k]);
  }
  close_fd(&devnull);
  close_fd(&master);
  close_fd(&slave);
  close_fd(&errp[0]);
  close_fd(&errp[1]);
  if (p != NULL)
    cow__emu_process_free(p);
  vec_free(&r.argv);
  vec_free(&r.envp);
  cow__free(r.path);
  json_decref(j);
  return hr;
}

void cow__emu_process_free(struct emu_process *p)
{
  if (p->handles != NULL)
    cow__log(COW_LOG_ERROR, EMU_LOG, "process %d freed with open handles", (int)p->pid);
  close_fd(&p->pidfd);
  close_fd(&p->stdin_host);
  close_fd(&p->console_master);
  close_fd(&p->out_copy);
  close_fd(&p->err_copy);
  cow__free(p->image);
  cow__free(p);
}

struct emu_process *cow__emu_process_find(struct emu_system *s, uint32_t pid)
{
  for (struct emu_process *p = s->procs; p != NULL; p = p->next)
    if ((uint32_t)p->pid == pid)
      return p;
  return NULL;
}

void cow__emu_process_attach(struct emu *e, struct emu_process *p, struct emu_handle *h)
{
  (void)e;
  h->proc = p;
  h->sys = p->sys;
  h->obj_next = p->handles;
  p->handles = h;
  cow__emu_system_ref(p->sys); /* the process lives as long as its system */
}

HRESULT cow__emu_process_open(struct emu *e, struct emu_system *s, uint32_t pid, int api,
                              uintptr_t *value)
{
  struct emu_process *p = cow__emu_process_find(s, pid);
  if (p == NULL || p->exited)
    return COW__HR_NOT_FOUND; /* hcsshim's Kill reads this as "already gone" */
  struct emu_handle *h = cow__emu_handle_new(e, EMU_H_PROCESS, api);
  if (h == NULL)
    return COW__HR_E_OUTOFMEMORY;
  cow__emu_process_attach(e, p, h);
  *value = h->value;
  return COW__HR_S_OK;
}

void cow__emu_process_discard(struct emu_process *p, int fds[3])
{
  cow__emu_process_terminate(p);
  for (int k = 0; k < 3; k++)
    if (fds[k] >= 0)
      close(fds[k]);
}

void cow__emu_process_detach(struct emu_handle *h)
{
  struct emu_process *p = h->proc;
  for (struct emu_handle **pp = &p->handles; *pp != NULL; pp = &(*pp)->obj_next)
    if (*pp == h) {
      *pp = h->obj_next;
      break;
    }
  struct emu_system *s = h->sys;
  h->proc = NULL;
  h->sys = NULL;
  cow__emu_system_unref(cow__emu_current(), s); /* closing never kills the process */
}

void cow__emu_system_signal_all(struct emu_system *s, int sig)
{
  /* Every member (emu-procfs.c), also descendants that left the process groups: found
   * before anything is signalled, since a parent that dies reparents its children out of
   * sight. Without a scan (no memory), the groups alone. */
  struct emu_member *m = NULL;
  size_t n = 0;
  if (sig != SIGCONT && cow__emu_procfs_members(s, &m, &n) != 0)
    n = 0;
  for (struct emu_process *p = s->procs; p != NULL; p = p->next) {
    if (p->exited && sig != SIGKILL)
      continue;
    /* The process group outlives a reaped leader while descendants hold it. */
    if (kill(-p->pid, sig) != 0 && !p->exited)
      kill(p->pid, sig);
  }
  for (size_t i = 0; i < n; i++)
    kill(m[i].pid, sig);
  cow__free(m);
}

char *cow__emu_process_status_json(struct emu_process *p)
{
  if (!p->exited)
    return cow__emu_json_text(
        json_pack("{s:I, s:b}", "ProcessId", (json_int_t)p->pid, "Exited", 0));
  int32_t lwr = cow__emu_fault_value(COW__EMU_FAULT_LAST_WAIT_RESULT, 0);
  return cow__emu_json_text(json_pack("{s:I, s:b, s:I, s:I}", "ProcessId", (json_int_t)p->pid,
                                      "Exited", 1, "ExitCode", (json_int_t)p->exit_code,
                                      "LastWaitResult", (json_int_t)lwr));
}

void cow__emu_process_exited(struct emu *e, struct emu_process *p, int status)
{
  p->exited = 1;
  p->reaped_status = status;
  if (status == -1)
    p->exit_code = 0xFFFFFFFFu;
  else if (WIFEXITED(status))
    p->exit_code = (uint32_t)WEXITSTATUS(status);
  else if (WIFSIGNALED(status))
    p->exit_code = 128u + (uint32_t)WTERMSIG(status); /* documented mapping (emu.h) */
  close_fd(&p->pidfd);
  close_fd(&p->stdin_host);
  close_fd(&p->console_master);
  close_fd(&p->out_copy);
  close_fd(&p->err_copy);
  cow__log(COW_LOG_DEBUG, EMU_LOG, "pid %d exited, code %u", (int)p->pid, p->exit_code);
  char *j = cow__emu_process_status_json(p);
  for (struct emu_handle *h = p->handles; h != NULL; h = h->obj_next) {
    if (h->exit_posted)
      continue;
    h->exit_posted = 1;
    /* v1 and v2 share the code and the ProcessStatus data (docs/hcs-api.md §2.3, §3.1). */
    cow__emu_notify(e, h, p->sys, HcsEventProcessExited, COW__HR_S_OK, j, 0);
  }
  cow__free(j);
  pthread_cond_broadcast(&e->cv_done);
  cow__emu_system_maybe_stopped(e, p->sys);
}

static int signal_from_json(json_t *sig, int *out)
{
  if (sig == NULL || json_is_null(sig)) {
    *out = 0; /* omitted when 0 (docs/hcs-api.md §5.9) */
    return 0;
  }
  if (json_is_integer(sig)) {
    json_int_t v = json_integer_value(sig);
    if (v < 0 || v > 64)
      return -1;
    *out = (int)v;
    return 0;
  }
  static const struct {
    const char *name;
    int sig;
  } map[] = {{"CtrlC", SIGINT},
             {"CtrlBreak", SIGQUIT},
             {"CtrlClose", SIGHUP},
             {"CtrlLogOff", SIGHUP},
             {"CtrlShutdown", SIGTERM}};
  const char *name = json_string_value(sig);
  for (size_t i = 0; name != NULL && i < sizeof(map) / sizeof(map[0]); i++)
    if (strcmp(name, map[i].name) == 0) {
      *out = map[i].sig;
      return 0;
    }
  return -1;
}

HRESULT cow__emu_process_signal(struct emu_process *p, const char *options)
{
  json_t *j = options ? json_loads(options, 0, NULL) : NULL;
  if (options != NULL && !json_is_object(j)) {
    json_decref(j);
    return COW__HR_INVALID_JSON;
  }
  int sig = 0;
  int rc = signal_from_json(json_object_get(j, "Signal"), &sig);
  json_decref(j);
  if (rc != 0)
    return COW__HR_E_INVALIDARG;
  if (p->exited)
    return COW__HR_PROCESS_ALREADY_STOPPED;
  if (kill(p->pid, sig) != 0)
    return COW__HR_PROCESS_ALREADY_STOPPED; /* exited, not yet reaped */
  return COW__HR_S_OK;
}

HRESULT cow__emu_process_terminate(struct emu_process *p)
{
  if (p->exited)
    return COW__HR_PROCESS_ALREADY_STOPPED;
  if (kill(-p->pid, SIGKILL) != 0)
    kill(p->pid, SIGKILL);
  return COW__HR_S_OK;
}

HRESULT cow__emu_process_modify(struct emu_process *p, const char *settings)
{
  json_t *j = settings ? json_loads(settings, 0, NULL) : NULL;
  HRESULT hr = COW__HR_INVALID_JSON;
  const char *op = json_string_value(json_object_get(j, "Operation"));
  if (op == NULL)
    goto out;
  if (p->exited) {
    hr = COW__HR_PROCESS_ALREADY_STOPPED;
    goto out;
  }
  if (strcmp(op, "ConsoleSize") == 0) {
    json_t *cs = json_object_get(j, "ConsoleSize");
    json_t *hh = json_object_get(cs, "Height"), *ww = json_object_get(cs, "Width");
    if (!json_is_integer(hh) || !json_is_integer(ww) || json_integer_value(hh) < 0 ||
        json_integer_value(hh) > 65535 || json_integer_value(ww) < 0 ||
        json_integer_value(ww) > 65535) {
      hr = COW__HR_E_INVALIDARG;
      goto out;
    }
    if (!p->console || p->console_master < 0) {
      hr = COW__HR_INVALID_STATE; /* no console to resize */
      goto out;
    }
    struct winsize ws = {(unsigned short)json_integer_value(hh),
                         (unsigned short)json_integer_value(ww), 0, 0};
    hr = ioctl(p->console_master, TIOCSWINSZ, &ws) == 0 ? COW__HR_S_OK : COW__HR_INVALID_STATE;
  } else if (strcmp(op, "CloseHandle") == 0) {
    const char *which =
        json_string_value(json_object_get(json_object_get(j, "CloseHandle"), "Handle"));
    if (which == NULL) {
      hr = COW__HR_E_INVALIDARG;
      goto out;
    }
    int in = strcmp(which, "StdIn") == 0 || strcmp(which, "All") == 0;
    if (!in && strcmp(which, "StdOut") != 0 && strcmp(which, "StdErr") != 0) {
      hr = COW__HR_E_INVALIDARG;
      goto out;
    }
    if (in && p->stdin_host >= 0) {
      shutdown(p->stdin_host, SHUT_WR); /* EOF for the child, whoever holds the fd */
      close_fd(&p->stdin_host);
    } else if (in && p->console_master >= 0) {
      static const char eof = 0x04; /* VEOF: EOF for a canonical-mode reader */
      ssize_t n = write(p->console_master, &eof, 1);
      (void)n;
    }
    /* StdOut/StdErr: drop the emulator's copies; the caller closes its own read end. */
    if (strcmp(which, "StdOut") == 0 || strcmp(which, "All") == 0)
      close_fd(&p->out_copy);
    if (strcmp(which, "StdErr") == 0 || strcmp(which, "All") == 0)
      close_fd(&p->err_copy);
    hr = COW__HR_S_OK;
  } else {
    hr = COW__HR_E_INVALIDARG;
  }
out:
  json_decref(j);
  return hr;
}

HRESULT cow__emu_process_info_fds(struct emu_process *p, int fds[3])
{
  fds[0] = fds[1] = fds[2] = -1;
  if (p->exited)
    return COW__HR_PROCESS_ALREADY_STOPPED;
  if (p->console) {
    fds[0] = cow__emu_dup_fd(p->console_master);
    fds[1] = cow__emu_dup_fd(p->console_master);
  } else {
    if (p->stdin_host >= 0)
      fds[0] = cow__emu_dup_fd(p->stdin_host);
    if (p->out_copy >= 0)
      fds[1] = cow__emu_dup_fd(p->out_copy);
    if (p->err_copy >= 0)
      fds[2] = cow__emu_dup_fd(p->err_copy);
  }
  return COW__HR_S_OK;
}

HRESULT cow__emu_process_verb(struct emu_process *p, enum emu_proc_verb verb, const char *arg,
                              char **doc, int fds[3], int invalid[3])
{
  switch (verb) {
  case P_TERMINATE:
    return cow__emu_process_terminate(p);
  case P_SIGNAL:
    return cow__emu_process_signal(p, arg);
  case P_MODIFY:
    return cow__emu_process_modify(p, arg);
  case P_PROPERTIES:
    /* Keeps working after exit: hcsshim v1 reads the exit code here. */
    *doc = cow__emu_process_status_json(p);
    return *doc ? COW__HR_S_OK : COW__HR_E_OUTOFMEMORY;
  case P_INFO: {
    HRESULT hr = cow__emu_process_info_fds(p, fds);
    for (int k = 0; k < 3; k++)
      invalid[k] = fds[k] < 0 && cow__emu_fault_flag(COW__EMU_FAULT_STDIO_INVALID);
    return hr;
  }
  }
  return COW__HR_E_INVALIDARG;
}

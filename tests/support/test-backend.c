/* The scripted test backend; see test-backend.h. */
#include "support/test-backend.h"

#include <fcntl.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#ifndef _WIN32
#  include <sys/socket.h>
#endif

struct tb_host {
  struct tb *tb;
};
struct tb_container {
  struct tb *tb;
};

static struct tb *host_tb(const cow_host_t *h)
{
  cow_container_t *c = cow_host_container((cow_host_t *)h);
  if (c != NULL)
    return ((struct tb_container *)cow_container_priv(c))->tb;
  return ((struct tb_host *)cow_host_priv(h))->tb;
}

/* The common path of every slot: record, then act per mode. */
static int act(struct tb *tb, enum tb_slot slot, cow_op_t *op)
{
  tb->calls[slot]++;
  switch (tb->mode) {
  case TB_COMPLETE_OK:
    cow_op_complete(op, 0, NULL);
    return 0;
  case TB_COMPLETE_FAIL: {
    cow_error_t err = COW_ERROR_INIT;
    err.code = tb->fail_code;
    err.domain = COW_DOMAIN_HCS;
    err.sys_code = 0x80370105u;
    err.message = strdup("scripted failure");
    cow_op_complete(op, tb->fail_code, &err);
    free(err.message);
    return 0;
  }
  case TB_REFUSE:
    return tb->fail_code;
  case TB_MANUAL:
    if (tb->npending == TB_MAX_PENDING)
      return COW_EBUSY;
    tb->pending[tb->npending++] = op;
    if (tb->stop_loop != NULL)
      uv_stop(tb->stop_loop);
    return 0;
  }
  return COW_EINVAL;
}

int tb_complete(struct tb *tb, int status, const char *json)
{
  if (tb->npending == 0)
    return -1;
  cow_op_t *op = tb->pending[0];
  memmove(tb->pending, tb->pending + 1, sizeof tb->pending[0] * (size_t)--tb->npending);
  if (json != NULL)
    cow_op_set_json(op, json);
  cow_op_complete(op, status, NULL);
  return 0;
}

void tb_complete_all(struct tb *tb, int status)
{
  while (tb_complete(tb, status, NULL) == 0)
    ;
}

/* ---- process ---- */

#ifndef _WIN32
/* The same through cow_process_stdio_tcp(): a socketpair end in a libuv socket stream, as
 * a backend whose streams are sockets provides them. */
static int socket_into(cow_process_t *p, cow_stdio_t which, int *test_end)
{
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
    return COW_EIO;
  *test_end = sv[1];
  uv_tcp_t *tcp = cow_process_stdio_tcp(p, which);
  if (tcp == NULL || uv_tcp_init(cow_process_loop(p), tcp) != 0 || uv_tcp_open(tcp, sv[0]) != 0) {
    close(sv[0]);
    close(sv[1]);
    *test_end = -1;
    return tcp == NULL ? COW_ENOMEM : COW_EIO;
  }
  cow_process_stdio_ready(p, which);
  return 0;
}
#endif

static int pipe_into(cow_process_t *p, cow_stdio_t which, int *test_end)
{
  int fds[2];
#ifdef _WIN32
  /* No pipe2() on Windows: uv_pipe() gives two non-inherited CRT descriptors. libuv's end
   * is overlapped, as libuv recommends for the handles it drives; the test's end stays
   * synchronous for plain read()/write(). */
  int ours_flags = UV_NONBLOCK_PIPE;
  if (uv_pipe(fds, which == COW_STDIN ? 0 : ours_flags, which == COW_STDIN ? ours_flags : 0) != 0)
    return COW_EIO;
#else
  struct tb_process *tp = cow_process_priv(p);
  if (tp->tb->stdio_tcp)
    return socket_into(p, which, test_end);
  if (pipe2(fds, O_CLOEXEC) != 0)
    return COW_EIO;
#endif
  /* stdin: the process's end is the write side we hand out; the test reads. */
  int ours = which == COW_STDIN ? fds[1] : fds[0];
  *test_end = which == COW_STDIN ? fds[0] : fds[1];
  uv_pipe_t *pipe = cow_process_stdio_pipe(p, which);
  uv_loop_t *loop = cow_process_loop(p);
  if (pipe == NULL || uv_pipe_init(loop, pipe, 0) != 0 || uv_pipe_open(pipe, ours) != 0) {
    close(fds[0]);
    close(fds[1]);
    *test_end = -1;
    return pipe == NULL ? COW_ENOMEM : COW_EIO;
  }
  cow_process_stdio_ready(p, which);
  return 0;
}

static int tb_process_init(cow_process_t *p)
{
  struct tb_process *tp = cow_process_priv(p);
  tp->stdin_fd = tp->stdout_fd = tp->stderr_fd = -1;
  return 0;
}

static void tb_process_close(cow_process_t *p)
{
  struct tb_process *tp = cow_process_priv(p);
  if (tp->tb)
    tp->tb->closes++;
  /* The contract: every pending op of this process completes now. */
  struct tb *tb = tp->tb;
  if (tb == NULL)
    return;
  for (int i = 0; i < tb->npending;) {
    if (cow_op_abandoned(tb->pending[i])) {
      cow_op_complete(tb->pending[i], COW_ECANCELED, NULL);
      memmove(tb->pending + i, tb->pending + i + 1,
              sizeof tb->pending[0] * (size_t)(--tb->npending - i));
    } else {
      i++;
    }
  }
}

static void tb_process_fini(cow_process_t *p)
{
  struct tb_process *tp = cow_process_priv(p);
  if (tp->tb)
    tp->tb->finis++;
  int *fds[3] = {&tp->stdin_fd, &tp->stdout_fd, &tp->stderr_fd};
  for (int i = 0; i < 3; i++)
    if (*fds[i] >= 0) {
      close(*fds[i]);
      *fds[i] = -1;
    }
}

static void tb_process_timeout(cow_process_t *p, cow_op_t *op)
{
  struct tb_process *tp = cow_process_priv(p);
  tp->tb->timeouts++;
}

static int tb_kill(cow_process_t *p, cow_op_t *op)
{
  return act(((struct tb_process *)cow_process_priv(p))->tb, TB_KILL, op);
}

static int tb_signal(cow_process_t *p, const char *options, cow_op_t *op)
{
  return act(((struct tb_process *)cow_process_priv(p))->tb, TB_SIGNAL, op);
}

static int tb_resize(cow_process_t *p, uint16_t w, uint16_t h, cow_op_t *op)
{
  return act(((struct tb_process *)cow_process_priv(p))->tb, TB_RESIZE, op);
}

static int tb_close_stdin(cow_process_t *p, cow_op_t *op)
{
  return act(((struct tb_process *)cow_process_priv(p))->tb, TB_CLOSE_STDIN, op);
}

const struct cow_process_ops tb_process_ops = {
    .version = COW_PROCESS_OPS_VERSION,
    .name = "test",
    .priv_size = sizeof(struct tb_process),
    .init = tb_process_init,
    .close = tb_process_close,
    .fini = tb_process_fini,
    .timeout = tb_process_timeout,
    .close_stdin = tb_close_stdin,
    .resize_console = tb_resize,
    .kill = tb_kill,
    .signal = tb_signal,
};

/* ---- host ---- */

static int tb_create_process(cow_host_t *h, cow_process_t *p, const char *config, cow_op_t *op)
{
  struct tb *tb = host_tb(h);
  struct tb_process *tp = cow_process_priv(p);
  tp->tb = tb;
  if (strcmp(config, "{\"bad\":true}") == 0) {
    tb->calls[TB_CREATE]++;
    return COW_EINVAL;
  }
  if (tb->want_stdio && (tb->mode == TB_COMPLETE_OK || tb->mode == TB_MANUAL)) {
    int rc;
    if ((rc = pipe_into(p, COW_STDIN, &tp->stdin_fd)) != 0 ||
        (rc = pipe_into(p, COW_STDOUT, &tp->stdout_fd)) != 0 ||
        (rc = pipe_into(p, COW_STDERR, &tp->stderr_fd)) != 0) {
      cow_op_complete(op, rc, NULL);
      tb->calls[TB_CREATE]++;
      return 0;
    }
  }
  cow_process_set_pid(p, 4242);
  return act(tb, TB_CREATE, op);
}

static int tb_open_process(cow_host_t *h, cow_process_t *p, int64_t pid, cow_op_t *op)
{
  struct tb *tb = host_tb(h);
  struct tb_process *tp = cow_process_priv(p);
  tp->tb = tb;
  if (tb->mode == TB_COMPLETE_OK || tb->mode == TB_MANUAL)
    cow_process_set_pid(p, pid);
  return act(tb, TB_OPEN_PROCESS, op);
}

static const char *tb_os(const cow_host_t *h)
{
  return "linux";
}

static int tb_is_oci(const cow_host_t *h)
{
  return 1;
}

static void tb_host_close(cow_host_t *h)
{
  host_tb(h)->closes++;
}

static void tb_host_fini(cow_host_t *h)
{
  host_tb(h)->finis++;
}

const struct cow_host_ops tb_host_ops = {
    .version = COW_HOST_OPS_VERSION,
    .name = "test",
    .priv_size = sizeof(struct tb_host),
    .close = tb_host_close,
    .fini = tb_host_fini,
    .process_ops = &tb_process_ops,
    .create_process = tb_create_process,
    .os = tb_os,
    .is_oci = tb_is_oci,
    .open_process = tb_open_process,
};

int tb_host_new(cow_host_t **out, uv_loop_t *loop, struct tb *tb)
{
  int rc = cow_host_new(out, loop, &tb_host_ops);
  if (rc == 0)
    ((struct tb_host *)cow_host_priv(*out))->tb = tb;
  return rc;
}

/* ---- container ---- */

static struct tb *ctb(cow_container_t *c)
{
  return ((struct tb_container *)cow_container_priv(c))->tb;
}

static int tb_start(cow_container_t *c, cow_op_t *op)
{
  return act(ctb(c), TB_START, op);
}
static int tb_shutdown(cow_container_t *c, cow_op_t *op)
{
  return act(ctb(c), TB_SHUTDOWN, op);
}
static int tb_terminate(cow_container_t *c, cow_op_t *op)
{
  return act(ctb(c), TB_TERMINATE, op);
}
static int tb_properties(cow_container_t *c, const char *q, cow_op_t *op)
{
  if (ctb(c)->mode == TB_COMPLETE_OK)
    cow_op_set_json(op, "{\"ProcessList\":[]}");
  return act(ctb(c), TB_PROPERTIES, op);
}
static int tb_properties_v2(cow_container_t *c, const char *q, cow_op_t *op)
{
  if (ctb(c)->mode == TB_COMPLETE_OK)
    cow_op_set_json(op, "{\"Statistics\":{}}");
  return act(ctb(c), TB_PROPERTIES_V2, op);
}
static int tb_modify(cow_container_t *c, const char *r, cow_op_t *op)
{
  return act(ctb(c), TB_MODIFY, op);
}
static int tb_pause(cow_container_t *c, cow_op_t *op)
{
  return act(ctb(c), TB_PAUSE, op);
}
static int tb_resume(cow_container_t *c, cow_op_t *op)
{
  return act(ctb(c), TB_RESUME, op);
}
static void tb_container_close(cow_container_t *c)
{
  struct tb *tb = ctb(c);
  tb->closes++;
  for (int i = 0; i < tb->npending;) {
    if (cow_op_abandoned(tb->pending[i])) {
      cow_op_complete(tb->pending[i], COW_ECANCELED, NULL);
      memmove(tb->pending + i, tb->pending + i + 1,
              sizeof tb->pending[0] * (size_t)(--tb->npending - i));
    } else {
      i++;
    }
  }
}
static void tb_container_fini(cow_container_t *c)
{
  ctb(c)->finis++;
}
static void tb_container_timeout(cow_container_t *c, cow_op_t *op)
{
  ctb(c)->timeouts++;
}

const struct cow_container_ops tb_container_ops = {
    .version = COW_CONTAINER_OPS_VERSION,
    .name = "test",
    .priv_size = sizeof(struct tb_container),
    .close = tb_container_close,
    .fini = tb_container_fini,
    .timeout = tb_container_timeout,
    .host_ops = &tb_host_ops,
    .start = tb_start,
    .shutdown = tb_shutdown,
    .terminate = tb_terminate,
    .properties = tb_properties,
    .properties_v2 = tb_properties_v2,
    .modify = tb_modify,
    .pause = tb_pause,
    .resume = tb_resume,
};

int tb_container_new(cow_container_t **out, uv_loop_t *loop, struct tb *tb, const char *id)
{
  int rc = cow_container_new(out, loop, &tb_container_ops, id);
  if (rc == 0)
    ((struct tb_container *)cow_container_priv(*out))->tb = tb;
  return rc;
}

/* ---- foreign-thread exit ---- */

struct exit_msg {
  int64_t code;
};

static void exit_event(void *object, void *payload)
{
  struct exit_msg *m = payload;
  if (object != NULL)
    cow_process_report_exit(object, m->code, NULL);
  free(m);
}

int tb_post_exit(cow_process_t *p, int64_t code)
{
  struct exit_msg *m = malloc(sizeof *m);
  if (m == NULL)
    return COW_ENOMEM;
  m->code = code;
  int rc = cow_event_post(cow_process_event_id(p), exit_event, m);
  if (rc != 0)
    free(m);
  return rc;
}

/* ---- counting allocator ---- */

static atomic_long outstanding;
static atomic_long count;
static atomic_long fail_at = -1;

static int should_fail(void)
{
  atomic_fetch_add(&count, 1);
  long n = atomic_load(&fail_at);
  if (n < 0)
    return 0;
  if (n == 0) {
    atomic_store(&fail_at, -1);
    return 1;
  }
  atomic_store(&fail_at, n - 1);
  return 0;
}

/* A size header keeps realloc and free honest about what they count. */
static void *c_malloc(size_t n)
{
  if (should_fail())
    return NULL;
  void *p = malloc(n);
  if (p)
    atomic_fetch_add(&outstanding, 1);
  return p;
}
static void *c_calloc(size_t a, size_t b)
{
  if (should_fail())
    return NULL;
  void *p = calloc(a, b);
  if (p)
    atomic_fetch_add(&outstanding, 1);
  return p;
}
static void *c_realloc(void *old, size_t n)
{
  if (should_fail())
    return NULL;
  void *p = realloc(old, n);
  if (p && old == NULL)
    atomic_fetch_add(&outstanding, 1);
  return p;
}
static void c_free(void *p)
{
  if (p) {
    atomic_fetch_sub(&outstanding, 1);
    free(p);
  }
}

void tb_alloc_install(void)
{
  cow_replace_allocator(c_malloc, c_realloc, c_calloc, c_free);
}

long tb_alloc_outstanding(void)
{
  return atomic_load(&outstanding);
}

void tb_alloc_fail_at(long n)
{
  atomic_store(&fail_at, n);
}

long tb_alloc_count(void)
{
  return atomic_load(&count);
}

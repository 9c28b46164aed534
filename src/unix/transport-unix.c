/* The AF_UNIX "port directory" transport: port N is the socket file DIR/N. This is the
 * layout of Firecracker's and Cloud Hypervisor's hybrid vsock, so the same code reaches a
 * real GCS in a microVM, and the test peer dials it the same way. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "core/alloc.h"
#include "guest/listener.h"
#include "unix/stream-listen.h"

struct unix_transport {
  char *dir;
};

static int unix_listen(cow_guest_listener_t *l, uv_loop_t *loop, uint32_t port, uv_pipe_t *pipe)
{
  struct unix_transport *t = cow_guest_listener_transport_data(l);
  struct cow__stream_listener *s = cow_guest_listener_priv(l);
  struct sockaddr_un sa;
  memset(&sa, 0, sizeof sa);
  sa.sun_family = AF_UNIX;
  int n = snprintf(sa.sun_path, sizeof sa.sun_path, "%s/%u", t->dir, (unsigned)port);
  if (n < 0 || (size_t)n >= sizeof sa.sun_path || (size_t)n >= sizeof s->path)
    return COW_EINVAL;
  memcpy(s->path, sa.sun_path, (size_t)n + 1);

  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return cow__neg_errno(errno);
  if (bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(fd, 1) != 0) {
    int e = errno;
    if (e != EADDRINUSE)
      unlink(s->path); /* ours if bind succeeded; never remove someone else's socket */
    close(fd);
    return cow__neg_errno(e);
  }
  return cow__stream_listen_fd(s, l, loop, fd, pipe);
}

static void unix_cancel(cow_guest_listener_t *l)
{
  cow__stream_listen_cancel(cow_guest_listener_priv(l));
}

static void unix_release(void *data)
{
  struct unix_transport *t = data;
  cow__free(t->dir);
  cow__free(t);
}

static const struct cow_guest_transport_ops unix_ops = {
    .version = COW_GUEST_TRANSPORT_OPS_VERSION,
    .name = "unix",
    .listener_size = sizeof(struct cow__stream_listener),
    .listen = unix_listen,
    .cancel = unix_cancel,
    .release = unix_release,
};

int cow__transport_unix_new(cow_guest_transport_t **out, const char *dir)
{
  /* "DIR/4294967295" must fit sun_path: refuse a long directory now, not at each listen. */
  struct sockaddr_un sa;
  if (dir == NULL || dir[0] == '\0' || strlen(dir) + 12 > sizeof sa.sun_path)
    return COW_EINVAL;
  struct unix_transport *t = cow__calloc(1, sizeof *t);
  if (t == NULL)
    return COW_ENOMEM;
  t->dir = cow__strdup(dir);
  if (t->dir == NULL) {
    cow__free(t);
    return COW_ENOMEM;
  }
  int rc = cow_guest_transport_new(out, &unix_ops, t);
  if (rc != 0)
    unix_release(t);
  return rc;
}

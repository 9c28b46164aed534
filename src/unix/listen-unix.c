/* The AF_UNIX "port directory": port N is the socket file DIR/N. This is the layout of
 * Firecracker's and Cloud Hypervisor's hybrid vsock, so the same code reaches a real GCS in
 * a microVM, and the test peer dials it the same way. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "cow/error.h"
#include "unix/stream-listen.h"

int cow__stream_listen_unix_dir(const char *dir)
{
  /* "DIR/4294967295" must fit sun_path: refuse a long directory once, not at each listen. */
  struct sockaddr_un sa;
  if (dir == NULL || dir[0] == '\0' || strlen(dir) + 12 > sizeof sa.sun_path)
    return COW_EINVAL;
  return 0;
}

int cow__stream_listen_unix(struct cow__stream_listener *s, uv_loop_t *loop, const char *dir,
                            uint32_t port, uv_pipe_t *client, cow__stream_listen_cb cb)
{
  struct sockaddr_un sa;
  memset(&sa, 0, sizeof sa);
  sa.sun_family = AF_UNIX;
  int n = snprintf(sa.sun_path, sizeof sa.sun_path, "%s/%u", dir, (unsigned)port);
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
  return cow__stream_listen_fd(s, loop, fd, client, cb);
}

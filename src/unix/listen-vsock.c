/* AF_VSOCK (Linux host): listen on VMADDR_CID_ANY:port, the guest dials CID 2. The host
 * never connects a vsock socket: in the GCS protocol the guest is always the client
 * (docs/gcs-bridge-protocol.md §1.1). */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/vm_sockets.h>

#include "unix/stream-listen.h"

int cow__stream_listen_vsock(struct cow__stream_listener *s, uv_loop_t *loop, uint32_t port,
                             uv_pipe_t *client, cow__stream_listen_cb cb)
{
  s->path[0] = '\0';
  int fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return cow__neg_errno(errno);
  struct sockaddr_vm sa;
  memset(&sa, 0, sizeof sa);
  sa.svm_family = AF_VSOCK;
  sa.svm_cid = VMADDR_CID_ANY;
  sa.svm_port = port;
  if (bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(fd, 1) != 0) {
    int e = errno;
    close(fd);
    return cow__neg_errno(e);
  }
  return cow__stream_listen_fd(s, loop, fd, client, cb);
}

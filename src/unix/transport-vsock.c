/* The AF_VSOCK transport (Linux host): listen on VMADDR_CID_ANY:port, the guest dials
 * CID 2. The host never connects a vsock socket: in the GCS protocol the guest is always
 * the client (docs/gcs-bridge-protocol.md §1.1). */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/vm_sockets.h>

#include "guest/listener.h"
#include "unix/stream-listen.h"

static int vsock_listen(cow_guest_listener_t *l, uv_loop_t *loop, uint32_t port, uv_pipe_t *pipe)
{
  struct cow__stream_listener *s = cow_guest_listener_priv(l);
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
  return cow__stream_listen_fd(s, l, loop, fd, pipe);
}

static void vsock_cancel(cow_guest_listener_t *l)
{
  cow__stream_listen_cancel(cow_guest_listener_priv(l));
}

static const struct cow_guest_transport_ops vsock_ops = {
    .version = COW_GUEST_TRANSPORT_OPS_VERSION,
    .name = "vsock",
    .listener_size = sizeof(struct cow__stream_listener),
    .listen = vsock_listen,
    .cancel = vsock_cancel,
    .release = NULL,
};

int cow__transport_vsock_new(cow_guest_transport_t **out)
{
  return cow_guest_transport_new(out, &vsock_ops, NULL);
}

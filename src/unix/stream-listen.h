/* Internal (POSIX): a one-connection listener on a libuv pipe handle, shared by the
 * AF_UNIX port-directory and AF_VSOCK transports. The socket is created, bound and put in
 * the listening state with plain system calls first, so every likely failure happens
 * before a libuv handle exists and can be returned synchronously; libuv's pipe handles
 * then accept on any stream socket. */
#ifndef COW_UNIX_STREAM_LISTEN_H
#define COW_UNIX_STREAM_LISTEN_H

#include <uv.h>

#include "cow/sys/transport.h"

struct cow__stream_listener {
  uv_pipe_t server;
  uv_pipe_t *client; /* the library's pipe, initialised only on accept */
  cow_guest_listener_t *l;
  int result; /* what done reports once the server handle is closed */
  unsigned closing : 1;
  char path[128]; /* AF_UNIX: unlinked when the listener closes; "" otherwise */
};

/* Take over `fd` (bound and listening) and wait for one connection into `client`.
 * Returns 0 (the handle owns fd; done follows) or a negative code (fd is closed). */
int cow__stream_listen_fd(struct cow__stream_listener *s, cow_guest_listener_t *l, uv_loop_t *loop,
                          int fd, uv_pipe_t *client);

void cow__stream_listen_cancel(struct cow__stream_listener *s);

/* errno -> COW_E* (libuv's convention: the negated errno on POSIX). */
static inline int cow__neg_errno(int e)
{
  return -e;
}

#endif

/* Internal (POSIX platform layer): one-connection stream listeners on libuv pipe handles,
 * for the AF_UNIX port directory (listen-unix.c) and AF_VSOCK (listen-vsock.c). The
 * counterpart of src/win/stream-listen.h, with the same names.
 *
 * This layer knows nothing of the guest connection: its caller (the built-in transports,
 * src/guest/transport-builtin.c) embeds a listener, starts it on an address, and hears the
 * outcome through one callback, as libuv's platform code reports to its common layer. The
 * socket is created, bound and put in the listening state with plain system calls first, so
 * every likely failure happens before a libuv handle exists and is returned synchronously;
 * libuv's pipe handles then accept on any stream socket. Thread: the loop's. */
#ifndef COW_UNIX_STREAM_LISTEN_H
#define COW_UNIX_STREAM_LISTEN_H

#include <stdint.h>

#include <uv.h>

struct cow__stream_listener;

/* The outcome of a listen that returned 0: exactly once, on the loop thread, never inside
 * the listen or cancel call. 0: `client` holds the one accepted connection. Negative: the
 * listen failed or was cancelled (COW_ECANCELED), and `client` was not initialised. The
 * listener is no longer used once this is called: its memory may be freed here. */
typedef void (*cow__stream_listen_cb)(struct cow__stream_listener *s, int status);

/* Embedded by the caller; the fields are this file's. */
struct cow__stream_listener {
  uv_pipe_t server;
  uv_pipe_t *client; /* the caller's pipe, initialised only on accept */
  cow__stream_listen_cb cb;
  int result; /* what cb reports once the server handle is closed */
  unsigned closing : 1;
  char path[128]; /* AF_UNIX: unlinked when the listener closes; "" otherwise */
};

/* Listen on the socket file DIR/<port> and accept one connection into `client` (not yet
 * initialised). 0: `cb` follows. Negative: nothing was started and `cb` will not run. */
int cow__stream_listen_unix(struct cow__stream_listener *s, uv_loop_t *loop, const char *dir,
                            uint32_t port, uv_pipe_t *client, cow__stream_listen_cb cb);

/* 0 when `dir` can hold every port's socket file (DIR/4294967295 fits a sockaddr_un),
 * COW_EINVAL when it is NULL, empty or too long. */
int cow__stream_listen_unix_dir(const char *dir);

/* Linux: listen on AF_VSOCK VMADDR_CID_ANY:<port> (the guest dials CID 2); as above. */
int cow__stream_listen_vsock(struct cow__stream_listener *s, uv_loop_t *loop, uint32_t port,
                             uv_pipe_t *client, cow__stream_listen_cb cb);

/* Abandon a listen whose `cb` has not run yet: `cb` runs later with COW_ECANCELED, or with 0
 * if the connection had already been accepted. Idempotent. */
void cow__stream_listen_cancel(struct cow__stream_listener *s);

/* For the address files: take over `fd` (bound and listening) and wait for one connection
 * into `client`. Returns 0 (the handle owns fd; cb follows) or a negative code (fd is closed
 * and s->path, if any, unlinked). */
int cow__stream_listen_fd(struct cow__stream_listener *s, uv_loop_t *loop, int fd,
                          uv_pipe_t *client, cow__stream_listen_cb cb);

/* errno -> COW_E* (libuv's convention: the negated errno on POSIX). */
static inline int cow__neg_errno(int e)
{
  return -e;
}

#endif

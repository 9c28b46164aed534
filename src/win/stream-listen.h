/* Internal (Windows platform layer): one-connection stream listeners on Winsock sockets,
 * for Hyper-V sockets (listen-hvsock.c) and any other stream socket family. The counterpart
 * of src/unix/stream-listen.h, with the same names.
 *
 * This layer knows nothing of the guest connection: its caller (the built-in transports,
 * src/guest/transport-builtin.c) embeds a listener, starts it on an address, and hears the
 * outcome through one callback, as libuv's platform code reports to its common layer.
 *
 * libuv on Windows can carry a socket only in a uv_tcp_t, and only as a connected stream
 * (uv_tcp_open); its listen and accept code assumes IPv4/IPv6. So these listeners use plain
 * Winsock (a non-blocking listening socket watched by a uv_poll_t), accept the one
 * connection themselves and open the caller's uv_tcp_t on it. What differs between socket
 * families is only the address: hvsocket binds (VM id, service id of the port), and the
 * tests bind loopback TCP to run this very code under Wine, which has no AF_HYPERV.
 * Thread: the loop's. */
#ifndef COW_WIN_STREAM_LISTEN_H
#define COW_WIN_STREAM_LISTEN_H

#define WIN32_LEAN_AND_MEAN
#include <winsock2.h>
#include <windows.h>

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
  SOCKET s;
  uv_poll_t poll;
  uv_tcp_t *client; /* the caller's handle, initialised only on accept */
  cow__stream_listen_cb cb;
  int result;
  unsigned closing : 1;
};

/* A socket family and how to name its listening sockets. `arg` is the address's own data
 * (listen-hvsock.c: the VM id); the callbacks run on the loop thread. */
struct cow__winsock_addr {
  const char *name; /* in logs and errors */
  int family, type, protocol;
  /* Fill the address to bind for guest port `port`; return 0 or a COW_E* code. */
  int (*make)(void *arg, uint32_t port, struct sockaddr_storage *sa, int *len);
  /* Told once `s` listens on `port` (a test learns the loopback port here). May be NULL. */
  void (*bound)(void *arg, uint32_t port, SOCKET s);
  /* `arg` is no longer needed (its owner says when). May be NULL. */
  void (*release)(void *arg);
};

/* Listen on `addr` for guest port `port` and accept one connection into `client` (not yet
 * initialised). 0: `cb` follows. Negative: nothing was started and `cb` will not run;
 * COW_EBACKEND_UNAVAILABLE when the machine has no such socket family. */
int cow__stream_listen_winsock(struct cow__stream_listener *s, uv_loop_t *loop,
                               const struct cow__winsock_addr *addr, void *arg, uint32_t port,
                               uv_tcp_t *client, cow__stream_listen_cb cb);

/* Abandon a listen whose `cb` has not run yet: `cb` runs later with COW_ECANCELED, or with 0
 * if the connection had already been accepted. Idempotent. */
void cow__stream_listen_cancel(struct cow__stream_listener *s);

/* Hyper-V sockets (listen-hvsock.c). The address, with the VM id as its `arg`: */
extern const struct cow__winsock_addr cow__hvsock_addr;
/* Parse `vm_id` (a GUID, 8-4-4-4-12 hex digits) into a new `arg` for cow__hvsock_addr,
 * released through cow__hvsock_addr.release. 0, COW_EINVAL or COW_ENOMEM. */
int cow__hvsock_arg_new(void **out, const char *vm_id);
/* The AF_HYPERV address bound for guest port `port` of VM `vm_id` (for tests that pin its
 * bytes). 0 or COW_EINVAL. */
int cow__hvsock_address(const char *vm_id, uint32_t port, struct sockaddr_storage *sa, int *len);

#endif

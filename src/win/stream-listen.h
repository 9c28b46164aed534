/* Internal (Windows): one-connection listeners for the guest transports, on Winsock stream
 * sockets (the counterpart of src/unix/stream-listen.h, which does it with libuv pipes).
 *
 * libuv on Windows can carry a socket only in a uv_tcp_t, and only as a connected stream
 * (uv_tcp_open); its listen and accept code assumes IPv4/IPv6. So these transports listen
 * with plain Winsock (a non-blocking listening socket watched by a uv_poll_t), accept the
 * one connection themselves and hand the library a uv_tcp_t opened on it (the transport
 * ops' `listen_tcp` slot). What differs between transports is only the address: the
 * hvsocket transport binds (VM id, service id of the port), and the tests bind loopback
 * TCP to run this very code under Wine, which has no AF_HYPERV. */
#ifndef COW_WIN_STREAM_LISTEN_H
#define COW_WIN_STREAM_LISTEN_H

#define WIN32_LEAN_AND_MEAN
#include <winsock2.h>
#include <windows.h>

#include <stdint.h>

#include "cow/sys/transport.h"

/* How a Winsock transport makes and names its listening sockets. `arg` is the transport's
 * data; all callbacks run on the loop thread. */
struct cow__winsock_addr {
  const char *name; /* the transport's name in logs and errors */
  int family, type, protocol;
  /* Fill the address to bind for guest port `port`; return 0 or a COW_E* code. */
  int (*make)(void *arg, uint32_t port, struct sockaddr_storage *sa, int *len);
  /* Told once `s` listens on `port` (a test learns the loopback port here). May be NULL. */
  void (*bound)(void *arg, uint32_t port, SOCKET s);
  /* The transport's last reference is gone. May be NULL. */
  void (*release)(void *arg);
};

/* Create a transport listening through `addr` (borrowed; normally static) with `arg`.
 * On failure `arg` is not released. */
int cow__transport_winsock_new(cow_guest_transport_t **out, const struct cow__winsock_addr *addr,
                               void *arg);

/* The AF_HYPERV address the hvsocket transport binds for guest port `port` of VM
 * `vm_id` (transport-hvsock.c; for tests that pin its bytes). 0 or COW_EINVAL. */
int cow__hvsock_address(const char *vm_id, uint32_t port, struct sockaddr_storage *sa, int *len);

#endif

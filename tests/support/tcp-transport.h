/* Test support: guest transports on loopback TCP, for the `listen_tcp` slot of the
 * transport interface (the connection arrives as a uv_tcp_t, as on Windows).
 *
 *   tcpt_new_uv       a user transport written with libuv alone (uv_tcp listen/accept),
 *                     as a shim author would; POSIX and Windows.
 *   tcpt_new_winsock  (Windows) the library's own Winsock listener, i.e. the hvsocket
 *                     transport's code with a loopback address instead of (VM id, service
 *                     id): how the tests run that code under Wine, which has no AF_HYPERV.
 *   tcpt_new_unix_socket_slot  (POSIX) not TCP: the AF_UNIX port directory cow-gcs-peer
 *                     dials, but each connection handed over as a uv_tcp_t, so the peer
 *                     suites and the benchmark can run the socket-stream path too.
 *
 * Guest ports do not fit in TCP's 16 bits, so each listen binds 127.0.0.1:0 and records
 * which TCP port stands for which guest port in a tcpt_map_t; the test's fake guest looks
 * it up and dials. Thread: the map is written and read on the loop thread only. */
#ifndef COW_TESTS_SUPPORT_TCP_TRANSPORT_H
#define COW_TESTS_SUPPORT_TCP_TRANSPORT_H

#include <stdint.h>

#include <uv.h>

#include "cow/guest.h"
#include "cow/sys/transport.h"

#define TCPT_MAP_MAX 256

typedef struct tcpt_map {
  uint32_t guest_port[TCPT_MAP_MAX];
  int tcp_port[TCPT_MAP_MAX];
  int n;
  int listens; /* listens started, cancels included */
} tcpt_map_t;

/* The transport keeps `map` (borrowed; it must outlive the transport). */
int tcpt_new_uv(cow_guest_transport_t **out, tcpt_map_t *map);
#if defined(_WIN32)
int tcpt_new_winsock(cow_guest_transport_t **out, tcpt_map_t *map);
#else
/* `dir` is copied. */
int tcpt_new_unix_socket_slot(cow_guest_transport_t **out, const char *dir);
#endif

/* The TCP port standing for `guest_port` (the latest listen on it), or -1. */
int tcpt_port(const tcpt_map_t *map, uint32_t guest_port);

/* Dial 127.0.0.1:`tcp_port` with a blocking connect and open the socket in `tcp`
 * (uv_tcp_init on `loop` + uv_tcp_open). Returns 0 or a libuv error; on error `tcp` is
 * untouched. */
int tcpt_dial(uv_loop_t *loop, uv_tcp_t *tcp, int tcp_port);

#endif

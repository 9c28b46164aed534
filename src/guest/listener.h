/* Internal: transports and their one-connection listeners (see <cow/sys/transport.h>).
 *
 * The library side of a listen: it allocates the listener (with the transport's state
 * behind it), hands it to the transport, and receives exactly one completion through
 * `done_cb`, after which the listener is freed. Thread: loop thread, except the
 * transport's reference count, which any thread may touch. */
#ifndef COW_GUEST_LISTENER_H
#define COW_GUEST_LISTENER_H

#include <stdint.h>

#include <uv.h>

#include "core/handle.h"
#include "cow/guest.h"
#include "cow/sys/transport.h"

typedef void (*cow__listener_cb)(cow_guest_listener_t *l, int status, void *arg);

/* Start listening on `port`; `slot` receives the accepted connection, as a pipe or a
 * socket stream depending on the transport. `done_cb` runs
 * exactly once (never inside this call) unless a negative code is returned; the listener
 * is freed right after it returns. */
int cow__listener_start(cow_guest_listener_t **out, cow_guest_transport_t *t, uv_loop_t *loop,
                        uint32_t port, union cow__stream *slot, cow__listener_cb done_cb,
                        void *arg);

/* Abandon: done_cb still runs once (COW_ECANCELED, or 0 if the connection had already
 * been accepted). Idempotent. */
void cow__listener_cancel(cow_guest_listener_t *l);

void cow__transport_ref(cow_guest_transport_t *t);

#if defined(_WIN32)
/* A transport listening with the Winsock listener of src/win/stream-listen.h on `addr`
 * (borrowed; normally static) with `arg`, which addr->release gets with the last reference.
 * On failure `arg` is not released. The hvsocket transport is one; the tests make others on
 * loopback TCP (transport-builtin.c). */
struct cow__winsock_addr;
int cow__transport_winsock_new(cow_guest_transport_t **out, const struct cow__winsock_addr *addr,
                               void *arg);
#endif

#endif

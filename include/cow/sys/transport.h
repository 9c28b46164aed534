/** @file cow/sys/transport.h
 * @brief Guest-connection transports.
 *
 * The guest connection (LCOW GCS) needs two things from a transport, both in the form
 * "listen on port N and accept exactly one connection": the bridge (port 0x40000000,
 * before the utility VM boots) and one stdio stream per requested pipe (ports from
 * 0x40000001, before the ExecuteProcess request is written, because the guest dials while
 * it handles that request). In both cases the guest is the client.
 *
 * Built-in transports are created with the constructors in <cow/guest.h> (AF_UNIX port
 * directory, AF_VSOCK on Linux, hvsocket on Windows). A user supplies another one by
 * filling a `struct cow_guest_transport_ops` and calling cow_guest_transport_new().
 *
 * This tier may change in a minor release (see <cow/sys/op.h>).
 */
#ifndef COW_SYS_TRANSPORT_H
#define COW_SYS_TRANSPORT_H

#include <uv.h>

#include "../common.h"
#include "../error.h"

COW_BEGIN_DECLS

/** The newest version of struct cow_guest_transport_ops: what a table written against this header
 * sets. */
#define COW_GUEST_TRANSPORT_OPS_VERSION 2

/** A transport: an ops table plus the user's data. Opaque, reference counted; created by
 *  cow_guest_transport_new() or a built-in constructor, released with
 *  cow_guest_transport_release(). A connection keeps its own reference. */
typedef struct cow_guest_transport_s cow_guest_transport_t;

/** One "listen on a port, accept exactly one connection" request. Opaque; allocated by
 *  the library with `listener_size` bytes of transport state (zeroed). */
typedef struct cow_guest_listener_s cow_guest_listener_t;

/** The transport interface. Slots are only ever appended; `version` says which exist.
 *  A transport fills exactly one of `listen` (its connections are libuv pipes: AF_UNIX,
 *  AF_VSOCK, any descriptor uv_pipe_open() takes) and `listen_tcp` (version 2: its
 *  connections are sockets libuv carries in a uv_tcp_t, which on Windows is every socket
 *  that is not a named pipe, AF_HYPERV included). Everything said of `listen` and its
 *  `pipe` holds for `listen_tcp` and its `tcp`. */
struct cow_guest_transport_ops {
  unsigned int version; /**< COW_GUEST_TRANSPORT_OPS_VERSION */
  const char *name;     /**< for logs and errors ("unix", "vsock", ...) */
  size_t listener_size; /**< bytes of transport state per listener (cow_guest_listener_priv) */

  /** Start listening on `port` on `loop`. When 0 is returned the guest must be able to
   *  dial the port at once. When one connection has been accepted, the transport
   *  initialises `pipe` on `loop` (uv_pipe_init with ipc 0, then uv_accept or
   *  uv_pipe_open), stops listening, and calls cow_guest_listener_done(l, 0). On failure
   *  it leaves `pipe` untouched and calls cow_guest_listener_done(l, status < 0).
   *  A negative return means nothing was started and done will not be called.
   *  Ownership: `pipe` belongs to the library; the transport only initialises it.
   *  Thread: loop thread. */
  int (*listen)(cow_guest_listener_t *l, uv_loop_t *loop, uint32_t port, uv_pipe_t *pipe);

  /** Abandon a listen that has not called done yet: stop listening, release what listen
   *  acquired and then call cow_guest_listener_done() (later, from the loop, once its own
   *  handles are closed; never inside this call) with COW_ECANCELED, or with 0 when the
   *  connection had already been accepted into `pipe`. `pipe` must not be initialised
   *  after cancel. Thread: loop thread. */
  void (*cancel)(cow_guest_listener_t *l);

  /** The transport's last reference is gone: free the user's data. May be NULL. */
  void (*release)(void *data);

  /* ---- version 2 ---- */

  /** As `listen`, but the transport initialises `tcp` (uv_tcp_init on `loop`, then
   *  uv_accept or uv_tcp_open with the connected socket) instead of a pipe. NULL when the
   *  transport fills `listen`. Thread: loop thread. */
  int (*listen_tcp)(cow_guest_listener_t *l, uv_loop_t *loop, uint32_t port, uv_tcp_t *tcp);
  /* version 3 slots are appended below this line, never inserted above it */
};

/** Create a transport from an ops table (version-checked: COW_EVERSION; COW_EINVAL unless
 *  exactly one of listen/listen_tcp and cancel are set) and user data.
 *  Ownership: `ops` must stay valid for the transport's life (normally static); `data` is
 *  handed to ops->release with the last reference. The caller owns one reference.
 *  Thread: any. @retval COW_EINVAL an invalid argument
 *  @retval COW_EVERSION a struct or ops table from a newer library
 *  @retval COW_ENOMEM out of memory
 *  @param out Receives the transport, one reference (NULL on failure).
 *  @param ops The transport ops table (static storage; version-checked: COW_EVERSION).
 *  @param data The transport's own data, handed to its ops; released through the ops' `release`
 *              slot with the last reference.
 *  @return 0 on success, or a negative COW_E* code. */
COW_GUEST_EXTERN int cow_guest_transport_new(cow_guest_transport_t **out,
                                             const struct cow_guest_transport_ops *ops, void *data);

/** The user data of the transport a listener belongs to. Thread: loop thread.
 *  @param l The listener.
 *  @return The transport's data. */
COW_GUEST_EXTERN void *cow_guest_listener_transport_data(const cow_guest_listener_t *l);

/** The listener's transport state (`listener_size` bytes, zeroed), NULL when 0.
 *  Thread: loop thread.
 *  @param l The listener.
 *  @return The listener's transport state, or NULL when `listener_size` is 0. */
COW_GUEST_EXTERN void *cow_guest_listener_priv(const cow_guest_listener_t *l);

/** The port the listener was started on. Thread: loop thread.
 *  @param l The listener.
 *  @return The port. */
COW_GUEST_EXTERN uint32_t cow_guest_listener_port(const cow_guest_listener_t *l);

/** Report the outcome of a listen: exactly once per successful listen() call, from the
 *  loop thread, never inside listen() or cancel(). 0 means `pipe` (or `tcp`) is
 *  initialised and connected. After this call the transport must not touch `l` or `pipe` again.
 *  Thread: loop thread.
 *  @param l The listener.
 *  @param status 0 when the connection was accepted and the stream is ready, or a negative COW_E*
 *                code. */
COW_GUEST_EXTERN void cow_guest_listener_done(cow_guest_listener_t *l, int status);

COW_END_DECLS

#endif /* COW_SYS_TRANSPORT_H */

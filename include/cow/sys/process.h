/** @file cow/sys/process.h
 * @brief Implementing the process interface.
 *
 * A backend fills a `static const struct cow_process_ops`, names it in its host ops
 * (`process_ops`), and reports facts (pid, stdio, exit) through the functions below. The
 * core checks arguments and handle state before any slot runs, so a slot never sees a NULL
 * handle or a closing one. A NULL slot makes the consumer call fail with COW_ENOTSUP
 * (close_stdin excepted, see there).
 *
 * Every slot runs on the loop thread. A slot that returns 0 owns the op and must complete
 * it exactly once with cow_op_complete() (possibly before returning); a slot that returns a
 * negative code must not have completed it: the consumer's call then returns that code.
 */
#ifndef COW_SYS_PROCESS_H
#define COW_SYS_PROCESS_H

#include <uv.h>

#include "../process.h"
#include "op.h"

COW_BEGIN_DECLS

/** The newest version of struct cow_process_ops: what a table written against this header sets. */
#define COW_PROCESS_OPS_VERSION 2

/** The process interface. Slots are only ever appended; `version` says which exist. */
struct cow_process_ops {
  unsigned int version; /**< COW_PROCESS_OPS_VERSION the table was written against */
  const char *name;     /**< backend name for logs and errors ("guest", "hcs2", ...) */
  size_t priv_size;     /**< bytes of backend state allocated with each handle (zeroed) */

  /** Set up backend state; synchronous. On failure leave it safe for `fini`. May be NULL. */
  int (*init)(cow_process_t *p);
  /** Close started: stop work, complete every pending op (any status). Non-blocking.
   *  The core closes stdio itself. May be NULL. */
  void (*close)(cow_process_t *p);
  /** Last reference gone: free what init allocated. May be NULL. */
  void (*fini)(cow_process_t *p);
  /** `op` timed out on the consumer side (already answered with COW_ETIMEDOUT); the backend
   *  may abandon it but still completes it. May be NULL. */
  void (*timeout)(cow_process_t *p, cow_op_t *op);

  /** Forward a stdin close to the service/guest. The core has already flushed and
   *  half-closed the local stdin stream. NULL: there is nothing to forward (success). */
  int (*close_stdin)(cow_process_t *p, cow_op_t *op);
  /** cow_process_resize_console() of a process with a console (the core answers
   *  COW_ENOTTY for the others). */
  int (*resize_console)(cow_process_t *p, uint16_t width, uint16_t height, cow_op_t *op);
  /** cow_process_kill(): complete with 0 when delivered, COW_ESRCH when already gone. */
  int (*kill)(cow_process_t *p, cow_op_t *op);
  /** cow_process_signal(): `options_json` is borrowed for the call (NULL: the backend's
   *  graceful default); status as for `kill`. */
  int (*signal)(cow_process_t *p, const char *options_json, cow_op_t *op);
  /* version 2 slots are appended below this line, never inserted above it */

  /** Forward a stdout or stderr close (`which`) to a service that keeps its own end of the
   *  stream (the HCS), so that the process's next write to it fails (EPIPE) instead of
   *  filling a pipe no one reads. The core has already closed the local stream; it calls
   *  this at most once per close call, only after create succeeded and before the exit was
   *  reported. NULL: closing the local stream is all there is to do (success). */
  int (*close_output)(cow_process_t *p, cow_stdio_t which, cow_op_t *op);
};

/* The functions below are called by backends on the loop thread, except where noted. */

/** The backend state (priv_size bytes, zeroed at creation, max-aligned). Ownership: freed
 *  by the core after `fini`.
 *  @param p The process.
 *  @return The backend state, or NULL when `priv_size` is 0. */
COW_EXTERN void *cow_process_priv(const cow_process_t *p);

/** The id to post foreign-thread events to this process with cow_event_post(); hand this
 *  to DLL callbacks and threads instead of the pointer. Thread: any, once obtained.
 *  @param p The process.
 *  @return The id. */
COW_EXTERN uint64_t cow_process_event_id(const cow_process_t *p);

/** The host that created the process.
 *  @param p The process.
 *  @return The host. */
COW_EXTERN cow_host_t *cow_process_host(const cow_process_t *p);

/** Record the pid once known. Thread: loop thread.
 *  @param p The process.
 *  @param pid The process id in its own namespace. */
COW_EXTERN void cow_process_set_pid(cow_process_t *p, int64_t pid);

/** The core-owned storage for one stdio stream, as a libuv pipe: the backend calls
 *  uv_pipe_init() on the process's loop and then opens (uv_pipe_open) or accepts into it.
 *  Call cow_process_stdio_ready() once it is usable. The core reads, shuts down and closes
 *  it. The storage of a process's three streams is allocated on the first call, so that a
 *  process without stdio carries none: NULL for a bad argument or when that allocation
 *  fails (report COW_ENOMEM). Thread: loop thread.
 *  @param p The process.
 *  @param which Which standard stream.
 *  @return The pipe storage, owned by the core. */
COW_EXTERN uv_pipe_t *cow_process_stdio_pipe(cow_process_t *p, cow_stdio_t which);

/** The same storage as cow_process_stdio_pipe(), as a libuv socket stream: for a backend
 *  whose stream is a socket libuv can only carry in a uv_tcp_t (uv_tcp_init() then
 *  uv_tcp_open() or uv_accept(); on Windows every non-pipe socket, AF_HYPERV included).
 *  Initialise the slot as one kind or the other, never both; the core closes whichever it
 *  finds. NULL for a bad argument or without memory, as cow_process_stdio_pipe(). Thread:
 *  loop thread.
 *  @param p The process.
 *  @param which Which standard stream.
 *  @return The socket storage, owned by the core. */
COW_EXTERN uv_tcp_t *cow_process_stdio_tcp(cow_process_t *p, cow_stdio_t which);

/** Declare the stream for `which` initialised and usable (the create op must not have been
 *  completed yet). Thread: loop thread.
 *  @param p The process.
 *  @param which Which standard stream. */
COW_EXTERN void cow_process_stdio_ready(cow_process_t *p, cow_stdio_t which);

/** Report the exit. `exit_code` is -1 when unknown; `err` (borrowed, may be NULL) says why
 *  no code was obtained (connection lost, ...) and makes waiters fail with err->code.
 *  The core reports it to waiters once stdout and stderr have reached end of file (or the
 *  drain timeout expired). Only the first report counts. Thread: loop thread.
 *  @param p The process.
 *  @param exit_code The exit code, -1 when unknown.
 *  @param err Why no exit code was observed (borrowed and copied), or NULL. */
COW_EXTERN void cow_process_report_exit(cow_process_t *p, int64_t exit_code,
                                        const cow_error_t *err);

/** The backend has evidence that the process is gone (a kill or signal answered "not
 *  found" / "already stopped") but no exit has been reported. If none is reported within
 *  `timeout_ms`, the core reports one itself: exit code -1 and `err` (borrowed, copied; NULL
 *  gives COW_ESRCH "exited without an exit notification"), so waiters are never stranded
 *  by a lost notification (hcsshim force-releases them the same way, after 1 s).
 *  Idempotent; a no-op once the exit was reported. Thread: loop thread.
 *  @param p The process.
 *  @param timeout_ms How long to wait for the real exit notification before releasing the waiters.
 *  @param err The error waiters get if no exit notification arrives in time (borrowed and copied;
 *             may be NULL). */
COW_EXTERN void cow_process_expect_exit(cow_process_t *p, uint64_t timeout_ms,
                                        const cow_error_t *err);

/** Extra references for backend work that outlives a slot call (a threadpool request, a
 *  DLL callback registration). The handle's memory stays valid until the last unref.
 *  @param p The process. */
COW_EXTERN void cow_process_ref(cow_process_t *p);
/** Drop a reference taken with cow_process_ref(). Thread: loop thread.
 *  @param p The process. */
COW_EXTERN void cow_process_unref(cow_process_t *p);

/** 1 once cow_process_close() has been called.
 *  @param p The process.
 *  @return 1 once closing, 0 before. */
COW_EXTERN int cow_process_is_closing(const cow_process_t *p);

COW_END_DECLS

#endif /* COW_SYS_PROCESS_H */

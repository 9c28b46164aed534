/* libcow: the blocking API, for callers without a libuv loop (other runtimes, FFI from
 * Python, Rust, Go).
 *
 * A cow_blocking_t owns a libuv loop running on a thread of its own. Every function below
 * submits the matching asynchronous libcow call to that thread and waits for its callback,
 * up to `timeout_ms` (0: wait as long as it takes). The handles it returns are ordinary
 * libcow handles bound to that private loop: use them only through this header (never with
 * the asynchronous functions, which must run on the loop's thread).
 *
 * Thread: every function is safe to call from any thread, concurrently, except
 * cow_blocking_close(); calls on one handle after its close has begun are invalid.
 * Errors: functions return 0 or a negative COW_E* code; `err` (may be NULL) receives the
 * details and is cleared by the caller with cow_error_clear(). A call that times out
 * returns COW_ETIMEDOUT; the operation itself still runs to completion on the loop thread
 * and its result is discarded (a process created too late is closed for you). */
#ifndef COW_BLOCKING_H
#define COW_BLOCKING_H

#include "alloc.h"
#include "common.h"
#include "error.h"
#include "guest.h"
#include "hcs.h"

COW_BEGIN_DECLS

typedef struct cow_blocking_s cow_blocking_t;

/** Start a private loop thread. Ownership: `*out` is the caller's; end it with
 *  cow_blocking_close(). */
COW_EXTERN int cow_blocking_new(cow_blocking_t **out);

/** Stop the loop thread and free the context (as uv_loop_close(), it refuses while handles
 *  are open). Handles that are still closing (a create that timed
 *  out, a connection that failed) are given about a second to finish.
 *  @retval COW_EBUSY handles created through it are still open (close them first);
 *          nothing was freed. */
COW_EXTERN int cow_blocking_close(cow_blocking_t *b);

/** Run `fn(loop, arg)` on the loop thread and return what it returns: the hook for
 *  backend constructors that have no blocking wrapper yet. `fn` must not block. */
COW_EXTERN int cow_blocking_run(cow_blocking_t *b, int (*fn)(struct uv_loop_s *loop, void *arg),
                                void *arg);

/** Create a compute system through HCS (cow_hcs_create_system()) on the private loop and
 *  wait until it exists (not started: use cow_blocking_container_start()).
 *  Ownership: `*out` is the caller's; close it with cow_blocking_container_close(). The
 *  options and strings are copied before this returns.
 *  @retval COW_ENOTSUP libcow was built without the HCS backends. */
COW_EXTERN int cow_blocking_hcs_create_system(cow_container_t **out, cow_blocking_t *b,
                                              const cow_hcs_options_t *opts, const char *id,
                                              const char *config_json, uint64_t timeout_ms,
                                              cow_error_t *err);

/** Connect to a guest (cow_guest_connect()) on the private loop and wait until the
 *  connection is negotiated, or failed, or `timeout_ms` passed (0: the connection's own
 *  connect timeout). Start the VM from another thread while this waits.
 *  Ownership: `*out` is the caller's; close it with cow_blocking_host_close().
 *  @retval COW_ENOTSUP libcow was built without the guest connection. */
COW_EXTERN int cow_blocking_guest_connect(cow_host_t **out, cow_blocking_t *b,
                                          const cow_guest_options_t *opts, uint64_t timeout_ms,
                                          cow_error_t *err);

/** Create a process on `host` from a backend document (see cow_host_create_process()) and
 *  wait until it runs. Its stdio streams are relayed to descriptors fetched with
 *  cow_blocking_process_stdio().
 *  Ownership: `*out` is the caller's; close it with cow_blocking_process_close(). */
COW_EXTERN int cow_blocking_create_process(cow_process_t **out, cow_blocking_t *b, cow_host_t *host,
                                           const char *config_json, uint64_t timeout_ms,
                                           cow_error_t *err);

/** Hand over the process's stdio as file descriptors: sockets on POSIX, C runtime
 *  descriptors of anonymous pipes on Windows (_read/_write/_close; _get_osfhandle() for the
 *  HANDLE). A stream that was not requested gives -1. Each descriptor is handed out once:
 *  a later call gives -1 for it. Ownership: the caller closes them.
 *  - stdin: write to it; closing it (or shutting down writing) closes the process's stdin
 *    after every byte written before. If the process's stdin refuses bytes (the process
 *    closed it or exited), the relay stops: later writes fail with EPIPE, and
 *    cow_blocking_process_close_stdin() reports how many bytes were not delivered.
 *  - stdout/stderr: read to end of file. The exit is reported once both reached end of file
 *    inside the library, not when you read them, so read them concurrently with a wait
 *    if the output may be large. Closing one early stops that relay and closes the
 *    process's stream too: its next write fails (EPIPE, or SIGPIPE for a Linux process),
 *    as when the reader of a pipe goes away (`cmd | head -1`). */
COW_EXTERN int cow_blocking_process_stdio(int *stdin_fd, int *stdout_fd, int *stderr_fd,
                                          cow_blocking_t *b, cow_process_t *p);

/** The same streams as OS handles, for callers whose C runtime is not libcow's (Python,
 *  .NET, Rust on Windows: descriptors belong to one C runtime): descriptors on POSIX
 *  (exactly what cow_blocking_process_stdio() gives), HANDLEs on Windows (close them with
 *  CloseHandle; msvcrt.open_osfhandle() and the like turn them into a runtime's own).
 *  -1 for a stream not requested or already handed out; shares the "handed out once"
 *  state with cow_blocking_process_stdio(). @retval COW_EIO a handle could not be
 *  duplicated (that stream gives -1). */
COW_EXTERN int cow_blocking_process_stdio_os(intptr_t *in, intptr_t *out, intptr_t *err,
                                             cow_blocking_t *b, cow_process_t *p);

/** Wait for the exit. `*exit_code` as for cow_process_wait_cb. @retval COW_EIO_TIMEOUT
 *  exited (code valid) but stdio did not drain in time. */
COW_EXTERN int cow_blocking_process_wait(int64_t *exit_code, cow_blocking_t *b, cow_process_t *p,
                                         uint64_t timeout_ms, cow_error_t *err);

COW_EXTERN int cow_blocking_process_kill(cow_blocking_t *b, cow_process_t *p, uint64_t timeout_ms,
                                         cow_error_t *err);
COW_EXTERN int cow_blocking_process_signal(cow_blocking_t *b, cow_process_t *p,
                                           const char *options_json, uint64_t timeout_ms,
                                           cow_error_t *err);
/** cow_process_stop(): the signal, then the kill if no exit within `grace_ms`; returns once
 *  the process exited (or the stop failed), at most `timeout_ms` later. `*exit_code` and
 *  `*forced` (either may be NULL) as for cow_process_stop_cb. */
COW_EXTERN int cow_blocking_process_stop(int64_t *exit_code, int *forced, cow_blocking_t *b,
                                         cow_process_t *p, const char *signal_json,
                                         uint64_t grace_ms, uint64_t timeout_ms, cow_error_t *err);
COW_EXTERN int cow_blocking_process_resize_console(cow_blocking_t *b, cow_process_t *p,
                                                   uint16_t width, uint16_t height,
                                                   uint64_t timeout_ms, cow_error_t *err);
/** Close the process's stdin once every byte written to the stdin descriptor before this
 *  call has been handed to the process (what sits unread in the descriptor pair is read
 *  first); writes after it fail with EPIPE. Every close gets the same result.
 *  @retval COW_EPIPE (or the write's own error) bytes written to stdin could not be
 *  delivered; the message says how many. */
COW_EXTERN int cow_blocking_process_close_stdin(cow_blocking_t *b, cow_process_t *p,
                                                uint64_t timeout_ms, cow_error_t *err);
/** The pid, or COW_ENOT_STARTED. */
COW_EXTERN int64_t cow_blocking_process_pid(cow_blocking_t *b, cow_process_t *p);
/** Close the handle (does not kill the process) and wait until it is released. */
COW_EXTERN int cow_blocking_process_close(cow_blocking_t *b, cow_process_t *p);

COW_EXTERN int cow_blocking_container_start(cow_blocking_t *b, cow_container_t *c,
                                            uint64_t timeout_ms, cow_error_t *err);
COW_EXTERN int cow_blocking_container_shutdown(cow_blocking_t *b, cow_container_t *c,
                                               uint64_t timeout_ms, cow_error_t *err);
COW_EXTERN int cow_blocking_container_terminate(cow_blocking_t *b, cow_container_t *c,
                                                uint64_t timeout_ms, cow_error_t *err);
/** cow_container_stop(): shutdown, then terminate if no exit within `grace_ms`; returns once
 *  the container exited (or the stop failed), at most `timeout_ms` later. */
COW_EXTERN int cow_blocking_container_stop(int *forced, cow_blocking_t *b, cow_container_t *c,
                                           uint64_t grace_ms, uint64_t timeout_ms,
                                           cow_error_t *err);
COW_EXTERN int cow_blocking_container_wait(cow_blocking_t *b, cow_container_t *c,
                                           uint64_t timeout_ms, cow_error_t *err);
COW_EXTERN int cow_blocking_container_modify(cow_blocking_t *b, cow_container_t *c,
                                             const char *request_json, uint64_t timeout_ms,
                                             cow_error_t *err);
/** Properties (schema1 when `v2` is 0, schema2 otherwise). Ownership: `*json_out` is the
 *  caller's, released with cow_free(). */
COW_EXTERN int cow_blocking_container_properties(char **json_out, cow_blocking_t *b,
                                                 cow_container_t *c, int v2, const char *query_json,
                                                 uint64_t timeout_ms, cow_error_t *err);
COW_EXTERN int cow_blocking_container_close(cow_blocking_t *b, cow_container_t *c);
COW_EXTERN int cow_blocking_host_close(cow_blocking_t *b, cow_host_t *h);

COW_END_DECLS

#endif /* COW_BLOCKING_H */

/** @file cow/blocking.h
 * @brief The blocking API, for callers without a libuv loop (other runtimes, FFI from
 *
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
 * and its result is discarded (a process created too late is closed for you).
 */
#ifndef COW_BLOCKING_H
#define COW_BLOCKING_H

#include "alloc.h"
#include "common.h"
#include "error.h"
#include "guest.h"
#include "hcs.h"

COW_BEGIN_DECLS

/** A blocking context: a private libuv loop on a thread of its own. Opaque; created by
 *  cow_blocking_new(), ended by cow_blocking_close(). */
typedef struct cow_blocking_s cow_blocking_t;

/** Start a private loop thread. Ownership: `*out` is the caller's; end it with
 *  cow_blocking_close().
 *  @param out Receives the blocking context (NULL on failure).
 *  @return 0 on success, or a negative COW_E* code. */
COW_EXTERN int cow_blocking_new(cow_blocking_t **out);

/** Stop the loop thread and free the context (as uv_loop_close(), it refuses while handles
 *  are open). Handles that are still closing (a create that timed
 *  out, a connection that failed) are given about a second to finish.
 *  @retval COW_EBUSY handles created through it are still open (close them first);
 *          nothing was freed.
 *  @param b The blocking context the handle was created through.
 *  @return 0 on success, or a negative COW_E* code. */
COW_EXTERN int cow_blocking_close(cow_blocking_t *b);

/** Run `fn(loop, arg)` on the loop thread and return what it returns: the hook for
 *  backend constructors that have no blocking wrapper yet. `fn` must not block.
 *  @param b The blocking context the handle was created through.
 *  @param fn The function to run on the loop thread; it must not block.
 *  @param arg Handed to @p fn unchanged.
 *  @return What @p fn returned, or a negative COW_E* code when it could not be run. */
COW_EXTERN int cow_blocking_run(cow_blocking_t *b, int (*fn)(struct uv_loop_s *loop, void *arg),
                                void *arg);

/** Create a compute system through HCS (cow_hcs_create_system()) on the private loop and
 *  wait until it exists (not started: use cow_blocking_container_start()).
 *  Ownership: `*out` is the caller's; close it with cow_blocking_container_close(). The
 *  options and strings are copied before this returns.
 *  @retval COW_ENOTSUP libcow was built without the HCS backends.
 *  @param out Receives the container handle (NULL on failure).
 *  @param b The blocking context the handle was created through.
 *  @param opts The options, copied before the call returns (see cow_hcs_create_system()).
 *  @param id The id, UTF-8; copied.
 *  @param config_json The backend configuration document, UTF-8 JSON; copied.
 *  @param timeout_ms How long to wait, in milliseconds; 0: as long as it takes. After a timeout the
 *                    operation still completes on the loop thread and its result is discarded.
 *  @param err Receives the error details on failure (may be NULL; the caller clears it with
 *             cow_error_clear()).
 *  @return 0 on success, or a negative COW_E* code. */
COW_EXTERN int cow_blocking_hcs_create_system(cow_container_t **out, cow_blocking_t *b,
                                              const cow_hcs_options_t *opts, const char *id,
                                              const char *config_json, uint64_t timeout_ms,
                                              cow_error_t *err);

/** Connect to a guest (cow_guest_connect()) on the private loop and wait until the
 *  connection is negotiated, or failed, or `timeout_ms` passed (0: the connection's own
 *  connect timeout). Start the VM from another thread while this waits.
 *  Ownership: `*out` is the caller's; close it with cow_blocking_host_close().
 *  @retval COW_ENOTSUP libcow was built without the guest connection.
 *  @param out Receives the host handle (NULL on failure).
 *  @param b The blocking context the handle was created through.
 *  @param opts The options, copied before the call returns (see cow_guest_connect()).
 *  @param timeout_ms How long to wait, in milliseconds; 0: as long as it takes. After a timeout the
 *                    operation still completes on the loop thread and its result is discarded.
 *  @param err Receives the error details on failure (may be NULL; the caller clears it with
 *             cow_error_clear()).
 *  @return 0 on success, or a negative COW_E* code. */
COW_EXTERN int cow_blocking_guest_connect(cow_host_t **out, cow_blocking_t *b,
                                          const cow_guest_options_t *opts, uint64_t timeout_ms,
                                          cow_error_t *err);

/** Create a process on `host` from a backend document (see cow_host_create_process()) and
 *  wait until it runs. Its stdio streams are relayed to descriptors fetched with
 *  cow_blocking_process_stdio().
 *  Ownership: `*out` is the caller's; close it with cow_blocking_process_close().
 *  @param out Receives the process handle (NULL on failure).
 *  @param b The blocking context the handle was created through.
 *  @param host The host: a guest connection or a container's host view.
 *  @param config_json The backend configuration document, UTF-8 JSON; copied.
 *  @param timeout_ms How long to wait, in milliseconds; 0: as long as it takes. After a timeout the
 *                    operation still completes on the loop thread and its result is discarded.
 *  @param err Receives the error details on failure (may be NULL; the caller clears it with
 *             cow_error_clear()).
 *  @return 0 on success, or a negative COW_E* code. */
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
 *    as when the reader of a pipe goes away (`cmd | head -1`).
 *  @param stdin_fd Receives the descriptor to write the process's stdin to (-1: not requested or
 *                  already handed out).
 *  @param stdout_fd Receives the descriptor to read the process's stdout from (-1: not requested or
 *                   already handed out).
 *  @param stderr_fd Receives the descriptor to read the process's stderr from (-1: not requested or
 *                   already handed out).
 *  @param b The blocking context the handle was created through.
 *  @param p The process.
 *  @return 0 on success, or a negative COW_E* code. */
COW_EXTERN int cow_blocking_process_stdio(int *stdin_fd, int *stdout_fd, int *stderr_fd,
                                          cow_blocking_t *b, cow_process_t *p);

/** The same streams as OS handles, for callers whose C runtime is not libcow's (Python,
 *  .NET, Rust on Windows: descriptors belong to one C runtime): descriptors on POSIX
 *  (exactly what cow_blocking_process_stdio() gives), HANDLEs on Windows (close them with
 *  CloseHandle; msvcrt.open_osfhandle() and the like turn them into a runtime's own).
 *  -1 for a stream not requested or already handed out; shares the "handed out once"
 *  state with cow_blocking_process_stdio(). @retval COW_EIO a handle could not be
 *  duplicated (that stream gives -1).
 *  @param in Receives stdin as an OS handle (-1: not requested or already handed out).
 *  @param out Receives stdout as an OS handle (-1: not requested or already handed out).
 *  @param err Receives stderr as an OS handle (-1: not requested or already handed out).
 *  @param b The blocking context the handle was created through.
 *  @param p The process.
 *  @return 0 on success, or a negative COW_E* code. */
COW_EXTERN int cow_blocking_process_stdio_os(intptr_t *in, intptr_t *out, intptr_t *err,
                                             cow_blocking_t *b, cow_process_t *p);

/** Wait for the exit. `*exit_code` as for cow_process_wait_cb. @retval COW_EIO_TIMEOUT see the
 * description exited (code valid) but stdio did not drain in time.
 *  @param exit_code Receives the exit code, as for cow_process_wait_cb (may be NULL where the
 *                   description says so).
 *  @param b The blocking context the handle was created through.
 *  @param p The process.
 *  @param timeout_ms How long to wait, in milliseconds; 0: as long as it takes. After a timeout the
 *                    operation still completes on the loop thread and its result is discarded.
 *  @param err Receives the error details on failure (may be NULL; the caller clears it with
 *             cow_error_clear()).
 *  @return 0 on success, or a negative COW_E* code. */
COW_EXTERN int cow_blocking_process_wait(int64_t *exit_code, cow_blocking_t *b, cow_process_t *p,
                                         uint64_t timeout_ms, cow_error_t *err);

/** cow_process_kill() on the private loop, waiting for its completion: status 0 when the kill
 *  was delivered, COW_ESRCH when the process had already exited.
 *  @param b The blocking context the handle was created through.
 *  @param p The process.
 *  @param timeout_ms How long to wait, in milliseconds; 0: as long as it takes. After a timeout the
 *                    operation still completes on the loop thread and its result is discarded.
 *  @param err Receives the error details on failure (may be NULL; the caller clears it with
 *             cow_error_clear()).
 *  @return 0 on success, or a negative COW_E* code. */
COW_EXTERN int cow_blocking_process_kill(cow_blocking_t *b, cow_process_t *p, uint64_t timeout_ms,
                                         cow_error_t *err);
/** cow_process_signal() on the private loop, waiting for its completion. `options_json` is
 *  copied; NULL means the backend's graceful default.
 *  @param b The blocking context the handle was created through.
 *  @param p The process.
 *  @param options_json The signal document, UTF-8 JSON, copied (cow_signal_options_json() builds
 *                      one); NULL: the backend's graceful default.
 *  @param timeout_ms How long to wait, in milliseconds; 0: as long as it takes. After a timeout the
 *                    operation still completes on the loop thread and its result is discarded.
 *  @param err Receives the error details on failure (may be NULL; the caller clears it with
 *             cow_error_clear()).
 *  @return 0 on success, or a negative COW_E* code. */
COW_EXTERN int cow_blocking_process_signal(cow_blocking_t *b, cow_process_t *p,
                                           const char *options_json, uint64_t timeout_ms,
                                           cow_error_t *err);
/** cow_process_stop(): the signal, then the kill if no exit within `grace_ms`; returns once
 *  the process exited (or the stop failed), at most `timeout_ms` later. `*exit_code` and
 *  `*forced` (either may be NULL) as for cow_process_stop_cb.
 *  @param exit_code Receives the exit code, as for cow_process_wait_cb (may be NULL where the
 *                   description says so).
 *  @param forced Receives 1 when the forced request was needed, 0 otherwise (may be NULL).
 *  @param b The blocking context the handle was created through.
 *  @param p The process.
 *  @param signal_json The signal document of the graceful step, copied; NULL: the backend's
 *                     graceful default.
 *  @param grace_ms Milliseconds to wait for an exit after the graceful request before forcing; 0:
 *                  force at once, without the graceful request.
 *  @param timeout_ms How long to wait, in milliseconds; 0: as long as it takes. After a timeout the
 *                    operation still completes on the loop thread and its result is discarded.
 *  @param err Receives the error details on failure (may be NULL; the caller clears it with
 *             cow_error_clear()).
 *  @return 0 on success, or a negative COW_E* code. */
COW_EXTERN int cow_blocking_process_stop(int64_t *exit_code, int *forced, cow_blocking_t *b,
                                         cow_process_t *p, const char *signal_json,
                                         uint64_t grace_ms, uint64_t timeout_ms, cow_error_t *err);
/** cow_process_resize_console() on the private loop, waiting for its completion.
 *  COW_ENOTTY: the process has no console.
 *  @param b The blocking context the handle was created through.
 *  @param p The process.
 *  @param width The console width in columns.
 *  @param height The console height in rows.
 *  @param timeout_ms How long to wait, in milliseconds; 0: as long as it takes. After a timeout the
 *                    operation still completes on the loop thread and its result is discarded.
 *  @param err Receives the error details on failure (may be NULL; the caller clears it with
 *             cow_error_clear()).
 *  @return 0 on success, or a negative COW_E* code. */
COW_EXTERN int cow_blocking_process_resize_console(cow_blocking_t *b, cow_process_t *p,
                                                   uint16_t width, uint16_t height,
                                                   uint64_t timeout_ms, cow_error_t *err);
/** Close the process's stdin once every byte written to the stdin descriptor before this
 *  call has been handed to the process (what sits unread in the descriptor pair is read
 *  first); writes after it fail with EPIPE. Every close gets the same result.
 *  @retval COW_EPIPE (or the write's own error) bytes written to stdin could not be
 *  delivered; the message says how many.
 *  @param b The blocking context the handle was created through.
 *  @param p The process.
 *  @param timeout_ms How long to wait, in milliseconds; 0: as long as it takes. After a timeout the
 *                    operation still completes on the loop thread and its result is discarded.
 *  @param err Receives the error details on failure (may be NULL; the caller clears it with
 *             cow_error_clear()).
 *  @return 0 on success, or a negative COW_E* code. */
COW_EXTERN int cow_blocking_process_close_stdin(cow_blocking_t *b, cow_process_t *p,
                                                uint64_t timeout_ms, cow_error_t *err);
/** The pid, or COW_ENOT_STARTED.
 *  @param b The blocking context the handle was created through.
 *  @param p The process.
 *  @return The pid, or COW_ENOT_STARTED before the process runs. */
COW_EXTERN int64_t cow_blocking_process_pid(cow_blocking_t *b, cow_process_t *p);
/** Close the handle (does not kill the process) and wait until it is released.
 *  @param b The blocking context the handle was created through.
 *  @param p The process.
 *  @return 0 on success, or a negative COW_E* code. */
COW_EXTERN int cow_blocking_process_close(cow_blocking_t *b, cow_process_t *p);

/** cow_container_start() on the private loop, waiting until the container runs or failed.
 *  @param b The blocking context the handle was created through.
 *  @param c The container.
 *  @param timeout_ms How long to wait, in milliseconds; 0: as long as it takes. After a timeout the
 *                    operation still completes on the loop thread and its result is discarded.
 *  @param err Receives the error details on failure (may be NULL; the caller clears it with
 *             cow_error_clear()).
 *  @return 0 on success, or a negative COW_E* code. */
COW_EXTERN int cow_blocking_container_start(cow_blocking_t *b, cow_container_t *c,
                                            uint64_t timeout_ms, cow_error_t *err);
/** cow_container_shutdown() on the private loop: returns once the request was accepted, not
 *  when the container exited (wait for that with cow_blocking_container_wait()).
 *  @param b The blocking context the handle was created through.
 *  @param c The container.
 *  @param timeout_ms How long to wait, in milliseconds; 0: as long as it takes. After a timeout the
 *                    operation still completes on the loop thread and its result is discarded.
 *  @param err Receives the error details on failure (may be NULL; the caller clears it with
 *             cow_error_clear()).
 *  @return 0 on success, or a negative COW_E* code. */
COW_EXTERN int cow_blocking_container_shutdown(cow_blocking_t *b, cow_container_t *c,
                                               uint64_t timeout_ms, cow_error_t *err);
/** cow_container_terminate() on the private loop; as cow_blocking_container_shutdown().
 *  @param b The blocking context the handle was created through.
 *  @param c The container.
 *  @param timeout_ms How long to wait, in milliseconds; 0: as long as it takes. After a timeout the
 *                    operation still completes on the loop thread and its result is discarded.
 *  @param err Receives the error details on failure (may be NULL; the caller clears it with
 *             cow_error_clear()).
 *  @return 0 on success, or a negative COW_E* code. */
COW_EXTERN int cow_blocking_container_terminate(cow_blocking_t *b, cow_container_t *c,
                                                uint64_t timeout_ms, cow_error_t *err);
/** cow_container_stop(): shutdown, then terminate if no exit within `grace_ms`; returns once
 *  the container exited (or the stop failed), at most `timeout_ms` later.
 *  @param forced Receives 1 when the forced request was needed, 0 otherwise (may be NULL).
 *  @param b The blocking context the handle was created through.
 *  @param c The container.
 *  @param grace_ms Milliseconds to wait for an exit after the graceful request before forcing; 0:
 *                  force at once, without the graceful request.
 *  @param timeout_ms How long to wait, in milliseconds; 0: as long as it takes. After a timeout the
 *                    operation still completes on the loop thread and its result is discarded.
 *  @param err Receives the error details on failure (may be NULL; the caller clears it with
 *             cow_error_clear()).
 *  @return 0 on success, or a negative COW_E* code. */
COW_EXTERN int cow_blocking_container_stop(int *forced, cow_blocking_t *b, cow_container_t *c,
                                           uint64_t grace_ms, uint64_t timeout_ms,
                                           cow_error_t *err);
/** Wait for the container to exit (cow_container_wait()). 0: it exited normally; otherwise
 *  the error it exited with, or why no exit was seen.
 *  @param b The blocking context the handle was created through.
 *  @param c The container.
 *  @param timeout_ms How long to wait, in milliseconds; 0: as long as it takes. After a timeout the
 *                    operation still completes on the loop thread and its result is discarded.
 *  @param err Receives the error details on failure (may be NULL; the caller clears it with
 *             cow_error_clear()).
 *  @return 0 on success, or a negative COW_E* code. */
COW_EXTERN int cow_blocking_container_wait(cow_blocking_t *b, cow_container_t *c,
                                           uint64_t timeout_ms, cow_error_t *err);
/** cow_container_modify() on the private loop; `request_json` is copied.
 *  @param b The blocking context the handle was created through.
 *  @param c The container.
 *  @param request_json The request document, UTF-8 JSON; copied.
 *  @param timeout_ms How long to wait, in milliseconds; 0: as long as it takes. After a timeout the
 *                    operation still completes on the loop thread and its result is discarded.
 *  @param err Receives the error details on failure (may be NULL; the caller clears it with
 *             cow_error_clear()).
 *  @return 0 on success, or a negative COW_E* code. */
COW_EXTERN int cow_blocking_container_modify(cow_blocking_t *b, cow_container_t *c,
                                             const char *request_json, uint64_t timeout_ms,
                                             cow_error_t *err);
/** Properties (schema1 when `v2` is 0, schema2 otherwise). Ownership: `*json_out` is the
 *  caller's, released with cow_free().
 *  @param json_out Receives the properties document, released with cow_free() (NULL on failure).
 *  @param b The blocking context the handle was created through.
 *  @param c The container.
 *  @param v2 0: a schema1 query (cow_container_properties()); otherwise schema2
 *            (cow_container_properties_v2()).
 *  @param query_json The query document, UTF-8 JSON, copied; NULL: the backend's default query.
 *  @param timeout_ms How long to wait, in milliseconds; 0: as long as it takes. After a timeout the
 *                    operation still completes on the loop thread and its result is discarded.
 *  @param err Receives the error details on failure (may be NULL; the caller clears it with
 *             cow_error_clear()).
 *  @return 0 on success, or a negative COW_E* code. */
COW_EXTERN int cow_blocking_container_properties(char **json_out, cow_blocking_t *b,
                                                 cow_container_t *c, int v2, const char *query_json,
                                                 uint64_t timeout_ms, cow_error_t *err);
/** Close the container handle (does not stop the container) and wait until it is released.
 *  The handle must not be used afterwards.
 *  @param b The blocking context the handle was created through.
 *  @param c The container.
 *  @return 0 on success, or a negative COW_E* code. */
COW_EXTERN int cow_blocking_container_close(cow_blocking_t *b, cow_container_t *c);
/** Close the host (a guest connection: its processes and containers fail with
 *  COW_EBRIDGE_CLOSED) and wait until it is released. The handle must not be used
 *  afterwards.
 *  @param b The blocking context the handle was created through.
 *  @param h The host: a guest connection or a container's host view.
 *  @return 0 on success, or a negative COW_E* code. */
COW_EXTERN int cow_blocking_host_close(cow_blocking_t *b, cow_host_t *h);

COW_END_DECLS

#endif /* COW_BLOCKING_H */

/** @file cow/blocking.h
 * @brief The blocking API, for callers without a libuv loop (other runtimes, FFI from
 * Python, Rust, Go).
 *
 * A cow_blocking_t owns a libuv loop running on a thread of its own (the loop thread).
 * Every function below hands the matching asynchronous libcow call to that thread and
 * waits for its answer. Every operation of the consumer API has a blocking form here; the
 * handles it returns are ordinary libcow handles bound to the private loop: use them only
 * through this header (never with the asynchronous functions, which must run on the loop
 * thread).
 *
 * Threads. Every function may be called from any thread, concurrently, on the same or
 * different handles, except cow_blocking_close(). Never from the loop thread itself (inside
 * a cow_blocking_run() function): such a call fails at once with COW_EINVALID_STATE
 * instead of waiting for itself.
 *
 * Timeouts. Every call that waits for a backend, a guest or a close takes `timeout_ms`:
 * how long this call waits (0: no limit of its own; the per-operation timeouts of the
 * handle, cow_blocking_*_set_timeout(), and of the backend still apply). When it expires
 * the call returns COW_ETIMEDOUT and the operation goes on to its end on the loop thread,
 * its result discarded: a handle created after its caller gave up is closed for you, and a
 * close that timed out still completes (the handle is gone either way). Two calls differ,
 * because they lend the loop thread the caller's memory: cow_blocking_run() and the guest
 * connects never begin if the loop thread had not begun them when the
 * timeout expired (and once begun, they return only after the lent memory is no longer
 * used). Queries (pid, exit code, state, ids) take no timeout: the loop thread
 * answers them as soon as it gets to them, and it never blocks except inside a
 * cow_blocking_run() function.
 *
 * Ownership and order. Every handle returned is the caller's and is closed exactly once
 * with its close function, even after a failure of the thing it stands for; a close that
 * returned (successfully or with COW_ETIMEDOUT) ends the handle. Closing a handle does not
 * stop what it stands for (hcsshim semantics): stop it first if that is wanted. Close
 * children before their parent: a process before its container or guest connection, a
 * guest container before its connection. A close that breaks this order fails at once
 * with COW_EBUSY (the message says how many handles are still open) and closes nothing;
 * close the children and call it again. A second close of a handle whose close is under
 * way fails with COW_ECLOSING. Any other call on a closed handle is invalid.
 * Strings returned through `char **` are the caller's, released with cow_free().
 *
 * Errors. Functions return 0 or a negative COW_E* code (queries document their result).
 * `err` (may be NULL) is cleared, then receives the details of a failure; the caller
 * clears it with cow_error_clear(). A call on a handle whose guest connection died fails
 * with COW_EBRIDGE_CLOSED and `err` quotes why it died ("the connection to the guest is
 * closed: CAUSE", the cause of cow_blocking_guest_bridge_error()), also where the
 * asynchronous call refused at once with the code alone; on other backends it carries the
 * handle's recorded loss (its wait error).
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

/* ---- the context ---- */

/** Start a private loop thread. Ownership: `*out` is the caller's; end it with
 *  cow_blocking_close(). Thread: any.
 *  @param out Receives the blocking context (NULL on failure).
 *  @return 0 on success, or a negative COW_E* code. */
COW_EXTERN int cow_blocking_new(cow_blocking_t **out);

/** Stop the loop thread and free the context. Like uv_loop_close(), it refuses while
 *  handles it handed out are open (COW_EBUSY at once, nothing freed). Handles still
 *  closing (a create that timed out, a close that timed out, a connection that failed) are
 *  given about a second to finish; a handle made through cow_blocking_run() and left open
 *  makes it fail with COW_EBUSY after that second. Thread: any, but no other call on `b`
 *  may run or follow.
 *  @param b The blocking context.
 *  @return 0 on success, or a negative COW_E* code. */
COW_EXTERN int cow_blocking_close(cow_blocking_t *b);

/** Run `fn(loop, arg)` on the loop thread and return what it returns: the hook for what
 *  has no blocking form (a backend of your own, a libuv handle). `fn` must not block and
 *  must not call this API. If the loop thread has not started `fn` within `timeout_ms`
 *  (0: no limit), `fn` never runs and COW_ETIMEDOUT is returned; once started, the call
 *  returns when `fn` does. Handles `fn` makes are its caller's to close (through `fn`, or
 *  with the close functions below).
 *  @param b The blocking context.
 *  @param fn The function to run on the loop thread; it must not block nor call this API.
 *  @param arg Handed to @p fn unchanged.
 *  @param timeout_ms How long this call waits, in milliseconds; 0: no limit of its own (see
 *         Timeouts above).
 *  @param err Receives the error details on failure (may be NULL; cleared first; the caller clears
 *         it with cow_error_clear()).
 *  @return What @p fn returned, or a negative COW_E* code when it did not run. */
COW_EXTERN int cow_blocking_run(cow_blocking_t *b, int (*fn)(struct uv_loop_s *loop, void *arg),
                                void *arg, uint64_t timeout_ms, cow_error_t *err);

/* ---- constructors. Options and strings are copied before the call returns. ---- */

/** Create a compute system through HCS (cow_hcs_create_system()) and wait until it exists
 *  (created, not started: use cow_blocking_container_start()).
 *  Ownership: `*out` (NULL on failure) is the caller's; close it with
 *  cow_blocking_container_close(). @retval COW_ENOTSUP built without the HCS backends.
 *  @param out Receives the container handle (NULL on failure).
 *  @param b The blocking context.
 *  @param opts The options, copied before the call returns.
 *  @param id The compute system id, UTF-8; copied.
 *  @param config_json The backend configuration document, UTF-8 JSON; copied.
 *  @param timeout_ms How long this call waits, in milliseconds; 0: no limit of its own (see
 *         Timeouts above).
 *  @param err Receives the error details on failure (may be NULL; cleared first; the caller clears
 *         it with cow_error_clear()).
 *  @return 0 on success, or a negative COW_E* code. */
COW_EXTERN int cow_blocking_hcs_create_system(cow_container_t **out, cow_blocking_t *b,
                                              const cow_hcs_options_t *opts, const char *id,
                                              const char *config_json, uint64_t timeout_ms,
                                              cow_error_t *err);

/** Open an existing compute system (cow_hcs_open_system()): a second, independent handle.
 *  Ownership as for cow_blocking_hcs_create_system(). An unknown id is COW_ENOENT.
 *  @param out Receives the container handle (NULL on failure).
 *  @param b The blocking context.
 *  @param opts The options, copied before the call returns.
 *  @param id The compute system id, UTF-8; copied.
 *  @param timeout_ms How long this call waits, in milliseconds; 0: no limit of its own (see
 *         Timeouts above).
 *  @param err Receives the error details on failure (may be NULL; cleared first; the caller clears
 *         it with cow_error_clear()).
 *  @return 0 on success, or a negative COW_E* code. */
COW_EXTERN int cow_blocking_hcs_open_system(cow_container_t **out, cow_blocking_t *b,
                                            const cow_hcs_options_t *opts, const char *id,
                                            uint64_t timeout_ms, cow_error_t *err);

/** Connect to a guest (cow_guest_connect()) and wait until the connection is negotiated,
 *  or failed, or `timeout_ms` passed (0: the connection's own connect timeout). The
 *  listener exists once the loop thread has begun the call: start the VM from another
 *  thread while this waits (the guest may dial before or after). The connection takes its
 *  own reference on the transport: the caller may release its own as soon as this returns.
 *  A call that timed out before the loop thread began it never begins (nothing listens).
 *  Ownership: `*out` (NULL on failure) is the caller's; close it with
 *  cow_blocking_host_close(), after every process and container opened on it.
 *  @retval COW_ENOTSUP built without the guest connection.
 *  @param out Receives the host handle (NULL on failure).
 *  @param b The blocking context.
 *  @param opts The options, copied before the call returns.
 *  @param timeout_ms How long this call waits, in milliseconds; 0: no limit of its own (see
 *         Timeouts above).
 *  @param err Receives the error details on failure (may be NULL; cleared first; the caller clears
 *         it with cow_error_clear()).
 *  @return 0 on success, or a negative COW_E* code. */
COW_EXTERN int cow_blocking_guest_connect(cow_host_t **out, cow_blocking_t *b,
                                          const cow_guest_options_t *opts, uint64_t timeout_ms,
                                          cow_error_t *err);

/** As cow_blocking_guest_connect(), over a socket already connected to the guest (a vsock
 *  or hvsocket connection accepted elsewhere: cow_guest_connect_stream()). The library
 *  takes `sock` in every case, also when the call fails: it is closed with the connection,
 *  or at once. opts->transport (may be NULL) serves stdio only; without it processes have
 *  no stdio pipes. A call that timed out before the loop thread began it never begins (the
 *  socket is closed).
 *  @param out Receives the host handle (NULL on failure).
 *  @param b The blocking context.
 *  @param sock The connected socket: a file descriptor on POSIX, a SOCKET on Windows.
 *  @param opts The options, copied before the call returns.
 *  @param timeout_ms How long this call waits, in milliseconds; 0: no limit of its own (see
 *         Timeouts above).
 *  @param err Receives the error details on failure (may be NULL; cleared first; the caller clears
 *         it with cow_error_clear()).
 *  @return 0 on success, or a negative COW_E* code. */
COW_EXTERN int cow_blocking_guest_connect_socket(cow_host_t **out, cow_blocking_t *b, intptr_t sock,
                                                 const cow_guest_options_t *opts,
                                                 uint64_t timeout_ms, cow_error_t *err);

/** Create container `id` in the guest from its hosted-system document
 *  (cow_guest_create_container()) and wait for the guest's answer. Ownership: `*out` (NULL
 *  on failure) is the caller's; close it with cow_blocking_container_close(), before the
 *  connection.
 *  @param out Receives the container handle (NULL on failure).
 *  @param b The blocking context.
 *  @param host The guest connection.
 *  @param id The container id, UTF-8; copied.
 *  @param config_json The backend configuration document, UTF-8 JSON; copied.
 *  @param timeout_ms How long this call waits, in milliseconds; 0: no limit of its own (see
 *         Timeouts above).
 *  @param err Receives the error details on failure (may be NULL; cleared first; the caller clears
 *         it with cow_error_clear()).
 *  @return 0 on success, or a negative COW_E* code. */
COW_EXTERN int cow_blocking_guest_create_container(cow_container_t **out, cow_blocking_t *b,
                                                   cow_host_t *host, const char *id,
                                                   const char *config_json, uint64_t timeout_ms,
                                                   cow_error_t *err);

/** Attach to container `id` that already exists in the guest (cow_guest_open_container();
 *  nothing is sent). Ownership as for cow_blocking_guest_create_container().
 *  @retval COW_EEXIST the connection already tracks that id.
 *  @param out Receives the container handle (NULL on failure).
 *  @param b The blocking context.
 *  @param host The guest connection.
 *  @param id The container id, UTF-8; copied.
 *  @param err Receives the error details on failure (may be NULL; cleared first; the caller clears
 *         it with cow_error_clear()).
 *  @return 0 on success, or a negative COW_E* code. */
COW_EXTERN int cow_blocking_guest_open_container(cow_container_t **out, cow_blocking_t *b,
                                                 cow_host_t *host, const char *id,
                                                 cow_error_t *err);

/** Create a process on `host` (a guest connection, or cow_container_host() of a
 *  container) from a backend document (see cow_host_create_process()) and wait until it
 *  runs. Its stdio streams are relayed to descriptors fetched with
 *  cow_blocking_process_stdio(). Ownership: `*out` (NULL on failure) is the caller's;
 *  close it with cow_blocking_process_close(), before its container or connection.
 *  @param out Receives the process handle (NULL on failure).
 *  @param b The blocking context.
 *  @param host Where the process runs: a guest connection or cow_container_host() of a container.
 *  @param config_json The backend configuration document, UTF-8 JSON; copied.
 *  @param timeout_ms How long this call waits, in milliseconds; 0: no limit of its own (see
 *         Timeouts above).
 *  @param err Receives the error details on failure (may be NULL; cleared first; the caller clears
 *         it with cow_error_clear()).
 *  @return 0 on success, or a negative COW_E* code. */
COW_EXTERN int cow_blocking_create_process(cow_process_t **out, cow_blocking_t *b, cow_host_t *host,
                                           const char *config_json, uint64_t timeout_ms,
                                           cow_error_t *err);

/** Open a process that runs on `host` but was not created through this context, by its
 *  pid, and wait until it is attached (see cow_host_open_process(): the handle has no
 *  stdio, so cow_blocking_process_stdio() gives -1 for every stream; wait, kill, signal,
 *  stop and the exit queries work as for a created process; closing it never kills it).
 *  Ownership: `*out` (NULL on failure) is the caller's; close it with
 *  cow_blocking_process_close(), before its container or connection.
 *  @retval COW_EINVAL a NULL argument, `pid` < 0 or > UINT32_MAX
 *  @retval COW_ENOENT no such running process @retval COW_ENOTSUP the backend cannot open
 *  processes
 *  @param out Receives the process handle (NULL on failure).
 *  @param b The blocking context.
 *  @param host Where the process runs: a guest connection or cow_container_host() of a container.
 *  @param pid The process id in the host's namespace (what cow_blocking_process_pid() gave the
 *         handle that created it).
 *  @param timeout_ms How long this call waits, in milliseconds; 0: no limit of its own (see
 *         Timeouts above).
 *  @param err Receives the error details on failure (may be NULL; cleared first; the caller clears
 *         it with cow_error_clear()).
 *  @return 0 on success, or a negative COW_E* code. */
COW_EXTERN int cow_blocking_host_open_process(cow_process_t **out, cow_blocking_t *b,
                                              cow_host_t *host, int64_t pid, uint64_t timeout_ms,
                                              cow_error_t *err);

/* ---- processes ---- */

/** Hand over the process's stdio as file descriptors: sockets on POSIX, C runtime
 *  descriptors of anonymous pipes on Windows (_read/_write/_close; _get_osfhandle() for the
 *  HANDLE). A stream that was not requested gives -1. Each descriptor is handed out once:
 *  a later call gives -1 for it; an out-parameter left NULL closes that descriptor.
 *  Ownership: the caller closes them (before or after the process handle).
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
 *         already handed out; NULL: closed).
 *  @param stdout_fd Receives the descriptor to read the process's stdout from (-1: not requested
 *         or already handed out; NULL: closed).
 *  @param stderr_fd Receives the descriptor to read the process's stderr from (-1: not requested
 *         or already handed out; NULL: closed).
 *  @param b The blocking context.
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
 *  @param in Receives the handle to write stdin to (-1: none).
 *  @param out Receives the handle to read stdout from (-1: none).
 *  @param err Receives the handle to read stderr from (-1: none).
 *  @param b The blocking context.
 *  @param p The process.
 *  @return 0 on success, or a negative COW_E* code. */
COW_EXTERN int cow_blocking_process_stdio_os(intptr_t *in, intptr_t *out, intptr_t *err,
                                             cow_blocking_t *b, cow_process_t *p);

/** Wait for the exit (any number of waiters, from any threads). `*exit_code` (may be
 *  NULL) as for cow_process_wait_cb; -1 when no exit was seen (including a timeout).
 *  @retval COW_EIO_TIMEOUT exited (code valid) but stdio did not drain in time.
 *  @param exit_code Receives the exit code (may be NULL).
 *  @param b The blocking context.
 *  @param p The process.
 *  @param timeout_ms How long this call waits, in milliseconds; 0: no limit of its own (see
 *         Timeouts above).
 *  @param err Receives the error details on failure (may be NULL; cleared first; the caller clears
 *         it with cow_error_clear()).
 *  @return 0 on success, or a negative COW_E* code. */
COW_EXTERN int cow_blocking_process_wait(int64_t *exit_code, cow_blocking_t *b, cow_process_t *p,
                                         uint64_t timeout_ms, cow_error_t *err);

/** cow_process_kill(): @retval COW_ESRCH already exited.
 *  @param b The blocking context.
 *  @param p The process.
 *  @param timeout_ms How long this call waits, in milliseconds; 0: no limit of its own (see
 *         Timeouts above).
 *  @param err Receives the error details on failure (may be NULL; cleared first; the caller clears
 *         it with cow_error_clear()).
 *  @return 0 on success, or a negative COW_E* code. */
COW_EXTERN int cow_blocking_process_kill(cow_blocking_t *b, cow_process_t *p, uint64_t timeout_ms,
                                         cow_error_t *err);

/** cow_process_signal(): `options_json` (copied; NULL: the backend's graceful default).
 *  @param b The blocking context.
 *  @param p The process.
 *  @param options_json The signal options document, UTF-8 JSON (NULL: the backend's graceful
 *         default); copied.
 *  @param timeout_ms How long this call waits, in milliseconds; 0: no limit of its own (see
 *         Timeouts above).
 *  @param err Receives the error details on failure (may be NULL; cleared first; the caller clears
 *         it with cow_error_clear()).
 *  @return 0 on success, or a negative COW_E* code. */
COW_EXTERN int cow_blocking_process_signal(cow_blocking_t *b, cow_process_t *p,
                                           const char *options_json, uint64_t timeout_ms,
                                           cow_error_t *err);

/** cow_process_stop(): the signal, then the kill if no exit within `grace_ms`; returns once
 *  the process exited (or the stop failed). `*exit_code` and `*forced` (either may be
 *  NULL) as for cow_process_stop_cb; -1 and 0 when the call failed or timed out.
 *  @param exit_code Receives the exit code (may be NULL).
 *  @param forced Receives whether the forced step was needed (may be NULL).
 *  @param b The blocking context.
 *  @param p The process.
 *  @param signal_json The signal options document (NULL: the backend's graceful default); copied.
 *  @param grace_ms How long to wait for an exit after the graceful step, in milliseconds; 0: the
 *         forced step at once.
 *  @param timeout_ms How long this call waits, in milliseconds; 0: no limit of its own (see
 *         Timeouts above).
 *  @param err Receives the error details on failure (may be NULL; cleared first; the caller clears
 *         it with cow_error_clear()).
 *  @return 0 on success, or a negative COW_E* code. */
COW_EXTERN int cow_blocking_process_stop(int64_t *exit_code, int *forced, cow_blocking_t *b,
                                         cow_process_t *p, const char *signal_json,
                                         uint64_t grace_ms, uint64_t timeout_ms, cow_error_t *err);

/** cow_process_resize_console(). @retval COW_ENOTTY the process has no console.
 *  @param b The blocking context.
 *  @param p The process.
 *  @param width The console width, in columns.
 *  @param height The console height, in rows.
 *  @param timeout_ms How long this call waits, in milliseconds; 0: no limit of its own (see
 *         Timeouts above).
 *  @param err Receives the error details on failure (may be NULL; cleared first; the caller clears
 *         it with cow_error_clear()).
 *  @return 0 on success, or a negative COW_E* code. */
COW_EXTERN int cow_blocking_process_resize_console(cow_blocking_t *b, cow_process_t *p,
                                                   uint16_t width, uint16_t height,
                                                   uint64_t timeout_ms, cow_error_t *err);

/** Close the process's stdin once every byte written to the stdin descriptor before this
 *  call has been handed to the process (what sits unread in the descriptor pair is read
 *  first); writes after it fail with EPIPE. Forwarded to the backend even when no stdin
 *  was requested. Every close gets the same result.
 *  @retval COW_EPIPE (or the write's own error) bytes written to stdin could not be
 *  delivered; the message says how many.
 *  @param b The blocking context.
 *  @param p The process.
 *  @param timeout_ms How long this call waits, in milliseconds; 0: no limit of its own (see
 *         Timeouts above).
 *  @param err Receives the error details on failure (may be NULL; cleared first; the caller clears
 *         it with cow_error_clear()).
 *  @return 0 on success, or a negative COW_E* code. */
COW_EXTERN int cow_blocking_process_close_stdin(cow_blocking_t *b, cow_process_t *p,
                                                uint64_t timeout_ms, cow_error_t *err);

/** Stop relaying stdout (stderr) and close the process's stream: the output is not
 *  wanted. The caller's descriptor, if it has it, reads end of file after what was already
 *  relayed; the process's next write to it fails. Counts as end of file for the exit.
 *  @param b The blocking context.
 *  @param p The process.
 *  @param timeout_ms How long this call waits, in milliseconds; 0: no limit of its own (see
 *         Timeouts above).
 *  @param err Receives the error details on failure (may be NULL; cleared first; the caller clears
 *         it with cow_error_clear()).
 *  @return 0 on success, or a negative COW_E* code. */
COW_EXTERN int cow_blocking_process_close_stdout(cow_blocking_t *b, cow_process_t *p,
                                                 uint64_t timeout_ms, cow_error_t *err);
/** As cow_blocking_process_close_stdout(), for stderr.
 *  @param b The blocking context.
 *  @param p The process.
 *  @param timeout_ms How long this call waits, in milliseconds; 0: no limit of its own (see
 *         Timeouts above).
 *  @param err Receives the error details on failure (may be NULL; cleared first; the caller clears
 *         it with cow_error_clear()).
 *  @return 0 on success, or a negative COW_E* code. */
COW_EXTERN int cow_blocking_process_close_stderr(cow_blocking_t *b, cow_process_t *p,
                                                 uint64_t timeout_ms, cow_error_t *err);

/** Query: the pid (>= 0), or COW_ENOT_STARTED, or COW_EINVAL.
 *  @param b The blocking context.
 *  @param p The process.
 *  @return The pid (>= 0), or a negative COW_E* code. */
COW_EXTERN int64_t cow_blocking_process_pid(cow_blocking_t *b, cow_process_t *p);

/** Query: the exit code once the exit has been reported to waiters.
 *  @retval COW_ENOT_EXITED not exited yet (`*exit_code` untouched).
 *  @param exit_code Receives the exit code.
 *  @param b The blocking context.
 *  @param p The process.
 *  @return 0 on success, or a negative COW_E* code. */
COW_EXTERN int cow_blocking_process_exit_code(int64_t *exit_code, cow_blocking_t *b,
                                              cow_process_t *p);

/** Query: when the exit was observed (cow_process_exit_time(), containerd's exited_at).
 *  @retval COW_ENOT_EXITED not exited yet (`*out` untouched).
 *  @param out Receives the time of the exit.
 *  @param b The blocking context.
 *  @param p The process.
 *  @return 0 on success, or a negative COW_E* code. */
COW_EXTERN int cow_blocking_process_exit_time(cow_timestamp_t *out, cow_blocking_t *b,
                                              cow_process_t *p);

/** cow_process_set_timeout(): one per-operation timeout of this process.
 *  @param b The blocking context.
 *  @param p The process.
 *  @param kind Which timeout.
 *  @param timeout_ms How long this call waits, in milliseconds; 0: no limit of its own (see
 *         Timeouts above).
 *  @return 0 on success, or a negative COW_E* code. */
COW_EXTERN int cow_blocking_process_set_timeout(cow_blocking_t *b, cow_process_t *p,
                                                cow_timeout_kind_t kind, uint64_t timeout_ms);

/** Close the handle (it does not kill the process) and wait until it is released; the
 *  stdio descriptors the caller holds stay valid (their relays end).
 *  @param b The blocking context.
 *  @param p The process.
 *  @param timeout_ms How long this call waits, in milliseconds; 0: no limit of its own (see
 *         Timeouts above).
 *  @param err Receives the error details on failure (may be NULL; cleared first; the caller clears
 *         it with cow_error_clear()).
 *  @return 0 on success, or a negative COW_E* code. */
COW_EXTERN int cow_blocking_process_close(cow_blocking_t *b, cow_process_t *p, uint64_t timeout_ms,
                                          cow_error_t *err);

/* ---- containers and compute systems ---- */

/** cow_container_start().
 *  @param b The blocking context.
 *  @param c The container.
 *  @param timeout_ms How long this call waits, in milliseconds; 0: no limit of its own (see
 *         Timeouts above).
 *  @param err Receives the error details on failure (may be NULL; cleared first; the caller clears
 *         it with cow_error_clear()).
 *  @return 0 on success, or a negative COW_E* code. */
COW_EXTERN int cow_blocking_container_start(cow_blocking_t *b, cow_container_t *c,
                                            uint64_t timeout_ms, cow_error_t *err);
/** cow_container_shutdown(): returns once the request was accepted, not at the exit.
 *  @param b The blocking context.
 *  @param c The container.
 *  @param timeout_ms How long this call waits, in milliseconds; 0: no limit of its own (see
 *         Timeouts above).
 *  @param err Receives the error details on failure (may be NULL; cleared first; the caller clears
 *         it with cow_error_clear()).
 *  @return 0 on success, or a negative COW_E* code. */
COW_EXTERN int cow_blocking_container_shutdown(cow_blocking_t *b, cow_container_t *c,
                                               uint64_t timeout_ms, cow_error_t *err);
/** cow_container_terminate(): as shutdown, forcibly.
 *  @param b The blocking context.
 *  @param c The container.
 *  @param timeout_ms How long this call waits, in milliseconds; 0: no limit of its own (see
 *         Timeouts above).
 *  @param err Receives the error details on failure (may be NULL; cleared first; the caller clears
 *         it with cow_error_clear()).
 *  @return 0 on success, or a negative COW_E* code. */
COW_EXTERN int cow_blocking_container_terminate(cow_blocking_t *b, cow_container_t *c,
                                                uint64_t timeout_ms, cow_error_t *err);
/** cow_container_stop(): shutdown, then terminate if no exit within `grace_ms`; returns once
 *  the container exited (or the stop failed). `*forced` (may be NULL): 0 when failed.
 *  @param forced Receives whether the forced step was needed (may be NULL).
 *  @param b The blocking context.
 *  @param c The container.
 *  @param grace_ms How long to wait for an exit after the graceful step, in milliseconds; 0: the
 *         forced step at once.
 *  @param timeout_ms How long this call waits, in milliseconds; 0: no limit of its own (see
 *         Timeouts above).
 *  @param err Receives the error details on failure (may be NULL; cleared first; the caller clears
 *         it with cow_error_clear()).
 *  @return 0 on success, or a negative COW_E* code. */
COW_EXTERN int cow_blocking_container_stop(int *forced, cow_blocking_t *b, cow_container_t *c,
                                           uint64_t grace_ms, uint64_t timeout_ms,
                                           cow_error_t *err);
/** cow_container_wait(): 0 for a normal exit, the exit error otherwise.
 *  @param b The blocking context.
 *  @param c The container.
 *  @param timeout_ms How long this call waits, in milliseconds; 0: no limit of its own (see
 *         Timeouts above).
 *  @param err Receives the error details on failure (may be NULL; cleared first; the caller clears
 *         it with cow_error_clear()).
 *  @return 0 on success, or a negative COW_E* code. */
COW_EXTERN int cow_blocking_container_wait(cow_blocking_t *b, cow_container_t *c,
                                           uint64_t timeout_ms, cow_error_t *err);
/** cow_container_modify(): a schema2 ModifySettingRequest (HCS) or the guest's
 *  ModifySettings request for the container (copied).
 *  @param b The blocking context.
 *  @param c The container.
 *  @param request_json The request document, UTF-8 JSON; copied.
 *  @param timeout_ms How long this call waits, in milliseconds; 0: no limit of its own (see
 *         Timeouts above).
 *  @param err Receives the error details on failure (may be NULL; cleared first; the caller clears
 *         it with cow_error_clear()).
 *  @return 0 on success, or a negative COW_E* code. */
COW_EXTERN int cow_blocking_container_modify(cow_blocking_t *b, cow_container_t *c,
                                             const char *request_json, uint64_t timeout_ms,
                                             cow_error_t *err);
/** Properties (schema1 when `v2` is 0, schema2 otherwise; `query_json` NULL: the default).
 *  Ownership: `*json_out` (NULL on failure) is the caller's, released with cow_free().
 *  @param json_out Receives the properties document (NULL on failure); release it with cow_free().
 *  @param b The blocking context.
 *  @param c The container.
 *  @param v2 0: schema1 properties, otherwise schema2.
 *  @param query_json The query document, UTF-8 JSON (NULL: the backend default); copied.
 *  @param timeout_ms How long this call waits, in milliseconds; 0: no limit of its own (see
 *         Timeouts above).
 *  @param err Receives the error details on failure (may be NULL; cleared first; the caller clears
 *         it with cow_error_clear()).
 *  @return 0 on success, or a negative COW_E* code. */
COW_EXTERN int cow_blocking_container_properties(char **json_out, cow_blocking_t *b,
                                                 cow_container_t *c, int v2, const char *query_json,
                                                 uint64_t timeout_ms, cow_error_t *err);

/** cow_container_process_list(): the processes running in the container, matched to the
 *  caller's by pid (cow_blocking_process_pid()).
 *  Ownership: `*out` (NULL on failure) is the caller's: one block with its entries and
 *  strings, released with cow_free().
 *  @retval COW_ENOTSUP the backend cannot list processes @retval COW_EPROTOCOL a malformed
 *  answer (`err` names the flaw)
 *  @param out Receives the list (NULL on failure); release it with cow_free().
 *  @param b The blocking context.
 *  @param c The container.
 *  @param timeout_ms How long this call waits, in milliseconds; 0: no limit of its own (see
 *         Timeouts above).
 *  @param err Receives the error details on failure (may be NULL; cleared first; the caller clears
 *         it with cow_error_clear()).
 *  @return 0 on success, or a negative COW_E* code. */
COW_EXTERN int cow_blocking_container_process_list(cow_process_list_t **out, cow_blocking_t *b,
                                                   cow_container_t *c, uint64_t timeout_ms,
                                                   cow_error_t *err);

/** cow_container_statistics(): the container's CPU, memory and process figures (`have`
 *  says which the backend reported).
 *  Ownership: `*out` (NULL on failure) is the caller's, released with cow_free().
 *  @retval COW_ENOTSUP the backend has no statistics @retval COW_EPROTOCOL a malformed
 *  answer (`err` names the flaw)
 *  @param out Receives the statistics (NULL on failure); release them with cow_free().
 *  @param b The blocking context.
 *  @param c The container.
 *  @param timeout_ms How long this call waits, in milliseconds; 0: no limit of its own (see
 *         Timeouts above).
 *  @param err Receives the error details on failure (may be NULL; cleared first; the caller clears
 *         it with cow_error_clear()).
 *  @return 0 on success, or a negative COW_E* code. */
COW_EXTERN int cow_blocking_container_statistics(cow_statistics_t **out, cow_blocking_t *b,
                                                 cow_container_t *c, uint64_t timeout_ms,
                                                 cow_error_t *err);

/** cow_container_pause(): every process of the container stops, keeping its state.
 *  @retval COW_ENOTSUP the backend cannot pause (the guest connection).
 *  @param b The blocking context.
 *  @param c The container.
 *  @param timeout_ms How long this call waits, in milliseconds; 0: no limit of its own (see
 *         Timeouts above).
 *  @param err Receives the error details on failure (may be NULL; cleared first; the caller clears
 *         it with cow_error_clear()).
 *  @return 0 on success, or a negative COW_E* code. */
COW_EXTERN int cow_blocking_container_pause(cow_blocking_t *b, cow_container_t *c,
                                            uint64_t timeout_ms, cow_error_t *err);
/** cow_container_resume(): a paused container runs again.
 *  @param b The blocking context.
 *  @param c The container.
 *  @param timeout_ms How long this call waits, in milliseconds; 0: no limit of its own (see
 *         Timeouts above).
 *  @param err Receives the error details on failure (may be NULL; cleared first; the caller clears
 *         it with cow_error_clear()).
 *  @return 0 on success, or a negative COW_E* code. */
COW_EXTERN int cow_blocking_container_resume(cow_blocking_t *b, cow_container_t *c,
                                             uint64_t timeout_ms, cow_error_t *err);

/** Query: a copy of the container id (cow_free()).
 *  @param id Receives a copy of the id (NULL on failure); release it with cow_free().
 *  @param b The blocking context.
 *  @param c The container.
 *  @return 0 on success, or a negative COW_E* code. */
COW_EXTERN int cow_blocking_container_id(char **id, cow_blocking_t *b, cow_container_t *c);
/** Query: 1 once the container exited, 0 before, or a negative code.
 *  @param b The blocking context.
 *  @param c The container.
 *  @return 1 once exited, 0 before, or a negative COW_E* code. */
COW_EXTERN int cow_blocking_container_exited(cow_blocking_t *b, cow_container_t *c);
/** Query: how the container exited: 0 for a normal exit (`err` cleared), COW_ENOT_EXITED
 *  before the exit (`err` cleared), or its exit error with the details in `err`.
 *  @param b The blocking context.
 *  @param c The container.
 *  @param err Receives the exit error's details (may be NULL; cleared first).
 *  @return 0 for a normal exit, COW_ENOT_EXITED before the exit, otherwise the exit error's code.
 */
COW_EXTERN int cow_blocking_container_wait_error(cow_blocking_t *b, cow_container_t *c,
                                                 cow_error_t *err);
/** Query: when the container's exit was observed (cow_container_exit_time()).
 *  @retval COW_ENOT_EXITED not exited yet (`*out` untouched).
 *  @param out Receives the time of the exit.
 *  @param b The blocking context.
 *  @param c The container.
 *  @return 0 on success, or a negative COW_E* code. */
COW_EXTERN int cow_blocking_container_exit_time(cow_timestamp_t *out, cow_blocking_t *b,
                                                cow_container_t *c);
/** cow_container_set_timeout(): its processes created afterwards inherit it.
 *  @param b The blocking context.
 *  @param c The container.
 *  @param kind Which timeout.
 *  @param timeout_ms How long this call waits, in milliseconds; 0: no limit of its own (see
 *         Timeouts above).
 *  @return 0 on success, or a negative COW_E* code. */
COW_EXTERN int cow_blocking_container_set_timeout(cow_blocking_t *b, cow_container_t *c,
                                                  cow_timeout_kind_t kind, uint64_t timeout_ms);

/** Close the handle (it does not stop the container) and wait until it is released.
 *  @retval COW_EBUSY process handles opened on it are still open (nothing was closed).
 *  @param b The blocking context.
 *  @param c The container.
 *  @param timeout_ms How long this call waits, in milliseconds; 0: no limit of its own (see
 *         Timeouts above).
 *  @param err Receives the error details on failure (may be NULL; cleared first; the caller clears
 *         it with cow_error_clear()).
 *  @return 0 on success, or a negative COW_E* code. */
COW_EXTERN int cow_blocking_container_close(cow_blocking_t *b, cow_container_t *c,
                                            uint64_t timeout_ms, cow_error_t *err);

/* ---- hosts ---- */

/** Query: "linux" or "windows" (static storage), NULL for a bad argument.
 *  @param b The blocking context.
 *  @param h The host.
 *  @return "linux" or "windows" (static storage), or NULL. */
COW_EXTERN const char *cow_blocking_host_os(cow_blocking_t *b, cow_host_t *h);
/** Query: 1 when processes take OCI process specifications (LCOW), 0 otherwise.
 *  @param b The blocking context.
 *  @param h The host.
 *  @return 1 or 0, or a negative COW_E* code. */
COW_EXTERN int cow_blocking_host_is_oci(cow_blocking_t *b, cow_host_t *h);
/** cow_host_set_timeout(): processes created afterwards inherit it.
 *  @param b The blocking context.
 *  @param h The host.
 *  @param kind Which timeout.
 *  @param timeout_ms How long this call waits, in milliseconds; 0: no limit of its own (see
 *         Timeouts above).
 *  @return 0 on success, or a negative COW_E* code. */
COW_EXTERN int cow_blocking_host_set_timeout(cow_blocking_t *b, cow_host_t *h,
                                             cow_timeout_kind_t kind, uint64_t timeout_ms);

/** Close a guest connection (or, for cow_container_host() of a container, that container)
 *  and wait until it is released. For a guest connection, what is still pending on it
 *  completes with COW_EBRIDGE_CLOSED.
 *  @retval COW_EBUSY process or container handles opened on it are still open.
 *  @param b The blocking context.
 *  @param h The host.
 *  @param timeout_ms How long this call waits, in milliseconds; 0: no limit of its own (see
 *         Timeouts above).
 *  @param err Receives the error details on failure (may be NULL; cleared first; the caller clears
 *         it with cow_error_clear()).
 *  @return 0 on success, or a negative COW_E* code. */
COW_EXTERN int cow_blocking_host_close(cow_blocking_t *b, cow_host_t *h, uint64_t timeout_ms,
                                       cow_error_t *err);

/* ---- the guest connection (the calls of <cow/guest.h> on a connection host) ---- */

/** cow_guest_modify(): ModifySettings on the utility VM (e.g. adding the container's
 *  layers: ResourceType "CombinedLayers"); `request_json` copied.
 *  @param b The blocking context.
 *  @param host The guest connection.
 *  @param request_json The request document, UTF-8 JSON; copied.
 *  @param timeout_ms How long this call waits, in milliseconds; 0: no limit of its own (see
 *         Timeouts above).
 *  @param err Receives the error details on failure (may be NULL; cleared first; the caller clears
 *         it with cow_error_clear()).
 *  @return 0 on success, or a negative COW_E* code. */
COW_EXTERN int cow_blocking_guest_modify(cow_blocking_t *b, cow_host_t *host,
                                         const char *request_json, uint64_t timeout_ms,
                                         cow_error_t *err);
/** cow_guest_delete_container_state(): after the container exited and its resources were
 *  released. @retval COW_ENOTSUP the guest does not support it.
 *  @param b The blocking context.
 *  @param host The guest connection.
 *  @param id The container id, UTF-8; copied.
 *  @param timeout_ms How long this call waits, in milliseconds; 0: no limit of its own (see
 *         Timeouts above).
 *  @param err Receives the error details on failure (may be NULL; cleared first; the caller clears
 *         it with cow_error_clear()).
 *  @return 0 on success, or a negative COW_E* code. */
COW_EXTERN int cow_blocking_guest_delete_container_state(cow_blocking_t *b, cow_host_t *host,
                                                         const char *id, uint64_t timeout_ms,
                                                         cow_error_t *err);
/** cow_guest_dump_stacks(): `*text` (NULL on failure) is the caller's (cow_free()).
 *  @retval COW_ENOTSUP the guest does not support it.
 *  @param text Receives the stacks (NULL on failure); release them with cow_free().
 *  @param b The blocking context.
 *  @param host The guest connection.
 *  @param timeout_ms How long this call waits, in milliseconds; 0: no limit of its own (see
 *         Timeouts above).
 *  @param err Receives the error details on failure (may be NULL; cleared first; the caller clears
 *         it with cow_error_clear()).
 *  @return 0 on success, or a negative COW_E* code. */
COW_EXTERN int cow_blocking_guest_dump_stacks(char **text, cow_blocking_t *b, cow_host_t *host,
                                              uint64_t timeout_ms, cow_error_t *err);
/** Query: what the guest negotiated. `*capabilities_json` (may be NULL; NULL before the
 *  connection is up) is a copy of the Capabilities object (cow_free()); `*capability_flags`
 *  the COW_GUEST_CAP_* flags; `*protocol_version` the protocol version (0 before). Any
 *  out-parameter may be NULL. @retval COW_EINVAL `host` is not a guest connection.
 *  @param capabilities_json Receives a copy of the Capabilities object (may be NULL; NULL before
 *         the connection is up); release it with cow_free().
 *  @param capability_flags Receives the COW_GUEST_CAP_* flags (may be NULL).
 *  @param protocol_version Receives the protocol version (may be NULL).
 *  @param b The blocking context.
 *  @param host The guest connection.
 *  @return 0 on success, or a negative COW_E* code. */
COW_EXTERN int cow_blocking_guest_capabilities(char **capabilities_json, unsigned *capability_flags,
                                               int *protocol_version, cow_blocking_t *b,
                                               cow_host_t *host);
/** Query: why the bridge died: 0 while it is alive, otherwise the cause's code with the
 *  details in `err` (see cow_guest_bridge_error()).
 *  @param b The blocking context.
 *  @param host The guest connection.
 *  @param err Receives the cause's details (may be NULL; cleared first).
 *  @return 0 while the bridge is alive, otherwise the cause's code. */
COW_EXTERN int cow_blocking_guest_bridge_error(cow_blocking_t *b, cow_host_t *host,
                                               cow_error_t *err);
/** cow_guest_set_trace_context(): the trace context of the requests written from now on
 *  (strings copied; NULL traceparent clears it). @retval COW_EINVAL malformed.
 *  @param b The blocking context.
 *  @param host The guest connection.
 *  @param traceparent The W3C traceparent (NULL clears the context); copied.
 *  @param tracestate The W3C tracestate (may be NULL); copied.
 *  @return 0 on success, or a negative COW_E* code. */
COW_EXTERN int cow_blocking_guest_set_trace_context(cow_blocking_t *b, cow_host_t *host,
                                                    const char *traceparent,
                                                    const char *tracestate);
/** Query: how a guest container exited ("GracefulExit", "ForcedExit", "UnexpectedExit"),
 *  a copy in `*exit_type` (cow_free()); NULL when no exit notification arrived.
 *  @param exit_type Receives a copy of the exit type (NULL when no exit notification arrived);
 *         release it with cow_free().
 *  @param b The blocking context.
 *  @param c The container.
 *  @return 0 on success, or a negative COW_E* code. */
COW_EXTERN int cow_blocking_guest_container_exit_type(char **exit_type, cow_blocking_t *b,
                                                      cow_container_t *c);

COW_END_DECLS

#endif /* COW_BLOCKING_H */

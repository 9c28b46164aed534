/** @file cow/process.h
 * @brief The process interface (hcsshim cow.Process).
 *
 * The async contract, common to every libcow handle:
 *  - Every function here is called on the thread running the handle's loop.
 *  - An asynchronous function returns 0, and then its callback runs exactly once, later,
 *    on the loop thread, never inside the call; or it returns a negative COW_E* code, and
 *    then its callback never runs.
 *  - A callback's `err` is non-NULL exactly when `status` < 0; it is borrowed for the
 *    duration of the callback.
 *  - Closing is like uv_close(): operations still pending complete with COW_ECANCELED,
 *    then the close callback runs, then the memory is released.
 *  - SIGPIPE: writes to a peer that went away must fail with EPIPE instead of killing the
 *    process, so when the first libcow handle is created and SIGPIPE is still at its
 *    default disposition, the library sets it to SIG_IGN. A handler or disposition the
 *    application installed itself is left alone.
 * Stdio streams are in <cow/stdio.h>, the one consumer header that needs <uv.h>.
 */
#ifndef COW_PROCESS_H
#define COW_PROCESS_H

#include "alloc.h"
#include "common.h"
#include "error.h"

COW_BEGIN_DECLS

/** Completion of an operation on a process (and of cow_host_create_process()). */
typedef void (*cow_process_cb)(cow_process_t *process, int status, const cow_error_t *err,
                               void *data);

/** Completion of a wait.
 *  status 0: the process exited, stdout and stderr reached end of file; `exit_code` is its
 *    exit code. Windows codes are unsigned 32-bit values; those users meet after a forced
 *    end (Windows has no 128+signal, so these codes are how a forced end shows): 1067
 *    (ERROR_PROCESS_ABORTED, a stopped Windows
 *    container's process) and 3221225786 (0xC000013A, CTRL_C_EXIT: a Ctrl-C, or a console
 *    process left without stdin). A Linux process killed by a signal reports what its
 *    backend reports: 128+signal for container processes, 4294967295 (0xFFFFFFFF,
 *    "unknown") for UVM processes of the GCS and for any process whose code could not be
 *    read. cow_process_stop() says whether it had to kill.
 *  status COW_EIO_TIMEOUT: the process exited with `exit_code`, but stdout or stderr did not
 *    reach end of file within the drain timeout (COW_TIMEOUT_STDIO_DRAIN).
 *  other negative status: no exit was observed (closed, connection lost, timed out);
 *    `exit_code` is -1.
 *  With status 0 or COW_EIO_TIMEOUT, cow_process_exit_time() called inside the callback
 *  gives the time the exit was observed: the wait result's exit time, kept out of this
 *  signature so that the ABI stays additive. */
typedef void (*cow_process_wait_cb)(cow_process_t *process, int status, int64_t exit_code,
                                    const cow_error_t *err, void *data);

/** Runs once when a close has finished; the handle is freed right after it returns. */
typedef void (*cow_process_close_cb)(cow_process_t *process, void *data);

/** Close the process handle. Closing does NOT kill the process (hcsshim semantics): kill
 *  it first if that is wanted. Pending operations and waiters complete with COW_ECANCELED,
 *  the stdio streams are closed, then `cb` (may be NULL) runs.
 *  Ownership: the handle must not be used after `cb` runs.
 *  Thread: loop thread. Callback: exactly once when 0 is returned.
 *  @retval COW_EINVAL `process` is NULL. @retval COW_ECLOSING already closing.
 *  @param process The process.
 *  @param cb Runs once when the close has finished, on the loop thread (may be NULL).
 *  @param data User data, handed to @p cb unchanged.
 *  @return 0 on success, or a negative COW_E* code. */
COW_EXTERN int cow_process_close(cow_process_t *process, cow_process_close_cb cb, void *data);

/** Half-close stdin: pending writes are flushed, then the process reads end of file.
 *  Forwarded to the backend even when no stdin stream was requested. Idempotent.
 *  Thread: loop thread. Callback: exactly once when 0 is returned.
 *  @param process The process.
 *  @param cb Completion callback: runs exactly once, later, on the loop thread, when 0 is returned.
 *  @param data User data, handed to @p cb unchanged.
 *  @return 0 on success, or a negative COW_E* code. */
COW_EXTERN int cow_process_close_stdin(cow_process_t *process, cow_process_cb cb, void *data);

/** Stop reading stdout (or stderr) and close the host's end: the output is no longer
 *  wanted. It counts as end of file for the exit ordering. Where the service keeps an end
 *  of its own (HCS: a ModifyProcess CloseHandle StdOut/StdErr request, while the process
 *  runs), it is told too, so that the process's next write fails with EPIPE (SIGPIPE)
 *  rather than blocking on a pipe no one reads; the callback then reports that request's
 *  result (bounded by COW_TIMEOUT_CLOSE_STDIN). Idempotent.
 *  Thread: loop thread. Callback: exactly once when 0 is returned.
 *  @param process The process.
 *  @param cb Completion callback: runs exactly once, later, on the loop thread, when 0 is returned.
 *  @param data User data, handed to @p cb unchanged.
 *  @return 0 on success, or a negative COW_E* code. */
COW_EXTERN int cow_process_close_stdout(cow_process_t *process, cow_process_cb cb, void *data);
/** As cow_process_close_stdout(), for stderr.
 *  @param process The process.
 *  @param cb Completion callback: runs exactly once, later, on the loop thread, when 0 is returned.
 *  @param data User data, handed to @p cb unchanged.
 *  @return 0 on success, or a negative COW_E* code. */
COW_EXTERN int cow_process_close_stderr(cow_process_t *process, cow_process_cb cb, void *data);

/** The process id in its own namespace (the guest's or the emulated system's).
 *  @return the pid (>= 0), or COW_ENOT_STARTED before create completed successfully.
 *  Thread: loop thread.
 *  @param process The process. */
COW_EXTERN int64_t cow_process_pid(const cow_process_t *process);

/** Resize the console of a process created with a console (tty). Resizing a process that
 *  has not started or has exited succeeds and does nothing. Resizes are applied in the
 *  order asked: at most one request per process is in flight; sizes asked meanwhile are
 *  coalesced into the next request, which carries the newest one, and each caller's
 *  callback runs once with the result of the request that served it.
 *  @retval COW_ENOTTY (via the callback or returned) the process has no console.
 *  Thread: loop thread. Callback: exactly once when 0 is returned.
 *  @param process The process.
 *  @param width The console width in columns.
 *  @param height The console height in rows.
 *  @param cb Completion callback: runs exactly once, later, on the loop thread, when 0 is returned.
 *  @param data User data, handed to @p cb unchanged.
 *  @return 0 on success, or a negative COW_E* code. */
COW_EXTERN int cow_process_resize_console(cow_process_t *process, uint16_t width, uint16_t height,
                                          cow_process_cb cb, void *data);

/** Forcibly kill the process. The callback's status is 0 when the kill was delivered,
 *  COW_ESRCH when the process had already exited (not a failure for most callers).
 *  Thread: loop thread. Callback: exactly once when 0 is returned.
 *  @param process The process.
 *  @param cb Completion callback: runs exactly once, later, on the loop thread, when 0 is returned.
 *  @param data User data, handed to @p cb unchanged.
 *  @return 0 on success, or a negative COW_E* code. */
COW_EXTERN int cow_process_kill(cow_process_t *process, cow_process_cb cb, void *data);

/** Send a signal described by a backend options document (UTF-8 JSON, copied): for the
 *  guest connection {"Signal": 15}; for HCS v2 a SignalProcessOptions document. Build it
 *  with cow_signal_options_json() when in doubt. NULL means the backend's default
 *  (a graceful stop). Status as for cow_process_kill().
 *  Thread: loop thread. Callback: exactly once when 0 is returned.
 *  @param process The process.
 *  @param options_json The signal document, UTF-8 JSON, copied (cow_signal_options_json() builds
 *                      one); NULL: the backend's graceful default.
 *  @param cb Completion callback: runs exactly once, later, on the loop thread, when 0 is returned.
 *  @param data User data, handed to @p cb unchanged.
 *  @return 0 on success, or a negative COW_E* code. */
COW_EXTERN int cow_process_signal(cow_process_t *process, const char *options_json,
                                  cow_process_cb cb, void *data);

/** Completion of cow_process_stop(). `status` 0: the process exited (`exit_code` as for a
 *  wait; an exit whose output was cut by the drain timeout counts), `forced` says whether
 *  the kill was needed. Negative: no exit was seen (COW_ECANCELED: the handle was closed;
 *  the kill's own error when the kill failed; COW_ETIMEDOUT: COW_TIMEOUT_STOP ran out, the
 *  message names what never came; a lost connection); `exit_code` is -1 and `err`
 *  (borrowed, non-NULL exactly when `status` < 0) says why. */
typedef void (*cow_process_stop_cb)(cow_process_t *process, int status, int64_t exit_code,
                                    int forced, const cow_error_t *err, void *data);

/** Stop with escalation: send the signal `signal_json` (as cow_process_signal();
 *  NULL: the backend's graceful default), and kill the process if it has not exited
 *  `grace_ms` milliseconds later. A refused signal (COW_ENOTSUP: a GCS utility VM
 *  process; or any error but COW_ESRCH) kills at once; `grace_ms` 0 kills at once without
 *  a signal. The kill is a separate operation, never queued behind the signal. A process
 *  that already exited completes with status 0 and its exit code.
 *  The stop completes only when the exit was seen and the signal and kill it sent were
 *  answered; once the kill was sent (or the exit seen), what is still missing must come
 *  within COW_TIMEOUT_STOP (default 30 s), so the whole stop takes at most `grace_ms`
 *  plus that. @retval COW_EBRIDGE_CLOSED contact with the process was lost.
 *  Ownership: `signal_json` is copied. The stop keeps the handle alive until it is over;
 *  closing the handle completes it with COW_ECANCELED (the process is left as it is).
 *  @retval COW_EINVAL an invalid argument
 *  @retval COW_ECLOSING the handle is closing
 *  @retval COW_ENOMEM (nothing started)
 *  Thread: loop thread. Callback: exactly once when 0 is returned, never inside the call.
 *  @param process The process.
 *  @param signal_json The signal document of the graceful step, copied; NULL: the backend's
 *                     graceful default.
 *  @param grace_ms Milliseconds to wait for an exit after the graceful request before forcing; 0:
 *                  force at once, without the graceful request.
 *  @param cb Completion callback: runs exactly once, later, on the loop thread, when 0 is returned.
 *  @param data User data, handed to @p cb unchanged.
 *  @return 0 on success, or a negative COW_E* code. */
COW_EXTERN int cow_process_stop(cow_process_t *process, const char *signal_json, uint64_t grace_ms,
                                cow_process_stop_cb cb, void *data);

/** The signal document {"Signal":signo} (signo 1..64) that the guest connection and HCS v2
 *  Linux guests take, for cow_process_signal(), cow_process_stop() and the blocking forms.
 *  Ownership: `*out` is the caller's, released with cow_free(); NULL on failure.
 *  @retval COW_EINVAL NULL `out` or signo out of range @retval COW_ENOMEM. Thread: any.
 *  @param out Receives the document, NUL-terminated UTF-8, released with cow_free() (NULL on
 *             failure).
 *  @param signo The signal number, 1 to 64.
 *  @return 0, or a negative COW_E* code. */
COW_EXTERN int cow_signal_options_json(char **out, int signo);

/** Wait for the process to exit. Any number of waiters; each is called exactly once. A
 *  waiter added after the exit is called on the next loop turn with the stored result.
 *  Thread: loop thread. Callback: exactly once when 0 is returned.
 *  @param process The process.
 *  @param cb Completion callback: runs exactly once, later, on the loop thread, when 0 is returned.
 *  @param data User data, handed to @p cb unchanged.
 *  @return 0 on success, or a negative COW_E* code. */
COW_EXTERN int cow_process_wait(cow_process_t *process, cow_process_wait_cb cb, void *data);

/** The exit code, once the exit has been reported to waiters.
 *  @retval COW_ENOT_EXITED not exited (or stdio not yet drained); `*out` untouched.
 *  Thread: loop thread.
 *  @param out Receives the exit code (untouched on failure).
 *  @param process The process.
 *  @return 0 on success, or a negative COW_E* code. */
COW_EXTERN int cow_process_exit_code(int64_t *out, const cow_process_t *process);

/** The wall-clock time at which the exit was observed: when the backend reported it (the
 *  service's exit notification, the guest's wait answer), before stdout and stderr were
 *  drained; what containerd reports as `exited_at`. Available exactly when
 *  cow_process_exit_code() is, so a wait or stop callback with status 0 or
 *  COW_EIO_TIMEOUT can read it inside the callback.
 *  @retval 0 `*out` is set @retval COW_ENOT_EXITED no exit observed (yet); `*out`
 *  untouched @retval COW_EINVAL a NULL argument. Thread: loop thread.
 *  @param out Receives the exit time (untouched on failure).
 *  @param process The process.
 *  @return 0 on success, or a negative COW_E* code. */
COW_EXTERN int cow_process_exit_time(cow_timestamp_t *out, const cow_process_t *process);

/** Set one timeout of this process (see cow_timeout_kind_t). Processes inherit their host's
 *  timeouts at creation; a process shares them with its host until one of the two sets a
 *  different value, which then takes a copy (the only time this call allocates).
 *  Thread: loop thread.
 *  @param process The process.
 *  @param kind Which timeout.
 *  @param timeout_ms The timeout in milliseconds; 0: none.
 *  @return 0 on success, or a negative COW_E* code (COW_ENOMEM: the copy could not be
 *          made; no timeout changed). */
COW_EXTERN int cow_process_set_timeout(cow_process_t *process, cow_timeout_kind_t kind,
                                       uint64_t timeout_ms);

/** Attach user data, untouched by the library. Thread: loop thread.
 *  @param process The process.
 *  @param data The pointer to keep (never dereferenced by the library). */
COW_EXTERN void cow_process_set_data(cow_process_t *process, void *data);
/** The user data set with cow_process_set_data() (NULL until then). Thread: loop thread.
 *  @param process The process.
 *  @return The user data. */
COW_EXTERN void *cow_process_get_data(const cow_process_t *process);

/** The loop the process is bound to. Thread: any.
 *  @param process The process.
 *  @return The loop. */
COW_EXTERN struct uv_loop_s *cow_process_loop(const cow_process_t *process);

COW_END_DECLS

#endif /* COW_PROCESS_H */

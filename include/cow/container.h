/** @file cow/container.h
 * @brief The container interface (hcsshim cow.Container).
 *
 * A container is created by a backend (cow_guest_create_container(), cow_hcs_create_system()
 * and friends) and is also a process host: cow_container_host() gives the view to pass to
 * anything that expects a cow_host_t. The async contract is the one in <cow/process.h>.
 */
#ifndef COW_CONTAINER_H
#define COW_CONTAINER_H

#include "common.h"
#include "error.h"
#include "host.h"

COW_BEGIN_DECLS

/** Completion of an operation on a container (and of its creation). */
typedef void (*cow_container_cb)(cow_container_t *container, int status, const cow_error_t *err,
                                 void *data);

/** Completion of a properties query: `json` (UTF-8, borrowed for the callback) is the
 *  properties document when `status` is 0, NULL otherwise. */
typedef void (*cow_container_json_cb)(cow_container_t *container, int status, const char *json,
                                      const cow_error_t *err, void *data);

/** Runs once when a container close has finished; the handle is freed right after. */
typedef void (*cow_container_close_cb)(cow_container_t *container, void *data);

/** Close the handle. Closing does not stop the container (hcsshim semantics); pending
 *  operations and waiters complete with COW_ECANCELED, then `cb` (may be NULL) runs.
 *  Thread: loop thread. Callback: exactly once when 0 is returned.
 *  @param container The container.
 *  @param cb Runs once when the close has finished, on the loop thread (may be NULL).
 *  @param data User data, handed to @p cb unchanged.
 *  @return 0 on success, or a negative COW_E* code. */
COW_EXTERN int cow_container_close(cow_container_t *container, cow_container_close_cb cb,
                                   void *data);

/** The container id. Ownership: owned by the container, valid until close. Thread: loop thread.
 *  @param container The container.
 *  @return The id (owned by the container, valid until its close callback). */
COW_EXTERN const char *cow_container_id(const cow_container_t *container);

/** Query schema1 properties with a schema1 query document (NULL: the backend default).
 *  Thread: loop thread. Callback: exactly once when 0 is returned.
 *  @param container The container.
 *  @param query_json The query document, UTF-8 JSON, copied; NULL: the backend's default query.
 *  @param cb Completion callback: runs exactly once, later, on the loop thread, when 0 is returned.
 *  @param data User data, handed to @p cb unchanged.
 *  @return 0 on success, or a negative COW_E* code. */
COW_EXTERN int cow_container_properties(cow_container_t *container, const char *query_json,
                                        cow_container_json_cb cb, void *data);

/** Query schema2 properties with a schema2 PropertyQuery document (NULL: the default).
 *  Thread: loop thread. Callback: exactly once when 0 is returned.
 *  @param container The container.
 *  @param query_json The query document, UTF-8 JSON, copied; NULL: the backend's default query.
 *  @param cb Completion callback: runs exactly once, later, on the loop thread, when 0 is returned.
 *  @param data User data, handed to @p cb unchanged.
 *  @return 0 on success, or a negative COW_E* code. */
COW_EXTERN int cow_container_properties_v2(cow_container_t *container, const char *query_json,
                                           cow_container_json_cb cb, void *data);

/** Start the container. Thread: loop thread. Callback: exactly once when 0 is returned.
 *  @param container The container.
 *  @param cb Completion callback: runs exactly once, later, on the loop thread, when 0 is returned.
 *  @param data User data, handed to @p cb unchanged.
 *  @return 0 on success, or a negative COW_E* code. */
COW_EXTERN int cow_container_start(cow_container_t *container, cow_container_cb cb, void *data);

/** Ask the container to stop gracefully. The callback reports that the request was
 *  accepted, not that the container exited: wait for that. "Already stopped" and
 *  "does not exist" answers count as success, and so does a call after the exit was seen;
 *  after a lost connection (the exit reported as COW_EBRIDGE_CLOSED) the call fails at
 *  once with COW_EBRIDGE_CLOSED. Default timeout 30 s (COW_TIMEOUT_SHUTDOWN).
 *  Thread: loop thread. Callback: exactly once when 0 is returned.
 *  @param container The container.
 *  @param cb Completion callback: runs exactly once, later, on the loop thread, when 0 is returned.
 *  @param data User data, handed to @p cb unchanged.
 *  @return 0 on success, or a negative COW_E* code. */
COW_EXTERN int cow_container_shutdown(cow_container_t *container, cow_container_cb cb, void *data);

/** Forcibly stop the container; as cow_container_shutdown() otherwise.
 *  @param container The container.
 *  @param cb Completion callback: runs exactly once, later, on the loop thread, when 0 is returned.
 *  @param data User data, handed to @p cb unchanged.
 *  @return 0 on success, or a negative COW_E* code. */
COW_EXTERN int cow_container_terminate(cow_container_t *container, cow_container_cb cb, void *data);

/** Completion of cow_container_stop(). `status` 0: the container exited (an unexpected
 *  exit too; its error stays available from cow_container_wait_error()), `forced` says
 *  whether the terminate was needed. Negative: no exit was seen (COW_ECANCELED: the handle
 *  was closed; the terminate's own error when it failed; COW_ETIMEDOUT: COW_TIMEOUT_STOP
 *  ran out, the message names what never came; a lost connection), and `err` (borrowed,
 *  non-NULL exactly when `status` < 0) says why. */
typedef void (*cow_container_stop_cb)(cow_container_t *container, int status, int forced,
                                      const cow_error_t *err, void *data);

/** Stop with escalation, as hcsshim and docker stop a container: shut it down gracefully,
 *  and terminate it if it has not exited `grace_ms` milliseconds later. A refused shutdown
 *  terminates at once; `grace_ms` 0 terminates at once without a shutdown. A container
 *  that already exited completes with status 0. The stop keeps the handle alive until it
 *  is over; closing the handle completes it with COW_ECANCELED.
 *  The stop completes only when the exit was seen AND the shutdown and terminate it sent
 *  were answered (a guest agent may send the exit while it still tears the container down
 *  for the shutdown; deleting its state before the answer races that). Once the terminate
 *  was sent or the exit seen, what is still missing must come within COW_TIMEOUT_STOP
 *  (default 30 s): the whole stop takes at most `grace_ms` plus that.
 *  @retval COW_EINVAL an invalid argument
 *  @retval COW_ECLOSING the handle is closing
 *  @retval COW_ENOMEM (nothing started)
 *  @retval COW_EBRIDGE_CLOSED contact with the container was lost
 *  Thread: loop thread. Callback: exactly once when 0 is returned, never inside the call.
 *  @param container The container.
 *  @param grace_ms Milliseconds to wait for an exit after the graceful request before forcing; 0:
 *                  force at once, without the graceful request.
 *  @param cb Completion callback: runs exactly once, later, on the loop thread, when 0 is returned.
 *  @param data User data, handed to @p cb unchanged.
 *  @return 0 on success, or a negative COW_E* code. */
COW_EXTERN int cow_container_stop(cow_container_t *container, uint64_t grace_ms,
                                  cow_container_stop_cb cb, void *data);

/** Wait for the container to exit. Any number of waiters, each called exactly once:
 *  status 0 for a normal exit, the exit error otherwise (also available later from
 *  cow_container_wait_error()), COW_ECANCELED if the handle is closed first.
 *  Thread: loop thread. Callback: exactly once when 0 is returned.
 *  @param container The container.
 *  @param cb Completion callback: runs exactly once, later, on the loop thread, when 0 is returned.
 *  @param data User data, handed to @p cb unchanged.
 *  @return 0 on success, or a negative COW_E* code. */
COW_EXTERN int cow_container_wait(cow_container_t *container, cow_container_cb cb, void *data);

/** 1 once the container has exited (hcsshim WaitChannel closed), 0 otherwise. Thread: loop thread.
 *  @param container The container.
 *  @return 1 once the container has exited, 0 otherwise. */
COW_EXTERN int cow_container_exited(const cow_container_t *container);

/** The error the container exited with: 0 and `out` cleared for a normal exit;
 *  COW_ENOT_EXITED before exit; otherwise the error code, with details copied into `out`
 *  (may be NULL; the caller clears it). Thread: loop thread.
 *  @param container The container.
 *  @param out Receives the details (may be NULL; the caller clears it with cow_error_clear()).
 *  @return 0 for a normal exit, COW_ENOT_EXITED before the exit, otherwise the error code. */
COW_EXTERN int cow_container_wait_error(const cow_container_t *container, cow_error_t *out);

/** The wall-clock time at which the library observed the container's exit (the exit
 *  notification's arrival, or the failure that ended it: a failed create, a lost
 *  connection), for containerd's `exited_at`.
 *  @retval 0 `*out` is set @retval COW_ENOT_EXITED not exited; `*out` untouched
 *  @retval COW_EINVAL a NULL argument. Thread: loop thread.
 *  @param out Receives the exit time (untouched on failure).
 *  @param container The container.
 *  @return 0 on success, or a negative COW_E* code. */
COW_EXTERN int cow_container_exit_time(cow_timestamp_t *out, const cow_container_t *container);

/** Pause the container: every process in it stops running, keeping its state, until
 *  cow_container_resume(). The callback reports that the container is paused (HCS:
 *  HcsPauseComputeSystem completed; the Linux emulator: every process of the system is
 *  stopped). Pausing a container that is not running (not started, already paused,
 *  exited) fails with the backend's answer, usually COW_EINVALID_STATE with the HRESULT.
 *  Processes cannot be created in a paused container. Timeout: COW_TIMEOUT_PAUSE.
 *  @retval COW_ENOTSUP the backend cannot pause (the guest connection: the GCS has no
 *  pause); nothing was started. @retval COW_EINVAL an invalid argument
 *  @retval COW_ECLOSING the handle is closing
 *  @retval COW_ENOMEM out of memory
 *  Thread: loop thread. Callback: exactly once when 0 is returned, never inside the call.
 *  @param container The container.
 *  @param cb Completion callback: runs exactly once, later, on the loop thread, when 0 is returned.
 *  @param data User data, handed to @p cb unchanged.
 *  @return 0 on success, or a negative COW_E* code. */
COW_EXTERN int cow_container_pause(cow_container_t *container, cow_container_cb cb, void *data);

/** Resume a paused container; as cow_container_pause() otherwise (resuming a container
 *  that is not paused fails with the backend's answer, usually COW_EINVALID_STATE).
 *  @param container The container.
 *  @param cb Completion callback: runs exactly once, later, on the loop thread, when 0 is returned.
 *  @param data User data, handed to @p cb unchanged.
 *  @return 0 on success, or a negative COW_E* code. */
COW_EXTERN int cow_container_resume(cow_container_t *container, cow_container_cb cb, void *data);

/** Modify the container with a backend request document (schema2 ModifySettingRequest or
 *  the guest's ModifySettings request), copied.
 *  Thread: loop thread. Callback: exactly once when 0 is returned.
 *  @param container The container.
 *  @param request_json The request document, UTF-8 JSON; copied.
 *  @param cb Completion callback: runs exactly once, later, on the loop thread, when 0 is returned.
 *  @param data User data, handed to @p cb unchanged.
 *  @return 0 on success, or a negative COW_E* code. */
COW_EXTERN int cow_container_modify(cow_container_t *container, const char *request_json,
                                    cow_container_cb cb, void *data);

/** The container as a process host. Ownership: the view lives as long as the container.
 *  Thread: any (it only computes an address; use the view on the loop thread, or through
 *  <cow/blocking.h> for a blocking handle).
 *  @param container The container.
 *  @return The host view (owned by the container, valid as long as it is). */
COW_EXTERN cow_host_t *cow_container_host(cow_container_t *container);

/** Set one timeout of this container; its processes created afterwards inherit it (see
 *  cow_process_set_timeout() for when this allocates). Thread: loop thread.
 *  @param container The container.
 *  @param kind Which timeout.
 *  @param timeout_ms The timeout in milliseconds; 0: none.
 *  @return 0 on success, or a negative COW_E* code (COW_ENOMEM: no timeout changed). */
COW_EXTERN int cow_container_set_timeout(cow_container_t *container, cow_timeout_kind_t kind,
                                         uint64_t timeout_ms);

/** Attach user data, untouched by the library. Thread: loop thread.
 *  @param container The container.
 *  @param data The pointer to keep (never dereferenced by the library). */
COW_EXTERN void cow_container_set_data(cow_container_t *container, void *data);
/** The user data set with cow_container_set_data() (NULL until then). Thread: loop thread.
 *  @param container The container.
 *  @return The user data. */
COW_EXTERN void *cow_container_get_data(const cow_container_t *container);

COW_END_DECLS

#endif /* COW_CONTAINER_H */

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

/* ---- typed process list and statistics ---- */

/** @name Figures a backend reported (bits of cow_process_info_t.have and cow_statistics_t.have)
 *  A figure whose bit is clear was not in the backend's answer: it is 0 and means
 *  "unknown", never "none". @{ */
#define COW_STATS_CPU_TOTAL     0x01u /**< cpu_total_ns */
#define COW_STATS_CPU_KERNEL    0x02u /**< cpu_kernel_ns */
#define COW_STATS_CPU_USER      0x04u /**< cpu_user_ns */
#define COW_STATS_MEMORY_USAGE  0x08u /**< memory_usage_bytes */
#define COW_STATS_MEMORY_LIMIT  0x10u /**< memory_limit_bytes */
#define COW_STATS_PROCESS_COUNT 0x20u /**< process_count */
/** @} */

/** One process of a container (cow_container_process_list()). Allocated by the library
 *  only (callers never allocate it, so members may be appended in a later version). */
typedef struct cow_process_info {
  /** The process id in the container's namespace: the number cow_process_pid() gives for a
   *  process created or opened through libcow on this container, so a caller matches its
   *  own processes by it (HCS: the system's pid; guest connection: the guest's pid). */
  int64_t pid;
  /** The image name (HCS ImageName; the emulator gives the process's command name from
   *  /proc), or NULL when the backend does not say (the guest connection lists pids only).
   *  Owned by the list. */
  const char *image_name;
  unsigned int have;      /**< COW_STATS_CPU_* and COW_STATS_MEMORY_USAGE bits */
  uint64_t cpu_kernel_ns; /**< CPU time in kernel mode, in nanoseconds */
  uint64_t cpu_user_ns;   /**< CPU time in user mode, in nanoseconds */
  /** Memory in use, in bytes (HCS MemoryWorkingSetPrivateBytes). */
  uint64_t memory_usage_bytes;
} cow_process_info_t;

/** The processes of a container: `count` entries in `items`, in the backend's order.
 *  Ownership: one block of memory with its entries and strings; the callback's list is
 *  borrowed for the callback, the blocking form's is released with cow_free(). */
typedef struct cow_process_list {
  size_t count;              /**< number of entries in `items` */
  cow_process_info_t *items; /**< the entries (NULL when `count` is 0) */
} cow_process_list_t;

/** Statistics of a container (cow_container_statistics()). Allocated by the library only
 *  (members may be appended in a later version). */
typedef struct cow_statistics {
  unsigned int have; /**< which figures the backend reported: COW_STATS_* bits */
  /** When the figures were taken: the service's `Timestamp` (HCS), or the host's clock when
   *  the answer arrived when the backend gives none (guest connection). */
  cow_timestamp_t timestamp;
  uint64_t cpu_total_ns;       /**< CPU time of all its processes, in nanoseconds */
  uint64_t cpu_kernel_ns;      /**< of which in kernel mode */
  uint64_t cpu_user_ns;        /**< of which in user mode */
  uint64_t memory_usage_bytes; /**< memory in use, in bytes */
  uint64_t memory_limit_bytes; /**< its limit, in bytes, where the backend knows one */
  uint64_t process_count;      /**< how many processes it runs */
} cow_statistics_t;

/** Completion of cow_container_process_list(): `list` is non-NULL exactly when `status` is
 *  0, and borrowed for the duration of the callback. */
typedef void (*cow_container_process_list_cb)(cow_container_t *container, int status,
                                              const cow_process_list_t *list,
                                              const cow_error_t *err, void *data);

/** Completion of cow_container_statistics(): `stats` is non-NULL exactly when `status` is
 *  0, and borrowed for the duration of the callback. */
typedef void (*cow_container_statistics_cb)(cow_container_t *container, int status,
                                            const cow_statistics_t *stats, const cow_error_t *err,
                                            void *data);

/** List the processes running in the container, parsed from the backend's answer:
 *  HCS v1 and v2 ask for the `ProcessList` property (schema1 PropertyTypes, schema2
 *  PropertyQuery; the emulator lists every process of the system's process tree from /proc);
 *  the guest connection sends GetProperties with a ProcessList query (the guest answers pids
 *  only). The answer is untrusted: a malformed document fails with COW_EPROTOCOL naming what
 *  was wrong, nothing is guessed. Timeout: COW_TIMEOUT_PROPERTIES.
 *  @retval COW_EINVAL a NULL argument @retval COW_ECLOSING
 *  @retval COW_ENOTSUP the backend cannot list processes. Via the callback: COW_EPROTOCOL a
 *  malformed answer; the backend's error.
 *  Thread: loop thread. Callback: exactly once when 0 is returned, never inside the call.
 *  @param container The container.
 *  @param cb Completion callback: runs exactly once, later, on the loop thread, when 0 is returned.
 *  @param data User data, handed to @p cb unchanged.
 *  @return 0 on success, or a negative COW_E* code. */
COW_EXTERN int cow_container_process_list(cow_container_t *container,
                                          cow_container_process_list_cb cb, void *data);

/** Read the container's statistics, parsed from the backend's answer: HCS v1 and v2 ask
 *  for `Statistics` and `ProcessList` (CPU from `Processor`, in 100 ns units, memory from
 *  `Memory.MemoryUsagePrivateWorkingSetBytes`, the count of the list, the `Timestamp`; no
 *  limit); the guest connection asks for `Statistics` and reads the guest's `LCOWMetrics`
 *  (cgroup v1 metrics: `cpu.usage`, `memory.usage`, `pids.current`; a figure the guest
 *  leaves out stays unknown). Figures are never made up: `have` says which arrived.
 *  Malformed answers fail with COW_EPROTOCOL. Timeout: COW_TIMEOUT_PROPERTIES.
 *  @retval COW_EINVAL a NULL argument @retval COW_ECLOSING
 *  @retval COW_ENOTSUP the backend has no statistics. Via the callback: COW_EPROTOCOL a
 *  malformed answer; the backend's error.
 *  Thread: loop thread. Callback: exactly once when 0 is returned, never inside the call.
 *  @param container The container.
 *  @param cb Completion callback: runs exactly once, later, on the loop thread, when 0 is returned.
 *  @param data User data, handed to @p cb unchanged.
 *  @return 0 on success, or a negative COW_E* code. */
COW_EXTERN int cow_container_statistics(cow_container_t *container, cow_container_statistics_cb cb,
                                        void *data);

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

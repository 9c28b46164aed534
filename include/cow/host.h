/** @file cow/host.h
 * @brief The process-host interface (hcsshim cow.ProcessHost).
 *
 * A host runs processes: a guest connection (the GCS in a utility VM) or a container (see
 * cow_container_host()). The async contract is the one described in <cow/process.h>.
 */
#ifndef COW_HOST_H
#define COW_HOST_H

#include "common.h"
#include "error.h"
#include "process.h"

COW_BEGIN_DECLS

/** Completion of an operation on a host. */
typedef void (*cow_host_cb)(cow_host_t *host, int status, const cow_error_t *err, void *data);

/** Runs once when a host close has finished; the handle is freed right after it returns. */
typedef void (*cow_host_close_cb)(cow_host_t *host, void *data);

/** Create a process from a backend configuration document (UTF-8 JSON, copied): for the
 *  guest connection the LCOW process parameters (CommandArgs, Environment,
 *  WorkingDirectory, EmulateConsole, CreateStd*Pipe, OciProcess); for HCS v1 a schema1
 *  ProcessConfig; for HCS v2 schema2 ProcessParameters.
 *
 *  The handle is returned at once in `*out` so that waits can be attached and the process
 *  closed while it is still being created; `cb` reports whether creation succeeded. Either
 *  way the caller owns `*out` and must cow_process_close() it.
 *  Ownership: `*out` belongs to the caller. Thread: loop thread.
 *  Callback: exactly once when 0 is returned (then `*out` is set); when a negative code is
 *  returned `*out` is NULL and nothing was created.
 *  @param out Receives the process handle (NULL on failure).
 *  @param host The host: a guest connection or a container's host view.
 *  @param config_json The backend configuration document, UTF-8 JSON; copied.
 *  @param cb Completion callback: runs exactly once, later, on the loop thread, when 0 is returned.
 *  @param data User data, handed to @p cb unchanged.
 *  @return 0 on success, or a negative COW_E* code. */
COW_EXTERN int cow_host_create_process(cow_process_t **out, cow_host_t *host,
                                       const char *config_json, cow_process_cb cb, void *data);

/** Open a process that runs on this host but was not created through this handle, by its
 *  pid (hcsshim OpenProcess): what a shim needs after a restart, in `delete`, or to follow
 *  the init process of a container it opened. The handle has no stdio (the streams belong
 *  to whoever created the process); wait, kill, signal, stop, resize_console and
 *  close_stdin work as for a created process, and its exit time and code are those the
 *  backend observes from now on. Several handles may be open on one process.
 *
 *  HCS v1/v2: HcsOpenProcess on the system's handle, then the process's exit
 *  notification. A process that has already exited cannot be opened (COW_ENOENT).
 *  Guest connection: see <cow/guest.h> (cow_guest_open_container()).
 *
 *  `*out` is returned at once, as for cow_host_create_process(); `cb` reports whether the
 *  process was found. Either way the caller owns `*out` and must cow_process_close() it;
 *  closing never kills the process. A failed open releases the handle's waiters with the
 *  same error. Timeout: COW_TIMEOUT_CREATE.
 *  @retval COW_EINVAL a NULL argument, `pid` < 0 or > UINT32_MAX
 *  @retval COW_ENOTSUP this backend cannot open processes @retval COW_ECLOSING
 *  @retval COW_ENOMEM out of memory. Via the callback: COW_ENOENT no such running process;
 *  a backend error.
 *  Thread: loop thread. Callback: exactly once when 0 is returned, never inside the call.
 *  @param out Receives the process handle (NULL on failure).
 *  @param host The host: a guest connection or a container's host view.
 *  @param pid The process id in the host's namespace (the guest's or the system's).
 *  @param cb Completion callback: runs exactly once, later, on the loop thread, when 0 is returned.
 *  @param data User data, handed to @p cb unchanged.
 *  @return 0 on success, or a negative COW_E* code. */
COW_EXTERN int cow_host_open_process(cow_process_t **out, cow_host_t *host, int64_t pid,
                                     cow_process_cb cb, void *data);

/** The operating system processes run on: "linux" or "windows".
 *  Ownership: static storage. Thread: loop thread.
 *  @param host The host: a guest connection or a container's host view.
 *  @return "linux" or "windows" (static storage). */
COW_EXTERN const char *cow_host_os(const cow_host_t *host);

/** 1 when processes take OCI process specifications (LCOW), 0 otherwise. Thread: loop thread.
 *  @param host The host: a guest connection or a container's host view.
 *  @return 1 for OCI hosts, 0 otherwise. */
COW_EXTERN int cow_host_is_oci(const cow_host_t *host);

/** Close the host. For a guest connection, every process and container on it fails with
 *  COW_EBRIDGE_CLOSED. For a container's host view, this closes the container.
 *  Thread: loop thread. Callback: exactly once when 0 is returned.
 *  @param host The host: a guest connection or a container's host view.
 *  @param cb Runs once when the close has finished, on the loop thread (may be NULL).
 *  @param data User data, handed to @p cb unchanged.
 *  @return 0 on success, or a negative COW_E* code. */
COW_EXTERN int cow_host_close(cow_host_t *host, cow_host_close_cb cb, void *data);

/** Set one timeout of this host; processes created afterwards inherit it (see
 *  cow_process_set_timeout() for when this allocates). Thread: loop thread.
 *  @param host The host: a guest connection or a container's host view.
 *  @param kind Which timeout.
 *  @param timeout_ms The timeout in milliseconds; 0: none.
 *  @return 0 on success, or a negative COW_E* code (COW_ENOMEM: no timeout changed). */
COW_EXTERN int cow_host_set_timeout(cow_host_t *host, cow_timeout_kind_t kind, uint64_t timeout_ms);

/** Attach user data, untouched by the library. Thread: loop thread.
 *  @param host The host: a guest connection or a container's host view.
 *  @param data The pointer to keep (never dereferenced by the library). */
COW_EXTERN void cow_host_set_data(cow_host_t *host, void *data);
/** The user data set with cow_host_set_data() (NULL until then). Thread: loop thread.
 *  @param host The host: a guest connection or a container's host view.
 *  @return The user data. */
COW_EXTERN void *cow_host_get_data(const cow_host_t *host);

/** The container behind a host view, or NULL when the host is not a container.
 *  @param host The host: a guest connection or a container's host view.
 *  @return The container, or NULL when the host is not a container's host view. */
COW_EXTERN cow_container_t *cow_host_container(cow_host_t *host);

COW_END_DECLS

#endif /* COW_HOST_H */

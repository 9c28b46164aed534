/** @file cow/guest.h
 * @brief The guest connection (LCOW): a process host backed by the GCS agent in a Linux
 *
 * utility VM, reached over a byte stream (the "bridge").
 *
 * A connection is a cow_host_t: cow_host_create_process() runs processes in the utility
 * VM, cow_guest_create_container() creates containers whose host view runs processes in
 * the container. The async contract is the one in <cow/process.h>.
 *
 * Connection loss. When the bridge dies (the guest closed it, sent something malformed,
 * an RPC got no answer within the RPC timeout, a write failed, or the host was closed),
 * every request in flight, every process wait and every container wait completes exactly
 * once with COW_EBRIDGE_CLOSED, whose message carries the cause; so does every create
 * still waiting for its stdio connections. Later calls on the connection and on every
 * process and container of it whose exit had not been seen (kill, signal, resize,
 * close_stdin, shutdown, terminate, stop, ...) fail at once with COW_EBRIDGE_CLOSED, never
 * with "already exited" or success. Such a synchronous refusal is the return code alone,
 * which has no room for the cause: cow_guest_bridge_error() returns it, on the connection
 * or on any host of it (cow_container_host() of a container, cow_process_host() of a
 * process); the cause stays until the connection is closed. (The blocking API puts the
 * cause in its `err` for these refusals too.)
 *
 * Processes. Stdio listeners exist before ExecuteProcess is written; ports are allocated
 * from `first_stdio_port` upward and never reused. A stream the guest has not connected
 * `stdio_timeout_ms` after answering ExecuteProcess fails the create (COW_ETIMEDOUT,
 * naming the stream and port) and its listener is removed. A WaitForProcess with an infinite
 * timeout is sent for every process right after it started. Exit codes are reported as
 * the guest sends them (an unsigned 32-bit value: a UVM process killed by a signal reports
 * 4294967295, a container process 128+signal). Kill/signal answered "not found"
 * (0x80070490) complete with COW_ESRCH. The GCS cannot signal or resize processes that
 * run directly in the utility VM: those calls complete with COW_ENOTSUP.
 *
 * Notifications for containers this connection does not track (closed handles, containers
 * created by someone else) are logged and dropped; they do not kill the bridge (hcsshim
 * treats them as fatal; the guest can legitimately send them).
 */
#ifndef COW_GUEST_H
#define COW_GUEST_H

#include "common.h"
#include "container.h"
#include "error.h"
#include "host.h"

COW_BEGIN_DECLS

/** A transport (see <cow/sys/transport.h> for writing one). Reference counted. */
typedef struct cow_guest_transport_s cow_guest_transport_t;

/** AF_UNIX "port directory" transport: port N is the socket DIR/N (decimal). The host
 *  listens, the guest dials (the convention of Firecracker and Cloud Hypervisor hybrid
 *  vsock). `dir` is copied; DIR/N must fit in sun_path (about 100 bytes).
 *  Ownership: the caller owns one reference (cow_guest_transport_release()).
 *  Thread: any. @retval COW_EINVAL NULL, empty or too long a directory
 *  @retval COW_ENOTSUP on platforms without AF_UNIX stream sockets.
 *  @param out Receives the transport, one reference (NULL on failure).
 *  @param dir The port directory; copied.
 *  @return 0 on success, or a negative COW_E* code. */
COW_GUEST_EXTERN int cow_guest_transport_unix(cow_guest_transport_t **out, const char *dir);

/** AF_VSOCK transport (Linux): listens on VMADDR_CID_ANY:port. It only ever binds and
 *  listens; the guest dials CID 2. Accepted connections are not filtered by peer CID: a
 *  host serving several VMs through one vsock port space must keep their ports apart.
 *  @retval COW_ENOTSUP elsewhere. Thread: any.
 *  @param out Receives the transport, one reference (NULL on failure).
 *  @return 0 on success, or a negative COW_E* code. */
COW_GUEST_EXTERN int cow_guest_transport_vsock(cow_guest_transport_t **out);

/** Hyper-V socket transport (Windows): listens on AF_HYPERV address (VM id `vm_id`, a GUID
 *  string such as the utility VM's runtime id; service id
 *  XXXXXXXX-facb-11e6-bd58-64006a7986d3 with XXXXXXXX = the port), as hcsshim does for
 *  LCOW; the guest dials. Connections are carried in libuv socket streams (uv_tcp_t).
 *  A listen on a machine without Hyper-V sockets fails with COW_EBACKEND_UNAVAILABLE
 *  (logged with the Winsock error); other listen failures return libuv's code for the
 *  Winsock error (e.g. UV_EADDRINUSE; cow_strerror() names those too).
 *  Ownership: the caller owns one reference (cow_guest_transport_release()).
 *  @retval COW_EINVAL NULL `out`, or `vm_id` not 8-4-4-4-12 hex digits
 *  @retval COW_ENOTSUP on other platforms. Thread: any.
 *  @param out Receives the transport, one reference (NULL on failure).
 *  @param vm_id The utility VM's id, a GUID string (8-4-4-4-12 hex digits).
 *  @return 0 on success, or a negative COW_E* code. */
COW_GUEST_EXTERN int cow_guest_transport_hvsock(cow_guest_transport_t **out, const char *vm_id);

/** Drop one reference; the transport is freed with the last one. NULL is allowed.
 *  Thread: any (but not concurrently with a listen on it).
 *  @param transport The transport (NULL is allowed). */
COW_GUEST_EXTERN void cow_guest_transport_release(cow_guest_transport_t *transport);

/** Supplies the W3C `traceparent` (and optionally `tracestate`) for the next request.
 *  Called on the loop thread for every request written; the returned strings are borrowed
 *  and copied at once. Return NULL for "no trace context". */
typedef const char *(*cow_guest_trace_cb)(const char **tracestate, void *data);

/** The version of cow_guest_options_t this header describes. */
#define COW_GUEST_OPTIONS_VERSION 2
/** The vsock port the GCS dials for the bridge (hcsshim's LinuxGcsVsockPort). */
#define COW_GUEST_BRIDGE_PORT 0x40000000u
/** The first port allocated for stdio when the options say 0. */
#define COW_GUEST_FIRST_STDIO_PORT 0x40000001u

/** Options of cow_guest_connect(). Start from COW_GUEST_OPTIONS_INIT (or
 *  cow_guest_options_init()); fields are only ever appended. All pointers are borrowed
 *  for the duration of the call that takes the options, except `trace_data`. */
typedef struct cow_guest_options {
  unsigned int version;             /**< COW_GUEST_OPTIONS_VERSION */
  cow_guest_transport_t *transport; /**< listener factory (bridge and stdio); required
                                         by cow_guest_connect(), for stdio by both */
  uint64_t rpc_timeout_ms;          /**< a synchronous request unanswered this long kills the
                                         bridge: every pending and later request fails with
                                         COW_EBRIDGE_CLOSED, as in hcsshim. 0: the default,
                                         300000 (5 min) */
  uint32_t max_message_size;        /**< largest incoming frame, header included. 0: 65536 */
  uint32_t first_stdio_port;        /**< 0: COW_GUEST_FIRST_STDIO_PORT */
  uint64_t connect_timeout_ms;      /**< accept + negotiate; 0: 120000 (hcsshim: 2 min) */
  cow_guest_trace_cb trace_cb;      /**< trace context provider for RequestBase.otsc, or NULL */
  void *trace_data;                 /**< handed to trace_cb; must outlive the connection */
  /* version 2 */
  uint64_t stdio_timeout_ms; /**< once ExecuteProcess is answered, how long the guest may take
                                  to connect the stdio streams it was asked for (the real agent
                                  connects them before it answers); the create then fails with
                                  COW_ETIMEDOUT naming the stream. 0: the default, 30000 */
} cow_guest_options_t;

/** The defaults of cow_guest_options_t (no transport). */
#define COW_GUEST_OPTIONS_INIT                                                                     \
  {                                                                                                \
    COW_GUEST_OPTIONS_VERSION, NULL, 0, 0, 0, 0, NULL, NULL, 0                                     \
  }

/** Fill `opts` with the defaults (same as COW_GUEST_OPTIONS_INIT). Thread: any.
 *  @param opts The options (started from their _INIT macro or _init() function); read during the
 *              call only. */
COW_GUEST_EXTERN void cow_guest_options_init(cow_guest_options_t *opts);

/** Listen for the guest's bridge connection on COW_GUEST_BRIDGE_PORT of opts->transport,
 *  accept exactly one connection, negotiate the protocol (version 4, nothing else is sent
 *  until the answer arrived) and, when the guest asks for them, send the host Create and
 *  Start messages. The listener exists when this returns 0: start the VM after that.
 *
 *  `*out` is returned at once; `cb` reports whether the connection is usable. Requests
 *  made before that fail with COW_EINVALID_STATE. The caller owns `*out` and closes it
 *  with cow_host_close() whatever the outcome.
 *  Ownership: `*out` belongs to the caller; the transport is referenced, not taken.
 *  Thread: loop thread. Callback: exactly once when 0 is returned (status 0, or the
 *  failure: COW_ETIMEDOUT, COW_EBRIDGE_CLOSED, COW_EPROTOCOL, a guest error).
 *  @retval COW_EINVAL an invalid argument
 *  @retval COW_EVERSION options from a newer library
 *  @retval other the transport could not listen.
 *  @param out Receives the host handle (NULL on failure).
 *  @param loop The caller's libuv loop; the handle is bound to it and used on its thread.
 *  @param opts The options (started from COW_GUEST_OPTIONS_INIT); `transport` is required.
 *  @param cb Completion callback: runs exactly once, later, on the loop thread, when 0 is returned.
 *  @param data User data, handed to @p cb unchanged.
 *  @return 0 on success, or a negative COW_E* code. */
COW_GUEST_EXTERN int cow_guest_connect(cow_host_t **out, struct uv_loop_s *loop,
                                       const cow_guest_options_t *opts, cow_host_cb cb, void *data);

/** As cow_guest_connect(), over a stream that is already connected to the guest (a
 *  socketpair, a vsock accepted elsewhere). `stream` must be initialised on `loop`; the
 *  library reads, writes and uv_close()s it, and it must stay allocated until the host's
 *  close callback has run. opts->transport (may be NULL) is used for stdio only; without
 *  it processes cannot have stdio pipes (COW_ENOTSUP).
 *  Thread: loop thread. Callback: exactly once when 0 is returned.
 *  @param out Receives the host handle (NULL on failure).
 *  @param loop The caller's libuv loop; the handle is bound to it and used on its thread.
 *  @param stream A libuv stream initialised on @p loop and connected to the guest.
 *  @param opts The options (started from COW_GUEST_OPTIONS_INIT); may be NULL for the defaults,
 *              without stdio.
 *  @param cb Completion callback: runs exactly once, later, on the loop thread, when 0 is returned.
 *  @param data User data, handed to @p cb unchanged.
 *  @return 0 on success, or a negative COW_E* code. */
COW_GUEST_EXTERN int cow_guest_connect_stream(cow_host_t **out, struct uv_loop_s *loop,
                                              struct uv_stream_s *stream,
                                              const cow_guest_options_t *opts, cow_host_cb cb,
                                              void *data);

/** The Capabilities object of the negotiate answer, as JSON text, or NULL before the
 *  connection is up. Ownership: owned by the host, valid until its close callback.
 *  Thread: loop thread.
 *  @param host The host: a guest connection or a container's host view.
 *  @return The capabilities document, or NULL before the connection is up. */
COW_GUEST_EXTERN const char *cow_guest_capabilities(const cow_host_t *host);

/** LCOW GuestDefinedCapabilities, as flags. */
#define COW_GUEST_CAP_NAMESPACE_ADD          0x1u /**< NamespaceAddRequestSupported */
#define COW_GUEST_CAP_SIGNAL_PROCESS         0x2u /**< SignalProcessSupported */
#define COW_GUEST_CAP_DUMP_STACKS            0x4u /**< DumpStacksSupported */
#define COW_GUEST_CAP_DELETE_CONTAINER_STATE 0x8u /**< DeleteContainerStateSupported */

/** The capability flags above (0 before the connection is up). Thread: loop thread.
 *  @param host The host: a guest connection or a container's host view.
 *  @return The COW_GUEST_CAP_* flags, 0 before the connection is up. */
COW_GUEST_EXTERN unsigned cow_guest_capability_flags(const cow_host_t *host);

/** The protocol version negotiated (4), or 0 before. Thread: loop thread.
 *  @param host The host: a guest connection or a container's host view.
 *  @return The protocol version, or 0 before the connection is up. */
COW_GUEST_EXTERN int cow_guest_protocol_version(const cow_host_t *host);

/** Why the bridge died: 0 while it is alive; otherwise the code of the cause
 *  (COW_EOF for a clean close by the guest, COW_EPROTOCOL for malformed input,
 *  COW_ETIMEDOUT for the RPC timeout, COW_ECANCELED for a close by the host, an I/O
 *  error...) with details copied into `out` (may be NULL; the caller clears it).
 *  Thread: loop thread.
 *  @param host The host: a guest connection or a container's host view.
 *  @param out Receives the details of the cause (may be NULL; the caller clears it with
 *             cow_error_clear()).
 *  @return 0 while the bridge is alive, otherwise the code of the cause. */
COW_GUEST_EXTERN int cow_guest_bridge_error(const cow_host_t *host, cow_error_t *out);

/** Set the trace context of the requests written from now on (until changed), which
 *  takes precedence over the options' trace_cb: W3C `traceparent` (e.g.
 *  "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01") and optional `tracestate`.
 *  NULL traceparent clears it. Strings are copied.
 *  Thread: loop thread. @retval COW_EINVAL malformed traceparent @retval COW_ENOMEM out of memory
 *  @param host The host: a guest connection or a container's host view.
 *  @param traceparent The W3C traceparent header value, or NULL to clear the trace context.
 *  @param tracestate The W3C tracestate header value, or NULL.
 *  @return 0 on success, or a negative COW_E* code. */
COW_GUEST_EXTERN int cow_guest_set_trace_context(cow_host_t *host, const char *traceparent,
                                                 const char *tracestate);

/** Completion of a request that returns text (DumpStacks): `text` is borrowed for the
 *  callback, NULL unless status is 0. */
typedef void (*cow_guest_text_cb)(cow_host_t *host, int status, const char *text,
                                  const cow_error_t *err, void *data);

/** ModifySettings on the utility VM (null container id): `request_json` is the guest's
 *  ModifySettingRequest object ({"ResourceType":..., "RequestType":..., "Settings":{...}}),
 *  copied. Thread: loop thread. Callback: exactly once when 0 is returned.
 *  @retval COW_EINVAL not a JSON object @retval COW_EMSG_TOO_LARGE over 64 KiB
 *  @param host The host: a guest connection or a container's host view.
 *  @param request_json The request document, UTF-8 JSON; copied.
 *  @param cb Completion callback: runs exactly once, later, on the loop thread, when 0 is returned.
 *  @param data User data, handed to @p cb unchanged.
 *  @return 0 on success, or a negative COW_E* code. */
COW_GUEST_EXTERN int cow_guest_modify(cow_host_t *host, const char *request_json, cow_host_cb cb,
                                      void *data);

/** DumpStacks: the guest's goroutine stacks. @retval COW_ENOTSUP the guest does not
 *  advertise DumpStacksSupported. Thread: loop thread. Callback: exactly once when 0.
 *  @param host The host: a guest connection or a container's host view.
 *  @param cb Completion callback: runs exactly once, later, on the loop thread, when 0 is returned.
 *  @param data User data, handed to @p cb unchanged.
 *  @return 0 on success, or a negative COW_E* code. */
COW_GUEST_EXTERN int cow_guest_dump_stacks(cow_host_t *host, cow_guest_text_cb cb, void *data);

/** DeleteContainerState for container `id` (after its exit and resource release).
 *  @retval COW_ENOTSUP the guest does not advertise DeleteContainerStateSupported.
 *  Thread: loop thread. Callback: exactly once when 0 is returned.
 *  @param host The host: a guest connection or a container's host view.
 *  @param id The id, UTF-8; copied.
 *  @param cb Completion callback: runs exactly once, later, on the loop thread, when 0 is returned.
 *  @param data User data, handed to @p cb unchanged.
 *  @return 0 on success, or a negative COW_E* code. */
COW_GUEST_EXTERN int cow_guest_delete_container_state(cow_host_t *host, const char *id,
                                                      cow_host_cb cb, void *data);

/** Create container `id` from `config_json`, the LCOW hosted-system document
 *  ({"SchemaVersion":{"Major":2,"Minor":1},"OciBundlePath":...,"OciSpecification":{...},
 *  "ScratchDirPath":...}), sent as the ContainerConfig string. OciSpecification must
 *  hold `linux`, `process` and `root` objects (the GCS dereferences them unchecked).
 *  The container starts running at the first process created on cow_container_host(c)
 *  without OciProcess (its init); its exit is reported through cow_container_wait().
 *
 *  `*out` is returned at once; `cb` reports the creation. The caller owns `*out` and
 *  closes it with cow_container_close() whatever the outcome.
 *  Thread: loop thread. Callback: exactly once when 0 is returned.
 *  @retval COW_EINVAL bad id or document @retval COW_EEXIST id already used on this
 *  connection @retval COW_EINVALID_STATE not connected @retval COW_EBRIDGE_CLOSED see the
 * description
 *  @param out Receives the container handle (NULL on failure).
 *  @param host The host: a guest connection or a container's host view.
 *  @param id The id, UTF-8; copied.
 *  @param config_json The backend configuration document, UTF-8 JSON; copied.
 *  @param cb Completion callback: runs exactly once, later, on the loop thread, when 0 is returned.
 *  @param data User data, handed to @p cb unchanged.
 *  @return 0 on success, or a negative COW_E* code. */
COW_GUEST_EXTERN int cow_guest_create_container(cow_container_t **out, cow_host_t *host,
                                                const char *id, const char *config_json,
                                                cow_container_cb cb, void *data);

/** The version of cow_guest_container_params_t this header describes. */
#define COW_GUEST_CONTAINER_PARAMS_VERSION 1

/** What cow_guest_container_config_json() builds the LCOW container documents from. Start
 *  from COW_GUEST_CONTAINER_PARAMS_INIT (or cow_guest_container_params_init()); fields are
 *  only ever appended. Every string is UTF-8, borrowed by the builder only. */
typedef struct cow_guest_container_params {
  unsigned int version;      /**< COW_GUEST_CONTAINER_PARAMS_VERSION */
  const char *id;            /**< the container id (required; as cow_guest_create_container) */
  const char *oci_spec_json; /**< the OCI runtime spec, a JSON object with a `process` (required) */
  const char *const *layers; /**< guest paths of the read-only layers, in hcsshim's order
                                  (as mounted in the utility VM), NULL-terminated; may be NULL */
  const char *scratch_dir;   /**< guest path of the writable scratch directory (ScratchPath
                                  and ScratchDirPath); NULL: a read-only root file system */
  const char *network_namespace; /**< the network namespace the guest files the container
                                      under (windows.network.networkNamespace). NULL: the
                                      spec's own if it has one, else the container id */
  const char *root_path;         /**< where the layers are combined; NULL: /run/gcs/c/ID/rootfs */
} cow_guest_container_params_t;

/** The defaults of cow_guest_container_params_t (nothing set). */
#define COW_GUEST_CONTAINER_PARAMS_INIT                                                            \
  {                                                                                                \
    COW_GUEST_CONTAINER_PARAMS_VERSION, NULL, NULL, NULL, NULL, NULL, NULL                         \
  }

/** Fill `params` with the defaults (same as COW_GUEST_CONTAINER_PARAMS_INIT). Thread: any.
 *  @param params The parameters to fill; NULL is ignored. */
COW_GUEST_EXTERN void cow_guest_container_params_init(cow_guest_container_params_t *params);

/** Build the LCOW container documents as hcsshim does:
 *  - `*config`: the hosted-system document for cow_guest_create_container() (SchemaVersion
 *    2.1, OciBundlePath /run/gcs/c/ID (ID: the container id), ScratchDirPath, and the spec adapted
 * for the guest: `windows` cut down to network.networkNamespace and devices, no hooks, an empty
 *    linux.cgroupsPath, the resources the guest manages itself removed, root.path at the
 *    combined layers, and an empty `linux` added when absent);
 *  - `*layers_add`: the CombinedLayers Add request for cow_guest_modify(), sent before the
 *    Create; `*layers_remove`: the CombinedLayers Remove request, sent after the container
 *    exited and before cow_guest_delete_container_state().
 *  The network namespace is always set: Microsoft's agent v0.11.4 files a standalone
 *  container's pid under the namespace "" when the spec has none, never removes it, and
 *  then refuses every later container on the same agent ("previously assigned container
 *  pid N to network namespace", HRESULT 0x80004005).
 *  Ownership: each document is the caller's, released with cow_free(); on failure all are
 *  NULL. Thread: any.
 *  @param config Receives the hosted-system document, or NULL if not wanted.
 *  @param layers_add Receives the CombinedLayers Add request, or NULL if not wanted.
 *  @param layers_remove Receives the CombinedLayers Remove request, or NULL if not wanted.
 *  @param params What to build from; read during the call only.
 *  @param err Receives what was wrong (cleared first); may be NULL.
 *  @retval COW_EINVAL a missing or malformed argument, or a string that is not UTF-8
 *  (`err` names it)
 *  @retval COW_EVERSION parameters from a newer library
 *  @retval COW_ENOMEM out of memory
 *  @return 0 on success, or a negative COW_E* code. */
COW_GUEST_EXTERN int cow_guest_container_config_json(char **config, char **layers_add,
                                                     char **layers_remove,
                                                     const cow_guest_container_params_t *params,
                                                     cow_error_t *err);

/** Attach to container `id` that already exists in the guest (no request is sent). Its
 *  exit notification is delivered only if a WaitForProcess on its init process completes:
 *  open the init by pid (cow_host_open_process() on cow_container_host(), below) to have
 *  one sent.
 *
 *  Opening a process by pid on a guest connection: the GCS has no "open", so the library
 *  follows the process with WaitForProcess. For a container's process it first asks the
 *  container's ProcessList (GetProperties, `runc ps`): a pid the container does not list
 *  fails the open with COW_ENOENT. A utility-VM process (cow_host_open_process() on the
 *  connection itself) cannot be listed: the open succeeds and an unknown pid ends in the
 *  waiters getting COW_ENOENT (the guest's 0x80070490). The guest keeps the exit code of
 *  an exec'd process only until the first wait that received it, so a process that exits
 *  after the lookup and before the wait, with another handle's wait taking its code, ends
 *  the same way (COW_ENOENT for the waiters); a container's init keeps its code.
 *  Thread: loop thread. @retval COW_EEXIST already tracked on this connection.
 *  @param out Receives the container handle (NULL on failure).
 *  @param host The host: a guest connection or a container's host view.
 *  @param id The id, UTF-8; copied.
 *  @return 0 on success, or a negative COW_E* code. */
COW_GUEST_EXTERN int cow_guest_open_container(cow_container_t **out, cow_host_t *host,
                                              const char *id);

/** How the container exited, from the guest's exit notification: "GracefulExit" (after
 *  SIGTERM through shutdown or a signal to init), "ForcedExit" (SIGKILL),
 *  "UnexpectedExit" (init exited on its own), or NULL when no notification arrived (not
 *  exited, or the connection was lost: see cow_container_wait_error()).
 *  Ownership: owned by the container, valid until its close callback. Thread: loop thread.
 *  @param container The container.
 *  @return The exit type, or NULL when no exit notification arrived. */
COW_GUEST_EXTERN const char *cow_guest_container_exit_type(const cow_container_t *container);

COW_END_DECLS

#endif /* COW_GUEST_H */

/** @file cow/sys/host.h
 * @brief Implementing the process-host interface.
 */
#ifndef COW_SYS_HOST_H
#define COW_SYS_HOST_H

#include "../host.h"
#include "op.h"
#include "process.h"

COW_BEGIN_DECLS

/** The newest table layout; version 1 tables (ending after `is_oci`) stay valid, their
 *  missing slots answer COW_ENOTSUP (see <cow/sys/container.h>). Version 2 added
 *  open_process. */
#define COW_HOST_OPS_VERSION 2

/** The process-host interface a backend implements (docs/backends.md): the guest
 *  connection's, or a container's host view (cow_container_ops.host_ops). Slot rules as for
 *  struct cow_container_ops. */
struct cow_host_ops {
  unsigned int version; /**< COW_HOST_OPS_VERSION */
  const char *name;     /**< backend name */
  size_t priv_size;     /**< backend state per host (ignored for a container's host view,
                             which shares the container's state) */

  int (*init)(cow_host_t *h);                   /**< may be NULL; see struct cow_process_ops */
  void (*close)(cow_host_t *h);                 /**< may be NULL */
  void (*fini)(cow_host_t *h);                  /**< may be NULL */
  void (*timeout)(cow_host_t *h, cow_op_t *op); /**< may be NULL */

  /** The ops of the processes this host creates (required for create_process). */
  const struct cow_process_ops *process_ops;
  /** Start creating `p` (already allocated and initialised with process_ops) from
   *  `config_json`; complete `op` when the process runs (stdio ready, pid set) or failed. */
  int (*create_process)(cow_host_t *h, cow_process_t *p, const char *config_json, cow_op_t *op);
  /** "linux" or "windows" (static storage). NULL slot: "unknown". */
  const char *(*os)(const cow_host_t *h);
  /** 1 for OCI hosts. NULL slot: 0. */
  int (*is_oci)(const cow_host_t *h);

  /* ---- version 2 ---- */

  /** Attach `p` (already allocated and initialised with process_ops) to the process `pid`
   *  (0..UINT32_MAX, checked by the core) that runs on this host without having been
   *  created through this handle; complete `op` when it is attached (pid set with
   *  cow_process_set_pid(), no stdio: a process's streams belong to whoever created it)
   *  or failed (COW_ENOENT when no such process runs). Its exit is then reported as for a
   *  created process. NULL: cow_host_open_process() answers COW_ENOTSUP. */
  int (*open_process)(cow_host_t *h, cow_process_t *p, int64_t pid, cow_op_t *op);
  /* version 3 slots are appended below this line, never inserted above it */
};

/** Create a host handle on `loop` with `ops` (version-checked: COW_EVERSION). Calls
 *  ops->init. Ownership: the caller (the backend's constructor) hands `*out` to the
 *  consumer, who closes it. Thread: loop thread.
 *  @param out Receives the host handle (NULL on failure).
 *  @param loop The caller's libuv loop; the handle is bound to it and used on its thread.
 *  @param ops The host ops table (static storage; version-checked: COW_EVERSION).
 *  @return 0 on success, or a negative COW_E* code. */
COW_EXTERN int cow_host_new(cow_host_t **out, struct uv_loop_s *loop,
                            const struct cow_host_ops *ops);

/** Backend state, event id, references: as for processes.
 *  @param h The host: a guest connection or a container's host view.
 *  @return The backend state, or NULL when `priv_size` is 0. */
COW_EXTERN void *cow_host_priv(const cow_host_t *h);
/** The id to post foreign-thread events to this host with cow_event_post().
 *  @param h The host: a guest connection or a container's host view.
 *  @return The id. */
COW_EXTERN uint64_t cow_host_event_id(const cow_host_t *h);
/** Take an extra reference for backend work that outlives a slot call. Thread: loop thread.
 *  @param h The host: a guest connection or a container's host view. */
COW_EXTERN void cow_host_ref(cow_host_t *h);
/** Drop a reference taken with cow_host_ref(). Thread: loop thread.
 *  @param h The host: a guest connection or a container's host view. */
COW_EXTERN void cow_host_unref(cow_host_t *h);
/** 1 once cow_host_close() has been called, 0 before. Thread: loop thread.
 *  @param h The host: a guest connection or a container's host view.
 *  @return 1 once closing, 0 before. */
COW_EXTERN int cow_host_is_closing(const cow_host_t *h);

/** An op on the host for a backend-defined verb (connect, ...), completed like any op;
 *  `cb` gets the host. Thread: loop thread.
 *  @param out Receives the new operation (NULL on failure).
 *  @param h The host: a guest connection or a container's host view.
 *  @param name The operation's name for logs and errors: static storage, not copied.
 *  @param timeout Which of the handle's timeouts bounds the operation.
 *  @param cb Completion callback: runs exactly once, later, on the loop thread, when 0 is returned.
 *  @param data User data, handed to @p cb unchanged.
 *  @return 0 on success, or a negative COW_E* code. */
COW_EXTERN int cow_host_op_new(cow_op_t **out, cow_host_t *h, const char *name,
                               cow_timeout_kind_t timeout, cow_host_cb cb, void *data);

COW_END_DECLS

#endif /* COW_SYS_HOST_H */

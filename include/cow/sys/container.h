/** @file cow/sys/container.h
 * @brief Implementing the container interface.
 */
#ifndef COW_SYS_CONTAINER_H
#define COW_SYS_CONTAINER_H

#include "../container.h"
#include "host.h"
#include "op.h"

COW_BEGIN_DECLS

/** The newest table layout. A table says which layout it was written against in
 *  `version`; the core reads a slot only when the table's version has it, so a version 1
 *  table (which ends after `modify`) stays valid and its missing slots answer COW_ENOTSUP.
 *  Version 2 added pause and resume, version 3 process_list and statistics. */
#define COW_CONTAINER_OPS_VERSION 3

/** The container interface a backend implements (docs/backends.md). Every slot that takes
 *  a cow_op_t returns 0 and completes the op exactly once with cow_op_complete(), or returns
 *  a negative COW_E* code without completing it; a NULL slot answers COW_ENOTSUP. */
struct cow_container_ops {
  unsigned int version; /**< COW_CONTAINER_OPS_VERSION */
  const char *name;     /**< backend name */
  size_t priv_size;     /**< backend state per container, zeroed */

  int (*init)(cow_container_t *c);                   /**< may be NULL */
  void (*close)(cow_container_t *c);                 /**< may be NULL; complete every pending op */
  void (*fini)(cow_container_t *c);                  /**< may be NULL */
  void (*timeout)(cow_container_t *c, cow_op_t *op); /**< may be NULL */

  /** The container's process-host view: process_ops, create_process, os, is_oci are
   *  used; its init/close/fini/priv_size are ignored (the container's own apply). */
  const struct cow_host_ops *host_ops;

  /** cow_container_start(): complete `op` once the container runs. */
  int (*start)(cow_container_t *c, cow_op_t *op);
  /** cow_container_shutdown(): complete `op` once the request was accepted; "already
   *  stopped" and "does not exist" answers are success. */
  int (*shutdown)(cow_container_t *c, cow_op_t *op);
  /** cow_container_terminate(): as `shutdown`, forcibly. */
  int (*terminate)(cow_container_t *c, cow_op_t *op);
  /** cow_container_properties(): attach the document with cow_op_set_json(), then
   *  complete. `query_json` is borrowed for the call (NULL: the default query). */
  int (*properties)(cow_container_t *c, const char *query_json, cow_op_t *op);
  /** cow_container_properties_v2(): as `properties`, with a schema2 query. */
  int (*properties_v2)(cow_container_t *c, const char *query_json, cow_op_t *op);
  /** cow_container_modify(): `request_json` is borrowed for the call. */
  int (*modify)(cow_container_t *c, const char *request_json, cow_op_t *op);

  /* ---- version 2 ---- */

  /** Freeze every process of the container; complete `op` once they are all stopped (not
   *  when the request was merely accepted). NULL: cow_container_pause() answers
   *  COW_ENOTSUP. The core calls it whatever the container's state: a backend that
   *  cannot pause in that state completes `op` with its service's answer. */
  int (*pause)(cow_container_t *c, cow_op_t *op);
  /** Thaw what pause froze; as `pause` otherwise. */
  int (*resume)(cow_container_t *c, cow_op_t *op);

  /* ---- version 3 ---- */

  /** cow_container_process_list(): attach the list with cow_op_set_process_list(), then
   *  complete `op`; a malformed answer completes it with COW_EPROTOCOL. NULL: COW_ENOTSUP. */
  int (*process_list)(cow_container_t *c, cow_op_t *op);
  /** cow_container_statistics(): attach the figures with cow_op_set_statistics(), then
   *  complete `op`; as `process_list` otherwise. */
  int (*statistics)(cow_container_t *c, cow_op_t *op);
  /* version 4 slots are appended below this line, never inserted above it */
};

/** Create a container handle with id `id` (copied). Calls ops->init.
 *  Thread: loop thread.
 *  @param out Receives the container handle (NULL on failure).
 *  @param loop The caller's libuv loop; the handle is bound to it and used on its thread.
 *  @param ops The container ops table (static storage; version-checked: COW_EVERSION).
 *  @param id The container id, copied.
 *  @return 0 on success, or a negative COW_E* code. */
COW_EXTERN int cow_container_new(cow_container_t **out, struct uv_loop_s *loop,
                                 const struct cow_container_ops *ops, const char *id);

/** The backend state (`priv_size` bytes of the ops table, zeroed at creation), freed with
 *  the handle. Thread: loop thread.
 *  @param c The container.
 *  @return The backend state, or NULL when `priv_size` is 0. */
COW_EXTERN void *cow_container_priv(const cow_container_t *c);
/** The id to post foreign-thread events to this container with cow_event_post().
 *  @param c The container.
 *  @return The id. */
COW_EXTERN uint64_t cow_container_event_id(const cow_container_t *c);
/** Take an extra reference for backend work that outlives a slot call; the handle is freed
 *  only after the matching cow_container_unref(). Thread: loop thread.
 *  @param c The container. */
COW_EXTERN void cow_container_ref(cow_container_t *c);
/** Drop a reference taken with cow_container_ref(). Thread: loop thread.
 *  @param c The container. */
COW_EXTERN void cow_container_unref(cow_container_t *c);
/** 1 once cow_container_close() has been called, 0 before. Thread: loop thread.
 *  @param c The container.
 *  @return 1 once closing, 0 before. */
COW_EXTERN int cow_container_is_closing(const cow_container_t *c);

/** Report the container's exit; `err` (borrowed, may be NULL) is the exit error for
 *  waiters and cow_container_wait_error(). Only the first report counts. Thread: loop thread.
 *  @param c The container.
 *  @param err The error the container exited with (borrowed and copied), or NULL for a normal exit.
 */
COW_EXTERN void cow_container_report_exit(cow_container_t *c, const cow_error_t *err);

/** An op for a backend-defined verb on the container (create, ...). Thread: loop thread.
 *  @param out Receives the new operation (NULL on failure).
 *  @param c The container.
 *  @param name The operation's name for logs and errors: static storage, not copied.
 *  @param timeout Which of the handle's timeouts bounds the operation.
 *  @param cb Completion callback: runs exactly once, later, on the loop thread, when 0 is returned.
 *  @param data User data, handed to @p cb unchanged.
 *  @return 0 on success, or a negative COW_E* code. */
COW_EXTERN int cow_container_op_new(cow_op_t **out, cow_container_t *c, const char *name,
                                    cow_timeout_kind_t timeout, cow_container_cb cb, void *data);

COW_END_DECLS

#endif /* COW_SYS_CONTAINER_H */

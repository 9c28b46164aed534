/* libcow systems API: implementing the container interface. */
#ifndef COW_SYS_CONTAINER_H
#define COW_SYS_CONTAINER_H

#include "../container.h"
#include "host.h"
#include "op.h"

COW_BEGIN_DECLS

/** The newest table layout. A table says which layout it was written against in
 *  `version`; the core reads a slot only when the table's version has it, so a version 1
 *  table (which ends after `modify`) stays valid and its missing slots answer COW_ENOTSUP.
 *  Version 2 added pause and resume. */
#define COW_CONTAINER_OPS_VERSION 2

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

  int (*start)(cow_container_t *c, cow_op_t *op);
  int (*shutdown)(cow_container_t *c, cow_op_t *op);
  int (*terminate)(cow_container_t *c, cow_op_t *op);
  int (*properties)(cow_container_t *c, const char *query_json, cow_op_t *op);
  int (*properties_v2)(cow_container_t *c, const char *query_json, cow_op_t *op);
  int (*modify)(cow_container_t *c, const char *request_json, cow_op_t *op);

  /* ---- version 2 ---- */

  /** Freeze every process of the container; complete `op` once they are all stopped (not
   *  when the request was merely accepted). NULL: cow_container_pause() answers
   *  COW_ENOTSUP. The core calls it whatever the container's state: a backend that
   *  cannot pause in that state completes `op` with its service's answer. */
  int (*pause)(cow_container_t *c, cow_op_t *op);
  /** Thaw what pause froze; as `pause` otherwise. */
  int (*resume)(cow_container_t *c, cow_op_t *op);
  /* version 3 slots are appended below this line, never inserted above it */
};

/** Create a container handle with id `id` (copied). Calls ops->init.
 *  Thread: loop thread. */
COW_EXTERN int cow_container_new(cow_container_t **out, struct uv_loop_s *loop,
                                 const struct cow_container_ops *ops, const char *id);

COW_EXTERN void *cow_container_priv(const cow_container_t *c);
COW_EXTERN uint64_t cow_container_event_id(const cow_container_t *c);
COW_EXTERN void cow_container_ref(cow_container_t *c);
COW_EXTERN void cow_container_unref(cow_container_t *c);
COW_EXTERN int cow_container_is_closing(const cow_container_t *c);

/** Report the container's exit; `err` (borrowed, may be NULL) is the exit error for
 *  waiters and cow_container_wait_error(). Only the first report counts. Thread: loop thread. */
COW_EXTERN void cow_container_report_exit(cow_container_t *c, const cow_error_t *err);

/** An op for a backend-defined verb on the container (create, ...). Thread: loop thread. */
COW_EXTERN int cow_container_op_new(cow_op_t **out, cow_container_t *c, const char *name,
                                    cow_timeout_kind_t timeout, cow_container_cb cb, void *data);

COW_END_DECLS

#endif /* COW_SYS_CONTAINER_H */

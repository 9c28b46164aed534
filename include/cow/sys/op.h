/** @file cow/sys/op.h
 * @brief Pending operations and cross-thread events, for backend authors.
 *
 * The core creates a cow_op_t for every asynchronous call a consumer makes and hands it to
 * the backend's slot. The backend completes it exactly once with cow_op_complete(), from
 * the loop thread. The core owns everything else: the consumer's callback (never run
 * inside the backend call, never twice), timeouts, cancellation at close. When the core
 * has already completed the consumer's side (timeout, close), the backend's completion is
 * still required; its result is then discarded.
 *
 * This tier may change in a minor release; the consumer headers may not.
 */
#ifndef COW_SYS_OP_H
#define COW_SYS_OP_H

#include "../common.h"
#include "../container.h"
#include "../error.h"

COW_BEGIN_DECLS

/** A pending operation. Opaque; owned by the core. */
typedef struct cow_op_s cow_op_t;

/** Complete `op` with `status` (0 or a negative COW_E* code) and, for failures, `err`
 *  (borrowed and deep-copied; may be NULL, then a message is derived from `status`).
 *  The consumer's callback runs later from the loop, never inside this call, so a backend
 *  may call this while its own state is mid-update.
 *  Ownership: after this call the backend must not touch `op`.
 *  Thread: loop thread.
 *  @param op The operation.
 *  @param status 0, or a negative COW_E* code.
 *  @param err Details of a failure (borrowed and copied; may be NULL, then a message is made from
 *             @p status). */
COW_EXTERN void cow_op_complete(cow_op_t *op, int status, const cow_error_t *err);

/** Attach a JSON result (properties document) to `op` before completing it successfully;
 *  the text is copied. Returns 0, COW_ENOMEM, or COW_EINVAL for an op of the typed
 *  queries (they take cow_op_set_process_list() / cow_op_set_statistics()). Thread: loop
 *  thread.
 *  @param op The operation.
 *  @param json The result document, UTF-8 JSON; copied.
 *  @return 0 on success, or a negative COW_E* code. */
COW_EXTERN int cow_op_set_json(cow_op_t *op, const char *json);

/** Attach a process list (cow_container_process_list()) to `op` before completing it
 *  successfully; the entries and their strings are copied. Thread: loop thread.
 *  @param op The operation.
 *  @param items The entries (may be NULL when @p count is 0); copied.
 *  @param count The number of entries.
 *  @return 0, COW_EINVAL (NULL op, NULL items with a count, an op that is not a
 *          process list's) or COW_ENOMEM. */
COW_EXTERN int cow_op_set_process_list(cow_op_t *op, const cow_process_info_t *items, size_t count);

/** Attach statistics (cow_container_statistics()) to `op` before completing it
 *  successfully; copied. Thread: loop thread.
 *  @param op The operation.
 *  @param stats The figures; copied.
 *  @return 0, COW_EINVAL (NULL, an op that is not a statistics') or COW_ENOMEM. */
COW_EXTERN int cow_op_set_statistics(cow_op_t *op, const cow_statistics_t *stats);

/** The static name of the operation ("start", "signal", ...), for logs and errors.
 *  @param op The operation.
 *  @return The name (static storage). */
COW_EXTERN const char *cow_op_name(const cow_op_t *op);

/** 1 when the consumer's side is already done (timed out or canceled by a close): the
 *  backend may stop working on it early, but must still call cow_op_complete().
 *  @param op The operation.
 *  @return 1 when the consumer's side is done, 0 otherwise. */
COW_EXTERN int cow_op_abandoned(const cow_op_t *op);

/** Backend data slot on the op (e.g. the request id it is waiting for).
 *  @param op The operation.
 *  @param data The pointer to keep on the op (never dereferenced by the core). */
COW_EXTERN void cow_op_set_backend_data(cow_op_t *op, void *data);
/** The pointer set with cow_op_set_backend_data() (NULL until then).
 *  @param op The operation.
 *  @return The pointer. */
COW_EXTERN void *cow_op_get_backend_data(const cow_op_t *op);

/** An event posted from a foreign thread. `object` is the handle the event was posted to
 *  (a cow_process_t *, cow_host_t * or cow_container_t *, as registered), or NULL when that
 *  handle has been freed meanwhile: then the callback only releases `payload`.
 *  Thread: runs on the loop thread. */
typedef void (*cow_event_cb)(void *object, void *payload);

/** Post an event for the handle with id `object_id` (cow_process_event_id() and friends)
 *  from any thread. Events posted to one loop run in posting order, each exactly once.
 *  @retval 0 posted; `cb` will run once on the loop thread and owns `payload`.
 *  @retval COW_ENOENT the handle is gone; `cb` will not run; the caller keeps `payload`.
 *  Thread: any. Safe to call from DLL callbacks and emulator threads.
 *  @param object_id The id of the handle to deliver to (cow_process_event_id() and friends).
 *  @param cb Runs on the loop thread with the handle and @p payload; not at all when the handle is
 *            gone (then the post fails).
 *  @param payload Handed to @p cb unchanged.
 *  @return 0 on success, or a negative COW_E* code. */
COW_EXTERN int cow_event_post(uint64_t object_id, cow_event_cb cb, void *payload);

COW_END_DECLS

#endif /* COW_SYS_OP_H */

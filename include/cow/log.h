/** @file cow/log.h
 * @brief The level-filtered logging callback.
 */
#ifndef COW_LOG_H
#define COW_LOG_H

#include "common.h"

COW_BEGIN_DECLS

/** Severity of a log line, most severe first. The numbering is ABI. */
typedef enum cow_log_level {
  COW_LOG_ERROR = 0, /**< a failure the caller will also see as an error code */
  COW_LOG_WARN = 1,  /**< something unexpected that was handled (a dropped notification) */
  COW_LOG_INFO = 2,  /**< life-cycle events: connected, created, exited */
  COW_LOG_DEBUG = 3, /**< requests and answers, scrubbed of secrets */
  COW_LOG_TRACE = 4  /**< byte-level detail */
} cow_log_level_t;

/** Receives one log line. `subsystem` ("core", "guest", "hcs", "emu") and `message` are
 *  borrowed for the duration of the call. Environment values and other secrets are
 *  scrubbed from logged requests before they reach this callback.
 *  Thread: called on a thread that produces lines (the loop thread for nearly everything,
 *  the HCS emulator's worker threads for emulator lines), outside any lock of the library.
 *  Calls never overlap, so the callback needs no locking of its own; and no thread ever
 *  waits for a call on another thread: a line produced while the callback runs elsewhere
 *  is queued and handed over by that thread right after its current call (so it may arrive
 *  on another thread than the one that produced it, in order per thread). While one call
 *  is slow, up to 64 lines wait; beyond that lines are dropped and counted, and a WARN
 *  line from "core" reports how many. A callback may log (its lines follow its own) and
 *  may call cow_log_set(). */
typedef void (*cow_log_cb)(cow_log_level_t level, const char *subsystem, const char *message,
                           void *data);

/** Install a log callback that receives lines at `max_level` and more severe ones.
 *  NULL `cb` turns logging off (the default) and discards queued lines.
 *  Thread: any; takes effect for lines produced after it returns. When a call of the
 *  previous callback is in progress on another thread, waits for it to return: once this
 *  returns, the previous callback is never called again and its `data` may be freed.
 *  @param max_level The least severe level delivered (more severe ones are delivered too).
 *  @param cb Receives each line; NULL turns logging off.
 *  @param data Handed to @p cb unchanged. */
COW_EXTERN void cow_log_set(cow_log_level_t max_level, cow_log_cb cb, void *data);

COW_END_DECLS

#endif /* COW_LOG_H */

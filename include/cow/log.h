/* libcow: the level-filtered logging callback. */
#ifndef COW_LOG_H
#define COW_LOG_H

#include "common.h"

COW_BEGIN_DECLS

typedef enum cow_log_level {
  COW_LOG_ERROR = 0,
  COW_LOG_WARN = 1,
  COW_LOG_INFO = 2,
  COW_LOG_DEBUG = 3,
  COW_LOG_TRACE = 4
} cow_log_level_t;

/** Receives one log line. `subsystem` ("core", "guest", "hcs", "emu") and `message` are
 *  borrowed for the duration of the call. Environment values and other secrets are
 *  scrubbed from logged requests before they reach this callback.
 *  Thread: called on the thread that produced the line: the loop thread for nearly
 *  everything, the HCS emulator's worker threads for emulator lines. Calls are serialised
 *  by the library, so the callback needs no locking of its own. */
typedef void (*cow_log_cb)(cow_log_level_t level, const char *subsystem, const char *message,
                           void *data);

/** Install a log callback that receives lines at `max_level` and more severe ones.
 *  NULL `cb` turns logging off (the default).
 *  Thread: any; takes effect for lines produced after it returns. */
COW_EXTERN void cow_log_set(cow_log_level_t max_level, cow_log_cb cb, void *data);

COW_END_DECLS

#endif /* COW_LOG_H */

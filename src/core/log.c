/* The logging callback. A mutex both publishes (cb, data, level) atomically and serialises
 * calls, so a callback needs no locking of its own even when emulator threads log. */
#include "core/log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>

#include <uv.h>

static uv_once_t log_once = UV_ONCE_INIT;
static uv_mutex_t log_mutex;
static atomic_int log_level = -1; /* -1: no callback, the fast path */
static cow_log_cb log_cb;
static void *log_data;

static int log_usable;

static void log_init(void)
{
  /* Recursive: a callback that calls back into libcow must not deadlock. If the mutex
   * cannot be created, logging stays off rather than aborting the host process. */
  log_usable = uv_mutex_init_recursive(&log_mutex) == 0;
}

void cow_log_set(cow_log_level_t max_level, cow_log_cb cb, void *data)
{
  uv_once(&log_once, log_init);
  if (!log_usable)
    return;
  uv_mutex_lock(&log_mutex);
  log_cb = cb;
  log_data = data;
  atomic_store(&log_level, cb == NULL ? -1 : (int)max_level);
  uv_mutex_unlock(&log_mutex);
}

int cow__log_enabled(cow_log_level_t level)
{
  return (int)level <= atomic_load_explicit(&log_level, memory_order_relaxed);
}

void cow__log(cow_log_level_t level, const char *subsystem, const char *fmt, ...)
{
  if (!cow__log_enabled(level))
    return;
  char line[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  uv_once(&log_once, log_init); /* done already by cow_log_set: level >= 0 */
  uv_mutex_lock(&log_mutex);
  /* Re-check under the lock: logging may have been turned off meanwhile. */
  if (log_cb != NULL && (int)level <= atomic_load(&log_level))
    log_cb(level, subsystem, line, log_data);
  uv_mutex_unlock(&log_mutex);
}

/* The logging callback.
 *
 * Calls of the user's callback never overlap (it needs no locking of its own), yet no
 * thread ever waits for another thread's call to return: the first thread with a line
 * becomes the deliverer and calls the callback outside any lock; a line produced on
 * another thread meanwhile is queued (a bounded ring; what does not fit is counted and
 * reported as dropped) and the deliverer hands it over right after its own. The mutex only
 * guards the settings and the ring, never a call of the callback. */
#include "core/log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include <uv.h>

#define LOG_QUEUE    64 /* lines waiting while another thread is in the callback */
#define LOG_LINE_MAX 1024
#define LOG_SUB_MAX  16

struct queued_line {
  cow_log_level_t level;
  char subsystem[LOG_SUB_MAX];
  char line[LOG_LINE_MAX];
};

static uv_once_t log_once = UV_ONCE_INIT;
static int log_usable;
static uv_mutex_t log_mutex;      /* everything below */
static uv_cond_t log_idle;        /* signalled when the deliverer leaves */
static atomic_int log_level = -1; /* -1: no callback, the fast path (read without the lock) */
static cow_log_cb log_cb;
static void *log_data;
static int delivering; /* a thread is calling the callback */
static uv_thread_t deliverer;
static struct queued_line queue[LOG_QUEUE];
static unsigned q_head, q_count;
static unsigned long dropped;

static void log_init(void)
{
  /* If the primitives cannot be created, logging stays off rather than aborting the host
   * process. */
  if (uv_mutex_init(&log_mutex) != 0)
    return;
  if (uv_cond_init(&log_idle) != 0) {
    uv_mutex_destroy(&log_mutex);
    return;
  }
  log_usable = 1;
}

static int on_deliverer_thread(void)
{
  uv_thread_t self = uv_thread_self();
  return delivering && uv_thread_equal(&deliverer, &self);
}

void cow_log_set(cow_log_level_t max_level, cow_log_cb cb, void *data)
{
  uv_once(&log_once, log_init);
  if (!log_usable)
    return;
  uv_mutex_lock(&log_mutex);
  /* The old callback may still run on another thread: wait for that call to end, so that
   * once this returns the old callback is never called again and its data may go. (From
   * inside the callback itself there is nothing to wait for.) */
  while (delivering && !on_deliverer_thread())
    uv_cond_wait(&log_idle, &log_mutex);
  log_cb = cb;
  log_data = data;
  atomic_store(&log_level, cb == NULL ? -1 : (int)max_level);
  if (cb == NULL) {
    q_count = 0;
    dropped = 0;
  }
  uv_mutex_unlock(&log_mutex);
}

int cow__log_enabled(cow_log_level_t level)
{
  return (int)level <= atomic_load_explicit(&log_level, memory_order_relaxed);
}

/* Take the next queued line (or the notice of dropped ones) for the deliverer. Lock held;
 * 0 when there is nothing left. */
static int next_line(struct queued_line *out)
{
  if (q_count > 0) {
    *out = queue[q_head];
    q_head = (q_head + 1) % LOG_QUEUE;
    q_count--;
    return 1;
  }
  if (dropped > 0) {
    out->level = COW_LOG_WARN;
    snprintf(out->subsystem, sizeof out->subsystem, "core");
    snprintf(out->line, sizeof out->line,
             "%lu log line(s) dropped: the log callback was busy on another thread", dropped);
    dropped = 0;
    return 1;
  }
  return 0;
}

void cow__log(cow_log_level_t level, const char *subsystem, const char *fmt, ...)
{
  if (!cow__log_enabled(level))
    return;
  struct queued_line l;
  l.level = level;
  snprintf(l.subsystem, sizeof l.subsystem, "%s", subsystem);
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(l.line, sizeof l.line, fmt, ap);
  va_end(ap);
  uv_once(&log_once, log_init); /* done already by cow_log_set: level >= 0 */
  if (!log_usable)
    return;
  uv_mutex_lock(&log_mutex);
  if (delivering) {
    /* Another thread is in the callback (or this one, logging from inside it): the
     * deliverer passes the line on after its current call; nobody waits. */
    if (q_count < LOG_QUEUE)
      queue[(q_head + q_count++) % LOG_QUEUE] = l;
    else
      dropped++;
    uv_mutex_unlock(&log_mutex);
    return;
  }
  delivering = 1;
  deliverer = uv_thread_self();
  do {
    /* Re-checked for every line: logging may have been turned off or lowered meanwhile. */
    cow_log_cb cb = log_cb;
    void *data = log_data;
    if (cb == NULL || (int)l.level > atomic_load(&log_level))
      continue;
    uv_mutex_unlock(&log_mutex);
    cb(l.level, l.subsystem, l.line, data);
    uv_mutex_lock(&log_mutex);
  } while (next_line(&l));
  delivering = 0;
  uv_cond_broadcast(&log_idle);
  uv_mutex_unlock(&log_mutex);
}

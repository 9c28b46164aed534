/* The log callback's guarantees (include/cow/log.h): lines filtered by level with their
 * subsystem and text; calls that never overlap; no thread waiting for a slow call on
 * another thread; every line delivered once, in order per thread, or counted as dropped;
 * cow_log_set() returning only when the previous callback can no longer run; a callback
 * that logs or changes the setting without deadlocking. Real threads (libuv's), no
 * timing assertions: every wait is bounded and names what did not happen. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "core/log.h"
#include "support/wait.h"

/* ---- what the callback saw ---- */

static struct {
  uv_mutex_t mu;
  int n;
  cow_log_level_t level[64];
  char sub[64][16];
  char text[64][1100];
  int regular; /* "t<thread> line <i>" lines */
  int dropped; /* sum of the "N log line(s) dropped" notices */
  int notices;
  int per_thread_last[8];
  int out_of_order;
} seen;

static atomic_int inside, max_inside;

static void record(cow_log_level_t level, const char *sub, const char *msg)
{
  int now = atomic_fetch_add(&inside, 1) + 1;
  int m = atomic_load(&max_inside);
  while (now > m && !atomic_compare_exchange_weak(&max_inside, &m, now))
    ;
  uv_mutex_lock(&seen.mu);
  int k = seen.n++;
  if (k < 64) {
    seen.level[k] = level;
    snprintf(seen.sub[k], sizeof seen.sub[k], "%s", sub);
    snprintf(seen.text[k], sizeof seen.text[k], "%s", msg);
  }
  unsigned long d;
  if (sscanf(msg, "%lu log line(s) dropped", &d) == 1) {
    seen.dropped += (int)d;
    seen.notices++;
  }
  int t, i;
  if (sscanf(msg, "t%d line %d", &t, &i) == 2 && t >= 0 && t < 8) {
    seen.regular++;
    if (i <= seen.per_thread_last[t])
      seen.out_of_order++;
    seen.per_thread_last[t] = i;
  }
  uv_mutex_unlock(&seen.mu);
  atomic_fetch_sub(&inside, 1);
}

static void plain_cb(cow_log_level_t level, const char *sub, const char *msg, void *data)
{
  (void)data;
  record(level, sub, msg);
}

static int setup(void **state)
{
  (void)state;
  memset(&seen, 0, sizeof seen);
  for (int i = 0; i < 8; i++)
    seen.per_thread_last[i] = -1;
  atomic_store(&inside, 0);
  atomic_store(&max_inside, 0);
  return uv_mutex_init(&seen.mu);
}

static atomic_int slow_release;

static int teardown(void **state)
{
  (void)state;
  atomic_store(&slow_release, 1); /* a failed test may have left the slow callback blocked */
  cow_log_set(COW_LOG_ERROR, NULL, NULL);
  uv_mutex_destroy(&seen.mu);
  return 0;
}

/* Bounded wait for a flag another thread sets (no loop involved). */
static void wait_flag_at(atomic_int *flag, const char *what, const char *file, int line)
{
  uint64_t until = uv_hrtime() + tw_deadline_ms() * 1000000u;
  while (!atomic_load(flag) && uv_hrtime() < until)
    uv_sleep(1);
  if (!atomic_load(flag))
    tw_fail_at(what, file, line);
}
#define WAIT_FLAG(flag, what) wait_flag_at((flag), (what), __FILE__, __LINE__)

/* ---- level, subsystem, text ---- */

static void lines_by_level(void **state)
{
  (void)state;
  cow__log(COW_LOG_ERROR, "core", "before any callback");
  cow_log_set(COW_LOG_WARN, plain_cb, NULL);
  assert_true(cow__log_enabled(COW_LOG_WARN));
  assert_false(cow__log_enabled(COW_LOG_INFO));
  cow__log(COW_LOG_INFO, "core", "too detailed");
  cow__log(COW_LOG_WARN, "guest", "warned %d", 5);
  cow__log(COW_LOG_ERROR, "hcs", "failed %s", "here");
  char big[3000];
  memset(big, 'x', sizeof big - 1);
  big[sizeof big - 1] = '\0';
  cow__log(COW_LOG_ERROR, "emu", "%s", big); /* truncated to 1 KiB, never overflows */
  assert_int_equal(seen.n, 3);
  assert_int_equal(seen.level[0], COW_LOG_WARN);
  assert_string_equal(seen.sub[0], "guest");
  assert_string_equal(seen.text[0], "warned 5");
  assert_int_equal(seen.level[1], COW_LOG_ERROR);
  assert_string_equal(seen.sub[1], "hcs");
  assert_string_equal(seen.text[1], "failed here");
  assert_int_equal(strlen(seen.text[2]), 1023);
  cow_log_set(COW_LOG_ERROR, NULL, NULL); /* off: nothing more arrives */
  assert_false(cow__log_enabled(COW_LOG_ERROR));
  cow__log(COW_LOG_ERROR, "core", "after the callback was removed");
  assert_int_equal(seen.n, 3);
}

/* ---- a slow callback on one thread ---- */

static atomic_int slow_entered, slow_returned;
static uv_thread_t slow_thread_id;

static void slow_cb(cow_log_level_t level, const char *sub, const char *msg, void *data)
{
  (void)data;
  if (strcmp(msg, "slow") == 0) {
    slow_thread_id = uv_thread_self();
    atomic_store(&slow_entered, 1);
    while (!atomic_load(&slow_release)) /* released by the test (bounded there) */
      uv_sleep(1);
  }
  record(level, sub, msg);
  if (strcmp(msg, "slow") == 0)
    atomic_store(&slow_returned, 1);
}

static void log_slow(void *arg)
{
  (void)arg;
  cow__log(COW_LOG_INFO, "test", "slow");
}

static atomic_int other_returned;
static void log_other(void *arg)
{
  (void)arg;
  cow__log(COW_LOG_INFO, "test", "from another thread");
  atomic_store(&other_returned, 1);
}

static void start_slow(uv_thread_t *a)
{
  atomic_store(&slow_entered, 0);
  atomic_store(&slow_release, 0);
  atomic_store(&slow_returned, 0);
  cow_log_set(COW_LOG_DEBUG, slow_cb, NULL);
  assert_int_equal(uv_thread_create(a, log_slow, NULL), 0);
  WAIT_FLAG(&slow_entered, "the slow callback to start");
}

static void slow_callback_does_not_block_other_threads(void **state)
{
  (void)state;
  uv_thread_t a, b;
  start_slow(&a);
  atomic_store(&other_returned, 0);
  assert_int_equal(uv_thread_create(&b, log_other, NULL), 0);
  /* The other thread's line must not wait for the slow call: its cow__log returns while
   * the callback is still blocked on the first thread. (A global lock around the callback
   * fails here, naming it.) */
  wait_flag_at(&other_returned,
               "the return of a log call on a second thread while the callback was slow on "
               "the first",
               __FILE__, __LINE__);
  assert_int_equal(atomic_load(&slow_returned), 0);
  atomic_store(&slow_release, 1);
  uv_thread_join(&a);
  uv_thread_join(&b);
  /* Both lines arrived, once each, never overlapping, the queued one after the slow one
   * and on the thread that was delivering. */
  assert_int_equal(seen.n, 2);
  assert_string_equal(seen.text[0], "slow");
  assert_string_equal(seen.text[1], "from another thread");
  assert_int_equal(atomic_load(&max_inside), 1);
}

/* ---- cow_log_set while the callback runs elsewhere ---- */

static atomic_int set_returned, slow_done_when_set_returned;
static void set_off(void *arg)
{
  (void)arg;
  cow_log_set(COW_LOG_ERROR, NULL, NULL);
  atomic_store(&slow_done_when_set_returned, atomic_load(&slow_returned));
  atomic_store(&set_returned, 1);
}

static void set_waits_for_the_call_in_progress(void **state)
{
  (void)state;
  uv_thread_t a, c;
  start_slow(&a);
  atomic_store(&set_returned, 0);
  assert_int_equal(uv_thread_create(&c, set_off, NULL), 0);
  atomic_store(&slow_release, 1);
  WAIT_FLAG(&set_returned, "cow_log_set(NULL) to return");
  uv_thread_join(&a);
  uv_thread_join(&c);
  /* cow_log_set returned only after the call in progress had returned: the caller may free
   * the callback's data at once. */
  assert_int_equal(atomic_load(&slow_done_when_set_returned), 1);
  cow__log(COW_LOG_ERROR, "test", "after off");
  assert_int_equal(seen.n, 1);
}

/* ---- many threads ---- */

enum { THREADS = 4, PER_THREAD = 3000 };

static void chatty(void *arg)
{
  int t = (int)(intptr_t)arg;
  for (int i = 0; i < PER_THREAD; i++)
    cow__log(COW_LOG_INFO, "test", "t%d line %d", t, i);
}

static void every_line_once_in_order_never_overlapping(void **state)
{
  (void)state;
  cow_log_set(COW_LOG_INFO, plain_cb, NULL);
  uv_thread_t th[THREADS];
  for (int t = 0; t < THREADS; t++)
    assert_int_equal(uv_thread_create(&th[t], chatty, (void *)(intptr_t)t), 0);
  for (int t = 0; t < THREADS; t++)
    uv_thread_join(&th[t]);
  assert_int_equal(atomic_load(&max_inside), 1);
  assert_int_equal(seen.out_of_order, 0);
  /* Delivered, or counted in a "dropped" notice: nothing lost silently. */
  assert_int_equal(seen.regular + seen.dropped, THREADS * PER_THREAD);
  assert_int_equal(seen.n, seen.regular + seen.notices);
  print_message("# %d lines from %d threads: %d delivered, %d dropped (%d notices)\n",
                THREADS * PER_THREAD, THREADS, seen.regular, seen.dropped, seen.notices);
}

/* ---- from inside the callback ---- */

static int nested_calls;
static void nesting_cb(cow_log_level_t level, const char *sub, const char *msg, void *data)
{
  (void)data;
  record(level, sub, msg);
  if (strcmp(msg, "outer") == 0) {
    nested_calls++;
    cow__log(COW_LOG_INFO, "test", "inner");              /* arrives after this call returns */
    cow_log_set(COW_LOG_INFO, nesting_cb, &nested_calls); /* no deadlock */
    assert_int_equal(seen.n, 1);
  }
}

static void callback_logs_and_changes_the_setting(void **state)
{
  (void)state;
  cow_log_set(COW_LOG_INFO, nesting_cb, NULL);
  cow__log(COW_LOG_INFO, "test", "outer");
  assert_int_equal(nested_calls, 1);
  assert_int_equal(seen.n, 2);
  assert_string_equal(seen.text[0], "outer");
  assert_string_equal(seen.text[1], "inner");
  assert_int_equal(atomic_load(&max_inside), 1);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(lines_by_level, setup, teardown),
      cmocka_unit_test_setup_teardown(slow_callback_does_not_block_other_threads, setup, teardown),
      cmocka_unit_test_setup_teardown(set_waits_for_the_call_in_progress, setup, teardown),
      cmocka_unit_test_setup_teardown(every_line_once_in_order_never_overlapping, setup, teardown),
      cmocka_unit_test_setup_teardown(callback_logs_and_changes_the_setting, setup, teardown),
  };
  return cmocka_run_group_tests_name("log", tests, NULL, NULL);
}

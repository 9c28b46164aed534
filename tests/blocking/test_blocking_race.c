/* The blocking API's timeout races, made deterministic: the test is linked with
 * -Wl,--wrap=uv_cond_timedwait,--wrap=uv_mutex_unlock, so it can run the loop thread's side
 * of a request exactly at the moment the caller's wait times out:
 *  - at_timeout: the operation completes while the caller's timed wait is expiring; the
 *    caller must take the result (the request is done), not report a timeout.
 *  - after_abandon: the caller gives up, and before its call returns the operation
 *    completes and the loop thread frees the request; the caller must not touch it again
 *    (ASan and valgrind see any read of the freed request).
 *  - create_after_abandon: a process created after its caller gave up is closed by the
 *    library, and nothing is left open.
 * GNU ld only (the --wrap option); the other blocking tests run everywhere. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "support/test-backend.h"

int __real_uv_cond_timedwait(uv_cond_t *cond, uv_mutex_t *mutex, uint64_t timeout);
void __real_uv_mutex_unlock(uv_mutex_t *mutex);

enum arm { DISARMED, AT_TIMEOUT, AFTER_ABANDON };

/* Only the armed thread's calls are interposed (the state is thread-local, so the loop
 * thread never sees it armed); nested calls run after it is disarmed. */
static _Thread_local enum arm armed = DISARMED;
static _Thread_local void (*complete_fn)(void); /* runs the loop thread's side to its end */
static _Thread_local int timed_out; /* AFTER_ABANDON: a timed wait expired on this thread */

static int is_armed(void)
{
  return armed != DISARMED;
}

int __wrap_uv_cond_timedwait(uv_cond_t *cond, uv_mutex_t *mutex, uint64_t timeout)
{
  if (is_armed() && armed == AT_TIMEOUT) {
    /* The wait expires; in that instant the operation finishes on the loop thread. */
    armed = DISARMED;
    __real_uv_mutex_unlock(mutex);
    complete_fn();
    uv_mutex_lock(mutex);
    return UV_ETIMEDOUT;
  }
  int rc = __real_uv_cond_timedwait(cond, mutex, timeout);
  if (rc == UV_ETIMEDOUT && is_armed())
    timed_out = 1;
  return rc;
}

void __wrap_uv_mutex_unlock(uv_mutex_t *mutex)
{
  __real_uv_mutex_unlock(mutex);
  if (is_armed() && armed == AFTER_ABANDON && timed_out) {
    /* The caller has just let go of the lock after giving up: the operation now ends and
     * the loop thread frees the abandoned request, before the caller's call returns. */
    armed = DISARMED;
    timed_out = 0;
    complete_fn();
  }
}

static void arm(enum arm how, void (*fn)(void))
{
  complete_fn = fn;
  timed_out = 0;
  armed = how;
}

static struct tb tb;
static cow_blocking_t *b;
static cow_host_t *host;
static cow_process_t *proc;

static int make_host(uv_loop_t *loop, void *arg)
{
  return tb_host_new(&host, loop, &tb);
}

static void setup_process(void)
{
  memset(&tb, 0, sizeof tb);
  assert_int_equal(cow_blocking_new(&b), 0);
  assert_int_equal(cow_blocking_run(b, make_host, NULL, 0, NULL), 0);
  assert_int_equal(cow_blocking_create_process(&proc, b, host, "{}", 5000, NULL), 0);
}

static void teardown_process(void)
{
  if (proc != NULL)
    assert_int_equal(cow_blocking_process_close(b, proc, 0, NULL), 0);
  proc = NULL;
  assert_int_equal(cow_blocking_host_close(b, host, 0, NULL), 0);
  assert_int_equal(cow_blocking_close(b), 0);
}

/* Report exit 5 and wait for it through a second waiter: waiters are released in order,
 * so when this returns the first waiter's completion has run on the loop thread. */
static void exit_and_drain(void)
{
  assert_int_equal(tb_post_exit(proc, 5), 0);
  int64_t code = -1;
  assert_int_equal(cow_blocking_process_wait(&code, b, proc, 5000, NULL), 0);
  assert_int_equal(code, 5);
}

static void at_timeout(void **state)
{
  setup_process();
  arm(AT_TIMEOUT, exit_and_drain);
  int64_t code = -1;
  cow_error_t err = COW_ERROR_INIT;
  int rc = cow_blocking_process_wait(&code, b, proc, 60000, &err);
  assert_int_equal(armed, DISARMED); /* the interposed expiry did happen */
  assert_int_equal(rc, 0);           /* done before the caller looked: the result is its */
  assert_int_equal(code, 5);
  assert_null(err.message);
  teardown_process();
}

static void after_abandon(void **state)
{
  setup_process();
  arm(AFTER_ABANDON, exit_and_drain);
  int64_t code = -1;
  cow_error_t err = COW_ERROR_INIT;
  assert_int_equal(cow_blocking_process_wait(&code, b, proc, 20, &err), COW_ETIMEDOUT);
  assert_int_equal(armed, DISARMED); /* the request was freed before the call returned */
  assert_int_equal(code, -1);        /* a caller that gave up gets nothing */
  assert_non_null(err.message);
  cow_error_clear(&err);
  teardown_process();
}

static int complete_pending(uv_loop_t *loop, void *arg)
{
  return tb_complete(&tb, 0, NULL);
}

static int count_closes(uv_loop_t *loop, void *arg)
{
  return tb.closes;
}

/* Complete the pending create; the abandoned result is closed by the library. */
static void complete_create(void)
{
  assert_int_equal(cow_blocking_run(b, complete_pending, NULL, 0, NULL), 0);
  for (int i = 0; i < 5000 && cow_blocking_run(b, count_closes, NULL, 0, NULL) == 0; i++)
    uv_sleep(1);
}

static void create_after_abandon(void **state)
{
  setup_process();
  assert_int_equal(cow_blocking_run(b, count_closes, NULL, 0, NULL), 0);
  tb.mode = TB_MANUAL;
  arm(AFTER_ABANDON, complete_create);
  cow_process_t *q = (cow_process_t *)&q;
  cow_error_t err = COW_ERROR_INIT;
  assert_int_equal(cow_blocking_create_process(&q, b, host, "{}", 20, &err), COW_ETIMEDOUT);
  cow_error_clear(&err);
  assert_int_equal(armed, DISARMED);
  assert_null(q);
  if (cow_blocking_run(b, count_closes, NULL, 0, NULL) != 1)
    fail_msg("the process created after its caller gave up was never closed");
  teardown_process(); /* and cow_blocking_close() finds nothing left open */
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(at_timeout),
      cmocka_unit_test(after_abandon),
      cmocka_unit_test(create_after_abandon),
  };
  return cmocka_run_group_tests_name("blocking_race", tests, NULL, NULL);
}

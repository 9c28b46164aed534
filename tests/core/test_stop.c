/* cow_process_stop() and cow_container_stop() against the scripted backend: the graceful
 * request, the escalation after the grace period as a separate operation, a refused or
 * failed request, grace 0, a target that already exited, a close in the middle, and
 * allocation failures. The result never arrives inside the call and arrives once; every
 * test ends with the loop closed and no allocation left. (The same on real processes of
 * every backend: tests/contract.) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "cow.h"
#include "cow/sys/container.h"
#include "cow/sys/process.h"
#include "support/test-backend.h"

static uv_loop_t loop;
static struct tb tb;
static long alloc_baseline;
static int in_call;

struct stopped {
  int calls, status, forced;
  int64_t code;
  int had_err;
};

static void on_process_stopped(cow_process_t *p, int status, int64_t code, int forced,
                               const cow_error_t *err, void *data)
{
  (void)p;
  struct stopped *s = data;
  assert_int_equal(in_call, 0); /* never inside the call */
  s->calls++;
  s->status = status;
  s->code = code;
  s->forced = forced;
  s->had_err = err != NULL;
  assert_int_equal(err != NULL, status < 0);
  if (err != NULL) {
    assert_int_equal(err->code, status);
    assert_non_null(err->message);
  }
  if (status < 0)
    assert_int_equal(code, -1);
}

static void on_container_stopped(cow_container_t *c, int status, int forced, const cow_error_t *err,
                                 void *data)
{
  (void)c;
  struct stopped *s = data;
  assert_int_equal(in_call, 0);
  s->calls++;
  s->status = status;
  s->forced = forced;
  s->had_err = err != NULL;
  assert_int_equal(err != NULL, status < 0);
}

static void on_created(cow_process_t *p, int status, const cow_error_t *err, void *data)
{
  (void)p;
  (void)err;
  (void)data;
  assert_int_equal(status, 0);
}

#define CALL(expr) (in_call = 1, in_call_rc = (expr), in_call = 0, in_call_rc)
static int in_call_rc;

static int setup(void **state)
{
  (void)state;
  memset(&tb, 0, sizeof tb);
  tb.stop_loop = &loop; /* the stop's bound timer must not keep a waited-for call in poll */
  alloc_baseline = tb_alloc_outstanding();
  return uv_loop_init(&loop);
}

static int teardown(void **state)
{
  (void)state;
  assert_int_equal(TW_LOOP_FINISH(&loop), 0);
  assert_int_equal(tb_alloc_outstanding(), alloc_baseline);
  return 0;
}

/* A host and a created process; the backend then holds every further op (TB_MANUAL). */
static cow_process_t *manual_process(cow_host_t **h)
{
  assert_int_equal(tb_host_new(h, &loop, &tb), 0);
  cow_process_t *p;
  assert_int_equal(cow_host_create_process(&p, *h, "{}", on_created, NULL), 0);
  TW_RUN_IDLE(&loop);
  tb.mode = TB_MANUAL;
  return p;
}

static void close_all(cow_host_t *h, cow_process_t *p)
{
  tb_complete_all(&tb, COW_ECANCELED);
  assert_int_equal(cow_process_close(p, NULL, NULL), 0);
  assert_int_equal(cow_host_close(h, NULL, NULL), 0);
}

static void signal_then_kill_after_grace(void **state)
{
  (void)state;
  cow_host_t *h;
  cow_process_t *p = manual_process(&h);
  struct stopped s = {0};
  assert_int_equal(CALL(cow_process_stop(p, "{\"Signal\":15}", 30, on_process_stopped, &s)), 0);
  assert_int_equal(tb.calls[TB_SIGNAL], 1);
  assert_int_equal(tb.calls[TB_KILL], 0);
  /* The signal is still pending when the grace period ends: the kill does not queue
   * behind it (R20). */
  TW_UNTIL(&loop, tb.calls[TB_KILL]);
  assert_int_equal(tb.npending, 2);
  assert_int_equal(s.calls, 0);
  tb_complete(&tb, 0, NULL); /* the signal */
  tb_complete(&tb, 0, NULL); /* the kill */
  uv_run(&loop, UV_RUN_NOWAIT);
  assert_int_equal(s.calls, 0); /* no exit yet */
  cow_process_report_exit(p, 137, NULL);
  TW_UNTIL(&loop, s.calls);
  assert_int_equal(s.status, 0);
  assert_int_equal(s.code, 137);
  assert_int_equal(s.forced, 1);
  assert_int_equal(s.had_err, 0);
  close_all(h, p);
  TW_RUN_IDLE(&loop);
  assert_int_equal(s.calls, 1);
}

static void exit_within_grace(void **state)
{
  (void)state;
  cow_host_t *h;
  cow_process_t *p = manual_process(&h);
  struct stopped s = {0};
  assert_int_equal(CALL(cow_process_stop(p, NULL, 60000, on_process_stopped, &s)), 0);
  tb_complete(&tb, 0, NULL);
  cow_process_report_exit(p, 143, NULL);
  TW_UNTIL(&loop, s.calls);
  assert_int_equal(s.status, 0);
  assert_int_equal(s.code, 143);
  assert_int_equal(s.forced, 0);
  assert_int_equal(tb.calls[TB_KILL], 0);
  close_all(h, p);
}

static void refused_signal_kills_at_once(void **state)
{
  (void)state;
  cow_host_t *h;
  cow_process_t *p = manual_process(&h);
  /* Everything refused: the signal (so the kill goes at once), then the kill itself,
   * whose error is the result. */
  tb.mode = TB_REFUSE;
  tb.fail_code = COW_ENOTSUP;
  struct stopped s = {0};
  assert_int_equal(CALL(cow_process_stop(p, NULL, 60000, on_process_stopped, &s)), 0);
  assert_int_equal(tb.calls[TB_SIGNAL], 1);
  assert_int_equal(tb.calls[TB_KILL], 1);
  TW_UNTIL(&loop, s.calls);
  assert_int_equal(s.status, COW_ENOTSUP);
  assert_int_equal(s.forced, 1);
  close_all(h, p);
  TW_RUN_IDLE(&loop);
  assert_int_equal(s.calls, 1);
}

static void failed_signal_and_kill(void **state)
{
  (void)state;
  cow_host_t *h;
  cow_process_t *p = manual_process(&h);
  tb.mode = TB_COMPLETE_FAIL;
  tb.fail_code = COW_EACCES;
  struct stopped s = {0};
  assert_int_equal(CALL(cow_process_stop(p, NULL, 60000, on_process_stopped, &s)), 0);
  TW_UNTIL(&loop, s.calls);
  assert_int_equal(tb.calls[TB_KILL], 1); /* the failed signal escalated without waiting */
  assert_int_equal(s.status, COW_EACCES);
  assert_int_equal(s.had_err, 1); /* the kill's error, with its HRESULT */
  assert_int_equal(s.forced, 1);
  close_all(h, p);
}

static void grace_zero_kills_without_signal(void **state)
{
  (void)state;
  cow_host_t *h;
  cow_process_t *p = manual_process(&h);
  struct stopped s = {0};
  assert_int_equal(CALL(cow_process_stop(p, NULL, 0, on_process_stopped, &s)), 0);
  assert_int_equal(tb.calls[TB_SIGNAL], 0);
  assert_int_equal(tb.calls[TB_KILL], 1);
  tb_complete(&tb, 0, NULL);
  cow_process_report_exit(p, 137, NULL);
  TW_UNTIL(&loop, s.calls);
  assert_int_equal(s.status, 0);
  assert_int_equal(s.forced, 1);
  close_all(h, p);
}

static void already_exited(void **state)
{
  (void)state;
  cow_host_t *h;
  cow_process_t *p = manual_process(&h);
  cow_process_report_exit(p, 4, NULL);
  uv_run(&loop, UV_RUN_NOWAIT);
  struct stopped s = {0};
  /* Grace 0 would kill at once: not what already exited. */
  assert_int_equal(CALL(cow_process_stop(p, NULL, 0, on_process_stopped, &s)), 0);
  TW_UNTIL(&loop, s.calls);
  assert_int_equal(s.status, 0);
  assert_int_equal(s.code, 4);
  assert_int_equal(s.forced, 0);
  assert_int_equal(tb.calls[TB_KILL], 0);
  assert_int_equal(tb.calls[TB_SIGNAL], 0);
  close_all(h, p);
}

static void close_while_stopping(void **state)
{
  (void)state;
  cow_host_t *h;
  cow_process_t *p = manual_process(&h);
  struct stopped s = {0};
  assert_int_equal(CALL(cow_process_stop(p, NULL, 60000, on_process_stopped, &s)), 0);
  assert_int_equal(cow_process_close(p, NULL, NULL), 0);
  TW_UNTIL(&loop, s.calls);
  assert_int_equal(s.status, COW_ECANCELED);
  assert_int_equal(s.forced, 0);
  /* A stop on a closing handle is refused, nothing started. */
  struct stopped late = {0};
  assert_int_equal(cow_process_stop(p, NULL, 1, on_process_stopped, &late), COW_ECLOSING);
  tb_complete_all(&tb, COW_ECANCELED);
  assert_int_equal(cow_host_close(h, NULL, NULL), 0);
  TW_RUN_IDLE(&loop); /* the grace timer is gone: the loop ends */
  assert_int_equal(s.calls, 1);
  assert_int_equal(late.calls, 0);
}

static void bad_arguments_and_no_memory(void **state)
{
  (void)state;
  cow_host_t *h;
  cow_process_t *p = manual_process(&h);
  struct stopped s = {0};
  assert_int_equal(cow_process_stop(NULL, NULL, 1, on_process_stopped, &s), COW_EINVAL);
  assert_int_equal(cow_process_stop(p, NULL, 1, NULL, &s), COW_EINVAL);
  assert_int_equal(cow_container_stop(NULL, 1, on_container_stopped, &s), COW_EINVAL);
  for (long n = 0; n < 3; n++) { /* the state, the copy of the signal document, the op */
    tb_alloc_fail_at(n);
    assert_int_equal(cow_process_stop(p, "{\"Signal\":15}", 1, on_process_stopped, &s), COW_ENOMEM);
    tb_alloc_fail_at(-1);
  }
  assert_int_equal(tb.calls[TB_SIGNAL], 0);
  close_all(h, p);
  TW_RUN_IDLE(&loop);
  assert_int_equal(s.calls, 0);
}

static void container_shutdown_then_terminate(void **state)
{
  (void)state;
  cow_container_t *c;
  assert_int_equal(tb_container_new(&c, &loop, &tb, "ctr-stop"), 0);
  tb.mode = TB_MANUAL;
  struct stopped s = {0};
  assert_int_equal(CALL(cow_container_stop(c, 30, on_container_stopped, &s)), 0);
  assert_int_equal(tb.calls[TB_SHUTDOWN], 1);
  TW_UNTIL(&loop, tb.calls[TB_TERMINATE]);
  tb_complete(&tb, 0, NULL);
  tb_complete(&tb, 0, NULL);
  /* An unexpected exit is still an exit for a stop. */
  cow_error_t why = COW_ERROR_INIT;
  why.code = COW_EHCS;
  why.message = "exited unexpectedly";
  cow_container_report_exit(c, &why);
  TW_UNTIL(&loop, s.calls);
  assert_int_equal(s.status, 0);
  assert_int_equal(s.forced, 1);
  /* A second stop of the exited container: at once, nothing sent. */
  struct stopped again = {0};
  assert_int_equal(CALL(cow_container_stop(c, 0, on_container_stopped, &again)), 0);
  TW_UNTIL(&loop, again.calls);
  assert_int_equal(again.status, 0);
  assert_int_equal(again.forced, 0);
  assert_int_equal(tb.calls[TB_TERMINATE], 1);
  assert_int_equal(cow_container_close(c, NULL, NULL), 0);
}

int main(void)
{
  tb_alloc_install();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(signal_then_kill_after_grace, setup, teardown),
      cmocka_unit_test_setup_teardown(exit_within_grace, setup, teardown),
      cmocka_unit_test_setup_teardown(refused_signal_kills_at_once, setup, teardown),
      cmocka_unit_test_setup_teardown(failed_signal_and_kill, setup, teardown),
      cmocka_unit_test_setup_teardown(grace_zero_kills_without_signal, setup, teardown),
      cmocka_unit_test_setup_teardown(already_exited, setup, teardown),
      cmocka_unit_test_setup_teardown(close_while_stopping, setup, teardown),
      cmocka_unit_test_setup_teardown(bad_arguments_and_no_memory, setup, teardown),
      cmocka_unit_test_setup_teardown(container_shutdown_then_terminate, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Fault switches of the emulator (docs/hcs-api.md §6.6): injected failures, delays (operation
 * timeouts), service disconnect, unexpected exit, and the smaller knobs. */
#include "emu-test.h"

static struct cow__computecore_api v2;
static struct cow__vmcompute_api v1;

static int setup(void **state)
{
  (void)state;
  rec_reset();
  cow__emu_computecore_api(&v2);
  cow__emu_vmcompute_api(&v1);
  emu_fds_before = count_fds();
  return 0;
}

static HRESULT wait_op(HCS_OPERATION op, DWORD ms)
{
  PWSTR doc = NULL;
  HRESULT hr = v2.HcsWaitForOperationResult(op, ms, &doc);
  v2.free_string(doc);
  return hr;
}

static HCS_SYSTEM create(const char *id)
{
  uint16_t *wid = W(id), *cfg = W("{\"Container\":{}}");
  HCS_SYSTEM cs = NULL;
  HCS_OPERATION op = v2.HcsCreateOperation(NULL, NULL);
  assert_int_equal(v2.HcsCreateComputeSystem(wid, cfg, op, NULL, &cs), 0);
  assert_int_equal(wait_op(op, 10000), 0);
  v2.HcsCloseOperation(op);
  wfree(wid);
  wfree(cfg);
  return cs;
}

static HRESULT start(HCS_SYSTEM cs)
{
  HCS_OPERATION op = v2.HcsCreateOperation(NULL, NULL);
  HRESULT hr = v2.HcsStartComputeSystem(cs, op, NULL);
  if (hr >= 0)
    hr = wait_op(op, 10000);
  v2.HcsCloseOperation(op);
  return hr;
}

static void kill_and_close(HCS_SYSTEM cs)
{
  HCS_OPERATION op = v2.HcsCreateOperation(NULL, NULL);
  v2.HcsTerminateComputeSystem(cs, op, NULL);
  v2.HcsCloseOperation(op); /* in flight: safe, the result is discarded */
  v2.HcsCloseComputeSystem(cs);
}

static void test_spec_syntax(void **state)
{
  (void)state;
  assert_int_equal(cow__emu_parse_faults("nonsense"), COW_EINVAL);
  assert_int_equal(cow__emu_parse_faults("fail:HcsStartComputeSystem"), COW_EINVAL);
  assert_int_equal(cow__emu_parse_faults("fail=1"), COW_EINVAL);
  assert_int_equal(cow__emu_parse_faults("delay:X=abc"), COW_EINVAL);
  assert_int_equal(cow__emu_parse_faults("v1-sync=3"), COW_EINVAL);
  assert_int_equal(cow__emu_parse_faults("fail:X@0=1"), COW_EINVAL);
  assert_int_equal(cow__emu_parse_faults(""), 0);
  cow__emu_fault_t f = {0};
  assert_int_equal(cow__emu_set_fault(&f), COW_EINVAL);
  f.kind = COW__EMU_FAULT_FAIL; /* no export */
  assert_int_equal(cow__emu_set_fault(&f), COW_EINVAL);
}

static void test_fail_nth_call(void **state)
{
  (void)state;
  assert_int_equal(cow__emu_parse_faults("fail:v2.HcsStartComputeSystem@2=0x80370105,"
                                         "reject:HcsGetComputeSystemProperties=0x80070005"),
                   0);
  HCS_SYSTEM a = create("f-a"), b = create("f-b");
  assert_int_equal(start(a), 0);                     /* call 1 */
  assert_int_equal((uint32_t)start(b), 0x80370105u); /* call 2: fails as a result */
  assert_int_equal(start(b), 0);                     /* call 3 */
  HCS_OPERATION op = v2.HcsCreateOperation(NULL, NULL);
  assert_int_equal((uint32_t)v2.HcsGetComputeSystemProperties(a, op, NULL), 0x80070005u);
  assert_int_equal((uint32_t)v2.HcsGetOperationResult(op, NULL), 0x80370115u); /* unused */
  v2.HcsCloseOperation(op);
  kill_and_close(a);
  kill_and_close(b);
}

static void test_delay_timeout(void **state)
{
  (void)state;
  cow__emu_fault_t f = {
      .kind = COW__EMU_FAULT_DELAY, .export_name = "HcsStartComputeSystem", .ms = 400};
  assert_int_equal(cow__emu_set_fault(&f), 0);
  HCS_SYSTEM cs = create("f-delay");
  HCS_OPERATION op = v2.HcsCreateOperation(NULL, NULL);
  assert_int_equal(v2.HcsStartComputeSystem(cs, op, NULL), 0);
  assert_int_equal((uint32_t)v2.HcsGetOperationResult(op, NULL), 0x80370117u); /* pending */
  assert_int_equal((uint32_t)wait_op(op, 50), 0x80370118u);                    /* timeout */
  assert_int_equal(wait_op(op, 10000), 0); /* the operation stayed alive */
  v2.HcsCloseOperation(op);
  kill_and_close(cs);
}

static void test_disconnect(void **state)
{
  (void)state;
  HCS_SYSTEM cs = create("f-disc");
  assert_int_equal(start(cs), 0);
  assert_int_equal(v2.HcsSetComputeSystemCallback(cs, HcsEventOptionNone, (void *)1, rec_v2_cb), 0);
  uint16_t *params = W("{\"CommandLine\":\"sleep 1000\"}");
  HCS_PROCESS p = NULL;
  HCS_OPERATION op = v2.HcsCreateOperation(NULL, NULL);
  assert_int_equal(v2.HcsCreateProcess(cs, params, op, NULL, &p), 0);
  HCS_PROCESS_INFORMATION pi;
  assert_int_equal(v2.HcsWaitForOperationResultAndProcessInfo(op, 10000, &pi, NULL), 0);
  v2.HcsCloseOperation(op);
  assert_int_equal(v2.HcsSetProcessCallback(p, HcsEventOptionNone, (void *)2, rec_v2_cb), 0);
  /* A pending operation that the disconnect must complete. */
  cow__emu_fault_t d = {
      .kind = COW__EMU_FAULT_DELAY, .export_name = "HcsGetComputeSystemProperties", .ms = 60000};
  assert_int_equal(cow__emu_set_fault(&d), 0);
  HCS_OPERATION pend = v2.HcsCreateOperation(NULL, NULL);
  assert_int_equal(v2.HcsGetComputeSystemProperties(cs, pend, NULL), 0);
  cow__emu_fault_t f = {.kind = COW__EMU_FAULT_DISCONNECT};
  assert_int_equal(cow__emu_set_fault(&f), 0);
  assert_true(rec_wait(1, HcsEventServiceDisconnect, 10000) >= 0);
  assert_true(rec_wait(2, HcsEventServiceDisconnect, 10000) >= 0);
  assert_int_equal((uint32_t)wait_op(pend, 10000), 0x8037011Eu);
  v2.HcsCloseOperation(pend);
  op = v2.HcsCreateOperation(NULL, NULL);
  assert_int_equal((uint32_t)v2.HcsStartComputeSystem(cs, op, NULL), 0x8037011Eu);
  v2.HcsCloseOperation(op);
  usleep(100000);
  assert_int_equal(rec_count(2, HcsEventProcessExited), 0); /* nothing after the disconnect */
  v2.HcsCloseProcess(p);
  v2.HcsCloseComputeSystem(cs);
  wfree(params);
}

static void test_disconnect_v1_named(void **state)
{
  (void)state;
  assert_int_equal(cow__emu_parse_faults("v1-sync,disconnect"), 0); /* at HcsCreateProcess */
  uint16_t *wid = W("f-disc1"), *cfg = W("{\"SystemType\":\"Container\"}"),
           *params = W("{\"CommandLine\":\"true\"}");
  HCS_SYSTEM cs = NULL;
  assert_int_equal(v1.HcsCreateComputeSystem(wid, cfg, NULL, &cs, NULL), 0);
  assert_int_equal(v1.HcsStartComputeSystem(cs, NULL, NULL), 0);
  HCS_CALLBACK cb = NULL;
  assert_int_equal(v1.HcsRegisterComputeSystemCallback(cs, rec_v1_cb, (void *)3, &cb), 0);
  HCS_PROCESS_INFORMATION pi;
  HCS_PROCESS p = NULL;
  assert_int_equal((uint32_t)v1.HcsCreateProcess(cs, params, &pi, &p, NULL), 0x8037011Eu);
  assert_true(rec_wait(3, 0x01000000u, 10000) >= 0); /* v1 ServiceDisconnect */
  assert_int_equal(v1.HcsUnregisterComputeSystemCallback(cb), 0);
  assert_int_equal(v1.HcsCloseComputeSystem(cs), 0);
  wfree(wid);
  wfree(cfg);
  wfree(params);
}

static void test_unexpected_exit(void **state)
{
  (void)state;
  assert_int_equal(cow__emu_parse_faults("exit-unexpected=100"), 0);
  HCS_SYSTEM cs = create("f-unexp");
  assert_int_equal(v2.HcsSetComputeSystemCallback(cs, HcsEventOptionNone, (void *)1, rec_v2_cb), 0);
  assert_int_equal(start(cs), 0);
  int i = rec_wait(1, HcsEventSystemExited, 10000);
  assert_true(i >= 0);
  assert_true(json_str_is(recs[1].ev[i].data, "ExitType", "UnexpectedExit"));
  assert_int_equal((uint32_t)json_int_of(recs[1].ev[i].data, "Status"), 0x80370106u);
  v2.HcsCloseComputeSystem(cs);
  /* v1: SystemExited with status 0xC0370106. */
  uint16_t *wid = W("f-unexp1"), *cfg = W("{\"SystemType\":\"Container\"}");
  HCS_SYSTEM c1 = NULL;
  assert_int_equal((uint32_t)v1.HcsCreateComputeSystem(wid, cfg, NULL, &c1, NULL), 0xC0370103u);
  HCS_CALLBACK cb = NULL;
  assert_int_equal(v1.HcsRegisterComputeSystemCallback(c1, rec_v1_cb, (void *)2, &cb), 0);
  assert_int_equal((uint32_t)v1.HcsStartComputeSystem(c1, NULL, NULL), 0xC0370103u);
  i = rec_wait(2, HcsNotificationSystemExited, 10000);
  assert_true(i >= 0);
  assert_int_equal((uint32_t)recs[2].ev[i].status, 0xC0370106u);
  /* Ordering: StartCompleted came first. */
  int s = rec_wait(2, HcsNotificationSystemStartCompleted, 0);
  assert_true(s >= 0 && s < i);
  assert_int_equal(v1.HcsUnregisterComputeSystemCallback(cb), 0);
  assert_int_equal(v1.HcsCloseComputeSystem(c1), 0);
  wfree(wid);
  wfree(cfg);
}

static void test_small_knobs(void **state)
{
  (void)state;
  assert_int_equal(cow__emu_parse_faults("stdio-invalid,no-result-doc,last-wait-result=0x80070102,"
                                         "create-process-quirk"),
                   0);
  HCS_SYSTEM cs = create("f-knobs");
  assert_int_equal(start(cs), 0);
  uint16_t *params = W("{\"CommandLine\":\"true\",\"CreateStdOutPipe\":true}");
  HCS_PROCESS p = NULL;
  HCS_OPERATION op = v2.HcsCreateOperation(NULL, NULL);
  assert_int_equal(v2.HcsCreateProcess(cs, params, op, NULL, &p), 0);
  HCS_PROCESS_INFORMATION pi;
  /* The quirk: the wait fails although the process handle is valid. */
  assert_int_equal((uint32_t)v2.HcsWaitForOperationResultAndProcessInfo(op, 10000, &pi, NULL),
                   0x80070057u);
  v2.HcsCloseOperation(op);
  assert_non_null(p);
  PWSTR st = NULL;
  assert_int_equal(v2.HcsWaitForProcessExit(p, 10000, &st), 0);
  char *s = U8(st);
  assert_int_equal((uint32_t)json_int_of(s, "LastWaitResult"), 0x80070102u);
  cow__free(s);
  v2.free_string(st);
  /* No ResultError document on failure. */
  op = v2.HcsCreateOperation(NULL, NULL);
  assert_int_equal(v2.HcsStartComputeSystem(cs, op, NULL), 0);
  PWSTR doc = (PWSTR)1;
  assert_int_equal((uint32_t)v2.HcsWaitForOperationResult(op, 10000, &doc), 0x80370105u);
  assert_null(doc);
  v2.HcsCloseOperation(op);
  v2.HcsCloseProcess(p);
  /* Unrequested stdio as INVALID_HANDLE_VALUE (v1 create with a fresh process). */
  uint16_t *wid = W("f-knobs"), *sleep = W("{\"CommandLine\":\"sleep 1000\"}");
  HCS_SYSTEM c1 = NULL;
  assert_int_equal(v1.HcsOpenComputeSystem(wid, &c1, NULL), 0);
  HCS_PROCESS p1 = NULL;
  assert_int_equal(v1.HcsCreateProcess(c1, sleep, &pi, &p1, NULL), 0);
  assert_true(pi.StdInput == INVALID_HANDLE_VALUE && pi.StdOutput == INVALID_HANDLE_VALUE &&
              pi.StdError == INVALID_HANDLE_VALUE);
  assert_int_equal(v1.HcsCloseProcess(p1), 0);
  assert_int_equal(v1.HcsCloseComputeSystem(c1), 0);
  kill_and_close(cs);
  wfree(params);
  wfree(wid);
  wfree(sleep);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_spec_syntax, setup, emu_teardown),
      cmocka_unit_test_setup_teardown(test_fail_nth_call, setup, emu_teardown),
      cmocka_unit_test_setup_teardown(test_delay_timeout, setup, emu_teardown),
      cmocka_unit_test_setup_teardown(test_disconnect, setup, emu_teardown),
      cmocka_unit_test_setup_teardown(test_disconnect_v1_named, setup, emu_teardown),
      cmocka_unit_test_setup_teardown(test_unexpected_exit, setup, emu_teardown),
      cmocka_unit_test_setup_teardown(test_small_knobs, setup, emu_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

/* The emulator's vmcompute (v1) table driven directly: pending Create/Start with *Completed
 * notifications, sticky notifications, ProcessExited + GetProcessProperties, synchronous
 * state errors and the v1 error forms. */
#include "emu-test.h"

static struct cow__vmcompute_api api;

static int setup(void **state)
{
  (void)state;
  rec_reset();
  assert_int_equal(cow__emu_vmcompute_api(&api), 0);
  emu_fds_before = count_fds();
  return 0;
}

static HCS_SYSTEM create_started(const char *id, uintptr_t ctx, HCS_CALLBACK *cb)
{
  char cfg[256];
  snprintf(cfg, sizeof(cfg), "{\"SystemType\":\"Container\",\"Name\":\"%s\",\"Owner\":\"t\"}", id);
  uint16_t *wid = W(id), *wcfg = W(cfg);
  HCS_SYSTEM cs = NULL;
  PWSTR result = NULL;
  HRESULT hr = api.HcsCreateComputeSystem(wid, wcfg, NULL, &cs, &result);
  assert_int_equal((uint32_t)hr, 0xC0370103u); /* pending */
  assert_non_null(cs);
  assert_null(result);
  /* Registered after Create returned: SystemCreateCompleted must still arrive. */
  assert_int_equal(api.HcsRegisterComputeSystemCallback(cs, rec_v1_cb, (void *)ctx, cb), 0);
  int i = rec_wait(ctx, HcsNotificationSystemCreateCompleted, 10000);
  assert_true(i >= 0);
  assert_int_equal(recs[ctx].ev[i].status, 0);
  assert_true(recs[ctx].ev[i].other_thread);
  assert_int_equal((uint32_t)api.HcsStartComputeSystem(cs, NULL, &result), 0xC0370103u);
  i = rec_wait(ctx, HcsNotificationSystemStartCompleted, 10000);
  assert_true(i >= 0);
  assert_int_equal(recs[ctx].ev[i].status, 0);
  wfree(wid);
  wfree(wcfg);
  return cs;
}

static void test_v1_process_exit(void **state)
{
  (void)state;
  HCS_CALLBACK scb = NULL;
  HCS_SYSTEM cs = create_started("v1-exit", 1, &scb);
  uint16_t *params = W("{\"CommandLine\":\"/bin/sh -c \\\"echo out; echo err >&2; exit 3\\\"\","
                       "\"CreateStdInPipe\":false,\"CreateStdOutPipe\":true,"
                       "\"CreateStdErrPipe\":true,\"ConsoleSize\":[0,0]}");
  HCS_PROCESS_INFORMATION pi;
  HCS_PROCESS p = NULL;
  PWSTR result = NULL;
  assert_int_equal(api.HcsCreateProcess(cs, params, &pi, &p, &result), 0);
  wfree(params);
  char buf[64];
  int out = cow__emu_handle_fd(pi.StdOutput), err = cow__emu_handle_fd(pi.StdError);
  assert_int_equal(read_all(out, buf, sizeof(buf)), 4);
  assert_string_equal(buf, "out\n");
  assert_int_equal(read_all(err, buf, sizeof(buf)), 4);
  assert_string_equal(buf, "err\n");
  close(out);
  close(err);
  HCS_CALLBACK pcb = NULL;
  assert_int_equal(api.HcsRegisterProcessCallback(p, rec_v1_cb, (void *)2, &pcb), 0);
  int i = rec_wait(2, HcsNotificationProcessExited, 10000);
  assert_true(i >= 0);
  assert_int_equal(json_int_of(recs[2].ev[i].data, "ExitCode"), 3);
  /* hcsshim v1 reads the exit code here, after ProcessExited. */
  PWSTR props = NULL;
  assert_int_equal(api.HcsGetProcessProperties(p, &props, &result), 0);
  char *s = U8(props);
  assert_int_equal(json_int_of(s, "ExitCode"), 3);
  assert_int_equal(json_int_of(s, "LastWaitResult"), 0);
  cow__free(s);
  api.free_string(props);
  /* Terminate after exit: already stopped. */
  assert_int_equal((uint32_t)api.HcsTerminateProcess(p, &result), 0x8037011Fu);
  assert_non_null(result); /* ResultError */
  api.free_string(result);
  result = NULL;
  assert_int_equal(api.HcsUnregisterProcessCallback(pcb), 0);
  assert_int_equal(api.HcsCloseProcess(p), 0);
  assert_int_equal((uint32_t)api.HcsCloseProcess(p), 0x80070006u);
  /* Shutdown: pending, then SystemExited with S_OK; again: 0xC0370110 synchronously. */
  assert_int_equal((uint32_t)api.HcsShutdownComputeSystem(cs, NULL, &result), 0xC0370103u);
  i = rec_wait(1, HcsNotificationSystemExited, 10000);
  assert_true(i >= 0);
  assert_int_equal(recs[1].ev[i].status, 0);
  assert_int_equal((uint32_t)api.HcsShutdownComputeSystem(cs, NULL, &result), 0xC0370110u);
  api.free_string(result);
  result = NULL;
  assert_int_equal((uint32_t)api.HcsStartComputeSystem(cs, NULL, &result), 0xC0370105u);
  api.free_string(result);
  PWSTR p2 = NULL;
  result = NULL;
  assert_int_equal(api.HcsGetComputeSystemProperties(cs, NULL, &p2, &result), 0);
  s = U8(p2);
  assert_true(json_str_is(s, "State", "Stopped"));
  assert_true(json_str_is(s, "ExitType", "GracefulExit"));
  cow__free(s);
  api.free_string(p2);
  assert_int_equal(rec_count(1, HcsNotificationSystemExited), 1);
  assert_int_equal(api.HcsUnregisterComputeSystemCallback(scb), 0);
  assert_int_equal(api.HcsCloseComputeSystem(cs), 0);
}

static void test_v1_errors(void **state)
{
  (void)state;
  HCS_CALLBACK scb = NULL;
  HCS_SYSTEM cs = create_started("v1-err", 3, &scb);
  PWSTR result = NULL;
  uint16_t *wid = W("v1-err"), *cfg = W("{\"SystemType\":\"Container\"}"), *bad = W("[]"),
           *vm = W("{\"SystemType\":\"VirtualMachine\"}"), *other = W("v1-other");
  HCS_SYSTEM x = NULL;
  assert_int_equal((uint32_t)api.HcsCreateComputeSystem(wid, cfg, NULL, &x, &result), 0xC037010Fu);
  assert_null(x);
  api.free_string(result);
  result = NULL;
  assert_int_equal((uint32_t)api.HcsCreateComputeSystem(other, bad, NULL, &x, &result),
                   0xC037010Du);
  api.free_string(result);
  result = NULL;
  assert_int_equal((uint32_t)api.HcsCreateComputeSystem(other, vm, NULL, &x, &result), 0x80070032u);
  api.free_string(result);
  result = NULL;
  assert_int_equal((uint32_t)api.HcsOpenComputeSystem(other, &x, &result), 0xC037010Eu);
  api.free_string(result);
  result = NULL;
  /* A second handle with its own registration gets its own SystemExited. */
  HCS_SYSTEM cs2 = NULL;
  HCS_CALLBACK cb2 = NULL;
  assert_int_equal(api.HcsOpenComputeSystem(wid, &cs2, NULL), 0);
  assert_int_equal(api.HcsRegisterComputeSystemCallback(cs2, rec_v1_cb, (void *)4, &cb2), 0);
  HCS_CALLBACK cb3 = NULL;
  assert_int_equal((uint32_t)api.HcsRegisterComputeSystemCallback(cs2, rec_v1_cb, (void *)5, &cb3),
                   0x800700B7u);
  /* Processes: OpenProcess of an unknown pid, GetProcessInfo duplicates, signals. */
  HCS_PROCESS p = NULL;
  assert_int_equal((uint32_t)api.HcsOpenProcess(cs, 999999, &p, NULL), 0x80070490u);
  uint16_t *params = W("{\"CommandArgs\":[\"/bin/sleep\",\"1000\"],\"CreateStdInPipe\":true}");
  HCS_PROCESS_INFORMATION pi, pi2;
  assert_int_equal(api.HcsCreateProcess(cs, params, &pi, &p, NULL), 0);
  wfree(params);
  assert_null(pi.StdOutput);
  assert_int_equal(api.HcsGetProcessInfo(p, &pi2, NULL), 0);
  assert_true(cow__emu_handle_fd(pi2.StdInput) >= 3);
  close(cow__emu_handle_fd(pi2.StdInput));
  close(cow__emu_handle_fd(pi.StdInput));
  HCS_CALLBACK pcb = NULL;
  assert_int_equal(api.HcsRegisterProcessCallback(p, rec_v1_cb, (void *)6, &pcb), 0);
  uint16_t *sig = W("{\"Signal\":\"CtrlC\"}");
  assert_int_equal(api.HcsSignalProcess(p, sig, NULL), 0);
  wfree(sig);
  int i = rec_wait(6, HcsNotificationProcessExited, 10000);
  assert_true(i >= 0);
  assert_int_equal(json_int_of(recs[6].ev[i].data, "ExitCode"), 128 + 2); /* SIGINT */
  assert_int_equal(api.HcsUnregisterProcessCallback(pcb), 0);
  assert_int_equal(api.HcsCloseProcess(p), 0);
  /* Terminate: both handles see SystemExited exactly once. */
  assert_int_equal((uint32_t)api.HcsTerminateComputeSystem(cs, NULL, NULL), 0xC0370103u);
  assert_true(rec_wait(3, HcsNotificationSystemExited, 10000) >= 0);
  assert_true(rec_wait(4, HcsNotificationSystemExited, 10000) >= 0);
  assert_int_equal(rec_count(4, HcsNotificationSystemExited), 1);
  assert_int_equal(api.HcsUnregisterComputeSystemCallback(cb2), 0);
  assert_int_equal(api.HcsCloseComputeSystem(cs2), 0);
  assert_int_equal(api.HcsUnregisterComputeSystemCallback(scb), 0);
  assert_int_equal((uint32_t)api.HcsUnregisterComputeSystemCallback(scb), 0x80070006u);
  assert_int_equal(api.HcsCloseComputeSystem(cs), 0);
  wfree(wid);
  wfree(cfg);
  wfree(bad);
  wfree(vm);
  wfree(other);
}

/* v1-sync knob: Create and Start complete inline with S_OK. Also Enumerate. */
static void test_v1_sync(void **state)
{
  (void)state;
  assert_int_equal(cow__emu_parse_faults("v1-sync"), 0);
  uint16_t *wid = W("v1-sync"), *cfg = W("{\"SystemType\":\"Container\",\"Owner\":\"o1\"}");
  HCS_SYSTEM cs = NULL;
  assert_int_equal(api.HcsCreateComputeSystem(wid, cfg, NULL, &cs, NULL), 0);
  assert_int_equal(api.HcsStartComputeSystem(cs, NULL, NULL), 0);
  PWSTR list = NULL;
  uint16_t *q = W("{\"Owners\":[\"o1\"]}");
  assert_int_equal(api.HcsEnumerateComputeSystems(q, &list, NULL), 0);
  char *s = U8(list);
  json_t *j = json_loads(s, 0, NULL);
  assert_int_equal(json_array_size(j), 1);
  assert_string_equal(json_string_value(json_object_get(json_array_get(j, 0), "State")), "Running");
  json_decref(j);
  cow__free(s);
  api.free_string(list);
  wfree(q);
  HCS_CALLBACK cb = NULL;
  assert_int_equal(api.HcsRegisterComputeSystemCallback(cs, rec_v1_cb, (void *)1, &cb), 0);
  assert_int_equal((uint32_t)api.HcsTerminateComputeSystem(cs, NULL, NULL), 0xC0370103u);
  assert_true(rec_wait(1, HcsNotificationSystemExited, 10000) >= 0);
  /* No *Completed notification for inline completions. */
  assert_int_equal(rec_count(1, HcsNotificationSystemCreateCompleted), 0);
  assert_int_equal(api.HcsUnregisterComputeSystemCallback(cb), 0);
  assert_int_equal(api.HcsCloseComputeSystem(cs), 0);
  wfree(wid);
  wfree(cfg);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_v1_process_exit, setup, emu_teardown),
      cmocka_unit_test_setup_teardown(test_v1_errors, setup, emu_teardown),
      cmocka_unit_test_setup_teardown(test_v1_sync, setup, emu_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

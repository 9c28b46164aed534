/* The emulator's computecore (v2) table driven directly: systems, processes, stdio, pty,
 * signals, state errors, sticky events, and clean shutdown of the emulator. */
#include <signal.h>
#include <sys/wait.h>

#include "emu-test.h"
#include "core/stats.h"

static struct cow__computecore_api api;

static const char *const CONTAINER =
    "{\"Owner\":\"test\",\"SchemaVersion\":{\"Major\":2,\"Minor\":1},\"Container\":{}}";

static int setup(void **state)
{
  (void)state;
  rec_reset();
  assert_int_equal(cow__emu_computecore_api(&api), 0);
  emu_fds_before = count_fds();
  return 0;
}

/* Run one operation-based call to completion (the call uses `rop`); returns its HRESULT,
 * *doc (may be NULL) the result document. The comma operator sequences the creation of
 * rop before the call. */
static HCS_OPERATION rop;
static HRESULT run_end(HRESULT hr, char **doc)
{
  PWSTR d = NULL;
  if (hr >= 0)
    hr = api.HcsWaitForOperationResult(rop, 20000, &d);
  else
    api.HcsGetOperationResult(rop, &d);
  if (doc != NULL)
    *doc = U8(d);
  api.free_string(d);
  api.HcsCloseOperation(rop);
  rop = NULL;
  return hr;
}
#define RUN(doc, call) (rop = api.HcsCreateOperation(NULL, NULL), run_end((call), (doc)))

static HCS_SYSTEM new_system(const char *id, int start)
{
  uint16_t *wid = W(id), *cfg = W(CONTAINER);
  HCS_SYSTEM cs = NULL;
  assert_int_equal(RUN(NULL, api.HcsCreateComputeSystem(wid, cfg, rop, NULL, &cs)), 0);
  assert_non_null(cs);
  if (start)
    assert_int_equal(RUN(NULL, api.HcsStartComputeSystem(cs, rop, NULL)), 0);
  wfree(wid);
  wfree(cfg);
  return cs;
}

static HCS_PROCESS new_process(HCS_SYSTEM cs, const char *params, HCS_PROCESS_INFORMATION *pi)
{
  uint16_t *wp = W(params);
  HCS_PROCESS p = NULL;
  HCS_OPERATION op = api.HcsCreateOperation(NULL, NULL);
  assert_int_equal(api.HcsCreateProcess(cs, wp, op, NULL, &p), 0);
  assert_non_null(p);
  PWSTR doc = NULL;
  assert_int_equal(api.HcsWaitForOperationResultAndProcessInfo(op, 20000, pi, &doc), 0);
  api.free_string(doc);
  api.HcsCloseOperation(op);
  wfree(wp);
  return p;
}

static void close_fd_handle(HANDLE h)
{
  int fd = cow__emu_handle_fd(h);
  if (fd >= 0)
    assert_int_equal(close(fd), 0);
}

static void terminate_and_close(HCS_SYSTEM cs)
{
  HRESULT hr = RUN(NULL, api.HcsTerminateComputeSystem(cs, rop, NULL));
  assert_true(hr == 0 || (uint32_t)hr == 0x80370110u);
  api.HcsCloseComputeSystem(cs);
}

static void test_exit_code_and_stdio(void **state)
{
  (void)state;
  HCS_SYSTEM cs = new_system("v2-exit", 1);
  assert_int_equal(api.HcsSetComputeSystemCallback(cs, HcsEventOptionNone, (void *)1, rec_v2_cb),
                   0);
  HCS_PROCESS_INFORMATION pi;
  HCS_PROCESS p =
      new_process(cs,
                  "{\"CommandLine\":\"/bin/sh -c \\\"echo out; echo err >&2; exit 3\\\"\","
                  "\"CreateStdOutPipe\":true,\"CreateStdErrPipe\":true}",
                  &pi);
  assert_true(pi.ProcessId > 0);
  assert_null(pi.StdInput); /* not requested */
  int out = cow__emu_handle_fd(pi.StdOutput), err = cow__emu_handle_fd(pi.StdError);
  assert_true(out >= 3 && err >= 3);
  assert_true(fcntl(out, F_GETFD) & FD_CLOEXEC);
  char buf[256];
  assert_int_equal(read_all(out, buf, sizeof(buf)), 4);
  assert_string_equal(buf, "out\n");
  assert_int_equal(read_all(err, buf, sizeof(buf)), 4);
  assert_string_equal(buf, "err\n");
  close(out);
  close(err);
  /* The process has probably exited already: the event is queued until registration. */
  assert_int_equal(api.HcsSetProcessCallback(p, HcsEventOptionNone, (void *)2, rec_v2_cb), 0);
  int i = rec_wait(2, HcsEventProcessExited, 10000);
  assert_true(i >= 0);
  assert_true(recs[2].ev[i].other_thread); /* posted from the emulator's thread */
  assert_int_equal(json_int_of(recs[2].ev[i].data, "ExitCode"), 3);
  assert_int_equal(json_int_of(recs[2].ev[i].data, "LastWaitResult"), 0);
  assert_int_equal(json_int_of(recs[2].ev[i].data, "ProcessId"), pi.ProcessId);
  char *doc = NULL;
  assert_int_equal(RUN(&doc, api.HcsGetProcessProperties(p, rop, NULL)), 0);
  assert_int_equal(json_int_of(doc, "ExitCode"), 3);
  cow__free(doc);
  PWSTR st = NULL;
  assert_int_equal(api.HcsWaitForProcessExit(p, 1000, &st), 0);
  api.free_string(st);
  /* A container does not stop when its processes exit. */
  assert_int_equal(RUN(&doc, api.HcsGetComputeSystemProperties(cs, rop, NULL)), 0);
  assert_true(json_str_is(doc, "State", "Running"));
  cow__free(doc);
  api.HcsCloseProcess(p);
  assert_int_equal(RUN(NULL, api.HcsShutDownComputeSystem(cs, rop, NULL)), 0);
  i = rec_wait(1, HcsEventSystemExited, 10000);
  assert_true(i >= 0);
  assert_true(json_str_is(recs[1].ev[i].data, "ExitType", "GracefulExit"));
  assert_int_equal(json_int_of(recs[1].ev[i].data, "Status"), 0);
  /* Shutdown of a stopped system: S_OK from the call, 0x80370110 as the result. */
  HCS_OPERATION op = api.HcsCreateOperation(NULL, NULL);
  assert_int_equal(api.HcsShutDownComputeSystem(cs, op, NULL), 0);
  assert_int_equal((uint32_t)api.HcsWaitForOperationResult(op, 5000, NULL), 0x80370110u);
  api.HcsCloseOperation(op);
  assert_int_equal(rec_count(1, HcsEventSystemExited), 1); /* exactly once */
  api.HcsCloseComputeSystem(cs);
}

static void test_console_resize(void **state)
{
  (void)state;
  HCS_SYSTEM cs = new_system("v2-console", 1);
  HCS_PROCESS_INFORMATION pi;
  HCS_PROCESS p = new_process(cs,
                              "{\"CommandArgs\":[\"/bin/sh\",\"-c\",\"stty size; read x; stty "
                              "size; exit 5\"],\"EmulateConsole\":true,\"ConsoleSize\":[24,80],"
                              "\"CreateStdInPipe\":true,\"CreateStdOutPipe\":true,"
                              "\"CreateStdErrPipe\":true}",
                              &pi);
  assert_true(pi.StdError == NULL || pi.StdError == INVALID_HANDLE_VALUE); /* merged */
  int in = cow__emu_handle_fd(pi.StdInput), out = cow__emu_handle_fd(pi.StdOutput);
  assert_true(in >= 3 && out >= 3);
  assert_true(isatty(out));
  char buf[4096] = "";
  size_t len = 0;
  assert_true(read_until(out, buf, sizeof(buf), &len, "24 80"));
  uint16_t *req =
      W("{\"Operation\":\"ConsoleSize\",\"ConsoleSize\":{\"Height\":30,\"Width\":100}}");
  assert_int_equal(RUN(NULL, api.HcsModifyProcess(p, rop, req)), 0);
  wfree(req);
  assert_int_equal(write(in, "\n", 1), 1);
  assert_true(read_until(out, buf, sizeof(buf), &len, "30 100"));
  assert_int_equal(api.HcsWaitForProcessExit(p, 10000, NULL), 0);
  char *doc = NULL;
  assert_int_equal(RUN(&doc, api.HcsGetProcessProperties(p, rop, NULL)), 0);
  assert_int_equal(json_int_of(doc, "ExitCode"), 5);
  cow__free(doc);
  /* Resize after exit fails; so does resizing a process without a console. */
  req = W("{\"Operation\":\"ConsoleSize\",\"ConsoleSize\":{\"Height\":1,\"Width\":1}}");
  assert_int_equal((uint32_t)RUN(NULL, api.HcsModifyProcess(p, rop, req)), 0x8037011Fu);
  HCS_PROCESS_INFORMATION pi2;
  HCS_PROCESS p2 = new_process(cs, "{\"CommandArgs\":[\"/bin/sleep\",\"1000\"]}", &pi2);
  assert_int_equal((uint32_t)RUN(NULL, api.HcsModifyProcess(p2, rop, req)), 0x80370105u);
  wfree(req);
  close(in);
  close(out);
  api.HcsCloseProcess(p);
  api.HcsCloseProcess(p2);
  terminate_and_close(cs); /* kills the sleep */
}

static void test_signal_terminate(void **state)
{
  (void)state;
  HCS_SYSTEM cs = new_system("v2-signal", 1);
  HCS_PROCESS_INFORMATION pi;
  HCS_PROCESS p = new_process(cs, "{\"CommandArgs\":[\"/bin/sleep\",\"1000\"]}", &pi);
  assert_int_equal(api.HcsSetProcessCallback(p, HcsEventOptionNone, (void *)3, rec_v2_cb), 0);
  uint16_t *sig = W("{\"Signal\":15}");
  assert_int_equal(RUN(NULL, api.HcsSignalProcess(p, rop, sig)), 0);
  int i = rec_wait(3, HcsEventProcessExited, 10000);
  assert_true(i >= 0);
  assert_int_equal(json_int_of(recs[3].ev[i].data, "ExitCode"), 128 + 15);
  /* Signal after exit: already stopped. Open of an exited pid: element not found. */
  assert_int_equal((uint32_t)RUN(NULL, api.HcsSignalProcess(p, rop, sig)), 0x8037011Fu);
  HCS_PROCESS again = NULL;
  assert_int_equal((uint32_t)api.HcsOpenProcess(cs, pi.ProcessId, GENERIC_ALL, &again),
                   0x80070490u);
  assert_null(again);
  wfree(sig);
  api.HcsCloseProcess(p);

  /* Terminate through a second handle, as hcsshim's Kill does. */
  p = new_process(cs, "{\"CommandLine\":\"sleep 1000\"}", &pi);
  assert_int_equal(api.HcsSetProcessCallback(p, HcsEventOptionNone, (void *)4, rec_v2_cb), 0);
  uint16_t *wname = W("v2-signal");
  HCS_SYSTEM cs2 = NULL;
  assert_int_equal(api.HcsOpenComputeSystem(wname, GENERIC_ALL, &cs2), 0);
  wfree(wname);
  HCS_PROCESS p2 = NULL;
  assert_int_equal(api.HcsOpenProcess(cs2, pi.ProcessId, GENERIC_ALL, &p2), 0);
  assert_int_equal(api.HcsSetProcessCallback(p2, HcsEventOptionNone, (void *)5, rec_v2_cb), 0);
  uint16_t *bad = W("{\"Signal\":\"NoSuchSignal\"}");
  assert_int_equal((uint32_t)RUN(NULL, api.HcsSignalProcess(p2, rop, bad)), 0x80070057u);
  wfree(bad);
  assert_int_equal(RUN(NULL, api.HcsTerminateProcess(p2, rop, NULL)), 0);
  i = rec_wait(4, HcsEventProcessExited, 10000);
  assert_true(i >= 0);
  assert_int_equal(json_int_of(recs[4].ev[i].data, "ExitCode"), 137); /* documented */
  assert_true(rec_wait(5, HcsEventProcessExited, 10000) >= 0);        /* every handle */
  assert_int_equal((uint32_t)RUN(NULL, api.HcsTerminateProcess(p2, rop, NULL)), 0x8037011Fu);
  api.HcsCloseProcess(p2);
  api.HcsCloseComputeSystem(cs2); /* non-last handle: the system stays */
  char *doc = NULL;
  assert_int_equal(RUN(&doc, api.HcsGetComputeSystemProperties(cs, rop, NULL)), 0);
  assert_true(json_str_is(doc, "State", "Running"));
  cow__free(doc);
  api.HcsCloseProcess(p);
  terminate_and_close(cs);
}

static void test_states_and_errors(void **state)
{
  (void)state;
  HCS_SYSTEM cs = new_system("v2-state", 0);
  char *doc = NULL;
  /* Properties work before Start. */
  assert_int_equal(RUN(&doc, api.HcsGetComputeSystemProperties(cs, rop, NULL)), 0);
  assert_true(json_str_is(doc, "Id", "v2-state"));
  assert_true(json_str_is(doc, "SystemType", "Container"));
  assert_true(json_str_is(doc, "RuntimeOsType", "Linux"));
  assert_true(json_str_is(doc, "Owner", "test"));
  assert_true(json_str_is(doc, "State", "Created"));
  cow__free(doc);
  /* CreateProcess before Start. */
  uint16_t *params = W("{\"CommandLine\":\"true\"}");
  HCS_PROCESS p = (HCS_PROCESS)1;
  HCS_OPERATION op = api.HcsCreateOperation(NULL, NULL);
  assert_int_equal((uint32_t)api.HcsGetOperationResult(op, NULL), 0x80370115u);
  assert_int_equal((uint32_t)api.HcsWaitForOperationResult(op, 0, NULL), 0x80370115u);
  assert_int_equal((uint32_t)api.HcsCreateProcess(cs, params, op, NULL, &p), 0x80370105u);
  assert_null(p);
  api.HcsCloseOperation(op);
  /* Start twice. */
  assert_int_equal(RUN(NULL, api.HcsStartComputeSystem(cs, rop, NULL)), 0);
  uint16_t *empty = W("");
  assert_int_equal((uint32_t)RUN(&doc, api.HcsStartComputeSystem(cs, rop, empty)), 0x80370105u);
  assert_non_null(doc); /* a ResultError document */
  assert_int_equal((uint32_t)json_int_of(doc, "Error"), 0x80370105u);
  cow__free(doc);
  wfree(empty);
  /* An operation cannot be used twice. */
  op = api.HcsCreateOperation(NULL, NULL);
  assert_int_equal(api.HcsGetComputeSystemProperties(cs, op, NULL), 0);
  assert_int_equal((uint32_t)api.HcsGetComputeSystemProperties(cs, op, NULL), 0x80370116u);
  assert_int_equal(api.HcsWaitForOperationResult(op, INFINITE, NULL), 0);
  assert_int_equal((uint32_t)api.HcsCancelOperation(op), 0x80004001u);
  api.HcsCloseOperation(op);
  /* Duplicate id, unknown id, bad documents. */
  uint16_t *wid = W("v2-state"), *cfg = W(CONTAINER), *bad = W("{not json"),
           *vm = W("{\"VirtualMachine\":{}}"),
           *both = W("{\"Container\":{},\"VirtualMachine\":{}}"), *other = W("v2-other"),
           *unknown = W("nope");
  HCS_SYSTEM cs2 = (HCS_SYSTEM)1;
  assert_int_equal((uint32_t)RUN(NULL, api.HcsCreateComputeSystem(wid, cfg, rop, NULL, &cs2)),
                   0x8037010Fu);
  assert_null(cs2);
  assert_int_equal((uint32_t)RUN(NULL, api.HcsCreateComputeSystem(other, bad, rop, NULL, &cs2)),
                   0x8037010Du);
  assert_int_equal((uint32_t)RUN(NULL, api.HcsCreateComputeSystem(other, both, rop, NULL, &cs2)),
                   0x8037010Du);
  assert_int_equal((uint32_t)RUN(NULL, api.HcsCreateComputeSystem(other, vm, rop, NULL, &cs2)),
                   0x80070032u);
  assert_int_equal((uint32_t)api.HcsOpenComputeSystem(unknown, GENERIC_ALL, &cs2), 0x8037010Eu);
  wfree(wid);
  wfree(cfg);
  wfree(bad);
  wfree(vm);
  wfree(both);
  wfree(other);
  /* Bad process parameters: invalid JSON, missing program, relative cwd, no such file. */
  static const struct {
    const char *json;
    uint32_t hr;
  } bad_params[] = {
      {"[1]", 0x8037010Du},
      {"{}", 0x80070057u},
      {"{\"CommandLine\":\"true\",\"WorkingDirectory\":\"C:\\\\x\"}", 0x80070057u},
      {"{\"CommandLine\":\"/no/such/program\"}", 0x80070002u},
      {"{\"CommandLine\":\"true\",\"WorkingDirectory\":\"/no/such/dir\"}", 0x80070003u},
      {"{\"CommandArgs\":[1]}", 0x8037010Du},
  };
  for (size_t k = 0; k < sizeof(bad_params) / sizeof(bad_params[0]); k++) {
    uint16_t *w = W(bad_params[k].json);
    p = (HCS_PROCESS)1;
    assert_int_equal((uint32_t)RUN(NULL, api.HcsCreateProcess(cs, w, rop, NULL, &p)),
                     bad_params[k].hr);
    assert_null(p);
    wfree(w);
  }
  wfree(params);
  /* Shutdown, then everything that needs a running system. */
  assert_int_equal(RUN(NULL, api.HcsTerminateComputeSystem(cs, rop, NULL)), 0);
  assert_int_equal(api.HcsWaitForComputeSystemExit(cs, 5000, NULL), 0);
  assert_int_equal(RUN(&doc, api.HcsGetComputeSystemProperties(cs, rop, NULL)), 0);
  assert_true(json_str_is(doc, "State", "Stopped"));
  assert_true(json_str_is(doc, "ExitType", "ForcedExit"));
  cow__free(doc);
  assert_int_equal((uint32_t)RUN(NULL, api.HcsStartComputeSystem(cs, rop, NULL)), 0x80370105u);
  assert_int_equal((uint32_t)RUN(NULL, api.HcsTerminateComputeSystem(cs, rop, NULL)), 0x80370110u);
  /* A stopped system disappears with its last handle. */
  uint16_t *sid = W("v2-state");
  HCS_SYSTEM cs3 = NULL;
  assert_int_equal(api.HcsOpenComputeSystem(sid, GENERIC_ALL, &cs3), 0);
  api.HcsCloseComputeSystem(cs3);
  api.HcsCloseComputeSystem(cs);
  /* Closed handles are invalid. */
  op = api.HcsCreateOperation(NULL, NULL);
  assert_int_equal((uint32_t)api.HcsStartComputeSystem(cs, op, NULL), 0x80070006u);
  assert_int_equal((uint32_t)api.HcsOpenComputeSystem(sid, GENERIC_ALL, &cs3), 0x8037010Eu);
  api.HcsCloseOperation(op);
  wfree(sid);
  wfree(unknown);
}

static void test_stdin_close_and_properties(void **state)
{
  (void)state;
  HCS_SYSTEM cs = new_system("v2-stdin", 1);
  HCS_PROCESS_INFORMATION pi;
  HCS_PROCESS p = new_process(cs,
                              "{\"CommandLine\":\"cat\",\"Environment\":{\"X\":\"\xC3\xA9\"},"
                              "\"WorkingDirectory\":\"/\",\"CreateStdInPipe\":true,"
                              "\"CreateStdOutPipe\":true}",
                              &pi);
  int in = cow__emu_handle_fd(pi.StdInput), out = cow__emu_handle_fd(pi.StdOutput);
  char *doc = NULL;
  uint16_t *q = W("{\"PropertyTypes\":[\"ProcessList\",\"Statistics\"]}");
  assert_int_equal(RUN(&doc, api.HcsGetComputeSystemProperties(cs, rop, q)), 0);
  wfree(q);
  json_t *j = json_loads(doc, 0, NULL);
  json_t *list = json_object_get(j, "ProcessList");
  assert_int_equal(json_array_size(list), 1);
  assert_int_equal(json_integer_value(json_object_get(json_array_get(list, 0), "ProcessId")),
                   pi.ProcessId);
  assert_string_equal(json_string_value(json_object_get(json_array_get(list, 0), "ImageName")),
                      "cat");
  assert_non_null(json_object_get(json_object_get(j, "Statistics"), "Processor"));
  json_decref(j);
  cow__free(doc);
  /* GetProcessInfo gives fresh duplicates the caller owns. */
  HCS_OPERATION op = api.HcsCreateOperation(NULL, NULL);
  assert_int_equal(api.HcsGetProcessInfo(p, op), 0);
  HCS_PROCESS_INFORMATION pi2;
  assert_int_equal(api.HcsWaitForOperationResultAndProcessInfo(op, 5000, &pi2, NULL), 0);
  assert_int_equal(pi2.ProcessId, pi.ProcessId);
  assert_true(cow__emu_handle_fd(pi2.StdInput) >= 3 && pi2.StdInput != pi.StdInput);
  assert_null(pi2.StdError);
  api.HcsCloseOperation(op);
  close_fd_handle(pi2.StdInput);
  close_fd_handle(pi2.StdOutput);
  assert_int_equal(write(in, "hello", 5), 5);
  /* CloseHandle StdIn gives cat EOF although we still hold `in`. */
  uint16_t *m = W("{\"Operation\":\"CloseHandle\",\"CloseHandle\":{\"Handle\":\"StdIn\"}}");
  assert_int_equal(RUN(NULL, api.HcsModifyProcess(p, rop, m)), 0);
  wfree(m);
  char buf[64];
  assert_int_equal(read_all(out, buf, sizeof(buf)), 5);
  assert_string_equal(buf, "hello");
  PWSTR st = NULL;
  assert_int_equal(api.HcsWaitForProcessExit(p, 10000, &st), 0);
  char *s = U8(st);
  assert_int_equal(json_int_of(s, "ExitCode"), 0);
  cow__free(s);
  api.free_string(st);
  close(in);
  close(out);
  api.HcsCloseProcess(p);
  terminate_and_close(cs);
}

/* A process whose executable's name is not UTF-8 (the kernel keeps bytes) is listed, its
 * ImageName with U+FFFD for each such byte: jansson refuses the raw name, and the process
 * used to vanish from the list (json_pack's NULL appended, the failure ignored). */
static void test_image_name_not_utf8(void **state)
{
  (void)state;
  char dir[] = "/tmp/cow-emu-comm-XXXXXX", link_path[64];
  assert_non_null(mkdtemp(dir));
  snprintf(link_path, sizeof link_path, "%s/\xff", dir);
  assert_int_equal(symlink("/bin/sleep", link_path), 0);
  HCS_SYSTEM cs = new_system("v2-comm", 1);
  char params[256];
  snprintf(
      params, sizeof params,
      "{\"CommandArgs\":[\"/bin/sh\",\"-c\",\"exec \\\"$0/$(printf '\\\\377')\\\" 30\",\"%s\"]}",
      dir);
  HCS_PROCESS_INFORMATION pi;
  HCS_PROCESS p = new_process(cs, params, &pi);
  /* The shell execs the link: its comm becomes the one byte 0xff. */
  char path[64], comm[32] = "";
  snprintf(path, sizeof path, "/proc/%u/comm", (unsigned)pi.ProcessId);
  struct timespec t0, now, pause = {0, 10 * 1000 * 1000};
  clock_gettime(CLOCK_MONOTONIC, &t0);
  for (;;) {
    FILE *f = fopen(path, "r");
    if (f != NULL) {
      if (fgets(comm, sizeof comm, f) == NULL)
        comm[0] = '\0';
      fclose(f);
    }
    if (strcmp(comm, "\xff\n") == 0)
      break;
    clock_gettime(CLOCK_MONOTONIC, &now);
    if (now.tv_sec - t0.tv_sec > 20)
      fail_msg("process %u never exec'd %s (comm \"%s\")", (unsigned)pi.ProcessId, link_path, comm);
    nanosleep(&pause, NULL);
  }
  char *doc = NULL;
  uint16_t *q = W("{\"PropertyTypes\":[\"ProcessList\"]}");
  assert_int_equal(RUN(&doc, api.HcsGetComputeSystemProperties(cs, rop, q)), 0);
  wfree(q);
  json_t *j = json_loads(doc, 0, NULL);
  json_t *list = json_object_get(j, "ProcessList");
  if (json_array_size(list) != 1)
    fail_msg("the process is not listed: %s", doc);
  assert_int_equal(json_integer_value(json_object_get(json_array_get(list, 0), "ProcessId")),
                   pi.ProcessId);
  assert_string_equal(json_string_value(json_object_get(json_array_get(list, 0), "ImageName")),
                      "\xef\xbf\xbd");
  json_decref(j);
  cow__free(doc);
  api.HcsCloseProcess(p);
  terminate_and_close(cs); /* kills the sleep */
  assert_int_equal(unlink(link_path), 0);
  assert_int_equal(rmdir(dir), 0);
}

/* ProcessList and Statistics cover the system's whole process tree from /proc: a child the
 * started process forked (never started through the DLL) is listed with its command name, and
 * the Statistics carry a parseable Timestamp and the resident memory of the tree. */
static void test_process_tree_properties(void **state)
{
  (void)state;
  HCS_SYSTEM cs = new_system("v2-tree", 1);
  HCS_PROCESS_INFORMATION pi;
  HCS_PROCESS p = new_process(
      cs,
      "{\"CommandLine\":\"/bin/sh -c \\\"sleep 30 & echo $!; wait\\\"\",\"CreateStdOutPipe\":true}",
      &pi);
  int out = cow__emu_handle_fd(pi.StdOutput);
  char line[32];
  size_t got = 0;
  while (got < sizeof line - 1 && (got == 0 || line[got - 1] != '\n')) {
    ssize_t r = read(out, line + got, 1);
    assert_true(r == 1); /* the child's pid, then the shell waits */
    got++;
  }
  line[got] = '\0';
  long child = strtol(line, NULL, 10);
  assert_true(child > 0);
  char *doc = NULL;
  uint16_t *q = W("{\"PropertyTypes\":[\"ProcessList\",\"Statistics\"]}");
  assert_int_equal(RUN(&doc, api.HcsGetComputeSystemProperties(cs, rop, q)), 0);
  wfree(q);
  json_t *j = json_loads(doc, 0, NULL);
  json_t *list = json_object_get(j, "ProcessList");
  int saw_shell = 0, saw_child = 0;
  size_t i;
  json_t *e;
  json_array_foreach(list, i, e)
  {
    json_int_t pid = json_integer_value(json_object_get(e, "ProcessId"));
    saw_shell |= pid == (json_int_t)pi.ProcessId;
    if (pid == child) {
      saw_child = 1;
      /* "sh" until the forked child has exec'd sleep: either way its command name */
      const char *image = json_string_value(json_object_get(e, "ImageName"));
      assert_true(image != NULL && (strcmp(image, "sh") == 0 || strcmp(image, "sleep") == 0));
    }
  }
  assert_true(saw_shell);
  assert_true(saw_child);
  json_t *st = json_object_get(j, "Statistics");
  cow_timestamp_t ts;
  assert_int_equal(cow__rfc3339_parse(json_string_value(json_object_get(st, "Timestamp")), &ts), 0);
  assert_true(ts.sec > 1700000000);
  assert_true(json_integer_value(json_object_get(json_object_get(st, "Memory"),
                                                 "MemoryUsagePrivateWorkingSetBytes")) > 0);
  json_decref(j);
  cow__free(doc);
  close(out);
  api.HcsCloseProcess(p);
  terminate_and_close(cs); /* the whole tree goes */
}

/* A process writes 100 MB and exits: every byte arrives, in order. */
static void test_large_output(void **state)
{
  (void)state;
  static const char line[] = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ\n";
  const size_t period = sizeof(line) - 1, total = 100u * 1024u * 1024u;
  HCS_SYSTEM cs = new_system("v2-big", 1);
  HCS_PROCESS_INFORMATION pi;
  HCS_PROCESS p = new_process(cs,
                              "{\"CommandLine\":\"/bin/sh -c \\\"yes "
                              "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ | "
                              "head -c 104857600\\\"\",\"CreateStdOutPipe\":true}",
                              &pi);
  int out = cow__emu_handle_fd(pi.StdOutput);
  static char buf[1 << 16];
  size_t got = 0, mismatches = 0;
  uint32_t sum = 0, want_sum = 0;
  for (;;) {
    ssize_t r = read(out, buf, sizeof(buf));
    if (r < 0 && errno == EINTR)
      continue;
    if (r <= 0)
      break;
    for (ssize_t k = 0; k < r; k++) {
      char want = line[(got + (size_t)k) % period];
      mismatches += buf[k] != want;
      sum = sum * 31u + (unsigned char)buf[k];
      want_sum = want_sum * 31u + (unsigned char)want;
    }
    got += (size_t)r;
  }
  assert_int_equal(got, total);
  assert_int_equal(mismatches, 0);
  assert_int_equal(sum, want_sum);
  close(out);
  assert_int_equal(api.HcsWaitForProcessExit(p, 20000, NULL), 0);
  api.HcsCloseProcess(p);
  terminate_and_close(cs);
}

/* Terminate-on-last-close kills the processes; closing a process handle does not. */
static void test_terminate_on_last_close(void **state)
{
  (void)state;
  uint16_t *wid = W("v2-toc"),
           *cfg = W("{\"ShouldTerminateOnLastHandleClosed\":true,\"Container\":{}}");
  HCS_SYSTEM cs = NULL;
  assert_int_equal(RUN(NULL, api.HcsCreateComputeSystem(wid, cfg, rop, NULL, &cs)), 0);
  assert_int_equal(RUN(NULL, api.HcsStartComputeSystem(cs, rop, NULL)), 0);
  HCS_PROCESS_INFORMATION pi;
  HCS_PROCESS p =
      new_process(cs, "{\"CommandLine\":\"sleep 1000\",\"CreateStdOutPipe\":true}", &pi);
  api.HcsCloseProcess(p);
  assert_int_equal(kill((pid_t)pi.ProcessId, 0), 0); /* still running */
  /* Keep an operation open so the emulator itself stays up while we watch. */
  HCS_OPERATION keep = api.HcsCreateOperation(NULL, NULL);
  api.HcsCloseComputeSystem(cs);
  char buf[16];
  assert_int_equal(read_all(cow__emu_handle_fd(pi.StdOutput), buf, sizeof(buf)), 0); /* EOF */
  close_fd_handle(pi.StdOutput);
  HCS_SYSTEM again = NULL;
  for (int k = 0; k < 200 && api.HcsOpenComputeSystem(wid, GENERIC_ALL, &again) == 0; k++) {
    api.HcsCloseComputeSystem(again);
    usleep(10000);
  }
  assert_int_equal((uint32_t)api.HcsOpenComputeSystem(wid, GENERIC_ALL, &again), 0x8037010Eu);
  api.HcsCloseOperation(keep);
  wfree(wid);
  wfree(cfg);
}

/* Completion callbacks fire once, on another thread; the operation may be closed inside. */
static int op_calls;
static void CALLBACK op_done(HCS_OPERATION op, void *ctx)
{
  rec_add((uintptr_t)ctx, 0x7777, 0, NULL);
  pthread_mutex_lock(&rec_mu);
  op_calls++;
  pthread_mutex_unlock(&rec_mu);
  PWSTR doc = NULL;
  if (api.HcsGetOperationResult(op, &doc) == 0)
    rec_add((uintptr_t)ctx, 0x8888, 0, doc);
  api.free_string(doc);
  api.HcsCloseOperation(op);
}

/* The emulated service lives in the host program: a program that dies (SIGKILL, no close)
 * takes its systems' processes with it (docs/hcs-api.md §6.5 item 15). */
static void test_processes_die_with_host(void **state)
{
  (void)state;
  int p[2];
  assert_int_equal(pipe(p), 0);
  pid_t host = fork();
  assert_true(host >= 0);
  if (host == 0) { /* the host program: a system and a process, then it is killed */
    close(p[0]);
    HCS_SYSTEM cs = new_system("dies-with-host", 1);
    HCS_PROCESS_INFORMATION pi;
    memset(&pi, 0, sizeof pi);
    new_process(cs, "{\"CommandArgs\":[\"sleep\",\"1000\"]}", &pi);
    int32_t pid = (int32_t)pi.ProcessId;
    if (write(p[1], &pid, sizeof pid) != (ssize_t)sizeof pid)
      _exit(1);
    raise(SIGKILL);
  }
  close(p[1]);
  int32_t child = 0;
  assert_int_equal(read(p[0], &child, sizeof child), (ssize_t)sizeof child);
  close(p[0]);
  int st;
  assert_int_equal(waitpid(host, &st, 0), host);
  assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
  /* The orphan goes to init (or a subreaper), which reaps it: gone, or a zombie meanwhile. */
  char path[64], buf[512];
  snprintf(path, sizeof path, "/proc/%d/stat", (int)child);
  int alive = 1;
  for (int i = 0; i < 1000 && alive; i++) { /* 10 s */
    FILE *f = fopen(path, "r");
    char *rp = f != NULL && fgets(buf, sizeof buf, f) != NULL ? strrchr(buf, ')') : NULL;
    alive = rp != NULL && rp[2] != 'Z';
    if (f != NULL)
      fclose(f);
    if (alive)
      usleep(10000);
  }
  if (alive)
    kill((pid_t)child, SIGKILL);
  if (alive)
    fail_msg("the system's process %d outlived the program that hosted the service", (int)child);
}

static void test_operation_callback(void **state)
{
  (void)state;
  HCS_SYSTEM cs = new_system("v2-opcb", 1);
  HCS_OPERATION op = api.HcsCreateOperation((void *)6, op_done);
  assert_int_equal(api.HcsGetOperationContext(op), (void *)6);
  assert_int_equal(api.HcsGetComputeSystemProperties(cs, op, NULL), 0);
  int i = rec_wait(6, 0x8888, 10000);
  assert_true(i >= 0);
  assert_true(recs[6].ev[i].other_thread);
  assert_true(json_str_is(recs[6].ev[i].data, "Id", "v2-opcb"));
  usleep(50000);
  assert_int_equal(op_calls, 1);
  /* Operation events on the system callback instead. */
  assert_int_equal(api.HcsSetComputeSystemCallback(cs, HcsEventOptionEnableOperationCallbacks,
                                                   (void *)7, rec_v2_cb),
                   0);
  HCS_OPERATION op2 = api.HcsCreateOperation(NULL, op_done);
  assert_int_equal((uint32_t)api.HcsGetComputeSystemProperties(cs, op2, NULL), 0x80370119u);
  api.HcsCloseOperation(op2);
  op2 = api.HcsCreateOperation(NULL, NULL);
  assert_int_equal(api.HcsGetComputeSystemProperties(cs, op2, NULL), 0);
  assert_true(rec_wait(7, HcsEventOperationCallback, 10000) >= 0);
  assert_int_equal(api.HcsWaitForOperationResult(op2, 1000, NULL), 0);
  api.HcsCloseOperation(op2);
  terminate_and_close(cs);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_exit_code_and_stdio, setup, emu_teardown),
      cmocka_unit_test_setup_teardown(test_console_resize, setup, emu_teardown),
      cmocka_unit_test_setup_teardown(test_signal_terminate, setup, emu_teardown),
      cmocka_unit_test_setup_teardown(test_states_and_errors, setup, emu_teardown),
      cmocka_unit_test_setup_teardown(test_stdin_close_and_properties, setup, emu_teardown),
      cmocka_unit_test_setup_teardown(test_process_tree_properties, setup, emu_teardown),
      cmocka_unit_test_setup_teardown(test_image_name_not_utf8, setup, emu_teardown),
      cmocka_unit_test_setup_teardown(test_large_output, setup, emu_teardown),
      cmocka_unit_test_setup_teardown(test_terminate_on_last_close, setup, emu_teardown),
      cmocka_unit_test_setup_teardown(test_operation_callback, setup, emu_teardown),
      cmocka_unit_test_setup_teardown(test_processes_die_with_host, setup, emu_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

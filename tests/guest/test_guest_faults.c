/* The guest connection against cow-gcs-peer's fault switches and against a peer killed
 * at arbitrary points: every callback runs exactly once, the cause is retrievable, later
 * calls fail at once, no handle leaks (uv_loop_close() == 0 in fx_teardown). Also the RPC
 * failure timeout (R1), and the two big-load tests. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "guest/fixture.h"

static char *sh_params(const char *script, int in, int out, int err)
{
  const char *argv[] = {"sh", "-c", script, NULL};
  return fx_params(argv, in, out, err, 0);
}

#define NPROC 12

/* Start NPROC processes with stdio (some long-running), a wait and a signal each. */
static void start_load(fx_t *fx, fx_proc_t *pr, int n)
{
  for (int i = 0; i < n; i++) {
    char script[64];
    snprintf(script, sizeof script, i % 2 ? "sleep 100" : "echo x%d; exit %d", i, i);
    char *cfg = sh_params(script, i % 3 == 0, 1, 1);
    int rc = fx_proc_start(&pr[i], fx, fx->host, cfg);
    free(cfg);
    if (rc != 0) {
      /* The bridge died already: refused at once, no callback. */
      assert_int_equal(rc, COW_EBRIDGE_CLOSED);
      pr[i].p = NULL;
    }
  }
}

/* Every started process: create called once; wait called once (EBRIDGE_CLOSED unless it
 * exited normally before the drop); then close them all. */
static void finish_load(fx_t *fx, fx_proc_t *pr, int n)
{
  for (int i = 0; i < n; i++) {
    if (pr[i].p == NULL)
      continue;
    assert_true(fx_run_until(fx, &pr[i].wait_calls, 10000));
    assert_int_equal(pr[i].create_calls, 1);
    assert_int_equal(pr[i].wait_calls, 1);
    if (pr[i].wait_status != 0) {
      assert_true(pr[i].wait_status == COW_EBRIDGE_CLOSED);
      assert_int_equal(pr[i].exit_code, -1);
    }
    fx_proc_close(&pr[i]);
    assert_int_equal(pr[i].create_calls, 1);
    assert_int_equal(pr[i].wait_calls, 1);
  }
}

static int proc_cb_calls, proc_cb_status;
static void on_proc_cb(cow_process_t *p, int status, const cow_error_t *err, void *data)
{
  (void)p, (void)err, (void)data;
  proc_cb_calls++;
  proc_cb_status = status;
}

/* A peer that closes after a partial frame: EPROTOCOL, or the write-side error if a write
 * hits the closed socket first. */
#define COW_EPROTOCOL_OR_CLOSED 1

static void expect_dead(fx_t *fx, int cause)
{
  cow_error_t err = COW_ERROR_INIT;
  int deadline_ok = 0;
  for (int i = 0; i < 400 && cow_guest_bridge_error(fx->host, NULL) == 0; i++)
    fx_run_until(fx, &deadline_ok, 10);
  int code = cow_guest_bridge_error(fx->host, &err);
  if (cause == COW_EOF || cause == COW_EPROTOCOL_OR_CLOSED) {
    /* Closed with our requests unread: the kernel may report a reset, or our next write
     * may hit the closed socket before the read side sees the end (or, after a truncated
     * frame, the partial frame). Which comes first depends on scheduling. */
    int first = cause == COW_EOF ? COW_EOF : COW_EPROTOCOL;
    if (code != first && code != COW_ECONNRESET && code != COW_EPIPE)
      fail_msg("bridge cause %s, expected %s, ECONNRESET or EPIPE", cow_err_name(code),
               cow_err_name(first));
  } else if (cause != 0)
    assert_int_equal(code, cause);
  else
    assert_true(code < 0);
  assert_non_null(err.message);
  cow_error_clear(&err);
  /* Later calls fail at once. */
  cow_process_t *p = NULL;
  const char *argv[] = {"true", NULL};
  char *cfg = fx_params(argv, 0, 0, 0, 0);
  assert_int_equal(cow_host_create_process(&p, fx->host, cfg, on_proc_cb, NULL),
                   COW_EBRIDGE_CLOSED);
  free(cfg);
  assert_null(p);
}

static void run_fault(const char *flag, const char *n, int cause, const char *msg_part)
{
  fx_t fx;
  const char *args[] = {flag, n, NULL};
  fx_setup(&fx, args, NULL);
  fx_proc_t pr[NPROC];
  start_load(&fx, pr, NPROC);
  expect_dead(&fx, cause);
  if (msg_part) {
    cow_error_t err = COW_ERROR_INIT;
    cow_guest_bridge_error(fx.host, &err);
    if (strstr(err.message, msg_part) == NULL)
      fail_msg("cause \"%s\" lacks \"%s\"", err.message, msg_part);
    cow_error_clear(&err);
  }
  finish_load(&fx, pr, NPROC);
  fx_teardown(&fx);
}

static void test_fault_drop(void **s)
{
  (void)s;
  run_fault("--drop-after", "4", COW_EOF, NULL);
}

static void test_fault_garbage(void **s)
{
  (void)s;
  run_fault("--garbage-after", "3", COW_EPROTOCOL, NULL);
}

static void test_fault_oversize(void **s)
{
  (void)s;
  run_fault("--oversize-after", "3", COW_EPROTOCOL, "65537");
}

static void test_fault_truncate(void **s)
{
  (void)s;
  /* The cause names the truncation, or (when the peer writes halves of several frames
   * before closing) the malformed frame the halves make together. */
  run_fault("--truncate-after", "3", COW_EPROTOCOL_OR_CLOSED, NULL);
}

static void test_fault_delay(void **s)
{
  (void)s;
  fx_t fx;
  const char *args[] = {"--delay-ms", "150", NULL};
  fx_setup(&fx, args, NULL);
  uint64_t t0 = uv_now(&fx.loop);
  char *cfg = sh_params("echo slow; exit 5", 0, 1, 0);
  fx_proc_t pr;
  assert_int_equal(fx_proc_start(&pr, &fx, fx.host, cfg), 0);
  free(cfg);
  fx_proc_run(&pr, 10000);
  assert_true(uv_now(&fx.loop) - t0 >= 150);
  assert_int_equal(pr.exit_code, 5);
  assert_string_equal(pr.out.data, "slow\n");
  fx_proc_close(&pr);
  fx_teardown(&fx);
}

static void test_fault_reorder(void **s)
{
  (void)s;
  fx_t fx;
  const char *args[] = {"--reorder", NULL};
  fx_setup(&fx, args, NULL);
  enum { N = 24 };
  fx_proc_t pr[N];
  for (int i = 0; i < N; i++) {
    char script[64];
    snprintf(script, sizeof script, "echo p%d; exit %d", i, i + 1);
    char *cfg = sh_params(script, 0, 1, 0);
    assert_int_equal(fx_proc_start(&pr[i], &fx, fx.host, cfg), 0);
    free(cfg);
  }
  for (int i = 0; i < N; i++) {
    fx_proc_run(&pr[i], 10000);
    assert_int_equal(pr[i].exit_code, i + 1);
    char want[16];
    snprintf(want, sizeof want, "p%d\n", i);
    assert_string_equal(pr[i].out.data, want);
  }
  for (int i = 0; i < N; i++)
    fx_proc_close(&pr[i]);
  assert_int_equal(cow_guest_bridge_error(fx.host, NULL), 0);
  fx_teardown(&fx);
}

static void test_fault_notify_unknown(void **s)
{
  (void)s;
  fx_t fx;
  const char *args[] = {"--notify-unknown", NULL};
  fx_setup(&fx, args, NULL);
  char *cfg = sh_params("exit 9", 0, 0, 0);
  fx_proc_t pr;
  assert_int_equal(fx_proc_start(&pr, &fx, fx.host, cfg), 0);
  free(cfg);
  fx_proc_run(&pr, 10000);
  assert_int_equal(pr.exit_code, 9);
  fx_proc_close(&pr);
  /* Dropped with a log line, not fatal. */
  assert_int_equal(cow_guest_bridge_error(fx.host, NULL), 0);
  fx_teardown(&fx);
}

/* R1: a synchronous request unanswered within the RPC timeout kills the bridge. */
static void test_rpc_timeout_kills_bridge(void **s)
{
  (void)s;
  fx_t fx;
  const char *args[] = {"--delay-ms", "3000", NULL};
  cow_guest_options_t o = COW_GUEST_OPTIONS_INIT;
  o.rpc_timeout_ms = 150;
  fx_setup_expect(&fx, args, &o, 0);
  assert_int_equal(fx.connect_status, COW_EBRIDGE_CLOSED);
  cow_error_t err = COW_ERROR_INIT;
  assert_int_equal(cow_guest_bridge_error(fx.host, &err), COW_ETIMEDOUT);
  assert_non_null(strstr(err.message, "message timeout"));
  cow_error_clear(&err);
  fx_teardown(&fx);
}

/* Kill the peer at several points while requests, waits and stdio are in flight. */
static void test_peer_killed_anywhere(void **s)
{
  (void)s;
  static const int delays_ms[] = {0, 1, 3, 8, 20, 60};
  for (size_t k = 0; k < sizeof delays_ms / sizeof delays_ms[0]; k++) {
    fx_t fx;
    fx_setup(&fx, NULL, NULL);
    fx_proc_t pr[NPROC];
    start_load(&fx, pr, NPROC);
    int never = 0;
    if (delays_ms[k] > 0)
      fx_run_until(&fx, &never, (uint64_t)delays_ms[k]);
    proc_cb_calls = 0;
    int signals = 0;
    for (int i = 0; i < NPROC; i++)
      if (pr[i].p && pr[i].create_calls && pr[i].create_status == 0 && !pr[i].wait_calls &&
          cow_process_signal(pr[i].p, "{\"Signal\":0}", on_proc_cb, NULL) == 0)
        signals++;
    assert_int_equal(uv_process_kill(&fx.peer, SIGKILL), 0);
    expect_dead(&fx, 0);
    assert_true(fx_run_until_count(&fx, &proc_cb_calls, signals, 5000));
    assert_int_equal(proc_cb_calls, signals);
    finish_load(&fx, pr, NPROC);
    fx_teardown(&fx);
  }
}

/* ---- load ---- */

static void test_100mb_stdout_and_stderr(void **s)
{
  (void)s;
  fx_t fx;
  fx_setup(&fx, NULL, NULL);
  /* 100 MiB of a fixed pattern on each stream; the checksums are computed here the same
   * way over the expected bytes. */
  char *cfg = sh_params("head -c 104857600 /dev/zero | tr '\\0' 'a' & "
                        "head -c 104857600 /dev/zero | tr '\\0' 'b' >&2; wait; exit 6",
                        0, 1, 1);
  fx_proc_t pr;
  assert_int_equal(fx_proc_start(&pr, &fx, fx.host, cfg), 0);
  free(cfg);
  pr.out.keep = pr.err.keep = 0;
  uint64_t t0 = uv_hrtime();
  fx_proc_run(&pr, 120000);
  double secs = (double)(uv_hrtime() - t0) / 1e9;
  assert_int_equal(pr.wait_status, 0);
  assert_int_equal(pr.exit_code, 6);
  assert_int_equal(pr.out.total, 104857600ULL);
  assert_int_equal(pr.err.total, 104857600ULL);
  static char block[65536];
  uint32_t a = 0, b = 0;
  memset(block, 'a', sizeof block);
  for (int i = 0; i < 1600; i++)
    a = fx_checksum_update(a, block, sizeof block);
  memset(block, 'b', sizeof block);
  for (int i = 0; i < 1600; i++)
    b = fx_checksum_update(b, block, sizeof block);
  assert_int_equal(pr.out.sum, a);
  assert_int_equal(pr.err.sum, b);
  fprintf(stderr, "# 200 MiB through stdout+stderr in %.2f s (%.0f MiB/s)\n", secs, 200 / secs);
  fx_proc_close(&pr);
  fx_teardown(&fx);
}

#define NMANY 1000
static int many_done;
static void many_wait(cow_process_t *p, int status, int64_t code, const cow_error_t *err,
                      void *data)
{
  (void)p, (void)err;
  assert_int_equal(status, 0);
  assert_int_equal(code, (intptr_t)data % 256);
  many_done++;
}
static int many_created;
static void many_create(cow_process_t *p, int status, const cow_error_t *err, void *data)
{
  (void)p, (void)data;
  if (status != 0)
    fail_msg("create: %s", err ? err->message : "?");
  many_created++;
}
static int many_closed;
static void many_close(cow_process_t *p, void *data)
{
  (void)p, (void)data;
  many_closed++;
}

static void test_1000_concurrent_processes(void **s)
{
  (void)s;
  fx_t fx;
  fx_setup(&fx, NULL, NULL);
  cow_process_t **ps = calloc(NMANY, sizeof *ps);
  many_done = many_created = many_closed = 0;
  uint64_t t0 = uv_hrtime();
  for (intptr_t i = 0; i < NMANY; i++) {
    char script[64];
    snprintf(script, sizeof script, "exit $((%d %% 256))", (int)i);
    char *cfg = sh_params(script, 0, 0, 0);
    assert_int_equal(cow_host_create_process(&ps[i], fx.host, cfg, many_create, NULL), 0);
    free(cfg);
    assert_int_equal(cow_process_wait(ps[i], many_wait, (void *)i), 0);
  }
  assert_true(fx_run_until_count(&fx, &many_done, NMANY, 120000));
  double secs = (double)(uv_hrtime() - t0) / 1e9;
  assert_int_equal(many_created, NMANY);
  fprintf(stderr, "# %d concurrent processes in %.2f s\n", NMANY, secs);
  for (int i = 0; i < NMANY; i++)
    assert_int_equal(cow_process_close(ps[i], many_close, NULL), 0);
  assert_true(fx_run_until_count(&fx, &many_closed, NMANY, 10000));
  free(ps);
  assert_int_equal(cow_guest_bridge_error(fx.host, NULL), 0);
  fx_teardown(&fx);
}

int main(int argc, char **argv)
{
  fx_main_args(argc, argv);
  const struct CMUnitTest faults[] = {
      cmocka_unit_test(test_fault_drop),           cmocka_unit_test(test_fault_garbage),
      cmocka_unit_test(test_fault_oversize),       cmocka_unit_test(test_fault_truncate),
      cmocka_unit_test(test_fault_delay),          cmocka_unit_test(test_fault_reorder),
      cmocka_unit_test(test_fault_notify_unknown), cmocka_unit_test(test_rpc_timeout_kills_bridge),
      cmocka_unit_test(test_peer_killed_anywhere),
  };
  const struct CMUnitTest load[] = {
      cmocka_unit_test(test_100mb_stdout_and_stderr),
      cmocka_unit_test(test_1000_concurrent_processes),
  };
  if (getenv("TEST_FILTER"))
    cmocka_set_test_filter(getenv("TEST_FILTER"));
  if (argc > 2 && strcmp(argv[2], "load") == 0)
    return cmocka_run_group_tests(load, NULL, NULL);
  return cmocka_run_group_tests(faults, NULL, NULL);
}

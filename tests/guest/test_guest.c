/* The guest connection against cow-gcs-peer (a GCS-compatible agent run as a child
 * process over an AF_UNIX port directory): negotiation, UVM processes, stdio, exit codes,
 * waits, signals, close with operations pending, containers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "guest/fixture.h"
#include "support/tjson.h"

static const char *const SH[] = {"sh", "-c", NULL, NULL};

static char *sh_params(const char *script, int in, int out, int err)
{
  const char *argv[] = {"sh", "-c", script, NULL};
  return fx_params(argv, in, out, err, 0);
}

/* ---- connection ---- */

static void test_negotiate(void **state)
{
  (void)state;
  fx_t fx;
  fx_setup(&fx, NULL, NULL);
  assert_string_equal(cow_host_os(fx.host), "linux");
  assert_int_equal(cow_guest_protocol_version(fx.host), 4);
  const char *caps = cow_guest_capabilities(fx.host);
  assert_non_null(caps);
  json_t *j = json_loads(caps, 0, NULL);
  assert_non_null(j);
  assert_string_equal(json_string_value(json_object_get(j, "RuntimeOsType")), "Linux");
  json_decref(j);
  unsigned f = cow_guest_capability_flags(fx.host);
  assert_true(f & COW_GUEST_CAP_SIGNAL_PROCESS);
  assert_true(f & COW_GUEST_CAP_DUMP_STACKS);
  assert_true(f & COW_GUEST_CAP_DELETE_CONTAINER_STATE);
  assert_int_equal(cow_guest_bridge_error(fx.host, NULL), 0);
  fx_teardown(&fx);
}

static int stacks_calls, stacks_status;
static size_t stacks_len;
static void on_stacks(cow_host_t *h, int status, const char *text, const cow_error_t *err,
                      void *data)
{
  (void)h, (void)err, (void)data;
  stacks_calls++;
  stacks_status = status;
  stacks_len = text ? strlen(text) : 0;
}

static int host_cb_calls, host_cb_status;
static void on_host_cb(cow_host_t *h, int status, const cow_error_t *err, void *data)
{
  (void)h, (void)data;
  host_cb_calls++;
  host_cb_status = status;
  if (status && err && getenv("FX_VERBOSE"))
    fprintf(stderr, "host op: %s\n", err->message);
}

static void test_uvm_requests(void **state)
{
  (void)state;
  fx_t fx;
  fx_setup(&fx, NULL, NULL);
  stacks_calls = 0;
  assert_int_equal(cow_guest_dump_stacks(fx.host, on_stacks, NULL), 0);
  assert_true(fx_run_until(&fx, &stacks_calls, 5000));
  assert_int_equal(stacks_status, 0);
  assert_true(stacks_len > 0);
  /* An unknown resource type: the guest answers E_FAIL, the bridge stays up. */
  host_cb_calls = 0;
  assert_int_equal(cow_guest_modify(fx.host,
                                    "{\"ResourceType\":\"Bogus\",\"RequestType\":\"Add\","
                                    "\"Settings\":{}}",
                                    on_host_cb, NULL),
                   0);
  assert_true(fx_run_until(&fx, &host_cb_calls, 5000));
  assert_true(host_cb_status < 0);
  assert_int_equal(cow_guest_modify(fx.host, "{nope", on_host_cb, NULL), COW_EINVAL);
  /* DeleteContainerState of an unknown container: a guest error, bridge still up. */
  host_cb_calls = 0;
  assert_int_equal(cow_guest_delete_container_state(fx.host, "nosuch", on_host_cb, NULL), 0);
  assert_true(fx_run_until(&fx, &host_cb_calls, 5000));
  assert_true(host_cb_status < 0);
  assert_int_equal(cow_guest_bridge_error(fx.host, NULL), 0);
  fx_teardown(&fx);
}

/* ---- UVM processes ---- */

static void test_echo(void **state)
{
  (void)state;
  fx_t fx;
  fx_setup(&fx, NULL, NULL);
  const char *argv[] = {"echo", "hello", NULL};
  char *cfg = fx_params(argv, 0, 1, 1, 0);
  fx_proc_t pr;
  assert_int_equal(fx_proc_start(&pr, &fx, fx.host, cfg), 0);
  free(cfg);
  fx_proc_run(&pr, 10000);
  assert_int_equal(pr.create_status, 0);
  assert_int_equal(pr.wait_status, 0);
  assert_int_equal(pr.exit_code, 0);
  assert_string_equal(pr.out.data ? pr.out.data : "", "hello\n");
  assert_int_equal(pr.err.len, 0);
  assert_int_equal(pr.out.eof, 1);
  assert_int_equal(pr.err.eof, 1);
  assert_true(cow_process_pid(pr.p) > 0);
  int64_t code = -5;
  assert_int_equal(cow_process_exit_code(&code, pr.p), 0);
  assert_int_equal(code, 0);
  fx_proc_close(&pr);
  fx_teardown(&fx);
}

static void test_exit_codes(void **state)
{
  (void)state;
  fx_t fx;
  fx_setup(&fx, NULL, NULL);
  static const int codes[] = {0, 1, 7, 42, 255};
  fx_proc_t pr[5];
  for (int i = 0; i < 5; i++) {
    char script[32];
    snprintf(script, sizeof script, "exit %d", codes[i]);
    char *cfg = sh_params(script, 0, 0, 0);
    assert_int_equal(fx_proc_start(&pr[i], &fx, fx.host, cfg), 0);
    free(cfg);
  }
  for (int i = 0; i < 5; i++) {
    fx_proc_run(&pr[i], 10000);
    assert_int_equal(pr[i].wait_status, 0);
    assert_int_equal(pr[i].exit_code, codes[i]);
  }
  /* A UVM process killed by a signal reports 4294967295 (d_signal_kill seq 22). */
  fx_proc_t sig;
  char *cfg = sh_params("kill -TERM $$", 0, 0, 0);
  assert_int_equal(fx_proc_start(&sig, &fx, fx.host, cfg), 0);
  free(cfg);
  fx_proc_run(&sig, 10000);
  assert_int_equal(sig.exit_code, 4294967295LL);
  fx_proc_close(&sig);
  for (int i = 0; i < 5; i++)
    fx_proc_close(&pr[i]);
  fx_teardown(&fx);
}

static int writes_done;
static void on_written(uv_write_t *req, int status)
{
  (void)req;
  assert_int_equal(status, 0);
  writes_done++;
}
static int proc_cb_calls, proc_cb_status;
static void on_proc_cb(cow_process_t *p, int status, const cow_error_t *err, void *data)
{
  (void)p, (void)data;
  proc_cb_calls++;
  proc_cb_status = status;
  if (status && err && getenv("FX_VERBOSE"))
    fprintf(stderr, "proc op: %s\n", err->message);
}

static void test_stdin_cat(void **state)
{
  (void)state;
  fx_t fx;
  fx_setup(&fx, NULL, NULL);
  const char *argv[] = {"cat", NULL};
  char *cfg = fx_params(argv, 1, 1, 0, 0);
  fx_proc_t pr;
  assert_int_equal(fx_proc_start(&pr, &fx, fx.host, cfg), 0);
  free(cfg);
  assert_true(fx_run_until(&fx, &pr.create_calls, 10000));
  assert_int_equal(pr.create_status, 0);
  uv_stream_t *in = NULL, *err = NULL;
  assert_int_equal(cow_process_stdio(&in, NULL, &err, pr.p), 0);
  assert_non_null(in);
  assert_null(err);
  static char text[] = "line one\nline two \xe2\x9c\x93\n";
  uv_buf_t b = uv_buf_init(text, sizeof text - 1);
  uv_write_t w;
  writes_done = 0;
  assert_int_equal(uv_write(&w, in, &b, 1, on_written), 0);
  proc_cb_calls = 0;
  assert_int_equal(cow_process_close_stdin(pr.p, on_proc_cb, NULL), 0);
  fx_proc_run(&pr, 10000);
  assert_int_equal(writes_done, 1);
  assert_int_equal(proc_cb_calls, 1);
  assert_int_equal(proc_cb_status, 0);
  assert_int_equal(pr.exit_code, 0);
  assert_string_equal(pr.out.data, text);
  fx_proc_close(&pr);
  fx_teardown(&fx);
}

static int waiters;
static int64_t waiter_codes[8];
static void on_wait_n(cow_process_t *p, int status, int64_t code, const cow_error_t *err,
                      void *data)
{
  (void)p, (void)err;
  assert_int_equal(status, 0);
  waiter_codes[(intptr_t)data] = code;
  waiters++;
}

static void test_waiters_and_kill_after_exit(void **state)
{
  (void)state;
  fx_t fx;
  fx_setup(&fx, NULL, NULL);
  char *cfg = sh_params("sleep 0.2; exit 3", 0, 0, 0);
  fx_proc_t pr;
  assert_int_equal(fx_proc_start(&pr, &fx, fx.host, cfg), 0);
  free(cfg);
  waiters = 0;
  for (intptr_t i = 0; i < 4; i++)
    assert_int_equal(cow_process_wait(pr.p, on_wait_n, (void *)i), 0);
  fx_proc_run(&pr, 10000);
  assert_true(fx_run_until_count(&fx, &waiters, 4, 2000));
  for (int i = 0; i < 4; i++)
    assert_int_equal(waiter_codes[i], 3);
  /* Wait after exit: the stored result, on the next loop turn. */
  assert_int_equal(cow_process_wait(pr.p, on_wait_n, (void *)(intptr_t)4), 0);
  assert_int_equal(waiters, 4);
  assert_true(fx_run_until_count(&fx, &waiters, 5, 2000));
  assert_int_equal(waiter_codes[4], 3);
  /* Kill after exit: COW_ESRCH, the bridge untouched. */
  proc_cb_calls = 0;
  assert_int_equal(cow_process_kill(pr.p, on_proc_cb, NULL), 0);
  assert_true(fx_run_until(&fx, &proc_cb_calls, 2000));
  assert_int_equal(proc_cb_status, COW_ESRCH);
  fx_proc_close(&pr);
  fx_teardown(&fx);
}

static int stop_calls, stop_status, stop_forced;
static void on_stop_cb(cow_process_t *p, int status, int64_t code, int forced,
                       const cow_error_t *err, void *data)
{
  (void)p;
  (void)code;
  (void)data;
  assert_int_equal(err != NULL, status < 0);
  stop_calls++;
  stop_status = status;
  stop_forced = forced;
}

static void test_uvm_signal_unsupported(void **state)
{
  (void)state;
  fx_t fx;
  fx_setup(&fx, NULL, NULL);
  const char *argv[] = {"sleep", "100", NULL};
  char *cfg = fx_params(argv, 0, 0, 0, 0);
  fx_proc_t pr;
  assert_int_equal(fx_proc_start(&pr, &fx, fx.host, cfg), 0);
  free(cfg);
  assert_true(fx_run_until(&fx, &pr.create_calls, 10000));
  assert_int_equal(pr.create_status, 0);
  /* The GCS signals only container processes (0xC037010E on the null id). */
  proc_cb_calls = 0;
  assert_int_equal(cow_process_kill(pr.p, on_proc_cb, NULL), 0);
  assert_true(fx_run_until(&fx, &proc_cb_calls, 5000));
  assert_int_equal(proc_cb_status, COW_ENOTSUP);
  proc_cb_calls = 0;
  assert_int_equal(cow_process_signal(pr.p, "{\"Signal\":15}", on_proc_cb, NULL), 0);
  assert_true(fx_run_until(&fx, &proc_cb_calls, 5000));
  assert_int_equal(proc_cb_status, COW_ENOTSUP);
  /* So a stop cannot escalate either: the kill's refusal is its answer. */
  stop_calls = 0;
  assert_int_equal(cow_process_stop(pr.p, "{\"Signal\":15}", 60000, on_stop_cb, NULL), 0);
  assert_true(fx_run_until(&fx, &stop_calls, 5000));
  assert_int_equal(stop_status, COW_ENOTSUP);
  assert_int_equal(stop_forced, 1);
  assert_int_equal(pr.wait_calls, 0); /* and the process still runs */
  /* Not a tty: resize refused up front. */
  assert_int_equal(cow_process_resize_console(pr.p, 80, 25, on_proc_cb, NULL), COW_ENOTTY);
  assert_int_equal(cow_process_signal(pr.p, "[1]", on_proc_cb, NULL), COW_EINVAL);
  /* Closing does not kill: the wait completes with COW_ECANCELED, the guest keeps the
   * process (the peer kills it when the bridge closes). */
  fx_proc_close(&pr);
  assert_int_equal(pr.wait_calls, 1);
  assert_int_equal(pr.wait_status, COW_ECANCELED);
  fx_teardown(&fx);
}

static void test_refused_requests(void **state)
{
  (void)state;
  fx_t fx;
  fx_setup(&fx, NULL, NULL);
  cow_process_t *p = NULL;
  /* j9: an exec without a command kills the agent: refused, nothing sent. */
  assert_int_equal(
      cow_host_create_process(&p, fx.host, "{\"WorkingDirectory\":\"/\"}", on_proc_cb, NULL),
      COW_EINVAL);
  assert_null(p);
  assert_int_equal(cow_host_create_process(&p, fx.host, "{\"CommandArgs\":[]}", on_proc_cb, NULL),
                   COW_EINVAL);
  assert_int_equal(cow_host_create_process(&p, fx.host, "{\"CommandLine\":\"\"}", on_proc_cb, NULL),
                   COW_EINVAL);
  /* j1: malformed bodies are never produced: non-JSON or non-object input is refused. */
  assert_int_equal(cow_host_create_process(&p, fx.host, "{this is not json", on_proc_cb, NULL),
                   COW_EINVAL);
  assert_int_equal(cow_host_create_process(&p, fx.host, "[1,2,3]", on_proc_cb, NULL), COW_EINVAL);
  assert_int_equal(cow_host_create_process(&p, fx.host, "null", on_proc_cb, NULL), COW_EINVAL);
  /* Over 64 KiB: COW_EMSG_TOO_LARGE, nothing written. */
  size_t big = 70000;
  char *cfg = malloc(big + 64);
  int n = snprintf(cfg, 64, "{\"CommandArgs\":[\"echo\",\"");
  memset(cfg + n, 'x', big);
  strcpy(cfg + n + big, "\"]}");
  assert_int_equal(cow_host_create_process(&p, fx.host, cfg, on_proc_cb, NULL), COW_EMSG_TOO_LARGE);
  free(cfg);
  /* The bridge is intact: a normal exec still works. */
  const char *argv[] = {"true", NULL};
  cfg = fx_params(argv, 0, 0, 0, 0);
  fx_proc_t pr;
  assert_int_equal(fx_proc_start(&pr, &fx, fx.host, cfg), 0);
  free(cfg);
  fx_proc_run(&pr, 10000);
  assert_int_equal(pr.exit_code, 0);
  fx_proc_close(&pr);
  assert_int_equal(cow_guest_bridge_error(fx.host, NULL), 0);
  fx_teardown(&fx);
}

static int log_secret_seen, log_key_seen;
static void scrub_log(cow_log_level_t l, const char *sub, const char *msg, void *data)
{
  (void)l, (void)sub, (void)data;
  if (strstr(msg, "hunter2"))
    log_secret_seen++;
  if (strstr(msg, "SECRET_TOKEN"))
    log_key_seen++;
}

static void test_env_scrubbed_in_logs(void **state)
{
  (void)state;
  fx_t fx;
  fx_setup(&fx, NULL, NULL);
  cow_log_set(COW_LOG_TRACE, scrub_log, NULL);
  const char *cfg = "{\"CommandArgs\":[\"sh\",\"-c\",\"echo \\\"[$SECRET_TOKEN]\\\"\"],"
                    "\"CreateStdOutPipe\":true,"
                    "\"Environment\":{\"SECRET_TOKEN\":\"hunter2\",\"PATH\":\"/usr/bin:/bin\"}}";
  fx_proc_t pr;
  assert_int_equal(fx_proc_start(&pr, &fx, fx.host, cfg), 0);
  fx_proc_run(&pr, 10000);
  cow_log_set(COW_LOG_ERROR, NULL, NULL);
  assert_int_equal(pr.exit_code, 0);
  assert_string_equal(pr.out.data ? pr.out.data : "", "[hunter2]\n"); /* it reached the process */
  assert_true(log_key_seen > 0);                                      /* the request was logged */
  assert_int_equal(log_secret_seen, 0);
  fx_proc_close(&pr);
  fx_teardown(&fx);
}

/* ---- close with operations pending ---- */

static int pending_cbs;
static void count_proc_cb(cow_process_t *p, int status, const cow_error_t *err, void *data)
{
  (void)p, (void)err, (void)data;
  assert_int_equal(status, COW_ECANCELED);
  pending_cbs++;
}
static void count_wait_cb(cow_process_t *p, int status, int64_t code, const cow_error_t *err,
                          void *data)
{
  (void)p, (void)err, (void)data;
  assert_int_equal(status, COW_ECANCELED);
  assert_int_equal(code, -1);
  pending_cbs++;
}

static void test_close_with_pending(void **state)
{
  (void)state;
  fx_t fx;
  fx_setup(&fx, NULL, NULL);
  const char *argv[] = {"sleep", "100", NULL};
  char *cfg = fx_params(argv, 1, 1, 1, 0);
  cow_process_t *p;
  pending_cbs = 0;
  /* Closed while ExecuteProcess is in flight: create and waits are cancelled once. */
  assert_int_equal(cow_host_create_process(&p, fx.host, cfg, count_proc_cb, NULL), 0);
  assert_int_equal(cow_process_wait(p, count_wait_cb, NULL), 0);
  assert_int_equal(cow_process_wait(p, count_wait_cb, NULL), 0);
  int closed = 0;
  assert_int_equal(cow_process_close(p, (cow_process_close_cb)(void (*)(void))NULL, NULL), 0);
  (void)closed;
  assert_true(fx_run_until_count(&fx, &pending_cbs, 3, 5000));
  /* Closed after creation with a signal in flight. */
  fx_proc_t pr;
  assert_int_equal(fx_proc_start(&pr, &fx, fx.host, cfg), 0);
  free(cfg);
  assert_true(fx_run_until(&fx, &pr.create_calls, 10000));
  assert_int_equal(pr.create_status, 0);
  pending_cbs = 0;
  assert_int_equal(cow_process_signal(pr.p, "{\"Signal\":0}", count_proc_cb, NULL), 0);
  fx_proc_close(&pr);
  assert_int_equal(pending_cbs, 1);
  assert_int_equal(pr.wait_status, COW_ECANCELED);
  /* Everything keeps working afterwards (late answers are absorbed as tombstones). */
  const char *t[] = {"true", NULL};
  cfg = fx_params(t, 0, 0, 0, 0);
  fx_proc_t ok;
  assert_int_equal(fx_proc_start(&ok, &fx, fx.host, cfg), 0);
  free(cfg);
  fx_proc_run(&ok, 10000);
  assert_int_equal(ok.exit_code, 0);
  fx_proc_close(&ok);
  assert_int_equal(cow_guest_bridge_error(fx.host, NULL), 0);
  fx_teardown(&fx);
}

static int bc_calls;
static void bc_wait(cow_process_t *p, int status, int64_t code, const cow_error_t *err, void *d)
{
  (void)p, (void)code, (void)d;
  assert_int_equal(status, COW_EBRIDGE_CLOSED);
  assert_non_null(err);
  assert_non_null(strstr(err->message, "closed by the host"));
  bc_calls++;
}

static void test_host_close_fails_everything(void **state)
{
  (void)state;
  fx_t fx;
  fx_setup(&fx, NULL, NULL);
  const char *argv[] = {"sleep", "100", NULL};
  char *cfg = fx_params(argv, 0, 0, 0, 0);
  fx_proc_t pr[3];
  for (int i = 0; i < 3; i++) {
    assert_int_equal(fx_proc_start(&pr[i], &fx, fx.host, cfg), 0);
    assert_true(fx_run_until(&fx, &pr[i].create_calls, 10000));
    assert_int_equal(pr[i].create_status, 0);
    assert_int_equal(cow_process_wait(pr[i].p, bc_wait, NULL), 0);
  }
  free(cfg);
  bc_calls = 0;
  int closed = 0;
  assert_int_equal(cow_host_close(fx.host, (cow_host_close_cb)(void (*)(void))NULL, NULL), 0);
  (void)closed;
  cow_host_t *h = fx.host;
  (void)h;
  fx.host = NULL;
  assert_true(fx_run_until_count(&fx, &bc_calls, 3, 5000));
  for (int i = 0; i < 3; i++) {
    assert_true(fx_run_until(&fx, &pr[i].wait_calls, 2000));
    assert_int_equal(pr[i].wait_status, COW_EBRIDGE_CLOSED);
    /* New calls fail at once: contact is lost, the process did not "already exit". */
    assert_int_equal(cow_process_signal(pr[i].p, NULL, on_proc_cb, NULL), COW_EBRIDGE_CLOSED);
    assert_int_equal(cow_process_kill(pr[i].p, on_proc_cb, NULL), COW_EBRIDGE_CLOSED);
    fx_proc_close(&pr[i]);
  }
  fx_teardown(&fx);
}

/* ---- containers ---- */

#define CID "c0ffee00-0000-4000-8000-000000000001"

static char *container_config(const char *init_script, int terminal)
{
  json_t *spec =
      json_pack("{s:s, s:{s:b, s:{s:i, s:i}, s:[s,s,s], s:[s], s:s}, s:{s:s}, s:{}}", "ociVersion",
                "1.0.2-dev", "process", "terminal", terminal, "user", "uid", 0, "gid", 0, "args",
                "/bin/sh", "-c", init_script, "env", "PATH=/usr/sbin:/usr/bin:/sbin:/bin", "cwd",
                "/", "root", "path", "/", "linux");
  json_t *doc = json_pack("{s:{s:i,s:i}, s:s, s:o, s:s}", "SchemaVersion", "Major", 2, "Minor", 1,
                          "OciBundlePath", "/run/gcs/c/" CID, "OciSpecification", spec,
                          "ScratchDirPath", "/run/gcs/c/" CID "/scratch");
  char *s = json_dumps(doc, JSON_COMPACT);
  json_decref(doc);
  return s;
}

static char *oci_exec(const char *script, int in, int out, int err, int terminal)
{
  json_t *o = json_pack("{s:b, s:[s,s,s], s:[s], s:s, s:{s:i,s:i}}", "terminal", terminal, "args",
                        "/bin/sh", "-c", script, "env", "PATH=/usr/sbin:/usr/bin:/sbin:/bin", "cwd",
                        "/", "user", "uid", 0, "gid", 0);
  json_t *p = json_object();
  if (terminal)
    TJ_OK(json_object_set_new(p, "EmulateConsole", json_true()));
  if (in)
    TJ_OK(json_object_set_new(p, "CreateStdInPipe", json_true()));
  if (out)
    TJ_OK(json_object_set_new(p, "CreateStdOutPipe", json_true()));
  if (err)
    TJ_OK(json_object_set_new(p, "CreateStdErrPipe", json_true()));
  TJ_OK(json_object_set_new(p, "OciProcess", o));
  char *s = json_dumps(p, JSON_COMPACT);
  json_decref(p);
  return s;
}

static int c_calls, c_status, cwait_calls, cwait_status, cclosed;
static void on_c(cow_container_t *c, int status, const cow_error_t *err, void *data)
{
  (void)c, (void)data;
  c_calls++;
  c_status = status;
  if (status && err && getenv("FX_VERBOSE"))
    fprintf(stderr, "container op: %s\n", err->message);
}
static void on_cwait(cow_container_t *c, int status, const cow_error_t *err, void *data)
{
  (void)c, (void)err, (void)data;
  cwait_calls++;
  cwait_status = status;
}
static void on_cclosed(cow_container_t *c, void *data)
{
  (void)c, (void)data;
  cclosed++;
}
static int j_calls, j_status;
static char *j_text;
static void on_json(cow_container_t *c, int status, const char *json, const cow_error_t *err,
                    void *data)
{
  (void)c, (void)err, (void)data;
  j_calls++;
  j_status = status;
  free(j_text);
  j_text = json ? strdup(json) : NULL;
}

static void run_c(fx_t *fx)
{
  assert_true(fx_run_until(fx, &c_calls, 10000));
  assert_int_equal(c_calls, 1);
  c_calls = 0;
}

/* The v0.11.4 agent's network namespaces, as the peer models them: a second standalone
 * container without windows.network.networkNamespace is refused (both land in namespace
 * ""); the documents of cow_guest_container_config_json() always name one. */
struct ns_res {
  int calls, status;
  uint32_t sys;
  char msg[256];
};

static void on_ns(cow_container_t *c, int status, const cow_error_t *err, void *data)
{
  (void)c;
  struct ns_res *r = data;
  r->calls++;
  r->status = status;
  r->sys = err ? err->sys_code : 0;
  snprintf(r->msg, sizeof r->msg, "%s", err && err->message ? err->message : "");
}

static void on_ns_closed(cow_container_t *c, void *data)
{
  (void)c;
  ++*(int *)data;
}

static void test_container_network_namespace(void **state)
{
  (void)state;
  fx_t fx;
  fx_setup(&fx, NULL, NULL);
  char *plain = container_config("sleep 100", 0);
  const char *ids[4] = {"plain-1", "plain-2", "built-1", "built-2"};
  cow_container_t *c[4];
  struct ns_res r[4];
  memset(r, 0, sizeof r);
  char *docs[4] = {plain, plain, NULL, NULL};
  json_t *doc = json_loads(plain, 0, NULL);
  char *spec = json_dumps(json_object_get(doc, "OciSpecification"), JSON_COMPACT);
  json_decref(doc);
  for (int i = 2; i < 4; i++) {
    cow_guest_container_params_t p = COW_GUEST_CONTAINER_PARAMS_INIT;
    p.id = ids[i];
    p.oci_spec_json = spec;
    p.root_path = "/";
    assert_int_equal(cow_guest_container_config_json(&docs[i], NULL, NULL, &p, NULL), 0);
  }
  for (int i = 0; i < 4; i++) {
    assert_int_equal(cow_guest_create_container(&c[i], fx.host, ids[i], docs[i], on_ns, &r[i]), 0);
    assert_true(fx_run_until(&fx, &r[i].calls, 10000));
  }
  assert_int_equal(r[0].status, 0);
  assert_int_equal(r[1].status, COW_EGUEST);
  assert_int_equal(r[1].sys, 0x80004005u);
  if (strstr(r[1].msg, "previously assigned container pid") == NULL ||
      strstr(r[1].msg, "network namespace \"\"") == NULL)
    fail_msg("the second container without a namespace: \"%s\"", r[1].msg);
  assert_int_equal(r[2].status, 0); /* its own namespace: "built-1" */
  assert_int_equal(r[3].status, 0);
  int closed = 0;
  for (int i = 0; i < 4; i++)
    assert_int_equal(cow_container_close(c[i], on_ns_closed, &closed), 0);
  assert_true(fx_run_until_count(&fx, &closed, 4, 5000));
  free(plain);
  free(spec);
  cow_free(docs[2]);
  cow_free(docs[3]);
  fx_teardown(&fx);
}

static void test_container_lifecycle(void **state)
{
  (void)state;
  fx_t fx;
  fx_setup(&fx, NULL, NULL);
  char *cfg = container_config(
      "echo init-started; trap 'echo got-TERM; exit 42' TERM; while :; do sleep 0.05; done", 0);
  cow_container_t *c;
  c_calls = cwait_calls = cclosed = 0;
  assert_int_equal(cow_guest_create_container(&c, fx.host, CID, cfg, on_c, NULL), 0);
  cow_container_t *dup;
  assert_int_equal(cow_guest_create_container(&dup, fx.host, CID, cfg, on_c, NULL), COW_EEXIST);
  assert_int_equal(
      cow_guest_create_container(&dup, fx.host, "x2", "{\"OciSpecification\":{}}", on_c, NULL),
      COW_EINVAL);
  free(cfg);
  run_c(&fx);
  assert_int_equal(c_status, 0);
  assert_int_equal(cow_container_wait(c, on_cwait, NULL), 0);
  assert_int_equal(cow_container_start(c, on_c, NULL), 0);
  run_c(&fx);
  assert_int_equal(c_status, 0);
  cow_host_t *ch = cow_container_host(c);
  assert_int_equal(cow_host_is_oci(ch), 1);
  assert_string_equal(cow_host_os(ch), "linux");

  /* The init process: no OciProcess. */
  fx_proc_t init;
  assert_int_equal(
      fx_proc_start(&init, &fx, ch, "{\"CreateStdOutPipe\":true,\"CreateStdErrPipe\":true}"), 0);
  assert_true(fx_run_until(&fx, &init.create_calls, 10000));
  assert_int_equal(init.create_status, 0);
  for (int i = 0; i < 200 && !(init.out.data && strstr(init.out.data, "init-started")); i++)
    fx_run_until(&fx, &init.wait_calls, 10);
  assert_non_null(strstr(init.out.data, "init-started"));

  /* Properties v1 (ProcessList) and v2 (Statistics): the JSON-in-a-string decoded. */
  j_calls = 0;
  assert_int_equal(cow_container_properties(c, NULL, on_json, NULL), 0);
  assert_true(fx_run_until(&fx, &j_calls, 5000));
  assert_int_equal(j_status, 0);
  json_t *props = json_loads(j_text, 0, NULL);
  assert_non_null(props);
  json_t *list = json_object_get(props, "ProcessList");
  assert_true(json_is_array(list) && json_array_size(list) >= 1);
  int found = 0;
  size_t i;
  json_t *e;
  json_array_foreach(list, i, e)
  {
    if (json_integer_value(json_object_get(e, "ProcessId")) == cow_process_pid(init.p))
      found = 1;
  }
  assert_true(found);
  json_decref(props);
  j_calls = 0;
  assert_int_equal(cow_container_properties_v2(c, NULL, on_json, NULL), 0);
  assert_true(fx_run_until(&fx, &j_calls, 5000));
  assert_int_equal(j_status, 0);
  props = json_loads(j_text, 0, NULL);
  assert_non_null(props);
  json_decref(props);

  /* An exec with OciProcess: its own exit code and output. */
  char *ex = oci_exec("echo exec-in-container; exit 4", 0, 1, 1, 0);
  fx_proc_t p1;
  assert_int_equal(fx_proc_start(&p1, &fx, ch, ex), 0);
  free(ex);
  fx_proc_run(&p1, 10000);
  assert_int_equal(p1.wait_status, 0);
  assert_int_equal(p1.exit_code, 4);
  assert_string_equal(p1.out.data, "exec-in-container\n");
  fx_proc_close(&p1);

  /* A tty exec: resize, then the shell prints the size. */
  ex = oci_exec("read x; stty size; exit 0", 1, 1, 0, 1);
  fx_proc_t tty;
  assert_int_equal(fx_proc_start(&tty, &fx, ch, ex), 0);
  free(ex);
  assert_true(fx_run_until(&fx, &tty.create_calls, 10000));
  assert_int_equal(tty.create_status, 0);
  proc_cb_calls = 0;
  assert_int_equal(cow_process_resize_console(tty.p, 99, 33, on_proc_cb, NULL), 0);
  assert_true(fx_run_until(&fx, &proc_cb_calls, 5000));
  assert_int_equal(proc_cb_status, 0);
  uv_stream_t *in;
  assert_int_equal(cow_process_stdio(&in, NULL, NULL, tty.p), 0);
  static char go[] = "go\n";
  uv_buf_t b = uv_buf_init(go, 3);
  uv_write_t w;
  writes_done = 0;
  assert_int_equal(uv_write(&w, in, &b, 1, on_written), 0);
  fx_proc_run(&tty, 10000);
  assert_int_equal(tty.exit_code, 0);
  assert_non_null(strstr(tty.out.data, "33 99"));
  fx_proc_close(&tty);

  /* Signals to container processes: 128+signal. */
  ex = oci_exec("sleep 100", 0, 0, 0, 0);
  fx_proc_t s1, s2;
  assert_int_equal(fx_proc_start(&s1, &fx, ch, ex), 0);
  assert_int_equal(fx_proc_start(&s2, &fx, ch, ex), 0);
  free(ex);
  assert_true(fx_run_until(&fx, &s1.create_calls, 10000));
  assert_true(fx_run_until(&fx, &s2.create_calls, 10000));
  proc_cb_calls = 0;
  assert_int_equal(cow_process_signal(s1.p, "{\"Signal\":15}", on_proc_cb, NULL), 0);
  assert_true(fx_run_until(&fx, &proc_cb_calls, 5000));
  assert_int_equal(proc_cb_status, 0);
  proc_cb_calls = 0;
  assert_int_equal(cow_process_kill(s2.p, on_proc_cb, NULL), 0);
  assert_true(fx_run_until(&fx, &proc_cb_calls, 5000));
  assert_int_equal(proc_cb_status, 0);
  fx_proc_run(&s1, 10000);
  fx_proc_run(&s2, 10000);
  assert_int_equal(s1.exit_code, 143);
  assert_int_equal(s2.exit_code, 137);
  fx_proc_close(&s1);
  fx_proc_close(&s2);

  /* Graceful shutdown: init traps TERM and exits 42; the notification ends the wait. */
  assert_int_equal(cow_container_shutdown(c, on_c, NULL), 0);
  run_c(&fx);
  assert_int_equal(c_status, 0);
  fx_proc_run(&init, 10000);
  assert_int_equal(init.exit_code, 42);
  assert_non_null(strstr(init.out.data, "got-TERM"));
  assert_true(fx_run_until(&fx, &cwait_calls, 10000));
  assert_int_equal(cwait_calls, 1);
  assert_int_equal(cwait_status, 0);
  assert_true(cow_container_exited(c));
  assert_string_equal(cow_guest_container_exit_type(c), "GracefulExit");
  fx_proc_close(&init);
  /* Stopping a stopped container succeeds. */
  assert_int_equal(cow_container_terminate(c, on_c, NULL), 0);
  run_c(&fx);
  assert_int_equal(c_status, 0);
  host_cb_calls = 0;
  assert_int_equal(cow_guest_delete_container_state(fx.host, CID, on_host_cb, NULL), 0);
  assert_true(fx_run_until(&fx, &host_cb_calls, 5000));
  assert_int_equal(host_cb_status, 0);
  assert_int_equal(cow_container_close(c, on_cclosed, NULL), 0);
  assert_true(fx_run_until(&fx, &cclosed, 5000));
  free(j_text);
  j_text = NULL;
  assert_int_equal(cow_guest_bridge_error(fx.host, NULL), 0);
  fx_teardown(&fx);
}

static void test_container_terminate_and_create_failure(void **state)
{
  (void)state;
  fx_t fx;
  fx_setup(&fx, NULL, NULL);
  char *cfg = container_config("sleep 100", 0);
  cow_container_t *c;
  c_calls = cwait_calls = cclosed = 0;
  assert_int_equal(cow_guest_create_container(&c, fx.host, CID, cfg, on_c, NULL), 0);
  run_c(&fx);
  assert_int_equal(c_status, 0);
  assert_int_equal(cow_container_wait(c, on_cwait, NULL), 0);
  fx_proc_t init;
  assert_int_equal(fx_proc_start(&init, &fx, cow_container_host(c), "{}"), 0);
  assert_true(fx_run_until(&fx, &init.create_calls, 10000));
  assert_int_equal(init.create_status, 0);
  /* Close the init handle: its WaitForProcess stays on the wire (tombstone), so the
   * container's exit notification still comes. */
  fx_proc_close(&init);
  assert_int_equal(cow_container_terminate(c, on_c, NULL), 0);
  run_c(&fx);
  assert_int_equal(c_status, 0);
  assert_true(fx_run_until(&fx, &cwait_calls, 10000));
  assert_int_equal(cwait_status, 0);
  assert_string_equal(cow_guest_container_exit_type(c), "ForcedExit");
  assert_int_equal(cow_container_close(c, on_cclosed, NULL), 0);
  assert_true(fx_run_until(&fx, &cclosed, 5000));
  /* The guest still knows CID (no DeleteContainerState): Create fails there, and the
   * failure releases the waiters and unregisters the id, so a retry reaches the wire. */
  for (int round = 0; round < 2; round++) {
    cow_container_t *c2;
    cwait_calls = 0;
    assert_int_equal(cow_guest_create_container(&c2, fx.host, CID, cfg, on_c, NULL), 0);
    assert_int_equal(cow_container_wait(c2, on_cwait, NULL), 0);
    run_c(&fx);
    assert_int_equal(c_status, COW_EEXIST);
    assert_true(fx_run_until(&fx, &cwait_calls, 2000));
    assert_int_equal(cwait_status, COW_EEXIST);
    cclosed = 0;
    assert_int_equal(cow_container_close(c2, on_cclosed, NULL), 0);
    assert_true(fx_run_until(&fx, &cclosed, 5000));
  }
  free(cfg);
  fx_teardown(&fx);
}

int main(int argc, char **argv)
{
  fx_main_args(argc, argv);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_negotiate),
      cmocka_unit_test(test_uvm_requests),
      cmocka_unit_test(test_echo),
      cmocka_unit_test(test_exit_codes),
      cmocka_unit_test(test_stdin_cat),
      cmocka_unit_test(test_waiters_and_kill_after_exit),
      cmocka_unit_test(test_uvm_signal_unsupported),
      cmocka_unit_test(test_refused_requests),
      cmocka_unit_test(test_env_scrubbed_in_logs),
      cmocka_unit_test(test_close_with_pending),
      cmocka_unit_test(test_host_close_fails_everything),
      cmocka_unit_test(test_container_lifecycle),
      cmocka_unit_test(test_container_network_namespace),
      cmocka_unit_test(test_container_terminate_and_create_failure),
  };
  (void)SH;
  if (getenv("TEST_FILTER"))
    cmocka_set_test_filter(getenv("TEST_FILTER"));
  return cmocka_run_group_tests(tests, NULL, NULL);
}

/* The contract suite; see contract.h. Every test uses only the consumer API, real
 * processes of the backend under test and real bytes, and ends with uv_loop_close() == 0. */
#include "contract/contract.h"
#include "cow/stdio.h"
#include "support/wait.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct contract_fixture *fx;
static uv_loop_t loop;
static cow_host_t *host;
static void *ctx;

struct result {
  int done;
  int status;
  int64_t code;
  char message[256];
};

static void on_proc(cow_process_t *p, int status, const cow_error_t *err, void *data)
{
  TW_IGNORED_AFTER_FAILURE();
  struct result *r = data;
  assert_int_equal(r->done, 0); /* exactly once */
  r->done = 1;
  r->status = status;
  assert_int_equal(err != NULL, status < 0);
  if (err)
    snprintf(r->message, sizeof r->message, "%s", err->message ? err->message : "");
}

static void record_eof_at_wait(const struct result *r);

static void on_wait(cow_process_t *p, int status, int64_t code, const cow_error_t *err, void *data)
{
  TW_IGNORED_AFTER_FAILURE();
  struct result *r = data;
  record_eof_at_wait(r);
  assert_int_equal(r->done, 0);
  r->done = 1;
  r->status = status;
  r->code = code;
  assert_int_equal(err != NULL, status < 0);
}

/* Every process of the suite carries this as its user data: the close callback reads it
 * back, since the handle is valid until the callback returns (cow_process_close_cb). */
static const char process_marker[] = "contract process";

static void on_closed(cow_process_t *p, void *data)
{
  TW_IGNORED_AFTER_FAILURE();
  assert_ptr_equal(cow_process_get_data(p), process_marker);
  (*(int *)data)++;
}

/* The processes a test started and did not close yet: the teardown closes them when the
 * test failed half-way, so that the next test starts from a clean host. */
#define MAX_OPEN 16
static cow_process_t *open_procs[MAX_OPEN];

static void track(cow_process_t *p, int add)
{
  for (int i = 0; i < MAX_OPEN; i++)
    if (add ? open_procs[i] == NULL : open_procs[i] == p) {
      open_procs[i] = add ? p : NULL;
      return;
    }
  if (add)
    fail_msg("more than %d processes open in one contract test", MAX_OPEN);
}

static int setup_with(const struct contract_options *opt)
{
  tw_tearing_down = 0;
  memset(open_procs, 0, sizeof open_procs);
  assert_int_equal(uv_loop_init(&loop), 0);
  int rc = fx->setup(&loop, opt, &host, &ctx);
  if (rc != 0)
    fail_msg("%s setup failed: %s", fx->name, cow_strerror(rc));
  return 0;
}

static int setup(void **state)
{
  static const struct contract_options plain = {0};
  return setup_with(&plain);
}

/* The backend delivers each exit OUTPUT_LATE_MS before the process's output. */
#define OUTPUT_LATE_MS 300
static int setup_output_late(void **state)
{
  static const struct contract_options late = {.output_late_ms = OUTPUT_LATE_MS};
  return setup_with(&late);
}

static int teardown(void **state)
{
  int left = 0;
  tw_tearing_down = 1; /* nothing of a test that passed is still pending */
  for (int i = 0; i < MAX_OPEN; i++)
    if (open_procs[i] != NULL) {
      cow_process_close(open_procs[i], NULL, NULL);
      open_procs[i] = NULL;
      left++;
    }
  fx->teardown(&loop, host, ctx);
  assert_int_equal(TW_LOOP_FINISH(&loop), 0);
  if (left)
    print_message("# %s: the teardown closed %d process(es) the test left open\n", fx->name, left);
  return 0;
}

/* Start argv; run the loop until the create callback; fail the test on error. */
static cow_process_t *start(const char *const *argv, unsigned flags)
{
  char *cfg = fx->process_config(ctx, argv, flags);
  assert_non_null(cfg);
  cow_process_t *p;
  struct result created = {0};
  int rc = cow_host_create_process(&p, host, cfg, on_proc, &created);
  free(cfg);
  assert_int_equal(rc, 0);
  track(p, 1);
  cow_process_set_data(p, (void *)process_marker);
  TW_UNTIL(&loop, created.done);
  if (created.status != 0)
    fail_msg("create failed: %s: %s", cow_err_name(created.status), created.message);
  return p;
}

static void close_process(cow_process_t *p)
{
  int closed = 0;
  track(p, 0);
  assert_int_equal(cow_process_close(p, on_closed, &closed), 0);
  TW_UNTIL(&loop, closed);
}

/* ---- stdio capture ---- */

struct capture {
  char *buf;
  size_t len, cap;
  int eof;
  uint64_t sum;
};
static struct capture cap_out, cap_err;
static int waited_before_eof;
static struct result *watch_wait;
/* Whether stdout/stderr had reached end of file when the watched wait completed. */
static int out_eof_at_wait, err_eof_at_wait;

static void record_eof_at_wait(const struct result *r)
{
  if (r != watch_wait)
    return;
  out_eof_at_wait = cap_out.eof;
  err_eof_at_wait = cap_err.eof;
}

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
  static char chunk[65536];
  *buf = uv_buf_init(chunk, sizeof chunk);
}

static void capture_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
  TW_IGNORED_AFTER_FAILURE();
  struct capture *c = s->data;
  if (watch_wait && watch_wait->done)
    waited_before_eof = 1; /* the exit must never be reported before the output ended */
  if (n > 0) {
    for (ssize_t i = 0; i < n; i++)
      c->sum = c->sum * 31 + (unsigned char)buf->base[i];
    if (c->len + (size_t)n + 1 > c->cap) {
      c->cap = (c->len + (size_t)n + 1) * 2;
      c->buf = realloc(c->buf, c->cap);
    }
    memcpy(c->buf + c->len, buf->base, (size_t)n);
    c->len += (size_t)n;
    c->buf[c->len] = '\0';
  } else if (n < 0) {
    c->eof = 1;
  }
}

static void capture_start(cow_process_t *p)
{
  memset(&cap_out, 0, sizeof cap_out);
  memset(&cap_err, 0, sizeof cap_err);
  uv_stream_t *out = NULL, *err = NULL;
  assert_int_equal(cow_process_stdio(NULL, &out, &err, p), 0);
  if (out) {
    out->data = &cap_out;
    assert_int_equal(cow_process_read_start(p, COW_STDOUT, alloc_cb, capture_read), 0);
  }
  if (err) {
    err->data = &cap_err;
    assert_int_equal(cow_process_read_start(p, COW_STDERR, alloc_cb, capture_read), 0);
  }
}

static void capture_free(void)
{
  free(cap_out.buf);
  free(cap_err.buf);
  memset(&cap_out, 0, sizeof cap_out);
  memset(&cap_err, 0, sizeof cap_err);
}

/* ---- the contract ---- */

static int64_t ns_of_ts(const cow_timestamp_t *t)
{
  return t->sec * 1000000000 + t->nsec;
}

static int64_t ns_now(void)
{
  uv_timeval64_t tv;
  assert_int_equal(uv_gettimeofday(&tv), 0);
  return tv.tv_sec * 1000000000 + tv.tv_usec * 1000;
}

static void exit_codes(void **state)
{
  static const int codes[] = {0, 1, 7, 42, 255};
  for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
    char script[32];
    snprintf(script, sizeof script, "exit %d", codes[i]);
    const char *argv[] = {"/bin/sh", "-c", script, NULL};
    int64_t before = ns_now();
    cow_process_t *p = start(argv, 0);
    assert_true(cow_process_pid(p) >= 0);
    struct result w = {0};
    assert_int_equal(cow_process_wait(p, on_wait, &w), 0);
    TW_UNTIL(&loop, w.done);
    int64_t after = ns_now();
    assert_int_equal(w.status, 0);
    assert_int_equal(w.code, codes[i]);
    int64_t code = -1;
    assert_int_equal(cow_process_exit_code(&code, p), 0);
    assert_int_equal(code, codes[i]);
    /* the exit time is wall-clock time between the start and the wait's answer */
    cow_timestamp_t t;
    assert_int_equal(cow_process_exit_time(&t, p), 0);
    assert_true(ns_of_ts(&t) >= before && ns_of_ts(&t) <= after);
    close_process(p);
  }
  cow_timestamp_t t;
  assert_int_equal(cow_container_exit_time(&t, cow_host_container(host)), COW_ENOT_EXITED);
}

static void many_waiters_and_wait_after_exit(void **state)
{
  const char *argv[] = {"/bin/sh", "-c", "sleep 0.1; exit 5", NULL};
  cow_process_t *p = start(argv, 0);
  struct result w[8] = {{0}};
  for (int i = 0; i < 8; i++)
    assert_int_equal(cow_process_wait(p, on_wait, &w[i]), 0);
  int64_t code;
  assert_int_equal(cow_process_exit_code(&code, p), COW_ENOT_EXITED);
  for (int i = 0; i < 8; i++) {
    TW_UNTIL(&loop, w[i].done);
    assert_int_equal(w[i].status, 0);
    assert_int_equal(w[i].code, 5);
  }
  struct result late = {0};
  assert_int_equal(cow_process_wait(p, on_wait, &late), 0);
  assert_int_equal(late.done, 0); /* never inside the call */
  TW_UNTIL(&loop, late.done);
  assert_int_equal(late.code, 5);
  close_process(p);
}

static void kill_running_then_after_exit(void **state)
{
  const char *argv[] = {"/bin/sh", "-c", "exec sleep 30", NULL};
  cow_process_t *p = start(argv, 0);
  struct result w = {0}, k = {0}, k2 = {0};
  assert_int_equal(cow_process_wait(p, on_wait, &w), 0);
  assert_int_equal(cow_process_kill(p, on_proc, &k), 0);
  TW_UNTIL(&loop, k.done);
  assert_int_equal(k.status, 0);
  TW_UNTIL(&loop, w.done);
  assert_int_equal(w.status, 0);
  assert_true(w.code != 0); /* killed: 137 or 4294967295 or a Windows code, never 0 */
  assert_int_equal(cow_process_kill(p, on_proc, &k2), 0);
  TW_UNTIL(&loop, k2.done);
  assert_int_equal(k2.status, COW_ESRCH);
  close_process(p);
}

static void close_with_pending_operations(void **state)
{
  const char *argv[] = {"/bin/sh", "-c", "exec sleep 30", NULL};
  cow_process_t *p = start(argv, 0);
  struct result w1 = {0}, w2 = {0};
  assert_int_equal(cow_process_wait(p, on_wait, &w1), 0);
  assert_int_equal(cow_process_wait(p, on_wait, &w2), 0);
  int closed = 0;
  track(p, 0);
  assert_int_equal(cow_process_close(p, on_closed, &closed), 0);
  assert_int_equal(cow_process_close(p, on_closed, &closed), COW_ECLOSING);
  TW_UNTIL(&loop, closed);
  assert_int_equal(w1.done, 1);
  assert_int_equal(w1.status, COW_ECANCELED);
  assert_int_equal(w2.status, COW_ECANCELED);
  assert_int_equal(closed, 1);
  /* closing did not kill it (hcsshim semantics); the fixture's teardown reaps the rest */
}

/* Run argv (stdout and stderr captured) to its exit and check the order: the wait
 * completes after both streams reached end of file, never before, and no byte arrives
 * after it. */
static struct result run_captured(const char *const *argv)
{
  cow_process_t *p = start(argv, CONTRACT_STDOUT | CONTRACT_STDERR);
  struct result w = {0};
  waited_before_eof = out_eof_at_wait = err_eof_at_wait = 0;
  watch_wait = &w;
  capture_start(p);
  assert_int_equal(cow_process_wait(p, on_wait, &w), 0);
  TW_UNTIL(&loop, w.done);
  watch_wait = NULL;
  if (!out_eof_at_wait || !err_eof_at_wait)
    fail_msg("%s: the exit was reported before %s reached end of file", fx->name,
             !out_eof_at_wait ? "stdout" : "stderr");
  assert_int_equal(waited_before_eof, 0); /* no byte after the exit */
  close_process(p);
  return w;
}

static void stdout_drained_before_exit(void **state)
{
  /* 4 MiB on stdout and some on stderr, then an immediate exit. */
  const char *argv[] = {"/bin/sh", "-c",
                        "head -c 4194304 /dev/zero | tr '\\0' 'x'; echo done >&2; exit 9", NULL};
  struct result w = run_captured(argv);
  assert_int_equal(w.status, 0);
  assert_int_equal(w.code, 9);
  assert_int_equal(cap_out.len, 4194304);
  assert_true(cap_out.buf[0] == 'x' && memcmp(cap_out.buf, cap_out.buf + 1, cap_out.len - 1) == 0);
  assert_string_equal(cap_err.buf, "done\n");
  capture_free();
}

/* The same, the backend delivering the exit before the 4 MiB. */
static void stdout_drained_before_late_exit(void **state)
{
  stdout_drained_before_exit(state);
}

/* The backend reports the exit while the output is still in flight (exit first, bytes
 * OUTPUT_LATE_MS later): the library still reports it only after both streams ended, and
 * every byte arrives, in order. */
static void exit_overtakes_output(void **state)
{
  const char *argv[] = {"/bin/sh", "-c", "seq 1 100000; seq 7 -1 1 >&2; exit 3", NULL};
  struct result w = run_captured(argv);
  assert_int_equal(w.status, 0);
  assert_int_equal(w.code, 3);
  /* every line of both streams, byte for byte */
  size_t off = 0;
  char line[16];
  for (int i = 1; i <= 100000; i++) {
    int n = snprintf(line, sizeof line, "%d\n", i);
    if (off + (size_t)n > cap_out.len || memcmp(cap_out.buf + off, line, (size_t)n) != 0)
      fail_msg("%s: stdout differs at byte %zu (line %d) of %zu", fx->name, off, i, cap_out.len);
    off += (size_t)n;
  }
  assert_int_equal(off, cap_out.len);
  assert_string_equal(cap_err.buf, "7\n6\n5\n4\n3\n2\n1\n");
  capture_free();
}

static void stdin_roundtrip_and_close_stdin(void **state)
{
  const char *argv[] = {"/bin/cat", NULL};
  cow_process_t *p = start(argv, CONTRACT_STDIN | CONTRACT_STDOUT | CONTRACT_STDERR);
  capture_start(p);
  uv_stream_t *in = NULL;
  assert_int_equal(cow_process_stdio(&in, NULL, NULL, p), 0);
  assert_non_null(in);
  uv_write_t wr;
  uv_buf_t b = uv_buf_init("ping\n", 5);
  assert_int_equal(uv_write(&wr, in, &b, 1, NULL), 0);
  struct result cs = {0}, w = {0};
  assert_int_equal(cow_process_close_stdin(p, on_proc, &cs), 0);
  assert_int_equal(cow_process_wait(p, on_wait, &w), 0);
  TW_UNTIL(&loop, cs.done);
  assert_int_equal(cs.status, 0);
  TW_UNTIL(&loop, w.done); /* cat exits only because stdin reached end of file */
  assert_int_equal(w.code, 0);
  assert_string_equal(cap_out.buf, "ping\n");
  capture_free();
  close_process(p);
}

/* A consumer that drops an output while the create is still in flight: the stream is closed
 * as soon as the backend hands it over (nothing of it stays on the loop once the process is
 * freed), the other stream is read to its end and the exit comes. */
static void close_output_before_created(void **state)
{
  const char *argv[] = {"/bin/sh", "-c", "echo err >&2; exit 4", NULL};
  char *cfg = fx->process_config(ctx, argv, CONTRACT_STDOUT | CONTRACT_STDERR);
  assert_non_null(cfg);
  cow_process_t *p;
  struct result created = {0}, dropped = {0}, w = {0};
  int rc = cow_host_create_process(&p, host, cfg, on_proc, &created);
  free(cfg);
  assert_int_equal(rc, 0);
  track(p, 1);
  cow_process_set_data(p, (void *)process_marker);
  assert_int_equal(cow_process_close_stdout(p, on_proc, &dropped), 0);
  assert_int_equal(cow_process_wait(p, on_wait, &w), 0);
  TW_UNTIL(&loop, created.done && dropped.done);
  assert_int_equal(created.status, 0);
  assert_int_equal(dropped.status, 0);
  uv_stream_t *out = NULL, *err = NULL;
  assert_int_equal(cow_process_stdio(NULL, &out, &err, p), 0);
  assert_non_null(out);
  assert_non_null(err);
  if (!uv_is_closing((uv_handle_t *)out))
    fail_msg("%s: stdout, dropped before the create completed, is open on the loop", fx->name);
  assert_int_equal(cow_process_read_start(p, COW_STDOUT, alloc_cb, capture_read), COW_EALREADY);
  memset(&cap_err, 0, sizeof cap_err);
  err->data = &cap_err;
  assert_int_equal(cow_process_read_start(p, COW_STDERR, alloc_cb, capture_read), 0);
  TW_UNTIL(&loop, w.done);
  assert_int_equal(w.status, 0);
  assert_int_equal(w.code, 4);
  assert_string_equal(cap_err.buf, "err\n");
  capture_free();
  close_process(p);
}

static void bad_input_errors(void **state)
{
  cow_process_t *p = NULL;
  assert_int_equal(cow_host_create_process(&p, NULL, "{}", on_proc, NULL), COW_EINVAL);
  assert_int_equal(cow_host_create_process(NULL, host, "{}", on_proc, NULL), COW_EINVAL);
  assert_int_equal(cow_host_create_process(&p, host, NULL, on_proc, NULL), COW_EINVAL);
  assert_int_equal(cow_process_kill(NULL, on_proc, NULL), COW_EINVAL);
  assert_null(p); /* a refused call leaves the out-parameter alone */
  /* A document the backend can judge on the host is refused at the call: nothing is sent,
   * no callback ever runs, the out-parameter is left alone. */
  struct result created = {0};
  int rc = cow_host_create_process(&p, host, fx->bad_config, on_proc, &created);
  if (rc == 0) {
    track(p, 1);
    cow_process_set_data(p, (void *)process_marker);
    fail_msg("%s: %s was accepted at the call", fx->name, fx->bad_config);
  }
  assert_int_equal(rc, COW_EINVAL);
  assert_null(p);
  /* A program that does not exist is a failed create with the reason, on every backend
   * (never a process that "ran" and exited 127): its waiters are released with it. */
  const char *missing[] = {"/nonexistent/program", NULL};
  char *cfg = fx->process_config(ctx, missing, 0);
  struct result c2 = {0}, w2 = {0};
  p = NULL;
  rc = cow_host_create_process(&p, host, cfg, on_proc, &c2);
  free(cfg);
  if (rc != 0) {
    assert_true(rc < 0);
    assert_null(p);
    assert_int_equal(created.done, 0); /* the refused create never called back */
    return;
  }
  track(p, 1);
  cow_process_set_data(p, (void *)process_marker);
  assert_int_equal(cow_process_wait(p, on_wait, &w2), 0);
  TW_UNTIL(&loop, c2.done);
  if (c2.status >= 0)
    fail_msg("%s: /nonexistent/program was created", fx->name);
  assert_true(c2.message[0] != '\0');
  TW_UNTIL(&loop, w2.done);
  assert_int_equal(w2.status, c2.status);
  assert_int_equal(w2.code, -1);
  assert_int_equal(cow_process_pid(p), COW_ENOT_STARTED);
  close_process(p);
  assert_int_equal(created.done, 0); /* the refused create never called back */
}

static void signal_then_resize_without_console(void **state)
{
  const char *argv[] = {"/bin/sh", "-c", "exec sleep 30", NULL};
  cow_process_t *p = start(argv, 0);
  struct result r = {0}, w = {0}, s = {0};
  /* A process without a console cannot be resized (R12: FAILED_PRECONDITION): COW_ENOTTY,
   * at the call or through the callback, and nothing else. */
  int rc = cow_process_resize_console(p, 100, 30, on_proc, &r);
  if (rc == 0) {
    TW_UNTIL(&loop, r.done);
    assert_int_equal(r.status, COW_ENOTTY);
  } else {
    assert_int_equal(rc, COW_ENOTTY);
    assert_int_equal(r.done, 0);
  }
  /* The refused resize left the process running: the default signal (or the kill of a
   * backend without signals) is what ends it, with a non-zero code. */
  int64_t code = 0;
  assert_int_equal(cow_process_exit_code(&code, p), COW_ENOT_EXITED);
  assert_int_equal(cow_process_wait(p, on_wait, &w), 0);
  rc = cow_process_signal(p, NULL, on_proc, &s);
  if (rc == COW_ENOTSUP) {
    assert_int_equal(cow_process_kill(p, on_proc, &s), 0);
  } else {
    assert_int_equal(rc, 0);
  }
  TW_UNTIL(&loop, s.done);
  assert_int_equal(s.status, 0);
  TW_UNTIL(&loop, w.done);
  assert_int_equal(w.status, 0);
  assert_true(w.code != 0);
  close_process(p);
}

/* ---- stop with escalation (R20) ---- */

struct stop_result {
  int done, status, forced;
  int64_t code;
};

static void on_stopped(cow_process_t *p, int status, int64_t code, int forced,
                       const cow_error_t *err, void *data)
{
  TW_IGNORED_AFTER_FAILURE();
  struct stop_result *r = data;
  assert_int_equal(r->done, 0);
  r->done = 1;
  r->status = status;
  r->code = code;
  r->forced = forced;
  assert_int_equal(err != NULL, status < 0);
}

/* Start argv with stdout captured and run until it printed `line`: the shell has set its
 * traps by then. */
static cow_process_t *start_ready(const char *const *argv, const char *line)
{
  cow_process_t *p = start(argv, CONTRACT_STDOUT);
  capture_start(p);
  TW_UNTIL_WHAT(&loop, cap_out.eof || (cap_out.buf != NULL && strstr(cap_out.buf, line) != NULL),
                line);
  if (cap_out.buf == NULL || strstr(cap_out.buf, line) == NULL)
    fail_msg("the process ended before printing '%s'", line);
  return p;
}

/* Whether this backend delivers signals at all (a GCS utility VM process does not). */
static int signals_supported(void)
{
  const char *argv[] = {"/bin/sh", "-c", "exec sleep 30", NULL};
  cow_process_t *p = start(argv, 0);
  struct result s = {0}, w = {0};
  assert_int_equal(cow_process_wait(p, on_wait, &w), 0);
  int rc = cow_process_signal(p, NULL, on_proc, &s);
  if (rc == 0)
    TW_UNTIL(&loop, s.done);
  int supported = rc == 0 ? s.status != COW_ENOTSUP : rc != COW_ENOTSUP;
  if (!supported || (rc == 0 && s.status != 0)) {
    struct result k = {0};
    assert_int_equal(cow_process_kill(p, on_proc, &k), 0);
    TW_UNTIL(&loop, k.done);
  }
  TW_UNTIL(&loop, w.done);
  close_process(p);
  return supported;
}

static void stop_escalates_when_the_signal_is_ignored(void **state)
{
  const char *argv[] = {"/bin/sh", "-c", "trap '' TERM INT HUP; echo ready; exec sleep 30", NULL};
  cow_process_t *p = start_ready(argv, "ready");
  char *sig = NULL;
  assert_int_equal(cow_signal_options_json(&sig, 15), 0);
  struct stop_result r = {0};
  assert_int_equal(cow_process_stop(p, sig, 300, on_stopped, &r), 0);
  assert_int_equal(r.done, 0); /* never inside the call */
  TW_UNTIL(&loop, r.done);
  assert_int_equal(r.status, 0);
  assert_int_equal(r.forced, 1); /* ignored (or refused): only the kill ended it */
  assert_true(r.code != 0);
  assert_int_equal(cap_out.eof, 1); /* exit reported after the output ended */
  cow_free(sig);
  capture_free();
  close_process(p);
}

static void stop_without_escalation(void **state)
{
  int supported = signals_supported();
  print_message("# %s: signals %s\n", fx->name, supported ? "delivered" : "not supported");
  const char *argv[] = {"/bin/sh", "-c", "echo ready; exec sleep 30", NULL};
  cow_process_t *p = start_ready(argv, "ready");
  char *sig = NULL;
  assert_int_equal(cow_signal_options_json(&sig, 15), 0);
  struct stop_result r = {0}, again = {0};
  assert_int_equal(cow_process_stop(p, sig, 120000, on_stopped, &r), 0);
  TW_UNTIL(&loop, r.done);
  assert_int_equal(r.status, 0);
  assert_true(r.code != 0);
  /* The signal ended it well inside the two minutes; only a backend without signals
   * needs the kill (at once, not after the grace period). */
  assert_int_equal(r.forced, !supported);
  /* Stopping what already exited: its exit code, nothing forced. */
  assert_int_equal(cow_process_stop(p, sig, 120000, on_stopped, &again), 0);
  TW_UNTIL(&loop, again.done);
  assert_int_equal(again.status, 0);
  assert_int_equal(again.code, r.code);
  assert_int_equal(again.forced, 0);
  cow_free(sig);
  capture_free();
  close_process(p);
}

static void close_while_stopping(void **state)
{
  const char *argv[] = {"/bin/sh", "-c", "trap '' TERM INT HUP; echo ready; exec sleep 30", NULL};
  cow_process_t *p = start_ready(argv, "ready");
  struct stop_result r = {0};
  assert_int_equal(cow_process_stop(p, NULL, 120000, on_stopped, &r), 0);
  int closed = 0;
  track(p, 0);
  assert_int_equal(cow_process_close(p, on_closed, &closed), 0);
  TW_UNTIL(&loop, closed);
  TW_UNTIL(&loop, r.done);
  assert_int_equal(r.status, COW_ECANCELED);
  assert_int_equal(r.code, -1);
  capture_free();
  /* the process may still run (closing does not kill); the fixture's teardown reaps it */
}

/* ---- opening a running process by pid ---- */

static void open_running_process_by_pid(void **state)
{
  const char *argv[] = {"/bin/sh", "-c", "exec sleep 30", NULL};
  cow_process_t *p = start(argv, 0);
  int64_t pid = cow_process_pid(p);
  cow_process_t *q = NULL;
  struct result o = {0};
  int rc = cow_host_open_process(&q, host, pid, on_proc, &o);
  if (rc == COW_ENOTSUP) {
    print_message("# %s: opening processes not supported\n", fx->name);
    assert_null(q);
    struct result k = {0}, w = {0};
    assert_int_equal(cow_process_wait(p, on_wait, &w), 0);
    assert_int_equal(cow_process_kill(p, on_proc, &k), 0);
    TW_UNTIL(&loop, w.done);
    close_process(p);
    return;
  }
  assert_int_equal(rc, 0);
  assert_non_null(q);
  cow_process_set_data(q, (void *)process_marker);
  TW_UNTIL(&loop, o.done);
  if (o.status != 0)
    fail_msg("open of pid %lld failed: %s: %s", (long long)pid, cow_err_name(o.status), o.message);
  assert_int_equal(cow_process_pid(q), pid);
  uv_stream_t *in = NULL, *out = NULL, *err = NULL;
  assert_int_equal(cow_process_stdio(&in, &out, &err, q), 0);
  assert_true(in == NULL && out == NULL && err == NULL); /* the streams are the creator's */
  /* Killed through the opened handle: both handles see the same exit. */
  struct result wp = {0}, wq = {0}, k = {0};
  assert_int_equal(cow_process_wait(p, on_wait, &wp), 0);
  assert_int_equal(cow_process_wait(q, on_wait, &wq), 0);
  assert_int_equal(cow_process_kill(q, on_proc, &k), 0);
  TW_UNTIL(&loop, k.done);
  assert_int_equal(k.status, 0);
  TW_UNTIL(&loop, wp.done);
  TW_UNTIL(&loop, wq.done);
  assert_int_equal(wp.status, 0);
  assert_int_equal(wq.status, 0);
  assert_true(wq.code != 0);
  assert_int_equal(wq.code, wp.code);
  cow_timestamp_t t;
  assert_int_equal(cow_process_exit_time(&t, q), 0);
  close_process(q);
  close_process(p);
  /* A process that has exited cannot be opened. */
  cow_process_t *gone = NULL;
  struct result g = {0}, gw = {0};
  assert_int_equal(cow_host_open_process(&gone, host, pid, on_proc, &g), 0);
  cow_process_set_data(gone, (void *)process_marker);
  assert_int_equal(cow_process_wait(gone, on_wait, &gw), 0);
  TW_UNTIL(&loop, g.done);
  assert_int_equal(g.status, COW_ENOENT);
  TW_UNTIL(&loop, gw.done); /* its waiters learn why */
  assert_int_equal(gw.status, COW_ENOENT);
  assert_int_equal(gw.code, -1);
  close_process(gone);
}

/* ---- pause and resume ---- */

struct cresult {
  int done, status;
};

static void on_container(cow_container_t *c, int status, const cow_error_t *err, void *data)
{
  struct cresult *r = data;
  assert_int_equal(r->done, 0);
  r->done = 1;
  r->status = status;
  assert_int_equal(err != NULL, status < 0);
}

static void timer_fired(uv_timer_t *t)
{
  *(int *)t->data = 1;
}

static void timer_closed(uv_handle_t *h)
{
  *(int *)h->data = 1;
}

/* Run the loop until stdout has grown past `len`, failing with `what` at the deadline. */
static void run_until_output_beyond(size_t len, const char *what)
{
  TW_UNTIL_WHAT(&loop, cap_out.len > len || cap_out.eof, what);
  if (cap_out.len <= len)
    fail_msg("%s never arrived (end of file after %zu bytes)", what, cap_out.len);
}

/* Run the loop for `ms`: what a stopped writer left in flight is read meanwhile. */
static void run_for(uint64_t ms)
{
  uv_timer_t t;
  int fired = 0, closed = 0;
  assert_int_equal(uv_timer_init(&loop, &t), 0);
  t.data = &fired;
  assert_int_equal(uv_timer_start(&t, timer_fired, ms, 0), 0);
  TW_UNTIL(&loop, fired);
  t.data = &closed;
  uv_close((uv_handle_t *)&t, timer_closed);
  TW_UNTIL(&loop, closed);
}

static void end_process(cow_process_t *p)
{
  struct result k = {0}, w = {0};
  assert_int_equal(cow_process_wait(p, on_wait, &w), 0);
  assert_int_equal(cow_process_kill(p, on_proc, &k), 0);
  TW_UNTIL(&loop, k.done);
  TW_UNTIL(&loop, w.done);
  assert_int_equal(w.status, 0);
  capture_free();
  close_process(p);
}

/* ---- typed process list and statistics ---- */

struct list_result {
  int done, status;
  size_t count;
  int64_t pids[32];
  int named; /* entries with a non-empty image name */
  char message[256];
};

static void on_list(cow_container_t *c, int status, const cow_process_list_t *list,
                    const cow_error_t *err, void *data)
{
  TW_IGNORED_AFTER_FAILURE();
  struct list_result *r = data;
  assert_int_equal(r->done, 0);
  r->done = 1;
  r->status = status;
  assert_int_equal(list != NULL, status == 0);
  assert_int_equal(err != NULL, status < 0);
  if (err != NULL)
    snprintf(r->message, sizeof r->message, "%s", err->message ? err->message : "");
  for (size_t i = 0; list != NULL && i < list->count && i < 32; i++) {
    r->pids[i] = list->items[i].pid;
    r->named += list->items[i].image_name != NULL && list->items[i].image_name[0] != '\0';
  }
  r->count = list != NULL ? list->count : 0;
}

struct stats_result {
  int done, status;
  cow_statistics_t st;
  char message[256];
};

static void on_stats(cow_container_t *c, int status, const cow_statistics_t *st,
                     const cow_error_t *err, void *data)
{
  TW_IGNORED_AFTER_FAILURE();
  struct stats_result *r = data;
  assert_int_equal(r->done, 0);
  r->done = 1;
  r->status = status;
  assert_int_equal(st != NULL, status == 0);
  if (err != NULL)
    snprintf(r->message, sizeof r->message, "%s", err->message ? err->message : "");
  if (st != NULL)
    r->st = *st;
}

static struct list_result list_now(cow_container_t *c)
{
  struct list_result r = {0};
  assert_int_equal(cow_container_process_list(c, on_list, &r), 0);
  assert_int_equal(r.done, 0); /* never inside the call */
  TW_UNTIL(&loop, r.done);
  if (r.status != 0)
    fail_msg("%s: process list failed: %s: %s", fx->name, cow_err_name(r.status), r.message);
  return r;
}

static int listed(const struct list_result *r, int64_t pid)
{
  for (size_t i = 0; i < r->count && i < 32; i++)
    if (r->pids[i] == pid)
      return 1;
  return 0;
}

/* The container's processes as the backend lists them, matched by the pids the process
 * handles give; real figures (CPU burnt by a process, resident memory) in the statistics. */
static void process_list_and_statistics(void **state)
{
  cow_container_t *c = cow_host_container(host);
  assert_non_null(c);
  const char *burner[] = {
      "/bin/sh", "-c",
      "i=0; while [ $i -lt 40000 ]; do i=$((i+1)); done; echo ready; exec sleep 30", NULL};
  const char *sleeper[] = {"/bin/sh", "-c", "exec sleep 30", NULL};
  cow_process_t *a = start_ready(burner, "ready");
  cow_process_t *b = start(sleeper, 0);
  int64_t pa = cow_process_pid(a), pb = cow_process_pid(b);
  struct list_result l = list_now(c);
  if (!listed(&l, pa) || !listed(&l, pb))
    fail_msg("%s: pids %lld and %lld not both in the list of %zu", fx->name, (long long)pa,
             (long long)pb, l.count);
  if (strncmp(fx->name, "hcs", 3) == 0)
    assert_int_equal(l.named, (int)l.count); /* HCS names every image; the guest none */
  struct stats_result s = {0};
  assert_int_equal(cow_container_statistics(c, on_stats, &s), 0);
  TW_UNTIL(&loop, s.done);
  if (s.status != 0)
    fail_msg("%s: statistics failed: %s: %s", fx->name, cow_err_name(s.status), s.message);
  unsigned want = COW_STATS_CPU_TOTAL | COW_STATS_MEMORY_USAGE | COW_STATS_PROCESS_COUNT;
  if ((s.st.have & want) != want)
    fail_msg("%s: statistics have 0x%x, want 0x%x", fx->name, s.st.have, want);
  assert_true(s.st.process_count >= 2);
  assert_true(s.st.cpu_total_ns > 0); /* the burner's loop */
  assert_true(s.st.memory_usage_bytes > 0);
  if (s.st.have & COW_STATS_CPU_KERNEL)
    assert_true(s.st.cpu_kernel_ns <= s.st.cpu_total_ns);
  assert_true(s.st.timestamp.sec > 1700000000 && s.st.timestamp.nsec >= 0 &&
              s.st.timestamp.nsec < 1000000000);
  /* An exited process leaves the list. */
  struct result k = {0}, w = {0};
  assert_int_equal(cow_process_wait(b, on_wait, &w), 0);
  assert_int_equal(cow_process_kill(b, on_proc, &k), 0);
  TW_UNTIL(&loop, w.done);
  close_process(b);
  l = list_now(c);
  assert_true(listed(&l, pa));
  if (listed(&l, pb))
    fail_msg("%s: pid %lld is still listed after its exit", fx->name, (long long)pb);
  end_process(a);
  assert_int_equal(cow_container_process_list(NULL, on_list, &l), COW_EINVAL);
  assert_int_equal(cow_container_statistics(c, NULL, NULL), COW_EINVAL);
}

static void pause_freezes_until_resume(void **state)
{
  cow_container_t *c = cow_host_container(host);
  assert_non_null(c);
  const char *argv[] = {"/bin/sh", "-c", "echo ready; while :; do echo tick; done", NULL};
  cow_process_t *p = start_ready(argv, "ready");
  struct cresult pz = {0};
  int rc = cow_container_pause(c, on_container, &pz);
  if (rc == 0)
    TW_UNTIL(&loop, pz.done);
  if (rc == COW_ENOTSUP || (rc == 0 && pz.status == COW_ENOTSUP)) {
    /* A backend that cannot pause says so, changes nothing, and resume says so too. */
    print_message("# %s: pause not supported\n", fx->name);
    struct cresult rs = {0};
    rc = cow_container_resume(c, on_container, &rs);
    if (rc == 0)
      TW_UNTIL(&loop, rs.done);
    assert_true(rc == COW_ENOTSUP || rs.status == COW_ENOTSUP);
    size_t len = cap_out.len;
    run_until_output_beyond(len, "output of the process the refused pause left running");
    end_process(p);
    return;
  }
  assert_int_equal(rc, 0);
  assert_int_equal(pz.status, 0);
  /* Paused: what was written before the freeze drains, then nothing more comes. */
  run_for(100);
  size_t frozen = cap_out.len;
  run_for(400);
  assert_int_equal(cap_out.len, frozen);
  /* A paused container cannot be paused again. */
  struct cresult again = {0};
  assert_int_equal(cow_container_pause(c, on_container, &again), 0);
  TW_UNTIL(&loop, again.done);
  assert_int_equal(again.status, COW_EINVALID_STATE);
  struct cresult rs = {0};
  assert_int_equal(cow_container_resume(c, on_container, &rs), 0);
  TW_UNTIL(&loop, rs.done);
  assert_int_equal(rs.status, 0);
  run_until_output_beyond(frozen, "output after the resume");
  /* A running container cannot be resumed. */
  struct cresult rs2 = {0};
  assert_int_equal(cow_container_resume(c, on_container, &rs2), 0);
  TW_UNTIL(&loop, rs2.done);
  assert_int_equal(rs2.status, COW_EINVALID_STATE);
  end_process(p);
}

int contract_main(const struct contract_fixture *fixture)
{
  fx = fixture;
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(exit_codes, setup, teardown),
      cmocka_unit_test_setup_teardown(many_waiters_and_wait_after_exit, setup, teardown),
      cmocka_unit_test_setup_teardown(kill_running_then_after_exit, setup, teardown),
      cmocka_unit_test_setup_teardown(close_with_pending_operations, setup, teardown),
      cmocka_unit_test_setup_teardown(stdout_drained_before_exit, setup, teardown),
      cmocka_unit_test_setup_teardown(stdout_drained_before_late_exit, setup_output_late, teardown),
      cmocka_unit_test_setup_teardown(exit_overtakes_output, setup_output_late, teardown),
      cmocka_unit_test_setup_teardown(stdin_roundtrip_and_close_stdin, setup, teardown),
      cmocka_unit_test_setup_teardown(close_output_before_created, setup, teardown),
      cmocka_unit_test_setup_teardown(bad_input_errors, setup, teardown),
      cmocka_unit_test_setup_teardown(signal_then_resize_without_console, setup, teardown),
      cmocka_unit_test_setup_teardown(stop_escalates_when_the_signal_is_ignored, setup, teardown),
      cmocka_unit_test_setup_teardown(stop_without_escalation, setup, teardown),
      cmocka_unit_test_setup_teardown(close_while_stopping, setup, teardown),
      cmocka_unit_test_setup_teardown(pause_freezes_until_resume, setup, teardown),
      cmocka_unit_test_setup_teardown(open_running_process_by_pid, setup, teardown),
      cmocka_unit_test_setup_teardown(process_list_and_statistics, setup, teardown),
  };
  return _cmocka_run_group_tests(fx->name, tests, sizeof tests / sizeof tests[0], NULL, NULL);
}

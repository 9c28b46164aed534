/* The core's guarantees, driven through the scripted test backend: completion, failure,
 * timeouts, close with pending operations, foreign-thread events, late events, waiters,
 * stdio ordering, and allocation failure at every allocation of each constructor. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cow/stdio.h"
#include "support/test-backend.h"

/* ---- a record of every callback, to check "exactly once" and ordering ---- */

#define MAX_EVENTS 256
static struct {
  int n;
  char what[MAX_EVENTS][32];
  int status[MAX_EVENTS];
  int64_t code[MAX_EVENTS];
  int had_err[MAX_EVENTS];
} rec;
static int in_call; /* set while a public call runs: callbacks must never see it set */

static void record(const char *what, int status, int64_t code, const cow_error_t *err)
{
  assert_int_equal(in_call, 0);
  assert_true(rec.n < MAX_EVENTS);
  snprintf(rec.what[rec.n], sizeof rec.what[0], "%s", what);
  rec.status[rec.n] = status;
  rec.code[rec.n] = code;
  rec.had_err[rec.n] = err != NULL;
  /* the contract: err is non-NULL exactly when status < 0, with a message */
  assert_int_equal(err != NULL, status < 0);
  if (err != NULL) {
    assert_int_equal(err->code, status);
    assert_non_null(err->message);
  }
  rec.n++;
}

static int count_of(const char *what)
{
  int n = 0;
  for (int i = 0; i < rec.n; i++)
    n += strcmp(rec.what[i], what) == 0;
  return n;
}

static int index_of(const char *what)
{
  for (int i = 0; i < rec.n; i++)
    if (strcmp(rec.what[i], what) == 0)
      return i;
  return -1;
}

static void on_process(cow_process_t *p, int status, const cow_error_t *err, void *data)
{
  record(data ? data : "process", status, 0, err);
}

static void on_wait(cow_process_t *p, int status, int64_t code, const cow_error_t *err, void *data)
{
  record(data ? data : "wait", status, code, err);
}

static void on_container(cow_container_t *c, int status, const cow_error_t *err, void *data)
{
  record(data ? data : "container", status, 0, err);
}

static char last_json[256];
static void on_json(cow_container_t *c, int status, const char *json, const cow_error_t *err,
                    void *data)
{
  record(data ? data : "json", status, 0, err);
  snprintf(last_json, sizeof last_json, "%s", json ? json : "(null)");
}

static void on_process_closed(cow_process_t *p, void *data)
{
  record("process_closed", 0, 0, NULL);
}
static void on_host_closed(cow_host_t *h, void *data)
{
  record("host_closed", 0, 0, NULL);
}
static void on_container_closed(cow_container_t *c, void *data)
{
  record("container_closed", 0, 0, NULL);
}

static uv_loop_t loop;
static struct tb tb;
static long alloc_baseline;

static int setup(void **state)
{
  memset(&rec, 0, sizeof rec);
  memset(&tb, 0, sizeof tb);
  alloc_baseline = tb_alloc_outstanding();
  return uv_loop_init(&loop);
}

static int teardown(void **state)
{
  assert_int_equal(TW_LOOP_FINISH(&loop), 0);
  assert_int_equal(tb_alloc_outstanding(), alloc_baseline); /* nothing leaked */
  return 0;
}

#define CALL(expr)                                                                                 \
  do {                                                                                             \
    in_call = 1;                                                                                   \
    int rc_ = (expr);                                                                              \
    in_call = 0;                                                                                   \
    assert_int_equal(rc_, 0);                                                                      \
  } while (0)

static cow_process_t *new_process(cow_host_t *h)
{
  cow_process_t *p = NULL;
  CALL(cow_host_create_process(&p, h, "{}", on_process, "created"));
  assert_non_null(p);
  TW_RUN_IDLE(&loop);
  return p;
}

/* ---- tests ---- */

static void op_completes(void **state)
{
  cow_host_t *h;
  assert_int_equal(tb_host_new(&h, &loop, &tb), 0);
  cow_process_t *p = new_process(h);
#ifndef _WIN32 /* Windows has no SIGPIPE: a write to a vanished peer is an error there */
  /* a write to a vanished peer gives EPIPE rather than killing the process */
  struct sigaction sa;
  assert_int_equal(sigaction(SIGPIPE, NULL, &sa), 0);
  assert_true(sa.sa_handler == SIG_IGN);
#endif
  assert_int_equal(count_of("created"), 1);
  assert_int_equal(rec.status[index_of("created")], 0);
  assert_int_equal(cow_process_pid(p), 4242);
  CALL(cow_process_kill(p, on_process, "kill"));
  assert_int_equal(count_of("kill"), 0); /* never inside the call */
  TW_RUN_IDLE(&loop);
  assert_int_equal(count_of("kill"), 1);
  assert_int_equal(rec.status[index_of("kill")], 0);
  assert_int_equal(tb.calls[TB_KILL], 1);
  assert_string_equal(cow_host_os(h), "linux");
  assert_int_equal(cow_host_is_oci(h), 1);
  CALL(cow_process_close(p, on_process_closed, NULL));
  CALL(cow_host_close(h, on_host_closed, NULL));
  TW_RUN_IDLE(&loop);
  assert_int_equal(count_of("process_closed"), 1);
  assert_int_equal(count_of("host_closed"), 1);
  assert_int_equal(tb.finis, 2);
}

static void op_fails(void **state)
{
  cow_host_t *h;
  assert_int_equal(tb_host_new(&h, &loop, &tb), 0);
  cow_process_t *p = new_process(h);
  tb.mode = TB_COMPLETE_FAIL;
  tb.fail_code = COW_EHCS;
  CALL(cow_process_signal(p, "{\"Signal\":15}", on_process, "signal"));
  TW_RUN_IDLE(&loop);
  assert_int_equal(count_of("signal"), 1);
  assert_int_equal(rec.status[index_of("signal")], COW_EHCS);
  /* A refused slot: negative return, and the callback never runs. */
  tb.mode = TB_REFUSE;
  tb.fail_code = COW_EINVALID_STATE;
  in_call = 1;
  assert_int_equal(cow_process_kill(p, on_process, "refused"), COW_EINVALID_STATE);
  in_call = 0;
  TW_RUN_IDLE(&loop);
  assert_int_equal(count_of("refused"), 0);
  CALL(cow_process_close(p, NULL, NULL));
  CALL(cow_host_close(h, NULL, NULL));
}

static void create_fails_releases_waiters(void **state)
{
  cow_host_t *h;
  assert_int_equal(tb_host_new(&h, &loop, &tb), 0);
  tb.mode = TB_MANUAL;
  cow_process_t *p;
  CALL(cow_host_create_process(&p, h, "{}", on_process, "created"));
  CALL(cow_process_wait(p, on_wait, "wait"));
  assert_int_equal(cow_process_pid(p), COW_ENOT_STARTED);
  in_call = 1;
  assert_int_equal(cow_process_kill(p, on_process, "kill"), COW_ENOT_STARTED);
  in_call = 0;
  assert_int_equal(tb_complete(&tb, COW_ENOENT, NULL), 0);
  TW_RUN_IDLE(&loop);
  assert_int_equal(rec.status[index_of("created")], COW_ENOENT);
  assert_int_equal(rec.status[index_of("wait")], COW_ENOENT);
  assert_int_equal(rec.code[index_of("wait")], -1);
  /* a slot that refuses creation: negative return, no handle, no callback */
  cow_process_t *bad = (cow_process_t *)&bad;
  in_call = 1;
  assert_int_equal(cow_host_create_process(&bad, h, "{\"bad\":true}", on_process, "bad"),
                   COW_EINVAL);
  in_call = 0;
  assert_null(bad);
  CALL(cow_process_close(p, NULL, NULL));
  CALL(cow_host_close(h, NULL, NULL));
  TW_RUN_IDLE(&loop);
  assert_int_equal(count_of("bad"), 0);
}

static int warn_lines, debug_lines;
static char last_line[256];
static void log_cb(cow_log_level_t level, const char *sub, const char *msg, void *data)
{
  assert_ptr_equal(data, &warn_lines);
  if (level == COW_LOG_WARN)
    warn_lines++;
  if (level >= COW_LOG_DEBUG)
    debug_lines++;
  snprintf(last_line, sizeof last_line, "%s: %s", sub, msg);
}

static void op_times_out(void **state)
{
  warn_lines = debug_lines = 0;
  cow_log_set(COW_LOG_WARN, log_cb, &warn_lines); /* warnings and worse only */
  cow_container_t *c;
  assert_int_equal(tb_container_new(&c, &loop, &tb, "c1"), 0);
  tb.mode = TB_MANUAL;
  assert_int_equal(cow_container_set_timeout(c, COW_TIMEOUT_SHUTDOWN, 20), 0);
  CALL(cow_container_shutdown(c, on_container, "shutdown"));
  TW_RUN_IDLE(&loop);
  assert_int_equal(count_of("shutdown"), 1);
  assert_int_equal(rec.status[index_of("shutdown")], COW_ETIMEDOUT);
  assert_int_equal(tb.timeouts, 1);
  /* the timeout was logged as a warning; nothing below the level got through */
  cow_log_set(COW_LOG_ERROR, NULL, NULL);
  assert_int_equal(warn_lines, 1);
  assert_int_equal(debug_lines, 0);
  assert_non_null(strstr(last_line, "core: operation shutdown"));
  /* The backend's late completion is absorbed: no second callback. */
  assert_int_equal(tb_complete(&tb, 0, NULL), 0);
  TW_RUN_IDLE(&loop);
  assert_int_equal(count_of("shutdown"), 1);
  /* A timed-out waiter does not affect others or the container. */
  assert_int_equal(cow_container_set_timeout(c, COW_TIMEOUT_WAIT, 10), 0);
  CALL(cow_container_wait(c, on_container, "wait_short"));
  assert_int_equal(cow_container_set_timeout(c, COW_TIMEOUT_WAIT, 0), 0);
  CALL(cow_container_wait(c, on_container, "wait_long"));
  TW_UNTIL(&loop, count_of("wait_short") != 0);
  assert_int_equal(rec.status[index_of("wait_short")], COW_ETIMEDOUT);
  assert_int_equal(count_of("wait_long"), 0);
  cow_container_report_exit(c, NULL);
  TW_RUN_IDLE(&loop);
  assert_int_equal(rec.status[index_of("wait_long")], 0);
  CALL(cow_container_close(c, NULL, NULL));
}

/* Timeouts are per handle and taken at creation: a process starts with the values its host
 * has then, a change to the host reaches only processes created afterwards, a change to one
 * process reaches nobody else. (The values are shared copy-on-write, so the changes that
 * must copy can fail for want of memory; then nothing changes.) */
static void timeouts_per_handle(void **state)
{
  cow_host_t *h;
  assert_int_equal(tb_host_new(&h, &loop, &tb), 0);
  cow_process_t *before = new_process(h); /* no signal timeout, the default */
  assert_int_equal(cow_host_set_timeout(h, COW_TIMEOUT_SIGNAL, 10), 0);
  cow_process_t *after = new_process(h); /* 10 ms */
  cow_process_t *own = new_process(h);
  tb_alloc_fail_at(0);
  assert_int_equal(cow_process_set_timeout(own, COW_TIMEOUT_SIGNAL, 0), COW_ENOMEM);
  assert_int_equal(cow_process_set_timeout(own, COW_TIMEOUT_SIGNAL, 0), 0);
  tb_alloc_fail_at(0);
  assert_int_equal(cow_host_set_timeout(h, COW_TIMEOUT_SIGNAL, 0), COW_ENOMEM);
  tb_alloc_fail_at(-1);
  assert_int_equal(cow_host_set_timeout(h, COW_TIMEOUT_SIGNAL, 0), 0);
  cow_process_t *later = new_process(h); /* no signal timeout again */
  tb.mode = TB_MANUAL;
  CALL(cow_process_kill(before, on_process, "kill_before"));
  CALL(cow_process_kill(after, on_process, "kill_after"));
  CALL(cow_process_kill(own, on_process, "kill_own"));
  CALL(cow_process_kill(later, on_process, "kill_later"));
  TW_UNTIL(&loop, count_of("kill_after") == 1);
  assert_int_equal(rec.status[index_of("kill_after")], COW_ETIMEDOUT);
  /* With the same 10 ms the others' deadlines would have fired in the same pass (armed in
   * the same loop turn) and been delivered in the same turn. */
  assert_int_equal(count_of("kill_before") + count_of("kill_own") + count_of("kill_later"), 0);
  tb_complete_all(&tb, 0);
  TW_RUN_IDLE(&loop);
  assert_int_equal(rec.status[index_of("kill_before")], 0);
  assert_int_equal(rec.status[index_of("kill_own")], 0);
  assert_int_equal(rec.status[index_of("kill_later")], 0);
  assert_int_equal(count_of("kill_after"), 1);
  cow_process_t *all[] = {before, after, own, later};
  for (int i = 0; i < 4; i++)
    CALL(cow_process_close(all[i], NULL, NULL));
  CALL(cow_host_close(h, NULL, NULL));
}

static void close_with_pending(void **state)
{
  cow_host_t *h;
  assert_int_equal(tb_host_new(&h, &loop, &tb), 0);
  cow_process_t *p = new_process(h);
  tb.mode = TB_MANUAL;
  CALL(cow_process_kill(p, on_process, "kill"));
  CALL(cow_process_signal(p, NULL, on_process, "signal"));
  CALL(cow_process_wait(p, on_wait, "wait1"));
  CALL(cow_process_wait(p, on_wait, "wait2"));
  assert_int_equal(tb.npending, 2);
  CALL(cow_process_close(p, on_process_closed, NULL));
  in_call = 1;
  assert_int_equal(cow_process_close(p, on_process_closed, NULL), COW_ECLOSING);
  assert_int_equal(cow_process_kill(p, on_process, "late"), COW_ECLOSING);
  in_call = 0;
  TW_RUN_IDLE(&loop);
  const char *names[] = {"kill", "signal", "wait1", "wait2"};
  for (int i = 0; i < 4; i++) {
    assert_int_equal(count_of(names[i]), 1);
    assert_int_equal(rec.status[index_of(names[i])], COW_ECANCELED);
    assert_true(index_of(names[i]) < index_of("process_closed"));
  }
  assert_int_equal(count_of("process_closed"), 1);
  assert_int_equal(tb.npending, 0); /* the backend's close completed its side */
  CALL(cow_host_close(h, on_host_closed, NULL));
}

static void host_close_waits_for_processes(void **state)
{
  cow_host_t *h;
  assert_int_equal(tb_host_new(&h, &loop, &tb), 0);
  cow_process_t *p = new_process(h);
  CALL(cow_host_close(h, on_host_closed, NULL));
  TW_RUN_IDLE(&loop);
  /* The process still refers to its host: the host's memory outlives it. */
  assert_int_equal(count_of("host_closed"), 0);
  assert_ptr_equal(cow_process_host(p), h);
  CALL(cow_process_close(p, on_process_closed, NULL));
  TW_RUN_IDLE(&loop);
  assert_int_equal(count_of("host_closed"), 1);
  assert_true(index_of("process_closed") < index_of("host_closed"));
}

static void many_waiters_and_late_waiter(void **state)
{
  cow_host_t *h;
  assert_int_equal(tb_host_new(&h, &loop, &tb), 0);
  cow_process_t *p = new_process(h);
  static char names[10][8];
  for (int i = 0; i < 10; i++) {
    snprintf(names[i], sizeof names[i], "w%d", i);
    CALL(cow_process_wait(p, on_wait, names[i]));
  }
  int64_t code;
  assert_int_equal(cow_process_exit_code(&code, p), COW_ENOT_EXITED);
  cow_process_report_exit(p, 7, NULL);
  cow_process_report_exit(p, 9, NULL); /* only the first report counts */
  TW_RUN_IDLE(&loop);
  for (int i = 0; i < 10; i++) {
    assert_int_equal(count_of(names[i]), 1);
    assert_int_equal(rec.status[index_of(names[i])], 0);
    assert_int_equal(rec.code[index_of(names[i])], 7);
  }
  assert_int_equal(cow_process_exit_code(&code, p), 0);
  assert_int_equal(code, 7);
  CALL(cow_process_wait(p, on_wait, "late"));
  assert_int_equal(count_of("late"), 0);
  TW_RUN_IDLE(&loop);
  assert_int_equal(rec.code[index_of("late")], 7);
  /* kill after exit: ESRCH, without bothering the backend; resize after exit: no-op */
  CALL(cow_process_kill(p, on_process, "kill"));
  CALL(cow_process_resize_console(p, 80, 24, on_process, "resize"));
  TW_RUN_IDLE(&loop);
  assert_int_equal(rec.status[index_of("kill")], COW_ESRCH);
  assert_int_equal(rec.status[index_of("resize")], 0);
  assert_int_equal(tb.calls[TB_KILL], 0);
  assert_int_equal(tb.calls[TB_RESIZE], 0);
  CALL(cow_process_close(p, NULL, NULL));
  CALL(cow_host_close(h, NULL, NULL));
}

static void expected_exit_fallback(void **state)
{
  cow_host_t *h;
  assert_int_equal(tb_host_new(&h, &loop, &tb), 0);
  /* the backend says "gone" but the exit never comes: waiters are released anyway */
  cow_process_t *p = new_process(h);
  CALL(cow_process_wait(p, on_wait, "wait"));
  cow_process_expect_exit(p, 20, NULL);
  TW_RUN_IDLE(&loop);
  assert_int_equal(rec.status[index_of("wait")], COW_ESRCH);
  assert_int_equal(rec.code[index_of("wait")], -1);
  /* the exit does come in time: the fallback stays silent, and the error it kept is
   * forgotten (the process was not lost: a kill says it exited) */
  cow_process_t *q = new_process(h);
  CALL(cow_process_wait(q, on_wait, "wait2"));
  char why[] = "the bridge closed";
  cow_error_t lost = {.code = COW_EBRIDGE_CLOSED, .domain = COW_DOMAIN_LIB, .message = why};
  cow_process_expect_exit(q, 10000, &lost);
  cow_process_report_exit(q, 3, NULL);
  TW_RUN_IDLE(&loop); /* returns at once: no timer left running */
  assert_int_equal(rec.status[index_of("wait2")], 0);
  assert_int_equal(rec.code[index_of("wait2")], 3);
  CALL(cow_process_kill(q, on_process, "kill2"));
  TW_RUN_IDLE(&loop);
  assert_int_equal(rec.status[index_of("kill2")], COW_ESRCH);
  /* the fallback with the backend's error: waiters get that one */
  cow_process_t *r = new_process(h);
  CALL(cow_process_wait(r, on_wait, "wait3"));
  cow_process_expect_exit(r, 1, &lost);
  TW_RUN_IDLE(&loop);
  assert_int_equal(rec.status[index_of("wait3")], COW_EBRIDGE_CLOSED);
  CALL(cow_process_close(r, NULL, NULL));
  CALL(cow_process_close(p, NULL, NULL));
  CALL(cow_process_close(q, NULL, NULL));
  CALL(cow_host_close(h, NULL, NULL));
}

/* ---- foreign threads ---- */

#define HAMMER_THREADS 4
#define HAMMER_EVENTS  2000

static atomic_int delivered;
static void count_event(void *object, void *payload)
{
  if (object != NULL)
    atomic_fetch_add(&delivered, 1);
  free(payload);
}

struct hammer {
  uint64_t id;
  int posted;
};

static void *hammer_thread(void *arg)
{
  struct hammer *hm = arg;
  for (int i = 0; i < HAMMER_EVENTS; i++) {
    int *payload = malloc(sizeof *payload);
    *payload = i;
    if (cow_event_post(hm->id, count_event, payload) == 0)
      hm->posted++;
    else
      free(payload);
  }
  return NULL;
}

static void stop_when_done(uv_timer_t *t)
{
  if (atomic_load(&delivered) == HAMMER_THREADS * HAMMER_EVENTS)
    uv_close((uv_handle_t *)t, NULL);
}

static void *exit_thread(void *arg)
{
  assert_int_equal(tb_post_exit(arg, 0), 0);
  return NULL;
}

static void events_from_threads(void **state)
{
  cow_host_t *h;
  assert_int_equal(tb_host_new(&h, &loop, &tb), 0);
  cow_process_t *p = new_process(h);
  atomic_store(&delivered, 0);
  pthread_t th[HAMMER_THREADS];
  struct hammer hm[HAMMER_THREADS];
  for (int i = 0; i < HAMMER_THREADS; i++) {
    hm[i].id = cow_process_event_id(p);
    hm[i].posted = 0;
    assert_int_equal(pthread_create(&th[i], NULL, hammer_thread, &hm[i]), 0);
  }
  /* The loop runs while the threads post; a timer keeps it alive until all arrived. */
  uv_timer_t t;
  uv_timer_init(&loop, &t);
  uv_timer_start(&t, stop_when_done, 1, 1);
  TW_RUN_IDLE(&loop);
  for (int i = 0; i < HAMMER_THREADS; i++) {
    pthread_join(th[i], NULL);
    assert_int_equal(hm[i].posted, HAMMER_EVENTS);
  }
  assert_int_equal(atomic_load(&delivered), HAMMER_THREADS * HAMMER_EVENTS);
  /* An exit reported from a thread reaches the waiters on the loop. */
  CALL(cow_process_wait(p, on_wait, "wait"));
  pthread_t ex;
  assert_int_equal(pthread_create(&ex, NULL, exit_thread, p), 0);
  pthread_join(ex, NULL);
  TW_RUN_IDLE(&loop);
  assert_int_equal(count_of("wait"), 1);
  CALL(cow_process_close(p, NULL, NULL));
  CALL(cow_host_close(h, NULL, NULL));
}

/* One queue serves both ways onto the loop: completions decided on the loop thread (which
 * need no wake-up) and events from foreign threads (which wake the loop through its async
 * handle) run in the order they were posted, whichever drain takes them. */
struct posting {
  uint64_t id;
  const char *what;
};

static void record_event(void *object, void *payload)
{
  assert_non_null(object);
  record(payload, 0, 0, NULL);
}

static void *post_from_thread(void *arg)
{
  struct posting *po = arg;
  assert_int_equal(cow_event_post(po->id, record_event, (void *)po->what), 0);
  return NULL;
}

static void post_and_join(cow_process_t *p, const char *what)
{
  struct posting po = {cow_process_event_id(p), what};
  pthread_t t;
  assert_int_equal(pthread_create(&t, NULL, post_from_thread, &po), 0);
  pthread_join(t, NULL);
}

static void local_and_foreign_in_posting_order(void **state)
{
  cow_host_t *h;
  assert_int_equal(tb_host_new(&h, &loop, &tb), 0);
  cow_process_t *p = new_process(h);
  post_and_join(p, "foreign1");
  CALL(cow_process_kill(p, on_process, "kill1")); /* the backend completes it in the slot */
  post_and_join(p, "foreign2");
  CALL(cow_process_kill(p, on_process, "kill2"));
  TW_RUN_IDLE(&loop);
  assert_int_equal(count_of("foreign1") + count_of("kill1"), 2);
  assert_int_equal(count_of("foreign2") + count_of("kill2"), 2);
  assert_true(index_of("foreign1") < index_of("kill1"));
  assert_true(index_of("kill1") < index_of("foreign2"));
  assert_true(index_of("foreign2") < index_of("kill2"));
  CALL(cow_process_close(p, NULL, NULL));
  CALL(cow_host_close(h, NULL, NULL));
}

static atomic_int poster_done;

static void *post_during_close(void *arg)
{
  uint64_t id = *(uint64_t *)arg;
  int dropped = 0;
  /* Post until the handle is gone (bounded by time, so a broken close fails the test
   * instead of hanging it): the drop must be observed, however slow the machine. */
  uint64_t deadline = uv_hrtime() + 30 * 1000000000ull;
  while (uv_hrtime() < deadline) {
    int *payload = malloc(sizeof *payload);
    int rc = cow_event_post(id, count_event, payload);
    if (rc == COW_ENOENT) {
      free(payload);
      dropped = 1;
      break;
    }
    assert_int_equal(rc, 0);
    usleep(50);
  }
  atomic_store(&poster_done, 1);
  return (void *)(intptr_t)dropped;
}

static void late_event_after_close(void **state)
{
  cow_host_t *h;
  assert_int_equal(tb_host_new(&h, &loop, &tb), 0);
  cow_process_t *p = new_process(h);
  uint64_t id = cow_process_event_id(p);
  atomic_store(&delivered, 0);
  /* Posted before close, delivered after the handle is gone: the callback sees NULL and
   * frees the payload (the queue runs the finalisation first, in posting order). */
  CALL(cow_process_close(p, on_process_closed, NULL));
  int *payload = malloc(sizeof *payload);
  TW_RUN_IDLE(&loop);
  assert_int_equal(count_of("process_closed"), 1);
  /* After the close callback the id is unknown: posting says so at once. */
  assert_int_equal(cow_event_post(id, count_event, payload), COW_ENOENT);
  free(payload);
  /* A thread posting while a handle closes: every post either lands (and runs once, with
   * the object or with NULL) or is refused; never lost, never a crash. */
  cow_process_t *q = new_process(h);
  uint64_t qid = cow_process_event_id(q);
  pthread_t th;
  atomic_store(&poster_done, 0);
  assert_int_equal(pthread_create(&th, NULL, post_during_close, &qid), 0);
  usleep(1000);
  CALL(cow_process_close(q, NULL, NULL));
  TW_SPIN_UNTIL(&loop, atomic_load(&poster_done));
  void *dropped;
  pthread_join(th, &dropped);
  TW_RUN_IDLE(&loop);
  /* the handle went away while the thread posted: its later posts were refused */
  assert_int_equal((intptr_t)dropped, 1);
  CALL(cow_host_close(h, NULL, NULL));
}

/* ---- stdio ordering ---- */

static char outbuf[65536];
static size_t outlen;
static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
  static char chunk[4096];
  buf->base = chunk;
  buf->len = sizeof chunk;
}
static void read_cb(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
  if (n > 0) {
    assert_true(outlen + (size_t)n <= sizeof outbuf);
    memcpy(outbuf + outlen, buf->base, (size_t)n);
    outlen += (size_t)n;
    record("data", 0, n, NULL);
  } else if (n == UV_EOF) {
    record("eof", 0, 0, NULL);
  }
}

/* The test's end of the process's stdin: one read for the data, one for end of file. */
struct stdin_reads {
  int fd;
  int n[2];
};

static void exit_after_stdio_eof_body(void);

static void read_stdin_twice(void *arg)
{
  struct stdin_reads *rd = arg;
  char got[8];
  rd->n[0] = (int)read(rd->fd, got, sizeof got);
  rd->n[1] = (int)read(rd->fd, got, sizeof got);
}

static void exit_after_stdio_eof(void **state)
{
  tb.want_stdio = 1;
  exit_after_stdio_eof_body();
}

#ifndef _WIN32
/* The same with the streams in the slots' socket view (cow_process_stdio_tcp): read, EOF
 * before the exit, and close_stdin as a shutdown(SHUT_WR) the reader sees as end of file. */
static void exit_after_stdio_eof_on_sockets(void **state)
{
  tb.want_stdio = 1;
  tb.stdio_tcp = 1;
  exit_after_stdio_eof_body();
}
#endif

static void exit_after_stdio_eof_body(void)
{
  cow_host_t *h;
  assert_int_equal(tb_host_new(&h, &loop, &tb), 0);
  cow_process_t *p = new_process(h);
  struct tb_process *tp = cow_process_priv(p);
  uv_stream_t *in, *out, *err;
  assert_int_equal(cow_process_stdio(&in, &out, &err, p), 0);
  assert_non_null(in);
  assert_non_null(out);
  assert_non_null(err);
  outlen = 0;
  assert_int_equal(cow_process_read_start(p, COW_STDOUT, alloc_cb, read_cb), 0);
  assert_int_equal(cow_process_read_start(p, COW_STDIN, alloc_cb, read_cb), COW_EINVAL);
  CALL(cow_process_wait(p, on_wait, "wait"));
  assert_int_equal(write(tp->stdout_fd, "hello", 5), 5);
  cow_process_report_exit(p, 3, NULL); /* exit arrives while output is still unread */
  uv_run(&loop, UV_RUN_NOWAIT);
  uv_run(&loop, UV_RUN_NOWAIT);
  assert_int_equal(count_of("wait"), 0); /* stdout and stderr are still open */
  close(tp->stdout_fd);
  tp->stdout_fd = -1;
  CALL(cow_process_close_stderr(p, on_process, "close_stderr"));
  TW_RUN_IDLE(&loop);
  assert_int_equal(outlen, 5);
  assert_memory_equal(outbuf, "hello", 5);
  assert_true(index_of("eof") >= 0);
  assert_true(index_of("eof") < index_of("wait"));
  assert_int_equal(rec.status[index_of("wait")], 0);
  assert_int_equal(rec.code[index_of("wait")], 3);
  /* close_stdin: pending writes flushed, the reader sees EOF, the backend is told. */
  uv_write_t wr;
  uv_buf_t b = uv_buf_init("in", 2);
  assert_int_equal(uv_write(&wr, in, &b, 1, NULL), 0);
  struct stdin_reads rd = {tp->stdin_fd, {-1, -1}};
#ifdef _WIN32
  /* libuv on Windows shuts a pipe down with FlushFileBuffers, which returns only once the
   * reader has taken everything: read while the loop runs. */
  uv_thread_t reader;
  assert_int_equal(uv_thread_create(&reader, read_stdin_twice, &rd), 0);
#endif
  CALL(cow_process_close_stdin(p, on_process, "close_stdin"));
  TW_RUN_IDLE(&loop);
  assert_int_equal(rec.status[index_of("close_stdin")], 0);
#ifdef _WIN32
  uv_thread_join(&reader);
#else
  read_stdin_twice(&rd);
#endif
  assert_int_equal(rd.n[0], 2);
  assert_int_equal(rd.n[1], 0); /* EOF */
  CALL(cow_process_close(p, NULL, NULL));
  CALL(cow_host_close(h, NULL, NULL));
}

static void drain_timeout_reported(void **state)
{
  tb.want_stdio = 1;
  cow_host_t *h;
  assert_int_equal(tb_host_new(&h, &loop, &tb), 0);
  assert_int_equal(cow_host_set_timeout(h, COW_TIMEOUT_STDIO_DRAIN, 30), 0);
  cow_process_t *p = new_process(h);
  CALL(cow_process_wait(p, on_wait, "wait"));
  cow_process_report_exit(p, 0, NULL); /* nobody reads stdout: the drain timeout fires */
  TW_RUN_IDLE(&loop);
  assert_int_equal(count_of("wait"), 1);
  assert_int_equal(rec.status[index_of("wait")], COW_EIO_TIMEOUT);
  assert_int_equal(rec.code[index_of("wait")], 0); /* the code is still known */
  int64_t code = -5;
  assert_int_equal(cow_process_exit_code(&code, p), 0);
  assert_int_equal(code, 0);
  CALL(cow_process_close(p, NULL, NULL));
  CALL(cow_host_close(h, NULL, NULL));
}

/* ---- containers ---- */

static void container_lifecycle(void **state)
{
  cow_container_t *c;
  assert_int_equal(tb_container_new(&c, &loop, &tb, "ctr-1"), 0);
  assert_string_equal(cow_container_id(c), "ctr-1");
  CALL(cow_container_start(c, on_container, "start"));
  CALL(cow_container_properties(c, NULL, on_json, "props"));
  TW_RUN_IDLE(&loop);
  assert_string_equal(last_json, "{\"ProcessList\":[]}");
  CALL(cow_container_properties_v2(c, "{}", on_json, "props2"));
  TW_RUN_IDLE(&loop);
  assert_string_equal(last_json, "{\"Statistics\":{}}");
  CALL(cow_container_modify(c, "{}", on_container, "modify"));
  /* the container is a process host */
  cow_host_t *view = cow_container_host(c);
  assert_ptr_equal(cow_host_container(view), c);
  cow_process_t *p = new_process(view);
  assert_ptr_equal(cow_process_host(p), view);
  CALL(cow_container_wait(c, on_container, "wait"));
  assert_int_equal(cow_container_exited(c), 0);
  assert_int_equal(cow_container_wait_error(c, NULL), COW_ENOT_EXITED);
  cow_error_t why = COW_ERROR_INIT;
  why.code = COW_EHCS;
  why.domain = COW_DOMAIN_HCS;
  why.sys_code = 0x80370106u;
  why.message = "exited unexpectedly";
  cow_container_report_exit(c, &why);
  TW_RUN_IDLE(&loop);
  assert_int_equal(rec.status[index_of("wait")], COW_EHCS);
  assert_int_equal(cow_container_exited(c), 1);
  cow_error_t got = COW_ERROR_INIT;
  assert_int_equal(cow_container_wait_error(c, &got), COW_EHCS);
  assert_int_equal(got.sys_code, 0x80370106u);
  assert_string_equal(got.message, "exited unexpectedly");
  cow_error_clear(&got);
  /* stopping an exited container succeeds without the backend */
  int before = tb.calls[TB_SHUTDOWN];
  CALL(cow_container_shutdown(c, on_container, "shutdown"));
  CALL(cow_container_terminate(c, on_container, "terminate"));
  TW_RUN_IDLE(&loop);
  assert_int_equal(rec.status[index_of("shutdown")], 0);
  assert_int_equal(rec.status[index_of("terminate")], 0);
  assert_int_equal(tb.calls[TB_SHUTDOWN], before);
  CALL(cow_process_close(p, on_process_closed, NULL));
  /* closing the host view closes the container */
  CALL(cow_host_close(view, on_host_closed, NULL));
  TW_RUN_IDLE(&loop);
  assert_int_equal(count_of("host_closed"), 1);
  assert_int_equal(count_of("start"), 1);
  assert_int_equal(count_of("modify"), 1);
}

/* ---- ops tables: versions and missing slots ---- */

static const struct cow_container_ops sparse_ops = {
    .version = COW_CONTAINER_OPS_VERSION,
    .name = "sparse",
};
static const struct cow_container_ops future_ops = {
    .version = COW_CONTAINER_OPS_VERSION + 1,
    .name = "future",
};

static void missing_slots_and_versions(void **state)
{
  cow_container_t *c = (cow_container_t *)&c;
  assert_int_equal(cow_container_new(&c, &loop, &future_ops, "x"), COW_EVERSION);
  assert_null(c);
  assert_int_equal(cow_container_new(&c, &loop, &sparse_ops, "x"), 0);
  in_call = 1;
  assert_int_equal(cow_container_start(c, on_container, "x"), COW_ENOTSUP);
  assert_int_equal(cow_container_properties(c, NULL, on_json, "x"), COW_ENOTSUP);
  assert_int_equal(cow_container_modify(c, "{}", on_container, "x"), COW_ENOTSUP);
  cow_process_t *p = (cow_process_t *)&p;
  assert_int_equal(cow_host_create_process(&p, cow_container_host(c), "{}", on_process, "x"),
                   COW_ENOTSUP);
  assert_null(p);
  assert_string_equal(cow_host_os(cow_container_host(c)), "unknown");
  assert_int_equal(cow_container_start(NULL, on_container, "x"), COW_EINVAL);
  assert_int_equal(cow_container_start(c, NULL, "x"), COW_EINVAL);
  assert_int_equal(cow_container_set_timeout(c, COW_TIMEOUT__MAX, 1), COW_EINVAL);
  in_call = 0;
  CALL(cow_container_close(c, on_container_closed, NULL));
  TW_RUN_IDLE(&loop);
  assert_int_equal(count_of("x"), 0);
  assert_int_equal(count_of("container_closed"), 1);
}

/* ---- typed process list and statistics (container ops version 3) ---- */

static cow_process_list_t got_list;
static cow_process_info_t got_items[4];
static char got_image[32];
static cow_statistics_t got_stats;

static void on_list(cow_container_t *c, int status, const cow_process_list_t *list,
                    const cow_error_t *err, void *data)
{
  record(data, status, 0, err);
  assert_int_equal(list != NULL, status == 0);
  assert_int_equal(err != NULL, status < 0);
  if (list != NULL) {
    assert_true(list->count <= 4);
    got_list = *list;
    for (size_t i = 0; i < list->count; i++)
      got_items[i] = list->items[i];
    /* borrowed for the callback only: keep a copy of the string to compare later */
    snprintf(got_image, sizeof got_image, "%s",
             list->count && list->items[0].image_name ? list->items[0].image_name : "");
  }
}

static void on_stats(cow_container_t *c, int status, const cow_statistics_t *stats,
                     const cow_error_t *err, void *data)
{
  record(data, status, 0, err);
  assert_int_equal(stats != NULL, status == 0);
  if (stats != NULL)
    got_stats = *stats;
}

/* What the typed slots do, per test step. */
static int typed_mode;

static int typed_process_list(cow_container_t *c, cow_op_t *op)
{
  if (typed_mode == 1) /* success without a result: the core refuses to pass that on */
    cow_op_complete(op, 0, NULL);
  else if (typed_mode == 2) /* a refusal at the call: the callback never runs */
    return COW_EINVALID_STATE;
  else {
    char *name = strdup("sleep"); /* the backend's own memory, gone before the callback */
    assert_non_null(name);
    cow_process_info_t items[2] = {
        {.pid = 42, .image_name = name, .have = COW_STATS_CPU_USER, .cpu_user_ns = 7}, {.pid = 43}};
    assert_int_equal(cow_op_set_process_list(op, NULL, 1), COW_EINVAL);
    /* each op takes only its own kind of result */
    assert_int_equal(cow_op_set_json(op, "{}"), COW_EINVAL);
    cow_statistics_t wrong = {0};
    assert_int_equal(cow_op_set_statistics(op, &wrong), COW_EINVAL);
    assert_int_equal(cow_op_set_process_list(op, items, 2), 0);
    free(name);
    cow_op_complete(op, 0, NULL);
  }
  return 0;
}

static int typed_statistics(cow_container_t *c, cow_op_t *op)
{
  if (typed_mode == 1) {
    cow_op_complete(op, 0, NULL);
    return 0;
  }
  cow_statistics_t st = {.have = COW_STATS_MEMORY_USAGE | COW_STATS_PROCESS_COUNT,
                         .memory_usage_bytes = 4096,
                         .process_count = 2,
                         .timestamp = {1800000000, 5}};
  assert_int_equal(cow_op_set_statistics(op, NULL), COW_EINVAL);
  assert_int_equal(cow_op_set_process_list(op, NULL, 0), COW_EINVAL);
  assert_int_equal(cow_op_set_statistics(op, &st), 0);
  cow_op_complete(op, 0, NULL);
  return 0;
}

static const struct cow_container_ops typed_ops = {
    .version = COW_CONTAINER_OPS_VERSION,
    .name = "typed",
    .process_list = typed_process_list,
    .statistics = typed_statistics,
};

static void typed_queries(void **state)
{
  cow_container_t *c;
  assert_int_equal(cow_container_new(&c, &loop, &typed_ops, "typed"), 0);
  typed_mode = 0;
  CALL(cow_container_process_list(c, on_list, "list"));
  CALL(cow_container_statistics(c, on_stats, "stats"));
  assert_int_equal(count_of("list"), 0); /* never inside the call */
  TW_RUN_IDLE(&loop);
  assert_int_equal(rec.status[index_of("list")], 0);
  assert_int_equal(got_list.count, 2);
  assert_int_equal(got_items[0].pid, 42);
  assert_int_equal(got_items[0].cpu_user_ns, 7);
  assert_int_equal(got_items[0].have, COW_STATS_CPU_USER);
  assert_string_equal(got_image, "sleep"); /* copied when attached */
  assert_int_equal(got_items[1].pid, 43);
  assert_null(got_items[1].image_name);
  assert_int_equal(rec.status[index_of("stats")], 0);
  assert_int_equal(got_stats.memory_usage_bytes, 4096);
  assert_int_equal(got_stats.process_count, 2);
  assert_int_equal(got_stats.timestamp.sec, 1800000000);
  /* a backend that reports success without the result: COW_EPROTOCOL, never NULL + 0 */
  typed_mode = 1;
  CALL(cow_container_process_list(c, on_list, "empty-list"));
  CALL(cow_container_statistics(c, on_stats, "empty-stats"));
  TW_RUN_IDLE(&loop);
  assert_int_equal(rec.status[index_of("empty-list")], COW_EPROTOCOL);
  assert_int_equal(rec.status[index_of("empty-stats")], COW_EPROTOCOL);
  /* refused at the call; bad arguments */
  typed_mode = 2;
  in_call = 1;
  assert_int_equal(cow_container_process_list(c, on_list, "refused"), COW_EINVALID_STATE);
  assert_int_equal(cow_container_process_list(NULL, on_list, "x"), COW_EINVAL);
  assert_int_equal(cow_container_process_list(c, NULL, NULL), COW_EINVAL);
  assert_int_equal(cow_container_statistics(NULL, on_stats, "x"), COW_EINVAL);
  assert_int_equal(cow_container_statistics(c, NULL, NULL), COW_EINVAL);
  in_call = 0;
  CALL(cow_container_close(c, on_container_closed, NULL));
  TW_RUN_IDLE(&loop);
  assert_int_equal(count_of("refused"), 0);
  assert_int_equal(count_of("x"), 0);
}

/* ---- pause and resume (container ops version 2) ---- */

/* A container table as a version 1 backend was compiled: it ends after `modify`. */
struct v1_container_ops {
  unsigned int version;
  const char *name;
  size_t priv_size;
  int (*init)(cow_container_t *c);
  void (*close)(cow_container_t *c);
  void (*fini)(cow_container_t *c);
  void (*timeout)(cow_container_t *c, cow_op_t *op);
  const struct cow_host_ops *host_ops;
  int (*start)(cow_container_t *c, cow_op_t *op);
  int (*shutdown)(cow_container_t *c, cow_op_t *op);
  int (*terminate)(cow_container_t *c, cow_op_t *op);
  int (*properties)(cow_container_t *c, const char *query_json, cow_op_t *op);
  int (*properties_v2)(cow_container_t *c, const char *query_json, cow_op_t *op);
  int (*modify)(cow_container_t *c, const char *request_json, cow_op_t *op);
};
_Static_assert(sizeof(struct v1_container_ops) == offsetof(struct cow_container_ops, pause),
               "version 2 appends after modify");

static int v1_start(cow_container_t *c, cow_op_t *op)
{
  cow_op_complete(op, 0, NULL);
  return 0;
}

static void pause_and_resume(void **state)
{
  cow_container_t *c;
  assert_int_equal(tb_container_new(&c, &loop, &tb, "p1"), 0);
  CALL(cow_container_pause(c, on_container, "pause"));
  CALL(cow_container_resume(c, on_container, "resume"));
  assert_int_equal(count_of("pause"), 0); /* never inside the call */
  TW_RUN_IDLE(&loop);
  assert_int_equal(tb.calls[TB_PAUSE], 1);
  assert_int_equal(tb.calls[TB_RESUME], 1);
  assert_int_equal(rec.status[index_of("pause")], 0);
  assert_int_equal(rec.status[index_of("resume")], 0);
  assert_int_equal(cow_container_pause(c, NULL, NULL), COW_EINVAL);
  assert_int_equal(cow_container_pause(NULL, on_container, NULL), COW_EINVAL);
  assert_int_equal(cow_container_resume(NULL, on_container, NULL), COW_EINVAL);
  /* the backend's refusal reaches the callback with its HRESULT */
  tb.mode = TB_COMPLETE_FAIL;
  tb.fail_code = COW_EINVALID_STATE;
  CALL(cow_container_resume(c, on_container, "refused"));
  TW_RUN_IDLE(&loop);
  assert_int_equal(rec.status[index_of("refused")], COW_EINVALID_STATE);
  /* bounded by COW_TIMEOUT_PAUSE; the late completion is absorbed */
  tb.mode = TB_MANUAL;
  assert_int_equal(cow_container_set_timeout(c, COW_TIMEOUT_PAUSE, 20), 0);
  CALL(cow_container_pause(c, on_container, "slow"));
  TW_RUN_IDLE(&loop);
  assert_int_equal(rec.status[index_of("slow")], COW_ETIMEDOUT);
  assert_int_equal(tb.timeouts, 1);
  assert_int_equal(tb_complete(&tb, 0, NULL), 0);
  TW_RUN_IDLE(&loop);
  assert_int_equal(count_of("slow"), 1);
  /* a close cancels a pause in flight */
  assert_int_equal(cow_container_set_timeout(c, COW_TIMEOUT_PAUSE, 0), 0);
  CALL(cow_container_pause(c, on_container, "pending"));
  CALL(cow_container_close(c, on_container_closed, NULL));
  TW_RUN_IDLE(&loop);
  assert_int_equal(rec.status[index_of("pending")], COW_ECANCELED);
  assert_true(index_of("pending") < index_of("container_closed"));
  assert_int_equal(tb.npending, 0);
}

static void old_table_without_pause(void **state)
{
  /* Exactly as long as a version 1 table, on the heap: a read of a later slot is an
   * overflow that ASan and valgrind report. */
  struct v1_container_ops *old = malloc(sizeof *old);
  assert_non_null(old);
  memset(old, 0, sizeof *old);
  old->version = 1;
  old->name = "old";
  old->start = v1_start;
  cow_container_t *c;
  assert_int_equal(cow_container_new(&c, &loop, (const struct cow_container_ops *)old, "old"), 0);
  in_call = 1;
  assert_int_equal(cow_container_pause(c, on_container, "x"), COW_ENOTSUP);
  assert_int_equal(cow_container_resume(c, on_container, "x"), COW_ENOTSUP);
  assert_int_equal(cow_container_process_list(c, on_list, "x"), COW_ENOTSUP);
  assert_int_equal(cow_container_statistics(c, on_stats, "x"), COW_ENOTSUP);
  in_call = 0;
  CALL(cow_container_start(c, on_container, "start"));
  CALL(cow_container_close(c, on_container_closed, NULL));
  TW_RUN_IDLE(&loop);
  assert_int_equal(rec.status[index_of("start")], 0);
  assert_int_equal(count_of("x"), 0);
  free(old);
}

/* ---- opening a process by pid (host ops version 2) ---- */

/* A host table as a version 1 backend was compiled: it ends after `is_oci`. */
struct v1_host_ops {
  unsigned int version;
  const char *name;
  size_t priv_size;
  int (*init)(cow_host_t *h);
  void (*close)(cow_host_t *h);
  void (*fini)(cow_host_t *h);
  void (*timeout)(cow_host_t *h, cow_op_t *op);
  const struct cow_process_ops *process_ops;
  int (*create_process)(cow_host_t *h, cow_process_t *p, const char *config_json, cow_op_t *op);
  const char *(*os)(const cow_host_t *h);
  int (*is_oci)(const cow_host_t *h);
};
_Static_assert(sizeof(struct v1_host_ops) == offsetof(struct cow_host_ops, open_process),
               "version 2 appends after is_oci");

static void open_process_by_pid(void **state)
{
  tb.want_stdio = 1; /* created processes get stdio; opened ones never do */
  cow_host_t *h;
  assert_int_equal(tb_host_new(&h, &loop, &tb), 0);
  cow_process_t *p = (cow_process_t *)&p;
  assert_int_equal(cow_host_open_process(NULL, h, 7, on_process, NULL), COW_EINVAL);
  assert_int_equal(cow_host_open_process(&p, NULL, 7, on_process, NULL), COW_EINVAL);
  assert_null(p);
  assert_int_equal(cow_host_open_process(&p, h, -1, on_process, NULL), COW_EINVAL);
  assert_int_equal(cow_host_open_process(&p, h, (int64_t)UINT32_MAX + 1, on_process, NULL),
                   COW_EINVAL);
  assert_int_equal(cow_host_open_process(&p, h, 7, NULL, NULL), COW_EINVAL);
  CALL(cow_host_open_process(&p, h, 4243, on_process, "opened"));
  assert_non_null(p);
  CALL(cow_process_wait(p, on_wait, "wait"));
  TW_UNTIL(&loop, count_of("opened") == 1);
  assert_int_equal(rec.status[index_of("opened")], 0);
  assert_int_equal(tb.calls[TB_OPEN_PROCESS], 1);
  assert_int_equal(tb.calls[TB_CREATE], 0);
  assert_int_equal(cow_process_pid(p), 4243);
  uv_stream_t *in = (uv_stream_t *)&in, *out = (uv_stream_t *)&out, *err = (uv_stream_t *)&err;
  assert_int_equal(cow_process_stdio(&in, &out, &err, p), 0);
  assert_null(in);
  assert_null(out);
  assert_null(err);
  CALL(cow_process_kill(p, on_process, "kill"));
  cow_process_report_exit(p, 9, NULL); /* no stdio to drain: published at once */
  TW_RUN_IDLE(&loop);
  assert_int_equal(rec.status[index_of("wait")], 0);
  assert_int_equal(rec.code[index_of("wait")], 9);
  CALL(cow_process_close(p, NULL, NULL));
  /* Not found: the callback and the waiters get the backend's error. */
  tb.mode = TB_COMPLETE_FAIL;
  tb.fail_code = COW_ENOENT;
  CALL(cow_host_open_process(&p, h, 99, on_process, "missing"));
  CALL(cow_process_wait(p, on_wait, "wait_missing"));
  TW_RUN_IDLE(&loop);
  assert_int_equal(rec.status[index_of("missing")], COW_ENOENT);
  assert_int_equal(rec.status[index_of("wait_missing")], COW_ENOENT);
  assert_int_equal(rec.code[index_of("wait_missing")], -1);
  CALL(cow_process_close(p, NULL, NULL));
  /* Refused at the call: nothing created. */
  tb.mode = TB_REFUSE;
  tb.fail_code = COW_EINVALID_STATE;
  p = (cow_process_t *)&p;
  assert_int_equal(cow_host_open_process(&p, h, 99, on_process, "x"), COW_EINVALID_STATE);
  assert_null(p);
  CALL(cow_host_close(h, NULL, NULL));
  TW_RUN_IDLE(&loop);
  assert_int_equal(count_of("x"), 0);
}

static void old_host_table_without_open(void **state)
{
  struct v1_host_ops *old = malloc(sizeof *old);
  assert_non_null(old);
  memset(old, 0, sizeof *old);
  old->version = 1;
  old->name = "old";
  old->process_ops = &tb_process_ops;
  cow_host_t *h;
  assert_int_equal(cow_host_new(&h, &loop, (const struct cow_host_ops *)old), 0);
  cow_process_t *p = (cow_process_t *)&p;
  assert_int_equal(cow_host_open_process(&p, h, 1, on_process, "x"), COW_ENOTSUP);
  assert_null(p);
  CALL(cow_host_close(h, NULL, NULL));
  TW_RUN_IDLE(&loop);
  assert_int_equal(count_of("x"), 0);
  free(old);
}

/* ---- exit times ---- */

static int ts_cmp_tv(const cow_timestamp_t *t, const uv_timeval64_t *tv)
{
  int64_t a = t->sec * 1000000000 + t->nsec, b = tv->tv_sec * 1000000000 + tv->tv_usec * 1000;
  return (a > b) - (a < b);
}

static cow_timestamp_t seen_in_wait;
static int seen_in_wait_rc = 1;
static void on_wait_time(cow_process_t *p, int status, int64_t code, const cow_error_t *err,
                         void *data)
{
  seen_in_wait_rc = cow_process_exit_time(&seen_in_wait, p);
  on_wait(p, status, code, err, data);
}

static void exit_times(void **state)
{
  tb.want_stdio = 1;
  cow_host_t *h;
  assert_int_equal(tb_host_new(&h, &loop, &tb), 0);
  cow_process_t *p = new_process(h);
  cow_timestamp_t t = {-1, -1};
  assert_int_equal(cow_process_exit_time(&t, p), COW_ENOT_EXITED);
  assert_int_equal(cow_process_exit_time(NULL, p), COW_EINVAL);
  assert_int_equal(cow_process_exit_time(&t, NULL), COW_EINVAL);
  assert_int_equal(t.sec, -1); /* untouched */
  seen_in_wait_rc = 1;
  CALL(cow_process_wait(p, on_wait_time, "wait"));
  uv_timeval64_t before, after;
  assert_int_equal(uv_gettimeofday(&before), 0);
  cow_process_report_exit(p, 4, NULL);
  assert_int_equal(uv_gettimeofday(&after), 0);
  /* The output ends later: the time is the exit's, not the drain's. */
  uv_sleep(5);
  assert_int_equal(cow_process_exit_time(&t, p), COW_ENOT_EXITED); /* not published yet */
  CALL(cow_process_close_stdout(p, on_process, "close_stdout"));
  CALL(cow_process_close_stderr(p, on_process, "close_stderr"));
  TW_RUN_IDLE(&loop);
  assert_int_equal(rec.status[index_of("wait")], 0);
  assert_int_equal(seen_in_wait_rc, 0); /* readable inside the wait callback */
  assert_int_equal(cow_process_exit_time(&t, p), 0);
  assert_int_equal(t.sec, seen_in_wait.sec);
  assert_int_equal(t.nsec, seen_in_wait.nsec);
  assert_true(ts_cmp_tv(&t, &before) >= 0);
  assert_true(ts_cmp_tv(&t, &after) <= 0);
  assert_true(t.nsec >= 0 && t.nsec < 1000000000);
  CALL(cow_process_close(p, NULL, NULL));
  /* No exit observed (connection lost): no exit time either. */
  tb.want_stdio = 0;
  cow_process_t *q = new_process(h);
  cow_error_t lost = COW_ERROR_INIT;
  lost.code = COW_EBRIDGE_CLOSED;
  cow_process_report_exit(q, -1, &lost);
  TW_RUN_IDLE(&loop);
  assert_int_equal(cow_process_exit_time(&t, q), COW_ENOT_EXITED);
  CALL(cow_process_close(q, NULL, NULL));
  CALL(cow_host_close(h, NULL, NULL));
  /* A container's exit time: when its exit was reported. */
  cow_container_t *c;
  assert_int_equal(tb_container_new(&c, &loop, &tb, "t1"), 0);
  assert_int_equal(cow_container_exit_time(&t, c), COW_ENOT_EXITED);
  assert_int_equal(cow_container_exit_time(NULL, c), COW_EINVAL);
  assert_int_equal(uv_gettimeofday(&before), 0);
  cow_container_report_exit(c, NULL);
  assert_int_equal(uv_gettimeofday(&after), 0);
  uv_sleep(5);
  cow_container_report_exit(c, NULL); /* a second report changes nothing */
  assert_int_equal(cow_container_exit_time(&t, c), 0);
  assert_true(ts_cmp_tv(&t, &before) >= 0);
  assert_true(ts_cmp_tv(&t, &after) <= 0);
  CALL(cow_container_close(c, NULL, NULL));
}

/* ---- allocation failure at every allocation of each constructor ---- */

/* The stdio slots are allocated when the backend first asks for one: a failure there is a
 * clean COW_ENOMEM for the create, and nothing leaks. */
static void oom_stdio_slots(void **state)
{
  cow_host_t *h;
  assert_int_equal(tb_host_new(&h, &loop, &tb), 0);
  tb.want_stdio = 1;
  int failed_create = 0, ok = 0;
  for (long n = 0; n < 16 && !ok; n++) {
    long before = tb_alloc_outstanding();
    cow_process_t *p = NULL;
    rec.n = 0;
    tb_alloc_fail_at(n);
    int rc = cow_host_create_process(&p, h, "{}", on_process, "created");
    tb_alloc_fail_at(-1);
    if (rc != 0) {
      assert_int_equal(rc, COW_ENOMEM);
      continue;
    }
    TW_UNTIL(&loop, count_of("created") == 1);
    int status = rec.status[index_of("created")];
    if (status == 0) {
      ok = 1;
      uv_stream_t *out;
      assert_int_equal(cow_process_stdio(NULL, &out, NULL, p), 0);
      assert_non_null(out);
    } else {
      assert_int_equal(status, COW_ENOMEM);
      failed_create = 1;
    }
    CALL(cow_process_close(p, NULL, NULL));
    TW_RUN_IDLE(&loop);
    assert_int_equal(tb_alloc_outstanding(), before);
  }
  assert_true(ok && failed_create);
  CALL(cow_host_close(h, NULL, NULL));
}

static void oom_every_allocation(void **state)
{
  int host_ok = 0, proc_ok = 0, ctr_ok = 0;
  for (long n = 0; n < 64 && !(host_ok && proc_ok && ctr_ok); n++) {
    cow_host_t *h = NULL;
    tb_alloc_fail_at(n);
    int rc = tb_host_new(&h, &loop, &tb);
    tb_alloc_fail_at(-1);
    if (rc != 0) {
      assert_int_equal(rc, COW_ENOMEM);
      assert_null(h);
      TW_RUN_IDLE(&loop); /* the loop state is released through uv_close */
      assert_int_equal(tb_alloc_outstanding(), alloc_baseline);
      continue;
    }
    host_ok = 1;
    cow_process_t *p = NULL;
    tb_alloc_fail_at(n);
    rc = cow_host_create_process(&p, h, "{}", on_process, "created");
    tb_alloc_fail_at(-1);
    if (rc != 0) {
      assert_int_equal(rc, COW_ENOMEM);
      assert_null(p);
    } else {
      proc_ok = 1;
      CALL(cow_process_close(p, NULL, NULL));
    }
    cow_container_t *c = NULL;
    tb_alloc_fail_at(n);
    rc = tb_container_new(&c, &loop, &tb, "oom");
    tb_alloc_fail_at(-1);
    if (rc != 0) {
      assert_int_equal(rc, COW_ENOMEM);
      assert_null(c);
    } else {
      ctr_ok = 1;
      /* an op's allocation failing is a clean COW_ENOMEM too */
      tb_alloc_fail_at(0);
      in_call = 1;
      assert_int_equal(cow_container_start(c, on_container, "never"), COW_ENOMEM);
      in_call = 0;
      tb_alloc_fail_at(-1);
      CALL(cow_container_close(c, NULL, NULL));
    }
    CALL(cow_host_close(h, NULL, NULL));
    TW_RUN_IDLE(&loop);
    assert_int_equal(tb_alloc_outstanding(), alloc_baseline);
  }
  assert_true(host_ok && proc_ok && ctr_ok);
  assert_int_equal(count_of("never"), 0);
}

int main(void)
{
  if (getenv("TEST_FILTER"))
    cmocka_set_test_filter(getenv("TEST_FILTER"));
  tb_alloc_install();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(op_completes, setup, teardown),
      cmocka_unit_test_setup_teardown(op_fails, setup, teardown),
      cmocka_unit_test_setup_teardown(create_fails_releases_waiters, setup, teardown),
      cmocka_unit_test_setup_teardown(op_times_out, setup, teardown),
      cmocka_unit_test_setup_teardown(close_with_pending, setup, teardown),
      cmocka_unit_test_setup_teardown(host_close_waits_for_processes, setup, teardown),
      cmocka_unit_test_setup_teardown(many_waiters_and_late_waiter, setup, teardown),
      cmocka_unit_test_setup_teardown(expected_exit_fallback, setup, teardown),
      cmocka_unit_test_setup_teardown(events_from_threads, setup, teardown),
      cmocka_unit_test_setup_teardown(local_and_foreign_in_posting_order, setup, teardown),
      cmocka_unit_test_setup_teardown(late_event_after_close, setup, teardown),
      cmocka_unit_test_setup_teardown(exit_after_stdio_eof, setup, teardown),
#ifndef _WIN32
      cmocka_unit_test_setup_teardown(exit_after_stdio_eof_on_sockets, setup, teardown),
#endif
      cmocka_unit_test_setup_teardown(drain_timeout_reported, setup, teardown),
      cmocka_unit_test_setup_teardown(container_lifecycle, setup, teardown),
      cmocka_unit_test_setup_teardown(missing_slots_and_versions, setup, teardown),
      cmocka_unit_test_setup_teardown(pause_and_resume, setup, teardown),
      cmocka_unit_test_setup_teardown(old_table_without_pause, setup, teardown),
      cmocka_unit_test_setup_teardown(typed_queries, setup, teardown),
      cmocka_unit_test_setup_teardown(exit_times, setup, teardown),
      cmocka_unit_test_setup_teardown(open_process_by_pid, setup, teardown),
      cmocka_unit_test_setup_teardown(old_host_table_without_open, setup, teardown),
      cmocka_unit_test_setup_teardown(oom_every_allocation, setup, teardown),
      cmocka_unit_test_setup_teardown(oom_stdio_slots, setup, teardown),
      cmocka_unit_test_setup_teardown(timeouts_per_handle, setup, teardown),
  };
  return cmocka_run_group_tests_name("core", tests, NULL, NULL);
}

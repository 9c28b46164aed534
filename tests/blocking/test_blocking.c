/* The blocking API over the scripted test backend: calls from plain threads, timeouts,
 * stdio as descriptors (with end of file both ways; sockets on POSIX, pipes on Windows),
 * concurrent waiters, and freeing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <string.h>
#include <unistd.h>
#ifndef _WIN32
#  include <sys/socket.h>
#endif
#ifdef _WIN32
#  define WIN32_LEAN_AND_MEAN
#  include <winsock2.h>
#  include <windows.h>
#endif

#include "blocking/hold.h"
#include "support/test-backend.h"

static struct tb tb;
static cow_host_t *host;

static int make_host(uv_loop_t *loop, void *arg)
{
  return tb_host_new(&host, loop, &tb);
}

struct exit_arg {
  cow_process_t *p;
  int64_t code;
};
static int report_exit(uv_loop_t *loop, void *arg)
{
  struct exit_arg *ea = arg;
  cow_process_report_exit(ea->p, ea->code, NULL);
  return 0;
}

static int close_test_stdout(uv_loop_t *loop, void *arg)
{
  struct tb_process *tp = cow_process_priv(arg);
  int fd = tp->stdout_fd;
  tp->stdout_fd = -1;
  return close(fd);
}

static int close_test_stderr(uv_loop_t *loop, void *arg)
{
  struct tb_process *tp = cow_process_priv(arg);
  int fd = tp->stderr_fd;
  tp->stderr_fd = -1;
  return close(fd);
}

static int barrier(uv_loop_t *loop, void *arg)
{
  return 0;
}

/* A blocking context, a host on the scripted backend, and a process: with all three
 * streams, or with none. */
static cow_process_t *start_process(cow_blocking_t **b, int stdio)
{
  memset(&tb, 0, sizeof tb);
  tb.want_stdio = stdio;
  assert_int_equal(cow_blocking_new(b), 0);
  assert_int_equal(cow_blocking_run(*b, make_host, NULL, 0, NULL), 0);
  cow_process_t *p;
  assert_int_equal(cow_blocking_create_process(&p, *b, host, "{}", 5000, NULL), 0);
  return p;
}

static void lifecycle_with_stdio(void **state)
{
  cow_blocking_t *b;
  cow_process_t *p = start_process(&b, 1);
  cow_error_t err = COW_ERROR_INIT;
  assert_int_equal(cow_blocking_process_pid(b, p), 4242);
  int in, out, errfd;
  assert_int_equal(cow_blocking_process_stdio(&in, &out, &errfd, b, p), 0);
  assert_true(in >= 0 && out >= 0 && errfd >= 0);
  int again[3];
  assert_int_equal(cow_blocking_process_stdio(&again[0], &again[1], &again[2], b, p), 0);
  assert_int_equal(again[0], -1); /* handed out once */
  struct tb_process *tp = cow_process_priv(p);
  /* process output reaches the caller's descriptor */
  assert_int_equal(write(tp->stdout_fd, "out!", 4), 4);
  char buf[16];
  assert_int_equal(read(out, buf, sizeof buf), 4);
  assert_memory_equal(buf, "out!", 4);
  /* the caller's input reaches the process; closing it closes the process's stdin */
  assert_int_equal(write(in, "in!", 3), 3);
  close(in);
  ssize_t got = 0, n;
  while ((n = read(tp->stdin_fd, buf + got, sizeof buf - (size_t)got)) > 0)
    got += n;
  assert_int_equal(got, 3);
  assert_int_equal(n, 0); /* end of file */
  assert_memory_equal(buf, "in!", 3);
  /* The local end closes first, then the backend is told, in the same loop callback: a
   * run on the loop thread is a barrier behind it. */
  assert_int_equal(cow_blocking_run(b, barrier, NULL, 0, NULL), 0);
  assert_int_equal(tb.calls[TB_CLOSE_STDIN], 1);
  /* a wait with a short timeout gives up; the process is still running */
  int64_t code = 99;
  assert_int_equal(cow_blocking_process_wait(&code, b, p, 30, &err), COW_ETIMEDOUT);
  assert_non_null(err.message);
  cow_error_clear(&err);
  /* exit + end of file on both streams: the wait returns the code */
  struct exit_arg ea = {p, 6};
  assert_int_equal(cow_blocking_run(b, report_exit, &ea, 0, NULL), 0);
  assert_int_equal(cow_blocking_run(b, close_test_stdout, p, 0, NULL), 0);
  assert_int_equal(cow_blocking_run(b, close_test_stderr, p, 0, NULL), 0);
  assert_int_equal(cow_blocking_process_wait(&code, b, p, 5000, &err), 0);
  assert_int_equal(code, 6);
  assert_int_equal(read(out, buf, sizeof buf), 0); /* end of file reached the caller */
  assert_int_equal(read(errfd, buf, sizeof buf), 0);
  close(out);
  close(errfd);
  assert_int_equal(cow_blocking_process_kill(b, p, 0, &err), COW_ESRCH);
  cow_error_clear(&err);
  assert_int_equal(cow_blocking_close(b), COW_EBUSY); /* handles are open */
  assert_int_equal(cow_blocking_process_close(b, p, 0, NULL), 0);
  assert_int_equal(cow_blocking_host_close(b, host, 0, NULL), 0);
  assert_int_equal(cow_blocking_close(b), 0);
}

/* The OS-handle view (FFI callers with another C runtime): read the output through the
 * raw handle, and each stream is handed out once across both calls. */
static void stdio_as_os_handles(void **state)
{
  cow_blocking_t *b;
  cow_process_t *p = start_process(&b, 1);
  intptr_t out = -1, again = 0;
  assert_int_equal(cow_blocking_process_stdio_os(NULL, &out, NULL, b, p), 0);
  assert_true(out != -1);
  assert_int_equal(cow_blocking_process_stdio_os(NULL, &again, NULL, b, p), 0);
  assert_int_equal(again, -1); /* handed out once */
  int fd = -5;
  assert_int_equal(cow_blocking_process_stdio(NULL, &fd, NULL, b, p), 0);
  assert_int_equal(fd, -1); /* also through the descriptor call */
  struct tb_process *tp = cow_process_priv(p);
  assert_int_equal(write(tp->stdout_fd, "raw", 3), 3);
  char buf[8];
#ifdef _WIN32
  DWORD got = 0;
  assert_true(ReadFile((HANDLE)out, buf, sizeof buf, &got, NULL));
  assert_int_equal(got, 3);
#else
  assert_int_equal(read((int)out, buf, sizeof buf), 3);
#endif
  assert_memory_equal(buf, "raw", 3);
#ifdef _WIN32
  assert_true(CloseHandle((HANDLE)out));
#else
  close((int)out);
#endif
  struct exit_arg ea = {p, 0};
  assert_int_equal(cow_blocking_run(b, report_exit, &ea, 0, NULL), 0);
  assert_int_equal(cow_blocking_run(b, close_test_stdout, p, 0, NULL), 0);
  assert_int_equal(cow_blocking_run(b, close_test_stderr, p, 0, NULL), 0);
  int64_t code = -1;
  assert_int_equal(cow_blocking_process_wait(&code, b, p, 5000, NULL), 0);
  assert_int_equal(code, 0);
  assert_int_equal(cow_blocking_process_close(b, p, 0, NULL), 0);
  assert_int_equal(cow_blocking_host_close(b, host, 0, NULL), 0);
  assert_int_equal(cow_blocking_close(b), 0);
}

/* A caller that takes the descriptors and never reads them: the close still completes
 * (output and its end of file are queued on a pipe or socket nobody reads). */
static void close_without_reading(void **state)
{
  cow_blocking_t *b;
  cow_process_t *p = start_process(&b, 1);
  int in, out, errfd;
  assert_int_equal(cow_blocking_process_stdio(&in, &out, &errfd, b, p), 0);
  struct tb_process *tp = cow_process_priv(p);
  assert_int_equal(write(tp->stdout_fd, "never read", 10), 10);
  struct exit_arg ea = {p, 0};
  assert_int_equal(cow_blocking_run(b, report_exit, &ea, 0, NULL), 0);
  assert_int_equal(cow_blocking_run(b, close_test_stdout, p, 0, NULL), 0);
  assert_int_equal(cow_blocking_run(b, close_test_stderr, p, 0, NULL), 0);
  int64_t code = -1;
  assert_int_equal(cow_blocking_process_wait(&code, b, p, 5000, NULL), 0);
  assert_int_equal(cow_blocking_process_close(b, p, 0, NULL),
                   0); /* the caller still holds all three */
  assert_int_equal(cow_blocking_host_close(b, host, 0, NULL), 0);
  assert_int_equal(cow_blocking_close(b), 0);
  char buf[16]; /* what was relayed is still there, then end of file */
  assert_int_equal(read(out, buf, sizeof buf), 10);
  assert_int_equal(read(out, buf, sizeof buf), 0);
  close(in);
  close(out);
  close(errfd);
}

/* The process side of stdin, read to end of file on a thread of its own: a pipe may hold
 * nothing (Windows), so the half-close completes only once the process has read. */
struct stdin_reader {
  int fd;
  char buf[64];
  ssize_t got, last;
};
static void *read_stdin(void *arg)
{
  struct stdin_reader *sr = arg;
  while ((sr->last = read(sr->fd, sr->buf + sr->got, sizeof sr->buf - (size_t)sr->got)) > 0)
    sr->got += sr->last;
  return NULL;
}

/* Bytes written to the stdin descriptor, then close_stdin at once: the process reads every
 * byte, then end of file. The loop thread is held while both happen, so it sees the close
 * request and the readable bytes in the same turn, the close first (on Linux: epoll reports
 * the wake-up, ready since the hold began, before the socket): the relay must still hand on
 * what was written before it half-closes the process's stdin. */
static void close_stdin_after_writes(void **state)
{
  cow_blocking_t *b;
  cow_process_t *p = start_process(&b, 1);
  int in;
  assert_int_equal(cow_blocking_process_stdio(&in, NULL, NULL, b, p), 0);
  struct hold h;
  hold_begin(&h, b);
  static const char msg[] = "eighteen bytes ok\n";
  for (int i = 0; i < 3; i++) /* several writes, 6 bytes each */
    assert_int_equal(write(in, msg + 6 * i, 6), 6);
  struct tb_process *tp = cow_process_priv(p);
  struct stdin_reader sr = {tp->stdin_fd, {0}, 0, 0};
  pthread_t reader;
  assert_int_equal(pthread_create(&reader, NULL, read_stdin, &sr), 0);
  hold_release_when_queued(&h, 1);
  cow_error_t err = COW_ERROR_INIT;
  assert_int_equal(cow_blocking_process_close_stdin(b, p, 5000, &err), 0);
  hold_end(&h);
  pthread_join(reader, NULL);   /* the half-close ended its read */
  assert_int_equal(sr.last, 0); /* end of file */
  if (sr.got != 18)
    fail_msg("the process read %d of the 18 bytes written before close_stdin", (int)sr.got);
  assert_memory_equal(sr.buf, msg, 18);
  /* Writing after the close fails (EPIPE), it is not swallowed. */
#ifndef _WIN32
  assert_true(send(in, "x", 1, MSG_NOSIGNAL) < 0);
#endif
  close(in);
  struct exit_arg ea = {p, 0};
  assert_int_equal(cow_blocking_run(b, report_exit, &ea, 0, NULL), 0);
  assert_int_equal(cow_blocking_run(b, close_test_stdout, p, 0, NULL), 0);
  assert_int_equal(cow_blocking_run(b, close_test_stderr, p, 0, NULL), 0);
  assert_int_equal(cow_blocking_process_wait(NULL, b, p, 5000, NULL), 0);
  assert_int_equal(cow_blocking_process_close(b, p, 0, NULL), 0);
  assert_int_equal(cow_blocking_host_close(b, host, 0, NULL), 0);
  assert_int_equal(cow_blocking_close(b), 0);
}

/* The caller closes its stdout descriptor while the process still writes: the relay stops
 * and closes the process's stdout, so the process's writes fail (EPIPE) instead of being
 * read and discarded forever. */
static void stdout_reader_goes_away(void **state)
{
  cow_blocking_t *b;
  cow_process_t *p = start_process(&b, 1);
  int out;
  assert_int_equal(cow_blocking_process_stdio(NULL, &out, NULL, b, p), 0);
  struct tb_process *tp = cow_process_priv(p);
  assert_int_equal(write(tp->stdout_fd, "seen", 4), 4);
  char buf[8];
  assert_int_equal(read(out, buf, sizeof buf), 4);
  close(out);
  int failed = 0;
  for (int i = 0; i < 5000 && !failed; i++) {
    failed = write(tp->stdout_fd, "more", 4) < 0;
    if (!failed)
      uv_sleep(1);
  }
  if (!failed)
    fail_msg("the process could still write stdout 5000 times after its reader went away");
  struct exit_arg ea = {p, 0};
  assert_int_equal(cow_blocking_run(b, report_exit, &ea, 0, NULL), 0);
  assert_int_equal(cow_blocking_run(b, close_test_stderr, p, 0, NULL), 0);
  int64_t code = -1;
  assert_int_equal(cow_blocking_process_wait(&code, b, p, 5000, NULL),
                   0); /* stdout counts as drained */
  assert_int_equal(code, 0);
  assert_int_equal(cow_blocking_process_close(b, p, 0, NULL), 0);
  assert_int_equal(cow_blocking_host_close(b, host, 0, NULL), 0);
  assert_int_equal(cow_blocking_close(b), 0);
}

/* The process's stdin refuses bytes (its reader is gone): the relay stops, the caller's
 * later writes fail, and close_stdin reports what was lost instead of succeeding. */
static void stdin_refused_is_reported(void **state)
{
  cow_blocking_t *b;
  cow_process_t *p = start_process(&b, 1);
  int in;
  assert_int_equal(cow_blocking_process_stdio(&in, NULL, NULL, b, p), 0);
  struct tb_process *tp = cow_process_priv(p);
  close(tp->stdin_fd); /* the process will never read its stdin */
  tp->stdin_fd = -1;
  assert_int_equal(write(in, "lost", 4), 4);
  int refused = 0;
  for (int i = 0; i < 5000 && !refused; i++) {
#ifdef _WIN32
    refused = write(in, "x", 1) < 0;
#else
    refused = send(in, "x", 1, MSG_NOSIGNAL) < 0;
#endif
    if (!refused)
      uv_sleep(1);
  }
  if (!refused)
    fail_msg("writes to stdin still succeed 5000 times after the process's stdin broke");
  cow_error_t err = COW_ERROR_INIT;
  int rc = cow_blocking_process_close_stdin(b, p, 5000, &err);
  assert_int_equal(rc, COW_EPIPE);
  assert_non_null(err.message);
  assert_non_null(strstr(err.message, "could not be delivered"));
  cow_error_clear(&err);
  close(in);
  struct exit_arg ea = {p, 0};
  assert_int_equal(cow_blocking_run(b, report_exit, &ea, 0, NULL), 0);
  assert_int_equal(cow_blocking_run(b, close_test_stdout, p, 0, NULL), 0);
  assert_int_equal(cow_blocking_run(b, close_test_stderr, p, 0, NULL), 0);
  assert_int_equal(cow_blocking_process_wait(NULL, b, p, 5000, NULL), 0);
  assert_int_equal(cow_blocking_process_close(b, p, 0, NULL), 0);
  assert_int_equal(cow_blocking_host_close(b, host, 0, NULL), 0);
  assert_int_equal(cow_blocking_close(b), 0);
}

static cow_container_t *tb_ctr;
static int make_container(uv_loop_t *loop, void *arg)
{
  return tb_container_new(&tb_ctr, loop, &tb, "tb-container");
}

/* Closing a parent while a child handle is open fails at once (COW_EBUSY, saying what is
 * open) instead of waiting for a close only the caller can make; in the right order every
 * close returns. */
static void close_order(void **state)
{
  memset(&tb, 0, sizeof tb);
  cow_blocking_t *b;
  assert_int_equal(cow_blocking_new(&b), 0);
  assert_int_equal(cow_blocking_run(b, make_host, NULL, 0, NULL), 0);
  assert_int_equal(cow_blocking_run(b, make_container, NULL, 0, NULL), 0);
  cow_process_t *p, *q;
  assert_int_equal(cow_blocking_create_process(&p, b, host, "{}", 5000, NULL), 0);
  assert_int_equal(cow_blocking_create_process(&q, b, cow_container_host(tb_ctr), "{}", 5000, NULL),
                   0);
  cow_error_t err = COW_ERROR_INIT;
  assert_int_equal(cow_blocking_host_close(b, host, 5000, &err), COW_EBUSY);
  assert_non_null(strstr(err.message, "1 process and 0 container handles"));
  assert_int_equal(cow_blocking_container_close(b, tb_ctr, 5000, &err), COW_EBUSY);
  assert_non_null(strstr(err.message, "1 process and 0 container handles"));
  /* through the container's host view too */
  assert_int_equal(cow_blocking_host_close(b, cow_container_host(tb_ctr), 5000, &err), COW_EBUSY);
  cow_error_clear(&err);
  assert_int_equal(cow_blocking_close(b), COW_EBUSY); /* at once: handles are open */
  assert_int_equal(cow_blocking_process_close(b, q, 5000, &err), 0);
  assert_null(err.message);
  assert_int_equal(cow_blocking_container_close(b, tb_ctr, 5000, &err), 0);
  assert_int_equal(cow_blocking_process_close(b, p, 5000, &err), 0);
  assert_int_equal(cow_blocking_host_close(b, host, 5000, &err), 0);
  assert_int_equal(cow_blocking_close(b), 0);
}

struct closer {
  cow_blocking_t *b;
  cow_process_t *p;
  int rc;
};
static void *close_thread(void *arg)
{
  struct closer *c = arg;
  c->rc = cow_blocking_process_close(c->b, c->p, 0, NULL);
  return NULL;
}

/* Two closes of one handle from two threads: the one the loop thread takes second finds
 * the first under way and fails with COW_ECLOSING (both are queued behind a held loop, so
 * both are taken in the same turn, before the close can finish). */
static void second_close(void **state)
{
  cow_blocking_t *b;
  cow_process_t *p = start_process(&b, 0);
  struct hold h;
  hold_begin(&h, b);
  struct closer c1 = {b, p, 1};
  pthread_t first;
  assert_int_equal(pthread_create(&first, NULL, close_thread, &c1), 0);
  hold_release_when_queued(&h, 2); /* once both closes are queued */
  cow_error_t err = COW_ERROR_INIT;
  int rc = cow_blocking_process_close(b, p, 5000, &err);
  pthread_join(first, NULL);
  hold_end(&h);
  /* whichever was queued first closes; the other finds it under way */
  if (!((rc == 0 && c1.rc == COW_ECLOSING) || (rc == COW_ECLOSING && c1.rc == 0)))
    fail_msg("two closes of one handle returned %s and %s", cow_err_name(rc), cow_err_name(c1.rc));
  assert_true(rc == 0 || err.message != NULL);
  cow_error_clear(&err);
  assert_int_equal(cow_blocking_host_close(b, host, 5000, NULL), 0);
  assert_int_equal(cow_blocking_close(b), 0);
}

static int never_run;
static int mark_run(uv_loop_t *loop, void *arg)
{
  never_run = 1;
  return 0;
}

/* A run the loop thread did not start before its timeout never runs; a blocking call from
 * the loop thread fails at once instead of waiting for itself. */
static int nested_call(uv_loop_t *loop, void *arg)
{
  cow_error_t err = COW_ERROR_INIT;
  int rc = cow_blocking_run(arg, barrier, NULL, 0, &err);
  cow_error_clear(&err);
  return rc;
}

static void run_timeout_and_loop_thread(void **state)
{
  cow_blocking_t *b;
  assert_int_equal(cow_blocking_new(&b), 0);
  struct hold h;
  hold_begin(&h, b);
  never_run = 0;
  cow_error_t err = COW_ERROR_INIT;
  assert_int_equal(cow_blocking_run(b, mark_run, NULL, 20, &err), COW_ETIMEDOUT);
  assert_non_null(err.message);
  cow_error_clear(&err);
  hold_release(&h);
  hold_end(&h);
  assert_int_equal(cow_blocking_run(b, barrier, NULL, 0, NULL), 0); /* behind the dropped one */
  if (never_run)
    fail_msg("a run whose caller gave up before it started ran anyway");
  assert_int_equal(cow_blocking_run(b, nested_call, b, 5000, NULL), COW_EINVALID_STATE);
  assert_int_equal(cow_blocking_close(b), 0);
}

struct waiter {
  cow_blocking_t *b;
  cow_process_t *p;
  int rc;
  int64_t code;
};

static void *wait_thread(void *arg)
{
  struct waiter *w = arg;
  w->rc = cow_blocking_process_wait(&w->code, w->b, w->p, tw_deadline_ms(), NULL);
  return NULL;
}

static int complete_it(uv_loop_t *loop, void *arg)
{
  return tb_complete(&tb, 0, NULL);
}

static void concurrent_waiters_and_failures(void **state)
{
  cow_blocking_t *b;
  cow_process_t *p = start_process(&b, 0);
  int fds[3];
  assert_int_equal(cow_blocking_process_stdio(&fds[0], &fds[1], &fds[2], b, p), 0);
  assert_int_equal(fds[0], -1); /* no stdio requested */
  struct waiter w[4];
  pthread_t th[4];
  for (int i = 0; i < 4; i++) {
    w[i] = (struct waiter){b, p, 1, -5};
    assert_int_equal(pthread_create(&th[i], NULL, wait_thread, &w[i]), 0);
  }
  usleep(20000);
  struct exit_arg ea = {p, 0};
  assert_int_equal(cow_blocking_run(b, report_exit, &ea, 0, NULL), 0);
  for (int i = 0; i < 4; i++) {
    pthread_join(th[i], NULL);
    assert_int_equal(w[i].rc, 0);
    assert_int_equal(w[i].code, 0);
  }
  /* a failing create: the error comes back, no handle */
  tb.mode = TB_COMPLETE_FAIL;
  tb.fail_code = COW_EHCS;
  cow_process_t *q = (cow_process_t *)&q;
  cow_error_t err = COW_ERROR_INIT;
  assert_int_equal(cow_blocking_create_process(&q, b, host, "{}", 0, &err), COW_EHCS);
  assert_null(q);
  assert_int_equal(err.code, COW_EHCS);
  assert_string_equal(err.message, "scripted failure");
  cow_error_clear(&err);
  /* a create that outlives its caller's timeout is closed by the library */
  tb.mode = TB_MANUAL;
  assert_int_equal(cow_blocking_create_process(&q, b, host, "{}", 20, &err), COW_ETIMEDOUT);
  cow_error_clear(&err);
  assert_null(q);
  assert_int_equal(cow_blocking_run(b, complete_it, NULL, 0, NULL), 0);
  assert_int_equal(cow_blocking_process_close(b, p, 0, NULL), 0);
  assert_int_equal(cow_blocking_host_close(b, host, 0, NULL), 0);
  assert_int_equal(cow_blocking_close(b), 0);
  assert_int_equal(cow_blocking_close(NULL), COW_EINVAL);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(lifecycle_with_stdio),
      cmocka_unit_test(stdio_as_os_handles),
      cmocka_unit_test(close_without_reading),
      cmocka_unit_test(close_stdin_after_writes),
      cmocka_unit_test(stdout_reader_goes_away),
      cmocka_unit_test(stdin_refused_is_reported),
      cmocka_unit_test(concurrent_waiters_and_failures),
      cmocka_unit_test(close_order),
      cmocka_unit_test(second_close),
      cmocka_unit_test(run_timeout_and_loop_thread),
  };
  return cmocka_run_group_tests_name("blocking", tests, NULL, NULL);
}

/* The blocking API's stdio relays with real processes on every backend: HCS v1 and v2 on
 * the emulator, and the guest connection against cow-gcs-peer (argv[1]), whose utility-VM
 * processes hold the stdio sockets themselves.
 *  - stdin_then_close: many writes to the stdin descriptor, then close_stdin at once; `cat`
 *    must echo every byte, then end of file. COW_STDIN_TRIES processes per backend
 *    (default 1000; 100 under valgrind or a sanitizer, which check memory, not odds: each
 *    fork of an ASan process costs milliseconds, and valgrind slows every round trip).
 *  - reader_goes_away: `yes` writes stdout until its reader closes the descriptor; the
 *    relay then closes the process's stdout, and `yes` dies of SIGPIPE (or its write fails).
 *    The guest only for now: the HCS emulator keeps its own copy of the read end until the
 *    process is told to close its stdout (HcsModifyProcess CloseHandle StdOut), which
 *    cow_process_close_stdout() does not forward yet. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cow.h"

#if defined(__has_include)
#  if __has_include(<valgrind/valgrind.h>)
#    include <valgrind/valgrind.h>
#  endif
#endif
#ifndef RUNNING_ON_VALGRIND
#  define RUNNING_ON_VALGRIND 0
#endif
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#  define SANITIZED 1
#elif defined(__has_feature)
#  if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#    define SANITIZED 1
#  endif
#endif
#ifndef SANITIZED
#  define SANITIZED 0
#endif

static const char *peer_path;
static int tries = 1000;

struct backend {
  const char *name;
  cow_blocking_t *b;
  cow_host_t *host;
  cow_container_t *system; /* HCS */
  int schema;              /* process documents: 1 (HCS v1) or 2 */
  pid_t peer;              /* guest */
  char dir[64];
  cow_guest_transport_t *transport;
};

static void check(int rc, const cow_error_t *err, const char *what)
{
  if (rc != 0)
    fail_msg("%s: %s (%s)", what, err && err->message ? err->message : cow_strerror(rc),
             cow_err_name(rc));
}

static void hcs_open(struct backend *be, cow_hcs_api_t api)
{
  memset(be, 0, sizeof *be);
  be->name = api == COW_HCS_V1 ? "HCS v1" : "HCS v2";
  be->schema = api == COW_HCS_V1 ? 1 : 2;
  assert_int_equal(cow_blocking_new(&be->b), 0);
  cow_hcs_options_t opts = COW_HCS_OPTIONS_INIT;
  opts.api = api;
  cow_hcs_system_params_t sp = COW_HCS_SYSTEM_PARAMS_INIT;
  char *doc;
  static int systems;
  char id[64];
  snprintf(id, sizeof id, "blocking-stdio-%d-%d", (int)getpid(), ++systems);
  assert_int_equal(api == COW_HCS_V1 ? cow_hcs_container_config_json(&doc, id, &sp)
                                     : cow_hcs_compute_system_json(&doc, &sp),
                   0);
  cow_error_t err = COW_ERROR_INIT;
  int rc = cow_blocking_hcs_create_system(&be->system, be->b, &opts, id, doc, 10000, &err);
  cow_free(doc);
  check(rc, &err, "create the compute system");
  check(cow_blocking_container_start(be->b, be->system, 10000, &err), &err, "start it");
  be->host = cow_container_host(be->system);
}

static void guest_open(struct backend *be)
{
  memset(be, 0, sizeof *be);
  be->name = "guest";
  be->schema = 2;
  snprintf(be->dir, sizeof be->dir, "/tmp/cow-bstdio-XXXXXX");
  assert_non_null(mkdtemp(be->dir));
  assert_int_equal(cow_guest_transport_unix(&be->transport, be->dir), 0);
  assert_int_equal(cow_blocking_new(&be->b), 0);
  /* The peer retries its dial while the listener is not there yet. */
  char *argv[] = {(char *)peer_path, "--port-dir", be->dir, NULL};
  assert_int_equal(posix_spawn(&be->peer, peer_path, NULL, NULL, argv, NULL), 0);
  cow_guest_options_t o = COW_GUEST_OPTIONS_INIT;
  o.transport = be->transport;
  o.connect_timeout_ms = 20000;
  cow_error_t err = COW_ERROR_INIT;
  check(cow_blocking_guest_connect(&be->host, be->b, &o, 0, &err), &err, "connect to the peer");
}

static void backend_close(struct backend *be)
{
  if (be->system != NULL) {
    cow_error_t err = COW_ERROR_INIT;
    int forced;
    check(cow_blocking_container_stop(&forced, be->b, be->system, 0, 10000, &err), &err,
          "stop the system");
    assert_int_equal(cow_blocking_container_close(be->b, be->system), 0);
  } else {
    assert_int_equal(cow_blocking_host_close(be->b, be->host), 0);
  }
  assert_int_equal(cow_blocking_close(be->b), 0);
  if (be->peer > 0) {
    int st;
    assert_int_equal(waitpid(be->peer, &st, 0), be->peer); /* it leaves when the bridge closes */
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    cow_guest_transport_release(be->transport);
    char cmd[96];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", be->dir);
    assert_int_equal(system(cmd), 0);
  }
}

static cow_process_t *start(struct backend *be, const char *const *argv, int in, int out, int errp)
{
  cow_hcs_process_params_t pp = COW_HCS_PROCESS_PARAMS_INIT;
  pp.command_args = argv;
  pp.create_stdin = in;
  pp.create_stdout = out;
  pp.create_stderr = errp;
  char *doc;
  assert_int_equal(cow_hcs_process_params_json(&doc, &pp, be->schema), 0);
  cow_process_t *p;
  cow_error_t err = COW_ERROR_INIT;
  int rc = cow_blocking_create_process(&p, be->b, be->host, doc, 10000, &err);
  cow_free(doc);
  check(rc, &err, argv[0]);
  return p;
}

/* Reads on `fd` give up after 10 s, so that a missing end of file fails with a message. */
static void read_deadline(int fd)
{
  struct timeval tv = {10, 0};
  assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv), 0);
}

static size_t read_to_eof(int fd, char *buf, size_t size, const char *what)
{
  size_t got = 0;
  for (;;) {
    ssize_t n = read(fd, buf + got, size - got);
    if (n == 0)
      return got;
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      fail_msg("%s: no end of file after %zu bytes (%s)", what, got, strerror(errno));
    got += (size_t)n;
    if (got == size)
      fail_msg("%s: more than %zu bytes", what, size);
  }
}

static void stdin_then_close(struct backend *be)
{
  static const char *const cat[] = {"/bin/cat", NULL};
  for (int t = 0; t < tries; t++) {
    cow_process_t *p = start(be, cat, 1, 1, 0);
    int in, out;
    assert_int_equal(cow_blocking_process_stdio(&in, &out, NULL, be->b, p), 0);
    read_deadline(out);
    /* 1 to 8 writes of 3 to 24 bytes, then the close at once. */
    char sent[256];
    size_t len = 0;
    for (int w = 0; w < 1 + t % 8; w++) {
      int n = snprintf(sent + len, sizeof sent - len, "%d.%d:%.*s|", t, w, (t + w) % 16,
                       "abcdefghijklmnop");
      assert_int_equal(write(in, sent + len, (size_t)n), n);
      len += (size_t)n;
    }
    cow_error_t err = COW_ERROR_INIT;
    check(cow_blocking_process_close_stdin(be->b, p, 10000, &err), &err, "close_stdin");
    char echoed[256];
    size_t got = read_to_eof(out, echoed, sizeof echoed, "cat's stdout");
    if (got != len || memcmp(echoed, sent, len) != 0)
      fail_msg("%s, try %d: cat echoed %zu of the %zu bytes written before close_stdin", be->name,
               t, got, len);
    int64_t code = -1;
    check(cow_blocking_process_wait(&code, be->b, p, 10000, &err), &err, "wait for cat");
    assert_int_equal(code, 0);
    close(in);
    close(out);
    assert_int_equal(cow_blocking_process_close(be->b, p), 0);
  }
}

static void reader_goes_away(struct backend *be)
{
  static const char *const yes[] = {"/bin/sh", "-c", "/usr/bin/yes; echo \"yes: $?\" >&2", NULL};
  cow_process_t *p = start(be, yes, 0, 1, 1);
  int out, errfd;
  assert_int_equal(cow_blocking_process_stdio(NULL, &out, &errfd, be->b, p), 0);
  read_deadline(errfd);
  char buf[4096];
  assert_true(read(out, buf, sizeof buf) > 0);
  close(out); /* as `| head -1` does */
  size_t got = read_to_eof(errfd, buf, sizeof buf - 1, "the shell's stderr");
  buf[got] = '\0';
  /* Killed by SIGPIPE (128 + 13), or its write failed and it said so: EPIPE, or
   * ECONNRESET from a socket closed with bytes still unread in it. */
  if (strcmp(buf, "yes: 141\n") != 0 &&
      (strstr(buf, "standard output: ") == NULL || strstr(buf, "yes: 1\n") == NULL))
    fail_msg("%s: yes did not end by a failed write: '%s'", be->name, buf);
  int64_t code = -1;
  cow_error_t err = COW_ERROR_INIT;
  check(cow_blocking_process_wait(&code, be->b, p, 10000, &err), &err, "wait for the shell");
  assert_int_equal(code, 0);
  close(errfd);
  assert_int_equal(cow_blocking_process_close(be->b, p), 0);
}

#define BACKEND_TEST(name, open, body)                                                             \
  static void name(void **state)                                                                   \
  {                                                                                                \
    struct backend be;                                                                             \
    open;                                                                                          \
    body(&be);                                                                                     \
    backend_close(&be);                                                                            \
  }

BACKEND_TEST(hcs_v1_stdin_then_close, hcs_open(&be, COW_HCS_V1), stdin_then_close)
BACKEND_TEST(hcs_v2_stdin_then_close, hcs_open(&be, COW_HCS_V2), stdin_then_close)
BACKEND_TEST(guest_stdin_then_close, guest_open(&be), stdin_then_close)
BACKEND_TEST(guest_reader_goes_away, guest_open(&be), reader_goes_away)

int main(int argc, char **argv)
{
  if (argc < 2) {
    fprintf(stderr, "usage: %s PATH-OF-cow-gcs-peer\n", argv[0]);
    return 2;
  }
  peer_path = argv[1];
  if (SANITIZED || RUNNING_ON_VALGRIND)
    tries = 100;
  const char *n = getenv("COW_STDIN_TRIES");
  if (n != NULL && atoi(n) > 0)
    tries = atoi(n);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(hcs_v1_stdin_then_close),
      cmocka_unit_test(hcs_v2_stdin_then_close),
      cmocka_unit_test(guest_stdin_then_close),
      cmocka_unit_test(guest_reader_goes_away),
  };
  return cmocka_run_group_tests_name("blocking_stdio", tests, NULL, NULL);
}

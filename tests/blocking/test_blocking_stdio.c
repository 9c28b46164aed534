/* The blocking API's stdio relays with real processes on every backend: HCS v1 and v2 on
 * the emulator, and the guest connection against cow-gcs-peer (argv[1]), whose utility-VM
 * processes hold the stdio sockets themselves.
 *  - stdin_then_close: many writes to the stdin descriptor, then close_stdin at once; `cat`
 *    must echo every byte, then end of file. COW_STDIN_TRIES processes per backend
 *    (default 1000; 100 under valgrind or a sanitizer, which check memory, not odds: each
 *    fork of an ASan process costs milliseconds, and valgrind slows every round trip).
 *  - reader_goes_away: `yes` writes stdout until its reader closes the descriptor; the
 *    relay then closes the process's stdout, and `yes` dies of SIGPIPE (or its write
 *    fails). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "blocking/backend.h"
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
    assert_int_equal(cow_blocking_process_close(be->b, p, 0, NULL), 0);
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
  assert_int_equal(cow_blocking_process_close(be->b, p, 0, NULL), 0);
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
BACKEND_TEST(guest_stdin_then_close, guest_open(&be, peer_path), stdin_then_close)
BACKEND_TEST(hcs_v1_reader_goes_away, hcs_open(&be, COW_HCS_V1), reader_goes_away)
BACKEND_TEST(hcs_v2_reader_goes_away, hcs_open(&be, COW_HCS_V2), reader_goes_away)
BACKEND_TEST(guest_reader_goes_away, guest_open(&be, peer_path), reader_goes_away)

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
      cmocka_unit_test(hcs_v1_stdin_then_close), cmocka_unit_test(hcs_v2_stdin_then_close),
      cmocka_unit_test(guest_stdin_then_close),  cmocka_unit_test(hcs_v1_reader_goes_away),
      cmocka_unit_test(hcs_v2_reader_goes_away), cmocka_unit_test(guest_reader_goes_away),
  };
  return cmocka_run_group_tests_name("blocking_stdio", tests, NULL, NULL);
}

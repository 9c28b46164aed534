/* See backend.h. */
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

#include "blocking/backend.h"

void check(int rc, const cow_error_t *err, const char *what)
{
  if (rc != 0)
    fail_msg("%s: %s (%s)", what, err && err->message ? err->message : cow_strerror(rc),
             cow_err_name(rc));
}

void hcs_open(struct backend *be, cow_hcs_api_t api)
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
  snprintf(id, sizeof id, "blocking-test-%d-%d", (int)getpid(), ++systems);
  assert_int_equal(api == COW_HCS_V1 ? cow_hcs_container_config_json(&doc, id, &sp, NULL)
                                     : cow_hcs_compute_system_json(&doc, &sp, NULL),
                   0);
  cow_error_t err = COW_ERROR_INIT;
  int rc = cow_blocking_hcs_create_system(&be->system, be->b, &opts, id, doc, 10000, &err);
  cow_free(doc);
  check(rc, &err, "create the compute system");
  check(cow_blocking_container_start(be->b, be->system, 10000, &err), &err, "start it");
  be->host = cow_container_host(be->system);
}

void guest_open(struct backend *be, const char *peer_path)
{
  memset(be, 0, sizeof *be);
  be->name = "guest";
  be->schema = 2;
  snprintf(be->dir, sizeof be->dir, "/tmp/cow-blocking-XXXXXX");
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

int peer_reap(struct backend *be)
{
  int st = 0;
  for (int i = 0; i < 10000; i++) {
    pid_t r = waitpid(be->peer, &st, WNOHANG);
    if (r == be->peer) {
      be->peer = 0;
      return st;
    }
    usleep(1000);
  }
  kill(be->peer, SIGKILL);
  waitpid(be->peer, &st, 0);
  be->peer = 0;
  fail_msg("cow-gcs-peer did not exit within 10 s");
  return st;
}

void backend_close(struct backend *be)
{
  cow_error_t err = COW_ERROR_INIT;
  if (be->system != NULL) {
    int forced;
    check(cow_blocking_container_stop(&forced, be->b, be->system, 0, 10000, &err), &err,
          "stop the system");
    check(cow_blocking_container_close(be->b, be->system, 10000, &err), &err, "close the system");
  } else {
    check(cow_blocking_host_close(be->b, be->host, 10000, &err), &err, "close the connection");
  }
  assert_int_equal(cow_blocking_close(be->b), 0);
  if (be->transport != NULL) {
    if (be->peer > 0) {
      int st = peer_reap(be); /* it leaves when the bridge closes */
      assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    }
    cow_guest_transport_release(be->transport);
    char cmd[96];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", be->dir);
    assert_int_equal(system(cmd), 0);
  }
}

cow_process_t *start(struct backend *be, const char *const *argv, int in, int out, int errp)
{
  cow_hcs_process_params_t pp = COW_HCS_PROCESS_PARAMS_INIT;
  pp.command_args = argv;
  pp.create_stdin = in;
  pp.create_stdout = out;
  pp.create_stderr = errp;
  char *doc;
  assert_int_equal(cow_hcs_process_params_json(&doc, &pp, be->schema, NULL), 0);
  cow_process_t *p;
  cow_error_t err = COW_ERROR_INIT;
  int rc = cow_blocking_create_process(&p, be->b, be->host, doc, 10000, &err);
  cow_free(doc);
  check(rc, &err, argv[0]);
  return p;
}

void read_deadline(int fd)
{
  struct timeval tv = {10, 0};
  assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv), 0);
}

size_t read_to_eof(int fd, char *buf, size_t size, const char *what)
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

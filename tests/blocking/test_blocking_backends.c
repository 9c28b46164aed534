/* The blocking constructors with the real backends: an HCS v2 compute system on the
 * emulator running a real process, and a guest connection that nobody answers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cow.h"

static void hcs_system_end_to_end(void **state)
{
  cow_blocking_t *b;
  assert_int_equal(cow_blocking_new(&b), 0);
  cow_hcs_options_t opts;
  cow_hcs_options_init(&opts);
  opts.api = COW_HCS_V2;
  cow_hcs_system_params_t sp = COW_HCS_SYSTEM_PARAMS_INIT;
  char *doc;
  assert_int_equal(cow_hcs_compute_system_json(&doc, &sp), 0);
  cow_container_t *c;
  cow_error_t err = COW_ERROR_INIT;
  assert_int_equal(cow_blocking_hcs_create_system(&c, b, &opts, "blocking-1", doc, 10000, &err), 0);
  cow_free(doc);
  assert_int_equal(cow_blocking_container_start(b, c, 10000, &err), 0);
  const char *argv[] = {"/bin/sh", "-c", "echo from-the-system; exit 7", NULL};
  cow_hcs_process_params_t pp = COW_HCS_PROCESS_PARAMS_INIT;
  pp.command_args = argv;
  pp.create_stdout = 1;
  char *cfg;
  assert_int_equal(cow_hcs_process_params_json(&cfg, &pp, 2), 0);
  cow_process_t *p;
  assert_int_equal(cow_blocking_create_process(&p, b, cow_container_host(c), cfg, 10000, &err), 0);
  cow_free(cfg);
  int out;
  assert_int_equal(cow_blocking_process_stdio(NULL, &out, NULL, b, p), 0);
  char buf[64];
  size_t got = 0;
  ssize_t n;
  while ((n = read(out, buf + got, sizeof buf - 1 - got)) > 0)
    got += (size_t)n;
  buf[got] = '\0';
  close(out);
  assert_string_equal(buf, "from-the-system\n");
  int64_t code;
  assert_int_equal(cow_blocking_process_wait(&code, b, p, 10000, &err), 0);
  assert_int_equal(code, 7);
  assert_int_equal(cow_blocking_process_close(b, p), 0);
  /* a duplicate id fails with the service's error, and no handle */
  cow_container_t *dup = (cow_container_t *)&dup;
  assert_int_equal(cow_hcs_compute_system_json(&doc, &sp), 0);
  assert_int_equal(cow_blocking_hcs_create_system(&dup, b, &opts, "blocking-1", doc, 10000, &err),
                   COW_EEXIST);
  cow_free(doc);
  assert_null(dup);
  assert_int_equal(err.domain, COW_DOMAIN_HCS);
  cow_error_clear(&err);
  /* Stop with escalation: a process that obeys SIGTERM needs no kill... */
  const char *sleeper[] = {"/bin/sh", "-c", "exec sleep 30", NULL};
  pp = (cow_hcs_process_params_t)COW_HCS_PROCESS_PARAMS_INIT;
  pp.command_args = sleeper;
  assert_int_equal(cow_hcs_process_params_json(&cfg, &pp, 2), 0);
  assert_int_equal(cow_blocking_create_process(&p, b, cow_container_host(c), cfg, 10000, &err), 0);
  cow_free(cfg);
  char *sig = NULL;
  assert_int_equal(cow_signal_options_json(&sig, 15), 0);
  int forced = -1;
  code = 0;
  assert_int_equal(cow_blocking_process_stop(&code, &forced, b, p, sig, 60000, 10000, &err), 0);
  cow_free(sig);
  assert_int_equal(forced, 0);
  assert_true(code != 0);
  assert_int_equal(cow_blocking_process_close(b, p), 0);
  /* ...and the system with grace 0 is terminated at once. */
  forced = -1;
  assert_int_equal(cow_blocking_container_stop(&forced, b, c, 0, 10000, &err), 0);
  assert_int_equal(forced, 1);
  assert_int_equal(cow_blocking_container_wait(b, c, 10000, &err), 0);
  forced = -1; /* stopped already: nothing forced */
  assert_int_equal(cow_blocking_container_stop(&forced, b, c, 0, 10000, &err), 0);
  assert_int_equal(forced, 0);
  assert_int_equal(cow_blocking_container_close(b, c), 0);
  assert_int_equal(cow_blocking_close(b), 0);
}

static void guest_connect_times_out(void **state)
{
  char dir[] = "/tmp/cow-blocking-XXXXXX";
  assert_non_null(mkdtemp(dir));
  cow_guest_transport_t *t;
  assert_int_equal(cow_guest_transport_unix(&t, dir), 0);
  cow_blocking_t *b;
  assert_int_equal(cow_blocking_new(&b), 0);
  cow_guest_options_t o = COW_GUEST_OPTIONS_INIT;
  o.transport = t;
  o.connect_timeout_ms = 200; /* nobody will dial */
  cow_host_t *h = (cow_host_t *)&h;
  cow_error_t err = COW_ERROR_INIT;
  assert_int_equal(cow_blocking_guest_connect(&h, b, &o, 0, &err), COW_ETIMEDOUT);
  assert_null(h);
  assert_non_null(err.message);
  cow_error_clear(&err);
  /* the caller's own deadline, shorter than the connection's: abandoned, cleaned up later */
  o.connect_timeout_ms = 300;
  assert_int_equal(cow_blocking_guest_connect(&h, b, &o, 50, &err), COW_ETIMEDOUT);
  cow_error_clear(&err);
  assert_int_equal(cow_blocking_close(b), 0); /* waits for the failed connection to close */
  cow_guest_transport_release(t);
  rmdir(dir);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(hcs_system_end_to_end),
      cmocka_unit_test(guest_connect_times_out),
  };
  return cmocka_run_group_tests_name("blocking_backends", tests, NULL, NULL);
}

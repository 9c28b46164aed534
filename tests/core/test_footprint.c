/* R23: per-process state is O(1) and freed on close. 100,000 create/exit/wait/close cycles
 * through the core (scripted backend, no real processes) must leave the resident set
 * flat: under 1 MiB of growth after a warm-up, and no allocation left behind. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "support/rss.h"
#include "support/test-backend.h"

static int cycles_done;

static void on_created(cow_process_t *p, int status, const cow_error_t *err, void *data)
{
  assert_int_equal(status, 0);
  cow_process_report_exit(p, 0, NULL);
}

static void on_closed(cow_process_t *p, void *data)
{
  cycles_done++;
}

static void on_wait(cow_process_t *p, int status, int64_t code, const cow_error_t *err, void *data)
{
  assert_int_equal(status, 0);
  assert_int_equal(cow_process_close(p, on_closed, NULL), 0);
}

static void run_cycles(cow_host_t *h, uv_loop_t *loop, int n)
{
  for (int i = 0; i < n; i++) {
    cow_process_t *p;
    assert_int_equal(cow_host_create_process(&p, h, "{}", on_created, NULL), 0);
    assert_int_equal(cow_process_wait(p, on_wait, NULL), 0);
    /* keep a bounded number in flight, as a shim serving exec probes does */
    if (i % 64 == 63)
      TW_RUN_IDLE(loop);
  }
  TW_RUN_IDLE(loop);
}

static void rss_flat_over_100k_execs(void **state)
{
  uv_loop_t loop;
  assert_int_equal(uv_loop_init(&loop), 0);
  struct tb tb;
  memset(&tb, 0, sizeof tb);
  cow_host_t *h;
  assert_int_equal(tb_host_new(&h, &loop, &tb), 0);
  run_cycles(h, &loop, 2000); /* warm-up: allocator arenas, id table, libuv internals */
  long allocs_before = tb_alloc_outstanding();
  long before = rss_kib();
  assert_true(before > 0);
  run_cycles(h, &loop, 100000);
  long after = rss_kib();
  assert_int_equal(cycles_done, 102000);
  assert_int_equal(tb.calls[TB_CREATE], 102000);
  assert_int_equal(tb_alloc_outstanding(), allocs_before);
  printf("rss before %ld KiB, after 100000 cycles %ld KiB (growth %ld KiB)\n", before, after,
         after - before);
  if (RSS_MEANINGFUL)
    assert_true(after - before < 1024);
  assert_int_equal(cow_host_close(h, NULL, NULL), 0);
  assert_int_equal(TW_LOOP_FINISH(&loop), 0);
}

int main(void)
{
  tb_alloc_install();
  const struct CMUnitTest tests[] = {cmocka_unit_test(rss_flat_over_100k_execs)};
  return cmocka_run_group_tests_name("footprint", tests, NULL, NULL);
}

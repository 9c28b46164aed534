/* The cost budget of the guest connection's hot paths, in counts rather than time
 * (docs/performance.md, "The budget test"): allocations (libcow's and jansson's), heap bytes
 * and system calls per RPC, per exec+wait+close, and per live process, against the fake
 * guest of tests/support/fake-guest.c answering at once.
 *
 * Counts are deterministic where times are not: the guest runs in this process and answers
 * inside the host's write(2) (sc_set_write_hook), so every answer is waiting by the time the
 * host polls, exactly as with a remote guest that is always ready, and no scheduling decides
 * how many polls an operation takes. The guest's own calls are not counted; it allocates
 * nothing. A figure above its budget fails the test and names the figure: an optimisation
 * that lowers a figure lowers its budget in the same change. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cow.h"
#include "cow/guest.h"
#include "support/alloc-count.h"
#include "support/fake-guest.h"
#include "support/syscount.h"
#include "support/wait.h"

/* The budgets (docs/performance.md lists them with the figures they were set from). */
#define RPC_ALLOCS         4.0    /* libcow + jansson allocations per SignalProcess round trip */
#define RPC_SYSCALLS       3.0    /* system calls per SignalProcess round trip */
#define PIPELINED_SYSCALLS 0.05   /* per RPC, 64 made in one loop turn */
#define EXEC_ALLOCS        26.05  /* per exec + wait + close, no stdio */
#define EXEC_SYSCALLS      7.0    /* per exec + wait + close */
#define LIVE_HEAP_BYTES    1016.0 /* library heap per live process (exec answered, wait pending) */
#define ROUNDS             64

static uv_loop_t loop;
static uv_pipe_t host_end;
static fg_t guest;
static cow_host_t *host;
static int connected, host_closed;

static void pump_guest(void *arg)
{
  fg_pump(arg, 0);
}

static void on_connected(cow_host_t *h, int status, const cow_error_t *err, void *data)
{
  (void)h;
  (void)data;
  assert_int_equal(status, 0);
  (void)err;
  connected = 1;
}

static void on_host_closed(cow_host_t *h, void *data)
{
  (void)h;
  (void)data;
  host_closed = 1;
}

static int setup(void **state)
{
  (void)state;
  assert_int_equal(uv_loop_init(&loop), 0);
  int sv[2];
  assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  assert_int_equal(uv_pipe_init(&loop, &host_end, 0), 0);
  assert_int_equal(uv_pipe_open(&host_end, sv[0]), 0);
  fg_init(&guest, sv[1]);
  sc_set_write_hook(sv[0], pump_guest, &guest);
  cow_guest_options_t o = COW_GUEST_OPTIONS_INIT;
  connected = host_closed = 0;
  assert_int_equal(
      cow_guest_connect_stream(&host, &loop, (uv_stream_t *)&host_end, &o, on_connected, NULL), 0);
  TW_UNTIL(&loop, connected);
  return 0;
}

static int teardown(void **state)
{
  (void)state;
  assert_int_equal(cow_host_close(host, on_host_closed, NULL), 0);
  TW_UNTIL(&loop, host_closed);
  sc_set_write_hook(-1, NULL, NULL);
  close(guest.fd);
  assert_int_equal(TW_LOOP_FINISH(&loop), 0);
  return 0;
}

/* ---- what one operation costs ---- */

struct cost {
  struct ac_counts cow, jansson;
};

static struct cost cost_begin(void)
{
  sc_reset();
  struct cost c = {ac_get(AC_COW), ac_get(AC_JANSSON)};
  return c;
}

/* Per operation, over n operations since `start`. */
static void cost_end(const struct cost *start, int n, const char *what, double *allocs,
                     double *syscalls)
{
  struct sc_counts s = sc_get();
  double cow = (double)(ac_get(AC_COW).allocs - start->cow.allocs) / n;
  double jansson = (double)(ac_get(AC_JANSSON).allocs - start->jansson.allocs) / n;
  *allocs = cow + jansson;
  *syscalls = (double)s.total / n;
  printf("%s, per operation:\n  %6.2f allocations (%.2f libcow, %.2f jansson)\n"
         "  %6.2f system calls (read %.2f, write %.2f, poll %.2f, epoll_ctl %.2f, other %.2f)\n",
         what, *allocs, cow, jansson, *syscalls, (double)s.kind[SC_READ] / n,
         (double)s.kind[SC_WRITE] / n, (double)s.kind[SC_POLL] / n, (double)s.kind[SC_CTL] / n,
         (double)s.kind[SC_OTHER] / n);
}

static void check(double figure, double budget, const char *what)
{
  if (figure > budget)
    fail_msg("%s: %.2f is over its budget of %.2f (docs/performance.md)", what, figure, budget);
}

/* ---- processes ---- */

static int created, waited, proc_closed;

static void on_created(cow_process_t *p, int status, const cow_error_t *err, void *data)
{
  (void)p;
  (void)data;
  if (status != 0)
    fail_msg("create failed: %s", err->message);
  created++;
}

static void on_proc_closed(cow_process_t *p, void *data)
{
  (void)p;
  (void)data;
  proc_closed++;
}

static void on_wait(cow_process_t *p, int status, int64_t code, const cow_error_t *err, void *data)
{
  (void)err;
  (void)data;
  (void)code;
  assert_int_equal(status, 0);
  waited++;
  assert_int_equal(cow_process_close(p, on_proc_closed, NULL), 0);
}

static const char held_cfg[] =
    "{\"CommandArgs\":[\"sleep\",\"" FG_HOLD_MARKER "\"],\"WorkingDirectory\":\"/\"}";
static const char quick_cfg[] = "{\"CommandArgs\":[\"true\"],\"WorkingDirectory\":\"/\"}";

static cow_process_t *start_held(void)
{
  cow_process_t *p;
  int before = created;
  assert_int_equal(cow_host_create_process(&p, host, held_cfg, on_created, NULL), 0);
  assert_int_equal(cow_process_wait(p, on_wait, NULL), 0);
  TW_UNTIL(&loop, created == before + 1);
  return p;
}

static int killed;
static void on_killed(cow_process_t *p, int status, const cow_error_t *err, void *data)
{
  (void)p;
  (void)err;
  (void)data;
  assert_int_equal(status, 0);
  killed++;
}

/* ---- one RPC: SignalProcess round trips, one at a time ---- */

static int signalled, signals_wanted;
static const char sig_options[] = "{\"Signal\":15}";

static void on_signalled(cow_process_t *p, int status, const cow_error_t *err, void *data)
{
  (void)data;
  if (status != 0)
    fail_msg("signal failed: %s", err->message);
  if (++signalled < signals_wanted)
    assert_int_equal(cow_process_signal(p, sig_options, on_signalled, NULL), 0);
}

static void signal_round_trips(cow_process_t *p, int n)
{
  signalled = 0;
  signals_wanted = n;
  assert_int_equal(cow_process_signal(p, sig_options, on_signalled, NULL), 0);
  TW_UNTIL(&loop, signalled == signals_wanted);
}

static void rpc_round_trip(void **state)
{
  (void)state;
  created = waited = proc_closed = 0;
  cow_process_t *p = start_held();
  signal_round_trips(p, 8); /* warm-up: the pending table, the read buffer */
  struct cost c = cost_begin();
  signal_round_trips(p, ROUNDS);
  double allocs, syscalls;
  cost_end(&c, ROUNDS, "SignalProcess", &allocs, &syscalls);
  assert_true(allocs > 0 && syscalls > 0); /* the counters count */
  check(allocs, RPC_ALLOCS, "allocations per RPC");
  check(syscalls, RPC_SYSCALLS, "system calls per RPC");
  assert_int_equal(cow_process_kill(p, on_killed, NULL), 0);
  TW_UNTIL(&loop, proc_closed == waited && waited > 0);
}

/* The same with a timeout on every signal, as a shim sets them: a deadline in the op, no
 * timer handle to start, stop and close. */
static void rpc_round_trip_with_timeout(void **state)
{
  (void)state;
  assert_int_equal(cow_host_set_timeout(host, COW_TIMEOUT_SIGNAL, 30000), 0);
  created = waited = proc_closed = 0;
  cow_process_t *p = start_held();
  signal_round_trips(p, 8);
  struct cost c = cost_begin();
  signal_round_trips(p, ROUNDS);
  double allocs, syscalls;
  cost_end(&c, ROUNDS, "SignalProcess with a 30 s timeout", &allocs, &syscalls);
  check(allocs, RPC_ALLOCS, "allocations per RPC with a timeout");
  check(syscalls, RPC_SYSCALLS, "system calls per RPC with a timeout");
  assert_int_equal(cow_process_kill(p, on_killed, NULL), 0);
  TW_UNTIL(&loop, proc_closed == waited && waited > 0);
}

/* ---- many RPCs in one loop turn: written together ---- */

static void pipelined_round_trips(void **state)
{
  (void)state;
  created = waited = proc_closed = 0;
  cow_process_t *p = start_held();
  signal_round_trips(p, 8);
  struct cost c = cost_begin();
  signalled = 0;
  signals_wanted = 0; /* on_signalled issues no more */
  for (int i = 0; i < ROUNDS; i++)
    assert_int_equal(cow_process_signal(p, sig_options, on_signalled, NULL), 0);
  TW_UNTIL(&loop, signalled == ROUNDS);
  double allocs, syscalls;
  cost_end(&c, ROUNDS, "SignalProcess x64 in one loop turn", &allocs, &syscalls);
  assert_true(syscalls > 0);
  check(syscalls, PIPELINED_SYSCALLS, "system calls per RPC, 64 in one loop turn");
  assert_int_equal(cow_process_kill(p, on_killed, NULL), 0);
  TW_UNTIL(&loop, proc_closed == waited && waited > 0);
}

/* ---- exec + wait + close, no stdio ---- */

static int cycles_wanted;

static void on_cycle_closed(cow_process_t *p, void *data);

static void on_cycle_wait(cow_process_t *p, int status, int64_t code, const cow_error_t *err,
                          void *data)
{
  (void)err;
  (void)data;
  assert_int_equal(status, 0);
  assert_int_equal(code, 0);
  waited++;
  assert_int_equal(cow_process_close(p, on_cycle_closed, NULL), 0);
}

static void on_cycle_closed(cow_process_t *p, void *data)
{
  (void)p;
  (void)data;
  if (++proc_closed < cycles_wanted) {
    cow_process_t *q;
    assert_int_equal(cow_host_create_process(&q, host, quick_cfg, on_created, NULL), 0);
    assert_int_equal(cow_process_wait(q, on_cycle_wait, NULL), 0);
  }
}

static void run_cycles(int n)
{
  proc_closed = waited = 0;
  cycles_wanted = n;
  cow_process_t *q;
  assert_int_equal(cow_host_create_process(&q, host, quick_cfg, on_created, NULL), 0);
  assert_int_equal(cow_process_wait(q, on_cycle_wait, NULL), 0);
  TW_UNTIL(&loop, proc_closed == cycles_wanted);
}

static void exec_wait_close(void **state)
{
  (void)state;
  run_cycles(8);
  long live = ac_total().live;
  struct cost c = cost_begin();
  run_cycles(ROUNDS);
  double allocs, syscalls;
  cost_end(&c, ROUNDS, "exec+wait+close", &allocs, &syscalls);
  assert_true(allocs > 0 && syscalls > 0);
  assert_int_equal(ac_total().live, live); /* nothing per cycle is left behind */
  check(allocs, EXEC_ALLOCS, "allocations per exec+wait+close");
  check(syscalls, EXEC_SYSCALLS, "system calls per exec+wait+close");
}

/* ---- the heap a live process holds ---- */

static void live_process_heap(void **state)
{
  (void)state;
  enum { N = 64 };
  cow_process_t *p[N];
  created = waited = proc_closed = killed = 0;
  cow_process_t *warm = start_held(); /* the pending table and id table grow first */
  assert_int_equal(cow_process_kill(warm, on_killed, NULL), 0);
  TW_UNTIL(&loop, killed == 1 && proc_closed == 1);
  created = waited = proc_closed = killed = 0;
  long bytes = ac_total().bytes;
  for (int i = 0; i < N; i++)
    p[i] = start_held();
  double per = (double)(ac_total().bytes - bytes) / N;
  printf("live process:\n  %6.0f bytes of library heap (exec answered, wait pending)\n", per);
  assert_true(per > 0);
  for (int i = 0; i < N; i++)
    assert_int_equal(cow_process_kill(p[i], on_killed, NULL), 0);
  TW_UNTIL(&loop, killed == N && proc_closed == N);
  check(per, LIVE_HEAP_BYTES, "heap bytes per live process");
}

int main(void)
{
  ac_install();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(rpc_round_trip, setup, teardown),
      cmocka_unit_test_setup_teardown(rpc_round_trip_with_timeout, setup, teardown),
      cmocka_unit_test_setup_teardown(pipelined_round_trips, setup, teardown),
      cmocka_unit_test_setup_teardown(exec_wait_close, setup, teardown),
      cmocka_unit_test_setup_teardown(live_process_heap, setup, teardown),
  };
  return cmocka_run_group_tests_name("budget", tests, NULL, NULL);
}

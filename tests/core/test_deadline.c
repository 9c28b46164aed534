/* Deadlines (src/core/deadline.c): one timer per loop over an intrusive heap. Thousands of
 * deadlines armed, re-armed and cancelled at random must keep the heap well formed and fire
 * each armed one exactly once, never before its time, in the order of their times (ties in
 * the order armed); cancelled ones never fire; a callback may arm and cancel others; and the
 * loop is kept running only while a deadline is armed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "core/deadline.h"
#include "core/loop.h"
#include "support/wait.h"

#define N 3000

static uv_loop_t loop;
static struct cow__loop *lp;

struct item {
  struct cow__deadline d;
  int fired;
  uint64_t fired_at;
  uint64_t due, seq; /* as armed last */
  int order;         /* position in the firing sequence */
};
static struct item items[N];
static int fired_total;

static void on_fire(struct cow__deadline *d)
{
  struct item *it = (struct item *)d;
  assert_false(cow__deadline_armed(d));
  it->fired++;
  it->fired_at = uv_now(&loop);
  it->order = fired_total++;
  assert_true(cow__deadlines_valid(lp));
}

static uint64_t rnd_state = 0x2545F4914F6CDD1Dull;
static uint32_t rnd(void)
{
  rnd_state ^= rnd_state << 13;
  rnd_state ^= rnd_state >> 7;
  rnd_state ^= rnd_state << 17;
  return (uint32_t)(rnd_state >> 11);
}

static int setup(void **state)
{
  (void)state;
  assert_int_equal(uv_loop_init(&loop), 0);
  assert_int_equal(cow__loop_acquire(&loop, &lp), 0);
  memset(items, 0, sizeof items);
  fired_total = 0;
  return 0;
}

static int teardown(void **state)
{
  (void)state;
  cow__loop_release(lp);
  assert_int_equal(TW_LOOP_FINISH(&loop), 0);
  return 0;
}

static int cmp_order(const void *a, const void *b)
{
  const struct item *x = *(struct item *const *)a, *y = *(struct item *const *)b;
  return x->order - y->order;
}

static void random_arm_cancel(void **state)
{
  (void)state;
  int armed = 0;
  for (int i = 0; i < N; i++)
    cow__deadline_init(&items[i].d, on_fire);
  for (int step = 0; step < 4 * N; step++) {
    struct item *it = &items[rnd() % N];
    if (rnd() % 5 == 0) {
      armed -= cow__deadline_armed(&it->d);
      cow__deadline_cancel(lp, &it->d);
    } else {
      armed += !cow__deadline_armed(&it->d);
      cow__deadline_arm(lp, &it->d, rnd() % 30);
      it->due = it->d.due;
      it->seq = it->d.seq;
    }
    if (step % 97 == 0)
      assert_true(cow__deadlines_valid(lp));
  }
  assert_true(cow__deadlines_valid(lp));
  TW_UNTIL(&loop, fired_total == armed);
  assert_true(cow__deadlines_valid(lp));
  /* Exactly once, never early, in (time, arming) order; the cancelled ones never. */
  static struct item *seq[N];
  int n = 0;
  for (int i = 0; i < N; i++) {
    if (items[i].seq == 0 || items[i].fired == 0) {
      assert_int_equal(items[i].fired, 0);
      continue;
    }
    assert_int_equal(items[i].fired, 1);
    assert_true(items[i].fired_at >= items[i].due);
    seq[n++] = &items[i];
  }
  assert_int_equal(n, armed);
  qsort(seq, (size_t)n, sizeof seq[0], cmp_order);
  for (int i = 1; i < n; i++)
    assert_true(seq[i - 1]->due < seq[i]->due ||
                (seq[i - 1]->due == seq[i]->due && seq[i - 1]->seq < seq[i]->seq));
}

/* A callback re-arms itself three times and cancels its partner the first time. */
static struct item pair[2];
static void fire_and_meddle(struct cow__deadline *d)
{
  struct item *it = (struct item *)d;
  it->fired++;
  if (it == &pair[0] && it->fired == 1)
    cow__deadline_cancel(lp, &pair[1].d);
  if (it->fired < 4)
    cow__deadline_arm(lp, d, 0); /* due now: fires on a later turn, not in this one */
}

static void callbacks_arm_and_cancel(void **state)
{
  (void)state;
  memset(pair, 0, sizeof pair);
  cow__deadline_init(&pair[0].d, fire_and_meddle);
  cow__deadline_init(&pair[1].d, fire_and_meddle);
  cow__deadline_arm(lp, &pair[0].d, 1);
  cow__deadline_arm(lp, &pair[1].d, 5);
  TW_RUN_IDLE(&loop);
  assert_int_equal(pair[0].fired, 4);
  assert_int_equal(pair[1].fired, 0);
}

/* Armed, a deadline keeps uv_run going, as a timer does; cancelled, it does not. */
static void keeps_the_loop_alive_while_armed(void **state)
{
  (void)state;
  assert_int_equal(uv_loop_alive(&loop), 0);
  cow__deadline_init(&items[0].d, on_fire);
  cow__deadline_arm(lp, &items[0].d, 60000);
  assert_int_equal(uv_loop_alive(&loop), 1);
  cow__deadline_cancel(lp, &items[0].d);
  assert_int_equal(uv_loop_alive(&loop), 0);
  assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0); /* returns at once: nothing to wait for */
  cow__deadline_arm(lp, &items[0].d, 1);
  assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
  assert_int_equal(items[0].fired, 1);
  assert_int_equal(uv_loop_alive(&loop), 0);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(random_arm_cancel, setup, teardown),
      cmocka_unit_test_setup_teardown(callbacks_arm_and_cancel, setup, teardown),
      cmocka_unit_test_setup_teardown(keeps_the_loop_alive_while_armed, setup, teardown),
  };
  return cmocka_run_group_tests_name("deadline", tests, NULL, NULL);
}

/* Internal: deadlines on a loop. One libuv timer per loop over an intrusive binary min-heap,
 * which is how libuv keeps its own timers.
 *
 * A timeout (an operation's, a process's stdio drain, an expected exit) costs a heap node
 * inside the object that has it, instead of a uv_timer_t of its own: no handle to
 * initialise, start, stop and close, and no close callback that delays freeing the object
 * by a loop turn. Arming allocates nothing, so it cannot fail. The loop's timer keeps the
 * loop running while any deadline is armed, as the individual timers did.
 *
 * Deadlines are in loop time (uv_now), like libuv timers: one armed for `ms` fires on the
 * first loop iteration at least `ms` after the loop's time when it was armed. Equal times
 * fire in the order armed. Loop thread only. */
#ifndef COW_CORE_DEADLINE_H
#define COW_CORE_DEADLINE_H

#include <stdint.h>

struct cow__loop;

struct cow__heap_node {
  struct cow__heap_node *left, *right, *parent;
};

struct cow__deadline {
  struct cow__heap_node node; /* first: the heap moves nodes, never the rest */
  uint64_t due;               /* loop time when it fires */
  uint64_t seq;               /* arming order */
  /* Runs on the loop thread when the deadline passes; it is no longer armed then and may
   * arm itself again or free its object. */
  void (*fire)(struct cow__deadline *d);
  unsigned armed : 1;
};

void cow__deadline_init(struct cow__deadline *d, void (*fire)(struct cow__deadline *d));
/* Fire `ms` milliseconds from the loop's current time; re-arms if armed already. */
void cow__deadline_arm(struct cow__loop *lp, struct cow__deadline *d, uint64_t ms);
/* Disarm; nothing happens when it is not armed. */
void cow__deadline_cancel(struct cow__loop *lp, struct cow__deadline *d);

static inline int cow__deadline_armed(const struct cow__deadline *d)
{
  return d->armed;
}

/* loop.c: set up the loop's timer (0 or a libuv code); the timer is closed with the loop's
 * other handles, when no deadline can be armed any more. */
int cow__deadlines_init(struct cow__loop *lp);

/* Tests: 1 when the heap is well formed (links, order, count), else 0. */
int cow__deadlines_valid(const struct cow__loop *lp);

#endif

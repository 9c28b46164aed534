/* Internal: per-loop state and the one way onto the loop thread.
 *
 * Every libuv loop that has libcow handles gets one struct cow__loop, found through a
 * small global registry and kept alive by its handles' references. It owns a locked FIFO of
 * events. Operation completions from the loop thread and events from foreign threads (HCS
 * callbacks, emulator threads) go into this same queue, so their order is the posting order
 * and no callback ever runs inside the call that caused it. What differs is the wake-up:
 *   - a foreign thread wakes the loop with uv_async_send (an eventfd write, a poll, a read);
 *   - the loop thread needs no wake-up, only a later turn: cow__loop_post() starts an idle
 *     handle, so the loop's next poll does not block, and a check handle, which drains the
 *     queue right after this turn's poll. An operation completed in an I/O callback is
 *     delivered in the same loop iteration, without a system call.
 * Both drains take the whole queue at once: events posted while a batch runs wait for the
 * next drain, so a chatty producer cannot starve the loop.
 *
 * Objects are named to foreign threads by 64-bit ids in a global table, never by pointer:
 * an event for an id that is no longer registered is dropped safely. */
#ifndef COW_CORE_LOOP_H
#define COW_CORE_LOOP_H

#include <stdint.h>

#include <uv.h>

#include "core/deadline.h"
#include "core/list.h"

struct cow__event {
  cow__list link;
  void (*run)(struct cow__event *ev); /* on the loop thread */
};

struct cow__loop {
  uv_loop_t *loop;
  uv_async_t async; /* foreign threads' wake-up */
  uv_idle_t idle;   /* started while loop-thread posts wait: the next poll does not block */
  uv_check_t check; /* started with it: drains after this turn's poll */
  uv_timer_t timer; /* the earliest deadline (deadline.c) */
  struct cow__heap_node *dl_root; /* deadlines: min-heap by due time, then arming order */
  unsigned dl_count;
  uint64_t dl_seq, timer_due;
  uv_mutex_t mutex; /* guards queue */
  cow__list queue;
  unsigned refs;      /* handles on this loop; loop thread only */
  unsigned active;    /* things that must keep uv_run going (pending ops, queued work) */
  unsigned local : 1; /* idle and check are started; loop thread only */
  unsigned closing;   /* handles still to report their close */
  cow__list registry_link;
};

/* Find or create the state for `loop` and take a reference. COW_ENOMEM on failure. */
int cow__loop_acquire(uv_loop_t *loop, struct cow__loop **out);
void cow__loop_release(struct cow__loop *lp);
/* 1 while any libcow handle exists on `loop`. */
int cow__loop_in_use(uv_loop_t *loop);

/* Enqueue `ev` to run on the loop thread, from the loop thread: later in this loop turn
 * (after its poll) or in the next, never inside the caller. No system call. */
void cow__loop_post(struct cow__loop *lp, struct cow__event *ev);

/* Count something that must keep the loop running (an operation in flight): +1 / -1.
 * While the count is non-zero the async handle is referenced. Loop thread only. */
void cow__loop_activity(struct cow__loop *lp, int delta);

/* The id table. `object` is what foreign events are delivered to. */
int cow__id_register(struct cow__loop *lp, void *object, uint64_t *out_id);
void cow__id_unregister(uint64_t id);
/* Look up on the loop thread; NULL when gone. */
void *cow__id_lookup(uint64_t id);

#endif

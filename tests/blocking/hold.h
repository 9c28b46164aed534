/* Holding the blocking API's loop thread inside a cow_blocking_run() function, so that
 * calls queue up behind it and the loop thread takes them in one turn once released: how
 * the tests order what the loop thread sees, without sleeping. */
#ifndef COW_TESTS_BLOCKING_HOLD_H
#define COW_TESTS_BLOCKING_HOLD_H

#include <uv.h>

#include "cow.h"

struct hold {
  cow_blocking_t *b;
  uv_sem_t running, release;
  uv_thread_t holder, releaser;
  int count; /* calls to wait for before releasing */
  int releasing;
};

/* When this returns, the loop thread is inside the hold. */
void hold_begin(struct hold *h, cow_blocking_t *b);
/* Release the hold, from a thread of its own, once `count` calls are queued behind it (so
 * that the caller can make the last call itself); hold_end() joins that thread. */
void hold_release_when_queued(struct hold *h, int count);
/* Release the hold now. */
void hold_release(struct hold *h);
/* Wait until the hold was released and ended; free what it used. */
void hold_end(struct hold *h);

#endif

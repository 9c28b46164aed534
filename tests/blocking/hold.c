/* See hold.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "blocking/blocking.h" /* the request queue */
#include "blocking/hold.h"

static int hold_loop(uv_loop_t *loop, void *arg)
{
  struct hold *h = arg;
  (void)loop;
  uv_sem_post(&h->running);
  uv_sem_wait(&h->release);
  return 0;
}

static void hold_thread(void *arg)
{
  struct hold *h = arg;
  assert_int_equal(cow_blocking_run(h->b, hold_loop, h, 0, NULL), 0);
}

void hold_begin(struct hold *h, cow_blocking_t *b)
{
  h->b = b;
  h->releasing = 0;
  assert_int_equal(uv_sem_init(&h->running, 0), 0);
  assert_int_equal(uv_sem_init(&h->release, 0), 0);
  assert_int_equal(uv_thread_create(&h->holder, hold_thread, h), 0);
  uv_sem_wait(&h->running);
}

static int queued(cow_blocking_t *b)
{
  int n = 0;
  uv_mutex_lock(&b->mutex);
  for (cow__list *l = b->queue.next; l != &b->queue; l = l->next)
    n++;
  uv_mutex_unlock(&b->mutex);
  return n;
}

static void release_when_queued(void *arg)
{
  struct hold *h = arg;
  for (int i = 0; i < 10000 && queued(h->b) < h->count; i++)
    uv_sleep(1);
  uv_sem_post(&h->release);
}

void hold_release_when_queued(struct hold *h, int count)
{
  h->count = count;
  h->releasing = 1;
  assert_int_equal(uv_thread_create(&h->releaser, release_when_queued, h), 0);
}

void hold_release(struct hold *h)
{
  uv_sem_post(&h->release);
}

void hold_end(struct hold *h)
{
  if (h->releasing)
    uv_thread_join(&h->releaser);
  uv_thread_join(&h->holder);
  uv_sem_destroy(&h->running);
  uv_sem_destroy(&h->release);
}

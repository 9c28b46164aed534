/* Stopping a container the way hcsshim and docker do: ask it to shut down, wait up to a
 * timeout for it to exit, then terminate it. Shared by cow-run (a compute system) and
 * lcow-exec (a container in the utility VM). */
#ifndef COW_EXAMPLES_STOP_H
#define COW_EXAMPLES_STOP_H

#include <stdint.h>

#include <uv.h>

#include "cow.h"

typedef struct stopper stopper_t;
typedef void (*stopper_cb)(stopper_t *st, void *data);

struct stopper {
  uv_timer_t timer;
  cow_container_t *c;
  const char *prog;
  stopper_cb cb;
  void *data;
  int timer_open, terminating, finished;
};

/* Stop `c` (a no-op when it already exited) and run `cb` once it exited, or after the
 * failure was reported. `st` must stay allocated until the container's close callback:
 * the wait it attached is cancelled by that close. */
void stopper_run(stopper_t *st, uv_loop_t *loop, cow_container_t *c, uint64_t timeout_ms,
                 const char *prog, stopper_cb cb, void *data);

#endif

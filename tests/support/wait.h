/* Bounded waits for every test (not shipped).
 *
 * A test that waits for a callback must end either because the callback came or with a
 * failure that names what never arrived: never with ctest's silent 300-second timeout, and
 * never by hanging the next test of the same program. Every wait on a loop goes through
 * these helpers:
 *
 *   TW_UNTIL(loop, cond)       run the loop until `cond` holds; fail naming `cond` when the
 *                              loop goes idle first (nothing left that could make it true)
 *                              or the deadline passes (listing what is still active)
 *   TW_RUN_IDLE(loop)          run until nothing is left (uv_run's UV_RUN_DEFAULT, bounded)
 *   TW_LOOP_FINISH(loop)       teardown: TW_RUN_IDLE, then uv_loop_close(); after a failure
 *                              it closes whatever is still open so that the next test of
 *                              the program starts clean, then fails naming it
 *
 * The deadline is tw_deadline_ms(): COW_TEST_DEADLINE_MS from the environment, else 20 s.
 * It bounds a wait; no test asserts how long anything takes. */
#ifndef COW_TESTS_SUPPORT_WAIT_H
#define COW_TESTS_SUPPORT_WAIT_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#define TW_DEFAULT_DEADLINE_MS 20000u

/* The deadline of one wait in milliseconds (COW_TEST_DEADLINE_MS, else 20000). */
uint64_t tw_deadline_ms(void);

/* One bounded wait; the macros below are the usual way to use it. */
typedef struct tw {
  uv_loop_t *loop;
  uv_timer_t *guard; /* unreferenced: it never keeps an otherwise idle loop alive */
  uint64_t ms;
  int fired; /* the deadline passed */
  int idle;  /* uv_run() reported nothing left to run */
} tw_t;

void tw_begin(tw_t *w, uv_loop_t *loop, uint64_t ms);
/* One loop iteration: 1 to go on, 0 once the deadline passed or the loop went idle. */
int tw_step(tw_t *w);
/* Close the guard; when !ok fail the test: "<file>:<line>: <what> did not happen ...". */
void tw_end(tw_t *w, int ok, const char *what, const char *file, int line);

#define TW_UNTIL_MS(loop, cond, ms)                                                                \
  do {                                                                                             \
    tw_t tw_w_;                                                                                    \
    tw_begin(&tw_w_, (loop), (ms));                                                                \
    while (!(cond) && tw_step(&tw_w_))                                                             \
      ;                                                                                            \
    tw_end(&tw_w_, (cond) != 0, #cond, __FILE__, __LINE__);                                        \
  } while (0)
#define TW_UNTIL(loop, cond) TW_UNTIL_MS(loop, cond, tw_deadline_ms())

/* The same with a description instead of the expression's text. */
#define TW_UNTIL_WHAT(loop, cond, what)                                                            \
  do {                                                                                             \
    tw_t tw_w_;                                                                                    \
    tw_begin(&tw_w_, (loop), tw_deadline_ms());                                                    \
    while (!(cond) && tw_step(&tw_w_))                                                             \
      ;                                                                                            \
    tw_end(&tw_w_, (cond) != 0, (what), __FILE__, __LINE__);                                       \
  } while (0)

/* Until `cond`, made true by another thread: the loop is run without blocking (it may have
 * nothing to wait on) with 1 ms sleeps between runs; fail naming `cond` at the deadline. */
#define TW_SPIN_UNTIL(loop, cond)                                                                  \
  do {                                                                                             \
    uint64_t tw_until_ = uv_hrtime() + tw_deadline_ms() * 1000000u;                                \
    while (!(cond) && uv_hrtime() < tw_until_) {                                                   \
      uv_run((loop), UV_RUN_NOWAIT);                                                               \
      uv_sleep(1);                                                                                 \
    }                                                                                              \
    if (!(cond))                                                                                   \
      tw_fail_at(#cond, __FILE__, __LINE__);                                                       \
  } while (0)
/* Fail: "<file>:<line>: <what> did not happen within <deadline> ms". */
void tw_fail_at(const char *what, const char *file, int line);

/* Run until *count >= n or `ms` passed or the loop went idle, without failing: 1 when it
 * got there. For helpers that report (and callers that assert) themselves. */
int tw_try_count(uv_loop_t *loop, const int *count, int n, uint64_t ms);

/* Run until the loop has nothing left to do; fail listing what is still active. */
void tw_run_idle_at(uv_loop_t *loop, const char *file, int line);
#define TW_RUN_IDLE(loop) tw_run_idle_at((loop), __FILE__, __LINE__)

/* Teardown of a loop: run it out (bounded), close it. Anything still open at the deadline
 * (or left unreferenced so that uv_loop_close() refuses) is closed by force and named in a
 * failure. Returns uv_loop_close()'s result (0) when the loop finished by itself. */
int tw_loop_finish_at(uv_loop_t *loop, const char *file, int line);
#define TW_LOOP_FINISH(loop) tw_loop_finish_at((loop), __FILE__, __LINE__)
/* The same without failing: 0, or an error with what was wrong in `why` (for teardowns that
 * must clean up more before they fail). */
int tw_loop_finish_report(uv_loop_t *loop, char *why, size_t len);

/* Set by a teardown while it cleans up after the test (0 again in the next setup): the
 * callbacks of a test that failed half-way point into its dead stack frame, so a test's
 * callbacks begin with TW_IGNORED_AFTER_FAILURE(). The teardown's own waits use callbacks
 * that do not. */
extern int tw_tearing_down;
#define TW_IGNORED_AFTER_FAILURE()                                                                 \
  do {                                                                                             \
    if (tw_tearing_down)                                                                           \
      return;                                                                                      \
  } while (0)

/* After a failure: close every handle of `loop` now (naming them in `left` when given),
 * then the loop; the library forgets the state of objects left on it. Returns
 * uv_loop_close()'s result. */
int tw_loop_close_now(uv_loop_t *loop, char *left, size_t len);

/* "timer, pipe (unref), process" for every handle of `loop` except `skip`, active ones only
 * unless `all`. */
void tw_describe_handles(uv_loop_t *loop, const void *skip, int all, char *buf, size_t len);

#endif

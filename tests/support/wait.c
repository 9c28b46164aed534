/* Bounded waits for tests; see wait.h. */
#include "support/wait.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/loop.h"

int tw_tearing_down;

uint64_t tw_deadline_ms(void)
{
  const char *s = getenv("COW_TEST_DEADLINE_MS");
  if (s != NULL && *s != '\0') {
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (*end == '\0' && v > 0)
      return (uint64_t)v;
  }
  return TW_DEFAULT_DEADLINE_MS;
}

/* The deadline's timer, with its flag beside it on the heap: a wait can be abandoned with
 * its frame (an assertion inside a callback unwinds through uv_run), and a timer firing
 * later must not write into that frame. Abandoned guards are closed by TW_LOOP_FINISH. */
struct tw_guard {
  uv_timer_t timer;
  int fired;
};
static const char guard_tag[] = "tw_guard"; /* handle data: one of ours */

static void on_guard(uv_timer_t *t)
{
  ((struct tw_guard *)t)->fired = 1;
}

static void guard_closed(uv_handle_t *h)
{
  free(h);
}

void tw_begin(tw_t *w, uv_loop_t *loop, uint64_t ms)
{
  memset(w, 0, sizeof *w);
  w->loop = loop;
  w->ms = ms;
  struct tw_guard *g = calloc(1, sizeof *g);
  if (g == NULL || uv_timer_init(loop, &g->timer) != 0)
    fail_msg("cannot arm the deadline of a wait");
  w->guard = &g->timer;
  g->timer.data = (void *)guard_tag;
  uv_timer_start(&g->timer, on_guard, ms, 0);
  uv_unref((uv_handle_t *)&g->timer);
}

static int guard_fired(const tw_t *w)
{
  return ((const struct tw_guard *)w->guard)->fired;
}

int tw_step(tw_t *w)
{
  if (w->fired || guard_fired(w)) {
    w->fired = 1;
    return 0;
  }
  int alive = uv_run(w->loop, UV_RUN_ONCE);
  w->fired = guard_fired(w);
  if (w->fired)
    return 0;
  if (!alive) {
    w->idle = 1;
    return 0;
  }
  return 1;
}

struct describe {
  const void *skip;
  int all;
  char *buf;
  size_t len, used;
  unsigned n;
};

static void describe_one(uv_handle_t *h, void *arg)
{
  struct describe *d = arg;
  if (h == d->skip || (!d->all && !(uv_is_active(h) && uv_has_ref(h))))
    return;
  if (d->used + 1 >= d->len)
    return;
  int n = snprintf(d->buf + d->used, d->len - d->used, "%s%s%s%s%s", d->n ? ", " : "",
                   uv_handle_type_name(uv_handle_get_type(h)), uv_is_closing(h) ? " (closing)" : "",
                   !uv_has_ref(h) ? " (unref)" : "", uv_is_active(h) ? "" : " (inactive)");
  if (n > 0)
    d->used += (size_t)n < d->len - d->used ? (size_t)n : d->len - d->used - 1;
  d->n++;
}

void tw_describe_handles(uv_loop_t *loop, const void *skip, int all, char *buf, size_t len)
{
  struct describe d = {skip, all, buf, len, 0, 0};
  if (len == 0)
    return;
  buf[0] = '\0';
  uv_walk(loop, describe_one, &d);
  if (d.n == 0)
    snprintf(buf, len, "nothing");
}

static void close_guard(tw_t *w)
{
  uv_timer_stop(w->guard);
  uv_close((uv_handle_t *)w->guard, guard_closed);
  w->guard = NULL;
}

void tw_end(tw_t *w, int ok, const char *what, const char *file, int line)
{
  char active[512] = "";
  if (!ok && !w->idle)
    tw_describe_handles(w->loop, w->guard, 0, active, sizeof active);
  close_guard(w);
  /* The guard's close completes in the next iteration of whoever runs the loop next (every
   * loop ends with TW_RUN_IDLE or TW_LOOP_FINISH). Running one here would let callbacks run
   * that the caller has not waited for yet. An idle loop has nothing else to run. */
  if (w->idle)
    uv_run(w->loop, UV_RUN_NOWAIT);
  if (ok)
    return;
  if (w->idle)
    fail_msg("%s:%d: %s did not happen: the loop went idle first (nothing left that could "
             "bring it)",
             file, line, what);
  fail_msg("%s:%d: %s did not happen within %llu ms (still active: %s)", file, line, what,
           (unsigned long long)w->ms, active);
}

void tw_fail_at(const char *what, const char *file, int line)
{
  fail_msg("%s:%d: %s did not happen within %llu ms", file, line, what,
           (unsigned long long)tw_deadline_ms());
}

int tw_try_count(uv_loop_t *loop, const int *count, int n, uint64_t ms)
{
  tw_t w;
  tw_begin(&w, loop, ms);
  while (*count < n && tw_step(&w))
    ;
  tw_end(&w, 1, NULL, NULL, 0);
  return *count >= n;
}

void tw_run_idle_at(uv_loop_t *loop, const char *file, int line)
{
  tw_t w;
  tw_begin(&w, loop, tw_deadline_ms());
  while (tw_step(&w))
    ;
  tw_end(&w, w.idle, "the end of the loop (every callback run, every handle closed)", file, line);
}

static void force_close(uv_handle_t *h, void *arg)
{
  (void)arg;
  if (!uv_is_closing(h))
    uv_close(h, NULL);
}

/* Close everything still open and give the close callbacks their iteration. */
static int close_by_force(uv_loop_t *loop)
{
  uv_walk(loop, force_close, NULL);
  for (int i = 0; i < 16 && uv_run(loop, UV_RUN_NOWAIT) != 0; i++)
    ;
  return uv_loop_close(loop);
}

int tw_loop_close_now(uv_loop_t *loop, char *left, size_t len)
{
  if (left != NULL && len > 0)
    tw_describe_handles(loop, NULL, 1, left, len);
  return close_by_force(loop);
}

static void close_abandoned_guard(uv_handle_t *h, void *arg)
{
  if (h != arg && h->data == guard_tag && !uv_is_closing(h))
    uv_close(h, guard_closed);
}

int tw_loop_finish_report(uv_loop_t *loop, char *why, size_t len)
{
  tw_t w;
  char left[512] = "";
  why[0] = '\0';
  tw_begin(&w, loop, tw_deadline_ms());
  uv_walk(loop, close_abandoned_guard, w.guard);
  while (tw_step(&w))
    ;
  if (!w.idle) {
    tw_describe_handles(loop, w.guard, 0, left, sizeof left);
    close_guard(&w);
    int cow_objects = cow__loop_in_use(loop);
    int rc = close_by_force(loop);
    snprintf(why, len, "the loop did not finish within %llu ms; closed by force: %s%s%s",
             (unsigned long long)w.ms, left,
             cow_objects ? " (libcow objects were left open on it)" : "",
             rc == 0 ? "" : " (and still not closable)");
    return rc == 0 ? UV_ETIMEDOUT : rc;
  }
  close_guard(&w);
  uv_run(loop, UV_RUN_NOWAIT);
  int rc = uv_loop_close(loop);
  if (rc != 0) {
    tw_describe_handles(loop, NULL, 1, left, sizeof left);
    int cow_objects = cow__loop_in_use(loop);
    int rc2 = close_by_force(loop);
    snprintf(why, len, "uv_loop_close() refused: still open: %s%s%s", left,
             cow_objects ? " (libcow objects were left open on it)" : "",
             rc2 == 0 ? "" : " (and still not closable)");
  }
  return rc;
}

int tw_loop_finish_at(uv_loop_t *loop, const char *file, int line)
{
  char why[768];
  int rc = tw_loop_finish_report(loop, why, sizeof why);
  if (rc != 0)
    fail_msg("%s:%d: %s", file, line, why);
  return rc;
}

/* Shared helpers for the emulator tests: UTF-16 strings, an event recorder filled from the
 * emulator's threads, and blocking reads of stdio fds. Header-only, one test per binary. */
#ifndef COW_TESTS_HCS_EMU_TEST_H
#define COW_TESTS_HCS_EMU_TEST_H

#include <errno.h>
#include <stdio.h>
#include <fcntl.h>
#include <jansson.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/alloc.h"
#include "cow/error.h"
#include "hcs/common/utf16.h"
#include "hcs/emu/emu.h"

/* UTF-16 copy of a literal; freed with wfree. */
static inline uint16_t *W(const char *s)
{
  uint16_t *w = NULL;
  assert_int_equal(cow__utf16_from_utf8(s, &w), 0);
  return w;
}
#define wfree(p) cow__free(p)

static inline char *U8(const uint16_t *w)
{
  char *s = NULL;
  if (w != NULL)
    assert_int_equal(cow__utf8_from_utf16(w, &s), 0);
  return s;
}

/* ---- event recorder: contexts are small integers (docs/hcs-api.md §1 item 7) ---- */

#define REC_MAX    8
#define REC_EVENTS 64
struct rec_event {
  uint32_t type;
  int32_t status;
  char *data;
  int other_thread; /* delivered on a thread other than the test's */
};
struct rec {
  int n;
  struct rec_event ev[REC_EVENTS];
};
static pthread_mutex_t rec_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t rec_cv = PTHREAD_COND_INITIALIZER;
static struct rec recs[REC_MAX];
static pthread_t test_thread;

static inline void rec_add(uintptr_t ctx, uint32_t type, int32_t status, const uint16_t *data)
{
  pthread_mutex_lock(&rec_mu);
  if (ctx < REC_MAX && recs[ctx].n < REC_EVENTS) {
    struct rec_event *e = &recs[ctx].ev[recs[ctx].n++];
    e->type = type;
    e->status = status;
    e->data = NULL;
    if (data != NULL)
      cow__utf8_from_utf16(data, &e->data);
    e->other_thread = !pthread_equal(pthread_self(), test_thread);
  }
  pthread_cond_broadcast(&rec_cv);
  pthread_mutex_unlock(&rec_mu);
}

static inline void CALLBACK rec_v2_cb(HCS_EVENT *event, void *context)
{
  rec_add((uintptr_t)context, (uint32_t)event->Type, 0, event->EventData);
}

static inline void CALLBACK rec_v1_cb(DWORD type, void *context, HRESULT status, PCWSTR data)
{
  rec_add((uintptr_t)context, type, status, data);
}

/* Wait for the first event of `type` in recorder `ctx`; returns its index or -1. */
static inline int rec_wait(uintptr_t ctx, uint32_t type, unsigned timeout_ms)
{
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  ts.tv_sec += timeout_ms / 1000;
  ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
  if (ts.tv_nsec >= 1000000000L) {
    ts.tv_sec++;
    ts.tv_nsec -= 1000000000L;
  }
  pthread_mutex_lock(&rec_mu);
  int found = -1;
  for (;;) {
    for (int i = 0; i < recs[ctx].n; i++)
      if (recs[ctx].ev[i].type == type) {
        found = i;
        break;
      }
    if (found >= 0 || pthread_cond_timedwait(&rec_cv, &rec_mu, &ts) == ETIMEDOUT)
      break;
  }
  if (found < 0)
    for (int i = 0; i < recs[ctx].n; i++)
      if (recs[ctx].ev[i].type == type)
        found = i;
  pthread_mutex_unlock(&rec_mu);
  return found;
}

static inline int rec_count(uintptr_t ctx, uint32_t type)
{
  int c = 0;
  pthread_mutex_lock(&rec_mu);
  for (int i = 0; i < recs[ctx].n; i++)
    c += recs[ctx].ev[i].type == type;
  pthread_mutex_unlock(&rec_mu);
  return c;
}

static inline void rec_reset(void)
{
  pthread_mutex_lock(&rec_mu);
  for (int r = 0; r < REC_MAX; r++) {
    for (int i = 0; i < recs[r].n; i++)
      cow__free(recs[r].ev[i].data);
    recs[r].n = 0;
  }
  pthread_mutex_unlock(&rec_mu);
  test_thread = pthread_self();
}

/* Integer member of a JSON document (-1 when missing). */
static inline long long json_int_of(const char *doc, const char *key)
{
  json_t *j = json_loads(doc, 0, NULL);
  json_t *v = json_object_get(j, key);
  long long r = json_is_integer(v) ? json_integer_value(v) : -1;
  json_decref(j);
  return r;
}

static inline int json_str_is(const char *doc, const char *key, const char *want)
{
  json_t *j = json_loads(doc, 0, NULL);
  const char *v = json_string_value(json_object_get(j, key));
  int r = v != NULL && strcmp(v, want) == 0;
  json_decref(j);
  return r;
}

/* Read fd to EOF (EIO counts as EOF for a pty master); returns bytes, appends to buf. */
static inline size_t read_all(int fd, char *buf, size_t cap)
{
  size_t n = 0;
  for (;;) {
    ssize_t r = read(fd, buf + n, cap - 1 - n);
    if (r < 0 && errno == EINTR)
      continue;
    if (r <= 0)
      break;
    n += (size_t)r;
    if (n == cap - 1)
      break;
  }
  buf[n] = '\0';
  return n;
}

/* Read until `needle` appears (or EOF); returns 1 when found. */
static inline int read_until(int fd, char *buf, size_t cap, size_t *len, const char *needle)
{
  while (strstr(buf, needle) == NULL) {
    ssize_t r = read(fd, buf + *len, cap - 1 - *len);
    if (r < 0 && errno == EINTR)
      continue;
    if (r <= 0)
      return 0;
    *len += (size_t)r;
    buf[*len] = '\0';
  }
  return 1;
}

/* Count open descriptors, to prove that nothing leaks. */
static inline int count_fds(void)
{
  int n = 0;
  for (int fd = 0; fd < 1024; fd++)
    if (fcntl(fd, F_GETFD) >= 0)
      n++;
  return n;
}

/* Descriptors open before a test (set by its setup). */
static int emu_fds_before;

/* Every emulator test ends the same way: no fault left armed, every handle closed so the
 * emulator stops, joins its threads and frees everything, no descriptor leaked. */
static int emu_teardown(void **state)
{
  (void)state;
  cow__emu_clear_faults();
  assert_int_equal(cow__emu_wait_idle(10000), 0);
  assert_int_equal(count_fds(), emu_fds_before);
  rec_reset();
  return 0;
}

#endif

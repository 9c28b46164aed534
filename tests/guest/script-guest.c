/* The scripted guest (see script-guest.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "guest/script-guest.h"
#include "support/wait.h"

/* The guard of every wait: the suite-wide test deadline (COW_TEST_DEADLINE_MS, scaled up by
 * CI under valgrind), so a slow machine is not mistaken for a missing callback. */
#define GUARD_MS ((unsigned long long)tw_deadline_ms())

/* ---- guest side ---- */

void sg_fail(sg_t *g, const char *fmt, ...)
{
  if (g->fail[0])
    return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(g->fail, sizeof g->fail, fmt, ap);
  va_end(ap);
  if (!g->fail[0])
    snprintf(g->fail, sizeof g->fail, "failed");
}

int sg_read_frame(int fd, cow__frame_decoder_t *dec, uint8_t *buf, size_t cap, size_t *have,
                  size_t *off, cow__frame_t *f)
{
  for (;;) {
    if (*off < *have) {
      size_t used = 0;
      int rc = cow__frame_decoder_feed(dec, buf + *off, *have - *off, &used, f, NULL);
      *off += used;
      if (rc != 0)
        return rc;
      continue;
    }
    ssize_t n = read(fd, buf, cap);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return n == 0 ? 0 : -1;
    *have = (size_t)n;
    *off = 0;
  }
}

int sg_read(sg_t *g, cow__frame_t *f)
{
  return sg_read_frame(g->fd, &g->dec, g->buf, sizeof g->buf, &g->have, &g->off, f);
}

json_t *sg_expect(sg_t *g, uint32_t type, uint64_t *id)
{
  cow__frame_t f = {0};
  int rc = sg_read(g, &f);
  if (rc != 1) {
    sg_fail(g, "expected frame 0x%08X, got %s", (unsigned)type, rc == 0 ? "EOF" : "an error");
    return NULL;
  }
  if (f.hdr.type != type) {
    sg_fail(g, "expected frame 0x%08X, got 0x%08X", (unsigned)type, (unsigned)f.hdr.type);
    cow__frame_release(&f);
    return NULL;
  }
  if (f.hdr.size != 16 + f.payload_len)
    sg_fail(g, "frame size %u for a %zu-byte payload", (unsigned)f.hdr.size, f.payload_len);
  if (id)
    *id = f.hdr.id;
  json_t *j = json_loadb((const char *)f.payload, f.payload_len, 0, NULL);
  if (j == NULL)
    sg_fail(g, "frame 0x%08X: payload is not JSON", (unsigned)type);
  cow__frame_release(&f);
  return j;
}

int sg_expect_eof(sg_t *g)
{
  cow__frame_t f = {0};
  int rc = sg_read(g, &f);
  if (rc == 1) {
    sg_fail(g, "expected the end of the bridge, got frame 0x%08X", (unsigned)f.hdr.type);
    cow__frame_release(&f);
    return 0;
  }
  return rc == 0;
}

void sg_write_all(int fd, const void *buf, size_t len)
{
  const uint8_t *p = buf;
  while (len > 0) {
    ssize_t n = write(fd, p, len);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return; /* the host went away: the test decides whether that is expected */
    p += n;
    len -= (size_t)n;
  }
}

size_t sg_frame(uint8_t *out, uint32_t type, uint64_t id, const char *body)
{
  size_t n = strlen(body);
  cow__frame_header_t h = {type, (uint32_t)(16 + n), id};
  cow__frame_header_encode(&h, out);
  memcpy(out + 16, body, n);
  return 16 + n;
}

void sg_raw(sg_t *g, const void *bytes, size_t len)
{
  sg_write_all(g->fd, bytes, len);
}

void sg_send(sg_t *g, uint32_t type, uint64_t id, const char *body)
{
  uint8_t *out = malloc(strlen(body) + 16);
  size_t n = sg_frame(out, type, id, body);
  sg_raw(g, out, n);
  free(out);
}

void sg_sendf(sg_t *g, uint32_t type, uint64_t id, const char *fmt, ...)
{
  char body[4096];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(body, sizeof body, fmt, ap);
  va_end(ap);
  sg_send(g, type, id, body);
}

void sg_negotiate(sg_t *g, const char *answer)
{
  uint64_t id = 99;
  json_t *j = sg_expect(g, COW__MSG_NEGOTIATE_PROTOCOL, &id);
  json_decref(j);
  sg_send(g, COW__MSG_NEGOTIATE_PROTOCOL_RESPONSE, id, answer ? answer : SG_NEGOTIATED);
}

int sg_wait_host(sg_t *g)
{
  char c;
  for (;;) {
    ssize_t n = read(g->ctl_guest, &c, 1);
    if (n < 0 && errno == EINTR)
      continue;
    return n == 1 ? 0 : -1;
  }
}

int sg_dial(sg_t *g, uint32_t port)
{
  struct sockaddr_un sa;
  memset(&sa, 0, sizeof sa);
  sa.sun_family = AF_UNIX;
  snprintf(sa.sun_path, sizeof sa.sun_path, "%s/%u", g->dir, (unsigned)port);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return -1;
  if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

size_t sg_drain(int fd, char *buf, size_t len)
{
  size_t have = 0;
  for (;;) {
    char tmp[4096];
    ssize_t n = read(fd, tmp, sizeof tmp);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      break;
    size_t k = (size_t)n;
    if (have + k >= len)
      k = len - 1 - have;
    memcpy(buf + have, tmp, k);
    have += k;
  }
  if (len > 0)
    buf[have] = '\0';
  return have;
}

static void *thread_main(void *arg)
{
  sg_t *g = arg;
  g->script(g);
  return NULL;
}

/* ---- host side ---- */

static void on_connected(cow_host_t *h, int status, const cow_error_t *err, void *data)
{
  (void)h;
  sg_t *g = data;
  g->connected++;
  g->conn_status = status;
  if (err)
    cow_error_copy(&g->conn_err, err);
}

static void on_closed(cow_host_t *h, void *data)
{
  (void)h;
  sg_t *g = data;
  g->closed++;
}

static void on_guard(uv_timer_t *t)
{
  sg_t *g = t->data;
  g->guard_fired = 1;
}

void sg_start(sg_t *g, sg_script_fn script, const cow_guest_options_t *opts, int with_transport)
{
  int iarg = g->iarg;
  const char *sarg = g->sarg;
  void *arg = g->arg;
  memset(g, 0, sizeof *g);
  g->iarg = iarg;
  g->sarg = sarg;
  g->arg = arg;
  g->script = script;
  cow_error_t init = COW_ERROR_INIT;
  g->conn_err = init;
  int sv[2], cv[2];
  assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, cv), 0);
  g->fd = sv[1];
  g->ctl_host = cv[0];
  g->ctl_guest = cv[1];
  cow__frame_decoder_init(&g->dec, 0xFFFFFFFFu);
  assert_int_equal(uv_loop_init(&g->loop), 0);
  assert_int_equal(uv_timer_init(&g->loop, &g->guard), 0);
  g->guard.data = g;
  assert_int_equal(uv_pipe_init(&g->loop, &g->pipe, 0), 0);
  assert_int_equal(uv_pipe_open(&g->pipe, sv[0]), 0);
  cow_guest_options_t o = COW_GUEST_OPTIONS_INIT;
  if (opts)
    o = *opts;
  if (with_transport) {
    snprintf(g->dir, sizeof g->dir, "/tmp/cow-sg-XXXXXX");
    assert_non_null(mkdtemp(g->dir));
    assert_int_equal(cow_guest_transport_unix(&g->transport, g->dir), 0);
    o.transport = g->transport;
  }
  assert_int_equal(pthread_create(&g->thread, NULL, thread_main, g), 0);
  assert_int_equal(
      cow_guest_connect_stream(&g->host, &g->loop, (uv_stream_t *)&g->pipe, &o, on_connected, g),
      0);
}

void sg_start_ok(sg_t *g, sg_script_fn script, const cow_guest_options_t *opts, int with_transport)
{
  sg_start(g, script, opts, with_transport);
  sg_run_until(g, &g->connected);
  if (g->conn_status != 0)
    fail_msg("connect: %s (%s); guest: %s", cow_err_name(g->conn_status),
             g->conn_err.message ? g->conn_err.message : "", g->fail);
}

/* A wait failed: stop the script (its reads see end of file, its signal wait returns),
 * join it and close the loop by force before the failure unwinds this test's frame, which
 * holds `g`: the next test must not meet a script thread or a loop still using it. */
static void sg_abort(sg_t *g)
{
  shutdown(g->fd, SHUT_RDWR);
  shutdown(g->ctl_host, SHUT_RDWR);
  pthread_join(g->thread, NULL);
  tw_loop_close_now(&g->loop, NULL, 0);
}

void sg_run_until_at(sg_t *g, const int *flag, const char *file, int line)
{
  g->guard_fired = 0;
  uv_timer_start(&g->guard, on_guard, (uint64_t)GUARD_MS, 0);
  while (!*flag && !g->guard_fired)
    uv_run(&g->loop, UV_RUN_ONCE);
  uv_timer_stop(&g->guard);
  if (!*flag) {
    sg_abort(g);
    fail_msg("%s:%d: a callback did not run within %llu ms (guest: %s)", file, line, GUARD_MS,
             g->fail[0] ? g->fail : "ok");
  }
}

void sg_run_count_at(sg_t *g, const int *count, int n, const char *file, int line)
{
  g->guard_fired = 0;
  uv_timer_start(&g->guard, on_guard, (uint64_t)GUARD_MS, 0);
  while (*count < n && !g->guard_fired)
    uv_run(&g->loop, UV_RUN_ONCE);
  uv_timer_stop(&g->guard);
  if (*count < n) {
    sg_abort(g);
    fail_msg("%s:%d: %d of %d callbacks within %llu ms (guest: %s)", file, line, *count, n,
             GUARD_MS, g->fail[0] ? g->fail : "ok");
  }
}

void sg_run_for(sg_t *g, uint64_t ms)
{
  g->guard_fired = 0;
  uv_timer_start(&g->guard, on_guard, ms, 0);
  while (!g->guard_fired)
    uv_run(&g->loop, UV_RUN_ONCE);
}

void sg_signal(sg_t *g)
{
  char c = 1;
  assert_int_equal(write(g->ctl_host, &c, 1), 1);
}

int sg_bridge_error(sg_t *g, char *msg, size_t len)
{
  cow_error_t err = COW_ERROR_INIT;
  int code = cow_guest_bridge_error(g->host, &err);
  if (msg && len)
    snprintf(msg, len, "%s", err.message ? err.message : "");
  cow_error_clear(&err);
  return code;
}

void sg_finish(sg_t *g)
{
  if (g->host != NULL) {
    int rc = cow_host_close(g->host, on_closed, g);
    if (rc == 0)
      sg_run_until(g, &g->closed);
    else
      assert_int_equal(rc, COW_ECLOSING);
    g->host = NULL;
  }
  close(g->ctl_host); /* a script in sg_wait_host() returns */
  uv_close((uv_handle_t *)&g->guard, NULL);
  TW_RUN_IDLE(&g->loop);
  pthread_join(g->thread, NULL);
  close(g->fd);
  close(g->ctl_guest);
  cow__frame_decoder_reset(&g->dec);
  cow_error_clear(&g->conn_err);
  cow_guest_transport_release(g->transport);
  if (g->dir[0]) {
    /* every listener removed its socket file: the directory must be empty */
    if (rmdir(g->dir) != 0)
      fail_msg("port directory %s not empty: a listener was not released", g->dir);
  }
  assert_int_equal(uv_loop_close(&g->loop), 0);
  if (g->fail[0])
    fail_msg("guest script: %s", g->fail);
}

char *sg_container_doc(const char *bundle)
{
  json_t *doc = json_pack("{s:{s:i,s:i}, s:s, s:{s:s, s:{s:[s]}, s:{s:s}, s:{}}, s:s}",
                          "SchemaVersion", "Major", 2, "Minor", 1, "OciBundlePath", bundle,
                          "OciSpecification", "ociVersion", "1.0.2", "process", "args", "/bin/sh",
                          "root", "path", "rootfs", "linux", "ScratchDirPath", "/run/scratch");
  char *s = json_dumps(doc, JSON_COMPACT);
  json_decref(doc);
  return s;
}

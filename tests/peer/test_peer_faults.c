/* cow-gcs-peer fault switches, checked at the byte level with the shared frame decoder: what
 * a host would see for --drop-after, --garbage-after, --oversize-after, --truncate-after,
 * --delay-ms, --reorder and --notify-unknown. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "core/alloc.h"
#include "guest/frame.h"

#ifndef COW_GCS_PEER_PATH
#  error "COW_GCS_PEER_PATH must name the cow-gcs-peer executable"
#endif

typedef struct host {
  char dir[64];
  int lfd;
  int fd;
  pid_t peer;
  cow__frame_decoder_t dec;
  uint8_t buf[70000];
  size_t have, off;
  int eof;
} host_t;

static int64_t now_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void host_start(host_t *h, const char *a1, const char *a2)
{
  struct sockaddr_un sa;
  struct pollfd pf;
  memset(h, 0, sizeof *h);
  snprintf(h->dir, sizeof h->dir, "/tmp/cow-peer-XXXXXX");
  assert_non_null(mkdtemp(h->dir));
  memset(&sa, 0, sizeof sa);
  sa.sun_family = AF_UNIX;
  snprintf(sa.sun_path, sizeof sa.sun_path, "%s/1073741824", h->dir);
  h->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  assert_true(h->lfd >= 0);
  assert_int_equal(bind(h->lfd, (struct sockaddr *)&sa, sizeof sa), 0);
  assert_int_equal(listen(h->lfd, 1), 0);
  h->peer = fork();
  assert_true(h->peer >= 0);
  if (h->peer == 0) {
    execl(COW_GCS_PEER_PATH, COW_GCS_PEER_PATH, "--port-dir", h->dir, a1, a2, (char *)NULL);
    _exit(127);
  }
  pf.fd = h->lfd;
  pf.events = POLLIN;
  assert_int_equal(poll(&pf, 1, 10000), 1);
  h->fd = accept(h->lfd, NULL, NULL);
  assert_true(h->fd >= 0);
  cow__frame_decoder_init(&h->dec, 0);
}

/* Exit status of the peer after the host closed its side (killed after 5 s). */
static int host_stop(host_t *h)
{
  int status = -1, i;
  char path[128];
  if (h->fd >= 0)
    close(h->fd);
  close(h->lfd);
  for (i = 0; i < 500; i++) {
    struct timespec ts = {0, 10 * 1000 * 1000};
    if (waitpid(h->peer, &status, WNOHANG) == h->peer)
      break;
    nanosleep(&ts, NULL);
  }
  if (i == 500) {
    kill(h->peer, SIGKILL);
    waitpid(h->peer, &status, 0);
  }
  cow__frame_decoder_reset(&h->dec);
  snprintf(path, sizeof path, "%s/1073741824", h->dir);
  unlink(path);
  rmdir(h->dir);
  return status;
}

static void host_send(host_t *h, uint32_t type, uint64_t id, const char *body)
{
  uint8_t *f;
  size_t len;
  assert_int_equal(cow__frame_build(type, id, body, strlen(body), &f, &len, NULL), 0);
  assert_int_equal(send(h->fd, f, len, MSG_NOSIGNAL), (ssize_t)len);
  cow__free(f);
}

/* Next frame: 1 got one, 0 clean EOF, negative: the decoder's error (bad header or EOF in
 * the middle of a frame). */
static int host_recv(host_t *h, cow__frame_t *f, unsigned timeout_ms)
{
  int64_t deadline = now_ms() + timeout_ms;
  for (;;) {
    if (h->off < h->have) {
      size_t used;
      int rc = cow__frame_decoder_feed(&h->dec, h->buf + h->off, h->have - h->off, &used, f, NULL);
      h->off += used;
      if (rc != 0)
        return rc;
    }
    if (h->eof)
      return cow__frame_decoder_finish(&h->dec, NULL);
    {
      struct pollfd pf = {h->fd, POLLIN, 0};
      ssize_t n;
      int64_t left = deadline - now_ms();
      assert_true(left > 0);
      assert_int_equal(poll(&pf, 1, (int)left), 1);
      n = recv(h->fd, h->buf, sizeof h->buf, 0);
      assert_true(n >= 0);
      h->off = 0;
      h->have = (size_t)n;
      if (n == 0)
        h->eof = 1;
    }
  }
}

static const char negotiate[] =
    "{\"ContainerId\":\"\",\"ActivityId\":\"00000000-0000-0000-0000-000000000000\","
    "\"MinimumVersion\":4,\"MaximumVersion\":4}\n";
static const char dump[] = "{\"ContainerId\":\"00000000-0000-0000-0000-000000000000\","
                           "\"ActivityId\":\"00000000-0000-0000-0000-000000000000\"}";

static void negotiate_ok(host_t *h)
{
  cow__frame_t f;
  host_send(h, COW__MSG_NEGOTIATE_PROTOCOL, 0, negotiate);
  assert_int_equal(host_recv(h, &f, 5000), 1);
  assert_int_equal(f.hdr.type, COW__MSG_NEGOTIATE_PROTOCOL_RESPONSE);
  assert_int_equal(f.hdr.id, 0);
  assert_non_null(strstr((const char *)f.payload, "\"Version\":4"));
  cow__frame_release(&f);
}

/* Without faults the same sequence works and the peer exits 0 when the host leaves: the
 * baseline that makes every fault below observable. */
static void test_no_fault(void **s)
{
  host_t h;
  cow__frame_t f;
  int st;
  (void)s;
  host_start(&h, NULL, NULL);
  negotiate_ok(&h);
  host_send(&h, COW__MSG_DUMP_STACKS, 1, dump);
  assert_int_equal(host_recv(&h, &f, 5000), 1);
  assert_int_equal(f.hdr.type, COW__MSG_DUMP_STACKS_RESPONSE);
  cow__frame_release(&f);
  st = host_stop(&h);
  assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

static void test_drop_after(void **s)
{
  host_t h;
  cow__frame_t f;
  int st;
  (void)s;
  host_start(&h, "--drop-after", "1");
  negotiate_ok(&h);
  assert_int_equal(host_recv(&h, &f, 5000), 0); /* clean EOF right after frame 1 */
  st = host_stop(&h);
  assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

static void test_garbage_after(void **s)
{
  host_t h;
  cow__frame_t f;
  (void)s;
  host_start(&h, "--garbage-after", "1");
  negotiate_ok(&h);
  assert_int_equal(host_recv(&h, &f, 5000), COW_EPROTOCOL);
  host_stop(&h);
}

static void test_oversize_after(void **s)
{
  host_t h;
  cow__frame_t f;
  cow__frame_header_t hdr;
  (void)s;
  host_start(&h, "--oversize-after", "1");
  negotiate_ok(&h);
  assert_int_equal(host_recv(&h, &f, 5000), COW_EPROTOCOL);
  /* The rejected header really says 0x10001, and the decoder looked at nothing more. */
  cow__frame_header_decode(h.dec.hdr_buf, &hdr);
  assert_int_equal(hdr.size, 0x10001);
  assert_int_equal(hdr.type, COW__MSG_DUMP_STACKS_RESPONSE);
  host_stop(&h);
}

static void test_truncate_after(void **s)
{
  host_t h;
  cow__frame_t f;
  int st;
  (void)s;
  host_start(&h, "--truncate-after", "1");
  negotiate_ok(&h);
  host_send(&h, COW__MSG_DUMP_STACKS, 1, dump);
  /* Half of the DumpStacks response, then EOF: a truncated frame. */
  assert_int_equal(host_recv(&h, &f, 5000), COW_EPROTOCOL);
  assert_true(cow__frame_decoder_pending(&h.dec) > 0);
  st = host_stop(&h);
  assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

static void test_delay(void **s)
{
  host_t h;
  cow__frame_t f;
  int64_t t0;
  (void)s;
  host_start(&h, "--delay-ms", "300");
  t0 = now_ms();
  host_send(&h, COW__MSG_NEGOTIATE_PROTOCOL, 0, negotiate);
  assert_int_equal(host_recv(&h, &f, 5000), 1);
  assert_true(now_ms() - t0 >= 290);
  cow__frame_release(&f);
  host_stop(&h);
}

static void test_reorder(void **s)
{
  host_t h;
  cow__frame_t f;
  uint8_t *all = NULL;
  size_t len = 0;
  uint64_t id;
  (void)s;
  host_start(&h, "--reorder", NULL);
  negotiate_ok(&h);
  /* Three pipelined requests in one write: answered 12, 11, 10. */
  for (id = 10; id <= 12; id++) {
    uint8_t *fr;
    size_t fl;
    assert_int_equal(cow__frame_build(COW__MSG_DUMP_STACKS, id, dump, strlen(dump), &fr, &fl, NULL),
                     0);
    all = realloc(all, len + fl);
    memcpy(all + len, fr, fl);
    len += fl;
    cow__free(fr);
  }
  assert_int_equal(send(h.fd, all, len, MSG_NOSIGNAL), (ssize_t)len);
  free(all);
  for (id = 12; id >= 10; id--) {
    assert_int_equal(host_recv(&h, &f, 5000), 1);
    assert_int_equal(f.hdr.id, id);
    cow__frame_release(&f);
  }
  host_stop(&h);
}

static void test_notify_unknown(void **s)
{
  host_t h;
  cow__frame_t f;
  json_t *o;
  (void)s;
  host_start(&h, "--notify-unknown", NULL);
  negotiate_ok(&h);
  assert_int_equal(host_recv(&h, &f, 5000), 1);
  assert_int_equal(f.hdr.type, COW__MSG_CONTAINER_NOTIFICATION);
  assert_int_equal(f.hdr.id, 0);
  o = json_loadb((const char *)f.payload, f.payload_len, 0, NULL);
  assert_non_null(o);
  assert_string_equal(json_string_value(json_object_get(o, "Type")), "UnexpectedExit");
  assert_non_null(json_string_value(json_object_get(o, "ContainerId")));
  json_decref(o);
  cow__frame_release(&f);
  host_stop(&h);
}

/* A frame with Size < 16 from the host: the real agent would wedge; the peer exits 1. */
/* --never-answer RPC: requests of that RPC are read and dropped; the next request is
 * answered as usual (the peer answers in order, so its answer coming first proves it). */
static void test_never_answer(void **s)
{
  host_t h;
  cow__frame_t f;
  (void)s;
  host_start(&h, "--never-answer", "DumpStacks");
  negotiate_ok(&h);
  host_send(&h, COW__MSG_DUMP_STACKS, 1, dump);
  host_send(&h, COW__MSG_NEGOTIATE_PROTOCOL, 2, negotiate); /* a second one: refused */
  assert_int_equal(host_recv(&h, &f, 5000), 1);
  assert_int_equal(f.hdr.id, 2);
  assert_int_equal(f.hdr.type, COW__MSG_NEGOTIATE_PROTOCOL_RESPONSE);
  cow__frame_release(&f);
  host_stop(&h);
}

static void test_bad_host_header(void **s)
{
  host_t h;
  cow__frame_t f;
  static const uint8_t bad[16] = {0x01, 0x0b, 0x10, 0x10, 0x07, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
  int st;
  (void)s;
  host_start(&h, NULL, NULL);
  assert_int_equal(send(h.fd, bad, sizeof bad, MSG_NOSIGNAL), 16);
  assert_int_equal(host_recv(&h, &f, 5000), 0);
  st = host_stop(&h);
  assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 1);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_no_fault),        cmocka_unit_test(test_drop_after),
      cmocka_unit_test(test_garbage_after),   cmocka_unit_test(test_oversize_after),
      cmocka_unit_test(test_truncate_after),  cmocka_unit_test(test_delay),
      cmocka_unit_test(test_reorder),         cmocka_unit_test(test_notify_unknown),
      cmocka_unit_test(test_bad_host_header), cmocka_unit_test(test_never_answer),
  };
  signal(SIGPIPE, SIG_IGN);
  return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Guest transports through the public transport interface, on every platform:
 *   - the ops-table checks of cow_guest_transport_new() (versions, listen vs listen_tcp);
 *   - the listener lifecycle on socket streams (the `listen_tcp` slot): a connect that
 *     times out cancels its listener and the port stops answering; a port takes exactly
 *     one connection; a guest that hangs up during negotiate fails the connect once; a
 *     host closed while listening completes its connect once. Run with a libuv-only user
 *     transport and, on Windows, with the library's Winsock listener (the hvsocket
 *     transport's code on loopback TCP: Wine has no AF_HYPERV);
 *   - the hvsocket constructor: GUID checks, and on Windows a listen that fails at once with
 *     COW_EBACKEND_UNAVAILABLE where AF_HYPERV is missing (Wine), nothing left on the loop
 *     and no callback; the POSIX transports' constructors answer COW_ENOTSUP there.
 * Every test ends with uv_loop_close() == 0. The whole exchange (frames, stdio, exits)
 * over these transports is tests/conformance/test_guest_replay.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <uv.h>

#include "cow.h"
#include "cow/guest.h"
#include "support/tcp-transport.h"
#include "support/wait.h"

/* ---- cow_guest_transport_new ---- */

static int dummy_listen(cow_guest_listener_t *l, uv_loop_t *loop, uint32_t port, uv_pipe_t *p)
{
  (void)l;
  (void)loop;
  (void)port;
  (void)p;
  return COW_ENOTSUP;
}

static int dummy_listen_tcp(cow_guest_listener_t *l, uv_loop_t *loop, uint32_t port, uv_tcp_t *t)
{
  (void)l;
  (void)loop;
  (void)port;
  (void)t;
  return COW_ENOTSUP;
}

static void dummy_cancel(cow_guest_listener_t *l)
{
  (void)l;
}

static int released;
static void count_release(void *data)
{
  (void)data;
  released++;
}

static void ops_checked(void **state)
{
  (void)state;
  cow_guest_transport_t *t = (cow_guest_transport_t *)&t;
  struct cow_guest_transport_ops ops = {
      .version = 2, .name = "t", .listen = dummy_listen, .cancel = dummy_cancel};
  assert_int_equal(cow_guest_transport_new(NULL, &ops, NULL), COW_EINVAL);
  assert_int_equal(cow_guest_transport_new(&t, NULL, NULL), COW_EINVAL);
  assert_null(t);
  ops.version = 0;
  assert_int_equal(cow_guest_transport_new(&t, &ops, NULL), COW_EVERSION);
  ops.version = COW_GUEST_TRANSPORT_OPS_VERSION + 1;
  assert_int_equal(cow_guest_transport_new(&t, &ops, NULL), COW_EVERSION);
  /* Exactly one of listen and listen_tcp. */
  ops.version = 2;
  ops.listen_tcp = dummy_listen_tcp;
  assert_int_equal(cow_guest_transport_new(&t, &ops, NULL), COW_EINVAL);
  ops.listen = NULL;
  ops.listen_tcp = NULL;
  assert_int_equal(cow_guest_transport_new(&t, &ops, NULL), COW_EINVAL);
  ops.listen_tcp = dummy_listen_tcp;
  ops.cancel = NULL;
  assert_int_equal(cow_guest_transport_new(&t, &ops, NULL), COW_EINVAL);
  ops.cancel = dummy_cancel;
  ops.release = count_release;
  released = 0;
  assert_int_equal(cow_guest_transport_new(&t, &ops, NULL), 0);
  cow_guest_transport_release(t);
  assert_int_equal(released, 1);
  /* A version 1 table: the slots after `release` are not read (an old caller's table may
   * end there), so whatever lies in listen_tcp does not make it ambiguous. */
  ops.version = 1;
  ops.listen = dummy_listen;
  ops.listen_tcp = dummy_listen_tcp;
  assert_int_equal(cow_guest_transport_new(&t, &ops, NULL), 0);
  cow_guest_transport_release(t);
  ops.listen = NULL;
  assert_int_equal(cow_guest_transport_new(&t, &ops, NULL), COW_EINVAL);
}

/* ---- listener lifecycle on socket streams ---- */

enum kind { K_UV, K_WINSOCK };

struct fx {
  uv_loop_t loop;
  tcpt_map_t map;
  cow_guest_transport_t *t;
  cow_host_t *host;
  int connects, connect_status, closed;
  char connect_msg[256];
  uv_tcp_t guest; /* the test's dial of the bridge port */
  int guest_open;
  size_t guest_got;
};

static void on_connect(cow_host_t *h, int status, const cow_error_t *err, void *data)
{
  (void)h;
  struct fx *f = data;
  f->connects++;
  f->connect_status = status;
  snprintf(f->connect_msg, sizeof f->connect_msg, "%s", err && err->message ? err->message : "");
}

static void on_host_closed(cow_host_t *h, void *data)
{
  (void)h;
  ((struct fx *)data)->closed = 1;
}

#define run_until(f, flag, want) TW_UNTIL(&(f)->loop, *(flag) >= (want))

static void fx_start(struct fx *f, enum kind k, uint64_t connect_timeout_ms)
{
  memset(f, 0, sizeof *f);
  assert_int_equal(uv_loop_init(&f->loop), 0);
  if (k == K_UV) {
    assert_int_equal(tcpt_new_uv(&f->t, &f->map), 0);
  } else {
#if defined(_WIN32)
    assert_int_equal(tcpt_new_winsock(&f->t, &f->map), 0);
#else
    fail_msg("the Winsock listener exists on Windows only");
#endif
  }
  cow_guest_options_t o = COW_GUEST_OPTIONS_INIT;
  o.transport = f->t;
  o.connect_timeout_ms = connect_timeout_ms;
  assert_int_equal(cow_guest_connect(&f->host, &f->loop, &o, on_connect, f), 0);
  /* The port answers as soon as connect returned (the guest may dial at once). */
  assert_int_equal(f->map.listens, 1);
  assert_true(tcpt_port(&f->map, COW_GUEST_BRIDGE_PORT) > 0);
}

/* Close what is left, run the loop dry, and check nothing is left on it. */
static void fx_finish(struct fx *f)
{
  if (f->host != NULL) {
    cow_host_close(f->host, on_host_closed, f);
    run_until(f, &f->closed, 1);
  }
  if (f->guest_open && !uv_is_closing((uv_handle_t *)&f->guest))
    uv_close((uv_handle_t *)&f->guest, NULL);
  TW_RUN_IDLE(&f->loop);
  cow_guest_transport_release(f->t);
  assert_int_equal(TW_LOOP_FINISH(&f->loop), 0);
}

/* A dial of a port whose listener is gone is refused (nothing initialised). */
static void assert_refused(struct fx *f, int tcp_port)
{
  uv_tcp_t probe;
  int rc = tcpt_dial(&f->loop, &probe, tcp_port);
  if (rc == 0)
    uv_close((uv_handle_t *)&probe, NULL);
  assert_int_equal(rc, UV_ECONNREFUSED);
}

static void timeout_cancels_listener(enum kind k)
{
  struct fx f;
  fx_start(&f, k, 100);
  int port = tcpt_port(&f.map, COW_GUEST_BRIDGE_PORT);
  run_until(&f, &f.connects, 1);
  assert_int_equal(f.connects, 1);
  assert_int_equal(f.connect_status, COW_ETIMEDOUT);
  /* The cancelled listener closes its socket once its handles are closed. */
  cow_host_close(f.host, on_host_closed, &f);
  f.host = NULL;
  run_until(&f, &f.closed, 1);
  TW_RUN_IDLE(&f.loop);
  assert_refused(&f, port);
  assert_int_equal(f.connects, 1);
  fx_finish(&f);
}

static void guest_alloc(uv_handle_t *h, size_t n, uv_buf_t *b)
{
  (void)h;
  b->base = malloc(n);
  b->len = b->base ? n : 0;
}

static void guest_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
  struct fx *f = s->data;
  if (n > 0)
    f->guest_got += (size_t)n;
  free(b->base);
}

static void one_connection_then_hangup(enum kind k)
{
  struct fx f;
  fx_start(&f, k, 10000);
  int port = tcpt_port(&f.map, COW_GUEST_BRIDGE_PORT);
  assert_int_equal(tcpt_dial(&f.loop, &f.guest, port), 0);
  f.guest_open = 1;
  f.guest.data = &f;
  assert_int_equal(uv_read_start((uv_stream_t *)&f.guest, guest_alloc, guest_read), 0);
  /* The library accepted and wrote NegotiateProtocol (a header and a body at least). */
  size_t negotiate = 17;
  TW_UNTIL(&f.loop, f.guest_got >= negotiate);
  for (int i = 0; i < 8; i++) /* let the listener's closes run */
    uv_run(&f.loop, UV_RUN_NOWAIT);
  assert_refused(&f, port);
  /* The guest hangs up before answering: the connect fails, once. */
  uv_close((uv_handle_t *)&f.guest, NULL);
  f.guest_open = 0;
  run_until(&f, &f.connects, 1);
  assert_int_equal(f.connect_status, COW_EBRIDGE_CLOSED);
  fx_finish(&f);
  assert_int_equal(f.connects, 1);
}

static void close_while_listening(enum kind k)
{
  struct fx f;
  fx_start(&f, k, 10000);
  int port = tcpt_port(&f.map, COW_GUEST_BRIDGE_PORT);
  cow_host_close(f.host, on_host_closed, &f);
  f.host = NULL;
  run_until(&f, &f.closed, 1);
  TW_RUN_IDLE(&f.loop);
  assert_int_equal(f.connects, 1);
  assert_int_equal(f.connect_status, COW_ECANCELED);
  assert_refused(&f, port);
  fx_finish(&f);
}

static void uv_timeout_cancels_listener(void **s)
{
  (void)s;
  timeout_cancels_listener(K_UV);
}
static void uv_one_connection_then_hangup(void **s)
{
  (void)s;
  one_connection_then_hangup(K_UV);
}
static void uv_close_while_listening(void **s)
{
  (void)s;
  close_while_listening(K_UV);
}

#if defined(_WIN32)
static void winsock_timeout_cancels_listener(void **s)
{
  (void)s;
  timeout_cancels_listener(K_WINSOCK);
}
static void winsock_one_connection_then_hangup(void **s)
{
  (void)s;
  one_connection_then_hangup(K_WINSOCK);
}
static void winsock_close_while_listening(void **s)
{
  (void)s;
  close_while_listening(K_WINSOCK);
}
#endif

/* ---- hvsocket ---- */

#if defined(_WIN32)
#  include "win/stream-listen.h"
static int under_wine(void)
{
  HMODULE ntdll = GetModuleHandleA("ntdll.dll");
  return ntdll != NULL && GetProcAddress(ntdll, "wine_get_version") != NULL;
}
#endif

static void hvsock_constructor(void **state)
{
  (void)state;
  static const char vm[] = "d2ae8a2d-5dc4-4b6c-a2c4-2dfb0e3c9b1e";
  cow_guest_transport_t *t = (cow_guest_transport_t *)&t;
  assert_int_equal(cow_guest_transport_hvsock(NULL, vm), COW_EINVAL);
#if defined(_WIN32)
  static const char *const bad[] = {
      NULL,
      "",
      "d2ae8a2d-5dc4-4b6c-a2c4-2dfb0e3c9b1",   /* short */
      "d2ae8a2d-5dc4-4b6c-a2c4-2dfb0e3c9b1e0", /* long */
      "d2ae8a2d_5dc4-4b6c-a2c4-2dfb0e3c9b1e",  /* separator */
      "+2ae8a2d-5dc4-4b6c-a2c4-2dfb0e3c9b1e",  /* sign: sscanf alone takes it */
      "0x2e8a2d-5dc4-4b6c-a2c4-2dfb0e3c9b1e",  /* 0x: likewise */
      "d2ae8a2d-5dc4-4b6c-a2c4-2dfb0e3c9bxe",  /* not hex */
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    assert_int_equal(cow_guest_transport_hvsock(&t, bad[i]), COW_EINVAL);
    assert_null(t);
  }
  assert_int_equal(cow_guest_transport_hvsock(&t, vm), 0);
  /* The address bound for the bridge port: SOCKADDR_HV {AF_HYPERV, 0, VmId, ServiceId}
   * with ServiceId = 40000000-facb-11e6-bd58-64006a7986d3 (hcsshim winio.VsockServiceID),
   * GUIDs in their Windows memory layout (Data1-3 little-endian). */
  static const uint8_t want[36] = {
      0x22, 0x00, 0x00, 0x00, /* family */
      0x2d, 0x8a, 0xae, 0xd2, 0xc4, 0x5d, 0x6c, 0x4b,
      0xa2, 0xc4, 0x2d, 0xfb, 0x0e, 0x3c, 0x9b, 0x1e, /* VmId */
      0x00, 0x00, 0x00, 0x40, 0xcb, 0xfa, 0xe6, 0x11,
      0xbd, 0x58, 0x64, 0x00, 0x6a, 0x79, 0x86, 0xd3, /* ServiceId */
  };
  struct sockaddr_storage sa;
  int salen = 0;
  assert_int_equal(cow__hvsock_address(vm, COW_GUEST_BRIDGE_PORT, &sa, &salen), 0);
  assert_int_equal(salen, 36);
  assert_memory_equal(&sa, want, sizeof want);
  assert_int_equal(cow__hvsock_address("nope", 1, &sa, &salen), COW_EINVAL);
  /* Listening is real: where the socket layer has no AF_HYPERV (Wine, a Windows without
   * Hyper-V) the connect fails at once with that layer's error, not a stub's. */
  uv_loop_t loop;
  assert_int_equal(uv_loop_init(&loop), 0);
  cow_guest_options_t o = COW_GUEST_OPTIONS_INIT;
  o.transport = t;
  struct fx f; /* only its connect counters */
  memset(&f, 0, sizeof f);
  cow_host_t *h = NULL;
  int rc = cow_guest_connect(&h, &loop, &o, on_connect, &f);
  fprintf(stderr, "# hvsock listen on VM %s: %s (%s)\n", vm, rc ? cow_err_name(rc) : "listening",
          rc ? cow_strerror(rc) : "");
  if (under_wine()) /* no AF_HYPERV there: the transport is unavailable, and says so */
    assert_int_equal(rc, COW_EBACKEND_UNAVAILABLE);
  if (rc == 0) { /* a Windows with Hyper-V sockets: nobody dials; close it again */
    cow_host_close(h, NULL, NULL);
  } else {
    assert_int_not_equal(rc, COW_ENOTSUP);
    assert_null(h);
  }
  TW_RUN_IDLE(&loop);
  assert_int_equal(f.connects, rc == 0 ? 1 : 0); /* a refused connect calls back never */
  cow_guest_transport_release(t);
  assert_int_equal(TW_LOOP_FINISH(&loop), 0);
  /* And the POSIX transports are not built here: their constructors say so. */
  t = (cow_guest_transport_t *)&t;
  assert_int_equal(cow_guest_transport_unix(&t, "C:\\ports"), COW_ENOTSUP);
  assert_null(t);
  t = (cow_guest_transport_t *)&t;
  assert_int_equal(cow_guest_transport_vsock(&t), COW_ENOTSUP);
  assert_null(t);
#else
  assert_int_equal(cow_guest_transport_hvsock(&t, vm), COW_ENOTSUP);
  assert_null(t);
#endif
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(ops_checked),
    cmocka_unit_test(uv_timeout_cancels_listener),
    cmocka_unit_test(uv_one_connection_then_hangup),
    cmocka_unit_test(uv_close_while_listening),
#if defined(_WIN32)
    cmocka_unit_test(winsock_timeout_cancels_listener),
    cmocka_unit_test(winsock_one_connection_then_hangup),
    cmocka_unit_test(winsock_close_while_listening),
#endif
    cmocka_unit_test(hvsock_constructor),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

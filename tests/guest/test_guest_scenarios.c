/* docs/gcs-bridge-protocol.md §10 scenarios against a scripted guest on a socketpair
 * (script-guest.h): framing, hostile JSON, negotiation, container RPCs, processes and stdio
 * (through an AF_UNIX port directory the script dials), connection loss, load and abuse. Each test
 * is named after its scenario ids; docs/gcs-scenarios.md maps every id to its test. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cow/stdio.h"
#include "guest/host-results.h"
#include "guest/script-guest.h"

#define NULL_ID "00000000-0000-0000-0000-000000000000"
#define HR(x)   ((int)(int32_t)(uint32_t)(x)) /* an HRESULT as the guest puts it on the wire */
#define OK_BODY "{\"Result\":0}"

/* ---- host-side results (the records: guest/host-results.h) ---- */

/* Start an exec on the connection with its create result in `cr` and a waiter in `w`. */
static cow_process_t *exec_and_wait(sg_t *g, const char *cfg, sg_res_t *cr, sg_res_t *w)
{
  cow_process_t *p = NULL;
  assert_int_equal(cow_host_create_process(&p, g->host, cfg, sg_on_proc, cr), 0);
  assert_int_equal(cow_process_wait(p, sg_on_wait, w), 0);
  return p;
}

/* stdout capture: one per stream, found by the stream pointer */
typedef struct cap {
  uv_stream_t *s;
  char data[4096];
  size_t len;
  int eof;
} cap_t;
static cap_t *caps[8];
static char rbuf[65536];

static void cap_alloc(uv_handle_t *h, size_t n, uv_buf_t *b)
{
  (void)h, (void)n;
  *b = uv_buf_init(rbuf, sizeof rbuf);
}

static void cap_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
  cap_t *c = NULL;
  for (int i = 0; i < 8; i++)
    if (caps[i] && caps[i]->s == s)
      c = caps[i];
  assert_non_null(c);
  if (n < 0) {
    c->eof++;
    return;
  }
  size_t k = (size_t)n;
  if (c->len + k >= sizeof c->data)
    k = sizeof c->data - 1 - c->len;
  memcpy(c->data + c->len, b->base, k);
  c->len += k;
  c->data[c->len] = '\0';
}

static void capture(cow_process_t *p, cow_stdio_t which, cap_t *c)
{
  memset(c, 0, sizeof *c);
  uv_stream_t *s[3] = {NULL, NULL, NULL};
  assert_int_equal(cow_process_stdio(&s[0], &s[1], &s[2], p), 0);
  c->s = s[which];
  assert_non_null(c->s);
  for (int i = 0; i < 8; i++)
    if (caps[i] == NULL) {
      caps[i] = c;
      break;
    }
  assert_int_equal(cow_process_read_start(p, which, cap_alloc, cap_read), 0);
}

static void uncapture(void)
{
  memset(caps, 0, sizeof caps);
}

static void expect_fatal(sg_t *g, int cause, const char *part)
{
  char msg[512];
  int code = sg_bridge_error(g, msg, sizeof msg);
  if (code != cause)
    fail_msg("bridge cause %s (%s), expected %s", cow_err_name(code), msg, cow_err_name(cause));
  if (part && strstr(msg, part) == NULL)
    fail_msg("bridge cause \"%s\" lacks \"%s\"", msg, part);
  /* later calls fail at once, without a callback */
  sg_res_t r = {0};
  assert_int_equal(cow_guest_dump_stacks(g->host, sg_on_text, &r), COW_EBRIDGE_CLOSED);
  uv_run(&g->loop, UV_RUN_NOWAIT);
  assert_int_equal(r.calls, 0);
}

/* Two frames of the given types in either order (the host's own request and the test's
 * may cross): their ids; a failure for anything else. */
static void read_pair(sg_t *g, uint32_t ta, uint64_t *ida, uint32_t tb, uint64_t *idb)
{
  int seen_a = 0, seen_b = 0;
  for (int i = 0; i < 2; i++) {
    cow__frame_t f = {0};
    if (sg_read(g, &f) != 1) {
      sg_fail(g, "bridge ended while waiting for two frames");
      return;
    }
    if (f.hdr.type == ta && !seen_a) {
      *ida = f.hdr.id;
      seen_a = 1;
    } else if (f.hdr.type == tb && !seen_b) {
      *idb = f.hdr.id;
      seen_b = 1;
    } else {
      sg_fail(g, "unexpected frame 0x%08X", (unsigned)f.hdr.type);
    }
    cow__frame_release(&f);
  }
}

static uint32_t relay_port(json_t *exec, const char *name)
{
  json_t *r = json_object_get(
      json_object_get(json_object_get(exec, "Settings"), "VsockStdioRelaySettings"), name);
  return r ? (uint32_t)json_integer_value(r) : 0;
}

/* The code a guest HRESULT maps to (an unknown one is COW_EGUEST). */
static int guest_code(uint32_t hr)
{
  int code = cow_hresult_to_code(hr);
  return code == COW_EHCS ? COW_EGUEST : code;
}

static const char *jstr(json_t *o, const char *k)
{
  const char *s = json_string_value(json_object_get(o, k));
  return s ? s : "";
}

/* ======================= A. Framing and transport ======================= */

/* A1 (+C31): exactly one frame, the negotiate, and nothing before its answer. */
static void s_first_message(sg_t *g)
{
  cow__frame_t f = {0};
  if (sg_read(g, &f) != 1) {
    sg_fail(g, "no first frame");
    return;
  }
  SG_CHECK(g, f.hdr.type == 0x10100b01u);
  SG_CHECK(g, f.hdr.id == 0);
  SG_CHECK(g, f.hdr.size == 16 + f.payload_len);
  json_t *j = json_loadb((const char *)f.payload, f.payload_len, 0, NULL);
  SG_CHECK(g, j != NULL);
  SG_CHECK(g, json_integer_value(json_object_get(j, "MinimumVersion")) == 4);
  SG_CHECK(g, json_integer_value(json_object_get(j, "MaximumVersion")) == 4);
  const char *cid = jstr(j, "ContainerId");
  SG_CHECK(g, strcmp(cid, "") == 0 || strcmp(cid, NULL_ID) == 0);
  json_decref(j);
  cow__frame_release(&f);
  sg_send(g, COW__MSG_NEGOTIATE_PROTOCOL_RESPONSE, 0, SG_NEGOTIATED);
  /* The next frame is the request made after the connect callback: id 1. */
  uint64_t id = 0;
  json_decref(sg_expect(g, COW__MSG_DUMP_STACKS, &id));
  SG_CHECK(g, id == 1);
  sg_send(g, COW__MSG_DUMP_STACKS_RESPONSE, id, "{\"Result\":0,\"GuestStacks\":\"ok\"}");
  sg_drain_bridge(g);
}

static void a01_first_message_c31_happy_path(void **state)
{
  (void)state;
  sg_t g = {0};
  sg_start(&g, s_first_message, NULL, 0);
  sg_res_t r = {0};
  /* Before the answer nothing may be sent: refused at once, no callback. */
  assert_int_equal(cow_guest_dump_stacks(g.host, sg_on_text, &r), COW_EINVALID_STATE);
  sg_run_until(&g, &g.connected);
  assert_int_equal(g.conn_status, 0);
  assert_int_equal(cow_guest_protocol_version(g.host), 4);
  assert_string_equal(cow_host_os(g.host), "linux");
  unsigned f = cow_guest_capability_flags(g.host);
  assert_true(f & COW_GUEST_CAP_SIGNAL_PROCESS);
  assert_true(f & COW_GUEST_CAP_DUMP_STACKS);
  assert_true(f & COW_GUEST_CAP_DELETE_CONTAINER_STATE);
  assert_non_null(strstr(cow_guest_capabilities(g.host), "\"RuntimeOsType\":\"Linux\""));
  assert_int_equal(cow_guest_dump_stacks(g.host, sg_on_text, &r), 0);
  sg_run_until(&g, &r.calls);
  assert_int_equal(r.status, 0);
  assert_string_equal(r.text, "ok");
  sg_finish(&g);
  assert_int_equal(r.calls, 1);
}

/* A2: ids 0, 1, 2, ... over 100 mixed requests, each used once. */
static void s_ids(sg_t *g)
{
  uint64_t expect = 0;
  cow__frame_t f = {0};
  uint32_t pid = 100;
  while (sg_read(g, &f) == 1) {
    if (f.hdr.id != expect)
      sg_fail(g, "id %llu, expected %llu", (unsigned long long)f.hdr.id,
              (unsigned long long)expect);
    expect++;
    uint32_t rt = COW__FRAME_RESPONSE_OF(f.hdr.type);
    if (f.hdr.type == COW__MSG_NEGOTIATE_PROTOCOL)
      sg_send(g, rt, f.hdr.id, SG_NEGOTIATED);
    else if (f.hdr.type == COW__MSG_EXECUTE_PROCESS)
      sg_sendf(g, rt, f.hdr.id, "{\"Result\":0,\"ProcessId\":%u}", pid++);
    else if (f.hdr.type == COW__MSG_WAIT_FOR_PROCESS)
      sg_send(g, rt, f.hdr.id, "{\"Result\":0,\"ExitCode\":0}");
    else
      sg_send(g, rt, f.hdr.id, OK_BODY);
    cow__frame_release(&f);
  }
  g->result[0] = (int)expect;
}

static void a02_id_monotonicity(void **state)
{
  (void)state;
  sg_t g = {0};
  sg_start_ok(&g, s_ids, NULL, 0);
  enum { N = 100 };
  static sg_res_t r[N], w[N];
  static cow_process_t *p[N];
  memset(r, 0, sizeof r);
  memset(w, 0, sizeof w);
  int frames = 1, procs = 0;
  for (int i = 0; i < N; i++) {
    switch (i % 4) {
    case 0:
      assert_int_equal(cow_guest_dump_stacks(g.host, sg_on_text, &r[i]), 0);
      frames++;
      break;
    case 1:
      assert_int_equal(cow_guest_modify(g.host, "{\"ResourceType\":\"X\"}", sg_on_host, &r[i]), 0);
      frames++;
      break;
    case 2:
      assert_int_equal(cow_guest_delete_container_state(g.host, "c1", sg_on_host, &r[i]), 0);
      frames++;
      break;
    default:
      assert_int_equal(cow_host_create_process(&p[procs], g.host, "{\"CommandArgs\":[\"true\"]}",
                                               sg_on_proc, &r[i]),
                       0);
      assert_int_equal(cow_process_wait(p[procs], sg_on_wait, &w[i]), 0);
      procs++;
      frames += 2; /* exec + wait */
      break;
    }
  }
  for (int i = 0; i < N; i++) {
    sg_run_until(&g, &r[i].calls);
    assert_int_equal(r[i].status, 0);
    if (i % 4 == 3) {
      sg_run_until(&g, &w[i].calls);
      assert_int_equal(w[i].status, 0);
      assert_int_equal(w[i].code, 0);
    }
  }
  for (int i = 0; i < procs; i++)
    sg_close_process(&g, p[i]);
  sg_finish(&g);
  assert_int_equal(g.result[0], frames);
  for (int i = 0; i < N; i++) {
    assert_int_equal(r[i].calls, 1);
    assert_int_equal(w[i].calls, i % 4 == 3 ? 1 : 0);
  }
}

/* A3: three concurrent requests answered in reverse order. */
static void s_reverse(sg_t *g)
{
  sg_negotiate(g, NULL);
  uint64_t id[3];
  for (int i = 0; i < 3; i++)
    json_decref(sg_expect(g, COW__MSG_DUMP_STACKS, &id[i]));
  for (int i = 2; i >= 0; i--)
    sg_sendf(g, COW__MSG_DUMP_STACKS_RESPONSE, id[i], "{\"Result\":0,\"GuestStacks\":\"s%llu\"}",
             (unsigned long long)id[i]);
  sg_drain_bridge(g);
}

static void a03_out_of_order_responses(void **state)
{
  (void)state;
  sg_t g = {0};
  sg_start_ok(&g, s_reverse, NULL, 0);
  sg_res_t r[3] = {{0}};
  for (int i = 0; i < 3; i++)
    assert_int_equal(cow_guest_dump_stacks(g.host, sg_on_text, &r[i]), 0);
  for (int i = 0; i < 3; i++) {
    sg_run_until(&g, &r[i].calls);
    char want[8];
    snprintf(want, sizeof want, "s%d", i + 1);
    assert_int_equal(r[i].status, 0);
    assert_string_equal(r[i].text, want);
  }
  sg_finish(&g);
  for (int i = 0; i < 3; i++)
    assert_int_equal(r[i].calls, 1);
}

/* A4: a response one byte per write(). */
static void s_bytewise(sg_t *g)
{
  sg_negotiate(g, NULL);
  uint64_t id;
  json_decref(sg_expect(g, COW__MSG_DUMP_STACKS, &id));
  uint8_t frame[256];
  size_t n = sg_frame(frame, COW__MSG_DUMP_STACKS_RESPONSE, id,
                      "{\"Result\":0,\"GuestStacks\":\"one byte at a time\"}");
  for (size_t i = 0; i < n; i++) {
    sg_raw(g, frame + i, 1);
    usleep(200); /* the scenario: delays between the bytes, not synchronisation */
  }
  sg_drain_bridge(g);
}

static void a04_byte_at_a_time(void **state)
{
  (void)state;
  sg_t g = {0};
  sg_start_ok(&g, s_bytewise, NULL, 0);
  sg_res_t r = {0};
  assert_int_equal(cow_guest_dump_stacks(g.host, sg_on_text, &r), 0);
  sg_run_until(&g, &r.calls);
  assert_int_equal(r.status, 0);
  assert_string_equal(r.text, "one byte at a time");
  sg_finish(&g);
  assert_int_equal(r.calls, 1);
}

/* A5 / D42: ShutdownForced answered, and the exit notification in the same write (A5) or
 * in a later one (D42, with UnexpectedExit passed through). */
#define CID "c0ffee00-0000-4000-8000-000000000001"
static void s_shutdown_notify(sg_t *g)
{
  sg_negotiate(g, NULL);
  uint64_t id;
  json_decref(sg_expect(g, COW__MSG_CREATE, &id));
  sg_send(g, COW__MSG_CREATE_RESPONSE, id, OK_BODY);
  json_t *j = sg_expect(g, COW__MSG_SHUTDOWN_FORCED, &id);
  SG_CHECK(g, strcmp(jstr(j, "ContainerId"), CID) == 0);
  json_decref(j);
  char note[256];
  snprintf(note, sizeof note,
           "{\"ContainerId\":\"" CID "\",\"Type\":\"%s\",\"Operation\":\"None\",\"Result\":0,"
           "\"ResultInfo\":\"\\\"\\\"\"}",
           g->iarg ? "ForcedExit" : "UnexpectedExit");
  uint8_t buf[1024];
  size_t n = sg_frame(buf, COW__MSG_SHUTDOWN_FORCED_RESPONSE, id, OK_BODY);
  if (g->iarg) { /* coalesced */
    n += sg_frame(buf + n, COW__MSG_CONTAINER_NOTIFICATION, 0, note);
    sg_raw(g, buf, n);
  } else {
    sg_raw(g, buf, n);
    sg_wait_host(g); /* the host saw the response alone */
    sg_send(g, COW__MSG_CONTAINER_NOTIFICATION, 0, note);
  }
  sg_drain_bridge(g);
}

static void shutdown_notify(int coalesced)
{
  sg_t g = {0};
  g.iarg = coalesced;
  sg_start_ok(&g, s_shutdown_notify, NULL, 0);
  char *doc = sg_container_doc("/b");
  cow_container_t *c;
  sg_res_t cr = {0}, t = {0}, w = {0};
  assert_int_equal(cow_guest_create_container(&c, g.host, CID, doc, sg_on_cont, &cr), 0);
  free(doc);
  sg_run_until(&g, &cr.calls);
  assert_int_equal(cr.status, 0);
  assert_int_equal(cow_container_wait(c, sg_on_cont, &w), 0);
  assert_int_equal(cow_container_terminate(c, sg_on_cont, &t), 0);
  sg_run_until(&g, &t.calls);
  assert_int_equal(t.status, 0);
  if (!coalesced) {
    assert_int_equal(w.calls, 0);
    sg_signal(&g);
  }
  sg_run_until(&g, &w.calls);
  assert_int_equal(w.status, 0);
  assert_string_equal(cow_guest_container_exit_type(c),
                      coalesced ? "ForcedExit" : "UnexpectedExit");
  assert_int_equal(sg_bridge_error(&g, NULL, 0), 0);
  sg_close_container(&g, c);
  sg_finish(&g);
  assert_int_equal(cr.calls + t.calls + w.calls, 3);
}

static void a05_coalesced_response_and_notification(void **state)
{
  (void)state;
  shutdown_notify(1);
}

static void d42_shutdown_forced_then_notification(void **state)
{
  (void)state;
  shutdown_notify(0);
}

/* A6 (0x10001, 0xFFFFFFFF), A7 (0, 1, 15; 16 as a response): the header alone is sent
 * and the socket stays open, so the host must give up without reading a payload. */
static void s_bad_size(sg_t *g)
{
  sg_negotiate(g, NULL);
  uint64_t id;
  json_decref(sg_expect(g, COW__MSG_DUMP_STACKS, &id));
  uint8_t h[16];
  cow__frame_header_t hdr = {COW__MSG_DUMP_STACKS_RESPONSE, (uint32_t)g->iarg, id};
  cow__frame_header_encode(&hdr, h);
  sg_raw(g, h, 16);
  sg_drain_bridge(g); /* until the host closes */
}

static void bad_size(uint32_t size, const char *part)
{
  sg_t g = {0};
  g.iarg = (int)size;
  sg_start_ok(&g, s_bad_size, NULL, 0);
  sg_res_t r = {0};
  assert_int_equal(cow_guest_dump_stacks(g.host, sg_on_text, &r), 0);
  sg_run_until(&g, &r.calls);
  assert_int_equal(r.status, COW_EBRIDGE_CLOSED);
  expect_fatal(&g, COW_EPROTOCOL, part);
  sg_finish(&g);
  assert_int_equal(r.calls, 1);
}

static void a06_size_limit_boundaries(void **state)
{
  (void)state;
  /* 0x10000 is accepted: test_guest_wire size_limit_is_inclusive. */
  bad_size(0x10001u, "65537");
  bad_size(0xFFFFFFFFu, NULL);
}

static void a07_size_below_header(void **state)
{
  (void)state;
  bad_size(0, NULL);
  bad_size(1, NULL);
  bad_size(15, NULL);
  bad_size(16, "JSON"); /* a complete frame with an empty payload: not a JSON object */
}

/* A8, A9, A10: the stream ends inside a header, inside a payload, between frames. */
static void s_truncated(sg_t *g)
{
  sg_negotiate(g, NULL);
  uint64_t id;
  json_decref(sg_expect(g, COW__MSG_DUMP_STACKS, &id));
  uint8_t buf[256];
  memset(buf, ' ', sizeof buf);
  cow__frame_header_t hdr = {COW__MSG_DUMP_STACKS_RESPONSE, 200, id};
  cow__frame_header_encode(&hdr, buf);
  if (g->iarg == 8)
    sg_raw(g, buf, 7);
  else if (g->iarg == 9)
    sg_raw(g, buf, 16 + 50);
  shutdown(g->fd, SHUT_WR);
  sg_drain_bridge(g);
}

static void truncated(int scenario, int cause, const char *part)
{
  sg_t g = {0};
  g.iarg = scenario;
  sg_start_ok(&g, s_truncated, NULL, 0);
  sg_res_t r = {0};
  assert_int_equal(cow_guest_dump_stacks(g.host, sg_on_text, &r), 0);
  sg_run_until(&g, &r.calls);
  assert_int_equal(r.status, COW_EBRIDGE_CLOSED);
  assert_non_null(strstr(r.msg, part)); /* the caller learns why */
  expect_fatal(&g, cause, part);
  sg_finish(&g);
  assert_int_equal(r.calls, 1);
}

static void a08_truncated_header(void **state)
{
  (void)state;
  truncated(8, COW_EPROTOCOL, "truncated header (7 of 16 bytes)");
}

static void a09_truncated_payload(void **state)
{
  (void)state;
  truncated(9, COW_EPROTOCOL, "truncated payload (50 of 184 bytes)");
}

static void a10_clean_eof_between_frames(void **state)
{
  (void)state;
  truncated(10, COW_EOF, "closed the bridge");
}

/* A11: message kinds the host never accepts from the guest. */
static void s_kind(sg_t *g)
{
  sg_negotiate(g, NULL);
  uint64_t id;
  json_decref(sg_expect(g, COW__MSG_DUMP_STACKS, &id));
  sg_send(g, (uint32_t)g->iarg, id, OK_BODY);
  sg_drain_bridge(g);
}

static void a11_unknown_message_kind(void **state)
{
  (void)state;
  static const uint32_t types[] = {0x00100101u, 0x10100101u, 0x40100101u, 0xF0000000u};
  for (size_t i = 0; i < 4; i++) {
    sg_t g = {0};
    g.iarg = (int)types[i];
    sg_start_ok(&g, s_kind, NULL, 0);
    sg_res_t r = {0};
    assert_int_equal(cow_guest_dump_stacks(g.host, sg_on_text, &r), 0);
    sg_run_until(&g, &r.calls);
    assert_int_equal(r.status, COW_EBRIDGE_CLOSED);
    expect_fatal(&g, COW_EPROTOCOL, NULL);
    sg_finish(&g);
    assert_int_equal(r.calls, 1);
  }
}

/* A14: the same id answered twice: the first answer counts, the second is fatal. */
static void s_duplicate(sg_t *g)
{
  sg_negotiate(g, NULL);
  uint64_t a, b;
  json_decref(sg_expect(g, COW__MSG_DUMP_STACKS, &a));
  json_decref(sg_expect(g, COW__MSG_DUMP_STACKS, &b));
  sg_send(g, COW__MSG_DUMP_STACKS_RESPONSE, a, "{\"Result\":0,\"GuestStacks\":\"first\"}");
  sg_send(g, COW__MSG_DUMP_STACKS_RESPONSE, a, "{\"Result\":0,\"GuestStacks\":\"again\"}");
  sg_drain_bridge(g);
}

static void a14_duplicate_response(void **state)
{
  (void)state;
  sg_t g = {0};
  sg_start_ok(&g, s_duplicate, NULL, 0);
  sg_res_t a = {0}, b = {0};
  assert_int_equal(cow_guest_dump_stacks(g.host, sg_on_text, &a), 0);
  assert_int_equal(cow_guest_dump_stacks(g.host, sg_on_text, &b), 0);
  sg_run_until(&g, &b.calls);
  assert_int_equal(a.status, 0);
  assert_string_equal(a.text, "first");
  assert_int_equal(b.status, COW_EBRIDGE_CLOSED);
  expect_fatal(&g, COW_EPROTOCOL, "unknown request id 1");
  sg_finish(&g);
  assert_int_equal(a.calls + b.calls, 2);
}

/* A15: GetProperties given up by the caller (its timeout); the late answer is absorbed. */
static void s_late_properties(sg_t *g)
{
  sg_negotiate(g, NULL);
  uint64_t id, p;
  json_decref(sg_expect(g, COW__MSG_CREATE, &id));
  sg_send(g, COW__MSG_CREATE_RESPONSE, id, OK_BODY);
  json_decref(sg_expect(g, COW__MSG_GET_PROPERTIES, &p));
  sg_wait_host(g); /* the caller got its timeout */
  sg_send(g, COW__MSG_GET_PROPERTIES_RESPONSE, p, "{\"Result\":0,\"Properties\":\"{}\"}");
  json_decref(sg_expect(g, COW__MSG_DUMP_STACKS, &id));
  sg_send(g, COW__MSG_DUMP_STACKS_RESPONSE, id, OK_BODY);
  sg_drain_bridge(g);
}

static void a15_late_response_to_cancelled_request(void **state)
{
  (void)state;
  sg_t g = {0};
  sg_start_ok(&g, s_late_properties, NULL, 0);
  char *doc = sg_container_doc("/b");
  cow_container_t *c;
  sg_res_t cr = {0}, pr = {0}, d = {0};
  assert_int_equal(cow_guest_create_container(&c, g.host, CID, doc, sg_on_cont, &cr), 0);
  free(doc);
  sg_run_until(&g, &cr.calls);
  assert_int_equal(cow_container_set_timeout(c, COW_TIMEOUT_PROPERTIES, 30), 0);
  assert_int_equal(cow_container_properties(c, NULL, sg_on_json, &pr), 0);
  sg_run_until(&g, &pr.calls);
  assert_int_equal(pr.status, COW_ETIMEDOUT);
  sg_signal(&g);
  assert_int_equal(cow_guest_dump_stacks(g.host, sg_on_text, &d), 0);
  sg_run_until(&g, &d.calls);
  assert_int_equal(d.status, 0);
  assert_int_equal(sg_bridge_error(&g, NULL, 0), 0);
  sg_close_container(&g, c);
  sg_finish(&g);
  assert_int_equal(cr.calls + pr.calls + d.calls, 3);
}

/* A16: the bridge timeout (100 ms): an unanswered request kills the bridge; every call
 * fails, the untimed WaitForProcess too (by the teardown). */
static void s_silent(sg_t *g)
{
  sg_negotiate(g, NULL);
  uint64_t id;
  json_decref(sg_expect(g, COW__MSG_EXECUTE_PROCESS, &id));
  sg_send(g, COW__MSG_EXECUTE_PROCESS_RESPONSE, id, "{\"Result\":0,\"ProcessId\":5}");
  json_decref(sg_expect(g, COW__MSG_WAIT_FOR_PROCESS, &id));
  json_decref(sg_expect(g, COW__MSG_DUMP_STACKS, &id));
  json_decref(sg_expect(g, COW__MSG_MODIFY_SETTINGS, &id));
  sg_drain_bridge(g); /* never answers */
}

static void a16_bridge_timeout(void **state)
{
  (void)state;
  sg_t g = {0};
  cow_guest_options_t o = COW_GUEST_OPTIONS_INIT;
  o.rpc_timeout_ms = 100;
  sg_start_ok(&g, s_silent, &o, 0);
  cow_process_t *p;
  sg_res_t cr = {0}, w = {0}, d = {0}, m = {0};
  p = exec_and_wait(&g, "{\"CommandArgs\":[\"x\"]}", &cr, &w);
  sg_run_until(&g, &cr.calls);
  assert_int_equal(cr.status, 0);
  uint64_t t0 = uv_now(&g.loop);
  assert_int_equal(cow_guest_dump_stacks(g.host, sg_on_text, &d), 0);
  assert_int_equal(cow_guest_modify(g.host, "{}", sg_on_host, &m), 0);
  sg_run_until(&g, &d.calls);
  sg_run_until(&g, &m.calls);
  sg_run_until(&g, &w.calls);
  assert_true(uv_now(&g.loop) - t0 >= 100);
  assert_int_equal(d.status, COW_EBRIDGE_CLOSED);
  assert_int_equal(m.status, COW_EBRIDGE_CLOSED);
  assert_int_equal(w.status, COW_EBRIDGE_CLOSED);
  assert_non_null(strstr(d.msg, "message timeout"));
  expect_fatal(&g, COW_ETIMEDOUT, "message timeout");
  sg_close_process(&g, p);
  sg_finish(&g);
  assert_int_equal(cr.calls + w.calls + d.calls + m.calls, 4);
}

/* A17: ExecuteProcess is not cancellable. The C choice: the caller's own deadline
 * (COW_TIMEOUT_CREATE) is honoured with COW_ETIMEDOUT, but the request stays registered:
 * the late answer is taken (the process is then waited for, so the guest does not keep
 * it forever) and the bridge stays up. */
static void s_late_exec(sg_t *g)
{
  sg_negotiate(g, NULL);
  uint64_t id;
  json_decref(sg_expect(g, COW__MSG_EXECUTE_PROCESS, &id));
  sg_wait_host(g);
  sg_send(g, COW__MSG_EXECUTE_PROCESS_RESPONSE, id, "{\"Result\":0,\"ProcessId\":77}");
  /* the host's WaitForProcess for pid 77 and the test's DumpStacks, in either order */
  uint64_t wid = 0, did = 0;
  for (int i = 0; i < 2; i++) {
    cow__frame_t f = {0};
    if (sg_read(g, &f) != 1)
      break;
    json_t *j = json_loadb((const char *)f.payload, f.payload_len, 0, NULL);
    if (f.hdr.type == COW__MSG_WAIT_FOR_PROCESS) {
      wid = f.hdr.id;
      g->result[0] = json_integer_value(json_object_get(j, "ProcessId")) == 77;
    } else if (f.hdr.type == COW__MSG_DUMP_STACKS) {
      did = f.hdr.id;
    }
    json_decref(j);
    cow__frame_release(&f);
  }
  sg_send(g, COW__MSG_WAIT_FOR_PROCESS_RESPONSE, wid, "{\"Result\":0,\"ExitCode\":0}");
  sg_send(g, COW__MSG_DUMP_STACKS_RESPONSE, did, OK_BODY);
  sg_drain_bridge(g);
}

static void a17_noncancellable_exec_after_caller_deadline(void **state)
{
  (void)state;
  sg_t g = {0};
  sg_start_ok(&g, s_late_exec, NULL, 0);
  assert_int_equal(cow_host_set_timeout(g.host, COW_TIMEOUT_CREATE, 30), 0);
  cow_process_t *p;
  sg_res_t cr = {0}, d = {0};
  assert_int_equal(
      cow_host_create_process(&p, g.host, "{\"CommandArgs\":[\"x\"]}", sg_on_proc, &cr), 0);
  sg_run_until(&g, &cr.calls);
  assert_int_equal(cr.status, COW_ETIMEDOUT);
  sg_signal(&g);
  assert_int_equal(cow_guest_dump_stacks(g.host, sg_on_text, &d), 0);
  sg_run_until(&g, &d.calls);
  assert_int_equal(d.status, 0);
  assert_int_equal(sg_bridge_error(&g, NULL, 0), 0);
  sg_close_process(&g, p);
  sg_finish(&g);
  assert_int_equal(g.result[0], 1); /* the late exec answer was taken: pid 77 waited for */
  assert_int_equal(cr.calls + d.calls, 2);
}

/* ======================= B. JSON robustness ======================= */

enum rk { RK_STACKS, RK_WAIT, RK_PROPS, RK_NOTIFY };

/* Answer one request of kind iarg with the body sarg. */
static void s_answer(sg_t *g)
{
  sg_negotiate(g, NULL);
  uint64_t id;
  switch (g->iarg) {
  case RK_STACKS:
    json_decref(sg_expect(g, COW__MSG_DUMP_STACKS, &id));
    sg_send(g, COW__MSG_DUMP_STACKS_RESPONSE, id, g->sarg);
    break;
  case RK_WAIT:
    json_decref(sg_expect(g, COW__MSG_EXECUTE_PROCESS, &id));
    sg_send(g, COW__MSG_EXECUTE_PROCESS_RESPONSE, id, "{\"Result\":0,\"ProcessId\":5}");
    json_decref(sg_expect(g, COW__MSG_WAIT_FOR_PROCESS, &id));
    sg_send(g, COW__MSG_WAIT_FOR_PROCESS_RESPONSE, id, g->sarg);
    break;
  case RK_PROPS:
    json_decref(sg_expect(g, COW__MSG_CREATE, &id));
    sg_send(g, COW__MSG_CREATE_RESPONSE, id, OK_BODY);
    json_decref(sg_expect(g, COW__MSG_GET_PROPERTIES, &id));
    sg_send(g, COW__MSG_GET_PROPERTIES_RESPONSE, id, g->sarg);
    break;
  case RK_NOTIFY:
    sg_wait_host(g);
    sg_send(g, COW__MSG_CONTAINER_NOTIFICATION, 0, g->sarg);
    break;
  }
  sg_drain_bridge(g);
}

/* The outcome of one answer: status (of the caller), bridge code, message, text/code. */
typedef struct outcome {
  int status, bridge;
  uint32_t sys;
  int64_t code;
  char msg[512];
  char text[1024];
} outcome_t;

static void answer(enum rk kind, const char *body, outcome_t *out)
{
  memset(out, 0, sizeof *out);
  sg_t g = {0};
  g.iarg = kind;
  g.sarg = body;
  sg_start_ok(&g, s_answer, NULL, 0);
  sg_res_t r = {0}, x = {0};
  cow_process_t *p = NULL;
  cow_container_t *c = NULL;
  switch (kind) {
  case RK_STACKS:
    assert_int_equal(cow_guest_dump_stacks(g.host, sg_on_text, &r), 0);
    sg_run_until(&g, &r.calls);
    break;
  case RK_WAIT:
    assert_int_equal(
        cow_host_create_process(&p, g.host, "{\"CommandArgs\":[\"x\"]}", sg_on_proc, &x), 0);
    assert_int_equal(cow_process_wait(p, sg_on_wait, &r), 0);
    sg_run_until(&g, &r.calls);
    assert_int_equal(x.calls, 1);
    break;
  case RK_PROPS: {
    char *doc = sg_container_doc("/b");
    assert_int_equal(cow_guest_create_container(&c, g.host, CID, doc, sg_on_cont, &x), 0);
    free(doc);
    sg_run_until(&g, &x.calls);
    assert_int_equal(cow_container_properties(c, NULL, sg_on_json, &r), 0);
    sg_run_until(&g, &r.calls);
    break;
  }
  case RK_NOTIFY:
    assert_int_equal(cow_guest_open_container(&c, g.host, CID), 0);
    assert_int_equal(cow_container_wait(c, sg_on_cont, &r), 0);
    sg_signal(&g);
    sg_run_until(&g, &r.calls);
    if (r.status == 0)
      snprintf(r.text, sizeof r.text, "%s", cow_guest_container_exit_type(c));
    break;
  }
  out->status = r.status;
  out->sys = r.sys;
  out->code = r.code;
  snprintf(out->msg, sizeof out->msg, "%s", r.msg);
  memcpy(out->text, r.text, sizeof out->text);
  out->bridge = sg_bridge_error(&g, NULL, 0);
  if (p)
    sg_close_process(&g, p);
  if (c)
    sg_close_container(&g, c);
  sg_finish(&g);
  assert_int_equal(r.calls, 1);
}

/* The body kills the bridge (EPROTOCOL) and the caller gets EBRIDGE_CLOSED. */
static void fatal(enum rk kind, const char *body)
{
  outcome_t o;
  answer(kind, body, &o);
  if (o.status != COW_EBRIDGE_CLOSED || o.bridge != COW_EPROTOCOL)
    fail_msg("%s: status %s, bridge %s; expected fatal", body, cow_err_name(o.status),
             cow_err_name(o.bridge));
}

/* The body is accepted: the bridge stays up; returns the outcome. */
static void accepted(enum rk kind, const char *body, outcome_t *o)
{
  answer(kind, body, o);
  if (o->bridge != 0)
    fail_msg("%s: bridge died (%s); expected accepted", body, cow_err_name(o->bridge));
}

static void b19_invalid_json(void **state)
{
  (void)state;
  outcome_t o;
  answer(RK_STACKS, "{\"Result\":0,", &o);
  assert_int_equal(o.status, COW_EBRIDGE_CLOSED);
  assert_int_equal(o.bridge, COW_EPROTOCOL);
  assert_non_null(strstr(o.msg, "not valid JSON")); /* the caller sees the parse error */
  fatal(RK_STACKS, "not json");
}

static void b20_trailing_garbage(void **state)
{
  (void)state;
  outcome_t o;
  fatal(RK_STACKS, "{\"Result\":0} x");
  fatal(RK_STACKS, "{\"Result\":0}{\"Result\":0}");
  accepted(RK_STACKS, "{\"Result\":0,\"GuestStacks\":\"ws\"}  \t", &o);
  assert_string_equal(o.text, "ws");
  accepted(RK_STACKS, "{\"Result\":0,\"GuestStacks\":\"nl\"}\n", &o);
  assert_string_equal(o.text, "nl");
}

static void b21_top_level_values(void **state)
{
  (void)state;
  outcome_t o;
  accepted(RK_STACKS, "null", &o); /* zero value: success, no stacks */
  assert_int_equal(o.status, 0);
  assert_string_equal(o.text, "");
  fatal(RK_STACKS, "[]");
  fatal(RK_STACKS, "\"str\"");
  fatal(RK_STACKS, "42");
}

static void b22_result_range(void **state)
{
  (void)state;
  outcome_t o;
  fatal(RK_STACKS, "{\"Result\":2147943568}");
  accepted(RK_STACKS, "{\"Result\":-2147023728,\"ErrorMessage\":\"element not found\"}", &o);
  assert_true(o.status < 0);
  assert_int_equal(o.status, guest_code(0x80070490u));
  assert_int_equal(o.sys, 0x80070490u);
  assert_non_null(strstr(o.msg, "element not found"));
}

static void b23_wrong_json_types(void **state)
{
  (void)state;
  fatal(RK_STACKS, "{\"Result\":true}");
  fatal(RK_WAIT, "{\"Result\":0,\"ExitCode\":\"5\"}");
  fatal(RK_WAIT, "{\"Result\":0,\"ExitCode\":-1}");
  fatal(RK_WAIT, "{\"Result\":0,\"ExitCode\":1e2}");
  fatal(RK_WAIT, "{\"Result\":0,\"ExitCode\":100.0}");
  fatal(RK_WAIT, "{\"Result\":0,\"ExitCode\":4294967296}");
}

static void b24_activity_id(void **state)
{
  (void)state;
  outcome_t o;
  fatal(RK_STACKS, "{\"Result\":0,\"ActivityId\":\"nope\"}");
  fatal(RK_STACKS, "{\"Result\":0,\"ActivityId\":\"\"}");
  accepted(RK_STACKS, "{\"Result\":0}", &o);
  assert_int_equal(o.status, 0);
  accepted(RK_STACKS, "{\"Result\":0,\"ActivityId\":null}", &o);
  assert_int_equal(o.status, 0);
}

/* B25: unknown fields are ignored. C choice: keys are matched case-sensitively (the real
 * guest's json.Marshal never varies the case); "exitcode" is an unknown field. */
static void b25_unknown_fields_and_key_case(void **state)
{
  (void)state;
  outcome_t o;
  accepted(RK_STACKS, "{\"Result\":0,\"Bogus\":[1,{\"x\":null}],\"GuestStacks\":\"g\"}", &o);
  assert_int_equal(o.status, 0);
  assert_string_equal(o.text, "g");
  accepted(RK_WAIT, "{\"Result\":0,\"ExitCode\":5,\"Extra\":\"x\"}", &o);
  assert_int_equal(o.code, 5);
  accepted(RK_WAIT, "{\"result\":0,\"exitcode\":5}", &o);
  assert_int_equal(o.status, 0);
  assert_int_equal(o.code, 0); /* not read: case-sensitive keys */
}

static void s_nul_id(sg_t *g)
{
  sg_negotiate(g, NULL);
  uint64_t id;
  json_decref(sg_expect(g, COW__MSG_DUMP_STACKS, &id));
  sg_send(g, COW__MSG_CONTAINER_NOTIFICATION, 0,
          "{\"ContainerId\":\"" CID "\\u0000x\",\"Type\":\"ForcedExit\",\"Result\":0}");
  sg_send(g, COW__MSG_DUMP_STACKS_RESPONSE, id, OK_BODY);
  sg_drain_bridge(g);
}

/* B26: C choice: \u0000 is kept in the document (C strings handed to the caller end at
 * it); a lone surrogate and raw invalid UTF-8 are rejected (fatal); an embedded NUL in a
 * notification's ContainerId does not match a container whose id is a prefix. */
static void b26_odd_strings(void **state)
{
  (void)state;
  outcome_t o;
  accepted(RK_STACKS, "{\"Result\":0,\"GuestStacks\":\"a\\u0000b\"}", &o);
  assert_int_equal(o.status, 0);
  assert_string_equal(o.text, "a");
  accepted(RK_STACKS, "{\"Result\":-2147467259,\"ErrorMessage\":\"bad\\u0000tail\"}", &o);
  assert_true(o.status < 0);
  assert_non_null(strstr(o.msg, "bad"));
  fatal(RK_STACKS, "{\"Result\":0,\"GuestStacks\":\"\\ud800\"}");
  fatal(RK_STACKS, "{\"Result\":0,\"GuestStacks\":\"\xff\xfe\"}");
  /* "CID\0x" must not end the wait of CID (it is not CID); the bridge stays up. */
  sg_t g = {0};
  sg_start_ok(&g, s_nul_id, NULL, 0);
  cow_container_t *c;
  sg_res_t w = {0}, d = {0};
  assert_int_equal(cow_guest_open_container(&c, g.host, CID), 0);
  assert_int_equal(cow_container_wait(c, sg_on_cont, &w), 0);
  assert_int_equal(cow_guest_dump_stacks(g.host, sg_on_text, &d), 0);
  sg_run_until(&g, &d.calls); /* answered after the notification */
  assert_int_equal(d.status, 0);
  assert_int_equal(w.calls, 0);
  assert_int_equal(sg_bridge_error(&g, NULL, 0), 0);
  sg_close_container(&g, c);
  sg_finish(&g);
  assert_int_equal(w.calls, 1); /* released by the close */
  assert_int_equal(d.calls, 1);
}

/* B27: 20,000 '[' inside 64 KiB: the parser fails cleanly, the bridge dies. */
static void b27_deep_nesting(void **state)
{
  (void)state;
  size_t n = 20000;
  char *body = malloc(n + 64);
  int k = snprintf(body, 64, "{\"Result\":0,\"X\":");
  memset(body + k, '[', n);
  body[k + n] = '\0';
  fatal(RK_STACKS, body);
  /* the same depth, closed properly: still refused (jansson's depth limit), not a crash */
  char *closed = malloc(2 * n + 64);
  k = snprintf(closed, 64, "{\"Result\":0,\"X\":");
  memset(closed + k, '[', n);
  memset(closed + k + n, ']', n);
  strcpy(closed + k + 2 * n, "}");
  fatal(RK_STACKS, closed);
  free(body);
  free(closed);
}

/* B28: a 60 KiB ErrorMessage and many ErrorRecords: surfaced, records in detail_json. */
static void b28_huge_error_message(void **state)
{
  (void)state;
  size_t n = 60 * 1024 - 2048;
  char *body = malloc(n + 4096);
  char *q = body + sprintf(body, "{\"Result\":-2147467259,\"ErrorMessage\":\"");
  memset(q, 'm', n);
  q += n;
  q += sprintf(q, "\",\"ErrorRecords\":[");
  for (int i = 0; i < 20; i++)
    q += sprintf(q, "%s{\"Result\":-2147467259,\"Message\":\"r%d\",\"Line\":%d}", i ? "," : "", i,
                 i);
  strcpy(q, "]}");
  outcome_t o;
  accepted(RK_STACKS, body, &o);
  assert_true(o.status < 0);
  assert_non_null(strstr(o.msg, "mmmmmmmm"));
  free(body);
}

/* B29: ErrorRecords edge values are accepted. */
static void b29_error_record_edges(void **state)
{
  (void)state;
  outcome_t o;
  accepted(RK_STACKS,
           "{\"Result\":-2147467259,\"ErrorMessage\":\"e\",\"ErrorRecords\":[{\"Result\":"
           "-2147467259,\"Message\":\"m\",\"Line\":4294967295,\"FileName\":\"\"}]}",
           &o);
  assert_true(o.status < 0);
  assert_int_equal(o.sys, 0x80004005u);
}

/* B30: JSON-in-string Properties (responses) and ResultInfo (notifications). */
static void b30_json_in_string_fields(void **state)
{
  (void)state;
  outcome_t o;
  fatal(RK_PROPS, "{\"Result\":0,\"Properties\":{}}");
  fatal(RK_PROPS, "{\"Result\":0,\"Properties\":\"\"}");
  accepted(RK_PROPS, "{\"Result\":0,\"Properties\":\"{}\"}", &o);
  assert_int_equal(o.status, 0);
  assert_string_equal(o.text, "{}");
  accepted(RK_PROPS, "{\"Result\":0,\"Properties\":null}", &o);
  assert_int_equal(o.status, 0);
  assert_string_equal(o.text, "{}");
}

/* D46: ResultInfo "" and an object are fatal; absent and a JSON string are fine. */
static void d46_notification_result_info(void **state)
{
  (void)state;
  outcome_t o;
#define NOTE(ri) "{\"ContainerId\":\"" CID "\",\"Type\":\"UnexpectedExit\",\"Result\":0" ri "}"
  fatal(RK_NOTIFY, NOTE(",\"ResultInfo\":\"\""));
  fatal(RK_NOTIFY, NOTE(",\"ResultInfo\":{\"a\":1}"));
  accepted(RK_NOTIFY, NOTE(""), &o);
  assert_int_equal(o.status, 0);
  assert_string_equal(o.text, "UnexpectedExit");
  accepted(RK_NOTIFY, NOTE(",\"ResultInfo\":\"{\\\"a\\\":1}\""), &o);
  assert_int_equal(o.status, 0);
#undef NOTE
}

/* ======================= C. Negotiation ======================= */

/* Answer the negotiate with sarg; then (iarg 1) serve host Create/Start, else expect EOF. */
static void s_negotiate_with(sg_t *g)
{
  sg_negotiate(g, g->sarg);
  if (g->iarg == 0) {
    sg_expect_eof(g);
    return;
  }
  sg_drain_bridge(g);
}

static int negotiate_with(const char *answer, int expect_ok, cow_error_t *err)
{
  sg_t g = {0};
  g.iarg = expect_ok;
  g.sarg = answer;
  sg_start(&g, s_negotiate_with, NULL, 0);
  sg_run_until(&g, &g.connected);
  int status = g.conn_status;
  unsigned flags = cow_guest_capability_flags(g.host);
  if (err)
    cow_error_copy(err, &g.conn_err);
  if (!expect_ok) {
    /* the connection is closed and refuses everything */
    assert_true(sg_bridge_error(&g, NULL, 0) != 0);
  }
  sg_finish(&g);
  assert_int_equal(g.connected, 1);
  return status < 0 ? status : (int)flags;
}

#define CAPS(os, gdc) "{\"Result\":0,\"Version\":4,\"Capabilities\":{\"RuntimeOsType\":" os gdc "}}"

static void c32_wrong_version(void **state)
{
  (void)state;
  assert_int_equal(negotiate_with("{\"Result\":0,\"Version\":3,\"Capabilities\":{\"RuntimeOsType\":"
                                  "\"Linux\"}}",
                                  0, NULL),
                   COW_EPROTOCOL);
  assert_int_equal(negotiate_with("{\"Result\":0,\"Version\":5,\"Capabilities\":{\"RuntimeOsType\":"
                                  "\"Linux\"}}",
                                  0, NULL),
                   COW_EPROTOCOL);
}

static void c33_negotiate_error(void **state)
{
  (void)state;
  cow_error_t err = COW_ERROR_INIT;
  char body[128];
  snprintf(body, sizeof body, "{\"Result\":%d,\"ErrorMessage\":\"unsupported\"}", HR(0xC037010C));
  int rc = negotiate_with(body, 0, &err);
  assert_true(rc < 0);
  assert_int_equal(rc, guest_code(0xC037010Cu));
  assert_int_equal(err.sys_code, 0xC037010Cu);
  cow_error_clear(&err);
}

static void c34_guest_defined_capabilities(void **state)
{
  (void)state;
  /* absent: accepted, every flag false (HEAD hcsshim fails here; the C choice is lenient) */
  assert_int_equal(negotiate_with(CAPS("\"Linux\"", ""), 1, NULL), 0);
  assert_int_equal(negotiate_with(CAPS("\"Linux\"", ",\"GuestDefinedCapabilities\":null"), 1, NULL),
                   0);
  assert_int_equal(negotiate_with(CAPS("\"Linux\"", ",\"GuestDefinedCapabilities\":{}"), 1, NULL),
                   0);
  assert_int_equal(
      negotiate_with(CAPS("\"Linux\"", ",\"GuestDefinedCapabilities\":{\"DumpStacksSupported\":"
                                       "true}"),
                     1, NULL),
      (int)COW_GUEST_CAP_DUMP_STACKS);
  assert_int_equal(
      negotiate_with(CAPS("\"Linux\"", ",\"GuestDefinedCapabilities\":\"x\""), 0, NULL),
      COW_EPROTOCOL);
}

static void c35_runtime_os_type(void **state)
{
  (void)state;
  assert_int_equal(negotiate_with("{\"Result\":0,\"Version\":4,\"Capabilities\":{}}", 0, NULL),
                   COW_ENOTSUP);
  assert_int_equal(negotiate_with(CAPS("\"windows\"", ""), 0, NULL), COW_ENOTSUP);
  assert_int_equal(negotiate_with(CAPS("\"LINUX\"", ""), 1, NULL), 0);
}

/* C36: SendHostCreateMessage (and SendHostStartMessage): Create with the null id and a
 * ContainerConfig string holding "SystemType":"Container", then Start when asked. iarg:
 * bit 0 start requested, bit 1 fail the Create, bit 2 fail the Start. */
static void s_host_create(sg_t *g)
{
  int start = g->iarg & 1;
  char neg[512];
  snprintf(neg, sizeof neg,
           "{\"Result\":0,\"Version\":4,\"Capabilities\":{\"RuntimeOsType\":\"Linux\","
           "\"SendHostCreateMessage\":true,\"SendHostStartMessage\":%s}}",
           start ? "true" : "false");
  sg_negotiate(g, neg);
  uint64_t id;
  json_t *c = sg_expect(g, COW__MSG_CREATE, &id);
  SG_CHECK(g, strcmp(jstr(c, "ContainerId"), NULL_ID) == 0);
  json_t *cfg = json_object_get(c, "ContainerConfig");
  SG_CHECK(g, json_is_string(cfg));
  json_t *inner = json_loads(json_string_value(cfg), 0, NULL);
  SG_CHECK(g, strcmp(jstr(inner, "SystemType"), "Container") == 0);
  json_decref(inner);
  json_decref(c);
  char err[64];
  snprintf(err, sizeof err, "{\"Result\":%d}", HR(0x80004005));
  sg_send(g, COW__MSG_CREATE_RESPONSE, id, g->iarg & 2 ? err : OK_BODY);
  if (start && !(g->iarg & 2)) {
    json_t *s = sg_expect(g, COW__MSG_START, &id);
    SG_CHECK(g, strcmp(jstr(s, "ContainerId"), NULL_ID) == 0);
    json_decref(s);
    sg_send(g, COW__MSG_START_RESPONSE, id, g->iarg & 4 ? err : OK_BODY);
  }
  /* nothing else: the host's next frame (if connected) is the test's ModifySettings */
  cow__frame_t f = {0};
  int rc = sg_read(g, &f);
  if (rc == 1) {
    SG_CHECK(g, f.hdr.type == COW__MSG_MODIFY_SETTINGS);
    sg_send(g, COW__FRAME_RESPONSE_OF(f.hdr.type), f.hdr.id, OK_BODY);
    cow__frame_release(&f);
    sg_drain_bridge(g);
  }
}

static void c36_host_create_and_start(void **state)
{
  (void)state;
  for (int mode = 0; mode < 5; mode++) {
    static const int modes[] = {0, 1, 2, 3, 5};
    sg_t g = {0};
    g.iarg = modes[mode];
    int ok = !(modes[mode] & 6);
    sg_start(&g, s_host_create, NULL, 0);
    sg_run_until(&g, &g.connected);
    sg_res_t d = {0};
    if (ok) {
      assert_int_equal(g.conn_status, 0);
      assert_int_equal(cow_guest_dump_stacks(g.host, sg_on_text, &d), COW_ENOTSUP);
      assert_int_equal(cow_guest_modify(g.host, "{}", sg_on_host, &d), 0);
      sg_run_until(&g, &d.calls);
    } else {
      assert_true(g.conn_status < 0);
      assert_int_equal(g.conn_err.sys_code, 0x80004005u);
    }
    sg_finish(&g);
    assert_int_equal(g.connected, 1);
  }
}

/* C37: no answer to the negotiate within the connection timeout. */
static void s_mute(sg_t *g)
{
  json_decref(sg_expect(g, COW__MSG_NEGOTIATE_PROTOCOL, NULL));
  sg_expect_eof(g);
}

static void c37_no_negotiate_response(void **state)
{
  (void)state;
  sg_t g = {0};
  cow_guest_options_t o = COW_GUEST_OPTIONS_INIT;
  o.connect_timeout_ms = 100;
  sg_start(&g, s_mute, &o, 0);
  sg_run_until(&g, &g.connected);
  assert_int_equal(g.conn_status, COW_ETIMEDOUT);
  assert_int_equal(sg_bridge_error(&g, NULL, 0), COW_ETIMEDOUT);
  /* Connected, then mute: said as such, not as "no guest connected". */
  if (g.conn_err.message == NULL ||
      strstr(g.conn_err.message, "connected but did not answer the protocol negotiation") == NULL)
    fail_msg("connect error \"%s\"", g.conn_err.message ? g.conn_err.message : "(none)");
  sg_finish(&g);
  assert_int_equal(g.connected, 1);
}

/* C38: a notification before the negotiate answer (no container is known yet): C choice,
 * dropped with a log line, as for any unknown container. */
static void s_early_notification(sg_t *g)
{
  uint64_t id;
  json_decref(sg_expect(g, COW__MSG_NEGOTIATE_PROTOCOL, &id));
  sg_send(g, COW__MSG_CONTAINER_NOTIFICATION, 0,
          "{\"ContainerId\":\"early\",\"Type\":\"UnexpectedExit\",\"Result\":0}");
  sg_send(g, COW__MSG_NEGOTIATE_PROTOCOL_RESPONSE, id, SG_NEGOTIATED);
  sg_drain_bridge(g);
}

static void c38_notification_before_negotiate_response(void **state)
{
  (void)state;
  sg_t g = {0};
  sg_start_ok(&g, s_early_notification, NULL, 0);
  assert_int_equal(sg_bridge_error(&g, NULL, 0), 0);
  sg_finish(&g);
}

/* ======================= D. Container RPCs ======================= */

/* D39, D41, D47, D48, D49, D50: the shape of every container and UVM request. */
static void s_container_rpcs(sg_t *g)
{
  sg_negotiate(g, NULL);
  uint64_t id;
  /* D39 Create */
  json_t *j = sg_expect(g, COW__MSG_CREATE, &id);
  SG_CHECK(g, strcmp(jstr(j, "ContainerId"), CID) == 0);
  json_t *cfg = json_object_get(j, "ContainerConfig");
  SG_CHECK(g, json_is_string(cfg));
  json_t *doc = json_loads(json_string_value(cfg), 0, NULL);
  json_t *sv = json_object_get(doc, "SchemaVersion");
  SG_CHECK(g, json_integer_value(json_object_get(sv, "Major")) == 2);
  SG_CHECK(g, json_integer_value(json_object_get(sv, "Minor")) == 1);
  SG_CHECK(g, json_is_string(json_object_get(doc, "OciBundlePath")));
  SG_CHECK(g, json_is_string(json_object_get(doc, "ScratchDirPath")));
  json_t *spec = json_object_get(doc, "OciSpecification");
  SG_CHECK(g, json_is_object(json_object_get(spec, "linux")));
  SG_CHECK(g, json_is_object(json_object_get(spec, "process")));
  SG_CHECK(g, json_is_object(json_object_get(spec, "root")));
  json_decref(doc);
  json_decref(j);
  sg_send(g, COW__MSG_CREATE_RESPONSE, id, OK_BODY);
  /* D41 Start: the base only */
  j = sg_expect(g, 0x10100201u, &id);
  SG_CHECK(g, strcmp(jstr(j, "ContainerId"), CID) == 0);
  const char *k;
  json_t *v;
  json_object_foreach(j, k, v)
  {
    (void)v;
    if (strcmp(k, "ContainerId") != 0 && strcmp(k, "ActivityId") != 0)
      sg_fail(g, "Start carries %s", k);
  }
  json_decref(j);
  sg_send(g, COW__MSG_START_RESPONSE, id, OK_BODY);
  /* D47 GetProperties v1 then v2: Query is a string */
  static const char *const types[] = {"ProcessList", "Statistics"};
  for (int i = 0; i < 2; i++) {
    j = sg_expect(g, 0x10100901u, &id);
    SG_CHECK(g, strcmp(jstr(j, "ContainerId"), CID) == 0);
    json_t *q = json_loads(jstr(j, "Query"), 0, NULL);
    json_t *pt = json_object_get(q, "PropertyTypes");
    SG_CHECK(g, json_array_size(pt) == 1 &&
                    strcmp(json_string_value(json_array_get(pt, 0)), types[i]) == 0);
    json_decref(q);
    json_decref(j);
    sg_send(g, COW__MSG_GET_PROPERTIES_RESPONSE, id,
            "{\"Result\":0,\"Properties\":\"{\\\"ProcessList\\\":[{\\\"ProcessId\\\":7}],"
            "\\\"LCOWMetrics\\\":{\\\"CPU\\\":{\\\"usage_usec\\\":12}}}\"}");
  }
  /* D48 ModifySettings on the container: the Request is an object */
  j = sg_expect(g, 0x10100a01u, &id);
  SG_CHECK(g, strcmp(jstr(j, "ContainerId"), CID) == 0);
  json_t *req = json_object_get(j, "Request");
  SG_CHECK(g, json_is_object(req));
  SG_CHECK(g, strcmp(jstr(req, "ResourceType"), "ContainerConstraints") == 0);
  SG_CHECK(g, strcmp(jstr(req, "RequestType"), "Update") == 0);
  SG_CHECK(g, json_is_object(json_object_get(req, "Settings")));
  json_decref(j);
  sg_send(g, COW__MSG_MODIFY_SETTINGS_RESPONSE, id, OK_BODY);
  /* D48 on the UVM: the null id */
  j = sg_expect(g, 0x10100a01u, &id);
  SG_CHECK(g, strcmp(jstr(j, "ContainerId"), NULL_ID) == 0);
  req = json_object_get(j, "Request");
  SG_CHECK(g, strcmp(jstr(req, "ResourceType"), "MappedVirtualDisk") == 0);
  SG_CHECK(g, strcmp(jstr(req, "RequestType"), "Add") == 0);
  SG_CHECK(g, json_is_object(json_object_get(req, "Settings")));
  json_decref(j);
  sg_send(g, COW__MSG_MODIFY_SETTINGS_RESPONSE, id, OK_BODY);
  /* D50 E_NOTIMPL for an RPC: an error, the bridge stays up */
  json_decref(sg_expect(g, 0x10100a01u, &id));
  sg_sendf(g, COW__MSG_MODIFY_SETTINGS_RESPONSE, id, "{\"Result\":%d}", HR(0x80004001));
  /* D49 DeleteContainerState and DumpStacks */
  j = sg_expect(g, 0x10100d01u, &id);
  SG_CHECK(g, strcmp(jstr(j, "ContainerId"), CID) == 0);
  json_decref(j);
  sg_send(g, COW__MSG_DELETE_CONTAINER_STATE_RESPONSE, id, OK_BODY);
  j = sg_expect(g, 0x10100c01u, &id);
  SG_CHECK(g, strcmp(jstr(j, "ContainerId"), NULL_ID) == 0);
  json_decref(j);
  sg_send(g, COW__MSG_DUMP_STACKS_RESPONSE, id, "{\"Result\":0,\"GuestStacks\":\"gs\"}");
  sg_drain_bridge(g);
}

static void d39_d41_d47_d48_d49_d50_container_rpcs(void **state)
{
  (void)state;
  sg_t g = {0};
  sg_start_ok(&g, s_container_rpcs, NULL, 0);
  char *doc = sg_container_doc("/run/gcs/c/" CID);
  cow_container_t *c = NULL;
  sg_res_t r = {0};
  assert_int_equal(cow_guest_create_container(&c, g.host, CID, doc, sg_on_cont, &r), 0);
  free(doc);
  assert_non_null(c);
  sg_run_until(&g, &r.calls);
  assert_int_equal(r.status, 0);
  memset(&r, 0, sizeof r);
  assert_int_equal(cow_container_start(c, sg_on_cont, &r), 0);
  sg_run_until(&g, &r.calls);
  assert_int_equal(r.status, 0);
  for (int i = 0; i < 2; i++) {
    memset(&r, 0, sizeof r);
    assert_int_equal(i == 0 ? cow_container_properties(c, NULL, sg_on_json, &r)
                            : cow_container_properties_v2(c, NULL, sg_on_json, &r),
                     0);
    sg_run_until(&g, &r.calls);
    assert_int_equal(r.status, 0);
    json_t *props = json_loads(r.text, 0, NULL);
    assert_non_null(props);
    json_t *pl = json_object_get(props, "ProcessList");
    assert_int_equal(json_integer_value(json_object_get(json_array_get(pl, 0), "ProcessId")), 7);
    assert_int_equal(
        json_integer_value(json_object_get(
            json_object_get(json_object_get(props, "LCOWMetrics"), "CPU"), "usage_usec")),
        12);
    json_decref(props);
  }
  memset(&r, 0, sizeof r);
  assert_int_equal(
      cow_container_modify(c,
                           "{\"ResourceType\":\"ContainerConstraints\",\"RequestType\":"
                           "\"Update\",\"Settings\":{\"Linux\":{}}}",
                           sg_on_cont, &r),
      0);
  sg_run_until(&g, &r.calls);
  assert_int_equal(r.status, 0);
  memset(&r, 0, sizeof r);
  assert_int_equal(
      cow_guest_modify(g.host,
                       "{\"ResourceType\":\"MappedVirtualDisk\",\"RequestType\":\"Add\","
                       "\"Settings\":{\"Controller\":0}}",
                       sg_on_host, &r),
      0);
  sg_run_until(&g, &r.calls);
  assert_int_equal(r.status, 0);
  memset(&r, 0, sizeof r);
  assert_int_equal(cow_guest_modify(g.host, "{}", sg_on_host, &r), 0);
  sg_run_until(&g, &r.calls);
  assert_int_equal(r.status, guest_code(0x80004001u));
  assert_int_equal(r.sys, 0x80004001u);
  assert_int_equal(sg_bridge_error(&g, NULL, 0), 0);
  memset(&r, 0, sizeof r);
  assert_int_equal(cow_guest_delete_container_state(g.host, CID, sg_on_host, &r), 0);
  sg_run_until(&g, &r.calls);
  assert_int_equal(r.status, 0);
  memset(&r, 0, sizeof r);
  assert_int_equal(cow_guest_dump_stacks(g.host, sg_on_text, &r), 0);
  sg_run_until(&g, &r.calls);
  assert_string_equal(r.text, "gs");
  sg_close_container(&g, c);
  sg_finish(&g);
  assert_int_equal(r.calls, 1);
}

/* D40: Create fails with 0xC037010F; the slot is freed, so a retry reaches the wire. */
static void s_create_fail(sg_t *g)
{
  sg_negotiate(g, NULL);
  uint64_t id;
  json_decref(sg_expect(g, COW__MSG_CREATE, &id));
  sg_sendf(g, COW__MSG_CREATE_RESPONSE, id, "{\"Result\":%d,\"ErrorMessage\":\"config bad\"}",
           HR(0xC037010F));
  json_decref(sg_expect(g, COW__MSG_CREATE, &id));
  sg_send(g, COW__MSG_CREATE_RESPONSE, id, OK_BODY);
  sg_drain_bridge(g);
}

static void d40_create_failure_and_retry(void **state)
{
  (void)state;
  sg_t g = {0};
  sg_start_ok(&g, s_create_fail, NULL, 0);
  char *doc = sg_container_doc("/b");
  cow_container_t *c;
  sg_res_t r = {0}, w = {0};
  assert_int_equal(cow_guest_create_container(&c, g.host, CID, doc, sg_on_cont, &r), 0);
  assert_int_equal(cow_container_wait(c, sg_on_cont, &w), 0);
  sg_run_until(&g, &r.calls);
  assert_int_equal(r.status, guest_code(0xC037010Fu));
  assert_int_equal(r.sys, 0xC037010Fu);
  assert_non_null(strstr(r.msg, "config bad"));
  sg_run_until(&g, &w.calls);
  assert_int_equal(w.status, r.status);
  cow_container_t *c2;
  sg_res_t r2 = {0};
  assert_int_equal(cow_guest_create_container(&c2, g.host, CID, doc, sg_on_cont, &r2), 0);
  free(doc);
  sg_run_until(&g, &r2.calls);
  assert_int_equal(r2.status, 0);
  sg_close_container(&g, c);
  sg_close_container(&g, c2);
  sg_finish(&g);
  assert_int_equal(r.calls + w.calls + r2.calls, 3);
}

/* D43: shutdown answered "not found" or "already stopped" (both forms): success. */
static void s_already_stopped(sg_t *g)
{
  sg_negotiate(g, NULL);
  uint64_t id;
  json_decref(sg_expect(g, COW__MSG_CREATE, &id));
  sg_send(g, COW__MSG_CREATE_RESPONSE, id, OK_BODY);
  static const uint32_t hr[] = {0xC037010Eu, 0xC0370110u, 0x80370110u, 0x80004005u};
  for (int i = 0; i < 4; i++) {
    cow__frame_t f = {0};
    if (sg_read(g, &f) != 1)
      return;
    SG_CHECK(g, f.hdr.type == COW__MSG_SHUTDOWN_GRACEFUL || f.hdr.type == COW__MSG_SHUTDOWN_FORCED);
    sg_sendf(g, COW__FRAME_RESPONSE_OF(f.hdr.type), f.hdr.id, "{\"Result\":%d}", HR(hr[i]));
    cow__frame_release(&f);
  }
  sg_drain_bridge(g);
}

static void d43_shutdown_already_stopped(void **state)
{
  (void)state;
  sg_t g = {0};
  sg_start_ok(&g, s_already_stopped, NULL, 0);
  char *doc = sg_container_doc("/b");
  cow_container_t *c;
  sg_res_t r = {0};
  assert_int_equal(cow_guest_create_container(&c, g.host, CID, doc, sg_on_cont, &r), 0);
  free(doc);
  sg_run_until(&g, &r.calls);
  for (int i = 0; i < 4; i++) {
    memset(&r, 0, sizeof r);
    assert_int_equal(i % 2 ? cow_container_terminate(c, sg_on_cont, &r)
                           : cow_container_shutdown(c, sg_on_cont, &r),
                     0);
    sg_run_until(&g, &r.calls);
    if (i < 3)
      assert_int_equal(r.status, 0);
    else
      assert_int_equal(r.status, guest_code(0x80004005u)); /* a real error is one */
  }
  sg_close_container(&g, c);
  sg_finish(&g);
  assert_int_equal(r.calls, 1);
}

/* D44: shutdown never answered: the caller's deadline, the bridge stays up, the late
 * answer is absorbed. */
static void s_shutdown_late(sg_t *g)
{
  sg_negotiate(g, NULL);
  uint64_t id, s;
  json_decref(sg_expect(g, COW__MSG_CREATE, &id));
  sg_send(g, COW__MSG_CREATE_RESPONSE, id, OK_BODY);
  json_decref(sg_expect(g, COW__MSG_SHUTDOWN_GRACEFUL, &s));
  sg_wait_host(g);
  sg_send(g, COW__MSG_SHUTDOWN_GRACEFUL_RESPONSE, s, OK_BODY);
  json_decref(sg_expect(g, COW__MSG_DUMP_STACKS, &id));
  sg_send(g, COW__MSG_DUMP_STACKS_RESPONSE, id, OK_BODY);
  sg_drain_bridge(g);
}

static void d44_shutdown_never_answered(void **state)
{
  (void)state;
  sg_t g = {0};
  sg_start_ok(&g, s_shutdown_late, NULL, 0);
  char *doc = sg_container_doc("/b");
  cow_container_t *c;
  sg_res_t r = {0}, s = {0}, d = {0};
  assert_int_equal(cow_guest_create_container(&c, g.host, CID, doc, sg_on_cont, &r), 0);
  free(doc);
  sg_run_until(&g, &r.calls);
  assert_int_equal(cow_container_set_timeout(c, COW_TIMEOUT_SHUTDOWN, 30), 0);
  assert_int_equal(cow_container_shutdown(c, sg_on_cont, &s), 0);
  sg_run_until(&g, &s.calls);
  assert_int_equal(s.status, COW_ETIMEDOUT);
  assert_int_equal(sg_bridge_error(&g, NULL, 0), 0);
  sg_signal(&g);
  assert_int_equal(cow_guest_dump_stacks(g.host, sg_on_text, &d), 0);
  sg_run_until(&g, &d.calls);
  assert_int_equal(d.status, 0);
  assert_int_equal(sg_bridge_error(&g, NULL, 0), 0);
  sg_close_container(&g, c);
  sg_finish(&g);
  assert_int_equal(r.calls + s.calls + d.calls, 3);
}

/* D45: notifications for an unknown container and a second one for the same container
 * are dropped (C choice); an unknown notification type is fatal. */
static void s_notifications(sg_t *g)
{
  sg_negotiate(g, NULL);
  uint64_t id;
  json_decref(sg_expect(g, COW__MSG_DUMP_STACKS, &id));
  sg_send(g, COW__MSG_CONTAINER_NOTIFICATION, 0,
          "{\"ContainerId\":\"nobody\",\"Type\":\"UnexpectedExit\",\"Result\":0}");
  for (int i = 0; i < 2; i++)
    sg_send(g, COW__MSG_CONTAINER_NOTIFICATION, 0,
            "{\"ContainerId\":\"k1\",\"Type\":\"GracefulExit\",\"Result\":0}");
  sg_send(g, COW__MSG_DUMP_STACKS_RESPONSE, id, OK_BODY);
  json_decref(sg_expect(g, COW__MSG_DUMP_STACKS, &id));
  sg_send(g, 0x30100201u, 0, "{\"ContainerId\":\"k1\"}");
  sg_drain_bridge(g);
}

static void d45_notification_routing(void **state)
{
  (void)state;
  sg_t g = {0};
  sg_start_ok(&g, s_notifications, NULL, 0);
  cow_container_t *c;
  sg_res_t w = {0}, d = {0}, d2 = {0};
  assert_int_equal(cow_guest_open_container(&c, g.host, "k1"), 0);
  assert_int_equal(cow_container_wait(c, sg_on_cont, &w), 0);
  assert_int_equal(cow_guest_dump_stacks(g.host, sg_on_text, &d), 0);
  sg_run_until(&g, &d.calls);
  sg_run_until(&g, &w.calls);
  assert_int_equal(w.status, 0);
  assert_string_equal(cow_guest_container_exit_type(c), "GracefulExit");
  assert_int_equal(sg_bridge_error(&g, NULL, 0), 0);
  assert_int_equal(cow_guest_dump_stacks(g.host, sg_on_text, &d2), 0);
  sg_run_until(&g, &d2.calls);
  assert_int_equal(d2.status, COW_EBRIDGE_CLOSED);
  expect_fatal(&g, COW_EPROTOCOL, "unknown notification");
  sg_close_container(&g, c);
  sg_finish(&g);
  assert_int_equal(w.calls + d.calls + d2.calls, 3);
}

/* ======================= E. Processes and stdio ======================= */

static json_t *expect_exec(sg_t *g, uint64_t *id)
{
  return sg_expect(g, COW__MSG_EXECUTE_PROCESS, id);
}

/* E51: ports 1/2/3, then 4/5/6, then one port for stdout only; listeners exist before the
 * ExecuteProcess frame (the dial succeeds before any answer). */
static void s_ports(sg_t *g)
{
  sg_negotiate(g, NULL);
  int fds[7] = {-1, -1, -1, -1, -1, -1, -1};
  uint64_t waits[3];
  int nfd = 0;
  static const char *const names[3] = {"StdIn", "StdOut", "StdErr"};
  for (int e = 0; e < 3; e++) {
    uint64_t id;
    json_t *j = expect_exec(g, &id);
    for (int i = 0; i < 3; i++) {
      uint32_t port = relay_port(j, names[i]);
      uint32_t want =
          e < 2 ? 0x40000001u + 3u * (uint32_t)e + (uint32_t)i : (i == 1 ? 0x40000007u : 0);
      if (port != want)
        sg_fail(g, "exec %d %s port 0x%x, expected 0x%x", e, names[i], port, want);
      if (port) {
        fds[nfd] = sg_dial(g, port);
        if (fds[nfd] < 0)
          sg_fail(g, "port 0x%x is not listening when ExecuteProcess arrives", port);
        nfd++;
      }
    }
    json_decref(j);
    sg_sendf(g, COW__MSG_EXECUTE_PROCESS_RESPONSE, id, "{\"Result\":0,\"ProcessId\":%d}", e + 1);
    json_decref(sg_expect(g, COW__MSG_WAIT_FOR_PROCESS, &waits[e]));
  }
  for (int i = 0; i < nfd; i++)
    close(fds[i]);
  for (int e = 0; e < 3; e++)
    sg_send(g, COW__MSG_WAIT_FOR_PROCESS_RESPONSE, waits[e], "{\"Result\":0,\"ExitCode\":0}");
  sg_drain_bridge(g);
}

static void e51_port_allocation(void **state)
{
  (void)state;
  sg_t g = {0};
  sg_start_ok(&g, s_ports, NULL, 1);
  static const char *const cfg[3] = {
      "{\"CommandArgs\":[\"x\"],\"CreateStdInPipe\":true,\"CreateStdOutPipe\":true,"
      "\"CreateStdErrPipe\":true}",
      "{\"CommandArgs\":[\"x\"],\"CreateStdInPipe\":true,\"CreateStdOutPipe\":true,"
      "\"CreateStdErrPipe\":true}",
      "{\"CommandArgs\":[\"x\"],\"CreateStdOutPipe\":true}"};
  cow_process_t *p[3];
  sg_res_t cr[3] = {{0}}, w[3] = {{0}};
  cap_t out[3], err[2];
  for (int i = 0; i < 3; i++) {
    assert_int_equal(cow_host_create_process(&p[i], g.host, cfg[i], sg_on_proc, &cr[i]), 0);
    assert_int_equal(cow_process_wait(p[i], sg_on_wait, &w[i]), 0);
    sg_run_until(&g, &cr[i].calls);
    assert_int_equal(cr[i].status, 0);
    capture(p[i], COW_STDOUT, &out[i]);
    if (i < 2)
      capture(p[i], COW_STDERR, &err[i]);
  }
  for (int i = 0; i < 3; i++) {
    sg_run_until(&g, &w[i].calls);
    assert_int_equal(w[i].status, 0);
    sg_close_process(&g, p[i]);
  }
  uncapture();
  sg_finish(&g);
  for (int i = 0; i < 3; i++)
    assert_int_equal(cr[i].calls + w[i].calls, 2);
}

/* E52: no pipes: "VsockStdioRelaySettings":{} and no listener (nothing in the port dir). */
static void s_no_pipes(sg_t *g)
{
  sg_negotiate(g, NULL);
  uint64_t id;
  json_t *j = expect_exec(g, &id);
  json_t *relay = json_object_get(json_object_get(j, "Settings"), "VsockStdioRelaySettings");
  SG_CHECK(g, json_is_object(relay) && json_object_size(relay) == 0);
  json_t *pp = json_object_get(json_object_get(j, "Settings"), "ProcessParameters");
  SG_CHECK(g, json_is_string(pp));
  json_decref(j);
  /* the port directory is empty while the exec is in flight */
  char cmd[128];
  snprintf(cmd, sizeof cmd, "test -z \"$(ls -A %s)\"", g->dir);
  SG_CHECK(g, system(cmd) == 0);
  sg_send(g, COW__MSG_EXECUTE_PROCESS_RESPONSE, id, "{\"Result\":0,\"ProcessId\":3}");
  json_decref(sg_expect(g, COW__MSG_WAIT_FOR_PROCESS, &id));
  sg_send(g, COW__MSG_WAIT_FOR_PROCESS_RESPONSE, id, "{\"Result\":0,\"ExitCode\":0}");
  sg_drain_bridge(g);
}

static void e52_no_pipes(void **state)
{
  (void)state;
  sg_t g = {0};
  sg_start_ok(&g, s_no_pipes, NULL, 1);
  cow_process_t *p;
  sg_res_t cr = {0}, w = {0};
  p = exec_and_wait(&g, "{\"CommandArgs\":[\"x\"]}", &cr, &w);
  sg_run_until(&g, &w.calls);
  assert_int_equal(cr.status, 0);
  assert_int_equal(w.status, 0);
  sg_close_process(&g, p);
  sg_finish(&g);
  assert_int_equal(cr.calls + w.calls, 2);
}

/* E53: exec failure after the guest dialled stdin and stdout: the host closes them and
 * the stderr listener, sends no WaitForProcess, and the next exec gets new ports. */
static void s_exec_fail(sg_t *g)
{
  sg_negotiate(g, NULL);
  uint64_t id;
  json_t *j = expect_exec(g, &id);
  int in = sg_dial(g, relay_port(j, "StdIn"));
  int out = sg_dial(g, relay_port(j, "StdOut"));
  SG_CHECK(g, in >= 0 && out >= 0);
  json_decref(j);
  sg_sendf(g, COW__MSG_EXECUTE_PROCESS_RESPONSE, id, "{\"Result\":%d,\"ErrorMessage\":\"no\"}",
           HR(0x80004005));
  char buf[64];
  sg_drain(in, buf, sizeof buf); /* returns: the host closed its end */
  sg_drain(out, buf, sizeof buf);
  close(in);
  close(out);
  j = expect_exec(g, &id); /* not a WaitForProcess */
  SG_CHECK(g, relay_port(j, "StdOut") == 0x40000004u);
  json_decref(j);
  sg_sendf(g, COW__MSG_EXECUTE_PROCESS_RESPONSE, id, "{\"Result\":%d}", HR(0x80004005));
  sg_drain_bridge(g);
}

static void e53_exec_failure_after_dials(void **state)
{
  (void)state;
  sg_t g = {0};
  sg_start_ok(&g, s_exec_fail, NULL, 1);
  cow_process_t *p, *q;
  sg_res_t cr = {0}, cq = {0}, w = {0};
  p = exec_and_wait(&g,
                    "{\"CommandArgs\":[\"x\"],\"CreateStdInPipe\":true,\"CreateStdOutPipe\":true,"
                    "\"CreateStdErrPipe\":true}",
                    &cr, &w);
  sg_run_until(&g, &cr.calls);
  assert_int_equal(cr.status, guest_code(0x80004005u));
  assert_non_null(strstr(cr.msg, "no"));
  sg_run_until(&g, &w.calls);
  assert_true(w.status < 0);
  assert_int_equal(cow_host_create_process(&q, g.host,
                                           "{\"CommandArgs\":[\"x\"],\"CreateStdOutPipe\":true}",
                                           sg_on_proc, &cq),
                   0);
  sg_run_until(&g, &cq.calls);
  assert_true(cq.status < 0);
  sg_close_process(&g, p);
  sg_close_process(&g, q);
  sg_finish(&g); /* also: the port directory is empty, every listener released */
  assert_int_equal(cr.calls + cq.calls + w.calls, 3);
}

/* E54: WaitForProcess right after the exec, same ids, infinite timeout, and no host-side
 * timeout (it outlives a 100 ms RPC timeout). */
static void s_wait_shape(sg_t *g)
{
  sg_negotiate(g, NULL);
  uint64_t id;
  json_decref(sg_expect(g, COW__MSG_CREATE, &id));
  sg_send(g, COW__MSG_CREATE_RESPONSE, id, OK_BODY);
  json_t *e = expect_exec(g, &id);
  SG_CHECK(g, strcmp(jstr(e, "ContainerId"), CID) == 0);
  json_decref(e);
  sg_send(g, COW__MSG_EXECUTE_PROCESS_RESPONSE, id, "{\"Result\":0,\"ProcessId\":42}");
  json_t *w = sg_expect(g, COW__MSG_WAIT_FOR_PROCESS, &id);
  SG_CHECK(g, strcmp(jstr(w, "ContainerId"), CID) == 0);
  SG_CHECK(g, json_integer_value(json_object_get(w, "ProcessId")) == 42);
  SG_CHECK(g, json_integer_value(json_object_get(w, "TimeoutInMs")) == 4294967295LL);
  json_decref(w);
  sg_wait_host(g);
  sg_send(g, COW__MSG_WAIT_FOR_PROCESS_RESPONSE, id, "{\"Result\":0,\"ExitCode\":6}");
  sg_drain_bridge(g);
}

static void e54_wait_after_exec(void **state)
{
  (void)state;
  sg_t g = {0};
  cow_guest_options_t o = COW_GUEST_OPTIONS_INIT;
  o.rpc_timeout_ms = 100;
  sg_start_ok(&g, s_wait_shape, &o, 0);
  char *doc = sg_container_doc("/b");
  cow_container_t *c;
  sg_res_t r = {0}, cr = {0}, w = {0};
  assert_int_equal(cow_guest_create_container(&c, g.host, CID, doc, sg_on_cont, &r), 0);
  free(doc);
  sg_run_until(&g, &r.calls);
  cow_process_t *p;
  assert_int_equal(cow_host_create_process(&p, cow_container_host(c), "{}", sg_on_proc, &cr), 0);
  assert_int_equal(cow_process_wait(p, sg_on_wait, &w), 0);
  sg_run_until(&g, &cr.calls);
  assert_int_equal(cr.status, 0);
  sg_run_for(&g, 250); /* well past the RPC timeout */
  assert_int_equal(sg_bridge_error(&g, NULL, 0), 0);
  assert_int_equal(w.calls, 0);
  sg_signal(&g);
  sg_run_until(&g, &w.calls);
  assert_int_equal(w.status, 0);
  assert_int_equal(w.code, 6);
  sg_close_process(&g, p);
  sg_close_container(&g, c);
  sg_finish(&g);
  assert_int_equal(r.calls + cr.calls + w.calls, 3);
}

/* E55 (exit codes 0, 137, 4294967295: reported as the unsigned value) and E56 (a wait
 * answered "not found": C choice, an error carrying the HRESULT, not "exit 0"). */
static void e55_e56_exit_codes_and_lost_wait(void **state)
{
  (void)state;
  outcome_t o;
  static const int64_t codes[] = {0, 137, 4294967295LL};
  for (int i = 0; i < 3; i++) {
    char body[64];
    snprintf(body, sizeof body, "{\"Result\":0,\"ExitCode\":%lld}", (long long)codes[i]);
    accepted(RK_WAIT, body, &o);
    assert_int_equal(o.status, 0);
    assert_int_equal(o.code, codes[i]);
  }
  accepted(RK_WAIT, "{\"Result\":-2147023728}", &o);
  assert_int_equal(o.status, guest_code(0x80070490u));
  assert_int_equal(o.sys, 0x80070490u);
  assert_int_equal(o.code, -1);
}

/* E57: stdin data then EOF reach the guest; stdout works afterwards. */
static void s_stdin(sg_t *g)
{
  sg_negotiate(g, NULL);
  uint64_t id, w;
  json_t *j = expect_exec(g, &id);
  int in = sg_dial(g, relay_port(j, "StdIn"));
  int out = sg_dial(g, relay_port(j, "StdOut"));
  json_decref(j);
  sg_send(g, COW__MSG_EXECUTE_PROCESS_RESPONSE, id, "{\"Result\":0,\"ProcessId\":8}");
  json_decref(sg_expect(g, COW__MSG_WAIT_FOR_PROCESS, &w));
  sg_drain(in, g->text, sizeof g->text); /* the data, then EOF */
  close(in);
  sg_write_all(out, "after stdin", 11);
  close(out);
  sg_send(g, COW__MSG_WAIT_FOR_PROCESS_RESPONSE, w, "{\"Result\":0,\"ExitCode\":0}");
  sg_drain_bridge(g);
}

static int writes;
static void on_written(uv_write_t *req, int status)
{
  (void)req;
  assert_int_equal(status, 0);
  writes++;
}

static void e57_stdin_then_close_stdin(void **state)
{
  (void)state;
  sg_t g = {0};
  sg_start_ok(&g, s_stdin, NULL, 1);
  cow_process_t *p;
  sg_res_t cr = {0}, w = {0}, cs = {0};
  p = exec_and_wait(
      &g, "{\"CommandArgs\":[\"cat\"],\"CreateStdInPipe\":true,\"CreateStdOutPipe\":true}", &cr,
      &w);
  sg_run_until(&g, &cr.calls);
  assert_int_equal(cr.status, 0);
  cap_t out;
  capture(p, COW_STDOUT, &out);
  uv_stream_t *in;
  assert_int_equal(cow_process_stdio(&in, NULL, NULL, p), 0);
  static char data[] = "to the guest";
  uv_buf_t b = uv_buf_init(data, sizeof data - 1);
  uv_write_t wr;
  writes = 0;
  assert_int_equal(uv_write(&wr, in, &b, 1, on_written), 0);
  assert_int_equal(cow_process_close_stdin(p, sg_on_proc, &cs), 0);
  sg_run_until(&g, &w.calls);
  assert_int_equal(w.status, 0);
  assert_int_equal(cs.status, 0);
  assert_string_equal(out.data, "after stdin");
  assert_true(out.eof >= 1);
  sg_close_process(&g, p);
  uncapture();
  sg_finish(&g);
  assert_string_equal(g.text, "to the guest");
  assert_int_equal(writes, 1);
  assert_int_equal(cr.calls + w.calls + cs.calls, 3);
}

/* E58: the guest writes stdout, half-closes, and answers the wait only once the host has
 * closed its end after reading to EOF (the real agent's handshake). Must not deadlock. */
static void s_handshake(sg_t *g)
{
  sg_negotiate(g, NULL);
  uint64_t id, w;
  json_t *j = expect_exec(g, &id);
  int out = sg_dial(g, relay_port(j, "StdOut"));
  json_decref(j);
  sg_send(g, COW__MSG_EXECUTE_PROCESS_RESPONSE, id, "{\"Result\":0,\"ProcessId\":8}");
  json_decref(sg_expect(g, COW__MSG_WAIT_FOR_PROCESS, &w));
  sg_write_all(out, "handshake", 9);
  shutdown(out, SHUT_WR);
  char buf[16];
  sg_drain(out, buf, sizeof buf); /* blocks until the host closes its end */
  close(out);
  sg_send(g, COW__MSG_WAIT_FOR_PROCESS_RESPONSE, w, "{\"Result\":0,\"ExitCode\":0}");
  sg_drain_bridge(g);
}

static void e58_clean_close_handshake(void **state)
{
  (void)state;
  sg_t g = {0};
  sg_start_ok(&g, s_handshake, NULL, 1);
  cow_process_t *p;
  sg_res_t cr = {0}, w = {0};
  p = exec_and_wait(&g, "{\"CommandArgs\":[\"x\"],\"CreateStdOutPipe\":true}", &cr, &w);
  sg_run_until(&g, &cr.calls);
  cap_t out;
  capture(p, COW_STDOUT, &out);
  sg_run_until(&g, &w.calls);
  assert_int_equal(w.status, 0);
  assert_string_equal(out.data, "handshake");
  sg_close_process(&g, p);
  uncapture();
  sg_finish(&g);
  assert_int_equal(cr.calls + w.calls, 2);
}

/* E59: the wait is answered before the last stdout bytes and EOF: every byte arrives and
 * the exit is reported after them. */
static cap_t *e59_out;
static size_t e59_len_at_exit;
static void on_wait_e59(cow_process_t *p, int status, int64_t code, const cow_error_t *err,
                        void *data)
{
  e59_len_at_exit = e59_out->len;
  sg_on_wait(p, status, code, err, data);
}

static void s_exit_first(sg_t *g)
{
  sg_negotiate(g, NULL);
  uint64_t id, w;
  json_t *j = expect_exec(g, &id);
  int out = sg_dial(g, relay_port(j, "StdOut"));
  json_decref(j);
  sg_send(g, COW__MSG_EXECUTE_PROCESS_RESPONSE, id, "{\"Result\":0,\"ProcessId\":8}");
  json_decref(sg_expect(g, COW__MSG_WAIT_FOR_PROCESS, &w));
  sg_send(g, COW__MSG_WAIT_FOR_PROCESS_RESPONSE, w, "{\"Result\":0,\"ExitCode\":3}");
  sg_wait_host(g); /* the host has the wait answer */
  sg_write_all(out, "late bytes", 10);
  close(out);
  sg_drain_bridge(g);
}

static void e59_exit_before_final_stdout(void **state)
{
  (void)state;
  sg_t g = {0};
  sg_start_ok(&g, s_exit_first, NULL, 1);
  cow_process_t *p;
  sg_res_t cr = {0}, w = {0};
  assert_int_equal(cow_host_create_process(&p, g.host,
                                           "{\"CommandArgs\":[\"x\"],\"CreateStdOutPipe\":true}",
                                           sg_on_proc, &cr),
                   0);
  assert_int_equal(cow_process_wait(p, on_wait_e59, &w), 0);
  sg_run_until(&g, &cr.calls);
  cap_t out;
  e59_out = &out;
  capture(p, COW_STDOUT, &out);
  sg_run_for(&g, 30); /* the wait answer is in; the exit must still be held */
  assert_int_equal(w.calls, 0);
  sg_signal(&g);
  sg_run_until(&g, &w.calls);
  assert_int_equal(w.status, 0);
  assert_int_equal(w.code, 3);
  assert_int_equal(e59_len_at_exit, 10);
  assert_string_equal(out.data, "late bytes");
  sg_close_process(&g, p);
  uncapture();
  sg_finish(&g);
  assert_int_equal(cr.calls + w.calls, 2);
}

/* E60: the guest never dials stdout. C choice: the create op completes only when every
 * requested stream is connected, so it stays pending; closing the handle completes it
 * (COW_ECANCELED) and releases the listener; the wait stays registered (tombstone). */
static void s_no_dial(sg_t *g)
{
  sg_negotiate(g, NULL);
  uint64_t id, w = 0, d = 0;
  json_decref(expect_exec(g, &id));
  sg_send(g, COW__MSG_EXECUTE_PROCESS_RESPONSE, id, "{\"Result\":0,\"ProcessId\":8}");
  /* the WaitForProcess shows the exec answer was taken; the DumpStacks tells the host */
  read_pair(g, COW__MSG_WAIT_FOR_PROCESS, &w, COW__MSG_DUMP_STACKS, &d);
  sg_send(g, COW__MSG_DUMP_STACKS_RESPONSE, d, OK_BODY);
  sg_wait_host(g);
  sg_send(g, COW__MSG_WAIT_FOR_PROCESS_RESPONSE, w, "{\"Result\":0,\"ExitCode\":0}");
  json_decref(sg_expect(g, COW__MSG_DUMP_STACKS, &id));
  sg_send(g, COW__MSG_DUMP_STACKS_RESPONSE, id, OK_BODY);
  sg_drain_bridge(g);
}

static void e60_guest_never_dials(void **state)
{
  (void)state;
  sg_t g = {0};
  sg_start_ok(&g, s_no_dial, NULL, 1);
  cow_process_t *p;
  sg_res_t cr = {0}, w = {0}, d = {0};
  p = exec_and_wait(&g, "{\"CommandArgs\":[\"x\"],\"CreateStdOutPipe\":true}", &cr, &w);
  sg_res_t d0 = {0};
  assert_int_equal(cow_guest_dump_stacks(g.host, sg_on_text, &d0), 0);
  sg_run_until(&g, &d0.calls); /* the exec was answered and the wait sent */
  sg_run_for(&g, 20);
  assert_int_equal(cr.calls, 0); /* still waiting for the stdout connection */
  sg_res_t pc = {0};
  assert_int_equal(cow_process_close(p, sg_on_pclosed, &pc), 0);
  sg_run_until(&g, &pc.calls);
  assert_int_equal(cr.calls, 1);
  assert_int_equal(cr.status, COW_ECANCELED);
  assert_int_equal(w.calls, 1);
  sg_signal(&g);
  assert_int_equal(cow_guest_dump_stacks(g.host, sg_on_text, &d), 0);
  sg_run_until(&g, &d.calls);
  assert_int_equal(d.status, 0);
  assert_int_equal(sg_bridge_error(&g, NULL, 0), 0);
  sg_finish(&g); /* the stdout listener is gone from the port directory */
  assert_int_equal(cr.calls + w.calls + d.calls + d0.calls, 4);
}

/* E61: a second dial on an accepted port is refused. */
static void s_second_dial(sg_t *g)
{
  sg_negotiate(g, NULL);
  uint64_t id, w;
  json_t *j = expect_exec(g, &id);
  uint32_t port = relay_port(j, "StdOut");
  json_decref(j);
  int out = sg_dial(g, port);
  sg_send(g, COW__MSG_EXECUTE_PROCESS_RESPONSE, id, "{\"Result\":0,\"ProcessId\":8}");
  json_decref(sg_expect(g, COW__MSG_WAIT_FOR_PROCESS, &w));
  sg_wait_host(g); /* the host accepted: its create completed */
  int again = sg_dial(g, port);
  g->result[0] = again < 0;
  if (again >= 0)
    close(again);
  close(out);
  sg_send(g, COW__MSG_WAIT_FOR_PROCESS_RESPONSE, w, "{\"Result\":0,\"ExitCode\":0}");
  sg_drain_bridge(g);
}

static void e61_second_dial_refused(void **state)
{
  (void)state;
  sg_t g = {0};
  sg_start_ok(&g, s_second_dial, NULL, 1);
  cow_process_t *p;
  sg_res_t cr = {0}, w = {0};
  p = exec_and_wait(&g, "{\"CommandArgs\":[\"x\"],\"CreateStdOutPipe\":true}", &cr, &w);
  sg_run_until(&g, &cr.calls);
  assert_int_equal(cr.status, 0);
  cap_t out;
  capture(p, COW_STDOUT, &out);
  sg_signal(&g);
  sg_run_until(&g, &w.calls);
  sg_close_process(&g, p);
  uncapture();
  sg_finish(&g);
  assert_int_equal(g.result[0], 1);
  assert_int_equal(cr.calls + w.calls, 2);
}

/* E62 (kill and signal on a container process) and E63 (resize: fields, cancellable).
 * E64: a process closed with its wait outstanding; the late answer is absorbed. */
static void s_signals(sg_t *g)
{
  sg_negotiate(g, NULL);
  uint64_t id, w;
  json_decref(sg_expect(g, COW__MSG_CREATE, &id));
  sg_send(g, COW__MSG_CREATE_RESPONSE, id, OK_BODY);
  json_decref(expect_exec(g, &id));
  sg_send(g, COW__MSG_EXECUTE_PROCESS_RESPONSE, id, "{\"Result\":0,\"ProcessId\":9}");
  json_decref(sg_expect(g, COW__MSG_WAIT_FOR_PROCESS, &w));
  /* kill: no Options */
  json_t *j = sg_expect(g, COW__MSG_SIGNAL_PROCESS, &id);
  SG_CHECK(g, json_object_get(j, "Options") == NULL);
  SG_CHECK(g, json_integer_value(json_object_get(j, "ProcessId")) == 9);
  SG_CHECK(g, strcmp(jstr(j, "ContainerId"), CID) == 0);
  json_decref(j);
  sg_send(g, COW__MSG_SIGNAL_PROCESS_RESPONSE, id, OK_BODY);
  /* signal 15: Options.Signal, answered "not found" */
  j = sg_expect(g, COW__MSG_SIGNAL_PROCESS, &id);
  SG_CHECK(g, json_integer_value(json_object_get(json_object_get(j, "Options"), "Signal")) == 15);
  json_decref(j);
  sg_sendf(g, COW__MSG_SIGNAL_PROCESS_RESPONSE, id, "{\"Result\":%d}", HR(0x80070490));
  /* kill answered "system not found": an error */
  json_decref(sg_expect(g, COW__MSG_SIGNAL_PROCESS, &id));
  sg_sendf(g, COW__MSG_SIGNAL_PROCESS_RESPONSE, id, "{\"Result\":%d}", HR(0xC037010E));
  /* resize: fields present, not answered until the caller gave up */
  uint64_t rz;
  j = sg_expect(g, COW__MSG_RESIZE_CONSOLE, &rz);
  SG_CHECK(g, json_integer_value(json_object_get(j, "ProcessId")) == 9);
  SG_CHECK(g, json_integer_value(json_object_get(j, "Height")) == 25);
  SG_CHECK(g, json_integer_value(json_object_get(j, "Width")) == 80);
  json_decref(j);
  sg_wait_host(g);
  sg_send(g, COW__MSG_RESIZE_CONSOLE_RESPONSE, rz, OK_BODY);
  json_decref(sg_expect(g, COW__MSG_DUMP_STACKS, &id));
  sg_send(g, COW__MSG_DUMP_STACKS_RESPONSE, id, OK_BODY);
  /* E64: the process was closed with its wait outstanding; answer the wait now */
  sg_wait_host(g);
  sg_send(g, COW__MSG_WAIT_FOR_PROCESS_RESPONSE, w, "{\"Result\":0,\"ExitCode\":137}");
  json_decref(sg_expect(g, COW__MSG_DUMP_STACKS, &id));
  sg_send(g, COW__MSG_DUMP_STACKS_RESPONSE, id, OK_BODY);
  sg_drain_bridge(g);
}

static void e62_e63_e64_signal_resize_close(void **state)
{
  (void)state;
  sg_t g = {0};
  sg_start_ok(&g, s_signals, NULL, 0);
  char *doc = sg_container_doc("/b");
  cow_container_t *c;
  sg_res_t r = {0}, cr = {0}, w = {0}, k1 = {0}, s15 = {0}, k2 = {0}, rz = {0}, d = {0}, d2 = {0};
  assert_int_equal(cow_guest_create_container(&c, g.host, CID, doc, sg_on_cont, &r), 0);
  free(doc);
  sg_run_until(&g, &r.calls);
  cow_process_t *p;
  assert_int_equal(cow_host_create_process(&p, cow_container_host(c),
                                           "{\"OciProcess\":{\"terminal\":true,\"args\":[\"sh\"]}}",
                                           sg_on_proc, &cr),
                   0);
  assert_int_equal(cow_process_wait(p, sg_on_wait, &w), 0);
  sg_run_until(&g, &cr.calls);
  assert_int_equal(cr.status, 0);
  assert_int_equal(cow_process_kill(p, sg_on_proc, &k1), 0);
  sg_run_until(&g, &k1.calls);
  assert_int_equal(k1.status, 0);
  assert_int_equal(cow_process_signal(p, "{\"Signal\":15}", sg_on_proc, &s15), 0);
  sg_run_until(&g, &s15.calls);
  assert_int_equal(s15.status, COW_ESRCH); /* not delivered, not a failure of the call */
  assert_int_equal(cow_process_kill(p, sg_on_proc, &k2), 0);
  sg_run_until(&g, &k2.calls);
  assert_true(k2.status < 0 && k2.status != COW_ESRCH);
  assert_int_equal(k2.sys, 0xC037010Eu);
  assert_int_equal(cow_process_set_timeout(p, COW_TIMEOUT_RESIZE, 30), 0);
  assert_int_equal(cow_process_resize_console(p, 80, 25, sg_on_proc, &rz), 0);
  sg_run_until(&g, &rz.calls);
  assert_int_equal(rz.status, COW_ETIMEDOUT);
  sg_signal(&g);
  assert_int_equal(cow_guest_dump_stacks(g.host, sg_on_text, &d), 0);
  sg_run_until(&g, &d.calls);
  assert_int_equal(d.status, 0);
  /* E64 */
  sg_close_process(&g, p);
  assert_int_equal(w.calls, 1);
  assert_int_equal(w.status, COW_ECANCELED);
  sg_signal(&g);
  assert_int_equal(cow_guest_dump_stacks(g.host, sg_on_text, &d2), 0);
  sg_run_until(&g, &d2.calls);
  assert_int_equal(d2.status, 0);
  assert_int_equal(sg_bridge_error(&g, NULL, 0), 0);
  sg_close_container(&g, c);
  sg_finish(&g);
  assert_int_equal(r.calls + cr.calls + w.calls + k1.calls + s15.calls + k2.calls + rz.calls +
                       d.calls + d2.calls,
                   9);
}

/* ======================= F. Connection loss and teardown ======================= */

/* F65: the guest closes the bridge with an exec, two waits and a GetProperties pending. */
static void s_drop(sg_t *g)
{
  sg_negotiate(g, NULL);
  uint64_t id;
  json_decref(sg_expect(g, COW__MSG_CREATE, &id));
  sg_send(g, COW__MSG_CREATE_RESPONSE, id, OK_BODY);
  json_t *j = expect_exec(g, &id);
  int out = sg_dial(g, relay_port(j, "StdOut"));
  json_decref(j);
  sg_send(g, COW__MSG_EXECUTE_PROCESS_RESPONSE, id, "{\"Result\":0,\"ProcessId\":1}");
  json_decref(sg_expect(g, COW__MSG_WAIT_FOR_PROCESS, &id));
  json_decref(expect_exec(g, &id));
  sg_send(g, COW__MSG_EXECUTE_PROCESS_RESPONSE, id, "{\"Result\":0,\"ProcessId\":2}");
  json_decref(sg_expect(g, COW__MSG_WAIT_FOR_PROCESS, &id));
  json_decref(expect_exec(g, &id));
  json_decref(sg_expect(g, COW__MSG_GET_PROPERTIES, &id));
  shutdown(g->fd, SHUT_RDWR); /* the bridge goes away */
  sg_wait_host(g);
  sg_write_all(out, "tail", 4); /* the stdio connection still works */
  close(out);
}

static void f65_guest_closes_with_requests_pending(void **state)
{
  (void)state;
  sg_t g = {0};
  sg_start_ok(&g, s_drop, NULL, 1);
  char *doc = sg_container_doc("/b");
  cow_container_t *c;
  sg_res_t r = {0}, cw = {0}, c1 = {0}, c2 = {0}, c3 = {0}, w1 = {0}, w2 = {0}, w3 = {0}, pr = {0};
  assert_int_equal(cow_guest_create_container(&c, g.host, CID, doc, sg_on_cont, &r), 0);
  free(doc);
  sg_run_until(&g, &r.calls);
  assert_int_equal(cow_container_wait(c, sg_on_cont, &cw), 0);
  cow_process_t *p1, *p2, *p3;
  p1 = exec_and_wait(&g, "{\"CommandArgs\":[\"x\"],\"CreateStdOutPipe\":true}", &c1, &w1);
  sg_run_until(&g, &c1.calls);
  cap_t out;
  capture(p1, COW_STDOUT, &out);
  p2 = exec_and_wait(&g, "{\"CommandArgs\":[\"x\"]}", &c2, &w2);
  sg_run_until(&g, &c2.calls);
  p3 = exec_and_wait(&g, "{\"CommandArgs\":[\"x\"]}", &c3, &w3);
  assert_int_equal(cow_container_properties(c, NULL, sg_on_json, &pr), 0);
  sg_run_until(&g, &c3.calls);
  sg_run_until(&g, &pr.calls);
  sg_run_until(&g, &w2.calls);
  sg_run_until(&g, &w3.calls);
  sg_run_until(&g, &cw.calls);
  assert_int_equal(c3.status, COW_EBRIDGE_CLOSED);
  assert_int_equal(pr.status, COW_EBRIDGE_CLOSED);
  assert_int_equal(w2.status, COW_EBRIDGE_CLOSED);
  assert_int_equal(w3.status, COW_EBRIDGE_CLOSED);
  assert_int_equal(cw.status, COW_EBRIDGE_CLOSED);
  cow_error_t e = COW_ERROR_INIT;
  assert_int_equal(cow_container_wait_error(c, &e), COW_EBRIDGE_CLOSED);
  cow_error_clear(&e);
  expect_fatal(&g, COW_EOF, NULL);
  /* p1's wait fails at once, but its stdout connection stays readable until the guest
   * closes it */
  sg_run_until(&g, &w1.calls);
  assert_int_equal(w1.status, COW_EBRIDGE_CLOSED);
  sg_signal(&g);
  sg_run_until(&g, &out.eof);
  assert_string_equal(out.data, "tail");
  sg_close_process(&g, p1);
  sg_close_process(&g, p2);
  sg_close_process(&g, p3);
  sg_close_container(&g, c);
  uncapture();
  sg_finish(&g);
  assert_int_equal(r.calls + cw.calls + c1.calls + c2.calls + c3.calls + w1.calls + w2.calls +
                       w3.calls + pr.calls,
                   9);
}

/* F66: the guest stops reading (shutdown SHUT_RD): the next write fails, fatally. */
static void s_no_read(sg_t *g)
{
  sg_negotiate(g, NULL);
  sg_wait_host(g);
  shutdown(g->fd, SHUT_RD);
  char c = 1;
  sg_write_all(g->ctl_guest, &c, 1);
  sg_wait_host(g); /* until the host finishes */
}

static void f66_write_failure(void **state)
{
  (void)state;
  sg_t g = {0};
  sg_start_ok(&g, s_no_read, NULL, 0);
  sg_signal(&g);
  char c;
  assert_int_equal(read(g.ctl_host, &c, 1), 1);
  sg_res_t d = {0};
  assert_int_equal(cow_guest_dump_stacks(g.host, sg_on_text, &d), 0);
  sg_run_until(&g, &d.calls);
  assert_int_equal(d.status, COW_EBRIDGE_CLOSED);
  assert_non_null(strstr(d.msg, "write"));
  expect_fatal(&g, COW_EPIPE, "bridge write failed");
  sg_finish(&g);
  assert_int_equal(d.calls, 1);
}

/* F67: the host closes with requests pending: they fail, the socket is closed, a second
 * close is refused without effect. */
static void s_pending(sg_t *g)
{
  sg_negotiate(g, NULL);
  json_decref(sg_expect(g, COW__MSG_DUMP_STACKS, NULL));
  json_decref(sg_expect(g, COW__MSG_EXECUTE_PROCESS, NULL));
  g->result[0] = sg_expect_eof(g);
}

static void f67_host_close_with_pending(void **state)
{
  (void)state;
  sg_t g = {0};
  sg_start_ok(&g, s_pending, NULL, 0);
  sg_res_t d = {0}, cr = {0}, w = {0}, hc = {0};
  cow_process_t *p;
  assert_int_equal(cow_guest_dump_stacks(g.host, sg_on_text, &d), 0);
  p = exec_and_wait(&g, "{\"CommandArgs\":[\"x\"]}", &cr, &w);
  assert_int_equal(cow_host_close(g.host, (cow_host_close_cb)sg_on_pclosed, &hc), 0);
  assert_int_equal(cow_host_close(g.host, NULL, NULL), COW_ECLOSING);
  sg_run_until(&g, &d.calls);
  sg_run_until(&g, &cr.calls);
  sg_run_until(&g, &w.calls);
  assert_true(d.status == COW_ECANCELED || d.status == COW_EBRIDGE_CLOSED);
  assert_true(cr.status == COW_ECANCELED || cr.status == COW_EBRIDGE_CLOSED);
  assert_true(w.status == COW_ECANCELED || w.status == COW_EBRIDGE_CLOSED);
  sg_close_process(&g, p);
  sg_run_until(&g, &hc.calls);
  g.host = NULL;
  sg_finish(&g);
  assert_int_equal(g.result[0], 1); /* the guest saw the bridge closed */
  assert_int_equal(d.calls + cr.calls + w.calls + hc.calls, 4);
}

/* ======================= G. Load and abuse ======================= */

/* G69: 10,000 notifications for 10,000 containers, mixed with responses. */
enum { STORM = 10000, STORM_REQS = 10 };
static void s_storm(sg_t *g)
{
  sg_negotiate(g, NULL);
  uint64_t ids[STORM_REQS];
  for (int i = 0; i < STORM_REQS; i++)
    json_decref(sg_expect(g, COW__MSG_DUMP_STACKS, &ids[i]));
  enum { BATCH = 100 };
  uint8_t *buf = malloc(BATCH * 160 + 64);
  int next_req = 0;
  for (int i = 0; i < STORM; i += BATCH) {
    size_t n = 0;
    for (int k = i; k < i + BATCH; k++) {
      char note[128];
      snprintf(note, sizeof note, "{\"ContainerId\":\"c%05d\",\"Type\":\"UnexpectedExit\"}", k);
      n += sg_frame(buf + n, COW__MSG_CONTAINER_NOTIFICATION, 0, note);
    }
    if ((i / BATCH) % 10 == 5 && next_req < STORM_REQS)
      n += sg_frame(buf + n, COW__MSG_DUMP_STACKS_RESPONSE, ids[next_req++], OK_BODY);
    sg_raw(g, buf, n);
  }
  while (next_req < STORM_REQS)
    sg_send(g, COW__MSG_DUMP_STACKS_RESPONSE, ids[next_req++], OK_BODY);
  free(buf);
  sg_drain_bridge(g);
}

static int storm_done;
static void on_storm_wait(cow_container_t *c, int status, const cow_error_t *err, void *data)
{
  (void)c, (void)err;
  assert_int_equal(status, 0);
  ((int *)data)[0]++;
  storm_done++;
}

static void g69_notification_storm(void **state)
{
  (void)state;
  sg_t g = {0};
  sg_start_ok(&g, s_storm, NULL, 0);
  static cow_container_t *c[STORM];
  static int calls[STORM];
  memset(calls, 0, sizeof calls);
  storm_done = 0;
  for (int i = 0; i < STORM; i++) {
    char id[16];
    snprintf(id, sizeof id, "c%05d", i);
    assert_int_equal(cow_guest_open_container(&c[i], g.host, id), 0);
    assert_int_equal(cow_container_wait(c[i], on_storm_wait, &calls[i]), 0);
  }
  sg_res_t d[STORM_REQS];
  memset(d, 0, sizeof d);
  for (int i = 0; i < STORM_REQS; i++)
    assert_int_equal(cow_guest_dump_stacks(g.host, sg_on_text, &d[i]), 0);
  sg_run_count(&g, &storm_done, STORM);
  for (int i = 0; i < STORM_REQS; i++) {
    sg_run_until(&g, &d[i].calls);
    assert_int_equal(d[i].status, 0);
  }
  assert_int_equal(sg_bridge_error(&g, NULL, 0), 0);
  sg_res_t closed = {0};
  for (int i = 0; i < STORM; i++) {
    assert_int_equal(calls[i], 1);
    assert_int_equal(cow_container_close(c[i], sg_on_cclosed, &closed), 0);
  }
  sg_run_count(&g, &closed.calls, STORM);
  sg_finish(&g);
}

/* G70: a slow-loris response (a 60 KiB frame trickling in) does not block sends, and the
 * RPC timeout still applies to the request it answers. */
static void s_slow(sg_t *g)
{
  sg_negotiate(g, NULL);
  uint64_t id;
  json_decref(sg_expect(g, COW__MSG_DUMP_STACKS, &id));
  uint8_t h[16];
  cow__frame_header_t hdr = {COW__MSG_DUMP_STACKS_RESPONSE, 60 * 1024, id};
  cow__frame_header_encode(&hdr, h);
  sg_raw(g, h, 16);
  char c = 1;
  sg_write_all(g->ctl_guest, &c, 1); /* the trickle has started */
  int got = 0;
  for (int i = 0; i < 60 * 1024 - 16; i++) {
    struct pollfd pfd = {g->fd, POLLIN, 0};
    /* 1 ms between bytes; requests read meanwhile, also those already in the script's
     * buffer (two requests can arrive in one read, and poll() knows only the socket). */
    if (g->off < g->have || poll(&pfd, 1, 1) > 0) {
      cow__frame_t f = {0};
      if (sg_read(g, &f) != 1)
        break; /* the host gave up on the bridge */
      got++;
      cow__frame_release(&f);
    }
    if (write(g->fd, "x", 1) != 1)
      break;
  }
  g->result[0] = got;
}

static void g70_slow_loris(void **state)
{
  (void)state;
  sg_t g = {0};
  cow_guest_options_t o = COW_GUEST_OPTIONS_INIT;
  /* Long enough for the two later requests to reach the guest even under valgrind on a
   * loaded machine (the trickle itself would take a minute). */
  o.rpc_timeout_ms = 3000;
  sg_start_ok(&g, s_slow, &o, 0);
  sg_res_t a = {0}, b = {0}, c = {0};
  assert_int_equal(cow_guest_dump_stacks(g.host, sg_on_text, &a), 0);
  char ch;
  /* wait for the trickle, running the loop so that the request goes out */
  uv_run(&g.loop, UV_RUN_NOWAIT);
  assert_int_equal(read(g.ctl_host, &ch, 1), 1);
  assert_int_equal(cow_guest_dump_stacks(g.host, sg_on_text, &b), 0);
  assert_int_equal(cow_guest_dump_stacks(g.host, sg_on_text, &c), 0);
  sg_run_until(&g, &a.calls);
  sg_run_until(&g, &b.calls);
  sg_run_until(&g, &c.calls);
  assert_int_equal(a.status, COW_EBRIDGE_CLOSED);
  expect_fatal(&g, COW_ETIMEDOUT, "message timeout");
  sg_finish(&g);
  assert_int_equal(g.result[0], 2); /* both later requests reached the guest meanwhile */
  assert_int_equal(a.calls + b.calls + c.calls, 3);
}

/* G71: the guest never reads. Sends queue without blocking the caller (the kernel buffer
 * fills, libuv keeps the rest); the RPC timeout then kills the bridge and every caller
 * gets exactly one callback. */
static void s_deaf(sg_t *g)
{
  sg_negotiate(g, NULL);
  sg_wait_host(g);
}

static void g71_guest_never_reads(void **state)
{
  (void)state;
  sg_t g = {0};
  cow_guest_options_t o = COW_GUEST_OPTIONS_INIT;
  o.rpc_timeout_ms = 3000; /* room for building the requests under valgrind, loaded */
  sg_start_ok(&g, s_deaf, &o, 0);
  enum { N = 12 }; /* 12 x 60 KB: well over a socketpair's send and receive buffers */
  size_t big = 60000;
  char *req = malloc(big + 128);
  int k = snprintf(req, 128, "{\"ResourceType\":\"X\",\"Settings\":{\"Pad\":\"");
  memset(req + k, 'p', big);
  strcpy(req + k + big, "\"}}");
  sg_res_t r[N];
  memset(r, 0, sizeof r);
  for (int i = 0; i < N; i++) {
    assert_int_equal(cow_guest_modify(g.host, req, sg_on_host, &r[i]), 0);
    uv_run(&g.loop, UV_RUN_NOWAIT);
  }
  free(req);
  assert_true(uv_stream_get_write_queue_size((uv_stream_t *)&g.pipe) > 0); /* buffer full */
  for (int i = 0; i < N; i++) {
    sg_run_until(&g, &r[i].calls);
    assert_int_equal(r[i].status, COW_EBRIDGE_CLOSED);
  }
  expect_fatal(&g, COW_ETIMEDOUT, "message timeout");
  sg_finish(&g);
  for (int i = 0; i < N; i++)
    assert_int_equal(r[i].calls, 1);
}

int main(void)
{
  signal(SIGPIPE, SIG_IGN); /* F66: a write to a socket the guest stopped reading */
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(a01_first_message_c31_happy_path),
      cmocka_unit_test(a02_id_monotonicity),
      cmocka_unit_test(a03_out_of_order_responses),
      cmocka_unit_test(a04_byte_at_a_time),
      cmocka_unit_test(a05_coalesced_response_and_notification),
      cmocka_unit_test(a06_size_limit_boundaries),
      cmocka_unit_test(a07_size_below_header),
      cmocka_unit_test(a08_truncated_header),
      cmocka_unit_test(a09_truncated_payload),
      cmocka_unit_test(a10_clean_eof_between_frames),
      cmocka_unit_test(a11_unknown_message_kind),
      cmocka_unit_test(a14_duplicate_response),
      cmocka_unit_test(a15_late_response_to_cancelled_request),
      cmocka_unit_test(a16_bridge_timeout),
      cmocka_unit_test(a17_noncancellable_exec_after_caller_deadline),
      cmocka_unit_test(b19_invalid_json),
      cmocka_unit_test(b20_trailing_garbage),
      cmocka_unit_test(b21_top_level_values),
      cmocka_unit_test(b22_result_range),
      cmocka_unit_test(b23_wrong_json_types),
      cmocka_unit_test(b24_activity_id),
      cmocka_unit_test(b25_unknown_fields_and_key_case),
      cmocka_unit_test(b26_odd_strings),
      cmocka_unit_test(b27_deep_nesting),
      cmocka_unit_test(b28_huge_error_message),
      cmocka_unit_test(b29_error_record_edges),
      cmocka_unit_test(b30_json_in_string_fields),
      cmocka_unit_test(c32_wrong_version),
      cmocka_unit_test(c33_negotiate_error),
      cmocka_unit_test(c34_guest_defined_capabilities),
      cmocka_unit_test(c35_runtime_os_type),
      cmocka_unit_test(c36_host_create_and_start),
      cmocka_unit_test(c37_no_negotiate_response),
      cmocka_unit_test(c38_notification_before_negotiate_response),
      cmocka_unit_test(d39_d41_d47_d48_d49_d50_container_rpcs),
      cmocka_unit_test(d40_create_failure_and_retry),
      cmocka_unit_test(d42_shutdown_forced_then_notification),
      cmocka_unit_test(d43_shutdown_already_stopped),
      cmocka_unit_test(d44_shutdown_never_answered),
      cmocka_unit_test(d45_notification_routing),
      cmocka_unit_test(d46_notification_result_info),
      cmocka_unit_test(e51_port_allocation),
      cmocka_unit_test(e52_no_pipes),
      cmocka_unit_test(e53_exec_failure_after_dials),
      cmocka_unit_test(e54_wait_after_exec),
      cmocka_unit_test(e55_e56_exit_codes_and_lost_wait),
      cmocka_unit_test(e57_stdin_then_close_stdin),
      cmocka_unit_test(e58_clean_close_handshake),
      cmocka_unit_test(e59_exit_before_final_stdout),
      cmocka_unit_test(e60_guest_never_dials),
      cmocka_unit_test(e61_second_dial_refused),
      cmocka_unit_test(e62_e63_e64_signal_resize_close),
      cmocka_unit_test(f65_guest_closes_with_requests_pending),
      cmocka_unit_test(f66_write_failure),
      cmocka_unit_test(f67_host_close_with_pending),
      cmocka_unit_test(g69_notification_storm),
      cmocka_unit_test(g70_slow_loris),
      cmocka_unit_test(g71_guest_never_reads),
  };
  if (getenv("TEST_FILTER"))
    cmocka_set_test_filter(getenv("TEST_FILTER"));
  return cmocka_run_group_tests_name("guest_scenarios", tests, NULL, NULL);
}

/* The guest connection against a scripted guest on a socketpair (no peer process): trace
 * context on the wire, hostile responses (unknown id, wrong type, size limits), how requests
 * are written (once per loop turn, flushed at close, in order past a full socket), and the
 * AF_VSOCK transport (bind and listen only: never connect a vsock socket here). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#ifdef __linux__
#  include <linux/vm_sockets.h>
#endif

#include <jansson.h>

#include "cow.h"
#include "cow/guest.h"
#include "guest/frame.h"
#include "guest/script-guest.h"
#include "support/wait.h"

#define NEGOTIATED                                                                                 \
  "{\"Result\":0,\"ActivityId\":\"834b1e7f-3925-42ca-aa4c-53f30465318e\",\"Version\":4,"           \
  "\"Capabilities\":{\"SupportedSchemaVersions\":[{\"Major\":2,\"Minor\":1}],"                     \
  "\"RuntimeOsType\":\"Linux\",\"GuestDefinedCapabilities\":{\"NamespaceAddRequestSupported\":"    \
  "true,\"SignalProcessSupported\":true,\"DumpStacksSupported\":true,"                             \
  "\"DeleteContainerStateSupported\":true}}}"

/* ---- the scripted guest (its own thread, blocking socket I/O) ---- */

#define BIG_REQUESTS 12 /* ModifySettings of ~60 KB each: far more than a socket buffer */
#define BIG_PAD      60000

struct guest {
  int fd;
  cow__frame_decoder_t dec;
  uint8_t buf[4096];
  size_t have, off;
};

static int guest_read(struct guest *g, cow__frame_t *f)
{
  return sg_read_frame(g->fd, &g->dec, g->buf, sizeof g->buf, &g->have, &g->off, f);
}

static void guest_send(struct guest *g, uint32_t type, uint64_t id, const char *body)
{
  uint8_t *out;
  size_t len;
  assert_int_equal(cow__frame_build(type, id, body, strlen(body), &out, &len, NULL), 0);
  assert_int_equal(write(g->fd, out, len), (ssize_t)len);
  free(out);
}

/* Send a raw header claiming `size` bytes, then `size - 16` bytes of `body` padded. */
static void guest_send_sized(struct guest *g, uint32_t type, uint64_t id, const char *prefix,
                             uint32_t size)
{
  uint8_t *frame = calloc(1, size);
  cow__frame_header_t h = {type, size, id};
  cow__frame_header_encode(&h, frame);
  size_t body = size - 16, plen = strlen(prefix);
  memset(frame + 16, ' ', body);
  memcpy(frame + 16, prefix, plen);
  memcpy(frame + size - 2, "\"}", 2); /* prefix opens a string; close it at the very end */
  size_t done = 0;
  while (done < size) {
    ssize_t n = write(g->fd, frame + done, size - done);
    if (n <= 0)
      break;
    done += (size_t)n;
  }
  free(frame);
}

enum scenario {
  TRACE,
  UNKNOWN_ID,
  WRONG_TYPE,
  SIZE_LIMITS,
  RECORD,     /* answer nothing, count what arrives until end of stream */
  SLOW_READER /* read nothing until `go`, then check and answer every request in order */
};

struct run {
  struct guest g;
  enum scenario scenario;
  int negotiate_had_otsc;
  int request_had_otsc;
  char traceparent[128];
  int go[2];    /* SLOW_READER: a byte from the host starts the reading */
  int received; /* RECORD, SLOW_READER: requests read */
  uint32_t last_type;
  char wrong[128]; /* SLOW_READER: what was wrong with a request, if anything */
};

static void *guest_main(void *arg)
{
  struct run *r = arg;
  struct guest *g = &r->g;
  cow__frame_decoder_init(&g->dec, 0);
  cow__frame_t f = {0};
  if (guest_read(g, &f) != 1 || f.hdr.type != COW__MSG_NEGOTIATE_PROTOCOL)
    goto out;
  json_t *neg = json_loads((const char *)f.payload, 0, NULL);
  r->negotiate_had_otsc = neg && json_object_get(neg, "otsc") != NULL;
  json_decref(neg);
  guest_send(g, COW__MSG_NEGOTIATE_PROTOCOL_RESPONSE, f.hdr.id, NEGOTIATED);
  cow__frame_release(&f);
  char go;
  if (r->scenario == SLOW_READER && read(r->go[0], &go, 1) != 1)
    goto out;
  while (guest_read(g, &f) == 1) {
    if (r->scenario == RECORD || r->scenario == SLOW_READER) {
      r->received++;
      r->last_type = f.hdr.type;
      if (r->scenario == RECORD) {
        cow__frame_release(&f);
        continue;
      }
      /* Every request whole and in the order it was made: ids 1, 2, ... (0 negotiated). */
      json_t *req = json_loadb((const char *)f.payload, f.payload_len, 0, NULL);
      const char *pad = json_string_value(
          json_object_get(json_object_get(json_object_get(req, "Request"), "Settings"), "Pad"));
      if (r->wrong[0] == '\0' &&
          (f.hdr.id != (uint64_t)r->received || pad == NULL || strlen(pad) != BIG_PAD))
        snprintf(r->wrong, sizeof r->wrong, "request %d: id %llu, pad %zu bytes", r->received,
                 (unsigned long long)f.hdr.id, pad ? strlen(pad) : 0);
      json_decref(req);
      guest_send(g, COW__FRAME_RESPONSE_OF(f.hdr.type), f.hdr.id,
                 "{\"Result\":0,\"ActivityId\":\"834b1e7f-3925-42ca-aa4c-53f30465318e\"}");
      cow__frame_release(&f);
      continue;
    }
    json_t *req = json_loads((const char *)f.payload, 0, NULL);
    json_t *otsc = json_object_get(req, "otsc");
    if (otsc != NULL) {
      r->request_had_otsc = 1;
      const char *tp = json_string_value(json_object_get(otsc, "traceparent"));
      snprintf(r->traceparent, sizeof r->traceparent, "%s", tp ? tp : "");
    }
    json_decref(req);
    uint32_t rtype = COW__FRAME_RESPONSE_OF(f.hdr.type);
    switch (r->scenario) {
    case TRACE:
      guest_send(g, rtype, f.hdr.id,
                 "{\"Result\":0,\"ActivityId\":\"834b1e7f-3925-42ca-aa4c-53f30465318e\","
                 "\"GuestStacks\":\"goroutine 1\"}");
      break;
    case UNKNOWN_ID:
      guest_send(g, rtype, f.hdr.id + 100, "{\"Result\":0}");
      break;
    case WRONG_TYPE:
      guest_send(g, COW__MSG_GET_PROPERTIES_RESPONSE, f.hdr.id, "{\"Result\":0}");
      break;
    case SIZE_LIMITS:
      /* the first answer is exactly the largest allowed frame; the second one byte more */
      guest_send_sized(g, rtype, f.hdr.id, "{\"Result\":0,\"GuestStacks\":\"",
                       f.hdr.id == 1 ? COW__FRAME_MAX_SIZE : COW__FRAME_MAX_SIZE + 1);
      break;
    case RECORD:
    case SLOW_READER:
      break; /* handled above */
    }
    cow__frame_release(&f);
  }
out:
  cow__frame_release(&f);
  cow__frame_decoder_reset(&g->dec);
  close(g->fd);
  return NULL;
}

/* ---- the host side ---- */

static uv_loop_t loop;
static uv_pipe_t pipe_;
static cow_host_t *host;
static pthread_t thread;
static struct run run;
static int connected, conn_status, closed;
static int text_calls, text_status;
static char text[64];

static void on_connected(cow_host_t *h, int status, const cow_error_t *err, void *data)
{
  connected++;
  conn_status = status;
}

static void on_text(cow_host_t *h, int status, const char *t, const cow_error_t *err, void *data)
{
  text_calls++;
  text_status = status;
  snprintf(text, sizeof text, "%s", t ? t : "");
}

static void on_closed(cow_host_t *h, void *data)
{
  closed = 1;
}

#define run_until(flag) TW_UNTIL(&loop, *(flag))

static void start(enum scenario s)
{
  memset(&run, 0, sizeof run);
  connected = closed = text_calls = 0;
  run.scenario = s;
  assert_int_equal(pipe(run.go), 0);
  int sv[2];
  assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  run.g.fd = sv[1];
  assert_int_equal(uv_loop_init(&loop), 0);
  assert_int_equal(uv_pipe_init(&loop, &pipe_, 0), 0);
  assert_int_equal(uv_pipe_open(&pipe_, sv[0]), 0);
  assert_int_equal(pthread_create(&thread, NULL, guest_main, &run), 0);
  cow_guest_options_t o = COW_GUEST_OPTIONS_INIT;
  assert_int_equal(
      cow_guest_connect_stream(&host, &loop, (uv_stream_t *)&pipe_, &o, on_connected, NULL), 0);
  run_until(&connected);
  assert_int_equal(conn_status, 0);
}

static void finish(void)
{
  assert_int_equal(cow_host_close(host, on_closed, NULL), 0);
  run_until(&closed);
  TW_RUN_IDLE(&loop);
  pthread_join(thread, NULL);
  close(run.go[0]);
  close(run.go[1]);
  assert_int_equal(TW_LOOP_FINISH(&loop), 0);
}

static void trace_context_on_the_wire(void **state)
{
  start(TRACE);
  const char *tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
  assert_int_equal(cow_guest_set_trace_context(host, tp, "vendor=value"), 0);
  assert_int_equal(cow_guest_dump_stacks(host, on_text, NULL), 0);
  run_until(&text_calls);
  assert_int_equal(text_status, 0);
  assert_string_equal(text, "goroutine 1");
  assert_int_equal(run.negotiate_had_otsc, 0); /* set after negotiation: not on it */
  assert_int_equal(run.request_had_otsc, 1);
  assert_string_equal(run.traceparent, tp);
  finish();
}

static void hostile_response(enum scenario s)
{
  start(s);
  assert_int_equal(cow_guest_dump_stacks(host, on_text, NULL), 0);
  run_until(&text_calls);
  /* the pending request fails exactly once; the bridge is dead for a protocol error */
  assert_int_equal(text_status, COW_EBRIDGE_CLOSED);
  cow_error_t err = COW_ERROR_INIT;
  assert_int_equal(cow_guest_bridge_error(host, &err), COW_EPROTOCOL);
  assert_non_null(err.message);
  cow_error_clear(&err);
  assert_int_equal(cow_guest_dump_stacks(host, on_text, NULL), COW_EBRIDGE_CLOSED);
  uv_run(&loop, UV_RUN_NOWAIT);
  assert_int_equal(text_calls, 1);
  finish();
}

static void unknown_response_id_kills_bridge(void **state)
{
  hostile_response(UNKNOWN_ID);
}

static void wrong_response_type_kills_bridge(void **state)
{
  hostile_response(WRONG_TYPE);
}

static void size_limit_is_inclusive(void **state)
{
  start(SIZE_LIMITS);
  assert_int_equal(cow_guest_dump_stacks(host, on_text, NULL), 0);
  run_until(&text_calls);
  assert_int_equal(text_status, 0); /* exactly 64 KiB is allowed */
  text_calls = 0;
  assert_int_equal(cow_guest_dump_stacks(host, on_text, NULL), 0);
  run_until(&text_calls);
  assert_int_equal(text_status, COW_EBRIDGE_CLOSED); /* one byte more is not */
  cow_error_t err = COW_ERROR_INIT;
  assert_int_equal(cow_guest_bridge_error(host, &err), COW_EPROTOCOL);
  cow_error_clear(&err);
  finish();
}

/* Requests are written once per loop turn (src/guest/wire.c): one made just before the host
 * is closed, in the same turn, still reaches the guest, ahead of the end of the stream. */
static void queued_before_close_is_written(void **state)
{
  start(RECORD);
  assert_int_equal(cow_guest_dump_stacks(host, on_text, NULL), 0);
  assert_int_equal(cow_host_close(host, on_closed, NULL), 0);
  run_until(&closed);
  TW_RUN_IDLE(&loop);
  pthread_join(thread, NULL);
  close(run.go[0]);
  close(run.go[1]);
  assert_int_equal(text_calls, 1);
  assert_int_equal(text_status, COW_ECANCELED);
  assert_int_equal(run.received, 1);
  assert_int_equal(run.last_type, COW__MSG_DUMP_STACKS);
  assert_int_equal(TW_LOOP_FINISH(&loop), 0);
}

static int modified, modify_failures;
static void on_modified(cow_host_t *h, int status, const cow_error_t *err, void *data)
{
  modified++;
  modify_failures += status != 0;
}

/* More than the socket takes: what uv_try_write leaves goes to uv_write with its buffer,
 * later requests queue behind it, and the guest gets every byte in order once it reads. */
static void full_socket_keeps_order(void **state)
{
  start(SLOW_READER);
  char *doc = malloc(BIG_PAD + 64);
  assert_non_null(doc);
  int n = snprintf(doc, 64, "{\"ResourceType\":\"Test\",\"Settings\":{\"Pad\":\"");
  memset(doc + n, 'p', BIG_PAD);
  strcpy(doc + n + BIG_PAD, "\"}}");
  modified = modify_failures = 0;
  for (int i = 0; i < BIG_REQUESTS; i++) {
    assert_int_equal(cow_guest_modify(host, doc, on_modified, NULL), 0);
    if (i % 3 == 2) /* flushes in between: some while earlier bytes still wait */
      uv_run(&loop, UV_RUN_NOWAIT);
  }
  free(doc);
  for (int i = 0; i < 4; i++)
    uv_run(&loop, UV_RUN_NOWAIT);
  assert_int_equal(modified, 0);
  assert_int_equal(write(run.go[1], "g", 1), 1);
  TW_UNTIL(&loop, modified == BIG_REQUESTS);
  assert_int_equal(modify_failures, 0);
  assert_int_equal(run.received, BIG_REQUESTS);
  assert_string_equal(run.wrong, "");
  finish();
}

#ifdef __linux__
static void vsock_listens_without_connecting(void **state)
{
  int probe = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (probe < 0) {
    skip(); /* no vsock in this kernel */
  }
  close(probe);
  assert_int_equal(uv_loop_init(&loop), 0);
  cow_guest_transport_t *t;
  assert_int_equal(cow_guest_transport_vsock(&t), 0);
  cow_guest_options_t o = COW_GUEST_OPTIONS_INIT;
  o.transport = t;
  connected = closed = 0;
  assert_int_equal(cow_guest_connect(&host, &loop, &o, on_connected, NULL), 0);
  /* The library now listens on VMADDR_CID_ANY:0x40000000: binding it again must fail. */
  int s = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_vm addr;
  memset(&addr, 0, sizeof addr);
  addr.svm_family = AF_VSOCK;
  addr.svm_cid = VMADDR_CID_ANY;
  addr.svm_port = COW_GUEST_BRIDGE_PORT;
  assert_int_equal(bind(s, (struct sockaddr *)&addr, sizeof addr), -1);
  close(s);
  assert_int_equal(cow_host_close(host, on_closed, NULL), 0);
  run_until(&closed);
  assert_int_equal(connected, 1); /* the pending connect completed, once */
  assert_true(conn_status < 0);
  /* After close the port is free again. */
  s = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);
  assert_int_equal(bind(s, (struct sockaddr *)&addr, sizeof addr), 0);
  close(s);
  cow_guest_transport_release(t);
  assert_int_equal(TW_LOOP_FINISH(&loop), 0);
}
#endif

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(trace_context_on_the_wire),
      cmocka_unit_test(unknown_response_id_kills_bridge),
      cmocka_unit_test(wrong_response_type_kills_bridge),
      cmocka_unit_test(size_limit_is_inclusive),
      cmocka_unit_test(queued_before_close_is_written),
      cmocka_unit_test(full_socket_keeps_order),
#ifdef __linux__
      cmocka_unit_test(vsock_listens_without_connecting),
#endif
  };
  return cmocka_run_group_tests_name("guest_wire", tests, NULL, NULL);
}

/* The shim's ttrpc server and client on a real AF_UNIX socket, byte by byte where it
 * matters: overlapping requests answered out of order, the 4 MiB cap (the frame refused,
 * the connection still usable), odd stream ids, unknown services and methods, malformed
 * payloads, a request split into single bytes, a client that leaves with a call pending;
 * and the client: answers, errors, a refused connection, a deadline. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "google/rpc/status.pb-c.h"
#include "pb.h"
#include "ttrpc.h"
#include "ttrpc.pb-c.h"

#define DEADLINE_MS 10000

static uv_loop_t loop;
static char dir[64], path[96];
static ttrpc_server_t *server;
static ttrpc_service_t service;
static ttrpc_method_fn methods[17];
static ttrpc_call_t *held_wait; /* a Wait answered when the next State comes */

/* ---- a raw client: frames in, frames out ---- */

struct frame {
  uint32_t sid;
  uint8_t type;
  Ttrpc__Response *resp;
};

static struct raw {
  uv_pipe_t pipe;
  uv_connect_t conn;
  ttrpc_decoder_t dec;
  struct frame got[16];
  size_t ngot;
  int eof;
} raw;

static int raw_frame(uint32_t sid, uint8_t type, uint8_t flags, const uint8_t *payload,
                     uint32_t length, void *data)
{
  assert_non_null(payload);
  assert_true(raw.ngot < 16);
  raw.got[raw.ngot].sid = sid;
  raw.got[raw.ngot].type = type;
  raw.got[raw.ngot].resp = ttrpc__response__unpack(NULL, length, payload);
  assert_non_null(raw.got[raw.ngot].resp);
  raw.ngot++;
  return 0;
}

static void raw_alloc(uv_handle_t *h, size_t s, uv_buf_t *b)
{
  static char buf[65536];
  *b = uv_buf_init(buf, sizeof buf);
}

static void raw_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
  if (n < 0) {
    raw.eof = 1;
    uv_read_stop(s);
    return;
  }
  assert_int_equal(ttrpc_decode(&raw.dec, (const uint8_t *)b->base, (size_t)n, raw_frame, NULL), 0);
}

static void raw_connected(uv_connect_t *c, int status)
{
  assert_int_equal(status, 0);
  assert_int_equal(uv_read_start((uv_stream_t *)&raw.pipe, raw_alloc, raw_read), 0);
}

static void deadline_fired(uv_timer_t *t)
{
  *(int *)t->data = 1;
}

/* Run the loop until `done()` or the deadline, which fails the test naming `what`. */
static void run_until(int (*done)(void), const char *what)
{
  uv_timer_t t;
  int expired = 0;
  uv_timer_init(&loop, &t);
  t.data = &expired;
  uv_timer_start(&t, deadline_fired, DEADLINE_MS, 0);
  while (!done() && !expired)
    uv_run(&loop, UV_RUN_ONCE);
  uv_close((uv_handle_t *)&t, NULL);
  uv_run(&loop, UV_RUN_NOWAIT);
  if (!done())
    fail_msg("%s never happened within %d ms", what, DEADLINE_MS);
}

static size_t want_frames;
static int have_frames(void)
{
  return raw.ngot >= want_frames;
}

static int connected_flag(void)
{
  return uv_is_readable((uv_stream_t *)&raw.pipe);
}

static void raw_open(void)
{
  memset(&raw, 0, sizeof raw);
  assert_int_equal(uv_pipe_init(&loop, &raw.pipe, 0), 0);
  uv_pipe_connect(&raw.conn, &raw.pipe, path, raw_connected);
  run_until(connected_flag, "the raw client's connection");
}

static void raw_written(uv_write_t *w, int status)
{
  free(w->data);
  free(w);
}

static void raw_send(const void *bytes, size_t n)
{
  uv_write_t *w = malloc(sizeof *w);
  char *copy = malloc(n);
  assert_non_null(w);
  assert_non_null(copy);
  memcpy(copy, bytes, n);
  w->data = copy;
  uv_buf_t b = uv_buf_init(copy, (unsigned)n);
  assert_int_equal(uv_write(w, (uv_stream_t *)&raw.pipe, &b, 1, raw_written), 0);
}

/* A request frame for service/method with `req` (NULL: empty payload). */
static void raw_request(uint32_t sid, const char *svc, const char *method,
                        const ProtobufCMessage *req)
{
  Ttrpc__Request env = TTRPC__REQUEST__INIT;
  uint8_t payload[4096];
  env.service = (char *)svc;
  env.method = (char *)method;
  if (req != NULL) {
    env.payload.len = protobuf_c_message_pack(req, payload);
    env.payload.data = payload;
  }
  uv_buf_t f;
  assert_int_equal(ttrpc_frame(sid, TTRPC_TYPE_REQUEST, &env.base, &f), 0);
  raw_send(f.base, f.len);
  free(f.base);
}

static void raw_close(void)
{
  uv_close((uv_handle_t *)&raw.pipe, NULL);
  uv_run(&loop, UV_RUN_NOWAIT);
  for (size_t i = 0; i < raw.ngot; i++)
    ttrpc__response__free_unpacked(raw.got[i].resp, NULL);
  ttrpc_decoder_reset(&raw.dec);
}

/* ---- the service under test: State answers at once (and releases a held Wait), Wait is
 * held, Connect echoes, everything else is UNIMPLEMENTED ---- */

static void h_state(ttrpc_call_t *call, const ProtobufCMessage *msg, void *data)
{
  const Containerd__Task__V2__StateRequest *r = (const void *)msg;
  Containerd__Task__V2__StateResponse s = CONTAINERD__TASK__V2__STATE_RESPONSE__INIT;
  s.id = r->id;
  s.pid = 42;
  ttrpc_call_reply(call, &s.base);
  if (held_wait != NULL) {
    Containerd__Task__V2__WaitResponse w = CONTAINERD__TASK__V2__WAIT_RESPONSE__INIT;
    w.exit_status = 7;
    ttrpc_call_reply(held_wait, &w.base);
    held_wait = NULL;
  }
}

static void h_wait(ttrpc_call_t *call, const ProtobufCMessage *msg, void *data)
{
  assert_null(held_wait);
  held_wait = call;
}

static void h_connect(ttrpc_call_t *call, const ProtobufCMessage *msg, void *data)
{
  const char *ns = ttrpc_call_metadata(call, "containerd-namespace-ttrpc");
  Containerd__Task__V2__ConnectResponse r = CONTAINERD__TASK__V2__CONNECT_RESPONSE__INIT;
  r.shim_pid = 1;
  r.version = (char *)(ns != NULL ? ns : "");
  ttrpc_call_reply(call, &r.base);
}

static void h_other(ttrpc_call_t *call, const ProtobufCMessage *msg, void *data)
{
  ttrpc_call_fail(call, TTRPC_UNIMPLEMENTED, "%s: not in this test", ttrpc_call_method(call));
}

static int setup(void **state)
{
  assert_int_equal(uv_loop_init(&loop), 0);
  snprintf(dir, sizeof dir, "/tmp/ttrpc-test-XXXXXX");
  assert_non_null(mkdtemp(dir));
  snprintf(path, sizeof path, "%s/s", dir);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_un sa = {.sun_family = AF_UNIX};
  snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
  assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
  assert_int_equal(listen(fd, 8), 0);
  const ProtobufCServiceDescriptor *d = &containerd__task__v2__task__descriptor;
  for (unsigned i = 0; i < d->n_methods; i++) {
    const char *n = d->methods[i].name;
    methods[i] = !strcmp(n, "State")     ? h_state
                 : !strcmp(n, "Wait")    ? h_wait
                 : !strcmp(n, "Connect") ? h_connect
                                         : h_other;
  }
  service.descriptor = d;
  service.methods = methods;
  held_wait = NULL;
  assert_int_equal(ttrpc_server_start(&server, &loop, &service, 1, fd), 0);
  return 0;
}

static int closed_flag;
static void server_closed(void *data)
{
  closed_flag = 1;
}
static int server_gone(void)
{
  return closed_flag;
}

static int teardown(void **state)
{
  closed_flag = 0;
  ttrpc_server_close(server, server_closed, NULL);
  run_until(server_gone, "the server's close");
  uv_run(&loop, UV_RUN_DEFAULT);
  assert_int_equal(uv_loop_close(&loop), 0);
  unlink(path);
  rmdir(dir);
  return 0;
}

static const char *const TASK = "containerd.task.v2.Task";

static void test_out_of_order(void **state)
{
  raw_open();
  Containerd__Task__V2__WaitRequest w = CONTAINERD__TASK__V2__WAIT_REQUEST__INIT;
  Containerd__Task__V2__StateRequest s = CONTAINERD__TASK__V2__STATE_REQUEST__INIT;
  w.id = s.id = "t1";
  raw_request(1, TASK, "Wait", &w.base);  /* held */
  raw_request(3, TASK, "State", &s.base); /* answered at once, then releases the Wait */
  want_frames = 2;
  run_until(have_frames, "two responses");
  assert_int_equal(raw.got[0].sid, 3); /* the later request first */
  assert_int_equal(raw.got[0].type, TTRPC_TYPE_RESPONSE);
  assert_null(raw.got[0].resp->status);
  Containerd__Task__V2__StateResponse *sr = containerd__task__v2__state_response__unpack(
      NULL, raw.got[0].resp->payload.len, raw.got[0].resp->payload.data);
  assert_non_null(sr);
  assert_string_equal(sr->id, "t1");
  assert_int_equal(sr->pid, 42);
  containerd__task__v2__state_response__free_unpacked(sr, NULL);
  assert_int_equal(raw.got[1].sid, 1);
  Containerd__Task__V2__WaitResponse *wr = containerd__task__v2__wait_response__unpack(
      NULL, raw.got[1].resp->payload.len, raw.got[1].resp->payload.data);
  assert_non_null(wr);
  assert_int_equal(wr->exit_status, 7);
  containerd__task__v2__wait_response__free_unpacked(wr, NULL);
  raw_close();
}

static void expect_status(size_t i, uint32_t sid, int code, const char *text)
{
  assert_int_equal(raw.got[i].sid, sid);
  assert_non_null(raw.got[i].resp->status);
  assert_int_equal(raw.got[i].resp->status->code, code);
  if (strstr(raw.got[i].resp->status->message, text) == NULL)
    fail_msg("status message [%s] does not say [%s]", raw.got[i].resp->status->message, text);
}

/* A frame over 4 MiB is refused on its stream, its bytes skipped, and the connection goes on. */
static void test_oversized_frame(void **state)
{
  raw_open();
  size_t big = TTRPC_MAX_MESSAGE + 1;
  uint8_t *f = calloc(1, TTRPC_HEADER_SIZE + big);
  f[0] = (uint8_t)(big >> 24);
  f[1] = (uint8_t)(big >> 16);
  f[2] = (uint8_t)(big >> 8);
  f[3] = (uint8_t)big;
  f[7] = 5; /* stream 5 */
  f[8] = TTRPC_TYPE_REQUEST;
  raw_send(f, TTRPC_HEADER_SIZE + big);
  free(f);
  Containerd__Task__V2__StateRequest s = CONTAINERD__TASK__V2__STATE_REQUEST__INIT;
  s.id = "after";
  raw_request(7, TASK, "State", &s.base);
  want_frames = 2;
  run_until(have_frames, "the refusal and the next answer");
  expect_status(0, 5, TTRPC_RESOURCE_EXHAUSTED, "exceed maximum message size");
  assert_int_equal(raw.got[1].sid, 7);
  assert_null(raw.got[1].resp->status);
  raw_close();
}

static void test_bad_requests(void **state)
{
  raw_open();
  Containerd__Task__V2__StateRequest s = CONTAINERD__TASK__V2__STATE_REQUEST__INIT;
  s.id = "x";
  raw_request(2, TASK, "State", &s.base);                      /* even stream id */
  raw_request(3, "containerd.task.v3.Task", "State", &s.base); /* unknown service */
  raw_request(5, TASK, "Frobnicate", &s.base);                 /* unknown method */
  /* a payload that is not a StateRequest: field 1 claims 100 bytes it does not have */
  Ttrpc__Request env = TTRPC__REQUEST__INIT;
  uint8_t junk[] = {0x0a, 100, 'x'};
  env.service = (char *)TASK;
  env.method = "State";
  env.payload.data = junk;
  env.payload.len = sizeof junk;
  uv_buf_t f;
  assert_int_equal(ttrpc_frame(7, TTRPC_TYPE_REQUEST, &env.base, &f), 0);
  raw_send(f.base, f.len);
  free(f.base);
  /* a frame of another type: ignored */
  uint8_t other[TTRPC_HEADER_SIZE] = {0, 0, 0, 0, 0, 0, 0, 9, 3, 0};
  raw_send(other, sizeof other);
  raw_request(11, TASK, "Checkpoint", NULL); /* an empty payload is an empty request */
  want_frames = 5;
  run_until(have_frames, "five answers");
  expect_status(0, 2, TTRPC_INVALID_ARGUMENT, "StreamID must be odd");
  expect_status(1, 3, TTRPC_UNIMPLEMENTED, "service containerd.task.v3.Task");
  expect_status(2, 5, TTRPC_UNIMPLEMENTED, "method Frobnicate");
  expect_status(3, 7, TTRPC_INVALID_ARGUMENT, "unmarshalling");
  expect_status(4, 11, TTRPC_UNIMPLEMENTED, "Checkpoint");
  raw_close();
}

/* A request payload of raw bytes on stream `sid`. */
static void raw_payload(uint32_t sid, const char *method, const uint8_t *bytes, size_t n)
{
  Ttrpc__Request env = TTRPC__REQUEST__INIT;
  env.service = (char *)TASK;
  env.method = (char *)method;
  env.payload.data = (uint8_t *)bytes;
  env.payload.len = n;
  uv_buf_t f;
  assert_int_equal(ttrpc_frame(sid, TTRPC_TYPE_REQUEST, &env.base, &f), 0);
  raw_send(f.base, f.len);
  free(f.base);
}

/* What protobuf-c alone would accept and alter (shim/pb-check.c) is refused with the reason,
 * on its own stream, and the connection goes on. */
static void test_refused_payloads(void **state)
{
  raw_open();
  /* State{id: "t1\0x"}: protobuf-c would hand the handler "t1" */
  static const uint8_t nul_id[] = {0x0a, 4, 't', '1', 0, 'x'};
  raw_payload(3, "State", nul_id, sizeof nul_id);
  /* Create{rootfs: [Mount{type: "overlay", field 0 = 5}]}, field 0's key as 0x80 0x00 */
  static const uint8_t zero_in_mount[] = {0x1a, 12,  0x0a, 7,   'o',  'v',  'e',
                                          'r',  'l', 'a',  'y', 0x80, 0x00, 0x05};
  raw_payload(5, "Create", zero_in_mount, sizeof zero_in_mount);
  /* the envelope itself: State{} with field 0 after its method */
  static const char env_zero[] = "\0\0\0\x23"
                                 "\0\0\0\x07"
                                 "\x01"
                                 "\0" /* 35 bytes, stream 7 */
                                 "\x0a\x17"
                                 "containerd.task.v2.Task"
                                 "\x12\x05"
                                 "State"
                                 "\x80\x00\x01";
  raw_send(env_zero, sizeof env_zero - 1);
  /* State{id: "\xc0\xaf"} (an overlong '/') */
  static const uint8_t overlong[] = {0x0a, 2, 0xc0, 0xaf};
  raw_payload(9, "State", overlong, sizeof overlong);
  Containerd__Task__V2__StateRequest s = CONTAINERD__TASK__V2__STATE_REQUEST__INIT;
  s.id = "after";
  raw_request(11, TASK, "State", &s.base);
  want_frames = 5;
  run_until(have_frames, "four refusals and the next answer");
  expect_status(0, 3, TTRPC_INVALID_ARGUMENT,
                "payload of containerd.task.v2.Task.State: containerd.task.v2.StateRequest "
                "field 1: string contains a NUL byte");
  expect_status(1, 5, TTRPC_INVALID_ARGUMENT,
                "containerd.types.Mount field 0: not a valid field number");
  expect_status(2, 7, TTRPC_INVALID_ARGUMENT,
                "unmarshal request error: ttrpc.Request field 0: not a valid field number");
  expect_status(3, 9, TTRPC_INVALID_ARGUMENT, "field 1: string is not valid UTF-8");
  assert_int_equal(raw.got[4].sid, 11);
  assert_null(raw.got[4].resp->status);
  raw_close();
}

/* Every byte on its own: the decoder keeps partial headers and payloads across reads. */
static void test_byte_by_byte(void **state)
{
  raw_open();
  Containerd__Task__V2__ConnectRequest r = CONTAINERD__TASK__V2__CONNECT_REQUEST__INIT;
  r.id = "t";
  Ttrpc__Request env = TTRPC__REQUEST__INIT;
  Ttrpc__KeyValue kv = TTRPC__KEY_VALUE__INIT, *kvp = &kv;
  uint8_t payload[64];
  kv.key = "containerd-namespace-ttrpc";
  kv.value = "ns1";
  env.service = (char *)TASK;
  env.method = "Connect";
  env.payload.len = protobuf_c_message_pack(&r.base, payload);
  env.payload.data = payload;
  env.n_metadata = 1;
  env.metadata = &kvp;
  uv_buf_t f;
  assert_int_equal(ttrpc_frame(9, TTRPC_TYPE_REQUEST, &env.base, &f), 0);
  for (size_t i = 0; i < f.len; i++) {
    raw_send(f.base + i, 1);
    uv_run(&loop, UV_RUN_NOWAIT);
  }
  free(f.base);
  want_frames = 1;
  run_until(have_frames, "the answer to a request sent byte by byte");
  assert_int_equal(raw.got[0].sid, 9);
  Containerd__Task__V2__ConnectResponse *cr = containerd__task__v2__connect_response__unpack(
      NULL, raw.got[0].resp->payload.len, raw.got[0].resp->payload.data);
  assert_non_null(cr);
  assert_string_equal(cr->version, "ns1"); /* the metadata reached the handler */
  containerd__task__v2__connect_response__free_unpacked(cr, NULL);
  raw_close();
}

/* A client that leaves with a call pending: the handler completes later, into the void. */
static void test_client_leaves(void **state)
{
  raw_open();
  Containerd__Task__V2__WaitRequest w = CONTAINERD__TASK__V2__WAIT_REQUEST__INIT;
  w.id = "t";
  raw_request(1, TASK, "Wait", &w.base);
  while (held_wait == NULL)
    uv_run(&loop, UV_RUN_ONCE);
  raw_close();
  for (int i = 0; i < 10; i++)
    uv_run(&loop, UV_RUN_NOWAIT);
  assert_int_equal(ttrpc_server_connections(server), 0);
  Containerd__Task__V2__WaitResponse r = CONTAINERD__TASK__V2__WAIT_RESPONSE__INIT;
  ttrpc_call_reply(held_wait, &r.base); /* the connection is gone: nothing is written */
  held_wait = NULL;
}

/* ---- the client ---- */

static struct {
  int done, code;
  char message[256];
  uint32_t pid;
} result;

static void client_cb(int code, const char *message, const ProtobufCMessage *response, void *data)
{
  result.done++;
  result.code = code;
  snprintf(result.message, sizeof result.message, "%s", message ? message : "");
  if (response != NULL)
    result.pid = ((const Containerd__Task__V2__StateResponse *)response)->pid;
}

static int result_done(void)
{
  return result.done > 0;
}

static int client_closed_flag;
static void client_closed(void *data)
{
  client_closed_flag = 1;
}
static int client_gone(void)
{
  return client_closed_flag;
}

static void test_client(void **state)
{
  ttrpc_client_t *c;
  assert_int_equal(ttrpc_client_new(&c, &loop, path), 0);
  Containerd__Task__V2__StateRequest s = CONTAINERD__TASK__V2__STATE_REQUEST__INIT;
  s.id = "c";
  const char *md[] = {"containerd-namespace-ttrpc", "default", NULL};
  memset(&result, 0, sizeof result);
  assert_int_equal(ttrpc_client_call(c, TASK, "State", &s.base,
                                     &containerd__task__v2__state_response__descriptor, md, 5000,
                                     client_cb, NULL),
                   0);
  assert_int_equal(result.done, 0); /* never inside the call */
  run_until(result_done, "the client's State answer");
  assert_int_equal(result.code, TTRPC_OK);
  assert_int_equal(result.pid, 42);
  /* an error status comes back as the server sent it */
  memset(&result, 0, sizeof result);
  assert_int_equal(ttrpc_client_call(c, TASK, "Pids", &s.base, NULL, NULL, 0, client_cb, NULL), 0);
  run_until(result_done, "the client's Pids answer");
  assert_int_equal(result.code, TTRPC_UNIMPLEMENTED);
  assert_non_null(strstr(result.message, "Pids: not in this test"));
  /* a held call with a deadline */
  memset(&result, 0, sizeof result);
  assert_int_equal(ttrpc_client_call(c, TASK, "Wait", &s.base, NULL, NULL, 50, client_cb, NULL), 0);
  run_until(result_done, "the deadline of a held call");
  assert_int_equal(result.code, TTRPC_DEADLINE_EXCEEDED);
  while (held_wait == NULL) /* the server got it: answer it late, the client dropped it */
    uv_run(&loop, UV_RUN_ONCE);
  Containerd__Task__V2__WaitResponse w = CONTAINERD__TASK__V2__WAIT_RESPONSE__INIT;
  ttrpc_call_reply(held_wait, &w.base);
  held_wait = NULL;
  /* the connection still serves the next call */
  memset(&result, 0, sizeof result);
  assert_int_equal(ttrpc_client_call(c, TASK, "State", &s.base,
                                     &containerd__task__v2__state_response__descriptor, NULL, 0,
                                     client_cb, NULL),
                   0);
  run_until(result_done, "the State answer after a late one");
  assert_int_equal(result.code, TTRPC_OK);
  /* closing fails what is pending with CANCELLED, never inside the close */
  memset(&result, 0, sizeof result);
  assert_int_equal(ttrpc_client_call(c, TASK, "Wait", &s.base, NULL, NULL, 0, client_cb, NULL), 0);
  client_closed_flag = 0;
  ttrpc_client_close(c, client_closed, NULL);
  assert_int_equal(result.done, 1);
  assert_int_equal(result.code, TTRPC_CANCELLED);
  assert_int_equal(client_closed_flag, 0);
  run_until(client_gone, "the client's close");
  for (int i = 0; i < 10 && held_wait == NULL; i++)
    uv_run(&loop, UV_RUN_NOWAIT);
  if (held_wait != NULL) { /* it reached the server before the close: answer into the void */
    ttrpc_call_reply(held_wait, &w.base);
    held_wait = NULL;
  }
}

static void test_client_refused(void **state)
{
  ttrpc_client_t *c;
  char nowhere[160];
  snprintf(nowhere, sizeof nowhere, "%s/nobody", dir);
  assert_int_equal(ttrpc_client_new(&c, &loop, nowhere), 0);
  memset(&result, 0, sizeof result);
  assert_int_equal(ttrpc_client_call(c, TASK, "State", NULL, NULL, NULL, 0, client_cb, NULL), 0);
  run_until(result_done, "the failure to connect");
  assert_int_equal(result.code, TTRPC_UNAVAILABLE);
  assert_non_null(strstr(result.message, "nobody"));
  client_closed_flag = 0;
  ttrpc_client_close(c, client_closed, NULL);
  run_until(client_gone, "the client's close");
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_out_of_order, setup, teardown),
      cmocka_unit_test_setup_teardown(test_oversized_frame, setup, teardown),
      cmocka_unit_test_setup_teardown(test_bad_requests, setup, teardown),
      cmocka_unit_test_setup_teardown(test_refused_payloads, setup, teardown),
      cmocka_unit_test_setup_teardown(test_byte_by_byte, setup, teardown),
      cmocka_unit_test_setup_teardown(test_client_leaves, setup, teardown),
      cmocka_unit_test_setup_teardown(test_client, setup, teardown),
      cmocka_unit_test_setup_teardown(test_client_refused, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

/* ttrpc client: one connection, made on demand and again after it broke, many calls in
 * flight, each with its own deadline. The shim uses it to forward events to containerd. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "google/rpc/status.pb-c.h"
#include "pb.h"
#include "ttrpc.h"
#include "ttrpc.pb-c.h"

enum state { IDLE, CONNECTING, CONNECTED, RESETTING };

struct ccall {
  struct ccall *next;
  ttrpc_client_t *client;
  uint32_t stream_id;
  uv_buf_t frame;    /* until handed to a write, which then owns it */
  int written, done; /* done: the callback ran */
  const ProtobufCMessageDescriptor *response;
  ttrpc_client_cb cb;
  void *data;
  uv_timer_t timer;
};

struct ttrpc_client {
  uv_loop_t *loop;
  char *path;
  enum state state;
  uv_pipe_t pipe;
  uv_connect_t connect_req;
  ttrpc_decoder_t dec;
  uint32_t next_stream_id;
  struct ccall *calls; /* not yet answered */
  unsigned handles;    /* `kick`, the pipe (when initialised) and the calls' timers */
  uv_timer_t kick;     /* sends queued calls on the next turn (callbacks never run inside
                          ttrpc_client_call); closing it makes the close asynchronous too */
  int closing;
  void (*close_cb)(void *data);
  void *close_data;
};

struct cwrite {
  uv_write_t req;
  ttrpc_client_t *client; /* alive: closing the pipe cancels its writes first */
  uv_buf_t frame;
};

static void client_maybe_freed(ttrpc_client_t *c)
{
  if (c->closing && c->handles == 0) {
    if (c->close_cb != NULL)
      c->close_cb(c->close_data);
    ttrpc_decoder_reset(&c->dec);
    free(c->path);
    free(c);
  }
}

static void timer_closed(uv_handle_t *h)
{
  struct ccall *call = h->data;
  ttrpc_client_t *c = call->client;
  free(call->frame.base);
  free(call);
  c->handles--;
  client_maybe_freed(c);
}

/* Run the callback once, take the call off the list, release it. */
static void call_finish(struct ccall *call, int code, const char *message,
                        const ProtobufCMessage *response)
{
  ttrpc_client_t *c = call->client;
  struct ccall **pp = &c->calls;
  while (*pp != call)
    pp = &(*pp)->next;
  *pp = call->next;
  call->done = 1;
  uv_timer_stop(&call->timer);
  call->cb(code, message, response, call->data);
  uv_close((uv_handle_t *)&call->timer, timer_closed);
}

static void fail_all(ttrpc_client_t *c, int code, const char *message)
{
  while (c->calls != NULL)
    call_finish(c->calls, code, message, NULL);
}

static void connect_now(ttrpc_client_t *c);
static void kicked(uv_timer_t *t);

static void pipe_closed(uv_handle_t *h)
{
  ttrpc_client_t *c = h->data;
  c->handles--;
  c->state = IDLE;
  ttrpc_decoder_reset(&c->dec);
  if (!c->closing && c->calls != NULL)
    connect_now(c); /* calls made while the broken connection was closing */
  client_maybe_freed(c);
}

/* The connection is unusable: the calls sent on it fail, the handle is closed. */
static void drop_connection(ttrpc_client_t *c, const char *why)
{
  if (c->state == IDLE || c->state == RESETTING)
    return;
  c->state = RESETTING;
  struct ccall *call = c->calls, *next;
  for (; call != NULL; call = next) {
    next = call->next;
    if (call->written)
      call_finish(call, TTRPC_UNAVAILABLE, why, NULL);
  }
  uv_close((uv_handle_t *)&c->pipe, pipe_closed);
}

static void write_done(uv_write_t *req, int status)
{
  struct cwrite *w = (struct cwrite *)req;
  ttrpc_client_t *c = w->client;
  free(w->frame.base);
  free(w);
  if (status < 0 && c->state == CONNECTED)
    drop_connection(c, uv_strerror(status));
}

static void send_call(ttrpc_client_t *c, struct ccall *call)
{
  struct cwrite *w = malloc(sizeof *w);
  if (w == NULL) {
    call_finish(call, TTRPC_RESOURCE_EXHAUSTED, "out of memory", NULL);
    return;
  }
  w->client = c;
  w->frame = call->frame;
  call->frame = uv_buf_init(NULL, 0);
  call->written = 1;
  int rc = uv_write(&w->req, (uv_stream_t *)&c->pipe, &w->frame, 1, write_done);
  if (rc != 0) {
    free(w->frame.base);
    free(w);
    drop_connection(c, uv_strerror(rc));
  }
}

static int on_frame(uint32_t sid, uint8_t type, uint8_t flags, const uint8_t *payload,
                    uint32_t length, void *data)
{
  ttrpc_client_t *c = data;
  if (type != TTRPC_TYPE_RESPONSE)
    return 0;
  struct ccall *call = c->calls;
  while (call != NULL && call->stream_id != sid)
    call = call->next;
  if (call == NULL)
    return 0; /* a call that timed out: its answer came late */
  if (payload == NULL) {
    call_finish(call, TTRPC_RESOURCE_EXHAUSTED, "response larger than 4 MiB", NULL);
    return 0;
  }
  char why[256], msg[300];
  Ttrpc__Response *resp =
      (Ttrpc__Response *)pb_unpack(&ttrpc__response__descriptor, length, payload, why, sizeof why);
  if (resp == NULL) {
    snprintf(msg, sizeof msg, "malformed ttrpc response: %s", why);
    call_finish(call, TTRPC_INTERNAL, msg, NULL);
    return 0;
  }
  if (resp->status != NULL && resp->status->code != TTRPC_OK) {
    call_finish(call, resp->status->code, resp->status->message, NULL);
  } else if (call->response == NULL) {
    call_finish(call, TTRPC_OK, NULL, NULL);
  } else {
    ProtobufCMessage *m =
        pb_unpack(call->response, resp->payload.len, resp->payload.data, why, sizeof why);
    if (m == NULL) {
      snprintf(msg, sizeof msg, "malformed response payload: %s", why);
      call_finish(call, TTRPC_INTERNAL, msg, NULL);
    } else
      call_finish(call, TTRPC_OK, NULL, m);
    if (m != NULL)
      protobuf_c_message_free_unpacked(m, NULL);
  }
  ttrpc__response__free_unpacked(resp, NULL);
  return c->state != CONNECTED;
}

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
  static char slab[16384];
  *buf = uv_buf_init(slab, sizeof slab);
}

static void read_cb(uv_stream_t *stream, ssize_t n, const uv_buf_t *buf)
{
  ttrpc_client_t *c = stream->data;
  if (n < 0) {
    drop_connection(c, n == UV_EOF ? "connection closed by the server" : uv_strerror((int)n));
    return;
  }
  if (ttrpc_decode(&c->dec, (const uint8_t *)buf->base, (size_t)n, on_frame, c) < 0)
    drop_connection(c, "out of memory");
}

static void connected(uv_connect_t *req, int status)
{
  ttrpc_client_t *c = req->data;
  if (c->state != CONNECTING)
    return; /* closed meanwhile */
  if (status < 0) {
    char msg[512];
    snprintf(msg, sizeof msg, "connecting to %s: %s", c->path, uv_strerror(status));
    c->state = CONNECTED; /* so that drop_connection closes the handle */
    for (struct ccall *call = c->calls; call != NULL; call = call->next)
      call->written = 1; /* none was sent, but each was meant for this connection */
    drop_connection(c, msg);
    return;
  }
  c->state = CONNECTED;
  if (uv_read_start((uv_stream_t *)&c->pipe, alloc_cb, read_cb) != 0) {
    drop_connection(c, "cannot read from the connection");
    return;
  }
  kicked(&c->kick);
}

static void connect_now(ttrpc_client_t *c)
{
  if (uv_pipe_init(c->loop, &c->pipe, 0) != 0) {
    fail_all(c, TTRPC_UNAVAILABLE, "cannot create a pipe handle");
    return;
  }
  c->pipe.data = c;
  c->handles++;
  c->state = CONNECTING;
  c->connect_req.data = c;
  uv_pipe_connect(&c->connect_req, &c->pipe, c->path, connected);
}

static void kicked(uv_timer_t *t)
{
  ttrpc_client_t *c = t->data;
  if (c->state == IDLE && c->calls != NULL)
    connect_now(c);
  for (struct ccall *call = c->calls, *next; call != NULL && c->state == CONNECTED; call = next) {
    next = call->next;
    if (!call->written)
      send_call(c, call);
  }
}

static void timed_out(uv_timer_t *t)
{
  struct ccall *call = t->data;
  call_finish(call, TTRPC_DEADLINE_EXCEEDED, "context deadline exceeded", NULL);
}

int ttrpc_client_new(ttrpc_client_t **out, uv_loop_t *loop, const char *path)
{
  ttrpc_client_t *c = calloc(1, sizeof *c);
  if (c == NULL || (c->path = strdup(path)) == NULL) {
    free(c);
    return UV_ENOMEM;
  }
  c->loop = loop;
  c->next_stream_id = 1;
  uv_timer_init(loop, &c->kick);
  c->kick.data = c;
  c->handles = 1;
  *out = c;
  return 0;
}

int ttrpc_client_call(ttrpc_client_t *c, const char *service, const char *method,
                      const ProtobufCMessage *request, const ProtobufCMessageDescriptor *response,
                      const char *const *md, uint64_t timeout_ms, ttrpc_client_cb cb, void *data)
{
  if (c->closing || cb == NULL)
    return UV_EINVAL;
  Ttrpc__Request env = TTRPC__REQUEST__INIT;
  Ttrpc__KeyValue kv[8], *kvp[8];
  size_t nmd = 0;
  for (; md != NULL && md[2 * nmd] != NULL; nmd++) {
    if (nmd == 8)
      return UV_EINVAL;
    ttrpc__key_value__init(&kv[nmd]);
    kv[nmd].key = (char *)md[2 * nmd];
    kv[nmd].value = (char *)md[2 * nmd + 1];
    kvp[nmd] = &kv[nmd];
  }
  env.service = (char *)service;
  env.method = (char *)method;
  env.timeout_nano = (int64_t)timeout_ms * 1000000;
  env.n_metadata = nmd;
  env.metadata = kvp;
  uint8_t *payload = NULL;
  if (request != NULL) {
    size_t len = protobuf_c_message_get_packed_size(request);
    if (len > 0 && (payload = malloc(len)) == NULL)
      return UV_ENOMEM;
    env.payload.len = protobuf_c_message_pack(request, payload);
    env.payload.data = payload;
  }
  struct ccall *call = calloc(1, sizeof *call);
  int rc = call == NULL
               ? UV_ENOMEM
               : ttrpc_frame(c->next_stream_id, TTRPC_TYPE_REQUEST, &env.base, &call->frame);
  free(payload);
  if (rc != 0) {
    free(call);
    return rc;
  }
  uv_timer_init(c->loop, &call->timer);
  call->timer.data = call;
  c->handles++;
  call->client = c;
  call->stream_id = c->next_stream_id;
  c->next_stream_id += 2;
  call->response = response;
  call->cb = cb;
  call->data = data;
  struct ccall **pp = &c->calls; /* in order: after a reconnect they are sent as called */
  while (*pp != NULL)
    pp = &(*pp)->next;
  *pp = call;
  if (timeout_ms > 0)
    uv_timer_start(&call->timer, timed_out, timeout_ms, 0);
  uv_timer_start(&c->kick, kicked, 0, 0);
  return 0;
}

static void kick_closed(uv_handle_t *h)
{
  ttrpc_client_t *c = h->data;
  c->handles--;
  client_maybe_freed(c);
}

void ttrpc_client_close(ttrpc_client_t *c, void (*cb)(void *data), void *data)
{
  c->closing = 1;
  c->close_cb = cb;
  c->close_data = data;
  fail_all(c, TTRPC_CANCELLED, "client closed");
  if (c->state == CONNECTING || c->state == CONNECTED) {
    c->state = RESETTING;
    uv_close((uv_handle_t *)&c->pipe, pipe_closed);
  }
  uv_close((uv_handle_t *)&c->kick, kick_closed);
}

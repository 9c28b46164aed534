/* ttrpc server: accept connections on a listening socket, decode requests, dispatch them
 * to the services' handlers, write each response when its handler completes (in
 * completion order, so a Wait that lasts does not hold up the State calls behind it). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "google/rpc/status.pb-c.h"
#include "log.h"
#include "pb.h"
#include "ttrpc.h"
#include "ttrpc.pb-c.h"

struct conn {
  struct conn *next, *prev;
  ttrpc_server_t *server; /* NULL once the handle is closed */
  uv_pipe_t pipe;
  ttrpc_decoder_t dec;
  unsigned refs;       /* the handle until its close callback, plus one per call */
  size_t unwritten;    /* bytes queued in uv_write requests */
  int reading, paused; /* paused: by the write high-water mark */
};

struct ttrpc_call {
  struct conn *conn;
  uint32_t stream_id;
  const ProtobufCMethodDescriptor *method;
  ProtobufCMessage *request;
  Ttrpc__Request *envelope;
};

struct ttrpc_server {
  uv_loop_t *loop;
  uv_pipe_t listener;
  const ttrpc_service_t *services;
  size_t nservices;
  struct conn *conns;
  size_t nconns;
  unsigned open_handles; /* listener + connections not yet closed */
  int closing;
  void (*close_cb)(void *data);
  void *close_data;
};

struct write_req {
  uv_write_t req;
  struct conn *conn;
  uv_buf_t buf;
};

static void conn_unref(struct conn *c)
{
  if (--c->refs == 0) {
    ttrpc_decoder_reset(&c->dec);
    free(c);
  }
}

static void server_maybe_done(ttrpc_server_t *s)
{
  if (s->closing && s->open_handles == 0) {
    if (s->close_cb != NULL)
      s->close_cb(s->close_data);
    free(s);
  }
}

static void conn_closed(uv_handle_t *h)
{
  struct conn *c = h->data;
  ttrpc_server_t *s = c->server;
  c->server = NULL; /* calls still running may outlive the server */
  s->open_handles--;
  conn_unref(c);
  server_maybe_done(s);
}

static void conn_close(struct conn *c)
{
  if (uv_is_closing((uv_handle_t *)&c->pipe))
    return;
  ttrpc_server_t *s = c->server;
  if (c->prev != NULL)
    c->prev->next = c->next;
  else
    s->conns = c->next;
  if (c->next != NULL)
    c->next->prev = c->prev;
  c->next = c->prev = NULL;
  s->nconns--;
  uv_close((uv_handle_t *)&c->pipe, conn_closed);
}

static int conn_open(const struct conn *c)
{
  return !uv_is_closing((const uv_handle_t *)&c->pipe);
}

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
  static char slab[65536]; /* one loop thread, and the decoder copies what it keeps */
  *buf = uv_buf_init(slab, sizeof slab);
}

static void read_cb(uv_stream_t *stream, ssize_t n, const uv_buf_t *buf);

static void conn_reading(struct conn *c, int on)
{
  if (on && !c->reading && conn_open(c) &&
      uv_read_start((uv_stream_t *)&c->pipe, alloc_cb, read_cb) == 0)
    c->reading = 1;
  else if (!on && c->reading) {
    uv_read_stop((uv_stream_t *)&c->pipe);
    c->reading = 0;
  }
}

static void write_done(uv_write_t *req, int status)
{
  struct write_req *w = (struct write_req *)req;
  struct conn *c = w->conn;
  c->unwritten -= w->buf.len;
  free(w->buf.base);
  free(w);
  if (status < 0 && status != UV_ECANCELED && conn_open(c))
    conn_close(c); /* the client went away mid-answer: nothing else can reach it */
  else if (c->paused && c->unwritten < TTRPC_WRITE_HIGH_WATER / 2) {
    c->paused = 0;
    conn_reading(c, 1);
  }
  conn_unref(c);
}

/* Write a Response frame on stream `sid`. The frame is dropped when the connection is gone. */
static void conn_respond(struct conn *c, uint32_t sid, const Ttrpc__Response *resp)
{
  uv_buf_t buf;
  if (!conn_open(c) || ttrpc_frame(sid, TTRPC_TYPE_RESPONSE, &resp->base, &buf) != 0)
    return;
  struct write_req *w = malloc(sizeof *w);
  if (w == NULL) {
    free(buf.base);
    conn_close(c); /* the client would wait forever for this stream */
    return;
  }
  w->conn = c;
  w->buf = buf;
  if (uv_write(&w->req, (uv_stream_t *)&c->pipe, &w->buf, 1, write_done) != 0) {
    free(buf.base);
    free(w);
    conn_close(c);
    return;
  }
  c->refs++;
  c->unwritten += buf.len;
  if (c->unwritten >= TTRPC_WRITE_HIGH_WATER && c->reading) {
    c->paused = 1;
    conn_reading(c, 0);
  }
}

static void respond_status(struct conn *c, uint32_t sid, int code, const char *message)
{
  Google__Rpc__Status st = GOOGLE__RPC__STATUS__INIT;
  Ttrpc__Response resp = TTRPC__RESPONSE__INIT;
  st.code = code;
  st.message = (char *)message;
  resp.status = &st;
  conn_respond(c, sid, &resp);
}

static void call_free(ttrpc_call_t *call)
{
  struct conn *c = call->conn;
  if (call->request != NULL)
    protobuf_c_message_free_unpacked(call->request, NULL);
  ttrpc__request__free_unpacked(call->envelope, NULL);
  free(call);
  conn_unref(c);
}

void ttrpc_call_reply(ttrpc_call_t *call, const ProtobufCMessage *response)
{
  Ttrpc__Response resp = TTRPC__RESPONSE__INIT;
  uint8_t *packed = NULL;
  if (response != NULL) {
    size_t len = protobuf_c_message_get_packed_size(response);
    if (len > 0 && (packed = malloc(len)) == NULL) {
      ttrpc_call_fail(call, TTRPC_RESOURCE_EXHAUSTED, "out of memory packing the response");
      return;
    }
    resp.payload.len = protobuf_c_message_pack(response, packed);
    resp.payload.data = packed;
  }
  shim_log(SHIM_LOG_DEBUG, "ttrpc %s (stream %u): ok", call->method->name, call->stream_id);
  conn_respond(call->conn, call->stream_id, &resp);
  free(packed);
  call_free(call);
}

void ttrpc_call_fail(ttrpc_call_t *call, int code, const char *fmt, ...)
{
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  shim_log(SHIM_LOG_DEBUG, "ttrpc %s (stream %u): error %d: %s", call->method->name,
           call->stream_id, code, msg);
  respond_status(call->conn, call->stream_id, code == TTRPC_OK ? TTRPC_UNKNOWN : code, msg);
  call_free(call);
}

const char *ttrpc_call_metadata(const ttrpc_call_t *call, const char *key)
{
  for (size_t i = 0; i < call->envelope->n_metadata; i++)
    if (strcmp(call->envelope->metadata[i]->key, key) == 0)
      return call->envelope->metadata[i]->value;
  return NULL;
}

const ProtobufCMessage *ttrpc_call_request(const ttrpc_call_t *call)
{
  return call->request;
}

const char *ttrpc_call_method(const ttrpc_call_t *call)
{
  return call->method->name;
}

static void dispatch(struct conn *c, uint32_t sid, Ttrpc__Request *env)
{
  ttrpc_server_t *s = c->server;
  const ttrpc_service_t *svc = NULL;
  for (size_t i = 0; i < s->nservices && svc == NULL; i++)
    if (strcmp(s->services[i].descriptor->name, env->service) == 0)
      svc = &s->services[i];
  char msg[512];
  if (svc == NULL) {
    snprintf(msg, sizeof msg, "service %s", env->service);
    respond_status(c, sid, TTRPC_UNIMPLEMENTED, msg);
    ttrpc__request__free_unpacked(env, NULL);
    return;
  }
  const ProtobufCMethodDescriptor *m =
      protobuf_c_service_descriptor_get_method_by_name(svc->descriptor, env->method);
  if (m == NULL) {
    snprintf(msg, sizeof msg, "method %s", env->method);
    respond_status(c, sid, TTRPC_UNIMPLEMENTED, msg);
    ttrpc__request__free_unpacked(env, NULL);
    return;
  }
  char why[256];
  ProtobufCMessage *req = pb_unpack(m->input, env->payload.len, env->payload.data, why, sizeof why);
  ttrpc_call_t *call = req != NULL ? malloc(sizeof *call) : NULL;
  if (call == NULL) {
    snprintf(msg, sizeof msg, "ttrpc: error unmarshalling payload of %s.%s: %s", env->service,
             env->method, req == NULL ? why : "out of memory");
    respond_status(c, sid, req == NULL ? TTRPC_INVALID_ARGUMENT : TTRPC_RESOURCE_EXHAUSTED, msg);
    if (req != NULL)
      protobuf_c_message_free_unpacked(req, NULL);
    ttrpc__request__free_unpacked(env, NULL);
    return;
  }
  call->conn = c;
  call->stream_id = sid;
  call->method = m;
  call->request = req;
  call->envelope = env;
  c->refs++;
  shim_log(SHIM_LOG_DEBUG, "ttrpc %s (stream %u)", m->name, sid);
  svc->methods[m - svc->descriptor->methods](call, req, svc->data);
}

static int on_frame(uint32_t sid, uint8_t type, uint8_t flags, const uint8_t *payload,
                    uint32_t length, void *data)
{
  struct conn *c = data;
  char msg[320], why[256];
  if (payload == NULL) {
    snprintf(msg, sizeof msg, "message length %u exceed maximum message size of %u", length,
             TTRPC_MAX_MESSAGE);
    respond_status(c, sid, TTRPC_RESOURCE_EXHAUSTED, msg);
    return !conn_open(c);
  }
  if (type != TTRPC_TYPE_REQUEST)
    return 0; /* ttrpc ignores other types, for future compatibility */
  Ttrpc__Request *env =
      (Ttrpc__Request *)pb_unpack(&ttrpc__request__descriptor, length, payload, why, sizeof why);
  if (env == NULL) {
    snprintf(msg, sizeof msg, "unmarshal request error: %s", why);
    respond_status(c, sid, TTRPC_INVALID_ARGUMENT, msg);
  } else if (sid % 2 != 1) {
    ttrpc__request__free_unpacked(env, NULL);
    respond_status(c, sid, TTRPC_INVALID_ARGUMENT,
                   "StreamID must be odd for client initiated streams");
  } else {
    dispatch(c, sid, env);
  }
  return !conn_open(c);
}

static void read_cb(uv_stream_t *stream, ssize_t n, const uv_buf_t *buf)
{
  struct conn *c = stream->data;
  if (n < 0) {
    conn_close(c); /* EOF or error: the client is gone; its calls complete into the void */
    return;
  }
  c->refs++; /* a handler may close the connection while we are in the decoder */
  /* The whole buffer is decoded even when the write high-water mark paused reading: the
   * bytes are already here; the pause holds back the next read. */
  if (ttrpc_decode(&c->dec, (const uint8_t *)buf->base, (size_t)n, on_frame, c) < 0 && conn_open(c))
    conn_close(c);
  conn_unref(c);
}

static void on_connection(uv_stream_t *listener, int status)
{
  ttrpc_server_t *s = listener->data;
  if (status < 0 || s->closing)
    return;
  struct conn *c = calloc(1, sizeof *c);
  if (c == NULL)
    return;
  if (uv_pipe_init(s->loop, &c->pipe, 0) != 0) {
    free(c);
    return;
  }
  c->server = s;
  c->refs = 1;
  c->pipe.data = c;
  s->open_handles++;
  c->next = s->conns;
  if (s->conns != NULL)
    s->conns->prev = c;
  s->conns = c;
  s->nconns++;
  if (uv_accept(listener, (uv_stream_t *)&c->pipe) != 0) {
    conn_close(c);
    return;
  }
  conn_reading(c, 1);
}

static void listener_closed(uv_handle_t *h)
{
  ttrpc_server_t *s = h->data;
  s->open_handles--;
  server_maybe_done(s);
}

int ttrpc_server_start(ttrpc_server_t **out, uv_loop_t *loop, const ttrpc_service_t *services,
                       size_t nservices, int fd)
{
  ttrpc_server_t *s = calloc(1, sizeof *s);
  if (s == NULL)
    return UV_ENOMEM;
  s->loop = loop;
  s->services = services;
  s->nservices = nservices;
  int rc = uv_pipe_init(loop, &s->listener, 0);
  if (rc != 0) {
    free(s);
    return rc;
  }
  s->listener.data = s;
  s->open_handles = 1;
  if ((rc = uv_pipe_open(&s->listener, fd)) != 0 ||
      (rc = uv_listen((uv_stream_t *)&s->listener, 128, on_connection)) != 0) {
    s->closing = 1;
    uv_close((uv_handle_t *)&s->listener, listener_closed);
    return rc;
  }
  *out = s;
  return 0;
}

void ttrpc_server_close(ttrpc_server_t *s, void (*cb)(void *data), void *data)
{
  s->closing = 1;
  s->close_cb = cb;
  s->close_data = data;
  while (s->conns != NULL)
    conn_close(s->conns);
  uv_close((uv_handle_t *)&s->listener, listener_closed);
}

size_t ttrpc_server_connections(const ttrpc_server_t *s)
{
  return s->nconns;
}

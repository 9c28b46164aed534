/* cow-gcs-peer: bridge I/O. Reads frames with the shared decoder, writes responses and
 * notifications through one ordered path that applies --delay-ms, --reorder and the
 * frame-count faults. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/alloc.h"
#include "peer.h"

struct peer_out {
  peer_out_t *next;
  peer_t *peer;
  uint8_t *bytes;
  size_t len;
  uv_timer_t timer; /* --delay-ms */
};

typedef struct write_req {
  uv_write_t req;
  uint8_t *bytes;
  int close_after; /* truncate/drop: stop the peer once written */
} write_req_t;

void peer_log(const char *fmt, ...)
{
  va_list ap;
  char buf[1024];
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  fprintf(stderr, "cow-gcs-peer[%d]: %s\n", (int)getpid(), buf);
}

void peer_oom(const char *what)
{
  peer_log("out of memory building %s: exiting", what);
  exit(3);
}

json_t *pj_checked(json_t *v, const char *what)
{
  if (v == NULL)
    peer_oom(what);
  return v;
}

void pj_set(json_t *o, const char *key, json_t *v)
{
  if (json_object_set_new(o, key, v) != 0)
    peer_oom(key);
}

void pj_set_ref(json_t *o, const char *key, json_t *v)
{
  if (json_object_set(o, key, v) != 0)
    peer_oom(key);
}

void pj_append(json_t *a, json_t *v)
{
  if (json_array_append_new(a, v) != 0)
    peer_oom("an array element");
}

static void on_write(uv_write_t *req, int status)
{
  write_req_t *w = (write_req_t *)req;
  peer_t *peer = req->data;
  if (status < 0 && status != UV_ECANCELED)
    peer_log("bridge write failed: %s", uv_strerror(status));
  if (w->close_after)
    peer_stop(peer, 0);
  free(w->bytes);
  free(w);
}

/* Write raw bytes (takes ownership). */
static void raw_write(peer_t *peer, uint8_t *bytes, size_t len, int close_after)
{
  write_req_t *w;
  uv_buf_t buf;
  int rc;
  if (!peer->bridge_open || peer->stopping) {
    free(bytes);
    return;
  }
  w = calloc(1, sizeof *w);
  if (!w) {
    free(bytes);
    peer_stop(peer, 1);
    return;
  }
  w->bytes = bytes;
  w->close_after = close_after;
  w->req.data = peer;
  buf = uv_buf_init((char *)bytes, (unsigned)len);
  rc = uv_write(&w->req, (uv_stream_t *)&peer->bridge, &buf, 1, on_write);
  if (rc < 0) {
    peer_log("uv_write: %s", uv_strerror(rc));
    free(bytes);
    free(w);
    peer_stop(peer, 1);
  }
}

/* The single point where frames reach the wire, in order. */
static void frame_write(peer_t *peer, uint8_t *bytes, size_t len)
{
  if (!peer->bridge_open || peer->stopping) {
    free(bytes);
    return;
  }
  if (peer_faults_truncate_now(peer)) {
    peer_log("fault: sending %zu of %zu bytes of frame %llu, then closing", len / 2, len,
             (unsigned long long)peer->frames_sent + 1);
    raw_write(peer, bytes, len / 2, 1);
    return;
  }
  raw_write(peer, bytes, len, 0);
  peer->frames_sent++;
  peer_faults_after_send(peer);
}

static void out_free(uv_handle_t *h)
{
  peer_out_t *o = h->data;
  o->peer->ntimers--;
  free(o->bytes);
  free(o);
}

static void on_delay(uv_timer_t *t)
{
  peer_out_t *o = t->data;
  peer_t *peer = o->peer;
  uint8_t *bytes = o->bytes;
  o->bytes = NULL;
  frame_write(peer, bytes, o->len);
  uv_close((uv_handle_t *)&o->timer, out_free);
}

/* Delay if asked, else write now. */
static void frame_emit(peer_t *peer, uint8_t *bytes, size_t len)
{
  peer_out_t *o;
  if (!peer->faults.delay_ms) {
    frame_write(peer, bytes, len);
    return;
  }
  o = calloc(1, sizeof *o);
  if (!o) {
    free(bytes);
    return;
  }
  o->peer = peer;
  o->bytes = bytes;
  o->len = len;
  uv_timer_init(&peer->loop, &o->timer);
  o->timer.data = o;
  peer->ntimers++;
  uv_timer_start(&o->timer, on_delay, peer->faults.delay_ms, 0);
}

/* --reorder: responses produced while requests keep arriving are held and released in
 * reverse order once the host has been quiet for a short window. */
static void on_reorder(uv_timer_t *t)
{
  peer_t *peer = t->data;
  peer_out_t *list = peer->held;
  peer->held = NULL;
  while (list) { /* held is LIFO: newest first = reverse order */
    peer_out_t *o = list;
    list = o->next;
    frame_emit(peer, o->bytes, o->len);
    free(o);
  }
}

static void frame_send(peer_t *peer, uint32_t type, uint64_t id, json_t *body, int is_response)
{
  size_t plen = 0, flen = 0;
  char *payload;
  uint8_t *frame = NULL, *copy;
  cow_error_t err = COW_ERROR_INIT;
  payload = gj_dump(body, &plen);
  json_decref(body);
  if (!payload)
    peer_oom("the text of a message"); /* never a message silently not sent */
  if (cow__frame_build(type, id, payload, plen, &frame, &flen, &err) < 0) {
    /* The real agent would send it and kill the host's bridge; we refuse and say so. */
    peer_log("not sending a %zu-byte response: %s", plen, err.message ? err.message : "?");
    cow_error_clear(&err);
    free(payload);
    return;
  }
  free(payload);
  /* frame.c allocates with cow__malloc; the write path frees with free(). */
  copy = malloc(flen);
  if (!copy) {
    cow__free(frame);
    return;
  }
  memcpy(copy, frame, flen);
  cow__free(frame);
  if (is_response && peer->faults.reorder) {
    peer_out_t *o = calloc(1, sizeof *o);
    if (!o) {
      free(copy);
      return;
    }
    o->peer = peer;
    o->bytes = copy;
    o->len = flen;
    o->next = peer->held;
    peer->held = o;
    uv_timer_start(&peer->reorder_timer, on_reorder, 30, 0);
    return;
  }
  frame_emit(peer, copy, flen);
}

json_t *peer_resp_base(const peer_req_t *req, int32_t result)
{
  json_t *o = json_object();
  pj_set(o, "Result", json_integer(result));
  if (req->activity && *req->activity)
    pj_set(o, "ActivityId", json_string(req->activity));
  return o;
}

void peer_respond(peer_t *peer, const peer_req_t *req, json_t *body)
{
  frame_send(peer, COW__FRAME_RESPONSE_OF(req->type), req->id, body, 1);
}

void peer_respond_ok(peer_t *peer, const peer_req_t *req)
{
  peer_respond(peer, req, peer_resp_base(req, 0));
}

static void respond_error_text(peer_t *peer, const peer_req_t *req, int32_t hr, const char *msg)
{
  json_t *o = peer_resp_base(req, hr);
  json_t *rec = json_object();
  json_t *recs = json_array();
  json_t *m = json_string(msg);
  if (!m) { /* invalid UTF-8 cannot happen after gj_utf8_sanitize, but never send null */
    m = json_string("(unprintable message)");
  }
  pj_set_ref(o, "ErrorMessage", m);
  pj_set(rec, "Result", json_integer(hr));
  pj_set_ref(rec, "Message", m);
  pj_set(rec, "ModuleName", json_string("gcs"));
  pj_set(rec, "FileName", json_string(""));
  pj_set(rec, "Line", json_integer(4294967295LL));
  pj_append(recs, rec);
  pj_set(o, "ErrorRecords", recs);
  json_decref(m);
  peer_respond(peer, req, o);
}

void peer_respond_error(peer_t *peer, const peer_req_t *req, int32_t hr, const char *fmt, ...)
{
  va_list ap;
  char *buf;
  int n;
  va_start(ap, fmt);
  n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  buf = malloc((size_t)n + 1);
  if (!buf)
    peer_oom("an error response"); /* never a request left unanswered */
  va_start(ap, fmt);
  vsnprintf(buf, (size_t)n + 1, fmt, ap);
  va_end(ap);
  respond_error_text(peer, req, hr, buf);
  free(buf);
}

void peer_respond_hr(peer_t *peer, const peer_req_t *req, int32_t hr)
{
  peer_respond_error(peer, req, hr, "HRESULT: 0x%08x", (unsigned)hr);
}

void peer_send_notification(peer_t *peer, json_t *body)
{
  frame_send(peer, COW__MSG_CONTAINER_NOTIFICATION, 0, body, 0);
}

/* Exposed for faults.c: write bytes that are not a counted frame. */
void peer_bridge_raw(peer_t *peer, uint8_t *bytes, size_t len, int close_after);
void peer_bridge_raw(peer_t *peer, uint8_t *bytes, size_t len, int close_after)
{
  raw_write(peer, bytes, len, close_after);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
  (void)h;
  buf->base = malloc(suggested);
  buf->len = buf->base ? suggested : 0;
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
  peer_t *peer = s->data;
  const uint8_t *p = (const uint8_t *)buf->base;
  size_t left = nread > 0 ? (size_t)nread : 0;
  if (nread < 0) {
    cow_error_t err = COW_ERROR_INIT;
    if (cow__frame_decoder_finish(&peer->dec, &err) < 0)
      peer_log("bridge closed mid-frame: %s", err.message ? err.message : "?");
    cow_error_clear(&err);
    if (nread != UV_EOF)
      peer_log("bridge read: %s", uv_strerror((int)nread));
    else
      peer_log("the host closed the bridge; exiting");
    free(buf->base);
    peer_stop(peer, 0);
    return;
  }
  while (left && !peer->stopping) {
    cow__frame_t f = {0};
    size_t used = 0;
    cow_error_t err = COW_ERROR_INIT;
    int rc = cow__frame_decoder_feed(&peer->dec, p, left, &used, &f, &err);
    p += used;
    left -= used;
    if (rc < 0) {
      /* The real agent would allocate ~4 GiB and hang; the peer says why and leaves. */
      peer_log("bad frame from the host: %s", err.message ? err.message : "?");
      cow_error_clear(&err);
      peer_stop(peer, 1);
      break;
    }
    if (rc == 1) {
      peer_dispatch(peer, &f);
      cow__frame_release(&f);
      /* While requests keep coming, --reorder keeps holding responses. */
      if (peer->held)
        uv_timer_start(&peer->reorder_timer, on_reorder, 30, 0);
    }
  }
  free(buf->base);
}

int peer_bridge_start(peer_t *peer, int fd)
{
  int rc = uv_pipe_init(&peer->loop, &peer->bridge, 0);
  if (rc < 0)
    return rc;
  peer->bridge.data = peer;
  rc = uv_pipe_open(&peer->bridge, fd);
  if (rc < 0) {
    close(fd);
    uv_close((uv_handle_t *)&peer->bridge, NULL);
    return rc;
  }
  peer->bridge_open = 1;
  /* The guest accepts any size (docs/gcs-bridge-protocol.md §1.5); the peer refuses absurd ones (>
   * 16 MiB). */
  cow__frame_decoder_init(&peer->dec, 16u << 20);
  rc = uv_read_start((uv_stream_t *)&peer->bridge, on_alloc, on_read);
  if (rc < 0)
    return rc;
  peer_faults_after_send(peer); /* faults armed for N = 0 fire at once */
  return 0;
}

void peer_stop(peer_t *peer, int exit_code)
{
  peer_out_t *o;
  if (peer->stopping)
    return;
  peer->stopping = 1;
  peer->exit_code = exit_code;
  /* Kills every child and closes the waiter timers. */
  peer_kill_all_children(peer);
  for (o = peer->held; o;) {
    peer_out_t *n = o->next;
    free(o->bytes);
    free(o);
    o = n;
  }
  peer->held = NULL;
  if (peer->bridge_open) {
    peer->bridge_open = 0;
    uv_close((uv_handle_t *)&peer->bridge, NULL);
  }
  if (!uv_is_closing((uv_handle_t *)&peer->reorder_timer))
    uv_close((uv_handle_t *)&peer->reorder_timer, NULL);
  if (!uv_is_closing((uv_handle_t *)&peer->sigchld))
    uv_close((uv_handle_t *)&peer->sigchld, NULL);
  if (!uv_is_closing((uv_handle_t *)&peer->sigterm))
    uv_close((uv_handle_t *)&peer->sigterm, NULL);
  if (!uv_is_closing((uv_handle_t *)&peer->sigint))
    uv_close((uv_handle_t *)&peer->sigint, NULL);
  /* Pending --delay-ms timers fire, see `stopping` and free themselves. */
}

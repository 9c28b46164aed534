/* The bridge RPC layer (see bridge.h). */
#include "guest/bridge.h"

#include <inttypes.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/log.h"
#include "guest/frame.h"

/* ---- the pending table: id -> request, chained buckets, ids are sequential ---- */

static size_t bucket_of(const cow__bridge_t *b, uint64_t id)
{
  return (size_t)(id & (b->nbuckets - 1));
}

static int table_grow(cow__bridge_t *b)
{
  size_t n = b->nbuckets ? b->nbuckets * 2 : 64;
  cow__bridge_req_t **nb = cow__calloc(n, sizeof *nb);
  if (nb == NULL)
    return COW_ENOMEM;
  for (size_t i = 0; i < b->nbuckets; i++) {
    cow__bridge_req_t *r = b->buckets[i];
    while (r != NULL) {
      cow__bridge_req_t *next = r->hnext;
      size_t k = (size_t)(r->id & (n - 1));
      r->hnext = nb[k];
      nb[k] = r;
      r = next;
    }
  }
  cow__free(b->buckets);
  b->buckets = nb;
  b->nbuckets = n;
  return 0;
}

static cow__bridge_req_t *table_find(const cow__bridge_t *b, uint64_t id)
{
  if (b->nbuckets == 0)
    return NULL;
  for (cow__bridge_req_t *r = b->buckets[bucket_of(b, id)]; r != NULL; r = r->hnext)
    if (r->id == id)
      return r;
  return NULL;
}

static void table_remove(cow__bridge_t *b, cow__bridge_req_t *req)
{
  cow__bridge_req_t **pp = &b->buckets[bucket_of(b, req->id)];
  while (*pp != NULL && *pp != req)
    pp = &(*pp)->hnext;
  if (*pp == req)
    *pp = req->hnext;
  cow__list_remove(&req->link);
  if (req->timed)
    cow__list_remove(&req->tlink);
  req->timed = 0;
  b->count--;
  if (req->cb == NULL)
    b->tombstones--;
}

/* ---- death ---- */

void cow__bridge_closed_error(const cow__bridge_t *b, const char *operation, cow_error_t *err)
{
  cow__error_bridge_closed(err, operation, NULL, b->cause.message);
}

static void timer_closed(uv_handle_t *h)
{
  cow__bridge_t *b = h->data;
  if (--b->open_handles == 0 && b->closing && b->on_closed)
    b->on_closed(b);
}

static void wire_closed(cow__wire_t *w)
{
  cow__bridge_t *b = w->data;
  if (--b->open_handles == 0 && b->closing && b->on_closed)
    b->on_closed(b);
}

void cow__bridge_kill(cow__bridge_t *b, const cow_error_t *cause)
{
  if (b->state == COW__BRIDGE_DEAD)
    return;
  b->state = COW__BRIDGE_DEAD;
  if (cause != NULL && cow_error_copy(&b->cause, cause) != 0)
    b->cause.code = cause->code;
  if (b->cause.code == 0)
    b->cause.code = COW_EBRIDGE_CLOSED;
  cow__log(COW_LOG_WARN, "guest", "bridge closed: %s (%s); %zu requests pending",
           b->cause.message ? b->cause.message : "no detail", cow_err_name(b->cause.code),
           b->count - b->tombstones);
  if (b->timer_on)
    uv_timer_stop(&b->timer);
  if (b->wire.stream != NULL)
    cow__wire_close(&b->wire);

  /* Detach everything first: callbacks may abandon other requests (that only clears
   * their cb) or try new calls (refused: the state is DEAD). */
  cow__list pending;
  cow__list_init(&pending);
  cow__list_move(&b->all, &pending);
  cow__list_init(&b->timed);
  cow__free(b->buckets);
  b->buckets = NULL;
  b->nbuckets = 0;
  b->count = b->tombstones = 0;

  cow_error_t err = COW_ERROR_INIT;
  while (!cow__list_empty(&pending)) {
    cow__bridge_req_t *r = cow__container_of(pending.next, cow__bridge_req_t, link);
    cow__list_remove(&r->link);
    if (r->cb != NULL) {
      cow__bridge_closed_error(b, cow__frame_rpc_name(r->type), &err);
      cow__bridge_cb cb = r->cb;
      r->cb = NULL;
      cb(r->ctx, COW_EBRIDGE_CLOSED, NULL, &err);
    }
    cow__free(r);
  }
  cow_error_clear(&err);
  if (b->on_dead)
    b->on_dead(b);
}

static void kill_protocol(cow__bridge_t *b, const char *fmt, uint32_t type, uint64_t id)
{
  cow_error_t err = COW_ERROR_INIT;
  char name[48];
  cow__frame_type_name(type, name, sizeof name);
  char text[160];
  snprintf(text, sizeof text, fmt, name, id);
  cow__error_set(&err, COW_EPROTOCOL, COW_DOMAIN_LIB, 0, "read", NULL, "%s", text);
  cow__bridge_kill(b, &err);
  cow_error_clear(&err);
}

/* ---- the failure timeout (R1): an unanswered synchronous request kills the bridge ---- */

static void arm_timer(cow__bridge_t *b);

static void on_timer(uv_timer_t *t)
{
  cow__bridge_t *b = t->data;
  if (cow__list_empty(&b->timed))
    return;
  cow__bridge_req_t *head = cow__container_of(b->timed.next, cow__bridge_req_t, tlink);
  if (head->deadline > uv_now(b->loop)) {
    arm_timer(b);
    return;
  }
  cow_error_t err = COW_ERROR_INIT;
  cow__error_set(&err, COW_ETIMEDOUT, COW_DOMAIN_LIB, 0, cow__frame_rpc_name(head->type), NULL,
                 "message timeout: no answer to %s (id %" PRIu64 ") within %" PRIu64 " ms",
                 cow__frame_rpc_name(head->type), head->id, b->rpc_timeout_ms);
  cow__bridge_kill(b, &err);
  cow_error_clear(&err);
}

static void arm_timer(cow__bridge_t *b)
{
  if (!b->timer_on || b->state != COW__BRIDGE_OPEN || cow__list_empty(&b->timed))
    return;
  if (uv_is_active((uv_handle_t *)&b->timer))
    return; /* lazily re-checked when it fires */
  cow__bridge_req_t *head = cow__container_of(b->timed.next, cow__bridge_req_t, tlink);
  uint64_t now = uv_now(b->loop);
  uint64_t due = head->deadline > now ? head->deadline - now : 0;
  uv_timer_start(&b->timer, on_timer, due, 0);
}

/* ---- incoming ---- */

static void on_response(cow__bridge_t *b, cow__frame_t *f)
{
  cow__bridge_req_t *req = table_find(b, f->hdr.id);
  if (req == NULL) {
    /* Never issued, or answered already (a duplicate): fatal as in hcsshim
     * (docs/gcs-bridge-protocol.md §7.1). */
    kill_protocol(b, "%s for unknown request id %" PRIu64, f->hdr.type, f->hdr.id);
    return;
  }
  if (COW__FRAME_RESPONSE_OF(req->type) != f->hdr.type) {
    /* The real guest always echoes the request's bits; anything else is a confused or
     * hostile peer, so the stricter check is safe (§1.6). */
    kill_protocol(b, "%s does not answer the request with id %" PRIu64, f->hdr.type, f->hdr.id);
    return;
  }
  struct cow__proto_resp resp;
  cow_error_t err = COW_ERROR_INIT;
  if (cow__proto_parse_response(req->type, f->payload, f->payload_len, &resp, &err) != 0) {
    cow__bridge_kill(b, &err);
    cow_error_clear(&err);
    return;
  }
  if (cow__log_enabled(COW_LOG_DEBUG)) {
    char name[48];
    cow__log(COW_LOG_DEBUG, "guest", "<- %s id %" PRIu64 " result 0x%08X",
             cow__frame_type_name(f->hdr.type, name, sizeof name), f->hdr.id,
             (unsigned)resp.result);
  }
  if (req->type == COW__MSG_NEGOTIATE_PROTOCOL) {
    b->negotiating = 0;
    if (resp.result == 0)
      b->negotiated = 1; /* the guest now refuses a second one */
  }
  int was_head = req->timed && b->timed.next == &req->tlink;
  table_remove(b, req);
  if (was_head && b->timer_on)
    uv_timer_stop(&b->timer);
  arm_timer(b);
  if (req->cb != NULL) {
    cow__bridge_cb cb = req->cb;
    req->cb = NULL;
    cb(req->ctx, 0, &resp, NULL);
  }
  cow__free(req);
  cow__proto_resp_clear(&resp);
}

static void on_frame(cow__wire_t *w, cow__frame_t *f)
{
  cow__bridge_t *b = w->data;
  uint32_t kind = cow__frame_kind(f->hdr.type);
  /* Dispatch on the kind nibble before the id: notifications carry id 0 (§1.6). */
  if (b->state != COW__BRIDGE_OPEN) {
    /* ignore: dead */
  } else if (kind == COW__FRAME_KIND_RESPONSE) {
    on_response(b, f);
  } else if (kind == COW__FRAME_KIND_NOTIFICATION) {
    if (f->hdr.type != COW__MSG_CONTAINER_NOTIFICATION)
      kill_protocol(b, "unknown notification %s (id %" PRIu64 ")", f->hdr.type, f->hdr.id);
    else if (b->on_notification)
      b->on_notification(b, f);
  } else {
    kill_protocol(b, "unexpected message %s (id %" PRIu64 ") from the guest", f->hdr.type,
                  f->hdr.id);
  }
  cow__frame_release(f);
}

static void on_wire_error(cow__wire_t *w, const cow_error_t *cause)
{
  cow__bridge_kill(w->data, cause);
}

/* ---- lifecycle ---- */

void cow__bridge_init(cow__bridge_t *b, uv_loop_t *loop, uint64_t rpc_timeout_ms)
{
  memset(b, 0, sizeof *b);
  b->loop = loop;
  b->rpc_timeout_ms = rpc_timeout_ms;
  b->state = COW__BRIDGE_IDLE;
  cow__list_init(&b->all);
  cow__list_init(&b->timed);
}

int cow__bridge_start(cow__bridge_t *b, uv_stream_t *stream, uint32_t max_frame)
{
  cow__wire_init(&b->wire, stream, max_frame);
  b->wire.data = b;
  b->wire.on_frame = on_frame;
  b->wire.on_error = on_wire_error;
  b->wire.on_closed = wire_closed;
  b->open_handles++; /* the stream: closed by the wire */
  b->state = COW__BRIDGE_OPEN;
  int rc = uv_timer_init(b->loop, &b->timer);
  if (rc == 0) {
    b->timer.data = b;
    b->timer_on = 1;
    b->open_handles++;
    rc = cow__wire_start(&b->wire);
  }
  if (rc != 0) {
    cow_error_t err = COW_ERROR_INIT;
    cow__error_set(&err, rc, COW_DOMAIN_OS, 0, "connect", NULL, "cannot read the bridge: %s",
                   uv_strerror(rc));
    cow__bridge_kill(b, &err);
    cow_error_clear(&err);
  }
  return rc;
}

void cow__bridge_close(cow__bridge_t *b)
{
  if (b->closing)
    return;
  if (b->state != COW__BRIDGE_DEAD) {
    cow_error_t err = COW_ERROR_INIT;
    cow__error_set(&err, COW_ECANCELED, COW_DOMAIN_LIB, 0, "close", NULL,
                   "the connection was closed by the host");
    cow__bridge_kill(b, &err);
    cow_error_clear(&err);
  }
  b->closing = 1;
  if (b->timer_on)
    uv_close((uv_handle_t *)&b->timer, timer_closed);
  /* The wire was closed by the kill; its close callback counts the stream down. */
  if (b->open_handles == 0 && b->on_closed)
    b->on_closed(b);
}

/* ---- outgoing ---- */

int cow__bridge_call(cow__bridge_t *b, uint32_t type, const char *payload, size_t len, int timed,
                     cow__bridge_cb cb, void *ctx, cow__bridge_req_t **out, cow_error_t *err)
{
  const char *name = cow__frame_rpc_name(type);
  if (out)
    *out = NULL;
  if (b->state != COW__BRIDGE_OPEN) {
    cow__bridge_closed_error(b, name, err);
    return COW_EBRIDGE_CLOSED;
  }
  /* Negotiate first and alone (§1.8, recordings j2/j3): the guest refuses anything read
   * before its negotiate handler ran, and a second negotiate after a successful one. */
  if (type == COW__MSG_NEGOTIATE_PROTOCOL) {
    if (b->negotiated)
      return cow__error_set(err, COW_EALREADY, COW_DOMAIN_LIB, 0, name, NULL,
                            "the protocol is already negotiated");
    if (b->negotiating)
      return cow__error_set(err, COW_EINVALID_STATE, COW_DOMAIN_LIB, 0, name, NULL,
                            "a negotiation is already in flight");
  } else if (!b->negotiated || b->negotiating) {
    return cow__error_set(err, COW_EINVALID_STATE, COW_DOMAIN_LIB, 0, name, NULL,
                          "%s before the protocol negotiation completed", name);
  }
  /* Never more than 64 KiB on the wire (R3): the guest would kill its bridge. */
  if (len > COW__FRAME_MAX_SIZE - COW__FRAME_HEADER_SIZE)
    return cow__error_set(err, COW_EMSG_TOO_LARGE, COW_DOMAIN_LIB, 0, name, NULL,
                          "a %zu-byte payload makes a frame larger than %u bytes", len,
                          (unsigned)COW__FRAME_MAX_SIZE);
  if (b->count + 1 > b->nbuckets * 2 && table_grow(b) != 0)
    return cow__error_set(err, COW_ENOMEM, COW_DOMAIN_LIB, 0, name, NULL, NULL);
  cow__bridge_req_t *req = cow__calloc(1, sizeof *req);
  if (req == NULL)
    return cow__error_set(err, COW_ENOMEM, COW_DOMAIN_LIB, 0, name, NULL, NULL);
  int rc;
  uint8_t *frame = cow__wire_reserve(&b->wire, COW__FRAME_HEADER_SIZE + len, &rc);
  if (frame == NULL) {
    cow__free(req);
    if (rc == COW_EBRIDGE_CLOSED)
      cow__bridge_closed_error(b, name, err);
    else
      cow__error_set(err, rc, COW_DOMAIN_LIB, 0, name, NULL, NULL);
    return rc;
  }
  cow__frame_header_t hdr = {type, (uint32_t)(COW__FRAME_HEADER_SIZE + len), b->next_id};
  cow__frame_header_encode(&hdr, frame);
  if (len > 0)
    memcpy(frame + COW__FRAME_HEADER_SIZE, payload, len);
  cow__wire_commit(&b->wire, COW__FRAME_HEADER_SIZE + len);
  if (cow__log_enabled(COW_LOG_DEBUG)) {
    char *text = cow__proto_log_payload(payload, len);
    cow__log(COW_LOG_DEBUG, "guest", "-> %s id %" PRIu64 " %s", name, b->next_id, text ? text : "");
    cow__free(text);
  }
  req->id = b->next_id++;
  req->type = type;
  req->cb = cb;
  req->ctx = ctx;
  size_t k = bucket_of(b, req->id);
  req->hnext = b->buckets[k];
  b->buckets[k] = req;
  cow__list_insert_tail(&b->all, &req->link);
  b->count++;
  if (type == COW__MSG_NEGOTIATE_PROTOCOL)
    b->negotiating = 1;
  if (timed && b->rpc_timeout_ms > 0) {
    req->timed = 1;
    req->deadline = uv_now(b->loop) + b->rpc_timeout_ms;
    cow__list_insert_tail(&b->timed, &req->tlink);
    arm_timer(b);
  }
  if (out)
    *out = req;
  return 0;
}

void cow__bridge_abandon(cow__bridge_t *b, cow__bridge_req_t *req)
{
  if (req == NULL || req->cb == NULL)
    return;
  req->cb = NULL;
  if (b->state != COW__BRIDGE_OPEN)
    return; /* detached by a kill in progress: freed there */
  b->tombstones++;
  /* The caller gave up: its answer no longer holds the bridge hostage (hcsshim stops the
   * timer when a cancellable call returns early). */
  if (req->timed) {
    cow__list_remove(&req->tlink);
    req->timed = 0;
  }
}

/* Internal: the bridge RPC layer (docs/gcs-bridge-protocol.md §1.6, §1.8, §7.1, R1-R3, R5). Over a
 * wire (wire.h) it allocates request ids, keeps the pending table, matches responses by id,
 * dispatches notifications, enforces "negotiate first, alone", runs the RPC failure
 * timeout, and on any fatal condition completes every pending request exactly once with
 * COW_EBRIDGE_CLOSED. Thread: loop thread. */
#ifndef COW_GUEST_BRIDGE_H
#define COW_GUEST_BRIDGE_H

#include <stdint.h>

#include <jansson.h>
#include <uv.h>

#include "core/list.h"
#include "guest/protocol.h"
#include "guest/wire.h"

enum cow__bridge_state {
  COW__BRIDGE_IDLE = 0, /* no stream yet */
  COW__BRIDGE_OPEN = 1, /* reading and writing */
  COW__BRIDGE_DEAD = 2  /* killed: every request failed, new ones refused */
};

typedef struct cow__bridge cow__bridge_t;
typedef struct cow__bridge_req cow__bridge_req_t;

/* A request's outcome: status 0 with the validated response (borrowed for the call; its
 * Result may still be a failure HRESULT), or COW_EBRIDGE_CLOSED with `err`. Runs exactly
 * once per request that was not abandoned, never inside cow__bridge_call(). */
typedef void (*cow__bridge_cb)(void *ctx, int status, const struct cow__proto_resp *resp,
                               const cow_error_t *err);

struct cow__bridge_req {
  cow__bridge_req_t *hnext; /* hash chain */
  cow__list link;           /* all pending requests, in id order */
  cow__list tlink;          /* requests under the failure timeout, in send order */
  uint64_t id;
  uint32_t type;
  uint64_t deadline;
  cow__bridge_cb cb; /* NULL: abandoned (a tombstone that absorbs the late response) */
  void *ctx;
  unsigned timed : 1;
};

struct cow__bridge {
  cow__wire_t wire;
  uv_loop_t *loop;
  enum cow__bridge_state state;
  unsigned negotiated : 1;  /* a NegotiateProtocol succeeded */
  unsigned negotiating : 1; /* one is in flight: nothing else may be sent */
  unsigned timer_on : 1;
  unsigned closing : 1;
  uint64_t next_id;
  cow__bridge_req_t **buckets;
  size_t nbuckets, count, tombstones;
  cow__list all;
  cow__list timed;
  uv_timer_t timer;
  uint64_t rpc_timeout_ms;
  unsigned open_handles;
  cow_error_t cause;
  /* A container notification (type already checked); the frame is borrowed. */
  void (*on_notification)(cow__bridge_t *b, const cow__frame_t *frame);
  /* Killed: runs once, after every pending request's callback. */
  void (*on_dead)(cow__bridge_t *b);
  /* Every libuv handle of the bridge is closed: its memory may go. Runs once after
   * cow__bridge_close(). */
  void (*on_closed)(cow__bridge_t *b);
  void *data;
};

/* Set up an idle bridge (nothing allocated, no handle). */
void cow__bridge_init(cow__bridge_t *b, uv_loop_t *loop, uint64_t rpc_timeout_ms);

/* Attach the connected stream and start reading. On failure the bridge is killed. */
int cow__bridge_start(cow__bridge_t *b, uv_stream_t *stream, uint32_t max_frame);

/* Send a request whose body is the `len` bytes at `payload` (encoded JSON, borrowed: they
 * are copied behind the frame header into the wire's output buffer, written before the loop
 * next polls). `timed`: the request counts for the RPC failure timeout (every request
 * except WaitForProcess). Returns 0 (cb runs later, exactly once unless abandoned) or a
 * negative code with err filled (cb never runs; nothing was queued): COW_EBRIDGE_CLOSED,
 * COW_EINVALID_STATE (not negotiated yet, or a negotiate in flight), COW_EALREADY
 * (negotiate twice), COW_EMSG_TOO_LARGE, COW_ENOMEM. */
int cow__bridge_call(cow__bridge_t *b, uint32_t type, const char *payload, size_t len, int timed,
                     cow__bridge_cb cb, void *ctx, cow__bridge_req_t **out, cow_error_t *err);

/* The caller gives up on `req`: its callback will not run; the id stays registered until
 * the response arrives or the bridge dies, so a late answer is absorbed (§5.4). */
void cow__bridge_abandon(cow__bridge_t *b, cow__bridge_req_t *req);

/* Kill the bridge with `cause` (copied). Idempotent. */
void cow__bridge_kill(cow__bridge_t *b, const cow_error_t *cause);

/* Kill (cause COW_ECANCELED "closed by the host" unless already dead) and close the
 * handles; on_closed follows (possibly inside this call if nothing was ever opened). */
void cow__bridge_close(cow__bridge_t *b);

/* The error every failed request receives: COW_EBRIDGE_CLOSED + the cause's text. */
void cow__bridge_closed_error(const cow__bridge_t *b, const char *operation, cow_error_t *err);

#endif

/* Events to containerd, as the stock shim sends them: each event is an Any in an Envelope
 * forwarded with ttrpc containerd.services.events.ttrpc.v1.Events/Forward to the
 * TTRPC_ADDRESS containerd gave the shim (metadata containerd-namespace-ttrpc = the
 * namespace, 5 s per attempt). Without that address, `PUBLISH_BINARY --address ADDRESS
 * publish --topic T --namespace NS` gets the Any on its stdin instead.
 *
 * Order is containerd's order: one event in flight at a time, in the order published. A
 * failed attempt is retried after 1 s, 2 s, ... and the event dropped (with a log line)
 * after 5 retries; while containerd is away the queue waits, bounded: past
 * EVENTS_QUEUE_MAX events the oldest is dropped. Publishing never blocks the caller. */
#ifndef COW_SHIM_EVENTS_H
#define COW_SHIM_EVENTS_H

#include <protobuf-c/protobuf-c.h>
#include <uv.h>

#define EVENTS_QUEUE_MAX   2048 /* the stock shim's queue size */
#define EVENTS_MAX_RETRIES 5
#define EVENTS_TIMEOUT_MS  5000

typedef struct shim_events shim_events_t;

typedef struct shim_events_config {
  const char *ttrpc_address;      /* TTRPC_ADDRESS; NULL or "" for the publish binary */
  const char *publish_binary;     /* -publish-binary */
  const char *containerd_address; /* -address */
  const char *ns;                 /* -namespace */
} shim_events_config_t;

/* Strings are copied. Returns 0 or UV_ENOMEM. */
int shim_events_new(shim_events_t **out, uv_loop_t *loop, const shim_events_config_t *cfg);

/* Queue `event` (packed at once; the caller keeps it) under `topic` ("/tasks/exit"). */
void shim_events_publish(shim_events_t *ev, const char *topic, const ProtobufCMessage *event);

/* Send what is queued, for at most `timeout_ms`, then drop the rest and release
 * everything; `cb` (may be NULL) runs once, afterwards, never inside this call. */
void shim_events_close(shim_events_t *ev, uint64_t timeout_ms, void (*cb)(void *data), void *data);

#endif /* COW_SHIM_EVENTS_H */

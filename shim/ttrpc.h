/* ttrpc, containerd's RPC protocol, on a libuv loop: a server (the shim's Task service) and
 * a client (events to containerd).
 *
 * Wire (github.com/containerd/ttrpc): every message is a frame of a 10-byte header, u32
 * payload length (big-endian, header not counted), u32 stream id, u8 type (1 request,
 * 2 response), u8 flags, then the payload: a protobuf ttrpc.Request {service, method,
 * payload, timeout_nano, metadata} or ttrpc.Response {status, payload}. A client chooses
 * odd stream ids; requests overlap, and the server answers each on its stream id, in the
 * order the calls complete. Frames over 4 MiB are refused (their bytes are skipped and the
 * stream gets RESOURCE_EXHAUSTED); unknown frame types are ignored.
 *
 * Everything runs on the loop thread; no call here blocks. */
#ifndef COW_SHIM_TTRPC_H
#define COW_SHIM_TTRPC_H

#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>
#include <uv.h>

#define TTRPC_HEADER_SIZE   10
#define TTRPC_MAX_MESSAGE   (4u << 20) /* payload bytes; ttrpc's messageLengthMax */
#define TTRPC_TYPE_REQUEST  1
#define TTRPC_TYPE_RESPONSE 2
/* A connection that has this much unwritten output stops reading requests until the
 * peer has read some: a client that does not read cannot make the shim buffer without end. */
#define TTRPC_WRITE_HIGH_WATER (8u << 20)

/* gRPC status codes (google.golang.org/grpc/codes) that containerd maps to its errdefs. */
enum ttrpc_code {
  TTRPC_OK = 0,
  TTRPC_CANCELLED = 1,
  TTRPC_UNKNOWN = 2,
  TTRPC_INVALID_ARGUMENT = 3,
  TTRPC_DEADLINE_EXCEEDED = 4,
  TTRPC_NOT_FOUND = 5,
  TTRPC_ALREADY_EXISTS = 6,
  TTRPC_PERMISSION_DENIED = 7,
  TTRPC_RESOURCE_EXHAUSTED = 8,
  TTRPC_FAILED_PRECONDITION = 9,
  TTRPC_ABORTED = 10,
  TTRPC_OUT_OF_RANGE = 11,
  TTRPC_UNIMPLEMENTED = 12,
  TTRPC_INTERNAL = 13,
  TTRPC_UNAVAILABLE = 14,
};

/* ---- frames ---- */

/* Incremental frame decoder: bytes in, whole frames out. */
typedef struct ttrpc_decoder {
  uint8_t header[TTRPC_HEADER_SIZE];
  size_t header_len;
  uint32_t length, stream_id;
  uint8_t type, flags;
  uint8_t *payload; /* NULL while skipping an oversized frame */
  size_t got;
} ttrpc_decoder_t;

/* One whole frame. `payload` is NULL (and `length` the announced size) for a frame over
 * TTRPC_MAX_MESSAGE, whose bytes were skipped. The payload is borrowed for the call.
 * Return non-zero to stop decoding (the rest of the input is not looked at). */
typedef int (*ttrpc_frame_cb)(uint32_t stream_id, uint8_t type, uint8_t flags,
                              const uint8_t *payload, uint32_t length, void *data);

/* Feed `n` bytes. Returns 0, the callback's non-zero value, or UV_ENOMEM. */
int ttrpc_decode(ttrpc_decoder_t *d, const uint8_t *buf, size_t n, ttrpc_frame_cb cb, void *data);
/* Release a partial frame. The decoder may be reused. */
void ttrpc_decoder_reset(ttrpc_decoder_t *d);

/* A malloc'd frame: header + the packed message (NULL: empty payload). */
int ttrpc_frame(uint32_t stream_id, uint8_t type, const ProtobufCMessage *msg, uv_buf_t *out);

/* ---- server ---- */

typedef struct ttrpc_server ttrpc_server_t;
typedef struct ttrpc_call ttrpc_call_t;

/* A method handler. `request` (already unpacked with the method's input descriptor) is
 * borrowed until the call completes. The handler completes the call exactly once, now or
 * later, with ttrpc_call_reply() or ttrpc_call_fail(). */
typedef void (*ttrpc_method_fn)(ttrpc_call_t *call, const ProtobufCMessage *request, void *data);

/* A service: the generated descriptor (its name is the ttrpc service name, its methods'
 * names the method names) and one handler per method, in the descriptor's order. */
typedef struct ttrpc_service {
  const ProtobufCServiceDescriptor *descriptor;
  const ttrpc_method_fn *methods;
  void *data;
} ttrpc_service_t;

/* Serve `services` (borrowed; they must outlive the server) on `fd`, a listening AF_UNIX
 * socket the server takes over. Returns 0 or a libuv error. */
int ttrpc_server_start(ttrpc_server_t **out, uv_loop_t *loop, const ttrpc_service_t *services,
                       size_t nservices, int fd);

/* Stop accepting and close every connection; calls still in progress complete into the
 * void. `cb` (may be NULL) runs once every handle is closed; the server is freed after.
 * Connections accepted by then are never answered again. */
void ttrpc_server_close(ttrpc_server_t *s, void (*cb)(void *data), void *data);

/* Number of open connections (a shim uses it to know whether containerd is connected). */
size_t ttrpc_server_connections(const ttrpc_server_t *s);

/* Complete a call with its response (NULL: an empty message). The response is packed at
 * once: the caller keeps ownership. Frees the call. */
void ttrpc_call_reply(ttrpc_call_t *call, const ProtobufCMessage *response);

/* Complete a call with a gRPC status `code` (not TTRPC_OK) and a message. Frees the call. */
void ttrpc_call_fail(ttrpc_call_t *call, int code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* The value of request metadata `key`, or NULL. Borrowed until the call completes. */
const char *ttrpc_call_metadata(const ttrpc_call_t *call, const char *key);

/* The request the handler got (the same pointer), until the call completes. */
const ProtobufCMessage *ttrpc_call_request(const ttrpc_call_t *call);

/* The method's name ("Create"), for logs. Static storage. */
const char *ttrpc_call_method(const ttrpc_call_t *call);

/* ---- client ---- */

typedef struct ttrpc_client ttrpc_client_t;

/* Completion of a client call: `code` TTRPC_OK and the response (unpacked with the
 * descriptor given to the call; borrowed for the callback, NULL when the descriptor was
 * NULL), or an error code and `message` (borrowed): the server's status, or
 * TTRPC_UNAVAILABLE when the connection failed or closed, TTRPC_DEADLINE_EXCEEDED when
 * `timeout_ms` passed, TTRPC_CANCELLED when the client was closed. */
typedef void (*ttrpc_client_cb)(int code, const char *message, const ProtobufCMessage *response,
                                void *data);

/* A client for the AF_UNIX socket `path` (copied). The connection is made at the first
 * call and again after it broke. */
int ttrpc_client_new(ttrpc_client_t **out, uv_loop_t *loop, const char *path);

/* Call service/method with `request` (packed at once), the metadata pairs `md`
 * ({key, value, key, value, ..., NULL}), a timeout (0: none; sent as timeout_nano and
 * enforced here). `cb` runs exactly once, never inside this call. Returns 0 or UV_ENOMEM
 * / UV_EINVAL (then `cb` never runs). */
int ttrpc_client_call(ttrpc_client_t *c, const char *service, const char *method,
                      const ProtobufCMessage *request, const ProtobufCMessageDescriptor *response,
                      const char *const *md, uint64_t timeout_ms, ttrpc_client_cb cb, void *data);

/* Fail every call in flight with TTRPC_CANCELLED, close the connection; `cb` (may be
 * NULL) runs when everything is closed, then the client is freed. */
void ttrpc_client_close(ttrpc_client_t *c, void (*cb)(void *data), void *data);

#endif /* COW_SHIM_TTRPC_H */

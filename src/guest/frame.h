/* Internal: GCS bridge framing (docs/gcs-bridge-protocol.md §1.2-§1.5).
 *
 * One pure module shared by the guest-connection backend (host side) and the test peer
 * (guest side): type constants and names, the 16-byte little-endian header, size checks and
 * an incremental decoder. It does no I/O and knows nothing about JSON; the payload is opaque
 * bytes. Thread: any (no shared state); one decoder is used by one thread at a time. */
#ifndef COW_GUEST_FRAME_H
#define COW_GUEST_FRAME_H

#include <stddef.h>
#include <stdint.h>

#include "cow/error.h"

#define COW__FRAME_HEADER_SIZE 16u
/* Largest frame the host accepts, header included (hcsshim prot.MaxMsgSize, §1.5). */
#define COW__FRAME_MAX_SIZE 0x10000u

/* Type word layout: T(4) | category(8) | message id(12) | version(8) (§1.3). */
#define COW__FRAME_KIND_MASK     0xF0000000u
#define COW__FRAME_CATEGORY_MASK 0x0FF00000u
#define COW__FRAME_MSGID_MASK    0x000FFF00u
#define COW__FRAME_VERSION_MASK  0x000000FFu

#define COW__FRAME_KIND_REQUEST      0x10000000u
#define COW__FRAME_KIND_RESPONSE     0x20000000u
#define COW__FRAME_KIND_NOTIFICATION 0x30000000u

#define COW__FRAME_CATEGORY_SYSTEM  0x00100000u /* ComputeSystem */
#define COW__FRAME_CATEGORY_SERVICE 0x00200000u /* ComputeService (HEAD host only) */

/* RPC codes without the kind nibble: category | (n << 8) | version 1. */
#define COW__RPC_CODE(cat, n) ((cat) | ((uint32_t)(n) << 8) | 1u)

/* Every request type of §1.4. */
#define COW__MSG_CREATE                  0x10100101u
#define COW__MSG_START                   0x10100201u
#define COW__MSG_SHUTDOWN_GRACEFUL       0x10100301u
#define COW__MSG_SHUTDOWN_FORCED         0x10100401u
#define COW__MSG_EXECUTE_PROCESS         0x10100501u
#define COW__MSG_WAIT_FOR_PROCESS        0x10100601u
#define COW__MSG_SIGNAL_PROCESS          0x10100701u
#define COW__MSG_RESIZE_CONSOLE          0x10100801u
#define COW__MSG_GET_PROPERTIES          0x10100901u
#define COW__MSG_MODIFY_SETTINGS         0x10100a01u
#define COW__MSG_NEGOTIATE_PROTOCOL      0x10100b01u
#define COW__MSG_DUMP_STACKS             0x10100c01u
#define COW__MSG_DELETE_CONTAINER_STATE  0x10100d01u
#define COW__MSG_UPDATE_CONTAINER        0x10100e01u
#define COW__MSG_LIFECYCLE_NOTIFICATION  0x10100f01u
#define COW__MSG_MODIFY_SERVICE_SETTINGS 0x10200101u

/* The response to request type `t`: the guest echoes everything but the kind nibble. */
#define COW__FRAME_RESPONSE_OF(t)                                                                  \
  (COW__FRAME_KIND_RESPONSE | ((uint32_t)(t) & ~COW__FRAME_KIND_MASK))

#define COW__MSG_CREATE_RESPONSE             COW__FRAME_RESPONSE_OF(COW__MSG_CREATE)
#define COW__MSG_START_RESPONSE              COW__FRAME_RESPONSE_OF(COW__MSG_START)
#define COW__MSG_SHUTDOWN_GRACEFUL_RESPONSE  COW__FRAME_RESPONSE_OF(COW__MSG_SHUTDOWN_GRACEFUL)
#define COW__MSG_SHUTDOWN_FORCED_RESPONSE    COW__FRAME_RESPONSE_OF(COW__MSG_SHUTDOWN_FORCED)
#define COW__MSG_EXECUTE_PROCESS_RESPONSE    COW__FRAME_RESPONSE_OF(COW__MSG_EXECUTE_PROCESS)
#define COW__MSG_WAIT_FOR_PROCESS_RESPONSE   COW__FRAME_RESPONSE_OF(COW__MSG_WAIT_FOR_PROCESS)
#define COW__MSG_SIGNAL_PROCESS_RESPONSE     COW__FRAME_RESPONSE_OF(COW__MSG_SIGNAL_PROCESS)
#define COW__MSG_RESIZE_CONSOLE_RESPONSE     COW__FRAME_RESPONSE_OF(COW__MSG_RESIZE_CONSOLE)
#define COW__MSG_GET_PROPERTIES_RESPONSE     COW__FRAME_RESPONSE_OF(COW__MSG_GET_PROPERTIES)
#define COW__MSG_MODIFY_SETTINGS_RESPONSE    COW__FRAME_RESPONSE_OF(COW__MSG_MODIFY_SETTINGS)
#define COW__MSG_NEGOTIATE_PROTOCOL_RESPONSE COW__FRAME_RESPONSE_OF(COW__MSG_NEGOTIATE_PROTOCOL)
#define COW__MSG_DUMP_STACKS_RESPONSE        COW__FRAME_RESPONSE_OF(COW__MSG_DUMP_STACKS)
#define COW__MSG_DELETE_CONTAINER_STATE_RESPONSE                                                   \
  COW__FRAME_RESPONSE_OF(COW__MSG_DELETE_CONTAINER_STATE)
#define COW__MSG_UPDATE_CONTAINER_RESPONSE COW__FRAME_RESPONSE_OF(COW__MSG_UPDATE_CONTAINER)
#define COW__MSG_LIFECYCLE_NOTIFICATION_RESPONSE                                                   \
  COW__FRAME_RESPONSE_OF(COW__MSG_LIFECYCLE_NOTIFICATION)
#define COW__MSG_MODIFY_SERVICE_SETTINGS_RESPONSE                                                  \
  COW__FRAME_RESPONSE_OF(COW__MSG_MODIFY_SERVICE_SETTINGS)

/* The only notification in existence (guest -> host, id 0). */
#define COW__MSG_CONTAINER_NOTIFICATION 0x30100101u

static inline uint32_t cow__frame_kind(uint32_t type)
{
  return type & COW__FRAME_KIND_MASK;
}

/* Name of the RPC whose code (type without the kind nibble) matches: "NegotiateProtocol",
 * "Create", ... ; "Container" for the notification type; NULL when unknown.
 * Ownership: static storage. */
const char *cow__frame_rpc_name(uint32_t type);

/* Human-readable name in the form the conformance recordings use: "Request(Create)",
 * "Response(unknown 0x20109901)", "Notification(Container)", "Unknown(0x00000000)".
 * Writes into buf (always NUL-terminated when len > 0) and returns buf. 48 bytes suffice. */
char *cow__frame_type_name(uint32_t type, char *buf, size_t len);

typedef struct cow__frame_header {
  uint32_t type;
  uint32_t size; /* total frame length, header included */
  uint64_t id;
} cow__frame_header_t;

void cow__frame_header_encode(const cow__frame_header_t *hdr, uint8_t out[16]);
void cow__frame_header_decode(const uint8_t in[16], cow__frame_header_t *hdr);

/* Check an incoming header: size in [16, max_size] (max_size 0 = COW__FRAME_MAX_SIZE).
 * Returns 0 or COW_EPROTOCOL with a message in err. Never allocates beyond the message. */
int cow__frame_header_check(const cow__frame_header_t *hdr, uint32_t max_size, cow_error_t *err);

/* Build one frame (header + payload copy) in a buffer from cow__malloc. Frames larger than
 * COW__FRAME_MAX_SIZE are refused with COW_EMSG_TOO_LARGE: the peer would kill its bridge.
 * On success *out (free with cow__free) and *out_len are set; returns 0 or a COW_E* code. */
int cow__frame_build(uint32_t type, uint64_t id, const void *payload, size_t payload_len,
                     uint8_t **out, size_t *out_len, cow_error_t *err);

/* One complete decoded frame. payload is from cow__malloc, NUL-terminated one byte past
 * payload_len (convenient for parsers; the payload itself may contain NULs). */
typedef struct cow__frame {
  cow__frame_header_t hdr;
  uint8_t *payload;
  size_t payload_len;
} cow__frame_t;

/* Free the payload and reset the frame. NULL is allowed. */
void cow__frame_release(cow__frame_t *frame);

/* Incremental decoder: bytes in arbitrary chunks in, complete frames out. */
typedef struct cow__frame_decoder {
  uint32_t max_size;
  uint8_t hdr_buf[16];
  size_t hdr_have;
  cow__frame_header_t hdr; /* valid once hdr_have == 16 */
  uint8_t *payload;        /* allocated after the header passed the size check */
  size_t payload_have;
  int error; /* sticky: 0 or the code returned once */
} cow__frame_decoder_t;

/* max_size 0 = COW__FRAME_MAX_SIZE. Nothing is allocated until a header arrives. */
void cow__frame_decoder_init(cow__frame_decoder_t *dec, uint32_t max_size);
void cow__frame_decoder_reset(cow__frame_decoder_t *dec); /* frees a partial frame */

/* Feed bytes. Consumes bytes up to the end of the first frame that completes:
 *   returns 1: a frame is in *out (caller owns it), *consumed bytes were used; call again
 *              with the rest;
 *   returns 0: all len bytes were consumed (*consumed == len), the frame is incomplete;
 *   returns < 0: COW_EPROTOCOL (bad header: size < 16 or > max; message in err) or
 *              COW_ENOMEM. The error is sticky: later calls return it again. */
int cow__frame_decoder_feed(cow__frame_decoder_t *dec, const uint8_t *data, size_t len,
                            size_t *consumed, cow__frame_t *out, cow_error_t *err);

/* Bytes of an incomplete frame held by the decoder (0 between frames). */
size_t cow__frame_decoder_pending(const cow__frame_decoder_t *dec);

/* At end of stream: 0 when the stream stopped between frames, otherwise COW_EPROTOCOL with
 * "truncated header (7 of 16 bytes)" or "truncated payload (50 of 184 bytes)". */
int cow__frame_decoder_finish(const cow__frame_decoder_t *dec, cow_error_t *err);

#endif

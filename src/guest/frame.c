/* GCS bridge framing: see frame.h. */
#include "guest/frame.h"

#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"

static const char *const rpc_names[] = {
    /* message id 1..15 in the ComputeSystem category */
    NULL,
    "Create",
    "Start",
    "ShutdownGraceful",
    "ShutdownForced",
    "ExecuteProcess",
    "WaitForProcess",
    "SignalProcess",
    "ResizeConsole",
    "GetProperties",
    "ModifySettings",
    "NegotiateProtocol",
    "DumpStacks",
    "DeleteContainerState",
    "UpdateContainer",
    "LifecycleNotification",
};

const char *cow__frame_rpc_name(uint32_t type)
{
  uint32_t code = type & ~COW__FRAME_KIND_MASK;
  uint32_t kind = cow__frame_kind(type);
  if (kind == COW__FRAME_KIND_NOTIFICATION)
    return code == (COW__MSG_CONTAINER_NOTIFICATION & ~COW__FRAME_KIND_MASK) ? "Container" : NULL;
  if ((code & COW__FRAME_VERSION_MASK) != 1u)
    return NULL;
  if ((code & COW__FRAME_CATEGORY_MASK) == COW__FRAME_CATEGORY_SYSTEM) {
    uint32_t n = (code & COW__FRAME_MSGID_MASK) >> 8;
    if (n >= 1 && n < sizeof rpc_names / sizeof rpc_names[0])
      return rpc_names[n];
    return NULL;
  }
  if (code == (COW__MSG_MODIFY_SERVICE_SETTINGS & ~COW__FRAME_KIND_MASK))
    return "ModifyServiceSettings";
  return NULL;
}

char *cow__frame_type_name(uint32_t type, char *buf, size_t len)
{
  const char *kind;
  const char *rpc;
  if (!buf || len == 0)
    return buf;
  switch (cow__frame_kind(type)) {
  case COW__FRAME_KIND_REQUEST:
    kind = "Request";
    break;
  case COW__FRAME_KIND_RESPONSE:
    kind = "Response";
    break;
  case COW__FRAME_KIND_NOTIFICATION:
    kind = "Notification";
    break;
  default:
    snprintf(buf, len, "Unknown(0x%08x)", (unsigned)type);
    return buf;
  }
  rpc = cow__frame_rpc_name(type);
  if (rpc)
    snprintf(buf, len, "%s(%s)", kind, rpc);
  else
    snprintf(buf, len, "%s(unknown 0x%08x)", kind, (unsigned)type);
  return buf;
}

static void put_le32(uint8_t *p, uint32_t v)
{
  p[0] = (uint8_t)v;
  p[1] = (uint8_t)(v >> 8);
  p[2] = (uint8_t)(v >> 16);
  p[3] = (uint8_t)(v >> 24);
}

static uint32_t get_le32(const uint8_t *p)
{
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

void cow__frame_header_encode(const cow__frame_header_t *hdr, uint8_t out[16])
{
  put_le32(out, hdr->type);
  put_le32(out + 4, hdr->size);
  put_le32(out + 8, (uint32_t)hdr->id);
  put_le32(out + 12, (uint32_t)(hdr->id >> 32));
}

void cow__frame_header_decode(const uint8_t in[16], cow__frame_header_t *hdr)
{
  hdr->type = get_le32(in);
  hdr->size = get_le32(in + 4);
  hdr->id = (uint64_t)get_le32(in + 8) | (uint64_t)get_le32(in + 12) << 32;
}

int cow__frame_header_check(const cow__frame_header_t *hdr, uint32_t max_size, cow_error_t *err)
{
  char name[48];
  if (max_size == 0)
    max_size = COW__FRAME_MAX_SIZE;
  if (hdr->size < COW__FRAME_HEADER_SIZE)
    return cow__error_set(err, COW_EPROTOCOL, COW_DOMAIN_LIB, 0, "frame", NULL,
                          "frame size %u is smaller than the 16-byte header (type %s, id %llu)",
                          (unsigned)hdr->size, cow__frame_type_name(hdr->type, name, sizeof name),
                          (unsigned long long)hdr->id);
  if (hdr->size > max_size)
    return cow__error_set(err, COW_EPROTOCOL, COW_DOMAIN_LIB, 0, "frame", NULL,
                          "frame size %u exceeds the limit of %u bytes (type %s, id %llu)",
                          (unsigned)hdr->size, (unsigned)max_size,
                          cow__frame_type_name(hdr->type, name, sizeof name),
                          (unsigned long long)hdr->id);
  return 0;
}

int cow__frame_build(uint32_t type, uint64_t id, const void *payload, size_t payload_len,
                     uint8_t **out, size_t *out_len, cow_error_t *err)
{
  cow__frame_header_t hdr;
  uint8_t *buf;
  if (!out || !out_len || (payload_len && !payload))
    return cow__error_set(err, COW_EINVAL, COW_DOMAIN_LIB, 0, "frame", NULL, NULL);
  *out = NULL;
  *out_len = 0;
  if (payload_len > COW__FRAME_MAX_SIZE - COW__FRAME_HEADER_SIZE)
    return cow__error_set(err, COW_EMSG_TOO_LARGE, COW_DOMAIN_LIB, 0, "frame", NULL,
                          "a %zu-byte payload makes a frame larger than %u bytes", payload_len,
                          (unsigned)COW__FRAME_MAX_SIZE);
  buf = cow__malloc(COW__FRAME_HEADER_SIZE + payload_len);
  if (!buf)
    return cow__error_set(err, COW_ENOMEM, COW_DOMAIN_LIB, 0, "frame", NULL, NULL);
  hdr.type = type;
  hdr.size = (uint32_t)(COW__FRAME_HEADER_SIZE + payload_len);
  hdr.id = id;
  cow__frame_header_encode(&hdr, buf);
  if (payload_len)
    memcpy(buf + COW__FRAME_HEADER_SIZE, payload, payload_len);
  *out = buf;
  *out_len = COW__FRAME_HEADER_SIZE + payload_len;
  return 0;
}

void cow__frame_release(cow__frame_t *frame)
{
  if (!frame)
    return;
  cow__free(frame->payload);
  memset(frame, 0, sizeof *frame);
}

void cow__frame_decoder_init(cow__frame_decoder_t *dec, uint32_t max_size)
{
  memset(dec, 0, sizeof *dec);
  dec->max_size = max_size ? max_size : COW__FRAME_MAX_SIZE;
}

void cow__frame_decoder_reset(cow__frame_decoder_t *dec)
{
  uint32_t max = dec->max_size;
  cow__free(dec->payload);
  cow__frame_decoder_init(dec, max);
}

size_t cow__frame_decoder_pending(const cow__frame_decoder_t *dec)
{
  return dec->hdr_have + dec->payload_have;
}

int cow__frame_decoder_feed(cow__frame_decoder_t *dec, const uint8_t *data, size_t len,
                            size_t *consumed, cow__frame_t *out, cow_error_t *err)
{
  size_t used = 0;
  size_t body;
  int rc;
  *consumed = 0;
  if (dec->error)
    return cow__error_set(err, dec->error, COW_DOMAIN_LIB, 0, "frame", NULL,
                          "the frame stream already failed");
  if (len == 0)
    return 0; /* memcpy must never see a NULL source, even for 0 bytes */
  if (!data)
    return cow__error_set(err, COW_EINVAL, COW_DOMAIN_LIB, 0, "frame", NULL, NULL);

  if (dec->hdr_have < COW__FRAME_HEADER_SIZE) {
    size_t n = COW__FRAME_HEADER_SIZE - dec->hdr_have;
    if (n > len)
      n = len;
    memcpy(dec->hdr_buf + dec->hdr_have, data, n);
    dec->hdr_have += n;
    used += n;
    if (dec->hdr_have < COW__FRAME_HEADER_SIZE) {
      *consumed = used;
      return 0;
    }
    cow__frame_header_decode(dec->hdr_buf, &dec->hdr);
    /* Validate before allocating: a hostile size must never drive an allocation. */
    rc = cow__frame_header_check(&dec->hdr, dec->max_size, err);
    if (rc < 0) {
      dec->error = rc;
      *consumed = used;
      return rc;
    }
    /* +1 for the NUL terminator promised in frame.h. */
    dec->payload = cow__malloc(dec->hdr.size - COW__FRAME_HEADER_SIZE + 1u);
    if (!dec->payload) {
      dec->error = COW_ENOMEM;
      *consumed = used;
      return cow__error_set(err, COW_ENOMEM, COW_DOMAIN_LIB, 0, "frame", NULL, NULL);
    }
    dec->payload_have = 0;
  }

  body = dec->hdr.size - COW__FRAME_HEADER_SIZE;
  if (dec->payload_have < body) {
    size_t n = body - dec->payload_have;
    if (n > len - used)
      n = len - used;
    memcpy(dec->payload + dec->payload_have, data + used, n);
    dec->payload_have += n;
    used += n;
  }
  *consumed = used;
  if (dec->payload_have < body)
    return 0;

  dec->payload[body] = 0;
  out->hdr = dec->hdr;
  out->payload = dec->payload;
  out->payload_len = body;
  dec->payload = NULL;
  dec->payload_have = 0;
  dec->hdr_have = 0;
  return 1;
}

int cow__frame_decoder_finish(const cow__frame_decoder_t *dec, cow_error_t *err)
{
  if (dec->error)
    return cow__error_set(err, dec->error, COW_DOMAIN_LIB, 0, "frame", NULL,
                          "the frame stream already failed");
  if (dec->hdr_have == 0)
    return 0;
  if (dec->hdr_have < COW__FRAME_HEADER_SIZE)
    return cow__error_set(err, COW_EPROTOCOL, COW_DOMAIN_LIB, 0, "frame", NULL,
                          "truncated header (%zu of 16 bytes)", dec->hdr_have);
  return cow__error_set(err, COW_EPROTOCOL, COW_DOMAIN_LIB, 0, "frame", NULL,
                        "truncated payload (%zu of %u bytes)", dec->payload_have,
                        (unsigned)(dec->hdr.size - COW__FRAME_HEADER_SIZE));
}

/* ttrpc frames: the 10-byte header and the incremental decoder. */
#include <stdlib.h>
#include <string.h>

#include "ttrpc.h"

static uint32_t be32(const uint8_t *p)
{
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put_be32(uint8_t *p, uint32_t v)
{
  p[0] = (uint8_t)(v >> 24);
  p[1] = (uint8_t)(v >> 16);
  p[2] = (uint8_t)(v >> 8);
  p[3] = (uint8_t)v;
}

void ttrpc_decoder_reset(ttrpc_decoder_t *d)
{
  free(d->payload);
  memset(d, 0, sizeof *d);
}

int ttrpc_decode(ttrpc_decoder_t *d, const uint8_t *buf, size_t n, ttrpc_frame_cb cb, void *data)
{
  while (n > 0) {
    if (d->header_len < TTRPC_HEADER_SIZE) {
      size_t take = TTRPC_HEADER_SIZE - d->header_len;
      if (take > n)
        take = n;
      memcpy(d->header + d->header_len, buf, take);
      d->header_len += take;
      buf += take;
      n -= take;
      if (d->header_len < TTRPC_HEADER_SIZE)
        return 0;
      d->length = be32(d->header);
      d->stream_id = be32(d->header + 4);
      d->type = d->header[8];
      d->flags = d->header[9];
      d->got = 0;
      /* An oversized frame is skipped, not buffered: its payload stays NULL. */
      if (d->length > 0 && d->length <= TTRPC_MAX_MESSAGE &&
          (d->payload = malloc(d->length)) == NULL)
        return UV_ENOMEM;
    }
    size_t take = d->length - d->got;
    if (take > n)
      take = n;
    if (d->payload != NULL)
      memcpy(d->payload + d->got, buf, take);
    d->got += take;
    buf += take;
    n -= take;
    if (d->got < d->length)
      return 0;
    /* A whole frame. An empty payload is valid (an empty request message). */
    static const uint8_t empty[1];
    uint8_t *payload = d->payload;
    int over = d->length > TTRPC_MAX_MESSAGE;
    d->payload = NULL;
    d->header_len = 0;
    int rc = cb(d->stream_id, d->type, d->flags,
                over      ? NULL
                : payload ? payload
                          : empty,
                d->length, data);
    free(payload);
    if (rc != 0)
      return rc;
  }
  return 0;
}

int ttrpc_frame(uint32_t stream_id, uint8_t type, const ProtobufCMessage *msg, uv_buf_t *out)
{
  size_t len = msg != NULL ? protobuf_c_message_get_packed_size(msg) : 0;
  if (len > TTRPC_MAX_MESSAGE)
    return UV_E2BIG;
  uint8_t *p = malloc(TTRPC_HEADER_SIZE + len);
  if (p == NULL)
    return UV_ENOMEM;
  put_be32(p, (uint32_t)len);
  put_be32(p + 4, stream_id);
  p[8] = type;
  p[9] = 0;
  if (msg != NULL)
    protobuf_c_message_pack(msg, p + TTRPC_HEADER_SIZE);
  *out = uv_buf_init((char *)p, (unsigned)(TTRPC_HEADER_SIZE + len));
  return 0;
}

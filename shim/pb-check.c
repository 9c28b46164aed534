/* The wire check in front of protobuf-c: what a peer sends is walked against the message's
 * descriptor before protobuf-c unpacks it, and refused with a reason where protobuf-c would
 * accept it but change it, or accept it and then refuse its own output.
 *
 * protobuf-c 1.4 (Debian 12) is lax in three ways the shim must not inherit:
 *   - a key for field number 0 written as a longer varint (0x80 0x00) passes its check of
 *     the first byte; it is kept as an unknown field, re-emitted as the one byte 0x00, and
 *     that is refused. pb_copy() of such a mount then failed as if memory had run out
 *     (found by fuzz_ttrpc; the input is tests/fuzz/corpus/ttrpc/field-zero-*).
 *   - a string with a NUL byte unpacks to a C string that ends at the NUL: an id
 *     "t1\0x" would silently become "t1".
 *   - a proto3 string that is not UTF-8 is accepted (Go's protobuf, which containerd uses,
 *     refuses it on both sides, so only a broken or hostile client sends one).
 * Everything protobuf-c itself refuses (truncation, wire types that do not match a known
 * field) is left to it. */
#include <stdio.h>
#include <string.h>

#include "pb.h"

#define PB_MAX_DEPTH 32          /* our messages nest 4 deep; containerd's never more than 10 */
#define PB_MAX_FIELD 0x1fffffffu /* 2^29 - 1, the largest field number protobuf allows */

struct check {
  char *why;
  size_t why_len;
};

static int refuse(struct check *c, const ProtobufCMessageDescriptor *desc, uint32_t field,
                  const char *what)
{
  if (c->why_len > 0)
    snprintf(c->why, c->why_len, "%s field %u: %s", desc->name, field, what);
  return -1;
}

/* A varint of at most `max` bytes; its length, or 0 if it does not end within them or
 * overflows 64 bits (the tenth byte may carry one bit only). */
static size_t varint(const uint8_t *p, size_t left, size_t max, uint64_t *out)
{
  uint64_t v = 0;
  for (size_t i = 0; i < left && i < max; i++) {
    if (i == 9 && p[i] > 1)
      return 0;
    v |= (uint64_t)(p[i] & 0x7f) << (7 * i);
    if ((p[i] & 0x80) == 0) {
      *out = v;
      return i + 1;
    }
  }
  return 0;
}

/* UTF-8 as RFC 3629 defines it: no overlong forms, no surrogates, nothing above U+10FFFF. */
static int utf8_valid(const uint8_t *s, size_t n)
{
  size_t i = 0;
  while (i < n) {
    uint8_t b = s[i];
    size_t len = b < 0x80             ? 1
                 : (b & 0xe0) == 0xc0 ? 2
                 : (b & 0xf0) == 0xe0 ? 3
                 : (b & 0xf8) == 0xf0 ? 4
                                      : 0;
    if (len == 0 || n - i < len)
      return 0;
    uint32_t cp = len == 1 ? b : (uint32_t)(b & (0x7f >> len));
    for (size_t k = 1; k < len; k++) {
      if ((s[i + k] & 0xc0) != 0x80)
        return 0;
      cp = (cp << 6) | (s[i + k] & 0x3f);
    }
    static const uint32_t min[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < min[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
      return 0;
    i += len;
  }
  return 1;
}

static int check_message(struct check *c, const ProtobufCMessageDescriptor *desc, const uint8_t *p,
                         size_t len, int depth)
{
  if (depth > PB_MAX_DEPTH)
    return refuse(c, desc, 0, "messages nested too deeply");
  size_t off = 0;
  while (off < len) {
    uint64_t key;
    /* a key is a uint32: five bytes at most, and the fifth carries only 4 bits */
    size_t n = varint(p + off, len - off, 5, &key);
    if (n == 0 || key > UINT32_MAX)
      return refuse(c, desc, 0, "bad key");
    off += n;
    uint32_t number = (uint32_t)(key >> 3), type = (uint32_t)(key & 7);
    if (number == 0 || number > PB_MAX_FIELD)
      return refuse(c, desc, number, "not a valid field number");
    uint64_t v;
    switch (type) {
    case PROTOBUF_C_WIRE_TYPE_VARINT:
      n = varint(p + off, len - off, 10, &v);
      if (n == 0)
        return refuse(c, desc, number, "truncated or overlong varint");
      off += n;
      continue;
    case PROTOBUF_C_WIRE_TYPE_64BIT:
    case PROTOBUF_C_WIRE_TYPE_32BIT: {
      size_t size = type == PROTOBUF_C_WIRE_TYPE_64BIT ? 8 : 4;
      if (len - off < size)
        return refuse(c, desc, number, "truncated fixed-size value");
      off += size;
      continue;
    }
    case PROTOBUF_C_WIRE_TYPE_LENGTH_PREFIXED:
      n = varint(p + off, len - off, 10, &v);
      if (n == 0 || v > len - off - n)
        return refuse(c, desc, number, "length runs past the end of the message");
      off += n;
      break;
    default:
      return refuse(c, desc, number, "group or undefined wire type (protobuf-c reads neither)");
    }
    const uint8_t *value = p + off;
    off += (size_t)v;
    const ProtobufCFieldDescriptor *f = protobuf_c_message_descriptor_get_field(desc, number);
    if (f == NULL)
      continue; /* an unknown field: kept by protobuf-c, re-emitted as it came */
    if (f->type == PROTOBUF_C_TYPE_STRING) {
      if (memchr(value, 0, (size_t)v) != NULL)
        return refuse(c, desc, number, "string contains a NUL byte");
      if (!utf8_valid(value, (size_t)v))
        return refuse(c, desc, number, "string is not valid UTF-8");
    } else if (f->type == PROTOBUF_C_TYPE_MESSAGE) {
      if (check_message(c, f->descriptor, value, (size_t)v, depth + 1) != 0)
        return -1;
    }
  }
  return 0;
}

int pb_check(const ProtobufCMessageDescriptor *desc, size_t len, const uint8_t *data, char *why,
             size_t why_len)
{
  struct check c = {why, why_len};
  if (why_len > 0)
    why[0] = '\0';
  return check_message(&c, desc, data, len, 0);
}

ProtobufCMessage *pb_unpack(const ProtobufCMessageDescriptor *desc, size_t len, const uint8_t *data,
                            char *why, size_t why_len)
{
  if (pb_check(desc, len, data, why, why_len) != 0)
    return NULL;
  ProtobufCMessage *m = protobuf_c_message_unpack(desc, NULL, len, data);
  if (m == NULL && why_len > 0) /* a wire type that does not match a known field, or memory */
    snprintf(why, why_len, "%s: protobuf-c could not unpack it", desc->name);
  return m;
}

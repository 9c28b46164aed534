/* Protobuf glue. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pb.h"

int pb_any_pack(Google__Protobuf__Any *any, const ProtobufCMessage *msg)
{
  google__protobuf__any__init(any);
  size_t len = protobuf_c_message_get_packed_size(msg);
  uint8_t *p = malloc(len > 0 ? len : 1);
  if (p == NULL)
    return -1;
  any->type_url = (char *)PB_TYPE_URL(msg->descriptor);
  any->value.len = protobuf_c_message_pack(msg, p);
  any->value.data = p;
  return 0;
}

void pb_any_clear(Google__Protobuf__Any *any)
{
  free(any->value.data);
  any->value.data = NULL;
  any->value.len = 0;
}

int pb_any_is(const Google__Protobuf__Any *any, const char *name)
{
  static const char prefix[] = "type.googleapis.com/";
  const char *url = any != NULL && any->type_url != NULL ? any->type_url : "";
  if (strncmp(url, prefix, sizeof prefix - 1) == 0)
    url += sizeof prefix - 1;
  return strcmp(url, name) == 0;
}

ProtobufCMessage *pb_any_unpack(const Google__Protobuf__Any *any,
                                const ProtobufCMessageDescriptor *desc, char *why, size_t why_len)
{
  if (!pb_any_is(any, PB_TYPE_URL(desc))) {
    if (why_len > 0)
      snprintf(why, why_len, "type \"%s\", not %s",
               any != NULL && any->type_url != NULL ? any->type_url : "", PB_TYPE_URL(desc));
    return NULL;
  }
  return pb_unpack(desc, any->value.len, any->value.data, why, why_len);
}

void pb_timestamp(Google__Protobuf__Timestamp *ts, const struct timespec *t)
{
  google__protobuf__timestamp__init(ts);
  ts->seconds = (int64_t)t->tv_sec;
  ts->nanos = (int32_t)t->tv_nsec;
}

ProtobufCMessage *pb_copy(const ProtobufCMessage *msg)
{
  size_t len = protobuf_c_message_get_packed_size(msg);
  uint8_t *p = malloc(len > 0 ? len : 1);
  if (p == NULL)
    return NULL;
  protobuf_c_message_pack(msg, p);
  ProtobufCMessage *copy = protobuf_c_message_unpack(msg->descriptor, NULL, len, p);
  free(p);
  return copy;
}

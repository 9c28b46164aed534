/* Protobuf glue: the generated messages the shim uses, Any and Timestamp helpers. */
#ifndef COW_SHIM_PB_H
#define COW_SHIM_PB_H

#include <stdint.h>
#include <time.h>

#include <protobuf-c/protobuf-c.h>

#include "events-service.pb-c.h"
#include "events.pb-c.h"
#include "google/protobuf/any.pb-c.h"
#include "google/protobuf/empty.pb-c.h"
#include "google/protobuf/timestamp.pb-c.h"
#include "metrics.pb-c.h"
#include "runc-options.pb-c.h"
#include "runtimeoptions.pb-c.h"
#include "shim.pb-c.h"
#include "task-types.pb-c.h"
#include "types.pb-c.h"

/* containerd's type URLs are the full message names, without a type.googleapis.com/ prefix
 * (github.com/containerd/typeurl v1). The URL of a generated message: */
#define PB_TYPE_URL(desc) ((desc)->name)

/* Pack `msg` into `any` (its value is malloc'd: release with pb_any_clear()).
 * Returns 0 or -1 (out of memory). */
int pb_any_pack(Google__Protobuf__Any *any, const ProtobufCMessage *msg);
void pb_any_clear(Google__Protobuf__Any *any);

/* Unpack `any` as `desc` when its type URL names it (a "type.googleapis.com/" prefix is
 * accepted). NULL when the type differs or the bytes do not parse.
 * Release with protobuf_c_message_free_unpacked(). */
ProtobufCMessage *pb_any_unpack(const Google__Protobuf__Any *any,
                                const ProtobufCMessageDescriptor *desc);

/* 1 when `any` carries the type `name` (with or without the googleapis prefix). */
int pb_any_is(const Google__Protobuf__Any *any, const char *name);

/* A deep copy of `msg` (pack and unpack), or NULL. Release with
 * protobuf_c_message_free_unpacked(). */
ProtobufCMessage *pb_copy(const ProtobufCMessage *msg);

/* Fill a Timestamp from a wall-clock time. */
void pb_timestamp(Google__Protobuf__Timestamp *ts, const struct timespec *t);

#endif /* COW_SHIM_PB_H */

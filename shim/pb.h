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

/* Check `len` bytes from a peer against `desc` (shim/pb-check.c): 0 when they hold nothing
 * protobuf-c would change while unpacking or could not re-read once it packed it again
 * (protobuf-c may still refuse them, e.g. a wire type that does not fit a known field);
 * -1 otherwise, with the reason ("containerd.task.v2.CreateTaskRequest field 2: string contains a
 * NUL byte") in `why` (always NUL-terminated when why_len > 0). Nothing is allocated. Refused:
 * field number 0 or above 2^29-1, group and undefined wire types, truncated or overflowing
 * varints and lengths, strings with a NUL byte or not UTF-8, the same in nested messages. */
int pb_check(const ProtobufCMessageDescriptor *desc, size_t len, const uint8_t *data, char *why,
             size_t why_len);

/* pb_check(), then protobuf_c_message_unpack(): every message from a peer is read with this.
 * NULL with the reason in `why` (a wire type that does not fit a known field, or memory, is
 * what protobuf-c refuses after the check). Release with protobuf_c_message_free_unpacked(). */
ProtobufCMessage *pb_unpack(const ProtobufCMessageDescriptor *desc, size_t len, const uint8_t *data,
                            char *why, size_t why_len);

/* Unpack `any` as `desc` when its type URL names it (a "type.googleapis.com/" prefix is
 * accepted), with pb_unpack(). NULL when the type differs or the bytes are refused, with
 * the reason in `why` as pb_unpack() gives it. Release with protobuf_c_message_free_unpacked(). */
ProtobufCMessage *pb_any_unpack(const Google__Protobuf__Any *any,
                                const ProtobufCMessageDescriptor *desc, char *why, size_t why_len);

/* 1 when `any` carries the type `name` (with or without the googleapis prefix). */
int pb_any_is(const Google__Protobuf__Any *any, const char *name);

/* A deep copy of `msg` (pack and unpack), or NULL. Release with
 * protobuf_c_message_free_unpacked(). */
ProtobufCMessage *pb_copy(const ProtobufCMessage *msg);

/* Fill a Timestamp from a wall-clock time. */
void pb_timestamp(Google__Protobuf__Timestamp *ts, const struct timespec *t);

#endif /* COW_SHIM_PB_H */

/* pb_check() and pb_unpack() (shim/pb-check.c) on hand-written wire bytes: each rule refuses
 * what it names, with that reason; what a conforming encoder may write (non-minimal keys,
 * unknown fields, empty strings, 4-byte UTF-8) passes, and unpacks to what it says; and
 * everything it passes, protobuf-c can pack and read back (the property fuzz_ttrpc found
 * protobuf-c alone does not keep). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "pb.h"

#define STATE  (&containerd__task__v2__state_request__descriptor)
#define CREATE (&containerd__task__v2__create_task_request__descriptor)

struct refusal {
  const char *name;
  const ProtobufCMessageDescriptor *desc;
  const char *bytes;
  size_t len;
  const char *why; /* the whole reason pb_check() gives */
};

/* R(name, descriptor, wire bytes as a string literal, reason) */
#define R(name, desc, bytes, why)                                                                  \
  {                                                                                                \
    name, desc, bytes, sizeof bytes - 1, why                                                       \
  }
#define SR    "containerd.task.v2.StateRequest field "
#define GROUP "group or undefined wire type (protobuf-c reads neither)"

static const struct refusal refusals[] = {
    R("field 0, two-byte key", STATE, "\x80\x00\x01", SR "0: not a valid field number"),
    R("field 0, one-byte key", STATE, "\x00\x01", SR "0: not a valid field number"),
    R("key over 32 bits", STATE, "\xf8\xff\xff\xff\x1f\x00", SR "0: bad key"),
    R("key of six bytes", STATE, "\x88\x80\x80\x80\x80\x00\x01", SR "0: bad key"),
    R("key cut short", STATE, "\x88", SR "0: bad key"),
    R("group wire type", STATE, "\x1b\x1c", SR "3: " GROUP),
    R("wire type 6", STATE, "\x1e", SR "3: " GROUP),
    R("varint of 11 bytes", STATE, "\x18\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x01",
      SR "3: truncated or overlong varint"),
    R("varint over 64 bits", STATE, "\x18\xff\xff\xff\xff\xff\xff\xff\xff\xff\x02",
      SR "3: truncated or overlong varint"),
    R("fixed64 cut short", STATE, "\x19\x01\x02\x03", SR "3: truncated fixed-size value"),
    R("length past the end", STATE,
      "\x0a\x03"
      "ab",
      SR "1: length runs past the end of the message"),
    R("string with NUL", STATE,
      "\x0a\x03"
      "a\0b",
      SR "1: string contains a NUL byte"),
    R("overlong UTF-8", STATE, "\x0a\x02\xc0\xaf", SR "1: string is not valid UTF-8"),
    R("UTF-8 surrogate", STATE, "\x0a\x03\xed\xa0\x80", SR "1: string is not valid UTF-8"),
    R("UTF-8 above U+10FFFF", STATE, "\x12\x04\xf4\x90\x80\x80", SR "2: string is not valid UTF-8"),
    R("UTF-8 cut short", STATE,
      "\x0a\x02"
      "a\xe2",
      SR "1: string is not valid UTF-8"),
    /* in a nested message: Create{rootfs: [Mount{...}]} */
    R("field 0 in a mount", CREATE, "\x1a\x03\x80\x00\x05",
      "containerd.types.Mount field 0: not a valid field number"),
    R("NUL in a mount option", CREATE,
      "\x1a\x04\x22\x02"
      "a\0",
      "containerd.types.Mount field 4: string contains a NUL byte"),
};

static void refused(void **state)
{
  for (size_t i = 0; i < sizeof refusals / sizeof refusals[0]; i++) {
    const struct refusal *r = &refusals[i];
    char why[256];
    memset(why, 'x', sizeof why);
    if (pb_check(r->desc, r->len, (const uint8_t *)r->bytes, why, sizeof why) != -1)
      fail_msg("%s: accepted", r->name);
    if (strcmp(why, r->why) != 0)
      fail_msg("%s: [%s], expected [%s]", r->name, why, r->why);
    memset(why, 'x', sizeof why);
    assert_null(pb_unpack(r->desc, r->len, (const uint8_t *)r->bytes, why, sizeof why));
    assert_string_equal(why, r->why);
  }
}

/* A reason cut to the caller's buffer, and none asked for. */
static void short_reason(void **state)
{
  static const uint8_t b[] = {0x80, 0x00, 0x01};
  char why[12];
  assert_int_equal(pb_check(STATE, sizeof b, b, why, sizeof why), -1);
  assert_string_equal(why, "containerd.");
  assert_int_equal(pb_check(STATE, sizeof b, b, NULL, 0), -1);
}

/* Bytes that pass the check but not protobuf-c: a string field sent as a varint. */
static void refused_by_protobuf_c(void **state)
{
  static const uint8_t b[] = {0x08, 0x01};
  char why[256];
  assert_int_equal(pb_check(STATE, sizeof b, b, why, sizeof why), 0);
  assert_string_equal(why, "");
  assert_null(pb_unpack(STATE, sizeof b, b, why, sizeof why));
  assert_string_equal(why, "containerd.task.v2.StateRequest: protobuf-c could not unpack it");
}

/* Packed, read back, packed again: the same bytes, and the check passes them too. */
static void repacks(const ProtobufCMessage *m)
{
  size_t n = protobuf_c_message_get_packed_size(m);
  uint8_t *a = malloc(n + 1), *b = malloc(n + 1);
  assert_true(a != NULL && b != NULL);
  assert_int_equal(protobuf_c_message_pack(m, a), n);
  char why[256];
  ProtobufCMessage *again = pb_unpack(m->descriptor, n, a, why, sizeof why);
  assert_non_null(again);
  assert_int_equal(protobuf_c_message_pack(again, b), n);
  assert_memory_equal(a, b, n);
  protobuf_c_message_free_unpacked(again, NULL);
  free(a);
  free(b);
}

static void accepted(void **state)
{
  /* id "é🐄" (2- and 4-byte UTF-8), exec_id "", then unknown fields 15 (varint, key
   * written as 0xf8 0x80 0x00: non-minimal is allowed), 16 (fixed32), 536870911 (bytes) */
  static const uint8_t b[] = {0x0a, 6,    0xc3, 0xa9, 0xf0, 0x9f, 0x90, 0x84, 0x12, 0,
                              0xf8, 0x80, 0x00, 0x2a, 0x85, 0x01, 1,    2,    3,    4,
                              0xfa, 0xff, 0xff, 0xff, 0x0f, 2,    'h',  'i'};
  char why[256];
  ProtobufCMessage *m = pb_unpack(STATE, sizeof b, b, why, sizeof why);
  assert_non_null(m);
  const Containerd__Task__V2__StateRequest *s = (const void *)m;
  assert_string_equal(s->id, "\xc3\xa9\xf0\x9f\x90\x84");
  assert_string_equal(s->exec_id, "");
  assert_int_equal(m->n_unknown_fields, 3);
  repacks(m);
  protobuf_c_message_free_unpacked(m, NULL);

  /* Create{id "t1", rootfs: [Mount{type "overlay", options ["lowerdir=/a:/b"]}]} */
  static const uint8_t c[] = {0x0a, 2,   't', '1', 0x1a, 25,  0x0a, 7,   'o', 'v', 'e',
                              'r',  'l', 'a', 'y', 0x22, 14,  'l',  'o', 'w', 'e', 'r',
                              'd',  'i', 'r', '=', '/',  'a', ':',  '/', 'b'};
  m = pb_unpack(CREATE, sizeof c, c, why, sizeof why);
  assert_non_null(m);
  const Containerd__Task__V2__CreateTaskRequest *cr = (const void *)m;
  assert_int_equal(cr->n_rootfs, 1);
  assert_string_equal(cr->rootfs[0]->options[0], "lowerdir=/a:/b");
  repacks(m);
  protobuf_c_message_free_unpacked(m, NULL);

  /* nothing at all is the empty message */
  m = pb_unpack(STATE, 0, NULL, why, sizeof why);
  assert_non_null(m);
  protobuf_c_message_free_unpacked(m, NULL);
}

/* The shim's own messages do not nest themselves, so the depth limit is shown on a
 * descriptor written here: message Node { Node child = 1; }. */
static const ProtobufCMessageDescriptor node_desc;
static const ProtobufCFieldDescriptor node_fields[1] = {
    {"child", 1, PROTOBUF_C_LABEL_NONE, PROTOBUF_C_TYPE_MESSAGE, 0, sizeof(ProtobufCMessage),
     &node_desc, NULL, 0, 0, NULL, NULL},
};
static const ProtobufCIntRange node_ranges[2] = {{1, 0}, {0, 1}};
static const ProtobufCMessageDescriptor node_desc = {PROTOBUF_C__MESSAGE_DESCRIPTOR_MAGIC,
                                                     "test.Node",
                                                     "Node",
                                                     "Test__Node",
                                                     "test",
                                                     sizeof(ProtobufCMessage) + sizeof(void *),
                                                     1,
                                                     node_fields,
                                                     NULL,
                                                     1,
                                                     node_ranges,
                                                     NULL,
                                                     NULL,
                                                     NULL,
                                                     NULL};

static size_t nest(uint8_t *out, size_t levels)
{
  size_t n = 0; /* built inside out: each level is 0x0a <length> <the level below> */
  for (size_t i = 0; i < levels; i++) {
    memmove(out + 2, out, n);
    out[0] = 0x0a;
    out[1] = (uint8_t)n;
    n += 2;
  }
  return n;
}

static void depth(void **state)
{
  uint8_t b[128];
  char why[256];
  size_t n = nest(b, 32); /* the outer message and 32 below it */
  assert_int_equal(pb_check(&node_desc, n, b, why, sizeof why), 0);
  n = nest(b, 33);
  assert_int_equal(pb_check(&node_desc, n, b, why, sizeof why), -1);
  assert_string_equal(why, "test.Node field 0: messages nested too deeply");
}

static void any_unpack(void **state)
{
  Runtimeoptions__V1__Options ro = RUNTIMEOPTIONS__V1__OPTIONS__INIT;
  ro.config_path = "/etc/cow.json";
  Google__Protobuf__Any any;
  assert_int_equal(pb_any_pack(&any, &ro.base), 0);
  char why[256];
  ProtobufCMessage *m =
      pb_any_unpack(&any, &runtimeoptions__v1__options__descriptor, why, sizeof why);
  assert_non_null(m);
  assert_string_equal(((Runtimeoptions__V1__Options *)m)->config_path, "/etc/cow.json");
  protobuf_c_message_free_unpacked(m, NULL);
  /* another type: the reason names both */
  assert_null(
      pb_any_unpack(&any, &containerd__task__v2__state_request__descriptor, why, sizeof why));
  assert_string_equal(why, "type \"runtimeoptions.v1.Options\", not "
                           "containerd.task.v2.StateRequest");
  pb_any_clear(&any);
  /* the right type, bytes the check refuses */
  static uint8_t bad[] = {0x12, 2, 'a', 0};
  any.type_url = "type.googleapis.com/runtimeoptions.v1.Options";
  any.value.data = bad;
  any.value.len = sizeof bad;
  assert_null(pb_any_unpack(&any, &runtimeoptions__v1__options__descriptor, why, sizeof why));
  assert_string_equal(why, "runtimeoptions.v1.Options field 2: string contains a NUL byte");
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(refused),
      cmocka_unit_test(short_reason),
      cmocka_unit_test(refused_by_protobuf_c),
      cmocka_unit_test(accepted),
      cmocka_unit_test(depth),
      cmocka_unit_test(any_unpack),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

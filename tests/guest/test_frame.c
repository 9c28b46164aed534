/* Unit tests for the GCS bridge framing (src/guest/frame.{h,c}): byte-exact headers from the
 * real agent's recordings, chunked and merged decoding, size limits, garbage. */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "conformance/recording.h"
#include "core/alloc.h"
#include "cow/alloc.h"
#include "guest/frame.h"

static void load(const char *name, cow_recording_t *rec)
{
  char why[512] = "";
  if (cow_rec_load_named(name, rec, why, sizeof why) != 0)
    fail_msg("%s", why);
  assert_true(rec->count > 0);
}

/* Every recorded header decodes to the recorded type/size/id, re-encodes to the same 16
 * bytes, and its name matches the recording's type_name. */
static void test_headers_match_recordings(void **state)
{
  size_t s, i, frames = 0;
  (void)state;
  for (s = 0; s < cow_rec_count; s++) {
    cow_recording_t rec;
    load(cow_rec_names[s], &rec);
    for (i = 0; i < rec.count; i++) {
      cow_rec_t *r = &rec.recs[i];
      cow__frame_header_t h;
      uint8_t enc[16];
      char name[48];
      if (r->kind != COW_REC_FRAME)
        continue;
      frames++;
      cow__frame_header_decode(r->header, &h);
      assert_int_equal(h.type, r->type);
      assert_int_equal(h.size, r->size);
      assert_int_equal(h.id, r->id);
      cow__frame_header_encode(&h, enc);
      assert_memory_equal(enc, r->header, 16);
      assert_non_null(r->type_name);
      assert_string_equal(cow__frame_type_name(h.type, name, sizeof name), r->type_name);
      assert_int_equal(cow__frame_header_check(&h, 0, NULL), 0);
    }
    cow_rec_free(&rec);
  }
  assert_true(frames > 200);
}

/* cow__frame_build reproduces the real agent's frames byte for byte (header + body). */
static void test_build_matches_recordings(void **state)
{
  size_t s, i, built = 0;
  (void)state;
  for (s = 0; s < cow_rec_count; s++) {
    cow_recording_t rec;
    load(cow_rec_names[s], &rec);
    for (i = 0; i < rec.count; i++) {
      cow_rec_t *r = &rec.recs[i];
      uint8_t *buf = NULL;
      size_t len = 0;
      cow_error_t err = COW_ERROR_INIT;
      if (r->kind != COW_REC_FRAME || r->data_is_b64 || r->data_len + 16 != r->size)
        continue;
      assert_int_equal(cow__frame_build(r->type, r->id, r->data, r->data_len, &buf, &len, &err), 0);
      assert_int_equal(len, r->size);
      assert_memory_equal(buf, r->header, 16);
      if (r->data_len)
        assert_memory_equal(buf + 16, r->data, r->data_len);
      cow__free(buf);
      cow_error_clear(&err);
      built++;
    }
    cow_rec_free(&rec);
  }
  assert_true(built > 200);
}

typedef struct stream {
  uint8_t *bytes;
  size_t len;
  size_t nframes;
  cow__frame_header_t hdr[256];
  size_t off[256]; /* payload offsets in bytes */
} stream_t;

static void stream_add(stream_t *st, const uint8_t *data, size_t len)
{
  st->bytes = realloc(st->bytes, st->len + len);
  assert_non_null(st->bytes);
  memcpy(st->bytes + st->len, data, len);
  st->len += len;
}

/* Every recorded frame of one direction, concatenated as it went over the wire (the j1 record
 * with body_b64 holds two frames in one write). The expected frame list comes from walking the
 * headers independently of the decoder. */
static void build_stream(const char *name, stream_t *st)
{
  cow_recording_t rec;
  size_t i, pos = 0;
  memset(st, 0, sizeof *st);
  load(name, &rec);
  for (i = 0; i < rec.count; i++) {
    cow_rec_t *r = &rec.recs[i];
    if (r->kind != COW_REC_FRAME)
      continue;
    stream_add(st, r->header, 16);
    if (r->data_len)
      stream_add(st, r->data, r->data_len);
  }
  cow_rec_free(&rec);
  while (pos < st->len) {
    assert_true(st->nframes < 256);
    assert_true(pos + 16 <= st->len);
    cow__frame_header_decode(st->bytes + pos, &st->hdr[st->nframes]);
    st->off[st->nframes] = pos + 16;
    pos += st->hdr[st->nframes].size;
    st->nframes++;
  }
  assert_int_equal(pos, st->len);
}

/* Read sizes: a fixed size (`how` > 0; SIZE_MAX is everything at once), a varied
 * sequence (0), or a deterministic pseudo-random one (-1) so a failure reproduces. */
static size_t chunk_size(long how, size_t i)
{
  static const size_t varied[] = {3, 1, 29, 16, 2, 400, 15, 5000, 9, 64};
  static uint32_t x = 12345;
  if (how > 0)
    return (size_t)how;
  if (how == 0)
    return varied[i % 10];
  x = x * 1103515245u + 12345u;
  return 1 + (x >> 16) % 700;
}

/* Feed `st` to a decoder in chunks of chunk_size(how) and check every frame comes out intact. */
static void decode_stream(const stream_t *st, long how)
{
  cow__frame_decoder_t dec;
  size_t pos = 0, got = 0, call = 0;
  cow__frame_decoder_init(&dec, 0);
  while (pos < st->len) {
    size_t chunk = chunk_size(how, call++);
    const uint8_t *p = st->bytes + pos;
    if (chunk > st->len - pos)
      chunk = st->len - pos;
    pos += chunk;
    while (chunk) {
      cow__frame_t f = {0};
      size_t used = 0;
      cow_error_t err = COW_ERROR_INIT;
      int rc = cow__frame_decoder_feed(&dec, p, chunk, &used, &f, &err);
      assert_true(rc >= 0);
      assert_true(used <= chunk);
      p += used;
      chunk -= used;
      if (rc == 1) {
        assert_true(got < st->nframes);
        assert_int_equal(f.hdr.type, st->hdr[got].type);
        assert_int_equal(f.hdr.id, st->hdr[got].id);
        assert_int_equal(f.payload_len + 16, st->hdr[got].size);
        assert_non_null(f.payload);
        assert_int_equal(f.payload[f.payload_len], 0);
        if (f.payload_len)
          assert_memory_equal(f.payload, st->bytes + st->off[got], f.payload_len);
        cow__frame_release(&f);
        got++;
      } else {
        assert_int_equal(chunk, 0);
      }
    }
  }
  assert_int_equal(got, st->nframes);
  assert_int_equal(cow__frame_decoder_pending(&dec), 0);
  assert_int_equal(cow__frame_decoder_finish(&dec, NULL), 0);
  cow__frame_decoder_reset(&dec);
}

static void test_decoder_chunks(void **state)
{
  static const long chunkers[] = {1, 7, 16, 17, LONG_MAX, 0, -1};
  static const char *const names[] = {"j1_malformed_bodies", "m_container", "a_echo",
                                      "h_dumpstacks"};
  size_t n, c;
  (void)state;
  for (n = 0; n < sizeof names / sizeof names[0]; n++) {
    stream_t st;
    build_stream(names[n], &st);
    assert_true(st.nframes >= 4);
    for (c = 0; c < sizeof chunkers / sizeof chunkers[0]; c++)
      decode_stream(&st, chunkers[c]);
    free(st.bytes);
  }
}

/* The j1 record that carried two requests with the same id in one write decodes as two
 * frames from a single feed buffer. */
static void test_decoder_two_frames_one_write(void **state)
{
  cow_recording_t rec;
  size_t i;
  int seen = 0;
  (void)state;
  load("j1_malformed_bodies", &rec);
  for (i = 0; i < rec.count; i++) {
    cow_rec_t *r = &rec.recs[i];
    uint8_t *buf;
    size_t len, used;
    cow__frame_decoder_t dec;
    cow__frame_t f1 = {0}, f2 = {0};
    if (r->kind != COW_REC_FRAME || !r->data_is_b64)
      continue;
    len = 16 + r->data_len;
    buf = malloc(len);
    assert_non_null(buf);
    memcpy(buf, r->header, 16);
    memcpy(buf + 16, r->data, r->data_len);
    cow__frame_decoder_init(&dec, 0);
    assert_int_equal(cow__frame_decoder_feed(&dec, buf, len, &used, &f1, NULL), 1);
    assert_int_equal(f1.hdr.type, COW__MSG_DUMP_STACKS);
    assert_int_equal(f1.hdr.id, 20);
    assert_true(used < len);
    assert_int_equal(cow__frame_decoder_feed(&dec, buf + used, len - used, &used, &f2, NULL), 1);
    assert_int_equal(f2.hdr.type, COW__MSG_WAIT_FOR_PROCESS);
    assert_int_equal(f2.hdr.id, 20);
    assert_non_null(strstr((const char *)f2.payload, "\"ProcessId\":424242"));
    cow__frame_release(&f1);
    cow__frame_release(&f2);
    free(buf);
    seen++;
  }
  cow_rec_free(&rec);
  assert_int_equal(seen, 1);
}

/* Allocation counter: proves the decoder allocates nothing for a rejected header. */
static size_t g_allocs;
static void *count_malloc(size_t n)
{
  g_allocs++;
  return malloc(n);
}
static void *count_realloc(void *p, size_t n)
{
  g_allocs++;
  return realloc(p, n);
}
static void *count_calloc(size_t c, size_t n)
{
  g_allocs++;
  return calloc(c, n);
}

static int feed_header(uint32_t type, uint32_t size, uint32_t max, cow_error_t *err,
                       cow__frame_t *out)
{
  cow__frame_decoder_t dec;
  cow__frame_header_t h = {type, size, 7};
  uint8_t buf[16];
  size_t used;
  int rc;
  cow__frame_header_encode(&h, buf);
  cow__frame_decoder_init(&dec, max);
  rc = cow__frame_decoder_feed(&dec, buf, 16, &used, out, err);
  assert_int_equal(used, 16);
  cow__frame_decoder_reset(&dec);
  return rc;
}

static void test_size_limits(void **state)
{
  static const uint32_t bad[] = {0, 1, 15, 0x10001, 0x7fffffff, 0xffffffffu};
  cow__frame_t f = {0};
  size_t i;
  (void)state;
  assert_int_equal(cow_replace_allocator(count_malloc, count_realloc, count_calloc, free), 0);
  for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    cow_error_t err = COW_ERROR_INIT;
    size_t before = g_allocs;
    assert_int_equal(feed_header(COW__MSG_CREATE_RESPONSE, bad[i], 0, NULL, &f), COW_EPROTOCOL);
    /* With err == NULL not even the message is allocated. */
    assert_int_equal(g_allocs, before);
    assert_int_equal(feed_header(COW__MSG_CREATE_RESPONSE, bad[i], 0, &err, &f), COW_EPROTOCOL);
    assert_int_equal(err.code, COW_EPROTOCOL);
    assert_non_null(err.message);
    assert_non_null(strstr(err.message, "size"));
    cow_error_clear(&err);
    assert_null(f.payload);
  }
  assert_int_equal(cow_replace_allocator(malloc, realloc, calloc, free), 0);

  /* Size 16: an empty payload is a valid frame (JSON parsing is the caller's business). */
  assert_int_equal(feed_header(COW__MSG_DUMP_STACKS, 16, 0, NULL, &f), 1);
  assert_int_equal(f.payload_len, 0);
  cow__frame_release(&f);

  /* The configurable maximum is inclusive. */
  {
    cow__frame_decoder_t dec;
    cow__frame_header_t h = {COW__MSG_CREATE_RESPONSE, 100, 1};
    uint8_t buf[101] = {0};
    size_t used;
    cow__frame_header_encode(&h, buf);
    cow__frame_decoder_init(&dec, 100);
    assert_int_equal(cow__frame_decoder_feed(&dec, buf, 100, &used, &f, NULL), 1);
    cow__frame_release(&f);
    h.size = 101;
    cow__frame_header_encode(&h, buf);
    assert_int_equal(cow__frame_decoder_feed(&dec, buf, 101, &used, &f, NULL), COW_EPROTOCOL);
    cow__frame_decoder_reset(&dec);
  }

  /* Exactly 0x10000 passes the default limit. */
  {
    uint8_t *big = calloc(1, 0x10000);
    cow__frame_decoder_t dec;
    cow__frame_header_t h = {COW__MSG_DUMP_STACKS_RESPONSE, 0x10000, 3};
    size_t used;
    assert_non_null(big);
    cow__frame_header_encode(&h, big);
    cow__frame_decoder_init(&dec, 0);
    assert_int_equal(cow__frame_decoder_feed(&dec, big, 0x10000, &used, &f, NULL), 1);
    assert_int_equal(f.payload_len, 0x10000 - 16);
    cow__frame_release(&f);
    cow__frame_decoder_reset(&dec);
    free(big);
  }
}

static void test_build_limits(void **state)
{
  uint8_t *payload = calloc(1, 0x10000);
  uint8_t *out = NULL;
  size_t len = 0;
  cow_error_t err = COW_ERROR_INIT;
  (void)state;
  assert_non_null(payload);
  assert_int_equal(cow__frame_build(COW__MSG_CREATE, 1, payload, 0x10000 - 16, &out, &len, &err),
                   0);
  assert_int_equal(len, 0x10000);
  cow__free(out);
  assert_int_equal(cow__frame_build(COW__MSG_CREATE, 1, payload, 0x10000 - 15, &out, &len, &err),
                   COW_EMSG_TOO_LARGE);
  assert_null(out);
  assert_int_equal(err.code, COW_EMSG_TOO_LARGE);
  cow_error_clear(&err);
  /* Empty payload: header only. */
  assert_int_equal(
      cow__frame_build(COW__MSG_START, 0x1122334455667788ull, NULL, 0, &out, &len, NULL), 0);
  assert_int_equal(len, 16);
  {
    static const uint8_t want[16] = {0x01, 0x02, 0x10, 0x10, 0x10, 0,    0,    0,
                                     0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11};
    assert_memory_equal(out, want, 16);
  }
  cow__free(out);
  free(payload);
}

/* A garbage header is a hard, sticky error; later bytes are refused too. */
static void test_garbage(void **state)
{
  static const uint8_t garbage[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
  cow__frame_decoder_t dec;
  cow__frame_t f = {0};
  cow_error_t err = COW_ERROR_INIT;
  size_t used;
  uint8_t ok[16];
  cow__frame_header_t h = {COW__MSG_START_RESPONSE, 16, 1};
  (void)state;
  cow__frame_decoder_init(&dec, 0);
  /* "GET / HT": size word "TP/1" = 0x312f5054, far above 64 KiB. */
  assert_int_equal(cow__frame_decoder_feed(&dec, garbage, sizeof garbage - 1, &used, &f, &err),
                   COW_EPROTOCOL);
  assert_int_equal(used, 16);
  assert_non_null(err.message);
  cow_error_clear(&err);
  cow__frame_header_encode(&h, ok);
  assert_int_equal(cow__frame_decoder_feed(&dec, ok, 16, &used, &f, &err), COW_EPROTOCOL);
  assert_int_equal(used, 0);
  cow_error_clear(&err);
  assert_int_equal(cow__frame_decoder_finish(&dec, NULL), COW_EPROTOCOL);
  cow__frame_decoder_reset(&dec);
  /* After a reset the decoder works again. */
  assert_int_equal(cow__frame_decoder_feed(&dec, ok, 16, &used, &f, NULL), 1);
  cow__frame_release(&f);
  cow__frame_decoder_reset(&dec);
}

static void test_truncation(void **state)
{
  cow__frame_decoder_t dec;
  cow__frame_t f = {0};
  cow_error_t err = COW_ERROR_INIT;
  size_t used;
  uint8_t buf[200];
  cow__frame_header_t h = {COW__MSG_WAIT_FOR_PROCESS_RESPONSE, 200, 9};
  (void)state;
  memset(buf, 'x', sizeof buf);
  cow__frame_header_encode(&h, buf);
  cow__frame_decoder_init(&dec, 0);
  assert_int_equal(cow__frame_decoder_feed(&dec, buf, 7, &used, &f, NULL), 0);
  assert_int_equal(cow__frame_decoder_pending(&dec), 7);
  assert_int_equal(cow__frame_decoder_finish(&dec, &err), COW_EPROTOCOL);
  assert_non_null(strstr(err.message, "truncated header (7 of 16"));
  cow_error_clear(&err);
  assert_int_equal(cow__frame_decoder_feed(&dec, buf + 7, 43, &used, &f, NULL), 0);
  assert_int_equal(cow__frame_decoder_pending(&dec), 50);
  assert_int_equal(cow__frame_decoder_finish(&dec, &err), COW_EPROTOCOL);
  assert_non_null(strstr(err.message, "truncated payload (34 of 184"));
  cow_error_clear(&err);
  cow__frame_decoder_reset(&dec);
  assert_int_equal(cow__frame_decoder_pending(&dec), 0);
  assert_int_equal(cow__frame_decoder_finish(&dec, NULL), 0);
  /* Zero-length feed is a no-op. */
  assert_int_equal(cow__frame_decoder_feed(&dec, NULL, 0, &used, &f, NULL), 0);
  assert_int_equal(used, 0);
}

static void test_names_and_types(void **state)
{
  char buf[48];
  (void)state;
  assert_string_equal(cow__frame_rpc_name(COW__MSG_NEGOTIATE_PROTOCOL), "NegotiateProtocol");
  assert_string_equal(cow__frame_rpc_name(COW__MSG_DELETE_CONTAINER_STATE_RESPONSE),
                      "DeleteContainerState");
  assert_string_equal(cow__frame_rpc_name(COW__MSG_MODIFY_SERVICE_SETTINGS),
                      "ModifyServiceSettings");
  assert_string_equal(cow__frame_rpc_name(COW__MSG_CONTAINER_NOTIFICATION), "Container");
  assert_null(cow__frame_rpc_name(0x10109901u));
  assert_null(cow__frame_rpc_name(0x30100201u));
  assert_null(cow__frame_rpc_name(0x10100b02u)); /* version 2 does not exist */
  assert_int_equal(COW__MSG_NEGOTIATE_PROTOCOL_RESPONSE, 0x20100b01u);
  assert_int_equal(COW__FRAME_RESPONSE_OF(COW__MSG_CONTAINER_NOTIFICATION), 0x20100101u);
  assert_int_equal(COW__FRAME_RESPONSE_OF(0), 0x20000000u);
  assert_int_equal(COW__MSG_MODIFY_SERVICE_SETTINGS_RESPONSE, 0x20200101u);
  assert_int_equal(COW__RPC_CODE(COW__FRAME_CATEGORY_SYSTEM, 11) | COW__FRAME_KIND_REQUEST,
                   COW__MSG_NEGOTIATE_PROTOCOL);
  assert_string_equal(cow__frame_type_name(0xF0000000u, buf, sizeof buf), "Unknown(0xf0000000)");
  assert_string_equal(cow__frame_type_name(0x30100201u, buf, sizeof buf),
                      "Notification(unknown 0x30100201)");
  /* Truncation is safe. */
  assert_string_equal(cow__frame_type_name(COW__MSG_CREATE, buf, 5), "Requ");
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_headers_match_recordings),
      cmocka_unit_test(test_build_matches_recordings),
      cmocka_unit_test(test_decoder_chunks),
      cmocka_unit_test(test_decoder_two_frames_one_write),
      cmocka_unit_test(test_size_limits),
      cmocka_unit_test(test_build_limits),
      cmocka_unit_test(test_garbage),
      cmocka_unit_test(test_truncation),
      cmocka_unit_test(test_names_and_types),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

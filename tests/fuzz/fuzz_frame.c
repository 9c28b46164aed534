/* Fuzz target: the bridge's frame decoder, on bytes as a guest sends them. The first input
 * byte picks the read sizes (how the stream is cut into chunks) and the size limit; the
 * rest is the stream. Properties: every frame returned is within the limit, its payload is
 * exactly size - 16 bytes and NUL-terminated; round trip: the frame rebuilt from what was
 * decoded (cow__frame_build of its type, id and payload) is byte for byte the part of the
 * input it was decoded from, and the frames tile the input from its start; an error is
 * sticky and carries its message. Seeds: every frame of the conformance recordings, both
 * directions, and tests/fuzz/corpus/frame. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "fuzz/fuzz.h"
#include "fuzz/recording-seeds.h"
#include "guest/frame.h"

/* The frame ends at `end` in the stream `in`: it must be exactly in[end - size, end), and
 * start where the previous one ended. */
static void check_round_trip(const cow__frame_t *f, const uint8_t *in, size_t end,
                             size_t *frame_start)
{
  FUZZ_CHECK(end >= f->hdr.size && end - f->hdr.size == *frame_start);
  uint8_t *built = NULL;
  size_t built_len = 0;
  cow_error_t err = COW_ERROR_INIT;
  int rc = cow__frame_build(f->hdr.type, f->hdr.id, f->payload, f->payload_len, &built, &built_len,
                            &err);
  FUZZ_CHECK(rc == 0);
  FUZZ_CHECK(built_len == f->hdr.size);
  FUZZ_CHECK(memcmp(built, in + *frame_start, built_len) == 0);
  cow__free(built);
  cow_error_clear(&err);
  *frame_start = end;
}

static void check_frame(const cow__frame_t *f, uint32_t max)
{
  FUZZ_CHECK(f->hdr.size >= COW__FRAME_HEADER_SIZE);
  FUZZ_CHECK(f->hdr.size <= (max ? max : COW__FRAME_MAX_SIZE));
  FUZZ_CHECK(f->payload_len == f->hdr.size - COW__FRAME_HEADER_SIZE);
  FUZZ_CHECK(f->payload != NULL && f->payload[f->payload_len] == 0);
  uint8_t raw[16];
  cow__frame_header_t back;
  cow__frame_header_encode(&f->hdr, raw);
  cow__frame_header_decode(raw, &back);
  FUZZ_CHECK(back.type == f->hdr.type && back.size == f->hdr.size && back.id == f->hdr.id);
  char name[48];
  FUZZ_CHECK(strlen(cow__frame_type_name(f->hdr.type, name, sizeof name)) < sizeof name);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  if (size < 1)
    return 0;
  uint8_t ctl = data[0];
  data++;
  size--;
  uint32_t max = (ctl & 0x80) ? 1024 : 0;
  size_t chunk = 1 + (size_t)(ctl & 0x3f) * 97;
  cow__frame_decoder_t dec;
  cow__frame_decoder_init(&dec, max);
  size_t frame_start = 0; /* where the next frame begins in the stream */
  for (size_t off = 0; off < size;) {
    size_t n = size - off < chunk ? size - off : chunk;
    size_t pos = 0;
    while (pos < n) {
      size_t used = 0;
      cow__frame_t f;
      memset(&f, 0, sizeof f);
      cow_error_t err = COW_ERROR_INIT;
      int rc = cow__frame_decoder_feed(&dec, data + off + pos, n - pos, &used, &f, &err);
      if (rc < 0) {
        FUZZ_CHECK(rc == COW_EPROTOCOL && err.code == rc && err.message != NULL);
        cow_error_clear(&err);
        FUZZ_CHECK(cow__frame_decoder_feed(&dec, data, size, &used, &f, &err) == rc);
        cow_error_clear(&err);
        cow__frame_decoder_reset(&dec);
        return 0;
      }
      FUZZ_CHECK(used <= n - pos);
      if (rc == 0)
        FUZZ_CHECK(used == n - pos);
      pos += used;
      if (rc == 1) {
        check_frame(&f, max);
        check_round_trip(&f, data, off + pos, &frame_start);
        cow__frame_release(&f);
      }
    }
    off += n;
  }
  cow_error_t err = COW_ERROR_INIT;
  int rc = cow__frame_decoder_finish(&dec, &err);
  FUZZ_CHECK(rc == 0 ? cow__frame_decoder_pending(&dec) == 0 : err.message != NULL);
  cow_error_clear(&err);
  cow__frame_decoder_reset(&dec);
  return 0;
}

static void seeds_of(const cow_recording_t *rec, cow_fuzz_add_fn add, void *arg)
{
  /* Each frame alone, whole; and the whole conversation as one stream. */
  size_t all_len = 0;
  uint8_t *all = NULL;
  for (size_t k = 0; k < rec->count; k++) {
    const cow_rec_t *r = &rec->recs[k];
    if (r->kind != COW_REC_FRAME)
      continue;
    if (r->data_is_b64) { /* raw bytes as sent (hostile frames): a stream of their own */
      uint8_t *raw = malloc(1 + r->data_len);
      if (raw == NULL)
        abort();
      raw[0] = 0x3f;
      memcpy(raw + 1, r->data, r->data_len);
      add(raw, 1 + r->data_len, arg);
      free(raw);
      continue;
    }
    size_t len = 1 + 16 + r->data_len;
    uint8_t *buf = malloc(len);
    uint8_t *grown = realloc(all, all_len + 16 + r->data_len + 1);
    if (buf == NULL || grown == NULL)
      abort();
    all = grown;
    buf[0] = (uint8_t)(k * 7); /* vary the chunking */
    memcpy(buf + 1, r->header, 16);
    memcpy(buf + 17, r->data, r->data_len);
    add(buf, len, arg);
    if (all_len == 0)
      all[all_len++] = 0x05;
    memcpy(all + all_len, r->header, 16);
    memcpy(all + all_len + 16, r->data, r->data_len);
    all_len += 16 + r->data_len;
    free(buf);
  }
  if (all_len)
    add(all, all_len, arg);
  free(all);
}

int cow_fuzz_seeds(cow_fuzz_add_fn add, void *arg)
{
  return cow_fuzz_seeds_from_recordings(seeds_of, add, arg);
}

/* R23 through the guest connection: per-exec state is O(1) and freed on close. 100,000
 * exec/wait/close cycles against a fake guest on the same loop (a socketpair; it answers
 * NegotiateProtocol, ExecuteProcess and WaitForProcess at once, as the real agent words
 * them) must leave no allocation of the library behind and the resident set flat: under
 * 1 MiB of growth after a warm-up. This covers what the scripted-backend footprint test
 * (tests/core) cannot: the bridge's pending table, ids, JSON, frames and wire buffers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <jansson.h>

#include "cow.h"
#include "cow/guest.h"
#include "guest/frame.h"
#include "support/rss.h"
#include "support/test-backend.h"

#define ACTIVITY "\"ActivityId\":\"834b1e7f-3925-42ca-aa4c-53f30465318e\""

static uv_loop_t loop;

/* ---- the fake guest: frames in, answers out ---- */

static uv_pipe_t guest;
static cow__frame_decoder_t dec;
static uint32_t next_pid = 100;
static long frames_answered;

static void write_done(uv_write_t *w, int status)
{
  (void)status;
  free(w);
}

static void answer(uint32_t req_type, uint64_t id, const char *body)
{
  size_t len = strlen(body);
  uv_write_t *w = malloc(sizeof *w + 16 + len);
  assert_non_null(w);
  uint8_t *frame = (uint8_t *)(w + 1);
  cow__frame_header_t h = {COW__FRAME_RESPONSE_OF(req_type), (uint32_t)(16 + len), id};
  cow__frame_header_encode(&h, frame);
  memcpy(frame + 16, body, len);
  uv_buf_t b = uv_buf_init((char *)frame, (unsigned)(16 + len));
  assert_int_equal(uv_write(w, (uv_stream_t *)&guest, &b, 1, write_done), 0);
  frames_answered++;
}

static void on_request(const cow__frame_t *f)
{
  char body[256];
  switch (f->hdr.type) {
  case COW__MSG_NEGOTIATE_PROTOCOL:
    answer(f->hdr.type, f->hdr.id,
           "{\"Result\":0," ACTIVITY ",\"Version\":4,\"Capabilities\":{"
           "\"SupportedSchemaVersions\":[{\"Major\":2,\"Minor\":1}],\"RuntimeOsType\":\"Linux\","
           "\"GuestDefinedCapabilities\":{\"SignalProcessSupported\":true}}}");
    break;
  case COW__MSG_EXECUTE_PROCESS:
    snprintf(body, sizeof body, "{\"Result\":0," ACTIVITY ",\"ProcessId\":%u}", next_pid++);
    answer(f->hdr.type, f->hdr.id, body);
    break;
  case COW__MSG_WAIT_FOR_PROCESS: {
    json_t *j = json_loadb((const char *)f->payload, f->payload_len, 0, NULL);
    assert_non_null(j);
    json_int_t pid = json_integer_value(json_object_get(j, "ProcessId"));
    json_decref(j);
    snprintf(body, sizeof body, "{\"Result\":0," ACTIVITY ",\"ExitCode\":%d}", (int)(pid % 7));
    answer(f->hdr.type, f->hdr.id, body);
    break;
  }
  default:
    fail_msg("unexpected request 0x%08x", f->hdr.type);
  }
}

static void guest_alloc(uv_handle_t *h, size_t n, uv_buf_t *b)
{
  (void)h;
  static char buf[65536];
  (void)n;
  *b = uv_buf_init(buf, sizeof buf);
}

static void guest_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
  if (n < 0) {
    uv_close((uv_handle_t *)s, NULL);
    return;
  }
  size_t off = 0;
  while (off < (size_t)n) {
    size_t used = 0;
    cow__frame_t f;
    cow_error_t err = COW_ERROR_INIT;
    int rc =
        cow__frame_decoder_feed(&dec, (uint8_t *)b->base + off, (size_t)n - off, &used, &f, &err);
    assert_true(rc >= 0);
    off += used;
    if (rc == 1) {
      on_request(&f);
      cow__frame_release(&f);
    }
  }
}

/* ---- the host side ---- */

static int connected, cycles_done, closed;

static void on_connected(cow_host_t *h, int status, const cow_error_t *err, void *data)
{
  (void)h;
  (void)err;
  (void)data;
  assert_int_equal(status, 0);
  connected = 1;
}

static void on_process_closed(cow_process_t *p, void *data)
{
  (void)p;
  (void)data;
  cycles_done++;
}

static void on_wait(cow_process_t *p, int status, int64_t code, const cow_error_t *err, void *data)
{
  (void)err;
  (void)data;
  assert_int_equal(status, 0);
  assert_true(code >= 0 && code < 7);
  assert_int_equal(cow_process_close(p, on_process_closed, NULL), 0);
}

static void on_created(cow_process_t *p, int status, const cow_error_t *err, void *data)
{
  (void)p;
  (void)err;
  (void)data;
  assert_int_equal(status, 0);
}

static void run_cycles(cow_host_t *h, int n)
{
  static const char cfg[] = "{\"CommandArgs\":[\"true\"],\"WorkingDirectory\":\"/\"}";
  int target = cycles_done + n;
  for (int i = 0; i < n; i++) {
    cow_process_t *p;
    assert_int_equal(cow_host_create_process(&p, h, cfg, on_created, NULL), 0);
    assert_int_equal(cow_process_wait(p, on_wait, NULL), 0);
    if (i % 64 == 63) /* a bounded number in flight, as a shim serving exec probes has */
      TW_UNTIL(&loop, cycles_done >= target - n + i + 1);
  }
  TW_UNTIL(&loop, cycles_done >= target);
}

static void on_host_closed(cow_host_t *h, void *data)
{
  (void)h;
  (void)data;
  closed = 1;
}

static void rss_flat_over_100k_guest_execs(void **state)
{
  (void)state;
  assert_int_equal(uv_loop_init(&loop), 0);
  int sv[2];
  assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  static uv_pipe_t host_end;
  assert_int_equal(uv_pipe_init(&loop, &host_end, 0), 0);
  assert_int_equal(uv_pipe_open(&host_end, sv[0]), 0);
  assert_int_equal(uv_pipe_init(&loop, &guest, 0), 0);
  assert_int_equal(uv_pipe_open(&guest, sv[1]), 0);
  cow__frame_decoder_init(&dec, 0);
  assert_int_equal(uv_read_start((uv_stream_t *)&guest, guest_alloc, guest_read), 0);

  cow_host_t *h;
  cow_guest_options_t o = COW_GUEST_OPTIONS_INIT;
  assert_int_equal(
      cow_guest_connect_stream(&h, &loop, (uv_stream_t *)&host_end, &o, on_connected, NULL), 0);
  TW_UNTIL(&loop, connected);

  run_cycles(h, 5000); /* warm-up: allocator arenas, id table, libuv and jansson internals */
  long allocs_before = tb_alloc_outstanding();
  long before = rss_kib();
  assert_true(before > 0);
  run_cycles(h, 100000);
  long after = rss_kib();
  assert_int_equal(cycles_done, 105000);
  assert_int_equal(frames_answered, 1 + 2 * 105000);
  assert_int_equal(tb_alloc_outstanding(), allocs_before); /* nothing per exec left */
  printf("rss before %ld KiB, after 100000 guest execs %ld KiB (growth %ld KiB)\n", before, after,
         after - before);
  if (RSS_MEANINGFUL)
    assert_true(after - before < 1024);

  assert_int_equal(cow_host_close(h, on_host_closed, NULL), 0);
  TW_UNTIL(&loop, closed);
  TW_RUN_IDLE(&loop); /* the guest sees end of file and closes its end */
  cow__frame_decoder_reset(&dec);
  assert_int_equal(TW_LOOP_FINISH(&loop), 0);
}

int main(void)
{
  tb_alloc_install();
  const struct CMUnitTest tests[] = {cmocka_unit_test(rss_flat_over_100k_guest_execs)};
  return cmocka_run_group_tests_name("guest_footprint", tests, NULL, NULL);
}

/* Internal: the byte transport of the bridge. Reads a connected libuv stream into the
 * frame decoder (frame.h) and writes whole frames; knows nothing of ids or JSON.
 *
 * Writing: frames are appended to one output buffer and written once per loop turn, by a
 * prepare handle (it runs before the loop polls), with uv_try_write: every frame queued in
 * a turn goes out in one system call, with no write request and no copy beyond the append.
 * Only what the socket does not take at once is handed to uv_write, with the buffer it is
 * in. Closing flushes what is queued first, so a frame queued before a close is written as
 * if it had been written at once. Thread: loop thread. */
#ifndef COW_GUEST_WIRE_H
#define COW_GUEST_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "guest/frame.h"

typedef struct cow__wire cow__wire_t;

struct cow__wire {
  uv_stream_t *stream;
  cow__frame_decoder_t dec;
  char *rbuf;
  uint8_t *out; /* frames not written yet: out[0..out_len) of out_cap (cow__malloc) */
  size_t out_len, out_cap;
  uv_prepare_t flusher; /* started while `out` holds frames */
  /* One complete frame; the callee owns it (cow__frame_release). */
  void (*on_frame)(cow__wire_t *w, cow__frame_t *frame);
  /* The stream ended or failed (EOF, read or write error, bad framing): called once, with
   * the cause; the wire is already stopped and closing. */
  void (*on_error)(cow__wire_t *w, const cow_error_t *cause);
  /* The stream handle is closed (after cow__wire_close or an error). Called once. */
  void (*on_closed)(cow__wire_t *w);
  void *data;
  unsigned started : 1;
  unsigned failed : 1;
  unsigned closing : 1;
  unsigned closed : 1;
  unsigned open_handles : 2; /* the stream and the flusher, until their close callbacks */
  uint64_t frames_in, frames_out, bytes_in, bytes_out;
  size_t writes_pending; /* uv_write requests in flight */
};

/* Prepare `w` over `stream` (initialised and connected); callbacks must be set. */
void cow__wire_init(cow__wire_t *w, uv_stream_t *stream, uint32_t max_frame);

/* Start reading (and set up the flusher). Returns 0 or a libuv code; on failure the wire
 * still has to be closed. */
int cow__wire_start(cow__wire_t *w);

/* Room for a frame of `len` bytes at the end of the output buffer: returns where to write
 * it, or NULL when the wire is failed or closing (*rc COW_EBRIDGE_CLOSED) or out of memory
 * (*rc COW_ENOMEM). The frame is queued by cow__wire_commit(); until then nothing else may
 * be appended. */
uint8_t *cow__wire_reserve(cow__wire_t *w, size_t len, int *rc);

/* Queue the `len` bytes just written at cow__wire_reserve()'s pointer as one frame; they
 * are written before the loop next polls. */
void cow__wire_commit(cow__wire_t *w, size_t len);

/* Stop and close (idempotent): what is queued is written first (unless a write failed);
 * on_closed follows once every handle is closed. No on_error is raised. */
void cow__wire_close(cow__wire_t *w);

#endif

/* Internal: the byte transport of the bridge. Reads a connected libuv stream into the
 * frame decoder (frame.h) and writes whole frames; knows nothing of ids or JSON.
 * Thread: loop thread. */
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
  uint64_t frames_in, frames_out, bytes_in, bytes_out;
  size_t writes_pending;
};

/* Prepare `w` over `stream` (initialised and connected); callbacks must be set. */
void cow__wire_init(cow__wire_t *w, uv_stream_t *stream, uint32_t max_frame);

/* Start reading. Returns 0 or a libuv code. */
int cow__wire_start(cow__wire_t *w);

/* Queue one encoded frame (taken over: freed with cow__free when written). Returns 0, or
 * COW_EBRIDGE_CLOSED when the wire is failed or closing (the frame is freed). */
int cow__wire_send(cow__wire_t *w, uint8_t *frame, size_t len);

/* Stop and close the stream (idempotent); on_closed follows. No on_error is raised. */
void cow__wire_close(cow__wire_t *w);

#endif

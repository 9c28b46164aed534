/* The bridge's byte transport (see wire.h). Frames may arrive split across reads or
 * several in one read; the decoder reassembles them, and the size check happens on the
 * header, before any payload is allocated (R3). */
#include "guest/wire.h"

#include "core/alloc.h"
#include "core/error.h"
#include "core/list.h"
#include "core/log.h"

#define READ_BUF_SIZE 65536

struct write_req {
  uv_write_t req;
  cow__wire_t *w;
  uint8_t *frame;
};

static void wire_closed(uv_handle_t *h)
{
  cow__wire_t *w = h->data;
  w->closed = 1;
  cow__free(w->rbuf);
  w->rbuf = NULL;
  cow__frame_decoder_reset(&w->dec);
  if (w->on_closed)
    w->on_closed(w);
}

void cow__wire_close(cow__wire_t *w)
{
  if (w->closing)
    return;
  w->closing = 1;
  if (w->started)
    uv_read_stop(w->stream);
  w->stream->data = w;
  if (uv_is_closing((uv_handle_t *)w->stream)) {
    /* Closed by someone else: nothing will call back; report now. */
    wire_closed((uv_handle_t *)w->stream);
    return;
  }
  uv_close((uv_handle_t *)w->stream, wire_closed);
}

static void wire_fail(cow__wire_t *w, cow_error_t *cause)
{
  if (w->failed || w->closing)
    return;
  w->failed = 1;
  if (w->on_error)
    w->on_error(w, cause);
  cow__wire_close(w);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
  (void)suggested;
  cow__wire_t *w = h->data;
  if (w->rbuf == NULL)
    w->rbuf = cow__malloc(READ_BUF_SIZE);
  *buf = uv_buf_init(w->rbuf, w->rbuf ? READ_BUF_SIZE : 0);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
  cow__wire_t *w = s->data;
  cow_error_t err = COW_ERROR_INIT;
  if (nread == UV_ENOBUFS) {
    cow__error_set(&err, COW_ENOMEM, COW_DOMAIN_LIB, 0, "read", NULL,
                   "no memory for the bridge read buffer");
    wire_fail(w, &err);
    cow_error_clear(&err);
    return;
  }
  if (nread < 0) {
    if (nread == UV_EOF) {
      if (cow__frame_decoder_finish(&w->dec, &err) == 0)
        cow__error_set(&err, COW_EOF, COW_DOMAIN_LIB, 0, "read", NULL,
                       "the guest closed the bridge connection");
    } else {
      cow__error_set(&err, (int)nread, COW_DOMAIN_OS, (uint32_t)-nread, "read", NULL,
                     "bridge read failed: %s", uv_strerror((int)nread));
    }
    wire_fail(w, &err);
    cow_error_clear(&err);
    return;
  }
  w->bytes_in += (uint64_t)nread;
  const uint8_t *p = (const uint8_t *)buf->base;
  size_t left = (size_t)nread;
  while (left > 0 && !w->failed && !w->closing) {
    size_t used = 0;
    cow__frame_t frame = {0};
    int rc = cow__frame_decoder_feed(&w->dec, p, left, &used, &frame, &err);
    if (rc < 0) {
      wire_fail(w, &err);
      break;
    }
    p += used;
    left -= used;
    if (rc == 1) {
      w->frames_in++;
      w->on_frame(w, &frame); /* may close or fail the wire: the loop condition checks */
    }
  }
  cow_error_clear(&err);
}

void cow__wire_init(cow__wire_t *w, uv_stream_t *stream, uint32_t max_frame)
{
  w->stream = stream;
  stream->data = w;
  cow__frame_decoder_init(&w->dec, max_frame);
}

int cow__wire_start(cow__wire_t *w)
{
  int rc = uv_read_start(w->stream, on_alloc, on_read);
  if (rc == 0)
    w->started = 1;
  return rc;
}

static void on_written(uv_write_t *req, int status)
{
  struct write_req *wr = cow__container_of(req, struct write_req, req);
  cow__wire_t *w = wr->w;
  cow__free(wr->frame);
  cow__free(wr);
  w->writes_pending--;
  if (status < 0 && status != UV_ECANCELED) {
    cow_error_t err = COW_ERROR_INIT;
    cow__error_set(&err, status, COW_DOMAIN_OS, (uint32_t)-status, "write", NULL,
                   "bridge write failed: %s", uv_strerror(status));
    wire_fail(w, &err);
    cow_error_clear(&err);
  }
}

int cow__wire_send(cow__wire_t *w, uint8_t *frame, size_t len)
{
  if (w->failed || w->closing) {
    cow__free(frame);
    return COW_EBRIDGE_CLOSED;
  }
  struct write_req *wr = cow__malloc(sizeof *wr);
  if (wr == NULL) {
    cow__free(frame);
    return COW_ENOMEM;
  }
  wr->w = w;
  wr->frame = frame;
  uv_buf_t b = uv_buf_init((char *)frame, (unsigned)len);
  int rc = uv_write(&wr->req, w->stream, &b, 1, on_written);
  if (rc != 0) {
    cow__free(frame);
    cow__free(wr);
    cow_error_t err = COW_ERROR_INIT;
    cow__error_set(&err, rc, COW_DOMAIN_OS, (uint32_t)-rc, "write", NULL, "bridge write failed: %s",
                   uv_strerror(rc));
    wire_fail(w, &err);
    cow_error_clear(&err);
    return COW_EBRIDGE_CLOSED;
  }
  w->writes_pending++;
  w->frames_out++;
  w->bytes_out += len;
  return 0;
}

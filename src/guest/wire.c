/* The bridge's byte transport (see wire.h). Frames may arrive split across reads or
 * several in one read; the decoder reassembles them, and the size check happens on the
 * header, before any payload is allocated (R3). */
#include "guest/wire.h"

#include "core/alloc.h"
#include "core/error.h"
#include "core/list.h"
#include "core/log.h"

#define READ_BUF_SIZE 65536
#define OUT_INITIAL   4096
#define OUT_KEEP      65536 /* an output buffer grown beyond this is given back once empty */

/* Bytes the socket did not take at once, handed to uv_write with the buffer they are in. */
struct write_req {
  uv_write_t req;
  cow__wire_t *w;
  uint8_t *buf;
};

static void handle_closed(uv_handle_t *h)
{
  cow__wire_t *w = h->data;
  if (--w->open_handles > 0)
    return;
  w->closed = 1;
  cow__free(w->rbuf);
  w->rbuf = NULL;
  cow__free(w->out);
  w->out = NULL;
  w->out_len = w->out_cap = 0;
  cow__frame_decoder_reset(&w->dec);
  if (w->on_closed)
    w->on_closed(w);
}

static void flush(cow__wire_t *w);

void cow__wire_close(cow__wire_t *w)
{
  if (w->closing)
    return;
  w->closing = 1;
  if (w->started)
    uv_read_stop(w->stream);
  /* What was queued before the close goes out as it would have had it been written at
   * once; a write failure now is not reported (on_error is over once closing). */
  if (!w->failed)
    flush(w);
  if (w->open_handles == 2) {
    uv_prepare_stop(&w->flusher);
    uv_close((uv_handle_t *)&w->flusher, handle_closed);
  }
  w->stream->data = w;
  if (uv_is_closing((uv_handle_t *)w->stream)) {
    /* Closed by someone else: nothing will call back for it; count it now. */
    handle_closed((uv_handle_t *)w->stream);
    return;
  }
  uv_close((uv_handle_t *)w->stream, handle_closed);
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
  w->open_handles = 1;
  cow__frame_decoder_init(&w->dec, max_frame);
}

int cow__wire_start(cow__wire_t *w)
{
  int rc = uv_prepare_init(w->stream->loop, &w->flusher);
  if (rc != 0)
    return rc;
  w->flusher.data = w;
  w->open_handles = 2;
  rc = uv_read_start(w->stream, on_alloc, on_read);
  if (rc == 0)
    w->started = 1;
  return rc;
}

static void write_failed(cow__wire_t *w, int status)
{
  cow_error_t err = COW_ERROR_INIT;
  cow__error_set(&err, status, COW_DOMAIN_OS, (uint32_t)-status, "write", NULL,
                 "bridge write failed: %s", uv_strerror(status));
  wire_fail(w, &err);
  cow_error_clear(&err);
}

static void on_written(uv_write_t *req, int status)
{
  struct write_req *wr = cow__container_of(req, struct write_req, req);
  cow__wire_t *w = wr->w;
  cow__free(wr->buf);
  cow__free(wr);
  w->writes_pending--;
  if (status < 0 && status != UV_ECANCELED)
    write_failed(w, status);
}

static void flush(cow__wire_t *w)
{
  if (w->open_handles == 2)
    uv_prepare_stop(&w->flusher);
  if (w->out_len == 0)
    return;
  size_t off = 0;
  if (w->writes_pending == 0) { /* else uv_try_write refuses: order is kept by uv_write */
    uv_buf_t b = uv_buf_init((char *)w->out, (unsigned)w->out_len);
    int n = uv_try_write(w->stream, &b, 1);
    if (n >= 0) {
      off = (size_t)n;
    } else if (n != UV_EAGAIN && n != UV_ENOSYS) {
      w->out_len = 0;
      write_failed(w, n);
      return;
    }
  }
  if (off == w->out_len) {
    w->out_len = 0;
    if (w->out_cap > OUT_KEEP) { /* a burst is over: do not keep its memory */
      cow__free(w->out);
      w->out = NULL;
      w->out_cap = 0;
    }
    return;
  }
  /* The socket is full: the rest leaves with its buffer; the next frame gets a new one. */
  struct write_req *wr = cow__malloc(sizeof *wr);
  if (wr == NULL) {
    w->out_len = 0;
    write_failed(w, UV_ENOMEM);
    return;
  }
  wr->w = w;
  wr->buf = w->out;
  uv_buf_t b = uv_buf_init((char *)w->out + off, (unsigned)(w->out_len - off));
  w->out = NULL;
  w->out_len = w->out_cap = 0;
  int rc = uv_write(&wr->req, w->stream, &b, 1, on_written);
  if (rc != 0) {
    cow__free(wr->buf);
    cow__free(wr);
    write_failed(w, rc);
    return;
  }
  w->writes_pending++;
}

static void on_flush(uv_prepare_t *p)
{
  flush(p->data);
}

uint8_t *cow__wire_reserve(cow__wire_t *w, size_t len, int *rc)
{
  if (w->failed || w->closing) {
    *rc = COW_EBRIDGE_CLOSED;
    return NULL;
  }
  if (w->out_cap - w->out_len < len) {
    size_t cap = w->out_cap ? w->out_cap * 2 : OUT_INITIAL;
    if (cap < w->out_len + len)
      cap = w->out_len + len;
    uint8_t *grown = cow__realloc(w->out, cap);
    if (grown == NULL) {
      *rc = COW_ENOMEM;
      return NULL;
    }
    w->out = grown;
    w->out_cap = cap;
  }
  *rc = 0;
  return w->out + w->out_len;
}

void cow__wire_commit(cow__wire_t *w, size_t len)
{
  w->out_len += len;
  w->frames_out++;
  w->bytes_out += len;
  if (w->open_handles == 2 && !uv_is_active((uv_handle_t *)&w->flusher))
    uv_prepare_start(&w->flusher, on_flush);
}

/* One-connection listeners on libuv pipe handles (see stream-listen.h). The server handle
 * is closed as soon as one connection is accepted, so a second dial is refused by the
 * kernel (docs/gcs-bridge-protocol.md §5.1: each port accepts exactly one connection). */
#include "unix/stream-listen.h"

#include <unistd.h>

#include "core/list.h"
#include "cow/error.h"

static void server_closed(uv_handle_t *h)
{
  struct cow__stream_listener *s =
      cow__container_of((uv_pipe_t *)h, struct cow__stream_listener, server);
  if (s->path[0] != '\0')
    unlink(s->path); /* the socket file is the port: remove it with the listener */
  s->cb(s, s->result);
}

static void finish(struct cow__stream_listener *s, int result)
{
  if (s->closing)
    return;
  s->closing = 1;
  s->result = result;
  uv_close((uv_handle_t *)&s->server, server_closed);
}

static void on_connection(uv_stream_t *server, int status)
{
  struct cow__stream_listener *s =
      cow__container_of((uv_pipe_t *)server, struct cow__stream_listener, server);
  if (s->closing)
    return;
  if (status < 0) {
    finish(s, status);
    return;
  }
  int rc = uv_pipe_init(server->loop, s->client, 0);
  if (rc == 0) {
    rc = uv_accept(server, (uv_stream_t *)s->client);
    if (rc != 0) /* the library only closes a pipe reported as connected */
      uv_close((uv_handle_t *)s->client, NULL);
  }
  finish(s, rc);
}

int cow__stream_listen_fd(struct cow__stream_listener *s, uv_loop_t *loop, int fd,
                          uv_pipe_t *client, cow__stream_listen_cb cb)
{
  s->cb = cb;
  s->client = client;
  s->closing = 0;
  int rc = uv_pipe_init(loop, &s->server, 0);
  if (rc != 0) {
    close(fd);
    if (s->path[0] != '\0')
      unlink(s->path);
    return rc;
  }
  rc = uv_pipe_open(&s->server, fd);
  if (rc == 0)
    rc = uv_listen((uv_stream_t *)&s->server, 1, on_connection); /* backlog 1: one dial */
  if (rc != 0) {
    /* The handle exists now, so its memory must live until libuv has closed it: report
     * the failure through cb, like any later failure. */
    if (uv_fileno((uv_handle_t *)&s->server, &(uv_os_fd_t){0}) != 0)
      close(fd);
    finish(s, rc);
  }
  return 0;
}

void cow__stream_listen_cancel(struct cow__stream_listener *s)
{
  finish(s, COW_ECANCELED);
}

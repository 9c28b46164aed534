/* One-connection listeners on Winsock stream sockets (see stream-listen.h).
 *
 * Listening: socket, bind, listen(1), then a uv_poll_t on the listening socket. When it
 * turns readable: accept, uv_tcp_init + uv_tcp_open on the accepted socket, and finish.
 * Finishing (accepted, failed or cancelled) always goes the same way: close the poll
 * handle, and only in its close callback close the listening socket (libuv requires the
 * socket to outlive its poll handle) and report to the caller. */
#include "win/stream-listen.h"

#include <string.h>

#include "core/list.h"
#include "core/log.h"
#include "cow/error.h"

static void poll_closed(uv_handle_t *h)
{
  struct cow__stream_listener *w =
      cow__container_of((uv_poll_t *)h, struct cow__stream_listener, poll);
  closesocket(w->s); /* after the poll handle: a second dial is refused from here on */
  w->s = INVALID_SOCKET;
  w->cb(w, w->result);
}

static void finish(struct cow__stream_listener *w, int result)
{
  if (w->closing)
    return;
  w->closing = 1;
  w->result = result;
  uv_close((uv_handle_t *)&w->poll, poll_closed);
}

/* Take the accepted socket into the library's handle; 0 or a code. */
static int adopt(struct cow__stream_listener *w, SOCKET c)
{
  int rc = uv_tcp_init(w->poll.loop, w->client);
  if (rc != 0) {
    closesocket(c);
    return rc;
  }
  rc = uv_tcp_open(w->client, (uv_os_sock_t)c);
  if (rc != 0) {
    /* libuv did not take the socket (it records it only on success), and the library only
     * closes a handle reported as connected: both are ours to close. */
    closesocket(c);
    uv_close((uv_handle_t *)w->client, NULL);
  }
  return rc;
}

static void on_ready(uv_poll_t *p, int status, int events)
{
  (void)events;
  struct cow__stream_listener *w = cow__container_of(p, struct cow__stream_listener, poll);
  if (w->closing)
    return;
  if (status < 0) {
    finish(w, status);
    return;
  }
  SOCKET c = accept(w->s, NULL, NULL);
  if (c == INVALID_SOCKET) {
    int e = WSAGetLastError();
    if (e == WSAEWOULDBLOCK || e == WSAECONNRESET)
      return; /* nothing queued after all, or the dialler gave up: keep listening */
    finish(w, uv_translate_sys_error(e));
    return;
  }
  finish(w, adopt(w, c));
}

int cow__stream_listen_winsock(struct cow__stream_listener *w, uv_loop_t *loop,
                               const struct cow__winsock_addr *addr, void *arg, uint32_t port,
                               uv_tcp_t *client, cow__stream_listen_cb cb)
{
  w->cb = cb;
  w->client = client;
  w->closing = 0;
  struct sockaddr_storage sa;
  int len = 0;
  memset(&sa, 0, sizeof sa);
  int rc = addr->make(arg, port, &sa, &len);
  if (rc != 0)
    return rc;
  /* Overlapped (libuv's I/O on the accepted socket needs it; accept passes it on) and not
   * inherited by the processes a shim starts. */
  w->s = WSASocketW(addr->family, addr->type, addr->protocol, NULL, 0,
                    WSA_FLAG_OVERLAPPED | WSA_FLAG_NO_HANDLE_INHERIT);
  if (w->s == INVALID_SOCKET) {
    int e = WSAGetLastError();
    /* listen reports a bare code (the caller's connect or exec returns it): the log line
     * carries what the code cannot. */
    cow__log(COW_LOG_ERROR, "guest", "%s: cannot create a socket of family %d: %s (WSA %d)",
             addr->name, addr->family, cow_strerror(uv_translate_sys_error(e)), e);
    /* No such family on this machine (no Hyper-V sockets: Windows without Hyper-V, Wine):
     * the transport is what is unavailable, not this one port. */
    if (e == WSAEAFNOSUPPORT || e == WSAEPFNOSUPPORT || e == WSAEPROTONOSUPPORT ||
        e == WSAESOCKTNOSUPPORT)
      return COW_EBACKEND_UNAVAILABLE;
    return uv_translate_sys_error(e);
  }
  if (bind(w->s, (struct sockaddr *)&sa, len) != 0 || listen(w->s, 1) != 0) {
    int e = WSAGetLastError();
    cow__log(COW_LOG_ERROR, "guest", "%s: cannot listen on port %u: %s (WSA %d)", addr->name,
             (unsigned)port, cow_strerror(uv_translate_sys_error(e)), e);
    closesocket(w->s);
    return uv_translate_sys_error(e);
  }
  rc = uv_poll_init_socket(loop, &w->poll, w->s);
  if (rc != 0 && w->poll.type != UV_POLL) {
    closesocket(w->s);
    return rc;
  }
  if (rc == 0)
    rc = uv_poll_start(&w->poll, UV_READABLE, on_ready);
  if (rc != 0) {
    /* The poll handle exists (libuv registers it before it can fail), so its memory must
     * live until libuv has closed it: report the failure through cb. */
    finish(w, rc);
    return 0;
  }
  if (addr->bound != NULL)
    addr->bound(arg, port, w->s);
  return 0;
}

void cow__stream_listen_cancel(struct cow__stream_listener *w)
{
  finish(w, COW_ECANCELED);
}

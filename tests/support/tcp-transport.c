/* Test support: loopback TCP guest transports (see tcp-transport.h). */
#include "support/tcp-transport.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(_WIN32)
#  include "guest/listener.h"
#  include "win/stream-listen.h"
#else
#  include <errno.h>
#  include <netinet/in.h>
#  include <sys/socket.h>
#  include <sys/un.h>
#  include <unistd.h>
#endif

static void map_add(tcpt_map_t *map, uint32_t guest_port, int tcp_port)
{
  if (map->n < TCPT_MAP_MAX) {
    map->guest_port[map->n] = guest_port;
    map->tcp_port[map->n] = tcp_port;
    map->n++;
  }
}

int tcpt_port(const tcpt_map_t *map, uint32_t guest_port)
{
  for (int i = map->n - 1; i >= 0; i--)
    if (map->guest_port[i] == guest_port)
      return map->tcp_port[i];
  return -1;
}

static struct sockaddr_in loopback(int port)
{
  struct sockaddr_in sa;
  memset(&sa, 0, sizeof sa);
  sa.sin_family = AF_INET;
  sa.sin_port = htons((unsigned short)port);
  sa.sin_addr.s_addr = htonl(0x7f000001u);
  return sa;
}

/* ---- a user transport on libuv alone ---- */

struct uv_listener {
  cow_guest_listener_t *l;
  uv_tcp_t server;
  uv_tcp_t *client;
  int result;
  int closing;
};

static void uvl_closed(uv_handle_t *h)
{
  struct uv_listener *w = h->data;
  cow_guest_listener_done(w->l, w->result);
}

static void uvl_finish(struct uv_listener *w, int result)
{
  if (w->closing)
    return;
  w->closing = 1;
  w->result = result;
  uv_close((uv_handle_t *)&w->server, uvl_closed);
}

static void uvl_connection(uv_stream_t *server, int status)
{
  struct uv_listener *w = server->data;
  if (w->closing)
    return;
  int rc = status;
  if (rc == 0)
    rc = uv_tcp_init(server->loop, w->client);
  if (rc == 0) {
    rc = uv_accept(server, (uv_stream_t *)w->client);
    if (rc != 0)
      uv_close((uv_handle_t *)w->client, NULL);
  }
  uvl_finish(w, rc);
}

static int uvl_listen(cow_guest_listener_t *l, uv_loop_t *loop, uint32_t port, uv_tcp_t *tcp)
{
  tcpt_map_t *map = cow_guest_listener_transport_data(l);
  struct uv_listener *w = cow_guest_listener_priv(l);
  w->l = l;
  w->client = tcp;
  int rc = uv_tcp_init(loop, &w->server);
  if (rc != 0)
    return rc;
  w->server.data = w;
  struct sockaddr_in sa = loopback(0);
  rc = uv_tcp_bind(&w->server, (const struct sockaddr *)&sa, 0);
  if (rc == 0)
    rc = uv_listen((uv_stream_t *)&w->server, 1, uvl_connection);
  int len = (int)sizeof sa;
  if (rc == 0)
    rc = uv_tcp_getsockname(&w->server, (struct sockaddr *)&sa, &len);
  if (rc != 0) {
    uvl_finish(w, rc); /* the handle exists: report through done */
    return 0;
  }
  map->listens++;
  map_add(map, port, ntohs(sa.sin_port));
  return 0;
}

static void uvl_cancel(cow_guest_listener_t *l)
{
  uvl_finish(cow_guest_listener_priv(l), COW_ECANCELED);
}

static const struct cow_guest_transport_ops uv_tcp_ops = {
    .version = COW_GUEST_TRANSPORT_OPS_VERSION,
    .name = "test-uv-tcp",
    .listener_size = sizeof(struct uv_listener),
    .listen = NULL,
    .cancel = uvl_cancel,
    .release = NULL,
    .listen_tcp = uvl_listen,
};

int tcpt_new_uv(cow_guest_transport_t **out, tcpt_map_t *map)
{
  return cow_guest_transport_new(out, &uv_tcp_ops, map);
}

/* ---- the library's Winsock listener with loopback addresses ---- */

#if defined(_WIN32)
static int ws_make(void *arg, uint32_t port, struct sockaddr_storage *sa, int *len)
{
  (void)arg;
  (void)port;
  struct sockaddr_in in = loopback(0);
  memcpy(sa, &in, sizeof in);
  *len = (int)sizeof in;
  return 0;
}

static void ws_bound(void *arg, uint32_t port, SOCKET s)
{
  tcpt_map_t *map = arg;
  struct sockaddr_in sa;
  int len = (int)sizeof sa;
  map->listens++;
  if (getsockname(s, (struct sockaddr *)&sa, &len) == 0)
    map_add(map, port, ntohs(sa.sin_port));
}

static const struct cow__winsock_addr ws_loopback = {
    .name = "test-winsock-loopback",
    .family = AF_INET,
    .type = SOCK_STREAM,
    .protocol = IPPROTO_TCP,
    .make = ws_make,
    .bound = ws_bound,
    .release = NULL,
};

int tcpt_new_winsock(cow_guest_transport_t **out, tcpt_map_t *map)
{
  return cow__transport_winsock_new(out, &ws_loopback, map);
}
#endif

/* ---- POSIX: the AF_UNIX port directory on the listen_tcp slot ---- */

#if !defined(_WIN32)
struct sk {
  cow_guest_listener_t *l;
  uv_poll_t poll;
  int fd;
  uv_tcp_t *client;
  char path[108];
  int result, closing;
};

static void sk_closed(uv_handle_t *h)
{
  struct sk *s = h->data;
  close(s->fd);
  unlink(s->path);
  cow_guest_listener_done(s->l, s->result);
}

static void sk_finish(struct sk *s, int rc)
{
  if (s->closing)
    return;
  s->closing = 1;
  s->result = rc;
  uv_close((uv_handle_t *)&s->poll, sk_closed);
}

static void sk_ready(uv_poll_t *p, int status, int events)
{
  (void)events;
  struct sk *s = p->data;
  if (s->closing)
    return;
  int c = status < 0 ? -1 : accept(s->fd, NULL, NULL);
  if (status == 0 && c < 0 && errno == EAGAIN)
    return;
  int rc = status < 0 ? status : c < 0 ? -errno : uv_tcp_init(p->loop, s->client);
  if (rc == 0 && (rc = uv_tcp_open(s->client, c)) != 0)
    uv_close((uv_handle_t *)s->client, NULL);
  if (rc != 0 && c >= 0)
    close(c);
  sk_finish(s, rc);
}

static int sk_listen(cow_guest_listener_t *l, uv_loop_t *lp, uint32_t port, uv_tcp_t *tcp)
{
  struct sk *s = cow_guest_listener_priv(l);
  s->l = l;
  s->client = tcp;
  snprintf(s->path, sizeof s->path, "%s/%u", (const char *)cow_guest_listener_transport_data(l),
           (unsigned)port);
  struct sockaddr_un sa = {.sun_family = AF_UNIX};
  snprintf(sa.sun_path, sizeof sa.sun_path, "%s", s->path);
  s->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (s->fd < 0)
    return -errno;
  if (bind(s->fd, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(s->fd, 1) != 0 ||
      uv_poll_init(lp, &s->poll, s->fd) != 0) {
    int e = -errno;
    close(s->fd);
    unlink(s->path);
    return e;
  }
  s->poll.data = s;
  uv_poll_start(&s->poll, UV_READABLE, sk_ready);
  return 0;
}

static void sk_cancel(cow_guest_listener_t *l)
{
  sk_finish(cow_guest_listener_priv(l), COW_ECANCELED);
}

static const struct cow_guest_transport_ops sk_ops = {
    .version = COW_GUEST_TRANSPORT_OPS_VERSION,
    .name = "test-unix-socket-slot",
    .listener_size = sizeof(struct sk),
    .listen = NULL,
    .cancel = sk_cancel,
    .release = free,
    .listen_tcp = sk_listen,
};

int tcpt_new_unix_socket_slot(cow_guest_transport_t **out, const char *dir)
{
  char *copy = strdup(dir);
  if (copy == NULL)
    return COW_ENOMEM;
  int rc = cow_guest_transport_new(out, &sk_ops, copy);
  if (rc != 0)
    free(copy);
  return rc;
}
#endif

/* ---- the guest's side: dial ---- */

int tcpt_dial(uv_loop_t *loop, uv_tcp_t *tcp, int tcp_port)
{
  if (tcp_port <= 0)
    return UV_EINVAL;
  struct sockaddr_in sa = loopback(tcp_port);
#if defined(_WIN32)
  SOCKET s = WSASocketW(AF_INET, SOCK_STREAM, IPPROTO_TCP, NULL, 0,
                        WSA_FLAG_OVERLAPPED | WSA_FLAG_NO_HANDLE_INHERIT);
  if (s == INVALID_SOCKET)
    return uv_translate_sys_error(WSAGetLastError());
  if (connect(s, (struct sockaddr *)&sa, (int)sizeof sa) != 0) {
    int e = uv_translate_sys_error(WSAGetLastError());
    closesocket(s);
    return e;
  }
#  define CLOSE_SOCKET closesocket
#else
  int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (s < 0)
    return -errno; /* libuv's codes are negated errno values on POSIX */
  if (connect(s, (struct sockaddr *)&sa, sizeof sa) != 0) {
    int e = -errno;
    close(s);
    return e;
  }
#  define CLOSE_SOCKET close
#endif
  int rc = uv_tcp_init(loop, tcp);
  if (rc != 0) {
    CLOSE_SOCKET(s);
    return rc;
  }
  rc = uv_tcp_open(tcp, (uv_os_sock_t)s);
  if (rc != 0) {
    CLOSE_SOCKET(s);
    uv_close((uv_handle_t *)tcp, NULL);
  }
  return rc;
}

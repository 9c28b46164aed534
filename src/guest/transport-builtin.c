/* The built-in transports: the platform layer's one-connection listeners (src/unix,
 * src/win) dressed as transport ops tables, so the guest connection uses them exactly like
 * a user's transport. The platform code knows nothing of transports: it reports each
 * listen's outcome through a callback, which this file turns into cow_guest_listener_done(). */
#include <string.h>

#include "core/alloc.h"
#include "core/list.h"
#include "guest/listener.h"

#if defined(_WIN32)
#  include "win/stream-listen.h"
#else
#  include "unix/stream-listen.h"
#endif

/* A listener's transport state: the platform listener and the library listener it serves. */
struct builtin_listener {
  cow_guest_listener_t *l;
  struct cow__stream_listener s;
};

static void on_listen_done(struct cow__stream_listener *s, int status)
{
  struct builtin_listener *b = cow__container_of(s, struct builtin_listener, s);
  cow_guest_listener_done(b->l, status);
}

static struct cow__stream_listener *builtin_start(cow_guest_listener_t *l)
{
  struct builtin_listener *b = cow_guest_listener_priv(l);
  b->l = l;
  return &b->s;
}

static void builtin_cancel(cow_guest_listener_t *l)
{
  struct builtin_listener *b = cow_guest_listener_priv(l);
  cow__stream_listen_cancel(&b->s);
}

#if !defined(_WIN32)
/* ---- AF_UNIX port directory: data is the directory (a copy) ---- */

static int unix_listen(cow_guest_listener_t *l, uv_loop_t *loop, uint32_t port, uv_pipe_t *pipe)
{
  const char *dir = cow_guest_listener_transport_data(l);
  return cow__stream_listen_unix(builtin_start(l), loop, dir, port, pipe, on_listen_done);
}

static const struct cow_guest_transport_ops unix_ops = {
    .version = COW_GUEST_TRANSPORT_OPS_VERSION,
    .name = "unix",
    .listener_size = sizeof(struct builtin_listener),
    .listen = unix_listen,
    .cancel = builtin_cancel,
    .release = cow__free,
};
#endif

int cow_guest_transport_unix(cow_guest_transport_t **out, const char *dir)
{
  if (out == NULL)
    return COW_EINVAL;
  *out = NULL;
#if defined(_WIN32)
  (void)dir;
  return COW_ENOTSUP;
#else
  int rc = cow__stream_listen_unix_dir(dir);
  if (rc != 0)
    return rc;
  char *copy = cow__strdup(dir);
  if (copy == NULL)
    return COW_ENOMEM;
  rc = cow_guest_transport_new(out, &unix_ops, copy);
  if (rc != 0)
    cow__free(copy);
  return rc;
#endif
}

#if defined(__linux__)
/* ---- AF_VSOCK ---- */

static int vsock_listen(cow_guest_listener_t *l, uv_loop_t *loop, uint32_t port, uv_pipe_t *pipe)
{
  return cow__stream_listen_vsock(builtin_start(l), loop, port, pipe, on_listen_done);
}

static const struct cow_guest_transport_ops vsock_ops = {
    .version = COW_GUEST_TRANSPORT_OPS_VERSION,
    .name = "vsock",
    .listener_size = sizeof(struct builtin_listener),
    .listen = vsock_listen,
    .cancel = builtin_cancel,
    .release = NULL,
};
#endif

int cow_guest_transport_vsock(cow_guest_transport_t **out)
{
  if (out == NULL)
    return COW_EINVAL;
  *out = NULL;
#if defined(__linux__)
  return cow_guest_transport_new(out, &vsock_ops, NULL);
#else
  return COW_ENOTSUP;
#endif
}

#if defined(_WIN32)
/* ---- Winsock sockets of any family (hvsocket; loopback TCP in the tests) ---- */

struct ws_transport {
  struct cow_guest_transport_ops ops; /* ws_ops named after the address */
  const struct cow__winsock_addr *addr;
  void *arg;
};

static int ws_listen(cow_guest_listener_t *l, uv_loop_t *loop, uint32_t port, uv_tcp_t *tcp)
{
  const struct ws_transport *t = cow_guest_listener_transport_data(l);
  return cow__stream_listen_winsock(builtin_start(l), loop, t->addr, t->arg, port, tcp,
                                    on_listen_done);
}

static void ws_release(void *data)
{
  struct ws_transport *t = data;
  if (t->addr->release != NULL)
    t->addr->release(t->arg);
  cow__free(t);
}

static const struct cow_guest_transport_ops ws_ops = {
    .version = COW_GUEST_TRANSPORT_OPS_VERSION,
    .name = NULL, /* the address's */
    .listener_size = sizeof(struct builtin_listener),
    .listen = NULL,
    .cancel = builtin_cancel,
    .release = ws_release,
    .listen_tcp = ws_listen,
};

int cow__transport_winsock_new(cow_guest_transport_t **out, const struct cow__winsock_addr *addr,
                               void *arg)
{
  struct ws_transport *t = cow__calloc(1, sizeof *t);
  if (t == NULL)
    return COW_ENOMEM;
  t->ops = ws_ops;
  t->ops.name = addr->name;
  t->addr = addr;
  t->arg = arg;
  /* The table lives in the data: the library reads it for the last time just before it
   * calls release. */
  int rc = cow_guest_transport_new(out, &t->ops, t);
  if (rc != 0)
    cow__free(t);
  return rc;
}
#endif

int cow_guest_transport_hvsock(cow_guest_transport_t **out, const char *vm_id)
{
  if (out == NULL)
    return COW_EINVAL;
  *out = NULL;
#if defined(_WIN32)
  void *arg = NULL;
  int rc = cow__hvsock_arg_new(&arg, vm_id);
  if (rc != 0)
    return rc;
  rc = cow__transport_winsock_new(out, &cow__hvsock_addr, arg);
  if (rc != 0)
    cow__hvsock_addr.release(arg);
  return rc;
#else
  (void)vm_id;
  return COW_ENOTSUP;
#endif
}

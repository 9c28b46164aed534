/* Transports: the reference-counted ops+data pair, and the listener lifecycle that keeps
 * "done exactly once, never inside listen or cancel" true whatever the transport does. The
 * built-in transports are in transport-builtin.c. */
#include <stdatomic.h>
#include <string.h>

#include "core/alloc.h"
#include "core/handle.h"
#include "core/log.h"
#include "guest/listener.h"

struct cow_guest_transport_s {
  atomic_uint refs;
  const struct cow_guest_transport_ops *ops;
  void *data;
};

struct cow_guest_listener_s {
  cow_guest_transport_t *t;
  uint32_t port;
  cow__listener_cb done_cb;
  void *arg;
  unsigned listening : 1; /* listen() returned 0 and done has not been called */
  unsigned cancelled : 1;
  void *priv;
};

int cow_guest_transport_new(cow_guest_transport_t **out, const struct cow_guest_transport_ops *ops,
                            void *data)
{
  if (out == NULL)
    return COW_EINVAL;
  *out = NULL;
  if (ops == NULL)
    return COW_EINVAL;
  if (ops->version < 1 || ops->version > COW_GUEST_TRANSPORT_OPS_VERSION)
    return COW_EVERSION;
  /* Slots past the caller's version are not read: the table may be shorter. */
  int has_tcp = ops->version >= 2 && ops->listen_tcp != NULL;
  if (ops->cancel == NULL || (ops->listen == NULL) == !has_tcp)
    return COW_EINVAL;
  cow_guest_transport_t *t = cow__calloc(1, sizeof *t);
  if (t == NULL)
    return COW_ENOMEM;
  atomic_init(&t->refs, 1);
  t->ops = ops;
  t->data = data;
  *out = t;
  return 0;
}

void cow__transport_ref(cow_guest_transport_t *t)
{
  atomic_fetch_add(&t->refs, 1);
}

void cow_guest_transport_release(cow_guest_transport_t *t)
{
  if (t == NULL)
    return;
  if (atomic_fetch_sub(&t->refs, 1) != 1)
    return;
  if (t->ops->release != NULL)
    t->ops->release(t->data);
  cow__free(t);
}

void *cow_guest_listener_transport_data(const cow_guest_listener_t *l)
{
  return l ? l->t->data : NULL;
}

void *cow_guest_listener_priv(const cow_guest_listener_t *l)
{
  return l ? l->priv : NULL;
}

uint32_t cow_guest_listener_port(const cow_guest_listener_t *l)
{
  return l ? l->port : 0;
}

static void listener_free(cow_guest_listener_t *l)
{
  cow_guest_transport_release(l->t);
  cow__free(l);
}

int cow__listener_start(cow_guest_listener_t **out, cow_guest_transport_t *t, uv_loop_t *loop,
                        uint32_t port, union cow__stream *slot, cow__listener_cb done_cb, void *arg)
{
  *out = NULL;
  size_t off = cow__priv_offset(sizeof(cow_guest_listener_t));
  cow_guest_listener_t *l = cow__calloc(1, off + t->ops->listener_size);
  if (l == NULL)
    return COW_ENOMEM;
  cow__transport_ref(t);
  l->t = t;
  l->port = port;
  l->done_cb = done_cb;
  l->arg = arg;
  l->priv = t->ops->listener_size ? (char *)l + off : NULL;
  l->listening = 1; /* before the call: a buggy transport calling done inline is caught */
  int rc = t->ops->listen != NULL ? t->ops->listen(l, loop, port, &slot->pipe)
                                  : t->ops->listen_tcp(l, loop, port, &slot->tcp);
  if (rc < 0) {
    listener_free(l);
    return rc;
  }
  *out = l;
  return 0;
}

void cow__listener_cancel(cow_guest_listener_t *l)
{
  if (l == NULL || l->cancelled || !l->listening)
    return;
  l->cancelled = 1;
  l->t->ops->cancel(l);
}

void cow_guest_listener_done(cow_guest_listener_t *l, int status)
{
  if (l == NULL)
    return;
  if (!l->listening) {
    cow__log(COW_LOG_ERROR, "guest", "transport %s reported port %u twice", l->t->ops->name,
             (unsigned)l->port);
    return;
  }
  l->listening = 0;
  if (status > 0)
    status = 0;
  l->done_cb(l, status, l->arg);
  listener_free(l);
}

/* The process-host interface. A host is either a handle of its own (a guest connection)
 * or the view of a container, which forwards lifetime, timeouts and state to it. */
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/handle.h"

struct cow__handle *cow__host_handle(const cow_host_t *h)
{
  return h->container ? &h->container->base : (struct cow__handle *)&h->base;
}

static void host_free(cow_host_t *h)
{
  cow__handle_free_timeouts(&h->base);
  cow__free(h);
}

int cow_host_new(cow_host_t **out, struct uv_loop_s *loop, const struct cow_host_ops *ops)
{
  if (out == NULL)
    return COW_EINVAL;
  *out = NULL;
  if (loop == NULL || ops == NULL)
    return COW_EINVAL;
  if (ops->version < 1 || ops->version > COW_HOST_OPS_VERSION)
    return COW_EVERSION; /* 1..current: each slot is read only if the version has it */
  size_t off = cow__priv_offset(sizeof(cow_host_t));
  cow_host_t *h = cow__calloc(1, off + ops->priv_size);
  if (h == NULL)
    return COW_ENOMEM;
  int rc = cow__handle_init(&h->base, COW__HOST, loop, h, NULL);
  if (rc != 0) {
    cow__free(h);
    return rc;
  }
  h->base.priv = ops->priv_size ? (char *)h + off : NULL;
  h->ops = ops;
  if (ops->init != NULL && (rc = ops->init(h)) < 0) {
    if (ops->fini != NULL)
      ops->fini(h);
    cow__handle_destroy(&h->base);
    host_free(h);
    return rc;
  }
  *out = h;
  return 0;
}

void cow__host_finalize(struct cow__handle *hd)
{
  cow_host_t *h = (cow_host_t *)hd;
  if (h->ops->fini != NULL)
    h->ops->fini(h);
  cow_host_close_cb cb = (cow_host_close_cb)hd->close_cb;
  if (cb != NULL)
    cb(h, hd->close_data);
  host_free(h);
}

static void host_backend_close(struct cow__handle *hd)
{
  cow_host_t *h = (cow_host_t *)hd;
  if (h->ops->close != NULL)
    h->ops->close(h);
}

/* Adapts a host close callback to the container close a view's close turns into. */
struct view_close {
  cow_host_close_cb cb;
  void *data;
};

static void view_closed(cow_container_t *c, void *data);

int cow_host_close(cow_host_t *h, cow_host_close_cb cb, void *data)
{
  if (h == NULL)
    return COW_EINVAL;
  if (h->container != NULL) {
    if (h->container->base.flags & COW__CLOSING)
      return COW_ECLOSING;
    struct view_close *vc = NULL;
    if (cb != NULL) {
      vc = cow__malloc(sizeof *vc);
      if (vc == NULL)
        return COW_ENOMEM;
      vc->cb = cb;
      vc->data = data;
    }
    int rc = cow_container_close(h->container, vc ? view_closed : NULL, vc);
    if (rc != 0)
      cow__free(vc);
    return rc;
  }
  if (h->base.flags & COW__CLOSING)
    return COW_ECLOSING;
  return cow__handle_close(&h->base, (void (*)(void))cb, data, host_backend_close);
}

static void view_closed(cow_container_t *c, void *data)
{
  struct view_close *vc = data;
  vc->cb(&c->host, vc->data);
  cow__free(vc);
}

int cow_host_create_process(cow_process_t **out, cow_host_t *h, const char *config_json,
                            cow_process_cb cb, void *data)
{
  if (out == NULL)
    return COW_EINVAL;
  *out = NULL;
  if (h == NULL || config_json == NULL || cb == NULL)
    return COW_EINVAL;
  struct cow__handle *hd = cow__host_handle(h);
  if (hd->flags & COW__CLOSING)
    return COW_ECLOSING;
  return cow__process_create(h, hd, out, config_json, -1, cb, data);
}

int cow_host_open_process(cow_process_t **out, cow_host_t *h, int64_t pid, cow_process_cb cb,
                          void *data)
{
  if (out == NULL)
    return COW_EINVAL;
  *out = NULL;
  /* Process ids of both HCS and the GCS are 32-bit unsigned values. */
  if (h == NULL || cb == NULL || pid < 0 || pid > (int64_t)UINT32_MAX)
    return COW_EINVAL;
  struct cow__handle *hd = cow__host_handle(h);
  if (hd->flags & COW__CLOSING)
    return COW_ECLOSING;
  return cow__process_create(h, hd, out, NULL, pid, cb, data);
}

const char *cow_host_os(const cow_host_t *h)
{
  if (h == NULL || h->ops->os == NULL)
    return "unknown";
  return h->ops->os(h);
}

int cow_host_is_oci(const cow_host_t *h)
{
  if (h == NULL || h->ops->is_oci == NULL)
    return 0;
  return h->ops->is_oci(h) ? 1 : 0;
}

int cow_host_set_timeout(cow_host_t *h, cow_timeout_kind_t kind, uint64_t timeout_ms)
{
  if (h == NULL)
    return COW_EINVAL;
  return cow__handle_set_timeout(cow__host_handle(h), kind, timeout_ms);
}

void cow_host_set_data(cow_host_t *h, void *data)
{
  if (h == NULL)
    return;
  if (h->container)
    h->view_data = data;
  else
    h->base.data = data;
}

void *cow_host_get_data(const cow_host_t *h)
{
  if (h == NULL)
    return NULL;
  return h->container ? h->view_data : h->base.data;
}

cow_container_t *cow_host_container(cow_host_t *h)
{
  return h ? h->container : NULL;
}

void *cow_host_priv(const cow_host_t *h)
{
  return h ? cow__host_handle(h)->priv : NULL;
}

uint64_t cow_host_event_id(const cow_host_t *h)
{
  return h ? cow__host_handle(h)->id : 0;
}

void cow_host_ref(cow_host_t *h)
{
  if (h)
    cow__handle_ref(cow__host_handle(h));
}

void cow_host_unref(cow_host_t *h)
{
  if (h)
    cow__handle_unref(cow__host_handle(h));
}

int cow_host_is_closing(const cow_host_t *h)
{
  return h != NULL && (cow__host_handle(h)->flags & COW__CLOSING) != 0;
}

int cow_host_op_new(cow_op_t **out, cow_host_t *h, const char *name, cow_timeout_kind_t timeout,
                    cow_host_cb cb, void *data)
{
  if (out == NULL)
    return COW_EINVAL;
  *out = NULL;
  if (h == NULL || name == NULL || cb == NULL)
    return COW_EINVAL;
  struct cow__handle *hd = cow__host_handle(h);
  if (hd->flags & COW__CLOSING)
    return COW_ECLOSING;
  int rc = cow__op_new(hd, name, COW__CB_HOST, (void (*)(void))cb, data, timeout, 1, out);
  if (rc == 0)
    cow__op_arm(*out);
  return rc;
}

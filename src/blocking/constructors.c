/* Blocking wrappers of the backends' constructors: the same request machinery as every
 * other blocking call, with the constructor's arguments copied into the request. */
#include <string.h>

#include "blocking/blocking.h"
#include "cow/config.h"
#include "core/alloc.h"
#include "core/error.h"

/* Arguments that must outlive the caller's stack frame (the caller may time out). */
struct ctor_args {
  cow_hcs_options_t hcs;
  cow_guest_options_t guest;
  char *id;
};

#if COW_HAVE_BACKEND_HCS || COW_HAVE_BACKEND_GUEST
static void ctor_args_free(void *p)
{
  struct ctor_args *a = p;
  if (a == NULL)
    return;
  cow__free(a->id);
  cow__free(a);
}
#endif

#if COW_HAVE_BACKEND_HCS
static void system_created(cow_container_t *c, int status, const cow_error_t *err, void *data)
{
  struct breq *r = data;
  if (status < 0) {
    cow_container_close(c, NULL, NULL); /* the caller gets the error, not a handle */
    r->obj = NULL;
  } else {
    r->obj = c;
  }
  cow__breq_finish(r, status, err);
}

static int start_system(struct breq *r)
{
  struct ctor_args *a = r->extra;
  cow_container_t *c;
  int rc = cow_hcs_create_system(&c, &r->b->loop, &a->hcs, a->id, r->text, system_created, r);
  if (rc == COW_EBACKEND_UNAVAILABLE) {
    /* The constructor has no error out-parameter: ask which DLL or export is missing. */
    cow_error_t e = COW_ERROR_INIT;
    if (cow_hcs_available(a->hcs.api, &e) != 0 && e.code < 0) {
      cow__breq_finish(r, rc, &e);
      cow_error_clear(&e);
      return 0;
    }
    cow_error_clear(&e);
  }
  return rc;
}
#endif

int cow_blocking_hcs_create_system(cow_container_t **out, cow_blocking_t *b,
                                   const cow_hcs_options_t *opts, const char *id,
                                   const char *config_json, uint64_t timeout_ms, cow_error_t *err)
{
  if (out == NULL)
    return COW_EINVAL;
  *out = NULL;
#if COW_HAVE_BACKEND_HCS
  if (b == NULL || opts == NULL || id == NULL || config_json == NULL)
    return COW_EINVAL;
  struct ctor_args *a = cow__calloc(1, sizeof *a);
  if (a == NULL || (a->id = cow__strdup(id)) == NULL) {
    ctor_args_free(a);
    return cow__error_set(err, COW_ENOMEM, COW_DOMAIN_LIB, 0, "blocking", NULL, NULL);
  }
  a->hcs = *opts;
  void *obj = NULL;
  int rc = cow__blocking_call_extra(b, start_system, COW__BREQ_CONTAINER, NULL, config_json, a,
                                    ctor_args_free, timeout_ms, err, &obj);
  if (rc == 0)
    *out = obj;
  return rc;
#else
  (void)b;
  (void)opts;
  (void)id;
  (void)config_json;
  (void)timeout_ms;
  return cow__error_set(err, COW_ENOTSUP, COW_DOMAIN_LIB, 0, "blocking", NULL,
                        "libcow was built without the HCS backends");
#endif
}

#if COW_HAVE_BACKEND_GUEST
static void guest_connected(cow_host_t *h, int status, const cow_error_t *err, void *data)
{
  struct breq *r = data;
  if (status < 0) {
    cow_host_close(h, NULL, NULL);
    r->obj = NULL;
  } else {
    r->obj = h;
  }
  cow__breq_finish(r, status, err);
}

static int start_connect(struct breq *r)
{
  struct ctor_args *a = r->extra;
  cow_host_t *h;
  return cow_guest_connect(&h, &r->b->loop, &a->guest, guest_connected, r);
}
#endif

int cow_blocking_guest_connect(cow_host_t **out, cow_blocking_t *b, const cow_guest_options_t *opts,
                               uint64_t timeout_ms, cow_error_t *err)
{
  if (out == NULL)
    return COW_EINVAL;
  *out = NULL;
#if COW_HAVE_BACKEND_GUEST
  if (b == NULL || opts == NULL)
    return COW_EINVAL;
  struct ctor_args *a = cow__calloc(1, sizeof *a);
  if (a == NULL)
    return cow__error_set(err, COW_ENOMEM, COW_DOMAIN_LIB, 0, "blocking", NULL, NULL);
  a->guest = *opts;
  void *obj = NULL;
  int rc = cow__blocking_call_extra(b, start_connect, COW__BREQ_HOST, NULL, NULL, a, ctor_args_free,
                                    timeout_ms, err, &obj);
  if (rc == 0)
    *out = obj;
  return rc;
#else
  (void)b;
  (void)opts;
  (void)timeout_ms;
  return cow__error_set(err, COW_ENOTSUP, COW_DOMAIN_LIB, 0, "blocking", NULL,
                        "libcow was built without the guest connection");
#endif
}

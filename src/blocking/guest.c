/* Blocking forms of the guest connection's own calls (<cow/guest.h>): utility-VM modify,
 * container state, stacks, and the connection's and its containers' state. The
 * constructors are in constructors.c. */
#include "blocking/blocking.h"

#include "core/alloc.h"
#include "cow/config.h"
#include "core/error.h"

static int einval(cow_error_t *err, const char *what)
{
  return cow__error_set(err, COW_EINVAL, COW_DOMAIN_LIB, 0, what, NULL,
                        "a required argument is NULL");
}

#if COW_HAVE_BACKEND_GUEST

static void host_done(cow_host_t *h, int status, const cow_error_t *err, void *data)
{
  (void)h;
  cow__breq_finish(data, status, err);
}

static int start_modify(struct breq *r)
{
  return cow_guest_modify(r->obj, r->text, host_done, r);
}

static int start_delete_state(struct breq *r)
{
  return cow_guest_delete_container_state(r->obj, r->text, host_done, r);
}

static void stacks_done(cow_host_t *h, int status, const char *text, const cow_error_t *err,
                        void *data)
{
  struct breq *r = data;
  (void)h;
  if (status == 0 && text != NULL && (r->json = cow__strdup(text)) == NULL)
    status = COW_ENOMEM;
  cow__breq_finish(r, status, err);
}

static int start_dump_stacks(struct breq *r)
{
  return cow_guest_dump_stacks(r->obj, stacks_done, r);
}

/* The negotiated state, in one request: the strings are copied into the request. */
static int start_state(struct breq *r)
{
  const char *caps = cow_guest_capabilities(r->obj);
  r->code = (int64_t)cow_guest_capability_flags(r->obj);
  r->flag = cow_guest_protocol_version(r->obj);
  int rc = caps != NULL && (r->json = cow__strdup(caps)) == NULL ? COW_ENOMEM : 0;
  cow__breq_finish(r, rc, NULL);
  return 0;
}

static int start_bridge_error(struct breq *r)
{
  cow_error_t e = COW_ERROR_INIT;
  int rc = cow_guest_bridge_error(r->obj, &e);
  cow__breq_finish(r, rc, &e);
  cow_error_clear(&e);
  return 0;
}

static int start_trace(struct breq *r)
{
  cow__breq_finish(r, cow_guest_set_trace_context(r->obj, r->text, r->extra), NULL);
  return 0;
}

static int start_exit_type(struct breq *r)
{
  const char *t = cow_guest_container_exit_type(r->obj);
  int rc = t != NULL && (r->json = cow__strdup(t)) == NULL ? COW_ENOMEM : 0;
  cow__breq_finish(r, rc, NULL);
  return 0;
}

#else

static int notsup(cow_error_t *err)
{
  return cow__error_set(err, COW_ENOTSUP, COW_DOMAIN_LIB, 0, "blocking", NULL,
                        "libcow was built without the guest connection");
}

#endif

int cow_blocking_guest_modify(cow_blocking_t *b, cow_host_t *host, const char *request_json,
                              uint64_t timeout_ms, cow_error_t *err)
{
  if (host == NULL || request_json == NULL)
    return einval(err, "modify");
#if COW_HAVE_BACKEND_GUEST
  return cow__blocking_call(b, start_modify, host, request_json, timeout_ms, err, NULL);
#else
  (void)b;
  (void)timeout_ms;
  return notsup(err);
#endif
}

int cow_blocking_guest_delete_container_state(cow_blocking_t *b, cow_host_t *host, const char *id,
                                              uint64_t timeout_ms, cow_error_t *err)
{
  if (host == NULL || id == NULL)
    return einval(err, "delete_container_state");
#if COW_HAVE_BACKEND_GUEST
  return cow__blocking_call(b, start_delete_state, host, id, timeout_ms, err, NULL);
#else
  (void)b;
  (void)timeout_ms;
  return notsup(err);
#endif
}

int cow_blocking_guest_dump_stacks(char **text, cow_blocking_t *b, cow_host_t *host,
                                   uint64_t timeout_ms, cow_error_t *err)
{
  if (text != NULL)
    *text = NULL;
  if (text == NULL || host == NULL)
    return einval(err, "dump_stacks");
#if COW_HAVE_BACKEND_GUEST
  struct breq *kept = NULL;
  int rc = cow__blocking_call(b, start_dump_stacks, host, NULL, timeout_ms, err, &kept);
  return cow__blocking_take_json(text, rc, kept);
#else
  (void)b;
  (void)timeout_ms;
  return notsup(err);
#endif
}

int cow_blocking_guest_capabilities(char **capabilities_json, unsigned *capability_flags,
                                    int *protocol_version, cow_blocking_t *b, cow_host_t *host)
{
  if (capabilities_json != NULL)
    *capabilities_json = NULL;
  if (capability_flags != NULL)
    *capability_flags = 0;
  if (protocol_version != NULL)
    *protocol_version = 0;
  if (host == NULL)
    return COW_EINVAL;
#if COW_HAVE_BACKEND_GUEST
  struct breq *kept = NULL;
  int rc = cow__blocking_call(b, start_state, host, NULL, 0, NULL, &kept);
  if (kept == NULL)
    return rc;
  if (capability_flags != NULL)
    *capability_flags = (unsigned)kept->code;
  if (protocol_version != NULL)
    *protocol_version = kept->flag;
  if (capabilities_json == NULL) {
    cow__breq_free(kept);
    return rc;
  }
  return cow__blocking_take_json(capabilities_json, rc, kept);
#else
  (void)b;
  return COW_ENOTSUP;
#endif
}

int cow_blocking_guest_bridge_error(cow_blocking_t *b, cow_host_t *host, cow_error_t *err)
{
  if (host == NULL)
    return einval(err, "bridge_error");
#if COW_HAVE_BACKEND_GUEST
  return cow__blocking_call(b, start_bridge_error, host, NULL, 0, err, NULL);
#else
  (void)b;
  return notsup(err);
#endif
}

int cow_blocking_guest_set_trace_context(cow_blocking_t *b, cow_host_t *host,
                                         const char *traceparent, const char *tracestate)
{
  if (host == NULL || b == NULL)
    return COW_EINVAL;
#if COW_HAVE_BACKEND_GUEST
  struct breq *r = cow__breq_new(start_trace, host, traceparent);
  char *state = NULL;
  if (r == NULL || (tracestate != NULL && (state = cow__strdup(tracestate)) == NULL)) {
    if (r != NULL)
      cow__breq_free(r);
    return COW_ENOMEM;
  }
  r->extra = state;
  r->extra_free = cow__free;
  return cow__breq_run(b, r, 0, NULL, NULL);
#else
  (void)traceparent;
  (void)tracestate;
  return COW_ENOTSUP;
#endif
}

int cow_blocking_guest_container_exit_type(char **exit_type, cow_blocking_t *b, cow_container_t *c)
{
  if (exit_type != NULL)
    *exit_type = NULL;
  if (exit_type == NULL || c == NULL)
    return COW_EINVAL;
#if COW_HAVE_BACKEND_GUEST
  struct breq *kept = NULL;
  int rc = cow__blocking_call(b, start_exit_type, c, NULL, 0, NULL, &kept);
  return cow__blocking_take_json(exit_type, rc, kept);
#else
  (void)b;
  return COW_ENOTSUP;
#endif
}

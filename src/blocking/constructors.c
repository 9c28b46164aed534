/* Blocking wrappers of the constructors (HCS systems, the guest connection, guest
 * containers): the same request machinery as every other blocking call, with the
 * constructor's arguments copied into the request, and each handle recorded when it is
 * handed out (handles.c). */
#include <stddef.h>
#include <string.h>
#ifdef _WIN32
#  include <winsock2.h>
#else
#  include <unistd.h>
#endif

#include "blocking/blocking.h"
#include "core/alloc.h"
#include "cow/config.h"
#include "core/error.h"

/* Arguments that must outlive the caller's stack frame (the caller may time out). */
struct ctor_args {
  cow_hcs_options_t hcs;
  cow_guest_options_t guest; /* its pointers are the caller's: the request `borrows` */
  char *id;
  intptr_t sock; /* a connected socket not yet handed to the library, or -1 */
};

static void sock_close(intptr_t sock)
{
#ifdef _WIN32
  closesocket((SOCKET)sock);
#else
  close((int)sock);
#endif
}

#if COW_HAVE_BACKEND_HCS || COW_HAVE_BACKEND_GUEST
static void ctor_args_free(void *p)
{
  struct ctor_args *a = p;
  if (a == NULL)
    return;
  if (a->sock != -1)
    sock_close(a->sock);
  cow__free(a->id);
  cow__free(a);
}

static struct ctor_args *ctor_args_new(const char *id, cow_error_t *err)
{
  struct ctor_args *a = cow__calloc(1, sizeof *a);
  if (a != NULL)
    a->sock = -1;
  if (a != NULL && (id == NULL || (a->id = cow__strdup(id)) != NULL))
    return a;
  cow__free(a);
  cow__error_set(err, COW_ENOMEM, COW_DOMAIN_LIB, 0, "blocking", NULL, NULL);
  return NULL;
}

#endif

#if !COW_HAVE_BACKEND_HCS || !COW_HAVE_BACKEND_GUEST
static int notsup(cow_error_t *err, const char *what)
{
  return cow__error_set(err, COW_ENOTSUP, COW_DOMAIN_LIB, 0, "blocking", NULL,
                        "libcow was built without %s", what);
}
#endif

#if COW_HAVE_BACKEND_HCS || COW_HAVE_BACKEND_GUEST
/* A container handle came back from a constructor: record it, or close it and fail. */
static void container_made(struct breq *r, cow_container_t *c, void *parent, int status,
                           const cow_error_t *err)
{
  cow_error_t nomem = COW_ERROR_INIT;
  if (status == 0 && cow__bh_add(r->b, COW__BK_CONTAINER, c, parent) != 0) {
    status = cow__error_set(&nomem, COW_ENOMEM, COW_DOMAIN_LIB, 0, "blocking", NULL, NULL);
    err = &nomem;
  }
  if (status < 0) {
    cow_container_close(c, NULL, NULL); /* the caller gets the error, not a handle */
    r->obj = NULL;
  } else {
    r->obj = c;
  }
  cow__breq_finish(r, status, err);
  cow_error_clear(&nomem);
}
#endif

#if COW_HAVE_BACKEND_HCS
static void system_made(cow_container_t *c, int status, const cow_error_t *err, void *data)
{
  container_made(data, c, NULL, status, err);
}

/* The constructors have no error out-parameter: when the DLL is missing, ask which DLL
 * or export, so that the caller's error says it. */
static int hcs_refused(struct breq *r, int rc, cow_hcs_api_t api)
{
  if (rc != COW_EBACKEND_UNAVAILABLE)
    return rc;
  cow_error_t e = COW_ERROR_INIT;
  if (cow_hcs_available(api, &e) != 0 && e.code < 0) {
    cow__breq_finish(r, rc, &e);
    cow_error_clear(&e);
    return 0;
  }
  cow_error_clear(&e);
  return rc;
}

static int start_system(struct breq *r)
{
  struct ctor_args *a = r->extra;
  cow_container_t *c;
  int rc = cow_hcs_create_system(&c, &r->b->loop, &a->hcs, a->id, r->text, system_made, r);
  return hcs_refused(r, rc, a->hcs.api);
}

static int start_open_system(struct breq *r)
{
  struct ctor_args *a = r->extra;
  cow_container_t *c;
  int rc = cow_hcs_open_system(&c, &r->b->loop, &a->hcs, a->id, system_made, r);
  return hcs_refused(r, rc, a->hcs.api);
}

static int hcs_call(cow_container_t **out, int (*start)(struct breq *), cow_blocking_t *b,
                    const cow_hcs_options_t *opts, const char *id, const char *config_json,
                    uint64_t timeout_ms, cow_error_t *err)
{
  struct ctor_args *a = ctor_args_new(id, err);
  if (a == NULL)
    return COW_ENOMEM;
  a->hcs = *opts;
  void *obj = NULL;
  int rc = cow__blocking_call_extra(b, start, COW__BK_CONTAINER, NULL, config_json, a,
                                    ctor_args_free, timeout_ms, err, &obj);
  if (rc == 0)
    *out = obj;
  return rc;
}
#endif

int cow_blocking_hcs_create_system(cow_container_t **out, cow_blocking_t *b,
                                   const cow_hcs_options_t *opts, const char *id,
                                   const char *config_json, uint64_t timeout_ms, cow_error_t *err)
{
  if (out != NULL)
    *out = NULL;
  if (out == NULL || b == NULL || opts == NULL || id == NULL || config_json == NULL)
    return cow__error_set(err, COW_EINVAL, COW_DOMAIN_LIB, 0, "create_system", NULL,
                          "a required argument is NULL");
#if COW_HAVE_BACKEND_HCS
  return hcs_call(out, start_system, b, opts, id, config_json, timeout_ms, err);
#else
  (void)timeout_ms;
  return notsup(err, "the HCS backends");
#endif
}

int cow_blocking_hcs_open_system(cow_container_t **out, cow_blocking_t *b,
                                 const cow_hcs_options_t *opts, const char *id, uint64_t timeout_ms,
                                 cow_error_t *err)
{
  if (out != NULL)
    *out = NULL;
  if (out == NULL || b == NULL || opts == NULL || id == NULL)
    return cow__error_set(err, COW_EINVAL, COW_DOMAIN_LIB, 0, "open_system", NULL,
                          "a required argument is NULL");
#if COW_HAVE_BACKEND_HCS
  return hcs_call(out, start_open_system, b, opts, id, NULL, timeout_ms, err);
#else
  (void)timeout_ms;
  return notsup(err, "the HCS backends");
#endif
}

#if COW_HAVE_BACKEND_GUEST
static void guest_connected(cow_host_t *h, int status, const cow_error_t *err, void *data)
{
  struct breq *r = data;
  cow_error_t nomem = COW_ERROR_INIT;
  if (status == 0 && cow__bh_add(r->b, COW__BK_HOST, h, NULL) != 0) {
    status = cow__error_set(&nomem, COW_ENOMEM, COW_DOMAIN_LIB, 0, "connect", NULL, NULL);
    err = &nomem;
  }
  if (status < 0) {
    cow_host_close(h, cow__bh_host_data_free, NULL);
    r->obj = NULL;
  } else {
    r->obj = h;
  }
  cow__breq_finish(r, status, err);
  cow_error_clear(&nomem);
}

static int start_connect(struct breq *r)
{
  struct ctor_args *a = r->extra;
  cow_host_t *h;
  return cow_guest_connect(&h, &r->b->loop, &a->guest, guest_connected, r);
}

/* The stream of a connection over a socket the caller connected: a pipe on POSIX (any
 * socket: AF_UNIX, AF_VSOCK), a socket stream on Windows (the only libuv stream that takes
 * a SOCKET). Its memory is the connection's user data, freed after its close callback. */
union bstream {
  uv_handle_t handle;
  uv_stream_t stream;
  uv_pipe_t pipe;
  uv_tcp_t tcp;
};

static void bstream_free(uv_handle_t *h)
{
  cow__free(h);
}

static int start_connect_socket(struct breq *r)
{
  struct ctor_args *a = r->extra;
  union bstream *s = cow__calloc(1, sizeof *s);
  if (s == NULL)
    return COW_ENOMEM; /* the request's end closes the socket */
#  ifdef _WIN32
  int rc = uv_tcp_init(&r->b->loop, &s->tcp);
  if (rc == 0 && (rc = uv_tcp_open(&s->tcp, (uv_os_sock_t)a->sock)) != 0)
    uv_close(&s->handle, bstream_free);
#  else
  int rc = uv_pipe_init(&r->b->loop, &s->pipe, 0);
  if (rc == 0 && (rc = uv_pipe_open(&s->pipe, (uv_file)a->sock)) != 0)
    uv_close(&s->handle, bstream_free);
#  endif
  if (rc != 0) {
    if (s->handle.type == UV_UNKNOWN_HANDLE)
      cow__free(s); /* never initialised */
    return rc;
  }
  a->sock = -1; /* the stream has it now */
  cow_host_t *h;
  rc = cow_guest_connect_stream(&h, &r->b->loop, &s->stream, &a->guest, guest_connected, r);
  if (rc != 0) {
    uv_close(&s->handle, bstream_free); /* not taken: ours to close */
    return rc;
  }
  cow_host_set_data(h, s);
  return 0;
}

/* Both connects: `a` is the request's from here on. */
static int connect_call(cow_host_t **out, int (*start)(struct breq *), cow_blocking_t *b,
                        struct ctor_args *a, uint64_t timeout_ms, cow_error_t *err)
{
  struct breq *r = cow__breq_new(start, NULL, NULL);
  if (r == NULL) {
    ctor_args_free(a);
    return cow__error_set(err, COW_ENOMEM, COW_DOMAIN_LIB, 0, "connect", NULL, NULL);
  }
  r->creates = COW__BK_HOST;
  r->extra = a;
  r->extra_free = ctor_args_free;
  /* The transport is the caller's, and the connection takes its own reference inside
   * the connect call: this call returns only once that is over (or never began). */
  r->borrows = 1;
  struct breq *kept = NULL;
  int rc = cow__breq_run(b, r, timeout_ms, err, &kept);
  if (kept != NULL) {
    if (rc == 0)
      *out = kept->obj;
    cow__breq_free(kept);
  }
  return rc;
}

static void guest_container_made(cow_container_t *c, int status, const cow_error_t *err, void *data)
{
  struct breq *r = data;
  container_made(r, c, r->obj, status, err);
}

static int start_create_container(struct breq *r)
{
  struct ctor_args *a = r->extra;
  cow_container_t *c;
  return cow_guest_create_container(&c, r->obj, a->id, r->text, guest_container_made, r);
}

static int start_open_container(struct breq *r)
{
  struct ctor_args *a = r->extra;
  cow_container_t *c;
  int rc = cow_guest_open_container(&c, r->obj, a->id);
  if (rc == 0)
    container_made(r, c, r->obj, 0, NULL);
  return rc;
}

static int guest_container_call(cow_container_t **out, int (*start)(struct breq *),
                                cow_blocking_t *b, cow_host_t *host, const char *id,
                                const char *config_json, uint64_t timeout_ms, cow_error_t *err)
{
  struct ctor_args *a = ctor_args_new(id, err);
  if (a == NULL)
    return COW_ENOMEM;
  void *obj = NULL;
  int rc = cow__blocking_call_extra(b, start, COW__BK_CONTAINER, host, config_json, a,
                                    ctor_args_free, timeout_ms, err, &obj);
  if (rc == 0)
    *out = obj;
  return rc;
}
#endif

#if COW_HAVE_BACKEND_GUEST
/* The caller's options as far as its version reaches: a version 1 struct ends before
 * stdio_timeout_ms, so copying sizeof(cow_guest_options_t) would read past the caller's
 * object. The rest keeps its defaults; a version this library does not know is refused
 * here, with the same codes cow_guest_connect() gives. */
static int guest_options_copy(cow_guest_options_t *dst, const cow_guest_options_t *src,
                              cow_error_t *err)
{
  int rc = cow__struct_version_check(src->version, COW_GUEST_OPTIONS_VERSION);
  if (rc != 0)
    return cow__error_set(err, rc, COW_DOMAIN_LIB, 0, "connect", NULL,
                          rc == COW_EVERSION
                              ? "the options come from a newer libcow (version too high)"
                              : "the options' version is 0 (start from COW_GUEST_OPTIONS_INIT)");
  cow_guest_options_init(dst);
  size_t n = src->version >= 2 ? sizeof *dst : offsetof(cow_guest_options_t, stdio_timeout_ms);
  memcpy(dst, src, n);
  return 0;
}
#endif

int cow_blocking_guest_connect(cow_host_t **out, cow_blocking_t *b, const cow_guest_options_t *opts,
                               uint64_t timeout_ms, cow_error_t *err)
{
  if (out != NULL)
    *out = NULL;
  if (out == NULL || b == NULL || opts == NULL)
    return cow__error_set(err, COW_EINVAL, COW_DOMAIN_LIB, 0, "connect", NULL,
                          "a required argument is NULL");
#if COW_HAVE_BACKEND_GUEST
  cow_guest_options_t o;
  int rc = guest_options_copy(&o, opts, err);
  if (rc != 0)
    return rc;
  struct ctor_args *a = ctor_args_new(NULL, err);
  if (a == NULL)
    return COW_ENOMEM;
  a->guest = o;
  return connect_call(out, start_connect, b, a, timeout_ms, err);
#else
  (void)timeout_ms;
  return notsup(err, "the guest connection");
#endif
}

int cow_blocking_guest_connect_socket(cow_host_t **out, cow_blocking_t *b, intptr_t sock,
                                      const cow_guest_options_t *opts, uint64_t timeout_ms,
                                      cow_error_t *err)
{
  if (out != NULL)
    *out = NULL;
  if (out == NULL || b == NULL || opts == NULL || sock == -1) {
    if (sock != -1)
      sock_close(sock);
    return cow__error_set(err, COW_EINVAL, COW_DOMAIN_LIB, 0, "connect", NULL,
                          "a required argument is NULL or -1");
  }
#if COW_HAVE_BACKEND_GUEST
  cow_guest_options_t o;
  int rc = guest_options_copy(&o, opts, err);
  if (rc != 0) {
    sock_close(sock);
    return rc;
  }
  struct ctor_args *a = ctor_args_new(NULL, err);
  if (a == NULL) {
    sock_close(sock);
    return COW_ENOMEM;
  }
  a->guest = o;
  a->sock = sock;
  return connect_call(out, start_connect_socket, b, a, timeout_ms, err);
#else
  (void)timeout_ms;
  sock_close(sock);
  return notsup(err, "the guest connection");
#endif
}

int cow_blocking_guest_create_container(cow_container_t **out, cow_blocking_t *b, cow_host_t *host,
                                        const char *id, const char *config_json,
                                        uint64_t timeout_ms, cow_error_t *err)
{
  if (out != NULL)
    *out = NULL;
  if (out == NULL || b == NULL || host == NULL || id == NULL || config_json == NULL)
    return cow__error_set(err, COW_EINVAL, COW_DOMAIN_LIB, 0, "create_container", NULL,
                          "a required argument is NULL");
#if COW_HAVE_BACKEND_GUEST
  return guest_container_call(out, start_create_container, b, host, id, config_json, timeout_ms,
                              err);
#else
  (void)timeout_ms;
  return notsup(err, "the guest connection");
#endif
}

int cow_blocking_guest_open_container(cow_container_t **out, cow_blocking_t *b, cow_host_t *host,
                                      const char *id, cow_error_t *err)
{
  if (out != NULL)
    *out = NULL;
  if (out == NULL || b == NULL || host == NULL || id == NULL)
    return cow__error_set(err, COW_EINVAL, COW_DOMAIN_LIB, 0, "open_container", NULL,
                          "a required argument is NULL");
#if COW_HAVE_BACKEND_GUEST
  return guest_container_call(out, start_open_container, b, host, id, NULL, 0, err);
#else
  return notsup(err, "the guest connection");
#endif
}

/* The guest connection: a cow_host_t backed by the GCS bridge. Owns the bridge and its
 * stream, the negotiation (docs/gcs-bridge-protocol.md §3), the connection-level requests
 * (ModifySettings and DumpStacks on the utility VM, DeleteContainerState) and the dispatch of
 * container notifications. Containers and processes live in container.c and process.c. */
#include <ctype.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/handle.h"
#include "core/log.h"
#include "guest/guest.h"

#define DEFAULT_RPC_TIMEOUT_MS     300000u /* hcsshim bridgeFailureTimeout */
#define DEFAULT_CONNECT_TIMEOUT_MS 120000u /* hcsshim GCSConnectionTimeout */
#define DEFAULT_STDIO_TIMEOUT_MS   30000u

void cow_guest_options_init(cow_guest_options_t *opts)
{
  if (opts == NULL)
    return;
  const cow_guest_options_t init = COW_GUEST_OPTIONS_INIT;
  *opts = init;
}

struct cow__guest_conn *cow__guest_conn_of(const cow_host_t *host)
{
  if (host == NULL)
    return NULL;
  if (host->ops == &cow__guest_host_ops)
    return cow_host_priv(host);
  if (host->ops == &cow__guest_container_host_ops) {
    struct cow__guest_container *gc = cow_container_priv(host->container);
    return gc ? gc->conn : NULL;
  }
  return NULL;
}

/* ---- calls: a request tied to a core op ---- */

static void call_done(void *ctx, int status, const struct cow__proto_resp *resp,
                      const cow_error_t *err)
{
  struct cow__guest_call *call = ctx;
  call->req = NULL;
  cow__list_remove(&call->link);
  call->fn(call, status, resp, err);
  cow__free(call->extra);
  cow__free(call);
}

int cow__guest_call(struct cow__guest_conn *conn, cow__list *list, uint32_t type,
                    const struct cow__payload *payload, int timed, cow_op_t *op, void *owner,
                    const char *object_id, cow__guest_call_fn fn, struct cow__guest_call **out,
                    cow_error_t *err)
{
  if (out)
    *out = NULL;
  struct cow__guest_call *call = cow__calloc(1, sizeof *call);
  if (call == NULL)
    return cow__error_set(err, COW_ENOMEM, COW_DOMAIN_LIB, 0, NULL, NULL, NULL);
  call->conn = conn;
  call->op = op;
  call->fn = fn;
  call->owner = owner;
  call->object_id = object_id;
  cow__list_init(&call->link);
  int rc = cow__bridge_call(&conn->bridge, type, payload->data, payload->len, timed, call_done,
                            call, &call->req, err);
  if (rc != 0) {
    cow__free(call);
    return rc;
  }
  cow__list_insert_tail(list, &call->link);
  if (op)
    cow_op_set_backend_data(op, call);
  if (out)
    *out = call;
  return 0;
}

void cow__guest_call_abandon(struct cow__guest_call *call, int status)
{
  if (call == NULL)
    return;
  cow__bridge_abandon(&call->conn->bridge, call->req);
  cow__list_remove(&call->link);
  if (call->op)
    cow_op_complete(call->op, status, NULL);
  cow__free(call->extra);
  cow__free(call);
}

void cow__guest_calls_abandon_all(cow__list *list, int status)
{
  while (!cow__list_empty(list))
    cow__guest_call_abandon(cow__container_of(list->next, struct cow__guest_call, link), status);
}

struct cow__guest_call *cow__guest_call_find(cow__list *list, cow_op_t *op)
{
  for (cow__list *n = list->next; n != list; n = n->next) {
    struct cow__guest_call *call = cow__container_of(n, struct cow__guest_call, link);
    if (call->op == op)
      return call;
  }
  return NULL;
}

void cow__guest_call_complete_simple(struct cow__guest_call *call, int status,
                                     const struct cow__proto_resp *resp, const cow_error_t *err)
{
  if (status < 0) {
    cow_op_complete(call->op, status, err);
    return;
  }
  if (resp->result == 0) {
    cow_op_complete(call->op, 0, NULL);
    return;
  }
  cow_error_t e = COW_ERROR_INIT;
  int code = cow__proto_resp_error(resp, cow_op_name(call->op), call->object_id, &e);
  cow_op_complete(call->op, code, &e);
  cow_error_clear(&e);
}

/* ---- state ---- */

void cow__guest_trace(struct cow__guest_conn *conn, struct cow__proto_trace *out)
{
  out->traceparent = NULL;
  out->tracestate = NULL;
  if (conn->traceparent != NULL) {
    out->traceparent = conn->traceparent;
    out->tracestate = conn->tracestate;
    return;
  }
  if (conn->trace_cb != NULL) {
    const char *state = NULL;
    const char *parent = conn->trace_cb(&state, conn->trace_data);
    /* A malformed value from the provider is dropped, never sent (R26). */
    if (parent != NULL && cow__proto_valid_traceparent(parent)) {
      out->traceparent = parent;
      out->tracestate = state;
    }
  }
}

int cow__guest_check_ready(struct cow__guest_conn *conn, const char *operation, cow_error_t *err)
{
  switch (conn->state) {
  case COW__GUEST_READY:
    return 0;
  case COW__GUEST_DEAD:
    cow__bridge_closed_error(&conn->bridge, operation, err);
    return COW_EBRIDGE_CLOSED;
  default:
    return cow__error_set(err, COW_EINVALID_STATE, COW_DOMAIN_LIB, 0, operation, NULL,
                          "the guest connection is not established yet");
  }
}

uint32_t cow__guest_alloc_port(struct cow__guest_conn *conn)
{
  uint32_t p = conn->next_port++;
  if (conn->next_port == 0) /* wrapped after 3 billion streams: stay out of port 0 */
    conn->next_port = COW_GUEST_FIRST_STDIO_PORT;
  return p;
}

/* ---- connect ---- */

static void connect_finish(struct cow__guest_conn *conn, int status, const cow_error_t *err)
{
  cow_op_t *op = conn->connect_op;
  conn->connect_op = NULL;
  if (status == 0) {
    conn->state = COW__GUEST_READY;
    cow__log(COW_LOG_INFO, "guest", "connected: protocol %d, capabilities %s", conn->version,
             conn->capabilities ? conn->capabilities : "{}");
  } else if (conn->bridge.state != COW__BRIDGE_DEAD) {
    /* A connection that failed to come up is closed: nothing more is sent on it. */
    cow__bridge_kill(&conn->bridge, err);
  }
  if (op != NULL)
    cow_op_complete(op, status, err);
}

static void connect_fail(struct cow__guest_conn *conn, int code, const char *fmt, const char *arg)
{
  cow_error_t err = COW_ERROR_INIT;
  cow__error_set(&err, code, COW_DOMAIN_LIB, 0, "connect", NULL, fmt, arg);
  connect_finish(conn, code, &err);
  cow_error_clear(&err);
}

/* A failed step of connecting (transport error or an HRESULT in the answer) ends the
 * connect with that error. Returns 1 when it did. */
static int connect_failed(struct cow__guest_conn *conn, int status,
                          const struct cow__proto_resp *resp, const cow_error_t *err)
{
  if (status < 0) {
    connect_finish(conn, status, err);
    return 1;
  }
  if (resp->result == 0)
    return 0;
  cow_error_t e = COW_ERROR_INIT;
  int code = cow__proto_resp_error(resp, "connect", NULL, &e);
  connect_finish(conn, code, &e);
  cow_error_clear(&e);
  return 1;
}

static void host_start_done(struct cow__guest_call *call, int status,
                            const struct cow__proto_resp *resp, const cow_error_t *err)
{
  struct cow__guest_conn *conn = call->owner;
  if (connect_failed(conn, status, resp, err))
    return;
  connect_finish(conn, 0, NULL);
}

static void host_create_done(struct cow__guest_call *call, int status,
                             const struct cow__proto_resp *resp, const cow_error_t *err);

static void send_host_message(struct cow__guest_conn *conn, uint32_t type)
{
  struct cow__proto_trace trace;
  cow__guest_trace(conn, &trace);
  struct cow__payload body;
  int rc;
  if (type == COW__MSG_CREATE) {
    /* §3.1 step 6: the guest asked for a host Create of the UVM itself. */
    json_t *cfg = json_pack("{s:s}", "SystemType", "Container");
    rc = cfg ? cow__proto_create(&body, COW__NULL_CONTAINER_ID, cfg, &trace) : COW_ENOMEM;
    json_decref(cfg);
  } else {
    rc = cow__proto_request_base(&body, COW__NULL_CONTAINER_ID, &trace);
  }
  cow_error_t err = COW_ERROR_INIT;
  if (rc == 0) {
    rc = cow__guest_call(conn, &conn->calls, type, &body, 1, NULL, conn, NULL,
                         type == COW__MSG_CREATE ? host_create_done : host_start_done, NULL, &err);
    cow__proto_payload_release(&body);
  }
  if (rc != 0)
    connect_finish(conn, rc, err.code ? &err : NULL);
  cow_error_clear(&err);
}

static void host_create_done(struct cow__guest_call *call, int status,
                             const struct cow__proto_resp *resp, const cow_error_t *err)
{
  struct cow__guest_conn *conn = call->owner;
  if (status < 0 || resp->result != 0 || !conn->host_start) {
    host_start_done(call, status, resp, err);
    return;
  }
  send_host_message(conn, COW__MSG_START);
}

static int str_ieq(const char *a, const char *b)
{
  for (; *a && *b; a++, b++)
    if (tolower((unsigned char)*a) != tolower((unsigned char)*b))
      return 0;
  return *a == *b;
}

static void negotiated(struct cow__guest_call *call, int status, const struct cow__proto_resp *resp,
                       const cow_error_t *err)
{
  struct cow__guest_conn *conn = call->owner;
  if (connect_failed(conn, status, resp, err))
    return;
  int64_t version = cow__proto_int(resp->body, "Version", 0);
  if (version != COW__PROTOCOL_VERSION) {
    char v[24];
    snprintf(v, sizeof v, "%lld", (long long)version);
    connect_fail(conn, COW_EPROTOCOL, "the guest negotiated protocol version %s, not 4", v);
    return;
  }
  json_t *caps = json_object_get(resp->body, "Capabilities");
  const char *os = cow__proto_str(caps, "RuntimeOsType");
  /* hcsshim reads an empty OS as Windows; an LCOW backend refuses instead of silently
   * switching semantics (§3.1 step 4). */
  if (os == NULL || !str_ieq(os, "linux")) {
    connect_fail(conn, COW_ENOTSUP, "the guest runs \"%s\"; this backend drives Linux guests",
                 os ? os : "(no RuntimeOsType)");
    return;
  }
  json_t *gdc = json_object_get(caps, "GuestDefinedCapabilities");
  if (gdc != NULL && !json_is_null(gdc) && !json_is_object(gdc)) {
    connect_fail(conn, COW_EPROTOCOL, "GuestDefinedCapabilities is %s, not an object",
                 json_is_string(gdc) ? "a string" : "not an object");
    return;
  }
  static const struct {
    const char *key;
    unsigned flag;
  } flags[] = {{"NamespaceAddRequestSupported", COW_GUEST_CAP_NAMESPACE_ADD},
               {"SignalProcessSupported", COW_GUEST_CAP_SIGNAL_PROCESS},
               {"DumpStacksSupported", COW_GUEST_CAP_DUMP_STACKS},
               {"DeleteContainerStateSupported", COW_GUEST_CAP_DELETE_CONTAINER_STATE}};
  conn->caps = 0;
  for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++)
    if (json_is_true(json_object_get(gdc, flags[i].key)))
      conn->caps |= flags[i].flag;
  conn->capabilities = cow__proto_dump(caps);
  if (conn->capabilities == NULL) {
    connect_fail(conn, COW_ENOMEM, "%s", "no memory for the capabilities");
    return;
  }
  conn->version = (int)version;
  conn->host_create = json_is_true(json_object_get(caps, "SendHostCreateMessage"));
  conn->host_start = json_is_true(json_object_get(caps, "SendHostStartMessage"));
  if (!conn->host_create) {
    connect_finish(conn, 0, NULL);
    return;
  }
  conn->state = COW__GUEST_HOST_SETUP;
  send_host_message(conn, COW__MSG_CREATE);
}

static void on_notification(cow__bridge_t *b, const cow__frame_t *f)
{
  struct cow__guest_conn *conn = b->data;
  struct cow__proto_notification n;
  cow_error_t err = COW_ERROR_INIT;
  if (cow__proto_parse_notification(f->payload, f->payload_len, &n, &err) != 0) {
    cow__bridge_kill(b, &err);
    cow_error_clear(&err);
    return;
  }
  struct cow__guest_container *gc = cow__guest_find_container(conn, n.container_id);
  if (gc == NULL) {
    /* Closed handles, containers of a previous host: hcsshim dies here; we drop it with a
     * log line (docs/gcs-bridge-protocol.md §9.2 item 6 lists legitimate causes). */
    cow__log(COW_LOG_WARN, "guest", "notification %s for unknown container \"%s\" dropped", n.type,
             n.container_id);
  } else {
    cow__guest_container_notify(gc, &n);
  }
  cow__proto_notification_clear(&n);
}

static void on_bridge_dead(cow__bridge_t *b)
{
  struct cow__guest_conn *conn = b->data;
  conn->state = COW__GUEST_DEAD;
  cow_error_t err = COW_ERROR_INIT;
  if (conn->connect_op != NULL) {
    cow__bridge_closed_error(b, "connect", &err);
    connect_finish(conn, COW_EBRIDGE_CLOSED, &err);
  }
  /* What the containers' waiters get: their own operation, and the cause. */
  cow__bridge_closed_error(b, "wait", &err);
  cow__guest_containers_bridge_dead(conn, &err);
  cow__bridge_closed_error(b, "create_process", &err);
  cow__guest_processes_bridge_dead(conn, &err);
  cow_error_clear(&err);
}

static void on_bridge_closed(cow__bridge_t *b)
{
  struct cow__guest_conn *conn = b->data;
  if (conn->bridge_open) {
    conn->bridge_open = 0;
    cow_host_unref(conn->host);
  }
}

static void start_bridge(struct cow__guest_conn *conn, uv_stream_t *stream)
{
  conn->stream = stream;
  conn->bridge.data = conn;
  conn->bridge.on_notification = on_notification;
  conn->bridge.on_dead = on_bridge_dead;
  conn->bridge.on_closed = on_bridge_closed;
  conn->bridge_open = 1;
  cow_host_ref(conn->host); /* until every bridge handle is closed */
  conn->state = COW__GUEST_NEGOTIATING;
  if (cow__bridge_start(&conn->bridge, stream, conn->max_message_size) != 0)
    return; /* killed: on_bridge_dead failed the connect */
  struct cow__proto_trace trace;
  cow__guest_trace(conn, &trace);
  struct cow__payload body;
  cow_error_t err = COW_ERROR_INIT;
  int rc = cow__proto_negotiate(&body, COW__PROTOCOL_VERSION, COW__PROTOCOL_VERSION, &trace);
  if (rc == 0) {
    rc = cow__guest_call(conn, &conn->calls, COW__MSG_NEGOTIATE_PROTOCOL, &body, 1, NULL, conn,
                         NULL, negotiated, NULL, &err);
    cow__proto_payload_release(&body);
  }
  if (rc != 0)
    connect_finish(conn, rc, err.code ? &err : NULL);
  cow_error_clear(&err);
}

static void accepted_stream_closed(uv_handle_t *h)
{
  struct cow__guest_conn *conn = h->data;
  cow_host_unref(conn->host);
}

static void bridge_accepted(cow_guest_listener_t *l, int status, void *arg)
{
  (void)l;
  struct cow__guest_conn *conn = arg;
  conn->bridge_listener = NULL;
  if (status == 0 && cow_host_is_closing(conn->host)) {
    /* Accepted just as the host was closed: nobody will use this stream. */
    conn->bridge_stream.handle.data = conn;
    cow_host_ref(conn->host);
    uv_close(&conn->bridge_stream.handle, accepted_stream_closed);
  } else if (status == 0) {
    start_bridge(conn, &conn->bridge_stream.stream);
  } else if (conn->connect_op != NULL) {
    cow_error_t err = COW_ERROR_INIT;
    cow__error_set(&err, status, COW_DOMAIN_LIB, 0, "connect", NULL,
                   "accepting the bridge connection failed: %s", cow_strerror(status));
    conn->state = COW__GUEST_DEAD;
    cow__bridge_kill(&conn->bridge, &err);
    cow_error_clear(&err);
  }
  cow_host_unref(conn->host);
}

static int check_options(const cow_guest_options_t *opts)
{
  if (opts == NULL)
    return 0;
  int rc = cow__struct_version_check(opts->version, COW_GUEST_OPTIONS_VERSION);
  if (rc != 0)
    return rc;
  if (opts->max_message_size != 0 && opts->max_message_size < 1024)
    return COW_EINVAL;
  return 0;
}

/* A connection host from checked options (both constructors). */
static int conn_new(cow_host_t **out, uv_loop_t *loop, const cow_guest_options_t *opts)
{
  int rc = check_options(opts);
  if (rc != 0)
    return rc;
  cow_host_t *h;
  rc = cow_host_new(&h, loop, &cow__guest_host_ops);
  if (rc != 0)
    return rc;
  struct cow__guest_conn *conn = cow_host_priv(h);
  conn->host = h;
  conn->loop = loop;
  conn->state = COW__GUEST_LISTENING;
  cow__list_init(&conn->containers);
  cow__list_init(&conn->creating);
  cow__list_init(&conn->calls);
  uint64_t rpc = opts && opts->rpc_timeout_ms ? opts->rpc_timeout_ms : DEFAULT_RPC_TIMEOUT_MS;
  cow__bridge_init(&conn->bridge, loop, rpc);
  conn->bridge.data = conn;
  conn->next_port =
      opts && opts->first_stdio_port ? opts->first_stdio_port : COW_GUEST_FIRST_STDIO_PORT;
  conn->max_message_size =
      opts && opts->max_message_size ? opts->max_message_size : COW__FRAME_MAX_SIZE;
  conn->connect_timeout_ms =
      opts && opts->connect_timeout_ms ? opts->connect_timeout_ms : DEFAULT_CONNECT_TIMEOUT_MS;
  /* Version 1 options end before stdio_timeout_ms: never read past them. */
  conn->stdio_timeout_ms = opts && opts->version >= 2 && opts->stdio_timeout_ms
                               ? opts->stdio_timeout_ms
                               : DEFAULT_STDIO_TIMEOUT_MS;
  if (opts && opts->transport) {
    conn->transport = opts->transport;
    cow__transport_ref(conn->transport);
  }
  if (opts) {
    conn->trace_cb = opts->trace_cb;
    conn->trace_data = opts->trace_data;
  }
  *out = h;
  return 0;
}

/* The connect deadline is the core's timer on the connect op (COW_TIMEOUT_CONNECT); its
 * expiry reaches conn_timeout(), which tears the half-made connection down. */
static int conn_begin(struct cow__guest_conn *conn, cow_host_cb cb, void *data)
{
  cow_host_set_timeout(conn->host, COW_TIMEOUT_CONNECT, conn->connect_timeout_ms);
  return cow_host_op_new(&conn->connect_op, conn->host, "connect", COW_TIMEOUT_CONNECT, cb, data);
}

int cow_guest_connect(cow_host_t **out, uv_loop_t *loop, const cow_guest_options_t *opts,
                      cow_host_cb cb, void *data)
{
  if (out == NULL)
    return COW_EINVAL;
  *out = NULL;
  if (loop == NULL || opts == NULL || opts->transport == NULL || cb == NULL)
    return COW_EINVAL;
  cow_host_t *h;
  int rc = conn_new(&h, loop, opts);
  if (rc != 0)
    return rc;
  struct cow__guest_conn *conn = cow_host_priv(h);
  /* Listen before anything else can fail late: a failure here returns synchronously. */
  rc = cow__listener_start(&conn->bridge_listener, conn->transport, loop, COW_GUEST_BRIDGE_PORT,
                           &conn->bridge_stream, bridge_accepted, conn);
  if (rc != 0) {
    cow_host_close(h, NULL, NULL);
    return rc;
  }
  cow_host_ref(h); /* for the listener, until bridge_accepted */
  rc = conn_begin(conn, cb, data);
  if (rc != 0) {
    cow_host_close(h, NULL, NULL);
    return rc;
  }
  *out = h;
  return 0;
}

int cow_guest_connect_stream(cow_host_t **out, uv_loop_t *loop, uv_stream_t *stream,
                             const cow_guest_options_t *opts, cow_host_cb cb, void *data)
{
  if (out == NULL)
    return COW_EINVAL;
  *out = NULL;
  if (loop == NULL || stream == NULL || cb == NULL || stream->loop != loop)
    return COW_EINVAL;
  cow_host_t *h;
  int rc = conn_new(&h, loop, opts);
  if (rc != 0)
    return rc;
  struct cow__guest_conn *conn = cow_host_priv(h);
  rc = conn_begin(conn, cb, data);
  if (rc != 0) {
    cow_host_close(h, NULL, NULL);
    return rc;
  }
  start_bridge(conn, stream);
  *out = h;
  return 0;
}

/* ---- host ops ---- */

static void conn_close(cow_host_t *h)
{
  struct cow__guest_conn *conn = cow_host_priv(h);
  cow__listener_cancel(conn->bridge_listener);
  if (conn->connect_op != NULL) {
    cow_op_t *op = conn->connect_op;
    conn->connect_op = NULL;
    cow_op_complete(op, COW_ECANCELED, NULL);
  }
  cow__guest_calls_abandon_all(&conn->calls, COW_ECANCELED);
  conn->state = COW__GUEST_DEAD;
  /* Every process and container on this connection fails with COW_EBRIDGE_CLOSED. */
  cow__bridge_close(&conn->bridge);
}

static void conn_fini(cow_host_t *h)
{
  struct cow__guest_conn *conn = cow_host_priv(h);
  cow_error_clear(&conn->bridge.cause);
  cow__free(conn->bridge.buckets);
  cow__free(conn->capabilities);
  cow__free(conn->traceparent);
  cow__free(conn->tracestate);
  cow_guest_transport_release(conn->transport);
}

static void conn_timeout(cow_host_t *h, cow_op_t *op)
{
  struct cow__guest_conn *conn = cow_host_priv(h);
  if (op == conn->connect_op) {
    /* The guest did not dial and negotiate in time: nothing more goes on this connection. */
    cow__listener_cancel(conn->bridge_listener);
    cow_error_t err = COW_ERROR_INIT;
    /* Say which step was missing: a guest that dialled but never answered is not absent. */
    const char *what = conn->state == COW__GUEST_LISTENING ? "no guest connected to the bridge port"
                       : conn->state == COW__GUEST_NEGOTIATING
                           ? "the guest connected but did not answer the protocol negotiation"
                           : "the guest negotiated but did not answer the host Create/Start";
    cow__error_set(&err, COW_ETIMEDOUT, COW_DOMAIN_LIB, 0, "connect", NULL, "%s within %llu ms",
                   what, (unsigned long long)conn->connect_timeout_ms);
    conn->state = COW__GUEST_DEAD;
    conn->connect_op = NULL;
    cow__bridge_kill(&conn->bridge, &err);
    cow_op_complete(op, COW_ETIMEDOUT, &err); /* the caller already has its answer */
    cow_error_clear(&err);
    return;
  }
  struct cow__guest_call *call = cow__guest_call_find(&conn->calls, op);
  if (call != NULL)
    cow__guest_call_abandon(call, COW_ETIMEDOUT);
}

static int conn_create_process(cow_host_t *h, cow_process_t *p, const char *config_json,
                               cow_op_t *op)
{
  return cow__guest_create_process(cow_host_priv(h), NULL, p, config_json, op);
}

static int conn_open_process(cow_host_t *h, cow_process_t *p, int64_t pid, cow_op_t *op)
{
  return cow__guest_open_process(cow_host_priv(h), NULL, p, pid, op);
}

static const char *conn_os(const cow_host_t *h)
{
  (void)h;
  return "linux";
}

static int conn_is_oci(const cow_host_t *h)
{
  (void)h;
  return 0; /* utility VM processes take hcsschema ProcessParameters (hcsshim IsOCI false) */
}

const struct cow_host_ops cow__guest_host_ops = {
    .version = COW_HOST_OPS_VERSION,
    .name = "guest",
    .priv_size = sizeof(struct cow__guest_conn),
    .init = NULL,
    .close = conn_close,
    .fini = conn_fini,
    .timeout = conn_timeout,
    .process_ops = &cow__guest_process_ops,
    .create_process = conn_create_process,
    .os = conn_os,
    .is_oci = conn_is_oci,
    .open_process = conn_open_process,
};

/* ---- queries ---- */

const char *cow_guest_capabilities(const cow_host_t *host)
{
  struct cow__guest_conn *conn = cow__guest_conn_of(host);
  return conn ? conn->capabilities : NULL;
}

unsigned cow_guest_capability_flags(const cow_host_t *host)
{
  struct cow__guest_conn *conn = cow__guest_conn_of(host);
  return conn ? conn->caps : 0;
}

int cow_guest_protocol_version(const cow_host_t *host)
{
  struct cow__guest_conn *conn = cow__guest_conn_of(host);
  return conn ? conn->version : 0;
}

int cow_guest_bridge_error(const cow_host_t *host, cow_error_t *out)
{
  struct cow__guest_conn *conn = cow__guest_conn_of(host);
  if (conn == NULL)
    return COW_EINVAL;
  if (conn->bridge.state != COW__BRIDGE_DEAD) {
    if (out)
      cow_error_clear(out);
    return 0;
  }
  if (out)
    cow_error_copy(out, &conn->bridge.cause);
  return conn->bridge.cause.code;
}

int cow_guest_set_trace_context(cow_host_t *host, const char *traceparent, const char *tracestate)
{
  struct cow__guest_conn *conn = cow__guest_conn_of(host);
  if (conn == NULL)
    return COW_EINVAL;
  if (traceparent != NULL && !cow__proto_valid_traceparent(traceparent))
    return COW_EINVAL;
  if (tracestate != NULL && (traceparent == NULL || strlen(tracestate) > 512))
    return COW_EINVAL;
  char *p = traceparent ? cow__strdup(traceparent) : NULL;
  char *s = tracestate ? cow__strdup(tracestate) : NULL;
  if ((traceparent && !p) || (tracestate && !s)) {
    cow__free(p);
    cow__free(s);
    return COW_ENOMEM;
  }
  cow__free(conn->traceparent);
  cow__free(conn->tracestate);
  conn->traceparent = p;
  conn->tracestate = s;
  return 0;
}

/* ---- connection-level requests ---- */

/* Check everything that could refuse a request before a core op exists, so that a refusal
 * is a synchronous return and the callback never runs: the connection's state here, the
 * body's size and text where the body was written (cow__proto_*). */
static int precheck(struct cow__guest_conn *conn, const char *name)
{
  cow_error_t err = COW_ERROR_INIT;
  int rc = cow__guest_check_ready(conn, name, &err);
  cow_error_clear(&err);
  return rc;
}

/* Send `body` (released here, whatever happens) for a new op of `host`. */
static int conn_request(cow_host_t *host, const char *name, uint32_t type,
                        struct cow__payload *body, cow_timeout_kind_t tk, cow_host_cb cb,
                        void *data, cow__guest_call_fn fn, void *extra)
{
  struct cow__guest_conn *conn = cow__guest_conn_of(host);
  int rc = precheck(conn, name);
  cow_op_t *op;
  if (rc == 0)
    rc = cow_host_op_new(&op, host, name, tk, cb, data);
  if (rc != 0) {
    cow__proto_payload_release(body);
    return rc;
  }
  cow_error_t err = COW_ERROR_INIT;
  struct cow__guest_call *call;
  rc = cow__guest_call(conn, &conn->calls, type, body, 1, op, conn, NULL, fn, &call, &err);
  cow__proto_payload_release(body);
  if (rc != 0) {
    /* Only an allocation failure can get here after precheck: report it through the op,
     * which exists already. */
    cow_op_complete(op, rc, &err);
  } else {
    call->extra = extra;
    extra = NULL;
  }
  cow_error_clear(&err);
  cow__free(extra);
  return 0;
}

int cow_guest_modify(cow_host_t *host, const char *request_json, cow_host_cb cb, void *data)
{
  struct cow__guest_conn *conn = cow__guest_conn_of(host);
  if (conn == NULL || cb == NULL || host->container != NULL)
    return COW_EINVAL;
  json_t *req = cow__proto_parse_object(request_json, "the ModifySettings request", NULL);
  if (req == NULL)
    return COW_EINVAL;
  struct cow__proto_trace trace;
  cow__guest_trace(conn, &trace);
  struct cow__payload body;
  int rc = cow__proto_modify(&body, COW__NULL_CONTAINER_ID, req, &trace);
  json_decref(req);
  if (rc != 0)
    return rc;
  return conn_request(host, "modify", COW__MSG_MODIFY_SETTINGS, &body, COW_TIMEOUT_MODIFY, cb, data,
                      cow__guest_call_complete_simple, NULL);
}

struct text_req {
  cow_guest_text_cb cb;
  void *data;
  char *text;
};

static void text_delivered(cow_host_t *host, int status, const cow_error_t *err, void *data)
{
  struct text_req *tr = data;
  tr->cb(host, status, status == 0 ? (tr->text ? tr->text : "") : NULL, err, tr->data);
  cow__free(tr->text);
  cow__free(tr);
}

static void stacks_done(struct cow__guest_call *call, int status,
                        const struct cow__proto_resp *resp, const cow_error_t *err)
{
  struct text_req *tr = call->ctx; /* owned by the delivery callback */
  if (status == 0 && resp->result == 0 && !cow_op_abandoned(call->op)) {
    const char *s = cow__proto_str(resp->body, "GuestStacks");
    tr->text = cow__strdup(s ? s : "");
    if (tr->text == NULL) {
      cow_op_complete(call->op, COW_ENOMEM, NULL);
      return;
    }
  }
  cow__guest_call_complete_simple(call, status, resp, err);
}

int cow_guest_dump_stacks(cow_host_t *host, cow_guest_text_cb cb, void *data)
{
  struct cow__guest_conn *conn = cow__guest_conn_of(host);
  if (conn == NULL || cb == NULL)
    return COW_EINVAL;
  if (conn->state == COW__GUEST_READY && !(conn->caps & COW_GUEST_CAP_DUMP_STACKS))
    return COW_ENOTSUP;
  int rc = precheck(conn, "dump_stacks");
  if (rc != 0)
    return rc;
  struct cow__proto_trace trace;
  cow__guest_trace(conn, &trace);
  struct cow__payload body;
  rc = cow__proto_request_base(&body, COW__NULL_CONTAINER_ID, &trace);
  if (rc != 0)
    return rc;
  struct text_req *tr = cow__calloc(1, sizeof *tr);
  if (tr == NULL) {
    cow__proto_payload_release(&body);
    return COW_ENOMEM;
  }
  tr->cb = cb;
  tr->data = data;
  /* The op's user data is `tr`, freed by the delivery callback; the call only borrows
   * it (ctx), so an abandoned call cannot free it twice. */
  cow_op_t *op;
  rc = cow_host_op_new(&op, host, "dump_stacks", COW_TIMEOUT__MAX, text_delivered, tr);
  if (rc != 0) {
    cow__proto_payload_release(&body);
    cow__free(tr);
    return rc;
  }
  cow_error_t err = COW_ERROR_INIT;
  struct cow__guest_call *call;
  rc = cow__guest_call(conn, &conn->calls, COW__MSG_DUMP_STACKS, &body, 1, op, conn, NULL,
                       stacks_done, &call, &err);
  cow__proto_payload_release(&body);
  if (rc != 0)
    cow_op_complete(op, rc, &err);
  else
    call->ctx = tr;
  cow_error_clear(&err);
  return 0;
}

int cow_guest_delete_container_state(cow_host_t *host, const char *id, cow_host_cb cb, void *data)
{
  struct cow__guest_conn *conn = cow__guest_conn_of(host);
  if (conn == NULL || cb == NULL || id == NULL || id[0] == '\0' || strlen(id) >= 80)
    return COW_EINVAL;
  if (conn->state == COW__GUEST_READY && !(conn->caps & COW_GUEST_CAP_DELETE_CONTAINER_STATE))
    return COW_ENOTSUP;
  struct cow__proto_trace trace;
  cow__guest_trace(conn, &trace);
  struct cow__payload body;
  int rc = cow__proto_request_base(&body, id, &trace);
  if (rc != 0)
    return rc;
  return conn_request(host, "delete_container_state", COW__MSG_DELETE_CONTAINER_STATE, &body,
                      COW_TIMEOUT__MAX, cb, data, cow__guest_call_complete_simple, NULL);
}

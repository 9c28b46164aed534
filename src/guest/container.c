/* Containers on a guest connection (docs/gcs-bridge-protocol.md §4.2-§4.4, §4.9, §4.10, §6): Create
 * with the hosted-system document as a string, Start, ShutdownGraceful/Forced, GetProperties,
 * ModifySettings, and the exit notification, which the guest sends only once a
 * WaitForProcess on the init process completed (process.c sends one for every process). */
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/handle.h"
#include "core/log.h"
#include "guest/guest.h"

struct cow__guest_container *cow__guest_find_container(struct cow__guest_conn *conn, const char *id)
{
  for (cow__list *n = conn->containers.next; n != &conn->containers; n = n->next) {
    struct cow__guest_container *gc = cow__container_of(n, struct cow__guest_container, link);
    if (strcmp(cow_container_id(gc->c), id) == 0)
      return gc;
  }
  return NULL;
}

static void unregister(struct cow__guest_container *gc)
{
  if (!gc->registered)
    return;
  gc->registered = 0;
  cow__list_remove(&gc->link);
}

void cow__guest_container_notify(struct cow__guest_container *gc,
                                 const struct cow__proto_notification *n)
{
  /* One notification per container: a second one finds no registration and is dropped
   * by the connection (§6.4). */
  unregister(gc);
  snprintf(gc->exit_type, sizeof gc->exit_type, "%s", n->type);
  cow__log(COW_LOG_INFO, "guest", "container %s exited (%s)", cow_container_id(gc->c), n->type);
  cow_container_report_exit(gc->c, NULL);
}

void cow__guest_containers_bridge_dead(struct cow__guest_conn *conn, const cow_error_t *err)
{
  while (!cow__list_empty(&conn->containers)) {
    struct cow__guest_container *gc =
        cow__container_of(conn->containers.next, struct cow__guest_container, link);
    unregister(gc);
    /* "Connection lost", not "exited" (hcsshim closes the waits with no error; §7.1). */
    cow_container_report_exit(gc->c, err);
  }
}

static int valid_id(const char *id)
{
  if (id == NULL || id[0] == '\0' || strlen(id) >= 80)
    return 0;
  for (const char *s = id; *s; s++)
    if ((unsigned char)*s < 0x20 || *s == '/' || *s == '\\')
      return 0;
  return 1;
}

/* The GCS dereferences OciSpecification, .linux, .process and .root without checks
 * (§4.2): a document without them is refused here instead of crashing the agent. */
static int valid_config(const json_t *cfg)
{
  json_t *spec = json_object_get(cfg, "OciSpecification");
  return json_is_object(spec) && json_is_object(json_object_get(spec, "linux")) &&
         json_is_object(json_object_get(spec, "process")) &&
         json_is_object(json_object_get(spec, "root"));
}

static int attach(cow_container_t **out, struct cow__guest_conn *conn, const char *id)
{
  cow_container_t *c;
  int rc = cow_container_new(&c, conn->loop, &cow__guest_container_ops, id);
  if (rc != 0)
    return rc;
  struct cow__guest_container *gc = cow_container_priv(c);
  gc->c = c;
  gc->conn = conn;
  cow__list_init(&gc->calls);
  cow_host_ref(conn->host); /* the connection outlives its containers */
  gc->registered = 1;
  cow__list_insert_tail(&conn->containers, &gc->link);
  *out = c;
  return 0;
}

static void create_done(struct cow__guest_call *call, int status,
                        const struct cow__proto_resp *resp, const cow_error_t *err)
{
  struct cow__guest_container *gc = call->owner;
  cow_error_t e = COW_ERROR_INIT;
  if (status < 0)
    cow_error_copy(&e, err);
  else if (resp->result != 0)
    cow__proto_resp_error(resp, "create", cow_container_id(gc->c), &e);
  if (e.code == 0) {
    cow_op_complete(call->op, 0, NULL);
    return;
  }
  /* hcsshim leaves the slot registered after a failed Create; removing it lets a retry
   * with the same id reach the guest (§4.2). The waiters learn why. */
  unregister(gc);
  cow_op_complete(call->op, e.code, &e);
  cow_container_report_exit(gc->c, &e);
  cow_error_clear(&e);
}

int cow_guest_create_container(cow_container_t **out, cow_host_t *host, const char *id,
                               const char *config_json, cow_container_cb cb, void *data)
{
  if (out == NULL)
    return COW_EINVAL;
  *out = NULL;
  struct cow__guest_conn *conn = cow__guest_conn_of(host);
  if (conn == NULL || host->container != NULL || cb == NULL || !valid_id(id))
    return COW_EINVAL;
  cow_error_t err = COW_ERROR_INIT;
  int rc = cow__guest_check_ready(conn, "create", &err);
  cow_error_clear(&err);
  if (rc != 0)
    return rc;
  if (strcmp(id, COW__NULL_CONTAINER_ID) == 0 || cow__guest_find_container(conn, id) != NULL)
    return COW_EEXIST;
  json_t *cfg = cow__proto_parse_object(config_json, "the container document", NULL);
  if (cfg == NULL)
    return COW_EINVAL;
  if (!valid_config(cfg)) {
    json_decref(cfg);
    return COW_EINVAL;
  }
  int terminal = json_is_true(json_object_get(
      json_object_get(json_object_get(cfg, "OciSpecification"), "process"), "terminal"));
  struct cow__proto_trace trace;
  cow__guest_trace(conn, &trace);
  struct cow__payload payload; /* written once: its size is checked there (R3) */
  rc = cow__proto_create(&payload, id, cfg, &trace);
  json_decref(cfg);
  if (rc != 0)
    return rc;
  cow_container_t *c = NULL;
  rc = attach(&c, conn, id);
  if (rc != 0) {
    cow__proto_payload_release(&payload);
    return rc;
  }
  struct cow__guest_container *gc = cow_container_priv(c);
  gc->terminal = terminal ? 1 : 0;
  cow_op_t *op;
  rc = cow_container_op_new(&op, c, "create", COW_TIMEOUT_CREATE, cb, data);
  if (rc != 0) {
    cow__proto_payload_release(&payload);
    cow_container_close(c, NULL, NULL);
    return rc;
  }
  rc = cow__guest_call(conn, &gc->calls, COW__MSG_CREATE, &payload, 1, op, gc, cow_container_id(c),
                       create_done, NULL, &err);
  cow__proto_payload_release(&payload);
  if (rc != 0) {
    unregister(gc);
    cow_op_complete(op, rc, &err); /* the op exists: report through it */
  }
  cow_error_clear(&err);
  *out = c;
  return 0;
}

int cow_guest_open_container(cow_container_t **out, cow_host_t *host, const char *id)
{
  if (out == NULL)
    return COW_EINVAL;
  *out = NULL;
  struct cow__guest_conn *conn = cow__guest_conn_of(host);
  if (conn == NULL || host->container != NULL || !valid_id(id))
    return COW_EINVAL;
  cow_error_t err = COW_ERROR_INIT;
  int rc = cow__guest_check_ready(conn, "open", &err);
  cow_error_clear(&err);
  if (rc != 0)
    return rc;
  if (cow__guest_find_container(conn, id) != NULL)
    return COW_EEXIST;
  return attach(out, conn, id);
}

const char *cow_guest_container_exit_type(const cow_container_t *c)
{
  if (c == NULL || c->ops != &cow__guest_container_ops)
    return NULL;
  struct cow__guest_container *gc = cow_container_priv(c);
  return gc->exit_type[0] ? gc->exit_type : NULL;
}

/* ---- container ops ---- */

static void gc_close(cow_container_t *c)
{
  struct cow__guest_container *gc = cow_container_priv(c);
  if (gc->conn == NULL)
    return;
  unregister(gc);
  cow__guest_calls_abandon_all(&gc->calls, COW_ECANCELED);
}

static void gc_fini(cow_container_t *c)
{
  struct cow__guest_container *gc = cow_container_priv(c);
  if (gc->conn != NULL)
    cow_host_unref(gc->conn->host);
}

static void gc_timeout(cow_container_t *c, cow_op_t *op)
{
  struct cow__guest_container *gc = cow_container_priv(c);
  struct cow__guest_call *call = cow__guest_call_find(&gc->calls, op);
  /* Create is not cancellable (§4.1): it keeps its registration until answered. */
  if (call != NULL && call->fn != create_done)
    cow__guest_call_abandon(call, COW_ETIMEDOUT);
}

/* Send `body` (written by a cow__proto_* builder, which returned `rc`; released here). */
static int request(cow_container_t *c, uint32_t type, int rc, struct cow__payload *body,
                   cow_op_t *op, cow__guest_call_fn fn)
{
  if (rc != 0)
    return rc;
  struct cow__guest_container *gc = cow_container_priv(c);
  cow_error_t err = COW_ERROR_INIT;
  rc = cow__guest_check_ready(gc->conn, cow_op_name(op), &err);
  if (rc == 0)
    rc = cow__guest_call(gc->conn, &gc->calls, type, body, 1, op, gc, cow_container_id(c), fn, NULL,
                         &err);
  cow__proto_payload_release(body);
  cow_error_clear(&err);
  return rc;
}

/* A message that is the RequestBase alone. */
static int base_request(cow_container_t *c, uint32_t type, cow_op_t *op, cow__guest_call_fn fn)
{
  struct cow__guest_container *gc = cow_container_priv(c);
  struct cow__proto_trace trace;
  cow__guest_trace(gc->conn, &trace);
  struct cow__payload body;
  int rc = cow__proto_request_base(&body, cow_container_id(c), &trace);
  return request(c, type, rc, &body, op, fn);
}

static int gc_start(cow_container_t *c, cow_op_t *op)
{
  /* A no-op in the Linux guest; the init exec really starts the container (§4.3). */
  return base_request(c, COW__MSG_START, op, cow__guest_call_complete_simple);
}

static void stop_done(struct cow__guest_call *call, int status, const struct cow__proto_resp *resp,
                      const cow_error_t *err)
{
  if (status == 0 && resp->result != 0) {
    uint32_t hr = (uint32_t)resp->result;
    /* "Not found" and "already stopped" in both HCS forms mean the goal is reached
     * (§9.1 rule 11, R19). */
    if (hr == COW__HR_SYSTEM_NOT_FOUND || hr == COW__HR_ALREADY_STOPPED ||
        hr == COW__HR_ALREADY_STOPPED_V1) {
      cow_op_complete(call->op, 0, NULL);
      return;
    }
  }
  cow__guest_call_complete_simple(call, status, resp, err);
}

static int gc_shutdown(cow_container_t *c, cow_op_t *op)
{
  return base_request(c, COW__MSG_SHUTDOWN_GRACEFUL, op, stop_done);
}

static int gc_terminate(cow_container_t *c, cow_op_t *op)
{
  return base_request(c, COW__MSG_SHUTDOWN_FORCED, op, stop_done);
}

static void properties_done(struct cow__guest_call *call, int status,
                            const struct cow__proto_resp *resp, const cow_error_t *err)
{
  if (status == 0 && resp->result == 0) {
    /* Properties is a JSON document inside a string; absent or null means none (§4.9). */
    const char *doc = cow__proto_str(resp->body, "Properties");
    if (cow_op_set_json(call->op, doc ? doc : "{}") != 0) {
      cow_op_complete(call->op, COW_ENOMEM, NULL);
      return;
    }
  }
  cow__guest_call_complete_simple(call, status, resp, err);
}

/* Send GetProperties with query `q` (released here), answered through `fn`. */
static int get_properties(cow_container_t *c, json_t *q, cow_op_t *op, cow__guest_call_fn fn)
{
  struct cow__guest_container *gc = cow_container_priv(c);
  struct cow__proto_trace trace;
  cow__guest_trace(gc->conn, &trace);
  struct cow__payload body;
  int rc = cow__proto_get_properties(&body, cow_container_id(c), q, &trace);
  json_decref(q);
  return request(c, COW__MSG_GET_PROPERTIES, rc, &body, op, fn);
}

static int properties(cow_container_t *c, const char *query_json, const char *def, cow_op_t *op)
{
  json_t *q = cow__proto_parse_object(query_json ? query_json : def, "the properties query", NULL);
  return q != NULL ? get_properties(c, q, op, properties_done) : COW_EINVAL;
}

static int gc_properties(cow_container_t *c, const char *query_json, cow_op_t *op)
{
  return properties(c, query_json, "{\"PropertyTypes\":[\"ProcessList\"]}", op);
}

static int gc_properties_v2(cow_container_t *c, const char *query_json, cow_op_t *op)
{
  return properties(c, query_json, "{\"PropertyTypes\":[\"Statistics\"]}", op);
}

/* The typed queries: GetProperties, then the `Properties` string parsed (untrusted). */
static void process_list_done(struct cow__guest_call *call, int status,
                              const struct cow__proto_resp *resp, const cow_error_t *err)
{
  if (status != 0 || resp->result != 0) {
    cow__guest_call_complete_simple(call, status, resp, err);
    return;
  }
  cow_error_t perr = COW_ERROR_INIT;
  cow_process_list_t *list = NULL;
  int rc = cow__proto_parse_process_list(&list, cow__proto_str(resp->body, "Properties"),
                                         cow_op_name(call->op), call->object_id, &perr);
  if (rc == 0 && (rc = cow_op_set_process_list(call->op, list->items, list->count)) != 0)
    cow__error_set(&perr, rc, COW_DOMAIN_LIB, 0, cow_op_name(call->op), call->object_id, NULL);
  cow__free(list);
  cow_op_complete(call->op, rc, rc ? &perr : NULL);
  cow_error_clear(&perr);
}

static void statistics_done(struct cow__guest_call *call, int status,
                            const struct cow__proto_resp *resp, const cow_error_t *err)
{
  if (status != 0 || resp->result != 0) {
    cow__guest_call_complete_simple(call, status, resp, err);
    return;
  }
  cow_error_t perr = COW_ERROR_INIT;
  cow_statistics_t stats;
  int rc = cow__proto_parse_lcow_metrics(&stats, cow__proto_str(resp->body, "Properties"),
                                         cow_op_name(call->op), call->object_id, &perr);
  if (rc == 0 && (rc = cow_op_set_statistics(call->op, &stats)) != 0)
    cow__error_set(&perr, rc, COW_DOMAIN_LIB, 0, cow_op_name(call->op), call->object_id, NULL);
  cow_op_complete(call->op, rc, rc ? &perr : NULL);
  cow_error_clear(&perr);
}

static int typed_query(cow_container_t *c, const char *type, cow_op_t *op, cow__guest_call_fn fn)
{
  json_t *q = json_pack("{s:[s]}", "PropertyTypes", type);
  return q != NULL ? get_properties(c, q, op, fn) : COW_ENOMEM;
}

static int gc_process_list(cow_container_t *c, cow_op_t *op)
{
  return typed_query(c, "ProcessList", op, process_list_done);
}

static int gc_statistics(cow_container_t *c, cow_op_t *op)
{
  return typed_query(c, "Statistics", op, statistics_done);
}

static int gc_modify(cow_container_t *c, const char *request_json, cow_op_t *op)
{
  json_t *req = cow__proto_parse_object(request_json, "the ModifySettings request", NULL);
  if (req == NULL)
    return COW_EINVAL;
  struct cow__guest_container *gc = cow_container_priv(c);
  struct cow__proto_trace trace;
  cow__guest_trace(gc->conn, &trace);
  struct cow__payload body;
  int rc = cow__proto_modify(&body, cow_container_id(c), req, &trace);
  json_decref(req);
  return request(c, COW__MSG_MODIFY_SETTINGS, rc, &body, op, cow__guest_call_complete_simple);
}

static int view_create_process(cow_host_t *h, cow_process_t *p, const char *config_json,
                               cow_op_t *op)
{
  struct cow__guest_container *gc = cow_container_priv(cow_host_container(h));
  return cow__guest_create_process(gc->conn, gc, p, config_json, op);
}

static int view_open_process(cow_host_t *h, cow_process_t *p, int64_t pid, cow_op_t *op)
{
  struct cow__guest_container *gc = cow_container_priv(cow_host_container(h));
  return cow__guest_open_process(gc->conn, gc, p, pid, op);
}

static const char *view_os(const cow_host_t *h)
{
  (void)h;
  return "linux";
}

static int view_is_oci(const cow_host_t *h)
{
  (void)h;
  return 1; /* container processes take an OCI process (OciProcess) */
}

const struct cow_host_ops cow__guest_container_host_ops = {
    .version = COW_HOST_OPS_VERSION,
    .name = "guest",
    .priv_size = 0,
    .process_ops = &cow__guest_process_ops,
    .create_process = view_create_process,
    .os = view_os,
    .is_oci = view_is_oci,
    .open_process = view_open_process,
};

const struct cow_container_ops cow__guest_container_ops = {
    .version = COW_CONTAINER_OPS_VERSION,
    .name = "guest",
    .priv_size = sizeof(struct cow__guest_container),
    .init = NULL,
    .close = gc_close,
    .fini = gc_fini,
    .timeout = gc_timeout,
    .host_ops = &cow__guest_container_host_ops,
    .start = gc_start,
    .shutdown = gc_shutdown,
    .terminate = gc_terminate,
    .properties = gc_properties,
    .properties_v2 = gc_properties_v2,
    .modify = gc_modify,
    .process_list = gc_process_list,
    .statistics = gc_statistics,
};

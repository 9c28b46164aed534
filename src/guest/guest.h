/* Internal: the guest connection backend's shared state (connection, container,
 * process). The connection is a cow_host_t whose backend state is struct cow__guest_conn;
 * containers and processes reach it through their own backend state. Thread: loop thread. */
#ifndef COW_GUEST_GUEST_H
#define COW_GUEST_GUEST_H

#include <stdint.h>

#include <jansson.h>
#include <uv.h>

#include "core/list.h"
#include "cow/guest.h"
#include "cow/sys/container.h"
#include "cow/sys/host.h"
#include "cow/sys/process.h"
#include "guest/bridge.h"
#include "guest/listener.h"

/* The connection's life (an explicit enum, as the design asks). */
enum cow__guest_state {
  COW__GUEST_LISTENING = 1,   /* waiting for the guest to dial the bridge port */
  COW__GUEST_NEGOTIATING = 2, /* NegotiateProtocol sent, nothing else may go */
  COW__GUEST_HOST_SETUP = 3,  /* host Create/Start requested by the guest's capabilities */
  COW__GUEST_READY = 4,       /* requests allowed */
  COW__GUEST_DEAD = 5         /* the bridge died or the host was closed */
};

struct cow__guest_conn {
  cow_host_t *host;
  uv_loop_t *loop;
  enum cow__guest_state state;
  cow__bridge_t bridge;
  cow_guest_transport_t *transport; /* referenced; NULL: no stdio */
  cow_guest_listener_t *bridge_listener;
  union cow__stream bridge_stream; /* the accepted bridge connection (cow_guest_connect) */
  uv_stream_t *stream;             /* the bridge stream in use */
  cow_op_t *connect_op;
  unsigned bridge_open : 1; /* the bridge holds a host reference until on_closed */
  unsigned host_create : 1, host_start : 1;
  uint32_t next_port;
  uint32_t max_message_size;
  uint64_t connect_timeout_ms;
  uint64_t stdio_timeout_ms;
  cow_guest_trace_cb trace_cb;
  void *trace_data;
  char *traceparent, *tracestate; /* cow_guest_set_trace_context() */
  char *capabilities;             /* JSON text of Capabilities */
  unsigned caps;                  /* COW_GUEST_CAP_* */
  int version;
  cow__list containers; /* struct cow__guest_container, for notifications */
  cow__list creating;   /* struct cow__guest_process whose create is not over yet */
  cow__list calls;      /* connection-level calls in flight */
};

/* A request on behalf of a core op: the pending call of a process, container or the
 * connection. Owners keep their calls in a list so close and timeout can abandon them. */
struct cow__guest_call;
typedef void (*cow__guest_call_fn)(struct cow__guest_call *call, int status,
                                   const struct cow__proto_resp *resp, const cow_error_t *err);

struct cow__guest_call {
  cow__list link;
  struct cow__guest_conn *conn;
  cow__bridge_req_t *req;
  cow_op_t *op;          /* NULL for internal requests (the process wait) */
  cow__guest_call_fn fn; /* handles the outcome; must complete op; the call is freed after */
  void *owner;           /* the process or container state, or the connection */
  const char *object_id; /* for errors; points into the owner */
  void *extra;           /* per-call data, freed with cow__free by the call */
  void *ctx;             /* per-call data owned elsewhere (never freed by the call) */
};

struct cow__guest_container {
  cow_container_t *c;
  struct cow__guest_conn *conn;
  cow__list link; /* in conn->containers while registered */
  unsigned registered : 1;
  unsigned terminal : 1; /* the Create spec's process.terminal: the init's console */
  char exit_type[32];    /* the notification's Type ("GracefulExit", ...) once exited */
  cow__list calls;
};

struct cow__guest_process {
  cow_process_t *p;
  struct cow__guest_conn *conn;
  struct cow__guest_container *container; /* NULL: a process in the utility VM */
  /* ContainerId of every request about it: the container's id, which outlives the process
   * (a process holds its host, here the container), or the static null id. */
  const char *cid;
  uint32_t pid;
  uint32_t ports[3];
  cow_guest_listener_t *listeners[3];
  unsigned char want[3];
  unsigned char accepted[3];
  unsigned tty : 1;
  unsigned opened : 1;       /* opened by pid: whether it has a console is unknown */
  unsigned started : 1;      /* ExecuteProcess succeeded */
  unsigned create_done : 1;  /* create op completed */
  unsigned exit_pending : 1; /* wait answered before create completed */
  unsigned closing : 1;
  unsigned stdio_failed : 1; /* a requested stream will never come: the create fails */
  int64_t exit_code;
  cow_error_t exit_err;
  cow_op_t *create_op;
  cow__list create_link;   /* in conn->creating while the create is not over */
  uv_timer_t *stdio_timer; /* the bound on the stdio connections after the exec answer
                              (allocated only when a stream is still missing then) */
  struct cow__guest_call *exec_call;
  struct cow__guest_call *wait_call;
  cow__list calls;
};

extern const struct cow_host_ops cow__guest_host_ops;
extern const struct cow_host_ops cow__guest_container_host_ops;
extern const struct cow_process_ops cow__guest_process_ops;
extern const struct cow_container_ops cow__guest_container_ops;

struct cow__guest_conn *cow__guest_conn_of(const cow_host_t *host); /* NULL: not a guest host */

/* The trace context for the next request. */
void cow__guest_trace(struct cow__guest_conn *conn, struct cow__proto_trace *out);

/* 0 when requests may be sent, else a code with err filled. */
int cow__guest_check_ready(struct cow__guest_conn *conn, const char *operation, cow_error_t *err);

/* Send `body` (encoded: cow__proto_*, borrowed) for `op` (may be NULL) and track the call in
 * `list`. Returns 0 (fn runs once later, unless the call is abandoned) or a negative code
 * (nothing sent; the call is freed; the caller still owns op). */
int cow__guest_call(struct cow__guest_conn *conn, cow__list *list, uint32_t type,
                    const struct cow__payload *body, int timed, cow_op_t *op, void *owner,
                    const char *object_id, cow__guest_call_fn fn, struct cow__guest_call **out,
                    cow_error_t *err);

/* Give up on a call: the request stays registered as a tombstone; its op (if any) is
 * completed with `status`; the call is freed. */
void cow__guest_call_abandon(struct cow__guest_call *call, int status);

/* Abandon every call in `list` (close). */
void cow__guest_calls_abandon_all(cow__list *list, int status);

/* The call carrying `op` in `list`, or NULL. */
struct cow__guest_call *cow__guest_call_find(cow__list *list, cow_op_t *op);

/* Complete a call's op from a plain response: 0 for Result 0, the guest error otherwise. */
void cow__guest_call_complete_simple(struct cow__guest_call *call, int status,
                                     const struct cow__proto_resp *resp, const cow_error_t *err);

/* Container table (notifications). */
struct cow__guest_container *cow__guest_find_container(struct cow__guest_conn *conn,
                                                       const char *id);
/* The bridge died: release container waits. */
void cow__guest_containers_bridge_dead(struct cow__guest_conn *conn, const cow_error_t *err);
void cow__guest_container_notify(struct cow__guest_container *gc,
                                 const struct cow__proto_notification *n);

/* Allocate `n` stdio ports (never reused). */
uint32_t cow__guest_alloc_port(struct cow__guest_conn *conn);

/* The bridge died: every create still waiting for stdio fails with `err`. */
void cow__guest_processes_bridge_dead(struct cow__guest_conn *conn, const cow_error_t *err);

/* Create a process on `conn` (container `gc` or NULL for the utility VM). */
int cow__guest_create_process(struct cow__guest_conn *conn, struct cow__guest_container *gc,
                              cow_process_t *p, const char *config_json, cow_op_t *op);
/* Follow the running process `pid` of `gc` (NULL: the utility VM) with a WaitForProcess. */
int cow__guest_open_process(struct cow__guest_conn *conn, struct cow__guest_container *gc,
                            cow_process_t *p, int64_t pid, cow_op_t *op);

#endif

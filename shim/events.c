/* Events to containerd: a FIFO queue, one event in flight, retries with a growing delay. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "events.h"
#include "log.h"
#include "pb.h"
#include "ttrpc.h"

struct item {
  struct item *next;
  char *topic;
  Google__Protobuf__Any any; /* type_url points at static storage (the descriptor's name) */
  struct timespec when;
  int tries;
};

struct shim_events {
  uv_loop_t *loop;
  char *ttrpc_address, *publish_binary, *containerd_address, *ns;
  ttrpc_client_t *client;
  struct item *head, **tail;
  size_t queued;
  int busy;    /* an attempt is in flight */
  int waiting; /* the head waits for its retry timer */
  uv_timer_t retry;
  /* the publish binary, when there is no ttrpc address */
  uv_process_t proc;
  uv_pipe_t proc_stdin;
  uv_write_t proc_write;
  uint8_t *proc_payload;
  unsigned proc_handles;
  /* closing */
  int closing;
  uv_timer_t deadline;
  unsigned handles; /* retry, deadline, the client */
  void (*close_cb)(void *data);
  void *close_data;
};

static void item_free(struct item *it)
{
  free(it->topic);
  pb_any_clear(&it->any);
  free(it);
}

static void pump(shim_events_t *ev);
static void maybe_finish(shim_events_t *ev);

static void pop_head(shim_events_t *ev)
{
  struct item *it = ev->head;
  ev->head = it->next;
  if (ev->head == NULL)
    ev->tail = &ev->head;
  ev->queued--;
  item_free(it);
}

static void retry_due(uv_timer_t *t)
{
  shim_events_t *ev = t->data;
  ev->waiting = 0;
  pump(ev);
}

/* The head's attempt is over: next event, or the same one again later. */
static void attempt_done(shim_events_t *ev, int ok, const char *why)
{
  struct item *it = ev->head;
  ev->busy = 0;
  if (ok || ev->closing || it->tries >= EVENTS_MAX_RETRIES) {
    if (!ok)
      shim_log(SHIM_LOG_ERROR, "dropping event %s after %d attempt(s): %s", it->topic,
               it->tries + 1, why);
    pop_head(ev);
    pump(ev);
    return;
  }
  it->tries++;
  ev->waiting = 1;
  shim_log(SHIM_LOG_WARN, "post event %s: %s (retry in %d s)", it->topic, why, it->tries);
  uv_timer_start(&ev->retry, retry_due, (uint64_t)it->tries * 1000, 0);
}

static void forwarded(int code, const char *message, const ProtobufCMessage *response, void *data)
{
  attempt_done(data, code == TTRPC_OK, message != NULL ? message : "error");
}

static void send_ttrpc(shim_events_t *ev, struct item *it)
{
  Containerd__Services__Events__Ttrpc__V1__Envelope env =
      CONTAINERD__SERVICES__EVENTS__TTRPC__V1__ENVELOPE__INIT;
  Containerd__Services__Events__Ttrpc__V1__ForwardRequest req =
      CONTAINERD__SERVICES__EVENTS__TTRPC__V1__FORWARD_REQUEST__INIT;
  Google__Protobuf__Timestamp ts;
  pb_timestamp(&ts, &it->when);
  env.timestamp = &ts;
  env.namespace_ = ev->ns;
  env.topic = it->topic;
  env.event = &it->any;
  req.envelope = &env;
  const char *md[] = {"containerd-namespace-ttrpc", ev->ns, NULL};
  int rc = ttrpc_client_call(ev->client,
                             containerd__services__events__ttrpc__v1__events__descriptor.name,
                             "Forward", &req.base, NULL, md, EVENTS_TIMEOUT_MS, forwarded, ev);
  if (rc != 0)
    attempt_done(ev, 0, uv_strerror(rc));
}

/* ---- the publish binary ---- */

static void proc_handle_closed(uv_handle_t *h)
{
  shim_events_t *ev = h->data;
  if (--ev->proc_handles == 0)
    maybe_finish(ev);
}

static void proc_exited(uv_process_t *p, int64_t status, int signo)
{
  shim_events_t *ev = p->data;
  uv_close((uv_handle_t *)p, proc_handle_closed);
  char why[64];
  snprintf(why, sizeof why, "publish exited with %lld (signal %d)", (long long)status, signo);
  attempt_done(ev, status == 0 && signo == 0, why);
}

static void proc_written(uv_write_t *req, int status)
{
  shim_events_t *ev = req->data;
  free(ev->proc_payload);
  ev->proc_payload = NULL;
  uv_close((uv_handle_t *)&ev->proc_stdin, proc_handle_closed); /* end of file for publish */
}

static void send_binary(shim_events_t *ev, struct item *it)
{
  char *args[] = {ev->publish_binary, "--address", ev->containerd_address,
                  "publish",          "--topic",   it->topic,
                  "--namespace",      ev->ns,      NULL};
  uv_stdio_container_t stdio[3];
  uv_process_options_t o;
  memset(&o, 0, sizeof o);
  uv_pipe_init(ev->loop, &ev->proc_stdin, 0);
  ev->proc_stdin.data = ev;
  ev->proc_handles = 1;
  stdio[0].flags = UV_CREATE_PIPE | UV_READABLE_PIPE;
  stdio[0].data.stream = (uv_stream_t *)&ev->proc_stdin;
  stdio[1].flags = UV_IGNORE;
  stdio[2].flags = UV_INHERIT_FD; /* its complaints go to our log */
  stdio[2].data.fd = 2;
  o.file = ev->publish_binary;
  o.args = args;
  o.exit_cb = proc_exited;
  o.stdio = stdio;
  o.stdio_count = 3;
  ev->proc.data = ev;
  int rc = uv_spawn(ev->loop, &ev->proc, &o);
  ev->proc_handles++;
  if (rc != 0) { /* a handle that failed to spawn is closed all the same */
    uv_close((uv_handle_t *)&ev->proc, proc_handle_closed);
    uv_close((uv_handle_t *)&ev->proc_stdin, proc_handle_closed);
    attempt_done(ev, 0, uv_strerror(rc));
    return;
  }
  size_t len = google__protobuf__any__get_packed_size(&it->any);
  ev->proc_payload = malloc(len > 0 ? len : 1);
  uv_buf_t b = uv_buf_init((char *)ev->proc_payload, 0);
  if (ev->proc_payload != NULL)
    b.len = google__protobuf__any__pack(&it->any, ev->proc_payload);
  ev->proc_write.data = ev;
  if (ev->proc_payload == NULL ||
      uv_write(&ev->proc_write, (uv_stream_t *)&ev->proc_stdin, &b, 1, proc_written) != 0) {
    free(ev->proc_payload); /* publish reads an empty event and fails: the attempt fails */
    ev->proc_payload = NULL;
    uv_close((uv_handle_t *)&ev->proc_stdin, proc_handle_closed);
  }
}

/* ---- queue ---- */

static void pump(shim_events_t *ev)
{
  if (ev->busy || ev->waiting || ev->head == NULL) {
    maybe_finish(ev);
    return;
  }
  ev->busy = 1;
  if (ev->client != NULL)
    send_ttrpc(ev, ev->head);
  else
    send_binary(ev, ev->head);
}

void shim_events_publish(shim_events_t *ev, const char *topic, const ProtobufCMessage *event)
{
  if (ev->closing)
    return;
  struct item *it = calloc(1, sizeof *it);
  if (it == NULL || (it->topic = strdup(topic)) == NULL || pb_any_pack(&it->any, event) != 0) {
    shim_log(SHIM_LOG_ERROR, "out of memory: event %s dropped", topic);
    if (it != NULL)
      free(it->topic);
    free(it);
    return;
  }
  clock_gettime(CLOCK_REALTIME, &it->when);
  if (ev->queued == EVENTS_QUEUE_MAX) {
    /* The oldest is dropped unless it is in flight; then the next one. */
    struct item **pp = ev->busy ? &ev->head->next : &ev->head;
    struct item *old = *pp;
    shim_log(SHIM_LOG_ERROR, "event queue full: dropping %s", old->topic);
    *pp = old->next;
    if (ev->tail == &old->next)
      ev->tail = pp;
    ev->queued--;
    item_free(old);
  }
  *ev->tail = it;
  ev->tail = &it->next;
  ev->queued++;
  pump(ev);
}

int shim_events_new(shim_events_t **out, uv_loop_t *loop, const shim_events_config_t *cfg)
{
  shim_events_t *ev = calloc(1, sizeof *ev);
  if (ev == NULL)
    return UV_ENOMEM;
  ev->loop = loop;
  ev->tail = &ev->head;
  ev->publish_binary = strdup(cfg->publish_binary != NULL ? cfg->publish_binary : "containerd");
  ev->containerd_address = strdup(cfg->containerd_address != NULL ? cfg->containerd_address : "");
  ev->ns = strdup(cfg->ns != NULL ? cfg->ns : "default");
  int rc = ev->publish_binary && ev->containerd_address && ev->ns ? 0 : UV_ENOMEM;
  if (rc == 0 && cfg->ttrpc_address != NULL && cfg->ttrpc_address[0] != '\0')
    rc = ttrpc_client_new(&ev->client, loop, cfg->ttrpc_address);
  if (rc != 0) {
    free(ev->publish_binary);
    free(ev->containerd_address);
    free(ev->ns);
    free(ev);
    return rc;
  }
  uv_timer_init(loop, &ev->retry);
  ev->retry.data = ev;
  uv_timer_init(loop, &ev->deadline);
  ev->deadline.data = ev;
  *out = ev;
  return 0;
}

/* ---- closing ---- */

static void one_closed(shim_events_t *ev)
{
  if (--ev->handles > 0)
    return;
  if (ev->close_cb != NULL)
    ev->close_cb(ev->close_data);
  while (ev->head != NULL)
    pop_head(ev);
  free(ev->publish_binary);
  free(ev->containerd_address);
  free(ev->ns);
  free(ev);
}

static void handle_closed(uv_handle_t *h)
{
  one_closed(h->data);
}

static void client_closed(void *data)
{
  one_closed(data);
}

static void release(shim_events_t *ev)
{
  if (ev->handles > 0)
    return; /* already releasing */
  ev->handles = 2 + (ev->client != NULL);
  uv_close((uv_handle_t *)&ev->retry, handle_closed);
  uv_close((uv_handle_t *)&ev->deadline, handle_closed);
  if (ev->client != NULL)
    ttrpc_client_close(ev->client, client_closed, ev); /* fails the attempt in flight */
}

static void maybe_finish(shim_events_t *ev)
{
  if (ev->closing && ev->head == NULL && !ev->busy && ev->proc_handles == 0)
    release(ev);
}

/* Time is up: drop what is queued; an attempt in flight is cut short (its failure drops
 * its event, being closing). */
static void deadline_passed(uv_timer_t *t)
{
  shim_events_t *ev = t->data;
  if (ev->queued > 0)
    shim_log(SHIM_LOG_ERROR, "shutting down with %zu event(s) not delivered", ev->queued);
  uv_timer_stop(&ev->retry);
  ev->waiting = 0;
  struct item *keep = ev->busy ? ev->head : NULL;
  if (keep != NULL)
    ev->head = keep->next, keep->next = NULL, ev->queued--;
  while (ev->head != NULL)
    pop_head(ev);
  if (keep != NULL) {
    ev->head = keep;
    ev->tail = &keep->next;
    ev->queued = 1;
  }
  if (ev->busy && ev->client == NULL)
    uv_process_kill(&ev->proc, SIGKILL); /* its exit ends the attempt */
  else
    release(ev);
}

void shim_events_close(shim_events_t *ev, uint64_t timeout_ms, void (*cb)(void *data), void *data)
{
  ev->closing = 1;
  ev->close_cb = cb;
  ev->close_data = data;
  uv_timer_start(&ev->deadline, deadline_passed, timeout_ms, 0);
  maybe_finish(ev);
}

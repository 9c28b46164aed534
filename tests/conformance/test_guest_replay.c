/* Conformance replay against the library: the guest side of each recording whose host
 * side is what the library does is played back by a fake guest on the test's loop, while
 * a driver derived from the same recording calls the public API. Every frame the library
 * writes is compared field by field with the recorded host frame (ids, ports and activity
 * ids ignored); responses are released in the recorded order with the library's ids; the
 * recorded stdio is played on the stdio connections the library listens for. Recorded
 * requests the library never produces (finite waits, requests about pids it never ran,
 * malformed queries) are listed per scenario and skipped with their answers.
 * Also: nothing before the negotiate answer (j2/j3), and what the library refuses to send
 * (j1/j9). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#if !defined(_WIN32)
#  include <sys/socket.h>
#  include <sys/un.h>
#  include <unistd.h>
#endif

#include <cmocka.h>
#include <jansson.h>
#include <uv.h>

#include "conformance/recording.h"
#include "cow.h"
#include "cow/stdio.h"
#include "cow/guest.h"
#include "guest/frame.h"
#include "support/tcp-transport.h"
#include "support/wait.h"

#define MAXF 128
#define MAXS 16

static const cow_cmp_rule_t host_rules[] = {
    /* ProcessId is compared exactly: the fake answers with the recorded pids. */
    {"ActivityId", COW_CMP_IGNORE}, {"StdIn", COW_CMP_PRESENCE}, {"StdOut", COW_CMP_PRESENCE},
    {"StdErr", COW_CMP_PRESENCE},   {NULL, COW_CMP_EXACT},
};

/* How the library listens and the fake guest dials: an AF_UNIX port directory (the
 * built-in transport, libuv pipes) or loopback TCP through the transport interface's
 * `listen_tcp` slot (uv_tcp_t), with a libuv-only user transport or, on Windows, the
 * library's own Winsock listener (the hvsocket transport's code). */
enum tkind { T_UNIX, T_TCP_UV, T_WINSOCK };

union gsock { /* a connection of the fake guest, pipe or socket stream */
  uv_handle_t h;
  uv_stream_t s;
  uv_pipe_t pipe;
  uv_tcp_t tcp;
};

struct gstream { /* a stdio connection of the fake guest */
  union gsock sock;
  int open;
  uint32_t lib_port, rec_port;
  char name[8];
  char *got;
  size_t got_len;
  int eof;
};

struct step { /* one driver call derived from a recorded host frame */
  const cow_rec_t *r;
  int issued, done, status;
};

typedef struct replay {
  uv_loop_t loop;
  enum tkind kind;
  char dir[64];     /* T_UNIX */
  tcpt_map_t ports; /* T_TCP_UV, T_WINSOCK */
  cow_recording_t rec;
  const int *skip;
  cow_guest_transport_t *t;
  cow_host_t *host;
  int connected, connect_status;
  /* fake guest */
  union gsock bridge;
  cow__frame_decoder_t dec;
  const cow_rec_t *hf[MAXF]; /* recorded host->gcs frames */
  int hmatched[MAXF];
  uint64_t hlib_id[MAXF];
  int nh;
  const cow_rec_t *gf[MAXF]; /* recorded gcs->host frames */
  int ng, cursor;
  struct gstream st[MAXS];
  int nst;
  int extra_waits;
  char fail[1024];
  /* driver */
  struct step steps[MAXF];
  int nsteps, next_step;
  cow_process_t *procs[MAXS];
  int64_t proc_rec_pid[MAXS];
  char *proc_out[MAXS];
  size_t proc_out_len[MAXS];
  int nprocs, proc_waits, proc_closed;
  cow_container_t *ctrs[4];
  int nctrs, ctr_closed, host_closed;
} replay_t;

static replay_t *R;

static void failf(const char *fmt, ...)
{
  if (R->fail[0])
    return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(R->fail, sizeof R->fail, fmt, ap);
  va_end(ap);
}

static int skipped(int seq)
{
  for (const int *s = R->skip; s && *s; s++)
    if (*s == seq)
      return 1;
  return 0;
}

static json_t *body_of(const cow_rec_t *r)
{
  return json_loadb((const char *)r->data, r->data_len, JSON_DECODE_ANY, NULL);
}

/* ---- fake guest ---- */

static void gw_done(uv_write_t *w, int status)
{
  (void)status;
  free(w->data);
  free(w);
}

static void gwrite(uv_stream_t *s, const void *data, size_t len)
{
  uv_write_t *w = malloc(sizeof *w);
  void *copy = malloc(len ? len : 1);
  memcpy(copy, data, len);
  w->data = copy;
  uv_buf_t b = uv_buf_init(copy, (unsigned)len);
  if (uv_write(w, s, &b, 1, gw_done) != 0) {
    free(copy);
    free(w);
  }
}

static void send_frame(uint32_t type, uint64_t id, const uint8_t *body, size_t len)
{
  uint8_t hdr[16];
  cow__frame_header_t h = {type, (uint32_t)(len + 16), id};
  cow__frame_header_encode(&h, hdr);
  gwrite(&R->bridge.s, hdr, 16);
  if (len)
    gwrite(&R->bridge.s, body, len);
}

static struct gstream *stream_for_rec_port(uint32_t port)
{
  for (int i = 0; i < R->nst; i++)
    if (R->st[i].rec_port == port)
      return &R->st[i];
  return NULL;
}

static void st_alloc(uv_handle_t *h, size_t s, uv_buf_t *b)
{
  (void)h;
  b->base = malloc(s);
  b->len = s;
}

static void st_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
  struct gstream *g = s->data;
  if (n > 0) {
    g->got = realloc(g->got, g->got_len + (size_t)n + 1);
    memcpy(g->got + g->got_len, b->base, (size_t)n);
    g->got_len += (size_t)n;
    g->got[g->got_len] = 0;
  } else if (n < 0) {
    g->eof = 1;
    uv_read_stop(s);
  }
  free(b->base);
}

/* Play the recorded guest-side stdio of the streams of one exec (after its response). */
static void play_stdio(const uint32_t rec_ports[3])
{
  for (size_t i = 0; i < R->rec.count; i++) {
    const cow_rec_t *r = &R->rec.recs[i];
    if (r->kind != COW_REC_STDIO || r->dir != COW_REC_GCS_TO_HOST)
      continue;
    if (r->port != rec_ports[0] && r->port != rec_ports[1] && r->port != rec_ports[2])
      continue;
    struct gstream *g = stream_for_rec_port(r->port);
    if (g == NULL || !g->open)
      continue;
    if (r->event == NULL && r->data_len > 0)
      gwrite(&g->sock.s, r->data, r->data_len);
    else if (r->event && strcmp(r->event, "EOF") == 0) {
      uv_shutdown_t *sd = malloc(sizeof *sd);
      if (uv_shutdown(sd, &g->sock.s, (uv_shutdown_cb)(void (*)(void))free) != 0)
        free(sd);
    }
  }
}

/* Dial guest port `port` of the library into `u`, as the guest does; 0 or -1 (failf). */
static int dial(uint32_t port, union gsock *u)
{
  if (R->kind != T_UNIX) {
    int rc = tcpt_dial(&R->loop, &u->tcp, tcpt_port(&R->ports, port));
    if (rc != 0)
      failf("dial guest port %u over TCP: %s", (unsigned)port, uv_strerror(rc));
    return rc == 0 ? 0 : -1;
  }
#if defined(_WIN32)
  failf("no AF_UNIX port directories on this platform");
  return -1;
#else
  struct sockaddr_un sa;
  memset(&sa, 0, sizeof sa);
  sa.sun_family = AF_UNIX;
  snprintf(sa.sun_path, sizeof sa.sun_path, "%s/%u", R->dir, (unsigned)port);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
    failf("dial %s: %s", sa.sun_path, strerror(errno));
    if (fd >= 0)
      close(fd);
    return -1;
  }
  uv_pipe_init(&R->loop, &u->pipe, 0);
  if (uv_pipe_open(&u->pipe, fd) != 0) {
    failf("uv_pipe_open failed");
    uv_close(&u->h, NULL);
    return -1;
  }
  return 0;
#endif
}

/* The library's ExecuteProcess: dial its ports (stdin, stdout, stderr) as the GCS does
 * before answering, pairing them with the recorded ports of the matched frame. */
static void exec_dial(json_t *lib, json_t *rec, uint32_t rec_ports[3])
{
  static const char *const keys[3] = {"StdIn", "StdOut", "StdErr"};
  json_t *ls = json_object_get(json_object_get(lib, "Settings"), "VsockStdioRelaySettings");
  json_t *rs = json_object_get(json_object_get(rec, "Settings"), "VsockStdioRelaySettings");
  for (int i = 0; i < 3; i++) {
    rec_ports[i] = 0;
    json_t *lp = json_object_get(ls, keys[i]);
    if (!lp)
      continue;
    rec_ports[i] = (uint32_t)json_integer_value(json_object_get(rs, keys[i]));
    if (R->nst >= MAXS)
      return;
    struct gstream *g = &R->st[R->nst++];
    memset(g, 0, sizeof *g);
    g->lib_port = (uint32_t)json_integer_value(lp);
    g->rec_port = rec_ports[i];
    snprintf(g->name, sizeof g->name, "%s", keys[i]);
    if (dial(g->lib_port, &g->sock) != 0)
      return;
    g->open = 1;
    g->sock.h.data = g;
    uv_read_start(&g->sock.s, st_alloc, st_read);
  }
}

static void pump(void)
{
  while (R->cursor < R->ng) {
    const cow_rec_t *g = R->gf[R->cursor];
    if (cow__frame_kind(g->type) == COW__FRAME_KIND_NOTIFICATION) {
      send_frame(g->type, 0, g->data, g->data_len);
      R->cursor++;
      continue;
    }
    int k = -1;
    for (int i = 0; i < R->nh; i++)
      if (R->hf[i]->id == g->id && R->hf[i]->seq < g->seq)
        k = i; /* the latest request with that id before the answer */
    if (k < 0) {
      failf("recorded answer seq %d has no request", g->seq);
      return;
    }
    if (skipped(R->hf[k]->seq)) {
      R->cursor++;
      continue;
    }
    if (!R->hmatched[k])
      return; /* the library has not sent that request yet */
    send_frame(g->type, R->hlib_id[k], g->data, g->data_len);
    R->cursor++;
    if (g->type == COW__MSG_EXECUTE_PROCESS_RESPONSE) {
      json_t *rb = body_of(R->hf[k]);
      static const char *const keys[3] = {"StdIn", "StdOut", "StdErr"};
      uint32_t ports[3] = {0, 0, 0};
      json_t *rs = json_object_get(json_object_get(rb, "Settings"), "VsockStdioRelaySettings");
      for (int i = 0; i < 3; i++)
        ports[i] = (uint32_t)json_integer_value(json_object_get(rs, keys[i]));
      json_decref(rb);
      play_stdio(ports);
    }
  }
}

static void on_lib_frame(cow__frame_t *f)
{
  json_t *lib = json_loadb((const char *)f->payload, f->payload_len, 0, NULL);
  if (lib == NULL) {
    failf("the library sent a body that is not JSON");
    return;
  }
  int k = -1;
  char why[700] = "";
  for (int i = 0; i < R->nh && k < 0; i++) {
    if (R->hmatched[i] || skipped(R->hf[i]->seq) || R->hf[i]->type != f->hdr.type)
      continue;
    char w[600];
    if (cow_cmp_bodies(R->hf[i]->data, R->hf[i]->data_len, f->payload, f->payload_len, host_rules,
                       w, sizeof w) == 0)
      k = i;
    else if (!why[0])
      snprintf(why, sizeof why, "seq %d: %s", R->hf[i]->seq, w);
  }
  if (k < 0) {
    /* The library waits for every process; the recording's host sometimes did not. */
    if (f->hdr.type == COW__MSG_WAIT_FOR_PROCESS &&
        json_integer_value(json_object_get(lib, "TimeoutInMs")) == 4294967295LL) {
      R->extra_waits++;
    } else {
      char name[48];
      failf("unexpected %s from the library: %s", cow__frame_type_name(f->hdr.type, name, 48),
            why[0] ? why : "no recorded frame of that type left");
    }
    json_decref(lib);
    return;
  }
  R->hmatched[k] = 1;
  R->hlib_id[k] = f->hdr.id;
  if (f->hdr.type == COW__MSG_EXECUTE_PROCESS) {
    json_t *rb = body_of(R->hf[k]);
    uint32_t ports[3];
    exec_dial(lib, rb, ports);
    json_decref(rb);
  }
  json_decref(lib);
  pump();
}

static void gb_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
  (void)s;
  size_t off = 0;
  while (n > 0 && off < (size_t)n) {
    size_t used = 0;
    cow__frame_t f;
    cow_error_t err = COW_ERROR_INIT;
    int rc = cow__frame_decoder_feed(&R->dec, (uint8_t *)b->base + off, (size_t)n - off, &used, &f,
                                     &err);
    cow_error_clear(&err);
    if (rc < 0) {
      failf("the library sent a bad frame");
      break;
    }
    off += used;
    if (rc == 1) {
      on_lib_frame(&f);
      cow__frame_release(&f);
    }
  }
  if (n < 0) {
    uv_read_stop(s);
    uv_close(&R->bridge.h, NULL);
  }
  free(b->base);
}

/* ---- driver ---- */

static cow_process_t *proc_by_rec_pid(int64_t pid)
{
  for (int i = 0; i < R->nprocs; i++)
    if (R->proc_rec_pid[i] == pid)
      return R->procs[i];
  return NULL;
}

static cow_container_t *ctr_by_id(const char *id, int open)
{
  for (int i = 0; i < R->nctrs; i++)
    if (strcmp(cow_container_id(R->ctrs[i]), id) == 0)
      return R->ctrs[i];
  if (!open)
    return NULL;
  cow_container_t *c;
  assert_int_equal(cow_guest_open_container(&c, R->host, id), 0);
  R->ctrs[R->nctrs++] = c;
  return c;
}

static void step_done(struct step *s, int status)
{
  s->done = 1;
  s->status = status;
}
static void d_proc(cow_process_t *p, int st, const cow_error_t *e, void *d)
{
  (void)p, (void)e;
  step_done(d, st);
}
static void d_ctr(cow_container_t *c, int st, const cow_error_t *e, void *d)
{
  (void)c, (void)e;
  step_done(d, st);
}
static void d_json(cow_container_t *c, int st, const char *j, const cow_error_t *e, void *d)
{
  (void)c, (void)j, (void)e;
  step_done(d, st);
}
static void d_host(cow_host_t *h, int st, const cow_error_t *e, void *d)
{
  (void)h, (void)e;
  step_done(d, st);
}
static void d_text(cow_host_t *h, int st, const char *t, const cow_error_t *e, void *d)
{
  (void)h, (void)t, (void)e;
  step_done(d, st);
}
static int64_t proc_code[MAXS];
static int proc_waited[MAXS];
static void d_wait(cow_process_t *p, int st, int64_t code, const cow_error_t *e, void *d)
{
  (void)e, (void)d;
  for (int i = 0; i < R->nprocs; i++)
    if (R->procs[i] == p && st == 0) {
      proc_code[i] = code;
      proc_waited[i] = 1;
    }
  R->proc_waits++;
}

/* The exit code the library reported equals the recorded answer to the infinite wait. */
static void check_exit_codes(void)
{
  for (int i = 0; i < R->nprocs && !R->fail[0]; i++) {
    for (int k = 0; k < R->nh; k++) {
      const cow_rec_t *q = R->hf[k];
      if (q->type != COW__MSG_WAIT_FOR_PROCESS || !R->hmatched[k])
        continue;
      json_t *qb = body_of(q);
      int mine = json_integer_value(json_object_get(qb, "ProcessId")) == R->proc_rec_pid[i] &&
                 json_integer_value(json_object_get(qb, "TimeoutInMs")) == 4294967295LL;
      json_decref(qb);
      if (!mine)
        continue;
      for (int g = 0; g < R->ng; g++) {
        if (R->gf[g]->id != q->id || R->gf[g]->type != COW__MSG_WAIT_FOR_PROCESS_RESPONSE)
          continue;
        json_t *ab = body_of(R->gf[g]);
        if (json_integer_value(json_object_get(ab, "Result")) == 0) {
          int64_t want = json_integer_value(json_object_get(ab, "ExitCode"));
          if (!proc_waited[i])
            failf("pid %lld: no exit reported", (long long)R->proc_rec_pid[i]);
          else if (proc_code[i] != want)
            failf("pid %lld: exit %lld, recorded %lld", (long long)R->proc_rec_pid[i],
                  (long long)proc_code[i], (long long)want);
        }
        json_decref(ab);
      }
    }
  }
}

static void out_alloc(uv_handle_t *h, size_t s, uv_buf_t *b)
{
  (void)h;
  b->base = malloc(s);
  b->len = s;
}
static void out_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
  int i = (int)(intptr_t)s->data;
  if (n > 0) {
    R->proc_out[i] = realloc(R->proc_out[i], R->proc_out_len[i] + (size_t)n + 1);
    memcpy(R->proc_out[i] + R->proc_out_len[i], b->base, (size_t)n);
    R->proc_out_len[i] += (size_t)n;
    R->proc_out[i][R->proc_out_len[i]] = 0;
  }
  free(b->base);
}
static void in_written(uv_write_t *w, int st)
{
  (void)st;
  free(w->data);
  free(w);
}

static struct step close_stdin_step;

/* After an exec's create callback: read its output, play the host's recorded stdin. */
static void exec_created(cow_process_t *p, int st, const cow_error_t *e, void *d)
{
  (void)e;
  struct step *s = d;
  step_done(s, st);
  if (st != 0)
    return;
  int idx = R->nprocs - 1;
  json_t *b = body_of(s->r);
  json_t *rs = json_object_get(json_object_get(b, "Settings"), "VsockStdioRelaySettings");
  uint32_t in_port = (uint32_t)json_integer_value(json_object_get(rs, "StdIn"));
  json_decref(b);
  uv_stream_t *in, *out, *err;
  cow_process_stdio(&in, &out, &err, p);
  if (out) {
    out->data = (void *)(intptr_t)idx;
    cow_process_read_start(p, COW_STDOUT, out_alloc, out_read);
  }
  if (err) {
    err->data = (void *)(intptr_t)idx;
    cow_process_read_start(p, COW_STDERR, out_alloc, out_read);
  }
  for (size_t i = 0; in && i < R->rec.count; i++) {
    const cow_rec_t *r = &R->rec.recs[i];
    if (r->kind != COW_REC_STDIO || r->dir != COW_REC_HOST_TO_GCS || r->port != in_port)
      continue;
    if (r->event == NULL && r->data_len) {
      uv_write_t *w = malloc(sizeof *w);
      w->data = malloc(r->data_len);
      memcpy(w->data, r->data, r->data_len);
      uv_buf_t buf = uv_buf_init(w->data, (unsigned)r->data_len);
      uv_write(w, in, &buf, 1, in_written);
    } else if (r->event && strstr(r->event, "SHUT_WR")) {
      cow_process_close_stdin(p, d_proc, &close_stdin_step);
    }
  }
}

static void issue(struct step *s)
{
  const cow_rec_t *r = s->r;
  json_t *b = body_of(r);
  const char *cid = json_string_value(json_object_get(b, "ContainerId"));
  int null_id = cid && strcmp(cid, "00000000-0000-0000-0000-000000000000") == 0;
  int rc = -1;
  s->issued = 1;
  switch (r->type) {
  case COW__MSG_EXECUTE_PROCESS: {
    const char *pp =
        json_string_value(json_object_get(json_object_get(b, "Settings"), "ProcessParameters"));
    cow_host_t *h = null_id ? R->host : cow_container_host(ctr_by_id(cid, 1));
    cow_process_t *p;
    rc = cow_host_create_process(&p, h, pp, exec_created, s);
    if (rc == 0) {
      /* The recorded pid: from the recorded answer with the same id. */
      int64_t pid = -1;
      for (int i = 0; i < R->ng; i++)
        if (R->gf[i]->id == r->id && R->gf[i]->type == COW__MSG_EXECUTE_PROCESS_RESPONSE) {
          json_t *ab = body_of(R->gf[i]);
          pid = json_integer_value(json_object_get(ab, "ProcessId"));
          json_decref(ab);
        }
      R->procs[R->nprocs] = p;
      R->proc_rec_pid[R->nprocs] = pid;
      R->nprocs++;
      cow_process_wait(p, d_wait, NULL);
    }
    break;
  }
  case COW__MSG_SIGNAL_PROCESS: {
    cow_process_t *p = proc_by_rec_pid(json_integer_value(json_object_get(b, "ProcessId")));
    json_t *o = json_object_get(b, "Options");
    char *os = o ? json_dumps(o, JSON_COMPACT) : NULL;
    rc = p == NULL ? -1
         : os      ? cow_process_signal(p, os, d_proc, s)
                   : cow_process_kill(p, d_proc, s);
    free(os);
    break;
  }
  case COW__MSG_RESIZE_CONSOLE: {
    cow_process_t *p = proc_by_rec_pid(json_integer_value(json_object_get(b, "ProcessId")));
    rc = p == NULL ? -1
                   : cow_process_resize_console(
                         p, (uint16_t)json_integer_value(json_object_get(b, "Width")),
                         (uint16_t)json_integer_value(json_object_get(b, "Height")), d_proc, s);
    break;
  }
  case COW__MSG_GET_PROPERTIES: {
    const char *q = json_string_value(json_object_get(b, "Query"));
    cow_container_t *c = ctr_by_id(cid, 1);
    rc = strstr(q, "Statistics") ? cow_container_properties_v2(c, q, d_json, s)
                                 : cow_container_properties(c, q, d_json, s);
    break;
  }
  case COW__MSG_MODIFY_SETTINGS: {
    char *rq = json_dumps(json_object_get(b, "Request"), JSON_COMPACT);
    rc = null_id ? cow_guest_modify(R->host, rq, d_host, s)
                 : cow_container_modify(ctr_by_id(cid, 1), rq, d_ctr, s);
    free(rq);
    break;
  }
  case COW__MSG_CREATE: {
    cow_container_t *c;
    rc = cow_guest_create_container(
        &c, R->host, cid, json_string_value(json_object_get(b, "ContainerConfig")), d_ctr, s);
    if (rc == 0)
      R->ctrs[R->nctrs++] = c;
    break;
  }
  case COW__MSG_START:
    rc = cow_container_start(ctr_by_id(cid, 1), d_ctr, s);
    break;
  case COW__MSG_DUMP_STACKS:
    rc = cow_guest_dump_stacks(R->host, d_text, s);
    break;
  case COW__MSG_DELETE_CONTAINER_STATE:
    rc = cow_guest_delete_container_state(R->host, cid, d_host, s);
    break;
  default:
    break;
  }
  json_decref(b);
  if (rc != 0)
    failf("driver: the library refused recorded seq %d (%d)", r->seq, rc);
}

static void on_tick(uv_timer_t *t)
{
  (void)t;
  while (R->next_step < R->nsteps) {
    struct step *s = &R->steps[R->next_step];
    if (!s->issued) {
      issue(s);
      return;
    }
    if (!s->done)
      return;
    R->next_step++;
  }
}

static void on_connected(cow_host_t *h, int st, const cow_error_t *e, void *d)
{
  (void)h, (void)e, (void)d;
  R->connected = 1;
  R->connect_status = st;
}

static void closed_p(cow_process_t *p, void *d)
{
  (void)p, (void)d;
  R->proc_closed++;
}
static void closed_c(cow_container_t *c, void *d)
{
  (void)c, (void)d;
  R->ctr_closed++;
}
static void closed_h(cow_host_t *h, void *d)
{
  (void)h, (void)d;
  R->host_closed++;
}

static void nop_tick(uv_timer_t *t)
{
  (void)t;
}

static void run_until(int *flag, int n, uint64_t ms)
{
  uv_timer_t t; /* bounds every loop turn, so the deadline is seen */
  uv_timer_init(&R->loop, &t);
  uv_timer_start(&t, nop_tick, 5, 5);
  uint64_t end = uv_now(&R->loop) + ms;
  while (*flag < n && uv_now(&R->loop) < end && !R->fail[0])
    uv_run(&R->loop, UV_RUN_ONCE);
  uv_close((uv_handle_t *)&t, NULL);
  uv_run(&R->loop, UV_RUN_NOWAIT);
}

static void replay(const char *name, const int *skip, enum tkind kind)
{
  static replay_t rp;
  memset(&rp, 0, sizeof rp);
  memset(proc_code, 0, sizeof proc_code);
  memset(proc_waited, 0, sizeof proc_waited);
  R = &rp;
  R->skip = skip;
  R->kind = kind;
  char why[512];
  if (cow_rec_load_named(name, &R->rec, why, sizeof why) != 0)
    fail_msg("%s", why);
  for (size_t i = 0; i < R->rec.count; i++) {
    const cow_rec_t *r = &R->rec.recs[i];
    if (r->kind != COW_REC_FRAME)
      continue;
    if (r->dir == COW_REC_HOST_TO_GCS) {
      R->hf[R->nh++] = r;
      int auto_sent =
          r->type == COW__MSG_NEGOTIATE_PROTOCOL || r->type == COW__MSG_WAIT_FOR_PROCESS;
      if (!auto_sent && !skipped(r->seq))
        R->steps[R->nsteps++].r = r;
    } else {
      R->gf[R->ng++] = r;
    }
  }
  assert_int_equal(uv_loop_init(&R->loop), 0);
  if (kind == T_UNIX) {
#if !defined(_WIN32)
    snprintf(R->dir, sizeof R->dir, "/tmp/cowr-XXXXXX");
    assert_non_null(mkdtemp(R->dir));
    assert_int_equal(cow_guest_transport_unix(&R->t, R->dir), 0);
#endif
  } else if (kind == T_TCP_UV) {
    assert_int_equal(tcpt_new_uv(&R->t, &R->ports), 0);
  } else {
#if defined(_WIN32)
    assert_int_equal(tcpt_new_winsock(&R->t, &R->ports), 0);
#endif
  }
  assert_non_null(R->t);
  cow_guest_options_t o = COW_GUEST_OPTIONS_INIT;
  o.transport = R->t;
  assert_int_equal(cow_guest_connect(&R->host, &R->loop, &o, on_connected, NULL), 0);
  /* j2/j3: nothing may be requested before the negotiate answer. */
  cow_process_t *early;
  assert_int_equal(
      cow_host_create_process(&early, R->host, "{\"CommandArgs\":[\"true\"]}", d_proc, NULL),
      COW_EINVALID_STATE);
  if (dial(COW_GUEST_BRIDGE_PORT, &R->bridge) != 0)
    fail_msg("%s", R->fail);
  cow__frame_decoder_init(&R->dec, 0);
  uv_read_start(&R->bridge.s, st_alloc, gb_read);
  run_until(&R->connected, 1, 5000);
  assert_int_equal(R->connect_status, 0);
  uv_timer_t tick;
  uv_timer_init(&R->loop, &tick);
  uv_timer_start(&tick, on_tick, 1, 2);
  int all = 0;
  uint64_t end = uv_now(&R->loop) + 15000;
  while (!R->fail[0] && uv_now(&R->loop) < end) {
    uv_run(&R->loop, UV_RUN_ONCE);
    all = R->next_step == R->nsteps && R->cursor == R->ng;
    for (int i = 0; all && i < R->nh; i++)
      all = R->hmatched[i] || skipped(R->hf[i]->seq);
    if (all)
      break;
  }
  if (!R->fail[0] && !all) {
    for (int i = 0; i < R->nh; i++)
      if (!R->hmatched[i] && !skipped(R->hf[i]->seq))
        failf("recorded seq %d never sent by the library (step %d/%d, answers %d/%d)",
              R->hf[i]->seq, R->next_step, R->nsteps, R->cursor, R->ng);
  }
  /* Exits are published after stdio EOF: give them a moment, then compare. */
  run_until(&R->proc_waits, R->nprocs, 2000);
  check_exit_codes();
  uv_timer_stop(&tick);
  uv_close((uv_handle_t *)&tick, NULL);
  /* Recorded stdin arrived at the guest. */
  int settle = 0;
  run_until(&settle, 1, 50);
  for (int i = 0; !R->fail[0] && i < R->nst; i++) {
    struct gstream *g = &R->st[i];
    if (strcmp(g->name, "StdIn") != 0)
      continue;
    size_t want = 0;
    for (size_t k = 0; k < R->rec.count; k++) {
      const cow_rec_t *r = &R->rec.recs[k];
      if (r->kind == COW_REC_STDIO && r->dir == COW_REC_HOST_TO_GCS && r->port == g->rec_port &&
          r->event == NULL)
        want += r->data_len;
    }
    if (g->got_len != want)
      failf("stdin port %u: guest got %zu bytes, recorded %zu", g->rec_port, g->got_len, want);
  }
  /* Tear down: processes, containers, host; then the fake guest sees EOF. */
  for (int i = 0; i < R->nprocs; i++)
    cow_process_close(R->procs[i], closed_p, NULL);
  run_until(&R->proc_closed, R->nprocs, 5000);
  for (int i = 0; i < R->nctrs; i++)
    cow_container_close(R->ctrs[i], closed_c, NULL);
  run_until(&R->ctr_closed, R->nctrs, 5000);
  cow_host_close(R->host, closed_h, NULL);
  run_until(&R->host_closed, 1, 5000);
  for (int i = 0; i < R->nst; i++)
    if (R->st[i].open && !uv_is_closing(&R->st[i].sock.h))
      uv_close(&R->st[i].sock.h, NULL);
  if (!uv_is_closing(&R->bridge.h))
    uv_close(&R->bridge.h, NULL);
  TW_RUN_IDLE(&R->loop);
  int lc = uv_loop_close(&R->loop);
  for (int i = 0; i < R->nst; i++)
    free(R->st[i].got);
  for (int i = 0; i < R->nprocs; i++)
    free(R->proc_out[i]);
  cow__frame_decoder_reset(&R->dec);
  cow_guest_transport_release(R->t);
  cow_rec_free(&R->rec);
#if !defined(_WIN32)
  if (kind == T_UNIX)
    rmdir(R->dir);
#endif
  if (R->fail[0])
    fail_msg("%s: %s", name, R->fail);
  assert_int_equal(lc, 0);
  int matched = 0;
  for (int i = 0; i < R->nh; i++)
    matched += R->hmatched[i];
  fprintf(stderr, "# %s: %d of %d recorded host frames matched, %d extra waits\n", name, matched,
          R->nh, R->extra_waits);
  if (kind != T_UNIX && R->ports.listens == 0)
    fail_msg("%s: the TCP transport never listened", name);
}

/* Recorded requests the library never produces, per scenario (seq numbers). */
static const int skip_d[] = {11, 0};             /* a 100 ms wait: the library waits forever */
static const int skip_e[] = {5, 7, 0};           /* finite waits */
static const int skip_f[] = {3, 5, 7, 9, 15, 0}; /* pids it never ran, a second wait */
static const int skip_i[] = {5, 7, 0};           /* empty/malformed queries: refused locally */
static const int skip_m[] = {15, 30, 36, 0};     /* finite waits; SIGKILL to an exited init is
                                                    answered locally (COW_ESRCH) */
struct scenario {
  const char *name;
  const int *skip;
};

static const struct scenario scenarios[] = {
    {"a_echo", NULL},          {"b_exit7", NULL},          {"c_cat_stdin", NULL},
    {"d_signal_kill", skip_d}, {"e_wait_timeout", skip_e}, {"f_unknown_pid", skip_f},
    {"g_tty", NULL},           {"h_dumpstacks", NULL},     {"i_getproperties", skip_i},
    {"j7_clean_close", NULL},  {"m_container", skip_m},
};
#define NSCENARIOS (sizeof scenarios / sizeof scenarios[0])

/* Every recording over every transport this platform has: the same frames and stdio
 * whatever carries them. */
static const enum tkind kinds[] = {
#if !defined(_WIN32)
    T_UNIX,
#endif
    T_TCP_UV,
#if defined(_WIN32)
    T_WINSOCK,
#endif
};
#define NKINDS (sizeof kinds / sizeof kinds[0])

struct run {
  const struct scenario *sc;
  enum tkind kind;
  char name[48]; /* "c_cat_stdin over tcp-uv" */
};

static void test_replay(void **state)
{
  const struct run *r = *state;
  replay(r->sc->name, r->sc->skip, r->kind);
}

int main(void)
{
  static struct run runs[NSCENARIOS * NKINDS];
  struct CMUnitTest tests[NSCENARIOS * NKINDS];
  static const char *const kind_names[] = {"unix", "tcp-uv", "winsock"};
  size_t n = 0;
  for (size_t k = 0; k < NKINDS; k++)
    for (size_t i = 0; i < NSCENARIOS; i++, n++) {
      runs[n].sc = &scenarios[i];
      runs[n].kind = kinds[k];
      snprintf(runs[n].name, sizeof runs[n].name, "%s over %s", scenarios[i].name,
               kind_names[kinds[k]]);
      tests[n] = (struct CMUnitTest){runs[n].name, test_replay, NULL, NULL, &runs[n]};
    }
  if (getenv("TEST_FILTER"))
    cmocka_set_test_filter(getenv("TEST_FILTER"));
  return _cmocka_run_group_tests("conformance_guest", tests, n, NULL, NULL);
}

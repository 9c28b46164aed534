/* Test support: replay a recording's host side against a guest program. See replay.h. */
#include "conformance/replay.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/alloc.h"
#include "guest/frame.h"
#include "support/tjson.h"

#define MAX_PORTS 64
#define MAX_PIDS  64
#define MAX_INBOX 64

typedef struct port_state {
  uint32_t port;
  int listen_fd;
  int fd;
  uint8_t *expected;
  size_t expected_len;
} port_state_t;

typedef struct replay {
  const cow_replay_opts_t *o;
  cow_replay_stats_t *stats;
  char dir[64];
  int listen_fd;
  int bridge;
  pid_t guest;
  int guest_status;
  int guest_reaped;
  cow__frame_decoder_t dec;
  int bridge_eof;
  cow__frame_t inbox[MAX_INBOX];
  size_t ninbox;
  port_state_t ports[MAX_PORTS];
  size_t nports;
  int64_t pid_from[MAX_PIDS], pid_to[MAX_PIDS];
  size_t npids;
  char *why;
  size_t whylen;
} replay_t;

static int fail(replay_t *r, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(r->why, r->whylen, fmt, ap);
  va_end(ap);
  return -1;
}

static int64_t now_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static unsigned timeout_ms(const replay_t *r)
{
  return r->o->frame_timeout_ms ? r->o->frame_timeout_ms : 15000;
}

/* Wait until fd is readable (or writable); 0 ready, -1 timeout/error. */
static int wait_fd(int fd, short ev, int64_t deadline)
{
  for (;;) {
    struct pollfd pf = {fd, ev, 0};
    int64_t left = deadline - now_ms();
    int rc;
    if (left < 0)
      return -1;
    rc = poll(&pf, 1, (int)left);
    if (rc > 0)
      return 0;
    if (rc == 0)
      return -1;
    if (errno != EINTR)
      return -1;
  }
}

static int write_all(replay_t *r, int fd, const uint8_t *p, size_t n)
{
  while (n) {
    ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
    if (w < 0) {
      if (errno == EINTR)
        continue;
      return fail(r, "write: %s", strerror(errno));
    }
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

static int unix_listen(replay_t *r, uint32_t port)
{
  struct sockaddr_un sa;
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  memset(&sa, 0, sizeof sa);
  sa.sun_family = AF_UNIX;
  snprintf(sa.sun_path, sizeof sa.sun_path, "%s/%u", r->dir, (unsigned)port);
  if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(fd, 4) < 0) {
    if (fd >= 0)
      close(fd);
    return fail(r, "listen on %s: %s", sa.sun_path, strerror(errno));
  }
  return fd;
}

static int accept_timeout(replay_t *r, int lfd, const char *what)
{
  int fd;
  if (wait_fd(lfd, POLLIN, now_ms() + timeout_ms(r)) < 0)
    return fail(r, "timed out waiting for the guest to connect %s", what);
  fd = accept(lfd, NULL, NULL);
  if (fd < 0)
    return fail(r, "accept %s: %s", what, strerror(errno));
  /* accept4 is not POSIX; the guest must not inherit test sockets. */
  fcntl(fd, F_SETFD, FD_CLOEXEC);
  return fd;
}

static port_state_t *port_get(replay_t *r, uint32_t port)
{
  size_t i;
  for (i = 0; i < r->nports; i++)
    if (r->ports[i].port == port)
      return &r->ports[i];
  if (r->nports == MAX_PORTS)
    return NULL;
  memset(&r->ports[r->nports], 0, sizeof r->ports[0]);
  r->ports[r->nports].port = port;
  r->ports[r->nports].listen_fd = -1;
  r->ports[r->nports].fd = -1;
  return &r->ports[r->nports++];
}

/* ---- bridge frames ---- */

/* Read one more frame into the inbox; 0 ok, 1 EOF, -1 error/timeout. */
static int read_frame(replay_t *r, int64_t deadline)
{
  uint8_t buf[65536];
  for (;;) {
    ssize_t n;
    size_t off = 0;
    if (r->bridge_eof)
      return 1;
    if (wait_fd(r->bridge, POLLIN, deadline) < 0)
      return fail(r, "timed out waiting for a frame from the guest");
    n = recv(r->bridge, buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      return fail(r, "bridge read: %s", strerror(errno));
    if (n == 0) {
      cow_error_t err = COW_ERROR_INIT;
      r->bridge_eof = 1;
      if (cow__frame_decoder_finish(&r->dec, &err) < 0) {
        fail(r, "bridge EOF inside a frame: %s", err.message ? err.message : "?");
        cow_error_clear(&err);
        return -1;
      }
      return 1;
    }
    while (off < (size_t)n) {
      cow__frame_t f = {0};
      size_t used = 0;
      cow_error_t err = COW_ERROR_INIT;
      int rc = cow__frame_decoder_feed(&r->dec, buf + off, (size_t)n - off, &used, &f, &err);
      off += used;
      if (rc < 0) {
        fail(r, "bad frame from the guest: %s", err.message ? err.message : "?");
        cow_error_clear(&err);
        return -1;
      }
      if (rc == 1) {
        if (r->ninbox == MAX_INBOX) {
          cow__frame_release(&f);
          return fail(r, "too many unmatched frames from the guest");
        }
        r->inbox[r->ninbox++] = f;
      }
    }
    if (r->ninbox)
      return 0;
  }
}

static int take_frame(replay_t *r, uint32_t type, uint64_t id, cow__frame_t *out)
{
  int64_t deadline = now_ms() + timeout_ms(r);
  for (;;) {
    size_t i;
    int rc;
    for (i = 0; i < r->ninbox; i++) {
      /* Notifications carry id 0 and are matched by type alone. */
      if (r->inbox[i].hdr.type == type &&
          (type == COW__MSG_CONTAINER_NOTIFICATION || r->inbox[i].hdr.id == id)) {
        *out = r->inbox[i];
        memmove(&r->inbox[i], &r->inbox[i + 1], (r->ninbox - i - 1) * sizeof r->inbox[0]);
        r->ninbox--;
        return 0;
      }
    }
    rc = read_frame(r, deadline);
    if (rc == 1)
      return fail(r, "the guest closed the bridge before sending type 0x%08x id %llu",
                  (unsigned)type, (unsigned long long)id);
    if (rc < 0) {
      size_t l = strlen(r->why);
      snprintf(r->why + l, r->whylen - l, " (expected type 0x%08x id %llu)", (unsigned)type,
               (unsigned long long)id);
      return -1;
    }
  }
}

static int64_t map_pid(const replay_t *r, int64_t pid)
{
  size_t i;
  for (i = 0; i < r->npids; i++)
    if (r->pid_from[i] == pid)
      return r->pid_to[i];
  return -1;
}

/* Rewrite recorded pids (ProcessId, and CommandArgs words equal to a recorded pid such as
 * "kill -KILL 11") to the live ones. Returns a new body or NULL when nothing changed. */
static char *rewrite_body(replay_t *r, const uint8_t *body, size_t len, size_t *outlen)
{
  json_t *o = json_loadb((const char *)body, len, 0, NULL);
  json_t *v, *settings, *pp;
  int changed = 0;
  char *out = NULL;
  if (!json_is_object(o)) {
    json_decref(o);
    return NULL;
  }
  v = json_object_get(o, "ProcessId");
  if (json_is_integer(v) && map_pid(r, json_integer_value(v)) >= 0) {
    TJ_OK(json_object_set_new(o, "ProcessId", json_integer(map_pid(r, json_integer_value(v)))));
    changed = 1;
  }
  settings = json_object_get(o, "Settings");
  pp = json_object_get(settings, "ProcessParameters");
  if (json_is_string(pp)) {
    json_t *params = json_loads(json_string_value(pp), 0, NULL);
    json_t *args = json_object_get(params, "CommandArgs");
    size_t i;
    int pchanged = 0;
    for (i = 0; json_is_array(args) && i < json_array_size(args); i++) {
      const char *a = json_string_value(json_array_get(args, i));
      char *end;
      long long n;
      if (!a || !*a)
        continue;
      n = strtoll(a, &end, 10);
      if (!*end && map_pid(r, n) >= 0) {
        char num[32];
        snprintf(num, sizeof num, "%lld", (long long)map_pid(r, n));
        TJ_OK(json_array_set_new(args, i, json_string(num)));
        pchanged = 1;
      }
    }
    if (pchanged) {
      char *inner = json_dumps(params, JSON_COMPACT);
      TJ_OK(json_object_set_new(settings, "ProcessParameters", json_string(inner)));
      free(inner);
      changed = 1;
    }
    json_decref(params);
  }
  if (changed) {
    out = json_dumps(o, JSON_COMPACT);
    *outlen = out ? strlen(out) : 0;
  }
  json_decref(o);
  return out;
}

/* Listeners for the stdio ports an ExecuteProcess names, created before it is sent. */
static int prepare_ports(replay_t *r, const cow_rec_t *rec)
{
  static const char *const keys[3] = {"StdIn", "StdOut", "StdErr"};
  json_t *o, *relay;
  int i;
  if (rec->type != COW__MSG_EXECUTE_PROCESS || rec->data_is_b64)
    return 0;
  o = json_loadb((const char *)rec->data, rec->data_len, 0, NULL);
  relay = json_object_get(json_object_get(o, "Settings"), "VsockStdioRelaySettings");
  for (i = 0; i < 3; i++) {
    json_t *p = json_object_get(relay, keys[i]);
    port_state_t *ps;
    if (!json_is_integer(p) || json_integer_value(p) == 0)
      continue;
    ps = port_get(r, (uint32_t)json_integer_value(p));
    if (!ps) {
      json_decref(o);
      return fail(r, "too many stdio ports");
    }
    if (ps->listen_fd < 0 && ps->fd < 0) {
      ps->listen_fd = unix_listen(r, ps->port);
      if (ps->listen_fd < 0) {
        json_decref(o);
        return -1;
      }
    }
  }
  json_decref(o);
  return 0;
}

/* Append one host->gcs frame (rewritten as needed) to buf. */
static int encode_frame(replay_t *r, const cow_rec_t *rec, uint8_t **buf, size_t *len)
{
  size_t nlen = 0, add;
  char *nbody = rec->data_is_b64 ? NULL : rewrite_body(r, rec->data, rec->data_len, &nlen);
  uint8_t *frame = NULL;
  size_t flen;
  if (nbody) {
    cow_error_t err = COW_ERROR_INIT;
    if (cow__frame_build(rec->type, rec->id, nbody, nlen, &frame, &flen, &err) < 0) {
      free(nbody);
      cow_error_clear(&err);
      return fail(r, "cannot rebuild frame seq %d", rec->seq);
    }
    free(nbody);
  }
  add = frame ? flen : 16 + rec->data_len;
  *buf = realloc(*buf, *len + add);
  if (!*buf) {
    cow__free(frame);
    return fail(r, "out of memory");
  }
  if (frame) {
    memcpy(*buf + *len, frame, flen);
    cow__free(frame);
  } else {
    /* Unchanged: the exact recorded bytes (also for malformed bodies). */
    memcpy(*buf + *len, rec->header, 16);
    if (rec->data_len)
      memcpy(*buf + *len + 16, rec->data, rec->data_len);
  }
  *len += add;
  return 0;
}

static int check_frame(replay_t *r, const cow_rec_t *rec)
{
  cow__frame_t f;
  char why[1024];
  const cow_cmp_rule_t *rules = r->o->rules ? r->o->rules : cow_cmp_default_rules;
  if (take_frame(r, rec->type, rec->id, &f) < 0)
    return -1;
  if (cow_cmp_bodies(rec->data, rec->data_len, f.payload, f.payload_len, rules, why, sizeof why) <
      0) {
    fail(r, "frame seq %d (%s id %llu) differs: %s\n  got: %.1500s", rec->seq,
         rec->type_name ? rec->type_name : "?", (unsigned long long)rec->id, why,
         (const char *)f.payload);
    cow__frame_release(&f);
    return -1;
  }
  /* Learn the live pid of each recorded ExecuteProcess. */
  if (rec->type == COW__MSG_EXECUTE_PROCESS_RESPONSE) {
    json_t *e = json_loadb((const char *)rec->data, rec->data_len, 0, NULL);
    json_t *a = json_loadb((const char *)f.payload, f.payload_len, 0, NULL);
    json_t *ep = json_object_get(e, "ProcessId"), *ap = json_object_get(a, "ProcessId");
    if (json_is_integer(ep) && json_is_integer(ap) && r->npids < MAX_PIDS) {
      r->pid_from[r->npids] = json_integer_value(ep);
      r->pid_to[r->npids++] = json_integer_value(ap);
    }
    json_decref(e);
    json_decref(a);
  }
  cow__frame_release(&f);
  r->stats->frames_compared++;
  return 0;
}

/* ---- stdio ---- */

static int read_to_eof(replay_t *r, int fd, uint8_t **out, size_t *len)
{
  int64_t deadline = now_ms() + timeout_ms(r);
  *out = NULL;
  *len = 0;
  for (;;) {
    uint8_t buf[8192];
    ssize_t n;
    if (wait_fd(fd, POLLIN, deadline) < 0)
      return fail(r, "timed out waiting for stdio EOF (have %zu bytes)", *len);
    n = read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      return fail(r, "stdio read: %s", strerror(errno));
    if (n == 0)
      return 0;
    *out = realloc(*out, *len + (size_t)n + 1);
    memcpy(*out + *len, buf, (size_t)n);
    *len += (size_t)n;
    (*out)[*len] = 0;
  }
}

static int play_stdio(replay_t *r, const cow_rec_t *rec)
{
  port_state_t *ps = port_get(r, rec->port);
  if (!ps)
    return fail(r, "too many stdio ports");
  if (rec->event && !strcmp(rec->event, "connected")) {
    char what[64];
    if (ps->listen_fd < 0)
      return fail(r, "stdio port %u connected but no ExecuteProcess named it", rec->port);
    snprintf(what, sizeof what, "%s port %u", rec->stream ? rec->stream : "?", rec->port);
    ps->fd = accept_timeout(r, ps->listen_fd, what);
    close(ps->listen_fd);
    ps->listen_fd = -1;
    return ps->fd < 0 ? -1 : 0;
  }
  if (ps->fd < 0)
    return fail(r, "stdio record for port %u before it connected", rec->port);
  if (!rec->event) {
    if (rec->dir == COW_REC_HOST_TO_GCS)
      return write_all(r, ps->fd, rec->data, rec->data_len);
    ps->expected = realloc(ps->expected, ps->expected_len + rec->data_len + 1);
    memcpy(ps->expected + ps->expected_len, rec->data, rec->data_len);
    ps->expected_len += rec->data_len;
    ps->expected[ps->expected_len] = 0;
    return 0;
  }
  if (!strcmp(rec->event, "EOF")) {
    uint8_t *got;
    size_t len;
    char why[1024] = "";
    int bad;
    if (read_to_eof(r, ps->fd, &got, &len) < 0) {
      free(got);
      return -1;
    }
    if (r->o->stdio_check)
      bad = r->o->stdio_check(r->o->ctx, rec->port, rec->stream, ps->expected, ps->expected_len,
                              got, len, why, sizeof why) != 0;
    else
      bad = len != ps->expected_len || (len && memcmp(got, ps->expected, len) != 0);
    if (bad) {
      fail(r, "%s on port %u: got \"%.*s\", expected \"%.*s\" %s", rec->stream, rec->port,
           (int)(len > 400 ? 400 : len), got ? (const char *)got : "",
           (int)(ps->expected_len > 400 ? 400 : ps->expected_len),
           ps->expected ? (const char *)ps->expected : "", why);
      free(got);
      return -1;
    }
    free(got);
    r->stats->stdio_compared++;
    return 0;
  }
  if (!strncmp(rec->event, "host close", 10)) {
    close(ps->fd);
    ps->fd = -1;
    return 0;
  }
  if (!strncmp(rec->event, "host shutdown", 13)) {
    shutdown(ps->fd, SHUT_WR);
    return 0;
  }
  return fail(r, "unknown stdio event '%s'", rec->event);
}

/* ---- guest process ---- */

static int start_guest(replay_t *r)
{
  const char *argv[32];
  size_t n = 0, i;
  argv[n++] = r->o->guest_path;
  argv[n++] = "--port-dir";
  argv[n++] = r->dir;
  for (i = 0; r->o->guest_args && r->o->guest_args[i] && n < 31; i++)
    argv[n++] = r->o->guest_args[i];
  argv[n] = NULL;
  r->guest = fork();
  if (r->guest < 0)
    return fail(r, "fork: %s", strerror(errno));
  if (r->guest == 0) {
    execv(argv[0], (char *const *)argv);
    _exit(127);
  }
  return 0;
}

/* Wait up to ms for the guest to exit; 0 when it did. */
static int wait_guest(replay_t *r, unsigned ms)
{
  int64_t deadline = now_ms() + ms;
  while (!r->guest_reaped) {
    pid_t p = waitpid(r->guest, &r->guest_status, WNOHANG);
    struct timespec ts = {0, 10 * 1000 * 1000};
    if (p == r->guest) {
      r->guest_reaped = 1;
      break;
    }
    if (now_ms() > deadline)
      return -1;
    nanosleep(&ts, NULL);
  }
  return 0;
}

static void cleanup(replay_t *r)
{
  size_t i;
  char path[128];
  if (r->bridge >= 0)
    close(r->bridge);
  if (r->listen_fd >= 0)
    close(r->listen_fd);
  for (i = 0; i < r->nports; i++) {
    if (r->ports[i].fd >= 0)
      close(r->ports[i].fd);
    if (r->ports[i].listen_fd >= 0)
      close(r->ports[i].listen_fd);
    free(r->ports[i].expected);
    snprintf(path, sizeof path, "%s/%u", r->dir, (unsigned)r->ports[i].port);
    unlink(path);
  }
  for (i = 0; i < r->ninbox; i++)
    cow__frame_release(&r->inbox[i]);
  r->ninbox = 0;
  cow__frame_decoder_reset(&r->dec);
  if (r->guest > 0 && !r->guest_reaped) {
    if (wait_guest(r, 3000) < 0) {
      kill(r->guest, SIGKILL);
      waitpid(r->guest, &r->guest_status, 0);
      r->guest_reaped = 1;
    }
  }
  snprintf(path, sizeof path, "%s/%u", r->dir, 1073741824u);
  unlink(path);
  rmdir(r->dir);
}

static int run(replay_t *r, const cow_recording_t *rec)
{
  size_t i;
  r->listen_fd = unix_listen(r, 1073741824u);
  if (r->listen_fd < 0)
    return -1;
  if (start_guest(r) < 0)
    return -1;
  r->bridge = accept_timeout(r, r->listen_fd, "the bridge");
  if (r->bridge < 0)
    return -1;
  for (i = 0; i < rec->count; i++) {
    const cow_rec_t *x = &rec->recs[i];
    if (x->kind == COW_REC_FRAME && x->dir == COW_REC_HOST_TO_GCS) {
      uint8_t *buf = NULL;
      size_t len = 0, j;
      /* Consecutive host frames go out in one write (j3 pipelines this way). */
      for (j = i; j < rec->count && rec->recs[j].kind == COW_REC_FRAME &&
                  rec->recs[j].dir == COW_REC_HOST_TO_GCS;
           j++) {
        if (prepare_ports(r, &rec->recs[j]) < 0 || encode_frame(r, &rec->recs[j], &buf, &len) < 0) {
          free(buf);
          return -1;
        }
        r->stats->frames_sent++;
      }
      if (write_all(r, r->bridge, buf, len) < 0) {
        free(buf);
        return -1;
      }
      free(buf);
      i = j - 1;
    } else if (x->kind == COW_REC_FRAME && x->dir == COW_REC_GCS_TO_HOST) {
      if (check_frame(r, x) < 0)
        return -1;
    } else if (x->kind == COW_REC_STDIO) {
      if (play_stdio(r, x) < 0)
        return -1;
    } else if (x->kind == COW_REC_NOTE && x->text &&
               strstr(x->text, "host: shutdown(SHUT_WR) on the bridge socket")) {
      shutdown(r->bridge, SHUT_WR);
    }
  }
  /* Anything else the guest sends: briefly wait for stragglers. */
  {
    int64_t deadline = now_ms() + (r->o->expect_guest_close ? timeout_ms(r) : 300);
    for (;;) {
      int rc;
      while (r->ninbox) {
        cow__frame_t f = r->inbox[0];
        char why[512] = "";
        memmove(&r->inbox[0], &r->inbox[1], (r->ninbox - 1) * sizeof r->inbox[0]);
        r->ninbox--;
        r->stats->extra_frames++;
        if (!r->o->extra_frame || r->o->extra_frame(r->o->ctx, f.hdr.type, f.hdr.id, f.payload,
                                                    f.payload_len, why, sizeof why) != 0) {
          fail(r, "unexpected frame from the guest: type 0x%08x id %llu: %.600s %s",
               (unsigned)f.hdr.type, (unsigned long long)f.hdr.id, (const char *)f.payload, why);
          cow__frame_release(&f);
          return -1;
        }
        cow__frame_release(&f);
      }
      if (r->bridge_eof)
        break;
      if (wait_fd(r->bridge, POLLIN, deadline) < 0) {
        if (r->o->expect_guest_close)
          return fail(r, "the guest did not close the bridge");
        break;
      }
      rc = read_frame(r, deadline);
      if (rc < 0)
        return -1;
    }
    if (r->bridge_eof && !r->o->expect_guest_close)
      return fail(r, "the guest closed the bridge unexpectedly");
  }
  /* The host goes away; a well-behaved guest exits by itself. */
  close(r->bridge);
  r->bridge = -1;
  if (wait_guest(r, 5000) < 0)
    return fail(r, "the guest did not exit within 5 s after the bridge closed");
  if (!WIFEXITED(r->guest_status) || WEXITSTATUS(r->guest_status) != r->o->expect_exit_status)
    return fail(r, "the guest ended with status 0x%x, expected exit %d", r->guest_status,
                r->o->expect_exit_status);
  return 0;
}

int cow_replay_run(const cow_replay_opts_t *opts, cow_replay_stats_t *stats, char *why,
                   size_t whylen)
{
  replay_t r;
  cow_recording_t rec;
  char *path;
  cow_replay_stats_t dummy;
  int rc;
  memset(&r, 0, sizeof r);
  if (!stats)
    stats = &dummy;
  memset(stats, 0, sizeof *stats);
  r.o = opts;
  r.stats = stats;
  r.why = why;
  r.whylen = whylen;
  r.listen_fd = r.bridge = -1;
  cow__frame_decoder_init(&r.dec, 0);
  path = cow_rec_path(opts->scenario);
  if (!path || cow_rec_load(path, &rec, why, whylen) < 0) {
    free(path);
    return -1;
  }
  free(path);
  snprintf(r.dir, sizeof r.dir, "/tmp/cow-conf-XXXXXX");
  if (!mkdtemp(r.dir)) {
    cow_rec_free(&rec);
    return fail(&r, "mkdtemp: %s", strerror(errno));
  }
  rc = run(&r, &rec);
  cleanup(&r);
  cow_rec_free(&rec);
  return rc;
}

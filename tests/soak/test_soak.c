/* The soak (docs/reliability.md, "The soak"): rounds of processes and containers against
 * the peer while the peer misbehaves at random (its fault switches), is frozen and thawed
 * (SIGSTOP/SIGCONT) or killed (SIGKILL), with slow readers, consumers that drop their
 * output (after the create or while it is still in flight) and consumers that close the
 * process at once. After each round: every callback ran exactly once (an error always with
 * its message), no file descriptor, socket file or child process is left, the library's
 * heap is back where it was, and every wait ended (each is bounded: a hang fails naming the
 * round, its seed and what is owed). In a round whose faults only slow the peer down, every
 * result is also checked: exit codes, every byte, every create and terminate. Over the
 * rounds the resident set stays flat.
 *
 *   test_soak PEER [ROUNDS [SEED [FIRST]]]   rounds FIRST.. FIRST+ROUNDS-1 (FIRST default 1);
 *                                            SEED default 1, 0: from the clock
 *   COW_SOAK_ROUNDS, COW_SOAK_SEED           override ROUNDS and SEED (for ctest)
 *   COW_SOAK_LOG=N                           the library's log at level N on stderr
 *
 * Each round draws its plan (faults, chaos, processes) from SEED and its own number only,
 * and prints it first: `test_soak PEER 1 SEED R` replays round R's plan alone. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "cow.h"
#include "cow/guest.h"
#include "cow/stdio.h"
#include "support/rss.h"
#include "support/test-backend.h"
#include "support/wait.h"

static const char *peer_path;
static int rounds = 12, first_round = 1;
static unsigned long seed = 1;

/* ---- randomness: xorshift streams, replayable from (seed, round) ---- */

/* `plan` draws everything decided before the round starts (so a replay has the same plan);
 * `live` what timing decides (which slow reader pauses when). */
static uint64_t plan_rng, live_rng;

static unsigned draw(uint64_t *s, unsigned n)
{
  *s ^= *s << 13;
  *s ^= *s >> 7;
  *s ^= *s << 17;
  return n ? (unsigned)(*s % n) : 0;
}
#define PLAN(n) draw(&plan_rng, (n))
#define LIVE(n) draw(&live_rng, (n))

static uint64_t mix(uint64_t x) /* splitmix64's finaliser */
{
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return (x ^ (x >> 31)) | 1;
}

/* ---- one round's state ---- */

enum kind {
  K_OUTPUT,          /* 300000 bytes on stdout, 4 on stderr, exit 3 */
  K_CAT,             /* 64 KiB on stdin echoed to stdout, then stdin closed: exit 0 */
  K_SLEEP,           /* runs until killed (containers only: the agent signals only those) */
  K_CLOSED_CONSUMER, /* stdout closed as soon as the create completed */
  K_STOP,            /* ignores SIGTERM: cow_process_stop must escalate (containers only) */
  K_MISSING,         /* no such program: the create fails */
  K_DROP_EARLY,      /* stdout closed while the create is still in flight */
  K_ABANDON,         /* the process handle closed right after the create call */
  K_KINDS
};
static const char *const kind_names[K_KINDS] = {
    "output", "cat", "sleep", "closed-consumer", "stop", "missing", "drop-early", "abandoned"};

#define MAXP         16
#define MAXC         3
#define OUTPUT_BYTES 300000u

struct proc {
  cow_process_t *p;
  enum kind kind;
  int in_container, slow;
  int created, create_status;
  int waited, wait_status;
  int64_t code;
  int stop_cb, stop_status, kill_cb, stdin_cb, stdout_cb, stdout_status;
  int closing, closed;
  int reading;
  uint64_t got, got_err;
  uv_write_t wr;
};

struct ctr {
  cow_container_t *c;
  int created, create_status;
  int terminated, terminate_status, closed;
  struct proc init;
};

/* One event of the peer's chaos: at `at_ms` after the start, send `sig`. */
struct chaos_event {
  uint64_t at_ms;
  int sig;
};

static struct {
  int round;
  uv_loop_t loop;
  int loop_open;
  char dir[64];
  cow_guest_transport_t *t;
  cow_host_t *host;
  int connected, connect_status, host_closed;
  uv_process_t peer;
  int peer_started, peer_exited, peer_signal;
  struct proc procs[MAXP];
  int nprocs;
  struct ctr ctrs[MAXC];
  int nctrs;
  uv_timer_t chaos, slow, over;
  struct chaos_event events[5];
  int nevents, next_event, frozen, killed, round_over;
  int killing, closing;      /* the round's kills were sent; its handles are being closed */
  uint64_t end_ms, close_ms; /* how long the kills and terminates, the closes took */
  int benign;                /* the faults only slow the peer down: every result is checked too */
  int ops_started, ops_done; /* every callback asked for, every callback seen */
  char faults[200], chaos_text[120];
} R;

static char payload[65536];
static uint64_t longest_end_ms, longest_close_ms; /* over the rounds, for the summary */
static long total_callbacks;
static char where[400]; /* "round R (seed S; replay: ...)" for every failure */

static void refresh_where(void)
{
  snprintf(where, sizeof where, "round %d of seed %lu [%s%s%s] (replay: test_soak PEER 1 %lu %d)",
           R.round, seed, R.faults, R.chaos_text[0] ? "; " : "", R.chaos_text, seed, R.round);
}

#define OP_STARTED(rc)                                                                             \
  do {                                                                                             \
    if ((rc) == 0)                                                                                 \
      R.ops_started++;                                                                             \
  } while (0)

/* Exactly once, and an error always with its message: a callback's counter goes from 0 to
 * 1, never further. */
static void once(int *counter, const char *what, int status, const cow_error_t *err)
{
  if (*counter != 0)
    fail_msg("%s: the %s callback ran twice", where, what);
  if (status < 0 && (err == NULL || err->message == NULL || err->message[0] == '\0'))
    fail_msg("%s: the %s callback failed with %s and no message", where, what,
             cow_err_name(status));
  *counter = 1;
  R.ops_done++;
}

/* ---- callbacks ---- */

static void start_process(struct proc *pr, cow_host_t *host, enum kind k, int in_container,
                          const char *doc);

static void on_connected(cow_host_t *h, int status, const cow_error_t *err, void *data)
{
  (void)h, (void)data;
  once(&R.connected, "connect", status, err);
  R.connect_status = status;
}

static void on_host_closed(cow_host_t *h, void *data)
{
  (void)h, (void)data;
  once(&R.host_closed, "host close", 0, NULL);
}

static void alloc_cb(uv_handle_t *h, size_t n, uv_buf_t *b)
{
  static char buf[65536];
  (void)h, (void)n;
  *b = uv_buf_init(buf, sizeof buf);
}

static void read_cb(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
  (void)b;
  struct proc *pr = s->data;
  if (n > 0)
    pr->got += (uint64_t)n;
}

static void read_err_cb(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
  (void)b;
  struct proc *pr = s->data;
  if (n > 0)
    pr->got_err += (uint64_t)n;
}

static void on_stdout_closed(cow_process_t *p, int status, const cow_error_t *err, void *data)
{
  (void)p;
  struct proc *pr = data;
  once(&pr->stdout_cb, "close_stdout", status, err);
  pr->stdout_status = status;
}

static void on_stdin_closed(cow_process_t *p, int status, const cow_error_t *err, void *data)
{
  (void)p;
  once(&((struct proc *)data)->stdin_cb, "close_stdin", status, err);
}

static void on_stopped(cow_process_t *p, int status, int64_t code, int forced,
                       const cow_error_t *err, void *data)
{
  (void)p, (void)code, (void)forced;
  struct proc *pr = data;
  once(&pr->stop_cb, "stop", status, err);
  pr->stop_status = status;
}

static void start_reading(struct proc *pr)
{
  if (!pr->reading && cow_process_read_start(pr->p, COW_STDOUT, alloc_cb, read_cb) == 0)
    pr->reading = 1;
}

static void on_created(cow_process_t *p, int status, const cow_error_t *err, void *data)
{
  struct proc *pr = data;
  once(&pr->created, "create_process", status, err);
  pr->create_status = status;
  if (status != 0 || pr->closing)
    return;
  uv_stream_t *out = NULL;
  if (pr->kind != K_DROP_EARLY && cow_process_stdio(NULL, &out, NULL, p) == 0 && out != NULL) {
    out->data = pr;
    start_reading(pr);
  }
  uv_stream_t *errs = NULL;
  if (pr->kind == K_OUTPUT && cow_process_stdio(NULL, NULL, &errs, p) == 0 && errs != NULL) {
    errs->data = pr;
    if (cow_process_read_start(p, COW_STDERR, alloc_cb, read_err_cb) != 0)
      fail_msg("%s: cannot read the stderr of a new process", where);
  }
  if (pr->kind == K_CLOSED_CONSUMER) /* the reader goes away at once */
    OP_STARTED(cow_process_close_stdout(p, on_stdout_closed, pr));
  if (pr->kind == K_CAT) {
    uv_stream_t *in = NULL;
    if (cow_process_stdio(&in, NULL, NULL, p) == 0 && in != NULL) {
      uv_buf_t b = uv_buf_init(payload, sizeof payload);
      if (uv_write(&pr->wr, in, &b, 1, NULL) != 0)
        fail_msg("%s: cannot write to a new process's stdin", where);
    }
    OP_STARTED(cow_process_close_stdin(p, on_stdin_closed, pr));
  }
  if (pr->kind == K_STOP)
    OP_STARTED(cow_process_stop(p, "{\"Signal\":15}", 200, on_stopped, pr));
}

static void on_waited(cow_process_t *p, int status, int64_t code, const cow_error_t *err,
                      void *data)
{
  (void)p;
  struct proc *pr = data;
  once(&pr->waited, "wait", status, err);
  pr->wait_status = status;
  pr->code = code;
}

static void on_killed(cow_process_t *p, int status, const cow_error_t *err, void *data)
{
  (void)p;
  once(&((struct proc *)data)->kill_cb, "kill", status, err);
}

static void on_proc_closed(cow_process_t *p, void *data)
{
  (void)p;
  once(&((struct proc *)data)->closed, "process close", 0, NULL);
}

static void on_ctr_created(cow_container_t *c, int status, const cow_error_t *err, void *data)
{
  struct ctr *k = data;
  once(&k->created, "create_container", status, err);
  k->create_status = status;
  if (status == 0) /* its init: the first process without OciProcess */
    start_process(&k->init, cow_container_host(c), K_SLEEP, 1, "{}");
}

static void on_ctr_terminated(cow_container_t *c, int status, const cow_error_t *err, void *data)
{
  (void)c;
  struct ctr *k = data;
  once(&k->terminated, "terminate", status, err);
  k->terminate_status = status;
}

static void on_ctr_closed(cow_container_t *c, void *data)
{
  (void)c;
  once(&((struct ctr *)data)->closed, "container close", 0, NULL);
}

static void on_peer_exit(uv_process_t *p, int64_t status, int sig)
{
  (void)status;
  R.peer_exited = 1;
  R.peer_signal = sig;
  uv_close((uv_handle_t *)p, NULL);
}

/* ---- documents ---- */

/* A process document: in the utility VM (CommandArgs) or exec'd into a container
 * (OciProcess). A dropped output ends the program in the utility VM, whose stdio is the
 * socket itself (`yes` dies of SIGPIPE: the close reached the guest); a container's relay
 * drains what no one reads, so there the program ends by itself. */
static char *process_doc(enum kind k, int in_container)
{
  const char *script = NULL;
  switch (k) {
  case K_OUTPUT:
  case K_ABANDON:
    script = "head -c 300000 /dev/zero; echo err >&2; exit 3";
    break;
  case K_CAT:
    script = "exec cat";
    break;
  case K_SLEEP:
    script = "exec sleep 30";
    break;
  case K_STOP:
    script = "trap '' TERM; exec sleep 30";
    break;
  case K_CLOSED_CONSUMER:
  case K_DROP_EARLY:
    script = in_container ? "head -c 1000000 /dev/zero" : "exec yes soak";
    break;
  default:
    break;
  }
  json_t *a = script == NULL ? json_pack("[s]", "/nonexistent/soak")
                             : json_pack("[s,s,s]", "/bin/sh", "-c", script);
  json_t *o = NULL;
  if (a != NULL && in_container)
    o = json_pack("{s:{s:b, s:o, s:[s], s:s, s:{s:i,s:i}}, s:s, s:b, s:b, s:b}", "OciProcess",
                  "terminal", 0, "args", a, "env", "PATH=/usr/sbin:/usr/bin:/sbin:/bin", "cwd", "/",
                  "user", "uid", 0, "gid", 0, "WorkingDirectory", "/", "CreateStdOutPipe", 1,
                  "CreateStdInPipe", k == K_CAT, "CreateStdErrPipe", k == K_OUTPUT);
  else if (a != NULL)
    o = json_pack("{s:o, s:s, s:b, s:b, s:b}", "CommandArgs", a, "WorkingDirectory", "/",
                  "CreateStdOutPipe", 1, "CreateStdInPipe", k == K_CAT, "CreateStdErrPipe",
                  k == K_OUTPUT);
  if (o == NULL)
    fail_msg("%s: cannot build a process document", where);
  char *s = json_dumps(o, JSON_COMPACT);
  json_decref(o);
  if (s == NULL)
    fail_msg("%s: cannot serialise a process document", where);
  return s;
}

/* The container's document as a shim builds it (each container in a network namespace of
 * its own: the agent refuses a second one in namespace ""), its root the peer's own. */
static char *container_doc(const char *cid)
{
  static const char spec[] =
      "{\"ociVersion\":\"1.0.2-dev\",\"process\":{\"terminal\":false,\"user\":{\"uid\":0,"
      "\"gid\":0},\"args\":[\"/bin/sleep\",\"1000\"],\"env\":[\"PATH=/usr/sbin:/usr/bin:"
      "/sbin:/bin\"],\"cwd\":\"/\"},\"root\":{\"path\":\"/\"},\"linux\":{}}";
  cow_guest_container_params_t params = COW_GUEST_CONTAINER_PARAMS_INIT;
  char scratch[160], *doc = NULL;
  snprintf(scratch, sizeof scratch, "/run/gcs/c/%s/scratch", cid);
  params.id = cid;
  params.oci_spec_json = spec;
  params.scratch_dir = scratch;
  params.root_path = "/";
  if (cow_guest_container_config_json(&doc, NULL, NULL, &params, NULL) != 0)
    fail_msg("%s: cannot build a container document", where);
  return doc;
}

static void start_process(struct proc *pr, cow_host_t *host, enum kind k, int in_container,
                          const char *doc)
{
  int slow = pr->slow;
  memset(pr, 0, sizeof *pr);
  pr->kind = k;
  pr->in_container = in_container;
  pr->slow = slow;
  char *own = doc ? NULL : process_doc(k, in_container);
  int rc = cow_host_create_process(&pr->p, host, doc ? doc : own, on_created, pr);
  free(own);
  if (rc != 0) {
    pr->p = NULL; /* refused at the call (the bridge is gone already): nothing to wait for */
    return;
  }
  R.ops_started++;
  if (k == K_DROP_EARLY) /* the consumer leaves before the create completed */
    OP_STARTED(cow_process_close_stdout(pr->p, on_stdout_closed, pr));
  if (k == K_ABANDON) { /* the consumer leaves altogether: everything completes, canceled */
    OP_STARTED(cow_process_wait(pr->p, on_waited, pr));
    if (cow_process_close(pr->p, on_proc_closed, pr) == 0) {
      R.ops_started++;
      pr->closing = 1;
    }
    return;
  }
  OP_STARTED(cow_process_wait(pr->p, on_waited, pr));
}

/* ---- chaos: the peer frozen and thawed, or killed; slow readers ---- */

static void chaos_cb(uv_timer_t *t)
{
  if (R.next_event >= R.nevents || !R.peer_started || R.peer_exited)
    return;
  const struct chaos_event *e = &R.events[R.next_event++];
  uv_process_kill(&R.peer, e->sig);
  if (e->sig == SIGKILL)
    R.killed = 1;
  R.frozen = e->sig == SIGSTOP;
  if (R.next_event < R.nevents)
    uv_timer_start(t, chaos_cb, R.events[R.next_event].at_ms - e->at_ms, 0);
}

static void slow_cb(uv_timer_t *t)
{
  (void)t;
  for (int i = 0; i < R.nprocs; i++) {
    struct proc *pr = &R.procs[i];
    if (!pr->slow || pr->created != 1 || pr->create_status != 0 || pr->closing || LIVE(2))
      continue;
    if (pr->reading) {
      if (cow_process_read_stop(pr->p, COW_STDOUT) == 0)
        pr->reading = 0;
    } else {
      start_reading(pr);
    }
  }
}

static void over_cb(uv_timer_t *t)
{
  (void)t;
  R.round_over = 1;
}

/* ---- the plan ---- */

static const char *const rpcs[] = {"ExecuteProcess", "SignalProcess", "ShutdownGraceful",
                                   "ShutdownForced", "Create",        "WaitForProcess"};

/* The peer's switches for this round: none in one round of three, else one or two. Only
 * --delay-ms, --reorder, --notify-unknown and --output-late leave the round benign. */
static int pick_faults(char **argv, int n, char (*store)[16])
{
  int kinds = PLAN(3) == 0 ? 0 : 1 + (int)PLAN(2);
  R.benign = 1;
  for (int k = 0; k < kinds; k++) {
    unsigned f = PLAN(9);
    const char *flag = NULL;
    unsigned value = 0;
    switch (f) {
    case 0:
      flag = "--delay-ms", value = 5 + PLAN(200);
      break;
    case 1:
      flag = "--reorder";
      break;
    case 2:
      flag = "--drop-after", value = 2 + PLAN(40);
      break;
    case 3:
      flag = "--garbage-after", value = 2 + PLAN(40);
      break;
    case 4:
      flag = "--truncate-after", value = 2 + PLAN(40);
      break;
    case 5:
      flag = "--output-late", value = 50 + PLAN(300);
      break;
    case 6:
      flag = "--never-answer";
      break;
    case 7:
      flag = "--notify-unknown";
      break;
    default:
      flag = "--oversize-after", value = 2 + PLAN(40);
      break;
    }
    R.benign &= f == 0 || f == 1 || f == 5 || f == 7;
    argv[n++] = (char *)flag;
    if (f == 6) {
      argv[n++] = (char *)rpcs[PLAN(sizeof rpcs / sizeof rpcs[0])];
    } else if (value) {
      snprintf(store[n], 16, "%u", value);
      argv[n] = store[n];
      n++;
    }
  }
  argv[n] = NULL;
  return n;
}

/* None in one round of two; else a SIGKILL at a random time (one in three of the rest),
 * or one or two freezes of 100-1100 ms. */
static void pick_chaos(void)
{
  unsigned c = PLAN(4);
  uint64_t at = PLAN(600);
  c = c < 2 ? 0 : c - 1;
  size_t used = 0;
  R.chaos_text[0] = '\0';
  if (c == 0)
    return;
  if (PLAN(3) == 0) {
    R.events[R.nevents++] = (struct chaos_event){at, SIGKILL};
  } else {
    for (unsigned i = 0; i < c; i++) {
      R.events[R.nevents++] = (struct chaos_event){at, SIGSTOP};
      at += 100 + PLAN(1000);
      R.events[R.nevents++] = (struct chaos_event){at, SIGCONT};
      at += 50 + PLAN(300);
    }
  }
  for (int i = 0; i < R.nevents; i++)
    used += (size_t)snprintf(R.chaos_text + used, sizeof R.chaos_text - used, "%s%s at %llu ms",
                             i ? ", " : "",
                             R.events[i].sig == SIGKILL   ? "SIGKILL"
                             : R.events[i].sig == SIGSTOP ? "SIGSTOP"
                                                          : "SIGCONT",
                             (unsigned long long)R.events[i].at_ms);
  R.benign = 0;
}

/* ---- waits and checks ---- */

/* What is still owed, for a failure message: only the handles that owe something. */
static void describe(char *buf, size_t len)
{
  size_t used = 0;
  used += (size_t)snprintf(buf, len, "%d of %d callbacks%s%s; owed:", R.ops_done, R.ops_started,
                           R.frozen ? " (peer frozen)" : "", R.peer_exited ? " (peer gone)" : "");
  for (int i = 0; i < R.nprocs + R.nctrs && used < len; i++) {
    const struct proc *pr = i < R.nprocs ? &R.procs[i] : &R.ctrs[i - R.nprocs].init;
    if (pr->p == NULL)
      continue;
    char owed[160];
    snprintf(owed, sizeof owed, "%s%s%s%s%s%s%s", pr->created ? "" : " create",
             pr->waited ? "" : " wait",
             pr->kind == K_STOP && pr->created && !pr->stop_cb ? " stop" : "",
             pr->kind == K_CAT && pr->created && !pr->stdin_cb ? " close_stdin" : "",
             (pr->kind == K_DROP_EARLY || (pr->kind == K_CLOSED_CONSUMER && pr->created)) &&
                     !pr->stdout_cb
                 ? " close_stdout"
                 : "",
             R.killing && i < R.nprocs && !pr->kill_cb && !pr->waited ? " kill" : "",
             R.closing && !pr->closed ? " close" : "");
    if (owed[0] != '\0')
      used += (size_t)snprintf(buf + used, len - used, " %s%d (%s):%s", i < R.nprocs ? "p" : "init",
                               i < R.nprocs ? i : i - R.nprocs, kind_names[pr->kind], owed);
  }
  for (int i = 0; i < R.nctrs && used < len; i++) {
    const struct ctr *k = &R.ctrs[i];
    if (k->c != NULL && (!k->created || (R.killing && !k->terminated) || (R.closing && !k->closed)))
      used += (size_t)snprintf(
          buf + used, len - used, " c%d:%s%s%s", i, k->created ? "" : " create",
          R.killing && !k->terminated ? " terminate" : "", R.closing && !k->closed ? " close" : "");
  }
}

/* Run until `*done` (or every callback asked for, when `done` is NULL); fail naming what is
 * owed. */
static uint64_t settle(const char *stage, int (*done)(void))
{
  uint64_t t0 = uv_hrtime();
  tw_t w;
  tw_begin(&w, &R.loop, tw_deadline_ms());
  while (!(done ? done() : R.ops_done >= R.ops_started) && tw_step(&w))
    ;
  int ok = done ? done() : R.ops_done >= R.ops_started;
  char what[1500] = "";
  if (!ok) {
    char owed[1000];
    describe(owed, sizeof owed);
    snprintf(what, sizeof what, "%s: %s: %s", where, stage, owed);
  }
  tw_end(&w, ok, what, __FILE__, __LINE__);
  return (uv_hrtime() - t0) / 1000000u;
}

static int ends_by_itself(const struct proc *pr)
{
  return pr->kind != K_SLEEP && pr->kind != K_STOP;
}

/* Benign rounds: every process that ends by itself has ended (and its output was read). */
static int natural_ends_seen(void)
{
  for (int i = 0; i < R.nprocs; i++) {
    const struct proc *pr = &R.procs[i];
    if (pr->p != NULL && !pr->closing && ends_by_itself(pr) && !pr->waited)
      return 0;
  }
  return 1;
}

static int creates_done(void)
{
  for (int i = 0; i < R.nprocs; i++)
    if (R.procs[i].p != NULL && !R.procs[i].created)
      return 0;
  return 1;
}

static int containers_started(void)
{
  for (int i = 0; i < R.nctrs; i++) {
    const struct ctr *k = &R.ctrs[i];
    if (k->c != NULL &&
        !(k->created && (k->create_status != 0 || k->init.p == NULL || k->init.created)))
      return 0;
  }
  return 1;
}

static int count_entries(const char *dir)
{
  int n = 0;
  DIR *d = opendir(dir);
  if (d == NULL)
    return -1;
  for (struct dirent *e; (e = readdir(d)) != NULL;)
    n += e->d_name[0] != '.';
  closedir(d);
  return n;
}

static int count_fds(void)
{
  return count_entries("/proc/self/fd") - 1; /* the directory's own */
}

/* One child: counted, and killed when asked; `live` counts those not yet dead. */
static void visit_child(pid_t pid, int kill_them, int *n, int *live)
{
  char path[64], buf[512];
  if (R.peer_started && !R.peer_exited && pid == R.peer.pid)
    return;
  snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
  FILE *f = fopen(path, "r");
  if (f == NULL)
    return;
  size_t len = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[len] = '\0';
  const char *rp = strrchr(buf, ')');
  char state = 0;
  if (rp == NULL || sscanf(rp + 2, "%c", &state) != 1)
    return;
  (*n)++;
  if (state != 'Z') {
    (*live)++;
    if (kill_them)
      kill(pid, SIGKILL);
  }
}

/* Children of ours other than the peer: the orphans of a peer (its processes and relays)
 * come to us, the subreaper. Read from /proc/self/task/TID/children, not by scanning all of
 * /proc (hundreds of processes on a busy machine, scanned again every millisecond). */
static int orphans(int kill_them, int *live)
{
  int n = 0;
  *live = 0;
  DIR *d = opendir("/proc/self/task");
  if (d == NULL)
    fail_msg("%s: cannot list /proc/self/task: %s", where, strerror(errno));
  for (struct dirent *e; (e = readdir(d)) != NULL;) {
    if (e->d_name[0] == '.')
      continue;
    char path[300];
    snprintf(path, sizeof path, "/proc/self/task/%s/children", e->d_name);
    FILE *f = fopen(path, "r");
    if (f == NULL) /* the kernel has no CONFIG_PROC_CHILDREN: nothing could be checked */
      fail_msg("%s: cannot read %s: %s", where, path, strerror(errno));
    for (int pid; fscanf(f, "%d", &pid) == 1;)
      visit_child((pid_t)pid, kill_them, &n, live);
    fclose(f);
  }
  closedir(d);
  return n;
}

/* What a peer left: live orphans after a grace period (a peer that exits by itself kills
 * its processes first; one that was killed leaves them, as a dead VM would). All are then
 * killed and reaped, bounded. Returns how many were still alive after the grace. */
static int orphans_left(void)
{
  int live = 0;
  for (int i = 0; i < 500 && (orphans(0, &live), live > 0); i++)
    usleep(1000);
  int left = live;
  for (int i = 0; i < 2000 && orphans(1, &live) > 0; i++) {
    while (waitpid(-1, NULL, WNOHANG) > 0)
      ;
    usleep(1000);
  }
  if (orphans(1, &live) > 0)
    fail_msg("%s: %d child process(es) could not be reaped", where, live);
  return left;
}

static void remove_dir(void)
{
  if (R.dir[0] == '\0')
    return;
  char rm[128];
  snprintf(rm, sizeof rm, "rm -rf '%s'", R.dir);
  if (system(rm) != 0)
    fprintf(stderr, "could not remove %s\n", R.dir);
  R.dir[0] = '\0';
}

/* In a benign round every result is what the program does. */
static void check_results(void)
{
  if (R.connect_status != 0)
    fail_msg("%s: connect failed with %s", where, cow_err_name(R.connect_status));
  for (int i = 0; i < R.nctrs; i++) {
    const struct ctr *k = &R.ctrs[i];
    if (k->c == NULL)
      fail_msg("%s: container %d refused at the call", where, i);
    if (k->create_status != 0 || k->init.create_status != 0 || k->init.wait_status != 0)
      fail_msg("%s: container %d: create %s, init create %s, init wait %s", where, i,
               cow_err_name(k->create_status), cow_err_name(k->init.create_status),
               cow_err_name(k->init.wait_status));
    if (k->terminate_status != 0)
      fail_msg("%s: container %d: terminate %s", where, i, cow_err_name(k->terminate_status));
  }
  for (int i = 0; i < R.nprocs; i++) {
    const struct proc *pr = &R.procs[i];
    const char *kn = kind_names[pr->kind];
    if (pr->p == NULL)
      fail_msg("%s: p%d (%s) refused at the call", where, i, kn);
    if (pr->kind == K_ABANDON) {
      if (pr->create_status != COW_ECANCELED || pr->wait_status != COW_ECANCELED)
        fail_msg("%s: p%d (%s): create %s and wait %s, not canceled", where, i, kn,
                 cow_err_name(pr->create_status), cow_err_name(pr->wait_status));
      continue;
    }
    if (pr->kind == K_MISSING) {
      if (pr->create_status >= 0)
        fail_msg("%s: p%d (%s): the create of a missing program succeeded", where, i, kn);
      continue;
    }
    if (pr->create_status != 0 || pr->wait_status != 0)
      fail_msg("%s: p%d (%s): create %s, wait %s", where, i, kn, cow_err_name(pr->create_status),
               cow_err_name(pr->wait_status));
    if (pr->kind == K_OUTPUT && (pr->code != 3 || pr->got != OUTPUT_BYTES || pr->got_err != 4))
      fail_msg("%s: p%d (%s): exit %lld with %llu bytes on stdout and %llu on stderr, not 3 "
               "with %u and 4",
               where, i, kn, (long long)pr->code, (unsigned long long)pr->got,
               (unsigned long long)pr->got_err, OUTPUT_BYTES);
    if (pr->kind == K_CAT && (pr->code != 0 || pr->got != sizeof payload))
      fail_msg("%s: p%d (%s): exit %lld with %llu bytes echoed, not 0 with %zu", where, i, kn,
               (long long)pr->code, (unsigned long long)pr->got, sizeof payload);
    if ((pr->kind == K_CLOSED_CONSUMER || pr->kind == K_DROP_EARLY) && pr->stdout_status != 0)
      fail_msg("%s: p%d (%s): close_stdout %s", where, i, kn, cow_err_name(pr->stdout_status));
    if (pr->kind == K_STOP && pr->stop_status != 0)
      fail_msg("%s: p%d (%s): stop %s", where, i, kn, cow_err_name(pr->stop_status));
  }
}

/* ---- the round ---- */

static void round_run(int round)
{
  memset(&R, 0, sizeof R);
  uint64_t t_round = uv_hrtime();
  R.round = round;
  plan_rng = mix(seed ^ mix((uint64_t)round));
  live_rng = mix(plan_rng);
  int fds_before = count_fds();
  long heap_before = tb_alloc_outstanding();

  char *args[24], store[24][16];
  int n = 0;
  args[n++] = (char *)peer_path;
  args[n++] = "--port-dir";
  args[n++] = R.dir;
  int first_fault = n;
  n = pick_faults(args, n, store);
  for (int i = first_fault; i < n; i++)
    snprintf(R.faults + strlen(R.faults), sizeof R.faults - strlen(R.faults), "%s%s",
             i > first_fault ? " " : "", args[i]);
  pick_chaos();
  refresh_where();
  /* The processes: exec'd into a running container when there is one (any kind), else in
   * the utility VM (only kinds that end by themselves: the agent does not signal those). */
  static const enum kind uvm_kinds[] = {K_OUTPUT,     K_CLOSED_CONSUMER, K_MISSING,
                                        K_DROP_EARLY, K_ABANDON,         K_CAT};
  R.nctrs = 1 + (int)PLAN(MAXC);
  R.nprocs = 2 + (int)PLAN(MAXP - 1);
  int want_ctr[MAXP];
  enum kind ctr_kind[MAXP], uvm_kind[MAXP];
  for (int i = 0; i < R.nprocs; i++) {
    want_ctr[i] = PLAN(4) != 0 ? (int)PLAN((unsigned)R.nctrs) : -1;
    ctr_kind[i] = (enum kind)PLAN(K_KINDS);
    uvm_kind[i] = uvm_kinds[PLAN(sizeof uvm_kinds / sizeof uvm_kinds[0])];
    R.procs[i].slow = (int)PLAN(2);
  }
  /* The activity lasts 0.8-1.6 s, and at least until the chaos played out. */
  uint64_t over_ms = 800 + PLAN(800);
  if (R.nevents > 0 && over_ms < R.events[R.nevents - 1].at_ms + 200)
    over_ms = R.events[R.nevents - 1].at_ms + 200;
  print_message("# round %d: faults [%s]%s%s; %d container(s), %d processes%s\n", round, R.faults,
                R.chaos_text[0] ? "; " : "", R.chaos_text, R.nctrs, R.nprocs,
                R.benign ? " (benign: results checked)" : "");

  snprintf(R.dir, sizeof R.dir, "/tmp/cow-soak-XXXXXX");
  assert_non_null(mkdtemp(R.dir));
  assert_int_equal(uv_loop_init(&R.loop), 0);
  R.loop_open = 1;
  assert_int_equal(cow_guest_transport_unix(&R.t, R.dir), 0);

  /* Bounds of the library for this round, all well inside the test's deadline: a
   * hostile round's requests die with the bridge after 1.5 s; a benign round's never time
   * out (its faults delay by 350 ms at most). */
  cow_guest_options_t o = COW_GUEST_OPTIONS_INIT;
  o.transport = R.t;
  o.rpc_timeout_ms = R.benign ? 8000 : 1500;
  o.connect_timeout_ms = R.benign ? 10000 : 4000;
  o.stdio_timeout_ms = R.benign ? 8000 : 2000;
  assert_int_equal(cow_guest_connect(&R.host, &R.loop, &o, on_connected, NULL), 0);
  R.ops_started++;
  assert_int_equal(cow_host_set_timeout(R.host, COW_TIMEOUT_STOP, 4000), 0);
  /* A benign round's output may come 350 ms after the exit, later on a loaded machine: the
   * drain bound must not turn that into COW_EIO_TIMEOUT. */
  uint64_t drain_ms = R.benign ? 8000 : 1000;
  assert_int_equal(cow_host_set_timeout(R.host, COW_TIMEOUT_STDIO_DRAIN, drain_ms), 0);
  uv_process_options_t po = {0};
  uv_stdio_container_t stdio[3] = {{UV_IGNORE, {0}}, {UV_IGNORE, {0}}, {UV_INHERIT_FD, {0}}};
  stdio[2].data.fd = 2; /* the peer's log ("fault: ...") goes with the test's output */
  po.file = peer_path;
  po.args = args;
  po.exit_cb = on_peer_exit;
  po.stdio = stdio;
  po.stdio_count = 3;
  assert_int_equal(uv_spawn(&R.loop, &R.peer, &po), 0);
  R.peer_started = 1;
  TW_UNTIL_WHAT(&R.loop, R.connected, where);

  uv_timer_init(&R.loop, &R.chaos);
  uv_timer_init(&R.loop, &R.slow);
  uv_timer_init(&R.loop, &R.over);
  if (R.connect_status == 0) {
    if (R.nevents) /* from the start: creates are disturbed too */
      uv_timer_start(&R.chaos, chaos_cb, R.events[0].at_ms, 0);
    for (int i = 0; i < R.nctrs; i++) {
      struct ctr *k = &R.ctrs[i];
      char cid[64];
      snprintf(cid, sizeof cid, "50a50a00-0000-4000-8000-%012d", round * 10 + i);
      char *doc = container_doc(cid);
      int rc = cow_guest_create_container(&k->c, R.host, cid, doc, on_ctr_created, k);
      cow_free(doc);
      if (rc != 0) {
        k->c = NULL;
        continue;
      }
      R.ops_started++;
      assert_int_equal(cow_container_set_timeout(k->c, COW_TIMEOUT_TERMINATE, 4000), 0);
      assert_int_equal(cow_container_set_timeout(k->c, COW_TIMEOUT_SHUTDOWN, 4000), 0);
      assert_int_equal(cow_container_set_timeout(k->c, COW_TIMEOUT_STOP, 4000), 0);
      assert_int_equal(cow_container_set_timeout(k->c, COW_TIMEOUT_STDIO_DRAIN, drain_ms), 0);
    }
    settle("every container created (or failed) and its init started (or failed)",
           containers_started);
    for (int i = 0; i < R.nprocs; i++) {
      struct ctr *k = want_ctr[i] >= 0 ? &R.ctrs[want_ctr[i]] : NULL;
      int in_ctr = k != NULL && k->c != NULL && k->create_status == 0 && k->init.created &&
                   k->init.create_status == 0;
      start_process(&R.procs[i], in_ctr ? cow_container_host(k->c) : R.host,
                    in_ctr ? ctr_kind[i] : uvm_kind[i], in_ctr, NULL);
    }
    uv_timer_start(&R.slow, slow_cb, 20, 20);
    uv_timer_start(&R.over, over_cb, over_ms, 0);
    TW_UNTIL_WHAT(&R.loop, R.round_over, where);
    uv_timer_stop(&R.slow);
    uv_timer_stop(&R.chaos);
    if (R.frozen && !R.peer_exited) {
      uv_process_kill(&R.peer, SIGCONT);
      R.frozen = 0;
    }
    settle("every create completed", creates_done);
    /* Slow readers are slow, not gone: every reader reads again (a stream that is not read
     * to its end holds the exit back, by design: the exit comes after the output). */
    for (int i = 0; i < R.nprocs; i++)
      if (R.procs[i].created && R.procs[i].create_status == 0 && !R.procs[i].closing)
        start_reading(&R.procs[i]);
    if (R.benign) /* what ends by itself ends, with all of its output */
      settle("every process that ends by itself ended", natural_ends_seen);
    /* Whatever still runs is killed now; every wait must then end, bounded. */
    R.killing = 1;
    for (int i = 0; i < R.nprocs; i++)
      if (R.procs[i].p != NULL && !R.procs[i].closing && R.procs[i].created && !R.procs[i].waited)
        OP_STARTED(cow_process_kill(R.procs[i].p, on_killed, &R.procs[i]));
    for (int i = 0; i < R.nctrs; i++)
      if (R.ctrs[i].c != NULL)
        OP_STARTED(cow_container_terminate(R.ctrs[i].c, on_ctr_terminated, &R.ctrs[i]));
    R.end_ms = settle("every callback of the round (one that never comes is a hang)", NULL);
    if (R.benign)
      check_results();
  }
  uv_timer_stop(&R.slow);
  uv_timer_stop(&R.chaos);
  if (R.frozen && !R.peer_exited) {
    uv_process_kill(&R.peer, SIGCONT);
    R.frozen = 0;
  }

  /* Close everything, processes first; then the connection (the peer then exits). */
  R.closing = 1;
  for (int i = 0; i < R.nprocs; i++)
    if (R.procs[i].p != NULL && !R.procs[i].closing)
      OP_STARTED(cow_process_close(R.procs[i].p, on_proc_closed, &R.procs[i]));
  for (int i = 0; i < R.nctrs; i++) {
    if (R.ctrs[i].init.p != NULL)
      OP_STARTED(cow_process_close(R.ctrs[i].init.p, on_proc_closed, &R.ctrs[i].init));
    if (R.ctrs[i].c != NULL)
      OP_STARTED(cow_container_close(R.ctrs[i].c, on_ctr_closed, &R.ctrs[i]));
  }
  OP_STARTED(cow_host_close(R.host, on_host_closed, NULL));
  R.close_ms = settle("every close callback", NULL);
  /* A peer notices the closed bridge and exits; one that does not (frozen by a fault of
   * its own) is killed, and its processes are then excused below. */
  if (!tw_try_count(&R.loop, &R.peer_exited, 1, 2000))
    uv_process_kill(&R.peer, SIGKILL);
  TW_UNTIL_WHAT(&R.loop, R.peer_exited, "the peer's exit");
  uv_close((uv_handle_t *)&R.chaos, NULL);
  uv_close((uv_handle_t *)&R.slow, NULL);
  uv_close((uv_handle_t *)&R.over, NULL);
  assert_int_equal(TW_LOOP_FINISH(&R.loop), 0);
  R.loop_open = 0;
  cow_guest_transport_release(R.t);
  R.t = NULL;

  int ok = 0, failed = 0, exited = 0;
  for (int i = 0; i < R.nprocs; i++) {
    ok += R.procs[i].created && R.procs[i].create_status == 0;
    failed += R.procs[i].created && R.procs[i].create_status != 0;
    exited += R.procs[i].waited && R.procs[i].wait_status == 0;
  }
  print_message("#   %d created, %d failed or canceled, %d exits seen; peer %s; %d callbacks; "
                "%.1f s, the last callback %llu ms after the kills, %llu ms after the closes\n",
                ok, failed, exited,
                R.killed        ? "killed (chaos)"
                : R.peer_signal ? "killed at the end"
                                : "exited",
                R.ops_done, (double)(uv_hrtime() - t_round) / 1e9, (unsigned long long)R.end_ms,
                (unsigned long long)R.close_ms);
  if (R.end_ms > longest_end_ms)
    longest_end_ms = R.end_ms;
  if (R.close_ms > longest_close_ms)
    longest_close_ms = R.close_ms;
  total_callbacks += R.ops_done;

  /* The invariants. */
  int left = orphans_left();
  if (left > 0 && !R.killed && R.peer_signal == 0)
    fail_msg("%s: %d process(es) left behind by a peer that exited by itself", where, left);
  int sockets = count_entries(R.dir);
  remove_dir();
  if (sockets != 0)
    fail_msg("%s: %d socket file(s) left in the port directory", where, sockets);
  if (count_fds() != fds_before)
    fail_msg("%s: %d file descriptor(s) before, %d after", where, fds_before, count_fds());
  if (tb_alloc_outstanding() != heap_before)
    fail_msg("%s: %ld library allocation(s) before, %ld after", where, heap_before,
             tb_alloc_outstanding());
  if (R.ops_done != R.ops_started)
    fail_msg("%s: %d callbacks asked for, %d came", where, R.ops_started, R.ops_done);
}

static void log_line(cow_log_level_t level, const char *sub, const char *msg, void *data)
{
  (void)data;
  fprintf(stderr, "[%d %s] %s\n", (int)level, sub, msg);
}

/* Valgrind, like the sanitizers, keeps freed memory back on purpose. */
static int under_valgrind(void)
{
  const char *p = getenv("LD_PRELOAD");
  return p != NULL && strstr(p, "vgpreload") != NULL;
}

static void soak(void **state)
{
  (void)state;
  if (getenv("COW_SOAK_LOG") != NULL) /* the library's log on stderr, at that level */
    cow_log_set((cow_log_level_t)atoi(getenv("COW_SOAK_LOG")), log_line, NULL);
  print_message("# soak: %d round(s) from %d, seed %lu (replay: test_soak PEER %d %lu %d)\n",
                rounds, first_round, seed, rounds, seed, first_round);
  memset(payload, 'p', sizeof payload);
  /* libuv's process-wide descriptors (its signal pipe) exist from the first spawn on:
   * make them before any round counts descriptors. */
  uv_loop_t warm;
  uv_process_t child = {0}; /* libuv leaves `data` as it finds it; the wait helpers read it */
  char *true_argv[] = {"/bin/true", NULL};
  uv_process_options_t po = {.file = true_argv[0], .args = true_argv};
  assert_int_equal(uv_loop_init(&warm), 0);
  assert_int_equal(uv_spawn(&warm, &child, &po), 0);
  uv_close((uv_handle_t *)&child, NULL);
  assert_int_equal(TW_LOOP_FINISH(&warm), 0);
  long rss_first = -1, rss_last = -1;
  int benign = 0;
  uint64_t t0 = uv_hrtime();
  for (int r = first_round; r < first_round + rounds; r++) {
    round_run(r);
    benign += R.benign;
    if (r == first_round + 2 || (rounds < 3 && r == first_round))
      rss_first = rss_kib();
    rss_last = rss_kib();
  }
  print_message("# soak: %d rounds (%d benign) in %.1f s, %ld callbacks each exactly once; the "
                "longest wait for the last callback: %llu ms after the kills, %llu ms after the "
                "closes; resident set %ld KiB after the third round, %ld KiB at the end\n",
                rounds, benign, (double)(uv_hrtime() - t0) / 1e9, total_callbacks,
                (unsigned long long)longest_end_ms, (unsigned long long)longest_close_ms, rss_first,
                rss_last);
  /* Flat: after the warm-up rounds the resident set grows by less than 4 MiB in all (each
   * round's heap is checked exactly above; this catches what the counter cannot see). */
  if (RSS_MEANINGFUL && !under_valgrind() && rounds >= 10 && rss_last - rss_first >= 4096)
    fail_msg("soak of seed %lu: the resident set grew from %ld KiB to %ld KiB", seed, rss_first,
             rss_last);
}

/* After a failure (a cmocka failure unwinds out of the round): nothing of the round may
 * outlive the test. The peer (frozen or not) and its processes are killed, the port
 * directory removed; the loop is left as it is, the program ends. */
static int soak_teardown(void **state)
{
  (void)state;
  if (R.peer_started && !R.peer_exited && R.peer.pid > 0) {
    kill(R.peer.pid, SIGKILL);
    waitpid(R.peer.pid, NULL, 0);
    R.peer_exited = 1;
  }
  int live;
  for (int i = 0; i < 2000 && orphans(1, &live) > 0; i++) {
    while (waitpid(-1, NULL, WNOHANG) > 0)
      ;
    usleep(1000);
  }
  remove_dir();
  return 0;
}

static long env_or(const char *name, long dflt)
{
  const char *v = getenv(name);
  return v != NULL && *v != '\0' ? strtol(v, NULL, 0) : dflt;
}

int main(int argc, char **argv)
{
  if (argc < 2) {
    fprintf(stderr, "usage: %s PEER [ROUNDS [SEED [FIRST]]]\n", argv[0]);
    return 2;
  }
  peer_path = argv[1];
  rounds = (int)env_or("COW_SOAK_ROUNDS", argc > 2 ? atoi(argv[2]) : rounds);
  seed = (unsigned long)env_or("COW_SOAK_SEED", argc > 3 ? (long)strtoul(argv[3], NULL, 0) : 1);
  first_round = argc > 4 ? atoi(argv[4]) : 1;
  if (seed == 0)
    seed = (unsigned long)time(NULL);
  if (rounds < 1 || first_round < 1) {
    fprintf(stderr, "%s: ROUNDS and FIRST must be at least 1\n", argv[0]);
    return 2;
  }
  /* Orphans of a killed peer come to us, so that none outlives the round unseen. */
  if (prctl(PR_SET_CHILD_SUBREAPER, 1) != 0) {
    perror("prctl(PR_SET_CHILD_SUBREAPER)");
    return 1;
  }
  tb_alloc_install();
  const struct CMUnitTest tests[] = {cmocka_unit_test_teardown(soak, soak_teardown)};
  return cmocka_run_group_tests_name("soak", tests, NULL, NULL);
}

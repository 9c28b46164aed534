/* The bridge section of cow-bench (bench.h): the guest connection against the fake guest of
 * tests/support/fake-guest.c, which answers every request at once. The guest runs in a
 * child process; this process and the child are pinned to one core, so a figure is the
 * host's cost plus the guest's and the kernel's, with no second core to hide behind, and
 * the baselines run against the same guest process in the same rounds:
 *
 * rpc_round_trip  µs per SignalProcess round trip, one at a time (cow_process_signal)
 *                 vs  a raw AF_UNIX ping-pong of the very bytes libcow sent (the guest
 *                 copies the first request of each type back to us), blocking write+read
 * rpc_pipelined   SignalProcess round trips per second with WINDOW in flight on one
 *                 connection  vs  a raw libuv client writing the same frame with one
 *                 uv_write per request, WINDOW in flight
 * exec_cpu        this process's CPU time (user + system) per exec+wait+close of a process
 *                 without stdio  vs  raw ping-pongs of the same ExecuteProcess and
 *                 WaitForProcess frames
 * exec_allocs     allocations (libcow's and jansson's) per exec+wait+close
 * live_heap       library heap held per live process (exec answered, wait pending)
 * heap_flat       library heap growth over many exec+wait+close cycles (after a warm-up)
 *
 * Allocations are counted through cow_replace_allocator() and json_set_alloc_funcs()
 * (tests/support/alloc-count.c), per thread and without locked instructions, during the
 * timed rounds. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"
#include "cow.h"
#include "cow/guest.h"
#include "guest/frame.h"
#include "support/alloc-count.h"
#include "support/fake-guest.h"

#define WINDOW     128
#define MAX_ROUNDS 64

static uv_loop_t loop;
static cow_host_t *host;
static uv_pipe_t cow_end, pipelined_end;
static int raw_fd = -1, capture_fd = -1;
static pid_t guest_pid = -1;
static int connected;
static const char *failure; /* why the section stopped, once it did */

/* ---- the guest process ---- */

static fg_t guests[3]; /* static: the child must not touch the heap after fork() */

/* The guest serves three connections: libcow's, the raw ping-pong's and the raw libuv
 * client's; the first one's requests are copied to `capture`. */
static int start_guest(int *cow_fd, int *raw, int *pipelined, int *capture)
{
  int a[2], b[2], c[2], p[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, a) != 0 ||
      socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, b) != 0 ||
      socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, c) != 0 || pipe(p) != 0)
    return -1;
  fflush(NULL);
  pid_t pid = fork();
  if (pid < 0)
    return -1;
  if (pid == 0) {
    close(a[0]);
    close(b[0]);
    close(c[0]);
    close(p[0]);
    fg_init(&guests[0], a[1]);
    fg_init(&guests[1], b[1]);
    fg_init(&guests[2], c[1]);
    guests[0].capture_fd = p[1];
    fg_t *const all[3] = {&guests[0], &guests[1], &guests[2]};
    _exit(fg_serve(all, 3) == 0 ? 0 : 1);
  }
  close(a[1]);
  close(b[1]);
  close(c[1]);
  close(p[1]);
  guest_pid = pid;
  *cow_fd = a[0];
  *raw = b[0];
  *pipelined = c[0];
  *capture = p[0];
  return 0;
}

static int read_all(int fd, void *buf, size_t n)
{
  size_t off = 0;
  while (off < n) {
    ssize_t r = read(fd, (char *)buf + off, n - off);
    if (r < 0 && errno == EINTR)
      continue;
    if (r <= 0)
      return -1;
    off += (size_t)r;
  }
  return 0;
}

static int write_all(int fd, const void *buf, size_t n)
{
  size_t off = 0;
  while (off < n) {
    ssize_t w = write(fd, (const char *)buf + off, n - off);
    if (w < 0 && errno == EINTR)
      continue;
    if (w <= 0)
      return -1;
    off += (size_t)w;
  }
  return 0;
}

/* The frames libcow sent, as the guest copied them: the first of each type, in order. */
struct frame {
  uint8_t bytes[2048];
  size_t len;
  uint32_t type;
};
static struct frame captured[8];
static int ncaptured;

static const struct frame *captured_frame(uint32_t type)
{
  for (;;) {
    for (int i = 0; i < ncaptured; i++)
      if (captured[i].type == type)
        return &captured[i];
    if (ncaptured == 8)
      return NULL;
    struct frame *f = &captured[ncaptured];
    cow__frame_header_t h;
    if (read_all(capture_fd, f->bytes, 16) != 0)
      return NULL;
    cow__frame_header_decode(f->bytes, &h);
    if (h.size < 16 || h.size > sizeof f->bytes || read_all(capture_fd, f->bytes + 16, h.size - 16))
      return NULL;
    f->len = h.size;
    f->type = h.type;
    ncaptured++;
  }
}

/* One raw round trip on the blocking socket: the frame out, one whole answer in. */
static int raw_round_trip(const struct frame *f)
{
  uint8_t in[1024];
  cow__frame_header_t h;
  if (write_all(raw_fd, f->bytes, f->len) != 0 || read_all(raw_fd, in, 16) != 0)
    return -1;
  cow__frame_header_decode(in, &h);
  if (h.size < 16 || h.size > sizeof in || read_all(raw_fd, in + 16, h.size - 16) != 0)
    return -1;
  return 0;
}

/* ---- libcow ---- */

static void run_until(const int *flag, int n)
{
  while (*flag < n && failure == NULL)
    if (uv_run(&loop, UV_RUN_ONCE) == 0 && *flag < n)
      failure = "the loop went idle";
}

static void on_connected(cow_host_t *h, int status, const cow_error_t *err, void *d)
{
  connected = status == 0 ? 1 : -1;
  if (status != 0)
    fprintf(stderr, "bridge: connect failed: %s\n", err->message);
}

static int created, waited, closed, signalled, issued, wanted;

static void on_created(cow_process_t *p, int status, const cow_error_t *err, void *d)
{
  created++;
  if (status != 0) {
    fprintf(stderr, "bridge: create failed: %s\n", err->message);
    failure = "create failed";
  }
}

static void on_closed(cow_process_t *p, void *d)
{
  closed++;
}

static void on_wait(cow_process_t *p, int status, int64_t code, const cow_error_t *err, void *d)
{
  waited++;
  if (status != 0)
    failure = "wait failed";
  cow_process_close(p, on_closed, NULL);
}

static const char held_cfg[] =
    "{\"CommandArgs\":[\"sleep\",\"" FG_HOLD_MARKER "\"],\"WorkingDirectory\":\"/\"}";
static const char quick_cfg[] = "{\"CommandArgs\":[\"true\"],\"WorkingDirectory\":\"/\"}";
static const char sig_options[] = "{\"Signal\":15}";

static cow_process_t *start_process(const char *cfg)
{
  cow_process_t *p;
  int before = created;
  if (cow_host_create_process(&p, host, cfg, on_created, NULL) != 0 ||
      cow_process_wait(p, on_wait, NULL) != 0) {
    failure = "create refused";
    return NULL;
  }
  run_until(&created, before + 1);
  return p;
}

/* Signals: `wanted` in all, at most `window` in flight. */
static void on_signalled(cow_process_t *p, int status, const cow_error_t *err, void *d)
{
  signalled++;
  if (status != 0)
    failure = "signal failed";
  if (issued < wanted) {
    issued++;
    if (cow_process_signal(p, sig_options, on_signalled, NULL) != 0)
      failure = "signal refused";
  }
}

static double cow_signals(cow_process_t *p, int n, int window)
{
  signalled = issued = 0;
  wanted = n;
  uint64_t t0 = bench_wall_ns();
  while (issued < window && issued < n) {
    issued++;
    if (cow_process_signal(p, sig_options, on_signalled, NULL) != 0)
      failure = "signal refused";
  }
  run_until(&signalled, n);
  return (double)(bench_wall_ns() - t0);
}

/* exec+wait+close cycles, one after the other. */
static int cycles_left;
static void on_cycle_wait(cow_process_t *p, int status, int64_t code, const cow_error_t *err,
                          void *d);

static void start_cycle(void)
{
  cow_process_t *p;
  if (cow_host_create_process(&p, host, quick_cfg, on_created, NULL) != 0 ||
      cow_process_wait(p, on_cycle_wait, NULL) != 0)
    failure = "create refused";
}

static void on_cycle_closed(cow_process_t *p, void *d)
{
  closed++;
  if (--cycles_left > 0)
    start_cycle();
}

static void on_cycle_wait(cow_process_t *p, int status, int64_t code, const cow_error_t *err,
                          void *d)
{
  waited++;
  if (status != 0 || code != 0)
    failure = "exec cycle failed";
  cow_process_close(p, on_cycle_closed, NULL);
}

static void cow_cycles(int n)
{
  closed = 0;
  cycles_left = n;
  start_cycle();
  run_until(&closed, n);
}

/* ---- the raw libuv client, pipelined ---- */

static struct {
  const struct frame *frame;
  int issued, answered, wanted;
  uint8_t carry[16];
  size_t carry_len; /* bytes of the current answer's header seen */
  size_t skip;      /* payload bytes of the current answer still to come */
  uv_write_t reqs[2 * WINDOW];
  uv_write_t *free_reqs[2 * WINDOW];
  int nfree;
} pl;

static void pl_send(void);

static void pl_written(uv_write_t *w, int status)
{
  if (status != 0)
    failure = "raw write failed";
  pl.free_reqs[pl.nfree++] = w;
}

static void pl_send(void)
{
  if (pl.nfree == 0) {
    failure = "raw client out of write requests";
    return;
  }
  uv_write_t *w = pl.free_reqs[--pl.nfree];
  uv_buf_t b = uv_buf_init((char *)pl.frame->bytes, (unsigned)pl.frame->len);
  pl.issued++;
  if (uv_write(w, (uv_stream_t *)&pipelined_end, &b, 1, pl_written) != 0)
    failure = "raw write refused";
}

static void pl_alloc(uv_handle_t *h, size_t n, uv_buf_t *b)
{
  static char buf[65536];
  *b = uv_buf_init(buf, sizeof buf);
}

static void pl_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
  if (n < 0) {
    failure = "raw read failed";
    return;
  }
  const uint8_t *p = (const uint8_t *)b->base;
  size_t left = (size_t)n;
  while (left > 0) {
    if (pl.skip > 0) {
      size_t k = pl.skip < left ? pl.skip : left;
      pl.skip -= k;
      p += k;
      left -= k;
      if (pl.skip == 0)
        goto answered;
      continue;
    }
    size_t k = 16 - pl.carry_len < left ? 16 - pl.carry_len : left;
    memcpy(pl.carry + pl.carry_len, p, k);
    pl.carry_len += k;
    p += k;
    left -= k;
    if (pl.carry_len < 16)
      break;
    cow__frame_header_t h;
    cow__frame_header_decode(pl.carry, &h);
    pl.carry_len = 0;
    pl.skip = h.size - 16;
    if (pl.skip > 0)
      continue;
  answered:
    pl.answered++;
    if (pl.issued < pl.wanted)
      pl_send();
  }
}

static double raw_pipelined(const struct frame *f, int n, int window)
{
  pl.frame = f;
  pl.issued = pl.answered = 0;
  pl.wanted = n;
  pl.carry_len = pl.skip = 0;
  pl.nfree = 0;
  for (int i = 0; i < 2 * WINDOW; i++)
    pl.free_reqs[pl.nfree++] = &pl.reqs[i];
  uint64_t t0 = bench_wall_ns();
  while (pl.issued < window && pl.issued < n)
    pl_send();
  run_until(&pl.answered, n);
  return (double)(bench_wall_ns() - t0);
}

/* ---- the rows ---- */

static int scaled(const struct bench_opts *o, double n)
{
  double v = n * o->scale;
  return v < 1 ? 1 : (int)v;
}

static void row_round_trip(const struct bench_opts *o, cow_process_t *p, const struct frame *sig)
{
  int n = scaled(o, 2000);
  double c[MAX_ROUNDS], b[MAX_ROUNDS];
  for (int r = 0; r < o->rounds && failure == NULL; r++) {
    c[r] = cow_signals(p, n, 1) / n / 1000.0;
    uint64_t t0 = bench_wall_ns();
    for (int i = 0; i < n; i++)
      if (raw_round_trip(sig) != 0) {
        failure = "raw round trip failed";
        return;
      }
    b[r] = (double)(bench_wall_ns() - t0) / n / 1000.0;
  }
  char note[96];
  snprintf(note, sizeof note, "SignalProcess, %zu B out, %d rounds of %d", sig->len, o->rounds, n);
  struct bench_stat cs = bench_stat_of(c, o->rounds), bs = bench_stat_of(b, o->rounds);
  bench_row("rpc_round_trip", "us", BENCH_LOWER_BETTER, &cs, &bs, "ratio <= 1.25", note);
}

static void row_pipelined(const struct bench_opts *o, cow_process_t *p, const struct frame *sig)
{
  int n = scaled(o, 50000);
  double c[MAX_ROUNDS], b[MAX_ROUNDS];
  for (int r = 0; r < o->rounds && failure == NULL; r++) {
    c[r] = n / (cow_signals(p, n, WINDOW) / 1e9);
    b[r] = n / (raw_pipelined(sig, n, WINDOW) / 1e9);
  }
  char note[96];
  snprintf(note, sizeof note, "%d in flight, %d rounds of %d", WINDOW, o->rounds, n);
  struct bench_stat cs = bench_stat_of(c, o->rounds), bs = bench_stat_of(b, o->rounds);
  bench_row("rpc_pipelined", "RPC/s", BENCH_HIGHER_BETTER, &cs, &bs, "value >= 200000", note);
}

static void row_exec(const struct bench_opts *o, const struct frame *exec, const struct frame *wait)
{
  int n = scaled(o, 2000);
  double c[MAX_ROUNDS], b[MAX_ROUNDS], wall[MAX_ROUNDS];
  struct ac_counts a0 = ac_get(AC_COW), j0 = ac_get(AC_JANSSON);
  for (int r = 0; r < o->rounds && failure == NULL; r++) {
    uint64_t t0 = bench_wall_ns(), c0 = bench_cpu_ns();
    cow_cycles(n);
    c[r] = (double)(bench_cpu_ns() - c0) / n / 1000.0;
    wall[r] = (double)(bench_wall_ns() - t0) / n / 1000.0;
    c0 = bench_cpu_ns();
    for (int i = 0; i < n; i++)
      if (raw_round_trip(exec) != 0 || raw_round_trip(wait) != 0) {
        failure = "raw round trip failed";
        return;
      }
    b[r] = (double)(bench_cpu_ns() - c0) / n / 1000.0;
  }
  struct ac_counts a1 = ac_get(AC_COW), j1 = ac_get(AC_JANSSON);
  struct bench_stat ws = bench_stat_of(wall, o->rounds);
  char note[128];
  snprintf(note, sizeof note, "host CPU; wall %.1f us/cycle; baseline: the 2 frames raw",
           ws.median);
  struct bench_stat cs = bench_stat_of(c, o->rounds), bs = bench_stat_of(b, o->rounds);
  bench_row("exec_cpu", "us", BENCH_LOWER_BETTER, &cs, &bs, "value <= 15", note);

  double total = (double)n * o->rounds;
  double cow = (double)(a1.allocs - a0.allocs) / total;
  double jansson = (double)(j1.allocs - j0.allocs) / total;
  struct bench_stat as = {cow + jansson, cow + jansson};
  snprintf(note, sizeof note, "%.1f libcow + %.1f jansson", cow, jansson);
  bench_row("exec_allocs", "allocs", BENCH_LOWER_BETTER, &as, NULL, "value <= 40", note);
}

static void row_live_heap(const struct bench_opts *o)
{
  int n = scaled(o, 1000);
  cow_process_t **p = calloc((size_t)n, sizeof *p);
  if (p == NULL || n > FG_MAX_HELD) {
    failure = "too many processes";
    free(p);
    return;
  }
  long bytes = ac_total().bytes;
  created = waited = closed = 0;
  for (int i = 0; i < n && failure == NULL; i++)
    p[i] = start_process(held_cfg);
  /* A round trip behind every WaitForProcess: once it is answered the guest has read them
   * all, so no output still waiting for a full socket (which depends on when the guest got
   * the core) is counted as the processes' heap. */
  if (failure == NULL && p[n - 1] != NULL)
    cow_signals(p[n - 1], 1, 1);
  double per = (double)(ac_total().bytes - bytes) / n;
  struct bench_stat s = {per, per};
  bench_row("live_heap", "B", BENCH_LOWER_BETTER, &s, NULL, "value <= 1024",
            "exec answered, wait pending; libcow + jansson heap");
  signalled = 0;
  for (int i = 0; i < n && failure == NULL; i++)
    if (p[i] != NULL && cow_process_kill(p[i], on_signalled, NULL) != 0)
      failure = "kill refused";
  wanted = issued = n; /* no more signals from on_signalled */
  run_until(&closed, n);
  free(p);
}

static void row_heap_flat(const struct bench_opts *o)
{
  int n = scaled(o, 100000);
  cow_cycles(scaled(o, 2000)); /* warm-up: tables at their working size */
  long bytes = ac_total().bytes;
  cow_cycles(n);
  long growth = ac_total().bytes - bytes;
  struct bench_stat s = {(double)growth, (double)growth};
  char note[64];
  snprintf(note, sizeof note, "over %d exec+wait+close cycles", n);
  bench_row("heap_flat", "B", BENCH_LOWER_BETTER, &s, NULL, "value <= 0", note);
}

int bench_bridge(const struct bench_opts *o)
{
  struct bench_opts ro = *o;
  if (ro.rounds > MAX_ROUNDS)
    ro.rounds = MAX_ROUNDS;
  int cpu = o->cpu;
  if (cpu < 0) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    cpu = n > 0 ? (int)n - 1 : 0;
  }
  if (bench_pin(cpu) != 0) {
    fprintf(stderr, "bridge: cannot pin to core %d\n", cpu);
    return -1;
  }
  printf("bridge: the guest connection against the fake guest, both pinned to core %d\n", cpu);
  int fd, pfd;
  if (uv_loop_init(&loop) != 0 || start_guest(&fd, &raw_fd, &pfd, &capture_fd) != 0) {
    fprintf(stderr, "bridge: cannot start the guest: %s\n", strerror(errno));
    bench_unpin();
    return -1;
  }
  uv_pipe_init(&loop, &cow_end, 0);
  uv_pipe_open(&cow_end, fd);
  uv_pipe_init(&loop, &pipelined_end, 0);
  uv_pipe_open(&pipelined_end, pfd);
  uv_read_start((uv_stream_t *)&pipelined_end, pl_alloc, pl_read);
  cow_guest_options_t go = COW_GUEST_OPTIONS_INIT;
  if (cow_guest_connect_stream(&host, &loop, (uv_stream_t *)&cow_end, &go, on_connected, NULL) != 0)
    failure = "connect refused";
  while (failure == NULL && connected == 0)
    uv_run(&loop, UV_RUN_ONCE);
  if (connected < 0)
    failure = "connect failed";

  /* One quick cycle first, so that the frames copied back are an ordinary exec and its
   * wait; then the process that the signals go to, which stays until it is killed. */
  const struct frame *exec = NULL, *wait = NULL, *sig = NULL;
  cow_process_t *target = NULL;
  if (failure == NULL) {
    cow_cycles(1);
    target = start_process(held_cfg);
    cow_signals(target, 1, 1);
    exec = captured_frame(COW__MSG_EXECUTE_PROCESS);
    wait = captured_frame(COW__MSG_WAIT_FOR_PROCESS);
    sig = captured_frame(COW__MSG_SIGNAL_PROCESS);
    if (exec == NULL || wait == NULL || sig == NULL)
      failure = "the guest did not copy the requests back";
  }
  if (failure == NULL)
    row_round_trip(&ro, target, sig);
  if (failure == NULL)
    row_pipelined(&ro, target, sig);
  if (target != NULL) {
    closed = 0;
    if (cow_process_kill(target, on_signalled, NULL) == 0) {
      wanted = issued = 0;
      run_until(&closed, 1);
    }
  }
  if (failure == NULL)
    row_exec(&ro, exec, wait);
  if (failure == NULL)
    row_live_heap(&ro);
  if (failure == NULL)
    row_heap_flat(&ro);

  if (host != NULL)
    cow_host_close(host, NULL, NULL);
  uv_close((uv_handle_t *)&pipelined_end, NULL);
  close(raw_fd);
  close(capture_fd);
  uv_run(&loop, UV_RUN_DEFAULT);
  int status = 0;
  if (guest_pid > 0 && waitpid(guest_pid, &status, 0) == guest_pid &&
      !(WIFEXITED(status) && WEXITSTATUS(status) == 0) && failure == NULL)
    failure = "the guest failed";
  int rc = uv_loop_close(&loop);
  bench_unpin();
  if (failure != NULL || rc != 0) {
    fprintf(stderr, "bridge: %s\n", failure ? failure : "the loop did not close");
    return -1;
  }
  return 0;
}

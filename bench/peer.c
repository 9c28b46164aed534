/* The peer section of cow-bench (bench.h): real processes, real bytes.
 *
 * stdio_hcs_v2    `head -c N /dev/zero` through the HCS v2 backend on the emulator, read
 *                 with cow_process_read_start     vs  the same child on a raw libuv pipe
 * stdio_guest     the same command as a UVM process through the guest connection and
 *                 cow-gcs-peer (stdout is a unix socket)  vs  the child writing straight
 *                 into a socketpair read with libuv
 * stdio_guest_sk  the same through a transport on the `listen_tcp` slot: the peer dials the
 *                 same port directory, but each connection reaches the library as a libuv
 *                 socket stream (uv_tcp_t), the kind every Windows transport (hvsocket)
 *                 gives; the difference to stdio_guest is that path alone
 * exec_guest      sequential create+wait of `true` through the guest connection and the peer
 *                 vs  uv_spawn+exit of `true`
 * exec_hcs_v2     the same through the HCS v2 backend on the emulator
 * The stdio rows are throughputs (the ratio is libcow's share of the raw rate; the target
 * keeps it at 0.95 or more), the exec rows times per exec. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <uv.h>

#include "bench.h"
#include "cow.h"
#include "cow/stdio.h"
#include "cow/guest.h"
#include "support/tcp-transport.h"

static uv_loop_t loop;
static uint64_t total;
static int done, exits;

static void alloc_cb(uv_handle_t *h, size_t s, uv_buf_t *b)
{
  static char buf[256 * 1024];
  *b = uv_buf_init(buf, sizeof buf);
}

static void count_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
  if (n > 0)
    total += (uint64_t)n;
  else if (n < 0) {
    done++;
    if (s->data == NULL) /* a baseline stream the benchmark owns */
      uv_close((uv_handle_t *)s, NULL);
  }
}

static void child_exit(uv_process_t *p, int64_t status, int sig)
{
  exits++;
  uv_close((uv_handle_t *)p, NULL);
}

static void free_handle(uv_handle_t *h)
{
  free(h);
}

static void heap_child_exit(uv_process_t *p, int64_t status, int sig)
{
  exits++;
  uv_close((uv_handle_t *)p, free_handle);
}

static void run_until(const int *flag, int n)
{
  while (*flag < n)
    uv_run(&loop, UV_RUN_ONCE);
}

static double ms_since(uint64_t t0)
{
  return (double)(uv_hrtime() - t0) / 1e6;
}

/* Let closing handles finish. Not uv_run(DEFAULT): a guest connection keeps the loop
 * alive for as long as it is open. */
static void settle(void)
{
  for (int i = 0; i < 4; i++)
    uv_run(&loop, UV_RUN_NOWAIT);
}

/* ---- baselines ---- */

static double raw_stream(uint64_t bytes, int socket_mode)
{
  char cmd[64];
  snprintf(cmd, sizeof cmd, "head -c %llu /dev/zero", (unsigned long long)bytes);
  char *args[] = {"/bin/sh", "-c", cmd, NULL};
  uv_process_t child;
  uv_pipe_t pipe;
  uv_pipe_init(&loop, &pipe, 0);
  pipe.data = NULL;
  uv_stdio_container_t stdio[2];
  stdio[0].flags = UV_IGNORE;
  int sv[2] = {-1, -1};
  if (socket_mode) {
    socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv);
    uv_pipe_open(&pipe, sv[0]);
    stdio[1].flags = UV_INHERIT_FD;
    stdio[1].data.fd = sv[1];
  } else {
    stdio[1].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
    stdio[1].data.stream = (uv_stream_t *)&pipe;
  }
  uv_process_options_t o = {0};
  o.file = args[0];
  o.args = args;
  o.exit_cb = child_exit;
  o.stdio = stdio;
  o.stdio_count = 2;
  total = 0;
  done = exits = 0;
  uint64_t t0 = uv_hrtime();
  if (uv_spawn(&loop, &child, &o) != 0)
    abort();
  if (socket_mode)
    close(sv[1]);
  uv_read_start((uv_stream_t *)&pipe, alloc_cb, count_read);
  run_until(&done, 1);
  run_until(&exits, 1);
  double ms = ms_since(t0);
  settle();
  if (total != bytes)
    fprintf(stderr, "baseline lost bytes: %llu of %llu\n", (unsigned long long)total,
            (unsigned long long)bytes);
  return ms;
}

static double raw_execs(int n)
{
  char *args[] = {"/bin/true", NULL};
  uv_process_options_t o = {0};
  o.file = args[0];
  o.args = args;
  o.exit_cb = heap_child_exit;
  exits = 0;
  uint64_t t0 = uv_hrtime();
  for (int i = 0; i < n; i++) {
    uv_process_t *child = malloc(sizeof *child);
    if (uv_spawn(&loop, child, &o) != 0)
      abort();
    run_until(&exits, i + 1);
  }
  double ms = ms_since(t0);
  settle();
  return ms;
}

/* ---- libcow ---- */

static int created, create_status, waited;
static int64_t exit_code;

static void on_created(cow_process_t *p, int status, const cow_error_t *err, void *d)
{
  created++;
  create_status = status;
  if (status == 0 && d != NULL) {
    uv_stream_t *out;
    cow_process_stdio(NULL, &out, NULL, p);
    out->data = p;
    cow_process_read_start(p, COW_STDOUT, alloc_cb, count_read);
  }
  if (status < 0)
    fprintf(stderr, "create failed: %s\n", err->message);
}

static void on_wait(cow_process_t *p, int status, int64_t code, const cow_error_t *err, void *d)
{
  waited++;
  exit_code = code;
}

static void on_closed(cow_process_t *p, void *d)
{
}

/* Run one process on `host` to completion; returns ms from create to exit. */
static double cow_run(cow_host_t *host, const char *cfg, int read_stdout)
{
  cow_process_t *p;
  created = waited = done = 0;
  total = 0;
  uint64_t t0 = uv_hrtime();
  if (cow_host_create_process(&p, host, cfg, on_created, read_stdout ? &total : NULL) != 0 ||
      cow_process_wait(p, on_wait, NULL) != 0)
    abort();
  run_until(&waited, 1);
  double ms = ms_since(t0);
  cow_process_close(p, on_closed, NULL);
  return ms;
}

static void on_container(cow_container_t *c, int status, const cow_error_t *err, void *d)
{
  (*(int *)d)++;
  if (status < 0)
    fprintf(stderr, "container: %s\n", err->message);
}

static cow_container_t *hcs_system(void)
{
  cow_hcs_options_t o;
  cow_hcs_options_init(&o);
  o.api = COW_HCS_V2;
  cow_hcs_system_params_t sp = COW_HCS_SYSTEM_PARAMS_INIT;
  char *doc;
  if (cow_hcs_compute_system_json(&doc, &sp, NULL) != 0)
    abort();
  cow_container_t *c;
  int n = 0;
  if (cow_hcs_create_system(&c, &loop, &o, "bench", doc, on_container, &n) != 0)
    abort();
  cow_free(doc);
  run_until(&n, 1);
  cow_container_start(c, on_container, &n);
  run_until(&n, 2);
  return c;
}

/* From the library: release with cow_free(). */
static char *hcs_params(const char *cmd, int out)
{
  const char *argv[] = {"/bin/sh", "-c", cmd, NULL};
  char line[256];
  snprintf(line, sizeof line, "/bin/sh -c \"%s\"", cmd);
  cow_hcs_process_params_t pp = COW_HCS_PROCESS_PARAMS_INIT;
  pp.command_line = line;
  pp.command_args = argv;
  pp.create_stdout = out;
  char *json;
  if (cow_hcs_process_params_json(&json, &pp, 2, NULL) != 0)
    abort();
  return json;
}

static char *guest_params(const char *cmd, int out)
{
  char *s = malloc(512);
  snprintf(s, 512,
           "{\"CommandArgs\":[\"/bin/sh\",\"-c\",\"%s\"],\"WorkingDirectory\":\"/\","
           "\"Environment\":{\"PATH\":\"/usr/bin:/bin\"}%s}",
           cmd, out ? ",\"CreateStdOutPipe\":true" : "");
  return s;
}

static int connected;
static void on_connected(cow_host_t *h, int status, const cow_error_t *err, void *d)
{
  connected = status == 0 ? 1 : -1;
}

#define MAX_ROUNDS 64

/* A stdio row: MiB/s through libcow and through the raw stream, round by round. */
static void stdio_row(const char *name, double *cow_ms, double *base_ms, int rounds, double mib)
{
  for (int i = 0; i < rounds; i++) {
    cow_ms[i] = mib / (cow_ms[i] / 1000.0);
    base_ms[i] = mib / (base_ms[i] / 1000.0);
  }
  struct bench_stat c = bench_stat_of(cow_ms, rounds), b = bench_stat_of(base_ms, rounds);
  bench_row(name, "MiB/s", BENCH_HIGHER_BETTER, &c, &b, "ratio >= 0.95", NULL);
}

/* An exec row: ms per exec through libcow and through uv_spawn, `execs` each round. */
static void exec_row(const char *name, cow_host_t *host, const char *cfg, int execs, int rounds)
{
  double c[MAX_ROUNDS], b[MAX_ROUNDS];
  for (int r = 0; r < rounds; r++) {
    double ms = 0;
    for (int i = 0; i < execs; i++)
      ms += cow_run(host, cfg, 0);
    c[r] = ms / execs;
    b[r] = raw_execs(execs) / execs;
  }
  struct bench_stat cs = bench_stat_of(c, rounds), bs = bench_stat_of(b, rounds);
  bench_row(name, "ms/exec", BENCH_LOWER_BETTER, &cs, &bs, NULL, "vs uv_spawn of the same");
}

/* Connect to a freshly started peer over a port directory (`socket_slot`: through the
 * listen_tcp slot, tests/support/tcp-transport.c)
 * and run the stdio benchmark, then `execs` execs. 0, or -1 when the peer did not come. */
static int bench_guest(const struct bench_opts *o, int socket_slot, const char *cmd, uint64_t bytes,
                       int execs)
{
  char dir[] = "/tmp/cow-bench-XXXXXX";
  if (mkdtemp(dir) == NULL)
    return -1;
  cow_guest_transport_t *t;
  if (socket_slot)
    tcpt_new_unix_socket_slot(&t, dir);
  else
    cow_guest_transport_unix(&t, dir);
  cow_guest_options_t go = COW_GUEST_OPTIONS_INIT;
  go.transport = t;
  cow_host_t *gh;
  connected = 0;
  cow_guest_connect(&gh, &loop, &go, on_connected, NULL);
  char *pargs[] = {(char *)o->peer_path, "--port-dir", dir, NULL};
  uv_process_t peer;
  uv_process_options_t po = {0};
  po.file = o->peer_path;
  po.args = pargs;
  po.exit_cb = child_exit;
  exits = 0;
  if (uv_spawn(&loop, &peer, &po) != 0) {
    fprintf(stderr, "peer: cannot start %s\n", o->peer_path);
    return -1;
  }
  while (connected == 0)
    uv_run(&loop, UV_RUN_ONCE);
  if (connected < 0)
    return -1;
  char *cfg = guest_params(cmd, 1);
  double c[MAX_ROUNDS], b[MAX_ROUNDS];
  for (int i = 0; i < o->rounds; i++) {
    c[i] = cow_run(gh, cfg, 1);
    if (total != bytes)
      fprintf(stderr, "guest: %llu bytes\n", (unsigned long long)total);
    b[i] = raw_stream(bytes, 1);
  }
  free(cfg);
  stdio_row(socket_slot ? "stdio_guest_sk" : "stdio_guest", c, b, o->rounds, (double)o->stdio_mib);
  if (execs > 0) {
    cfg = guest_params("exit 0", 0);
    exec_row("exec_guest", gh, cfg, execs, o->rounds);
    free(cfg);
  }
  cow_host_close(gh, NULL, NULL);
  int peer_exits = exits;
  while (exits == peer_exits && uv_loop_alive(&loop))
    uv_run(&loop, UV_RUN_ONCE);
  uv_run(&loop, UV_RUN_DEFAULT);
  cow_guest_transport_release(t);
  rmdir(dir);
  return 0;
}

int bench_peer(const struct bench_opts *o)
{
  uint64_t bytes = o->stdio_mib << 20;
  int rounds = o->rounds < MAX_ROUNDS ? o->rounds : MAX_ROUNDS;
  struct bench_opts ro = *o;
  ro.rounds = rounds;
  /* Spread the execs over the rounds: EXECS is the total per row and side. */
  int execs = o->execs / rounds > 0 ? o->execs / rounds : 1;
  char cmd[64];
  snprintf(cmd, sizeof cmd, "head -c %llu /dev/zero", (unsigned long long)bytes);
  uv_loop_init(&loop);
  printf("peer: stdio and exec with real processes (cow-gcs-peer, the HCS v2 emulator)\n");

  /* HCS v2 on the emulator vs a raw pipe */
  cow_container_t *sys = hcs_system();
  char *cfg = hcs_params(cmd, 1);
  double c[MAX_ROUNDS], b[MAX_ROUNDS];
  for (int i = 0; i < rounds; i++) {
    c[i] = cow_run(cow_container_host(sys), cfg, 1);
    if (total != bytes || exit_code != 0)
      fprintf(stderr, "hcs: %llu bytes, exit %lld\n", (unsigned long long)total,
              (long long)exit_code);
    b[i] = raw_stream(bytes, 0);
  }
  cow_free(cfg);
  stdio_row("stdio_hcs_v2", c, b, rounds, (double)o->stdio_mib);
  cfg = hcs_params("exit 0", 0);
  exec_row("exec_hcs_v2", cow_container_host(sys), cfg, execs, rounds);
  cow_free(cfg);
  int n = 0;
  cow_container_terminate(sys, on_container, &n);
  cow_container_close(sys, NULL, NULL);
  uv_run(&loop, UV_RUN_DEFAULT);

  /* guest connection + peer vs a raw socket: the built-in port-directory transport, then
   * the same directory through the listen_tcp slot */
  if (bench_guest(&ro, 0, cmd, bytes, execs) != 0 || bench_guest(&ro, 1, cmd, bytes, 0) != 0)
    return -1;
  return uv_loop_close(&loop) == 0 ? 0 : -1;
}

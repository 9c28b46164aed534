/* Test support for the guest-connection tests (see fixture.h). */
#include "guest/fixture.h"
#include "support/wait.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <dirent.h>
#include <signal.h>

#include <cmocka.h>
#include <jansson.h>
#include "support/tjson.h"

const char *fx_peer_path = NULL;

void fx_main_args(int argc, char **argv)
{
  fx_peer_path = argc > 1 ? argv[1] : getenv("COW_GCS_PEER");
}

int fx_run_until(fx_t *fx, const int *flag, uint64_t ms)
{
  return tw_try_count(&fx->loop, flag, 1, ms);
}

int fx_run_until_count(fx_t *fx, const int *count, int n, uint64_t ms)
{
  return tw_try_count(&fx->loop, count, n, ms);
}

static void on_connected(cow_host_t *h, int status, const cow_error_t *err, void *data)
{
  (void)h;
  fx_t *fx = data;
  fx->connect_calls++;
  fx->connect_status = status;
  if (status != 0 && err && err->message && getenv("FX_VERBOSE"))
    fprintf(stderr, "connect: %s\n", err->message);
}

static void peer_exited(uv_process_t *p, int64_t status, int sig)
{
  fx_t *fx = p->data;
  fx->peer_exit = status;
  fx->peer_signal = sig;
  fx->peer_running = 0;
  fx->peer_exited = 1;
  uv_close((uv_handle_t *)p, NULL);
}

static void log_cb(cow_log_level_t level, const char *sub, const char *msg, void *data)
{
  (void)data;
  fprintf(stderr, "[%d %s] %s\n", (int)level, sub, msg);
}

void fx_setup_expect(fx_t *fx, const char *const *peer_args, const cow_guest_options_t *opts,
                     int expect_ok)
{
  memset(fx, 0, sizeof *fx);
  if (getenv("FX_LOG"))
    cow_log_set((cow_log_level_t)atoi(getenv("FX_LOG")), log_cb, NULL);
  assert_non_null(fx_peer_path);
  assert_int_equal(uv_loop_init(&fx->loop), 0);
  snprintf(fx->dir, sizeof fx->dir, "/tmp/cowg-XXXXXX");
  assert_non_null(mkdtemp(fx->dir));
  assert_int_equal(cow_guest_transport_unix(&fx->transport, fx->dir), 0);
  cow_guest_options_t o = COW_GUEST_OPTIONS_INIT;
  if (opts)
    o = *opts;
  o.transport = fx->transport;
  assert_int_equal(cow_guest_connect(&fx->host, &fx->loop, &o, on_connected, fx), 0);
  /* The listener exists now: start the "VM". */
  const char *args[32];
  int n = 0;
  args[n++] = fx_peer_path;
  args[n++] = "--port-dir";
  args[n++] = fx->dir;
  for (int i = 0; peer_args && peer_args[i] && n < 30; i++)
    args[n++] = peer_args[i];
  args[n] = NULL;
  uv_process_options_t po;
  memset(&po, 0, sizeof po);
  po.file = fx_peer_path;
  po.args = (char **)args;
  po.exit_cb = peer_exited;
  uv_stdio_container_t stdio[3];
  stdio[0].flags = UV_IGNORE;
  stdio[1].flags = UV_INHERIT_FD;
  stdio[1].data.fd = 2;
  stdio[2].flags = getenv("FX_PEER_QUIET") ? UV_IGNORE : UV_INHERIT_FD;
  stdio[2].data.fd = 2;
  po.stdio = stdio;
  po.stdio_count = 3;
  fx->peer.data = fx;
  assert_int_equal(uv_spawn(&fx->loop, &fx->peer, &po), 0);
  fx->peer_running = 1;
  assert_true(fx_run_until(fx, &fx->connect_calls, 10000));
  assert_int_equal(fx->connect_calls, 1);
  if (expect_ok)
    assert_int_equal(fx->connect_status, 0);
}

void fx_setup(fx_t *fx, const char *const *peer_args, const cow_guest_options_t *opts)
{
  fx_setup_expect(fx, peer_args, opts, 1);
}

static void host_closed(cow_host_t *h, void *data)
{
  (void)h;
  ((fx_t *)data)->host_closed++;
}

void fx_teardown(fx_t *fx)
{
  const char *stuck = NULL;
  if (fx->host != NULL) {
    assert_int_equal(cow_host_close(fx->host, host_closed, fx), 0);
    if (!tw_try_count(&fx->loop, &fx->host_closed, 1, tw_deadline_ms()))
      stuck = "the host's close callback did not come";
    else if (fx->host_closed != 1)
      stuck = "the host's close callback ran more than once";
    fx->host = NULL;
  }
  if (fx->peer_running && !tw_try_count(&fx->loop, &fx->peer_exited, 1, 5000)) {
    uv_process_kill(&fx->peer, SIGKILL);
    TW_UNTIL(&fx->loop, fx->peer_exited);
  }
  char why[768];
  int rc = tw_loop_finish_report(&fx->loop, why, sizeof why);
  cow_guest_transport_release(fx->transport);
  fx->transport = NULL;
  /* Remove leftovers (none expected: listeners unlink their sockets). */
  DIR *d = opendir(fx->dir);
  if (d) {
    struct dirent *e;
    char path[512];
    while ((e = readdir(d)) != NULL) {
      if (e->d_name[0] == '.')
        continue;
      snprintf(path, sizeof path, "%s/%s", fx->dir, e->d_name);
      unlink(path);
    }
    closedir(d);
  }
  rmdir(fx->dir);
  cow_log_set(COW_LOG_ERROR, NULL, NULL);
  if (stuck != NULL)
    fail_msg("fx_teardown: %s (deadline %llu ms)", stuck, (unsigned long long)tw_deadline_ms());
  if (rc != 0)
    fail_msg("fx_teardown: %s", why);
}

uint32_t fx_checksum_update(uint32_t sum, const void *buf, size_t len)
{
  /* Adler-32: order-sensitive, cheap. */
  uint32_t a = sum & 0xFFFF, b = sum >> 16;
  const unsigned char *p = buf;
  if (sum == 0)
    a = 1;
  for (size_t i = 0; i < len; i++) {
    a = (a + p[i]) % 65521;
    b = (b + a) % 65521;
  }
  return (b << 16) | a;
}

static void cap_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
  (void)h;
  (void)suggested;
  static char bufs[2][65536];
  static int which;
  which ^= 1;
  *buf = uv_buf_init(bufs[which], sizeof bufs[which]);
}

static fx_capture_t *cap_of(uv_stream_t *s, fx_proc_t *pr)
{
  uv_stream_t *o = NULL, *e = NULL;
  cow_process_stdio(NULL, &o, &e, pr->p);
  return s == o ? &pr->out : &pr->err;
}

static void cap_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
  fx_proc_t *pr = s->data;
  fx_capture_t *c = cap_of(s, pr);
  if (n < 0) {
    c->eof++;
    return;
  }
  c->total += (uint64_t)n;
  c->sum = fx_checksum_update(c->sum, buf->base, (size_t)n);
  if (c->keep) {
    if (c->len + (size_t)n + 1 > c->cap) {
      c->cap = (c->len + (size_t)n + 1) * 2;
      c->data = realloc(c->data, c->cap);
      assert_non_null(c->data);
    }
    memcpy(c->data + c->len, buf->base, (size_t)n);
    c->len += (size_t)n;
    c->data[c->len] = '\0';
  }
}

static void proc_created(cow_process_t *p, int status, const cow_error_t *err, void *data)
{
  fx_proc_t *pr = data;
  pr->create_calls++;
  pr->create_status = status;
  if (status != 0) {
    if (getenv("FX_VERBOSE") && err)
      fprintf(stderr, "create: %s\n", err->message);
    return;
  }
  uv_stream_t *o = NULL, *e = NULL;
  assert_int_equal(cow_process_stdio(NULL, &o, &e, p), 0);
  if (o) {
    o->data = pr;
    assert_int_equal(cow_process_read_start(p, COW_STDOUT, cap_alloc, cap_read), 0);
  }
  if (e) {
    e->data = pr;
    assert_int_equal(cow_process_read_start(p, COW_STDERR, cap_alloc, cap_read), 0);
  }
}

static void proc_waited(cow_process_t *p, int status, int64_t code, const cow_error_t *err,
                        void *data)
{
  (void)p;
  fx_proc_t *pr = data;
  pr->wait_calls++;
  pr->wait_status = status;
  pr->exit_code = code;
  if (status != 0 && getenv("FX_VERBOSE") && err)
    fprintf(stderr, "wait: %s\n", err->message);
}

int fx_proc_start(fx_proc_t *pr, fx_t *fx, cow_host_t *host, const char *config)
{
  memset(pr, 0, sizeof *pr);
  pr->fx = fx;
  pr->exit_code = -2;
  pr->out.keep = pr->err.keep = 1;
  int rc = cow_host_create_process(&pr->p, host, config, proc_created, pr);
  if (rc != 0)
    return rc;
  assert_int_equal(cow_process_wait(pr->p, proc_waited, pr), 0);
  return 0;
}

void fx_proc_run(fx_proc_t *pr, uint64_t ms)
{
  assert_true(fx_run_until(pr->fx, &pr->wait_calls, ms));
  assert_int_equal(pr->wait_calls, 1);
  assert_int_equal(pr->create_calls, 1);
}

static void proc_closed(cow_process_t *p, void *data)
{
  (void)p;
  ((fx_proc_t *)data)->close_calls++;
}

void fx_proc_close(fx_proc_t *pr)
{
  assert_int_equal(cow_process_close(pr->p, proc_closed, pr), 0);
  assert_true(fx_run_until(pr->fx, &pr->close_calls, 5000));
  assert_int_equal(pr->close_calls, 1);
  free(pr->out.data);
  free(pr->err.data);
  pr->out.data = pr->err.data = NULL;
}

char *fx_params(const char *const *argv, int in, int out, int err, int tty)
{
  json_t *o = json_object();
  json_t *a = json_array();
  for (int i = 0; argv && argv[i]; i++)
    TJ_OK(json_array_append_new(a, json_string(argv[i])));
  TJ_OK(json_object_set_new(o, "CommandArgs", a));
  TJ_OK(json_object_set_new(o, "WorkingDirectory", json_string("/")));
  TJ_OK(json_object_set_new(
      o, "Environment",
      json_pack("{s:s}", "PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")));
  if (tty)
    TJ_OK(json_object_set_new(o, "EmulateConsole", json_true()));
  if (in)
    TJ_OK(json_object_set_new(o, "CreateStdInPipe", json_true()));
  if (out)
    TJ_OK(json_object_set_new(o, "CreateStdOutPipe", json_true()));
  if (err)
    TJ_OK(json_object_set_new(o, "CreateStdErrPipe", json_true()));
  char *s = json_dumps(o, JSON_COMPACT);
  json_decref(o);
  return s;
}

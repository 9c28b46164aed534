/* The shim's events: forwarded over ttrpc (Events/Forward with the namespace metadata) in
 * the order published, one at a time; kept and retried while nobody listens; handed to the
 * publish binary (topic and namespace as arguments, the Any on stdin) when there is no
 * ttrpc address; and closing flushes what is queued. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "events.h"
#include "pb.h"
#include "ttrpc.h"

#define DEADLINE_MS 20000

static uv_loop_t loop;
static char dir[64], path[96];
static ttrpc_server_t *server;
static ttrpc_service_t service;
static ttrpc_method_fn methods[1];

static struct {
  char topics[8][64];
  char ns[8][32];
  uint32_t pids[8];
  size_t n;
} seen;

static void deadline_fired(uv_timer_t *t)
{
  *(int *)t->data = 1;
}

static void run_until(int (*done)(void), const char *what)
{
  uv_timer_t t;
  int expired = 0;
  uv_timer_init(&loop, &t);
  t.data = &expired;
  uv_timer_start(&t, deadline_fired, DEADLINE_MS, 0);
  while (!done() && !expired)
    uv_run(&loop, UV_RUN_ONCE);
  uv_close((uv_handle_t *)&t, NULL);
  uv_run(&loop, UV_RUN_NOWAIT);
  if (!done())
    fail_msg("%s never happened within %d ms", what, DEADLINE_MS);
}

/* containerd's side: record each TaskExit's topic, namespace and pid. */
static void h_forward(ttrpc_call_t *call, const ProtobufCMessage *msg, void *data)
{
  const Containerd__Services__Events__Ttrpc__V1__ForwardRequest *r = (const void *)msg;
  assert_non_null(r->envelope);
  assert_non_null(r->envelope->timestamp);
  assert_true(seen.n < 8);
  snprintf(seen.topics[seen.n], 64, "%s", r->envelope->topic);
  const char *ns = ttrpc_call_metadata(call, "containerd-namespace-ttrpc");
  snprintf(seen.ns[seen.n], 32, "%s|%s", ns != NULL ? ns : "-", r->envelope->namespace_);
  Containerd__Events__TaskExit *ev = (Containerd__Events__TaskExit *)pb_any_unpack(
      r->envelope->event, &containerd__events__task_exit__descriptor, NULL, 0);
  assert_non_null(ev);
  seen.pids[seen.n] = ev->pid;
  containerd__events__task_exit__free_unpacked(ev, NULL);
  seen.n++;
  ttrpc_call_reply(call, NULL);
}

static void start_server(void)
{
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_un sa = {.sun_family = AF_UNIX};
  snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
  assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
  assert_int_equal(listen(fd, 8), 0);
  methods[0] = h_forward;
  service.descriptor = &containerd__services__events__ttrpc__v1__events__descriptor;
  service.methods = methods;
  assert_int_equal(ttrpc_server_start(&server, &loop, &service, 1, fd), 0);
}

static int flag;
static void set_flag(void *data)
{
  flag = 1;
}
static int flag_set(void)
{
  return flag;
}

static int setup(void **state)
{
  assert_int_equal(uv_loop_init(&loop), 0);
  snprintf(dir, sizeof dir, "/tmp/events-test-XXXXXX");
  assert_non_null(mkdtemp(dir));
  snprintf(path, sizeof path, "%s/ttrpc", dir);
  memset(&seen, 0, sizeof seen);
  server = NULL;
  return 0;
}

static int teardown(void **state)
{
  if (server != NULL) {
    flag = 0;
    ttrpc_server_close(server, set_flag, NULL);
    run_until(flag_set, "the server's close");
  }
  uv_run(&loop, UV_RUN_DEFAULT);
  assert_int_equal(uv_loop_close(&loop), 0);
  char cmd[160];
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  assert_int_equal(system(cmd), 0);
  return 0;
}

static void publish_exit(shim_events_t *ev, uint32_t pid)
{
  Containerd__Events__TaskExit e = CONTAINERD__EVENTS__TASK_EXIT__INIT;
  e.container_id = "c1";
  e.id = "c1";
  e.pid = pid;
  e.exit_status = 3;
  shim_events_publish(ev, "/tasks/exit", &e.base);
}

static size_t want;
static int enough(void)
{
  return seen.n >= want;
}

static void test_in_order(void **state)
{
  start_server();
  shim_events_t *ev;
  shim_events_config_t cfg = {path, "/nonexistent", "/nonexistent.sock", "ns1"};
  assert_int_equal(shim_events_new(&ev, &loop, &cfg), 0);
  for (uint32_t i = 1; i <= 5; i++)
    publish_exit(ev, i);
  want = 5;
  run_until(enough, "five events at containerd");
  for (size_t i = 0; i < 5; i++) {
    assert_int_equal(seen.pids[i], i + 1);
    assert_string_equal(seen.topics[i], "/tasks/exit");
    assert_string_equal(seen.ns[i], "ns1|ns1");
  }
  flag = 0;
  shim_events_close(ev, 5000, set_flag, NULL);
  assert_int_equal(flag, 0);
  run_until(flag_set, "the publisher's close");
}

/* Nobody listens yet: the event waits and is retried; it arrives once containerd is there. */
static void server_later(uv_timer_t *t)
{
  start_server();
  uv_close((uv_handle_t *)t, NULL);
}

static void test_retried_until_delivered(void **state)
{
  shim_events_t *ev;
  shim_events_config_t cfg = {path, NULL, NULL, "default"};
  assert_int_equal(shim_events_new(&ev, &loop, &cfg), 0);
  publish_exit(ev, 11);
  publish_exit(ev, 12);
  uv_timer_t later;
  uv_timer_init(&loop, &later);
  uv_timer_start(&later, server_later, 300, 0); /* after the first attempt failed */
  want = 2;
  run_until(enough, "the events after containerd came");
  assert_int_equal(seen.pids[0], 11);
  assert_int_equal(seen.pids[1], 12);
  flag = 0;
  shim_events_close(ev, 5000, set_flag, NULL);
  run_until(flag_set, "the publisher's close");
}

/* No ttrpc address: the publish binary gets topic, namespace and address as arguments and
 * the Any on stdin. The "binary" here is a script that keeps what it got. */
static void test_publish_binary(void **state)
{
  char script[160], out[160];
  snprintf(script, sizeof script, "%s/publish", dir);
  snprintf(out, sizeof out, "%s/got", dir);
  FILE *f = fopen(script, "w");
  assert_non_null(f);
  fprintf(f, "#!/bin/sh\necho \"$*\" >%s.args\ncat >%s\n", out, out);
  fclose(f);
  assert_int_equal(chmod(script, 0755), 0);
  shim_events_t *ev;
  shim_events_config_t cfg = {"", script, "/run/ctd.sock", "ns2"};
  assert_int_equal(shim_events_new(&ev, &loop, &cfg), 0);
  publish_exit(ev, 21);
  flag = 0;
  shim_events_close(ev, 10000, set_flag, NULL); /* closing delivers what is queued */
  run_until(flag_set, "the publisher's close");
  char args[256] = "", argsfile[200];
  snprintf(argsfile, sizeof argsfile, "%s.args", out);
  f = fopen(argsfile, "r");
  assert_non_null(f);
  assert_non_null(fgets(args, sizeof args, f));
  fclose(f);
  assert_string_equal(args,
                      "--address /run/ctd.sock publish --topic /tasks/exit --namespace ns2\n");
  uint8_t buf[512];
  f = fopen(out, "r");
  assert_non_null(f);
  size_t n = fread(buf, 1, sizeof buf, f);
  fclose(f);
  Google__Protobuf__Any *any = google__protobuf__any__unpack(NULL, n, buf);
  assert_non_null(any);
  assert_string_equal(any->type_url, "containerd.events.TaskExit");
  Containerd__Events__TaskExit *e = (Containerd__Events__TaskExit *)pb_any_unpack(
      any, &containerd__events__task_exit__descriptor, NULL, 0);
  assert_non_null(e);
  assert_int_equal(e->pid, 21);
  assert_int_equal(e->exit_status, 3);
  containerd__events__task_exit__free_unpacked(e, NULL);
  google__protobuf__any__free_unpacked(any, NULL);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_in_order, setup, teardown),
      cmocka_unit_test_setup_teardown(test_retried_until_delivered, setup, teardown),
      cmocka_unit_test_setup_teardown(test_publish_binary, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

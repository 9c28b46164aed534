/* The contract suite against the guest connection (LCOW GCS bridge) with cow-gcs-peer as
 * the guest, over an AF_UNIX port directory: processes exec'd into a container (the agent
 * signals only container processes, not UVM ones). argv[1] is the peer's path; with
 * --socket-slot as argv[2] the port directory goes through a transport on the listen_tcp
 * slot (every connection a uv_tcp_t, as hvsocket gives them). */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "contract/contract.h"
#include "cow/guest.h"
#include "support/tcp-transport.h"
#include "support/wait.h"
#include "support/tjson.h"

static const char *peer_path;
static int socket_slot;

#define CID "c0ffee00-0000-4000-8000-00000000c0de"

struct guest_ctx {
  char dir[64];
  cow_host_t *conn;
  cow_container_t *container;
  cow_process_t *init;
  int created, create_status, closed;
  cow_guest_transport_t *transport;
  uv_process_t peer;
  int peer_started, peer_exited;
  int connected;
  int connect_status;
};

static void peer_exit(uv_process_t *p, int64_t status, int sig)
{
  struct guest_ctx *g = p->data;
  g->peer_exited = 1;
  uv_close((uv_handle_t *)p, NULL);
}

static void on_connected(cow_host_t *h, int status, const cow_error_t *err, void *data)
{
  struct guest_ctx *g = data;
  g->connected = 1;
  g->connect_status = status;
}

static void on_container(cow_container_t *c, int status, const cow_error_t *err, void *data)
{
  struct guest_ctx *g = data;
  g->created = 1;
  g->create_status = status;
}

static void on_init(cow_process_t *p, int status, const cow_error_t *err, void *data)
{
  struct guest_ctx *g = data;
  g->created = 1;
  g->create_status = status;
}

static int start_container(uv_loop_t *loop, struct guest_ctx *g)
{
  json_t *spec = json_pack(
      "{s:s, s:{s:b, s:{s:i, s:i}, s:[s,s], s:[s], s:s}, s:{s:s}, s:{}}", "ociVersion", "1.0.2-dev",
      "process", "terminal", 0, "user", "uid", 0, "gid", 0, "args", "/bin/sleep", "1000", "env",
      "PATH=/usr/sbin:/usr/bin:/sbin:/bin", "cwd", "/", "root", "path", "/", "linux");
  json_t *doc = json_pack("{s:{s:i,s:i}, s:s, s:o, s:s}", "SchemaVersion", "Major", 2, "Minor", 1,
                          "OciBundlePath", "/run/gcs/c/" CID, "OciSpecification", spec,
                          "ScratchDirPath", "/run/gcs/c/" CID "/scratch");
  char *cfg = json_dumps(doc, JSON_COMPACT);
  json_decref(doc);
  int rc = cow_guest_create_container(&g->container, g->conn, CID, cfg, on_container, g);
  free(cfg);
  if (rc != 0)
    return rc;
  TW_UNTIL(loop, g->created);
  if (g->create_status != 0)
    return g->create_status;
  /* The first process without OciProcess is the container's init. */
  g->created = 0;
  rc = cow_host_create_process(&g->init, cow_container_host(g->container), "{}", on_init, g);
  if (rc != 0)
    return rc;
  TW_UNTIL(loop, g->created);
  return g->create_status;
}

static int guest_setup(uv_loop_t *loop, const struct contract_options *opt, cow_host_t **host,
                       void **ctx)
{
  struct guest_ctx *g = calloc(1, sizeof *g);
  snprintf(g->dir, sizeof g->dir, "/tmp/cow-contract-XXXXXX");
  if (mkdtemp(g->dir) == NULL)
    return COW_EIO;
  int rc = socket_slot ? tcpt_new_unix_socket_slot(&g->transport, g->dir)
                       : cow_guest_transport_unix(&g->transport, g->dir);
  if (rc != 0)
    return rc;
  cow_guest_options_t opts = COW_GUEST_OPTIONS_INIT;
  opts.transport = g->transport;
  opts.connect_timeout_ms = 20000;
  *ctx = g;
  if ((rc = cow_guest_connect(&g->conn, loop, &opts, on_connected, g)) != 0)
    return rc;
  /* The listener exists now: start the guest, which dials the bridge port. */
  char late[16];
  snprintf(late, sizeof late, "%u", opt->output_late_ms);
  char *args[] = {(char *)peer_path, "--port-dir", g->dir, NULL, NULL, NULL};
  if (opt->output_late_ms) {
    args[3] = "--output-late";
    args[4] = late;
  }
  uv_process_options_t po = {0};
  po.file = peer_path;
  po.args = args;
  po.exit_cb = peer_exit;
  g->peer.data = g;
  if ((rc = uv_spawn(loop, &g->peer, &po)) != 0)
    return rc;
  g->peer_started = 1;
  TW_UNTIL(loop, g->connected);
  if (g->connect_status != 0)
    return g->connect_status;
  rc = start_container(loop, g);
  *host = cow_container_host(g->container);
  return rc;
}

/* An exec into the container: an OciProcess plus the stdio pipes wanted. */
static char *guest_process_config(void *ctx, const char *const *argv, unsigned flags)
{
  json_t *args = json_array();
  for (int i = 0; argv[i]; i++)
    TJ_OK(json_array_append_new(args, json_string(argv[i])));
  json_t *oci = json_pack(
      "{s:b, s:o, s:[s], s:s, s:{s:i,s:i}}", "terminal", (flags & CONTRACT_TTY) != 0, "args", args,
      "env", "PATH=/usr/sbin:/usr/bin:/sbin:/bin", "cwd", "/", "user", "uid", 0, "gid", 0);
  json_t *o = json_object();
  TJ_OK(json_object_set_new(o, "OciProcess", oci));
  if (flags & CONTRACT_STDIN)
    TJ_OK(json_object_set_new(o, "CreateStdInPipe", json_true()));
  if (flags & CONTRACT_STDOUT)
    TJ_OK(json_object_set_new(o, "CreateStdOutPipe", json_true()));
  if (flags & CONTRACT_STDERR)
    TJ_OK(json_object_set_new(o, "CreateStdErrPipe", json_true()));
  char *s = json_dumps(o, JSON_COMPACT);
  json_decref(o);
  return s;
}

static void closed(cow_container_t *c, void *data)
{
  ((struct guest_ctx *)data)->closed = 1;
}

static void terminated(cow_container_t *c, int status, const cow_error_t *err, void *data)
{
}

/* Close what setup made, in order; whatever does not end within the deadline is named in a
 * failure after everything else was still cleaned up (the peer is killed, its port
 * directory removed), so that the next test starts clean. */
static void guest_teardown(uv_loop_t *loop, cow_host_t *host, void *ctx)
{
  struct guest_ctx *g = ctx;
  const char *stuck = NULL;
  if (g == NULL)
    return;
  if (g->container) {
    cow_container_terminate(g->container, terminated, NULL);
    if (g->init)
      cow_process_close(g->init, NULL, NULL);
    cow_container_close(g->container, closed, g);
    if (!tw_try_count(loop, &g->closed, 1, tw_deadline_ms()))
      stuck = "the container's close callback";
  }
  if (g->conn)
    cow_host_close(g->conn, NULL, NULL);
  /* Closing the bridge makes the peer exit (as the real v0.11.4 agent does); it kills the
   * processes it still runs. */
  if (g->peer_started && !tw_try_count(loop, &g->peer_exited, 1, tw_deadline_ms())) {
    uv_process_kill(&g->peer, SIGKILL);
    TW_UNTIL(loop, g->peer_exited);
    if (stuck == NULL)
      stuck = "the peer's exit after the bridge closed";
  }
  cow_guest_transport_release(g->transport);
  char path[128];
  snprintf(path, sizeof path, "rm -rf '%s'", g->dir);
  if (system(path) != 0)
    fprintf(stderr, "could not remove %s\n", g->dir);
  free(g);
  if (stuck != NULL)
    fail_msg("guest teardown: %s did not happen within %llu ms", stuck,
             (unsigned long long)tw_deadline_ms());
}

int main(int argc, char **argv)
{
  if (argc < 2) {
    fprintf(stderr, "usage: %s PATH-OF-cow-gcs-peer\n", argv[0]);
    return 2;
  }
  peer_path = argv[1];
  socket_slot = argc > 2 && strcmp(argv[2], "--socket-slot") == 0;
  static struct contract_fixture fx = {
      .name = "guest",
      .setup = guest_setup,
      .process_config = guest_process_config,
      /* A utility-VM process without a command: refused on the host (the GCS would index
       * argv[0] unchecked). */
      .bad_config = "{\"CreateInUtilityVM\":true,\"WorkingDirectory\":\"/\"}",
      .teardown = guest_teardown,
  };
  if (socket_slot)
    fx.name = "guest_socket_slot";
  return contract_main(&fx);
}

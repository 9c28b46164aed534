/* lcow-exec: drive the GCS agent of a Linux utility VM through libcow's guest connection:
 * wait for the guest to dial the bridge, negotiate, then run a command in the utility VM,
 * or create a container from an OCI bundle (layers attached first, as hcsshim does) and
 * run the command as its init. Terminal, stdio, signals and exit code as `docker run`. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <uv.h>

#include "common/session.h"
#include "cow.h"
#include "cow/guest.h"

static const char usage[] =
    "Usage: lcow-exec TRANSPORT [OPTIONS] [--] CMD [ARG...]\n"
    "       lcow-exec TRANSPORT --container ID --bundle PATH\n"
    "                 [--layer PATH]... [--scratch PATH] [OPTIONS] [--] [CMD [ARG...]]\n"
    "\n"
    "Listen for the GCS agent of a Linux utility VM, negotiate the bridge protocol, and run\n"
    "CMD: directly in the utility VM, or, with --container, as the init process of a new\n"
    "container made from the OCI bundle PATH (its config.json; CMD replaces process.args,\n"
    "-e adds to process.env, -w sets process.cwd, -t sets process.terminal). With --layer,\n"
    "the layers are attached first (a CombinedLayers ModifySettings on the utility VM, root\n"
    "/run/gcs/c/ID/rootfs, as hcsshim sends it) and root.path points there. When the command\n"
    "ends the container is stopped, its layers removed and its state deleted.\n"
    "\n"
    "Guest connection (TRANSPORT: exactly one of the first three):\n"
    "      --port-dir DIR    AF_UNIX port directory: listen on DIR/1073741824 for the bridge\n"
    "                        and DIR/<port> for stdio (Firecracker / Cloud Hypervisor hybrid\n"
    "                        vsock, or cow-gcs-peer --port-dir DIR); POSIX\n"
    "      --vsock-port N    AF_VSOCK: listen on port N of any CID; the GCS dials the bridge\n"
    "                        port 1073741824 (0x40000000), the only value accepted; Linux\n"
    "      --hvsock VMID     Hyper-V sockets: listen on the utility VM's id (a GUID), service\n"
    "                        ids XXXXXXXX-facb-11e6-bd58-64006a7986d3 (XXXXXXXX = the port);\n"
    "                        Windows\n"
    "      --timeout S       seconds to wait for the guest to dial and negotiate (default 30)\n"
    "      --rpc-timeout S   seconds the guest may take to answer a request before the\n"
    "                        connection is given up as dead (default 300)\n"
    "Container:\n"
    "      --container ID    create container ID (needs --bundle)\n"
    "      --bundle PATH     OCI bundle on this machine; PATH/config.json is read\n"
    "      --layer PATH      a read-only layer, as a path inside the utility VM (repeatable,\n"
    "                        lowest first)\n"
    "      --scratch PATH    the container's scratch directory inside the utility VM (sent as\n"
    "                        ScratchPath and ScratchDirPath; without it the rootfs is\n"
    "                        read-only)\n"
    "Process:\n"
    "%s"
    "\n"
    "Signals: SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1 and SIGUSR2 are forwarded. The GCS\n"
    "cannot signal or resize processes that run directly in the utility VM: there, SIGINT,\n"
    "SIGTERM and SIGHUP kill the command instead. Their console keeps its size. A second\n"
    "SIGINT or SIGTERM abandons whatever is in flight, in any phase (waiting for the guest,\n"
    "creating, running, tearing down): lcow-exec says what it abandoned, closes its\n"
    "listeners (no socket is left in the port directory) and exits at once with 128+N; the\n"
    "guest keeps what it has.\n"
    "When what reads lcow-exec's output goes away (lcow-exec ... -- yes | head -1), the\n"
    "command's output is closed and it gets SIGPIPE: it ends, and so does lcow-exec.\n"
    "\n"
    "Exit status:\n"
    "  the command's exit code (container processes killed by signal N: 128+N; utility VM\n"
    "       processes killed by a signal report 4294967295, seen as 255)\n"
    "  2    bad command line, including text that is not UTF-8 (nothing was run)\n"
    "  125  lcow-exec or the guest failed, or no guest connected in time (the message gives\n"
    "       the libcow error and the HRESULT)\n"
    "  126, 127  the command could not be run / was not found (as reported by the guest)\n"
    "\n"
    "Example: cow-gcs-peer --port-dir /tmp/uvm & lcow-exec --port-dir /tmp/uvm -- uname -a\n";

static const char prog[] = "lcow-exec";

struct lx {
  uv_loop_t loop;
  session_opts_t opts;
  session_t *s;
  const char *port_dir;
  int vsock;
  const char *hv_vm_id;
  double timeout_s, rpc_timeout_s;
  const char *id, *bundle, *scratch;
  const char **layers;
  size_t nlayers;
  char root[256];    /* ContainerRootPath in the guest */
  char address[300]; /* where the guest dials, for messages */
  cow_guest_transport_t *tr;
  cow_host_t *host;
  cow_container_t *c;
  uv_timer_t waiting; /* says "waiting for the guest" after a second */
  int waiting_open;
  int created, layers_added, aborted, connecting, finished;
  int exit_code;
  char phase[360]; /* what is in flight, for the message of an abandon */
};

static void set_phase(struct lx *x, const char *what, const char *id)
{
  snprintf(x->phase, sizeof x->phase, "%s%s%s", what, id ? " " : "", id ? id : "");
}

static void stop_waiting(struct lx *x)
{
  if (x->waiting_open) {
    x->waiting_open = 0;
    uv_close((uv_handle_t *)&x->waiting, NULL);
  }
}

/* session_report() for a step on the container, naming it: "WHAT ID: ...". */
static void report(const struct lx *x, const char *what, int status, const cow_error_t *err)
{
  char buf[320];
  snprintf(buf, sizeof buf, "%s %s", what, x->id);
  session_report(prog, buf, status, err);
}

/* ---- teardown: layers, container state, handles ---- */

static void finish(struct lx *x)
{
  if (x->finished)
    return;
  x->finished = 1;
  stop_waiting(x);
  if (x->c != NULL)
    cow_container_close(x->c, NULL, NULL);
  if (x->host != NULL)
    cow_host_close(x->host, NULL, NULL);
  x->c = NULL;
  x->host = NULL;
  session_close(x->s);
}

/* A second SIGINT/SIGTERM, in any phase: close every handle now (the listeners go with the
 * host, the stdio ones with the process), wait for nothing the guest would have to answer. */
static void abandoned(session_t *s, int signo, void *data)
{
  struct lx *x = data;
  fprintf(stderr, "%s: second signal: abandoned while %s\n", prog, x->phase);
  x->exit_code = 128 + signo;
  finish(x);
}

/* The callbacks below run after an abandon too (ECANCELED): they then do nothing. */

static void state_deleted(cow_host_t *h, int status, const cow_error_t *err, void *data)
{
  struct lx *x = data;
  if (x->finished)
    return;
  if (status < 0 && status != COW_ECANCELED)
    report(x, "deleting the state of container", status, err);
  finish(x);
}

/* A clean-up step that could not even be sent (the connection is gone, most often) is said,
 * with why the bridge died, never skipped in silence: what it would have removed is left
 * in the guest. */
static void skipped(struct lx *x, const char *what, int rc)
{
  cow_error_t cause = COW_ERROR_INIT;
  if (rc == COW_EBRIDGE_CLOSED)
    cow_guest_bridge_error(x->host, &cause);
  char buf[320];
  snprintf(buf, sizeof buf, "%s %s skipped, left in the guest", what, x->id);
  session_report(prog, buf, rc, cause.message != NULL ? &cause : NULL);
  cow_error_clear(&cause);
}

static void delete_state(struct lx *x)
{
  set_phase(x, "deleting the state of container", x->id);
  if (!x->created ||
      !(cow_guest_capability_flags(x->host) & COW_GUEST_CAP_DELETE_CONTAINER_STATE)) {
    finish(x);
    return;
  }
  int rc = cow_guest_delete_container_state(x->host, x->id, state_deleted, x);
  if (rc == 0)
    return;
  skipped(x, "deleting the state of container", rc);
  finish(x);
}

static void layers_removed(cow_host_t *h, int status, const cow_error_t *err, void *data)
{
  struct lx *x = data;
  if (x->finished)
    return;
  if (status < 0 && status != COW_ECANCELED)
    report(x, "removing the layers of container", status, err);
  delete_state(x);
}

static char *layers_request(struct lx *x, const char *type);

/* hcsshim's order: the container's resources go first, DeleteContainerState last. */
static void cleanup(struct lx *x)
{
  set_phase(x, "removing the layers of container", x->id);
  if (!x->layers_added) {
    delete_state(x);
    return;
  }
  char *req = layers_request(x, "Remove");
  int rc = req != NULL ? cow_guest_modify(x->host, req, layers_removed, x) : COW_ENOMEM;
  cow_free(req);
  if (rc != 0) {
    skipped(x, "removing the layers of container", rc);
    delete_state(x);
  }
}

static void stopped(cow_container_t *c, int status, int forced, const cow_error_t *err, void *data)
{
  struct lx *x = data;
  if (x->finished)
    return;
  if (status < 0 && status != COW_ECANCELED)
    report(x, forced ? "terminating container" : "shutting down container", status, err);
  cleanup(x);
}

static void teardown(struct lx *x)
{
  if (x->c == NULL || !x->created) {
    cleanup(x);
    return;
  }
  /* Shutdown, then terminate after 10 s, as hcsshim does. */
  set_phase(x, "stopping container", x->id);
  int rc = cow_container_stop(x->c, 10000, stopped, x);
  if (rc != 0) {
    report(x, "stopping container", rc, NULL);
    cleanup(x);
  }
}

static void command_done(session_t *s, int exit_code, void *data)
{
  struct lx *x = data;
  x->exit_code = exit_code;
  teardown(x);
}

/* ---- documents ---- */

/* Every jansson result below is checked: a NULL from a constructor (no memory, or text
 * that is not UTF-8, which parse() already refused) or a failed set must never drop a part
 * of what the user asked for. `*ok` goes to 0 at the first failure; `v` is consumed. */
static void put(json_t *o, const char *key, json_t *v, int *ok)
{
  if (v == NULL || json_object_set_new(o, key, v) != 0)
    *ok = 0;
}

static json_t *strings(char *const *v, int *ok)
{
  json_t *a = json_array();
  for (; a != NULL && v != NULL && *v != NULL; v++) {
    json_t *s = json_string(*v);
    if (s == NULL || json_array_append_new(a, s) != 0) {
      json_decref(a);
      a = NULL;
    }
  }
  if (a == NULL)
    *ok = 0;
  return a;
}

/* The text of `j` (consumed), or NULL after a message when anything failed. */
static char *dump(json_t *j, int ok, const char *what)
{
  char *s = ok && j != NULL ? json_dumps(j, JSON_COMPACT) : NULL;
  json_decref(j);
  if (s == NULL)
    fprintf(stderr, "%s: cannot build %s (out of memory)\n", prog, what);
  return s;
}

/* The LCOW documents from the library's builder (cow_guest_container_config_json): the
 * hosted-system document for `spec_json` (NULL: none wanted) and the CombinedLayers request
 * of `type` ("Add", "Remove"; NULL: none wanted). It sets the network namespace, without
 * which Microsoft's agent refuses every later container. The text is freed with cow_free. */
static int guest_docs(struct lx *x, const char *spec_json, const char *root, char **doc,
                      const char *type, char **req)
{
  const char **layers = calloc(x->nlayers + 1, sizeof *layers);
  if (layers == NULL)
    return COW_ENOMEM;
  for (size_t i = 0; i < x->nlayers; i++)
    layers[i] = x->layers[i];
  cow_guest_container_params_t p = COW_GUEST_CONTAINER_PARAMS_INIT;
  p.id = x->id;
  p.oci_spec_json = spec_json ? spec_json : "{\"process\":{}}";
  p.layers = layers;
  p.scratch_dir = x->scratch;
  p.root_path = root;
  int add = type != NULL && strcmp(type, "Add") == 0;
  cow_error_t err = COW_ERROR_INIT;
  int rc =
      cow_guest_container_config_json(doc, add ? req : NULL, type && !add ? req : NULL, &p, &err);
  if (rc != 0)
    fprintf(stderr, "%s: container %s: %s\n", prog, x->id,
            err.message ? err.message : cow_strerror(rc));
  cow_error_clear(&err);
  free(layers);
  return rc;
}

/* CombinedLayers, as hcsshim's lcowLayersCloser sends it (docs/gcs-bridge-protocol.md §6.1). */
static char *layers_request(struct lx *x, const char *type)
{
  char *req = NULL;
  return guest_docs(x, NULL, x->root, NULL, type, &req) == 0 ? req : NULL;
}

/* Process parameters of the GCS: a utility VM process, or a container's init (no
 * OciProcess: the spec's process is the init). */
static char *process_params(struct lx *x)
{
  int ok = 1;
  json_t *p =
      json_pack("{s:b,s:b,s:b,s:b}", "CreateStdInPipe", x->opts.interactive, "CreateStdOutPipe", 1,
                "CreateStdErrPipe", !x->opts.tty, "EmulateConsole", x->opts.tty);
  if (p != NULL && x->c == NULL) {
    json_t *env = json_object();
    for (size_t i = 0; env != NULL && i < x->opts.nenv; i++) {
      char *kv = x->opts.env[i], *eq = strchr(kv, '=');
      *eq = '\0';
      put(env, kv, json_string(eq + 1), &ok);
      *eq = '=';
    }
    put(p, "CommandArgs", strings(x->opts.argv, &ok), &ok);
    put(p, "Environment", env, &ok);
    if (x->opts.workdir != NULL)
      put(p, "WorkingDirectory", json_string(x->opts.workdir), &ok);
  }
  return dump(p, ok, "the process parameters");
}

/* The LCOW hosted-system document from the bundle's config.json (docs/gcs-bridge-protocol.md
 * §4.2): the command line's CMD, -e, -w and -t applied to the spec's process. */
static char *container_doc(struct lx *x)
{
  char path[4096];
  json_error_t e;
  snprintf(path, sizeof path, "%s/config.json", x->bundle);
  json_t *spec = json_load_file(path, 0, &e); /* refuses text that is not UTF-8 */
  if (!json_is_object(spec)) {
    if (spec != NULL)
      snprintf(e.text, sizeof e.text, "not a JSON object");
    fprintf(stderr, "%s: %s: %s (line %d)\n", prog, path, e.text, e.line);
    json_decref(spec);
    return NULL;
  }
  int ok = 1;
  json_t *proc = json_object_get(spec, "process");
  if (!json_is_object(proc)) { /* the GCS dereferences process, root and linux unchecked */
    proc = json_object();
    put(spec, "process", proc, &ok);
  }
  if (ok && x->opts.argv[0] != NULL)
    put(proc, "args", strings(x->opts.argv, &ok), &ok);
  if (ok && !json_is_array(json_object_get(proc, "env")))
    put(proc, "env", json_array(), &ok);
  json_t *extra = ok ? strings(x->opts.env, &ok) : NULL;
  if (ok && json_array_extend(json_object_get(proc, "env"), extra) != 0) /* later ones win */
    ok = 0;
  json_decref(extra);
  if (ok && x->opts.workdir != NULL)
    put(proc, "cwd", json_string(x->opts.workdir), &ok);
  uint16_t w, h;
  if (ok && x->opts.tty)
    put(proc, "terminal", json_true(), &ok);
  if (ok && x->opts.tty && session_console_size(x->s, &w, &h) == 0) /* what runc applies */
    put(proc, "consoleSize", json_pack("{s:i,s:i}", "height", h, "width", w), &ok);
  /* With layers the root is where they are combined; without, the bundle's own. */
  const char *root = json_string_value(json_object_get(json_object_get(spec, "root"), "path"));
  char *text = ok ? json_dumps(spec, JSON_COMPACT) : NULL;
  char *doc = NULL;
  if (text == NULL)
    fprintf(stderr, "%s: cannot build the spec of container %s (out of memory)\n", prog, x->id);
  else if (guest_docs(x, text,
                      x->nlayers > 0 ? x->root
                      : root         ? root
                                     : "rootfs",
                      &doc, NULL, NULL) != 0)
    doc = NULL;
  free(text);
  json_decref(spec);
  return doc;
}

/* ---- setup ---- */

static void run_command(struct lx *x, cow_host_t *host)
{
  char *doc = process_params(x);
  if (doc == NULL) { /* the message is out */
    teardown(x);
    return;
  }
  set_phase(x, "starting and running the command", NULL);
  session_start(x->s, host, doc, command_done, x);
  free(doc);
}

static void container_created(cow_container_t *c, int status, const cow_error_t *err, void *data)
{
  struct lx *x = data;
  if (x->finished)
    return;
  x->created = status == 0;
  if (status < 0 || x->aborted) {
    if (status < 0 && status != COW_ECANCELED)
      report(x, "creating container", status, err);
    teardown(x);
    return;
  }
  run_command(x, cow_container_host(c)); /* the first process is the container's init */
}

static void create_container(struct lx *x)
{
  set_phase(x, "creating container", x->id);
  char *doc = container_doc(x);
  int rc = doc != NULL
               ? cow_guest_create_container(&x->c, x->host, x->id, doc, container_created, x)
               : COW_EINVAL;
  cow_free(doc);
  if (rc != 0) {
    if (doc != NULL)
      report(x, "creating container", rc, NULL);
    x->c = NULL;
    teardown(x);
  }
}

static void layers_added(cow_host_t *h, int status, const cow_error_t *err, void *data)
{
  struct lx *x = data;
  if (x->finished)
    return;
  if (status < 0 || x->aborted) {
    if (status < 0 && status != COW_ECANCELED)
      report(x, "adding the layers of container", status, err);
    x->layers_added = status == 0;
    teardown(x);
    return;
  }
  x->layers_added = 1;
  create_container(x);
}

static void connected(cow_host_t *h, int status, const cow_error_t *err, void *data)
{
  struct lx *x = data;
  x->connecting = 0;
  if (x->finished)
    return;
  stop_waiting(x);
  if (status < 0 || x->aborted) {
    if (status == COW_ETIMEDOUT)
      fprintf(stderr, "%s: no guest connected to %s within %g s (%s)\n", prog, x->address,
              x->timeout_s, cow_err_name(status));
    else if (status < 0 && !x->aborted)
      session_report(prog, "connecting to the guest", status, err);
    finish(x);
    return;
  }
  if (x->id == NULL) {
    run_command(x, h);
    return;
  }
  char *req = x->nlayers > 0 ? layers_request(x, "Add") : NULL;
  if (req == NULL) {
    create_container(x);
    return;
  }
  set_phase(x, "adding the layers of container", x->id);
  int rc = cow_guest_modify(h, req, layers_added, x);
  cow_free(req);
  if (rc != 0) {
    report(x, "adding the layers of container", rc, NULL);
    finish(x);
  }
}

static void aborted(session_t *s, int signo, void *data)
{
  struct lx *x = data;
  x->aborted = 1;
  x->exit_code = 128 + signo;
  if (x->connecting)
    finish(x); /* closing the host ends the wait for the guest */
}

static void still_waiting(uv_timer_t *t)
{
  struct lx *x = t->data;
  fprintf(stderr, "%s: waiting for the guest to connect to %s (up to %g s)\n", prog, x->address,
          x->timeout_s);
  stop_waiting(x);
}

static int connect_guest(struct lx *x)
{
  int rc = x->vsock      ? cow_guest_transport_vsock(&x->tr)
           : x->hv_vm_id ? cow_guest_transport_hvsock(&x->tr, x->hv_vm_id)
                         : cow_guest_transport_unix(&x->tr, x->port_dir);
  char what[400];
  if (rc != 0) {
    snprintf(what, sizeof what, "setting up the transport for %s", x->address);
    session_report(prog, what, rc, NULL);
    return rc;
  }
  cow_guest_options_t o = COW_GUEST_OPTIONS_INIT;
  o.transport = x->tr;
  o.connect_timeout_ms = (uint64_t)(x->timeout_s * 1000);
  o.rpc_timeout_ms = (uint64_t)(x->rpc_timeout_s * 1000); /* 0: the library's 5 minutes */
  if (o.connect_timeout_ms == 0)
    o.connect_timeout_ms = 1; /* 0 would mean the library's default (2 minutes) */
  rc = cow_guest_connect(&x->host, &x->loop, &o, connected, x);
  if (rc != 0) {
    snprintf(what, sizeof what, "listening for the guest on %s", x->address);
    session_report(prog, what, rc, NULL);
    return rc;
  }
  x->connecting = 1;
  snprintf(x->phase, sizeof x->phase, "waiting for the guest on %s", x->address);
  /* After a second of silence, say what we are waiting for (a shorter wait just ends). */
  if (x->timeout_s > 1 && uv_timer_init(&x->loop, &x->waiting) == 0) {
    x->waiting_open = 1;
    x->waiting.data = x;
    uv_timer_start(&x->waiting, still_waiting, 1000, 0);
  }
  return 0;
}

/* ---- command line ---- */

enum {
  OPT_PORT_DIR = SESSION_OPT_OWN,
  OPT_VSOCK_PORT,
  OPT_HVSOCK,
  OPT_TIMEOUT,
  OPT_CONTAINER,
  OPT_BUNDLE,
  OPT_LAYER,
  OPT_SCRATCH,
  OPT_RPC_TIMEOUT
};

static const struct option own_options[] = {
    {"port-dir", required_argument, NULL, OPT_PORT_DIR},
    {"vsock-port", required_argument, NULL, OPT_VSOCK_PORT},
    {"hvsock", required_argument, NULL, OPT_HVSOCK},
    {"timeout", required_argument, NULL, OPT_TIMEOUT},
    {"container", required_argument, NULL, OPT_CONTAINER},
    {"bundle", required_argument, NULL, OPT_BUNDLE},
    {"layer", required_argument, NULL, OPT_LAYER},
    {"scratch", required_argument, NULL, OPT_SCRATCH},
    {"rpc-timeout", required_argument, NULL, OPT_RPC_TIMEOUT},
    {NULL, 0, NULL, 0},
};

static int own_option(int key, const char *v, void *data)
{
  struct lx *x = data;
  char *end;
  const char *name = own_options[key - SESSION_OPT_OWN].name;
  if (v[0] == '\0')
    return session_usage_error(prog, "option '--%s' needs a value", name);
  if ((key == OPT_CONTAINER || key == OPT_LAYER || key == OPT_SCRATCH) && !session_valid_utf8(v)) {
    char what[64];
    snprintf(what, sizeof what, "the value of --%s", name); /* it goes to the guest */
    return session_not_utf8(prog, what, v);
  }
  switch (key) {
  case OPT_PORT_DIR:
    x->port_dir = v;
    break;
  case OPT_VSOCK_PORT:
    if (strtoul(v, &end, 0) != COW_GUEST_BRIDGE_PORT || *end != '\0')
      return session_usage_error(prog, "--vsock-port must be the GCS bridge port %u (0x%X)",
                                 COW_GUEST_BRIDGE_PORT, COW_GUEST_BRIDGE_PORT);
    x->vsock = 1;
    break;
  case OPT_HVSOCK: {
    /* The library checks the GUID's form (where hvsocket exists): a bad one is a usage
     * error, not a failure to listen. */
    cow_guest_transport_t *t = NULL;
    int bad = cow_guest_transport_hvsock(&t, v) == COW_EINVAL;
    cow_guest_transport_release(t);
    if (bad)
      return session_usage_error(prog,
                                 "--hvsock needs the utility VM's id as a GUID "
                                 "(xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx), not '%s'",
                                 v);
    x->hv_vm_id = v;
    break;
  }
  case OPT_TIMEOUT:
  case OPT_RPC_TIMEOUT: {
    double t = strtod(v, &end);
    if (*end != '\0' || !(t > 0 && t <= 86400))
      return session_usage_error(prog, "bad --%s '%s' (seconds, up to 86400)",
                                 own_options[key - SESSION_OPT_OWN].name, v);
    *(key == OPT_TIMEOUT ? &x->timeout_s : &x->rpc_timeout_s) = t;
    break;
  }
  case OPT_CONTAINER:
    x->id = v;
    break;
  case OPT_BUNDLE:
    x->bundle = v;
    break;
  case OPT_LAYER: {
    const char **l = realloc(x->layers, (x->nlayers + 1) * sizeof *l);
    if (l == NULL)
      return fprintf(stderr, "%s: out of memory\n", prog), SESSION_EXIT_FAILED;
    x->layers = l;
    l[x->nlayers++] = v;
    break;
  }
  default:
    x->scratch = v;
    break;
  }
  return -1;
}

static int parse(struct lx *x, int argc, char **argv)
{
  x->timeout_s = 30;
  int rc = session_parse(&x->opts, prog, usage, own_options, NULL, own_option, x, argc, argv);
  if (rc >= 0)
    return rc;
  if ((x->port_dir != NULL) + x->vsock + (x->hv_vm_id != NULL) != 1)
    return session_usage_error(prog, "give exactly one of --port-dir, --vsock-port and --hvsock");
  if ((x->id != NULL) != (x->bundle != NULL))
    return session_usage_error(prog, "--container and --bundle go together");
  if (x->id == NULL && (x->nlayers > 0 || x->scratch != NULL))
    return session_usage_error(prog, "--layer and --scratch need --container");
  if (x->id == NULL && x->opts.argv[0] == NULL)
    return session_usage_error(prog, "no command given");
  if (x->id != NULL &&
      snprintf(x->root, sizeof x->root, "/run/gcs/c/%s/rootfs", x->id) >= (int)sizeof x->root)
    return session_usage_error(prog, "--container ID is too long");
  if (x->port_dir != NULL)
    snprintf(x->address, sizeof x->address, "%s/%u", x->port_dir, COW_GUEST_BRIDGE_PORT);
  else if (x->vsock)
    snprintf(x->address, sizeof x->address, "AF_VSOCK port %u", COW_GUEST_BRIDGE_PORT);
  else
    snprintf(x->address, sizeof x->address, "the Hyper-V sockets of VM %s", x->hv_vm_id);
  return -1;
}

int main(int argc, char **argv)
{
  static struct lx x; /* outlives the loop: callbacks refer to it until the end */
  x.exit_code = SESSION_EXIT_FAILED;
  int rc = parse(&x, argc, argv);
  if (rc < 0 && uv_loop_init(&x.loop) == 0) {
    if (session_open(&x.s, &x.loop, &x.opts, prog, aborted, abandoned, &x) != 0 ||
        connect_guest(&x) != 0)
      finish(&x);
    uv_run(&x.loop, UV_RUN_DEFAULT);
    rc = uv_loop_close(&x.loop) == 0 ? x.exit_code : SESSION_EXIT_FAILED;
    if (rc == SESSION_EXIT_FAILED && x.exit_code != SESSION_EXIT_FAILED)
      fprintf(stderr, "%s: internal error: handles left open\n", prog);
  } else if (rc < 0) {
    rc = SESSION_EXIT_FAILED;
  }
  cow_guest_transport_release(x.tr);
  session_opts_free(&x.opts);
  free(x.layers);
  return rc;
}

/* The lcow backend: containers in a Linux utility VM, through libcow's guest connection.
 *
 * The utility VM is the shim's own: booted at the first Create by the configured launcher
 * (options.h), whose "{port_dir}" arguments name the AF_UNIX port directory the guest's
 * agent dials (hybrid vsock: port N is the socket PORT_DIR/N), and stopped when the last
 * container is deleted. The VM is reached through cow_guest_connect(); a container is
 * created with cow_guest_create_container() from the documents libcow builds as hcsshim
 * does (cow_guest_container_config_json(): the bundle's spec adapted for the guest, its
 * network namespace set, and the CombinedLayers requests). What the shim decides is the
 * layers and the scratch: the rootfs mount containerd passes gives them (overlay lowerdirs,
 * top first; the snapshot's directory as the scratch; a bind mount as one layer with the
 * bundle's scratch). The layer paths are this machine's: the guest
 * must see them at the same paths (a VM sharing the host's filesystem, or cow-gcs-peer). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "shim.h"

#define LCOW_STOP_GRACE_MS 10000    /* shutdown, then terminate: hcsshim's order */
#define VM_EXIT_GRACE_MS   10000    /* the launcher's exit after the bridge closed, then SIGKILL */
#define VM_PID_FILE        "vm.pid" /* in the bundle: "PID PORT_DIR", for `delete` */

struct op {
  struct op *next; /* waiting for the VM */
  shim_task_t *t;
  shim_backend_cb cb;
  int code; /* the failure being reported once the undo is done */
  char message[768];
};

struct lcow_task {
  char *config;        /* the hosted-system document of Create (libcow's, cow_free) */
  char *layers_add;    /* CombinedLayers Add, NULL without layers (cow_free) */
  char *layers_remove; /* CombinedLayers Remove (cow_free) */
  int layers_added;    /* the Add succeeded: Remove at the end */
};

static void lcow_task_free(shim_task_t *t)
{
  struct lcow_task *lt = t->backend_data;
  if (lt != NULL) {
    cow_free(lt->config);
    cow_free(lt->layers_add);
    cow_free(lt->layers_remove);
    free(lt);
  }
  t->backend_data = NULL;
}

/* The shim's utility VM. */
static struct vm {
  enum { VM_DOWN, VM_BOOTING, VM_UP, VM_STOPPING } state;
  shim_t *shim;
  char port_dir[108];
  cow_guest_transport_t *transport;
  cow_host_t *host;
  uv_process_t launcher;
  int launcher_running, launcher_handle;
  uv_timer_t timer; /* the launcher's exit grace */
  int timer_init;
  struct op *waiting; /* creates waiting for the boot */
  unsigned containers;
  struct op *stopping; /* the destroy that stops the VM */
} vm;

static struct op *op_new(shim_task_t *t, shim_backend_cb cb)
{
  struct op *o = calloc(1, sizeof *o);
  if (o != NULL) {
    o->t = t;
    o->cb = cb;
  }
  return o;
}

static void op_done(struct op *o, int code, const char *message)
{
  shim_task_t *t = o->t;
  shim_backend_cb cb = o->cb;
  free(o);
  cb(t, code, message);
}

static void op_fail(struct op *o, int code, const char *fmt, const char *detail)
{
  char msg[768];
  snprintf(msg, sizeof msg, fmt, detail);
  op_done(o, code, msg);
}

/* ---- documents: libcow's builder, from what containerd passed ---- */

static char *dump(json_t *j)
{
  char *s = j != NULL ? json_dumps(j, JSON_COMPACT) : NULL;
  json_decref(j);
  return s;
}

static const char *mount_option(const Containerd__Types__Mount *m, const char *key)
{
  size_t n = strlen(key);
  for (size_t i = 0; i < m->n_options; i++)
    if (strncmp(m->options[i], key, n) == 0 && m->options[i][n] == '=')
      return m->options[i] + n + 1;
  return NULL;
}

/* The layers (NULL-terminated, malloc'd with their strings) and the scratch directory of
 * t's rootfs mount: an overlay's lowerdirs, top first (overlayfs's order, and hcsshim's),
 * with the snapshot's directory (the parent of upperdir) as the scratch; a bind mount's
 * source as one layer, with BUNDLE/scratch. No mount: no layers. 0, or -1 with `err`. */
static int map_rootfs(shim_task_t *t, char ***layers, char *scratch, size_t slen, char *err,
                      size_t errlen)
{
  *layers = NULL;
  scratch[0] = '\0';
  if (t->nrootfs == 0)
    return 0;
  if (t->nrootfs > 1) {
    snprintf(err, errlen, "the lcow backend takes one rootfs mount, not %zu", t->nrootfs);
    return -1;
  }
  const Containerd__Types__Mount *m = t->rootfs[0];
  const char *lower = NULL;
  if (strcmp(m->type, "overlay") == 0) {
    lower = mount_option(m, "lowerdir");
    const char *upper = mount_option(m, "upperdir");
    if (upper != NULL) { /* the guest makes upper/ and work/ there */
      snprintf(scratch, slen, "%s", upper);
      char *slash = strrchr(scratch, '/');
      if (slash != NULL)
        *slash = '\0';
    }
  } else if (strcmp(m->type, "bind") == 0 || strcmp(m->type, "rbind") == 0) {
    lower = m->source;
    snprintf(scratch, slen, "%s/scratch", t->bundle);
    if (mkdir(scratch, 0700) != 0 && errno != EEXIST) {
      snprintf(err, errlen, "mkdir %s: %s", scratch, strerror(errno));
      return -1;
    }
  } else {
    snprintf(err, errlen, "the lcow backend cannot use a rootfs mount of type %s", m->type);
    return -1;
  }
  size_t n = 0, cap = 4;
  char **v = calloc(cap + 1, sizeof *v);
  for (const char *p = lower; v != NULL && p != NULL && *p != '\0';) {
    const char *end = m->type[0] == 'o' ? strchr(p, ':') : NULL; /* a bind source is one path */
    size_t len = end != NULL ? (size_t)(end - p) : strlen(p);
    if (n == cap) {
      char **nv = realloc(v, (2 * cap + 1) * sizeof *v);
      if (nv == NULL)
        break;
      v = nv;
      cap *= 2;
    }
    v[n] = strndup(p, len);
    v[++n] = NULL;
    p = end != NULL ? end + 1 : p + len;
  }
  if (v == NULL || n == 0) {
    snprintf(err, errlen, v == NULL ? "out of memory" : "the rootfs mount has no layers");
    shim_argv_free(v);
    return -1;
  }
  *layers = v;
  return 0;
}

/* Build t's documents with cow_guest_container_config_json(). 0, or a gRPC code with `err`. */
static int build_documents(shim_task_t *t, struct lcow_task *lt, char *err, size_t errlen)
{
  char **layers = NULL, scratch[4096];
  if (map_rootfs(t, &layers, scratch, sizeof scratch, err, errlen) != 0)
    return TTRPC_INVALID_ARGUMENT;
  /* The spec with process.terminal as the task asked, whole or not at all. */
  json_t *spec = json_deep_copy(t->spec);
  if (spec != NULL && ((!json_is_object(json_object_get(spec, "process")) &&
                        json_object_set_new(spec, "process", json_object()) != 0) ||
                       json_object_set_new(json_object_get(spec, "process"), "terminal",
                                           json_boolean(t->init->terminal)) != 0)) {
    json_decref(spec);
    spec = NULL;
  }
  char *spec_text = dump(spec);
  cow_guest_container_params_t gp = COW_GUEST_CONTAINER_PARAMS_INIT;
  gp.id = t->id;
  gp.oci_spec_json = spec_text;
  gp.layers = (const char *const *)layers;
  gp.scratch_dir = scratch[0] != '\0' ? scratch : NULL;
  /* Without mounts the spec's own root is used as it is (ctr --rootfs). */
  if (layers == NULL)
    gp.root_path = json_string_value(json_object_get(json_object_get(t->spec, "root"), "path"));
  cow_error_t e = COW_ERROR_INIT;
  int rc = spec_text == NULL ? COW_ENOMEM
                             : cow_guest_container_config_json(&lt->config, &lt->layers_add,
                                                               &lt->layers_remove, &gp, &e);
  if (spec_text == NULL)
    snprintf(err, errlen,
             "building the container's documents: the OCI spec with "
             "process.terminal: out of memory");
  else if (rc != 0)
    snprintf(err, errlen, "building the container's documents: %s",
             e.message != NULL ? e.message : cow_strerror(rc));
  cow_error_clear(&e);
  if (rc == 0 && layers == NULL) { /* nothing to mount */
    cow_free(lt->layers_add);
    cow_free(lt->layers_remove);
    lt->layers_add = lt->layers_remove = NULL;
  }
  free(spec_text);
  shim_argv_free(layers);
  return rc == 0 ? TTRPC_OK : shim_code(rc);
}

static char *lcow_process_doc(shim_task_t *t, shim_proc_t *p, json_t *process, unsigned streams,
                              char *err, size_t errlen)
{
  json_t *d = json_pack("{s:b,s:b,s:b,s:b}", "CreateStdInPipe", (streams >> COW_STDIN) & 1,
                        "CreateStdOutPipe", (streams >> COW_STDOUT) & 1, "CreateStdErrPipe",
                        (streams >> COW_STDERR) & 1, "EmulateConsole", p->terminal);
  if (d != NULL && p != t->init) { /* an exec: its own OCI process; the init's is the spec's */
    json_t *oci = json_deep_copy(process);
    /* d takes a reference of its own (set_new consumes it even when it fails) */
    if (oci == NULL || json_object_set_new(oci, "terminal", json_boolean(p->terminal)) != 0 ||
        json_object_set_new(d, "OciProcess", json_incref(oci)) != 0) {
      json_decref(d);
      d = NULL;
    }
    json_decref(oci);
  }
  char *doc = dump(d);
  if (doc == NULL)
    snprintf(err, errlen,
             "building the process document (the OCI process with terminal): "
             "out of memory");
  return doc;
}

/* ---- the utility VM ---- */

static void vm_stopped(void);

static void vm_maybe_stopped(void)
{
  if (vm.state == VM_STOPPING && vm.host == NULL && !vm.launcher_handle && !vm.timer_init)
    vm_stopped();
}

static void timer_closed(uv_handle_t *h)
{
  vm.timer_init = 0;
  vm_maybe_stopped();
}

static void launcher_closed(uv_handle_t *h)
{
  vm.launcher_handle = 0;
  if (vm.timer_init)
    uv_close((uv_handle_t *)&vm.timer, timer_closed);
  vm_maybe_stopped();
}

static void host_closed(cow_host_t *h, void *data)
{
  vm_maybe_stopped();
}

static void fail_waiting(int code, const char *message)
{
  while (vm.waiting != NULL) {
    struct op *o = vm.waiting;
    vm.waiting = o->next;
    lcow_task_free(o->t);
    op_done(o, code, message);
  }
}

/* Close the connection: the guest's agent sees the bridge close and the VM goes down. */
static void vm_stop(void)
{
  vm.state = VM_STOPPING;
  if (vm.host != NULL) {
    cow_host_t *h = vm.host;
    vm.host = NULL;
    cow_host_close(h, host_closed, NULL);
  }
}

static void launcher_kill(uv_timer_t *timer)
{
  if (vm.launcher_running) {
    shim_log(SHIM_LOG_WARN, "the utility VM did not stop within %d s: killing its launcher",
             VM_EXIT_GRACE_MS / 1000);
    uv_process_kill(&vm.launcher, SIGKILL);
  }
}

/* Stop, and wait for the launcher to exit (killing it after a grace period). */
static void vm_stop_and_wait(void)
{
  vm_stop();
  if (vm.launcher_running)
    uv_timer_start(&vm.timer, launcher_kill, VM_EXIT_GRACE_MS, 0);
  else if (vm.timer_init)
    uv_close((uv_handle_t *)&vm.timer, timer_closed);
  vm_maybe_stopped();
}

static void vm_stopped(void)
{
  cow_guest_transport_release(vm.transport);
  vm.transport = NULL;
  rmdir(vm.port_dir); /* empty once the listeners are closed */
  unlink(VM_PID_FILE);
  vm.state = VM_DOWN;
  struct op *o = vm.stopping;
  vm.stopping = NULL;
  if (o != NULL)
    op_done(o, o->code, o->code != TTRPC_OK ? o->message : NULL);
}

static void launcher_exited(uv_process_t *p, int64_t status, int signo)
{
  vm.launcher_running = 0;
  uv_close((uv_handle_t *)p, launcher_closed);
  if (vm.state == VM_STOPPING) {
    uv_timer_stop(&vm.timer);
    return;
  }
  char msg[256];
  snprintf(msg, sizeof msg, "the utility VM's launcher exited (status %lld, signal %d)",
           (long long)status, signo);
  shim_log(SHIM_LOG_ERROR, "%s", msg);
  /* A boot that cannot come any more fails now; containers learn it from the connection. */
  fail_waiting(TTRPC_UNAVAILABLE, msg);
  if (vm.state == VM_BOOTING)
    vm_stop_and_wait();
}

static void create_in_vm(struct op *o);

static void vm_connected(cow_host_t *h, int status, const cow_error_t *err, void *data)
{
  if (status < 0) {
    char msg[640], why[512];
    snprintf(msg, sizeof msg, "the utility VM's agent did not connect: %s",
             shim_errmsg(why, sizeof why, status, err));
    if (vm.state == VM_BOOTING) {
      fail_waiting(shim_code(status) == TTRPC_CANCELLED ? TTRPC_UNAVAILABLE : shim_code(status),
                   msg);
      vm_stop_and_wait();
    }
    return;
  }
  vm.state = VM_UP;
  shim_log(SHIM_LOG_INFO, "utility VM up (GCS protocol %d)", cow_guest_protocol_version(h));
  while (vm.waiting != NULL) {
    struct op *o = vm.waiting;
    vm.waiting = o->next;
    create_in_vm(o);
  }
}

/* Listen on a fresh port directory, then run the launcher. */
static int vm_boot(shim_t *shim, char *err, size_t errlen)
{
  snprintf(vm.port_dir, sizeof vm.port_dir, "%s.vm", shim->socket_path);
  char **argv = shim_options_launcher_argv(&shim->options, vm.port_dir);
  if (argv == NULL) {
    snprintf(err, errlen,
             "the lcow backend needs a launcher for the utility VM: set \"launcher\" in the "
             "runtime options file%s%s",
             shim->options.config_path ? " " : "",
             shim->options.config_path ? shim->options.config_path : " (none was given)");
    return TTRPC_FAILED_PRECONDITION;
  }
  vm.shim = shim;
  int rc = mkdir(vm.port_dir, 0700) == 0 || errno == EEXIST ? 0 : -errno;
  if (rc == 0)
    rc = cow_guest_transport_unix(&vm.transport, vm.port_dir);
  cow_guest_options_t go = COW_GUEST_OPTIONS_INIT;
  go.transport = vm.transport;
  go.connect_timeout_ms = (uint64_t)shim->options.boot_timeout_s * 1000;
  if (go.connect_timeout_ms == 0)
    go.connect_timeout_ms = SHIM_DEFAULT_BOOT_TIMEOUT_S * 1000;
  if (rc == 0)
    rc = cow_guest_connect(&vm.host, shim->loop, &go, vm_connected, NULL);
  if (rc != 0) {
    snprintf(err, errlen, "listening for the utility VM on %s: %s", vm.port_dir, cow_strerror(rc));
    vm.host = NULL;
    cow_guest_transport_release(vm.transport);
    vm.transport = NULL;
    rmdir(vm.port_dir);
    shim_argv_free(argv);
    return shim_code(rc);
  }
  /* The listener exists: the guest can dial as soon as it boots. */
  uv_stdio_container_t stdio[3] = {{UV_IGNORE, {0}}, {UV_INHERIT_FD, {0}}, {UV_INHERIT_FD, {0}}};
  stdio[1].data.fd = 2; /* its output goes to the shim's log */
  stdio[2].data.fd = 2;
  uv_process_options_t po;
  memset(&po, 0, sizeof po);
  po.file = argv[0];
  po.args = argv;
  po.exit_cb = launcher_exited;
  po.stdio = stdio;
  po.stdio_count = 3;
  uv_timer_init(shim->loop, &vm.timer);
  vm.timer_init = 1;
  vm.state = VM_BOOTING;
  rc = uv_spawn(shim->loop, &vm.launcher, &po);
  vm.launcher_handle = 1;
  if (rc != 0) {
    snprintf(err, errlen, "starting the utility VM's launcher %s: %s", argv[0], uv_strerror(rc));
    uv_close((uv_handle_t *)&vm.launcher, launcher_closed);
    shim_argv_free(argv);
    vm_stop_and_wait();
    return TTRPC_FAILED_PRECONDITION;
  }
  shim_log(SHIM_LOG_INFO, "utility VM launcher %s started (pid %d), port directory %s", argv[0],
           vm.launcher.pid, vm.port_dir);
  vm.launcher_running = 1;
  shim_argv_free(argv);
  /* If the shim dies, `delete` stops the VM from this (shim_lcow_cleanup). */
  FILE *fp = fopen(VM_PID_FILE, "w");
  if (fp != NULL) {
    fprintf(fp, "%d %s\n", vm.launcher.pid, vm.port_dir);
    fclose(fp);
  }
  return TTRPC_OK;
}

/* ---- create ---- */

static void undo_done(struct op *o)
{
  shim_task_t *t = o->t;
  lcow_task_free(t);
  if (--vm.containers == 0 && vm.state == VM_UP) {
    vm.stopping = o; /* reported once the VM is down */
    vm_stop_and_wait();
    return;
  }
  op_done(o, o->code, o->message);
}

static void undo_layers_removed(cow_host_t *h, int status, const cow_error_t *err, void *data)
{
  undo_done(data);
}

/* Creation failed at some step: undo the steps before, then report. */
static void create_failed(struct op *o, int code, const char *what, int status,
                          const cow_error_t *err)
{
  shim_task_t *t = o->t;
  struct lcow_task *lt = t->backend_data;
  char why[512];
  o->code = code;
  snprintf(o->message, sizeof o->message, "%s: %s", what,
           status != 0 ? shim_errmsg(why, sizeof why, status, err) : "");
  if (t->container != NULL) {
    cow_container_close(t->container, NULL, NULL);
    t->container = NULL;
  }
  if (lt->layers_added && vm.host != NULL &&
      cow_guest_modify(vm.host, lt->layers_remove, undo_layers_removed, o) == 0)
    return;
  undo_done(o);
}

static void container_created(cow_container_t *c, int status, const cow_error_t *err, void *data)
{
  struct op *o = data;
  if (status < 0) {
    create_failed(o, shim_code(status), "creating the container in the utility VM", status, err);
    return;
  }
  op_done(o, TTRPC_OK, NULL);
}

static void create_container(struct op *o)
{
  shim_task_t *t = o->t;
  struct lcow_task *lt = t->backend_data;
  int rc =
      cow_guest_create_container(&t->container, vm.host, t->id, lt->config, container_created, o);
  if (rc != 0) {
    t->container = NULL;
    create_failed(o, shim_code(rc), "creating the container in the utility VM", rc, NULL);
  }
}

static void layers_added(cow_host_t *h, int status, const cow_error_t *err, void *data)
{
  struct op *o = data;
  if (status < 0) {
    create_failed(o, shim_code(status), "adding the container's layers", status, err);
    return;
  }
  ((struct lcow_task *)o->t->backend_data)->layers_added = 1;
  create_container(o);
}

static void create_in_vm(struct op *o)
{
  shim_task_t *t = o->t;
  struct lcow_task *lt = t->backend_data;
  vm.containers++;
  if (lt->layers_add == NULL) { /* no rootfs mounts: the spec's root is used as it is */
    create_container(o);
    return;
  }
  int rc = cow_guest_modify(vm.host, lt->layers_add, layers_added, o);
  if (rc != 0)
    create_failed(o, shim_code(rc), "adding the container's layers", rc, NULL);
}

static void lcow_create(shim_task_t *t, shim_backend_cb cb)
{
  struct op *o = op_new(t, cb);
  struct lcow_task *lt = calloc(1, sizeof *lt);
  if (o == NULL || lt == NULL) {
    free(o);
    free(lt);
    cb(t, TTRPC_RESOURCE_EXHAUSTED, "out of memory");
    return;
  }
  t->backend_data = lt;
  char err[512];
  int code = build_documents(t, lt, err, sizeof err);
  if (code != TTRPC_OK) { /* before the VM: a bad bundle boots nothing */
    lcow_task_free(t);
    op_fail(o, code, "%s", err);
    return;
  }
  switch (vm.state) {
  case VM_UP:
    create_in_vm(o);
    return;
  case VM_DOWN:
    code = vm_boot(t->shim, err, sizeof err);
    if (code != TTRPC_OK) {
      lcow_task_free(t);
      op_fail(o, code, "%s", err);
      return;
    }
    break;
  case VM_BOOTING:
    break;
  case VM_STOPPING:
    lcow_task_free(t);
    op_fail(o, TTRPC_UNAVAILABLE, "%s", "the utility VM is stopping");
    return;
  }
  o->next = vm.waiting;
  vm.waiting = o;
}

/* ---- destroy ---- */

static void state_deleted(cow_host_t *h, int status, const cow_error_t *err, void *data)
{
  char why[512];
  if (status < 0 && status != COW_ECANCELED)
    shim_log(SHIM_LOG_WARN, "deleting the container's state in the guest: %s",
             shim_errmsg(why, sizeof why, status, err));
  struct op *o = data;
  o->code = TTRPC_OK;
  undo_done(o);
}

static void layers_removed(cow_host_t *h, int status, const cow_error_t *err, void *data)
{
  struct op *o = data;
  char why[512];
  if (status < 0 && status != COW_ECANCELED)
    shim_log(SHIM_LOG_WARN, "removing the container's layers: %s",
             shim_errmsg(why, sizeof why, status, err));
  /* hcsshim's order: the container's resources first, DeleteContainerState last. */
  if (vm.host != NULL &&
      (cow_guest_capability_flags(vm.host) & COW_GUEST_CAP_DELETE_CONTAINER_STATE) &&
      cow_guest_delete_container_state(vm.host, o->t->id, state_deleted, o) == 0)
    return;
  o->code = TTRPC_OK;
  undo_done(o);
}

static void container_closed(cow_container_t *c, void *data)
{
  struct op *o = data;
  struct lcow_task *lt = o->t->backend_data;
  int rc = lt->layers_added && vm.host != NULL
               ? cow_guest_modify(vm.host, lt->layers_remove, layers_removed, o)
               : -1;
  if (rc != 0)
    layers_removed(vm.host, 0, NULL, o);
}

static void container_stopped(cow_container_t *c, int status, int forced, const cow_error_t *err,
                              void *data)
{
  char why[512];
  if (status < 0 && status != COW_ECANCELED)
    shim_log(SHIM_LOG_WARN, "stopping container %s: %s", cow_container_id(c),
             shim_errmsg(why, sizeof why, status, err));
  cow_container_close(c, container_closed, data);
}

static void lcow_destroy(shim_task_t *t, shim_backend_cb cb)
{
  struct op *o = op_new(t, cb);
  cow_container_t *c = t->container;
  t->container = NULL;
  if (o == NULL) {
    cow_container_close(c, NULL, NULL);
    cb(t, TTRPC_RESOURCE_EXHAUSTED, "out of memory");
    return;
  }
  if (cow_container_stop(c, LCOW_STOP_GRACE_MS, container_stopped, o) != 0)
    cow_container_close(c, container_closed, o);
}

/* ---- update ---- */

static void updated(cow_container_t *c, int status, const cow_error_t *err, void *data)
{
  struct op *o = data;
  char why[512];
  if (status < 0) {
    op_fail(o, shim_code(status), "updating the container's resources: %s",
            shim_errmsg(why, sizeof why, status, err));
    return;
  }
  op_done(o, TTRPC_OK, NULL);
}

/* hcsshim's runc update in the guest: ContainerConstraints with the OCI LinuxResources, sent
 * with the container's id. */
static void lcow_update(shim_task_t *t, json_t *resources, shim_backend_cb cb)
{
  struct op *o = op_new(t, cb);
  char *req =
      o != NULL
          ? dump(json_pack("{s:s,s:s,s:{s:{},s:O}}", "ResourceType", "ContainerConstraints",
                           "RequestType", "Update", "Settings", "Windows", "Linux", resources))
          : NULL;
  int rc = req != NULL ? cow_container_modify(t->container, req, updated, o) : COW_ENOMEM;
  free(req);
  if (rc != 0) {
    free(o);
    cb(t, shim_code(rc), cow_strerror(rc));
  }
}

const shim_backend_t shim_backend_lcow = {"lcow", lcow_create, lcow_process_doc, lcow_destroy,
                                          lcow_update};

/* ---- after a shim died ---- */

/* Remove the port directory `dir` and the sockets in it. */
static void remove_port_dir(const char *dir)
{
  DIR *d = opendir(dir);
  struct dirent *e;
  char path[512];
  while (d != NULL && (e = readdir(d)) != NULL) {
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
      continue;
    snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
    unlink(path);
  }
  if (d != NULL)
    closedir(d);
  rmdir(dir);
}

/* 1 while `pid` runs (a zombie has stopped running). */
static int running(int pid)
{
  char path[64], buf[512];
  snprintf(path, sizeof path, "/proc/%d/stat", pid);
  FILE *f = fopen(path, "r");
  char *rp = f != NULL && fgets(buf, sizeof buf, f) != NULL ? strrchr(buf, ')') : NULL;
  if (f != NULL)
    fclose(f);
  return rp != NULL && rp[1] == ' ' && rp[2] != 'Z';
}

/* SIGTERM, so that the VM stops what runs in it, then SIGKILL after VM_EXIT_GRACE_MS. */
static void stop_launcher(int pid)
{
  kill(pid, SIGTERM);
  for (int i = 0; i < VM_EXIT_GRACE_MS / 50 && running(pid); i++) {
    struct timespec ts = {0, 50 * 1000 * 1000};
    nanosleep(&ts, NULL);
  }
  if (running(pid))
    kill(pid, SIGKILL);
}

void shim_lcow_cleanup(const char *socket_path)
{
  char dir[128];
  snprintf(dir, sizeof dir, "%s.vm", socket_path);
  FILE *fp = fopen(VM_PID_FILE, "r");
  int pid = 0;
  char recorded[128] = "";
  if (fp != NULL) {
    if (fscanf(fp, "%d %127s", &pid, recorded) != 2)
      pid = 0;
    fclose(fp);
  }
  /* The launcher, if it still runs: only the process that was given our port directory
   * (a pid alone may have been reused since). */
  if (pid > 0 && strcmp(recorded, dir) == 0) {
    char path[64], cmd[4096];
    snprintf(path, sizeof path, "/proc/%d/cmdline", pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    ssize_t n = fd >= 0 ? read(fd, cmd, sizeof cmd - 1) : -1;
    if (fd >= 0)
      close(fd);
    for (ssize_t i = 0; i < n; i++)
      if (cmd[i] == '\0')
        cmd[i] = ' ';
    if (n > 0) {
      cmd[n] = '\0';
      if (strstr(cmd, dir) != NULL)
        stop_launcher(pid);
    }
  }
  remove_port_dir(dir);
  unlink(VM_PID_FILE);
}

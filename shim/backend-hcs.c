/* The hcs backend: one HCS v2 compute system per container, created with
 * cow_hcs_create_system() (computecore.dll on Windows, libcow's emulator on Linux, where a
 * compute system is a tree of real processes of this machine: the bundle's root
 * filesystem is not used there). Processes get schema2 ProcessParameters built from the
 * OCI process by libcow's builder. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "shim.h"

#define HCS_STOP_GRACE_MS 10000 /* shutdown, then terminate: hcsshim's order */

struct op {
  shim_task_t *t;
  shim_backend_cb cb;
  int code; /* a creation failure, reported once the handle is closed */
  char message[640];
};

static struct op *op_new(shim_task_t *t, shim_backend_cb cb)
{
  struct op *o = malloc(sizeof *o);
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

static void failed_closed(cow_container_t *c, void *data)
{
  struct op *o = data;
  op_done(o, o->code, o->message);
}

/* Creation failed after the handle existed: close it, then report. */
static void create_failed(struct op *o, int status, const cow_error_t *err, const char *what)
{
  shim_task_t *t = o->t;
  char msg[512];
  snprintf(o->message, sizeof o->message, "%s: %s", what,
           shim_errmsg(msg, sizeof msg, status, err));
  o->code = shim_code(status);
  cow_container_t *c = t->container;
  t->container = NULL;
  cow_container_close(c, failed_closed, o);
}

static void system_started(cow_container_t *c, int status, const cow_error_t *err, void *data)
{
  if (status < 0) {
    create_failed(data, status, err, "starting the compute system");
    return;
  }
  op_done(data, TTRPC_OK, NULL);
}

static void system_created(cow_container_t *c, int status, const cow_error_t *err, void *data)
{
  int rc = status;
  if (status == 0 && (rc = cow_container_start(c, system_started, data)) == 0)
    return;
  create_failed(data, rc, status < 0 ? err : NULL, "creating the compute system");
}

static void hcs_create(shim_task_t *t, shim_backend_cb cb)
{
  struct op *o = op_new(t, cb);
  cow_hcs_options_t ho = COW_HCS_OPTIONS_INIT;
  /* The system goes away with the shim's handle, even when the shim dies. */
  cow_hcs_system_params_t sp = COW_HCS_SYSTEM_PARAMS_INIT;
  sp.owner = "containerd-shim-cow-v1";
  sp.terminate_on_last_handle_closed = 1;
  char *doc = NULL;
  cow_error_t err = COW_ERROR_INIT;
  int rc = o == NULL ? COW_ENOMEM : cow_hcs_available(COW_HCS_V2, &err);
  if (rc == 0)
    rc = cow_hcs_compute_system_json(&doc, &sp, &err);
  if (rc == 0)
    rc = cow_hcs_create_system(&t->container, t->shim->loop, &ho, t->id, doc, system_created, o);
  cow_free(doc);
  if (rc != 0) {
    char msg[512];
    free(o);
    t->container = NULL;
    shim_errmsg(msg, sizeof msg, rc, err.code != 0 ? &err : NULL);
    cow_error_clear(&err);
    cb(t, shim_code(rc), msg);
  }
}

/* The strings of a JSON array of strings, NULL-terminated (borrowed from `a`). */
static const char **string_list(json_t *a, const char *what, char *err, size_t errlen)
{
  size_t n = json_array_size(a);
  const char **v = calloc(n + 1, sizeof *v);
  for (size_t i = 0; v != NULL && i < n; i++)
    if ((v[i] = json_string_value(json_array_get(a, i))) == NULL) {
      snprintf(err, errlen, "process.%s[%zu] is not a string", what, i);
      free(v);
      return NULL;
    }
  if (v == NULL)
    snprintf(err, errlen, "out of memory");
  return v;
}

static char *hcs_process_doc(shim_task_t *t, shim_proc_t *p, json_t *process, unsigned streams,
                             char *err, size_t errlen)
{
  json_t *args = json_object_get(process, "args");
  if (json_array_size(args) == 0) {
    snprintf(err, errlen, "process.args is empty");
    return NULL;
  }
  const char **argv = string_list(args, "args", err, errlen);
  const char **envv =
      argv != NULL ? string_list(json_object_get(process, "env"), "env", err, errlen) : NULL;
  char *doc = NULL;
  if (envv != NULL) {
    cow_hcs_process_params_t pp = COW_HCS_PROCESS_PARAMS_INIT;
    json_t *size = json_object_get(process, "consoleSize");
    pp.command_args = argv;
    pp.environment = envv;
    pp.working_directory = json_string_value(json_object_get(process, "cwd"));
    pp.emulate_console = p->terminal;
    pp.create_stdin = (streams >> COW_STDIN) & 1;
    pp.create_stdout = (streams >> COW_STDOUT) & 1;
    pp.create_stderr = (streams >> COW_STDERR) & 1;
    if (p->terminal && json_is_object(size)) {
      pp.console_width = (uint16_t)json_integer_value(json_object_get(size, "width"));
      pp.console_height = (uint16_t)json_integer_value(json_object_get(size, "height"));
    }
    char *lib = NULL;
    cow_error_t berr = COW_ERROR_INIT; /* names what the builder refused */
    int rc = cow_hcs_process_params_json(&lib, &pp, 2, &berr);
    if (rc != 0)
      snprintf(err, errlen, "building the process parameters: %s",
               berr.message != NULL ? berr.message : cow_strerror(rc));
    else if ((doc = strdup(lib)) == NULL) /* the caller frees with free() */
      snprintf(err, errlen, "out of memory");
    cow_error_clear(&berr);
    cow_free(lib);
  }
  free(argv);
  free(envv);
  return doc;
}

static void destroyed_closed(cow_container_t *c, void *data)
{
  op_done(data, TTRPC_OK, NULL);
}

static void destroy_stopped(cow_container_t *c, int status, int forced, const cow_error_t *err,
                            void *data)
{
  char msg[512];
  if (status < 0 && status != COW_ECANCELED)
    shim_log(SHIM_LOG_WARN, "stopping compute system %s: %s", ((struct op *)data)->t->id,
             shim_errmsg(msg, sizeof msg, status, err));
  cow_container_close(c, destroyed_closed, data);
}

static void hcs_destroy(shim_task_t *t, shim_backend_cb cb)
{
  struct op *o = op_new(t, cb);
  cow_container_t *c = t->container;
  t->container = NULL;
  if (o == NULL) {
    cow_container_close(c, NULL, NULL);
    cb(t, TTRPC_RESOURCE_EXHAUSTED, "out of memory");
    return;
  }
  if (cow_container_stop(c, HCS_STOP_GRACE_MS, destroy_stopped, o) != 0)
    cow_container_close(c, destroyed_closed, o);
}

/* No update: HCS takes Windows resource settings (schema2 ModifySettingRequest paths), not
 * an OCI LinuxResources. */
const shim_backend_t shim_backend_hcs = {"hcs", hcs_create, hcs_process_doc, hcs_destroy, NULL};

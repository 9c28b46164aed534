/* The typed document builders of <cow/hcs.h> (docs/hcs-api.md §5): key names exactly as
 * hcsshim writes them, Go omitempty rules (unset optional fields are left out). */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/json.h"
#include "core/error.h"
#include "cow/hcs.h"

void cow_hcs_process_params_init(cow_hcs_process_params_t *params)
{
  if (params == NULL)
    return;
  const cow_hcs_process_params_t init = COW_HCS_PROCESS_PARAMS_INIT;
  *params = init;
}

void cow_hcs_system_params_init(cow_hcs_system_params_t *params)
{
  if (params == NULL)
    return;
  const cow_hcs_system_params_t init = COW_HCS_SYSTEM_PARAMS_INIT;
  *params = init;
}

/* One document being built: the first failure is kept, with the field it concerns. Every
 * jansson result goes through these helpers, so none is dropped unchecked. */
struct doc {
  const char *op; /* the builder, for the error */
  cow_error_t *err;
  int rc;
};

static int fail(struct doc *d, int code, const char *what, const char *field)
{
  if (d->rc == 0)
    d->rc = cow__error_set(d->err, code, COW_DOMAIN_LIB, 0, d->op, NULL, "%s%s%s", field,
                           field[0] ? " " : "", what);
  return d->rc;
}

/* A JSON string for `field`; NULL (and the failure recorded) when `s` is not UTF-8. */
static json_t *text(struct doc *d, const char *s, const char *field)
{
  json_t *j = json_string(s);
  if (j == NULL)
    fail(d, cow__json_utf8_valid(s) ? COW_ENOMEM : COW_EINVAL,
         cow__json_utf8_valid(s) ? "could not be stored (out of memory)" : "is not valid UTF-8",
         field);
  return j;
}

/* o[key] = v, consuming v; a NULL v is the failure its constructor recorded (or no memory). */
static void set(struct doc *d, json_t *o, const char *key, json_t *v)
{
  if (d->rc != 0 || v == NULL || o == NULL) {
    json_decref(v);
    fail(d, COW_ENOMEM, "could not be stored (out of memory)", key);
    return;
  }
  if (json_object_set_new(o, key, v) != 0)
    fail(d, COW_ENOMEM, "could not be stored (out of memory)", key);
}

static void set_str(struct doc *d, json_t *o, const char *key, const char *v)
{
  if (v != NULL)
    set(d, o, key, text(d, v, key));
}

static void set_bool(struct doc *d, json_t *o, const char *key, int v, int always)
{
  if (v || always)
    set(d, o, key, json_boolean(v));
}

/* `field`: the strings as an array; element i is named "field[i]". */
static json_t *string_array(struct doc *d, const char *const *v, const char *field)
{
  json_t *a = json_array();
  if (a == NULL)
    fail(d, COW_ENOMEM, "could not be stored (out of memory)", field);
  for (size_t i = 0; a != NULL && v != NULL && v[i] != NULL; i++) {
    char name[64];
    snprintf(name, sizeof name, "%s[%zu]", field, i);
    json_t *s = text(d, v[i], name);
    if (s == NULL || json_array_append_new(a, s) != 0) {
      fail(d, COW_ENOMEM, "could not be stored (out of memory)", name);
      json_decref(a);
      a = NULL;
    }
  }
  return a;
}

/* Serialise and release `o` into a cow__malloc'd string (the caller frees with cow_free),
 * unless something failed on the way. */
static int finish(struct doc *d, json_t *o, char **out)
{
  if (d->rc == 0 && o == NULL)
    fail(d, COW_ENOMEM, "could not be built (out of memory)", "the document");
  if (d->rc == 0) {
    *out = cow__json_text(o, JSON_COMPACT | JSON_ENCODE_ANY);
    if (*out == NULL)
      fail(d, COW_ENOMEM, "could not be written (out of memory)", "the document");
  }
  json_decref(o);
  return d->rc;
}

static int refuse(struct doc *d, const char *why)
{
  return fail(d, COW_EINVAL, why, "");
}

int cow_hcs_process_params_json(char **out, const cow_hcs_process_params_t *p, int schema,
                                cow_error_t *err)
{
  struct doc d = {"process_params_json", err, 0};
  cow_error_clear(err);
  if (out == NULL)
    return refuse(&d, "no place for the document (out is NULL)");
  *out = NULL;
  if (p == NULL || (schema != 1 && schema != 2))
    return refuse(&d, p == NULL ? "no parameters" : "the schema must be 1 or 2");
  int vrc = cow__struct_version_check(p->version, COW_HCS_PROCESS_PARAMS_VERSION);
  if (vrc != 0)
    return fail(&d, vrc, "of the parameters is unknown (initialise them)", "the version");
  json_t *o = json_object();
  set_str(&d, o, "ApplicationName", p->application_name);
  set_str(&d, o, "CommandLine", p->command_line);
  if (p->command_args != NULL)
    set(&d, o, "CommandArgs", string_array(&d, p->command_args, "CommandArgs"));
  set_str(&d, o, "User", p->user);
  set_str(&d, o, "WorkingDirectory", p->working_directory);
  if (p->environment != NULL) {
    json_t *env = json_object();
    for (size_t i = 0; d.rc == 0 && p->environment[i] != NULL; i++) {
      const char *e = p->environment[i], *eq = strchr(e, '=');
      char name[64];
      snprintf(name, sizeof name, "Environment[%zu]", i);
      if (eq == NULL || eq == e) {
        fail(&d, COW_EINVAL, "is not NAME=VALUE", name);
        break;
      }
      char *var = cow__strndup(e, (size_t)(eq - e));
      if (var == NULL) {
        fail(&d, COW_ENOMEM, "could not be stored (out of memory)", name);
        break;
      }
      /* The value is not shown (it may be a secret); the variable's name is, if it can be. */
      if (cow__json_utf8_valid(var) && strlen(var) < 40)
        snprintf(name, sizeof name, "Environment[%zu] (%s)", i, var);
      if (!cow__json_utf8_valid(var))
        fail(&d, COW_EINVAL, "has a name that is not valid UTF-8", name);
      else
        set(&d, env, var, text(&d, eq + 1, name));
      cow__free(var);
    }
    set(&d, o, "Environment", env);
  }
  /* R13: a console process always gets a stdin pipe (hcsshim#2831). */
  int in = p->create_stdin || p->emulate_console;
  set_bool(&d, o, "EmulateConsole", p->emulate_console, schema == 1);
  set_bool(&d, o, "CreateStdInPipe", in, schema == 1);
  set_bool(&d, o, "CreateStdOutPipe", p->create_stdout, schema == 1);
  set_bool(&d, o, "CreateStdErrPipe", p->create_stderr, schema == 1);
  /* ConsoleSize is [height, width]: always written by hcsshim in schema1 (a Go array),
   * omitted when unset in schema2. */
  if (schema == 1 || p->console_width || p->console_height)
    set(&d, o, "ConsoleSize", json_pack("[ii]", (int)p->console_height, (int)p->console_width));
  return finish(&d, o, out);
}

int cow_hcs_compute_system_json(char **out, const cow_hcs_system_params_t *p, cow_error_t *err)
{
  struct doc d = {"compute_system_json", err, 0};
  cow_error_clear(err);
  if (out == NULL)
    return refuse(&d, "no place for the document (out is NULL)");
  *out = NULL;
  if (p == NULL)
    return refuse(&d, "no parameters");
  int vrc = cow__struct_version_check(p->version, COW_HCS_SYSTEM_PARAMS_VERSION);
  if (vrc != 0)
    return fail(&d, vrc, "of the parameters is unknown (initialise them)", "the version");
  json_error_t je;
  json_t *container = p->container_json ? json_loads(p->container_json, 0, &je) : json_object();
  if (!json_is_object(container)) {
    json_decref(container);
    if (container == NULL && (p->container_json == NULL || cow__json_load_oom(&je)))
      return fail(&d, COW_ENOMEM, "could not be read (out of memory)", "container_json");
    return fail(&d, COW_EINVAL, "is not a JSON object (UTF-8 JSON text)", "container_json");
  }
  json_t *o = json_pack("{s:{s:i,s:i}}", "SchemaVersion", "Major", 2, "Minor", 1);
  set_str(&d, o, "Owner", p->owner);
  set_bool(&d, o, "ShouldTerminateOnLastHandleClosed", p->terminate_on_last_handle_closed, 0);
  set(&d, o, "Container", container);
  return finish(&d, o, out);
}

int cow_hcs_container_config_json(char **out, const char *name, const cow_hcs_system_params_t *p,
                                  cow_error_t *err)
{
  struct doc d = {"container_config_json", err, 0};
  cow_error_clear(err);
  if (out == NULL)
    return refuse(&d, "no place for the document (out is NULL)");
  *out = NULL;
  if (name == NULL || *name == '\0' || p == NULL)
    return refuse(&d, p == NULL ? "no parameters" : "the container needs a name");
  int vrc = cow__struct_version_check(p->version, COW_HCS_SYSTEM_PARAMS_VERSION);
  if (vrc != 0)
    return fail(&d, vrc, "of the parameters is unknown (initialise them)", "the version");
  /* Layers and HvPartition are always emitted by hcsshim (no omitempty). */
  json_t *o = json_pack("{s:s,s:[],s:b}", "SystemType", "Container", "Layers", "HvPartition", 0);
  set_str(&d, o, "Name", name);
  set_str(&d, o, "Owner", p->owner);
  set_str(&d, o, "HostName", p->host_name);
  set_bool(&d, o, "TerminateOnLastHandleClosed", p->terminate_on_last_handle_closed, 0);
  return finish(&d, o, out);
}

int cow_hcs_signal_options_windows_json(char **out, const char *name, cow_error_t *err)
{
  static const char *const names[] = {"CtrlC", "CtrlBreak", "CtrlClose", "CtrlLogOff",
                                      "CtrlShutdown"};
  struct doc d = {"signal_options_windows_json", err, 0};
  cow_error_clear(err);
  if (out == NULL)
    return refuse(&d, "no place for the document (out is NULL)");
  *out = NULL;
  for (size_t i = 0; name != NULL && i < sizeof names / sizeof names[0]; i++)
    if (strcmp(name, names[i]) == 0)
      return finish(&d, json_pack("{s:s}", "Signal", names[i]), out);
  return refuse(&d, "the signal is not one of CtrlC, CtrlBreak, CtrlClose, CtrlLogOff and "
                    "CtrlShutdown");
}

int cow_hcs_property_query_json(char **out, const char *const *types, cow_error_t *err)
{
  struct doc d = {"property_query_json", err, 0};
  cow_error_clear(err);
  if (out == NULL)
    return refuse(&d, "no place for the document (out is NULL)");
  *out = NULL;
  if (types == NULL || *types == NULL)
    return finish(&d, json_object(), out);
  for (size_t i = 0; types[i] != NULL; i++)
    if (types[i][0] == '\0') {
      char field[48];
      snprintf(field, sizeof field, "PropertyTypes[%zu]", i);
      return fail(&d, COW_EINVAL, "is empty", field);
    }
  json_t *o = json_object();
  set(&d, o, "PropertyTypes", string_array(&d, types, "PropertyTypes"));
  return finish(&d, o, out);
}

int cow_hcs_modify_setting_json(char **out, const char *resource_path, const char *request_type,
                                const char *settings_json, cow_error_t *err)
{
  struct doc d = {"modify_setting_json", err, 0};
  cow_error_clear(err);
  if (out == NULL)
    return refuse(&d, "no place for the document (out is NULL)");
  *out = NULL;
  if (resource_path == NULL || *resource_path == '\0')
    return refuse(&d, "no resource path");
  if (request_type == NULL ||
      (strcmp(request_type, "Add") != 0 && strcmp(request_type, "Remove") != 0 &&
       strcmp(request_type, "Update") != 0 && strcmp(request_type, "PreAdd") != 0))
    return refuse(&d, "the request type is not one of Add, Remove, Update and PreAdd");
  json_t *o = json_object();
  set_str(&d, o, "ResourcePath", resource_path);
  set_str(&d, o, "RequestType", request_type);
  if (settings_json != NULL) {
    json_error_t je;
    json_t *v = json_loads(settings_json, JSON_DECODE_ANY, &je);
    if (v == NULL && cow__json_load_oom(&je))
      fail(&d, COW_ENOMEM, "could not be read (out of memory)", "settings_json");
    else if (v == NULL)
      fail(&d, COW_EINVAL, "is not JSON text (UTF-8)", "settings_json");
    set(&d, o, "Settings", v);
  }
  return finish(&d, o, out);
}

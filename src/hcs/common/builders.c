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

/* Serialise and release `j` into a cow__malloc'd string (the caller frees with cow_free). */
static int finish(json_t *j, char **out)
{
  if (j == NULL)
    return COW_ENOMEM;
  *out = cow__json_text(j, JSON_COMPACT | JSON_ENCODE_ANY);
  json_decref(j);
  return *out ? 0 : COW_ENOMEM;
}

static int set_str(json_t *o, const char *key, const char *v)
{
  if (v == NULL)
    return 0;
  json_t *s = json_string(v); /* NULL for invalid UTF-8 */
  return s != NULL && json_object_set_new(o, key, s) == 0 ? 0 : COW_EINVAL;
}

static int set_bool(json_t *o, const char *key, int v, int always)
{
  if (!v && !always)
    return 0;
  return json_object_set_new(o, key, json_boolean(v)) == 0 ? 0 : COW_ENOMEM;
}

static json_t *string_array(const char *const *v, int *rc)
{
  json_t *a = json_array();
  if (a == NULL) {
    *rc = COW_ENOMEM;
    return NULL;
  }
  for (; v != NULL && *v != NULL; v++) {
    json_t *s = json_string(*v);
    if (s == NULL || json_array_append_new(a, s) != 0) {
      json_decref(a);
      *rc = COW_EINVAL;
      return NULL;
    }
  }
  return a;
}

int cow_hcs_process_params_json(char **out, const cow_hcs_process_params_t *p, int schema)
{
  if (out == NULL)
    return COW_EINVAL;
  *out = NULL;
  if (p == NULL || (schema != 1 && schema != 2))
    return COW_EINVAL;
  int vrc = cow__struct_version_check(p->version, COW_HCS_PROCESS_PARAMS_VERSION);
  if (vrc != 0)
    return vrc;
  json_t *o = json_object();
  int rc = o ? 0 : COW_ENOMEM;
  if (rc == 0)
    rc = set_str(o, "ApplicationName", p->application_name);
  if (rc == 0)
    rc = set_str(o, "CommandLine", p->command_line);
  if (rc == 0 && p->command_args != NULL) {
    json_t *a = string_array(p->command_args, &rc);
    if (a != NULL && json_object_set_new(o, "CommandArgs", a) != 0)
      rc = COW_ENOMEM;
  }
  if (rc == 0)
    rc = set_str(o, "User", p->user);
  if (rc == 0)
    rc = set_str(o, "WorkingDirectory", p->working_directory);
  if (rc == 0 && p->environment != NULL) {
    json_t *env = json_object();
    if (env == NULL)
      rc = COW_ENOMEM;
    for (const char *const *e = p->environment; rc == 0 && *e != NULL; e++) {
      const char *eq = strchr(*e, '=');
      if (eq == NULL || eq == *e) {
        rc = COW_EINVAL;
        break;
      }
      char *name = cow__strndup(*e, (size_t)(eq - *e));
      json_t *v = json_string(eq + 1);
      if (name == NULL || v == NULL || json_object_set_new(env, name, v) != 0)
        rc = name == NULL ? COW_ENOMEM : COW_EINVAL;
      cow__free(name);
    }
    if (rc == 0 && json_object_set_new(o, "Environment", env) != 0)
      rc = COW_ENOMEM;
    else if (rc != 0)
      json_decref(env);
  }
  /* R13: a console process always gets a stdin pipe (hcsshim#2831). */
  int in = p->create_stdin || p->emulate_console;
  if (rc == 0)
    rc = set_bool(o, "EmulateConsole", p->emulate_console, schema == 1);
  if (rc == 0)
    rc = set_bool(o, "CreateStdInPipe", in, schema == 1);
  if (rc == 0)
    rc = set_bool(o, "CreateStdOutPipe", p->create_stdout, schema == 1);
  if (rc == 0)
    rc = set_bool(o, "CreateStdErrPipe", p->create_stderr, schema == 1);
  /* ConsoleSize is [height, width]: always written by hcsshim in schema1 (a Go array),
   * omitted when unset in schema2. */
  if (rc == 0 && (schema == 1 || p->console_width || p->console_height)) {
    json_t *size = json_pack("[ii]", (int)p->console_height, (int)p->console_width);
    if (size == NULL || json_object_set_new(o, "ConsoleSize", size) != 0)
      rc = COW_ENOMEM;
  }
  if (rc != 0) {
    json_decref(o);
    return rc;
  }
  return finish(o, out);
}

int cow_hcs_compute_system_json(char **out, const cow_hcs_system_params_t *p)
{
  if (out == NULL)
    return COW_EINVAL;
  *out = NULL;
  if (p == NULL)
    return COW_EINVAL;
  int vrc = cow__struct_version_check(p->version, COW_HCS_SYSTEM_PARAMS_VERSION);
  if (vrc != 0)
    return vrc;
  json_t *container = p->container_json ? json_loads(p->container_json, 0, NULL) : json_object();
  if (!json_is_object(container)) {
    json_decref(container);
    return COW_EINVAL;
  }
  json_t *o = json_pack("{s:{s:i,s:i}}", "SchemaVersion", "Major", 2, "Minor", 1);
  int rc = o ? set_str(o, "Owner", p->owner) : COW_ENOMEM;
  if (rc == 0)
    rc = set_bool(o, "ShouldTerminateOnLastHandleClosed", p->terminate_on_last_handle_closed, 0);
  if (rc == 0 && json_object_set(o, "Container", container) != 0)
    rc = COW_ENOMEM;
  json_decref(container);
  if (rc != 0) {
    json_decref(o);
    return rc;
  }
  return finish(o, out);
}

int cow_hcs_container_config_json(char **out, const char *name, const cow_hcs_system_params_t *p)
{
  if (out == NULL)
    return COW_EINVAL;
  *out = NULL;
  if (name == NULL || *name == '\0' || p == NULL)
    return COW_EINVAL;
  int vrc = cow__struct_version_check(p->version, COW_HCS_SYSTEM_PARAMS_VERSION);
  if (vrc != 0)
    return vrc;
  /* Layers and HvPartition are always emitted by hcsshim (no omitempty). */
  json_t *o = json_pack("{s:s,s:[],s:b}", "SystemType", "Container", "Layers", "HvPartition", 0);
  int rc = o ? set_str(o, "Name", name) : COW_ENOMEM;
  if (rc == 0)
    rc = set_str(o, "Owner", p->owner);
  if (rc == 0)
    rc = set_str(o, "HostName", p->host_name);
  if (rc == 0)
    rc = set_bool(o, "TerminateOnLastHandleClosed", p->terminate_on_last_handle_closed, 0);
  if (rc != 0) {
    json_decref(o);
    return rc;
  }
  return finish(o, out);
}

int cow_hcs_signal_options_windows_json(char **out, const char *name)
{
  static const char *const names[] = {"CtrlC", "CtrlBreak", "CtrlClose", "CtrlLogOff",
                                      "CtrlShutdown"};
  if (out == NULL)
    return COW_EINVAL;
  *out = NULL;
  for (size_t i = 0; name != NULL && i < sizeof names / sizeof names[0]; i++)
    if (strcmp(name, names[i]) == 0)
      return finish(json_pack("{s:s}", "Signal", names[i]), out);
  return COW_EINVAL;
}

int cow_hcs_property_query_json(char **out, const char *const *types)
{
  if (out == NULL)
    return COW_EINVAL;
  *out = NULL;
  if (types == NULL || *types == NULL)
    return finish(json_object(), out);
  int rc = 0;
  json_t *a = string_array(types, &rc);
  if (a == NULL)
    return rc;
  for (size_t i = 0; i < json_array_size(a); i++)
    if (*json_string_value(json_array_get(a, i)) == '\0') {
      json_decref(a);
      return COW_EINVAL;
    }
  return finish(json_pack("{s:o}", "PropertyTypes", a), out);
}

int cow_hcs_modify_setting_json(char **out, const char *resource_path, const char *request_type,
                                const char *settings_json)
{
  if (out == NULL)
    return COW_EINVAL;
  *out = NULL;
  if (resource_path == NULL || *resource_path == '\0' || request_type == NULL ||
      (strcmp(request_type, "Add") != 0 && strcmp(request_type, "Remove") != 0 &&
       strcmp(request_type, "Update") != 0 && strcmp(request_type, "PreAdd") != 0))
    return COW_EINVAL;
  json_t *o = json_object();
  int rc = o ? set_str(o, "ResourcePath", resource_path) : COW_ENOMEM;
  if (rc == 0)
    rc = set_str(o, "RequestType", request_type);
  if (rc == 0 && settings_json != NULL) {
    json_t *v = json_loads(settings_json, JSON_DECODE_ANY, NULL);
    if (v == NULL || json_object_set_new(o, "Settings", v) != 0)
      rc = COW_EINVAL;
  }
  if (rc != 0) {
    json_decref(o);
    return rc;
  }
  return finish(o, out);
}

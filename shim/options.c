/* Runtime options and annotations. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "options.h"
#include "pb.h"

void shim_argv_free(char **argv)
{
  for (size_t i = 0; argv != NULL && argv[i] != NULL; i++)
    free(argv[i]);
  free(argv);
}

void shim_options_free(shim_options_t *o)
{
  free(o->config_path);
  free(o->backend);
  shim_argv_free(o->launcher);
  memset(o, 0, sizeof *o);
}

int shim_options_load(shim_options_t *o, const char *path, char *err, size_t errlen)
{
  json_error_t je;
  json_t *j = json_load_file(path, 0, &je);
  const char *bad = NULL;
  if (j == NULL) {
    snprintf(err, errlen, "runtime options %s: %s (line %d)", path, je.text, je.line);
    return -1;
  }
  o->config_path = strdup(path);
  o->boot_timeout_s = SHIM_DEFAULT_BOOT_TIMEOUT_S;
  const char *key;
  json_t *v;
  json_object_foreach(j, key, v)
  {
    if (strcmp(key, "backend") == 0) {
      if (!json_is_string(v))
        bad = "\"backend\" must be a string";
      else
        o->backend = strdup(json_string_value(v));
    } else if (strcmp(key, "launcher") == 0) {
      size_t n = json_array_size(v);
      if (!json_is_array(v) || n == 0) {
        bad = "\"launcher\" must be a non-empty array of strings (the command's argv)";
        continue;
      }
      o->launcher = calloc(n + 1, sizeof *o->launcher);
      for (size_t i = 0; o->launcher != NULL && i < n; i++) {
        json_t *a = json_array_get(v, i);
        if (!json_is_string(a))
          bad = "\"launcher\" must be a non-empty array of strings (the command's argv)";
        else
          o->launcher[i] = strdup(json_string_value(a));
      }
    } else if (strcmp(key, "boot_timeout_s") == 0) {
      json_int_t t = json_integer_value(v);
      if (!json_is_integer(v) || t <= 0 || t > 3600)
        bad = "\"boot_timeout_s\" must be an integer from 1 to 3600";
      else
        o->boot_timeout_s = (unsigned)t;
    } else {
      snprintf(err, errlen, "runtime options %s: unknown key \"%s\"", path, key);
      json_decref(j);
      return -1;
    }
  }
  json_decref(j);
  if (bad != NULL) {
    snprintf(err, errlen, "runtime options %s: %s", path, bad);
    return -1;
  }
  return 0;
}

int shim_options_from_any(shim_options_t *o, const uint8_t *data, size_t len, char *err,
                          size_t errlen)
{
  if (len == 0)
    return 0;
  char why[256];
  Google__Protobuf__Any *any = (Google__Protobuf__Any *)pb_unpack(
      &google__protobuf__any__descriptor, len, data, why, sizeof why);
  if (any == NULL) {
    snprintf(err, errlen, "the runtime options on stdin are not a protobuf Any: %s", why);
    return -1;
  }
  int rc = 0;
  const ProtobufCMessageDescriptor *want = &runtimeoptions__v1__options__descriptor;
  Runtimeoptions__V1__Options *ro =
      (Runtimeoptions__V1__Options *)pb_any_unpack(any, want, why, sizeof why);
  if (ro == NULL && !pb_any_is(any, PB_TYPE_URL(want))) {
    snprintf(err, errlen, "runtime options of type \"%s\": the cow shim takes %s (a ConfigPath)",
             any->type_url, PB_TYPE_URL(want));
    rc = -1;
  } else if (ro == NULL) {
    snprintf(err, errlen, "runtime options: %s", why);
    rc = -1;
  } else if (ro->config_path != NULL && ro->config_path[0] != '\0') {
    rc = shim_options_load(o, ro->config_path, err, errlen);
  }
  if (ro != NULL)
    runtimeoptions__v1__options__free_unpacked(ro, NULL);
  google__protobuf__any__free_unpacked(any, NULL);
  return rc;
}

const char *shim_options_backend(const shim_options_t *o, json_t *spec, char *err, size_t errlen)
{
  const char *name = json_string_value(
      json_object_get(json_object_get(spec, "annotations"), SHIM_ANNOTATION_BACKEND));
  const char *from = "annotation " SHIM_ANNOTATION_BACKEND;
  if (name == NULL) {
    name = o->backend;
    from = "runtime options";
  }
  if (name == NULL)
    return "lcow";
  if (strcmp(name, "lcow") == 0 || strcmp(name, "hcs") == 0)
    return name;
  snprintf(err, errlen, "%s: unknown backend \"%s\" (lcow or hcs)", from, name);
  return NULL;
}

char **shim_options_launcher_argv(const shim_options_t *o, const char *port_dir)
{
  static const char ph[] = "{port_dir}";
  size_t n = 0;
  while (o->launcher != NULL && o->launcher[n] != NULL)
    n++;
  if (n == 0)
    return NULL;
  char **argv = calloc(n + 1, sizeof *argv);
  for (size_t i = 0; argv != NULL && i < n; i++) {
    const char *a = o->launcher[i];
    size_t len = strlen(a) + 1, k = 0;
    for (const char *p = strstr(a, ph); p != NULL; p = strstr(p + sizeof ph - 1, ph))
      len += strlen(port_dir);
    char *out = malloc(len);
    if (out == NULL) {
      shim_argv_free(argv);
      return NULL;
    }
    while (*a != '\0') {
      if (strncmp(a, ph, sizeof ph - 1) == 0) {
        memcpy(out + k, port_dir, strlen(port_dir));
        k += strlen(port_dir);
        a += sizeof ph - 1;
      } else {
        out[k++] = *a++;
      }
    }
    out[k] = '\0';
    argv[i] = out;
  }
  return argv;
}

/* The LCOW container documents, built the way hcsshim builds them (docs/gcs-bridge-protocol.md
 * §4.2 and §6.1): the hosted-system document of Create (the user's OCI spec adapted for
 * the guest) and the CombinedLayers requests that mount and unmount the container's root
 * file system. One builder, so that every caller (lcow-exec, a shim) sets the network
 * namespace: without windows.network.networkNamespace the v0.11.4 agent files a standalone
 * container's pid under the namespace "" and never removes it, and every later container
 * on that agent fails ("previously assigned container pid N to network namespace"). */
#include <string.h>

#include <jansson.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/json.h"
#include "cow/guest.h"
#include "guest/protocol.h"

void cow_guest_container_params_init(cow_guest_container_params_t *params)
{
  if (params == NULL)
    return;
  const cow_guest_container_params_t init = COW_GUEST_CONTAINER_PARAMS_INIT;
  *params = init;
}

static int bad(cow_error_t *err, const char *fmt, const char *arg)
{
  return cow__error_set(err, COW_EINVAL, COW_DOMAIN_LIB, 0, "container_config_json", NULL, fmt,
                        arg);
}

/* A JSON string from `s`, or NULL: jansson refuses text that is not UTF-8, and a refused
 * argument must be reported, never dropped. NULL with *rc still 0: out of memory. */
static json_t *str(const char *s, const char *name, cow_error_t *err, int *rc)
{
  json_t *j = json_string(s);
  if (j == NULL && *rc == 0 && !cow__json_utf8_valid(s))
    *rc = bad(err, "%s is not valid UTF-8", name);
  return j;
}

/* The spec as the guest gets it (hcsshim's linuxHostedSystem): `windows` cut down to the
 * network namespace and devices, no hooks, no cgroups path, the resources the guest
 * manages itself removed, and the root at the combined layers. */
static int adapt_spec(json_t *spec, const char *root, const char *netns, const char *id,
                      cow_error_t *err)
{
  int rc = 0;
  if (!json_is_object(json_object_get(spec, "process")))
    return bad(err, "%s", "the OCI spec has no \"process\" object (the guest needs one)");
  json_t *win = json_object_get(spec, "windows");
  json_t *devices = json_object_get(win, "devices");
  json_t *ns = json_object_get(json_object_get(win, "network"), "networkNamespace");
  /* The caller's, else the spec's, else the container's own. */
  json_t *keep_ns = netns != NULL ? str(netns, "the network namespace", err, &rc)
                    : json_is_string(ns) && json_string_length(ns) > 0
                        ? json_incref(ns)
                        : str(id, "the container id", err, &rc);
  if (rc != 0)
    return rc;
  if (keep_ns == NULL)
    return COW_ENOMEM;
  /* 'o' takes keep_ns (even on failure), 'O' references devices before the old windows
   * object, which holds it, is replaced. */
  json_t *w = devices != NULL ? json_pack("{s:{s:o},s:O}", "network", "networkNamespace", keep_ns,
                                          "devices", devices)
                              : json_pack("{s:{s:o}}", "network", "networkNamespace", keep_ns);
  if (w == NULL || json_object_set_new(spec, "windows", w) != 0)
    return COW_ENOMEM;
  (void)json_object_del(spec, "hooks"); /* -1: there was none */
  json_t *linux_ = json_object_get(spec, "linux");
  if (!json_is_object(linux_)) {
    linux_ = json_object();
    if (linux_ == NULL || json_object_set_new(spec, "linux", linux_) != 0)
      return COW_ENOMEM;
  }
  if (json_object_set_new(linux_, "cgroupsPath", json_string("")) != 0)
    return COW_ENOMEM;
  json_t *res = json_object_get(linux_, "resources");
  static const char *const guest_managed[] = {"devices", "pids", "blockIO", "hugepageLimits",
                                              "network"};
  for (size_t i = 0; json_is_object(res) && i < sizeof guest_managed / sizeof *guest_managed; i++)
    (void)json_object_del(res, guest_managed[i]); /* -1: not there */
  json_t *r = json_object_get(spec, "root");
  if (!json_is_object(r)) {
    r = json_object();
    if (r == NULL || json_object_set_new(spec, "root", r) != 0)
      return COW_ENOMEM;
  }
  json_t *path = str(root, "the root path", err, &rc);
  if (path == NULL)
    return rc ? rc : COW_ENOMEM;
  return json_object_set_new(r, "path", path) != 0 ? COW_ENOMEM : 0;
}

static int dump_to(char **out, json_t *doc)
{
  if (out == NULL)
    return 0;
  *out = doc ? cow__proto_dump(doc) : NULL;
  return *out != NULL ? 0 : COW_ENOMEM;
}

/* {"ResourceType":"CombinedLayers","RequestType":type,"Settings":settings} (takes settings) */
static json_t *layers_request(const char *type, json_t *settings)
{
  if (settings == NULL)
    return NULL;
  return json_pack("{s:s,s:s,s:o}", "ResourceType", "CombinedLayers", "RequestType", type,
                   "Settings", settings);
}

static json_t *layers_add(const cow_guest_container_params_t *p, const char *root, cow_error_t *err,
                          int *rc)
{
  json_t *layers = json_array();
  for (size_t i = 0; layers != NULL && p->layers != NULL && p->layers[i] != NULL; i++) {
    json_t *path = str(p->layers[i], "a layer path", err, rc);
    json_t *layer = path ? json_pack("{s:o}", "Path", path) : NULL;
    if (layer == NULL || json_array_append_new(layers, layer) != 0) {
      json_decref(layers);
      return NULL;
    }
  }
  json_t *id = str(p->id, "the container id", err, rc);
  json_t *rp = str(root, "the root path", err, rc);
  json_t *sp = str(p->scratch_dir ? p->scratch_dir : "", "the scratch directory", err, rc);
  if (layers == NULL || id == NULL || rp == NULL || sp == NULL) {
    json_decref(layers);
    json_decref(id);
    json_decref(rp);
    json_decref(sp);
    return NULL;
  }
  /* An empty ScratchPath: a read-only overlay. */
  return layers_request("Add",
                        json_pack("{s:o,s:o,s:o,s:o}", "ContainerID", id, "ContainerRootPath", rp,
                                  "Layers", layers, "ScratchPath", sp));
}

int cow_guest_container_config_json(char **config, char **layers_add_out, char **layers_remove_out,
                                    const cow_guest_container_params_t *params, cow_error_t *err)
{
  char **outs[3] = {config, layers_add_out, layers_remove_out};
  for (int i = 0; i < 3; i++)
    if (outs[i] != NULL)
      *outs[i] = NULL;
  cow_error_clear(err);
  if (params == NULL)
    return bad(err, "%s", "no parameters");
  int rc = cow__struct_version_check(params->version, COW_GUEST_CONTAINER_PARAMS_VERSION);
  if (rc != 0)
    return rc == COW_EINVAL ? bad(err, "%s", "the parameters' version is 0") : rc;
  if (params->id == NULL || params->id[0] == '\0' || strlen(params->id) >= 80 ||
      strchr(params->id, '/') != NULL)
    return bad(err, "%s", "the container id is missing, too long or contains '/'");
  if (params->oci_spec_json == NULL)
    return bad(err, "%s", "the OCI spec is missing");
  /* The caller's root path as it is, whatever its length (never cut short). */
  char root_default[120];
  snprintf(root_default, sizeof root_default, "/run/gcs/c/%s/rootfs", params->id);
  const char *root = params->root_path != NULL ? params->root_path : root_default;
  char bundle[120];
  snprintf(bundle, sizeof bundle, "/run/gcs/c/%s", params->id);

  json_error_t je;
  json_t *spec = json_loads(params->oci_spec_json, JSON_REJECT_DUPLICATES, &je);
  if (!json_is_object(spec)) {
    json_decref(spec);
    if (spec == NULL && cow__json_load_oom(&je))
      return cow__error_set(err, COW_ENOMEM, COW_DOMAIN_LIB, 0, "container_config_json", NULL,
                            "the OCI spec could not be read (out of memory)");
    return bad(err, "the OCI spec is not a JSON object: %s", je.text);
  }
  /* What is being built, for the error of a failed allocation. */
  const char *part = "the OCI spec adapted for the guest";
  rc = adapt_spec(spec, root, params->network_namespace, params->id, err);
  json_t *doc = NULL, *add = NULL, *remove = NULL;
  if (rc == 0) {
    part = "the hosted-system document";
    json_t *b = str(bundle, "the container id", err, &rc);
    json_t *scratch =
        params->scratch_dir ? str(params->scratch_dir, "the scratch directory", err, &rc) : NULL;
    if (rc == 0 && (b == NULL || (params->scratch_dir != NULL && scratch == NULL)))
      rc = COW_ENOMEM; /* refused text set rc already */
    if (rc == 0) {
      /* 'o' takes b, even on failure. */
      doc = json_pack("{s:{s:i,s:i},s:o,s:O}", "SchemaVersion", "Major", 2, "Minor", 1,
                      "OciBundlePath", b, "OciSpecification", spec);
      b = NULL;
      if (doc == NULL)
        rc = COW_ENOMEM;
      else if (scratch != NULL && json_object_set_new(doc, "ScratchDirPath", scratch) != 0)
        rc = COW_ENOMEM;
      if (doc != NULL)
        scratch = NULL; /* set_new took it, even on failure */
    }
    json_decref(b);
    json_decref(scratch);
  }
  if (rc == 0)
    part = "the CombinedLayers Add request";
  if (rc == 0 && layers_add_out != NULL && (add = layers_add(params, root, err, &rc)) == NULL &&
      rc == 0)
    rc = COW_ENOMEM;
  if (rc == 0)
    part = "the CombinedLayers Remove request";
  if (rc == 0 && layers_remove_out != NULL) {
    json_t *rp = str(root, "the root path", err, &rc);
    remove = rp ? layers_request("Remove", json_pack("{s:o}", "ContainerRootPath", rp)) : NULL;
    if (remove == NULL && rc == 0)
      rc = COW_ENOMEM;
  }
  if (rc == 0)
    part = "the text of the hosted-system document";
  if (rc == 0)
    rc = dump_to(config, doc);
  if (rc == 0)
    part = "the text of the CombinedLayers Add request";
  if (rc == 0)
    rc = dump_to(layers_add_out, add);
  if (rc == 0)
    part = "the text of the CombinedLayers Remove request";
  if (rc == 0)
    rc = dump_to(layers_remove_out, remove);
  json_decref(spec);
  json_decref(doc);
  json_decref(add);
  json_decref(remove);
  if (rc != 0) {
    for (int i = 0; i < 3; i++)
      if (outs[i] != NULL) {
        cow__free(*outs[i]);
        *outs[i] = NULL;
      }
    if (rc == COW_ENOMEM && err != NULL && err->code == 0)
      cow__error_set(err, rc, COW_DOMAIN_LIB, 0, "container_config_json", NULL,
                     "%s could not be built (out of memory)", part);
  }
  return rc;
}

/* cow_guest_container_config_json(): the LCOW documents as hcsshim builds them, the network
 * namespace always set, and every bad argument refused with its name (never dropped). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cow.h"
#include "cow/guest.h"
#include "support/alloc-fail.h"

#define SPEC                                                                                       \
  "{\"ociVersion\":\"1.0.2\",\"process\":{\"args\":[\"sh\"],\"cwd\":\"/\"},"                       \
  "\"root\":{\"path\":\"rootfs\"},\"hooks\":{\"prestart\":[]},"                                    \
  "\"linux\":{\"cgroupsPath\":\"/x\",\"resources\":{\"devices\":[],\"pids\":{\"limit\":5},"        \
  "\"memory\":{\"limit\":1024}}},"                                                                 \
  "\"windows\":{\"layerFolders\":[\"C:\\\\l\"],\"devices\":[{\"id\":\"d\"}]}}"

static json_t *load(const char *text)
{
  json_t *j = json_loads(text, 0, NULL);
  assert_non_null(j);
  return j;
}

static const char *jpath(json_t *o, const char *a, const char *b, const char *c)
{
  json_t *v = json_object_get(o, a);
  if (b)
    v = json_object_get(v, b);
  if (c)
    v = json_object_get(v, c);
  return json_string_value(v);
}

static void builds_what_hcsshim_sends(void **state)
{
  (void)state;
  const char *layers[] = {"/run/layers/p0", "/run/layers/p1", NULL};
  cow_guest_container_params_t p = COW_GUEST_CONTAINER_PARAMS_INIT;
  p.id = "c1";
  p.oci_spec_json = SPEC;
  p.layers = layers;
  p.scratch_dir = "/run/gcs/c/c1/scratch/c1";
  char *cfg, *add, *rm;
  assert_int_equal(cow_guest_container_config_json(&cfg, &add, &rm, &p, NULL), 0);
  json_t *doc = load(cfg);
  assert_int_equal(
      json_integer_value(json_object_get(json_object_get(doc, "SchemaVersion"), "Minor")), 1);
  assert_string_equal(jpath(doc, "OciBundlePath", NULL, NULL), "/run/gcs/c/c1");
  assert_string_equal(jpath(doc, "ScratchDirPath", NULL, NULL), "/run/gcs/c/c1/scratch/c1");
  json_t *spec = json_object_get(doc, "OciSpecification");
  /* The namespace: the container's own id when neither the caller nor the spec names one. */
  assert_string_equal(jpath(spec, "windows", "network", "networkNamespace"), "c1");
  assert_non_null(json_object_get(json_object_get(spec, "windows"), "devices"));
  assert_null(json_object_get(json_object_get(spec, "windows"), "layerFolders"));
  assert_null(json_object_get(spec, "hooks"));
  assert_string_equal(jpath(spec, "linux", "cgroupsPath", NULL), "");
  json_t *res = json_object_get(json_object_get(spec, "linux"), "resources");
  assert_null(json_object_get(res, "devices"));
  assert_null(json_object_get(res, "pids"));
  assert_non_null(json_object_get(res, "memory"));
  assert_string_equal(jpath(spec, "root", "path", NULL), "/run/gcs/c/c1/rootfs");
  json_decref(doc);
  json_t *a = load(add);
  assert_string_equal(jpath(a, "ResourceType", NULL, NULL), "CombinedLayers");
  assert_string_equal(jpath(a, "RequestType", NULL, NULL), "Add");
  assert_string_equal(jpath(a, "Settings", "ContainerID", NULL), "c1");
  assert_string_equal(jpath(a, "Settings", "ContainerRootPath", NULL), "/run/gcs/c/c1/rootfs");
  assert_string_equal(jpath(a, "Settings", "ScratchPath", NULL), "/run/gcs/c/c1/scratch/c1");
  json_t *l = json_object_get(json_object_get(a, "Settings"), "Layers");
  assert_int_equal(json_array_size(l), 2);
  assert_string_equal(json_string_value(json_object_get(json_array_get(l, 1), "Path")),
                      "/run/layers/p1");
  json_decref(a);
  json_t *r = load(rm);
  assert_string_equal(jpath(r, "RequestType", NULL, NULL), "Remove");
  assert_string_equal(jpath(r, "Settings", "ContainerRootPath", NULL), "/run/gcs/c/c1/rootfs");
  json_decref(r);
  cow_free(cfg);
  cow_free(add);
  cow_free(rm);
}

static void namespace_from_caller_or_spec(void **state)
{
  (void)state;
  cow_guest_container_params_t p;
  cow_guest_container_params_init(&p);
  p.id = "c2";
  p.oci_spec_json = "{\"process\":{},\"windows\":{\"network\":{\"networkNamespace\":\"pod\"}}}";
  char *cfg;
  assert_int_equal(cow_guest_container_config_json(&cfg, NULL, NULL, &p, NULL), 0);
  json_t *doc = load(cfg);
  json_t *spec = json_object_get(doc, "OciSpecification");
  assert_string_equal(jpath(spec, "windows", "network", "networkNamespace"), "pod");
  assert_non_null(json_object_get(spec, "linux")); /* the guest dereferences it */
  json_decref(doc);
  cow_free(cfg);
  p.network_namespace = "mine";
  assert_int_equal(cow_guest_container_config_json(&cfg, NULL, NULL, &p, NULL), 0);
  doc = load(cfg);
  assert_string_equal(
      jpath(json_object_get(doc, "OciSpecification"), "windows", "network", "networkNamespace"),
      "mine");
  json_decref(doc);
  cow_free(cfg);
}

static void refuse(cow_guest_container_params_t *p, int code, const char *part)
{
  char *cfg = (char *)1, *add = (char *)1;
  cow_error_t err = COW_ERROR_INIT;
  assert_int_equal(cow_guest_container_config_json(&cfg, &add, NULL, p, &err), code);
  assert_null(cfg);
  assert_null(add);
  if (part != NULL && (err.message == NULL || strstr(err.message, part) == NULL))
    fail_msg("error \"%s\" does not name \"%s\"", err.message ? err.message : "", part);
  cow_error_clear(&err);
}

static void bad_arguments_named(void **state)
{
  (void)state;
  const char *bad_layers[] = {"/ok", "/\xff", NULL};
  cow_guest_container_params_t p = COW_GUEST_CONTAINER_PARAMS_INIT;
  p.id = "c3";
  p.oci_spec_json = SPEC;
  p.layers = bad_layers;
  refuse(&p, COW_EINVAL, "layer path");
  p.layers = NULL;
  p.scratch_dir = "/s\xff";
  refuse(&p, COW_EINVAL, "scratch directory");
  p.scratch_dir = NULL;
  p.network_namespace = "\xfe";
  refuse(&p, COW_EINVAL, "network namespace");
  p.network_namespace = NULL;
  p.oci_spec_json = "{\"root\":{}}";
  refuse(&p, COW_EINVAL, "process");
  p.oci_spec_json = "[1]";
  refuse(&p, COW_EINVAL, "OCI spec");
  p.oci_spec_json = SPEC;
  p.id = "a/b";
  refuse(&p, COW_EINVAL, "container id");
  p.id = "c\xff";
  refuse(&p, COW_EINVAL, "container id is not valid UTF-8");
  p.id = "c3";
  p.root_path = "/r\xff";
  refuse(&p, COW_EINVAL, "root path is not valid UTF-8");
  p.root_path = NULL;
  p.oci_spec_json = "{\"process\":{\"args\":[\"\xff\"]}}";
  refuse(&p, COW_EINVAL, "OCI spec");
  p.oci_spec_json = SPEC;
  p.version = 0;
  refuse(&p, COW_EINVAL, NULL);
  p.version = COW_GUEST_CONTAINER_PARAMS_VERSION + 1;
  refuse(&p, COW_EVERSION, NULL);
  refuse(NULL, COW_EINVAL, NULL);
}

/* A root path of any length arrives whole, in the spec and in both layer requests. */
static void long_root_path_whole(void **state)
{
  (void)state;
  char root[400];
  memset(root, 'r', sizeof root - 1);
  root[0] = '/';
  root[sizeof root - 1] = '\0';
  cow_guest_container_params_t p = COW_GUEST_CONTAINER_PARAMS_INIT;
  p.id = "c4";
  p.oci_spec_json = SPEC;
  p.root_path = root;
  const char *layers[] = {"/l", NULL};
  p.layers = layers;
  char *cfg = NULL, *add = NULL, *rm = NULL;
  cow_error_t err = COW_ERROR_INIT;
  assert_int_equal(cow_guest_container_config_json(&cfg, &add, &rm, &p, &err), 0);
  json_t *doc = load(cfg), *a = load(add), *r = load(rm);
  assert_string_equal(jpath(json_object_get(doc, "OciSpecification"), "root", "path", NULL), root);
  assert_string_equal(jpath(a, "Settings", "ContainerRootPath", NULL), root);
  assert_string_equal(jpath(r, "Settings", "ContainerRootPath", NULL), root);
  json_decref(doc);
  json_decref(a);
  json_decref(r);
  cow_free(cfg);
  cow_free(add);
  cow_free(rm);
}

/* Each allocation of a full build failed in turn: the three documents whole, or none of
 * them with an error that says what (a part that was silently not set would show as a
 * success with a member missing). */
static void no_allocation_failure_drops_a_part(void **state)
{
  (void)state;
  const char *layers[] = {"/l1", "/l2", NULL};
  cow_guest_container_params_t p = COW_GUEST_CONTAINER_PARAMS_INIT;
  p.id = "c5";
  p.oci_spec_json = SPEC;
  p.layers = layers;
  p.scratch_dir = "/s";
  char *whole[3] = {NULL, NULL, NULL};
  assert_int_equal(cow_guest_container_config_json(&whole[0], &whole[1], &whole[2], &p, NULL), 0);
  int failed = 0;
  for (long n = 1;; n++) {
    char *out[3] = {(char *)1, (char *)1, (char *)1};
    cow_error_t err = COW_ERROR_INIT;
    af_arm(n);
    int rc = cow_guest_container_config_json(&out[0], &out[1], &out[2], &p, &err);
    int reached = af_disarm();
    if (rc == 0) {
      for (int i = 0; i < 3; i++) {
        assert_string_equal(out[i], whole[i]);
        cow_free(out[i]);
      }
      if (!reached)
        break; /* the failing allocation came after the build: all were tried */
      continue;
    }
    for (int i = 0; i < 3; i++)
      assert_null(out[i]);
    /* jansson's parser reports some failed allocations as a syntax error: then the spec is
     * named as the text in question. */
    if (rc != COW_ENOMEM &&
        !(rc == COW_EINVAL && err.message != NULL && strstr(err.message, "OCI spec") != NULL))
      fail_msg("allocation %ld failed: %s (%s)", n, cow_err_name(rc),
               err.message ? err.message : "no message");
    if (rc == COW_ENOMEM && err.message != NULL && strstr(err.message, "out of memory") == NULL)
      fail_msg("allocation %ld: '%s' does not say out of memory", n, err.message);
    cow_error_clear(&err);
    failed++;
  }
  assert_true(failed > 10);
  for (int i = 0; i < 3; i++)
    cow_free(whole[i]);
}

int main(void)
{
  af_install(); /* before any libcow call, as the hook requires; nothing fails until af_arm() */
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(builds_what_hcsshim_sends),
      cmocka_unit_test(namespace_from_caller_or_spec),
      cmocka_unit_test(bad_arguments_named),
      cmocka_unit_test(long_root_path_whole),
      cmocka_unit_test(no_allocation_failure_drops_a_part),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

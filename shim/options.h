/* Which backend a container runs on, and how the lcow backend boots its utility VM.
 *
 * Two sources, both containerd's:
 *   runtime options: containerd hands the shim a runtimeoptions.v1.Options (an Any on the
 *     start command's stdin: `ctr run --runtime-config-path FILE`, or CRI's
 *     [...runtimes.NAME.options] ConfigPath = "FILE"). FILE is JSON:
 *       {"backend": "lcow" | "hcs",
 *        "launcher": ["/path/to/hypervisor-or-agent", "--arg", "{port_dir}", ...],
 *        "boot_timeout_s": 30}
 *     The launcher is the command that boots the utility VM; every "{port_dir}" in its
 *     arguments becomes the AF_UNIX port directory the guest's agent dials (hybrid vsock).
 *   annotations: the OCI spec's "io.containerd.cow.v1.backend" chooses the backend of one
 *     container (it overrides the options). The launcher cannot come from an annotation:
 *     whoever creates a container sets its annotations, and the launcher is a command the
 *     shim runs with the shim's privileges.
 * Without either, the backend is lcow. */
#ifndef COW_SHIM_OPTIONS_H
#define COW_SHIM_OPTIONS_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#define SHIM_ANNOTATION_BACKEND     "io.containerd.cow.v1.backend"
#define SHIM_DEFAULT_BOOT_TIMEOUT_S 30

typedef struct shim_options {
  char *config_path; /* where they came from, for messages; NULL: none given */
  char *backend;     /* "lcow", "hcs" or NULL */
  char **launcher;   /* argv, NULL-terminated; NULL: none configured */
  unsigned boot_timeout_s;
} shim_options_t;

/* Read a packed runtimeoptions.v1.Options Any (the start command's stdin) and the file
 * it names. Empty input: no options. Returns 0, or -1 with a message in err. */
int shim_options_from_any(shim_options_t *o, const uint8_t *data, size_t len, char *err,
                          size_t errlen);

/* Read the JSON options file at `path`. Returns 0, or -1 with a message in err. */
int shim_options_load(shim_options_t *o, const char *path, char *err, size_t errlen);

/* The backend for the container whose OCI spec is `spec`: its annotation, else the
 * options', else "lcow". Returns NULL (and a message) for an unknown name. */
const char *shim_options_backend(const shim_options_t *o, json_t *spec, char *err, size_t errlen);

/* The launcher's argv with {port_dir} replaced: malloc'd, release with shim_argv_free().
 * NULL when no launcher is configured or memory ran out. */
char **shim_options_launcher_argv(const shim_options_t *o, const char *port_dir);
void shim_argv_free(char **argv);

void shim_options_free(shim_options_t *o);

#endif /* COW_SHIM_OPTIONS_H */

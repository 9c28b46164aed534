/* cow-gcs-peer --mount-layers: containers get their image's root filesystem, as the real
 * agent gives it to them (it overlays the layers and runs the container with runc).
 *
 * At start the peer moves into a mount namespace of its own, with its mounts private, and
 * mounts a tmpfs on /run/gcs (creating the empty directory on the host if needed): what it
 * mounts there is the utility VM's business and goes away with the peer, whatever happens
 * to it. A CombinedLayers Add mounts an overlay at ContainerRootPath: the layers as
 * lowerdir (top first, as hcsshim lists them and overlayfs takes them), ScratchPath/upper
 * and ScratchPath/work as upperdir and workdir (no ScratchPath: read-only). Remove
 * unmounts it. A container's processes run chrooted into the spec's root.path. Needs root. */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include "peer.h"

#define GCS_ROOT "/run/gcs"

/* mkdir -p; 0 or -1 with errno. */
static int mkdirs(const char *path)
{
  char buf[4096];
  if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf) {
    errno = ENAMETOOLONG;
    return -1;
  }
  for (char *p = buf + 1;; p++) {
    if (*p == '/' || *p == '\0') {
      char c = *p;
      *p = '\0';
      if (mkdir(buf, 0755) != 0 && errno != EEXIST)
        return -1;
      if (c == '\0')
        return 0;
      *p = c;
    }
  }
}

int peer_rootfs_init(void)
{
  if (unshare(CLONE_NEWNS) != 0) {
    peer_log("--mount-layers: unshare(CLONE_NEWNS): %s (needs root)", strerror(errno));
    return -1;
  }
  if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0 ||
      (mkdir(GCS_ROOT, 0755) != 0 && errno != EEXIST) ||
      mount("tmpfs", GCS_ROOT, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755") != 0) {
    peer_log("--mount-layers: a private %s: %s", GCS_ROOT, strerror(errno));
    return -1;
  }
  return 0;
}

int peer_rootfs_modify(const char *request_type, json_t *settings, char *err, size_t errlen)
{
  const char *root = json_string_value(gj_get(settings, "ContainerRootPath"));
  if (root == NULL || root[0] != '/') {
    snprintf(err, errlen, "CombinedLayers: ContainerRootPath must be an absolute path");
    return -1;
  }
  if (strcmp(request_type, "Remove") == 0) {
    if (umount2(root, MNT_DETACH) != 0 && errno != EINVAL && errno != ENOENT) {
      snprintf(err, errlen, "unmounting %s: %s", root, strerror(errno));
      return -1;
    }
    return 0;
  }
  json_t *layers = gj_get(settings, "Layers");
  const char *scratch = json_string_value(gj_get(settings, "ScratchPath"));
  size_t n = json_array_size(layers);
  char lower[8192] = "", opts[16500];
  size_t len = 0;
  for (size_t i = 0; i < n; i++) {
    const char *p = json_string_value(gj_get(json_array_get(layers, i), "Path"));
    if (p == NULL || p[0] != '/' || strchr(p, ':') || strchr(p, ',')) {
      snprintf(err, errlen, "CombinedLayers: Layers[%zu].Path must be an absolute path", i);
      return -1;
    }
    len += (size_t)snprintf(lower + len, sizeof lower - len, "%s%s", i ? ":" : "", p);
    if (len >= sizeof lower) {
      snprintf(err, errlen, "CombinedLayers: too many layers");
      return -1;
    }
  }
  if (n == 0) {
    snprintf(err, errlen, "CombinedLayers: no layers");
    return -1;
  }
  if (mkdirs(root) != 0) {
    snprintf(err, errlen, "mkdir %s: %s", root, strerror(errno));
    return -1;
  }
  int rc;
  if (scratch != NULL && scratch[0] != '\0') {
    char upper[4096], work[4096];
    snprintf(upper, sizeof upper, "%s/upper", scratch);
    snprintf(work, sizeof work, "%s/work", scratch);
    if (mkdirs(upper) != 0 || mkdirs(work) != 0) {
      snprintf(err, errlen, "creating the scratch directories under %s: %s", scratch,
               strerror(errno));
      return -1;
    }
    snprintf(opts, sizeof opts, "lowerdir=%s,upperdir=%s,workdir=%s", lower, upper, work);
    rc = mount("overlay", root, "overlay", 0, opts);
  } else if (n == 1) { /* overlayfs wants two lower layers without an upper one */
    rc = mount(lower, root, NULL, MS_BIND, NULL);
    if (rc == 0)
      rc = mount(NULL, root, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY, NULL);
  } else {
    snprintf(opts, sizeof opts, "lowerdir=%s", lower);
    rc = mount("overlay", root, "overlay", MS_RDONLY, opts);
  }
  if (rc != 0) {
    snprintf(err, errlen, "mounting the layers at %s: %s", root, strerror(errno));
    return -1;
  }
  peer_log("CombinedLayers: %zu layer(s) mounted at %s", n, root);
  return 0;
}

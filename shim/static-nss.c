/* Linked into the static containerd-shim-cow-v1 only. libuv's uv_os_get_passwd() comes
 * along with the rest of its core and calls getpwuid_r(), which glibc can only serve from
 * NSS modules loaded at run time: a static program cannot load them (the linker warns so).
 * The shim never looks a user up; this definition makes any such lookup fail plainly
 * (ENOSYS) instead of depending on the host's glibc, and keeps the link quiet. */
#include <errno.h>
#include <pwd.h>
#include <stddef.h>

int getpwuid_r(uid_t uid, struct passwd *pwd, char *buf, size_t buflen, struct passwd **result);

int getpwuid_r(uid_t uid, struct passwd *pwd, char *buf, size_t buflen, struct passwd **result)
{
  *result = NULL;
  return ENOSYS;
}

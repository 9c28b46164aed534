/* COW_E* codes equal libuv's where the meaning is the same (docs/design.md §5); checked
 * here at compile time on every platform libcow builds on. */
#include <uv.h>

#include "cow/error.h"

#define COW__SAME(name)                                                                            \
  _Static_assert((int)COW_##name == (int)UV_##name, "COW_" #name " must equal UV_" #name);
COW__SAME(EINVAL)
COW__SAME(ENOMEM)
COW__SAME(ECANCELED)
COW__SAME(ETIMEDOUT)
COW__SAME(ENOTSUP)
COW__SAME(EBUSY)
COW__SAME(ENOENT)
COW__SAME(EEXIST)
COW__SAME(EPIPE)
COW__SAME(ECONNRESET)
COW__SAME(ECONNREFUSED)
COW__SAME(ENOTCONN)
COW__SAME(EAGAIN)
COW__SAME(EPROTO)
COW__SAME(ESRCH)
COW__SAME(EALREADY)
COW__SAME(EBADF)
COW__SAME(EACCES)
COW__SAME(EPERM)
COW__SAME(EIO)
COW__SAME(ENOSYS)
COW__SAME(E2BIG)
COW__SAME(EOF)

/* ISO C forbids an empty translation unit. */
int cow__uv_compat_checked(void);
int cow__uv_compat_checked(void)
{
  return 1;
}

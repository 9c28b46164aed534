/* HCS stdio handles as core pipes; see stdio.h. The platform difference is one function:
 * how a HANDLE becomes the descriptor uv_pipe_open() takes. */
#include "hcs/common/stdio.h"

#include <stdint.h>

#ifdef _WIN32
#  include <io.h>
#else
#  include <unistd.h>
#endif

int cow__hcs_handle_valid(HANDLE h)
{
  return h != NULL && h != INVALID_HANDLE_VALUE;
}

void cow__hcs_handle_close(HANDLE h)
{
  if (!cow__hcs_handle_valid(h))
    return;
#ifdef _WIN32
  CloseHandle(h);
#else
  close((int)(intptr_t)h);
#endif
}

/* The descriptor libuv's uv_pipe_open() wants for `h`, or -1. On Windows the CRT
 * descriptor then owns the HANDLE. */
static uv_file handle_fd(HANDLE h)
{
#ifdef _WIN32
  return uv_open_osfhandle((uv_os_fd_t)h);
#else
  intptr_t v = (intptr_t)h;
  return v > 0 && v <= INT32_MAX ? (uv_file)v : -1;
#endif
}

static int open_one(cow_process_t *p, cow_stdio_t which, HANDLE h)
{
  uv_file fd = handle_fd(h);
  if (fd < 0) {
    cow__hcs_handle_close(h);
    return COW_EBADF;
  }
  uv_pipe_t *pipe = cow_process_stdio_pipe(p, which);
  int rc = pipe ? uv_pipe_init(cow_process_loop(p), pipe, 0) : COW_ENOMEM;
  if (rc == 0)
    rc = uv_pipe_open(pipe, fd);
  if (rc != 0) {
    /* libuv did not take the descriptor; the initialised pipe is closed by the core. */
#ifdef _WIN32
    _close(fd);
#else
    close(fd);
#endif
    return rc;
  }
  cow_process_stdio_ready(p, which);
  return 0;
}

int cow__hcs_stdio_open_all(cow_process_t *p, const HCS_PROCESS_INFORMATION *pi)
{
  HANDLE hs[3] = {pi->StdInput, pi->StdOutput, pi->StdError};
  int rc = 0;
  for (int i = 0; i < 3; i++) {
    if (!cow__hcs_handle_valid(hs[i]))
      continue;
    if (rc == 0)
      rc = open_one(p, (cow_stdio_t)i, hs[i]);
    else
      cow__hcs_handle_close(hs[i]);
  }
  return rc;
}

void cow__hcs_stdio_close_all(const HCS_PROCESS_INFORMATION *pi)
{
  cow__hcs_handle_close(pi->StdInput);
  cow__hcs_handle_close(pi->StdOutput);
  cow__hcs_handle_close(pi->StdError);
}

const char *cow__hcs_close_handle_request(cow_stdio_t which)
{
  switch (which) {
  case COW_STDIN:
    return "{\"Operation\":\"CloseHandle\",\"CloseHandle\":{\"Handle\":\"StdIn\"}}";
  case COW_STDOUT:
    return "{\"Operation\":\"CloseHandle\",\"CloseHandle\":{\"Handle\":\"StdOut\"}}";
  default:
    return "{\"Operation\":\"CloseHandle\",\"CloseHandle\":{\"Handle\":\"StdErr\"}}";
  }
}

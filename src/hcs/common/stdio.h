/* Internal: the stdio HANDLEs of HCS_PROCESS_INFORMATION as the core's libuv pipes. On
 * Windows they are (overlapped) pipe HANDLEs, opened through a CRT descriptor
 * (uv_open_osfhandle); with the Linux emulator they are file descriptors stored in the
 * HANDLE (hcs/emu/emu.h). Thread: loop thread. */
#ifndef COW_HCS_COMMON_STDIO_H
#define COW_HCS_COMMON_STDIO_H

#include "cow/sys/process.h"
#include "hcs/common/hcs-types.h"

/* 1 for a usable stream handle: neither NULL nor INVALID_HANDLE_VALUE (docs/hcs-api.md §1.1). */
int cow__hcs_handle_valid(HANDLE h);

/* Close a handle the caller owns and will not use (valid ones only). */
void cow__hcs_handle_close(HANDLE h);

/* Hand every valid handle of `pi` to the matching core pipe of `p` (uv_pipe_init +
 * uv_pipe_open, then cow_process_stdio_ready). Ownership of all three handles passes to
 * this call: on failure the ones not opened are closed, the ones opened belong to the core
 * (it closes its pipes at process close). Returns 0 or a COW_E* code. */
int cow__hcs_stdio_open_all(cow_process_t *p, const HCS_PROCESS_INFORMATION *pi);

/* Close every valid handle of `pi` (a process that will not be used). */
void cow__hcs_stdio_close_all(const HCS_PROCESS_INFORMATION *pi);

/* The ModifyProcess request that closes the service's end of one stream (CloseHandle
 * StdIn / StdOut / StdErr): a static string. */
const char *cow__hcs_close_handle_request(cow_stdio_t which);

#endif

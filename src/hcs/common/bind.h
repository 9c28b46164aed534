/* Internal: binding the HCS DLL tables on Windows (bind-win.c). On Linux the tables come
 * from the emulator (hcs/emu/emu.h). */
#ifndef COW_HCS_COMMON_BIND_H
#define COW_HCS_COMMON_BIND_H

#include "cow/error.h"
#include "hcs/common/computecore-api.h"
#include "hcs/common/vmcompute-api.h"

#ifdef _WIN32
/* Fill the table from computecore.dll / vmcompute.dll in System32. A missing DLL or export
 * gives COW_EBACKEND_UNAVAILABLE with `err` naming the DLL and export (err may be NULL).
 * The DLLs stay loaded for the life of the process. Thread: any. */
int cow__hcs_bind_computecore(struct cow__computecore_api *out, cow_error_t *err);
int cow__hcs_bind_vmcompute(struct cow__vmcompute_api *out, cow_error_t *err);
#endif

#endif

/* Internal: turning what the HCS DLLs return (an HRESULT plus an optional ResultError
 * document, docs/hcs-api.md §4.4) into a cow_error_t, and taking ownership of DLL out-strings.
 * The HRESULT table itself is the core's (src/core/error.c): never duplicated here. */
#ifndef COW_HCS_COMMON_HCS_ERROR_H
#define COW_HCS_COMMON_HCS_ERROR_H

#include <stdint.h>

#include "cow/error.h"
#include "hcs/common/hcs-types.h"

/* Fill `err` for a failed HCS call: code from the core's HRESULT table, sys_code = the raw
 * HRESULT (zero-extended), message = the document's ErrorMessage when there is one (else
 * the table's text), detail_json = the whole document (NULL allowed: it is optional).
 * Returns the COW_E* code. Thread: any. */
int cow__hcs_error(cow_error_t *err, HRESULT hr, const char *operation, const char *object_id,
                   const char *result_doc);

/* An error detected by the backend itself about what the DLL returned (empty payload,
 * unparsable document): COW_EPROTOCOL in the HCS domain with `hr` (may be 0). */
int cow__hcs_error_bad_reply(cow_error_t *err, HRESULT hr, const char *operation,
                             const char *object_id, const char *what);

/* Convert a DLL out-string to UTF-8 (cow__malloc'd, NULL for NULL or an invalid string)
 * and free the original through the table's `free_string`, success or not (docs/hcs-api.md §1
 * item 5). Thread: any. */
char *cow__hcs_take_string(void (*free_string)(PWSTR), PWSTR s);

/* 1 for the answers hcsshim counts as success for Shutdown/Terminate (R19): already stopped,
 * not found, pending; both 0x8037 and 0xC037 forms. Never ERROR_PROC_NOT_FOUND. */
int cow__hcs_stop_tolerated(HRESULT hr);

/* 1 for "the process is already gone" answers of OpenProcess/TerminateProcess in Kill
 * (docs/hcs-api.md §4.3): the already-stopped set, element not found, access denied. */
int cow__hcs_kill_tolerated(HRESULT hr);

/* 1 when a failed Signal means "not delivered because the process is gone or not in a
 * state to receive it" (hcsshim processSignalResult): invalid state, not found. */
int cow__hcs_signal_gone(HRESULT hr);

/* After HCS says a process is gone, how long its exit notification may take before the
 * core releases the waiters anyway (hcsshim waits 1 s the same way). */
#define COW__HCS_GONE_GRACE_MS 1000

#endif

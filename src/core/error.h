/* Internal: filling cow_error_t. */
#ifndef COW_CORE_ERROR_H
#define COW_CORE_ERROR_H

#include "core/log.h" /* COW__PRINTF */
#include "cow/error.h"

/* Fill `err` (may be NULL; cleared first) and return `code`, so that a failure path reads
 * `return cow__error_set(err, COW_EINVAL, COW_DOMAIN_LIB, 0, "start", id, "bad %s", x);`.
 * A NULL fmt uses cow_strerror(code). String allocation failures leave the strings NULL. */
int cow__error_set(cow_error_t *err, int code, cow_error_domain_t domain, uint32_t sys_code,
                   const char *operation, const char *object_id, const char *fmt, ...)
    COW__PRINTF(7, 8);

/* The error of a call that the loss of the guest connection ended or refused:
 * COW_EBRIDGE_CLOSED, "the connection to the guest is closed: WHY" (`why` NULL: it never
 * got connected). One text for every place that reports the loss: the bridge's pending
 * requests, its refusals, and the blocking API's copy of a refusal. */
int cow__error_bridge_closed(cow_error_t *err, const char *operation, const char *object_id,
                             const char *why);

/* Attach a JSON detail document (copied). */
void cow__error_set_detail(cow_error_t *err, const char *json);

/* An error from an HRESULT: code from cow_hresult_to_code(), the message given or a
 * description of the HRESULT. */
int cow__error_hresult(cow_error_t *err, cow_error_domain_t domain, uint32_t hr,
                       const char *operation, const char *object_id, const char *message);

/* The `version` check of a caller-filled struct (options, params): 0 for a version this
 * library knows, COW_EINVAL for 0 (a struct not started from its _INIT macro or _init()
 * function), COW_EVERSION for a struct from a newer library. */
static inline int cow__struct_version_check(unsigned int version, unsigned int current)
{
  if (version < 1)
    return COW_EINVAL;
  return version > current ? COW_EVERSION : 0;
}

/* Text for well-known HRESULTs ("the compute system was not found"), NULL otherwise. */
const char *cow__hresult_text(uint32_t hr);

#endif

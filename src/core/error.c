/* Error codes, cow_error_t and the HRESULT table shared by the HCS and guest backends. */
#include "core/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <uv.h>

#include "core/alloc.h"

/* Codes passed through from libuv or the OS (a transport's bind failing with EADDRINUSE,
 * ...): libuv's own names and messages, from its public map rather than uv_strerror(),
 * which allocates (and leaks) a string for a code it does not know. */
static const char *uv_message(int code)
{
  switch (code) {
#define XX(name, msg)                                                                              \
  case UV_##name:                                                                                  \
    return msg;
    UV_ERRNO_MAP(XX)
#undef XX
  default:
    return NULL;
  }
}

static const char *uv_name(int code)
{
  switch (code) {
#define XX(name, msg)                                                                              \
  case UV_##name:                                                                                  \
    return #name;
    UV_ERRNO_MAP(XX)
#undef XX
  default:
    return NULL;
  }
}

const char *cow_strerror(int code)
{
  switch (code) {
#define XX(name, value, msg)                                                                       \
  case COW_##name:                                                                                 \
    return msg;
    COW_ERRNO_MAP(XX)
#undef XX
  case 0:
    return "success";
  default: {
    const char *m = uv_message(code);
    return m != NULL ? m : "unknown error";
  }
  }
}

const char *cow_err_name(int code)
{
  switch (code) {
#define XX(name, value, msg)                                                                       \
  case COW_##name:                                                                                 \
    return #name;
    COW_ERRNO_MAP(XX)
#undef XX
  default: {
    const char *n = uv_name(code);
    return n != NULL ? n : "UNKNOWN";
  }
  }
}

void cow_error_clear(cow_error_t *err)
{
  if (err == NULL)
    return;
  cow__free(err->message);
  cow__free(err->object_id);
  cow__free(err->detail_json);
  memset(err, 0, sizeof *err);
}

int cow_error_copy(cow_error_t *dst, const cow_error_t *src)
{
  if (dst == NULL || src == NULL || dst == src)
    return dst == NULL || src == NULL ? COW_EINVAL : 0;
  cow_error_clear(dst);
  dst->code = src->code;
  dst->domain = src->domain;
  dst->sys_code = src->sys_code;
  dst->operation = src->operation;
  dst->message = cow__strdup(src->message);
  dst->object_id = cow__strdup(src->object_id);
  dst->detail_json = cow__strdup(src->detail_json);
  if ((src->message && !dst->message) || (src->object_id && !dst->object_id) ||
      (src->detail_json && !dst->detail_json)) {
    cow__free(dst->message);
    cow__free(dst->object_id);
    cow__free(dst->detail_json);
    dst->message = dst->object_id = dst->detail_json = NULL;
    return COW_ENOMEM;
  }
  return 0;
}

void cow_error_move(cow_error_t *dst, cow_error_t *src)
{
  if (dst == NULL || src == NULL || dst == src)
    return;
  cow_error_clear(dst);
  *dst = *src;
  memset(src, 0, sizeof *src);
}

int cow__error_set(cow_error_t *err, int code, cow_error_domain_t domain, uint32_t sys_code,
                   const char *operation, const char *object_id, const char *fmt, ...)
{
  if (err == NULL)
    return code;
  cow_error_clear(err);
  err->code = code;
  err->domain = domain;
  err->sys_code = sys_code;
  err->operation = operation;
  err->object_id = cow__strdup(object_id);
  if (fmt == NULL) {
    err->message = cow__strdup(cow_strerror(code));
  } else {
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    err->message = cow__strdup(buf);
  }
  return code;
}

int cow__error_bridge_closed(cow_error_t *err, const char *operation, const char *object_id,
                             const char *why)
{
  return cow__error_set(err, COW_EBRIDGE_CLOSED, COW_DOMAIN_LIB, 0, operation, object_id,
                        "the connection to the guest is closed: %s",
                        why != NULL ? why : "the bridge is not connected");
}

void cow__error_set_detail(cow_error_t *err, const char *json)
{
  if (err == NULL)
    return;
  cow__free(err->detail_json);
  err->detail_json = cow__strdup(json);
}

uint32_t cow_hresult(int64_t raw)
{
  return (uint32_t)((uint64_t)raw & 0xFFFFFFFFu);
}

/* HCS codes come in an HRESULT form (0x8037xxxx, HCS_E_*) and a vmcompute form (0xC037xxxx,
 * ERROR_VMCOMPUTE_*); the service returns either. Normalise to the 0x8037 form before
 * comparing. 0x0103 and 0x0104 are the exception (docs/hcs-api.md §4.1): 0xC0370103 is v1's
 * "operation pending" and 0xC0370104 "too many notifications", with no HCS_E_ twin, so
 * they are kept apart. */
static uint32_t hr_normalize(uint32_t hr)
{
  uint32_t low = hr & 0xFFFFu;
  if ((hr & 0xFFFF0000u) == 0xC0370000u && low != 0x0103u && low != 0x0104u)
    return 0x80370000u | low;
  return hr;
}

int cow_hresult_equal(uint32_t a, uint32_t b)
{
  return hr_normalize(a) == hr_normalize(b);
}

/* Well-known HRESULTs (docs/hcs-api.md §4.1, docs/gcs-bridge-protocol.md §2.4), in the 0x8037
 * form where a code has both. */
static const struct hr_entry {
  uint32_t hr;
  int code;
  const char *text;
} hr_table[] = {
    {0x80370100u, COW_EHCS, "the compute system terminated during start"},
    {0xC0370103u, COW_EAGAIN, "the operation is pending"},
    {0x80370105u, COW_EINVALID_STATE, "the operation is not valid in the current state"},
    {0x80370106u, COW_EHCS, "the compute system exited unexpectedly"},
    {0x80370107u, COW_EHCS, "the compute system was forcefully terminated"},
    {0x80370109u, COW_ETIMEDOUT, "the guest did not answer in time"},
    {0x8037010Au, COW_EBRIDGE_CLOSED, "the connection to the compute system was closed"},
    {0x8037010Bu, COW_ENOTSUP, "the guest does not support the request"},
    {0x8037010Du, COW_EINVAL, "the document is not valid JSON for this request"},
    {0x8037010Eu, COW_ENOENT, "the compute system was not found"},
    {0x8037010Fu, COW_EEXIST, "a compute system with this id already exists"},
    {0x80370110u, COW_EINVALID_STATE, "the compute system is already stopped"},
    {0x80370115u, COW_EINVALID_STATE, "the operation was never started"},
    {0x80370116u, COW_EINVALID_STATE, "the operation is already in use"},
    {0x80370117u, COW_EAGAIN, "the operation is pending"},
    {0x80370118u, COW_ETIMEDOUT, "the operation timed out"},
    {0x80370119u, COW_EINVALID_STATE, "an operation callback is already set"},
    {0x8037011Bu, COW_EACCES, "access denied to the Host Compute Service"},
    {0x8037011Du, COW_EHCS, "process information is not available"},
    {0x8037011Eu, COW_ECONNRESET, "the Host Compute Service disconnected"},
    {0x8037011Fu, COW_EINVALID_STATE, "the process is already stopped"},
    {0x80370121u, COW_ECANCELED, "the operation was already cancelled"},
    {0x80070002u, COW_ENOENT, "the system cannot find the file specified"},
    {0x80070005u, COW_EACCES, "access is denied"},
    {0x80070006u, COW_EBADF, "the handle is invalid"},
    {0x80070008u, COW_ENOMEM, "not enough memory"},
    {0x8007000Du, COW_EINVAL, "the data is invalid"},
    {0x8007000Eu, COW_ENOMEM, "not enough memory"},
    {0x80070032u, COW_ENOTSUP, "the request is not supported"},
    {0x80070057u, COW_EINVAL, "the parameter is incorrect"},
    {0x8007007Fu, COW_ENOSYS, "the specified procedure could not be found"},
    {0x80070490u, COW_ENOENT, "element not found"},
    {0x800705B4u, COW_ETIMEDOUT, "the operation timed out"},
    {0x800706BAu, COW_EBRIDGE_CLOSED, "the RPC server is unavailable"},
    {0x80004001u, COW_ENOTSUP, "not implemented"},
    {0x80004004u, COW_ECANCELED, "operation aborted"},
    {0x80004005u, COW_EHCS, "unspecified failure"},
};

static const struct hr_entry *hr_lookup(uint32_t hr)
{
  uint32_t n = hr_normalize(hr);
  for (size_t i = 0; i < sizeof hr_table / sizeof hr_table[0]; i++)
    if (hr_table[i].hr == n)
      return &hr_table[i];
  return NULL;
}

const char *cow__hresult_text(uint32_t hr)
{
  const struct hr_entry *e = hr_lookup(hr);
  return e ? e->text : NULL;
}

int cow_hresult_to_code(uint32_t hr)
{
  if ((hr & 0x80000000u) == 0)
    return 0;
  const struct hr_entry *e = hr_lookup(hr);
  return e ? e->code : COW_EHCS;
}

int cow__error_hresult(cow_error_t *err, cow_error_domain_t domain, uint32_t hr,
                       const char *operation, const char *object_id, const char *message)
{
  int code = cow_hresult_to_code(hr);
  if (code == 0)
    code = COW_EHCS; /* a caller only gets here for a failure */
  if (domain == COW_DOMAIN_GUEST && code == COW_EHCS)
    code = COW_EGUEST;
  const char *text = message && *message ? message : cow__hresult_text(hr);
  if (text == NULL)
    text = domain == COW_DOMAIN_GUEST ? "guest error" : "HCS error";
  return cow__error_set(err, code, domain, hr, operation, object_id, "%s (HRESULT 0x%08X)", text,
                        (unsigned)hr);
}

static int hr_is(const cow_error_t *err, uint32_t hr)
{
  return err != NULL && (err->domain == COW_DOMAIN_HCS || err->domain == COW_DOMAIN_GUEST) &&
         cow_hresult_equal(err->sys_code, hr);
}

int cow_error_is_not_found(const cow_error_t *err)
{
  return err != NULL &&
         (err->code == COW_ENOENT || err->code == COW_ESRCH || hr_is(err, 0x8037010Eu) ||
          hr_is(err, 0x80070490u) || hr_is(err, 0x80070002u));
}

/* hcsshim's IsAlreadyStopped: not found, already stopped, process already exited. Never
 * ERROR_PROC_NOT_FOUND (0x8007007F), which is a failed procedure lookup (hcsshim#1064). */
int cow_error_is_already_stopped(const cow_error_t *err)
{
  return err != NULL &&
         (err->code == COW_ESRCH || hr_is(err, 0x8037010Eu) || hr_is(err, 0x80370110u) ||
          hr_is(err, 0x8037011Fu) || hr_is(err, 0x80070490u));
}

int cow_error_is_pending(const cow_error_t *err)
{
  return err != NULL &&
         (err->code == COW_EAGAIN || hr_is(err, 0xC0370103u) || hr_is(err, 0x80370117u));
}

int cow_error_is_invalid_state(const cow_error_t *err)
{
  return err != NULL && (err->code == COW_EINVALID_STATE || hr_is(err, 0x80370105u));
}

int cow_error_is_access_denied(const cow_error_t *err)
{
  return err != NULL && (err->code == COW_EACCES || err->code == COW_EPERM ||
                         hr_is(err, 0x80070005u) || hr_is(err, 0x8037011Bu));
}

int cow_error_is_timeout(const cow_error_t *err)
{
  return err != NULL &&
         (err->code == COW_ETIMEDOUT || err->code == COW_EIO_TIMEOUT || hr_is(err, 0x80370109u) ||
          hr_is(err, 0x80370118u) || hr_is(err, 0x800705B4u));
}

int cow_error_is_bridge_closed(const cow_error_t *err)
{
  return err != NULL && (err->code == COW_EBRIDGE_CLOSED || hr_is(err, 0x8037010Au) ||
                         hr_is(err, 0x8037011Eu) || hr_is(err, 0x800706BAu));
}

int cow_error_is_not_supported(const cow_error_t *err)
{
  return err != NULL &&
         (err->code == COW_ENOTSUP || hr_is(err, 0x80004001u) || hr_is(err, 0x8037010Bu) ||
          hr_is(err, 0x8037010Du) || hr_is(err, 0x80070032u) || hr_is(err, 0x8007000Du));
}

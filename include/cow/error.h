/** @file cow/error.h
 * @brief Error codes and the rich error object.
 *
 * Every function returns 0 or a negative COW_E* code. Where libuv has an error with the
 * same meaning the value is identical to libuv's (COW_EINVAL == UV_EINVAL on every
 * platform), so libuv statuses pass through unchanged. Codes specific to libcow live in
 * the block -30000..-30999, which no libuv code uses. Numbers are never reused.
 */
#ifndef COW_ERROR_H
#define COW_ERROR_H

#include "common.h"

/** @cond COW_INTERNAL */
#ifndef _WIN32
#  include <errno.h>
#  define COW__UVERR(posix, win) (-(posix))
#else
#  define COW__UVERR(posix, win) (win)
#endif

/** @endcond */

/** The error codes, one `XX(name, value, message)` line each: the enumerator COW_<name>
 *  of cow_errno_t, its value (libuv's where the meaning is the same, -30000..-30999 for
 *  libcow's own), and the message cow_strerror() returns. cow_strerror() and cow_err_name()
 *  are generated from the same list. */
#define COW_ERRNO_MAP(XX)                                                                          \
  XX(EINVAL, COW__UVERR(EINVAL, -4071), "invalid argument")                                        \
  XX(ENOMEM, COW__UVERR(ENOMEM, -4057), "not enough memory")                                       \
  XX(ECANCELED, COW__UVERR(ECANCELED, -4081), "operation canceled")                                \
  XX(ETIMEDOUT, COW__UVERR(ETIMEDOUT, -4039), "operation timed out")                               \
  XX(ENOTSUP, COW__UVERR(ENOTSUP, -4049), "operation not supported by this backend")               \
  XX(EBUSY, COW__UVERR(EBUSY, -4082), "resource busy")                                             \
  XX(ENOENT, COW__UVERR(ENOENT, -4058), "no such object")                                          \
  XX(EEXIST, COW__UVERR(EEXIST, -4075), "object already exists")                                   \
  XX(EPIPE, COW__UVERR(EPIPE, -4047), "broken pipe")                                               \
  XX(ECONNRESET, COW__UVERR(ECONNRESET, -4077), "connection reset by peer")                        \
  XX(ECONNREFUSED, COW__UVERR(ECONNREFUSED, -4078), "connection refused")                          \
  XX(ENOTCONN, COW__UVERR(ENOTCONN, -4053), "not connected")                                       \
  XX(EAGAIN, COW__UVERR(EAGAIN, -4088), "resource temporarily unavailable")                        \
  XX(EPROTO, COW__UVERR(EPROTO, -4046), "protocol error")                                          \
  XX(ESRCH, COW__UVERR(ESRCH, -4040), "no such process (already exited)")                          \
  XX(EALREADY, COW__UVERR(EALREADY, -4084), "operation already in progress or done")               \
  XX(EBADF, COW__UVERR(EBADF, -4083), "bad handle")                                                \
  XX(EACCES, COW__UVERR(EACCES, -4092), "permission denied")                                       \
  XX(EPERM, COW__UVERR(EPERM, -4048), "operation not permitted")                                   \
  XX(EIO, COW__UVERR(EIO, -4070), "i/o error")                                                     \
  XX(ENOSYS, COW__UVERR(ENOSYS, -4054), "function not implemented")                                \
  XX(E2BIG, COW__UVERR(E2BIG, -4093), "argument list too long")                                    \
  XX(EOF, -4095, "end of file")                                                                    \
  XX(EHCS, -30000, "the Host Compute Service returned an error (see the HRESULT)")                 \
  XX(EGUEST, -30001, "the guest agent returned an error (see the HRESULT)")                        \
  XX(EPROTOCOL, -30002, "malformed message from the peer")                                         \
  XX(EBRIDGE_CLOSED, -30003, "the connection to the guest is closed")                              \
  XX(EMSG_TOO_LARGE, -30004, "message larger than the protocol allows")                            \
  XX(ENOT_EXITED, -30005, "the process or container has not exited")                               \
  XX(EBACKEND_UNAVAILABLE, -30006, "the backend is not available on this machine")                 \
  XX(EIO_TIMEOUT, -30007, "stdio did not reach end of file before the drain timeout")              \
  XX(EINVALID_STATE, -30008, "the object is not in a state that allows this operation")            \
  XX(ECLOSING, -30009, "the handle is closing")                                                    \
  XX(EVERSION, -30010, "unsupported ops table version")                                            \
  XX(ENOTTY, -30011, "the process has no console")                                                 \
  XX(ENOT_STARTED, -30012, "the process or container has not started")

COW_BEGIN_DECLS

/** The libcow error codes: COW_EINVAL, COW_ENOMEM, ... as listed in COW_ERRNO_MAP, whose
 *  message column documents each. Functions return them as `int`. */
typedef enum cow_errno {
/** @cond COW_INTERNAL */
#define COW__ERR_ENUM(name, value, msg) COW_##name = (value),
  COW_ERRNO_MAP(COW__ERR_ENUM)
#undef COW__ERR_ENUM
  /** @endcond */
  COW_ERRNO__MAX = -31000 /**< not part of the ABI */
} cow_errno_t;

/** Short message for a COW_E* code. Codes outside the list are libuv's (a transport or
 *  the OS passed them through, such as UV_EADDRINUSE from a bind): they get libuv's
 *  message; anything else gets "unknown error".
 *  Ownership: static storage. Thread: any.
 *  @param code A COW_E* code, or a libuv error code.
 *  @return The message (static storage). */
COW_EXTERN const char *cow_strerror(int code);

/** Name of a COW_E* code ("EINVAL"), or of a libuv code as libuv names it
 *  ("EADDRINUSE"); "UNKNOWN" for anything else.
 *  Ownership: static storage. Thread: any.
 *  @param code A COW_E* code, or a libuv error code.
 *  @return The name (static storage). */
COW_EXTERN const char *cow_err_name(int code);

/** Where a system code in a cow_error_t comes from. */
typedef enum cow_error_domain {
  COW_DOMAIN_NONE = 0, /**< no system code; only the libcow code */
  COW_DOMAIN_LIB = 1,  /**< detected by libcow itself (bad input, state, protocol) */
  COW_DOMAIN_OS = 2,   /**< sys_code is an errno (or Win32 error on Windows) */
  COW_DOMAIN_HCS = 3,  /**< sys_code is an HRESULT from the Host Compute Service */
  COW_DOMAIN_GUEST = 4 /**< sys_code is an HRESULT from the guest agent */
} cow_error_domain_t;

/** A rich error. Transparent so that FFI callers can read it directly.
 *
 *  Ownership: the strings are owned by the struct and released by cow_error_clear().
 *  Inside a callback a `const cow_error_t *` is borrowed: valid only during the callback;
 *  copy it with cow_error_copy() to keep it. A caller-owned one starts as COW_ERROR_INIT. */
typedef struct cow_error {
  int code;                  /**< COW_E* code, 0 when no error */
  cow_error_domain_t domain; /**< what sys_code means */
  uint32_t sys_code;         /**< HRESULT (zero-extended) or errno; 0 when none */
  const char *operation;     /**< static name of the operation ("start", "signal", ...) or NULL */
  char *message;             /**< human-readable text or NULL */
  char *object_id;           /**< container id or process id the error is about, or NULL */
  char *detail_json; /**< result document / ErrorRecords JSON from HCS or the guest, or NULL */
} cow_error_t;

/** The initial value of a caller-owned cow_error_t: no error, no strings. */
#define COW_ERROR_INIT                                                                             \
  {                                                                                                \
    0, COW_DOMAIN_NONE, 0, NULL, NULL, NULL, NULL                                                  \
  }

/** Release the strings of `err` and reset it to COW_ERROR_INIT. NULL is allowed.
 *  Thread: any (the error is plain memory).
 *  @param err Receives the error details on failure (may be NULL; the caller clears it with
 *             cow_error_clear()). */
COW_EXTERN void cow_error_clear(cow_error_t *err);

/** Deep-copy `src` into `dst` (cleared first). Returns 0, or COW_ENOMEM (then `dst` keeps
 *  the code, domain and sys_code but no strings). Thread: any.
 *  @param dst The error to fill (cleared first).
 *  @param src The error to take the contents from.
 *  @return 0 on success, or a negative COW_E* code. */
COW_EXTERN int cow_error_copy(cow_error_t *dst, const cow_error_t *src);

/** Move `src` into `dst` (cleared first); `src` is left as COW_ERROR_INIT. Thread: any.
 *  @param dst The error to fill (cleared first).
 *  @param src The error to take the contents from. */
COW_EXTERN void cow_error_move(cow_error_t *dst, cow_error_t *src);

/** Zero-extend a raw HRESULT. A Go or Win32 caller may hand over an HRESULT sign-extended to
 *  64 bits (0xFFFFFFFFC037010E); this returns the 32-bit value (0xC037010E). Thread: any.
 *  @param raw The HRESULT as the caller has it, possibly sign-extended to 64 bits.
 *  @return The 32-bit HRESULT. */
COW_EXTERN uint32_t cow_hresult(int64_t raw);

/** Compare two HRESULTs, treating the 0x8037xxxx and 0xC037xxxx forms of one HCS code as
 *  equal. Returns 1 when equal, 0 otherwise. Thread: any.
 *  @param a An HRESULT.
 *  @param b The HRESULT to compare it with.
 *  @return 1 when equal, 0 otherwise. */
COW_EXTERN int cow_hresult_equal(uint32_t a, uint32_t b);

/** Map an HRESULT (HCS or guest) to the closest COW_E* code; COW_EHCS for an unknown
 *  failure, 0 for a success code. Thread: any.
 *  @param hr The HRESULT.
 *  @return The COW_E* code; 0 for a success HRESULT. */
COW_EXTERN int cow_hresult_to_code(uint32_t hr);

/** 1 when `err` means that the object does not exist (COW_ENOENT, or the HCS/guest "not found"
 * HRESULTs such as 0x8037010E), whether libcow detected it or the service or the guest returned it;
 * 0 otherwise, and for NULL. Thread: any.
 *  @param err Details of the failure (borrowed; may be NULL).
 *  @return 1 or 0. */
COW_EXTERN int cow_error_is_not_found(const cow_error_t *err);
/** 1 when `err` means that the system or process had already stopped (HCS 0x80370110 and its
 * forms), whether libcow detected it or the service or the guest returned it; 0 otherwise, and for
 * NULL. Thread: any.
 *  @param err Details of the failure (borrowed; may be NULL).
 *  @return 1 or 0. */
COW_EXTERN int cow_error_is_already_stopped(const cow_error_t *err);
/** 1 when `err` means that the operation is still pending on the service side (HCS operation
 * pending), whether libcow detected it or the service or the guest returned it; 0 otherwise, and
 * for NULL. Thread: any.
 *  @param err Details of the failure (borrowed; may be NULL).
 *  @return 1 or 0. */
COW_EXTERN int cow_error_is_pending(const cow_error_t *err);
/** 1 when `err` means that the object is not in a state that allows the operation
 * (COW_EINVALID_STATE or the HCS "invalid state" HRESULT), whether libcow detected it or the
 * service or the guest returned it; 0 otherwise, and for NULL. Thread: any.
 *  @param err Details of the failure (borrowed; may be NULL).
 *  @return 1 or 0. */
COW_EXTERN int cow_error_is_invalid_state(const cow_error_t *err);
/** 1 when `err` means that access was denied (COW_EACCES, COW_EPERM or E_ACCESSDENIED), whether
 * libcow detected it or the service or the guest returned it; 0 otherwise, and for NULL. Thread:
 * any.
 *  @param err Details of the failure (borrowed; may be NULL).
 *  @return 1 or 0. */
COW_EXTERN int cow_error_is_access_denied(const cow_error_t *err);
/** 1 when `err` means that the operation timed out (COW_ETIMEDOUT or the HCS timeout HRESULT),
 * whether libcow detected it or the service or the guest returned it; 0 otherwise, and for NULL.
 * Thread: any.
 *  @param err Details of the failure (borrowed; may be NULL).
 *  @return 1 or 0. */
COW_EXTERN int cow_error_is_timeout(const cow_error_t *err);
/** 1 when `err` means that the connection to the guest is gone (COW_EBRIDGE_CLOSED), whether libcow
 * detected it or the service or the guest returned it; 0 otherwise, and for NULL. Thread: any.
 *  @param err Details of the failure (borrowed; may be NULL).
 *  @return 1 or 0. */
COW_EXTERN int cow_error_is_bridge_closed(const cow_error_t *err);
/** 1 when `err` means that the backend or the service does not support the operation (COW_ENOTSUP
 * or E_NOTIMPL), whether libcow detected it or the service or the guest returned it; 0 otherwise,
 * and for NULL. Thread: any.
 *  @param err Details of the failure (borrowed; may be NULL).
 *  @return 1 or 0. */
COW_EXTERN int cow_error_is_not_supported(const cow_error_t *err);

COW_END_DECLS

#endif /* COW_ERROR_H */

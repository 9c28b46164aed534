/** @file cow/common.h
 * @brief Export macros and the forward declarations every public header shares.
 *
 * Included by every other libcow header; consumers do not include it directly. It
 * needs no libuv and no jansson header: the loop and stdio streams appear in the API
 * only as pointers to libuv's own struct tags.
 */
#ifndef COW_COMMON_H
#define COW_COMMON_H

#include <stddef.h>
#include <stdint.h>

#include <cow/config.h>

#if defined(BUILDING_COW_SHARED) && defined(USING_COW_SHARED)
#  error "Define either BUILDING_COW_SHARED or USING_COW_SHARED, not both."
#endif

#ifndef COW_EXTERN
#  if defined(_WIN32)
#    if defined(BUILDING_COW_SHARED)
#      define COW_EXTERN __declspec(dllexport)
#    elif defined(USING_COW_SHARED)
#      define COW_EXTERN __declspec(dllimport)
#    else
#      define COW_EXTERN
#    endif
#  elif defined(__GNUC__) && __GNUC__ >= 4
#    define COW_EXTERN __attribute__((visibility("default")))
#  else
#    define COW_EXTERN
#  endif
#endif

/* Marks a declaration whose implementation this build of the library leaves out (a backend
 * turned off, see <cow/config.h>): calling it is a compile-time error that names the reason
 * where the compiler has the attribute (GCC 12 and later, clang), a link error elsewhere. */
#if defined(__has_attribute)
#  if __has_attribute(unavailable)
#    define COW_UNAVAILABLE(reason) __attribute__((unavailable(reason)))
#  endif
#endif
#ifndef COW_UNAVAILABLE
#  define COW_UNAVAILABLE(reason)
#endif

/** @def COW_GUEST_EXTERN
 *  Declares a function of the guest connection: COW_EXTERN when the library was built with
 *  it (<cow/config.h>), otherwise also COW_UNAVAILABLE, so that a call compiles only where
 *  it can link.
 *  @def COW_HCS_EXTERN
 *  As COW_GUEST_EXTERN, for the HCS backends. */
#if COW_HAVE_BACKEND_GUEST
#  define COW_GUEST_EXTERN COW_EXTERN
#else
#  define COW_GUEST_EXTERN                                                                         \
    COW_EXTERN COW_UNAVAILABLE(                                                                    \
        "libcow was built without the guest connection (COW_BACKEND_GUEST=OFF)")
#endif
#if COW_HAVE_BACKEND_HCS
#  define COW_HCS_EXTERN COW_EXTERN
#else
#  define COW_HCS_EXTERN                                                                           \
    COW_EXTERN COW_UNAVAILABLE("libcow was built without HCS (COW_BACKEND_HCS=OFF)")
#endif

/** @def COW_BEGIN_DECLS
 *  Opens `extern "C"` for C++ consumers (nothing in C).
 *  @def COW_END_DECLS
 *  Closes what COW_BEGIN_DECLS opened. */
#ifdef __cplusplus
#  define COW_BEGIN_DECLS extern "C" {
#  define COW_END_DECLS   }
#else
#  define COW_BEGIN_DECLS
#  define COW_END_DECLS
#endif

/* libuv's own struct tags: the library needs the loop and stdio streams only by pointer,
 * so consumers that do not touch stdio never need <uv.h>: <cow.h> does not include it, only
 * <cow/stdio.h> does. */
struct uv_loop_s;
struct uv_stream_s;

COW_BEGIN_DECLS

/** A process running in a container, a utility VM or an emulated compute system.
 *  Opaque; created by cow_host_create_process(), released by cow_process_close(). */
typedef struct cow_process_s cow_process_t;

/** Something that can run processes (hcsshim's ProcessHost): a guest connection or a
 *  container. Opaque. */
typedef struct cow_host_s cow_host_t;

/** A container or compute system. Opaque; usable wherever a host is expected through
 *  cow_container_host(). */
typedef struct cow_container_s cow_container_t;

/** Per-operation timeouts, set per handle with cow_*_set_timeout(). Values are in
 *  milliseconds; 0 means "no timeout". The numbering is ABI: values are never reused. */
typedef enum cow_timeout_kind {
  COW_TIMEOUT_CREATE = 0,      /**< create_process / create container. Default 0. */
  COW_TIMEOUT_START = 1,       /**< container start. Default 0. */
  COW_TIMEOUT_SHUTDOWN = 2,    /**< graceful shutdown request. Default 30000 (hcsshim). */
  COW_TIMEOUT_TERMINATE = 3,   /**< forced terminate request. Default 30000 (hcsshim). */
  COW_TIMEOUT_SIGNAL = 4,      /**< kill / signal. Default 0. */
  COW_TIMEOUT_RESIZE = 5,      /**< resize_console. Default 0. */
  COW_TIMEOUT_CLOSE_STDIN = 6, /**< close_stdin. Default 0. */
  COW_TIMEOUT_PROPERTIES = 7,  /**< properties / properties_v2. Default 0. */
  COW_TIMEOUT_MODIFY = 8,      /**< modify. Default 0. */
  COW_TIMEOUT_WAIT = 9, /**< each wait; a timed-out waiter does not affect others. Default 0. */
  COW_TIMEOUT_STDIO_DRAIN = 10, /**< after exit, longest pause in stdout/stderr before the exit
                                     is reported without EOF (COW_EIO_TIMEOUT). Default 1000. */
  COW_TIMEOUT_CONNECT = 11,     /**< a backend's connect (guest: accept + negotiate). The
                                     guest connection sets it from its connect_timeout_ms. */
  COW_TIMEOUT_PAUSE = 12,       /**< each pause / resume of a container. Default 0. */
  COW_TIMEOUT_STOP = 13,        /**< cow_process_stop() / cow_container_stop(): once the forced
                                     step was asked, or the exit was seen, how long the stop
                                     waits for what is still missing (the exit, the answers to
                                     the requests it sent) before it fails with COW_ETIMEDOUT
                                     naming it. The whole stop is bounded by grace_ms plus this.
                                     Default 30000. */
  COW_TIMEOUT__MAX = 14         /**< not part of the ABI */
} cow_timeout_kind_t;

/** A wall-clock time: seconds and nanoseconds since the Unix epoch (1970-01-01T00:00:00Z),
 *  the shape of google.protobuf.Timestamp (containerd's `exited_at`). */
typedef struct cow_timestamp {
  int64_t sec;  /**< seconds since the epoch, UTC */
  int32_t nsec; /**< 0..999999999 */
} cow_timestamp_t;

/** Which standard stream. */
typedef enum cow_stdio { COW_STDIN = 0, COW_STDOUT = 1, COW_STDERR = 2 } cow_stdio_t;

COW_END_DECLS

#endif /* COW_COMMON_H */

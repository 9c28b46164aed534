/** @file cow/version.h
 * @brief Version numbers. The same major version means a compatible consumer ABI.
 */
#ifndef COW_VERSION_H
#define COW_VERSION_H

#include "common.h"

/** The major version of these headers. */
#define COW_VERSION_MAJOR 0
/** The minor version of these headers. */
#define COW_VERSION_MINOR 1
/** The patch version of these headers. */
#define COW_VERSION_PATCH 0
/** The version of these headers as one number, 0xMMmmpp; compare with cow_version(). */
#define COW_VERSION_HEX ((COW_VERSION_MAJOR << 16) | (COW_VERSION_MINOR << 8) | (COW_VERSION_PATCH))

COW_BEGIN_DECLS

/** The version of the library actually linked, as COW_VERSION_HEX.
 *  Thread: any.
 *  @return The version as COW_VERSION_HEX encodes it. */
COW_EXTERN unsigned int cow_version(void);

/** The version as "MAJOR.MINOR.PATCH". Ownership: static storage. Thread: any.
 *  @return "MAJOR.MINOR.PATCH" (static storage). */
COW_EXTERN const char *cow_version_string(void);

/** Features of cow_version_info_t.features: what this build of the library contains. */
#define COW_FEATURE_GUEST          0x01u /**< the guest connection (<cow/guest.h>) */
#define COW_FEATURE_HCS            0x02u /**< the HCS v1 and v2 backends (<cow/hcs.h>) */
#define COW_FEATURE_HCS_EMULATOR   0x04u /**< the embedded Linux emulator of the HCS DLLs */
#define COW_FEATURE_UNIX_TRANSPORT 0x08u /**< cow_guest_transport_unix() can listen */
#define COW_FEATURE_VSOCK          0x10u /**< cow_guest_transport_vsock() can listen (Linux) */
#define COW_FEATURE_HVSOCK         0x20u /**< cow_guest_transport_hvsock() can listen (Windows) */

/** The cow_version_info_t layout this header describes. */
#define COW_VERSION_INFO_AGE 1

/** What the linked library is and contains (in the spirit of curl_version_info()). Fields
 *  are only ever appended; `age` says which exist: a field documented "age N" is there
 *  when `age` >= N. */
typedef struct cow_version_info_s {
  unsigned int age;            /**< COW_VERSION_INFO_AGE of the library (1) */
  unsigned int version_num;    /**< as cow_version() */
  const char *version;         /**< as cow_version_string() */
  unsigned int features;       /**< COW_FEATURE_* bits built in */
  const char *libuv_version;   /**< the libuv linked at run time (uv_version_string()) */
  const char *jansson_version; /**< the jansson libcow was compiled against */
  unsigned int soversion;      /**< the N of the SONAME libcow.so.N */
} cow_version_info_t;

/** What this build of the library contains: a backend that was turned off at build time
 *  (<cow/config.h> says the same at compile time) has its feature bit clear. A feature
 *  bit says the code is there, not that the machine can use it: cow_hcs_available() asks
 *  whether the HCS DLL can be loaded. Ownership: static storage, never freed.
 *  Thread: any.
 *  @return The report (static storage, never NULL). */
COW_EXTERN const cow_version_info_t *cow_version_info(void);

COW_END_DECLS

#endif /* COW_VERSION_H */

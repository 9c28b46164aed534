/* libcow: version numbers. The same major version means a compatible consumer ABI. */
#ifndef COW_VERSION_H
#define COW_VERSION_H

#include "common.h"

#define COW_VERSION_MAJOR 0
#define COW_VERSION_MINOR 1
#define COW_VERSION_PATCH 0
#define COW_VERSION_HEX   ((COW_VERSION_MAJOR << 16) | (COW_VERSION_MINOR << 8) | (COW_VERSION_PATCH))

COW_BEGIN_DECLS

/** The version of the library actually linked, as COW_VERSION_HEX.
 *  Thread: any. */
COW_EXTERN unsigned int cow_version(void);

/** The version as "MAJOR.MINOR.PATCH". Ownership: static storage. Thread: any. */
COW_EXTERN const char *cow_version_string(void);

COW_END_DECLS

#endif /* COW_VERSION_H */

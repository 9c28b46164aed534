/* libcow: the allocator hook for the library's own allocations. */
#ifndef COW_ALLOC_H
#define COW_ALLOC_H

#include "common.h"

COW_BEGIN_DECLS

typedef void *(*cow_malloc_func)(size_t size);
typedef void *(*cow_realloc_func)(void *ptr, size_t size);
typedef void *(*cow_calloc_func)(size_t count, size_t size);
typedef void (*cow_free_func)(void *ptr);

/** Replace the allocator used for libcow's own allocations (handles, operations, error
 *  strings, buffers). libuv's and jansson's global allocators are never touched.
 *  A NULL function returns COW_EINVAL. When an allocation fails, the call that needed it
 *  returns COW_ENOMEM (or its callback receives it); nothing aborts.
 *  Thread: call before any other libcow function and while no libcow object exists. */
COW_EXTERN int cow_replace_allocator(cow_malloc_func malloc_func, cow_realloc_func realloc_func,
                                     cow_calloc_func calloc_func, cow_free_func free_func);

COW_END_DECLS

#endif /* COW_ALLOC_H */

/** @file cow/alloc.h
 * @brief The allocator hook for the library's own allocations, and cow_free(), the one
 *
 * function that releases memory the library hands to the caller.
 */
#ifndef COW_ALLOC_H
#define COW_ALLOC_H

#include "common.h"

COW_BEGIN_DECLS

/** A replacement for malloc(): `size` bytes, or NULL. Called from any libcow thread. */
typedef void *(*cow_malloc_func)(size_t size);
/** A replacement for realloc(). Called from any libcow thread. */
typedef void *(*cow_realloc_func)(void *ptr, size_t size);
/** A replacement for calloc(). Called from any libcow thread. */
typedef void *(*cow_calloc_func)(size_t count, size_t size);
/** A replacement for free(); it receives only what the other three returned, never NULL. */
typedef void (*cow_free_func)(void *ptr);

/** Replace the allocator used for libcow's own allocations (handles, operations, error
 *  strings, buffers). libuv's and jansson's global allocators are never touched.
 *  A NULL function returns COW_EINVAL. When an allocation fails, the call that needed it
 *  returns COW_ENOMEM (or its callback receives it); nothing aborts.
 *  Thread: call before any other libcow function and while no libcow object exists.
 *  @param malloc_func Replaces malloc().
 *  @param realloc_func Replaces realloc().
 *  @param calloc_func Replaces calloc().
 *  @param free_func Replaces free(); it must accept what the three others returned.
 *  @return 0 on success, or a negative COW_E* code. */
COW_EXTERN int cow_replace_allocator(cow_malloc_func malloc_func, cow_realloc_func realloc_func,
                                     cow_calloc_func calloc_func, cow_free_func free_func);

/** Release memory that libcow handed to the caller: the documents of the builders
 *  (cow_signal_options_json(), cow_hcs_*_json()) and the strings the blocking API returns
 *  (cow_blocking_container_properties()). It goes back to the allocator that was in force
 *  when the library allocated it (see cow_replace_allocator()). NULL is allowed.
 *  Handles are never released with it: they have their close functions.
 *  Thread: any.
 *  @param ptr Memory the library handed out, or NULL. */
COW_EXTERN void cow_free(void *ptr);

COW_END_DECLS

#endif /* COW_ALLOC_H */

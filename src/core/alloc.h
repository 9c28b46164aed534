/* Internal: the library's allocator (cow_replace_allocator). Every allocation libcow makes
 * for itself goes through these; libuv's and jansson's allocators are left alone. */
#ifndef COW_CORE_ALLOC_H
#define COW_CORE_ALLOC_H

#include <stddef.h>

void *cow__malloc(size_t size);
void *cow__calloc(size_t count, size_t size);
void *cow__realloc(void *ptr, size_t size);
void cow__free(void *ptr);
/* NULL in, NULL out; NULL also on allocation failure. */
char *cow__strdup(const char *s);
char *cow__strndup(const char *s, size_t n);

#endif

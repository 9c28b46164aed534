/* The allocator hook. The functions are read without a lock: cow_replace_allocator() is
 * documented as "before anything else", the same contract as uv_replace_allocator(). */
#include "core/alloc.h"

#include <stdlib.h>
#include <string.h>

#include "cow/alloc.h"
#include "cow/error.h"

static struct {
  cow_malloc_func malloc_fn;
  cow_realloc_func realloc_fn;
  cow_calloc_func calloc_fn;
  cow_free_func free_fn;
} allocator = {malloc, realloc, calloc, free};

int cow_replace_allocator(cow_malloc_func malloc_func, cow_realloc_func realloc_func,
                          cow_calloc_func calloc_func, cow_free_func free_func)
{
  if (malloc_func == NULL || realloc_func == NULL || calloc_func == NULL || free_func == NULL)
    return COW_EINVAL;
  allocator.malloc_fn = malloc_func;
  allocator.realloc_fn = realloc_func;
  allocator.calloc_fn = calloc_func;
  allocator.free_fn = free_func;
  return 0;
}

void *cow__malloc(size_t size)
{
  return allocator.malloc_fn(size ? size : 1);
}

void *cow__calloc(size_t count, size_t size)
{
  if (count == 0 || size == 0)
    count = size = 1;
  return allocator.calloc_fn(count, size);
}

void *cow__realloc(void *ptr, size_t size)
{
  return allocator.realloc_fn(ptr, size ? size : 1);
}

void cow__free(void *ptr)
{
  if (ptr != NULL)
    allocator.free_fn(ptr);
}

void cow_free(void *ptr)
{
  cow__free(ptr);
}

char *cow__strndup(const char *s, size_t n)
{
  if (s == NULL)
    return NULL;
  size_t len = strnlen(s, n);
  char *copy = cow__malloc(len + 1);
  if (copy == NULL)
    return NULL;
  memcpy(copy, s, len);
  copy[len] = '\0';
  return copy;
}

char *cow__strdup(const char *s)
{
  return s == NULL ? NULL : cow__strndup(s, strlen(s));
}

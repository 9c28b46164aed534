/* Failing allocators for libcow and jansson (alloc-fail.h). */
#include "support/alloc-fail.h"

#include <stdlib.h>

#include <jansson.h>

#include "cow/alloc.h"

static long allocs, fail_at; /* fail allocation number fail_at (1-based); 0: none */

static void *failing_malloc(size_t n)
{
  return fail_at != 0 && ++allocs == fail_at ? NULL : malloc(n);
}

static void *failing_realloc(void *p, size_t n)
{
  return fail_at != 0 && ++allocs == fail_at ? NULL : realloc(p, n);
}

static void *failing_calloc(size_t c, size_t n)
{
  return fail_at != 0 && ++allocs == fail_at ? NULL : calloc(c, n);
}

void af_install(void)
{
  json_set_alloc_funcs(failing_malloc, free);
  cow_replace_allocator(failing_malloc, failing_realloc, failing_calloc, free);
}

void af_arm(long n)
{
  allocs = 0;
  fail_at = n;
}

int af_disarm(void)
{
  int reached = fail_at != 0 && allocs >= fail_at;
  fail_at = 0;
  return reached;
}

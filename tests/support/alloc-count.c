/* The counting allocators (see alloc-count.h). */
#include "support/alloc-count.h"

#include <stdatomic.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cow/alloc.h"

/* The header keeps the size for free and realloc; max_align_t keeps the block aligned. */
typedef union {
  size_t size;
  max_align_t align;
} header_t;

/* Counters per thread, so that counting costs no locked instruction: a thread updates its
 * own with plain (relaxed) loads and stores and readers add all of them up. A block freed
 * on another thread than the one that allocated it is subtracted there; the sums hold.
 * Threads beyond the pool share one slot updated with atomic read-modify-writes. */
struct slot {
  atomic_long allocs, live, bytes;
};
#define POOL 128
static struct slot pool[POOL + 1][AC__MAX]; /* [POOL]: the shared overflow slot */
static atomic_int pool_used;
static _Thread_local struct slot (*mine)[AC__MAX];

static void add(atomic_long *c, long v, int shared)
{
  if (shared)
    atomic_fetch_add_explicit(c, v, memory_order_relaxed);
  else
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + v,
                          memory_order_relaxed);
}

static void count(enum ac_source s, long allocs, long live, long bytes)
{
  if (mine == NULL) {
    int i = atomic_fetch_add(&pool_used, 1);
    mine = &pool[i < POOL ? i : POOL];
  }
  int shared = mine == &pool[POOL];
  struct slot *c = &(*mine)[s];
  if (allocs)
    add(&c->allocs, allocs, shared);
  if (live)
    add(&c->live, live, shared);
  add(&c->bytes, bytes, shared);
}

static void *count_alloc(enum ac_source s, void *old, size_t n, int zero)
{
  header_t *h = old ? (header_t *)old - 1 : NULL;
  size_t before = h ? h->size : 0;
  header_t *p = zero ? calloc(1, sizeof *p + n) : realloc(h, sizeof *p + n);
  if (p == NULL)
    return NULL;
  p->size = n;
  count(s, old == NULL, old == NULL, (long)n - (long)before);
  return p + 1;
}

static void count_free(enum ac_source s, void *ptr)
{
  if (ptr == NULL)
    return;
  header_t *h = (header_t *)ptr - 1;
  count(s, 0, -1, -(long)h->size);
  free(h);
}

static void *cow_malloc_c(size_t n)
{
  return count_alloc(AC_COW, NULL, n, 0);
}
static void *cow_calloc_c(size_t a, size_t b)
{
  if (b != 0 && a > (size_t)-1 / 2 / b)
    return NULL;
  return count_alloc(AC_COW, NULL, a * b, 1);
}
static void *cow_realloc_c(void *p, size_t n)
{
  return count_alloc(AC_COW, p, n, 0);
}
static void cow_free_c(void *p)
{
  count_free(AC_COW, p);
}
static void *json_malloc_c(size_t n)
{
  return count_alloc(AC_JANSSON, NULL, n, 0);
}
static void json_free_c(void *p)
{
  count_free(AC_JANSSON, p);
}

void ac_install(void)
{
  cow_replace_allocator(cow_malloc_c, cow_realloc_c, cow_calloc_c, cow_free_c);
  json_set_alloc_funcs(json_malloc_c, json_free_c);
}

struct ac_counts ac_get(enum ac_source s)
{
  struct ac_counts c = {0, 0, 0};
  int n = atomic_load(&pool_used);
  for (int i = 0; i <= POOL; i++) {
    if (i >= n && i < POOL)
      continue;
    c.allocs += atomic_load_explicit(&pool[i][s].allocs, memory_order_relaxed);
    c.live += atomic_load_explicit(&pool[i][s].live, memory_order_relaxed);
    c.bytes += atomic_load_explicit(&pool[i][s].bytes, memory_order_relaxed);
  }
  return c;
}

struct ac_counts ac_total(void)
{
  struct ac_counts a = ac_get(AC_COW), b = ac_get(AC_JANSSON);
  struct ac_counts t = {a.allocs + b.allocs, a.live + b.live, a.bytes + b.bytes};
  return t;
}

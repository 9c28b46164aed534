/* Test and benchmark support: count what the library allocates, in number and bytes.
 *
 * ac_install() replaces both allocators libcow's allocations go through: the library's own
 * (cow_replace_allocator) and jansson's (json_set_alloc_funcs), each with a counting one
 * over malloc that keeps a size header, so frees are counted in bytes too. libuv allocates
 * nothing per operation on the paths measured and is left alone. Call it before anything
 * else, as both hooks require. Thread-safe, and cheap enough to leave on while a benchmark
 * times: each thread counts in counters of its own, without locked instructions. */
#ifndef COW_TESTS_SUPPORT_ALLOC_COUNT_H
#define COW_TESTS_SUPPORT_ALLOC_COUNT_H

enum ac_source { AC_COW, AC_JANSSON, AC__MAX };

struct ac_counts {
  long allocs; /* successful malloc/calloc/realloc-of-NULL calls */
  long live;   /* blocks not freed yet */
  long bytes;  /* bytes in those blocks */
};

void ac_install(void);
struct ac_counts ac_get(enum ac_source s);
/* Both sources added up. */
struct ac_counts ac_total(void);

#endif

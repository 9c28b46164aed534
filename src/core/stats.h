/* Internal: the typed results of cow_container_process_list() and cow_container_statistics()
 * as single blocks of memory, so that one cow_free() releases each (the blocking API hands
 * them to its caller), and their copies. */
#ifndef COW_CORE_STATS_H
#define COW_CORE_STATS_H

#include <jansson.h>

#include "cow/container.h"

/* A list holding copies of `count` entries of `items` and of their strings, in one block
 * (cow__free). NULL: no memory. */
cow_process_list_t *cow__process_list_new(const cow_process_info_t *items, size_t count);
/* A copy of `stats` (cow__free). NULL: no memory. */
cow_statistics_t *cow__statistics_dup(const cow_statistics_t *stats);

/* The member `key` of `obj` as an unsigned 64-bit count: 1 and `*out` set when it is a
 * non-negative integer, 0 and `*out` = 0 when it is absent or null (protobuf's JSON leaves
 * zeros out), -1 when it is anything else. `obj` may be NULL (absent). */
int cow__json_u64(const json_t *obj, const char *key, uint64_t *out);
/* An RFC 3339 time ("2026-12-02T05:35:43Z", fractions of a second and a numeric offset
 * allowed, as Go and .NET write them) as seconds and nanoseconds since the epoch, UTC:
 * 0, or -1 when `text` is not one. */
int cow__rfc3339_parse(const char *text, cow_timestamp_t *out);

#endif

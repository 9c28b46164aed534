/* Internal: JSON text for the library's own use. jansson's allocator belongs to the
 * application (json_set_alloc_funcs), so text the library keeps or hands out never comes
 * from json_dumps(): it is written with json_dumpb() into memory of the library's allocator
 * (cow__malloc), freed with cow__free / cow_free. */
#ifndef COW_CORE_JSON_H
#define COW_CORE_JSON_H

#include <stddef.h>

#include <jansson.h>

/* `j` serialised with jansson's `flags` (JSON_COMPACT, JSON_ENCODE_ANY...), NUL-terminated,
 * from cow__malloc; NULL on failure (no memory, or nothing jansson can encode). */
char *cow__json_text(const json_t *j, size_t flags);

#endif

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

/* 1 when a json_loads()/json_loadb() that returned NULL with `e` failed for want of memory,
 * not because of the text: jansson says so, or (an allocation before parsing began) left
 * the error empty. */
int cow__json_load_oom(const json_error_t *e);

/* Length of the UTF-8 sequence at `s` (1..4, at most `left` bytes), or 0 when it is not
 * UTF-8 that JSON text can carry: what jansson refuses (overlong forms, UTF-16 surrogates,
 * code points beyond U+10FFFF). */
size_t cow__json_utf8_len(const unsigned char *s, size_t left);

/* 1 when the NUL-terminated `s` is such UTF-8 throughout (json_string() would take it). */
int cow__json_utf8_valid(const char *s);

#endif

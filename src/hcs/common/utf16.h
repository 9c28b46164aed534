/* Internal: strict UTF-8 <-> UTF-16 conversion for the HCS APIs (PCWSTR = UTF-16, surrogate
 * pairs included, docs/hcs-api.md §1 item 1). Invalid input (overlong or truncated UTF-8, encoded
 * surrogates, unpaired UTF-16 surrogates, code points above U+10FFFF) is COW_EINVAL, never
 * replaced silently: a document that does not round-trip must not reach HCS.
 * Thread: any. Results are allocated with cow__malloc and released with cow__free. */
#ifndef COW_HCS_COMMON_UTF16_H
#define COW_HCS_COMMON_UTF16_H

#include <stddef.h>
#include <stdint.h>

/* Number of code units before the terminating 0 (like wcslen for 16-bit units). */
size_t cow__utf16_len(const uint16_t *s);

/* Convert `len` bytes of UTF-8 (embedded NUL is rejected) into a new NUL-terminated UTF-16
 * string. On success returns 0, *out owns the result and *out_len (may be NULL) is its
 * length in code units. Errors: COW_EINVAL, COW_ENOMEM (then *out is NULL). */
int cow__utf16_from_utf8n(const char *s, size_t len, uint16_t **out, size_t *out_len);
/* Same for a NUL-terminated UTF-8 string. */
int cow__utf16_from_utf8(const char *s, uint16_t **out);

/* Convert `len` UTF-16 code units (embedded NUL is rejected) into a new NUL-terminated UTF-8
 * string; *out_len (may be NULL) receives its length in bytes. Errors as above. */
int cow__utf8_from_utf16n(const uint16_t *s, size_t len, char **out, size_t *out_len);
/* Same for a NUL-terminated UTF-16 string. */
int cow__utf8_from_utf16(const uint16_t *s, char **out);

#endif

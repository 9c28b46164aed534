/* Strict UTF-8 <-> UTF-16 conversion (see utf16.h). Two passes: validate and count, then
 * convert, so the allocation is exact and nothing is written on invalid input. */
#include "hcs/common/utf16.h"

#include "core/alloc.h"
#include "cow/error.h"

size_t cow__utf16_len(const uint16_t *s)
{
  size_t n = 0;
  if (s == NULL)
    return 0;
  while (s[n] != 0)
    n++;
  return n;
}

/* Decode one code point at s[*i] (i < len). Returns the code point, or -1 when invalid. */
static int32_t utf8_decode(const unsigned char *s, size_t len, size_t *i)
{
  unsigned char c = s[*i];
  uint32_t cp;
  size_t need;
  uint32_t min;
  if (c < 0x80) {
    (*i)++;
    return c == 0 ? -1 : (int32_t)c; /* embedded NUL cannot cross a PCWSTR */
  }
  if ((c & 0xE0) == 0xC0) {
    cp = c & 0x1F, need = 1, min = 0x80;
  } else if ((c & 0xF0) == 0xE0) {
    cp = c & 0x0F, need = 2, min = 0x800;
  } else if ((c & 0xF8) == 0xF0) {
    cp = c & 0x07, need = 3, min = 0x10000;
  } else {
    return -1; /* continuation byte or 0xF8..0xFF as a lead byte */
  }
  if (len - *i <= need)
    return -1; /* truncated sequence */
  for (size_t k = 1; k <= need; k++) {
    unsigned char cc = s[*i + k];
    if ((cc & 0xC0) != 0x80)
      return -1;
    cp = (cp << 6) | (cc & 0x3F);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
    return -1; /* overlong, out of range, or an encoded surrogate */
  *i += need + 1;
  return (int32_t)cp;
}

int cow__utf16_from_utf8n(const char *s, size_t len, uint16_t **out, size_t *out_len)
{
  const unsigned char *u = (const unsigned char *)s;
  size_t units = 0, i = 0;
  if (out == NULL)
    return COW_EINVAL;
  *out = NULL;
  if (s == NULL && len != 0)
    return COW_EINVAL;
  while (i < len) {
    int32_t cp = utf8_decode(u, len, &i);
    if (cp < 0)
      return COW_EINVAL;
    units += cp >= 0x10000 ? 2 : 1;
  }
  uint16_t *w = cow__malloc((units + 1) * sizeof(uint16_t));
  if (w == NULL)
    return COW_ENOMEM;
  size_t o = 0;
  i = 0;
  while (i < len) {
    uint32_t cp = (uint32_t)utf8_decode(u, len, &i);
    if (cp >= 0x10000) {
      cp -= 0x10000;
      w[o++] = (uint16_t)(0xD800 | (cp >> 10));
      w[o++] = (uint16_t)(0xDC00 | (cp & 0x3FF));
    } else {
      w[o++] = (uint16_t)cp;
    }
  }
  w[o] = 0;
  *out = w;
  if (out_len != NULL)
    *out_len = units;
  return 0;
}

int cow__utf16_from_utf8(const char *s, uint16_t **out)
{
  if (s == NULL) {
    if (out != NULL)
      *out = NULL;
    return COW_EINVAL;
  }
  size_t n = 0;
  while (s[n] != '\0')
    n++;
  return cow__utf16_from_utf8n(s, n, out, NULL);
}

/* Decode one code point from UTF-16 at s[*i] (i < len); -1 when invalid. */
static int32_t utf16_decode(const uint16_t *s, size_t len, size_t *i)
{
  uint32_t c = s[*i];
  if (c == 0)
    return -1;
  if (c >= 0xDC00 && c <= 0xDFFF)
    return -1; /* lone low surrogate */
  if (c >= 0xD800 && c <= 0xDBFF) {
    if (*i + 1 >= len)
      return -1;
    uint32_t d = s[*i + 1];
    if (d < 0xDC00 || d > 0xDFFF)
      return -1; /* high surrogate not followed by a low one */
    *i += 2;
    return (int32_t)(0x10000 + ((c - 0xD800) << 10) + (d - 0xDC00));
  }
  (*i)++;
  return (int32_t)c;
}

int cow__utf8_from_utf16n(const uint16_t *s, size_t len, char **out, size_t *out_len)
{
  size_t bytes = 0, i = 0;
  if (out == NULL)
    return COW_EINVAL;
  *out = NULL;
  if (s == NULL && len != 0)
    return COW_EINVAL;
  while (i < len) {
    int32_t cp = utf16_decode(s, len, &i);
    if (cp < 0)
      return COW_EINVAL;
    bytes += cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
  }
  char *r = cow__malloc(bytes + 1);
  if (r == NULL)
    return COW_ENOMEM;
  unsigned char *o = (unsigned char *)r;
  i = 0;
  while (i < len) {
    uint32_t cp = (uint32_t)utf16_decode(s, len, &i);
    if (cp < 0x80) {
      *o++ = (unsigned char)cp;
    } else if (cp < 0x800) {
      *o++ = (unsigned char)(0xC0 | (cp >> 6));
      *o++ = (unsigned char)(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      *o++ = (unsigned char)(0xE0 | (cp >> 12));
      *o++ = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
      *o++ = (unsigned char)(0x80 | (cp & 0x3F));
    } else {
      *o++ = (unsigned char)(0xF0 | (cp >> 18));
      *o++ = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
      *o++ = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
      *o++ = (unsigned char)(0x80 | (cp & 0x3F));
    }
  }
  *o = '\0';
  *out = r;
  if (out_len != NULL)
    *out_len = bytes;
  return 0;
}

int cow__utf8_from_utf16(const uint16_t *s, char **out)
{
  if (s == NULL) {
    if (out != NULL)
      *out = NULL;
    return COW_EINVAL;
  }
  return cow__utf8_from_utf16n(s, cow__utf16_len(s), out, NULL);
}

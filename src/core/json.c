/* JSON text in the library's memory (see json.h). */
#include "core/json.h"

#include <stdint.h>
#include <string.h>

#include "core/alloc.h"

char *cow__json_text(const json_t *j, size_t flags)
{
  /* Most documents fit the stack buffer and are encoded once; a larger one is encoded
   * again into memory of the size the first pass reported. */
  char small[1024];
  size_t n = j ? json_dumpb(j, small, sizeof small, flags) : 0;
  if (n == 0)
    return NULL;
  char *text = cow__malloc(n + 1);
  if (text == NULL)
    return NULL;
  if (n <= sizeof small)
    memcpy(text, small, n);
  else if (json_dumpb(j, text, n, flags) != n) {
    cow__free(text);
    return NULL;
  }
  text[n] = '\0';
  return text;
}

int cow__json_load_oom(const json_error_t *e)
{
  /* jansson initialises `e` (empty text) before it parses and sets text and code together
   * only when it reports an error; an allocation that fails inside the lexer returns NULL
   * with nothing set. The code byte is then uninitialised: read it only after the text. */
  return e->text[0] == '\0' || json_error_code(e) == json_error_out_of_memory;
}

size_t cow__json_utf8_len(const unsigned char *s, size_t left)
{
  unsigned c = s[0];
  size_t n;
  uint32_t cp;
  if (c < 0x80)
    return 1;
  if (c < 0xC2) /* a continuation byte, or an overlong two-byte form */
    return 0;
  if (c < 0xE0) {
    n = 2;
    cp = c & 0x1F;
  } else if (c < 0xF0) {
    n = 3;
    cp = c & 0x0F;
  } else if (c < 0xF5) {
    n = 4;
    cp = c & 0x07;
  } else {
    return 0;
  }
  if (n > left)
    return 0;
  for (size_t i = 1; i < n; i++) {
    if ((s[i] & 0xC0) != 0x80)
      return 0;
    cp = cp << 6 | (s[i] & 0x3F);
  }
  if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || cp > 0x10FFFF ||
      (cp >= 0xD800 && cp <= 0xDFFF))
    return 0;
  return n;
}

int cow__json_utf8_valid(const char *s)
{
  const unsigned char *p = (const unsigned char *)s;
  size_t left = strlen(s);
  while (left > 0) {
    size_t n = cow__json_utf8_len(p, left);
    if (n == 0)
      return 0;
    p += n;
    left -= n;
  }
  return 1;
}

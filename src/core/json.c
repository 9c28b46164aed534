/* JSON text in the library's memory (see json.h). */
#include "core/json.h"

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

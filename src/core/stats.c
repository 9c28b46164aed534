/* The typed results of the process list and statistics calls: one block each. */
#include <string.h>

#include "core/alloc.h"
#include "core/stats.h"

cow_process_list_t *cow__process_list_new(const cow_process_info_t *items, size_t count)
{
  /* Layout: the list, the entries (aligned as the struct is), then the strings. */
  size_t head = sizeof(cow_process_list_t);
  size_t align = _Alignof(cow_process_info_t);
  head = (head + align - 1) / align * align;
  if (count > (SIZE_MAX - head) / sizeof(cow_process_info_t))
    return NULL;
  size_t size = head + count * sizeof(cow_process_info_t);
  for (size_t i = 0; i < count; i++) {
    size_t n = items[i].image_name != NULL ? strlen(items[i].image_name) + 1 : 0;
    if (n > SIZE_MAX - size)
      return NULL;
    size += n;
  }
  char *block = cow__malloc(size);
  if (block == NULL)
    return NULL;
  cow_process_list_t *list = (cow_process_list_t *)(void *)block;
  list->count = count;
  list->items = count ? (cow_process_info_t *)(void *)(block + head) : NULL;
  char *strings = block + head + count * sizeof(cow_process_info_t);
  for (size_t i = 0; i < count; i++) {
    list->items[i] = items[i];
    if (items[i].image_name != NULL) {
      size_t n = strlen(items[i].image_name) + 1;
      memcpy(strings, items[i].image_name, n);
      list->items[i].image_name = strings;
      strings += n;
    }
  }
  return list;
}

cow_statistics_t *cow__statistics_dup(const cow_statistics_t *stats)
{
  cow_statistics_t *copy = cow__malloc(sizeof *copy);
  if (copy != NULL)
    *copy = *stats;
  return copy;
}

int cow__json_u64(const json_t *obj, const char *key, uint64_t *out)
{
  *out = 0;
  json_t *v = obj != NULL ? json_object_get(obj, key) : NULL;
  if (v == NULL || json_is_null(v))
    return 0;
  if (!json_is_integer(v) || json_integer_value(v) < 0)
    return -1;
  *out = (uint64_t)json_integer_value(v);
  return 1;
}

/* `n` decimal digits at `*p` (advanced) as a number; -1 when they are not all digits. */
static int digits(const char **p, int n)
{
  int v = 0;
  for (int i = 0; i < n; i++) {
    char c = (*p)[i];
    if (c < '0' || c > '9')
      return -1;
    v = v * 10 + (c - '0');
  }
  *p += n;
  return v;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
  y -= m <= 2;
  int64_t era = (y >= 0 ? y : y - 399) / 400;
  int64_t yoe = y - era * 400;
  int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

int cow__rfc3339_parse(const char *text, cow_timestamp_t *out)
{
  if (text == NULL)
    return -1;
  const char *p = text;
  int y = digits(&p, 4);
  if (y < 0 || *p++ != '-')
    return -1;
  int mo = digits(&p, 2);
  if (mo < 1 || mo > 12 || *p++ != '-')
    return -1;
  int d = digits(&p, 2);
  if (d < 1 || d > 31 || (*p != 'T' && *p != 't' && *p != ' '))
    return -1;
  p++;
  int h = digits(&p, 2);
  if (h < 0 || h > 23 || *p++ != ':')
    return -1;
  int mi = digits(&p, 2);
  if (mi < 0 || mi > 59 || *p++ != ':')
    return -1;
  int s = digits(&p, 2);
  if (s < 0 || s > 60)
    return -1;
  int32_t nsec = 0;
  if (*p == '.') {
    p++;
    int n = 0;
    for (; *p >= '0' && *p <= '9'; p++, n++)
      if (n < 9)
        nsec = nsec * 10 + (*p - '0');
    if (n == 0)
      return -1;
    for (; n < 9; n++)
      nsec *= 10;
  }
  int offset = 0;
  if (*p == 'Z' || *p == 'z') {
    p++;
  } else if (*p == '+' || *p == '-') {
    int sign = *p++ == '-' ? -1 : 1;
    int oh = digits(&p, 2);
    if (oh < 0 || oh > 23 || *p++ != ':')
      return -1;
    int om = digits(&p, 2);
    if (om < 0 || om > 59)
      return -1;
    offset = sign * (oh * 3600 + om * 60);
  } else {
    return -1;
  }
  if (*p != '\0')
    return -1;
  out->sec = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + s - offset;
  out->nsec = nsec;
  return 0;
}

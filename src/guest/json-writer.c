/* JSON text straight into a payload (see json-writer.h). */
#include "guest/json-writer.h"

#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/json.h"
#include "core/log.h"
#include "cow/error.h"
#include "guest/frame.h"

/* Past this a request cannot be sent (R3): stop growing, report COW_EMSG_TOO_LARGE. */
#define MAX_PAYLOAD (COW__FRAME_MAX_SIZE - COW__FRAME_HEADER_SIZE)

void cow__jw_init(cow__jw_t *w, struct cow__payload *p)
{
  p->heap = NULL;
  p->data = p->small;
  p->len = 0;
  w->p = p;
  w->buf = p->small;
  w->cap = sizeof p->small;
  w->err = 0;
  w->last_raw = NULL;
  w->bad_key = NULL;
}

/* Room for `n` more bytes, or NULL (w->err set). */
static char *room(cow__jw_t *w, size_t n)
{
  if (w->err)
    return NULL;
  size_t need = w->p->len + n;
  if (need <= w->cap)
    return w->buf + w->p->len;
  if (need > MAX_PAYLOAD) {
    w->err = COW_EMSG_TOO_LARGE;
    return NULL;
  }
  size_t cap = w->cap * 2 > need ? w->cap * 2 : need;
  if (cap > MAX_PAYLOAD)
    cap = MAX_PAYLOAD;
  char *grown = cow__realloc(w->p->heap, cap);
  if (grown == NULL) {
    w->err = COW_ENOMEM;
    return NULL;
  }
  if (w->p->heap == NULL)
    memcpy(grown, w->p->small, w->p->len);
  w->p->heap = w->buf = grown;
  w->p->data = grown;
  w->cap = cap;
  return w->buf + w->p->len;
}

static void put(cow__jw_t *w, const char *s, size_t n)
{
  char *d = room(w, n);
  if (d == NULL)
    return;
  memcpy(d, s, n);
  w->p->len += n;
}

void cow__jw_raw(cow__jw_t *w, const char *text)
{
  w->last_raw = text;
  put(w, text, strlen(text));
}

void cow__jw_uint(cow__jw_t *w, uint64_t v)
{
  char digits[24];
  int n = snprintf(digits, sizeof digits, "%llu", (unsigned long long)v);
  put(w, digits, (size_t)n);
}

static void put_string(cow__jw_t *w, const char *s, size_t len)
{
  put(w, "\"", 1);
  const unsigned char *p = (const unsigned char *)s, *end = p + len;
  while (p < end && !w->err) {
    /* The longest run that needs no escape goes in one copy. */
    const unsigned char *run = p;
    while (p < end && *p >= 0x20 && *p < 0x80 && *p != '"' && *p != '\\')
      p++;
    put(w, (const char *)run, (size_t)(p - run));
    if (p == end)
      break;
    unsigned c = *p;
    if (c >= 0x80) {
      size_t n = cow__json_utf8_len(p, (size_t)(end - p));
      if (n == 0) {
        w->err = COW_EINVAL;
        w->bad_key = w->last_raw;
        return;
      }
      put(w, (const char *)p, n);
      p += n;
      continue;
    }
    char esc[8];
    switch (c) {
    case '"':
      put(w, "\\\"", 2);
      break;
    case '\\':
      put(w, "\\\\", 2);
      break;
    case '\b':
      put(w, "\\b", 2);
      break;
    case '\f':
      put(w, "\\f", 2);
      break;
    case '\n':
      put(w, "\\n", 2);
      break;
    case '\r':
      put(w, "\\r", 2);
      break;
    case '\t':
      put(w, "\\t", 2);
      break;
    default: /* the other control characters, as jansson writes them */
      snprintf(esc, sizeof esc, "\\u%04X", c);
      put(w, esc, 6);
      break;
    }
    p++;
  }
  put(w, "\"", 1);
}

void cow__jw_string(cow__jw_t *w, const char *s)
{
  put_string(w, s, strlen(s));
}

void cow__jw_json(cow__jw_t *w, const json_t *v)
{
  if (w->err)
    return;
  size_t avail = w->cap - w->p->len;
  size_t n = json_dumpb(v, w->buf + w->p->len, avail, JSON_COMPACT);
  if (n == 0) {
    w->err = COW_ENOMEM;
    return;
  }
  if (n > avail) { /* did not fit: grow, then dump again */
    char *d = room(w, n);
    if (d == NULL)
      return;
    if (json_dumpb(v, d, n, JSON_COMPACT) != n) {
      w->err = COW_ENOMEM;
      return;
    }
  }
  w->p->len += n;
}

void cow__jw_json_string(cow__jw_t *w, const json_t *v)
{
  if (w->err)
    return;
  char small[1024];
  char *text = small;
  size_t n = json_dumpb(v, small, sizeof small, JSON_COMPACT | JSON_ENCODE_ANY);
  if (n == 0) {
    w->err = COW_ENOMEM;
    return;
  }
  if (n > sizeof small) {
    if (n > MAX_PAYLOAD) {
      w->err = COW_EMSG_TOO_LARGE;
      return;
    }
    text = cow__malloc(n);
    if (text == NULL || json_dumpb(v, text, n, JSON_COMPACT | JSON_ENCODE_ANY) != n) {
      cow__free(text);
      w->err = COW_ENOMEM;
      return;
    }
  }
  put_string(w, text, n);
  if (text != small)
    cow__free(text);
}

/* The last key in `raw` (`,"otsc":{"traceparent":` gives traceparent): its length, *at. */
static int last_key(const char *raw, const char **at)
{
  size_t n = raw != NULL ? strlen(raw) : 0;
  if (n < 3 || raw[n - 1] != ':' || raw[n - 2] != '"')
    return 0;
  size_t end = n - 2, start = end;
  while (start > 0 && raw[start - 1] != '"')
    start--;
  *at = raw + start;
  return start > 0 ? (int)(end - start) : 0;
}

int cow__jw_finish(cow__jw_t *w)
{
  if (w->err == COW_EINVAL) {
    const char *key = NULL;
    int len = last_key(w->bad_key, &key);
    cow__log(COW_LOG_ERROR, "guest", "request refused (COW_EINVAL): %s%.*s%s is not valid UTF-8",
             len > 0 ? "the value of \"" : "a string", len, len > 0 ? key : "",
             len > 0 ? "\"" : "");
  }
  if (w->err) {
    cow__free(w->p->heap);
    w->p->heap = NULL;
    w->p->data = w->p->small;
    w->p->len = 0;
  }
  return w->err;
}

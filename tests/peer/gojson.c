/* Go encoding/json semantics over jansson, as far as the peer needs them
 * (docs/gcs-bridge-protocol.md §1.7): null body is a zero struct, keys match case-insensitively,
 * null fields keep their zero value, integers must be integers in range. Error texts imitate Go's;
 * the conformance comparer only checks them up to "HRESULT 0xc037010d: ". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "peer.h"

static const char *go_kind(const json_t *v)
{
  switch (json_typeof(v)) {
  case JSON_OBJECT:
    return "object";
  case JSON_ARRAY:
    return "array";
  case JSON_STRING:
    return "string";
  case JSON_INTEGER:
  case JSON_REAL:
    return "number";
  case JSON_TRUE:
  case JSON_FALSE:
    return "bool";
  default:
    return "null";
  }
}

json_t *gj_parse_object(const uint8_t *raw, size_t len, const char *go_type, char *err,
                        size_t errlen)
{
  json_error_t jerr;
  json_t *v;
  size_t i;
  for (i = 0; i < len && (raw[i] == ' ' || raw[i] == '\t' || raw[i] == '\n' || raw[i] == '\r');)
    i++;
  if (i == len) {
    snprintf(err, errlen, "unexpected end of JSON input");
    return NULL;
  }
  v = json_loadb((const char *)raw, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
  if (!v) {
    snprintf(err, errlen, "%s", jerr.text);
    return NULL;
  }
  if (json_is_null(v)) {
    json_decref(v);
    return pj_checked(json_object(), "an empty request body");
  }
  if (!json_is_object(v)) {
    snprintf(err, errlen, "json: cannot unmarshal %s into Go value of type %s", go_kind(v),
             go_type);
    json_decref(v);
    return NULL;
  }
  return v;
}

json_t *gj_get(const json_t *obj, const char *key)
{
  const char *k;
  json_t *v, *found = NULL;
  if (!json_is_object(obj))
    return NULL;
  v = json_object_get(obj, key);
  if (!v) {
    json_object_foreach((json_t *)obj, k, v)
    {
      if (!strcasecmp(k, key))
        found = v; /* Go: the last case-insensitive match wins */
    }
    v = found;
  }
  return json_is_null(v) ? NULL : v;
}

static int type_err(const json_t *v, const char *go_field, const char *go_type, char *err,
                    size_t errlen)
{
  if (json_is_number(v)) {
    char *num = json_dumps(v, JSON_ENCODE_ANY);
    snprintf(err, errlen, "json: cannot unmarshal number %s into Go struct field %s of type %s",
             num ? num : "?", go_field, go_type);
    free(num);
  } else {
    snprintf(err, errlen, "json: cannot unmarshal %s into Go struct field %s of type %s",
             go_kind(v), go_field, go_type);
  }
  return -1;
}

int gj_string(const json_t *obj, const char *key, const char *go_field, const char **out, char *err,
              size_t errlen)
{
  json_t *v = gj_get(obj, key);
  if (!v)
    return 0;
  if (!json_is_string(v))
    return type_err(v, go_field, "string", err, errlen);
  *out = json_string_value(v);
  return 0;
}

int gj_uint(const json_t *obj, const char *key, const char *go_field, uint64_t max, uint64_t *out,
            char *err, size_t errlen)
{
  json_t *v = gj_get(obj, key);
  const char *t = max == 0xFFFFu ? "uint16" : max == 0xFFFFFFFFu ? "uint32" : "uint64";
  if (!v)
    return 0;
  if (!json_is_integer(v) || json_integer_value(v) < 0 || (uint64_t)json_integer_value(v) > max)
    return type_err(v, go_field, t, err, errlen);
  *out = (uint64_t)json_integer_value(v);
  return 0;
}

int gj_int32(const json_t *obj, const char *key, const char *go_field, int32_t *out, char *err,
             size_t errlen)
{
  json_t *v = gj_get(obj, key);
  if (!v)
    return 0;
  if (!json_is_integer(v) || json_integer_value(v) < INT32_MIN || json_integer_value(v) > INT32_MAX)
    return type_err(v, go_field, "int32", err, errlen);
  *out = (int32_t)json_integer_value(v);
  return 0;
}

int gj_bool(const json_t *obj, const char *key, const char *go_field, int *out, char *err,
            size_t errlen)
{
  json_t *v = gj_get(obj, key);
  if (!v)
    return 0;
  if (!json_is_boolean(v))
    return type_err(v, go_field, "bool", err, errlen);
  *out = json_is_true(v);
  return 0;
}

int gj_object(const json_t *obj, const char *key, const char *go_field, json_t **out, char *err,
              size_t errlen)
{
  json_t *v = gj_get(obj, key);
  *out = NULL;
  if (!v)
    return 0;
  if (!json_is_object(v))
    return type_err(v, go_field, "struct", err, errlen);
  *out = v;
  return 0;
}

char *gj_dump(const json_t *v, size_t *len)
{
  char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
  size_t n, extra = 0, i, o = 0;
  char *out;
  if (!s)
    return NULL;
  n = strlen(s);
  for (i = 0; i < n; i++)
    if (s[i] == '<' || s[i] == '>' || s[i] == '&')
      extra += 5;
  if (!extra) {
    *len = n;
    return s;
  }
  /* Go's HTML-safe escaping; these bytes only occur inside strings in dumped JSON. */
  out = malloc(n + extra + 1);
  if (!out) {
    free(s);
    return NULL;
  }
  for (i = 0; i < n; i++) {
    if (s[i] == '<' || s[i] == '>' || s[i] == '&') {
      o += (size_t)sprintf(out + o, "\\u%04x", (unsigned)(unsigned char)s[i]);
    } else {
      out[o++] = s[i];
    }
  }
  out[o] = 0;
  free(s);
  *len = o;
  return out;
}

char *gj_utf8_sanitize(const uint8_t *s, size_t len)
{
  char *out = malloc(len * 3 + 1);
  size_t i = 0, o = 0;
  if (!out)
    return NULL;
  while (i < len) {
    uint8_t c = s[i];
    size_t need = c < 0x80             ? 0
                  : (c & 0xE0) == 0xC0 ? 1
                  : (c & 0xF0) == 0xE0 ? 2
                  : (c & 0xF8) == 0xF0 ? 3
                                       : 9;
    size_t k;
    int ok = need <= 3 && i + need < len + (need == 0);
    if (ok && need) {
      if (i + need >= len + 1)
        ok = 0;
      for (k = 1; ok && k <= need; k++)
        if (i + k >= len || (s[i + k] & 0xC0) != 0x80)
          ok = 0;
      /* Reject overlong 2-byte forms and surrogates, as Go does. */
      if (ok && need == 1 && c < 0xC2)
        ok = 0;
      if (ok && need == 2 && c == 0xED && s[i + 1] >= 0xA0)
        ok = 0;
      if (ok && need == 2 && c == 0xE0 && s[i + 1] < 0xA0)
        ok = 0;
      if (ok && need == 3 &&
          (c > 0xF4 || (c == 0xF0 && s[i + 1] < 0x90) || (c == 0xF4 && s[i + 1] >= 0x90)))
        ok = 0;
    }
    if (!ok) {
      memcpy(out + o, "\xEF\xBF\xBD", 3);
      o += 3;
      i++;
      continue;
    }
    memcpy(out + o, s + i, need + 1);
    o += need + 1;
    i += need + 1;
  }
  out[o] = 0;
  return out;
}

/* Test support: recordings loader and comparer. See recording.h. */
#include "conformance/recording.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef COW_SOURCE_DIR
#  define COW_SOURCE_DIR "."
#endif

static void whyf(char *why, size_t whylen, const char *fmt, ...)
{
  va_list ap;
  if (!why || !whylen)
    return;
  va_start(ap, fmt);
  vsnprintf(why, whylen, fmt, ap);
  va_end(ap);
}

char *cow_rec_path(const char *name)
{
  /* COW_RECORDINGS_DIR lets a test run against another set of recordings (a newer agent's);
   * by default the ones committed with the tests. */
  const char *dir = getenv("COW_RECORDINGS_DIR");
  char *p;
  size_t n;
  if (!dir || !*dir)
    dir = COW_SOURCE_DIR "/tests/conformance/recordings/gcs-v0.11.4";
  n = strlen(dir) + strlen(name) + 16;
  p = malloc(n);
  if (p)
    snprintf(p, n, "%s/%s.jsonl", dir, name);
  return p;
}

const char *const cow_rec_names[] = {
    "a_echo",
    "b_exit7",
    "c_cat_stdin",
    "d_signal_kill",
    "e_wait_timeout",
    "f_unknown_pid",
    "g_tty",
    "h_dumpstacks",
    "i_getproperties",
    "j1_malformed_bodies",
    "j2_before_negotiate",
    "j3_pipelined_negotiate",
    "j7_clean_close",
    "j8_uvm_shutdown",
    "j9_exec_without_command",
    "m_container",
};
const size_t cow_rec_count = sizeof cow_rec_names / sizeof cow_rec_names[0];

int cow_rec_load_named(const char *name, cow_recording_t *out, char *why, size_t whylen)
{
  char *path = cow_rec_path(name);
  if (path == NULL) {
    memset(out, 0, sizeof *out);
    whyf(why, whylen, "out of memory");
    return -1;
  }
  int rc = cow_rec_load(path, out, why, whylen);
  free(path);
  return rc;
}

int cow_rec_for_each(void (*fn)(const cow_recording_t *rec, void *arg), void *arg, char *why,
                     size_t whylen)
{
  for (size_t i = 0; i < cow_rec_count; i++) {
    cow_recording_t rec;
    if (cow_rec_load_named(cow_rec_names[i], &rec, why, whylen) != 0)
      return -1;
    fn(&rec, arg);
    cow_rec_free(&rec);
  }
  return 0;
}

int cow_rec_hex(const char *hex, uint8_t *out, size_t outlen)
{
  size_t n = strlen(hex), i;
  if (n % 2 || n / 2 > outlen)
    return -1;
  for (i = 0; i < n / 2; i++) {
    unsigned v;
    char b[3] = {hex[2 * i], hex[2 * i + 1], 0};
    char *end;
    v = (unsigned)strtoul(b, &end, 16);
    if (*end)
      return -1;
    out[i] = (uint8_t)v;
  }
  return (int)(n / 2);
}

static int b64val(int c)
{
  if (c >= 'A' && c <= 'Z')
    return c - 'A';
  if (c >= 'a' && c <= 'z')
    return c - 'a' + 26;
  if (c >= '0' && c <= '9')
    return c - '0' + 52;
  if (c == '+')
    return 62;
  if (c == '/')
    return 63;
  return -1;
}

static uint8_t *b64decode(const char *s, size_t *outlen)
{
  size_t n = strlen(s), o = 0, i;
  uint8_t *out = malloc(n / 4 * 3 + 3);
  uint32_t acc = 0;
  int bits = 0;
  if (!out)
    return NULL;
  for (i = 0; i < n; i++) {
    int v;
    if (s[i] == '=')
      break;
    v = b64val((unsigned char)s[i]);
    if (v < 0) {
      free(out);
      return NULL;
    }
    acc = acc << 6 | (uint32_t)v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (uint8_t)(acc >> bits);
    }
  }
  *outlen = o;
  return out;
}

static const char *sget(json_t *o, const char *k)
{
  json_t *v = json_object_get(o, k);
  return json_is_string(v) ? json_string_value(v) : NULL;
}

static int fill(cow_rec_t *r, char *why, size_t whylen)
{
  const char *kind = sget(r->json, "kind");
  const char *dir = sget(r->json, "dir");
  json_t *v;
  r->kind = !kind                       ? COW_REC_OTHER
            : !strcmp(kind, "scenario") ? COW_REC_SCENARIO
            : !strcmp(kind, "frame")    ? COW_REC_FRAME
            : !strcmp(kind, "stdio")    ? COW_REC_STDIO
            : !strcmp(kind, "note")     ? COW_REC_NOTE
            : !strcmp(kind, "result")   ? COW_REC_RESULT
                                        : COW_REC_OTHER;
  r->dir = !dir                        ? COW_REC_DIR_NONE
           : !strcmp(dir, "host->gcs") ? COW_REC_HOST_TO_GCS
           : !strcmp(dir, "gcs->host") ? COW_REC_GCS_TO_HOST
                                       : COW_REC_DIR_NONE;
  v = json_object_get(r->json, "t_ms");
  r->t_ms = json_is_number(v) ? json_number_value(v) : 0;
  r->text = sget(r->json, r->kind == COW_REC_FRAME ? "note" : "text");
  if (r->kind == COW_REC_FRAME) {
    const char *hh = sget(r->json, "header_hex");
    const char *raw = sget(r->json, "body_raw");
    const char *b64 = sget(r->json, "body_b64");
    r->seq = (int)json_integer_value(json_object_get(r->json, "seq"));
    r->id = (uint64_t)json_integer_value(json_object_get(r->json, "id"));
    r->size = (uint32_t)json_integer_value(json_object_get(r->json, "size"));
    r->type = (uint32_t)strtoul(sget(r->json, "type") ? sget(r->json, "type") : "0", NULL, 16);
    r->type_name = sget(r->json, "type_name");
    if (!hh || cow_rec_hex(hh, r->header, sizeof r->header) != 16) {
      whyf(why, whylen, "frame seq %d: bad header_hex", r->seq);
      return -1;
    }
    if (raw) {
      /* json_string_length: body_raw may contain \u0000. */
      size_t n = json_string_length(json_object_get(r->json, "body_raw"));
      r->data = malloc(n + 1);
      if (!r->data)
        return -1;
      memcpy(r->data, raw, n);
      r->data[n] = 0;
      r->data_len = n;
    } else if (b64) {
      r->data = b64decode(b64, &r->data_len);
      r->data_is_b64 = 1;
      if (!r->data) {
        whyf(why, whylen, "frame seq %d: bad body_b64", r->seq);
        return -1;
      }
    }
  } else if (r->kind == COW_REC_STDIO) {
    const char *text = sget(r->json, "text");
    r->port = (uint32_t)json_integer_value(json_object_get(r->json, "port"));
    r->stream = sget(r->json, "stream");
    r->event = sget(r->json, "event");
    if (text) {
      size_t n = json_string_length(json_object_get(r->json, "text"));
      r->data = malloc(n + 1);
      if (!r->data)
        return -1;
      memcpy(r->data, text, n);
      r->data[n] = 0;
      r->data_len = n;
    }
  }
  return 0;
}

/* The whole file in one malloc'd, NUL-terminated buffer (no getline: Windows has none). */
static char *slurp(FILE *f, size_t *len)
{
  size_t cap = 1 << 16, n = 0;
  char *buf = malloc(cap);
  while (buf != NULL) {
    n += fread(buf + n, 1, cap - n - 1, f);
    if (n < cap - 1)
      break;
    char *nb = realloc(buf, cap * 2);
    if (nb == NULL) {
      free(buf);
      return NULL;
    }
    buf = nb;
    cap *= 2;
  }
  if (buf != NULL)
    buf[n] = '\0';
  *len = n;
  return buf;
}

int cow_rec_load(const char *path, cow_recording_t *out, char *why, size_t whylen)
{
  FILE *f = fopen(path, "rb");
  char *text = NULL;
  size_t alloc = 0, len = 0;
  memset(out, 0, sizeof *out);
  if (!f) {
    whyf(why, whylen, "cannot open %s", path);
    return -1;
  }
  text = slurp(f, &len);
  if (text == NULL) {
    whyf(why, whylen, "%s: out of memory", path);
    fclose(f);
    return -1;
  }
  char *line = text;
  for (char *next; line < text + len; line = next) {
    char *nl = memchr(line, '\n', (size_t)(text + len - line));
    next = nl ? nl + 1 : text + len;
    size_t n = (size_t)(next - line);
    json_error_t jerr;
    cow_rec_t *r;
    if (n == 1 && line[0] == '\n')
      continue;
    if (out->count == alloc) {
      cow_rec_t *nr;
      alloc = alloc ? alloc * 2 : 64;
      nr = realloc(out->recs, alloc * sizeof *nr);
      if (!nr)
        goto fail;
      out->recs = nr;
    }
    r = &out->recs[out->count];
    memset(r, 0, sizeof *r);
    r->json = json_loadb(line, n, 0, &jerr);
    if (!r->json) {
      whyf(why, whylen, "%s: line %zu: %s", path, out->count + 1, jerr.text);
      goto fail;
    }
    out->count++;
    if (fill(r, why, whylen) < 0)
      goto fail;
    if (r->kind == COW_REC_SCENARIO && !out->scenario) {
      const char *s = sget(r->json, "scenario");
      out->scenario = s ? strdup(s) : NULL;
    }
  }
  free(text);
  fclose(f);
  return 0;
fail:
  free(text);
  fclose(f);
  cow_rec_free(out);
  return -1;
}

void cow_rec_free(cow_recording_t *rec)
{
  size_t i;
  if (!rec)
    return;
  for (i = 0; i < rec->count; i++) {
    free(rec->recs[i].data);
    json_decref(rec->recs[i].json);
  }
  free(rec->recs);
  free(rec->scenario);
  memset(rec, 0, sizeof *rec);
}

/* ---- comparison ---- */

const cow_cmp_rule_t cow_cmp_default_rules[] = {
    {"ActivityId", COW_CMP_PRESENCE},  {"ProcessId", COW_CMP_PRESENCE},
    {"ErrorMessage", COW_CMP_MESSAGE}, {"Message", COW_CMP_MESSAGE},
    {"StackTrace", COW_CMP_IGNORE},    {"FileName", COW_CMP_IGNORE},
    {"Line", COW_CMP_IGNORE},          {"FunctionName", COW_CMP_IGNORE},
    {"GuestStacks", COW_CMP_TYPE},     {"LCOWMetrics", COW_CMP_TYPE},
    {"ProcessList", COW_CMP_SHAPE},    {NULL, COW_CMP_EXACT},
};

static cow_cmp_mode_t rule_for(const cow_cmp_rule_t *rules, const char *key)
{
  for (; rules && rules->key; rules++)
    if (!strcmp(rules->key, key))
      return rules->mode;
  return COW_CMP_EXACT;
}

static const char *type_name(const json_t *v)
{
  switch (json_typeof(v)) {
  case JSON_OBJECT:
    return "object";
  case JSON_ARRAY:
    return "array";
  case JSON_STRING:
    return "string";
  case JSON_INTEGER:
    return "integer";
  case JSON_REAL:
    return "real";
  case JSON_TRUE:
  case JSON_FALSE:
    return "bool";
  default:
    return "null";
  }
}

static int same_type(const json_t *a, const json_t *b)
{
  return !strcmp(type_name(a), type_name(b));
}

/* A string that holds a JSON object or array: parsed, else NULL. */
static json_t *inner_json(const json_t *v)
{
  const char *s;
  if (!json_is_string(v))
    return NULL;
  s = json_string_value(v);
  while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
    s++;
  if (*s != '{' && *s != '[')
    return NULL;
  return json_loadb(json_string_value(v), json_string_length(v), 0, NULL);
}

static int cmp_value(const json_t *e, const json_t *a, cow_cmp_mode_t mode,
                     const cow_cmp_rule_t *rules, const char *path, char *why, size_t whylen);

static int cmp_shape(const json_t *e, const json_t *a, const char *path, char *why, size_t whylen)
{
  if (!same_type(e, a)) {
    whyf(why, whylen, "%s: type %s, expected %s", path, type_name(a), type_name(e));
    return -1;
  }
  if (json_is_object(e)) {
    const char *k;
    json_t *v;
    char sub[512];
    if (json_object_size(e) != json_object_size(a)) {
      whyf(why, whylen, "%s: %zu keys, expected %zu", path, json_object_size(a),
           json_object_size(e));
      return -1;
    }
    json_object_foreach((json_t *)e, k, v)
    {
      json_t *av = json_object_get(a, k);
      snprintf(sub, sizeof sub, "%s.%s", path, k);
      if (!av) {
        whyf(why, whylen, "%s: missing", sub);
        return -1;
      }
      if (cmp_shape(v, av, sub, why, whylen) < 0)
        return -1;
    }
  } else if (json_is_array(e)) {
    size_t i;
    if ((json_array_size(e) == 0) != (json_array_size(a) == 0)) {
      whyf(why, whylen, "%s: %zu elements, expected %zu", path, json_array_size(a),
           json_array_size(e));
      return -1;
    }
    for (i = 0; i < json_array_size(a); i++) {
      char sub[512];
      snprintf(sub, sizeof sub, "%s[%zu]", path, i);
      if (cmp_shape(json_array_get(e, 0), json_array_get(a, i), sub, why, whylen) < 0)
        return -1;
    }
  }
  return 0;
}

static int cmp_message(const json_t *e, const json_t *a, const char *path, char *why, size_t whylen)
{
  static const char marker[] = "HRESULT 0xc037010d: ";
  const char *es, *as, *m;
  size_t n;
  if (!json_is_string(e) || !json_is_string(a))
    return json_equal((json_t *)e, (json_t *)a) ? 0 : (whyf(why, whylen, "%s differs", path), -1);
  es = json_string_value(e);
  as = json_string_value(a);
  m = strstr(es, marker);
  /* Go's JSON decoder messages ("invalid character 'n' looking for ...") cannot be
   * reproduced by a C parser; everything up to them is compared. */
  n = m ? (size_t)(m - es) + sizeof marker - 1 : strlen(es) + 1;
  if (strncmp(es, as, n) != 0 || (m && strlen(as) == n)) {
    whyf(why, whylen, "%s: \"%.300s\", expected \"%.300s\"", path, as, es);
    return -1;
  }
  return 0;
}

static int cmp_object(const json_t *e, const json_t *a, const cow_cmp_rule_t *rules,
                      const char *path, char *why, size_t whylen)
{
  const char *k;
  json_t *v;
  char sub[512];
  json_object_foreach((json_t *)e, k, v)
  {
    json_t *av = json_object_get(a, k);
    cow_cmp_mode_t mode = rule_for(rules, k);
    snprintf(sub, sizeof sub, "%s.%s", path, k);
    if (mode == COW_CMP_IGNORE)
      continue;
    if (!av) {
      whyf(why, whylen, "%s: missing", sub);
      return -1;
    }
    if (cmp_value(v, av, mode, rules, sub, why, whylen) < 0)
      return -1;
  }
  json_object_foreach((json_t *)a, k, v)
  {
    if (!json_object_get(e, k) && rule_for(rules, k) != COW_CMP_IGNORE) {
      snprintf(sub, sizeof sub, "%s.%s", path, k);
      whyf(why, whylen, "%s: unexpected key", sub);
      return -1;
    }
  }
  return 0;
}

static int cmp_value(const json_t *e, const json_t *a, cow_cmp_mode_t mode,
                     const cow_cmp_rule_t *rules, const char *path, char *why, size_t whylen)
{
  switch (mode) {
  case COW_CMP_IGNORE:
  case COW_CMP_PRESENCE:
    return 0;
  case COW_CMP_TYPE:
    if (!same_type(e, a)) {
      whyf(why, whylen, "%s: type %s, expected %s", path, type_name(a), type_name(e));
      return -1;
    }
    return 0;
  case COW_CMP_SHAPE:
    return cmp_shape(e, a, path, why, whylen);
  case COW_CMP_MESSAGE:
    return cmp_message(e, a, path, why, whylen);
  case COW_CMP_EXACT:
    break;
  }
  if (json_is_string(e) && json_is_string(a)) {
    json_t *ei = inner_json(e);
    if (ei) {
      json_t *ai = inner_json(a);
      int rc;
      char sub[512];
      snprintf(sub, sizeof sub, "%s<json>", path);
      if (!ai) {
        json_decref(ei);
        whyf(why, whylen, "%s: not a JSON string: \"%.200s\"", path, json_string_value(a));
        return -1;
      }
      rc = cmp_value(ei, ai, COW_CMP_EXACT, rules, sub, why, whylen);
      json_decref(ei);
      json_decref(ai);
      return rc;
    }
  }
  if (!same_type(e, a)) {
    whyf(why, whylen, "%s: type %s, expected %s", path, type_name(a), type_name(e));
    return -1;
  }
  if (json_is_object(e))
    return cmp_object(e, a, rules, path, why, whylen);
  if (json_is_array(e)) {
    size_t i;
    if (json_array_size(e) != json_array_size(a)) {
      whyf(why, whylen, "%s: %zu elements, expected %zu", path, json_array_size(a),
           json_array_size(e));
      return -1;
    }
    for (i = 0; i < json_array_size(e); i++) {
      char sub[512];
      snprintf(sub, sizeof sub, "%s[%zu]", path, i);
      if (cmp_value(json_array_get(e, i), json_array_get(a, i), COW_CMP_EXACT, rules, sub, why,
                    whylen) < 0)
        return -1;
    }
    return 0;
  }
  if (!json_equal((json_t *)e, (json_t *)a)) {
    char *es = json_dumps(e, JSON_ENCODE_ANY), *as = json_dumps(a, JSON_ENCODE_ANY);
    whyf(why, whylen, "%s: %.300s, expected %.300s", path, as ? as : "?", es ? es : "?");
    free(es);
    free(as);
    return -1;
  }
  return 0;
}

int cow_cmp_json(const json_t *expected, const json_t *actual, const cow_cmp_rule_t *rules,
                 char *why, size_t whylen)
{
  if (!expected || !actual) {
    whyf(why, whylen, "missing value");
    return -1;
  }
  return cmp_value(expected, actual, COW_CMP_EXACT, rules, "$", why, whylen);
}

int cow_cmp_bodies(const uint8_t *expected, size_t expected_len, const uint8_t *actual,
                   size_t actual_len, const cow_cmp_rule_t *rules, char *why, size_t whylen)
{
  json_t *e = json_loadb((const char *)expected, expected_len, JSON_DECODE_ANY, NULL);
  json_t *a;
  int rc;
  if (!e) {
    if (expected_len == actual_len && (expected_len == 0 || !memcmp(expected, actual, actual_len)))
      return 0;
    whyf(why, whylen, "body bytes differ (expected non-JSON body of %zu bytes, got %zu)",
         expected_len, actual_len);
    return -1;
  }
  a = json_loadb((const char *)actual, actual_len, JSON_DECODE_ANY, NULL);
  if (!a) {
    json_decref(e);
    whyf(why, whylen, "actual body is not JSON: %.300s", (const char *)actual);
    return -1;
  }
  rc = cow_cmp_json(e, a, rules, why, whylen);
  json_decref(e);
  json_decref(a);
  return rc;
}

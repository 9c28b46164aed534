/* GCS message bodies <-> JSON (see protocol.h). */
#include "guest/protocol.h"

#include <ctype.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/handle.h"
#include "core/json.h"
#include "core/stats.h"
#include "guest/frame.h"
#include "guest/json-writer.h"

/* ---- builders: JSON text straight into the payload (json-writer.h) ---- */

/* The RequestBase fields, leaving the object open for the message's own. */
static void base(cow__jw_t *w, const char *container_id, const struct cow__proto_trace *trace)
{
  cow__jw_raw(w, "{\"ContainerId\":");
  cow__jw_string(w, container_id);
  cow__jw_raw(w, ",\"ActivityId\":\"" COW__NULL_CONTAINER_ID "\"");
  if (trace != NULL && trace->traceparent != NULL) {
    cow__jw_raw(w, ",\"otsc\":{\"traceparent\":");
    cow__jw_string(w, trace->traceparent);
    if (trace->tracestate != NULL && trace->tracestate[0] != '\0') {
      cow__jw_raw(w, ",\"tracestate\":");
      cow__jw_string(w, trace->tracestate);
    }
    cow__jw_raw(w, "}");
  }
}

static int end(cow__jw_t *w)
{
  cow__jw_raw(w, "}");
  return cow__jw_finish(w);
}

int cow__proto_request_base(struct cow__payload *out, const char *container_id,
                            const struct cow__proto_trace *trace)
{
  cow__jw_t w;
  cow__jw_init(&w, out);
  base(&w, container_id, trace);
  return end(&w);
}

int cow__proto_negotiate(struct cow__payload *out, int min_version, int max_version,
                         const struct cow__proto_trace *t)
{
  cow__jw_t w;
  cow__jw_init(&w, out);
  /* ContainerId: the null id, as the recordings' host sent it (hcsshim sends ""; the
   * guest ignores it for this request). */
  base(&w, COW__NULL_CONTAINER_ID, t);
  cow__jw_raw(&w, ",\"MinimumVersion\":");
  cow__jw_uint(&w, (uint64_t)min_version);
  cow__jw_raw(&w, ",\"MaximumVersion\":");
  cow__jw_uint(&w, (uint64_t)max_version);
  return end(&w);
}

int cow__proto_create(struct cow__payload *out, const char *cid, const json_t *config,
                      const struct cow__proto_trace *t)
{
  cow__jw_t w;
  cow__jw_init(&w, out);
  base(&w, cid, t);
  cow__jw_raw(&w, ",\"ContainerConfig\":"); /* a JSON document carried as a string
                                               (docs/gcs-bridge-protocol.md §1.7) */
  cow__jw_json_string(&w, config);
  return end(&w);
}

int cow__proto_execute(struct cow__payload *out, const char *cid, const json_t *params,
                       const uint32_t ports[3], const struct cow__proto_trace *t)
{
  static const char *const names[3] = {"\"StdIn\":", "\"StdOut\":", "\"StdErr\":"};
  cow__jw_t w;
  cow__jw_init(&w, out);
  base(&w, cid, t);
  cow__jw_raw(&w, ",\"Settings\":{\"ProcessParameters\":");
  cow__jw_json_string(&w, params);
  /* Always present for a Linux guest, {} when no pipe is requested (docs/gcs-bridge-protocol.md
   * §4.5). */
  cow__jw_raw(&w, ",\"VsockStdioRelaySettings\":{");
  const char *sep = "";
  for (int i = 0; i < 3; i++) {
    if (ports[i] == 0)
      continue;
    cow__jw_raw(&w, sep);
    cow__jw_raw(&w, names[i]);
    cow__jw_uint(&w, ports[i]);
    sep = ",";
  }
  cow__jw_raw(&w, "}}");
  return end(&w);
}

int cow__proto_wait(struct cow__payload *out, const char *cid, uint32_t pid, uint32_t timeout_ms,
                    const struct cow__proto_trace *t)
{
  cow__jw_t w;
  cow__jw_init(&w, out);
  base(&w, cid, t);
  cow__jw_raw(&w, ",\"ProcessId\":");
  cow__jw_uint(&w, pid);
  cow__jw_raw(&w, ",\"TimeoutInMs\":");
  cow__jw_uint(&w, timeout_ms);
  return end(&w);
}

int cow__proto_signal(struct cow__payload *out, const char *cid, uint32_t pid,
                      const json_t *options, const struct cow__proto_trace *t)
{
  cow__jw_t w;
  cow__jw_init(&w, out);
  base(&w, cid, t);
  cow__jw_raw(&w, ",\"ProcessId\":");
  cow__jw_uint(&w, pid);
  if (options != NULL) {
    cow__jw_raw(&w, ",\"Options\":");
    cow__jw_json(&w, options);
  }
  return end(&w);
}

int cow__proto_signal_number(struct cow__payload *out, const char *cid, uint32_t pid,
                             uint32_t signo, const struct cow__proto_trace *t)
{
  cow__jw_t w;
  cow__jw_init(&w, out);
  base(&w, cid, t);
  cow__jw_raw(&w, ",\"ProcessId\":");
  cow__jw_uint(&w, pid);
  cow__jw_raw(&w, ",\"Options\":{\"Signal\":");
  cow__jw_uint(&w, signo);
  cow__jw_raw(&w, "}");
  return end(&w);
}

int cow__proto_signal_flat(const char *text, uint32_t *signo)
{
  static const char head[] = "{\"Signal\":";
  if (strncmp(text, head, sizeof head - 1) != 0)
    return 0;
  const char *p = text + sizeof head - 1;
  if (*p < '0' || *p > '9')
    return 0;
  uint32_t v = (uint32_t)(*p++ - '0');
  if (v != 0 && *p >= '0' && *p <= '9') /* a second digit; a leading zero is not JSON */
    v = v * 10 + (uint32_t)(*p++ - '0');
  if (p[0] != '}' || p[1] != '\0')
    return 0;
  *signo = v;
  return 1;
}

int cow__proto_resize(struct cow__payload *out, const char *cid, uint32_t pid, uint16_t width,
                      uint16_t height, const struct cow__proto_trace *t)
{
  cow__jw_t w;
  cow__jw_init(&w, out);
  base(&w, cid, t);
  cow__jw_raw(&w, ",\"ProcessId\":");
  cow__jw_uint(&w, pid);
  cow__jw_raw(&w, ",\"Height\":");
  cow__jw_uint(&w, height);
  cow__jw_raw(&w, ",\"Width\":");
  cow__jw_uint(&w, width);
  return end(&w);
}

int cow__proto_get_properties(struct cow__payload *out, const char *cid, const json_t *query,
                              const struct cow__proto_trace *t)
{
  cow__jw_t w;
  cow__jw_init(&w, out);
  base(&w, cid, t);
  cow__jw_raw(&w, ",\"Query\":");
  cow__jw_json_string(&w, query);
  return end(&w);
}

int cow__proto_modify(struct cow__payload *out, const char *cid, const json_t *request,
                      const struct cow__proto_trace *t)
{
  cow__jw_t w;
  cow__jw_init(&w, out);
  base(&w, cid, t);
  cow__jw_raw(
      &w, ",\"Request\":"); /* a nested object, not a string (docs/gcs-bridge-protocol.md §1.7) */
  cow__jw_json(&w, request);
  return end(&w);
}

/* A JSON document carried as a string (docs/gcs-bridge-protocol.md §1.7), for the log. */
static json_t *json_text(const json_t *doc)
{
  char *s = cow__json_text(doc, JSON_COMPACT | JSON_ENCODE_ANY);
  if (s == NULL)
    return NULL;
  json_t *v = json_string(s);
  cow__free(s);
  return v;
}

char *cow__proto_dump(const json_t *body)
{
  return cow__json_text(body, JSON_COMPACT);
}

void cow__proto_payload_release(struct cow__payload *p)
{
  cow__free(p->heap);
  p->heap = NULL;
}

json_t *cow__proto_parse_object(const char *text, const char *what, cow_error_t *err)
{
  if (text == NULL) {
    cow__error_set(err, COW_EINVAL, COW_DOMAIN_LIB, 0, NULL, NULL, "%s is missing", what);
    return NULL;
  }
  json_error_t jerr;
  json_t *v = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
  if (v == NULL) {
    cow__error_set(err, COW_EINVAL, COW_DOMAIN_LIB, 0, NULL, NULL, "%s is not valid JSON: %s", what,
                   jerr.text);
    return NULL;
  }
  if (!json_is_object(v)) {
    json_decref(v);
    cow__error_set(err, COW_EINVAL, COW_DOMAIN_LIB, 0, NULL, NULL, "%s must be a JSON object",
                   what);
    return NULL;
  }
  return v;
}

/* ---- validation ---- */

int cow__proto_is_guid(const char *s)
{
  if (s == NULL || strlen(s) != 36)
    return 0;
  for (int i = 0; i < 36; i++) {
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (s[i] != '-')
        return 0;
    } else if (!isxdigit((unsigned char)s[i])) {
      return 0;
    }
  }
  return 1;
}

static int hexrun(const char *s, int n)
{
  for (int i = 0; i < n; i++)
    if (!isxdigit((unsigned char)s[i]) || isupper((unsigned char)s[i]))
      return 0;
  return 1;
}

int cow__proto_valid_traceparent(const char *s)
{
  if (s == NULL || strlen(s) < 55)
    return 0;
  if (!hexrun(s, 2) || s[2] != '-' || !hexrun(s + 3, 32) || s[35] != '-' || !hexrun(s + 36, 16) ||
      s[52] != '-' || !hexrun(s + 53, 2))
    return 0;
  if (strncmp(s, "ff", 2) == 0)
    return 0;
  /* Version 00 has exactly 55 characters; later versions may append "-..." fields. */
  return strlen(s) == 55 || (strncmp(s, "00", 2) != 0 && s[55] == '-');
}

static int bad(cow_error_t *err, const char *what, const char *key, const char *why)
{
  return cow__error_set(err, COW_EPROTOCOL, COW_DOMAIN_LIB, 0, "read", NULL,
                        "malformed %s from the guest: %s %s", what, key, why);
}

/* Integer in [lo, hi], or absent/null. Reals ("1e2", "100.0"), strings and booleans are
 * refused, as Go's decoder refuses them for integer fields (§1.7). */
static int check_int(const json_t *o, const char *key, json_int_t lo, json_int_t hi,
                     const char *what, cow_error_t *err)
{
  json_t *v = json_object_get(o, key);
  if (v == NULL || json_is_null(v))
    return 0;
  if (!json_is_integer(v))
    return bad(err, what, key, "is not an integer");
  json_int_t n = json_integer_value(v);
  if (n < lo || n > hi)
    return bad(err, what, key, "is out of range");
  return 0;
}

static int check_type(const json_t *o, const char *key, json_type type, const char *what,
                      cow_error_t *err)
{
  json_t *v = json_object_get(o, key);
  if (v == NULL || json_is_null(v) || json_typeof(v) == type)
    return 0;
  return bad(err, what, key, "has the wrong type");
}

/* A JSON-in-a-string field: absent, null, or a string holding a JSON document. "" is an
 * error for Go's UnmarshalText, so it is one here too (§4.9). */
static int check_json_string(const json_t *o, const char *key, const char *what, cow_error_t *err)
{
  json_t *v = json_object_get(o, key);
  if (v == NULL || json_is_null(v))
    return 0;
  if (!json_is_string(v))
    return bad(err, what, key, "must be a JSON document in a string");
  json_error_t jerr;
  json_t *inner = json_loadb(json_string_value(v), json_string_length(v), JSON_DECODE_ANY, &jerr);
  if (inner == NULL)
    return bad(err, what, key, "does not hold valid JSON");
  json_decref(inner);
  return 0;
}

static json_t *load_payload(const uint8_t *payload, size_t len, const char *what, cow_error_t *err)
{
  json_error_t jerr;
  /* JSON_ALLOW_NUL: "\u0000" is legal JSON and kept by Go; jansson refuses it by default. */
  json_t *v = json_loadb((const char *)payload, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
  if (v == NULL) {
    cow__error_set(err, COW_EPROTOCOL, COW_DOMAIN_LIB, 0, "read", NULL,
                   "malformed %s from the guest: not valid JSON (%s at byte %d)", what, jerr.text,
                   jerr.position);
    return NULL;
  }
  if (json_is_null(v)) { /* Go: null leaves every field at its zero value */
    json_decref(v);
    v = json_object();
    if (v == NULL)
      cow__error_set(err, COW_ENOMEM, COW_DOMAIN_LIB, 0, "read", NULL, NULL);
    return v;
  }
  if (!json_is_object(v)) {
    json_decref(v);
    cow__error_set(err, COW_EPROTOCOL, COW_DOMAIN_LIB, 0, "read", NULL,
                   "malformed %s from the guest: not a JSON object", what);
    return NULL;
  }
  return v;
}

static int check_activity(const json_t *o, const char *what, cow_error_t *err)
{
  json_t *v = json_object_get(o, "ActivityId");
  if (v == NULL || json_is_null(v))
    return 0;
  if (!json_is_string(v) || !cow__proto_is_guid(json_string_value(v)))
    return bad(err, what, "ActivityId", "is not a GUID");
  return 0;
}

/* ---- flat answers without jansson ---- */

/* The value of one member, as the scanner saw it. */
enum flat_kind { FLAT_ABSENT, FLAT_NULL, FLAT_INT, FLAT_STRING, FLAT_OTHER };
struct flat_value {
  enum flat_kind kind;
  int64_t i;
  const char *s;
  size_t len;
};

/* The members the checks and the callers look at; the rest are skipped. */
struct flat {
  struct flat_value result, activity, message, records, process_id, exit_code, selected;
};

static struct flat_value *flat_member(struct flat *f, const char *key, size_t len)
{
#define KEY(name, field)                                                                           \
  if (len == sizeof name - 1 && memcmp(key, name, len) == 0)                                       \
    return &f->field;
  KEY("Result", result)
  KEY("ActivityId", activity)
  KEY("ErrorMessage", message)
  KEY("ErrorRecords", records)
  KEY("ProcessId", process_id)
  KEY("ExitCode", exit_code)
  KEY("SelectedProtocolVersion", selected)
#undef KEY
  return NULL;
}

/* A string without escapes or non-ASCII bytes: returns the byte after the closing quote,
 * or NULL. */
static const char *flat_string(const char *p, const char *end, struct flat_value *v)
{
  const char *s = ++p;
  while (p < end && *p != '"') {
    if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x80 || *p == '\\')
      return NULL;
    p++;
  }
  if (p == end)
    return NULL;
  v->kind = FLAT_STRING;
  v->s = s;
  v->len = (size_t)(p - s);
  return p + 1;
}

/* An integer as JSON writes it (no leading zero, no fraction or exponent), 18 digits at most. */
static const char *flat_int(const char *p, const char *end, struct flat_value *v)
{
  int neg = *p == '-';
  p += neg;
  const char *digits = p;
  int64_t n = 0;
  while (p < end && *p >= '0' && *p <= '9' && p - digits < 18)
    n = n * 10 + (*p++ - '0');
  size_t nd = (size_t)(p - digits);
  if (nd == 0 || (nd > 1 && digits[0] == '0') || (p < end && *p != ',' && *p != '}'))
    return NULL;
  v->kind = FLAT_INT;
  v->i = neg ? -n : n;
  return p;
}

/* 1 when `payload` is a flat object the scanner can read, with its members in *f. */
static int flat_scan(const char *p, size_t len, struct flat *f)
{
  const char *end = p + len;
  memset(f, 0, sizeof *f);
  if (len < 2 || *p++ != '{')
    return 0;
  if (*p == '}')
    return p + 1 == end;
  for (;;) {
    struct flat_value key, scratch, *v;
    if (p >= end || *p != '"' || (p = flat_string(p, end, &key)) == NULL)
      return 0;
    if (p >= end || *p++ != ':' || p >= end)
      return 0;
    v = flat_member(f, key.s, key.len);
    if (v == NULL)
      v = &scratch; /* a member nobody reads: it only has to be well-formed */
    if (*p == '"') {
      p = flat_string(p, end, v);
    } else if (*p == '-' || (*p >= '0' && *p <= '9')) {
      p = flat_int(p, end, v);
    } else if ((size_t)(end - p) >= 4 && memcmp(p, "null", 4) == 0) {
      v->kind = FLAT_NULL;
      p += 4;
    } else if ((size_t)(end - p) >= 4 && memcmp(p, "true", 4) == 0) {
      v->kind = FLAT_OTHER;
      p += 4;
    } else if ((size_t)(end - p) >= 5 && memcmp(p, "false", 5) == 0) {
      v->kind = FLAT_OTHER;
      p += 5;
    } else {
      return 0; /* nested, real, malformed: jansson decides */
    }
    if (p == NULL || p >= end)
      return 0;
    if (*p == '}')
      return p + 1 == end;
    if (*p++ != ',')
      return 0;
  }
}

/* absent, null, or an integer in [lo, hi] */
static int flat_int_ok(const struct flat_value *v, int64_t lo, int64_t hi)
{
  return v->kind == FLAT_ABSENT || v->kind == FLAT_NULL ||
         (v->kind == FLAT_INT && v->i >= lo && v->i <= hi);
}

static int64_t flat_int_or(const struct flat_value *v, int64_t def)
{
  return v->kind == FLAT_INT ? v->i : def;
}

#define I32_MIN (-2147483647LL - 1)
#define I32_MAX 2147483647LL
#define U32_MAX 4294967295LL

/* 1 with `out` filled when the answer is flat and passes every check; 0 otherwise (the
 * caller then parses it with jansson, which gives the verdict). */
static int parse_flat(uint32_t req_type, const uint8_t *payload, size_t len,
                      struct cow__proto_resp *out)
{
  struct flat f;
  if (req_type == COW__MSG_NEGOTIATE_PROTOCOL || req_type == COW__MSG_GET_PROPERTIES ||
      req_type == COW__MSG_DUMP_STACKS || !flat_scan((const char *)payload, len, &f))
    return 0;
  if (!flat_int_ok(&f.result, I32_MIN, I32_MAX))
    return 0;
  if (f.activity.kind != FLAT_ABSENT && f.activity.kind != FLAT_NULL) {
    char guid[37];
    if (f.activity.kind != FLAT_STRING || f.activity.len != 36)
      return 0;
    memcpy(guid, f.activity.s, 36);
    guid[36] = '\0';
    if (!cow__proto_is_guid(guid))
      return 0;
  }
  /* An error text is read through jansson (it must be a C string); so are ErrorRecords. */
  if ((f.message.kind != FLAT_ABSENT && f.message.kind != FLAT_NULL) ||
      (f.records.kind != FLAT_ABSENT && f.records.kind != FLAT_NULL))
    return 0;
  if ((req_type == COW__MSG_CREATE && !flat_int_ok(&f.selected, 0, U32_MAX)) ||
      (req_type == COW__MSG_EXECUTE_PROCESS && !flat_int_ok(&f.process_id, 0, U32_MAX)) ||
      (req_type == COW__MSG_WAIT_FOR_PROCESS && !flat_int_ok(&f.exit_code, 0, U32_MAX)))
    return 0;
  out->result = (int32_t)flat_int_or(&f.result, 0);
  out->process_id = f.process_id.i;
  out->has_process_id = f.process_id.kind == FLAT_INT;
  out->exit_code = f.exit_code.i;
  out->has_exit_code = f.exit_code.kind == FLAT_INT;
  return 1;
}

int64_t cow__proto_resp_int(const struct cow__proto_resp *r, const char *key, int64_t def)
{
  if (r->body != NULL)
    return cow__proto_int(r->body, key, def);
  if (strcmp(key, "ProcessId") == 0)
    return r->has_process_id ? r->process_id : def;
  if (strcmp(key, "ExitCode") == 0)
    return r->has_exit_code ? r->exit_code : def;
  return def;
}

int cow__proto_parse_response(uint32_t req_type, const uint8_t *payload, size_t len,
                              struct cow__proto_resp *out, cow_error_t *err)
{
  memset(out, 0, sizeof *out);
  if (parse_flat(req_type, payload, len, out))
    return 0;
  return cow__proto_parse_response_full(req_type, payload, len, out, err);
}

int cow__proto_parse_response_full(uint32_t req_type, const uint8_t *payload, size_t len,
                                   struct cow__proto_resp *out, cow_error_t *err)
{
  memset(out, 0, sizeof *out);
  const char *what = "response";
  json_t *o = load_payload(payload, len, what, err);
  if (o == NULL)
    return err ? err->code : COW_EPROTOCOL;
  int rc = check_int(o, "Result", I32_MIN, I32_MAX, what, err);
  if (rc == 0)
    rc = check_activity(o, what, err);
  if (rc == 0)
    rc = check_type(o, "ErrorMessage", JSON_STRING, what, err);
  if (rc == 0)
    rc = check_type(o, "ErrorRecords", JSON_ARRAY, what, err);
  if (rc == 0) {
    switch (req_type) {
    case COW__MSG_NEGOTIATE_PROTOCOL:
      rc = check_int(o, "Version", I32_MIN, I32_MAX, what, err);
      if (rc == 0)
        rc = check_type(o, "Capabilities", JSON_OBJECT, what, err);
      break;
    case COW__MSG_CREATE:
      rc = check_int(o, "SelectedProtocolVersion", 0, U32_MAX, what, err);
      break;
    case COW__MSG_EXECUTE_PROCESS:
      rc = check_int(o, "ProcessId", 0, U32_MAX, what, err);
      break;
    case COW__MSG_WAIT_FOR_PROCESS:
      rc = check_int(o, "ExitCode", 0, U32_MAX, what, err);
      break;
    case COW__MSG_GET_PROPERTIES:
      rc = check_json_string(o, "Properties", what, err);
      break;
    case COW__MSG_DUMP_STACKS:
      rc = check_type(o, "GuestStacks", JSON_STRING, what, err);
      break;
    default:
      break;
    }
  }
  if (rc != 0) {
    json_decref(o);
    return rc;
  }
  out->body = o;
  out->result = (int32_t)cow__proto_int(o, "Result", 0);
  out->message = cow__proto_str(o, "ErrorMessage");
  return 0;
}

void cow__proto_resp_clear(struct cow__proto_resp *r)
{
  if (r == NULL)
    return;
  json_decref(r->body);
  memset(r, 0, sizeof *r);
}

int cow__proto_resp_error(const struct cow__proto_resp *r, const char *operation,
                          const char *object_id, cow_error_t *err)
{
  uint32_t hr = (uint32_t)r->result; /* zero-extended (R22, hcsshim#2849) */
  int code = cow__error_hresult(err, COW_DOMAIN_GUEST, hr, operation, object_id, r->message);
  json_t *records = json_object_get(r->body, "ErrorRecords");
  if (err != NULL && json_is_array(records) && json_array_size(records) > 0) {
    char *s = cow__json_text(records, JSON_COMPACT);
    if (s != NULL) {
      cow__error_set_detail(err, s);
      cow__free(s);
    }
  }
  return code;
}

int cow__proto_parse_notification(const uint8_t *payload, size_t len,
                                  struct cow__proto_notification *out, cow_error_t *err)
{
  memset(out, 0, sizeof *out);
  const char *what = "notification";
  json_t *o = load_payload(payload, len, what, err);
  if (o == NULL)
    return err ? err->code : COW_EPROTOCOL;
  int rc = check_type(o, "ContainerId", JSON_STRING, what, err);
  if (rc == 0)
    rc = check_activity(o, what, err);
  if (rc == 0)
    rc = check_type(o, "Type", JSON_STRING, what, err);
  if (rc == 0)
    rc = check_type(o, "Operation", JSON_STRING, what, err);
  if (rc == 0)
    rc = check_int(o, "Result", I32_MIN, I32_MAX, what, err);
  if (rc == 0)
    rc = check_json_string(o, "ResultInfo", what, err);
  if (rc != 0) {
    json_decref(o);
    return rc;
  }
  out->body = o;
  out->container_id = cow__proto_str(o, "ContainerId");
  /* "\u0000" is legal JSON and kept (load_payload): an id with an embedded NUL read as a
   * C string would be its prefix and route the notification to another container (§10
   * B26). No container id contains a NUL, so such an id matches none: "" (never valid). */
  if (out->container_id != NULL &&
      strlen(out->container_id) != json_string_length(json_object_get(o, "ContainerId")))
    out->container_id = "";
  if (out->container_id == NULL)
    out->container_id = "";
  out->type = cow__proto_str(o, "Type");
  if (out->type == NULL)
    out->type = "";
  out->operation = cow__proto_str(o, "Operation");
  out->result = (int32_t)cow__proto_int(o, "Result", 0);
  return 0;
}

void cow__proto_notification_clear(struct cow__proto_notification *n)
{
  if (n == NULL)
    return;
  json_decref(n->body);
  memset(n, 0, sizeof *n);
}

int64_t cow__proto_int(const json_t *obj, const char *key, int64_t def)
{
  json_t *v = json_object_get(obj, key);
  return json_is_integer(v) ? (int64_t)json_integer_value(v) : def;
}

const char *cow__proto_str(const json_t *obj, const char *key)
{
  json_t *v = json_object_get(obj, key);
  return json_is_string(v) ? json_string_value(v) : NULL;
}

static int bad_properties(cow_error_t *err, const char *operation, const char *id, const char *what)
{
  return cow__error_set(err, COW_EPROTOCOL, COW_DOMAIN_GUEST, 0, operation, id,
                        "unexpected properties from the guest: %s", what);
}

int cow__proto_parse_process_list(cow_process_list_t **out, const char *properties,
                                  const char *operation, const char *id, cow_error_t *err)
{
  *out = NULL;
  json_t *doc = json_loads(properties ? properties : "{}", JSON_REJECT_DUPLICATES, NULL);
  json_t *list = json_object_get(doc, "ProcessList");
  size_t n = json_array_size(list);
  const char *what = NULL;
  if (!json_is_object(doc))
    what = "the Properties string is not a JSON object";
  else if (list != NULL && !json_is_null(list) && !json_is_array(list))
    what = "ProcessList is not an array";
  cow_process_info_t *items = what == NULL && n ? cow__calloc(n, sizeof *items) : NULL;
  if (what == NULL && n && items == NULL) {
    json_decref(doc);
    return cow__error_set(err, COW_ENOMEM, COW_DOMAIN_LIB, 0, operation, id, NULL);
  }
  for (size_t i = 0; what == NULL && i < n; i++) {
    uint64_t pid;
    json_t *e = json_array_get(list, i);
    if (!json_is_object(e) || cow__json_u64(e, "ProcessId", &pid) <= 0 || pid > UINT32_MAX)
      what = "a ProcessList entry has no valid ProcessId";
    else
      items[i].pid = (int64_t)pid;
  }
  json_decref(doc);
  int rc = 0;
  if (what != NULL)
    rc = bad_properties(err, operation, id, what);
  else if ((*out = cow__process_list_new(items, n)) == NULL)
    rc = cow__error_set(err, COW_ENOMEM, COW_DOMAIN_LIB, 0, operation, id, NULL);
  cow__free(items);
  return rc;
}

int cow__proto_properties_has_pid(const char *properties, uint32_t pid)
{
  cow_process_list_t *list = NULL;
  if (cow__proto_parse_process_list(&list, properties, NULL, NULL, NULL) != 0)
    return -1;
  int found = 0;
  for (size_t i = 0; i < list->count; i++)
    found |= list->items[i].pid == (int64_t)pid;
  cow__free(list);
  return found;
}

/* An object member that may be absent (protobuf JSON leaves empty messages out): 1 when it
 * is an object, 0 when absent or null, -1 otherwise. */
static int sub_object(const json_t *obj, const char *key, json_t **out)
{
  *out = obj != NULL ? json_object_get(obj, key) : NULL;
  if (*out == NULL || json_is_null(*out)) {
    *out = NULL;
    return 0;
  }
  return json_is_object(*out) ? 1 : -1;
}

/* Read `key` of `obj` into `*v`; the figure is known (`bit` in `*have`) when `obj` is. */
static int figure(const json_t *obj, const char *key, uint64_t *v, unsigned *have, unsigned bit)
{
  if (cow__json_u64(obj, key, v) < 0)
    return -1;
  if (obj != NULL)
    *have |= bit;
  return 0;
}

int cow__proto_parse_lcow_metrics(cow_statistics_t *out, const char *properties,
                                  const char *operation, const char *id, cow_error_t *err)
{
  memset(out, 0, sizeof *out);
  json_t *doc = json_loads(properties ? properties : "{}", JSON_REJECT_DUPLICATES, NULL);
  json_t *m = NULL, *cpu = NULL, *usage = NULL, *mem = NULL, *mu = NULL, *pids = NULL;
  const char *what = NULL;
  uint64_t limit = 0;
  unsigned limit_known = 0;
  if (!json_is_object(doc))
    what = "the Properties string is not a JSON object";
  else if (sub_object(doc, "LCOWMetrics", &m) <= 0)
    what = "no LCOWMetrics object (the guest sent no statistics)";
  else if (sub_object(m, "cpu", &cpu) < 0 || sub_object(cpu, "usage", &usage) < 0 ||
           sub_object(m, "memory", &mem) < 0 || sub_object(mem, "usage", &mu) < 0 ||
           sub_object(m, "pids", &pids) < 0)
    what = "LCOWMetrics cpu, cpu.usage, memory, memory.usage or pids is not an object";
  else if (figure(usage, "total", &out->cpu_total_ns, &out->have, COW_STATS_CPU_TOTAL) ||
           figure(usage, "kernel", &out->cpu_kernel_ns, &out->have, COW_STATS_CPU_KERNEL) ||
           figure(usage, "user", &out->cpu_user_ns, &out->have, COW_STATS_CPU_USER) ||
           figure(mu, "usage", &out->memory_usage_bytes, &out->have, COW_STATS_MEMORY_USAGE) ||
           figure(mu, "limit", &limit, &limit_known, 1) ||
           figure(pids, "current", &out->process_count, &out->have, COW_STATS_PROCESS_COUNT))
    what = "an LCOWMetrics figure is not a non-negative integer";
  json_decref(doc);
  if (what != NULL) {
    memset(out, 0, sizeof *out);
    return bad_properties(err, operation, id, what);
  }
  /* cgroup v1 says "no limit" with the largest page-aligned value: no limit is no figure. */
  if (limit_known && limit != 0 && limit < (UINT64_C(1) << 62)) {
    out->memory_limit_bytes = limit;
    out->have |= COW_STATS_MEMORY_LIMIT;
  }
  cow__wall_clock(&out->timestamp);
  return 0;
}

/* ---- log scrubbing ----
 * Every step either replaces what it must or fails the whole scrub: a log line without the
 * body is better than one with a secret that a failed set left in. */

static int scrub_env_object(json_t *env)
{
  const char *k;
  json_t *v;
  json_object_foreach(env, k, v)
  {
    (void)v;
    if (json_object_set_new(env, k, json_string("<redacted>")) != 0)
      return -1;
  }
  return 0;
}

static int scrub_env_array(json_t *env)
{
  size_t i;
  json_t *v;
  json_array_foreach(env, i, v)
  {
    if (!json_is_string(v))
      continue;
    const char *s = json_string_value(v);
    const char *eq = strchr(s, '=');
    size_t n = eq ? (size_t)(eq - s) : strlen(s);
    char buf[256];
    if (n > sizeof buf - 16)
      n = sizeof buf - 16;
    memcpy(buf, s, n);
    memcpy(buf + n, "=<redacted>", sizeof "=<redacted>");
    /* The name cut short may end inside a UTF-8 sequence: then the whole entry goes. */
    json_t *r = json_string(buf);
    if (r == NULL)
      r = json_string("<redacted>");
    if (json_array_set_new(env, i, r) != 0)
      return -1;
  }
  return 0;
}

static int scrub_doc(json_t *doc)
{
  if (!json_is_object(doc))
    return 0;
  if (scrub_env_object(json_object_get(doc, "Environment")) != 0)
    return -1;
  json_t *proc = json_object_get(doc, "OciProcess");
  if (json_is_object(proc) && scrub_env_array(json_object_get(proc, "env")) != 0)
    return -1;
  json_t *spec = json_object_get(doc, "OciSpecification");
  if (json_is_object(spec)) {
    proc = json_object_get(spec, "process");
    if (json_is_object(proc) && scrub_env_array(json_object_get(proc, "env")) != 0)
      return -1;
  }
  return 0;
}

/* Scrub a JSON-in-a-string field in place. A string that does not parse holds nothing to
 * scrub as JSON, but may still hold a secret: it is replaced whole. 0, or -1 when a step
 * failed (no memory): then nothing is logged. */
static int scrub_string_field(json_t *obj, const char *key)
{
  json_t *v = json_object_get(obj, key);
  if (!json_is_string(v))
    return 0;
  json_t *inner = json_loads(json_string_value(v), 0, NULL);
  /* Scrubbed only when read exactly: jansson's parser can lose bytes of a string when an
   * allocation fails (a key "OciSpecification" read as "OciSpecificatin" hides its env
   * from the scrub), so the document must write back as the very text it came from. The
   * library's own documents do (compact, in order); any other text is replaced whole. */
  char *again = inner != NULL ? cow__json_text(inner, JSON_COMPACT) : NULL;
  int exact = again != NULL && strcmp(again, json_string_value(v)) == 0;
  cow__free(again);
  if (!exact) {
    json_decref(inner);
    return json_object_set_new(obj, key, json_string("<redacted: not compact JSON as read>"));
  }
  int rc = scrub_doc(inner);
  json_t *text = rc == 0 ? json_text(inner) : NULL;
  json_decref(inner);
  return text != NULL && json_object_set_new(obj, key, text) == 0 ? 0 : -1;
}

char *cow__proto_log_text(const json_t *body)
{
  json_t *copy = json_deep_copy(body);
  if (copy == NULL)
    return NULL;
  json_t *settings = json_object_get(copy, "Settings");
  char *s = NULL;
  if ((!json_is_object(settings) || scrub_string_field(settings, "ProcessParameters") == 0) &&
      scrub_string_field(copy, "ContainerConfig") == 0)
    s = cow__proto_dump(copy);
  json_decref(copy);
  return s;
}

char *cow__proto_log_payload(const char *payload, size_t len)
{
  json_t *body = json_loadb(payload, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
  /* Logged only when read exactly (see scrub_string_field): a key that lost a byte in a
   * failed allocation would hide what it holds from the scrub. The requests the library
   * writes read back byte for byte (tests/guest/test_protocol.c). */
  char *again = body != NULL ? cow__json_text(body, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
  int exact = again != NULL && strlen(again) == len && memcmp(again, payload, len) == 0;
  cow__free(again);
  char *s = exact ? cow__proto_log_text(body) : NULL;
  json_decref(body);
  return s;
}

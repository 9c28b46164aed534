/* Fuzz target: what the host makes of a guest's JSON: responses to each request type
 * (cow__proto_parse_response: the checks of hcsshim's decoder, JSON-in-a-string fields),
 * the error built from a failed one, the container notification, and the scrubbed log
 * text of a parsed body. The first byte picks the request type (or the notification); the
 * rest is the payload, handed over NUL-terminated one byte past its end as the frame
 * decoder does. Properties: the flat scanner and jansson give the same verdict and fields;
 * success gives an object and no error, and (round trip) the decoded body, Result,
 * ErrorMessage and notification ContainerId and Type are exactly what the input says;
 * failure gives exactly the returned code with a message; a failed response's error has a
 * negative code and a message. Also a request body as it is logged: no environment value
 * of the documents it carries reaches the text. Seeds: every frame of the conformance
 * recordings, and tests/fuzz/corpus/guest. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/alloc.h"
#include "core/error.h"
#include "fuzz/fuzz.h"
#include "fuzz/recording-seeds.h"
#include "guest/frame.h"
#include "guest/protocol.h"

static const uint32_t requests[] = {
    COW__MSG_CREATE,
    COW__MSG_START,
    COW__MSG_SHUTDOWN_GRACEFUL,
    COW__MSG_SHUTDOWN_FORCED,
    COW__MSG_EXECUTE_PROCESS,
    COW__MSG_WAIT_FOR_PROCESS,
    COW__MSG_SIGNAL_PROCESS,
    COW__MSG_RESIZE_CONSOLE,
    COW__MSG_GET_PROPERTIES,
    COW__MSG_MODIFY_SETTINGS,
    COW__MSG_NEGOTIATE_PROTOCOL,
    COW__MSG_DUMP_STACKS,
    COW__MSG_DELETE_CONTAINER_STATE,
};
#define NREQ (sizeof requests / sizeof requests[0])

/* The payload as jansson alone reads it (null counts as {}), to compare what the library
 * decoded with its input: NULL when it is not an object. */
static json_t *reference(const uint8_t *payload, size_t len)
{
  json_t *v = json_loadb((const char *)payload, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
  if (json_is_null(v)) {
    json_decref(v);
    return json_object();
  }
  if (!json_is_object(v)) {
    json_decref(v);
    return NULL;
  }
  return v;
}

/* A string field as decoded (`got`, a C string) against the input's: equal, or absent
 * (NULL) when the input has no string there. */
static void same_string(const char *got, const json_t *ref, const char *key)
{
  const json_t *v = json_object_get(ref, key);
  if (!json_is_string(v)) {
    FUZZ_CHECK(got == NULL);
    return;
  }
  FUZZ_CHECK(got != NULL && strcmp(got, json_string_value(v)) == 0);
}

/* The typed results of a GetProperties answer's Properties string: a list whose pids are
 * all 0..UINT32_MAX, or COW_EPROTOCOL with a message; statistics whose bits name only
 * figures that may be non-zero, or COW_EPROTOCOL with all figures zero. */
static void properties(const char *props)
{
  cow_process_list_t *l = NULL;
  cow_error_t err = COW_ERROR_INIT;
  int rc = cow__proto_parse_process_list(&l, props, "fuzz", "id", &err);
  FUZZ_CHECK(rc == 0 ? l != NULL && err.code == 0
                     : rc == COW_EPROTOCOL && l == NULL && err.message != NULL);
  for (size_t i = 0; l != NULL && i < l->count; i++)
    FUZZ_CHECK(l->items[i].pid >= 0 && l->items[i].pid <= 0xFFFFFFFFll &&
               l->items[i].image_name == NULL);
  cow__free(l);
  cow_error_clear(&err);
  cow_statistics_t st;
  rc = cow__proto_parse_lcow_metrics(&st, props, "fuzz", "id", &err);
  FUZZ_CHECK(rc == 0 || (rc == COW_EPROTOCOL && err.message != NULL && st.have == 0 &&
                         st.cpu_total_ns == 0 && st.memory_usage_bytes == 0));
  if (!(st.have & COW_STATS_MEMORY_LIMIT))
    FUZZ_CHECK(st.memory_limit_bytes == 0);
  if (!(st.have & COW_STATS_PROCESS_COUNT))
    FUZZ_CHECK(st.process_count == 0);
  cow_error_clear(&err);
}

static void response(uint32_t type, const uint8_t *payload, size_t len)
{
  struct cow__proto_resp r;
  memset(&r, 0, sizeof r);
  cow_error_t err = COW_ERROR_INIT;
  int rc = cow__proto_parse_response(type, payload, len, &r, &err);
  /* The flat scanner (no jansson) and jansson agree: same verdict, same fields. */
  struct cow__proto_resp full;
  cow_error_t ferr = COW_ERROR_INIT;
  int frc = cow__proto_parse_response_full(type, payload, len, &full, &ferr);
  FUZZ_CHECK(frc == rc);
  cow_error_clear(&ferr);
  if (rc != 0) {
    FUZZ_CHECK(rc < 0 && err.code == rc && err.message != NULL);
    cow_error_clear(&err);
    return;
  }
  FUZZ_CHECK(json_is_object(full.body) && full.result == r.result);
  FUZZ_CHECK(cow__proto_resp_int(&full, "ProcessId", -7) ==
             cow__proto_resp_int(&r, "ProcessId", -7));
  FUZZ_CHECK(cow__proto_resp_int(&full, "ExitCode", -7) == cow__proto_resp_int(&r, "ExitCode", -7));
  FUZZ_CHECK((full.message == NULL) == (r.message == NULL));
  cow__proto_resp_clear(&r);
  r = full; /* the rest looks at the whole object */
  FUZZ_CHECK(err.code == 0);
  FUZZ_CHECK(json_is_object(r.body));
  /* Round trip: what was decoded is what was sent, nothing added, dropped or altered. */
  json_t *ref = reference(payload, len);
  FUZZ_CHECK(ref != NULL && json_equal(ref, r.body));
  const json_t *result = json_object_get(ref, "Result");
  FUZZ_CHECK(r.result == (json_is_integer(result) ? (int32_t)json_integer_value(result) : 0));
  same_string(r.message, ref, "ErrorMessage");
  json_decref(ref);
  if (r.result != 0) {
    cow_error_t e = COW_ERROR_INIT;
    int code = cow__proto_resp_error(&r, "fuzz", "id", &e);
    FUZZ_CHECK(code < 0 && e.code == code && e.message != NULL);
    cow_error_clear(&e);
  }
  char *text = cow__proto_log_text(r.body);
  FUZZ_CHECK(text != NULL);
  cow__free(text);
  if (type == COW__MSG_GET_PROPERTIES)
    properties(cow__proto_str(r.body, "Properties"));
  cow__proto_resp_clear(&r);
}

static void notification(const uint8_t *payload, size_t len)
{
  struct cow__proto_notification n;
  memset(&n, 0, sizeof n);
  cow_error_t err = COW_ERROR_INIT;
  int rc = cow__proto_parse_notification(payload, len, &n, &err);
  if (rc != 0) {
    FUZZ_CHECK(rc < 0 && err.code == rc && err.message != NULL);
    cow_error_clear(&err);
    return;
  }
  FUZZ_CHECK(n.container_id != NULL && n.type != NULL);
  json_t *ref = reference(payload, len);
  FUZZ_CHECK(ref != NULL && json_equal(ref, n.body));
  /* The id routes the notification: exactly the input's, or "" (matching no container)
   * when the input's holds a NUL that a C string would cut short. */
  const json_t *id = json_object_get(ref, "ContainerId");
  if (!json_is_string(id))
    FUZZ_CHECK(n.container_id[0] == '\0');
  else if (strlen(json_string_value(id)) == json_string_length(id))
    FUZZ_CHECK(strcmp(n.container_id, json_string_value(id)) == 0);
  else
    FUZZ_CHECK(n.container_id[0] == '\0');
  const json_t *type = json_object_get(ref, "Type");
  FUZZ_CHECK(strcmp(n.type, json_is_string(type) ? json_string_value(type) : "") == 0);
  json_decref(ref);
  cow__proto_notification_clear(&n);
}

/* How often `needle` occurs in `hay`. */
static int occurrences(const char *hay, const char *needle)
{
  int n = 0;
  for (const char *p = strstr(hay, needle); p != NULL; p = strstr(p + 1, needle))
    n++;
  return n;
}

/* An environment value worth tracking: long enough not to occur by chance, and written
 * verbatim at any depth of JSON-in-a-string (printable ASCII without quote or backslash). */
static int trackable(const char *v)
{
  size_t n = strlen(v);
  if (n < 8)
    return 0;
  for (size_t i = 0; i < n; i++)
    if (v[i] < 0x20 || v[i] > 0x7e || v[i] == '"' || v[i] == '\\')
      return 0;
  return 1;
}

/* A value the plain dump shows exactly once must not show in the scrubbed text. */
static void hidden(const char *value, const char *plain, const char *scrubbed)
{
  if (trackable(value) && occurrences(plain, value) == 1)
    FUZZ_CHECK(strstr(scrubbed, value) == NULL);
}

static void env_array_hidden(const json_t *env, const char *plain, const char *scrubbed)
{
  size_t i;
  const json_t *v;
  json_array_foreach(env, i, v)
  {
    const char *eq = json_is_string(v) ? strchr(json_string_value(v), '=') : NULL;
    if (eq != NULL)
      hidden(eq + 1, plain, scrubbed);
  }
}

/* Every environment value of the document in string field `key` of `obj`. */
static void doc_hidden(const json_t *obj, const char *key, const char *plain, const char *scrubbed)
{
  const json_t *s = json_object_get(obj, key);
  json_t *doc = json_is_string(s) ? json_loads(json_string_value(s), 0, NULL) : NULL;
  const char *k;
  json_t *v;
  json_object_foreach(json_object_get(doc, "Environment"), k, v)
  {
    if (json_is_string(v))
      hidden(json_string_value(v), plain, scrubbed);
  }
  env_array_hidden(json_object_get(json_object_get(doc, "OciProcess"), "env"), plain, scrubbed);
  env_array_hidden(
      json_object_get(json_object_get(json_object_get(doc, "OciSpecification"), "process"), "env"),
      plain, scrubbed);
  json_decref(doc);
}

/* A request body as the library logs it (cow__proto_log_text): the values of environment
 * variables in the documents it carries (ContainerConfig, Settings.ProcessParameters) never
 * reach the text; secrets stay out of logs. */
static void request_log(const uint8_t *payload, size_t len)
{
  json_t *body = json_loadb((const char *)payload, len, 0, NULL);
  if (!json_is_object(body)) {
    json_decref(body);
    return;
  }
  char *scrubbed = cow__proto_log_text(body);
  char *plain = cow__proto_dump(body);
  FUZZ_CHECK(scrubbed != NULL && plain != NULL);
  doc_hidden(body, "ContainerConfig", plain, scrubbed);
  doc_hidden(json_object_get(body, "Settings"), "ProcessParameters", plain, scrubbed);
  cow__free(scrubbed);
  cow__free(plain);
  json_decref(body);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  if (size < 1)
    return 0;
  size_t sel = data[0] % (NREQ + 2);
  size_t len = size - 1;
  uint8_t *payload = malloc(len + 1); /* exact size: reading past the end is caught */
  if (payload == NULL)
    return 0;
  memcpy(payload, data + 1, len);
  payload[len] = 0;
  if (sel == NREQ + 1)
    request_log(payload, len);
  else if (sel == NREQ)
    notification(payload, len);
  else
    response(requests[sel], payload, len);
  free(payload);
  return 0;
}

static void seeds_of(const cow_recording_t *rec, cow_fuzz_add_fn add, void *arg)
{
  for (size_t k = 0; k < rec->count; k++) {
    const cow_rec_t *r = &rec->recs[k];
    if (r->kind != COW_REC_FRAME || r->data_is_b64)
      continue;
    size_t sel = NREQ;
    if (r->dir == COW_REC_HOST_TO_GCS) {
      sel = NREQ + 1; /* a request the library sent, as it logs it */
    } else if (cow__frame_kind(r->type) == COW__FRAME_KIND_RESPONSE) {
      uint32_t req = COW__FRAME_KIND_REQUEST | (r->type & ~COW__FRAME_KIND_MASK);
      for (sel = 0; sel < NREQ && requests[sel] != req; sel++)
        ;
      if (sel == NREQ)
        continue; /* a response to a request the host never sends */
    }
    uint8_t *buf = malloc(1 + r->data_len);
    if (buf == NULL)
      abort();
    buf[0] = (uint8_t)sel;
    memcpy(buf + 1, r->data, r->data_len);
    add(buf, 1 + r->data_len, arg);
    free(buf);
  }
}

int cow_fuzz_seeds(cow_fuzz_add_fn add, void *arg)
{
  return cow_fuzz_seeds_from_recordings(seeds_of, add, arg);
}

/* The request bodies (src/guest/protocol.c) are written as text, without jansson trees
 * (src/guest/json-writer.c). They must be byte for byte what serialising the equivalent
 * jansson tree gives: the same key order, the same escapes, the same refusal of text that is
 * not UTF-8. Each builder is compared with a reference tree built here, over fixed edge cases
 * and 20,000 pseudo-random strings (every byte value, broken and valid UTF-8).
 *
 * The answers likewise: the flat scanner that reads the common ones without jansson must
 * give the verdict and the fields jansson gives, over hand-picked answers and 40,000
 * mutations of them, for each kind of request. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/alloc.h"
#include "cow/alloc.h"
#include "cow/error.h"
#include "cow/log.h"
#include "guest/frame.h"
#include "guest/protocol.h"
#include "support/tjson.h"
#include "support/alloc-fail.h"

/* ---- the reference: the trees the builders replaced ---- */

static json_t *ref_base(const char *cid, const struct cow__proto_trace *t)
{
  json_t *o = json_object();
  json_t *id = json_string(cid);
  if (id == NULL) {
    json_decref(o);
    return NULL; /* not UTF-8 */
  }
  TJ_OK(json_object_set_new(o, "ContainerId", id));
  TJ_OK(json_object_set_new(o, "ActivityId", json_string(COW__NULL_CONTAINER_ID)));
  if (t != NULL && t->traceparent != NULL) {
    json_t *otsc = json_object();
    json_t *tp = json_string(t->traceparent);
    json_t *ts = t->tracestate && t->tracestate[0] ? json_string(t->tracestate) : NULL;
    if (tp == NULL || (t->tracestate && t->tracestate[0] && ts == NULL)) {
      json_decref(tp);
      json_decref(otsc);
      json_decref(o);
      return NULL;
    }
    TJ_OK(json_object_set_new(otsc, "traceparent", tp));
    if (ts)
      TJ_OK(json_object_set_new(otsc, "tracestate", ts));
    TJ_OK(json_object_set_new(o, "otsc", otsc));
  }
  return o;
}

static json_t *text_of(const json_t *doc)
{
  char *s = json_dumps(doc, JSON_COMPACT | JSON_ENCODE_ANY);
  json_t *v = json_string(s);
  free(s);
  return v;
}

/* Compare the builder's result with the reference tree (NULL: the reference refused). */
static void same(int rc, struct cow__payload *p, json_t *ref, const char *what)
{
  if (ref == NULL) {
    if (rc != COW_EINVAL)
      fail_msg("%s: the reference refused the text, the builder returned %d", what, rc);
    return;
  }
  if (rc != 0)
    fail_msg("%s: builder returned %d", what, rc);
  char *want = json_dumps(ref, JSON_COMPACT);
  if (p->len != strlen(want) || memcmp(p->data, want, p->len) != 0)
    fail_msg("%s:\n  written   %.*s\n  reference %s", what, (int)p->len, p->data, want);
  free(want);
  json_decref(ref);
  cow__proto_payload_release(p);
}

static void check_all(const char *cid, const struct cow__proto_trace *t)
{
  struct cow__payload p;
  json_t *ref;
  json_t *doc = json_pack("{s:[s,s],s:s,s:{s:s},s:b}", "CommandArgs", "sh", cid, "WorkingDirectory",
                          "/", "Environment", "K", "v\"\\\n", "CreateStdOutPipe", 1);
  const uint32_t ports[3] = {0, 10001, 10002};
  if (doc == NULL) /* `cid` is not UTF-8: a document cannot hold it, test the rest */
    doc = json_pack("{s:[s]}", "CommandArgs", "sh");

  same(cow__proto_request_base(&p, cid, t), &p, ref_base(cid, t), "base");

  ref = ref_base(cid, t);
  if (ref) {
    TJ_OK(json_object_set_new(ref, "ProcessId", json_integer(4294967295u)));
    TJ_OK(json_object_set_new(ref, "TimeoutInMs", json_integer(COW__WAIT_INFINITE)));
  }
  same(cow__proto_wait(&p, cid, 4294967295u, COW__WAIT_INFINITE, t), &p, ref, "wait");

  json_t *opts = json_pack("{s:i}", "Signal", 15);
  ref = ref_base(cid, t);
  if (ref) {
    TJ_OK(json_object_set_new(ref, "ProcessId", json_integer(7)));
    TJ_OK(json_object_set(ref, "Options", opts));
  }
  same(cow__proto_signal(&p, cid, 7, opts, t), &p, ref, "signal");
  ref = ref_base(cid, t);
  if (ref)
    TJ_OK(json_object_set_new(ref, "ProcessId", json_integer(0)));
  same(cow__proto_signal(&p, cid, 0, NULL, t), &p, ref, "kill");
  json_decref(opts);

  ref = ref_base(cid, t);
  if (ref) {
    TJ_OK(json_object_set_new(ref, "ProcessId", json_integer(9)));
    TJ_OK(json_object_set_new(ref, "Height", json_integer(65535)));
    TJ_OK(json_object_set_new(ref, "Width", json_integer(1)));
  }
  same(cow__proto_resize(&p, cid, 9, 1, 65535, t), &p, ref, "resize");

  ref = ref_base(cid, t);
  if (ref) {
    json_t *settings = json_object();
    json_t *relay = json_object();
    TJ_OK(json_object_set_new(settings, "ProcessParameters", text_of(doc)));
    TJ_OK(json_object_set_new(relay, "StdOut", json_integer(ports[1])));
    TJ_OK(json_object_set_new(relay, "StdErr", json_integer(ports[2])));
    TJ_OK(json_object_set_new(settings, "VsockStdioRelaySettings", relay));
    TJ_OK(json_object_set_new(ref, "Settings", settings));
  }
  same(cow__proto_execute(&p, cid, doc, ports, t), &p, ref, "execute");

  ref = ref_base(cid, t);
  if (ref)
    TJ_OK(json_object_set_new(ref, "ContainerConfig", text_of(doc)));
  same(cow__proto_create(&p, cid, doc, t), &p, ref, "create");

  ref = ref_base(cid, t);
  if (ref)
    TJ_OK(json_object_set_new(ref, "Query", text_of(doc)));
  same(cow__proto_get_properties(&p, cid, doc, t), &p, ref, "get_properties");

  ref = ref_base(cid, t);
  if (ref)
    TJ_OK(json_object_set(ref, "Request", doc));
  same(cow__proto_modify(&p, cid, doc, t), &p, ref, "modify");

  ref = ref_base(COW__NULL_CONTAINER_ID, t);
  if (ref) {
    TJ_OK(json_object_set_new(ref, "MinimumVersion", json_integer(4)));
    TJ_OK(json_object_set_new(ref, "MaximumVersion", json_integer(4)));
  }
  same(cow__proto_negotiate(&p, 4, 4, t), &p, ref, "negotiate");
  json_decref(doc);
}

static const struct cow__proto_trace trace = {
    "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "vendor=value,other=\"q\""};

static void edge_cases(void **state)
{
  (void)state;
  static const char *const ids[] = {
      "",
      COW__NULL_CONTAINER_ID,
      "quote\" backslash\\ slash/",
      "\b\f\n\r\t\x01\x1f\x7f",
      "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x90\x84",
      "\xc3",             /* truncated sequence */
      "\xc0\xaf",         /* overlong '/' */
      "\xed\xa0\x80",     /* a surrogate */
      "\xf4\x90\x80\x80", /* beyond U+10FFFF */
      "\xff",
  };
  const struct cow__proto_trace no_state = {trace.traceparent, ""};
  for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
    check_all(ids[i], NULL);
    check_all(ids[i], &trace);
    check_all(ids[i], &no_state);
  }
  const struct cow__proto_trace bad_state = {trace.traceparent, "\xe2\x82"};
  struct cow__payload p;
  assert_int_equal(cow__proto_request_base(&p, "c", &bad_state), COW_EINVAL);
}

static uint64_t rnd_state = 0x9E3779B97F4A7C15ull;
static uint32_t rnd(void)
{
  rnd_state ^= rnd_state << 13;
  rnd_state ^= rnd_state >> 7;
  rnd_state ^= rnd_state << 17;
  return (uint32_t)(rnd_state >> 11);
}

static void random_strings(void **state)
{
  (void)state;
  static const char *const pieces[] = {"a",
                                       "\"",
                                       "\\",
                                       "\n",
                                       "\x01",
                                       "\x7f",
                                       "\xc3\xa9",
                                       "\xe2\x82\xac",
                                       "\xf0\x9f\x90\x84",
                                       "\xc3",
                                       "\x80",
                                       "\xff",
                                       "\xed\xa0\x80",
                                       "\xe0\x80\x80",
                                       "/"};
  for (int i = 0; i < 20000; i++) {
    char s[64] = "";
    size_t len = 0;
    int n = (int)(rnd() % 8);
    for (int k = 0; k < n; k++) {
      const char *piece = rnd() % 4 ? pieces[rnd() % (sizeof pieces / sizeof pieces[0])] : NULL;
      char raw[2] = {(char)(1 + rnd() % 255), 0};
      if (piece == NULL)
        piece = raw;
      size_t pl = strlen(piece);
      if (len + pl >= sizeof s)
        break;
      memcpy(s + len, piece, pl + 1);
      len += pl;
    }
    struct cow__payload p;
    same(cow__proto_request_base(&p, s, i % 2 ? &trace : NULL), &p,
         ref_base(s, i % 2 ? &trace : NULL), "random base");
  }
}

/* ---- answers: the flat scanner against jansson ---- */

static const uint32_t answer_types[] = {COW__MSG_SIGNAL_PROCESS,   COW__MSG_EXECUTE_PROCESS,
                                        COW__MSG_WAIT_FOR_PROCESS, COW__MSG_CREATE,
                                        COW__MSG_MODIFY_SETTINGS,  COW__MSG_NEGOTIATE_PROTOCOL};
static int flat_accepted;

/* The same verdict and the same fields, whichever way the answer was read. */
static void agree(const char *payload, size_t len)
{
  /* The frame decoder hands payloads over NUL-terminated one byte past their end. */
  char *copy = malloc(len + 1);
  memcpy(copy, payload, len);
  copy[len] = '\0';
  for (size_t t = 0; t < sizeof answer_types / sizeof answer_types[0]; t++) {
    struct cow__proto_resp a, b;
    cow_error_t ea = COW_ERROR_INIT, eb = COW_ERROR_INIT;
    int ra = cow__proto_parse_response(answer_types[t], (const uint8_t *)copy, len, &a, &ea);
    int rb = cow__proto_parse_response_full(answer_types[t], (const uint8_t *)copy, len, &b, &eb);
    if (ra != rb)
      fail_msg("type 0x%08x, answer %.*s: %d read flat, %d through jansson", answer_types[t],
               (int)len, payload, ra, rb);
    if (ra == 0) {
      flat_accepted += a.body == NULL;
      assert_int_equal(a.result, b.result);
      assert_true((a.message == NULL) == (b.message == NULL));
      static const char *const keys[] = {"ProcessId", "ExitCode"};
      for (int k = 0; k < 2; k++)
        if (cow__proto_resp_int(&a, keys[k], -7) != cow__proto_resp_int(&b, keys[k], -7))
          fail_msg("type 0x%08x, answer %.*s: %s differs", answer_types[t], (int)len, payload,
                   keys[k]);
    } else {
      assert_string_equal(ea.message, eb.message);
    }
    cow__proto_resp_clear(&a);
    cow__proto_resp_clear(&b);
    cow_error_clear(&ea);
    cow_error_clear(&eb);
  }
  free(copy);
}

#define GUID "\"834b1e7f-3925-42ca-aa4c-53f30465318e\""
static const char *const answers[] = {
    "{\"Result\":0,\"ActivityId\":" GUID "}",
    "{\"Result\":0,\"ActivityId\":" GUID ",\"ExitCode\":137}",
    "{\"Result\":0,\"ActivityId\":" GUID ",\"ProcessId\":4294967295}",
    "{\"Result\":0,\"ProcessId\":4294967296}",
    "{\"Result\":0,\"ExitCode\":-1}",
    "{\"Result\":0,\"ExitCode\":\"1\"}",
    "{\"Result\":0,\"ExitCode\":1.0}",
    "{\"Result\":0,\"ExitCode\":1e2}",
    "{\"Result\":0,\"ExitCode\":01}",
    "{\"Result\":-0,\"ExitCode\":-0}",
    "{\"Result\":0,\"ExitCode\":null,\"ProcessId\":null}",
    "{\"Result\":0,\"ExitCode\":1,\"ExitCode\":2}",
    "{\"Result\":-2147483648}",
    "{\"Result\":2147483648}",
    "{\"Result\":-2147024809,\"ActivityId\":" GUID "}",
    "{\"Result\":\"0\"}",
    "{\"Result\":true}",
    "{\"Result\":null,\"ActivityId\":null}",
    "{\"Result\":123456789012345678901}",
    "{\"Result\":0,\"ActivityId\":\"not-a-guid\"}",
    "{\"Result\":0,\"ActivityId\":\"834b1e7f-3925-42ca-aa4c-53f30465318g\"}",
    "{\"Result\":0,\"ActivityId\":12}",
    "{\"Result\":-2147024809,\"ErrorMessage\":\"no such process\"}",
    "{\"Result\":-1,\"ErrorMessage\":null,\"ErrorRecords\":null}",
    "{\"Result\":-1,\"ErrorMessage\":5}",
    "{\"Result\":-1,\"ErrorRecords\":[]}",
    "{\"Result\":-1,\"ErrorRecords\":{}}",
    "{ \"Result\":0}",
    "{\"Result\" : 0}",
    "{\"Result\":0} ",
    "{\"Result\":0,\"X\":{\"a\":[1,2]}}",
    "{\"Result\":0,\"X\":\"a\\nb\"}",
    "{\"Result\":0,\"X\":\"caf\xc3\xa9\"}",
    "{\"Result\":0,\"X\":\"\xc3\"}",
    "{\"Result\":0,\"X\":true,\"Y\":false,\"Z\":null,\"\":1}",
    "{\"Result\":0,\"SelectedProtocolVersion\":4}",
    "{\"Result\":0,\"SelectedProtocolVersion\":-4}",
    "{\"Result\":0,",
    "{\"Result\":0}}",
    "{\"Result\":}",
    "{\"Result\"0}",
    "{\"Result\":0,}",
    "{}",
    "{",
    "null",
    "[]",
    "\"\"",
    "",
    "{\"Result\":tru}",
    "{\"Result\":0,\"X\":\"\x01\"}",
};

/* Signal options read without jansson: only exactly {"Signal":N} with one or two digits, and
 * then the request is byte for byte what the jansson path writes for the same text. */
static void signal_options_flat(void **state)
{
  (void)state;
  const char *const yes[] = {"{\"Signal\":0}", "{\"Signal\":9}", "{\"Signal\":15}",
                             "{\"Signal\":64}", "{\"Signal\":99}"};
  for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++) {
    uint32_t n = 1000;
    assert_int_equal(cow__proto_signal_flat(yes[i], &n), 1);
    json_t *o = json_loads(yes[i], 0, NULL);
    assert_non_null(o);
    assert_int_equal(n, json_integer_value(json_object_get(o, "Signal")));
    struct cow__payload a, b;
    assert_int_equal(cow__proto_signal_number(&a, "c1", 7, n, NULL), 0);
    assert_int_equal(cow__proto_signal(&b, "c1", 7, o, NULL), 0);
    if (a.len != b.len || memcmp(a.data, b.data, a.len) != 0)
      fail_msg("%s:\n  flat    %.*s\n  jansson %.*s", yes[i], (int)a.len, a.data, (int)b.len,
               b.data);
    cow__proto_payload_release(&a);
    cow__proto_payload_release(&b);
    json_decref(o);
  }
  const char *const no[] = {"",
                            "{}",
                            "{\"Signal\":",
                            "{\"Signal\": 15}",
                            "{\"Signal\":15 }",
                            "{\"Signal\":15} ",
                            "{\"Signal\":015}",
                            "{\"Signal\":00}",
                            "{\"Signal\":-1}",
                            "{\"Signal\":100}",
                            "{\"Signal\":1e1}",
                            "{\"Signal\":1.0}",
                            "{\"Signal\":null}",
                            "{\"Signal\":\"15\"}",
                            "{\"signal\":15}",
                            "{\"Signal\":15,\"X\":1}",
                            "{\"Signal\":15}}"};
  for (size_t i = 0; i < sizeof no / sizeof no[0]; i++) {
    uint32_t n = 1000;
    if (cow__proto_signal_flat(no[i], &n) != 0)
      fail_msg("read without jansson: %s", no[i]);
    assert_int_equal(n, 1000); /* untouched */
  }
}

static void flat_answers_agree_with_jansson(void **state)
{
  (void)state;
  flat_accepted = 0;
  for (size_t i = 0; i < sizeof answers / sizeof answers[0]; i++)
    agree(answers[i], strlen(answers[i]));
  assert_true(flat_accepted > 0); /* the scanner did read some of them */
  /* Mutations of each: a byte replaced, inserted or removed, 40,000 times. */
  static const char bytes[] = "{}[]:,\"\\0123456789-.eE+tfnul xX\x01\xc3\xa9";
  for (int i = 0; i < 40000; i++) {
    const char *base = answers[rnd() % (sizeof answers / sizeof answers[0])];
    char buf[256];
    size_t len = strlen(base);
    memcpy(buf, base, len);
    int edits = 1 + (int)(rnd() % 3);
    for (int e = 0; e < edits; e++) {
      size_t at = len ? rnd() % (len + 1) : 0;
      char c = bytes[rnd() % (sizeof bytes - 1)];
      switch (rnd() % 3) {
      case 0:
        if (at < len)
          buf[at] = c;
        break;
      case 1:
        if (len + 1 < sizeof buf) {
          memmove(buf + at + 1, buf + at, len - at);
          buf[at] = c;
          len++;
        }
        break;
      default:
        if (at < len) {
          memmove(buf + at, buf + at + 1, len - at - 1);
          len--;
        }
        break;
      }
    }
    agree(buf, len);
  }
}

/* More than a frame holds is refused on the written bytes (R3), and nothing is left. */
static void too_large(void **state)
{
  (void)state;
  size_t n = COW__FRAME_MAX_SIZE;
  char *big = malloc(n + 1);
  memset(big, 'x', n);
  big[n] = '\0';
  json_t *doc = json_pack("{s:s}", "Pad", big);
  struct cow__payload p;
  assert_int_equal(cow__proto_modify(&p, "c", doc, NULL), COW_EMSG_TOO_LARGE);
  assert_int_equal(cow__proto_execute(&p, "c", doc, (const uint32_t[3]){0, 0, 0}, NULL),
                   COW_EMSG_TOO_LARGE);
  assert_int_equal(cow__proto_request_base(&p, big, NULL), COW_EMSG_TOO_LARGE);
  /* The largest body that fits one frame is written whole. */
  size_t fixed = strlen("{\"ContainerId\":\"c\",\"ActivityId\":\"" COW__NULL_CONTAINER_ID
                        "\",\"Request\":{\"Pad\":\"\"}}");
  big[COW__FRAME_MAX_SIZE - COW__FRAME_HEADER_SIZE - fixed] = '\0';
  json_decref(doc);
  doc = json_pack("{s:s}", "Pad", big);
  assert_int_equal(cow__proto_modify(&p, "c", doc, NULL), 0);
  assert_int_equal(p.len, COW__FRAME_MAX_SIZE - COW__FRAME_HEADER_SIZE);
  cow__proto_payload_release(&p);
  json_decref(doc);
  free(big);
}

/* A string that is not UTF-8 is refused with COW_EINVAL, and the log says which key: the
 * asynchronous calls have no error to carry the name. Other failures log nothing here. */
static char logged[4][256];
static int nlogged;

static void capture(cow_log_level_t level, const char *subsystem, const char *message, void *data)
{
  (void)data;
  assert_int_equal(level, COW_LOG_ERROR);
  assert_string_equal(subsystem, "guest");
  assert_true(nlogged < 4);
  snprintf(logged[nlogged++], sizeof logged[0], "%s", message);
}

static void bad_utf8_is_logged_with_its_key(void **state)
{
  (void)state;
  struct cow__payload p;
  cow_log_set(COW_LOG_ERROR, capture, NULL);
  nlogged = 0;
  assert_int_equal(cow__proto_request_base(&p, "c\xff", NULL), COW_EINVAL);
  struct cow__proto_trace t = {"00-\xc0\xaf", NULL};
  assert_int_equal(cow__proto_request_base(&p, "c", &t), COW_EINVAL);
  t.traceparent = "00-ok";
  t.tracestate = "k=v";
  assert_int_equal(cow__proto_signal_number(&p, "c", 1, 15, &t), 0); /* nothing logged */
  cow__proto_payload_release(&p);
  t.tracestate = "k=\xed\xa0\x80";
  assert_int_equal(cow__proto_request_base(&p, "c", &t), COW_EINVAL);
  cow_log_set(COW_LOG_ERROR, NULL, NULL);
  assert_int_equal(nlogged, 3);
  assert_string_equal(
      logged[0], "request refused (COW_EINVAL): the value of \"ContainerId\" is not valid UTF-8");
  assert_string_equal(
      logged[1], "request refused (COW_EINVAL): the value of \"traceparent\" is not valid UTF-8");
  assert_string_equal(
      logged[2], "request refused (COW_EINVAL): the value of \"tracestate\" is not valid UTF-8");
}

/* ---- the log text of a request: no secret, even when an allocation fails ---- */

/* Each allocation of cow__proto_log_text() failed in turn: the text is there without any
 * environment value, or not there at all. A replacement whose failure went unchecked would
 * leave the value in the copy that is logged. A document carried as a string that does not
 * parse is replaced whole (it may be anything, a secret included). */
static void log_text_never_shows_a_secret(void **state)
{
  (void)state;
  json_t *body =
      json_loads("{\"ContainerId\":\"c\",\"Settings\":{\"ProcessParameters\":"
                 "\"{\\\"Environment\\\":{\\\"A\\\":\\\"hunter1\\\",\\\"B\\\":\\\"hunter2\\\"},"
                 "\\\"OciProcess\\\":{\\\"env\\\":[\\\"T=hunter3\\\"]}}\"},"
                 "\"ContainerConfig\":\"{\\\"OciSpecification\\\":{\\\"process\\\":{\\\"env\\\":"
                 "[\\\"K=hunter4\\\",\\\"L=hunter5\\\"]}}}\"}",
                 0, NULL);
  assert_non_null(body);
  char *plain = cow__proto_dump(body);
  assert_non_null(strstr(plain, "hunter5")); /* the values are there to be hidden */
  cow__free(plain);
  int complete = 0, failed = 0;
  for (long n = 1; !complete; n++) {
    af_arm(n);
    char *text = cow__proto_log_text(body);
    complete = !af_disarm(); /* the failing allocation came after the call: all were tried */
    if (text == NULL) {
      failed++;
      continue;
    }
    if (strstr(text, "hunter") != NULL)
      fail_msg("allocation %ld failed and the log text shows a value: %s", n, text);
    assert_non_null(strstr(text, "\"ContainerId\":\"c\""));
    cow__free(text);
  }
  assert_true(failed > 5);
  json_decref(body);

  /* The same from the payload as written (the outer body read by jansson too). */
  char *payload = NULL;
  {
    json_t *b = json_loads("{\"ContainerId\":\"c\",\"Settings\":{\"ProcessParameters\":"
                           "\"{\\\"Environment\\\":{\\\"A\\\":\\\"hunter7\\\"}}\"}}",
                           0, NULL);
    assert_non_null(b);
    payload = cow__proto_dump(b);
    json_decref(b);
  }
  assert_non_null(payload);
  complete = 0;
  failed = 0;
  for (long n = 1; !complete; n++) {
    af_arm(n);
    char *text = cow__proto_log_payload(payload, strlen(payload));
    complete = !af_disarm();
    if (text == NULL) {
      failed++;
      continue;
    }
    if (strstr(text, "hunter") != NULL)
      fail_msg("allocation %ld failed and the logged payload shows a value: %s", n, text);
    cow__free(text);
  }
  assert_true(failed > 5);
  char *whole = cow__proto_log_payload(payload, strlen(payload));
  assert_non_null(whole); /* the library's own text is logged */
  assert_non_null(strstr(whole, "<redacted>"));
  cow__free(whole);
  cow__free(payload);

  json_t *odd = json_pack("{s:s}", "ContainerConfig", "not JSON, K=hunter6");
  assert_non_null(odd);
  char *text = cow__proto_log_text(odd);
  assert_non_null(text);
  assert_null(strstr(text, "hunter6"));
  cow__free(text);
  json_decref(odd);
}

int main(void)
{
  af_install(); /* before any libcow call, as the hook requires; nothing fails until af_arm() */
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(edge_cases),
      cmocka_unit_test(random_strings),
      cmocka_unit_test(too_large),
      cmocka_unit_test(flat_answers_agree_with_jansson),
      cmocka_unit_test(signal_options_flat),
      cmocka_unit_test(log_text_never_shows_a_secret),
      cmocka_unit_test(bad_utf8_is_logged_with_its_key),
  };
  return cmocka_run_group_tests_name("guest_protocol", tests, NULL, NULL);
}

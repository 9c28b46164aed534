/* Fuzz target: what the host makes of a guest's JSON: responses to each request type
 * (cow__proto_parse_response: the checks of hcsshim's decoder, JSON-in-a-string fields),
 * the error built from a failed one, the container notification, and the scrubbed log
 * text of a parsed body. The first byte picks the request type (or the notification); the
 * rest is the payload, handed over NUL-terminated one byte past its end as the frame
 * decoder does. Properties: the flat scanner and jansson give the same verdict and fields;
 * success gives an object and no error; failure gives exactly the returned code with a
 * message; a failed response's error has a negative code and a message. Seeds: every guest
 * frame of the conformance recordings. */
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
  if (r.result != 0) {
    cow_error_t e = COW_ERROR_INIT;
    int code = cow__proto_resp_error(&r, "fuzz", "id", &e);
    FUZZ_CHECK(code < 0 && e.code == code && e.message != NULL);
    cow_error_clear(&e);
  }
  char *text = cow__proto_log_text(r.body);
  FUZZ_CHECK(text != NULL);
  cow__free(text);
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
  cow__proto_notification_clear(&n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  if (size < 1)
    return 0;
  size_t sel = data[0] % (NREQ + 1);
  size_t len = size - 1;
  uint8_t *payload = malloc(len + 1); /* exact size: reading past the end is caught */
  if (payload == NULL)
    return 0;
  memcpy(payload, data + 1, len);
  payload[len] = 0;
  if (sel == NREQ)
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
    if (r->kind != COW_REC_FRAME || r->dir != COW_REC_GCS_TO_HOST || r->data_is_b64)
      continue;
    size_t sel = NREQ;
    if (cow__frame_kind(r->type) == COW__FRAME_KIND_RESPONSE) {
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

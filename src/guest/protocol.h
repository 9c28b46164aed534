/* Internal: GCS message bodies <-> JSON (docs/gcs-bridge-protocol.md §2-§6). Builders return new
 * jansson objects (NULL on allocation failure); parsers validate exactly what hcsshim's
 * Go decoder would reject, so a malformed answer is caught here and kills the bridge
 * instead of reaching a caller half-decoded. No I/O, no state. */
#ifndef COW_GUEST_PROTOCOL_H
#define COW_GUEST_PROTOCOL_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "cow/container.h"
#include "cow/error.h"

#define COW__NULL_CONTAINER_ID "00000000-0000-0000-0000-000000000000"
#define COW__PROTOCOL_VERSION  4
#define COW__WAIT_INFINITE     0xFFFFFFFFu

/* HRESULTs the host side interprets (docs/gcs-bridge-protocol.md §2.4, §2.5). */
#define COW__HR_NOT_FOUND          0x80070490u
#define COW__HR_SYSTEM_NOT_FOUND   0xC037010Eu
#define COW__HR_ALREADY_STOPPED    0xC0370110u
#define COW__HR_ALREADY_STOPPED_V1 0x80370110u

/* W3C trace context for RequestBase.otsc (R26); either may be NULL. */
struct cow__proto_trace {
  const char *traceparent;
  const char *tracestate;
};

/* Serialise a body (compact, key order kept) into cow__malloc memory. NULL on failure. */
char *cow__proto_dump(const json_t *body);

/* A request body encoded once, for the wire: the bytes are in `small` when they fit, else
 * in memory from cow__malloc. Caller-owned (usually on the stack); release it with
 * cow__proto_payload_release(). */
struct cow__payload {
  const char *data;
  size_t len;
  char *heap;
  char small[1024];
};
void cow__proto_payload_release(struct cow__payload *p);

/* The request bodies, written straight into `out` as JSON text (json-writer.h): no jansson
 * tree, the key order and escapes of the trees they replace. Each returns 0, or
 * COW_EMSG_TOO_LARGE (more than one frame, header included: R3, so a request is refused
 * before anything is sent and the refusal is synchronous), COW_EINVAL (a string that is not
 * UTF-8), COW_ENOMEM; on failure nothing is left to release.
 *
 * The RequestBase: {"ContainerId":..,"ActivityId":"0000..","otsc":{..}?}. hcsshim never
 * sets ActivityId, so it is always the null GUID; `ocsc` is deprecated and never emitted. */
int cow__proto_request_base(struct cow__payload *out, const char *container_id,
                            const struct cow__proto_trace *trace);
int cow__proto_negotiate(struct cow__payload *out, int min_version, int max_version,
                         const struct cow__proto_trace *trace);
/* `config` is serialised into the ContainerConfig string. */
int cow__proto_create(struct cow__payload *out, const char *cid, const json_t *config,
                      const struct cow__proto_trace *t);
/* ports[i] == 0: stream i not requested (VsockStdioRelaySettings is {} without any). */
int cow__proto_execute(struct cow__payload *out, const char *cid, const json_t *params,
                       const uint32_t ports[3], const struct cow__proto_trace *t);
int cow__proto_wait(struct cow__payload *out, const char *cid, uint32_t pid, uint32_t timeout_ms,
                    const struct cow__proto_trace *t);
/* options NULL: no Options key (SIGKILL in the guest). */
int cow__proto_signal(struct cow__payload *out, const char *cid, uint32_t pid,
                      const json_t *options, const struct cow__proto_trace *t);
/* The same with Options {"Signal":signo}: the bytes cow__proto_signal() writes for that
 * object, without building it. */
int cow__proto_signal_number(struct cow__payload *out, const char *cid, uint32_t pid,
                             uint32_t signo, const struct cow__proto_trace *t);
/* 1 with the number in *signo when `text` is exactly {"Signal":N} (compact, N a JSON integer
 * of one or two digits), as a caller of cow_process_signal() nearly always writes it; else 0,
 * and the text is for jansson, which gives the verdict. */
int cow__proto_signal_flat(const char *text, uint32_t *signo);
int cow__proto_resize(struct cow__payload *out, const char *cid, uint32_t pid, uint16_t width,
                      uint16_t height, const struct cow__proto_trace *t);
int cow__proto_get_properties(struct cow__payload *out, const char *cid, const json_t *query,
                              const struct cow__proto_trace *t);
int cow__proto_modify(struct cow__payload *out, const char *cid, const json_t *request,
                      const struct cow__proto_trace *t);

/* Parse user-supplied JSON text that must be an object. Returns the object or NULL with
 * COW_EINVAL in err. */
json_t *cow__proto_parse_object(const char *text, const char *what, cow_error_t *err);

/* A decoded, validated response. */
struct cow__proto_resp {
  json_t *body;        /* the object (an empty one for a `null` payload), owned; NULL when the
                        * answer was flat enough to be read without jansson (below) */
  int32_t result;      /* HRESULT, signed as on the wire */
  const char *message; /* ErrorMessage or NULL; points into body */
  /* Without a body: the integer fields of the answer that callers read. */
  int64_t process_id, exit_code;
  unsigned has_process_id : 1, has_exit_code : 1;
};

/* Validate a response payload for request type `req_type` (the checks hcsshim's decoder
 * makes: integer ranges, GUID ActivityId, JSON-in-string fields). 0, or COW_EPROTOCOL with
 * the reason in err.
 *
 * Most answers are a flat object of a few integers and a GUID, like
 * {"Result":0,"ActivityId":"…","ExitCode":0}: those are read by a small scanner that accepts
 * only compact JSON without escapes, nesting, reals or non-ASCII text, and only when every
 * check passes; anything else, valid or not, goes through jansson and the checks above,
 * which give the verdict and its message. Read fields with cow__proto_resp_int(). */
int cow__proto_parse_response(uint32_t req_type, const uint8_t *payload, size_t len,
                              struct cow__proto_resp *out, cow_error_t *err);
/* The same through jansson always (tests compare the two). */
int cow__proto_parse_response_full(uint32_t req_type, const uint8_t *payload, size_t len,
                                   struct cow__proto_resp *out, cow_error_t *err);
/* "ProcessId" or "ExitCode" of a parsed answer, or `def` when absent or null. */
int64_t cow__proto_resp_int(const struct cow__proto_resp *r, const char *key, int64_t def);
void cow__proto_resp_clear(struct cow__proto_resp *r);

/* Fill err from a failed response: code from the HRESULT, the guest's message, the
 * ErrorRecords as detail_json. Returns err->code. */
int cow__proto_resp_error(const struct cow__proto_resp *r, const char *operation,
                          const char *object_id, cow_error_t *err);

/* A decoded container notification (§6.4). */
struct cow__proto_notification {
  json_t *body;
  const char *container_id;
  const char *type; /* "GracefulExit", "ForcedExit", "UnexpectedExit", ... or "" */
  const char *operation;
  int32_t result;
};

int cow__proto_parse_notification(const uint8_t *payload, size_t len,
                                  struct cow__proto_notification *out, cow_error_t *err);
void cow__proto_notification_clear(struct cow__proto_notification *n);

/* Whether the ProcessList of a GetProperties `Properties` document (JSON text, NULL:
 * none) names `pid`: 1 or 0; -1 when the document or its ProcessList is malformed. */
int cow__proto_properties_has_pid(const char *properties, uint32_t pid);

/* The ProcessList of a `Properties` document (§4.9: entries with a ProcessId, nothing
 * else; absent or null: no process) as a list (one block, cow__free): 0, or COW_EPROTOCOL
 * with `*err` naming the flaw (COW_ENOMEM). `operation`/`id` name the call in errors. */
int cow__proto_parse_process_list(cow_process_list_t **out, const char *properties,
                                  const char *operation, const char *id, cow_error_t *err);
/* The LCOWMetrics of a `Properties` document (§4.9: containerd's cgroup v1 Metrics in
 * protobuf JSON, zeros left out) as statistics: cpu.usage (ns), memory.usage, pids.current;
 * the timestamp is the host's clock now (the guest gives none). A document without
 * LCOWMetrics, or with a member of the wrong shape, is COW_EPROTOCOL. */
int cow__proto_parse_lcow_metrics(cow_statistics_t *out, const char *properties,
                                  const char *operation, const char *id, cow_error_t *err);

/* Integer field helpers for validated bodies: the value or `def` when absent/null. */
int64_t cow__proto_int(const json_t *obj, const char *key, int64_t def);
const char *cow__proto_str(const json_t *obj, const char *key);

/* Text of a request body for logs, with secrets scrubbed: Environment values and the
 * values of OciProcess/OciSpecification env entries become "<redacted>". From cow__malloc;
 * NULL on failure. */
char *cow__proto_log_text(const json_t *body);
/* The same for an encoded body (`len` bytes of JSON). */
char *cow__proto_log_payload(const char *payload, size_t len);

/* 1 when `s` is a GUID in the 8-4-4-4-12 hex form. */
int cow__proto_is_guid(const char *s);

/* A W3C traceparent: "vv-<32 hex>-<16 hex>-<2 hex>" (version ff is invalid). */
int cow__proto_valid_traceparent(const char *s);

#endif

/* Test support: load the GCS conformance recordings (JSON lines, docs/gcs-bridge-protocol.md §11)
 * and compare a live peer's frames with the recorded ones.
 *
 * Reusable by any test that replays one side of a recording: the host side against the
 * cow-gcs-peer (tests/conformance), or the guest side against the library. Plain C11 +
 * jansson; no libcow internals. */
#ifndef COW_TESTS_CONFORMANCE_RECORDING_H
#define COW_TESTS_CONFORMANCE_RECORDING_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

typedef enum cow_rec_kind {
  COW_REC_SCENARIO,
  COW_REC_FRAME,
  COW_REC_STDIO,
  COW_REC_NOTE,
  COW_REC_RESULT,
  COW_REC_OTHER
} cow_rec_kind_t;

typedef enum cow_rec_dir {
  COW_REC_DIR_NONE,
  COW_REC_HOST_TO_GCS,
  COW_REC_GCS_TO_HOST
} cow_rec_dir_t;

typedef struct cow_rec {
  cow_rec_kind_t kind;
  int seq; /* frames only, else 0 */
  double t_ms;
  cow_rec_dir_t dir;
  /* frame */
  uint32_t type;
  uint64_t id;
  uint32_t size;
  uint8_t header[16]; /* exact header bytes from header_hex */
  const char *type_name;
  /* frame body (body_raw as UTF-8, or body_b64 decoded) or stdio data bytes (text) */
  uint8_t *data;
  size_t data_len;
  int data_is_b64; /* the frame carried body_b64: raw bytes, possibly several frames */
  /* stdio */
  uint32_t port;
  const char *stream; /* "stdin" | "stdout" | "stderr" */
  const char *event;  /* "connected", "EOF", "host close()", ...; NULL for a data record */
  /* note text, or the record's "note" field for a frame */
  const char *text;
  json_t *json; /* the whole record; the strings above point into it */
} cow_rec_t;

typedef struct cow_recording {
  char *scenario;
  cow_rec_t *recs;
  size_t count;
} cow_recording_t;

/* Path of a recording: <source dir>/tests/conformance/recordings/gcs-v0.11.4/<name>.jsonl, or
 * $COW_RECORDINGS_DIR/<name>.jsonl when that is set. malloc'd; NULL on failure. */
char *cow_rec_path(const char *name);

/* Load a file. 0 on success; -1 with a reason in why. */
int cow_rec_load(const char *path, cow_recording_t *out, char *why, size_t whylen);

/* Load recording `name` (as cow_rec_path names it). 0, or -1 with a reason in why. */
int cow_rec_load_named(const char *name, cow_recording_t *out, char *why, size_t whylen);

/* The names of every recording, in order (a_echo ... m_container). */
extern const char *const cow_rec_names[];
extern const size_t cow_rec_count;

/* Load every recording in turn and hand it to fn (borrowed for the call). 0, or -1 with a
 * reason in why when one cannot be loaded. */
int cow_rec_for_each(void (*fn)(const cow_recording_t *rec, void *arg), void *arg, char *why,
                     size_t whylen);
void cow_rec_free(cow_recording_t *rec);

/* Parse hex ("010b10...") into out; returns the number of bytes or -1. */
int cow_rec_hex(const char *hex, uint8_t *out, size_t outlen);

/* ---- comparison ---- */

/* How the value under a key is compared. Rules match a key name at any depth. */
typedef enum cow_cmp_mode {
  COW_CMP_EXACT,    /* equal JSON (strings that hold JSON objects are compared as JSON) */
  COW_CMP_IGNORE,   /* anything, including absent on either side */
  COW_CMP_PRESENCE, /* present on both sides or on neither; any value */
  COW_CMP_TYPE,     /* present on both sides with the same JSON type */
  COW_CMP_SHAPE,    /* objects: same keys recursively; arrays: both empty or both not, each
                       actual element has the shape of expected[0]; scalars: same type */
  COW_CMP_MESSAGE   /* strings: equal, except that a recorded Go JSON-decoder detail after
                       "HRESULT 0xc037010d: " is not compared (only the prefix through it) */
} cow_cmp_mode_t;

typedef struct cow_cmp_rule {
  const char *key;
  cow_cmp_mode_t mode;
} cow_cmp_rule_t;

/* Defaults for guest responses (terminated by {NULL, 0}): ActivityId PRESENCE, ProcessId
 * PRESENCE, ErrorMessage/Message MESSAGE, ErrorRecords' StackTrace/FileName/Line/FunctionName
 * IGNORE (Go source locations), GuestStacks TYPE, LCOWMetrics TYPE, ProcessList SHAPE. */
extern const cow_cmp_rule_t cow_cmp_default_rules[];

/* Compare two JSON values. Returns 0 when they match, -1 otherwise (why says where). */
int cow_cmp_json(const json_t *expected, const json_t *actual, const cow_cmp_rule_t *rules,
                 char *why, size_t whylen);

/* Compare two frame bodies: both are parsed as JSON (any top-level value); if the expected
 * body is not JSON the bytes must be equal. Returns 0 or -1 with why. */
int cow_cmp_bodies(const uint8_t *expected, size_t expected_len, const uint8_t *actual,
                   size_t actual_len, const cow_cmp_rule_t *rules, char *why, size_t whylen);

#endif

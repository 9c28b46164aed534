/* Internal: JSON text written straight into a request payload, without a jansson tree.
 *
 * The request envelopes of the bridge are small and fixed (docs/gcs-bridge-protocol.md §2):
 * building a jansson object for each (a dozen allocations: objects, hash tables, strings)
 * only to serialise it at once is most of the host's cost of an RPC. The writer appends to
 * a struct cow__payload: its 1 KiB buffer, then the heap. Strings are escaped as jansson
 * escapes them, so the bytes are the ones the trees gave; text that is not valid UTF-8 is
 * refused, as json_string() refused it. Documents given as jansson values (the caller's
 * parameters) are dumped in place. Errors are sticky: write on, check once at the end.
 * Thread: any (no shared state). */
#ifndef COW_GUEST_JSON_WRITER_H
#define COW_GUEST_JSON_WRITER_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "guest/protocol.h"

typedef struct cow__jw {
  struct cow__payload *p;
  char *buf; /* p->small or p->heap */
  size_t cap;
  int err; /* 0, COW_ENOMEM, COW_EMSG_TOO_LARGE (more than one frame), COW_EINVAL (bad UTF-8) */
  const char *last_raw; /* the text before the string being written: its key */
  const char *bad_key;  /* with COW_EINVAL: last_raw when the string was refused */
} cow__jw_t;

/* Start writing into `p` (whatever it held is forgotten: release it first). */
void cow__jw_init(cow__jw_t *w, struct cow__payload *p);
/* Literal JSON text (punctuation, keys, constants), appended as is. `text` must outlive
 * the writer (a string literal): a string refused after it is reported by its key. */
void cow__jw_raw(cow__jw_t *w, const char *text);
/* A JSON string with `s` (NUL-terminated) as its value. */
void cow__jw_string(cow__jw_t *w, const char *s);
void cow__jw_uint(cow__jw_t *w, uint64_t v);
/* `v` serialised compactly, key order kept. */
void cow__jw_json(cow__jw_t *w, const json_t *v);
/* `v` serialised compactly, as the value of a JSON string (a document in a string, §1.7). */
void cow__jw_json_string(cow__jw_t *w, const json_t *v);
/* 0 with the payload complete, or the first error with the payload released. A string that
 * is not UTF-8 is also logged (COW_LOG_ERROR, subsystem "guest") with its key: the
 * asynchronous calls return only COW_EINVAL, and the log is where the caller learns which
 * argument it was. */
int cow__jw_finish(cow__jw_t *w);

#endif

/* jansson in test code: a set, append or constructor that fails (no memory, text that is
 * not UTF-8) stops the test with the call and its place, instead of leaving a document with
 * a part missing that a test would then take for the library's doing. The jansson_results
 * check (tests/tree) finds calls whose result is dropped; these keep the tests' own honest. */
#ifndef COW_TEST_TJSON_H
#define COW_TEST_TJSON_H

#include <stdio.h>
#include <stdlib.h>

#include <jansson.h>

static inline void tj_ok_(int rc, const char *call, const char *file, int line)
{
  if (rc != 0) {
    fprintf(stderr, "%s:%d: %s failed (no memory, or text that is not UTF-8)\n", file, line, call);
    abort();
  }
}

/* TJ_OK(json_object_set_new(o, "k", json_string(s))): the call returns 0, or the test stops. */
#define TJ_OK(call) tj_ok_((call), #call, __FILE__, __LINE__)

#endif

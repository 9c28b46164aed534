/* Fuzz target: what the HCS backends make of the DLLs' output: result documents of failed
 * calls (cow__hcs_error), ProcessStatus and SystemExitStatus documents of notifications,
 * basic properties (the cached OS), and UTF-16 strings. Also the process document the
 * backends prepare from the caller's text. The first 4 bytes are an HRESULT; the rest is
 * the document (as a C string, as the DLL hands it over) and, separately, the same bytes as
 * UTF-16 and as UTF-8. Properties: an error always carries its code and a message; an exit
 * code is -1 (flagged) or the document's ExitCode as a 32-bit value; a prepared console
 * document asks for stdin;
 * UTF-8 -> UTF-16 -> UTF-8 and UTF-16 -> UTF-8 -> UTF-16 give back the input exactly. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/alloc.h"
#include "core/error.h"
#include "fuzz/fuzz.h"
#include "hcs/common/hcs-error.h"
#include "hcs/common/props.h"
#include "hcs/common/state.h"
#include "hcs/common/utf16.h"

static void documents(HRESULT hr, const char *doc)
{
  cow_error_t err = COW_ERROR_INIT;
  int rc = cow__hcs_error(&err, hr, "fuzz", "id", doc);
  FUZZ_CHECK(err.code == rc && err.message != NULL);
  cow_error_clear(&err);

  int flag = 0;
  int64_t code = cow__hcs_process_status_code(doc, &flag);
  FUZZ_CHECK(code == -1 ? flag == 1 : (code >= 0 && code <= 0xFFFFFFFFll && flag == 0));
  /* Round trip: the code is the document's ExitCode as a 32-bit value (0 when omitted, Go's
   * omitempty), and only for an exit that says so with no failed wait. */
  json_t *st = json_loads(doc, 0, NULL);
  const json_t *exited = json_object_get(st, "Exited"), *ec = json_object_get(st, "ExitCode");
  const json_t *lwr = json_object_get(st, "LastWaitResult");
  int valid = json_is_true(exited) &&
              (lwr == NULL || (json_is_integer(lwr) && json_integer_value(lwr) == 0));
  int64_t want = !valid                ? -1
                 : ec == NULL          ? 0
                 : json_is_integer(ec) ? (int64_t)(uint32_t)json_integer_value(ec)
                                       : -1;
  FUZZ_CHECK(code == want);
  json_decref(st);
  (void)cow__hcs_exit_status_error(doc);

  /* The typed process list and statistics: a result, or COW_EPROTOCOL with a message. */
  cow_process_list_t *l = NULL;
  rc = cow__hcs_parse_process_list(&l, doc, "fuzz", "id", &err);
  FUZZ_CHECK(rc == 0 ? l != NULL : rc == COW_EPROTOCOL && l == NULL && err.message != NULL);
  for (size_t i = 0; l != NULL && i < l->count; i++)
    FUZZ_CHECK(l->items[i].pid >= 0 && l->items[i].pid <= 0xFFFFFFFFll);
  cow__free(l);
  cow_error_clear(&err);
  cow_statistics_t stats;
  rc = cow__hcs_parse_statistics(&stats, doc, "fuzz", "id", &err);
  FUZZ_CHECK(rc == 0 ? stats.timestamp.nsec >= 0 && stats.timestamp.nsec < 1000000000
                     : rc == COW_EPROTOCOL && stats.have == 0 && err.message != NULL);
  FUZZ_CHECK(stats.cpu_total_ns % 100 == 0); /* from 100 ns units */
  cow_error_clear(&err);

  struct cow__hcs_sys sys;
  memset(&sys, 0, sizeof sys);
  rc = cow__hcs_sys_cache_properties(&sys, doc);
  FUZZ_CHECK(rc == 0 || rc == COW_EPROTOCOL);

  char *out = NULL;
  int tty = 0;
  if (cow__hcs_process_config_prepare(doc, &out, &tty) == 0) {
    json_t *j = json_loads(out, 0, NULL);
    FUZZ_CHECK(json_is_object(j));
    if (tty)
      FUZZ_CHECK(json_is_true(json_object_get(j, "CreateStdInPipe")));
    json_decref(j);
    cow__free(out);
  }
}

static void strings(const uint8_t *data, size_t size)
{
  /* UTF-8 in: if accepted, the round trip is exact. */
  uint16_t *w = NULL;
  size_t wlen = 0;
  if (cow__utf16_from_utf8n((const char *)data, size, &w, &wlen) == 0) {
    char *back = NULL;
    size_t blen = 0;
    FUZZ_CHECK(cow__utf8_from_utf16n(w, wlen, &back, &blen) == 0);
    FUZZ_CHECK(blen == size && memcmp(back, data, size) == 0);
    cow__free(back);
    cow__free(w);
  }
  /* UTF-16 in (little-endian units), as a DLL returns it. */
  size_t n = size / 2;
  uint16_t *units = malloc((n ? n : 1) * sizeof *units);
  if (units == NULL)
    return;
  for (size_t i = 0; i < n; i++)
    units[i] = (uint16_t)(data[2 * i] | data[2 * i + 1] << 8);
  char *u8 = NULL;
  size_t u8len = 0;
  if (cow__utf8_from_utf16n(units, n, &u8, &u8len) == 0) {
    uint16_t *again = NULL;
    size_t alen = 0;
    FUZZ_CHECK(cow__utf16_from_utf8n(u8, u8len, &again, &alen) == 0);
    FUZZ_CHECK(alen == n && memcmp(again, units, n * sizeof *units) == 0);
    cow__free(again);
    cow__free(u8);
  }
  free(units);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  if (size < 4)
    return 0;
  HRESULT hr = (HRESULT)((uint32_t)data[0] | (uint32_t)data[1] << 8 | (uint32_t)data[2] << 16 |
                         (uint32_t)data[3] << 24);
  char *doc = malloc(size - 4 + 1); /* a C string: stops at the first NUL, as the DLL's */
  if (doc == NULL)
    return 0;
  memcpy(doc, data + 4, size - 4);
  doc[size - 4] = 0;
  documents(hr, doc);
  free(doc);
  strings(data + 4, size - 4);
  return 0;
}

/* Documents in the shapes docs/hcs-api.md gives (§3 and §5), with HRESULTs seen there. */
static const struct {
  uint32_t hr;
  const char *doc;
} seeds[] = {
    {0x80370118u, "{\"Error\":-2143878888,\"ErrorMessage\":\"The requested compute system was "
                  "not found\",\"ErrorEvents\":[{\"Message\":\"not found\",\"StackTrace\":\"\","
                  "\"Provider\":\"00000000-0000-0000-0000-000000000000\",\"EventId\":11,"
                  "\"Flags\":0,\"Source\":\"vmcompute\"}]}"},
    {0x80370109u, "{\"Error\":-2143878903,\"ErrorMessage\":\"timeout\"}"},
    {0xC037010Eu, ""},
    {0, "{\"ProcessId\":1234,\"Exited\":true,\"ExitCode\":3,\"LastWaitResult\":0}"},
    {0, "{\"ProcessId\":1234,\"Exited\":true,\"ExitCode\":4294967295,\"LastWaitResult\":0}"},
    {0, "{\"ProcessId\":1,\"Exited\":false,\"ExitCode\":0,\"LastWaitResult\":-2147023436}"},
    {0, "{\"Status\":0,\"ExitType\":\"GracefulExit\"}"},
    {0x80370106u, "{\"Status\":-2143878906,\"ExitType\":\"UnexpectedExit\"}"},
    {0, "{\"Id\":\"c1\",\"SystemType\":\"Container\",\"RuntimeOsType\":\"Linux\","
        "\"Name\":\"c1\",\"Owner\":\"libcow\",\"State\":\"Running\",\"Stopped\":false}"},
    {0, "{\"SystemType\":\"Container\",\"RuntimeOsType\":\"\"}"},
    {0, "{\"CommandLine\":\"cmd /c echo hi\",\"WorkingDirectory\":\"C:\\\\\","
        "\"EmulateConsole\":true,\"ConsoleSize\":[25,80],\"CreateStdOutPipe\":true}"},
    {0, "{\"CommandArgs\":[\"sh\",\"-c\",\"exit "
        "3\"],\"Environment\":{\"A\":\"\\u00e9\\ud83d\\ude00\"}}"},
    {0, "{\"Statistics\":{\"Timestamp\":\"2026-12-02T05:35:43.1234567Z\",\"Processor\":"
        "{\"TotalRuntime100ns\":30,\"RuntimeUser100ns\":20,\"RuntimeKernel100ns\":10},"
        "\"Memory\":{\"MemoryUsagePrivateWorkingSetBytes\":8000}},\"ProcessList\":["
        "{\"ProcessId\":42,\"ImageName\":\"sleep\",\"UserTime100ns\":12,\"KernelTime100ns\":3,"
        "\"MemoryWorkingSetPrivateBytes\":4096}]}"},
    {0, "null"},
    {0, "[1,2,3]"},
};

int cow_fuzz_seeds(cow_fuzz_add_fn add, void *arg)
{
  for (size_t i = 0; i < sizeof seeds / sizeof seeds[0]; i++) {
    size_t len = strlen(seeds[i].doc);
    uint8_t *buf = malloc(4 + len);
    if (buf == NULL)
      return -1;
    for (int b = 0; b < 4; b++)
      buf[b] = (uint8_t)(seeds[i].hr >> (8 * b));
    memcpy(buf + 4, seeds[i].doc, len);
    add(buf, 4 + len, arg);
    free(buf);
  }
  /* UTF-16 with a surrogate pair, a lone surrogate and an embedded NUL. */
  static const uint8_t utf16[] = {0, 0, 0, 0, 'h', 0, 0x3d, 0xd8, 0x00, 0xde, 0, 0, 0x00, 0xdc};
  add(utf16, sizeof utf16, arg);
  return 0;
}

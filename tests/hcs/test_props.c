/* The typed process list and statistics parsed from HCS properties documents (schema1 and
 * schema2 share the shapes, docs/hcs-api.md §5.3/§5.6), and the RFC 3339 times in them: the
 * figures come out in nanoseconds, what the document leaves out stays unknown, and every
 * malformed shape is COW_EPROTOCOL with a message naming it, never a crash. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "core/alloc.h"
#include "core/stats.h"
#include "hcs/common/props.h"

static void process_list(void **state)
{
  const char *doc =
      "{\"Id\":\"s\",\"ProcessList\":[{\"ProcessId\":4242,\"ImageName\":\"sleep\","
      "\"CreateTimestamp\":\"2026-12-02T05:00:00Z\",\"UserTime100ns\":12,\"KernelTime100ns\":3,"
      "\"MemoryCommitBytes\":8192,\"MemoryWorkingSetPrivateBytes\":4096},"
      "{\"ProcessId\":7}]}";
  cow_process_list_t *l = NULL;
  cow_error_t err = COW_ERROR_INIT;
  assert_int_equal(cow__hcs_parse_process_list(&l, doc, "process_list", "s", &err), 0);
  assert_non_null(l);
  assert_int_equal(l->count, 2);
  assert_int_equal(l->items[0].pid, 4242);
  assert_string_equal(l->items[0].image_name, "sleep");
  assert_int_equal(l->items[0].cpu_user_ns, 1200);
  assert_int_equal(l->items[0].cpu_kernel_ns, 300);
  assert_int_equal(l->items[0].memory_usage_bytes, 4096);
  assert_int_equal(l->items[0].have,
                   COW_STATS_CPU_USER | COW_STATS_CPU_KERNEL | COW_STATS_MEMORY_USAGE);
  assert_int_equal(l->items[1].pid, 7);
  assert_null(l->items[1].image_name);
  assert_int_equal(l->items[1].have, 0);
  cow__free(l);
  /* an empty list is a list */
  assert_int_equal(cow__hcs_parse_process_list(&l, "{\"ProcessList\":[]}", "p", "s", &err), 0);
  assert_int_equal(l->count, 0);
  assert_null(l->items);
  cow__free(l);
}

static void statistics(void **state)
{
  const char *doc =
      "{\"Statistics\":{\"Timestamp\":\"2026-12-02T05:35:43.1234567Z\","
      "\"ContainerStartTime\":\"2026-12-02T05:00:00Z\",\"Uptime100ns\":5,"
      "\"Processor\":{\"TotalRuntime100ns\":30,\"RuntimeUser100ns\":20,\"RuntimeKernel100ns\":10},"
      "\"Memory\":{\"MemoryUsageCommitBytes\":9000,\"MemoryUsageCommitPeakBytes\":9100,"
      "\"MemoryUsagePrivateWorkingSetBytes\":8000}},"
      "\"ProcessList\":[{\"ProcessId\":1},{\"ProcessId\":2},{\"ProcessId\":3}]}";
  cow_statistics_t st;
  cow_error_t err = COW_ERROR_INIT;
  assert_int_equal(cow__hcs_parse_statistics(&st, doc, "statistics", "s", &err), 0);
  assert_int_equal(st.cpu_total_ns, 3000);
  assert_int_equal(st.cpu_user_ns, 2000);
  assert_int_equal(st.cpu_kernel_ns, 1000);
  assert_int_equal(st.memory_usage_bytes, 8000);
  assert_int_equal(st.process_count, 3);
  assert_int_equal(st.have, COW_STATS_CPU_TOTAL | COW_STATS_CPU_USER | COW_STATS_CPU_KERNEL |
                                COW_STATS_MEMORY_USAGE | COW_STATS_PROCESS_COUNT);
  assert_int_equal(st.timestamp.sec, 1796189743); /* date -ud 2026-12-02T05:35:43Z +%s */
  assert_int_equal(st.timestamp.nsec, 123456700);
  /* Without Processor, Memory, ProcessList and Timestamp: nothing known, the time is now. */
  assert_int_equal(cow__hcs_parse_statistics(&st, "{\"Statistics\":{}}", "s", "s", &err), 0);
  assert_int_equal(st.have, 0);
  assert_true(st.timestamp.sec > 1700000000);
}

static void rfc3339(void **state)
{
  cow_timestamp_t t;
  assert_int_equal(cow__rfc3339_parse("1970-01-01T00:00:00Z", &t), 0);
  assert_int_equal(t.sec, 0);
  assert_int_equal(cow__rfc3339_parse("2000-02-29T12:00:00.5+01:30", &t), 0);
  assert_int_equal(t.sec, 951825600 - 5400);
  assert_int_equal(t.nsec, 500000000);
  assert_int_equal(cow__rfc3339_parse("1969-12-31T23:59:59.999999999999Z", &t), 0);
  assert_int_equal(t.sec, -1);
  assert_int_equal(t.nsec, 999999999);
  const char *bad[] = {"",
                       "2026-12-02",
                       "2026-12-02T05:35:43",
                       "2026-13-02T05:35:43Z",
                       "2026-12-02T25:35:43Z",
                       "2026-12-02T05:35:43.Z",
                       "2026-12-02T05:35:43Zjunk",
                       "2026-12-02T05:35:43+0100",
                       "20x6-12-02T05:35:43Z",
                       NULL};
  for (int i = 0; bad[i] != NULL; i++)
    if (cow__rfc3339_parse(bad[i], &t) != -1)
      fail_msg("\"%s\" was accepted as a time", bad[i]);
  assert_int_equal(cow__rfc3339_parse(NULL, &t), -1);
}

/* Every malformed document: COW_EPROTOCOL in the HCS domain with a message, no list. */
static void malformed(void **state)
{
  const char *lists[] = {
      NULL,
      "",
      "[]",
      "{nope",
      "{}",
      "{\"ProcessList\":{}}",
      "{\"ProcessList\":[1]}",
      "{\"ProcessList\":[{}]}",
      "{\"ProcessList\":[{\"ProcessId\":-1}]}",
      "{\"ProcessList\":[{\"ProcessId\":4294967296}]}",
      "{\"ProcessList\":[{\"ProcessId\":\"1\"}]}",
      "{\"ProcessList\":[{\"ProcessId\":1,\"ImageName\":5}]}",
      "{\"ProcessList\":[{\"ProcessId\":1,\"UserTime100ns\":-5}]}",
      "{\"ProcessList\":[{\"ProcessId\":1,\"KernelTime100ns\":1.5}]}",
      "{\"ProcessList\":[{\"ProcessId\":1,\"UserTime100ns\":9223372036854775807}]}",
      "{\"ProcessList\":[{\"ProcessId\":1,\"MemoryWorkingSetPrivateBytes\":true}]}",
      "{\"ProcessList\":[],\"ProcessList\":[]}",
      NULL};
  for (int i = 0; i == 0 || lists[i] != NULL; i++) {
    cow_process_list_t *l = (cow_process_list_t *)&l;
    cow_error_t err = COW_ERROR_INIT;
    int rc = cow__hcs_parse_process_list(&l, lists[i], "process_list", "s", &err);
    if (rc != COW_EPROTOCOL)
      fail_msg("process list %s: %d", lists[i] ? lists[i] : "(null)", rc);
    assert_null(l);
    assert_int_equal(err.code, COW_EPROTOCOL);
    assert_int_equal(err.domain, COW_DOMAIN_HCS);
    assert_non_null(err.message);
    assert_string_equal(err.operation, "process_list");
    cow_error_clear(&err);
  }
  const char *stats[] = {NULL,
                         "{}",
                         "{\"Statistics\":[]}",
                         "{\"Statistics\":{\"Processor\":5}}",
                         "{\"Statistics\":{\"Memory\":\"x\"}}",
                         "{\"Statistics\":{\"Processor\":{\"TotalRuntime100ns\":-1}}}",
                         "{\"Statistics\":{\"Processor\":{\"RuntimeUser100ns\":\"1\"}}}",
                         "{\"Statistics\":{\"Memory\":{\"MemoryUsagePrivateWorkingSetBytes\":-2}}}",
                         "{\"Statistics\":{\"Timestamp\":\"yesterday\"}}",
                         "{\"Statistics\":{\"Timestamp\":5}}",
                         "{\"Statistics\":{},\"ProcessList\":{}}",
                         NULL};
  for (int i = 0; i == 0 || stats[i] != NULL; i++) {
    cow_statistics_t st;
    memset(&st, 0xa5, sizeof st);
    cow_error_t err = COW_ERROR_INIT;
    int rc = cow__hcs_parse_statistics(&st, stats[i], "statistics", "s", &err);
    if (rc != COW_EPROTOCOL)
      fail_msg("statistics %s: %d", stats[i] ? stats[i] : "(null)", rc);
    assert_int_equal(st.have, 0);
    assert_int_equal(st.cpu_total_ns, 0);
    assert_int_equal(err.domain, COW_DOMAIN_HCS);
    assert_non_null(err.message);
    cow_error_clear(&err);
  }
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(process_list),
      cmocka_unit_test(statistics),
      cmocka_unit_test(rfc3339),
      cmocka_unit_test(malformed),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

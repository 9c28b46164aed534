/* The typed process list and statistics from the guest's GetProperties answers
 * (docs/gcs-bridge-protocol.md §4.9): the
 * `Properties` strings the real GCS v0.11.4 sent (tests/conformance/recordings/gcs-v0.11.4/
 * m_container.jsonl seq 10 and 12) give their pids and figures; what the guest leaves out
 * (memory in that recording, every zero in protobuf's JSON) is unknown, never made up; every
 * malformed shape is COW_EPROTOCOL in the guest domain with a message. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "core/alloc.h"
#include "guest/protocol.h"

static void recorded_answers(void **state)
{
  cow_process_list_t *l = NULL;
  cow_error_t err = COW_ERROR_INIT;
  /* m_container seq 10 */
  assert_int_equal(
      cow__proto_parse_process_list(&l, "{\"ProcessList\":[{\"ProcessId\":21},{\"ProcessId\":33}]}",
                                    "process_list", "c0ffee00", &err),
      0);
  assert_int_equal(l->count, 2);
  assert_int_equal(l->items[0].pid, 21);
  assert_int_equal(l->items[1].pid, 33);
  assert_null(l->items[0].image_name); /* the guest lists pids only */
  assert_int_equal(l->items[0].have, 0);
  cow__free(l);
  assert_int_equal(cow__proto_properties_has_pid("{\"ProcessList\":[{\"ProcessId\":33}]}", 33), 1);
  assert_int_equal(cow__proto_properties_has_pid("{\"ProcessList\":[{\"ProcessId\":33}]}", 21), 0);
  /* "{}" and no Properties at all: no process */
  assert_int_equal(cow__proto_parse_process_list(&l, "{}", "p", "c", &err), 0);
  assert_int_equal(l->count, 0);
  cow__free(l);
  assert_int_equal(cow__proto_parse_process_list(&l, NULL, "p", "c", &err), 0);
  assert_int_equal(l->count, 0);
  cow__free(l);

  /* m_container seq 12: cpu and pids, no memory, user left out as zero */
  cow_statistics_t st;
  assert_int_equal(
      cow__proto_parse_lcow_metrics(
          &st,
          "{\"LCOWMetrics\":{\"pids\":{\"current\":2},\"cpu\":{\"usage\":{\"total\":14234759,"
          "\"kernel\":10000000,\"per_cpu\":[2007504,12227255]},\"throttling\":{}},\"blkio\":{}}}",
          "statistics", "c0ffee00", &err),
      0);
  assert_int_equal(st.process_count, 2);
  assert_int_equal(st.cpu_total_ns, 14234759);
  assert_int_equal(st.cpu_kernel_ns, 10000000);
  assert_int_equal(st.cpu_user_ns, 0);
  assert_int_equal(st.have, COW_STATS_PROCESS_COUNT | COW_STATS_CPU_TOTAL | COW_STATS_CPU_KERNEL |
                                COW_STATS_CPU_USER);
  assert_int_equal(st.memory_usage_bytes, 0);
  assert_true(st.timestamp.sec > 1700000000); /* the host's clock: the guest sends none */

  /* with a memory cgroup: usage, and a limit unless it is cgroup v1's "unlimited" */
  assert_int_equal(
      cow__proto_parse_lcow_metrics(&st,
                                    "{\"LCOWMetrics\":{\"memory\":{\"usage\":{\"usage\":1048576,"
                                    "\"limit\":67108864}}}}",
                                    "statistics", "c", &err),
      0);
  assert_int_equal(st.have, COW_STATS_MEMORY_USAGE | COW_STATS_MEMORY_LIMIT);
  assert_int_equal(st.memory_usage_bytes, 1048576);
  assert_int_equal(st.memory_limit_bytes, 67108864);
  assert_int_equal(
      cow__proto_parse_lcow_metrics(&st,
                                    "{\"LCOWMetrics\":{\"memory\":{\"usage\":{\"usage\":5,"
                                    "\"limit\":9223372036854771712}}}}",
                                    "statistics", "c", &err),
      0);
  assert_int_equal(st.have, COW_STATS_MEMORY_USAGE);
  assert_int_equal(st.memory_limit_bytes, 0);
}

static void malformed(void **state)
{
  const char *lists[] = {"",
                         "[]",
                         "{nope",
                         "\"{}\"",
                         "{\"ProcessList\":{}}",
                         "{\"ProcessList\":[5]}",
                         "{\"ProcessList\":[{}]}",
                         "{\"ProcessList\":[{\"ProcessId\":-3}]}",
                         "{\"ProcessList\":[{\"ProcessId\":4294967296}]}",
                         "{\"ProcessList\":[{\"ProcessId\":null}]}",
                         "{\"ProcessList\":[],\"ProcessList\":[]}",
                         NULL};
  for (int i = 0; lists[i] != NULL; i++) {
    cow_process_list_t *l = (cow_process_list_t *)&l;
    cow_error_t err = COW_ERROR_INIT;
    if (cow__proto_parse_process_list(&l, lists[i], "process_list", "c", &err) != COW_EPROTOCOL)
      fail_msg("process list %s accepted", lists[i]);
    assert_null(l);
    assert_int_equal(err.domain, COW_DOMAIN_GUEST);
    assert_non_null(err.message);
    assert_string_equal(err.object_id, "c");
    cow_error_clear(&err);
    assert_int_equal(cow__proto_properties_has_pid(lists[i], 1), -1);
  }
  const char *metrics[] = {NULL,
                           "{}",
                           "[]",
                           "{\"LCOWMetrics\":null}",
                           "{\"LCOWMetrics\":[]}",
                           "{\"LCOWMetrics\":{\"cpu\":5}}",
                           "{\"LCOWMetrics\":{\"cpu\":{\"usage\":[]}}}",
                           "{\"LCOWMetrics\":{\"cpu\":{\"usage\":{\"total\":-1}}}}",
                           "{\"LCOWMetrics\":{\"cpu\":{\"usage\":{\"kernel\":\"1\"}}}}",
                           "{\"LCOWMetrics\":{\"memory\":{\"usage\":{\"usage\":1.5}}}}",
                           "{\"LCOWMetrics\":{\"memory\":{\"usage\":{\"limit\":true}}}}",
                           "{\"LCOWMetrics\":{\"pids\":{\"current\":-2}}}",
                           "{\"LCOWMetrics\":{\"pids\":7}}",
                           NULL};
  for (int i = 0; i == 0 || metrics[i] != NULL; i++) {
    cow_statistics_t st;
    memset(&st, 0x5a, sizeof st);
    cow_error_t err = COW_ERROR_INIT;
    if (cow__proto_parse_lcow_metrics(&st, metrics[i], "statistics", "c", &err) != COW_EPROTOCOL)
      fail_msg("metrics %s accepted", metrics[i] ? metrics[i] : "(none)");
    assert_int_equal(st.have, 0);
    assert_int_equal(st.process_count, 0);
    assert_int_equal(err.domain, COW_DOMAIN_GUEST);
    assert_non_null(err.message);
    cow_error_clear(&err);
  }
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(recorded_answers),
      cmocka_unit_test(malformed),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

/* The typed process list and statistics from a compute system's properties document. */
#include <stdint.h>
#include <string.h>

#include <jansson.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/handle.h"
#include "core/stats.h"
#include "hcs/common/props.h"

static int bad(cow_error_t *err, const char *operation, const char *id, const char *what)
{
  return cow__error_set(err, COW_EPROTOCOL, COW_DOMAIN_HCS, 0, operation, id,
                        "unexpected properties from the Host Compute Service: %s", what);
}

/* A count of 100 ns units at `key` as nanoseconds into `*ns`, `bit` into `*have` when
 * present: 0, or -1 when malformed or too large. */
static int hundred_ns(const json_t *obj, const char *key, uint64_t *ns, unsigned *have,
                      unsigned bit)
{
  uint64_t v;
  int rc = cow__json_u64(obj, key, &v);
  if (rc < 0 || v > UINT64_MAX / 100)
    return -1;
  *ns = v * 100;
  if (rc > 0)
    *have |= bit;
  return 0;
}

static json_t *load_object(const char *doc)
{
  json_t *j = doc != NULL ? json_loads(doc, JSON_REJECT_DUPLICATES, NULL) : NULL;
  if (j != NULL && !json_is_object(j)) {
    json_decref(j);
    return NULL;
  }
  return j;
}

int cow__hcs_parse_process_list(cow_process_list_t **out, const char *doc, const char *operation,
                                const char *id, cow_error_t *err)
{
  *out = NULL;
  json_t *j = load_object(doc);
  if (j == NULL)
    return bad(err, operation, id, "not a JSON object");
  json_t *list = json_object_get(j, "ProcessList");
  size_t n = json_array_size(list);
  if (!json_is_array(list)) {
    json_decref(j);
    return bad(err, operation, id, "no ProcessList array");
  }
  cow_process_info_t *items = n ? cow__calloc(n, sizeof *items) : NULL;
  if (n && items == NULL) {
    json_decref(j);
    return cow__error_set(err, COW_ENOMEM, COW_DOMAIN_LIB, 0, operation, id, NULL);
  }
  const char *what = NULL;
  for (size_t i = 0; i < n && what == NULL; i++) {
    json_t *e = json_array_get(list, i);
    cow_process_info_t *it = &items[i];
    uint64_t pid;
    json_t *image = json_object_get(e, "ImageName");
    if (!json_is_object(e))
      what = "a ProcessList entry is not an object";
    else if (cow__json_u64(e, "ProcessId", &pid) <= 0 || pid > UINT32_MAX)
      what = "a ProcessList entry has no valid ProcessId";
    else if (image != NULL && !json_is_null(image) && !json_is_string(image))
      what = "a ProcessList ImageName is not a string";
    else if (hundred_ns(e, "KernelTime100ns", &it->cpu_kernel_ns, &it->have,
                        COW_STATS_CPU_KERNEL) != 0 ||
             hundred_ns(e, "UserTime100ns", &it->cpu_user_ns, &it->have, COW_STATS_CPU_USER) != 0)
      what = "a ProcessList CPU time is not a count of 100 ns";
    else {
      int m = cow__json_u64(e, "MemoryWorkingSetPrivateBytes", &it->memory_usage_bytes);
      if (m < 0)
        what = "a ProcessList MemoryWorkingSetPrivateBytes is not a byte count";
      it->have |= m > 0 ? COW_STATS_MEMORY_USAGE : 0;
      it->pid = (int64_t)pid;
      it->image_name = json_string_value(image);
    }
  }
  int rc = 0;
  if (what != NULL)
    rc = bad(err, operation, id, what);
  else if ((*out = cow__process_list_new(items, n)) == NULL)
    rc = cow__error_set(err, COW_ENOMEM, COW_DOMAIN_LIB, 0, operation, id, NULL);
  cow__free(items);
  json_decref(j); /* after the copy: the image names were jansson's */
  return rc;
}

int cow__hcs_parse_statistics(cow_statistics_t *out, const char *doc, const char *operation,
                              const char *id, cow_error_t *err)
{
  memset(out, 0, sizeof *out);
  json_t *j = load_object(doc);
  if (j == NULL)
    return bad(err, operation, id, "not a JSON object");
  json_t *st = json_object_get(j, "Statistics");
  json_t *cpu = json_object_get(st, "Processor"), *mem = json_object_get(st, "Memory");
  json_t *ts = json_object_get(st, "Timestamp"), *list = json_object_get(j, "ProcessList");
  const char *what = NULL;
  uint64_t usage = 0;
  int m = 0;
  if (!json_is_object(st))
    what = "no Statistics object";
  else if ((cpu != NULL && !json_is_null(cpu) && !json_is_object(cpu)) ||
           (mem != NULL && !json_is_null(mem) && !json_is_object(mem)))
    what = "Statistics.Processor or Statistics.Memory is not an object";
  else if (hundred_ns(cpu, "TotalRuntime100ns", &out->cpu_total_ns, &out->have,
                      COW_STATS_CPU_TOTAL) != 0 ||
           hundred_ns(cpu, "RuntimeKernel100ns", &out->cpu_kernel_ns, &out->have,
                      COW_STATS_CPU_KERNEL) != 0 ||
           hundred_ns(cpu, "RuntimeUser100ns", &out->cpu_user_ns, &out->have, COW_STATS_CPU_USER) !=
               0)
    what = "a Statistics.Processor time is not a count of 100 ns";
  else if ((m = cow__json_u64(mem, "MemoryUsagePrivateWorkingSetBytes", &usage)) < 0)
    what = "Statistics.Memory.MemoryUsagePrivateWorkingSetBytes is not a byte count";
  else if (ts != NULL && !json_is_null(ts) &&
           cow__rfc3339_parse(json_string_value(ts), &out->timestamp) != 0)
    what = "Statistics.Timestamp is not an RFC 3339 time";
  else if (list != NULL && !json_is_null(list) && !json_is_array(list))
    what = "ProcessList is not an array";
  if (what != NULL) {
    json_decref(j);
    memset(out, 0, sizeof *out);
    return bad(err, operation, id, what);
  }
  if (m > 0) {
    out->memory_usage_bytes = usage;
    out->have |= COW_STATS_MEMORY_USAGE;
  }
  if (json_is_array(list)) {
    out->process_count = json_array_size(list);
    out->have |= COW_STATS_PROCESS_COUNT;
  }
  if (ts == NULL || json_is_null(ts))
    cow__wall_clock(&out->timestamp);
  json_decref(j);
  return 0;
}

void cow__hcs_finish_process_list(cow_op_t *op, const char *doc, const char *id)
{
  cow_error_t err = COW_ERROR_INIT;
  cow_process_list_t *list = NULL;
  int rc = cow__hcs_parse_process_list(&list, doc, cow_op_name(op), id, &err);
  if (rc == 0 && (rc = cow_op_set_process_list(op, list->items, list->count)) != 0)
    cow__error_set(&err, rc, COW_DOMAIN_LIB, 0, cow_op_name(op), id, NULL);
  cow__free(list);
  cow_op_complete(op, rc, rc ? &err : NULL);
  cow_error_clear(&err);
}

void cow__hcs_finish_statistics(cow_op_t *op, const char *doc, const char *id)
{
  cow_error_t err = COW_ERROR_INIT;
  cow_statistics_t stats;
  int rc = cow__hcs_parse_statistics(&stats, doc, cow_op_name(op), id, &err);
  if (rc == 0 && (rc = cow_op_set_statistics(op, &stats)) != 0)
    cow__error_set(&err, rc, COW_DOMAIN_LIB, 0, cow_op_name(op), id, NULL);
  cow_op_complete(op, rc, rc ? &err : NULL);
  cow_error_clear(&err);
}

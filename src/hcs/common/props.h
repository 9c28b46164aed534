/* Internal: the typed process list and statistics of a compute system, parsed from the
 * properties document HcsGetComputeSystemProperties answers (docs/hcs-api.md §5.3, §5.6:
 * schema1 and schema2 give ProcessList and Statistics the same shape), and the queries
 * that ask for them. The document comes from a DLL: untrusted, every shape is checked. */
#ifndef COW_HCS_PROPS_H
#define COW_HCS_PROPS_H

#include "cow/sys/op.h"

/* What the process list and the statistics ask for (schema1 PropertyTypes and schema2
 * PropertyQuery have the same text). */
#define COW__HCS_QUERY_PROCESS_LIST "{\"PropertyTypes\":[\"ProcessList\"]}"
#define COW__HCS_QUERY_STATISTICS   "{\"PropertyTypes\":[\"Statistics\",\"ProcessList\"]}"

/* The ProcessList of `doc` as a list (one block, cow__free): 0, or COW_EPROTOCOL with
 * `*err` saying what was wrong (COW_ENOMEM). `operation` and `id` name the call in errors. */
int cow__hcs_parse_process_list(cow_process_list_t **out, const char *doc, const char *operation,
                                const char *id, cow_error_t *err);
/* The Statistics (and the count of the ProcessList, when present) of `doc`. */
int cow__hcs_parse_statistics(cow_statistics_t *out, const char *doc, const char *operation,
                              const char *id, cow_error_t *err);
/* Complete the op of cow_container_process_list() / cow_container_statistics() from the
 * document of a successful query: parsed and attached, or COW_EPROTOCOL naming the flaw
 * (system `id` in the error). One piece for both backends. */
void cow__hcs_finish_process_list(cow_op_t *op, const char *doc, const char *id);
void cow__hcs_finish_statistics(cow_op_t *op, const char *doc, const char *id);

#endif

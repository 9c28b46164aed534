/* Included first (clang -include) by the jansson_results check (check_jansson_results.cmake):
 * every jansson function whose result says whether it worked, or is the thing it made, is
 * wrapped so that discarding that result is a -Wunused-result error. A call whose result
 * may be ignored on purpose says so with a (void) cast and a comment. Never part of a build. */
#ifndef COW_TREE_JANSSON_RESULTS_H
#define COW_TREE_JANSSON_RESULTS_H

#include <jansson.h>

__attribute__((warn_unused_result)) static inline int cow_tree_int_(int r)
{
  return r;
}
__attribute__((warn_unused_result)) static inline size_t cow_tree_size_(size_t r)
{
  return r;
}
__attribute__((warn_unused_result)) static inline json_t *cow_tree_json_(json_t *r)
{
  return r;
}
__attribute__((warn_unused_result)) static inline char *cow_tree_text_(char *r)
{
  return r;
}

/* Setters and other changes: 0, or -1 when nothing was changed (a NULL value, no memory,
 * a key that is not UTF-8, a missing member). */
#define json_object_set(...)              cow_tree_int_(json_object_set(__VA_ARGS__))
#define json_object_set_new(...)          cow_tree_int_(json_object_set_new(__VA_ARGS__))
#define json_object_set_nocheck(...)      cow_tree_int_(json_object_set_nocheck(__VA_ARGS__))
#define json_object_set_new_nocheck(...)  cow_tree_int_(json_object_set_new_nocheck(__VA_ARGS__))
#define json_object_setn(...)             cow_tree_int_(json_object_setn(__VA_ARGS__))
#define json_object_setn_new(...)         cow_tree_int_(json_object_setn_new(__VA_ARGS__))
#define json_object_setn_nocheck(...)     cow_tree_int_(json_object_setn_nocheck(__VA_ARGS__))
#define json_object_setn_new_nocheck(...) cow_tree_int_(json_object_setn_new_nocheck(__VA_ARGS__))
#define json_object_del(...)              cow_tree_int_(json_object_del(__VA_ARGS__))
#define json_object_deln(...)             cow_tree_int_(json_object_deln(__VA_ARGS__))
#define json_object_clear(...)            cow_tree_int_(json_object_clear(__VA_ARGS__))
#define json_object_update(...)           cow_tree_int_(json_object_update(__VA_ARGS__))
#define json_object_update_new(...)       cow_tree_int_(json_object_update_new(__VA_ARGS__))
#define json_object_update_existing(...)  cow_tree_int_(json_object_update_existing(__VA_ARGS__))
#define json_object_update_missing(...)   cow_tree_int_(json_object_update_missing(__VA_ARGS__))
#define json_object_update_recursive(...) cow_tree_int_(json_object_update_recursive(__VA_ARGS__))
#define json_object_iter_set(...)         cow_tree_int_(json_object_iter_set(__VA_ARGS__))
#define json_object_iter_set_new(...)     cow_tree_int_(json_object_iter_set_new(__VA_ARGS__))
#define json_array_set(...)               cow_tree_int_(json_array_set(__VA_ARGS__))
#define json_array_set_new(...)           cow_tree_int_(json_array_set_new(__VA_ARGS__))
#define json_array_append(...)            cow_tree_int_(json_array_append(__VA_ARGS__))
#define json_array_append_new(...)        cow_tree_int_(json_array_append_new(__VA_ARGS__))
#define json_array_insert(...)            cow_tree_int_(json_array_insert(__VA_ARGS__))
#define json_array_insert_new(...)        cow_tree_int_(json_array_insert_new(__VA_ARGS__))
#define json_array_remove(...)            cow_tree_int_(json_array_remove(__VA_ARGS__))
#define json_array_clear(...)             cow_tree_int_(json_array_clear(__VA_ARGS__))
#define json_array_extend(...)            cow_tree_int_(json_array_extend(__VA_ARGS__))
#define json_string_set(...)              cow_tree_int_(json_string_set(__VA_ARGS__))
#define json_string_setn(...)             cow_tree_int_(json_string_setn(__VA_ARGS__))
#define json_integer_set(...)             cow_tree_int_(json_integer_set(__VA_ARGS__))
#define json_real_set(...)                cow_tree_int_(json_real_set(__VA_ARGS__))
#define json_unpack(...)                  cow_tree_int_(json_unpack(__VA_ARGS__))
#define json_unpack_ex(...)               cow_tree_int_(json_unpack_ex(__VA_ARGS__))
#define json_dump_file(...)               cow_tree_int_(json_dump_file(__VA_ARGS__))
#define json_dumpf(...)                   cow_tree_int_(json_dumpf(__VA_ARGS__))
#define json_dumpfd(...)                  cow_tree_int_(json_dumpfd(__VA_ARGS__))
#define json_dump_callback(...)           cow_tree_int_(json_dump_callback(__VA_ARGS__))
#define json_dumpb(...)                   cow_tree_size_(json_dumpb(__VA_ARGS__))

/* Constructors: the new value, or NULL (no memory; for strings also text that is not UTF-8;
 * for json_pack a format or argument it refused). */
#define json_object(...)          cow_tree_json_(json_object(__VA_ARGS__))
#define json_array(...)           cow_tree_json_(json_array(__VA_ARGS__))
#define json_string(...)          cow_tree_json_(json_string(__VA_ARGS__))
#define json_stringn(...)         cow_tree_json_(json_stringn(__VA_ARGS__))
#define json_string_nocheck(...)  cow_tree_json_(json_string_nocheck(__VA_ARGS__))
#define json_stringn_nocheck(...) cow_tree_json_(json_stringn_nocheck(__VA_ARGS__))
#define json_sprintf(...)         cow_tree_json_(json_sprintf(__VA_ARGS__))
#define json_integer(...)         cow_tree_json_(json_integer(__VA_ARGS__))
#define json_real(...)            cow_tree_json_(json_real(__VA_ARGS__))
#define json_pack(...)            cow_tree_json_(json_pack(__VA_ARGS__))
#define json_pack_ex(...)         cow_tree_json_(json_pack_ex(__VA_ARGS__))
#define json_copy(...)            cow_tree_json_(json_copy(__VA_ARGS__))
#define json_deep_copy(...)       cow_tree_json_(json_deep_copy(__VA_ARGS__))
#define json_loads(...)           cow_tree_json_(json_loads(__VA_ARGS__))
#define json_loadb(...)           cow_tree_json_(json_loadb(__VA_ARGS__))
#define json_loadf(...)           cow_tree_json_(json_loadf(__VA_ARGS__))
#define json_loadfd(...)          cow_tree_json_(json_loadfd(__VA_ARGS__))
#define json_load_file(...)       cow_tree_json_(json_load_file(__VA_ARGS__))
#define json_dumps(...)           cow_tree_text_(json_dumps(__VA_ARGS__))

#endif

/* jansson's allocator belongs to the application: text the library keeps or hands out must
 * never be jansson memory released with a bare free(). With both allocators replaced by
 * ones that put a header before each block (tests/support/alloc-count.c), a free() of
 * jansson memory is a free of a pointer malloc never returned: glibc aborts, ASan and
 * valgrind report it. Every place that turns JSON into text goes through cow__json_text(). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/alloc.h"
#include "core/json.h"
#include "cow/hcs.h"
#include "hcs/common/state.h"
#include "support/alloc-count.h"
#include "support/tjson.h"
#if COW_HAVE_HCS_EMULATOR
#  include "hcs/emu/emu-internal.h"
#endif

/* The same text json_dumps would give, small (one pass) and large (two passes). */
static void text_matches_jansson(void **state)
{
  (void)state;
  json_t *small = json_pack("{s:s, s:i}", "a", "b\"c", "n", 7);
  json_t *large = json_array();
  for (int i = 0; i < 500; i++)
    TJ_OK(json_array_append_new(large, json_string("0123456789")));
  const json_t *docs[] = {small, large};
  for (int i = 0; i < 2; i++) {
    char *ours = cow__json_text(docs[i], JSON_COMPACT);
    char *theirs = json_dumps(docs[i], JSON_COMPACT);
    assert_non_null(ours);
    assert_string_equal(ours, theirs);
    cow__free(ours);
    json_malloc_t m;
    json_free_t f;
    json_get_alloc_funcs(&m, &f);
    f(theirs);
  }
  assert_null(cow__json_text(NULL, 0));
  json_decref(small);
  json_decref(large);
}

static void builders_under_application_allocator(void **state)
{
  (void)state;
  long live = ac_total().live;
  char *doc;
  cow_hcs_system_params_t sp = COW_HCS_SYSTEM_PARAMS_INIT;
  assert_int_equal(cow_hcs_compute_system_json(&doc, &sp, NULL), 0);
  assert_non_null(strstr(doc, "{"));
  cow_free(doc);

  const char *argv[] = {"/bin/true", NULL};
  cow_hcs_process_params_t pp = COW_HCS_PROCESS_PARAMS_INIT;
  pp.command_line = "/bin/true";
  pp.command_args = argv;
  assert_int_equal(cow_hcs_process_params_json(&doc, &pp, 2, NULL), 0);
  char *prepared;
  int tty = -1;
  assert_int_equal(cow__hcs_process_config_prepare(doc, &prepared, &tty), 0);
  assert_int_equal(tty, 0);
  assert_non_null(strstr(prepared, "CommandLine"));
  cow_free(prepared);
  cow_free(doc);
#if COW_HAVE_HCS_EMULATOR
  char *text = cow__emu_json_text(json_pack("{s:i}", "Error", 5));
  assert_string_equal(text, "{\"Error\":5}");
  cow__free(text);
#endif
  assert_int_equal(ac_total().live, live); /* and nothing leaked on either side */
}

int main(void)
{
  ac_install();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(text_matches_jansson),
      cmocka_unit_test(builders_under_application_allocator),
  };
  return cmocka_run_group_tests_name("json_alloc", tests, NULL, NULL);
}

/* The typed HCS builders refuse what JSON cannot carry, naming it, and never drop a part of
 * what they were given: text that is not UTF-8 is COW_EINVAL with the field (and the index
 * in a list) in the error, UTF-8 beyond ASCII arrives as it was given, and an allocation that
 * fails anywhere gives COW_ENOMEM, never a document with a part missing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cow/hcs.h"
#include "support/alloc-fail.h"

/* rc and message of one build, `*doc` set on success. */
static void expect_refused(int rc, char *doc, cow_error_t *err, const char *op, const char *msg)
{
  assert_int_equal(rc, COW_EINVAL);
  assert_null(doc);
  assert_int_equal(err->code, COW_EINVAL);
  assert_non_null(err->message);
  if (strstr(err->message, msg) == NULL)
    fail_msg("'%s' does not say '%s'", err->message, msg);
  assert_string_equal(err->operation, op);
  cow_error_clear(err);
}

static void process_params_name_what_they_refuse(void **state)
{
  (void)state;
  cow_error_t err = COW_ERROR_INIT;
  char *doc = NULL;
  cow_hcs_process_params_t pp = COW_HCS_PROCESS_PARAMS_INIT;
  const char *args[] = {"sh", "-c", "echo $1", "sh", "\xff", "second", NULL};
  pp.command_args = args;
  expect_refused(cow_hcs_process_params_json(&doc, &pp, 2, &err), doc, &err, "process_params_json",
                 "CommandArgs[4] is not valid UTF-8");
  const char *surrogate[] = {"\xed\xa0\x80", NULL}, *overlong[] = {"\xc0\xaf", NULL};
  pp.command_args = surrogate;
  expect_refused(cow_hcs_process_params_json(&doc, &pp, 1, &err), doc, &err, "process_params_json",
                 "CommandArgs[0] is not valid UTF-8");
  pp.command_args = overlong;
  expect_refused(cow_hcs_process_params_json(&doc, &pp, 2, &err), doc, &err, "process_params_json",
                 "CommandArgs[0] is not valid UTF-8");
  pp.command_args = NULL;

  /* The value of a variable is never shown (it may be a secret), its name is. */
  const char *env[] = {"A=1", "SECRET=\xfftoken", NULL};
  pp.environment = env;
  expect_refused(cow_hcs_process_params_json(&doc, &pp, 2, &err), doc, &err, "process_params_json",
                 "Environment[1] (SECRET) is not valid UTF-8");
  const char *env_name[] = {"\xff=1", NULL}, *env_bare[] = {"A=1", "B", NULL};
  pp.environment = env_name;
  expect_refused(cow_hcs_process_params_json(&doc, &pp, 2, &err), doc, &err, "process_params_json",
                 "Environment[0] has a name that is not valid UTF-8");
  pp.environment = env_bare;
  expect_refused(cow_hcs_process_params_json(&doc, &pp, 2, &err), doc, &err, "process_params_json",
                 "Environment[1] is not NAME=VALUE");
  pp.environment = NULL;

  const char *fields[] = {"WorkingDirectory", "CommandLine", "User", "ApplicationName"};
  for (int i = 0; i < 4; i++) {
    cow_hcs_process_params_t q = COW_HCS_PROCESS_PARAMS_INIT;
    const char **slot[] = {&q.working_directory, &q.command_line, &q.user, &q.application_name};
    *slot[i] = "/tmp/\xff";
    char expect[64];
    snprintf(expect, sizeof expect, "%s is not valid UTF-8", fields[i]);
    expect_refused(cow_hcs_process_params_json(&doc, &q, 2, &err), doc, &err, "process_params_json",
                   expect);
  }
  /* err may be NULL: the code alone then. */
  pp.working_directory = "\xfe";
  assert_int_equal(cow_hcs_process_params_json(&doc, &pp, 2, NULL), COW_EINVAL);
  assert_null(doc);
}

static void utf8_beyond_ascii_arrives_as_given(void **state)
{
  (void)state;
  cow_error_t err = COW_ERROR_INIT;
  char *doc = NULL;
  cow_hcs_process_params_t pp = COW_HCS_PROCESS_PARAMS_INIT;
  const char *args[] = {"\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x90\x84", NULL};
  const char *env[] = {"Y=\xc3\xbc", NULL};
  pp.command_args = args;
  pp.environment = env;
  pp.working_directory = "/t\xc3\xa9mp";
  assert_int_equal(cow_hcs_process_params_json(&doc, &pp, 2, &err), 0);
  assert_null(err.message);
  json_t *j = json_loads(doc, 0, NULL);
  assert_non_null(j);
  json_t *a = json_object_get(j, "CommandArgs");
  assert_int_equal(json_array_size(a), 3);
  for (size_t i = 0; i < 3; i++)
    assert_string_equal(json_string_value(json_array_get(a, i)), args[i]);
  assert_string_equal(json_string_value(json_object_get(json_object_get(j, "Environment"), "Y")),
                      "\xc3\xbc");
  assert_string_equal(json_string_value(json_object_get(j, "WorkingDirectory")), "/t\xc3\xa9mp");
  json_decref(j);
  cow_free(doc);
}

static void system_and_query_builders_name_what_they_refuse(void **state)
{
  (void)state;
  cow_error_t err = COW_ERROR_INIT;
  char *doc = NULL;
  cow_hcs_system_params_t sp = COW_HCS_SYSTEM_PARAMS_INIT;
  sp.owner = "own\xff";
  expect_refused(cow_hcs_compute_system_json(&doc, &sp, &err), doc, &err, "compute_system_json",
                 "Owner is not valid UTF-8");
  expect_refused(cow_hcs_container_config_json(&doc, "n", &sp, &err), doc, &err,
                 "container_config_json", "Owner is not valid UTF-8");
  sp.owner = NULL;
  sp.container_json = "[1]";
  expect_refused(cow_hcs_compute_system_json(&doc, &sp, &err), doc, &err, "compute_system_json",
                 "container_json is not a JSON object");
  sp.container_json = NULL;
  expect_refused(cow_hcs_container_config_json(&doc, "n\xff", &sp, &err), doc, &err,
                 "container_config_json", "Name is not valid UTF-8");
  sp.host_name = "h\xff";
  expect_refused(cow_hcs_container_config_json(&doc, "n", &sp, &err), doc, &err,
                 "container_config_json", "HostName is not valid UTF-8");

  const char *types[] = {"Memory", "Stat\xff", NULL}, *empty[] = {"Memory", "", NULL};
  expect_refused(cow_hcs_property_query_json(&doc, types, &err), doc, &err, "property_query_json",
                 "PropertyTypes[1] is not valid UTF-8");
  expect_refused(cow_hcs_property_query_json(&doc, empty, &err), doc, &err, "property_query_json",
                 "PropertyTypes[1] is empty");
  expect_refused(cow_hcs_modify_setting_json(&doc, "Container/\xff", "Add", NULL, &err), doc, &err,
                 "modify_setting_json", "ResourcePath is not valid UTF-8");
  expect_refused(cow_hcs_modify_setting_json(&doc, "Container/Memory", "Add", "{\"a\":", &err), doc,
                 &err, "modify_setting_json", "settings_json is not JSON text");
  expect_refused(cow_hcs_signal_options_windows_json(&doc, "CtrlX", &err), doc, &err,
                 "signal_options_windows_json", "is not one of CtrlC");
}

/* The builds under test, each from fixed inputs that use every part of its document. */
static int build_process(char **doc, cow_error_t *err)
{
  cow_hcs_process_params_t pp = COW_HCS_PROCESS_PARAMS_INIT;
  const char *args[] = {"sh", "-c", "echo \xc3\xa9", NULL};
  const char *env[] = {"A=1", "B=2", NULL};
  pp.command_args = args;
  pp.environment = env;
  pp.working_directory = "/tmp";
  pp.user = "root";
  pp.create_stdout = pp.create_stderr = 1;
  pp.console_width = 80;
  pp.console_height = 25;
  return cow_hcs_process_params_json(doc, &pp, 2, err);
}

static int build_system(char **doc, cow_error_t *err)
{
  cow_hcs_system_params_t sp = COW_HCS_SYSTEM_PARAMS_INIT;
  sp.owner = "test";
  sp.terminate_on_last_handle_closed = 1;
  sp.container_json = "{\"Storage\":{\"Layers\":[{\"Id\":\"a\",\"Path\":\"C:\\\\l\"}]}}";
  return cow_hcs_compute_system_json(doc, &sp, err);
}

static int build_container(char **doc, cow_error_t *err)
{
  cow_hcs_system_params_t sp = COW_HCS_SYSTEM_PARAMS_INIT;
  sp.owner = "test";
  sp.host_name = "h";
  sp.terminate_on_last_handle_closed = 1;
  return cow_hcs_container_config_json(doc, "name", &sp, err);
}

static int build_query(char **doc, cow_error_t *err)
{
  const char *types[] = {"Statistics", "ProcessList", "Memory", NULL};
  return cow_hcs_property_query_json(doc, types, err);
}

static int build_modify(char **doc, cow_error_t *err)
{
  return cow_hcs_modify_setting_json(doc, "Container/Memory/SizeInMB", "Update",
                                     "{\"a\":[1,2,{\"b\":\"c\"}]}", err);
}

static int build_signal(char **doc, cow_error_t *err)
{
  return cow_hcs_signal_options_windows_json(doc, "CtrlBreak", err);
}

/* Fail each allocation of a full build in turn: every result is either COW_ENOMEM (nothing
 * out, and an error that names what could not be built) or the whole document, byte for
 * byte; a set whose failure went unchecked would show as a success with a field missing. */
static void under_failures(int (*build)(char **, cow_error_t *), const char *op, const char *parsed)
{
  char *whole = NULL;
  assert_int_equal(build(&whole, NULL), 0);
  int failed = 0;
  for (long n = 1;; n++) {
    char *doc = NULL;
    cow_error_t err = COW_ERROR_INIT;
    af_arm(n);
    int rc = build(&doc, &err);
    int reached = af_disarm();
    if (rc == 0) {
      assert_string_equal(doc, whole); /* every part there */
      cow_free(doc);
      if (!reached)
        break; /* the failing allocation came after the build: all were tried */
      continue;
    }
    /* jansson's parser reports some failed allocations as a syntax error ("string or '}'
     * expected"): a builder that parses the caller's JSON (`parsed`) then says the text
     * is wrong, naming it. Still no document, which is what matters here. */
    int parse_said = rc == COW_EINVAL && parsed != NULL && err.message != NULL &&
                     strstr(err.message, parsed) != NULL;
    if (rc != COW_ENOMEM && !parse_said)
      fail_msg("%s: allocation %ld failed: %s (%s), not COW_ENOMEM", op, n, cow_err_name(rc),
               err.message ? err.message : "no message");
    assert_null(doc);
    /* The message names the part; it may be missing only when its own allocation failed. */
    if (!parse_said && err.message != NULL && strstr(err.message, "out of memory") == NULL)
      fail_msg("%s: allocation %ld: '%s' does not say out of memory", op, n, err.message);
    cow_error_clear(&err);
    failed++;
  }
  if (failed < 2)
    fail_msg("%s: only %d allocations failed the build", op, failed);
  cow_free(whole);
}

static void no_allocation_failure_drops_a_part(void **state)
{
  (void)state;
  under_failures(build_process, "process_params_json", NULL);
  under_failures(build_system, "compute_system_json", "container_json");
  under_failures(build_container, "container_config_json", NULL);
  under_failures(build_query, "property_query_json", NULL);
  under_failures(build_modify, "modify_setting_json", "settings_json");
  under_failures(build_signal, "signal_options_windows_json", NULL);
}

/* The error of a failed allocation names the field it was building. */
static void an_allocation_failure_names_the_part(void **state)
{
  (void)state;
  char *doc = NULL;
  cow_error_t err = COW_ERROR_INIT;
  int named = 0;
  for (long n = 1; n < 200; n++) {
    af_arm(n);
    int rc = build_process(&doc, &err);
    af_disarm();
    if (rc == 0) {
      cow_free(doc);
      break;
    }
    if (err.message != NULL &&
        (strstr(err.message, "CommandArgs") != NULL || strstr(err.message, "Environment") != NULL))
      named++;
    cow_error_clear(&err);
  }
  assert_true(named > 0);
}

int main(void)
{
  af_install(); /* before any libcow call, as the hook requires; nothing fails until af_arm() */
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(process_params_name_what_they_refuse),
      cmocka_unit_test(utf8_beyond_ascii_arrives_as_given),
      cmocka_unit_test(system_and_query_builders_name_what_they_refuse),
      cmocka_unit_test(no_allocation_failure_drops_a_part),
      cmocka_unit_test(an_allocation_failure_names_the_part),
  };
  return cmocka_run_group_tests_name("builders", tests, NULL, NULL);
}

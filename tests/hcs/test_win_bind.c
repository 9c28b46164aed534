/* Windows only: the run-time binding of computecore.dll (HCS v2) and vmcompute.dll (HCS v1).
 * Where a DLL is absent (Wine ships neither; nor does Windows without the Hyper-V or
 * Containers feature) every entry point fails with COW_EBACKEND_UNAVAILABLE and an error
 * naming the DLL: no loader failure at start-up, no crash, no callback, no handle left on
 * the loop. Each case checks for the DLL itself first and skips where it is present, so the
 * suite stays true on a Hyper-V host.
 * (The guest transports on Windows, hvsocket included: tests/transport.) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#define WIN32_LEAN_AND_MEAN
#include <winsock2.h> /* before windows.h, which would otherwise pull in winsock 1 */
#include <windows.h>

#include <stdio.h>
#include <string.h>

#include <uv.h>

#include "cow.h"
#include "hcs/win-constructors.h"

static int dll_present(const wchar_t *name)
{
  HMODULE m = LoadLibraryExW(name, NULL, LOAD_LIBRARY_SEARCH_SYSTEM32);
  if (m == NULL)
    return 0;
  FreeLibrary(m);
  return 1;
}

static const wchar_t *dll_of(cow_hcs_api_t api)
{
  return api == COW_HCS_V2 ? L"computecore.dll" : L"vmcompute.dll";
}

static const char *dll_name_of(cow_hcs_api_t api)
{
  return api == COW_HCS_V2 ? "computecore.dll" : "vmcompute.dll";
}

static void check_unavailable(cow_hcs_api_t api)
{
  if (dll_present(dll_of(api)))
    skip(); /* a Hyper-V host: nothing to prove here */
  cow_error_t err;
  memset(&err, 0, sizeof err);
  assert_int_equal(cow_hcs_available(api, &err), COW_EBACKEND_UNAVAILABLE);
  assert_int_equal(err.code, COW_EBACKEND_UNAVAILABLE);
  assert_int_equal(err.domain, COW_DOMAIN_OS);
  assert_int_equal(err.sys_code, ERROR_MOD_NOT_FOUND);
  assert_non_null(err.message);
  printf("cow_hcs_available(v%d): %s: %s\n", (int)api, cow_err_name(err.code), err.message);
  assert_non_null(strstr(err.message, dll_name_of(api)));
  cow_error_clear(&err);
  /* The tables are bound once per process; asking again gives the same answer. */
  assert_int_equal(cow_hcs_available(api, NULL), COW_EBACKEND_UNAVAILABLE);
  assert_int_equal(cow_hcs_available(api, &err), COW_EBACKEND_UNAVAILABLE);
  assert_non_null(strstr(err.message, dll_name_of(api)));
  cow_error_clear(&err);
}

static void v2_unavailable_names_computecore(void **state)
{
  check_unavailable(COW_HCS_V2);
}

static void v1_unavailable_names_vmcompute(void **state)
{
  check_unavailable(COW_HCS_V1);
}

static void check_constructors(cow_hcs_api_t api)
{
  if (dll_present(dll_of(api)))
    skip();
  assert_constructors_unavailable(api, "win-bind");
}

static void v2_create_system_fails_cleanly(void **state)
{
  check_constructors(COW_HCS_V2);
}

static void v1_create_system_fails_cleanly(void **state)
{
  check_constructors(COW_HCS_V1);
}

/* The same through the blocking API: its private loop thread reports the failure and
 * shuts down cleanly. */
static void blocking_create_system_fails_cleanly(void **state)
{
  if (dll_present(dll_of(COW_HCS_V2)))
    skip();
  assert_blocking_create_unavailable("win-bind");
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(v2_unavailable_names_computecore),
      cmocka_unit_test(v1_unavailable_names_vmcompute),
      cmocka_unit_test(v2_create_system_fails_cleanly),
      cmocka_unit_test(v1_create_system_fails_cleanly),
      cmocka_unit_test(blocking_create_system_fails_cleanly),
  };
  return cmocka_run_group_tests_name("hcs_win_bind", tests, NULL, NULL);
}

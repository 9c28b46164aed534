/* Error codes, names, the rich error object, HRESULT handling and the predicates. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include <uv.h>

#include "cow.h"

#include <jansson.h>

static void codes_match_libuv(void **state)
{
  assert_int_equal(COW_EINVAL, UV_EINVAL);
  assert_int_equal(COW_ECANCELED, UV_ECANCELED);
  assert_int_equal(COW_EOF, UV_EOF);
  assert_string_equal(cow_err_name(COW_ETIMEDOUT), "ETIMEDOUT");
  assert_string_equal(cow_err_name(COW_EBRIDGE_CLOSED), "EBRIDGE_CLOSED");
  assert_string_equal(cow_err_name(12345), "UNKNOWN");
  assert_string_equal(cow_strerror(COW_ENOT_EXITED), "the process or container has not exited");
  assert_string_equal(cow_strerror(1), "unknown error");
  /* libuv codes a transport passes through are named as libuv names them */
  assert_string_equal(cow_err_name(UV_EADDRINUSE), "EADDRINUSE");
  assert_string_equal(cow_strerror(UV_EADDRINUSE), uv_strerror(UV_EADDRINUSE));
  assert_string_equal(cow_err_name(UV_EAFNOSUPPORT), "EAFNOSUPPORT");
  /* every own code sits in the reserved block */
  assert_true(COW_EHCS <= -30000 && COW_EHCS > -31000);
  assert_true(COW_ENOT_STARTED <= -30000 && COW_ENOT_STARTED > -31000);
}

static void hresults(void **state)
{
  /* zero extension of a sign-extended HRESULT (hcsshim#2849) */
  assert_int_equal(cow_hresult((int64_t)(int32_t)0xC037010E), 0xC037010Eu);
  assert_int_equal(cow_hresult(-1), 0xFFFFFFFFu);
  assert_true(cow_hresult_equal(0x80370110u, 0xC0370110u));
  assert_true(cow_hresult_equal(0xC037010Eu, 0x8037010Eu));
  assert_false(cow_hresult_equal(0x80370110u, 0x8037010Eu));
  /* 0x0103 differs between the families: v1 pending vs an unrelated HCS_E code */
  assert_false(cow_hresult_equal(0xC0370103u, 0x80370103u));
  assert_int_equal(cow_hresult_to_code(0), 0);
  assert_int_equal(cow_hresult_to_code(0xC037010Eu), COW_ENOENT);
  assert_int_equal(cow_hresult_to_code(0x80070005u), COW_EACCES);
  assert_int_equal(cow_hresult_to_code(0x8007007Fu), COW_ENOSYS);
  assert_int_equal(cow_hresult_to_code(0x80FFFFFFu), COW_EHCS);
}

static cow_error_t hr(uint32_t code)
{
  cow_error_t e = COW_ERROR_INIT;
  e.code = cow_hresult_to_code(code);
  e.domain = COW_DOMAIN_HCS;
  e.sys_code = code;
  return e;
}

static void predicates(void **state)
{
  cow_error_t e;
  e = hr(0xC0370110u);
  assert_true(cow_error_is_already_stopped(&e));
  e = hr(0x8037011Fu);
  assert_true(cow_error_is_already_stopped(&e));
  e = hr(0xC037010Eu);
  assert_true(cow_error_is_already_stopped(&e));
  assert_true(cow_error_is_not_found(&e));
  /* ERROR_PROC_NOT_FOUND is a failed procedure lookup, never "stopped" (hcsshim#1064) */
  e = hr(0x8007007Fu);
  assert_false(cow_error_is_already_stopped(&e));
  assert_false(cow_error_is_not_found(&e));
  e = hr(0xC0370103u);
  assert_true(cow_error_is_pending(&e));
  e = hr(0x80370117u);
  assert_true(cow_error_is_pending(&e));
  e = hr(0x8037011Bu);
  assert_true(cow_error_is_access_denied(&e));
  e = hr(0x80370105u);
  assert_true(cow_error_is_invalid_state(&e));
  e = hr(0xC0370109u);
  assert_true(cow_error_is_timeout(&e));
  e = hr(0x80004001u);
  assert_true(cow_error_is_not_supported(&e));
  e = hr(0x8037011Eu);
  assert_true(cow_error_is_bridge_closed(&e));
  cow_error_t lib = COW_ERROR_INIT;
  lib.code = COW_EBRIDGE_CLOSED;
  assert_true(cow_error_is_bridge_closed(&lib));
  assert_false(cow_error_is_timeout(&lib));
  assert_false(cow_error_is_not_found(NULL));
}

static void copy_move_clear(void **state)
{
  cow_error_t a = COW_ERROR_INIT, b = COW_ERROR_INIT, c = COW_ERROR_INIT;
  a.code = COW_EGUEST;
  a.domain = COW_DOMAIN_GUEST;
  a.sys_code = 0x80070490u;
  a.operation = "signal";
  a.message = "element not found";
  a.object_id = "ctr";
  a.detail_json = "{\"ErrorRecords\":[]}";
  assert_int_equal(cow_error_copy(&b, &a), 0);
  assert_string_equal(b.message, "element not found");
  assert_ptr_not_equal(b.message, a.message);
  assert_string_equal(b.detail_json, a.detail_json);
  cow_error_move(&c, &b);
  assert_null(b.message);
  assert_int_equal(b.code, 0);
  assert_string_equal(c.object_id, "ctr");
  cow_error_clear(&c);
  assert_null(c.message);
  assert_int_equal(c.code, 0);
  cow_error_clear(NULL);
  char *doc = NULL;
  assert_int_equal(cow_signal_options_json(&doc, 15), 0);
  assert_string_equal(doc, "{\"Signal\":15}");
  cow_free(doc);
  assert_int_equal(cow_signal_options_json(&doc, 64), 0);
  assert_string_equal(doc, "{\"Signal\":64}");
  cow_free(doc);
  doc = (char *)"untouched";
  assert_int_equal(cow_signal_options_json(&doc, 0), COW_EINVAL);
  assert_null(doc); /* cleared on failure */
  assert_int_equal(cow_signal_options_json(&doc, 65), COW_EINVAL);
  assert_int_equal(cow_signal_options_json(NULL, 15), COW_EINVAL);
  cow_free(NULL);
}

static const cow_version_info_t *info_from_thread;
static void info_thread(void *arg)
{
  info_from_thread = cow_version_info();
}

/* cow_version_info() reports what <cow/config.h> says was built, the linked libuv, and the
 * same static struct from any thread. */
static void version_info(void **state)
{
  uv_thread_t t;
  assert_int_equal(uv_thread_create(&t, info_thread, NULL), 0);
  const cow_version_info_t *info = cow_version_info();
  assert_int_equal(uv_thread_join(&t), 0);
  assert_non_null(info);
  assert_ptr_equal(info, info_from_thread);
  assert_ptr_equal(info, cow_version_info());
  assert_true(info->age >= 1);
  assert_int_equal(info->version_num, COW_VERSION_HEX);
  assert_string_equal(info->version, cow_version_string());
  assert_string_equal(info->libuv_version, uv_version_string());
  assert_string_equal(info->jansson_version, JANSSON_VERSION);
  assert_int_equal(info->soversion, COW_SOVERSION);
  assert_int_equal((info->features & COW_FEATURE_GUEST) != 0, COW_HAVE_BACKEND_GUEST);
  assert_int_equal((info->features & COW_FEATURE_HCS) != 0, COW_HAVE_BACKEND_HCS);
  assert_int_equal((info->features & COW_FEATURE_HCS_EMULATOR) != 0, COW_HAVE_HCS_EMULATOR);
#if defined(__linux__)
  assert_int_equal((info->features & COW_FEATURE_VSOCK) != 0, COW_HAVE_BACKEND_GUEST);
  assert_int_equal((info->features & COW_FEATURE_UNIX_TRANSPORT) != 0, COW_HAVE_BACKEND_GUEST);
#endif
#if defined(_WIN32)
  assert_int_equal((info->features & COW_FEATURE_HVSOCK) != 0, COW_HAVE_BACKEND_GUEST);
  assert_int_equal(info->features & (COW_FEATURE_VSOCK | COW_FEATURE_UNIX_TRANSPORT), 0);
#endif
}

/* (The log callback has its own test: test_log.c.) */
static void version(void **state)
{
  assert_int_equal(cow_version(), COW_VERSION_HEX);
  assert_string_equal(cow_version_string(), "0.1.0");
  assert_int_equal(cow_replace_allocator(NULL, NULL, NULL, NULL), COW_EINVAL);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(codes_match_libuv), cmocka_unit_test(version_info),
      cmocka_unit_test(hresults),          cmocka_unit_test(predicates),
      cmocka_unit_test(copy_move_clear),   cmocka_unit_test(version),
  };
  return cmocka_run_group_tests_name("error", tests, NULL, NULL);
}

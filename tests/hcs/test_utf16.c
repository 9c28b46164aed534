/* UTF-8 <-> UTF-16 conversion: round trips, surrogate pairs, and rejection of invalid input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/alloc.h"
#include "cow/error.h"
#include "hcs/common/hcs-types.h"
#include "hcs/common/utf16.h"

static void test_roundtrip(void **state)
{
  (void)state;
  /* ASCII, 2-byte, 3-byte and 4-byte (surrogate pair) sequences. */
  const char *s = "id-\xC3\xA9\xE2\x82\xAC\xF0\x9F\x90\x84!";
  uint16_t *w = NULL;
  size_t n = 0;
  assert_int_equal(cow__utf16_from_utf8n(s, strlen(s), &w, &n), 0);
  const uint16_t expect[] = {'i', 'd', '-', 0x00E9, 0x20AC, 0xD83D, 0xDC04, '!', 0};
  assert_int_equal(n, 8);
  assert_memory_equal(w, expect, sizeof(expect));
  assert_int_equal(cow__utf16_len(w), 8);
  char *back = NULL;
  assert_int_equal(cow__utf8_from_utf16(w, &back), 0);
  assert_string_equal(back, s);
  cow__free(back);
  cow__free(w);
  /* Empty string. */
  assert_int_equal(cow__utf16_from_utf8("", &w), 0);
  assert_int_equal(w[0], 0);
  assert_int_equal(cow__utf8_from_utf16(w, &back), 0);
  assert_string_equal(back, "");
  cow__free(back);
  cow__free(w);
}

static void test_invalid_utf8(void **state)
{
  (void)state;
  static const char *const bad[] = {
      "\x80",             /* lone continuation byte */
      "\xC3",             /* truncated 2-byte */
      "\xE2\x82",         /* truncated 3-byte */
      "\xC0\xAF",         /* overlong '/' */
      "\xE0\x80\xAF",     /* overlong */
      "\xED\xA0\x80",     /* encoded surrogate U+D800 */
      "\xF4\x90\x80\x80", /* above U+10FFFF */
      "\xFF",             /* invalid lead byte */
      "ok\xC3(",          /* bad continuation */
  };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    uint16_t *w = (uint16_t *)1;
    assert_int_equal(cow__utf16_from_utf8(bad[i], &w), COW_EINVAL);
    assert_null(w);
  }
  uint16_t *w = (uint16_t *)1;
  assert_int_equal(cow__utf16_from_utf8n("a\0b", 3, &w, NULL), COW_EINVAL); /* embedded NUL */
  assert_null(w);
  assert_int_equal(cow__utf16_from_utf8(NULL, &w), COW_EINVAL);
}

static void test_invalid_utf16(void **state)
{
  (void)state;
  const uint16_t lone_high[] = {'a', 0xD800, 'b', 0};
  const uint16_t lone_low[] = {0xDC00, 0};
  const uint16_t high_at_end[] = {'a', 0xDBFF, 0};
  const uint16_t reversed[] = {0xDC00, 0xD800, 0};
  const uint16_t *bad[] = {lone_high, lone_low, high_at_end, reversed};
  for (size_t i = 0; i < 4; i++) {
    char *s = (char *)1;
    assert_int_equal(cow__utf8_from_utf16(bad[i], &s), COW_EINVAL);
    assert_null(s);
  }
  const uint16_t max[] = {0xDBFF, 0xDFFF, 0}; /* U+10FFFF */
  char *s = NULL;
  assert_int_equal(cow__utf8_from_utf16(max, &s), 0);
  assert_string_equal(s, "\xF4\x8F\xBF\xBF");
  cow__free(s);
  const uint16_t with_nul[] = {'a', 0, 'b'};
  assert_int_equal(cow__utf8_from_utf16n(with_nul, 3, &s, NULL), COW_EINVAL);
}

static void test_abi(void **state)
{
  (void)state;
  assert_int_equal(sizeof(WCHAR), 2);
  assert_int_equal(sizeof(HCS_PROCESS_INFORMATION), sizeof(void *) == 8 ? 32 : 20);
  assert_int_equal(sizeof(HCS_EVENT), sizeof(void *) == 8 ? 24 : 12);
  assert_int_equal((uint32_t)HcsEventServiceDisconnect, 0x02000000u);
  assert_int_equal((uint32_t)HcsNotificationServiceDisconnect, 0x01000000u);
#ifndef _WIN32 /* mingw-w64 10's computedefs.h has no HcsEventGroup* values */
  assert_int_equal((uint32_t)HcsEventGroupOperationInfo, 0xC0000001u);
#endif
  assert_int_equal((uint32_t)COW__HR_V1_OPERATION_PENDING, 0xC0370103u);
  assert_true(COW__HR_OPERATION_PENDING < 0);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_roundtrip),
      cmocka_unit_test(test_invalid_utf8),
      cmocka_unit_test(test_invalid_utf16),
      cmocka_unit_test(test_abi),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

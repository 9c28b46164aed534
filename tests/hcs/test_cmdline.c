/* The CommandLineToArgvW-compatible splitter, against a table of Windows results. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/alloc.h"
#include "cow/error.h"
#include "hcs/emu/cmdline.h"

struct row {
  const char *line;
  const char *argv[6];
};

/* Expected values follow shell32's CommandLineToArgvW (Wine's test table and
 * daviddeley.com's measurements). */
static const struct row rows[] = {
    {"prog", {"prog"}},
    {"prog a b  c", {"prog", "a", "b", "c"}},
    {"prog \"a b\" c", {"prog", "a b", "c"}},
    {"\"C:\\Program Files\\x.exe\" arg", {"C:\\Program Files\\x.exe", "arg"}},
    {"\"a\\\"b\" c", {"a\\", "b c"}},    /* argv[0] ends at the next quote, no escapes */
    {"p a\\\\b", {"p", "a\\\\b"}},       /* backslashes not before a quote */
    {"p a\\\"b", {"p", "a\"b"}},         /* 1 backslash + quote: literal quote */
    {"p a\\\\\"b c\"", {"p", "a\\b c"}}, /* 2 backslashes + quote: \ and quoting */
    {"p a\\\\\\\"b", {"p", "a\\\"b"}},   /* 3 backslashes + quote: \ and literal " */
    {"p \"\"", {"p", ""}},               /* empty argument */
    {"p \"a\"\"b\"", {"p", "a\"b"}},     /* "" inside quotes */
    {"p \"\"\"a\"", {"p", "\"a"}},       /* three quotes: literal quote */
    {"p\ta\t", {"p", "a"}},              /* tabs, trailing blank */
    {"p \"unterminated arg", {"p", "unterminated arg"}},
    {"/bin/sh -c \"echo out; exit 3\"", {"/bin/sh", "-c", "echo out; exit 3"}},
    {"p \xC3\xA9t\xC3\xA9", {"p", "\xC3\xA9t\xC3\xA9"}}, /* UTF-8 passes through */
};

static void test_table(void **state)
{
  (void)state;
  for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
    char **argv = NULL;
    size_t argc = 0;
    assert_int_equal(cow__emu_cmdline_split(rows[i].line, &argv, &argc), 0);
    size_t n = 0;
    while (rows[i].argv[n] != NULL)
      n++;
    if (argc != n)
      fail_msg("row %zu (%s): argc %zu, expected %zu", i, rows[i].line, argc, n);
    for (size_t k = 0; k < n; k++)
      if (strcmp(argv[k], rows[i].argv[k]) != 0)
        fail_msg("row %zu (%s): argv[%zu] = <%s>, expected <%s>", i, rows[i].line, k, argv[k],
                 rows[i].argv[k]);
    assert_null(argv[argc]);
    cow__free(argv);
  }
}

static void test_invalid(void **state)
{
  (void)state;
  char **argv = (char **)1;
  assert_int_equal(cow__emu_cmdline_split("", &argv, NULL), COW_EINVAL);
  assert_null(argv);
  assert_int_equal(cow__emu_cmdline_split("  \t ", &argv, NULL), COW_EINVAL);
  assert_int_equal(cow__emu_cmdline_split("\"\" x", &argv, NULL), COW_EINVAL);
  assert_int_equal(cow__emu_cmdline_split(NULL, &argv, NULL), COW_EINVAL);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_table),
      cmocka_unit_test(test_invalid),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

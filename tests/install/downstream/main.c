/* A consumer of an *installed* libcow (tests/install): it includes the public umbrella
 * header the way users do and calls real library functions, so a wrong include path,
 * a missing export, a wrong library or a broken link line fails here. Exit 0 only when
 * every result matches. */
#include <cow.h>
#include <cow/stdio.h> /* the stdio streams: the one header that brings <uv.h> */

#include <stdio.h>
#include <string.h>

#ifndef COW_EXPECTED_VERSION
#  error "build with -DCOW_EXPECTED_VERSION=\"x.y.z\" (the version of the libcow under test)"
#endif

static int failures;

static void check_str(const char *what, const char *got, const char *want)
{
  if (got == NULL || strcmp(got, want) != 0) {
    fprintf(stderr, "FAIL %s: got \"%s\", want \"%s\"\n", what, got ? got : "(null)", want);
    failures++;
  } else {
    printf("ok   %s = \"%s\"\n", what, got);
  }
}

static void check_int(const char *what, long long got, long long want)
{
  if (got != want) {
    fprintf(stderr, "FAIL %s: got %lld, want %lld\n", what, got, want);
    failures++;
  } else {
    printf("ok   %s = %lld\n", what, got);
  }
}

int main(void)
{
  /* The library that was linked, against the version the installed headers and the
   * build that produced them claim. */
  check_str("cow_version_string()", cow_version_string(), COW_EXPECTED_VERSION);
  check_int("cow_version()", (long long)cow_version(), (long long)COW_VERSION_HEX);

  check_str("cow_strerror(COW_EINVAL)", cow_strerror(COW_EINVAL), "invalid argument");
  check_str("cow_err_name(COW_EINVAL)", cow_err_name(COW_EINVAL), "EINVAL");
  check_str("cow_err_name(COW_EHCS)", cow_err_name(COW_EHCS), "EHCS");
  /* libcow's codes equal libuv's where the meaning is the same (<cow/stdio.h> brought <uv.h>). */
  check_int("COW_EINVAL == UV_EINVAL", (int)COW_EINVAL == (int)UV_EINVAL, 1);

  /* The 0x8037xxxx and 0xC037xxxx forms of one HCS code compare equal; different codes do not. */
  check_int("cow_hresult_equal(0x80370110, 0xC0370110)",
            cow_hresult_equal(0x80370110u, 0xC0370110u), 1);
  check_int("cow_hresult_equal(0x80370110, 0x80370111)",
            cow_hresult_equal(0x80370110u, 0x80370111u), 0);

  /* What the library says it contains is what the installed <cow/config.h> says. */
  const cow_version_info_t *info = cow_version_info();
  check_int("cow_version_info()->age >= 1", info != NULL && info->age >= 1, 1);
  check_str("cow_version_info()->version", info ? info->version : NULL, COW_EXPECTED_VERSION);
  check_int("feature GUEST == COW_HAVE_BACKEND_GUEST",
            info && (info->features & COW_FEATURE_GUEST) != 0, COW_HAVE_BACKEND_GUEST);
  check_int("feature HCS == COW_HAVE_BACKEND_HCS", info && (info->features & COW_FEATURE_HCS) != 0,
            COW_HAVE_BACKEND_HCS);
  check_int("feature HCS_EMULATOR == COW_HAVE_HCS_EMULATOR",
            info && (info->features & COW_FEATURE_HCS_EMULATOR) != 0, COW_HAVE_HCS_EMULATOR);
  check_int("cow_version_info()->soversion", info ? (long long)info->soversion : -1, COW_SOVERSION);
  check_str("cow_version_info()->libuv_version", info ? info->libuv_version : NULL,
            uv_version_string());

  /* A blocking context starts and stops a real loop thread (libuv, threads). */
  cow_blocking_t *b = NULL;
  check_int("cow_blocking_new()", cow_blocking_new(&b), 0);
  check_int("cow_blocking_close()", b ? cow_blocking_close(b) : -1, 0);

#if COW_HAVE_BACKEND_HCS
  /* A builder: jansson inside libcow (a static consumer needs it on its link line). */
  const char *types[] = {"Memory", NULL};
  char *doc = NULL;
  check_int("cow_hcs_property_query_json()", cow_hcs_property_query_json(&doc, types, NULL), 0);
  check_str("its document", doc, "{\"PropertyTypes\":[\"Memory\"]}");
  cow_free(doc);
#endif

  if (failures) {
    fprintf(stderr, "%d check(s) failed\n", failures);
    return 1;
  }
  printf("all checks passed\n");
  return 0;
}

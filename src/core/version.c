/* The version numbers and the build's feature report (<cow/version.h>). */
#include "cow/version.h"

#include <jansson.h>
#include <uv.h>

#include "cow/config.h"

#define COW__STR2(x) #x
#define COW__STR(x)  COW__STR2(x)

unsigned int cow_version(void)
{
  return COW_VERSION_HEX;
}

const char *cow_version_string(void)
{
  return COW__STR(COW_VERSION_MAJOR) "." COW__STR(COW_VERSION_MINOR) "." COW__STR(
      COW_VERSION_PATCH);
}

/* The features compiled in, from the same <cow/config.h> consumers see, plus the
 * transports each platform builds (src/guest/sources.cmake). */
#if COW_HAVE_BACKEND_GUEST && !defined(_WIN32)
#  define COW__F_UNIX COW_FEATURE_UNIX_TRANSPORT
#else
#  define COW__F_UNIX 0u
#endif
#if COW_HAVE_BACKEND_GUEST && defined(__linux__)
#  define COW__F_VSOCK COW_FEATURE_VSOCK
#else
#  define COW__F_VSOCK 0u
#endif
#if COW_HAVE_BACKEND_GUEST && defined(_WIN32)
#  define COW__F_HVSOCK COW_FEATURE_HVSOCK
#else
#  define COW__F_HVSOCK 0u
#endif
#define COW__FEATURES                                                                              \
  ((COW_HAVE_BACKEND_GUEST ? COW_FEATURE_GUEST : 0u) |                                             \
   (COW_HAVE_BACKEND_HCS ? COW_FEATURE_HCS : 0u) |                                                 \
   (COW_HAVE_HCS_EMULATOR ? COW_FEATURE_HCS_EMULATOR : 0u) | COW__F_UNIX | COW__F_VSOCK |          \
   COW__F_HVSOCK)

static cow_version_info_t info;
static uv_once_t info_once = UV_ONCE_INIT;

static void info_init(void)
{
  info.age = COW_VERSION_INFO_AGE;
  info.version_num = COW_VERSION_HEX;
  info.version = cow_version_string();
  info.features = COW__FEATURES;
  info.libuv_version = uv_version_string(); /* the linked libuv's, not its header's */
  info.jansson_version = JANSSON_VERSION;
  info.soversion = COW_SOVERSION;
}

const cow_version_info_t *cow_version_info(void)
{
  uv_once(&info_once, info_init); /* any thread: filled once, then only read */
  return &info;
}

#include "cow/version.h"

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

/* The HCS v2 (computecore) backend over the emulator: the end-to-end suite of docs/hcs-api.md
 * §6.7 (backend-suite.h). */
#include "hcs/backend-suite.h"

int main(void)
{
  suite_api = COW_HCS_V2;
  return suite_main("hcs_backend_v2", NULL, 0);
}

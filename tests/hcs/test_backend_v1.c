/* The HCS v1 (vmcompute) backend over the emulator: the end-to-end suite of docs/hcs-api.md
 * §6.7 (backend-suite.h). */
#include "hcs/backend-suite.h"

int main(void)
{
  suite_api = COW_HCS_V1;
  return suite_main("hcs_backend_v1", NULL, 0);
}

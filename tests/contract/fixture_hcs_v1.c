/* The contract suite against the HCS v1 backend (vmcompute) over the emulator. */
#include "contract/fixture_hcs.h"

int main(void)
{
  fixture_api = COW_HCS_V1;
  static const struct contract_fixture fx = {
      .name = "hcs_v1",
      .setup = fixture_setup,
      .process_config = fixture_process_config,
      .bad_config = "[\"not an object\"]",
      .teardown = fixture_teardown,
  };
  return contract_main(&fx);
}

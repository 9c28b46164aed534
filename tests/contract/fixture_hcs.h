/* The contract fixture for both HCS backends: a started, emulated Container system per test
 * (its host view is the process host), torn down with terminate + wait + close. */
#ifndef COW_TESTS_CONTRACT_FIXTURE_HCS_H
#define COW_TESTS_CONTRACT_FIXTURE_HCS_H

#include "contract/contract.h"
#include "hcs/emu/emu.h"
#include "hcs/hcs-fixture.h"

static cow_hcs_api_t fixture_api;

static int fixture_setup(uv_loop_t *loop, const struct contract_options *opt, cow_host_t **host,
                         void **ctx)
{
  cow__emu_clear_faults();
  if (opt->output_late_ms) {
    cow__emu_fault_t late = {.kind = COW__EMU_FAULT_OUTPUT_LATE, .ms = opt->output_late_ms};
    int rc = cow__emu_set_fault(&late);
    if (rc != 0)
      return rc;
  }
  static unsigned n;
  char id[64];
  snprintf(id, sizeof id, "contract-v%d-%u-%ld", (int)fixture_api, ++n, (long)uv_os_getpid());
  int status = 0;
  cow_container_t *c = hf_system(loop, fixture_api, id, 1, &status);
  if (c == NULL)
    return status ? status : COW_EINVAL;
  *host = cow_container_host(c);
  *ctx = c;
  return 0;
}

static char *fixture_process_config(void *ctx, const char *const *argv, unsigned flags)
{
  (void)ctx;
  unsigned f = 0;
  f |= (flags & CONTRACT_STDIN) ? HF_STDIN : 0;
  f |= (flags & CONTRACT_STDOUT) ? HF_STDOUT : 0;
  f |= (flags & CONTRACT_STDERR) ? HF_STDERR : 0;
  f |= (flags & CONTRACT_TTY) ? HF_TTY : 0;
  return hf_process_doc(fixture_api, argv, f, NULL);
}

static void fixture_teardown(uv_loop_t *loop, cow_host_t *host, void *ctx)
{
  (void)host;
  hf_system_destroy(loop, ctx);
  cow__emu_clear_faults();
}

#endif

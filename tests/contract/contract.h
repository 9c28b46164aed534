/* The contract suite: what "implements cow" means, written once against the public
 * interfaces and run against every backend (docs/design.md §6). A backend's test
 * executable supplies a fixture and calls contract_main(). */
#ifndef COW_TEST_CONTRACT_H
#define COW_TEST_CONTRACT_H

#include <uv.h>

#include "cow.h"

#define CONTRACT_STDIN  0x1u
#define CONTRACT_STDOUT 0x2u
#define CONTRACT_STDERR 0x4u
#define CONTRACT_TTY    0x8u

/* How a test wants the backend to behave. */
struct contract_options {
  /* Non-zero: the backend delivers every process's exit first and its stdout/stderr this
   * many ms after it (the peer's --output-late, the emulator's output-late fault), so that
   * the library's rule "the exit comes after the end of the output" is what keeps the
   * order. The bytes are held until the process is gone, so a test using it must not
   * wait for output before the exit. */
  unsigned output_late_ms;
};

struct contract_fixture {
  const char *name;
  /* Create a process host on `loop` (a connection, or a started container's host view)
   * and run the loop as needed until it is ready. `*ctx` is the fixture's state. */
  int (*setup)(uv_loop_t *loop, const struct contract_options *opt, cow_host_t **host, void **ctx);
  /* A backend process document running argv (NULL-terminated) with the given
   * CONTRACT_* streams. malloc'd; the suite frees it. */
  char *(*process_config)(void *ctx, const char *const *argv, unsigned flags);
  /* A document the backend refuses at the call (COW_EINVAL): invalid on the host. */
  const char *bad_config;
  /* Close what setup created and run the loop until it is closed. */
  void (*teardown)(uv_loop_t *loop, cow_host_t *host, void *ctx);
};

/* Run every contract test against `fx`; returns cmocka's result. */
int contract_main(const struct contract_fixture *fx);

#endif

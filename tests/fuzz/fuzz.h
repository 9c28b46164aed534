/* Fuzz targets for every parser that reads bytes from a guest or from an HCS DLL
 * (docs/design.md §6). Each target file defines the libFuzzer entry point and its seeds:
 *
 *   - with clang and -DCOW_BUILD_FUZZERS=ON, fuzz_<target> is a libFuzzer binary;
 *   - always (the test build), test_fuzz_<target> links the same file with driver.c,
 *     which runs the seeds and a fixed number of deterministic mutations of them, so the
 *     README test command, valgrind and the sanitizer build all exercise the targets.
 *
 * A target asserts properties of what it parses (round trips, bounds), and calls abort()
 * when one fails; crashes, leaks and sanitizer reports are the other failures. */
#ifndef COW_TESTS_FUZZ_H
#define COW_TESTS_FUZZ_H

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Hand each seed input of the target to `add`. Returns 0, or -1 (with a message on
 * stderr) when a seed source is missing. */
typedef void (*cow_fuzz_add_fn)(const uint8_t *data, size_t size, void *arg);
int cow_fuzz_seeds(cow_fuzz_add_fn add, void *arg);

/* Fail a property: print and abort (libFuzzer and the driver both report it). */
#define FUZZ_CHECK(cond)                                                                           \
  do {                                                                                             \
    if (!(cond)) {                                                                                 \
      fprintf(stderr, "%s:%d: property failed: %s\n", __FILE__, __LINE__, #cond);                  \
      abort();                                                                                     \
    }                                                                                              \
  } while (0)

#endif

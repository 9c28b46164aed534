/* Seeds from the conformance recordings, for the targets that read guest bytes. */
#ifndef COW_TESTS_FUZZ_RECORDING_SEEDS_H
#define COW_TESTS_FUZZ_RECORDING_SEEDS_H

#include "conformance/recording.h"
#include "fuzz/fuzz.h"

/* Turn one recording into seeds (hand each to add(data, size, arg)). */
typedef void (*cow_fuzz_rec_fn)(const cow_recording_t *rec, cow_fuzz_add_fn add, void *arg);

/* Call fn for every recording. 0, or -1 (a message on stderr) when one cannot be loaded. */
int cow_fuzz_seeds_from_recordings(cow_fuzz_rec_fn fn, cow_fuzz_add_fn add, void *arg);

#endif

/* Seeds from the conformance recordings (see recording-seeds.h). */
#include "fuzz/recording-seeds.h"

#include <stdio.h>

struct seeding {
  cow_fuzz_rec_fn fn;
  cow_fuzz_add_fn add;
  void *arg;
};

static void one(const cow_recording_t *rec, void *ctx)
{
  const struct seeding *s = ctx;
  s->fn(rec, s->add, s->arg);
}

int cow_fuzz_seeds_from_recordings(cow_fuzz_rec_fn fn, cow_fuzz_add_fn add, void *arg)
{
  struct seeding s = {fn, add, arg};
  char why[512];
  if (cow_rec_for_each(one, &s, why, sizeof why) != 0) {
    fprintf(stderr, "seeds: %s\n", why);
    return -1;
  }
  return 0;
}

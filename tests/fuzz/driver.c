/* The fuzz targets without libFuzzer (see fuzz.h): run the seeds (the target's own and the
 * kept corpus, tests/fuzz/corpus/<target>/), then deterministic mutations of them, then any
 * input files named on the command line.
 *
 *   test_fuzz_X [--iterations N] [--rng-seed S] [FILE...]
 *   test_fuzz_X --write-seeds DIR        (a starting corpus for the libFuzzer binary)
 *
 * N defaults to $COW_FUZZ_ITERATIONS, else 100000. The mutations (bit flips, byte sets,
 * cuts, insertions, duplications, splices of two seeds, interesting integers) follow a
 * fixed xorshift sequence, so a failure reproduces with the same arguments. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fuzz/fuzz.h"

#define FUZZ_MAX_INPUT 70000u

struct seeds {
  uint8_t **data;
  size_t *size;
  size_t n, cap;
};

static void add_seed(const uint8_t *data, size_t size, void *arg)
{
  struct seeds *s = arg;
  if (size > FUZZ_MAX_INPUT)
    size = FUZZ_MAX_INPUT;
  if (s->n == s->cap) {
    s->cap = s->cap ? s->cap * 2 : 64;
    s->data = realloc(s->data, s->cap * sizeof *s->data);
    s->size = realloc(s->size, s->cap * sizeof *s->size);
    if (s->data == NULL || s->size == NULL)
      abort();
  }
  s->data[s->n] = malloc(size ? size : 1);
  if (s->data[s->n] == NULL)
    abort();
  memcpy(s->data[s->n], data, size);
  s->size[s->n++] = size;
}

static uint64_t rng = 0x9E3779B97F4A7C15u;
static uint64_t next(void)
{
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return rng;
}
static size_t below(size_t n)
{
  return n ? (size_t)(next() % n) : 0;
}

/* One mutation of buf[0..*len) in place (capacity FUZZ_MAX_INPUT). */
static void mutate(uint8_t *buf, size_t *len, const struct seeds *s)
{
  static const uint32_t interesting[] = {0,       1,       15,         16,          17,
                                         0x7f,    0x80,    0xff,       0x100,       0xffff,
                                         0x10000, 0x10001, 0x7fffffff, 0x80000000u, 0xffffffffu};
  size_t n = *len;
  switch (below(8)) {
  case 0: /* flip a bit */
    if (n)
      buf[below(n)] ^= (uint8_t)(1u << below(8));
    break;
  case 1: /* set a byte, favouring JSON's syntax */
    if (n) {
      static const char syntax[] = "{}[]\":,0123456789-+.eEtfn \\u\x00\xff";
      buf[below(n)] = below(2) ? (uint8_t)syntax[below(sizeof syntax - 1)] : (uint8_t)below(256);
    }
    break;
  case 2: /* cut a range */
    if (n) {
      size_t at = below(n), cut = 1 + below(n - at);
      memmove(buf + at, buf + at + cut, n - at - cut);
      *len = n - cut;
    }
    break;
  case 3: /* insert random bytes */
  {
    size_t add = 1 + below(16), at = below(n + 1);
    if (n + add > FUZZ_MAX_INPUT)
      break;
    memmove(buf + at + add, buf + at, n - at);
    for (size_t i = 0; i < add; i++)
      buf[at + i] = (uint8_t)below(256);
    *len = n + add;
    break;
  }
  case 4: /* duplicate a chunk */
    if (n) {
      size_t from = below(n), cnt = 1 + below(n - from < 64 ? n - from : 64);
      if (n + cnt > FUZZ_MAX_INPUT)
        break;
      size_t at = below(n + 1);
      uint8_t tmp[64];
      memcpy(tmp, buf + from, cnt);
      memmove(buf + at + cnt, buf + at, n - at);
      memcpy(buf + at, tmp, cnt);
      *len = n + cnt;
    }
    break;
  case 5: /* an interesting 32-bit little-endian integer */
    if (n >= 4) {
      uint32_t v = interesting[below(sizeof interesting / sizeof interesting[0])];
      size_t at = below(n - 3);
      for (int i = 0; i < 4; i++)
        buf[at + i] = (uint8_t)(v >> (8 * i));
    }
    break;
  case 6: /* splice: the tail of another seed */
    if (s->n) {
      size_t k = below(s->n), from = below(s->size[k] + 1), at = below(n + 1);
      size_t cnt = s->size[k] - from;
      if (at + cnt > FUZZ_MAX_INPUT)
        cnt = FUZZ_MAX_INPUT - at;
      memcpy(buf + at, s->data[k] + from, cnt);
      *len = at + cnt;
    }
    break;
  default: /* truncate */
    *len = below(n + 1);
    break;
  }
}

static void seeds_free(struct seeds *s)
{
  for (size_t i = 0; i < s->n; i++)
    free(s->data[i]);
  free(s->data);
  free(s->size);
}

/* The corpus kept in the repository: inputs libFuzzer found that reach new code (grown
 * with tests/fuzz/grow-corpus.sh). Missing is fine: the seeds alone still work. */
static void add_corpus(struct seeds *s)
{
#if !defined(COW_SOURCE_DIR) || !defined(COW_FUZZ_TARGET)
  (void)s; /* a driver built without them has no kept corpus */
#else
  char dir[4096];
  snprintf(dir, sizeof dir, "%s/tests/fuzz/corpus/%s", COW_SOURCE_DIR, COW_FUZZ_TARGET);
  DIR *d = opendir(dir);
  if (d == NULL)
    return;
  struct dirent *e;
  static uint8_t buf[FUZZ_MAX_INPUT];
  while ((e = readdir(d)) != NULL) {
    if (e->d_name[0] == '.')
      continue;
    char path[4096 + 256];
    snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
    FILE *f = fopen(path, "rb");
    if (f == NULL)
      continue;
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    add_seed(buf, n, s);
  }
  closedir(d);
#endif
}

static int run_file(const char *path)
{
  FILE *f = fopen(path, "rb");
  if (f == NULL) {
    fprintf(stderr, "cannot open %s\n", path);
    return -1;
  }
  static uint8_t buf[FUZZ_MAX_INPUT];
  size_t n = fread(buf, 1, sizeof buf, f);
  fclose(f);
  LLVMFuzzerTestOneInput(buf, n);
  return 0;
}

static int write_seeds(const struct seeds *s, const char *dir)
{
  for (size_t i = 0; i < s->n; i++) {
    char path[4096];
    snprintf(path, sizeof path, "%s/seed-%04zu", dir, i);
    FILE *f = fopen(path, "wb");
    if (f == NULL || fwrite(s->data[i], 1, s->size[i], f) != s->size[i]) {
      fprintf(stderr, "cannot write %s\n", path);
      if (f)
        fclose(f);
      return -1;
    }
    fclose(f);
  }
  printf("%zu seeds written to %s\n", s->n, dir);
  return 0;
}

int main(int argc, char **argv)
{
  struct seeds s = {0};
  int seeded = cow_fuzz_seeds(add_seed, &s) == 0 && s.n > 0;
  add_corpus(&s);
  if (!seeded) {
    fprintf(stderr, "no seeds\n");
    seeds_free(&s);
    return 1;
  }
  long iterations = getenv("COW_FUZZ_ITERATIONS") ? atol(getenv("COW_FUZZ_ITERATIONS")) : 100000;
  int files = 0, rc = 0;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--write-seeds") == 0 && i + 1 < argc) {
      rc = write_seeds(&s, argv[++i]);
      seeds_free(&s);
      return rc == 0 ? 0 : 1;
    }
    if (strcmp(argv[i], "--iterations") == 0 && i + 1 < argc)
      iterations = atol(argv[++i]);
    else if (strcmp(argv[i], "--rng-seed") == 0 && i + 1 < argc)
      rng = strtoull(argv[++i], NULL, 0) | 1u;
    else {
      files++;
      rc |= run_file(argv[i]);
    }
  }
  clock_t t0 = clock();
  for (size_t i = 0; i < s.n; i++)
    LLVMFuzzerTestOneInput(s.data[i], s.size[i]);
  static uint8_t buf[FUZZ_MAX_INPUT];
  for (long it = 0; it < iterations; it++) {
    size_t k = below(s.n), len = s.size[k];
    memcpy(buf, s.data[k], len);
    for (size_t m = 1 + below(4); m > 0; m--)
      mutate(buf, &len, &s);
    LLVMFuzzerTestOneInput(buf, len);
  }
  printf("%zu seeds, %ld mutated inputs, %d files: no failure (%.1f s)\n", s.n, iterations, files,
         (double)(clock() - t0) / CLOCKS_PER_SEC);
  seeds_free(&s);
  return rc ? 1 : 0;
}

/* Test support: the resident set, for the footprint tests (R23). Linux: /proc/self/statm.
 *
 * Sanitizers and valgrind keep freed memory in quarantine on purpose, so the resident set
 * says nothing under them (RSS_MEANINGFUL 0); the tests' allocation counts still hold. CI
 * runs the footprint tests plain in its first phase and leaves them out under valgrind. */
#ifndef COW_TESTS_SUPPORT_RSS_H
#define COW_TESTS_SUPPORT_RSS_H

#include <stdio.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#  define RSS_MEANINGFUL 0
#elif defined(__has_feature)
#  if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#    define RSS_MEANINGFUL 0
#  endif
#endif
#ifndef RSS_MEANINGFUL
#  define RSS_MEANINGFUL 1
#endif

/* The resident set in KiB, or -1. */
static inline long rss_kib(void)
{
  long total = 0, rss = 0;
  FILE *f = fopen("/proc/self/statm", "r");
  if (f == NULL)
    return -1;
  if (fscanf(f, "%ld %ld", &total, &rss) != 2)
    rss = -1;
  fclose(f);
  return rss < 0 ? -1 : rss * (sysconf(_SC_PAGESIZE) / 1024);
}

#endif

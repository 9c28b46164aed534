/* Internal: logging through the user's callback (cow_log_set). */
#ifndef COW_CORE_LOG_H
#define COW_CORE_LOG_H

#include "cow/log.h"

#if defined(__MINGW32__) && !defined(__clang__)
/* mingw's GCC checks plain "printf" against msvcrt's dialect (no %zu); the library is built
 * with __USE_MINGW_ANSI_STDIO=1, so its vsnprintf is the C99 one that gnu_printf describes. */
#  define COW__PRINTF(a, b) __attribute__((format(gnu_printf, a, b)))
#elif defined(__GNUC__)
#  define COW__PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#  define COW__PRINTF(a, b)
#endif

/* 1 when a line at `level` would reach a callback: test before building costly text. */
int cow__log_enabled(cow_log_level_t level);

/* Format and deliver one line (truncated at 1 KiB). Thread: any. */
void cow__log(cow_log_level_t level, const char *subsystem, const char *fmt, ...) COW__PRINTF(3, 4);

#endif

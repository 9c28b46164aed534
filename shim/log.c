/* The shim's log. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cow.h"
#include "log.h"

static int max_level = SHIM_LOG_INFO;

static const char *const names[] = {"error", "warning", "info", "debug"};

static void write_line(enum shim_log_level level, const char *msg)
{
  char line[2048];
  struct timespec ts;
  struct tm tm;
  clock_gettime(CLOCK_REALTIME, &ts);
  gmtime_r(&ts.tv_sec, &tm);
  int n =
      snprintf(line, sizeof line, "time=\"%04d-%02d-%02dT%02d:%02d:%02d.%09ldZ\" level=%s msg=\"",
               tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
               ts.tv_nsec, names[level]);
  /* logfmt quoting: backslash and double quote escaped, control characters dropped. */
  for (const char *p = msg; *p != '\0' && n < (int)sizeof line - 40; p++) {
    if (*p == '"' || *p == '\\')
      line[n++] = '\\';
    if ((unsigned char)*p >= 0x20)
      line[n++] = *p;
  }
  n += snprintf(line + n, sizeof line - (size_t)n, "\" runtime=io.containerd.cow.v1\n");
  if (n >= (int)sizeof line)
    n = (int)sizeof line - 1;
  ssize_t w;
  do
    w = write(STDERR_FILENO, line, (size_t)n); /* non-blocking fd: EAGAIN drops the line */
  while (w < 0 && errno == EINTR);
}

void shim_log(enum shim_log_level level, const char *fmt, ...)
{
  if ((int)level > max_level)
    return;
  char msg[1536];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  write_line(level, msg);
}

static void from_libcow(cow_log_level_t level, const char *subsystem, const char *message,
                        void *data)
{
  enum shim_log_level l = level == COW_LOG_ERROR  ? SHIM_LOG_ERROR
                          : level == COW_LOG_WARN ? SHIM_LOG_WARN
                          : level == COW_LOG_INFO ? SHIM_LOG_INFO
                                                  : SHIM_LOG_DEBUG;
  shim_log(l, "libcow %s: %s", subsystem, message);
}

void shim_log_init(int debug)
{
  max_level = debug ? SHIM_LOG_DEBUG : SHIM_LOG_INFO;
  int fl = fcntl(STDERR_FILENO, F_GETFL);
  if (fl >= 0)
    fcntl(STDERR_FILENO, F_SETFL, fl | O_NONBLOCK);
  cow_log_set(debug ? COW_LOG_DEBUG : COW_LOG_WARN, from_libcow, NULL);
}

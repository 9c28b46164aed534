/* The output-late fault (emu.h): a process's stdout and stderr reach the caller only after
 * the process exited, and `ms` later still; its exit notification comes first, its bytes
 * after. This is what a slow console host or a loaded Windows machine can do, and what
 * the library's rule "the exit is reported only after stdout and stderr reached end of
 * file" exists for. One detached relay thread per stream collects everything the process
 * writes, waits, hands it over and closes its end; cow__emu_wait_idle() waits for the
 * relays too. Test-only: armed through cow__emu_set_fault(), never by default. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "hcs/emu/emu-internal.h"

static unsigned g_relays; /* running relay threads; cow__emu_lock */

struct late {
  int src, dst;
  unsigned ms;
};

static void write_all(int fd, const char *p, size_t n)
{
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0 && errno == EINTR)
      continue;
    if (w <= 0)
      return; /* the caller closed its end: the rest has nowhere to go */
    p += w;
    n -= (size_t)w;
  }
}

static void *late_main(void *arg)
{
  struct late l = *(struct late *)arg;
  free(arg);
  /* A caller that closed its read end makes write() fail with EPIPE; the signal that goes
   * with it is blocked here (and discarded with the thread). */
  sigset_t pipe_only;
  sigemptyset(&pipe_only);
  sigaddset(&pipe_only, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe_only, NULL);
  char *buf = NULL;
  size_t len = 0, cap = 0;
  for (;;) {
    if (cap - len < 65536) {
      char *nb = realloc(buf, cap + 65536 + cap / 2);
      if (nb == NULL)
        break;
      buf = nb;
      cap += 65536 + cap / 2;
    }
    ssize_t n = read(l.src, buf + len, cap - len);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      break; /* end of file: every writer (the process) is gone */
    len += (size_t)n;
  }
  close(l.src);
  struct timespec ts = {(time_t)(l.ms / 1000), (long)(l.ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
    ;
  write_all(l.dst, buf, len);
  close(l.dst);
  free(buf);
  pthread_mutex_lock(&cow__emu_lock);
  g_relays--;
  pthread_mutex_unlock(&cow__emu_lock);
  return NULL;
}

int cow__emu_late_relay(int src, int dst, unsigned ms)
{
  struct late *l = malloc(sizeof *l);
  if (l == NULL)
    return -1;
  *l = (struct late){src, dst, ms};
  pthread_attr_t a;
  pthread_attr_init(&a);
  pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
  pthread_t t;
  g_relays++; /* lock held by the caller */
  int rc = pthread_create(&t, &a, late_main, l);
  pthread_attr_destroy(&a);
  if (rc != 0) {
    g_relays--;
    free(l);
    return -1;
  }
  return 0;
}

int cow__emu_late_relays_running(void)
{
  return g_relays != 0;
}

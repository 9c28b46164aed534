/* The reaper thread: waits for the emulator's own children only (pidfds, or a 50 ms poll
 * where pidfd_open is missing) and never calls waitpid(-1), which would steal children of
 * the host program (docs/hcs-api.md §6.5 item 15). */
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/alloc.h"
#include "cow/error.h"
#include "core/log.h"
#include "hcs/emu/emu-internal.h"

void cow__emu_reaper_wake(struct emu *e)
{
  uint64_t one = 1;
  ssize_t n = write(e->wake_fd, &one, sizeof(one));
  (void)n; /* EAGAIN: a wake-up is already pending */
}

void *cow__emu_reaper_main(void *arg)
{
  struct emu *e = arg;
  struct pollfd *fds = NULL;
  size_t cap = 0;
  pthread_mutex_lock(&cow__emu_lock);
  for (;;) {
    size_t n = 1, live = 0;
    int need_tick = 0;
    for (struct emu_system *s = e->systems; s != NULL; s = s->next)
      for (struct emu_process *p = s->procs; p != NULL; p = p->next)
        if (!p->exited)
          live++;
    if (e->quit && live == 0)
      break;
    if (live + 1 > cap) {
      struct pollfd *nf = cow__realloc(fds, (live + 1) * sizeof(*nf));
      if (nf != NULL) {
        fds = nf;
        cap = live + 1;
      }
    }
    struct pollfd one;
    struct pollfd *pf = fds != NULL ? fds : &one;
    if (fds == NULL)
      cap = 1;
    pf[0].fd = e->wake_fd;
    pf[0].events = POLLIN;
    for (struct emu_system *s = e->systems; s != NULL; s = s->next)
      for (struct emu_process *p = s->procs; p != NULL; p = p->next) {
        if (p->exited)
          continue;
        if (p->pidfd < 0 || n >= cap) {
          need_tick = 1;
          continue;
        }
        pf[n].fd = p->pidfd;
        pf[n].events = POLLIN;
        n++;
      }
    pthread_mutex_unlock(&cow__emu_lock);
    int r = poll(pf, (nfds_t)n, need_tick ? 50 : -1);
    if (r < 0 && errno != EINTR)
      cow__log(COW_LOG_ERROR, EMU_LOG, "reaper poll failed: errno %d", errno);
    uint64_t v;
    while (read(e->wake_fd, &v, sizeof(v)) > 0)
      ;
    pthread_mutex_lock(&cow__emu_lock);
    if (fds == NULL)
      cap = 0;
  rescan:
    /* An exit may stop and free a system: restart the walk after each one. */
    for (struct emu_system *s = e->systems; s != NULL; s = s->next) {
      for (struct emu_process *p = s->procs; p != NULL; p = p->next) {
        if (p->exited)
          continue;
        int status = 0;
        pid_t w = waitpid(p->pid, &status, WNOHANG);
        if (w == p->pid) {
          cow__emu_process_exited(e, p, status);
          goto rescan;
        } else if (w < 0 && errno == ECHILD) {
          /* Reaped behind our back (SIGCHLD ignored by the host program?). */
          cow__log(COW_LOG_WARN, EMU_LOG, "pid %d vanished; reporting exit code -1", (int)p->pid);
          cow__emu_process_exited(e, p, -1);
          goto rescan;
        }
      }
    }
  }
  pthread_mutex_unlock(&cow__emu_lock);
  cow__free(fds);
  return NULL;
}

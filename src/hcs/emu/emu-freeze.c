/* Pause and resume of a compute system: a freezer in user space. Every process of the
 * system (emu-procfs.c: its sessions and all their descendants, also those that left the
 * sessions) is stopped with SIGSTOP, parents before children, and the pause completes only
 * once each of them is seen stopped in /proc and a fresh scan finds no process that was
 * not stopped: a process that forked while being stopped cannot leave a running child
 * behind. Resume sends SIGCONT, children before parents, so that no parent runs while a
 * child is still stopped (a shell with job control would report it as suspended).
 *
 * The cgroup freezer would be atomic, but it needs a writable cgroup hierarchy and one
 * cgroup per system, which an unprivileged test run does not have; signals work wherever
 * the emulator's processes are its own children. Lock held throughout: the emulator's
 * state must not change under the scan. */
#include <errno.h>
#include <signal.h>
#include <time.h>

#include "core/alloc.h"
#include "core/log.h"
#include "hcs/emu/emu-internal.h"

#define FREEZE_ROUNDS  64
#define FREEZE_WAIT_NS 2000000000ull /* per round: a process stuck in the kernel */
#define FREEZE_POLL_NS 200000L

static int stopped_state(char st)
{
  /* T: stopped; t: tracing stop; Z/X: exited; 0: gone. */
  return st == 'T' || st == 't' || st == 'Z' || st == 'X' || st == 0;
}

static int seen(const pid_t *set, size_t n, pid_t pid)
{
  for (size_t i = 0; i < n; i++)
    if (set[i] == pid)
      return 1;
  return 0;
}

/* Wait until every member is stopped; a process in uninterruptible sleep stops only when
 * it returns to user space, which it cannot do without stopping first: after the bound it
 * counts as frozen, with a warning. */
static void wait_stopped(const struct emu_system *s, const struct emu_member *m, size_t n)
{
  uint64_t deadline = cow__emu_now_ns() + FREEZE_WAIT_NS;
  for (size_t i = 0; i < n; i++) {
    char st;
    while (!stopped_state(st = cow__emu_procfs_state(m[i].pid))) {
      if (cow__emu_now_ns() >= deadline) {
        cow__log(COW_LOG_WARN, EMU_LOG,
                 "system %s: pid %d is not stopped yet (state %c); it stops when it leaves the "
                 "kernel",
                 s->id, (int)m[i].pid, st);
        break;
      }
      struct timespec ts = {0, FREEZE_POLL_NS};
      nanosleep(&ts, NULL);
    }
  }
}

int cow__emu_system_freeze(struct emu_system *s)
{
  pid_t *stopped = NULL;
  size_t nstopped = 0, cap = 0;
  int rc = -1;
  for (int round = 0; round < FREEZE_ROUNDS; round++) {
    struct emu_member *m = NULL;
    size_t n = 0, fresh = 0;
    if (cow__emu_procfs_members(s, &m, &n) != 0)
      break;
    for (size_t i = 0; i < n; i++) { /* sorted: parents first */
      if (seen(stopped, nstopped, m[i].pid))
        continue;
      if (nstopped == cap) {
        size_t nc = cap ? cap * 2 : 16;
        pid_t *ns = cow__realloc(stopped, nc * sizeof(*ns));
        if (ns == NULL)
          break;
        stopped = ns;
        cap = nc;
      }
      if (kill(m[i].pid, SIGSTOP) != 0 && errno != ESRCH)
        cow__log(COW_LOG_WARN, EMU_LOG, "system %s: SIGSTOP to %d failed: errno %d", s->id,
                 (int)m[i].pid, errno);
      stopped[nstopped++] = m[i].pid;
      fresh++;
    }
    wait_stopped(s, m, n);
    cow__free(m);
    if (fresh == 0) { /* everything found was already stopped before this scan */
      rc = 0;
      break;
    }
  }
  cow__free(stopped);
  if (rc != 0)
    cow__log(COW_LOG_ERROR, EMU_LOG, "system %s: could not freeze every process", s->id);
  return rc;
}

void cow__emu_system_thaw(struct emu_system *s)
{
  struct emu_member *m = NULL;
  size_t n = 0;
  if (cow__emu_procfs_members(s, &m, &n) != 0) {
    /* No scan (out of memory, no /proc): the process groups at least. */
    cow__emu_system_signal_all(s, SIGCONT);
    return;
  }
  for (size_t i = n; i-- > 0;) /* children first */
    kill(m[i].pid, SIGCONT);
  cow__free(m);
}

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
 * the emulator's processes are its own children. Like runc's freezer, the freeze is
 * bounded (10 s; the pause-timeout fault sets it): a process not seen stopped by then
 * fails the pause with ERROR_TIMEOUT and the system is thawed again. That happens for real:
 * the parent of a vfork child that is itself stopped waits in the kernel (state D) and
 * cannot stop until the child goes on. Lock held throughout: the emulator's
 * state must not change under the scan. */
#include <errno.h>
#include <signal.h>
#include <time.h>

#include "core/alloc.h"
#include "core/log.h"
#include "hcs/emu/emu-internal.h"

#define FREEZE_ROUNDS  64
#define FREEZE_WAIT_MS 10000 /* the whole freeze, as runc bounds its freezer */
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

/* Wait until every member is seen stopped: 0, or -1 at the deadline (a process stuck in
 * uninterruptible sleep, or one the scheduler has not run since the signal: until it is
 * seen stopped, a write it had begun may still land, so the pause is not done). */
static int wait_stopped(const struct emu_system *s, const struct emu_member *m, size_t n,
                        uint64_t deadline)
{
  for (size_t i = 0; i < n; i++) {
    char st;
    while (!stopped_state(st = cow__emu_procfs_state(m[i].pid))) {
      if (cow__emu_now_ns() >= deadline) {
        cow__log(COW_LOG_WARN, EMU_LOG, "system %s: pid %d did not stop (state %c)", s->id,
                 (int)m[i].pid, st);
        return -1;
      }
      struct timespec ts = {0, FREEZE_POLL_NS};
      nanosleep(&ts, NULL);
    }
  }
  return 0;
}

HRESULT cow__emu_system_freeze(struct emu_system *s)
{
  pid_t *stopped = NULL;
  size_t nstopped = 0, cap = 0;
  HRESULT hr = COW__HR_E_FAIL;
  uint64_t ms = (uint32_t)cow__emu_fault_value(COW__EMU_FAULT_PAUSE_TIMEOUT, FREEZE_WAIT_MS);
  uint64_t deadline = cow__emu_now_ns() + ms * 1000000u;
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
    int late = wait_stopped(s, m, n, deadline);
    cow__free(m);
    if (late != 0) {
      hr = COW__HR_TIMEOUT;
      break;
    }
    if (fresh == 0) { /* everything found was already stopped before this scan */
      hr = COW__HR_S_OK;
      break;
    }
  }
  cow__free(stopped);
  if (EMU_FAILED(hr))
    cow__log(COW_LOG_ERROR, EMU_LOG, "system %s: could not freeze every process (0x%08X)", s->id,
             (unsigned)hr);
  return hr;
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

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
 * fails the pause with ERROR_TIMEOUT and the system is thawed again.
 *
 * vfork: the parent of a vfork child waits in the kernel (state D), where SIGSTOP cannot
 * stop it, until the child execs or exits. A shell that starts its commands with vfork
 * (busybox and dash do) is caught there whenever the freezer's SIGSTOP reaches the child
 * before its exec: the child is stopped, so the parent never leaves the kernel. So a
 * member seen in state D whose child the freezer itself stopped gets that child continued
 * (SIGCONT): it execs, the parent leaves the kernel and stops on its pending SIGSTOP, and
 * the next round stops the child again. A child that was already stopped before the freeze
 * (it stopped itself, or a debugger stopped it) is left alone: continuing it would change
 * what the program does, so its parent stays in D and the pause times out, as it must
 * (tests/hcs/vfork-stopped-child.c). Lock held throughout: the emulator's state must not
 * change under the scan. */
#include <errno.h>
#include <signal.h>
#include <time.h>

#include "core/alloc.h"
#include "core/log.h"
#include "hcs/emu/emu-internal.h"

#define FREEZE_ROUNDS    64
#define FREEZE_WAIT_MS   10000 /* the whole freeze, as runc bounds its freezer */
#define FREEZE_POLL_NS   200000L
#define VFORK_SUSPECT_NS 20000000u /* 20 ms in state D: waiting for a vfork child? */

static int stopped_state(char st)
{
  /* T: stopped; t: tracing stop; Z/X: exited; 0: gone. */
  return st == 'T' || st == 't' || st == 'Z' || st == 'X' || st == 0;
}

/* What the freezer sent SIGSTOP to. `ours`: the process was not stopped before, so the
 * stop is the freezer's own and it may undo it (the vfork case above). */
struct frozen {
  pid_t pid;
  int ours;
};

static struct frozen *find(struct frozen *set, size_t n, pid_t pid)
{
  for (size_t i = 0; i < n; i++)
    if (set[i].pid == pid)
      return &set[i];
  return NULL;
}

/* `parent` is in state D: continue each child of it the freezer stopped (a vfork child
 * stopped before its exec holds its parent there), and forget that it was stopped, so
 * that the next round stops it again once it has gone on. */
static void release_vfork_children(const struct emu_system *s, const struct emu_member *m, size_t n,
                                   pid_t parent, struct frozen *set, size_t nset)
{
  for (size_t j = 0; j < n; j++) {
    struct frozen *f = m[j].ppid == parent ? find(set, nset, m[j].pid) : NULL;
    if (f == NULL || !f->ours || f->pid == 0 || cow__emu_procfs_state(f->pid) != 'T')
      continue;
    cow__log(COW_LOG_DEBUG, EMU_LOG, "system %s: pid %d waits for stopped child %d: continued",
             s->id, (int)parent, (int)f->pid);
    kill(f->pid, SIGCONT);
    f->pid = 0; /* not stopped any more: the next round stops it again */
  }
}

/* Wait until every member is seen stopped: 0, or -1 at the deadline (a process stuck in
 * uninterruptible sleep, or one the scheduler has not run since the signal: until it is
 * seen stopped, a write it had begun may still land, so the pause is not done). */
static int wait_stopped(const struct emu_system *s, const struct emu_member *m, size_t n,
                        struct frozen *set, size_t nset, uint64_t deadline)
{
  for (size_t i = 0; i < n; i++) {
    char st;
    uint64_t d_since = 0; /* when m[i] was first seen in state D, in this wait */
    /* A child released above is not waited for: it is to go on, and the next round stops it */
    while (find(set, nset, m[i].pid) != NULL &&
           !stopped_state(st = cow__emu_procfs_state(m[i].pid))) {
      uint64_t now = cow__emu_now_ns();
      /* In D for a while: not a disk wait (those are short) but, likely, a vfork wait. The
       * child is looked at on every poll: the SIGSTOP may not have landed yet. */
      d_since = st != 'D' ? 0 : d_since != 0 ? d_since : now;
      if (d_since != 0 && now - d_since >= VFORK_SUSPECT_NS)
        release_vfork_children(s, m, n, m[i].pid, set, nset);
      if (now >= deadline) {
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
  struct frozen *stopped = NULL;
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
      if (find(stopped, nstopped, m[i].pid) != NULL)
        continue;
      if (nstopped == cap) {
        size_t nc = cap ? cap * 2 : 16;
        struct frozen *ns = cow__realloc(stopped, nc * sizeof(*ns));
        if (ns == NULL)
          break;
        stopped = ns;
        cap = nc;
      }
      int ours = cow__emu_procfs_state(m[i].pid) != 'T';
      if (kill(m[i].pid, SIGSTOP) != 0 && errno != ESRCH)
        cow__log(COW_LOG_WARN, EMU_LOG, "system %s: SIGSTOP to %d failed: errno %d", s->id,
                 (int)m[i].pid, errno);
      stopped[nstopped++] = (struct frozen){m[i].pid, ours};
      fresh++;
    }
    int late = wait_stopped(s, m, n, stopped, nstopped, deadline);
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

/* Internal: the Linux emulator of the two HCS DLL APIs (docs/hcs-api.md §6).
 *
 * It is part of the library, not a test mock: the HCS backends bind one of these tables on
 * Linux exactly as they bind vmcompute.dll / computecore.dll on Windows. Compute systems of
 * type Container are real process trees; processes are real fork/exec children with pipes
 * or a pty; notifications and operation completions come from the emulator's own threads.
 *
 * Lifetime ("the service"): the first handle created through either table starts the
 * emulator (a dispatcher thread and a reaper thread); when the last handle of any kind
 * (system, process, operation, v1 callback registration) is closed, every process still
 * running is killed, both threads are joined and all memory is freed. Closing that last
 * handle from inside an emulator callback defers the join to the next start of the
 * emulator or to cow__emu_wait_idle().
 *
 * Policies that differ from Windows (documented, test-visible):
 *   - HANDLEs in HCS_PROCESS_INFORMATION are file descriptors (>= 3, O_CLOEXEC) stored as
 *     (HANDLE)(intptr_t)fd; use cow__emu_handle_fd(). The caller owns them and closes them
 *     with close(). StdInput is one end of an AF_UNIX socketpair (so that the ModifyProcess
 *     CloseHandle StdIn request can give the child EOF while the caller still holds it),
 *     StdOutput/StdError are pipes. With EmulateConsole both StdInput and StdOutput are
 *     dups of the pty master; reading it gives EIO (not 0) once the child side is closed.
 *   - Exit codes: a normal exit gives its status; death by signal N gives 128+N, so
 *     HcsTerminateProcess (SIGKILL to the process group) gives 137.
 *   - WorkingDirectory must be an absolute POSIX path ("C:\..." is E_INVALIDARG); `User`
 *     must be empty (anything else is E_INVALIDARG: the emulator cannot switch users).
 *   - Every process gets its own session (setsid); TerminateProcess and system
 *     termination kill the whole process group.
 *   - Only Container systems exist; VirtualMachine/HostedSystem documents give
 *     ERROR_NOT_SUPPORTED (0x80070032). ModifyComputeSystem validates the request and
 *     accepts it without applying resource changes.
 *   - Calls after a simulated service disconnect fail with HCS_E_SERVICE_DISCONNECT
 *     (0x8037011E) in both APIs (the real v1 code is unknown).
 *   - Pause stops every process of the system (its sessions and all their descendants)
 *     with SIGSTOP and completes only once each is seen stopped (emu-freeze.c); Resume
 *     sends SIGCONT. State "Paused" in the properties. Pausing a system that is not
 *     running (created, paused, stopping, stopped) or resuming one that is not paused gives
 *     HCS_E_INVALID_STATE (0x80370105, v1 0xC0370105): the service's answer for a request
 *     in the wrong state; its exact code for these two cases is unverified. Note that the
 *     real service pauses Hyper-V isolated systems only: a process-isolated Windows
 *     container answers ERROR_NOT_SUPPORTED (0x80070032, docker/for-win#832); the emulator
 *     pauses its process-tree containers because that is what it can do for real.
 *   - Scope: the emulator is the library's memory, not a service: a compute system exists
 *     in the process that created it, for as long as one of its handles is open there.
 *     HcsOpenComputeSystem finds systems created by any handle of the same process (v1 or
 *     v2), never those of another process (SYSTEM_NOT_FOUND), and a program that restarts
 *     finds none: its systems went with it (their processes die with the program,
 *     PR_SET_PDEATHSIG). */
#ifndef COW_HCS_EMU_EMU_H
#define COW_HCS_EMU_EMU_H

#include <stdint.h>

#include "hcs/common/computecore-api.h"
#include "hcs/common/vmcompute-api.h"

/* Fill a table with the emulator's entry points. Returns 0 (always succeeds on Linux);
 * COW_EINVAL for NULL. Thread: any. Binding does not start the emulator. */
int cow__emu_computecore_api(struct cow__computecore_api *out);
int cow__emu_vmcompute_api(struct cow__vmcompute_api *out);

/* fd of a stdio HANDLE from HCS_PROCESS_INFORMATION; -1 for NULL / INVALID_HANDLE_VALUE. */
static inline int cow__emu_handle_fd(HANDLE h)
{
  intptr_t v = (intptr_t)h;
  return (v <= 0) ? -1 : (int)v;
}

/* ---- Fault injection (docs/hcs-api.md §6.6) ----
 *
 * Faults are process-wide, survive emulator restarts and apply to both tables unless
 * `api` restricts them. They are for tests only: in the testing library (cow_testing,
 * COW_TESTING) the environment variable COW_EMU_FAULTS is parsed once, when the emulator
 * first starts; the shipped library ignores it (nothing outside a test can make it fail on
 * purpose). The grammar (comma separated):
 *   fail:NAME[@N]=HR        the Nth call (every call without @N) of export NAME fails with
 *                           HR. Where the export completes asynchronously (v2 operations,
 *                           v1 Create/Start) the call is accepted and the failure is the
 *                           completion result; elsewhere the call returns HR.
 *   reject:NAME[@N]=HR      same, but the call itself always returns HR (nothing accepted).
 *   delay:NAME=MS           completions of NAME ("*" = every export) are delivered MS later.
 *   disconnect[:NAME]       simulate a service disconnect when NAME is called (default
 *                           HcsCreateProcess); that call fails with 0x8037011E.
 *   exit-unexpected[=MS]    every system exits unexpectedly MS ms (default 0) after its
 *                           start completes.
 *   v1-sync                 v1 Create/Start/Pause/Resume complete synchronously (S_OK)
 *                           instead of returning 0xC0370103 and notifying.
 *   stdio-invalid           unrequested stdio streams come back as INVALID_HANDLE_VALUE.
 *   no-result-doc           failures carry no ResultError document.
 *   last-wait-result=HR     ProcessStatus reports LastWaitResult HR (exit code invalid).
 *   create-process-quirk    v2 CreateProcess completes with E_INVALIDARG although the
 *                           process runs and its handle is valid (docs/hcs-api.md §3.4).
 *   shutdown-grace=MS       SIGTERM-to-SIGKILL grace of ShutDown (default 5000).
 *   output-late=MS          stdout/stderr of processes created from now on reach the
 *                           caller only after the process exited, MS ms later: the exit
 *                           notification comes first, the bytes after (emu-late.c).
 *   pause-timeout=MS        how long a pause waits for every process to stop before it
 *                           fails with ERROR_TIMEOUT and thaws the system (default 10000).
 * v1 names may be written "v1.NAME" / "v2.NAME" to restrict a rule to one table. */
typedef enum cow__emu_fault_kind {
  COW__EMU_FAULT_FAIL = 1,
  COW__EMU_FAULT_REJECT,
  COW__EMU_FAULT_DELAY,
  COW__EMU_FAULT_DISCONNECT,      /* export NULL: disconnect now (if running) */
  COW__EMU_FAULT_EXIT_UNEXPECTED, /* system_id NULL: every system; now if running, else
                                     `ms` after its start */
  COW__EMU_FAULT_V1_SYNC,
  COW__EMU_FAULT_STDIO_INVALID,
  COW__EMU_FAULT_NO_RESULT_DOC,
  COW__EMU_FAULT_LAST_WAIT_RESULT,
  COW__EMU_FAULT_CREATE_PROCESS_QUIRK,
  COW__EMU_FAULT_SHUTDOWN_GRACE,
  COW__EMU_FAULT_OUTPUT_LATE,
  COW__EMU_FAULT_PAUSE_TIMEOUT
} cow__emu_fault_kind_t;

typedef struct cow__emu_fault {
  cow__emu_fault_kind_t kind;
  int api;                 /* 0 = both tables, 1 = vmcompute, 2 = computecore */
  const char *export_name; /* FAIL/REJECT/DELAY/DISCONNECT; "*" = any (DELAY) */
  unsigned nth;            /* FAIL/REJECT: 1-based call number, 0 = every call */
  int32_t hr;              /* FAIL/REJECT/LAST_WAIT_RESULT */
  unsigned ms;             /* DELAY, EXIT_UNEXPECTED, SHUTDOWN_GRACE, OUTPUT_LATE, PAUSE_TIMEOUT */
  const char *system_id;   /* EXIT_UNEXPECTED: NULL = every system */
} cow__emu_fault_t;

/* Add a fault (strings copied). COW_EINVAL, COW_ENOMEM. Thread: any. */
int cow__emu_set_fault(const cow__emu_fault_t *fault);
/* Parse and add faults in the COW_EMU_FAULTS grammar. COW_EINVAL on a syntax error (then
 * nothing is added). */
int cow__emu_parse_faults(const char *spec);
/* Remove every fault (including those from the environment). */
void cow__emu_clear_faults(void);

/* Block until the emulator has fully stopped (no handle open, threads joined, memory
 * freed), at most timeout_ms. Returns 0, or COW_EBUSY while handles are still open.
 * Tests call it at the end to prove nothing is left behind. */
int cow__emu_wait_idle(unsigned timeout_ms);

#endif

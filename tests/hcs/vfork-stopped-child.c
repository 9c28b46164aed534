/* A process the emulator's freezer cannot stop (tests/hcs/backend-suite.h): it prints
 * "ready", then vforks a child that stops itself before it would exec. Until the child goes
 * on, the parent waits inside the kernel (state D), where SIGSTOP cannot stop it. Once the
 * child is continued it exits, and the parent prints "after" and sleeps. */
#define _DEFAULT_SOURCE 1 /* vfork() */
#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

int main(void)
{
  printf("ready\n");
  fflush(stdout);
  pid_t child = vfork();
  if (child == 0) {
    raise(SIGSTOP); /* async-signal-safe, as a vfork child must be */
    _exit(0);
  }
  if (child < 0)
    return 1;
  waitpid(child, NULL, 0);
  printf("after\n");
  fflush(stdout);
  for (;;)
    pause();
}

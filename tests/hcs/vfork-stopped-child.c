/* A process caught in vfork for the emulator's freezer (tests/hcs/backend-suite.h): it
 * prints "ready", then vforks a child, and waits inside the kernel (state D, where SIGSTOP
 * cannot stop it) until the child exits. Once the child has exited, the parent prints
 * "after" and sleeps.
 *
 *   vfork-stopped-child        the child stops itself before it would exec: the freezer
 *                              must leave it stopped, so its parent cannot stop
 *   vfork-stopped-child spin   the child prints "spinning" and spins for 1.5 s before it
 *                              exits, the window in which a shell's vfork child is
 *                              stopped by the freezer: the freezer must let it go on */
#define _DEFAULT_SOURCE 1 /* vfork() */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void spin_child(void)
{
  /* Only async-signal-safe calls, as in a vfork child: write, clock_gettime, _exit. */
  static const char line[] = "spinning\n";
  if (write(STDOUT_FILENO, line, sizeof line - 1) < 0)
    _exit(1);
  struct timespec t0, t;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  do
    clock_gettime(CLOCK_MONOTONIC, &t);
  while ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000 < 1500);
  _exit(0);
}

int main(int argc, char **argv)
{
  int spin = argc > 1 && strcmp(argv[1], "spin") == 0;
  printf("ready\n");
  fflush(stdout);
  pid_t child = vfork();
  if (child == 0) {
    if (spin)
      spin_child();
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

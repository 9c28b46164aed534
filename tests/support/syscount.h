/* Test support (Linux, glibc): count the system calls a test program makes.
 *
 * syscount.c defines the libc entry points that libuv and libcow make their I/O system
 * calls through (read, write, readv, writev, recvmsg, sendmsg, epoll_wait, epoll_pwait,
 * epoll_ctl, accept4, close, ioctl and syscall(2) itself, which libuv uses for close). A
 * program linking it resolves those names to the definitions here, libuv's calls included
 * (the executable comes first in the dynamic symbol lookup), and they count, then call on
 * to the next definition (libc's, or a sanitizer's interceptor). libc's own internal calls
 * (stdio, malloc) do not pass through here and are not counted.
 *
 * Link syscount.c into one test executable only, never into a library: it replaces those
 * functions for the whole program. Counting is per process; not thread-safe beyond the
 * counters being plain integers (the tests that use it are single-threaded). */
#ifndef COW_TESTS_SUPPORT_SYSCOUNT_H
#define COW_TESTS_SUPPORT_SYSCOUNT_H

enum sc_kind {
  SC_READ,  /* read, readv, recvmsg */
  SC_WRITE, /* write, writev, sendmsg */
  SC_POLL,  /* epoll_wait, epoll_pwait */
  SC_CTL,   /* epoll_ctl */
  SC_OTHER, /* accept4, close, ioctl, syscall(2) */
  SC__MAX
};

struct sc_counts {
  long total;
  long kind[SC__MAX];
};

/* Start counting from zero. */
void sc_reset(void);
/* The counts since the last sc_reset(). */
struct sc_counts sc_get(void);

/* After every successful write to `fd` (write, writev, sendmsg), call hook(arg) with
 * counting suspended: lets an in-process peer answer at once, as a remote one that is
 * always ready would, without its own calls being counted. fd -1 removes the hook. */
void sc_set_write_hook(int fd, void (*hook)(void *arg), void *arg);

#endif

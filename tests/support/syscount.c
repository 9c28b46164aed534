/* System call counting by interposition (see syscount.h). */
#undef _FORTIFY_SOURCE /* the fortified inline wrappers of read() would clash with these */
#ifndef _GNU_SOURCE
#  define _GNU_SOURCE /* RTLD_NEXT */
#endif
#include "support/syscount.h"

#include <dlfcn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

static struct sc_counts counts;
static int suspended;
static int hook_fd = -1;
static void (*hook_fn)(void *);
static void *hook_arg;

void sc_reset(void)
{
  memset(&counts, 0, sizeof counts);
}

struct sc_counts sc_get(void)
{
  return counts;
}

void sc_set_write_hook(int fd, void (*hook)(void *arg), void *arg)
{
  hook_fd = hook ? fd : -1;
  hook_fn = hook;
  hook_arg = arg;
}

static void count(enum sc_kind k)
{
  if (suspended)
    return;
  counts.total++;
  counts.kind[k]++;
}

static void after_write(int fd, long rc)
{
  if (rc <= 0 || fd != hook_fd || hook_fn == NULL || suspended)
    return;
  suspended++;
  hook_fn(hook_arg);
  suspended--;
}

/* The next definition of `name` (libc's, or a sanitizer's interceptor); abort if none. */
static void *next(const char *name)
{
  void *f = dlsym(RTLD_NEXT, name);
  if (f == NULL) {
    fprintf(stderr, "syscount: no definition of %s after this one\n", name);
    abort();
  }
  return f;
}

/* `static name##_fn real_name`, looked up on first use. */
#define REAL(name)                                                                                 \
  static name##_fn real_##name;                                                                    \
  if (real_##name == NULL)                                                                         \
  real_##name = (name##_fn)next(#name)

typedef ssize_t (*read_fn)(int, void *, size_t);
typedef ssize_t (*readv_fn)(int, const struct iovec *, int);
typedef ssize_t (*recvmsg_fn)(int, struct msghdr *, int);
typedef ssize_t (*write_fn)(int, const void *, size_t);
typedef ssize_t (*writev_fn)(int, const struct iovec *, int);
typedef ssize_t (*sendmsg_fn)(int, const struct msghdr *, int);
typedef int (*epoll_wait_fn)(int, struct epoll_event *, int, int);
typedef int (*epoll_pwait_fn)(int, struct epoll_event *, int, int, const sigset_t *);
typedef int (*epoll_ctl_fn)(int, int, int, struct epoll_event *);
typedef int (*accept4_fn)(int, struct sockaddr *, socklen_t *, int);
typedef int (*close_fn)(int);
typedef int (*ioctl_fn)(int, unsigned long, ...);
typedef long (*syscall_fn)(long, ...);

ssize_t read(int fd, void *buf, size_t n)
{
  REAL(read);
  count(SC_READ);
  return real_read(fd, buf, n);
}

ssize_t readv(int fd, const struct iovec *iov, int n)
{
  REAL(readv);
  count(SC_READ);
  return real_readv(fd, iov, n);
}

ssize_t recvmsg(int fd, struct msghdr *msg, int flags)
{
  REAL(recvmsg);
  count(SC_READ);
  return real_recvmsg(fd, msg, flags);
}

ssize_t write(int fd, const void *buf, size_t n)
{
  REAL(write);
  count(SC_WRITE);
  ssize_t rc = real_write(fd, buf, n);
  after_write(fd, rc);
  return rc;
}

ssize_t writev(int fd, const struct iovec *iov, int n)
{
  REAL(writev);
  count(SC_WRITE);
  ssize_t rc = real_writev(fd, iov, n);
  after_write(fd, rc);
  return rc;
}

ssize_t sendmsg(int fd, const struct msghdr *msg, int flags)
{
  REAL(sendmsg);
  count(SC_WRITE);
  ssize_t rc = real_sendmsg(fd, msg, flags);
  after_write(fd, rc);
  return rc;
}

int epoll_wait(int epfd, struct epoll_event *ev, int max, int timeout)
{
  REAL(epoll_wait);
  count(SC_POLL);
  return real_epoll_wait(epfd, ev, max, timeout);
}

int epoll_pwait(int epfd, struct epoll_event *ev, int max, int timeout, const sigset_t *mask)
{
  REAL(epoll_pwait);
  count(SC_POLL);
  return real_epoll_pwait(epfd, ev, max, timeout, mask);
}

int epoll_ctl(int epfd, int op, int fd, struct epoll_event *ev)
{
  REAL(epoll_ctl);
  count(SC_CTL);
  return real_epoll_ctl(epfd, op, fd, ev);
}

int accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags)
{
  REAL(accept4);
  count(SC_OTHER);
  return real_accept4(fd, addr, len, flags);
}

int close(int fd)
{
  REAL(close);
  count(SC_OTHER);
  return real_close(fd);
}

int ioctl(int fd, unsigned long request, ...)
{
  REAL(ioctl);
  va_list ap;
  va_start(ap, request);
  void *arg = va_arg(ap, void *);
  va_end(ap);
  count(SC_OTHER);
  return real_ioctl(fd, request, arg);
}

long syscall(long number, ...)
{
  REAL(syscall);
  va_list ap;
  va_start(ap, number);
  long a[6];
  for (int i = 0; i < 6; i++)
    a[i] = va_arg(ap, long); /* the kernel takes six register-sized arguments at most */
  va_end(ap);
  count(SC_OTHER);
  return real_syscall(number, a[0], a[1], a[2], a[3], a[4], a[5]);
}

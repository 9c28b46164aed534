/* Helpers for driving the example programs as a user would: spawn them with pipes or on a
 * pseudo-terminal, read their output up to a marker (bounded by a deadline, never by a
 * sleep), collect their exit status. Header-only, one test binary per include. */
#ifndef COW_TESTS_EXAMPLES_DRIVER_H
#define COW_TESTS_EXAMPLES_DRIVER_H

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#define DEADLINE_MS 20000 /* a hung program fails the test instead of hanging it */

static inline long long now_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/* Every child not yet collected by wait_exit(): a failed test's are killed by
 * kill_leftovers(), so that no program or peer outlives the test that started it. */
static pid_t children[64];

static inline void forget_child(pid_t pid)
{
  for (size_t i = 0; i < sizeof children / sizeof children[0]; i++)
    if (children[i] == pid)
      children[i] = 0;
}

/* cmocka teardown: SIGKILL (after SIGCONT: it may be stopped) and reap what is left. */
static inline int kill_leftovers(void **state)
{
  (void)state;
  for (size_t i = 0; i < sizeof children / sizeof children[0]; i++)
    if (children[i] > 0) {
      kill(children[i], SIGCONT);
      kill(children[i], SIGKILL);
      waitpid(children[i], NULL, 0);
      children[i] = 0;
    }
  return 0;
}

/* Fork and exec argv with fd 0/1/2 taken from in/out/err (-1: /dev/null). */
static inline pid_t spawn_fds(char *const argv[], int in, int out, int err)
{
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid > 0) {
    for (size_t i = 0; i < sizeof children / sizeof children[0]; i++)
      if (children[i] == 0) {
        children[i] = pid;
        break;
      }
  }
  if (pid == 0) {
    int null = open("/dev/null", O_RDWR);
    dup2(in >= 0 ? in : null, 0);
    dup2(out >= 0 ? out : null, 1);
    dup2(err >= 0 ? err : null, 2);
    execv(argv[0], argv);
    _exit(99);
  }
  return pid;
}

/* Spawn with pipes; the parent's ends in *in (write), *out, *err (read); NULL: /dev/null. */
static inline pid_t spawn_pipes(char *const argv[], int *in, int *out, int *err)
{
  int p[3][2] = {{-1, -1}, {-1, -1}, {-1, -1}};
  int *want[3] = {in, out, err};
  for (int i = 0; i < 3; i++)
    if (want[i] != NULL)
      assert_int_equal(pipe2(p[i], O_CLOEXEC), 0);
  pid_t pid = spawn_fds(argv, p[0][0], p[1][1], p[2][1]);
  for (int i = 0; i < 3; i++) {
    if (want[i] == NULL)
      continue;
    close(i == 0 ? p[i][0] : p[i][1]);
    *want[i] = i == 0 ? p[i][1] : p[i][0];
  }
  return pid;
}

/* Exit code as a shell reports it: the status, or 128+signal. Fails after the deadline. */
static inline int wait_exit(pid_t pid)
{
  long long end = now_ms() + DEADLINE_MS;
  int st;
  for (;;) {
    pid_t r = waitpid(pid, &st, WNOHANG);
    if (r == pid) {
      forget_child(pid);
      return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    }
    assert_true(r == 0 || (r < 0 && errno == EINTR));
    if (now_ms() > end) {
      kill(pid, SIGKILL);
      waitpid(pid, &st, 0);
      forget_child(pid);
      fail_msg("process %d did not exit within %d ms", (int)pid, DEADLINE_MS);
    }
    struct timespec ts = {0, 5 * 1000 * 1000}; /* polling a wait, not synchronising */
    nanosleep(&ts, NULL);
  }
}

/* Read fd into buf until `needle` appears (NULL: until EOF). EIO counts as EOF (a pty
 * master after the slave closed). Returns 1 when found (or EOF reached for NULL). */
static inline int read_until(int fd, char *buf, size_t cap, size_t *len, const char *needle)
{
  long long end = now_ms() + DEADLINE_MS;
  buf[*len] = '\0';
  while (needle == NULL || strstr(buf, needle) == NULL) {
    struct pollfd pfd = {fd, POLLIN, 0};
    int left = (int)(end - now_ms());
    if (left <= 0 || poll(&pfd, 1, left) == 0)
      return 0;
    ssize_t n = read(fd, buf + *len, cap - 1 - *len);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return needle == NULL;
    *len += (size_t)n;
    buf[*len] = '\0';
    if (*len == cap - 1) /* full: the marker is there now or never */
      return needle != NULL && strstr(buf, needle) != NULL;
  }
  return 1;
}

/* read_until() that fails the test with what was read, escaped, when the marker never came. */
#define EXPECT_OUTPUT(fd, buf, len, needle)                                                        \
  do {                                                                                             \
    if (!read_until((fd), (buf), sizeof(buf), &(len), (needle)))                                   \
      fail_msg("no '%s' in output: '%s'", escaped(needle), escaped(buf));                          \
  } while (0)

static inline const char *escaped(const char *s)
{
  static char out[2][4096];
  static int k;
  char *o = out[k ^= 1];
  size_t n = 0;
  for (; s != NULL && *s && n < sizeof out[0] - 5; s++)
    n += (size_t)((unsigned char)*s >= 32 && *s != '\\'
                      ? snprintf(o + n, 2, "%c", *s)
                      : snprintf(o + n, 5, "\\x%02x", (unsigned char)*s));
  o[n] = '\0';
  return o;
}

struct result {
  int code;
  char out[16384], err[16384];
};

/* Run to the end with `input` on stdin (NULL: /dev/null); both outputs captured. */
static inline void run(struct result *r, const char *input, char *const argv[])
{
  int in = -1, out, err;
  pid_t pid = spawn_pipes(argv, input ? &in : NULL, &out, &err);
  if (input != NULL) {
    assert_int_equal(write(in, input, strlen(input)), (ssize_t)strlen(input));
    close(in);
  }
  size_t no = 0, ne = 0;
  /* stderr is small and written before the exit; reading stdout to EOF first is safe. */
  assert_true(read_until(out, r->out, sizeof r->out, &no, NULL));
  assert_true(read_until(err, r->err, sizeof r->err, &ne, NULL));
  close(out);
  close(err);
  r->code = wait_exit(pid);
}

#define ARGV(...) ((char *const[]){__VA_ARGS__, NULL})

/* A fresh directory under TMPDIR (or /tmp); short, because it holds AF_UNIX sockets. */
static inline void make_tmpdir(char *path, size_t size, const char *tag)
{
  const char *t = getenv("TMPDIR");
  snprintf(path, size, "%s/%s.XXXXXX", t && strlen(t) < 40 ? t : "/tmp", tag);
  assert_non_null(mkdtemp(path));
}

static inline void remove_tree(const char *path)
{
  pid_t pid = spawn_fds(ARGV("/bin/rm", "-rf", (char *)path), -1, -1, -1);
  assert_int_equal(wait_exit(pid), 0);
}

#endif

/* cow-run from the user's seat: output and exit codes through both HCS APIs, stdin, signal
 * forwarding, and the console on a real pseudo-terminal (size, resize, raw mode). */
#include "driver.h"

#ifndef COW_RUN_PATH
#  error "COW_RUN_PATH must name the cow-run binary"
#endif
#define COW_RUN COW_RUN_PATH

static void output_and_exit_code(void **state)
{
  const char *apis[] = {"v1", "v2"};
  for (int i = 0; i < 2; i++) {
    struct result r;
    run(&r, NULL,
        ARGV(COW_RUN, "--hcs", (char *)apis[i], "-e", "GREETING=hello", "-w", "/tmp", "--", "sh",
             "-c", "echo \"$GREETING from $(pwd)\"; echo oops >&2; exit 3"));
    assert_int_equal(r.code, 3);
    assert_string_equal(r.out, "hello from /tmp\n");
    assert_string_equal(r.err, "oops\n");
  }
}

static void stdin_is_forwarded(void **state)
{
  struct result r;
  run(&r, "hi\nthere\n", ARGV(COW_RUN, "-i", "--", "cat"));
  assert_int_equal(r.code, 0);
  assert_string_equal(r.out, "hi\nthere\n");
  /* Without -i the command's stdin is empty, whatever ours holds. */
  run(&r, "ignored\n", ARGV(COW_RUN, "--", "sh", "-c", "cat; echo end"));
  assert_int_equal(r.code, 0);
  assert_string_equal(r.out, "end\n");
}

/* docker's codes for a command that cannot start: 127 not found (a path or a PATH
 * lookup), 126 found but not runnable (not executable, a directory); the message names it. */
static void missing_command_is_127(void **state)
{
  const char *apis[] = {"v1", "v2"};
  for (int i = 0; i < 2; i++) {
    struct result r;
    char *api = (char *)apis[i];
    run(&r, NULL, ARGV(COW_RUN, "--hcs", api, "--", "/nonexistent/program"));
    assert_int_equal(r.code, 127);
    assert_non_null(strstr(r.err, "cow-run: starting the command '/nonexistent/program':"));
    assert_non_null(strstr(r.err, "HRESULT 0x80070002"));
    run(&r, NULL, ARGV(COW_RUN, "--hcs", api, "--", "no-such-command-anywhere"));
    assert_int_equal(r.code, 127);
    run(&r, NULL, ARGV(COW_RUN, "--hcs", api, "--", "/etc/passwd"));
    assert_int_equal(r.code, 126);
    assert_non_null(strstr(r.err, "HRESULT 0x80070005"));
    run(&r, NULL, ARGV(COW_RUN, "--hcs", api, "--", "/tmp"));
    assert_int_equal(r.code, 126);
  }
}

/* Fault injection belongs to the tests: the shipped library (what cow-run links) ignores
 * COW_EMU_FAULTS, which the testing library would obey ("injected failure"). */
static void emulator_faults_are_not_shipped(void **state)
{
  struct result r;
  assert_int_equal(setenv("COW_EMU_FAULTS", "fail:*=0x80004005", 1), 0);
  run(&r, NULL, ARGV(COW_RUN, "--", "echo", "hi"));
  unsetenv("COW_EMU_FAULTS");
  assert_string_equal(r.err, "");
  assert_int_equal(r.code, 0);
  assert_string_equal(r.out, "hi\n");
}

static void usage_errors_and_help(void **state)
{
  struct result r;
  run(&r, NULL, ARGV(COW_RUN, "--bogus", "--", "true"));
  assert_int_equal(r.code, 2);
  assert_non_null(strstr(r.err, "unknown option '--bogus'"));
  run(&r, NULL, ARGV(COW_RUN, "--hcs", "v3", "--", "true"));
  assert_int_equal(r.code, 2);
  run(&r, NULL, ARGV(COW_RUN, "-e"));
  assert_int_equal(r.code, 2);
  run(&r, NULL, ARGV(COW_RUN, "-t"));
  assert_int_equal(r.code, 2);
  assert_non_null(strstr(r.err, "no command given"));
  run(&r, NULL, ARGV(COW_RUN, "--help"));
  assert_int_equal(r.code, 0);
  assert_string_equal(r.err, "");
  assert_non_null(strstr(r.out, "Usage: cow-run"));
  assert_non_null(strstr(r.out, "Exit status:"));
  assert_non_null(strstr(r.out, "125"));
}

/* One getopt_long parser: every long option also as --opt=VALUE, --version, and the
 * library's log on stderr with -v / --log-level. */
static void long_options_version_and_log(void **state)
{
  struct result r;
  run(&r, NULL,
      ARGV(COW_RUN, "--hcs=v1", "--id=eq-form", "--stop-timeout=2", "--env=A=b", "--workdir=/tmp",
           "--", "sh", "-c", "echo $A $(pwd)"));
  assert_int_equal(r.code, 0);
  assert_string_equal(r.out, "b /tmp\n");
  assert_string_equal(r.err, "");
  run(&r, NULL, ARGV(COW_RUN, "--version"));
  assert_int_equal(r.code, 0);
  assert_non_null(strstr(r.out, "cow-run (libcow "));
  /* The command's own flags are never ours. */
  run(&r, NULL, ARGV(COW_RUN, "sh", "-c", "echo $0 $1", "-t", "--version"));
  assert_int_equal(r.code, 0);
  assert_string_equal(r.out, "-t --version\n");
  /* Off by default; -v warnings; -vvv and --log-level=debug the emulator's debug lines. */
  run(&r, NULL, ARGV(COW_RUN, "--id", "logged", "--", "true"));
  assert_string_equal(r.err, "");
  const char *debug[][2] = {{"-vvv", NULL}, {"--log-level=debug", NULL}, {"--log-level", "debug"}};
  for (int k = 0; k < 3; k++) {
    run(&r, NULL,
        debug[k][1] ? ARGV(COW_RUN, (char *)debug[k][0], (char *)debug[k][1], "--id", "logged",
                           "--", "true")
                    : ARGV(COW_RUN, (char *)debug[k][0], "--id", "logged", "--", "true"));
    assert_int_equal(r.code, 0);
    assert_non_null(strstr(r.err, "cow-run: debug: emu: system logged created"));
  }
  run(&r, NULL, ARGV(COW_RUN, "--log-level", "loud", "--", "true"));
  assert_int_equal(r.code, 2);
  assert_non_null(strstr(r.err, "bad --log-level 'loud'"));
  run(&r, NULL, ARGV(COW_RUN, "--tty=yes", "--", "true"));
  assert_int_equal(r.code, 2);
  assert_non_null(strstr(r.err, "option '--tty' takes no value"));
  run(&r, NULL, ARGV(COW_RUN, "--timeout=5", "--", "true")); /* each HCS request bounded */
  assert_int_equal(r.code, 0);
  run(&r, NULL, ARGV(COW_RUN, "--timeout", "soon", "--", "true"));
  assert_int_equal(r.code, 2);
  assert_non_null(strstr(r.err, "bad --timeout 'soon'"));
  run(&r, NULL, ARGV(COW_RUN, "--stop-timeout"));
  assert_int_equal(r.code, 2);
  assert_non_null(strstr(r.err, "option '--stop-timeout' needs a value"));
}

/* -t passes TERM as docker run -t does: the caller's, else xterm; -e TERM=... wins. */
static void tty_passes_term(void **state)
{
  struct result r;
  const char *saved = getenv("TERM");
  char *keep = saved ? strdup(saved) : NULL;
  assert_int_equal(setenv("TERM", "vt220", 1), 0);
  run(&r, NULL, ARGV(COW_RUN, "-t", "--", "sh", "-c", "echo T=$TERM"));
  assert_non_null(strstr(r.out, "T=vt220"));
  unsetenv("TERM");
  run(&r, NULL, ARGV(COW_RUN, "-t", "--", "sh", "-c", "echo T=$TERM"));
  assert_non_null(strstr(r.out, "T=xterm"));
  run(&r, NULL, ARGV(COW_RUN, "-t", "-e", "TERM=dumb", "--", "sh", "-c", "echo T=$TERM"));
  assert_non_null(strstr(r.out, "T=dumb"));
  /* Without -t the command's environment has no TERM of ours. */
  run(&r, NULL, ARGV(COW_RUN, "--", "sh", "-c", "echo T=${TERM-unset}"));
  assert_string_equal(r.out, "T=unset\n");
  if (keep != NULL)
    setenv("TERM", keep, 1);
  free(keep);
}

/* Text that is not UTF-8 cannot be put in the service's documents: refused as a bad
 * command line naming it (exit 2, as lcow-exec), never dropped; UTF-8 goes through. */
static void text_that_is_not_utf8_is_refused(void **state)
{
  struct result r;
  run(&r, NULL, ARGV(COW_RUN, "--", "sh", "-c", "echo $1", "sh", "\xff", "second"));
  assert_int_equal(r.code, 2);
  assert_string_equal(r.err, "cow-run: argument 4 of the command is not valid UTF-8: '\\xff'\n"
                             "(the service takes text in UTF-8 only; nothing was run)\n");
  run(&r, NULL, ARGV(COW_RUN, "-w", "/tmp/\xff", "--", "pwd"));
  assert_int_equal(r.code, 2);
  assert_non_null(strstr(r.err, "the working directory (-w) is not valid UTF-8"));
  run(&r, NULL, ARGV(COW_RUN, "-e", "X=\xff", "--", "env"));
  assert_int_equal(r.code, 2);
  assert_non_null(strstr(r.err, "the environment variable X is not valid UTF-8"));
  run(&r, NULL, ARGV(COW_RUN, "--id", "\xc0\xaf", "--", "true")); /* an overlong '/' */
  assert_int_equal(r.code, 2);
  assert_non_null(strstr(r.err, "the compute system's id (--id) is not valid UTF-8"));
  run(&r, NULL,
      ARGV(COW_RUN, "-e", "Y=\xc3\xa9", "--", "sh", "-c", "printf '%s|%s|' \"$1\" \"$Y\"", "sh",
           "\xf0\x9f\x90\x84"));
  assert_int_equal(r.code, 0);
  assert_string_equal(r.out, "\xf0\x9f\x90\x84|\xc3\xa9|");
}

/* SIGTERM to cow-run reaches the command; cow-run exits with the command's code. */
static void sigterm_is_forwarded(void **state)
{
  const char *apis[] = {"v1", "v2"};
  for (int i = 0; i < 2; i++) {
    int out;
    char buf[4096];
    size_t len = 0;
    pid_t pid = spawn_pipes(
        ARGV(COW_RUN, "--hcs", (char *)apis[i], "--", "sh", "-c",
             "sleep 30 & trap 'kill $!; echo got-TERM; exit 42' TERM; echo ready; wait"),
        NULL, &out, NULL);
    EXPECT_OUTPUT(out, buf, len, "ready\n");
    kill(pid, SIGTERM);
    assert_true(read_until(out, buf, sizeof buf, &len, NULL));
    close(out);
    assert_int_equal(wait_exit(pid), 42);
    assert_string_equal(buf, "ready\ngot-TERM\n");
  }
  /* A command that does not handle it dies of it: 128 + 15. */
  int out;
  char buf[256];
  size_t len = 0;
  pid_t pid =
      spawn_pipes(ARGV(COW_RUN, "--", "sh", "-c", "echo ready; exec sleep 30"), NULL, &out, NULL);
  EXPECT_OUTPUT(out, buf, len, "ready\n");
  kill(pid, SIGTERM);
  assert_true(read_until(out, buf, sizeof buf, &len, NULL));
  close(out);
  assert_int_equal(wait_exit(pid), 143);
}

/* `cow-run -- yes | head -1`: when the reader of our stdout (or stderr) goes away, cow-run
 * stops relaying and closes the command's end, so the command dies of SIGPIPE (141) at
 * its next write and cow-run exits at once, instead of draining it forever. */
static void closed_reader_ends_the_command(void **state)
{
  const char *apis[] = {"v1", "v2"};
  for (int i = 0; i < 4; i++) {
    int fd;
    char buf[4096];
    size_t len = 0;
    int on_stderr = i >= 2;
    char *const *argv =
        on_stderr ? ARGV(COW_RUN, "--hcs", (char *)apis[i % 2], "--", "sh", "-c", "exec yes >&2")
                  : ARGV(COW_RUN, "--hcs", (char *)apis[i % 2], "--", "yes");
    pid_t pid = spawn_pipes(argv, NULL, on_stderr ? NULL : &fd, on_stderr ? &fd : NULL);
    EXPECT_OUTPUT(fd, buf, len, "y\ny\n");
    close(fd); /* what head does after its first line */
    assert_int_equal(wait_exit(pid), 128 + SIGPIPE);
  }
  /* An output that fails otherwise (a full disk) ends it the same way, and says why. */
  int full = open("/dev/full", O_WRONLY | O_CLOEXEC), ep[2];
  assert_true(full >= 0);
  assert_int_equal(pipe2(ep, O_CLOEXEC), 0);
  pid_t pid = spawn_fds(ARGV(COW_RUN, "--", "sh", "-c", "echo hi; exec sleep 30"), -1, full, ep[1]);
  close(ep[1]);
  close(full);
  char ebuf[1024];
  size_t elen = 0;
  assert_true(read_until(ep[0], ebuf, sizeof ebuf, &elen, NULL));
  close(ep[0]);
  assert_int_equal(wait_exit(pid), 128 + SIGPIPE);
  assert_string_equal(ebuf, "cow-run: writing the command's output: no space left on device; the "
                            "rest is dropped\n");
}

/* A second SIGTERM abandons: cow-run closes the system's handle (which terminates it and
 * its processes) and exits at once with 128+15, saying what it abandoned; the first one
 * was forwarded as usual. Nothing of the system is left running. */
static void second_signal_abandons(void **state)
{
  int out, err;
  char buf[256], ebuf[1024];
  size_t len = 0, elen = 0;
  pid_t pid = spawn_pipes(ARGV(COW_RUN, "--id", "abandon", "--", "sh", "-c",
                               "trap 'echo got-TERM' TERM; echo ready $$; "
                               "while :; do sleep 1; done"),
                          NULL, &out, &err);
  EXPECT_OUTPUT(out, buf, len, "\n");
  int shell = atoi(buf + strlen("ready "));
  assert_true(shell > 0);
  kill(pid, SIGTERM);
  EXPECT_OUTPUT(out, buf, len, "got-TERM\n"); /* forwarded, and handled by the command */
  kill(pid, SIGTERM);
  assert_int_equal(wait_exit(pid), 143);
  assert_true(read_until(err, ebuf, sizeof ebuf, &elen, NULL));
  assert_string_equal(ebuf, "cow-run: second signal: abandoned while running the command in "
                            "abandon\n");
  close(out);
  close(err);
  /* The command went with the system (it is not our child: poll until it is gone). */
  long long end = now_ms() + DEADLINE_MS;
  while (kill(shell, 0) == 0 && now_ms() < end) {
    struct timespec ts = {0, 10 * 1000 * 1000};
    nanosleep(&ts, NULL);
  }
  if (kill(shell, 0) == 0)
    fail_msg("the command (pid %d) outlived the abandoned compute system", shell);
}

/* ---- the console, on a pseudo-terminal of our own ---- */

static pid_t spawn_on_pty(char *const argv[], unsigned short rows, unsigned short cols, int *master)
{
  struct winsize ws = {rows, cols, 0, 0};
  pid_t pid = forkpty(master, NULL, NULL, &ws);
  assert_true(pid >= 0);
  if (pid == 0) {
    execv(argv[0], argv);
    _exit(99);
  }
  return pid;
}

static int is_cooked(int master)
{
  struct termios t;
  assert_int_equal(tcgetattr(master, &t), 0); /* the master reports the slave's settings */
  return (t.c_lflag & (ICANON | ECHO | ISIG)) == (ICANON | ECHO | ISIG);
}

/* -t: the console starts with our size and follows our resizes (SIGWINCH). */
static void tty_size_and_resize(void **state)
{
  int m;
  char buf[8192];
  size_t len = 0;
  pid_t pid = spawn_on_pty(
      ARGV(COW_RUN, "-t", "--", "sh", "-c",
           "sleep 30 & trap 'stty size; kill $!; exit 5' WINCH; stty size; wait; echo no-winch"),
      33, 101, &m);
  /* Our terminal stays cooked with -t alone (as docker's): its ONLCR turns the console's
   * "\r\n" into "\r\r\n". */
  EXPECT_OUTPUT(m, buf, len, "33 101\r\r\n");
  /* A resize of the terminal: the kernel sends SIGWINCH to its foreground process group,
   * which is cow-run's; the explicit one is what a terminal emulator's is, a no-op twice. */
  struct winsize ws = {40, 120, 0, 0};
  assert_int_equal(ioctl(m, TIOCSWINSZ, &ws), 0);
  kill(pid, SIGWINCH);
  EXPECT_OUTPUT(m, buf, len, "40 120\r\r\n");
  assert_int_equal(wait_exit(pid), 5);
  assert_null(strstr(buf, "no-winch"));
  assert_true(is_cooked(m));
  close(m);
}

/* -it: our terminal is raw while the command runs (keys go through, Ctrl-C included) and
 * cooked again afterwards, also when the command is interrupted. */
static void tty_raw_mode(void **state)
{
  int m;
  char buf[8192];
  size_t len = 0;
  pid_t pid = spawn_on_pty(
      ARGV(COW_RUN, "-it", "--", "sh", "-c", "echo ready; read line; echo \"got:$line\"; exit 6"),
      24, 80, &m);
  EXPECT_OUTPUT(m, buf, len, "ready\r\n");
  assert_false(is_cooked(m));
  assert_int_equal(write(m, "hello\r", 6), 6); /* Enter sends CR; the console maps it */
  EXPECT_OUTPUT(m, buf, len, "got:hello\r\n");
  assert_int_equal(wait_exit(pid), 6);
  assert_true(is_cooked(m));
  close(m);

  len = 0;
  pid =
      spawn_on_pty(ARGV(COW_RUN, "-it", "--", "sh", "-c", "echo ready; exec sleep 30"), 24, 80, &m);
  EXPECT_OUTPUT(m, buf, len, "ready\r\n");
  assert_int_equal(write(m, "\003", 1), 1); /* Ctrl-C: an interrupt in the console */
  assert_int_equal(wait_exit(pid), 130);
  assert_true(is_cooked(m));
  close(m);
}

int main(void)
{
  signal(SIGPIPE, SIG_IGN);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_teardown(output_and_exit_code, kill_leftovers),
      cmocka_unit_test_teardown(stdin_is_forwarded, kill_leftovers),
      cmocka_unit_test_teardown(missing_command_is_127, kill_leftovers),
      cmocka_unit_test_teardown(usage_errors_and_help, kill_leftovers),
      cmocka_unit_test_teardown(sigterm_is_forwarded, kill_leftovers),
      cmocka_unit_test_teardown(tty_size_and_resize, kill_leftovers),
      cmocka_unit_test_teardown(tty_raw_mode, kill_leftovers),
      cmocka_unit_test_teardown(closed_reader_ends_the_command, kill_leftovers),
      cmocka_unit_test_teardown(emulator_faults_are_not_shipped, kill_leftovers),
      cmocka_unit_test_teardown(long_options_version_and_log, kill_leftovers),
      cmocka_unit_test_teardown(tty_passes_term, kill_leftovers),
      cmocka_unit_test_teardown(second_signal_abandons, kill_leftovers),
      cmocka_unit_test_teardown(text_that_is_not_utf8_is_refused, kill_leftovers),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

/* lcow-exec from the user's seat, against cow-gcs-peer started in the background on a
 * temporary port directory: utility VM processes, containers from a bundle, stdin,
 * signals, a console on a pty, and a guest that never dials. */
#include <dirent.h>

#include "driver.h"

#if !defined(LCOW_EXEC_PATH) || !defined(COW_GCS_PEER_PATH)
#  error "LCOW_EXEC_PATH and COW_GCS_PEER_PATH must name the binaries"
#endif
#define LCOW LCOW_EXEC_PATH

static char dir[128], bundle[192];

static int setup(void **state)
{
  make_tmpdir(dir, sizeof dir, "lcow");
  snprintf(bundle, sizeof bundle, "%s/bundle", dir);
  assert_int_equal(mkdir(bundle, 0755), 0);
  char path[256];
  snprintf(path, sizeof path, "%s/config.json", bundle);
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fputs("{\"ociVersion\":\"1.0.2\",\"process\":{\"args\":[\"sh\",\"-c\",\"echo from-bundle "
        "$FOO\"],\"env\":[\"PATH=/usr/bin:/bin\",\"FOO=bundle\"],\"cwd\":\"/\"},"
        "\"root\":{\"path\":\"rootfs\"},\"linux\":{}}\n",
        f);
  fclose(f);
  return 0;
}

static int teardown(void **state)
{
  remove_tree(dir);
  return 0;
}

/* The guest: dials DIR/1073741824 (retrying until lcow-exec listens) and serves it until
 * lcow-exec closes the bridge, then exits 0. */
static pid_t start_peer(void)
{
  return spawn_fds(ARGV(COW_GCS_PEER_PATH, "--port-dir", dir), -1, -1, -1);
}

/* Remove the line lcow-exec prints when the guest took more than a second to dial: a
 * loaded machine may delay the peer that long, and the tests compare stderr whole. */
static void drop_waiting_line(char *err)
{
  char *w = strstr(err, "lcow-exec: waiting for the guest to connect to ");
  if (w != NULL) {
    char *nl = strchr(w, '\n');
    memmove(w, nl ? nl + 1 : w + strlen(w), strlen(nl ? nl + 1 : w + strlen(w)) + 1);
  }
}

static void run_with_peer(struct result *r, const char *input, char *const argv[])
{
  pid_t peer = start_peer();
  run(r, input, argv);
  drop_waiting_line(r->err);
  assert_int_equal(wait_exit(peer), 0);
}

static void unreachable_guest(void **state)
{
  struct result r;
  long long t0 = now_ms();
  run(&r, NULL, ARGV(LCOW, "--port-dir", dir, "--timeout", "1", "--", "true"));
  assert_int_equal(r.code, 125);
  assert_non_null(strstr(r.err, "lcow-exec: no guest connected to "));
  assert_non_null(strstr(r.err, "/1073741824 within 1 s (ETIMEDOUT)"));
  assert_true(now_ms() - t0 < 10000);
}

static void usage_errors_and_help(void **state)
{
  struct result r;
  run(&r, NULL, ARGV(LCOW, "--", "true"));
  assert_int_equal(r.code, 2);
  assert_non_null(strstr(r.err, "exactly one of --port-dir, --vsock-port and --hvsock"));
  run(&r, NULL,
      ARGV(LCOW, "--port-dir", dir, "--hvsock", "d2ae8a2d-5dc4-4b6c-a2c4-2dfb0e3c9b1e", "--",
           "true"));
  assert_int_equal(r.code, 2);
  /* Hyper-V sockets are Windows-only: refused at set-up, before anything listens. */
  run(&r, NULL, ARGV(LCOW, "--hvsock", "d2ae8a2d-5dc4-4b6c-a2c4-2dfb0e3c9b1e", "--", "true"));
  assert_int_equal(r.code, 125);
  assert_non_null(strstr(r.err, "setting up the transport for the Hyper-V sockets of VM "
                                "d2ae8a2d-5dc4-4b6c-a2c4-2dfb0e3c9b1e: "));
  assert_non_null(strstr(r.err, "(ENOTSUP)"));
  run(&r, NULL, ARGV(LCOW, "--port-dir", dir, "--container", "c", "--", "true"));
  assert_int_equal(r.code, 2);
  run(&r, NULL, ARGV(LCOW, "--port-dir", dir, "--layer", "/l", "--", "true"));
  assert_int_equal(r.code, 2);
  run(&r, NULL, ARGV(LCOW, "--port-dir", dir, "--timeout", "soon", "--", "true"));
  assert_int_equal(r.code, 2);
  run(&r, NULL, ARGV(LCOW, "--port-dir", dir, "--frobnicate"));
  assert_int_equal(r.code, 2);
  run(&r, NULL, ARGV(LCOW, "--help"));
  assert_int_equal(r.code, 0);
  assert_non_null(strstr(r.out, "Usage: lcow-exec"));
  assert_non_null(strstr(r.out, "Exit status:"));
}

/* Waiting for a guest says so after a second (with the address), and a port directory
 * that does not exist is named in the failure. */
static void waiting_and_named_failures(void **state)
{
  struct result r;
  char where[192], expect[600];
  snprintf(where, sizeof where, "%s/1073741824", dir);
  run(&r, NULL, ARGV(LCOW, "--port-dir", dir, "--timeout", "3", "--", "true"));
  assert_int_equal(r.code, 125);
  snprintf(expect, sizeof expect,
           "lcow-exec: waiting for the guest to connect to %s (up to 3 s)\n"
           "lcow-exec: no guest connected to %s within 3 s (ETIMEDOUT)\n",
           where, where);
  assert_string_equal(r.err, expect);
  run(&r, NULL, ARGV(LCOW, "--port-dir", "/nonexistent/uvm", "--", "true"));
  assert_int_equal(r.code, 125);
  assert_non_null(strstr(r.err, "lcow-exec: listening for the guest on "
                                "/nonexistent/uvm/1073741824: "));
  assert_non_null(strstr(r.err, "(ENOENT)"));
}

/* --opt=VALUE for every long option, --version, and the library's log with --log-level. */
static void long_options_version_and_log(void **state)
{
  struct result r;
  char port_dir[192];
  snprintf(port_dir, sizeof port_dir, "--port-dir=%s", dir);
  run_with_peer(&r, NULL,
                ARGV(LCOW, port_dir, "--timeout=20", "--log-level=info", "--env=A=b",
                     "--workdir=/tmp", "--", "sh", "-c", "echo $A $(pwd)"));
  assert_int_equal(r.code, 0);
  assert_string_equal(r.out, "b /tmp\n");
  assert_non_null(strstr(r.err, "lcow-exec: info: guest: connected: protocol "));
  run_with_peer(&r, NULL, ARGV(LCOW, port_dir, "--", "true"));
  assert_int_equal(r.code, 0);
  assert_string_equal(r.err, ""); /* no log by default */
  run(&r, NULL, ARGV(LCOW, "--version"));
  assert_int_equal(r.code, 0);
  assert_non_null(strstr(r.out, "lcow-exec (libcow "));
  /* -t passes TERM on, as docker run -t does (the caller's here). */
  const char *saved = getenv("TERM");
  char *keep = saved ? strdup(saved) : NULL;
  assert_int_equal(setenv("TERM", "vt220", 1), 0);
  run_with_peer(&r, NULL, ARGV(LCOW, port_dir, "-t", "--", "sh", "-c", "echo T=$TERM"));
  if (keep != NULL)
    setenv("TERM", keep, 1);
  else
    unsetenv("TERM");
  free(keep);
  assert_int_equal(r.code, 0);
  assert_non_null(strstr(r.out, "T=vt220"));
  run(&r, NULL, ARGV(LCOW, "--port-dir=", "--", "true"));
  assert_int_equal(r.code, 2);
  assert_non_null(strstr(r.err, "option '--port-dir' needs a value"));
}

static void uvm_process(void **state)
{
  struct result r;
  run_with_peer(&r, NULL,
                ARGV(LCOW, "--port-dir", dir, "-e", "WHO=uvm", "-w", "/tmp", "--", "sh", "-c",
                     "echo \"hi from $WHO in $(pwd)\"; echo err >&2; exit 3"));
  assert_int_equal(r.code, 3);
  assert_string_equal(r.out, "hi from uvm in /tmp\n");
  assert_string_equal(r.err, "err\n");
  run_with_peer(&r, "piped\n", ARGV(LCOW, "--port-dir", dir, "-i", "--", "cat"));
  assert_int_equal(r.code, 0);
  assert_string_equal(r.out, "piped\n");
}

/* docker's codes where the agent's error says why the command did not start: 127 not
 * found ("no such file or directory", "executable file not found in $PATH"), 126 not
 * runnable ("permission denied"); the message names the command. */
static void cannot_start_is_127_or_126(void **state)
{
  struct result r;
  run_with_peer(&r, NULL, ARGV(LCOW, "--port-dir", dir, "--", "/nonexistent/program"));
  assert_int_equal(r.code, 127);
  assert_non_null(strstr(r.err, "lcow-exec: starting the command '/nonexistent/program': "));
  assert_non_null(strstr(r.err, "no such file or directory"));
  run_with_peer(&r, NULL, ARGV(LCOW, "--port-dir", dir, "--", "no-such-command-anywhere"));
  assert_int_equal(r.code, 127);
  assert_non_null(strstr(r.err, "executable file not found"));
  run_with_peer(&r, NULL, ARGV(LCOW, "--port-dir", dir, "--", "/etc/passwd"));
  assert_int_equal(r.code, 126);
  assert_non_null(strstr(r.err, "permission denied"));
}

static void container_from_bundle(void **state)
{
  struct result r;
  /* CMD, -e and -w override the bundle's process; layers and scratch are attached. */
  run_with_peer(&r, NULL,
                ARGV(LCOW, "--port-dir", dir, "--container", "c1", "--bundle", bundle, "--layer",
                     "/run/layers/p0", "--layer", "/run/layers/p1", "--scratch",
                     "/run/gcs/c/c1/scratch", "-e", "FOO=override", "-w", "/tmp", "--", "sh", "-c",
                     "echo in-container $FOO $(pwd); echo e >&2; exit 4"));
  assert_int_equal(r.code, 4);
  assert_string_equal(r.out, "in-container override /tmp\n");
  assert_string_equal(r.err, "e\n");
  /* Without a command the bundle's own process runs. */
  run_with_peer(&r, NULL, ARGV(LCOW, "--port-dir", dir, "--container", "c2", "--bundle", bundle));
  assert_int_equal(r.code, 0);
  assert_string_equal(r.out, "from-bundle bundle\n");
  assert_string_equal(r.err, "");
  run_with_peer(
      &r, "in\n",
      ARGV(LCOW, "--port-dir", dir, "--container", "c3", "--bundle", bundle, "-i", "--", "cat"));
  assert_int_equal(r.code, 0);
  assert_string_equal(r.out, "in\n");
}

static void container_sigterm(void **state)
{
  int out;
  char buf[256];
  size_t len = 0;
  pid_t lx = spawn_pipes(ARGV(LCOW, "--port-dir", dir, "--container", "c4", "--bundle", bundle,
                              "--", "sh", "-c", "echo ready; exec sleep 30"),
                         NULL, &out, NULL);
  pid_t peer = start_peer();
  EXPECT_OUTPUT(out, buf, len, "ready\n");
  kill(lx, SIGTERM);
  assert_true(read_until(out, buf, sizeof buf, &len, NULL));
  close(out);
  assert_int_equal(wait_exit(lx), 143);
  assert_int_equal(wait_exit(peer), 0);
}

/* The GCS can neither signal nor kill a utility VM process: the first SIGTERM says so,
 * the second abandons the command. */
static void uvm_signal_abandons(void **state)
{
  int out, err;
  char buf[256], ebuf[1024];
  size_t len = 0, elen = 0;
  pid_t lx =
      spawn_pipes(ARGV(LCOW, "--port-dir", dir, "--", "sh", "-c", "echo ready; exec sleep 30"),
                  NULL, &out, &err);
  pid_t peer = start_peer();
  EXPECT_OUTPUT(out, buf, len, "ready\n");
  kill(lx, SIGTERM);
  assert_true(read_until(err, ebuf, sizeof ebuf, &elen, "send the signal again to abandon it"));
  kill(lx, SIGTERM);
  assert_int_equal(wait_exit(lx), 143);
  assert_int_equal(wait_exit(peer), 0); /* the bridge closed: the peer killed the command */
  close(out);
  close(err);
}

/* `lcow-exec -- yes | head -1`: the reader of our stdout goes away; lcow-exec stops
 * relaying, closes the command's stdout (a utility VM process then fails its next write)
 * and sends SIGPIPE (a container's output is drained by the agent, so that is what ends
 * it): the command ends and lcow-exec with it. */
static void closed_reader_ends_the_command(void **state)
{
  for (int k = 0; k < 2; k++) {
    int out;
    char buf[4096];
    size_t len = 0;
    pid_t lx = spawn_pipes(k == 0 ? ARGV(LCOW, "--port-dir", dir, "--", "yes")
                                  : ARGV(LCOW, "--port-dir", dir, "--container", "c6", "--bundle",
                                         bundle, "--", "yes"),
                           NULL, &out, NULL);
    pid_t peer = start_peer();
    EXPECT_OUTPUT(out, buf, len, "y\ny\n");
    close(out);
    int code = wait_exit(lx);
    if (k == 0) /* killed by SIGPIPE (reported as 255), or it saw EPIPE itself (yes: 1) */
      assert_true(code == 255 || code == 1);
    else
      assert_int_equal(code, 128 + SIGPIPE);
    assert_int_equal(wait_exit(peer), 0);
  }
}

/* Sockets lcow-exec left in the port directory (listeners of the bridge and of stdio). */
static int sockets_left(void)
{
  int n = 0;
  DIR *d = opendir(dir);
  assert_non_null(d);
  for (struct dirent *e; (e = readdir(d)) != NULL;) {
    char path[512];
    struct stat st;
    snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
    if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode)) {
      fprintf(stderr, "left behind: %s\n", path);
      n++;
    }
  }
  closedir(d);
  return n;
}

/* The second SIGTERM abandons at once, whatever is in flight, and leaves no socket in the
 * port directory; `when` is what lcow-exec's debug log says once we are in that phase,
 * `first` what it says once the first signal was handled (the two must not coalesce). */
static void abandon_case(char *const lx_argv[], char *const peer_argv[], const char *when,
                         int stop_peer, const char *first, const char *phase)
{
  int err;
  static char ebuf[1 << 18]; /* the debug log of a whole container's life */
  size_t elen = 0;
  pid_t lx = spawn_pipes(lx_argv, NULL, NULL, &err);
  pid_t peer = spawn_fds(peer_argv, -1, -1, -1);
  EXPECT_OUTPUT(err, ebuf, elen, when);
  if (stop_peer)
    kill(peer, SIGSTOP); /* a frozen guest: nothing it was asked is ever answered */
  kill(lx, SIGTERM);
  EXPECT_OUTPUT(err, ebuf, elen, first);
  kill(lx, SIGTERM);
  assert_true(read_until(err, ebuf, sizeof ebuf, &elen, NULL));
  close(err);
  assert_int_equal(wait_exit(lx), 143);
  char expect[256];
  snprintf(expect, sizeof expect, "lcow-exec: second signal: abandoned while %s\n", phase);
  if (strstr(ebuf, expect) == NULL)
    fail_msg("no '%s' in: %s", escaped(expect), escaped(ebuf));
  assert_int_equal(sockets_left(), 0);
  if (stop_peer)
    kill(peer, SIGCONT);
  assert_int_equal(wait_exit(peer), 0); /* the bridge closed: the peer ends */
}

static void second_signal_abandons_any_phase(void **state)
{
  char *const peer_no_exec[] = {COW_GCS_PEER_PATH, "--port-dir",     dir,
                                "--never-answer",  "ExecuteProcess", NULL};
  char *const peer[] = {COW_GCS_PEER_PATH, "--port-dir", dir, NULL};
  char *const peer_no_delete[] = {COW_GCS_PEER_PATH, "--port-dir",           dir,
                                  "--never-answer",  "DeleteContainerState", NULL};
  /* Before the create completed: ExecuteProcess is never answered. */
  abandon_case(ARGV(LCOW, "--port-dir", dir, "--log-level", "debug", "--", "true"), peer_no_exec,
               "-> ExecuteProcess", 0, "the command is still starting",
               "starting and running the command");
  /* While streaming, the guest frozen (SIGSTOP): the forwarded signal is never answered. */
  abandon_case(ARGV(LCOW, "--port-dir", dir, "--log-level", "debug", "--container", "c7",
                    "--bundle", bundle, "--", "sh", "-c", "exec sleep 30"),
               peer, "<- Response(ExecuteProcess)", 1, "-> SignalProcess",
               "starting and running the command");
  /* While tearing down: the last step, deleting the container's state, is never answered. */
  abandon_case(ARGV(LCOW, "--port-dir", dir, "--log-level", "debug", "--container", "c8",
                    "--bundle", bundle, "--", "true"),
               peer_no_delete, "-> DeleteContainerState", 0, "still cleaning up",
               "deleting the state of container c8");
}

/* --rpc-timeout: a request the guest never answers fails the command after that long
 * (the bridge is given up as dead), instead of the library's five minutes. */
static void rpc_timeout_option(void **state)
{
  struct result r;
  pid_t peer = spawn_fds(
      ARGV(COW_GCS_PEER_PATH, "--port-dir", dir, "--never-answer", "ExecuteProcess"), -1, -1, -1);
  run(&r, NULL, ARGV(LCOW, "--port-dir", dir, "--rpc-timeout", "1", "--", "true"));
  assert_int_equal(r.code, 125);
  assert_non_null(strstr(r.err, "no answer to ExecuteProcess (id 1) within 1000 ms"));
  assert_int_equal(wait_exit(peer), 0);
  assert_int_equal(sockets_left(), 0);
  run(&r, NULL, ARGV(LCOW, "--port-dir", dir, "--rpc-timeout=0", "--", "true"));
  assert_int_equal(r.code, 2);
  assert_non_null(strstr(r.err, "bad --rpc-timeout '0'"));
}

/* A clean-up step that cannot be sent because the bridge died is said, with the bridge's
 * cause, never skipped in silence (issue 10 #5). The peer drops the bridge after its sixth
 * frame (the container's exit has been seen by then, before the layers are removed):
 * removing the layers and deleting the state are reported as skipped, left in the guest,
 * and the command's own exit code stays. */
static void skipped_cleanup_is_reported(void **state)
{
  struct result r;
  pid_t peer =
      spawn_fds(ARGV(COW_GCS_PEER_PATH, "--port-dir", dir, "--drop-after", "6"), -1, -1, -1);
  run(&r, NULL,
      ARGV(LCOW, "--port-dir", dir, "--container", "c9", "--bundle", bundle, "--layer",
           "/run/layers/p0", "--", "true"));
  if (r.code != 0)
    fail_msg("exit %d, stderr: %s", r.code, escaped(r.err));
  /* The cause is the bridge's (a clean close or a reset, as the kernel tells it). */
  const char *want[] = {"lcow-exec: removing the layers of container c9 skipped, left in the "
                        "guest: ",
                        "lcow-exec: deleting the state of container c9 skipped, left in the "
                        "guest: ",
                        NULL};
  for (int k = 0; want[k] != NULL; k++) {
    const char *line = strstr(r.err, want[k]);
    const char *end = line ? strchr(line, '\n') : NULL;
    const char *code = line ? strstr(line, "bridge") : NULL;
    if (line == NULL || end == NULL || code == NULL || code > end ||
        strstr(line, "(EBRIDGE_CLOSED") > end || strstr(line, "(EBRIDGE_CLOSED") == NULL)
      fail_msg("no '%s' with the bridge's cause in: %s", want[k], escaped(r.err));
  }
  assert_int_equal(wait_exit(peer), 0);
  assert_int_equal(sockets_left(), 0);
}

/* Text that is not UTF-8 cannot go to the guest as it is (JSON): it is refused, naming
 * the argument, before anything listens (exit 2), never dropped or altered on the way
 * (issue 10: `sh -c ... sh $'\\xff' second` ran with $1=second, -w ran in the agent's own
 * directory, -e vanished). UTF-8 beyond ASCII arrives intact. */
static void text_that_is_not_utf8_is_refused(void **state)
{
  struct result r;
  run(&r, NULL, ARGV(LCOW, "--port-dir", dir, "--", "sh", "-c", "echo $1", "sh", "\xff", "second"));
  assert_int_equal(r.code, 2);
  assert_string_equal(r.err, "lcow-exec: argument 4 of the command is not valid UTF-8: '\\xff'\n"
                             "(the service takes text in UTF-8 only; nothing was run)\n");
  assert_string_equal(r.out, "");
  run(&r, NULL, ARGV(LCOW, "--port-dir", dir, "-w", "/tmp/\xff", "--", "pwd"));
  assert_int_equal(r.code, 2);
  assert_non_null(strstr(r.err, "the working directory (-w) is not valid UTF-8: '/tmp/\\xff'"));
  run(&r, NULL, ARGV(LCOW, "--port-dir", dir, "-e", "X=\xff", "--", "env"));
  assert_int_equal(r.code, 2);
  assert_non_null(strstr(r.err, "the environment variable X is not valid UTF-8: 'X=\\xff'"));
  run(&r, NULL,
      ARGV(LCOW, "--port-dir", dir, "--container", "c\xed\xa0\x80", "--bundle", bundle, "--",
           "true")); /* a UTF-16 surrogate, which jansson refuses too */
  assert_int_equal(r.code, 2);
  assert_non_null(strstr(r.err, "the value of --container is not valid UTF-8"));
  assert_int_equal(sockets_left(), 0);
  /* UTF-8 arrives as it was given, in a utility VM process and in a container. */
  run_with_peer(&r, NULL,
                ARGV(LCOW, "--port-dir", dir, "-e", "Y=\xc3\xa9t\xc3\xa9", "--", "sh", "-c",
                     "printf '%s|%s|' \"$1\" \"$Y\"", "sh", "\xe2\x82\xac \xf0\x9f\x90\x84"));
  assert_int_equal(r.code, 0);
  assert_string_equal(r.out, "\xe2\x82\xac \xf0\x9f\x90\x84|\xc3\xa9t\xc3\xa9|");
  run_with_peer(&r, NULL,
                ARGV(LCOW, "--port-dir", dir, "--container", "c9", "--bundle", bundle, "-e",
                     "Y=\xc3\xa9", "--", "sh", "-c", "printf '%s|%s|' \"$1\" \"$Y\"", "sh",
                     "\xc3\xbc"));
  assert_int_equal(r.code, 0);
  assert_string_equal(r.out, "\xc3\xbc|\xc3\xa9|");
}

/* -t in a container: the console follows our terminal's size. */
static void container_tty_resize(void **state)
{
  int m;
  char buf[8192];
  size_t len = 0;
  struct winsize ws = {33, 101, 0, 0};
  pid_t lx = forkpty(&m, NULL, NULL, &ws);
  assert_true(lx >= 0);
  if (lx == 0) {
    execv(LCOW,
          ARGV(LCOW, "--port-dir", dir, "--container", "c5", "--bundle", bundle, "-t", "--", "sh",
               "-c", "trap 'stty size' WINCH; echo ready; while :; do sleep 0.05; done"));
    _exit(99);
  }
  pid_t peer = start_peer();
  EXPECT_OUTPUT(m, buf, len, "ready");
  ws = (struct winsize){40, 120, 0, 0};
  assert_int_equal(ioctl(m, TIOCSWINSZ, &ws), 0); /* SIGWINCH to lcow-exec, from the kernel */
  EXPECT_OUTPUT(m, buf, len, "40 120");
  kill(lx, SIGTERM);
  assert_int_equal(wait_exit(lx), 143);
  assert_int_equal(wait_exit(peer), 0);
  close(m);
}

int main(void)
{
  signal(SIGPIPE, SIG_IGN);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_teardown(unreachable_guest, kill_leftovers),
      cmocka_unit_test_teardown(usage_errors_and_help, kill_leftovers),
      cmocka_unit_test_teardown(uvm_process, kill_leftovers),
      cmocka_unit_test_teardown(container_from_bundle, kill_leftovers),
      cmocka_unit_test_teardown(container_sigterm, kill_leftovers),
      cmocka_unit_test_teardown(uvm_signal_abandons, kill_leftovers),
      cmocka_unit_test_teardown(container_tty_resize, kill_leftovers),
      cmocka_unit_test_teardown(closed_reader_ends_the_command, kill_leftovers),
      cmocka_unit_test_teardown(waiting_and_named_failures, kill_leftovers),
      cmocka_unit_test_teardown(long_options_version_and_log, kill_leftovers),
      cmocka_unit_test_teardown(second_signal_abandons_any_phase, kill_leftovers),
      cmocka_unit_test_teardown(rpc_timeout_option, kill_leftovers),
      cmocka_unit_test_teardown(skipped_cleanup_is_reported, kill_leftovers),
      cmocka_unit_test_teardown(cannot_start_is_127_or_126, kill_leftovers),
      cmocka_unit_test_teardown(text_that_is_not_utf8_is_refused, kill_leftovers),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}

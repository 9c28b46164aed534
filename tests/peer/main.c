/* cow-gcs-peer: entry point. Dials DIR/1073741824 (the bridge port), serves it until the
 * host closes it, then kills every child and exits.
 *
 * Exit status: 0 after the host closed the bridge, a null-id Shutdown, a --drop-after or
 * --truncate-after fault, or SIGTERM/SIGINT; 1 when the bridge could not be reached or
 * broke; 2 for a usage error. With --background the command itself exits 0 as soon as the
 * peer runs in the background (1 when DIR cannot hold its log), so that a shell line
 * `cow-gcs-peer --port-dir DIR --background && lcow-exec --port-dir DIR ...` runs in order
 * and stops at once when the peer cannot even start. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "peer.h"

static int dial_bridge(const char *dir)
{
  struct sockaddr_un sa;
  int attempt;
  memset(&sa, 0, sizeof sa);
  sa.sun_family = AF_UNIX;
  if ((size_t)snprintf(sa.sun_path, sizeof sa.sun_path, "%s/%u", dir, PEER_BRIDGE_PORT) >=
      sizeof sa.sun_path) {
    peer_log("bridge socket path too long");
    return -1;
  }
  /* The host may still be setting up its listener: retry ENOENT/ECONNREFUSED for 5 s. */
  for (attempt = 0; attempt < 50; attempt++) {
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct timespec ts = {0, 100 * 1000 * 1000};
    if (fd < 0) {
      peer_log("socket: %s", strerror(errno));
      return -1;
    }
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0)
      return fd;
    close(fd);
    if (errno != ENOENT && errno != ECONNREFUSED) {
      peer_log("connect %s: %s", sa.sun_path, strerror(errno));
      return -1;
    }
    nanosleep(&ts, NULL);
  }
  peer_log("could not reach %s", sa.sun_path);
  return -1;
}

/* --background: the log goes to DIR/cow-gcs-peer.log (opened before the fork, so a missing
 * DIR fails the command), stdin/stdout to /dev/null, so that the shell's pipes are not held
 * open by the peer; the parent exits 0 once the child exists. */
static int go_background(const char *dir)
{
  char path[4096];
  snprintf(path, sizeof path, "%s/cow-gcs-peer.log", dir);
  int log = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log < 0) {
    fprintf(stderr, "cow-gcs-peer: %s: %s\n", path, strerror(errno));
    return -1;
  }
  pid_t pid = fork();
  if (pid < 0) {
    fprintf(stderr, "cow-gcs-peer: fork: %s\n", strerror(errno));
    return -1;
  }
  if (pid > 0)
    exit(0);
  int null = open("/dev/null", O_RDWR);
  if (null < 0 || dup2(null, 0) < 0 || dup2(null, 1) < 0 || dup2(log, 2) < 0)
    _exit(1);
  close(null);
  close(log);
  setsid(); /* not in the shell's job or session: its hang-up does not reach the peer */
  return 0;
}

static void on_term(uv_signal_t *h, int signum)
{
  peer_t *peer = h->data;
  peer_log("signal %d: stopping", signum);
  peer_stop(peer, 0);
}

/* After the loop: collect the children killed by peer_stop (bounded, they got SIGKILL). */
static void reap_remaining(peer_t *peer)
{
  int i;
  for (i = 0; i < 200; i++) {
    int status;
    pid_t pid = waitpid(-1, &status, WNOHANG);
    struct timespec ts = {0, 10 * 1000 * 1000};
    if (pid < 0 && errno == ECHILD)
      return;
    if (pid > 0)
      continue;
    peer_kill_all_children(peer);
    nanosleep(&ts, NULL);
  }
  peer_log("some children did not exit");
}

int main(int argc, char **argv)
{
  static peer_t peer;
  int fd, rc, i;
  memset(&peer, 0, sizeof peer);
  if (peer_faults_parse(&peer.faults, argc, argv, &peer.port_dir) < 0)
    return 2;
  /* Keep 0-2 occupied so no socket or pipe lands there (spawn relies on it). */
  for (i = 0; i < 3; i++)
    if (fcntl(i, F_GETFD) < 0 && open("/dev/null", O_RDWR) < 0)
      return 1;
  if (peer.faults.background && go_background(peer.port_dir) < 0)
    return 1;
  if (peer.faults.mount_layers && peer_rootfs_init() < 0)
    return 1;
  /* A host that closes a stdio socket early must not kill the peer. */
  signal(SIGPIPE, SIG_IGN);
  /* Orphaned grandchildren (a container's processes after its init died) come back to us to
   * be reaped, instead of going to the system init. */
  prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);

  if (uv_loop_init(&peer.loop) < 0)
    return 1;
  uv_signal_init(&peer.loop, &peer.sigchld);
  peer.sigchld.data = &peer;
  uv_signal_start(&peer.sigchld, peer_on_sigchld, SIGCHLD);
  uv_signal_init(&peer.loop, &peer.sigterm);
  peer.sigterm.data = &peer;
  uv_signal_start(&peer.sigterm, on_term, SIGTERM);
  uv_signal_init(&peer.loop, &peer.sigint);
  peer.sigint.data = &peer;
  uv_signal_start(&peer.sigint, on_term, SIGINT);
  uv_timer_init(&peer.loop, &peer.reorder_timer);
  peer.reorder_timer.data = &peer;

  fd = dial_bridge(peer.port_dir);
  if (fd < 0) {
    peer_stop(&peer, 1);
  } else {
    rc = peer_bridge_start(&peer, fd);
    if (rc < 0) {
      peer_log("bridge: %s", uv_strerror(rc));
      peer_stop(&peer, 1);
    }
  }
  uv_run(&peer.loop, UV_RUN_DEFAULT);
  reap_remaining(&peer);
  uv_run(&peer.loop, UV_RUN_DEFAULT); /* close callbacks of anything stopped late */
  cow__frame_decoder_reset(&peer.dec);
  peer_proc_free_all(&peer);
  peer_container_free_all(&peer);
  rc = uv_loop_close(&peer.loop);
  if (rc < 0)
    peer_log("uv_loop_close: %s", uv_strerror(rc));
  return peer.exit_code;
}

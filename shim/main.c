/* containerd-shim-cow-v1: containerd's runtime v2 shim for io.containerd.cow.v1.
 *
 *   BIN -namespace NS -address ADDR -publish-binary BIN -id ID [-debug] start
 *     Create the shim's socket, fork the long-lived shim onto it, print its address.
 *   BIN -namespace NS -address ADDR -publish-binary BIN -id ID -bundle DIR [-debug] delete
 *     Clean up after a shim that is gone; print a DeleteResponse.
 * containerd runs both with the bundle as working directory. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"
#include "sha256.h"
#include "shim.h"

#define SOCKET_DIR      "/run/containerd/s"
#define EVENTS_FLUSH_MS 5000

static const char usage[] =
    "Usage: containerd-shim-cow-v1 -namespace NS -address ADDR -id ID [-publish-binary BIN]\n"
    "                              [-bundle DIR] [-debug] start|delete\n"
    "       containerd-shim-cow-v1 -v\n"
    "\n"
    "The containerd runtime v2 shim of runtime " SHIM_RUNTIME ", built on libcow: containerd\n"
    "runs it, not you. `start` launches the shim that serves one container and prints its\n"
    "ttrpc address; `delete` cleans up after a shim that died and prints a DeleteResponse.\n"
    "See docs/shim.md.\n";

struct flags {
  const char *ns, *address, *id, *publish_binary, *bundle, *action;
  int debug, version;
};

static int parse_flags(struct flags *f, int argc, char **argv)
{
  f->publish_binary = "containerd";
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (a[0] != '-' || a[1] == '\0') { /* the action; Go's flag package stops here too */
      f->action = a;
      return i + 1 == argc ? 0 : -1;
    }
    a += a[1] == '-' ? 2 : 1;
    const char *eq = strchr(a, '=');
    size_t n = eq != NULL ? (size_t)(eq - a) : strlen(a);
    if ((n == 5 && strncmp(a, "debug", 5) == 0) || (n == 1 && a[0] == 'v')) {
      int *b = a[0] == 'v' ? &f->version : &f->debug;
      *b = eq == NULL || strcmp(eq + 1, "true") == 0 || strcmp(eq + 1, "1") == 0;
      continue;
    }
    static const char *const names[] = {"namespace",      "address", "id",
                                        "publish-binary", "bundle",  "socket"};
    const char **slots[] = {&f->ns, &f->address, &f->id, &f->publish_binary, &f->bundle, NULL};
    size_t k = 0;
    while (k < sizeof names / sizeof *names && (strlen(names[k]) != n || strncmp(a, names[k], n)))
      k++;
    if (k == sizeof names / sizeof *names) {
      fprintf(stderr, "containerd-shim-cow-v1: unknown flag %s\n%s", argv[i], usage);
      return -1;
    }
    const char *v = eq != NULL ? eq + 1 : i + 1 < argc ? argv[++i] : NULL;
    if (v == NULL) {
      fprintf(stderr, "containerd-shim-cow-v1: flag %s needs a value\n", argv[i]);
      return -1;
    }
    if (slots[k] != NULL)
      *slots[k] = v;
  }
  return f->version ? 0 : -1;
}

/* /run/containerd/s/<sha256 of "ADDRESS/NS/ID">, as containerd's shims name it. */
static void socket_path(const struct flags *f, char *out, size_t len)
{
  char key[8192], hex[65];
  snprintf(key, sizeof key, "%s/%s/%s", f->address, f->ns, f->id);
  sha256_hex(key, strlen(key), hex);
  snprintf(out, len, "%s/%s", SOCKET_DIR, hex);
}

/* ---- the long-lived shim ---- */

struct daemon {
  uv_loop_t loop;
  shim_t shim;
  ttrpc_service_t service;
  uv_signal_t sigterm, sigint;
  char socket[108];
};

static void signal_closed(uv_handle_t *h)
{
}

static void events_flushed(void *data)
{
  struct daemon *d = data;
  uv_close((uv_handle_t *)&d->sigterm, signal_closed);
  uv_close((uv_handle_t *)&d->sigint, signal_closed);
}

static void server_closed(void *data)
{
  struct daemon *d = data;
  shim_events_close(d->shim.events, EVENTS_FLUSH_MS, events_flushed, d);
}

/* Shutdown with nothing left to serve: stop listening, remove the socket, deliver the
 * events still queued, and let the loop end. */
static void shutdown_shim(shim_t *shim)
{
  struct daemon *d = (struct daemon *)((char *)shim - offsetof(struct daemon, shim));
  if (shim->shutting_down)
    return;
  shim->shutting_down = 1;
  shim_log(SHIM_LOG_INFO, "shutting down");
  unlink(d->socket);
  ttrpc_server_close(shim->server, server_closed, d);
}

static void on_signal(uv_signal_t *h, int signo)
{
  struct daemon *d = h->data;
  shim_log(SHIM_LOG_INFO, "signal %d", signo);
  if (d->shim.tasks == NULL)
    shutdown_shim(&d->shim);
  else
    shim_log(SHIM_LOG_WARN, "signal %d ignored: task %s is still there (containerd deletes it)",
             signo, d->shim.tasks->id);
}

static int serve(const struct flags *f, int listen_fd, shim_options_t *opts, const char *sock)
{
  static struct daemon d; /* callbacks refer to it until the loop ends */
  shim_log_init(f->debug);
  signal(SIGPIPE, SIG_IGN);
  if (uv_loop_init(&d.loop) != 0)
    return 1;
  snprintf(d.socket, sizeof d.socket, "%s", sock);
  shim_t *s = &d.shim;
  s->loop = &d.loop;
  s->ns = f->ns;
  s->id = f->id;
  s->address = f->address;
  s->publish_binary = f->publish_binary;
  s->ttrpc_address = getenv("TTRPC_ADDRESS");
  s->socket_path = d.socket;
  s->options = *opts;
  s->on_shutdown = shutdown_shim;
  shim_events_config_t ec = {s->ttrpc_address, s->publish_binary, s->address, s->ns};
  int rc = shim_events_new(&s->events, &d.loop, &ec);
  if (rc == 0 && shim_task_service(s, &d.service) != 0)
    rc = UV_EINVAL;
  if (rc == 0)
    rc = ttrpc_server_start(&s->server, &d.loop, &d.service, 1, listen_fd);
  if (rc != 0) {
    shim_log(SHIM_LOG_ERROR, "cannot serve: %s", uv_strerror(rc));
    unlink(d.socket);
    return 1;
  }
  uv_signal_init(&d.loop, &d.sigterm);
  uv_signal_init(&d.loop, &d.sigint);
  d.sigterm.data = d.sigint.data = &d;
  uv_signal_start(&d.sigterm, on_signal, SIGTERM);
  uv_signal_start(&d.sigint, on_signal, SIGINT);
  shim_log(SHIM_LOG_INFO, "serving task %s on %s", f->id, d.socket);
  uv_run(&d.loop, UV_RUN_DEFAULT);
  rc = uv_loop_close(&d.loop);
  if (rc != 0)
    shim_log(SHIM_LOG_ERROR, "handles left open at exit: %s", uv_strerror(rc));
  shim_options_free(&s->options);
  return rc != 0;
}

/* ---- start ---- */

static int read_all(int fd, uint8_t **out, size_t *len)
{
  size_t cap = 4096, n = 0;
  uint8_t *buf = malloc(cap);
  for (;;) {
    if (buf == NULL)
      return -1;
    ssize_t r = read(fd, buf + n, cap - n);
    if (r < 0 && errno == EINTR)
      continue;
    if (r <= 0) {
      *out = buf;
      *len = n;
      return r < 0 ? -1 : 0;
    }
    n += (size_t)r;
    if (n == cap) {
      uint8_t *nb = cap < (1u << 20) ? realloc(buf, cap *= 2) : NULL;
      if (nb == NULL)
        free(buf);
      buf = nb;
    }
  }
}

/* A listening socket at `path`; a stale file from a dead shim is replaced, a live one is
 * an error (another shim serves this task). */
static int listen_at(const char *path)
{
  struct sockaddr_un sa;
  memset(&sa, 0, sizeof sa);
  sa.sun_family = AF_UNIX;
  snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return -1;
  if (bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
    int probe = errno == EADDRINUSE ? socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0) : -1;
    int live = probe >= 0 && connect(probe, (struct sockaddr *)&sa, sizeof sa) == 0;
    if (probe >= 0)
      close(probe);
    if (probe < 0 || live || unlink(path) != 0 ||
        bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
      int e = live ? EADDRINUSE : errno;
      close(fd);
      errno = e;
      return -1;
    }
  }
  if (chmod(path, 0600) != 0 || listen(fd, 128) != 0) {
    int e = errno;
    close(fd);
    unlink(path);
    errno = e;
    return -1;
  }
  return fd;
}

static int write_file(const char *name, const char *text)
{
  char tmp[256];
  snprintf(tmp, sizeof tmp, "%s.tmp", name);
  FILE *fp = fopen(tmp, "w");
  if (fp == NULL)
    return -1;
  int ok = fputs(text, fp) >= 0;
  ok = fclose(fp) == 0 && ok;
  if (!ok || rename(tmp, name) != 0) {
    unlink(tmp);
    return -1;
  }
  return 0;
}

static int cmd_start(const struct flags *f)
{
  char err[1024] = "", path[108], address[128];
  shim_options_t opts;
  memset(&opts, 0, sizeof opts);
  uint8_t *in = NULL;
  size_t inlen = 0;
  if (read_all(STDIN_FILENO, &in, &inlen) != 0 ||
      shim_options_from_any(&opts, in, inlen, err, sizeof err) != 0) {
    fprintf(stderr, "containerd-shim-cow-v1: %s\n", err[0] ? err : "cannot read stdin");
    free(in);
    shim_options_free(&opts);
    return 1;
  }
  free(in);
  socket_path(f, path, sizeof path);
  snprintf(address, sizeof address, "unix://%s", path);
  if (mkdir(SOCKET_DIR, 0711) != 0 && errno != EEXIST) {
    fprintf(stderr, "containerd-shim-cow-v1: mkdir %s: %s\n", SOCKET_DIR, strerror(errno));
    shim_options_free(&opts);
    return 1;
  }
  int lfd = listen_at(path);
  if (lfd < 0) {
    fprintf(stderr, "containerd-shim-cow-v1: listening on %s: %s\n", path,
            errno == EADDRINUSE ? "a shim already serves this task" : strerror(errno));
    shim_options_free(&opts);
    return 1;
  }
  if (write_file("address", address) != 0) {
    fprintf(stderr, "containerd-shim-cow-v1: writing the bundle's address file: %s\n",
            strerror(errno));
    close(lfd);
    unlink(path);
    shim_options_free(&opts);
    return 1;
  }
  /* The long-lived shim's stderr is the bundle's log fifo, which containerd reads; writes
   * to it never block (log.c). Without a reader it logs nowhere. */
  int logfd = open("log", O_WRONLY | O_NONBLOCK | O_CLOEXEC);
  int nullfd = open("/dev/null", O_RDWR | O_CLOEXEC);
  pid_t pid = nullfd >= 0 ? fork() : -1;
  if (pid < 0) {
    fprintf(stderr, "containerd-shim-cow-v1: fork: %s\n", strerror(errno));
    close(lfd);
    unlink(path);
    unlink("address");
    shim_options_free(&opts);
    return 1;
  }
  if (pid == 0) {
    setsid(); /* its own session: containerd's signals and terminal are not the shim's */
    dup2(nullfd, STDIN_FILENO);
    dup2(nullfd, STDOUT_FILENO);
    dup2(logfd >= 0 ? logfd : nullfd, STDERR_FILENO);
    close(nullfd);
    if (logfd >= 0)
      close(logfd);
    /* Descriptors containerd left open without close-on-exec (a shim outlives it) are not
     * the shim's: only the listening socket stays. */
    if (lfd > 3)
      close_range(3, (unsigned)lfd - 1, 0);
    close_range((unsigned)lfd + 1, ~0u, 0);
    exit(serve(f, lfd, &opts, path)); /* exit(): a sanitizer build checks for leaks there */
  }
  printf("%s", address);
  fflush(stdout);
  shim_options_free(&opts);
  return 0;
}

/* ---- delete ---- */

static int cmd_delete(const struct flags *f)
{
  char path[108], address[256] = "";
  if (f->bundle != NULL && chdir(f->bundle) != 0)
    fprintf(stderr, "containerd-shim-cow-v1: bundle %s: %s\n", f->bundle, strerror(errno));
  /* The shim is gone: its socket may still be there if it was killed, and what it ran. */
  FILE *fp = fopen("address", "r");
  address[0] = '\0';
  if (fp != NULL && fgets(address, sizeof address, fp) != NULL)
    address[strcspn(address, "\n")] = '\0';
  size_t len = strlen(address);
  if (strncmp(address, "unix:///", 8) == 0 && len - 7 < sizeof path) {
    memcpy(path, address + 7, len - 7 + 1);
  } else {
    socket_path(f, path, sizeof path);
  }
  if (fp != NULL)
    fclose(fp);
  unlink(path);
  shim_lcow_cleanup(path);
  Containerd__Task__V2__DeleteResponse r = CONTAINERD__TASK__V2__DELETE_RESPONSE__INIT;
  Google__Protobuf__Timestamp ts;
  struct timespec now;
  clock_gettime(CLOCK_REALTIME, &now);
  pb_timestamp(&ts, &now);
  r.exit_status = 128 + SIGKILL; /* what the stock shim reports for a task it lost */
  r.exited_at = &ts;
  uint8_t buf[64];
  size_t n = containerd__task__v2__delete_response__pack(&r, buf);
  return fwrite(buf, 1, n, stdout) == n ? 0 : 1;
}

int main(int argc, char **argv)
{
  struct flags f;
  memset(&f, 0, sizeof f);
  if (parse_flags(&f, argc, argv) != 0) {
    fputs(usage, stderr);
    return 1;
  }
  if (f.version) {
    printf("containerd-shim-cow-v1:\n  Runtime: %s\n  libcow:  %s\n", SHIM_RUNTIME,
           cow_version_string());
    return 0;
  }
  if (f.ns == NULL || f.ns[0] == '\0') {
    fprintf(stderr, "containerd-shim-cow-v1: shim namespace cannot be empty\n");
    return 1;
  }
  if (f.id == NULL || f.address == NULL) {
    fprintf(stderr, "containerd-shim-cow-v1: -id and -address are required\n");
    return 1;
  }
  if (strcmp(f.action, "start") == 0)
    return cmd_start(&f);
  if (strcmp(f.action, "delete") == 0)
    return cmd_delete(&f);
  fprintf(stderr, "containerd-shim-cow-v1: unknown action %s\n%s", f.action, usage);
  return 1;
}

/* local-backend: a complete, minimal libcow backend in one file, and a program that uses it.
 *
 * It runs processes on this machine with uv_spawn(), behind the same cow_host_t /
 * cow_process_t interfaces as the HCS and guest backends, so it shows both sides of the
 * library: how a backend fills the ops tables (include/cow/sys/), and how a consumer runs
 * a command, reads its output and waits for its exit code (include/cow.h).
 *
 *   local-backend CMD [ARGS...]      e.g.  local-backend sh -c 'echo hello; exit 3'
 *
 * Exits with the command's exit code. The process config is the command itself, as a JSON
 * array of strings (the consumer builds it from argv). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "cow.h"
#include "cow/stdio.h"
#include "cow/sys/host.h"
#include "cow/sys/process.h"

/* ---------------------------------------------------------------- the backend ---- */

struct local_process {
  uv_process_t child;
  int spawned;
};

static void child_exited(uv_process_t *child, int64_t status, int term_signal)
{
  cow_process_t *p = child->data;
  /* Report the exit; the core holds it back until stdout/stderr reached end of file. */
  cow_process_report_exit(p, term_signal ? 128 + term_signal : status, NULL);
  uv_close((uv_handle_t *)child, NULL);
  cow_process_unref(p); /* the reference taken while the child handle was open */
}

/* Parse the JSON array of strings the consumer sent. Tiny on purpose: no escapes. */
static int parse_argv(const char *json, char ***out)
{
  size_t cap = 8, n = 0;
  char **argv = calloc(cap, sizeof *argv);
  const char *s = strchr(json, '[');
  if (argv == NULL || s == NULL)
    goto bad;
  for (s++;;) {
    while (*s == ' ' || *s == ',')
      s++;
    if (*s == ']')
      break;
    if (*s != '"')
      goto bad;
    const char *end = strchr(++s, '"');
    if (end == NULL)
      goto bad;
    if (n + 2 > cap && (argv = realloc(argv, (cap *= 2) * sizeof *argv)) == NULL)
      return COW_ENOMEM;
    size_t len = (size_t)(end - s);
    char *arg = malloc(len + 1); /* not strndup(): POSIX only, Windows' C runtime lacks it */
    if (arg != NULL) {
      memcpy(arg, s, len);
      arg[len] = '\0';
    }
    argv[n++] = arg;
    argv[n] = NULL;
    s = end + 1;
  }
  if (n == 0)
    goto bad;
  *out = argv;
  return 0;
bad:
  free(argv);
  return COW_EINVAL;
}

static int local_create(cow_host_t *h, cow_process_t *p, const char *config, cow_op_t *op)
{
  struct local_process *lp = cow_process_priv(p);
  /* The core owns the pipes; their storage is allocated on first use (NULL without memory). */
  uv_pipe_t *pipes[3] = {NULL, cow_process_stdio_pipe(p, COW_STDOUT),
                         cow_process_stdio_pipe(p, COW_STDERR)};
  if (pipes[1] == NULL || pipes[2] == NULL)
    return COW_ENOMEM;
  char **argv;
  int rc = parse_argv(config, &argv);
  if (rc != 0)
    return rc; /* refused synchronously: the consumer's callback never runs */
  uv_loop_t *loop = cow_process_loop(p);
  uv_stdio_container_t stdio[3];
  stdio[0].flags = UV_IGNORE;
  for (int i = 1; i <= 2; i++) {
    /* Initialised on the loop; libuv's spawn creates them. */
    uv_pipe_init(loop, pipes[i], 0);
    stdio[i].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
    stdio[i].data.stream = (uv_stream_t *)pipes[i];
  }
  uv_process_options_t opts = {0};
  opts.file = argv[0];
  opts.args = argv;
  opts.exit_cb = child_exited;
  opts.stdio = stdio;
  opts.stdio_count = 3;
  lp->child.data = p;
  rc = uv_spawn(loop, &lp->child, &opts);
  for (char **a = argv; *a; a++)
    free(*a);
  free(argv);
  if (rc != 0) {
    uv_close((uv_handle_t *)&lp->child, NULL); /* uv_spawn failures still need a close */
    cow_error_t err = COW_ERROR_INIT;
    err.code = rc;
    err.domain = COW_DOMAIN_OS;
    err.message = (char *)uv_strerror(rc);
    cow_op_complete(op, rc, &err); /* asynchronous failure: the callback reports it */
    return 0;
  }
  lp->spawned = 1;
  cow_process_ref(p);
  cow_process_set_pid(p, lp->child.pid);
  cow_process_stdio_ready(p, COW_STDOUT);
  cow_process_stdio_ready(p, COW_STDERR);
  cow_op_complete(op, 0, NULL);
  return 0;
}

static int local_kill(cow_process_t *p, cow_op_t *op)
{
  struct local_process *lp = cow_process_priv(p);
  int rc = uv_process_kill(&lp->child, SIGKILL);
  cow_op_complete(op, rc == UV_ESRCH ? COW_ESRCH : rc, NULL);
  return 0;
}

static const char *local_os(const cow_host_t *h)
{
  return "linux";
}

static const struct cow_process_ops local_process_ops = {
    .version = COW_PROCESS_OPS_VERSION,
    .name = "local",
    .priv_size = sizeof(struct local_process),
    .kill = local_kill, /* no signal/resize/close_stdin: the core answers COW_ENOTSUP */
};

static const struct cow_host_ops local_host_ops = {
    .version = COW_HOST_OPS_VERSION,
    .name = "local",
    .process_ops = &local_process_ops,
    .create_process = local_create,
    .os = local_os,
};

/* ---------------------------------------------------------------- the consumer ---- */

static int exit_code = 1;

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
  static char chunk[65536];
  *buf = uv_buf_init(chunk, sizeof chunk);
}

static void on_stdout(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
  if (n > 0)
    fwrite(buf->base, 1, (size_t)n, s->data ? stderr : stdout);
}

static void on_exit_waited(cow_process_t *p, int status, int64_t code, const cow_error_t *err,
                           void *data)
{
  if (status < 0 && status != COW_EIO_TIMEOUT)
    fprintf(stderr, "local-backend: wait failed: %s\n", err->message);
  else
    exit_code = (int)code;
  cow_process_close(p, NULL, NULL);
  cow_host_close(data, NULL, NULL);
}

static void on_created(cow_process_t *p, int status, const cow_error_t *err, void *data)
{
  if (status < 0) {
    fprintf(stderr, "local-backend: %s: %s\n", cow_err_name(status), err->message);
    exit_code = 127;
    return; /* the wait reports the same failure and closes everything */
  }
  uv_stream_t *out, *errs;
  cow_process_stdio(NULL, &out, &errs, p);
  errs->data = errs; /* route stderr to stderr */
  cow_process_read_start(p, COW_STDOUT, on_alloc, on_stdout);
  cow_process_read_start(p, COW_STDERR, on_alloc, on_stdout);
}

int main(int argc, char **argv)
{
  if (argc < 2) {
    fprintf(stderr, "usage: local-backend CMD [ARGS...]\n");
    return 2;
  }
  /* The consumer's document: argv as a JSON array (no escaping needed for the demo). */
  size_t len = 3;
  for (int i = 1; i < argc; i++)
    len += strlen(argv[i]) + 3;
  char *config = malloc(len);
  strcpy(config, "[");
  for (int i = 1; i < argc; i++) {
    if (strchr(argv[i], '"') || strchr(argv[i], '\\')) {
      fprintf(stderr, "local-backend: quotes and backslashes are not supported\n");
      return 2;
    }
    strcat(config, i > 1 ? ",\"" : "\"");
    strcat(config, argv[i]);
    strcat(config, "\"");
  }
  strcat(config, "]");

  uv_loop_t loop;
  uv_loop_init(&loop);
  cow_host_t *host;
  int rc = cow_host_new(&host, &loop, &local_host_ops);
  cow_process_t *p;
  if (rc == 0)
    rc = cow_host_create_process(&p, host, config, on_created, NULL);
  if (rc == 0)
    rc = cow_process_wait(p, on_exit_waited, host);
  free(config);
  if (rc != 0) {
    fprintf(stderr, "local-backend: %s\n", cow_strerror(rc));
    return 1;
  }
  uv_run(&loop, UV_RUN_DEFAULT);
  if (uv_loop_close(&loop) != 0)
    fprintf(stderr, "local-backend: handles left open\n");
  printf("[local-backend] %s exited with %d\n", argv[1], exit_code);
  return exit_code;
}

/* The command-line flags and messages shared by cow-run and lcow-exec. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "session.h"

const char session_common_help[] =
    "  -t, --tty             give the command a console (a pseudo-terminal); its stderr is\n"
    "                        merged into stdout; window-size changes are forwarded\n"
    "  -i, --interactive     keep stdin open and forward it (end of file closes the command's\n"
    "                        stdin); with -t and a terminal on stdin, the local terminal is put\n"
    "                        in raw mode, so keys such as Ctrl-C go to the command\n"
    "  -e, --env NAME=VALUE  set an environment variable (repeatable); -e NAME takes the\n"
    "                        value from this environment\n"
    "  -w, --workdir DIR     working directory of the command\n"
    "  -h, --help            print this help and exit\n";

int session_usage_error(const char *prog, const char *fmt, ...)
{
  va_list ap;
  fprintf(stderr, "%s: ", prog);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fprintf(stderr, "\nTry '%s --help' for more information.\n", prog);
  return SESSION_EXIT_USAGE;
}

static int add_env(session_opts_t *o, const char *prog, const char *kv)
{
  char *entry;
  if (kv[0] == '=' || kv[0] == '\0')
    return session_usage_error(prog, "bad environment variable '%s'", kv), -1;
  if (strchr(kv, '=') != NULL) {
    entry = strdup(kv);
  } else {
    const char *v = getenv(kv); /* docker: -e NAME passes this environment's value */
    if (v == NULL)
      return 1;
    entry = malloc(strlen(kv) + strlen(v) + 2);
    if (entry != NULL)
      sprintf(entry, "%s=%s", kv, v);
  }
  char **env = realloc(o->env, (o->nenv + 2) * sizeof *env);
  if (entry == NULL || env == NULL) {
    free(entry);
    fprintf(stderr, "%s: out of memory\n", prog);
    return -1;
  }
  o->env = env;
  env[o->nenv++] = entry;
  env[o->nenv] = NULL;
  return 1;
}

/* The value of a flag that takes one: "-eX", "--env=X" or the next argument. */
static const char *flag_value(const char *arg, const char *shrt, const char *lng, int argc,
                              char **argv, int *i, int *matched)
{
  size_t ls = strlen(shrt), ll = strlen(lng);
  *matched = 1;
  if (strcmp(arg, shrt) == 0 || strcmp(arg, lng) == 0)
    return *i + 1 < argc ? argv[++*i] : NULL;
  if (strncmp(arg, shrt, ls) == 0)
    return arg + ls;
  if (strncmp(arg, lng, ll) == 0 && arg[ll] == '=')
    return arg + ll + 1;
  *matched = 0;
  return NULL;
}

enum { FLAG_OWN, FLAG_TAKEN, FLAG_HELP, FLAG_END, FLAG_BAD };

/* One shared flag at argv[*i]. */
static int shared_flag(session_opts_t *o, const char *prog, int argc, char **argv, int *i)
{
  const char *a = argv[*i];
  int matched;
  if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0)
    return FLAG_HELP;
  if (strcmp(a, "--") == 0 || a[0] != '-') {
    *i += a[0] == '-';
    return FLAG_END;
  }
  if (strcmp(a, "--tty") == 0 || strcmp(a, "--interactive") == 0) {
    *(a[2] == 't' ? &o->tty : &o->interactive) = 1;
    ++*i;
    return FLAG_TAKEN;
  }
  /* Bundled short switches: -t, -i, -it, -ti. */
  if (a[0] == '-' && a[1] != '\0' && strspn(a + 1, "ti") == strlen(a + 1)) {
    for (const char *c = a + 1; *c; c++)
      *(*c == 't' ? &o->tty : &o->interactive) = 1;
    ++*i;
    return FLAG_TAKEN;
  }
  const char *v = flag_value(a, "-e", "--env", argc, argv, i, &matched);
  if (matched) {
    if (v == NULL)
      return session_usage_error(prog, "option '%s' needs a value", a), FLAG_BAD;
    ++*i;
    return add_env(o, prog, v) < 0 ? FLAG_BAD : FLAG_TAKEN;
  }
  v = flag_value(a, "-w", "--workdir", argc, argv, i, &matched);
  if (matched) {
    if (v == NULL || v[0] == '\0')
      return session_usage_error(prog, "option '%s' needs a directory", a), FLAG_BAD;
    o->workdir = v;
    ++*i;
    return FLAG_TAKEN;
  }
  return FLAG_OWN;
}

int session_next_option(session_opts_t *o, const char *prog, const char *usage, int argc,
                        char **argv, int *i, int *exit_code)
{
  for (; *i < argc;) {
    switch (shared_flag(o, prog, argc, argv, i)) {
    case FLAG_OWN:
      return 1;
    case FLAG_TAKEN:
      continue;
    case FLAG_HELP:
      printf(usage, session_common_help);
      *exit_code = 0;
      return -1;
    case FLAG_END:
      return 0;
    default:
      *exit_code = SESSION_EXIT_USAGE;
      return -1;
    }
  }
  return 0;
}

void session_opts_free(session_opts_t *o)
{
  for (size_t k = 0; k < o->nenv; k++)
    free(o->env[k]);
  free(o->env);
  o->env = NULL;
  o->nenv = 0;
}

void session_report(const char *prog, const char *what, int status, const cow_error_t *err)
{
  const char *msg = err != NULL && err->message != NULL ? err->message : cow_strerror(status);
  fprintf(stderr, "%s: %s: %s (%s", prog, what, msg, cow_err_name(status));
  /* The HRESULT is what to search for; backends' messages may already carry it. */
  if (err != NULL && (err->domain == COW_DOMAIN_HCS || err->domain == COW_DOMAIN_GUEST) &&
      strstr(msg, "HRESULT") == NULL)
    fprintf(stderr, ", HRESULT 0x%08X", (unsigned)err->sys_code);
  else if (err != NULL && err->domain == COW_DOMAIN_OS && err->sys_code != 0) {
#ifdef _WIN32
    /* GetLastError(), which the DLL binding's messages already give as "(error N)". */
    if (strstr(msg, "(error ") == NULL)
      fprintf(stderr, ", Win32 error %u", (unsigned)err->sys_code);
#else
    fprintf(stderr, ", errno %u", (unsigned)err->sys_code);
#endif
  }
  fprintf(stderr, ")\n");
}

int session_create_exit_code(int status, const cow_error_t *err)
{
  /* The backends map "file not found" HRESULTs to COW_ENOENT and "access denied" to
   * COW_EACCES; docker answers those with 127 and 126. */
  int code = err != NULL && err->code != 0 ? err->code : status;
  if (code == COW_ENOENT || cow_error_is_not_found(err))
    return SESSION_EXIT_NOT_FOUND;
  if (code == COW_EACCES || code == COW_EPERM || cow_error_is_access_denied(err))
    return SESSION_EXIT_CANNOT_INVOKE;
  return SESSION_EXIT_FAILED;
}

/* The command line of cow-run and lcow-exec: one getopt_long() loop over the options both
 * programs share and the ones a program adds, and the messages of a usage error. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "session.h"

/* Shared options without a short form. */
enum { OPT_VERSION = 0x100, OPT_LOG_LEVEL };

const char session_common_help[] =
    "  -t, --tty             give the command a console (a pseudo-terminal); its stderr is\n"
    "                        merged into stdout; window-size changes are forwarded; TERM is\n"
    "                        passed on (this environment's, else xterm) unless -e sets it\n"
    "  -i, --interactive     keep stdin open and forward it (end of file closes the command's\n"
    "                        stdin); with -t and a terminal on stdin, the local terminal is put\n"
    "                        in raw mode, so keys such as Ctrl-C go to the command\n"
    "  -e, --env NAME=VALUE  set an environment variable (repeatable); -e NAME takes the\n"
    "                        value from this environment\n"
    "  -w, --workdir DIR     working directory of the command\n"
    "  -v, --verbose         log libcow's warnings (repeat for info, debug, trace)\n"
    "      --log-level LEVEL log libcow's messages up to LEVEL: off, error, warn, info, debug,\n"
    "                        trace (default off)\n"
    "  -h, --help            print this help and exit\n"
    "      --version         print the version and exit\n"
    "A long option's value may also follow it after an equals sign. The command, its\n"
    "environment and its directory are sent as UTF-8 text: anything else is refused as a\n"
    "bad command line (exit 2), never dropped or altered.\n";

static const struct option shared_options[] = {
    {"tty", no_argument, NULL, 't'},       {"interactive", no_argument, NULL, 'i'},
    {"env", required_argument, NULL, 'e'}, {"workdir", required_argument, NULL, 'w'},
    {"verbose", no_argument, NULL, 'v'},   {"log-level", required_argument, NULL, OPT_LOG_LEVEL},
    {"help", no_argument, NULL, 'h'},      {"version", no_argument, NULL, OPT_VERSION},
};
#define NSHARED      (sizeof shared_options / sizeof shared_options[0])
#define SHARED_SHORT "tie:w:vh"

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

/* Append "NAME=VALUE" (copied). 0, or -1 after a message. */
static int push_env(session_opts_t *o, const char *prog, const char *name, const char *value)
{
  char *entry = malloc(strlen(name) + strlen(value) + 2);
  char **env = realloc(o->env, (o->nenv + 2) * sizeof *env);
  if (env != NULL)
    o->env = env;
  if (entry == NULL || env == NULL) {
    free(entry);
    fprintf(stderr, "%s: out of memory\n", prog);
    return -1;
  }
  sprintf(entry, "%s=%s", name, value);
  env[o->nenv++] = entry;
  env[o->nenv] = NULL;
  return 0;
}

/* -e NAME=VALUE, or -e NAME: this environment's value, skipped when unset (docker). */
static int add_env(session_opts_t *o, const char *prog, const char *kv)
{
  const char *eq = strchr(kv, '=');
  if (kv[0] == '=' || kv[0] == '\0')
    return session_usage_error(prog, "bad environment variable '%s'", kv), -1;
  if (eq != NULL) {
    char *name = malloc((size_t)(eq - kv) + 1);
    if (name == NULL)
      return fprintf(stderr, "%s: out of memory\n", prog), -1;
    memcpy(name, kv, (size_t)(eq - kv));
    name[eq - kv] = '\0';
    int rc = push_env(o, prog, name, eq + 1);
    free(name);
    return rc;
  }
  const char *v = getenv(kv);
  return v != NULL ? push_env(o, prog, kv, v) : 0;
}

static int has_env(const session_opts_t *o, const char *name)
{
  size_t n = strlen(name);
  for (size_t k = 0; k < o->nenv; k++)
    if (strncmp(o->env[k], name, n) == 0 && o->env[k][n] == '=')
      return 1;
  return 0;
}

static int log_level_named(const char *name)
{
  static const char *const names[] = {"error", "warn", "info", "debug", "trace"};
  if (strcmp(name, "off") == 0)
    return -1;
  for (int i = 0; i < (int)(sizeof names / sizeof names[0]); i++)
    if (strcmp(name, names[i]) == 0)
      return i;
  return -2;
}

/* The option as the user wrote it, for messages: "--name" (without "=value"), or "-x". */
static const char *option_text(char *buf, size_t size, int opt, char **argv)
{
  const char *arg = optind > 0 ? argv[optind - 1] : "";
  if (strncmp(arg, "--", 2) == 0)
    snprintf(buf, size, "%.*s", (int)strcspn(arg, "="), arg);
  else
    snprintf(buf, size, "-%c", opt > 0 && opt < 0x100 ? opt : '?');
  return buf;
}

int session_valid_utf8(const char *s)
{
  const unsigned char *p = (const unsigned char *)s;
  while (*p != 0) {
    unsigned c = *p, n, cp;
    if (c < 0x80) {
      p++;
      continue;
    }
    if (c >= 0xC2 && c <= 0xDF)
      n = 1, cp = c & 0x1F;
    else if (c >= 0xE0 && c <= 0xEF)
      n = 2, cp = c & 0x0F;
    else if (c >= 0xF0 && c <= 0xF4)
      n = 3, cp = c & 0x07;
    else
      return 0; /* a continuation byte first, or a lead byte of an overlong or too-large form */
    for (unsigned k = 1; k <= n; k++) {
      if ((p[k] & 0xC0) != 0x80)
        return 0;
      cp = (cp << 6) | (p[k] & 0x3F);
    }
    if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) || cp > 0x10FFFF ||
        (cp >= 0xD800 && cp <= 0xDFFF))
      return 0; /* overlong, beyond Unicode, or a UTF-16 surrogate */
    p += n + 1;
  }
  return 1;
}

int session_not_utf8(const char *prog, const char *what, const char *value)
{
  fprintf(stderr, "%s: %s is not valid UTF-8: '", prog, what);
  for (const unsigned char *p = (const unsigned char *)value; *p; p++)
    fprintf(stderr, *p >= 0x20 && *p < 0x7F && *p != '\\' ? "%c" : "\\x%02x", *p);
  fprintf(stderr, "'\n(the service takes text in UTF-8 only; nothing was run)\n");
  return SESSION_EXIT_USAGE;
}

/* What the service gets as JSON text must be UTF-8: a byte string that is not cannot be
 * sent as it is, and is refused here rather than dropped or altered on the way. */
static int check_utf8(const session_opts_t *o, const char *prog)
{
  char what[96];
  for (size_t i = 0; o->argv[i] != NULL; i++)
    if (!session_valid_utf8(o->argv[i])) {
      snprintf(what, sizeof what, "argument %zu of the command", i);
      return session_not_utf8(prog, what, o->argv[i]);
    }
  for (size_t i = 0; i < o->nenv; i++)
    if (!session_valid_utf8(o->env[i])) {
      size_t n = strcspn(o->env[i], "=");
      snprintf(what, sizeof what, "the environment variable %.*s", (int)(n < 40 ? n : 40),
               o->env[i]);
      return session_not_utf8(prog, session_valid_utf8(what) ? what : "an environment variable",
                              o->env[i]);
    }
  if (o->workdir != NULL && !session_valid_utf8(o->workdir))
    return session_not_utf8(prog, "the working directory (-w)", o->workdir);
  return -1;
}

int session_parse(session_opts_t *o, const char *prog, const char *usage, const struct option *own,
                  const char *own_short, session_option_cb cb, void *data, int argc, char **argv)
{
  size_t nown = 0;
  while (own != NULL && own[nown].name != NULL)
    nown++;
  struct option *longopts = calloc(NSHARED + nown + 1, sizeof *longopts);
  char *shortopts = malloc(strlen(SHARED_SHORT) + (own_short ? strlen(own_short) : 0) + 3);
  if (longopts == NULL || shortopts == NULL) {
    free(longopts);
    free(shortopts);
    fprintf(stderr, "%s: out of memory\n", prog);
    return SESSION_EXIT_FAILED;
  }
  memcpy(longopts, shared_options, sizeof shared_options);
  if (nown > 0)
    memcpy(longopts + NSHARED, own, nown * sizeof *own);
  /* '+': the options end at the first non-option (the command's own flags are never ours);
   * ':': a missing value is reported as such, by us. */
  sprintf(shortopts, "+:%s%s", SHARED_SHORT, own_short ? own_short : "");

  o->log_level = -1;
  opterr = 0;
  optind = 1;
  int rc = -1, opt;
  char text[256];
  while (rc < 0 && (opt = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1) {
    switch (opt) {
    case 't':
      o->tty = 1;
      break;
    case 'i':
      o->interactive = 1;
      break;
    case 'e':
      if (add_env(o, prog, optarg) < 0)
        rc = SESSION_EXIT_USAGE;
      break;
    case 'w':
      if (optarg[0] == '\0')
        rc = session_usage_error(prog, "option '%s' needs a directory",
                                 option_text(text, sizeof text, opt, argv));
      o->workdir = optarg;
      break;
    case 'v':
      if (o->log_level < COW_LOG_TRACE)
        o->log_level = o->log_level < COW_LOG_WARN ? COW_LOG_WARN : o->log_level + 1;
      break;
    case OPT_LOG_LEVEL:
      o->log_level = log_level_named(optarg);
      if (o->log_level == -2)
        rc = session_usage_error(
            prog, "bad --log-level '%s' (off, error, warn, info, debug or trace)", optarg);
      break;
    case 'h':
      printf(usage, session_common_help);
      rc = 0;
      break;
    case OPT_VERSION:
      printf("%s (libcow %s)\n", prog, cow_version_string());
      rc = 0;
      break;
    case ':':
      rc = session_usage_error(prog, "option '%s' needs a value",
                               option_text(text, sizeof text, optopt, argv));
      break;
    case '?': /* unknown or ambiguous, or "--flag=VALUE" for a flag without one */
      rc = session_usage_error(prog,
                               optopt != 0 && strchr(argv[optind - 1], '=') != NULL &&
                                       strncmp(argv[optind - 1], "--", 2) == 0
                                   ? "option '%s' takes no value"
                                   : "unknown option '%s'",
                               option_text(text, sizeof text, optopt, argv));
      break;
    default: {
      int r = cb(opt, optarg, data);
      if (r >= 0)
        rc = r;
    }
    }
  }
  free(longopts);
  free(shortopts);
  if (rc >= 0)
    return rc;
  o->argv = argv + optind;
  /* docker run -t: the command gets a TERM, the caller's (else xterm), unless -e set one. */
  if (o->tty && !has_env(o, "TERM")) {
    const char *term = getenv("TERM");
    if (push_env(o, prog, "TERM", term != NULL && term[0] != '\0' ? term : "xterm") < 0)
      return SESSION_EXIT_FAILED;
  }
  if ((rc = check_utf8(o, prog)) >= 0)
    return rc;
  if (o->log_level >= 0)
    session_log_enable((cow_log_level_t)o->log_level, prog);
  return -1;
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

/* 1 when `msg` contains one of `needles` (NULL-terminated). */
static int says(const char *msg, const char *const *needles)
{
  for (; msg != NULL && *needles != NULL; needles++)
    if (strstr(msg, *needles) != NULL)
      return 1;
  return 0;
}

int session_create_exit_code(int status, const cow_error_t *err)
{
  /* The HCS backends map "file not found" HRESULTs to COW_ENOENT and "access denied" to
   * COW_EACCES. The GCS answers E_FAIL with the runtime's own words ("fork/exec X: no such
   * file or directory", runc's "executable file not found in $PATH"): docker reads those
   * words too. Either way: 127 not found, 126 found but not runnable. */
  static const char *const not_found[] = {"no such file or directory", "executable file not found",
                                          "The system cannot find the file specified", NULL};
  static const char *const not_runnable[] = {"permission denied", "exec format error",
                                             "is a directory", "Access is denied", NULL};
  int code = err != NULL && err->code != 0 ? err->code : status;
  const char *msg = err != NULL ? err->message : NULL;
  if (code == COW_ENOENT || cow_error_is_not_found(err) || says(msg, not_found))
    return SESSION_EXIT_NOT_FOUND;
  if (code == COW_EACCES || code == COW_EPERM || cow_error_is_access_denied(err) ||
      says(msg, not_runnable))
    return SESSION_EXIT_CANNOT_INVOKE;
  return SESSION_EXIT_FAILED;
}

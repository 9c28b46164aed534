/* The life cycle and document decisions shared by the v1 and v2 backends; see state.h. */
#include "hcs/common/state.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/json.h"
#include "core/error.h"
#include "core/log.h"
#include "hcs/common/hcs-error.h"

/* ASCII case-insensitive equality (strcasecmp is POSIX, not C11 or MSVC). */
static int ieq(const char *a, const char *b)
{
  for (; *a && *b; a++, b++) {
    char x = (*a >= 'A' && *a <= 'Z') ? (char)(*a + 32) : *a;
    char y = (*b >= 'A' && *b <= 'Z') ? (char)(*b + 32) : *b;
    if (x != y)
      return 0;
  }
  return *a == *b;
}

int cow__hcs_sys_check(const struct cow__hcs_sys *s, enum cow__hcs_verb verb)
{
  switch (s->state) {
  case COW__HCS_SYS_READY:
    return 0;
  case COW__HCS_SYS_CREATING:
    return COW_ENOT_STARTED;
  case COW__HCS_SYS_FAILED:
    /* Nothing exists to stop: stopping succeeds (R18), anything else cannot work. */
    return verb == COW__HCS_STOP ? 0 : COW_EINVALID_STATE;
  case COW__HCS_SYS_CLOSED:
  default:
    return COW_ECLOSING;
  }
}

void cow__hcs_sys_report_exit(cow_container_t *c, struct cow__hcs_sys *s, HRESULT unexpected_hr,
                              const char *doc)
{
  if (s->exit_seen)
    return;
  s->exit_seen = 1;
  if (unexpected_hr >= 0) {
    cow_container_report_exit(c, NULL);
    return;
  }
  cow_error_t err = COW_ERROR_INIT;
  cow__hcs_error(&err, unexpected_hr, "wait", cow_container_id(c), doc);
  cow_container_report_exit(c, &err);
  cow_error_clear(&err);
}

void cow__hcs_sys_report_disconnect(cow_container_t *c, struct cow__hcs_sys *s)
{
  cow__hcs_sys_report_exit(c, s, COW__HR_SERVICE_DISCONNECT, NULL);
}

HRESULT cow__hcs_exit_status_error(const char *doc)
{
  json_t *j = doc ? json_loads(doc, 0, NULL) : NULL;
  const char *type = json_string_value(json_object_get(j, "ExitType"));
  json_t *status = json_object_get(j, "Status");
  HRESULT hr = 0;
  if (type != NULL && strcmp(type, "UnexpectedExit") == 0) {
    hr = COW__HR_UNEXPECTED_EXIT;
    /* Keep the service's own failure code when it gave one. */
    if (json_is_integer(status) && json_integer_value(status) < 0)
      hr = (HRESULT)(int32_t)json_integer_value(status);
  }
  json_decref(j);
  return hr;
}

int cow__hcs_sys_cache_properties(struct cow__hcs_sys *s, const char *doc)
{
  json_t *j = doc ? json_loads(doc, 0, NULL) : NULL;
  if (!json_is_object(j)) {
    json_decref(j);
    return COW_EPROTOCOL;
  }
  const char *os = json_string_value(json_object_get(j, "RuntimeOsType"));
  const char *type = json_string_value(json_object_get(j, "SystemType"));
  if (os != NULL && ieq(os, "linux"))
    s->os = "linux";
  else if (os != NULL && ieq(os, "windows"))
    s->os = "windows";
  else if ((os == NULL || *os == '\0') && type != NULL && ieq(type, "container"))
    s->os = "windows";
  else
    s->os = "unknown";
  json_decref(j);
  return 0;
}

int64_t cow__hcs_process_status_code(const char *doc, int *flag)
{
  json_t *j = doc ? json_loads(doc, 0, NULL) : NULL;
  json_t *exited = json_object_get(j, "Exited");
  json_t *code = json_object_get(j, "ExitCode");
  json_t *lwr = json_object_get(j, "LastWaitResult");
  int64_t out = -1;
  /* ExitCode is omitted when 0 (Go omitempty); LastWaitResult likewise. */
  if (json_is_true(exited) &&
      (lwr == NULL || (json_is_integer(lwr) && json_integer_value(lwr) == 0)))
    out = code == NULL            ? 0
          : json_is_integer(code) ? (int64_t)(uint32_t)json_integer_value(code)
                                  : -1;
  json_decref(j);
  if (out == -1 && flag != NULL)
    *flag = 1;
  return out;
}

int cow__hcs_process_config_prepare(const char *json, char **out, int *tty)
{
  *out = NULL;
  *tty = 0;
  json_t *j = json_loads(json, 0, NULL);
  if (!json_is_object(j)) {
    json_decref(j);
    return COW_EINVAL;
  }
  if (json_is_true(json_object_get(j, "EmulateConsole"))) {
    *tty = 1;
    if (json_object_set_new(j, "CreateStdInPipe", json_true()) != 0) {
      json_decref(j);
      return COW_ENOMEM;
    }
  }
  *out = cow__json_text(j, JSON_COMPACT);
  json_decref(j);
  return *out ? 0 : COW_ENOMEM;
}

const char *cow__hcs_default_signal(const char *os)
{
  if (os != NULL && strcmp(os, "windows") == 0)
    return "{\"Signal\":\"CtrlShutdown\"}";
  return "{\"Signal\":15}";
}

void cow__hcs_proc_report_status(cow_process_t *p, const char *doc)
{
  int flagged = 0;
  int64_t code = cow__hcs_process_status_code(doc, &flagged);
  if (flagged)
    cow__log(COW_LOG_WARN, "hcs", "process %lld: no valid exit code in %s",
             (long long)cow_process_pid(p), doc ? doc : "(no status)");
  cow_process_report_exit(p, code, NULL);
}

void cow__hcs_proc_report_disconnect(cow_process_t *p)
{
  cow_error_t err = COW_ERROR_INIT;
  cow__hcs_error(&err, COW__HR_SERVICE_DISCONNECT, "wait", NULL, NULL);
  cow_process_report_exit(p, -1, &err);
  cow_error_clear(&err);
}

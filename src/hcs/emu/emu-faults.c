/* Fault injection (docs/hcs-api.md §6.6): the rule list, the COW_EMU_FAULTS parser and the
 * queries the entry points make. Rules are process-wide and guarded by cow__emu_lock. */
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "cow/error.h"
#include "core/log.h"
#include "hcs/emu/emu-internal.h"

struct rule {
  struct rule *next;
  cow__emu_fault_t f;
  char *export_name;
  char *system_id;
  unsigned calls; /* FAIL/REJECT: calls of the export seen so far */
  int used;       /* DISCONNECT: fired once */
};

static struct rule *g_rules;

static int name_match(const struct rule *r, int api, const char *name)
{
  if (r->f.api != 0 && r->f.api != api)
    return 0;
  if (r->export_name == NULL)
    return 0;
  return strcmp(r->export_name, "*") == 0 || strcmp(r->export_name, name) == 0;
}

static int add_locked(const cow__emu_fault_t *f)
{
  struct rule *r = cow__calloc(1, sizeof(*r));
  if (r == NULL)
    return COW_ENOMEM;
  r->f = *f;
  if (f->export_name != NULL && (r->export_name = cow__strdup(f->export_name)) == NULL)
    goto nomem;
  if (f->system_id != NULL && (r->system_id = cow__strdup(f->system_id)) == NULL)
    goto nomem;
  r->f.export_name = r->export_name;
  r->f.system_id = r->system_id;
  /* Append: rules apply in the order given. */
  struct rule **pp = &g_rules;
  while (*pp != NULL)
    pp = &(*pp)->next;
  *pp = r;
  return 0;
nomem:
  cow__free(r->export_name);
  cow__free(r);
  return COW_ENOMEM;
}

static int set_fault_locked(const cow__emu_fault_t *f)
{
  if (f == NULL || f->kind < COW__EMU_FAULT_FAIL || f->kind > COW__EMU_FAULT_PAUSE_TIMEOUT ||
      f->api < 0 || f->api > 2)
    return COW_EINVAL;
  if ((f->kind == COW__EMU_FAULT_FAIL || f->kind == COW__EMU_FAULT_REJECT ||
       f->kind == COW__EMU_FAULT_DELAY) &&
      f->export_name == NULL)
    return COW_EINVAL;
  struct emu *e = cow__emu_current();
  int rc = 0;
  if (f->kind == COW__EMU_FAULT_DISCONNECT && f->export_name == NULL) {
    if (e != NULL)
      cow__emu_disconnect(e); /* now */
  } else {
    rc = add_locked(f);
    if (rc == 0 && f->kind == COW__EMU_FAULT_EXIT_UNEXPECTED && e != NULL) {
      /* Systems already running exit `ms` from now. */
      for (struct emu_system *s = e->systems; s != NULL; s = s->next) {
        if (s->state != EMU_SYS_RUNNING || s->stopping ||
            (f->system_id != NULL && strcmp(f->system_id, s->id) != 0))
          continue;
        struct emu_event *ev = cow__emu_event_new(EMU_EV_JOB, NULL);
        if (ev == NULL)
          continue;
        ev->job = cow__emu_system_job_unexpected;
        ev->sys = s;
        cow__emu_system_ref(s);
        cow__emu_post(e, ev, f->ms);
      }
    }
  }
  return rc;
}

int cow__emu_set_fault(const cow__emu_fault_t *f)
{
  pthread_mutex_lock(&cow__emu_lock);
  int rc = set_fault_locked(f);
  pthread_mutex_unlock(&cow__emu_lock);
  return rc;
}

void cow__emu_clear_faults(void)
{
  pthread_mutex_lock(&cow__emu_lock);
  while (g_rules != NULL) {
    struct rule *r = g_rules;
    g_rules = r->next;
    cow__free(r->export_name);
    cow__free(r->system_id);
    cow__free(r);
  }
  pthread_mutex_unlock(&cow__emu_lock);
}

static int parse_u32(const char *s, uint32_t *out)
{
  char *end;
  if (s == NULL || *s == '\0')
    return -1;
  unsigned long v = strtoul(s, &end, 0);
  if (*end != '\0' || v > 0xFFFFFFFFul)
    return -1;
  *out = (uint32_t)v;
  return 0;
}

/* One "kind[:name][@n][=value]" item into f; strings point into item. */
static int parse_item(char *item, cow__emu_fault_t *f)
{
  memset(f, 0, sizeof(*f));
  char *value = strchr(item, '=');
  if (value != NULL)
    *value++ = '\0';
  char *name = strchr(item, ':');
  if (name != NULL)
    *name++ = '\0';
  uint32_t v = 0;
  if (name != NULL) {
    char *at = strchr(name, '@');
    if (at != NULL) {
      *at++ = '\0';
      if (parse_u32(at, &v) != 0 || v == 0)
        return -1;
      f->nth = v;
    }
    if (strncmp(name, "v1.", 3) == 0)
      f->api = 1, name += 3;
    else if (strncmp(name, "v2.", 3) == 0)
      f->api = 2, name += 3;
    if (*name == '\0')
      return -1;
    f->export_name = name;
  }
  static const struct {
    const char *word;
    cow__emu_fault_kind_t kind;
    int need_name, need_value;
  } kinds[] = {
      {"fail", COW__EMU_FAULT_FAIL, 1, 1},
      {"reject", COW__EMU_FAULT_REJECT, 1, 1},
      {"delay", COW__EMU_FAULT_DELAY, 1, 1},
      {"disconnect", COW__EMU_FAULT_DISCONNECT, 0, -1},
      {"exit-unexpected", COW__EMU_FAULT_EXIT_UNEXPECTED, -1, 0},
      {"v1-sync", COW__EMU_FAULT_V1_SYNC, -1, -1},
      {"stdio-invalid", COW__EMU_FAULT_STDIO_INVALID, -1, -1},
      {"no-result-doc", COW__EMU_FAULT_NO_RESULT_DOC, -1, -1},
      {"last-wait-result", COW__EMU_FAULT_LAST_WAIT_RESULT, -1, 1},
      {"create-process-quirk", COW__EMU_FAULT_CREATE_PROCESS_QUIRK, -1, -1},
      {"shutdown-grace", COW__EMU_FAULT_SHUTDOWN_GRACE, -1, 1},
      {"output-late", COW__EMU_FAULT_OUTPUT_LATE, -1, 1},
      {"pause-timeout", COW__EMU_FAULT_PAUSE_TIMEOUT, -1, 1},
  };
  for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
    if (strcmp(item, kinds[i].word) != 0)
      continue;
    f->kind = kinds[i].kind;
    /* need: 1 required, -1 forbidden, 0 optional */
    if ((kinds[i].need_name == 1 && name == NULL) || (kinds[i].need_name == -1 && name != NULL))
      return -1;
    if ((kinds[i].need_value == 1 && value == NULL) || (kinds[i].need_value == -1 && value != NULL))
      return -1;
    if (value != NULL && parse_u32(value, &v) != 0)
      return -1;
    if (value != NULL) {
      f->hr = (int32_t)v;
      f->ms = v;
    }
    if (f->kind == COW__EMU_FAULT_DISCONNECT && f->export_name == NULL)
      f->export_name = "HcsCreateProcess";
    return 0;
  }
  return -1;
}

static int parse_faults_locked(const char *spec)
{
  if (spec == NULL)
    return COW_EINVAL;
  char *copy = cow__strdup(spec);
  if (copy == NULL)
    return COW_ENOMEM;
  /* Validate everything first: a bad spec adds nothing. */
  size_t count = 0;
  for (char *p = copy; *p; p++)
    count += *p == ',';
  cow__emu_fault_t *fs = cow__calloc(count + 1, sizeof(*fs));
  int rc = fs ? 0 : COW_ENOMEM;
  size_t n = 0;
  char *save = NULL;
  for (char *tok = rc ? NULL : strtok_r(copy, ",", &save); tok != NULL;
       tok = strtok_r(NULL, ",", &save)) {
    while (*tok == ' ')
      tok++;
    if (*tok == '\0')
      continue;
    if (parse_item(tok, &fs[n]) != 0) {
      cow__log(COW_LOG_ERROR, EMU_LOG, "bad fault specification item \"%s\"", tok);
      rc = COW_EINVAL;
      break;
    }
    n++;
  }
  for (size_t i = 0; rc == 0 && i < n; i++)
    rc = set_fault_locked(&fs[i]);
  cow__free(fs);
  cow__free(copy);
  return rc;
}

int cow__emu_parse_faults(const char *spec)
{
  pthread_mutex_lock(&cow__emu_lock);
  int rc = parse_faults_locked(spec);
  pthread_mutex_unlock(&cow__emu_lock);
  return rc;
}

#ifdef COW_TESTING
void cow__emu_faults_load_env(void)
{
  const char *spec = getenv("COW_EMU_FAULTS");
  if (spec != NULL && *spec != '\0' && parse_faults_locked(spec) != 0)
    cow__log(COW_LOG_ERROR, EMU_LOG, "COW_EMU_FAULTS ignored: invalid");
}
#endif

int cow__emu_fault_fail(int api, const char *name, HRESULT *hr, int *reject)
{
  int hit = 0;
  for (struct rule *r = g_rules; r != NULL; r = r->next) {
    if ((r->f.kind != COW__EMU_FAULT_FAIL && r->f.kind != COW__EMU_FAULT_REJECT) ||
        !name_match(r, api, name))
      continue;
    r->calls++;
    if (!hit && (r->f.nth == 0 || r->f.nth == r->calls)) {
      hit = 1;
      *hr = (HRESULT)r->f.hr;
      *reject = r->f.kind == COW__EMU_FAULT_REJECT;
    }
  }
  if (hit)
    cow__log(COW_LOG_DEBUG, EMU_LOG, "injected failure of %s: 0x%08x", name, (unsigned)*hr);
  return hit;
}

unsigned cow__emu_fault_delay(int api, const char *name)
{
  for (struct rule *r = g_rules; r != NULL; r = r->next)
    if (r->f.kind == COW__EMU_FAULT_DELAY && name_match(r, api, name))
      return r->f.ms;
  return 0;
}

int cow__emu_fault_disconnect(int api, const char *name)
{
  for (struct rule *r = g_rules; r != NULL; r = r->next)
    if (r->f.kind == COW__EMU_FAULT_DISCONNECT && !r->used && name_match(r, api, name)) {
      r->used = 1;
      return 1;
    }
  return 0;
}

int cow__emu_fault_flag(cow__emu_fault_kind_t kind)
{
  for (struct rule *r = g_rules; r != NULL; r = r->next)
    if (r->f.kind == kind)
      return 1;
  return 0;
}

int32_t cow__emu_fault_value(cow__emu_fault_kind_t kind, int32_t dflt)
{
  for (struct rule *r = g_rules; r != NULL; r = r->next)
    if (r->f.kind == kind)
      return kind == COW__EMU_FAULT_SHUTDOWN_GRACE || kind == COW__EMU_FAULT_OUTPUT_LATE ||
                     kind == COW__EMU_FAULT_PAUSE_TIMEOUT
                 ? (int32_t)r->f.ms
                 : r->f.hr;
  return dflt;
}

int cow__emu_fault_exit_unexpected(const char *system_id, unsigned *ms)
{
  for (struct rule *r = g_rules; r != NULL; r = r->next)
    if (r->f.kind == COW__EMU_FAULT_EXIT_UNEXPECTED &&
        (r->system_id == NULL || strcmp(r->system_id, system_id) == 0)) {
      *ms = r->f.ms;
      return 1;
    }
  return 0;
}

/* The public constructors of <cow/hcs.h>: pick the DLL table (explicit, the real DLL on
 * Windows, the emulator on Linux) and hand over to the v1 or v2 backend. */
#include "cow/hcs.h"

#include <uv.h>

#include "core/alloc.h"
#include "core/error.h"
#include "cow/config.h"
#include "hcs/common/bind.h"
#include "hcs/v1/v1.h"
#include "hcs/v2/v2.h"
#if COW_HAVE_HCS_EMULATOR
#  include "hcs/emu/emu.h"
#endif

/* The automatic tables, filled once and never changed afterwards: every handle may keep a
 * pointer to them. */
static uv_once_t tables_once = UV_ONCE_INIT;
static struct cow__computecore_api v2_table;
static struct cow__vmcompute_api v1_table;
static int v2_rc = COW_EBACKEND_UNAVAILABLE, v1_rc = COW_EBACKEND_UNAVAILABLE;

static void tables_init(void)
{
#if defined(_WIN32)
  v2_rc = cow__hcs_bind_computecore(&v2_table, NULL);
  v1_rc = cow__hcs_bind_vmcompute(&v1_table, NULL);
#elif COW_HAVE_HCS_EMULATOR
  v2_rc = cow__emu_computecore_api(&v2_table);
  v1_rc = cow__emu_vmcompute_api(&v1_table);
#endif
}

static int resolve(cow_hcs_api_t api, const void *explicit_table, const void **out,
                   cow_error_t *err)
{
  *out = NULL;
  if (api != COW_HCS_V1 && api != COW_HCS_V2)
    return cow__error_set(err, COW_EINVAL, COW_DOMAIN_LIB, 0, "bind", NULL, "unknown HCS API %d",
                          (int)api);
  if (explicit_table != NULL) {
    *out = explicit_table;
    return 0;
  }
  uv_once(&tables_once, tables_init);
  int rc = api == COW_HCS_V2 ? v2_rc : v1_rc;
  if (rc == 0) {
    *out = api == COW_HCS_V2 ? (const void *)&v2_table : (const void *)&v1_table;
    return 0;
  }
#if defined(_WIN32)
  /* Bind again only to describe the failure (which DLL or export is missing). */
  if (api == COW_HCS_V2) {
    struct cow__computecore_api t;
    return cow__hcs_bind_computecore(&t, err);
  } else {
    struct cow__vmcompute_api t;
    return cow__hcs_bind_vmcompute(&t, err);
  }
#else
  return cow__error_set(err, COW_EBACKEND_UNAVAILABLE, COW_DOMAIN_LIB, 0, "bind", NULL,
                        "no HCS %s on this platform (built without the emulator)",
                        api == COW_HCS_V2 ? "computecore" : "vmcompute");
#endif
}

void cow_hcs_options_init(cow_hcs_options_t *opts)
{
  if (opts == NULL)
    return;
  const cow_hcs_options_t init = COW_HCS_OPTIONS_INIT;
  *opts = init;
}

int cow_hcs_available(cow_hcs_api_t api, cow_error_t *err)
{
  const void *t;
  return resolve(api, NULL, &t, err);
}

static int construct(cow_container_t **out, struct uv_loop_s *loop, const cow_hcs_options_t *opts,
                     const char *id, const char *config_json, cow_container_cb cb, void *data)
{
  if (out == NULL)
    return COW_EINVAL;
  *out = NULL;
  if (loop == NULL || opts == NULL || id == NULL || *id == '\0' || cb == NULL)
    return COW_EINVAL;
  int rc = cow__struct_version_check(opts->version, COW_HCS_OPTIONS_VERSION);
  if (rc != 0)
    return rc;
  const void *table;
  rc = resolve(opts->api, opts->dll_table, &table, NULL);
  if (rc != 0)
    return rc;
  if (opts->api == COW_HCS_V2)
    return cow__hcs2_system_new(loop, table, id, config_json, opts->create_timeout_ms, out, cb,
                                data);
  return cow__hcs1_system_new(loop, table, id, config_json, opts->create_timeout_ms, out, cb, data);
}

int cow_hcs_create_system(cow_container_t **out, struct uv_loop_s *loop,
                          const cow_hcs_options_t *opts, const char *id, const char *config_json,
                          cow_container_cb cb, void *data)
{
  if (config_json == NULL) {
    if (out != NULL)
      *out = NULL;
    return COW_EINVAL;
  }
  return construct(out, loop, opts, id, config_json, cb, data);
}

int cow_hcs_open_system(cow_container_t **out, struct uv_loop_s *loop,
                        const cow_hcs_options_t *opts, const char *id, cow_container_cb cb,
                        void *data)
{
  return construct(out, loop, opts, id, NULL, cb, data);
}

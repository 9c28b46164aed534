/* Windows: fill the HCS tables from computecore.dll (v2) and vmcompute.dll (v1) with
 * LoadLibraryExW(LOAD_LIBRARY_SEARCH_SYSTEM32) + GetProcAddress, so that a missing DLL or
 * export (older Windows, no Hyper-V feature) is a clear error instead of a loader failure.
 * The casts go through void (*)(void): a direct cast from FARPROC trips
 * -Wcast-function-type, a cast through void * trips -Wpedantic (docs/building.md §2.7).
 * computecore.h is not included here on purpose: v1 and v2 share export names with other
 * signatures, and the tables carry the only declarations (docs/hcs-api.md §1 item 3). */
#include "hcs/common/bind.h"

#include <string.h>

#include "core/error.h"

typedef void(WINAPI *cow__free_fn)(void *);
typedef HLOCAL(WINAPI *cow__localfree_fn)(HLOCAL);

static cow__free_fn g_co_task_mem_free; /* ole32!CoTaskMemFree, bound with vmcompute */

static HMODULE load_system32(const wchar_t *dll)
{
  return LoadLibraryExW(dll, NULL, LOAD_LIBRARY_SEARCH_SYSTEM32);
}

static int missing(cow_error_t *err, const char *dll, const char *export_name)
{
  DWORD code = GetLastError();
  if (export_name == NULL)
    return cow__error_set(err, COW_EBACKEND_UNAVAILABLE, COW_DOMAIN_OS, (uint32_t)code, "bind",
                          NULL, "%s cannot be loaded (error %lu)", dll, (unsigned long)code);
  return cow__error_set(err, COW_EBACKEND_UNAVAILABLE, COW_DOMAIN_OS, (uint32_t)code, "bind", NULL,
                        "%s has no export %s (error %lu)", dll, export_name, (unsigned long)code);
}

#define BIND(mod, dll, table, name)                                                                \
  do {                                                                                             \
    FARPROC p_ = GetProcAddress((mod), #name);                                                     \
    if (p_ == NULL)                                                                                \
      return missing(err, (dll), #name);                                                           \
    (table)->name = (__typeof__((table)->name))(void (*)(void))p_;                                 \
  } while (0)

/* v2 strings are released with LocalFree (docs/hcs-api.md §1 item 5). */
static void v2_free_string(PWSTR s)
{
  if (s != NULL)
    LocalFree((HLOCAL)s);
}

/* v1 strings are released with CoTaskMemFree. */
static void v1_free_string(PWSTR s)
{
  if (s != NULL && g_co_task_mem_free != NULL)
    g_co_task_mem_free(s);
}

int cow__hcs_bind_computecore(struct cow__computecore_api *t, cow_error_t *err)
{
  static const char dll[] = "computecore.dll";
  if (t == NULL)
    return cow__error_set(err, COW_EINVAL, COW_DOMAIN_LIB, 0, "bind", NULL, "NULL table");
  memset(t, 0, sizeof(*t));
  HMODULE m = load_system32(L"computecore.dll");
  if (m == NULL)
    return missing(err, dll, NULL);
  BIND(m, dll, t, HcsCreateOperation);
  BIND(m, dll, t, HcsCloseOperation);
  BIND(m, dll, t, HcsGetOperationContext);
  BIND(m, dll, t, HcsSetOperationContext);
  BIND(m, dll, t, HcsSetOperationCallback);
  BIND(m, dll, t, HcsGetOperationType);
  BIND(m, dll, t, HcsGetOperationId);
  BIND(m, dll, t, HcsGetComputeSystemFromOperation);
  BIND(m, dll, t, HcsGetProcessFromOperation);
  BIND(m, dll, t, HcsGetOperationResult);
  BIND(m, dll, t, HcsGetOperationResultAndProcessInfo);
  BIND(m, dll, t, HcsWaitForOperationResult);
  BIND(m, dll, t, HcsWaitForOperationResultAndProcessInfo);
  BIND(m, dll, t, HcsCancelOperation);
  BIND(m, dll, t, HcsEnumerateComputeSystems);
  BIND(m, dll, t, HcsCreateComputeSystem);
  BIND(m, dll, t, HcsOpenComputeSystem);
  BIND(m, dll, t, HcsCloseComputeSystem);
  BIND(m, dll, t, HcsStartComputeSystem);
  BIND(m, dll, t, HcsShutDownComputeSystem);
  BIND(m, dll, t, HcsTerminateComputeSystem);
  BIND(m, dll, t, HcsPauseComputeSystem);
  BIND(m, dll, t, HcsResumeComputeSystem);
  BIND(m, dll, t, HcsGetComputeSystemProperties);
  BIND(m, dll, t, HcsModifyComputeSystem);
  BIND(m, dll, t, HcsWaitForComputeSystemExit);
  BIND(m, dll, t, HcsSetComputeSystemCallback);
  BIND(m, dll, t, HcsCreateProcess);
  BIND(m, dll, t, HcsOpenProcess);
  BIND(m, dll, t, HcsCloseProcess);
  BIND(m, dll, t, HcsTerminateProcess);
  BIND(m, dll, t, HcsSignalProcess);
  BIND(m, dll, t, HcsGetProcessInfo);
  BIND(m, dll, t, HcsGetProcessProperties);
  BIND(m, dll, t, HcsModifyProcess);
  BIND(m, dll, t, HcsSetProcessCallback);
  BIND(m, dll, t, HcsWaitForProcessExit);
  BIND(m, dll, t, HcsGetServiceProperties);
  t->free_string = v2_free_string;
  return 0;
}

int cow__hcs_bind_vmcompute(struct cow__vmcompute_api *t, cow_error_t *err)
{
  static const char dll[] = "vmcompute.dll";
  if (t == NULL)
    return cow__error_set(err, COW_EINVAL, COW_DOMAIN_LIB, 0, "bind", NULL, "NULL table");
  memset(t, 0, sizeof(*t));
  HMODULE ole = load_system32(L"ole32.dll");
  if (ole == NULL)
    return missing(err, "ole32.dll", NULL);
  FARPROC f = GetProcAddress(ole, "CoTaskMemFree");
  if (f == NULL)
    return missing(err, "ole32.dll", "CoTaskMemFree");
  g_co_task_mem_free = (cow__free_fn)(void (*)(void))f;
  HMODULE m = load_system32(L"vmcompute.dll");
  if (m == NULL)
    return missing(err, dll, NULL);
  BIND(m, dll, t, HcsEnumerateComputeSystems);
  BIND(m, dll, t, HcsCreateComputeSystem);
  BIND(m, dll, t, HcsOpenComputeSystem);
  BIND(m, dll, t, HcsCloseComputeSystem);
  BIND(m, dll, t, HcsStartComputeSystem);
  BIND(m, dll, t, HcsShutdownComputeSystem);
  BIND(m, dll, t, HcsTerminateComputeSystem);
  BIND(m, dll, t, HcsPauseComputeSystem);
  BIND(m, dll, t, HcsResumeComputeSystem);
  BIND(m, dll, t, HcsSaveComputeSystem);
  BIND(m, dll, t, HcsGetComputeSystemProperties);
  BIND(m, dll, t, HcsModifyComputeSystem);
  BIND(m, dll, t, HcsRegisterComputeSystemCallback);
  BIND(m, dll, t, HcsUnregisterComputeSystemCallback);
  BIND(m, dll, t, HcsCreateProcess);
  BIND(m, dll, t, HcsOpenProcess);
  BIND(m, dll, t, HcsCloseProcess);
  BIND(m, dll, t, HcsTerminateProcess);
  BIND(m, dll, t, HcsSignalProcess);
  BIND(m, dll, t, HcsGetProcessInfo);
  BIND(m, dll, t, HcsGetProcessProperties);
  BIND(m, dll, t, HcsModifyProcess);
  BIND(m, dll, t, HcsRegisterProcessCallback);
  BIND(m, dll, t, HcsUnregisterProcessCallback);
  BIND(m, dll, t, HcsGetServiceProperties);
  BIND(m, dll, t, HcsModifyServiceSettings);
  t->free_string = v1_free_string;
  return 0;
}

/* Internal: the computecore.dll (HCS v2) exports the v2 backend calls, as a table of
 * function pointers. On Windows bind-win.c fills it from the DLL; on Linux the emulator
 * fills it (cow__emu_computecore_api). Signatures are exactly the documented ones
 * (docs/hcs-api.md §3.2, §3.3). Never declare these as prototypes: v1 exports the same names with
 * other parameter lists (docs/hcs-api.md §1 item 3). */
#ifndef COW_HCS_COMMON_COMPUTECORE_API_H
#define COW_HCS_COMMON_COMPUTECORE_API_H

#include "hcs/common/hcs-types.h"

struct cow__computecore_api {
  /* Operations */
  HCS_OPERATION(WINAPI *HcsCreateOperation)(const void *context, HCS_OPERATION_COMPLETION callback);
  void(WINAPI *HcsCloseOperation)(HCS_OPERATION operation);
  void *(WINAPI *HcsGetOperationContext)(HCS_OPERATION operation);
  HRESULT(WINAPI *HcsSetOperationContext)(HCS_OPERATION operation, const void *context);
  HRESULT(WINAPI *HcsSetOperationCallback)
  (HCS_OPERATION operation, const void *context, HCS_OPERATION_COMPLETION callback);
  HCS_OPERATION_TYPE(WINAPI *HcsGetOperationType)(HCS_OPERATION operation);
  UINT64(WINAPI *HcsGetOperationId)(HCS_OPERATION operation);
  HCS_SYSTEM(WINAPI *HcsGetComputeSystemFromOperation)(HCS_OPERATION operation);
  HCS_PROCESS(WINAPI *HcsGetProcessFromOperation)(HCS_OPERATION operation);
  HRESULT(WINAPI *HcsGetOperationResult)(HCS_OPERATION operation, PWSTR *resultDocument);
  HRESULT(WINAPI *HcsGetOperationResultAndProcessInfo)
  (HCS_OPERATION operation, HCS_PROCESS_INFORMATION *processInformation, PWSTR *resultDocument);
  HRESULT(WINAPI *HcsWaitForOperationResult)
  (HCS_OPERATION operation, DWORD timeoutMs, PWSTR *resultDocument);
  HRESULT(WINAPI *HcsWaitForOperationResultAndProcessInfo)
  (HCS_OPERATION operation, DWORD timeoutMs, HCS_PROCESS_INFORMATION *processInformation,
   PWSTR *resultDocument);
  HRESULT(WINAPI *HcsCancelOperation)(HCS_OPERATION operation);

  /* Compute systems */
  HRESULT(WINAPI *HcsEnumerateComputeSystems)(PCWSTR query, HCS_OPERATION operation);
  HRESULT(WINAPI *HcsCreateComputeSystem)
  (PCWSTR id, PCWSTR configuration, HCS_OPERATION operation,
   const SECURITY_DESCRIPTOR *securityDescriptor, HCS_SYSTEM *computeSystem);
  HRESULT(WINAPI *HcsOpenComputeSystem)
  (PCWSTR id, DWORD requestedAccess, HCS_SYSTEM *computeSystem);
  void(WINAPI *HcsCloseComputeSystem)(HCS_SYSTEM computeSystem);
  HRESULT(WINAPI *HcsStartComputeSystem)
  (HCS_SYSTEM computeSystem, HCS_OPERATION operation, PCWSTR options);
  HRESULT(WINAPI *HcsShutDownComputeSystem)
  (HCS_SYSTEM computeSystem, HCS_OPERATION operation, PCWSTR options);
  HRESULT(WINAPI *HcsTerminateComputeSystem)
  (HCS_SYSTEM computeSystem, HCS_OPERATION operation, PCWSTR options);
  HRESULT(WINAPI *HcsPauseComputeSystem)
  (HCS_SYSTEM computeSystem, HCS_OPERATION operation, PCWSTR options);
  HRESULT(WINAPI *HcsResumeComputeSystem)
  (HCS_SYSTEM computeSystem, HCS_OPERATION operation, PCWSTR options);
  HRESULT(WINAPI *HcsGetComputeSystemProperties)
  (HCS_SYSTEM computeSystem, HCS_OPERATION operation, PCWSTR propertyQuery);
  HRESULT(WINAPI *HcsModifyComputeSystem)
  (HCS_SYSTEM computeSystem, HCS_OPERATION operation, PCWSTR configuration, HANDLE identity);
  HRESULT(WINAPI *HcsWaitForComputeSystemExit)
  (HCS_SYSTEM computeSystem, DWORD timeoutMs, PWSTR *result);
  HRESULT(WINAPI *HcsSetComputeSystemCallback)
  (HCS_SYSTEM computeSystem, HCS_EVENT_OPTIONS callbackOptions, const void *context,
   HCS_EVENT_CALLBACK callback);

  /* Processes */
  HRESULT(WINAPI *HcsCreateProcess)
  (HCS_SYSTEM computeSystem, PCWSTR processParameters, HCS_OPERATION operation,
   const SECURITY_DESCRIPTOR *securityDescriptor, HCS_PROCESS *process);
  HRESULT(WINAPI *HcsOpenProcess)
  (HCS_SYSTEM computeSystem, DWORD processId, DWORD requestedAccess, HCS_PROCESS *process);
  void(WINAPI *HcsCloseProcess)(HCS_PROCESS process);
  HRESULT(WINAPI *HcsTerminateProcess)
  (HCS_PROCESS process, HCS_OPERATION operation, PCWSTR options);
  HRESULT(WINAPI *HcsSignalProcess)(HCS_PROCESS process, HCS_OPERATION operation, PCWSTR options);
  HRESULT(WINAPI *HcsGetProcessInfo)(HCS_PROCESS process, HCS_OPERATION operation);
  HRESULT(WINAPI *HcsGetProcessProperties)
  (HCS_PROCESS process, HCS_OPERATION operation, PCWSTR propertyQuery);
  HRESULT(WINAPI *HcsModifyProcess)(HCS_PROCESS process, HCS_OPERATION operation, PCWSTR settings);
  HRESULT(WINAPI *HcsSetProcessCallback)
  (HCS_PROCESS process, HCS_EVENT_OPTIONS callbackOptions, void *context,
   HCS_EVENT_CALLBACK callback);
  HRESULT(WINAPI *HcsWaitForProcessExit)(HCS_PROCESS process, DWORD timeoutMs, PWSTR *result);

  /* Service (synchronous) */
  HRESULT(WINAPI *HcsGetServiceProperties)(PCWSTR propertyQuery, PWSTR *result);

  /* Frees every string the calls above return (LocalFree on Windows, docs/hcs-api.md §1 item 5).
   * Call it on success and on failure; NULL is allowed. */
  void (*free_string)(PWSTR str);
};

#endif

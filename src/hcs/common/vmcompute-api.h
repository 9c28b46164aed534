/* Internal: the vmcompute.dll (HCS v1) exports, as the function-pointer table the v1
 * backend calls. These are the 26 exports hcsshim binds (docs/hcs-api.md §2.1); the DLL has no
 * public header, so the signatures are hcsshim's. On Windows bind-win.c fills the table,
 * on Linux the emulator does (cow__emu_vmcompute_api). Same names as v2, other signatures:
 * never include computecore.h prototypes next to a use of these (docs/hcs-api.md §1 item 3). */
#ifndef COW_HCS_COMMON_VMCOMPUTE_API_H
#define COW_HCS_COMMON_VMCOMPUTE_API_H

#include "hcs/common/hcs-types.h"

struct cow__vmcompute_api {
  /* enumerate / create / open / close */
  HRESULT(WINAPI *HcsEnumerateComputeSystems)(PCWSTR query, PWSTR *computeSystems, PWSTR *result);
  HRESULT(WINAPI *HcsCreateComputeSystem)
  (PCWSTR id, PCWSTR configuration, HANDLE identity, HCS_SYSTEM *computeSystem, PWSTR *result);
  HRESULT(WINAPI *HcsOpenComputeSystem)(PCWSTR id, HCS_SYSTEM *computeSystem, PWSTR *result);
  HRESULT(WINAPI *HcsCloseComputeSystem)(HCS_SYSTEM computeSystem);
  /* lifecycle */
  HRESULT(WINAPI *HcsStartComputeSystem)(HCS_SYSTEM computeSystem, PCWSTR options, PWSTR *result);
  HRESULT(WINAPI *HcsShutdownComputeSystem)
  (HCS_SYSTEM computeSystem, PCWSTR options, PWSTR *result); /* lower-case d in v1 */
  HRESULT(WINAPI *HcsTerminateComputeSystem)
  (HCS_SYSTEM computeSystem, PCWSTR options, PWSTR *result);
  HRESULT(WINAPI *HcsPauseComputeSystem)(HCS_SYSTEM computeSystem, PCWSTR options, PWSTR *result);
  HRESULT(WINAPI *HcsResumeComputeSystem)(HCS_SYSTEM computeSystem, PCWSTR options, PWSTR *result);
  HRESULT(WINAPI *HcsSaveComputeSystem)(HCS_SYSTEM computeSystem, PCWSTR options, PWSTR *result);
  /* query / modify */
  HRESULT(WINAPI *HcsGetComputeSystemProperties)
  (HCS_SYSTEM computeSystem, PCWSTR propertyQuery, PWSTR *properties, PWSTR *result);
  HRESULT(WINAPI *HcsModifyComputeSystem)
  (HCS_SYSTEM computeSystem, PCWSTR configuration, PWSTR *result);
  /* notifications */
  HRESULT(WINAPI *HcsRegisterComputeSystemCallback)
  (HCS_SYSTEM computeSystem, HCS_NOTIFICATION_CALLBACK callback, void *context,
   HCS_CALLBACK *callbackHandle);
  HRESULT(WINAPI *HcsUnregisterComputeSystemCallback)(HCS_CALLBACK callbackHandle);
  /* processes */
  HRESULT(WINAPI *HcsCreateProcess)
  (HCS_SYSTEM computeSystem, PCWSTR processParameters, HCS_PROCESS_INFORMATION *processInformation,
   HCS_PROCESS *process, PWSTR *result);
  HRESULT(WINAPI *HcsOpenProcess)
  (HCS_SYSTEM computeSystem, DWORD processId, HCS_PROCESS *process, PWSTR *result);
  HRESULT(WINAPI *HcsCloseProcess)(HCS_PROCESS process);
  HRESULT(WINAPI *HcsTerminateProcess)(HCS_PROCESS process, PWSTR *result); /* no options in v1 */
  HRESULT(WINAPI *HcsSignalProcess)(HCS_PROCESS process, PCWSTR options, PWSTR *result);
  HRESULT(WINAPI *HcsGetProcessInfo)
  (HCS_PROCESS process, HCS_PROCESS_INFORMATION *processInformation, PWSTR *result);
  HRESULT(WINAPI *HcsGetProcessProperties)
  (HCS_PROCESS process, PWSTR *processProperties, PWSTR *result); /* no query argument in v1 */
  HRESULT(WINAPI *HcsModifyProcess)(HCS_PROCESS process, PCWSTR settings, PWSTR *result);
  HRESULT(WINAPI *HcsRegisterProcessCallback)
  (HCS_PROCESS process, HCS_NOTIFICATION_CALLBACK callback, void *context,
   HCS_CALLBACK *callbackHandle);
  HRESULT(WINAPI *HcsUnregisterProcessCallback)(HCS_CALLBACK callbackHandle);
  /* service */
  HRESULT(WINAPI *HcsGetServiceProperties)
  (PCWSTR propertyQuery, PWSTR *properties, PWSTR *result); /* 3 arguments in v1 */
  HRESULT(WINAPI *HcsModifyServiceSettings)(PCWSTR settings, PWSTR *result);

  /* Frees every string the calls above return (CoTaskMemFree on Windows, docs/hcs-api.md §1
   * item 5). NULL is allowed. */
  void (*free_string)(PWSTR str);
};

#endif

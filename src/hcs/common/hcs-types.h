/* Internal: the types of the HCS DLL APIs (vmcompute.dll = v1, computecore.dll = v2).
 *
 * On Windows they come from the SDK (mingw-w64 ships computedefs.h). Elsewhere the same
 * names are declared here with the Windows x64 ABI, so that the backends and the Linux
 * emulator compile against one set of declarations (docs/hcs-api.md §1, §2.3, §3.1).
 * WCHAR is 16-bit UTF-16 everywhere: never wchar_t, which is 32-bit on Linux. */
#ifndef COW_HCS_COMMON_HCS_TYPES_H
#define COW_HCS_COMMON_HCS_TYPES_H

#include <stddef.h>
#include <stdint.h>

#ifdef _WIN32
#  ifndef WIN32_LEAN_AND_MEAN
#    define WIN32_LEAN_AND_MEAN
#  endif
#  include <windows.h>
#  include <computedefs.h>
/* mingw-w64 10 lacks these (newer SDK only); values from docs/hcs-api.md §3.1. */
#  define COW__HCS_EVENT_OPTION_ENABLE_VM_LIFECYCLE          2u
#  define COW__HCS_EVENT_OPTION_ENABLE_LIVE_MIGRATION_EVENTS 4u
#else

#  define WINAPI
#  define CALLBACK

typedef int32_t HRESULT;
typedef uint32_t DWORD;
typedef uint64_t UINT64;
typedef int BOOL;
typedef uint16_t WCHAR; /* UTF-16 code unit, as on Windows */
typedef WCHAR *PWSTR;
typedef const WCHAR *PCWSTR;
typedef void *HANDLE;
typedef struct COW__SECURITY_DESCRIPTOR SECURITY_DESCRIPTOR; /* opaque; always NULL here */

/* DECLARE_HANDLE(x) on Windows: distinct pointer types, so handles do not mix silently. */
typedef struct HCS_SYSTEM__ *HCS_SYSTEM;
typedef struct HCS_PROCESS__ *HCS_PROCESS;
typedef struct HCS_OPERATION__ *HCS_OPERATION;
typedef struct HCS_CALLBACK__ *HCS_CALLBACK;

#  define INVALID_HANDLE_VALUE ((HANDLE)(intptr_t)-1)
#  define INFINITE             0xFFFFFFFFu
#  define GENERIC_ALL          0x10000000u

typedef enum HCS_OPERATION_TYPE {
  HcsOperationTypeNone = -1,
  HcsOperationTypeEnumerate = 0,
  HcsOperationTypeCreate = 1,
  HcsOperationTypeStart = 2,
  HcsOperationTypeShutdown = 3,
  HcsOperationTypePause = 4,
  HcsOperationTypeResume = 5,
  HcsOperationTypeSave = 6,
  HcsOperationTypeTerminate = 7,
  HcsOperationTypeModify = 8,
  HcsOperationTypeGetProperties = 9,
  HcsOperationTypeCreateProcess = 10,
  HcsOperationTypeSignalProcess = 11,
  HcsOperationTypeGetProcessInfo = 12,
  HcsOperationTypeGetProcessProperties = 13,
  HcsOperationTypeModifyProcess = 14,
  HcsOperationTypeCrash = 15
} HCS_OPERATION_TYPE;

#  define HCS_INVALID_OPERATION_ID                           ((UINT64)(-1))

typedef void(CALLBACK *HCS_OPERATION_COMPLETION)(HCS_OPERATION operation, void *context);

/* Values above INT32_MAX are written as negative int32 so that the enum stays an int, as
 * MSVC treats it (the Windows ABI passes HCS_EVENT_TYPE as a 32-bit int). */
typedef enum HCS_EVENT_TYPE {
  HcsEventInvalid = 0x00000000,
  HcsEventSystemExited = 0x00000001,
  HcsEventSystemCrashInitiated = 0x00000002,
  HcsEventSystemCrashReport = 0x00000003,
  HcsEventSystemRdpEnhancedModeStateChanged = 0x00000004,
  HcsEventSystemSiloJobCreated = 0x00000005,
  HcsEventSystemGuestConnectionClosed = 0x00000006,
  HcsEventProcessExited = 0x00010000,
  HcsEventOperationCallback = 0x01000000,
  HcsEventServiceDisconnect = 0x02000000,
  HcsEventGroupVmLifecycle = (int)(0x80000002 - 0x100000000),   /* 0x80000002 */
  HcsEventGroupLiveMigration = (int)(0x80000003 - 0x100000000), /* 0x80000003 */
  HcsEventGroupOperationInfo = (int)(0xC0000001 - 0x100000000)  /* 0xC0000001 */
} HCS_EVENT_TYPE;

typedef struct HCS_EVENT {
  HCS_EVENT_TYPE Type;
  PCWSTR EventData;        /* optional JSON, valid only during the callback */
  HCS_OPERATION Operation; /* only for HcsEventOperationCallback */
} HCS_EVENT;

typedef enum HCS_EVENT_OPTIONS {
  HcsEventOptionNone = 0x00000000,
  HcsEventOptionEnableOperationCallbacks = 0x00000001
} HCS_EVENT_OPTIONS;
#  define COW__HCS_EVENT_OPTION_ENABLE_VM_LIFECYCLE          2u
#  define COW__HCS_EVENT_OPTION_ENABLE_LIVE_MIGRATION_EVENTS 4u

typedef void(CALLBACK *HCS_EVENT_CALLBACK)(HCS_EVENT *event, void *context);

/* v1 (vmcompute.dll) notification codes, docs/hcs-api.md §2.3. Same int32 remark as above. */
typedef enum HCS_NOTIFICATIONS {
  HcsNotificationInvalid = 0x00000000,
  HcsNotificationSystemExited = 0x00000001,
  HcsNotificationSystemCreateCompleted = 0x00000002,
  HcsNotificationSystemStartCompleted = 0x00000003,
  HcsNotificationSystemPauseCompleted = 0x00000004,
  HcsNotificationSystemResumeCompleted = 0x00000005,
  HcsNotificationSystemCrashReport = 0x00000006,
  HcsNotificationSystemSiloJobCreated = 0x00000007,
  HcsNotificationSystemSaveCompleted = 0x00000008,
  HcsNotificationSystemRdpEnhancedModeStateChanged = 0x00000009,
  HcsNotificationSystemShutdownFailed = 0x0000000A,
  HcsNotificationSystemShutdownCompleted = 0x0000000A,
  HcsNotificationSystemGetPropertiesCompleted = 0x0000000B,
  HcsNotificationSystemModifyCompleted = 0x0000000C,
  HcsNotificationSystemCrashInitiated = 0x0000000D,
  HcsNotificationSystemGuestConnectionClosed = 0x0000000E,
  HcsNotificationSystemOperationCompletion = 0x0000000F,
  HcsNotificationSystemPassThru = 0x00000010,
  HcsNotificationProcessExited = 0x00010000,
  HcsNotificationServiceDisconnect = 0x01000000,
  HcsNotificationFlagsReserved = (int)(0xF0000000 - 0x100000000) /* 0xF0000000 */
} HCS_NOTIFICATIONS;

typedef void(CALLBACK *HCS_NOTIFICATION_CALLBACK)(DWORD notificationType, void *context,
                                                  HRESULT notificationStatus,
                                                  PCWSTR notificationData);

/* Same layout in v1 and v2 (docs/hcs-api.md §1.1). */
typedef struct {
  DWORD ProcessId; /* pid inside the compute system */
  DWORD Reserved;  /* padding, always 0 */
  HANDLE StdInput; /* write end for the caller, or NULL / INVALID_HANDLE_VALUE */
  HANDLE StdOutput;
  HANDLE StdError;
} HCS_PROCESS_INFORMATION;

#endif /* !_WIN32 */

/* The ABI facts the rest of the code relies on. */
_Static_assert(sizeof(WCHAR) == 2, "WCHAR must be a 16-bit UTF-16 code unit");
_Static_assert(sizeof(HRESULT) == 4, "HRESULT is 32-bit");
_Static_assert(sizeof(DWORD) == 4, "DWORD is 32-bit");
_Static_assert(sizeof(HCS_EVENT_TYPE) == 4, "HCS_EVENT_TYPE is a 32-bit enum");
_Static_assert(sizeof(HCS_PROCESS_INFORMATION) == 8 + 3 * sizeof(void *),
               "HCS_PROCESS_INFORMATION: 32 bytes on x64, 20 on x86");
_Static_assert(offsetof(HCS_PROCESS_INFORMATION, StdInput) == 8, "StdInput after 2 DWORDs");
_Static_assert(sizeof(HCS_EVENT) == (sizeof(void *) == 8 ? 24 : 12), "HCS_EVENT layout");

/* HRESULTs used by the backends and the emulator (docs/hcs-api.md §4.1). Named COW__HR_* so they
 * never clash with SDK macros. The v1 (vmcompute) forms are 0xC037xxxx. */
#define COW__HR(x)                                    ((HRESULT)(int32_t)(uint32_t)(x))
#define COW__HR_S_OK                                  COW__HR(0x00000000u)
#define COW__HR_E_NOTIMPL                             COW__HR(0x80004001u)
#define COW__HR_E_POINTER                             COW__HR(0x80004003u)
#define COW__HR_E_FAIL                                COW__HR(0x80004005u)
#define COW__HR_E_OUTOFMEMORY                         COW__HR(0x8007000Eu)
#define COW__HR_E_INVALIDARG                          COW__HR(0x80070057u)
#define COW__HR_ACCESS_DENIED                         COW__HR(0x80070005u)
#define COW__HR_INVALID_HANDLE                        COW__HR(0x80070006u)
#define COW__HR_FILE_NOT_FOUND                        COW__HR(0x80070002u)
#define COW__HR_PATH_NOT_FOUND                        COW__HR(0x80070003u)
#define COW__HR_INVALID_DATA                          COW__HR(0x8007000Du)
#define COW__HR_NOT_SUPPORTED                         COW__HR(0x80070032u)
#define COW__HR_PROC_NOT_FOUND                        COW__HR(0x8007007Fu)
#define COW__HR_ALREADY_EXISTS                        COW__HR(0x800700B7u)
#define COW__HR_NOT_FOUND                             COW__HR(0x80070490u)
#define COW__HR_TIMEOUT                               COW__HR(0x800705B4u)
#define COW__HR_V1_OPERATION_PENDING                  COW__HR(0xC0370103u)
#define COW__HR_V1_INVALID_STATE                      COW__HR(0xC0370105u)
#define COW__HR_V1_UNEXPECTED_EXIT                    COW__HR(0xC0370106u)
#define COW__HR_V1_INVALID_JSON                       COW__HR(0xC037010Du)
#define COW__HR_V1_SYSTEM_NOT_FOUND                   COW__HR(0xC037010Eu)
#define COW__HR_V1_SYSTEM_ALREADY_EXISTS              COW__HR(0xC037010Fu)
#define COW__HR_V1_SYSTEM_ALREADY_STOPPED             COW__HR(0xC0370110u)
#define COW__HR_INVALID_STATE                         COW__HR(0x80370105u)
#define COW__HR_UNEXPECTED_EXIT                       COW__HR(0x80370106u)
#define COW__HR_TERMINATED                            COW__HR(0x80370107u)
#define COW__HR_INVALID_JSON                          COW__HR(0x8037010Du)
#define COW__HR_SYSTEM_NOT_FOUND                      COW__HR(0x8037010Eu)
#define COW__HR_SYSTEM_ALREADY_EXISTS                 COW__HR(0x8037010Fu)
#define COW__HR_SYSTEM_ALREADY_STOPPED                COW__HR(0x80370110u)
#define COW__HR_OPERATION_NOT_STARTED                 COW__HR(0x80370115u)
#define COW__HR_OPERATION_ALREADY_STARTED             COW__HR(0x80370116u)
#define COW__HR_OPERATION_PENDING                     COW__HR(0x80370117u)
#define COW__HR_OPERATION_TIMEOUT                     COW__HR(0x80370118u)
#define COW__HR_OPERATION_SYSTEM_CALLBACK_ALREADY_SET COW__HR(0x80370119u)
#define COW__HR_PROCESS_INFO_NOT_AVAILABLE            COW__HR(0x8037011Du)
#define COW__HR_SERVICE_DISCONNECT                    COW__HR(0x8037011Eu)
#define COW__HR_PROCESS_ALREADY_STOPPED               COW__HR(0x8037011Fu)

/* v1 ServiceDisconnect is 0x01000000, v2 is 0x02000000 (docs/hcs-api.md §2.3 pitfall). */
#define COW__HCS_V1_NOTIFY_SERVICE_DISCONNECT 0x01000000u
#define COW__HCS_V2_EVENT_SERVICE_DISCONNECT  0x02000000u

#endif

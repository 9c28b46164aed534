/** @file cow/hcs.h
 * @brief Compute systems of the Windows Host Compute Service, through vmcompute.dll (HCS v1,
 *
 * schema1 documents) or computecore.dll (HCS v2, schema2 documents, HCS_OPERATION based).
 *
 * A compute system is a cow_container_t: start, shutdown, terminate, pause, resume,
 * properties, modify, wait and close are the calls of <cow/container.h>, and
 * cow_container_host() runs processes in it (cow_host_create_process() with a schema1 ProcessConfig
 * for v1 or a schema2 ProcessParameters for v2). This header adds the constructors and typed
 * builders of the common documents. JSON crosses it as UTF-8 text; no jansson header is needed.
 *
 * The DLL is chosen at run time: on Windows the real DLL from System32 (a missing DLL or
 * export is COW_EBACKEND_UNAVAILABLE, never a crash); on Linux the embedded emulator of the
 * DLL, which runs Container systems as real process trees. Tests may pass a table.
 *
 * Semantics follow hcsshim (internal/hcs and internal/hcs/v2): shutdown and terminate of a
 * stopped or vanished system succeed; a kill goes through a second system handle so it is
 * never queued behind another signal; the exit code of a process is snapshotted at its
 * exit notification; a console process always gets a stdin pipe; every failure keeps the
 * raw HRESULT (cow_error_t.sys_code) and the service's ResultError document
 * (cow_error_t.detail_json). Pause and resume wait for the service to finish
 * (HcsPause/ResumeComputeSystem; v1: the Pause/ResumeCompleted notification); Windows
 * pauses Hyper-V isolated systems only and answers ERROR_NOT_SUPPORTED (COW_ENOTSUP, in the
 * callback) for process-isolated ones, while the Linux emulator really freezes its process
 * trees. The async contract is the one in <cow/process.h>.
 */
#ifndef COW_HCS_H
#define COW_HCS_H

#include "alloc.h"
#include "common.h"
#include "container.h"
#include "error.h"

COW_BEGIN_DECLS

/** Which DLL API. The numbering is ABI. */
typedef enum cow_hcs_api {
  COW_HCS_V1 = 1, /**< vmcompute.dll (legacy; schema1 documents) */
  COW_HCS_V2 = 2  /**< computecore.dll (Windows 10 1809 and later; schema2 documents) */
} cow_hcs_api_t;

/** The version of cow_hcs_options_t this header describes. */
#define COW_HCS_OPTIONS_VERSION 1

/** How to reach HCS: the options of cow_hcs_create_system() and cow_hcs_open_system().
 *  Start from COW_HCS_OPTIONS_INIT (or cow_hcs_options_init()); fields are only ever
 *  appended, and `version` tells the library which exist. */
typedef struct cow_hcs_options {
  unsigned int version; /**< COW_HCS_OPTIONS_VERSION */
  cow_hcs_api_t api;    /**< which DLL API; default COW_HCS_V2 */
  /** NULL: the DLL (Windows) or the emulator (Linux). Otherwise a filled function table of
   *  the internal layout `struct cow__computecore_api` (v2) or `struct cow__vmcompute_api`
   *  (v1), for tests that interpose on the DLL. Borrowed: it must outlive every handle
   *  created with it. */
  const void *dll_table;
  /** Bound on the create (or open) operation in ms; 0: none (hcsshim uses 4 minutes).
   *  When it expires the system is terminated and the callback gets COW_ETIMEDOUT. */
  uint64_t create_timeout_ms;
} cow_hcs_options_t;

/** The defaults of cow_hcs_options_t: HCS v2, the DLL or the emulator, no create bound. */
#define COW_HCS_OPTIONS_INIT                                                                       \
  {                                                                                                \
    COW_HCS_OPTIONS_VERSION, COW_HCS_V2, NULL, 0                                                   \
  }

/** Fill `opts` with the defaults (same as COW_HCS_OPTIONS_INIT). Thread: any.
 *  @param opts The options (started from their _INIT macro or _init() function); read during the
 *              call only. */
COW_HCS_EXTERN void cow_hcs_options_init(cow_hcs_options_t *opts);

/** 0 when `api` can be used on this machine; COW_EBACKEND_UNAVAILABLE otherwise, with
 *  `err` (may be NULL; the caller clears it) naming the missing DLL or export.
 *  Thread: any.
 *  @param api COW_HCS_V1 or COW_HCS_V2.
 *  @param err Receives which DLL or export is missing (may be NULL; the caller clears it with
 *             cow_error_clear()).
 *  @return 0 on success, or a negative COW_E* code. */
COW_HCS_EXTERN int cow_hcs_available(cow_hcs_api_t api, cow_error_t *err);

/** Create a compute system `id` (UTF-8, copied) from `config_json` (UTF-8, copied: a schema1
 *  ContainerConfig or a schema2 ComputeSystem for v1; a schema2 ComputeSystem for v2,
 *  passed through unchanged), on `loop`. Then register for its notifications and read its
 *  basic properties (hcsshim CreateComputeSystem); the system is created, not started.
 *
 *  The handle is returned at once in `*out` so that waits can be attached and the handle
 *  closed while creation is in flight; `cb` reports whether creation succeeded. Either way
 *  the caller owns `*out` and must cow_container_close() it. Closing does not stop the
 *  system unless its document asked for that (ShouldTerminateOnLastHandleClosed).
 *  A failed creation also releases the container's waiters with the failure.
 *  Ownership: `*out` belongs to the caller. Thread: loop thread.
 *  Callback: exactly once on the loop thread when 0 is returned, never inside this call.
 *  @retval COW_EINVAL a NULL argument, `opts` not initialised (version 0), an unknown
 *  `api`, or `id`/`config_json` not valid UTF-8. @retval COW_EVERSION `opts` from a newer
 *  library. @retval COW_EBACKEND_UNAVAILABLE the DLL cannot be loaded. @retval COW_ENOMEM out of
 * memory
 *  @param out Receives the container handle (NULL on failure).
 *  @param loop The caller's libuv loop; the handle is bound to it and used on its thread.
 *  @param opts The options (started from their _INIT macro or _init() function); read during the
 *              call only.
 *  @param id The id, UTF-8; copied.
 *  @param config_json The backend configuration document, UTF-8 JSON; copied.
 *  @param cb Completion callback: runs exactly once, later, on the loop thread, when 0 is returned.
 *  @param data User data, handed to @p cb unchanged.
 *  @return 0 on success, or a negative COW_E* code. */
COW_HCS_EXTERN int cow_hcs_create_system(cow_container_t **out, struct uv_loop_s *loop,
                                         const cow_hcs_options_t *opts, const char *id,
                                         const char *config_json, cow_container_cb cb, void *data);

/** Open an existing compute system `id` (hcsshim OpenComputeSystem): a second, independent
 *  handle. Same ownership, thread and callback rules as cow_hcs_create_system(); an unknown
 *  id fails through the callback with COW_ENOENT (HRESULT 0x8037010E/0xC037010E).
 *  @param out Receives the container handle (NULL on failure).
 *  @param loop The caller's libuv loop; the handle is bound to it and used on its thread.
 *  @param opts The options (started from their _INIT macro or _init() function); read during the
 *              call only.
 *  @param id The id, UTF-8; copied.
 *  @param cb Completion callback: runs exactly once, later, on the loop thread, when 0 is returned.
 *  @param data User data, handed to @p cb unchanged.
 *  @return 0 on success, or a negative COW_E* code. */
COW_HCS_EXTERN int cow_hcs_open_system(cow_container_t **out, struct uv_loop_s *loop,
                                       const cow_hcs_options_t *opts, const char *id,
                                       cow_container_cb cb, void *data);

/* ---- typed builders. Each returns 0 and a NUL-terminated UTF-8 document in `*out`
 * (release it with cow_free()), or COW_EINVAL (bad argument; `*out` NULL), COW_EVERSION
 * (a params struct from a newer library) or COW_ENOMEM. A string that JSON cannot carry
 * (not UTF-8) is refused with COW_EINVAL, never dropped or altered, and `err` names it:
 * the field and, in a list, the index ("CommandArgs[2] is not valid UTF-8"). They check
 * shape, not meaning: HCS has the last word. The signal document of Linux guests is
 * cow_signal_options_json() (<cow/process.h>). Thread: any. ---- */

/** The version of cow_hcs_process_params_t this header describes. */
#define COW_HCS_PROCESS_PARAMS_VERSION 1

/** Process parameters shared by schema1 ProcessConfig and schema2 ProcessParameters. A NULL
 *  string or list is omitted. Start from COW_HCS_PROCESS_PARAMS_INIT (or
 *  cow_hcs_process_params_init()); fields are only ever appended. Borrowed by the builder
 *  only. */
typedef struct cow_hcs_process_params {
  unsigned int version;            /**< COW_HCS_PROCESS_PARAMS_VERSION */
  const char *application_name;    /**< ApplicationName: the executable (Windows) */
  const char *command_line;        /**< Windows-quoted command line */
  const char *const *command_args; /**< argv (LCOW), NULL-terminated */
  const char *const *environment;  /**< "NAME=VALUE" entries, NULL-terminated */
  const char *working_directory;   /**< WorkingDirectory */
  const char *user;                /**< User: the account the process runs as */
  int emulate_console;     /**< a console (tty); forces a stdin pipe (a console process without
                                stdin exits at once on Windows with 0xC000013A) */
  int create_stdin;        /**< CreateStdInPipe: nonzero for a stdin pipe */
  int create_stdout;       /**< CreateStdOutPipe: nonzero for a stdout pipe */
  int create_stderr;       /**< CreateStdErrPipe: nonzero for a stderr pipe */
  uint16_t console_width;  /**< initial console width in columns; 0 with height 0: unset */
  uint16_t console_height; /**< initial console height in rows */
} cow_hcs_process_params_t;

/** The defaults of cow_hcs_process_params_t: everything omitted, no pipes, no console. */
#define COW_HCS_PROCESS_PARAMS_INIT                                                                \
  {                                                                                                \
    COW_HCS_PROCESS_PARAMS_VERSION, NULL, NULL, NULL, NULL, NULL, NULL, 0, 0, 0, 0, 0, 0           \
  }

/** Fill `params` with the defaults (same as COW_HCS_PROCESS_PARAMS_INIT). Thread: any.
 *  @param params The parameters (started from their _INIT macro or _init() function); read during
 *                the call only. */
COW_HCS_EXTERN void cow_hcs_process_params_init(cow_hcs_process_params_t *params);

/** `schema` 1: a schema1 ProcessConfig (ConsoleSize always written, as hcsshim does);
 *  2: a schema2 ProcessParameters (ConsoleSize only when set). An environment entry
 *  without '=' is COW_EINVAL.
 *  @param out Receives the document, NUL-terminated UTF-8, released with cow_free() (NULL on
 *             failure).
 *  @param params The parameters (started from their _INIT macro or _init() function); read during
 *                the call only.
 *  @param schema 1: a schema1 ProcessConfig; 2: a schema2 ProcessParameters.
 *  @param err Receives what was refused (cleared first); may be NULL.
 *  @return 0 on success, or a negative COW_E* code. */
COW_HCS_EXTERN int cow_hcs_process_params_json(char **out, const cow_hcs_process_params_t *params,
                                               int schema, cow_error_t *err);

/** The version of cow_hcs_system_params_t this header describes. */
#define COW_HCS_SYSTEM_PARAMS_VERSION 1

/** The common fields of a compute system document. Start from COW_HCS_SYSTEM_PARAMS_INIT
 *  (or cow_hcs_system_params_init()); fields are only ever appended. Borrowed by the
 *  builder only. */
typedef struct cow_hcs_system_params {
  unsigned int version;                /**< COW_HCS_SYSTEM_PARAMS_VERSION */
  const char *owner;                   /**< "Owner"; NULL: omitted */
  int terminate_on_last_handle_closed; /**< schema2 ShouldTerminateOnLastHandleClosed /
                                            schema1 TerminateOnLastHandleClosed */
  const char *container_json;          /**< schema2: the "Container" object as JSON text
                                            (NULL: {}); must be a JSON object */
  const char *host_name;               /**< schema1 HostName; NULL: omitted */
} cow_hcs_system_params_t;

/** The defaults of cow_hcs_system_params_t: no owner, an empty Container, no host name. */
#define COW_HCS_SYSTEM_PARAMS_INIT                                                                 \
  {                                                                                                \
    COW_HCS_SYSTEM_PARAMS_VERSION, NULL, 0, NULL, NULL                                             \
  }

/** Fill `params` with the defaults (same as COW_HCS_SYSTEM_PARAMS_INIT). Thread: any.
 *  @param params The parameters (started from their _INIT macro or _init() function); read during
 *                the call only. */
COW_HCS_EXTERN void cow_hcs_system_params_init(cow_hcs_system_params_t *params);

/** A schema2 ComputeSystem document, SchemaVersion 2.1, holding a Container.
 *  @param out Receives the document, NUL-terminated UTF-8, released with cow_free() (NULL on
 *             failure).
 *  @param params The parameters (started from their _INIT macro or _init() function); read during
 *                the call only.
 *  @param err Receives what was refused (cleared first); may be NULL.
 *  @return 0 on success, or a negative COW_E* code. */
COW_HCS_EXTERN int cow_hcs_compute_system_json(char **out, const cow_hcs_system_params_t *params,
                                               cow_error_t *err);

/** A schema1 ContainerConfig document for a container named `name` (SystemType "Container",
 *  no layers: an emulator or process-isolated test system).
 *  @param out Receives the document, NUL-terminated UTF-8, released with cow_free() (NULL on
 *             failure).
 *  @param name The container's name (copied into the document).
 *  @param params The parameters (started from their _INIT macro or _init() function); read during
 *                the call only.
 *  @param err Receives what was refused (cleared first); may be NULL.
 *  @return 0 on success, or a negative COW_E* code. */
COW_HCS_EXTERN int cow_hcs_container_config_json(char **out, const char *name,
                                                 const cow_hcs_system_params_t *params,
                                                 cow_error_t *err);

/** SignalProcessOptions for Windows: {"Signal": "CtrlC"|"CtrlBreak"|"CtrlClose"|
 *  "CtrlLogOff"|"CtrlShutdown"}; any other name is COW_EINVAL.
 *  @param out Receives the document, NUL-terminated UTF-8, released with cow_free() (NULL on
 *             failure).
 *  @param signal_name The console control event's name.
 *  @param err Receives what was refused (cleared first); may be NULL.
 *  @return 0 on success, or a negative COW_E* code. */
COW_HCS_EXTERN int cow_hcs_signal_options_windows_json(char **out, const char *signal_name,
                                                       cow_error_t *err);

/** A property query {"PropertyTypes": [...]} from a NULL-terminated list of type names
 *  ("Statistics", "ProcessList", "Memory", ...); NULL or empty gives {} (basic properties).
 *  @param out Receives the document, NUL-terminated UTF-8, released with cow_free() (NULL on
 *             failure).
 *  @param property_types A NULL-terminated list of property type names, or NULL.
 *  @param err Receives what was refused (cleared first); may be NULL.
 *  @return 0 on success, or a negative COW_E* code. */
COW_HCS_EXTERN int cow_hcs_property_query_json(char **out, const char *const *property_types,
                                               cow_error_t *err);

/** A schema2 ModifySettingRequest: `resource_path` ("Container/Memory/SizeInMB"),
 *  `request_type` ("Add", "Remove", "Update"), `settings_json` (any JSON value as text;
 *  NULL: omitted).
 *  @param out Receives the document, NUL-terminated UTF-8, released with cow_free() (NULL on
 *             failure).
 *  @param resource_path The resource path of the setting.
 *  @param request_type "Add", "Remove" or "Update".
 *  @param settings_json The settings, any JSON value as text; NULL: omitted.
 *  @param err Receives what was refused (cleared first); may be NULL.
 *  @return 0 on success, or a negative COW_E* code. */
COW_HCS_EXTERN int cow_hcs_modify_setting_json(char **out, const char *resource_path,
                                               const char *request_type, const char *settings_json,
                                               cow_error_t *err);

COW_END_DECLS

#endif /* COW_HCS_H */

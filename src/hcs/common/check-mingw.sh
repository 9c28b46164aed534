#!/bin/sh
# Syntax-check the Windows-only HCS sources with mingw-w64 against its own computecore
# headers (C11, all warnings as errors). Exit status non-zero on failure. Usage (any cwd):
#   src/hcs/common/check-mingw.sh
set -eu
root=$(cd "$(dirname "$0")/../../.." && pwd)
cc=${MINGW_CC:-x86_64-w64-mingw32-gcc}
if ! command -v "$cc" >/dev/null 2>&1; then
  echo "check-mingw: $cc not found (apt-get install gcc-mingw-w64-x86-64-win32)" >&2
  exit 2
fi
status=0
for f in "$root/src/hcs/common/bind-win.c" "$root/src/hcs/common/utf16.c"; do
  for def in "" "-D_WIN32_WINNT=0x0A00"; do
    # shellcheck disable=SC2086
    if ! "$cc" -std=c11 -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
        -Wno-unused-parameter -Werror -fsyntax-only $def \
        -I "$root/include" -I "$root/src" "$f"; then
      echo "check-mingw: FAILED $f $def" >&2
      status=1
    fi
  done
done
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# The backends also include <uv.h> and <jansson.h>. Only those headers are copied from the
# host include directory (never the whole of it: glibc headers would shadow mingw's);
# libuv's uv/win.h is part of every libuv -dev package.
hostinc=${HOST_INCLUDE:-/usr/include}
if [ -f "$hostinc/uv.h" ] && [ -f "$hostinc/uv/win.h" ] && [ -f "$hostinc/jansson.h" ]; then
  mkdir -p "$tmp/inc/uv"
  cp "$hostinc/uv.h" "$hostinc"/jansson*.h "$tmp/inc/"
  cp "$hostinc"/uv/*.h "$tmp/inc/uv/"
  for f in "$root"/src/hcs/common/stdio.c "$root"/src/hcs/common/api.c \
           "$root"/src/hcs/common/state.c "$root"/src/hcs/common/hcs-error.c \
           "$root"/src/hcs/common/builders.c "$root"/src/hcs/v1/*.c "$root"/src/hcs/v2/*.c; do
    if ! "$cc" -std=c11 -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
        -Wno-unused-parameter -Werror -fsyntax-only -D_WIN32_WINNT=0x0A00 \
        -I "$root/include" -I "$root/src" -I "$tmp/inc" "$f"; then
      echo "check-mingw: FAILED $f" >&2
      status=1
    fi
  done
else
  echo "check-mingw: libuv/jansson headers not found in $hostinc: backends not checked" >&2
  status=1
fi
# The API headers also have to agree with mingw's computecore.h prototypes.
cat > "$tmp/agree.c" <<'C'
#include "hcs/common/computecore-api.h"
#include <computecore.h>
static struct cow__computecore_api t;
void cow__check(void);
void cow__check(void)
{
  t.HcsCreateOperation = HcsCreateOperation;
  t.HcsWaitForOperationResultAndProcessInfo = HcsWaitForOperationResultAndProcessInfo;
  t.HcsCreateComputeSystem = HcsCreateComputeSystem;
  t.HcsOpenComputeSystem = HcsOpenComputeSystem;
  t.HcsShutDownComputeSystem = HcsShutDownComputeSystem;
  t.HcsModifyComputeSystem = HcsModifyComputeSystem;
  t.HcsSetComputeSystemCallback = HcsSetComputeSystemCallback;
  t.HcsCreateProcess = HcsCreateProcess;
  t.HcsOpenProcess = HcsOpenProcess;
  t.HcsCloseProcess = HcsCloseProcess;
  t.HcsTerminateProcess = HcsTerminateProcess;
  t.HcsSignalProcess = HcsSignalProcess;
  t.HcsGetProcessInfo = HcsGetProcessInfo;
  t.HcsGetProcessProperties = HcsGetProcessProperties;
  t.HcsModifyProcess = HcsModifyProcess;
  t.HcsSetProcessCallback = HcsSetProcessCallback;
  t.HcsWaitForProcessExit = HcsWaitForProcessExit;
  t.HcsGetServiceProperties = HcsGetServiceProperties;
  t.HcsSetOperationCallback = HcsSetOperationCallback;
  t.HcsGetOperationResult = HcsGetOperationResult;
  t.HcsCancelOperation = HcsCancelOperation;
  t.HcsEnumerateComputeSystems = HcsEnumerateComputeSystems;
  t.HcsWaitForComputeSystemExit = HcsWaitForComputeSystemExit;
}
C
if ! "$cc" -std=c11 -Wall -Wextra -Werror -fsyntax-only -I "$root/include" -I "$root/src" \
    "$tmp/agree.c"; then
  echo "check-mingw: FAILED computecore-api.h does not match mingw's computecore.h" >&2
  status=1
fi
[ "$status" -eq 0 ] && echo "check-mingw: OK"
exit "$status"

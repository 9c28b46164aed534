#!/usr/bin/env bash
# libcow on Windows: cross-build with mingw-w64, run the Windows test executables under wine64.
# Recipe and gotchas: docs/building.md §2 and §5 (G3-G7).
#
#   1. packages  mingw-w64 (win32 threads), wine64, dpkg-dev (for dpkg-source)
#   2. deps      libuv1, jansson, cmocka from the Debian source packages, cross-built into
#                build-windows/deps/prefix. Cached: skipped while that prefix is complete.
#   3. build     libcow with cmake/mingw-w64-x86_64.cmake (the emulator is off on Windows)
#   4. wine      ctest under wine64 with a persistent wineserver; the wine prefix is deleted
#                at the end whatever happened
#   5. HCS DLLs  cow-run.exe where Wine has no HCS DLL (exit 125, names computecore.dll),
#                lcow-exec.exe where Wine has no AF_HYPERV (exit 125, EBACKEND_UNAVAILABLE);
#                then stub HCS DLLs that lack exports in System32: the hcs-stub test and
#                cow-run.exe again (exit 125, names the missing export)
#
# Usage (any cwd, as root or with passwordless sudo): .ci/windows.sh
# Exit status non-zero on any failure. Cold: about 2 minutes on 2 cores; warm: under 1.
set -euo pipefail

exec </dev/null                       # nothing may wait for input
export DEBIAN_FRONTEND=noninteractive

cd "$(dirname "${BASH_SOURCE[0]}")/.."   # the repository root
ROOT=$PWD
WIN=$ROOT/build-windows
DEPS=$WIN/deps
PREFIX=$DEPS/prefix
BUILD=$WIN/cow
TOOLCHAIN=$ROOT/cmake/mingw-w64-x86_64.cmake
JOBS=2

START=$(date +%s)
STEP=""
STEP_START=$START
step() {
  STEP="$1"
  STEP_START=$(date +%s)
  printf '\n-- windows: %s   (t+%ss)\n' "$STEP" "$((STEP_START - START))"
}
step_done() {
  local now
  now=$(date +%s)
  printf -- '-- windows: %s: OK in %ss\n' "$STEP" "$((now - STEP_START))"
}

SUDO=()
if [[ $(id -u) -ne 0 ]]; then
  SUDO=(sudo -n)                      # -n: fail rather than prompt
fi

# ---------------------------------------------------------------------------------------------
step "packages"
# wine64 without the `wine` package: no /usr/bin/wine, no wine32 (docs/building.md §2.1, G6).
# --no-upgrade: naming dpkg-dev must not upgrade dpkg on the image (G10).
PKGS=(gcc-mingw-w64-x86-64-win32 wine64 dpkg-dev)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  # The package lists may be absent on a fresh image; .ci/run has refreshed them already.
  if ! apt-cache show "${missing[0]}" >/dev/null 2>&1; then
    "${SUDO[@]}" apt-get -o Acquire::Retries=3 update
  fi
  "${SUDO[@]}" apt-get -o Acquire::Retries=3 install -y --no-install-recommends --no-upgrade \
    "${missing[@]}"
fi
WINE=/usr/lib/wine/wine64
WINESERVER=/usr/lib/wine/wineserver
x86_64-w64-mingw32-gcc --version | head -n1
"$WINE" --version
step_done

# ---------------------------------------------------------------------------------------------
step "deps (libuv, jansson, cmocka for Win64)"
export MINGW_DEPS_PREFIX=$PREFIX     # read by the toolchain file inside try_compile()
if [[ -f $PREFIX/.complete ]]; then
  echo "cached: $PREFIX (delete it to rebuild)"
else
  rm -rf "$DEPS"
  mkdir -p "$DEPS"
  # Debian's sources through a private apt configuration (docs/building.md §2.2).
  bash "$ROOT/.ci/debian-source.sh" "$DEPS" libuv1 jansson cmocka
  common=(-G Ninja "-DCMAKE_TOOLCHAIN_FILE=$TOOLCHAIN" "-DMINGW_DEPS_PREFIX=$PREFIX"
          "-DCMAKE_INSTALL_PREFIX=$PREFIX" -DCMAKE_BUILD_TYPE=Release -Wno-dev)
  build_dep() {   # <name> <source dir pattern> <cmake args...>
    local name=$1 src
    src=$(find "$DEPS/src" -mindepth 1 -maxdepth 1 -type d -name "$2" | head -n1)
    shift 2
    # Third-party code: its own warnings are not ours to fix, and only clutter the log.
    cmake -S "$src" -B "$DEPS/bd/$name" "${common[@]}" -DCMAKE_C_FLAGS=-w "$@" >/dev/null
    cmake --build "$DEPS/bd/$name" -j"$JOBS" >/dev/null
    cmake --install "$DEPS/bd/$name" >/dev/null
    echo "built $name from $(basename "$src")"
  }
  build_dep libuv 'libuv1-*' -DBUILD_TESTING=OFF -DLIBUV_BUILD_TESTS=OFF -DLIBUV_BUILD_BENCH=OFF
  build_dep jansson 'jansson-*' -DJANSSON_BUILD_DOCS=OFF -DJANSSON_WITHOUT_TESTS=ON \
    -DJANSSON_EXAMPLES=OFF
  build_dep cmocka 'cmocka-*' -DWITH_STATIC_LIB=ON -DWITH_EXAMPLES=OFF -DUNIT_TESTING=OFF
  # cmocka.pc says -lcmocka and mingw's ld prefers libcmocka.dll.a: make the static library
  # the only one, so the test executables need no cmocka.dll (G3).
  mv -f "$PREFIX/lib/libcmocka-static.a" "$PREFIX/lib/libcmocka.a"
  rm -f "$PREFIX/lib/libcmocka.dll.a" "$PREFIX/bin/cmocka.dll"
  touch "$PREFIX/.complete"
fi
PKG_CONFIG_LIBDIR=$PREFIX/lib/pkgconfig pkg-config --modversion libuv-static jansson cmocka
step_done

# ---------------------------------------------------------------------------------------------
step "build libcow (mingw-w64, Debug)"
# --fresh: the wine path is cached by the toolchain file (G4), and a stale cache from an
# earlier layout must not leak in. COW_BUILD_STATIC=OFF: Windows compiles the archive from
# sources of its own (no shared objects there, docs/installing.md), the tests link neither
# kind, and the two kinds are checked on Linux (tests/install); this saves a third compile.
cmake --fresh -S "$ROOT" -B "$BUILD" -G Ninja "-DCMAKE_TOOLCHAIN_FILE=$TOOLCHAIN" \
  "-DMINGW_DEPS_PREFIX=$PREFIX" -DCMAKE_BUILD_TYPE=Debug -DCOW_BUILD_STATIC=OFF
grep -q "^WINE_EXECUTABLE:FILEPATH=/" "$BUILD/CMakeCache.txt" ||
  { echo "wine was not found at configure time: ctest would run .exe files natively" >&2; exit 1; }
cmake --build "$BUILD" -j"$JOBS"
# Only system DLLs and our own: the HCS DLLs must never be load-time imports (G7).
for exe in "$BUILD"/src/libcow.dll "$BUILD"/tests/*/*.exe "$BUILD"/examples/*.exe; do
  if x86_64-w64-mingw32-objdump -p "$exe" | grep -iE 'DLL Name: (computecore|vmcompute)'; then
    echo "$exe imports an HCS DLL at load time: it could not start without Hyper-V" >&2
    exit 1
  fi
done
step_done

# ---------------------------------------------------------------------------------------------
step "tests under wine64"
export WINEPREFIX=$WIN/wineprefix
export WINEDEBUG=-all
export WINEDLLOVERRIDES="mscoree,mshtml="   # no Mono/Gecko install prompts, faster prefix
wine_cleanup() {
  "$WINESERVER" -k >/dev/null 2>&1 || true
  "$WINESERVER" -w >/dev/null 2>&1 || true
  # The server's socket directory is named after the prefix's device and inode, inside a
  # /tmp/wine-XXXXXX of its own: remove ours, or every run leaves one behind.
  if [[ -d $WINEPREFIX ]]; then
    local srv d
    srv=$(printf 'server-%x-%x' "$(stat -c %d "$WINEPREFIX")" "$(stat -c %i "$WINEPREFIX")")
    for d in /tmp/wine-*/"$srv"; do
      [[ -d $d ]] || continue
      rm -rf "$d"
      rmdir "$(dirname "$d")" 2>/dev/null || true
    done
  fi
  rm -rf "$WINEPREFIX"                      # about 700 MB (docs/building.md §2.6)
}
trap wine_cleanup EXIT
rm -rf "$WINEPREFIX"
mkdir -p "$WINEPREFIX"                      # wineserver -p fails if the directory is missing
# The order matters (G5): a persistent server first, with no stdio of ours; then one wine
# command with stdio on /dev/null, so that services.exe and winedevice.exe inherit
# /dev/null rather than ctest's pipes (otherwise ctest waits for them forever).
"$WINESERVER" -p </dev/null >/dev/null 2>&1
"$WINE" wineboot --init </dev/null >/dev/null 2>&1
ctest --test-dir "$BUILD" --output-on-failure --timeout 120 -j"$JOBS" -LE windows
# The Windows-only suite verbosely: its log shows the errors a user would see.
# hcs-stub needs the stub DLLs in System32: the next step.
ctest --test-dir "$BUILD" --verbose --timeout 120 -L windows -LE hcs-stub
step_done

# ---------------------------------------------------------------------------------------------
step "HCS DLLs absent, then lacking exports (cow-run.exe, hcs-stub); no AF_HYPERV (lcow-exec.exe)"
SYS32=$WINEPREFIX/drive_c/windows/system32
STUBS=(computecore.dll vmcompute.dll)
for d in "${STUBS[@]}"; do
  [[ ! -e $SYS32/$d ]] || { echo "$SYS32/$d exists before the stubs were copied" >&2; exit 1; }
done
# cow-run.exe must reach the binding, fail there with 125 and name the DLL, and run nothing
# locally (no "hi" on stdout). Its stdio on files, never a pipe of ours (G5).
cow_run_expect() {   # <what the message must name> [cow-run options...]
  local want=$1 out=$WIN/cow-run.out errf=$WIN/cow-run.err rc=0
  shift
  "$WINE" "$BUILD/examples/cow-run.exe" "$@" -- cmd /c echo hi </dev/null >"$out" 2>"$errf" ||
    rc=$?
  echo "cow-run.exe${*:+ $*} -- cmd /c echo hi: exit $rc"
  sed 's/^/  stderr: /' "$errf"
  sed 's/^/  stdout: /' "$out"
  if [[ $rc -ne 125 ]] || ! grep -q "computecore.dll" "$errf" || ! grep -q -- "$want" "$errf" ||
     [[ -s $out ]]; then
    echo "cow-run.exe: expected exit 125, a message naming computecore.dll and '$want'," \
         "and nothing on stdout" >&2
    exit 1
  fi
}
cow_run_expect "cannot be loaded"
cow_run_expect "cannot be loaded" -i -t   # the -i/-t set-up too: stdin, the SIGWINCH watcher
# lcow-exec.exe on Hyper-V sockets: Wine has no AF_HYPERV, so the listen must fail at once
# with exit 125 and say which transport is unavailable.
lx_out=$WIN/lcow-exec.out lx_err=$WIN/lcow-exec.err lx_rc=0
"$WINE" "$BUILD/examples/lcow-exec.exe" --hvsock d2ae8a2d-5dc4-4b6c-a2c4-2dfb0e3c9b1e -- true \
  </dev/null >"$lx_out" 2>"$lx_err" || lx_rc=$?
echo "lcow-exec.exe --hvsock VMID -- true: exit $lx_rc"
sed 's/^/  stderr: /' "$lx_err"
if [[ $lx_rc -ne 125 ]] || ! grep -q "Hyper-V sockets.*EBACKEND_UNAVAILABLE" "$lx_err" ||
   [[ -s $lx_out ]]; then
  echo "lcow-exec.exe: expected exit 125 and EBACKEND_UNAVAILABLE for Hyper-V sockets" >&2
  exit 1
fi
lx_rc=0   # a malformed VM id is a usage error (exit 2), found before anything listens
"$WINE" "$BUILD/examples/lcow-exec.exe" --hvsock not-a-guid -- true </dev/null >"$lx_out" \
  2>"$lx_err" || lx_rc=$?
echo "lcow-exec.exe --hvsock not-a-guid -- true: exit $lx_rc"
if [[ $lx_rc -ne 2 ]] || ! grep -q "needs the utility VM's id as a GUID" "$lx_err"; then
  sed 's/^/  stderr: /' "$lx_err"
  echo "lcow-exec.exe: expected exit 2 for a malformed --hvsock VM id" >&2
  exit 1
fi
for d in "${STUBS[@]}"; do cp "$BUILD/tests/hcs/$d" "$SYS32/$d"; done
COW_EXPECT_HCS_STUB=1 ctest --test-dir "$BUILD" --verbose --timeout 120 -L hcs-stub
cow_run_expect "has no export HcsSetOperationContext"
for d in "${STUBS[@]}"; do rm -f "$SYS32/$d"; done
step_done

printf -- '-- windows: all OK in %ss\n' "$(($(date +%s) - START))"

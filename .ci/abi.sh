#!/usr/bin/env bash
# The ABI check of libcow.so (docs/installing.md "ABI"), with libabigail (Debian abigail-tools).
#
#   .ci/abi.sh [check|baseline] [BUILD_DIR]        (default: check build)
#
# check     abidw the built library (public headers only: --headers-dir include) and compare
#           it with the committed baseline of its SONAME, abi/<SONAME>.abi, through the
#           suppressions of abi/libcow.abignore (the backend tier, appended options fields,
#           *__MAX enumerators). Additions pass (they are listed). Any other change fails:
#           removed functions (abidiff bit 8, incompatible) and changed ones (bit 4: a
#           parameter, a return type, a struct that callers allocate). An intended break
#           bumps COW_SOVERSION in CMakeLists.txt and commits the new SONAME's baseline;
#           without a baseline for the SONAME the check fails too.
# baseline  write abi/<SONAME>.abi from the build (what `cmake --build build --target
#           abi-baseline` runs). Make it from the README build (gcc, Debug): the baseline
#           records what that compiler's debug info says.
#
# Cost: about 2 s (abidw + abidiff of a ~250 KB description).
set -euo pipefail
mode=${1:-check}
build=${2:-build}
cd "$(dirname "${BASH_SOURCE[0]}")/.."
root=$PWD

lib="$build/src/libcow.so"
if [[ ! -e $lib ]]; then
  echo "abi: $lib not found: build the shared library first (COW_BUILD_SHARED=ON)" >&2
  exit 1
fi
soname=$(readelf -d "$lib" | sed -n 's/.*Library soname: \[\(.*\)\].*/\1/p')
if [[ -z $soname ]]; then
  echo "abi: $lib has no SONAME" >&2
  exit 1
fi
if ! readelf -S "$lib" | grep -q '\.debug_info'; then
  echo "abi: $lib has no debug info: build with -g (CMAKE_BUILD_TYPE=Debug or RelWithDebInfo)" >&2
  exit 1
fi
baseline="$root/abi/$soname.abi"
dump() {   # dump OUT: the public ABI of the library, without build paths
  abidw --no-corpus-path --short-locs --headers-dir "$root/include" --drop-private-types \
    --drop-undefined-syms --out-file "$1" "$lib"
}

case $mode in
baseline)
  dump "$baseline"
  echo "abi: wrote ${baseline#"$root"/} ($(grep -c '<elf-symbol ' "$baseline") symbols); commit it"
  ;;
check)
  if [[ ! -f $baseline ]]; then
    echo "abi: no baseline for $soname (abi/$soname.abi)." >&2
    echo "  The SONAME changed: if on purpose, write its baseline with" >&2
    echo "  'cmake --build $build --target abi-baseline' and commit it (docs/installing.md \"ABI\")." >&2
    exit 1
  fi
  current="$build/abi/current.abi"
  mkdir -p "$build/abi"
  dump "$current"
  rc=0
  abidiff --suppressions "$root/abi/libcow.abignore" --no-added-syms "$baseline" "$current" \
    >"$build/abi/report.txt" || rc=$?
  added=$(abidiff --suppressions "$root/abi/libcow.abignore" "$baseline" "$current" |
    sed -n "s/^  \[A\] 'function [^']*'.*{\([^}]*\)}.*/\1/p" | tr '\n' ' ' || true)
  if [[ -n $added ]]; then
    echo "abi: added since the baseline (compatible): $added"
  fi
  if [[ $rc -ne 0 ]]; then
    cat "$build/abi/report.txt"
    echo >&2
    echo "abi: FAILED: the consumer ABI of $soname changed incompatibly (abidiff exit $rc:" \
         "bit 4 = changed, bit 8 = removed, bits 1-2 = tool error)." >&2
    echo "  Keep the ABI (append, do not change), or break it on purpose: bump COW_SOVERSION" >&2
    echo "  in CMakeLists.txt, rebuild, 'cmake --build $build --target abi-baseline', and" >&2
    echo "  commit abi/<new SONAME>.abi (docs/installing.md \"ABI\")." >&2
    exit 1
  fi
  echo "abi: $soname matches abi/$soname.abi (no removed or changed function or type)"
  ;;
*)
  echo "usage: .ci/abi.sh [check|baseline] [BUILD_DIR]" >&2
  exit 2
  ;;
esac

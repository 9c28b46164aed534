#!/usr/bin/env bash
# jansson from its Debian source package, built with the fuzz build's instrumentation, for
# the libFuzzer binaries of tests/fuzz:
#
#   tests/fuzz/build-jansson.sh PREFIX [SANITIZER-FLAGS]
#
# The system's libjansson is not instrumented, so without this libFuzzer sees nothing of
# what happens inside the JSON parser and explores little behind it (docs/reliability.md,
# "Fuzzing"). PREFIX receives include/ and lib/libjansson.a; configure the fuzz build with
# -DCOW_FUZZ_JANSSON=PREFIX. SANITIZER-FLAGS default to the CI's ASan + UBSan set; the
# coverage instrumentation (-fsanitize=fuzzer-no-link) is always added. The result is
# cached: PREFIX/.complete (with the flags it was built with) makes a rerun free; delete
# PREFIX to rebuild. About 30 s cold (download and build).
set -euo pipefail
if (($# < 1)); then
  echo "usage: $0 PREFIX [SANITIZER-FLAGS]" >&2
  exit 2
fi
PREFIX=$(mkdir -p "$1" && cd "$1" && pwd)
SAN=${2:-"-fsanitize=address,undefined -fno-sanitize-recover=all"}
FLAGS="-g -O1 -fno-omit-frame-pointer -fsanitize=fuzzer-no-link $SAN"
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

if [[ -f $PREFIX/.complete && $(cat "$PREFIX/.complete") == "$FLAGS" ]]; then
  echo "instrumented jansson: cached in $PREFIX"
  exit 0
fi
rm -rf "$PREFIX/work" "$PREFIX/include" "$PREFIX/lib" "$PREFIX/.complete"
bash "$ROOT/.ci/debian-source.sh" "$PREFIX/work" jansson >/dev/null
src=$(find "$PREFIX/work/src" -mindepth 1 -maxdepth 1 -type d -name 'jansson-*' | head -n1)
# Third-party code: its own warnings are not ours to fix.
cmake -S "$src" -B "$PREFIX/work/build" -G Ninja -DCMAKE_C_COMPILER=clang \
  -DCMAKE_BUILD_TYPE=Debug "-DCMAKE_C_FLAGS=$FLAGS -w" "-DCMAKE_INSTALL_PREFIX=$PREFIX" \
  -DJANSSON_BUILD_SHARED_LIBS=OFF -DJANSSON_BUILD_DOCS=OFF \
  -DJANSSON_WITHOUT_TESTS=ON -DJANSSON_EXAMPLES=OFF -Wno-dev >/dev/null
cmake --build "$PREFIX/work/build" -j2 >/dev/null
cmake --install "$PREFIX/work/build" >/dev/null
rm -rf "$PREFIX/work"
printf '%s' "$FLAGS" > "$PREFIX/.complete"
echo "instrumented jansson $(basename "$src") in $PREFIX"

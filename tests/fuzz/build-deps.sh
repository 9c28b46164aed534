#!/usr/bin/env bash
# The parsers the fuzzed code hands bytes to, built from their Debian source packages with
# the fuzz build's instrumentation, for the libFuzzer binaries:
#
#   tests/fuzz/build-deps.sh PREFIX [SANITIZER-FLAGS]
#
#   jansson     (the guest's and the DLLs' JSON)            PREFIX/lib/libjansson.a
#   protobuf-c  (containerd's messages, fuzz_ttrpc)          PREFIX/lib/libprotobuf-c.a
#
# The system's libraries are not instrumented, so without these libFuzzer sees nothing of
# what happens inside the JSON or protobuf parser and explores little behind it
# (docs/reliability.md, "Fuzzing"). PREFIX receives include/ and lib/; configure the fuzz
# build with -DCOW_FUZZ_DEPS=PREFIX. The versions are Debian's, the same as the -dev
# packages the rest of the build uses (so the headers agree). SANITIZER-FLAGS default to
# the CI's ASan + UBSan set; the coverage instrumentation (-fsanitize=fuzzer-no-link) is
# always added. The result is cached: PREFIX/.complete (with the flags it was built with)
# makes a rerun free; delete PREFIX to rebuild. About 40 s cold (download and build).
set -euo pipefail
if (($# < 1)); then
  echo "usage: $0 PREFIX [SANITIZER-FLAGS]" >&2
  exit 2
fi
PREFIX=$(mkdir -p "$1" && cd "$1" && pwd)
SAN=${2:-"-fsanitize=address,undefined -fno-sanitize-recover=all"}
FLAGS="-g -O1 -fno-omit-frame-pointer -fsanitize=fuzzer-no-link $SAN"
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
STAMP="jansson protobuf-c: $FLAGS"

if [[ -f $PREFIX/.complete && $(cat "$PREFIX/.complete") == "$STAMP" ]]; then
  echo "instrumented jansson and protobuf-c: cached in $PREFIX"
  exit 0
fi
rm -rf "$PREFIX/work" "$PREFIX/include" "$PREFIX/lib" "$PREFIX/.complete"
bash "$ROOT/.ci/debian-source.sh" "$PREFIX/work" jansson protobuf-c >/dev/null
srcdir() { find "$PREFIX/work/src" -mindepth 1 -maxdepth 1 -type d -name "$1-*" | head -n1; }

# Third-party code: its own warnings are not ours to fix (-w).
jansson=$(srcdir jansson)
cmake -S "$jansson" -B "$PREFIX/work/build" -G Ninja -DCMAKE_C_COMPILER=clang \
  -DCMAKE_BUILD_TYPE=Debug "-DCMAKE_C_FLAGS=$FLAGS -w" "-DCMAKE_INSTALL_PREFIX=$PREFIX" \
  -DJANSSON_BUILD_SHARED_LIBS=OFF -DJANSSON_BUILD_DOCS=OFF \
  -DJANSSON_WITHOUT_TESTS=ON -DJANSSON_EXAMPLES=OFF -Wno-dev >/dev/null
cmake --build "$PREFIX/work/build" -j2 >/dev/null
cmake --install "$PREFIX/work/build" >/dev/null

# protobuf-c's runtime is one C file; its build system would also want the C++ protobuf
# compiler for protoc-c, which the fuzzers do not need (the build's protoc-c is Debian's).
pbc=$(srcdir protobuf-c)
mkdir -p "$PREFIX/include/protobuf-c" "$PREFIX/lib"
# shellcheck disable=SC2086 # FLAGS is a list of flags
clang $FLAGS -w -I"$pbc" -c "$pbc/protobuf-c/protobuf-c.c" -o "$PREFIX/work/protobuf-c.o"
ar rcs "$PREFIX/lib/libprotobuf-c.a" "$PREFIX/work/protobuf-c.o"
cp "$pbc/protobuf-c/protobuf-c.h" "$PREFIX/include/protobuf-c/"

rm -rf "$PREFIX/work"
printf '%s' "$STAMP" > "$PREFIX/.complete"
echo "instrumented $(basename "$jansson") and $(basename "$pbc") in $PREFIX"

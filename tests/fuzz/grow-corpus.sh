#!/usr/bin/env bash
# Grow the fuzz corpus kept in the repository (tests/fuzz/corpus/<target>/): run each
# libFuzzer binary from the seeds (the recordings and documents, `test_fuzz_<t>
# --write-seeds`) plus what is kept, then keep the minimal set of inputs that reaches the
# same coverage (libFuzzer's -merge=1), without the seeds themselves (they are rebuilt from
# the recordings on every run). test_fuzz_<t> in the README suite replays the kept inputs
# and mutates them; the libFuzzer phase of .ci/run starts from them.
#
#   tests/fuzz/grow-corpus.sh BUILD_DIR [SECONDS] [TARGET...]
#
# BUILD_DIR is a clang build with -DCOW_BUILD_FUZZERS=ON, best with jansson and protobuf-c
# instrumented (-DCOW_FUZZ_DEPS=PREFIX from tests/fuzz/build-deps.sh), or libFuzzer cannot
# see inside the JSON and protobuf parsers. SECONDS per target (default 120). TARGETs
# default to every fuzz_* binary in BUILD_DIR. Review the result with
# `git status tests/fuzz/corpus` and commit it.
set -euo pipefail
if (($# < 1)); then
  echo "usage: $0 BUILD_DIR [SECONDS] [TARGET...]" >&2
  exit 2
fi
build=$(cd "$1" && pwd)
secs=${2:-120}
shift $(($# >= 2 ? 2 : 1))
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
targets=("$@")
if ((${#targets[@]} == 0)); then
  for f in "$build"/tests/fuzz/fuzz_*; do
    targets+=("${f##*/fuzz_}")
  done
fi
if ((${#targets[@]} == 0)); then
  echo "grow-corpus: no fuzz_* binaries in $build/tests/fuzz (configure with -DCOW_BUILD_FUZZERS=ON)" >&2
  exit 1
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for t in "${targets[@]}"; do
  fz=$build/tests/fuzz/fuzz_$t
  [[ -x $fz ]] || { echo "grow-corpus: $fz not found" >&2; exit 1; }
  kept=$root/tests/fuzz/corpus/$t
  mkdir -p "$kept" "$work/$t/run" "$work/$t/seeds" "$work/$t/merged"
  "$build/tests/fuzz/test_fuzz_$t" --write-seeds "$work/$t/seeds" >/dev/null
  cp "$work/$t/seeds"/. "$work/$t/run/" -r
  cp -r "$kept"/. "$work/$t/run/"
  ASAN_OPTIONS=detect_leaks=1 "$fz" "$work/$t/run" -max_total_time="$secs" -rss_limit_mb=2048 \
    -artifact_prefix="$work/$t/crash-" >"$work/$t/log" 2>&1 || {
    tail -n 40 "$work/$t/log" >&2
    echo "grow-corpus: fuzz_$t failed; keep the input and fix the bug first" >&2
    exit 1
  }
  "$fz" -merge=1 "$work/$t/merged" "$work/$t/run" >"$work/$t/merge.log" 2>&1
  # libFuzzer names an input by the SHA-1 of its bytes: a seed is dropped by that name, and
  # so is a copy of a regression input. Regression inputs are the kept files with names of
  # their own (field-zero-mount): they stay whatever coverage they add. --write-seeds
  # writes the kept corpus too, and those inputs are not seeds.
  declare -A kept_sum=() named_sum=()
  for k in "$kept"/*; do
    [[ -f $k ]] || continue
    h=$(sha1sum <"$k" | cut -c1-40)
    kept_sum[$h]=1
    [[ ${k##*/} =~ ^[0-9a-f]{40}$ ]] || named_sum[$h]=1
  done
  for s in "$work/$t/seeds"/*; do
    h=$(sha1sum <"$s" | cut -c1-40)
    [[ -n ${kept_sum[$h]:-} && -z ${named_sum[$h]:-} ]] || rm -f "$work/$t/merged/$h"
  done
  find "$kept" -type f -regextype posix-extended -regex '.*/[0-9a-f]{40}' -delete
  mkdir -p "$kept" && cp -r "$work/$t/merged"/. "$kept/"
  unset kept_sum named_sum
  echo "grow-corpus: $t: $(find "$kept" -type f | wc -l) inputs kept," \
    "$(grep -E '^#[0-9]+.*cov:' "$work/$t/log" | tail -n 1 | grep -oE 'cov: [0-9]+ ft: [0-9]+')"
done

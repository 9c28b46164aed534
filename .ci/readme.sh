#!/usr/bin/env bash
# The README's shell blocks, run as a new user runs them: extracted from README.md itself
# (never a copy), each run with `bash -c` exactly as written, in a clean clone of HEAD, in an
# order that shows each one does what it says whatever ran before it:
#
#   1. try it          (build without tests, run cow-run)    prints the cow-run result
#   2. the guest demo  before the test build                  stops at once: no peer binary
#   3. the test suite  (the README test command)              every test passes
#   4. the guest demo  after the test build                   prints the lcow-exec result
#
# What each must print is listed below, and README.md must say it too (so the prose and the
# check cannot drift apart). The README test command must be identical to the one .ci/run
# holds (its first argument).
#
# Usage: .ci/readme.sh 'README TEST COMMAND'      (as root, on Debian 12: the blocks apt-get)
# The clone is build-readme/ (its test build in build-readme/build, which .ci/run reuses);
# the logs are build-readme-logs/. Costs about 20 s more than the test command alone (two
# more apt-get runs and configures).
set -euo pipefail

if [[ $# -ne 1 ]]; then
  echo "usage: $0 'README TEST COMMAND'" >&2
  exit 2
fi
TEST_COMMAND=$1
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD
CLONE=$ROOT/build-readme
LOGS=$ROOT/build-readme-logs
UVM=/tmp/uvm # the port directory the guest demo names

if [[ -n $(git status --porcelain --untracked-files=no) ]]; then
  echo "note: uncommitted changes are not in the clone; this checks commit $(git rev-parse --short HEAD)"
fi
rm -rf "$CLONE" "$LOGS"
mkdir -p "$LOGS"
git clone -q "$ROOT" "$CLONE"
uvm_existed=0
[[ -e $UVM ]] && uvm_existed=1

# The ```sh blocks of README.md, NUL-separated (a block may span lines).
mapfile -d '' BLOCKS < <(awk '
  /^```sh[[:space:]]*$/ { inside = 1; block = ""; next }
  /^```[[:space:]]*$/   { if (inside) printf "%s%c", block, 0; inside = 0; next }
  inside                { block = block (block == "" ? "" : "\n") $0 }
' "$CLONE/README.md")
if [[ ${#BLOCKS[@]} -ne 3 ]]; then
  echo "README.md has ${#BLOCKS[@]} sh blocks; this check knows three (try it, test suite, guest demo)" >&2
  exit 1
fi
TRY=${BLOCKS[0]}
SUITE=${BLOCKS[1]}
GUEST=${BLOCKS[2]}
if [[ $SUITE != "$TEST_COMMAND" ]]; then
  printf 'the README test command differs from .ci/run'"'"'s README_TEST_COMMAND:\n  README: %s\n  .ci/run: %s\n' \
    "$SUITE" "$TEST_COMMAND" >&2
  exit 1
fi

TRY_SAYS=("hello from a libcow compute system" "cow-run exited with 3")
GUEST_SAYS=("hello from the guest" "lcow-exec exited with 4")
NO_PEER_SAYS=("cow-gcs-peer: No such file or directory")
for s in "${TRY_SAYS[@]}" "${GUEST_SAYS[@]}" "${NO_PEER_SAYS[@]}"; do
  if ! grep -qF -- "$s" "$CLONE/README.md"; then
    echo "README.md no longer says '$s', which this check expects the blocks to print" >&2
    exit 1
  fi
done

STEP=0
# run_block NAME WANT_STATUS(ok|fail) BLOCK [must-print...]; a "!" before a string: must not.
run_block() {
  local name=$1 want=$2 block=$3
  shift 3
  STEP=$((STEP + 1))
  local log=$LOGS/$STEP-$name.log rc=0 t0
  printf '\n-- %s. %s\n+ %s\n' "$STEP" "$name" "$block"
  t0=$(date +%s)
  (cd "$CLONE" && bash -c "$block") 2>&1 | tee "$log" || rc=${PIPESTATUS[0]}
  printf -- '-- %s: exit status %s after %ss\n' "$name" "$rc" "$(($(date +%s) - t0))"
  if [[ $want == ok && $rc -ne 0 ]] || [[ $want == fail && $rc -eq 0 ]]; then
    echo "README block '$name' exited with $rc (expected: $want); its output is in $log" >&2
    exit 1
  fi
  for s in "$@"; do
    if [[ $s == '!'* ]]; then
      if grep -qF -- "${s#!}" "$log"; then
        echo "README block '$name' printed '${s#!}', which it must not; see $log" >&2
        exit 1
      fi
    elif ! grep -qF -- "$s" "$log"; then
      echo "README block '$name' did not print '$s'; its output is in $log" >&2
      exit 1
    fi
  done
}

run_block try-it ok "$TRY" "${TRY_SAYS[@]}"
# Only the examples are built so far: the demo must stop at once and say why, not wait for
# a guest that never comes nor print a result.
run_block guest-without-peer fail "$GUEST" "${NO_PEER_SAYS[@]}" "!lcow-exec exited with"
run_block test-suite ok "$SUITE" "tests passed, 0 tests failed"
run_block guest ok "$GUEST" "${GUEST_SAYS[@]}"
if [[ $uvm_existed -eq 0 ]]; then
  rm -rf "$UVM"
fi
echo "README blocks: all four steps printed what the README says"

#!/usr/bin/env bash
# The fault and bad-input matrix of docs/reliability.md, from one run: lcow-exec against
# cow-gcs-peer with each of the peer's fault switches (a guest that drops the bridge, sends
# garbage, oversized or truncated frames, answers late, out of order, never, or dies), and
# bad input from the caller. Each row states what must happen (exit code and a part of
# the message) and the time it took; a row that does not happen as stated fails the run.
# Times are printed, never asserted (a loaded machine is slower, not wrong).
#
#   tests/examples/fault-matrix.sh BUILD_DIR     (or LCOW_EXEC PEER: what CTest's
#                                                    examples_fault_matrix passes)
#
# Prints a Markdown table on stdout; exit 1 if any row failed.
set -uo pipefail
if (($# == 2)); then
  lx=$1 peer=$2
else
  build=$(cd "${1:?usage: fault-matrix.sh BUILD_DIR | LCOW_EXEC PEER}" && pwd)
  lx=$build/examples/lcow-exec
  peer=$build/tests/peer/cow-gcs-peer
fi
for b in "$lx" "$peer"; do
  [[ -x $b ]] || { echo "fault-matrix: $b not built" >&2; exit 1; }
done
dir=$(mktemp -d /tmp/cow-fault-matrix-XXXXXX)
trap 'pkill -KILL -f -- "--port-dir $dir( |$)" 2>/dev/null; rm -rf "$dir"' EXIT
mkdir -p "$dir/bundle"
printf '%s\n' '{"ociVersion":"1.0.2","process":{"args":["true"],"env":["PATH=/usr/bin:/bin"],"cwd":"/"},"root":{"path":"rootfs"},"linux":{}}' \
  >"$dir/bundle/config.json"
failed=0

now_ms() { echo $(($(date +%s%N) / 1000000)); }

# row WHAT EXPECT_CODE EXPECT_TEXT PEER_ARGS -- LCOW_ARGS...
# PEER_ARGS "none" starts no peer; "kill:MS" starts a plain peer and SIGKILLs it MS after
# the command started in it.
row() {
  local what=$1 want_code=$2 want_text=$3 pflags=$4
  shift 5
  local ppid="" killer="" t0 t1 code out
  case $pflags in
  none) ;;
  kill:*)
    "$peer" --port-dir "$dir" 2>/dev/null &
    ppid=$!
    disown "$ppid"
    # Killed once the command runs (the peer's child `sleep`) plus MS: a loaded machine
    # makes this later, never a kill before the guest connected.
    (
      for _ in $(seq 400); do pgrep -P "$ppid" -x sleep >/dev/null && break; sleep 0.05; done
      sleep "$(awk "BEGIN{print ${pflags#kill:}/1000}")"
      kill -KILL "$ppid" 2>/dev/null
    ) &
    killer=$!
    ;;
  *)
    # shellcheck disable=SC2086
    "$peer" --port-dir "$dir" $pflags 2>/dev/null &
    ppid=$!
    disown "$ppid" # its end (or our SIGKILL) is not a job notice
    ;;
  esac
  t0=$(now_ms)
  out=$(timeout -k 2 60 "$lx" --port-dir "$dir" "$@" 2>&1 >/dev/null)
  code=$?
  t1=$(now_ms)
  [[ -n $killer ]] && wait "$killer" 2>/dev/null
  if [[ -n $ppid ]]; then
    for _ in $(seq 50); do kill -0 "$ppid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$ppid" 2>/dev/null
  fi
  local first verdict=ok left
  first=$(printf '%s\n' "$out" | grep -v '^$' | head -n 1 | cut -c1-150)
  left=$(find "$dir" -maxdepth 1 -type s | wc -l)
  if [[ $code -ne $want_code ]] || ! grep -qF -- "$want_text" <<<"$out" || [[ $left -ne 0 ]]; then
    verdict="**FAILED** (wanted exit $want_code and \`$want_text\`; sockets left: $left)"
    failed=1
    echo "fault-matrix: $what: exit $code, output: $out" >&2
  fi
  find "$dir" -maxdepth 1 -type s -delete
  printf '| %s | %s | %s | %s ms | %s |\n' "$what" "$code" "${first//|/\\|}" "$((t1 - t0))" "$verdict"
}

C=(--container c1 --bundle "$dir/bundle" --layer /run/layers/p0)
echo "| fault | exit | first line on stderr | time | verdict |"
echo "|---|---|---|---|---|"
row "none (a well-behaved guest)" 0 "" "" -- -- true
row "guest answers every frame 200 ms late" 0 "" "--delay-ms 200" -- -- true
row "guest answers out of order" 0 "" "--reorder" -- -- true
row "guest notifies for unknown containers" 0 "" "--notify-unknown" -- -- true
# After 2 frames (the negotiate and ExecuteProcess answers) the command is running.
row "guest drops the bridge while the command runs" 125 "EBRIDGE_CLOSED" "--drop-after 2" -- -- sleep 2
row "guest sends garbage while the command runs" 125 "EBRIDGE_CLOSED" "--garbage-after 2" -- -- sleep 2
row "guest sends an oversized frame while it runs" 125 "EBRIDGE_CLOSED" "--oversize-after 2" -- -- sleep 2
row "guest truncates a frame while it runs" 125 "EBRIDGE_CLOSED" "--truncate-after 2" -- -- sleep 2
row "guest never answers ExecuteProcess (--rpc-timeout 2)" 125 "no answer to ExecuteProcess" \
  "--never-answer ExecuteProcess" -- --rpc-timeout 2 -- true
row "guest never answers DeleteContainerState (--rpc-timeout 2)" 0 \
  "no answer to DeleteContainerState" "--never-answer DeleteContainerState" -- \
  --rpc-timeout 2 "${C[@]}" -- true
row "guest drops the bridge before the clean-up" 0 "skipped, left in the guest" \
  "--drop-after 6" -- "${C[@]}" -- true
row "guest killed (SIGKILL) 500 ms into the command (sleep 30)" 125 "EBRIDGE_CLOSED" "kill:500" -- -- sleep 30
row "no guest dials (--timeout 1)" 125 "no guest connected" none -- --timeout 1 -- true
row "caller: an argument that is not UTF-8" 2 "is not valid UTF-8" none -- -- echo $'\xff'
row "caller: an unknown option" 2 "unknown option" none -- --no-such-option -- true
row "caller: no command" 2 "" none --
exit $failed

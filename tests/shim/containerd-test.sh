#!/usr/bin/env bash
# The containerd tests of containerd-shim-cow-v1: each case starts a private containerd
# (own root, state, sockets and config under $COW_WORK/<case>; no system service), imports
# the busybox image built by make-image.sh, puts the shim on containerd's PATH (the `opt`
# plugin's bin directory) and drives `ctr`. After the case, containerd is stopped and the
# test fails if anything is left behind: a process of the case (they carry
# COW_TEST_MARK=<case dir> in their environment), a shim, a mount, a shim socket in
# /run/containerd/s, a fifo.
#
#   containerd-test.sh CASE     (CASE: a function named case_CASE below)
# Environment: COW_SHIM (the shim binary), COW_PEER (cow-gcs-peer), COW_IMAGE (the image
# archive), COW_WORK (a directory for the cases). Needs root and Debian's containerd.
set -euo pipefail

CASE=${1:?usage: containerd-test.sh CASE}
exec 3>&2 # failures reach the log even from inside $(...)
fail() {
  echo "FAIL [$CASE]: $*" >&3
  exit 1
}
[[ $(id -u) -eq 0 ]] || fail "the containerd tests need root (they run a private containerd)"
for tool in containerd ctr script sha256sum; do
  command -v "$tool" >/dev/null ||
    fail "$tool is not installed; the containerd tests need Debian's containerd (apt-get install containerd)"
done
: "${COW_SHIM:?}" "${COW_PEER:?}" "${COW_IMAGE:?}" "${COW_WORK:?}"
[[ -f $COW_IMAGE ]] || fail "no image at $COW_IMAGE (the containerd_image test builds it)"

D=$COW_WORK/$CASE
SOCK=$D/containerd.sock
MARK=COW_TEST_MARK=$D
IDS=()  # container ids the case used: their shim sockets are checked at the end
CTD_PID=""
FAILED=0

# ---- waiting with deadlines ----

# run_for SECONDS WHAT CMD...: run CMD; a CMD still running after SECONDS is killed and the
# case fails naming WHAT. Prints CMD's output; returns its status.
run_for() {
  local secs=$1 what=$2 rc=0
  shift 2
  timeout -s KILL "$secs" "$@" || rc=$?
  if [[ $rc -eq 137 ]]; then
    fail "$what did not finish within $secs s"
  fi
  return $rc
}

# c ARGS...: ctr against this case's containerd, 60 s at most.
c() {
  run_for 60 "ctr $*" ctr -a "$SOCK" "$@"
}

# wait_until SECONDS WHAT CMD...: retry CMD (quietly) every 0.1 s until it succeeds.
wait_until() {
  local secs=$1 what=$2 i
  shift 2
  for ((i = 0; i < secs * 10; i++)); do
    if "$@" >/dev/null 2>&1; then
      return 0
    fi
    sleep 0.1
  done
  fail "$what never happened within $secs s"
}

expect_eq() { # WHAT EXPECTED ACTUAL
  if [[ "$2" != "$3" ]]; then
    fail "$1: expected [$2], got [$3]"
  fi
}

# ---- a private containerd ----

write_config() {
  cat >"$D/config.toml" <<EOF
version = 2
root = "$D/root"
state = "$D/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "$SOCK"
[ttrpc]
  address = "$SOCK.ttrpc"
[debug]
  level = "debug"
[plugins]
  [plugins."io.containerd.internal.v1.opt"]
    path = "$D/opt"
EOF
}

start_containerd() {
  containerd --config "$D/config.toml" >>"$D/containerd.log" 2>&1 &
  CTD_PID=$!
  wait_until 20 "containerd answering on $SOCK" ctr -a "$SOCK" version
}

stop_containerd() {
  [[ -n $CTD_PID ]] || return 0
  kill -TERM "$CTD_PID" 2>/dev/null || true
  local i
  for ((i = 0; i < 100; i++)); do
    kill -0 "$CTD_PID" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$CTD_PID" 2>/dev/null; then
    echo "FAIL [$CASE]: containerd did not stop within 10 s of SIGTERM" >&2
    kill -KILL "$CTD_PID" 2>/dev/null || true
    FAILED=1
  fi
  wait "$CTD_PID" 2>/dev/null || true
  CTD_PID=""
}

shim_socket() { # ID -> the path containerd's shims listen on
  local h
  h=$(printf '%s' "$SOCK/default/$1" | sha256sum | cut -d' ' -f1)
  echo "/run/containerd/s/$h"
}

# ---- the end of every case: nothing may be left behind ----

leftover() {
  echo "FAIL [$CASE]: left behind: $*" >&2
  FAILED=1
}

check_and_clean() {
  local pid pids="" m
  # Tasks still known to containerd: the case should have deleted them.
  if [[ -n $CTD_PID ]]; then
    local tasks
    tasks=$(timeout -s KILL 20 ctr -a "$SOCK" task ls -q 2>/dev/null || true)
    if [[ -n $tasks ]]; then
      leftover "tasks: $tasks"
      for t in $tasks; do
        timeout -s KILL 20 ctr -a "$SOCK" task kill -s KILL "$t" >/dev/null 2>&1 || true
        timeout -s KILL 20 ctr -a "$SOCK" task delete "$t" >/dev/null 2>&1 || true
      done
    fi
  fi
  stop_containerd
  # Processes of the case (the marker is in their environment) and shims of its containerd.
  for pid in /proc/[0-9]*; do
    pid=${pid#/proc/}
    [[ $pid == "$$" ]] && continue
    if { tr '\0' '\n' <"/proc/$pid/environ"; } 2>/dev/null | grep -qxF "$MARK" ||
      { tr '\0' ' ' <"/proc/$pid/cmdline"; } 2>/dev/null | grep -qF -- "-address $SOCK "; then
      pids+=" $pid"
    fi
  done
  if [[ -n $pids ]]; then
    for pid in $pids; do
      leftover "process $pid: $({ tr '\0' ' ' <"/proc/$pid/cmdline"; } 2>/dev/null)"
    done
    kill -KILL $pids 2>/dev/null || true
  fi
  # Mounts under the case's directory.
  while read -r m; do
    leftover "mount $m"
    umount -l "$m" 2>/dev/null || true
  done < <(awk -v d="$D" 'index($5, d) == 1 { print $5 }' /proc/self/mountinfo | sort -r)
  # Shim sockets and port directories.
  for id in "${IDS[@]}"; do
    m=$(shim_socket "$id")
    for p in "$m" "$m".*; do
      if [[ -e $p ]]; then
        leftover "$p (shim of $id)"
        rm -rf "$p"
      fi
    done
  done
  # Fifos (ctr makes them in --fifo-dir, the shim must not keep any alive).
  if [[ -d $D/fifo ]] && [[ -n $(find "$D/fifo" -type p 2>/dev/null) ]]; then
    leftover "fifos: $(find "$D/fifo" -type p | tr '\n' ' ')"
  fi
}

finish() {
  local rc=$?
  trap - EXIT
  check_and_clean
  # A sanitizer build of the shim reports on its stderr, which containerd logs.
  if grep -qE 'AddressSanitizer|LeakSanitizer|runtime error:' "$D/containerd.log" 2>/dev/null; then
    echo "FAIL [$CASE]: a sanitizer reported an error in the shim:" >&2
    grep -E 'Sanitizer|runtime error:|#[0-9]+ ' "$D/containerd.log" | head -n 40 >&2
    FAILED=1
  fi
  if [[ $rc -ne 0 || $FAILED -ne 0 ]]; then
    echo "---- containerd log (shim lines and errors) of $CASE ----" >&2
    grep -E 'io.containerd.cow.v1|level=(error|warning)' "$D/containerd.log" 2>/dev/null | tail -n 80 >&2 || true
    exit 1
  fi
  rm -rf "$D"
  echo "PASS [$CASE]"
}

# ---- the cases ----

# Runtime flags: the cow shim with the hcs backend (the HCS emulator on Linux).
HCS=()
LCOW=()

# ctr run --rm: output and exit code through the cow shim.
case_run_rm() {
  IDS+=(rm1)
  local rc=0
  c run --rm --fifo-dir "$D/fifo" --env "$MARK" "${HCS[@]}" local/busybox:1 rm1 \
    sh -c 'echo hello from the cow shim; echo to stderr >&2; exit 7' \
    </dev/null >"$D/out" 2>"$D/err" || rc=$?
  expect_eq "exit code of ctr run" 7 "$rc"
  expect_eq "stdout of ctr run" "hello from the cow shim" "$(cat "$D/out")"
  expect_eq "stderr of ctr run" "to stderr" "$(cat "$D/err")"
}

# ---- main ----

declare -F "case_$CASE" >/dev/null || fail "no case $CASE"
rm -rf "$D"
mkdir -p "$D/opt/bin" "$D/fifo"
ln -s "$COW_SHIM" "$D/opt/bin/containerd-shim-cow-v1"
printf '{"backend": "hcs"}\n' >"$D/hcs.json"
printf '{"backend": "lcow", "launcher": ["%s", "--port-dir", "{port_dir}"]}\n' "$COW_PEER" >"$D/lcow.json"
HCS=(--runtime io.containerd.cow.v1 --runtime-config-path "$D/hcs.json")
LCOW=(--runtime io.containerd.cow.v1 --runtime-config-path "$D/lcow.json")
write_config
trap finish EXIT
start_containerd
c images import "$COW_IMAGE" >/dev/null
"case_$CASE"

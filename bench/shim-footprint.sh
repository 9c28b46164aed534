#!/usr/bin/env bash
# containerd-shim-cow-v1 beside Debian's containerd-shim-runc-v2, in one run, against one
# private containerd (nothing of the system's containerd is used):
#   - the memory of each shim serving one idle container (VmRSS, PSS, threads); for lcow
#     the utility VM (here cow-gcs-peer) is a process of its own, reported apart;
#   - the wall time of `ctr run --rm IMAGE ID true` through each runtime, RUNS times,
#     interleaved (runc, cow/hcs, cow/lcow, runc, ...) so that the machine's load falls on
#     all alike: min / median / max, and the medians as ratios to runc's.
#
#   bench/shim-footprint.sh BUILD_DIR [RUNS]      as root; BUILD_DIR holds the shim and
#                                                 tests/peer/cow-gcs-peer (Release: build-rel)
# Needs containerd (Debian's, with containerd-shim-runc-v2 and runc) and busybox-static.
# Targets (docs/shim.md, "Footprint"): under 2 MiB RSS for the cow shim; its `ctr run --rm`
# no slower than runc's on the emulator (hcs).
set -euo pipefail

BUILD=$(cd "${1:?usage: shim-footprint.sh BUILD_DIR [RUNS]}" && pwd)
RUNS=${2:-20}
SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SHIM=$BUILD/shim/containerd-shim-cow-v1
PEER=$BUILD/tests/peer/cow-gcs-peer
for f in "$SHIM" "$PEER"; do
  [[ -x $f ]] || { echo "shim-footprint: $f is missing (build $BUILD first)" >&2; exit 1; }
done
[[ $(id -u) -eq 0 ]] || { echo "shim-footprint: needs root (a private containerd)" >&2; exit 1; }
command -v containerd-shim-runc-v2 >/dev/null || { echo "shim-footprint: install containerd" >&2; exit 1; }

D=$BUILD/bench-shim
SOCK=$D/containerd.sock
rm -rf "$D"
mkdir -p "$D/opt/bin" "$D/fifo"
ln -s "$SHIM" "$D/opt/bin/containerd-shim-cow-v1"
cat >"$D/config.toml" <<EOF
version = 2
root = "$D/root"
state = "$D/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "$SOCK"
[ttrpc]
  address = "$SOCK.ttrpc"
[plugins]
  [plugins."io.containerd.internal.v1.opt"]
    path = "$D/opt"
EOF
printf '{"backend": "hcs"}\n' >"$D/hcs.json"
printf '{"backend": "lcow", "launcher": ["%s", "--port-dir", "{port_dir}", "--mount-layers"]}\n' \
  "$PEER" >"$D/lcow.json"

containerd --config "$D/config.toml" >"$D/containerd.log" 2>&1 &
CTD=$!
cleanup() {
  for t in $(ctr -a "$SOCK" task ls -q 2>/dev/null); do
    ctr -a "$SOCK" task kill -s KILL "$t" >/dev/null 2>&1 || true
  done
  sleep 0.5
  for t in $(ctr -a "$SOCK" task ls -q 2>/dev/null); do
    ctr -a "$SOCK" task delete "$t" >/dev/null 2>&1 || true
  done
  for c in $(ctr -a "$SOCK" container ls -q 2>/dev/null); do
    ctr -a "$SOCK" container rm "$c" >/dev/null 2>&1 || true
  done
  kill "$CTD" 2>/dev/null || true
  wait "$CTD" 2>/dev/null || true
  rm -rf "$D"
}
trap cleanup EXIT
for _ in $(seq 100); do
  ctr -a "$SOCK" version >/dev/null 2>&1 && break
  sleep 0.1
done
bash "$SRC/tests/shim/make-image.sh" "$D/busybox.tar"
ctr -a "$SOCK" images import "$D/busybox.tar" >/dev/null

declare -A RT=(
  [runc]="--runtime io.containerd.runc.v2"
  [cow-hcs]="--runtime io.containerd.cow.v1 --runtime-config-path $D/hcs.json"
  [cow-lcow]="--runtime io.containerd.cow.v1 --runtime-config-path $D/lcow.json"
)
ORDER=(runc cow-hcs cow-lcow)

kb() { # PID FIELD FILE
  awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/$3"
}

echo "== one idle container per shim (sleep), memory of the shim process"
printf '%-10s %10s %10s %8s   %s\n' runtime "VmRSS kB" "PSS kB" threads "also"
for rt in "${ORDER[@]}"; do
  id=idle-$rt
  # shellcheck disable=SC2086
  ctr -a "$SOCK" run -d --fifo-dir "$D/fifo" ${RT[$rt]} local/busybox:1 "$id" sleep 1000 \
    </dev/null >/dev/null
  sleep 1 # let it settle: the numbers are of an idle shim
  pid=""
  for p in $(pgrep -f -- "-id $id( |$)"); do # the shims order their flags differently
    if tr '\0' ' ' <"/proc/$p/cmdline" | grep -qF -- "-address $SOCK "; then
      pid=$p
    fi
  done
  [[ -n $pid ]] || { echo "shim-footprint: no shim process for $id" >&2; exit 1; }
  also=""
  if [[ $rt == cow-lcow ]]; then
    vm=$(pgrep -f -- "$PEER --port-dir" | head -n1)
    also="utility VM (cow-gcs-peer) VmRSS $(kb "$vm" VmRSS status) kB"
  fi
  printf '%-10s %10s %10s %8s   %s\n' "$rt" "$(kb "$pid" VmRSS status)" \
    "$(kb "$pid" Pss smaps_rollup)" "$(kb "$pid" Threads status)" "$also"
  ctr -a "$SOCK" task kill -s KILL "$id" >/dev/null 2>&1
  for _ in $(seq 100); do
    [[ $(ctr -a "$SOCK" task ls | awk -v id="$id" '$1 == id { print $3 }') == STOPPED ]] && break
    sleep 0.1
  done
  ctr -a "$SOCK" task delete "$id" >/dev/null 2>&1
  ctr -a "$SOCK" container rm "$id"
done

echo
echo "== ctr run --rm local/busybox:1 ID true, $RUNS runs each, interleaved (ms)"
declare -A T
for ((i = 0; i < RUNS; i++)); do
  for rt in "${ORDER[@]}"; do
    t0=$(date +%s%N)
    # shellcheck disable=SC2086
    ctr -a "$SOCK" run --rm --fifo-dir "$D/fifo" ${RT[$rt]} local/busybox:1 "t-$rt-$i" true \
      </dev/null >/dev/null
    t1=$(date +%s%N)
    T[$rt]+="$(((t1 - t0) / 1000)) "
  done
done
median_of() { tr ' ' '\n' | grep -v '^$' | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
base=$(echo "${T[runc]}" | median_of)
printf '%-10s %8s %8s %8s %14s\n' runtime min median max "median / runc"
for rt in "${ORDER[@]}"; do
  sorted=$(echo "${T[$rt]}" | tr ' ' '\n' | grep -v '^$' | sort -n)
  min=$(echo "$sorted" | head -n1)
  max=$(echo "$sorted" | tail -n1)
  med=$(echo "${T[$rt]}" | median_of)
  awk -v rt="$rt" -v a="$min" -v m="$med" -v b="$max" -v r="$base" \
    'BEGIN { printf "%-10s %8.1f %8.1f %8.1f %14.2f\n", rt, a / 1000, m / 1000, b / 1000, m / r }' 
done

#!/usr/bin/env bash
# Download and unpack Debian source packages without touching the system's apt setup:
#
#   .ci/debian-source.sh DIR PACKAGE...
#
# DIR/src/<package>-<version>/ receives each unpacked source tree (DIR/src must not hold
# them already: callers start from an empty DIR). A private apt
# configuration under DIR/aptsrc knows only Debian's deb-src entries for this release, so
# the system's sources, lists and caches are never changed (docs/building.md §2.2). Used by
# .ci/windows.sh (libuv, jansson, cmocka for mingw-w64) and tests/fuzz/build-deps.sh
# (jansson and protobuf-c instrumented for the fuzzers).
set -euo pipefail
if (($# < 2)); then
  echo "usage: $0 DIR PACKAGE..." >&2
  exit 2
fi
DIR=$1
shift
A=$DIR/aptsrc
mkdir -p "$A/lists/partial" "$A/cache/archives/partial" "$A/parts" "$DIR/src"
# shellcheck disable=SC1091 # the image's own file
codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-bookworm}")
cat > "$A/parts/debian-src.sources" <<EOF
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: $codename $codename-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb-src
URIs: http://deb.debian.org/debian-security
Suites: $codename-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
APTSRC=(-o Dir::Etc::SourceList=/dev/null -o "Dir::Etc::SourceParts=$A/parts"
        -o "Dir::State::Lists=$A/lists" -o "Dir::Cache=$A/cache"
        -o APT::Sandbox::User=root -o Acquire::Retries=3)
apt-get "${APTSRC[@]}" -qq update
cd "$DIR/src"
apt-get "${APTSRC[@]}" -qq source --download-only "$@"
# "cannot verify inline signature": harmless, apt checked the .dsc against InRelease.
for d in *.dsc; do dpkg-source -q -x "$d" >/dev/null 2>&1 || dpkg-source -x "$d"; done

#!/usr/bin/env bash
# The Debian packages (debian/): build them once from a copy of the tree, lint them, install
# them, and build and run the downstream consumer against the installed packages, both
# library kinds, with pkg-config and with find_package; run the installed tools.
#
#   .ci/deb.sh            (as root or with passwordless sudo; CI phase 4b)
#
# Everything happens under build-deb/ (dpkg-buildpackage writes its .debs to the parent of
# the source tree, so the tree is copied to build-deb/libcow-VERSION first). The packages
# are purged again at the end, whatever happened, so no later build finds /usr/include/cow.
# Cost: about 2 minutes on 2 cores (the library and tools once at -O2, lintian 20 s, four
# small consumers). DEB_BUILD_OPTIONS=nocheck: the other phases run the test suites.
set -euo pipefail
exec </dev/null
export DEBIAN_FRONTEND=noninteractive
cd "$(dirname "${BASH_SOURCE[0]}")/.."
root=$PWD
SUDO=()
if [[ $(id -u) -ne 0 ]]; then
  SUDO=(sudo -n)
fi

version=$(sed -n '1s/^libcow (\([^)]*\)).*/\1/p' debian/changelog)
cmake_version=$(sed -n 's/^project(cow VERSION \([0-9.]*\).*/\1/p' CMakeLists.txt)
if [[ $version != "$cmake_version" ]]; then
  echo "deb: debian/changelog says $version, CMakeLists.txt says $cmake_version: change both" >&2
  exit 1
fi

out=$root/build-deb
src=$out/libcow-$version
rm -rf "$out"
mkdir -p "$src"
git ls-files -z | tar --null -cf - -T - | tar -xf - -C "$src"

purge() {
  "${SUDO[@]}" apt-get purge -y -q libcow0 libcow-dev libcow-tools >/dev/null 2>&1 || true
}
trap purge EXIT

echo "-- deb: dpkg-buildpackage -us -uc -b (nocheck)"
(cd "$src" && DEB_BUILD_OPTIONS="nocheck parallel=2" dpkg-buildpackage -us -uc -b) \
  >"$out/build.log" 2>&1 || { tail -n 60 "$out/build.log"; echo "deb: build failed" >&2; exit 1; }
ls "$out"/*.deb

echo "-- deb: lintian (fails on errors and warnings; overrides, if any, are in debian/)"
lintian --fail-on error,warning --info --display-info "$out"/*.changes 2>&1 |
  grep -v 'running with root privileges' || true
lintian --fail-on error,warning "$out"/*.changes >/dev/null 2>&1 ||
  { echo "deb: lintian found errors or warnings (above)" >&2; exit 1; }

echo "-- deb: install"
"${SUDO[@]}" apt-get install -y -q --no-install-recommends \
  "$out/libcow0_${version}_"*.deb "$out/libcow-dev_${version}_"*.deb \
  "$out/libcow-tools_${version}_"*.deb >"$out/install.log" 2>&1 ||
  { cat "$out/install.log"; exit 1; }

down=$root/tests/install/downstream
needs_libcow() { readelf -d "$1" | grep -q 'NEEDED.*libcow\.so'; }
check_kind() {   # check_kind EXE shared|static
  if [[ $2 == shared ]] && ! needs_libcow "$1"; then
    echo "deb: $1 does not need libcow.so.0" >&2; exit 1
  elif [[ $2 == static ]] && needs_libcow "$1"; then
    echo "deb: $1 needs libcow.so.0 although it linked libcow.a" >&2; exit 1
  fi
}
flags=(-std=c11 -D_POSIX_C_SOURCE=200809L -Wall -Wextra -pedantic -Werror
       "-DCOW_EXPECTED_VERSION=\"$version\"")

echo "-- deb: pkg-config consumers"
# shellcheck disable=SC2046  # pkg-config's output is meant to be split
cc "${flags[@]}" $(pkg-config --cflags cow) "$down/main.c" -o "$out/pc-shared" \
  $(pkg-config --libs cow)
"$out/pc-shared" >/dev/null
check_kind "$out/pc-shared" shared
# shellcheck disable=SC2046
cc "${flags[@]}" $(pkg-config --cflags cow) "$down/main.c" -o "$out/pc-static" \
  $(pkg-config --static --libs cow | sed 's/-lcow\b/-l:libcow.a/')
"$out/pc-static" >/dev/null
check_kind "$out/pc-static" static

echo "-- deb: find_package consumers"
for kind in shared static; do
  static=OFF
  [[ $kind == static ]] && static=ON
  cmake -S "$down" -B "$out/cmake-$kind" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DCOW_EXPECTED_PREFIX=/usr -DCOW_EXPECTED_VERSION="$version" \
    -DCOW_DOWNSTREAM_COMPONENTS=guest,hcs -DCOW_DOWNSTREAM_STATIC=$static >/dev/null
  cmake --build "$out/cmake-$kind" >/dev/null
  exe=$(cat "$out/cmake-$kind/exe-path-Release.txt")
  "$exe" >/dev/null
  check_kind "$exe" "$kind"
done

echo "-- deb: the installed tools"
rc=0
got=$(cow-run -- sh -c 'echo from-cow-run; exit 3') || rc=$?
if [[ $got != from-cow-run || $rc -ne 3 ]]; then
  echo "deb: cow-run printed '$got' and exited $rc (want 'from-cow-run', 3)" >&2
  exit 1
fi
rc=0
lcow-exec --port-dir "$out/no-guest" --timeout 1 -- true 2>"$out/lcow.err" || rc=$?
if [[ $rc -ne 125 ]] || ! grep -q . "$out/lcow.err"; then
  echo "deb: lcow-exec without a guest exited $rc (want 125 with a message)" >&2
  exit 1
fi
for page in cow-run lcow-exec; do
  dpkg -L libcow-tools | grep -q "/man1/$page.1.gz" || { echo "deb: no man page $page" >&2; exit 1; }
done
echo "deb: built, lint-clean, installed; 4 consumers and both tools ran against the packages"

#!/usr/bin/env bash
# Build an OCI image archive from Debian's busybox-static, without a registry, for
# `ctr images import`: two gzipped layers (busybox with its applet links and the usual
# empty directories; then a top layer holding /etc/cow-top-layer, a file only that layer
# has, so a test can tell whether a container got the image's root filesystem).
#
#   make-image.sh OUT.tar [NAME]     NAME defaults to local/busybox:1
#
# The archive is reproducible: fixed mtimes, owners and order, gzip -n.
set -euo pipefail
out=$1
name=${2:-local/busybox:1}
busybox=/bin/busybox
if [[ ! -x $busybox ]] || ! $busybox --list >/dev/null 2>&1; then
  echo "make-image.sh: $busybox (Debian package busybox-static) is missing" >&2
  exit 1
fi
if [[ $(LC_ALL=C ldd "$busybox" 2>&1 || true) != *"not a dynamic executable"* ]]; then
  echo "make-image.sh: $busybox is not statically linked (install busybox-static, not busybox)" >&2
  exit 1
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/l1/bin" "$work/l2/etc" "$work/oci/blobs/sha256"
cp "$busybox" "$work/l1/bin/busybox"
for applet in $($busybox --list); do
  [[ $applet == busybox ]] || ln -s busybox "$work/l1/bin/$applet"
done
for d in proc sys dev tmp etc root run var; do mkdir -p "$work/l1/$d"; done
chmod 1777 "$work/l1/tmp"
echo "written by the top layer" >"$work/l2/etc/cow-top-layer"

TAR=(tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner --format=posix
     --pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime)

blob() { # FILE -> prints "digest size", moves FILE into blobs/
  local d s
  d=$(sha256sum "$1" | cut -d' ' -f1)
  s=$(stat -c %s "$1")
  mv "$1" "$work/oci/blobs/sha256/$d"
  echo "$d $s"
}

layers_json="" diff_ids=""
for l in l1 l2; do
  "${TAR[@]}" -C "$work/$l" -cf "$work/$l.tar" .
  diff=$(sha256sum "$work/$l.tar" | cut -d' ' -f1)
  gzip -n -9 "$work/$l.tar"
  read -r d s < <(blob "$work/$l.tar.gz")
  layers_json+="${layers_json:+,}{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip\",\"digest\":\"sha256:$d\",\"size\":$s}"
  diff_ids+="${diff_ids:+,}\"sha256:$diff\""
done

printf '%s' "{\"architecture\":\"amd64\",\"os\":\"linux\",\"config\":{\"Env\":[\"PATH=/bin\"],\"Cmd\":[\"sh\"]},\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[$diff_ids]}}" >"$work/config.json"
read -r cd cs < <(blob "$work/config.json")
printf '%s' "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"digest\":\"sha256:$cd\",\"size\":$cs},\"layers\":[$layers_json]}" >"$work/manifest.json"
read -r md ms < <(blob "$work/manifest.json")
printf '%s' '{"imageLayoutVersion":"1.0.0"}' >"$work/oci/oci-layout"
printf '%s' "{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"sha256:$md\",\"size\":$ms,\"annotations\":{\"io.containerd.image.name\":\"$name\",\"org.opencontainers.image.ref.name\":\"${name##*:}\"}}]}" >"$work/oci/index.json"
"${TAR[@]}" -C "$work/oci" -cf "$out.tmp" .
mv "$out.tmp" "$out"

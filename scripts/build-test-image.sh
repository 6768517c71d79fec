#!/usr/bin/env bash
# Builds the offline test image `tessera-test/busybox:latest` from Debian's busybox-static: no registry
# is reachable, so the image is a root with /bin/busybox and its applet links, `docker import`ed.
set -euo pipefail
IMAGE=${TESSERA_TEST_IMAGE:-tessera-test/busybox:latest}
DOCKER_API=(curl -fsS --unix-socket /var/run/docker.sock)

if "${DOCKER_API[@]}" "http://localhost/images/${IMAGE%%:*}:${IMAGE##*:}/json" >/dev/null 2>&1; then
  echo "[build-test-image] $IMAGE present" >&2
  exit 0
fi
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root/bin" "$root/tmp" "$root/proc" "$root/sys" "$root/dev" "$root/etc"
cp /bin/busybox "$root/bin/busybox"
for applet in $("$root/bin/busybox" --list); do
  [ -e "$root/bin/$applet" ] || ln -s busybox "$root/bin/$applet"
done
echo 'root:x:0:0:root:/:/bin/sh' >"$root/etc/passwd"
echo 'root:x:0:' >"$root/etc/group"
chmod 1777 "$root/tmp"
# Feed the tar stream to the engine's import endpoint directly (the docker CLI on PATH may be newer
# than the engine).
tar -C "$root" -c . | "${DOCKER_API[@]}" -X POST -H 'Content-Type: application/x-tar' --data-binary @- \
  "http://localhost/images/create?fromSrc=-&repo=${IMAGE%%:*}&tag=${IMAGE##*:}&changes=CMD%20%5B%22%2Fbin%2Fsh%22%5D&changes=ENV%20PATH%3D%2Fbin" >/dev/null
echo "[build-test-image] built $IMAGE" >&2

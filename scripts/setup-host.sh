#!/usr/bin/env bash
# Prepares a Debian 12 host (as root) for Tessera's tests: the Debian packages the tests use, a running
# Docker engine, and the offline test image. Idempotent: a second run changes nothing.
set -euo pipefail

log() { printf '[setup-host] %s\n' "$*" >&2; }

PACKAGES=(docker.io zookeeper busybox-static iproute2 procps curl xz-utils
  serf dnsmasq-base vagrant debootstrap shellcheck)
# cgroups v2 VM tests (npm run test:cgroup2): QEMU and a stock kernel to boot.
VM_PACKAGES=(qemu-system-x86 linux-image-amd64 cpio kmod)

missing=()
wanted=("${PACKAGES[@]}")
[ -n "${TESSERA_SKIP_VM:-}" ] || wanted+=("${VM_PACKAGES[@]}")
for p in "${wanted[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  log "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

docker_answers() { curl -fsS --unix-socket /var/run/docker.sock http://localhost/_ping >/dev/null 2>&1; }

if ! docker_answers; then
  log "starting dockerd"
  mkdir -p /var/log/tessera
  nohup dockerd >/var/log/tessera/dockerd.log 2>&1 &
  for _ in $(seq 1 60); do
    docker_answers && break
    sleep 0.5
  done
  docker_answers || { log "dockerd did not answer within 30 s; see /var/log/tessera/dockerd.log"; exit 1; }
fi
log "docker engine answers"

bash "$(dirname "$0")/build-test-image.sh"

#!/usr/bin/env bash
# Runs tests on a real cgroups v2 kernel: boots the host's Debian kernel under QEMU (software
# emulation; this machine's /dev/kvm cannot run a stock kernel) with cgroup_no_v1=all, shares the
# host's / read-only over 9p, and runs mocha inside a chroot of it. QEMU exits 0 whatever happens
# inside, so the verdict is the exit code the guest writes into a writable 9p share.
#
# Usage: scripts/cgroup2-vm/run.sh [mocha globs...]   (default: the v2 isolator's tests, the command
#        executor's and the agent's real-cgroup tests; see GLOBS below)
# Env: TESSERA_VM_TIMEOUT (seconds, default 300), TESSERA_VM_KERNEL (a /boot/vmlinuz-* path),
#      TESSERA_VM_CACHE (default /var/cache/tessera-cgroup2-vm), CI (passed through to the tests).
set -euo pipefail

log() { printf '[cgroup2-vm] %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
TIMEOUT="${TESSERA_VM_TIMEOUT:-300}"
CACHE_ROOT="${TESSERA_VM_CACHE:-/var/cache/tessera-cgroup2-vm}"

if (($# > 0)); then
  GLOBS=("$@")
else
  GLOBS=(
    'dist/isolators/cgroups2/**/*.test.js'
    'dist/executors/command/**/*.test.js'
    'dist/agent/agent-real.test.js'
  )
fi

command -v qemu-system-x86_64 >/dev/null || die "qemu-system-x86_64 missing (apt-get install qemu-system-x86; see scripts/setup-host.sh)"
# busybox-static's binary: the initramfs has no libc.
BUSYBOX=/bin/busybox
[ -x "$BUSYBOX" ] || die "busybox missing (apt-get install busybox-static)"
command -v cpio >/dev/null || die "cpio missing (apt-get install cpio)"
command -v modprobe >/dev/null || die "modprobe missing (apt-get install kmod)"

KERNEL="${TESSERA_VM_KERNEL:-}"
if [ -z "$KERNEL" ]; then
  KERNEL="$(find /boot -maxdepth 1 -name 'vmlinuz-*' | sort -V | tail -n 1)"
fi
{ [ -n "$KERNEL" ] && [ -r "$KERNEL" ]; } || die "no readable /boot/vmlinuz-* (apt-get install linux-image-amd64)"
KVER="${KERNEL##*/vmlinuz-}"
[ -d "/lib/modules/$KVER" ] || die "no /lib/modules/$KVER for $KERNEL"
[ -d "$REPO/dist" ] || die "$REPO/dist missing: run 'npx tsc -p .' (or 'npm run test:cgroup2') first"

CACHE="$CACHE_ROOT/$KVER"
mkdir -p "$CACHE" 2>/dev/null || { CACHE="$(mktemp -d)"; log "cannot write $CACHE_ROOT; building in $CACHE"; }

# --- initramfs: static busybox, the virtio/9p modules in load order, and an init script ----------
build_initramfs() {
  local stage
  stage="$(mktemp -d)"
  mkdir -p "$stage"/{bin,dev,proc,sys,host,lib/modules}
  cp "$BUSYBOX" "$stage/bin/busybox"
  local mod path
  : >"$stage/modules.order"
  for mod in virtio_pci 9pnet_virtio 9p; do
    modprobe -S "$KVER" --show-depends "$mod" | awk '$1 == "insmod" { print $2 }'
  done | awk '!seen[$0]++' | while read -r path; do
    case "$path" in
      *.ko) cp "$path" "$stage/lib/modules/" ;;
      *.ko.xz) xz -dc "$path" >"$stage/lib/modules/$(basename "$path" .xz)" ;;
      *.ko.zst) zstd -qdc "$path" >"$stage/lib/modules/$(basename "$path" .zst)" ;;
      *) die "unexpected module file $path" ;;
    esac
    printf '/lib/modules/%s\n' "$(basename "${path%.xz}" .zst)" >>"$stage/modules.order"
  done
  cat >"$stage/init" <<'INIT'
#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
while read -r m; do insmod "$m" || echo "init: insmod $m failed"; done </modules.order
# The agent tests talk HTTP over loopback.
ip link set lo up || echo "init: bringing up lo failed"
run() {
  mount -t 9p -o trans=virtio,version=9p2000.L,ro,cache=loose,msize=524288 hostroot /host || return 1
  mount -t tmpfs tmp /host/tmp || return 1
  mkdir -p /host/tmp/results
  mount -t 9p -o trans=virtio,version=9p2000.L,rw results /host/tmp/results || return 1
  # The repository gets a share of its own: under the tmpfs above (a clone in /tmp) it would be hidden.
  repo=$(cat /host/tmp/results/repo-path)
  mkdir -p "/host$repo" 2>/dev/null
  mount -t 9p -o trans=virtio,version=9p2000.L,ro,cache=loose,msize=524288 repo "/host$repo" || return 1
  mount -t proc proc /host/proc
  mount -t sysfs sys /host/sys
  mount -t devtmpfs dev /host/dev
  mount -t cgroup2 none /host/sys/fs/cgroup || return 1
  mount -t tmpfs run /host/run 2>/dev/null
  mount -t tmpfs shm /host/dev/shm 2>/dev/null
  chroot /host /bin/sh /tmp/results/guest.sh
}
run || echo "init: setting up the guest failed"
sync
poweroff -f
INIT
  chmod +x "$stage/init"
  local out
  out="$(mktemp -p "$CACHE")"
  (cd "$stage" && find . | cpio -o -H newc --quiet | gzip -1) >"$out"
  mv "$out" "$CACHE/initramfs.cpio.gz"
  rm -rf "$stage"
}

# --- kernel: the bzImage's xz payload, decompressed, boots via PVH and skips ~3 s of decompression
extract_vmlinux() {
  local offset out
  offset="$(LC_ALL=C grep -abo -m1 $'\xfd7zXZ\x00' "$KERNEL" | head -n 1 | cut -d: -f1 || true)"
  [ -n "$offset" ] || return 1
  out="$(mktemp -p "$CACHE")"
  # The xz stream is followed by other data: xz complains, yet the ELF comes out whole.
  tail -c +"$((offset + 1))" "$KERNEL" | xz -dc 2>/dev/null >"$out" || true
  if [ "$(head -c 4 "$out" | od -An -c | tr -d ' ')" = '177ELF' ]; then
    mv "$out" "$CACHE/vmlinux"
  else
    rm -f "$out"
    return 1
  fi
}

# The cache is keyed by kernel version and by this script (the init script lives in it).
STAMP="$(sha256sum "${BASH_SOURCE[0]}" "$BUSYBOX" | sha256sum | cut -c1-16)"
if [ ! -s "$CACHE/initramfs.cpio.gz" ] || [ "$(cat "$CACHE/stamp" 2>/dev/null)" != "$STAMP" ]; then
  log "building initramfs for $KVER"
  build_initramfs
  rm -f "$CACHE/vmlinux"
  extract_vmlinux || log "could not extract an uncompressed kernel; booting $KERNEL"
  echo "$STAMP" >"$CACHE/stamp"
fi
BOOT_KERNEL="$KERNEL"
[ -s "$CACHE/vmlinux" ] && BOOT_KERNEL="$CACHE/vmlinux"

# --- the guest's command, in a writable share that also receives the exit code ------------------
RESULTS="$(mktemp -d)"
trap 'rm -rf "$RESULTS"' EXIT
{
  echo '#!/bin/sh'
  printf 'cd %q || exit 1\n' "$REPO"
  printf 'NO_COLOR=1 HOME=/tmp CI=%q TESSERA_REQUIRE_CGROUP2=1 PATH=%q \\\n' "${CI:-}" "/usr/local/bin:/usr/bin:/bin:/usr/local/sbin:/usr/sbin:/sbin"
  printf '  node node_modules/mocha/bin/mocha.js'
  printf ' %q' "${GLOBS[@]}"
  printf '\n'
  echo 'echo $? >/tmp/results/exit-code'
} >"$RESULTS/guest.sh"
printf '%s' "$REPO" >"$RESULTS/repo-path"

log "booting $KVER ($(basename "$BOOT_KERNEL")) for: ${GLOBS[*]}"
start=$SECONDS
set +e
timeout -k 10 "$TIMEOUT" qemu-system-x86_64 \
  -accel tcg,thread=multi -cpu max -smp 2 -m 1024 \
  -nodefaults -display none -serial stdio -no-reboot \
  -kernel "$BOOT_KERNEL" -initrd "$CACHE/initramfs.cpio.gz" \
  -append "console=ttyS0 quiet panic=-1 cgroup_no_v1=all rdinit=/init" \
  -virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap \
  -virtfs "local,path=$RESULTS,mount_tag=results,security_model=none" \
  -virtfs "local,path=$REPO,mount_tag=repo,security_model=none,readonly=on,multidevs=remap" \
  </dev/null
qemu_status=$?
set -e
elapsed=$((SECONDS - start))

if ((qemu_status == 124 || qemu_status == 137)); then
  die "the VM did not finish within ${TIMEOUT} s (TESSERA_VM_TIMEOUT)"
fi
((qemu_status == 0)) || die "qemu failed with status $qemu_status"
[ -s "$RESULTS/exit-code" ] || die "the guest wrote no exit code (boot or setup failed; see the console above) after ${elapsed} s"
code="$(tr -dc '0-9' <"$RESULTS/exit-code")"
log "guest tests exited with ${code:-?} after ${elapsed} s"
exit "${code:-1}"

#!/usr/bin/env bash
# build-sshd-image.sh: builds (once) the image the docker-provider test boots as "VMs", and prints its
# tag on stdout. The tag is a hash of this recipe (this file, the host's node version, Vagrant's insecure
# key), so the image is rebuilt only when one of them changes; `--tag` prints the tag without building.
#
# The image: a Debian 12 `debootstrap --variant=minbase` root, `docker import`ed (no registry needed),
# running sshd under tini (`--init` in the Vagrantfile), with a `vagrant` user that has passwordless
# sudo and Vagrant's insecure public key, and the packages provisioning would otherwise download
# (serf, zookeeper with Java; rsync is left out on purpose, so common.sh's apt-get path runs for real).
# Node.js is the host's: its node binary and npm are copied in (NodeSource's repository is not
# reachable here), so common.sh finds node >= 20 and keeps it.
#
# The root (about 1 GB) is made in TESSERA_TEST_CACHE (default /var/cache/tessera-test), out of the repo,
# and removed once imported: the image is the cache. Images of older recipes are removed.
set -euo pipefail

log() { printf '[build-sshd-image] %s\n' "$*" >&2; }
die() {
  log "ERROR: $*"
  exit 1
}

cache=${TESSERA_TEST_CACHE:-/var/cache/tessera-test}
mirror=${TESSERA_DEBIAN_MIRROR:-http://deb.debian.org/debian}
packages=openssh-server,sudo,iproute2,ca-certificates,curl,procps,serf,zookeeper

pubkey=$(compgen -G '/usr/share/rubygems-integration/all/gems/vagrant-*/keys/vagrant.pub' | head -n 1) ||
  die "no Vagrant insecure key (…/gems/vagrant-*/keys/vagrant.pub): apt-get install vagrant"
node_bin=$(command -v node) || die "no node on PATH"
npm_dir=$(dirname "$(dirname "$(readlink -f "$(command -v npm)")")") || die "no npm on PATH"
[ -f "$npm_dir/package.json" ] || die "cannot find npm's package directory (got $npm_dir)"

recipe=$(cat "$0" "$pubkey"; "$node_bin" --version; echo "$mirror")
tag=tessera-test/vagrant-sshd:$(sha256sum <<<"$recipe" | cut -c1-12)
if [ "${1:-}" = --tag ]; then
  echo "$tag"
  exit 0
fi
if docker image inspect "$tag" >/dev/null 2>&1; then
  log "$tag already built"
  echo "$tag"
  exit 0
fi

for tool in debootstrap docker chroot flock; do
  command -v "$tool" >/dev/null || die "no $tool on PATH"
done
# One build at a time (two test runs starting together): the second finds the image made.
mkdir -p "$cache"
exec 9>"$cache/vagrant-sshd.lock"
flock 9
if docker image inspect "$tag" >/dev/null 2>&1; then
  log "$tag built meanwhile"
  echo "$tag"
  exit 0
fi
root=$cache/vagrant-sshd-${tag##*:}
# Whatever an interrupted build left; the image is the cache, the root only a step towards it.
rm -rf "$root" "$root.debootstrap.log"
trap 'rm -rf "$root"' EXIT
log "debootstrap bookworm into $root (about 2 minutes)"
debootstrap --variant=minbase --include="$packages" bookworm "$root" "$mirror" >"$root.debootstrap.log" 2>&1 ||
  die "debootstrap failed; see $root.debootstrap.log"
rm -f "$root.debootstrap.log"

# The vagrant user: passwordless sudo, Vagrant's insecure key (Vagrant replaces it on first boot).
chroot "$root" useradd --create-home --shell /bin/bash vagrant
echo 'vagrant ALL=(ALL) NOPASSWD:ALL' >"$root/etc/sudoers.d/vagrant"
chmod 0440 "$root/etc/sudoers.d/vagrant"
install -d -m 0700 "$root/home/vagrant/.ssh"
install -m 0600 "$pubkey" "$root/home/vagrant/.ssh/authorized_keys"
chroot "$root" chown -R vagrant:vagrant /home/vagrant/.ssh

# sshd in a container: host keys made now, no loginuid (the kernel refuses it there), no DNS lookups.
chroot "$root" ssh-keygen -A >/dev/null
sed -i 's/^session\s\+required\s\+pam_loginuid.so/session optional pam_loginuid.so/' "$root/etc/pam.d/sshd"
echo 'UseDNS no' >"$root/etc/ssh/sshd_config.d/tessera-test.conf"
mkdir -p "$root/run/sshd"

# The host's Node.js.
install -D -m 0755 "$node_bin" "$root/usr/local/bin/node"
mkdir -p "$root/usr/local/lib/node_modules"
cp -a "$npm_dir" "$root/usr/local/lib/node_modules/npm"
ln -sfn ../lib/node_modules/npm/bin/npm-cli.js "$root/usr/local/bin/npm"
ln -sfn ../lib/node_modules/npm/bin/npx-cli.js "$root/usr/local/bin/npx"

# Smaller image: no apt lists or downloaded packages.
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*

log "docker import $root as $tag"
tar -C "$root" -c . | docker import -c 'CMD ["/usr/sbin/sshd", "-D", "-e"]' -c 'EXPOSE 22' - "$tag" >/dev/null

# Images of older recipes are dead weight now.
docker image ls --format '{{.Repository}}:{{.Tag}}' "${tag%%:*}" | while read -r old; do
  [ "$old" = "$tag" ] || docker image rm "$old" >/dev/null 2>&1 || true
done
echo "$tag"

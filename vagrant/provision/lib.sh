# shellcheck shell=bash
# Shared by the provisioning steps (sourced by common.sh, tessera.sh, serf.sh, zookeeper.sh, docker.sh,
# role.sh). Every step is idempotent: it compares what is there with what should be, changes only the
# difference, and says which; a second run changes nothing and is quick (no apt-get update, no build).
set -euo pipefail

# Where the project is synced to (the Vagrantfile passes it), where it is installed, and where the
# steps remember what they did (install ids, service fingerprints).
TESSERA_SRC=${TESSERA_SRC:-/vagrant}
TESSERA_HOME=/opt/tessera
PROVISION_STATE=/var/lib/tessera-provision
PROVISION_STEP=$(basename "$0" .sh)

# stdout: Vagrant prints it in green, prefixed by the machine name.
log() {
  printf '[%s] %s\n' "$PROVISION_STEP" "$*"
}

die() {
  printf '[%s] ERROR: %s\n' "$PROVISION_STEP" "$*" >&2
  exit 1
}

[ "$(id -u)" = 0 ] || die "run as root (Vagrant's shell provisioner does, with privileged: true)"
mkdir -p "$PROVISION_STATE"

installed() {
  [ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" = 'install ok installed' ]
}

# Installs the packages that are missing; runs apt-get update only when something is.
apt_install() {
  local missing=() p
  for p in "$@"; do
    installed "$p" || missing+=("$p")
  done
  if ((${#missing[@]} == 0)); then
    log "packages already installed: $*"
    return 0
  fi
  log "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# sd_booted(3): whether systemd is the init system. A docker-provider container has no systemd; the
# steps then run the units' commands themselves (start_detached).
has_systemd() {
  [ -d /run/systemd/system ]
}

# install_file SRC DEST MODE: copies when the content differs. Status 0 when it changed DEST.
install_file() {
  if cmp -s "$1" "$2"; then
    return 1
  fi
  install -D -m "$3" "$1" "$2"
}

# write_file DEST MODE < CONTENT: like install_file, content from stdin.
write_file() {
  local tmp status=1
  tmp=$(mktemp)
  cat >"$tmp"
  if install_file "$tmp" "$1" "$2"; then status=0; fi
  rm -f "$tmp"
  return "$status"
}

# ---- Daemons without systemd -------------------------------------------------------------------
# start_detached NAME COMMAND...: runs COMMAND under vagrant/provision/supervise.sh (restarted when it
# exits, like Restart=always), in its own session, detached from the provisioner's SSH session, with
# its output in /var/log/tessera/NAME.log and its process group id in /run/tessera/NAME.pid.
start_detached() {
  local name=$1
  shift
  mkdir -p /run/tessera /var/log/tessera
  rm -f "/run/tessera/$name.pid"
  setsid bash "$TESSERA_HOME/vagrant/provision/supervise.sh" "/run/tessera/$name.pid" "$@" \
    >>"/var/log/tessera/$name.log" 2>&1 </dev/null &
  local deadline=$((SECONDS + 10))
  until [ -s "/run/tessera/$name.pid" ]; do
    ((SECONDS < deadline)) || die "$name: the supervisor did not start (see /var/log/tessera/$name.log)"
    sleep 0.1
  done
}

# The process group of a detached daemon, if it is running.
detached_pgid() {
  local pgid
  pgid=$(cat "/run/tessera/$1.pid" 2>/dev/null) || return 1
  [[ $pgid =~ ^[0-9]+$ ]] && kill -0 -- "-$pgid" 2>/dev/null && printf '%s\n' "$pgid"
}

# stop_detached NAME: SIGTERM to its whole process group, SIGKILL after 10 s.
stop_detached() {
  local pgid deadline
  pgid=$(detached_pgid "$1") || return 0
  kill -TERM -- "-$pgid" 2>/dev/null || true
  deadline=$((SECONDS + 10))
  while kill -0 -- "-$pgid" 2>/dev/null; do
    if ((SECONDS >= deadline)); then
      kill -KILL -- "-$pgid" 2>/dev/null || true
      break
    fi
    sleep 0.2
  done
  rm -f "/run/tessera/$1.pid"
}

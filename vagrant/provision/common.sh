#!/usr/bin/env bash
# Step "common" (every machine): base packages, Node.js >= 20, Tessera's directories.
# Node: an existing node >= TESSERA_NODE_MAJOR (20) is kept, whatever installed it (the docker-provider
# test image carries the host's); else NodeSource's apt repository for that major version (Debian 12's
# own nodejs is 18, Ubuntu 22.04's 12).
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

apt_install ca-certificates curl rsync iproute2 procps

major=${TESSERA_NODE_MAJOR:-20}
[[ $major =~ ^[0-9]+$ ]] || die "TESSERA_NODE_MAJOR must be a number, not '$major'"

node_major() {
  local version
  version=$(node --version 2>/dev/null) || return 1
  version=${version#v}
  printf '%s\n' "${version%%.*}"
}

have=$(node_major || echo 0)
if ((have >= major)); then
  log "node $(node --version) already installed ($(command -v node))"
else
  log "node ${have/#0/none}: installing Node.js $major from NodeSource"
  mkdir -p /etc/apt/keyrings
  # apt reads an ASCII-armoured key in signed-by when the file ends in .asc: no gpg needed.
  curl -fsSL https://deb.nodesource.com/gpgkey/nodesource-repo.gpg.key -o /etc/apt/keyrings/nodesource.asc.tmp
  mv /etc/apt/keyrings/nodesource.asc.tmp /etc/apt/keyrings/nodesource.asc
  echo "deb [signed-by=/etc/apt/keyrings/nodesource.asc] https://deb.nodesource.com/node_$major.x nodistro main" |
    write_file /etc/apt/sources.list.d/nodesource.list 0644 || true
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq nodejs >/dev/null
  have=$(node_major || echo 0)
  ((have >= major)) || die "node $(node --version 2>/dev/null || echo missing) after installing nodejs from NodeSource; need >= $major"
  log "installed node $(node --version)"
fi
command -v npm >/dev/null || die "node is there but npm is not ($(command -v node)); install npm next to it"

mkdir -p /etc/tessera /var/lib/tessera /var/log/tessera

#!/usr/bin/env bash
# Step "serf" (every machine): Debian's serf package. Its own serf.service (enabled on install, reading
# /etc/serf) would hold port 7946: tessera-serf.service, started by the role step, replaces it.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

apt_install serf
if has_systemd && { systemctl is-enabled --quiet serf.service 2>/dev/null || systemctl is-active --quiet serf.service; }; then
  log "disabling Debian's serf.service (tessera-serf.service takes its place)"
  systemctl disable --now serf.service
else
  log "Debian's serf.service is not in the way"
fi
log "$(serf version | head -n 1)"

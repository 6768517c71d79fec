#!/usr/bin/env bash
# Step "docker" (agents): Debian's docker.io, running, so agents can run Docker tasks (the agent's
# --docker auto uses it when it answers). Without systemd, dockerd is started detached.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

apt_install docker.io
if has_systemd; then
  if systemctl is-enabled --quiet docker.service && systemctl is-active --quiet docker.service; then
    log "docker.service enabled and running"
  else
    log "enabling and starting docker.service"
    systemctl enable --now docker.service
  fi
elif docker info >/dev/null 2>&1; then
  log "dockerd answers"
else
  log "no systemd: starting dockerd detached (log /var/log/tessera/dockerd.log)"
  start_detached dockerd /usr/sbin/dockerd
fi
deadline=$((SECONDS + 30))
until docker info >/dev/null 2>&1; do
  ((SECONDS < deadline)) || die "dockerd does not answer after 30 s"
  sleep 0.5
done
log "docker $(docker version --format '{{.Server.Version}}') answers"

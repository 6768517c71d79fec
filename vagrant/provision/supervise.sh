#!/usr/bin/env bash
# supervise.sh PIDFILE COMMAND...: what systemd's Restart=always does for a unit, for machines without
# systemd (docker-provider containers). Started by lib.sh's start_detached under setsid, so this shell
# leads its own process group: PIDFILE gets that group id, and stopping is one signal to the group.
# Every start reads /etc/tessera/node.env afresh, as EnvironmentFile= does.
set -uo pipefail

pidfile=$1
shift
echo "$$" >"$pidfile.tmp"
mv "$pidfile.tmp" "$pidfile"

while :; do
  echo "supervise: starting $* at $(date -Is)"
  (
    if [ -r /etc/tessera/node.env ]; then
      set -a
      # shellcheck source=/dev/null
      . /etc/tessera/node.env
      set +a
    fi
    PATH=/opt/tessera/vagrant/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
    export PATH
    exec "$@"
  )
  echo "supervise: $1 exited with status $?; restarting in 3 s"
  sleep 3
done

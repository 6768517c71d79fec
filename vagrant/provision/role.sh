#!/usr/bin/env bash
# Step "role" (every machine, last): writes /etc/tessera/node.env (the runtime scripts' settings, read
# by the systemd units through EnvironmentFile=) and installs, enables and starts the role's units from
# vagrant/systemd/. A running daemon is restarted only when its unit, node.env or what it runs changed.
# Without systemd (a docker-provider container) the same ExecStart commands run under supervise.sh.
#
# Input (the Vagrantfile's provisioner env): TESSERA_ROLE, TESSERA_NODE, and optionally TESSERA_IFACE or
# TESSERA_IFACE_MAC (the bridged NIC's MAC, last 6 hex digits), TESSERA_ZK_SERVERS, TESSERA_SERF_JOIN,
# TESSERA_SERF_CLUSTER, TESSERA_MASTER_ARGS, TESSERA_AGENT_ARGS, TESSERA_FRAMEWORK_ARGS.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

role=${TESSERA_ROLE:-}
node=${TESSERA_NODE:-$(hostname)}
case $role in
  zookeeper) units=(tessera-serf tessera-zookeeper) ;;
  master) units=(tessera-serf tessera-master) ;;
  agent) units=(tessera-serf tessera-agent) ;;
  framework) units=(tessera-serf tessera-services tessera-jobs) ;;
  client) units=(tessera-serf) ;;
  *) die "TESSERA_ROLE must be zookeeper, master, agent, framework or client, not '$role'" ;;
esac
# Daemons that run the tessera CLI restart after a new build; the others only when the scripts change.
runs_cli() {
  case $1 in tessera-serf | tessera-zookeeper) return 1 ;; *) return 0 ;; esac
}

# The interface whose address the node advertises. VMs have two NICs with DHCP addresses, Vagrant's
# management NIC (NAT, the same 10.0.2.15 on every VirtualBox VM) and the bridged one: the Vagrantfile
# gives the bridged one a known MAC, found here.
iface=${TESSERA_IFACE:-}
if [ -z "$iface" ] && [ -n "${TESSERA_IFACE_MAC:-}" ]; then
  want=${TESSERA_IFACE_MAC//:/}
  want=${want,,}
  for dev in /sys/class/net/*; do
    mac=$(cat "$dev/address" 2>/dev/null) || continue
    mac=${mac//:/}
    if [[ $mac == *"$want" ]]; then
      iface=$(basename "$dev")
      break
    fi
  done
  [ -n "$iface" ] || die "no network interface with a MAC ending in $want (the public_network NIC): $(ip -br link | tr '\n' ';')"
fi

# node.env is read both by systemd (EnvironmentFile=) and by bash (supervise.sh): plain KEY="value"
# lines mean the same to both as long as no value holds a quote, backslash, $ or backquote.
env_line() {
  local value=$2
  [ -n "$value" ] || return 0
  if [[ $value == *[\"\\\$\`]* || $value == *$'\n'* ]]; then
    die "$1 may not contain quotes, backslashes, \$ or backquotes: $value"
  fi
  printf '%s="%s"\n' "$1" "$value"
}
node_env=$(
  echo "# Written by vagrant/provision/role.sh at every provisioning; edits are lost."
  env_line TESSERA_ROLE "$role"
  env_line TESSERA_NODE "$node"
  env_line TESSERA_IFACE "$iface"
  env_line TESSERA_BIN /usr/local/bin/tessera
  env_line TESSERA_STATE_DIR /var/lib/tessera
  env_line TESSERA_ZK_PATH /tessera
  env_line TESSERA_ZK_SERVERS "${TESSERA_ZK_SERVERS:-}"
  env_line TESSERA_SERF_JOIN "${TESSERA_SERF_JOIN:-}"
  env_line TESSERA_SERF_CLUSTER "${TESSERA_SERF_CLUSTER:-}"
  # Serf's mDNS otherwise asks and answers on the default route's NIC: Vagrant's NAT NIC on a VM.
  [ -z "$iface" ] || env_line TESSERA_SERF_ARGS "-iface=$iface"
  env_line TESSERA_MASTER_ARGS "${TESSERA_MASTER_ARGS:-}"
  env_line TESSERA_AGENT_ARGS "${TESSERA_AGENT_ARGS:-}"
  env_line TESSERA_FRAMEWORK_ARGS "${TESSERA_FRAMEWORK_ARGS:-}"
)
mkdir -p /etc/tessera /var/lib/tessera /var/log/tessera
if write_file /etc/tessera/node.env 0644 <<<"$node_env"; then
  log "wrote /etc/tessera/node.env"
else
  log "/etc/tessera/node.env unchanged"
fi

unit_dir=$TESSERA_HOME/vagrant/systemd
[ -d "$unit_dir" ] || die "no $unit_dir: run the tessera step first"

# What a daemon was started with; a change means restart.
fingerprint() {
  {
    cat "$unit_dir/$1.service" /etc/tessera/node.env "$PROVISION_STATE/scripts.id"
    if runs_cli "$1"; then cat "$PROVISION_STATE/build.id" 2>/dev/null || echo no-build; fi
  } | sha256sum | cut -c1-64
}

if has_systemd; then
  reload=0
  for unit in "${units[@]}"; do
    if install_file "$unit_dir/$unit.service" "/etc/systemd/system/$unit.service" 0644; then
      log "installed $unit.service"
      reload=1
    fi
  done
  ((reload == 0)) || systemctl daemon-reload
fi

for unit in "${units[@]}"; do
  want=$(fingerprint "$unit")
  stamp=$PROVISION_STATE/$unit.fingerprint
  had=$(cat "$stamp" 2>/dev/null || true)
  if has_systemd; then
    systemctl is-enabled --quiet "$unit" || { systemctl enable --quiet "$unit" && log "enabled $unit"; }
    if ! systemctl is-active --quiet "$unit"; then
      log "starting $unit"
      systemctl start "$unit"
    elif [ "$want" != "$had" ]; then
      log "restarting $unit (its unit, node.env or program changed)"
      systemctl restart "$unit"
    else
      log "$unit running, unchanged"
    fi
  else
    exec_start=$(sed -n 's/^ExecStart=//p' "$unit_dir/$unit.service")
    [ -n "$exec_start" ] || die "no ExecStart= in $unit_dir/$unit.service"
    read -r -a command <<<"$exec_start"
    if ! detached_pgid "$unit" >/dev/null; then
      log "no systemd: starting $unit detached (log /var/log/tessera/$unit.log)"
      start_detached "$unit" "${command[@]}"
    elif [ "$want" != "$had" ]; then
      log "no systemd: restarting $unit (its unit, node.env or program changed)"
      stop_detached "$unit"
      start_detached "$unit" "${command[@]}"
    else
      log "$unit running (process group $(detached_pgid "$unit")), unchanged"
    fi
  fi
  echo "$want" >"$stamp"
done
log "role $role on $node: ${units[*]}"

# shellcheck shell=bash
# shellcheck disable=SC2034 # TESSERA_BIN_DIR, TESSERA_CLI, EXTRA_ARGS: used by the scripts that source this
# Shared by the tessera-* runtime scripts (sourced, not run). Everything is configured by environment
# variables, because several network-namespace "hosts" share one filesystem and must not read a fixed
# config file; on a VM the systemd units set them from /etc/tessera/node.env.

TESSERA_BIN_DIR=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")" && pwd)
TESSERA_STATE_DIR=${TESSERA_STATE_DIR:-/var/lib/tessera}
TESSERA_ZK_PATH=${TESSERA_ZK_PATH:-/tessera}
TESSERA_SERF_RPC=${TESSERA_SERF_RPC:-127.0.0.1:7373}
TESSERA_DISCOVER_TIMEOUT=${TESSERA_DISCOVER_TIMEOUT:-120}
# The same script name is the log tag of every message.
TESSERA_SCRIPT=$(basename "$0")

tessera_die() {
  printf '%s: %s\n' "$TESSERA_SCRIPT" "$*" >&2
  exit 1
}

tessera_log() {
  printf '%s: %s\n' "$TESSERA_SCRIPT" "$*" >&2
}

tessera_require() {
  local name
  for name in "$@"; do
    [ -n "${!name:-}" ] || tessera_die "$name is not set"
  done
}

# The interface to take the address from: TESSERA_IFACE, else the default route's, else eth0/eth1.
tessera_iface() {
  if [ -n "${TESSERA_IFACE:-}" ]; then
    printf '%s\n' "$TESSERA_IFACE"
    return
  fi
  local dev
  dev=$(ip -4 route show default 2>/dev/null | awk '!found { for (i = 1; i < NF; i++) if ($i == "dev") { print $(i + 1); found = 1; break } }') || true
  if [ -n "$dev" ]; then
    printf '%s\n' "$dev"
    return
  fi
  for dev in eth0 eth1; do
    if ip link show dev "$dev" >/dev/null 2>&1; then
      printf '%s\n' "$dev"
      return
    fi
  done
  tessera_die "no interface: set TESSERA_IFACE or TESSERA_IP"
}

# TESSERA_IP, else the first global IPv4 address of the interface. DHCP may still be running when a
# unit starts, so wait for one (TESSERA_IP_TIMEOUT seconds, default 60).
tessera_ip() {
  if [ -n "${TESSERA_IP:-}" ]; then
    printf '%s\n' "$TESSERA_IP"
    return
  fi
  local iface ip deadline
  deadline=$((SECONDS + ${TESSERA_IP_TIMEOUT:-60}))
  while :; do
    iface=$(tessera_iface)
    ip=$(ip -4 -o addr show dev "$iface" scope global 2>/dev/null | awk '!found { split($4, a, "/"); print a[1]; found = 1 }') || true
    if [ -n "$ip" ]; then
      printf '%s\n' "$ip"
      return
    fi
    ((SECONDS < deadline)) || tessera_die "no IPv4 address on $iface after ${TESSERA_IP_TIMEOUT:-60} s (set TESSERA_IP or TESSERA_IFACE)"
    sleep 1
  done
}

# The CLI as an array: TESSERA_BIN is a command prefix ("node /opt/tessera/dist/cli/main.js"),
# word-split on purpose.
tessera_cli() {
  read -r -a TESSERA_CLI <<<"${TESSERA_BIN:-tessera}"
  ((${#TESSERA_CLI[@]})) || tessera_die "TESSERA_BIN is empty"
}

# Whether `tessera SUBCOMMAND --help` lists FLAG (flags are being added while the scripts exist).
tessera_has_flag() {
  local flag=$1 help
  shift
  # Not a pipe into grep -q: with pipefail, the CLI's SIGPIPE would read as "no".
  help=$("${TESSERA_CLI[@]}" "$@" --help 2>/dev/null) || return 1
  grep -q -- "$flag\b" <<<"$help"
}

# Pass-through extra arguments from a variable, word-split (EXTRA_ARGS array).
tessera_extra_args() {
  read -r -a EXTRA_ARGS <<<"${!1:-}"
}

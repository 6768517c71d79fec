#!/bin/sh
# busybox udhcpc's lease script for the namespace cluster's hosts: applies a lease with ip(8).
# udhcpc sets $interface, $ip, $mask (prefix length) and $router.
# shellcheck disable=SC2154 # those come from udhcpc
case "$1" in
  deconfig)
    ip -4 addr flush dev "$interface"
    ip link set "$interface" up
    ;;
  bound | renew)
    ip -4 addr flush dev "$interface"
    ip addr add "$ip/${mask:-24}" dev "$interface"
    # The first router only; the default route is what the tessera-* scripts take the address from.
    if [ -n "${router:-}" ]; then
      ip route replace default via "${router%% *}" dev "$interface"
    fi
    ;;
esac
exit 0

#!/usr/bin/env bash
# Starts the namespace cluster by hand (the e2e test's topology: 1 ZooKeeper, 3 masters, 3 agents, a
# client/framework host, in network namespaces found through Serf), prints the addresses and how to
# reach them, and keeps it up until Ctrl-C, which tears it all down. Needs root.
#   integration-tests/cluster/up.sh [--masters N] [--agents N] [--seed] [--keep-logs]
#   integration-tests/cluster/up.sh down [RUN_ID…]   # from another shell; also removes crashed runs
#   integration-tests/cluster/up.sh list
set -euo pipefail
cd "$(dirname "$0")/../.."

if [ "$(id -u)" != 0 ]; then
  echo "up.sh: network namespaces need root" >&2
  exit 2
fi
cli=dist/integration-tests/cluster/cli.js
# Build when the sources are newer than what was built (tsc emits even when it reports type errors).
if [ ! -f "$cli" ] || [ -n "$(find . -path ./node_modules -prune -o -path ./dist -prune -o -name '*.ts' -newer "$cli" -print -quit)" ]; then
  echo "up.sh: building…" >&2
  npm run --silent build >&2 || echo "up.sh: the build reported errors; using what it emitted" >&2
fi

case "${1:-up}" in
  up) shift || true; exec node "$cli" up "$@" ;;
  down | list) exec node "$cli" "$@" ;;
  *) exec node "$cli" up "$@" ;;
esac

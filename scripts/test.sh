#!/usr/bin/env bash
# Runs every Tessera test on this host (Debian 12, as root), doing all of its own set-up first:
# Debian packages, a Docker engine, the offline test image, npm packages, the build. Then unit tests,
# end-to-end tests (real cgroups, real Docker), and the cgroups v2 tests in a QEMU VM.
# TESSERA_SKIP_VM=1 skips the VM run (it is still required in CI).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1

log() { printf '\n== %s\n' "$*" >&2; }

if [ "$(id -u)" != 0 ]; then
  echo "scripts/test.sh: the tests need root (cgroups, Docker); run it as root" >&2
  exit 2
fi
[ "${CI:-}" = true ] && unset TESSERA_SKIP_VM

log "host set-up (Debian packages, dockerd, test image)"
bash scripts/setup-host.sh || exit 1

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  log "npm ci"
  npm ci --no-audit --no-fund || exit 1
fi

log "build and lint"
npm run --silent build || exit 1
npm run --silent lint || exit 1

counts=$(mktemp)
trap 'rm -f "$counts"' EXIT
export TESSERA_TEST_COUNTS=$counts
reporter=(--reporter "$PWD/scripts/mocha-reporter.cjs")
status=0

log "unit tests"
npx mocha "${reporter[@]}" 'dist/{common,agent,master,isolators,executors,cli,frameworks}/**/*.test.js' || status=1

log "end-to-end tests"
npx mocha "${reporter[@]}" --timeout 120000 'dist/integration-tests/**/*.test.js' || status=1

if [ -z "${TESSERA_SKIP_VM:-}" ]; then
  log "cgroups v2 tests in a QEMU VM"
  vm_log=$(mktemp)
  bash scripts/cgroup2-vm/run.sh 2>&1 | tee "$vm_log"
  [ "${PIPESTATUS[0]}" = 0 ] || status=1
  # The guest's mocha cannot write our counts file: take its summary lines instead.
  count() { sed 's/\x1b\[[0-9;]*m//g' "$vm_log" | awk -v what="$1" '$2 == what { n = $1 } END { print n + 0 }'; }
  echo "$(count passing) $(count failing) $(count pending)" >>"$counts"
  rm -f "$vm_log"
fi

read -r passed failed skipped < <(awk '{p+=$1; f+=$2; s+=$3} END {print p+0, f+0, s+0}' "$counts")
[ "$status" = 0 ] || [ "$failed" -gt 0 ] || failed=$((failed + 1)) # a run that died before counting
echo
echo "tests: $passed passed, $failed failed, $skipped skipped"
exit "$status"

#!/usr/bin/env bash
# Step "tessera" (every machine): installs the project from the synced folder ($TESSERA_SRC, /vagrant)
# into /opt/tessera: the runtime scripts (vagrant/bin, linked into /usr/local/bin) everywhere, and where
# TESSERA_BUILD=1 (all but ZooKeeper machines) `npm ci`, `npm run build` and the `tessera` command.
# Only what changed is redone: npm ci when package-lock.json changed, the build when any file did.
# TESSERA_NPM_ARGS: extra npm ci flags (the docker-provider test: --offline --cache DIR).
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

build=${TESSERA_BUILD:-1}
if [ ! -f "$TESSERA_SRC/package.json" ] || [ ! -d "$TESSERA_SRC/vagrant/bin" ]; then
  die "no Tessera project in $TESSERA_SRC (package.json, vagrant/bin): is the synced folder there?"
fi

mkdir -p "$TESSERA_HOME"
# node_modules and dist are made here, never copied: a host's build is not this machine's.
# Directory times are left alone (-O): npm ci and the build touch /opt/tessera's, which is no change.
changes=$(rsync -a -O --delete --no-owner --no-group --itemize-changes \
  --exclude=/.git/ --exclude=/node_modules/ --exclude=/dist/ --exclude=/.vagrant/ \
  "$TESSERA_SRC/" "$TESSERA_HOME/")
changed=$(grep -vc -e '^\.d' -e '^$' <<<"$changes" || true)
if ((changed)); then
  log "copied $TESSERA_SRC to $TESSERA_HOME ($changed changes)"
else
  log "$TESSERA_HOME is up to date with $TESSERA_SRC"
fi

# The runtime scripts on every user's PATH (tessera-discover, tessera-zk-url, …).
for script in "$TESSERA_HOME"/vagrant/bin/tessera-*; do
  case $script in *.sh) continue ;; esac
  link=/usr/local/bin/$(basename "$script")
  [ "$(readlink "$link" 2>/dev/null)" = "$script" ] || ln -sfn "$script" "$link"
done
# What the role step compares to decide whether a running daemon must restart.
scripts_id=$(cat "$TESSERA_HOME"/vagrant/bin/* "$TESSERA_HOME"/vagrant/provision/supervise.sh | sha256sum | cut -c1-16)
echo "$scripts_id" | write_file "$PROVISION_STATE/scripts.id" 0644 || true

if [ "$build" != 1 ]; then
  log "no build on this machine (TESSERA_BUILD=$build)"
  exit 0
fi

cd "$TESSERA_HOME"
lock_sum=$(sha256sum package-lock.json | cut -c1-64)
if [ ! -d node_modules ] || [ "$lock_sum" != "$(cat "$PROVISION_STATE/npm-lock.sha256" 2>/dev/null)" ]; then
  log "npm ci ${TESSERA_NPM_ARGS:-}"
  rm -f "$PROVISION_STATE/npm-lock.sha256" "$PROVISION_STATE/build.id"
  read -r -a npm_args <<<"${TESSERA_NPM_ARGS:-}"
  npm ci --no-audit --no-fund --loglevel=error "${npm_args[@]}"
  echo "$lock_sum" >"$PROVISION_STATE/npm-lock.sha256"
else
  log "node_modules matches package-lock.json"
fi

# The build id is written only after a build succeeded: a failed build is retried by the next run.
if ((changed)) || [ ! -s "$PROVISION_STATE/build.id" ] || [ ! -f dist/cli/main.js ]; then
  log "npm run build"
  rm -f "$PROVISION_STATE/build.id"
  npm run build --silent
  date -u +%Y%m%dT%H%M%S.%N >"$PROVISION_STATE/build.id"
  log "built $TESSERA_HOME/dist"
else
  log "build is up to date ($(cat "$PROVISION_STATE/build.id"))"
fi

if write_file /usr/local/bin/tessera 0755 <<WRAPPER; then
#!/bin/sh
# Written by vagrant/provision/tessera.sh.
exec node $TESSERA_HOME/dist/cli/main.js "\$@"
WRAPPER
  log "installed /usr/local/bin/tessera"
fi
log "$(tessera --version 2>/dev/null || echo 'tessera --version failed') at /usr/local/bin/tessera"

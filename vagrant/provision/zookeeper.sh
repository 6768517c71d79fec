#!/usr/bin/env bash
# Step "zookeeper" (zookeeper machines): Debian's zookeeper package (3.8, with Java 17). It ships no
# service of its own; tessera-zookeeper.service runs vagrant/bin/tessera-run-zookeeper, which writes the
# config (this machine's address, the ensemble from Serf) at every start.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

apt_install zookeeper
compgen -G '/usr/share/java/zookeeper*.jar' >/dev/null || die "no ZooKeeper jar in /usr/share/java after installing zookeeper"
command -v java >/dev/null || die "no java after installing zookeeper"
log "ZooKeeper jars and $(java -version 2>&1 | head -n 1) in place"

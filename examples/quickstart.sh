#!/usr/bin/env bash
# Builds and installs freetier, starts a throw-away PostgreSQL 15 cluster,
# runs examples/scenario.sql in it, and throws the cluster away.
# On a fresh Debian 12 machine it first installs what is missing.
set -euo pipefail
# pg_virtualenv picks its own port and socket; a caller's PG* settings must not leak in.
unset PGHOST PGPORT PGUSER PGDATABASE PGSERVICE
here=$(cd "$(dirname "$0")/.." && pwd)
bash "$here/test/install-deps"
make -s -C "$here"
if [ "$(id -u)" -eq 0 ]; then make -s -C "$here" install; else sudo make -s -C "$here" install; fi

scenario=$(mktemp /tmp/freetier-scenario.XXXXXX.sql)
cp "$here/examples/scenario.sql" "$scenario"
chmod 644 "$scenario"
run_as=()
[ "$(id -u)" -eq 0 ] && run_as=(runuser -u postgres --)   # PostgreSQL will not run as root
"${run_as[@]}" pg_virtualenv -v 15 psql -X -q -f "$scenario"
rm -f "$scenario"

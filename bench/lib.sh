# shellcheck shell=bash disable=SC2034,SC2154
# Shared by bench/run and bench/scale (sourced, not run): one throw-away
# cluster per run, pgbench runs after VACUUM (ANALYZE) and CHECKPOINT, and the
# server's CPU time read from /proc.
#
# Expects: $port, $sync (synchronous_commit), optional $BENCH_CPUS and
# $BENCH_PG_CONFIG (the PostgreSQL installation to run, by its pg_config;
# default the one on PATH; see bench/private-install).
# Sets: $here, $bin, $cores, $tmp, pin, as_pg, PG* variables.

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
pg_config=${BENCH_PG_CONFIG:-pg_config}
bin=$("$pg_config" --bindir)
so="$("$pg_config" --pkglibdir)/freetier.so"
cores=$(nproc)
clk_tck=$(getconf CLK_TCK)
pin=()
[ -n "${BENCH_CPUS:-}" ] && pin=(taskset -c "$BENCH_CPUS")

# start_cluster PREFIX: initdb in a temp dir (as postgres when we are root,
# since PostgreSQL refuses root), fsync on, and start it; removed on exit.
start_cluster() {
    tmp=$(mktemp -d "/tmp/$1.XXXXXX")
    as_pg=()
    if [ "$(id -u)" -eq 0 ]; then chown postgres "$tmp"; as_pg=(runuser -u postgres --); fi
    trap cleanup EXIT
    trap 'exit 130' INT TERM
    cd "$tmp" || exit 1
    "${as_pg[@]}" "$bin/initdb" -D "$tmp/data" -A trust -U postgres >/dev/null
    cat >>"$tmp/data/postgresql.conf" <<EOF
port = $port
listen_addresses = ''
unix_socket_directories = '$tmp'
fsync = on
synchronous_commit = $sync
shared_buffers = 256MB
max_wal_size = 8GB
checkpoint_timeout = 30min
EOF
    "${as_pg[@]}" "${pin[@]}" "$bin/pg_ctl" -D "$tmp/data" -l "$tmp/log" -w start >/dev/null
    export PGHOST=$tmp PGPORT=$port PGUSER=postgres PGDATABASE=postgres
}

cleanup() {
    [ -n "${tmp:-}" ] || return 0
    [ -f "$tmp/data/postmaster.pid" ] &&
        (cd "$tmp" && "${as_pg[@]}" "$bin/pg_ctl" -D "$tmp/data" -m fast -w stop >/dev/null 2>&1)
    rm -rf "$tmp"
}

# CPU time (clock ticks) the server has used so far: "backends total".
# backends: processes that have exited and been reaped by the postmaster
# (its cutime + cstime), i.e. the connections of finished pgbench runs (and
# any autovacuum worker); total: that plus the postmaster and its live
# children (WAL writer, checkpointer, background writer, ...).
cpu_ticks() {
    local pm kids
    pm=$(head -1 "$tmp/data/postmaster.pid")
    kids=$(cat /proc/"$pm"/task/*/children 2>/dev/null || true)
    { cat /proc/"$pm"/stat; for k in $kids; do cat /proc/"$k"/stat 2>/dev/null || true; done; } |
        sed 's/^.*) //' | awk 'NR == 1 { b = $14 + $15 } { t += $12 + $13 + $14 + $15 } END { print b, t }'
}

# prepare_run [DB]: what every pgbench run starts from.
prepare_run() {
    psql -Xq -d "${1:-$PGDATABASE}" -c 'VACUUM (ANALYZE)' -c 'CHECKPOINT'
}

header() {
    echo "$1  $(date -u '+%Y-%m-%d %H:%M UTC')"
    psql -XAtc 'SELECT version()'
    echo "freetier $(psql -XAtc "SELECT default_version FROM pg_available_extensions WHERE name = 'freetier'")," \
         "repo at $(git -C "$here" rev-parse --short HEAD 2>/dev/null || echo '?')" \
         "($(md5sum "$so" | cut -c1-8) $so)"
    echo "cores: $cores ($(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1)), load: $(cut -d' ' -f1-3 /proc/loadavg)"
}

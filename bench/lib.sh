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

# CPU time (clock ticks) the server has used so far.  First line: "reaped
# total", where reaped is what the processes the postmaster has reaped used
# (its cutime + cstime) and total adds the postmaster and its live children
# (WAL writer, checkpointer, ...); then "pid ticks" for each live child.
cpu_ticks() {
    local pm kids
    pm=$(head -1 "$tmp/data/postmaster.pid")
    kids=$(cat /proc/"$pm"/task/*/children 2>/dev/null || true)
    { cat /proc/"$pm"/stat; for k in $kids; do printf '%s ' "$k"; cat /proc/"$k"/stat 2>/dev/null || echo; done; } |
        awk 'NR == 1 { sub(/^.*\) /, ""); r = $14 + $15; t = r + $12 + $13; next }
             NF > 2 { pid = $1; sub(/^.*\) /, ""); c = $12 + $13 + $14 + $15; t += c; line[pid] = c }
             END { print r, t; for (p in line) print p, line[p] }'
}

# cpu_used BEFORE AFTER: "backends total" ticks between two cpu_ticks: the
# processes reaped in between (less what those already alive before had
# used by then: the VACUUM's connection, say), and all of the server.
cpu_used() {
    awk -v a="$1" -v b="$2" 'BEGIN {
        n = split(a, A, "\n"); split(A[1], x, " ")
        for (i = 2; i <= n; i++) { split(A[i], y, " "); before[y[1]] = y[2] }
        m = split(b, B, "\n"); split(B[1], z, " ")
        for (i = 2; i <= m; i++) { split(B[i], y, " "); alive[y[1]] = 1 }
        early = 0
        for (p in before) if (!(p in alive)) early += before[p]
        print z[1] - x[1] - early, z[2] - x[2] }'
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

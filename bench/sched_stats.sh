#!/usr/bin/env bash
# Who runs, who waits for a CPU and who preempts whom, in the steady state of a run against the
# peers' nginx (one worker): per thread of the client, and nginx's worker, over WINDOW seconds
# from /proc/*/task/*/schedstat and /proc/*/status. On two cores shared by client and server, the
# side that saturates keeps the other one sleeping and waking; this shows which side it is.
# Then the window's requests/s (nginx's stub_status), the client's CPU (all its threads) and
# nginx's per request, and how many of the machine's CPUs were busy: unlike the peers harness, whose
# figure for wrk includes its Lua start-up, this compares the two clients in their steady state.
#   bench/sched_stats.sh BIN        cardsync BIN apply over N rows (default 1,000,000: long enough
#                                   for the window), 64 connections, --rate 0, records to a temp file
#   bench/sched_stats.sh wrk        wrk + Lua of the peers harness, for comparison (over 200,000 rows,
#                                   which its Lua start-up encodes in ~3 s before the first request)
# env: N, WINDOW=4 (s), WARMUP (s: 2, wrk 6), CONNECTIONS=64, SCHEME=http|https, ARGS="extra apply options",
#      PEERS=/tmp/peers (a writable copy of ../shared/peers, made when missing)
set -euo pipefail
cd "$(dirname "$0")/.."
(($# == 1)) || { echo "usage: bench/sched_stats.sh BIN|wrk" >&2; exit 2; }
client=$1 window=${WINDOW:-4} connections=${CONNECTIONS:-64} scheme=${SCHEME:-http}
if [[ $client == wrk ]]; then rows=${N:-200000} warmup=${WARMUP:-6}; else rows=${N:-1000000} warmup=${WARMUP:-2}; fi
peers=${PEERS:-/tmp/peers}
# shellcheck source=bench/peers_server.sh
source bench/peers_server.sh
peers_prepare sched_stats
work=$(mktemp -d)
pid=""
cleanup() {
    [[ -z $pid ]] || kill "$pid" 2>/dev/null || true
    rm -rf "$work"
    peers_release  # only the server this run started
}
trap cleanup EXIT

if [[ $scheme == https ]]; then base=https://127.0.0.1:18443 tls=(--cacert "$peers/run/cert.pem")
else base=http://127.0.0.1:18080 tls=(); fi
if [[ $client == wrk ]]; then
    wrk -t1 -c"$connections" -d"$((warmup + window + 2))s" -s "$peers/clients/wrk_patch.lua" \
        "$base/api/partner/v3/contact_card" -- "$input" bench-token 1 > "$work/wrk.out" &
else
    [[ -x $client ]] || { echo "sched_stats: no binary at $client" >&2; exit 2; }
    # shellcheck disable=SC2086 # ARGS is a list of options
    LINQ_API_V3_API_KEY=bench-token "$client" apply "$input" --base-url "$base/api/partner" "${tls[@]}" \
        --connections "$connections" --rate 0 --max-attempts 1 --results "$work/results.csv" --quiet ${ARGS:-} &
fi
pid=$!
sleep "$warmup"
kill -0 "$pid" 2>/dev/null || { echo "sched_stats: the client ended within the warm-up: raise N" >&2; exit 1; }

# name run_ns wait_ns slices voluntary involuntary, one line per thread
snapshot() {
    local t
    for t in /proc/"$pid"/task/* /proc/"$worker"; do
        local id=${t##*/} name
        name=$(cat "$t/comm")
        [[ $t == /proc/$worker ]] && name="nginx"
        echo "$name/$id $(cat "$t/schedstat") $(awk '/^voluntary_ctxt_switches/ { v = $2 } /^nonvoluntary_ctxt_switches/ { n = $2 } END { print v, n }' "$t/status")"
    done
}
# requests nginx has served, over both schemes (its stub_status counters are the worker's, read over
# http whatever the scheme; the query itself is one more, taken off below)
served() { curl -s http://127.0.0.1:18080/nginx_status | awk 'NR == 3 { print $3 }'; }
r0=$(served) m0=$(machine_busy)
snapshot > "$work/before"
sleep "$window"
snapshot > "$work/after"
r1=$(served) m1=$(machine_busy)
kill -0 "$pid" 2>/dev/null || { echo "sched_stats: the client ended within the window: raise N" >&2; exit 1; }

printf '%-26s %8s %12s %14s %13s\n' thread running_% waiting_cpu_% sleeps_per_s preempted_per_s
awk -v w="$window" 'NR == FNR { run[$1] = $2; wait[$1] = $3; vol[$1] = $5; invol[$1] = $6; next }
    $1 in run { printf "%-26s %8.1f %12.1f %14.0f %13.0f\n", $1, ($2 - run[$1]) / (w * 1e7), ($3 - wait[$1]) / (w * 1e7),
                       ($5 - vol[$1]) / w, ($6 - invol[$1]) / w }' "$work/before" "$work/after"
awk -v w="$window" -v n="$((r1 - r0 - 1))" -v busy="$((m1 - m0))" -v t="$(getconf CLK_TCK)" -v cpus="$(nproc)" '
    NR == FNR { run[$1] = $2; next }
    $1 in run { d = $2 - run[$1]; if ($1 ~ /^nginx\//) server += d; else client += d }
    END { printf "window: %.0f requests/s; CPU per request: client %.2f us (all its threads), nginx %.2f us; %.2f of the %d CPUs busy\n",
                 n / w, client / n / 1e3, server / n / 1e3, busy / t / w, cpus }' "$work/before" "$work/after"

#!/usr/bin/env bash
# Throughput of the simulator (`cardsync mock`, one io thread) against nginx (one worker) under the
# same wrk load: keep-alive PATCH with a JSON body and the bearer token, 1 wrk thread, 64
# connections. Runs are interleaved (mock, nginx, mock, ...) and the median of REPS is reported.
# When taskset exists, each server is pinned to CPU 0 and wrk to CPU 1.
# Two figures per server: wall requests/s (what wrk saw), and requests per CPU-second of the server
# process (from /proc/PID/stat): the one-core capacity, which stays meaningful when other work
# shares the machine and wrk, not the server, is the limit.
#   bench/mock_vs_nginx.sh                 (env: REPS=3 DURATION=5s CONNECTIONS=64 CARDSYNC=build/cardsync
#                                           PEERS=/tmp/peers-sim: a writable copy of ../shared/peers)
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${CARDSYNC:-build/cardsync}
reps=${REPS:-3} duration=${DURATION:-5s} connections=${CONNECTIONS:-64}
peers=${PEERS:-/tmp/peers-sim}
[[ -x $bin ]] || { echo "mock_vs_nginx: build first (no $bin)" >&2; exit 2; }
command -v wrk >/dev/null || { echo "mock_vs_nginx: wrk is not installed" >&2; exit 2; }
if [[ ! -x $peers/server.sh ]]; then
    [[ -d ../shared/peers ]] || { echo "mock_vs_nginx: no $peers/server.sh and no ../shared/peers to copy" >&2; exit 2; }
    cp -r ../shared/peers "$peers"
fi
pin_server=() pin_client=()
if command -v taskset >/dev/null && (($(nproc) >= 2)); then pin_server=(taskset -c 0) pin_client=(taskset -c 1); fi

work=$(mktemp -d)
mock_pid=""
cleanup() {
    [[ -n $mock_pid ]] && kill "$mock_pid" 2>/dev/null && wait "$mock_pid" 2>/dev/null || true
    "$peers/server.sh" stop >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT

# The simulator: every number has a card, no budget, so every PATCH is a 200 that changes the store.
"${pin_server[@]}" "$bin" mock --listen 127.0.0.1:0 --every-number-has-card --budget off \
    > "$work/mock.url" 2> "$work/mock.err" &
mock_pid=$!
for _ in $(seq 1 100); do [[ -s $work/mock.url ]] && break; sleep 0.05; done
mock_url=$(head -1 "$work/mock.url")
[[ $mock_url == http://* ]] || { echo "mock_vs_nginx: the simulator did not start:" >&2; cat "$work/mock.err" >&2; exit 1; }

"$peers/server.sh" start >/dev/null 2>&1
if ((${#pin_server[@]})); then taskset -p -c 0 "$("$peers/server.sh" worker-pid)" >/dev/null; fi
nginx_url=http://127.0.0.1:18080

cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
run() {  # run NAME BASE_URL SERVER_PID REP -> "requests/s requests-per-CPU-second" on stdout
    local out=$work/$1.$4.txt before after
    before=$(cpu_ticks "$3")
    "${pin_client[@]}" wrk -t1 -c"$connections" -d"$duration" -s bench/wrk_patch.lua \
        "$2/api/partner/v3/contact_card" -- mock-key 10000 > "$out"
    after=$(cpu_ticks "$3")
    if grep -q "Non-2xx" "$out"; then echo "mock_vs_nginx: $1 answered non-2xx:" >&2; grep "Non-2xx" "$out" >&2; fi
    awk -v ticks=$((after - before)) -v hz="$(getconf CLK_TCK)" '
        /requests in/ { n = $1 } /^Requests\/sec:/ { rps = $2 }
        END { printf "%.0f %.0f\n", rps, (ticks > 0 ? n / (ticks / hz) : 0) }' "$out"
}
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }  # of column 1

: > "$work/mock.rps"
: > "$work/nginx.rps"
nginx_pid=$("$peers/server.sh" worker-pid)
for rep in $(seq 1 "$reps"); do
    run mock "$mock_url" "$mock_pid" "$rep" >> "$work/mock.rps"
    run nginx "$nginx_url" "$nginx_pid" "$rep" >> "$work/nginx.rps"
done
echo "wrk -t1 -c$connections -d$duration -s bench/wrk_patch.lua (PATCH + JSON body + bearer, keep-alive), median of $reps"
printf '%-6s %10s %14s   %s\n' server req_per_s req_per_cpu_s "runs (req/s, req/CPU-s)"
for name in mock nginx; do
    printf '%-6s %10.0f %14.0f   %s\n' "$name" "$(median < "$work/$name.rps")" \
        "$(awk '{ print $2 }' "$work/$name.rps" | median)" "$(paste -sd';' "$work/$name.rps")"
done
kill -INT "$mock_pid"
wait "$mock_pid" 2>/dev/null || true
mock_pid=""
tail -1 "$work/mock.err"

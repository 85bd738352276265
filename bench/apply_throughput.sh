#!/usr/bin/env bash
# End-to-end throughput of `cardsync apply` against the simulator (`cardsync mock`, a separate
# process) on loopback: N generated rows through stdin, --rate 0 --max-attempts 1, 64 connections,
# pipelining off (1) and on (8). Reports rows/s and the client's peak RSS (from its summary), the
# median of REPS runs. When taskset exists, the simulator is pinned to CPU 0 and the client to CPU 1.
#   bench/apply_throughput.sh [N]        (default 200000; env: REPS=3 CONNECTIONS=64 DEPTHS="1 8"
#                                         BUDGET=off CARDSYNC=build/cardsync)
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${CARDSYNC:-build/cardsync}
rows=${1:-200000} reps=${REPS:-3} connections=${CONNECTIONS:-64} depths=${DEPTHS:-"1 8"} budget=${BUDGET:-off}
[[ -x $bin ]] || { echo "apply_throughput: build first (no $bin)" >&2; exit 2; }
pin_server=() pin_client=()
if command -v taskset >/dev/null && (($(nproc) >= 2)); then pin_server=(taskset -c 0) pin_client=(taskset -c 1); fi

work=$(mktemp -d)
mock_pid=""
cleanup() {
    [[ -n $mock_pid ]] && kill -INT "$mock_pid" 2>/dev/null && wait "$mock_pid" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

awk -v n="$rows" 'BEGIN { print "phone_number,first_name,last_name"; for (i = 0; i < n; i++) printf "+1555%07d,Ann%d,Lee\n", i, i }' \
    > "$work/rows.csv"
"${pin_server[@]}" "$bin" mock --every-number-has-card --budget off > "$work/url" 2> "$work/mock.err" &
mock_pid=$!
for _ in $(seq 50); do [[ -s $work/url ]] && break; sleep 0.1; done
url=$(head -1 "$work/url")/api/partner

printf '%-8s %-8s %-12s %10s %14s\n' rows pipeline connections rows_per_s peak_rss_mib
for depth in $depths; do
    results=()
    for _ in $(seq "$reps"); do
        LINQ_API_V3_API_KEY=mock-key "${pin_client[@]}" "$bin" apply - --format csv --base-url "$url" --rate 0 \
            --max-attempts 1 --connections "$connections" --pipeline "$depth" --budget "$budget" \
            --results "$work/results.ndjson" < "$work/rows.csv" 2> "$work/apply.err" || true
        rate=$(grep -o 'requests in [0-9.]* s ([0-9.]*/s)' "$work/apply.err" | grep -o '([0-9.]*' | tr -d '(')
        rss=$(grep -o 'peak memory [0-9.]*' "$work/apply.err" | grep -o '[0-9.]*$')
        results+=("$rate $rss")
    done
    median=$(printf '%s\n' "${results[@]}" | sort -n | sed -n "$(((reps + 1) / 2))p")
    printf '%-8s %-8s %-12s %10s %14s\n' "$rows" "$depth" "$connections" ${median}
done

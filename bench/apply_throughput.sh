#!/usr/bin/env bash
# End-to-end throughput of `cardsync apply` against the simulator (`cardsync mock`, a separate
# process) on loopback: N generated rows through stdin, --rate 0 --max-attempts 1, 64 connections,
# pipelining off (1) and on (8). Reports rows/s, the client's CPU (user + system) per row and its
# peak RSS, measured from outside with /usr/bin/time: the run with the median rows/s of REPS.
# When taskset exists, the simulator is pinned to CPU 0 and the client (its reader and network
# threads) to CPU 1; with THREADS > 1 (apply --threads) nothing is pinned, so the engines can spread.
#   bench/apply_throughput.sh [N]        (default 200000; env: REPS=3 CONNECTIONS=64 DEPTHS="1 8"
#                                         BUDGET=off THREADS=1 CARDSYNC=build/cardsync)
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${CARDSYNC:-build/cardsync}
rows=${1:-200000} reps=${REPS:-3} connections=${CONNECTIONS:-64} depths=${DEPTHS:-"1 8"} budget=${BUDGET:-off}
threads=${THREADS:-1}
[[ -x $bin ]] || { echo "apply_throughput: build first (no $bin)" >&2; exit 2; }
pin_server=() pin_client=()
if command -v taskset >/dev/null && (($(nproc) >= 2)) && ((threads == 1)); then pin_server=(taskset -c 0) pin_client=(taskset -c 1); fi

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

command -v /usr/bin/time >/dev/null || { echo "apply_throughput: needs /usr/bin/time (Debian package time)" >&2; exit 2; }
printf '%-8s %-8s %-8s %-12s %10s %16s %14s\n' rows threads pipeline connections rows_per_s client_cpu_us_row peak_rss_mib
for depth in $depths; do
    results=()
    for _ in $(seq "$reps"); do
        # wall, user and system seconds and peak RSS of the client, measured from outside it
        LINQ_API_V3_API_KEY=mock-key /usr/bin/time -f '%e %U %S %M' -o "$work/time" "${pin_client[@]}" "$bin" apply - \
            --format csv --base-url "$url" --rate 0 --max-attempts 1 --connections "$connections" \
            --pipeline "$depth" --budget "$budget" --threads "$threads" --quiet --results "$work/results.ndjson" \
            < "$work/rows.csv" 2> "$work/apply.err" || true
        read -r wall user sys rss_kib < <(tail -1 "$work/time")
        results+=("$(awk -v n="$rows" -v w="$wall" -v u="$user" -v s="$sys" -v r="$rss_kib" \
            'BEGIN { printf "%.0f %.1f %.1f", n / w, (u + s) * 1e6 / n, r / 1024 }')")
    done
    median=$(printf '%s\n' "${results[@]}" | sort -n | sed -n "$(((reps + 1) / 2))p")
    printf '%-8s %-8s %-8s %-12s %10s %16s %14s\n' "$rows" "$threads" "$depth" "$connections" ${median}
done

#!/usr/bin/env bash
# Before/after of cardsync binaries against the peers' nginx (one worker), runs interleaved
# (A, B, A, B, ...). Per run: rows/s; the client's CPU per row (and its user-space part); nginx's CPU per request; and the
# whole machine's busy CPU per row (both cores, from /proc/stat). Client and server share the two
# cores, so the last figure is what decides rows/s; it also catches a change that moves cost from
# the client to the server. Two more per run: the host's steal (CPU time the hypervisor gave to
# other guests, both vCPUs, ms: a run with much of it was slowed from outside), and how often the
# client was preempted (involuntary context switches per 1,000 rows: on two cores shared with nginx,
# mostly nginx waking on the client's core), and how often nginx's worker went to sleep for want of requests
# (its voluntary context switches per 1,000 rows: a client slower than nginx lets it run dry, and every
# wake-up costs). Medians per binary at the end.
#   bench/nginx_ab.sh BIN [BIN...]   (env: REPS=5 N=200000 CONNECTIONS=64 PIPELINE=1 SCHEME=http|https
#                                     ARGS="extra apply options" PEERS=/tmp/peers: a writable copy of
#                                     ../shared/peers, made when missing)
set -euo pipefail
cd "$(dirname "$0")/.."
(($# >= 1)) || { echo "usage: bench/nginx_ab.sh BIN [BIN...]" >&2; exit 2; }
reps=${REPS:-5} rows=${N:-200000} connections=${CONNECTIONS:-64} pipeline=${PIPELINE:-1} scheme=${SCHEME:-http}
peers=${PEERS:-/tmp/peers}
for bin in "$@"; do [[ -x $bin ]] || { echo "nginx_ab: no binary at $bin" >&2; exit 2; }; done
[[ -x /usr/bin/time ]] || { echo "nginx_ab: /usr/bin/time is not installed (apt-get install time)" >&2; exit 2; }
# shellcheck source=bench/peers_server.sh
source bench/peers_server.sh
peers_session nginx_ab  # sets $input, $worker and $work

if [[ $scheme == https ]]; then base=https://127.0.0.1:18443/api/partner tls=(--cacert "$peers/run/cert.pem")
else base=http://127.0.0.1:18080/api/partner tls=(); fi
ticks=$(getconf CLK_TCK)
machine_steal() { awk '/^cpu /{ print $9 }' /proc/stat; }
nginx_cpu() { awk '{ print $14 + $15 }' "/proc/$worker/stat"; }
nginx_sleeps() { awk '/^voluntary_ctxt_switches/ { print $2 }' "/proc/$worker/status"; }

# one run's row and the medians' row share this format (the header's widths match it)
row_format='%-28s %9.0f %12.1f %10.1f %12.1f %14.1f %9.0f %12.1f %14.1f\n'
printf '%-28s %9s %12s %10s %12s %14s %9s %12s %14s\n' binary rows_per_s client_us_row user_us_row nginx_us_req \
    machine_us_row steal_ms preempt_per_k nginx_sleep_per_k
for ((r = 1; r <= reps; r++)); do
    for bin in "$@"; do
        m0=$(machine_busy) n0=$(nginx_cpu) s0=$(machine_steal) z0=$(nginx_sleeps)
        # shellcheck disable=SC2086 # ARGS is a list of options
        LINQ_API_V3_API_KEY=bench-token /usr/bin/time -f '%e %U %S %c' -o "$work/time" "$bin" apply "$input" \
            --base-url "$base" "${tls[@]}" --connections "$connections" --pipeline "$pipeline" --rate 0 \
            --max-attempts 1 --results "$work/results.csv" --quiet ${ARGS:-} || true
        m1=$(machine_busy) n1=$(nginx_cpu) s1=$(machine_steal) z1=$(nginx_sleeps)
        records=$(($(wc -l < "$work/results.csv") - 1))
        ((records == rows)) || echo "nginx_ab: $bin wrote $records records for $rows rows" >&2
        read -r wall user sys preempted < "$work/time"
        awk -v b="$bin" -v n="$rows" -v w="$wall" -v u="$user" -v s="$sys" -v t="$ticks" -v p="$preempted" \
            -v ng="$((n1 - n0))" -v mb="$((m1 - m0))" -v st="$((s1 - s0))" -v sleeps="$((z1 - z0))" \
            -v fmt="$row_format" 'BEGIN {
                printf fmt, b, n / w, (u + s) * 1e6 / n, u * 1e6 / n, ng / t * 1e6 / n,
                    mb / t * 1e6 / n, st / t * 1e3, p * 1e3 / n, sleeps * 1e3 / n }' |
            tee -a "$work/all"
    done
done
echo "medians over $reps runs:"
median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }'; }
for bin in "$@"; do
    cols=()
    for c in 2 3 4 5 6 7 8 9; do cols+=("$(awk -v b="$bin" -v c="$c" '$1 == b { print $c }' "$work/all" | median)"); done
    # shellcheck disable=SC2059 # the format is the script's own, shared with the per-run rows
    printf "$row_format" "$bin" "${cols[@]}"
done

#!/usr/bin/env bash
# Where the network thread's time goes, per row, against the peers' nginx (one worker): `perf record`
# (cpu-clock sampling, which works in this VM) over one `apply` of N rows, then the busiest thread's
# user and kernel time in µs a row, and its top user-space functions in ns a row. Cycles, not
# instructions: unlike callgrind it sees cache misses (the fifteenth round found about a sixth of
# the thread's user time there). Its figures move by ~10 % between runs; compare binaries run
# alternately (e.g. A B A B) in one sitting.
#   bench/thread_profile.sh BIN [BIN...]   (env: N=1000000 rows, TOP=12 functions, CONNECTIONS=64,
#                                           ARGS="extra apply options", PEERS=/tmp/peers: a writable
#                                           copy of ../shared/peers, made when missing)
# needs perf (Debian's linux-perf).
set -euo pipefail
cd "$(dirname "$0")/.."
(($# >= 1)) || { echo "usage: bench/thread_profile.sh BIN [BIN...]" >&2; exit 2; }
rows=${N:-1000000} top=${TOP:-12} connections=${CONNECTIONS:-64}
peers=${PEERS:-/tmp/peers}
command -v perf >/dev/null || { echo "thread_profile: perf is not installed (apt-get install linux-perf)" >&2; exit 2; }
for bin in "$@"; do [[ -x $bin ]] || { echo "thread_profile: no binary at $bin" >&2; exit 2; }; done
# shellcheck source=bench/peers_server.sh
source bench/peers_server.sh
peers_session thread_profile  # sets $input, $worker and $work

for bin in "$@"; do
    start=$(date +%s.%N)
    # shellcheck disable=SC2086 # ARGS is a list of options
    LINQ_API_V3_API_KEY=bench-token perf record -q -o "$work/perf.data" -- "$bin" apply "$input" \
        --base-url http://127.0.0.1:18080/api/partner --connections "$connections" --rate 0 --max-attempts 1 \
        --results "$work/results.csv" --quiet ${ARGS:-} 2>/dev/null || true
    end=$(date +%s.%N)
    sampled=$(awk 'NR > 1' "$work/results.csv" | wc -l)
    ((sampled == rows)) || { echo "thread_profile: $bin wrote $sampled records for $rows rows" >&2; exit 1; }
    # One report by thread and function: each thread's user and kernel shares of all samples, and the
    # user-space lines in report order (largest first); shares times the event total (ns) over the rows.
    perf report -i "$work/perf.data" --no-children --sort pid,dso,sym -g none 2>/dev/null |
        awk -v n="$rows" -v top="$top" -v bin="$bin" -v wall="$(echo "$end - $start" | bc)" '
            /^# Event count/ { total = $5 }
            /%/ && !/^#/ {
                sub("%", "", $1); split($2, p, ":"); side = ($4 == "[k]") ? "kernel" : "user"
                share[p[1] " " side] += $1; thread[p[1]] += $1
                if (side == "user") { pct = $1; tid = p[1]; $1 = $2 = $3 = $4 = ""; sub(/^ +/, "")
                                      lines[tid] = lines[tid] sprintf("%s\t%s\n", pct, substr($0, 1, 100)) } }
            END { for (t in thread) if (busiest == "" || thread[t] > thread[busiest]) busiest = t
                  printf "%s: network thread %.2f µs user + %.2f µs kernel a row; %.0f rows/s under perf\n", bin,
                         share[busiest " user"] / 100 * total / 1e3 / n, share[busiest " kernel"] / 100 * total / 1e3 / n, n / wall
                  k = split(lines[busiest], l, "\n")
                  for (i = 1; i < k && i <= top; ++i) { split(l[i], f, "\t"); printf "  %5.0f ns  %s\n", f[1] / 100 * total / n, f[2] } }'
done

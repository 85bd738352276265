#!/usr/bin/env bash
# Peak RSS of `cardsync apply --dry-run` streaming N generated rows through stdin, for several N:
# memory must stay flat as the input grows (target: under 64 MB).
#   bench/dry_run_rss.sh [N...]      (default: 100000 1000000)
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${CARDSYNC:-build/cardsync}
[[ -x $bin ]] || { echo "dry_run_rss: build first (no $bin)" >&2; exit 2; }
sizes=("$@")
((${#sizes[@]})) || sizes=(100000 1000000)
printf '%-10s %-6s %12s %10s %10s\n' rows format peak_rss_kb wall_s rows_per_s
for n in "${sizes[@]}"; do
    for format in csv ndjson; do
        tmp=$(mktemp) input=$(mktemp)
        python3 bench/gen_input.py "$n" --format "$format" > "$input"
        start=$(date +%s.%N)
        /usr/bin/time -f '%M' -o "$tmp" "$bin" apply --dry-run --quiet --format "$format" --results /dev/null - \
            < "$input" || true
        end=$(date +%s.%N)
        awk -v n="$n" -v f="$format" -v s="$start" -v e="$end" -v rss="$(tail -1 "$tmp")" \
            'BEGIN { printf "%-10s %-6s %12s %10.2f %10.0f\n", n, f, rss, e - s, n / (e - s) }'
        rm -f "$tmp" "$input"
    done
done

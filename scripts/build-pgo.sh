#!/usr/bin/env bash
# A profile-guided build of cardsync, the way CPython's --enable-optimizations makes one: build it
# instrumented (CARDSYNC_PGO=generate), train it on the built-in simulator over loopback, then
# rebuild it from the profile (CARDSYNC_PGO=use), with link-time optimisation in both stages. The
# training is the bulk job itself: CSV and NDJSON files applied over plain HTTP, HTTPS and
# --pipeline 8, against `cardsync mock` (also instrumented) on 127.0.0.1; no nginx, no network.
# The tests use the plain build (scripts/test.sh); this one is for speed: the performance figures
# in README.md name which build they used.
#   scripts/build-pgo.sh [DIR]    (default build-pgo; the binary is DIR/cardsync;
#                                  env: PGO_ROWS=100000 rows per training run)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build-pgo}
rows=${PGO_ROWS:-100000}
scripts/setup.sh
mkdir -p "$build"
profile=$(cd "$build" && pwd)/pgo-profile
rm -rf "$profile"

# Link-time optimisation too: with the profile, GCC inlines the hot calls between files (the pool's
# reads into the engine's, the engine's into the codecs'), which it cannot do one file at a time.
stage() {
    cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DCARDSYNC_TESTS=OFF -DCARDSYNC_BENCH=OFF \
        -DCMAKE_INTERPROCEDURAL_OPTIMIZATION=ON -DCARDSYNC_PGO="$1" -DCARDSYNC_PGO_DIR="$profile" >/dev/null
    cmake --build "$build" -j"$(nproc)" --target cardsync
}

work=$(mktemp -d)
mock_pid=""
stop_mock() {
    # SIGINT: the simulator exits normally, so its profile is written too
    if [[ -n $mock_pid ]]; then kill -INT "$mock_pid" 2>/dev/null || true; wait "$mock_pid" || true; fi
    mock_pid=""
}
cleanup() {
    stop_mock
    rm -rf "$work"
}
trap cleanup EXIT

# Starts the simulator with the given options; sets $url.
start_mock() {
    : > "$work/url"
    "$build/cardsync" mock --every-number-has-card --budget off "$@" > "$work/url" 2> "$work/mock.err" &
    mock_pid=$!
    for _ in $(seq 100); do [[ -s $work/url ]] && break; sleep 0.1; done
    [[ -s $work/url ]] || { echo "build-pgo: the simulator did not start:" >&2; cat "$work/mock.err" >&2; exit 1; }
    url=$(head -1 "$work/url")/api/partner
}

# One run of the job; every row must come back updated (exit status 0).
run_job() {
    local input=$1
    shift
    echo "build-pgo: cardsync apply $(basename "$input") $*" >&2
    LINQ_API_V3_API_KEY=mock-key "$build/cardsync" apply "$input" --base-url "$url" --rate 0 --max-attempts 1 \
        --connections 64 --quiet --results "$work/results.csv" "$@" ||
        { echo "build-pgo: the run failed (exit $?)" >&2; exit 1; }
}

stage generate

# Rows shaped like a rebranding job's: distinct numbers, names (some not ASCII), image URLs.
awk -v n="$rows" 'BEGIN {
    split("Ann Victor Hiro Zoë Sam Léa", first, " ")
    split("Lee García Okafor Smith", last, " ")
    print "phone_number,first_name,last_name,image_url"
    for (i = 0; i < n; i++)
        printf "+1555%07d,%s,%s,https://images.example.org/contact-card/%08x.jpg\n", i, first[i % 6 + 1], last[i % 4 + 1], i * 2654435761 % 4294967296
}' > "$work/rows.csv"
awk -F, 'NR > 1 { printf "{\"phone_number\":\"%s\",\"first_name\":\"%s\",\"last_name\":\"%s\",\"image_url\":\"%s\"}\n", $1, $2, $3, $4 }' \
    "$work/rows.csv" > "$work/rows.ndjson"

echo "build-pgo: training" >&2
start_mock
run_job "$work/rows.csv"
run_job "$work/rows.csv" --pipeline 8
run_job "$work/rows.ndjson"
stop_mock
start_mock --tls --write-cert "$work/cert.pem"
run_job "$work/rows.csv" --cacert "$work/cert.pem"
stop_mock

stage use
echo "build-pgo: checking the optimised binary" >&2
start_mock
run_job "$work/rows.csv"
stop_mock
echo "build-pgo: $build/cardsync is built from the profile" >&2

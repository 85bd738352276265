#!/usr/bin/env bash
# The first thing a new user runs: installs what is missing, builds Release, and runs the main job on
# samples/ against the built-in simulator (no API key needed). The records go to stdout; the cards the
# simulator holds afterwards go to build/sample-cards.ndjson. Extra arguments go to `cardsync apply`.
# The samples hold invalid rows, cards that do not exist and numbers outside the account on purpose,
# so the run ends with exit status 1 (some rows not fine).
#   env: CARDSYNC=PATH runs that binary instead of building build/cardsync (CI runs the job through
#        both builds this way); the cards then go beside it.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${CARDSYNC:-}
if [[ -z $bin ]]; then
    scripts/setup.sh
    cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
    # build messages to stderr: stdout carries only the records
    cmake --build build -j"$(nproc)" --target cardsync >&2
    bin=build/cardsync
fi
exec "$bin" apply samples/contacts.csv --mock \
    --mock-seed-cards samples/mock-cards.csv --mock-outside-prefix +1800 \
    --mock-state-out "$(dirname "$bin")/sample-cards.ndjson" "$@"

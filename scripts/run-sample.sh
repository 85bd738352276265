#!/usr/bin/env bash
# The first thing a new user runs: installs what is missing, builds Release, and runs the main job
# on samples/ (today a dry run; extra arguments are passed to `cardsync apply`).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc)" --target cardsync
exec build/cardsync apply samples/contacts.csv --dry-run "$@"

#!/usr/bin/env bash
# Installs the Debian 12 packages cardsync builds and tests with, and only those that are
# missing: a machine that has them all is left untouched (no apt-get update, no root needed).
set -euo pipefail
packages=(
    g++ cmake make pkg-config
    libboost1.81-dev libboost-url1.81-dev libssl-dev openssl
    libsimdjson-dev libfmt-dev libcli11-dev libgtest-dev libbenchmark-dev
    procps time
)
# Optional tools: clang for the fuzz targets, wrk + nginx for the peer benchmarks.
if [[ ${CARDSYNC_SETUP_EXTRAS:-} == 1 ]]; then
    packages+=(clang wrk nginx curl python3)
fi
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
    echo "setup: installing ${missing[*]}" >&2
    sudo=""
    [[ $(id -u) -eq 0 ]] || sudo=sudo
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

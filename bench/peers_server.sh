# Sourced by the bench scripts that run against the peers' nginx (nginx_ab.sh, sched_stats.sh, thread_profile.sh):
# a writable copy of ../shared/peers (made when missing: ../shared is read-only), its generated
# input of `rows` rows, and its server, started here and stopped at the end only if it was not
# already running. Run from the checkout's root.
#   peers_prepare NAME   uses $peers and $rows; sets $input and $worker (nginx's worker pid)
#   peers_release        stops the server if peers_prepare started it
#   peers_session NAME   peers_prepare, and $work: a temporary folder; both cleaned up on exit
#   machine_busy         the machine's busy CPU time so far, in clock ticks (all CPUs, from /proc/stat)

peers_prepare() {
    if [[ ! -x $peers/server.sh ]]; then
        [[ -d ../shared/peers ]] || { echo "$1: no $peers/server.sh and no ../shared/peers to copy" >&2; exit 2; }
        cp -r ../shared/peers "$peers"
    fi
    input=$peers/run/in$rows.csv
    [[ -s $input ]] || { mkdir -p "$peers/run" && python3 "$peers/gen_input.py" "$rows" "$input"; }
    peers_started=""
    "$peers/server.sh" status >/dev/null 2>&1 || peers_started=yes
    "$peers/server.sh" start >/dev/null
    worker=$("$peers/server.sh" worker-pid)
}

peers_release() {
    [[ -z ${peers_started:-} ]] || "$peers/server.sh" stop >/dev/null 2>&1 || true
}

# peers_prepare, then a temporary folder in $work; on exit the folder goes and the server is
# released (only if peers_prepare started it)
peers_session() {
    peers_prepare "$1"
    work=$(mktemp -d)
    trap 'rm -rf "$work"; peers_release' EXIT
}

# user + nice + system + irq + softirq of the `cpu` line: what both sides of a run spend, together
machine_busy() { awk '/^cpu /{ print $2 + $3 + $4 + $7 + $8 }' /proc/stat; }

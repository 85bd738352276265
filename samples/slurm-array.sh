#!/usr/bin/env bash
# One input over N workers as a Slurm job array, then `cardsync merge` once every shard is done.
#
#   samples/slurm-array.sh submit INPUT OUTDIR [SHARDS]     # on a login node: submits both jobs
#
# `submit` runs `sbatch --array=0-(SHARDS-1)` of this script in `shard` mode, and a `merge` job that
# starts when every array task has ended well (--dependency=afterok). Each part can also be run by
# hand, without Slurm (this is how the test suite runs it):
#
#   SLURM_ARRAY_TASK_ID=I samples/slurm-array.sh shard INPUT OUTDIR SHARDS
#   samples/slurm-array.sh merge INPUT OUTDIR SHARDS
#
# OUTDIR (on storage every node sees) gets shard-I.ndjson and shard-I.ndjson.shard.json per shard,
# then merged.ndjson (every row's record, in input line order).
#
# Environment:
#   LINQ_API_V3_API_KEY  the key (exported by sbatch into the jobs); or --api-key-file in CARDSYNC_APPLY_ARGS
#   ACCOUNT_RATE         requests/s for the whole account (default 20); each running shard gets its share
#   MAX_RUNNING          shards running at once (sbatch --array=...%MAX_RUNNING); default: all SHARDS.
#                        The rate is divided by this number, not by SHARDS: only running shards send.
#   CARDSYNC             the cardsync binary (default: cardsync on PATH)
#   CARDSYNC_APPLY_ARGS  more `cardsync apply` options, e.g. "--connections 8" (split on blanks)
#
# A shard that is requeued or rerun continues where it stopped (--resume). A shard whose run ended
# with some rows invalid, rejected or failed (exit 1) counts as done: its records say what happened;
# merged.ndjson and the merge summary show them. Usage errors (2), an aborted run (3, e.g. HTTP 401)
# and interruptions (130) fail the task, so the merge does not start.
#
#SBATCH --job-name=cardsync
#SBATCH --time=04:00:00
#SBATCH --cpus-per-task=1
#SBATCH --mem=256M
#SBATCH --output=cardsync-%A_%a.log
set -euo pipefail

mode=${1:?usage: slurm-array.sh submit|shard|merge INPUT OUTDIR [SHARDS]}
input=${2:?missing INPUT}
outdir=${3:?missing OUTDIR}
shards=${4:-4}
cardsync=${CARDSYNC:-cardsync}
running=${MAX_RUNNING:-$shards}
read -r -a extra <<< "${CARDSYNC_APPLY_ARGS:-}"

case $mode in
submit)
    script=$(realpath "$0")  # sbatch copies the script it runs; later jobs need the original path
    mkdir -p "$outdir"
    array="0-$((shards - 1))"
    [[ $running -lt $shards ]] && array+="%$running"
    jid=$(sbatch --parsable --array="$array" "$script" shard "$input" "$outdir" "$shards")
    sbatch --parsable --dependency="afterok:${jid%%;*}" --job-name=cardsync-merge \
        --output="$outdir/merge-%j.log" "$script" merge "$input" "$outdir" "$shards"
    ;;
shard)
    : "${SLURM_ARRAY_TASK_ID:?run as a Slurm array task, or set SLURM_ARRAY_TASK_ID}"
    rate=$(awk -v r="${ACCOUNT_RATE:-20}" -v p="$running" 'BEGIN { printf "%.3f", r / p }')
    mkdir -p "$outdir"
    # --shard-count takes the index from SLURM_ARRAY_TASK_ID (minus SLURM_ARRAY_TASK_MIN).
    status=0
    "$cardsync" apply "$input" --shard-count "$shards" --rate "$rate" --resume \
        --results "$outdir/shard-$SLURM_ARRAY_TASK_ID.ndjson" \
        --summary-json "$outdir/summary-$SLURM_ARRAY_TASK_ID.json" "${extra[@]}" || status=$?
    [[ $status -eq 1 ]] && status=0  # finished; some rows not fine, and their records say why
    exit "$status"
    ;;
merge)
    files=()
    for ((i = 0; i < shards; i++)); do files+=("$outdir/shard-$i.ndjson"); done
    status=0
    "$cardsync" merge --out "$outdir/merged.ndjson" --summary-out "$outdir/summary.json" "${files[@]}" || status=$?
    [[ $status -eq 1 ]] && status=0
    exit "$status"
    ;;
*)
    echo "slurm-array.sh: unknown mode '$mode' (submit, shard or merge)" >&2
    exit 2
    ;;
esac

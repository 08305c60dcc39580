#!/usr/bin/env bash
# Submits one night: an array of SHARDS match tasks, then the merge, which starts when
# every task has ended (afterany: a failed shard makes the merge fail with a message
# naming it, instead of leaving the merge pending for ever). Prints both job ids.
#   CATALOG=/data/catalog OUT=/data/out INBOX=/data/inbox SHARDS=8 jobs/submit-nightly.sh [SBATCH OPTION...]
# Extra options go to both sbatch calls (a partition, an account, --gres=none on a
# cluster without GPUs).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
: "${CATALOG:?set CATALOG}" "${OUT:?set OUT}" "${INBOX:?set INBOX}"
SHARDS=${SHARDS:-8}
export CATALOG OUT INBOX SHARDS RUN_DATE=${RUN_DATE:-$(date -u +%F)}
array=$(sbatch --parsable --array="0-$((SHARDS - 1))" --export=ALL "$@" "$here/nightly.slurm")
array=${array%%;*}
merge=$(sbatch --parsable --dependency="afterany:$array" --kill-on-invalid-dep=yes --export=ALL "$@" "$here/merge.slurm")
echo "array $array merge ${merge%%;*} run_date $RUN_DATE"

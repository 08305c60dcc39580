#!/usr/bin/env bash
# Submits one night: an array of SHARDS x CATALOG_SHARDS match tasks (CATALOG_SHARDS,
# default 1, splits the catalogue by video), then the merge, which starts when every
# task has ended (afterany: a failed task makes the merge fail with a message naming
# it, instead of leaving the merge pending for ever). Prints both job ids.
#   CATALOG=/data/catalog OUT=/data/out INBOX=/data/inbox SHARDS=8 [CATALOG_SHARDS=2] jobs/submit-nightly.sh [SBATCH OPTION...]
# Extra options go to both sbatch calls (a partition, an account, --gres=none on a
# cluster without GPUs).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
: "${CATALOG:?set CATALOG}" "${OUT:?set OUT}" "${INBOX:?set INBOX}"
SHARDS=${SHARDS:-8}
CATALOG_SHARDS=${CATALOG_SHARDS:-1}
export CATALOG OUT INBOX SHARDS CATALOG_SHARDS RUN_DATE=${RUN_DATE:-$(date -u +%F)}
array=$(sbatch --parsable --array="0-$((SHARDS * CATALOG_SHARDS - 1))" --export=ALL "$@" "$here/nightly.slurm")
array=${array%%;*}
merge=$(sbatch --parsable --dependency="afterany:$array" --kill-on-invalid-dep=yes --export=ALL "$@" "$here/merge.slurm")
echo "array $array merge ${merge%%;*} run_date $RUN_DATE"
